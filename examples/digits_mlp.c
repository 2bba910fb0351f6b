/*
 * examples/digits_mlp.c: a 64-64-10 ReLU network on the UCI 8x8 handwritten
 * digits (data/digits-{train,test}.csv: 1,437 and 360 rows, features 0..16,
 * scaled to [0, 1]), trained with Adam on mini-batches of 32. Plain logistic
 * regression reaches 0.969 test accuracy on this split; this network does better.
 *
 *   digits_mlp [--epochs N] [--seed N] [--quiet] [--data DIR]
 */
#include "common.h"

enum { IN = 64, HIDDEN = 64, CLASSES = 10 };

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv, false);
    nb_dataset train, test;
    if (!load_digits(&o, "digits_mlp", &train, &test)) {
        return 1;
    }

    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, o.seed);
    nb_node *p[4] = {
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(IN, HIDDEN), nb_init_he_uniform()),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(HIDDEN), nb_init_constant(0)),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(HIDDEN, CLASSES), nb_init_xavier_uniform()),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(CLASSES), nb_init_constant(0)),
    };
    fit_config c = {
        .n_params = 4,
        .params = p,
        .build = relu_mlp,
        .batch = 32,
        .epochs = 40,
        .optim = nb_optim_defaults(NB_OPTIM_ADAM),
    };
    double acc = fit(g, &o, &c, &train, &test);
    printf("test accuracy: %.4f\n", acc);
    nb_dataset_free(&train);
    nb_dataset_free(&test);
    nb_graph_free(g);
    return 0;
}
