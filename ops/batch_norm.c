/*
 * ops/batch_norm.c: batch normalization and the running statistics it keeps
 * (state nodes, made by nb_state in ops/leaf.c), and mode_select, which picks
 * one of two values by the run's mode (batch_norm's gradient follows the mode
 * with it). The forward kernel reads x as
 * [N, C, S] (S the product of the axes after 1) and works on tiles of
 * channels: in training one pass for the statistics and one to normalize, in
 * evaluation one pass.
 */
#include "kernel.h"

#include <math.h>

/* Channels whose statistics one tile keeps on the stack. */
#define TILE 64

/* ---- kernels ---- */

/*
 * Sums of d = x - K and d² over channel c's N runs of S > 1 contiguous values,
 * K its first value (the shifted-data algorithm: no cancellation when the mean
 * is far from 0), in eight double lanes so the loop vectorizes.
 */
NBI_TYPED(stats_runs,
          (const void *xv, size_t N, size_t C, size_t S, size_t c, double *s1, double *s2,
           double *shift),
          {
              const T *x = xv;
              const double K = (double)x[c * S];
              double a1[8] = { 0 }, a2[8] = { 0 };
              for (size_t n = 0; n < N; n++) {
                  const T *r = x + (n * C + c) * S;
                  size_t k = 0;
                  for (; k + 8 <= S; k += 8) {
                      for (int j = 0; j < 8; j++) {
                          double d = (double)r[k + j] - K;
                          a1[j] += d;
                          a2[j] += d * d;
                      }
                  }
                  for (; k < S; k++) {
                      double d = (double)r[k] - K;
                      a1[0] += d;
                      a2[0] += d * d;
                  }
              }
              *s1 = ((a1[0] + a1[1]) + (a1[2] + a1[3])) + ((a1[4] + a1[5]) + (a1[6] + a1[7]));
              *s2 = ((a2[0] + a2[1]) + (a2[2] + a2[3])) + ((a2[4] + a2[5]) + (a2[6] + a2[7]));
              *shift = K;
          })

/* The same sums for channels c0 .. c0+nc-1 of x[N, C] (S = 1), along rows. */
NBI_TYPED(stats_cols,
          (const void *xv, size_t N, size_t C, size_t c0, size_t nc, double *s1, double *s2,
           double *shift),
          {
              const T *x = xv;
              for (size_t k = 0; k < nc; k++) {
                  shift[k] = (double)x[c0 + k];
                  s1[k] = 0;
                  s2[k] = 0;
              }
              for (size_t n = 0; n < N; n++) {
                  const T *r = x + n * C + c0;
                  for (size_t k = 0; k < nc; k++) {
                      double d = (double)r[k] - shift[k];
                      s1[k] += d;
                      s2[k] += d * d;
                  }
              }
          })

/* y = (x - mu) * a + b over channel c's N runs of S values. */
NBI_TYPED(apply_runs,
          (const void *xv, void *yv, size_t N, size_t C, size_t S, size_t c, double mu, double a,
           double b),
          {
              const T *x = xv;
              T *y = yv;
              const T m = (T)mu, s = (T)a, t = (T)b;
              for (size_t n = 0; n < N; n++) {
                  const T *r = x + (n * C + c) * S;
                  T *o = y + (n * C + c) * S;
                  for (size_t k = 0; k < S; k++) {
                      o[k] = (r[k] - m) * s + t;
                  }
              }
          })

/* The same for channels c0 .. c0+nc-1 of x[N, C], along rows. */
NBI_TYPED(apply_cols,
          (const void *xv, void *yv, size_t N, size_t C, size_t c0, size_t nc, const double *mu,
           const double *a, const double *b),
          {
              const T *x = xv;
              T *y = yv;
              T m[TILE], s[TILE], t[TILE];
              for (size_t k = 0; k < nc; k++) {
                  m[k] = (T)mu[k];
                  s[k] = (T)a[k];
                  t[k] = (T)b[k];
              }
              for (size_t n = 0; n < N; n++) {
                  const T *r = x + n * C + c0;
                  T *o = y + n * C + c0;
                  for (size_t k = 0; k < nc; k++) {
                      o[k] = (r[k] - m[k]) * s[k] + t[k];
                  }
              }
          })

