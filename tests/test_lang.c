/*
 * tests/test_lang.c: the model language (nb_model_parse, nb_model_parse_file,
 * nb_model_write) through the public API: every construct, Python's operator
 * precedence, every function and argument form with closed-form values, every
 * error message with its place, the write/parse round trip node by node, the
 * book's figure 1.3, deep nesting, and the models in examples/models.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include "gen_text.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NB_SOURCE_DIR /* meson passes the source root */
#define NB_SOURCE_DIR "."
#endif

/* ---- helpers ---- */

static nb_graph *parse_as(const char *src, nb_dtype dtype)
{
    nb_graph *g = nb_graph_new();
    cr_assert_not_null(g);
    nb_model_options opts = { .dtype = dtype };
    nb_parse_error e;
    nb_status s = nb_model_parse(g, src, strlen(src), &opts, &e);
    cr_assert_eq(s, NB_OK, "parse failed at %d:%d: %s\n--- model:\n%s", e.line, e.column, e.message,
                 src);
    cr_assert_eq(e.status, NB_OK);
    cr_assert_eq(e.line, 0);
    cr_assert_str_eq(e.message, "");
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    return g;
}

static nb_graph *parse(const char *src)
{
    return parse_as(src, NB_DTYPE_F64);
}

static nb_node *node(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node named %s", name);
    return n;
}

static void run(nb_graph *g, nb_node *n)
{
    cr_assert_eq(nb_graph_run(g, 1, &n), NB_OK, "run %s: %s", nb_node_name(n), nb_graph_error(g));
}

/* Runs node name and returns its single value. */
static double scalar(nb_graph *g, const char *name)
{
    nb_node *n = node(g, name);
    cr_assert_eq(nb_node_size(n), 1, "%s is not a scalar", name);
    run(g, n);
    double v;
    cr_assert_eq(nb_node_read_f64(g, n, &v, 1), NB_OK);
    return v;
}

/* Runs node name and asserts its n values are want[] within tol (relative to max(1, |want|)). */
static void values(nb_graph *g, const char *name, size_t n, const double *want, double tol)
{
    nb_node *v = node(g, name);
    cr_assert_eq(nb_node_size(v), n, "%s has %zu values, want %zu", name, nb_node_size(v), n);
    run(g, v);
    double got[64];
    cr_assert(n <= 64);
    cr_assert_eq(nb_node_read_f64(g, v, got, n), NB_OK);
    for (size_t i = 0; i < n; i++) {
        double scale = fabs(want[i]) > 1 ? fabs(want[i]) : 1;
        cr_assert(fabs(got[i] - want[i]) <= tol * scale, "%s[%zu] = %.17g, want %.17g", name, i,
                  got[i], want[i]);
    }
}

#define VALUES(g, name, tol, ...)                                                                  \
    values(g, name, sizeof((const double[]){ __VA_ARGS__ }) / sizeof(double),                      \
           (const double[]){ __VA_ARGS__ }, tol)

static void shape_is(nb_node *n, int rank, const int64_t *shape)
{
    cr_assert_eq(nb_node_rank(n), rank, "%s has rank %d, want %d", nb_node_name(n), nb_node_rank(n),
                 rank);
    for (int i = 0; i < rank; i++) {
        cr_assert_eq(nb_node_shape(n)[i], shape[i], "%s: dimension %d is %lld, want %lld",
                     nb_node_name(n), i, (long long)nb_node_shape(n)[i], (long long)shape[i]);
    }
}

#define SHAPE_IS(n, ...) shape_is(n, NB_SHAPE(__VA_ARGS__))

static void op_is(nb_node *n, const char *op)
{
    cr_assert_str_eq(nb_node_op_name(n), op, "%s is %s, want %s", nb_node_name(n),
                     nb_node_op_name(n), op);
}

/*
 * Parses src into a fresh graph and asserts the error: status, line, column and
 * message exactly. Also checks that err may be NULL (same status) and that the
 * graph's scope stack is left closed (a builder after the failed parse is not
 * in a scope).
 */
static void parse_error(const char *src, nb_status status, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    memset(&e, 0x55, sizeof e);
    nb_status s = nb_model_parse(g, src, strlen(src), NULL, &e);
    cr_assert_eq(s, status, "status %d (%s), want %d; message: %s\n--- model:\n%s", s,
                 nb_status_string(s), status, e.message, src);
    cr_assert_eq(e.status, status);
    cr_assert_str_eq(e.message, msg, "--- model:\n%s", src);
    cr_assert_eq(e.line, line, "line %d, want %d (%s)", e.line, line, msg);
    cr_assert_eq(e.column, col, "column %d, want %d (%s)", e.column, col, msg);
    nb_graph_free(g);

    g = nb_graph_new();
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), status);
    if (nb_graph_status(g) == NB_OK) {
        nb_node *probe = nb_input(g, NB_DTYPE_F64, 0, NULL);
        cr_assert_null(nb_node_scope(probe), "the failed parse left a scope open");
    }
    nb_graph_free(g);
}

static double sigmoid(double x)
{
    return 1 / (1 + exp(-x));
}

/* ======================================================================== */
/* Declarations and literals                                                */
/* ======================================================================== */

Test(lang, input_without_shape_is_a_zero_f64_scalar)
{
    nb_graph *g = parse("input x\n");
    nb_node *x = node(g, "x");
    cr_assert_eq(nb_node_kind(x), NB_KIND_INPUT);
    op_is(x, "input");
    cr_assert_eq(nb_node_dtype(x), NB_DTYPE_F64);
    cr_assert_eq(nb_node_rank(x), 0);
    cr_assert_eq(scalar(g, "x"), 0.0);
    cr_assert_eq(nb_graph_node_count(g), 1);
    nb_graph_free(g);
}

Test(lang, input_with_shape_starts_at_zero_and_default_sets_values)
{
    nb_graph *g = parse("input x[2, 3]\ninput y[2] = [1, -2]\ninput s = 4.5\n");
    SHAPE_IS(node(g, "x"), 2, 3);
    VALUES(g, "x", 0, 0, 0, 0, 0, 0, 0);
    SHAPE_IS(node(g, "y"), 2);
    VALUES(g, "y", 0, 1, -2);
    cr_assert_eq(nb_node_rank(node(g, "s")), 0);
    cr_assert_eq(scalar(g, "s"), 4.5);
    nb_graph_free(g);
}

Test(lang, input_dtype_annotation_i32_f32_f64)
{
    nb_graph *g = parse("input l[4] : i32\n"
                        "input m[3] : i32 = [2, 0, -1]\n"
                        "input a[2] : f32 = [0.5, 0.25]\n"
                        "input b : f64 = 3\n");
    nb_node *l = node(g, "l"), *m = node(g, "m");
    cr_assert_eq(nb_node_dtype(l), NB_DTYPE_I32);
    SHAPE_IS(l, 4);
    cr_assert_eq(nb_node_dtype(m), NB_DTYPE_I32);
    const int32_t *mv = nb_node_data(m);
    cr_assert(mv[0] == 2 && mv[1] == 0 && mv[2] == -1);
    cr_assert_eq(nb_node_dtype(node(g, "a")), NB_DTYPE_F32);
    const float *av = nb_node_data(node(g, "a"));
    cr_assert(av[0] == 0.5f && av[1] == 0.25f);
    cr_assert_eq(nb_node_dtype(node(g, "b")), NB_DTYPE_F64);
    nb_graph_free(g);
}

Test(lang, param_literal_initializer)
{
    nb_graph *g = parse("param w[2, 2] = [[1, 2], [3, -4.5]]\nparam s = -0.125\n");
    nb_node *w = node(g, "w");
    cr_assert_eq(nb_node_kind(w), NB_KIND_PARAM);
    SHAPE_IS(w, 2, 2);
    VALUES(g, "w", 0, 1, 2, 3, -4.5);
    cr_assert_eq(scalar(g, "s"), -0.125);
    nb_graph_free(g);
}

Test(lang, scalar_literal_fills_a_declared_shape)
{
    nb_graph *g = parse("param w[2, 3] = 0.5\ninput x[3] = -1\nconst c[2] = 7\n");
    SHAPE_IS(node(g, "w"), 2, 3);
    VALUES(g, "w", 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5);
    VALUES(g, "x", 0, -1, -1, -1);
    VALUES(g, "c", 0, 7, 7);
    nb_graph_free(g);
}

Test(lang, param_zeros_and_ones)
{
    nb_graph *g = parse("param z[3] = zeros\nparam o[2, 2] = ones\n");
    VALUES(g, "z", 0, 0, 0, 0);
    VALUES(g, "o", 0, 1, 1, 1, 1);
    nb_graph_free(g);
}

/*
 * Every random initializer draws exactly what the builder with the same init
 * draws: a graph built with the C API in the same order, from the same seed
 * (0 for a new graph), holds bit-identical values.
 */
Test(lang, random_initializers_match_the_builders_bit_for_bit)
{
    nb_graph *g = parse("param n[4, 5] = normal(1, 0.5)\n"
                        "param u[4, 5] = uniform(-2, 3)\n"
                        "param xa[4, 5] = xavier\n"
                        "param xn[4, 5] = xavier_normal\n"
                        "param h[4, 5] = he\n"
                        "param hu[4, 5] = he_uniform\n"
                        "param m[6] = normal(-1, 0)\n");
    nb_graph *r = nb_graph_new();
    const nb_init inits[] = {
        nb_init_normal(1, 0.5),  nb_init_uniform(-2, 3), nb_init_xavier_uniform(),
        nb_init_xavier_normal(), nb_init_he_normal(),    nb_init_he_uniform(),
    };
    const char *names[] = { "n", "u", "xa", "xn", "h", "hu" };
    for (size_t i = 0; i < 6; i++) {
        nb_node *want = nb_param(r, NB_DTYPE_F64, NB_SHAPE(4, 5), inits[i]);
        nb_node *got = node(g, names[i]);
        cr_assert_eq(memcmp(nb_node_data(got), nb_node_data(want), 20 * sizeof(double)), 0,
                     "%s differs from the builder's draw", names[i]);
    }
    /* uniform(-2, 3) stays in range; xavier's limit is sqrt(6 / (4 + 5)) */
    const double *u = nb_node_data(node(g, "u")), *xa = nb_node_data(node(g, "xa"));
    for (int i = 0; i < 20; i++) {
        cr_assert(u[i] >= -2 && u[i] <= 3);
        cr_assert(fabs(xa[i]) <= sqrt(6.0 / 9.0));
    }
    /* normal with std 0 is its mean */
    VALUES(g, "m", 0, -1, -1, -1, -1, -1, -1);
    nb_graph_free(r);
    nb_graph_free(g);
}

Test(lang, const_takes_its_shape_from_the_literal)
{
    nb_graph *g = parse("const c = 2.5\nconst v = [1, 2, 3]\nconst m = [[1, 2], [3, 4], [5, 6]]\n"
                        "const d[2, 2] = [[9, 8], [7, 6]]\nconst k : i32 = [4, 5]\n");
    nb_node *c = node(g, "c");
    cr_assert_eq(nb_node_kind(c), NB_KIND_CONST);
    cr_assert_eq(nb_node_rank(c), 0);
    cr_assert_eq(scalar(g, "c"), 2.5);
    SHAPE_IS(node(g, "v"), 3);
    SHAPE_IS(node(g, "m"), 3, 2);
    VALUES(g, "m", 0, 1, 2, 3, 4, 5, 6);
    SHAPE_IS(node(g, "d"), 2, 2);
    VALUES(g, "d", 0, 9, 8, 7, 6);
    nb_node *k = node(g, "k");
    cr_assert_eq(nb_node_dtype(k), NB_DTYPE_I32);
    cr_assert_eq(((const int32_t *)nb_node_data(k))[1], 5);
    nb_graph_free(g);
}

Test(lang, nested_list_literals_of_rank_0_to_4_are_row_major)
{
    nb_graph *g = parse("const r0 = -3\n"
                        "const r1 = [1]\n"
                        "const r2 = [[1, 2, 3], [4, 5, 6]]\n"
                        "const r3 = [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]\n"
                        "const r4 = [[[[1], [2]]], [[[3], [4]]]]\n");
    cr_assert_eq(nb_node_rank(node(g, "r0")), 0);
    cr_assert_eq(scalar(g, "r0"), -3);
    SHAPE_IS(node(g, "r1"), 1);
    SHAPE_IS(node(g, "r2"), 2, 3);
    VALUES(g, "r2", 0, 1, 2, 3, 4, 5, 6);
    SHAPE_IS(node(g, "r3"), 3, 2, 2);
    VALUES(g, "r3", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    SHAPE_IS(node(g, "r4"), 2, 1, 2, 1);
    VALUES(g, "r4", 0, 1, 2, 3, 4);
    nb_graph_free(g);
}

Test(lang, number_forms)
{
    nb_graph *g = parse("const a = [1e-3, 2.5E+2, .5, 5., 0.125e1, -7, 1e0]\n");
    VALUES(g, "a", 0, 1e-3, 250, 0.5, 5, 1.25, -7, 1);
    nb_graph_free(g);
}

Test(lang, comments_blank_lines_and_line_endings)
{
    nb_graph *g = parse("# a model\n"
                        "\n"
                        "   \t\n"
                        "  # an indented comment\n"
                        "input x = 2   # a trailing comment\r\n"
                        "\r\n"
                        "\ty = x * 3 # tabs and CRLF are blanks\r\n"
                        "z = y + 1"); /* no newline at the end */
    cr_assert_eq(scalar(g, "y"), 6);
    cr_assert_eq(scalar(g, "z"), 7);
    nb_graph_free(g);
}

Test(lang, a_utf8_byte_order_mark_is_skipped)
{
    nb_graph *g = parse("\xEF\xBB\xBFinput x = 2\ny = x * 2\n");
    cr_assert_eq(scalar(g, "y"), 4);
    nb_graph_free(g);
    /* columns on the first line count from after the mark */
    parse_error("\xEF\xBB\xBFinput x = $\n", NB_ERR_FORMAT, 1, 11, "unexpected character '$'");
}

Test(lang, empty_and_comment_only_models_build_nothing)
{
    const char *models[] = { "", "\n\n", "# only a comment", "# a\n\n# b\n" };
    for (size_t i = 0; i < 4; i++) {
        nb_graph *g = parse(models[i]);
        cr_assert_eq(nb_graph_node_count(g), 0);
        nb_graph_free(g);
    }
}

Test(lang, lines_join_inside_parentheses_and_brackets)
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3],   # first row\n"
                        "                 [4, 5, 6]]\n"
                        "s = sum(x,\n"
                        "        # a comment between the arguments\n"
                        "        -1)\n"
                        "t = (x\n"
                        "     + 1\n"
                        "     ) * 2\n");
    VALUES(g, "s", 0, 6, 15);
    VALUES(g, "t", 0, 4, 6, 8, 10, 12, 14);
    nb_graph_free(g);
}

