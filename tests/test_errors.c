/*
 * tests/test_errors.c: every kind of bad call, through the public API. Each
 * test asserts the status code and the exact message (the form is
 * "op(name[shape], name[shape]): detail"), that a failed builder leaves the
 * graph as it was, that build errors stick and run/data errors do not.
 */
#include <criterion/criterion.h>
#include <nabla.h>

#include <stdint.h>
#include <string.h>

/* Asserts the graph's sticky status and its exact message. */
#define ASSERT_ERROR(g, code, msg)                                                                 \
    do {                                                                                           \
        cr_assert_eq(nb_graph_status(g), (code), "status %d (%s), message \"%s\"",                 \
                     (int)nb_graph_status(g), nb_status_string(nb_graph_status(g)),                \
                     nb_graph_error(g));                                                           \
        cr_assert_str_eq(nb_graph_error(g), (msg));                                                \
    } while (0)

#define ASSERT_HEALTHY(g)                                                                          \
    cr_assert_eq(nb_graph_status(g), NB_OK, "unexpected error: %s", nb_graph_error(g))

/* A named f64 input. */
static nb_node *in64(nb_graph *g, const char *name, int rank, const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, rank, shape), name);
}

static nb_node *in32(nb_graph *g, const char *name, int rank, const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, rank, shape), name);
}

static nb_node *labels(nb_graph *g, const char *name, int rank, const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, rank, shape), name);
}

/* ======================================================================== */
/* Status strings                                                           */
/* ======================================================================== */

Test(status, every_code_has_its_phrase, .description = "nb_status_string of each code")
{
    cr_assert_str_eq(nb_status_string(NB_OK), "success");
    cr_assert_str_eq(nb_status_string(NB_ERR_NOMEM), "out of memory");
    cr_assert_str_eq(nb_status_string(NB_ERR_ARG), "invalid argument");
    cr_assert_str_eq(nb_status_string(NB_ERR_SHAPE), "shape mismatch");
    cr_assert_str_eq(nb_status_string(NB_ERR_RANK), "unsupported rank");
    cr_assert_str_eq(nb_status_string(NB_ERR_DTYPE), "dtype mismatch");
    cr_assert_str_eq(nb_status_string(NB_ERR_AXIS), "axis out of range");
    cr_assert_str_eq(nb_status_string(NB_ERR_GRAPH), "node from another graph");
    cr_assert_str_eq(nb_status_string(NB_ERR_VALUE), "invalid value");
    cr_assert_str_eq(nb_status_string(NB_ERR_IO), "input/output error");
    cr_assert_str_eq(nb_status_string(NB_ERR_FORMAT), "malformed file");
}

Test(status, unknown_code_is_named_unknown)
{
    cr_assert_str_eq(nb_status_string((nb_status)99), "unknown status");
    cr_assert_str_eq(nb_status_string((nb_status)-1), "unknown status");
}

Test(status, null_graph_reports_arg)
{
    cr_assert_eq(nb_graph_status(NULL), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(NULL), "no graph (NULL)");
}

Test(status, new_graph_is_healthy_with_empty_message)
{
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_graph_free(g);
}

/* ======================================================================== */
/* NULL inputs and sticky errors                                            */
/* ======================================================================== */

Test(null_input, on_healthy_graph_is_an_error)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    size_t count = nb_graph_node_count(g);
    cr_assert_null(nb_add(g, x, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "add(x[2,3], NULL): input 2 is NULL");
    cr_assert_eq(nb_graph_node_count(g), count);
    nb_graph_free(g);
}

Test(null_input, first_input_of_unary_op)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_exp(g, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "exp(NULL): input 1 is NULL");
    nb_graph_free(g);
}

Test(null_input, null_graph_returns_null)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    cr_assert_null(nb_exp(NULL, x));
    cr_assert_null(nb_input(NULL, NB_DTYPE_F32, NB_SHAPE(2)));
    ASSERT_HEALTHY(g);
    nb_graph_free(g);
}

Test(sticky, builders_given_null_on_graph_in_error_return_null_quietly,
     .description = "the first error stays: status and message unchanged")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(4, 3));
    nb_node *w = in64(g, "w", NB_SHAPE(2, 5));
    cr_assert_null(nb_matmul(g, x, w));
    const char *first = "matmul(x[4,3], w[2,5]): inner dimensions 3 and 2 differ";
    ASSERT_ERROR(g, NB_ERR_SHAPE, first);
    size_t count = nb_graph_node_count(g);

    cr_assert_null(nb_add(g, NULL, x));
    cr_assert_null(nb_relu(g, NULL));
    cr_assert_null(nb_sum(g, NULL));
    cr_assert_null(nb_matmul(g, NULL, NULL));
    cr_assert_null(nb_reshape(g, NULL, NB_SHAPE(12)));
    cr_assert_null(nb_cross_entropy(g, NULL, NULL));
    cr_assert_null(nb_one_hot(g, NULL, 3, NB_DTYPE_F64));
    cr_assert_null(nb_softmax(g, NULL, -1));
    cr_assert_null(nb_node_set_name(g, NULL, "y"));
    nb_scope_pop(g); /* would be an error on a healthy graph */
    ASSERT_ERROR(g, NB_ERR_SHAPE, first);

    /* a builder on a graph in error returns NULL even with good inputs */
    cr_assert_null(nb_exp(g, x));
    cr_assert_null(nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)));
    cr_assert_null(nb_scalar(g, NB_DTYPE_F64, 1));
    /* and a second bad call does not replace the first message */
    cr_assert_null(nb_add(g, x, nb_input(g, NB_DTYPE_F32, NB_SHAPE(7))));
    cr_assert_null(nb_sum_axis(g, x, 9, false));
    ASSERT_ERROR(g, NB_ERR_SHAPE, first);
    cr_assert_eq(nb_graph_node_count(g), count);
    nb_graph_free(g);
}

Test(sticky, running_a_graph_in_error_returns_its_status_without_running)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    nb_node *y = nb_exp(g, x);
    cr_assert_not_null(y);
    cr_assert_null(nb_sum_axis(g, x, 1, false));
    ASSERT_ERROR(g, NB_ERR_AXIS, "sum(x[3]): axis 1 is out of range for rank 1");
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_AXIS);
    cr_assert_null(nb_node_data(y));
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_KEEP_ALL), NB_ERR_AXIS);
    cr_assert_null(nb_node_data(y));
    ASSERT_ERROR(g, NB_ERR_AXIS, "sum(x[3]): axis 1 is out of range for rank 1");
    nb_graph_free(g);
}

