/*
 * ops/leaf.c: the leaves (input, param, const, state) and fill, the one op
 * without inputs. Leaves own their values in the graph's arena; parameters are
 * filled by an initializer from the graph's seeded generator, state nodes with
 * one value (ops such as batch_norm update them while running).
 */
#include "kernel.h"

#include <math.h>
#include <stdio.h>

/* Validates a leaf's dtype and shape and creates it with arena storage. */
static nb_node *leaf(nb_graph *g, int op, nb_dtype dtype, int rank, const int64_t *shape,
                     bool ints_ok)
{
    const char *name = nbi_ops[op]->name;
    if (!g || g->status != NB_OK) {
        return NULL;
    }
    if (dtype != NB_DTYPE_F32 && dtype != NB_DTYPE_F64 && !(ints_ok && dtype == NB_DTYPE_I32)) {
        char d[16];
        if (dtype == NB_DTYPE_I32) {
            snprintf(d, sizeof d, "i32");
        } else {
            snprintf(d, sizeof d, "%d", (int)dtype);
        }
        nbi_fail(g, NB_ERR_DTYPE, name, 0, NULL, "dtype %s is not supported; use %s", d,
                 ints_ok ? "f32, f64 or i32" : "f32 or f64");
        return NULL;
    }
    if (rank < 0 || rank > NB_MAX_RANK) {
        nbi_fail(g, NB_ERR_RANK, name, 0, NULL, "rank %d is outside 0..%d", rank, NB_MAX_RANK);
        return NULL;
    }
    if (rank > 0 && !shape) {
        nbi_fail(g, NB_ERR_ARG, name, 0, NULL, "the shape is NULL for rank %d", rank);
        return NULL;
    }
    size_t count, bytes;
    if (!nbi_shape_bytes(rank, shape, dtype, &count, &bytes)) {
        char s[96];
        nbi_format_shape(rank, shape, s, sizeof s);
        nbi_fail(g, NB_ERR_SHAPE, name, 0, NULL,
                 "shape %s is not valid (dimensions from 1 to 2^31-1, size within memory)", s);
        return NULL;
    }
    if (op == NBI_OP_FILL) {
        return nbi_node_new(g, op, dtype, rank, shape, NULL, NULL);
    }
    void *data = nbi_arena_alloc(g, bytes);
    if (!data) {
        nbi_fail(g, NB_ERR_NOMEM, name, 0, NULL, "out of memory for %zu bytes of values", bytes);
        return NULL;
    }
    nb_node *n = nbi_node_new(g, op, dtype, rank, shape, NULL, NULL);
    if (n) {
        n->data = data;
        memset(data, 0, bytes);
    }
    return n;
}

nb_node *nb_input(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape)
{
    return leaf(g, NBI_OP_INPUT, dtype, rank, shape, true);
}

nb_node *nb_const(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, const void *data)
{
    if (g && g->status == NB_OK && !data) {
        nbi_fail(g, NB_ERR_ARG, "const", 0, NULL, "the data is NULL");
        return NULL;
    }
    nb_node *n = leaf(g, NBI_OP_CONST, dtype, rank, shape, true);
    if (n) {
        memcpy(n->data, data, nbi_node_bytes(n));
    }
    return n;
}

nb_node *nb_scalar(nb_graph *g, nb_dtype dtype, double value)
{
    nb_node *n = leaf(g, NBI_OP_CONST, dtype, 0, NULL, false);
    if (n) {
        if (dtype == NB_DTYPE_F32) {
            *(float *)n->data = (float)value;
        } else {
            *(double *)n->data = value;
        }
    }
    return n;
}

/* Writes value into every element of a floating leaf. */
static void fill_leaf(nb_node *n, double value)
{
    size_t count = nbi_node_count(n);
    for (size_t i = 0; i < count; i++) {
        if (n->dtype == NB_DTYPE_F32) {
            ((float *)n->data)[i] = (float)value;
        } else {
            ((double *)n->data)[i] = value;
        }
    }
}

