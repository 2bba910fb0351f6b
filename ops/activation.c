/*
 * ops/activation.c: activations (leaky_relu, elu, gelu, gelu_tanh, softplus,
 * silu, log1p, erf, clamp). Each is one elementwise kernel whose attributes
 * (a slope, an alpha, bounds) come from the node's attribute block, a
 * gradient rule built from public builders, and a record.
 */
#include "kernel.h"

/* Checks x for a unary float op and makes its node; attributes are set by the caller. */
static nb_node *activation(nb_graph *g, int op, nb_node *x)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    return nbi_node_new(g, op, x->dtype, x->rank, x->shape, x, NULL);
}

/* ---- leaky_relu ---- */

NBI_TYPED(leaky_relu_kernel, (size_t n, const void *xv, void *yv, double slope), {
    const T *x = xv;
    T *y = yv;
    const T s = (T)slope;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i] > 0 ? x[i] : x[i] * s;
    }
})

static nb_status leaky_relu_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, leaky_relu_kernel, nbi_node_count(y), y->in[0]->data, y->data, y->attr[0].f);
    return NB_OK;
}

nb_node *nb_leaky_relu(nb_graph *g, nb_node *x, double slope)
{
    if (slope != slope && nbi_check_inputs(g, "leaky_relu", 1, &x)) {
        nbi_fail(g, NB_ERR_ARG, "leaky_relu", 1, &x, "the slope is NaN");
        return NULL;
    }
    nb_node *y = activation(g, NBI_OP_LEAKY_RELU, x);
    if (y) {
        y->attr[0].f = slope;
    }
    return y;
}

static nb_node *leaky_relu_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_leaky_relu(g, in[0], attr[0].f);
}

/* slope where x <= 0 (so at 0 too, as PyTorch), 1 where x > 0: slope + (1 - slope) step(x) */
static void leaky_relu_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    double s = y->attr[0].f;
    nb_node *local = nb_add(g, nbi_scalar_cached(g, y->dtype, s),
                            nb_mul(g, nbi_scalar_cached(g, y->dtype, 1 - s), nb_step(g, y->in[0])));
    dx[0] = nbi_chain(g, dy, local);
}

const nbi_op nbi_op_leaky_relu = {
    .name = "leaky_relu",
    .symbol = "lrelu",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .attrs = { { "slope", NBI_ATTR_FLOAT, 0.01 } },
    .n_attrs = 1,
    .build = leaky_relu_build,
    .forward = leaky_relu_forward,
    .grad = leaky_relu_grad,
    .formula = "y = x if x > 0, else slope * x",
    .grad_formula = "dx = dy * (slope + (1 - slope) * step(x))   (slope at 0, as PyTorch)",
};

/*
 * The ops without attributes still get a build function, so the model
 * language reads them through their records (`erf(x)`) with no parser code.
 */
#define UNARY_BUILD(NAME)                                                                          \
    static nb_node *NAME##_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)     \
    {                                                                                              \
        (void)n;                                                                                   \
        (void)attr;                                                                                \
        return nb_##NAME(g, in[0]);                                                                \
    }

/* Constants of the formulas, spelled out: M_SQRT1_2 and friends are not C11. */
#define SQRT1_2     0.70710678118654752440 /* 1/√2 */
#define TWO_SQRTPI  1.12837916709551257390 /* 2/√π, erf's slope at 0 */
#define SQRT1_2PI   0.39894228040143267794 /* 1/√(2π), the normal density at 0 */
#define SQRT2_PI    0.79788456080286535588 /* √(2/π), gelu_tanh's β */
#define GELU_KAPPA  0.044715               /* gelu_tanh's cubic coefficient, as PyTorch */
#define SOFTPLUS_TH 20.0                   /* softplus's threshold: x above it gives x */

