/*
 * tests/test_optim.c: the optimizers through the public API. Every update rule
 * (SGD, AdaGrad, RMSProp, Adam, AdamW and their variants) is checked over three
 * steps against numbers from the formulas PyTorch 1.13 documents; then the
 * learning-rate schedules, clipping by global norm, non-finite gradients,
 * allocation-free steps, nb_optim_step_with, option checks and the accessors.
 *
 * Provenance of the reference numbers. The *_want tables were printed (%.17g)
 * by the script in the appendix at the end of this file, run offline with
 * /usr/bin/python3 (torch 1.13): it implements each documented rule in plain
 * float64 Python, and also runs torch.optim on the same model; the two agree
 * to 2.2e-16. Step 1 (and for SGD step 2) is also worked out by hand in the
 * comments. Schedule rates are closed forms written out beside each number.
 */
#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Tolerance on parameter values (all of order 1). 1e-6 would tell the rules
 * apart, but nabla's float64 arithmetic agrees with the references to about
 * 1e-15, and a tighter bound also catches a misplaced 1e-6 or 1e-8.
 */
#define TOL 1e-9

#define ASSERT_ERROR(g, code, msg)                                                                 \
    do {                                                                                           \
        cr_assert_eq(nb_graph_status(g), (code), "status %d (%s), message \"%s\"",                 \
                     (int)nb_graph_status(g), nb_status_string(nb_graph_status(g)),                \
                     nb_graph_error(g));                                                           \
        cr_assert_str_eq(nb_graph_error(g), (msg));                                                \
    } while (0)

#define ASSERT_HEALTHY(g)                                                                          \
    cr_assert_eq(nb_graph_status(g), NB_OK, "unexpected error: %s", nb_graph_error(g))

/* ======================================================================== */
/* The test model                                                           */
/* ======================================================================== */

/*
 * Two parameters w[3] and b[2] and
 *     loss = sum(c w²) + sum(k b),   c = (0.5, 1, 2),   k = (2, -2),
 * so dloss/dw = 2 c w = (w0, 2 w1, 4 w2) and dloss/db = k (constant).
 * Start: w = (1, -2, 0.5), b = (0.3, -0.7); there the gradient is
 * (1, -4, 2 | 2, -2), the loss 0.5 + 4 + 0.5 + 0.6 + 1.4 = 7, the norm √29.
 */
static const double W0[3] = { 1.0, -2.0, 0.5 };
static const double B0[2] = { 0.3, -0.7 };
static const double C[3] = { 0.5, 1.0, 2.0 };
static const double K[2] = { 2.0, -2.0 };

typedef struct model {
    nb_graph *g;
    nb_node *w, *b, *c, *k, *loss;
    nb_node *params[2], *grads[2];
} model;

static void write_or_die(nb_graph *g, nb_node *n, const double *v, size_t count)
{
    cr_assert_eq(nb_node_write_f64(g, n, v, count), NB_OK, "%s", nb_graph_error(g));
}

static model model_build(nb_graph *g, nb_dtype dt)
{
    cr_assert_not_null(g);
    model m = { .g = g };
    m.w = nb_node_set_name(g, nb_param(g, dt, NB_SHAPE(3), nb_init_constant(0)), "w");
    m.b = nb_node_set_name(g, nb_param(g, dt, NB_SHAPE(2), nb_init_constant(0)), "b");
    m.c = nb_node_set_name(g, nb_input(g, dt, NB_SHAPE(3)), "c");
    m.k = nb_node_set_name(g, nb_input(g, dt, NB_SHAPE(2)), "k");
    nb_node *quad = nb_sum(g, nb_mul(g, m.c, nb_mul(g, m.w, m.w)));
    m.loss = nb_node_set_name(g, nb_add(g, quad, nb_sum(g, nb_mul(g, m.k, m.b))), "loss");
    m.params[0] = m.w;
    m.params[1] = m.b;
    nb_grad(g, m.loss, 2, m.params, m.grads);
    nb_node_set_name(g, m.grads[0], "dw");
    nb_node_set_name(g, m.grads[1], "db");
    ASSERT_HEALTHY(g);
    write_or_die(g, m.w, W0, 3);
    write_or_die(g, m.b, B0, 2);
    write_or_die(g, m.c, C, 3);
    write_or_die(g, m.k, K, 2);
    return m;
}

/* Reads w then b into p[5]. */
static void read_params(const model *m, double p[5])
{
    cr_assert_eq(nb_node_read_f64(m->g, m->w, p, 3), NB_OK, "%s", nb_graph_error(m->g));
    cr_assert_eq(nb_node_read_f64(m->g, m->b, p + 3, 2), NB_OK, "%s", nb_graph_error(m->g));
}

static void expect_params(const model *m, const double want[5], double tol, int step)
{
    static const char *const names[5] = { "w[0]", "w[1]", "w[2]", "b[0]", "b[1]" };
    double p[5];
    read_params(m, p);
    for (int i = 0; i < 5; i++) {
        cr_assert(fabs(p[i] - want[i]) <= tol, "after step %d: %s = %.17g, want %.17g", step,
                  names[i], p[i], want[i]);
    }
}

static void step_ok(nb_optim *opt, nb_graph *g)
{
    nb_status s = nb_optim_step(opt);
    cr_assert_eq(s, NB_OK, "step: %s (%s)", nb_status_string(s), nb_graph_error(g));
}

/* Runs three steps of o on a fresh float64 model and checks them against want. */
static void check_rule(const nb_optim_options *o, const double want[3][5])
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    for (int t = 0; t < 3; t++) {
        step_ok(opt, g);
        cr_assert_eq(nb_optim_steps(opt), t + 1);
        expect_params(&m, want[t], TOL, t + 1);
    }
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Reference tables (appendix script; rows are steps 1..3, w[0..2] b[0..1]) */
/* ======================================================================== */

/*
 * SGD lr 0.1. Step 1: p - 0.1 (1, -4, 2 | 2, -2) = (0.9, -1.6, 0.3 | 0.1, -0.5).
 * Step 2: g = (0.9, -3.2, 1.2 | 2, -2), p = (0.81, -1.28, 0.18 | -0.1, -0.3).
 * Step 3: g = (0.81, -2.56, 0.72 | 2, -2), p = (0.729, -1.024, 0.108 | -0.3, -0.1).
 */
static const double sgd_plain_want[3][5] = {
    { 0.90000000000000002, -1.6000000000000001, 0.29999999999999999, 0.099999999999999978,
      -0.49999999999999994 },
    { 0.81000000000000005, -1.28, 0.17999999999999999, -0.10000000000000003, -0.29999999999999993 },
    { 0.72900000000000009, -1.024, 0.108, -0.30000000000000004, -0.099999999999999922 },
};
/*
 * momentum 0.9. Step 1: buf = g, as plain. Step 2: buf = 0.9 g1 + g2 =
 * (1.8, -6.8, 3 | 3.8, -3.8), p = (0.72, -0.92, 0 | -0.28, -0.12).
 */
static const double sgd_momentum_want[3][5] = {
    { 0.90000000000000002, -1.6000000000000001, 0.29999999999999999, 0.099999999999999978,
      -0.49999999999999994 },
    { 0.71999999999999997, -0.91999999999999993, -5.5511151231257827e-17, -0.28000000000000003,
      -0.11999999999999994 },
    { 0.48599999999999999, -0.12399999999999978, -0.27000000000000007, -0.82200000000000006,
      0.4220000000000001 },
};
/*
 * momentum 0.9, dampening 0.5: the first step sets buf = g undamped (as
 * PyTorch). Step 2: buf = 0.9 g1 + 0.5 g2 = (1.35, -5.2, 2.4 | 2.8, -2.8),
 * p = (0.765, -1.08, 0.06 | -0.18, -0.22).
 */
static const double sgd_dampening_want[3][5] = {
    { 0.90000000000000002, -1.6000000000000001, 0.29999999999999999, 0.099999999999999978,
      -0.49999999999999994 },
    { 0.76500000000000001, -1.0800000000000001, 0.059999999999999998, -0.17999999999999999,
      -0.21999999999999997 },
    { 0.60524999999999995, -0.504, -0.16800000000000004, -0.53200000000000003,
      0.13200000000000006 },
};
/* Nesterov, momentum 0.9. Step 1: buf = g, d = g + 0.9 buf = 1.9 g: p = p - 0.19 g. */
static const double sgd_nesterov_want[3][5] = {
    { 0.81000000000000005, -1.24, 0.12, -0.080000000000000016, -0.31999999999999995 },
    { 0.57510000000000006, -0.44479999999999997, -0.13320000000000004, -0.62200000000000011,
      0.22200000000000009 },
    { 0.32732100000000003, 0.21670400000000001, -0.21664800000000006, -1.3098000000000001,
      0.90980000000000016 },
};
/* weight decay 0.1. Step 1: d = g + 0.1 p = (1.1, -4.2, 2.05 | 2.03, -2.07). */
static const double sgd_weight_decay_want[3][5] = {
    { 0.89000000000000001, -1.5800000000000001, 0.29500000000000004, 0.097000000000000003,
      -0.49299999999999999 },
    { 0.79210000000000003, -1.2482, 0.17405000000000001, -0.10397000000000001,
      -0.28806999999999994 },
    { 0.70496899999999996, -0.98607800000000001, 0.1026895, -0.30293029999999999,
      -0.085189299999999912 },
};
/* momentum 0.5 and weight decay 0.1: the decayed gradient enters the buffer. */
static const double sgd_momentum_weight_decay_want[3][5] = {
    { 0.89000000000000001, -1.5800000000000001, 0.29500000000000004, 0.097000000000000003,
      -0.49299999999999999 },
    { 0.73709999999999998, -1.0382, 0.071550000000000002, -0.20547000000000001,
      -0.18457000000000001 },
    { 0.579569, -0.54927799999999993, -0.069510500000000003, -0.55465030000000004, 0.1714907 },
};
/*
 * Adagrad lr 0.1. Step 1: s = g², p = p - 0.1 g / (|g| + 1e-10), so each
 * element moves by 0.1 against its sign: (0.9, -1.9, 0.4 | 0.2, -0.6).
 */
