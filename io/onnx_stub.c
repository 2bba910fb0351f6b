/*
 * io/onnx_stub.c: nb_onnx_write and nb_onnx_read in a build without ONNX
 * support (meson -Donnx=disabled, or protobuf-c missing): they fail and say why.
 */
#include "../graph/internal.h"

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
