/*
 * ops/reduce.c: reductions over a set of axes (sum, mean, max, min, logsumexp,
 * var; an empty set means every element, keepdims keeps the reduced axes with
 * size 1) and argmax_mask, the 0/1 tensor that routes max's and min's gradient
 * to the first extreme. Every reduction sees x merged into the five blocks
 * [O, R1, K, R2, I]: kept, reduced, kept, reduced, kept (adjacent axes of one
 * kind merged, size-1 axes dropped; rank 4 never needs more). A contiguous set
 * (R2 == 1) is the three blocks [outer, len, inner].
 */
#include "kernel.h"

#include <stdio.h>

/* ---- the set of axes ---- */

/*
 * Checks axes[0..n-1] for x: each within -rank..rank-1 and none twice. Stores
 * them as attribute a, normalized and ascending, and their bits in *mask.
 */
static bool check_axes(nb_graph *g, const char *name, nb_node *x, int n, const int *axes,
                       nbi_attr *a, unsigned *mask)
{
    if (n < 0) {
        nbi_fail(g, NB_ERR_ARG, name, 1, &x, "the number of axes is %d", n);
        return false;
    }
    if (n > 0 && !axes) {
        nbi_fail(g, NB_ERR_ARG, name, 1, &x, "axes is NULL with %d axes", n);
        return false;
    }
    unsigned m = 0;
    for (int i = 0; i < n; i++) {
        int ax;
        if (!nbi_check_axis(g, name, x, axes[i], &ax)) {
            return false;
        }
        if (m & (1u << ax)) {
            /* the list up to the repeat: at most rank + 1 entries, as rank axes are distinct */
            char list[96];
            size_t at = 0;
            for (int j = 0; j <= i && at < sizeof list; j++) {
                at += (size_t)snprintf(list + at, sizeof list - at, "%s%d", j ? ", " : "", axes[j]);
            }
            nbi_fail(g, NB_ERR_AXIS, name, 1, &x, "axis %d appears twice in the axes [%s%s]", ax,
                     list, i + 1 < n ? ", ..." : "");
            return false;
        }
        m |= 1u << ax;
    }
    a->n = 0;
    for (int i = 0; i < x->rank; i++) {
        if (m & (1u << i)) {
            a->list[a->n++] = i;
        }
    }
    *mask = m;
    return true;
}

/* The reduced axes of y (input 0's rank) as bits; an empty list is every axis. */
static unsigned reduced_mask(const nb_node *y)
{
    const nbi_attr *a = &y->attr[0];
    if (a->n == 0) {
        return (1u << y->in[0]->rank) - 1;
    }
    unsigned m = 0;
    for (int i = 0; i < a->n; i++) {
        m |= 1u << a->list[i];
    }
    return m;
}

/* Number of elements each output element of y reduces. */
static size_t reduced_count(const nb_node *y)
{
    const nb_node *x = y->in[0];
    unsigned m = reduced_mask(y);
    size_t n = 1;
    for (int i = 0; i < x->rank; i++) {
        n *= m & (1u << i) ? (size_t)x->shape[i] : 1;
    }
    return n;
}

/* The five blocks of x for the reduction of mask (see the file's head). */
typedef struct blocks {
    size_t o, r1, k, r2, in;
} blocks;

static blocks blocks_of(const nb_node *x, unsigned mask)
{
    size_t v[5] = { 1, 1, 1, 1, 1 };
    int slot = -1;
    for (int d = 0; d < x->rank; d++) {
        if (x->shape[d] == 1) {
            continue; /* reduced or kept, it changes no offset */
        }
        int kind = mask & (1u << d) ? 1 : 0; /* odd slots are reduced */
        if (slot < 0 || slot % 2 != kind) {
            slot = slot < 0 ? kind : slot + 1;
        }
        NBI_ASSERT(slot < 5);
        v[slot] *= (size_t)x->shape[d];
    }
    return (blocks){ v[0], v[1], v[2], v[3], v[4] };
}

/*
 * The blocks of a contiguous set in the form the strided kernels read fastest:
 * a reduced run at the end (inner == 1) as R2, rows otherwise as R1.
 */
static blocks blocks_for_kernel(const nb_node *y)
{
    blocks b = blocks_of(y->in[0], reduced_mask(y));
    if (b.r2 == 1 && b.k > 1 && b.in == 1) {
        return (blocks){ b.o, b.r1, 1, 1, b.k }; /* [outer, len, inner]: rows of inner */
    }
    if (b.r2 == 1 && b.k == 1) {
        return (blocks){ b.o, 1, 1, b.r1, 1 }; /* [outer, len]: contiguous runs */
    }
    return b;
}

