/*
 * tools/nabla/cmd_import.c: `nabla import model.onnx -o model.nb`, an ONNX
 * model (PyTorch's exporter's, or nabla's own) read by nb_onnx_read and
 * written in the model language (nb_model_write), parameters with their
 * values, so every other command (eval, grad, depth, dot, train) takes it.
 * The file is written beside the target and renamed over it.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help_import[] =
    "usage: nabla import MODEL.onnx -o MODEL.nb [--dtype f32|f64]\n"
    "\n"
    "Reads an ONNX model (static shapes; the operators docs/onnx.md lists) and\n"
    "writes it as a nabla model file: graph inputs become inputs, initializers\n"
    "parameters with their values, and the graph's outputs keep their ONNX names.\n"
    "\n"
    "  -o, --output FILE  the model file to write\n"
    "  --dtype f32|f64    dtype of the float nodes (default f32)\n";

int cmd_import_main(int argc, char **argv)
{
    cli c = { .cmd_name = "import" };
    const char *in = NULL, *out = NULL;
    nb_onnx_read_options o = { .dtype = NB_DTYPE_F32 };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help_import, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                return cli_fail(&c, EXIT_USAGE, "%s needs a value", a);
            }
            out = argv[++i];
        } else if (strcmp(a, "--dtype") == 0) {
            if (i + 1 >= argc || (strcmp(argv[i + 1], "f32") && strcmp(argv[i + 1], "f64"))) {
                return cli_fail(&c, EXIT_USAGE, "--dtype takes f32 or f64");
            }
            o.dtype = argv[++i][1] == '3' ? NB_DTYPE_F32 : NB_DTYPE_F64;
        } else if (a[0] == '-') {
            return cli_fail(&c, EXIT_USAGE, "unknown option %s (see nabla import --help)", a);
        } else if (in) {
            return cli_fail(&c, EXIT_USAGE, "two ONNX files: %s and %s", in, a);
        } else {
            in = a;
        }
    }
    if (!in || !out) {
        return cli_fail(&c, EXIT_USAGE, "%s (usage: nabla import MODEL.onnx -o MODEL.nb)",
                        !in ? "no ONNX file" : "no output file: give -o MODEL.nb");
    }
    nb_graph *g = nb_graph_new();
    if (!g) {
        return cli_fail(&c, EXIT_USAGE, "out of memory");
    }
    nb_graph_set_training(g, false);
    int rc = EXIT_OK;
    if (nb_onnx_read(g, in, &o, NULL, 0, NULL) != NB_OK) {
        rc = cli_fail(&c, EXIT_USAGE, "%s: %s", in, nb_graph_error(g));
    } else {
        size_t len = strlen(out);
        char *tmp = malloc(len + 24);
        FILE *f = NULL;
        if (tmp) {
            snprintf(tmp, len + 24, "%s.tmp%ld", out, (long)getpid());
            f = fopen(tmp, "w");
        }
        if (!f) {
            rc = cli_fail(&c, EXIT_USAGE, "cannot write %s", out);
        } else {
            fprintf(f, "# %s: imported from %s by nabla import\n\n", out, in);
            nb_status st = nb_model_write(g, f);
            bool ok = fclose(f) == 0 && st == NB_OK;
            if (!ok || rename(tmp, out) != 0) {
                remove(tmp);
                rc = cli_fail(&c, EXIT_USAGE, "cannot write %s: %s", out,
                              st != NB_OK ? nb_graph_error(g) : "write failed");
            }
        }
        free(tmp);
    }
    nb_graph_free(g);
    return rc;
}