static const double adagrad_plain_want[3][5] = {
    { 0.90000000001000002, -1.9000000000024999, 0.40000000000500002, 0.20000000000499998,
      -0.60000000000499998 },
    { 0.83310352685231681, -1.8311250538122312, 0.33753049525152046, 0.12928932188884523,
      -0.52928932188884525 },
    { 0.78045618136551631, -1.775821515013063, 0.29089917678825128, 0.071554294971549318,
      -0.47155429497154933 },
};
/*
 * lr_decay 0.5, initial_accumulator 0.5. Step 1: clr = 0.1, s = 0.5 + g²,
 * w0 = 1 - 0.1 / √1.5 = 0.918350341907227. Step 2: clr = 0.1 / 1.5.
 * Step 3: clr = 0.1 / 2.
 */
static const double adagrad_decay_acc_want[3][5] = {
    { 0.91835034191389409, -1.9015268072189579, 0.40571909584623811, 0.2057190958462381,
      -0.60571909584623806 },
    { 0.87835614822054942, -1.8559631944598491, 0.36521155155250273, 0.15998613980980436,
      -0.55998613980980438 },
    { 0.8534721473584036, -1.8282163541545537, 0.34121846122552685, 0.13170186856314245,
      -0.5317018685631425 },
};
/* as above, and weight decay 0.1 (d = g + 0.1 p enters the sum of squares). */
static const double adagrad_weight_decay_want[3][5] = {
    { 0.91588089758722679, -1.9013877997333002, 0.40546568994266252, 0.20556505041040318,
      -0.60536889474570743 },
    { 0.8751937100156727, -1.8557917200106049, 0.36490552914488833, 0.15990550725682093,
      -0.55965711481415348 },
    { 0.85000460271852574, -1.8280315719383557, 0.34089240506584606, 0.13169564076053034,
      -0.53142446386753461 },
};
/* eps 0.5 pins where eps goes (after the root). Step 1: w0 = 1 - 0.1 / (1 + 0.5). */
static const double adagrad_eps_want[3][5] = {
    { 0.93333333333333335, -1.9111111111111112, 0.41999999999999998, 0.21999999999999997, -0.62 },
    { 0.88336596296964187, -1.8477513946095694, 0.36601494597994433, 0.15991155807106605,
      -0.55991155807106607 },
    { 0.84186076879749205, -1.7960897341801441, 0.3241165089235491, 0.10945876462191279,
      -0.50945876462191275 },
};
/*
 * RMSprop lr 0.01, alpha 0.9. Step 1: v = 0.1 g², p = p - 0.01 g / (√0.1 |g| +
 * 1e-8): each element moves by 0.01 / √0.1 = 0.0316227766 against its sign.
 */
static const double rmsprop_plain_want[3][5] = {
    { 0.96837722439831619, -1.9683772236483161, 0.46837722389831621, 0.2683772238983162,
      -0.66837722389831611 },
    { 0.94578802624585689, -1.9456096370520823, 0.44615846137046977, 0.24543565077441792,
      -0.64543565077441778 },
    { 0.92705309965850125, -1.9266336823682226, 0.427928873459472, 0.22622618219903728,
      -0.62622618219903714 },
};
/*
 * centered. Step 1: v = 0.1 g², m = 0.1 g, v - m² = 0.09 g²: each element
 * moves by 0.01 / 0.3 = 0.0333333 against its sign.
 */
static const double rmsprop_centered_want[3][5] = {
    { 0.96666666777777777, -1.9666666669444444, 0.46666666722222222, 0.26666666722222221,
      -0.66666666722222212 },
    { 0.94159014428872534, -1.9413801529273844, 0.4420283625894742, 0.24117603045037941,
      -0.6411760304503793 },
    { 0.91970050288847605, -1.9191804005897308, 0.4207944886649016, 0.21867763295417994,
      -0.61867763295417988 },
};
/* centered, eps 0.1 (added after the root). Step 1: w0 = 1 - 0.01 / (0.3 + 0.1) = 0.975. */
static const double rmsprop_eps_want[3][5] = {
    { 0.97499999999999998, -1.9692307692307693, 0.47142857142857142, 0.27142857142857141,
      -0.67142857142857137 },
    { 0.95498675163905444, -1.9454557590168462, 0.44953758143462985, 0.24881952883156608,
      -0.64881952883156602 },
    { 0.93708659961717111, -1.9244360838155088, 0.43040959282386426, 0.22859610432435715,
      -0.62859610432435709 },
};
/* momentum 0.9: step 1 as plain (buf = g / a); later steps add 0.9 buf. */
static const double rmsprop_momentum_want[3][5] = {
    { 0.96837722439831619, -1.9683772236483161, 0.46837722389831621, 0.2683772238983162,
      -0.66837722389831611 },
    { 0.91732752820434138, -1.917149138335567, 0.41769796287895439, 0.21697515228290248,
      -0.61697515228290245 },
    { 0.85301960241199892, -1.8522469437896507, 0.35465849178263953, 0.15150381925364953,
      -0.55150381925364944 },
};
/* weight decay 0.1 (d = g + 0.1 p in both the average and the step). */
static const double rmsprop_weight_decay_want[3][5] = {
    { 0.96837722430740714, -1.9683772236364114, 0.46837722388612107, 0.268377223890927,
      -0.66837722388140797 },
    { 0.9457880261080831, -1.9456096370339737, 0.44615846135214071, 0.2454526000055848,
      -0.64545227207428113 },
    { 0.92705309948817827, -1.9266336823457826, 0.4279288734369448, 0.22626580944333191,
      -0.626265042611447 },
};
/* centered, momentum 0.9 and weight decay 0.1 at once: all three state slots. */
static const double rmsprop_all_want[3][5] = {
    { 0.96666666767676768, -1.9666666669312169, 0.46666666720867206, 0.266666667214012,
      -0.66666666720343526 },
    { 0.91159014503895908, -1.9113801531445933, 0.41202836305616358, 0.21119588545194073,
      -0.61119550123732203 },
    { 0.84059647240946078, -1.8396450145204888, 0.34263414267066428, 0.13882377760492867,
      -0.53882207879853983 },
};
/*
 * Adam lr 0.1, betas (0.9, 0.999), eps 1e-8. Step 1: m = 0.1 g, v = 0.001 g²;
 * bias-corrected m̂ = m / 0.1 = g, v̂ = v / 0.001 = g², so p = p - 0.1 g /
 * (|g| + 1e-8): w0 = 1 - 0.1 / (1 + 1e-8) = 0.900000001. Without the
 * correction the step would be 0.1 * 0.1 g / (√0.001 |g|) = 0.316: the
 * table's step 1 is what shows it. Steps 2 and 3 divide by 1 - 0.9^t and
 * 1 - 0.999^t for t = 2, 3. b's gradient is constant, so b moves by exactly
 * 0.1 (to 1e-9) each step.
 */
static const double adam_plain_want[3][5] = {
    { 0.90000000099999999, -1.9000000002499999, 0.40000000050000001, 0.2000000005,
      -0.60000000049999991 },
    { 0.80041222971233816, -1.8001664861157012, 0.30118742062343007, 0.1000000010000007,
      -0.50000000100000064 },
    { 0.70158627450441502, -1.7006233920464653, 0.20487125097072389, 1.50000073473322e-09,
      -0.4000000015000007 },
};
/*
 * eps 0.1, added to the bias-corrected √v̂ (not to √v before the correction).
 * Step 1: w0 = 1 - 0.1 * 1 / (1 + 0.1) = 0.90909.
 */
static const double adam_eps_want[3][5] = {
    { 0.90909090909090906, -1.9024390243902438, 0.40476190476190477, 0.20476190476190476,
      -0.60476190476190472 },
    { 0.8188911023806642, -1.8050942613321663, 0.31101000771443155, 0.10952380952381016,
      -0.50952380952381016 },
    { 0.72968756782782029, -1.7080844028336488, 0.21988859464684701, 0.014285714285714957,
      -0.41428571428571492 },
};
/* Adam, weight decay 0.1 as L2: d = g + 0.1 p goes through the moments. */
static const double adam_l2_want[3][5] = {
    { 0.90000000090909094, -1.9000000002380952, 0.40000000048780487, 0.20000000049261082,
      -0.60000000048309177 },
    { 0.80041222952678448, -1.8001664860916349, 0.30118742059816817, 0.10001317772687375,
      -0.50001291667914205 },
    { 0.70158627422107234, -1.7006233920100058, 0.20487125093195369, 4.8370611866563329e-05,
      -0.40004741071073757 },
};
/*
 * AdamW lr 0.1, weight decay 0.1 (decoupled): p = p (1 - 0.01), then the Adam
 * step of the plain gradient. Step 1: w0 = 0.99 - 0.1 = 0.89 (Adam's L2 gives
 * 0.9000000009: the L2 term is normalised away by the moments).
 */
static const double adamw_want[3][5] = {
    { 0.89000000099999999, -1.8800000002499999, 0.3950000005, 0.19700000049999999,
      -0.5930000004999999 },
    { 0.78157185695416109, -1.7614089505845592, 0.29233870322270744, 0.095030000995000696,
      -0.48707000099500064 },
    { 0.67510122318920074, -1.6443686835605893, 0.19341560270340274, -0.0059202985149492821,
      -0.38219930148505066 },
};

/* ======================================================================== */
/* SGD                                                                      */
/* ======================================================================== */