/* Rank and shape of the reduction of x over mask. */
static int reduced_shape(const nb_node *x, unsigned mask, bool keepdims, int64_t *shape)
{
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!(mask & (1u << i))) {
            shape[rank++] = x->shape[i];
        } else if (keepdims) {
            shape[rank++] = 1;
        }
    }
    return rank;
}

/*
 * Checks and makes a reduction node of op: input 0 x, attribute 0 the axes
 * (attribute 1, when the op has it, keepdims); other attributes are the caller's.
 */
static nb_node *reduce(nb_graph *g, int op, nb_node *x, int n, const int *axes, bool keepdims)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    nbi_attr a;
    unsigned mask;
    if (!check_axes(g, name, x, n, axes, &a, &mask)) {
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    int rank = reduced_shape(x, n == 0 ? (1u << x->rank) - 1 : mask, keepdims, shape);
    nb_node *y = nbi_node_new(g, op, x->dtype, rank, shape, x, NULL);
    if (y) {
        y->attr[0] = a;
        y->attr[1].i = keepdims;
    }
    return y;
}

/* A builder's list of attribute a as ints. */
static const int *axes_of(const nbi_attr *a, int *buf)
{
    for (int i = 0; i < a->n; i++) {
        buf[i] = a->list[i];
    }
    return buf;
}

/*
 * DOT label: one axis as "axis=1" (the label of the single-axis forms since
 * the first version), several as "axes=[0, 2]", then the other attributes
 * that differ from their defaults ("keepdims", "correction=0").
 */
static void reduce_label(const nb_node *y, char *buf, size_t cap)
{
    const nbi_attr *ax = &y->attr[0];
    buf[0] = '\0';
    if (ax->n == 1) {
        snprintf(buf, cap, "axis=%d", (int)ax->list[0]);
    } else if (ax->n > 1) {
        nbi_attr_format(y, 0, buf, cap);
    }
    size_t at = strlen(buf);
    for (int k = 1; k < nbi_ops[y->op]->n_attrs && at + 2 < cap; k++) {
        if (!nbi_attr_shown(y, k)) {
            continue;
        }
        if (at > 0) {
            buf[at++] = ' ';
        }
        nbi_attr_format(y, k, buf + at, cap - at);
        at += strlen(buf + at);
    }
}

/*
 * dy of a reduction y of x brought back to x's shape: reshaped to the keepdims
 * shape, then broadcast (the reduction over every element broadcasts at once).
 */
static nb_node *spread(nb_graph *g, nb_node *y, nb_node *dy)
{
    nb_node *x = y->in[0];
    if (y->attr[0].n == 1) {
        return nbi_expand_reduced(g, dy, x, (int)y->attr[0].list[0], (bool)y->attr[1].i);
    }
    if (y->attr[0].n > 1 && !y->attr[1].i) {
        int64_t shape[NB_MAX_RANK];
        reduced_shape(x, reduced_mask(y), true, shape);
        dy = nb_reshape(g, dy, x->rank, shape);
    }
    if (dy && nbi_same_shape(dy, x)) {
        return dy;
    }
    return nb_broadcast_to(g, dy, x->rank, x->shape);
}

/*
 * v of y's shape (y itself, or dy) reshaped to keep the reduced axes, so it
 * broadcasts against x; a reduction of every element is a scalar and does.
 */
static nb_node *keep_shape(nb_graph *g, nb_node *y, nb_node *v)
{
    nb_node *x = y->in[0];
    if (y->attr[1].i || y->attr[0].n == 0) {
        return v;
    }
    int64_t shape[NB_MAX_RANK];
    reduced_shape(x, reduced_mask(y), true, shape);
    return nb_reshape(g, v, x->rank, shape);
}

/* Chunk of kept elements the row kernels accumulate on the stack. */
#define ROW_CHUNK 256

/*
 * Adds Σ F(r[k]) for k < len to the double total: eight lanes of T over
 * blocks of 4096 (each block's lanes summed into double), so f32 keeps its
 * digits and the loop vectorizes (a double total in order would not).
 */