Test(lang, source_need_not_be_nul_terminated)
{
    const char text[] = "input x = 3\ny = x * 2\nz = y * y\nGARBAGE";
    size_t len = strlen("input x = 3\ny = x * 2\n");
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_model_parse(g, text, len, NULL, NULL), NB_OK);
    cr_assert_eq(scalar(g, "y"), 6);
    cr_assert_null(nb_graph_find(g, "z"));
    nb_graph_free(g);
}

Test(lang, nested_scopes_name_the_innermost_scope)
{
    nb_graph *g = parse("input x = 1\n"
                        "scope outer {\n"
                        "  param w = 2\n"
                        "  a = x * w\n"
                        "  scope inner {\n"
                        "    b = a + 1\n"
                        "    c = b * b\n"
                        "  }\n"
                        "  d = c - 1\n"
                        "}\n"
                        "e = d / 2\n"
                        "scope outer {\n"
                        "  f = e * 3\n"
                        "}\n");
    cr_assert_null(nb_node_scope(node(g, "x")));
    cr_assert_str_eq(nb_node_scope(node(g, "w")), "outer");
    cr_assert_str_eq(nb_node_scope(node(g, "a")), "outer");
    cr_assert_str_eq(nb_node_scope(node(g, "b")), "inner");
    cr_assert_str_eq(nb_node_scope(node(g, "c")), "inner");
    cr_assert_str_eq(nb_node_scope(node(g, "d")), "outer");
    cr_assert_null(nb_node_scope(node(g, "e")));
    cr_assert_str_eq(nb_node_scope(node(g, "f")), "outer");
    /* the literals 1, 1, 2, 3 are constants in the scope where they appear */
    cr_assert_str_eq(nb_node_scope(nb_node_input(node(g, "b"), 1)), "inner");
    cr_assert_null(nb_node_scope(nb_node_input(node(g, "e"), 1)));
    /* ((2*1 + 1)^2 - 1) / 2 * 3 = 12 */
    cr_assert_eq(scalar(g, "f"), 12);
    /* depth over ops: mul, add, mul, sub, div, mul = 6; over outermost scopes:
       outer, div, the second outer instance = 3; level 2 counts inner as one */
    nb_node *f = node(g, "f");
    cr_assert_eq(nb_depth(g, f, NB_DEPTH_OPS), 6);
    cr_assert_eq(nb_depth(g, f, NB_DEPTH_SCOPES), 3);
    cr_assert_eq(nb_depth(g, f, 2), 5);
    /* a builder called after the parse is outside every scope */
    nb_node *after = nb_input(g, NB_DTYPE_F64, 0, NULL);
    cr_assert_null(nb_node_scope(after));
    nb_graph_free(g);
}

Test(lang, a_parse_adds_to_a_graph_that_already_has_nodes_and_an_open_scope)
{
    nb_graph *g = nb_graph_new();
    nb_node *pre = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), "pre");
    nb_scope_push(g, "caller");
    const char *src = "input x = 2\nscope s {\n  y = x * 3\n}\n";
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), NB_OK);
    cr_assert_str_eq(nb_node_scope(node(g, "x")), "caller");
    cr_assert_str_eq(nb_node_scope(node(g, "y")), "s");
    /* the caller's scope is still open */
    nb_node *after = nb_input(g, NB_DTYPE_F64, 0, NULL);
    cr_assert_str_eq(nb_node_scope(after), "caller");
    nb_scope_pop(g);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_eq(nb_node_id(node(g, "x")), nb_node_id(pre) + 1);
    nb_graph_free(g);
}

Test(lang, assigned_names_become_node_names_and_the_rest_are_generated)
{
    nb_graph *g = parse("input x[2] = [1, 2]\nparam w[2] = [3, 4]\ny = sum(w * x) + 1\n");
    nb_node *y = node(g, "y");
    op_is(y, "add");
    nb_node *s = nb_node_input(y, 0);
    op_is(s, "sum");
    cr_assert_str_eq(nb_node_name(s), "sum_1");
    cr_assert_str_eq(nb_node_name(nb_node_input(s, 0)), "mul_1");
    cr_assert_eq(nb_node_input(nb_node_input(s, 0), 0), node(g, "w"));
    cr_assert_eq(nb_node_input(nb_node_input(s, 0), 1), node(g, "x"));
    cr_assert_eq(nb_node_kind(nb_node_input(y, 1)), NB_KIND_CONST);
    cr_assert_eq(nb_graph_find(g, "sum_1"), s);
    cr_assert_eq(scalar(g, "y"), 12);
    /* x, w, mul, sum, the constant 1, add */
    cr_assert_eq(nb_graph_node_count(g), 6);
    nb_graph_free(g);
}

Test(lang, expression_literals_become_constants)
{
    nb_graph *g = parse("input x[2, 2] = [[1, 2], [3, 4]]\n"
                        "y = x * [10, 100]\n"
                        "z = [[1, 0], [0, 1]] @ x\n"
                        "c = [1, 2, 3]\n"
                        "k = 2 + 3\n");
    VALUES(g, "y", 0, 10, 200, 30, 400);
    VALUES(g, "z", 0, 1, 2, 3, 4);
    cr_assert_eq(nb_node_kind(node(g, "c")), NB_KIND_CONST);
    SHAPE_IS(node(g, "c"), 3);
    cr_assert_eq(nb_node_kind(node(g, "k")), NB_KIND_CONST);
    cr_assert_eq(scalar(g, "k"), 5);
    nb_graph_free(g);
}

Test(lang, f32_option_makes_every_float_node_f32)
{
    nb_graph *g = parse_as("input x[2] = [0.5, 2]\nparam w[2] = normal(0, 1)\nconst c = 3\n"
                           "input l[2] : i32 = [0, 1]\ny = sum(x * c) + w\nz = one_hot(l, 2)\n",
                           NB_DTYPE_F32);
    const char *f32[] = { "x", "w", "c", "y", "z" };
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(nb_node_dtype(node(g, f32[i])), NB_DTYPE_F32, "%s", f32[i]);
    }
    cr_assert_eq(nb_node_dtype(node(g, "l")), NB_DTYPE_I32);
    cr_assert_eq(nb_node_dtype(nb_node_input(node(g, "y"), 0)), NB_DTYPE_F32);
    run(g, node(g, "y"));
    const float *y = nb_node_data(node(g, "y")), *w = nb_node_data(node(g, "w"));
    cr_assert_eq(y[0], 7.5f + w[0]);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Operators: Python's precedence and associativity                         */
/* ======================================================================== */

Test(lang, unary_minus_binds_looser_than_power, .description = "-x**2 is -(x**2)")
{
    nb_graph *g = parse("input x = 3\ny = -x**2\nz = (-x)**2\n");
    nb_node *y = node(g, "y");
    op_is(y, "neg");
    op_is(nb_node_input(y, 0), "pow");
    cr_assert_eq(scalar(g, "y"), -9);
    op_is(nb_node_input(node(g, "z"), 0), "neg");
    cr_assert_eq(scalar(g, "z"), 9);
    nb_graph_free(g);
}

Test(lang, power_takes_a_negative_exponent, .description = "2**-1 = 0.5, x**-1 = 1/x")
{
    nb_graph *g = parse("input x = 4\nh = 2**-1\ny = x ** -1\nz = x ** -0.5 * 2\n");
    cr_assert_eq(nb_node_kind(node(g, "h")), NB_KIND_CONST);
    cr_assert_eq(scalar(g, "h"), 0.5);
    op_is(node(g, "y"), "pow");
    cr_assert_eq(scalar(g, "y"), 0.25);
    op_is(node(g, "z"), "mul");
    cr_assert_eq(scalar(g, "z"), 1);
    nb_graph_free(g);
}

Test(lang, power_is_right_associative, .description = "x ** 2 ** 3 = x ** 8")
{
    nb_graph *g = parse("input x = 2\ny = x ** 2 ** 3\nc = 2 ** 3 ** 2\nd = (2 ** 3) ** 2\n");
    nb_node *y = node(g, "y");
    op_is(y, "pow");
    cr_assert_eq(nb_node_input(y, 0), node(g, "x"), "one pow node: 2 ** 3 folds to 8");
    cr_assert_eq(scalar(g, "y"), 256);
    cr_assert_eq(scalar(g, "c"), 512);
    cr_assert_eq(scalar(g, "d"), 64);
    nb_graph_free(g);
}

Test(lang, minus_and_division_are_left_associative)
{
    nb_graph *g = parse("input a = 10\ninput b = 3\ninput c = 2\n"
                        "y = a - b - c\nz = a / b / c\nw = a - b + c\nv = a / b * c\n");
    nb_node *y = node(g, "y");
    op_is(y, "sub");
    op_is(nb_node_input(y, 0), "sub");
    cr_assert_eq(nb_node_input(y, 1), node(g, "c"));
    cr_assert_eq(scalar(g, "y"), 5);
    cr_assert_eq(scalar(g, "z"), 10.0 / 3.0 / 2.0);
    cr_assert_eq(scalar(g, "w"), 9);
    cr_assert_eq(scalar(g, "v"), 10.0 / 3.0 * 2.0);
    nb_graph_free(g);
}

Test(lang, times_binds_tighter_than_plus_and_parentheses_group)
{
    nb_graph *g = parse("input a = 2\ninput b = 3\ninput c = 4\n"
                        "y = a + b * c\nz = (a + b) * c\nw = a * b + c\nv = a - b / c\n");
    op_is(node(g, "y"), "add");
    cr_assert_eq(scalar(g, "y"), 14);
    op_is(node(g, "z"), "mul");
    cr_assert_eq(scalar(g, "z"), 20);
    cr_assert_eq(scalar(g, "w"), 10);
    cr_assert_eq(scalar(g, "v"), 2 - 0.75);
    nb_graph_free(g);
}

Test(lang, matmul_is_at_the_level_of_times, .description = "2 * A @ A is (2*A) @ A")
{
    nb_graph *g = parse("input A[2, 2] = [[1, 2], [3, 4]]\n"
                        "y = 2 * A @ A\n"
                        "z = A @ A * 2\n"
                        "w = A + A @ A\n"
                        "u = A / 2 @ A\n"
                        "n = -A @ A\n");
    nb_node *y = node(g, "y");
    op_is(y, "matmul");
    op_is(nb_node_input(y, 0), "mul");
    VALUES(g, "y", 0, 14, 20, 30, 44);
    op_is(node(g, "z"), "mul");
    op_is(nb_node_input(node(g, "z"), 0), "matmul");
    VALUES(g, "z", 0, 14, 20, 30, 44);
    op_is(node(g, "w"), "add");
    VALUES(g, "w", 0, 8, 12, 18, 26);
    op_is(node(g, "u"), "matmul");
    VALUES(g, "u", 0, 3.5, 5, 7.5, 11);
    op_is(node(g, "n"), "matmul");
    op_is(nb_node_input(node(g, "n"), 0), "neg");
    VALUES(g, "n", 0, -7, -10, -15, -22);
    nb_graph_free(g);
}

Test(lang, unary_minus_binds_tighter_than_times_and_repeats)
{
    nb_graph *g = parse("input a = 2\ninput b = 5\n"
                        "y = -a * b\nz = a * -b\nw = --a\nv = a - -1\nu = - - -b\n");
    op_is(node(g, "y"), "mul");
    op_is(nb_node_input(node(g, "y"), 0), "neg");
    cr_assert_eq(scalar(g, "y"), -10);
    cr_assert_eq(scalar(g, "z"), -10);
    op_is(node(g, "w"), "neg");
    op_is(nb_node_input(node(g, "w"), 0), "neg");
    cr_assert_eq(scalar(g, "w"), 2);
    cr_assert_eq(scalar(g, "v"), 3);
    cr_assert_eq(scalar(g, "u"), -5);
    nb_graph_free(g);
}

