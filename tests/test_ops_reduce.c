/*
 * tests/test_ops_reduce.c: reductions over lists of axes (sum, mean, max, min,
 * logsumexp, var, argmax_mask) beyond the case table: the exact error
 * messages, the model language's forms old and new, the model writer's round
 * trip, DOT labels, Hessian-vector products against finite differences, and
 * the conventions the table cannot show (ties, NaN, infinities, N - c <= 0).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* A float64 input named name holding values (nb_node_size(x) of them). */
static nb_node *input(nb_graph *g, const char *name, int rank, const int64_t *shape,
                      const double *values)
{
    nb_node *x = nb_input(g, NB_DTYPE_F64, rank, shape);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    cr_assert_not_null(nb_node_set_name(g, x, name));
    cr_assert_eq(nb_node_write_f64(g, x, values, nb_node_size(x)), NB_OK);
    return x;
}

/* The 24 values of the case table's [2,3,4] rows, distinct. */
static const double X24[24] = { -1.93, 1.66, 1.08, 0.61,  -2.68, 1.04,  0.7,   -0.9,
                                -2.3,  2.18, 0.6,  -2.49, 1.31,  -2.59, 2.33,  -2.56,
                                -2,    1.86, 1.23, -0.66, -0.85, -2.07, -0.94, 1.13 };

/* Runs y and reads its n values into out. */
static void eval(nb_graph *g, nb_node *y, double *out, size_t n)
{
    cr_assert_not_null(y, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_size(y), n, "%s has %zu values, want %zu", nb_node_name(y),
                 nb_node_size(y), n);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, y, out, n), NB_OK);
}

/* Asserts the build failed with status and the exact message. */
static void fails_with(nb_graph *g, nb_node *y, nb_status status, const char *message)
{
    cr_assert_null(y);
    cr_assert_eq(nb_graph_status(g), status, "status %s: %s", nb_status_string(nb_graph_status(g)),
                 nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), message);
}

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    nb_status s = nb_model_parse(g, src, strlen(src), NULL, &e);
    cr_assert_eq(s, NB_OK, "parse failed at %d:%d: %s\n%s", e.line, e.column, e.message, src);
    return g;
}

static void parse_fails(const char *src, nb_status status, int line, int col, const char *message)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), status, "%s", e.message);
    cr_assert_eq(e.line, line);
    cr_assert_eq(e.column, col, "column %d, want %d: %s", e.column, col, e.message);
    cr_assert_str_eq(e.message, message);
    nb_graph_free(g);
}

static nb_node *find(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    return n;
}

/* Asserts node name of g is written as expr. */
static void expression_is(nb_graph *g, const char *name, const char *expr)
{
    char buf[160];
    nb_node_expression(find(g, name), buf, sizeof buf);
    cr_assert_str_eq(buf, expr, "%s = %s, want %s", name, buf, expr);
}

static void expect_values(const double *got, const double *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        cr_expect(fabs(got[i] - want[i]) <= tol * fmax(1, fabs(want[i])),
                  "[%zu] = %.17g, want %.17g", i, got[i], want[i]);
    }
}

/* ---- errors ---- */

Test(reduce_errors, an_axis_listed_twice,
     .description = "sum over [0, -3] of x[2,3,4] names axis 0 twice: NB_ERR_AXIS")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    size_t before = nb_graph_node_count(g);
    fails_with(g, nb_sum_axes(g, x, 2, (const int[]){ 0, -3 }, false), NB_ERR_AXIS,
               "sum(x[2,3,4]): axis 0 appears twice in the axes [0, -3]");
    cr_expect_eq(nb_graph_node_count(g), before, "a failed build adds no node");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_var_axes(g, x, 4, (const int[]){ 1, 2, 1, 0 }, true, 0), NB_ERR_AXIS,
               "var(x[2,3,4]): axis 1 appears twice in the axes [1, 2, 1, ...]");
    nb_graph_free(g);
}