#define RUN_SUM_OF(T, r, len, total, F)                                                            \
    do {                                                                                           \
        for (size_t b_ = 0; b_ < (len); b_ += 4096) {                                              \
            /* from the block's start: the form GCC vectorizes (optim/optim.c) */                  \
            const T *rb_ = (r) + b_;                                                               \
            size_t m_ = (len)-b_ < 4096 ? (len)-b_ : 4096, k_ = 0;                                 \
            T acc_[8] = { 0 };                                                                     \
            for (; k_ + 8 <= m_; k_ += 8) {                                                        \
                for (int j_ = 0; j_ < 8; j_++) {                                                   \
                    acc_[j_] += F(rb_[k_ + j_]);                                                   \
                }                                                                                  \
            }                                                                                      \
            for (; k_ < m_; k_++) {                                                                \
                acc_[0] += F(rb_[k_]);                                                             \
            }                                                                                      \
            (total) += (double)(((acc_[0] + acc_[1]) + (acc_[2] + acc_[3])) +                      \
                                ((acc_[4] + acc_[5]) + (acc_[6] + acc_[7])));                      \
        }                                                                                          \
    } while (0)
#define IDENTITY(v)               (v)
#define RUN_SUM(T, r, len, total) RUN_SUM_OF(T, r, len, total, IDENTITY)

/* ---- sum and mean ---- */

/* x[outer, len, inner] -> y[outer, inner]: the contiguous set. */
NBI_TYPED(sum_kernel,
          (const void *xv, void *yv, size_t outer, size_t len, size_t inner, double scale), {
              const T *x = xv;
              T *y = yv;
              if (inner == 1) {
                  for (size_t o = 0; o < outer; o++) {
                      double total = 0;
                      RUN_SUM(T, x + o * len, len, total);
                      y[o] = (T)(total * scale);
                  }
                  return;
              }
              for (size_t o = 0; o < outer; o++) {
                  T *yr = y + o * inner;
                  const T *xr = x + o * len * inner;
                  for (size_t i = 0; i < inner; i++) {
                      yr[i] = xr[i];
                  }
                  for (size_t k = 1; k < len; k++) {
                      for (size_t i = 0; i < inner; i++) {
                          yr[i] += xr[k * inner + i];
                      }
                  }
                  if (scale != 1) {
                      for (size_t i = 0; i < inner; i++) {
                          yr[i] *= (T)scale;
                      }
                  }
              }
          })

/*
 * x[O, R1, K, R2, I] -> y[O, K, I], in double. I == 1 (NCHW over N, H, W): each
 * output sums R1 contiguous runs of R2. I > 1: rows of I, a chunk at a time.
 */
NBI_TYPED(sum_strided_kernel, (const void *xv, void *yv, blocks b, double scale), {
    const T *x = xv;
    T *y = yv;
    for (size_t o = 0; o < b.o; o++) {
        for (size_t k = 0; k < b.k; k++) {
            const T *xb = x + (o * b.r1 * b.k + k) * b.r2 * b.in;
            T *yb = y + (o * b.k + k) * b.in;
            if (b.in == 1) {
                double total = 0;
                for (size_t a = 0; a < b.r1; a++) {
                    RUN_SUM(T, xb + a * b.k * b.r2, b.r2, total);
                }
                yb[0] = (T)(total * scale);
                continue;
            }
            for (size_t i0 = 0; i0 < b.in; i0 += ROW_CHUNK) {
                size_t c = b.in - i0 < ROW_CHUNK ? b.in - i0 : ROW_CHUNK;
                double acc[ROW_CHUNK];
                for (size_t j = 0; j < c; j++) {
                    acc[j] = 0;
                }
                for (size_t a = 0; a < b.r1; a++) {
                    for (size_t r = 0; r < b.r2; r++) {
                        const T *row = xb + (a * b.k * b.r2 + r) * b.in + i0;
                        for (size_t j = 0; j < c; j++) {
                            acc[j] += row[j];
                        }
                    }
                }
                for (size_t j = 0; j < c; j++) {
                    yb[i0 + j] = (T)(acc[j] * scale);
                }
            }
        }
    }
})

static nb_status sum_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    blocks b = blocks_of(y->in[0], reduced_mask(y));
    double scale = y->op == NBI_OP_MEAN ? 1.0 / (double)(b.r1 * b.r2) : 1.0;
    if (b.r2 > 1) {
        NBI_DISPATCH(y, sum_strided_kernel, y->in[0]->data, y->data, b, scale);
    } else if (b.r1 == 1) {
        /* nothing to add up (the reduced axes have size 1): one row of copies */
        NBI_DISPATCH(y, sum_kernel, y->in[0]->data, y->data, 1, 1, b.o * b.k * b.in, scale);
    } else {
        NBI_DISPATCH(y, sum_kernel, y->in[0]->data, y->data, b.o, b.r1, b.k * b.in, scale);
    }
    return NB_OK;
}

static void sum_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = spread(g, y, dy);
}

static void mean_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    double n = (double)reduced_count(y);
    nb_node *scaled = nbi_chain(g, dy, nbi_scalar_cached(g, y->dtype, 1.0 / n));
    dx[0] = spread(g, y, scaled);
}

