/*
 * ops/compare.c: comparison and selection (maximum, minimum, where, greater,
 * less, equal), elementwise with NumPy broadcasting of every input. where has
 * three operands, so its broadcast iteration (three strides a level) and its
 * threaded runner live here; the others use the two-operand nbi_bcast. The
 * gradients of maximum and minimum are built from where, equal, less and
 * greater, so they can be differentiated again.
 */
#include "kernel.h"

/* Records "shapes [2] and [3] cannot be broadcast together" for the pair in[0], in[1]. */
static void fail_broadcast(nb_graph *g, const char *name, nb_node *const *in)
{
    char sa[96], sb[96];
    nbi_format_shape(in[0]->rank, in[0]->shape, sa, sizeof sa);
    nbi_format_shape(in[1]->rank, in[1]->shape, sb, sizeof sb);
    nbi_fail(g, NB_ERR_SHAPE, name, 2, in, "shapes %s and %s cannot be broadcast together", sa, sb);
}

/*
 * Checks a and b of a binary op of this family and makes its node of dtype
 * (a's, or f32 for the comparisons of two i32 inputs). ints: two i32 inputs
 * are accepted as well as two floats of one dtype.
 */
static nb_node *binary(nb_graph *g, int op, nb_node *a, nb_node *b, bool ints)
{
    nb_node *in[2] = { a, b };
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 2, in)) {
        return NULL;
    }
    bool both_i32 = a->dtype == NB_DTYPE_I32 && b->dtype == NB_DTYPE_I32;
    if (ints && both_i32) {
        /* fine: labels against labels */
    } else if (ints && a->dtype != b->dtype) {
        /* nbi_check_float would call one i32 input wrong, when two i32 inputs are fine too */
        nbi_fail(g, NB_ERR_DTYPE, name, 2, in, "dtypes %s and %s differ", nb_dtype_name(a->dtype),
                 nb_dtype_name(b->dtype));
        return NULL;
    } else if (!nbi_check_float(g, name, 2, in)) {
        return NULL;
    }
    int rank;
    int64_t shape[NB_MAX_RANK];
    if (!nbi_broadcast_shape(a->rank, a->shape, b->rank, b->shape, &rank, shape)) {
        fail_broadcast(g, name, in);
        return NULL;
    }
    return nbi_node_new(g, op, both_i32 ? NB_DTYPE_F32 : a->dtype, rank, shape, a, b);
}

/* ---- where: a three-operand broadcast iteration ---- */

/*
 * Iteration over y's shape in four collapsed levels, as nbi_bcast but with
 * strides for three operands: element (i0,i1,i2,i3) reads operand k (0 = c,
 * 1 = a, 2 = b) at s[k]·i. Levels that are contiguous for all three are
 * merged, so equal shapes are one flat loop. Innermost strides are 0 or 1.
 */
typedef struct where_iter {
    int64_t dim[4];
    int64_t s[3][4];
} where_iter;

/* Strides of x as seen from y's shape: aligned right, 0 where x broadcasts. */
static void strides_in(const nb_node *y, const nb_node *x, int64_t *s)
{
    int64_t step = 1;
    for (int i = y->rank - 1; i >= 0; i--) {
        int xi = i - (y->rank - x->rank);
        s[i] = xi >= 0 && x->shape[xi] != 1 ? step : 0;
        if (xi >= 0) {
            step *= x->shape[xi];
        }
    }
}

static void where_iter_init(where_iter *it, const nb_node *y)
{
    int64_t dim[NB_MAX_RANK], s[3][NB_MAX_RANK];
    for (int k = 0; k < 3; k++) {
        strides_in(y, y->in[k], s[k]);
    }
    int m = 0;
    for (int i = 0; i < y->rank; i++) {
        if (y->shape[i] == 1) {
            continue;
        }
        bool merge = m > 0;
        for (int k = 0; k < 3 && merge; k++) {
            merge = s[k][m - 1] == s[k][i] * y->shape[i];
        }
        if (merge) {
            dim[m - 1] *= y->shape[i];
            for (int k = 0; k < 3; k++) {
                s[k][m - 1] = s[k][i];
            }
            continue;
        }
        dim[m] = y->shape[i];
        for (int k = 0; k < 3; k++) {
            s[k][m] = s[k][i];
        }
        m++;
    }
    int pad = 4 - m;
    for (int i = 0; i < 4; i++) {
        int j = i - pad;
        it->dim[i] = j >= 0 ? dim[j] : 1;
        for (int k = 0; k < 3; k++) {
            it->s[k][i] = j >= 0 ? s[k][j] : 0;
        }
    }
    if (m == 0) { /* a scalar: one element, read as a contiguous row of one */
        for (int k = 0; k < 3; k++) {
            it->s[k][3] = 1;
        }
    }
}