Test(reduce_errors, an_axis_out_of_range,
     .description = "max over [0, 3] and min over [-4] of x[2,3,4]: NB_ERR_AXIS")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_max_axes(g, x, 2, (const int[]){ 0, 3 }, false), NB_ERR_AXIS,
               "max(x[2,3,4]): axis 3 is out of range for rank 3");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_min_axis(g, x, -4, true), NB_ERR_AXIS,
               "min(x[2,3,4]): axis -4 is out of range for rank 3");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_logsumexp(g, x, 3, false), NB_ERR_AXIS,
               "logsumexp(x[2,3,4]): axis 3 is out of range for rank 3");
    nb_graph_free(g);
}

Test(reduce_errors, bad_counts_and_arguments,
     .description = "a negative count, NULL axes, a NaN correction, an argmax_mask of no axes, "
                    "an i32 input")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_mean_axes(g, x, -1, (const int[]){ 0 }, false), NB_ERR_ARG,
               "mean(x[2,3,4]): the number of axes is -1");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_sum_axes(g, x, 2, NULL, false), NB_ERR_ARG,
               "sum(x[2,3,4]): axes is NULL with 2 axes");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_var(g, x, 0, false, NAN), NB_ERR_ARG, "var(x[2,3,4]): the correction is NaN");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    fails_with(g, nb_argmax_mask_axes(g, x, 0, NULL), NB_ERR_AXIS,
               "argmax_mask(x[2,3,4]): no axes given");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_node *l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(3));
    nb_node_set_name(g, l, "l");
    fails_with(g, nb_logsumexp_axes(g, l, 0, NULL, false), NB_ERR_DTYPE,
               "logsumexp(l[3]): input 1 is i32; this op needs f32 or f64 inputs");
    nb_graph_free(g);
}

Test(reduce_errors, in_the_language,
     .description = "a repeated axis, a bad list and an unknown keyword, with their places")
{
    parse_fails("input x[2, 3]\ny = sum(x, [0, -2])\n", NB_ERR_AXIS, 2, 5,
                "sum: axis 0 appears twice in the axes [0, -2] (x[2,3])");
    parse_fails("input x[2, 3]\ny = var(x, [0, 2])\n", NB_ERR_AXIS, 2, 5,
                "var: axis 2 is out of range for rank 2 (x[2,3])");
    parse_fails("input x[2, 3]\ny = max(x, [0.5])\n", NB_ERR_FORMAT, 2, 12,
                "max: axes must be a whole number or a list of at most 8 of them, like [0, 2]");
    parse_fails("input x[2, 3]\ny = mean(x, axis=1)\n", NB_ERR_FORMAT, 2, 18,
                "mean has no argument 'axis' (did you mean 'axes'?); it takes mean(x, axes=[], "
                "keepdims=false)");
    parse_fails("input x[2, 3]\ny = var(x, 1, correction=1, correction=0)\n", NB_ERR_FORMAT, 2, 40,
                "var: correction is given twice");
}

/* ---- the model language ---- */

Test(reduce_lang, list_positional_and_keyword_forms_are_one_node,
     .description = "sum(x, [0, 2], keepdims), sum(x, axes=[2, 0], keepdims=true) and "
                    "sum(x, [-1, 0], true) make the same node, written one way")
{
    nb_graph *g = parse("input x[2, 3, 4]\n"
                        "a = sum(x, [0, 2], keepdims)\n"
                        "b = sum(x, axes=[2, 0], keepdims=true)\n"
                        "c = sum(x, [-1, 0], true)\n"
                        "d = sum(x, 1, keepdims=false)\n"
                        "e = mean(x, [0, 2])\n"
                        "f = mean(x, axes=[1])\n"
                        "m = max(x, [1, 2])\n"
                        "k = max(x, axes=[0, 1], keepdims=true)\n"
                        "s = sum(x, keepdims=true)\n");
    const char *abc[] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) {
        expression_is(g, abc[i], "sum(x, [0, 2], keepdims)");
        cr_expect_str_eq(nb_node_op_name(find(g, abc[i])), "sum");
        cr_expect_eq(nb_node_rank(find(g, abc[i])), 3);
        cr_expect_eq(nb_node_shape(find(g, abc[i]))[1], 3);
    }
    expression_is(g, "d", "sum(x, 1)");
    expression_is(g, "e", "mean(x, [0, 2])");
    expression_is(g, "f", "mean(x, 1)");
    expression_is(g, "m", "max(x, [1, 2])");
    expression_is(g, "k", "max(x, [0, 1], keepdims)");
    expression_is(g, "s", "sum(x, keepdims=true)");
    cr_expect_eq(nb_node_rank(find(g, "s")), 3);
    nb_graph_free(g);
}

