/*
 * tests/test_ops_layout.c: the layout ops (concat, slice, slice_grad, pad,
 * permute) beyond the case table: the exact message of every bad argument,
 * the model language's positional and keyword forms, the model writer's round
 * trip, Hessian-vector products through all of them against finite
 * differences, and the kernels' copy paths (whole rows, strided rows, tiles)
 * on shapes larger than a tile, checked against naive index arithmetic.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

#define ASSERT_ERROR(g, code, msg)                                                                 \
    do {                                                                                           \
        cr_assert_eq(nb_graph_status(g), (code), "status %d (%s), message \"%s\"",                 \
                     (int)nb_graph_status(g), nb_status_string(nb_graph_status(g)),                \
                     nb_graph_error(g));                                                           \
        cr_assert_str_eq(nb_graph_error(g), (msg));                                                \
    } while (0)

#define ASSERT_OK(g) cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g))

/* A named f64 input. */
static nb_node *in64(nb_graph *g, const char *name, int rank, const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, rank, shape), name);
}

/* A named input of dtype holding 0, 1, 2, ... (every value exact in f32 too). */
static nb_node *iota(nb_graph *g, nb_dtype dtype, const char *name, int rank, const int64_t *shape)
{
    nb_node *x = nb_node_set_name(g, nb_input(g, dtype, rank, shape), name);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    size_t n = nb_node_size(x);
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (double)i;
    }
    cr_assert_eq(nb_node_write_f64(g, x, v, n), NB_OK);
    free(v);
    return x;
}

/* Runs y and returns its values (caller frees). */
static double *eval(nb_graph *g, nb_node *y)
{
    cr_assert_not_null(y, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    size_t n = nb_node_size(y);
    double *v = malloc(n * sizeof *v);
    cr_assert_eq(nb_node_read_f64(g, y, v, n), NB_OK, "%s", nb_graph_error(g));
    return v;
}

/* Asserts y's values are want[0..n-1] exactly (layout ops only move values). */
static void assert_values(nb_graph *g, nb_node *y, size_t n, const double *want)
{
    cr_assert_eq(nb_node_size(y), n, "%zu values, want %zu", nb_node_size(y), n);
    double *got = eval(g, y);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(got[i], want[i], "element %zu is %.17g, want %.17g", i, got[i], want[i]);
    }
    free(got);
}

#define ASSERT_VALUES(g, y, ...)                                                                   \
    assert_values(g, y, sizeof((const double[]){ __VA_ARGS__ }) / sizeof(double),                  \
                  (const double[]){ __VA_ARGS__ })

static void assert_shape(nb_node *y, int rank, const int64_t *shape)
{
    cr_assert_eq(nb_node_rank(y), rank, "rank %d, want %d", nb_node_rank(y), rank);
    for (int k = 0; k < rank; k++) {
        cr_assert_eq(nb_node_shape(y)[k], shape[k], "dimension %d is %lld, want %lld", k,
                     (long long)nb_node_shape(y)[k], (long long)shape[k]);
    }
}

#define ASSERT_SHAPE(y, ...) assert_shape(y, NB_SHAPE(__VA_ARGS__))

/* The model-language expression of n. */
static const char *expr(nb_node *n)
{
    static char buf[256];
    cr_assert_not_null(n);
    nb_node_expression(n, buf, sizeof buf);
    return buf;
}

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

Test(layout_errors, concat_input_count)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in64(g, "a", NB_SHAPE(2, 3));
    cr_assert_null(nb_concat(g, 0, &a, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "concat: 0 inputs; concat takes 1 or more");
    nb_graph_free(g);

    /* more than a node takes: checked as one call, the error names the input's place */
    g = nb_graph_new();
    nb_node *many[NB_MAX_ARITY + 2];
    for (int i = 0; i < NB_MAX_ARITY + 2; i++) {
        const int64_t shape[2] = { 1, i == NB_MAX_ARITY + 1 ? 2 : 3 };
        many[i] = nb_input(g, NB_DTYPE_F64, 2, shape);
    }
    cr_assert_null(nb_concat(g, NB_MAX_ARITY + 2, many, 0));
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert(strstr(nb_graph_error(g), "input 258 has size 2 on axis 1 where input 1 has 3"), "%s",
              nb_graph_error(g));
    nb_graph_free(g);

    g = nb_graph_new();
    cr_assert_null(nb_concat(g, 2, NULL, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "concat: xs is NULL for 2 inputs");
    nb_graph_free(g);
}

Test(layout_errors, concat_null_input_and_dtypes)
{
    nb_graph *g = nb_graph_new();
    nb_node *xs[2] = { in64(g, "a", NB_SHAPE(2, 3)), NULL };
    cr_assert_null(nb_concat(g, 2, xs, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "concat(a[2,3], NULL): input 2 is NULL");
    nb_graph_free(g);

    g = nb_graph_new();
    xs[0] = in64(g, "a", NB_SHAPE(2, 3));
    xs[1] = nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3)), "b");
    cr_assert_null(nb_concat(g, 2, xs, 0));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "concat(a[2,3], b[2,3]): dtypes f64 and f32 differ");
    nb_graph_free(g);
}

