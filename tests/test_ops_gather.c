/*
 * tests/test_ops_gather.c: the indexing ops (gather, scatter_add, embedding,
 * argmax) and cross_entropy's ignored label, beyond the case table: exact
 * build and run error messages, the model language's forms and a write round
 * trip, repeated indices in gradients, Hessian-vector products against finite
 * differences, argmax's ties and NaN, i32 op nodes through the executor,
 * NB_RUN_CHECK_FINITE, DOT and nb_grad, and ignored labels against PyTorch.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static nb_node *input_f64(nb_graph *g, int rank, const int64_t *shape, const double *v)
{
    nb_node *x = nb_input(g, NB_DTYPE_F64, rank, shape);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write_f64(g, x, v, nb_node_size(x)), NB_OK, "%s", nb_graph_error(g));
    return x;
}

static nb_node *input_i32(nb_graph *g, int rank, const int64_t *shape, const int32_t *v)
{
    nb_node *x = nb_input(g, NB_DTYPE_I32, rank, shape);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write(g, x, v, nb_node_size(x)), NB_OK, "%s", nb_graph_error(g));
    return x;
}

static nb_node *named(nb_graph *g, nb_node *n, const char *name)
{
    return nb_node_set_name(g, n, name);
}

/* Runs n and reads its count values into out. */
static void eval(nb_graph *g, nb_node *n, double *out, size_t count)
{
    cr_assert_eq(nb_graph_run(g, 1, &n), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, n, out, count), NB_OK, "%s", nb_graph_error(g));
}

/* The sticky error after a failed build: the code, the exact message, a NULL node. */
#define ASSERT_BUILD_ERROR(g, node, code, msg)                                                     \
    do {                                                                                           \
        cr_assert_null(node);                                                                      \
        cr_assert_eq(nb_graph_status(g), code, "status %s: %s",                                    \
                     nb_status_string(nb_graph_status(g)), nb_graph_error(g));                     \
        cr_assert_str_eq(nb_graph_error(g), msg);                                                  \
    } while (0)

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_OK, "%d:%d: %s", err.line,
                 err.column, err.message);
    return g;
}

static nb_node *find(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    return n;
}

static char *expression(nb_node *n)
{
    static char buf[256];
    nb_node_expression(n, buf, sizeof buf);
    return buf;
}

/* ---- build-time errors ---- */

Test(gather_errors, indices_must_be_i32_of_rank_1,
     .description = "gather: f64 indices are NB_ERR_DTYPE, rank-2 indices NB_ERR_RANK")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3, 4)), "x");
    nb_node *f = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "f");
    ASSERT_BUILD_ERROR(g, nb_gather(g, x, f, 0), NB_ERR_DTYPE,
                       "gather(x[3,4], f[2]): indices must be i32, not f64");
    nb_graph_free(g);

    g = nb_graph_new();
    x = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3, 4)), "x");
    nb_node *i = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2, 2)), "i");
    ASSERT_BUILD_ERROR(g, nb_gather(g, x, i, 0), NB_ERR_RANK,
                       "gather(x[3,4], i[2,2]): indices must have rank 1, not 2");
    nb_graph_free(g);
}

Test(gather_errors, axis_outside_the_rank,
     .description = "gather(x[3,4], i, 2) and gather(x[3,4], i, -3) are NB_ERR_AXIS")
{
    int axes[2] = { 2, -3 };
    const char *msgs[2] = { "gather(x[3,4]): axis 2 is out of range for rank 2",
                            "gather(x[3,4]): axis -3 is out of range for rank 2" };
    for (int k = 0; k < 2; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3, 4)), "x");
        nb_node *i = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2)), "i");
        ASSERT_BUILD_ERROR(g, nb_gather(g, x, i, axes[k]), NB_ERR_AXIS, msgs[k]);
        nb_graph_free(g);
    }
}

Test(gather_errors, scatter_add_checks_dtypes_count_and_size,
     .description = "scatter_add: i32 src, f64 indices, 3 indices for 2 slices, size 0")
{
    nb_graph *g = nb_graph_new();
    nb_node *s = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2, 3)), "s");
    nb_node *i = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2)), "i");
    ASSERT_BUILD_ERROR(g, nb_scatter_add(g, s, i, 0, 4), NB_ERR_DTYPE,
                       "scatter_add(s[2,3]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);

    g = nb_graph_new();
    s = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "s");
    i = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "i");
    ASSERT_BUILD_ERROR(g, nb_scatter_add(g, s, i, 0, 4), NB_ERR_DTYPE,
                       "scatter_add(s[2,3], i[2]): indices must be i32, not f64");
    nb_graph_free(g);

    g = nb_graph_new();
    s = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "s");
    i = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "i");
    ASSERT_BUILD_ERROR(g, nb_scatter_add(g, s, i, 0, 4), NB_ERR_SHAPE,
                       "scatter_add(s[2,3], i[3]): 3 indices for 2 slices along axis 0; they "
                       "must be as many");
    nb_graph_free(g);

    g = nb_graph_new();
    s = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "s");
    i = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "i");
    ASSERT_BUILD_ERROR(g, nb_scatter_add(g, s, i, -1, 0), NB_ERR_SHAPE,
                       "scatter_add(s[2,3], i[3]): size 0 is not a valid dimension");
    nb_graph_free(g);

    g = nb_graph_new();
    s = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "s");
    i = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "i");
    ASSERT_BUILD_ERROR(g, nb_scatter_add(g, s, i, 2, 4), NB_ERR_AXIS,
                       "scatter_add(s[2,3]): axis 2 is out of range for rank 2");
    nb_graph_free(g);
}

