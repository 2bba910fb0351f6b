/*
 * layers/layer_norm.c: layer normalization over the last axis, as
 * torch.nn.LayerNorm(features, eps=1e-5, elementwise_affine): weight ones,
 * bias zeros, one nb_layer_norm node per application.
 */
#include "layers.h"

#include <string.h>

nb_layer_norm_layer nb_layer_norm_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                            int64_t features, bool affine)
{
    nb_layer_norm_layer l;
    memset(&l, 0, sizeof l);
    if (!nbi_layer_norm_params(g, l.name, "layer_norm_layer", name, "weight", dtype, features,
                               affine, &l.weight, &l.bias)) {
        memset(&l, 0, sizeof l);
        return l;
    }
    l.features = features;
    l.eps = 1e-5;
    return l;
}

nb_node *nb_layer_norm_layer_apply(nb_graph *g, const nb_layer_norm_layer *layer, nb_node *x)
{
    if (!layer || layer->features < 1) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "layer_norm_layer", 0, NULL,
                          "the layer is NULL or was not made by nb_layer_norm_layer_new");
        }
        return NULL;
    }
    /* the op checks the last axis against weight and bias; without them only the layer knows D */
    int rank = x ? nb_node_rank(x) : 0;
    if (rank > 0 && nb_node_shape(x)[rank - 1] != layer->features) {
        nb_graph_fail(g, NB_ERR_SHAPE, "layer_norm_layer", 1, &x,
                      "%s: the last axis has size %lld, but the layer normalizes %lld features",
                      layer->name, (long long)nb_node_shape(x)[rank - 1],
                      (long long)layer->features);
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_layer_norm(g, x, layer->weight, layer->bias, layer->eps);
    nb_scope_pop(g);
    return y;
}