nb_node *nb_sum(nb_graph *g, nb_node *x)
{
    return reduce(g, NBI_OP_SUM, x, 0, NULL, false);
}

nb_node *nb_sum_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_SUM, x, 1, &axis, keepdims);
}

nb_node *nb_sum_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims)
{
    return reduce(g, NBI_OP_SUM, x, n, axes, keepdims);
}

nb_node *nb_mean(nb_graph *g, nb_node *x)
{
    return reduce(g, NBI_OP_MEAN, x, 0, NULL, false);
}

nb_node *nb_mean_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_MEAN, x, 1, &axis, keepdims);
}

nb_node *nb_mean_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims)
{
    return reduce(g, NBI_OP_MEAN, x, n, axes, keepdims);
}

/* The language's form of the ops whose attributes are (axes, keepdims). */
#define AXES_BUILD(NAME, OP)                                                                       \
    static nb_node *NAME##_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)     \
    {                                                                                              \
        (void)n;                                                                                   \
        int axes[NBI_ATTR_LIST];                                                                   \
        return reduce(g, OP, in[0], attr[0].n, axes_of(&attr[0], axes), attr[1].i != 0);           \
    }

AXES_BUILD(sum, NBI_OP_SUM)
AXES_BUILD(mean, NBI_OP_MEAN)

/* The attributes of every reduction: which axes (none: every element) and keepdims. */
#define AXES_ATTRS                                                                                 \
    { "axes", NBI_ATTR_INTS },                                                                     \
    {                                                                                              \
        "keepdims", NBI_ATTR_BOOL                                                                  \
    }

const nbi_op nbi_op_sum = {
    .name = "sum",
    .symbol = "Σ",
    .arity = 1,
    .forward = sum_forward,
    .grad = sum_grad,
    .label = reduce_label,
    .build = sum_build,
    .attrs = { AXES_ATTRS },
    .n_attrs = 2,
    .formula = "y = Σ x over the axes (every element when none are given)",
    .grad_formula = "dx = broadcast_to(dy, shape(x))",
};

const nbi_op nbi_op_mean = {
    .name = "mean",
    .symbol = "mean",
    .arity = 1,
    .forward = sum_forward,
    .grad = mean_grad,
    .label = reduce_label,
    .build = mean_build,
    .attrs = { AXES_ATTRS },
    .n_attrs = 2,
    .formula = "y = (1/n) Σ x over the axes (n elements reduced)",
    .grad_formula = "dx = broadcast_to(dy / n, shape(x))",
};

/* ---- max and min ---- */

/* A NaN wins, so a NaN input shows in the output as in PyTorch. */
#define TAKES_MAX(v, m)   ((v) > (m) || (v) != (v))
#define TAKES_MIN(v, m)   ((v) < (m) || (v) != (v))
/* m becomes v when v wins; a NaN m stays */
#define FOLD(TAKES, m, v) ((m) = TAKES(v, m) && (m) == (m) ? (v) : (m))

