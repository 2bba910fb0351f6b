/*
 * tests/test_ops_batch_norm.c: batch normalization and state nodes beyond the
 * case table: exact error messages; the running statistics after one and two
 * training runs and evaluation with them, against PyTorch; the modes (graph
 * mode, run flags, one gradient graph serving both); gradients in both modes,
 * against PyTorch and finite differences, and Hessian-vector products; state
 * as a constant to nb_grad and refused by optimizers; checkpoints and the
 * model language (state statements, batch_norm calls, write and read back).
 *
 * References are PyTorch 1.13 float64 (Debian's python3-torch, run once
 * offline) for the expression in each comment, with
 * `import torch.nn.functional as F`, printed as Python reprs; inputs:
 *     xa = [-1.53, -0.32, 1.14, 0.34, 1.41, -0.3, -1.19, -0.26, -0.49, -1.69, 1.9, 1.57]
 *     xe = [1.42, -0.91, -0.23, -0.14, -1.56, 1.26, 0.96, -0.89, -1.47, -1.63, 0.02, -0.18]
 *     w = [1.33, 1.07, 0.84], b = [-1.49, 1.53, 0.35]
 * as [4, 3] tensors (x) and [3] ones.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const double xa[12] = { -1.53, -0.32, 1.14,  0.34,  1.41, -0.3,
                               -1.19, -0.26, -0.49, -1.69, 1.9,  1.57 };
static const double xe[12] = { 1.42, -0.91, -0.23, -0.14, -1.56, 1.26,
                               0.96, -0.89, -1.47, -1.63, 0.02,  -0.18 };
static const double wa[3] = { 1.33, 1.07, 0.84 };
static const double ba[3] = { -1.49, 1.53, 0.35 };

static void assert_ok(nb_graph *g)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

static nb_node *input(nb_graph *g, const char *name, int rank, const int64_t *shape,
                      const double *v)
{
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, rank, shape), name);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    if (v) {
        cr_assert_eq(nb_node_write_f64(g, x, v, nb_node_size(x)), NB_OK);
    }
    return x;
}

static nb_node *state(nb_graph *g, const char *name, int64_t c, double value)
{
    nb_node *s = nb_node_set_name(g, nb_state(g, NB_DTYPE_F64, 1, &c, value), name);
    cr_assert_not_null(s, "%s", nb_graph_error(g));
    return s;
}

static void read_into(nb_graph *g, nb_node *n, double *dst)
{
    cr_assert_eq(nb_node_read_f64(g, n, dst, nb_node_size(n)), NB_OK, "%s", nb_graph_error(g));
}

/* Each of got[0..n-1] within 1e-12 relative (1e-14 absolute) of want. */
static void expect_close(const char *what, const double *got, const double *want, size_t n,
                         double rtol)
{
    for (size_t i = 0; i < n; i++) {
        cr_expect(fabs(got[i] - want[i]) <= 1e-14 + rtol * fabs(want[i]),
                  "%s[%zu] = %.17g, want %.17g", what, i, got[i], want[i]);
    }
}

/* The model of most tests: x[4,3] (xa), w, b (params), rm, rv (zeros, ones). */
typedef struct model {
    nb_graph *g;
    nb_node *x, *w, *b, *rm, *rv, *y;
} model;

static model build(double momentum, double eps)
{
    model m;
    m.g = nb_graph_new();
    nb_graph *g = m.g;
    m.x = input(g, "x", NB_SHAPE(4, 3), xa);
    m.w = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0)), "w");
    m.b = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0)), "b");
    nb_node_write_f64(g, m.w, wa, 3);
    nb_node_write_f64(g, m.b, ba, 3);
    m.rm = state(g, "rm", 3, 0);
    m.rv = state(g, "rv", 3, 1);
    m.y = nb_node_set_name(g, nb_batch_norm(g, m.x, m.w, m.b, m.rm, m.rv, momentum, eps), "y");
    assert_ok(g);
    return m;
}

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

/* Builds batch_norm in a fresh graph with x[4,3], w, b, rm, rv and the odd nodes below. */
typedef struct bad {
    nb_graph *g;
    nb_node *x, *v, *w, *w4, *b31, *rm, *rv, *rm4, *rv2, *p, *in, *rm32;
} bad;

static bad bad_new(void)
{
    bad k;
    nb_graph *g = k.g = nb_graph_new();
    k.x = input(g, "x", NB_SHAPE(4, 3), xa);
    k.v = input(g, "v", NB_SHAPE(4), NULL);
    k.w = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(1)), "w");
    k.w4 = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(4), nb_init_constant(1)), "w4");
    k.b31 =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3, 1), nb_init_constant(0)), "b31");
    k.rm = state(g, "rm", 3, 0);
    k.rv = state(g, "rv", 3, 1);
    k.rm4 = state(g, "rm4", 4, 0);
    k.rv2 = state(g, "rv2", 2, 1);
    k.p = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0)), "p");
    k.in = input(g, "ones", NB_SHAPE(3), NULL);
    k.rm32 = nb_node_set_name(g, nb_state(g, NB_DTYPE_F32, NB_SHAPE(3), 0), "rm32");
    assert_ok(g);
    return k;
}

static void expect_fail(bad *k, nb_node *y, nb_status status, const char *msg)
{
    cr_expect_null(y);
    cr_expect_eq(nb_graph_status(k->g), status, "status %d for: %s", nb_graph_status(k->g), msg);
    cr_expect_str_eq(nb_graph_error(k->g), msg);
    nb_graph_free(k->g);
}

Test(batch_norm_errors, rank_below_two)
{
    bad k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.v, NULL, NULL, k.rm, k.rv, 0.1, 1e-5), NB_ERR_RANK,
                "batch_norm(v[4], NULL, NULL, rm[3], rv[3]): x must be [N, C], [N, C, L] or "
                "[N, C, H, W]; it has rank 1");
}

Test(batch_norm_errors, weight_and_bias_must_have_one_value_per_channel)
{
    bad k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, k.w4, NULL, k.rm, k.rv, 0.1, 1e-5), NB_ERR_SHAPE,
                "batch_norm(x[4,3], w4[4], NULL, rm[3], rv[3]): weight is [4] but x has 3 "
                "channels (axis 1); it must be [3]");
    k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, k.w, k.b31, k.rm, k.rv, 0.1, 1e-5), NB_ERR_SHAPE,
                "batch_norm(x[4,3], w[3], b31[3,1], rm[3], rv[3]): bias is [3,1] but x has 3 "
                "channels (axis 1); it must be [3]");
}

Test(batch_norm_errors, running_statistics_must_have_one_value_per_channel)
{
    bad k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.rm4, k.rv, 0.1, 1e-5), NB_ERR_SHAPE,
                "batch_norm(x[4,3], NULL, NULL, rm4[4], rv[3]): running_mean is [4] but x has 3 "
                "channels (axis 1); it must be [3]");
    k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.rm, k.rv2, 0.1, 1e-5), NB_ERR_SHAPE,
                "batch_norm(x[4,3], NULL, NULL, rm[3], rv2[2]): running_var is [2] but x has 3 "
                "channels (axis 1); it must be [3]");
}

