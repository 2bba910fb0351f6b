/*
 * optim/adam.c: Adam (Kingma and Ba 2015) and AdamW (Loshchilov and Hutter
 * 2019), as torch.optim.Adam and AdamW document them:
 *   AdamW: p = p (1 - lr wd);  Adam: d = g + wd p (else d = g)
 *   m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d²
 *   p = p - (lr / (1 - b1^t)) m / (√v / √(1 - b2^t) + eps)
 * State slots: m, v.
 */
#include "optim.h"
#include "../ops/kernel.h"

#include <math.h>

static int adam_slots(const nb_optim_options *o)
{
    (void)o;
    return 2;
}

static void adam_init(const nb_optim *opt, void *const *state, size_t n)
{
    (void)opt;
    (void)state;
    (void)n; /* zeros */
}

NBI_TYPED(adam_kernel,
          (const nb_optim_options *o, void *pv, const void *gv, void *mv, void *vv, size_t n,
           double step, double inv_sqrt_bc2, double decay, double l2, double gscale),
          {
              T *p = pv, *m = mv, *v = vv;
              const T *g = gv;
              const T b1 = (T)o->beta1, b2 = (T)o->beta2, eps = (T)o->eps;
              const T st = (T)step, ib = (T)inv_sqrt_bc2, keep = (T)(1 - decay), wd = (T)l2;
              const T k = (T)gscale;
              for (size_t i = 0; i < n; i++) {
                  p[i] *= keep;
                  T d = g[i] * k + wd * p[i];
                  m[i] = b1 * m[i] + ((T)1 - b1) * d;
                  v[i] = b2 * v[i] + ((T)1 - b2) * d * d;
                  p[i] -= st * m[i] / (sqrt(v[i]) * ib + eps);
              }
          })

static void adam_common(const nb_optim *opt, void *p, const void *g, void *const *state, size_t n,
                        double lr, double gscale, bool decoupled)
{
    double t = (double)opt->t;
    double bc1 = 1 - pow(opt->o.beta1, t), bc2 = 1 - pow(opt->o.beta2, t);
    double decay = decoupled ? lr * opt->o.weight_decay : 0;
    double l2 = decoupled ? 0 : opt->o.weight_decay;
    NBI_DISPATCH(opt->params[0], adam_kernel, &opt->o, p, g, state[0], state[1], n, lr / bc1,
                 1 / sqrt(bc2), decay, l2, gscale);
}

static void adam_update(const nb_optim *opt, void *p, const void *g, void *const *state, size_t n,
                        double lr, double gscale)
{
    adam_common(opt, p, g, state, n, lr, gscale, false);
}

static void adamw_update(const nb_optim *opt, void *p, const void *g, void *const *state, size_t n,
                         double lr, double gscale)
{
    adam_common(opt, p, g, state, n, lr, gscale, true);
}

const nbi_optimizer nbi_optim_adam = {
    .name = "adam",
    .slots = adam_slots,
    .init = adam_init,
    .update = adam_update,
};

const nbi_optimizer nbi_optim_adamw = {
    .name = "adamw",
    .slots = adam_slots,
    .init = adam_init,
    .update = adamw_update,
};
