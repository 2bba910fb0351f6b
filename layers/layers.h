/*
 * layers/layers.h: what the layer files share: the name check every layer's
 * _new makes and the naming of its parameters. Layers see only the public
 * header; nothing here reaches past it.
 */
#ifndef NABLA_LAYERS_H
#define NABLA_LAYERS_H

#include "nabla.h"

#include <stdbool.h>

/*
 * Copies name into dst (NB_LAYER_NAME_MAX bytes) when it is a model-language
 * name short enough to take the layer's longest parameter suffix; otherwise
 * records NB_ERR_ARG on g ("linear: ...") and returns false. A layer without
 * parameters passes "" as longest_suffix. Returns false at once when g is
 * already in error.
 */
bool nbi_layer_name(nb_graph *g, char *dst, const char *kind, const char *name,
                    const char *longest_suffix);

/*
 * Returns true for f32 and f64; otherwise records NB_ERR_DTYPE on g
 * ("linear: fc: dtype i32 is not supported; use f32 or f64") and returns false.
 * Layers check it themselves so that one without parameters refuses it too.
 */
bool nbi_layer_dtype(nb_graph *g, const char *kind, const char *name, nb_dtype dtype);

/*
 * The start of a normalization layer's _new (layer_norm_layer, batch_norm_layer):
 * checks name, dtype and features (>= 1) as above, then, when affine, makes
 * "<name>_weight" (ones) and "<name>_bias" (zeros) of [features], as
 * PyTorch's modules start. Returns false after recording an error.
 */
bool nbi_layer_norm_params(nb_graph *g, char *dst, const char *kind, const char *name,
                           const char *longest_suffix, nb_dtype dtype, int64_t features,
                           bool affine, nb_node **weight, nb_node **bias);

/* Makes a parameter named "<layer>_<suffix>" (NULL after an error, sticky on g). */
nb_node *nbi_layer_param(nb_graph *g, const char *layer, const char *suffix, nb_dtype dtype,
                         int rank, const int64_t *shape, nb_init init);

#endif /* NABLA_LAYERS_H */