/* x[outer, len, inner] -> y[outer, inner]: the contiguous set, row by row. */
#define EXTREME_BODY(TAKES)                                                                        \
    {                                                                                              \
        const T *x = xv;                                                                           \
        T *y = yv;                                                                                 \
        for (size_t o = 0; o < outer; o++) {                                                       \
            T *yr = y + o * inner;                                                                 \
            const T *xr = x + o * len * inner;                                                     \
            for (size_t i = 0; i < inner; i++) {                                                   \
                yr[i] = xr[i];                                                                     \
            }                                                                                      \
            for (size_t k = 1; k < len; k++) {                                                     \
                for (size_t i = 0; i < inner; i++) {                                               \
                    FOLD(TAKES, yr[i], xr[k * inner + i]);                                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* x[O, R1, K, R2, I] -> y[O, K, I]: runs of R2 when I == 1, rows of I otherwise. */
#define EXTREME_STRIDED_BODY(TAKES)                                                                \
    {                                                                                              \
        const T *x = xv;                                                                           \
        T *y = yv;                                                                                 \
        for (size_t o = 0; o < b.o; o++) {                                                         \
            for (size_t k = 0; k < b.k; k++) {                                                     \
                const T *xb = x + (o * b.r1 * b.k + k) * b.r2 * b.in;                              \
                T *yb = y + (o * b.k + k) * b.in;                                                  \
                if (b.in == 1) {                                                                   \
                    T m = xb[0];                                                                   \
                    for (size_t a = 0; a < b.r1; a++) {                                            \
                        const T *run = xb + a * b.k * b.r2;                                        \
                        for (size_t r = 0; r < b.r2; r++) {                                        \
                            FOLD(TAKES, m, run[r]);                                                \
                        }                                                                          \
                    }                                                                              \
                    yb[0] = m;                                                                     \
                    continue;                                                                      \
                }                                                                                  \
                for (size_t i = 0; i < b.in; i++) {                                                \
                    yb[i] = xb[i];                                                                 \
                }                                                                                  \
                for (size_t a = 0; a < b.r1; a++) {                                                \
                    for (size_t r = 0; r < b.r2; r++) {                                            \
                        const T *row = xb + (a * b.k * b.r2 + r) * b.in;                           \
                        for (size_t i = 0; i < b.in; i++) {                                        \
                            FOLD(TAKES, yb[i], row[i]);                                            \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#define CONTIGUOUS_PARAMS (const void *xv, void *yv, size_t outer, size_t len, size_t inner)
#define STRIDED_PARAMS    (const void *xv, void *yv, blocks b)
NBI_TYPED(max_kernel, CONTIGUOUS_PARAMS, EXTREME_BODY(TAKES_MAX))
NBI_TYPED(min_kernel, CONTIGUOUS_PARAMS, EXTREME_BODY(TAKES_MIN))
NBI_TYPED(max_strided_kernel, STRIDED_PARAMS, EXTREME_STRIDED_BODY(TAKES_MAX))
NBI_TYPED(min_strided_kernel, STRIDED_PARAMS, EXTREME_STRIDED_BODY(TAKES_MIN))

static nb_status extreme_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    const void *x = y->in[0]->data;
    blocks b = blocks_of(y->in[0], reduced_mask(y));
    bool max = y->op == NBI_OP_MAX;
    if (b.r2 > 1) {
        if (max) {
            NBI_DISPATCH(y, max_strided_kernel, x, y->data, b);
        } else {
            NBI_DISPATCH(y, min_strided_kernel, x, y->data, b);
        }
    } else if (max) {
        NBI_DISPATCH(y, max_kernel, x, y->data, b.o, b.r1, b.k * b.in);
    } else {
        NBI_DISPATCH(y, min_kernel, x, y->data, b.o, b.r1, b.k * b.in);
    }
    return NB_OK;
}

/*
 * The gradient goes to the first extreme of each reduced set (row-major
 * order), as torch.max(x, dim) picks its index. min's mask is max's of -x:
 * the first minimum of x is the first maximum of -x, and a NaN stays a NaN.
 */
static void extreme_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    if (x->rank == 0) {
        dx[0] = dy; /* the extreme of one element is the element */
        return;
    }
    int axes[NB_MAX_RANK], n = 0;
    unsigned m = reduced_mask(y);
    for (int i = 0; i < x->rank; i++) {
        if (m & (1u << i)) {
            axes[n++] = i;
        }
    }
    nb_node *v = y->op == NBI_OP_MAX ? x : nb_neg(g, x);
    dx[0] = nb_mul(g, spread(g, y, dy), nb_argmax_mask_axes(g, v, n, axes));
}

nb_node *nb_max_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_MAX, x, 1, &axis, keepdims);
}

nb_node *nb_max_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims)
{
    return reduce(g, NBI_OP_MAX, x, n, axes, keepdims);
}

nb_node *nb_min_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_MIN, x, 1, &axis, keepdims);
}

nb_node *nb_min_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims)
{
    return reduce(g, NBI_OP_MIN, x, n, axes, keepdims);
}

AXES_BUILD(max, NBI_OP_MAX)
AXES_BUILD(min, NBI_OP_MIN)

const nbi_op nbi_op_max = {
    .name = "max",
    .symbol = "max",
    .arity = 1,
    .forward = extreme_forward,
    .grad = extreme_grad,
    .label = reduce_label,
    .build = max_build,
    .attrs = { AXES_ATTRS },
    .n_attrs = 2,
    .formula = "y = max x over the axes (NaN if any is NaN)",
    .grad_formula = "dx = broadcast(dy) * argmax_mask(x, axes)   (first arg-max on ties)",
};

const nbi_op nbi_op_min = {
    .name = "min",
    .symbol = "min",
    .arity = 1,
    .forward = extreme_forward,
    .grad = extreme_grad,
    .label = reduce_label,
    .build = min_build,
    .attrs = { AXES_ATTRS },
    .n_attrs = 2,
    .formula = "y = min x over the axes (NaN if any is NaN)",
    .grad_formula = "dx = broadcast(dy) * argmax_mask(-x, axes)   (first arg-min on ties)",
};

/* ---- logsumexp ---- */

/*
 * The shift of a stable logsumexp: the maximum, or 0 when it is infinite, as
 * PyTorch's: a row of -inf gives log 0 = -inf, a row holding +inf gives +inf
 * (never inf - inf). A NaN maximum stays and makes the result NaN.
 */
#define LSE_SHIFT(m)   ((m) - (m) == 0 || (m) != (m) ? (m) : 0)
/* e^(v - shift), for RUN_SUM_OF in the kernel below */
#define EXP_SHIFTED(v) NBI_EXP((v)-shift)

/*
 * x[O, R1, K, R2, I] -> y[O, K, I]: the maximum, then Σ e^(x - shift) in
 * double; runs of R2 when I == 1, chunks of rows of I otherwise.
 */
NBI_TYPED(logsumexp_kernel, (const void *xv, void *yv, blocks b), {
    const T *x = xv;
    T *y = yv;
    for (size_t o = 0; o < b.o; o++) {
        for (size_t k = 0; k < b.k; k++) {
            const T *xb = x + (o * b.r1 * b.k + k) * b.r2 * b.in;
            T *yb = y + (o * b.k + k) * b.in;
            if (b.in == 1) {
                T m = xb[0];
                for (size_t a = 0; a < b.r1; a++) {
                    const T *run = xb + a * b.k * b.r2;
                    for (size_t r = 0; r < b.r2; r++) {
                        FOLD(TAKES_MAX, m, run[r]);
                    }
                }
                const T shift = LSE_SHIFT(m);
                double total = 0;
                for (size_t a = 0; a < b.r1; a++) {
                    RUN_SUM_OF(T, xb + a * b.k * b.r2, b.r2, total, EXP_SHIFTED);
                }
                yb[0] = (T)(log(total) + (double)shift);
                continue;
            }
            for (size_t i0 = 0; i0 < b.in; i0 += ROW_CHUNK) {
                size_t c = b.in - i0 < ROW_CHUNK ? b.in - i0 : ROW_CHUNK;
                T m[ROW_CHUNK];
                double acc[ROW_CHUNK];
                for (size_t j = 0; j < c; j++) {
                    m[j] = xb[i0 + j];
                    acc[j] = 0;
                }
                for (size_t a = 0; a < b.r1; a++) {
                    for (size_t r = 0; r < b.r2; r++) {
                        const T *row = xb + (a * b.k * b.r2 + r) * b.in + i0;
                        for (size_t j = 0; j < c; j++) {
                            FOLD(TAKES_MAX, m[j], row[j]);
                        }
                    }
                }
                for (size_t j = 0; j < c; j++) {
                    m[j] = LSE_SHIFT(m[j]);
                }
                for (size_t a = 0; a < b.r1; a++) {
                    for (size_t r = 0; r < b.r2; r++) {
                        const T *row = xb + (a * b.k * b.r2 + r) * b.in + i0;
                        for (size_t j = 0; j < c; j++) {
                            acc[j] += (double)NBI_EXP(row[j] - m[j]);
                        }
                    }
                }
                for (size_t j = 0; j < c; j++) {
                    yb[i0 + j] = (T)(log(acc[j]) + (double)m[j]);
                }
            }
        }
    }
})

static nb_status logsumexp_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, logsumexp_kernel, y->in[0]->data, y->data, blocks_for_kernel(y));
    return NB_OK;
}