Test(optim_sgd, plain, .description = "p = p - lr g, three steps by hand")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    check_rule(&o, sgd_plain_want);
}

Test(optim_sgd, momentum, .description = "buf = g, then 0.9 buf + g; p = p - lr buf")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    o.momentum = 0.9;
    check_rule(&o, sgd_momentum_want);
}

Test(optim_sgd, dampening, .description = "buf = 0.9 buf + (1 - 0.5) g, the first step undamped")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    o.momentum = 0.9;
    o.dampening = 0.5;
    check_rule(&o, sgd_dampening_want);
}

Test(optim_sgd, nesterov, .description = "d = g + 0.9 buf")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    o.momentum = 0.9;
    o.nesterov = true;
    check_rule(&o, sgd_nesterov_want);
}

Test(optim_sgd, weight_decay, .description = "d = g + 0.1 p, with and without momentum")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    o.weight_decay = 0.1;
    check_rule(&o, sgd_weight_decay_want);
    o.momentum = 0.5;
    check_rule(&o, sgd_momentum_weight_decay_want);
}

/* ======================================================================== */
/* Adagrad                                                                  */
/* ======================================================================== */

Test(optim_adagrad, plain, .description = "s = s + g², p = p - lr g / (√s + 1e-10)")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    o.lr = 0.1;
    check_rule(&o, adagrad_plain_want);
    o.eps = 0.5;
    check_rule(&o, adagrad_eps_want);
}

Test(optim_adagrad, lr_decay_and_initial_accumulator,
     .description = "clr = lr / (1 + (t - 1) 0.5); s starts at 0.5")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    o.lr = 0.1;
    o.lr_decay = 0.5;
    o.initial_accumulator = 0.5;
    check_rule(&o, adagrad_decay_acc_want);
    o.weight_decay = 0.1;
    check_rule(&o, adagrad_weight_decay_want);
}

/* ======================================================================== */
/* RMSprop                                                                  */
/* ======================================================================== */

Test(optim_rmsprop, plain, .description = "v = 0.9 v + 0.1 g², p = p - lr g / (√v + eps)")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.lr = 0.01;
    o.alpha = 0.9;
    check_rule(&o, rmsprop_plain_want);
}

Test(optim_rmsprop, centered, .description = "divides by √(v - m²) + eps, m the mean gradient")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.lr = 0.01;
    o.alpha = 0.9;
    o.centered = true;
    check_rule(&o, rmsprop_centered_want);
    o.eps = 0.1;
    check_rule(&o, rmsprop_eps_want);
}

Test(optim_rmsprop, momentum, .description = "buf = 0.9 buf + g / a, p = p - lr buf")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.lr = 0.01;
    o.alpha = 0.9;
    o.momentum = 0.9;
    check_rule(&o, rmsprop_momentum_want);
}

Test(optim_rmsprop, weight_decay, .description = "d = g + 0.1 p; then every variant at once")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.lr = 0.01;
    o.alpha = 0.9;
    o.weight_decay = 0.1;
    check_rule(&o, rmsprop_weight_decay_want);
    o.centered = true;
    o.momentum = 0.9;
    check_rule(&o, rmsprop_all_want);
}

/* ======================================================================== */
/* Adam and AdamW                                                           */
/* ======================================================================== */

Test(optim_adam, bias_correction_steps_1_to_3,
     .description = "step 1 moves each element by lr (m̂ = g, v̂ = g²); steps 2, 3 as documented")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.lr = 0.1;
    check_rule(&o, adam_plain_want);
    o.eps = 0.1;
    check_rule(&o, adam_eps_want);
}

Test(optim_adam, weight_decay_is_l2, .description = "Adam: d = g + 0.1 p through the moments")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.lr = 0.1;
    o.weight_decay = 0.1;
    check_rule(&o, adam_l2_want);
}

Test(optim_adam, adamw_decoupled_decay_differs_from_l2,
     .description = "AdamW: p = p (1 - lr wd) before the plain Adam step; "
                    "step 1 gives 0.89 where Adam's L2 gives 0.9000000009")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAMW);
    o.lr = 0.1;
    o.weight_decay = 0.1;
    check_rule(&o, adamw_want);
    /* The two rules must differ by much more than the tolerance. */
    for (int t = 0; t < 3; t++) {
        cr_assert_gt(fabs(adamw_want[t][0] - adam_l2_want[t][0]), 0.009);
    }
}

Test(optim_adam, float32_follows_the_float64_references,
     .description = "the f32 kernels of SGD momentum, RMSprop and Adam within 1e-5")
{
    struct {
        nb_optim_options o;
        const double (*want)[5];
    } cases[3];
    cases[0].o = nb_optim_defaults(NB_OPTIM_SGD);
    cases[0].o.lr = 0.1;
    cases[0].o.momentum = 0.9;
    cases[0].want = sgd_momentum_want;
    cases[1].o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    cases[1].o.lr = 0.01;
    cases[1].o.alpha = 0.9;
    cases[1].o.centered = true;
    cases[1].want = rmsprop_centered_want;
    cases[2].o = nb_optim_defaults(NB_OPTIM_ADAM);
    cases[2].o.lr = 0.1;
    cases[2].want = adam_plain_want;
    for (int c = 0; c < 3; c++) {
        nb_graph *g = nb_graph_new();
        model m = model_build(g, NB_DTYPE_F32);
        nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &cases[c].o);
        cr_assert_not_null(opt, "%s", nb_graph_error(g));
        for (int t = 0; t < 3; t++) {
            step_ok(opt, g);
            expect_params(&m, cases[c].want[t], 1e-5, t + 1);
        }
        nb_optim_free(opt);
        nb_graph_free(g);
    }
}

Test(optim, defaults_are_pytorchs, .description = "nb_optim_defaults matches torch.optim 1.13")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    cr_assert_eq(o.kind, NB_OPTIM_SGD);
    cr_assert_eq(o.momentum, 0);
    cr_assert_eq(o.dampening, 0);
    cr_assert_eq(o.weight_decay, 0);
    cr_assert(!o.nesterov);
    cr_assert_eq(o.clip_norm, 0);
    cr_assert_eq(o.schedule.kind, NB_SCHEDULE_CONSTANT);
    cr_assert_eq(o.schedule.warmup, 0);
    o = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    cr_assert_eq(o.lr, 0.01);
    cr_assert_eq(o.eps, 1e-10);
    cr_assert_eq(o.lr_decay, 0);
    cr_assert_eq(o.initial_accumulator, 0);
    o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    cr_assert_eq(o.lr, 0.01);
    cr_assert_eq(o.alpha, 0.99);
    cr_assert_eq(o.eps, 1e-8);
    cr_assert(!o.centered);
    o = nb_optim_defaults(NB_OPTIM_ADAM);
    cr_assert_eq(o.lr, 1e-3);
    cr_assert_eq(o.beta1, 0.9);
    cr_assert_eq(o.beta2, 0.999);
    cr_assert_eq(o.eps, 1e-8);
    cr_assert_eq(o.weight_decay, 0);
    o = nb_optim_defaults(NB_OPTIM_ADAMW);
    cr_assert_eq(o.kind, NB_OPTIM_ADAMW);
    cr_assert_eq(o.lr, 1e-3);
    cr_assert_eq(o.weight_decay, 0.01);
}

/* ======================================================================== */
/* Learning-rate schedules                                                  */
/* ======================================================================== */

/*
 * Plain SGD with base rate lr under schedule s: before step t, nb_optim_lr
 * must be want[t-1], and the step must use it: b's gradient is k = (2, -2), so
 * b[0] falls by exactly 2 want[t-1].
 */
static void check_schedule(nb_schedule s, double lr, const double *want, int steps)
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = lr;
    o.schedule = s;
    nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    for (int t = 1; t <= steps; t++) {
        cr_assert(fabs(nb_optim_lr(opt) - want[t - 1]) <= 1e-15,
                  "lr before step %d = %.17g, want %.17g", t, nb_optim_lr(opt), want[t - 1]);
        double before[5], after[5];
        read_params(&m, before);
        step_ok(opt, g);
        read_params(&m, after);
        cr_assert(fabs((before[3] - after[3]) - 2 * want[t - 1]) <= 1e-12,
                  "step %d moved b[0] by %.17g, want 2 * %.17g", t, before[3] - after[3],
                  want[t - 1]);
    }
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_schedule, constant, .description = "lr every step")
{
    nb_schedule s = nb_optim_defaults(NB_OPTIM_SGD).schedule;
    const double want[5] = { 0.1, 0.1, 0.1, 0.1, 0.1 };
    check_schedule(s, 0.1, want, 5);
}

Test(optim_schedule, step, .description = "0.1 * 0.5^floor((t-1)/2): 0.1 0.1 0.05 0.05 0.025 0.025")
{
    nb_schedule s = { .kind = NB_SCHEDULE_STEP, .step_size = 2, .gamma = 0.5 };
    const double want[6] = { 0.1, 0.1, 0.05, 0.05, 0.025, 0.025 };
    check_schedule(s, 0.1, want, 6);
}

Test(optim_schedule, cosine_then_clamped,
     .description = "0.01 + 0.09 (1 + cos(pi (t-1) / 4)) / 2, held at 0.01 after t_max")
{
    nb_schedule s = { .kind = NB_SCHEDULE_COSINE, .t_max = 4, .lr_min = 0.01 };
    const double want[7] = {
        0.1,                  /* cos 0 = 1 */
        0.086819805153394630, /* 0.01 + 0.045 (1 + √2/2) */
        0.055,                /* cos(pi/2) = 0 */
        0.023180194846605363, /* 0.01 + 0.045 (1 - √2/2) */
        0.01,                 /* t - 1 = t_max */
        0.01,                 /* clamped (torch's CosineAnnealingLR would climb again) */
        0.01,
    };
    check_schedule(s, 0.1, want, 7);
}

