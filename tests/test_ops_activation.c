/*
 * tests/test_ops_activation.c: the activations (elu, erf, gelu, gelu_tanh,
 * softplus, silu, log1p, clamp) beyond their op_cases.h rows: exact error
 * messages, the model language's positional and keyword forms, a model
 * write-and-parse round trip, Hessian-vector products through each against
 * finite differences, second derivatives at chosen points, and the special
 * values (thresholds, tails, bounds, NaN) the case table cannot express.
 * References are closed form or PyTorch 1.13 float64, as the comments say.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static nb_node *input_of(nb_graph *g, nb_dtype dt, size_t n, const double *v, const char *name)
{
    nb_node *x = nb_input(g, dt, NB_SHAPE((int64_t)n));
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write_f64(g, x, v, n), NB_OK);
    return nb_node_set_name(g, x, name);
}

/* Runs y and reads its n values into out. */
static void eval(nb_graph *g, nb_node *y, double *out, size_t n)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, y, out, n), NB_OK, "%s", nb_graph_error(g));
}

/* d/dx sum(y), read into out (n values). */
static void grad_of_sum(nb_graph *g, nb_node *y, nb_node *x, double *out, size_t n)
{
    nb_node *s = nb_sum(g, y), *d = NULL;
    cr_assert_eq(nb_grad(g, s, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
    eval(g, d, out, n);
}

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    nb_status s = nb_model_parse(g, src, strlen(src), NULL, &e);
    cr_assert_eq(s, NB_OK, "%d:%d: %s\n--- model:\n%s", e.line, e.column, e.message, src);
    return g;
}

static void parse_error(const char *src, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_ERR_FORMAT, "%s", src);
    cr_assert_str_eq(e.message, msg, "--- model:\n%s", src);
    cr_assert_eq(e.line, line, "line %d, want %d", e.line, line);
    cr_assert_eq(e.column, col, "column %d, want %d", e.column, col);
    nb_graph_free(g);
}

/* The values of node name of a parsed graph, after a run. */
static void values_of(nb_graph *g, const char *name, double *out, size_t n)
{
    nb_node *y = nb_graph_find(g, name);
    cr_assert_not_null(y, "no node %s", name);
    eval(g, y, out, n);
}

static void expression_is(nb_graph *g, const char *name, const char *want)
{
    char buf[128];
    nb_node *y = nb_graph_find(g, name);
    cr_assert_not_null(y, "no node %s", name);
    nb_node_expression(y, buf, sizeof buf);
    cr_assert_str_eq(buf, want, "%s", name);
}

/* ---- errors ---- */

static nb_graph *graph_with_x(nb_node **x)
{
    nb_graph *g = nb_graph_new();
    *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "x");
    return g;
}

static void error_is(nb_graph *g, nb_node *y, nb_status status, const char *msg)
{
    cr_assert_null(y);
    cr_assert_eq(nb_graph_status(g), status, "status %d: %s", nb_graph_status(g),
                 nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), msg);
    nb_graph_free(g);
}

Test(activation_errors, elu_refuses_a_nan_alpha)
{
    nb_node *x;
    nb_graph *g = graph_with_x(&x);
    error_is(g, nb_elu(g, x, NAN), NB_ERR_ARG, "elu(x[3]): alpha is NaN");
}

Test(activation_errors, clamp_refuses_a_nan_lower_bound)
{
    nb_node *x;
    nb_graph *g = graph_with_x(&x);
    error_is(g, nb_clamp(g, x, NAN, 1), NB_ERR_ARG, "clamp(x[3]): the bound lo is NaN");
}

Test(activation_errors, clamp_refuses_a_nan_upper_bound)
{
    nb_node *x;
    nb_graph *g = graph_with_x(&x);
    error_is(g, nb_clamp(g, x, -INFINITY, NAN), NB_ERR_ARG, "clamp(x[3]): the bound hi is NaN");
}

Test(activation_errors, a_nan_bound_on_a_null_input_reports_the_null_input)
{
    nb_graph *g = nb_graph_new();
    error_is(g, nb_clamp(g, NULL, NAN, 1), NB_ERR_ARG, "clamp(NULL): input 1 is NULL");
}

