/*
 * ops/matmul.c: matrix product on BLIS, 2-D and batched 3-D (a rank-2 operand
 * is shared by every batch). Transposes are flags handed to BLIS, never copies;
 * the gradient rules pick the flags that make each product a plain GEMM.
 */
/* blis.h uses POSIX threads types, hidden by plain -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "kernel.h"

/* The NB_TRANS_ flags of matmul node y, from its two attributes. */
static int trans_flags(const nb_node *y)
{
    return (y->attr[0].i ? NB_TRANS_A : 0) | (y->attr[1].i ? NB_TRANS_B : 0);
}

/* BLIS, or under NBI_PLAIN_GEMM (no BLIS: WebAssembly) plain loops with its API */
#ifdef NBI_PLAIN_GEMM
#include "gemm_plain.h"
#else
#include <blis.h>
#endif
#include <stdio.h>

typedef struct mm_dims {
    int64_t batch, m, n, k;
    int64_t a_rows, a_cols, b_rows, b_cols; /* stored (untransposed) matrices */
} mm_dims;

static mm_dims dims_of(const nb_node *a, const nb_node *b, int flags)
{
    mm_dims d;
    d.a_rows = a->shape[a->rank - 2];
    d.a_cols = a->shape[a->rank - 1];
    d.b_rows = b->shape[b->rank - 2];
    d.b_cols = b->shape[b->rank - 1];
    d.m = flags & NB_TRANS_A ? d.a_cols : d.a_rows;
    d.k = flags & NB_TRANS_A ? d.a_rows : d.a_cols;
    d.n = flags & NB_TRANS_B ? d.b_rows : d.b_cols;
    d.batch = a->rank == 3 ? a->shape[0] : b->rank == 3 ? b->shape[0] : 1;
    return d;
}

nb_node *nb_matmul_ex(nb_graph *g, nb_node *a, nb_node *b, int flags)
{
    nb_node *in[2] = { a, b };
    if (!nbi_check_inputs(g, "matmul", 2, in) || !nbi_check_float(g, "matmul", 2, in)) {
        return NULL;
    }
    if (flags & ~(NB_TRANS_A | NB_TRANS_B)) {
        nbi_fail(g, NB_ERR_ARG, "matmul", 2, in, "unknown flags 0x%x", (unsigned)flags);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (in[i]->rank != 2 && in[i]->rank != 3) {
            nbi_fail(g, NB_ERR_RANK, "matmul", 2, in,
                     "operand %d has rank %d; matmul takes rank 2 or 3 (batched)", i + 1,
                     in[i]->rank);
            return NULL;
        }
    }
    mm_dims d = dims_of(a, b, flags);
    int64_t k_b = flags & NB_TRANS_B ? d.b_cols : d.b_rows;
    if (d.k != k_b) {
        nbi_fail(g, NB_ERR_SHAPE, "matmul", 2, in, "inner dimensions %lld and %lld differ",
                 (long long)d.k, (long long)k_b);
        return NULL;
    }
    if (a->rank == 3 && b->rank == 3 && a->shape[0] != b->shape[0]) {
        nbi_fail(g, NB_ERR_SHAPE, "matmul", 2, in, "batch sizes %lld and %lld differ",
                 (long long)a->shape[0], (long long)b->shape[0]);
        return NULL;
    }
    int64_t shape[3];
    int rank = 0;
    if (a->rank == 3 || b->rank == 3) {
        shape[rank++] = d.batch;
    }
    shape[rank++] = d.m;
    shape[rank++] = d.n;
    nb_node *y = nbi_node_new(g, NBI_OP_MATMUL, a->dtype, rank, shape, a, b);
    if (y) {
        y->attr[0].i = (flags & NB_TRANS_A) != 0;
        y->attr[1].i = (flags & NB_TRANS_B) != 0;
    }
    return y;
}

/* BLIS picks its configuration (kernels, block sizes) for the CPU once, on first use */
const char *nb_blas_config(void)
{
#ifdef NBI_PLAIN_GEMM
    return "plain";
#else
    return bli_arch_string(bli_arch_query_id());
#endif
}

nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b)
{
    return nb_matmul_ex(g, a, b, 0);
}