/*
 * e^x - 1 in float for x <= 0 (elu's negative side), without the cancellation
 * of nbi_expf(x) - 1 near 0: a degree-8 Taylor polynomial for |x| < 0.5 (its
 * remainder is below x^9/9! < 1.1e-8 |x|, under float's rounding), nbi_expf
 * elsewhere, where e^x - 1 <= -0.39 loses at most a bit. Straight-line
 * arithmetic and a select, so elu's loop vectorizes; float64 uses libm's expm1.
 */
static inline float expm1_neg_f(float x)
{
    float p =
        x *
        (1.0f + x * (1.0f / 2 +
                     x * (1.0f / 6 +
                          x * (1.0f / 24 +
                               x * (1.0f / 120 +
                                    x * (1.0f / 720 + x * (1.0f / 5040 + x * (1.0f / 40320))))))));
    return x > -0.5f ? p : nbi_expf(x) - 1.0f;
}

#define EXPM1_NEG(x) _Generic((x), float : expm1_neg_f, default : expm1)(x)

/* ---- elu ---- */

NBI_TYPED(elu_kernel, (size_t n, const void *xv, void *yv, double alpha), {
    const T *x = xv;
    T *y = yv;
    const T a = (T)alpha;
    for (size_t i = 0; i < n; i++) {
        /* e^x - 1 only of x <= 0, so no overflow where x > 0 is discarded; NaN stays NaN */
        T neg = x[i] > 0 ? (T)0 : x[i];
        y[i] = x[i] > 0 ? x[i] : a * EXPM1_NEG(neg);
    }
})

static nb_status elu_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, elu_kernel, nbi_node_count(y), y->in[0]->data, y->data, y->attr[0].f);
    return NB_OK;
}

nb_node *nb_elu(nb_graph *g, nb_node *x, double alpha)
{
    if (alpha != alpha && nbi_check_inputs(g, "elu", 1, &x)) {
        nbi_fail(g, NB_ERR_ARG, "elu", 1, &x, "alpha is NaN");
        return NULL;
    }
    nb_node *y = activation(g, NBI_OP_ELU, x);
    if (y) {
        y->attr[0].f = alpha;
    }
    return y;
}

static nb_node *elu_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_elu(g, in[0], attr[0].f);
}

/*
 * 1 where x > 0, alpha e^x where x <= 0 (so alpha at 0, as PyTorch's), with
 * e^x taken of min(x, 0) = -relu(-x): 1 where x > 0, so nothing overflows,
 * and the large-x side is selected by products with step(x) and 1 - step(x),
 * each exactly 0 or 1. relu's gradient is 0 at 0, so the second derivative
 * at 0 is 0, as PyTorch's double backward gives (alpha e^x for x < 0).
 */
static void elu_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int dt = y->dtype;
    nb_node *s = nb_step(g, x);
    nb_node *e = nb_exp(g, nb_neg(g, nb_relu(g, nb_neg(g, x))));
    nb_node *neg = nb_mul(g, nb_sub(g, nbi_scalar_cached(g, dt, 1.0), s),
                          nb_mul(g, nbi_scalar_cached(g, dt, y->attr[0].f), e));
    dx[0] = nbi_chain(g, dy, nb_add(g, s, neg));
}

const nbi_op nbi_op_elu = {
    .name = "elu",
    .symbol = "elu",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .attrs = { { "alpha", NBI_ATTR_FLOAT, 1.0 } },
    .n_attrs = 1,
    .build = elu_build,
    .forward = elu_forward,
    .grad = elu_grad,
    .formula = "y = x if x > 0, else alpha * (e^x - 1)",
    .grad_formula =
        "dx = dy * (step(x) + (1 - step(x)) * alpha * e^min(x, 0))   (alpha at 0, as PyTorch)",
};

/* ---- erf ---- */

NBI_UNARY_FORWARD(erf, erf(x))
UNARY_BUILD(erf)

nb_node *nb_erf(nb_graph *g, nb_node *x)
{
    return activation(g, NBI_OP_ERF, x);
}

