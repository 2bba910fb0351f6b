/*
 * tests/test_autodiff.c: nb_grad as a graph builder. Higher derivatives by
 * differentiating gradient nodes, a Hessian-vector product against finite
 * differences, fan-out sums, pruning, zero gradients, names, flags and scopes
 * of gradient nodes, float32 gradients, and nb_gradcheck on a whole model.
 */
#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static nb_graph *new_graph(void)
{
    nb_graph *g = nb_graph_new();
    cr_assert_not_null(g);
    return g;
}

static void assert_ok(nb_graph *g)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

static void set_scalar(nb_graph *g, nb_node *x, double v)
{
    cr_assert_eq(nb_node_write_f64(g, x, &v, 1), NB_OK, "%s", nb_graph_error(g));
}

/* Runs out alone and returns its value converted to double (out is a scalar). */
static double eval_scalar(nb_graph *g, nb_node *out)
{
    cr_assert_eq(nb_graph_run(g, 1, &out), NB_OK, "%s", nb_graph_error(g));
    double v;
    cr_assert_eq(nb_node_read_f64(g, out, &v, 1), NB_OK, "%s", nb_graph_error(g));
    return v;
}

/* Runs n outputs together and reads each into dst (concatenated, in order). */
static void eval_into(nb_graph *g, size_t n, nb_node *const *outs, double *dst)
{
    cr_assert_eq(nb_graph_run(g, n, outs), NB_OK, "%s", nb_graph_error(g));
    for (size_t i = 0; i < n; i++) {
        size_t k = nb_node_size(outs[i]);
        cr_assert_eq(nb_node_read_f64(g, outs[i], dst, k), NB_OK, "%s", nb_graph_error(g));
        dst += k;
    }
}

/* A reproducible sequence in [-1, 1) (a 64-bit LCG), independent of the library. */
static double next_value(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (double)(*state >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

/* True if any input of n is one of the k nodes in set. */
static bool reads_any(const nb_node *n, size_t k, nb_node *const *set)
{
    for (int i = 0; i < nb_node_arity(n); i++) {
        for (size_t j = 0; j < k; j++) {
            if (nb_node_input(n, i) == set[j]) {
                return true;
            }
        }
    }
    return false;
}

/* ---- higher derivatives ---- */

/* Builds x^3 as nb_pow(x, 3) when use_pow, else as (x * x) * x. */
static nb_node *cube(nb_graph *g, nb_node *x, bool use_pow)
{
    return use_pow ? nb_pow(g, x, 3) : nb_mul(g, nb_mul(g, x, x), x);
}

static void check_cube_derivatives(bool use_pow)
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_node *y = cube(g, x, use_pow);
    nb_node *d1, *d2, *d3;
    cr_assert_eq(nb_grad(g, y, 1, &x, &d1), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, d1, 1, &x, &d2), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, d2, 1, &x, &d3), NB_OK, "%s", nb_graph_error(g));
    assert_ok(g);
    cr_assert(nb_node_is_grad(d1) && nb_node_is_grad(d2));
    const double xs[] = { -2.5, -1, 0, 0.5, 1, 3 };
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        set_scalar(g, x, xs[i]);
        double v1 = eval_scalar(g, d1), v2 = eval_scalar(g, d2), v3 = eval_scalar(g, d3);
        cr_assert_float_eq(v1, 3 * xs[i] * xs[i], 1e-12, "x=%g: d/dx x^3 = %g", xs[i], v1);
        cr_assert_float_eq(v2, 6 * xs[i], 1e-12, "x=%g: d2/dx2 x^3 = %g", xs[i], v2);
        cr_assert_float_eq(v3, 6, 1e-12, "x=%g: d3/dx3 x^3 = %g", xs[i], v3);
    }
    nb_graph_free(g);
}

Test(autodiff, second_derivative_of_pow, .description = "d2/dx2 pow(x,3) = 6x, d3/dx3 = 6")
{
    check_cube_derivatives(true);
}

Test(autodiff, second_derivative_of_product, .description = "d2/dx2 (x*x*x) = 6x, d3/dx3 = 6")
{
    check_cube_derivatives(false);
}

/* ---- Hessian-vector product ---- */