typedef void where_fn(const where_iter *it, const void *c, const void *a, const void *b, void *y);

/*
 * y = c != 0 ? a : b over the iteration, c of type TC, a, b and y of type T.
 * Each inner row takes one of five loops by which operands are contiguous in
 * it; the broadcast ones are read once, before the loop. A row whose c is
 * broadcast is a plain copy (or fill) of a's or b's row. Both values are read
 * before the select, so the loops compile to compares and blends.
 */
#define WHERE_TYPED(FN, T, TC)                                                                     \
    NBI_SIMD static void FN(const where_iter *it, const void *cv, const void *av, const void *bv,  \
                            void *yv)                                                              \
    {                                                                                              \
        const TC *c = cv;                                                                          \
        const T *a = av, *b = bv;                                                                  \
        T *y = yv;                                                                                 \
        const int64_t n = it->dim[3];                                                              \
        const bool cc = it->s[0][3] != 0, ca = it->s[1][3] != 0, cb = it->s[2][3] != 0;            \
        int64_t r = 0;                                                                             \
        for (int64_t i0 = 0; i0 < it->dim[0]; i0++) {                                              \
            for (int64_t i1 = 0; i1 < it->dim[1]; i1++) {                                          \
                for (int64_t i2 = 0; i2 < it->dim[2]; i2++, r++) {                                 \
                    int64_t o[3];                                                                  \
                    for (int k = 0; k < 3; k++) {                                                  \
                        o[k] = i0 * it->s[k][0] + i1 * it->s[k][1] + i2 * it->s[k][2];             \
                    }                                                                              \
                    const TC *pc = c + o[0];                                                       \
                    const T *pa = a + o[1], *pb = b + o[2];                                        \
                    T *py = y + r * n;                                                             \
                    if (!cc) {                                                                     \
                        bool take_a = pc[0] != 0;                                                  \
                        const T *src = take_a ? pa : pb;                                           \
                        if (take_a ? ca : cb) {                                                    \
                            for (int64_t k = 0; k < n; k++) {                                      \
                                py[k] = src[k];                                                    \
                            }                                                                      \
                        } else {                                                                   \
                            const T v = src[0];                                                    \
                            for (int64_t k = 0; k < n; k++) {                                      \
                                py[k] = v;                                                         \
                            }                                                                      \
                        }                                                                          \
                    } else if (ca && cb) {                                                         \
                        for (int64_t k = 0; k < n; k++) {                                          \
                            const T x = pa[k], z = pb[k];                                          \
                            py[k] = pc[k] != 0 ? x : z;                                            \
                        }                                                                          \
                    } else if (ca) {                                                               \
                        const T z = pb[0];                                                         \
                        for (int64_t k = 0; k < n; k++) {                                          \
                            const T x = pa[k];                                                     \
                            py[k] = pc[k] != 0 ? x : z;                                            \
                        }                                                                          \
                    } else if (cb) {                                                               \
                        const T x = pa[0];                                                         \
                        for (int64_t k = 0; k < n; k++) {                                          \
                            const T z = pb[k];                                                     \
                            py[k] = pc[k] != 0 ? x : z;                                            \
                        }                                                                          \
                    } else {                                                                       \
                        const T x = pa[0], z = pb[0];                                              \
                        for (int64_t k = 0; k < n; k++) {                                          \
                            py[k] = pc[k] != 0 ? x : z;                                            \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

WHERE_TYPED(where_f32_f32, float, float)
WHERE_TYPED(where_f32_i32, float, int32_t)
WHERE_TYPED(where_f64_f64, double, double)
WHERE_TYPED(where_f64_i32, double, int32_t)

typedef struct where_work {
    const where_iter *it;
    where_fn *fn;
    const unsigned char *c, *a, *b;
    unsigned char *y;
    size_t es_c, es; /* bytes of an element of c, and of a, b and y */
    int axis;        /* the level split between threads: the outermost with more than one index */
} where_work;

/* Thread k's part: a range of indices of one level (whole vectors when it is the innermost). */
static void where_part(void *ctx, int k, int nt)
{
    const where_work *w = ctx;
    where_iter sub = *w->it;
    int j = w->axis;
    int64_t d = sub.dim[j], per = (d + nt - 1) / nt;
    if (j == 3) {
        per = (per + 15) / 16 * 16;
    }
    int64_t lo = (int64_t)k * per < d ? (int64_t)k * per : d, hi = lo + per < d ? lo + per : d;
    if (lo >= hi) {
        return;
    }
    /* every outer level has one index, so the part of y is contiguous */
    int64_t ystride = 1;
    for (int i = j + 1; i < 4; i++) {
        ystride *= sub.dim[i];
    }
    sub.dim[j] = hi - lo;
    w->fn(&sub, w->c + (size_t)(lo * sub.s[0][j]) * w->es_c,
          w->a + (size_t)(lo * sub.s[1][j]) * w->es, w->b + (size_t)(lo * sub.s[2][j]) * w->es,
          w->y + (size_t)(lo * ystride) * w->es);
}

static nb_status where_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    where_iter it;
    where_iter_init(&it, y);
    bool f32 = y->dtype == NB_DTYPE_F32, ci = y->in[0]->dtype == NB_DTYPE_I32;
    where_fn *fn =
        f32 ? (ci ? where_f32_i32 : where_f32_f32) : (ci ? where_f64_i32 : where_f64_f64);
    const void *c = y->in[0]->data, *a = y->in[1]->data, *b = y->in[2]->data;
    size_t n = nbi_node_count(y);
    int threads = n >= NBI_PAR_MIN ? nbi_threads() : 1;
    if (threads == 1) {
        fn(&it, c, a, b, y->data);
        return NB_OK;
    }
    where_work w = {
        &it, fn, c, a, b, y->data, nbi_dtype_size(y->in[0]->dtype), nbi_dtype_size(y->dtype), 0
    };
    while (w.axis < 3 && it.dim[w.axis] == 1) {
        w.axis++;
    }
    nbi_parallel(threads, where_part, &w);
    return NB_OK;
}

/* dc: none (c only selects); da and db: dy where their branch is taken, selected, never masked */
static void where_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *c = y->in[0], *zero = nbi_scalar_cached(g, y->dtype, 0);
    if (need[1]) {
        dx[1] = nbi_unbroadcast(g, nb_where(g, c, dy, zero), y->in[1]);
    }
    if (need[2]) {
        dx[2] = nbi_unbroadcast(g, nb_where(g, c, zero, dy), y->in[2]);
    }
}

nb_node *nb_where(nb_graph *g, nb_node *c, nb_node *a, nb_node *b)
{
    nb_node *in[3] = { c, a, b };
    if (!nbi_check_inputs(g, "where", 3, in)) {
        return NULL;
    }
    for (int i = 1; i < 3; i++) {
        if (in[i]->dtype == NB_DTYPE_I32) {
            nbi_fail(g, NB_ERR_DTYPE, "where", 3, in,
                     "input %d is i32; the values a and b must be f32 or f64", i + 1);
            return NULL;
        }
    }
    if (a->dtype != b->dtype) {
        nbi_fail(g, NB_ERR_DTYPE, "where", 3, in, "a is %s and b is %s; they must have one dtype",
                 nb_dtype_name(a->dtype), nb_dtype_name(b->dtype));
        return NULL;
    }
    if (c->dtype != NB_DTYPE_I32 && c->dtype != a->dtype) {
        nbi_fail(g, NB_ERR_DTYPE, "where", 3, in, "the condition is %s; it must be i32 or %s, as a",
                 nb_dtype_name(c->dtype), nb_dtype_name(a->dtype));
        return NULL;
    }
    int r1, rank;
    int64_t s1[NB_MAX_RANK], shape[NB_MAX_RANK];
    if (!nbi_broadcast_shape(c->rank, c->shape, a->rank, a->shape, &r1, s1) ||
        !nbi_broadcast_shape(r1, s1, b->rank, b->shape, &rank, shape)) {
        char sc[96], sa[96], sb[96];
        nbi_format_shape(c->rank, c->shape, sc, sizeof sc);
        nbi_format_shape(a->rank, a->shape, sa, sizeof sa);
        nbi_format_shape(b->rank, b->shape, sb, sizeof sb);
        nbi_fail(g, NB_ERR_SHAPE, "where", 3, in,
                 "shapes %s, %s and %s cannot be broadcast together", sc, sa, sb);
        return NULL;
    }
    return nbi_node_newv(g, NBI_OP_WHERE, a->dtype, rank, shape, 3, in);
}

static nb_node *where_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_where(g, in[0], in[1], in[2]);
}

const nbi_op nbi_op_where = {
    .name = "where",
    .symbol = "where",
    .arity = 3,
    .flags = NBI_OP_ELEMENTWISE,
    .build = where_build,
    .inputs = "c, a, b",
    .forward = where_forward,
    .grad = where_grad,
    .formula = "y = a where c != 0, else b (c of a's dtype or i32)",
    .grad_formula = "dc: none, da = where(c, dy, 0), db = where(c, 0, dy) "
                    "(summed over broadcast axes)",
};

/* ---- maximum, minimum ---- */

/*
 * NaN propagates from either side, as in torch.maximum and torch.minimum. A
 * tie gives a (equal values: they differ at most in the sign of a zero).
 */
NBI_BINARY_FORWARD(maximum, (x < z || z != z) ? z : x)
NBI_BINARY_FORWARD(minimum, (x > z || z != z) ? z : x)

/*
 * PyTorch's rule (derivatives.yaml of 1.13): a tie a == b splits dy equally
 * between a and b; otherwise dy goes to the side that is not beaten. Where a
 * or b is NaN neither comparison holds, so both get dy, as in PyTorch.
 * For maximum, a is beaten where a < b; for minimum, where a > b.
 */
static void extremum_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx,
                          bool is_max)
{
    nb_node *a = y->in[0], *b = y->in[1];
    nb_node *zero = nbi_scalar_cached(g, y->dtype, 0);
    nb_node *tie = nb_equal(g, a, b);
    nb_node *half = nbi_chain(g, dy, nbi_scalar_cached(g, y->dtype, 0.5));
    if (need[0]) {
        nb_node *beaten = is_max ? nb_less(g, a, b) : nb_greater(g, a, b);
        dx[0] = nbi_unbroadcast(g, nb_where(g, tie, half, nb_where(g, beaten, zero, dy)), a);
    }
    if (need[1]) {
        nb_node *beaten = is_max ? nb_greater(g, a, b) : nb_less(g, a, b);
        dx[1] = nbi_unbroadcast(g, nb_where(g, tie, half, nb_where(g, beaten, zero, dy)), b);
    }
}

static void maximum_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    extremum_grad(g, y, dy, need, dx, true);
}

static void minimum_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    extremum_grad(g, y, dy, need, dx, false);
}