Test(optim_schedule, warmup_then_each_kind,
     .description = "lr t / warmup for t <= warmup, then the kind counted from 1 again")
{
    nb_schedule s = { .kind = NB_SCHEDULE_CONSTANT, .warmup = 3 };
    const double constant[5] = { 0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.1 };
    check_schedule(s, 0.1, constant, 5);

    s = (nb_schedule){ .kind = NB_SCHEDULE_STEP, .step_size = 2, .gamma = 0.5, .warmup = 2 };
    /* t = 1, 2 warm up; t = 3, 4 are steps 1, 2 of the decay; t = 5, 6 halve; t = 7 again */
    const double step[7] = { 0.05, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025 };
    check_schedule(s, 0.1, step, 7);

    s = (nb_schedule){ .kind = NB_SCHEDULE_COSINE, .t_max = 2, .lr_min = 0.02, .warmup = 2 };
    /* t = 3, 4, 5 are cosine steps 1, 2, 3: 0.1, 0.02 + 0.08 (1 + cos(pi/2)) / 2, 0.02 */
    const double cosine[6] = { 0.05, 0.1, 0.1, 0.06, 0.02, 0.02 };
    check_schedule(s, 0.1, cosine, 6);
}

/* ======================================================================== */
/* Gradient clipping                                                        */
/* ======================================================================== */

/*
 * The gradient at the start is (1, -4, 2 | 2, -2), of global norm √29 =
 * 5.3851648071345037. With clip_norm 1 every gradient is scaled by
 * 1 / (√29 + 1e-6) = 0.18569530369429965 (torch.nn.utils.clip_grad_norm_),
 * so SGD lr 0.1 gives w0 = 1 - 0.1 * 0.1856953 = 0.98143046963057.
 * Appendix script, checked against clip_grad_norm_ + torch.optim.SGD.
 */
static const double clip_over_want[5] = { 0.98143046963057001, -1.9257218785222801,
                                          0.46286093926114008, 0.26286093926114007,
                                          -0.66286093926113998 };
/* weight decay 0.5 is added after clipping, unscaled (as PyTorch's order) */
static const double clip_weight_decay_want[5] = { 0.93143046963057008, -1.8257218785222802,
                                                  0.43786093926114006, 0.24786093926114006,
                                                  -0.62786093926114006 };

static void clip_case(double clip_norm, double weight_decay, const double want[5])
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    o.clip_norm = clip_norm;
    o.weight_decay = weight_decay;
    nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    step_ok(opt, g);
    expect_params(&m, want, TOL, 1);
    cr_assert(fabs(nb_optim_grad_norm(opt) - sqrt(29.0)) <= 1e-12,
              "grad norm %.17g, want √29 (before clipping)", nb_optim_grad_norm(opt));
    /* step 2: the norm of the new gradient, again before clipping */
    double p[5];
    read_params(&m, p);
    double g2[5] = { 2 * C[0] * p[0], 2 * C[1] * p[1], 2 * C[2] * p[2], K[0], K[1] };
    double sq = 0;
    for (int i = 0; i < 5; i++) {
        sq += g2[i] * g2[i];
    }
    step_ok(opt, g);
    cr_assert(fabs(nb_optim_grad_norm(opt) - sqrt(sq)) <= 1e-12, "grad norm %.17g, want %.17g",
              nb_optim_grad_norm(opt), sqrt(sq));
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_clip, over_the_norm_scales_every_gradient,
     .description = "norm √29 > 1: all gradients (w and b) times 1 / (√29 + 1e-6)")
{
    clip_case(1.0, 0, clip_over_want);
    clip_case(1.0, 0.5, clip_weight_decay_want);
}

Test(optim_clip, under_the_norm_changes_nothing,
     .description = "norm √29 < 10: the plain SGD step, and the norm still reported")
{
    clip_case(10.0, 0, sgd_plain_want[0]);
    clip_case(sqrt(29.0) + 1e-3, 0, sgd_plain_want[0]);
}

/* ======================================================================== */
/* Non-finite gradients                                                     */
/* ======================================================================== */

/*
 * loss = sum(c w²) + sum(b log x): d/db = log x, NaN for x < 0 and -inf for
 * x = 0. With x = (e², e⁻²) it is (2, -2) = k, the main model's gradient, so
 * after any refused steps Adam must follow adam_plain_want from step 1.
 */
Test(optim_nonfinite, refused_with_nothing_changed,
     .description = "log of a negative input: NB_ERR_VALUE, no parameter, moment or step count "
                    "changes; the run after it is Adam's step 1")
{
    nb_graph *g = nb_graph_new();
    model m = { .g = g };
    m.w = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0)), "w");
    m.b = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(0)), "b");
    m.c = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "c");
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "x");
    nb_node *quad = nb_sum(g, nb_mul(g, m.c, nb_mul(g, m.w, m.w)));
    m.loss = nb_add(g, quad, nb_sum(g, nb_mul(g, m.b, nb_log(g, x))));
    m.params[0] = m.w;
    m.params[1] = m.b;
    nb_grad(g, m.loss, 2, m.params, m.grads);
    nb_node_set_name(g, m.grads[0], "dw");
    nb_node_set_name(g, m.grads[1], "db");
    ASSERT_HEALTHY(g);
    write_or_die(g, m.w, W0, 3);
    write_or_die(g, m.b, B0, 2);
    write_or_die(g, m.c, C, 3);

    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.lr = 0.1;
    o.clip_norm = 100; /* the check comes before clipping would hide a NaN */
    nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    const double start[5] = { W0[0], W0[1], W0[2], B0[0], B0[1] };

    const double bad[2][2] = { { -1.0, 2.0 }, { 0.0, 2.0 } }; /* log: NaN, then -inf */
    for (int r = 0; r < 2; r++) {
        write_or_die(g, x, bad[r], 2);
        for (int again = 0; again < 2; again++) {
            cr_assert_eq(nb_optim_step(opt), NB_ERR_VALUE);
            cr_assert_str_eq(nb_graph_error(g),
                             "optim_step(b[2], db[2]): the gradient of b is not finite; "
                             "no parameter was updated");
            ASSERT_HEALTHY(g); /* a run error: reported, not sticky */
            /* the refused step's loss and norm are reported (docs/training.md) */
            cr_assert(r == 0 ? isnan(nb_optim_grad_norm(opt)) : isinf(nb_optim_grad_norm(opt)));
            cr_assert(r == 0 ? isnan(nb_optim_loss(opt)) : isinf(nb_optim_loss(opt)));
            cr_assert_eq(nb_optim_steps(opt), 0);
            expect_params(&m, start, 0, 0);
        }
    }
    const double good[2] = { exp(2.0), exp(-2.0) };
    write_or_die(g, x, good, 2);
    for (int t = 0; t < 3; t++) {
        step_ok(opt, g);
        cr_assert_eq(nb_optim_steps(opt), t + 1);
        expect_params(&m, adam_plain_want[t], TOL, t + 1);
    }
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_nonfinite, huge_finite_gradients_are_applied,
     .description = "a gradient of 1e200 overflows x*x but is finite: the norm is computed "
                    "scaled (sqrt(2)*1e200) and the step goes ahead")
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    const double huge[2] = { 1e200, -1e200 }; /* db = k */
    write_or_die(g, m.k, huge, 2);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 1e-201;
    nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    step_ok(opt, g);
    double norm = nb_optim_grad_norm(opt);
    cr_assert(isfinite(norm));
    cr_assert(fabs(norm / (sqrt(2.0) * 1e200) - 1) < 1e-12, "norm %.17g", norm);
    cr_assert_eq(nb_optim_steps(opt), 1);
    double p[5];
    read_params(&m, p);
    cr_assert(fabs(p[3] - (B0[0] - 0.1)) < 1e-12, "b[0] = %.17g", p[3]);
    cr_assert(fabs(p[4] - (B0[1] + 0.1)) < 1e-12, "b[1] = %.17g", p[4]);
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* No allocation per step                                                   */
/* ======================================================================== */

/* A Lua-style allocator that counts every call. */
typedef struct counter {
    size_t calls;
} counter;

static void *counting_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    (void)old_size;
    counter *c = user;
    c->calls++;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

Test(optim_memory, steps_after_the_first_allocate_nothing,
     .description = "for each optimizer, with every state slot, clipping and a schedule: "
                    "100 steps after the first make no allocator call")
{
    nb_optim_options opts[7];
    opts[0] = nb_optim_defaults(NB_OPTIM_SGD);
    opts[1] = nb_optim_defaults(NB_OPTIM_SGD);
    opts[1].momentum = 0.9;
    opts[1].nesterov = true;
    opts[1].weight_decay = 0.01;
    opts[2] = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    opts[2].lr_decay = 0.01;
    opts[2].initial_accumulator = 0.1;
    opts[3] = nb_optim_defaults(NB_OPTIM_RMSPROP);
    opts[4] = nb_optim_defaults(NB_OPTIM_RMSPROP);
    opts[4].centered = true;
    opts[4].momentum = 0.5;
    opts[5] = nb_optim_defaults(NB_OPTIM_ADAM);
    opts[5].weight_decay = 0.01;
    opts[6] = nb_optim_defaults(NB_OPTIM_ADAMW);
    for (int i = 0; i < 7; i++) {
        opts[i].clip_norm = 1.0;
        opts[i].schedule = (nb_schedule){ .kind = NB_SCHEDULE_COSINE, .t_max = 50, .warmup = 5 };
        counter c = { 0 };
        nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
        model m = model_build(g, NB_DTYPE_F64);
        nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &opts[i]);
        cr_assert_not_null(opt, "case %d: %s", i, nb_graph_error(g));
        step_ok(opt, g);
        size_t before = c.calls;
        for (int t = 0; t < 100; t++) {
            step_ok(opt, g);
        }
        cr_assert_eq(c.calls, before, "case %d: %zu allocator calls in 100 steps", i,
                     c.calls - before);
        cr_assert_eq(nb_optim_steps(opt), 101);
        nb_optim_free(opt);
        nb_graph_free(g);
    }
}