Test(batch_norm_errors, running_statistics_must_be_state_nodes)
{
    bad k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.p, k.rv, 0.1, 1e-5), NB_ERR_ARG,
                "batch_norm(x[4,3], NULL, NULL, p[3], rv[3]): running_mean (param) is not a state "
                "node; make running statistics with nb_state");
    k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.rm, k.in, 0.1, 1e-5), NB_ERR_ARG,
                "batch_norm(x[4,3], NULL, NULL, rm[3], ones[3]): running_var (input) is not a "
                "state node; make running statistics with nb_state");
    k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.rm, k.rm, 0.1, 1e-5), NB_ERR_ARG,
                "batch_norm(x[4,3], NULL, NULL, rm[3], rm[3]): running_mean and running_var are "
                "the same node; each needs its own state");
}

Test(batch_norm_errors, momentum_outside_zero_one)
{
    const double bad_momenta[3] = { -0.1, 1.5, NAN };
    const char *msgs[3] = { "-0.1", "1.5", "nan" };
    for (int i = 0; i < 3; i++) {
        bad k = bad_new();
        char msg[256];
        snprintf(msg, sizeof msg,
                 "batch_norm(x[4,3], w[3], NULL, rm[3], rv[3]): momentum must be in [0, 1], got %s",
                 msgs[i]);
        expect_fail(&k, nb_batch_norm(k.g, k.x, k.w, NULL, k.rm, k.rv, bad_momenta[i], 1e-5),
                    NB_ERR_ARG, msg);
    }
    /* the ends are allowed */
    bad k = bad_new();
    cr_expect_not_null(nb_batch_norm(k.g, k.x, NULL, NULL, k.rm, k.rv, 0, 1e-5));
    cr_expect_not_null(nb_batch_norm(k.g, k.x, NULL, NULL, k.rm, k.rv, 1, 1e-5));
    assert_ok(k.g);
    nb_graph_free(k.g);
}

Test(batch_norm_errors, eps_must_be_positive_and_finite)
{
    const double bad_eps[4] = { 0, -1e-5, INFINITY, NAN };
    const char *msgs[4] = { "0", "-1e-05", "inf", "nan" };
    for (int i = 0; i < 4; i++) {
        bad k = bad_new();
        char msg[256];
        snprintf(msg, sizeof msg,
                 "batch_norm(x[4,3], NULL, NULL, rm[3], rv[3]): eps must be a finite number > 0, "
                 "got %s",
                 msgs[i]);
        expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.rm, k.rv, 0.1, bad_eps[i]),
                    NB_ERR_ARG, msg);
    }
}

Test(batch_norm_errors, null_inputs_and_mixed_dtypes)
{
    bad k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, NULL, NULL, NULL, k.rm, k.rv, 0.1, 1e-5), NB_ERR_ARG,
                "batch_norm(NULL, rm[3], rv[3]): input 1 is NULL");
    k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, k.w, NULL, k.rm, NULL, 0.1, 1e-5), NB_ERR_ARG,
                "batch_norm(x[4,3], w[3], rm[3], NULL): input 4 is NULL");
    k = bad_new();
    expect_fail(&k, nb_batch_norm(k.g, k.x, NULL, NULL, k.rm32, k.rv, 0.1, 1e-5), NB_ERR_DTYPE,
                "batch_norm(x[4,3], rm32[3], rv[3]): dtypes f64 and f32 differ");
}

Test(batch_norm_errors, state_dtype_and_shape)
{
    nb_graph *g = nb_graph_new();
    cr_expect_null(nb_state(g, NB_DTYPE_I32, NB_SHAPE(3), 0));
    cr_expect_eq(nb_graph_status(g), NB_ERR_DTYPE);
    cr_expect_str_eq(nb_graph_error(g), "state: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);
    g = nb_graph_new();
    cr_expect_null(nb_state(g, NB_DTYPE_F64, NB_SHAPE(3, 0), 0));
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(nb_graph_error(g),
                     "state: shape [3,0] is not valid (dimensions from 1 to 2^31-1, size within "
                     "memory)");
    nb_graph_free(g);
}

/* PyTorch: "Expected more than 1 value per channel when training"; evaluation is fine. */
Test(batch_norm_errors, one_value_per_channel_fails_only_in_training)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(1, 3), xa);
    nb_node *rm = state(g, "rm", 3, 0), *rv = state(g, "rv", 3, 1);
    nb_node *y = nb_batch_norm(g, x, NULL, NULL, rm, rv, 0.1, 1e-5);
    assert_ok(g);
    cr_expect_eq(nb_graph_run(g, 1, &y), NB_ERR_VALUE);
    cr_expect_str_eq(nb_graph_error(g),
                     "batch_norm(x[1,3], fill_1[3], fill_2[3], rm[3], rv[3]): training needs more "
                     "than one value per channel, got 1 (run it in evaluation mode, or with a "
                     "larger batch)");
    cr_expect_eq(nb_graph_status(g), NB_OK, "a run error is not sticky");
    double v[3];
    read_into(g, rm, v);
    cr_expect(v[0] == 0 && v[1] == 0 && v[2] == 0, "nothing updated");
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_EVAL), NB_OK, "%s", nb_graph_error(g));
    read_into(g, y, v);
    /* (x - 0) / sqrt(1 + 1e-5) */
    for (int i = 0; i < 3; i++) {
        cr_expect(fabs(v[i] - xa[i] / sqrt(1 + 1e-5)) < 1e-15, "y[%d] = %.17g", i, v[i]);
    }
    nb_graph_free(g);
}

/* ======================================================================== */
/* Running statistics and modes                                             */
/* ======================================================================== */

/*
 * rm, rv = torch.zeros(3), torch.ones(3)
 * F.batch_norm(xa, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)   -> rm1, rv1
 * y2 = F.batch_norm(xe, rm, rv, w, b, training=True, ...)                 -> rm2, rv2
 * F.batch_norm(xa, rm, rv, w, b, training=False, eps=1e-5)                -> after_two
 */
