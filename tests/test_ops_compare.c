/*
 * tests/test_ops_compare.c: the comparison and selection ops (maximum,
 * minimum, where, greater, less, equal) beyond what the case table holds:
 * exact error messages, the model-language forms and a write/parse round
 * trip, the tie convention and NaN behaviour of maximum and minimum, where
 * with each operand broadcast (against a plain loop on a large case too),
 * NaN safety of where's gradient, i32 comparisons, and Hessian-vector
 * products through maximum, minimum and where against finite differences.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Asserts the graph's sticky status and its exact message. */
#define ASSERT_ERROR(g, code, msg)                                                                 \
    do {                                                                                           \
        cr_assert_eq(nb_graph_status(g), (code), "status %d (%s), message \"%s\"",                 \
                     (int)nb_graph_status(g), nb_status_string(nb_graph_status(g)),                \
                     nb_graph_error(g));                                                           \
        cr_assert_str_eq(nb_graph_error(g), (msg));                                                \
    } while (0)

#define ASSERT_OK(g) cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g))

/* A named input of dtype holding values (NULL: left unwritten). */
static nb_node *leaf(nb_graph *g, const char *name, nb_dtype dt, int rank, const int64_t *shape,
                     const double *values)
{
    nb_node *x = nb_node_set_name(g, nb_input(g, dt, rank, shape), name);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    if (values) {
        cr_assert_eq(nb_node_write_f64(g, x, values, nb_node_size(x)), NB_OK, "%s",
                     nb_graph_error(g));
    }
    return x;
}

static void run_read(nb_graph *g, nb_node *y, double *out, size_t n)
{
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_size(y), n);
    cr_assert_eq(nb_node_read_f64(g, y, out, n), NB_OK, "%s", nb_graph_error(g));
}

/* The gradients of scalar y with respect to wrt[0..n-1], run and read into out[i]. */
static void grads_of(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt, double **out)
{
    nb_node *d[4];
    cr_assert(n <= 4);
    cr_assert_eq(nb_grad(g, y, n, wrt, d), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, n, d), NB_OK, "%s", nb_graph_error(g));
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(nb_node_read_f64(g, d[i], out[i], nb_node_size(wrt[i])), NB_OK, "%s",
                     nb_graph_error(g));
    }
}

/* Bit-exact equality, so that NaN == NaN and -0 != +0. */
static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

Test(compare_errors, shapes_that_do_not_broadcast,
     .description = "maximum, minimum, greater, less, equal of [2,3] and [4]; where of [2,1], [3] "
                    "and [4]: NB_ERR_SHAPE naming the op, the nodes and the shapes")
{
    static const char *names[] = { "maximum", "minimum", "greater", "less", "equal" };
    nb_node *(*builders[])(nb_graph *, nb_node *, nb_node *) = { nb_maximum, nb_minimum, nb_greater,
                                                                 nb_less, nb_equal };
    for (int i = 0; i < 5; i++) {
        nb_graph *g = nb_graph_new();
        nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(2, 3), NULL);
        nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(4), NULL);
        size_t before = nb_graph_node_count(g);
        cr_assert_null(builders[i](g, a, b));
        char want[128];
        snprintf(want, sizeof want,
                 "%s(a[2,3], b[4]): shapes [2,3] and [4] cannot be broadcast together", names[i]);
        ASSERT_ERROR(g, NB_ERR_SHAPE, want);
        cr_assert_eq(nb_graph_node_count(g), before, "a failed builder adds no node");
        nb_graph_free(g);
    }
    nb_graph *g = nb_graph_new();
    nb_node *c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(2, 1), NULL);
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(3), NULL);
    nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(4), NULL);
    cr_assert_null(nb_where(g, c, a, b));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "where(c[2,1], a[3], b[4]): shapes [2,1], [3] and [4] cannot be broadcast "
                 "together");
    nb_graph_free(g);
}