Test(gather_errors, embedding_checks_dtypes_and_ranks,
     .description = "embedding: f64 ids, i32 table, a table of rank 3, ids of rank 4")
{
    nb_graph *g = nb_graph_new();
    nb_node *ids = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(4)), "ids");
    nb_node *t = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(5, 3)), "t");
    ASSERT_BUILD_ERROR(g, nb_embedding(g, ids, t), NB_ERR_DTYPE,
                       "embedding(ids[4], t[5,3]): ids must be i32, not f64");
    nb_graph_free(g);

    g = nb_graph_new();
    ids = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(4)), "ids");
    t = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(5, 3)), "t");
    ASSERT_BUILD_ERROR(g, nb_embedding(g, ids, t), NB_ERR_DTYPE,
                       "embedding(t[5,3]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);

    g = nb_graph_new();
    ids = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(4)), "ids");
    t = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(5, 3, 2)), "t");
    ASSERT_BUILD_ERROR(g, nb_embedding(g, ids, t), NB_ERR_RANK,
                       "embedding(ids[4], t[5,3,2]): the table must have rank 2 [V,D], not 3");
    nb_graph_free(g);

    g = nb_graph_new();
    ids = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2, 2, 2, 2)), "ids");
    t = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(5, 3)), "t");
    ASSERT_BUILD_ERROR(g, nb_embedding(g, ids, t), NB_ERR_RANK,
                       "embedding(ids[2,2,2,2], t[5,3]): ids of rank 4 would give rank 5; the "
                       "maximum is 4");
    nb_graph_free(g);
}

Test(gather_errors, argmax_checks_dtype_and_axis,
     .description = "argmax of i32 is NB_ERR_DTYPE; axis 2 of a matrix NB_ERR_AXIS")
{
    nb_graph *g = nb_graph_new();
    nb_node *l = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "l");
    ASSERT_BUILD_ERROR(g, nb_argmax(g, l, 0, false), NB_ERR_DTYPE,
                       "argmax(l[3]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_node *x = named(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3)), "x");
    ASSERT_BUILD_ERROR(g, nb_argmax(g, x, 2, true), NB_ERR_AXIS,
                       "argmax(x[2,3]): axis 2 is out of range for rank 2");
    nb_graph_free(g);
}

Test(
    gather_errors, cross_entropy_ignore_checks_as_cross_entropy,
    .description = "cross_entropy_ignore: f64 labels, and 3 labels for 2 rows, as nb_cross_entropy")
{
    nb_graph *g = nb_graph_new();
    nb_node *z = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "z");
    nb_node *l = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "l");
    ASSERT_BUILD_ERROR(g, nb_cross_entropy_ignore(g, z, l, -1), NB_ERR_DTYPE,
                       "cross_entropy(z[2,3], l[2]): labels must be i32, not f64");
    nb_graph_free(g);

    g = nb_graph_new();
    z = named(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "z");
    l = named(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "l");
    ASSERT_BUILD_ERROR(g, nb_cross_entropy_ignore(g, z, l, -1), NB_ERR_SHAPE,
                       "cross_entropy(z[2,3], l[3]): 2 rows of logits but 3 labels");
    nb_graph_free(g);
}

/* ---- run-time errors: reported, not sticky; the graph stays usable ---- */

/* Runs y expecting NB_ERR_VALUE and msg, then writes good indices into idx and runs it again. */
static void expect_run_error_then_fix(nb_graph *g, nb_node *y, nb_node *idx, const int32_t *good,
                                      const char *msg)
{
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_VALUE, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), msg);
    cr_assert_eq(nb_graph_status(g), NB_OK, "a run error is not sticky");
    cr_assert_eq(nb_node_write(g, idx, good, nb_node_size(idx)), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), "");
}