Test(batch_norm_running, one_and_two_training_runs_then_evaluation_match_pytorch)
{
    static const double rm1[3] = { -0.10175000000000001, 0.06824999999999999, 0.048 };
    static const double rv1[3] = { 0.9862491666666667, 1.0301625, 1.0057666666666667 };
    static const double y2[12] = {
        -0.055169907590178945, 1.3873172674100502,  0.28482725685510313, -1.8211146367099587,
        0.15073358496381614,   1.5795924206670537,  -0.575897199510114,  1.4253659961007035,
        -0.7926954298071913,   -3.5078182561897484, 3.1565831515254312,  0.32827575228503436
    };
    static const double rm2[3] = { -0.076325, -0.022075000000000025, 0.027700000000000002 };
    static const double rv2[3] = { 1.0716734166666668, 0.9693229166666667, 1.0297800000000001 };
    static const double after_two[12] = {
        -3.357607921527282,   1.206216848938236,   1.2707185395673428,  -0.9551267525892337,
        3.0863707512185137,   0.07874272640814685, -2.9207931635385456, 1.2714244987283034,
        -0.07853186005035817, -3.563167807639628,  3.6188998911707313,  1.6266557615523805
    };
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    cr_expect(nb_graph_training(g), "a new graph trains");
    double v[12];
    cr_assert_eq(nb_graph_run(g, 1, &m.y), NB_OK, "%s", nb_graph_error(g));
    read_into(g, m.rm, v);
    expect_close("running_mean after one run", v, rm1, 3, 1e-15);
    read_into(g, m.rv, v);
    expect_close("running_var after one run", v, rv1, 3, 1e-15);

    nb_node_write_f64(g, m.x, xe, 12);
    cr_assert_eq(nb_graph_run(g, 1, &m.y), NB_OK, "%s", nb_graph_error(g));
    read_into(g, m.y, v);
    expect_close("y of the second run", v, y2, 12, 1e-13);
    read_into(g, m.rm, v);
    expect_close("running_mean after two runs", v, rm2, 3, 1e-15);
    read_into(g, m.rv, v);
    expect_close("running_var after two runs", v, rv2, 3, 1e-15);

    nb_graph_set_training(g, false);
    cr_expect_not(nb_graph_training(g));
    nb_node_write_f64(g, m.x, xa, 12);
    for (int run = 0; run < 2; run++) { /* evaluation leaves the statistics alone */
        cr_assert_eq(nb_graph_run(g, 1, &m.y), NB_OK, "%s", nb_graph_error(g));
        read_into(g, m.y, v);
        expect_close("evaluation after two runs", v, after_two, 12, 1e-13);
        read_into(g, m.rm, v);
        expect_close("running_mean after evaluation", v, rm2, 3, 0);
        read_into(g, m.rv, v);
        expect_close("running_var after evaluation", v, rv2, 3, 0);
    }
    nb_graph_free(g);
}

Test(batch_norm_running, run_flags_override_the_graph_mode)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    double v[3];
    nb_graph_set_training(g, false);
    cr_assert_eq(nb_graph_run_ex(g, 1, &m.y, NB_RUN_TRAIN), NB_OK);
    read_into(g, m.rm, v);
    cr_expect(fabs(v[0] - -0.10175000000000001) < 1e-16, "NB_RUN_TRAIN updated: %.17g", v[0]);
    nb_graph_set_training(g, true);
    cr_assert_eq(nb_graph_run_ex(g, 1, &m.y, NB_RUN_EVAL), NB_OK);
    read_into(g, m.rm, v);
    cr_expect(fabs(v[0] - -0.10175000000000001) < 1e-16, "NB_RUN_EVAL did not: %.17g", v[0]);
    nb_graph_free(g);
}

/*
 * rm, rv = torch.zeros(3), torch.ones(3)
 * F.batch_norm(xc.reshape(2, 3, 2, 2), rm, rv, None, None, training=True, momentum=0.3)
 */
Test(batch_norm_running, four_axes_without_weight_or_bias_match_pytorch)
{
    static const double xc[24] = { -0.34, 0.75, -1.21, -0.73, 1.45, 1.71,  -1.09, 0.69,
                                   1.14,  0.64, -0.46, -0.32, 1.28, 1.33,  -1.3,  -1.74,
                                   0.8,   1.74, 1.35,  -0.35, 1.82, -0.63, -1.15, -0.45 };
    static const double rm[3] = { -0.0735, 0.23625000000000002, 0.022125000000000002 };
    static const double rv[3] = { 1.1422771428571428, 1.0146635714285714, 1.0091708928571428 };
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, "x", NB_SHAPE(2, 3, 2, 2), xc);
    nb_node *s[2] = { state(g, "rm", 3, 0), state(g, "rv", 3, 1) };
    nb_node *y = nb_batch_norm(g, x, NULL, NULL, s[0], s[1], 0.3, 1e-5);
    assert_ok(g);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    double v[3];
    read_into(g, s[0], v);
    expect_close("running_mean", v, rm, 3, 1e-15);
    read_into(g, s[1], v);
    expect_close("running_var", v, rv, 3, 1e-15);
    nb_graph_free(g);
}

Test(batch_norm_running, momentum_zero_keeps_and_one_replaces)
{
    model keep = build(0, 1e-5), take = build(1, 1e-5);
    double v[3];
    cr_assert_eq(nb_graph_run(keep.g, 1, &keep.y), NB_OK);
    read_into(keep.g, keep.rm, v);
    cr_expect(v[0] == 0 && v[1] == 0 && v[2] == 0);
    read_into(keep.g, keep.rv, v);
    cr_expect(v[0] == 1 && v[1] == 1 && v[2] == 1);
    cr_assert_eq(nb_graph_run(take.g, 1, &take.y), NB_OK);
    read_into(take.g, take.rm, v);
    /* the batch mean of channel 0: (-1.53 + 0.34 - 1.19 - 1.69) / 4 */
    cr_expect(fabs(v[0] - -1.0175) < 1e-15, "%.17g", v[0]);
    nb_graph_free(keep.g);
    nb_graph_free(take.g);
}

/* A uniform value in [-2, 2) from a 64-bit LCG. */
static double next_value(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return (double)(*s >> 11) / 9007199254740992.0 * 4 - 2;
}

/*
 * The tiled kernel (64 channels a tile, rows for [N, C], runs for [N, C, L])
 * against a naive two-pass oracle written here, on shapes with a partial
 * last tile and an offset mean: y, and both running statistics.
 */
