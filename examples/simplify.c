/*
 * examples/simplify.c: what the graph simplifier does to gradient graphs.
 * For each example model it builds the gradient of its output with respect
 * to every parameter twice, with and without the simplifier
 * (nb_graph_set_simplify), and prints the nodes nb_grad appended and the
 * deepest gradient's depth over ops. docs/performance.md and docs/depth.md
 * show its output. Models are read from the directory given as the argument
 * (examples/models by default).
 */
#include <nabla.h>

#include <stdio.h>
#include <stdlib.h>

#ifndef NB_MODELS_DIR
#define NB_MODELS_DIR "examples/models"
#endif

typedef struct measure {
    size_t nodes;
    int depth;
} measure;

/* Builds the gradients of model's `out` w.r.t. its parameters; false on an error. */
static bool measure_grad(const char *dir, const char *file, const char *out, bool simplify,
                         measure *m)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    nb_graph *g = nb_graph_new();
    nb_graph_set_simplify(g, simplify);
    nb_parse_error pe;
    if (nb_model_parse_file(g, path, NULL, &pe) != NB_OK) {
        fprintf(stderr, "%s:%d: %s\n", path, pe.line, pe.message);
        nb_graph_free(g);
        return false;
    }
    nb_node *y = nb_graph_find(g, out);
    size_t n = nb_graph_params(g, NULL, 0);
    nb_node **wrt = malloc(n * sizeof *wrt), **grads = malloc(n * sizeof *grads);
    bool ok = y && wrt && grads;
    if (ok) {
        nb_graph_params(g, wrt, n);
        size_t before = nb_graph_node_count(g);
        ok = nb_grad(g, y, n, wrt, grads) == NB_OK;
        m->nodes = nb_graph_node_count(g) - before;
        m->depth = 0;
        for (size_t i = 0; ok && i < n; i++) {
            int d = nb_depth(g, grads[i], 0);
            m->depth = d > m->depth ? d : m->depth;
        }
    }
    if (!ok) {
        fprintf(stderr, "%s: %s\n", path, nb_graph_error(g));
    }
    free(wrt);
    free(grads);
    nb_graph_free(g);
    return ok;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NB_MODELS_DIR;
    static const struct {
        const char *name, *file, *out;
    } models[] = {
        { "figure 1.3", "figure_1_3.nb", "y" },
        { "XOR", "xor.nb", "loss" },
        { "MLP", "mlp.nb", "loss" },
        { "LeNet", "lenet.nb", "loss" },
        { "names LSTM", "names_lstm.nb", "loss" },
    };
    printf("gradient graphs w.r.t. every parameter: nodes nb_grad appends, and the\n"
           "deepest gradient's depth over ops, without and with the simplifier\n\n");
    printf("%-12s %8s %8s %8s %8s\n", "model", "nodes", "nodes", "depth", "depth");
    printf("%-12s %8s %8s %8s %8s\n", "", "before", "after", "before", "after");
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        measure raw, simple;
        if (!measure_grad(dir, models[i].file, models[i].out, false, &raw) ||
            !measure_grad(dir, models[i].file, models[i].out, true, &simple)) {
            return 1;
        }
        printf("%-12s %8zu %8zu %8d %8d\n", models[i].name, raw.nodes, simple.nodes, raw.depth,
               simple.depth);
    }
    return 0;
}
