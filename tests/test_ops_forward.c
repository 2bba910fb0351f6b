/*
 * tests/test_ops_forward.c: every op's forward values, in float64 and float32,
 * from the case table in tests/op_cases.h (references: PyTorch 1.13 float64 or
 * closed form, see there). float32 runs the same float64 references with a
 * looser tolerance; OPC_EXACT rows (extreme inputs) must match bit for bit in
 * both dtypes.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <nabla.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"

/* |got - want| <= atol + rtol * |want| */
typedef struct tolerance {
    double rtol, atol;
} tolerance;

/* float64: the kernels and PyTorch differ by a few ulps at most (summation order, libm). */
static const tolerance tol_f64 = { 1e-12, 1e-14 };
/* float32: inputs rounded to float, sums of up to 24 terms of magnitude <= 3. */
static const tolerance tol_f32 = { 1e-5, 1e-5 };

static void check_forward(const op_case *c, nb_dtype dtype, tolerance tol)
{
    nb_graph *g = nb_graph_new();
    cr_assert_not_null(g);
    nb_node *y = opc_build(g, c, dtype, NULL);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s: build failed: %s", c->name, nb_graph_error(g));
    cr_assert_str_eq(nb_node_op_name(y), c->op, "%s: the output is a %s node, not %s", c->name,
                     nb_node_op_name(y), c->op);
    nb_dtype want_dtype = c->mode & OPC_INT_OUT ? NB_DTYPE_I32 : dtype;
    cr_assert_eq(nb_node_dtype(y), want_dtype, "%s: dtype %s, want %s", c->name,
                 nb_dtype_name(nb_node_dtype(y)), nb_dtype_name(want_dtype));
    cr_assert_eq(nb_node_rank(y), c->out.rank, "%s: rank %d, want %d", c->name, nb_node_rank(y),
                 c->out.rank);
    for (int i = 0; i < c->out.rank; i++) {
        cr_assert_eq(nb_node_shape(y)[i], c->out.dims[i], "%s: dimension %d is %lld, want %lld",
                     c->name, i, (long long)nb_node_shape(y)[i], (long long)c->out.dims[i]);
    }
    size_t n = nb_node_size(y);
    cr_assert_eq(n, c->n_expect, "%s: %zu elements, want %zu", c->name, n, c->n_expect);

    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s: run failed: %s", c->name, nb_graph_error(g));
    double *got = malloc(n * sizeof *got);
    cr_assert_not_null(got);
    cr_assert_eq(nb_node_read_f64(g, y, got, n), NB_OK, "%s: %s", c->name, nb_graph_error(g));
    for (size_t i = 0; i < n; i++) {
        double want = c->expect[i];
        cr_expect(isfinite(got[i]), "%s (%s): element %zu is %g, not finite", c->name,
                  nb_dtype_name(dtype), i, got[i]);
        if (c->mode & OPC_EXACT) {
            cr_expect(got[i] == want, "%s (%s): element %zu is %.17g, want exactly %.17g", c->name,
                      nb_dtype_name(dtype), i, got[i], want);
        } else {
            cr_expect(fabs(got[i] - want) <= tol.atol + tol.rtol * fabs(want),
                      "%s (%s): element %zu is %.17g, want %.17g (difference %.3g)", c->name,
                      nb_dtype_name(dtype), i, got[i], want, got[i] - want);
        }
    }
    free(got);
    nb_graph_free(g);
}

static size_t case_index[OP_CASE_COUNT];

ParameterizedTestParameters(ops_forward, matches_reference_f64)
{
    for (size_t i = 0; i < OP_CASE_COUNT; i++) {
        case_index[i] = i;
    }
    return cr_make_param_array(size_t, case_index, OP_CASE_COUNT);
}

ParameterizedTest(size_t *i, ops_forward, matches_reference_f64,
                  .description = "float64 output of each op_cases.h row: its op, dtype, shape "
                                 "and values within 1e-12 relative (exact for OPC_EXACT rows)")
{
    check_forward(&op_cases[*i], NB_DTYPE_F64, tol_f64);
}

ParameterizedTestParameters(ops_forward, matches_reference_f32)
{
    for (size_t i = 0; i < OP_CASE_COUNT; i++) {
        case_index[i] = i;
    }
    return cr_make_param_array(size_t, case_index, OP_CASE_COUNT);
}

ParameterizedTest(size_t *i, ops_forward, matches_reference_f32,
                  .description = "float32 output of each op_cases.h row: its op, dtype, shape "
                                 "and values within 1e-5 (exact for OPC_EXACT rows)")
{
    check_forward(&op_cases[*i], NB_DTYPE_F32, tol_f32);
}

/* ---- the table itself ---- */

static bool op_in_table(const char *name, nb_op_info *out)
{
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        cr_assert(nb_op_info_get(i, &info));
        if (strcmp(info.name, name) == 0) {
            *out = info;
            return true;
        }
    }
    return false;
}