/* 2/√π e^(-x²): exp of a graph node, so it can be differentiated again (gelu's Hessian) */
static void erf_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    nb_node *e = nb_exp(g, nb_neg(g, nb_mul(g, x, x)));
    dx[0] = nbi_chain(g, dy, nb_mul(g, nbi_scalar_cached(g, y->dtype, TWO_SQRTPI), e));
}

const nbi_op nbi_op_erf = {
    .name = "erf",
    .symbol = "erf",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .build = erf_build,
    .forward = erf_forward,
    .grad = erf_grad,
    .formula = "y = erf x = 2/√π ∫₀ˣ e^(-t²) dt",
    .grad_formula = "dx = dy * 2/√π * e^(-x²)",
};

/* ---- gelu ---- */

/*
 * x Φ(x) with Φ(x) = erfc(-x/√2) / 2, which equals PyTorch's (1 + erf(x/√2)) / 2
 * but keeps its relative accuracy in the left tail, where 1 + erf rounds to 0.
 */
NBI_UNARY_FORWARD(gelu, (T)0.5 * x * erfc(-x * (T)SQRT1_2))
UNARY_BUILD(gelu)

nb_node *nb_gelu(nb_graph *g, nb_node *x)
{
    return activation(g, NBI_OP_GELU, x);
}

/* Φ(x) + x φ(x), from erf and exp nodes so that second derivatives follow */
static void gelu_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int dt = y->dtype;
    nb_node *half = nbi_scalar_cached(g, dt, 0.5);
    nb_node *cdf = nb_add(
        g, half, nb_mul(g, half, nb_erf(g, nb_mul(g, x, nbi_scalar_cached(g, dt, SQRT1_2)))));
    nb_node *e = nb_exp(g, nb_mul(g, nbi_scalar_cached(g, dt, -0.5), nb_mul(g, x, x)));
    nb_node *pdf = nb_mul(g, nbi_scalar_cached(g, dt, SQRT1_2PI), e);
    dx[0] = nbi_chain(g, dy, nb_add(g, cdf, nb_mul(g, x, pdf)));
}

const nbi_op nbi_op_gelu = {
    .name = "gelu",
    .symbol = "gelu",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .build = gelu_build,
    .forward = gelu_forward,
    .grad = gelu_grad,
    .formula = "y = x Φ(x) = x/2 * (1 + erf(x/√2))",
    .grad_formula = "dx = dy * (Φ(x) + x φ(x)), Φ(x) = (1 + erf(x/√2))/2, φ(x) = e^(-x²/2)/√(2π)",
};

/* ---- gelu_tanh ---- */

/* PyTorch's approximate='tanh' kernel, operation for operation */
NBI_UNARY_FORWARD(gelu_tanh,
                  (T)0.5 * x * ((T)1 + NBI_TANH((T)SQRT2_PI * (x + (T)GELU_KAPPA * (x * x * x)))))
UNARY_BUILD(gelu_tanh)

nb_node *nb_gelu_tanh(nb_graph *g, nb_node *x)
{
    return activation(g, NBI_OP_GELU_TANH, x);
}

/*
 * With u = β (x + κ x³) and t = tanh u:
 * (1 + t)/2 + x/2 (1 - t²) β (1 + 3κ x²), the last product through
 * tanh_grad(t, .), whose own rule carries second derivatives.
 */
static void gelu_tanh_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int dt = y->dtype;
    nb_node *half = nbi_scalar_cached(g, dt, 0.5);
    nb_node *x2 = nb_mul(g, x, x);
    nb_node *u =
        nb_mul(g, nbi_scalar_cached(g, dt, SQRT2_PI),
               nb_add(g, x, nb_mul(g, nbi_scalar_cached(g, dt, GELU_KAPPA), nb_mul(g, x, x2))));
    nb_node *t = nb_tanh(g, u);
    nb_node *du = nb_add(g, nbi_scalar_cached(g, dt, SQRT2_PI),
                         nb_mul(g, nbi_scalar_cached(g, dt, 3 * GELU_KAPPA * SQRT2_PI), x2));
    nb_node *outer = nb_add(g, half, nb_mul(g, half, t));
    nb_node *inner = nb_tanh_grad(g, t, nb_mul(g, nb_mul(g, half, x), du));
    dx[0] = nbi_chain(g, dy, nb_add(g, outer, inner));
}