Test(compare_errors, dtypes_of_maximum_and_the_comparisons,
     .description = "maximum refuses i32 and mixed dtypes; the comparisons take two i32 but not "
                    "i32 with a float, nor f32 with f64")
{
    struct {
        nb_dtype da, db;
        int op; /* 0 maximum, 1 minimum, 2 greater, 3 equal */
        const char *msg;
    } cases[] = {
        { NB_DTYPE_I32, NB_DTYPE_I32, 0,
          "maximum(a[3], b[3]): input 1 is i32; this op needs f32 or f64 inputs" },
        { NB_DTYPE_F64, NB_DTYPE_I32, 1,
          "minimum(a[3], b[3]): input 2 is i32; this op needs f32 or f64 inputs" },
        { NB_DTYPE_F32, NB_DTYPE_F64, 0, "maximum(a[3], b[3]): dtypes f32 and f64 differ" },
        { NB_DTYPE_I32, NB_DTYPE_F32, 2, "greater(a[3], b[3]): dtypes i32 and f32 differ" },
        { NB_DTYPE_F64, NB_DTYPE_I32, 3, "equal(a[3], b[3]): dtypes f64 and i32 differ" },
        { NB_DTYPE_F64, NB_DTYPE_F32, 2, "greater(a[3], b[3]): dtypes f64 and f32 differ" },
    };
    nb_node *(*builders[])(nb_graph *, nb_node *, nb_node *) = { nb_maximum, nb_minimum, nb_greater,
                                                                 nb_equal };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_graph *g = nb_graph_new();
        nb_node *a = leaf(g, "a", cases[i].da, NB_SHAPE(3), NULL);
        nb_node *b = leaf(g, "b", cases[i].db, NB_SHAPE(3), NULL);
        cr_assert_null(builders[cases[i].op](g, a, b));
        ASSERT_ERROR(g, NB_ERR_DTYPE, cases[i].msg);
        nb_graph_free(g);
    }
}

Test(compare_errors, dtypes_of_where,
     .description = "where: an i32 a or b, a and b of two dtypes, a float condition of another "
                    "dtype than a; a NULL input")
{
    struct {
        nb_dtype dc, da, db;
        const char *msg;
    } cases[] = {
        { NB_DTYPE_I32, NB_DTYPE_I32, NB_DTYPE_F64,
          "where(c[3], a[3], b[3]): input 2 is i32; the values a and b must be f32 or f64" },
        { NB_DTYPE_I32, NB_DTYPE_F64, NB_DTYPE_I32,
          "where(c[3], a[3], b[3]): input 3 is i32; the values a and b must be f32 or f64" },
        { NB_DTYPE_I32, NB_DTYPE_F64, NB_DTYPE_F32,
          "where(c[3], a[3], b[3]): a is f64 and b is f32; they must have one dtype" },
        { NB_DTYPE_F32, NB_DTYPE_F64, NB_DTYPE_F64,
          "where(c[3], a[3], b[3]): the condition is f32; it must be i32 or f64, as a" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_graph *g = nb_graph_new();
        nb_node *c = leaf(g, "c", cases[i].dc, NB_SHAPE(3), NULL);
        nb_node *a = leaf(g, "a", cases[i].da, NB_SHAPE(3), NULL);
        nb_node *b = leaf(g, "b", cases[i].db, NB_SHAPE(3), NULL);
        cr_assert_null(nb_where(g, c, a, b));
        ASSERT_ERROR(g, NB_ERR_DTYPE, cases[i].msg);
        nb_graph_free(g);
    }
    nb_graph *g = nb_graph_new();
    nb_node *c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(3), NULL);
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(3), NULL);
    cr_assert_null(nb_where(g, c, a, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "where(c[3], a[3], NULL): input 3 is NULL");
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
    ASSERT_OK(g);
    return g;
}

static nb_node *find(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    return n;
}

static const char model_src[] = "input c[2,3] : i32 = [[1, 0, 0], [2, 0, -1]]\n"
                                "input p[4] : i32 = [2, 0, 1, 1]\n"
                                "input l[4] : i32 = [2, 1, 1, 0]\n"
                                "input a[2,3] = [[0.5, -1, 2], [1.5, 1, -0.75]]\n"
                                "input b[3] = [0.25, 1, -2]\n"
                                "hi = maximum(a, b)\n"
                                "lo = minimum(a, b)\n"
                                "gt = greater(a, b)\n"
                                "lt = less(a, b)\n"
                                "eq = equal(a, b)\n"
                                "sel = where(c, a, b)\n"
                                "soft = where(gt, a, b * 2)\n"
                                "acc = mean(equal(p, l))\n";

Test(compare_lang, calls_read_as_the_builders_build,
     .description = "maximum(a, b), minimum, greater, less, equal, where(c, a, b) in the model "
                    "language give the builders' ops and values; mean(equal(p, l)) of i32 labels "
                    "is an f32 accuracy of 0.5")
{
    nb_graph *g = parse(model_src);
    struct {
        const char *name, *op;
        double want[6];
    } rows[] = {
        { "hi", "maximum", { 0.5, 1, 2, 1.5, 1, -0.75 } },
        { "lo", "minimum", { 0.25, -1, -2, 0.25, 1, -2 } },
        { "gt", "greater", { 1, 0, 1, 1, 0, 1 } },
        { "lt", "less", { 0, 1, 0, 0, 0, 0 } },
        { "eq", "equal", { 0, 0, 0, 0, 1, 0 } },
        { "sel", "where", { 0.5, 1, -2, 1.5, 1, -0.75 } },
        { "soft", "where", { 0.5, 2, 2, 1.5, 2, -0.75 } },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        nb_node *y = find(g, rows[i].name);
        cr_expect_str_eq(nb_node_op_name(y), rows[i].op);
        cr_expect_eq(nb_node_dtype(y), NB_DTYPE_F64);
        double got[6];
        run_read(g, y, got, 6);
        for (int k = 0; k < 6; k++) {
            cr_expect_eq(got[k], rows[i].want[k], "%s[%d] = %g, want %g", rows[i].name, k, got[k],
                         rows[i].want[k]);
        }
    }
    nb_node *acc = find(g, "acc");
    cr_expect_eq(nb_node_dtype(acc), NB_DTYPE_F32, "comparing i32 labels gives f32");
    double v;
    run_read(g, acc, &v, 1);
    cr_expect_eq(v, 0.5);
    nb_graph_free(g);
}

