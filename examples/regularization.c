/*
 * examples/regularization.c: chapter 7's point on real data. A 64-512-512-10
 * ReLU network (300,000 weights) trained on only the first 200 rows of the UCI
 * 8x8 digits training split learns them perfectly and generalizes worse than
 * it could; three runs from the same initial weights and batch order compare
 * no regularization, dropout (p = 0.5 after each hidden layer, off when
 * evaluating) and decoupled weight decay (AdamW). Accuracy on those 200 rows
 * and on the 360-row test split, evaluated with dropout off.
 *
 *   regularization [--epochs N] [--seed N] [--quiet] [--data DIR]
 */
#include "common.h"

enum { IN = 64, HIDDEN = 512, CLASSES = 10, SUBSET = 200, EPOCHS = 80 };

/* Dropout rate of the hidden layers in the run being built (0: none). */
static double drop_p;

/* x -> dropout(relu(x w1 + b1)) -> dropout(relu(. w2 + b2)) -> w3 + b3, cross-entropy. */
static model mlp(nb_graph *g, nb_node *const *p, size_t rows, bool train)
{
    model m = { 0 };
    m.x = nb_input(g, NB_DTYPE_F32, NB_SHAPE((int64_t)rows, IN));
    m.y = nb_input(g, NB_DTYPE_I32, NB_SHAPE((int64_t)rows));
    nb_node *h = m.x;
    for (int l = 0; l < 2; l++) {
        h = nb_relu(g, dense(g, h, p[2 * l], p[2 * l + 1]));
        if (drop_p > 0) {
            h = nb_dropout(g, h, drop_p); /* the evaluation instances run in evaluation mode */
        }
    }
    m.logits = dense(g, h, p[4], p[5]);
    m.loss = nb_cross_entropy(g, m.logits, m.y);
    if (train) {
        nb_grad(g, m.loss, 6, p, m.grads);
    }
    return m;
}

typedef struct result {
    double train, test;
} result;

/* One run from the seed's initial weights: returns train-subset and test accuracy. */
static result run(const options *o, const char *name, double p, nb_optim_options optim,
                  const nb_dataset *train, const nb_dataset *test)
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, o->seed);
    nb_node *w[6] = {
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(IN, HIDDEN), nb_init_he_uniform()),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(HIDDEN), nb_init_constant(0)),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(HIDDEN, HIDDEN), nb_init_he_uniform()),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(HIDDEN), nb_init_constant(0)),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(HIDDEN, CLASSES), nb_init_xavier_uniform()),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(CLASSES), nb_init_constant(0)),
    };
    drop_p = p;
    fit_config c = {
        .n_params = 6, .params = w, .build = mlp, .batch = 50, .epochs = EPOCHS, .optim = optim
    };
    progress(o, "-- %s\n", name);
    result r;
    r.test = fit(g, o, &c, train, test);
    model on_train = mlp(g, w, train->rows, false);
    r.train = evaluate(g, &on_train, train);
    nb_graph_free(g);
    return r;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv, false);
    nb_dataset train, test;
    if (!load_digits(&o, "regularization", &train, &test)) {
        return 1;
    }
    size_t all = train.rows;
    train.rows = SUBSET; /* the first 200 rows (the file's order is already random) */

    nb_optim_options adam = nb_optim_defaults(NB_OPTIM_ADAM);
    nb_optim_options adamw = nb_optim_defaults(NB_OPTIM_ADAMW);
    adamw.weight_decay = 0.5; /* decoupled: each step shrinks w by lr * 0.5 */
    result r[3] = {
        run(&o, "no regularization (Adam)", 0, adam, &train, &test),
        run(&o, "dropout p = 0.5 (Adam)", 0.5, adam, &train, &test),
        run(&o, "weight decay 0.5 (AdamW)", 0, adamw, &train, &test),
    };
    train.rows = all;
    const char *names[3] = { "plain", "dropout", "weight decay" };
    printf("64-512-512-10 ReLU MLP, %d of %zu training digits, %d epochs, seed %llu\n", SUBSET, all,
           o.epochs > 0 ? o.epochs : EPOCHS, (unsigned long long)o.seed);
    for (int i = 0; i < 3; i++) {
        printf("%-13s train accuracy %.4f  test accuracy %.4f\n", names[i], r[i].train, r[i].test);
    }
    nb_dataset_free(&train);
    nb_dataset_free(&test);
    return 0;
}
