/*
 * tests/test_numerics.c: numerics. NB_RUN_CHECK_FINITE names the first node
 * that produces a NaN or an infinity and its inputs' ranges, in forward and
 * gradient graphs, also when the op ran in place over its input; it is not
 * sticky and changes nothing when not asked for. The stable formulations
 * (log-sum-exp in softmax, log_softmax and cross_entropy; softplus in
 * bce_logits; sigmoid and tanh for large |x|) are checked at extreme inputs
 * (±1000, and ±88, ±89, ±710 around where f32 and f64 e^x overflow), forward
 * and gradient, in f32 and f64, against float64 references.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <nabla.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* NB_RUN_CHECK_FINITE                                                      */
/* ======================================================================== */

static nb_node *input(nb_graph *g, nb_dtype dtype, const char *name, size_t n, const double *v)
{
    nb_node *x = nb_node_set_name(g, nb_input(g, dtype, 1, (const int64_t[]){ (int64_t)n }), name);
    cr_assert_eq(nb_node_write_f64(g, x, v, n), NB_OK);
    return x;
}

static void check_fails(nb_graph *g, nb_node *out, const char *msg)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run_ex(g, 1, &out, NB_RUN_CHECK_FINITE), NB_ERR_VALUE, "%s",
                 nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), msg);
    cr_assert_eq(nb_graph_status(g), NB_OK, "a failed check is not sticky");
    cr_assert_null(nb_node_data(out), "a stopped run leaves no value readable");
}

Test(check_finite, names_the_node_its_op_the_element_and_the_input_ranges,
     .description = "the message of nabla.h's example, exactly")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, NB_DTYPE_F64, "x", 3, (const double[]){ -1, 2, 0.5 });
    nb_node *y = nb_log(g, x);
    check_fails(g, y,
                "check_finite: log_1[3] (log) produced NaN at index 0; inputs: x[3] in [-1, 2]");
    nb_graph_free(g);
}

Test(check_finite, is_not_sticky_and_only_checks_when_asked)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, NB_DTYPE_F64, "x", 3, (const double[]){ 1, -2, 3 });
    nb_node *y = nb_sqrt(g, x);
    check_fails(g, y,
                "check_finite: sqrt_1[3] (sqrt) produced NaN at index 1; inputs: x[3] in [-2, 3]");
    /* without the flag the same run succeeds and keeps the NaN */
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_str_empty(nb_graph_error(g));
    const double *v = nb_node_data(y);
    cr_assert(isnan(v[1]) && v[0] == 1);
    /* with good inputs the checked run succeeds */
    cr_assert_eq(nb_node_write_f64(g, x, (const double[]){ 1, 4, 9 }, 3), NB_OK);
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_CHECK_FINITE), NB_OK);
    cr_assert_str_empty(nb_graph_error(g));
    cr_assert_eq(((const double *)nb_node_data(y))[1], 2);
    nb_graph_free(g);
}

Test(check_finite, stops_mid_graph_and_reports_an_input_the_op_overwrote,
     .description = "exp runs in place over x * 1000; the message gives the range x * 1000 had")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, NB_DTYPE_F64, "x", 3, (const double[]){ -1, 0.5, 2 });
    nb_node *k = nb_node_set_name(g, nb_scalar(g, NB_DTYPE_F64, 1000), "k");
    nb_node *h = nb_mul(g, x, k);
    nb_node *e = nb_exp(g, h);
    nb_node *s = nb_sum(g, nb_tanh(g, e));
    check_fails(g, s,
                "check_finite: exp_1[3] (exp) produced inf at index 2; inputs: mul_1[3] in "
                "[-1000, 2000]");
    /* the same plan runs unchecked: tanh(inf) = 1, so the sum is finite */
    cr_assert_eq(nb_graph_run(g, 1, &s), NB_OK);
    cr_assert_float_eq(*(const double *)nb_node_data(s), 2 + tanh(exp(500.0)) - 1, 1e-15);
    nb_graph_free(g);
}

Test(check_finite, f32_exp_overflows_above_88_point_7)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, NB_DTYPE_F32, "x", 2, (const double[]){ 88, 89 });
    nb_node *e = nb_exp(g, x);
    check_fails(g, e,
                "check_finite: exp_1[2] (exp) produced inf at index 1; inputs: x[2] in [88, 89]");
    nb_graph_free(g);
}