Test(compare_lang, builder_and_language_give_the_same_expression,
     .description = "nb_where(c, a, b) and nb_maximum(a, b) built in C are written as the "
                    "language's where(c, a, b) and maximum(a, b)")
{
    nb_graph *g = nb_graph_new();
    nb_node *c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(3), NULL);
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(3), NULL);
    nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(3), NULL);
    char buf[64];
    nb_node_expression(nb_where(g, c, a, b), buf, sizeof buf);
    cr_expect_str_eq(buf, "where(c, a, b)");
    nb_node_expression(nb_maximum(g, a, b), buf, sizeof buf);
    cr_expect_str_eq(buf, "maximum(a, b)");
    nb_node_expression(nb_less(g, a, b), buf, sizeof buf);
    cr_expect_str_eq(buf, "less(a, b)");
    nb_graph_free(g);
}

/* Parses src, which must fail; checks the status and the message. */
static void parse_fails(const char *src, nb_status status, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), status, "%s", e.message);
    cr_assert_str_eq(e.message, msg);
    nb_graph_free(g);
}

Test(compare_lang, wrong_calls_show_the_form,
     .description = "too few arguments, a keyword argument (these ops have none) and a shape "
                    "error through the language give exact messages")
{
    parse_fails("input a[3]\ninput b[3]\ny = where(a, b)\n", NB_ERR_FORMAT,
                "where takes where(c, a, b); got 2 positional arguments");
    parse_fails("input a[3]\ninput b[3]\ny = maximum(a, b, 1)\n", NB_ERR_FORMAT,
                "maximum takes maximum(a, b); got 3 positional arguments");
    parse_fails("input a[3]\ninput b[3]\ny = greater(a, b=b)\n", NB_ERR_FORMAT,
                "greater takes greater(a, b); got 1 positional argument");
    parse_fails("input a[3]\ninput b[3]\ny = less(a, b, eps=1)\n", NB_ERR_FORMAT,
                "less has no argument 'eps'; it takes less(a, b)");
    parse_fails("input a[3]\ninput b[2]\ny = minimum(a, b)\n", NB_ERR_SHAPE,
                "minimum: shapes [3] and [2] cannot be broadcast together (a[3], b[2])");
}

/* Writes g's model into a malloc'd string. */
static char *write_model(nb_graph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    nb_status s = nb_model_write(g, f);
    fclose(f);
    cr_assert_eq(s, NB_OK, "%s", nb_graph_error(g));
    return text;
}

Test(compare_lang, model_write_round_trip,
     .description = "a model using every op of the family, written with nb_model_write and "
                    "parsed into a new graph, computes the same values bit for bit and writes "
                    "the same text")
{
    nb_graph *g = parse(model_src);
    char *text = write_model(g);
    cr_expect(strstr(text, "sel = where(c, a, b)") != NULL, "%s", text);
    cr_expect(strstr(text, "hi = maximum(a, b)") != NULL, "%s", text);
    nb_graph *h = parse(text);
    const char *names[] = { "hi", "lo", "gt", "lt", "eq", "sel", "soft", "acc" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        nb_node *y = find(g, names[i]), *z = find(h, names[i]);
        cr_expect_str_eq(nb_node_op_name(y), nb_node_op_name(z));
        cr_expect_eq(nb_node_dtype(y), nb_node_dtype(z));
        size_t n = nb_node_size(y);
        cr_assert_eq(nb_node_size(z), n);
        double u[6], v[6];
        run_read(g, y, u, n);
        run_read(h, z, v, n);
        for (size_t k = 0; k < n; k++) {
            cr_expect(same_bits(u[k], v[k]), "%s[%zu]: %g then %g", names[i], k, u[k], v[k]);
        }
    }
    char *again = write_model(h);
    cr_expect_str_eq(again, text);
    free(again);
    free(text);
    nb_graph_free(h);
    nb_graph_free(g);
}