Test(sticky, failed_builder_leaves_node_count_unchanged,
     .description = "each failing builder appends nothing")
{
    /* one fresh graph per bad call, so each failure is the first */
    for (int k = 0; k < 8; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *a = in64(g, "a", NB_SHAPE(2, 3));
        nb_node *b = in64(g, "b", NB_SHAPE(4, 5));
        nb_node *l = labels(g, "l", NB_SHAPE(3));
        size_t count = nb_graph_node_count(g);
        nb_node *r = (nb_node *)1;
        switch (k) {
        case 0:
            r = nb_add(g, a, b);
            break;
        case 1:
            r = nb_matmul(g, a, b);
            break;
        case 2:
            r = nb_reshape(g, a, NB_SHAPE(7));
            break;
        case 3:
            r = nb_mean_axis(g, a, -3, true);
            break;
        case 4:
            r = nb_cross_entropy(g, a, l);
            break;
        case 5:
            r = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_uniform(1, 0));
            break;
        case 6:
            r = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 1, 1, 1, 1));
            break;
        case 7:
            r = nb_transpose(g, l);
            break;
        }
        cr_assert_null(r, "case %d", k);
        cr_assert_neq(nb_graph_status(g), NB_OK, "case %d", k);
        cr_assert_eq(nb_graph_node_count(g), count, "case %d", k);
        nb_graph_free(g);
    }
}

/* ======================================================================== */
/* Graph ownership                                                          */
/* ======================================================================== */

Test(ownership, node_from_another_graph)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    nb_node *other = nb_input(h, NB_DTYPE_F64, NB_SHAPE(3));
    size_t count = nb_graph_node_count(g);
    cr_assert_null(nb_mul(g, x, other));
    ASSERT_ERROR(g, NB_ERR_GRAPH, "mul(x[3], input_1[3]): input 2 belongs to another graph");
    cr_assert_eq(nb_graph_node_count(g), count);
    ASSERT_HEALTHY(h);
    nb_graph_free(g);
    nb_graph_free(h);
}

Test(ownership, same_generated_name_in_both_graphs_is_told_apart_by_position)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *mine = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2));
    nb_node *theirs = nb_input(h, NB_DTYPE_F32, NB_SHAPE(2));
    cr_assert_null(nb_sub(g, theirs, mine));
    ASSERT_ERROR(g, NB_ERR_GRAPH, "sub(input_1[2], input_1[2]): input 1 belongs to another graph");
    nb_graph_free(g);
    nb_graph_free(h);
}

Test(ownership, set_name_of_foreign_node)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *other = nb_node_set_name(h, nb_input(h, NB_DTYPE_F64, NB_SHAPE(2, 2)), "o");
    cr_assert_null(nb_node_set_name(g, other, "mine"));
    ASSERT_ERROR(g, NB_ERR_GRAPH, "set_name(o[2,2]): input 1 belongs to another graph");
    cr_assert_str_eq(nb_node_name(other), "o");
    nb_graph_free(g);
    nb_graph_free(h);
}

/* ======================================================================== */
/* dtypes                                                                   */
/* ======================================================================== */

Test(dtype, f32_with_f64)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in32(g, "a", NB_SHAPE(2));
    nb_node *b = in64(g, "b", NB_SHAPE(2));
    cr_assert_null(nb_add(g, a, b));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "add(a[2], b[2]): dtypes f32 and f64 differ");
    nb_graph_free(g);
}

Test(dtype, f64_with_f32_in_matmul)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in64(g, "a", NB_SHAPE(2, 3));
    nb_node *b = in32(g, "b", NB_SHAPE(3, 4));
    cr_assert_null(nb_matmul(g, a, b));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "matmul(a[2,3], b[3,4]): dtypes f64 and f32 differ");
    nb_graph_free(g);
}

Test(dtype, i32_given_to_float_unary_op)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(3));
    cr_assert_null(nb_exp(g, l));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "exp(l[3]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);
}

Test(dtype, i32_given_as_second_input_of_binary_op)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    nb_node *l = labels(g, "l", NB_SHAPE(3));
    cr_assert_null(nb_mul(g, x, l));
    ASSERT_ERROR(g, NB_ERR_DTYPE,
                 "mul(x[3], l[3]): input 2 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);
}

Test(dtype, i32_given_to_reduction)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(2, 2));
    cr_assert_null(nb_sum(g, l));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "sum(l[2,2]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Broadcasting and shapes of elementwise ops                               */
/* ======================================================================== */

Test(shape, shapes_that_do_not_broadcast)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in64(g, "a", NB_SHAPE(2, 3));
    nb_node *b = in64(g, "b", NB_SHAPE(4));
    cr_assert_null(nb_add(g, a, b));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "add(a[2,3], b[4]): shapes [2,3] and [4] cannot be broadcast together");
    nb_graph_free(g);
}

Test(shape, inner_dimension_mismatch_in_div)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in64(g, "a", NB_SHAPE(5, 2, 3));
    nb_node *b = in64(g, "b", NB_SHAPE(4, 1));
    cr_assert_null(nb_div(g, a, b));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "div(a[5,2,3], b[4,1]): shapes [5,2,3] and [4,1] cannot be broadcast together");
    nb_graph_free(g);
}

Test(shape, mse_needs_equal_shapes)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in64(g, "a", NB_SHAPE(2, 3));
    nb_node *b = in64(g, "b", NB_SHAPE(3));
    cr_assert_null(nb_mse(g, a, b));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "mse(a[2,3], b[3]): shapes [2,3] and [3] differ; they must be equal");
    nb_graph_free(g);
}

/* ======================================================================== */
/* matmul and transpose                                                     */
/* ======================================================================== */

Test(matmul, inner_dimensions_differ, .description = "the example message of nabla.h")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(4, 3));
    nb_node *w = in64(g, "w", NB_SHAPE(2, 5));
    cr_assert_null(nb_matmul(g, x, w));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "matmul(x[4,3], w[2,5]): inner dimensions 3 and 2 differ");
    nb_graph_free(g);
}

