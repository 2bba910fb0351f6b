/*
 * ops/unary.c: elementwise unary ops: neg, exp, log, sqrt, abs, tanh, sigmoid,
 * relu, sign, step, and pow with a constant exponent. Each is a kernel line, a
 * gradient rule and a record. Gradients reuse the output y where that is
 * cheaper (exp, sqrt, tanh, sigmoid); y is a graph node, so second derivatives
 * still follow.
 */
#include "kernel.h"

#include <stdio.h>

static nb_node *unary(nb_graph *g, int op, nb_node *x)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    return nbi_node_new(g, op, x->dtype, x->rank, x->shape, x, NULL);
}

/* Generates the public builder nb_NAME. */
#define UNARY_BUILDER(NAME, ID)                                                                    \
    nb_node *nb_##NAME(nb_graph *g, nb_node *x)                                                    \
    {                                                                                              \
        return unary(g, NBI_OP_##ID, x);                                                           \
    }

/* ---- neg ---- */

NBI_UNARY_FORWARD(neg, -x)
UNARY_BUILDER(neg, NEG)

static void neg_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)y;
    (void)need;
    dx[0] = nb_neg(g, dy);
}

const nbi_op nbi_op_neg = {
    .name = "neg",
    .symbol = "−",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = neg_forward,
    .scalar_f32 = neg_scalar_f32,
    .grad = neg_grad,
    .formula = "y = -x",
    .grad_formula = "dx = -dy",
};

/* ---- exp ---- */

NBI_UNARY_FORWARD(exp, NBI_EXP(x))
UNARY_BUILDER(exp, EXP)

static void exp_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nbi_chain(g, dy, y);
}

const nbi_op nbi_op_exp = {
    .name = "exp",
    .symbol = "exp",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = exp_forward,
    .scalar_f32 = exp_scalar_f32,
    .grad = exp_grad,
    .formula = "y = e^x",
    .grad_formula = "dx = dy * y",
};

/* ---- log ---- */

NBI_UNARY_FORWARD(log, log(x))
UNARY_BUILDER(log, LOG)

static void log_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nb_div(g, dy, y->in[0]);
}

const nbi_op nbi_op_log = {
    .name = "log",
    .symbol = "log",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = log_forward,
    .grad = log_grad,
    .formula = "y = ln x",
    .grad_formula = "dx = dy / x",
};

/* ---- sqrt ---- */

NBI_UNARY_FORWARD(sqrt, sqrt(x))
UNARY_BUILDER(sqrt, SQRT)

static void sqrt_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *two = nbi_scalar_cached(g, y->dtype, 2.0);
    dx[0] = nb_div(g, dy, nb_mul(g, two, y));
}

const nbi_op nbi_op_sqrt = {
    .name = "sqrt",
    .symbol = "√",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = sqrt_forward,
    .grad = sqrt_grad,
    .formula = "y = √x",
    .grad_formula = "dx = dy / (2 y)",
};

/* ---- abs ---- */

NBI_UNARY_FORWARD(abs, x < 0 ? -x : x)
UNARY_BUILDER(abs, ABS)

static void abs_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nbi_chain(g, dy, nb_sign(g, y->in[0])); /* 0 at 0, as PyTorch */
}

const nbi_op nbi_op_abs = {
    .name = "abs",
    .symbol = "|x|",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = abs_forward,
    .scalar_f32 = abs_scalar_f32,
    .grad = abs_grad,
    .formula = "y = |x|",
    .grad_formula = "dx = dy * sign(x)",
};

/* ---- tanh ---- */

NBI_UNARY_FORWARD(tanh, NBI_TANH(x))
UNARY_BUILDER(tanh, TANH)

static void tanh_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nb_tanh_grad(g, y, dy);
}

const nbi_op nbi_op_tanh = {
    .name = "tanh",
    .symbol = "tanh",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = tanh_forward,
    .scalar_f32 = tanh_scalar_f32,
    .grad = tanh_grad,
    .formula = "y = tanh x",
    .grad_formula = "dx = tanh_grad(y, dy) = dy * (1 - y²)",
};

/* ---- sigmoid ---- */

