/*
 * tests/test_ops_grad.c: every differentiable op's gradient rule, checked by
 * the library's float64 central-difference checker (nb_gradcheck) on every
 * case of tests/op_cases.h; the zero gradient of the piecewise-constant ops;
 * the subgradient conventions; proof that the checker rejects a wrong
 * gradient; and the coverage test that keeps the case table complete.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <nabla.h>

#include <math.h>
#include <string.h>

#include "op_cases.h"

/* A constant of y's shape holding opc_weight(0), opc_weight(1), ... */
static nb_node *weights_like(nb_graph *g, nb_node *y)
{
    size_t n = nb_node_size(y);
    double w[4096];
    cr_assert(n <= sizeof w / sizeof w[0]);
    for (size_t i = 0; i < n; i++) {
        w[i] = opc_weight(i);
    }
    return nb_const(g, NB_DTYPE_F64, nb_node_rank(y), nb_node_shape(y), w);
}

/* sum(y * w): a scalar that sees every element of y through its own weight. */
static nb_node *weighted_sum(nb_graph *g, nb_node *y)
{
    return nb_sum(g, nb_mul(g, y, weights_like(g, y)));
}

/* Runs nb_grad of y with respect to x and reads the gradient into dx (count values). */
static nb_node *grad_values(nb_graph *g, nb_node *y, nb_node *x, double *dx, size_t count)
{
    nb_node *d = NULL;
    cr_assert_eq(nb_grad(g, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, 1, &d), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, d, dx, count), NB_OK, "%s", nb_graph_error(g));
    return d;
}

static nb_node *input_f64(nb_graph *g, int rank, const int64_t *shape, const double *values)
{
    nb_node *x = nb_input(g, NB_DTYPE_F64, rank, shape);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write_f64(g, x, values, nb_node_size(x)), NB_OK);
    return x;
}

static bool is_differentiable(const char *op)
{
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        cr_assert(nb_op_info_get(i, &info));
        if (strcmp(info.name, op) == 0) {
            return info.differentiable;
        }
    }
    cr_assert_fail("op %s is not in the op table", op);
    return false;
}

/* ---- every case of the table ---- */

static size_t grad_index[OP_CASE_COUNT];

ParameterizedTestParameters(ops_grad, matches_central_differences)
{
    size_t n = 0;
    for (size_t i = 0; i < OP_CASE_COUNT; i++) {
        if (opc_is_grad_case(&op_cases[i])) {
            grad_index[n++] = i;
        }
    }
    return cr_make_param_array(size_t, grad_index, n);
}

ParameterizedTest(size_t *i, ops_grad, matches_central_differences,
                  .description = "for each op_cases.h row with a floating input, nb_grad of "
                                 "sum(op(x) * w) matches (f(x+eps) - f(x-eps)) / 2eps in float64 "
                                 "for every element of every floating input (eps 1e-6, rtol 1e-5, "
                                 "atol 1e-7)")
{
    const op_case *c = &op_cases[*i];
    nb_graph *g = nb_graph_new();
    nb_node *leaves[OPC_MAX_IN] = { NULL };
    nb_node *out = opc_build(g, c, NB_DTYPE_F64, leaves);
    nb_node *y = out ? weighted_sum(g, out) : NULL;
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s: %s", c->name, nb_graph_error(g));

    nb_node *wrt[OPC_MAX_IN];
    int which[OPC_MAX_IN];
    size_t n = 0;
    for (int k = 0; k < opc_arity(c); k++) {
        if (!c->in[k].labels) {
            which[n] = k;
            wrt[n++] = leaves[k];
        }
    }
    cr_assert_gt(n, 0);
    nb_gradcheck_options opts = nb_gradcheck_defaults();
    nb_gradcheck_result res[OPC_MAX_IN];
    cr_assert_eq(nb_gradcheck(g, y, n, wrt, &opts, res), NB_OK, "%s: %s", c->name,
                 nb_graph_error(g));
    for (size_t k = 0; k < n; k++) {
        cr_expect(res[k].passed,
                  "%s: d/d(input %d) element %zu: analytic %.12g, numeric %.12g "
                  "(max abs error %.3g, max rel error %.3g)",
                  c->name, which[k], res[k].worst_index, res[k].analytic, res[k].numeric,
                  res[k].max_abs_err, res[k].max_rel_err);
    }
    nb_graph_free(g);
}

