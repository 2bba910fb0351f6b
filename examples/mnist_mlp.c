/*
 * examples/mnist_mlp.c: a 784-128-10 ReLU network on the MNIST subset in data/
 * (8,000 training and 2,000 test images, pixels scaled to [0, 1]), trained with
 * Adam (lr 1e-3) on mini-batches of 64 for 10 epochs. PyTorch with this recipe
 * reaches 0.935 to 0.945 test accuracy over five seeds.
 *
 *   mnist_mlp [--epochs N] [--seed N] [--quiet] [--save FILE] [--resume FILE]
 *
 * --save writes a checkpoint (weights, Adam's moments, step count) after every
 * epoch, atomically; --resume continues from one with the same shuffles, so a
 * resumed run ends where an uninterrupted one would.
 */
#include "common.h"

enum { IN = 784, HIDDEN = 128, CLASSES = 10 };

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv, true);
    nb_dataset train, test;
    if (!load_mnist(&o, "mnist_mlp", &train, &test)) {
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
    const char *names[4] = { "w1", "b1", "w2", "b2" };
    for (int i = 0; i < 4; i++) {
        nb_node_set_name(g, p[i], names[i]); /* checkpoints match tensors by name */
    }
    fit_config c = {
        .n_params = 4,
        .params = p,
        .build = relu_mlp,
        .batch = 64,
        .epochs = 10,
        .optim = nb_optim_defaults(NB_OPTIM_ADAM), /* lr 1e-3, betas 0.9/0.999, eps 1e-8 */
    };
    double acc = fit(g, &o, &c, &train, &test);
    printf("test accuracy: %.4f\n", acc);
    nb_dataset_free(&train);
    nb_dataset_free(&test);
    nb_graph_free(g);
    return 0;
}