Test(gather_run, index_out_of_range_names_it_and_the_bound,
     .description = "gather(x[3,4], i = (0, 3), 0) fails naming index 3 at position 1 and the "
                    "bound 0..2; with i = (0, 2) it then runs")
{
    nb_graph *g = nb_graph_new();
    double xs[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    nb_node *x = named(g, input_f64(g, NB_SHAPE(3, 4), xs), "x");
    nb_node *i = named(g, input_i32(g, NB_SHAPE(2), (int32_t[]){ 0, 3 }), "idx");
    nb_node *y = nb_gather(g, x, i, 0);
    expect_run_error_then_fix(
        g, y, i, (int32_t[]){ 0, 2 },
        "gather(x[3,4], idx[2]): index 3 at position 1 is outside 0..2 (axis 0 has size 3)");
    double v[8];
    cr_assert_eq(nb_node_read_f64(g, y, v, 8), NB_OK);
    cr_expect_eq(v[4], 8);
    cr_expect_eq(v[7], 11);
    nb_graph_free(g);
}

Test(gather_run, negative_index_is_out_of_range,
     .description = "gather along axis 1 with index -1 fails (PyTorch takes no negative index)")
{
    nb_graph *g = nb_graph_new();
    double xs[6] = { 1, 2, 3, 4, 5, 6 };
    nb_node *x = named(g, input_f64(g, NB_SHAPE(2, 3), xs), "x");
    nb_node *i = named(g, input_i32(g, NB_SHAPE(1), (int32_t[]){ -1 }), "idx");
    nb_node *y = nb_gather(g, x, i, -1);
    expect_run_error_then_fix(
        g, y, i, (int32_t[]){ 2 },
        "gather(x[2,3], idx[1]): index -1 at position 0 is outside 0..2 (axis 1 has size 3)");
    double v[2];
    cr_assert_eq(nb_node_read_f64(g, y, v, 2), NB_OK);
    cr_expect(v[0] == 3 && v[1] == 6, "%g %g", v[0], v[1]);
    nb_graph_free(g);
}

Test(gather_run, scatter_add_index_past_size,
     .description = "scatter_add(s[3], i = (0, 4, 1), 0, 4) fails naming index 4 at position 1")
{
    nb_graph *g = nb_graph_new();
    nb_node *s = named(g, input_f64(g, NB_SHAPE(3), (double[]){ 1, 2, 3 }), "s");
    nb_node *i = named(g, input_i32(g, NB_SHAPE(3), (int32_t[]){ 0, 4, 1 }), "idx");
    nb_node *y = nb_scatter_add(g, s, i, 0, 4);
    expect_run_error_then_fix(g, y, i, (int32_t[]){ 0, 3, 0 },
                              "scatter_add(s[3], idx[3]): index 4 at position 1 is outside 0..3 "
                              "(the result has size 4 along axis 0)");
    double v[4];
    cr_assert_eq(nb_node_read_f64(g, y, v, 4), NB_OK);
    cr_expect(v[0] == 4 && v[1] == 0 && v[2] == 0 && v[3] == 2, "%g %g %g %g", v[0], v[1], v[2],
              v[3]);
    nb_graph_free(g);
}

Test(gather_run, embedding_id_past_the_table,
     .description = "embedding(ids[2,2], table[5,3]) with id 7 at flat position 2 fails")
{
    nb_graph *g = nb_graph_new();
    double ts[15];
    for (int k = 0; k < 15; k++) {
        ts[k] = k;
    }
    nb_node *t = named(g, input_f64(g, NB_SHAPE(5, 3), ts), "table");
    nb_node *ids = named(g, input_i32(g, NB_SHAPE(2, 2), (int32_t[]){ 0, 1, 7, 2 }), "ids");
    nb_node *y = nb_embedding(g, ids, t);
    expect_run_error_then_fix(g, y, ids, (int32_t[]){ 0, 1, 4, 2 },
                              "embedding(ids[2,2], table[5,3]): id 7 at position 2 is outside "
                              "0..4 (the table has 5 rows)");
    double v[12];
    cr_assert_eq(nb_node_read_f64(g, y, v, 12), NB_OK);
    cr_expect(v[6] == 12 && v[8] == 14, "%g %g", v[6], v[8]);
    nb_graph_free(g);
}

Test(gather_run, cross_entropy_ignore_still_checks_other_labels,
     .description = "with ignore -1, label -1 is fine but label 3 of 3 classes fails the run")
{
    nb_graph *g = nb_graph_new();
    double zs[6] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6 };
    nb_node *z = named(g, input_f64(g, NB_SHAPE(2, 3), zs), "z");
    nb_node *l = named(g, input_i32(g, NB_SHAPE(2), (int32_t[]){ -1, 3 }), "l");
    nb_node *y = nb_cross_entropy_ignore(g, z, l, -1);
    expect_run_error_then_fix(g, y, l, (int32_t[]){ -1, 2 },
                              "cross_entropy(z[2,3], l[2]): label 3 at index 1 is outside 0..2");
    nb_graph_free(g);
}

/* ---- the model language ---- */

Test(gather_lang, positional_and_keyword_forms_give_the_same_node,
     .description = "gather, scatter_add, embedding, argmax and cross_entropy read with "
                    "positional or keyword arguments build the same op, attributes and shape")
{
    nb_graph *g = parse("input x[3, 4]\n"
                        "input i[2] : i32 = [2, 0]\n"
                        "input ids[2, 3] : i32\n"
                        "input l[3] : i32\n"
                        "g1 = gather(x, i, 1)\n"
                        "g2 = gather(x, i, axis=1)\n"
                        "g3 = gather(x, i, -1)\n"
                        "t1 = scatter_add(g1, i, 1, 6)\n"
                        "t2 = scatter_add(g1, i, size=6, axis=1)\n"
                        "e1 = embedding(ids, x)\n"
                        "a1 = argmax(x, 1, keepdims)\n"
                        "a2 = argmax(x, axis=1, keepdims=true)\n"
                        "a3 = argmax(x, -1)\n"
                        "c1 = cross_entropy(x, l)\n"
                        "c2 = cross_entropy(x, l, ignore=-1)\n"
                        "c3 = cross_entropy(x, l, -1)\n"
                        "c4 = cross_entropy(x, l, ignore=none)\n");
    static const struct {
        const char *a, *b, *expr;
    } same[] = {
        { "g1", "g2", "gather(x, i, axis=1)" },
        { "g1", "g3", "gather(x, i, axis=1)" },
        { "t1", "t2", "scatter_add(g1, i, axis=1, size=6)" },
        { "e1", "e1", "embedding(ids, x)" },
        { "a1", "a2", "argmax(x, axis=1, keepdims=true)" },
        { "c1", "c4", "cross_entropy(x, l)" },
        { "c2", "c3", "cross_entropy(x, l, ignore=-1)" },
    };
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        nb_node *a = find(g, same[k].a), *b = find(g, same[k].b);
        cr_expect_str_eq(expression(a), same[k].expr, "%s", same[k].a);
        cr_expect_str_eq(expression(b), same[k].expr, "%s", same[k].b);
        cr_expect_eq(nb_node_rank(a), nb_node_rank(b));
        for (int d = 0; d < nb_node_rank(a); d++) {
            cr_expect_eq(nb_node_shape(a)[d], nb_node_shape(b)[d]);
        }
    }
    nb_node *t1 = find(g, "t1"), *e1 = find(g, "e1"), *a1 = find(g, "a1"), *a3 = find(g, "a3");
    cr_expect_eq(nb_node_shape(t1)[1], 6);
    cr_expect_eq(nb_node_rank(e1), 3);
    cr_expect_eq(nb_node_shape(e1)[2], 4);
    cr_expect_eq(nb_node_dtype(a1), NB_DTYPE_I32);
    cr_expect(nb_node_rank(a1) == 2 && nb_node_shape(a1)[1] == 1);
    cr_expect_str_eq(expression(a3), "argmax(x, axis=1)");
    nb_graph_free(g);
}