/* ---- the ops whose gradient is zero ---- */

Test(ops_grad, nondifferentiable_set_is_exactly_the_piecewise_constant_ops,
     .description =
         "the op table marks exactly sign, step, argmax_mask, one_hot, fill, "
         "greater, less, equal, argmax, max_pool_index and stop_gradient (and the leaves) "
         "as having no gradient rule")
{
    const char *expected[] = { "sign",   "step",           "argmax_mask",  "one_hot",
                               "fill",   "greater",        "less",         "equal",
                               "argmax", "max_pool_index", "stop_gradient" };
    size_t found = 0;
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        cr_assert(nb_op_info_get(i, &info));
        if (info.leaf || info.differentiable) {
            continue;
        }
        bool listed = false;
        for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
            listed |= strcmp(info.name, expected[k]) == 0;
        }
        cr_expect(listed, "op %s unexpectedly has no gradient rule", info.name);
        found++;
    }
    cr_expect_eq(found, sizeof expected / sizeof expected[0]);
}

Test(ops_grad, sign_passes_zero_gradient,
     .description = "y = sum(sign(x) * c) = -1.9 at x = (-1.5, 0.5, 2, -0.25); dy/dx = 0")
{
    nb_graph *g = nb_graph_new();
    double xs[4] = { -1.5, 0.5, 2.0, -0.25 }, cs[4] = { 0.3, -0.7, 1.1, 2.0 };
    nb_node *x = input_f64(g, NB_SHAPE(4), xs);
    nb_node *y = nb_sum(g, nb_mul(g, nb_sign(g, x), nb_const(g, NB_DTYPE_F64, NB_SHAPE(4), cs)));
    double dx[4] = { 1, 1, 1, 1 }, v;
    grad_values(g, y, x, dx, 4);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    nb_node_read_f64(g, y, &v, 1);
    cr_expect(fabs(v - -1.9) < 1e-15, "y = %.17g", v);
    for (int i = 0; i < 4; i++) {
        cr_expect(dx[i] == 0, "dx[%d] = %g", i, dx[i]);
    }
    nb_graph_free(g);
}

Test(ops_grad, step_passes_zero_gradient,
     .description = "y = sum(step(x) * c) = 0.4 at x = (-1.5, 0.5, 2, -0.25); dy/dx = 0")
{
    nb_graph *g = nb_graph_new();
    double xs[4] = { -1.5, 0.5, 2.0, -0.25 }, cs[4] = { 0.3, -0.7, 1.1, 2.0 };
    nb_node *x = input_f64(g, NB_SHAPE(4), xs);
    nb_node *y = nb_sum(g, nb_mul(g, nb_step(g, x), nb_const(g, NB_DTYPE_F64, NB_SHAPE(4), cs)));
    double dx[4] = { 1, 1, 1, 1 }, v;
    grad_values(g, y, x, dx, 4);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    nb_node_read_f64(g, y, &v, 1);
    cr_expect(fabs(v - 0.4) < 1e-15, "y = %.17g", v);
    for (int i = 0; i < 4; i++) {
        cr_expect(dx[i] == 0, "dx[%d] = %g", i, dx[i]);
    }
    nb_graph_free(g);
}

Test(ops_grad, argmax_mask_passes_zero_gradient,
     .description = "y = sum(argmax_mask(x, 1) * c) picks c at each row's maximum; dy/dx = 0")
{
    nb_graph *g = nb_graph_new();
    double xs[6] = { 0.5, 2.0, -1.0, 3.0, 1.0, 2.5 }, cs[6] = { 1, 2, 3, 4, 5, 6 };
    nb_node *x = input_f64(g, NB_SHAPE(2, 3), xs);
    nb_node *c = nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 3), cs);
    nb_node *y = nb_sum(g, nb_mul(g, nb_argmax_mask(g, x, 1), c));
    double dx[6] = { 1, 1, 1, 1, 1, 1 }, v;
    grad_values(g, y, x, dx, 6);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    nb_node_read_f64(g, y, &v, 1);
    cr_expect_eq(v, 2.0 + 4.0, "y = %.17g", v);
    for (int i = 0; i < 6; i++) {
        cr_expect(dx[i] == 0, "dx[%d] = %g", i, dx[i]);
    }
    nb_graph_free(g);
}