/*
 * A product with one column (or one row) is a matrix-vector product: BLIS's
 * gemv reads the matrix once, where gemm would pack it first. The vector
 * operand is contiguous either way (a [k,1] or [1,k] matrix).
 *   n == 1: c[m] = op(a)[m,k] op(b)[k]
 *   m == 1: cᵀ[n] = op(b)ᵀ[n,k] op(a)ᵀ[k]
 */
static void gemv(nb_node *y, const nb_node *a, const nb_node *b, mm_dims d, int64_t m, int flags)
{
    bool ta = flags & NB_TRANS_A, tb = flags & NB_TRANS_B;
    const nb_node *mat = d.n == 1 ? a : b, *vec = d.n == 1 ? b : a;
    trans_t t = d.n == 1 ? (ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE)
                         : (tb ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE);
    /* BLIS takes the dimensions of the matrix as stored: transposed, that is k x rows */
    int64_t rows = d.n == 1 ? m : d.n, cols = d.k;
    if (t == BLIS_TRANSPOSE) {
        int64_t r = rows;
        rows = cols;
        cols = r;
    }
    int64_t rs = d.n == 1 ? d.a_cols : d.b_cols;
    if (y->dtype == NB_DTYPE_F32) {
        float one = 1, zero = 0;
        bli_sgemv(t, BLIS_NO_CONJUGATE, rows, cols, &one, mat->data, rs, 1, vec->data, 1, &zero,
                  y->data, 1);
    } else {
        double one = 1, zero = 0;
        bli_dgemv(t, BLIS_NO_CONJUGATE, rows, cols, &one, mat->data, rs, 1, vec->data, 1, &zero,
                  y->data, 1);
    }
}

static nb_status matmul_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *a = y->in[0], *b = y->in[1];
    int flags = trans_flags(y);
    mm_dims d = dims_of(a, b, flags);
    trans_t ta = flags & NB_TRANS_A ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    trans_t tb = flags & NB_TRANS_B ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    int64_t batch = d.batch, m = d.m;
    /* a stack of untransposed matrices times one shared matrix is one tall GEMM */
    if (a->rank == 3 && b->rank == 2 && !(flags & NB_TRANS_A)) {
        m *= batch;
        batch = 1;
    }
    size_t sa = a->rank == 3 && batch > 1 ? (size_t)(d.a_rows * d.a_cols) : 0;
    size_t sb = b->rank == 3 && batch > 1 ? (size_t)(d.b_rows * d.b_cols) : 0;
    size_t sc = (size_t)(m * d.n);
    if (batch == 1 && (d.n == 1 || m == 1)) {
        gemv(y, a, b, d, m, flags);
        return NB_OK;
    }
    for (int64_t i = 0; i < batch; i++) {
        if (y->dtype == NB_DTYPE_F32) {
            float one = 1, zero = 0;
            bli_sgemm(ta, tb, m, d.n, d.k, &one, (float *)a->data + i * sa, d.a_cols, 1,
                      (float *)b->data + i * sb, d.b_cols, 1, &zero, (float *)y->data + i * sc, d.n,
                      1);
        } else {
            double one = 1, zero = 0;
            bli_dgemm(ta, tb, m, d.n, d.k, &one, (double *)a->data + i * sa, d.a_cols, 1,
                      (double *)b->data + i * sb, d.b_cols, 1, &zero, (double *)y->data + i * sc,
                      d.n, 1);
        }
    }
    return NB_OK;
}

/* Sums a batched gradient over the batch when its operand was shared (rank 2). */
static nb_node *fold_batch(nb_graph *g, nb_node *d, const nb_node *operand)
{
    if (d && d->rank == 3 && operand->rank == 2) {
        return nb_sum_axis(g, d, 0, false);
    }
    return d;
}

/*
 * dy = c broadcast from a scalar (the gradient of sum(a @ b)) makes both
 * products rank-one: (c 1) op(b)ᵀ has every row equal to c times op(b)'s row
 * sums, and op(a)ᵀ (c 1) every column equal to c times op(a)'s column sums. So
 * no ones-matrix is materialized and no GEMM runs. For 2-D operands.
 */
