/*
 * ops/reduce.c: sum and mean (over everything or one axis, keepdims), max over
 * an axis, and argmax_mask, the 0/1 tensor that routes max's gradient to the
 * first arg-max. Kernels see x as [outer, len, inner] with the reduced axis in
 * the middle: inner > 1 accumulates whole rows (vectorized along inner);
 * inner == 1 sums contiguous runs in eight lanes, block by block into double.
 */
#include "kernel.h"

#include <stdio.h>

static nb_node *reduce(nb_graph *g, int op, nb_node *x, int axis, bool all, bool keepdims)
{
    const char *name = nbi_ops[op]->name;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x)) {
        return NULL;
    }
    int a = NBI_AXIS_ALL, rank = 0;
    int64_t shape[NB_MAX_RANK];
    if (!all) {
        if (!nbi_check_axis(g, name, x, axis, &a)) {
            return NULL;
        }
        for (int i = 0; i < x->rank; i++) {
            if (i != a) {
                shape[rank++] = x->shape[i];
            } else if (keepdims) {
                shape[rank++] = 1;
            }
        }
    }
    nb_node *y = nbi_node_new(g, op, x->dtype, rank, shape, x, NULL);
    if (y) {
        y->attr[0].i = a;
        y->attr[1].i = keepdims;
    }
    return y;
}

/* outer/len/inner of y's reduction of x; everything reduces as one row. */
static void split(const nb_node *y, size_t *outer, size_t *len, size_t *inner)
{
    const nb_node *x = y->in[0];
    if ((int)y->attr[0].i == NBI_AXIS_ALL) {
        *outer = 1;
        *len = nbi_node_count(x);
        *inner = 1;
    } else {
        nbi_axis_split(x, (int)y->attr[0].i, outer, len, inner);
    }
}

/* ---- sum and mean ---- */

NBI_TYPED(sum_kernel,
          (const void *xv, void *yv, size_t outer, size_t len, size_t inner, double scale), {
              const T *x = xv;
              T *y = yv;
              if (inner == 1) {
                  for (size_t o = 0; o < outer; o++) {
                      const T *r = x + o * len;
                      double total = 0;
                      for (size_t b = 0; b < len; b += 4096) {
                          /* from the block's start: the form GCC vectorizes (optim/optim.c) */
                          const T *rb = r + b;
                          size_t m = len - b < 4096 ? len - b : 4096, k = 0;
                          T acc[8] = { 0 };
                          for (; k + 8 <= m; k += 8) {
                              for (int j = 0; j < 8; j++) {
                                  acc[j] += rb[k + j];
                              }
                          }
                          for (; k < m; k++) {
                              acc[0] += rb[k];
                          }
                          total += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                                            ((acc[4] + acc[5]) + (acc[6] + acc[7])));
                      }
                      y[o] = (T)(total * scale);
                  }
                  return;
              }
              for (size_t o = 0; o < outer; o++) {
                  T *yr = y + o * inner;
                  const T *xr = x + o * len * inner;
                  for (size_t i = 0; i < inner; i++) {
                      yr[i] = xr[i];
                  }
                  for (size_t k = 1; k < len; k++) {
                      for (size_t i = 0; i < inner; i++) {
                          yr[i] += xr[k * inner + i];
                      }
                  }
                  if (scale != 1) {
                      for (size_t i = 0; i < inner; i++) {
                          yr[i] *= (T)scale;
                      }
                  }
              }
          })

static nb_status sum_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    size_t outer, len, inner;
    split(y, &outer, &len, &inner);
    double scale = y->op == NBI_OP_MEAN ? 1.0 / (double)len : 1.0;
    NBI_DISPATCH(y, sum_kernel, y->in[0]->data, y->data, outer, len, inner, scale);
    return NB_OK;
}

static nb_node *spread(nb_graph *g, nb_node *y, nb_node *dy)
{
    nb_node *x = y->in[0];
    if ((int)y->attr[0].i == NBI_AXIS_ALL) {
        return nb_broadcast_to(g, dy, x->rank, x->shape);
    }
    return nbi_expand_reduced(g, dy, x, (int)y->attr[0].i, (bool)y->attr[1].i);
}

static void sum_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    dx[0] = spread(g, y, dy);
}

static void mean_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    size_t outer, len, inner;
    split(y, &outer, &len, &inner);
    nb_node *scaled = nbi_chain(g, dy, nbi_scalar_cached(g, y->dtype, 1.0 / (double)len));
    dx[0] = spread(g, y, scaled);
}

nb_node *nb_sum(nb_graph *g, nb_node *x)
{
    return reduce(g, NBI_OP_SUM, x, 0, true, false);
}

nb_node *nb_sum_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_SUM, x, axis, false, keepdims);
}

nb_node *nb_mean(nb_graph *g, nb_node *x)
{
    return reduce(g, NBI_OP_MEAN, x, 0, true, false);
}

nb_node *nb_mean_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_MEAN, x, axis, false, keepdims);
}

