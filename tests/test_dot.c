/*
 * tests/test_dot.c: nb_graph_write_dot. Golden files for the book's figure 1.3
 * (forward with its scope and longest path, with gradient nodes, with values),
 * escaping, nested clusters, drawing only what chosen outputs need, the node
 * styles, Graphviz's acceptance of every output, and write failures.
 *
 * Golden files live in tests/golden/. After an intended change to the DOT
 * output, regenerate them and review the diff before committing:
 *     NB_UPDATE_GOLDEN=1 meson test -C build test_dot
 * On a mismatch the actual text is written next to the test binary as
 * <golden>.actual (in the build's tests/ directory) for diffing.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NB_TEST_DIR
#error "NB_TEST_DIR must name the tests/ source directory"
#endif

/* ---- helpers ---- */

static void assert_ok(nb_graph *g)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

/* Reads a whole stream from its start into a NUL-terminated malloc'd string. */
static char *slurp(FILE *f)
{
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_geq(size, 0);
    rewind(f);
    char *s = malloc((size_t)size + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)size, f), (size_t)size);
    s[size] = '\0';
    return s;
}

/* Writes g as DOT with opts and returns the text (free it). */
static char *render(nb_graph *g, const nb_dot_options *opts)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(nb_graph_write_dot(g, f, opts), NB_OK, "%s", nb_graph_error(g));
    char *s = slurp(f);
    fclose(f);
    return s;
}

/* Returns the text of the file at path, or NULL if it cannot be opened. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *s = slurp(f);
    fclose(f);
    return s;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
}

/* Line number (1-based) and text of the first line where a and b differ. */
static int first_difference(const char *a, const char *b, char *line, size_t cap)
{
    int n = 1;
    const char *start = a;
    for (; *a && *a == *b; a++, b++) {
        if (*a == '\n') {
            n++;
            start = a + 1;
        }
    }
    size_t len = strcspn(start, "\n");
    snprintf(line, cap, "%.*s", (int)len, start);
    return n;
}

/*
 * Compares text with tests/golden/<name>, or rewrites the golden file when the
 * environment sets NB_UPDATE_GOLDEN=1.
 */
static void assert_golden(const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/%s", NB_TEST_DIR, name);
    const char *update = getenv("NB_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        write_file(path, text);
        return;
    }
    char *want = read_file(path);
    cr_assert_not_null(want, "missing golden file %s (NB_UPDATE_GOLDEN=1 creates it)", path);
    if (strcmp(want, text) != 0) {
        char actual[1024], line[512];
        snprintf(actual, sizeof actual, "%s.actual", name);
        write_file(actual, text);
        int n = first_difference(text, want, line, sizeof line);
        cr_assert_fail("%s differs from the golden file at line %d:\n  actual: %s\n"
                       "(full output in %s; NB_UPDATE_GOLDEN=1 rewrites the golden file)",
                       name, n, line, actual);
    }
    free(want);
}

/* Returns the line that declares node "n<id>" (without its newline), or fails. */
static void node_line(const char *text, size_t id, char *out, size_t cap)
{
    char key[32];
    snprintf(key, sizeof key, " n%zu [", id);
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "node n%zu is not drawn", id);
    size_t len = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)len, p);
}

static bool draws_node(const char *text, size_t id)
{
    char key[32];
    snprintf(key, sizeof key, " n%zu [", id);
    return strstr(text, key) != NULL;
}

static bool draws_edge(const char *text, size_t from, size_t to)
{
    char key[48];
    snprintf(key, sizeof key, "  n%zu -> n%zu", from, to);
    return strstr(text, key) != NULL;
}

/* ---- figure 1.3 ---- */

/*
 * The book's figure 1.3 with fixed values: x = [1, 2, -1], w = [0.5, -0.25,
 * 0.125], y = sigmoid(sum(w * x)) in scope logistic_regression, and dy/dw.
 * w.x = -0.125, y = 0.46879, dy/dw = y (1 - y) x = 0.24902 x.
 */
