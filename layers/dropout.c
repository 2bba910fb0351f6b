/*
 * layers/dropout.c: dropout as a layer, torch.nn.Dropout(p): no parameters,
 * one nb_dropout node per application (each draws its own mask), in the
 * layer's scope so that DOT and depth over scopes show it.
 */
#include "layers.h"

#include <math.h>
#include <string.h>

nb_dropout_layer nb_dropout_layer_new(nb_graph *g, const char *name, double p)
{
    nb_dropout_layer l;
    memset(&l, 0, sizeof l);
    if (!nbi_layer_name(g, l.name, "dropout_layer", name, "")) {
        memset(&l, 0, sizeof l);
        return l;
    }
    /* refused here, where the mistake is, rather than at the first apply */
    if (!(p >= 0 && p < 1)) {
        nb_graph_fail(g, NB_ERR_ARG, "dropout_layer", 0, NULL, "%s: p must be in [0, 1) (got %g)",
                      name, p);
        memset(&l, 0, sizeof l);
        return l;
    }
    l.p = p;
    return l;
}

nb_node *nb_dropout_layer_apply(nb_graph *g, const nb_dropout_layer *layer, nb_node *x)
{
    if (!layer || !layer->name[0]) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "dropout_layer", 0, NULL,
                          "the layer is NULL or was not made by nb_dropout_layer_new");
        }
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_dropout(g, x, layer->p);
    nb_scope_pop(g);
    return y;
}