/* dx = e^(x - y) dy, y and dy broadcast back over the reduced axes */
static void logsumexp_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    nb_node *p = nb_exp(g, nb_sub(g, x, keep_shape(g, y, y)));
    dx[0] = nbi_chain(g, keep_shape(g, y, dy), p);
}

nb_node *nb_logsumexp(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_LOGSUMEXP, x, 1, &axis, keepdims);
}

nb_node *nb_logsumexp_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims)
{
    return reduce(g, NBI_OP_LOGSUMEXP, x, n, axes, keepdims);
}

AXES_BUILD(logsumexp, NBI_OP_LOGSUMEXP)

const nbi_op nbi_op_logsumexp = {
    .name = "logsumexp",
    .symbol = "lse",
    .arity = 1,
    .forward = logsumexp_forward,
    .grad = logsumexp_grad,
    .label = reduce_label,
    .build = logsumexp_build,
    .attrs = { AXES_ATTRS },
    .n_attrs = 2,
    .formula = "y = m + log Σ e^(x - m) over the axes, m = max x (0 if infinite)",
    .grad_formula = "dx = e^(x - y) * broadcast(dy)",
};

/* ---- var ---- */

/* The divisor N - correction, at least 0, as PyTorch's: 0 makes inf or NaN. */
static double var_divisor(const nb_node *y)
{
    double d = (double)reduced_count(y) - y->attr[2].f;
    return d > 0 ? d : 0;
}