nb_node *nb_maximum(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_MAXIMUM, a, b, false);
}

nb_node *nb_minimum(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_MINIMUM, a, b, false);
}

static nb_node *maximum_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_maximum(g, in[0], in[1]);
}

static nb_node *minimum_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_minimum(g, in[0], in[1]);
}

const nbi_op nbi_op_maximum = {
    .name = "maximum",
    .symbol = "maximum",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .build = maximum_build,
    .inputs = "a, b",
    .forward = maximum_forward,
    .grad = maximum_grad,
    .formula = "y = the larger of a and b; NaN if either is NaN",
    .grad_formula = "da = dy where a > b, dy/2 where a == b, else 0; db likewise "
                    "(both dy where either is NaN, as PyTorch; summed over broadcast axes)",
};

const nbi_op nbi_op_minimum = {
    .name = "minimum",
    .symbol = "minimum",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .build = minimum_build,
    .inputs = "a, b",
    .forward = minimum_forward,
    .grad = minimum_grad,
    .formula = "y = the smaller of a and b; NaN if either is NaN",
    .grad_formula = "da = dy where a < b, dy/2 where a == b, else 0; db likewise "
                    "(both dy where either is NaN, as PyTorch; summed over broadcast axes)",
};

/* ---- greater, less, equal ---- */