nb_node *nb_state(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, double value)
{
    nb_node *n = leaf(g, NBI_OP_STATE, dtype, rank, shape, false);
    if (n) {
        fill_leaf(n, value);
    }
    return n;
}

/* ---- parameters and initializers ---- */

nb_init nb_init_constant(double value)
{
    return (nb_init){ .kind = NB_INIT_CONSTANT, .a = value };
}

nb_init nb_init_uniform(double low, double high)
{
    return (nb_init){ .kind = NB_INIT_UNIFORM, .a = low, .b = high };
}

nb_init nb_init_normal(double mean, double std)
{
    return (nb_init){ .kind = NB_INIT_NORMAL, .a = mean, .b = std };
}

nb_init nb_init_xavier_uniform(void)
{
    return (nb_init){ .kind = NB_INIT_XAVIER_UNIFORM, .a = 1 };
}

nb_init nb_init_xavier_normal(void)
{
    return (nb_init){ .kind = NB_INIT_XAVIER_NORMAL, .a = 1 };
}

nb_init nb_init_he_uniform(void)
{
    return (nb_init){ .kind = NB_INIT_HE_UNIFORM, .a = 1 };
}

nb_init nb_init_he_normal(void)
{
    return (nb_init){ .kind = NB_INIT_HE_NORMAL, .a = 1 };
}

/*
 * Fan-in and fan-out from the shape (see nabla.h). A matrix is w in x @ w,
 * [fan_in, fan_out]. Rank 3 and 4 are convolution weights in nabla's (and
 * PyTorch's) layout [out, in/groups, k...], so the fans follow PyTorch's
 * rule; Keras' rule, which multiplies the last two dimensions by the leading
 * ones, assumes its own [k..., in, out] kernels and gave a conv2d weight
 * fan_in = kh * out * in.
 */
static void fans(const nb_node *p, const nb_init *init, double *in, double *out)
{
    double fi = 1, fo = 1;
    if (p->rank == 1) {
        fi = fo = (double)p->shape[0];
    } else if (p->rank == 2) {
        fi = (double)p->shape[0];
        fo = (double)p->shape[1];
    } else if (p->rank >= 3) {
        double k = 1;
        for (int i = 2; i < p->rank; i++) {
            k *= (double)p->shape[i];
        }
        fi = (double)p->shape[1] * k;
        fo = (double)p->shape[0] * k;
    }
    *in = init->fan_in > 0 ? (double)init->fan_in : fi;
    *out = init->fan_out > 0 ? (double)init->fan_out : fo;
}

/* Draws the parameter's values as (uniform ? U(lo, hi) : N(lo, hi)). */
static void draw(nb_graph *g, nb_node *p, bool uniform, double lo, double hi)
{
    size_t n = nbi_node_count(p);
    for (size_t i = 0; i < n; i++) {
        double v = uniform ? lo + (hi - lo) * nbi_rng_uniform(g) : lo + hi * nbi_rng_normal(g);
        if (p->dtype == NB_DTYPE_F32) {
            ((float *)p->data)[i] = (float)v;
        } else {
            ((double *)p->data)[i] = v;
        }
    }
}

/* Checks an initializer, recording one specific message for what is wrong. */
static bool init_ok(nb_graph *g, const nb_init *init)
{
    if ((unsigned)init->kind > NB_INIT_HE_NORMAL) {
        nbi_fail(g, NB_ERR_ARG, "param", 0, NULL, "unknown initializer kind %d", (int)init->kind);
    } else if (init->kind == NB_INIT_UNIFORM && !(init->b >= init->a)) {
        nbi_fail(g, NB_ERR_ARG, "param", 0, NULL,
                 "uniform initializer needs low <= high, got low %g and high %g", init->a, init->b);
    } else if (init->kind == NB_INIT_NORMAL && !(init->b >= 0)) {
        nbi_fail(g, NB_ERR_ARG, "param", 0, NULL, "normal initializer needs std >= 0, got %g",
                 init->b);
    } else if (init->a != init->a) {
        nbi_fail(g, NB_ERR_ARG, "param", 0, NULL,
                 "initializer value a (constant, low, mean or gain) is NaN");
    } else if (init->fan_in < 0 || init->fan_out < 0) {
        nbi_fail(g, NB_ERR_ARG, "param", 0, NULL,
                 "initializer fans must be >= 0 (0: from the shape), got fan_in %lld and "
                 "fan_out %lld",
                 (long long)init->fan_in, (long long)init->fan_out);
    } else {
        return true;
    }
    return false;
}