Test(layout_errors, concat_ranks_shapes_axes)
{
    nb_graph *g = nb_graph_new();
    nb_node *xs[3] = { in64(g, "a", NB_SHAPE(2, 3)), in64(g, "b", NB_SHAPE(2, 4)),
                       in64(g, "c", NB_SHAPE(3, 3)) };
    cr_assert_null(nb_concat(g, 3, xs, 1));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "concat(a[2,3], b[2,4], c[3,3]): input 3 has size 3 on axis 0 where input 1 has "
                 "2; only axis 1 may differ");
    nb_graph_free(g);

    g = nb_graph_new();
    xs[0] = in64(g, "a", NB_SHAPE(2, 3));
    xs[1] = in64(g, "b", NB_SHAPE(3));
    cr_assert_null(nb_concat(g, 2, xs, 0));
    ASSERT_ERROR(g, NB_ERR_RANK, "concat(a[2,3], b[3]): input 2 has rank 1 where input 1 has 2");
    nb_graph_free(g);

    g = nb_graph_new();
    xs[0] = in64(g, "a", NB_SHAPE(2, 3));
    xs[1] = in64(g, "b", NB_SHAPE(2, 3));
    cr_assert_null(nb_concat(g, 2, xs, -3));
    ASSERT_ERROR(g, NB_ERR_AXIS, "concat(a[2,3]): axis -3 is out of range for rank 2");
    nb_graph_free(g);

    g = nb_graph_new();
    xs[0] = in64(g, "s", 0, NULL);
    cr_assert_null(nb_concat(g, 1, xs, 0));
    ASSERT_ERROR(g, NB_ERR_RANK, "concat(s[]): input 1 is a scalar, which has no axis to join");
    nb_graph_free(g);
}

Test(layout_errors, slice_step_and_axis)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 1, 0, 3, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice(x[2,3]): step 0 is not 1 or more");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 1, 2, 0, -1));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice(x[2,3]): step -1 is not 1 or more");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 2, 0, 1, 1));
    ASSERT_ERROR(g, NB_ERR_AXIS, "slice(x[2,3]): axis 2 is out of range for rank 2");
    nb_graph_free(g);

    g = nb_graph_new();
    x = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(4)), "l");
    cr_assert_null(nb_slice(g, x, 0, 0, 2, 1));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "slice(l[4]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);
}

Test(layout_errors, slice_start_outside_the_axis)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 1, 5, NB_SLICE_END, 1));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice(x[2,3]): start 5 is past the end of axis 1 (size 3)");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, -1, 3, NB_SLICE_END, 1));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice(x[2,3]): start 3 is past the end of axis 1 (size 3)");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 0, -3, NB_SLICE_END, 1));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice(x[2,3]): start -3 is before the start of axis 0 (size 2)");
    nb_graph_free(g);
}

Test(layout_errors, slice_that_selects_nothing)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 1, 2, 1, 1));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "slice(x[2,3]): start 2 and stop 1 select nothing of axis 1 (size 3); a slice "
                 "keeps at least one element");
    nb_graph_free(g);

    /* a stop before the axis clamps to 0, as Python's: x[:, 1:-7] is empty */
    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 1, 1, -7, 1));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "slice(x[2,3]): start 1 and stop -7 select nothing of axis 1 (size 3); a slice "
                 "keeps at least one element");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_slice(g, x, 1, -1, -1, 1));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "slice(x[2,3]): start -1 and stop -1 select nothing of axis 1 (size 3); a slice "
                 "keeps at least one element");
    nb_graph_free(g);
}

Test(layout_errors, slice_grad_arguments)
{
    nb_graph *g = nb_graph_new();
    nb_node *dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 3, (const int64_t[]){ 2, 4, 1 }, 1, 0, 1));
    ASSERT_ERROR(g, NB_ERR_RANK, "slice_grad(dy[2,2]): x_rank 3 is not dy's rank 2");
    nb_graph_free(g);

    g = nb_graph_new();
    dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 2, NULL, 1, 0, 1));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice_grad(dy[2,2]): x_shape is NULL for rank 2");
    nb_graph_free(g);

    g = nb_graph_new();
    dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 2, (const int64_t[]){ 3, 4 }, 1, 0, 1));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "slice_grad(dy[2,2]): x_shape [3,4] is not dy's shape with axis 1 resized");
    nb_graph_free(g);

    g = nb_graph_new();
    dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 2, (const int64_t[]){ 2, 4 }, 1, 4, 1));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice_grad(dy[2,2]): start 4 is past the end of axis 1 (size 4)");
    nb_graph_free(g);

    g = nb_graph_new();
    dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 2, (const int64_t[]){ 2, 4 }, 1, 1, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice_grad(dy[2,2]): step 0 is not 1 or more");
    nb_graph_free(g);

    g = nb_graph_new();
    dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 2, (const int64_t[]){ 2, 4 }, 1, -3, 3));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "slice_grad(dy[2,2]): 2 elements from start -3 by step 3 run past the end of "
                 "axis 1 (size 4)");
    nb_graph_free(g);

    g = nb_graph_new();
    dy = in64(g, "dy", NB_SHAPE(2, 2));
    cr_assert_null(nb_slice_grad(g, dy, 2, (const int64_t[]){ 2, 4 }, -3, 0, 1));
    ASSERT_ERROR(g, NB_ERR_AXIS, "slice_grad(dy[2,2]): axis -3 is out of range for rank 2");
    nb_graph_free(g);
}