/* Parses src, expecting the error msg at line:col. */
static void expect_parse_error(const char *src, nb_status code, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &err), code, "%s", err.message);
    cr_expect_str_eq(err.message, msg);
    cr_expect_eq(err.line, line);
    cr_expect_eq(err.column, col, "%s: column %d", msg, err.column);
    nb_graph_free(g);
}

Test(gather_lang, bad_calls_show_the_whole_form,
     .description = "a fractional axis or ignore and an unknown keyword name the form "
                    "gather(x, idx, axis=0) or cross_entropy(logits, labels, ignore=none)")
{
    expect_parse_error("input x[3]\ninput i[2] : i32\ny = gather(x, i, axis=0.5)\n", NB_ERR_FORMAT,
                       3, 23, "gather: axis must be a whole number");
    expect_parse_error("input z[2, 3]\ninput l[2] : i32\ny = cross_entropy(z, l, ignore=1.5)\n",
                       NB_ERR_FORMAT, 3, 32,
                       "cross_entropy: ignore must be a whole number or none");
    expect_parse_error("input z[2, 3]\ninput l[2] : i32\ny = cross_entropy(z, l, ignor=1)\n",
                       NB_ERR_FORMAT, 3, 31,
                       "cross_entropy has no argument 'ignor' (did you mean 'ignore'?); it takes "
                       "cross_entropy(logits, "
                       "labels, ignore=none)");
    expect_parse_error("input s[2]\ninput i[2] : i32\ny = scatter_add(s, i, 0)\n", NB_ERR_FORMAT, 3,
                       5, "scatter_add needs size=...; it takes scatter_add(src, idx, axis, size)");
    expect_parse_error("input x[2, 3]\ninput i[2]\ny = gather(x, i, 0)\n", NB_ERR_DTYPE, 3, 5,
                       "gather: indices must be i32, not f64 (x[2,3], i[2])");
}

Test(gather_lang, write_round_trip,
     .description = "a model using every indexing op and both cross_entropy forms is written "
                    "with keyword calls (the plain cross_entropy as before), read back into a "
                    "new graph and gives the same values")
{
    const char *src = "input x[3, 4] = [[0.5, -1, 2, 0.25], [1.5, 3, -2, 0], [0.75, -0.5, 1, 2]]\n"
                      "input i[3] : i32 = [2, 0, 2]\n"
                      "input ids[2, 2] : i32 = [[1, 0], [2, 2]]\n"
                      "input l[3] : i32 = [1, -1, 3]\n"
                      "input big[4] : i32 = [10, -1, 30, 40]\n"
                      "g = gather(x, i, 0)\n"
                      "s = scatter_add(g, i, 0, 4)\n"
                      "e = embedding(ids, x)\n"
                      "a = argmax(x, 1)\n"
                      "pick = gather(big, a, 0)\n"
                      "plain = cross_entropy(x, a)\n"
                      "kept = cross_entropy(x, l, ignore=-1)\n"
                      "total = sum(s) + sum(e) + plain + kept\n";
    nb_graph *g = parse(src);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(nb_model_write(g, f), NB_OK, "%s", nb_graph_error(g));
    fclose(f);
    const char *lines[] = {
        "g = gather(x, i, axis=0)\n",
        "s = scatter_add(g, i, axis=0, size=4)\n",
        "e = embedding(ids, x)\n",
        "a = argmax(x, axis=1)\n",
        "pick = gather(big, a, axis=0)\n",
        "plain = cross_entropy(x, a)\n",
        "kept = cross_entropy(x, l, ignore=-1)\n",
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
        cr_expect_not_null(strstr(text, lines[k]), "no line %s in:\n%s", lines[k], text);
    }
    nb_graph *h = parse(text);
    const char *names[] = { "g", "s", "e", "a", "pick", "plain", "kept", "total" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        nb_node *u = find(g, names[k]), *v = find(h, names[k]);
        size_t n = nb_node_size(u);
        cr_assert_eq(n, nb_node_size(v));
        cr_assert_eq(nb_node_dtype(u), nb_node_dtype(v), "%s", names[k]);
        double a[16], b[16];
        cr_assert(n <= 16);
        eval(g, u, a, n);
        eval(h, v, b, n);
        for (size_t j = 0; j < n; j++) {
            cr_expect(a[j] == b[j], "%s[%zu]: %.17g then %.17g", names[k], j, a[j], b[j]);
        }
    }
    /* a = (2, 1, 3), each row's maximum: big's entries there are 30, -1, 40 */
    double pick[3];
    eval(h, find(h, "pick"), pick, 3);
    cr_expect(pick[0] == 30 && pick[1] == -1 && pick[2] == 40, "%g %g %g", pick[0], pick[1],
              pick[2]);
    free(text);
    nb_graph_free(g);
    nb_graph_free(h);
}

/* ---- gradients with repeated indices ---- */