Test(activation_errors, integer_inputs_are_refused_naming_the_op)
{
    const char *names[] = {
        "elu", "erf", "gelu", "gelu_tanh", "softplus", "silu", "log1p", "clamp"
    };
    for (int k = 0; k < 8; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2)), "n");
        nb_node *y = k == 0   ? nb_elu(g, x, 1)
                     : k == 1 ? nb_erf(g, x)
                     : k == 2 ? nb_gelu(g, x)
                     : k == 3 ? nb_gelu_tanh(g, x)
                     : k == 4 ? nb_softplus(g, x)
                     : k == 5 ? nb_silu(g, x)
                     : k == 6 ? nb_log1p(g, x)
                              : nb_clamp(g, x, 0, 1);
        char want[128];
        snprintf(want, sizeof want, "%s(n[2]): input 1 is i32; this op needs f32 or f64 inputs",
                 names[k]);
        error_is(g, y, NB_ERR_DTYPE, want);
    }
}

Test(activation_errors, the_language_shows_the_call_forms)
{
    parse_error("input x[3]\ny = clamp(x, min=0)\n", 2, 18,
                "clamp has no argument 'min'; it takes clamp(x, lo=-inf, hi=inf)");
    parse_error("input x[3]\ny = clamp(x, 0, 1, 2)\n", 2, 5,
                "clamp takes clamp(x, lo=-inf, hi=inf); got 4 positional arguments");
    parse_error("input x[3]\ny = clamp(x, 0, lo=1)\n", 2, 20, "clamp: lo is given twice");
    parse_error("input x[3]\ny = elu(x, alpha=[1])\n", 2, 18, "elu: alpha must be a number");
    parse_error("input x[3]\ny = erf(x, 2)\n", 2, 5,
                "erf takes erf(x); got 2 positional arguments");
    parse_error("input x[3]\ny = gelu(x, approximate=1)\n", 2, 25,
                "gelu has no argument 'approximate'; it takes gelu(x)");
}

/* ---- the language ---- */

static const char *const forms = "input x[4] = [-2, -0.5, 0.25, 3]\n"
                                 "a = elu(x)\n"
                                 "b = elu(x, 0.5)\n"
                                 "c = elu(x, alpha=0.5)\n"
                                 "d = clamp(x, -1, 1)\n"
                                 "e = clamp(x, lo=-1, hi=1)\n"
                                 "f = clamp(x, hi=1, lo=-1)\n"
                                 "h = clamp(x, lo=0)\n"
                                 "k = clamp(x, hi=0)\n"
                                 "m = clamp(x, -1)\n";

Test(activation_language, positional_and_keyword_forms_are_the_same_call)
{
    nb_graph *g = parse(forms);
    double a[4], b[4], c[4], d[4], e[4], f[4], h[4], k[4], m[4];
    values_of(g, "a", a, 4);
    values_of(g, "b", b, 4);
    values_of(g, "c", c, 4);
    values_of(g, "d", d, 4);
    values_of(g, "e", e, 4);
    values_of(g, "f", f, 4);
    values_of(g, "h", h, 4);
    values_of(g, "k", k, 4);
    values_of(g, "m", m, 4);
    /* closed form: elu(-2) = e^-2 - 1, elu(-0.5) = e^-0.5 - 1 */
    const double want_a[4] = { exp(-2.0) - 1, exp(-0.5) - 1, 0.25, 3 };
    const double want_b[4] = { 0.5 * (exp(-2.0) - 1), 0.5 * (exp(-0.5) - 1), 0.25, 3 };
    const double want_d[4] = { -1, -0.5, 0.25, 1 }, want_h[4] = { 0, 0, 0.25, 3 };
    const double want_k[4] = { -2, -0.5, 0, 0 }, want_m[4] = { -1, -0.5, 0.25, 3 };
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(a[i], want_a[i], 1e-15, "a[%d] = %.17g", i, a[i]);
        cr_assert_float_eq(b[i], want_b[i], 1e-15, "b[%d] = %.17g", i, b[i]);
        cr_assert_eq(c[i], b[i], "c[%d]", i);
        cr_assert_eq(d[i], want_d[i], "d[%d] = %g", i, d[i]);
        cr_assert_eq(e[i], want_d[i], "e[%d] = %g", i, e[i]);
        cr_assert_eq(f[i], want_d[i], "f[%d] = %g", i, f[i]);
        cr_assert_eq(h[i], want_h[i], "h[%d] = %g", i, h[i]);
        cr_assert_eq(k[i], want_k[i], "k[%d] = %g", i, k[i]);
        cr_assert_eq(m[i], want_m[i], "m[%d] = %g", i, m[i]);
    }
    /* the writer's spelling: keywords for what differs from the default, open bounds left out */
    expression_is(g, "a", "elu(x)");
    expression_is(g, "b", "elu(x, alpha=0.5)");
    expression_is(g, "f", "clamp(x, lo=-1, hi=1)");
    expression_is(g, "h", "clamp(x, lo=0)");
    expression_is(g, "k", "clamp(x, hi=0)");
    expression_is(g, "m", "clamp(x, lo=-1)");
    nb_graph_free(g);
}