/*
 * A small tanh MLP with a squared-error loss (float64):
 * L = sum((tanh(x @ w1 + b1) @ w2 - t)^2), x[4,3], w1[3,5], b1[5], w2[5,2], t[4,2].
 * The parameters and data are written from next_value.
 */
typedef struct mlp {
    nb_node *x, *t, *w[3], *loss;
} mlp;

static mlp build_mlp(nb_graph *g, nb_dtype dt)
{
    mlp m;
    m.x = nb_input(g, dt, NB_SHAPE(4, 3));
    m.t = nb_input(g, dt, NB_SHAPE(4, 2));
    m.w[0] = nb_param(g, dt, NB_SHAPE(3, 5), nb_init_constant(0));
    m.w[1] = nb_param(g, dt, NB_SHAPE(5), nb_init_constant(0));
    m.w[2] = nb_param(g, dt, NB_SHAPE(5, 2), nb_init_constant(0));
    nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, m.x, m.w[0]), m.w[1]));
    nb_node *r = nb_sub(g, nb_matmul(g, h, m.w[2]), m.t);
    m.loss = nb_sum(g, nb_mul(g, r, r));
    assert_ok(g);
    uint64_t state = 42;
    nb_node *leaves[] = { m.x, m.t, m.w[0], m.w[1], m.w[2] };
    for (size_t i = 0; i < 5; i++) {
        double v[32];
        size_t k = nb_node_size(leaves[i]);
        for (size_t j = 0; j < k; j++) {
            v[j] = next_value(&state);
        }
        cr_assert_eq(nb_node_write_f64(g, leaves[i], v, k), NB_OK);
    }
    return m;
}

/* Writes p + s * v into the three parameters (p and v concatenated, 30 elements). */
static void set_params(nb_graph *g, const mlp *m, const double *p, double s, const double *v)
{
    for (size_t i = 0, at = 0; i < 3; i++) {
        double buf[16];
        size_t k = nb_node_size(m->w[i]);
        for (size_t j = 0; j < k; j++) {
            buf[j] = p[at + j] + s * v[at + j];
        }
        cr_assert_eq(nb_node_write_f64(g, m->w[i], buf, k), NB_OK);
        at += k;
    }
}

Test(autodiff, hessian_vector_product,
     .description = "Hv = grad(sum(grad(L, w) * v), w) matches (g(w+eps v) - g(w-eps v)) / 2eps")
{
    enum { N = 15 + 5 + 10 };
    nb_graph *g = new_graph();
    mlp m = build_mlp(g, NB_DTYPE_F64);
    nb_node *gw[3], *v[3], *hv[3];
    cr_assert_eq(nb_grad(g, m.loss, 3, m.w, gw), NB_OK, "%s", nb_graph_error(g));
    nb_node *s = NULL;
    for (int i = 0; i < 3; i++) {
        v[i] = nb_input(g, NB_DTYPE_F64, nb_node_rank(m.w[i]), nb_node_shape(m.w[i]));
        nb_node *term = nb_sum(g, nb_mul(g, gw[i], v[i]));
        s = s ? nb_add(g, s, term) : term;
    }
    cr_assert_eq(nb_grad(g, s, 3, m.w, hv), NB_OK, "%s", nb_graph_error(g));
    assert_ok(g);

    double p[N], dir[N], h[N], gp[N], gm[N];
    uint64_t state = 7;
    for (size_t i = 0, at = 0; i < 3; i++) {
        size_t k = nb_node_size(m.w[i]);
        cr_assert_eq(nb_node_read_f64(g, m.w[i], p + at, k), NB_OK);
        for (size_t j = 0; j < k; j++) {
            dir[at + j] = next_value(&state);
        }
        cr_assert_eq(nb_node_write_f64(g, v[i], dir + at, k), NB_OK);
        at += k;
    }
    eval_into(g, 3, hv, h);

    /* central differences of the gradient along dir; error ~ eps^2, roundoff ~ 1e-16 / eps */
    const double eps = 1e-5;
    set_params(g, &m, p, eps, dir);
    eval_into(g, 3, gw, gp);
    set_params(g, &m, p, -eps, dir);
    eval_into(g, 3, gw, gm);
    set_params(g, &m, p, 0, dir);
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

/* ---- fan-out ---- */

Test(autodiff, fan_out_two_uses, .description = "d/dx (x*x + x) = 2x + 1")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_node *y = nb_add(g, nb_mul(g, x, x), x);
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    const double xs[] = { -3, -0.5, 0, 2 };
    for (size_t i = 0; i < 4; i++) {
        set_scalar(g, x, xs[i]);
        cr_assert_float_eq(eval_scalar(g, dx), 2 * xs[i] + 1, 1e-12, "x=%g", xs[i]);
    }
    nb_graph_free(g);
}

