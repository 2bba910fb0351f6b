/*
 * ops/gather.c: indexing ops. gather (torch.index_select) picks slices along
 * an axis by i32 indices; scatter_add (index_add into zeros) is its adjoint,
 * so each is the other's gradient and second derivatives work; embedding
 * looks rows of a table up by i32 ids of any shape; argmax gives i32 indices.
 * Indices are checked when the op runs: a bad one fails the run with
 * NB_ERR_VALUE and leaves the graph usable.
 */
#include "kernel.h"

#include <stdio.h>

/* Requires idx to be an i32 tensor of rank 1. */
static bool check_indices(nb_graph *g, const char *op, int n, nb_node *const *in, nb_node *idx)
{
    if (idx->dtype != NB_DTYPE_I32) {
        nbi_fail(g, NB_ERR_DTYPE, op, n, in, "indices must be i32, not %s",
                 nb_dtype_name(idx->dtype));
        return false;
    }
    if (idx->rank != 1) {
        nbi_fail(g, NB_ERR_RANK, op, n, in, "indices must have rank 1, not %d", idx->rank);
        return false;
    }
    return true;
}

/*
 * Reports the first of idx's values outside 0..size-1 (PyTorch takes no
 * negative index in index_select, index_add or embedding either). what says
 * where size comes from: "axis 1 has size 3".
 */
static nb_status index_range(nb_graph *g, nb_node *y, nb_node *idx, int64_t size, const char *noun,
                             const char *what)
{
    const int32_t *v = idx->data;
    size_t n = nbi_node_count(idx);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= size) {
            return nbi_report(g, NB_ERR_VALUE, nbi_ops[y->op]->name, y->arity, y->in,
                              "%s %d at position %zu is outside 0..%lld (%s)", noun, (int)v[i], i,
                              (long long)size - 1, what);
        }
    }
    return NB_OK;
}

/*
 * Copies, for each of outer blocks, the rows idx[j] (of inner elements of es
 * bytes) of x[outer, len, inner] to row j of y[outer, n, inner]. Whole rows
 * go by memcpy; single elements by a typed loop, which memcpy per element
 * would make ten times slower.
 */
static void take_rows(const void *xv, const int32_t *idx, void *yv, size_t outer, size_t len,
                      size_t n, size_t inner, size_t es)
{
    const unsigned char *x = xv;
    unsigned char *y = yv;
    if (inner == 1 && es == 8) {
        const uint64_t *xs = xv;
        uint64_t *ys = yv;
        for (size_t o = 0; o < outer; o++) {
            for (size_t j = 0; j < n; j++) {
                ys[o * n + j] = xs[o * len + (size_t)idx[j]];
            }
        }
        return;
    }
    if (inner == 1) {
        const uint32_t *xs = xv;
        uint32_t *ys = yv;
        for (size_t o = 0; o < outer; o++) {
            for (size_t j = 0; j < n; j++) {
                ys[o * n + j] = xs[o * len + (size_t)idx[j]];
            }
        }
        return;
    }
    size_t row = inner * es;
    for (size_t o = 0; o < outer; o++) {
        for (size_t j = 0; j < n; j++) {
            memcpy(y + (o * n + j) * row, x + (o * len + (size_t)idx[j]) * row, row);
        }
    }
}

/* "axis 1 has size 3" */
static void axis_phrase(int axis, int64_t size, char *buf, size_t cap)
{
    snprintf(buf, cap, "axis %d has size %lld", axis, (long long)size);
}

/* ---- gather ---- */

static nb_status gather_forward(nb_graph *g, nb_node *y)
{
    nb_node *x = y->in[0], *idx = y->in[1];
    int axis = (int)y->attr[0].i;
    size_t outer, len, inner;
    nbi_axis_split(x, axis, &outer, &len, &inner);
    char what[64];
    axis_phrase(axis, (int64_t)len, what, sizeof what);
    nb_status s = index_range(g, y, idx, (int64_t)len, "index", what);
    if (s != NB_OK) {
        return s;
    }
    take_rows(x->data, idx->data, y->data, outer, len, nbi_node_count(idx), inner,
              nbi_dtype_size(x->dtype));
    return NB_OK;
}

nb_node *nb_gather(nb_graph *g, nb_node *x, nb_node *idx, int axis)
{
    nb_node *in[2] = { x, idx };
    if (!nbi_check_inputs(g, "gather", 2, in) || !check_indices(g, "gather", 2, in, idx)) {
        return NULL;
    }
    int a;
    if (!nbi_check_axis(g, "gather", x, axis, &a)) {
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, x->shape, (size_t)x->rank * sizeof *shape);
    shape[a] = idx->shape[0];
    nb_node *y = nbi_node_new(g, NBI_OP_GATHER, x->dtype, x->rank, shape, x, idx);
    if (y) {
        y->attr[0].i = a;
    }
    return y;
}

static nb_node *gather_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_gather(g, in[0], in[1], (int)attr[0].i);
}

/* y picks slices of x, so x's gradient adds dy's slices back where they came from */
static void gather_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    int axis = (int)y->attr[0].i;
    nb_node *x = y->in[0];
    dx[0] = nb_scatter_add(g, dy, y->in[1], axis, x->shape[axis]);
}

