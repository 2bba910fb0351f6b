/*
 * layers/embedding.c: a lookup table, torch.nn.Embedding(num, dim): the
 * weight [num, dim] drawn from N(0, 1), rows looked up by i32 ids with one
 * nb_embedding node per application.
 */
#include "layers.h"

#include <string.h>

nb_embedding_layer nb_embedding_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                          int64_t num, int64_t dim)
{
    nb_embedding_layer l;
    memset(&l, 0, sizeof l);
    if (!nbi_layer_name(g, l.name, "embedding_layer", name, "weight") ||
        !nbi_layer_dtype(g, "embedding_layer", name, dtype)) {
        memset(&l, 0, sizeof l);
        return l;
    }
    if (num < 1 || dim < 1) {
        nb_graph_fail(g, NB_ERR_ARG, "embedding_layer", 0, NULL,
                      "%s: num and dim must be at least 1 (got %lld and %lld)", name,
                      (long long)num, (long long)dim);
        memset(&l, 0, sizeof l);
        return l;
    }
    l.weight =
        nbi_layer_param(g, l.name, "weight", dtype, NB_SHAPE(num, dim), nb_init_normal(0, 1));
    if (!l.weight) {
        memset(&l, 0, sizeof l);
    }
    return l;
}

nb_node *nb_embedding_layer_apply(nb_graph *g, const nb_embedding_layer *layer, nb_node *ids)
{
    if (!layer || !layer->weight) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "embedding_layer", 0, NULL,
                          "the layer is NULL or was not made by nb_embedding_layer_new");
        }
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_embedding(g, ids, layer->weight);
    nb_scope_pop(g);
    return y;
}