Test(matmul, inner_dimensions_differ_after_transpose_flag)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(4, 3));
    nb_node *w = in64(g, "w", NB_SHAPE(3, 5));
    /* x @ wᵀ: k = 3 against w's 5 columns */
    cr_assert_null(nb_matmul_ex(g, x, w, NB_TRANS_B));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "matmul(x[4,3], w[3,5]): inner dimensions 3 and 5 differ");
    nb_graph_free(g);
}

Test(matmul, unknown_flags)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(4, 3));
    nb_node *w = in64(g, "w", NB_SHAPE(3, 5));
    cr_assert_null(nb_matmul_ex(g, x, w, 4));
    ASSERT_ERROR(g, NB_ERR_ARG, "matmul(x[4,3], w[3,5]): unknown flags 0x4");
    nb_graph_free(g);
}

Test(matmul, rank_1_operand)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    nb_node *w = in64(g, "w", NB_SHAPE(3, 2));
    cr_assert_null(nb_matmul(g, x, w));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "matmul(x[3], w[3,2]): operand 1 has rank 1; matmul takes rank 2 or 3 (batched)");
    nb_graph_free(g);
}

Test(matmul, rank_4_operand)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    nb_node *w = in64(g, "w", NB_SHAPE(1, 1, 3, 2));
    cr_assert_null(nb_matmul(g, x, w));
    ASSERT_ERROR(
        g, NB_ERR_RANK,
        "matmul(x[2,3], w[1,1,3,2]): operand 2 has rank 4; matmul takes rank 2 or 3 (batched)");
    nb_graph_free(g);
}

Test(matmul, batch_sizes_differ)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = in64(g, "a", NB_SHAPE(2, 3, 4));
    nb_node *b = in64(g, "b", NB_SHAPE(5, 4, 6));
    cr_assert_null(nb_matmul(g, a, b));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "matmul(a[2,3,4], b[5,4,6]): batch sizes 2 and 5 differ");
    nb_graph_free(g);
}

Test(matmul, transpose_of_a_vector)
{
    nb_graph *g = nb_graph_new();
    nb_node *v = in64(g, "v", NB_SHAPE(3));
    cr_assert_null(nb_transpose(g, v));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "transpose(v[3]): rank 1 has no two axes to swap; transpose needs rank 2 or more");
    nb_graph_free(g);
}

Test(matmul, transpose_of_a_scalar)
{
    nb_graph *g = nb_graph_new();
    nb_node *s = nb_node_set_name(g, nb_scalar(g, NB_DTYPE_F32, 2), "s");
    cr_assert_null(nb_transpose(g, s));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "transpose(s[]): rank 0 has no two axes to swap; transpose needs rank 2 or more");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Axes                                                                     */
/* ======================================================================== */

/* Builds x[2,3] and applies op k with axis; returns the result. */
static nb_node *axis_op(nb_graph *g, int k, nb_node *x, int axis)
{
    switch (k) {
    case 0:
        return nb_sum_axis(g, x, axis, false);
    case 1:
        return nb_mean_axis(g, x, axis, true);
    case 2:
        return nb_max_axis(g, x, axis, false);
    case 3:
        return nb_softmax(g, x, axis);
    case 4:
        return nb_log_softmax(g, x, axis);
    default:
        return nb_argmax_mask(g, x, axis);
    }
}

Test(axis, too_large_for_each_axis_op)
{
    static const char *const want[] = {
        "sum(x[2,3]): axis 2 is out of range for rank 2",
        "mean(x[2,3]): axis 2 is out of range for rank 2",
        "max(x[2,3]): axis 2 is out of range for rank 2",
        "softmax(x[2,3]): axis 2 is out of range for rank 2",
        "log_softmax(x[2,3]): axis 2 is out of range for rank 2",
        "argmax_mask(x[2,3]): axis 2 is out of range for rank 2",
    };
    for (int k = 0; k < 6; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
        size_t count = nb_graph_node_count(g);
        cr_assert_null(axis_op(g, k, x, 2), "op %d", k);
        ASSERT_ERROR(g, NB_ERR_AXIS, want[k]);
        cr_assert_eq(nb_graph_node_count(g), count);
        nb_graph_free(g);
    }
}

Test(axis, too_negative_for_each_axis_op)
{
    static const char *const want[] = {
        "sum(x[2,3]): axis -3 is out of range for rank 2",
        "mean(x[2,3]): axis -3 is out of range for rank 2",
        "max(x[2,3]): axis -3 is out of range for rank 2",
        "softmax(x[2,3]): axis -3 is out of range for rank 2",
        "log_softmax(x[2,3]): axis -3 is out of range for rank 2",
        "argmax_mask(x[2,3]): axis -3 is out of range for rank 2",
    };
    for (int k = 0; k < 6; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
        cr_assert_null(axis_op(g, k, x, -3), "op %d", k);
        ASSERT_ERROR(g, NB_ERR_AXIS, want[k]);
        nb_graph_free(g);
    }
}

Test(axis, edge_axes_are_accepted, .description = "-rank and rank-1 are in range")
{
    for (int k = 0; k < 6; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
        cr_assert_not_null(axis_op(g, k, x, -2), "op %d", k);
        cr_assert_not_null(axis_op(g, k, x, 1), "op %d", k);
        ASSERT_HEALTHY(g);
        nb_graph_free(g);
    }
}

Test(axis, any_axis_of_a_scalar)
{
    nb_graph *g = nb_graph_new();
    nb_node *s = nb_node_set_name(g, nb_scalar(g, NB_DTYPE_F64, 1), "s");
    cr_assert_null(nb_softmax(g, s, 0));
    ASSERT_ERROR(g, NB_ERR_AXIS, "softmax(s[]): axis 0 is out of range for rank 0");
    nb_graph_free(g);
}

/* ======================================================================== */
/* reshape, broadcast_to, sum_to                                            */
/* ======================================================================== */

Test(reshape, to_a_different_size)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(g, x, NB_SHAPE(4, 2)));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "reshape(x[2,3]): cannot reshape 6 elements to [4,2]");
    nb_graph_free(g);
}

