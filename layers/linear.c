/*
 * layers/linear.c: the fully connected layer, torch.nn.Linear: y = x @ Wᵀ + b
 * with W in PyTorch's [out, in] layout, passed to the product transposed.
 */
#include "layers.h"

#include <math.h>
#include <string.h>

nb_linear nb_linear_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t in, int64_t out,
                        bool bias)
{
    nb_linear l;
    memset(&l, 0, sizeof l);
    if (!nbi_layer_name(g, l.name, "linear", name, "weight") ||
        !nbi_layer_dtype(g, "linear", name, dtype)) {
        return l;
    }
    if (in < 1 || out < 1) {
        nb_graph_fail(g, NB_ERR_ARG, "linear", 0, NULL,
                      "%s: in and out features must be at least 1 (got %lld and %lld)", name,
                      (long long)in, (long long)out);
        return l;
    }
    /* PyTorch: kaiming_uniform(a=sqrt(5)) for the weight is U(±1/sqrt(in)), as is the bias */
    double bound = 1 / sqrt((double)in);
    l.weight = nbi_layer_param(g, l.name, "weight", dtype, NB_SHAPE(out, in),
                               nb_init_uniform(-bound, bound));
    if (bias) {
        l.bias = nbi_layer_param(g, l.name, "bias", dtype, NB_SHAPE(out),
                                 nb_init_uniform(-bound, bound));
    }
    return l;
}

nb_node *nb_linear_apply(nb_graph *g, const nb_linear *layer, nb_node *x)
{
    if (!layer || !layer->weight) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "linear", 0, NULL,
                          "the layer is NULL or was not made by nb_linear_new");
        }
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_matmul_ex(g, x, layer->weight, NB_TRANS_B);
    if (layer->bias) {
        y = nb_add(g, y, layer->bias);
    }
    nb_scope_pop(g);
    return y;
}
