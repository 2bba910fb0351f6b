/*
 * examples/xor.c: the book's section 6.1 (Deep Learning, "Example: Learning
 * XOR"). Fit the four points of XOR with mean squared error:
 *   - a linear model f(x) = x w + b cannot: its best is w = 0, b = 1/2, with
 *     loss 1/4;
 *   - a network with one hidden layer of two ReLU units,
 *     f(x) = max(0, x W + c) w + b, can: the book's exact solution is
 *     W = [[1,1],[1,1]], c = [0,-1], w = [1,-2], b = 0, with loss 0.
 * Both are trained here by gradient descent, and the network's learned
 * function is printed on the four inputs. Training a 2-unit network can stall
 * in a dead-ReLU minimum from some starting points; we restart from new random
 * weights (a fixed sequence of seeds) until it fits.
 *
 *   xor [--quiet] [--seed N]   (--epochs and --data are accepted and ignored)
 */
#include "common.h"

static const double X[8] = { 0, 0, 0, 1, 1, 0, 1, 1 };
static const double Y[4] = { 0, 1, 1, 0 };

/* Trains the nodes' parameters with Adam for steps steps; returns the final loss. */
static double train(nb_graph *g, nb_node *loss, size_t n, nb_node **p, int steps)
{
    nb_node *grads[4];
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_ADAM);
    oo.lr = 0.01;
    nb_grad(g, loss, n, p, grads);
    nb_optim *opt = nb_optim_new(g, loss, n, p, grads, &oo);
    if (!opt) {
        die(g, "optimizer");
    }
    for (int s = 0; s < steps; s++) {
        if (nb_optim_step(opt) != NB_OK) {
            die(g, "step");
        }
    }
    nb_graph_run_ex(g, 1, &loss, NB_RUN_EVAL); /* the loss after the last update */
    double v;
    nb_node_read_f64(g, loss, &v, 1);
    nb_optim_free(opt);
    return v;
}

static nb_node *points(nb_graph *g, nb_node **y)
{
    nb_node *x = nb_const(g, NB_DTYPE_F64, NB_SHAPE(4, 2), X);
    *y = nb_const(g, NB_DTYPE_F64, NB_SHAPE(4, 1), Y);
    return x;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv, false);

    /* the linear model */
    nb_graph *g = nb_graph_new();
    nb_node *y, *x = points(g, &y);
    nb_node *lin[2] = { nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 1), nb_init_normal(0, 0.5)),
                        nb_param(g, NB_DTYPE_F64, NB_SHAPE(1), nb_init_constant(0)) };
    nb_node *loss = nb_mse(g, dense(g, x, lin[0], lin[1]), y);
    double linear_loss = train(g, loss, 2, lin, 3000);
    double w[2], b;
    nb_node_read_f64(g, lin[0], w, 2);
    nb_node_read_f64(g, lin[1], &b, 1);
    progress(&o, "linear model: w = [%.4f, %.4f], b = %.4f\n", w[0], w[1], b);
    printf("linear model final loss: %.6f (the best a linear model can do is 0.25)\n", linear_loss);
    nb_graph_free(g);

    /* the 2-2-1 ReLU network, restarted until it leaves the dead-unit minimum */
    double net_loss = INFINITY;
    for (uint64_t attempt = 0; attempt < 20 && net_loss > 1e-6; attempt++) {
        g = nb_graph_new();
        nb_graph_seed(g, o.seed + attempt);
        x = points(g, &y);
        nb_node *p[4] = {
            nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 2), nb_init_uniform(-1, 1)),
            nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_uniform(-0.1, 0.1)),
            nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 1), nb_init_uniform(-1, 1)),
            nb_param(g, NB_DTYPE_F64, NB_SHAPE(1), nb_init_constant(0)),
        };
        nb_node *f = dense(g, nb_relu(g, dense(g, x, p[0], p[1])), p[2], p[3]);
        loss = nb_mse(g, f, y);
        net_loss = train(g, loss, 4, p, 5000);
        progress(&o, "network, attempt %d: final loss %.3g%s\n", (int)attempt + 1, net_loss,
                 net_loss > 1e-6 ? " (stuck; restarting)" : "");
        if (net_loss <= 1e-6) {
            double out[4];
            nb_graph_run_ex(g, 1, &f, NB_RUN_EVAL);
            nb_node_read_f64(g, f, out, 4);
            printf("network learned:\n");
            for (int i = 0; i < 4; i++) {
                printf("  f(%g, %g) = %.4f   (target %g)\n", X[2 * i], X[2 * i + 1], out[i], Y[i]);
            }
        }
        nb_graph_free(g);
    }
    printf("final loss: %.3g\n", net_loss);
    return net_loss <= 1e-6 ? 0 : 1;
}
