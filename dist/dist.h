/*
 * dist/dist.h: what the optimizer asks of the distributed module
 * (dist/dist.c): its per-optimizer step state and the step itself.
 */
#ifndef NABLA_DIST_H
#define NABLA_DIST_H

#include "../graph/internal.h"

typedef struct nbi_dist_step nbi_dist_step;

/* Makes opt->dist when opt->o.distributed and the job has several processes. */
nb_status nbi_dist_step_new(nb_optim *opt);

/* Releases opt->dist (NULL allowed). */
void nbi_dist_step_free(nb_optim *opt);

/*
 * Runs outs (the loss and grads of one step) and sums the weighted gradients
 * over the processes, overlapping the run; every process returns the same
 * status, and on NB_OK nbi_dist_grad(opt, i) holds the sum for parameter i.
 */
nb_status nbi_dist_run(nb_optim *opt, nb_node *const *outs, size_t n_outs, nb_node *const *grads);

/* The summed gradient of parameter i after nbi_dist_run. */
void *nbi_dist_grad(const nb_optim *opt, size_t i);

/* Seconds of the last step's run (with the all-reduces started in it) and of the wait after. */
void nbi_dist_times(const nb_optim *opt, double *run, double *wait);

#endif /* NABLA_DIST_H */