Test(batch_norm_running, tiles_match_a_naive_oracle)
{
    const int64_t shapes[3][3] = { { 5, 130, 1 }, { 3, 70, 5 }, { 2, 3, 9 } };
    for (int t = 0; t < 3; t++) {
        int64_t n = shapes[t][0], c = shapes[t][1], l = shapes[t][2];
        size_t count = (size_t)(n * c * l);
        double *xs = malloc(count * sizeof *xs), *ys = malloc(count * sizeof *ys);
        double *ws = malloc((size_t)c * sizeof *ws), *bs = malloc((size_t)c * sizeof *bs);
        uint64_t seed = 11 + (uint64_t)t;
        for (size_t i = 0; i < count; i++) {
            xs[i] = 100 + next_value(&seed); /* far from 0: the shift matters */
        }
        for (int64_t k = 0; k < c; k++) {
            ws[k] = next_value(&seed);
            bs[k] = next_value(&seed);
        }
        nb_graph *g = nb_graph_new();
        nb_node *x = l == 1 ? nb_input(g, NB_DTYPE_F64, NB_SHAPE(n, c))
                            : nb_input(g, NB_DTYPE_F64, NB_SHAPE(n, c, l));
        nb_node *w = nb_const(g, NB_DTYPE_F64, 1, &c, ws),
                *b = nb_const(g, NB_DTYPE_F64, 1, &c, bs);
        nb_node *rm = nb_state(g, NB_DTYPE_F64, 1, &c, 0.5),
                *rv = nb_state(g, NB_DTYPE_F64, 1, &c, 2);
        nb_node *y = nb_batch_norm(g, x, w, b, rm, rv, 0.25, 1e-3);
        assert_ok(g);
        nb_node_write_f64(g, x, xs, count);
        cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
        read_into(g, y, ys);
        const double *rms = nb_node_data(rm), *rvs = nb_node_data(rv);
        for (int64_t k = 0; k < c; k++) {
            double mean = 0, var = 0, m = (double)(n * l);
            for (int64_t i = 0; i < n; i++) {
                for (int64_t j = 0; j < l; j++) {
                    mean += xs[(i * c + k) * l + j];
                }
            }
            mean /= m;
            for (int64_t i = 0; i < n; i++) {
                for (int64_t j = 0; j < l; j++) {
                    double d = xs[(i * c + k) * l + j] - mean;
                    var += d * d;
                }
            }
            cr_expect(fabs(rms[k] - (0.25 * mean + 0.75 * 0.5)) < 1e-12, "shape %d rm[%lld]", t,
                      (long long)k);
            cr_expect(fabs(rvs[k] - (0.25 * var / (m - 1) + 0.75 * 2)) < 1e-10,
                      "shape %d rv[%lld] = %.17g", t, (long long)k, rvs[k]);
            var /= m;
            for (int64_t i = 0; i < n; i++) {
                for (int64_t j = 0; j < l; j++) {
                    size_t at = (size_t)((i * c + k) * l + j);
                    double want = (xs[at] - mean) / sqrt(var + 1e-3) * ws[k] + bs[k];
                    cr_expect(fabs(ys[at] - want) < 1e-11, "shape %d y[%zu] = %.17g, want %.17g", t,
                              at, ys[at], want);
                }
            }
        }
        nb_graph_free(g);
        free(xs);
        free(ys);
        free(ws);
        free(bs);
    }
}

Test(batch_norm_running, float32_statistics_are_close_to_float64)
{
    static const double rv1[3] = { 0.9862491666666667, 1.0301625, 1.0057666666666667 };
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(4, 3));
    nb_node_write_f64(g, x, xa, 12);
    nb_node *rm = nb_state(g, NB_DTYPE_F32, NB_SHAPE(3), 0),
            *rv = nb_state(g, NB_DTYPE_F32, NB_SHAPE(3), 1);
    nb_node *y = nb_batch_norm(g, x, NULL, NULL, rm, rv, 0.1, 1e-5);
    assert_ok(g);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    double v[3];
    read_into(g, rv, v);
    expect_close("f32 running_var", v, rv1, 3, 1e-6);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Gradients                                                                */
/* ======================================================================== */

/* k[i] = ((37 i) mod 17 - 8.5) / 8 over y's shape. */
static nb_node *weights_like(nb_graph *g, nb_node *y)
{
    double k[64];
    size_t n = nb_node_size(y);
    cr_assert_leq(n, 64);
    for (size_t i = 0; i < n; i++) {
        k[i] = ((double)((i * 37) % 17) - 8.5) / 8.0;
    }
    return nb_const(g, NB_DTYPE_F64, nb_node_rank(y), nb_node_shape(y), k);
}

/*
 * x, w, b = xa, w, b with requires_grad; k as above
 * for training in (True, False):
 *     y = F.batch_norm(x, torch.tensor([0.2, -0.3, 0.5]), torch.tensor([0.8, 1.5, 0.6]), w, b,
 *                      training=training, eps=1e-5)
 *     torch.autograd.grad((y * k).sum(), (x, w, b))
 */
Test(batch_norm_grad, one_gradient_graph_serves_both_modes_and_matches_pytorch)
{
    static const double want[2][3][12] = {
        { { -0.8157156630926351, -0.05893689645828875, -0.6608142181199852, 0.24989426761235814,
            0.09306873041131233, 0.5558971707172291, -0.7535077150964465, 0.03944980445588896,
            -0.3666902525141668, 1.3193291105767235, -0.0735816384089127, 0.471607299916923 },
          { 0.826818533401092, 2.2493962815951205, 0.40840892498982645 },
          { -1.75, -0.25, 1.25 } },
        { { -1.5799119059336406, -0.6006332952373112, -0.3388832187780926, 0.09293599446668474,
            0.38222118787828896, 0.8810963688230407, -1.394039917000271, -0.49142724155780004,
            -0.2033299312668555, 0.2788079834000542, 0.49142724155780004, 1.0166496563342775 },
          { 3.1255842349585023, 1.6141062980761385, 0.43732072518506243 },
          { -1.75, -0.25, 1.25 } },
    };
    static const double rm0[3] = { 0.2, -0.3, 0.5 }, rv0[3] = { 0.8, 1.5, 0.6 };
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    nb_node *loss = nb_sum(g, nb_mul(g, m.y, weights_like(g, m.y)));
    nb_node *wrt[3] = { m.x, m.w, m.b }, *d[3];
    cr_assert_eq(nb_grad(g, loss, 3, wrt, d), NB_OK, "%s", nb_graph_error(g));
    cr_expect_str_eq(nb_node_op_name(d[0]), "mode_select");
    cr_expect_str_eq(nb_node_op_name(d[1]), "mode_select");
    const int flags[2] = { NB_RUN_TRAIN, NB_RUN_EVAL };
    for (int mode = 0; mode < 2; mode++) {
        nb_node_write_f64(g, m.rm, rm0, 3);
        nb_node_write_f64(g, m.rv, rv0, 3);
        cr_assert_eq(nb_graph_run_ex(g, 3, d, flags[mode]), NB_OK, "%s", nb_graph_error(g));
        double v[12];
        const char *what[3] = { "dx", "dw", "db" };
        for (int i = 0; i < 3; i++) {
            read_into(g, d[i], v);
            expect_close(what[i], v, want[mode][i], nb_node_size(d[i]), 1e-12);
        }
    }
    nb_graph_free(g);
}

