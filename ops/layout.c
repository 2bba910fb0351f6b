/*
 * ops/layout.c: layout ops (concat, slice, slice_grad, pad, permute). Each
 * forward is one strided box copy (below) between its input and its output:
 * the box is simplified first, so whole rows move with memcpy, a permute that
 * moves the last axis is copied in cache tiles, and only a step along the
 * last axis copies element by element. Every gradient rule is another layout
 * op, so second derivatives are layout ops too.
 */
#include "kernel.h"

#include <stdint.h>

/* ---- the strided box copy ---- */

/*
 * A box of elements: element (i0, ..., i[rank-1]) is read at src + Σ i_k ss[k]
 * and written at dst + Σ i_k ds[k] (strides in elements).
 */
typedef struct box {
    int rank;
    int64_t dim[NB_MAX_RANK];
    int64_t ss[NB_MAX_RANK], ds[NB_MAX_RANK];
} box;

/* Row-major strides of a shape. */
static void strides_of(int rank, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int k = rank - 1; k >= 0; k--) {
        st[k] = s;
        s *= shape[k];
    }
}

/*
 * Drops the dimensions of size 1 and merges each dimension into the one
 * before it when both src and dst are contiguous across them, so a concat or
 * a step-1 slice becomes a few long runs. Leaves at least one dimension.
 */
static void box_simplify(box *b)
{
    int r = 0;
    for (int k = 0; k < b->rank; k++) {
        if (b->dim[k] == 1) {
            continue;
        }
        if (r > 0 && b->ss[r - 1] == b->ss[k] * b->dim[k] && b->ds[r - 1] == b->ds[k] * b->dim[k]) {
            b->dim[r - 1] *= b->dim[k];
            b->ss[r - 1] = b->ss[k];
            b->ds[r - 1] = b->ds[k];
        } else {
            b->dim[r] = b->dim[k];
            b->ss[r] = b->ss[k];
            b->ds[r] = b->ds[k];
            r++;
        }
    }
    if (r == 0) {
        b->dim[0] = 1;
        b->ss[0] = b->ds[0] = 1;
        r = 1;
    }
    b->rank = r;
}

/*
 * Runs BODY once for each index of the first `outer` dimensions of box b with
 * so and dso the element offsets of that index in src and dst; the offsets
 * are carried from one index to the next (no multiplications per index).
 */