Test(autodiff, fan_out_three_consumers,
     .description = "d/dx (e^x + tanh x + 3x) = e^x + 1 - tanh^2 x + 3, summed by two adds")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *three = nb_scalar(g, NB_DTYPE_F64, 3);
    nb_node *e = nb_exp(g, x), *t = nb_tanh(g, x), *l = nb_mul(g, three, x);
    nb_node *y = nb_sum(g, nb_add(g, nb_add(g, e, t), l));
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    /* the three contributions reach x in reverse id order (l, t, e): add(add(dl, dt), de) */
    cr_assert_str_eq(nb_node_op_name(dx), "add");
    cr_assert_str_eq(nb_node_op_name(nb_node_input(dx, 0)), "add");
    const double xs[3] = { -1, 0.25, 2 };
    cr_assert_eq(nb_node_write_f64(g, x, xs, 3), NB_OK);
    double d[3];
    eval_into(g, 1, &dx, d);
    for (int i = 0; i < 3; i++) {
        double want = exp(xs[i]) + 1 - tanh(xs[i]) * tanh(xs[i]) + 3;
        cr_assert_float_eq(d[i], want, 1e-12, "element %d", i);
    }
    nb_graph_free(g);
}

/* ---- pruning ---- */

Test(autodiff, pruning_skips_unrelated_branch,
     .description = "d/da sum(a*b + c*d) = b builds nothing that reads c, d or c*d")
{
    nb_graph *g = new_graph();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *b = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *c = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *d = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *ab = nb_mul(g, a, b), *cd = nb_mul(g, c, d);
    nb_node *y = nb_sum(g, nb_add(g, ab, cd));
    assert_ok(g);
    size_t before = nb_graph_node_count(g);
    nb_node *da;
    cr_assert_eq(nb_grad(g, y, 1, &a, &da), NB_OK, "%s", nb_graph_error(g));
    size_t after = nb_graph_node_count(g);
    /*
     * Expected: const 1 (the seed dy/dy), broadcast_to (sum's gradient, 1 to [3]),
     * mul (broadcast * b, the gradient of a*b for a). add passes dy through.
     */
    cr_assert_eq(after - before, 3, "nb_grad appended %zu nodes", after - before);
    nb_node *unrelated[] = { c, d, cd };
    for (size_t id = before; id < after; id++) {
        nb_node *n = nb_graph_node(g, id);
        cr_assert(nb_node_is_grad(n), "node %zu (%s) is not flagged", id, nb_node_name(n));
        cr_assert_not(reads_any(n, 3, unrelated), "gradient node %s reads the c*d branch",
                      nb_node_name(n));
    }
    cr_assert_str_eq(nb_node_op_name(nb_graph_node(g, before)), "const");
    cr_assert_str_eq(nb_node_op_name(nb_graph_node(g, before + 1)), "broadcast_to");
    cr_assert_eq(da, nb_graph_node(g, before + 2));
    cr_assert_str_eq(nb_node_op_name(da), "mul");
    cr_assert(reads_any(da, 1, &b), "d/da (a*b) must read b");

    const double bv[3] = { 1.5, -2, 4 };
    cr_assert_eq(nb_node_write_f64(g, b, bv, 3), NB_OK);
    double out[3];
    eval_into(g, 1, &da, out);
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(out[i], bv[i], 0);
    }

    /* the other branch appears once c is asked for, and only its nodes read c's partner */
    size_t mark = nb_graph_node_count(g);
    nb_node *dc;
    cr_assert_eq(nb_grad(g, y, 1, &c, &dc), NB_OK, "%s", nb_graph_error(g));
    nb_node *other[] = { a, b, ab };
    for (size_t id = mark; id < nb_graph_node_count(g); id++) {
        cr_assert_not(reads_any(nb_graph_node(g, id), 3, other));
    }
    cr_assert(reads_any(dc, 1, &d));
    nb_graph_free(g);
}