/* ======================================================================== */
/* nb_optim_step_with: two instances of one model                           */
/* ======================================================================== */

/*
 * loss = sum((x @ w - t)²) over a batch of rows, w[3,1] shared. Instance A
 * has 4 rows, instance B 2. Sums (not means), so B's batch zero-padded to 4
 * rows gives exactly B's loss and gradient: a single instance fed that way is
 * an equivalent run.
 */
static const double XA[4][3] = { { 1, 2, 0 }, { 0, 1, 1 }, { 1, 0, -1 }, { 2, 1, 1 } };
static const double TA[4] = { 1, 0, 2, -1 };
static const double XB[2][3] = { { 1, -1, 2 }, { 0.5, 0.5, 0 } };
static const double TB[2] = { 0, 1 };
static const double WS0[3] = { 0.1, -0.2, 0.3 };

/*
 * Adam lr 0.1 stepping A, B, A, B: the loss each step computes (before its
 * update) and w after it. torch 1.13 (torch.optim.Adam on float64 tensors,
 * alternating the two batches; the plain-Python rule agrees to 2e-16).
 * Step 1 by hand: x_A w = (-0.3, 0.1, -0.2, 0.3), residuals (-1.3, 0.1, -2.2,
 * 1.3), loss 1.69 + 0.01 + 4.84 + 1.69 = 8.23; Adam's first step moves each
 * weight by 0.1 against its gradient's sign.
 */
static const double stepwith_loss[4] = { 8.2300000000000004, 1.3925000011180555, 6.6266965513308733,
                                         0.75542629300375352 };
static const double stepwith_w[4][3] = {
    { 0.19999999944444444, -0.10000000041666668, 0.20000000013888888 },
    { 0.24694681621695727, -6.0412931191217156e-05, 0.11057168110626717 },
    { 0.24314144400766124, 0.068724780652074269, 0.016446603253701467 },
    { 0.25122370218998019, 0.14180546711179548, -0.064982889786508666 },
};

typedef struct instance {
    nb_node *x, *t, *loss, *grad;
} instance;

static instance instance_build(nb_graph *g, nb_node *w, int64_t rows, const char *tag)
{
    instance in;
    char name[16];
    snprintf(name, sizeof name, "x%s", tag);
    in.x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(rows, 3)), name);
    snprintf(name, sizeof name, "t%s", tag);
    in.t = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(rows, 1)), name);
    nb_node *r = nb_sub(g, nb_matmul(g, in.x, w), in.t);
    snprintf(name, sizeof name, "loss%s", tag);
    in.loss = nb_node_set_name(g, nb_sum(g, nb_mul(g, r, r)), name);
    nb_grad(g, in.loss, 1, &w, &in.grad);
    snprintf(name, sizeof name, "dw%s", tag);
    nb_node_set_name(g, in.grad, name);
    return in;
}

static nb_node *shared_w(nb_graph *g)
{
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3, 1), nb_init_constant(0));
    nb_node_set_name(g, w, "w");
    write_or_die(g, w, WS0, 3);
    return w;
}

static void expect_w(nb_graph *g, nb_node *w, const double want[3], double tol, int step)
{
    double v[3];
    cr_assert_eq(nb_node_read_f64(g, w, v, 3), NB_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert(fabs(v[i] - want[i]) <= tol, "after step %d: w[%d] = %.17g, want %.17g", step, i,
                  v[i], want[i]);
    }
}

Test(optim_step_with, alternating_instances_share_the_state,
     .description = "A, B, A, B with Adam equals torch's run and a zero-padded single instance")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.lr = 0.1;

    /* two instances over one w */
    nb_graph *g = nb_graph_new();
    nb_node *w = shared_w(g);
    instance a = instance_build(g, w, 4, "A");
    instance b = instance_build(g, w, 2, "B");
    ASSERT_HEALTHY(g);
    write_or_die(g, a.x, &XA[0][0], 12);
    write_or_die(g, a.t, TA, 4);
    write_or_die(g, b.x, &XB[0][0], 6);
    write_or_die(g, b.t, TB, 2);
    nb_optim *opt = nb_optim_new(g, a.loss, 1, &w, &a.grad, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));

    /* one instance of 4 rows, fed B's rows padded with zeros on even steps */
    nb_graph *g1 = nb_graph_new();
    nb_node *w1 = shared_w(g1);
    instance s = instance_build(g1, w1, 4, "");
    ASSERT_HEALTHY(g1);
    nb_optim *opt1 = nb_optim_new(g1, s.loss, 1, &w1, &s.grad, &o);
    cr_assert_not_null(opt1, "%s", nb_graph_error(g1));
    double xb_pad[12] = { 0 }, tb_pad[4] = { 0 };
    memcpy(xb_pad, XB, sizeof XB);
    memcpy(tb_pad, TB, sizeof TB);

    for (int t = 0; t < 4; t++) {
        nb_status st;
        if (t % 2 == 0) {
            st = nb_optim_step(opt);
            write_or_die(g1, s.x, &XA[0][0], 12);
            write_or_die(g1, s.t, TA, 4);
        } else {
            st = nb_optim_step_with(opt, b.loss, &b.grad);
            write_or_die(g1, s.x, xb_pad, 12);
            write_or_die(g1, s.t, tb_pad, 4);
        }
        cr_assert_eq(st, NB_OK, "step %d: %s", t + 1, nb_graph_error(g));
        step_ok(opt1, g1);
        cr_assert_eq(nb_optim_steps(opt), t + 1);
        cr_assert(fabs(nb_optim_loss(opt) - stepwith_loss[t]) <= 1e-12,
                  "step %d: loss %.17g, want %.17g", t + 1, nb_optim_loss(opt), stepwith_loss[t]);
        cr_assert(fabs(nb_optim_loss(opt1) - stepwith_loss[t]) <= 1e-12);
        expect_w(g, w, stepwith_w[t], TOL, t + 1);
        double v1[3];
        cr_assert_eq(nb_node_read_f64(g1, w1, v1, 3), NB_OK);
        expect_w(g, w, v1, 1e-14, t + 1);
    }
    nb_optim_free(opt);
    nb_optim_free(opt1);
    nb_graph_free(g);
    nb_graph_free(g1);
}

/* ======================================================================== */
/* nb_optim_accumulate: a global batch as micro-batches                     */
/* ======================================================================== */

/* Instances A and B over w, with their rows written. */
static void instances_ab(nb_graph *g, nb_node *w, instance *a, instance *b)
{
    *a = instance_build(g, w, 4, "A");
    *b = instance_build(g, w, 2, "B");
    ASSERT_HEALTHY(g);
    write_or_die(g, a->x, &XA[0][0], 12);
    write_or_die(g, a->t, TA, 4);
    write_or_die(g, b->x, &XB[0][0], 6);
    write_or_die(g, b->t, TB, 2);
}

/* The 6 rows of A then B in one instance. */
static instance instance_ab(nb_graph *g, nb_node *w)
{
    instance c = instance_build(g, w, 6, "C");
    double x[18], t[6];
    memcpy(x, XA, sizeof XA);
    memcpy(x + 12, XB, sizeof XB);
    memcpy(t, TA, sizeof TA);
    memcpy(t + 4, TB, sizeof TB);
    write_or_die(g, c.x, x, 18);
    write_or_die(g, c.t, t, 6);
    return c;
}

Test(optim_accumulate, two_micro_batches_step_as_their_union,
     .description = "Adam: accumulate A, step B, three times, follows one instance of A and B's 6 "
                    "rows (the losses are sums, shares 1)")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.lr = 0.1;
    nb_graph *g = nb_graph_new();
    nb_node *w = shared_w(g);
    instance a, b;
    instances_ab(g, w, &a, &b);
    nb_optim *opt = nb_optim_new(g, a.loss, 1, &w, &a.grad, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));

    nb_graph *h = nb_graph_new();
    nb_node *hw = shared_w(h);
    instance c = instance_ab(h, hw);
    ASSERT_HEALTHY(h);
    nb_optim *whole = nb_optim_new(h, c.loss, 1, &hw, &c.grad, &o);
    cr_assert_not_null(whole, "%s", nb_graph_error(h));

    for (int t = 0; t < 3; t++) {
        cr_assert_eq(nb_optim_accumulate(opt, NULL, NULL), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_optim_steps(opt), t, "an accumulation is not a step");
        double la = nb_optim_loss(opt); /* A's loss: the last run's */
        cr_assert_eq(nb_optim_step_with(opt, b.loss, &b.grad), NB_OK, "%s", nb_graph_error(g));
        double lb = nb_optim_loss(opt);
        step_ok(whole, h);
        cr_assert_eq(nb_optim_steps(opt), t + 1);
        cr_assert(fabs(la + lb - nb_optim_loss(whole)) <= 1e-12 * nb_optim_loss(whole),
                  "step %d: A's loss %.17g + B's %.17g, the union's %.17g", t + 1, la, lb,
                  nb_optim_loss(whole));
        double v[3];
        cr_assert_eq(nb_node_read_f64(h, hw, v, 3), NB_OK);
        expect_w(g, w, v, 1e-14, t + 1);
    }
    cr_assert_eq(nb_optim_steps(whole), 3);
    nb_optim_free(opt);
    nb_optim_free(whole);
    nb_graph_free(g);
    nb_graph_free(h);
}