Test(check_finite, a_nan_input_and_integer_inputs_are_described)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input(g, NB_DTYPE_F64, "x", 2, (const double[]){ NAN, 1 });
    check_fails(g, nb_exp(g, x),
                "check_finite: exp_1[2] (exp) produced NaN at index 0; inputs: x[2] in [1, 1] "
                "with NaN");
    nb_graph_free(g);

    /* cross_entropy of an infinite logit: inf - inf; the i32 labels get a range too */
    g = nb_graph_new();
    nb_node *z = nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 2)), "z");
    nb_node *l = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2)), "labels");
    cr_assert_eq(nb_node_write_f64(g, z, (const double[]){ 0, 1, INFINITY, 2 }, 4), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, l, (const double[]){ 1, 0 }, 2), NB_OK);
    check_fails(g, nb_cross_entropy(g, z, l),
                "check_finite: cross_entropy_1[] (cross_entropy) produced NaN at index 0; "
                "inputs: z[2,2] in [0, inf], labels[2] in [0, 1]");
    nb_graph_free(g);
}

Test(check_finite, names_the_first_bad_node_of_a_gradient_graph,
     .description = "d/dx sum(sqrt(x)) = 1 / (2 sqrt(x)) is infinite at 0; the forward is not")
{
    nb_graph *g = nb_graph_new();
    nb_node *x =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(0)), "x");
    cr_assert_eq(nb_node_write_f64(g, x, (const double[]){ 4, 0 }, 2), NB_OK);
    nb_node *r = nb_node_set_name(g, nb_sqrt(g, x), "r");
    nb_node *y = nb_node_set_name(g, nb_sum(g, r), "y");
    nb_node *dx;
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK);
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_CHECK_FINITE), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(*(const double *)nb_node_data(y), 2);
    check_fails(g, dx,
                "check_finite: grad_x[2] (div) produced inf at index 1; inputs: broadcast_to_1[2] "
                "in [1, 1], mul_1[2] in [0, 4]");
    cr_assert(nb_node_is_grad(dx));
    /* second order: d/dx sum(dx * dx) needs dx first, so the same node is named */
    nb_node *sq = nb_sum(g, nb_mul(g, dx, dx)), *ddx;
    cr_assert_eq(nb_grad(g, sq, 1, &x, &ddx), NB_OK);
    check_fails(g, ddx,
                "check_finite: grad_x[2] (div) produced inf at index 1; inputs: broadcast_to_1[2] "
                "in [1, 1], mul_1[2] in [0, 4]");
    nb_graph_free(g);
}

/* ---- checking costs nothing when not asked for ---- */

typedef struct counter {
    size_t calls;
} counter;

static void *counting_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    (void)old_size;
    ((counter *)user)->calls++;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

/* A small MLP with its loss and gradients; outs[0] the loss, outs[1..4] the gradients. */
static void mlp(nb_graph *g, nb_node **outs)
{
    nb_graph_seed(g, 7);
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(8, 5));
    nb_node *l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(8));
    nb_node *w1 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(5, 16), nb_init_he_normal());
    nb_node *b1 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(16), nb_init_uniform(-0.1, 0.1));
    nb_node *w2 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(16, 3), nb_init_xavier_uniform());
    nb_node *b2 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), nb_init_constant(0.1));
    nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, w1), b1));
    nb_node *loss = nb_cross_entropy(g, nb_add(g, nb_matmul(g, h, w2), b2), l);
    nb_node *wrt[4] = { w1, b1, w2, b2 };
    outs[0] = loss;
    cr_assert_eq(nb_grad(g, loss, 4, wrt, outs + 1), NB_OK, "%s", nb_graph_error(g));
    float xv[40];
    int32_t lv[8];
    for (int i = 0; i < 40; i++) {
        xv[i] = (float)sin(0.7 * i);
    }
    for (int i = 0; i < 8; i++) {
        lv[i] = i % 3;
    }
    cr_assert_eq(nb_node_write(g, x, xv, 40), NB_OK);
    cr_assert_eq(nb_node_write(g, l, lv, 8), NB_OK);
}

static size_t copy_values(nb_node **outs, float *dst)
{
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        size_t n = nb_node_size(outs[i]);
        memcpy(dst + at, nb_node_data(outs[i]), n * sizeof *dst);
        at += n;
    }
    return at;
}

