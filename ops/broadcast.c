/*
 * ops/broadcast.c: broadcast_to and sum_to, each other's gradient, and the
 * broadcast iterator every elementwise kernel uses.
 */
#include "kernel.h"

/* Strides of x as seen from out's shape: aligned right, 0 where x broadcasts. */
static void strides_in(const nb_node *out, const nb_node *x, int64_t *s)
{
    int64_t step = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        int xi = i - (out->rank - x->rank);
        if (xi >= 0 && x->shape[xi] != 1) {
            s[i] = step;
        } else {
            s[i] = 0;
        }
        if (xi >= 0) {
            step *= x->shape[xi];
        }
    }
}

void nbi_bcast_init(nbi_bcast *it, const nb_node *out, const nb_node *a, const nb_node *b)
{
    int64_t dim[NB_MAX_RANK], sa[NB_MAX_RANK], sb[NB_MAX_RANK];
    int r = out->rank;
    strides_in(out, a, sa);
    if (b) {
        strides_in(out, b, sb);
    } else {
        memset(sb, 0, sizeof sb);
    }
    memcpy(dim, out->shape, (size_t)r * sizeof *dim);
    /* drop size-1 dims, then merge dims that are contiguous for both operands */
    int m = 0;
    for (int i = 0; i < r; i++) {
        if (dim[i] == 1) {
            continue;
        }
        if (m > 0 && sa[m - 1] == sa[i] * dim[i] && sb[m - 1] == sb[i] * dim[i]) {
            dim[m - 1] *= dim[i];
            sa[m - 1] = sa[i];
            sb[m - 1] = sb[i];
            continue;
        }
        dim[m] = dim[i];
        sa[m] = sa[i];
        sb[m] = sb[i];
        m++;
    }
    /* right-align into four levels; missing outer levels loop once */
    int pad = 4 - m;
    for (int i = 0; i < 4; i++) {
        int j = i - pad;
        it->dim[i] = j >= 0 ? dim[j] : 1;
        it->sa[i] = j >= 0 ? sa[j] : 0;
        it->sb[i] = j >= 0 ? sb[j] : 0;
    }
    if (m == 0) { /* a scalar: one element */
        it->sa[3] = it->sb[3] = 1;
    }
}

/* ---- running elementwise kernels, on several threads when large ---- */

typedef struct binary_work {
    const nbi_bcast *it;
    nbi_binary_fn *fn;
    const unsigned char *a, *b;
    unsigned char *y;
    size_t es;
    int axis; /* the level split between threads: the outermost with more than one index */
} binary_work;

static void binary_part(void *ctx, int k, int nt)
{
    const binary_work *w = ctx;
    nbi_bcast sub = *w->it;
    int j = w->axis;
    int64_t d = sub.dim[j], per = (d + nt - 1) / nt;
    if (j == 3) {
        per = (per + 15) / 16 * 16; /* whole vectors */
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
    w->fn(&sub, w->a + (size_t)(lo * sub.sa[j]) * w->es, w->b + (size_t)(lo * sub.sb[j]) * w->es,
          w->y + (size_t)(lo * ystride) * w->es);
}

void nbi_binary_run(const nbi_bcast *it, nbi_binary_fn *fn, const void *a, const void *b, void *y,
                    size_t es)
{
    int64_t n = it->dim[0] * it->dim[1] * it->dim[2] * it->dim[3];
    int threads = n >= NBI_PAR_MIN ? nbi_threads() : 1;
    if (threads == 1) {
        fn(it, a, b, y);
        return;
    }
    binary_work w = { it, fn, a, b, y, es, 0 };
    while (w.axis < 3 && it->dim[w.axis] == 1) {
        w.axis++;
    }
    nbi_parallel(threads, binary_part, &w);
}

typedef struct unary_work {
    nbi_unary_fn *fn;
    const unsigned char *x;
    unsigned char *y;
    size_t n, es;
} unary_work;

static void unary_part(void *ctx, int k, int nt)
{
    const unary_work *w = ctx;
    size_t per = ((w->n + (size_t)nt - 1) / (size_t)nt + 15) / 16 * 16; /* whole vectors */
    size_t lo = (size_t)k * per < w->n ? (size_t)k * per : w->n;
    size_t hi = lo + per < w->n ? lo + per : w->n;
    if (lo < hi) {
        w->fn(hi - lo, w->x + lo * w->es, w->y + lo * w->es);
    }
}

void nbi_unary_run(nbi_unary_fn *fn, size_t n, const void *x, void *y, size_t es)
{
    int threads = n >= NBI_PAR_MIN ? nbi_threads() : 1;
    if (threads == 1) {
        fn(n, x, y);
        return;
    }
    unary_work w = { fn, x, y, n, es };
    nbi_parallel(threads, unary_part, &w);
}

/* Checks that `from` broadcasts to `to` (NumPy rules, one direction). */
static bool broadcasts_to(int rf, const int64_t *from, int rt, const int64_t *to)
{
    if (rf > rt) {
        return false;
    }
    for (int i = 0; i < rf; i++) {
        int64_t f = from[rf - 1 - i], t = to[rt - 1 - i];
        if (f != t && f != 1) {
            return false;
        }
    }
    return true;
}

static nb_node *build(nb_graph *g, int op, nb_node *x, int rank, const int64_t *shape)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    size_t count;
    if (rank < 0 || rank > NB_MAX_RANK) {
        nbi_fail(g, NB_ERR_RANK, name, 1, &x, "target rank %d is outside 0..%d", rank, NB_MAX_RANK);
        return NULL;
    }
    if (rank > 0 && !shape) {
        nbi_fail(g, NB_ERR_ARG, name, 1, &x, "the target shape is NULL for rank %d", rank);
        return NULL;
    }
    char want[96], have[96];
    nbi_format_shape(rank, shape, want, sizeof want);
    nbi_format_shape(x->rank, x->shape, have, sizeof have);
    if (!nbi_shape_count(rank, shape, &count)) {
        nbi_fail(g, NB_ERR_SHAPE, name, 1, &x, "target shape %s is not valid", want);
        return NULL;
    }
    bool ok = op == NBI_OP_BROADCAST_TO ? broadcasts_to(x->rank, x->shape, rank, shape)
                                        : broadcasts_to(rank, shape, x->rank, x->shape);
    if (!ok) {
        if (op == NBI_OP_BROADCAST_TO) {
            nbi_fail(g, NB_ERR_SHAPE, name, 1, &x, "shape %s cannot be broadcast to %s", have,
                     want);
        } else {
            nbi_fail(g, NB_ERR_SHAPE, name, 1, &x, "shape %s cannot be summed to %s", have, want);
        }
        return NULL;
    }
    return nbi_node_new(g, op, x->dtype, rank, shape, x, NULL);
}