/* nb_gradcheck of sum(batch_norm(x, w, b) * k) in evaluation mode, for [4,3] and [2,3,2,2]. */
Test(batch_norm_grad, evaluation_mode_gradient_matches_central_differences)
{
    static const double xc[24] = { -0.34, 0.75, -1.21, -0.73, 1.45, 1.71,  -1.09, 0.69,
                                   1.14,  0.64, -0.46, -0.32, 1.28, 1.33,  -1.3,  -1.74,
                                   0.8,   1.74, 1.35,  -0.35, 1.82, -0.63, -1.15, -0.45 };
    for (int t = 0; t < 2; t++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_training(g, false);
        nb_node *x =
            t == 0 ? input(g, "x", NB_SHAPE(4, 3), xa) : input(g, "x", NB_SHAPE(2, 3, 2, 2), xc);
        nb_node *w = input(g, "w", NB_SHAPE(3), wa), *b = input(g, "b", NB_SHAPE(3), ba);
        nb_node *rm = state(g, "rm", 3, 0), *rv = state(g, "rv", 3, 0);
        static const double rm0[3] = { 0.2, -0.3, 0.5 }, rv0[3] = { 0.8, 1.5, 0.6 };
        nb_node_write_f64(g, rm, rm0, 3);
        nb_node_write_f64(g, rv, rv0, 3);
        nb_node *y = nb_batch_norm(g, x, w, b, rm, rv, 0.1, 1e-5);
        nb_node *loss = nb_sum(g, nb_mul(g, y, weights_like(g, y)));
        assert_ok(g);
        nb_node *wrt[3] = { x, w, b };
        nb_gradcheck_options o = nb_gradcheck_defaults();
        nb_gradcheck_result r[3];
        cr_assert_eq(nb_gradcheck(g, loss, 3, wrt, &o, r), NB_OK, "%s", nb_graph_error(g));
        for (int i = 0; i < 3; i++) {
            cr_expect(r[i].passed, "shape %d input %d: analytic %.12g numeric %.12g", t, i,
                      r[i].analytic, r[i].numeric);
        }
        double v[3];
        read_into(g, rm, v);
        expect_close("evaluation runs leave running_mean", v, rm0, 3, 0);
        nb_graph_free(g);
    }
}

/* Builds the loss of the HVP tests: sum(tanh(batch_norm(x, w, b)) * k), x [2,3,4]. */
typedef struct hvp_model {
    nb_graph *g;
    nb_node *wrt[3], *loss;
} hvp_model;

static hvp_model hvp_build(void)
{
    static const double xb[24] = { -1.49, 1.79, 1.61, 0.35,  0.22, 1.51,  0.61,  -0.52,
                                   -1.82, 1.99, 0.25, -1.16, -1.8, 1.31,  -0.95, -1.18,
                                   -0.94, -1.1, 1.39, -0.63, 1.77, -0.34, 1.88,  -1.42 };
    static const double wb[3] = { 0.78, 0.75, 0.93 }, bb[3] = { -0.93, 0.17, 0.49 };
    hvp_model h;
    nb_graph *g = h.g = nb_graph_new();
    h.wrt[0] = input(g, "x", NB_SHAPE(2, 3, 4), xb);
    h.wrt[1] = input(g, "w", NB_SHAPE(3), wb);
    h.wrt[2] = input(g, "b", NB_SHAPE(3), bb);
    nb_node *rm = state(g, "rm", 3, 0.1), *rv = state(g, "rv", 3, 0.7);
    nb_node *y = nb_batch_norm(g, h.wrt[0], h.wrt[1], h.wrt[2], rm, rv, 0.1, 1e-5);
    h.loss = nb_sum(g, nb_mul(g, nb_tanh(g, y), weights_like(g, y)));
    assert_ok(g);
    return h;
}

/* Reads the three gradient nodes into out (24 + 3 + 3 values). */
static void eval_grads(nb_graph *g, nb_node **d, int flags, double *out)
{
    cr_assert_eq(nb_graph_run_ex(g, 3, d, flags), NB_OK, "%s", nb_graph_error(g));
    read_into(g, d[0], out);
    read_into(g, d[1], out + 24);
    read_into(g, d[2], out + 27);
}

/* Writes p + s * v into x, w, b. */
static void hvp_set(hvp_model *h, const double *p, double s, const double *v)
{
    double buf[30];
    for (int i = 0; i < 30; i++) {
        buf[i] = p[i] + s * v[i];
    }
    nb_node_write_f64(h->g, h->wrt[0], buf, 24);
    nb_node_write_f64(h->g, h->wrt[1], buf + 24, 3);
    nb_node_write_f64(h->g, h->wrt[2], buf + 27, 3);
}

/*
 * Hv = grad(sum(grad(L) * v)) against (grad L(p + eps v) - grad L(p - eps v)) / 2eps, over
 * x, w and b together, in the given mode: training (through the batch
 * statistics, second derivatives of the variance included) or evaluation.
 */
static void check_hvp(int flags)
{
    hvp_model h = hvp_build();
    nb_graph *g = h.g;
    nb_node *d[3], *v[3], *hv[3], *s = NULL;
    cr_assert_eq(nb_grad(g, h.loss, 3, h.wrt, d), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 3; i++) {
        v[i] = nb_input(g, NB_DTYPE_F64, nb_node_rank(h.wrt[i]), nb_node_shape(h.wrt[i]));
        nb_node *term = nb_sum(g, nb_mul(g, d[i], v[i]));
        s = s ? nb_add(g, s, term) : term;
    }
    cr_assert_eq(nb_grad(g, s, 3, h.wrt, hv), NB_OK, "%s", nb_graph_error(g));
    double p[30], dir[30], hvs[30], gp[30], gm[30];
    uint64_t seed = 5;
    read_into(g, h.wrt[0], p);
    read_into(g, h.wrt[1], p + 24);
    read_into(g, h.wrt[2], p + 27);
    for (int i = 0; i < 30; i++) {
        dir[i] = next_value(&seed) / 2;
    }
    nb_node_write_f64(g, v[0], dir, 24);
    nb_node_write_f64(g, v[1], dir + 24, 3);
    nb_node_write_f64(g, v[2], dir + 27, 3);
    eval_grads(g, hv, flags, hvs);
    const double eps = 1e-5;
    hvp_set(&h, p, eps, dir);
    eval_grads(g, d, flags, gp);
    hvp_set(&h, p, -eps, dir);
    eval_grads(g, d, flags, gm);
    double scale = 0;
    for (int i = 0; i < 30; i++) {
        scale = fmax(scale, fabs(hvs[i]));
    }
    cr_assert_gt(scale, 1e-2, "the Hessian-vector product should not vanish");
    for (int i = 0; i < 30; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        cr_expect(fabs(hvs[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                  "flags %d element %d: Hv = %.12g, finite differences %.12g", flags, i, hvs[i],
                  fd);
    }
    nb_graph_free(g);
}

Test(batch_norm_grad, hessian_vector_product_in_training_mode)
{
    check_hvp(NB_RUN_TRAIN);
}

Test(batch_norm_grad, hessian_vector_product_in_evaluation_mode)
{
    check_hvp(NB_RUN_EVAL);
}

Test(batch_norm_grad, state_is_a_constant_to_nb_grad)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    /* through batch_norm, and through an ordinary product */
    nb_node *loss = nb_add(g, nb_sum(g, m.y), nb_sum(g, nb_mul(g, m.rm, m.w)));
    nb_node *wrt[3] = { m.rm, m.rv, m.w }, *d[3];
    cr_assert_eq(nb_grad(g, loss, 3, wrt, d), NB_OK, "%s", nb_graph_error(g));
    cr_expect_str_eq(nb_node_op_name(d[0]), "fill");
    cr_expect_str_eq(nb_node_op_name(d[1]), "fill");
    nb_node_write_f64(g, m.rm, (const double[]){ 1, 2, 3 }, 3);
    cr_assert_eq(nb_graph_run(g, 3, d), NB_OK, "%s", nb_graph_error(g));
    double v[3];
    read_into(g, d[0], v);
    cr_expect(v[0] == 0 && v[1] == 0 && v[2] == 0, "d/d running_mean = 0");
    read_into(g, d[1], v);
    cr_expect(v[0] == 0 && v[1] == 0 && v[2] == 0, "d/d running_var = 0");
    nb_graph_free(g);
}

/* ======================================================================== */
/* State: kind, optimizers, DOT                                             */
/* ======================================================================== */

Test(state, is_a_leaf_of_its_own_kind)
{
    nb_graph *g = nb_graph_new();
    nb_node *s = nb_state(g, NB_DTYPE_F64, NB_SHAPE(2, 2), 0.5);
    assert_ok(g);
    cr_expect_eq(nb_node_kind(s), NB_KIND_STATE);
    cr_expect_str_eq(nb_node_op_name(s), "state");
    cr_expect_str_eq(nb_node_name(s), "state_1");
    cr_expect_eq(nb_node_arity(s), 0);
    double v[4];
    read_into(g, s, v);
    cr_expect(v[0] == 0.5 && v[3] == 0.5);
    cr_expect_eq(nb_node_write_f64(g, s, (const double[]){ 1, 2, 3, 4 }, 4), NB_OK);
    read_into(g, s, v);
    cr_expect(v[3] == 4);
    nb_graph_free(g);
}

Test(state, optimizers_refuse_it)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    nb_node *loss = nb_sum(g, m.y);
    nb_node *params[2] = { m.w, m.rm }, *grads[2];
    cr_assert_eq(nb_grad(g, loss, 2, params, grads), NB_OK, "%s", nb_graph_error(g));
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    cr_expect_null(nb_optim_new(g, loss, 2, params, grads, &o));
    cr_expect_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_expect_str_eq(nb_graph_error(g),
                     "optim_new(rm[3], grad_rm[3]): params[1] is a state node: the ops that own it "
                     "update it while running, not an optimizer");
    nb_graph_free(g);
}