typedef struct figure {
    nb_graph *g;
    nb_node *x, *w, *y, *dw;
} figure;

static figure figure_1_3(bool with_grad)
{
    figure f = { .g = nb_graph_new() };
    nb_graph *g = f.g;
    cr_assert_not_null(g);
    f.x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "x");
    f.w = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0)), "w");
    nb_scope_push(g, "logistic_regression");
    f.y = nb_node_set_name(g, nb_sigmoid(g, nb_sum(g, nb_mul(g, f.w, f.x))), "y");
    nb_scope_pop(g);
    if (with_grad) {
        cr_assert_eq(nb_grad(g, f.y, 1, &f.w, &f.dw), NB_OK, "%s", nb_graph_error(g));
    }
    assert_ok(g);
    const double xs[3] = { 1, 2, -1 }, ws[3] = { 0.5, -0.25, 0.125 };
    cr_assert_eq(nb_node_write_f64(g, f.x, xs, 3), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, f.w, ws, 3), NB_OK);
    return f;
}

/* Figure 1.3 forward: the scope as a cluster, the longest path to y in red. */
static char *render_forward(void)
{
    figure f = figure_1_3(true);
    nb_dot_options o = nb_dot_defaults();
    o.highlight = f.y;
    o.title = "figure 1.3: logistic regression";
    char *s = render(f.g, &o);
    nb_graph_free(f.g);
    return s;
}

/* With gradient nodes, the longest path to dy/dw in red. */
static char *render_grad(void)
{
    figure f = figure_1_3(true);
    nb_dot_options o = nb_dot_defaults();
    o.grad = true;
    o.highlight = f.dw;
    char *s = render(f.g, &o);
    nb_graph_free(f.g);
    return s;
}

/* With values and gradients after a run that keeps every value. */
static char *render_values(void)
{
    figure f = figure_1_3(true);
    nb_node *outs[2] = { f.y, f.dw };
    cr_assert_eq(nb_graph_run_ex(f.g, 2, outs, NB_RUN_KEEP_ALL), NB_OK, "%s", nb_graph_error(f.g));
    nb_dot_options o = nb_dot_defaults();
    o.grad = true;
    o.values = true;
    o.highlight = f.y;
    o.left_to_right = true;
    char *s = render(f.g, &o);
    nb_graph_free(f.g);
    return s;
}

Test(dot, golden_figure_1_3_forward, .description = "forward graph, scope, longest path")
{
    char *s = render_forward();
    assert_golden("figure_1_3_forward.dot", s);
    /* the gradient nodes are hidden: the text is the same as before nb_grad */
    figure f = figure_1_3(false);
    nb_dot_options o = nb_dot_defaults();
    o.highlight = f.y;
    o.title = "figure 1.3: logistic regression";
    char *before = render(f.g, &o);
    cr_assert_str_eq(before, s);
    free(before);
    nb_graph_free(f.g);
    free(s);
}

Test(dot, golden_figure_1_3_grad, .description = "with gradient nodes (opts.grad)")
{
    char *s = render_grad();
    assert_golden("figure_1_3_grad.dot", s);
    free(s);
}

Test(dot, golden_figure_1_3_values, .description = "with values after NB_RUN_KEEP_ALL")
{
    char *s = render_values();
    assert_golden("figure_1_3_values.dot", s);
    /* y = sigmoid(-0.125) and dy/dw = y (1 - y) x, printed with 4 digits */
    cr_assert_not_null(strstr(s, "= 0.4688"), "y's value");
    cr_assert_not_null(strstr(s, "grad = [0.249, 0.4981, -0.249]"), "w's gradient");
    free(s);
}

