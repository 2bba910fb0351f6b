/*
 * io/onnx_stub.c: nb_onnx_write and nb_onnx_read in a build without ONNX
 * support (meson -Donnx=disabled, or protobuf-c missing): they fail and say why.
 */
#include "io.h"

static const char why[] = "nabla was built without ONNX support; install libprotobuf-c-dev, "
                          "protobuf-c-compiler and libonnx-dev and rebuild (meson -Donnx=enabled)";

nb_onnx_options nb_onnx_defaults(void)
{
    nb_onnx_options o = { .opset = 17, .names = NULL, .graph_name = "nabla" };
    return o;
}

nb_status nb_onnx_write(nb_graph *g, size_t n, nb_node *const *outputs, const char *path,
                        const nb_onnx_options *opts)
{
    (void)n, (void)outputs, (void)path, (void)opts;
    return g ? nbi_report(g, NB_ERR_ARG, "onnx_write", 0, NULL, "%s", why) : NB_ERR_ARG;
}

nb_status nbi_onnx_read_buffer(nb_graph *g, const uint8_t *buf, size_t len,
                               const nb_onnx_read_options *opts, nb_node **outputs, size_t cap,
                               size_t *n_outputs)
{
    (void)buf, (void)len, (void)opts, (void)outputs, (void)cap;
    if (n_outputs) {
        *n_outputs = 0;
    }
    return nbi_report(g, NB_ERR_ARG, "onnx_read", 0, NULL, "%s", why);
}

nb_status nb_onnx_read(nb_graph *g, const char *path, const nb_onnx_read_options *opts,
                       nb_node **outputs, size_t cap, size_t *n_outputs)
{
    (void)path;
    return g ? nbi_onnx_read_buffer(g, NULL, 0, opts, outputs, cap, n_outputs) : NB_ERR_ARG;
}

const char *nbi_onnx_op_attrs(size_t k, const char **op)
{
    (void)k, (void)op;
    return NULL;
}