Test(activation_language, functions_without_attributes_read_their_op)
{
    nb_graph *g = parse("input x[2] = [-0.5, 1.5]\n"
                        "a = erf(x)\nb = gelu(x)\nc = gelu_tanh(x)\n"
                        "d = softplus(x)\ne = silu(x)\nf = log1p(x)\n");
    const char *names[] = { "a", "b", "c", "d", "e", "f" };
    const char *ops[] = { "erf", "gelu", "gelu_tanh", "softplus", "silu", "log1p" };
    for (int i = 0; i < 6; i++) {
        nb_node *y = nb_graph_find(g, names[i]);
        cr_assert_not_null(y);
        cr_assert_str_eq(nb_node_op_name(y), ops[i]);
        char want[32], buf[32];
        snprintf(want, sizeof want, "%s(x)", ops[i]);
        nb_node_expression(y, buf, sizeof buf);
        cr_assert_str_eq(buf, want);
    }
    double d[2];
    values_of(g, "d", d, 2);
    /* torch: F.softplus(torch.tensor([-0.5, 1.5], dtype=torch.float64)) */
    cr_assert_float_eq(d[0], 0.47407698418010663, 1e-15, "%.17g", d[0]);
    cr_assert_float_eq(d[1], 1.7014132779827524, 1e-15, "%.17g", d[1]);
    nb_graph_free(g);
}

/* nb_model_write's text of g, in a malloc'ed string. */
static char *written(nb_graph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(nb_model_write(g, f), NB_OK, "%s", nb_graph_error(g));
    fclose(f);
    return buf;
}

Test(activation_language, a_written_model_reads_back_as_the_same_graph)
{
    nb_graph *g = nb_graph_new();
    const double xv[5] = { -2.5, -0.75, 0.1, 1.25, 22 };
    nb_node *x = input_of(g, NB_DTYPE_F64, 5, xv, "x");
    const char *names[] = { "y_elu",  "y_erf",   "y_gelu",  "y_gelu_tanh", "y_softplus",
                            "y_silu", "y_log1p", "y_clamp", "y_clamp_lo" };
    nb_node *y[9] = {
        nb_elu(g, x, 0.3),
        nb_erf(g, x),
        nb_gelu(g, x),
        nb_gelu_tanh(g, x),
        nb_softplus(g, x),
        nb_silu(g, x),
        nb_log1p(g, nb_abs(g, x)),
        nb_clamp(g, x, -1, 0.5),
        nb_clamp(g, x, 0.2, INFINITY),
    };
    for (int i = 0; i < 9; i++) {
        nb_node_set_name(g, y[i], names[i]);
    }
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    char *text = written(g);
    cr_assert_not_null(strstr(text, "y_elu = elu(x, alpha=0.3)"), "%s", text);
    cr_assert_not_null(strstr(text, "y_clamp = clamp(x, lo=-1, hi=0.5)"), "%s", text);
    cr_assert_not_null(strstr(text, "y_clamp_lo = clamp(x, lo=0.2)"), "%s", text);
    nb_graph *h = parse(text);
    for (int i = 0; i < 9; i++) {
        double a[5], b[5];
        eval(g, y[i], a, 5);
        values_of(h, names[i], b, 5);
        cr_assert_str_eq(nb_node_op_name(nb_graph_find(h, names[i])), nb_node_op_name(y[i]));
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "%s differs after the round trip", names[i]);
    }
    free(text);
    nb_graph_free(h);
    nb_graph_free(g);
}