Test(reduce_lang, old_forms_are_unchanged,
     .description = "sum(x), sum(x, 1), sum(x, -1, keepdims), mean(x, 0), max(x, 1, keepdims) "
                    "read and write as before")
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "a = sum(x)\nb = sum(x, 1)\nc = sum(x, -1, keepdims)\n"
                        "d = mean(x, 0)\ne = max(x, 1, keepdims)\nf = argmax_mask(x, 0)\n");
    expression_is(g, "a", "sum(x)");
    expression_is(g, "b", "sum(x, 1)");
    expression_is(g, "c", "sum(x, 1, keepdims)");
    expression_is(g, "d", "mean(x, 0)");
    expression_is(g, "e", "max(x, 1, keepdims)");
    expression_is(g, "f", "argmax_mask(x, 0)");
    double v[6];
    eval(g, find(g, "c"), v, 2);
    cr_expect(v[0] == 6 && v[1] == 15);
    eval(g, find(g, "e"), v, 2);
    cr_expect(v[0] == 3 && v[1] == 6);
    nb_graph_free(g);
}

Test(reduce_lang, new_functions_positional_and_keyword,
     .description = "min, logsumexp and var read positionally and with keywords; var's "
                    "correction defaults to 1")
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 4], [3, 5, 0.5]]\n"
                        "a = min(x, 1)\nb = min(x, axes=[1])\n"
                        "c = logsumexp(x, [0, 1], keepdims)\nd = logsumexp(x, keepdims=true)\n"
                        "e = var(x, 1)\nf = var(x, 1, false, 1)\ng = var(x, axes=1, correction=1)\n"
                        "h = var(x, [0, 1], keepdims, correction=0)\ni = var(x)\n"
                        "j = argmax_mask(x, [0, 1])\n");
    expression_is(g, "a", "min(x, 1)");
    expression_is(g, "b", "min(x, 1)");
    expression_is(g, "c", "logsumexp(x, [0, 1], keepdims)");
    expression_is(g, "d", "logsumexp(x, keepdims=true)");
    const char *same[] = { "e", "f", "g" };
    for (int i = 0; i < 3; i++) {
        expression_is(g, same[i], "var(x, 1)");
    }
    expression_is(g, "h", "var(x, [0, 1], keepdims, correction=0)");
    expression_is(g, "i", "var(x)");
    expression_is(g, "j", "argmax_mask(x, [0, 1])");
    double v[6];
    eval(g, find(g, "a"), v, 2);
    cr_expect(v[0] == 1 && v[1] == 0.5);
    /* torch.var(x, dim=1): [2.333333333333333, 5.083333333333333] */
    eval(g, find(g, "e"), v, 2);
    expect_values(v, (const double[]){ 2.3333333333333335, 5.083333333333333 }, 2, 1e-15);
    /* torch.var(x, dim=(0, 1), correction=0) */
    eval(g, find(g, "h"), v, 1);
    expect_values(v, (const double[]){ 2.5347222222222223 }, 1, 1e-15);
    eval(g, find(g, "j"), v, 6);
    expect_values(v, (const double[]){ 0, 0, 0, 0, 1, 0 }, 6, 0);
    nb_graph_free(g);
}

/* ---- the writer ---- */