Test(optim_accumulate, shares_weigh_the_micro_batches,
     .description = "SGD lr 0.5: shares 0.25 and 0.75 give w - 0.5 (0.25 g_A + 0.75 g_B); the next "
                    "step at share 1 starts a new sum")
{
    nb_graph *g = nb_graph_new();
    nb_node *w = shared_w(g);
    instance a, b;
    instances_ab(g, w, &a, &b);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.5;
    nb_optim *opt = nb_optim_new(g, a.loss, 1, &w, &a.grad, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    nb_node *both[2] = { a.grad, b.grad };
    cr_assert_eq(nb_graph_run(g, 2, both), NB_OK);
    double ga[3], gb[3], w0[3], want[3];
    nb_node_read_f64(g, a.grad, ga, 3);
    nb_node_read_f64(g, b.grad, gb, 3);
    nb_node_read_f64(g, w, w0, 3);

    cr_assert_eq(nb_optim_set_share(opt, 0.25), NB_OK);
    cr_assert_eq(nb_optim_accumulate(opt, a.loss, &a.grad), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_set_share(opt, 0.75), NB_OK);
    cr_assert_eq(nb_optim_step_with(opt, b.loss, &b.grad), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 3; i++) {
        want[i] = w0[i] - 0.5 * (0.25 * ga[i] + 0.75 * gb[i]);
    }
    expect_w(g, w, want, 1e-15, 1);

    /* a share of 0 adds zeros without running: the sum is B's alone */
    cr_assert_eq(nb_graph_run(g, 1, &b.grad), NB_OK);
    nb_node_read_f64(g, b.grad, gb, 3);
    nb_node_read_f64(g, w, w0, 3);
    double before = nb_optim_loss(opt);
    cr_assert_eq(nb_optim_set_share(opt, 0), NB_OK);
    cr_assert_eq(nb_optim_accumulate(opt, a.loss, &a.grad), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_loss(opt), before, "a micro-batch without examples has no loss");
    cr_assert_eq(nb_optim_set_share(opt, 1), NB_OK);
    cr_assert_eq(nb_optim_step_with(opt, b.loss, &b.grad), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 3; i++) {
        want[i] = w0[i] - 0.5 * gb[i];
    }
    expect_w(g, w, want, 1e-15, 2);
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_accumulate, a_failed_micro_batch_fails_the_step,
     .description = "an index out of range in the accumulated run: the step fails with its "
                    "message and updates nothing; the next step is whole again")
{
    nb_graph *g = nb_graph_new();
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(1)), "w");
    nb_node *i = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(1)), "i");
    nb_node *loss = nb_sum(g, nb_gather(g, w, i, 0));
    nb_node *dw;
    nb_grad(g, loss, 1, &w, &dw);
    ASSERT_HEALTHY(g);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 1;
    nb_optim *opt = nb_optim_new(g, loss, 1, &w, &dw, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write_f64(g, i, (double[]){ 7 }, 1), NB_OK);
    nb_status st = nb_optim_accumulate(opt, NULL, NULL);
    cr_assert_neq(st, NB_OK);
    char first[512];
    snprintf(first, sizeof first, "%s", nb_graph_error(g));
    cr_assert(strstr(first, "7"), "the run's message names the index: %s", first);
    /* accumulating again reports the same failure without running */
    cr_assert_eq(nb_optim_accumulate(opt, NULL, NULL), st);
    cr_assert_eq(nb_node_write_f64(g, i, (double[]){ 1 }, 1), NB_OK);
    cr_assert_eq(nb_optim_step(opt), st);
    char want[600];
    snprintf(want, sizeof want, "optim_step: a micro-batch failed: %s", first);
    cr_assert_str_eq(nb_graph_error(g), want);
    cr_assert_eq(nb_optim_steps(opt), 0);
    double v[3];
    nb_node_read_f64(g, w, v, 3);
    cr_assert(v[0] == 1 && v[1] == 1 && v[2] == 1, "no parameter was updated");
    cr_assert_eq(nb_optim_step(opt), NB_OK, "%s", nb_graph_error(g));
    nb_node_read_f64(g, w, v, 3);
    cr_assert(v[0] == 1 && v[1] == 0 && v[2] == 1, "w = (%g, %g, %g)", v[0], v[1], v[2]);
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_accumulate, refuses_what_step_with_refuses)
{
    cr_assert_eq(nb_optim_accumulate(NULL, NULL, NULL), NB_ERR_ARG);
    nb_graph *g = nb_graph_new();
    nb_node *w = shared_w(g);
    instance a = instance_build(g, w, 4, "A");
    nb_node *v = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "v");
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    nb_optim *opt = nb_optim_new(g, a.loss, 1, &w, &a.grad, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_accumulate(opt, a.loss, &v), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "optim_accumulate(w[3,1], v[3]): grads[0] must be a node "
                                        "of this graph shaped like params[0]");
    cr_assert_eq(nb_optim_accumulate(opt, a.loss, NULL), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "optim_accumulate(lossA[]): a loss without grads; pass "
                                        "both, or neither for the optimizer's own");
    cr_assert_eq(nb_optim_steps(opt), 0);
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_step_with, alternating_allocates_nothing,
     .description = "after one step of each instance, 50 alternations make no allocator call")
{
    counter c = { 0 };
    nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
    nb_node *w = shared_w(g);
    instance a = instance_build(g, w, 4, "A");
    instance b = instance_build(g, w, 2, "B");
    ASSERT_HEALTHY(g);
    write_or_die(g, a.x, &XA[0][0], 12);
    write_or_die(g, a.t, TA, 4);
    write_or_die(g, b.x, &XB[0][0], 6);
    write_or_die(g, b.t, TB, 2);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.centered = true;
    o.momentum = 0.5;
    o.clip_norm = 1;
    nb_optim *opt = nb_optim_new(g, a.loss, 1, &w, &a.grad, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_step(opt), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_step_with(opt, b.loss, &b.grad), NB_OK, "%s", nb_graph_error(g));
    size_t before = c.calls;
    for (int t = 0; t < 50; t++) {
        cr_assert_eq(nb_optim_step(opt), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_optim_step_with(opt, b.loss, &b.grad), NB_OK, "%s", nb_graph_error(g));
    }
    cr_assert_eq(c.calls, before, "%zu allocator calls", c.calls - before);
    cr_assert_eq(nb_optim_steps(opt), 102);
    nb_optim_free(opt);
    nb_graph_free(g);
}

Test(optim_step_with, refuses_gradients_of_another_shape,
     .description = "wrong shape, NULL, foreign: NB_ERR_ARG/GRAPH, exact message, nothing changes")
{
    nb_graph *g = nb_graph_new();
    nb_node *w = shared_w(g);
    instance a = instance_build(g, w, 4, "A");
    instance b = instance_build(g, w, 2, "B");
    nb_node *v = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "v");
    nb_node *vf = nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(3, 1)), "vf");
    ASSERT_HEALTHY(g);
    write_or_die(g, a.x, &XA[0][0], 12);
    write_or_die(g, a.t, TA, 4);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    nb_optim *opt = nb_optim_new(g, a.loss, 1, &w, &a.grad, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));

    cr_assert_eq(nb_optim_step_with(opt, b.loss, &v), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "optim_step_with(w[3,1], v[3]): grads[0] must be a node "
                                        "of this graph shaped like params[0]");
    cr_assert_eq(nb_optim_step_with(opt, b.loss, &vf), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "optim_step_with(w[3,1], vf[3,1]): grads[0] must be a "
                                        "node of this graph shaped like params[0]");
    nb_node *none = NULL;
    cr_assert_eq(nb_optim_step_with(opt, b.loss, &none), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "optim_step_with(w[3,1]): grads[0] must be a node of this graph shaped like "
                     "params[0]");
    cr_assert_eq(nb_optim_step_with(opt, b.loss, NULL), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "optim_step_with: grads is NULL");

    nb_graph *h = nb_graph_new();
    nb_node *hw = shared_w(h);
    instance ha = instance_build(h, hw, 4, "H");
    cr_assert_eq(nb_optim_step_with(opt, b.loss, &ha.grad), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "optim_step_with(w[3,1], dwH[3,1]): grads[0] must be a "
                                        "node of this graph shaped like params[0]");
    cr_assert_eq(nb_optim_step_with(opt, ha.loss, &b.grad), NB_ERR_GRAPH);
    cr_assert_str_eq(nb_graph_error(g),
                     "optim_step_with(lossH[]): the loss belongs to another graph");
    nb_graph_free(h);

    ASSERT_HEALTHY(g); /* reported, not sticky */
    cr_assert_eq(nb_optim_steps(opt), 0);
    expect_w(g, w, WS0, 0, 0);
    cr_assert(isnan(nb_optim_loss(opt)));
    /* and the optimizer still works */
    write_or_die(g, b.x, &XB[0][0], 6);
    write_or_die(g, b.t, TB, 2);
    cr_assert_eq(nb_optim_step(opt), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_steps(opt), 1);
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Option and argument checks                                               */
/* ======================================================================== */

#define MSG_LR "optim_new: the learning rate must be finite and >= 0"
#define MSG_NONNEG                                                                                 \
    "optim_new: weight_decay, momentum, eps, clip_norm, lr_decay and initial_accumulator must "    \
    "be >= 0"
#define MSG_NESTEROV "optim_new: Nesterov momentum needs momentum > 0 and dampening 0"
#define MSG_BETAS    "optim_new: beta1 and beta2 must be in [0, 1)"
#define MSG_ALPHA    "optim_new: alpha must be in [0, 1]"
#define MSG_KIND     "optim_new: unknown optimizer kind"
#define MSG_SCHEDULE                                                                               \
    "optim_new: bad schedule: warmup must be >= 0, step needs step_size >= 1 and gamma > 0, "      \
    "cosine t_max >= 1 and lr_min >= 0"