nb_node *nb_broadcast_to(nb_graph *g, nb_node *x, int rank, const int64_t *shape)
{
    return build(g, NBI_OP_BROADCAST_TO, x, rank, shape);
}

nb_node *nb_sum_to(nb_graph *g, nb_node *x, int rank, const int64_t *shape)
{
    return build(g, NBI_OP_SUM_TO, x, rank, shape);
}

/* ---- broadcast_to ---- */

NBI_TYPED(bcast_copy, (const nbi_bcast *it, const void *xv, void *yv), {
    const T *x = xv;
    T *y = yv;
    NBI_BCAST_ROWS(it, T, x, x, y, {
        if (it->sa[3]) {
            for (int64_t k = 0; k < n; k++) {
                py[k] = pa[k];
            }
        } else {
            for (int64_t k = 0; k < n; k++) {
                py[k] = pa[0];
            }
        }
    });
})

static nb_status broadcast_to_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nbi_bcast it;
    nbi_bcast_init(&it, y, y->in[0], NULL);
    NBI_DISPATCH(y, bcast_copy, &it, y->in[0]->data, y->data);
    return NB_OK;
}

static void broadcast_to_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    dx[0] = nb_sum_to(g, dy, x->rank, x->shape);
}

const nbi_op nbi_op_broadcast_to = {
    .name = "broadcast_to",
    .symbol = "bcast",
    .arity = 1,
    .forward = broadcast_to_forward,
    .grad = broadcast_to_grad,
    .formula = "y = x repeated along broadcast axes",
    .grad_formula = "dx = sum_to(dy, shape(x))",
};

/* ---- sum_to ---- */

/* Iterates over x (the larger shape); pa walks y with broadcast strides. */
NBI_TYPED(sum_into, (const nbi_bcast *it, void *yv, const void *xv, size_t ny), {
    T *y = yv;
    const T *x = xv;
    for (size_t i = 0; i < ny; i++) {
        y[i] = 0;
    }
    int64_t n_ = it->dim[3], r_ = 0;
    for (int64_t i0 = 0; i0 < it->dim[0]; i0++) {
        for (int64_t i1 = 0; i1 < it->dim[1]; i1++) {
            for (int64_t i2 = 0; i2 < it->dim[2]; i2++, r_++) {
                T *py = y + i0 * it->sa[0] + i1 * it->sa[1] + i2 * it->sa[2];
                const T *px = x + r_ * n_;
                if (it->sa[3]) {
                    for (int64_t k = 0; k < n_; k++) {
                        py[k] += px[k];
                    }
                } else {
                    T acc[8] = { 0 };
                    int64_t k = 0;
                    for (; k + 8 <= n_; k += 8) {
                        for (int j = 0; j < 8; j++) {
                            acc[j] += px[k + j];
                        }
                    }
                    for (; k < n_; k++) {
                        acc[0] += px[k];
                    }
                    py[0] += ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                             ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                }
            }
        }
    }
})

static nb_status sum_to_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    nbi_bcast it;
    nbi_bcast_init(&it, x, y, NULL);
    NBI_DISPATCH(y, sum_into, &it, y->data, x->data, nbi_node_count(y));
    return NB_OK;
}

static void sum_to_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    dx[0] = nb_broadcast_to(g, dy, x->rank, x->shape);
}

const nbi_op nbi_op_sum_to = {
    .name = "sum_to",
    .symbol = "Σ→",
    .arity = 1,
    .forward = sum_to_forward,
    .grad = sum_to_grad,
    .formula = "y = x summed over the axes broadcasting added",
    .grad_formula = "dx = broadcast_to(dy, shape(x))",
};