#define BOX_OUTER(b, outer, so, dso, BODY)                                                         \
    do {                                                                                           \
        int64_t i_[NB_MAX_RANK] = { 0 }, so = 0, dso = 0;                                          \
        int64_t rows_ = 1;                                                                         \
        for (int k_ = 0; k_ < (outer); k_++) {                                                     \
            rows_ *= (b)->dim[k_];                                                                 \
        }                                                                                          \
        for (int64_t r_ = 0; r_ < rows_; r_++) {                                                   \
            BODY;                                                                                  \
            for (int k_ = (outer)-1; k_ >= 0; k_--) {                                              \
                so += (b)->ss[k_];                                                                 \
                dso += (b)->ds[k_];                                                                \
                if (++i_[k_] < (b)->dim[k_]) {                                                     \
                    break;                                                                         \
                }                                                                                  \
                so -= (b)->ss[k_] * (b)->dim[k_];                                                  \
                dso -= (b)->ds[k_] * (b)->dim[k_];                                                 \
                i_[k_] = 0;                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Rows: the last dimension of the box, contiguous in both (memcpy) or strided. */
NBI_TYPED(box_rows, (const box *b, const void *sv, void *dv), {
    const T *s = sv;
    T *d = dv;
    int r = b->rank;
    int64_t n = b->dim[r - 1], st = b->ss[r - 1], dt = b->ds[r - 1];
    BOX_OUTER(b, r - 1, so, dso, {
        const T *sp = s + so;
        T *dp = d + dso;
        if (st == 1 && dt == 1) {
            memcpy(dp, sp, (size_t)n * sizeof(T));
        } else if (dt == 1) {
            for (int64_t k = 0; k < n; k++) {
                dp[k] = sp[k * st];
            }
        } else {
            for (int64_t k = 0; k < n; k++) {
                dp[k * dt] = sp[k * st];
            }
        }
    });
})

/*
 * Tiles: dimension rank-2 is contiguous in src and rank-1 in dst (a permute
 * that moves the last axis). 32x32 tiles keep the strided side of the copy
 * within a few cache lines, as transpose does.
 */
NBI_TYPED(box_tiles, (const box *b, const void *sv, void *dv), {
    const T *s = sv;
    T *d = dv;
    int r = b->rank;
    const int64_t tile = 32;
    int64_t na = b->dim[r - 2], nb = b->dim[r - 1];
    int64_t da = b->ds[r - 2], sb = b->ss[r - 1];
    BOX_OUTER(b, r - 2, so, dso, {
        const T *sp = s + so;
        T *dp = d + dso;
        for (int64_t a0 = 0; a0 < na; a0 += tile) {
            int64_t a1 = a0 + tile < na ? a0 + tile : na;
            for (int64_t b0 = 0; b0 < nb; b0 += tile) {
                int64_t b1 = b0 + tile < nb ? b0 + tile : nb;
                for (int64_t a = a0; a < a1; a++) {
                    for (int64_t k = b0; k < b1; k++) {
                        dp[a * da + k] = sp[a + k * sb];
                    }
                }
            }
        }
    });
})

/* Copies box b (elements of dtype) from src to dst, choosing rows or tiles. */
static void box_copy(int dtype, box b, const void *src, void *dst)
{
    box_simplify(&b);
    int r = b.rank;
    bool f32 = dtype == NB_DTYPE_F32;
    if (r >= 2 && b.ss[r - 1] != 1 && b.ds[r - 1] == 1) {
        /* the rows are strided in src: tile with the dimension that is contiguous there */
        for (int j = r - 2; j >= 0; j--) {
            if (b.ss[j] == 1) {
                box t = b;
                for (int k = j; k < r - 2; k++) { /* move j next to the last; order is free */
                    t.dim[k] = b.dim[k + 1];
                    t.ss[k] = b.ss[k + 1];
                    t.ds[k] = b.ds[k + 1];
                }
                t.dim[r - 2] = b.dim[j];
                t.ss[r - 2] = b.ss[j];
                t.ds[r - 2] = b.ds[j];
                if (f32) {
                    box_tiles_f32(&t, src, dst);
                } else {
                    box_tiles_f64(&t, src, dst);
                }
                return;
            }
        }
    }
    if (f32) {
        box_rows_f32(&b, src, dst);
    } else {
        box_rows_f64(&b, src, dst);
    }
}

/* A box of shape `shape`, contiguous on both sides; callers restride one side. */
static box box_of(int rank, const int64_t *shape)
{
    box b = { .rank = rank };
    for (int k = 0; k < rank; k++) {
        b.dim[k] = shape[k];
    }
    strides_of(rank, shape, b.ss);
    memcpy(b.ds, b.ss, sizeof b.ds);
    return b;
}

NBI_TYPED(fill_kernel, (size_t n, void *yv, double value), {
    T *y = yv;
    const T v = (T)value;
    for (size_t i = 0; i < n; i++) {
        y[i] = v;
    }
})

/* Sets every element of y to value (memset for +0). */
static void fill_node(nb_node *y, double value)
{
    if (value == 0 && !signbit(value)) {
        memset(y->data, 0, nbi_node_bytes(y));
    } else {
        NBI_DISPATCH(y, fill_kernel, nbi_node_count(y), y->data, value);
    }
}

static void *elem_at(const nb_node *n, int64_t offset)
{
    return (char *)n->data + offset * (int64_t)nbi_dtype_size(n->dtype);
}

/* ---- concat ---- */

static nb_status concat_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    int axis = (int)y->attr[0].i;
    int64_t yst[NB_MAX_RANK], off = 0;
    strides_of(y->rank, y->shape, yst);
    for (int i = 0; i < y->arity; i++) {
        nb_node *x = y->in[i];
        box b = box_of(x->rank, x->shape);
        memcpy(b.ds, yst, sizeof yst);
        box_copy(y->dtype, b, x->data, elem_at(y, off * yst[axis]));
        off += x->shape[axis];
    }
    return NB_OK;
}

/*
 * More inputs than a node takes: concats of NB_MAX_ARITY inputs at a time,
 * joined again until one is left (a lone input at the end of a level passes
 * up as it is). The inputs were checked, so only memory can fail.
 */
static nb_node *concat_groups(nb_graph *g, int n, nb_node *const *xs, int axis)
{
    int m = (n + NB_MAX_ARITY - 1) / NB_MAX_ARITY;
    nb_node **level = nbi_mem_alloc(g, (size_t)m * sizeof *level);
    if (!level) {
        nbi_fail_nomem(g, "concat");
        return NULL;
    }
    for (int i = 0, j = 0; i < n; i += NB_MAX_ARITY) {
        int k = n - i < NB_MAX_ARITY ? n - i : NB_MAX_ARITY;
        level[j++] = k == 1 ? xs[i] : nb_concat(g, k, xs + i, axis);
    }
    for (int t = m; t > 1;) {
        int j = 0;
        for (int i = 0; i < t; i += NB_MAX_ARITY) {
            int k = t - i < NB_MAX_ARITY ? t - i : NB_MAX_ARITY;
            level[j++] = k == 1 ? level[i] : nb_concat(g, k, level + i, axis);
        }
        t = j;
    }
    nb_node *y = g->status == NB_OK ? level[0] : NULL;
    nbi_mem_free(g, level, (size_t)m * sizeof *level);
    return y;
}

nb_node *nb_concat(nb_graph *g, int n, nb_node *const *xs, int axis)
{
    if (!g || g->status != NB_OK) {
        return NULL;
    }
    if (n < 1 || !xs) {
        if (n >= 1) {
            nbi_fail(g, NB_ERR_ARG, "concat", 0, NULL, "xs is NULL for %d inputs", n);
        } else {
            nbi_fail(g, NB_ERR_ARG, "concat", 0, NULL, "%d inputs; concat takes 1 or more", n);
        }
        return NULL;
    }
    if (!nbi_check_inputs(g, "concat", n, xs) || !nbi_check_float(g, "concat", n, xs)) {
        return NULL;
    }
    nb_node *x0 = xs[0];
    if (x0->rank == 0) {
        nbi_fail(g, NB_ERR_RANK, "concat", n, xs, "input 1 is a scalar, which has no axis to join");
        return NULL;
    }
    int a;
    if (!nbi_check_axis(g, "concat", x0, axis, &a)) {
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, x0->shape, (size_t)x0->rank * sizeof *shape);
    for (int i = 1; i < n; i++) {
        nb_node *x = xs[i];
        if (x->rank != x0->rank) {
            nbi_fail(g, NB_ERR_RANK, "concat", n, xs, "input %d has rank %d where input 1 has %d",
                     i + 1, x->rank, x0->rank);
            return NULL;
        }
        for (int k = 0; k < x->rank; k++) {
            if (k != a && x->shape[k] != x0->shape[k]) {
                nbi_fail(g, NB_ERR_SHAPE, "concat", n, xs,
                         "input %d has size %lld on axis %d where input 1 has %lld; only axis %d "
                         "may differ",
                         i + 1, (long long)x->shape[k], k, (long long)x0->shape[k], a);
                return NULL;
            }
        }
        shape[a] += x->shape[a]; /* at most (2^31 - 1) * (2^31 - 1): no overflow */
    }
    if (n > NB_MAX_ARITY) {
        return concat_groups(g, n, xs, a);
    }
    nb_node *y = nbi_node_newv(g, NBI_OP_CONCAT, x0->dtype, x0->rank, shape, n, xs);
    if (y) {
        y->attr[0].i = a;
    }
    return y;
}

static nb_node *concat_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    return nb_concat(g, n, in, (int)attr[0].i);
}

/* each input's gradient is its own slab of dy along the axis */
static void concat_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    int axis = (int)y->attr[0].i;
    int64_t off = 0;
    for (int i = 0; i < y->arity; i++) {
        int64_t len = y->in[i]->shape[axis];
        if (need[i]) {
            dx[i] = nb_slice(g, dy, axis, off, off + len, 1);
        }
        off += len;
    }
}