Test(reduce_lang, model_write_round_trip,
     .description = "every reduction form written by nb_model_write parses back to the same "
                    "expressions and values")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3, 2, 2), X24);
    struct {
        const char *name;
        nb_node *y;
        const char *expr;
    } nodes[] = {
        { "s1", nb_sum_axis(g, x, 1, true), "sum(x, 1, keepdims)" },
        { "s3", nb_sum_axes(g, x, 3, (const int[]){ 0, 2, 3 }, true),
          "sum(x, [0, 2, 3], keepdims)" },
        { "sa", nb_sum(g, x), "sum(x)" },
        { "sk", nb_sum_axes(g, x, 0, NULL, true), "sum(x, keepdims=true)" },
        { "m2", nb_mean_axes(g, x, 2, (const int[]){ 0, 2 }, false), "mean(x, [0, 2])" },
        { "x2", nb_max_axes(g, x, 2, (const int[]){ -1, 1 }, false), "max(x, [1, 3])" },
        { "xa", nb_max_axes(g, x, 0, NULL, false), "max(x, keepdims=false)" },
        { "n2", nb_min_axes(g, x, 2, (const int[]){ 0, 3 }, true), "min(x, [0, 3], keepdims)" },
        { "l1", nb_logsumexp(g, x, -1, false), "logsumexp(x, 3)" },
        { "v0", nb_var_axes(g, x, 3, (const int[]){ 0, 2, 3 }, true, 0),
          "var(x, [0, 2, 3], keepdims, correction=0)" },
        { "v1", nb_var(g, x, 0, false, 1), "var(x, 0)" },
        { "am", nb_argmax_mask_axes(g, x, 2, (const int[]){ 0, 2 }), "argmax_mask(x, [0, 2])" },
    };
    size_t n = sizeof nodes / sizeof nodes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(nb_node_set_name(g, nodes[i].y, nodes[i].name), "%s", nb_graph_error(g));
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(nb_model_write(g, f), NB_OK, "%s", nb_graph_error(g));
    fclose(f);
    nb_graph *h = parse(text);
    for (size_t i = 0; i < n; i++) {
        expression_is(g, nodes[i].name, nodes[i].expr);
        expression_is(h, nodes[i].name, nodes[i].expr);
        nb_node *a = nodes[i].y, *b = find(h, nodes[i].name);
        cr_assert_eq(nb_node_rank(a), nb_node_rank(b));
        double va[24], vb[24];
        eval(g, a, va, nb_node_size(a));
        eval(h, b, vb, nb_node_size(b));
        for (size_t k = 0; k < nb_node_size(a); k++) {
            cr_expect_eq(va[k], vb[k], "%s[%zu]: %.17g read back as %.17g", nodes[i].name, k, va[k],
                         vb[k]);
        }
    }
    free(text);
    nb_graph_free(h);
    nb_graph_free(g);
}

/* ---- DOT labels ---- */

Test(reduce_dot, labels_show_one_axis_as_before_and_lists_as_lists,
     .description = "DOT shows axis=1 keepdims for one axis, axes=[0, 2] for several, "
                    "correction=0 when not 1")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3, 4), X24);
    nb_sum_axis(g, x, 1, true);
    nb_max_axes(g, x, 2, (const int[]){ 2, 0 }, false);
    nb_var_axes(g, x, 2, (const int[]){ 0, 1 }, true, 0);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    nb_dot_options opts = nb_dot_defaults();
    cr_assert_eq(nb_graph_write_dot(g, f, &opts), NB_OK);
    fclose(f);
    cr_expect_not_null(strstr(text, "axis=1 keepdims"), "%s", text);
    cr_expect_not_null(strstr(text, "axes=[0, 2]"), "%s", text);
    cr_expect_not_null(strstr(text, "axes=[0, 1] keepdims correction=0"), "%s", text);
    free(text);
    nb_graph_free(g);
}

/* ---- second order ---- */

typedef nb_node *(*scalar_fn)(nb_graph *g, nb_node *x);

/*
 * Hv = grad(sum(grad(f, x) * v), x) for f(x) = fn(x) against central
 * differences of grad f along v: (g(x + eps v) - g(x - eps v)) / 2eps.
 */
