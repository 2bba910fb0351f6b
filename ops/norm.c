/*
 * ops/norm.c: regularization and normalization: dropout (one op, its mask
 * drawn per run from the graph's generator and never stored) and layer_norm
 * over the last axis, with weight and bias (layer_norm) or without
 * (layer_norm_plain), one two-pass kernel for both. batch_norm, which keeps
 * state, lives in ops/batch_norm.c.
 */
#include "kernel.h"

#include <stdio.h>

/* ---- dropout ---- */

/*
 * A dropout node built by nb_dropout has one input and three attribute slots:
 * the described p, then two the record does not describe (so DOT, the writer
 * and the parser never see them), written by each run's forward: whether
 * this run dropped at all (training and p > 0), and the key its mask came
 * from. Element i is kept when bits(key, i) >= p 2^53, so the mask is a pure
 * function of the key and can be drawn again later in the same run without
 * being stored.
 *
 * Its gradient is dropout of dy with the same mask (dropout is linear and
 * its own adjoint): a dropout node of two inputs, dy and the original node,
 * which reads the original's slots instead of drawing. The second input is
 * only there so that the original runs first in every run that needs the
 * gradient, and so the key read is this run's; it carries no gradient. The
 * gradient of that node is again dropout with the original's mask, so
 * derivatives of any order use the mask of the run.
 */
enum { DROP_P, DROP_ON, DROP_KEY, DROP_SLOTS };

/* 64 random bits for element i under key: splitmix64's finalizer of a Weyl sequence. */
static inline uint64_t drop_bits(uint64_t key, uint64_t i)
{
    uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* y = x * scale where bits(key, i) >> 11 >= thr, 0 elsewhere (y may be x). */
NBI_TYPED(dropout_kernel,
          (size_t n, const void *xv, void *yv, uint64_t key, uint64_t thr, double scale), {
              const T *x = xv;
              T *y = yv;
              const T s = (T)scale;
              for (size_t i = 0; i < n; i++) {
                  y[i] = (drop_bits(key, i) >> 11) >= thr ? x[i] * s : (T)0;
              }
          })

static nb_status dropout_forward(nb_graph *g, nb_node *y)
{
    nb_node *src = y->arity == 2 ? y->in[1] : y; /* a gradient node uses its original's mask */
    double p = src->attr[DROP_P].f;
    if (src == y) {
        y->attr[DROP_ON].i = g->run_training && p > 0;
        if (y->attr[DROP_ON].i) {
            y->attr[DROP_KEY].i = (int64_t)nbi_rng_next(g); /* one draw per node and run */
        }
    }
    const nb_node *x = y->in[0];
    size_t n = nbi_node_count(y);
    if (!src->attr[DROP_ON].i) {
        if (y->data != x->data) {
            memcpy(y->data, x->data, nbi_node_bytes(y));
        }
        return NB_OK;
    }
    /* kept when u = bits / 2^53 >= p, i.e. bits >= p 2^53 rounded up (exact: 2^53 p is) */
    uint64_t thr = (uint64_t)ceil(p * 0x1.0p53);
    NBI_DISPATCH(y, dropout_kernel, n, x->data, y->data, (uint64_t)src->attr[DROP_KEY].i, thr,
                 1.0 / (1.0 - p));
    return NB_OK;
}

nb_node *nb_dropout(nb_graph *g, nb_node *x, double p)
{
    if (!nbi_check_inputs(g, "dropout", 1, &x) || !nbi_check_float(g, "dropout", 1, &x)) {
        return NULL;
    }
    if (!(p >= 0 && p < 1)) { /* NaN fails too */
        char r[40];
        nbi_format_real(p, false, r, sizeof r);
        nbi_fail(g, NB_ERR_ARG, "dropout", 1, &x, "p %s is outside [0, 1)", r);
        return NULL;
    }
    nbi_attr *slots = nbi_arena_alloc(g, DROP_SLOTS * sizeof *slots);
    if (!slots) {
        nbi_fail_nomem(g, "dropout");
        return NULL;
    }
    nb_node *y = nbi_node_new(g, NBI_OP_DROPOUT, x->dtype, x->rank, x->shape, x, NULL);
    if (y) {
        memset(slots, 0, DROP_SLOTS * sizeof *slots);
        slots[DROP_P].f = p;
        y->attr = slots;
    }
    return y;
}

static nb_node *dropout_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    (void)n;
    return nb_dropout(g, in[0], attr[0].f);
}

static void dropout_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *src = y->arity == 2 ? y->in[1] : y;
    if (src->attr[DROP_P].f == 0) {
        dx[0] = dy; /* the identity in every mode */
        return;
    }
    nb_node *d = nbi_node_new(g, NBI_OP_DROPOUT, dy->dtype, dy->rank, dy->shape, dy, src);
    if (d) {
        d->attr[DROP_P].f = src->attr[DROP_P].f;
    }
    dx[0] = d; /* dx[1] stays NULL: the original is there for its mask, not its value */
}