static double get(const nb_node *n, size_t i)
{
    return n->dtype == NB_DTYPE_F32 ? (double)((const float *)n->data)[i]
                                    : ((const double *)n->data)[i];
}

static void set(nb_node *n, size_t i, double v)
{
    if (n->dtype == NB_DTYPE_F32) {
        ((float *)n->data)[i] = (float)v;
    } else {
        ((double *)n->data)[i] = v;
    }
}

static nb_status batch_norm_forward(nb_graph *g, nb_node *y)
{
    nb_node *x = y->in[0], *w = y->in[1], *b = y->in[2], *rm = y->in[3], *rv = y->in[4];
    size_t N = (size_t)x->shape[0], C = (size_t)x->shape[1];
    size_t S = nbi_node_count(x) / (N * C), m = N * S;
    double momentum = y->attr[0].f, eps = y->attr[1].f;
    bool train = g->run_training, f32 = y->dtype == NB_DTYPE_F32;
    if (train && m < 2) {
        return nbi_report(g, NB_ERR_VALUE, "batch_norm", y->arity, y->in,
                          "training needs more than one value per channel, got %zu (run it in "
                          "evaluation mode, or with a larger batch)",
                          m);
    }
    for (size_t c0 = 0; c0 < C; c0 += TILE) {
        size_t nc = C - c0 < TILE ? C - c0 : TILE;
        double mu[TILE], a[TILE], t[TILE];
        if (train) {
            double s1[TILE], s2[TILE], shift[TILE];
            if (S == 1) {
                NBI_DISPATCH(y, stats_cols, x->data, N, C, c0, nc, s1, s2, shift);
            } else {
                for (size_t k = 0; k < nc; k++) {
                    NBI_DISPATCH(y, stats_runs, x->data, N, C, S, c0 + k, &s1[k], &s2[k],
                                 &shift[k]);
                }
            }
            for (size_t k = 0; k < nc; k++) {
                size_t c = c0 + k;
                double d = s1[k] / (double)m, sq = s2[k] - s1[k] * d;
                double var = sq > 0 ? sq / (double)m : 0; /* biased, for normalizing */
                mu[k] = shift[k] + d;
                a[k] = get(w, c) / sqrt(var + eps);
                /* PyTorch's update, in its order; the unbiased variance for the running one */
                set(rm, c, momentum * mu[k] + (1 - momentum) * get(rm, c));
                set(rv, c,
                    momentum * (var * (double)m / (double)(m - 1)) + (1 - momentum) * get(rv, c));
            }
        } else {
            for (size_t k = 0; k < nc; k++) {
                mu[k] = get(rm, c0 + k);
                a[k] = get(w, c0 + k) / sqrt(get(rv, c0 + k) + eps);
            }
        }
        for (size_t k = 0; k < nc; k++) {
            t[k] = get(b, c0 + k);
        }
        if (S == 1) {
            NBI_DISPATCH(y, apply_cols, x->data, y->data, N, C, c0, nc, mu, a, t);
        } else {
            for (size_t k = 0; k < nc; k++) {
                if (f32) {
                    apply_runs_f32(x->data, y->data, N, C, S, c0 + k, mu[k], a[k], t[k]);
                } else {
                    apply_runs_f64(x->data, y->data, N, C, S, c0 + k, mu[k], a[k], t[k]);
                }
            }
        }
    }
    return NB_OK;
}

/* ---- mode_select ---- */

nb_node *nb_mode_select(nb_graph *g, nb_node *train, nb_node *eval)
{
    nb_node *in[2] = { train, eval };
    if (!nbi_check_inputs(g, "mode_select", 2, in) || !nbi_check_float(g, "mode_select", 2, in)) {
        return NULL;
    }
    if (!nbi_same_shape(train, eval)) {
        nbi_fail(g, NB_ERR_SHAPE, "mode_select", 2, in, "train and eval must have one shape");
        return NULL;
    }
    return nbi_node_new(g, NBI_OP_MODE_SELECT, train->dtype, train->rank, train->shape, train,
                        eval);
}

static nb_node *mode_select_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    (void)attr;
    return nb_mode_select(g, in[0], in[1]);
}