Test(autodiff, pruning_skips_consumers_of_the_output,
     .description = "nodes built after y, or not leading to y, get no gradient")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_node *side = nb_exp(g, x); /* depends on x but y does not use it */
    nb_node *y = nb_tanh(g, x);
    nb_node *after_y = nb_log(g, y); /* consumes y, later than y */
    assert_ok(g);
    size_t before = nb_graph_node_count(g);
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    nb_node *unrelated[] = { side, after_y };
    for (size_t id = before; id < nb_graph_node_count(g); id++) {
        cr_assert_not(reads_any(nb_graph_node(g, id), 2, unrelated));
    }
    set_scalar(g, x, 0.5);
    cr_assert_float_eq(eval_scalar(g, dx), 1 - tanh(0.5) * tanh(0.5), 1e-12);
    nb_graph_free(g);
}

/* ---- zero gradients, identity, flags, names, scopes ---- */

Test(autodiff, unrelated_wrt_gets_zero_fill,
     .description = "dy/du for u not used by y is a fill node of zeros, not an error")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *u =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 3), nb_init_constant(5)), "u");
    nb_node *y = nb_sum(g, nb_tanh(g, x));
    nb_node *wrt[2] = { u, x }, *d[2];
    cr_assert_eq(nb_grad(g, y, 2, wrt, d), NB_OK, "%s", nb_graph_error(g));
    assert_ok(g);
    cr_assert_str_eq(nb_node_op_name(d[0]), "fill");
    cr_assert_eq(nb_node_arity(d[0]), 0);
    cr_assert_eq(nb_node_rank(d[0]), 2);
    cr_assert_eq(nb_node_shape(d[0])[0], 2);
    cr_assert_eq(nb_node_shape(d[0])[1], 3);
    cr_assert_eq(nb_node_dtype(d[0]), NB_DTYPE_F64);
    cr_assert(nb_node_is_grad(d[0]));
    cr_assert_str_eq(nb_node_name(d[0]), "grad_u");
    double z[6];
    for (int i = 0; i < 6; i++) {
        z[i] = -1;
    }
    eval_into(g, 1, &d[0], z);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(z[i], 0.0, "element %d is %g", i, z[i]);
    }
    cr_assert_str_neq(nb_node_op_name(d[1]), "fill");
    nb_graph_free(g);
}

Test(autodiff, unrelated_wrt_built_after_output, .description = "a wrt node newer than y")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_node *y = nb_exp(g, x);
    nb_node *later = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4));
    nb_node *d;
    cr_assert_eq(nb_grad(g, y, 1, &later, &d), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_op_name(d), "fill");
    double z[4] = { 1, 1, 1, 1 };
    eval_into(g, 1, &d, z);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(z[i], 0.0);
    }
    nb_graph_free(g);
}

Test(autodiff, grad_of_output_by_itself_is_one, .description = "dy/dy = 1")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *y = nb_sum(g, nb_tanh(g, x));
    nb_node *d;
    cr_assert_eq(nb_grad(g, y, 1, &y, &d), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_rank(d), 0);
    cr_assert(nb_node_is_grad(d));
    cr_assert_float_eq(eval_scalar(g, d), 1.0, 0);
    nb_graph_free(g);
}