/* ======================================================================== */
/* maximum and minimum: ties and NaN                                        */
/* ======================================================================== */

Test(compare_extremum, tie_value_and_split_gradient,
     .description = "at a = b = (1.5, -2) maximum and minimum are a, and d/da = d/db = 1/2 of dy "
                    "(PyTorch 1.13: torch.maximum backward at a tie gives 0.5 to each); away "
                    "from the tie dy goes to the winner alone")
{
    for (int m = 0; m < 2; m++) {
        nb_graph *g = nb_graph_new();
        const double av[3] = { 1.5, -2, 0.5 }, bv[3] = { 1.5, -2, 1 }, wv[3] = { 3, -1, 2 };
        nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(3), av);
        nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(3), bv);
        nb_node *y = m ? nb_minimum(g, a, b) : nb_maximum(g, a, b);
        nb_node *l = nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, NB_SHAPE(3), wv)));
        double yv[3], da[3], db[3];
        run_read(g, y, yv, 3);
        cr_expect_eq(yv[0], 1.5);
        cr_expect_eq(yv[1], -2);
        cr_expect_eq(yv[2], m ? 0.5 : 1);
        nb_node *wrt[2] = { a, b };
        grads_of(g, l, 2, wrt, (double *[]){ da, db });
        /* ties: w/2 each; element 2: a < b, so b wins the maximum and a the minimum */
        const double want_a[3] = { 1.5, -0.5, m ? 2 : 0 }, want_b[3] = { 1.5, -0.5, m ? 0 : 2 };
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(da[i], want_a[i], "%s: da[%d] = %g", m ? "min" : "max", i, da[i]);
            cr_expect_eq(db[i], want_b[i], "%s: db[%d] = %g", m ? "min" : "max", i, db[i]);
        }
        nb_graph_free(g);
    }
}

Test(compare_extremum, tie_with_a_broadcast_scalar,
     .description = "maximum(s, v) with s = 1 and v = (1, 0, 1, 2): ds = 1/2 + 1 + 1/2 = 2, "
                    "dv = (1/2, 0, 1/2, 1)")
{
    nb_graph *g = nb_graph_new();
    const double one = 1, vv[4] = { 1, 0, 1, 2 };
    nb_node *s = leaf(g, "s", NB_DTYPE_F64, 0, NULL, &one);
    nb_node *v = leaf(g, "v", NB_DTYPE_F64, NB_SHAPE(4), vv);
    nb_node *l = nb_sum(g, nb_maximum(g, s, v));
    double ds, dv[4];
    nb_node *wrt[2] = { s, v };
    grads_of(g, l, 2, wrt, (double *[]){ &ds, dv });
    cr_expect_eq(ds, 2);
    const double want[4] = { 0.5, 0, 0.5, 1 };
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(dv[i], want[i], "dv[%d] = %g", i, dv[i]);
    }
    nb_graph_free(g);
}

Test(compare_extremum, nan_propagates_and_both_sides_get_dy,
     .description = "maximum and minimum of (NaN, 1, NaN) and (1, NaN, NaN) are NaN in f32 and "
                    "f64; the gradient gives dy to both inputs there, as PyTorch's rule does")
{
    for (int d = 0; d < 2; d++) {
        nb_dtype dt = d ? NB_DTYPE_F32 : NB_DTYPE_F64;
        for (int m = 0; m < 2; m++) {
            nb_graph *g = nb_graph_new();
            const double av[4] = { NAN, 1, NAN, 2 }, bv[4] = { 1, NAN, NAN, -3 };
            nb_node *a = leaf(g, "a", dt, NB_SHAPE(4), av);
            nb_node *b = leaf(g, "b", dt, NB_SHAPE(4), bv);
            nb_node *y = m ? nb_minimum(g, a, b) : nb_maximum(g, a, b);
            double yv[4], da[4], db[4];
            run_read(g, y, yv, 4);
            for (int i = 0; i < 3; i++) {
                cr_expect(isnan(yv[i]), "%s %s: y[%d] = %g", nb_dtype_name(dt), m ? "min" : "max",
                          i, yv[i]);
            }
            cr_expect_eq(yv[3], m ? -3 : 2);
            nb_node *wrt[2] = { a, b };
            grads_of(g, nb_sum(g, y), 2, wrt, (double *[]){ da, db });
            const double want_a[4] = { 1, 1, 1, m ? 0 : 1 }, want_b[4] = { 1, 1, 1, m ? 1 : 0 };
            for (int i = 0; i < 4; i++) {
                cr_expect_eq(da[i], want_a[i], "da[%d] = %g", i, da[i]);
                cr_expect_eq(db[i], want_b[i], "db[%d] = %g", i, db[i]);
            }
            nb_graph_free(g);
        }
    }
}

