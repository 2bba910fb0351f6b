/*
 * examples/mlp.c: a small multilayer perceptron, the example to copy from.
 * Six iris flowers (4 measurements each) go through a hidden layer of 8 tanh
 * units and an output layer of 3 logits; the loss is the mean softmax
 * cross-entropy against integer labels. The program builds the graph (one
 * scope per layer), builds the gradient graph with nb_grad, runs both, checks
 * the gradients against finite differences and reports depths.
 * Exits with 0 when every step succeeded and the gradient check passed.
 */
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { N = 6, IN = 4, HIDDEN = 8, CLASSES = 3, N_PARAMS = 4 };

/*
 * Rows 1, 26, 51, 76, 101 and 126 of Fisher's iris data: sepal length, sepal
 * width, petal length, petal width (cm), and the species 0, 1 or 2.
 */
static const double features[N * IN] = {
    5.1, 3.5, 1.4, 0.2, /* setosa */
    5.0, 3.0, 1.6, 0.2, /* setosa */
    7.0, 3.2, 4.7, 1.4, /* versicolor */
    6.6, 3.0, 4.4, 1.4, /* versicolor */
    6.3, 3.3, 6.0, 2.5, /* virginica */
    7.2, 3.2, 6.0, 1.8, /* virginica */
};
static const int32_t labels[N] = { 0, 0, 1, 1, 2, 2 };

/* A fully connected layer x @ w + b in its own scope; tanh when activate. */
static nb_node *dense(nb_graph *g, const char *scope, nb_node *x, int64_t in, int64_t out,
                      bool activate, nb_node **w, nb_node **b)
{
    nb_scope_push(g, scope);
    /* Xavier/Glorot uniform suits tanh; fan_in and fan_out come from [in, out]. */
    *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(in, out), nb_init_xavier_uniform());
    *b = nb_param(g, NB_DTYPE_F64, NB_SHAPE(out), nb_init_constant(0));
    nb_node *z = nb_add(g, nb_matmul(g, x, *w), *b); /* [N,out] + [out] broadcasts */
    nb_node *y = activate ? nb_tanh(g, z) : z;
    nb_scope_pop(g);
    return y;
}

/* Prints the longest path to out at the given depth level, as node names. */
static void print_path(nb_graph *g, nb_node *out, int level)
{
    nb_node *path[64];
    size_t n = nb_depth_path(g, out, level, path, 64);
    printf("    ");
    for (size_t i = 0; i < n && i < 64; i++) {
        printf("%s%s", i ? " -> " : "", nb_node_name(path[i]));
    }
    printf("%s\n", n > 64 ? " ..." : "");
}

/*
 * Prints the scopes along the longest path to out at level NB_DEPTH_SCOPES:
 * one name per element (the scopes here are not nested, so a node's innermost
 * scope is its element).
 */
static void print_scope_path(nb_graph *g, nb_node *out)
{
    nb_node *path[64];
    size_t n = nb_depth_path(g, out, NB_DEPTH_SCOPES, path, 64);
    const char *last = NULL;
    printf("    ");
    for (size_t i = 0; i < n && i < 64; i++) {
        const char *s = nb_node_scope(path[i]);
        if (nb_node_kind(path[i]) == NB_KIND_OP && s && (!last || strcmp(s, last) != 0)) {
            printf("%s%s", last ? " -> " : "", s);
            last = s;
        }
    }
    printf("\n");
}