Test(state, dot_draws_it_as_a_dashed_box)
{
    model m = build(0.1, 1e-5);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(nb_graph_write_dot(m.g, f, NULL), NB_OK);
    fclose(f);
    cr_expect_not_null(strstr(text, "fillcolor=\"#e4e4f4\""), "%s", text);
    cr_expect_not_null(strstr(text, "style=\"filled,dashed\""));
    free(text);
    nb_graph_free(m.g);
}

/* ======================================================================== */
/* Checkpoints                                                              */
/* ======================================================================== */

static char dir[64];

static void scratch_make(void)
{
    snprintf(dir, sizeof dir, "/tmp/nabla_bn_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void scratch_remove(void)
{
    const char *names[3] = { "a.ckpt", "b.ckpt", "bad.ckpt" };
    for (int i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*len);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* zlib's CRC-32, to reseal edited files. */
static void reseal(unsigned char *b, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i + 4 < len; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    crc = ~crc;
    for (int k = 0; k < 4; k++) {
        b[len - 4 + (size_t)k] = (unsigned char)(crc >> (8 * k));
    }
}

/* Runs two training steps so the statistics and the moments are not their starting values. */
static nb_optim *trained(model *m, nb_node **loss_out)
{
    nb_graph *g = m->g;
    nb_node *loss = nb_sum(g, nb_mul(g, m->y, m->y));
    nb_node *params[2] = { m->w, m->b }, *grads[2];
    cr_assert_eq(nb_grad(g, loss, 2, params, grads), NB_OK);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.momentum = 0.9;
    nb_optim *opt = nb_optim_new(g, loss, 2, params, grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(nb_optim_step(opt), NB_OK, "%s", nb_graph_error(g));
    }
    *loss_out = loss;
    return opt;
}

static void snapshot(nb_graph *g, nb_node *const *nodes, int n, double *out)
{
    for (int i = 0; i < n; i++) {
        read_into(g, nodes[i], out + 3 * i);
    }
}

static void scribble(nb_graph *g, nb_node *const *nodes, int n)
{
    for (int i = 0; i < n; i++) {
        nb_node_write_f64(g, nodes[i], (const double[]){ 7, 8, 9 }, 3);
    }
}

Test(state_checkpoint, without_an_optimizer_round_trips_as_version_1, .init = scratch_make,
     .fini = scratch_remove)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    cr_assert_eq(nb_graph_run(g, 1, &m.y), NB_OK);
    nb_node *nodes[4] = { m.w, m.rm, m.b, m.rv };
    double before[12], after[12];
    snapshot(g, nodes, 4, before);
    char path[128];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    cr_assert_eq(nb_checkpoint_save(g, path, 4, nodes, NULL), NB_OK, "%s", nb_graph_error(g));
    size_t len;
    unsigned char *b = slurp(path, &len);
    cr_expect_eq(get32(b + 8), 1, "no optimizer: version 1");
    free(b);
    scribble(g, nodes, 4);
    cr_assert_eq(nb_checkpoint_load(g, path, 4, nodes, NULL), NB_OK, "%s", nb_graph_error(g));
    snapshot(g, nodes, 4, after);
    cr_expect_eq(memcmp(before, after, sizeof before), 0, "every value restored exactly");
    nb_graph_free(g);
}

Test(state_checkpoint, with_an_optimizer_is_version_2_and_round_trips, .init = scratch_make,
     .fini = scratch_remove)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    nb_node *loss;
    nb_optim *opt = trained(&m, &loss);
    nb_node *nodes[4] = { m.rm, m.w, m.b, m.rv };
    char path[128], again[128];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(again, sizeof again, "%s/b.ckpt", dir);
    cr_assert_eq(nb_checkpoint_save(g, path, 4, nodes, opt), NB_OK, "%s", nb_graph_error(g));
    size_t len, len2;
    unsigned char *b = slurp(path, &len);
    cr_expect_eq(get32(b + 8), 2, "optimizer state for some tensors only: version 2");
    /* rm first: name length 2, "rm", f64, rank 1, dim 3, has_state 0, 24 bytes of values */
    cr_expect_eq(get32(b + 36), 2);
    cr_expect_eq(memcmp(b + 40, "rm", 2), 0);
    cr_expect_eq(get32(b + 42 + 16), 0, "rm carries no optimizer state");
    /* then w: has_state 1, its values and its momentum buffer */
    size_t w_at = 42 + 20 + 24;
    cr_expect_eq(memcmp(b + w_at + 4, "w", 1), 0);
    cr_expect_eq(get32(b + w_at + 5 + 16), 1, "w carries its momentum");
    /* 4 headers, rm and rv without state, w and b with one slot */
    cr_expect_eq(len, 36 + 2 * (4 + 2 + 20 + 24) + 2 * (4 + 1 + 20 + 48) + 4);

    double before[12], after[12];
    snapshot(g, nodes, 4, before);
    scribble(g, nodes, 4);
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_eq(nb_checkpoint_load(g, path, 4, nodes, opt), NB_OK, "%s", nb_graph_error(g));
    snapshot(g, nodes, 4, after);
    cr_expect_eq(memcmp(before, after, sizeof before), 0, "parameters and state restored");
    cr_expect_eq(nb_optim_steps(opt), 2);
    /* saving again gives the same bytes: the moments came back too */
    cr_assert_eq(nb_checkpoint_save(g, again, 4, nodes, opt), NB_OK);
    unsigned char *b2 = slurp(again, &len2);
    cr_expect(len2 == len && memcmp(b, b2, len) == 0, "the same file again");
    /* without the optimizer: parameters and state only */
    scribble(g, nodes, 4);
    cr_assert_eq(nb_checkpoint_load(g, path, 4, nodes, NULL), NB_OK, "%s", nb_graph_error(g));
    snapshot(g, nodes, 4, after);
    cr_expect_eq(memcmp(before, after, sizeof before), 0, "restored without the optimizer");
    free(b);
    free(b2);
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* The load error in g for path: status and message after "checkpoint_load: <path>: ". */
static void expect_load_error(nb_graph *g, const char *path, nb_node *const *nodes, nb_optim *opt,
                              const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, "checkpoint_load: %s: %s", path, detail);
    cr_expect_eq(nb_checkpoint_load(g, path, 4, nodes, opt), NB_ERR_FORMAT);
    cr_expect_str_eq(nb_graph_error(g), msg);
}

Test(state_checkpoint, a_corrupted_file_changes_nothing, .init = scratch_make,
     .fini = scratch_remove)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    nb_node *loss;
    nb_optim *opt = trained(&m, &loss);
    nb_node *nodes[4] = { m.rm, m.w, m.b, m.rv };
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    cr_assert_eq(nb_checkpoint_save(g, path, 4, nodes, opt), NB_OK, "%s", nb_graph_error(g));
    size_t len;
    unsigned char *b = slurp(path, &len), *e = malloc(len);
    scribble(g, nodes, 4);
    double before[12], after[12];
    snapshot(g, nodes, 4, before);

    memcpy(e, b, len);
    e[len - 10] ^= 0x40; /* inside rv's values */
    spit(bad, e, len);
    expect_load_error(g, bad, nodes, opt, "checksum mismatch: the file is truncated or corrupted");
    expect_load_error(g, bad, nodes, NULL, "checksum mismatch: the file is truncated or corrupted");

    memcpy(e, b, len);
    e[42 + 16] = 2; /* rm's has_state word */
    reseal(e, len);
    spit(bad, e, len);
    expect_load_error(g, bad, nodes, opt, "tensor 1 has a malformed header");

    memcpy(e, b, len);
    e[42 + 16] = 1; /* rm claims a momentum buffer the optimizer does not have */
    reseal(e, len);
    spit(bad, e, len);
    expect_load_error(g, bad, nodes, opt,
                      "tensor 'rm' has optimizer state, but the optimizer does not update it");

    size_t w_at = 42 + 20 + 24;
    memcpy(e, b, len);
    e[w_at + 5 + 16] = 0; /* w without its momentum buffer */
    reseal(e, len);
    spit(bad, e, len);
    expect_load_error(g, bad, nodes, opt, "tensor 'w' has no optimizer state");

    memcpy(e, b, len);
    e[8] = 3;
    spit(bad, e, len);
    expect_load_error(g, bad, nodes, opt, "format version 3; this nabla reads versions 1 and 2");

    snapshot(g, nodes, 4, after);
    cr_expect_eq(memcmp(before, after, sizeof before), 0, "no value changed");
    cr_expect_eq(nb_optim_steps(opt), 2, "nor the step count");
    free(b);
    free(e);
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(state_checkpoint, with_an_optimizer_the_parameters_must_still_be_all_there,
     .init = scratch_make, .fini = scratch_remove)
{
    model m = build(0.1, 1e-5);
    nb_graph *g = m.g;
    nb_node *loss;
    nb_optim *opt = trained(&m, &loss);
    char path[128];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    nb_node *nodes[3] = { m.w, m.rm, m.rv };
    cr_expect_eq(nb_checkpoint_save(g, path, 3, nodes, opt), NB_ERR_ARG);
    cr_expect_str_eq(nb_graph_error(g),
                     "checkpoint_save: with an optimizer, pass exactly its 2 parameters");
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* The model language                                                       */
/* ======================================================================== */

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_OK, "%d:%d: %s", err.line,
                 err.column, err.message);
    return g;
}