Test(gather_grad, repeated_indices_accumulate,
     .description = "d/dx sum(gather(x, (2, 0, 2), 0) * w) adds w's rows 0 and 2 into x's row 2; "
                    "row 1 gets 0")
{
    nb_graph *g = nb_graph_new();
    double xs[6] = { 1, 2, 3, 4, 5, 6 }, ws[6] = { 0.5, -1, 2, 4, 0.25, 8 };
    nb_node *x = input_f64(g, NB_SHAPE(3, 2), xs);
    nb_node *i = input_i32(g, NB_SHAPE(3), (int32_t[]){ 2, 0, 2 });
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(3, 2), ws);
    nb_node *y = nb_sum(g, nb_mul(g, nb_gather(g, x, i, 0), w));
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    cr_expect_str_eq(nb_node_op_name(dx), "scatter_add");
    double d[6];
    eval(g, dx, d, 6);
    const double want[6] = { 2, 4, 0, 0, 0.75, 7 };
    for (int k = 0; k < 6; k++) {
        cr_expect_eq(d[k], want[k], "dx[%d] = %g, want %g", k, d[k], want[k]);
    }
    nb_graph_free(g);
}

Test(gather_grad, embedding_rows_used_twice_get_both_gradients,
     .description = "d/dtable sum(embedding((1, 3, 1, 0), table[4,2]) * w): row 1 gets w's rows "
                    "0 + 2, row 2 is unused and gets 0; through scatter_add, not a one-hot")
{
    nb_graph *g = nb_graph_new();
    double ts[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, ws[8] = { 1, 2, 10, 20, 100, 200, 0.5, 0.25 };
    nb_node *t = input_f64(g, NB_SHAPE(4, 2), ts);
    nb_node *ids = input_i32(g, NB_SHAPE(4), (int32_t[]){ 1, 3, 1, 0 });
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(4, 2), ws);
    nb_node *y = nb_sum(g, nb_mul(g, nb_embedding(g, ids, t), w));
    size_t before = nb_graph_node_count(g);
    nb_node *dt;
    cr_assert_eq(nb_grad(g, y, 1, &t, &dt), NB_OK, "%s", nb_graph_error(g));
    for (size_t k = before; k < nb_graph_node_count(g); k++) {
        const char *op = nb_node_op_name(nb_graph_node(g, k));
        cr_expect(strcmp(op, "one_hot") != 0 && strcmp(op, "matmul") != 0, "a %s node", op);
    }
    cr_expect_str_eq(nb_node_op_name(dt), "scatter_add");
    double d[8];
    eval(g, dt, d, 8);
    const double want[8] = { 0.5, 0.25, 101, 202, 0, 0, 10, 20 };
    for (int k = 0; k < 8; k++) {
        cr_expect_eq(d[k], want[k], "dtable[%d] = %g, want %g", k, d[k], want[k]);
    }
    nb_graph_free(g);
}

Test(gather_grad, embedding_of_matrix_ids_flattens_them,
     .description = "ids [2,2] = ((2, 2), (0, 2)): d/dtable sum(embedding * w) sums three rows of "
                    "w into table row 2, and gradcheck agrees")
{
    nb_graph *g = nb_graph_new();
    double ts[6] = { 0.5, -1, 2, 3, -0.25, 1.5 }, ws[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    nb_node *t = input_f64(g, NB_SHAPE(3, 2), ts);
    nb_node *ids = input_i32(g, NB_SHAPE(2, 2), (int32_t[]){ 2, 2, 0, 2 });
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 2, 2), ws);
    nb_node *y = nb_sum(g, nb_mul(g, nb_embedding(g, ids, t), w));
    nb_node *dt;
    cr_assert_eq(nb_grad(g, y, 1, &t, &dt), NB_OK, "%s", nb_graph_error(g));
    double d[6];
    eval(g, dt, d, 6);
    const double want[6] = { 5, 6, 0, 0, 1 + 3 + 7, 2 + 4 + 8 };
    for (int k = 0; k < 6; k++) {
        cr_expect_eq(d[k], want[k], "dtable[%d] = %g, want %g", k, d[k], want[k]);
    }
    nb_graph_free(g);
}

Test(gather_grad, scatter_add_gradient_is_gather,
     .description = "d/dsrc sum(scatter_add(src, (1, 0, 1), 0, 3) * w) = w's rows 1, 0, 1")
{
    nb_graph *g = nb_graph_new();
    double ss[3] = { 1, 2, 3 }, ws[3] = { 0.5, 4, -2 };
    nb_node *s = input_f64(g, NB_SHAPE(3), ss);
    nb_node *i = input_i32(g, NB_SHAPE(3), (int32_t[]){ 1, 0, 1 });
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(3), ws);
    nb_node *y = nb_sum(g, nb_mul(g, nb_scatter_add(g, s, i, 0, 3), w));
    nb_node *ds;
    cr_assert_eq(nb_grad(g, y, 1, &s, &ds), NB_OK, "%s", nb_graph_error(g));
    cr_expect_str_eq(nb_node_op_name(ds), "gather");
    double d[3], v;
    eval(g, ds, d, 3);
    cr_expect(d[0] == 4 && d[1] == 0.5 && d[2] == 4, "%g %g %g", d[0], d[1], d[2]);
    eval(g, y, &v, 1);
    cr_expect_eq(v, 4.0 * 4 + 0.5 * 2); /* y = (0 + src 0 at 0, 1 + 3 at 1, 0 at 2) . w */
    nb_graph_free(g);
}

/* ---- Hessian-vector products against finite differences ---- */