Test(dot, values_need_a_run, .description = "opts.values before any run shows leaves only")
{
    figure f = figure_1_3(true);
    nb_dot_options o = nb_dot_defaults();
    o.values = true;
    o.grad = true;
    char *s = render(f.g, &o);
    char line[512];
    node_line(s, nb_node_id(f.x), line, sizeof line);
    cr_assert_not_null(strstr(line, "= [1, 2, -1]"), "%s", line);
    node_line(s, nb_node_id(f.y), line, sizeof line);
    cr_assert_null(strstr(line, "= "), "y has no value yet: %s", line);
    node_line(s, nb_node_id(f.w), line, sizeof line);
    cr_assert_null(strstr(line, "grad ="), "no gradient computed yet: %s", line);
    free(s);
    nb_graph_free(f.g);
}

/* ---- escaping, clusters, outputs, styles ---- */

/* Names, a scope and a title with quotes, backslashes and a newline. */
static char *render_escapes(void)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "say \"hi\"");
    nb_scope_push(g, "C:\\dir \"q\"");
    nb_node *y = nb_node_set_name(g, nb_exp(g, x), "back\\slash\\");
    nb_node_set_name(g, nb_neg(g, y), "two\nlines");
    nb_scope_pop(g);
    assert_ok(g);
    nb_dot_options o = nb_dot_defaults();
    o.title = "a \"title\" \\ here";
    char *s = render(g, &o);
    nb_graph_free(g);
    return s;
}

Test(dot, escapes_quotes_and_backslashes, .description = "\" and \\ are escaped in labels")
{
    char *s = render_escapes();
    cr_assert_not_null(strstr(s, "n0 [label=\"say \\\"hi\\\"\\ninput [2]\""), "%s", s);
    cr_assert_not_null(strstr(s, "n1 [label=\"back\\\\slash\\\\\\nexp [2]\""), "%s", s);
    cr_assert_not_null(strstr(s, "n2 [label=\"two\\nlines\\nneg [2]\""), "%s", s);
    cr_assert_not_null(strstr(s, "label=\"C:\\\\dir \\\"q\\\"\";"), "%s", s);
    cr_assert_not_null(strstr(s, "label=\"a \\\"title\\\" \\\\ here\""), "%s", s);
    /* no raw newline inside any line: every line ends a statement or a brace */
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, "\n");
        char last = len ? p[len - 1] : '\0';
        cr_assert(last == ';' || last == '{' || last == '}', "bad line: %.*s", (int)len, p);
        p += len + (p[len] == '\n');
    }
    free(s);
}

/*
 * x -> a (outer) -> b (outer/inner) -> c (outer/inner2) -> d (no scope):
 * inner and inner2 are sibling clusters inside outer.
 */
static char *render_nested(void)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_scope_push(g, "outer");
    nb_node *a = nb_exp(g, x);
    nb_scope_push(g, "inner");
    nb_node *b = nb_tanh(g, a);
    nb_scope_pop(g);
    nb_scope_push(g, "inner2");
    nb_node *c = nb_tanh(g, b);
    nb_scope_pop(g);
    nb_scope_pop(g);
    nb_node *d = nb_sum(g, c);
    assert_ok(g);
    nb_dot_options o = nb_dot_defaults();
    o.highlight = d;
    o.depth_level = 2;
    char *s = render(g, &o);
    nb_graph_free(g);
    return s;
}