Test(layout_errors, pad_arguments)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_pad(g, x, 3, (const int64_t[]){ 1, 1, 1 }, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "pad(x[2,3]): 3 pads are not (before, after) pairs");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_pad(g, x, 6, (const int64_t[]){ 1, 1, 1, 1, 1, 1 }, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "pad(x[2,3]): 6 pads are 3 pairs, more than rank 2");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_pad(g, x, 2, NULL, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "pad(x[2,3]): pads is NULL for 2 pads");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_pad(g, x, 4, (const int64_t[]){ 0, 0, 1, -1 }, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "pad(x[2,3]): pads[3] is -1; pads are >= 0 (slice to crop)");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_pad(g, x, 2, (const int64_t[]){ 0, INT32_MAX - 1 }, 0));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "pad(x[2,3]): pads[1] = 2147483646 makes axis 0 longer than "
                 "2^31-1");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_pad(g, x, 2, (const int64_t[]){ INT64_MAX, 0 }, 0));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "pad(x[2,3]): pads[0] = 9223372036854775807 makes axis 0 "
                 "longer than 2^31-1");
    nb_graph_free(g);
}

Test(layout_errors, permute_arguments)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3, 4));
    cr_assert_null(nb_permute(g, x, 2, (const int[]){ 1, 0 }));
    ASSERT_ERROR(g, NB_ERR_ARG, "permute(x[2,3,4]): perm has 2 entries for rank 3");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3, 4));
    cr_assert_null(nb_permute(g, x, 3, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "permute(x[2,3,4]): perm is NULL for rank 3");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3, 4));
    cr_assert_null(nb_permute(g, x, 3, (const int[]){ 0, 3, 1 }));
    ASSERT_ERROR(g, NB_ERR_AXIS, "permute(x[2,3,4]): perm[1] = 3 is out of range for rank 3");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3, 4));
    cr_assert_null(nb_permute(g, x, 3, (const int[]){ 0, 1, -4 }));
    ASSERT_ERROR(g, NB_ERR_AXIS, "permute(x[2,3,4]): perm[2] = -4 is out of range for rank 3");
    nb_graph_free(g);

    g = nb_graph_new();
    x = in64(g, "x", NB_SHAPE(2, 3, 4));
    cr_assert_null(nb_permute(g, x, 3, (const int[]){ 2, 0, -1 }));
    ASSERT_ERROR(g, NB_ERR_ARG, "permute(x[2,3,4]): perm names axis 2 twice");
    nb_graph_free(g);
}

Test(layout_errors, first_error_sticks,
     .description = "a failed layout call leaves the graph "
                    "as it was: later builders return NULL")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    size_t before = nb_graph_node_count(g);
    cr_assert_null(nb_slice(g, x, 1, 5, NB_SLICE_END, 1));
    cr_assert_eq(nb_graph_node_count(g), before);
    cr_assert_null(nb_permute(g, x, 2, (const int[]){ 1, 0 }));
    cr_assert_null(nb_concat(g, 1, &x, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "slice(x[2,3]): start 5 is past the end of axis 1 (size 3)");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Semantics the case table does not show                                   */
/* ======================================================================== */

Test(layout, slice_stop_clamps_and_normalises,
     .description = "x[:, 1:], x[:, -2:3], x[:, 1:INT64_MAX] are one slice, written "
                    "slice(x, axis=1, start=1); x[:, 0:2] keeps its stop")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = iota(g, NB_DTYPE_F64, "x", NB_SHAPE(2, 3));
    nb_node *a = nb_slice(g, x, 1, 1, NB_SLICE_END, 1);
    nb_node *b = nb_slice(g, x, -1, -2, 3, 1);
    nb_node *c = nb_slice(g, x, 1, 1, INT64_MAX, 1);
    nb_node *d = nb_slice(g, x, 1, 0, -1, 1);
    ASSERT_OK(g);
    cr_assert_str_eq(expr(a), "slice(x, axis=1, start=1)");
    cr_assert_str_eq(expr(b), "slice(x, axis=1, start=1)");
    cr_assert_str_eq(expr(c), "slice(x, axis=1, start=1)");
    cr_assert_str_eq(expr(d), "slice(x, axis=1, stop=2)");
    ASSERT_VALUES(g, c, 1, 2, 4, 5);
    ASSERT_VALUES(g, d, 0, 1, 3, 4);
    nb_graph_free(g);
}