const nbi_op nbi_op_concat = {
    .name = "concat",
    .symbol = "concat",
    .arity = NBI_VARIADIC,
    .attrs = { { "axis", NBI_ATTR_INT, 0 } },
    .n_attrs = 1,
    .build = concat_build,
    .forward = concat_forward,
    .grad = concat_grad,
    .formula = "y = x1, x2, ... joined along axis (torch.cat)",
    .grad_formula = "dxi = slice(dy, axis, oi, oi + len_i), oi the sum of the earlier lengths",
};

/* ---- slice ---- */

/* y = x[..., start::step, ...]: y's elements, read from x on a strided axis */
static nb_status slice_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    int axis = (int)y->attr[0].i;
    box b = box_of(y->rank, y->shape);
    strides_of(x->rank, x->shape, b.ss);
    int64_t at = y->attr[1].i * b.ss[axis];
    b.ss[axis] *= y->attr[3].i;
    box_copy(y->dtype, b, elem_at(x, at), y->data);
    return NB_OK;
}

/* Normalises start for an axis of size (negative counts from the end); false outside it. */
static bool check_start(nb_graph *g, const char *op, nb_node *x, int axis, int64_t size,
                        int64_t start, int64_t *out)
{
    int64_t s = start < 0 ? start + size : start;
    if (s < 0 || s >= size) {
        nbi_fail(g, NB_ERR_ARG, op, 1, &x, "start %lld is %s of axis %d (size %lld)",
                 (long long)start, s < 0 ? "before the start" : "past the end", axis,
                 (long long)size);
        return false;
    }
    *out = s;
    return true;
}

