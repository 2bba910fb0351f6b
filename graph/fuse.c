/*
 * graph/fuse.c: the executor's one fused kernel. A matrix-vector product
 * z = X w, a chain of row-local elementwise ops from z to dz, and the
 * transposed product Xᵀ dz over the same X (a linear model's forward and
 * gradient, W4) run together in blocks of rows that stay in cache: per
 * block, z's rows, the chain on those rows (a BCE loss over them beside it,
 * sharing e^-|z| with the sigmoid of its gradient), and the block's share of
 * Xᵀ dz. X is then read from memory once per run instead of twice. The
 * planner asks this file to make each such region contiguous in its step
 * order (nbi_fuse_order), and once offsets are assigned to confirm that
 * block-wise execution cannot clobber a value (nbi_fuse_plan); the run loop
 * hands the region to nbi_fuse_run. Every node of the region is still
 * written to its whole buffer, so readers outside it see what the unfused
 * plan gives.
 *
 * Blocks hold about 512 KB of X, a quarter of this machine's L2, not an L1's
 * worth: each block's two BLIS calls and kernel calls cost about 0.3 µs, and
 * with 120-row blocks (32 KB) that made W4 (X 460 KB, already L2-resident
 * unfused) 12% slower than unfused, where one block is 3-6% faster and an X
 * of 5-25 MB, read twice from L3 unfused, 17-19% faster (docs/performance.md).
 *
 * Same bits as the unfused plan: each block's products are the same BLIS gemv
 * calls restricted to the block's rows (Xᵀ dz accumulated with beta = 1), and
 * a block is a whole number of BLIS's fusing factors (bli_cntx's DF and AF,
 * 8 on haswell), so BLIS visits the rows in the same chunks and adds them in
 * the same order; the elementwise kernels compute each element alone, and
 * the loss's partial sums take the same rows in the same order. Without
 * BLIS (NBI_PLAIN_GEMM, ops/gemm_plain.c) the products add the rows one at a
 * time in order, so blocks give the same bits there too.
 */
/* blis.h uses POSIX threads types, hidden by plain -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include "../ops/bce.h"    /* the loss's lanes, as its kernel sums them */
#include "../ops/kernel.h" /* NBI_TYPED, the fast exp and log1p */

#ifdef NBI_PLAIN_GEMM
#include "../ops/gemm_plain.h"
/* the plain loops have no context to pass */
#define GEMV_EX(ch, ...) bli_##ch##gemv(__VA_ARGS__)
#define CNTX             NULL
#else
#include <blis.h>
/*
 * The context is looked up once per run and passed to every block's call:
 * bli_?gemv would look it up again each time, a measurable share of a
 * 120-row block's work.
 */
#define GEMV_EX(ch, ...) bli_##ch##gemv_ex(__VA_ARGS__, cx, NULL)
#define CNTX             ((cntx_t *)bli_gks_query_cntx())
#endif

#define MAX_SPAN    4096   /* ids between the two products a region may span */
#define MAX_CHAIN   64     /* steps in a region */
#define MAX_SIDES   4      /* losses computed on the side of a region */
#define BLOCK_BYTES 524288 /* of X per block: a quarter of a 2 MB L2 */
#define NO_UNIT     UINT32_MAX

/* One fused region: steps k0 .. k0 + n - 1 of its plan. */
typedef struct fgroup {
    uint32_t k0, n;
    uint32_t ids[MAX_CHAIN]; /* node ids in run order: the first product, the chain, the second */
    size_t off[MAX_CHAIN];   /* workspace byte offset of each */
    int64_t rows, cols, block;
} fgroup;

struct nbi_fused {
    uint32_t n, cap;
    fgroup *g;
};

/* ---- the pattern ---- */

/* Ops that compute each element from the same element of their inputs, and nothing else. */
static bool row_local(int op)
{
    switch (op) {
    case NBI_OP_ADD:
    case NBI_OP_SUB:
    case NBI_OP_MUL:
    case NBI_OP_DIV:
    case NBI_OP_NEG:
    case NBI_OP_EXP:
    case NBI_OP_LOG:
    case NBI_OP_TANH:
    case NBI_OP_SIGMOID:
    case NBI_OP_RELU:
    case NBI_OP_SIGMOID_GRAD:
    case NBI_OP_TANH_GRAD:
    case NBI_OP_RELU_GRAD:
        return true;
    default:
        return false;
    }
}