/* ---- second order ---- */

static nb_node *elu07(nb_graph *g, nb_node *x)
{
    return nb_elu(g, x, 0.7);
}

static nb_node *clamp_m1_12(nb_graph *g, nb_node *x)
{
    return nb_clamp(g, x, -1, 1.2);
}

typedef struct hvp_case {
    const char *name;
    nb_node *(*op)(nb_graph *g, nb_node *x);
    double scale; /* z = scale * (M @ x) + shift */
    double shift[4];
} hvp_case;

static const hvp_case hvp_cases[] = {
    { .name = "gelu", .op = nb_gelu, .scale = 1 },
    { .name = "gelu_tanh", .op = nb_gelu_tanh, .scale = 1 },
    { .name = "softplus", .op = nb_softplus, .scale = 1 },
    { .name = "softplus",
      .op = nb_softplus,
      .scale = 1,
      .shift = { 0, 0, 20, 0 } }, /* z[2] = 21.6 is above the threshold */
    { .name = "silu", .op = nb_silu, .scale = 1 },
    { .name = "elu", .op = elu07, .scale = 1 },
    { .name = "erf", .op = nb_erf, .scale = 1 },
    { .name = "log1p", .op = nb_log1p, .scale = 0.3 },
    { .name = "clamp", .op = clamp_m1_12, .scale = 1 },
};

/*
 * f(x) = sum(c * op(scale * (M @ x) + shift)) for x[4]; M mixes the elements
 * so the Hessian is not diagonal. M @ x is (1.05, -1.43, 1.6, 0.89): away
 * from elu's kink at 0; inside, below and above clamp's bounds -1 and 1.2;
 * shifted to (1.05, -1.43, 21.6, 0.89), on both sides of softplus's
 * threshold 20 and away from it; above -1 when scaled by 0.3 for log1p.
 */
static const double hvp_m[16] = { 1.0, 0.5,  -0.3, 0.2, -0.4, 0.9,  0.6,  -1.1,
                                  0.7, -0.2, 1.1,  0.5, 0.2,  -1.3, -0.5, 0.4 };
static const double hvp_x[4] = { 1.2, -0.4, 0.3, 0.7 };
static const double hvp_c[4] = { 0.8, -1.3, 0.6, 1.1 };
static const double hvp_v[4] = { 0.5, -0.7, 0.9, 0.3 };

/*
 * Parameters are indices: Criterion's workers are separate processes, where
 * a pointer inside a parameter (a name, a function) need not be valid.
 */
static size_t hvp_index[sizeof hvp_cases / sizeof hvp_cases[0]];

ParameterizedTestParameters(activation_second_order, hvp_matches_finite_differences)
{
    size_t n = sizeof hvp_cases / sizeof hvp_cases[0];
    for (size_t i = 0; i < n; i++) {
        hvp_index[i] = i;
    }
    return cr_make_param_array(size_t, hvp_index, n);
}

