/*
 * optim/adagrad.c: AdaGrad (Duchi, Hazan and Singer 2011) as torch.optim.Adagrad
 * documents it:
 *   clr = lr / (1 + (t - 1) lr_decay);  d = g + wd p;
 *   s = s + d²;  p = p - clr d / (√s + eps)
 */
#include "optim.h"
#include "../ops/kernel.h"

static int adagrad_slots(const nb_optim_options *o)
{
    (void)o;
    return 1;
}

NBI_TYPED(adagrad_fill, (void *sv, size_t n, double v), {
    T *s = sv;
    for (size_t i = 0; i < n; i++) {
        s[i] = (T)v;
    }
})

static void adagrad_init(const nb_optim *opt, void *const *state, size_t n)
{
    NBI_DISPATCH(opt->params[0], adagrad_fill, state[0], n, opt->o.initial_accumulator);
}

NBI_TYPED(adagrad_kernel,
          (const nb_optim_options *o, void *pv, const void *gv, void *sv, size_t n, double clr,
           double gscale),
          {
              T *p = pv, *s = sv;
              const T *g = gv;
              const T wd = (T)o->weight_decay, eps = (T)o->eps, rate = (T)clr, k = (T)gscale;
              for (size_t i = 0; i < n; i++) {
                  T d = g[i] * k + wd * p[i];
                  s[i] += d * d;
                  p[i] -= rate * d / (sqrt(s[i]) + eps);
              }
          })

static void adagrad_update(const nb_optim *opt, void *p, const void *g, void *const *state,
                           size_t n, double lr, double gscale)
{
    double clr = lr / (1 + (double)(opt->t - 1) * opt->o.lr_decay);
    NBI_DISPATCH(opt->params[0], adagrad_kernel, &opt->o, p, g, state[0], n, clr, gscale);
}

const nbi_optimizer nbi_optim_adagrad = {
    .name = "adagrad",
    .slots = adagrad_slots,
    .init = adagrad_init,
    .update = adagrad_update,
};