/* (v - mean)², for RUN_SUM_OF in the kernel below */
#define SQUARED_DEVIATION(v) (((v)-mean) * ((v)-mean))

/*
 * x[O, R1, K, R2, I] -> y[O, K, I]: two passes in double, the mean and then
 * Σ (x - mean)², so large means lose no digits (one-pass Σx² - (Σx)²/N would).
 */
NBI_TYPED(var_kernel, (const void *xv, void *yv, blocks b, double divisor), {
    const T *x = xv;
    T *y = yv;
    const double n = (double)(b.r1 * b.r2);
    for (size_t o = 0; o < b.o; o++) {
        for (size_t k = 0; k < b.k; k++) {
            const T *xb = x + (o * b.r1 * b.k + k) * b.r2 * b.in;
            T *yb = y + (o * b.k + k) * b.in;
            if (b.in == 1) {
                double total = 0;
                for (size_t a = 0; a < b.r1; a++) {
                    RUN_SUM(T, xb + a * b.k * b.r2, b.r2, total);
                }
                const T mean = (T)(total / n);
                double ss = 0;
                for (size_t a = 0; a < b.r1; a++) {
                    RUN_SUM_OF(T, xb + a * b.k * b.r2, b.r2, ss, SQUARED_DEVIATION);
                }
                yb[0] = (T)(ss / divisor);
                continue;
            }
            for (size_t i0 = 0; i0 < b.in; i0 += ROW_CHUNK) {
                size_t c = b.in - i0 < ROW_CHUNK ? b.in - i0 : ROW_CHUNK;
                double mean[ROW_CHUNK], ss[ROW_CHUNK];
                for (size_t j = 0; j < c; j++) {
                    mean[j] = 0;
                    ss[j] = 0;
                }
                for (size_t a = 0; a < b.r1; a++) {
                    for (size_t r = 0; r < b.r2; r++) {
                        const T *row = xb + (a * b.k * b.r2 + r) * b.in + i0;
                        for (size_t j = 0; j < c; j++) {
                            mean[j] += row[j];
                        }
                    }
                }
                for (size_t j = 0; j < c; j++) {
                    mean[j] /= n;
                }
                for (size_t a = 0; a < b.r1; a++) {
                    for (size_t r = 0; r < b.r2; r++) {
                        const T *row = xb + (a * b.k * b.r2 + r) * b.in + i0;
                        for (size_t j = 0; j < c; j++) {
                            double d = (double)row[j] - mean[j];
                            ss[j] += d * d;
                        }
                    }
                }
                for (size_t j = 0; j < c; j++) {
                    yb[i0 + j] = (T)(ss[j] / divisor);
                }
            }
        }
    }
})

static nb_status var_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, var_kernel, y->in[0]->data, y->data, blocks_for_kernel(y), var_divisor(y));
    return NB_OK;
}

/*
 * dx = 2 (x - mean) / (N - c) * dy: exact, as Σ (x - mean) = 0 cancels the
 * mean's own dependence on x. The divisor is the forward's, so N - c <= 0
 * gives inf or NaN (PyTorch's backward divides by a negative N - c instead).
 */
static void var_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int axes[NB_MAX_RANK];
    const nbi_attr *a = &y->attr[0];
    nb_node *centered = nb_sub(g, x, nb_mean_axes(g, x, a->n, axes_of(a, axes), true));
    nb_node *local = nb_mul(g, centered, nbi_scalar_cached(g, y->dtype, 2.0 / var_divisor(y)));
    dx[0] = nbi_chain(g, keep_shape(g, y, dy), local);
}

nb_node *nb_var_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims,
                     double correction)
{
    if (correction != correction && nbi_check_inputs(g, "var", 1, &x)) {
        nbi_fail(g, NB_ERR_ARG, "var", 1, &x, "the correction is NaN");
        return NULL;
    }
    nb_node *y = reduce(g, NBI_OP_VAR, x, n, axes, keepdims);
    if (y) {
        y->attr[2].f = correction;
    }
    return y;
}

nb_node *nb_var(nb_graph *g, nb_node *x, int axis, bool keepdims, double correction)
{
    return nb_var_axes(g, x, 1, &axis, keepdims, correction);
}

static nb_node *var_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    int axes[NBI_ATTR_LIST];
    return nb_var_axes(g, in[0], attr[0].n, axes_of(&attr[0], axes), attr[1].i != 0, attr[2].f);
}