Test(check_finite, same_results_and_no_allocation_either_way,
     .description = "checked and unchecked runs share one plan and give identical bits")
{
    for (int first_checked = 0; first_checked <= 1; first_checked++) {
        counter c = { 0 };
        nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
        nb_node *outs[5];
        mlp(g, outs);
        static float a[1 + 5 * 16 + 16 + 16 * 3 + 3], b[sizeof a / sizeof *a];
        int first = first_checked ? NB_RUN_CHECK_FINITE : 0;
        cr_assert_eq(nb_graph_run_ex(g, 5, outs, first), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(copy_values(outs, a), sizeof a / sizeof *a);
        size_t calls = c.calls;
        cr_assert_eq(nb_graph_run_ex(g, 5, outs, first ^ NB_RUN_CHECK_FINITE), NB_OK);
        cr_assert_eq(c.calls, calls, "switching the check on or off allocated");
        copy_values(outs, b);
        cr_assert_arr_eq(a, b, sizeof a, "checked and unchecked results differ");
        nb_memory_stats m;
        nb_graph_memory(g, &m);
        cr_assert_gt(m.plan_bytes, 0);
        nb_graph_free(g);
    }
}

/* ======================================================================== */
/* Stable formulations at extreme inputs                                    */
/* ======================================================================== */

/*
 * References: the closed forms evaluated with mpmath 1.2.1 at 60 digits and
 * rounded to float64 (script in docs/reliability.md):
 *     sigmoid(x) = 1 / (1 + e^-x), sigmoid'(x) = sigmoid(x) sigmoid(-x),
 *     tanh'(x) = 1 / cosh(x)^2, log_softmax(r) = r - log Σ e^r,
 *     bce = mean(log(1 + e^z) - z t).
 * PyTorch 1.13 float64 (torch.sigmoid, tanh, softmax, log_softmax,
 * F.cross_entropy, F.binary_cross_entropy_with_logits and autograd) agrees
 * with every value to 1e-15 relative, except where its own formulas lose
 * digits: sigmoid(-710) (0 in PyTorch, 4.476e-309 here) and the gradients of
 * sigmoid, tanh and bce_logits for large positive inputs (y (1 - y), 1 - y^2
 * and sigmoid(z) - t, computed the same way by nabla).
 */
#define N_X 13
static const double X[N_X] = { -1000, -710, -89, -88, -20, -1, 0, 1, 20, 88, 89, 710, 1000 };

static const double SIGMOID[N_X] = {
    0.0,
    4.47628622567513e-309,
    2.2273635617957438e-39,
    6.054601895401186e-39,
    2.0611536181902037e-09,
    0.2689414213699951,
    0.5,
    0.7310585786300049,
    0.9999999979388464,
    1.0,
    1.0,
    1.0,
    1.0,
};
static const double DSIGMOID[N_X] = {
    0.0,
    4.47628622567513e-309,
    2.2273635617957438e-39,
    6.054601895401186e-39,
    2.061153613941849e-09,
    0.19661193324148185,
    0.25,
    0.19661193324148185,
    2.061153613941849e-09,
    6.054601895401186e-39,
    2.2273635617957438e-39,
    4.47628622567513e-309,
    0.0,
};
static const double TANH[N_X] = {
    -1.0, -1.0, -1.0, -1.0, -1.0, -0.7615941559557649, 0.0, 0.7615941559557649,
    1.0,  1.0,  1.0,  1.0,  1.0,
};
static const double DTANH[N_X] = {
    0.0,
    0.0,
    1.984459374566169e-77,
    1.4663281644718252e-76,
    1.6993417021166355e-17,
    0.4199743416140261,
    1.0,
    0.4199743416140261,
    1.6993417021166355e-17,
    1.4663281644718252e-76,
    1.984459374566169e-77,
    0.0,
    0.0,
};

#define ROWS 5
static const double LOGITS[ROWS * 3] = {
    1000, 0, -1000, 1000, 1000, 999, -1000, -1000.5, -999, 710, -710, 89, -89, 88, -88,
};
static const double WEIGHTS[ROWS * 3] = {
    1, 2, 3, -1, 0.5, 2, 0.25, -2, 1, 3, -1, 0.5, 2, 1, -3,
};
static const int32_t LABELS[ROWS] = { 0, 2, 1, 1, 0 };

static const double SOFTMAX[ROWS * 3] = {
    1.0,
    0.0,
    0.0,
    0.4223187982515182,
    0.4223187982515182,
    0.15536240349696362,
    0.23122389762214907,
    0.14024438316608848,
    0.6285317192117624,
    1.0,
    0.0,
    2.009679202108461e-270,
    1.3485799642996046e-77,
    1.0,
    3.665820411179563e-77,
};
/* d/dlogits of sum(WEIGHTS * softmax(logits, 1)) */
static const double DSOFTMAX[ROWS * 3] = {
    0.0,
    0.0,
    0.0,
    -0.46436714164982523,
    0.16911105572745208,
    0.2952560859223731,
    -0.036035996407096975,
    -0.3374067987978977,
    0.3734427952049947,
    0.0,
    -0.0,
    -5.024198005271153e-270,
    1.3485799642996046e-77,
    0.0,
    -1.4663281644718252e-76,
};
static const double LOG_SOFTMAX[ROWS * 3] = {
    0.0,
    -1000.0,
    -2000.0,
    -0.8619948040582511,
    -0.8619948040582511,
    -1.861994804058251,
    -1.464368784107945,
    -1.964368784107945,
    -0.46436878410794485,
    0.0,
    -1420.0,
    -621.0,
    -177.0,
    0.0,
    -176.0,
};
/* d/dlogits of sum(WEIGHTS * log_softmax(logits, 1)) */
static const double DLOG_SOFTMAX[ROWS * 3] = {
    -5.0,
    2.0,
    3.0,
    -1.6334781973772774,
    -0.13347819737727729,
    1.7669563947545546,
    0.4234179232166118,
    -1.8948167126254336,
    1.4713987894088218,
    0.5,
    -1.0,
    0.5,
    2.0,
    1.0,
    -3.0,
};
static const double CROSS_ENTROPY = 320.16527271763323;
static const double DCROSS_ENTROPY[ROWS * 3] = {
    0.0,
    0.0,
    0.0,
    0.08446375965030364,
    0.08446375965030364,
    -0.1689275193006073,
    0.04624477952442981,
    -0.1719511233667823,
    0.1257063438423525,
    0.2,
    -0.2,
    4.019358404216922e-271,
    -0.2,
    0.2,
    7.331640822359126e-78,
};

static const double TARGETS[N_X] = { 0, 1, 0.25, 0.5, 0.75, 1, 0, 1, 0.5, 1, 0, 0.25, 1 };
static const double BCE = 109.62074388920914;
static const double DBCE[N_X] = {
    0.0,
    -0.07692307692307693,
    -0.019230769230769232,
    -0.038461538461538464,
    -0.05769230753375741,
    -0.056235275279231146,
    0.038461538461538464,
    -0.020687801643845777,
    0.03846153830298819,
    -4.657386073385528e-40,
    0.07692307692307693,
    0.057692307692307696,
    0.0,
};

/*
 * Tolerances: a value must be within rtol of the reference, relative, or
 * within atol, absolute. rtol is a few units in the last place of the dtype.
 * atol is the smallest subnormal for values (they must be accurate even when
 * tiny), and one unit at 1 for gradients, whose formulas y (1 - y), 1 - y^2
 * and p - onehot are accurate to the scale of the gradient only.
 */
typedef struct tol {
    double rtol, atol;
} tol;

static tol value_tol(nb_dtype t)
{
    return t == NB_DTYPE_F32 ? (tol){ 8 * FLT_EPSILON, FLT_TRUE_MIN }
                             : (tol){ 8 * DBL_EPSILON, DBL_TRUE_MIN };
}

static tol grad_tol(nb_dtype t)
{
    return t == NB_DTYPE_F32 ? (tol){ 8 * FLT_EPSILON, FLT_EPSILON }
                             : (tol){ 8 * DBL_EPSILON, DBL_EPSILON };
}

/* Reads n values of node v and compares them with want. */
static void expect_values(nb_graph *g, nb_node *v, size_t n, const double *want, tol t,
                          const char *what)
{
    double got[32];
    cr_assert_leq(n, 32);
    cr_assert_eq(nb_node_size(v), n);
    cr_assert_eq(nb_node_read_f64(g, v, got, n), NB_OK, "%s", nb_graph_error(g));
    const char *dt = nb_dtype_name(nb_node_dtype(v));
    double tiny = nb_node_dtype(v) == NB_DTYPE_F32 ? FLT_MIN : DBL_MIN;
    double max_rel = 0, max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(got[i]), "%s %s[%zu] = %g is not finite", dt, what, i, got[i]);
        double err = fabs(got[i] - want[i]);
        cr_expect(err <= t.atol + t.rtol * fabs(want[i]),
                  "%s %s[%zu] = %.17g, want %.17g (error %.3g, relative %.3g)", dt, what, i, got[i],
                  want[i], err, want[i] ? err / fabs(want[i]) : err);
        if (fabs(want[i]) >= tiny) {
            max_rel = fmax(max_rel, err / fabs(want[i]));
        }
        max_abs = fmax(max_abs, err);
    }
    /* the figures of docs/reliability.md */
    cr_log_info("%s %s: max absolute error %.2g, max relative error %.2g (references >= %g)", dt,
                what, max_abs, max_rel, tiny);
}