static void check_hvp(scalar_fn fn, int rank, const int64_t *shape)
{
    enum { MAX = 24 };
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, rank, shape);
    nb_node *v = nb_input(g, NB_DTYPE_F64, rank, shape);
    nb_node *y = fn(g, x), *gx = NULL, *hv = NULL;
    cr_assert_eq(nb_grad(g, y, 1, &x, &gx), NB_OK, "%s", nb_graph_error(g));
    nb_node *s = nb_sum(g, nb_mul(g, gx, v));
    cr_assert_eq(nb_grad(g, s, 1, &x, &hv), NB_OK, "%s", nb_graph_error(g));
    size_t n = nb_node_size(x);
    cr_assert(n <= MAX);
    double x0[MAX], dir[MAX], h[MAX], gp[MAX], gm[MAX], xs[MAX];
    for (size_t i = 0; i < n; i++) {
        x0[i] = X24[i] * 0.7;
        dir[i] = X24[(i * 7 + 3) % 24] * 0.5;
    }
    cr_assert_eq(nb_node_write_f64(g, x, x0, n), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, v, dir, n), NB_OK);
    eval(g, hv, h, n);
    const double eps = 1e-5;
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        for (size_t i = 0; i < n; i++) {
            xs[i] = x0[i] + sgn * eps * dir[i];
        }
        cr_assert_eq(nb_node_write_f64(g, x, xs, n), NB_OK);
        eval(g, gx, sgn > 0 ? gp : gm, n);
    }
    double scale = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(h[i]));
    }
    cr_assert_gt(scale, 1e-3, "the Hessian-vector product should not vanish");
    for (size_t i = 0; i < n; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        cr_expect(fabs(h[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                  "element %zu: Hv = %.12g, finite differences %.12g", i, h[i], fd);
    }
    nb_graph_free(g);
}

/* Weights so that no output element reaches the scalar with the same factor. */
static nb_node *weighted(nb_graph *g, nb_node *y)
{
    double w[24];
    for (size_t i = 0; i < nb_node_size(y); i++) {
        w[i] = 0.3 + 0.2 * (double)i;
    }
    return nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, nb_node_rank(y), nb_node_shape(y), w)));
}

static nb_node *lse_axes(nb_graph *g, nb_node *x)
{
    return weighted(g, nb_logsumexp_axes(g, x, 2, (const int[]){ 0, 2 }, false));
}

static nb_node *lse_keep(nb_graph *g, nb_node *x)
{
    return weighted(g, nb_logsumexp(g, x, -1, true));
}

/* var is quadratic: its Hessian is 2/(N - c) (I - 1/N) on each set */
static nb_node *var_axes(nb_graph *g, nb_node *x)
{
    nb_node *v = nb_var_axes(g, x, 3, (const int[]){ 0, 2, 3 }, true, 0);
    return weighted(g, nb_mul(g, v, v));
}

static nb_node *mean_sq(nb_graph *g, nb_node *x)
{
    nb_node *m = nb_mean_axes(g, nb_mul(g, x, x), 2, (const int[]){ 0, 2 }, false);
    return weighted(g, nb_mul(g, m, nb_sum_axes(g, x, 2, (const int[]){ 2, 0 }, false)));
}

static nb_node *max_min(nb_graph *g, nb_node *x)
{
    nb_node *x2 = nb_mul(g, x, x);
    nb_node *a = nb_max_axes(g, x2, 2, (const int[]){ 0, 2 }, false);
    nb_node *b = nb_min_axes(g, x2, 2, (const int[]){ 0, 2 }, false);
    return weighted(g, nb_mul(g, a, b));
}

Test(reduce_second_order, hvp_through_logsumexp,
     .description = "Hv of sum(w * logsumexp(x, [0, 2])) and of logsumexp(x, -1, keepdims) "
                    "match finite differences of the gradient")
{
    check_hvp(lse_axes, NB_SHAPE(2, 3, 4));
    check_hvp(lse_keep, NB_SHAPE(2, 3, 4));
}