static bool is_matrix(const nb_node *n, int64_t rows, int64_t cols)
{
    return n->rank == 2 && n->shape[0] == rows && n->shape[1] == cols;
}

/* The second product: Xᵀ dz, X [N,D] stored as is, dz [N,1]; the result [D,1]. */
static bool is_second(const nb_node *v)
{
    if (v->op != NBI_OP_MATMUL || !v->attr[0].i || v->attr[1].i) {
        return false;
    }
    const nb_node *x = v->in[0];
    return x->rank == 2 && is_matrix(v->in[1], x->shape[0], 1) && is_matrix(v, x->shape[1], 1) &&
           (v->dtype == NB_DTYPE_F32 || v->dtype == NB_DTYPE_F64);
}

/* The first product: X w, w [D,1], over the same X. */
static bool is_first(const nb_node *u, const nb_node *x)
{
    return u->op == NBI_OP_MATMUL && !u->attr[0].i && !u->attr[1].i && u->in[0] == x &&
           is_matrix(u->in[1], x->shape[1], 1) && is_matrix(u, x->shape[0], 1);
}

/*
 * A region between the first product m1 and the second m2 (their ids lo and
 * hi): in[i - lo] is 1 for the chain, the nodes on a path from m1 to m2's
 * vector (both ends included), 2 for a loss computed beside it; dep[i - lo]
 * is set for every node that depends on m1.
 * False when some node of the chain is not a row-local op over z's shape, or
 * reads anything but the chain, a scalar, or a value of z's shape computed
 * before m1 may run.
 */
static bool find_chain(nb_graph *g, const nb_node *m1, const nb_node *m2, uint8_t *in, uint8_t *dep)
{
    uint32_t lo = m1->id, hi = m2->id;
    memset(in, 0, hi - lo + 1);
    memset(dep, 0, hi - lo + 1);
    dep[0] = 1;
    for (uint32_t id = lo + 1; id <= hi; id++) {
        const nb_node *v = g->nodes[id];
        for (int i = 0; i < v->arity && !dep[id - lo]; i++) {
            uint32_t u = v->in[i]->id;
            dep[id - lo] = u >= lo && dep[u - lo];
        }
    }
    const nb_node *dz = m2->in[1];
    if (dz->id < lo || !dep[dz->id - lo]) {
        return false;
    }
    in[dz->id - lo] = 1;
    for (uint32_t id = dz->id; id > lo; id--) {
        const nb_node *v = g->nodes[id];
        if (!in[id - lo]) {
            continue;
        }
        if (!row_local(v->op) || v->dtype != m1->dtype || !nbi_same_shape(v, m1) ||
            nbi_ops[v->op]->scratch) {
            return false;
        }
        for (int i = 0; i < v->arity; i++) {
            const nb_node *u = v->in[i];
            if (u->id >= lo && dep[u->id - lo]) {
                in[u->id - lo] = 1; /* on the path: part of the chain */
            } else if (u->dtype != m1->dtype ||
                       (!nbi_same_shape(u, m1) && nbi_node_count(u) != 1)) {
                return false; /* broadcast along rows, or another dtype */
            }
        }
    }
    in[0] = 1;
    /*
     * The loss over the chain's rows, BCE with logits read nowhere in the
     * chain: a side output, its eight partial sums carried from block to block.
     */
    uint32_t steps = 1, sides = 0; /* the second product */
    for (uint32_t id = lo + 1; id < hi; id++) {
        const nb_node *v = g->nodes[id];
        if (!in[id - lo] && v->op == NBI_OP_BCE_LOGITS && sides < MAX_SIDES && v->in[0]->id >= lo &&
            in[v->in[0]->id - lo] == 1 && (v->in[1]->id < lo || !dep[v->in[1]->id - lo])) {
            in[id - lo] = 2;
            sides++;
        }
    }
    for (uint32_t id = lo; id < hi; id++) {
        steps += in[id - lo] != 0;
    }
    return steps <= MAX_CHAIN;
}

/*
 * The region whose second product is step k1, its first product no earlier
 * than step lo: the first product's step in *k0, the marks as find_chain's.
 * in and dep hold MAX_SPAN + 1 bytes.
 */
