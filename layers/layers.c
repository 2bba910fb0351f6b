/*
 * layers/layers.c: the checks and naming every layer shares (layers/layers.h).
 */
#include "layers.h"

#include <stdio.h>
#include <string.h>

static bool is_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_')) {
            return false;
        }
    }
    return true;
}

bool nbi_layer_name(nb_graph *g, char *dst, const char *kind, const char *name,
                    const char *longest_suffix)
{
    if (nb_graph_status(g) != NB_OK) {
        return false;
    }
    if (!name || !is_name(name)) {
        nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                      "the layer name '%s' is not a name ([A-Za-z_][A-Za-z0-9_]*)",
                      name ? name : "(null)");
        return false;
    }
    size_t suffix = *longest_suffix ? 1 + strlen(longest_suffix) : 0;
    if (strlen(name) + suffix >= NB_LAYER_NAME_MAX) {
        if (suffix) {
            nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                          "the layer name '%.40s...' is too long: with '_%s' it must stay under "
                          "%d bytes",
                          name, longest_suffix, NB_LAYER_NAME_MAX);
        } else {
            nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                          "the layer name '%.40s...' is too long: it must stay under %d bytes",
                          name, NB_LAYER_NAME_MAX);
        }
        return false;
    }
    snprintf(dst, NB_LAYER_NAME_MAX, "%s", name);
    return true;
}

bool nbi_layer_dtype(nb_graph *g, const char *kind, const char *name, nb_dtype dtype)
{
    if (dtype == NB_DTYPE_F32 || dtype == NB_DTYPE_F64) {
        return true;
    }
    nb_graph_fail(g, NB_ERR_DTYPE, kind, 0, NULL, "%s: dtype %s is not supported; use f32 or f64",
                  name, nb_dtype_name(dtype));
    return false;
}

nb_node *nbi_layer_param(nb_graph *g, const char *layer, const char *suffix, nb_dtype dtype,
                         int rank, const int64_t *shape, nb_init init)
{
    char full[NB_LAYER_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s_%s", layer, suffix);
    return nb_node_set_name(g, nb_param(g, dtype, rank, shape, init), full);
}

bool nbi_layer_norm_params(nb_graph *g, char *dst, const char *kind, const char *name,
                           const char *longest_suffix, nb_dtype dtype, int64_t features,
                           bool affine, nb_node **weight, nb_node **bias)
{
    if (!nbi_layer_name(g, dst, kind, name, longest_suffix) ||
        !nbi_layer_dtype(g, kind, name, dtype)) {
        return false;
    }
    if (features < 1) {
        nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL, "%s: features must be at least 1 (got %lld)",
                      name, (long long)features);
        return false;
    }
    if (affine) {
        *weight = nbi_layer_param(g, dst, "weight", dtype, NB_SHAPE(features), nb_init_constant(1));
        *bias = nbi_layer_param(g, dst, "bias", dtype, NB_SHAPE(features), nb_init_constant(0));
    }
    return nb_graph_status(g) == NB_OK;
}
