/*
 * ops/shape_ops.c: transpose (swap the last two axes) and reshape (a view:
 * same storage, new shape, no copy).
 */
#include "kernel.h"

/* ---- transpose ---- */

/* Tiles of 32x32 keep both the reads and the writes within cache lines. */
NBI_TYPED(transpose_kernel, (const void *xv, void *yv, size_t batch, size_t rows, size_t cols), {
    const T *x = xv;
    T *y = yv;
    const size_t tile = 32;
    for (size_t b = 0; b < batch; b++) {
        const T *xb = x + b * rows * cols;
        T *yb = y + b * rows * cols;
        for (size_t r0 = 0; r0 < rows; r0 += tile) {
            size_t r1 = r0 + tile < rows ? r0 + tile : rows;
            for (size_t c0 = 0; c0 < cols; c0 += tile) {
                size_t c1 = c0 + tile < cols ? c0 + tile : cols;
                for (size_t r = r0; r < r1; r++) {
                    for (size_t c = c0; c < c1; c++) {
                        yb[c * rows + r] = xb[r * cols + c];
                    }
                }
            }
        }
    }
})

static nb_status transpose_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    nb_node *x = y->in[0];
    size_t rows = (size_t)x->shape[x->rank - 2], cols = (size_t)x->shape[x->rank - 1];
    size_t batch = nbi_node_count(x) / (rows * cols);
    NBI_DISPATCH(y, transpose_kernel, x->data, y->data, batch, rows, cols);
    return NB_OK;
}

nb_node *nb_transpose(nb_graph *g, nb_node *x)
{
    if (!nbi_check_inputs(g, "transpose", 1, &x) || !nbi_check_float(g, "transpose", 1, &x)) {
        return NULL;
    }
    if (x->rank < 2) {
        nbi_fail(g, NB_ERR_RANK, "transpose", 1, &x,
                 "rank %d has no two axes to swap; transpose needs rank 2 or more", x->rank);
        return NULL;
    }
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, x->shape, (size_t)x->rank * sizeof *shape);
    shape[x->rank - 2] = x->shape[x->rank - 1];
    shape[x->rank - 1] = x->shape[x->rank - 2];
    return nbi_node_new(g, NBI_OP_TRANSPOSE, x->dtype, x->rank, shape, x, NULL);
}

static void transpose_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)y;
    (void)need;
    dx[0] = nb_transpose(g, dy);
}

const nbi_op nbi_op_transpose = {
    .name = "transpose",
    .symbol = "ᵀ",
    .arity = 1,
    .forward = transpose_forward,
    .grad = transpose_grad,
    .formula = "y = x with its last two axes swapped",
    .grad_formula = "dx = transpose(dy)",
};

/* ---- reshape ---- */

static nb_status reshape_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    (void)y; /* a view: the executor points y->data at the input's storage */
    return NB_OK;
}

nb_node *nb_reshape(nb_graph *g, nb_node *x, int rank, const int64_t *shape)
{
    /* any dtype, i32 too: a view copies nothing (embedding's gradient flattens its ids) */
    if (!nbi_check_inputs(g, "reshape", 1, &x)) {
        return NULL;
    }
    if (rank < 0 || rank > NB_MAX_RANK) {
        nbi_fail(g, NB_ERR_RANK, "reshape", 1, &x, "target rank %d is outside 0..%d", rank,
                 NB_MAX_RANK);
        return NULL;
    }
    if (rank > 0 && !shape) {
        nbi_fail(g, NB_ERR_ARG, "reshape", 1, &x, "the target shape is NULL for rank %d", rank);
        return NULL;
    }
    int64_t s[NB_MAX_RANK];
    int infer = -1;
    size_t known = 1, count = nbi_node_count(x);
    for (int i = 0; i < rank; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (s[i] < 1 || nbi_mul_overflows(known, (size_t)s[i], &known)) {
            char want[96];
            nbi_format_shape(rank, shape, want, sizeof want);
            nbi_fail(g, NB_ERR_SHAPE, "reshape", 1, &x,
                     "target shape %s is not valid (one -1 allowed, other dimensions >= 1)", want);
            return NULL;
        }
    }
    if (infer >= 0 && known > 0 && count % known == 0) {
        s[infer] = (int64_t)(count / known);
        known = count;
    }
    if (known != count) {
        char want[96];
        nbi_format_shape(rank, shape, want, sizeof want);
        nbi_fail(g, NB_ERR_SHAPE, "reshape", 1, &x, "cannot reshape %zu elements to %s", count,
                 want);
        return NULL;
    }
    return nbi_node_new(g, NBI_OP_RESHAPE, x->dtype, rank, s, x, NULL);
}

static void reshape_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    dx[0] = nb_reshape(g, dy, x->rank, x->shape);
}

const nbi_op nbi_op_reshape = {
    .name = "reshape",
    .symbol = "reshape",
    .arity = 1,
    .flags = NBI_OP_VIEW,
    .forward = reshape_forward,
    .grad = reshape_grad,
    .formula = "y = x viewed with a new shape (no copy)",
    .grad_formula = "dx = reshape(dy, shape(x))",
};

/* ---- stop_gradient ---- */

/*
 * The identity on values and a wall for gradients: a view of x (no copy),
 * whose record has no gradient rule, so nb_grad sends nothing back through it.
 * A recurrent network's carried state passed through it truncates
 * backpropagation through time there (torch's x.detach()).
 */
static nb_status stop_gradient_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    (void)y; /* a view: the executor points y->data at the input's storage */
    return NB_OK;
}

nb_node *nb_stop_gradient(nb_graph *g, nb_node *x)
{
    if (!nbi_check_inputs(g, "stop_gradient", 1, &x)) {
        return NULL;
    }
    return nbi_node_new(g, NBI_OP_STOP_GRADIENT, x->dtype, x->rank, x->shape, x, NULL);
}

static nb_node *stop_gradient_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_stop_gradient(g, in[0]);
}

const nbi_op nbi_op_stop_gradient = {
    .name = "stop_gradient",
    .symbol = "stop_gradient",
    .arity = 1,
    .flags = NBI_OP_VIEW,
    .build = stop_gradient_build,
    .forward = stop_gradient_forward,
    .formula = "y = x (a view, no copy)",
    .grad_formula = "dx = 0 (the gradient stops here, as torch's x.detach())",
};