const nbi_op nbi_op_gelu_tanh = {
    .name = "gelu_tanh",
    .symbol = "gelu~",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .build = gelu_tanh_build,
    .forward = gelu_tanh_forward,
    .grad = gelu_tanh_grad,
    .formula = "y = x/2 * (1 + tanh(√(2/π) (x + 0.044715 x³)))",
    .grad_formula =
        "dx = dy * ((1 + t)/2 + x/2 (1 - t²) √(2/π) (1 + 3 * 0.044715 x²)), t = tanh(...)",
};

/* ---- softplus ---- */

/*
 * log(1 + e^x) as max(x, 0) + log1p(e^-|x|): no exponent is positive, so
 * nothing overflows, and e^-|x| <= 1 is where nbi_log1pf is accurate. Above
 * PyTorch's threshold (x > 20) the result is x itself, as PyTorch's; so is
 * NaN, which fails x <= 20 (nbi_log1pf's bit tricks need not keep it NaN).
 */
NBI_UNARY_FORWARD(softplus, !(x <= (T)SOFTPLUS_TH)
                                ? x
                                : (x > 0 ? x : (T)0) + NBI_LOG1P(NBI_EXP(x < 0 ? x : -x)))
UNARY_BUILD(softplus)

nb_node *nb_softplus(nb_graph *g, nb_node *x)
{
    return activation(g, NBI_OP_SOFTPLUS, x);
}

/*
 * sigmoid(x) up to the threshold, exactly 1 above it (PyTorch's rule): with
 * a = step(x - 20), sigmoid(x) (1 - a) + a, each term exact where the other
 * is 0. x - 20 > 0 exactly when x > 20 (IEEE subtraction keeps the sign).
 */
static void softplus_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int dt = y->dtype;
    nb_node *above = nb_step(g, nb_sub(g, x, nbi_scalar_cached(g, dt, SOFTPLUS_TH)));
    nb_node *below = nb_sub(g, nbi_scalar_cached(g, dt, 1.0), above);
    dx[0] = nbi_chain(g, dy, nb_add(g, nb_mul(g, nb_sigmoid(g, x), below), above));
}

const nbi_op nbi_op_softplus = {
    .name = "softplus",
    .symbol = "softplus",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .build = softplus_build,
    .forward = softplus_forward,
    .grad = softplus_grad,
    .formula = "y = max(x, 0) + log1p(e^-|x|), or x where x > 20",
    .grad_formula = "dx = dy * sigmoid(x), or dy where x > 20",
};

/* ---- silu ---- */

NBI_UNARY_FORWARD(silu, x *NBI_SIGMOID(x))
UNARY_BUILD(silu)

nb_node *nb_silu(nb_graph *g, nb_node *x)
{
    return activation(g, NBI_OP_SILU, x);
}

/* s + x s (1 - s) with s = sigmoid(x), the product as sigmoid_grad(s, x) */
static void silu_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    nb_node *s = nb_sigmoid(g, x);
    dx[0] = nbi_chain(g, dy, nb_add(g, s, nb_sigmoid_grad(g, s, x)));
}

const nbi_op nbi_op_silu = {
    .name = "silu",
    .symbol = "silu",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .build = silu_build,
    .forward = silu_forward,
    .grad = silu_grad,
    .formula = "y = x * sigmoid(x)",
    .grad_formula = "dx = dy * (s + x s (1 - s)), s = sigmoid(x)",
};

/* ---- log1p ---- */

/* libm's in both dtypes: nbi_log1pf covers only u >= 0 */
NBI_UNARY_FORWARD(log1p, log1p(x))
UNARY_BUILD(log1p)

nb_node *nb_log1p(nb_graph *g, nb_node *x)
{
    return activation(g, NBI_OP_LOG1P, x);
}