/*
 * For a scalar L of the leaf p: checks Hv = grad(sum(grad(L, p) * v), p)
 * against (grad(L)(p + eps v) - grad(L)(p - eps v)) / 2 eps, with v fixed.
 */
static void check_hvp(nb_graph *g, nb_node *loss, nb_node *p, const double *dir, double *out)
{
    size_t n = nb_node_size(p);
    nb_node *gp, *hv;
    cr_assert_eq(nb_grad(g, loss, 1, &p, &gp), NB_OK, "%s", nb_graph_error(g));
    nb_node *v = nb_const(g, NB_DTYPE_F64, nb_node_rank(p), nb_node_shape(p), dir);
    cr_assert_eq(nb_grad(g, nb_sum(g, nb_mul(g, gp, v)), 1, &p, &hv), NB_OK, "%s",
                 nb_graph_error(g));
    double p0[32], h[32], plus[32], minus[32], q[32];
    cr_assert(n <= 32);
    cr_assert_eq(nb_node_read_f64(g, p, p0, n), NB_OK);
    eval(g, hv, h, n);
    const double eps = 1e-5;
    for (int sgn = 1; sgn >= -1; sgn -= 2) {
        for (size_t k = 0; k < n; k++) {
            q[k] = p0[k] + sgn * eps * dir[k];
        }
        cr_assert_eq(nb_node_write_f64(g, p, q, n), NB_OK);
        eval(g, gp, sgn > 0 ? plus : minus, n);
    }
    cr_assert_eq(nb_node_write_f64(g, p, p0, n), NB_OK);
    double scale = 0;
    for (size_t k = 0; k < n; k++) {
        scale = fmax(scale, fabs(h[k]));
    }
    cr_assert_gt(scale, 1e-2, "the Hessian-vector product should not vanish");
    for (size_t k = 0; k < n; k++) {
        double fd = (plus[k] - minus[k]) / (2 * eps);
        cr_expect(fabs(h[k] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                  "element %zu: Hv = %.12g, finite differences %.12g", k, h[k], fd);
    }
    if (out) {
        memcpy(out, h, n * sizeof *h);
    }
}

static const double dir12[12] = { 0.3, -0.7, 1.1, 0.2, -0.4, 0.9, -1.3, 0.5, 0.8, -0.6, 0.1, 1.2 };

Test(gather_hvp, through_embedding_wrt_the_table,
     .description = "L = sum(tanh(embedding(ids, T))^2 * w) with a repeated id: Hv w.r.t. T "
                    "matches central differences of the gradient")
{
    nb_graph *g = nb_graph_new();
    double ts[12] = { 0.5, -1.2, 0.3, 0.8, -0.4, 1.1, 0.2, -0.9, 0.7, -0.3, 0.6, -1.5 };
    double ws[15] = { 1, -2, 0.5, 3, 1.5, -1, 2, 0.25, -0.5, 1, 0.75, -1.5, 2.5, -0.25, 1.25 };
    nb_node *t = input_f64(g, NB_SHAPE(4, 3), ts);
    nb_node *ids = input_i32(g, NB_SHAPE(5), (int32_t[]){ 2, 0, 2, 3, 0 });
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(5, 3), ws);
    nb_node *h = nb_tanh(g, nb_embedding(g, ids, t));
    check_hvp(g, nb_sum(g, nb_mul(g, nb_mul(g, h, h), w)), t, dir12, NULL);
    nb_graph_free(g);
}

Test(gather_hvp, through_gather_and_scatter_add,
     .description = "L = sum(tanh(scatter_add(gather(x, i, 1)^2, i, 1, 4)) * w): Hv w.r.t. x "
                    "matches central differences")
{
    nb_graph *g = nb_graph_new();
    double xs[12] = { 0.4, -0.8, 1.2, 0.1, -0.5, 0.9, 0.3, -1.1, 0.6, 0.2, -0.7, 1.0 };
    double ws[12] = { 1, -0.5, 2, 0.75, -1.5, 0.5, 1.25, -2, 0.25, 1.5, -1, 0.6 };
    nb_node *x = input_f64(g, NB_SHAPE(3, 4), xs);
    nb_node *i = input_i32(g, NB_SHAPE(5), (int32_t[]){ 3, 1, 3, 0, 1 });
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(3, 4), ws);
    nb_node *sel = nb_gather(g, x, i, 1);
    nb_node *back = nb_scatter_add(g, nb_mul(g, sel, sel), i, 1, 4);
    check_hvp(g, nb_sum(g, nb_mul(g, nb_tanh(g, back), w)), x, dir12, NULL);
    nb_graph_free(g);
}

Test(gather_hvp, through_cross_entropy_with_ignored_rows,
     .description = "L = cross_entropy_ignore(z, (2, -1, 0, -1), -1): Hv w.r.t. z matches central "
                    "differences, and is 0 on the ignored rows")
{
    nb_graph *g = nb_graph_new();
    double zs[12] = { 0.4, -0.8, 1.2, 0.1, -0.5, 0.9, 0.3, -1.1, 0.6, 0.2, -0.7, 1.0 };
    nb_node *z = input_f64(g, NB_SHAPE(4, 3), zs);
    nb_node *l = input_i32(g, NB_SHAPE(4), (int32_t[]){ 2, -1, 0, -1 });
    double h[12];
    check_hvp(g, nb_cross_entropy_ignore(g, z, l, -1), z, dir12, h);
    for (int k = 0; k < 3; k++) {
        cr_expect(h[3 + k] == 0 && h[9 + k] == 0, "column %d: %g %g", k, h[3 + k], h[9 + k]);
    }
    nb_graph_free(g);
}