Test(op_cases, rows_are_well_formed,
     .description = "each row names a non-leaf op of the table, has a unique name, as many "
                    "values as its shapes hold, and whole labels")
{
    for (size_t r = 0; r < OP_CASE_COUNT; r++) {
        const op_case *c = &op_cases[r];
        cr_assert_not_null(c->name, "row %zu has no name", r);
        nb_op_info info = { 0 };
        cr_expect(op_in_table(c->op, &info), "%s: op \"%s\" is not in the op table", c->name,
                  c->op);
        cr_expect(!info.leaf, "%s: %s is a leaf", c->name, c->op);
        cr_expect_not_null(c->build, "%s: no builder", c->name);
        cr_expect_not_null(c->expect, "%s: no expected values", c->name);
        cr_expect_eq(c->n_expect, opc_size(&c->out), "%s: %zu expected values for %zu elements",
                     c->name, c->n_expect, opc_size(&c->out));
        for (int i = 0; i < opc_arity(c); i++) {
            const op_input *in = &c->in[i];
            cr_expect_eq(in->n, opc_size(&in->shape), "%s: input %d has %zu values for %zu",
                         c->name, i, in->n, opc_size(&in->shape));
            for (size_t k = 0; in->labels && k < in->n; k++) {
                cr_expect(in->values[k] == floor(in->values[k]), "%s: label %g is not whole",
                          c->name, in->values[k]);
            }
        }
        for (size_t s = 0; s < r; s++) {
            cr_expect(strcmp(op_cases[s].name, c->name) != 0, "two rows are named \"%s\"", c->name);
        }
    }
}

/* ---- beyond the table: reductions longer than one accumulation block ---- */

Test(ops_forward, sum_and_mean_over_several_blocks,
     .description = "sum of 0, 1, ..., 10002 (three blocks of 4096) is 10002 * 10003 / 2 = "
                    "50025003 exactly in float64 and its nearest float in float32; the mean is "
                    "5001; row k of the [7,1429] view sums to 1429^2 k + 1428 * 1429 / 2")
{
    for (int d = 0; d < 2; d++) {
        nb_dtype dtype = d == 0 ? NB_DTYPE_F64 : NB_DTYPE_F32;
        nb_graph *g = nb_graph_new();
        static double xs[10003];
        for (int i = 0; i < 10003; i++) {
            xs[i] = i;
        }
        nb_node *x = nb_input(g, dtype, NB_SHAPE(10003));
        cr_assert_eq(nb_node_write_f64(g, x, xs, 10003), NB_OK);
        nb_node *rows = nb_sum_axis(g, nb_reshape(g, x, NB_SHAPE(7, 1429)), 1, false);
        nb_node *outs[3] = { nb_sum(g, x), nb_mean(g, x), rows };
        cr_assert_eq(nb_graph_run(g, 3, outs), NB_OK, "%s", nb_graph_error(g));
        double sum, mean, r[7];
        nb_node_read_f64(g, outs[0], &sum, 1);
        nb_node_read_f64(g, outs[1], &mean, 1);
        nb_node_read_f64(g, outs[2], r, 7);
        if (dtype == NB_DTYPE_F64) {
            cr_expect_eq(sum, 50025003.0, "f64 sum %.17g", sum);
            cr_expect_eq(mean, 5001.0, "f64 mean %.17g", mean);
        } else {
            cr_expect_eq(sum, (double)50025003.0f, "f32 sum %.17g", sum);
            cr_expect(fabs(mean - 5001.0) <= 1e-3, "f32 mean %.17g", mean);
        }
        for (int k = 0; k < 7; k++) {
            /* Σ_{j<1429} (1429 k + j) = 1429^2 k + 1428 * 1429 / 2 */
            double want = 1429.0 * 1429.0 * k + 1428.0 * 1429.0 / 2;
            cr_expect(fabs(r[k] - want) <= (dtype == NB_DTYPE_F64 ? 0 : 1e-6 * want),
                      "%s row %d: %.17g, want %.17g", nb_dtype_name(dtype), k, r[k], want);
        }
        nb_graph_free(g);
    }
}

/*
 * Products with one column or one row take BLIS's matrix-vector path: check
 * every transpose layout against a plain triple loop.
 */
Test(ops_forward, matmul_with_one_row_or_column_matches_a_loop_in_every_layout)
{
    const double av[12] = { 0.3, -1.1, 2.0, 0.7, -0.4, 1.5, 0.9, -0.2, 1.3, -0.8, 0.6, 0.1 };
    const double bv[12] = { 1.2, -0.5, 0.8, 2.2, -1.3, 0.4, 0.9, -0.7, 1.1, 0.6, -0.2, 1.4 };
    for (int f = 0; f < 4; f++) {
        for (int one_row = 0; one_row < 2; one_row++) {
            int64_t m = one_row ? 1 : 4, n = one_row ? 4 : 1, k = 3;
            int64_t as[2] = { f & NB_TRANS_A ? k : m, f & NB_TRANS_A ? m : k };
            int64_t bs[2] = { f & NB_TRANS_B ? n : k, f & NB_TRANS_B ? k : n };
            nb_graph *g = nb_graph_new();
            nb_node *a = nb_const(g, NB_DTYPE_F64, 2, as, av);
            nb_node *b = nb_const(g, NB_DTYPE_F64, 2, bs, bv);
            nb_node *c = nb_matmul_ex(g, a, b, f);
            cr_assert_eq(nb_graph_run(g, 1, &c), NB_OK, "%s", nb_graph_error(g));
            const double *cv = nb_node_data(c);
            for (int64_t i = 0; i < m; i++) {
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t t = 0; t < k; t++) {
                        double x = f & NB_TRANS_A ? av[t * m + i] : av[i * k + t];
                        double y = f & NB_TRANS_B ? bv[j * k + t] : bv[t * n + j];
                        s += x * y;
                    }
                    cr_expect(fabs(cv[i * n + j] - s) < 1e-14,
                              "flags %d %s: c[%lld,%lld] = %g, want %g", f,
                              one_row ? "one row" : "one column", (long long)i, (long long)j,
                              cv[i * n + j], s);
                }
            }
            nb_graph_free(g);
        }
    }
}