Test(reduce_second_order, hvp_through_var_mean_sum_max_min,
     .description = "Hv through var over [0, 2, 3] (NCHW), mean and sum over lists, and max "
                    "and min over [0, 2] of x², against finite differences")
{
    check_hvp(var_axes, NB_SHAPE(2, 3, 2, 2));
    check_hvp(mean_sq, NB_SHAPE(2, 3, 2, 2));
    check_hvp(max_min, NB_SHAPE(2, 3, 4));
}

/* ---- conventions ---- */

/* d/dx of sum(y) for y = fn(x) over x (n values). */
static void grad_of_sum(nb_graph *g, nb_node *x, nb_node *y, double *dx, size_t n)
{
    nb_node *d = NULL;
    cr_assert_eq(nb_grad(g, nb_sum(g, y), 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
    eval(g, d, dx, n);
}

Test(reduce_conventions, ties_go_to_the_first_extreme,
     .description = "min and max over an axis and over a set send the gradient to the first "
                    "tie in row-major order, as torch.min(x, dim)'s index")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(4), (const double[]){ 3, 1, 1, 3 });
    double dx[8], y[2];
    eval(g, nb_min_axis(g, x, 0, false), y, 1);
    cr_expect_eq(y[0], 1);
    grad_of_sum(g, x, nb_min_axis(g, x, 0, false), dx, 4);
    expect_values(dx, (const double[]){ 0, 1, 0, 0 }, 4, 0);
    grad_of_sum(g, x, nb_max_axes(g, x, 1, (const int[]){ 0 }, true), dx, 4);
    expect_values(dx, (const double[]){ 1, 0, 0, 0 }, 4, 0);
    nb_graph_free(g);

    /* x[2,2,2] over [0, 2]: for column j the set is x[0,j,0], x[0,j,1], x[1,j,0], x[1,j,1] */
    g = nb_graph_new();
    x = input(g, "x", NB_SHAPE(2, 2, 2), (const double[]){ 1, 5, 2, 0, 5, 1, 2, 0 });
    const int axes[] = { 0, 2 };
    eval(g, nb_max_axes(g, x, 2, axes, false), y, 2);
    expect_values(y, (const double[]){ 5, 2 }, 2, 0);
    grad_of_sum(g, x, nb_max_axes(g, x, 2, axes, false), dx, 8);
    expect_values(dx, (const double[]){ 0, 1, 1, 0, 0, 0, 0, 0 }, 8, 0);
    eval(g, nb_min_axes(g, x, 2, axes, false), y, 2);
    expect_values(y, (const double[]){ 1, 0 }, 2, 0);
    grad_of_sum(g, x, nb_min_axes(g, x, 2, axes, false), dx, 8);
    expect_values(dx, (const double[]){ 1, 0, 0, 1, 0, 0, 0, 0 }, 8, 0);
    nb_graph_free(g);
}

Test(reduce_conventions, nan_propagates_through_min_max_logsumexp,
     .description = "a NaN in a reduced set makes max, min and logsumexp NaN, and the others stay")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3), (const double[]){ 1, NAN, 0, 4, -1, 2 });
    double y[2];
    eval(g, nb_max_axis(g, x, 1, false), y, 2);
    cr_expect(isnan(y[0]) && y[1] == 4);
    eval(g, nb_min_axis(g, x, 1, false), y, 2);
    cr_expect(isnan(y[0]) && y[1] == -1);
    eval(g, nb_logsumexp(g, x, 1, false), y, 2);
    cr_expect(isnan(y[0]) && isfinite(y[1]));
    /* over every element: the first NaN is the maximum */
    eval(g, nb_min_axes(g, x, 2, (const int[]){ 0, 1 }, false), y, 1);
    cr_expect(isnan(y[0]));
    double mask[6];
    eval(g, nb_argmax_mask_axes(g, x, 2, (const int[]){ 0, 1 }), mask, 6);
    expect_values(mask, (const double[]){ 0, 1, 0, 0, 0, 0 }, 6, 0);
    nb_graph_free(g);
}