const nbi_op nbi_op_gather = {
    .name = "gather",
    .symbol = "gather",
    .arity = 2,
    .attrs = { { "axis", NBI_ATTR_INT, 0, .shown = true } },
    .n_attrs = 1,
    .build = gather_build,
    .inputs = "x, idx",
    .forward = gather_forward,
    .grad = gather_grad,
    .formula = "y[..., j, ...] = x[..., idx[j], ...] along axis (torch.index_select)",
    .grad_formula = "dx = scatter_add(dy, idx, axis, size of x's axis), didx = none",
};

/* ---- scatter_add ---- */

/* y[outer, size, inner] = 0, then y[o, idx[j], :] += s[o, j, :]: one zeroing pass, then the rows used. */
NBI_TYPED(scatter_kernel,
          (const void *sv, const int32_t *idx, void *yv, size_t outer, size_t n, size_t size,
           size_t inner),
          {
              const T *s = sv;
              T *y = yv;
              memset(y, 0, outer * size * inner * sizeof(T));
              for (size_t o = 0; o < outer; o++) {
                  for (size_t j = 0; j < n; j++) {
                      T *yr = y + (o * size + (size_t)idx[j]) * inner;
                      const T *sr = s + (o * n + j) * inner;
                      for (size_t i = 0; i < inner; i++) {
                          yr[i] += sr[i];
                      }
                  }
              }
          })

static nb_status scatter_add_forward(nb_graph *g, nb_node *y)
{
    nb_node *src = y->in[0], *idx = y->in[1];
    int axis = (int)y->attr[0].i;
    size_t outer, n, inner;
    nbi_axis_split(src, axis, &outer, &n, &inner);
    size_t size = (size_t)y->shape[axis];
    char what[64];
    snprintf(what, sizeof what, "the result has size %zu along axis %d", size, axis);
    nb_status s = index_range(g, y, idx, (int64_t)size, "index", what);
    if (s != NB_OK) {
        return s;
    }
    NBI_DISPATCH(y, scatter_kernel, src->data, idx->data, y->data, outer, n, size, inner);
    return NB_OK;
}

nb_node *nb_scatter_add(nb_graph *g, nb_node *src, nb_node *idx, int axis, int64_t size)
{
    nb_node *in[2] = { src, idx };
    if (!nbi_check_inputs(g, "scatter_add", 2, in) || !nbi_check_float(g, "scatter_add", 1, in) ||
        !check_indices(g, "scatter_add", 2, in, idx)) {
        return NULL;
    }
    int a;
    if (!nbi_check_axis(g, "scatter_add", src, axis, &a)) {
        return NULL;
    }
    if (idx->shape[0] != src->shape[a]) {
        nbi_fail(g, NB_ERR_SHAPE, "scatter_add", 2, in,
                 "%lld indices for %lld slices along axis %d; they must be as many",
                 (long long)idx->shape[0], (long long)src->shape[a], a);
        return NULL;
    }
    if (size < 1 || size > INT32_MAX) {
        nbi_fail(g, NB_ERR_SHAPE, "scatter_add", 2, in, "size %lld is not a valid dimension",
                 (long long)size);
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, src->shape, (size_t)src->rank * sizeof *shape);
    shape[a] = size;
    nb_node *y = nbi_node_new(g, NBI_OP_SCATTER_ADD, src->dtype, src->rank, shape, src, idx);
    if (y) {
        y->attr[0].i = a;
        y->attr[1].i = size;
    }
    return y;
}

static nb_node *scatter_add_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_scatter_add(g, in[0], in[1], (int)attr[0].i, attr[1].i);
}

/* linear in src: slice j of src lands in slice idx[j] of y, so it reads its gradient there */
static void scatter_add_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nb_gather(g, dy, y->in[1], (int)y->attr[0].i);
}

const nbi_op nbi_op_scatter_add = {
    .name = "scatter_add",
    .symbol = "scatter+",
    .arity = 2,
    .attrs = { { "axis", NBI_ATTR_INT, .required = true },
               { "size", NBI_ATTR_INT, .required = true } },
    .n_attrs = 2,
    .build = scatter_add_build,
    .inputs = "src, idx",
    .forward = scatter_add_forward,
    .grad = scatter_add_grad,
    .formula = "y = zeros with size along axis; y[..., idx[j], ...] += src[..., j, ...] "
               "(index_add)",
    .grad_formula = "dsrc = gather(dy, idx, axis), didx = none",
};

/* ---- embedding ---- */

static nb_status embedding_forward(nb_graph *g, nb_node *y)
{
    nb_node *ids = y->in[0], *table = y->in[1];
    int64_t rows = table->shape[0];
    char what[64];
    snprintf(what, sizeof what, "the table has %lld rows", (long long)rows);
    nb_status s = index_range(g, y, ids, rows, "id", what);
    if (s != NB_OK) {
        return s;
    }
    take_rows(table->data, ids->data, y->data, 1, (size_t)rows, nbi_node_count(ids),
              (size_t)table->shape[1], nbi_dtype_size(table->dtype));
    return NB_OK;
}

