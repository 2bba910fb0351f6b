/*
 * io/io.h: the readers' in-memory entry points. The public file readers
 * (nb_dataset_read_idx, nb_dataset_read_csv, nb_checkpoint_load) read a file
 * and call these, so fuzzers and tests can feed bytes without files. name
 * stands where the file's path would be in messages. Never installed.
 */
#ifndef NABLA_IO_H
#define NABLA_IO_H

#include "../graph/internal.h"

/*
 * As nb_dataset_read_idx, from the images (ilen bytes) and labels (llen
 * bytes) in memory. The buffers are only read.
 */
nb_status nbi_dataset_parse_idx(nb_dataset *ds, const unsigned char *images, size_t ilen,
                                const unsigned char *labels, size_t llen, const char *images_name,
                                const char *labels_name, char *err, size_t cap);

/* As nb_dataset_read_csv, from buf (len bytes, need not be NUL-terminated; only read). */
nb_status nbi_dataset_parse_csv(nb_dataset *ds, const char *buf, size_t len, const char *name,
                                const char *label_column, char *err, size_t cap);

/* As nb_checkpoint_load, from buf (len bytes; only read). */
nb_status nbi_checkpoint_load_buffer(nb_graph *g, const unsigned char *buf, size_t len,
                                     const char *name, size_t n, nb_node *const *params,
                                     nb_optim *opt);

/* As nb_onnx_read, from buf (len bytes; only read). */
nb_status nbi_onnx_read_buffer(nb_graph *g, const uint8_t *buf, size_t len,
                               const nb_onnx_read_options *opts, nb_node **outputs, size_t cap,
                               size_t *n_outputs);

/*
 * The importer's k-th operator with attributes: its name in *op and the
 * attributes it accepts as ",a,b,"; NULL past the end. For fuzz/onnx_mutator.c,
 * which adds the attributes an operator can carry.
 */
const char *nbi_onnx_op_attrs(size_t k, const char **op);

#endif /* NABLA_IO_H */