static nb_status mode_select_forward(nb_graph *g, nb_node *y)
{
    const nb_node *src = g->run_training ? y->in[0] : y->in[1];
    if (src->data != y->data) { /* run in place over the chosen input: nothing to copy */
        memcpy(y->data, src->data, nbi_node_bytes(y));
    }
    return NB_OK;
}

/* The gradient selects as the value does, so it follows the mode at every order. */
static void mode_select_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *zero = nb_fill(g, (nb_dtype)y->dtype, y->rank, y->shape, 0.0);
    if (need[0]) {
        dx[0] = nb_mode_select(g, dy, zero);
    }
    if (need[1]) {
        dx[1] = nb_mode_select(g, zero, dy);
    }
}

const nbi_op nbi_op_mode_select = {
    .name = "mode_select",
    .symbol = "mode?",
    .arity = 2,
    .flags = NBI_OP_ELEMENTWISE,
    .build = mode_select_build,
    .inputs = "train, eval",
    .forward = mode_select_forward,
    .grad = mode_select_grad,
    .formula = "y = train in training runs, eval in evaluation runs",
    .grad_formula = "dtrain = mode_select(dy, 0), deval = mode_select(0, dy)",
};

/* ---- batch_norm ---- */

static const char *const input_names[5] = { "x", "weight", "bias", "running_mean", "running_var" };

nb_node *nb_batch_norm(nb_graph *g, nb_node *x, nb_node *weight, nb_node *bias,
                       nb_node *running_mean, nb_node *running_var, double momentum, double eps)
{
    nb_node *in[5] = { x, weight, bias, running_mean, running_var };
    nb_node *given[5];
    int n = 0;
    for (int i = 0; i < 5; i++) {
        if (in[i] || i == 0 || i >= 3) { /* weight and bias may be NULL */
            given[n++] = in[i];
        }
    }
    if (!nbi_check_inputs(g, "batch_norm", n, given) ||
        !nbi_check_float(g, "batch_norm", n, given)) {
        return NULL;
    }
    if (x->rank < 2) {
        nbi_fail(g, NB_ERR_RANK, "batch_norm", 5, in,
                 "x must be [N, C], [N, C, L] or [N, C, H, W]; it has rank %d", x->rank);
        return NULL;
    }
    int64_t C = x->shape[1];
    for (int i = 1; i < 5; i++) {
        if (i >= 3 && in[i]->op != NBI_OP_STATE) {
            nbi_fail(g, NB_ERR_ARG, "batch_norm", 5, in,
                     "%s (%s) is not a state node; make running statistics with nb_state",
                     input_names[i], nbi_ops[in[i]->op]->name);
            return NULL;
        }
        if (in[i] && !(in[i]->rank == 1 && in[i]->shape[0] == C)) {
            char s[96];
            nbi_format_shape(in[i]->rank, in[i]->shape, s, sizeof s);
            nbi_fail(g, NB_ERR_SHAPE, "batch_norm", 5, in,
                     "%s is %s but x has %lld channels (axis 1); it must be [%lld]", input_names[i],
                     s, (long long)C, (long long)C);
            return NULL;
        }
    }
    if (running_mean == running_var) {
        nbi_fail(g, NB_ERR_ARG, "batch_norm", 5, in,
                 "running_mean and running_var are the same node; each needs its own state");
        return NULL;
    }
    if (!(momentum >= 0 && momentum <= 1)) {
        nbi_fail(g, NB_ERR_ARG, "batch_norm", 5, in, "momentum must be in [0, 1], got %g",
                 momentum);
        return NULL;
    }
    if (!(eps > 0) || !isfinite(eps)) {
        nbi_fail(g, NB_ERR_ARG, "batch_norm", 5, in, "eps must be a finite number > 0, got %g",
                 eps);
        return NULL;
    }
    /* PyTorch's None: ones and zeros, as nodes the model language can write */
    if (!in[1]) {
        in[1] = nb_fill(g, (nb_dtype)x->dtype, 1, &C, 1.0);
    }
    if (!in[2]) {
        in[2] = nb_fill(g, (nb_dtype)x->dtype, 1, &C, 0.0);
    }
    if (!in[1] || !in[2]) {
        return NULL;
    }
    nb_node *y = nbi_node_newv(g, NBI_OP_BATCH_NORM, x->dtype, x->rank, x->shape, 5, in);
    if (y) {
        y->attr[0].f = momentum;
        y->attr[1].f = eps;
    }
    return y;
}