static bool check_step(nb_graph *g, const char *op, nb_node *x, int64_t step)
{
    if (step < 1) {
        nbi_fail(g, NB_ERR_ARG, op, 1, &x, "step %lld is not 1 or more", (long long)step);
        return false;
    }
    return true;
}

nb_node *nb_slice(nb_graph *g, nb_node *x, int axis, int64_t start, int64_t stop, int64_t step)
{
    if (!nbi_check_inputs(g, "slice", 1, &x) || !nbi_check_float(g, "slice", 1, &x)) {
        return NULL;
    }
    int a;
    int64_t s;
    if (!nbi_check_axis(g, "slice", x, axis, &a) || !check_step(g, "slice", x, step) ||
        !check_start(g, "slice", x, a, x->shape[a], start, &s)) {
        return NULL;
    }
    int64_t size = x->shape[a];
    int64_t e = stop < 0 ? stop + size : stop; /* stop < INT64_MIN + size cannot be passed */
    e = e < 0 ? 0 : e > size ? size : e;       /* clamped, as Python's slices */
    if (e <= s) {
        nbi_fail(g, NB_ERR_SHAPE, "slice", 1, &x,
                 "start %lld and stop %lld select nothing of axis %d (size %lld); a slice keeps "
                 "at least one element",
                 (long long)start, (long long)stop, a, (long long)size);
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, x->shape, (size_t)x->rank * sizeof *shape);
    shape[a] = (e - s - 1) / step + 1;
    nb_node *y = nbi_node_new(g, NBI_OP_SLICE, x->dtype, x->rank, shape, x, NULL);
    if (y) {
        /* normalised, so equal slices are equal nodes; a stop at the end is the default */
        y->attr[0].i = a;
        y->attr[1].i = s;
        y->attr[2].i = e == size ? NB_SLICE_END : e;
        y->attr[3].i = step;
    }
    return y;
}

static nb_node *slice_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_slice(g, in[0], (int)attr[0].i, attr[1].i, attr[2].i, attr[3].i);
}

static void slice_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    dx[0] = nb_slice_grad(g, dy, x->rank, x->shape, (int)y->attr[0].i, y->attr[1].i, y->attr[3].i);
}