/* Runs outs with the finiteness check: every node on the way is finite. */
static void run_checked(nb_graph *g, size_t n, nb_node **outs)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run_ex(g, n, outs, NB_RUN_CHECK_FINITE), NB_OK, "%s", nb_graph_error(g));
}

static const nb_dtype DTYPES[2] = { NB_DTYPE_F32, NB_DTYPE_F64 };

/* sum(op(x)) and its gradient, which is op' elementwise. */
static void elementwise(nb_node *(*op)(nb_graph *, nb_node *), const char *name, const double *want,
                        const double *dwant)
{
    for (int d = 0; d < 2; d++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_param(g, DTYPES[d], NB_SHAPE(N_X), nb_init_constant(0));
        cr_assert_eq(nb_node_write_f64(g, x, X, N_X), NB_OK);
        nb_node *y = op(g, x), *dx;
        cr_assert_eq(nb_grad(g, nb_sum(g, y), 1, &x, &dx), NB_OK);
        nb_node *outs[2] = { y, dx };
        run_checked(g, 2, outs);
        expect_values(g, y, N_X, want, value_tol(DTYPES[d]), name);
        char dname[32];
        snprintf(dname, sizeof dname, "d%s", name);
        expect_values(g, dx, N_X, dwant, grad_tol(DTYPES[d]), dname);
        nb_graph_free(g);
    }
}

