/*
 * examples/norm_mlp.c: chapter 8's point on real data. A deep, narrow ReLU
 * network on the UCI 8x8 digits (64, six hidden layers of 64, 10), built from
 * layers with PyTorch's default initialization, trained three ways from the
 * same initial weights and batch order with plain SGD (lr 0.1, batch 32, 20
 * epochs): without normalization, with batch normalization and with layer
 * normalization between each hidden linear layer and its ReLU. PyTorch's
 * default init shrinks the signal through each ReLU layer, so the plain
 * network is slow to get going; normalization rescales every layer's input
 * and trains from the first epoch. Accuracy on the 1,437 training and 360
 * test rows, evaluated in evaluation mode (batch normalization then uses its
 * running statistics).
 *
 *   norm_mlp [--epochs N] [--seed N] [--quiet] [--data DIR]
 */
#include "common.h"

enum { IN = 64, WIDTH = 64, DEPTH = 6, CLASSES = 10, EPOCHS = 20, MAX_PARAMS = 32 };

typedef enum norm_kind { NORM_NONE, NORM_BATCH, NORM_LAYER } norm_kind;

/* The layers of the run being built; fit() calls mlp() for each batch size. */
static struct {
    norm_kind norm;
    nb_linear fc[DEPTH + 1];
    nb_batch_norm_layer bn[DEPTH];
    nb_layer_norm_layer ln[DEPTH];
    size_t n_params;
} net;

/* x -> [linear -> norm -> relu] x 6 -> linear, cross-entropy. p: every parameter. */
static model mlp(nb_graph *g, nb_node *const *p, size_t rows, bool train)
{
    model m = { 0 };
    m.x = nb_input(g, NB_DTYPE_F32, NB_SHAPE((int64_t)rows, IN));
    m.y = nb_input(g, NB_DTYPE_I32, NB_SHAPE((int64_t)rows));
    nb_node *h = m.x;
    for (int l = 0; l < DEPTH; l++) {
        h = nb_linear_apply(g, &net.fc[l], h);
        if (net.norm == NORM_BATCH) {
            h = nb_batch_norm_layer_apply(g, &net.bn[l], h);
        } else if (net.norm == NORM_LAYER) {
            h = nb_layer_norm_layer_apply(g, &net.ln[l], h);
        }
        h = nb_relu(g, h);
    }
    m.logits = nb_linear_apply(g, &net.fc[DEPTH], h);
    m.loss = nb_cross_entropy(g, m.logits, m.y);
    if (train) {
        nb_grad(g, m.loss, net.n_params, p, m.grads);
    }
    return m;
}

typedef struct result {
    double train, test;
} result;

/* One run from the seed's initial weights: returns train and test accuracy. */
static result run(const options *o, const char *title, norm_kind norm, const nb_dataset *train,
                  const nb_dataset *test)
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, o->seed);
    char name[16];
    /* the linear layers first, so their weights are the same draws in every run */
    for (int l = 0; l <= DEPTH; l++) {
        snprintf(name, sizeof name, "fc%d", l + 1);
        net.fc[l] = nb_linear_new(g, name, NB_DTYPE_F32, l == 0 ? IN : WIDTH,
                                  l == DEPTH ? CLASSES : WIDTH, true);
    }
    net.norm = norm;
    for (int l = 0; l < DEPTH; l++) {
        snprintf(name, sizeof name, "norm%d", l + 1);
        if (norm == NORM_BATCH) {
            net.bn[l] = nb_batch_norm_layer_new(g, name, NB_DTYPE_F32, WIDTH, true);
        } else if (norm == NORM_LAYER) {
            net.ln[l] = nb_layer_norm_layer_new(g, name, NB_DTYPE_F32, WIDTH, true);
        }
    }
    /* the optimizer takes every parameter; batch norm's running statistics are not among them */
    nb_node *p[MAX_PARAMS];
    net.n_params = nb_graph_params(g, p, MAX_PARAMS);
    if (nb_graph_status(g) != NB_OK || net.n_params > MAX_PARAMS) {
        die(g, "building the layers");
    }
    nb_optim_options sgd = nb_optim_defaults(NB_OPTIM_SGD);
    sgd.lr = 0.1;
    fit_config c = { .n_params = net.n_params,
                     .params = p,
                     .build = mlp,
                     .batch = 32,
                     .epochs = EPOCHS,
                     .optim = sgd };
    progress(o, "-- %s\n", title);
    result r;
    r.test = fit(g, o, &c, train, test);
    model on_train = mlp(g, p, train->rows, false);
    r.train = evaluate(g, &on_train, train);
    nb_graph_free(g);
    return r;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv, false);
    nb_dataset train, test;
    if (!load_digits(&o, "norm_mlp", &train, &test)) {
        return 1;
    }

    result r[3] = {
        run(&o, "no normalization", NORM_NONE, &train, &test),
        run(&o, "batch normalization", NORM_BATCH, &train, &test),
        run(&o, "layer normalization", NORM_LAYER, &train, &test),
    };
    const char *names[3] = { "plain", "batch norm", "layer norm" };
    printf("64-(64x%d)-10 ReLU MLP, SGD lr 0.1, batch 32, %d epochs, seed %llu\n", DEPTH,
           o.epochs > 0 ? o.epochs : EPOCHS, (unsigned long long)o.seed);
    for (int i = 0; i < 3; i++) {
        printf("%-11s train accuracy %.4f  test accuracy %.4f\n", names[i], r[i].train, r[i].test);
    }
    nb_dataset_free(&train);
    nb_dataset_free(&test);
    return 0;
}