/* p always shows in DOT: a dropout node without its rate says little. */
static void dropout_label(const nb_node *y, char *buf, size_t cap)
{
    nbi_attr_format(y, DROP_P, buf, cap);
}

const nbi_op nbi_op_dropout = {
    .name = "dropout",
    .symbol = "drop",
    .arity = 1,
    .flags = NBI_OP_ELEMENTWISE,
    .attrs = { { "p", NBI_ATTR_FLOAT, 0.5 } },
    .n_attrs = 1,
    .build = dropout_build,
    .inputs = "x",
    .forward = dropout_forward,
    .grad = dropout_grad,
    .label = dropout_label,
    .formula = "training: y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element and run; "
               "evaluation: y = x",
    .grad_formula = "dx = dy * m / (1 - p), the same m as the forward of the run (dy in "
                    "evaluation)",
};

/* ---- layer_norm and layer_norm_plain ---- */

/*
 * x as rows of d: y = (x - mean) / sqrt(var + eps) * w + b per row, w and b
 * of d values or NULL. Two passes over a row: moments by Welford's update in
 * eight lanes (the lanes see the same count, so 1/count is one division per
 * eight elements and the loop vectorizes), merged in double with Chan's
 * formula; then the output. Welford keeps every digit where the sum of
 * squares minus the squared sum would cancel (rows with a large mean).
 */
NBI_TYPED(layer_norm_kernel,
          (const void *xv, const void *wv, const void *bv, void *yv, size_t rows, size_t d,
           double eps),
          {
              const T *w = wv, *b = bv;
              for (size_t r = 0; r < rows; r++) {
                  const T *x = (const T *)xv + r * d;
                  T *y = (T *)yv + r * d;
                  T mean[8] = { 0 }, m2[8] = { 0 };
                  size_t k = 0, c = 0;
                  for (; k + 8 <= d; k += 8) {
                      const T inv = (T)1 / (T)(++c);
                      for (int j = 0; j < 8; j++) {
                          const T v = x[k + j], dl = v - mean[j];
                          mean[j] += dl * inv;
                          m2[j] += dl * (v - mean[j]);
                      }
                  }
                  double cnt = 0, mu = 0, ss = 0;
                  for (int j = 0; j < 8 && c > 0; j++) {
                      double nb = (double)c, dl = (double)mean[j] - mu, tot = cnt + nb;
                      mu += dl * nb / tot;
                      ss += (double)m2[j] + dl * dl * cnt * nb / tot;
                      cnt = tot;
                  }
                  for (; k < d; k++) {
                      double v = (double)x[k], dl = v - mu;
                      cnt += 1;
                      mu += dl / cnt;
                      ss += dl * (v - mu);
                  }
                  const T m = (T)mu, rs = (T)(1.0 / sqrt(ss / (double)d + eps));
                  if (w) {
                      for (size_t i = 0; i < d; i++) {
                          y[i] = (x[i] - m) * rs * w[i] + b[i];
                      }
                  } else {
                      for (size_t i = 0; i < d; i++) {
                          y[i] = (x[i] - m) * rs;
                      }
                  }
              }
          })

static nb_status layer_norm_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    const nb_node *x = y->in[0];
    size_t d = (size_t)x->shape[x->rank - 1];
    bool affine = y->arity == 3;
    NBI_DISPATCH(y, layer_norm_kernel, x->data, affine ? y->in[1]->data : NULL,
                 affine ? y->in[2]->data : NULL, y->data, nbi_node_count(y) / d, d, y->attr[0].f);
    return NB_OK;
}

/* Checks that p, the weight or the bias, has x's last axis as its one dimension. */
static bool affine_shape_ok(nb_graph *g, int n, nb_node *const *in, const nb_node *x,
                            const nb_node *p, const char *what)
{
    if (!p || (p->rank == 1 && p->shape[0] == x->shape[x->rank - 1])) {
        return true;
    }
    char ps[96], want[40];
    nbi_format_shape(p->rank, p->shape, ps, sizeof ps);
    nbi_format_shape(1, &x->shape[x->rank - 1], want, sizeof want);
    nbi_fail(g, NB_ERR_SHAPE, "layer_norm", n, in, "the %s has shape %s, not %s (x's last axis)",
             what, ps, want);
    return false;
}

