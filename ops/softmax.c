/*
 * ops/softmax.c: softmax and log_softmax along an axis, stable: the maximum is
 * subtracted before exponentiating, so no exponent is positive, and before
 * anything else, so large logits keep every digit of log Σ e^(x - max).
 */
#include "kernel.h"

#include <stdio.h>

/* One pass per (outer, inner) line with stride inner; inner == 1 is contiguous. */
NBI_TYPED(softmax_kernel,
          (const void *xv, void *yv, size_t outer, size_t len, size_t inner, bool logs), {
              const T *x = xv;
              T *y = yv;
              for (size_t o = 0; o < outer; o++) {
                  for (size_t i = 0; i < inner; i++) {
                      const T *xl = x + o * len * inner + i;
                      T *yl = y + o * len * inner + i;
                      T m = xl[0];
                      for (size_t k = 1; k < len; k++) {
                          m = xl[k * inner] > m ? xl[k * inner] : m;
                      }
                      T s = 0;
                      for (size_t k = 0; k < len; k++) {
                          T e = NBI_EXP(xl[k * inner] - m);
                          s += e;
                          if (!logs) {
                              yl[k * inner] = e;
                          }
                      }
                      if (logs) {
                          /* (x - m) - log s, not x - (m + log s): m + log s would round
                             log s to the precision of m, e.g. to 1e-4 at m = 1000 in f32 */
                          T ls = log(s);
                          for (size_t k = 0; k < len; k++) {
                              yl[k * inner] = (xl[k * inner] - m) - ls;
                          }
                      } else {
                          T r = (T)1 / s;
                          for (size_t k = 0; k < len; k++) {
                              yl[k * inner] *= r;
                          }
                      }
                  }
              }
          })

static nb_status softmax_forward(nb_graph *g, nb_node *y)
{
    (void)g;
    size_t outer, len, inner;
    nbi_axis_split(y, (int)y->attr[0].i, &outer, &len, &inner);
    NBI_DISPATCH(y, softmax_kernel, y->in[0]->data, y->data, outer, len, inner,
                 y->op == NBI_OP_LOG_SOFTMAX);
    return NB_OK;
}

static nb_node *build(nb_graph *g, int op, nb_node *x, int axis)
{
    const char *name = nbi_ops[op]->name;
    int a;
    if (!nbi_check_inputs(g, name, 1, &x) || !nbi_check_float(g, name, 1, &x) ||
        !nbi_check_axis(g, name, x, axis, &a)) {
        return NULL;
    }
    nb_node *y = nbi_node_new(g, op, x->dtype, x->rank, x->shape, x, NULL);
    if (y) {
        y->attr[0].i = a;
    }
    return y;
}

nb_node *nb_softmax(nb_graph *g, nb_node *x, int axis)
{
    return build(g, NBI_OP_SOFTMAX, x, axis);
}

nb_node *nb_log_softmax(nb_graph *g, nb_node *x, int axis)
{
    return build(g, NBI_OP_LOG_SOFTMAX, x, axis);
}

static void softmax_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    int axis = (int)y->attr[0].i;
    /* dx = y * (dy - Σ_axis dy * y) */
    nb_node *dot = nb_sum_axis(g, nbi_chain(g, dy, y), axis, true);
    dx[0] = nb_mul(g, y, nb_sub(g, dy, dot));
}

static void log_softmax_grad(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx)
{
    (void)need;
    int axis = (int)y->attr[0].i;
    /* dx = dy - softmax(x) * Σ_axis dy, with softmax(x) = e^y */
    nb_node *total = nb_sum_axis(g, dy, axis, true);
    dx[0] = nb_sub(g, dy, nb_mul(g, nb_exp(g, y), total));
}

const nbi_op nbi_op_softmax = {
    .name = "softmax",
    .symbol = "softmax",
    .arity = 1,
    .forward = softmax_forward,
    .grad = softmax_grad,
    .attrs = { { "axis", NBI_ATTR_INT, .required = true } },
    .n_attrs = 1,
    .formula = "y = e^(x - max x) / Σ_axis e^(x - max x)",
    .grad_formula = "dx = y * (dy - Σ_axis dy * y)",
};

const nbi_op nbi_op_log_softmax = {
    .name = "log_softmax",
    .symbol = "logsoftmax",
    .arity = 1,
    .forward = softmax_forward,
    .grad = log_softmax_grad,
    .attrs = { { "axis", NBI_ATTR_INT, .required = true } },
    .n_attrs = 1,
    .formula = "y = x - max x - ln Σ_axis e^(x - max x)",
    .grad_formula = "dx = dy - e^y * Σ_axis dy",
};