/*
 * nb_optim_new with o on a fresh model must return NULL with NB_ERR_ARG and msg;
 * the error sticks: a good call afterwards also returns NULL and keeps it.
 */
static void expect_bad_options(nb_optim_options o, const char *msg)
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    cr_assert_null(nb_optim_new(g, m.loss, 2, m.params, m.grads, &o), "accepted: %s", msg);
    ASSERT_ERROR(g, NB_ERR_ARG, msg);
    nb_optim_options good = nb_optim_defaults(NB_OPTIM_SGD);
    cr_assert_null(nb_optim_new(g, m.loss, 2, m.params, m.grads, &good));
    ASSERT_ERROR(g, NB_ERR_ARG, msg);
    nb_graph_free(g);
}

Test(optim_options, bad_rates_and_nonnegatives,
     .description = "negative or non-finite lr; each negative knob")
{
    nb_optim_options o;
    const nb_optim_kind kinds[5] = { NB_OPTIM_SGD, NB_OPTIM_ADAGRAD, NB_OPTIM_RMSPROP,
                                     NB_OPTIM_ADAM, NB_OPTIM_ADAMW };
    for (int i = 0; i < 5; i++) {
        o = nb_optim_defaults(kinds[i]);
        o.lr = -0.1;
        expect_bad_options(o, MSG_LR);
    }
    o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = NAN;
    expect_bad_options(o, MSG_LR);
    o.lr = INFINITY;
    expect_bad_options(o, MSG_LR);

    o = nb_optim_defaults(NB_OPTIM_SGD);
    o.weight_decay = -0.1;
    expect_bad_options(o, MSG_NONNEG);
    o = nb_optim_defaults(NB_OPTIM_SGD);
    o.momentum = -0.9;
    expect_bad_options(o, MSG_NONNEG);
    o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.eps = -1e-8;
    expect_bad_options(o, MSG_NONNEG);
    o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.clip_norm = -1;
    expect_bad_options(o, MSG_NONNEG);
    o = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    o.lr_decay = -0.5;
    expect_bad_options(o, MSG_NONNEG);
    o = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    o.initial_accumulator = -0.5;
    expect_bad_options(o, MSG_NONNEG);
    o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.momentum = NAN;
    expect_bad_options(o, MSG_NONNEG);
}

Test(optim_options, bad_rule_specific_options,
     .description = "Nesterov without momentum or with dampening; betas; alpha; kind")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.nesterov = true;
    expect_bad_options(o, MSG_NESTEROV);
    o.momentum = 0.9;
    o.dampening = 0.1;
    expect_bad_options(o, MSG_NESTEROV);

    const nb_optim_kind adams[2] = { NB_OPTIM_ADAM, NB_OPTIM_ADAMW };
    for (int i = 0; i < 2; i++) {
        o = nb_optim_defaults(adams[i]);
        o.beta1 = 1.0;
        expect_bad_options(o, MSG_BETAS);
        o = nb_optim_defaults(adams[i]);
        o.beta2 = -0.1;
        expect_bad_options(o, MSG_BETAS);
        o = nb_optim_defaults(adams[i]);
        o.beta2 = NAN;
        expect_bad_options(o, MSG_BETAS);
    }
    o = nb_optim_defaults(NB_OPTIM_RMSPROP);
    o.alpha = 1.5;
    expect_bad_options(o, MSG_ALPHA);
    o.alpha = -0.1;
    expect_bad_options(o, MSG_ALPHA);
    o = nb_optim_defaults(NB_OPTIM_SGD);
    o.kind = (nb_optim_kind)99;
    expect_bad_options(o, MSG_KIND);
}

Test(optim_options, bad_schedules, .description = "kind, warmup, step_size, gamma, t_max, lr_min")
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.schedule.kind = (nb_schedule_kind)7;
    expect_bad_options(o, MSG_SCHEDULE);
    o = nb_optim_defaults(NB_OPTIM_SGD);
    o.schedule.warmup = -1;
    expect_bad_options(o, MSG_SCHEDULE);
    o = nb_optim_defaults(NB_OPTIM_SGD);
    o.schedule = (nb_schedule){ .kind = NB_SCHEDULE_STEP, .step_size = 0, .gamma = 0.5 };
    expect_bad_options(o, MSG_SCHEDULE);
    o.schedule = (nb_schedule){ .kind = NB_SCHEDULE_STEP, .step_size = 2, .gamma = 0 };
    expect_bad_options(o, MSG_SCHEDULE);
    o.schedule = (nb_schedule){ .kind = NB_SCHEDULE_COSINE, .t_max = 0 };
    expect_bad_options(o, MSG_SCHEDULE);
    o.schedule = (nb_schedule){ .kind = NB_SCHEDULE_COSINE, .t_max = 10, .lr_min = -0.1 };
    expect_bad_options(o, MSG_SCHEDULE);
}

Test(optim_options, options_a_rule_ignores_are_not_checked,
     .description = "betas are Adam's, alpha RMSprop's, Nesterov SGD's")
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.beta1 = 2;
    o.alpha = 2;
    nb_optim *a = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.nesterov = true;
    nb_optim *b = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    ASSERT_HEALTHY(g);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    nb_optim_free(a);
    nb_optim_free(b);
    /* NULL options are SGD's defaults: lr 0.01, so w0 = 1 - 0.01 */
    nb_optim *d = nb_optim_new(g, m.loss, 2, m.params, m.grads, NULL);
    cr_assert_not_null(d, "%s", nb_graph_error(g));
    step_ok(d, g);
    const double want[5] = { 0.99, -1.96, 0.48, 0.28, -0.68 };
    expect_params(&m, want, 1e-15, 1);
    nb_optim_free(d);
    nb_graph_free(g);
}

/* nb_optim_new(params, grads) on a fresh model must fail with code and msg, and stick. */
static void expect_bad_args(nb_graph *g, size_t n, nb_node *const *params, nb_node *const *grads,
                            nb_status code, const char *msg)
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    cr_assert_null(nb_optim_new(g, NULL, n, params, grads, &o), "accepted: %s", msg);
    ASSERT_ERROR(g, code, msg);
}

/* A fresh model and nb_optim_new on params {p0, p1} and grads {g0, g1}, picked by pick. */
typedef void (*pick_fn)(model *m, nb_node **p, nb_node **gr, size_t *n);

static void bad_args_case(pick_fn pick, nb_status code, const char *msg)
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    nb_node *p[2] = { m.w, m.b }, *gr[2] = { m.grads[0], m.grads[1] };
    size_t n = 2;
    pick(&m, p, gr, &n);
    expect_bad_args(g, n, p, gr, code, msg);
    nb_graph_free(g);
}

static void pick_swapped_grads(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)p, (void)n;
    gr[0] = m->grads[1];
    gr[1] = m->grads[0];
}

static void pick_f32_grad(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)p, (void)n;
    gr[0] = nb_node_set_name(m->g, nb_input(m->g, NB_DTYPE_F32, NB_SHAPE(3)), "wf");
}

static void pick_input_param(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)gr, (void)n;
    p[0] = m->c; /* an input, not a parameter */
}

static void pick_op_param(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)n;
    p[1] = m->loss; /* an op node */
    gr[1] = m->loss;
}

static void pick_mixed_dtypes(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)n;
    nb_node *pf = nb_param(m->g, NB_DTYPE_F32, NB_SHAPE(2), nb_init_constant(0));
    p[1] = gr[1] = nb_node_set_name(m->g, pf, "pf");
}

static void pick_none(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)m, (void)p, (void)gr;
    *n = 0;
}

static void pick_null_param(model *m, nb_node **p, nb_node **gr, size_t *n)
{
    (void)m, (void)gr, (void)n;
    p[1] = NULL;
}

Test(optim_options, bad_params_and_grads,
     .description = "a grad not shaped like its param, a non-param, mixed dtypes, none, NULL")
{
    bad_args_case(pick_swapped_grads, NB_ERR_ARG,
                  "optim_new(w[3], db[2]): grads[0] must have the shape and dtype of params[0]");
    bad_args_case(pick_f32_grad, NB_ERR_ARG,
                  "optim_new(w[3], wf[3]): grads[0] must have the shape and dtype of params[0]");
    bad_args_case(pick_input_param, NB_ERR_ARG,
                  "optim_new(c[3], dw[3]): params[0] is not a parameter");
    bad_args_case(pick_op_param, NB_ERR_ARG,
                  "optim_new(loss[], loss[]): params[1] is not a parameter");
    bad_args_case(pick_mixed_dtypes, NB_ERR_ARG,
                  "optim_new(pf[2], pf[2]): params[1] is f32 but params[0] is f64; "
                  "parameters must share one dtype");
    bad_args_case(pick_none, NB_ERR_ARG,
                  "optim_new: needs at least one parameter and its gradient");
    bad_args_case(pick_null_param, NB_ERR_ARG, "optim_new(NULL, db[2]): input 1 is NULL");

    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    expect_bad_args(g, 2, m.params, NULL, NB_ERR_ARG,
                    "optim_new: needs at least one parameter and its gradient");
    nb_graph_free(g);
}

Test(optim_options, foreign_param, .description = "a parameter of another graph: NB_ERR_GRAPH")
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    model mh = model_build(h, NB_DTYPE_F64);
    nb_node *p[2] = { m.w, mh.b };
    expect_bad_args(g, 2, p, m.grads, NB_ERR_GRAPH,
                    "optim_new(b[2], db[2]): input 1 belongs to another graph");
    nb_graph_free(h);
    nb_graph_free(g);
}