Test(reshape, inferred_dimension_that_does_not_divide)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(g, x, NB_SHAPE(4, -1)));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "reshape(x[2,3]): cannot reshape 6 elements to [4,-1]");
    nb_graph_free(g);
}

Test(reshape, two_inferred_dimensions)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(g, x, NB_SHAPE(-1, -1)));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "reshape(x[2,3]): target shape [-1,-1] is not valid (one -1 allowed, other "
                 "dimensions >= 1)");
    nb_graph_free(g);
}

Test(reshape, zero_dimension_in_target)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(g, x, NB_SHAPE(0, 6)));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "reshape(x[2,3]): target shape [0,6] is not valid (one -1 allowed, other "
                 "dimensions >= 1)");
    nb_graph_free(g);
}

Test(reshape, target_rank_too_large)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(g, x, NB_SHAPE(1, 1, 1, 2, 3)));
    ASSERT_ERROR(g, NB_ERR_RANK, "reshape(x[2,3]): target rank 5 is outside 0..4");
    nb_graph_free(g);
}

Test(reshape, null_target_shape)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(g, x, 2, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "reshape(x[2,3]): the target shape is NULL for rank 2");
    nb_graph_free(g);
}

Test(broadcast, broadcast_to_impossible_target)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_broadcast_to(g, x, NB_SHAPE(4, 3, 2)));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "broadcast_to(x[2,3]): shape [2,3] cannot be broadcast to [4,3,2]");
    nb_graph_free(g);
}

Test(broadcast, broadcast_to_smaller_rank)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_broadcast_to(g, x, NB_SHAPE(3)));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "broadcast_to(x[2,3]): shape [2,3] cannot be broadcast to [3]");
    nb_graph_free(g);
}

Test(broadcast, broadcast_to_invalid_target)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    cr_assert_null(nb_broadcast_to(g, x, NB_SHAPE(0, 3)));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "broadcast_to(x[3]): target shape [0,3] is not valid");
    nb_graph_free(g);
}

Test(broadcast, broadcast_to_null_target)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    cr_assert_null(nb_broadcast_to(g, x, 2, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "broadcast_to(x[3]): the target shape is NULL for rank 2");
    nb_graph_free(g);
}

Test(broadcast, sum_to_impossible_target)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 3));
    cr_assert_null(nb_sum_to(g, x, NB_SHAPE(2)));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "sum_to(x[2,3]): shape [2,3] cannot be summed to [2]");
    nb_graph_free(g);
}

Test(broadcast, sum_to_larger_target)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    cr_assert_null(nb_sum_to(g, x, NB_SHAPE(2, 3)));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "sum_to(x[3]): shape [3] cannot be summed to [2,3]");
    nb_graph_free(g);
}

Test(broadcast, sum_to_target_rank_too_large)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    cr_assert_null(nb_sum_to(g, x, -1, NULL));
    ASSERT_ERROR(g, NB_ERR_RANK, "sum_to(x[3]): target rank -1 is outside 0..4");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Leaves                                                                   */
/* ======================================================================== */

Test(leaf, rank_5)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_input(g, NB_DTYPE_F32, NB_SHAPE(1, 2, 3, 4, 5)));
    ASSERT_ERROR(g, NB_ERR_RANK, "input: rank 5 is outside 0..4");
    cr_assert_eq(nb_graph_node_count(g), 0);
    nb_graph_free(g);
}

Test(leaf, negative_rank)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_param(g, NB_DTYPE_F64, -1, NULL, nb_init_constant(0)));
    ASSERT_ERROR(g, NB_ERR_RANK, "param: rank -1 is outside 0..4");
    nb_graph_free(g);
}

Test(leaf, zero_dimension)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 0)));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "input: shape [2,0] is not valid (dimensions from 1 to 2^31-1, size within "
                 "memory)");
    cr_assert_eq(nb_graph_node_count(g), 0);
    nb_graph_free(g);
}

Test(leaf, size_that_overflows, .description = "2^30 * 2^30 * 2^30 elements overflow size_t")
{
    nb_graph *g = nb_graph_new();
    const int64_t big = INT64_C(1) << 30;
    cr_assert_null(nb_param(g, NB_DTYPE_F32, NB_SHAPE(big, big, big), nb_init_constant(0)));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "param: shape [1073741824,1073741824,1073741824] is not valid (dimensions from 1 "
                 "to 2^31-1, size within memory)");
    nb_graph_free(g);
}

Test(leaf, dimension_above_int32)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_input(g, NB_DTYPE_F32, NB_SHAPE(INT64_C(1) << 31)));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "input: shape [2147483648] is not valid (dimensions from 1 to 2^31-1, size "
                 "within memory)");
    nb_graph_free(g);
}

Test(leaf, null_shape)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_input(g, NB_DTYPE_F64, 2, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "input: the shape is NULL for rank 2");
    nb_graph_free(g);
}

Test(leaf, unsupported_dtype)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_input(g, (nb_dtype)7, NB_SHAPE(2)));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "input: dtype 7 is not supported; use f32, f64 or i32");
    nb_graph_free(g);
}

Test(leaf, param_of_i32)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_param(g, NB_DTYPE_I32, NB_SHAPE(2), nb_init_constant(1)));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "param: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);
}

Test(leaf, scalar_of_i32)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_scalar(g, NB_DTYPE_I32, 1));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "const: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);
}

Test(leaf, fill_of_i32)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_fill(g, NB_DTYPE_I32, NB_SHAPE(2), 0));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "fill: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);
}

Test(leaf, const_with_null_data)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_const(g, NB_DTYPE_F64, NB_SHAPE(2), NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "const: the data is NULL");
    nb_graph_free(g);
}

Test(init, uniform_with_low_above_high)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_uniform(2, 1)));
    ASSERT_ERROR(g, NB_ERR_ARG,
                 "param: uniform initializer needs low <= high, got low 2 and high 1");
    cr_assert_eq(nb_graph_node_count(g), 0);
    nb_graph_free(g);
}

Test(init, normal_with_negative_std)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), nb_init_normal(0, -0.5)));
    ASSERT_ERROR(g, NB_ERR_ARG, "param: normal initializer needs std >= 0, got -0.5");
    nb_graph_free(g);
}