nb_node *nb_param(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, nb_init init)
{
    if (g && g->status == NB_OK && !init_ok(g, &init)) {
        return NULL;
    }
    nb_node *p = leaf(g, NBI_OP_PARAM, dtype, rank, shape, false);
    if (!p) {
        return NULL;
    }
    double fi, fo, gain = init.a != 0 ? init.a : 1;
    fans(p, &init, &fi, &fo);
    switch (init.kind) {
    case NB_INIT_CONSTANT:
        draw(g, p, true, init.a, init.a);
        break;
    case NB_INIT_UNIFORM:
        draw(g, p, true, init.a, init.b);
        break;
    case NB_INIT_NORMAL:
        draw(g, p, false, init.a, init.b);
        break;
    case NB_INIT_XAVIER_UNIFORM: {
        double l = gain * sqrt(6.0 / (fi + fo));
        draw(g, p, true, -l, l);
        break;
    }
    case NB_INIT_XAVIER_NORMAL:
        draw(g, p, false, 0, gain * sqrt(2.0 / (fi + fo)));
        break;
    case NB_INIT_HE_UNIFORM: {
        double l = gain * sqrt(6.0 / fi);
        draw(g, p, true, -l, l);
        break;
    }
    case NB_INIT_HE_NORMAL:
        draw(g, p, false, 0, gain * sqrt(2.0 / fi));
        break;
    }
    return p;
}

static nb_status leaf_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    (void)y;
    NBI_ASSERT(!"leaves are never scheduled");
    return NB_OK;
}

const nbi_op nbi_op_input = {
    .name = "input",
    .symbol = "input",
    .flags = NBI_OP_LEAF,
    .forward = leaf_forward,
    .formula = "values set by the program before each run",
    .grad_formula = "-",
};

const nbi_op nbi_op_param = {
    .name = "param",
    .symbol = "param",
    .flags = NBI_OP_LEAF,
    .forward = leaf_forward,
    .formula = "trainable values, initialized once",
    .grad_formula = "-",
};

const nbi_op nbi_op_const = {
    .name = "const",
    .symbol = "const",
    .flags = NBI_OP_LEAF,
    .forward = leaf_forward,
    .formula = "fixed values",
    .grad_formula = "-",
};

/* Not a parameter: values that ops write while running (running statistics). */
const nbi_op nbi_op_state = {
    .name = "state",
    .symbol = "state",
    .flags = NBI_OP_LEAF,
    .forward = leaf_forward,
    .formula = "values kept across runs and updated by the ops that own them (batch_norm)",
    .grad_formula = "- (a constant to nb_grad; optimizers refuse it)",
};

/* ---- fill ---- */

NBI_TYPED(fill_kernel, (void *yv, size_t n, double value), {
    T *y = yv;
    const T v = (T)value;
    for (size_t i = 0; i < n; i++) {
        y[i] = v;
    }
})

static nb_status fill_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, fill_kernel, y->data, nbi_node_count(y), y->attr[0].f);
    return NB_OK;
}

nb_node *nb_fill(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, double value)
{
    nb_node *n = leaf(g, NBI_OP_FILL, dtype, rank, shape, false);
    if (n) {
        n->attr[0].f = value;
    }
    return n;
}

const nbi_op nbi_op_fill = {
    .name = "fill",
    .symbol = "fill",
    .arity = 0,
    .forward = fill_forward,
    .attrs = { { "value", NBI_ATTR_FLOAT, .required = true } },
    .n_attrs = 1,
    .formula = "y = value everywhere",
    .grad_formula = "no inputs",
};