/* ---- argmax: ties, NaN, and i32 op nodes ---- */

Test(gather_argmax, ties_go_to_the_first_and_nan_wins,
     .description = "argmax of (1, NaN, 3, NaN) is 1 and of (1, 3, 3) is 1, as torch.argmax; "
                    "rows (1, 3, NaN), (NaN, 2, NaN) give 2 and 0; f32 and f64")
{
    for (int dt = 0; dt < 2; dt++) {
        nb_dtype dtype = dt ? NB_DTYPE_F32 : NB_DTYPE_F64;
        nb_graph *g = nb_graph_new();
        double a[4] = { 1, NAN, 3, NAN }, b[3] = { 1, 3, 3 }, c[6] = { 1, 3, NAN, NAN, 2, NAN };
        nb_node *xa = nb_input(g, dtype, NB_SHAPE(4)), *xb = nb_input(g, dtype, NB_SHAPE(3));
        nb_node *xc = nb_input(g, dtype, NB_SHAPE(2, 3));
        cr_assert_eq(nb_node_write_f64(g, xa, a, 4), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, xb, b, 3), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, xc, c, 6), NB_OK);
        nb_node *ya = nb_argmax(g, xa, 0, false), *yb = nb_argmax(g, xb, -1, true);
        nb_node *yc = nb_argmax(g, xc, 1, false);
        cr_assert_eq(nb_node_rank(ya), 0);
        cr_assert(nb_node_rank(yb) == 1 && nb_node_shape(yb)[0] == 1);
        nb_node *outs[3] = { ya, yb, yc };
        cr_assert_eq(nb_graph_run(g, 3, outs), NB_OK, "%s", nb_graph_error(g));
        const int32_t *va = nb_node_data(ya), *vb = nb_node_data(yb), *vc = nb_node_data(yc);
        cr_expect_eq(va[0], 1, "%s: %d", nb_dtype_name(dtype), va[0]);
        cr_expect_eq(vb[0], 1, "%s: %d", nb_dtype_name(dtype), vb[0]);
        cr_expect(vc[0] == 2 && vc[1] == 0, "%s: %d %d", nb_dtype_name(dtype), vc[0], vc[1]);
        nb_graph_free(g);
    }
}

Test(gather_argmax, i32_result_reads_runs_checked_and_draws,
     .description = "argmax's i32 node: nb_node_read_f64 converts it, NB_RUN_CHECK_FINITE skips "
                    "i32 values (2143289344 is a NaN's bits), DOT shows its values and i32")
{
    nb_graph *g = nb_graph_new();
    double xs[6] = { 0.5, 2, -1, 3, 1, 2.5 };
    nb_node *x = named(g, input_f64(g, NB_SHAPE(2, 3), xs), "x");
    nb_node *a = named(g, nb_argmax(g, x, 1, false), "a");
    /* an i32 value whose bits read as a float would be a NaN, through an i32 gather */
    nb_node *big = named(g, input_i32(g, NB_SHAPE(3), (int32_t[]){ 7, 2143289344, -5 }), "big");
    nb_node *p = named(g, nb_gather(g, big, a, 0), "p");
    cr_assert_eq(nb_node_dtype(a), NB_DTYPE_I32);
    cr_assert_eq(nb_node_dtype(p), NB_DTYPE_I32);
    nb_node *outs[2] = { a, p };
    cr_assert_eq(nb_graph_run_ex(g, 2, outs, NB_RUN_CHECK_FINITE | NB_RUN_KEEP_ALL), NB_OK, "%s",
                 nb_graph_error(g));
    double va[2], vp[2];
    cr_assert_eq(nb_node_read_f64(g, a, va, 2), NB_OK);
    cr_assert_eq(nb_node_read_f64(g, p, vp, 2), NB_OK);
    cr_expect(va[0] == 1 && va[1] == 0, "%g %g", va[0], va[1]);
    cr_expect(vp[0] == 2143289344 && vp[1] == 7, "%g %g", vp[0], vp[1]);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    nb_dot_options o = nb_dot_defaults();
    o.values = true;
    cr_assert_eq(nb_graph_write_dot(g, f, &o), NB_OK);
    fclose(f);
    cr_expect_not_null(strstr(text, "a\\nargmax axis=1 [2] i32\\n= [1, 0]"), "%s", text);
    cr_expect_not_null(strstr(text, "p\\ngather axis=0 [2] i32\\n= [2.143e+09, 7]"), "%s", text);
    free(text);
    nb_graph_free(g);
}

