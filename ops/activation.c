/*
 * ops/activation.c: activations (leaky_relu, elu, gelu, gelu_tanh, softplus,
 * silu, log1p, erf, clamp). Each is one elementwise kernel whose attributes
 * (a slope, an alpha, bounds) come from the node's attribute block, a
 * gradient rule built from public builders, and a record.
 */
#include "kernel.h"

/* Checks x for a unary float op and makes its node; attributes are set by the caller. */
static nb_node *activation(nb_graph *g, int op, nb_node *x)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    return nbi_node_new(g, op, x->dtype, x->rank, x->shape, x, NULL);
}

/* ---- leaky_relu ---- */

NBI_TYPED(leaky_relu_kernel, (size_t n, const void *xv, void *yv, double slope), {
    const T *x = xv;
    T *y = yv;
    const T s = (T)slope;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i] > 0 ? x[i] : x[i] * s;
    }
})

static nb_status leaky_relu_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, leaky_relu_kernel, nbi_node_count(y), y->in[0]->data, y->data, y->attr[0].f);
    return NB_OK;
}

nb_node *nb_leaky_relu(nb_graph *g, nb_node *x, double slope)
{
    if (slope != slope && nbi_check_inputs(g, "leaky_relu", 1, &x)) {
        nbi_fail(g, NB_ERR_ARG, "leaky_relu", 1, &x, "the slope is NaN");
        return NULL;
    }
    nb_node *y = activation(g, NBI_OP_LEAKY_RELU, x);
    if (y) {
        y->attr[0].f = slope;
    }
    return y;
}

static nb_node *leaky_relu_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_leaky_relu(g, in[0], attr[0].f);
}

/* slope where x <= 0 (so at 0 too, as PyTorch), 1 where x > 0: slope + (1 - slope) step(x) */
static void leaky_relu_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    double s = y->attr[0].f;
    nb_node *local = nb_add(g, nbi_scalar_cached(g, y->dtype, s),
                            nb_mul(g, nbi_scalar_cached(g, y->dtype, 1 - s), nb_step(g, y->in[0])));
    dx[0] = nbi_chain(g, dy, local);
}

const nbi_op nbi_op_leaky_relu = {
    .name = "leaky_relu",
    .symbol = "lrelu",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .attrs = { { "slope", NBI_ATTR_FLOAT, 0.01 } },
    .n_attrs = 1,
    .build = leaky_relu_build,
    .forward = leaky_relu_forward,
    .grad = leaky_relu_grad,
    .formula = "y = x if x > 0, else slope * x",
    .grad_formula = "dx = dy * (slope + (1 - slope) * step(x))   (slope at 0, as PyTorch)",
};