Test(reduce_conventions, logsumexp_of_infinities_and_large_values,
     .description = "logsumexp: a row of -inf is -inf, a row with +inf is +inf, [1000, 1000, "
                    "-inf] is 1000 + log 2 (torch.logsumexp), in f64 and f32")
{
    for (int d = 0; d < 2; d++) {
        nb_dtype dt = d ? NB_DTYPE_F32 : NB_DTYPE_F64;
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_input(g, dt, NB_SHAPE(4, 3));
        const double v[12] = { -INFINITY, -INFINITY, -INFINITY, 1000, 1000, -INFINITY,
                               INFINITY,  1,         -INFINITY, -1e4, -1e4, -1e4 };
        cr_assert_eq(nb_node_write_f64(g, x, v, 12), NB_OK);
        double y[4];
        eval(g, nb_logsumexp(g, x, 1, false), y, 4);
        cr_expect(isinf(y[0]) && y[0] < 0, "row of -inf: %g", y[0]);
        /* torch.logsumexp(torch.tensor([1000., 1000., -inf], dtype=torch.float64), 0) */
        cr_expect(fabs(y[1] - 1000.6931471805599) <= (d ? 1e-4 : 1e-13), "%.17g", y[1]);
        cr_expect(isinf(y[2]) && y[2] > 0, "row with +inf: %g", y[2]);
        /* -1e4 + log 3 */
        cr_expect(fabs(y[3] - (-9998.9013877113326)) <= (d ? 1e-3 : 1e-11), "%.17g", y[3]);
        /* over every element: the +inf wins */
        double z;
        eval(g, nb_logsumexp_axes(g, x, 2, (const int[]){ 0, 1 }, false), &z, 1);
        cr_expect(isinf(z) && z > 0);
        nb_graph_free(g);
    }
}

Test(reduce_conventions, var_with_no_degrees_of_freedom,
     .description = "var with N - c <= 0 as torch.var: [1, 2] c=2 and c=3 are inf, [1] c=1 and "
                    "[1, 1] c=2 are NaN")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = input(g, "a", NB_SHAPE(2), (const double[]){ 1, 2 });
    nb_node *b = input(g, "b", NB_SHAPE(1), (const double[]){ 1 });
    nb_node *c = input(g, "c", NB_SHAPE(2), (const double[]){ 1, 1 });
    double y;
    eval(g, nb_var(g, a, 0, false, 2), &y, 1);
    cr_expect(isinf(y) && y > 0, "%g", y);
    eval(g, nb_var(g, a, 0, false, 3), &y, 1);
    cr_expect(isinf(y) && y > 0, "%g", y);
    eval(g, nb_var(g, b, 0, false, 1), &y, 1);
    cr_expect(isnan(y), "%g", y);
    eval(g, nb_var(g, c, 0, false, 2), &y, 1);
    cr_expect(isnan(y), "%g", y);
    eval(g, nb_var(g, a, 0, false, 0.5), &y, 1);
    cr_expect_eq(y, 0.5 / 1.5, "a real correction: 0.5 / (2 - 0.5)");
    nb_graph_free(g);
}

Test(reduce_conventions, f32_sums_over_a_set_in_double,
     .description = "sum over [0, 2] of 2 x 3 x 5000 f32 values 0.1 is 1000 for each of 3 "
                    "within 1e-5 relative (one float running total gives 999.903)")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3, 5000));
    static double v[30000];
    for (size_t i = 0; i < 30000; i++) {
        v[i] = 0.1;
    }
    cr_assert_eq(nb_node_write_f64(g, x, v, 30000), NB_OK);
    double y[3], m[3];
    eval(g, nb_sum_axes(g, x, 2, (const int[]){ 0, 2 }, false), y, 3);
    eval(g, nb_mean_axes(g, x, 2, (const int[]){ 2, 0 }, false), m, 3);
    for (int i = 0; i < 3; i++) {
        /* (float)0.1 = 0.100000001490116...: 10000 of them are 1000.0000149 */
        cr_expect(fabs(y[i] - 1000.0000149) <= 1e-2, "%.9g", y[i]);
        cr_expect(fabs(m[i] - 0.1) <= 1e-6, "%.9g", m[i]);
    }
    nb_graph_free(g);
}