Test(lang, numeric_subexpressions_fold_into_one_constant)
{
    nb_graph *g = parse("input x = 2\n"
                        "y = x * (2 + 3 * 4)\n"
                        "c = 1 - 2 - 3\n"
                        "d = 8 / 2 / 2\n"
                        "e = -(3 - 5) * 2\n"
                        "f = -2 ** 2\n"
                        "h = (-2) ** 2\n");
    /* x, the constant 14, mul, then one constant for each of c, d, e, f, h */
    cr_assert_eq(nb_graph_node_count(g), 8);
    nb_node *k = nb_node_input(node(g, "y"), 1);
    cr_assert_eq(nb_node_kind(k), NB_KIND_CONST);
    cr_assert_eq(*(const double *)nb_node_data(k), 14);
    cr_assert_eq(scalar(g, "y"), 28);
    cr_assert_eq(scalar(g, "c"), -4);
    cr_assert_eq(scalar(g, "d"), 2);
    cr_assert_eq(scalar(g, "e"), 4);
    cr_assert_eq(scalar(g, "f"), -4);
    cr_assert_eq(scalar(g, "h"), 4);
    nb_graph_free(g);
}

Test(lang, elementwise_operators_broadcast)
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "input b[3] = [10, 20, 30]\n"
                        "input c[2, 1] = [[1], [2]]\n"
                        "input r[1, 3] = [[1, 2, 3]]\n"
                        "y = x + b\n"
                        "o = c * r\n"
                        "s = x * 2\n"
                        "d = 12 / x\n"
                        "m = b - x\n");
    VALUES(g, "y", 0, 11, 22, 33, 14, 25, 36);
    SHAPE_IS(node(g, "o"), 2, 3);
    VALUES(g, "o", 0, 1, 2, 3, 2, 4, 6);
    VALUES(g, "s", 0, 2, 4, 6, 8, 10, 12);
    VALUES(g, "d", 0, 12, 6, 4, 3, 12.0 / 5, 2);
    VALUES(g, "m", 0, 9, 18, 27, 6, 15, 24);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Functions                                                                */
/* ======================================================================== */

Test(lang, unary_functions_closed_form)
{
    nb_graph *g = parse("input p[3] = [0.5, 2, 4]\n"
                        "input q[4] = [-1.5, 0, 0.5, 2]\n"
                        "e = exp(q)\nl = log(p)\nr = sqrt(p)\na = abs(q)\nt = tanh(q)\n"
                        "s = sigmoid(q)\nu = relu(q)\nn = neg(q)\nsg = sign(q)\nst = step(q)\n");
    VALUES(g, "e", 1e-15, exp(-1.5), 1, exp(0.5), exp(2));
    VALUES(g, "l", 1e-15, log(0.5), log(2), log(4));
    VALUES(g, "r", 1e-15, sqrt(0.5), sqrt(2), 2);
    VALUES(g, "a", 0, 1.5, 0, 0.5, 2);
    VALUES(g, "t", 1e-15, tanh(-1.5), 0, tanh(0.5), tanh(2));
    VALUES(g, "s", 1e-15, sigmoid(-1.5), 0.5, sigmoid(0.5), sigmoid(2));
    VALUES(g, "u", 0, 0, 0, 0.5, 2);
    VALUES(g, "n", 0, 1.5, 0, -0.5, -2);
    VALUES(g, "sg", 0, -1, 0, 1, 1);
    VALUES(g, "st", 0, 0, 0, 1, 1);
    const char *ops[] = { "e", "exp",     "l", "log",  "r", "sqrt", "a",  "abs",  "t",  "tanh",
                          "s", "sigmoid", "u", "relu", "n", "neg",  "sg", "sign", "st", "step" };
    for (size_t i = 0; i < 20; i += 2) {
        op_is(node(g, ops[i]), ops[i + 1]);
    }
    nb_graph_free(g);
}

Test(lang, sum_and_mean_every_argument_form)
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "s = sum(x)\ns0 = sum(x, 0)\ns1 = sum(x, 1)\nsm1 = sum(x, -1)\n"
                        "sm2 = sum(x, -2)\nsk = sum(x, 1, keepdims)\n"
                        "m = mean(x)\nm0 = mean(x, 0)\nmk = mean(x, -2, keepdims)\n");
    cr_assert_eq(nb_node_rank(node(g, "s")), 0);
    cr_assert_eq(scalar(g, "s"), 21);
    SHAPE_IS(node(g, "s0"), 3);
    VALUES(g, "s0", 0, 5, 7, 9);
    VALUES(g, "s1", 0, 6, 15);
    VALUES(g, "sm1", 0, 6, 15);
    VALUES(g, "sm2", 0, 5, 7, 9);
    SHAPE_IS(node(g, "sk"), 2, 1);
    VALUES(g, "sk", 0, 6, 15);
    cr_assert_eq(scalar(g, "m"), 3.5);
    VALUES(g, "m0", 0, 2.5, 3.5, 4.5);
    SHAPE_IS(node(g, "mk"), 1, 3);
    VALUES(g, "mk", 0, 2.5, 3.5, 4.5);
    op_is(node(g, "m"), "mean");
    nb_graph_free(g);
}

Test(lang, max_and_argmax_mask)
{
    nb_graph *g = parse("input x[2, 3] = [[1, 7, 3], [9, 5, 9]]\n"
                        "a = max(x, 1)\nb = max(x, 0, keepdims)\nc = max(x, -1, keepdims)\n"
                        "m = argmax_mask(x, 1)\nn = argmax_mask(x, -2)\n");
    VALUES(g, "a", 0, 7, 9);
    SHAPE_IS(node(g, "b"), 1, 3);
    VALUES(g, "b", 0, 9, 7, 9);
    SHAPE_IS(node(g, "c"), 2, 1);
    /* the first maximum along the axis */
    VALUES(g, "m", 0, 0, 1, 0, 1, 0, 0);
    VALUES(g, "n", 0, 0, 1, 0, 1, 0, 1);
    op_is(node(g, "a"), "max");
    nb_graph_free(g);
}

Test(lang, softmax_defaults_to_the_last_axis)
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [1, 1, 1]]\n"
                        "d = softmax(x)\na1 = softmax(x, 1)\na0 = softmax(x, 0)\n"
                        "l = log_softmax(x)\nl0 = log_softmax(x, -2)\n");
    double z = exp(1) + exp(2) + exp(3);
    VALUES(g, "d", 1e-15, exp(1) / z, exp(2) / z, exp(3) / z, 1.0 / 3, 1.0 / 3, 1.0 / 3);
    VALUES(g, "a1", 1e-15, exp(1) / z, exp(2) / z, exp(3) / z, 1.0 / 3, 1.0 / 3, 1.0 / 3);
    /* columns: [1, 1] -> 1/2 each; [2, 1] -> e/(e+1), 1/(e+1); [3, 1] likewise */
    double e1 = exp(1), e2 = exp(2);
    VALUES(g, "a0", 1e-15, 0.5, e1 / (e1 + 1), e2 / (e2 + 1), 0.5, 1 / (e1 + 1), 1 / (e2 + 1));
    VALUES(g, "l", 1e-15, 1 - log(z), 2 - log(z), 3 - log(z), -log(3), -log(3), -log(3));
    VALUES(g, "l0", 1e-15, -log(2), 2 - log(e2 + e1), 3 - log(exp(3) + e1), -log(2),
           1 - log(e2 + e1), 1 - log(exp(3) + e1));
    op_is(node(g, "d"), "softmax");
    op_is(node(g, "l"), "log_softmax");
    nb_graph_free(g);
}

Test(lang, matmul_infix_and_call_with_transpose_flags)
{
    nb_graph *g = parse("input A[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "input B[3, 2] = [[1, 0], [0, 1], [1, 1]]\n"
                        "input S[2, 2] = [[1, 2], [3, 4]]\n"
                        "p = A @ B\n"
                        "q = matmul(A, B)\n"
                        "tb = matmul(A, A, transpose_b)\n"
                        "ta = matmul(A, A, transpose_a)\n"
                        "tt = matmul(S, S, transpose_a, transpose_b)\n"
                        "ts = matmul(S, S, transpose_b, transpose_a)\n"
                        "tr = transpose(A)\n");
    VALUES(g, "p", 0, 4, 5, 10, 11);
    VALUES(g, "q", 0, 4, 5, 10, 11);
    SHAPE_IS(node(g, "tb"), 2, 2);
    VALUES(g, "tb", 0, 14, 32, 32, 77);
    SHAPE_IS(node(g, "ta"), 3, 3);
    VALUES(g, "ta", 0, 17, 22, 27, 22, 29, 36, 27, 36, 45);
    /* S^T S^T = (S S)^T */
    VALUES(g, "tt", 0, 7, 15, 10, 22);
    VALUES(g, "ts", 0, 7, 15, 10, 22);
    SHAPE_IS(node(g, "tr"), 3, 2);
    VALUES(g, "tr", 0, 1, 4, 2, 5, 3, 6);
    op_is(node(g, "tb"), "matmul");
    op_is(node(g, "tr"), "transpose");
    nb_graph_free(g);
}

Test(lang, batched_matmul_shares_a_rank_2_operand)
{
    nb_graph *g = parse("input X[2, 1, 2] = [[[1, 2]], [[3, 4]]]\n"
                        "input W[2, 2] = [[1, 0], [1, 1]]\n"
                        "Y = X @ W\n");
    SHAPE_IS(node(g, "Y"), 2, 1, 2);
    VALUES(g, "Y", 0, 3, 2, 7, 4);
    nb_graph_free(g);
}

Test(lang, reshape_broadcast_to_and_sum_to)
{
    nb_graph *g = parse("input A[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "input v[3] = [1, 2, 3]\n"
                        "r = reshape(A, [3, 2])\n"
                        "f = reshape(A, [-1])\n"
                        "i = reshape(A, [3, -1])\n"
                        "r4 = reshape(A, [1, 2, 3, 1])\n"
                        "b = broadcast_to(v, [2, 3])\n"
                        "s = sum_to(A, [3])\n"
                        "k = sum_to(A, [2, 1])\n");
    SHAPE_IS(node(g, "r"), 3, 2);
    VALUES(g, "r", 0, 1, 2, 3, 4, 5, 6);
    SHAPE_IS(node(g, "f"), 6);
    SHAPE_IS(node(g, "i"), 3, 2);
    SHAPE_IS(node(g, "r4"), 1, 2, 3, 1);
    SHAPE_IS(node(g, "b"), 2, 3);
    VALUES(g, "b", 0, 1, 2, 3, 1, 2, 3);
    VALUES(g, "s", 0, 5, 7, 9);
    SHAPE_IS(node(g, "k"), 2, 1);
    VALUES(g, "k", 0, 6, 15);
    op_is(node(g, "b"), "broadcast_to");
    op_is(node(g, "s"), "sum_to");
    nb_graph_free(g);
}

Test(lang, pow_function_and_operator_agree)
{
    nb_graph *g = parse("input x[3] = [1, 2, 4]\n"
                        "a = pow(x, 3)\nb = x ** 3\nc = pow(x, -1)\nd = pow(x, 0.5)\n"
                        "e = pow(x, 2 ** 2)\n");
    VALUES(g, "a", 0, 1, 8, 64);
    VALUES(g, "b", 0, 1, 8, 64);
    VALUES(g, "c", 0, 1, 0.5, 0.25);
    VALUES(g, "d", 1e-15, 1, sqrt(2), 2);
    VALUES(g, "e", 0, 1, 16, 256);
    op_is(node(g, "a"), "pow");
    nb_graph_free(g);
}

Test(lang, one_hot_and_fill)
{
    nb_graph *g = parse("input l[3] : i32 = [3, 0, 1]\n"
                        "h = one_hot(l, 4)\n"
                        "f = fill(2.5)\n"
                        "m = fill([2, 3], -1)\n"
                        "k = fill([2], 1 + 1)\n");
    nb_node *h = node(g, "h");
    SHAPE_IS(h, 3, 4);
    cr_assert_eq(nb_node_dtype(h), NB_DTYPE_F64);
    VALUES(g, "h", 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0);
    op_is(node(g, "f"), "fill");
    cr_assert_eq(nb_node_rank(node(g, "f")), 0);
    cr_assert_eq(scalar(g, "f"), 2.5);
    SHAPE_IS(node(g, "m"), 2, 3);
    VALUES(g, "m", 0, -1, -1, -1, -1, -1, -1);
    VALUES(g, "k", 0, 2, 2);
    nb_graph_free(g);
}

Test(lang, activation_derivatives_closed_form,
     .description = "sigmoid_grad(y, d) = d y (1 - y), tanh_grad(y, d) = d (1 - y^2), relu_grad")
{
    nb_graph *g = parse("input y[2] = [0.25, -0.5]\n"
                        "input d[2] = [2, 3]\n"
                        "s = sum(sigmoid_grad(y, d))\n"
                        "t = sum(tanh_grad(y, d))\n"
                        "r = relu_grad(y, d)\n");
    cr_assert_float_eq(scalar(g, "s"), 2 * 0.25 * 0.75 + 3 * -0.5 * 1.5, 1e-15);
    cr_assert_float_eq(scalar(g, "t"), 2 * (1 - 0.0625) + 3 * (1 - 0.25), 1e-15);
    VALUES(g, "r", 0, 2, 0);
    op_is(node(g, "r"), "relu_grad");
    nb_graph_free(g);
}

