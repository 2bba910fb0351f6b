/*
 * fuzz/checkpoint_model.h: the fixed models the checkpoint fuzzer loads into,
 * shared with fuzz/make_seeds.c, which saves the seed checkpoints from them.
 *
 * Graph g (f64): parameters w[3,2], b[2], s (a scalar) and t[1,1,2,2] (rank 4)
 * of the loss sum(x @ w + b) * s + sum(t), with three optimizers over all four:
 * SGD without momentum (no state), Adam (2 state tensors) and centered RMSprop
 * with momentum (3, the most any optimizer keeps).
 * Graph g32: an f32 parameter w[2,2] and an i32 input labels[3], no optimizer.
 */
#ifndef NABLA_FUZZ_CHECKPOINT_MODEL_H
#define NABLA_FUZZ_CHECKPOINT_MODEL_H

#include <nabla.h>

#include <stdio.h>
#include <string.h>

#define NBF_CKPT_PARAMS 4
#define NBF_CKPT_OPTIMS 3

typedef struct nbf_ckpt_model {
    nb_graph *g;
    nb_node *x, *loss;
    nb_node *params[NBF_CKPT_PARAMS]; /* w, b, s, t */
    nb_node *grads[NBF_CKPT_PARAMS];
    nb_optim *opts[NBF_CKPT_OPTIMS]; /* sgd, adam, rmsprop */
    nb_graph *g32;
    nb_node *p32[2]; /* w (f32 param), labels (i32 input) */
} nbf_ckpt_model;

/* Builds the models; false (with a message on stderr) if the library refuses. */
static inline bool nbf_ckpt_build(nbf_ckpt_model *m)
{
    memset(m, 0, sizeof *m);
    nb_graph *g = m->g = nb_graph_new();
    if (!g) {
        return false;
    }
    m->x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 3)), "x");
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3, 2), nb_init_normal(0, 1));
    nb_node *b = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(0.5));
    nb_node *s = nb_param(g, NB_DTYPE_F64, 0, NULL, nb_init_constant(2));
    nb_node *t = nb_param(g, NB_DTYPE_F64, NB_SHAPE(1, 1, 2, 2), nb_init_uniform(-1, 1));
    nb_node_set_name(g, w, "w");
    nb_node_set_name(g, b, "b");
    nb_node_set_name(g, s, "s");
    nb_node_set_name(g, t, "t");
    m->loss = nb_add(g, nb_mul(g, nb_sum(g, nb_add(g, nb_matmul(g, m->x, w), b)), s), nb_sum(g, t));
    m->params[0] = w;
    m->params[1] = b;
    m->params[2] = s;
    m->params[3] = t;
    nb_grad(g, m->loss, NBF_CKPT_PARAMS, m->params, m->grads);
    nb_optim_options o[NBF_CKPT_OPTIMS] = { nb_optim_defaults(NB_OPTIM_SGD),
                                            nb_optim_defaults(NB_OPTIM_ADAM),
                                            nb_optim_defaults(NB_OPTIM_RMSPROP) };
    o[2].centered = true;
    o[2].momentum = 0.9;
    for (int k = 0; k < NBF_CKPT_OPTIMS; k++) {
        m->opts[k] = nb_optim_new(g, m->loss, NBF_CKPT_PARAMS, m->params, m->grads, &o[k]);
    }
    nb_graph *h = m->g32 = nb_graph_new();
    if (!h) {
        return false;
    }
    m->p32[0] =
        nb_node_set_name(h, nb_param(h, NB_DTYPE_F32, NB_SHAPE(2, 2), nb_init_uniform(-1, 1)), "w");
    m->p32[1] = nb_node_set_name(h, nb_input(h, NB_DTYPE_I32, NB_SHAPE(3)), "labels");
    if (nb_graph_status(g) != NB_OK || nb_graph_status(h) != NB_OK) {
        fprintf(stderr, "checkpoint model: %s%s\n", nb_graph_error(g), nb_graph_error(h));
        return false;
    }
    return true;
}

static inline void nbf_ckpt_free(nbf_ckpt_model *m)
{
    for (int k = 0; k < NBF_CKPT_OPTIMS; k++) {
        nb_optim_free(m->opts[k]);
    }
    nb_graph_free(m->g);
    nb_graph_free(m->g32);
    memset(m, 0, sizeof *m);
}

#endif /* NABLA_FUZZ_CHECKPOINT_MODEL_H */
