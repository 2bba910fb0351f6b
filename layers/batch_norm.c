/*
 * layers/batch_norm.c: batch normalization over axis 1, as
 * torch.nn.BatchNorm1d/2d(features, eps=1e-5, momentum=0.1, affine): weight
 * ones, bias zeros, and the running statistics as state nodes (zeros, ones),
 * which every application in a training run updates.
 */
#include "layers.h"

#include <stdio.h>
#include <string.h>

nb_batch_norm_layer nb_batch_norm_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                            int64_t features, bool affine)
{
    nb_batch_norm_layer l;
    memset(&l, 0, sizeof l);
    if (!nbi_layer_norm_params(g, l.name, "batch_norm_layer", name, "running_mean", dtype, features,
                               affine, &l.weight, &l.bias)) {
        memset(&l, 0, sizeof l);
        return l;
    }
    char full[NB_LAYER_NAME_MAX + 16];
    snprintf(full, sizeof full, "%s_running_mean", l.name);
    l.running_mean = nb_node_set_name(g, nb_state(g, dtype, NB_SHAPE(features), 0), full);
    snprintf(full, sizeof full, "%s_running_var", l.name);
    l.running_var = nb_node_set_name(g, nb_state(g, dtype, NB_SHAPE(features), 1), full);
    if (nb_graph_status(g) != NB_OK) {
        memset(&l, 0, sizeof l);
        return l;
    }
    l.features = features;
    l.momentum = 0.1;
    l.eps = 1e-5;
    return l;
}

nb_node *nb_batch_norm_layer_apply(nb_graph *g, const nb_batch_norm_layer *layer, nb_node *x)
{
    if (!layer || layer->features < 1) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "batch_norm_layer", 0, NULL,
                          "the layer is NULL or was not made by nb_batch_norm_layer_new");
        }
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_batch_norm(g, x, layer->weight, layer->bias, layer->running_mean,
                               layer->running_var, layer->momentum, layer->eps);
    nb_scope_pop(g);
    return y;
}