ParameterizedTest(size_t *k, activation_second_order, hvp_matches_finite_differences,
                  .description = "Hv = grad(sum(grad(f, x) * v), x) matches "
                                 "(grad f(x + eps v) - grad f(x - eps v)) / 2eps, eps = 1e-5, "
                                 "for f = sum(c * op(s M x + b))")
{
    const hvp_case *hc = &hvp_cases[*k];
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 1));
    nb_node *v = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 1));
    nb_node *m = nb_const(g, NB_DTYPE_F64, NB_SHAPE(4, 4), hvp_m);
    nb_node *c = nb_const(g, NB_DTYPE_F64, NB_SHAPE(4, 1), hvp_c);
    nb_node *s = nb_const(g, NB_DTYPE_F64, 0, NULL, &hc->scale);
    nb_node *b = nb_const(g, NB_DTYPE_F64, NB_SHAPE(4, 1), hc->shift);
    nb_node *z = nb_add(g, nb_mul(g, s, nb_matmul(g, m, x)), b);
    nb_node *f = nb_sum(g, nb_mul(g, c, hc->op(g, z)));
    nb_node *gx = NULL, *hv = NULL;
    cr_assert_eq(nb_grad(g, f, 1, &x, &gx), NB_OK, "%s", nb_graph_error(g));
    nb_node *inner = nb_sum(g, nb_mul(g, gx, v));
    cr_assert_eq(nb_grad(g, inner, 1, &x, &hv), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write_f64(g, v, hvp_v, 4), NB_OK);

    double h[4], gp[4], gm[4], xs[4];
    const double eps = 1e-5;
    cr_assert_eq(nb_node_write_f64(g, x, hvp_x, 4), NB_OK);
    eval(g, hv, h, 4);
    for (int i = 0; i < 4; i++) {
        xs[i] = hvp_x[i] + eps * hvp_v[i];
    }
    cr_assert_eq(nb_node_write_f64(g, x, xs, 4), NB_OK);
    eval(g, gx, gp, 4);
    for (int i = 0; i < 4; i++) {
        xs[i] = hvp_x[i] - eps * hvp_v[i];
    }
    cr_assert_eq(nb_node_write_f64(g, x, xs, 4), NB_OK);
    eval(g, gx, gm, 4);
    double scale = 0;
    for (int i = 0; i < 4; i++) {
        scale = fmax(scale, fabs(h[i]));
    }
    if (strcmp(hc->name, "clamp") == 0) {
        /* piecewise linear: its Hessian is 0, exactly */
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(h[i], 0, "%s: Hv[%d] = %g", hc->name, i, h[i]);
            cr_assert_eq(gp[i], gm[i], "%s: the gradient moved", hc->name);
        }
    } else {
        cr_assert_gt(scale, 1e-2, "%s: the Hessian-vector product should not vanish", hc->name);
    }
    for (int i = 0; i < 4; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        cr_assert(fabs(h[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * fmax(scale, 1e-3)),
                  "case %zu (%s): element %d: Hv = %.12g, finite differences %.12g", *k, hc->name,
                  i, h[i], fd);
    }
    nb_graph_free(g);
}

/* Second derivatives of op at xs (n points), via two nb_grad calls. */
static void second_derivative(nb_node *(*op)(nb_graph *, nb_node *), size_t n, const double *xs,
                              double *d1, double *d2)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input_of(g, NB_DTYPE_F64, n, xs, "x");
    nb_node *y = nb_sum(g, op(g, x)), *gx = NULL, *hx = NULL;
    cr_assert_eq(nb_grad(g, y, 1, &x, &gx), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, nb_sum(g, gx), 1, &x, &hx), NB_OK, "%s", nb_graph_error(g));
    eval(g, gx, d1, n);
    eval(g, hx, d2, n);
    nb_graph_free(g);
}

Test(activation_second_order, values_at_chosen_points,
     .description = "first and second derivatives at 0 and 1 (PyTorch 1.13 autograd, "
                    "create_graph=True): gelu'' = φ(x)(2 - x²), silu, elu (0 at 0), gelu_tanh")
{
    const double xs[2] = { 0, 1 };
    struct {
        nb_node *(*op)(nb_graph *, nb_node *);
        double d1[2], d2[2];
    } want[] = {
        { nb_gelu, { 0.5, 1.0833154705876864 }, { 0.7978845608028654, 0.24197072451914337 } },
        { nb_silu, { 0.5, 0.9276705118714869 }, { 0.5, 0.3023661188100153 } },
        { elu07, { 0.7, 1.0 }, { 0.0, 0.0 } },
        { nb_gelu_tanh, { 0.5, 1.0829640838457826 }, { 0.7978845608028654, 0.24214819798377296 } },
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        double d1[2], d2[2];
        second_derivative(want[k].op, 2, xs, d1, d2);
        for (int i = 0; i < 2; i++) {
            cr_expect(fabs(d1[i] - want[k].d1[i]) <= 1e-15, "case %zu: d1(%g) = %.17g", k, xs[i],
                      d1[i]);
            cr_expect(fabs(d2[i] - want[k].d2[i]) <= 1e-15, "case %zu: d2(%g) = %.17g", k, xs[i],
                      d2[i]);
        }
    }
}