Test(compare_extremum, gradient_to_the_loser_is_zero_where_dy_is_infinite,
     .description = "y = maximum(a, b), L = sum(sqrt(y)) at a = (4, 0), b = (1, -1): dy = (1/4, "
                    "inf); da = (1/4, inf) and db = (0, 0), not NaN (selected, not masked)")
{
    nb_graph *g = nb_graph_new();
    const double av[2] = { 4, 0 }, bv[2] = { 1, -1 };
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(2), av);
    nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(2), bv);
    nb_node *l = nb_sum(g, nb_sqrt(g, nb_maximum(g, a, b)));
    double da[2], db[2];
    nb_node *wrt[2] = { a, b };
    grads_of(g, l, 2, wrt, (double *[]){ da, db });
    cr_expect_eq(da[0], 0.25);
    cr_expect(isinf(da[1]) && da[1] > 0, "da[1] = %g", da[1]);
    cr_expect(same_bits(db[0], 0) && same_bits(db[1], 0), "db = (%g, %g)", db[0], db[1]);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Comparisons                                                              */
/* ======================================================================== */

Test(compare_ops, nan_compares_false,
     .description = "greater, less and equal with a NaN on either side are 0; equal(NaN, NaN) "
                    "is 0, as in PyTorch")
{
    nb_graph *g = nb_graph_new();
    const double av[3] = { NAN, 1, NAN }, bv[3] = { 1, NAN, NAN };
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(3), av);
    nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(3), bv);
    nb_node *ys[3] = { nb_greater(g, a, b), nb_less(g, a, b), nb_equal(g, a, b) };
    for (int k = 0; k < 3; k++) {
        double v[3];
        run_read(g, ys[k], v, 3);
        for (int i = 0; i < 3; i++) {
            cr_expect(same_bits(v[i], 0), "%s[%d] = %g", nb_node_op_name(ys[k]), i, v[i]);
        }
    }
    nb_graph_free(g);
}

Test(compare_ops, two_i32_inputs_give_f32,
     .description = "greater, less and equal of i32 (3, -1, 7, 0) with a broadcast i32 scalar 0 "
                    "are f32 (1, 0, 1, 0), (0, 1, 0, 0), (0, 0, 0, 1); their gradient is none")
{
    nb_graph *g = nb_graph_new();
    const double pv[4] = { 3, -1, 7, 0 }, zero = 0;
    nb_node *p = leaf(g, "p", NB_DTYPE_I32, NB_SHAPE(4), pv);
    nb_node *z = leaf(g, "z", NB_DTYPE_I32, 0, NULL, &zero);
    nb_node *ys[3] = { nb_greater(g, p, z), nb_less(g, p, z), nb_equal(g, z, p) };
    const double want[3][4] = { { 1, 0, 1, 0 }, { 0, 1, 0, 0 }, { 0, 0, 0, 1 } };
    for (int k = 0; k < 3; k++) {
        cr_expect_eq(nb_node_dtype(ys[k]), NB_DTYPE_F32);
        cr_expect_eq(nb_node_rank(ys[k]), 1);
        double v[4];
        run_read(g, ys[k], v, 4);
        for (int i = 0; i < 4; i++) {
            cr_expect_eq(v[i], want[k][i], "%s[%d] = %g", nb_node_op_name(ys[k]), i, v[i]);
        }
    }
    nb_graph_free(g);
}

Test(compare_ops, the_comparisons_have_no_gradient_rule,
     .description = "nb_op_info reports greater, less and equal as not differentiable, and "
                    "maximum, minimum and where as differentiable")
{
    const char *names[] = { "greater", "less", "equal", "maximum", "minimum", "where" };
    const bool diff[] = { false, false, false, true, true, true };
    for (int k = 0; k < 6; k++) {
        bool found = false;
        for (size_t i = 0; i < nb_op_count(); i++) {
            nb_op_info info;
            cr_assert(nb_op_info_get(i, &info));
            if (strcmp(info.name, names[k]) == 0) {
                found = true;
                cr_expect_eq(info.differentiable, diff[k], "%s", names[k]);
                cr_expect_eq(info.arity, k == 5 ? 3 : 2, "%s", names[k]);
            }
        }
        cr_expect(found, "%s is not in the op table", names[k]);
    }
}

/* ======================================================================== */
/* where                                                                    */
/* ======================================================================== */