Test(dot, nested_scopes_nested_clusters, .description = "scope inside scope: cluster in cluster")
{
    char *s = render_nested();
    /* ids: x n0, a n1, b n2, c n3, d n4; scopes: outer 1, inner 2, inner2 3 */
    const char *outer = strstr(s, "\n  subgraph cluster_1 {\n    label=\"outer\";");
    const char *inner = strstr(s, "\n    subgraph cluster_2 {\n      label=\"inner\";");
    const char *inner2 = strstr(s, "\n    subgraph cluster_3 {\n      label=\"inner2\";");
    cr_assert(outer && inner && inner2, "%s", s);
    const char *a = strstr(s, "\n    n1 ["), *b = strstr(s, "\n      n2 [");
    const char *c = strstr(s, "\n      n3 ["), *d = strstr(s, "\n  n4 [");
    const char *x = strstr(s, "\n  n0 [");
    cr_assert(a && b && c && d && x, "%s", s);
    /* x and d are outside every cluster, drawn before them */
    cr_assert_lt(x, outer);
    cr_assert_lt(d, outer);
    /* outer holds a, then inner (holding b), then inner2 (holding c) */
    cr_assert_lt(outer, a);
    cr_assert_lt(a, inner);
    cr_assert_lt(inner, b);
    const char *inner_end = strstr(b, "\n    }\n");
    cr_assert_not_null(inner_end);
    cr_assert_lt(inner_end, inner2, "inner is closed before inner2 opens");
    cr_assert_lt(inner2, c);
    const char *inner2_end = strstr(c, "\n    }\n");
    const char *outer_end = strstr(c, "\n  }\n");
    cr_assert(inner2_end && outer_end && inner2_end < outer_end, "%s", s);
    /* the clusters are closed before the edges */
    cr_assert_lt(outer_end, strstr(s, "  n0 -> n1"));
    /* the longest path at level 2 is highlighted through every node */
    cr_assert_not_null(strstr(s, "  n3 -> n4 [color=red, penwidth=2.5];"));
    cr_assert_not_null(strstr(s, "  n0 -> n1 [color=red, penwidth=2.5];"));
    free(s);
}

Test(dot, empty_scope_is_not_drawn, .description = "a scope with nothing drawn has no cluster")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_scope_push(g, "empty");
    nb_scope_pop(g);
    nb_scope_push(g, "used");
    nb_exp(g, x);
    nb_scope_pop(g);
    assert_ok(g);
    char *s = render(g, NULL);
    cr_assert_null(strstr(s, "\"empty\""), "%s", s);
    cr_assert_not_null(strstr(s, "label=\"used\""), "%s", s);
    free(s);
    nb_graph_free(g);
}

/* Two branches from x; only ya's branch is requested. */
typedef struct branches {
    nb_graph *g;
    nb_node *x, *a, *b, *ya, *yb, *da;
} branches;

static branches build_branches(void)
{
    branches r = { .g = nb_graph_new() };
    nb_graph *g = r.g;
    r.x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    r.a = nb_exp(g, r.x);
    r.b = nb_tanh(g, r.x);
    r.ya = nb_sum(g, r.a);
    r.yb = nb_sum(g, r.b);
    cr_assert_eq(nb_grad(g, r.ya, 1, &r.x, &r.da), NB_OK, "%s", nb_graph_error(g));
    assert_ok(g);
    return r;
}

static char *render_outputs(void)
{
    branches r = build_branches();
    nb_dot_options o = nb_dot_defaults();
    o.outputs = &r.ya;
    o.n_outputs = 1;
    char *s = render(r.g, &o);
    nb_graph_free(r.g);
    return s;
}

Test(dot, outputs_restrict_the_drawing, .description = "opts.outputs: only what they need")
{
    branches r = build_branches();
    char *s = render_outputs();
    size_t x = nb_node_id(r.x), a = nb_node_id(r.a), b = nb_node_id(r.b);
    size_t ya = nb_node_id(r.ya), yb = nb_node_id(r.yb);
    cr_assert(draws_node(s, x) && draws_node(s, a) && draws_node(s, ya), "%s", s);
    cr_assert(!draws_node(s, b) && !draws_node(s, yb), "%s", s);
    cr_assert(draws_edge(s, x, a) && draws_edge(s, a, ya));
    cr_assert(!draws_edge(s, x, b) && !draws_edge(s, b, yb));
    for (size_t id = nb_node_id(r.yb) + 1; id < nb_graph_node_count(r.g); id++) {
        cr_assert_not(draws_node(s, id), "gradient node n%zu drawn without opts.grad", id);
    }
    free(s);

    /* the gradient as output, with opts.grad: its own nodes and the forward ones it reads */
    nb_dot_options o = nb_dot_defaults();
    o.outputs = &r.da;
    o.n_outputs = 1;
    o.grad = true;
    s = render(r.g, &o);
    cr_assert(draws_node(s, nb_node_id(r.da)) && draws_node(s, a), "%s", s);
    cr_assert(!draws_node(s, b) && !draws_node(s, yb), "%s", s);
    free(s);

    /* both outputs: everything of the forward graph */
    nb_node *both[2] = { r.ya, r.yb };
    o = nb_dot_defaults();
    o.outputs = both;
    o.n_outputs = 2;
    s = render(r.g, &o);
    for (size_t id = 0; id <= yb; id++) {
        cr_assert(draws_node(s, id), "n%zu", id);
    }
    free(s);
    nb_graph_free(r.g);
}