Test(gather_argmax, no_gradient_flows_through_it,
     .description = "nb_grad refuses an i32 output; d/dx sum(embedding(argmax(x), T)) is a zero "
                    "fill while d/dT sums the picked rows")
{
    nb_graph *g = nb_graph_new();
    double xs[3] = { 0.5, 2, -1 };
    nb_node *x = named(g, input_f64(g, NB_SHAPE(3), xs), "x");
    nb_node *a = named(g, nb_argmax(g, x, 0, false), "a");
    nb_node *d = NULL;
    cr_assert_eq(nb_grad(g, a, 1, &x, &d), NB_ERR_DTYPE);
    cr_assert_str_eq(nb_graph_error(g), "grad(a[]): the output is i32; it must be f32 or f64");
    cr_assert_null(d);
    nb_graph_free(g);

    g = nb_graph_new();
    double ts[6] = { 1, 2, 3, 4, 5, 6 };
    x = named(g, input_f64(g, NB_SHAPE(2, 3), (double[]){ 0.5, 2, -1, 3, 1, 2.5 }), "x");
    nb_node *t = named(g, input_f64(g, NB_SHAPE(3, 2), ts), "t");
    nb_node *y = nb_sum(g, nb_embedding(g, nb_argmax(g, x, 1, false), t));
    nb_node *wrt[2] = { x, t }, *grads[2];
    cr_assert_eq(nb_grad(g, y, 2, wrt, grads), NB_OK, "%s", nb_graph_error(g));
    cr_expect_str_eq(nb_node_op_name(grads[0]), "fill");
    double dt[6], v;
    eval(g, grads[1], dt, 6);
    /* argmax rows: (1, 0); rows 1 and 0 of t get ones, row 2 zeros */
    const double want[6] = { 1, 1, 1, 1, 0, 0 };
    for (int k = 0; k < 6; k++) {
        cr_expect_eq(dt[k], want[k], "dt[%d] = %g", k, dt[k]);
    }
    eval(g, y, &v, 1);
    cr_expect_eq(v, 3 + 4 + 1 + 2);
    nb_graph_free(g);
}

/* ---- cross_entropy with an ignored label ---- */

Test(gather_xent, ignored_rows_get_zero_gradient_as_pytorch,
     .description = "d/dz F.cross_entropy(z, (2, -1, 1, -1), ignore_index=-1) equals PyTorch's "
                    "z.grad (two kept rows, /2), 0 on rows 1 and 3")
{
    nb_graph *g = nb_graph_new();
    double zs[12] = { -2.3, -1.43, -2.79, 1.28, -2.81, -1.1, -1.87, 2.45, 2.91, 0.43, 2.39, -1.94 };
    nb_node *z = input_f64(g, NB_SHAPE(4, 3), zs);
    nb_node *l = input_i32(g, NB_SHAPE(4), (int32_t[]){ 2, -1, 1, -1 });
    nb_node *y = nb_cross_entropy_ignore(g, z, l, -1);
    nb_node *dz;
    cr_assert_eq(nb_grad(g, y, 1, &z, &dz), NB_OK, "%s", nb_graph_error(g));
    double d[12];
    eval(g, dz, d, 12);
    /* torch 1.13, float64: y = F.cross_entropy(z, l, ignore_index=-1); y.backward(); z.grad */
    const double want[12] = {
        0.1250144626822632,   0.2983983778237997,   -0.42341284050606287, 0.0, 0.0, 0.0,
        0.002560255899920841, -0.30749787080839275, 0.3049376149084719,   0.0, 0.0, 0.0
    };
    for (int k = 0; k < 12; k++) {
        if (want[k] == 0) {
            cr_expect_eq(d[k], 0, "dz[%d] = %g, want exactly 0", k, d[k]);
        } else {
            cr_expect(fabs(d[k] - want[k]) <= 1e-15, "dz[%d] = %.17g, want %.17g", k, d[k],
                      want[k]);
        }
    }
    nb_graph_free(g);
}

Test(gather_xent, every_row_ignored_gives_nan_and_zero_gradient,
     .description = "F.cross_entropy(z, (5, 5), ignore_index=5) is NaN (0/0) and z.grad is 0, "
                    "as torch 1.13; the ignore value need not be a class")
{
    nb_graph *g = nb_graph_new();
    double zs[4] = { 1, 2, 3, 4 };
    nb_node *z = input_f64(g, NB_SHAPE(2, 2), zs);
    nb_node *l = input_i32(g, NB_SHAPE(2), (int32_t[]){ 5, 5 });
    nb_node *y = nb_cross_entropy_ignore(g, z, l, 5);
    nb_node *dz;
    cr_assert_eq(nb_grad(g, y, 1, &z, &dz), NB_OK, "%s", nb_graph_error(g));
    double v, d[4];
    eval(g, y, &v, 1);
    cr_expect(isnan(v), "y = %g", v);
    eval(g, dz, d, 4);
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(d[k], 0, "dz[%d] = %g", k, d[k]);
    }
    nb_graph_free(g);
}

Test(gather_xent, plain_form_is_unchanged,
     .description = "nb_cross_entropy still fails on label -1, and its gradient graph has no "
                    "ignore machinery (one one_hot, no max)")
{
    nb_graph *g = nb_graph_new();
    double zs[4] = { 1, 2, 3, 4 };
    nb_node *z = named(g, input_f64(g, NB_SHAPE(2, 2), zs), "z");
    nb_node *l = named(g, input_i32(g, NB_SHAPE(2), (int32_t[]){ -1, 0 }), "l");
    nb_node *y = nb_cross_entropy(g, z, l);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_VALUE);
    cr_expect_str_eq(nb_graph_error(g),
                     "cross_entropy(z[2,2], l[2]): label -1 at index 0 is outside 0..1");
    size_t before = nb_graph_node_count(g);
    nb_node *dz;
    cr_assert_eq(nb_grad(g, y, 1, &z, &dz), NB_OK, "%s", nb_graph_error(g));
    for (size_t k = before; k < nb_graph_node_count(g); k++) {
        cr_expect_str_neq(nb_node_op_name(nb_graph_node(g, k)), "max");
    }
    /* torch: F.cross_entropy(z, (-1, 0), ignore_index=-1) = 1.3132616875182228 */
    nb_node *k = nb_cross_entropy_ignore(g, z, l, -1);
    double v;
    eval(g, k, &v, 1);
    cr_expect(fabs(v - 1.3132616875182228) < 1e-15, "%.17g", v);
    nb_graph_free(g);
}