Test(layout, concat_of_many_inputs,
     .description = "concat of NB_MAX_ARITY [1,2] rows is a [256,2] of the rows in order, and "
                    "each input's gradient is its row of dy")
{
    nb_graph *g = nb_graph_new();
    nb_node *xs[NB_MAX_ARITY];
    for (int i = 0; i < NB_MAX_ARITY; i++) {
        xs[i] = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2));
        cr_assert_eq(nb_node_write_f64(g, xs[i], (const double[]){ i, -i }, 2), NB_OK);
    }
    nb_node *y = nb_concat(g, NB_MAX_ARITY, xs, 0);
    ASSERT_OK(g);
    ASSERT_SHAPE(y, NB_MAX_ARITY, 2);
    double *v = eval(g, y);
    for (int i = 0; i < NB_MAX_ARITY; i++) {
        cr_assert(v[2 * i] == i && v[2 * i + 1] == -i, "row %d is (%g, %g)", i, v[2 * i],
                  v[2 * i + 1]);
    }
    free(v);
    /* and every input gets its own row of the gradient: d/dx_i sum(y * k) = k[i, :] */
    nb_node *k = iota(g, NB_DTYPE_F64, "k", NB_SHAPE(NB_MAX_ARITY, 2));
    nb_node *dx[NB_MAX_ARITY];
    cr_assert_eq(nb_grad(g, nb_sum(g, nb_mul(g, y, k)), NB_MAX_ARITY, xs, dx), NB_OK, "%s",
                 nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, NB_MAX_ARITY, dx), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < NB_MAX_ARITY; i++) {
        double d[2];
        cr_assert_eq(nb_node_read_f64(g, dx[i], d, 2), NB_OK);
        cr_assert(d[0] == 2 * i && d[1] == 2 * i + 1, "dx[%d] = (%g, %g)", i, d[0], d[1]);
    }
    nb_graph_free(g);
}

Test(layout, concat_of_more_inputs_than_a_node_takes,
     .description = "more than NB_MAX_ARITY inputs are joined in groups of NB_MAX_ARITY, then "
                    "the groups: the same rows in order and the same gradients")
{
    /* 257: a group of 256 and a lone input; 515: 256, 256 and 3, joined by a concat of 3 */
    const int counts[] = { NB_MAX_ARITY + 1, 2 * NB_MAX_ARITY + 3 };
    const int top_arity[] = { 2, 3 };
    for (int c = 0; c < 2; c++) {
        int n = counts[c];
        nb_graph *g = nb_graph_new();
        nb_node **xs = malloc((size_t)n * sizeof *xs), **dx = malloc((size_t)n * sizeof *dx);
        for (int i = 0; i < n; i++) {
            xs[i] = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2));
            cr_assert_eq(nb_node_write_f64(g, xs[i], (const double[]){ i, -i }, 2), NB_OK);
        }
        nb_node *y = nb_concat(g, n, xs, -2);
        ASSERT_OK(g);
        ASSERT_SHAPE(y, n, 2);
        cr_assert_str_eq(nb_node_op_name(y), "concat");
        cr_assert_eq(nb_node_arity(y), top_arity[c]);
        cr_assert_eq(nb_node_arity(nb_node_input(y, 0)), NB_MAX_ARITY);
        cr_assert_eq(nb_depth(g, y, 0), 2, "n=%d", n);
        double *v = eval(g, y);
        for (int i = 0; i < n; i++) {
            cr_assert(v[2 * i] == i && v[2 * i + 1] == -i, "n=%d: row %d is (%g, %g)", n, i,
                      v[2 * i], v[2 * i + 1]);
        }
        free(v);
        nb_node *k = iota(g, NB_DTYPE_F64, "k", NB_SHAPE(n, 2));
        cr_assert_eq(nb_grad(g, nb_sum(g, nb_mul(g, y, k)), (size_t)n, xs, dx), NB_OK, "%s",
                     nb_graph_error(g));
        cr_assert_eq(nb_graph_run(g, (size_t)n, dx), NB_OK, "%s", nb_graph_error(g));
        for (int i = 0; i < n; i++) {
            double d[2];
            cr_assert_eq(nb_node_read_f64(g, dx[i], d, 2), NB_OK);
            cr_assert(d[0] == 2 * i && d[1] == 2 * i + 1, "n=%d: dx[%d] = (%g, %g)", n, i, d[0],
                      d[1]);
        }
        free(xs);
        free(dx);
        nb_graph_free(g);
    }
}

Test(layout, pad_value_and_negative_zero,
     .description = "pad fills with value, -0.0 included (its sign survives, as in F.pad)")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = iota(g, NB_DTYPE_F64, "x", NB_SHAPE(2));
    nb_node *y = nb_pad(g, x, 2, (const int64_t[]){ 1, 1 }, -0.0);
    double *v = eval(g, y);
    cr_assert(v[0] == 0 && signbit(v[0]) && v[1] == 0 && !signbit(v[1]) && v[2] == 1 &&
              signbit(v[3]));
    free(v);
    nb_graph_free(g);
}

Test(layout, permute_of_a_scalar_and_identity_are_copies)
{
    nb_graph *g = nb_graph_new();
    nb_node *s = nb_scalar(g, NB_DTYPE_F64, 2.5);
    nb_node *y = nb_permute(g, s, 0, NULL);
    ASSERT_OK(g);
    cr_assert_eq(nb_node_rank(y), 0);
    ASSERT_VALUES(g, y, 2.5);
    nb_node *x = iota(g, NB_DTYPE_F64, "x", NB_SHAPE(2, 2));
    ASSERT_VALUES(g, nb_permute(g, x, 2, (const int[]){ 0, 1 }), 0, 1, 2, 3);
    ASSERT_VALUES(g, nb_pad(g, x, 0, NULL, 1), 0, 1, 2, 3);
    nb_graph_free(g);
}

/* ---- the copy paths on shapes larger than a tile, against naive indexing ---- */

/* Row-major flat index of idx in shape. */
static size_t flat(int rank, const int64_t *shape, const int64_t *idx)
{
    size_t f = 0;
    for (int k = 0; k < rank; k++) {
        f = f * (size_t)shape[k] + (size_t)idx[k];
    }
    return f;
}

