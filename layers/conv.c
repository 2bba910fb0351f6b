/*
 * layers/conv.c: convolution layers, torch.nn.Conv2d and torch.nn.Conv1d:
 * weight [out, in/groups, kh, kw] (or [out, in/groups, k]) and bias [out]
 * drawn as PyTorch draws them, applied with nb_conv2d or nb_conv1d in the
 * layer's scope with the settings the layer holds.
 */
#include "layers.h"

#include <math.h>
#include <string.h>

/*
 * Checks the sizes of a convolution layer (kind names it in messages) and
 * makes its parameters of rank 2 + nsp, kernel k[0..nsp-1]. PyTorch's
 * default: kaiming_uniform(a=sqrt(5)) for the weight, which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups * kernel size,
 * and the same bound for the bias.
 */
static bool conv_params(nb_graph *g, const char *kind, const char *name, char *dst, nb_dtype dtype,
                        int64_t in, int64_t out, int nsp, const int *k, const nb_conv_opts *opts,
                        bool bias, nb_node **weight, nb_node **b)
{
    if (!nbi_layer_name(g, dst, kind, name, "weight") || !nbi_layer_dtype(g, kind, name, dtype)) {
        return false;
    }
    if (in < 1 || out < 1) {
        nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                      "%s: in and out channels must be at least 1 (got %lld and %lld)", name,
                      (long long)in, (long long)out);
        return false;
    }
    for (int d = 0; d < nsp; d++) {
        if (k[d] < 1) {
            if (nsp == 1) {
                nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                              "%s: the kernel size must be at least 1 (got %d)", name, k[0]);
            } else {
                nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                              "%s: the kernel size must be at least 1 (got %d x %d)", name, k[0],
                              k[1]);
            }
            return false;
        }
    }
    int64_t groups = opts && opts->groups ? opts->groups : 1;
    if (groups < 1 || in % groups != 0 || out % groups != 0) {
        nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                      "%s: groups %lld must be positive and divide in (%lld) and out (%lld) "
                      "channels",
                      name, (long long)groups, (long long)in, (long long)out);
        return false;
    }
    int64_t shape[4] = { out, in / groups, k[0], nsp == 2 ? k[1] : 0 };
    double fan_in = (double)(in / groups) * k[0] * (nsp == 2 ? k[1] : 1);
    double bound = 1 / sqrt(fan_in);
    *weight =
        nbi_layer_param(g, dst, "weight", dtype, 2 + nsp, shape, nb_init_uniform(-bound, bound));
    if (bias) {
        *b = nbi_layer_param(g, dst, "bias", dtype, 1, &out, nb_init_uniform(-bound, bound));
    }
    return nb_graph_status(g) == NB_OK;
}

nb_conv2d_layer nb_conv2d_layer_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t in,
                                    int64_t out, int kh, int kw, const nb_conv_opts *opts,
                                    bool bias)
{
    nb_conv2d_layer l;
    memset(&l, 0, sizeof l);
    if (!conv_params(g, "conv2d_layer", name, l.name, dtype, in, out, 2, (const int[]){ kh, kw },
                     opts, bias, &l.weight, &l.bias)) {
        memset(&l, 0, sizeof l);
        return l;
    }
    if (opts) {
        l.opts = *opts;
    }
    return l;
}

nb_node *nb_conv2d_layer_apply(nb_graph *g, const nb_conv2d_layer *layer, nb_node *x)
{
    if (!layer || !layer->weight) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "conv2d_layer", 0, NULL,
                          "the layer is NULL or was not made by nb_conv2d_layer_new");
        }
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_conv2d(g, x, layer->weight, layer->bias, &layer->opts);
    nb_scope_pop(g);
    return y;
}

nb_conv1d_layer nb_conv1d_layer_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t in,
                                    int64_t out, int k, const nb_conv_opts *opts, bool bias)
{
    nb_conv1d_layer l;
    memset(&l, 0, sizeof l);
    if (!conv_params(g, "conv1d_layer", name, l.name, dtype, in, out, 1, &k, opts, bias, &l.weight,
                     &l.bias)) {
        memset(&l, 0, sizeof l);
        return l;
    }
    if (opts) {
        l.opts = *opts;
    }
    return l;
}

nb_node *nb_conv1d_layer_apply(nb_graph *g, const nb_conv1d_layer *layer, nb_node *x)
{
    if (!layer || !layer->weight) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "conv1d_layer", 0, NULL,
                          "the layer is NULL or was not made by nb_conv1d_layer_new");
        }
        return NULL;
    }
    nb_scope_push(g, layer->name);
    nb_node *y = nb_conv1d(g, x, layer->weight, layer->bias, &layer->opts);
    nb_scope_pop(g);
    return y;
}