/*
 * Comparison kernels of two i32 inputs writing 0/1 as f32: the same row loops
 * as NBI_BINARY_TYPED with an output type of its own (both are 4 bytes, so
 * nbi_binary_run splits them between threads as it does float kernels).
 */
#define COMPARE_I32(FN, OP)                                                                        \
    NBI_SIMD static void FN(const nbi_bcast *it, const void *av, const void *bv, void *yv)         \
    {                                                                                              \
        const int32_t *a = av, *b = bv;                                                            \
        int32_t *y = yv; /* rows are addressed in elements; the values written are float */        \
        NBI_BCAST_ROWS(it, int32_t, a, b, y, {                                                     \
            float *out = (float *)(void *)py;                                                      \
            if (it->sa[3] && it->sb[3]) {                                                          \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    const int32_t x = pa[k], z = pb[k];                                            \
                    out[k] = x OP z ? 1.0f : 0.0f;                                                 \
                }                                                                                  \
            } else if (it->sa[3]) {                                                                \
                const int32_t z = pb[0];                                                           \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    const int32_t x = pa[k];                                                       \
                    out[k] = x OP z ? 1.0f : 0.0f;                                                 \
                }                                                                                  \
            } else if (it->sb[3]) {                                                                \
                const int32_t x = pa[0];                                                           \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    const int32_t z = pb[k];                                                       \
                    out[k] = x OP z ? 1.0f : 0.0f;                                                 \
                }                                                                                  \
            } else {                                                                               \
                const float v = pa[0] OP pb[0] ? 1.0f : 0.0f;                                      \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    out[k] = v;                                                                    \
                }                                                                                  \
            }                                                                                      \
        });                                                                                        \
    }