/* Steps idx through shape in row-major order; false after the last index. */
static bool next_index(int rank, const int64_t *shape, int64_t *idx)
{
    for (int k = rank - 1; k >= 0; k--) {
        if (++idx[k] < shape[k]) {
            return true;
        }
        idx[k] = 0;
    }
    return false;
}

/* permute of an iota x (whose values are flat indices) against y[i] = x[i permuted]. */
static void check_permute(nb_dtype dtype, int rank, const int64_t *shape, const int *perm)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = iota(g, dtype, "x", rank, shape);
    nb_node *y = nb_permute(g, x, rank, perm);
    double *v = eval(g, y);
    int64_t idx[NB_MAX_RANK] = { 0 }, xi[NB_MAX_RANK];
    size_t i = 0;
    do {
        for (int k = 0; k < rank; k++) {
            xi[perm[k] < 0 ? perm[k] + rank : perm[k]] = idx[k];
        }
        double want = (double)flat(rank, shape, xi);
        cr_assert_eq(v[i], want, "element %zu is %g, want %g", i, v[i], want);
        i++;
    } while (next_index(rank, nb_node_shape(y), idx));
    cr_assert_eq(i, nb_node_size(x));
    free(v);
    nb_graph_free(g);
}

Test(layout, permute_kernels_against_naive_indexing,
     .description = "tiles (last axis moved), whole rows (last axis kept) and mixed orders, f32 "
                    "and f64, on shapes that leave partial 32x32 tiles")
{
    for (int d = 0; d < 2; d++) {
        nb_dtype dt = d ? NB_DTYPE_F64 : NB_DTYPE_F32;
        check_permute(dt, NB_SHAPE(33, 70), (const int[]){ 1, 0 });
        check_permute(dt, NB_SHAPE(37, 5, 41), (const int[]){ 2, 0, 1 });
        check_permute(dt, NB_SHAPE(37, 5, 41), (const int[]){ 1, 2, 0 });
        check_permute(dt, NB_SHAPE(37, 5, 41), (const int[]){ 1, 0, 2 });
        check_permute(dt, NB_SHAPE(3, 35, 2, 33), (const int[]){ 3, 1, 0, 2 });
        check_permute(dt, NB_SHAPE(3, 35, 2, 33), (const int[]){ -2, 0, -1, 1 });
        check_permute(dt, NB_SHAPE(4, 1, 40, 1), (const int[]){ 3, 2, 1, 0 });
    }
}

Test(layout, slice_pad_concat_kernels_against_naive_indexing,
     .description = "strided rows (a step on the last axis), whole-row runs, and writes into a "
                    "padded or concatenated output, on a [3,50,67] iota")
{
    nb_graph *g = nb_graph_new();
    const int64_t shape[3] = { 3, 50, 67 };
    nb_node *x = iota(g, NB_DTYPE_F32, "x", 3, shape);
    /* x[:, :, 2::5] and x[:, 3:47:4] */
    nb_node *s2 = nb_slice(g, x, 2, 2, NB_SLICE_END, 5);
    nb_node *s1 = nb_slice(g, x, 1, 3, 47, 4);
    /* F.pad(x, (4, 1, 0, 2, 1, 0), value=-1) */
    nb_node *p = nb_pad(g, x, 6, (const int64_t[]){ 1, 0, 0, 2, 4, 1 }, -1);
    /* torch.cat([x, x[:, :, :1]], 2): a column of width 1 is written with a stride */
    nb_node *c = nb_concat(g, 2, (nb_node *[]){ x, nb_slice(g, x, 2, 0, 1, 1) }, 2);
    ASSERT_OK(g);
    ASSERT_SHAPE(s2, 3, 50, 13);
    ASSERT_SHAPE(s1, 3, 11, 67);
    ASSERT_SHAPE(p, 4, 52, 72);
    ASSERT_SHAPE(c, 3, 50, 68);
    double *v2 = eval(g, s2), *v1 = eval(g, s1), *vp = eval(g, p), *vc = eval(g, c);
    int64_t i[3] = { 0 };
    size_t at = 0;
    do {
        cr_assert_eq(v2[at++], (double)flat(3, shape, (int64_t[]){ i[0], i[1], 2 + 5 * i[2] }));
    } while (next_index(3, nb_node_shape(s2), i));
    at = 0;
    do {
        cr_assert_eq(v1[at++], (double)flat(3, shape, (int64_t[]){ i[0], 3 + 4 * i[1], i[2] }));
    } while (next_index(3, nb_node_shape(s1), i));
    at = 0;
    do {
        int64_t a = i[0] - 1, b = i[1], k = i[2] - 4;
        bool inside = a >= 0 && b < 50 && k >= 0 && k < 67;
        double want = inside ? (double)flat(3, shape, (int64_t[]){ a, b, k }) : -1;
        cr_assert_eq(vp[at], want, "pad element %zu is %g, want %g", at, vp[at], want);
        at++;
    } while (next_index(3, nb_node_shape(p), i));
    at = 0;
    do {
        double want = (double)flat(3, shape, (int64_t[]){ i[0], i[1], i[2] < 67 ? i[2] : 0 });
        cr_assert_eq(vc[at], want, "concat element %zu is %g, want %g", at, vc[at], want);
        at++;
    } while (next_index(3, nb_node_shape(c), i));
    free(v2);
    free(v1);
    free(vp);
    free(vc);
    nb_graph_free(g);
}