static bool find_region(nb_graph *g, const uint32_t *steps, uint32_t lo, uint32_t k1, uint32_t *k0,
                        uint8_t *in, uint8_t *dep)
{
    const nb_node *m2 = g->nodes[steps[k1]];
    if (!is_second(m2)) {
        return false;
    }
    for (uint32_t k = k1; k-- > lo;) {
        const nb_node *m1 = g->nodes[steps[k]];
        if (m2->id - m1->id > MAX_SPAN) {
            return false;
        }
        if (m1->id > m2->id || !is_first(m1, m2->in[0]) || !find_chain(g, m1, m2, in, dep)) {
            continue;
        }
        /* every step between lies in the id range, so the marks cover it */
        bool inside = true;
        for (uint32_t j = k + 1; j < k1 && inside; j++) {
            inside = steps[j] > m1->id && steps[j] < m2->id;
        }
        if (inside) {
            *k0 = k;
            return true;
        }
    }
    return false;
}

void nbi_fuse_order(nb_graph *g, uint32_t *steps, uint32_t n)
{
    if (g->no_fuse) {
        return;
    }
    uint8_t *in = NULL, *dep = NULL;
    uint32_t *tmp = NULL;
    uint32_t lo = 0;
    for (uint32_t k1 = 0; k1 < n; k1++) {
        if (!is_second(g->nodes[steps[k1]])) {
            continue;
        }
        if (!in) { /* plans without the pattern allocate nothing */
            in = nbi_mem_alloc(g, 2 * (MAX_SPAN + 1));
            tmp = nbi_mem_alloc(g, (MAX_SPAN + 1) * sizeof *tmp);
            if (!in || !tmp) {
                break; /* no memory: the plan stays unfused, which is as correct */
            }
            dep = in + MAX_SPAN + 1;
        }
        uint32_t k0;
        if (!find_region(g, steps, lo, k1, &k0, in, dep)) {
            continue;
        }
        /*
         * Steps between that do not depend on the first product go before it,
         * those that do (readers of the chain, such as the loss) after the
         * second: still a topological order, and the region is contiguous.
         */
        uint32_t base = g->nodes[steps[k0]]->id, t = 0;
        for (int pass = 0; pass < 3; pass++) {
            for (uint32_t j = k0; j <= k1; j++) {
                uint32_t id = steps[j], r = id - base;
                bool region = j == k0 || j == k1 || in[r];
                int want = region ? 1 : dep[r] ? 2 : 0;
                if (want != pass || (pass == 1 && in[r] >= 2)) { /* losses: placed below */
                    continue;
                }
                if (pass == 1) {
                    /*
                     * a loss goes just before the sigmoid of its logits, so
                     * the two share e^-|z| (the loss is read by nothing here,
                     * so it may run later); the others just before X'dz
                     */
                    const nb_node *v = g->nodes[id];
                    for (uint32_t q = k0 + 1; q < k1; q++) {
                        const nb_node *u = g->nodes[steps[q]];
                        if (in[steps[q] - base] == 2 &&
                            ((j == k1) || (v->op == NBI_OP_SIGMOID && v->in[0] == u->in[0]))) {
                            in[steps[q] - base] = 3; /* placed */
                            tmp[t++] = steps[q];
                        }
                    }
                }
                tmp[t++] = id;
            }
        }
        NBI_ASSERT(t == k1 - k0 + 1); /* a permutation of the steps between */
        memcpy(steps + k0, tmp, t * sizeof *tmp);
        lo = k1 + 1;
    }
    nbi_mem_free(g, in, in ? 2 * (MAX_SPAN + 1) : 0);
    nbi_mem_free(g, tmp, tmp ? (MAX_SPAN + 1) * sizeof *tmp : 0);
}

/* ---- the plan's groups ---- */

void nbi_fused_free(nb_graph *g, nbi_fused *f)
{
    if (!f) {
        return;
    }
    nbi_mem_free(g, f->g, f->cap * sizeof *f->g);
    nbi_mem_free(g, f, sizeof *f);
}

size_t nbi_fused_bytes(const nbi_fused *f)
{
    return f ? sizeof *f + f->cap * sizeof *f->g : 0;
}

/* A buffer the region reads or writes: its workspace bytes, and whether it has z's shape. */
typedef struct span {
    size_t lo, hi;
    bool row;
    bool acc; /* the second product's result, accumulated over the blocks */
} span;

/* Workspace offset of node v's storage in the plan, SIZE_MAX for leaves (their own memory). */
static size_t offset_of(const uint32_t *steps, const uint32_t *offsets, uint32_t n,
                        const nb_node *v, size_t unit)
{
    while (!nbi_is_leaf(v)) {
        for (uint32_t k = 0; k < n; k++) {
            if (steps[k] == v->id) {
                if (offsets[k] != NO_UNIT) {
                    return (size_t)offsets[k] * unit;
                }
                break;
            }
        }
        v = v->in[0]; /* a view: its storage is its source's */
    }
    return SIZE_MAX;
}