Test(compare_where, each_operand_broadcast_with_its_gradient,
     .description = "L = sum(where(c, a, b) * w), w = (1..6) on [2,3]: with c [3], a [2,1], b "
                    "scalar, and with c [2,1], a [3], b [2,3], the value and the gradients "
                    "summed over the broadcast axes")
{
    const double wv[6] = { 1, 2, 3, 4, 5, 6 };
    {
        /* c [3] = (1, 0, 2): columns 0 and 2 from a, column 1 from b */
        nb_graph *g = nb_graph_new();
        const double cv[3] = { 1, 0, 2 }, av[2] = { 10, 20 }, bv = -1;
        nb_node *c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(3), cv);
        nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(2, 1), av);
        nb_node *b = leaf(g, "b", NB_DTYPE_F64, 0, NULL, &bv);
        nb_node *y = nb_where(g, c, a, b);
        double yv[6];
        run_read(g, y, yv, 6);
        const double want[6] = { 10, -1, 10, 20, -1, 20 };
        for (int i = 0; i < 6; i++) {
            cr_expect_eq(yv[i], want[i], "y[%d] = %g", i, yv[i]);
        }
        nb_node *l = nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 3), wv)));
        double da[2], db;
        nb_node *wrt[2] = { a, b };
        grads_of(g, l, 2, wrt, (double *[]){ da, &db });
        cr_expect_eq(da[0], 1 + 3);
        cr_expect_eq(da[1], 4 + 6);
        cr_expect_eq(db, 2 + 5);
        nb_graph_free(g);
    }
    {
        /* c [2,1] = (0, 5): row 0 from b, row 1 from a */
        nb_graph *g = nb_graph_new();
        const double cv[2] = { 0, 5 }, av[3] = { 7, 8, 9 }, bv[6] = { -1, -2, -3, -4, -5, -6 };
        nb_node *c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(2, 1), cv);
        nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(3), av);
        nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(2, 3), bv);
        nb_node *y = nb_where(g, c, a, b);
        double yv[6];
        run_read(g, y, yv, 6);
        const double want[6] = { -1, -2, -3, 7, 8, 9 };
        for (int i = 0; i < 6; i++) {
            cr_expect_eq(yv[i], want[i], "y[%d] = %g", i, yv[i]);
        }
        nb_node *l = nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 3), wv)));
        double da[3], db[6];
        nb_node *wrt[2] = { a, b };
        grads_of(g, l, 2, wrt, (double *[]){ da, db });
        const double want_da[3] = { 4, 5, 6 }, want_db[6] = { 1, 2, 3, 0, 0, 0 };
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(da[i], want_da[i], "da[%d] = %g", i, da[i]);
        }
        for (int i = 0; i < 6; i++) {
            cr_expect_eq(db[i], want_db[i], "db[%d] = %g", i, db[i]);
        }
        nb_graph_free(g);
    }
}

Test(compare_where, float_condition_nan_selects_a,
     .description = "a float condition (0, NaN, -0, 1e-300) selects (b, a, b, a): NaN != 0 "
                    "holds, -0 == 0; the condition gets a zero gradient")
{
    nb_graph *g = nb_graph_new();
    const double cv[4] = { 0, NAN, -0.0, 1e-300 }, av[4] = { 1, 2, 3, 4 },
                 bv[4] = { -1, -2, -3, -4 };
    nb_node *c = leaf(g, "c", NB_DTYPE_F64, NB_SHAPE(4), cv);
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(4), av);
    nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(4), bv);
    nb_node *y = nb_where(g, c, a, b);
    double yv[4];
    run_read(g, y, yv, 4);
    const double want[4] = { -1, 2, -3, 4 };
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(yv[i], want[i], "y[%d] = %g", i, yv[i]);
    }
    double dc[4];
    grads_of(g, nb_sum(g, y), 1, &c, (double *[]){ dc });
    for (int i = 0; i < 4; i++) {
        cr_expect(same_bits(dc[i], 0), "dc[%d] = %g", i, dc[i]);
    }
    nb_graph_free(g);
}