/* One node of each kind: input, param, const, op, gradient op. */
typedef struct kinds {
    nb_graph *g;
    nb_node *x, *w, *c, *op, *dw;
} kinds;

static kinds build_kinds(void)
{
    kinds k = { .g = nb_graph_new() };
    nb_graph *g = k.g;
    k.x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3));
    k.w = nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), nb_init_constant(1));
    k.c = nb_scalar(g, NB_DTYPE_F32, 2);
    k.op = nb_sum(g, nb_mul(g, nb_mul(g, k.x, k.w), k.c));
    cr_assert_eq(nb_grad(g, k.op, 1, &k.w, &k.dw), NB_OK, "%s", nb_graph_error(g));
    assert_ok(g);
    return k;
}

static char *render_kinds(void)
{
    kinds k = build_kinds();
    nb_dot_options o = nb_dot_defaults();
    o.grad = true;
    char *s = render(k.g, &o);
    nb_graph_free(k.g);
    return s;
}

Test(dot, styles_by_kind, .description = "inputs, params, consts, ops and gradient ops differ")
{
    kinds k = build_kinds();
    char *s = render_kinds();
    char line[512];
    node_line(s, nb_node_id(k.x), line, sizeof line);
    cr_assert_not_null(strstr(line, "shape=ellipse, style=filled, fillcolor=\"#d8f0d8\""), "%s",
                       line);
    cr_assert_not_null(strstr(line, "input [2,3] f32"), "%s", line);
    node_line(s, nb_node_id(k.w), line, sizeof line);
    cr_assert_not_null(strstr(line, "shape=box, style=filled, fillcolor=\"#ffd9a8\""), "%s", line);
    node_line(s, nb_node_id(k.c), line, sizeof line);
    cr_assert_not_null(strstr(line, "shape=plaintext, fontcolor=\"#555555\""), "%s", line);
    node_line(s, nb_node_id(k.op), line, sizeof line);
    cr_assert_not_null(strstr(line, "shape=box, style=\"rounded,filled\", fillcolor=white"), "%s",
                       line);
    node_line(s, nb_node_id(k.dw), line, sizeof line);
    cr_assert_not_null(strstr(line, "shape=box, style=\"rounded,filled\", fillcolor=\"#dce8ff\""),
                       "%s", line);
    /* every gradient op is blue and every forward op white; no highlight was asked */
    for (size_t id = 0; id < nb_graph_node_count(k.g); id++) {
        nb_node *n = nb_graph_node(k.g, id);
        node_line(s, id, line, sizeof line);
        if (nb_node_kind(n) == NB_KIND_OP) {
            const char *fill = nb_node_is_grad(n) ? "fillcolor=\"#dce8ff\"" : "fillcolor=white";
            cr_assert_not_null(strstr(line, fill), "%s", line);
        }
        cr_assert_null(strstr(line, "color=red"), "%s", line);
    }
    /* edges into gradient ops are blue */
    size_t dw = nb_node_id(k.dw);
    char key[64];
    snprintf(key, sizeof key, "-> n%zu [color=\"#4a72c4\"];", dw);
    cr_assert_not_null(strstr(s, key), "%s", s);
    free(s);
    nb_graph_free(k.g);
}