Test(ops_grad, one_hot_is_a_constant_factor,
     .description = "labels are integers: d/dx sum(one_hot(l, 3) * x) = one_hot(l, 3) for "
                    "l = (2, 0, 1)")
{
    nb_graph *g = nb_graph_new();
    int32_t ls[3] = { 2, 0, 1 };
    double xs[9] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9 };
    nb_node *l = nb_const(g, NB_DTYPE_I32, NB_SHAPE(3), ls);
    nb_node *x = input_f64(g, NB_SHAPE(3, 3), xs);
    nb_node *y = nb_sum(g, nb_mul(g, nb_one_hot(g, l, 3, NB_DTYPE_F64), x));
    double dx[9];
    grad_values(g, y, x, dx, 9);
    const double want[9] = { 0, 0, 1, 1, 0, 0, 0, 1, 0 };
    for (int i = 0; i < 9; i++) {
        cr_expect_eq(dx[i], want[i], "dx[%d] = %g, want %g", i, dx[i], want[i]);
    }
    nb_graph_free(g);
}

Test(ops_grad, fill_is_a_constant,
     .description = "d/dx sum(x * fill(2.5)) = 2.5; d/dx sum(fill(2.5)) = 0, stated as a fill "
                    "node")
{
    nb_graph *g = nb_graph_new();
    double xs[4] = { -1, 0.5, 2, 3 };
    nb_node *x = input_f64(g, NB_SHAPE(2, 2), xs);
    nb_node *f = nb_fill(g, NB_DTYPE_F64, NB_SHAPE(2, 2), 2.5);
    nb_node *y = nb_sum(g, nb_mul(g, x, f));
    double dx[4];
    grad_values(g, y, x, dx, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(dx[i], 2.5, "dx[%d] = %g", i, dx[i]);
    }
    nb_node *z = nb_sum(g, nb_fill(g, NB_DTYPE_F64, NB_SHAPE(2, 2), 2.5));
    nb_node *dz = grad_values(g, z, x, dx, 4);
    cr_expect_str_eq(nb_node_op_name(dz), "fill");
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(dx[i], 0, "dz/dx[%d] = %g", i, dx[i]);
    }
    nb_graph_free(g);
}

Test(ops_grad, nondifferentiable_rows_give_exact_zero,
     .description = "for every op_cases.h row of an op without a gradient rule that has a "
                    "floating input (ties and zeros included), nb_grad of sum(op(x) * w) is "
                    "exactly 0")
{
    size_t checked = 0;
    for (size_t r = 0; r < OP_CASE_COUNT; r++) {
        const op_case *c = &op_cases[r];
        /* an i32 output cannot be weighted; test_ops_gather.c covers argmax's gradient */
        if (is_differentiable(c->op) || !opc_has_float_input(c) || (c->mode & OPC_INT_OUT)) {
            continue;
        }
        nb_graph *g = nb_graph_new();
        nb_node *leaves[OPC_MAX_IN] = { NULL };
        nb_node *y = weighted_sum(g, opc_build(g, c, NB_DTYPE_F64, leaves));
        cr_assert_eq(nb_graph_status(g), NB_OK, "%s: %s", c->name, nb_graph_error(g));
        for (int k = 0; k < opc_arity(c); k++) {
            if (c->in[k].labels) {
                continue;
            }
            double dx[64];
            cr_assert(c->in[k].n <= 64);
            grad_values(g, y, leaves[k], dx, c->in[k].n);
            for (size_t i = 0; i < c->in[k].n; i++) {
                cr_expect(dx[i] == 0, "%s: d/d(input %d)[%zu] = %g", c->name, k, i, dx[i]);
            }
        }
        nb_graph_free(g);
        checked++;
    }
    cr_expect_geq(checked, 3, "only %zu rows checked", checked);
}

/* ---- subgradient conventions at kinks ---- */