Test(compare_where, gradient_stays_finite_where_the_unselected_branch_is_inf,
     .description = "where(c, a, b) with c = (1, 0, 1, 0), a = (1, inf, 3, NaN), b = (inf, 2, "
                    "-inf, 4): y = (1, 2, 3, 4); d sum(y * w)/da = (w0, 0, w2, 0), /db = (0, w1, "
                    "0, w3); and with L = sum(sqrt(y')) where y' takes b = 0 (dy = inf), da is 0 "
                    "there, not NaN")
{
    nb_graph *g = nb_graph_new();
    const double cv[4] = { 1, 0, 1, 0 }, av[4] = { 1, INFINITY, 3, NAN },
                 bv[4] = { INFINITY, 2, -INFINITY, 4 }, wv[4] = { 0.5, -2, 3, 1.5 };
    nb_node *c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(4), cv);
    nb_node *a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(4), av);
    nb_node *b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(4), bv);
    nb_node *y = nb_where(g, c, a, b);
    double yv[4], da[4], db[4];
    run_read(g, y, yv, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(yv[i], i + 1.0, "y[%d] = %g", i, yv[i]);
    }
    nb_node *l = nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, NB_SHAPE(4), wv)));
    nb_node *wrt[2] = { a, b };
    grads_of(g, l, 2, wrt, (double *[]){ da, db });
    const double want_a[4] = { 0.5, 0, 3, 0 }, want_b[4] = { 0, -2, 0, 1.5 };
    for (int i = 0; i < 4; i++) {
        cr_expect(same_bits(da[i], want_a[i]), "da[%d] = %g", i, da[i]);
        cr_expect(same_bits(db[i], want_b[i]), "db[%d] = %g", i, db[i]);
    }
    nb_graph_free(g);

    /* dy infinite where b is taken: a mask product dy * c would give inf * 0 = NaN for da */
    g = nb_graph_new();
    const double cv2[2] = { 1, 0 }, av2[2] = { 4, 9 }, bv2[2] = { 1, 0 };
    c = leaf(g, "c", NB_DTYPE_I32, NB_SHAPE(2), cv2);
    a = leaf(g, "a", NB_DTYPE_F64, NB_SHAPE(2), av2);
    b = leaf(g, "b", NB_DTYPE_F64, NB_SHAPE(2), bv2);
    l = nb_sum(g, nb_sqrt(g, nb_where(g, c, a, b)));
    nb_node *wrt2[2] = { a, b };
    grads_of(g, l, 2, wrt2, (double *[]){ da, db });
    cr_expect_eq(da[0], 0.25);
    cr_expect(same_bits(da[1], 0), "da[1] = %g", da[1]);
    cr_expect(same_bits(db[0], 0), "db[0] = %g", db[0]);
    cr_expect(isinf(db[1]) && db[1] > 0, "db[1] = %g", db[1]);
    nb_graph_free(g);
}

/*
 * A large where (above the size from which elementwise loops are split
 * between threads) with every operand broadcast along some axis, in f32 and
 * f64 with both kinds of condition, against a plain loop over the indices.
 */
Test(compare_where, large_broadcast_matches_a_plain_loop,
     .description = "where(c[1,300,1], a[40,1,7], b[300,7]) -> [40,300,7] (84000 elements) and "
                    "where(c[40,300,7], a[7], b[]) equal a naive index loop exactly")
{
    enum { P = 40, Q = 300, R = 7 };
    static double cv[P * Q * R], av[P * R], bv[Q * R], want[P * Q * R], got[P * Q * R];
    for (int i = 0; i < P * Q * R; i++) {
        cv[i] = (i * 7919 % 5) - 2; /* -2 .. 2: zero one time in five */
    }
    for (int i = 0; i < P * R; i++) {
        av[i] = i * 0.5;
    }
    for (int i = 0; i < Q * R; i++) {
        bv[i] = -i * 0.25;
    }
    for (int d = 0; d < 2; d++) {
        nb_dtype dt = d ? NB_DTYPE_F32 : NB_DTYPE_F64;
        for (int ci = 0; ci < 2; ci++) {
            nb_dtype cdt = ci ? NB_DTYPE_I32 : dt;
            nb_graph *g = nb_graph_new();
            nb_node *c = leaf(g, "c", cdt, NB_SHAPE(1, Q, 1), cv);
            nb_node *a = leaf(g, "a", dt, NB_SHAPE(P, 1, R), av);
            nb_node *b = leaf(g, "b", dt, NB_SHAPE(Q, R), bv);
            nb_node *y = nb_where(g, c, a, b);
            run_read(g, y, got, P * Q * R);
            for (int p = 0; p < P; p++) {
                for (int q = 0; q < Q; q++) {
                    for (int r = 0; r < R; r++) {
                        want[(p * Q + q) * R + r] = cv[q] != 0 ? av[p * R + r] : bv[q * R + r];
                    }
                }
            }
            size_t bad = 0;
            for (int i = 0; i < P * Q * R; i++) {
                bad += got[i] != want[i];
            }
            cr_expect_eq(bad, 0, "%s, condition %s: %zu elements differ", nb_dtype_name(dt),
                         nb_dtype_name(cdt), bad);

            nb_node *c2 = leaf(g, "c2", cdt, NB_SHAPE(P, Q, R), cv);
            const double s = 2.5;
            nb_node *s0 = leaf(g, "s", dt, 0, NULL, &s);
            nb_node *a7 = leaf(g, "a7", dt, NB_SHAPE(R), av);
            nb_node *y2 = nb_where(g, c2, a7, s0);
            run_read(g, y2, got, P * Q * R);
            bad = 0;
            for (int i = 0; i < P * Q * R; i++) {
                bad += got[i] != (cv[i] != 0 ? av[i % R] : s);
            }
            cr_expect_eq(bad, 0, "%s, condition %s, scalar b: %zu elements differ",
                         nb_dtype_name(dt), nb_dtype_name(cdt), bad);
            nb_graph_free(g);
        }
    }
}

