/*
 * tests/op_cases.h: the one table of op cases that test_ops_forward.c and
 * test_ops_grad.c both run. A row names the op (as nb_op_info names it), the
 * builder that applies it, the values of the leaves it is applied to and the
 * expected output. Adding an op means adding its rows here; the coverage test
 * in test_ops_grad.c fails while an op has no forward or no gradient case.
 *
 * Provenance of the expected values. Unless a row's comment says "closed
 * form", they are the outputs of PyTorch 1.13 (Debian's python3-torch, run
 * once offline, never by the tests) for the expression in the row's comment,
 * where every floating input is a float64 tensor of the row's values and
 * every label input an int64 tensor, with `import torch.nn.functional as F`:
 *     y = <expression>; print([repr(v) for v in y.double().reshape(-1).tolist()])
 * Python's repr prints the shortest decimal that reads back as the same
 * double, so every reference is the float64 result to the last bit. The
 * inputs are two-decimal values drawn once with Python's random module (seed
 * 20240601), distinct within a tensor so that max and argmax have no ties.
 *
 * Inputs are chosen away from kinks (relu and abs at 0, max ties, log and sqrt
 * near 0, division by values near 0) except in OPC_FORWARD_ONLY rows, which
 * test the value at the kink and are not gradient-checked.
 */
#ifndef NABLA_TESTS_OP_CASES_H
#define NABLA_TESTS_OP_CASES_H

#include <nabla.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A shape: rank dims. */
typedef struct op_shape {
    int rank;
    int64_t dims[NB_MAX_RANK];
} op_shape;

/* The most leaves a case applies its op to. */
#define OPC_MAX_IN 4

/* A leaf the case's op is applied to. */
typedef struct op_input {
    op_shape shape;
    const double *values; /* row-major; NULL: no such input */
    size_t n;             /* number of values, checked against the shape */
    bool labels;          /* an i32 leaf of class labels; otherwise of the case's dtype */
} op_input;

/* How a row is checked. */
enum {
    OPC_EXACT = 1u << 0,        /* forward values must be equal, not just close */
    OPC_FORWARD_ONLY = 1u << 1, /* at a kink or a tie: no gradient check */
    OPC_INT_OUT = 1u << 2,      /* the output is i32 (argmax), whatever the case's dtype */
};

typedef struct op_case op_case;

/* Applies the case's op to the leaves x[] (made from c->in[]) in a graph of dtype. */
typedef nb_node *(*op_build_fn)(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node *const *x);

struct op_case {
    const char *op;   /* the op under test, as nb_op_info_get names it */
    const char *name; /* what the case shows, unique */
    op_build_fn build;
    op_input in[OPC_MAX_IN];
    /* attributes, read by the builders */
    int axis;
    bool keepdims;
    double p;        /* pow's exponent */
    double value;    /* fill's value */
    int mm;          /* nb_matmul_ex's NB_TRANS_ flags */
    op_shape to;     /* target shape of reshape, broadcast_to, sum_to and fill */
    int64_t classes; /* one_hot */
    /* attributes of the Part II ops: axes, pads, starts and steps; p, eps, slopes */
    int64_t ia[8];
    int n_ia;
    double fa[4];
    /* the expected output */
    op_shape out;
    const double *expect;
    size_t n_expect;
    unsigned mode; /* OPC_ flags */
};

#define OPC_COUNT(T, ...) (sizeof((const T[]){ __VA_ARGS__ }) / sizeof(T))
/* OPC_SHAPE(2, 3) is the shape [2,3]; OPC_SCALAR_SHAPE is rank 0. */
#define OPC_SHAPE(...)                                                                             \
    {                                                                                              \
        .rank = (int)OPC_COUNT(int64_t, __VA_ARGS__), .dims = { __VA_ARGS__ }                      \
    }
#define OPC_SCALAR_SHAPE                                                                           \
    {                                                                                              \
        .rank = 0                                                                                  \
    }
/* OPC_IN((2, 3), v0, ..., v5): a floating leaf of shape [2,3]; OPC_IN0(v): a scalar one. */
#define OPC_IN(S, ...)                                                                             \
    {                                                                                              \
        .shape = OPC_SHAPE S, .values = (const double[]){ __VA_ARGS__ },                           \
        .n = OPC_COUNT(double, __VA_ARGS__)                                                        \
    }
#define OPC_IN0(v)                                                                                 \
    {                                                                                              \
        .shape = OPC_SCALAR_SHAPE, .values = (const double[]){ v }, .n = 1                         \
    }
/* Label leaves (i32). */
#define OPC_LABELS(S, ...)                                                                         \
    {                                                                                              \
        .shape = OPC_SHAPE S, .values = (const double[]){ __VA_ARGS__ },                           \
        .n = OPC_COUNT(double, __VA_ARGS__), .labels = true                                        \
    }
#define OPC_LABELS0(v)                                                                             \
    {                                                                                              \
        .shape = OPC_SCALAR_SHAPE, .values = (const double[]){ v }, .n = 1, .labels = true         \
    }
/* The expected output: its shape and values. */
#define OPC_OUT(S, ...)                                                                            \
    .out = OPC_SHAPE S, .expect = (const double[]){ __VA_ARGS__ },                                 \
    .n_expect = OPC_COUNT(double, __VA_ARGS__)
#define OPC_OUT0(v) .out = OPC_SCALAR_SHAPE, .expect = (const double[]){ v }, .n_expect = 1

/* Defines builder NAME returning EXPR, which may use g, c, dtype and x. */
#define OPC_BUILDER(NAME, EXPR)                                                                    \
    static nb_node *NAME(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node *const *x)         \
    {                                                                                              \
        (void)c;                                                                                   \
        (void)dtype;                                                                               \
        (void)x;                                                                                   \
        return EXPR;                                                                               \
    }

OPC_BUILDER(build_add, nb_add(g, x[0], x[1]))
OPC_BUILDER(build_sub, nb_sub(g, x[0], x[1]))
OPC_BUILDER(build_mul, nb_mul(g, x[0], x[1]))
OPC_BUILDER(build_div, nb_div(g, x[0], x[1]))
OPC_BUILDER(build_neg, nb_neg(g, x[0]))
OPC_BUILDER(build_exp, nb_exp(g, x[0]))
OPC_BUILDER(build_log, nb_log(g, x[0]))
OPC_BUILDER(build_sqrt, nb_sqrt(g, x[0]))
OPC_BUILDER(build_abs, nb_abs(g, x[0]))
OPC_BUILDER(build_tanh, nb_tanh(g, x[0]))
OPC_BUILDER(build_sigmoid, nb_sigmoid(g, x[0]))
OPC_BUILDER(build_sigmoid_grad, nb_sigmoid_grad(g, x[0], x[1]))
OPC_BUILDER(build_tanh_grad, nb_tanh_grad(g, x[0], x[1]))
OPC_BUILDER(build_relu, nb_relu(g, x[0]))
OPC_BUILDER(build_relu_grad, nb_relu_grad(g, x[0], x[1]))
OPC_BUILDER(build_sign, nb_sign(g, x[0]))
OPC_BUILDER(build_step, nb_step(g, x[0]))
OPC_BUILDER(build_pow, nb_pow(g, x[0], c->p))
OPC_BUILDER(build_sum, nb_sum(g, x[0]))
OPC_BUILDER(build_mean, nb_mean(g, x[0]))
OPC_BUILDER(build_sum_axis, nb_sum_axis(g, x[0], c->axis, c->keepdims))
OPC_BUILDER(build_mean_axis, nb_mean_axis(g, x[0], c->axis, c->keepdims))
OPC_BUILDER(build_max_axis, nb_max_axis(g, x[0], c->axis, c->keepdims))
OPC_BUILDER(build_argmax_mask, nb_argmax_mask(g, x[0], c->axis))
OPC_BUILDER(build_matmul, nb_matmul(g, x[0], x[1]))
OPC_BUILDER(build_matmul_ex, nb_matmul_ex(g, x[0], x[1], c->mm))
OPC_BUILDER(build_transpose, nb_transpose(g, x[0]))
OPC_BUILDER(build_reshape, nb_reshape(g, x[0], c->to.rank, c->to.dims))
OPC_BUILDER(build_broadcast_to, nb_broadcast_to(g, x[0], c->to.rank, c->to.dims))
OPC_BUILDER(build_sum_to, nb_sum_to(g, x[0], c->to.rank, c->to.dims))
OPC_BUILDER(build_softmax, nb_softmax(g, x[0], c->axis))
OPC_BUILDER(build_log_softmax, nb_log_softmax(g, x[0], c->axis))
OPC_BUILDER(build_one_hot, nb_one_hot(g, x[0], c->classes, dtype))
OPC_BUILDER(build_cross_entropy, nb_cross_entropy(g, x[0], x[1]))
OPC_BUILDER(build_bce_logits, nb_bce_logits(g, x[0], x[1]))
OPC_BUILDER(build_mse, nb_mse(g, x[0], x[1]))
OPC_BUILDER(build_fill, nb_fill(g, dtype, c->to.rank, c->to.dims, c->value))

/* builders: batch normalization */

/* Running statistics for x's channels: every element value. */
static nb_node *opc_bn_state(nb_graph *g, nb_dtype dtype, nb_node *x, double value)
{
    int64_t c = nb_node_shape(x)[1];
    return nb_state(g, dtype, 1, &c, value);
}

/* Running statistics holding values[0 .. C-1] (C <= 4). */
static nb_node *opc_bn_running(nb_graph *g, nb_dtype dtype, nb_node *x, const double *values)
{
    nb_node *s = opc_bn_state(g, dtype, x, 0);
    if (s && nb_node_write_f64(g, s, values, nb_node_size(s)) != NB_OK) {
        return NULL;
    }
    return s;
}

static const double opc_bn_mean[4] = { 0.2, -0.3, 0.5, 0.1 };
static const double opc_bn_var[4] = { 0.8, 1.5, 0.6, 1.2 };

/*
 * batch_norm(x, w, b, running_mean, running_var) in the graph's mode for
 * rows with ia[0] 0, in evaluation mode (set on the row's graph, so the
 * gradient check runs in it too) with ia[0] 1.
 */
static nb_node *opc_bn(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node *const *x)
{
    if (c->ia[0]) {
        nb_graph_set_training(g, false);
    }
    return nb_batch_norm(g, x[0], x[1], x[2], opc_bn_running(g, dtype, x[0], opc_bn_mean),
                         opc_bn_running(g, dtype, x[0], opc_bn_var), c->fa[0], c->fa[1]);
}

/* mode_select(a, b), in evaluation mode when ia[0] is 1. */
static nb_node *opc_mode_select(nb_graph *g, const op_case *c, nb_node *const *x)
{
    if (c->ia[0]) {
        nb_graph_set_training(g, false);
    }
    return nb_mode_select(g, x[0], x[1]);
}

/*
 * batch_norm's gradient is a mode_select: d/dx sum(batch_norm(x, w,
 * b, ...) * k) with k[i] = ((37 i) mod 17 - 8.5) / 8 (sum(batch_norm) alone
 * has a zero gradient in training), in evaluation mode when ia[0] is 1. Its
 * gradient check is a second-order check of batch_norm.
 */
static nb_node *opc_bn_dx(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node *const *x)
{
    nb_node *y = opc_bn(g, c, dtype, x);
    if (!y) {
        return NULL;
    }
    double k[64];
    float kf[64];
    if (nb_node_size(y) > 64) {
        return NULL;
    }
    for (size_t i = 0; i < nb_node_size(y); i++) {
        k[i] = ((double)((i * 37) % 17) - 8.5) / 8.0;
        kf[i] = (float)k[i];
    }
    nb_node *s = nb_sum(g, nb_mul(g, y,
                                  nb_const(g, dtype, nb_node_rank(y), nb_node_shape(y),
                                           dtype == NB_DTYPE_F32 ? (const void *)kf : k)));
    nb_node *d = NULL;
    return s && nb_grad(g, s, 1, &x[0], &d) == NB_OK ? d : NULL;
}

OPC_BUILDER(build_batch_norm, opc_bn(g, c, dtype, x))
OPC_BUILDER(build_batch_norm_plain,
            nb_batch_norm(g, x[0], NULL, NULL, opc_bn_state(g, dtype, x[0], 0),
                          opc_bn_state(g, dtype, x[0], 1), c->fa[0], c->fa[1]))
OPC_BUILDER(build_mode_select, opc_mode_select(g, c, x))
OPC_BUILDER(build_batch_norm_dx, opc_bn_dx(g, c, dtype, x))

/* -- */

/* builders: activations */
OPC_BUILDER(build_leaky_relu, nb_leaky_relu(g, x[0], c->fa[0]))
/* INFINITY, for clamp's open bounds (the header is guarded: a second include is free) */
#include <math.h>
OPC_BUILDER(build_elu, nb_elu(g, x[0], c->fa[0]))
OPC_BUILDER(build_erf, nb_erf(g, x[0]))
OPC_BUILDER(build_gelu, nb_gelu(g, x[0]))
OPC_BUILDER(build_gelu_tanh, nb_gelu_tanh(g, x[0]))
OPC_BUILDER(build_softplus, nb_softplus(g, x[0]))
OPC_BUILDER(build_silu, nb_silu(g, x[0]))
OPC_BUILDER(build_log1p, nb_log1p(g, x[0]))
OPC_BUILDER(build_clamp, nb_clamp(g, x[0], c->fa[0], c->fa[1]))

/* builders: comparison and selection */
OPC_BUILDER(build_maximum, nb_maximum(g, x[0], x[1]))
OPC_BUILDER(build_minimum, nb_minimum(g, x[0], x[1]))
OPC_BUILDER(build_where, nb_where(g, x[0], x[1], x[2]))
OPC_BUILDER(build_greater, nb_greater(g, x[0], x[1]))
OPC_BUILDER(build_less, nb_less(g, x[0], x[1]))
OPC_BUILDER(build_equal, nb_equal(g, x[0], x[1]))

/* builders: layout */
/* concat takes every leaf of its row (opc_arity comes after the table) */
static inline int opc_concat_inputs(const op_case *c)
{
    int n = 0;
    while (n < OPC_MAX_IN && c->in[n].values) {
        n++;
    }
    return n;
}
OPC_BUILDER(build_concat, nb_concat(g, opc_concat_inputs(c), x, c->axis))
OPC_BUILDER(build_slice, nb_slice(g, x[0], c->axis, c->ia[0], c->ia[1], c->ia[2]))
OPC_BUILDER(build_slice_grad,
            nb_slice_grad(g, x[0], c->to.rank, c->to.dims, c->axis, c->ia[0], c->ia[1]))
OPC_BUILDER(build_pad, nb_pad(g, x[0], c->n_ia, c->ia, c->fa[0]))
/* permute takes int axes; the row's are int64_t */
static nb_node *build_permute(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node *const *x)
{
    (void)dtype;
    int perm[NB_MAX_RANK];
    for (int k = 0; k < c->n_ia && k < NB_MAX_RANK; k++) {
        perm[k] = (int)c->ia[k];
    }
    return nb_permute(g, x[0], c->n_ia, perm);
}

/* builders: indexing */
OPC_BUILDER(build_gather, nb_gather(g, x[0], x[1], (int)c->ia[0]))
OPC_BUILDER(build_scatter_add, nb_scatter_add(g, x[0], x[1], (int)c->ia[0], c->ia[1]))
OPC_BUILDER(build_embedding, nb_embedding(g, x[0], x[1]))
OPC_BUILDER(build_argmax, nb_argmax(g, x[0], (int)c->ia[0], c->keepdims))
OPC_BUILDER(build_cross_entropy_ignore, nb_cross_entropy_ignore(g, x[0], x[1], (int32_t)c->ia[0]))

/* builders: reductions over lists of axes */
/* The row's axes (.ia, .n_ia) as the int array the _axes builders take, in buf. */
static inline const int *opc_axes(const op_case *c, int *buf)
{
    for (int i = 0; i < c->n_ia; i++) {
        buf[i] = (int)c->ia[i];
    }
    return buf;
}
OPC_BUILDER(build_sum_axes, nb_sum_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 }), c->keepdims))
OPC_BUILDER(build_mean_axes,
            nb_mean_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 }), c->keepdims))
OPC_BUILDER(build_max_axes, nb_max_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 }), c->keepdims))
OPC_BUILDER(build_argmax_mask_axes,
            nb_argmax_mask_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 })))
OPC_BUILDER(build_min_axis, nb_min_axis(g, x[0], (int)c->ia[0], c->keepdims))
OPC_BUILDER(build_min_axes, nb_min_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 }), c->keepdims))
OPC_BUILDER(build_logsumexp, nb_logsumexp(g, x[0], (int)c->ia[0], c->keepdims))
OPC_BUILDER(build_logsumexp_axes,
            nb_logsumexp_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 }), c->keepdims))
/* var's correction is .fa[0] */
OPC_BUILDER(build_var, nb_var(g, x[0], (int)c->ia[0], c->keepdims, c->fa[0]))
OPC_BUILDER(build_var_axes,
            nb_var_axes(g, x[0], c->n_ia, opc_axes(c, (int[8]){ 0 }), c->keepdims, c->fa[0]))

/* builders: regularization and normalization */
/* dropout in the graph's mode (training, for a new graph) */
OPC_BUILDER(build_dropout, nb_dropout(g, x[0], c->fa[0]))
/* dropout in an evaluation graph: the identity, which gradcheck's repeated runs can check */
OPC_BUILDER(build_dropout_eval, (nb_graph_set_training(g, false), nb_dropout(g, x[0], c->fa[0])))
OPC_BUILDER(build_layer_norm, nb_layer_norm(g, x[0], x[1], x[2], c->fa[0]))
OPC_BUILDER(build_layer_norm_plain, nb_layer_norm(g, x[0], NULL, NULL, c->fa[0]))
OPC_BUILDER(build_stop_gradient, nb_stop_gradient(g, x[0]))

/* builders: pooling; .ia holds kernel, stride (0: the kernel), padding, each h then w in 2-d */
OPC_BUILDER(build_max_pool2d, nb_max_pool2d(g, x[0], (int)c->ia[0], (int)c->ia[1], (int)c->ia[2],
                                            (int)c->ia[3], (int)c->ia[4], (int)c->ia[5]))
OPC_BUILDER(build_avg_pool2d, nb_avg_pool2d(g, x[0], (int)c->ia[0], (int)c->ia[1], (int)c->ia[2],
                                            (int)c->ia[3], (int)c->ia[4], (int)c->ia[5]))
OPC_BUILDER(build_max_pool1d, nb_max_pool1d(g, x[0], (int)c->ia[0], (int)c->ia[1], (int)c->ia[2]))
OPC_BUILDER(build_avg_pool1d, nb_avg_pool1d(g, x[0], (int)c->ia[0], (int)c->ia[1], (int)c->ia[2]))
/* .n_ia spatial axes; .ia holds kernel, stride, padding of n_ia entries each */
static inline nb_node *build_max_pool_index(nb_graph *g, const op_case *c, nb_dtype dtype,
                                            nb_node *const *x)
{
    (void)dtype;
    int v[6] = { 0 }, n = c->n_ia;
    for (int i = 0; i < 3 * n; i++) {
        v[i] = (int)c->ia[i];
    }
    return nb_max_pool_index(g, x[0], n, v, v + n, v + 2 * n);
}
/*
 * builders: convolution; .ia holds stride, padding, dilation and output_padding
 * (each h then w; a 1-d op reads the h entries), .axis the groups and .to the
 * kernel of conv2d_weight_grad. Variants are in tests/test_conv.c.
 */
static inline nb_conv_opts opc_conv_opts(const op_case *c)
{
    nb_conv_opts o = { .groups = c->axis };
    for (int d = 0; d < 2; d++) {
        o.stride[d] = (int)c->ia[d];
        o.padding[d] = (int)c->ia[2 + d];
        o.dilation[d] = (int)c->ia[4 + d];
        o.output_padding[d] = (int)c->ia[6 + d];
    }
    return o;
}
#define OPC_CONV_BUILDER(NAME, CALL)                                                               \
    static nb_node *NAME(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node *const *x)         \
    {                                                                                              \
        (void)dtype;                                                                               \
        nb_conv_opts o = opc_conv_opts(c);                                                         \
        return CALL;                                                                               \
    }
OPC_CONV_BUILDER(build_conv2d, nb_conv2d(g, x[0], x[1], x[2], &o))
OPC_CONV_BUILDER(build_conv1d, nb_conv1d(g, x[0], x[1], x[2], &o))
OPC_CONV_BUILDER(build_conv_transpose2d, nb_conv_transpose2d(g, x[0], x[1], x[2], &o))
OPC_CONV_BUILDER(build_conv2d_weight_grad,
                 nb_conv2d_weight_grad(g, x[0], x[1], (int)c->to.dims[0], (int)c->to.dims[1], &o))
/* .n_ia spatial axes; .ia holds size, kernel, stride, padding of n_ia entries each */
static inline nb_node *build_avg_pool_grad(nb_graph *g, const op_case *c, nb_dtype dtype,
                                           nb_node *const *x)
{
    (void)dtype;
    int v[6] = { 0 }, n = c->n_ia;
    for (int i = 0; i < 3 * n; i++) {
        v[i] = (int)c->ia[n + i];
    }
    return nb_avg_pool_grad(g, x[0], n, c->ia, v, v + n, v + 2 * n);
}