Test(lang, losses_closed_form)
{
    nb_graph *g = parse("input z[2, 3] = [[1, 2, 3], [1, 2, 3]]\n"
                        "input l[2] : i32 = [0, 2]\n"
                        "input t[2, 3] = [[0, 1, 1], [1, 0, 0]]\n"
                        "ce = cross_entropy(z, l)\n"
                        "bce = bce_logits(z, t)\n"
                        "se = mse(z, t)\n");
    double lse = log(exp(1) + exp(2) + exp(3));
    cr_assert_float_eq(scalar(g, "ce"), lse - (1 + 3) / 2.0, 1e-15);
    /* max(z, 0) - z t + log(1 + e^-|z|), averaged over 6 elements */
    double want = 0;
    const double zs[6] = { 1, 2, 3, 1, 2, 3 }, ts[6] = { 0, 1, 1, 1, 0, 0 };
    for (int i = 0; i < 6; i++) {
        want += zs[i] - zs[i] * ts[i] + log1p(exp(-zs[i]));
    }
    cr_assert_float_eq(scalar(g, "bce"), want / 6, 1e-15);
    /* (1 + 1 + 4 + 0 + 4 + 9) / 6 */
    cr_assert_float_eq(scalar(g, "se"), 19.0 / 6, 1e-15);
    op_is(node(g, "ce"), "cross_entropy");
    op_is(node(g, "bce"), "bce_logits");
    op_is(node(g, "se"), "mse");
    nb_graph_free(g);
}

Test(lang, gradients_of_a_parsed_model, .description = "d/dw sum(w * x)^2 = 2 (w.x) x")
{
    nb_graph *g = parse("input x[2] = [1, 2]\nparam w[2] = [3, -1]\ny = sum(w * x) ** 2\n");
    nb_node *w = node(g, "w"), *y = node(g, "y"), *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK);
    run(g, dw);
    const double *d = nb_node_data(dw);
    cr_assert(d[0] == 2 && d[1] == 4, "dw = [%g, %g]", d[0], d[1]);
    nb_graph_free(g);
}

Test(lang, parse_file_reads_a_model)
{
    char path[] = "/tmp/nabla_test_lang_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("input x = 3\ny = x * x\n", f);
    fclose(f);
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse_file(g, path, NULL, &e), NB_OK, "%s", e.message);
    cr_assert_eq(scalar(g, "y"), 9);
    nb_graph_free(g);
    remove(path);
}

/* ======================================================================== */
/* Errors: status, place and exact message                                  */
/* ======================================================================== */

Test(lang_errors, unknown_names)
{
    parse_error("y = z + 1\n", NB_ERR_FORMAT, 1, 5, "'z' is not a defined name");
    parse_error("input x\ny = x * w\n", NB_ERR_FORMAT, 2, 9, "'w' is not a defined name");
    parse_error("input x\ny = exp(q)\n", NB_ERR_FORMAT, 2, 9, "'q' is not a defined name");
    parse_error("y = z\n", NB_ERR_FORMAT, 1, 5, "'z' is not a defined name");
    parse_error("input x\ny = foo(x)\n", NB_ERR_FORMAT, 2, 5, "unknown function 'foo'");
    parse_error("input x\ny = x (1)\n", NB_ERR_FORMAT, 2, 5, "'x' is a node, not a function");
    /* a name used before its definition is unknown there */
    parse_error("y = x * 2\ninput x\n", NB_ERR_FORMAT, 1, 5, "'x' is not a defined name");
}

Test(lang_errors, redefinition_names_the_first_definition)
{
    parse_error("input x\ninput x\n", NB_ERR_FORMAT, 2, 7, "'x' is already defined (at 1:7)");
    parse_error("input x\n\n  param w = 1\nw = x + 1\n", NB_ERR_FORMAT, 4, 1,
                "'w' is already defined (at 3:9)");
    /* scopes do not make a new namespace */
    parse_error("scope a {\n  y = fill(1)\n}\nscope b {\n  y = fill(2)\n}\n", NB_ERR_FORMAT, 5, 3,
                "'y' is already defined (at 2:3)");
}

Test(lang_errors, reserved_words_cannot_be_names)
{
    parse_error("input sum\n", NB_ERR_FORMAT, 1, 7,
                "'sum' is a keyword or a function; choose another name");
    parse_error("input x\nexp = x * 2\n", NB_ERR_FORMAT, 2, 1,
                "'exp' is a keyword or a function; choose another name");
    parse_error("param scope = 1\n", NB_ERR_FORMAT, 1, 7,
                "'scope' is a keyword or a function; choose another name");
    parse_error("const keepdims = 1\n", NB_ERR_FORMAT, 1, 7,
                "'keepdims' is a keyword or a function; choose another name");
    parse_error("transpose_a = fill(1)\n", NB_ERR_FORMAT, 1, 1,
                "'transpose_a' is a keyword or a function; choose another name");
}

Test(lang_errors, bad_list_literals)
{
    parse_error("input x[2] = [[1, 2], [3]]\n", NB_ERR_FORMAT, 1, 25,
                "ragged list: this one has 1 element, an earlier one 2");
    parse_error("const c = [[1], [2, 3]]\n", NB_ERR_FORMAT, 1, 22,
                "ragged list: this one has 2 elements, an earlier one 1");
    parse_error("const c = [[[1], [2]], [[3]]]\n", NB_ERR_FORMAT, 1, 28,
                "ragged list: this one has 1 element, an earlier one 2");
    parse_error("input x = [1, [2]]\n", NB_ERR_FORMAT, 1, 15, "this list mixes numbers and lists");
    parse_error("input x = [[1], 2]\n", NB_ERR_FORMAT, 1, 17, "this list mixes numbers and lists");
    parse_error("input x = []\n", NB_ERR_FORMAT, 1, 12, "empty list: a literal needs numbers");
    parse_error("input x = [[1], []]\n", NB_ERR_FORMAT, 1, 18,
                "empty list: a literal needs numbers");
    parse_error("input x = [[[[[1]]]]]\n", NB_ERR_FORMAT, 1, 15, "lists nest deeper than rank 4");
    parse_error("input x = [1 2]\n", NB_ERR_FORMAT, 1, 14, "expected ',' or ']', found '2'");
    parse_error("input x = [1, ]\n", NB_ERR_FORMAT, 1, 15, "expected a number or '[', found ']'");
    parse_error("input x = [1, x]\n", NB_ERR_FORMAT, 1, 15, "expected a number or '[', found 'x'");
    parse_error("input x = y\n", NB_ERR_FORMAT, 1, 11, "expected a number, found 'y'");
    parse_error("input x = - [1]\n", NB_ERR_FORMAT, 1, 13, "expected a number, found '['");
}

Test(lang_errors, bad_numbers)
{
    parse_error("input x = 1.2.3\n", NB_ERR_FORMAT, 1, 11, "bad number '1.2.3': a second '.'");
    parse_error("input x = 1e\n", NB_ERR_FORMAT, 1, 11,
                "bad number '1e': the exponent has no digits");
    parse_error("y = 2 * 1e+ 3\n", NB_ERR_FORMAT, 1, 9,
                "bad number '1e+': the exponent has no digits");
    parse_error("input x\ny = 2x\n", NB_ERR_FORMAT, 2, 5,
                "bad number '2x': a number runs into a name");
    parse_error("input x = 1e999\n", NB_ERR_FORMAT, 1, 11,
                "bad number '1e999': too large for a double");
    parse_error("y = fill(1 / 0)\n", NB_ERR_FORMAT, 1, 12,
                "1 / 0 is inf; constants must be finite");
    parse_error("y = fill(10 ** 400)\n", NB_ERR_FORMAT, 1, 13,
                "10 ** 400 is inf; constants must be finite");
    parse_error("y = fill(0 / 0)\n", NB_ERR_FORMAT, 1, 12,
                "0 / 0 is nan; constants must be finite");
}

Test(lang_errors, bad_characters)
{
    parse_error("input x = $\n", NB_ERR_FORMAT, 1, 11, "unexpected character '$'");
    parse_error("input x\ny = x ! 2\n", NB_ERR_FORMAT, 2, 7, "unexpected character '!'");
    parse_error("input x = 1\x01\n", NB_ERR_FORMAT, 1, 12, "unexpected character (byte 0x01)");
    parse_error("input x\ny = x + \xc3\xa9\n", NB_ERR_FORMAT, 2, 9,
                "non-ASCII character (byte 0xC3); only comments may hold non-ASCII text");
    /* in a comment it is fine */
    nb_graph *g = parse("# caf\xc3\xa9 \xe2\x88\x87\ninput x = 1 # \xce\xb1\n");
    nb_graph_free(g);
}

Test(lang_errors, scopes_must_balance)
{
    parse_error("input x\nscope s {\n  y = x * 2\n", NB_ERR_FORMAT, 2, 9,
                "this scope is not closed: a '}' is missing");
    parse_error("scope a {\n  scope b {\n  }\n", NB_ERR_FORMAT, 1, 9,
                "this scope is not closed: a '}' is missing");
    parse_error("input x\n}\n", NB_ERR_FORMAT, 2, 1, "'}' closes no scope");
    parse_error("scope a {\n}\n}\n", NB_ERR_FORMAT, 3, 1, "'}' closes no scope");
    parse_error("scope {\n}\n", NB_ERR_FORMAT, 1, 7, "expected a scope name, found '{'");
    parse_error("scope a\n{\n}\n", NB_ERR_FORMAT, 1, 8, "expected '{', found the end of the line");
    parse_error("scope a { y = fill(1) }\n", NB_ERR_FORMAT, 1, 11,
                "expected the end of the line, found 'y'");
    parse_error("scope a {\n} x\n", NB_ERR_FORMAT, 2, 3, "expected the end of the line, found 'x'");
}

Test(lang_errors, parentheses_must_balance)
{
    parse_error("input x\ny = (x + 1", NB_ERR_FORMAT, 2, 5,
                "this '(' is not closed: a ')' is missing");
    parse_error("input x\ny = exp((x)", NB_ERR_FORMAT, 2, 5,
                "this call of exp is not closed: a ')' is missing");
    parse_error("input x\ny = (x + 1\nz = 2\n", NB_ERR_FORMAT, 3, 1,
                "expected an operator or the end of the line, found 'z' (the '(' at 2:5 is still "
                "open)");
    parse_error("input x\ny = (\n", NB_ERR_FORMAT, 3, 1,
                "expected an expression, found the end of the file (the '(' at 2:5 is still open)");
    parse_error("input x = [1, 2\ninput y\n", NB_ERR_FORMAT, 2, 1,
                "expected ',' or ']', found 'input' (the '[' at 1:11 is still open)");
    parse_error("input x\ny = x + 1)\n", NB_ERR_FORMAT, 2, 10, "unmatched ')'");
    parse_error("input x\ny = exp(x))\n", NB_ERR_FORMAT, 2, 11, "unmatched ')'");
    parse_error("input x\ny = x, 1\n", NB_ERR_FORMAT, 2, 6,
                "',' outside a function call's arguments");
    parse_error("input x\ny = (x, 1)\n", NB_ERR_FORMAT, 2, 7,
                "',' outside a function call's arguments");
    parse_error("input x\ny = sum(x, )\n", NB_ERR_FORMAT, 2, 12,
                "expected an expression, found ')'");
}

Test(lang_errors, statements_need_their_parts)
{
    parse_error("input x\ny x\n", NB_ERR_FORMAT, 2, 3, "expected '=', found 'x'");
    parse_error("input x\ny\n", NB_ERR_FORMAT, 2, 2, "expected '=', found the end of the line");
    parse_error("input x\ny = \n", NB_ERR_FORMAT, 2, 5,
                "expected an expression, found the end of the line");
    parse_error("input x\ny = x +\n", NB_ERR_FORMAT, 2, 8,
                "expected an expression, found the end of the line");
    parse_error("input x\ny = * x\n", NB_ERR_FORMAT, 2, 5, "expected an expression, found '*'");
    parse_error("input x\ny = x x\n", NB_ERR_FORMAT, 2, 7,
                "expected an operator or the end of the line, found 'x'");
    parse_error("y = 2 3\n", NB_ERR_FORMAT, 1, 7,
                "expected an operator or the end of the line, found '3'");
    parse_error("input x\ny = sum(x)(1)\n", NB_ERR_FORMAT, 2, 11,
                "expected an operator or the end of the line, found '('");
    parse_error(
        "3 = x\n", NB_ERR_FORMAT, 1, 1,
        "expected a statement (input, param, const, state, scope, for, '}' or name = expression), "
        "found '3'");
    parse_error("input\n", NB_ERR_FORMAT, 1, 6, "expected a name, found the end of the line");
    parse_error("input = 3\n", NB_ERR_FORMAT, 1, 7, "expected a name, found '='");
    parse_error("param w[2]\n", NB_ERR_FORMAT, 1, 11,
                "expected '=' and an initializer, found the end of the line");
    parse_error("const c\n", NB_ERR_FORMAT, 1, 8,
                "expected '=' and a literal, found the end of the line");
    parse_error("input x[2] = [1, 2] y\n", NB_ERR_FORMAT, 1, 21,
                "expected the end of the line, found 'y'");
    parse_error("input x\ny = x + 1 z = 2\n", NB_ERR_FORMAT, 2, 11,
                "expected an operator or the end of the line, found 'z'");
}