Test(init, unknown_kind)
{
    nb_graph *g = nb_graph_new();
    nb_init init = { .kind = (nb_init_kind)42 };
    cr_assert_null(nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), init));
    ASSERT_ERROR(g, NB_ERR_ARG, "param: unknown initializer kind 42");
    nb_graph_free(g);
}

Test(init, negative_fan)
{
    nb_graph *g = nb_graph_new();
    nb_init init = nb_init_xavier_uniform();
    init.fan_in = -4;
    cr_assert_null(nb_param(g, NB_DTYPE_F32, NB_SHAPE(3, 2), init));
    ASSERT_ERROR(g, NB_ERR_ARG,
                 "param: initializer fans must be >= 0 (0: from the shape), got fan_in -4 and "
                 "fan_out 0");
    nb_graph_free(g);
}

Test(init, degenerate_ranges_are_accepted, .description = "low == high and std == 0 are fine")
{
    nb_graph *g = nb_graph_new();
    nb_node *u = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_uniform(3, 3));
    nb_node *n = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_normal(-1, 0));
    ASSERT_HEALTHY(g);
    const double *du = nb_node_data(u), *dn = nb_node_data(n);
    cr_assert_eq(du[0], 3);
    cr_assert_eq(du[1], 3);
    cr_assert_eq(dn[0], -1);
    cr_assert_eq(dn[1], -1);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Scopes and names                                                         */
/* ======================================================================== */

Test(scope, pop_with_no_scope_open)
{
    nb_graph *g = nb_graph_new();
    nb_scope_pop(g);
    ASSERT_ERROR(g, NB_ERR_ARG, "scope_pop: no scope is open");
    nb_graph_free(g);
}

Test(scope, pop_once_too_often)
{
    nb_graph *g = nb_graph_new();
    nb_scope_push(g, "a");
    nb_scope_push(g, "b");
    nb_scope_pop(g);
    nb_scope_pop(g);
    ASSERT_HEALTHY(g);
    nb_scope_pop(g);
    ASSERT_ERROR(g, NB_ERR_ARG, "scope_pop: no scope is open");
    nb_graph_free(g);
}

Test(scope, push_empty_name)
{
    nb_graph *g = nb_graph_new();
    nb_scope_push(g, "");
    ASSERT_ERROR(g, NB_ERR_ARG, "scope_push: the scope name is NULL or empty");
    nb_graph_free(g);
}

Test(scope, push_null_name)
{
    nb_graph *g = nb_graph_new();
    nb_scope_push(g, NULL);
    ASSERT_ERROR(g, NB_ERR_ARG, "scope_push: the scope name is NULL or empty");
    nb_graph_free(g);
}

Test(name, set_empty_name)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(3));
    cr_assert_null(nb_node_set_name(g, x, ""));
    ASSERT_ERROR(g, NB_ERR_ARG, "set_name(x[3]): the name is NULL or empty");
    cr_assert_str_eq(nb_node_name(x), "x");
    nb_graph_free(g);
}

Test(name, set_null_name)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    cr_assert_null(nb_node_set_name(g, x, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "set_name(input_1[3]): the name is NULL or empty");
    nb_graph_free(g);
}

Test(name, set_name_of_null_node_on_healthy_graph)
{
    nb_graph *g = nb_graph_new();
    cr_assert_null(nb_node_set_name(g, NULL, "y"));
    ASSERT_ERROR(g, NB_ERR_ARG, "set_name(NULL): input 1 is NULL");
    nb_graph_free(g);
}

/* ======================================================================== */
/* nb_grad                                                                  */
/* ======================================================================== */

Test(grad, of_a_non_scalar_output)
{
    nb_graph *g = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(2, 3));
    nb_node *y = nb_node_set_name(g, nb_exp(g, w), "y");
    nb_node *dw = (nb_node *)1;
    size_t count = nb_graph_node_count(g);
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_ERR_SHAPE);
    cr_assert_null(dw);
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "grad(y[2,3]): the output must be a scalar; reduce it first, e.g. with nb_sum");
    cr_assert_eq(nb_graph_node_count(g), count);
    nb_graph_free(g);
}

Test(grad, of_an_i32_output)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", 0, NULL);
    nb_node *dl = (nb_node *)1;
    cr_assert_eq(nb_grad(g, l, 1, &l, &dl), NB_ERR_DTYPE);
    cr_assert_null(dl);
    ASSERT_ERROR(g, NB_ERR_DTYPE, "grad(l[]): the output is i32; it must be f32 or f64");
    nb_graph_free(g);
}

Test(grad, with_respect_to_a_foreign_node)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(3));
    nb_node *y = nb_node_set_name(g, nb_sum(g, w), "y");
    nb_node *other = nb_node_set_name(h, nb_input(h, NB_DTYPE_F64, NB_SHAPE(3)), "v");
    nb_node *wrt[2] = { w, other }, *grads[2] = { (nb_node *)1, (nb_node *)1 };
    cr_assert_eq(nb_grad(g, y, 2, wrt, grads), NB_ERR_GRAPH);
    cr_assert_null(grads[0]);
    cr_assert_null(grads[1]);
    ASSERT_ERROR(g, NB_ERR_GRAPH, "grad(y[], v[3]): wrt[1] belongs to another graph");
    nb_graph_free(g);
    nb_graph_free(h);
}

Test(grad, of_a_foreign_output)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(3));
    nb_node *y = nb_node_set_name(h, nb_scalar(h, NB_DTYPE_F64, 1), "y");
    nb_node *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_ERR_GRAPH);
    ASSERT_ERROR(g, NB_ERR_GRAPH, "grad(y[]): input 1 belongs to another graph");
    nb_graph_free(g);
    nb_graph_free(h);
}

Test(grad, dtype_mismatch)
{
    nb_graph *g = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(3));
    nb_node *v = in32(g, "v", NB_SHAPE(3));
    nb_node *y = nb_node_set_name(g, nb_sum(g, w), "loss");
    nb_node *dv = (nb_node *)1;
    cr_assert_eq(nb_grad(g, y, 1, &v, &dv), NB_ERR_DTYPE);
    cr_assert_null(dv);
    ASSERT_ERROR(g, NB_ERR_DTYPE, "grad(loss[], v[3]): wrt[0] is f32 but the output is f64");
    nb_graph_free(g);
}

