/*
 * ops/activation_grad.c: the derivatives of sigmoid, tanh and relu as single
 * ops, sigmoid_grad(y, dy) = dy * y * (1 - y), tanh_grad(y, dy) = dy * (1 - y²)
 * and relu_grad(y, dy) = dy where y > 0, else 0, computed from the forward
 * output y. Composed from mul, sub and step they were two or three nodes and
 * as many passes over memory; fused they are one of each, which matters for
 * scalar graphs (bench W2) and every network of these activations. Their own
 * gradient rules keep second derivatives working.
 */
#include "kernel.h"

static nb_node *build(nb_graph *g, int op, nb_node *y, nb_node *dy)
{
    nb_node *in[2] = { y, dy };
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 2, in) || !nbi_check_float(g, name, 2, in)) {
        return NULL;
    }
    if (!nbi_same_shape(y, dy)) {
        char a[96], b[96];
        nbi_format_shape(y->rank, y->shape, a, sizeof a);
        nbi_format_shape(dy->rank, dy->shape, b, sizeof b);
        nbi_fail(g, NB_ERR_SHAPE, name, 2, in, "shapes %s and %s differ; they must be equal", a, b);
        return NULL;
    }
    return nbi_node_new(g, op, y->dtype, y->rank, y->shape, y, dy);
}

/* ---- sigmoid_grad ---- */

NBI_BINARY_FORWARD(sigmoid_grad, z *x *((T)1 - x))

nb_node *nb_sigmoid_grad(nb_graph *g, nb_node *y, nb_node *dy)
{
    return build(g, NBI_OP_SIGMOID_GRAD, y, dy);
}

static void sigmoid_grad_grad(nb_graph *g, nb_node *o, nb_node *d, const bool *need, nb_node **dx)
{
    nb_node *y = o->in[0], *dy = o->in[1];
    if (need[0]) {
        /* d/dy [dy y (1 - y)] = dy (1 - 2y) */
        nb_node *two_y = nb_mul(g, nbi_scalar_cached(g, y->dtype, 2.0), y);
        nb_node *slope = nb_sub(g, nbi_scalar_cached(g, y->dtype, 1.0), two_y);
        dx[0] = nbi_chain(g, d, nb_mul(g, dy, slope));
    }
    if (need[1]) {
        dx[1] = nb_sigmoid_grad(g, y, d); /* linear in dy */
    }
}

const nbi_op nbi_op_sigmoid_grad = {
    .name = "sigmoid_grad",
    .inputs = "y, dy", /* not interchangeable: DOT labels the edges */
    .symbol = "σ'",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = sigmoid_grad_forward,
    .scalar_f32 = sigmoid_grad_scalar_f32,
    .grad = sigmoid_grad_grad,
    .formula = "y' = dy * y * (1 - y)   (sigmoid's derivative from its output y)",
    .grad_formula = "dy_in = d * dy * (1 - 2y), d(dy) = sigmoid_grad(y, d)",
};

/* ---- tanh_grad ---- */

NBI_BINARY_FORWARD(tanh_grad, z *((T)1 - x * x))

nb_node *nb_tanh_grad(nb_graph *g, nb_node *y, nb_node *dy)
{
    return build(g, NBI_OP_TANH_GRAD, y, dy);
}

static void tanh_grad_grad(nb_graph *g, nb_node *o, nb_node *d, const bool *need, nb_node **dx)
{
    nb_node *y = o->in[0], *dy = o->in[1];
    if (need[0]) {
        /* d/dy [dy (1 - y²)] = -2 y dy */
        nb_node *k = nb_mul(g, nbi_scalar_cached(g, y->dtype, -2.0), y);
        dx[0] = nbi_chain(g, d, nb_mul(g, dy, k));
    }
    if (need[1]) {
        dx[1] = nb_tanh_grad(g, y, d);
    }
}

const nbi_op nbi_op_tanh_grad = {
    .name = "tanh_grad",
    .inputs = "y, dy", /* not interchangeable: DOT labels the edges */
    .symbol = "tanh'",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = tanh_grad_forward,
    .scalar_f32 = tanh_grad_scalar_f32,
    .grad = tanh_grad_grad,
    .formula = "y' = dy * (1 - y²)   (tanh's derivative from its output y)",
    .grad_formula = "dy_in = -2 d * dy * y, d(dy) = tanh_grad(y, d)",
};

/* ---- relu_grad ---- */

/* a select, not dy * step(y): 0 where y <= 0 even when dy is NaN or infinite, as PyTorch */
NBI_BINARY_FORWARD(relu_grad, x > 0 ? z : (T)0)

nb_node *nb_relu_grad(nb_graph *g, nb_node *y, nb_node *dy)
{
    return build(g, NBI_OP_RELU_GRAD, y, dy);
}

static void relu_grad_grad(nb_graph *g, nb_node *o, nb_node *d, const bool *need, nb_node **dx)
{
    /* piecewise constant in y: no gradient flows to it */
    if (need[1]) {
        dx[1] = nb_relu_grad(g, o->in[0], d); /* linear in dy */
    }
}

const nbi_op nbi_op_relu_grad = {
    .name = "relu_grad",
    .inputs = "y, dy", /* not interchangeable: DOT labels the edges */
    .symbol = "relu'",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = relu_grad_forward,
    .scalar_f32 = relu_grad_scalar_f32,
    .grad = relu_grad_grad,
    .formula = "y' = dy where y > 0, else 0   (relu's derivative from its output y)",
    .grad_formula = "dy_in = 0, d(dy) = relu_grad(y, d)",
};