static nb_node *batch_norm_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_batch_norm(g, in[0], in[1], in[2], in[3], in[4], attr[0].f, attr[1].f);
}

/* t reduced (mean or sum) over every axis but 1, kept: [1, C, 1, ...]. */
static nb_node *over_batch(nb_graph *g, nb_node *t, bool mean)
{
    for (int a = t ? t->rank - 1 : -1; a >= 0 && t; a--) {
        if (a != 1) {
            t = mean ? nb_mean_axis(g, t, a, true) : nb_sum_axis(g, t, a, true);
        }
    }
    return t;
}

/* A [C] vector laid out to broadcast along axis 1 of x: [C], [C, 1] or [C, 1, 1]. */
static nb_node *per_channel(nb_graph *g, nb_node *v, const nb_node *x)
{
    if (x->rank == 2) {
        return v;
    }
    int64_t shape[NB_MAX_RANK - 1] = { x->shape[1], 1, 1 };
    return nb_reshape(g, v, x->rank - 1, shape);
}

/* [1, C, 1, ...] back to [C]. */
static nb_node *channels(nb_graph *g, nb_node *t, const nb_node *x)
{
    return nb_reshape(g, t, 1, &x->shape[1]);
}

/*
 * Both modes' rules, each from public builders, with mode_select choosing at
 * run time. Training (xhat = (x - mean) * rstd, rstd = (var + eps)^-1/2 from
 * the batch, rebuilt here from x so second derivatives see them):
 *     dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * weight
 *     dweight = sum(dy * xhat)
 * Evaluation (the running statistics are constants):
 *     dx = dy * weight * rstd_run,  dweight = sum(dy * (x - running_mean) * rstd_run)
 * dbias = sum(dy) in both; means and sums run over every axis but 1.
 */
static void batch_norm_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *x = y->in[0], *w = y->in[1], *rm = y->in[3], *rv = y->in[4];
    nb_node *eps = nbi_scalar_cached(g, y->dtype, y->attr[1].f);
    if (need[2]) {
        dx[2] = channels(g, over_batch(g, dy, false), x);
    }
    if (!need[0] && !need[1]) {
        return;
    }
    nb_node *xc = nb_sub(g, x, over_batch(g, x, true));
    nb_node *rstd = nb_pow(g, nb_add(g, over_batch(g, nb_mul(g, xc, xc), true), eps), -0.5);
    nb_node *xhat = nb_mul(g, xc, rstd);
    nb_node *rstd_run = nb_pow(g, nb_add(g, per_channel(g, rv, x), eps), -0.5);
    if (need[0]) {
        nb_node *gh = nb_mul(g, dy, per_channel(g, w, x));
        nb_node *centered = nb_sub(g, gh, over_batch(g, gh, true));
        nb_node *along = nb_mul(g, xhat, over_batch(g, nb_mul(g, gh, xhat), true));
        nb_node *train = nb_mul(g, rstd, nb_sub(g, centered, along));
        dx[0] = nb_mode_select(g, train, nb_mul(g, gh, rstd_run));
    }
    if (need[1]) {
        nb_node *train = channels(g, over_batch(g, nb_mul(g, dy, xhat), false), x);
        nb_node *xhat_run = nb_mul(g, nb_sub(g, x, per_channel(g, rm, x)), rstd_run);
        nb_node *eval = channels(g, over_batch(g, nb_mul(g, dy, xhat_run), false), x);
        dx[1] = nb_mode_select(g, train, eval);
    }
}

const nbi_op nbi_op_batch_norm = {
    .name = "batch_norm",
    .symbol = "BN",
    .arity = 5,
    .attrs = { { "momentum", NBI_ATTR_FLOAT, 0.1 }, { "eps", NBI_ATTR_FLOAT, 1e-5 } },
    .n_attrs = 2,
    .build = batch_norm_build,
    .inputs = "x, weight, bias, running_mean, running_var",
    .forward = batch_norm_forward,
    .grad = batch_norm_grad,
    .formula = "y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1); training: "
               "batch statistics, running ones updated by momentum; evaluation: running ones",
    .grad_formula = "training: dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy weight; "
                    "evaluation: dx = dy weight rstd_run; dweight = sum(dy xhat), dbias = sum(dy)",
};