int main(void)
{
    nb_graph *g = nb_graph_new();
    if (!g) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    nb_graph_seed(g, 42); /* parameter initial values depend only on this seed */

    /* ---- build the model: no checks needed until the end (errors are sticky) ---- */
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(N, IN)), "x");
    nb_node *t = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(N)), "labels");
    nb_node *params[N_PARAMS]; /* W1, b1, W2, b2 */
    nb_node *h = dense(g, "hidden", x, IN, HIDDEN, true, &params[0], &params[1]);
    nb_node *logits = dense(g, "output", h, HIDDEN, CLASSES, false, &params[2], &params[3]);
    nb_scope_push(g, "loss");
    nb_node *loss = nb_node_set_name(g, nb_cross_entropy(g, logits, t), "loss");
    nb_scope_pop(g);
    const char *names[N_PARAMS] = { "W1", "b1", "W2", "b2" };
    for (int i = 0; i < N_PARAMS; i++) {
        nb_node_set_name(g, params[i], names[i]);
    }

    /* The gradients are new nodes of the same graph, named grad_W1, grad_b1, ... */
    nb_node *grads[N_PARAMS];
    nb_grad(g, loss, N_PARAMS, params, grads);

    /* One check covers every call above: the first error is kept, with its message. */
    if (nb_graph_status(g) != NB_OK) {
        fprintf(stderr, "building the model failed: %s\n", nb_graph_error(g));
        nb_graph_free(g);
        return 1;
    }
    printf("MLP 4 -> 8 (tanh) -> 3, softmax cross-entropy, batch of %d: %zu nodes\n\n", N,
           nb_graph_node_count(g));

    /* ---- run: write the inputs, then compute the loss and every gradient at once ---- */
    if (nb_node_write_f64(g, x, features, N * IN) != NB_OK ||
        nb_node_write(g, t, labels, N) != NB_OK) {
        fprintf(stderr, "writing the inputs failed: %s\n", nb_graph_error(g));
        nb_graph_free(g);
        return 1;
    }
    nb_node *outs[1 + N_PARAMS] = { loss, grads[0], grads[1], grads[2], grads[3] };
    if (nb_graph_run(g, 1 + N_PARAMS, outs) != NB_OK) {
        fprintf(stderr, "run failed: %s\n", nb_graph_error(g));
        nb_graph_free(g);
        return 1;
    }

    /* Values of op nodes are valid until the next run: read them now. */
    const double *loss_value = nb_node_data(loss);
    printf("loss = %.6f  (ln 3 = %.6f would be a uniform guess)\n", *loss_value, log(3.0));
    for (int i = 0; i < N_PARAMS; i++) {
        const double *d = nb_node_data(grads[i]);
        double sq = 0;
        for (size_t k = 0; k < nb_node_size(grads[i]); k++) {
            sq += d[k] * d[k];
        }
        printf("|%s| = %.6f\n", nb_node_name(grads[i]), sqrt(sq));
    }

    /* ---- gradient check: central differences on every parameter element ---- */
    /* Checking the gradient nodes built above (opts.grads) adds no nodes to g. */
    nb_gradcheck_options opts = nb_gradcheck_defaults();
    opts.grads = grads;
    nb_gradcheck_result res[N_PARAMS];
    if (nb_gradcheck(g, loss, N_PARAMS, params, &opts, res) != NB_OK) {
        fprintf(stderr, "gradient check could not run: %s\n", nb_graph_error(g));
        nb_graph_free(g);
        return 1;
    }
    printf("\ngradient check, central differences with eps %g;\n"
           "an element passes when |analytic - numeric| <= %g + %g |numeric|:\n",
           opts.eps, opts.atol, opts.rtol);
    bool passed = true;
    double worst = 0;
    const char *worst_name = names[0];
    for (int i = 0; i < N_PARAMS; i++) {
        printf("    %-3s max abs error %.2e, max relative error %.2e: %s\n", names[i],
               res[i].max_abs_err, res[i].max_rel_err, res[i].passed ? "passed" : "FAILED");
        if (!res[i].passed) {
            fprintf(stderr, "gradient of %s is wrong at element %zu: %g analytic, %g numeric\n",
                    names[i], res[i].worst_index, res[i].analytic, res[i].numeric);
            passed = false;
        }
        if (res[i].max_rel_err > worst) {
            worst = res[i].max_rel_err;
            worst_name = names[i];
        }
    }
    /* Relative errors grow where a gradient element is near 0; atol covers those. */
    printf("largest relative error: %.2e (%s)\n", worst, worst_name);

    /* ---- depth: over primitive ops, and with each scope counted as one element ---- */
    nb_node *deepest = grads[0];
    for (int i = 1; i < N_PARAMS; i++) {
        if (nb_depth(g, grads[i], NB_DEPTH_OPS) > nb_depth(g, deepest, NB_DEPTH_OPS)) {
            deepest = grads[i];
        }
    }
    printf("\ndepth of loss over ops:    %d\n", nb_depth(g, loss, NB_DEPTH_OPS));
    print_path(g, loss, NB_DEPTH_OPS);
    printf("depth of loss over scopes: %d\n", nb_depth(g, loss, NB_DEPTH_SCOPES));
    print_scope_path(g, loss);
    printf("deepest gradient, %s, over ops:    %d\n", nb_node_name(deepest),
           nb_depth(g, deepest, NB_DEPTH_OPS));
    print_path(g, deepest, NB_DEPTH_OPS);
    printf("deepest gradient, %s, over scopes: %d\n", nb_node_name(deepest),
           nb_depth(g, deepest, NB_DEPTH_SCOPES));
    print_scope_path(g, deepest);

    int rc = passed && nb_graph_status(g) == NB_OK ? 0 : 1;
    nb_graph_free(g);
    return rc;
}