Test(grad, with_respect_to_i32_labels)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in64(g, "z", NB_SHAPE(2, 3));
    nb_node *l = labels(g, "l", NB_SHAPE(2));
    nb_node *y = nb_node_set_name(g, nb_cross_entropy(g, z, l), "loss");
    nb_node *dl;
    cr_assert_eq(nb_grad(g, y, 1, &l, &dl), NB_ERR_DTYPE);
    ASSERT_ERROR(g, NB_ERR_DTYPE, "grad(loss[], l[2]): wrt[0] is i32 but the output is f64");
    nb_graph_free(g);
}

Test(grad, null_wrt_entry)
{
    nb_graph *g = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(3));
    nb_node *y = nb_node_set_name(g, nb_sum(g, w), "y");
    nb_node *wrt[2] = { w, NULL }, *grads[2];
    cr_assert_eq(nb_grad(g, y, 2, wrt, grads), NB_ERR_ARG);
    ASSERT_ERROR(g, NB_ERR_ARG, "grad(y[]): wrt[1] is NULL");
    nb_graph_free(g);
}

Test(grad, null_arrays)
{
    nb_graph *g = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(3));
    nb_node *y = nb_node_set_name(g, nb_sum(g, w), "y");
    cr_assert_eq(nb_grad(g, y, 1, NULL, NULL), NB_ERR_ARG);
    ASSERT_ERROR(g, NB_ERR_ARG, "grad(y[]): wrt or grads is NULL");
    nb_graph_free(g);
}

Test(grad, of_a_null_output)
{
    nb_graph *g = nb_graph_new();
    nb_node *w = in64(g, "w", NB_SHAPE(3));
    nb_node *dw = (nb_node *)1;
    cr_assert_eq(nb_grad(g, NULL, 1, &w, &dw), NB_ERR_ARG);
    cr_assert_null(dw);
    ASSERT_ERROR(g, NB_ERR_ARG, "grad(NULL): input 1 is NULL");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Cross-entropy and one_hot at build time                                  */
/* ======================================================================== */

Test(cross_entropy, f32_labels)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in32(g, "z", NB_SHAPE(4, 3));
    nb_node *l = in32(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_cross_entropy(g, z, l));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "cross_entropy(z[4,3], l[4]): labels must be i32, not f32");
    nb_graph_free(g);
}

Test(cross_entropy, i32_logits)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = labels(g, "z", NB_SHAPE(4, 3));
    nb_node *l = labels(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_cross_entropy(g, z, l));
    ASSERT_ERROR(g, NB_ERR_DTYPE,
                 "cross_entropy(z[4,3], l[4]): logits must be f32 or f64, not i32");
    nb_graph_free(g);
}

Test(cross_entropy, logits_of_rank_1)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in64(g, "z", NB_SHAPE(3));
    nb_node *l = labels(g, "l", NB_SHAPE(3));
    cr_assert_null(nb_cross_entropy(g, z, l));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "cross_entropy(z[3], l[3]): needs logits of rank 2 [N,C] and labels of rank 1 "
                 "[N]");
    nb_graph_free(g);
}

Test(cross_entropy, labels_of_rank_2)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in64(g, "z", NB_SHAPE(4, 3));
    nb_node *l = labels(g, "l", NB_SHAPE(4, 1));
    cr_assert_null(nb_cross_entropy(g, z, l));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "cross_entropy(z[4,3], l[4,1]): needs logits of rank 2 [N,C] and labels of "
                 "rank 1 [N]");
    nb_graph_free(g);
}

Test(cross_entropy, row_and_label_counts_differ)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in64(g, "z", NB_SHAPE(4, 3));
    nb_node *l = labels(g, "l", NB_SHAPE(5));
    cr_assert_null(nb_cross_entropy(g, z, l));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "cross_entropy(z[4,3], l[5]): 4 rows of logits but 5 labels");
    nb_graph_free(g);
}

Test(one_hot, zero_classes)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_one_hot(g, l, 0, NB_DTYPE_F32));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "one_hot(l[4]): 0 classes is not a valid size");
    nb_graph_free(g);
}

Test(one_hot, negative_classes)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_one_hot(g, l, -3, NB_DTYPE_F64));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "one_hot(l[4]): -3 classes is not a valid size");
    nb_graph_free(g);
}

Test(one_hot, too_many_classes)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_one_hot(g, l, INT64_C(1) << 40, NB_DTYPE_F64));
    ASSERT_ERROR(g, NB_ERR_SHAPE, "one_hot(l[4]): 1099511627776 classes is not a valid size");
    nb_graph_free(g);
}

Test(one_hot, float_labels)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = in64(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_one_hot(g, l, 3, NB_DTYPE_F64));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "one_hot(l[4]): labels must be i32, not f64");
    nb_graph_free(g);
}

Test(one_hot, i32_output_dtype)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(4));
    cr_assert_null(nb_one_hot(g, l, 3, NB_DTYPE_I32));
    ASSERT_ERROR(g, NB_ERR_DTYPE, "one_hot(l[4]): output dtype must be f32 or f64");
    nb_graph_free(g);
}

Test(one_hot, labels_of_rank_4)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(1, 2, 2, 2));
    cr_assert_null(nb_one_hot(g, l, 3, NB_DTYPE_F32));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "one_hot(l[1,2,2,2]): labels of rank 4 would give rank 5; the maximum is 4");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Run-time errors are not sticky                                           */
/* ======================================================================== */

Test(run_error, cross_entropy_label_out_of_range_then_fixed,
     .description = "NB_ERR_VALUE names the op, nodes, label and index; status stays NB_OK")
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in64(g, "z", NB_SHAPE(4, 3));
    nb_node *l = labels(g, "l", NB_SHAPE(4));
    nb_node *loss = nb_cross_entropy(g, z, l);
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_write_f64(g, z, (double[12]){ 0 }, 12), NB_OK);

    int32_t bad[4] = { 0, 2, 3, 1 };
    cr_assert_eq(nb_node_write(g, l, bad, 4), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &loss), NB_ERR_VALUE);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g),
                     "cross_entropy(z[4,3], l[4]): label 3 at index 2 is outside 0..2");
    cr_assert_null(nb_node_data(loss));

    int32_t negative[4] = { 0, 1, 2, -1 };
    cr_assert_eq(nb_node_write(g, l, negative, 4), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &loss), NB_ERR_VALUE);
    cr_assert_str_eq(nb_graph_error(g),
                     "cross_entropy(z[4,3], l[4]): label -1 at index 3 is outside 0..2");

    int32_t good[4] = { 0, 2, 2, 1 };
    cr_assert_eq(nb_node_write(g, l, good, 4), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &loss), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), "");
    double v;
    cr_assert_eq(nb_node_read_f64(g, loss, &v, 1), NB_OK);
    /* zero logits: every row's loss is log 3 */
    cr_assert_float_eq(v, 1.0986122886681098, 1e-12);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    nb_graph_free(g);
}