/*
 * True if running steps k0..k1 block by block reads and writes what running
 * them one by one does: two buffers of the region overlap only where they are
 * the same rows of z's shape (an op written over a dying input, or a block
 * reused after its last reader: row r is read before it is written in every
 * block), and the accumulated result overlaps nothing.
 */
static bool memory_safe(nb_graph *g, const uint32_t *steps, const uint32_t *offsets, uint32_t n,
                        uint32_t k0, uint32_t k1, size_t unit)
{
    span sp[3 * MAX_CHAIN];
    uint32_t ns = 0;
    const nb_node *m1 = g->nodes[steps[k0]];
    size_t row_bytes = nbi_node_bytes(m1);
    for (uint32_t k = k0; k <= k1; k++) {
        const nb_node *v = g->nodes[steps[k]];
        if (offsets[k] == NO_UNIT || ns + 1 + v->arity > sizeof sp / sizeof *sp) {
            return false;
        }
        size_t o = (size_t)offsets[k] * unit, b = nbi_node_bytes(v);
        /* the second product and the losses are accumulated over the blocks */
        bool acc = k == k1 || v->op == NBI_OP_BCE_LOGITS;
        sp[ns++] = (span){ o, o + b, !acc, acc };
        for (int i = 0; i < v->arity; i++) {
            const nb_node *u = v->in[i];
            size_t uo = offset_of(steps, offsets, n, u, unit);
            if (uo != SIZE_MAX) {
                size_t ub = nbi_node_bytes(u);
                sp[ns++] = (span){ uo, uo + ub, nbi_same_shape(u, m1) && ub == row_bytes, false };
            }
        }
    }
    for (uint32_t a = 0; a < ns; a++) {
        for (uint32_t b = a + 1; b < ns; b++) {
            if (sp[a].lo >= sp[b].hi || sp[b].lo >= sp[a].hi) {
                continue;
            }
            bool same_rows = sp[a].lo == sp[b].lo && sp[a].hi == sp[b].hi && sp[a].row && sp[b].row;
            if (!same_rows || sp[a].acc || sp[b].acc) {
                return false;
            }
        }
    }
    return true;
}

/* Rows per block: about BLOCK_BYTES of X, a whole number of BLIS's fusing factors. */
static int64_t block_rows(int64_t cols, bool f32)
{
    int64_t unit = 8; /* the partial sums of the BCE and norm kernels are 8 wide */
#ifndef NBI_PLAIN_GEMM
    cntx_t *c = (cntx_t *)bli_gks_query_cntx();
    num_t dt = f32 ? BLIS_FLOAT : BLIS_DOUBLE;
    int64_t df = (int64_t)bli_cntx_get_blksz_def_dt(dt, BLIS_DF, c);
    int64_t af = (int64_t)bli_cntx_get_blksz_def_dt(dt, BLIS_AF, c);
    for (int64_t q = 1; q <= 2; q++) { /* unit = lcm(8, df, af) */
        int64_t f = q == 1 ? df : af;
        if (f > 0) {
            int64_t a = unit, b = f;
            while (b) {
                int64_t r = a % b;
                a = b;
                b = r;
            }
            unit = unit / a * f;
        }
    }
#endif
    int64_t row = cols * (int64_t)(f32 ? sizeof(float) : sizeof(double));
    int64_t r = BLOCK_BYTES / (row > 0 ? row : 1) / unit * unit;
    return r < unit ? unit : r;
}