const nbi_op nbi_op_slice = {
    .name = "slice",
    .symbol = "slice",
    .arity = 1,
    .attrs = { { "axis", NBI_ATTR_INT, 0, .shown = true },
               { "start", NBI_ATTR_INT, 0 },
               { "stop", NBI_ATTR_INT, NB_SLICE_END, .def_word = "end" },
               { "step", NBI_ATTR_INT, 1 } },
    .n_attrs = 4,
    .build = slice_build,
    .forward = slice_forward,
    .grad = slice_grad,
    .formula = "y = x[..., start:stop:step, ...] on axis (stop clamped to the end, its default)",
    .grad_formula = "dx = slice_grad(dy, shape(x), axis, start, step)",
};

/* ---- slice_grad ---- */

static nb_status slice_grad_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *dy = y->in[0];
    int axis = (int)y->attr[1].i;
    fill_node(y, 0);
    box b = box_of(dy->rank, dy->shape);
    strides_of(y->rank, y->shape, b.ds);
    int64_t at = y->attr[2].i * b.ds[axis];
    b.ds[axis] *= y->attr[3].i;
    box_copy(y->dtype, b, dy->data, elem_at(y, at));
    return NB_OK;
}

nb_node *nb_slice_grad(nb_graph *g, nb_node *dy, int x_rank, const int64_t *x_shape, int axis,
                       int64_t start, int64_t step)
{
    if (!nbi_check_inputs(g, "slice_grad", 1, &dy) || !nbi_check_float(g, "slice_grad", 1, &dy)) {
        return NULL;
    }
    if (x_rank != dy->rank) {
        nbi_fail(g, NB_ERR_RANK, "slice_grad", 1, &dy, "x_rank %d is not dy's rank %d", x_rank,
                 dy->rank);
        return NULL;
    }
    if (!x_shape && x_rank > 0) {
        nbi_fail(g, NB_ERR_ARG, "slice_grad", 1, &dy, "x_shape is NULL for rank %d", x_rank);
        return NULL;
    }
    int a;
    int64_t s;
    if (!nbi_check_axis(g, "slice_grad", dy, axis, &a) || !check_step(g, "slice_grad", dy, step)) {
        return NULL;
    }
    char want[96];
    nbi_format_shape(x_rank, x_shape, want, sizeof want);
    for (int k = 0; k < x_rank; k++) {
        if (x_shape[k] < 1 || x_shape[k] > INT32_MAX || (k != a && x_shape[k] != dy->shape[k])) {
            nbi_fail(g, NB_ERR_SHAPE, "slice_grad", 1, &dy,
                     "x_shape %s is not dy's shape with axis %d resized", want, a);
            return NULL;
        }
    }
    int64_t size = x_shape[a], len = dy->shape[a];
    if (!check_start(g, "slice_grad", dy, a, size, start, &s)) {
        return NULL;
    }
    if ((size - 1 - s) / step + 1 < len) {
        nbi_fail(g, NB_ERR_SHAPE, "slice_grad", 1, &dy,
                 "%lld elements from start %lld by step %lld run past the end of axis %d (size "
                 "%lld)",
                 (long long)len, (long long)start, (long long)step, a, (long long)size);
        return NULL;
    }
    nb_node *y = nbi_node_new(g, NBI_OP_SLICE_GRAD, dy->dtype, x_rank, x_shape, dy, NULL);
    if (y) {
        y->attr[0].n = x_rank;
        for (int k = 0; k < x_rank; k++) {
            y->attr[0].list[k] = (int32_t)x_shape[k];
        }
        y->attr[1].i = a;
        y->attr[2].i = s;
        y->attr[3].i = step;
    }
    return y;
}

static nb_node *slice_grad_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    int64_t shape[NBI_ATTR_LIST];
    for (int k = 0; k < attr[0].n; k++) {
        shape[k] = attr[0].list[k];
    }
    return nb_slice_grad(g, in[0], attr[0].n, shape, (int)attr[1].i, attr[2].i, attr[3].i);
}