Test(autodiff, grad_nodes_flagged_named_and_scoped,
     .description = "gradient nodes are flagged, named grad_w, in scope grad:<name>")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "x");
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0.5)), "w");
    nb_scope_push(g, "logistic_regression");
    nb_node *y = nb_node_set_name(g, nb_sigmoid(g, nb_sum(g, nb_mul(g, w, x))), "y");
    nb_scope_pop(g);
    assert_ok(g);
    size_t before = nb_graph_node_count(g);
    for (size_t id = 0; id < before; id++) {
        cr_assert_not(nb_node_is_grad(nb_graph_node(g, id)));
    }
    cr_assert_str_eq(nb_node_scope(y), "logistic_regression");
    cr_assert_null(nb_node_scope(x));

    nb_node *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_name(dw), "grad_w");
    cr_assert_eq(nb_graph_find(g, "grad_w"), dw);
    size_t in_mirror = 0, seeds = 0;
    for (size_t id = before; id < nb_graph_node_count(g); id++) {
        nb_node *n = nb_graph_node(g, id);
        cr_assert(nb_node_is_grad(n), "%s", nb_node_name(n));
        const char *s = nb_node_scope(n);
        if (nb_node_kind(n) == NB_KIND_OP) {
            /* every op of the sweep differentiates a node of logistic_regression */
            cr_assert_not_null(s, "%s has no scope", nb_node_name(n));
            cr_assert_str_eq(s, "grad:logistic_regression");
            in_mirror++;
        } else if (s) {
            /* the seed dy/dy = 1 is y's own, in y's mirror scope */
            cr_assert_str_eq(s, "grad:logistic_regression");
            seeds++;
        }
        /* and every other constant is shared and belongs to no scope */
    }
    cr_assert_eq(seeds, 1);
    cr_assert_geq(in_mirror, 3);
    cr_assert_str_eq(nb_node_scope(dw), "grad:logistic_regression");
    /* the forward nodes are untouched */
    cr_assert_str_eq(nb_node_scope(y), "logistic_regression");
    cr_assert_not(nb_node_is_grad(y));

    /* and the gradient is right: dy/dw = y (1 - y) x */
    const double xs[3] = { 1, 2, -1 };
    cr_assert_eq(nb_node_write_f64(g, x, xs, 3), NB_OK);
    nb_node *outs[2] = { y, dw };
    double v[4];
    eval_into(g, 2, outs, v);
    double yv = 1 / (1 + exp(-0.5 * 2)); /* w.x = 0.5 (1 + 2 - 1) = 1 */
    cr_assert_float_eq(v[0], yv, 1e-15);
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(v[1 + i], yv * (1 - yv) * xs[i], 1e-15);
    }
    nb_graph_free(g);
}

Test(autodiff, gradient_names_stay_unique,
     .description = "grad_x, then grad_x_2, grad_x_3; a name the user took is skipped")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, 0, NULL, nb_init_constant(2)), "x");
    nb_node *y = nb_mul(g, nb_mul(g, x, x), x);
    nb_node *d1, *d2, *d3, *again;
    cr_assert_eq(nb_grad(g, y, 1, &x, &d1), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, d1, 1, &x, &d2), NB_OK, "%s", nb_graph_error(g));
    nb_node_set_name(g, nb_neg(g, x), "grad_x_3"); /* the user's node takes the next name */
    cr_assert_eq(nb_grad(g, d2, 1, &x, &d3), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, y, 1, &x, &again), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_name(d1), "grad_x");
    cr_assert_str_eq(nb_node_name(d2), "grad_x_2");
    cr_assert_str_eq(nb_node_name(d3), "grad_x_4");
    cr_assert_str_eq(nb_node_name(again), "grad_x_5");
    cr_assert_eq(nb_graph_find(g, "grad_x_2"), d2);
    cr_assert_eq(nb_graph_find(g, "grad_x_4"), d3);
    /* and the values: 3x², 6x, 6 at x = 2 */
    nb_node *outs[4] = { d1, d2, d3, again };
    double v[4];
    eval_into(g, 4, outs, v);
    cr_assert_float_eq(v[0], 12, 1e-12);
    cr_assert_float_eq(v[1], 12, 1e-12);
    cr_assert_float_eq(v[2], 6, 1e-12);
    cr_assert_float_eq(v[3], 12, 1e-12);
    nb_graph_free(g);
}

Test(autodiff, relu_gradient_masks_even_nan,
     .description = "relu's rule is relu_grad(y, dy): 0 where x <= 0 even when dy is NaN")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(4)), "x");
    nb_node *c = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(4)), "c");
    nb_node *r = nb_relu(g, x);
    nb_node *y = nb_sum(g, nb_mul(g, r, c));
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_op_name(dx), "relu_grad");
    cr_assert_eq(nb_node_input(dx, 0), r, "the rule reads relu's output, not its input");
    const double xs[4] = { -1, 2, -3, 4 }, cs[4] = { NAN, 1, INFINITY, 3 };
    cr_assert_eq(nb_node_write_f64(g, x, xs, 4), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, c, cs, 4), NB_OK);
    double v[4];
    eval_into(g, 1, &dx, v);
    const double want[4] = { 0, 1, 0, 3 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(v[i], want[i], "dx[%d] = %g, want %g", i, v[i], want[i]);
    }

    /* second order: linear in dy, nothing through y */
    nb_node *dxc, *dxx;
    nb_node *s = nb_sum(g, dx);
    cr_assert_eq(nb_grad(g, s, 1, &c, &dxc), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, s, 1, &x, &dxx), NB_OK, "%s", nb_graph_error(g));
    const double finite[4] = { 5, 1, 2, 3 };
    cr_assert_eq(nb_node_write_f64(g, c, finite, 4), NB_OK);
    double w[8];
    nb_node *outs[2] = { dxc, dxx };
    eval_into(g, 2, outs, w);
    const double want2[8] = { 0, 1, 0, 1, 0, 0, 0, 0 };
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(w[i], want2[i], "second order [%d] = %g, want %g", i, w[i], want2[i]);
    }
    nb_graph_free(g);
}