Test(stable, sigmoid_at_extreme_inputs, .description = "two branches: e^-|x| never overflows")
{
    elementwise(nb_sigmoid, "sigmoid", SIGMOID, DSIGMOID);
}

Test(stable, tanh_at_extreme_inputs)
{
    elementwise(nb_tanh, "tanh", TANH, DTANH);
}

/* sum(WEIGHTS * op(logits, 1)) and its gradient with respect to the logits. */
static void along_rows(nb_node *(*op)(nb_graph *, nb_node *, int), const char *name,
                       const double *want, const double *dwant)
{
    for (int d = 0; d < 2; d++) {
        nb_graph *g = nb_graph_new();
        nb_node *z = nb_param(g, DTYPES[d], NB_SHAPE(ROWS, 3), nb_init_constant(0));
        nb_node *w = nb_input(g, DTYPES[d], NB_SHAPE(ROWS, 3));
        cr_assert_eq(nb_node_write_f64(g, z, LOGITS, ROWS * 3), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, w, WEIGHTS, ROWS * 3), NB_OK);
        nb_node *y = op(g, z, 1), *dz;
        cr_assert_eq(nb_grad(g, nb_sum(g, nb_mul(g, w, y)), 1, &z, &dz), NB_OK);
        nb_node *outs[2] = { y, dz };
        run_checked(g, 2, outs);
        expect_values(g, y, ROWS * 3, want, value_tol(DTYPES[d]), name);
        char dname[32];
        snprintf(dname, sizeof dname, "d%s", name);
        expect_values(g, dz, ROWS * 3, dwant, grad_tol(DTYPES[d]), dname);
        nb_graph_free(g);
    }
}

Test(stable, softmax_at_extreme_logits)
{
    along_rows(nb_softmax, "softmax", SOFTMAX, DSOFTMAX);
}