nb_node *nb_embedding(nb_graph *g, nb_node *ids, nb_node *table)
{
    nb_node *in[2] = { ids, table };
    if (!nbi_check_inputs(g, "embedding", 2, in)) {
        return NULL;
    }
    if (ids->dtype != NB_DTYPE_I32) {
        nbi_fail(g, NB_ERR_DTYPE, "embedding", 2, in, "ids must be i32, not %s",
                 nb_dtype_name(ids->dtype));
        return NULL;
    }
    if (!nbi_check_float(g, "embedding", 1, &in[1])) {
        return NULL;
    }
    if (table->rank != 2) {
        nbi_fail(g, NB_ERR_RANK, "embedding", 2, in, "the table must have rank 2 [V,D], not %d",
                 table->rank);
        return NULL;
    }
    if (ids->rank + 1 > NB_MAX_RANK) {
        nbi_fail(g, NB_ERR_RANK, "embedding", 2, in,
                 "ids of rank %d would give rank %d; the maximum is %d", ids->rank, ids->rank + 1,
                 NB_MAX_RANK);
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, ids->shape, (size_t)ids->rank * sizeof *shape);
    shape[ids->rank] = table->shape[1];
    return nbi_node_new(g, NBI_OP_EMBEDDING, table->dtype, ids->rank + 1, shape, ids, table);
}

static nb_node *embedding_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_embedding(g, in[0], in[1]);
}

/*
 * Row ids[i] of the table was copied to row i of y, so the table's gradient
 * adds dy's rows into the rows used: scatter_add over the ids flattened, never
 * a dense one-hot product (which would cost n * V * D).
 */
static void embedding_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *ids = y->in[0], *table = y->in[1];
    int64_t n = (int64_t)nbi_node_count(ids), d = table->shape[1];
    nb_node *flat = ids->rank == 1 ? ids : nb_reshape(g, ids, NB_SHAPE(n));
    nb_node *rows = ids->rank == 1 ? dy : nb_reshape(g, dy, NB_SHAPE(n, d));
    dx[1] = nb_scatter_add(g, rows, flat, 0, table->shape[0]);
}

const nbi_op nbi_op_embedding = {
    .name = "embedding",
    .symbol = "embed",
    .arity = 2,
    .build = embedding_build,
    .inputs = "ids, table",
    .forward = embedding_forward,
    .grad = embedding_grad,
    .formula = "y[s..., :] = table[ids[s...], :] (F.embedding)",
    .grad_formula = "dids = none, dtable = scatter_add(reshape(dy, [n, D]), reshape(ids, [n]), 0, "
                    "V)",
};

/* ---- argmax ---- */

/*
 * The first maximum along the axis; a NaN beats every number and the first
 * NaN wins, as torch.argmax (which treats NaN as the largest value).
 * x is [outer, len, inner], y [outer, inner].
 */
NBI_TYPED(argmax_kernel, (const void *xv, int32_t *y, size_t outer, size_t len, size_t inner), {
    const T *x = xv;
    for (size_t o = 0; o < outer; o++) {
        const T *xr = x + o * len * inner;
        int32_t *yr = y + o * inner;
        for (size_t i = 0; i < inner; i++) {
            yr[i] = 0;
        }
        for (size_t k = 1; k < len; k++) {
            for (size_t i = 0; i < inner; i++) {
                T v = xr[k * inner + i], m = xr[(size_t)yr[i] * inner + i];
                if ((v > m || v != v) && m == m) {
                    yr[i] = (int32_t)k;
                }
            }
        }
    }
})

static nb_status argmax_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    size_t outer, len, inner;
    nbi_axis_split(x, (int)y->attr[0].i, &outer, &len, &inner);
    NBI_DISPATCH(x, argmax_kernel, x->data, y->data, outer, len, inner);
    return NB_OK;
}

nb_node *nb_argmax(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    if (!nbi_check_inputs(g, "argmax", 1, &x) || !nbi_check_float(g, "argmax", 1, &x)) {
        return NULL;
    }
    int a;
    if (!nbi_check_axis(g, "argmax", x, axis, &a)) {
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != a) {
            shape[rank++] = x->shape[i];
        } else if (keepdims) {
            shape[rank++] = 1;
        }
    }
    nb_node *y = nbi_node_new(g, NBI_OP_ARGMAX, NB_DTYPE_I32, rank, shape, x, NULL);
    if (y) {
        y->attr[0].i = a;
        y->attr[1].i = keepdims;
    }
    return y;
}

static nb_node *argmax_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_argmax(g, in[0], (int)attr[0].i, attr[1].i != 0);
}

const nbi_op nbi_op_argmax = {
    .name = "argmax",
    .symbol = "argmax",
    .arity = 1,
    .attrs = { { "axis", NBI_ATTR_INT, .required = true }, { "keepdims", NBI_ATTR_BOOL } },
    .n_attrs = 2,
    .build = argmax_build,
    .forward = argmax_forward,
    .formula = "y = index of the first maximum along axis, i32 (a NaN counts as the maximum)",
    .grad_formula = "none (the result is integer)",
};