nbi_fused *nbi_fuse_plan(nb_graph *g, const uint32_t *steps, const uint32_t *offsets, uint32_t n,
                         size_t unit)
{
    if (g->no_fuse) {
        return NULL;
    }
    nbi_fused *f = NULL;
    uint8_t *in = NULL;
    uint32_t lo = 0;
    for (uint32_t k1 = 0; k1 < n; k1++) {
        if (!is_second(g->nodes[steps[k1]])) {
            continue;
        }
        if (!in && !(in = nbi_mem_alloc(g, 2 * (MAX_SPAN + 1)))) {
            break;
        }
        uint32_t k0;
        uint8_t *dep = in + MAX_SPAN + 1;
        if (!find_region(g, steps, lo, k1, &k0, in, dep)) {
            continue;
        }
        /* contiguous after nbi_fuse_order: the steps between are the chain alone */
        bool contiguous = true;
        uint32_t base = g->nodes[steps[k0]]->id;
        for (uint32_t j = k0 + 1; j < k1 && contiguous; j++) {
            contiguous = in[steps[j] - base];
        }
        if (!contiguous || !memory_safe(g, steps, offsets, n, k0, k1, unit)) {
            continue;
        }
        if (!f) { /* room for every second product of the plan */
            uint32_t cap = 0;
            for (uint32_t j = k1; j < n; j++) {
                cap += is_second(g->nodes[steps[j]]);
            }
            f = nbi_mem_alloc(g, sizeof *f);
            fgroup *arr = f ? nbi_mem_alloc(g, cap * sizeof *arr) : NULL;
            if (!arr) {
                nbi_mem_free(g, f, f ? sizeof *f : 0);
                f = NULL;
                break; /* no memory: the plan stays unfused, which is as correct */
            }
            *f = (nbi_fused){ .n = 0, .cap = cap, .g = arr };
        }
        NBI_ASSERT(f->n < f->cap);
        fgroup *gr = &f->g[f->n++];
        const nb_node *m2 = g->nodes[steps[k1]], *x = m2->in[0];
        gr->k0 = k0;
        gr->n = k1 - k0 + 1;
        gr->rows = x->shape[0];
        gr->cols = x->shape[1];
        gr->block = block_rows(gr->cols, m2->dtype == NB_DTYPE_F32);
        for (uint32_t j = 0; j < gr->n; j++) {
            gr->ids[j] = steps[k0 + j];
            gr->off[j] = (size_t)offsets[k0 + j] * unit;
        }
        lo = k1 + 1;
    }
    nbi_mem_free(g, in, in ? 2 * (MAX_SPAN + 1) : 0);
    return f;
}

/* ---- the loss beside the chain ---- */

/*
 * The loss over one block of rows is ops/bce.h's nbi_bce_block, in the
 * lanes the loss's kernel sums: blocks start at multiples of eight, so every
 * row lands in the lane and the order it lands in there. When the chain
 * takes the sigmoid of the same logits, this block computes both from one
 * e^-|z|: the loss's term and what sigmoid's kernel computes,
 * (z >= 0 ? 1 : e) / (1 + e), also in float64.
 */
NBI_TYPED(bce_sigmoid_block, (const void *zv, const void *tv, void *accv, void *sv, size_t n), {
    const T *z = zv, *t = tv;
    T acc[8], *s = sv; /* s may be z itself: sigmoid written over its input */
    memcpy(acc, accv, sizeof acc);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++) {
            T v = z[i + j], a = v < 0 ? -v : v, e = NBI_EXP(-a);
            acc[j] += NBI_BCE_TERM(T, v, t[i + j], e);
            s[i + j] = (v >= 0 ? (T)1 : e) / ((T)1 + e);
        }
    }
    for (; i < n; i++) {
        T v = z[i], a = v < 0 ? -v : v, e = NBI_EXP(-a);
        acc[0] += NBI_BCE_TERM(T, v, t[i], e);
        s[i] = (v >= 0 ? (T)1 : e) / ((T)1 + e);
    }
    memcpy(accv, acc, sizeof acc);
})

/* ---- running ---- */

/*
 * A block's view of node v: rows r0 .. r0 + nb - 1 of it, in *view (a copy of
 * the record with its own shape and data), unless v is a scalar of a region
 * of more than one row, read whole by every block.
 */
static nb_node *block_view(nb_node *view, int64_t *shape, nb_node *v, int64_t rows, int64_t r0,
                           int64_t nb)
{
    if (nbi_node_count(v) != (size_t)rows) {
        return v;
    }
    *view = *v;
    shape[0] = nb;
    shape[1] = 1;
    view->shape = shape;
    view->data = (unsigned char *)v->data + (size_t)r0 * nbi_dtype_size(v->dtype);
    return view;
}