Test(lang_errors, bad_shapes_in_declarations)
{
    parse_error("input x[0]\n", NB_ERR_FORMAT, 1, 8,
                "dimension 1 of the shape is 0; dimensions are whole numbers from 1");
    parse_error("input x[2, 2.5]\n", NB_ERR_FORMAT, 1, 8,
                "dimension 2 of the shape is 2.5; dimensions are whole numbers from 1");
    parse_error("input x[3, -1]\n", NB_ERR_FORMAT, 1, 8,
                "dimension 2 of the shape is -1; dimensions are whole numbers from 1");
    parse_error("input x[[2]]\n", NB_ERR_FORMAT, 1, 8,
                "a shape is a list of at most 4 dimensions, like [4, 3]");
    parse_error("input x[1, 1, 1, 1, 1]\n", NB_ERR_FORMAT, 1, 8,
                "a shape is a list of at most 4 dimensions, like [4, 3]");
    parse_error("input x[]\n", NB_ERR_FORMAT, 1, 9, "empty list: a literal needs numbers");
}

Test(lang_errors, literal_shape_must_match_the_declared_shape)
{
    parse_error("input x[3] = [1, 2]\n", NB_ERR_SHAPE, 1, 14,
                "the literal has shape [2] but x is [3]");
    parse_error("param w[2, 2] = [1, 2, 3, 4]\n", NB_ERR_SHAPE, 1, 17,
                "the literal has shape [4] but w is [2,2]");
    parse_error("const c[2, 1] = [[1, 2]]\n", NB_ERR_SHAPE, 1, 17,
                "the literal has shape [1,2] but c is [2,1]");
}

Test(lang_errors, dtypes_and_i32_literals)
{
    parse_error("input l[2] : i32 = [1, 2.5]\n", NB_ERR_FORMAT, 1, 20,
                "l is i32: 2.5 is not a whole number");
    parse_error("const k : i32 = 0.5\n", NB_ERR_FORMAT, 1, 17,
                "k is i32: 0.5 is not a whole number");
    parse_error("input l[2] : int = [1, 2]\n", NB_ERR_FORMAT, 1, 14,
                "expected a dtype (i32, f32 or f64), found 'int'");
    parse_error("input l[2] :\n", NB_ERR_FORMAT, 1, 13,
                "expected a dtype (i32, f32 or f64), found the end of the line");
    /* an i32 parameter is refused by the engine, at the initializer */
    parse_error("param w[2] : i32 = zeros\n", NB_ERR_DTYPE, 1, 20,
                "param: dtype i32 is not supported; use f32 or f64");
    /* i32 labels are not numbers to compute with */
    parse_error("input l[2] : i32\ny = l + 1\n", NB_ERR_DTYPE, 2, 7,
                "add: input 1 is i32; this op needs f32 or f64 inputs (l[2] + const_1[])");
    parse_error("input l[2] : i32\ny = exp(l)\n", NB_ERR_DTYPE, 2, 5,
                "exp: input 1 is i32; this op needs f32 or f64 inputs (l[2])");
    parse_error("input x[2]\ny = one_hot(x, 3)\n", NB_ERR_DTYPE, 2, 5,
                "one_hot: labels must be i32, not f64 (x[2])");
    parse_error("input x[2, 3]\ny = cross_entropy(x, x)\n", NB_ERR_DTYPE, 2, 5,
                "cross_entropy: labels must be i32, not f64 (x[2,3], x[2,3])");
}

Test(lang_errors, initializers)
{
    parse_error("param w = gaussian\n", NB_ERR_FORMAT, 1, 11,
                "expected a literal or an initializer (zeros, ones, normal(m, s), uniform(a, b), "
                "xavier, xavier_normal, he, he_uniform), found 'gaussian'");
    parse_error("param w = normal 0, 1\n", NB_ERR_FORMAT, 1, 18, "expected '(', found '0'");
    parse_error("param w = normal(0 1)\n", NB_ERR_FORMAT, 1, 20, "expected ',', found '1'");
    parse_error("param w = uniform(0, 1\n", NB_ERR_FORMAT, 2, 1,
                "expected ')', found the end of the file (the '(' at 1:18 is still open)");
    parse_error("param w = normal(0, s)\n", NB_ERR_FORMAT, 1, 21, "expected a number, found 's'");
    parse_error("param w[2] = uniform(1, 0)\n", NB_ERR_ARG, 1, 14,
                "param: uniform initializer needs low <= high, got low 1 and high 0");
    parse_error("param w[2] = normal(0, -1)\n", NB_ERR_ARG, 1, 14,
                "param: normal initializer needs std >= 0, got -1");
}

Test(lang_errors, engine_errors_point_at_the_operator,
     .description = "matmul: inner dimensions 3 and 2 differ (x[4,3] @ w[2,5])")
{
    parse_error("input x[4, 3]\nparam w[2, 5] = zeros\ny = x @ w\n", NB_ERR_SHAPE, 3, 7,
                "matmul: inner dimensions 3 and 2 differ (x[4,3] @ w[2,5])");
    parse_error("input x[4, 3]\nparam w[2, 5] = zeros\ny = 2 * (x @ w) + 1\n", NB_ERR_SHAPE, 3, 12,
                "matmul: inner dimensions 3 and 2 differ (x[4,3] @ w[2,5])");
    parse_error("input x[4, 3]\ninput w[2]\ny = x + w\n", NB_ERR_SHAPE, 3, 7,
                "add: shapes [4,3] and [2] cannot be broadcast together (x[4,3] + w[2])");
    parse_error("input x[4, 3]\ninput w[2]\n  y = w * x - 1\n", NB_ERR_SHAPE, 3, 9,
                "mul: shapes [2] and [4,3] cannot be broadcast together (w[2] * x[4,3])");
    parse_error("input x[2]\ny = x @ x\n", NB_ERR_RANK, 2, 7,
                "matmul: operand 1 has rank 1; matmul takes rank 2 or 3 (batched) (x[2] @ x[2])");
    parse_error("input x[2]\ny = transpose(x)\n", NB_ERR_RANK, 2, 5,
                "transpose: rank 1 has no two axes to swap; transpose needs rank 2 or more (x[2])");
    parse_error("input x[2]\ny = reshape(x, [3])\n", NB_ERR_SHAPE, 2, 5,
                "reshape: cannot reshape 2 elements to [3] (x[2])");
    parse_error("input x[2, 3]\ny = mse(x, sum(x))\n", NB_ERR_SHAPE, 2, 5,
                "mse: shapes [2,3] and [] differ; they must be equal (x[2,3], sum_1[])");
    parse_error("input a[2, 3]\ny = matmul(a, a)\n", NB_ERR_SHAPE, 2, 5,
                "matmul: inner dimensions 3 and 2 differ (a[2,3], a[2,3])");
    parse_error(
        "y = fill([2, -1], 3)\n", NB_ERR_SHAPE, 1, 5,
        "fill: shape [2,-1] is not valid (dimensions from 1 to 2^31-1, size within memory)");
}

Test(lang_errors, bad_axes_point_at_the_call)
{
    parse_error("input x[4, 3]\ny = sum(x, 2)\n", NB_ERR_AXIS, 2, 5,
                "sum: axis 2 is out of range for rank 2 (x[4,3])");
    parse_error("input x[4, 3]\ny = 1 + mean(x, -3)\n", NB_ERR_AXIS, 2, 9,
                "mean: axis -3 is out of range for rank 2 (x[4,3])");
    parse_error("input x[2]\ny = softmax(x, 1)\n", NB_ERR_AXIS, 2, 5,
                "softmax: axis 1 is out of range for rank 1 (x[2])");
    parse_error("input x\ny = softmax(x)\n", NB_ERR_AXIS, 2, 5,
                "softmax: axis -1 is out of range for rank 0 (x[])");
    parse_error("input x[2]\ny = max(x, 5, keepdims)\n", NB_ERR_AXIS, 2, 5,
                "max: axis 5 is out of range for rank 1 (x[2])");
}

Test(lang_errors, wrong_argument_counts)
{
    parse_error("input x\ny = exp(x, 1)\n", NB_ERR_FORMAT, 2, 5,
                "exp takes exp(x); got 2 arguments");
    parse_error("input x\ny = sum()\n", NB_ERR_FORMAT, 2, 5,
                "sum takes sum(x), sum(x, axis) or sum(x, axis, keepdims); got 0 arguments");
    parse_error("input x[2]\ny = sum(x, 0, keepdims, 1)\n", NB_ERR_FORMAT, 2, 5,
                "sum takes sum(x), sum(x, axis) or sum(x, axis, keepdims); got 4 arguments");
    parse_error("input x\ny = max(x)\n", NB_ERR_FORMAT, 2, 5,
                "max takes max(x, axis) or max(x, axis, keepdims); got 1 argument");
    parse_error("y = fill()\n", NB_ERR_FORMAT, 1, 5,
                "fill takes fill(value) or fill([shape], value); got 0 arguments");
    parse_error("input x[2, 2]\ny = matmul(x)\n", NB_ERR_FORMAT, 2, 5,
                "matmul takes matmul(a, b), optionally with transpose_a and/or transpose_b; got 1 "
                "argument");
    parse_error("input x\ny = pow(x)\n", NB_ERR_FORMAT, 2, 5,
                "pow takes pow(x, p); got 1 argument");
    parse_error("input x\ny = mse(x)\n", NB_ERR_FORMAT, 2, 5,
                "mse takes mse(a, b); got 1 argument");
    parse_error("input x[2]\ny = reshape(x)\n", NB_ERR_FORMAT, 2, 5,
                "reshape takes reshape(x, [shape]); got 1 argument");
    parse_error("input x\ny = softmax(x, 0, 1)\n", NB_ERR_FORMAT, 2, 5,
                "softmax takes softmax(x) or softmax(x, axis); got 3 arguments");
    parse_error("input l : i32\ny = one_hot(l)\n", NB_ERR_FORMAT, 2, 5,
                "one_hot takes one_hot(labels, classes); got 1 argument");
}

Test(lang_errors, bad_arguments)
{
    parse_error("input x[2]\ny = sum(x, keepdims)\n", NB_ERR_FORMAT, 2, 12,
                "sum: the axis must be a whole number");
    parse_error("input x[2]\ny = sum(x, 0.5)\n", NB_ERR_FORMAT, 2, 12,
                "sum: the axis must be a whole number");
    parse_error("input x[2]\ny = sum(x, x)\n", NB_ERR_FORMAT, 2, 12,
                "sum: the axis must be a whole number");
    parse_error("input x[2]\ny = sum(x, 0, 1)\n", NB_ERR_FORMAT, 2, 15,
                "sum: the third argument can only be keepdims");
    parse_error("input x[2, 2]\ny = matmul(x, x, transpose_c)\n", NB_ERR_FORMAT, 2, 18,
                "matmul: extra arguments can only be transpose_a or transpose_b");
    parse_error("input x[2]\ny = reshape(x, 2)\n", NB_ERR_FORMAT, 2, 16,
                "reshape: the shape must be a list like [4, 3]");
    parse_error("input x[2]\ny = reshape(x, [[2]])\n", NB_ERR_FORMAT, 2, 16,
                "reshape: the shape must be a list like [4, 3]");
    parse_error("input x[2]\ny = reshape(x, [2.5])\n", NB_ERR_FORMAT, 2, 16,
                "reshape: shape entries must be whole numbers");
    parse_error("input l[2] : i32\ny = one_hot(l, 2.5)\n", NB_ERR_FORMAT, 2, 16,
                "one_hot: the class count must be a whole number");
    parse_error("input x[2]\ny = fill(x)\n", NB_ERR_FORMAT, 2, 10,
                "fill: the value must be a number");
    parse_error("input x[2]\ny = fill(x, 1)\n", NB_ERR_FORMAT, 2, 10,
                "fill: the shape must be a list like [4, 3]");
    parse_error("input x\ny = exp(keepdims)\n", NB_ERR_FORMAT, 2, 9,
                "'keepdims' is not a defined name");
}

Test(lang_errors, exponent_must_be_a_number)
{
    parse_error("input x\ny = x ** x\n", NB_ERR_FORMAT, 2, 7,
                "the exponent of ** must be a number");
    parse_error("input x\ny = 2 ** x\n", NB_ERR_FORMAT, 2, 7,
                "the exponent of ** must be a number");
    parse_error("input x\ny = x ** [2]\n", NB_ERR_FORMAT, 2, 7,
                "the exponent of ** must be a number");
    parse_error("input x\ny = pow(x, x)\n", NB_ERR_FORMAT, 2, 12,
                "pow: the exponent must be a number");
}

Test(lang_errors, assignment_cannot_alias_a_node)
{
    parse_error("input x\ny = x\n", NB_ERR_FORMAT, 2, 1,
                "y = x would give 'x' a second name; write an expression that computes something");
    parse_error("param w[2] = ones\nv = (w)\n", NB_ERR_FORMAT, 2, 1,
                "v = w would give 'w' a second name; write an expression that computes something");
    parse_error("y = fill(1)\nz = y\n", NB_ERR_FORMAT, 2, 1,
                "z = y would give 'y' a second name; write an expression that computes something");
}

Test(lang_errors, long_names_are_refused)
{
    char src[512];
    memset(src, 'a', 201);
    strcpy(src + 201, " = fill(1)\n");
    parse_error(src, NB_ERR_FORMAT, 1, 1, "the name is longer than 200 characters");
    src[200] = ' '; /* 200 characters is fine */
    nb_graph *g = parse(src);
    nb_graph_free(g);
    memcpy(src, "scope ", 6);
    memset(src + 6, 's', 201);
    strcpy(src + 207, " {\n}\n");
    parse_error(src, NB_ERR_FORMAT, 1, 7, "the scope name is longer than 200 characters");
    /* the writer refuses what the parser would refuse */
    g = nb_graph_new();
    memset(src, 'n', 201);
    src[201] = '\0';
    nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), src);
    FILE *f = fopen("/dev/null", "w");
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    fclose(f);
    nb_graph_free(g);
}