static void parse_error(const char *src, nb_status status, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    cr_expect_eq(nb_model_parse(g, src, strlen(src), NULL, &err), status, "%s", err.message);
    cr_expect_eq(err.line, line, "%s: line %d", msg, err.line);
    cr_expect_eq(err.column, col, "%s: column %d", msg, err.column);
    cr_expect_str_eq(err.message, msg);
    nb_graph_free(g);
}

static const char *expression(nb_graph *g, const char *name, char *buf, size_t cap)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    nb_node_expression(n, buf, cap);
    return buf;
}

Test(batch_norm_lang, state_statements)
{
    nb_graph *g = parse("state rm[3] = zeros\n"
                        "state rv[3] = ones\n"
                        "state s = [0.5, -1.5]\n"
                        "state t[2, 2] : f32 = 2\n");
    const char *names[4] = { "rm", "rv", "s", "t" };
    const double first[4] = { 0, 1, 0.5, 2 };
    for (int i = 0; i < 4; i++) {
        nb_node *n = nb_graph_find(g, names[i]);
        cr_assert_not_null(n);
        cr_expect_eq(nb_node_kind(n), NB_KIND_STATE, "%s", names[i]);
        double v[4];
        read_into(g, n, v);
        cr_expect_eq(v[0], first[i], "%s[0] = %g", names[i], v[0]);
    }
    cr_expect_eq(nb_node_size(nb_graph_find(g, "s")), 2);
    cr_expect_eq(nb_node_dtype(nb_graph_find(g, "t")), NB_DTYPE_F32);
    nb_graph_free(g);
}

Test(batch_norm_lang, state_statement_errors)
{
    parse_error("state s[2]\n", NB_ERR_FORMAT, 1, 11,
                "expected '=' and a literal, zeros or ones, found the end of the line");
    parse_error("state s[2] = normal(0, 1)\n", NB_ERR_FORMAT, 1, 14,
                "expected a number, found 'normal'");
    parse_error("state s[2] : i32 = zeros\n", NB_ERR_DTYPE, 1, 1,
                "state: dtype i32 is not supported; use f32 or f64");
    parse_error("state s[2] = [1, 2, 3]\n", NB_ERR_SHAPE, 1, 14,
                "the literal has shape [3] but s is [2]");
    parse_error("state = 1\n", NB_ERR_FORMAT, 1, 7, "expected a name, found '='");
    parse_error("input state[2]\n", NB_ERR_FORMAT, 1, 7,
                "'state' is a keyword or a function; choose another name");
}