Test(activation_second_order, elu_below_zero_and_softplus_around_the_threshold,
     .description = "elu(x, 0.7)'' = 0.7 e^x below 0; softplus'' = s(1 - s) below the "
                    "threshold, 0 above it and far below (PyTorch 1.13)")
{
    const double xe[2] = { -1, -1e-300 };
    double d1[4], d2[4];
    second_derivative(elu07, 2, xe, d1, d2);
    cr_expect(fabs(d1[0] - 0.2575156088200096) <= 1e-16 && d1[1] == 0.7, "%.17g %.17g", d1[0],
              d1[1]);
    cr_expect(fabs(d2[0] - 0.2575156088200096) <= 1e-16 && d2[1] == 0.7, "%.17g %.17g", d2[0],
              d2[1]);
    const double xs[4] = { 1, 25, -800, 20.5 };
    second_derivative(nb_softplus, 4, xs, d1, d2);
    cr_expect(fabs(d1[0] - 0.7310585786300049) <= 1e-16, "%.17g", d1[0]);
    cr_expect(d1[1] == 1 && d1[2] == 0 && d1[3] == 1, "%g %g %g", d1[1], d1[2], d1[3]);
    cr_expect(fabs(d2[0] - 0.19661193324148185) <= 1e-16, "%.17g", d2[0]);
    cr_expect(d2[1] == 0 && d2[2] == 0 && d2[3] == 0, "%g %g %g", d2[1], d2[2], d2[3]);
}

/* ---- special values ---- */

Test(activation_values, softplus_threshold_is_strict,
     .description = "softplus(20) = 20.000000002061153 with gradient sigmoid(20) (20 is not "
                    "above the threshold); above it x and 1 exactly (PyTorch 1.13)")
{
    nb_graph *g = nb_graph_new();
    const double xs[3] = { 20, nextafter(20, 21), 30.25 };
    nb_node *x = input_of(g, NB_DTYPE_F64, 3, xs, "x");
    nb_node *y = nb_softplus(g, x);
    double v[3], d[3];
    eval(g, y, v, 3);
    grad_of_sum(g, y, x, d, 3);
    cr_expect(fabs(v[0] - 20.000000002061153) <= 4e-15, "%.17g", v[0]);
    cr_expect(v[1] == xs[1] && v[2] == 30.25, "%.17g %.17g", v[1], v[2]);
    cr_expect(fabs(d[0] - 0.9999999979388464) <= 2e-16, "%.17g", d[0]);
    cr_expect(d[1] == 1 && d[2] == 1, "%.17g %.17g", d[1], d[2]);
    nb_graph_free(g);
}

Test(activation_values, softplus_keeps_tiny_tails_in_both_dtypes,
     .description = "softplus(-50) = 1.9287498479639178e-22, softplus(-800) = 0 and its "
                    "gradient 0, and NaN stays NaN, in f64 and f32")
{
    for (int f32 = 0; f32 < 2; f32++) {
        nb_graph *g = nb_graph_new();
        const double xs[3] = { -50, -800, NAN };
        nb_node *x = input_of(g, f32 ? NB_DTYPE_F32 : NB_DTYPE_F64, 3, xs, "x");
        nb_node *y = nb_softplus(g, x);
        double v[3], d[3];
        eval(g, y, v, 3);
        grad_of_sum(g, y, x, d, 3);
        double tol = f32 ? 1e-6 : 1e-15;
        cr_expect(fabs(v[0] / 1.9287498479639178e-22 - 1) <= tol, "f32 %d: %.17g", f32, v[0]);
        cr_expect(v[1] == 0 && d[1] == 0, "f32 %d: %g %g", f32, v[1], d[1]);
        cr_expect(isnan(v[2]) && isnan(d[2]), "f32 %d: %g %g", f32, v[2], d[2]);
        nb_graph_free(g);
    }
}