Test(ops_grad, relu_gradient_at_zero_is_zero,
     .description = "d/dx sum(relu(x)) at x = (-1, 0, 2) is (0, 0, 1): 0 at 0, as PyTorch")
{
    nb_graph *g = nb_graph_new();
    double xs[3] = { -1, 0, 2 }, dx[3];
    nb_node *x = input_f64(g, NB_SHAPE(3), xs);
    grad_values(g, nb_sum(g, nb_relu(g, x)), x, dx, 3);
    cr_expect_eq(dx[0], 0);
    cr_expect_eq(dx[1], 0);
    cr_expect_eq(dx[2], 1);
    nb_graph_free(g);
}

Test(ops_grad, abs_gradient_at_zero_is_zero,
     .description = "d/dx sum(|x|) at x = (-1, 0, 2) is (-1, 0, 1): sign(x), 0 at 0")
{
    nb_graph *g = nb_graph_new();
    double xs[3] = { -1, 0, 2 }, dx[3];
    nb_node *x = input_f64(g, NB_SHAPE(3), xs);
    grad_values(g, nb_sum(g, nb_abs(g, x)), x, dx, 3);
    cr_expect_eq(dx[0], -1);
    cr_expect_eq(dx[1], 0);
    cr_expect_eq(dx[2], 1);
    nb_graph_free(g);
}

Test(ops_grad, max_tie_sends_gradient_to_first_argmax,
     .description = "d/dx sum(max(x, axis 1)) with rows (1.5, -2, 1.5) and (0.5, 0.5, 0.25) "
                    "is 1 at each row's first maximum only")
{
    nb_graph *g = nb_graph_new();
    double xs[6] = { 1.5, -2.0, 1.5, 0.5, 0.5, 0.25 }, dx[6];
    nb_node *x = input_f64(g, NB_SHAPE(2, 3), xs);
    grad_values(g, nb_sum(g, nb_max_axis(g, x, 1, false)), x, dx, 6);
    const double want[6] = { 1, 0, 0, 1, 0, 0 };
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(dx[i], want[i], "dx[%d] = %g, want %g", i, dx[i], want[i]);
    }
    nb_graph_free(g);
}

/*
 * The gradient of sum(op(a) @ op(b)) takes matmul's rank-one shortcut (row and
 * column sums instead of GEMMs against a ones-matrix): check it for every
 * transpose layout, including the scaled form sum(...) * 3.
 */
Test(ops_grad, matmul_under_sum_uses_row_and_column_sums_for_every_layout,
     .description = "d/da, d/db of sum(op(a) @ op(b)) and 3 sum(...), op in {id, T}")
{
    const double as[6] = { 0.3, -1.1, 2.0, 0.7, -0.4, 1.5 };
    const double bs[12] = { 1.2, -0.5, 0.8, 2.2, -1.3, 0.4, 0.9, -0.7, 1.1, 0.6, -0.2, 1.4 };
    for (int flags = 0; flags < 4; flags++) {
        for (int scaled = 0; scaled < 2; scaled++) {
            nb_graph *g = nb_graph_new();
            nb_node *a = flags & NB_TRANS_A ? input_f64(g, NB_SHAPE(3, 2), as)
                                            : input_f64(g, NB_SHAPE(2, 3), as);
            nb_node *b = flags & NB_TRANS_B ? input_f64(g, NB_SHAPE(4, 3), bs)
                                            : input_f64(g, NB_SHAPE(3, 4), bs);
            nb_node *y = nb_sum(g, nb_matmul_ex(g, a, b, flags));
            if (scaled) {
                y = nb_mul(g, y, nb_scalar(g, NB_DTYPE_F64, 3.0));
            }
            nb_node *wrt[2] = { a, b }, *grads[2];
            cr_assert_eq(nb_grad(g, y, 2, wrt, grads), NB_OK, "%s", nb_graph_error(g));
            /* no GEMM in the backward pass: every matmul node is the forward one */
            size_t matmuls = 0;
            for (size_t i = 0; i < nb_graph_node_count(g); i++) {
                matmuls += strcmp(nb_node_op_name(nb_graph_node(g, i)), "matmul") == 0;
            }
            cr_expect_eq(matmuls, 1, "flags %d: %zu matmul nodes", flags, matmuls);
            nb_gradcheck_options o = nb_gradcheck_defaults();
            o.grads = grads;
            nb_gradcheck_result r[2];
            cr_assert_eq(nb_gradcheck(g, y, 2, wrt, &o, r), NB_OK, "%s", nb_graph_error(g));
            cr_expect(r[0].passed && r[1].passed, "flags %d scaled %d: rel errors %g %g", flags,
                      scaled, r[0].max_rel_err, r[1].max_rel_err);
            nb_graph_free(g);
        }
    }
}