const nbi_op nbi_op_var = {
    .name = "var",
    .symbol = "var",
    .arity = 1,
    .forward = var_forward,
    .grad = var_grad,
    .label = reduce_label,
    .build = var_build,
    .attrs = { AXES_ATTRS, { "correction", NBI_ATTR_FLOAT, 1 } },
    .n_attrs = 3,
    .formula = "y = Σ (x - mean x)² / max(0, N - correction) over the axes (N elements)",
    .grad_formula = "dx = 2 (x - mean x) / max(0, N - correction) * broadcast(dy)",
};

/* ---- argmax_mask ---- */

/*
 * x[O, R1, K, R2, I] -> y of x's shape, zeroed, with a 1 at the first maximum
 * (row-major) of each reduced set: runs of R2 when I == 1, rows of I otherwise.
 */
NBI_TYPED(argmax_kernel, (const void *xv, void *yv, blocks b), {
    const T *x = xv;
    T *y = yv;
    memset(y, 0, b.o * b.r1 * b.k * b.r2 * b.in * sizeof(T));
    for (size_t o = 0; o < b.o; o++) {
        for (size_t k = 0; k < b.k; k++) {
            size_t base = (o * b.r1 * b.k + k) * b.r2 * b.in;
            const T *xb = x + base;
            if (b.in == 1) {
                size_t best = 0;
                T m = xb[0];
                for (size_t a = 0; a < b.r1; a++) {
                    const T *run = xb + a * b.k * b.r2;
                    for (size_t r = 0; r < b.r2; r++) {
                        if (TAKES_MAX(run[r], m) && m == m) {
                            m = run[r];
                            best = a * b.k * b.r2 + r;
                        }
                    }
                }
                y[base + best] = 1;
                continue;
            }
            for (size_t i0 = 0; i0 < b.in; i0 += ROW_CHUNK) {
                size_t c = b.in - i0 < ROW_CHUNK ? b.in - i0 : ROW_CHUNK;
                T m[ROW_CHUNK];
                size_t best[ROW_CHUNK];
                for (size_t j = 0; j < c; j++) {
                    m[j] = xb[i0 + j];
                    best[j] = 0;
                }
                for (size_t a = 0; a < b.r1; a++) {
                    for (size_t r = 0; r < b.r2; r++) {
                        size_t off = (a * b.k * b.r2 + r) * b.in;
                        const T *row = xb + off + i0;
                        for (size_t j = 0; j < c; j++) {
                            if (TAKES_MAX(row[j], m[j]) && m[j] == m[j]) {
                                m[j] = row[j];
                                best[j] = off;
                            }
                        }
                    }
                }
                for (size_t j = 0; j < c; j++) {
                    y[base + best[j] + i0 + j] = 1;
                }
            }
        }
    }
})

static nb_status argmax_mask_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, argmax_kernel, y->in[0]->data, y->data, blocks_for_kernel(y));
    return NB_OK;
}

nb_node *nb_argmax_mask_axes(nb_graph *g, nb_node *x, int n, const int *axes)
{
    if (!nbi_check_inputs(g, "argmax_mask", 1, &x) || !nbi_check_float(g, "argmax_mask", 1, &x)) {
        return NULL;
    }
    if (n == 0) {
        nbi_fail(g, NB_ERR_AXIS, "argmax_mask", 1, &x, "no axes given");
        return NULL;
    }
    nbi_attr a;
    unsigned mask;
    if (!check_axes(g, "argmax_mask", x, n, axes, &a, &mask)) {
        return NULL;
    }
    nb_node *y = nbi_node_new(g, NBI_OP_ARGMAX_MASK, x->dtype, x->rank, x->shape, x, NULL);
    if (y) {
        y->attr[0] = a;
    }
    return y;
}

nb_node *nb_argmax_mask(nb_graph *g, nb_node *x, int axis)
{
    return nb_argmax_mask_axes(g, x, 1, &axis);
}

static nb_node *argmax_mask_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    int axes[NBI_ATTR_LIST];
    return nb_argmax_mask_axes(g, in[0], attr[0].n, axes_of(&attr[0], axes));
}

const nbi_op nbi_op_argmax_mask = {
    .name = "argmax_mask",
    .symbol = "argmax",
    .arity = 1,
    .forward = argmax_mask_forward,
    .label = reduce_label,
    .build = argmax_mask_build,
    .attrs = { { "axes", NBI_ATTR_INTS, .required = true } },
    .n_attrs = 1,
    .formula = "y = 1 at the first maximum (row-major) over the axes, 0 elsewhere",
    .grad_formula = "dx = 0",
};