Test(lang_errors, errors_after_good_lines_keep_what_was_built)
{
    nb_graph *g = nb_graph_new();
    const char *src = "input x = 2\ny = x * 3\nz = y @ y\nw = y + 1\n";
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_ERR_RANK);
    cr_assert_eq(e.line, 3);
    cr_assert_not_null(nb_graph_find(g, "y"));
    cr_assert_null(nb_graph_find(g, "w"));
    /* the engine error is also on the graph, which is now in error */
    cr_assert_eq(nb_graph_status(g), NB_ERR_RANK);
    nb_graph_free(g);
}

Test(lang_errors, bad_calls_of_the_api)
{
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(NULL, "input x", 7, NULL, &e), NB_ERR_ARG);
    cr_assert_str_eq(e.message, "no graph or no source text");
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_model_parse(g, NULL, 3, NULL, &e), NB_ERR_ARG);
    cr_assert_eq(nb_model_parse(g, NULL, 0, NULL, &e), NB_OK, "no text is an empty model");
    nb_model_options bad = { .dtype = NB_DTYPE_I32 };
    cr_assert_eq(nb_model_parse(g, "input x", 7, &bad, &e), NB_ERR_ARG);
    cr_assert_str_eq(e.message, "the model dtype must be f32 or f64");
    cr_assert_eq(e.line, 0);
    /* a graph already in error is refused, with its message */
    nb_add(g, NULL, NULL);
    nb_status st = nb_graph_status(g);
    cr_assert_neq(st, NB_OK);
    cr_assert_eq(nb_model_parse(g, "input x", 7, NULL, &e), st);
    cr_assert(strncmp(e.message, "the graph is in error: ", 23) == 0, "%s", e.message);
    nb_graph_free(g);
    cr_assert_eq(nb_model_parse_file(NULL, "x.nb", NULL, &e), NB_ERR_ARG);
}

Test(lang_errors, parse_file_on_a_missing_file_is_an_io_error)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    const char *path = "/nonexistent/dir/model.nb";
    cr_assert_eq(nb_model_parse_file(g, path, NULL, &e), NB_ERR_IO);
    cr_assert_eq(e.status, NB_ERR_IO);
    cr_assert_str_eq(e.message, "/nonexistent/dir/model.nb: cannot open");
    cr_assert_eq(e.line, 0);
    cr_assert_eq(e.column, 0);
    cr_assert_eq(nb_graph_node_count(g), 0);
    cr_assert_eq(nb_graph_status(g), NB_OK, "an unreadable file does not poison the graph");
    cr_assert_eq(nb_model_parse_file(g, path, NULL, NULL), NB_ERR_IO);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Round trip: parse, write, parse again, compare node by node              */
/* ======================================================================== */

/* Writes g's model text into a malloc'd string (caller frees). */
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

/* Runs every forward op node of g, keeping every value. */
static void run_all(nb_graph *g)
{
    size_t n = nb_graph_node_count(g), k = 0;
    nb_node **outs = calloc(n ? n : 1, sizeof *outs);
    for (size_t i = 0; i < n; i++) {
        nb_node *v = nb_graph_node(g, i);
        if (nb_node_kind(v) == NB_KIND_OP && !nb_node_is_grad(v)) {
            outs[k++] = v;
        }
    }
    if (k) {
        cr_assert_eq(nb_graph_run_ex(g, k, outs, NB_RUN_KEEP_ALL), NB_OK, "%s", nb_graph_error(g));
    }
    free(outs);
}

/*
 * Asserts that b is a copy of a's forward graph: the same nodes in the same
 * order with the same ops, names, dtypes, shapes, inputs, scopes (names, and
 * the nesting as nb_depth sees it at levels 0 to 3), leaf values bit for bit,
 * and the same forward values after a run.
 */
static void assert_same_graph(nb_graph *a, nb_graph *b)
{
    size_t n = nb_graph_node_count(a);
    cr_assert_eq(nb_graph_node_count(b), n, "%zu nodes, want %zu", nb_graph_node_count(b), n);
    run_all(a);
    run_all(b);
    for (size_t i = 0; i < n; i++) {
        nb_node *u = nb_graph_node(a, i), *v = nb_graph_node(b, i);
        const char *name = nb_node_name(u);
        cr_assert_str_eq(nb_node_name(v), name, "node %zu", i);
        cr_assert_str_eq(nb_node_op_name(v), nb_node_op_name(u), "%s", name);
        cr_assert_eq(nb_node_kind(v), nb_node_kind(u), "%s", name);
        cr_assert_eq(nb_node_dtype(v), nb_node_dtype(u), "%s", name);
        shape_is(v, nb_node_rank(u), nb_node_shape(u));
        cr_assert_eq(nb_node_arity(v), nb_node_arity(u), "%s", name);
        for (int k = 0; k < nb_node_arity(u); k++) {
            cr_assert_eq(nb_node_id(nb_node_input(v, k)), nb_node_id(nb_node_input(u, k)),
                         "%s input %d", name, k);
        }
        const char *su = nb_node_scope(u), *sv = nb_node_scope(v);
        cr_assert((su == NULL) == (sv == NULL), "%s: scope %s vs %s", name, su ? su : "-",
                  sv ? sv : "-");
        if (su) {
            cr_assert_str_eq(sv, su, "%s", name);
        }
        /* each nb_depth walks the graph: on big graphs check the last node only */
        for (int level = 0; level <= 3 && (n <= 500 || i == n - 1); level++) {
            cr_assert_eq(nb_depth(b, v, level), nb_depth(a, u, level), "%s depth at level %d", name,
                         level);
        }
        size_t bytes = nb_node_size(u) * nb_dtype_size(nb_node_dtype(u));
        const void *du = nb_node_data(u), *dv = nb_node_data(v);
        cr_assert_not_null(du, "%s has no value", name);
        cr_assert_not_null(dv, "%s has no value after the round trip", name);
        cr_assert_eq(memcmp(du, dv, bytes), 0, "%s: values differ", name);
    }
}

/* Parses src, writes it, parses the text into a fresh graph, compares; writes again. */
static void round_trip(const char *src, nb_dtype dtype)
{
    nb_graph *a = parse_as(src, dtype);
    char *text = write_model(a);
    nb_graph *b = parse_as(text, dtype);
    assert_same_graph(a, b);
    char *again = write_model(b);
    cr_assert_str_eq(again, text, "writing the copy gives other text");
    free(again);
    free(text);
    nb_graph_free(b);
    nb_graph_free(a);
}

/* Every op, both matmul forms, every reduction form, literals, folding, scopes. */
static const char every_op_model[] = "input x[2, 3] = [[0.5, -1, 2], [1.5, 0.25, -0.5]]\n"
                                     "input l[2] : i32 = [2, 0]\n"
                                     "input t[2, 3] = [[0, 1, 0], [1, 0, 1]]\n"
                                     "input bx[2, 2, 3] = 0.125\n"
                                     "param w[3, 4] = normal(0, 0.5)\n"
                                     "param b[4] = uniform(-0.1, 0.1)\n"
                                     "param v[4, 3] = xavier\n"
                                     "param u[3, 4] = he_uniform\n"
                                     "param hn[3] = he\n"
                                     "param xn[3] = xavier_normal\n"
                                     "param s = 0.75\n"
                                     "const k[3] = [1, 2, 3]\n"
                                     "const ik[2] : i32 = [1, 2]\n"
                                     "scope net {\n"
                                     "  h = tanh(x @ w + b)\n"
                                     "  scope inner {\n"
                                     "    o = matmul(h, v) - k * s / 3\n"
                                     "    e = exp(o / 4) + log(abs(o) + 1) + sqrt(abs(o))\n"
                                     "  }\n"
                                     "  r = relu(o) * sigmoid(o) + sign(o) * step(o) - neg(e)\n"
                                     "}\n"
                                     "scope net {\n"
                                     "  q = -r ** 2 + pow(e, 0.5) + x * (2 + 3 * 4)\n"
                                     "}\n"
                                     "sa = sum(q) + mean(q)\n"
                                     "s0 = sum(q, 0) + mean(q, -1, keepdims)\n"
                                     "s1 = sum(q, 1, keepdims) + mean(q, 0)\n"
                                     "mx = max(q, 1, keepdims) + max(q, 0, keepdims) * 0\n"
                                     "m1 = max(q, -1)\n"
                                     "am = argmax_mask(q, -1)\n"
                                     "ta = matmul(x, x, transpose_a)\n"
                                     "tb = matmul(x, x, transpose_b)\n"
                                     "tt = matmul(tb, tb, transpose_a, transpose_b)\n"
                                     "bm = bx @ u\n"
                                     "tr = transpose(x)\n"
                                     "rs = reshape(x, [3, -1])\n"
                                     "bt = broadcast_to(k, [2, 3])\n"
                                     "st = sum_to(q, [3])\n"
                                     "sm = softmax(q) + softmax(q, 0)\n"
                                     "ls = log_softmax(q) + log_softmax(q, 0)\n"
                                     "oh = one_hot(l, 3)\n"
                                     "ce = cross_entropy(q, l)\n"
                                     "bc = bce_logits(q, t)\n"
                                     "se = mse(q, oh)\n"
                                     "sg = sigmoid_grad(sigmoid(q), q)\n"
                                     "tg = tanh_grad(tanh(q), oh)\n"
                                     "f0 = fill(2.5)\n"
                                     "f2 = fill([2, 3], -1e-5)\n"
                                     "lit = [[1, 2, 3], [4, 5, 6]] * x + [0.1, 0.2, 0.3]\n"
                                     "pn = (x * x + 1) ** -1.5 + abs(x) ** 2 ** 0.5\n";

Test(lang_round_trip, every_op_f64)
{
    round_trip(every_op_model, NB_DTYPE_F64);
}

Test(lang_round_trip, every_op_f32)
{
    round_trip(every_op_model, NB_DTYPE_F32);
}

Test(lang_round_trip, nested_and_repeated_scopes)
{
    round_trip("input x = 1\n"
               "scope a {\n"
               "  param w = 2\n"
               "  scope b {\n"
               "    scope c {\n"
               "      y = x * w\n"
               "    }\n"
               "    y2 = y + 1\n"
               "  }\n"
               "  scope b {\n"
               "    y3 = y2 * 3\n"
               "  }\n"
               "}\n"
               "scope a {\n"
               "  z = y3 - 1\n"
               "}\n"
               "scope d {\n"
               "  const c2 = 4\n"
               "}\n"
               "out = z * c2\n",
               NB_DTYPE_F64);
}

Test(lang_round_trip, i32_constants_and_mixed_float_dtypes)
{
    /* a model of both float dtypes names every leaf's dtype, so either option reads it */
    const char *src = "input a[2] : f32 = [1.5, 0.1]\n"
                      "input x = 1\n"
                      "const k[2] : i32 = [3, -4]\n"
                      "b = a * a\n"
                      "y = x + 1\n";
    round_trip(src, NB_DTYPE_F64);
    round_trip(src, NB_DTYPE_F32);
    nb_graph *g = parse(src);
    char *text = write_model(g);
    cr_assert(strstr(text, "input a[2] : f32 = [1.5, 0.1]\n") != NULL, "%s", text);
    cr_assert(strstr(text, "input x : f64 = 1\n") != NULL, "%s", text);
    cr_assert(strstr(text, "const k[2] : i32 = [3, -4]\n") != NULL, "%s", text);
    free(text);
    nb_graph_free(g);
}

Test(lang_round_trip, the_example_models)
{
    const char *files[] = { "figure_1_3.nb",        "xor.nb",        "mlp.nb",
                            "second_derivative.nb", "iris_train.nb", "rnn_unrolled.nb",
                            "names_lstm.nb" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/models/%s", NB_SOURCE_DIR, files[i]);
        nb_graph *a = nb_graph_new();
        nb_parse_error e;
        cr_assert_eq(nb_model_parse_file(a, path, NULL, &e), NB_OK, "%s:%d:%d: %s", files[i],
                     e.line, e.column, e.message);
        char *text = write_model(a);
        nb_graph *b = parse(text);
        assert_same_graph(a, b);
        char *again = write_model(b);
        cr_assert_str_eq(again, text, "%s", files[i]);
        free(again);
        free(text);
        nb_graph_free(b);
        nb_graph_free(a);
    }
}

Test(lang_round_trip, written_text_is_readable_and_exact)
{
    nb_graph *g = parse("input x[2] = [1, -2]\n"
                        "input l[2] : i32 = [1, 0]\n"
                        "param w[2, 2] = [[0.5, 0.1], [1e-20, -3]]\n"
                        "const c = 2.5\n"
                        "scope logistic_regression {\n"
                        "  y = sigmoid(sum(w * x, -1, keepdims))\n"
                        "}\n"
                        "z = y * c\n"
                        "m = matmul(w, w, transpose_b)\n"
                        "p = x ** 0.5\n");
    char *text = write_model(g);
    const char *want = "# written by nabla " NB_VERSION_STRING "; read it back with dtype f64\n"
                       "input x[2] = [1, -2]\n"
                       "input l[2] : i32 = [1, 0]\n"
                       "param w[2, 2] = [[0.5, 0.1], [1e-20, -3]]\n"
                       "const c = 2.5\n"
                       "scope logistic_regression {\n"
                       "  mul_1 = w * x\n"
                       "  sum_1 = sum(mul_1, 1, keepdims)\n"
                       "  y = sigmoid(sum_1)\n"
                       "}\n"
                       "z = y * c\n"
                       "m = matmul(w, w, transpose_b)\n"
                       "p = x ** 0.5\n";
    cr_assert_str_eq(text, want);
    free(text);
    nb_graph_free(g);
}

