/*
 * optim/optim.h: the optimizer object and the record each optimizer file
 * defines. Shared by optim/ and the checkpoint code (which saves the state).
 */
#ifndef NABLA_OPTIM_H
#define NABLA_OPTIM_H

#include "../graph/internal.h"

#define NBI_MAX_SLOTS 3

/* What one optimizer file defines: its state and its in-place update. */
typedef struct nbi_optimizer {
    const char *name;
    /* Number of state tensors per parameter for these options. */
    int (*slots)(const nb_optim_options *o);
    /* Sets the state of a fresh optimizer (zeros unless the rule says otherwise). */
    void (*init)(const nb_optim *opt, void *const *state, size_t n);
    /*
     * Updates n elements of one parameter p in place from its gradient g times
     * gscale (the clipping factor), with learning rate lr, at step opt->t.
     */
    void (*update)(const nb_optim *opt, void *p, const void *g, void *const *state, size_t n,
                   double lr, double gscale);
} nbi_optimizer;

extern const nbi_optimizer nbi_optim_sgd, nbi_optim_adagrad, nbi_optim_rmsprop, nbi_optim_adam,
    nbi_optim_adamw;

struct nb_optim {
    nb_graph *g;
    nb_optim_options o;
    const nbi_optimizer *rule;
    size_t n;
    nb_node **params;
    nb_node **outs;  /* the loss (if any) then the gradients: one cached plan */
    nb_node **other; /* room for nb_optim_step_with's loss and gradients */
    size_t n_outs;
    nb_node *loss;
    int n_slots;
    size_t total;   /* elements over all parameters */
    size_t *offset; /* first element of each parameter in the state slab */
    void *state;    /* n_slots slabs of total elements, parameter by parameter */
    size_t state_bytes;
    double *blocks; /* the gradient norm's block sums (optim/optim.c, NBI_NORM_BLOCK) */
    size_t n_blocks;
    int64_t t; /* steps taken */
    double last_loss, last_norm;
    double first_loss; /* of the first step with a loss: the yardstick of nb_optim_diverged */
    struct nbi_dist_step *dist; /* the distributed step (dist/dist.c), or NULL */
    const void **gdata;         /* the step's gradient values, one per parameter */
    double share;               /* weight of the next runs' gradients (nb_optim_set_share) */
    /* micro-batches (nb_optim_accumulate): their weighted sum, in dist's slab when distributed */
    void *acc;            /* total elements, allocated by the first call that needs it */
    int64_t acc_n;        /* runs summed since the last step */
    nb_status acc_status; /* of a failed accumulation, which the next step reports */
    char acc_msg[NBI_MSG_MAX];
};

/*
 * dst = src * w (add: dst += src * w) over n elements of dtype t, src NULL
 * counting as zeros; false when a result is NaN or infinite. The one place
 * gradients are weighted, on one process and on several, so both round alike.
 */
bool nbi_optim_weigh(nb_dtype t, void *dst, const void *src, size_t n, double w, bool add);

/* State slot k of parameter i. */
static inline void *nbi_optim_slot(const nb_optim *opt, size_t i, int k)
{
    size_t es = nbi_dtype_size(opt->params[0]->dtype);
    return (unsigned char *)opt->state + ((size_t)k * opt->total + opt->offset[i]) * es;
}

#endif /* NABLA_OPTIM_H */