Test(autodiff, nested_scopes_mirror_nested,
     .description = "gradients of scoped nodes live in grad:inner under grad:outer")
{
    nb_graph *g = new_graph();
    nb_node *x = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(0.3));
    nb_scope_push(g, "outer");
    nb_node *a = nb_exp(g, x);
    nb_scope_push(g, "inner");
    nb_node *b = nb_tanh(g, a);
    nb_scope_pop(g);
    nb_node *y = nb_sum(g, b);
    nb_scope_pop(g);
    assert_ok(g);
    size_t before = nb_graph_node_count(g);
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    bool saw_inner = false, saw_outer = false;
    for (size_t id = before; id < nb_graph_node_count(g); id++) {
        const char *s = nb_node_scope(nb_graph_node(g, id));
        if (!s) {
            continue;
        }
        cr_assert(strcmp(s, "grad:inner") == 0 || strcmp(s, "grad:outer") == 0, "%s", s);
        saw_inner |= strcmp(s, "grad:inner") == 0;
        saw_outer |= strcmp(s, "grad:outer") == 0;
    }
    cr_assert(saw_inner && saw_outer);
    /* the last step (through exp, which is in outer) is in grad:outer */
    cr_assert_str_eq(nb_node_scope(dx), "grad:outer");
    nb_graph_free(g);
}

Test(autodiff, program_constant_one_is_not_folded,
     .description = "d/dx (tanh x * c) follows c after nb_node_write changes it from 1 to 2")
{
    /*
     * The adjoint of tanh x is c itself. nb_grad skips "1 * local" only for
     * its own seed constant; a program's constant holding 1 may be rewritten.
     */
    nb_graph *g = new_graph();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_node *c = nb_scalar(g, NB_DTYPE_F64, 1.0);
    nb_node *y = nb_mul(g, nb_tanh(g, x), c);
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    set_scalar(g, x, 0.5);
    set_scalar(g, c, 2.0);
    cr_assert_float_eq(eval_scalar(g, y), 2 * tanh(0.5), 1e-15);
    cr_assert_float_eq(eval_scalar(g, dx), 2 * (1 - tanh(0.5) * tanh(0.5)), 1e-15);
    nb_graph_free(g);
}

/* ---- float32 ---- */

Test(autodiff, float32_matches_float64, .description = "MLP gradients in f32 agree with f64")
{
    nb_graph *g64 = new_graph(), *g32 = new_graph();
    mlp m64 = build_mlp(g64, NB_DTYPE_F64), m32 = build_mlp(g32, NB_DTYPE_F32);
    nb_node *d64[3], *d32[3];
    cr_assert_eq(nb_grad(g64, m64.loss, 3, m64.w, d64), NB_OK, "%s", nb_graph_error(g64));
    cr_assert_eq(nb_grad(g32, m32.loss, 3, m32.w, d32), NB_OK, "%s", nb_graph_error(g32));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(nb_node_dtype(d32[i]), NB_DTYPE_F32);
    }
    double a[30], b[30];
    eval_into(g64, 3, d64, a);
    eval_into(g32, 3, d32, b);
    for (int i = 0; i < 30; i++) {
        /* float32 has ~7 digits; a few dozen roundings in the chain leave ~1e-5 */
        cr_assert(fabs(a[i] - b[i]) <= 1e-4 * fabs(a[i]) + 1e-5, "element %d: f64 %.9g f32 %.9g", i,
                  a[i], b[i]);
    }
    nb_graph_free(g64);
    nb_graph_free(g32);
}

/* ---- gradcheck on a composite model ---- */