static const op_case op_cases[] = {
    /* torch: a + b */
    { .op = "add",
      .name = "add same shape [2,3]",
      .build = build_add,
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3),
              OPC_IN((2, 3), -1.19, -0.26, -0.49, -1.69, 1.9, 1.57) },
      OPC_OUT((2, 3), -2.7199999999999998, -0.5800000000000001, 0.6499999999999999,
              -1.3499999999999999, 3.3099999999999996, 1.27) },
    /* torch: a + b */
    { .op = "add",
      .name = "add scalar with [2,3]",
      .build = build_add,
      .in = { OPC_IN0(1.3), OPC_IN((2, 3), 0.28, -0.65, -1.49, 1.53, 0.35, 1.79) },
      OPC_OUT((2, 3), 1.58, 0.65, -0.18999999999999995, 2.83, 1.65, 3.09) },
    /* torch: a + b */
    { .op = "add",
      .name = "add [2,3] with scalar",
      .build = build_add,
      .in = { OPC_IN((2, 3), 1.61, 0.35, 0.22, 1.51, 0.61, -0.52), OPC_IN0(-1.82) },
      OPC_OUT((2, 3), -0.20999999999999996, -1.4700000000000002, -1.6, -0.31000000000000005, -1.21,
              -2.34) },
    /* torch: a + b */
    { .op = "add",
      .name = "add row [3] with [2,3]",
      .build = build_add,
      .in = { OPC_IN((3), 1.99, 0.25, -1.16),
              OPC_IN((2, 3), -1.8, 1.31, -0.95, -1.18, -0.94, -1.1) },
      OPC_OUT((2, 3), 0.18999999999999995, 1.56, -2.11, 0.81, -0.69, -2.26) },
    /* torch: a + b */
    { .op = "add",
      .name = "add [2,3] with column [2,1]",
      .build = build_add,
      .in = { OPC_IN((2, 3), 1.39, -0.63, 1.77, -0.34, 1.88, -1.42), OPC_IN((2, 1), -0.87, -0.99) },
      OPC_OUT((2, 3), 0.5199999999999999, -1.5, 0.9, -1.33, 0.8899999999999999, -2.41) },
    /* torch: a + b */
    { .op = "add",
      .name = "add column [2,1] with [2,3]",
      .build = build_add,
      .in = { OPC_IN((2, 1), -0.27, -1.93),
              OPC_IN((2, 3), -1.17, -0.49, -0.34, 0.75, -1.21, -0.73) },
      OPC_OUT((2, 3), -1.44, -0.76, -0.6100000000000001, -1.18, -3.1399999999999997, -2.66) },
    /* torch: a + b */
    { .op = "add",
      .name = "add rank-extending [3] with [4,2,3]",
      .build = build_add,
      .in = { OPC_IN((3), 1.45, 1.71, -1.09),
              OPC_IN((4, 2, 3), 0.69, 1.14, 0.64, -0.46, -0.32, 1.28, 1.33, -1.3, -1.74, 0.8, 1.74,
                     1.35, -0.35, 1.82, -0.63, -1.15, -0.45, -0.99, 0.71, 0.2, 1.19, 0.5, -0.55,
                     0.23) },
      OPC_OUT((4, 2, 3), 2.1399999999999997, 2.8499999999999996, -0.45000000000000007, 0.99, 1.39,
              0.18999999999999995, 2.7800000000000002, 0.4099999999999999, -2.83, 2.25, 3.45, 0.26,
              1.1, 3.5300000000000002, -1.7200000000000002, 0.30000000000000004, 1.26, -2.08, 2.16,
              1.91, 0.09999999999999987, 1.95, 1.16, -0.8600000000000001) },
    /* torch: a + b */
    { .op = "add",
      .name = "add both broadcast [2,1] with [1,3]",
      .build = build_add,
      .in = { OPC_IN((2, 1), 1.56, -1.21), OPC_IN((1, 3), 1.42, -0.91, -0.23) },
      OPC_OUT((2, 3), 2.98, 0.65, 1.33, 0.20999999999999996, -2.12, -1.44) },
    /* torch: a + b */
    { .op = "add",
      .name = "add rank 4 [2,1,2,3] with [3,1,3]",
      .build = build_add,
      .in = { OPC_IN((2, 1, 2, 3), -0.14, -1.56, 1.26, 0.96, -0.89, -1.47, -1.63, -0.18, 0.23, 1.9,
                     -1.17, 0.69),
              OPC_IN((3, 1, 3), -0.55, 0.12, -0.61, 0.13, 1.59, 0.55, 1.83, 0.3, -1.54) },
      OPC_OUT((2, 3, 2, 3), -0.6900000000000001, -1.44, 0.65, 0.4099999999999999, -0.77, -2.08,
              -0.010000000000000009, 0.030000000000000027, 1.81, 1.0899999999999999,
              0.7000000000000001, -0.9199999999999999, 1.69, -1.26, -0.28, 2.79,
              -0.5900000000000001, -3.01, -2.1799999999999997, -0.06, -0.38, 1.3499999999999999,
              -1.0499999999999998, 0.07999999999999996, -1.5, 1.4100000000000001, 0.78, 2.03,
              0.42000000000000015, 1.24, 0.20000000000000018, 0.12, -1.31, 3.73,
              -0.8699999999999999, -0.8500000000000001) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub same shape [2,3]",
      .build = build_sub,
      .in = { OPC_IN((2, 3), -0.12, -0.59, 0.98, -1.95, -0.72, 0.13),
              OPC_IN((2, 3), 0.96, -1.22, 1.55, -1.67, -1.08, -1.4) },
      OPC_OUT((2, 3), -1.08, 0.63, -0.5700000000000001, -0.28, 0.3600000000000001,
              1.5299999999999998) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub scalar with [2,3]",
      .build = build_sub,
      .in = { OPC_IN0(0.66), OPC_IN((2, 3), 1.35, -0.82, -0.69, -1.6, 0.16, 0.91) },
      OPC_OUT((2, 3), -0.6900000000000001, 1.48, 1.35, 2.2600000000000002, 0.5, -0.25) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub [2,3] with scalar",
      .build = build_sub,
      .in = { OPC_IN((2, 3), 1.04, 0.4, -0.74, 1.88, -1.41, -1.31), OPC_IN0(1.2) },
      OPC_OUT((2, 3), -0.15999999999999992, -0.7999999999999999, -1.94, 0.6799999999999999, -2.61,
              -2.51) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub row [3] with [2,3]",
      .build = build_sub,
      .in = { OPC_IN((3), -1.6, 0.8, -1.12), OPC_IN((2, 3), -1.35, 0.71, -1.26, 0.24, 0.34, 0.53) },
      OPC_OUT((2, 3), -0.25, 0.09000000000000008, 0.1399999999999999, -1.84, 0.46,
              -1.6500000000000001) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub [2,3] with column [2,1]",
      .build = build_sub,
      .in = { OPC_IN((2, 3), 1.6, 1.55, -0.52, -0.17, -0.7, -1.89), OPC_IN((2, 1), 1.93, -1.33) },
      OPC_OUT((2, 3), -0.32999999999999985, -0.3799999999999999, -2.45, 1.1600000000000001,
              0.6300000000000001, -0.5599999999999998) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub column [2,1] with [2,3]",
      .build = build_sub,
      .in = { OPC_IN((2, 1), 0.26, 1.17), OPC_IN((2, 3), -0.3, 1.66, -0.43, -0.94, 0.67, -0.76) },
      OPC_OUT((2, 3), 0.56, -1.4, 0.69, 2.11, 0.4999999999999999, 1.93) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub rank-extending [3] with [4,2,3]",
      .build = build_sub,
      .in = { OPC_IN((3), 0.47, -1.7, -0.86),
              OPC_IN((4, 2, 3), -0.56, -0.22, 1.92, -0.34, -0.77, 0.69, -1.13, -0.21, -0.89, -0.16,
                     1.09, 0.36, 1.7, 0.46, -1.38, 0.54, -1.35, 1.57, 0.35, 0.16, -1.66, 0.63, 0.77,
                     -0.26) },
      OPC_OUT((4, 2, 3), 1.03, -1.48, -2.78, 0.81, -0.9299999999999999, -1.5499999999999998,
              1.5999999999999999, -1.49, 0.030000000000000027, 0.63, -2.79, -1.22, -1.23, -2.16,
              0.5199999999999999, -0.07000000000000006, -0.34999999999999987, -2.43, 0.12,
              -1.8599999999999999, 0.7999999999999999, -0.16000000000000003, -2.4699999999999998,
              -0.6) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub both broadcast [2,1] with [1,3]",
      .build = build_sub,
      .in = { OPC_IN((2, 1), 0.91, 1.4), OPC_IN((1, 3), 0.9, 1.76, 1.55) },
      OPC_OUT((2, 3), 0.010000000000000009, -0.85, -0.64, 0.4999999999999999, -0.3600000000000001,
              -0.15000000000000013) },
    /* torch: a - b */
    { .op = "sub",
      .name = "sub rank 4 [2,1,2,3] with [3,1,3]",
      .build = build_sub,
      .in = { OPC_IN((2, 1, 2, 3), 1.64, 1.06, -1.29, -1.91, -1.79, -0.12, 1.77, 0.74, -0.78, 1.66,
                     0.96, 1.97),
              OPC_IN((3, 1, 3), -1.65, 1.68, 1.55, 1.27, 1.42, 1.39, -1.79, -0.83, 1.88) },
      OPC_OUT((2, 3, 2, 3), 3.29, -0.6199999999999999, -2.84, -0.26, -3.4699999999999998, -1.67,
              0.3699999999999999, -0.3599999999999999, -2.6799999999999997, -3.1799999999999997,
              -3.21, -1.5099999999999998, 3.4299999999999997, 1.8900000000000001, -3.17,
              -0.11999999999999988, -0.9600000000000001, -2, 3.42, -0.94, -2.33, 3.3099999999999996,
              -0.72, 0.41999999999999993, 0.5, -0.6799999999999999, -2.17, 0.3899999999999999,
              -0.45999999999999996, 0.5800000000000001, 3.56, 1.5699999999999998, -2.66, 3.45, 1.79,
              0.09000000000000008) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul same shape [2,3]",
      .build = build_mul,
      .in = { OPC_IN((2, 3), 1.07, -0.71, 1.08, -1.6, -1.91, -1.05),
              OPC_IN((2, 3), -1.76, -0.91, -1.93, 1.11, -0.17, -1.48) },
      OPC_OUT((2, 3), -1.8832000000000002, 0.6461, -2.0844, -1.7760000000000002, 0.3247, 1.554) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul scalar with [2,3]",
      .build = build_mul,
      .in = { OPC_IN0(0.9), OPC_IN((2, 3), 0.42, -0.37, -1.54, 0.22, 1.83, 0.34) },
      OPC_OUT((2, 3), 0.378, -0.333, -1.3860000000000001, 0.198, 1.647, 0.30600000000000005) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul [2,3] with scalar",
      .build = build_mul,
      .in = { OPC_IN((2, 3), 0.57, 0.58, -1.32, 1.75, 1.98, -0.85), OPC_IN0(-0.33) },
      OPC_OUT((2, 3), -0.1881, -0.1914, 0.43560000000000004, -0.5775, -0.6534, 0.2805) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul row [3] with [2,3]",
      .build = build_mul,
      .in = { OPC_IN((3), -1.1, -1.04, -0.69),
              OPC_IN((2, 3), 1.94, 1.4, 0.37, 0.97, -0.57, -0.64) },
      OPC_OUT((2, 3), -2.134, -1.456, -0.25529999999999997, -1.067, 0.5928, 0.4416) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul [2,3] with column [2,1]",
      .build = build_mul,
      .in = { OPC_IN((2, 3), 1.18, -0.98, -0.87, -0.92, 1.73, -1.93), OPC_IN((2, 1), 1.35, 0.96) },
      OPC_OUT((2, 3), 1.593, -1.323, -1.1745, -0.8832, 1.6607999999999998, -1.8527999999999998) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul column [2,1] with [2,3]",
      .build = build_mul,
      .in = { OPC_IN((2, 1), -1.83, 1.44), OPC_IN((2, 3), 1.49, 0.14, -0.3, -0.46, 1.43, 0.54) },
      OPC_OUT((2, 3), -2.7267, -0.25620000000000004, 0.549, -0.6624, 2.0591999999999997,
              0.7776000000000001) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul rank-extending [3] with [4,2,3]",
      .build = build_mul,
      .in = { OPC_IN((3), -1.31, 0.63, 1.29),
              OPC_IN((4, 2, 3), -0.78, 0.97, -1.39, -0.11, -1.15, -1.06, -0.67, -1.26, 1.71, -0.2,
                     1.05, 1.88, -0.43, 0.39, -1.56, 1.86, 0.7, 1.64, 1.72, 1.76, -1.52, -0.9,
                     -0.73, 0.48) },
      OPC_OUT((4, 2, 3), 1.0218, 0.6111, -1.7931, 0.1441, -0.7244999999999999, -1.3674000000000002,
              0.8777, -0.7938000000000001, 2.2059, 0.262, 0.6615000000000001, 2.4252, 0.5633,
              0.2457, -2.0124, -2.4366000000000003, 0.44099999999999995, 2.1156, -2.2532, 1.1088,
              -1.9608, 1.179, -0.4599, 0.6192) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul both broadcast [2,1] with [1,3]",
      .build = build_mul,
      .in = { OPC_IN((2, 1), -1.83, 1.74), OPC_IN((1, 3), -0.99, 1.8, -1.14) },
      OPC_OUT((2, 3), 1.8117, -3.294, 2.0862, -1.7226, 3.132, -1.9835999999999998) },
    /* torch: a * b */
    { .op = "mul",
      .name = "mul rank 4 [2,1,2,3] with [3,1,3]",
      .build = build_mul,
      .in = { OPC_IN((2, 1, 2, 3), 1.24, 1.76, 1.11, -1.29, 1.43, -0.48, -0.84, -0.6, -1.58, 1.07,
                     -0.37, -1.57),
              OPC_IN((3, 1, 3), -1.05, 0.33, -1.39, 1.4, -1.04, -1.75, 1.62, 1.11, 1.26) },
      OPC_OUT((2, 3, 2, 3), -1.302, 0.5808, -1.5429, 1.3545, 0.4719, 0.6671999999999999, 1.736,
              -1.8304, -1.9425000000000001, -1.8059999999999998, -1.4872, 0.84, 2.0088,
              1.9536000000000002, 1.3986, -2.0898000000000003, 1.5873000000000002, -0.6048, 0.882,
              -0.198, 2.1962, -1.1235000000000002, -0.1221, 2.1823, -1.176, 0.624, 2.765, 1.498,
              0.38480000000000003, 2.7475, -1.3608, -0.666, -1.9908000000000001, 1.7334000000000003,
              -0.4107, -1.9782000000000002) },
    /* torch: a / b */
    { .op = "div",
      .name = "div same shape [2,3]",
      .build = build_div,
      .in = { OPC_IN((2, 3), -0.19, -1.39, -1.48, -0.72, -0.75, 0.5),
              OPC_IN((2, 3), 1.99, -1.36, -1.04, 0.86, -0.97, 1.96) },
      OPC_OUT((2, 3), -0.09547738693467336, 1.0220588235294117, 1.423076923076923,
              -0.8372093023255813, 0.7731958762886598, 0.25510204081632654) },
    /* torch: a / b */
    { .op = "div",
      .name = "div scalar with [2,3]",
      .build = build_div,
      .in = { OPC_IN0(-1.6), OPC_IN((2, 3), 0.97, 1.24, 1.14, -1.44, 0.76, 1.53) },
      OPC_OUT((2, 3), -1.6494845360824744, -1.2903225806451615, -1.4035087719298247,
              1.1111111111111112, -2.1052631578947367, -1.0457516339869282) },
    /* torch: a / b */
    { .op = "div",
      .name = "div [2,3] with scalar",
      .build = build_div,
      .in = { OPC_IN((2, 3), -0.53, 0.53, -0.43, 1.56, 1.16, 1.88), OPC_IN0(0.76) },
      OPC_OUT((2, 3), -0.6973684210526316, 0.6973684210526316, -0.5657894736842105,
              2.0526315789473686, 1.526315789473684, 2.4736842105263155) },
    /* torch: a / b */
    { .op = "div",
      .name = "div row [3] with [2,3]",
      .build = build_div,
      .in = { OPC_IN((3), 0.55, -1.61, 1.39), OPC_IN((2, 3), 0.85, 0.54, -0.98, -1.02, 0.6, 1) },
      OPC_OUT((2, 3), 0.6470588235294118, -2.9814814814814814, -1.4183673469387754,
              -0.5392156862745099, -2.6833333333333336, 1.39) },
    /* torch: a / b */
    { .op = "div",
      .name = "div [2,3] with column [2,1]",
      .build = build_div,
      .in = { OPC_IN((2, 3), 1.17, 1.54, -0.63, -1.76, 0.94, 0.5), OPC_IN((2, 1), -1.55, -1.17) },
      OPC_OUT((2, 3), -0.7548387096774193, -0.9935483870967742, 0.4064516129032258,
              1.5042735042735045, -0.8034188034188035, -0.4273504273504274) },
    /* torch: a / b */
    { .op = "div",
      .name = "div column [2,1] with [2,3]",
      .build = build_div,
      .in = { OPC_IN((2, 1), -0.16, -1.22),
              OPC_IN((2, 3), 0.79, -0.65, 1.98, -1.84, -1.07, -1.75) },
      OPC_OUT((2, 3), -0.20253164556962025, 0.24615384615384614, -0.08080808080808081,
              0.6630434782608695, 1.1401869158878504, 0.6971428571428572) },
    /* torch: a / b */
    { .op = "div",
      .name = "div rank-extending [3] with [4,2,3]",
      .build = build_div,
      .in = { OPC_IN((3), 1.94, -0.56, -0.68),
              OPC_IN((4, 2, 3), 1.55, 1.13, 1.74, 1.05, 0.68, -1.42, 0.59, 0.63, 1.32, -0.62, -1.03,
                     -1.83, 1.58, 0.94, -0.7, 1.17, 1.8, 1.43, -1.71, 1.62, -0.98, 1.9, -0.8,
                     1.98) },
      OPC_OUT((4, 2, 3), 1.2516129032258063, -0.49557522123893816, -0.39080459770114945,
              1.8476190476190475, -0.823529411764706, 0.4788732394366198, 3.288135593220339,
              -0.888888888888889, -0.5151515151515151, -3.129032258064516, 0.5436893203883496,
              0.37158469945355194, 1.2278481012658227, -0.5957446808510639, 0.9714285714285715,
              1.6581196581196582, -0.3111111111111111, -0.4755244755244756, -1.1345029239766082,
              -0.34567901234567905, 0.6938775510204083, 1.0210526315789474, 0.7000000000000001,
              -0.3434343434343435) },
    /* torch: a / b */
    { .op = "div",
      .name = "div both broadcast [2,1] with [1,3]",
      .build = build_div,
      .in = { OPC_IN((2, 1), -1.48, -0.73), OPC_IN((1, 3), -0.53, -1.1, 0.95) },
      OPC_OUT((2, 3), 2.792452830188679, 1.3454545454545452, -1.5578947368421052,
              1.3773584905660377, 0.6636363636363636, -0.768421052631579) },
    /* torch: a / b */
    { .op = "div",
      .name = "div rank 4 [2,1,2,3] with [3,1,3]",
      .build = build_div,
      .in = { OPC_IN((2, 1, 2, 3), 0.81, -0.59, -1.74, 0.85, -0.56, -1.92, -0.18, 1.03, -1.72, 0.9,
                     1.83, 1.57),
              OPC_IN((3, 1, 3), 1.6, 1.82, -0.51, 1.47, 0.93, -1.89, 1.58, -0.87, 0.53) },
      OPC_OUT((2, 3, 2, 3), 0.50625, -0.32417582417582413, 3.411764705882353, 0.53125,
              -0.3076923076923077, 3.764705882352941, 0.5510204081632654, -0.6344086021505375,
              0.9206349206349207, 0.5782312925170068, -0.6021505376344086, 1.0158730158730158,
              0.5126582278481012, 0.6781609195402298, -3.283018867924528, 0.5379746835443038,
              0.6436781609195403, -3.622641509433962, -0.11249999999999999, 0.5659340659340659,
              3.372549019607843, 0.5625, 1.0054945054945055, -3.0784313725490198,
              -0.12244897959183673, 1.10752688172043, 0.9100529100529101, 0.6122448979591837,
              1.967741935483871, -0.8306878306878308, -0.11392405063291139, -1.1839080459770115,
              -3.2452830188679243, 0.569620253164557, -2.103448275862069, 2.9622641509433962) },
    /* torch: torch.neg(x) */
    { .op = "neg",
      .name = "neg [2,3]",
      .build = build_neg,
      .in = { OPC_IN((2, 3), 0.12, -1.57, 1.1, 0.98, 1.24, 1.27) },
      OPC_OUT((2, 3), -0.12, 1.57, -1.1, -0.98, -1.24, -1.27) },
    /* torch: torch.exp(x) */
    { .op = "exp",
      .name = "exp [2,3]",
      .build = build_exp,
      .in = { OPC_IN((2, 3), -2.08, -2.8, 2.2, 1.54, 0.89, -2.51) },
      OPC_OUT((2, 3), 0.12493021219858241, 0.06081006262521797, 9.025013499434122,
              4.664590270988126, 2.4351296512898744, 0.08126823924089172) },
    /* torch: torch.log(x) */
    { .op = "log",
      .name = "log [2,3] of positive x",
      .build = build_log,
      .in = { OPC_IN((2, 3), 3.5, 3.13, 4.52, 2.96, 2.07, 2.55) },
      OPC_OUT((2, 3), 1.252762968495368, 1.1410330045520618, 1.5085119938441398, 1.085189268335969,
              0.7275486072772777, 0.9360933591703348) },
    /* torch: torch.sqrt(x) */
    { .op = "sqrt",
      .name = "sqrt [2,3] of positive x",
      .build = build_sqrt,
      .in = { OPC_IN((2, 3), 1.52, 0.99, 5.7, 8.19, 1.35, 5.32) },
      OPC_OUT((2, 3), 1.2328828005937953, 0.99498743710662, 2.3874672772626644, 2.8618176042508368,
              1.161895003862225, 2.3065125189341593) },
    /* torch: torch.abs(x) */
    { .op = "abs",
      .name = "abs [2,3] away from 0",
      .build = build_abs,
      .in = { OPC_IN((2, 3), -0.49, 1.29, -0.78, -0.61, 1.92, 1) },
      OPC_OUT((2, 3), 0.49, 1.29, 0.78, 0.61, 1.92, 1) },
    /* closed form; kink at 0, forward only */
    { .op = "abs",
      .name = "abs at 0 is 0",
      .build = build_abs,
      .in = { OPC_IN((3), -1.5, 0, 2.25) },
      OPC_OUT((3), 1.5, 0, 2.25),
      .mode = OPC_FORWARD_ONLY },
    /* torch: torch.tanh(x) */
    { .op = "tanh",
      .name = "tanh [2,3]",
      .build = build_tanh,
      .in = { OPC_IN((2, 3), 1.44, 0.91, 1.83, -1.67, 2.87, 2.73) },
      OPC_OUT((2, 3), 0.8936977272038725, 0.7211322540766999, 0.9498260756930403,
              -0.9315516846152082, 0.9935910666848863, 0.9915289207183131) },
    /* torch: torch.tanh(x) */
    { .op = "tanh",
      .name = "tanh saturates at +-20",
      .build = build_tanh,
      .in = { OPC_IN((4), -20, -5.5, 5.5, 20) },
      OPC_OUT((4), -1, -0.9999665971563038, 0.9999665971563038, 1) },
    /* torch: torch.sigmoid(x) */
    { .op = "sigmoid",
      .name = "sigmoid [2,3]",
      .build = build_sigmoid,
      .in = { OPC_IN((2, 3), 3.39, 1.86, -3.74, -0.86, 1.26, -0.14) },
      OPC_OUT((2, 3), 0.9673905446932344, 0.8652969480479719, 0.023202938145644076,
              0.29733934565526854, 0.7790261077798122, 0.4650570548417855) },
    /* torch: torch.sigmoid(x) */
    { .op = "sigmoid",
      .name = "sigmoid at +-50",
      .build = build_sigmoid,
      .in = { OPC_IN((4), -50, -20, 20, 50) },
      OPC_OUT((4), 1.928749847963918e-22, 2.0611536181902037e-09, 0.9999999979388463, 1) },
    /* closed form: e^-1000 underflows, so exactly 0, 1/2, 1 (torch.sigmoid agrees) */
    { .op = "sigmoid",
      .name = "sigmoid at +-1000 is exactly 0 and 1",
      .build = build_sigmoid,
      .in = { OPC_IN((3), -1000, 0, 1000) },
      OPC_OUT((3), 0, 0.5, 1),
      .mode = OPC_EXACT },
    /* torch, float64: d * y * (1 - y) */
    { .op = "sigmoid_grad",
      .name = "sigmoid_grad [2,3]",
      .build = build_sigmoid_grad,
      .in = { OPC_IN((2, 3), 0.9, 0.25, 0.4, 0.6, 0.1, 0.75),
              OPC_IN((2, 3), 1.5, -0.8, 2.1, -1.2, 0.45, 0.7) },
      OPC_OUT((2, 3), 0.13499999999999998, -0.15000000000000002, 0.504, -0.288, 0.04050000000000001,
              0.13124999999999998) },
    /* torch, float64: d * (1 - y * y) */
    { .op = "tanh_grad",
      .name = "tanh_grad [2,3]",
      .build = build_tanh_grad,
      .in = { OPC_IN((2, 3), 0.9, 0.25, -0.4, 0.6, 0.1, -0.75),
              OPC_IN((2, 3), 1.5, -0.8, 2.1, -1.2, 0.45, 0.7) },
      OPC_OUT((2, 3), 0.2849999999999999, -0.75, 1.764, -0.768, 0.4455, 0.30624999999999997) },
    /* closed form: d where y > 0, else 0 (torch: torch.where(y > 0, d, 0)); d exact in f32 */
    { .op = "relu_grad",
      .name = "relu_grad [2,3]",
      .build = build_relu_grad,
      .in = { OPC_IN((2, 3), 0.9, -0.25, 0.4, -0.6, 0.1, 0.75),
              OPC_IN((2, 3), 1.5, -0.75, 2.25, -1.25, 0.5, 0.625) },
      OPC_OUT((2, 3), 1.5, 0, 2.25, 0, 0.5, 0.625),
      .mode = OPC_EXACT },
    /* closed form; kink at y = 0, forward only */
    { .op = "relu_grad",
      .name = "relu_grad at y = 0 is 0",
      .build = build_relu_grad,
      .in = { OPC_IN((3), 0, 0.5, 0), OPC_IN((3), 2, 3, -4) },
      OPC_OUT((3), 0, 3, 0),
      .mode = OPC_EXACT | OPC_FORWARD_ONLY },
    /* torch: torch.relu(x) */
    { .op = "relu",
      .name = "relu [2,3] away from 0",
      .build = build_relu,
      .in = { OPC_IN((2, 3), -1.49, -0.71, 0.32, 1.66, -0.64, -0.14) },
      OPC_OUT((2, 3), 0, 0, 0.32, 1.66, 0, 0) },
    /* closed form; kink at 0, forward only */
    { .op = "relu",
      .name = "relu at 0 is 0",
      .build = build_relu,
      .in = { OPC_IN((3), -0.5, 0, 0.75) },
      OPC_OUT((3), 0, 0, 0.75),
      .mode = OPC_FORWARD_ONLY },
    /* closed form (torch.sign agrees); forward only at 0, see the mode */
    { .op = "sign",
      .name = "sign of -, 0, +",
      .build = build_sign,
      .in = { OPC_IN((2, 3), -1.5, 0, 2, 0.25, -0.75, 3) },
      OPC_OUT((2, 3), -1, 0, 1, 1, -1, 1),
      .mode = OPC_FORWARD_ONLY },
    /* closed form (torch.sign agrees) */
    { .op = "sign",
      .name = "sign [2,3] away from 0",
      .build = build_sign,
      .in = { OPC_IN((2, 3), 1.26, -0.58, -1.45, -0.47, 0.18, 0.53) },
      OPC_OUT((2, 3), 1, -1, -1, -1, 1, 1) },
    /* closed form: 1 where x > 0 (torch: (x > 0).double()); forward only at 0 */
    { .op = "step",
      .name = "step of -, 0, +",
      .build = build_step,
      .in = { OPC_IN((2, 3), -1.5, 0, 2, 0.25, -0.75, 3) },
      OPC_OUT((2, 3), 0, 0, 1, 1, 0, 1),
      .mode = OPC_FORWARD_ONLY },
    /* closed form: 1 where x > 0 (torch: (x > 0).double()) */
    { .op = "step",
      .name = "step [2,3] away from 0",
      .build = build_step,
      .in = { OPC_IN((2, 3), 1.51, -1.99, 1.09, -1.77, 1.76, -1.1) },
      OPC_OUT((2, 3), 1, 0, 1, 0, 1, 0) },
    /* torch: torch.pow(x, 0) */
    { .op = "pow",
      .name = "pow p = 0",
      .build = build_pow,
      .in = { OPC_IN((2, 3), 1, -0.74, -1.81, 0.13, 1.45, 0.66) },
      .p = 0,
      OPC_OUT((2, 3), 1, 1, 1, 1, 1, 1) },
    /* torch: torch.pow(x, 1) */
    { .op = "pow",
      .name = "pow p = 1",
      .build = build_pow,
      .in = { OPC_IN((2, 3), -1.4, 1.19, -1.35, 1.89, -0.37, -0.28) },
      .p = 1,
      OPC_OUT((2, 3), -1.4, 1.19, -1.35, 1.89, -0.37, -0.28) },
    /* torch: torch.pow(x, 2) */
    { .op = "pow",
      .name = "pow p = 2",
      .build = build_pow,
      .in = { OPC_IN((2, 3), 0.47, 0.64, 1.63, 1.34, -1.31, 1.76) },
      .p = 2,
      OPC_OUT((2, 3), 0.22089999999999999, 0.4096, 2.6569, 1.7956000000000003, 1.7161000000000002,
              3.0976) },
    /* torch: torch.pow(x, 3) */
    { .op = "pow",
      .name = "pow p = 3",
      .build = build_pow,
      .in = { OPC_IN((2, 3), 0.46, -0.44, 1.23, 1.62, -0.68, -1.7) },
      .p = 3,
      OPC_OUT((2, 3), 0.097336, -0.085184, 1.8608669999999998, 4.251528000000001,
              -0.3144320000000001, -4.912999999999999) },
    /* torch: torch.pow(x, -1.5) */
    { .op = "pow",
      .name = "pow p = -1.5",
      .build = build_pow,
      .in = { OPC_IN((2, 3), 2.39, 1.34, 1.04, 1.49, 1.48, 2.16) },
      .p = -1.5,
      OPC_OUT((2, 3), 0.2706469570515275, 0.6446779295383284, 0.9428660343181924, 0.549820080885262,
              0.5554019841397205, 0.31500639696285726) },
    /* torch: torch.pow(x, 0.5) */
    { .op = "pow",
      .name = "pow p = 0.5",
      .build = build_pow,
      .in = { OPC_IN((2, 3), 2.36, 3.63, 3.17, 4.31, 2.09, 2.75) },
      .p = 0.5,
      OPC_OUT((2, 3), 1.5362291495737217, 1.905255888325765, 1.7804493814764855, 2.0760539492026693,
              1.445683229480096, 1.6583123951777) },
    /* torch: torch.sum(x) */
    { .op = "sum",
      .name = "sum of all [2,3,4]",
      .build = build_sum,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      OPC_OUT0(-6.239999999999998) },
    /* torch: torch.sum(x) */
    { .op = "sum",
      .name = "sum of a scalar",
      .build = build_sum,
      .in = { OPC_IN0(1.75) },
      OPC_OUT0(1.75) },
    /* torch: torch.mean(x) */
    { .op = "mean",
      .name = "mean of all [2,3,4]",
      .build = build_mean,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      OPC_OUT0(-0.25999999999999995) },
    /* torch: torch.mean(x) */
    { .op = "mean",
      .name = "mean of all [5]",
      .build = build_mean,
      .in = { OPC_IN((5), -1.44, -0.36, 0.49, -0.65, 0.22) },
      OPC_OUT0(-0.34800000000000003) },
    /* torch: torch.sum(x, dim=0, keepdim=False) */
    { .op = "sum",
      .name = "sum [2,3,4] axis 0",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      .keepdims = false,
      OPC_OUT((3, 4), -0.6199999999999999, -0.9299999999999999, 3.41, -1.9500000000000002, -4.68,
              2.9000000000000004, 1.93, -1.56, -3.15, 0.11000000000000032, -0.33999999999999997,
              -1.3600000000000003) },
    /* torch: torch.sum(x, dim=1, keepdim=False) */
    { .op = "sum",
      .name = "sum [2,3,4] axis 1",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      .keepdims = false,
      OPC_OUT((2, 4), -6.91, 4.880000000000001, 2.38, -2.7800000000000002, -1.54, -2.8, 2.62,
              -2.0900000000000003) },
    /* torch: torch.sum(x, dim=2, keepdim=False) */
    { .op = "sum",
      .name = "sum [2,3,4] axis 2",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      .keepdims = false,
      OPC_OUT((2, 3), 1.42, -1.8400000000000003, -2.01, -1.5099999999999998, 0.43000000000000005,
              -2.73) },
    /* torch: torch.sum(x, dim=-1, keepdim=False) */
    { .op = "sum",
      .name = "sum [2,3,4] axis -1",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      .keepdims = false,
      OPC_OUT((2, 3), 1.42, -1.8400000000000003, -2.01, -1.5099999999999998, 0.43000000000000005,
              -2.73) },
    /* torch: torch.sum(x, dim=-2, keepdim=False) */
    { .op = "sum",
      .name = "sum [2,3,4] axis -2",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      .keepdims = false,
      OPC_OUT((2, 4), -6.91, 4.880000000000001, 2.38, -2.7800000000000002, -1.54, -2.8, 2.62,
              -2.0900000000000003) },
    /* torch: torch.sum(x, dim=-3, keepdim=False) */
    { .op = "sum",
      .name = "sum [2,3,4] axis -3",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      .keepdims = false,
      OPC_OUT((3, 4), -0.6199999999999999, -0.9299999999999999, 3.41, -1.9500000000000002, -4.68,
              2.9000000000000004, 1.93, -1.56, -3.15, 0.11000000000000032, -0.33999999999999997,
              -1.3600000000000003) },
    /* torch: torch.sum(x, dim=0, keepdim=True) */
    { .op = "sum",
      .name = "sum [2,3,4] axis 0 keepdims",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      .keepdims = true,
      OPC_OUT((1, 3, 4), -0.6199999999999999, -0.9299999999999999, 3.41, -1.9500000000000002, -4.68,
              2.9000000000000004, 1.93, -1.56, -3.15, 0.11000000000000032, -0.33999999999999997,
              -1.3600000000000003) },
    /* torch: torch.sum(x, dim=1, keepdim=True) */
    { .op = "sum",
      .name = "sum [2,3,4] axis 1 keepdims",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      .keepdims = true,
      OPC_OUT((2, 1, 4), -6.91, 4.880000000000001, 2.38, -2.7800000000000002, -1.54, -2.8, 2.62,
              -2.0900000000000003) },
    /* torch: torch.sum(x, dim=2, keepdim=True) */
    { .op = "sum",
      .name = "sum [2,3,4] axis 2 keepdims",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 1.42, -1.8400000000000003, -2.01, -1.5099999999999998, 0.43000000000000005,
              -2.73) },
    /* torch: torch.sum(x, dim=-1, keepdim=True) */
    { .op = "sum",
      .name = "sum [2,3,4] axis -1 keepdims",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 1.42, -1.8400000000000003, -2.01, -1.5099999999999998, 0.43000000000000005,
              -2.73) },
    /* torch: torch.sum(x, dim=-2, keepdim=True) */
    { .op = "sum",
      .name = "sum [2,3,4] axis -2 keepdims",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      .keepdims = true,
      OPC_OUT((2, 1, 4), -6.91, 4.880000000000001, 2.38, -2.7800000000000002, -1.54, -2.8, 2.62,
              -2.0900000000000003) },
    /* torch: torch.sum(x, dim=-3, keepdim=True) */
    { .op = "sum",
      .name = "sum [2,3,4] axis -3 keepdims",
      .build = build_sum_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      .keepdims = true,
      OPC_OUT((1, 3, 4), -0.6199999999999999, -0.9299999999999999, 3.41, -1.9500000000000002, -4.68,
              2.9000000000000004, 1.93, -1.56, -3.15, 0.11000000000000032, -0.33999999999999997,
              -1.3600000000000003) },
    /* torch: torch.sum(x, dim=0, keepdim=False) */
    { .op = "sum",
      .name = "sum [5] axis 0 to a scalar",
      .build = build_sum_axis,
      .in = { OPC_IN((5), 1.94, -1.9, 1.57, -1.33, 1.82) },
      .axis = 0,
      OPC_OUT0(2.0999999999999996) },
    /* torch: torch.mean(x, dim=0, keepdim=False) */
    { .op = "mean",
      .name = "mean [2,3,4] axis 0",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      .keepdims = false,
      OPC_OUT((3, 4), -0.30999999999999994, -0.46499999999999997, 1.705, -0.9750000000000001, -2.34,
              1.4500000000000002, 0.965, -0.78, -1.575, 0.05500000000000016, -0.16999999999999998,
              -0.6800000000000002) },
    /* torch: torch.mean(x, dim=1, keepdim=False) */
    { .op = "mean",
      .name = "mean [2,3,4] axis 1",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      .keepdims = false,
      OPC_OUT((2, 4), -2.3033333333333332, 1.626666666666667, 0.7933333333333333,
              -0.9266666666666667, -0.5133333333333333, -0.9333333333333332, 0.8733333333333334,
              -0.6966666666666668) },
    /* torch: torch.mean(x, dim=2, keepdim=False) */
    { .op = "mean",
      .name = "mean [2,3,4] axis 2",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      .keepdims = false,
      OPC_OUT((2, 3), 0.355, -0.4600000000000001, -0.5025, -0.37749999999999995,
              0.10750000000000001, -0.6825) },
    /* torch: torch.mean(x, dim=-1, keepdim=False) */
    { .op = "mean",
      .name = "mean [2,3,4] axis -1",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      .keepdims = false,
      OPC_OUT((2, 3), 0.355, -0.4600000000000001, -0.5025, -0.37749999999999995,
              0.10750000000000001, -0.6825) },
    /* torch: torch.mean(x, dim=-2, keepdim=False) */
    { .op = "mean",
      .name = "mean [2,3,4] axis -2",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      .keepdims = false,
      OPC_OUT((2, 4), -2.3033333333333332, 1.626666666666667, 0.7933333333333333,
              -0.9266666666666667, -0.5133333333333333, -0.9333333333333332, 0.8733333333333334,
              -0.6966666666666668) },
    /* torch: torch.mean(x, dim=-3, keepdim=False) */
    { .op = "mean",
      .name = "mean [2,3,4] axis -3",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      .keepdims = false,
      OPC_OUT((3, 4), -0.30999999999999994, -0.46499999999999997, 1.705, -0.9750000000000001, -2.34,
              1.4500000000000002, 0.965, -0.78, -1.575, 0.05500000000000016, -0.16999999999999998,
              -0.6800000000000002) },
    /* torch: torch.mean(x, dim=0, keepdim=True) */
    { .op = "mean",
      .name = "mean [2,3,4] axis 0 keepdims",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      .keepdims = true,
      OPC_OUT((1, 3, 4), -0.30999999999999994, -0.46499999999999997, 1.705, -0.9750000000000001,
              -2.34, 1.4500000000000002, 0.965, -0.78, -1.575, 0.05500000000000016,
              -0.16999999999999998, -0.6800000000000002) },
    /* torch: torch.mean(x, dim=1, keepdim=True) */
    { .op = "mean",
      .name = "mean [2,3,4] axis 1 keepdims",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      .keepdims = true,
      OPC_OUT((2, 1, 4), -2.3033333333333332, 1.626666666666667, 0.7933333333333333,
              -0.9266666666666667, -0.5133333333333333, -0.9333333333333332, 0.8733333333333334,
              -0.6966666666666668) },
    /* torch: torch.mean(x, dim=2, keepdim=True) */
    { .op = "mean",
      .name = "mean [2,3,4] axis 2 keepdims",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 0.355, -0.4600000000000001, -0.5025, -0.37749999999999995,
              0.10750000000000001, -0.6825) },
    /* torch: torch.mean(x, dim=-1, keepdim=True) */
    { .op = "mean",
      .name = "mean [2,3,4] axis -1 keepdims",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 0.355, -0.4600000000000001, -0.5025, -0.37749999999999995,
              0.10750000000000001, -0.6825) },
    /* torch: torch.mean(x, dim=-2, keepdim=True) */
    { .op = "mean",
      .name = "mean [2,3,4] axis -2 keepdims",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      .keepdims = true,
      OPC_OUT((2, 1, 4), -2.3033333333333332, 1.626666666666667, 0.7933333333333333,
              -0.9266666666666667, -0.5133333333333333, -0.9333333333333332, 0.8733333333333334,
              -0.6966666666666668) },
    /* torch: torch.mean(x, dim=-3, keepdim=True) */
    { .op = "mean",
      .name = "mean [2,3,4] axis -3 keepdims",
      .build = build_mean_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      .keepdims = true,
      OPC_OUT((1, 3, 4), -0.30999999999999994, -0.46499999999999997, 1.705, -0.9750000000000001,
              -2.34, 1.4500000000000002, 0.965, -0.78, -1.575, 0.05500000000000016,
              -0.16999999999999998, -0.6800000000000002) },
    /* torch: torch.mean(x, dim=0, keepdim=False) */
    { .op = "mean",
      .name = "mean [5] axis 0 to a scalar",
      .build = build_mean_axis,
      .in = { OPC_IN((5), 0.86, 1.09, 1.56, -1.49, 0.47) },
      .axis = 0,
      OPC_OUT0(0.49800000000000005) },
    /* torch: torch.amax(x, dim=0, keepdim=False) */
    { .op = "max",
      .name = "max [2,3,4] axis 0",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      .keepdims = false,
      OPC_OUT((3, 4), 1.31, 1.66, 2.33, 0.61, -2, 1.86, 1.23, -0.66, -0.85, 2.18, 0.6, 1.13) },
    /* torch: torch.amax(x, dim=1, keepdim=False) */
    { .op = "max",
      .name = "max [2,3,4] axis 1",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      .keepdims = false,
      OPC_OUT((2, 4), -1.93, 2.18, 1.08, 0.61, 1.31, 1.86, 2.33, 1.13) },
    /* torch: torch.amax(x, dim=2, keepdim=False) */
    { .op = "max",
      .name = "max [2,3,4] axis 2",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      .keepdims = false,
      OPC_OUT((2, 3), 1.66, 1.04, 2.18, 2.33, 1.86, 1.13) },
    /* torch: torch.amax(x, dim=-1, keepdim=False) */
    { .op = "max",
      .name = "max [2,3,4] axis -1",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      .keepdims = false,
      OPC_OUT((2, 3), 1.66, 1.04, 2.18, 2.33, 1.86, 1.13) },
    /* torch: torch.amax(x, dim=-2, keepdim=False) */
    { .op = "max",
      .name = "max [2,3,4] axis -2",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      .keepdims = false,
      OPC_OUT((2, 4), -1.93, 2.18, 1.08, 0.61, 1.31, 1.86, 2.33, 1.13) },
    /* torch: torch.amax(x, dim=-3, keepdim=False) */
    { .op = "max",
      .name = "max [2,3,4] axis -3",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      .keepdims = false,
      OPC_OUT((3, 4), 1.31, 1.66, 2.33, 0.61, -2, 1.86, 1.23, -0.66, -0.85, 2.18, 0.6, 1.13) },
    /* torch: torch.amax(x, dim=0, keepdim=True) */
    { .op = "max",
      .name = "max [2,3,4] axis 0 keepdims",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      .keepdims = true,
      OPC_OUT((1, 3, 4), 1.31, 1.66, 2.33, 0.61, -2, 1.86, 1.23, -0.66, -0.85, 2.18, 0.6, 1.13) },
    /* torch: torch.amax(x, dim=1, keepdim=True) */
    { .op = "max",
      .name = "max [2,3,4] axis 1 keepdims",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      .keepdims = true,
      OPC_OUT((2, 1, 4), -1.93, 2.18, 1.08, 0.61, 1.31, 1.86, 2.33, 1.13) },
    /* torch: torch.amax(x, dim=2, keepdim=True) */
    { .op = "max",
      .name = "max [2,3,4] axis 2 keepdims",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 1.66, 1.04, 2.18, 2.33, 1.86, 1.13) },
    /* torch: torch.amax(x, dim=-1, keepdim=True) */
    { .op = "max",
      .name = "max [2,3,4] axis -1 keepdims",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 1.66, 1.04, 2.18, 2.33, 1.86, 1.13) },
    /* torch: torch.amax(x, dim=-2, keepdim=True) */
    { .op = "max",
      .name = "max [2,3,4] axis -2 keepdims",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      .keepdims = true,
      OPC_OUT((2, 1, 4), -1.93, 2.18, 1.08, 0.61, 1.31, 1.86, 2.33, 1.13) },
    /* torch: torch.amax(x, dim=-3, keepdim=True) */
    { .op = "max",
      .name = "max [2,3,4] axis -3 keepdims",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      .keepdims = true,
      OPC_OUT((1, 3, 4), 1.31, 1.66, 2.33, 0.61, -2, 1.86, 1.23, -0.66, -0.85, 2.18, 0.6, 1.13) },
    /* torch: torch.amax(x, dim=0, keepdim=False) */
    { .op = "max",
      .name = "max [5] axis 0 to a scalar",
      .build = build_max_axis,
      .in = { OPC_IN((5), -0.68, 0.53, -1.47, -1.86, 1.38) },
      .axis = 0,
      OPC_OUT0(1.38) },
    /* torch: torch.amax(x, dim=1); a tie is a kink: forward only */
    { .op = "max",
      .name = "max ties: value of the tie",
      .build = build_max_axis,
      .in = { OPC_IN((2, 3), 1.5, -2, 1.5, 0.5, 0.5, 0.25) },
      .axis = 1,
      OPC_OUT((2), 1.5, 0.5),
      .mode = OPC_FORWARD_ONLY },
    /* torch: F.one_hot(torch.argmax(x, dim=0), x.shape[0]).movedim(-1, 0) */
    { .op = "argmax_mask",
      .name = "argmax_mask [2,3,4] axis 0",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      OPC_OUT((2, 3, 4), 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1) },
    /* torch: F.one_hot(torch.argmax(x, dim=1), x.shape[1]).movedim(-1, 1) */
    { .op = "argmax_mask",
      .name = "argmax_mask [2,3,4] axis 1",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      OPC_OUT((2, 3, 4), 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1) },
    /* torch: F.one_hot(torch.argmax(x, dim=2), x.shape[2]).movedim(-1, 2) */
    { .op = "argmax_mask",
      .name = "argmax_mask [2,3,4] axis 2",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      OPC_OUT((2, 3, 4), 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1) },
    /* torch: F.one_hot(torch.argmax(x, dim=-1), x.shape[-1]).movedim(-1, -1) */
    { .op = "argmax_mask",
      .name = "argmax_mask [2,3,4] axis -1",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      OPC_OUT((2, 3, 4), 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1) },
    /* torch: F.one_hot(torch.argmax(x, dim=-2), x.shape[-2]).movedim(-1, -2) */
    { .op = "argmax_mask",
      .name = "argmax_mask [2,3,4] axis -2",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      OPC_OUT((2, 3, 4), 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1) },
    /* torch: F.one_hot(torch.argmax(x, dim=-3), x.shape[-3]).movedim(-1, -3) */
    { .op = "argmax_mask",
      .name = "argmax_mask [2,3,4] axis -3",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      OPC_OUT((2, 3, 4), 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1) },
    /* torch: F.one_hot(torch.argmax(x, dim=1), x.shape[1]).movedim(-1, 1);
       argmax returns the first maximum; a tie: forward only */
    { .op = "argmax_mask",
      .name = "argmax_mask ties: first maximum",
      .build = build_argmax_mask,
      .in = { OPC_IN((2, 3), 1.5, -2, 1.5, 0.5, 0.5, 0.25) },
      .axis = 1,
      OPC_OUT((2, 3), 1, 0, 0, 1, 0, 0),
      .mode = OPC_FORWARD_ONLY },
    /* torch: torch.softmax(x, dim=0) */
    { .op = "softmax",
      .name = "softmax [2,3,4] axis 0",
      .build = build_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      OPC_OUT((2, 3, 4), 0.037687890508605916, 0.9859363729567544, 0.22270013882530884,
              0.9596895845772907, 0.33626130259564735, 0.3057636598919695, 0.37051688803260513,
              0.4402863507328071, 0.190001566015313, 0.9859363729567544, 0.8234647252208833,
              0.026084075146382935, 0.9623121094913941, 0.014063627043245474, 0.7772998611746911,
              0.04031041542270922, 0.6637386974043528, 0.6942363401080306, 0.6294831119673949,
              0.5597136492671929, 0.8099984339846871, 0.014063627043245474, 0.1765352747791167,
              0.973915924853617) },
    /* torch: torch.softmax(x, dim=1) */
    { .op = "softmax",
      .name = "softmax [2,3,4] axis 1",
      .build = build_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      OPC_OUT((2, 3, 4), 0.4622992888053294, 0.3105616983284213, 0.4342832205634512,
              0.7899148847131158, 0.21837472138759614, 0.16706493814572956, 0.29698953521180205,
              0.1745000797717592, 0.3193259898070744, 0.5223733635258492, 0.2687272442247467,
              0.035585035515125034, 0.8681751596523125, 0.011323877758896886, 0.7294597745906142,
              0.020950858308039878, 0.031702434978545156, 0.9696290467488283, 0.24281606568213457,
              0.14007522712270426, 0.10012240536914219, 0.01904707549227483, 0.02772415972725127,
              0.838973914569256) },
    /* torch: torch.softmax(x, dim=2) */
    { .op = "softmax",
      .name = "softmax [2,3,4] axis 2",
      .build = build_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      OPC_OUT((2, 3, 4), 0.014244781535089708, 0.5161464956985105, 0.28898957985005236,
              0.18061914291634742, 0.012892409218100035, 0.5319974549851667, 0.378660000243679,
              0.07645013555305417, 0.00923908920010666, 0.8152080113925579, 0.16791255020398987,
              0.007640349203345678, 0.2621716433169042, 0.00530685518762179, 0.7270530285063543,
              0.005468472989119611, 0.01289257041388183, 0.6119503847425867, 0.3259197575369179,
              0.0492372873066136, 0.10579878554713612, 0.031234993117438985, 0.09669280947535061,
              0.7662734118600744) },
    /* torch: torch.softmax(x, dim=-1) */
    { .op = "softmax",
      .name = "softmax [2,3,4] axis -1",
      .build = build_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      OPC_OUT((2, 3, 4), 0.014244781535089708, 0.5161464956985105, 0.28898957985005236,
              0.18061914291634742, 0.012892409218100035, 0.5319974549851667, 0.378660000243679,
              0.07645013555305417, 0.00923908920010666, 0.8152080113925579, 0.16791255020398987,
              0.007640349203345678, 0.2621716433169042, 0.00530685518762179, 0.7270530285063543,
              0.005468472989119611, 0.01289257041388183, 0.6119503847425867, 0.3259197575369179,
              0.0492372873066136, 0.10579878554713612, 0.031234993117438985, 0.09669280947535061,
              0.7662734118600744) },
    /* torch: torch.softmax(x, dim=-2) */
    { .op = "softmax",
      .name = "softmax [2,3,4] axis -2",
      .build = build_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      OPC_OUT((2, 3, 4), 0.4622992888053294, 0.3105616983284213, 0.4342832205634512,
              0.7899148847131158, 0.21837472138759614, 0.16706493814572956, 0.29698953521180205,
              0.1745000797717592, 0.3193259898070744, 0.5223733635258492, 0.2687272442247467,
              0.035585035515125034, 0.8681751596523125, 0.011323877758896886, 0.7294597745906142,
              0.020950858308039878, 0.031702434978545156, 0.9696290467488283, 0.24281606568213457,
              0.14007522712270426, 0.10012240536914219, 0.01904707549227483, 0.02772415972725127,
              0.838973914569256) },
    /* torch: torch.softmax(x, dim=-3) */
    { .op = "softmax",
      .name = "softmax [2,3,4] axis -3",
      .build = build_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      OPC_OUT((2, 3, 4), 0.037687890508605916, 0.9859363729567544, 0.22270013882530884,
              0.9596895845772907, 0.33626130259564735, 0.3057636598919695, 0.37051688803260513,
              0.4402863507328071, 0.190001566015313, 0.9859363729567544, 0.8234647252208833,
              0.026084075146382935, 0.9623121094913941, 0.014063627043245474, 0.7772998611746911,
              0.04031041542270922, 0.6637386974043528, 0.6942363401080306, 0.6294831119673949,
              0.5597136492671929, 0.8099984339846871, 0.014063627043245474, 0.1765352747791167,
              0.973915924853617) },
    /* torch: torch.softmax(x, dim=0) */
    { .op = "softmax",
      .name = "softmax [5] axis 0",
      .build = build_softmax,
      .in = { OPC_IN((5), -0.4, 1.24, 1.04, 0.17, 1.69) },
      .axis = 0,
      OPC_OUT((5), 0.04943386473223505, 0.25483995233955137, 0.20864530609331788,
              0.08741227423104336, 0.39966860260385223) },
    /* torch: torch.log_softmax(x, dim=0) */
    { .op = "log_softmax",
      .name = "log_softmax [2,3,4] axis 0",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 0,
      OPC_OUT((2, 3, 4), -3.278416442794361, -0.014163456931505055, -1.501929081345373,
              -0.04114539620759946, -1.0898667349636622, -1.1849428287424453, -0.9928562535503843,
              -0.8203299666264258, -1.6607229646697594, -0.014163456931505055, -0.19423456547207915,
              -3.646430298517479, -0.038416442794361086, -4.264163456931505, -0.25192908134537295,
              -3.2111453962075993, -0.4098667349636621, -0.3649428287424453, -0.4628562535503843,
              -0.5803299666264258, -0.21072296466975976, -4.264163456931505, -1.7342345654720792,
              -0.026430298517478842) },
    /* torch: torch.log_softmax(x, dim=1) */
    { .op = "log_softmax",
      .name = "log_softmax [2,3,4] axis 1",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 1,
      OPC_OUT((2, 3, 4), -0.7715427863725942, -1.1693726909763726, -0.8340583757773011,
              -0.23583008019500795, -1.5215427863725943, -1.7893726909763725, -1.2140583757773014,
              -1.745830080195008, -1.141542786372594, -0.6493726909763724, -1.3140583757773012,
              -3.335830080195008, -0.14136178784556788, -4.480841706660328, -0.3154510536080049,
              -3.8655756640956995, -3.451361787845568, -0.03084170666032789, -1.415451053608005,
              -1.9655756640956994, -2.301361787845568, -3.9608417066603274, -3.585451053608005,
              -0.17557566409569944) },
    /* torch: torch.log_softmax(x, dim=2) */
    { .op = "log_softmax",
      .name = "log_softmax [2,3,4] axis 2",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = 2,
      OPC_OUT((2, 3, 4), -4.251364647401906, -0.6613646474019058, -1.2413646474019058,
              -1.7113646474019055, -4.351116573514404, -0.6311165735144039, -0.971116573514404,
              -2.571116573514404, -4.684311969604054, -0.20431196960405362, -1.7843119696040537,
              -4.8743119696040536, -1.338755862559405, -5.238755862559405, -0.3187558625594049,
              -5.208755862559405, -4.351104070438264, -0.49110407043826415, -1.1211040704382642,
              -3.011104070438264, -2.246216238384348, -3.4662162383843476, -2.3362162383843477,
              -0.2662162383843478) },
    /* torch: torch.log_softmax(x, dim=-1) */
    { .op = "log_softmax",
      .name = "log_softmax [2,3,4] axis -1",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -1,
      OPC_OUT((2, 3, 4), -4.251364647401906, -0.6613646474019058, -1.2413646474019058,
              -1.7113646474019055, -4.351116573514404, -0.6311165735144039, -0.971116573514404,
              -2.571116573514404, -4.684311969604054, -0.20431196960405362, -1.7843119696040537,
              -4.8743119696040536, -1.338755862559405, -5.238755862559405, -0.3187558625594049,
              -5.208755862559405, -4.351104070438264, -0.49110407043826415, -1.1211040704382642,
              -3.011104070438264, -2.246216238384348, -3.4662162383843476, -2.3362162383843477,
              -0.2662162383843478) },
    /* torch: torch.log_softmax(x, dim=-2) */
    { .op = "log_softmax",
      .name = "log_softmax [2,3,4] axis -2",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -2,
      OPC_OUT((2, 3, 4), -0.7715427863725942, -1.1693726909763726, -0.8340583757773011,
              -0.23583008019500795, -1.5215427863725943, -1.7893726909763725, -1.2140583757773014,
              -1.745830080195008, -1.141542786372594, -0.6493726909763724, -1.3140583757773012,
              -3.335830080195008, -0.14136178784556788, -4.480841706660328, -0.3154510536080049,
              -3.8655756640956995, -3.451361787845568, -0.03084170666032789, -1.415451053608005,
              -1.9655756640956994, -2.301361787845568, -3.9608417066603274, -3.585451053608005,
              -0.17557566409569944) },
    /* torch: torch.log_softmax(x, dim=-3) */
    { .op = "log_softmax",
      .name = "log_softmax [2,3,4] axis -3",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .axis = -3,
      OPC_OUT((2, 3, 4), -3.278416442794361, -0.014163456931505055, -1.501929081345373,
              -0.04114539620759946, -1.0898667349636622, -1.1849428287424453, -0.9928562535503843,
              -0.8203299666264258, -1.6607229646697594, -0.014163456931505055, -0.19423456547207915,
              -3.646430298517479, -0.038416442794361086, -4.264163456931505, -0.25192908134537295,
              -3.2111453962075993, -0.4098667349636621, -0.3649428287424453, -0.4628562535503843,
              -0.5803299666264258, -0.21072296466975976, -4.264163456931505, -1.7342345654720792,
              -0.026430298517478842) },
    /* torch: torch.log_softmax(x, dim=0) */
    { .op = "log_softmax",
      .name = "log_softmax [5] axis 0",
      .build = build_log_softmax,
      .in = { OPC_IN((5), 1.48, -0.9, -1.97, -1.43, -0.5) },
      .axis = 0,
      OPC_OUT((5), -0.2752358240455949, -2.6552358240455947, -3.725235824045595, -3.185235824045595,
              -2.2552358240455948) },
    /* closed form: the maximum is subtracted, e^-1000 underflows: exactly 1 and 0 (torch agrees) */
    { .op = "softmax",
      .name = "softmax at +-1000 is exactly 1 and 0",
      .build = build_softmax,
      .in = { OPC_IN((2, 3), 1000, 0, -1000, -1000, 1000, 0) },
      .axis = 1,
      OPC_OUT((2, 3), 1, 0, 0, 0, 1, 0),
      .mode = OPC_EXACT },
    /* closed form: x - max - ln(1 + 0 + 0) = x - 1000 exactly (torch agrees) */
    { .op = "log_softmax",
      .name = "log_softmax at +-1000 is exact",
      .build = build_log_softmax,
      .in = { OPC_IN((2, 3), 1000, 0, -1000, -1000, 1000, 0) },
      .axis = 1,
      OPC_OUT((2, 3), 0, -1000, -2000, -2000, 0, -1000),
      .mode = OPC_EXACT },
    /* torch: torch.matmul(a, b) */
    { .op = "matmul",
      .name = "matmul 2-D [2,3] @ [3,4] flags 0",
      .build = build_matmul,
      .in = { OPC_IN((2, 3), 1.14, 1.06, 1.98, 0.57, -1.4, -1.31),
              OPC_IN((3, 4), -0.47, -0.24, -0.69, 1.73, 1.41, -1.97, -1.14, 1.75, 0.2, 0.83, -1.45,
                     -0.29) },
      OPC_OUT((2, 4), 1.3548, -0.7184000000000003, -4.866, 3.253, -2.5039, 1.5339, 3.1022,
              -1.084) },
    /* torch: torch.matmul(a, b) */
    { .op = "matmul",
      .name = "matmul batched [2,2,3] @ [2,3,4] flags 0",
      .build = build_matmul,
      .in = { OPC_IN((2, 2, 3), 0.3, -0.41, -1.5, -1.27, 1.61, -0.88, 1.99, 1.59, -0.53, 1.04,
                     -0.78, -1.73),
              OPC_IN((2, 3, 4), -0.26, -1.64, -1.4, 1.21, -1.35, 1.07, -1.02, 1.72, -1.85, -1.89,
                     0.31, 0.52, -0.72, -0.41, -0.71, -0.79, 1.94, 1.57, -0.4, -0.89, -1.08, -1.39,
                     0.18, 0.15) },
      OPC_OUT((2, 2, 4), 3.2505, 1.9043, -0.4668, -1.1221999999999999, -0.21530000000000005, 5.4687,
              -0.1370000000000003, 0.7749000000000001, 2.2242, 2.4171, -2.1443, -3.0667,
              -0.39359999999999995, 0.7536999999999994, -0.7377999999999999, -0.3869000000000001) },
    /* torch: torch.matmul(a, b) */
    { .op = "matmul",
      .name = "matmul shared b [2,2,3] @ [3,4] flags 0",
      .build = build_matmul,
      .in = { OPC_IN((2, 2, 3), 1.1, 0.31, -1.97, -0.78, 0.11, 0.87, 0.78, -0.96, 1.19, 1.67, 1.06,
                     -0.93),
              OPC_IN((3, 4), 2, -1.57, -1.62, 1.46, 0.73, -0.59, 1.93, 1.3, -0.86, -1.28, 0.58,
                     -0.47) },
      OPC_OUT((2, 2, 4), 4.120500000000001, 0.6116999999999997, -2.3263000000000003, 2.9349,
              -2.2279, 0.046100000000000155, 1.9805, -1.4047, -0.16419999999999987, -2.1814,
              -2.4262, -0.6684999999999999, 4.9136, -2.0569, -1.199, 4.253299999999999) },
    /* torch: torch.matmul(a, b) */
    { .op = "matmul",
      .name = "matmul shared a [2,3] @ [2,3,4] flags 0",
      .build = build_matmul,
      .in = { OPC_IN((2, 3), -0.12, 0.6, -1.38, -1.46, -1.73, 1.05),
              OPC_IN((2, 3, 4), 0.6, 0.54, -1.81, 0.45, -1.05, -1.69, -1.47, -1.18, -1.31, -0.13,
                     -0.34, -0.75, 1.4, 1.7, 0.58, -1.16, 0.47, -0.52, 0.46, 1.25, -0.78, 1.5, 0.18,
                     1.2) },
      OPC_OUT((2, 2, 4), 1.1058, -0.8994, -0.19559999999999994, 0.273, -0.4350000000000001, 1.9988,
              4.8286999999999995, 0.5968999999999998, 1.1904, -2.586, -0.041999999999999975,
              -0.7667999999999998, -3.6761, -0.00739999999999974, -1.4535999999999998,
              0.7910999999999998) },
    /* torch: torch.matmul(a, b.mT) */
    { .op = "matmul",
      .name = "matmul 2-D [2,3] @ [4,3] flags NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3), -0.65, -0.64, -1.26, 0.51, -1.11, -1.41),
              OPC_IN((4, 3), -1.88, 1.5, 0.47, -1.06, -1.01, 1.8, -0.88, -1.48, 0.88, -1.08, 1.87,
                     -1.93) },
      .mm = NB_TRANS_B,
      OPC_OUT((2, 4), -0.3302, -0.9326, 0.4104000000000001, 1.9369999999999998, -3.2865,
              -1.9574999999999998, -0.046799999999999765, 0.09479999999999926) },
    /* torch: torch.matmul(a, b.mT) */
    { .op = "matmul",
      .name = "matmul batched [2,2,3] @ [2,4,3] flags NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 2, 3), 0.16, 1.32, -0.88, 0.13, 1.49, -0.76, -0.23, 1.89, -1.91, 0.95,
                     -0.47, -1.69),
              OPC_IN((2, 4, 3), -1.59, 0.32, 1.65, 0.51, 1.97, -1.54, -0.32, 1.55, 0.66, 1.92,
                     -0.13, -1.27, -1.18, -1.86, 0.16, 1.33, 2, 0.24, 0.42, -1.46, 0.17, -1.38,
                     -1.1, 0.9) },
      .mm = NB_TRANS_B,
      OPC_OUT((2, 2, 4), -1.2839999999999998, 4.0372, 1.4140000000000004, 1.2531999999999999,
              -0.9839, 4.172, 1.7663, 1.0211000000000001, -3.5496000000000003, 3.0157, -3.1807,
              -3.4806, -0.5172, -0.08209999999999984, 0.7978999999999999, -2.315) },
    /* torch: torch.matmul(a, b.mT) */
    { .op = "matmul",
      .name = "matmul shared b [2,2,3] @ [4,3] flags NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 2, 3), -1.2, -1.49, 1.53, 1.33, 1.04, 0.66, 0.64, 1.11, -1.5, -1.77, -1.04,
                     -0.73),
              OPC_IN((4, 3), -1.98, 0.84, 0.6, 1.74, 1.82, 1.99, -1.19, -1.01, -0.91, -0.15, -1.6,
                     -0.64) },
      .mm = NB_TRANS_B,
      OPC_OUT((2, 2, 4), 2.0423999999999998, -1.7551000000000003, 1.5406, 1.5848,
              -1.3638000000000001, 5.5203999999999995, -3.2337000000000002, -2.2859000000000003,
              -1.2348, 0.14880000000000038, -0.5177, -0.9120000000000004, 2.1929999999999996,
              -6.4253, 3.821, 2.3967) },
    /* torch: torch.matmul(a, b.mT) */
    { .op = "matmul",
      .name = "matmul shared a [2,3] @ [2,4,3] flags NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3), 1.33, -1.45, -1.24, 1.13, -0.86, 1.07),
              OPC_IN((2, 4, 3), 0.24, 1.83, -1.71, -0.24, -0.2, 1.93, 1.88, -0.18, 0.59, -1.58,
                     1.31, 0.4, -0.47, -1.21, -1.1, 1.53, -1.79, -1.98, 1.79, 1.54, 1.2, 1.16, 1.47,
                     -0.45) },
      .mm = NB_TRANS_B,
      OPC_OUT((2, 2, 4), -0.2139000000000002, -2.4223999999999997, 2.0298000000000003, -4.4969,
              -3.1323000000000003, 1.9659000000000002, 2.9104999999999994, -2.484,
              2.4934000000000003, 7.0855999999999995, -1.3403, -0.03069999999999995,
              -0.6675000000000002, 1.1496999999999997, 1.9823, -0.4349000000000003) },
    /* torch: torch.matmul(a.mT, b) */
    { .op = "matmul",
      .name = "matmul 2-D [3,2] @ [3,4] flags NB_TRANS_A",
      .build = build_matmul_ex,
      .in = { OPC_IN((3, 2), -1.06, -0.25, -0.91, -1.87, -0.84, -0.81),
              OPC_IN((3, 4), -0.11, 0.36, -1.32, -0.27, 0.47, -1.6, -0.37, -0.86, -1.2, -1.99, 1.37,
                     1.89) },
      .mm = NB_TRANS_A,
      OPC_OUT((2, 4), 0.6969, 2.746, 0.5851000000000002, -0.5187999999999999, 0.12059999999999998,
              4.5139000000000005, -0.08780000000000013, 0.14479999999999996) },
    /* torch: torch.matmul(a.mT, b) */
    { .op = "matmul",
      .name = "matmul batched [2,3,2] @ [2,3,4] flags NB_TRANS_A",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3, 2), -1.62, -0.8, 0.68, 0.36, -0.56, -0.65, 1.31, -1.97, 0.27, 0.43,
                     0.81, -1.79),
              OPC_IN((2, 3, 4), 1.9, -1.13, 0.75, -0.67, -0.61, 0.57, 1.04, -0.56, -0.78, -0.44,
                     1.09, 0.11, 1.83, 1.7, 0.37, -1.56, -0.62, 0.74, 1.78, -0.35, -1.19, -1.27,
                     1.02, -0.57) },
      .mm = NB_TRANS_A,
      OPC_OUT((2, 2, 4), -3.056, 2.4646, -1.1182, 0.6430000000000001, -1.2326000000000001, 1.3952,
              -0.9341000000000002, 0.2629, 1.2659999999999998, 1.3981, 1.7915, -2.5998, -1.7416,
              -0.7574999999999998, -1.7893000000000001, 3.9429999999999996) },
    /* torch: torch.matmul(a.mT, b) */
    { .op = "matmul",
      .name = "matmul shared b [2,3,2] @ [3,4] flags NB_TRANS_A",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3, 2), 1.45, -1.77, 0.92, 1.38, -0.32, -0.38, 1.14, -0.15, 0.27, 1.26,
                     0.17, 0.98),
              OPC_IN((3, 4), -0.52, 1.92, 1.19, -0.58, 1.29, -0.34, 1.87, -0.54, -1.24, -0.91, 0.94,
                     -1.9) },
      .mm = NB_TRANS_A,
      OPC_OUT((2, 2, 4), 0.8296000000000001, 2.7623999999999995, 3.1451, -0.7298000000000001,
              3.1718, -3.5218, 0.11709999999999998, 1.0034, -0.4552999999999999, 1.9422999999999995,
              2.0213, -1.13, 0.48819999999999997, -1.6082, 3.0989, -2.4554) },
    /* torch: torch.matmul(a.mT, b) */
    { .op = "matmul",
      .name = "matmul shared a [3,2] @ [2,3,4] flags NB_TRANS_A",
      .build = build_matmul_ex,
      .in = { OPC_IN((3, 2), 1.46, 1.62, 0.83, -0.15, 0.84, 1.26),
              OPC_IN((2, 3, 4), -1.7, 0.5, -1.6, 0.48, -0.62, 1.22, -0.34, 1.12, -0.77, -1.96,
                     -1.89, -1.59, 0.78, 0.19, 1.35, -0.66, -1.95, 1.99, 0.31, -0.91, -0.56, -1.88,
                     1.17, -0.14) },
      .mm = NB_TRANS_A,
      OPC_OUT((2, 2, 4), -3.6433999999999997, 0.09620000000000002, -4.2058, 0.29480000000000006,
              -3.6312, -1.8425999999999998, -4.9224000000000006, -1.3938000000000001,
              -0.9500999999999998, 0.3499, 3.2111, -1.8365, 0.8504999999999999, -2.3594999999999997,
              3.6147, -1.1091000000000002) },
    /* torch: torch.matmul(a.mT, b.mT) */
    { .op = "matmul",
      .name = "matmul 2-D [3,2] @ [4,3] flags NB_TRANS_A | NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((3, 2), -1.13, -1.22, -1.32, -1.55, 1.02, 1.88),
              OPC_IN((4, 3), 0.68, 0.62, 1.64, 1.71, -0.22, -1.22, -0.27, 0.88, 1.05, 1.21, 1.49,
                     1.69) },
      .mm = NB_TRANS_A | NB_TRANS_B,
      OPC_OUT((2, 4), 0.08599999999999994, -2.8863, 0.21450000000000002, -1.6102999999999998,
              1.2925999999999997, -4.038799999999999, 0.9394, -0.6085000000000002) },
    /* torch: torch.matmul(a.mT, b.mT) */
    { .op = "matmul",
      .name = "matmul batched [2,3,2] @ [2,4,3] flags NB_TRANS_A | NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3, 2), 1.64, 1.8, -1.25, -1.95, 1.72, -1.93, -0.92, -0.19, 1.16, 1.73,
                     -0.1, -0.72),
              OPC_IN((2, 4, 3), -1.73, -1.96, -0.44, -0.98, -0.7, 1.36, 1.19, 0.44, 1.35, -1.81,
                     -1.55, -1.64, 1.08, 0.43, 0.64, -0.55, -0.63, 1.94, 0.73, -0.19, -1.79, -0.71,
                     0.94, -1.02) },
      .mm = NB_TRANS_A | NB_TRANS_B,
      OPC_OUT((2, 2, 4), -1.1439999999999997, 1.607, 3.7236, -3.8516999999999997,
              1.5572000000000001, -3.0238, -1.3215000000000003, 2.9296999999999995,
              -0.5588000000000002, -0.4187999999999999, -0.7129999999999999, 1.8456,
              0.07789999999999997, -2.3822, 0.8213999999999999, 2.4955) },
    /* torch: torch.matmul(a.mT, b.mT) */
    { .op = "matmul",
      .name = "matmul shared b [2,3,2] @ [4,3] flags NB_TRANS_A | NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3, 2), -0.45, 0.39, -1.13, -1.43, -1.31, 1.3, 0.11, 1.93, -0.8, -1.19,
                     -1.26, -0.64),
              OPC_IN((4, 3), 0.78, 1.14, 1.64, -0.67, -1.33, 0.15, 1.02, -0.23, -0.19, -1.82, 0.53,
                     -1.01) },
      .mm = NB_TRANS_A | NB_TRANS_B,
      OPC_OUT((2, 2, 4), -3.7876, 1.6078999999999999, 0.049799999999999955, 1.5432000000000001,
              0.8060000000000003, 1.8356, 0.4797000000000001, -2.7807000000000004, -2.8926,
              0.8013000000000001, 0.5356000000000001, 0.6483999999999999, -0.9007999999999996,
              0.19359999999999986, 2.3638999999999997, -3.4969) },
    /* torch: torch.matmul(a.mT, b.mT) */
    { .op = "matmul",
      .name = "matmul shared a [3,2] @ [2,4,3] flags NB_TRANS_A | NB_TRANS_B",
      .build = build_matmul_ex,
      .in = { OPC_IN((3, 2), 0.96, 1.28, -1.09, 0.29, -1.88, -1.63),
              OPC_IN((2, 4, 3), 0.14, 0.74, 1.91, 1.22, 1.92, 0.53, 1.19, -0.29, -0.44, -1.38,
                     -0.47, -1.94, 0.1, 1.44, -1.92, -1.04, -1.5, 0.94, -1.48, -0.24, 0.45, 0.9,
                     -1.15, 0.65) },
      .mm = NB_TRANS_A | NB_TRANS_B,
      OPC_OUT((2, 2, 4), -4.263, -1.918, 2.2857, 2.8346999999999998, -2.7194999999999996,
              1.2545000000000002, 2.1563, 1.2595, 2.1359999999999992, -1.1305999999999996, -2.0052,
              0.8955000000000002, 3.6751999999999994, -3.2984, -2.6975, -0.24099999999999966) },
    /* torch: torch.matmul(a, b) */
    { .op = "matmul",
      .name = "matmul_ex flags 0 [2,3] @ [3,1]",
      .build = build_matmul_ex,
      .in = { OPC_IN((2, 3), -1.13, 1.07, 0.46, 0.78, 0.34, 1.97),
              OPC_IN((3, 1), 1.49, -0.59, -0.61) },
      OPC_OUT((2, 1), -2.5955999999999997, -0.24009999999999987) },
    /* torch: x.transpose(-1, -2) */
    { .op = "transpose",
      .name = "transpose [2,3]",
      .build = build_transpose,
      .in = { OPC_IN((2, 3), 0.47, -0.9, -0.86, 0.94, -1.37, 0.56) },
      OPC_OUT((3, 2), 0.47, 0.94, -0.9, -1.37, -0.86, 0.56) },
    /* torch: x.transpose(-1, -2) */
    { .op = "transpose",
      .name = "transpose [2,3,4] swaps the last two",
      .build = build_transpose,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      OPC_OUT((2, 4, 3), -1.93, -2.68, -2.3, 1.66, 1.04, 2.18, 1.08, 0.7, 0.6, 0.61, -0.9, -2.49,
              1.31, -2, -0.85, -2.59, 1.86, -2.07, 2.33, 1.23, -0.94, -2.56, -0.66, 1.13) },
    /* torch: x.transpose(-1, -2) */
    { .op = "transpose",
      .name = "transpose rank 4 [2,1,3,2]",
      .build = build_transpose,
      .in = { OPC_IN((2, 1, 3, 2), -1.68, -0.17, 0.59, 1.15, -0.6, -1.77, -0.35, -1.4, 1.24, -0.8,
                     -1.48, -1.87) },
      OPC_OUT((2, 1, 2, 3), -1.68, 0.59, -0.6, -0.17, 1.15, -1.77, -0.35, 1.24, -1.48, -1.4, -0.8,
              -1.87) },
    /* torch: x.reshape(3, 2) */
    { .op = "reshape",
      .name = "reshape [2,3] to [3,2]",
      .build = build_reshape,
      .in = { OPC_IN((2, 3), 1.7, -1.57, 0.38, -1.22, -0.22, 1.21) },
      .to = OPC_SHAPE(3, 2),
      OPC_OUT((3, 2), 1.7, -1.57, 0.38, -1.22, -0.22, 1.21) },
    /* torch: x.reshape(-1, 4) */
    { .op = "reshape",
      .name = "reshape [2,3,4] to [-1,4]",
      .build = build_reshape,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .to = OPC_SHAPE(-1, 4),
      OPC_OUT((6, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6, -2.49, 1.31,
              -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94, 1.13) },
    /* torch: x.reshape(2, -1, 3) */
    { .op = "reshape",
      .name = "reshape [6] to [2,-1,3]",
      .build = build_reshape,
      .in = { OPC_IN((6), 1.95, 1.46, 0.13, 0.82, 1.1, 0.69) },
      .to = OPC_SHAPE(2, -1, 3),
      OPC_OUT((2, 1, 3), 1.95, 1.46, 0.13, 0.82, 1.1, 0.69) },
    /* torch: x.reshape(()) */
    { .op = "reshape",
      .name = "reshape [1,1] to a scalar",
      .build = build_reshape,
      .in = { OPC_IN((1, 1), 0.625) },
      .to = OPC_SCALAR_SHAPE,
      OPC_OUT0(0.625) },
    /* torch: torch.broadcast_to(x, (2, 3)) */
    { .op = "broadcast_to",
      .name = "broadcast_to [3] to [2,3]",
      .build = build_broadcast_to,
      .in = { OPC_IN((3), -1.68, 1.57, 1.54) },
      .to = OPC_SHAPE(2, 3),
      OPC_OUT((2, 3), -1.68, 1.57, 1.54, -1.68, 1.57, 1.54) },
    /* torch: x.sum_to_size((3,)) */
    { .op = "sum_to",
      .name = "sum_to [2,3] to [3]",
      .build = build_sum_to,
      .in = { OPC_IN((2, 3), -0.47, 1.35, 0.28, 1.39, 1.09, -1.63) },
      .to = OPC_SHAPE(3),
      OPC_OUT((3), 0.9199999999999999, 2.4400000000000004, -1.3499999999999999) },
    /* torch: torch.broadcast_to(x, (2, 3)) */
    { .op = "broadcast_to",
      .name = "broadcast_to [2,1] to [2,3]",
      .build = build_broadcast_to,
      .in = { OPC_IN((2, 1), 1.34, -1.49) },
      .to = OPC_SHAPE(2, 3),
      OPC_OUT((2, 3), 1.34, 1.34, 1.34, -1.49, -1.49, -1.49) },
    /* torch: x.sum_to_size((2, 1)) */
    { .op = "sum_to",
      .name = "sum_to [2,3] to [2,1]",
      .build = build_sum_to,
      .in = { OPC_IN((2, 3), -1.66, -1.45, -0.71, 0.54, -1.04, -0.64) },
      .to = OPC_SHAPE(2, 1),
      OPC_OUT((2, 1), -3.82, -1.1400000000000001) },
    /* torch: torch.broadcast_to(x, (2, 2)) */
    { .op = "broadcast_to",
      .name = "broadcast_to [] to [2,2]",
      .build = build_broadcast_to,
      .in = { OPC_IN0(-0.32) },
      .to = OPC_SHAPE(2, 2),
      OPC_OUT((2, 2), -0.32, -0.32, -0.32, -0.32) },
    /* torch: x.sum_to_size(()) */
    { .op = "sum_to",
      .name = "sum_to [2,2] to []",
      .build = build_sum_to,
      .in = { OPC_IN((2, 2), 0.17, 1.7, 0.42, 0.81) },
      .to = OPC_SCALAR_SHAPE,
      OPC_OUT0(3.1) },
    /* torch: torch.broadcast_to(x, (4, 2, 3)) */
    { .op = "broadcast_to",
      .name = "broadcast_to [1,3] to [4,2,3]",
      .build = build_broadcast_to,
      .in = { OPC_IN((1, 3), -0.75, 0.28, -0.26) },
      .to = OPC_SHAPE(4, 2, 3),
      OPC_OUT((4, 2, 3), -0.75, 0.28, -0.26, -0.75, 0.28, -0.26, -0.75, 0.28, -0.26, -0.75, 0.28,
              -0.26, -0.75, 0.28, -0.26, -0.75, 0.28, -0.26, -0.75, 0.28, -0.26, -0.75, 0.28,
              -0.26) },
    /* torch: x.sum_to_size((1, 3)) */
    { .op = "sum_to",
      .name = "sum_to [4,2,3] to [1,3]",
      .build = build_sum_to,
      .in = { OPC_IN((4, 2, 3), 0.13, 1.71, -0.88, -0.8, 0.69, 0.43, -1.73, -1.69, -1.25, -1.54,
                     -0.58, 0.45, 1.07, -0.57, -1.06, 0.68, -0.23, 1.4, -1.29, 0.33, 1.66, 1.18,
                     -1.85, 0.31) },
      .to = OPC_SHAPE(1, 3),
      OPC_OUT((1, 3), -2.3, -2.19, 1.0599999999999998) },
    /* torch: torch.broadcast_to(x, (2, 3)) */
    { .op = "broadcast_to",
      .name = "broadcast_to [2,3] to [2,3]",
      .build = build_broadcast_to,
      .in = { OPC_IN((2, 3), 1.08, -0.75, 1.24, 0.73, 0.28, 0.97) },
      .to = OPC_SHAPE(2, 3),
      OPC_OUT((2, 3), 1.08, -0.75, 1.24, 0.73, 0.28, 0.97) },
    /* torch: x.sum_to_size((2, 3)) */
    { .op = "sum_to",
      .name = "sum_to [2,3] to [2,3]",
      .build = build_sum_to,
      .in = { OPC_IN((2, 3), -1.44, -0.41, -1.32, -1.68, -1.2, -0.82) },
      .to = OPC_SHAPE(2, 3),
      OPC_OUT((2, 3), -1.44, -0.41, -1.32, -1.68, -1.2, -0.82) },
    /* torch: F.one_hot(l, 3) */
    { .op = "one_hot",
      .name = "one_hot [4] labels, 3 classes",
      .build = build_one_hot,
      .in = { OPC_LABELS((4), 2, 0, 1, 2) },
      .classes = 3,
      OPC_OUT((4, 3), 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1) },
    /* torch: F.one_hot(l, 4) */
    { .op = "one_hot",
      .name = "one_hot [2,2] labels, 4 classes",
      .build = build_one_hot,
      .in = { OPC_LABELS((2, 2), 3, 0, 0, 1) },
      .classes = 4,
      OPC_OUT((2, 2, 4), 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0) },
    /* torch: F.one_hot(l, 5) */
    { .op = "one_hot",
      .name = "one_hot scalar label, 5 classes",
      .build = build_one_hot,
      .in = { OPC_LABELS0(4) },
      .classes = 5,
      OPC_OUT((5), 0, 0, 0, 0, 1) },
    /* torch: F.cross_entropy(z, l) */
    { .op = "cross_entropy",
      .name = "cross_entropy [4,3] i32 labels",
      .build = build_cross_entropy,
      .in = { OPC_IN((4, 3), 1.59, -0.59, 0.84, -1.11, 2.59, 2.93, 2.35, 0.9, 2.03, -2.71, 0.43,
                     -0.63),
              OPC_LABELS((4), 2, 0, 1, 1) },
      OPC_OUT0(2.06275620795794) },
    /* torch: F.cross_entropy(z, l) */
    { .op = "cross_entropy",
      .name = "cross_entropy [2,5] i32 labels",
      .build = build_cross_entropy,
      .in = { OPC_IN((2, 5), 0.25, 2.65, 1.13, -1.3, 1.83, -0.95, 2.89, 1.33, -2.94, -0.75),
              OPC_LABELS((2), 4, 0) },
      OPC_OUT0(2.731121237487539) },
    /* closed form: row 0 gives 1000 - 1000 = 0, row 1 1000 - (-1000) = 2000;
       mean 1000 (torch agrees) */
    { .op = "cross_entropy",
      .name = "cross_entropy at +-1000 is exact",
      .build = build_cross_entropy,
      .in = { OPC_IN((2, 3), 1000, -1000, 0, 0, 1000, -1000), OPC_LABELS((2), 0, 2) },
      OPC_OUT0(1000),
      .mode = OPC_EXACT },
    /* torch: F.binary_cross_entropy_with_logits(z, t) */
    { .op = "bce_logits",
      .name = "bce_logits [2,3]",
      .build = build_bce_logits,
      .in = { OPC_IN((2, 3), -1.48, -1.14, -0.76, -0.93, -0.4, -1.13),
              OPC_IN((2, 3), 1, 0, 0.25, 0.5, 1, 0) },
      OPC_OUT0(0.7544627931734409) },
    /* closed form: max(1000,0) - 1000*1 + ln(1 + e^-1000) = 0 exactly (torch agrees) */
    { .op = "bce_logits",
      .name = "bce_logits(1000, 1) is exactly 0",
      .build = build_bce_logits,
      .in = { OPC_IN0(1000), OPC_IN0(1) },
      OPC_OUT0(0),
      .mode = OPC_EXACT },
    /* closed form: terms 0, 1000, 0, 1000; mean 500 exactly (torch agrees) */
    { .op = "bce_logits",
      .name = "bce_logits at +-1000 is exact",
      .build = build_bce_logits,
      .in = { OPC_IN((4), 1000, 1000, -1000, -1000), OPC_IN((4), 1, 0, 0, 1) },
      OPC_OUT0(500),
      .mode = OPC_EXACT },
    /* torch: F.mse_loss(a, b) */
    { .op = "mse",
      .name = "mse [2,3]",
      .build = build_mse,
      .in = { OPC_IN((2, 3), 1.68, -0.3, -0.8, 0.51, -0.4, -0.12),
              OPC_IN((2, 3), 0.53, 1.24, 1.69, -1.48, -0.68, -1.21) },
      OPC_OUT0(2.5201333333333333) },
    /* torch: F.mse_loss(a, b) */
    { .op = "mse",
      .name = "mse of scalars",
      .build = build_mse,
      .in = { OPC_IN0(1.25), OPC_IN0(-0.5) },
      OPC_OUT0(3.0625) },
    /* closed form (torch.full((2, 3), 2.5)) */
    { .op = "fill",
      .name = "fill [2,3] with 2.5",
      .build = build_fill,
      .value = 2.5,
      .to = OPC_SHAPE(2, 3),
      OPC_OUT((2, 3), 2.5, 2.5, 2.5, 2.5, 2.5, 2.5) },
    /* closed form (torch.full((), -1.25)) */
    { .op = "fill",
      .name = "fill a scalar with -1.25",
      .build = build_fill,
      .value = -1.25,
      .to = OPC_SCALAR_SHAPE,
      OPC_OUT0(-1.25) },

    /* ---- rows: batch normalization ---- */
    /* torch: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b, training=True, momentum=0.1, eps=1e-5) */
    { .op = "batch_norm",
      .name = "batch_norm [4,3] training",
      .build = build_batch_norm,
      .fa = { 0.1, 1e-05 },
      .in = { OPC_IN((4, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3, -1.19, -0.26, -0.49, -1.69, 1.9,
                     1.57),
              OPC_IN((3), 1.33, 1.07, 0.84), OPC_IN((3), -1.49, 1.53, 0.35) },
      OPC_OUT((4, 3), -2.3374889967361194, 0.4443436866771447, 0.9724657264999578,
              0.7548123181839659, 2.3178453545559874, -0.3856413131363139, -1.7752523940233766,
              0.5093206231353704, -0.5648359919772109, -2.602070927424469, 2.8484903356314977,
              1.378011578613567) },
    /* torch: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b, training=True, momentum=0.1, eps=1e-5) */
    { .op = "batch_norm",
      .name = "batch_norm [2,3,4] training",
      .build = build_batch_norm,
      .fa = { 0.1, 1e-05 },
      .in = { OPC_IN((2, 3, 4), -1.49, 1.79, 1.61, 0.35, 0.22, 1.51, 0.61, -0.52, -1.82, 1.99, 0.25,
                     -1.16, -1.8, 1.31, -0.95, -1.18, -0.94, -1.1, 1.39, -0.63, 1.77, -0.34, 1.88,
                     -1.42),
              OPC_IN((3), 0.78, 0.75, 0.93), OPC_IN((3), -1.93, -1.17, -0.49) },
      OPC_OUT((2, 3, 4), -2.7430523786967203, -0.8975078789560683, -0.9987877600393967,
              -1.707746927622696, -1.0507333738330802, -0.04185502789651367, -0.7457236413406299,
              -1.6294697893315757, -1.7313866255536274, 0.6771088771118444, -0.4228339508771112,
              -1.314166932178506, -2.9174788405624525, -1.1675875618449443, -2.4392127354467346,
              -2.5686259168309875, -1.9579418089388299, -2.0830740068844507, -0.13570417635572926,
              -1.71549817541919, 0.5380356459868041, -0.7958030707124467, 0.6075722615493242,
              -1.478526205326281) },
    /* torch: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b, training=True, momentum=0.1, eps=1e-5) */
    { .op = "batch_norm",
      .name = "batch_norm [2,3,2,2] training",
      .build = build_batch_norm,
      .fa = { 0.1, 1e-05 },
      .in = { OPC_IN((2, 3, 2, 2), -0.34, 0.75, -1.21, -0.73, 1.45, 1.71, -1.09, 0.69, 1.14, 0.64,
                     -0.46, -0.32, 1.28, 1.33, -1.3, -1.74, 0.8, 1.74, 1.35, -0.35, 1.82, -0.63,
                     -1.15, -0.45),
              OPC_IN((3), 0.75, 1.18, 0.89), OPC_IN((3), 0.2, 1.33, 1.19) },
      OPC_OUT((2, 3, 2, 2), 0.1372675081994495, 0.8570403088583972, -0.4372300482898023,
              -0.12026587919228404, 2.146016407162601, 2.466264355633961, -0.9825597048268425,
              1.2099070193232397, 2.1893185370872197, 1.7207049206336582, 0.6897549644358228,
              0.8209667770428202, 1.2070215789035736, 1.2400386798512317, -0.496660829995587,
              -0.7872113183349787, 1.3453965359842, 2.5032160419960414, 2.022844119289001,
              -0.07108477456220144, 2.8266330554640637, 0.530426334841612, 0.04306817372990808,
              0.6991272367648941) },
    /* torch: F.batch_norm(x, torch.zeros(2), torch.ones(2), None, None, training=True, momentum=0.5, eps=0.1) */
    { .op = "batch_norm",
      .name = "batch_norm [3,2] training, no weight or bias, momentum 0.5, eps 0.1",
      .build = build_batch_norm_plain,
      .fa = { 0.5, 0.1 },
      .in = { OPC_IN((3, 2), 0.5, -0.04, -0.55, 0.23, 1.56, -1.21) },
      OPC_OUT((3, 2), -0.003632594897809094, 0.428309278626273, -1.1478999877076899,
              0.8137876293899187, 1.151532582605499, -1.2420969080161917) },
    /* torch: F.batch_norm(x, torch.tensor([0.2, -0.3, 0.5]), torch.tensor([0.8, 1.5, 0.6]), w, b, training=False, eps=1e-5) */
    { .op = "batch_norm",
      .name = "batch_norm [4,3] evaluation",
      .build = build_batch_norm,
      .ia = { 1 },
      .fa = { 0.1, 1e-05 },
      .in = { OPC_IN((4, 3), 1.42, -0.91, -0.23, -0.14, -1.56, 1.26, 0.96, -0.89, -1.47, -1.63,
                     0.02, -0.18),
              OPC_IN((3), 1.33, 1.07, 0.84), OPC_IN((3), -1.49, 1.53, 0.35) },
      OPC_OUT((4, 3), 0.3241106119896861, 0.9970744580439858, -0.4416311990656242,
              -1.995571809898765, 0.4292029789105279, 1.174163988068321, -0.3598983072851136,
              1.0145474266327075, -1.7863198111770955, -4.211165917984529, 1.8095674974195486,
              -0.3874098840611294) },
    /* torch: F.batch_norm(x, torch.tensor([0.2, -0.3, 0.5]), torch.tensor([0.8, 1.5, 0.6]), w, b, training=False, eps=1e-3) */
    { .op = "batch_norm",
      .name = "batch_norm [2,3,4] evaluation, eps 1e-3",
      .build = build_batch_norm,
      .ia = { 1 },
      .fa = { 0.1, 0.001 },
      .in = { OPC_IN((2, 3, 4), -1.49, 1.79, 1.61, 0.35, 0.22, 1.51, 0.61, -0.52, -1.82, 1.99, 0.25,
                     -1.16, -1.8, 1.31, -0.95, -1.18, -0.94, -1.1, 1.39, -0.63, 1.77, -0.34, 1.88,
                     -1.42),
              OPC_IN((3), 0.78, 0.75, 0.93), OPC_IN((3), -1.93, -1.17, -0.49) },
      OPC_OUT((2, 3, 4), -3.402872146369318, -0.5442800516407007, -0.7011540080587345,
              -1.7992717029849719, -0.851672424950897, -0.06197517146369948, -0.6129267436640699,
              -1.3046770509823127, -3.273131312059564, 1.2974420926589443, -0.7899063913857287,
              -2.4813784388012396, -3.6730439602003764, -0.962610602088791, -2.9322502771152164,
              -3.13270033253826, -1.5617877846758188, -1.6597347308447736, -0.13543538109041559,
              -1.372015576473469, 1.0335244682395028, -1.4976854750560489, 1.1654832804492234,
              -2.7932810858423975) },
    /* torch: torch.autograd.grad((F.batch_norm(x, rm, rv, w, b, training=True, eps=1e-5) * k).sum(), x), k[i] = ((37 i) % 17 - 8.5) / 8 */
    { .op = "mode_select",
      .name = "mode_select: d/dx batch_norm [4,3] in training",
      .build = build_batch_norm_dx,
      .ia = { 0 },
      .fa = { 0.1, 1e-05 },
      .in = { OPC_IN((4, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3, -1.19, -0.26, -0.49, -1.69, 1.9,
                     1.57),
              OPC_IN((3), 1.33, 1.07, 0.84), OPC_IN((3), -1.49, 1.53, 0.35) },
      OPC_OUT((4, 3), -0.8157156630926351, -0.05893689645828875, -0.6608142181199852,
              0.24989426761235814, 0.09306873041131233, 0.5558971707172291, -0.7535077150964465,
              0.03944980445588896, -0.3666902525141668, 1.3193291105767235, -0.0735816384089127,
              0.471607299916923) },
    /* torch: torch.autograd.grad((F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-5) * k).sum(), x), k[i] = ((37 i) % 17 - 8.5) / 8 */
    { .op = "mode_select",
      .name = "mode_select: d/dx batch_norm [4,3] in evaluation",
      .build = build_batch_norm_dx,
      .ia = { 1 },
      .fa = { 0.1, 1e-05 },
      .in = { OPC_IN((4, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3, -1.19, -0.26, -0.49, -1.69, 1.9,
                     1.57),
              OPC_IN((3), 1.33, 1.07, 0.84), OPC_IN((3), -1.49, 1.53, 0.35) },
      OPC_OUT((4, 3), -1.5799119059336406, -0.6006332952373112, -0.3388832187780926,
              0.09293599446668474, 0.38222118787828896, 0.8810963688230407, -1.394039917000271,
              -0.49142724155780004, -0.2033299312668555, 0.2788079834000542, 0.49142724155780004,
              1.0166496563342775) },

    /* closed form: train in a training run */
    { .op = "mode_select",
      .name = "mode_select [2,3] in training",
      .build = build_mode_select,
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3),
              OPC_IN((2, 3), -1.19, -0.26, -0.49, -1.69, 1.9, 1.57) },
      OPC_OUT((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3) },
    /* closed form: eval in an evaluation run */
    { .op = "mode_select",
      .name = "mode_select [2,3] in evaluation",
      .build = build_mode_select,
      .ia = { 1 },
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3),
              OPC_IN((2, 3), -1.19, -0.26, -0.49, -1.69, 1.9, 1.57) },
      OPC_OUT((2, 3), -1.19, -0.26, -0.49, -1.69, 1.9, 1.57) },

    /* -- */

    /* ---- rows: activations ---- */
    /* torch: F.leaky_relu(x, 0.2) */
    { .op = "leaky_relu",
      .name = "leaky_relu [2,3] slope 0.2",
      .build = build_leaky_relu,
      .fa = { 0.2 },
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3) },
      OPC_OUT((2, 3), -0.30600000000000005, -0.064, 1.14, 0.34, 1.41, -0.06) },
    /* torch: F.elu(x) */
    { .op = "elu",
      .name = "elu [2,3] alpha 1",
      .build = build_elu,
      .fa = { 1.0 },
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3) },
      OPC_OUT((2, 3), -0.783464332683993, -0.27385096292630906, 1.14, 0.34, 1.41,
              -0.2591817793182821) },
    /* torch: F.elu(x, alpha=0.5) */
    { .op = "elu",
      .name = "elu [2,3] alpha 0.5",
      .build = build_elu,
      .fa = { 0.5 },
      .in = { OPC_IN((2, 3), -1.19, -0.26, -0.49, -1.69, 1.9, 1.57) },
      OPC_OUT((2, 3), -0.34788936796664793, -0.11447420709821687, -0.19368680290779194,
              -0.40774023800350534, 1.9, 1.57) },
    /* torch: torch.erf(x) */
    { .op = "erf",
      .name = "erf [2,3]",
      .build = build_erf,
      .in = { OPC_IN((2, 3), 1.3, 0.28, -0.65, -1.49, 1.53, 0.35) },
      OPC_OUT((2, 3), 0.9340079449406524, 0.30788006802903406, -0.6420293273556719,
              -0.9648978648432042, 0.9695162090933357, 0.3793820535623103) },
    /* torch: F.gelu(x) */
    { .op = "gelu",
      .name = "gelu [2,3]",
      .build = build_gelu,
      .in = { OPC_IN((2, 3), -2.24, 2.69, 2.41, 0.52, 0.33, 2.27) },
      OPC_OUT((2, 3), -0.028101833616520244, 2.6803897034380446, 2.390777212771632,
              0.3632034704755776, 0.20766900625041568, 2.2436593932452786) },
    /* torch: F.gelu(x, approximate='tanh') */
    { .op = "gelu_tanh",
      .name = "gelu_tanh [2,3]",
      .build = build_gelu_tanh,
      .in = { OPC_IN((2, 3), 0.92, -0.78, -2.72, 2.98, 0.38, -1.74) },
      OPC_OUT((2, 3), 0.7553921082571833, -0.16988024823014367, -0.008405455146189898,
              2.9761244774910516, 0.24624417144356345, -0.07132507688207351) },
    /* torch: F.softplus(x) */
    { .op = "softplus",
      .name = "softplus [2,3]",
      .build = build_softplus,
      .in = { OPC_IN((2, 3), -2.7, 1.97, -1.42, -1.77, -1.41, -1.65) },
      OPC_OUT((2, 3), 0.06504356177659054, 2.100551706955269, 0.2164926968500355,
              0.1572883141507905, 0.21844716706814366, 0.17567443741493244) },
    /* torch: F.softplus(x); above the threshold 20 the result is x, and e^-800 is 0 */
    { .op = "softplus",
      .name = "softplus above the threshold is x, far below it 0",
      .build = build_softplus,
      .in = { OPC_IN((4), 25, 20.5, 1000, -800) },
      OPC_OUT((4), 25.0, 20.5, 1000.0, 0.0),
      .mode = OPC_EXACT },
    /* torch: F.softplus(x); tiny tails kept, and just below the threshold */
    { .op = "softplus",
      .name = "softplus tails and below the threshold",
      .build = build_softplus,
      .in = { OPC_IN((4), -30, -50, 19.5, 15) },
      OPC_OUT((4), 9.357622968839737e-14, 1.9287498479639178e-22, 19.500000003398267,
              15.000000305902274) },
    /* torch: F.silu(x) */
    { .op = "silu",
      .name = "silu [2,3]",
      .build = build_silu,
      .in = { OPC_IN((2, 3), 2.09, -0.95, 2.65, -0.51, 2.83, -2.12) },
      OPC_OUT((2, 3), 1.8599483195823683, -0.26494058087828004, 2.4751291248482703,
              -0.19134869802110105, 2.672299953861877, -0.22719630943143973) },
    /* torch: torch.log1p(x) */
    { .op = "log1p",
      .name = "log1p [2,3]",
      .build = build_log1p,
      .in = { OPC_IN((2, 3), -0.08, -0.17, 0.35, -0.85, -0.3, 0.2) },
      OPC_OUT((2, 3), -0.08338160893905106, -0.18632957819149346, 0.30010459245033805,
              -1.897119984885881, -0.35667494393873234, 0.18232155679395465) },
    /* torch: torch.log1p(x) */
    { .op = "log1p",
      .name = "log1p of tiny x",
      .build = build_log1p,
      .in = { OPC_IN((3), 1e-10, -1e-12, 3e-17) },
      OPC_OUT((3), 9.999999999500001e-11, -1.0000000000005e-12, 3e-17) },
    /* torch: torch.clamp(x, -0.5, 1.0) */
    { .op = "clamp",
      .name = "clamp [2,3] to [-0.5, 1]",
      .build = build_clamp,
      .fa = { -0.5, 1.0 },
      .in = { OPC_IN((2, 3), -0.34, 0.75, -1.21, -0.73, 1.45, 1.71) },
      OPC_OUT((2, 3), -0.34, 0.75, -0.5, -0.5, 1.0, 1.0) },
    /* torch: torch.clamp(x, min=0.25) */
    { .op = "clamp",
      .name = "clamp [2,3] below only",
      .build = build_clamp,
      .fa = { 0.25, INFINITY },
      .in = { OPC_IN((2, 3), -1.09, 0.69, 1.14, 0.64, -0.46, -0.32) },
      OPC_OUT((2, 3), 0.25, 0.69, 1.14, 0.64, 0.25, 0.25) },
    /* torch: torch.clamp(x, max=0.5) */
    { .op = "clamp",
      .name = "clamp [2,3] above only",
      .build = build_clamp,
      .fa = { -INFINITY, 0.5 },
      .in = { OPC_IN((2, 3), 1.28, 1.33, -1.3, -1.74, 0.8, 1.74) },
      OPC_OUT((2, 3), 0.5, 0.5, -1.3, -1.74, 0.5, 0.5) },
    /* torch: torch.clamp(x, 1.0, -1.0); lo > hi gives hi everywhere, and gradient 0 */
    { .op = "clamp",
      .name = "clamp with lo > hi is hi",
      .build = build_clamp,
      .fa = { 1.0, -1.0 },
      .in = { OPC_IN((4), 1.35, -0.35, 1.82, -0.63) },
      OPC_OUT((4), -1.0, -1.0, -1.0, -1.0) },

    /* ---- rows: comparison and selection ---- */
    /* torch: torch.maximum(a, b) */
    { .op = "maximum",
      .name = "maximum same shape [2,3]",
      .build = build_maximum,
      .in = { OPC_IN((2, 3), -1.52, 0.45, 0.8, -1.22, 0.81, 0.61),
              OPC_IN((2, 3), -1.58, -1.11, -0.62, -1.82, -1.72, 0.69) },
      OPC_OUT((2, 3), -1.52, 0.45, 0.8, -1.22, 0.81, 0.69) },
    /* torch: torch.maximum(a, b) */
    { .op = "maximum",
      .name = "maximum both broadcast [2,1] with [1,3]",
      .build = build_maximum,
      .in = { OPC_IN((2, 1), 0.39, -1.35), OPC_IN((1, 3), 1.28, -0.96, 1.07) },
      OPC_OUT((2, 3), 1.28, 0.39, 1.07, 1.28, -0.96, 1.07) },
    /* torch: torch.maximum(a, b) */
    { .op = "maximum",
      .name = "maximum rank-extending [3] with [2,3]",
      .build = build_maximum,
      .in = { OPC_IN((3), 0.3, 1.27, 1.47),
              OPC_IN((2, 3), -1.39, -1.81, -1.83, 0.73, 1.53, -0.58) },
      OPC_OUT((2, 3), 0.3, 1.27, 1.47, 0.73, 1.53, 1.47) },
    /* torch: torch.maximum(a, b); ties at 0, 3 and 4 (their gradient: test_ops_compare.c) */
    { .op = "maximum",
      .name = "maximum with ties",
      .build = build_maximum,
      .in = { OPC_IN((2, 3), 1.5, -0.5, 2, 0.25, -1, 3),
              OPC_IN((2, 3), 1.5, 0.5, -2, 0.25, -1, 2.5) },
      OPC_OUT((2, 3), 1.5, 0.5, 2, 0.25, -1, 3),
      .mode = OPC_EXACT | OPC_FORWARD_ONLY },
    /* torch: torch.minimum(a, b) */
    { .op = "minimum",
      .name = "minimum same shape [2,3]",
      .build = build_minimum,
      .in = { OPC_IN((2, 3), 0.64, 1.15, -1.51, -1.95, -0.61, -1.48),
              OPC_IN((2, 3), -0.91, -0.97, -0.32, -0.6, -1.75, 1.82) },
      OPC_OUT((2, 3), -0.91, -0.97, -1.51, -1.95, -1.75, -1.48) },
    /* torch: torch.minimum(a, b) */
    { .op = "minimum",
      .name = "minimum [2,3] with column [2,1]",
      .build = build_minimum,
      .in = { OPC_IN((2, 3), -0.93, -1.34, -1, 1.91, 1.37, -1.4), OPC_IN((2, 1), 0.67, 0.17) },
      OPC_OUT((2, 3), -0.93, -1.34, -1, 0.17, 0.17, -1.4) },
    /* torch: torch.minimum(a, b) */
    { .op = "minimum",
      .name = "minimum [2,3] with scalar",
      .build = build_minimum,
      .in = { OPC_IN((2, 3), -0.11, 1.8, 0.46, -0.58, -0.75, -0.56), OPC_IN0(0.3) },
      OPC_OUT((2, 3), -0.11, 0.3, 0.3, -0.58, -0.75, -0.56) },
    /* torch: torch.minimum(a, b); ties at 0, 3 and 4 */
    { .op = "minimum",
      .name = "minimum with ties",
      .build = build_minimum,
      .in = { OPC_IN((2, 3), 1.5, -0.5, 2, 0.25, -1, 3),
              OPC_IN((2, 3), 1.5, 0.5, -2, 0.25, -1, 2.5) },
      OPC_OUT((2, 3), 1.5, -0.5, -2, 0.25, -1, 2.5),
      .mode = OPC_EXACT | OPC_FORWARD_ONLY },
    /* torch: torch.where(c != 0, a, b) */
    { .op = "where",
      .name = "where i32 condition, same shapes [2,3]",
      .build = build_where,
      .in = { OPC_LABELS((2, 3), 1, 0, 0, 2, 0, 1),
              OPC_IN((2, 3), -1.82, 0.52, 1.4, 1.09, -1.7, 1.26),
              OPC_IN((2, 3), -0.12, -1.45, 0.73, -0.88, 1.45, 0.68) },
      OPC_OUT((2, 3), -1.82, -1.45, 0.73, 1.09, 1.45, 1.26) },
    /* torch: torch.where(c != 0, a, b) */
    { .op = "where",
      .name = "where c [2,1], a [1,3], b [3]",
      .build = build_where,
      .in = { OPC_LABELS((2, 1), 0, 3), OPC_IN((1, 3), 1.19, 0.53, 1.88),
              OPC_IN((3), -1.68, -1.9, -1.96) },
      OPC_OUT((2, 3), -1.68, -1.9, -1.96, 1.19, 0.53, 1.88) },
    /* torch: torch.where(c != 0, a, b) */
    { .op = "where",
      .name = "where c [2,3], a [2,1], scalar b",
      .build = build_where,
      .in = { OPC_LABELS((2, 3), 1, 0, 1, 0, 0, 1), OPC_IN((2, 1), 1.14, -0.63), OPC_IN0(0.75) },
      OPC_OUT((2, 3), 1.14, 0.75, 1.14, 0.75, 0.75, -0.63) },
    /* torch: torch.where(c != 0, a, b) */
    { .op = "where",
      .name = "where c [3], a [2,3], b [2,1]",
      .build = build_where,
      .in = { OPC_LABELS((3), 0, -1, 1), OPC_IN((2, 3), 0.42, -1.33, -1.71, -0.07, 0.06, 1.36),
              OPC_IN((2, 1), 0.15, -1.83) },
      OPC_OUT((2, 3), 0.15, -1.33, -1.71, -1.83, 0.06, 1.36) },
    /* torch: torch.where(c != 0, a, b) */
    { .op = "where",
      .name = "where c [2,1,3], a [4,1], b [2,4,3]",
      .build = build_where,
      .in = { OPC_LABELS((2, 1, 3), 1, 0, 1, 0, 1, 1), OPC_IN((4, 1), -0.4, 1.63, 0.73, 0.17),
              OPC_IN((2, 4, 3), 0.52, 1.41, 0.97, 0.23, -1.38, -1.27, -1.9, 1.8, -1.98, 1.03, -0.39,
                     -1.87, 1.63, 0.71, 0.38, -0.19, 0.88, 1.01, 1.68, -0.56, 0.57, -1.45, 1.62,
                     1.05) },
      OPC_OUT((2, 4, 3), -0.4, 1.41, -0.4, 1.63, -1.38, 1.63, 0.73, 1.8, 0.73, 0.17, -0.39, 0.17,
              1.63, -0.4, -0.4, -0.19, 1.63, 1.63, 1.68, 0.73, 0.73, -1.45, 0.17, 0.17) },
    /* torch: torch.where(c != 0, a, b); a float c with zeros (forward only: a
       step of c would switch the branch) */
    { .op = "where",
      .name = "where float condition with zeros",
      .build = build_where,
      .in = { OPC_IN((2, 3), 0.5, 0, -1.25, 0, 2, 0),
              OPC_IN((2, 3), 1.99, -1.92, 0.21, -1.84, 1.5, 0.55),
              OPC_IN((2, 3), -1.63, -0.93, -0.58, 1.72, 1.98, -0.8) },
      OPC_OUT((2, 3), 1.99, -0.93, 0.21, 1.72, 1.5, -0.8),
      .mode = OPC_FORWARD_ONLY },
    /* torch: torch.where(c != 0, a, b); a float c away from 0 (its gradient is 0) */
    { .op = "where",
      .name = "where float condition [3] away from 0, a [2,3], b [2,1]",
      .build = build_where,
      .in = { OPC_IN((3), 0.5, -1.25, 2), OPC_IN((2, 3), 0.8, 1.63, 0.6, 0.9, -1.78, 1.68),
              OPC_IN((2, 1), 1.6, -0.6) },
      OPC_OUT((2, 3), 0.8, 1.63, 0.6, 0.9, -1.78, 1.68) },
    /* torch: (a > b).double() */
    { .op = "greater",
      .name = "greater same shape [2,3]",
      .build = build_greater,
      .in = { OPC_IN((2, 3), -0.18, 1.68, 0.81, 0.85, -1.9, 1.13),
              OPC_IN((2, 3), 1, 1.87, -0.59, -0.28, -1.1, 0.28) },
      OPC_OUT((2, 3), 0, 0, 1, 1, 0, 1),
      .mode = OPC_EXACT },
    /* torch: (a > b).double() */
    { .op = "greater",
      .name = "greater [2,3] with row [3]",
      .build = build_greater,
      .in = { OPC_IN((2, 3), -0.86, 0.99, 0.15, -1.45, -0.87, 0.19),
              OPC_IN((3), 1.75, 0.27, -1.41) },
      OPC_OUT((2, 3), 0, 1, 1, 0, 0, 1),
      .mode = OPC_EXACT },
    /* torch: (a > b).double(); equal values give 0 */
    { .op = "greater",
      .name = "greater with ties",
      .build = build_greater,
      .in = { OPC_IN((2, 3), 1.5, -0.5, 2, 0.25, -1, 3),
              OPC_IN((2, 3), 1.5, 0.5, -2, 0.25, -1, 2.5) },
      OPC_OUT((2, 3), 0, 0, 1, 0, 0, 1),
      .mode = OPC_EXACT | OPC_FORWARD_ONLY },
    /* torch: (a < b).double() */
    { .op = "less",
      .name = "less same shape [2,3]",
      .build = build_less,
      .in = { OPC_IN((2, 3), -0.18, 1.68, 0.81, 0.85, -1.9, 1.13),
              OPC_IN((2, 3), 1, 1.87, -0.59, -0.28, -1.1, 0.28) },
      OPC_OUT((2, 3), 1, 1, 0, 0, 1, 0),
      .mode = OPC_EXACT },
    /* torch: (a < b).double() */
    { .op = "less",
      .name = "less both broadcast [2,1] with [1,3]",
      .build = build_less,
      .in = { OPC_IN((2, 1), 0.12, -1.39), OPC_IN((1, 3), 1.35, -0.5, -1.86) },
      OPC_OUT((2, 3), 1, 0, 0, 1, 1, 0),
      .mode = OPC_EXACT },
    /* torch: (a == b).double() */
    { .op = "equal",
      .name = "equal same shape with ties",
      .build = build_equal,
      .in = { OPC_IN((2, 3), 1.5, -0.5, 2, 0.25, -1, 3),
              OPC_IN((2, 3), 1.5, 0.5, -2, 0.25, -1, 2.5) },
      OPC_OUT((2, 3), 1, 0, 0, 1, 1, 0),
      .mode = OPC_EXACT | OPC_FORWARD_ONLY },
    /* torch: (a == b).double() */
    { .op = "equal",
      .name = "equal [2,3] with row [3]",
      .build = build_equal,
      .in = { OPC_IN((2, 3), 1.5, -0.5, 2, 0.25, -1, 3), OPC_IN((3), 1.5, 0.5, 3) },
      OPC_OUT((2, 3), 1, 0, 0, 0, 0, 1),
      .mode = OPC_EXACT | OPC_FORWARD_ONLY },
    /* torch: (a == b).double(); no equal pair, so the zero gradient is checked too */
    { .op = "equal",
      .name = "equal [2,3] without ties",
      .build = build_equal,
      .in = { OPC_IN((2, 3), -0.18, 1.68, 0.81, 0.85, -1.9, 1.13),
              OPC_IN((2, 3), 1, 1.87, -0.59, -0.28, -1.1, 0.28) },
      OPC_OUT((2, 3), 0, 0, 0, 0, 0, 0),
      .mode = OPC_EXACT },

    /* ---- rows: layout ---- */
    /* torch: torch.cat([x0, x1], 1) */
    { .op = "concat",
      .name = "concat [2,3] and [2,2] on axis 1",
      .build = build_concat,
      .axis = 1,
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3),
              OPC_IN((2, 2), -1.19, -0.26, -0.49, -1.69) },
      OPC_OUT((2, 5), -1.53, -0.32, 1.14, -1.19, -0.26, 0.34, 1.41, -0.3, -0.49, -1.69) },
    /* torch: torch.cat([x0, x1, x2], 0) */
    { .op = "concat",
      .name = "concat three on axis 0",
      .build = build_concat,
      .axis = 0,
      .in = { OPC_IN((1, 2), 1.9, 1.57), OPC_IN((2, 2), 1.3, 0.28, -0.65, -1.49),
              OPC_IN((3, 2), 1.53, 0.35, -1.49, 1.79, 1.61, 0.22) },
      OPC_OUT((6, 2), 1.9, 1.57, 1.3, 0.28, -0.65, -1.49, 1.53, 0.35, -1.49, 1.79, 1.61, 0.22) },
    /* torch: torch.cat([x0, x1], -1) */
    { .op = "concat",
      .name = "concat rank 3 on axis -1",
      .build = build_concat,
      .axis = -1,
      .in = { OPC_IN((2, 1, 2), 1.51, 0.61, -0.52, -1.82),
              OPC_IN((2, 1, 3), 1.99, 0.25, -1.16, -1.8, 1.31, -0.95) },
      OPC_OUT((2, 1, 5), 1.51, 0.61, 1.99, 0.25, -1.16, -0.52, -1.82, -1.8, 1.31, -0.95) },
    /* torch: torch.cat([x0], 0) */
    { .op = "concat",
      .name = "concat of one input is a copy",
      .build = build_concat,
      .axis = 0,
      .in = { OPC_IN((2, 3), -1.18, -0.94, -1.1, 1.39, -0.63, 1.77) },
      OPC_OUT((2, 3), -1.18, -0.94, -1.1, 1.39, -0.63, 1.77) },
    /* torch: torch.cat([x0, x1, x2, x3], -2) */
    { .op = "concat",
      .name = "concat four rank 4 on axis -2",
      .build = build_concat,
      .axis = -2,
      .in = { OPC_IN((2, 1, 1, 2), -0.34, 1.88, -1.42, -0.87),
              OPC_IN((2, 1, 2, 2), -0.99, -0.27, -1.93, -1.17, -0.49, -0.34, 0.75, -1.21),
              OPC_IN((2, 1, 1, 2), -0.73, 1.45, 1.71, -1.09),
              OPC_IN((2, 1, 3, 2), 0.69, 1.14, 0.64, -0.46, -0.32, 1.28, 1.33, -1.3, -1.74, 0.8,
                     1.74, 1.35) },
      OPC_OUT((2, 1, 7, 2), -0.34, 1.88, -0.99, -0.27, -1.93, -1.17, -0.73, 1.45, 0.69, 1.14, 0.64,
              -0.46, -0.32, 1.28, -1.42, -0.87, -0.49, -0.34, 0.75, -1.21, 1.71, -1.09, 1.33, -1.3,
              -1.74, 0.8, 1.74, 1.35) },
    /* torch: torch.cat([x0, x1], 0) */
    { .op = "concat",
      .name = "concat rank 1",
      .build = build_concat,
      .axis = 0,
      .in = { OPC_IN((2), -0.35, 1.82), OPC_IN((3), -0.63, -1.15, -0.45) },
      OPC_OUT((5), -0.35, 1.82, -0.63, -1.15, -0.45) },
    /* torch: x[:, 1:3] */
    { .op = "slice",
      .name = "slice [3,4] axis 1 1:3",
      .build = build_slice,
      .axis = 1,
      .ia = { 1, 3, 1 },
      .in = { OPC_IN((3, 4), -0.99, 0.71, -0.46, 0.2, 1.33, 1.19, 0.5, -0.55, 0.23, 1.56, -1.21,
                     1.42) },
      OPC_OUT((3, 2), 0.71, -0.46, 1.19, 0.5, 1.56, -1.21) },
    /* torch: x[-2:] */
    { .op = "slice",
      .name = "slice [3,4] axis 0 negative start -2:",
      .build = build_slice,
      .axis = 0,
      .ia = { -2, NB_SLICE_END, 1 },
      .in = { OPC_IN((3, 4), -0.91, -0.23, -0.14, -1.56, 1.26, 0.96, -0.89, -1.47, -1.63, -0.18,
                     0.23, 1.9) },
      OPC_OUT((2, 4), 1.26, 0.96, -0.89, -1.47, -1.63, -0.18, 0.23, 1.9) },
    /* torch: x[:, 0:7:3] */
    { .op = "slice",
      .name = "slice [2,7] axis 1 step 3",
      .build = build_slice,
      .axis = 1,
      .ia = { 0, 7, 3 },
      .in = { OPC_IN((2, 7), -1.17, 0.69, -0.55, 0.12, -0.61, 0.13, 1.59, 0.55, 1.83, 0.3, -1.54,
                     -0.12, -0.59, 0.98) },
      OPC_OUT((2, 3), -1.17, 0.12, 1.59, 0.55, -1.54, 0.98) },
    /* torch: x[1:-1:2] */
    { .op = "slice",
      .name = "slice [5,2] axis 0 1:-1:2",
      .build = build_slice,
      .axis = 0,
      .ia = { 1, -1, 2 },
      .in = { OPC_IN((5, 2), -1.95, -0.72, 0.13, 0.96, -1.22, 1.55, -1.67, -1.08, -1.4, 0.66) },
      OPC_OUT((2, 2), 0.13, 0.96, -1.67, -1.08) },
    /* torch: x[:, 0:100:2] */
    { .op = "slice",
      .name = "slice [2,3,4] axis -2 stop past the end, step 2",
      .build = build_slice,
      .axis = -2,
      .ia = { 0, 100, 2 },
      .in = { OPC_IN((2, 3, 4), 1.35, -0.82, -0.69, -1.6, 0.16, 0.91, 1.04, 0.4, -0.74, 1.88, -1.41,
                     -1.31, 1.2, 0.8, -1.12, -1.35, 0.71, -1.26, 0.24, 0.34, 0.53, 1.6, 1.55,
                     -0.52) },
      OPC_OUT((2, 2, 4), 1.35, -0.82, -0.69, -1.6, -0.74, 1.88, -1.41, -1.31, 1.2, 0.8, -1.12,
              -1.35, 0.53, 1.6, 1.55, -0.52) },
    /* torch: x[-5:-1:2] */
    { .op = "slice",
      .name = "slice [6] -5:-1:2",
      .build = build_slice,
      .axis = 0,
      .ia = { -5, -1, 2 },
      .in = { OPC_IN((6), -0.17, -0.7, -1.89, 1.93, -1.33, 0.26) },
      OPC_OUT((2), -0.7, 1.93) },
    /* torch: x[..., 1:] */
    { .op = "slice",
      .name = "slice [2,2,3,2] axis 3 1:",
      .build = build_slice,
      .axis = 3,
      .ia = { 1, NB_SLICE_END, 1 },
      .in = { OPC_IN((2, 2, 3, 2), 1.17, -0.3, 1.66, -0.43, -0.94, 0.67, -0.76, 0.47, -1.7, -0.86,
                     -0.56, -0.22, 1.92, -0.34, -0.77, 0.69, -1.13, -0.21, -0.89, -0.16, 1.09, 0.36,
                     1.7, 0.46) },
      OPC_OUT((2, 2, 3, 1), -0.3, -0.43, 0.67, 0.47, -0.86, -0.22, -0.34, 0.69, -0.21, -0.16, 0.36,
              0.46) },
    /* torch: y = torch.zeros((2, 4), dtype=torch.float64); y[:, 1::2] = dy */
    { .op = "slice_grad",
      .name = "slice_grad [2,2] into [2,4] axis 1 from 1 by 2",
      .build = build_slice_grad,
      .axis = 1,
      .ia = { 1, 2 },
      .to = OPC_SHAPE(2, 4),
      .in = { OPC_IN((2, 2), -1.38, 0.54, -1.35, 1.57) },
      OPC_OUT((2, 4), 0.0, -1.38, 0.0, 0.54, 0.0, -1.35, 0.0, 1.57) },
    /* torch: y = torch.zeros((3, 3), dtype=torch.float64); y[-1:] = dy */
    { .op = "slice_grad",
      .name = "slice_grad [1,3] into [3,3] axis 0 from -1",
      .build = build_slice_grad,
      .axis = 0,
      .ia = { -1, 1 },
      .to = OPC_SHAPE(3, 3),
      .in = { OPC_IN((1, 3), 0.35, 0.16, -1.66) },
      OPC_OUT((3, 3), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.35, 0.16, -1.66) },
    /* torch: y = torch.zeros((2, 5, 2), dtype=torch.float64); y[:, 0::3] = dy */
    { .op = "slice_grad",
      .name = "slice_grad [2,2,2] into [2,5,2] axis -2 from 0 by 3",
      .build = build_slice_grad,
      .axis = -2,
      .ia = { 0, 3 },
      .to = OPC_SHAPE(2, 5, 2),
      .in = { OPC_IN((2, 2, 2), 0.63, 0.77, -0.26, 0.91, 1.4, 0.9, 1.76, 1.55) },
      OPC_OUT((2, 5, 2), 0.63, 0.77, 0.0, 0.0, 0.0, 0.0, -0.26, 0.91, 0.0, 0.0, 1.4, 0.9, 0.0, 0.0,
              0.0, 0.0, 1.76, 1.55, 0.0, 0.0) },
    /* torch: F.pad(x, (1, 2), value=0.0) */
    { .op = "pad",
      .name = "pad [2,3] last axis (1, 2)",
      .build = build_pad,
      .ia = { 0, 0, 1, 2 },
      .n_ia = 4,
      .fa = { 0.0 },
      .in = { OPC_IN((2, 3), 1.64, 1.06, 0.09, -1.29, -1.91, -1.79) },
      OPC_OUT((2, 6), 0.0, 1.64, 1.06, 0.09, 0.0, 0.0, 0.0, -1.29, -1.91, -1.79, 0.0, 0.0) },
    /* torch: F.pad(x, (0, 1, 1, 0), value=-1.5) */
    { .op = "pad",
      .name = "pad [2,3] first axis before, last after, value -1.5",
      .build = build_pad,
      .ia = { 1, 0, 0, 1 },
      .n_ia = 4,
      .fa = { -1.5 },
      .in = { OPC_IN((2, 3), -0.12, 1.77, 0.74, -0.78, 1.66, 0.96) },
      OPC_OUT((3, 4), -1.5, -1.5, -1.5, -1.5, -0.12, 1.77, 0.74, -1.5, -0.78, 1.66, 0.96, -1.5) },
    /* torch: F.pad(x, (0, 0, 0, 0, 1, 1), value=0.25) */
    { .op = "pad",
      .name = "pad [2,2,2] axis 0 only, value 0.25",
      .build = build_pad,
      .ia = { 1, 1 },
      .n_ia = 2,
      .fa = { 0.25 },
      .in = { OPC_IN((2, 2, 2), 1.97, -1.65, 1.68, 1.55, 1.27, 1.42, 1.39, -1.79) },
      OPC_OUT((4, 2, 2), 0.25, 0.25, 0.25, 0.25, 1.97, -1.65, 1.68, 1.55, 1.27, 1.42, 1.39, -1.79,
              0.25, 0.25, 0.25, 0.25) },
    /* torch: F.pad(x, (2, 1), value=0.0) */
    { .op = "pad",
      .name = "pad [3] (2, 1)",
      .build = build_pad,
      .ia = { 2, 1 },
      .n_ia = 2,
      .fa = { 0.0 },
      .in = { OPC_IN((3), -0.83, 1.88, 1.07) },
      OPC_OUT((6), 0.0, 0.0, -0.83, 1.88, 1.07, 0.0) },
    /* torch: F.pad(x, (1, 1, 2, 1, 0, 1, 1, 0), value=0.5) */
    { .op = "pad",
      .name = "pad [1,2,1,2] every axis",
      .build = build_pad,
      .ia = { 1, 0, 0, 1, 2, 1, 1, 1 },
      .n_ia = 8,
      .fa = { 0.5 },
      .in = { OPC_IN((1, 2, 1, 2), -0.71, 1.08, -1.6, -1.91) },
      OPC_OUT((2, 3, 4, 4), 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.71, 1.08, 0.5, 0.5, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -1.6, -1.91, 0.5, 0.5, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5) },
    /* torch: F.pad(x, (), value=0.0) */
    { .op = "pad",
      .name = "pad with no pads is a copy",
      .build = build_pad,
      .n_ia = 0,
      .fa = { 0.0 },
      .in = { OPC_IN((2, 2), -1.05, -1.76, -0.07, -0.91) },
      OPC_OUT((2, 2), -1.05, -1.76, -0.07, -0.91) },
    /* torch: x.permute(1, 0) */
    { .op = "permute",
      .name = "permute [2,3] (1, 0)",
      .build = build_permute,
      .ia = { 1, 0 },
      .n_ia = 2,
      .in = { OPC_IN((2, 3), -1.93, 1.11, -0.17, -1.48, -0.07, 0.9) },
      OPC_OUT((3, 2), -1.93, -1.48, 1.11, -0.07, -0.17, 0.9) },
    /* torch: x.permute(2, 0, 1) */
    { .op = "permute",
      .name = "permute [2,3,4] (2, 0, 1) moves the last axis",
      .build = build_permute,
      .ia = { 2, 0, 1 },
      .n_ia = 3,
      .in = { OPC_IN((2, 3, 4), 0.42, -0.37, -1.54, 0.22, 1.83, 0.34, 0.57, 0.58, -1.32, 1.75, 1.98,
                     -0.85, -0.33, -1.1, -1.04, -0.69, 1.94, 1.4, 0.07, 0.37, 0.97, -0.57, -0.64,
                     1.18) },
      OPC_OUT((4, 2, 3), 0.42, 1.83, -1.32, -0.33, 1.94, 0.97, -0.37, 0.34, 1.75, -1.1, 1.4, -0.57,
              -1.54, 0.57, 1.98, -1.04, 0.07, -0.64, 0.22, 0.58, -0.85, -0.69, 0.37, 1.18) },
    /* torch: x.permute(1, 0, 2) */
    { .op = "permute",
      .name = "permute [2,3,4] (1, 0, 2) keeps the last axis",
      .build = build_permute,
      .ia = { 1, 0, 2 },
      .n_ia = 3,
      .in = { OPC_IN((2, 3, 4), -0.98, -0.87, -0.92, 1.73, -1.93, 1.35, 0.96, -1.83, 1.44, 1.49,
                     0.14, -0.3, -0.46, 1.43, 0.54, -1.31, 0.63, 1.29, -0.78, 0.97, -1.39, -0.11,
                     -1.15, -1.06) },
      OPC_OUT((3, 2, 4), -0.98, -0.87, -0.92, 1.73, -0.46, 1.43, 0.54, -1.31, -1.93, 1.35, 0.96,
              -1.83, 0.63, 1.29, -0.78, 0.97, 1.44, 1.49, 0.14, -0.3, -1.39, -0.11, -1.15, -1.06) },
    /* torch: x.permute(-1, 0, 2, 1) */
    { .op = "permute",
      .name = "permute [2,1,3,2] (-1, 0, 2, 1) negative",
      .build = build_permute,
      .ia = { -1, 0, 2, 1 },
      .n_ia = 4,
      .in = { OPC_IN((2, 1, 3, 2), -0.67, -1.26, 1.71, -0.2, 1.05, 1.88, -0.43, 0.39, -1.56, 1.86,
                     0.7, 1.64) },
      OPC_OUT((2, 2, 3, 1), -0.67, 1.71, 1.05, -0.43, -1.56, 0.7, -1.26, -0.2, 1.88, 0.39, 1.86,
              1.64) },
    /* torch: x.permute(3, 2, 1, 0) */
    { .op = "permute",
      .name = "permute [3,2,2,2] (3, 2, 1, 0)",
      .build = build_permute,
      .ia = { 3, 2, 1, 0 },
      .n_ia = 4,
      .in = { OPC_IN((3, 2, 2, 2), 1.64, 1.72, 1.76, -1.52, -0.9, -0.73, 0.48, -1.83, 1.74, -0.99,
                     1.8, -1.14, 1.24, 1.11, -1.29, 1.43, -0.48, -0.84, -0.6, -1.58, 0.06, 1.07,
                     0.07, -0.37) },
      OPC_OUT((2, 2, 2, 3), 1.64, 1.74, -0.48, -0.9, 1.24, 0.06, 1.76, 1.8, -0.6, 0.48, -1.29, 0.07,
              1.72, -0.99, -0.84, -0.73, 1.11, 1.07, -1.52, -1.14, -1.58, -1.83, 1.43, -0.37) },
    /* torch: x.permute(0) */
    { .op = "permute",
      .name = "permute [4] identity",
      .build = build_permute,
      .ia = { 0 },
      .n_ia = 1,
      .in = { OPC_IN((4), -1.57, -1.05, 0.33, -1.39) },
      OPC_OUT((4), -1.57, -1.05, 0.33, -1.39) },

    /* ---- rows: indexing ---- */
    /* torch: torch.index_select(x, 0, idx) */
    { .op = "gather",
      .name = "gather [3,4] axis 0, repeated indices",
      .build = build_gather,
      .in = { OPC_IN((3, 4), 2.32, -0.76, -1.0, -0.77, 1.97, -0.55, 1.4, 0.92, -1.91, -2.74, 0.1,
                     0.24),
              OPC_LABELS((5), 2, 0, 2, 1, 0) },
      .ia = { 0 },
      .n_ia = 1,
      OPC_OUT((5, 4), -1.91, -2.74, 0.1, 0.24, 2.32, -0.76, -1.0, -0.77, -1.91, -2.74, 0.1, 0.24,
              1.97, -0.55, 1.4, 0.92, 2.32, -0.76, -1.0, -0.77) },
    /* torch: torch.index_select(x, -1, idx) */
    { .op = "gather",
      .name = "gather [2,3,4] axis -1",
      .build = build_gather,
      .in = { OPC_IN((2, 3, 4), -1.91, 1.87, 2.01, 0.16, -2.4, -2.27, -1.92, -1.6, 1.61, 1.8, 2.48,
                     2.6, 1.41, -2.82, 1.75, 1.27, -1.23, 1.4, 2.41, 0.36, 1.6, -0.53, -2.16, 1.81),
              OPC_LABELS((3), 3, 3, 1) },
      .ia = { -1 },
      .n_ia = 1,
      OPC_OUT((2, 3, 3), 0.16, 0.16, 1.87, -1.6, -1.6, -2.27, 2.6, 2.6, 1.8, 1.27, 1.27, -2.82,
              0.36, 0.36, 1.4, 1.81, 1.81, -0.53) },
    /* torch: torch.index_select(x, 1, idx) */
    { .op = "gather",
      .name = "gather [2,3,4] axis 1",
      .build = build_gather,
      .in = { OPC_IN((2, 3, 4), 0.72, 0.05, 2.89, 0.13, 2.01, -2.64, -0.98, -1.63, 1.61, 1.52,
                     -2.07, -2.04, -0.66, 1.57, -2.9, 1.12, 1.46, -0.23, 2.52, -0.62, -2.76, 2.83,
                     -1.68, -1.58),
              OPC_LABELS((2), 2, 0) },
      .ia = { 1 },
      .n_ia = 1,
      OPC_OUT((2, 2, 4), 1.61, 1.52, -2.07, -2.04, 0.72, 0.05, 2.89, 0.13, -2.76, 2.83, -1.68,
              -1.58, -0.66, 1.57, -2.9, 1.12) },
    /* torch: torch.index_select(x, 0, idx) */
    { .op = "gather",
      .name = "gather [4] axis 0",
      .build = build_gather,
      .in = { OPC_IN((4), 2.04, -0.61, -0.07, 1.31), OPC_LABELS((3), 3, 0, 3) },
      .ia = { 0 },
      .n_ia = 1,
      OPC_OUT((3), 1.31, 2.04, 1.31) },
    /* torch: torch.zeros(4, 2).index_add(0, idx, src) */
    { .op = "scatter_add",
      .name = "scatter_add [5,2] axis 0 size 4, repeated indices",
      .build = build_scatter_add,
      .in = { OPC_IN((5, 2), 0.19, 0.31, -0.08, -1.65, 1.11, 0.52, -2.52, 1.15, -1.87, -0.59),
              OPC_LABELS((5), 1, 0, 1, 3, 1) },
      .ia = { 0, 4 },
      .n_ia = 2,
      OPC_OUT((4, 2), -0.08, -1.65, -0.5700000000000001, 0.2400000000000001, 0.0, 0.0, -2.52,
              1.15) },
    /* torch: torch.zeros(2, 3, 2).index_add(1, idx, src) */
    { .op = "scatter_add",
      .name = "scatter_add [2,3,2] axis 1 size 3",
      .build = build_scatter_add,
      .in = { OPC_IN((2, 3, 2), 0.49, 1.41, -0.98, -1.91, -1.47, -0.49, -2.21, -0.82, -2.2, -0.85,
                     -0.91, -0.1),
              OPC_LABELS((3), 2, 0, 2) },
      .ia = { 1, 3 },
      .n_ia = 2,
      OPC_OUT((2, 3, 2), -0.98, -1.91, 0.0, 0.0, -0.98, 0.9199999999999999, -2.2, -0.85, 0.0, 0.0,
              -3.12, -0.9199999999999999) },
    /* torch: torch.zeros(2, 2).index_add(-1, idx, src) */
    { .op = "scatter_add",
      .name = "scatter_add [2,3] axis -1 size 2",
      .build = build_scatter_add,
      .in = { OPC_IN((2, 3), 0.13, 0.42, -2.87, -0.92, 1.85, 0.82), OPC_LABELS((3), 0, 0, 1) },
      .ia = { -1, 2 },
      .n_ia = 2,
      OPC_OUT((2, 2), 0.55, -2.87, 0.93, 0.82) },
    /* torch: F.embedding(ids, t) */
    { .op = "embedding",
      .name = "embedding [4] ids, table [4,3], a repeated id",
      .build = build_embedding,
      .in = { OPC_LABELS((4), 1, 3, 1, 0), OPC_IN((4, 3), -2.91, 1.45, 2.8, -2.1, -1.68, 0.27,
                                                  -0.84, 1.48, 0.46, -2.6, 1.89, -0.16) },
      OPC_OUT((4, 3), -2.1, -1.68, 0.27, -2.6, 1.89, -0.16, -2.1, -1.68, 0.27, -2.91, 1.45, 2.8) },
    /* torch: F.embedding(ids, t) */
    { .op = "embedding",
      .name = "embedding [2,3] ids, table [3,2]",
      .build = build_embedding,
      .in = { OPC_LABELS((2, 3), 0, 2, 2, 1, 0, 2),
              OPC_IN((3, 2), 2.36, 2.98, 2.49, -2.67, -0.07, -0.52) },
      OPC_OUT((2, 3, 2), 2.36, 2.98, -0.07, -0.52, -0.07, -0.52, 2.49, -2.67, 2.36, 2.98, -0.07,
              -0.52) },
    /* torch: F.embedding(torch.tensor(2), t) */
    { .op = "embedding",
      .name = "embedding scalar id, table [3,2]",
      .build = build_embedding,
      .in = { OPC_LABELS0(2), OPC_IN((3, 2), -1.61, -1.8, 2.94, 0.54, 0.72, 2.65) },
      OPC_OUT((2), 0.72, 2.65) },
    /* torch: torch.argmax(x, 1) */
    { .op = "argmax",
      .name = "argmax [2,3] axis 1",
      .build = build_argmax,
      .in = { OPC_IN((2, 3), -1.91, -0.17, 2.22, 1.35, -1.58, 2.8) },
      .ia = { 1 },
      .n_ia = 1,
      OPC_OUT((2), 2, 2),
      .mode = OPC_EXACT | OPC_INT_OUT },
    /* torch: torch.argmax(x, 0, keepdim=True) */
    { .op = "argmax",
      .name = "argmax [2,3] axis 0 keepdims",
      .build = build_argmax,
      .in = { OPC_IN((2, 3), -0.48, 2.19, 1.08, -2.37, 0.63, 3.0) },
      .ia = { 0 },
      .n_ia = 1,
      .keepdims = true,
      OPC_OUT((1, 3), 0, 0, 1),
      .mode = OPC_EXACT | OPC_INT_OUT },
    /* torch: torch.argmax(x, -2) */
    { .op = "argmax",
      .name = "argmax [2,3,4] axis -2",
      .build = build_argmax,
      .in = { OPC_IN((2, 3, 4), -1.15, -2.28, 1.78, -0.81, 0.83, -2.18, -2.55, 0.48, -1.31, -1.53,
                     2.33, 2.58, -2.57, 1.93, 0.2, 1.11, 2.6, 0.47, -0.11, 1.94, 1.45, 2.28, -0.55,
                     0.76) },
      .ia = { -2 },
      .n_ia = 1,
      OPC_OUT((2, 4), 1, 2, 2, 2, 1, 2, 0, 1),
      .mode = OPC_EXACT | OPC_INT_OUT },
    /* torch: torch.argmax(x, 1) (ties: the first maximum) */
    { .op = "argmax",
      .name = "argmax [2,3] ties go to the first",
      .build = build_argmax,
      .in = { OPC_IN((2, 3), 1.5, -2.0, 1.5, 0.5, 0.5, 0.25) },
      .ia = { 1 },
      .n_ia = 1,
      OPC_OUT((2), 0, 0),
      .mode = OPC_EXACT | OPC_INT_OUT | OPC_FORWARD_ONLY },
    /* torch: F.cross_entropy(z, l, ignore_index=-1) */
    { .op = "cross_entropy",
      .name = "cross_entropy [4,3] ignore -1 (two rows ignored)",
      .build = build_cross_entropy_ignore,
      .in = { OPC_IN((4, 3), -2.3, -1.43, -2.79, 1.28, -2.81, -1.1, -1.87, 2.45, 2.91, 0.43, 2.39,
                     -1.94),
              OPC_LABELS((4), 2, -1, 1, -1) },
      .ia = { -1 },
      .n_ia = 1,
      OPC_OUT0(1.4153397751872914) },
    /* torch: F.cross_entropy(z, l, ignore_index=3) */
    { .op = "cross_entropy",
      .name = "cross_entropy [3,4] ignore the class 3",
      .build = build_cross_entropy_ignore,
      .in = { OPC_IN((3, 4), -1.39, 1.93, -0.36, 2.71, 2.06, 0.84, 2.63, -0.19, 0.27, 1.69, -1.22,
                     2.8),
              OPC_LABELS((3), 3, 0, 3) },
      .ia = { 3 },
      .n_ia = 1,
      OPC_OUT0(1.1533834020175715) },
    /* torch: F.cross_entropy(z, l, ignore_index=-100) */
    { .op = "cross_entropy",
      .name = "cross_entropy [2,5] ignore -100, no row ignored",
      .build = build_cross_entropy_ignore,
      .in = { OPC_IN((2, 5), 1.4, 2.16, -0.43, -0.64, 1.78, -0.77, -2.04, -2.86, 1.02, -1.86),
              OPC_LABELS((2), 4, 0) },
      .ia = { -100 },
      .n_ia = 1,
      OPC_OUT0(1.6262652798253971) },

    /* ---- rows: reductions over lists of axes ---- */
    /* torch: torch.sum(x, dim=(0, 2)) */
    { .op = "sum",
      .name = "sum_axes [2,3,4] axes [0, 2]",
      .build = build_sum_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3), -0.08999999999999986, -1.4100000000000001, -4.74) },
    /* torch: torch.sum(x, dim=(-1, 0), keepdim=True) */
    { .op = "sum",
      .name = "sum_axes [2,3,4] axes [-1, 0] keepdims",
      .build = build_sum_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -1, 0 },
      .n_ia = 2,
      .keepdims = true,
      OPC_OUT((1, 3, 1), -0.08999999999999986, -1.4100000000000001, -4.74) },
    /* torch: torch.sum(x, dim=(1, 2)) */
    { .op = "sum",
      .name = "sum_axes [2,3,4] axes [1, 2] (contiguous)",
      .build = build_sum_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 1, 2 },
      .n_ia = 2,
      OPC_OUT((2), -2.4299999999999997, -3.81) },
    /* torch: torch.sum(x, dim=(0, 1, 2), keepdim=True) */
    { .op = "sum",
      .name = "sum_axes [2,3,4] no axes keepdims",
      .build = build_sum_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .keepdims = true,
      OPC_OUT((1, 1, 1), -6.239999999999998) },
    /* torch: torch.sum(x, dim=(0, 2, 3), keepdim=True) */
    { .op = "sum",
      .name = "sum_axes [2,3,2,2] axes [0, 2, 3] keepdims (NCHW)",
      .build = build_sum_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      .keepdims = true,
      OPC_OUT((1, 3, 1, 1), -0.08999999999999986, -1.4100000000000001, -4.74) },
    /* torch: torch.sum(x, dim=(0, 2)) */
    { .op = "sum",
      .name = "sum_axes [2,3,2,2] axes [0, 2] (rows)",
      .build = build_sum_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3, 2), 2.79, -2.8800000000000003, -2.75, 1.3400000000000003, -3.4899999999999998,
              -1.25) },
    /* torch: torch.mean(x, dim=(0, 2, 3), keepdim=True) */
    { .op = "mean",
      .name = "mean_axes [2,3,2,2] axes [0, 2, 3] keepdims",
      .build = build_mean_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      .keepdims = true,
      OPC_OUT((1, 3, 1, 1), -0.011249999999999982, -0.17625000000000002, -0.5925) },
    /* torch: torch.mean(x, dim=(3, 1)) */
    { .op = "mean",
      .name = "mean_axes [2,3,2,2] axes [3, 1]",
      .build = build_mean_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 3, 1 },
      .n_ia = 2,
      OPC_OUT((2, 2), -0.3383333333333333, -0.06666666666666672, -0.7233333333333333,
              0.08833333333333332) },
    /* torch: torch.mean(x, dim=(-3, -1)) */
    { .op = "mean",
      .name = "mean_axes [2,3,4] axes [-3, -1]",
      .build = build_mean_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -3, -1 },
      .n_ia = 2,
      OPC_OUT((3), -0.011249999999999982, -0.17625000000000002, -0.5925) },
    /* torch: torch.mean(x, dim=(0, 1), keepdim=True) */
    { .op = "mean",
      .name = "mean_axes [2,3,4] axes [0, 1] keepdims (contiguous)",
      .build = build_mean_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 1 },
      .n_ia = 2,
      .keepdims = true,
      OPC_OUT((1, 1, 4), -1.408333333333333, 0.3466666666666667, 0.8333333333333334,
              -0.8116666666666669) },
    /* torch: torch.amax(x, dim=(0, 2)) */
    { .op = "max",
      .name = "max_axes [2,3,4] axes [0, 2]",
      .build = build_max_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3), 2.33, 1.86, 2.18) },
    /* torch: torch.amax(x, dim=(0, 2, 3), keepdim=True) */
    { .op = "max",
      .name = "max_axes [2,3,2,2] axes [0, 2, 3] keepdims",
      .build = build_max_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      .keepdims = true,
      OPC_OUT((1, 3, 1, 1), 2.33, 1.86, 2.18) },
    /* torch: torch.amax(x, dim=(-4, -2)) */
    { .op = "max",
      .name = "max_axes [2,3,2,2] axes [-4, -2] (rows)",
      .build = build_max_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -4, -2 },
      .n_ia = 2,
      OPC_OUT((3, 2), 2.33, 1.66, 1.23, 1.86, 0.6, 2.18) },
    /* torch: torch.amax(x, dim=(1, 2)) */
    { .op = "max",
      .name = "max_axes [2,3,4] axes [1, 2] (contiguous)",
      .build = build_max_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 1, 2 },
      .n_ia = 2,
      OPC_OUT((2), 2.18, 2.33) },
    /* torch: torch.amax(x) */
    { .op = "max",
      .name = "max_axes [2,3,4] no axes",
      .build = build_max_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      OPC_OUT0(2.33) },
    /* torch: torch.amin(x, dim=1) */
    { .op = "min",
      .name = "min [2,3,4] axis 1",
      .build = build_min_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 1 },
      .n_ia = 1,
      OPC_OUT((2, 4), -2.68, 1.04, 0.6, -2.49, -2, -2.59, -0.94, -2.56) },
    /* torch: torch.amin(x, dim=-1, keepdim=True) */
    { .op = "min",
      .name = "min [2,3,4] axis -1 keepdims",
      .build = build_min_axis,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -1 },
      .n_ia = 1,
      .keepdims = true,
      OPC_OUT((2, 3, 1), -1.93, -2.68, -2.49, -2.59, -2, -2.07) },
    /* torch: torch.amin(x, dim=(0, 2)) */
    { .op = "min",
      .name = "min_axes [2,3,4] axes [0, 2]",
      .build = build_min_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3), -2.59, -2.68, -2.49) },
    /* torch: torch.amin(x, dim=(0, 2, 3), keepdim=True) */
    { .op = "min",
      .name = "min_axes [2,3,2,2] axes [0, 2, 3] keepdims",
      .build = build_min_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      .keepdims = true,
      OPC_OUT((1, 3, 1, 1), -2.59, -2.68, -2.49) },
    /* torch: torch.amin(x, dim=(0, 2)) */
    { .op = "min",
      .name = "min_axes [2,3,2,2] axes [0, 2] (rows)",
      .build = build_min_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3, 2), -1.93, -2.59, -2.68, -0.9, -2.3, -2.49) },
    /* torch: torch.amin(x) */
    { .op = "min",
      .name = "min_axes [2,3,4] no axes",
      .build = build_min_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      OPC_OUT0(-2.68) },
    /* torch: torch.logsumexp(x, dim=1) */
    { .op = "logsumexp",
      .name = "logsumexp [2,3,4] axis 1",
      .build = build_logsumexp,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 1 },
      .n_ia = 1,
      OPC_OUT((2, 4), -1.1584572136274058, 2.8293726909763723, 1.914058375777301,
              0.8458300801950079, 1.451361787845568, 1.890841706660328, 2.645451053608005,
              1.3055756640956993) },
    /* torch: torch.logsumexp(x, dim=-1, keepdim=True) */
    { .op = "logsumexp",
      .name = "logsumexp [2,3,4] axis -1 keepdims",
      .build = build_logsumexp,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -1 },
      .n_ia = 1,
      .keepdims = true,
      OPC_OUT((2, 3, 1), 2.321364647401906, 1.671116573514404, 2.384311969604054,
              2.6487558625594048, 2.3511040704382644, 1.3962162383843477) },
    /* torch: torch.logsumexp(x, dim=(0, 2)) */
    { .op = "logsumexp",
      .name = "logsumexp_axes [2,3,4] axes [0, 2]",
      .build = build_logsumexp_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3), 3.19154614904192, 2.760975009720041, 2.700789164701691) },
    /* torch: torch.logsumexp(x, dim=(0, 2, 3), keepdim=True) */
    { .op = "logsumexp",
      .name = "logsumexp_axes [2,3,2,2] axes [0, 2, 3] keepdims",
      .build = build_logsumexp_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      .keepdims = true,
      OPC_OUT((1, 3, 1, 1), 3.19154614904192, 2.760975009720041, 2.700789164701691) },
    /* torch: torch.logsumexp(x, dim=(0, 2)) */
    { .op = "logsumexp",
      .name = "logsumexp_axes [2,3,2,2] axes [0, 2] (rows)",
      .build = build_logsumexp_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((3, 2), 2.837553499868871, 1.9812865349565105, 1.7296855850251966, 2.3200688357164405,
              1.0081113434550821, 2.4974162859198867) },
    /* torch: torch.logsumexp(x, dim=(0, 1, 2)) */
    { .op = "logsumexp",
      .name = "logsumexp_axes [2,3,4] no axes",
      .build = build_logsumexp_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      OPC_OUT0(4.007928360776188) },
    /* torch: torch.var(x, dim=1, correction=1) */
    { .op = "var",
      .name = "var [2,3,4] axis 1 correction 1",
      .build = build_var,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 1 },
      .n_ia = 1,
      .fa = { 1 },
      OPC_OUT((2, 4), 0.1406333333333334, 0.32573333333333343, 0.06413333333333336,
              2.4030333333333336, 2.8240333333333334, 5.919633333333333, 2.7686333333333333,
              3.4050333333333334) },
    /* torch: torch.var(x, dim=-1, correction=0, keepdim=True) */
    { .op = "var",
      .name = "var [2,3,4] axis -1 keepdims correction 0",
      .build = build_var,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -1 },
      .n_ia = 1,
      .keepdims = true,
      .fa = { 0 },
      OPC_OUT((2, 3, 1), 1.878725, 2.1794000000000002, 3.89811875, 4.95916875, 2.34046875,
              1.32616875) },
    /* torch: torch.var(x, dim=(0, 2, 3), correction=0, keepdim=True) */
    { .op = "var",
      .name = "var_axes [2,3,2,2] axes [0, 2, 3] keepdims correction 0",
      .build = build_var_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      .keepdims = true,
      .fa = { 0 },
      OPC_OUT((1, 3, 1, 1), 3.5530859375, 2.3404484375, 2.62024375) },
    /* torch: torch.var(x, dim=(0, 2), correction=1) */
    { .op = "var",
      .name = "var_axes [2,3,2,2] axes [0, 2] correction 1 (rows)",
      .build = build_var_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      .fa = { 1 },
      OPC_OUT((3, 2), 3.363425, 4.771933333333334, 3.7648916666666667, 1.7793, 1.4036916666666663,
              5.374558333333334) },
    /* torch: torch.var(x, dim=(-1, -3), correction=2) */
    { .op = "var",
      .name = "var_axes [2,3,4] axes [-1, -3] correction 2",
      .build = build_var_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { -1, -3 },
      .n_ia = 2,
      .fa = { 2 },
      OPC_OUT((3), 4.7374479166666665, 3.1205979166666666, 3.4936583333333338) },
    /* torch: torch.var(x, dim=None, correction=1) */
    { .op = "var",
      .name = "var_axes [2,3,4] no axes correction 1",
      .build = build_var_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .fa = { 1 },
      OPC_OUT0(3.0237304347826095) },
    /* torch: torch.nn.functional.one_hot(x.permute(1, 0, 2).reshape(3, 8).argmax(1), 8).reshape(3, 2, 4).permute(1, 0, 2) */
    { .op = "argmax_mask",
      .name = "argmax_mask_axes [2,3,4] axes [0, 2]",
      .build = build_argmax_mask_axes,
      .in = { OPC_IN((2, 3, 4), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((2, 3, 4), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0) },
    /* torch: torch.nn.functional.one_hot(x.permute(1, 0, 2, 3).reshape(3, 8).argmax(1), 8).reshape(3, 2, 2, 2).permute(1, 0, 2, 3) */
    { .op = "argmax_mask",
      .name = "argmax_mask_axes [2,3,2,2] axes [0, 2, 3]",
      .build = build_argmax_mask_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2, 3 },
      .n_ia = 3,
      OPC_OUT((2, 3, 2, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0,
              0) },
    /* torch: torch.nn.functional.one_hot(x.permute(1, 3, 0, 2).reshape(6, 4).argmax(1), 4).reshape(3, 2, 2, 2).permute(2, 0, 3, 1) */
    { .op = "argmax_mask",
      .name = "argmax_mask_axes [2,3,2,2] axes [0, 2] (rows)",
      .build = build_argmax_mask_axes,
      .in = { OPC_IN((2, 3, 2, 2), -1.93, 1.66, 1.08, 0.61, -2.68, 1.04, 0.7, -0.9, -2.3, 2.18, 0.6,
                     -2.49, 1.31, -2.59, 2.33, -2.56, -2, 1.86, 1.23, -0.66, -0.85, -2.07, -0.94,
                     1.13) },
      .ia = { 0, 2 },
      .n_ia = 2,
      OPC_OUT((2, 3, 2, 2), 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0,
              0) },

    /* ---- rows: regularization and normalization ---- */
    /* closed form: p = 0 keeps everything, in training too (F.dropout(x, 0.0, True)) */
    { .op = "dropout",
      .name = "dropout [2,3] p 0 in training",
      .build = build_dropout,
      .fa = { 0.0 },
      .in = { OPC_IN((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3) },
      OPC_OUT((2, 3), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3) },
    /* closed form: evaluation is the identity (F.dropout(x, 0.5, False)) */
    { .op = "dropout",
      .name = "dropout [2,3] p 0.5 in evaluation",
      .build = build_dropout_eval,
      .fa = { 0.5 },
      .in = { OPC_IN((2, 3), 0.28, -0.65, -1.49, 1.53, 0.35, 1.79) },
      OPC_OUT((2, 3), 0.28, -0.65, -1.49, 1.53, 0.35, 1.79) },
    /* torch: F.layer_norm(x, [3], w, b, 1e-5) */
    { .op = "layer_norm",
      .name = "layer_norm [2,3] with weight and bias",
      .build = build_layer_norm,
      .fa = { 1e-5 },
      .in = { OPC_IN((2, 3), 0.43, 1.08, -0.96, -1.4, 0.87, 1.46), OPC_IN((3), -0.66, -1.07, 0.71),
              OPC_IN((3), 1.61, -1.5, -1.8) },
      OPC_OUT((2, 3), 1.4186733561763807, -2.6275501206337517, -2.7540085497617954,
              2.5253923941781857, -1.9860031212046507, -1.1377477495600845) },
    /* torch: F.layer_norm(x, [3], w, b, 0.1) */
    { .op = "layer_norm",
      .name = "layer_norm [2,2,3] eps 0.1",
      .build = build_layer_norm,
      .fa = { 0.1 },
      .in = { OPC_IN((2, 2, 3), -0.57, -0.8, 0.41, -1.27, -1.88, -0.69, -1.06, -0.34, -1.16, 1.9,
                     0.49, 0.92),
              OPC_IN((3), -0.5, 1.74, 1.36), OPC_IN((3), -1.01, 0.84, 1.78) },
      OPC_OUT((2, 2, 3), -0.8059483935568665, -0.5233912136104408, 3.4006594790139437,
              -1.0186249638830394, -0.9608924587786177, 3.1641342039501565, -0.7961204116939085,
              2.688747563951623, 0.9167543842303816, -1.6050209517814964, -0.7541582252917475,
              1.4075517389685699) },
    /* torch: F.layer_norm(x, [9], w, b, 1e-5); rows of 9: eight lanes and a tail */
    { .op = "layer_norm",
      .name = "layer_norm [2,9] rows longer than the kernel's lanes",
      .build = build_layer_norm,
      .fa = { 1e-5 },
      .in = { OPC_IN((2, 9), 0.29, -0.52, -0.49, 1.34, 0.14, 1.74, 0.75, 1.27, 0.66, -0.5, -0.68,
                     1.84, 0.8, -0.38, -1.62, -0.34, 0.87, 1.52),
              OPC_IN((9), -1.53, 0.41, 0.74, -1.75, 0.64, 0.68, 0.85, 0.91, 0.81),
              OPC_IN((9), 1.9, 1.65, -0.66, 0.17, 1.8, -1.01, -0.56, 1.09, 0.9) },
      OPC_OUT((2, 9), 2.4822681541998253, 1.051368927502298, -1.7108695564951248,
              -1.6128917312799511, 1.4284951183193404, 0.04528236161075131, -0.362386294402567,
              1.9322090300377677, 0.9911584842006593, 2.8487861626061757, 1.3272168659553358,
              0.48913395897306045, -0.857431210961143, 1.4744412797565054, -2.138930993258153,
              -0.9608090925411559, 1.6834182656771004, 1.9171336829818388) },
    /* torch: F.layer_norm(x, [4], None, None, 1e-5) */
    { .op = "layer_norm_plain",
      .name = "layer_norm_plain [3,4]",
      .build = build_layer_norm_plain,
      .fa = { 1e-5 },
      .in = { OPC_IN((3, 4), -0.3, -1.82, 1.07, 1.66, 1.56, 0.97, 1.48, 1.08, -0.95, 0.5, -0.18,
                     0.49) },
      OPC_OUT((3, 4), -0.33704159926072713, -1.4692034354514574, 0.6833937399374969,
              1.122851294774688, 1.1402021522681336, -1.1996909602125576, 0.8229285098978701,
              -0.7634397019534455, -1.5356261876662005, 0.8978797927884342, -0.24335059804546347,
              0.8810969929232298) },
    /* torch: F.layer_norm(x, [10], None, None, 1e-5) */
    { .op = "layer_norm_plain",
      .name = "layer_norm_plain [2,10]",
      .build = build_layer_norm_plain,
      .fa = { 1e-5 },
      .in = { OPC_IN((2, 10), 0.47, -1.65, 1.44, -0.74, -0.24, -0.5, -1.69, -1.11, -0.03, 1.93,
                     0.77, -1.26, -0.86, -1.77, 1.53, 0.22, 1.85, -1.79, -0.22, 1.03) },
      OPC_OUT((2, 10), 0.592777740320327, -1.2498744729921265, 1.4358780454680062,
              -0.458924702183479, -0.024336916024881448, -0.25032256482735216, -1.2846414958848142,
              -0.7805196639408413, 0.1581899541617295, 1.8617740759034318, 0.6451834565898508,
              -0.952039003016731, -0.6373153656558281, -1.3533116406518821, 1.2431583675755662,
              0.21243845521860943, 1.4949372774642884, -1.3690478225199272, -0.13375754587838365,
              0.8497538208744376) },
    /* torch: F.layer_norm(x, [5], None, None, 0.01) */
    { .op = "layer_norm_plain",
      .name = "layer_norm_plain [5] eps 0.01",
      .build = build_layer_norm_plain,
      .fa = { 0.01 },
      .in = { OPC_IN((5), 1.17, 0.69, 1.24, -0.5, 1.56) },
      OPC_OUT((5), 0.4638343381685242, -0.1948653136684335, 0.559894704061414, -1.8278915338475579,
              0.9990278052860525) },
    /* torch: F.max_pool2d(x, (2, 2), (2, 2), (0, 0)) */
    { .op = "max_pool2d",
      .name = "max_pool2d [1,2,4,4] kernel 2",
      .build = build_max_pool2d,
      .ia = { 2, 2, 0, 0, 0, 0 },
      .in = { OPC_IN((1, 2, 4, 4), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3, -1.19, -0.26, -0.49, -1.69,
                     1.9, 1.57, 1.3, 0.28, -0.65, -1.49, 1.53, 0.35, 1.79, 1.61, 0.22, 1.51, 0.61,
                     -0.52, -1.82, 1.99, 0.25, -1.16, -1.8, 1.31, -0.95, -1.18) },
      OPC_OUT((1, 2, 2, 2), 1.41, 1.14, 1.3, 1.9, 1.53, 1.79, 1.99, 0.25) },
    /* torch: F.max_pool2d(x, (3, 3), (2, 2), (1, 1)) */
    { .op = "max_pool2d",
      .name = "max_pool2d [1,1,5,5] kernel 3 stride 2 padding 1, overlapping",
      .build = build_max_pool2d,
      .ia = { 3, 3, 2, 2, 1, 1 },
      .in = { OPC_IN((1, 1, 5, 5), -0.94, -1.1, 1.39, -0.63, 1.77, -0.34, 1.88, -1.42, -0.87, -0.99,
                     -0.27, -1.93, -1.17, -0.49, 0.75, -1.21, -0.73, 1.45, 1.71, -1.09, 0.69, 1.14,
                     0.64, -0.46, -0.32) },
      OPC_OUT((1, 1, 3, 3), 1.88, 1.88, 1.77, 1.88, 1.88, 1.71, 1.14, 1.71, 1.71) },
    /* torch: F.max_pool2d(x, (2, 3), (1, 2), (1, 1)) */
    { .op = "max_pool2d",
      .name = "max_pool2d [2,1,4,5] kernel [2, 3] stride [1, 2] padding 1",
      .build = build_max_pool2d,
      .ia = { 2, 3, 1, 2, 1, 1 },
      .in = { OPC_IN((2, 1, 4, 5), 1.28, 1.33, -1.3, -1.74, 0.8, 1.74, 1.35, -0.35, 1.82, -0.63,
                     -1.15, -0.45, -0.99, 0.71, -0.46, 0.2, 1.19, 0.5, -0.04, -0.55, 0.23, 1.56,
                     -1.21, 1.42, -0.91, -0.23, -0.14, -1.56, 1.26, 0.96, -0.89, -1.47, -1.63, 0.02,
                     -0.18, 1.9, -1.17, 0.69, 0.12, -0.61) },
      OPC_OUT((2, 1, 5, 3), 1.33, 1.33, 0.8, 1.74, 1.82, 1.82, 1.74, 1.82, 1.82, 1.19, 1.19, 0.71,
              1.19, 1.19, -0.04, 1.56, 1.56, 1.42, 1.56, 1.56, 1.42, -0.14, 1.26, 1.26, 1.9, 0.69,
              0.12, 1.9, 0.69, 0.12) },
    /* torch: F.max_pool1d(x, 3, 2, 1) */
    { .op = "max_pool1d",
      .name = "max_pool1d [1,2,7] kernel 3 stride 2 padding 1",
      .build = build_max_pool1d,
      .ia = { 3, 2, 1 },
      .in = { OPC_IN((1, 2, 7), 0.13, 1.59, 0.55, 1.83, 0.3, -1.54, -0.12, -0.59, 0.98, -1.95,
                     -0.72, 0.96, -1.22, 1.55) },
      OPC_OUT((1, 2, 4), 1.59, 1.83, 1.83, -0.12, 0.98, 0.98, 0.96, 1.55) },
    /* torch: F.max_pool1d(x, 2, 2, 0) */
    { .op = "max_pool1d",
      .name = "max_pool1d [2,1,6] kernel 2",
      .build = build_max_pool1d,
      .ia = { 2, 0, 0 },
      .in = { OPC_IN((2, 1, 6), -1.67, -1.08, -1.4, 0.66, 1.35, -0.82, -0.69, -1.6, 0.16, 0.91,
                     1.04, 0.4) },
      OPC_OUT((2, 1, 3), -1.08, 0.66, 1.35, -0.69, 0.91, 1.04) },
    /* torch: F.max_pool1d(x, 4, 1, 2) */
    { .op = "max_pool1d",
      .name = "max_pool1d [1,1,5] kernel 4 stride 1 padding 2",
      .build = build_max_pool1d,
      .ia = { 4, 1, 2 },
      .in = { OPC_IN((1, 1, 5), -0.74, 1.88, -1.41, -1.31, 1.2) },
      OPC_OUT((1, 1, 6), 1.88, 1.88, 1.88, 1.88, 1.2, 1.2) },
    /* torch: F.avg_pool2d(x, (2, 2), (2, 2), (0, 0)) */
    { .op = "avg_pool2d",
      .name = "avg_pool2d [1,2,4,4] kernel 2",
      .build = build_avg_pool2d,
      .ia = { 2, 2, 0, 0, 0, 0 },
      .in = { OPC_IN((1, 2, 4, 4), -1.6, 0.8, -1.12, -1.35, 0.71, -1.26, 0.24, 0.34, 0.53, 1.6,
                     1.55, -0.52, -0.17, -0.7, -1.89, 1.93, -1.33, 0.26, 1.17, -0.3, 1.66, -0.43,
                     -0.94, 0.67, -0.76, 0.47, -1.7, -0.86, -0.56, -0.22, 1.92, -0.34) },
      OPC_OUT((1, 2, 2, 2), -0.3375, -0.4725000000000001, 0.315, 0.2675, 0.039999999999999966, 0.15,
              -0.2675, -0.24500000000000005) },
    /* torch: F.avg_pool2d(x, (3, 3), (2, 2), (1, 1)) */
    { .op = "avg_pool2d",
      .name = "avg_pool2d [1,1,5,5] kernel 3 stride 2 padding 1, overlapping",
      .build = build_avg_pool2d,
      .ia = { 3, 3, 2, 2, 1, 1 },
      .in = { OPC_IN((1, 1, 5, 5), -0.77, 0.69, -1.13, -0.21, -0.89, -0.16, 1.09, 0.36, 1.7, 0.46,
                     -1.38, 0.54, -1.35, 1.57, 0.35, 0.16, -1.66, 0.63, 0.77, -0.26, 0.91, 1.4, 0.9,
                     1.76, 1.55) },
      OPC_OUT((1, 1, 3, 3), 0.09444444444444444, 0.2777777777777778, 0.11777777777777776,
              -0.15666666666666662, 0.40555555555555556, 0.51, 0.09, 0.4222222222222222,
              0.42444444444444446) },
    /* torch: F.avg_pool2d(x, (2, 3), (1, 2), (1, 1)) */
    { .op = "avg_pool2d",
      .name = "avg_pool2d [2,1,4,5] kernel [2, 3] stride [1, 2] padding 1",
      .build = build_avg_pool2d,
      .ia = { 2, 3, 1, 2, 1, 1 },
      .in = { OPC_IN((2, 1, 4, 5), 1.64, 1.06, 0.09, -1.29, -1.91, -1.79, -0.12, 1.77, 0.74, -0.78,
                     1.66, 0.96, 1.97, -1.65, 1.68, 1.55, 0.04, 1.27, 1.42, 1.39, -0.83, 1.88, 1.07,
                     -0.71, 1.08, -1.6, -1.05, -1.76, -0.07, -0.91, -1.93, 1.11, -0.17, -1.48, 0.9,
                     0.42, -0.37, -1.54, 0.22, 1.83) },
      OPC_OUT((2, 1, 5, 3), 0.45, -0.023333333333333317, -0.5333333333333333, 0.13166666666666668,
              0.375, -0.54, 0.11833333333333329, 0.6116666666666666, -0.001666666666666668,
              0.7016666666666667, 0.6683333333333333, 0.47333333333333333, 0.265, 0.455,
              0.46833333333333327, 0.17499999999999996, 0.37333333333333335, 0.06166666666666668,
              -0.2666666666666667, -0.10666666666666665, -0.10166666666666664, -0.5783333333333333,
              -0.57, -0.26, -0.1283333333333333, -0.37166666666666665, 0.24500000000000002,
              0.008333333333333331, -0.2816666666666667, 0.34166666666666673) },
    /* torch: F.avg_pool1d(x, 3, 2, 1) */
    { .op = "avg_pool1d",
      .name = "avg_pool1d [1,2,7] kernel 3 stride 2 padding 1",
      .build = build_avg_pool1d,
      .ia = { 3, 2, 1 },
      .in = { OPC_IN((1, 2, 7), 0.34, -0.04, 0.57, 0.58, -1.32, 1.75, 1.98, -0.85, -0.33, -1.1,
                     -1.04, 0.01, -0.69, 1.94) },
      OPC_OUT((1, 2, 4), 0.10000000000000002, 0.36999999999999994, 0.3366666666666666,
              1.2433333333333334, -0.3933333333333333, -0.8233333333333334, -0.5733333333333334,
              0.4166666666666667) },
    /* torch: F.avg_pool1d(x, 2, 2, 0) */
    { .op = "avg_pool1d",
      .name = "avg_pool1d [2,1,6] kernel 2",
      .build = build_avg_pool1d,
      .ia = { 2, 0, 0 },
      .in = { OPC_IN((2, 1, 6), 1.4, 0.07, 0.37, 0.97, -0.57, -0.64, 1.18, -0.98, -0.87, -0.92,
                     1.73, -1.93) },
      OPC_OUT((2, 1, 3), 0.735, 0.6699999999999999, -0.605, 0.09999999999999998, -0.895,
              -0.09999999999999998) },
    /* torch: F.avg_pool1d(x, 4, 1, 2) */
    { .op = "avg_pool1d",
      .name = "avg_pool1d [1,1,5] kernel 4 stride 1 padding 2",
      .build = build_avg_pool1d,
      .ia = { 4, 1, 2 },
      .in = { OPC_IN((1, 1, 5), 1.35, 0.96, -1.83, 1.44, 1.49) },
      OPC_OUT((1, 1, 6), 0.5775, 0.12, 0.48, 0.5149999999999999, 0.27499999999999997,
              0.7324999999999999) },
    /* torch: F.max_pool2d(x, 3, 1, 1, return_indices=True)[1] + 16 * channel, flattened */
    { .op = "max_pool_index",
      .name = "max_pool_index [1,2,4,4] kernel 3 stride 1 padding 1",
      .build = build_max_pool_index,
      .ia = { 3, 3, 1, 1, 1, 1 },
      .n_ia = 2,
      .in = { OPC_IN((1, 2, 4, 4), 0.14, -0.3, -0.46, 1.43, 0.54, -1.31, 0.63, 1.29, -0.78, 0.97,
                     -1.39, -0.11, -1.15, -1.06, -0.67, -1.26, 1.71, -0.2, 1.05, 1.88, -0.43, 0.39,
                     -1.56, 1.86, 0.7, 1.64, 1.72, 1.76, -1.52, -0.9, -0.73, 0.48) },
      OPC_OUT((32), 4.0, 6.0, 3.0, 3.0, 9.0, 9.0, 3.0, 3.0, 9.0, 9.0, 7.0, 7.0, 9.0, 9.0, 9.0, 11.0,
              16.0, 16.0, 19.0, 19.0, 16.0, 26.0, 19.0, 19.0, 25.0, 26.0, 23.0, 23.0, 25.0, 26.0,
              27.0, 27.0),
      .mode = OPC_INT_OUT | OPC_EXACT },
    /* torch: F.max_pool1d(x, 2, 2, 0, return_indices=True)[1] + 5 * n, flattened */
    { .op = "max_pool_index",
      .name = "max_pool_index [2,1,5] kernel 2",
      .build = build_max_pool_index,
      .ia = { 2, 2, 0 },
      .n_ia = 1,
      .in = { OPC_IN((2, 1, 5), -1.83, 1.74, -0.99, 1.8, -1.14, 1.24, 1.76, 1.11, -1.29, 1.43) },
      OPC_OUT((4), 1.0, 3.0, 6.0, 7.0),
      .mode = OPC_INT_OUT | OPC_EXACT },
    /* torch: torch.autograd.grad(F.avg_pool2d(x, 3, 2, 1), x, dy) for x of shape [1,2,5,5] */
    { .op = "avg_pool_grad",
      .name = "avg_pool_grad [1,2,3,3] into [5,5] kernel 3 stride 2 padding 1",
      .build = build_avg_pool_grad,
      .ia = { 5, 5, 3, 3, 2, 2, 1, 1 },
      .n_ia = 2,
      .in = { OPC_IN((1, 2, 3, 3), -0.48, -0.84, -0.6, -1.58, 0.06, 1.07, 0.07, -0.37, -1.57, -1.05,
                     0.33, -1.39, 1.4, -1.04, -1.75, 1.62, -0.04, 1.11) },
      OPC_OUT((1, 2, 5, 5), -0.05333333333333333, -0.14666666666666667, -0.09333333333333332,
              -0.15999999999999998, -0.06666666666666667, -0.22888888888888892, -0.3155555555555556,
              -0.08666666666666666, -0.03444444444444443, 0.052222222222222225,
              -0.17555555555555558, -0.16888888888888892, 0.006666666666666666, 0.12555555555555556,
              0.11888888888888889, -0.1677777777777778, -0.20222222222222225, -0.034444444444444444,
              -0.09000000000000001, -0.055555555555555566, 0.007777777777777778,
              -0.03333333333333333, -0.04111111111111111, -0.21555555555555556,
              -0.17444444444444446, -0.11666666666666667, -0.08, 0.03666666666666667,
              -0.11777777777777777, -0.15444444444444444, 0.03888888888888889, -0.04000000000000001,
              -0.0788888888888889, -0.4277777777777778, -0.3488888888888889, 0.15555555555555556,
              0.039999999999999994, -0.11555555555555556, -0.31, -0.19444444444444445,
              0.3355555555555556, 0.21555555555555558, -0.12000000000000001, -0.19111111111111106,
              -0.0711111111111111, 0.18000000000000002, 0.17555555555555558, -0.0044444444444444444,
              0.1188888888888889, 0.12333333333333335) },
    /* torch: torch.autograd.grad(F.avg_pool1d(x, 3, 2, 0), x, dy) for x of shape [2,1,7] */
    { .op = "avg_pool_grad",
      .name = "avg_pool_grad [2,1,3] into [7] kernel 3 stride 2",
      .build = build_avg_pool_grad,
      .ia = { 7, 3, 2, 0 },
      .n_ia = 1,
      .in = { OPC_IN((2, 1, 3), 0.07, 1.26, -0.19, -1.39, -1.48, -0.72) },
      OPC_OUT((2, 1, 7), 0.023333333333333334, 0.023333333333333334, 0.4433333333333333, 0.42,
              0.35666666666666663, -0.06333333333333334, -0.06333333333333334, -0.4633333333333333,
              -0.4633333333333333, -0.9566666666666667, -0.49333333333333335, -0.7333333333333334,
              -0.24, -0.24) },
    /* torch: x.detach() (the identity; no gradient rule, so forward only) */
    { .op = "stop_gradient",
      .name = "stop_gradient [2,3]",
      .build = build_stop_gradient,
      .mode = OPC_FORWARD_ONLY,
      .in = { OPC_IN((2, 3), 0.47, -1.65, 1.44, -0.74, -0.24, -0.5) },
      OPC_OUT((2, 3), 0.47, -1.65, 1.44, -0.74, -0.24, -0.5) },
    /* torch: F.conv2d(x, w, b, stride=[2, 1], padding=[1, 0]) */
    { .op = "conv2d",
      .name = "conv2d [1,2,4,4] by [3,2,2,2] with bias, stride [2, 1] padding [1, 0]",
      .build = build_conv2d,
      .ia = { 2, 1, 1, 0, 1, 1, 0, 0 },
      .axis = 1,
      .in = { OPC_IN((1, 2, 4, 4), -1.53, -0.32, 1.14, 0.34, 1.41, -0.3, -1.19, -0.26, -0.49, -1.69,
                     1.9, 1.57, 1.3, 0.28, -0.65, -1.49, 1.53, 0.35, 1.79, 1.61, 0.22, 1.51, 0.61,
                     -0.52, -1.82, 1.99, 0.25, -1.16, -1.8, 1.31, -0.95, -1.18),
              OPC_IN((3, 2, 2, 2), -0.94, -1.1, 1.39, -0.63, 1.77, -0.34, 1.88, -1.42, -0.87, -0.99,
                     -0.27, -1.93, -1.17, -0.49, 0.75, -1.21, -0.73, 1.45, 1.71, -1.09, 0.69, 1.14,
                     0.64, -0.46),
              OPC_IN((3), -0.32, 1.28, 1.33) },
      OPC_OUT((1, 3, 3, 3), 0.13429999999999986, -3.3667999999999996, 2.1294, -7.3032,
              3.5764000000000005, 6.110199999999999, -5.481400000000001, 2.7735000000000003,
              0.6496999999999999, 3.0347, -2.7371999999999996, -0.2896000000000001,
              -1.0259000000000003, -1.3671999999999997, 0.16180000000000017, 1.3358999999999999,
              0.6127, 5.0103, -0.11929999999999952, -1.0592000000000001, 3.3137999999999996,
              0.6628999999999998, -2.2414999999999994, 3.8811, 1.0384000000000002,
              0.004000000000000226, -2.3566999999999996) },
    /* torch: F.conv1d(x, w, b, padding=1, dilation=2, groups=2) */
    { .op = "conv1d",
      .name = "conv1d [1,2,6] by [4,1,3] with bias, padding 1 dilation 2 groups 2",
      .build = build_conv1d,
      .ia = { 1, 0, 1, 0, 2, 0, 0, 0 },
      .axis = 2,
      .in = { OPC_IN((1, 2, 6), -1.3, -1.74, 0.8, 1.74, 1.35, -0.35, 1.82, -0.63, -1.15, -0.45,
                     -0.99, 0.71),
              OPC_IN((4, 1, 3), -0.46, 0.2, 1.33, 1.19, 0.5, -0.55, 0.23, 1.56, -1.21, 1.42, -0.91,
                     -0.23),
              OPC_IN((4), -0.14, -1.56, 1.26, 0.96) },
      OPC_OUT((1, 4, 4), 1.8262, 2.4135000000000004, 0.5429, -0.23800000000000004, -3.387, -3.4495,
              -2.5681, 0.06699999999999995, 0.8217, 1.0825, -0.44599999999999995,
              -0.5488999999999999, 1.6368, 4.8186, 0.3116000000000001, 0.2279000000000002) },
    /* torch: F.conv_transpose2d(x, w, b, stride=2, padding=[0, 1], output_padding=1) */
    { .op = "conv_transpose2d",
      .name = "conv_transpose2d [1,2,2,3] by [2,2,2,2] with bias, stride 2 padding [0, 1] "
              "output_padding 1",
      .build = build_conv_transpose2d,
      .ia = { 2, 2, 0, 1, 1, 1, 1, 1 },
      .axis = 1,
      .in = { OPC_IN((1, 2, 2, 3), -0.89, -1.47, -1.63, -0.18, 0.23, 1.9, -1.17, 0.69, -0.55, 0.12,
                     -0.61, 0.13),
              OPC_IN((2, 2, 2, 2), 1.59, 0.55, 1.83, 0.3, -1.54, -0.12, -0.59, 0.98, -1.95, -0.72,
                     0.13, 0.96, -1.22, 1.55, -1.67, -1.08),
              OPC_IN((2), -1.4, 0.66) },
      OPC_OUT((1, 2, 5, 5), -1.0471, -5.0828, -2.7053, -2.9192, -1.9004999999999999,
              -2.7901999999999996, -4.0004, -1.1785999999999999, -4.4544, -2.417, -1.5854, 0.1552,
              -0.8342999999999999, 1.3675000000000002, -0.4486, -1.3388, -1.0583999999999998,
              -1.9165999999999999, 2.0939, -0.7051999999999999, -1.4, -1.4, -1.4, -1.4, -1.4,
              -1.0467, 2.082, 1.9059, 3.8411999999999997, 0.0030999999999998806, 1.0514000000000001,
              0.3750000000000001, -1.5257999999999998, 2.5402, -0.3433999999999998, 0.8676, 1.05,
              -0.31309999999999993, -2.4245999999999994, 0.6335000000000001, 0.35400000000000004,
              1.543, 1.5442, -0.6781, 2.3815999999999997, 0.66, 0.66, 0.66, 0.66, 0.66) },
    /* torch: torch.nn.grad.conv2d_weight(x, [2, 2, 3, 2], dy) */
    { .op = "conv2d_weight_grad",
      .name = "conv2d_weight_grad [2,2,4,3], dy [2,2,2,2], kernel [3, 2]",
      .build = build_conv2d_weight_grad,
      .ia = { 1, 1, 0, 0, 1, 1, 0, 0 },
      .axis = 1,
      .to = OPC_SHAPE(3, 2),
      .in = { OPC_IN((2, 2, 4, 3), 1.35, -0.82, -0.69, -1.6, 0.16, 0.91, 1.04, 0.4, -0.74, 1.88,
                     -1.41, -1.31, 1.2, 0.8, -1.12, -1.35, 0.71, -1.26, 0.24, 0.34, 0.53, 1.6, 1.55,
                     -0.52, -0.17, -0.7, -1.89, 1.93, -1.33, 0.26, 1.17, -0.3, 1.66, -0.43, -0.94,
                     0.67, -0.76, 0.47, -1.7, -0.86, -0.56, -0.22, 1.92, -0.34, -0.77, 0.69, -1.13,
                     -0.21),
              OPC_IN((2, 2, 2, 2), -0.89, -0.16, 1.09, 0.36, 1.7, 0.46, -1.38, 0.54, -1.35, 1.57,
                     0.35, 0.16, -1.66, 0.63, 0.77, -0.26) },
      OPC_OUT((2, 2, 3, 2), -3.1635000000000004, -1.104, -1.6560999999999995, 2.2459000000000007,
              -1.7994, 0.5432999999999999, -1.0386000000000002, -3.7472, 2.3713, 0.2995000000000001,
              -1.0311000000000003, -0.06409999999999982, 5.885299999999999, -2.5612, -6.9284,
              1.4480000000000006, -3.6216999999999997, 2.2237999999999998, 5.6955, -3.0406,
              0.5256000000000003, 1.1738, -3.3828999999999994, -2.3342) },
};

#define OP_CASE_COUNT (sizeof op_cases / sizeof op_cases[0])

/* Number of elements of a shape. */
static inline size_t opc_size(const op_shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        n *= (size_t)s->dims[i];
    }
    return n;
}

/* Number of leaves the case's op takes. */
static inline int opc_arity(const op_case *c)
{
    int n = 0;
    while (n < OPC_MAX_IN && c->in[n].values) {
        n++;
    }
    return n;
}

/* True if the case has a floating leaf to differentiate with respect to. */
static inline bool opc_has_float_input(const op_case *c)
{
    for (int i = 0; i < opc_arity(c); i++) {
        if (!c->in[i].labels) {
            return true;
        }
    }
    return false;
}

/* True if test_ops_grad.c gradient-checks the case. */
static inline bool opc_is_grad_case(const op_case *c)
{
    return !(c->mode & (OPC_FORWARD_ONLY | OPC_INT_OUT)) && opc_has_float_input(c);
}

/*
 * Builds the case in g: its leaves (inputs of dtype, labels of i32) holding the
 * row's values, stored to leaves[0..arity-1], and the op applied to them.
 * Returns the op's node, or NULL with the error on g.
 */
static inline nb_node *opc_build(nb_graph *g, const op_case *c, nb_dtype dtype, nb_node **leaves)
{
    nb_node *x[OPC_MAX_IN] = { NULL };
    for (int i = 0; i < opc_arity(c); i++) {
        const op_input *in = &c->in[i];
        x[i] = nb_input(g, in->labels ? NB_DTYPE_I32 : dtype, in->shape.rank, in->shape.dims);
        if (!x[i] || nb_node_write_f64(g, x[i], in->values, in->n) != NB_OK) {
            return NULL;
        }
        if (leaves) {
            leaves[i] = x[i];
        }
    }
    return c->build(g, c, dtype, x);
}

/*
 * Weight i of the fixed tensor that test_ops_grad.c multiplies an op's output
 * by before summing, so every output element reaches the scalar with its own
 * factor (in [-1.06, 1.06], never 0) and sum(softmax(x)) is not a constant.
 */
static inline double opc_weight(size_t i)
{
    return ((double)((i * 37) % 17) - 8.5) / 8.0;
}

#endif /* NABLA_TESTS_OP_CASES_H */
