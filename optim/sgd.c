/*
 * optim/sgd.c: stochastic gradient descent with momentum, dampening, Nesterov
 * momentum and L2 weight decay, as torch.optim.SGD documents it:
 *   d = g + wd p;  b = d (first step) or mu b + (1 - tau) d;
 *   d = d + mu b (Nesterov) or b;  p = p - lr d
 */
#include "optim.h"
#include "../ops/kernel.h"

static int sgd_slots(const nb_optim_options *o)
{
    return o->momentum != 0 ? 1 : 0;
}

static void sgd_init(const nb_optim *opt, void *const *state, size_t n)
{
    (void)opt;
    (void)state;
    (void)n; /* the momentum buffer starts as the first gradient */
}

NBI_TYPED(sgd_kernel,
          (const nb_optim_options *o, void *pv, const void *gv, void *bv, size_t n, double lr,
           double gscale, bool first),
          {
              T *p = pv, *b = bv;
              const T *g = gv;
              const T wd = (T)o->weight_decay, mu = (T)o->momentum, damp = (T)(1 - o->dampening);
              const T s = (T)gscale, rate = (T)lr;
              for (size_t i = 0; i < n; i++) {
                  T d = g[i] * s + wd * p[i];
                  if (b) {
                      b[i] = first ? d : mu * b[i] + damp * d;
                      d = o->nesterov ? d + mu * b[i] : b[i];
                  }
                  p[i] -= rate * d;
              }
          })

static void sgd_update(const nb_optim *opt, void *p, const void *g, void *const *state, size_t n,
                       double lr, double gscale)
{
    void *b = opt->n_slots ? state[0] : NULL;
    NBI_DISPATCH(opt->params[0], sgd_kernel, &opt->o, p, g, b, n, lr, gscale, opt->t == 1);
}

const nbi_optimizer nbi_optim_sgd = {
    .name = "sgd",
    .slots = sgd_slots,
    .init = sgd_init,
    .update = sgd_update,
};