/* From e^-|x| (at most 1), so no exponent can overflow; see ops/fastmath.h. */
NBI_UNARY_FORWARD(sigmoid, NBI_SIGMOID(x))
UNARY_BUILDER(sigmoid, SIGMOID)

static void sigmoid_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nb_sigmoid_grad(g, y, dy);
}

const nbi_op nbi_op_sigmoid = {
    .name = "sigmoid",
    .symbol = "σ",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = sigmoid_forward,
    .scalar_f32 = sigmoid_scalar_f32,
    .grad = sigmoid_grad,
    .formula = "y = 1 / (1 + e^-x)",
    .grad_formula = "dx = sigmoid_grad(y, dy) = dy * y * (1 - y)",
};

/* ---- relu ---- */

NBI_UNARY_FORWARD(relu, x > 0 ? x : (T)0)
UNARY_BUILDER(relu, RELU)

/* from the output, which the next layer keeps anyway: y > 0 exactly where x > 0 (0 at 0, as PyTorch) */
static void relu_rule(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nb_relu_grad(g, y, dy);
}

const nbi_op nbi_op_relu = {
    .name = "relu",
    .symbol = "relu",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = relu_forward,
    .scalar_f32 = relu_scalar_f32,
    .grad = relu_rule,
    .formula = "y = max(x, 0)",
    .grad_formula = "dx = relu_grad(y, dy) = dy where y > 0, else 0   (0 at x = 0)",
};

/* ---- sign and step: piecewise constant, so their gradient is 0 (grad = NULL) ---- */

NBI_UNARY_FORWARD(sign, (T)(x > 0) - (T)(x < 0))
UNARY_BUILDER(sign, SIGN)

const nbi_op nbi_op_sign = {
    .name = "sign",
    .symbol = "sign",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = sign_forward,
    .scalar_f32 = sign_scalar_f32,
    .formula = "y = -1, 0 or 1 as x < 0, = 0, > 0",
    .grad_formula = "dx = 0",
};

NBI_UNARY_FORWARD(step, (T)(x > 0))
UNARY_BUILDER(step, STEP)

const nbi_op nbi_op_step = {
    .name = "step",
    .symbol = "step",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = step_forward,
    .scalar_f32 = step_scalar_f32,
    .formula = "y = 1 if x > 0 else 0",
    .grad_formula = "dx = 0",
};

/* ---- pow with a constant exponent ---- */

NBI_TYPED(pow_kernel, (size_t n, const void *xv, void *yv, double p), {
    const T *x = xv;
    T *y = yv;
    const T e = (T)p;
    if (p == 2) {
        for (size_t i = 0; i < n; i++) {
            y[i] = x[i] * x[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            y[i] = pow(x[i], e);
        }
    }
})

static nb_status pow_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, pow_kernel, nbi_node_count(y), y->in[0]->data, y->data, y->attr[0].f);
    return NB_OK;
}

nb_node *nb_pow(nb_graph *g, nb_node *x, double p)
{
    if (!nbi_check_inputs(g, "pow", 1, &x) || !nbi_check_float(g, "pow", 1, &x)) {
        return NULL;
    }
    if (p != p) {
        nbi_fail(g, NB_ERR_ARG, "pow", 1, &x, "the exponent is NaN");
        return NULL;
    }
    nb_node *y = nbi_node_new(g, NBI_OP_POW, x->dtype, x->rank, x->shape, x, NULL);
    if (y) {
        y->attr[0].f = p;
    }
    return y;
}

static void pow_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    double p = y->attr[0].f;
    nb_node *x = y->in[0];
    if (p == 0) {
        return; /* x^0 is constant */
    }
    if (p == 1) {
        dx[0] = dy;
        return;
    }
    nb_node *xp = p == 2 ? x : nb_pow(g, x, p - 1);
    dx[0] = nbi_chain(g, dy, nb_mul(g, nbi_scalar_cached(g, y->dtype, p), xp));
}

const nbi_op nbi_op_pow = {
    .name = "pow",
    .symbol = "^",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .forward = pow_forward,
    .grad = pow_grad,
    .attrs = { { "p", NBI_ATTR_FLOAT, .required = true } },
    .n_attrs = 1,
    .formula = "y = x^p (p constant)",
    .grad_formula = "dx = dy * p * x^(p-1)",
};
