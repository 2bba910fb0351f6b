/*
 * optim/rmsprop.c: RMSProp (Hinton, lecture 6e) as torch.optim.RMSprop documents it:
 *   d = g + wd p;  v = alpha v + (1 - alpha) d²;
 *   centered: m = alpha m + (1 - alpha) d, a = √(v - m²) + eps;  else a = √v + eps;
 *   momentum: b = mu b + d / a, p = p - lr b;  else p = p - lr d / a
 * State slots: v, then m when centered, then b when momentum > 0.
 */
#include "optim.h"
#include "../ops/kernel.h"

static int rmsprop_slots(const nb_optim_options *o)
{
    return 1 + (o->centered ? 1 : 0) + (o->momentum != 0 ? 1 : 0);
}

static void rmsprop_init(const nb_optim *opt, void *const *state, size_t n)
{
    (void)opt;
    (void)state;
    (void)n; /* zeros, as the slab starts */
}

NBI_TYPED(rmsprop_kernel,
          (const nb_optim_options *o, void *pv, const void *gv, void *vv, void *mv, void *bv,
           size_t n, double lr, double gscale),
          {
              T *p = pv, *v = vv, *m = mv, *b = bv;
              const T *g = gv;
              const T wd = (T)o->weight_decay, al = (T)o->alpha, eps = (T)o->eps;
              const T mu = (T)o->momentum, rate = (T)lr, k = (T)gscale;
              for (size_t i = 0; i < n; i++) {
                  T d = g[i] * k + wd * p[i];
                  v[i] = al * v[i] + ((T)1 - al) * d * d;
                  T a;
                  if (m) {
                      m[i] = al * m[i] + ((T)1 - al) * d;
                      a = sqrt(v[i] - m[i] * m[i]) + eps;
                  } else {
                      a = sqrt(v[i]) + eps;
                  }
                  if (b) {
                      b[i] = mu * b[i] + d / a;
                      p[i] -= rate * b[i];
                  } else {
                      p[i] -= rate * d / a;
                  }
              }
          })

static void rmsprop_update(const nb_optim *opt, void *p, const void *g, void *const *state,
                           size_t n, double lr, double gscale)
{
    int k = 1;
    void *m = opt->o.centered ? state[k++] : NULL;
    void *b = opt->o.momentum != 0 ? state[k++] : NULL;
    NBI_DISPATCH(opt->params[0], rmsprop_kernel, &opt->o, p, g, state[0], m, b, n, lr, gscale);
}

const nbi_optimizer nbi_optim_rmsprop = {
    .name = "rmsprop",
    .slots = rmsprop_slots,
    .init = rmsprop_init,
    .update = rmsprop_update,
};