/* the adjoint of placing dy is taking it back out: a slice */
static void slice_grad_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    int axis = (int)y->attr[1].i;
    int64_t start = y->attr[2].i, step = y->attr[3].i, len = y->in[0]->shape[axis];
    dx[0] = nb_slice(g, dy, axis, start, start + (len - 1) * step + 1, step);
}

const nbi_op nbi_op_slice_grad = {
    .name = "slice_grad",
    .symbol = "slice_grad",
    .arity = 1,
    .attrs = { { "shape", NBI_ATTR_INTS, 0, true },
               { "axis", NBI_ATTR_INT, 0, true },
               { "start", NBI_ATTR_INT, 0 },
               { "step", NBI_ATTR_INT, 1 } },
    .n_attrs = 4,
    .build = slice_grad_build,
    .inputs = "dy",
    .forward = slice_grad_forward,
    .grad = slice_grad_grad,
    .formula = "y' = zeros(shape) with y'[..., start::step, ...] = dy on axis (slice's gradient)",
    .grad_formula = "d(dy) = slice(d, axis, start, start + (len(dy) - 1) * step + 1, step)",
};

/* ---- pad ---- */

static nb_status pad_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    const nbi_attr *pads = &y->attr[0];
    fill_node(y, y->attr[1].f);
    box b = box_of(x->rank, x->shape);
    strides_of(y->rank, y->shape, b.ds);
    int64_t off = 0;
    for (int k = 0; k < pads->n / 2; k++) {
        off += pads->list[2 * k] * b.ds[k];
    }
    box_copy(y->dtype, b, x->data, elem_at(y, off));
    return NB_OK;
}

nb_node *nb_pad(nb_graph *g, nb_node *x, int n, const int64_t *pads, double value)
{
    if (!nbi_check_inputs(g, "pad", 1, &x) || !nbi_check_float(g, "pad", 1, &x)) {
        return NULL;
    }
    if (n < 0 || n % 2 != 0) {
        nbi_fail(g, NB_ERR_ARG, "pad", 1, &x, "%d pads are not (before, after) pairs", n);
        return NULL;
    }
    if (n / 2 > x->rank) {
        nbi_fail(g, NB_ERR_ARG, "pad", 1, &x, "%d pads are %d pairs, more than rank %d", n, n / 2,
                 x->rank);
        return NULL;
    }
    if (n > 0 && !pads) {
        nbi_fail(g, NB_ERR_ARG, "pad", 1, &x, "pads is NULL for %d pads", n);
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, x->shape, (size_t)x->rank * sizeof *shape);
    for (int i = 0; i < n; i++) {
        if (pads[i] < 0) {
            nbi_fail(g, NB_ERR_ARG, "pad", 1, &x, "pads[%d] is %lld; pads are >= 0 (slice to crop)",
                     i, (long long)pads[i]);
            return NULL;
        }
        if (pads[i] > INT32_MAX || shape[i / 2] + pads[i] > INT32_MAX) {
            nbi_fail(g, NB_ERR_SHAPE, "pad", 1, &x,
                     "pads[%d] = %lld makes axis %d longer than 2^31-1", i, (long long)pads[i],
                     i / 2);
            return NULL;
        }
        shape[i / 2] += pads[i];
    }
    nb_node *y = nbi_node_new(g, NBI_OP_PAD, x->dtype, x->rank, shape, x, NULL);
    if (y) {
        y->attr[0].n = n;
        for (int i = 0; i < n; i++) {
            y->attr[0].list[i] = (int32_t)pads[i];
        }
        y->attr[1].f = value;
    }
    return y;
}

static nb_node *pad_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    int64_t pads[NBI_ATTR_LIST];
    for (int k = 0; k < attr[0].n; k++) {
        pads[k] = attr[0].list[k];
    }
    return nb_pad(g, in[0], attr[0].n, pads, attr[1].f);
}