Test(activation_values, log1p_of_tiny_x_is_x,
     .description = "log1p(1e-20) = 1e-20 and log1p(-1e-30) = -1e-30 to the last bit in f64, "
                    "and in f32 of the rounded inputs; log1p(-1) = -inf, log1p(-2) is NaN")
{
    for (int f32 = 0; f32 < 2; f32++) {
        nb_graph *g = nb_graph_new();
        const double xs[4] = { 1e-20, -1e-30, -1, -2 };
        nb_node *x = input_of(g, f32 ? NB_DTYPE_F32 : NB_DTYPE_F64, 4, xs, "x");
        double v[4];
        eval(g, nb_log1p(g, x), v, 4);
        double a = f32 ? (double)(float)1e-20 : 1e-20, b = f32 ? (double)(float)-1e-30 : -1e-30;
        cr_expect(v[0] == a && v[1] == b, "f32 %d: %.17g %.17g", f32, v[0], v[1]);
        cr_expect(v[2] == -INFINITY && isnan(v[3]), "f32 %d: %g %g", f32, v[2], v[3]);
        nb_graph_free(g);
    }
}

Test(activation_values, elu_near_zero_keeps_its_relative_accuracy,
     .description = "elu(x, 0.7) at -1e-4 and -0.6 (either side of the f32 polynomial's "
                    "edge) is 0.7 expm1(x) within 1 part in 1e7 in f32, 1e15 in f64 (no "
                    "e^x - 1 cancellation); NaN stays NaN; the gradient at 0 is alpha")
{
    for (int f32 = 0; f32 < 2; f32++) {
        nb_graph *g = nb_graph_new();
        const double xs[4] = { -1e-4, -0.6, NAN, 0 };
        nb_node *x = input_of(g, f32 ? NB_DTYPE_F32 : NB_DTYPE_F64, 4, xs, "x");
        nb_node *y = nb_elu(g, x, 0.7);
        double v[4], d[4];
        eval(g, y, v, 4);
        grad_of_sum(g, y, x, d, 4);
        double tol = f32 ? 1e-7 : 1e-15;
        /*
         * closed form, libm's expm1 of the (rounded) input; PyTorch's float64
         * scalar path computes exp(x) - 1, off by 4e-12 relative at -1e-4
         */
        for (int i = 0; i < 2; i++) {
            double want = 0.7 * expm1(f32 ? (double)(float)xs[i] : xs[i]);
            cr_expect(fabs(v[i] / want - 1) <= tol, "f32 %d: elu(%g) = %.17g, want %.17g", f32,
                      xs[i], v[i], want);
        }
        cr_expect(isnan(v[2]), "f32 %d: %g", f32, v[2]);
        cr_expect(v[3] == 0 && fabs(d[3] - 0.7) <= (f32 ? 1e-7 : 0), "f32 %d: %g %.17g", f32, v[3],
                  d[3]);
        nb_graph_free(g);
    }
}

Test(activation_values, gelu_left_tail_is_accurate,
     .description = "gelu(-10) = -5 erfc(10/√2) = -7.619853024160526e-23 (mpmath, 40 digits) "
                    "within 1e-14 relative; PyTorch's 1 + erf form gives -0 there")
{
    nb_graph *g = nb_graph_new();
    const double xs[1] = { -10 };
    nb_node *x = input_of(g, NB_DTYPE_F64, 1, xs, "x");
    double v;
    eval(g, nb_gelu(g, x), &v, 1);
    cr_expect(fabs(v / -7.619853024160526e-23 - 1) <= 1e-14, "%.17g", v);
    nb_graph_free(g);
}

Test(activation_values, clamp_gradient_passes_at_both_bounds,
     .description = "d/dx clamp(x, -0.5, 1) at (-0.5, 1, 0.2, -2, 3, NaN) is (1, 1, 1, 0, 0, 0), "
                    "as PyTorch; the value at NaN is NaN")
{
    nb_graph *g = nb_graph_new();
    const double xs[6] = { -0.5, 1, 0.2, -2, 3, NAN };
    nb_node *x = input_of(g, NB_DTYPE_F64, 6, xs, "x");
    nb_node *y = nb_clamp(g, x, -0.5, 1);
    double v[6], d[6];
    const double want_v[5] = { -0.5, 1, 0.2, -0.5, 1 }, want_d[6] = { 1, 1, 1, 0, 0, 0 };
    eval(g, y, v, 6);
    grad_of_sum(g, y, x, d, 6);
    for (int i = 0; i < 6; i++) {
        cr_expect(i == 5 ? isnan(v[i]) : v[i] == want_v[i], "value %d: %g", i, v[i]);
        cr_expect(d[i] == want_d[i], "gradient %d: %g", i, d[i]);
    }
    nb_graph_free(g);
}