/* ---- the checker itself ---- */

/* Checks y = sum(x^3) at x = (0.5, -1.2, 2, 1.7) against the given gradient node. */
static nb_gradcheck_result check_cube(double factor, double power)
{
    nb_graph *g = nb_graph_new();
    double xs[4] = { 0.5, -1.2, 2.0, 1.7 };
    nb_node *x = input_f64(g, NB_SHAPE(4), xs);
    nb_node *y = nb_sum(g, nb_pow(g, x, 3));
    nb_node *dx = nb_mul(g, nb_scalar(g, NB_DTYPE_F64, factor), nb_pow(g, x, power));
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    nb_gradcheck_options opts = nb_gradcheck_defaults();
    opts.grads = &dx;
    nb_gradcheck_result res;
    cr_assert_eq(nb_gradcheck(g, y, 1, &x, &opts, &res), NB_OK, "%s", nb_graph_error(g));
    nb_graph_free(g);
    return res;
}

Test(gradcheck, accepts_the_right_gradient, .description = "d/dx sum(x^3) = 3x^2 passes")
{
    nb_gradcheck_result r = check_cube(3.0, 2);
    cr_expect(r.passed, "max abs error %g", r.max_abs_err);
    cr_expect_lt(r.max_rel_err, 1e-8);
}

Test(gradcheck, rejects_a_gradient_off_by_one_part_in_a_thousand,
     .description = "3x^2 * 1.001 for d/dx sum(x^3) fails, relative error 1e-3")
{
    nb_gradcheck_result r = check_cube(3.0 * 1.001, 2);
    cr_expect_not(r.passed);
    cr_expect(fabs(r.max_rel_err - 1e-3 / 1.001) < 1e-6, "max rel error %g", r.max_rel_err);
    /* the worst element is the largest, x = 2: analytic 12.012, numeric 12 */
    cr_expect_eq(r.worst_index, 2);
    cr_expect(fabs(r.analytic - 12.012) < 1e-9, "analytic %.12g", r.analytic);
    cr_expect(fabs(r.numeric - 12.0) < 1e-6, "numeric %.12g", r.numeric);
}

Test(gradcheck, rejects_a_wrong_factor, .description = "2x^2 for d/dx sum(x^3) = 3x^2 fails")
{
    nb_gradcheck_result r = check_cube(2.0, 2);
    cr_expect_not(r.passed);
    cr_expect(fabs(r.max_rel_err - 1.0 / 3.0) < 1e-6, "max rel error %g", r.max_rel_err);
}

/* ---- coverage: the table must grow with the op table ---- */

Test(op_cases, every_op_has_forward_and_gradient_cases,
     .description = "each non-leaf op of nb_op_info_get has a forward row in op_cases.h, and "
                    "each differentiable one a gradient-checked row")
{
    size_t ops = 0;
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        cr_assert(nb_op_info_get(i, &info));
        if (info.leaf) {
            continue;
        }
        ops++;
        size_t forward = 0, grad = 0;
        for (size_t r = 0; r < OP_CASE_COUNT; r++) {
            if (strcmp(op_cases[r].op, info.name) == 0) {
                forward += op_cases[r].expect != NULL;
                grad += opc_is_grad_case(&op_cases[r]);
            }
        }
        cr_expect_gt(forward, 0, "op %s has no forward case in tests/op_cases.h", info.name);
        if (info.differentiable) {
            cr_expect_gt(grad, 0,
                         "op %s is differentiable but has no gradient case in "
                         "tests/op_cases.h",
                         info.name);
        }
    }
    cr_expect_eq(ops, nb_op_count() - 4, "expected every op but input, param, const and state");
}