Test(stable, log_softmax_at_extreme_logits,
     .description = "x - max - log Σ e^(x - max): the row [1000, 1000, 999] keeps every digit")
{
    along_rows(nb_log_softmax, "log_softmax", LOG_SOFTMAX, DLOG_SOFTMAX);
}

Test(stable, cross_entropy_at_extreme_logits)
{
    for (int d = 0; d < 2; d++) {
        nb_graph *g = nb_graph_new();
        nb_node *z = nb_param(g, DTYPES[d], NB_SHAPE(ROWS, 3), nb_init_constant(0));
        nb_node *l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(ROWS));
        cr_assert_eq(nb_node_write_f64(g, z, LOGITS, ROWS * 3), NB_OK);
        cr_assert_eq(nb_node_write(g, l, LABELS, ROWS), NB_OK);
        nb_node *y = nb_cross_entropy(g, z, l), *dz;
        cr_assert_eq(nb_grad(g, y, 1, &z, &dz), NB_OK);
        nb_node *outs[2] = { y, dz };
        run_checked(g, 2, outs);
        expect_values(g, y, 1, &CROSS_ENTROPY, value_tol(DTYPES[d]), "cross_entropy");
        expect_values(g, dz, ROWS * 3, DCROSS_ENTROPY, grad_tol(DTYPES[d]), "dcross_entropy");
        nb_graph_free(g);

        /* each row alone, so no row's rounding hides in the mean: -log_softmax at the label */
        for (int r = 0; r < ROWS; r++) {
            g = nb_graph_new();
            z = nb_input(g, DTYPES[d], NB_SHAPE(1, 3));
            l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(1));
            cr_assert_eq(nb_node_write_f64(g, z, LOGITS + 3 * r, 3), NB_OK);
            cr_assert_eq(nb_node_write(g, l, LABELS + r, 1), NB_OK);
            y = nb_cross_entropy(g, z, l);
            run_checked(g, 1, &y);
            double want = -LOG_SOFTMAX[3 * r + LABELS[r]];
            char what[32];
            snprintf(what, sizeof what, "cross_entropy(row %d)", r);
            expect_values(g, y, 1, &want, value_tol(DTYPES[d]), what);
            nb_graph_free(g);
        }
    }
}

Test(stable, bce_logits_at_extreme_logits,
     .description = "max(z, 0) - z t + log1p(e^-|z|): softplus without overflow")
{
    for (int d = 0; d < 2; d++) {
        nb_graph *g = nb_graph_new();
        nb_node *z = nb_param(g, DTYPES[d], NB_SHAPE(N_X), nb_init_constant(0));
        nb_node *t = nb_input(g, DTYPES[d], NB_SHAPE(N_X));
        cr_assert_eq(nb_node_write_f64(g, z, X, N_X), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, t, TARGETS, N_X), NB_OK);
        nb_node *y = nb_bce_logits(g, z, t), *dz;
        cr_assert_eq(nb_grad(g, y, 1, &z, &dz), NB_OK);
        nb_node *outs[2] = { y, dz };
        run_checked(g, 2, outs);
        expect_values(g, y, 1, &BCE, value_tol(DTYPES[d]), "bce_logits");
        expect_values(g, dz, N_X, DBCE, grad_tol(DTYPES[d]), "dbce_logits");
        nb_graph_free(g);
    }
}

Test(stable, naive_formulas_would_overflow, .description = "the check proves the inputs are hard")
{
    /* log(sum(exp(x))) and log(1 + exp(x)) built from primitives overflow where the ops do not */
    for (int d = 0; d < 2; d++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_node_set_name(g, nb_input(g, DTYPES[d], NB_SHAPE(N_X)), "x");
        cr_assert_eq(nb_node_write_f64(g, x, X, N_X), NB_OK);
        nb_node *lse = nb_log(g, nb_sum(g, nb_exp(g, x)));
        cr_assert_eq(nb_graph_run_ex(g, 1, &lse, NB_RUN_CHECK_FINITE), NB_ERR_VALUE);
        cr_assert_str_eq(nb_graph_error(g),
                         d == 0 ? "check_finite: exp_1[13] (exp) produced inf at index 10; inputs: "
                                  "x[13] in [-1000, 1000]"
                                : "check_finite: exp_1[13] (exp) produced inf at index 11; "
                                  "inputs: x[13] in [-1000, 1000]");
        nb_graph_free(g);
    }
}
