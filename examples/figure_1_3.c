/*
 * examples/figure_1_3.c: the book's figure 1.3 (Goodfellow, Bengio and
 * Courville, Deep Learning, chapter 1). Logistic regression y = σ(Σ w·x) has
 * depth 3 when {mul, sum, sigmoid} are the elements and depth 1 when
 * "logistic regression" itself is the element. The gradient graph shows how
 * backpropagation deepens it. Writes figure_1_3.dot, figure_1_3_scopes.dot (the
 * scope drawn as one node) and figure_1_3_grad.dot
 * to the directory given as its argument (the current one by default).
 */
#include <nabla.h>

#include <stdio.h>
#include <string.h>

static void print_path(nb_graph *g, nb_node *out, int level)
{
    nb_node *path[64];
    size_t n = nb_depth_path(g, out, level, path, 64);
    for (size_t i = 0; i < n && i < 64; i++) {
        printf("%s%s", i ? " -> " : "    ", nb_node_name(path[i]));
    }
    printf("\n");
}

/* Writes dir/name (dir "." writes name); prints the path it wrote. */
static int write_dot(nb_graph *g, const char *dir, const char *name, const nb_dot_options *o)
{
    char file[4096];
    snprintf(file, sizeof file, "%s%s%s", strcmp(dir, ".") ? dir : "", strcmp(dir, ".") ? "/" : "",
             name);
    FILE *f = fopen(file, "w");
    if (!f) {
        perror(file);
        return 1;
    }
    nb_status s = nb_graph_write_dot(g, f, o);
    if (fclose(f) != 0 || s != NB_OK) {
        fprintf(stderr, "%s: %s\n", file, nb_graph_error(g));
        return 1;
    }
    printf("wrote %s\n", file);
    return 0;
}

int main(int argc, char **argv)
{
    /* the one optional argument: the directory to write the DOT files to */
    const char *dir = argc > 1 ? argv[1] : ".";
    if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [DIR]  (writes figure_1_3.dot and figure_1_3_grad.dot to DIR)\n",
                argv[0]);
        return 2;
    }
    nb_graph *g = nb_graph_new();
    if (!g) {
        return 1;
    }
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "x");
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_normal(0, 0.5)), "w");
    nb_scope_push(g, "logistic_regression");
    nb_node *y = nb_node_set_name(g, nb_sigmoid(g, nb_sum(g, nb_mul(g, w, x))), "y");
    nb_scope_pop(g);

    nb_node *dw;
    nb_grad(g, y, 1, &w, &dw);
    if (nb_graph_status(g) != NB_OK) {
        fprintf(stderr, "building the model failed: %s\n", nb_graph_error(g));
        nb_graph_free(g);
        return 1;
    }

    printf("logistic regression y = sigmoid(sum(w * x))  (Deep Learning, figure 1.3)\n\n");
    printf("depth over {mul, sum, sigmoid}:        %d\n", nb_depth(g, y, NB_DEPTH_OPS));
    print_path(g, y, NB_DEPTH_OPS);
    printf("depth with logistic regression as one: %d\n", nb_depth(g, y, NB_DEPTH_SCOPES));
    print_path(g, y, NB_DEPTH_SCOPES);
    printf("depth of the gradient dy/dw over ops:  %d\n", nb_depth(g, dw, NB_DEPTH_OPS));
    print_path(g, dw, NB_DEPTH_OPS);
    printf("depth of dy/dw over scopes:            %d\n\n", nb_depth(g, dw, NB_DEPTH_SCOPES));

    const double xs[3] = { 1.0, 2.0, -1.0 };
    nb_node_write_f64(g, x, xs, 3);
    nb_node *outs[2] = { y, dw };
    if (nb_graph_run_ex(g, 2, outs, NB_RUN_KEEP_ALL) != NB_OK) {
        fprintf(stderr, "run failed: %s\n", nb_graph_error(g));
        nb_graph_free(g);
        return 1;
    }
    double wv[3], yv, dwv[3];
    nb_node_read_f64(g, w, wv, 3);
    nb_node_read_f64(g, y, &yv, 1);
    nb_node_read_f64(g, dw, dwv, 3);
    printf("x = [%g, %g, %g], w = [%.4f, %.4f, %.4f]\n", xs[0], xs[1], xs[2], wv[0], wv[1], wv[2]);
    printf("y = %.6f, dy/dw = [%.6f, %.6f, %.6f]  (= y (1 - y) x)\n\n", yv, dwv[0], dwv[1], dwv[2]);

    nb_dot_options o = nb_dot_defaults();
    o.highlight = y;
    o.values = true;
    o.title = "figure 1.3: logistic regression, depth 3 over ops";
    int rc = write_dot(g, dir, "figure_1_3.dot", &o);
    /* the book's second drawing: logistic regression as one element */
    o.collapse = 1;
    o.depth_level = NB_DEPTH_SCOPES;
    o.title = "figure 1.3: logistic regression as one element, depth 1";
    rc |= write_dot(g, dir, "figure_1_3_scopes.dot", &o);
    o.collapse = 0;
    o.depth_level = NB_DEPTH_OPS;
    o.grad = true;
    o.highlight = dw;
    o.title = "figure 1.3 with its gradient graph";
    rc |= write_dot(g, dir, "figure_1_3_grad.dot", &o);
    const char *d = strcmp(dir, ".") ? dir : "", *sep = strcmp(dir, ".") ? "/" : "";
    printf("render with: dot -Tsvg %s%sfigure_1_3.dot -o %s%sfigure_1_3.svg\n", d, sep, d, sep);
    nb_graph_free(g);
    return rc;
}