Test(layout, slice_grad_places_dy_in_zeros,
     .description = "slice_grad of x[:, 1::3] (x [2,7]) puts dy at columns 1 and 4, zeros "
                    "elsewhere; slice of it gives dy back")
{
    nb_graph *g = nb_graph_new();
    nb_node *dy = iota(g, NB_DTYPE_F64, "dy", NB_SHAPE(2, 2));
    nb_node *y = nb_slice_grad(g, dy, NB_SHAPE(2, 7), 1, 1, 3);
    ASSERT_OK(g);
    ASSERT_VALUES(g, y, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 3, 0, 0);
    ASSERT_VALUES(g, nb_slice(g, y, 1, 1, NB_SLICE_END, 3), 0, 1, 2, 3);
    cr_assert_str_eq(expr(y), "slice_grad(dy, shape=[2, 7], axis=1, start=1, step=3)");
    nb_graph_free(g);
}

/* ======================================================================== */
/* The model language                                                       */
/* ======================================================================== */

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_OK, "%d:%d: %s", e.line,
                 e.column, e.message);
    return g;
}

static nb_node *find(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    return n;
}

static void parse_error(const char *src, nb_status status, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), status, "%s", e.message);
    cr_assert_str_eq(e.message, msg);
    cr_assert_eq(e.line, line, "line %d", e.line);
    cr_assert_eq(e.column, col, "column %d", e.column);
    nb_graph_free(g);
}

static const char forms_model[] = "input x[2, 3] = [[0, 1, 2], [3, 4, 5]]\n"
                                  "input y[2, 2] = [[6, 7], [8, 9]]\n"
                                  "input z[2, 1] = [[10], [11]]\n"
                                  "c1 = concat(x, y, z, axis=1)\n"
                                  "c2 = concat(x, y, z, axis=-1)\n"
                                  "c3 = concat(x, x)\n"
                                  "s1 = slice(x, 1, 1, 3)\n"
                                  "s2 = slice(x, axis=-1, start=-2)\n"
                                  "s3 = slice(x, axis=1, step=2)\n"
                                  "s4 = slice(x, 1, -3, 100, 2)\n"
                                  "s5 = slice(x, stop=-1, axis=0)\n"
                                  "p1 = pad(x, [0, 0, 1, 2], 0.5)\n"
                                  "p2 = pad(x, pads=[0, 0, 1, 2], value=0.5)\n"
                                  "p3 = pad(x, value=0.5, pads=[0, 0, 1, 2])\n"
                                  "q1 = permute(x, [1, 0])\n"
                                  "q2 = permute(x, perm=[-1, 0])\n"
                                  "g1 = slice_grad(s1, [2, 3], 1, 1)\n"
                                  "g2 = slice_grad(s1, shape=[2, 3], axis=-1, start=-2)\n";

Test(layout_lang, positional_and_keyword_forms_are_one_node,
     .description = "each pair of calls gives the same expression and values: concat of three, "
                    "negative axes, slices with a step and a negative start, pad, permute")
{
    nb_graph *g = parse(forms_model);
    cr_assert_str_eq(expr(find(g, "c1")), "concat(x, y, z, axis=1)");
    cr_assert_str_eq(expr(find(g, "c2")), "concat(x, y, z, axis=1)");
    ASSERT_VALUES(g, find(g, "c2"), 0, 1, 2, 6, 7, 10, 3, 4, 5, 8, 9, 11);
    cr_assert_str_eq(expr(find(g, "c3")), "concat(x, x)");
    ASSERT_VALUES(g, find(g, "c3"), 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5);

    cr_assert_str_eq(expr(find(g, "s1")), "slice(x, axis=1, start=1)");
    cr_assert_str_eq(expr(find(g, "s2")), "slice(x, axis=1, start=1)");
    ASSERT_VALUES(g, find(g, "s2"), 1, 2, 4, 5);
    cr_assert_str_eq(expr(find(g, "s3")), "slice(x, axis=1, step=2)");
    cr_assert_str_eq(expr(find(g, "s4")), "slice(x, axis=1, step=2)");
    ASSERT_VALUES(g, find(g, "s4"), 0, 2, 3, 5);
    cr_assert_str_eq(expr(find(g, "s5")), "slice(x, axis=0, stop=1)");
    ASSERT_VALUES(g, find(g, "s5"), 0, 1, 2);

    for (int k = 1; k <= 3; k++) {
        char name[4];
        snprintf(name, sizeof name, "p%d", k);
        cr_assert_str_eq(expr(find(g, name)), "pad(x, pads=[0, 0, 1, 2], value=0.5)");
    }
    ASSERT_VALUES(g, find(g, "p3"), 0.5, 0, 1, 2, 0.5, 0.5, 0.5, 3, 4, 5, 0.5, 0.5);

    cr_assert_str_eq(expr(find(g, "q1")), "permute(x, perm=[1, 0])");
    cr_assert_str_eq(expr(find(g, "q2")), "permute(x, perm=[1, 0])");
    ASSERT_VALUES(g, find(g, "q2"), 0, 3, 1, 4, 2, 5);

    cr_assert_str_eq(expr(find(g, "g1")), "slice_grad(s1, shape=[2, 3], axis=1, start=1)");
    cr_assert_str_eq(expr(find(g, "g2")), "slice_grad(s1, shape=[2, 3], axis=1, start=1)");
    ASSERT_VALUES(g, find(g, "g2"), 0, 1, 2, 0, 4, 5);
    nb_graph_free(g);
}