Test(dot, null_options_are_defaults, .description = "opts NULL equals nb_dot_defaults()")
{
    figure f = figure_1_3(true);
    char *a = render(f.g, NULL);
    nb_dot_options o = nb_dot_defaults();
    char *b = render(f.g, &o);
    cr_assert_str_eq(a, b);
    cr_assert_not_null(strstr(a, "rankdir=TB"));
    cr_assert_null(strstr(a, "color=red"));
    cr_assert_null(strstr(a, "grad:"), "gradient cluster hidden by default");
    free(a);
    free(b);
    nb_graph_free(f.g);
}

/* ---- Graphviz ---- */

typedef char *(*renderer)(void);

Test(dot, graphviz_accepts_every_output, .description = "dot -Tsvg exits 0 on each output")
{
    if (system("command -v dot >/dev/null 2>&1") != 0) {
        cr_skip_test("Graphviz dot is not on PATH");
    }
    const struct {
        const char *name;
        renderer fn;
    } cases[] = {
        { "forward", render_forward }, { "grad", render_grad },     { "values", render_values },
        { "escapes", render_escapes }, { "nested", render_nested }, { "outputs", render_outputs },
        { "kinds", render_kinds },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = cases[i].fn();
        char path[] = "/tmp/nabla_test_dot_XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        FILE *f = fdopen(fd, "w");
        cr_assert_not_null(f);
        cr_assert_geq(fputs(s, f), 0);
        cr_assert_eq(fclose(f), 0);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "dot -Tsvg -o /dev/null %s 2>&1", path);
        int rc = system(cmd);
        unlink(path);
        cr_assert_eq(rc, 0, "dot rejected the %s output (status %d):\n%s", cases[i].name, rc, s);
        free(s);
    }
}

/* ---- errors ---- */

Test(dot, write_failure_is_io_error, .description = "writing to /dev/full gives NB_ERR_IO")
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        cr_skip_test("/dev/full is not available");
    }
    figure fig = figure_1_3(true);
    nb_dot_options o = nb_dot_defaults();
    o.grad = true;
    cr_assert_eq(nb_graph_write_dot(fig.g, f, &o), NB_ERR_IO);
    cr_assert_str_eq(nb_graph_error(fig.g), "write_dot: writing the DOT output failed");
    /* a failed write is not a build error: the graph stays usable */
    cr_assert_eq(nb_graph_status(fig.g), NB_OK);
    fclose(f);
    char *s = render(fig.g, &o);
    cr_assert_not_null(strstr(s, "digraph nabla {"));
    free(s);
    nb_graph_free(fig.g);
}

Test(dot, null_file_is_an_argument_error, .description = "f == NULL gives NB_ERR_ARG")
{
    figure fig = figure_1_3(false);
    cr_assert_eq(nb_graph_write_dot(fig.g, NULL, NULL), NB_ERR_ARG);
    cr_assert_eq(nb_graph_status(fig.g), NB_OK);
    nb_graph_free(fig.g);
}

Test(dot, foreign_highlight_is_a_graph_error, .description = "highlight from another graph")
{
    figure a = figure_1_3(false), b = figure_1_3(false);
    nb_dot_options o = nb_dot_defaults();
    o.highlight = b.y;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(nb_graph_write_dot(a.g, f, &o), NB_ERR_GRAPH);
    cr_assert_eq(nb_graph_status(a.g), NB_OK);
    fclose(f);
    nb_graph_free(a.g);
    nb_graph_free(b.g);
}

/* ---- drawings for teaching: one node per scope, roles, the seed, no stray gradients ---- */