/* ======================================================================== */
/* Second order                                                             */
/* ======================================================================== */

/*
 * L = sum(w * op(x*x*x, x*z)) for x[2,3] and z[3] (broadcast), op one of
 * maximum, minimum, where(c, ., .): each picks x³ in some places and x·z in
 * others, so the Hessian has a diagonal 6x part and an x-z cross part.
 */
enum { HX = 6, HZ = 3, HN = HX + HZ };

static nb_node *extremum_loss(nb_graph *g, int op, nb_node *x, nb_node *z)
{
    static const double wv[6] = { 0.7, -1.3, 0.4, 1.1, -0.6, 0.9 };
    static const int32_t cv[6] = { 1, 0, 0, 1, 1, 0 };
    nb_node *cube = nb_mul(g, nb_mul(g, x, x), x), *xz = nb_mul(g, x, z);
    nb_node *y;
    if (op == 0) {
        y = nb_maximum(g, cube, xz);
    } else if (op == 1) {
        y = nb_minimum(g, cube, xz);
    } else {
        y = nb_where(g, nb_const(g, NB_DTYPE_I32, NB_SHAPE(2, 3), cv), cube, xz);
    }
    return nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 3), wv)));
}

/* Runs the two gradient nodes into out (x's 6 then z's 3). */
static void eval_grads(nb_graph *g, nb_node *const *gr, double *out)
{
    cr_assert_eq(nb_graph_run(g, 2, (nb_node **)gr), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, gr[0], out, HX), NB_OK);
    cr_assert_eq(nb_node_read_f64(g, gr[1], out + HX, HZ), NB_OK);
}

static void set_point(nb_graph *g, nb_node *x, nb_node *z, const double *p, double s,
                      const double *v)
{
    double q[HN];
    for (int i = 0; i < HN; i++) {
        q[i] = p[i] + s * v[i];
    }
    cr_assert_eq(nb_node_write_f64(g, x, q, HX), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, z, q + HX, HZ), NB_OK);
}

Test(compare_second_order, hessian_vector_products_match_finite_differences,
     .description = "for op in maximum, minimum, where: Hv = grad(sum(grad(L, (x, z)) * v)) "
                    "matches (g(p + eps v) - g(p - eps v)) / 2eps, eps 1e-5, away from ties")
{
    /* x³ against x·z: ties are far (|x³ - xz| >= 0.2 at every element) */
    const double p[HN] = { 0.5, -1.2, 1.5, 2.0, -0.7, 0.9, 0.8, -0.3, 1.1 };
    const double dir[HN] = { 0.3, -0.8, 0.5, 1.1, -0.4, 0.7, -0.9, 0.6, 0.2 };
    for (int op = 0; op < 3; op++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 3), nb_init_constant(0));
        nb_node *z = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0));
        nb_node *l = extremum_loss(g, op, x, z);
        nb_node *wrt[2] = { x, z }, *gr[2], *hv[2];
        cr_assert_eq(nb_grad(g, l, 2, wrt, gr), NB_OK, "%s", nb_graph_error(g));
        nb_node *vx = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
        nb_node *vz = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
        nb_node *s = nb_add(g, nb_sum(g, nb_mul(g, gr[0], vx)), nb_sum(g, nb_mul(g, gr[1], vz)));
        cr_assert_eq(nb_grad(g, s, 2, wrt, hv), NB_OK, "%s", nb_graph_error(g));
        ASSERT_OK(g);
        cr_assert_eq(nb_node_write_f64(g, vx, dir, HX), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, vz, dir + HX, HZ), NB_OK);

        double h[HN], gp[HN], gm[HN];
        set_point(g, x, z, p, 0, dir);
        eval_grads(g, hv, h);
        const double eps = 1e-5;
        set_point(g, x, z, p, eps, dir);
        eval_grads(g, gr, gp);
        set_point(g, x, z, p, -eps, dir);
        eval_grads(g, gr, gm);
        double scale = 0;
        for (int i = 0; i < HN; i++) {
            scale = fmax(scale, fabs(h[i]));
        }
        cr_expect_gt(scale, 0.5, "op %d: the Hessian-vector product should not vanish", op);
        for (int i = 0; i < HN; i++) {
            double fd = (gp[i] - gm[i]) / (2 * eps);
            cr_expect(fabs(h[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                      "op %d element %d: Hv = %.12g, finite differences %.12g", op, i, h[i], fd);
        }
        nb_graph_free(g);
    }
}