nb_node *nb_layer_norm(nb_graph *g, nb_node *x, nb_node *weight, nb_node *bias, double eps)
{
    /* the inputs that are given, for the checks and the messages */
    nb_node *in[3] = { x };
    int n = 1;
    if (weight) {
        in[n++] = weight;
    }
    if (bias) {
        in[n++] = bias;
    }
    if (!nbi_check_inputs(g, "layer_norm", n, in) || !nbi_check_float(g, "layer_norm", n, in)) {
        return NULL;
    }
    if (x->rank == 0) {
        nbi_fail(g, NB_ERR_SHAPE, "layer_norm", n, in,
                 "x is a scalar; layer_norm normalizes its last axis");
        return NULL;
    }
    if (!(eps >= 0 && eps < INFINITY)) {
        char r[40];
        nbi_format_real(eps, false, r, sizeof r);
        nbi_fail(g, NB_ERR_ARG, "layer_norm", n, in, "eps %s is not a finite number >= 0", r);
        return NULL;
    }
    if (!affine_shape_ok(g, n, in, x, weight, "weight") ||
        !affine_shape_ok(g, n, in, x, bias, "bias")) {
        return NULL;
    }
    nb_node *y;
    if (weight && bias) {
        y = nbi_node_newv(g, NBI_OP_LAYER_NORM, x->dtype, x->rank, x->shape, 3, in);
    } else {
        y = nbi_node_new(g, NBI_OP_LAYER_NORM_PLAIN, x->dtype, x->rank, x->shape, x, NULL);
    }
    if (!y) {
        return NULL;
    }
    y->attr[0].f = eps;
    /* one of the two: PyTorch's x̂ * w or x̂ + b, as an ordinary product or sum */
    if (weight && !bias) {
        y = nb_mul(g, y, weight);
    } else if (bias && !weight) {
        y = nb_add(g, y, bias);
    }
    return y;
}

static nb_node *layer_norm_build(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr)
{
    return nb_layer_norm(g, in[0], n == 3 ? in[1] : NULL, n == 3 ? in[2] : NULL, attr[0].f);
}

/*
 * With x̂ = (x - mean) / sigma, sigma = sqrt(var + eps) recomputed from x with
 * public builders (so the gradient can be differentiated again) and g = dy * w:
 * dx = (g - mean(g) - x̂ mean(g x̂)) / sigma, dw = Σ_rows dy x̂, db = Σ_rows dy.
 */
static void layer_norm_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    nb_node *x = y->in[0];
    bool affine = y->arity == 3;
    nb_node *w = affine ? y->in[1] : NULL, *b = affine ? y->in[2] : NULL;
    if (need[0] || (affine && need[1])) {
        int last = x->rank - 1;
        nb_node *xc = nb_sub(g, x, nb_mean_axis(g, x, last, true));
        nb_node *var = nb_mean_axis(g, nb_mul(g, xc, xc), last, true);
        nb_node *rs =
            nb_div(g, nbi_scalar_cached(g, x->dtype, 1.0),
                   nb_sqrt(g, nb_add(g, var, nbi_scalar_cached(g, x->dtype, y->attr[0].f))));
        nb_node *xhat = nb_mul(g, xc, rs);
        if (need[0]) {
            nb_node *gy = affine ? nb_mul(g, dy, w) : dy;
            nb_node *mg = nb_mean_axis(g, gy, last, true);
            nb_node *mgx = nb_mean_axis(g, nb_mul(g, gy, xhat), last, true);
            dx[0] = nb_mul(g, rs, nb_sub(g, nb_sub(g, gy, mg), nb_mul(g, xhat, mgx)));
        }
        if (affine && need[1]) {
            dx[1] = nbi_unbroadcast(g, nb_mul(g, dy, xhat), w);
        }
    }
    if (affine && need[2]) {
        dx[2] = nbi_unbroadcast(g, dy, b);
    }
}

const nbi_op nbi_op_layer_norm = {
    .name = "layer_norm",
    .symbol = "LN",
    .arity = 3,
    .attrs = { { "eps", NBI_ATTR_FLOAT, 1e-5 } },
    .n_attrs = 1,
    .build = layer_norm_build,
    .inputs = "x, weight, bias",
    .forward = layer_norm_forward,
    .grad = layer_norm_grad,
    .formula = "y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last axis "
               "(biased var)",
    .grad_formula = "x̂ = (x - mean) / sigma, g = dy * weight: dx = (g - mean(g) - x̂ mean(g x̂)) "
                    "/ sigma, dweight = Σ_rows dy x̂, dbias = Σ_rows dy",
};

const nbi_op nbi_op_layer_norm_plain = {
    .name = "layer_norm_plain",
    .symbol = "LN",
    .arity = 1,
    .attrs = { { "eps", NBI_ATTR_FLOAT, 1e-5 } },
    .n_attrs = 1,
    .build = layer_norm_build,
    .inputs = "x",
    .forward = layer_norm_forward,
    .grad = layer_norm_grad,
    .formula = "y = (x - mean(x)) / sqrt(var(x) + eps), over the last axis (biased var)",
    .grad_formula = "x̂ = (x - mean) / sigma: dx = (dy - mean(dy) - x̂ mean(dy x̂)) / sigma",
};