Test(activation_values, clamp_bounds_in_f32_are_the_rounded_ones,
     .description = "in f32, clamp(x, 0.1, 0.3) compares against 0.1f and 0.3f: the gradient "
                    "passes at 0.1f and 0.3f and stops one float outside them")
{
    nb_graph *g = nb_graph_new();
    float lo = 0.1f, hi = 0.3f;
    const double xs[4] = { lo, hi, nextafterf(lo, 0), nextafterf(hi, 1) };
    nb_node *x = input_of(g, NB_DTYPE_F32, 4, xs, "x");
    nb_node *y = nb_clamp(g, x, 0.1, 0.3);
    double v[4], d[4];
    eval(g, y, v, 4);
    grad_of_sum(g, y, x, d, 4);
    cr_expect(v[0] == lo && v[1] == hi && v[2] == lo && v[3] == hi, "%.9g %.9g %.9g %.9g", v[0],
              v[1], v[2], v[3]);
    cr_expect(d[0] == 1 && d[1] == 1 && d[2] == 0 && d[3] == 0, "%g %g %g %g", d[0], d[1], d[2],
              d[3]);
    nb_graph_free(g);
}

Test(activation_values, clamp_with_lo_above_hi_is_hi_with_no_gradient,
     .description = "torch.clamp(x, 2, -1) is -1 everywhere with gradient 0 (PyTorch 1.13), "
                    "also at x = 2 and x = -1")
{
    nb_graph *g = nb_graph_new();
    const double xs[4] = { 2, -1, 0.5, 5 };
    nb_node *x = input_of(g, NB_DTYPE_F64, 4, xs, "x");
    nb_node *y = nb_clamp(g, x, 2, -1);
    double v[4], d[4];
    eval(g, y, v, 4);
    grad_of_sum(g, y, x, d, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect(v[i] == -1 && d[i] == 0, "%d: %g %g", i, v[i], d[i]);
    }
    nb_graph_free(g);
}

Test(activation_values, open_clamp_passes_everything,
     .description = "clamp(x, -inf, inf) is x, infinities included, with gradient 1")
{
    nb_graph *g = nb_graph_new();
    const double xs[3] = { -INFINITY, 0.5, INFINITY };
    nb_node *x = input_of(g, NB_DTYPE_F64, 3, xs, "x");
    nb_node *y = nb_clamp(g, x, -INFINITY, INFINITY);
    double v[3], d[3];
    eval(g, y, v, 3);
    grad_of_sum(g, y, x, d, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect(v[i] == xs[i] && d[i] == 1, "%d: %g %g", i, v[i], d[i]);
    }
    nb_graph_free(g);
}

Test(activation_values, erf_and_silu_at_the_extremes,
     .description = "erf(±inf) = ±1, erf(-0) = -0; silu(-1000) = -0 and silu(1000) = 1000 "
                    "with gradients 0 and 1, in f64 and f32")
{
    for (int f32 = 0; f32 < 2; f32++) {
        nb_graph *g = nb_graph_new();
        nb_dtype dt = f32 ? NB_DTYPE_F32 : NB_DTYPE_F64;
        const double xe[3] = { -INFINITY, INFINITY, -0.0 }, xs[2] = { -1000, 1000 };
        nb_node *x = input_of(g, dt, 3, xe, "x"), *z = input_of(g, dt, 2, xs, "z");
        double e[3], s[2], d[2];
        eval(g, nb_erf(g, x), e, 3);
        nb_node *y = nb_silu(g, z);
        eval(g, y, s, 2);
        grad_of_sum(g, y, z, d, 2);
        cr_expect(e[0] == -1 && e[1] == 1 && e[2] == 0 && signbit(e[2]), "f32 %d: %g %g %g", f32,
                  e[0], e[1], e[2]);
        cr_expect(s[0] == 0 && s[1] == 1000 && d[0] == 0 && d[1] == 1, "f32 %d: %g %g %g %g", f32,
                  s[0], s[1], d[0], d[1]);
        nb_graph_free(g);
    }
}