/*
 * An MLP classifier, float64: logits = tanh(x @ w1 + b1) @ w2 + b2, x[5,4],
 * w1[4,6], b1[6], w2[6,3], b2[3], labels[5] in 0..2. The loss is the fused
 * nb_cross_entropy when fused, else the composed -mean(sum(one_hot * log softmax)).
 */
static nb_node *classifier(nb_graph *g, bool fused, nb_node **params)
{
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(5, 4));
    nb_node *labels = nb_input(g, NB_DTYPE_I32, NB_SHAPE(5));
    params[0] = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4, 6), nb_init_xavier_normal());
    params[1] = nb_param(g, NB_DTYPE_F64, NB_SHAPE(6), nb_init_normal(0, 0.5));
    params[2] = nb_param(g, NB_DTYPE_F64, NB_SHAPE(6, 3), nb_init_xavier_normal());
    params[3] = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_normal(0, 0.5));
    nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, params[0]), params[1]));
    nb_node *logits = nb_add(g, nb_matmul(g, h, params[2]), params[3]);
    nb_node *loss;
    if (fused) {
        loss = nb_cross_entropy(g, logits, labels);
    } else {
        nb_node *p = nb_softmax(g, logits, 1);
        nb_node *picked = nb_mul(g, nb_one_hot(g, labels, 3, NB_DTYPE_F64), nb_log(g, p));
        loss = nb_neg(g, nb_mean(g, nb_sum_axis(g, picked, 1, false)));
    }
    assert_ok(g);
    uint64_t state = 3;
    double xs[20];
    for (int i = 0; i < 20; i++) {
        xs[i] = 2 * next_value(&state);
    }
    const double ls[5] = { 0, 2, 1, 1, 0 };
    cr_assert_eq(nb_node_write_f64(g, x, xs, 20), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, labels, ls, 5), NB_OK);
    return loss;
}

static void check_classifier(bool fused)
{
    nb_graph *g = new_graph();
    nb_node *w[4];
    nb_node *loss = classifier(g, fused, w);
    double saved[4][24];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(nb_node_read_f64(g, w[i], saved[i], nb_node_size(w[i])), NB_OK);
    }
    nb_gradcheck_result r[4];
    nb_gradcheck_options o = nb_gradcheck_defaults();
    cr_assert_eq(nb_gradcheck(g, loss, 4, w, &o, r), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 4; i++) {
        cr_assert(r[i].passed, "param %d: element %zu analytic %.10g numeric %.10g (rel %.3g)", i,
                  r[i].worst_index, r[i].analytic, r[i].numeric, r[i].max_rel_err);
        cr_assert_lt(r[i].max_abs_err, 1e-7);
        double now[24];
        cr_assert_eq(nb_node_read_f64(g, w[i], now, nb_node_size(w[i])), NB_OK);
        cr_assert_eq(memcmp(now, saved[i], nb_node_size(w[i]) * sizeof(double)), 0,
                     "param %d was not restored", i);
    }
    nb_graph_free(g);
}

Test(autodiff, gradcheck_mlp_cross_entropy,
     .description = "gradcheck passes on tanh MLP + nb_cross_entropy; leaves restored")
{
    check_classifier(true);
}

Test(autodiff, gradcheck_mlp_composed_softmax,
     .description = "gradcheck passes on tanh MLP + -mean(sum(one_hot * log softmax))")
{
    check_classifier(false);
}

Test(autodiff, gradcheck_second_order,
     .description = "gradcheck of the HVP's inner gradient: d/dw sum(grad(L, w) * v)")
{
    nb_graph *g = new_graph();
    mlp m = build_mlp(g, NB_DTYPE_F64);
    nb_node *gw[3];
    cr_assert_eq(nb_grad(g, m.loss, 3, m.w, gw), NB_OK, "%s", nb_graph_error(g));
    nb_node *v = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3, 5), nb_init_uniform(-1, 1));
    nb_node *s = nb_sum(g, nb_mul(g, gw[0], v));
    nb_gradcheck_result r[3];
    cr_assert_eq(nb_gradcheck(g, s, 3, m.w, NULL, r), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 3; i++) {
        cr_assert(r[i].passed, "param %d: element %zu analytic %.10g numeric %.10g", i,
                  r[i].worst_index, r[i].analytic, r[i].numeric);
    }
    nb_graph_free(g);
}