const nbi_op nbi_op_sum = {
    .name = "sum",
    .symbol = "Σ",
    .arity = 1,
    .forward = sum_forward,
    .grad = sum_grad,
    .attrs = { { "axis", NBI_ATTR_INT, NBI_AXIS_ALL }, { "keepdims", NBI_ATTR_BOOL } },
    .n_attrs = 2,
    .formula = "y = Σ x (over all elements, or along axis)",
    .grad_formula = "dx = broadcast_to(dy, shape(x))",
};

const nbi_op nbi_op_mean = {
    .name = "mean",
    .symbol = "mean",
    .arity = 1,
    .forward = sum_forward,
    .grad = mean_grad,
    .attrs = { { "axis", NBI_ATTR_INT, NBI_AXIS_ALL }, { "keepdims", NBI_ATTR_BOOL } },
    .n_attrs = 2,
    .formula = "y = (1/n) Σ x (n elements reduced)",
    .grad_formula = "dx = broadcast_to(dy / n, shape(x))",
};

/* ---- max over an axis ---- */

/* A NaN wins, so a NaN input shows in the output as in PyTorch. */
#define TAKES(v, m) ((v) > (m) || (v) != (v))

NBI_TYPED(max_kernel, (const void *xv, void *yv, size_t outer, size_t len, size_t inner), {
    const T *x = xv;
    T *y = yv;
    for (size_t o = 0; o < outer; o++) {
        T *yr = y + o * inner;
        const T *xr = x + o * len * inner;
        for (size_t i = 0; i < inner; i++) {
            yr[i] = xr[i];
        }
        for (size_t k = 1; k < len; k++) {
            for (size_t i = 0; i < inner; i++) {
                T v = xr[k * inner + i];
                yr[i] = TAKES(v, yr[i]) && yr[i] == yr[i] ? v : yr[i];
            }
        }
    }
})

static nb_status max_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    size_t outer, len, inner;
    split(y, &outer, &len, &inner);
    NBI_DISPATCH(y, max_kernel, y->in[0]->data, y->data, outer, len, inner);
    return NB_OK;
}

static void max_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    nb_node *x = y->in[0];
    dx[0] = nb_mul(g, spread(g, y, dy), nb_argmax_mask(g, x, (int)y->attr[0].i));
}

nb_node *nb_max_axis(nb_graph *g, nb_node *x, int axis, bool keepdims)
{
    return reduce(g, NBI_OP_MAX, x, axis, false, keepdims);
}

const nbi_op nbi_op_max = {
    .name = "max",
    .symbol = "max",
    .arity = 1,
    .forward = max_forward,
    .grad = max_grad,
    .attrs = { { "axis", NBI_ATTR_INT, .required = true }, { "keepdims", NBI_ATTR_BOOL } },
    .n_attrs = 2,
    .formula = "y = max x along axis",
    .grad_formula = "dx = broadcast(dy) * argmax_mask(x, axis)   (first arg-max on ties)",
};

/* ---- argmax_mask ---- */

NBI_TYPED(argmax_kernel, (const void *xv, void *yv, size_t outer, size_t len, size_t inner), {
    const T *x = xv;
    T *y = yv;
    for (size_t o = 0; o < outer; o++) {
        const T *xr = x + o * len * inner;
        T *yr = y + o * len * inner;
        for (size_t i = 0; i < inner; i++) {
            size_t best = 0;
            for (size_t k = 1; k < len; k++) {
                T v = xr[k * inner + i], m = xr[best * inner + i];
                if (TAKES(v, m) && m == m) {
                    best = k;
                }
            }
            for (size_t k = 0; k < len; k++) {
                yr[k * inner + i] = (T)(k == best);
            }
        }
    }
})

static nb_status argmax_mask_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    size_t outer, len, inner;
    nbi_axis_split(y, (int)y->attr[0].i, &outer, &len, &inner);
    NBI_DISPATCH(y, argmax_kernel, y->in[0]->data, y->data, outer, len, inner);
    return NB_OK;
}

nb_node *nb_argmax_mask(nb_graph *g, nb_node *x, int axis)
{
    if (!nbi_check_inputs(g, "argmax_mask", 1, &x) || !nbi_check_float(g, "argmax_mask", 1, &x)) {
        return NULL;
    }
    int a;
    if (!nbi_check_axis(g, "argmax_mask", x, axis, &a)) {
        return NULL;
    }
    nb_node *y = nbi_node_new(g, NBI_OP_ARGMAX_MASK, x->dtype, x->rank, x->shape, x, NULL);
    if (y) {
        y->attr[0].i = a;
    }
    return y;
}

const nbi_op nbi_op_argmax_mask = {
    .name = "argmax_mask",
    .symbol = "argmax",
    .arity = 1,
    .forward = argmax_mask_forward,
    .attrs = { { "axis", NBI_ATTR_INT, .required = true } },
    .n_attrs = 1,
    .formula = "y = 1 at the first maximum along axis, 0 elsewhere",
    .grad_formula = "dx = 0",
};