Test(batch_norm_lang, positional_and_keyword_forms_give_the_same_node)
{
    static const char *prelude = "input x[4, 3]\n"
                                 "param w[3] = ones\n"
                                 "param b[3] = zeros\n"
                                 "state rm[3] = zeros\n"
                                 "state rv[3] = ones\n";
    char src[1024], buf[160];
    snprintf(src, sizeof src,
             "%sy1 = batch_norm(x, w, b, rm, rv)\n"
             "y2 = batch_norm(x, w, b, rm, rv, 0.2, 0.001)\n"
             "y3 = batch_norm(x, w, b, rm, rv, momentum=0.2, eps=0.001)\n"
             "y4 = batch_norm(x, w, b, rm, rv, eps=0.001, momentum=0.2)\n"
             "y5 = batch_norm(x, w, b, rm, rv, 0.2, eps=0.001)\n"
             "y6 = batch_norm(x, w, b, rm, rv, momentum=0.1, eps=1e-5)\n",
             prelude);
    nb_graph *g = parse(src);
    cr_expect_str_eq(expression(g, "y1", buf, sizeof buf), "batch_norm(x, w, b, rm, rv)");
    cr_expect_str_eq(expression(g, "y6", buf, sizeof buf), "batch_norm(x, w, b, rm, rv)");
    const char *want = "batch_norm(x, w, b, rm, rv, momentum=0.2, eps=0.001)";
    const char *forms[4] = { "y2", "y3", "y4", "y5" };
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(expression(g, forms[i], buf, sizeof buf), want, "%s", forms[i]);
    }
    nb_graph_free(g);

    snprintf(src, sizeof src, "%sy = batch_norm(x, w, b, w, rv)\n", prelude);
    parse_error(src, NB_ERR_ARG, 6, 5,
                "batch_norm: running_mean (param) is not a state node; make running statistics "
                "with nb_state (x[4,3], w[3], b[3], w[3], rv[3])");
    snprintf(src, sizeof src, "%sy = batch_norm(x, w, b, rm, rv, momentum=2)\n", prelude);
    parse_error(src, NB_ERR_ARG, 6, 5,
                "batch_norm: momentum must be in [0, 1], got 2 (x[4,3], w[3], b[3], rm[3], rv[3])");
    snprintf(src, sizeof src, "%sy = batch_norm(x, w, b, rm)\n", prelude);
    parse_error(src, NB_ERR_FORMAT, 6, 5,
                "batch_norm takes batch_norm(x, weight, bias, running_mean, running_var, "
                "momentum=0.1, eps=1e-05); got 4 positional arguments");
}

/* Writes g's model to a malloc'd string. */
static char *written(nb_graph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(nb_model_write(g, f), NB_OK, "%s", nb_graph_error(g));
    fclose(f);
    return text;
}

Test(batch_norm_lang, model_write_round_trip_with_state)
{
    model m = build(0.2, 1e-3);
    nb_graph *g = m.g;
    nb_node *rm2 = state(g, "rm2", 3, 0), *rv2 = state(g, "rv2", 3, 1);
    nb_node *z = nb_node_set_name(g, nb_batch_norm(g, m.y, NULL, NULL, rm2, rv2, 0.1, 1e-5), "z");
    assert_ok(g);
    cr_assert_eq(nb_graph_run(g, 1, &z), NB_OK, "%s", nb_graph_error(g)); /* statistics move */
    char *text = written(g);
    cr_expect_not_null(
        strstr(text, "\nstate rm[3] = [-0.20350000000000001, 0.13649999999999998, 0.096]\n"), "%s",
        text);
    cr_expect_not_null(strstr(text, "\ny = batch_norm(x, w, b, rm, rv, momentum=0.2, eps=0.001)\n"),
                       "%s", text);
    cr_expect_not_null(strstr(text, "\nfill_1 = fill([3], 1)\n"), "%s", text);
    cr_expect_not_null(strstr(text, "\nz = batch_norm(y, fill_1, fill_2, rm2, rv2)\n"), "%s", text);

    nb_graph *h = parse(text);
    const char *names[4] = { "rm", "rv", "rm2", "rv2" };
    for (int i = 0; i < 4; i++) {
        nb_node *a = nb_graph_find(g, names[i]), *b = nb_graph_find(h, names[i]);
        cr_assert_not_null(b);
        cr_expect_eq(nb_node_kind(b), NB_KIND_STATE);
        cr_expect_eq(memcmp(nb_node_data(a), nb_node_data(b), 3 * sizeof(double)), 0, "%s",
                     names[i]);
    }
    /* the same results in both modes, and the same updates */
    nb_node *hz = nb_graph_find(h, "z");
    const int flags[2] = { NB_RUN_TRAIN, NB_RUN_EVAL };
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(nb_graph_run_ex(g, 1, &z, flags[k]), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_graph_run_ex(h, 1, &hz, flags[k]), NB_OK, "%s", nb_graph_error(h));
        cr_expect_eq(memcmp(nb_node_data(z), nb_node_data(hz), 12 * sizeof(double)), 0, "flags %d",
                     flags[k]);
        for (int i = 0; i < 4; i++) {
            cr_expect_eq(memcmp(nb_node_data(nb_graph_find(g, names[i])),
                                nb_node_data(nb_graph_find(h, names[i])), 3 * sizeof(double)),
                         0, "flags %d: %s", flags[k], names[i]);
        }
    }
    free(text);
    text = written(g);
    char *again = written(h);
    cr_expect_str_eq(again, text, "writing the parsed model gives the same text");
    free(text);
    free(again);
    nb_graph_free(h);
    nb_graph_free(g);
}

/* ======================================================================== */
/* mode_select                                                              */
/* ======================================================================== */

Test(mode_select, shapes_and_dtypes_must_agree)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = input(g, "a", NB_SHAPE(2), NULL), *b = input(g, "b", NB_SHAPE(3), NULL);
    cr_expect_null(nb_mode_select(g, a, b));
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(nb_graph_error(g),
                     "mode_select(a[2], b[3]): train and eval must have one shape");
    nb_graph_free(g);
    g = nb_graph_new();
    a = input(g, "a", NB_SHAPE(2), NULL);
    nb_node *c = nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(2)), "c");
    cr_expect_null(nb_mode_select(g, a, c));
    cr_expect_eq(nb_graph_status(g), NB_ERR_DTYPE);
    cr_expect_str_eq(nb_graph_error(g), "mode_select(a[2], c[2]): dtypes f64 and f32 differ");
    nb_graph_free(g);
}

Test(mode_select, language_form_and_both_modes)
{
    nb_graph *g = parse("input a[2] = [1, 2]\ninput b[2] = [3, 4]\ny = mode_select(a, b)\n");
    char buf[64];
    cr_expect_str_eq(expression(g, "y", buf, sizeof buf), "mode_select(a, b)");
    nb_node *y = nb_graph_find(g, "y");
    double v[2];
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    read_into(g, y, v);
    cr_expect(v[0] == 1 && v[1] == 2, "training: a");
    nb_graph_set_training(g, false);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    read_into(g, y, v);
    cr_expect(v[0] == 3 && v[1] == 4, "evaluation: b");
    nb_graph_free(g);
}