Test(lang_round_trip, leaves_keep_their_current_values)
{
    nb_graph *g = parse("input x[2]\nparam w[2] = zeros\ny = sum(w * x)\n");
    const double xs[2] = { 0.1, 1.0 / 3.0 }, ws[2] = { -2.5e-300, 6.02214076e23 };
    nb_node_write_f64(g, node(g, "x"), xs, 2);
    nb_node_write_f64(g, node(g, "w"), ws, 2);
    char *text = write_model(g);
    nb_graph *b = parse(text);
    assert_same_graph(g, b);
    cr_assert_eq(((const double *)nb_node_data(node(b, "x")))[1], 1.0 / 3.0);
    free(text);
    nb_graph_free(b);
    nb_graph_free(g);
}

Test(lang_round_trip, graphs_built_with_the_c_api)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "x");
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_normal(0, 1)), "w");
    nb_node *lab = nb_input(g, NB_DTYPE_I32, NB_SHAPE(2));
    nb_scope_push(g, "body");
    nb_node *y = nb_mul(g, x, w);
    nb_scope_push(g, "deeper");
    nb_node *z = nb_sum_axis(g, nb_exp(g, y), 0, true);
    nb_scope_pop(g);
    nb_scope_pop(g);
    nb_node *loss = nb_node_set_name(
        g, nb_sum(g, nb_add(g, z, nb_fill(g, NB_DTYPE_F64, NB_SHAPE(1, 3), 0.5))), "loss");
    nb_node *ce = nb_cross_entropy(g, x, lab);
    /* gradient nodes are left out; forward nodes built after them are kept */
    nb_node *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK);
    nb_node *after = nb_node_set_name(g, nb_mul(g, loss, ce), "after");
    cr_assert_not_null(after);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));

    char *text = write_model(g);
    nb_graph *b = parse(text);
    /* the copy has the forward nodes only, in the same order */
    size_t n = nb_graph_node_count(g), k = 0;
    for (size_t i = 0; i < n; i++) {
        nb_node *u = nb_graph_node(g, i);
        if (nb_node_is_grad(u)) {
            continue;
        }
        nb_node *v = nb_graph_node(b, k++);
        cr_assert_not_null(v);
        cr_assert_str_eq(nb_node_name(v), nb_node_name(u));
        cr_assert_str_eq(nb_node_op_name(v), nb_node_op_name(u));
    }
    cr_assert_eq(nb_graph_node_count(b), k);
    cr_assert(strstr(text, "grad") == NULL, "gradient nodes written:\n%s", text);
    cr_assert_str_eq(nb_node_scope(nb_graph_find(b, nb_node_name(z))), "deeper");
    free(text);
    nb_graph_free(b);
    nb_graph_free(g);
}

Test(lang_round_trip, write_errors)
{
    FILE *f = fopen("/dev/null", "w");
    cr_assert_not_null(f);

    /* a name that is not an identifier */
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "my x");
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "model_write(my x[2]): the name 'my x' is not a name the "
                                        "model language accepts");
    cr_assert_eq(nb_graph_status(g), NB_OK, "a write error is not sticky");
    nb_node_set_name(g, x, "sum");
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "model_write(sum[2]): the name 'sum' is not a name the "
                                        "model language accepts");
    nb_node_set_name(g, x, "x");
    cr_assert_eq(nb_model_write(g, f), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");

    /* two nodes with one name */
    nb_node *y = nb_node_set_name(g, nb_exp(g, x), "x");
    cr_assert_not_null(y);
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "model_write: two nodes are named 'x'; names must be unique to be written");
    nb_graph_free(g);

    /* a forward node that consumes a gradient node */
    g = nb_graph_new();
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1)), "w");
    nb_node *loss = nb_node_set_name(g, nb_sum(g, nb_mul(g, w, w)), "loss");
    nb_node *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK);
    nb_node *update = nb_node_set_name(g, nb_sub(g, w, dw), "update");
    cr_assert_not_null(update);
    char want[256];
    snprintf(want, sizeof want,
             "model_write(update[2], %s[2]): update uses the gradient node %s; only forward graphs "
             "can be written",
             nb_node_name(dw), nb_node_name(dw));
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), want);
    nb_graph_free(g);

    /* a value the language cannot write */
    g = nb_graph_new();
    w = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1)), "w");
    const double bad[2] = { 1, INFINITY };
    nb_node_write_f64(g, w, bad, 2);
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "model_write(w[2]): w holds inf; the model language has no literal for it");
    nb_graph_free(g);

    /* a scope name that is not an identifier */
    g = nb_graph_new();
    nb_scope_push(g, "my scope");
    nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), "x");
    nb_scope_pop(g);
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "model_write: the scope name 'my scope' is not a name the "
                                        "model language accepts");
    nb_graph_free(g);

    /* a fill of another dtype than the model's */
    g = nb_graph_new();
    nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), "x");
    nb_node_set_name(g, nb_fill(g, NB_DTYPE_F32, 0, NULL, 1), "f");
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "model_write(f[]): f is f32 but the model is f64; the "
                                        "language builds fill in the model's dtype");
    nb_graph_free(g);

    /* an unnamed node whose generated name a model already uses */
    g = parse("input x = 2\na = x * x\nmul_2 = x + 1\ny = sum(x * x)\n");
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(
        nb_graph_error(g),
        "model_write: two nodes are named 'mul_2'; names must be unique to be written");
    nb_graph_free(g);

    /* bad arguments; a graph in error; a stream that fails */
    g = nb_graph_new();
    cr_assert_eq(nb_model_write(NULL, f), NB_ERR_ARG);
    cr_assert_eq(nb_model_write(g, NULL), NB_ERR_ARG);
    fclose(f);
    nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), "x");
    FILE *ro = fopen("/dev/null", "r");
    cr_assert_eq(nb_model_write(g, ro), NB_ERR_IO);
    cr_assert_str_eq(nb_graph_error(g), "model_write: writing the model failed");
    fclose(ro);
    nb_add(g, NULL, NULL);
    f = fopen("/dev/null", "w");
    cr_assert_eq(nb_model_write(g, f), nb_graph_status(g));
    fclose(f);
    nb_graph_free(g);
}

/* ======================================================================== */
/* The book's figure 1.3                                                    */
/* ======================================================================== */

Test(lang, figure_1_3_depth_and_gradient,
     .description = "y = sigmoid(sum(w * x)) in scope logistic_regression: depth 3 and 1")
{
    nb_graph *g = parse("input x[3] = [1, 2, 3]\n"
                        "param w[3] = [0.1, -0.2, 0.3]\n"
                        "scope logistic_regression {\n"
                        "  y = sigmoid(sum(w * x))\n"
                        "}\n");
    nb_node *x = node(g, "x"), *w = node(g, "w"), *y = node(g, "y");
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), 3);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_SCOPES), 1);
    nb_node *path[8];
    cr_assert_eq(nb_depth_path(g, y, NB_DEPTH_OPS, path, 8), 4);
    cr_assert_eq(path[0], w);
    cr_assert_str_eq(nb_node_op_name(path[1]), "mul");
    cr_assert_str_eq(nb_node_op_name(path[2]), "sum");
    cr_assert_eq(path[3], y);
    cr_assert_str_eq(nb_node_scope(path[1]), "logistic_regression");
    cr_assert_null(nb_node_scope(x));

    nb_node *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK);
    nb_node *outs[2] = { y, dw };
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_OK, "%s", nb_graph_error(g));
    /* w . x = 0.1 - 0.4 + 0.9 = 0.6; dy/dw = y (1 - y) x */
    double s = sigmoid(0.1 * 1 - 0.2 * 2 + 0.3 * 3);
    cr_assert_float_eq(*(const double *)nb_node_data(y), s, 1e-15);
    const double *d = nb_node_data(dw);
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(d[i], s * (1 - s) * (i + 1), 1e-15, "dy/dw[%d]", i);
    }
    cr_assert_str_eq(nb_node_scope(dw), "grad:logistic_regression");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Robustness: deep nesting and long models                                 */
/* ======================================================================== */

Test(lang_robust, ten_thousand_nested_parentheses, .timeout = 60)
{
    text t = { 0 };
    put(&t, "input x = 3\ny = ");
    put_n(&t, "(", 10000);
    put(&t, "x");
    put_n(&t, ")", 10000);
    put(&t, " * 2\nz = ");
    put_n(&t, "exp(", 10000);
    put(&t, "x - 3");
    put_n(&t, ")", 10000);
    put(&t, "\nw = ");
    put_n(&t, "-", 10001);
    put(&t, "x\n");
    double t0 = now();
    nb_graph *g = parse(t.s);
    cr_assert(now() - t0 < 10, "took %.1f s", now() - t0);
    cr_assert_eq(scalar(g, "y"), 6);
    /* exp(exp(...exp(0))) grows fast; only check the depth of the chain */
    cr_assert_eq(nb_depth(g, node(g, "z"), NB_DEPTH_OPS), 10001);
    cr_assert_eq(scalar(g, "w"), -3);
    nb_graph_free(g);
    free(t.s);
}

Test(lang_robust, ten_thousand_chained_statements, .timeout = 60)
{
    text t = { 0 };
    put(&t, "input x = 0.5\ny0 = x + 1\n");
    char line[64];
    for (int i = 1; i < 10000; i++) {
        snprintf(line, sizeof line, "y%d = y%d + 1\n", i, i - 1);
        put(&t, line);
    }
    double t0 = now();
    nb_graph *g = parse(t.s);
    cr_assert(now() - t0 < 10, "took %.1f s", now() - t0);
    cr_assert_eq(scalar(g, "y9999"), 10000.5);
    cr_assert_eq(nb_depth(g, node(g, "y9999"), NB_DEPTH_OPS), 10000);
    char *out = write_model(g);
    nb_graph *b = parse(out);
    cr_assert_eq(nb_graph_node_count(b), nb_graph_node_count(g));
    free(out);
    nb_graph_free(b);
    nb_graph_free(g);
    free(t.s);
}

Test(lang_robust, thousand_nested_scopes_round_trip, .timeout = 60)
{
    text t = { 0 };
    put(&t, "input x = 1\n");
    char line[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(line, sizeof line, "scope s%d {\n  a%d = x * %d\n", i, i, i + 1);
        put(&t, line);
    }
    put_n(&t, "}\n", 1000);
    put(&t, "top = a999 + a0\n");
    double t0 = now();
    nb_graph *g = parse(t.s);
    cr_assert(now() - t0 < 10, "took %.1f s", now() - t0);
    cr_assert_str_eq(nb_node_scope(node(g, "a999")), "s999");
    cr_assert_str_eq(nb_node_scope(node(g, "a0")), "s0");
    cr_assert_null(nb_node_scope(node(g, "top")));
    cr_assert_eq(scalar(g, "top"), 1001);
    /* a0 and a999 both sit in the outermost scope instance s0: one element */
    cr_assert_eq(nb_depth(g, node(g, "top"), NB_DEPTH_SCOPES), 2);
    char *out = write_model(g);
    nb_graph *b = parse(out);
    assert_same_graph(g, b);
    char *again = write_model(b);
    cr_assert_str_eq(again, out);
    free(again);
    free(out);
    nb_graph_free(b);
    nb_graph_free(g);
    free(t.s);
}

Test(lang_robust, deep_nesting_errors_are_clean_and_quick, .timeout = 60)
{
    text t = { 0 };
    put(&t, "input x\ny = ");
    put_n(&t, "(", 100000);
    put(&t, "x\n");
    double t0 = now();
    parse_error(t.s, NB_ERR_FORMAT, 2, 100004, "this '(' is not closed: a ')' is missing");

    t.len = 0;
    put(&t, "input x = ");
    put_n(&t, "[", 100000);
    parse_error(t.s, NB_ERR_FORMAT, 1, 15, "lists nest deeper than rank 4");

    t.len = 0;
    put(&t, "input x\ny = x");
    put_n(&t, ")", 100000);
    parse_error(t.s, NB_ERR_FORMAT, 2, 6, "unmatched ')'");

    t.len = 0;
    put_n(&t, "scope s {\n", 100000);
    parse_error(t.s, NB_ERR_FORMAT, 100000, 9, "this scope is not closed: a '}' is missing");

    t.len = 0;
    put(&t, "input x\ny = x");
    put_n(&t, " ** 1", 100000);
    put(&t, "\n");
    nb_graph *g = parse(t.s);
    op_is(node(g, "y"), "pow");
    cr_assert_eq(nb_graph_node_count(g), 2, "1 ** 1 ** ... folds to one exponent");
    nb_graph_free(g);
    cr_assert(now() - t0 < 20, "took %.1f s", now() - t0);
    free(t.s);
}

/* An allocator that fails the k-th allocation and every later one, counting live bytes. */
typedef struct budget {
    size_t allocs, fail_at; /* fail_at 0: never */
    long long live;
} budget;

static void *budget_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    budget *b = user;
    if (new_size == 0) {
        b->live -= ptr ? (long long)old_size : 0;
        free(ptr);
        return NULL;
    }
    if (b->fail_at && ++b->allocs >= b->fail_at) {
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (q) {
        b->live += (long long)new_size - (ptr ? (long long)old_size : 0);
    }
    return q;
}