Test(run_error, cross_entropy_gradient_run_reports_the_label_too)
{
    nb_graph *g = nb_graph_new();
    nb_node *z = in64(g, "z", NB_SHAPE(2, 2));
    nb_node *l = labels(g, "l", NB_SHAPE(2));
    nb_node *loss = nb_cross_entropy(g, z, l);
    nb_node *dz;
    cr_assert_eq(nb_grad(g, loss, 1, &z, &dz), NB_OK, "%s", nb_graph_error(g));
    int32_t bad[2] = { 5, 0 };
    nb_node_write(g, l, bad, 2);
    nb_node *outs[2] = { loss, dz };
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_ERR_VALUE);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g),
                     "cross_entropy(z[2,2], l[2]): label 5 at index 0 is outside 0..1");
    int32_t good[2] = { 1, 0 };
    nb_node_write(g, l, good, 2);
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_OK, "%s", nb_graph_error(g));
    cr_assert_not_null(nb_node_data(dz));
    nb_graph_free(g);
}

Test(run_error, one_hot_label_out_of_range_then_fixed)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(3));
    nb_node *y = nb_one_hot(g, l, 4, NB_DTYPE_F32);
    ASSERT_HEALTHY(g);
    double bad[3] = { 1, 4, 0 };
    cr_assert_eq(nb_node_write_f64(g, l, bad, 3), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_VALUE);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "one_hot(l[3]): label 4 at index 1 is outside 0..3");
    cr_assert_null(nb_node_data(y));

    double good[3] = { 1, 3, 0 };
    cr_assert_eq(nb_node_write_f64(g, l, good, 3), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), "");
    const float *v = nb_node_data(y);
    cr_assert_not_null(v);
    const float want[12] = { 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0 };
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(v[i], want[i], "element %d", i);
    }
    nb_graph_free(g);
}

Test(run_error, bad_run_arguments)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    nb_node *y = nb_exp(g, x);
    nb_node *other = nb_node_set_name(h, nb_input(h, NB_DTYPE_F64, NB_SHAPE(2)), "o");

    cr_assert_eq(nb_graph_run(g, 1, NULL), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "run: the output array is NULL");
    nb_node *outs[2] = { y, NULL };
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "run: output 2 is NULL");
    outs[1] = other;
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_ERR_GRAPH);
    cr_assert_str_eq(nb_graph_error(g), "run(o[2]): output 2 belongs to another graph");
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, 16), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "run: unknown flags 0x10");
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_TRAIN | NB_RUN_EVAL), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "run: NB_RUN_TRAIN and NB_RUN_EVAL are both set; a run has one mode");
    cr_assert_eq(nb_graph_run(NULL, 1, &y), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(g), NB_OK);

    /* a run of an input never written works (zeros) and leaves a warning */
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "warning: input x was never written and reads as zeros "
                                        "(give it values with nb_node_write)");
    cr_assert_eq(nb_node_write_f64(g, x, (double[]){ 0, 1 }, 2), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_graph_free(g);
    nb_graph_free(h);
}

/* ======================================================================== */
/* Data calls                                                               */
/* ======================================================================== */

Test(data, write_count_mismatch)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in32(g, "x", NB_SHAPE(2, 3));
    float src[5] = { 0 };
    cr_assert_eq(nb_node_write(g, x, src, 5), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "write(x[2,3]): got 5 values for 6 elements");
    nb_graph_free(g);
}

Test(data, write_f64_count_mismatch)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    double src[3] = { 1, 2, 3 };
    cr_assert_eq(nb_node_write_f64(g, x, src, 3), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "write_f64(x[2]): got 3 values for 2 elements");
    const double *v = nb_node_data(x);
    cr_assert_eq(v[0], 0, "a failed write changes nothing");
    cr_assert_eq(v[1], 0);
    nb_graph_free(g);
}

Test(data, write_an_op_node)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    nb_node *y = nb_exp(g, x);
    double src[2] = { 1, 2 };
    cr_assert_eq(nb_node_write(g, y, src, 2), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g),
                     "write(exp_1[2]): exp_1 is an op node; only inputs, parameters and constants "
                     "take values");
    cr_assert_eq(nb_node_write_f64(g, y, src, 2), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "write_f64(exp_1[2]): exp_1 is an op node; only inputs, parameters and "
                     "constants take values");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    nb_graph_free(g);
}

Test(data, write_null_source)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    cr_assert_eq(nb_node_write(g, x, NULL, 2), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "write(x[2]): the source is NULL");
    cr_assert_eq(nb_node_write_f64(g, x, NULL, 2), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "write_f64(x[2]): the source is NULL");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    nb_graph_free(g);
}

Test(data, write_f64_value_that_does_not_fit_i32)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = labels(g, "l", NB_SHAPE(2));
    double src[2] = { 1, 3e9 };
    cr_assert_eq(nb_node_write_f64(g, l, src, 2), NB_ERR_VALUE);
    cr_assert_str_eq(nb_graph_error(g),
                     "write_f64(l[2]): value 3e+09 at index 1 does not fit in i32");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    const int32_t *v = nb_node_data(l);
    cr_assert_eq(v[0], 0, "nothing is written when a value does not fit");
    nb_graph_free(g);
}

Test(data, write_a_foreign_node)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *o = nb_node_set_name(h, nb_input(h, NB_DTYPE_F64, NB_SHAPE(1)), "o");
    double v = 1;
    cr_assert_eq(nb_node_write_f64(g, o, &v, 1), NB_ERR_GRAPH);
    cr_assert_str_eq(nb_graph_error(g), "write_f64(o[1]): the node belongs to another graph");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(h), "");
    nb_graph_free(g);
    nb_graph_free(h);
}