Test(dot, golden_figure_1_3_collapsed,
     .description = "the book's second drawing: logistic regression as one element")
{
    figure f = figure_1_3(true);
    nb_dot_options o = nb_dot_defaults();
    o.highlight = f.y;
    o.depth_level = NB_DEPTH_SCOPES;
    o.collapse = 1;
    o.title = "figure 1.3: logistic regression as one element, depth 1";
    char *s = render(f.g, &o);
    assert_golden("figure_1_3_collapsed.dot", s);
    /* one node for the scope, red on the longest path, and no op of it drawn */
    cr_assert_not_null(strstr(s, "  s1 [label=\"logistic_regression\\n3 ops → y\""), "%s", s);
    cr_assert(!draws_node(s, nb_node_id(f.y)) && !draws_node(s, 2), "%s", s);
    cr_assert_not_null(strstr(s, "  n1 -> s1 [color=red, penwidth=2.5];\n"), "%s", s);
    cr_assert_not_null(strstr(s, "  n0 -> s1;\n"), "%s", s);
    free(s);
    /* with the gradient: the mirror scope is one more element, the edge between them drawn once */
    o.grad = true;
    o.highlight = f.dw;
    s = render(f.g, &o);
    cr_assert_not_null(strstr(s, "  s2 [label=\"grad:logistic_regression\\n3 ops → grad_w\""), "%s",
                       s);
    cr_assert_not_null(strstr(s, "  s1 -> s2 [color=red, penwidth=2.5];\n"), "%s", s);
    const char *first = strstr(s, "s1 -> s2"),
               *again = first ? strstr(first + 1, "s1 -> s2") : NULL;
    cr_assert_null(again, "an edge between two elements is drawn once:\n%s", s);
    free(s);
    nb_graph_free(f.g);
}

Test(dot, roles_seed_and_scalars, .description = "a and b of sub, y and dy of sigmoid_grad")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), "a");
    nb_node *b = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, 0, NULL), "b");
    nb_node *d = nb_node_set_name(g, nb_sub(g, a, b), "d");
    nb_node *y = nb_node_set_name(g, nb_sigmoid(g, d), "y");
    nb_node *dd;
    cr_assert_eq(nb_grad(g, y, 1, &d, &dd), NB_OK);
    nb_dot_options o = nb_dot_defaults();
    o.grad = true;
    char *s = render(g, &o);
    char want[128];
    snprintf(want, sizeof want, "  n%zu -> n%zu [headlabel=\"a\"", nb_node_id(a), nb_node_id(d));
    cr_assert_not_null(strstr(s, want), "%s", s);
    snprintf(want, sizeof want, "  n%zu -> n%zu [headlabel=\"b\"", nb_node_id(b), nb_node_id(d));
    cr_assert_not_null(strstr(s, want), "%s", s);
    cr_assert_not_null(strstr(s, "headlabel=\"y\""), "%s", s);
    cr_assert_not_null(strstr(s, "headlabel=\"dy\""), "%s", s);
    cr_assert_not_null(strstr(s, "[label=\"∂y/∂y = 1\""), "the seed:\n%s", s);
    cr_assert_not_null(strstr(s, "[label=\"a\\ninput scalar\""), "%s", s);
    free(s);
    nb_graph_free(g);
}

Test(dot, a_forward_drawing_shows_no_gradient_values)
{
    figure f = figure_1_3(true);
    cr_assert_eq(nb_graph_run_ex(f.g, 2, (nb_node *[]){ f.y, f.dw }, NB_RUN_KEEP_ALL), NB_OK);
    nb_dot_options o = nb_dot_defaults();
    o.values = true;
    char *s = render(f.g, &o);
    cr_assert_not_null(strstr(s, "= [0.5, -0.25, 0.125]"), "%s", s);
    cr_assert_null(strstr(s, "grad ="), "%s", s);
    free(s);
    o.grad = true;
    s = render(f.g, &o);
    cr_assert_not_null(strstr(s, "grad = [0.249, 0.4981, -0.249]"), "%s", s);
    free(s);
    nb_graph_free(f.g);
}