Test(lang_robust, out_of_memory_at_every_allocation_is_clean, .timeout = 120,
     .description = "parse and write fail the k-th allocation for every k: NB_ERR_NOMEM, no leak")
{
    const char *src = "input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                      "input l[2] : i32 = [0, 2]\n"
                      "param w[3, 4] = normal(0, 1)\n"
                      "scope net {\n"
                      "  scope inner {\n"
                      "    h = tanh(x @ w + [1, 2, 3, 4])\n"
                      "  }\n"
                      "}\n"
                      "loss = cross_entropy(h @ transpose(w), l) + sum(fill([2], 1 + 1))\n";
    bool parsed = false, written = false;
    for (size_t k = 1; k < 100000 && !(parsed && written); k++) {
        budget b = { .fail_at = k };
        nb_graph *g = nb_graph_new_with_allocator(budget_alloc, &b);
        if (g) {
            nb_parse_error e;
            nb_status s = nb_model_parse(g, src, strlen(src), NULL, &e);
            cr_assert(s == NB_OK || s == NB_ERR_NOMEM, "k=%zu: %s: %s", k, nb_status_string(s),
                      e.message);
            if (s == NB_ERR_NOMEM) {
                cr_assert_eq(e.status, NB_ERR_NOMEM);
            } else {
                parsed = true;
                char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);
                nb_status w = nb_model_write(g, f);
                fclose(f);
                cr_assert(w == NB_OK || w == NB_ERR_NOMEM, "k=%zu: write: %s", k,
                          nb_graph_error(g));
                written = w == NB_OK;
                free(text);
            }
        }
        nb_graph_free(g);
        cr_assert_eq(b.live, 0, "k=%zu: %lld bytes leaked", k, b.live);
    }
    cr_assert(parsed && written);
}

/* ======================================================================== */
/* examples/models                                                          */
/* ======================================================================== */

static nb_graph *parse_example(const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/models/%s", NB_SOURCE_DIR, file);
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse_file(g, path, NULL, &e), NB_OK, "%s:%d:%d: %s", file, e.line,
                 e.column, e.message);
    return g;
}

Test(lang_examples, every_model_parses_and_has_a_comment_header)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/examples/models", NB_SOURCE_DIR);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int count = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 4 || strcmp(ent->d_name + n - 3, ".nb") != 0) {
            continue;
        }
        count++;
        nb_graph *g = parse_example(ent->d_name);
        cr_assert_gt(nb_graph_node_count(g), 0, "%s", ent->d_name);
        nb_graph_free(g);
        /* the header: a first line "# <file name>: what it is" */
        char path[1200], first[256] = "", want[300];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(first, sizeof first, f));
        fclose(f);
        snprintf(want, sizeof want, "# %s: ", ent->d_name);
        cr_assert(strncmp(first, want, strlen(want)) == 0, "%s starts with: %s", ent->d_name,
                  first);
    }
    closedir(d);
    cr_assert_geq(count, 5, "only %d models in %s", count, dir);
}

Test(lang_examples, figure_1_3_states_depth_3_and_1)
{
    nb_graph *g = parse_example("figure_1_3.nb");
    nb_node *y = node(g, "y"), *w = node(g, "w"), *dw;
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), 3);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_SCOPES), 1);
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK);
    nb_node *outs[2] = { y, dw };
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_OK);
    /* the header: y = sigmoid(0.6) = 0.64565630622579540, dy/dw = 0.22878424045665 [1, 2, 3] */
    double s = *(const double *)nb_node_data(y);
    cr_assert_float_eq(s, 0.64565630622579540, 1e-16);
    cr_assert_float_eq(s, sigmoid(0.6), 1e-15);
    const double *d = nb_node_data(dw);
    cr_assert_float_eq(d[0], 0.22878424045665, 1e-14);
    cr_assert_float_eq(d[2], 3 * s * (1 - s), 1e-15);
    nb_graph_free(g);
}

Test(lang_examples, xor_loss_is_exactly_zero, .description = "the book's 6.1 solution fits XOR")
{
    nb_graph *g = parse_example("xor.nb");
    cr_assert_eq(scalar(g, "loss"), 0.0);
    VALUES(g, "f", 0, 0, 1, 1, 0);
    VALUES(g, "h", 0, 0, 0, 1, 0, 1, 0, 2, 1);
    nb_node *loss = node(g, "loss");
    cr_assert_eq(nb_depth(g, loss, NB_DEPTH_OPS), 6);
    cr_assert_eq(nb_depth(g, loss, NB_DEPTH_SCOPES), 3);
    /* at an exact fit every parameter's gradient is zero */
    const char *names[4] = { "W", "c", "w", "b" };
    nb_node *params[4], *grads[4];
    for (int i = 0; i < 4; i++) {
        params[i] = node(g, names[i]);
    }
    cr_assert_eq(nb_grad(g, loss, 4, params, grads), NB_OK);
    cr_assert_eq(nb_graph_run(g, 4, grads), NB_OK);
    for (int i = 0; i < 4; i++) {
        const double *d = nb_node_data(grads[i]);
        for (size_t k = 0; k < nb_node_size(grads[i]); k++) {
            cr_assert_eq(d[k], 0.0, "d loss / d %s[%zu] = %g", names[i], k, d[k]);
        }
    }
    nb_graph_free(g);
}

Test(lang_examples, mlp_loss_and_gradient_match_pytorch)
{
    nb_graph *g = parse_example("mlp.nb");
    cr_assert_eq(nb_node_dtype(node(g, "labels")), NB_DTYPE_I32);
    SHAPE_IS(node(g, "logits"), 4, 3);
    /* PyTorch 1.13, float64: F.cross_entropy(relu(x @ W1 + b1) @ W2 + b2, labels)
       with the literals of examples/models/mlp.nb (as stated in its header) */
    cr_assert_float_eq(scalar(g, "loss"), 0.96683988351476047, 1e-15);
    VALUES(g, "probs", 1e-15, 0.39969038460749162, 0.32560669921593921, 0.27470291617656922,
           0.27671799054932894, 0.36796907633057446, 0.35531293312009660, 0.31521174195645063,
           0.47974015313729901, 0.20504810490625039, 0.39810980545971958, 0.29492699771661429,
           0.30696319682366607);
    nb_node *loss = node(g, "loss"), *wrt[2] = { node(g, "b2"), node(g, "W2") }, *grads[2];
    cr_assert_eq(nb_grad(g, loss, 2, wrt, grads), NB_OK);
    cr_assert_eq(nb_graph_run(g, 2, grads), NB_OK);
    const double db2[3] = { 0.097432480643247707, 0.11706073160010673, -0.21449321224335444 };
    const double dW2[12] = { -0.0012193974286787768, 0.14816386608503748,   -0.14694446865635871,
                             0.055162054842378863,   -0.091045473200972671, 0.035883418358593808,
                             0.041507698582399347,   0.055195361449586179,  -0.096703060031985519,
                             -0.036013657536012114,  -0.015395231024476945, 0.051408888560489072 };
    const double *g0 = nb_node_data(grads[0]), *g1 = nb_node_data(grads[1]);
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(g0[i], db2[i], 1e-15, "db2[%d]", i);
    }
    for (int i = 0; i < 12; i++) {
        cr_assert_float_eq(g1[i], dW2[i], 1e-15, "dW2[%d]", i);
    }
    cr_assert_eq(nb_depth(g, loss, NB_DEPTH_SCOPES), 3);
    nb_graph_free(g);
}

Test(lang_examples, second_derivative_of_x_cubed, .description = "x^3 at 2: 8, 12, 12, 6")
{
    nb_graph *g = parse_example("second_derivative.nb");
    nb_node *x = node(g, "x"), *y = node(g, "y"), *dx, *ddx, *dddx, *ddy;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK);
    cr_assert_eq(nb_grad(g, dx, 1, &x, &ddx), NB_OK);
    cr_assert_eq(nb_grad(g, ddx, 1, &x, &dddx), NB_OK);
    nb_node *dy = node(g, "dy");
    cr_assert_eq(nb_grad(g, dy, 1, &x, &ddy), NB_OK);
    nb_node *outs[5] = { y, dx, ddx, dddx, ddy };
    cr_assert_eq(nb_graph_run(g, 5, outs), NB_OK, "%s", nb_graph_error(g));
    const double want[5] = { 8, 12, 12, 6, 12 };
    for (int i = 0; i < 5; i++) {
        cr_assert_float_eq(*(const double *)nb_node_data(outs[i]), want[i], 1e-13, "output %d", i);
    }
    cr_assert_eq(scalar(g, "dy"), 12);
    /* z = x e^x: z'' = (x + 2) e^x = 4 e^2 at 2 */
    nb_node *z = node(g, "z"), *dz, *ddz;
    cr_assert_eq(nb_grad(g, z, 1, &x, &dz), NB_OK);
    cr_assert_eq(nb_grad(g, dz, 1, &x, &ddz), NB_OK);
    run(g, ddz);
    cr_assert_float_eq(*(const double *)nb_node_data(ddz), 4 * exp(2), 1e-13);
    nb_graph_free(g);
}

Test(lang_examples, iris_train_is_batch_shaped)
{
    nb_graph *g = parse_example("iris_train.nb");
    nb_node *x = node(g, "x"), *y = node(g, "y"), *loss = node(g, "loss");
    SHAPE_IS(x, 10, 4);
    cr_assert_eq(nb_node_kind(x), NB_KIND_INPUT);
    SHAPE_IS(y, 10);
    cr_assert_eq(nb_node_dtype(y), NB_DTYPE_I32);
    SHAPE_IS(node(g, "logits"), 10, 3);
    cr_assert_eq(nb_node_rank(loss), 0);
    /* inputs start at zero and biases at zero, so every logit is 0: loss = log 3 */
    cr_assert_float_eq(scalar(g, "loss"), log(3), 1e-15);
    /* four parameters, all trainable: 4*16 + 16 + 16*3 + 3 values */
    size_t n = nb_graph_node_count(g), params = 0, values = 0;
    for (size_t i = 0; i < n; i++) {
        nb_node *v = nb_graph_node(g, i);
        if (nb_node_kind(v) == NB_KIND_PARAM) {
            params++;
            values += nb_node_size(v);
        }
    }
    cr_assert_eq(params, 4);
    cr_assert_eq(values, 64 + 16 + 48 + 3);
    nb_graph_free(g);
}

Test(lang_expression, node_expression_spells_ops_with_their_attributes,
     .description = "nb_node_expression gives the model-language text of an op node")
{
    const char *src = "input x[2, 3]\n"
                      "param w[3, 2] = ones\n"
                      "a = sum(x, 1, keepdims)\n"
                      "b = x ** -1.5\n"
                      "c = matmul(x, w, transpose_a, transpose_b)\n"
                      "d = -x\n"
                      "e = x @ w\n"
                      "f = softmax(x)\n";
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_OK, "%s", err.message);
    const char *want[][2] = {
        { "a", "sum(x, 1, keepdims)" },
        { "b", "x ** -1.5" },
        { "c", "matmul(x, w, transpose_a, transpose_b)" },
        { "d", "-x" },
        { "e", "x @ w" },
        { "f", "softmax(x, 1)" },
        { "x", "" },
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char buf[128];
        size_t len = nb_node_expression(nb_graph_find(g, want[i][0]), buf, sizeof buf);
        cr_expect_str_eq(buf, want[i][1], "%s", want[i][0]);
        cr_expect_eq(len, strlen(want[i][1]));
    }
    char small[6];
    nb_node_expression(nb_graph_find(g, "a"), small, sizeof small);
    cr_expect_str_eq(small, "sum(x", "truncated to the buffer, NUL-terminated");
    nb_graph_free(g);
}

Test(errors, misspelt_words_get_a_suggestion,
     .description = "keywords, functions, argument names and node names: did you mean ...?")
{
    parse_error("inptu x[3]\n", NB_ERR_FORMAT, 1, 1,
                "unknown keyword 'inptu'; did you mean 'input'?");
    parse_error("input x[3]\nparm w[3] = zeros\n", NB_ERR_FORMAT, 2, 1,
                "unknown keyword 'parm'; did you mean 'param'?");
    parse_error("input x[3]\nscop s {\n", NB_ERR_FORMAT, 2, 1,
                "unknown keyword 'scop'; did you mean 'scope'?");
    parse_error("input x[3]\ny = sigmod(x)\n", NB_ERR_FORMAT, 2, 5,
                "unknown function 'sigmod'; did you mean 'sigmoid'?");
    parse_error("input x[3]\ny = Relu(x)\n", NB_ERR_FORMAT, 2, 5,
                "unknown function 'Relu'; did you mean 'relu'?");
    parse_error("input x[3]\ny = layernorm(x)\n", NB_ERR_FORMAT, 2, 5,
                "unknown function 'layernorm'; did you mean 'layer_norm'?");
    parse_error("input x[3]\nparam weight[3] = zeros\ny = wieght * x\n", NB_ERR_FORMAT, 3, 5,
                "'wieght' is not a defined name; did you mean 'weight'?");
    /* nothing close: no suggestion, and one or two letters are never a typo of another */
    parse_error("input x[3]\ny = frobnicate(x)\n", NB_ERR_FORMAT, 2, 5,
                "unknown function 'frobnicate'");
    parse_error("input x[3]\ny = z + x\n", NB_ERR_FORMAT, 2, 5, "'z' is not a defined name");
    parse_error("input x[3]\ny x\n", NB_ERR_FORMAT, 2, 3, "expected '=', found 'x'");
}
