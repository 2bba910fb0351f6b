/*
 * ops/arith.c: add, sub, mul, div: elementwise with NumPy broadcasting. Their
 * gradients sum back over broadcast axes (nbi_unbroadcast).
 */
#include "kernel.h"

static nb_node *binary(nb_graph *g, int op, nb_node *a, nb_node *b)
{
    nb_node *in[2] = { a, b };
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 2, in) || !nbi_check_float(g, name, 2, in)) {
        return NULL;
    }
    int rank;
    int64_t shape[NB_MAX_RANK];
    if (!nbi_broadcast_shape(a->rank, a->shape, b->rank, b->shape, &rank, shape)) {
        char sa[96], sb[96];
        nbi_format_shape(a->rank, a->shape, sa, sizeof sa);
        nbi_format_shape(b->rank, b->shape, sb, sizeof sb);
        nbi_fail(g, NB_ERR_SHAPE, name, 2, in, "shapes %s and %s cannot be broadcast together", sa,
                 sb);
        return NULL;
    }
    return nbi_node_new(g, op, a->dtype, rank, shape, a, b);
}

/* ---- add ---- */

NBI_BINARY_FORWARD(add, x + z)

static void add_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    for (int i = 0; i < 2; i++) {
        if (need[i]) {
            dx[i] = nbi_unbroadcast(g, dy, y->in[i]);
        }
    }
}

nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_ADD, a, b);
}

const nbi_op nbi_op_add = {
    .name = "add",
    .symbol = "+",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = add_forward,
    .scalar_f32 = add_scalar_f32,
    .grad = add_grad,
    .formula = "y = a + b",
    .grad_formula = "da = dy, db = dy (summed over broadcast axes)",
};

/* ---- sub ---- */

NBI_BINARY_FORWARD(sub, x - z)

static void sub_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    if (need[0]) {
        dx[0] = nbi_unbroadcast(g, dy, y->in[0]);
    }
    if (need[1]) {
        dx[1] = nbi_unbroadcast(g, nb_neg(g, dy), y->in[1]);
    }
}

nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_SUB, a, b);
}

const nbi_op nbi_op_sub = {
    .name = "sub",
    .inputs = "a, b", /* not interchangeable: DOT labels the edges */
    .symbol = "-",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = sub_forward,
    .scalar_f32 = sub_scalar_f32,
    .grad = sub_grad,
    .formula = "y = a - b",
    .grad_formula = "da = dy, db = -dy (summed over broadcast axes)",
};

/* ---- mul ---- */

NBI_BINARY_FORWARD(mul, x *z)

static void mul_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *a = y->in[0], *b = y->in[1];
    if (need[0]) {
        dx[0] = nbi_unbroadcast(g, nbi_chain(g, dy, b), a);
    }
    if (need[1]) {
        dx[1] = nbi_unbroadcast(g, nbi_chain(g, dy, a), b);
    }
}

nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_MUL, a, b);
}

const nbi_op nbi_op_mul = {
    .name = "mul",
    .symbol = "×",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = mul_forward,
    .scalar_f32 = mul_scalar_f32,
    .grad = mul_grad,
    .formula = "y = a * b",
    .grad_formula = "da = dy * b, db = dy * a (summed over broadcast axes)",
};

/* ---- div ---- */

NBI_BINARY_FORWARD(div, x / z)

static void div_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *a = y->in[0], *b = y->in[1];
    if (need[0]) {
        dx[0] = nbi_unbroadcast(g, nb_div(g, dy, b), a);
    }
    if (need[1]) {
        /* d(a/b)/db = -a/b^2 = -y/b */
        dx[1] = nbi_unbroadcast(g, nb_neg(g, nbi_chain(g, dy, nb_div(g, y, b))), b);
    }
}

nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_DIV, a, b);
}

const nbi_op nbi_op_div = {
    .name = "div",
    .inputs = "a, b", /* not interchangeable: DOT labels the edges */
    .symbol = "÷",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = div_forward,
    .scalar_f32 = div_scalar_f32,
    .grad = div_grad,
    .formula = "y = a / b",
    .grad_formula = "da = dy / b, db = -dy * y / b (summed over broadcast axes)",
};