Test(optim_options, graph_in_error_gives_null_quietly,
     .description = "an earlier error stays the graph's error")
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    cr_assert_null(nb_add(g, m.w, m.b)); /* shapes [3] and [2] do not broadcast */
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    char first[256];
    snprintf(first, sizeof first, "%s", nb_graph_error(g));
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    cr_assert_null(nb_optim_new(g, m.loss, 2, m.params, m.grads, &o));
    o.lr = -1;
    cr_assert_null(nb_optim_new(g, m.loss, 2, m.params, m.grads, &o));
    ASSERT_ERROR(g, NB_ERR_SHAPE, first);
    cr_assert_null(nb_optim_new(NULL, m.loss, 2, m.params, m.grads, &o));
    nb_graph_free(g);
}

/* ======================================================================== */
/* Accessors                                                                */
/* ======================================================================== */

Test(optim, loss_steps_lr_and_null,
     .description = "loss NaN before the first step, then the loss before each update (7, "
                    "4.345); steps count; NULL handled")
{
    nb_graph *g = nb_graph_new();
    model m = model_build(g, NB_DTYPE_F64);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    nb_optim *opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    cr_assert(isnan(nb_optim_loss(opt)));
    cr_assert_eq(nb_optim_steps(opt), 0);
    cr_assert_eq(nb_optim_lr(opt), 0.1);
    step_ok(opt, g);
    /* at the start: 0.5 * 1 + 1 * 4 + 2 * 0.25 + 2 * 0.3 - 2 * -0.7 = 7 */
    cr_assert(fabs(nb_optim_loss(opt) - 7.0) <= 1e-15, "loss %.17g", nb_optim_loss(opt));
    cr_assert_eq(nb_optim_steps(opt), 1);
    step_ok(opt, g);
    /* at (0.9, -1.6, 0.3 | 0.1, -0.5): 0.405 + 2.56 + 0.18 + 0.2 + 1 = 4.345 */
    cr_assert(fabs(nb_optim_loss(opt) - 4.345) <= 1e-14, "loss %.17g", nb_optim_loss(opt));
    cr_assert_eq(nb_optim_steps(opt), 2);
    expect_params(&m, sgd_plain_want[1], TOL, 2);
    nb_optim_free(opt);

    /* without a loss node the loss stays NaN, and the steps still happen */
    opt = nb_optim_new(g, NULL, 2, m.params, m.grads, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    step_ok(opt, g);
    cr_assert(isnan(nb_optim_loss(opt)));
    cr_assert_eq(nb_optim_steps(opt), 1);
    expect_params(&m, sgd_plain_want[2], TOL, 3);
    nb_optim_free(opt);
    nb_graph_free(g);

    nb_optim_free(NULL);
    cr_assert(isnan(nb_optim_loss(NULL)));
    cr_assert(isnan(nb_optim_lr(NULL)));
    cr_assert(isnan(nb_optim_grad_norm(NULL)));
    cr_assert_eq(nb_optim_steps(NULL), 0);
    cr_assert_eq(nb_optim_step(NULL), NB_ERR_ARG);
    cr_assert_eq(nb_optim_step_with(NULL, NULL, NULL), NB_ERR_ARG);
}

/*
 * Appendix: the script that printed the *_want tables (run offline with
 * /usr/bin/python3, torch 1.13; the tests never call Python). ref() is the
 * documented rule in plain float64; torch_run() is torch.optim; the script
 * prints the largest difference between them (2.2e-16).
 *
 *   import math, torch
 *   W0 = [1.0, -2.0, 0.5]; B0 = [0.3, -0.7]; C = [0.5, 1.0, 2.0]; K = [2.0, -2.0]
 *   def grads(p):  # loss = sum(c w^2) + sum(k b)
 *       return [2 * c * x for c, x in zip(C, p[:3])] + list(K)
 *   def ref(kind, o, steps=3, clip=0.0):
 *       lr = o.get('lr'); wd = o.get('weight_decay', 0.0)
 *       p = W0 + B0; n = len(p); st = {}; out = []
 *       for t in range(1, steps + 1):
 *           g = grads(p)
 *           if clip:
 *               norm = math.sqrt(sum(x * x for x in g))
 *               if norm > clip:
 *                   g = [x * clip / (norm + 1e-6) for x in g]
 *           if kind == 'sgd':
 *               mu = o.get('momentum', 0.0); tau = o.get('dampening', 0.0)
 *               nest = o.get('nesterov', False)
 *               for i in range(n):
 *                   d = g[i] + wd * p[i]
 *                   if mu:
 *                       b = d if t == 1 else mu * st[i] + (1 - tau) * d
 *                       st[i] = b
 *                       d = d + mu * b if nest else b
 *                   p[i] -= lr * d
 *           elif kind == 'adagrad':
 *               clr = lr / (1 + (t - 1) * o.get('lr_decay', 0.0)); eps = o.get('eps', 1e-10)
 *               for i in range(n):
 *                   d = g[i] + wd * p[i]
 *                   s = st.get(i, o.get('initial_accumulator_value', 0.0)) + d * d
 *                   st[i] = s
 *                   p[i] -= clr * d / (math.sqrt(s) + eps)
 *           elif kind == 'rmsprop':
 *               al = o.get('alpha', 0.99); eps = o.get('eps', 1e-8)
 *               mu = o.get('momentum', 0.0); cen = o.get('centered', False)
 *               for i in range(n):
 *                   d = g[i] + wd * p[i]
 *                   v, m, b = st.get(i, (0.0, 0.0, 0.0))
 *                   v = al * v + (1 - al) * d * d
 *                   vt = v
 *                   if cen:
 *                       m = al * m + (1 - al) * d
 *                       vt = v - m * m
 *                   if mu:
 *                       b = mu * b + d / (math.sqrt(vt) + eps)
 *                       p[i] -= lr * b
 *                   else:
 *                       p[i] -= lr * d / (math.sqrt(vt) + eps)
 *                   st[i] = (v, m, b)
 *           else:  # adam, adamw
 *               b1, b2 = o.get('betas', (0.9, 0.999)); eps = o.get('eps', 1e-8)
 *               for i in range(n):
 *                   if kind == 'adamw':
 *                       p[i] *= 1 - lr * wd; d = g[i]
 *                   else:
 *                       d = g[i] + wd * p[i]
 *                   m, v = st.get(i, (0.0, 0.0))
 *                   m = b1 * m + (1 - b1) * d
 *                   v = b2 * v + (1 - b2) * d * d
 *                   st[i] = (m, v)
 *                   p[i] -= lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
 *           out.append(list(p))
 *       return out
 *   def torch_run(kind, o, steps=3, clip=0.0):
 *       w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
 *       b = torch.tensor(B0, dtype=torch.float64, requires_grad=True)
 *       c = torch.tensor(C, dtype=torch.float64); k = torch.tensor(K, dtype=torch.float64)
 *       cls = dict(sgd=torch.optim.SGD, adagrad=torch.optim.Adagrad,
 *                  rmsprop=torch.optim.RMSprop, adam=torch.optim.Adam,
 *                  adamw=torch.optim.AdamW)[kind]
 *       opt = cls([w, b], **o); out = []
 *       for t in range(steps):
 *           opt.zero_grad()
 *           ((c * w * w).sum() + (k * b).sum()).backward()
 *           if clip:
 *               torch.nn.utils.clip_grad_norm_([w, b], clip)
 *           opt.step()
 *           out.append(w.tolist() + b.tolist())
 *       return out
 *   # Cases (name, kind, torch options), printed as %.17g rows:
 *   #   sgd_plain sgd lr=0.1; sgd_momentum +momentum=0.9; sgd_dampening
 *   #   +dampening=0.5; sgd_nesterov momentum=0.9 nesterov=True;
 *   #   sgd_weight_decay lr=0.1 weight_decay=0.1; sgd_momentum_weight_decay
 *   #   momentum=0.5 weight_decay=0.1; adagrad_plain lr=0.1; adagrad_decay_acc
 *   #   lr_decay=0.5 initial_accumulator_value=0.5; adagrad_weight_decay
 *   #   +weight_decay=0.1; rmsprop_* lr=0.01 alpha=0.9 with centered=True,
 *   #   momentum=0.9, weight_decay=0.1, and all three; adam_plain lr=0.1;
 *   #   adam_l2 +weight_decay=0.1; adamw lr=0.1 weight_decay=0.1;
 *   #   adagrad_eps lr=0.1 eps=0.5; rmsprop_eps lr=0.01 alpha=0.9
 *   #   centered=True eps=0.1; adam_eps lr=0.1 eps=0.1.
 *   #   clip: ref('sgd', dict(lr=0.1), 1, 1.0), and with weight_decay=0.5.
 */

Test(diverged, a_loss_grown_a_thousandfold_or_not_finite,
     .description = "nb_optim_diverged against the first step's loss")
{
    nb_graph *g = nb_graph_new();
    nb_node *w = nb_param(g, NB_DTYPE_F64, 0, NULL, nb_init_constant(1));
    nb_node *loss = nb_mul(g, w, w); /* first step: loss 1 */
    nb_node *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    nb_optim *opt = nb_optim_new(g, loss, 1, &w, &dw, &o);
    cr_assert_not_null(opt, "%s", nb_graph_error(g));
    cr_assert_not(nb_optim_diverged(opt, 1e9), "no step yet: nothing to compare with");
    cr_assert(nb_optim_diverged(opt, NAN));
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    cr_assert_eq(nb_optim_loss(opt), 1);
    cr_assert_eq(nb_optim_step(opt), NB_OK); /* the yardstick stays the first step's */
    cr_assert_not(nb_optim_diverged(opt, 1000));
    cr_assert(nb_optim_diverged(opt, 1000.5));
    cr_assert(nb_optim_diverged(opt, INFINITY));
    cr_assert_not(nb_optim_diverged(NULL, NAN));
    nb_optim_free(opt);
    nb_graph_free(g);
}