nb_status nbi_fuse_run(nb_graph *g, const nbi_fused *f, uint32_t k, uint32_t *covered)
{
    void *cx = CNTX;
    (void)cx; /* unused without BLIS */
    *covered = 0;
    const fgroup *gr = NULL;
    for (uint32_t i = 0; i < f->n && !gr; i++) {
        gr = f->g[i].k0 == k ? &f->g[i] : NULL;
    }
    if (!gr || (nbi_threads() > 1 && gr->rows >= NBI_PAR_MIN)) {
        return NB_OK; /* large elementwise work runs on threads unfused */
    }
    for (uint32_t j = 0; j < gr->n; j++) {
        g->nodes[gr->ids[j]]->data = g->workspace + gr->off[j];
    }
    nb_node *m1 = g->nodes[gr->ids[0]], *m2 = g->nodes[gr->ids[gr->n - 1]];
    nb_node *x = m2->in[0];
    bool f32 = m1->dtype == NB_DTYPE_F32;
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int64_t rows = gr->rows, cols = gr->cols, step = gr->block;
    float accf[MAX_SIDES][8] = { { 0 } };
    double accd[MAX_SIDES][8] = { { 0 } };
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
        int64_t nb = rows - r0 < step ? rows - r0 : step;
        unsigned char *xb = (unsigned char *)x->data + (size_t)(r0 * cols) * es;
        unsigned char *zb = (unsigned char *)m1->data + (size_t)r0 * es;
        unsigned char *dzb = (unsigned char *)m2->in[1]->data + (size_t)r0 * es;
        /* z's rows: the first product's gemv on them (matmul_forward's call, fewer rows) */
        if (f32) {
            float one = 1, zero = 0;
            GEMV_EX(s, BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, nb, cols, &one, (float *)xb, cols, 1,
                    m1->in[1]->data, 1, &zero, (float *)zb, 1);
        } else {
            double one = 1, zero = 0;
            GEMV_EX(d, BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, nb, cols, &one, (double *)xb, cols, 1,
                    m1->in[1]->data, 1, &zero, (double *)zb, 1);
        }
        for (uint32_t j = 1, side = 0; j + 1 < gr->n; j++) {
            nb_node *v = g->nodes[gr->ids[j]];
            if (v->op == NBI_OP_BCE_LOGITS) {
                void *a = f32 ? (void *)accf[side] : (void *)accd[side];
                const unsigned char *zr = (const unsigned char *)v->in[0]->data + (size_t)r0 * es;
                const unsigned char *tr = (const unsigned char *)v->in[1]->data + (size_t)r0 * es;
                nb_node *s = g->nodes[gr->ids[j + 1]];
                if (s->op == NBI_OP_SIGMOID && s->in[0] == v->in[0]) {
                    void *sr = (unsigned char *)s->data + (size_t)r0 * es;
                    NBI_DISPATCH(v, bce_sigmoid_block, zr, tr, a, sr, (size_t)nb);
                    j++;
                } else {
                    NBI_DISPATCH(v, nbi_bce_block, zr, tr, a, (size_t)nb);
                }
                side++;
                continue;
            }
            nb_node yv, iv[2], *ins[2];
            int64_t ys[2], is[2][2];
            NBI_ASSERT(v->arity <= 2);
            for (int i = 0; i < v->arity; i++) {
                ins[i] = block_view(&iv[i], is[i], v->in[i], rows, r0, nb);
            }
            nb_node *y = block_view(&yv, ys, v, rows, r0, nb); /* v has z's shape */
            y->in = ins;
            nb_status st = nbi_ops[v->op]->forward(g, y);
            if (st != NB_OK) {
                return st;
            }
        }
        /* the block's share of Xᵀ dz, added in row order as the whole gemv adds it */
        if (f32) {
            float one = 1, beta = r0 == 0 ? 0.0f : 1.0f;
            GEMV_EX(s, BLIS_TRANSPOSE, BLIS_NO_CONJUGATE, nb, cols, &one, (float *)xb, cols, 1,
                    (float *)dzb, 1, &beta, m2->data, 1);
        } else {
            double one = 1, beta = r0 == 0 ? 0.0 : 1.0;
            GEMV_EX(d, BLIS_TRANSPOSE, BLIS_NO_CONJUGATE, nb, cols, &one, (double *)xb, cols, 1,
                    (double *)dzb, 1, &beta, m2->data, 1);
        }
    }
    for (uint32_t j = 1, side = 0; j + 1 < gr->n; j++) {
        nb_node *v = g->nodes[gr->ids[j]];
        if (v->op == NBI_OP_BCE_LOGITS) {
            void *a = f32 ? (void *)accf[side] : (void *)accd[side];
            NBI_DISPATCH(v, nbi_bce_finish, a, v->data, (size_t)rows);
            side++;
        }
    }
    g->fused_runs++;
    *covered = gr->n;
    return NB_OK;
}