Test(layout_lang, bad_calls_name_the_call)
{
    const char *head = "input x[2, 3]\ninput y[2, 2]\n";
    char src[256];
    snprintf(src, sizeof src, "%sc = concat(x, y, dim=1)\n", head);
    parse_error(src, NB_ERR_FORMAT, 3, 22,
                "concat has no argument 'dim'; it takes concat(x1, x2, ..., axis=0)");
    snprintf(src, sizeof src, "%sc = concat(x, y)\n", head);
    parse_error(src, NB_ERR_SHAPE, 3, 5,
                "concat: input 2 has size 2 on axis 1 where input 1 has 3; only axis 0 may differ "
                "(x[2,3], y[2,2])");
    snprintf(src, sizeof src, "%ss = slice(x, axis=1, start=5)\n", head);
    parse_error(src, NB_ERR_ARG, 3, 5,
                "slice: start 5 is past the end of axis 1 (size 3) (x[2,3])");
    snprintf(src, sizeof src, "%sp = pad(x, pads=[1, 1, 1])\n", head);
    parse_error(src, NB_ERR_ARG, 3, 5, "pad: 3 pads are not (before, after) pairs (x[2,3])");
    snprintf(src, sizeof src, "%sq = permute(x, perm=[0, 0])\n", head);
    parse_error(src, NB_ERR_ARG, 3, 5, "permute: perm names axis 0 twice (x[2,3])");
    snprintf(src, sizeof src, "%sq = permute(x)\n", head);
    parse_error(src, NB_ERR_FORMAT, 3, 5, "permute needs perm=...; it takes permute(x, perm)");
}

/* ======================================================================== */
/* Model writer round trip                                                  */
/* ======================================================================== */

static char *write_model(nb_graph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    nb_status s = nb_model_write(g, f);
    fclose(f);
    cr_assert_eq(s, NB_OK, "nb_model_write: %s", nb_graph_error(g));
    return text;
}

Test(layout_lang, model_write_round_trip,
     .description = "a graph of every layout op, written and parsed into a new graph, gives "
                    "the same expressions and values; writing the copy gives the same text")
{
    nb_graph *a = nb_graph_new();
    nb_node *x = iota(a, NB_DTYPE_F64, "x", NB_SHAPE(2, 3, 4));
    nb_node *w = iota(a, NB_DTYPE_F64, "w", NB_SHAPE(2, 3, 1));
    const char *names[] = { "cat", "sl", "sg", "pd", "pm", "out" };
    nb_node *n[6];
    n[0] = nb_concat(a, 3, (nb_node *[]){ x, w, x }, -1);
    n[1] = nb_slice(a, n[0], 2, -7, -1, 2);
    n[2] = nb_slice_grad(a, n[1], NB_SHAPE(2, 3, 9), -1, 0, 2);
    n[3] = nb_pad(a, n[2], 4, (const int64_t[]){ 1, 0, 0, 2 }, -0.25);
    n[4] = nb_permute(a, n[3], 3, (const int[]){ 2, -3, 1 });
    n[5] = nb_sum(a, nb_mul(a, n[4], n[4]));
    for (int i = 0; i < 6; i++) {
        nb_node_set_name(a, n[i], names[i]);
    }
    ASSERT_OK(a);
    char *text = write_model(a);
    cr_assert_not_null(strstr(text, "cat = concat(x, w, x, axis=2)\n"), "%s", text);
    cr_assert_not_null(strstr(text, "sl = slice(cat, axis=2, start=2, stop=8, step=2)\n"), "%s",
                       text);
    cr_assert_not_null(strstr(text, "pd = pad(sg, pads=[1, 0, 0, 2], value=-0.25)\n"), "%s", text);
    cr_assert_not_null(strstr(text, "pm = permute(pd, perm=[2, 0, 1])\n"), "%s", text);

    nb_graph *b = parse(text);
    for (int i = 0; i < 6; i++) {
        nb_node *u = find(a, names[i]), *v = find(b, names[i]);
        char eu[256];
        snprintf(eu, sizeof eu, "%s", expr(u));
        cr_assert_str_eq(expr(v), eu, "%s", names[i]);
        cr_assert_eq(nb_node_size(v), nb_node_size(u));
        double *du = eval(a, u), *dv = eval(b, v);
        cr_assert_eq(memcmp(du, dv, nb_node_size(u) * sizeof *du), 0, "%s: values differ",
                     names[i]);
        free(du);
        free(dv);
    }
    char *again = write_model(b);
    cr_assert_str_eq(again, text);
    free(again);
    free(text);
    nb_graph_free(b);
    nb_graph_free(a);
}

/* ======================================================================== */
/* Second order                                                             */
/* ======================================================================== */