/*
 * NAME_forward for a comparison OP: 0/1 in the inputs' float dtype, or in f32
 * for two i32 inputs. A NaN compares false (so equal(NaN, NaN) is 0), as in C
 * and PyTorch.
 */
#define COMPARE_FORWARD(NAME, OP)                                                                  \
    NBI_BINARY_TYPED(NAME##_f32, float, x OP z ? (T)1 : (T)0)                                      \
    NBI_BINARY_TYPED(NAME##_f64, double, x OP z ? (T)1 : (T)0)                                     \
    COMPARE_I32(NAME##_i32, OP)                                                                    \
    static nb_status NAME##_forward(nb_graph *g, nb_node *y)                                       \
    {                                                                                              \
        (void)g;                                                                                   \
        nbi_bcast it;                                                                              \
        nbi_bcast_init(&it, y, y->in[0], y->in[1]);                                                \
        int dt = y->in[0]->dtype;                                                                  \
        nbi_binary_fn *fn = dt == NB_DTYPE_I32   ? NAME##_i32                                      \
                            : dt == NB_DTYPE_F32 ? NAME##_f32                                      \
                                                 : NAME##_f64;                                     \
        nbi_binary_run(&it, fn, y->in[0]->data, y->in[1]->data, y->data, nbi_dtype_size(dt));      \
        return NB_OK;                                                                              \
    }

COMPARE_FORWARD(greater, >)
COMPARE_FORWARD(less, <)
COMPARE_FORWARD(equal, ==)

nb_node *nb_greater(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_GREATER, a, b, true);
}

nb_node *nb_less(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_LESS, a, b, true);
}

nb_node *nb_equal(nb_graph *g, nb_node *a, nb_node *b)
{
    return binary(g, NBI_OP_EQUAL, a, b, true);
}

static nb_node *greater_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_greater(g, in[0], in[1]);
}

static nb_node *less_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_less(g, in[0], in[1]);
}

static nb_node *equal_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_equal(g, in[0], in[1]);
}

/* No gradient rule: the output is piecewise constant, so its gradient is 0 (as PyTorch's). */
const nbi_op nbi_op_greater = {
    .name = "greater",
    .symbol = ">",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .build = greater_build,
    .inputs = "a, b",
    .forward = greater_forward,
    .formula = "y = 1 where a > b, else 0 (f32 for two i32 inputs)",
    .grad_formula = "da = 0, db = 0",
};

const nbi_op nbi_op_less = {
    .name = "less",
    .symbol = "<",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .build = less_build,
    .inputs = "a, b",
    .forward = less_forward,
    .formula = "y = 1 where a < b, else 0 (f32 for two i32 inputs)",
    .grad_formula = "da = 0, db = 0",
};

const nbi_op nbi_op_equal = {
    .name = "equal",
    .symbol = "==",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .build = equal_build,
    .inputs = "a, b",
    .forward = equal_forward,
    .formula = "y = 1 where a == b, else 0 (f32 for two i32 inputs)",
    .grad_formula = "da = 0, db = 0",
};