Test(data, read_a_node_with_no_value)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    nb_node *y = nb_node_set_name(g, nb_exp(g, x), "y");
    double dst[2] = { -7, -7 };
    cr_assert_eq(nb_node_read_f64(g, y, dst, 2), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g),
                     "read_f64(y[2]): y has no value; run the graph with it as an output first");
    cr_assert_eq(dst[0], -7);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_eq(nb_node_read_f64(g, y, dst, 2), NB_OK);
    cr_assert_float_eq(dst[0], 1.0, 1e-15);
    nb_graph_free(g);
}

Test(data, read_count_mismatch)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2, 2));
    double dst[3];
    cr_assert_eq(nb_node_read_f64(g, x, dst, 3), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "read_f64(x[2,2]): asked for 3 values of 4");
    nb_graph_free(g);
}

Test(data, read_into_null_buffer)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    cr_assert_eq(nb_node_read_f64(g, x, NULL, 2), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "read_f64(x[2]): the destination is NULL");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    nb_graph_free(g);
}

Test(data, data_errors_do_not_hide_a_build_error)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", NB_SHAPE(2));
    nb_scope_pop(g);
    double v[3] = { 0 };
    cr_assert_eq(nb_node_write_f64(g, x, v, 3), NB_ERR_ARG);
    ASSERT_ERROR(g, NB_ERR_ARG, "scope_pop: no scope is open");
    nb_graph_free(g);
}

/* ======================================================================== */
/* A whole model with one bad call in the middle, checked once              */
/* ======================================================================== */

Test(model, mlp_with_one_bad_call_checked_once_at_the_end,
     .description = "the first error is reported; every later node is NULL")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in32(g, "x", NB_SHAPE(8, 4));
    nb_node *y = labels(g, "y", NB_SHAPE(8));
    nb_node *w1 =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(4, 16), nb_init_he_uniform()), "w1");
    nb_node *b1 =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(16), nb_init_constant(0)), "b1");
    /* the mistake: w2 should be [16,3] */
    nb_node *w2 = nb_node_set_name(
        g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(15, 3), nb_init_xavier_uniform()), "w2");

    nb_scope_push(g, "layer1");
    nb_node *h = nb_node_set_name(g, nb_relu(g, nb_add(g, nb_matmul(g, x, w1), b1)), "h");
    nb_scope_pop(g);
    nb_scope_push(g, "layer2");
    nb_node *logits = nb_node_set_name(g, nb_matmul(g, h, w2), "logits");
    nb_scope_pop(g);
    nb_node *loss = nb_node_set_name(g, nb_cross_entropy(g, logits, y), "loss");
    nb_node *wrt[3] = { w1, b1, w2 };
    nb_node *grads[3] = { (nb_node *)1, (nb_node *)1, (nb_node *)1 };
    nb_status s = nb_grad(g, loss, 3, wrt, grads);

    /* checked once */
    ASSERT_ERROR(g, NB_ERR_SHAPE, "matmul(h[8,16], w2[15,3]): inner dimensions 16 and 15 differ");
    cr_assert_eq(s, NB_ERR_SHAPE);
    cr_assert_not_null(h);
    cr_assert_null(logits);
    cr_assert_null(loss);
    for (int i = 0; i < 3; i++) {
        cr_assert_null(grads[i], "grads[%d]", i);
    }
    cr_assert_null(nb_graph_find(g, "loss"));
    cr_assert_null(nb_graph_find(g, "logits"));
    cr_assert_eq(nb_graph_run(g, 1, &h), NB_ERR_SHAPE);
    cr_assert_null(nb_node_data(h));
    nb_graph_free(g);
}

Test(model, same_mlp_without_the_mistake_builds_and_runs)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in32(g, "x", NB_SHAPE(8, 4));
    nb_node *y = labels(g, "y", NB_SHAPE(8));
    nb_node *w1 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(4, 16), nb_init_he_uniform());
    nb_node *b1 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(16), nb_init_constant(0));
    nb_node *w2 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(16, 3), nb_init_xavier_uniform());
    nb_node *h = nb_relu(g, nb_add(g, nb_matmul(g, x, w1), b1));
    nb_node *loss = nb_cross_entropy(g, nb_matmul(g, h, w2), y);
    nb_node *wrt[3] = { w1, b1, w2 }, *grads[4];
    cr_assert_eq(nb_grad(g, loss, 3, wrt, grads), NB_OK, "%s", nb_graph_error(g));
    ASSERT_HEALTHY(g);
    grads[3] = loss;
    cr_assert_eq(nb_graph_run(g, 4, grads), NB_OK, "%s", nb_graph_error(g));
    /* zero inputs: h = relu(b1) = 0, logits = 0, loss = log 3 */
    cr_assert_float_eq(*(const float *)nb_node_data(loss), 1.0986123f, 1e-6);
    nb_graph_free(g);
}

#define STILL_OPEN                                                                                 \
    "scope 'layer' is still open: every nb_scope_push needs its nb_scope_pop before nb_grad, a "   \
    "run or a depth query"

Test(open_scope, a_run_and_a_depth_query_refuse_and_the_graph_stays_usable)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", 0, NULL);
    nb_scope_push(g, "layer");
    nb_node *y = nb_node_set_name(g, nb_tanh(g, x), "y");
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "run: " STILL_OPEN);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), -1);
    cr_assert_str_eq(nb_graph_error(g), "depth: " STILL_OPEN);
    ASSERT_HEALTHY(g); /* not sticky: close the scope and go on */
    nb_scope_pop(g);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), 1);
    nb_graph_free(g);
}

Test(open_scope, nb_grad_refuses_and_the_error_sticks)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = in64(g, "x", 0, NULL);
    nb_scope_push(g, "layer");
    nb_node *y = nb_node_set_name(g, nb_tanh(g, x), "y");
    nb_node *dx = x;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_ERR_ARG);
    cr_assert_null(dx);
    ASSERT_ERROR(g, NB_ERR_ARG, "grad(y[]): " STILL_OPEN);
    nb_graph_free(g);
}