/* A reproducible sequence in [-1, 1) (a 64-bit LCG), independent of the library. */
static double next_value(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (double)(*state >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

static void write_seq(nb_graph *g, nb_node *n, uint64_t *state, double *copy)
{
    size_t k = nb_node_size(n);
    double v[64];
    cr_assert(k <= 64);
    for (size_t i = 0; i < k; i++) {
        v[i] = next_value(state);
        if (copy) {
            copy[i] = v[i];
        }
    }
    cr_assert_eq(nb_node_write_f64(g, n, v, k), NB_OK);
}

static void eval_into(nb_graph *g, size_t n, nb_node *const *outs, double *dst)
{
    cr_assert_eq(nb_graph_run(g, n, outs), NB_OK, "%s", nb_graph_error(g));
    for (size_t i = 0; i < n; i++) {
        size_t k = nb_node_size(outs[i]);
        cr_assert_eq(nb_node_read_f64(g, outs[i], dst, k), NB_OK);
        dst += k;
    }
}

Test(layout_second_order, hessian_vector_product_through_every_layout_op,
     .description = "L = sum(K * tanh(p) * p), p = pad(permute(concat(w, w[:, -3::2], u, "
                    "axis=-1), [1, 0]), (1, 0, 0, 2), 0.3): Hv = grad(sum(grad(L) * v)) matches "
                    "(g(w + eps v) - g(w - eps v)) / 2eps; the second sweep differentiates "
                    "slice, slice_grad, pad's slices and permute")
{
    enum { NW = 8, NU = 2, N = NW + NU };
    nb_graph *g = nb_graph_new();
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 4));
    nb_node *u = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 1));
    nb_node *s = nb_slice(g, w, 1, -3, NB_SLICE_END, 2);
    nb_node *c = nb_concat(g, 3, (nb_node *[]){ w, s, u }, -1);
    nb_node *p = nb_pad(g, nb_permute(g, c, 2, (const int[]){ 1, 0 }), 4,
                        (const int64_t[]){ 1, 0, 0, 2 }, 0.3);
    nb_node *k = nb_input(g, NB_DTYPE_F64, NB_SHAPE(8, 4));
    nb_node *loss = nb_sum(g, nb_mul(g, nb_mul(g, k, nb_tanh(g, p)), p));
    nb_node *wrt[2] = { w, u }, *gw[2], *v[2], *hv[2];
    cr_assert_eq(nb_grad(g, loss, 2, wrt, gw), NB_OK, "%s", nb_graph_error(g));
    v[0] = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 4));
    v[1] = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 1));
    nb_node *gv = nb_add(g, nb_sum(g, nb_mul(g, gw[0], v[0])), nb_sum(g, nb_mul(g, gw[1], v[1])));
    cr_assert_eq(nb_grad(g, gv, 2, wrt, hv), NB_OK, "%s", nb_graph_error(g));
    ASSERT_OK(g);

    uint64_t state = 11;
    double p0[N], dir[N];
    write_seq(g, w, &state, p0);
    write_seq(g, u, &state, p0 + NW);
    write_seq(g, k, &state, NULL);
    write_seq(g, v[0], &state, dir);
    write_seq(g, v[1], &state, dir + NW);

    double h[N], gp[N], gm[N], at[N];
    eval_into(g, 2, hv, h);
    const double eps = 1e-5;
    for (int sign = 1; sign >= -1; sign -= 2) {
        for (int i = 0; i < N; i++) {
            at[i] = p0[i] + sign * eps * dir[i];
        }
        cr_assert_eq(nb_node_write_f64(g, w, at, NW), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, u, at + NW, NU), NB_OK);
        eval_into(g, 2, gw, sign > 0 ? gp : gm);
    }
    double scale = 0;
    for (int i = 0; i < N; i++) {
        scale = fmax(scale, fabs(h[i]));
    }
    cr_assert_gt(scale, 1e-2, "the Hessian-vector product should not vanish");
    for (int i = 0; i < N; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        cr_assert(fabs(h[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                  "element %d: Hv = %.12g, finite differences %.12g", i, h[i], fd);
    }
    nb_graph_free(g);
}

Test(layout_second_order, gradient_of_the_gradient_checks,
     .description = "nb_gradcheck of sum(grad(L, w) * c) with respect to w, for L built from a "
                    "strided slice, a concat and a pad: the gradient graph (slice_grad, slices) "
                    "has correct gradients itself")
{
    nb_graph *g = nb_graph_new();
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3, 5));
    nb_node *s = nb_slice(g, w, -1, 1, -1, 2);
    nb_node *c = nb_concat(g, 2, (nb_node *[]){ s, nb_slice(g, w, 1, 0, 1, 1) }, 1);
    nb_node *p = nb_pad(g, c, 4, (const int64_t[]){ 0, 1, 2, 0 }, -1);
    nb_node *loss = nb_sum(g, nb_exp(g, nb_mul(g, p, nb_sigmoid(g, p))));
    nb_node *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    nb_node *cst = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3, 5));
    nb_node *y = nb_sum(g, nb_mul(g, dw, cst));
    ASSERT_OK(g);
    uint64_t state = 5;
    write_seq(g, w, &state, NULL);
    write_seq(g, cst, &state, NULL);
    nb_gradcheck_options o = nb_gradcheck_defaults();
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(g, y, 1, &w, &o, &r), NB_OK, "%s", nb_graph_error(g));
    cr_assert(r.passed, "element %zu: analytic %.12g, numeric %.12g", r.worst_index, r.analytic,
              r.numeric);
    cr_assert_gt(fabs(r.analytic) + fabs(r.numeric), 0);
    nb_graph_free(g);
}