static bool scalar_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *a = y->in[0], *b = y->in[1];
    if (dy->op != NBI_OP_BROADCAST_TO || dy->in[0]->rank != 0 || a->rank != 2 || b->rank != 2) {
        return false;
    }
    nb_node *c = dy->in[0];
    int f = trans_flags(y);
    bool ta = f & NB_TRANS_A, tb = f & NB_TRANS_B;
    if (need[0]) {
        /* row sums of op(b) as a column [k,1] (or a row [1,k] when a is stored transposed) */
        nb_node *r = nb_sum_axis(g, b, tb ? 0 : 1, true);
        if (!ta == !tb) { /* the sums lie along the wrong axis: turn them */
            r = nb_reshape(g, r, 2,
                           ta ? (int64_t[]){ a->shape[0], 1 } : (int64_t[]){ 1, a->shape[1] });
        }
        dx[0] = nb_broadcast_to(g, nbi_chain(g, c, r), a->rank, a->shape);
    }
    if (need[1]) {
        /* column sums of op(a) */
        nb_node *s = nb_sum_axis(g, a, ta ? 1 : 0, true);
        if (!ta == !tb) {
            s = nb_reshape(g, s, 2,
                           tb ? (int64_t[]){ 1, b->shape[1] } : (int64_t[]){ b->shape[0], 1 });
        }
        dx[1] = nb_broadcast_to(g, nbi_chain(g, c, s), b->rank, b->shape);
    }
    return true;
}

static void matmul_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *a = y->in[0], *b = y->in[1];
    int f = trans_flags(y);
    bool ta = f & NB_TRANS_A, tb = f & NB_TRANS_B;
    if (scalar_grad(g, y, dy, need, dx)) {
        return;
    }
    if (need[0]) {
        /* C = op(A) op(B): dA = dC op(B)ᵀ, transposed back when A was */
        nb_node *da = !ta ? nb_matmul_ex(g, dy, b, tb ? 0 : NB_TRANS_B)
                          : nb_matmul_ex(g, b, dy, tb ? NB_TRANS_A | NB_TRANS_B : NB_TRANS_B);
        dx[0] = fold_batch(g, da, a);
    }
    if (need[1]) {
        nb_node *db;
        if (!f && a->rank == 3 && b->rank == 2) {
            /* shared B under a stack of A: one GEMM over the flattened batch */
            mm_dims d = dims_of(a, b, f);
            int64_t a2[2] = { d.batch * d.m, d.k }, c2[2] = { d.batch * d.m, d.n };
            db = nb_matmul_ex(g, nb_reshape(g, a, 2, a2), nb_reshape(g, dy, 2, c2), NB_TRANS_A);
        } else {
            /* dB = op(A)ᵀ dC, transposed back when B was */
            db = !tb ? nb_matmul_ex(g, a, dy, ta ? 0 : NB_TRANS_A)
                     : nb_matmul_ex(g, dy, a, ta ? NB_TRANS_A | NB_TRANS_B : NB_TRANS_A);
        }
        dx[1] = fold_batch(g, db, b);
    }
}

static void matmul_label(const nb_node *y, char *buf, size_t cap)
{
    int f = trans_flags(y);
    snprintf(buf, cap, "%s",
             f == 0            ? ""
             : f == NB_TRANS_A ? "aᵀ @ b"
             : f == NB_TRANS_B ? "a @ bᵀ"
                               : "aᵀ @ bᵀ");
}

const nbi_op nbi_op_matmul = {
    .name = "matmul",
    .inputs = "a, b", /* not interchangeable: DOT labels the edges */
    .symbol = "@",
    .arity = 2,
    .forward = matmul_forward,
    .grad = matmul_grad,
    .label = matmul_label,
    .attrs = { { "transpose_a", NBI_ATTR_BOOL }, { "transpose_b", NBI_ATTR_BOOL } },
    .n_attrs = 2,
    .formula = "y = op(a) @ op(b), op = transpose when flagged",
    .grad_formula = "da = dy @ op(b)ᵀ, db = op(a)ᵀ @ dy (transposed back if flagged; "
                    "summed over the batch for a shared operand)",
};