static void log1p_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = nb_div(g, dy, nb_add(g, nbi_scalar_cached(g, y->dtype, 1.0), y->in[0]));
}

const nbi_op nbi_op_log1p = {
    .name = "log1p",
    .symbol = "log1p",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .build = log1p_build,
    .forward = log1p_forward,
    .grad = log1p_grad,
    .formula = "y = ln(1 + x), accurate for small x",
    .grad_formula = "dx = dy / (1 + x)",
};

/* ---- clamp ---- */

/*
 * min(max(x, lo), hi) written as two selects: NaN x fails both comparisons
 * and stays NaN, and lo > hi gives hi everywhere, both as PyTorch.
 */
NBI_TYPED(clamp_kernel, (size_t n, const void *xv, void *yv, double lo, double hi), {
    const T *x = xv;
    T *y = yv;
    const T l = (T)lo, h = (T)hi;
    for (size_t i = 0; i < n; i++) {
        T t = x[i] < l ? l : x[i];
        y[i] = t > h ? h : t;
    }
})

static nb_status clamp_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    NBI_DISPATCH(y, clamp_kernel, nbi_node_count(y), y->in[0]->data, y->data, y->attr[0].f,
                 y->attr[1].f);
    return NB_OK;
}

nb_node *nb_clamp(nb_graph *g, nb_node *x, double lo, double hi)
{
    if ((lo != lo || hi != hi) && nbi_check_inputs(g, "clamp", 1, &x)) {
        nbi_fail(g, NB_ERR_ARG, "clamp", 1, &x, "the bound %s is NaN", lo != lo ? "lo" : "hi");
        return NULL;
    }
    nb_node *y = activation(g, NBI_OP_CLAMP, x);
    if (y) {
        y->attr[0].f = lo;
        y->attr[1].f = hi;
    }
    return y;
}

static nb_node *clamp_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_clamp(g, in[0], attr[0].f, attr[1].f);
}

/*
 * The bound c as the op compares it in dtype dt, moved one step towards dir:
 * x >= c exactly when x > (c one step down), and step() is the strict x > 0.
 */
static double next_bound(int dt, double c, double dir)
{
    return dt == NB_DTYPE_F32 ? (double)nextafterf((float)c, (float)dir) : nextafter(c, dir);
}

/*
 * dy where lo <= x <= hi, both bounds included (at x == lo or x == hi the
 * gradient passes, as PyTorch's), 0 elsewhere: so 0 everywhere when lo > hi,
 * and 0 at NaN x. Masks are strict steps against the bound moved one float
 * outwards, step(x - lo⁻) and step(hi⁺ - x), which are 0 for NaN as
 * PyTorch's comparisons are; an infinite default bound adds no mask.
 */
static void clamp_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    int dt = y->dtype;
    double lo = y->attr[0].f, hi = y->attr[1].f;
    nb_node *mask = NULL;
    if (lo != -INFINITY) {
        double c = next_bound(dt, lo, -INFINITY);
        mask = nb_step(g, nb_sub(g, x, nbi_scalar_cached(g, dt, c)));
    }
    if (hi != INFINITY) {
        double c = next_bound(dt, hi, INFINITY);
        nb_node *m = nb_step(g, nb_sub(g, nbi_scalar_cached(g, dt, c), x));
        mask = mask ? nb_mul(g, mask, m) : m;
    }
    dx[0] = mask ? nbi_chain(g, dy, mask) : dy;
}

const nbi_op nbi_op_clamp = {
    .name = "clamp",
    .symbol = "clamp",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .attrs = { { "lo", NBI_ATTR_FLOAT, -INFINITY }, { "hi", NBI_ATTR_FLOAT, INFINITY } },
    .n_attrs = 2,
    .build = clamp_build,
    .forward = clamp_forward,
    .grad = clamp_grad,
    .formula = "y = min(max(x, lo), hi)   (hi everywhere when lo > hi, as PyTorch)",
    .grad_formula = "dx = dy where lo <= x <= hi (bounds included), else 0",
};