/* the padding takes no gradient: slice x's place back out of dy, axis by axis */
static void pad_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0], *d = dy;
    const nbi_attr *pads = &y->attr[0];
    for (int k = 0; k < pads->n / 2; k++) {
        int64_t before = pads->list[2 * k];
        if (before != 0 || pads->list[2 * k + 1] != 0) {
            d = nb_slice(g, d, k, before, before + x->shape[k], 1);
        }
    }
    dx[0] = d;
}

const nbi_op nbi_op_pad = {
    .name = "pad",
    .symbol = "pad",
    .arity = 1,
    .attrs = { { "pads", NBI_ATTR_INTS, 0, true }, { "value", NBI_ATTR_FLOAT, 0 } },
    .n_attrs = 2,
    .build = pad_build,
    .forward = pad_forward,
    .grad = pad_grad,
    .formula = "y = x with pads[2k] values before and pads[2k+1] after it on axis k, from axis 0",
    .grad_formula = "dx = slice(dy, k, pads[2k], pads[2k] + shape(x)[k]) on each padded axis k",
};

/* ---- permute ---- */

static nb_status permute_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    int64_t xst[NB_MAX_RANK];
    strides_of(x->rank, x->shape, xst);
    box b = box_of(y->rank, y->shape);
    for (int k = 0; k < y->rank; k++) {
        b.ss[k] = xst[y->attr[0].list[k]];
    }
    box_copy(y->dtype, b, x->data, y->data);
    return NB_OK;
}

nb_node *nb_permute(nb_graph *g, nb_node *x, int n, const int *perm)
{
    if (!nbi_check_inputs(g, "permute", 1, &x) || !nbi_check_float(g, "permute", 1, &x)) {
        return NULL;
    }
    if (n != x->rank) {
        nbi_fail(g, NB_ERR_ARG, "permute", 1, &x, "perm has %d entries for rank %d", n, x->rank);
        return NULL;
    }
    if (n > 0 && !perm) {
        nbi_fail(g, NB_ERR_ARG, "permute", 1, &x, "perm is NULL for rank %d", n);
        return NULL;
    }
    int p[NB_MAX_RANK];
    bool seen[NB_MAX_RANK] = { false };
    int64_t shape[NB_MAX_RANK];
    for (int k = 0; k < n; k++) {
        p[k] = perm[k] < 0 ? perm[k] + n : perm[k];
        if (p[k] < 0 || p[k] >= n) {
            nbi_fail(g, NB_ERR_AXIS, "permute", 1, &x, "perm[%d] = %d is out of range for rank %d",
                     k, perm[k], n);
            return NULL;
        }
        if (seen[p[k]]) {
            nbi_fail(g, NB_ERR_ARG, "permute", 1, &x, "perm names axis %d twice", p[k]);
            return NULL;
        }
        seen[p[k]] = true;
        shape[k] = x->shape[p[k]];
    }
    nb_node *y = nbi_node_new(g, NBI_OP_PERMUTE, x->dtype, x->rank, shape, x, NULL);
    if (y) {
        y->attr[0].n = n;
        for (int k = 0; k < n; k++) {
            y->attr[0].list[k] = p[k];
        }
    }
    return y;
}

static nb_node *permute_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    int perm[NBI_ATTR_LIST];
    for (int k = 0; k < attr[0].n; k++) {
        perm[k] = attr[0].list[k];
    }
    return nb_permute(g, in[0], attr[0].n, perm);
}

/* y's axis k is x's axis perm[k], so dy goes back by the inverse permutation */
static void permute_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    int inv[NB_MAX_RANK];
    for (int k = 0; k < y->rank; k++) {
        inv[y->attr[0].list[k]] = k;
    }
    dx[0] = nb_permute(g, dy, y->rank, inv);
}

const nbi_op nbi_op_permute = {
    .name = "permute",
    .symbol = "permute",
    .arity = 1,
    .attrs = { { "perm", NBI_ATTR_INTS, 0, true } },
    .n_attrs = 1,
    .build = permute_build,
    .forward = permute_forward,
    .grad = permute_grad,
    .formula = "y = x.permute(perm): axis k of y is axis perm[k] of x",
    .grad_formula = "dx = permute(dy, inverse of perm)",
};
