/*
 * tests/test_lang_loop.c: loops of the model language (for t in 0..T { }),
 * indexing (x[:, t]) and the recurrent cells (rnn_cell, lstm_cell,
 * gru_cell): an unrolled model is the graph nb_*_unroll builds in C, node for
 * node, value for value; its depth over scopes counts the steps; it is
 * written back and read again unchanged; and every error says where and why.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NB_SOURCE_DIR
#define NB_SOURCE_DIR "."
#endif

#define ASSERT_OK(g) cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g))

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    nb_status s = nb_model_parse(g, src, strlen(src), NULL, &err);
    cr_assert_eq(s, NB_OK, "%d:%d: %s\n--- model:\n%s", err.line, err.column, err.message, src);
    return g;
}

static nb_node *node(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node named %s", name);
    return n;
}

static void parse_error(const char *src, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    nb_status s = nb_model_parse(g, src, strlen(src), NULL, &err);
    cr_assert_neq(s, NB_OK, "parsed:\n%s", src);
    cr_expect_str_eq(err.message, msg, "got: %s\n--- model:\n%s", err.message, src);
    cr_expect_eq(err.line, line, "line %d of: %s", err.line, msg);
    cr_expect_eq(err.column, col, "column %d of: %s", err.column, msg);
    nb_graph_free(g);
}

/* Runs n and returns its values (malloc'd, nb_node_size of them). */
static double *eval(nb_graph *g, nb_node *n)
{
    cr_assert_eq(nb_graph_run(g, 1, &n), NB_OK, "%s", nb_graph_error(g));
    size_t k = nb_node_size(n);
    double *v = malloc(k * sizeof *v);
    cr_assert_eq(nb_node_read_f64(g, n, v, k), NB_OK);
    return v;
}

/* Fills leaf n with sin(seed + 0.37 i): distinct, reproducible values. */
static void fill_leaf(nb_graph *g, nb_node *n, double seed)
{
    size_t k = nb_node_size(n);
    double *v = malloc(k * sizeof *v);
    for (size_t i = 0; i < k; i++) {
        v[i] = 0.8 * sin(seed + 0.37 * (double)i);
    }
    cr_assert_eq(nb_node_write_f64(g, n, v, k), NB_OK, "%s", nb_graph_error(g));
    free(v);
}

/* Asserts a and b hold exactly the same values. */
static void same_values(nb_graph *ga, nb_node *a, nb_graph *gb, nb_node *b, const char *what)
{
    cr_assert_eq(nb_node_size(a), nb_node_size(b), "%s: sizes differ", what);
    double *u = eval(ga, a), *w = eval(gb, b);
    for (size_t i = 0; i < nb_node_size(a); i++) {
        cr_assert_eq(u[i], w[i], "%s[%zu]: %.17g (model) and %.17g (C)", what, i, u[i], w[i]);
    }
    free(u);
    free(w);
}

/* ---- an unrolled model is the graph nb_*_unroll builds ---- */

enum { RNN, LSTM, GRU };

/*
 * The model of a cell over x [2, T, 3] with hidden size 4, each step's h
 * reshaped to [2, 1, 4] and the steps joined, as nb_*_unroll returns them.
 */
static nb_graph *unrolled_model(int kind, int T, const char *extra)
{
    static const int rows[] = { 4, 16, 12 };
    char outs[256] = "";
    for (int t = 0, at = 0; t < T; t++) {
        at += snprintf(outs + at, sizeof outs - (size_t)at, "o_%d, ", t);
    }
    char src[2048];
    snprintf(src, sizeof src,
             "input x[2, %d, 3]\n"
             "param W_ih[%d, 3] = zeros\n"
             "param W_hh[%d, 4] = zeros\n"
             "param b_ih[%d] = zeros\n"
             "param b_hh[%d] = zeros\n"
             "h = fill([2, 4], 0)\n"
             "%s"
             "for t in 0..%d {\n"
             "  %s\n"
             "  o = reshape(h, [2, 1, 4])\n"
             "}\n"
             "%s\n",
             T, rows[kind], rows[kind], rows[kind], rows[kind],
             kind == LSTM ? "c = fill([2, 4], 0)\n" : "", T,
             kind == LSTM  ? "h, c = lstm_cell(x[:, t], h, c, W_ih, W_hh, b_ih, b_hh)"
             : kind == GRU ? "h = gru_cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)"
                           : (extra ? extra : "h = rnn_cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)"),
             "");
    size_t at = strlen(src);
    if (T == 1) {
        snprintf(src + at, sizeof src - at, "y = o * 1\n");
    } else {
        outs[strlen(outs) - 2] = '\0';
        snprintf(src + at, sizeof src - at, "y = concat(%s, axis=1)\n", outs);
    }
    return parse(src);
}

/*
 * Builds the same in C with nb_*_unroll, copies its parameters and x into the
 * model, and compares: node count, depth over ops and scopes, the output's
 * values and the gradient of sum(y) with respect to every parameter, exactly.
 */
static void compare_with_unroll(int kind, int T, nb_rnn_nonlinearity act, const char *line)
{
    nb_graph *m = unrolled_model(kind, T, line);
    nb_graph *c = nb_graph_new();
    nb_node *x = nb_input(c, NB_DTYPE_F64, NB_SHAPE(2, T, 3));
    nb_node *w[4], *y = NULL;
    if (kind == LSTM) {
        nb_lstm_cell cell = nb_lstm_cell_new(c, "lstm", NB_DTYPE_F64, 3, 4);
        nb_node *hl, *cl;
        y = nb_lstm_unroll(c, &cell, x, NULL, NULL, NULL, &hl, &cl);
        memcpy(w, (nb_node *[]){ cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh },
               sizeof w);
    } else if (kind == GRU) {
        nb_gru_cell cell = nb_gru_cell_new(c, "gru", NB_DTYPE_F64, 3, 4);
        y = nb_gru_unroll(c, &cell, x, NULL, NULL, NULL);
        memcpy(w, (nb_node *[]){ cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh },
               sizeof w);
    } else {
        nb_rnn_cell cell = nb_rnn_cell_new(c, "rnn", NB_DTYPE_F64, 3, 4, act);
        y = nb_rnn_unroll(c, &cell, x, NULL, NULL, NULL);
        memcpy(w, (nb_node *[]){ cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh },
               sizeof w);
    }
    ASSERT_OK(c);
    nb_node *my = node(m, "y");
    if (T == 1) {
        /* one step is not joined in C; the model has o * 1 (a constant and a product) */
        cr_assert_eq(nb_graph_node_count(m), nb_graph_node_count(c) + 2);
    } else {
        cr_assert_eq(nb_graph_node_count(m), nb_graph_node_count(c), "model %zu nodes, C %zu",
                     nb_graph_node_count(m), nb_graph_node_count(c));
    }
    cr_assert_eq(nb_depth(m, my, NB_DEPTH_OPS), nb_depth(c, y, NB_DEPTH_OPS) + (T == 1));
    cr_assert_eq(nb_depth(m, my, NB_DEPTH_SCOPES), nb_depth(c, y, NB_DEPTH_SCOPES) + (T == 1));
    static const char *const names[4] = { "W_ih", "W_hh", "b_ih", "b_hh" };
    nb_node *mw[4];
    fill_leaf(c, x, 0.1);
    size_t k = nb_node_size(x);
    double *xv = malloc(k * sizeof *xv);
    nb_node_read_f64(c, x, xv, k);
    nb_node_write_f64(m, node(m, "x"), xv, k);
    free(xv);
    for (int i = 0; i < 4; i++) {
        mw[i] = node(m, names[i]);
        k = nb_node_size(w[i]);
        double *v = malloc(k * sizeof *v);
        nb_node_read_f64(c, w[i], v, k);
        cr_assert_eq(nb_node_write_f64(m, mw[i], v, k), NB_OK);
        free(v);
    }
    same_values(m, my, c, y, "y");
    nb_node *gm[4], *gc[4];
    cr_assert_eq(nb_grad(m, nb_sum(m, my), 4, mw, gm), NB_OK, "%s", nb_graph_error(m));
    cr_assert_eq(nb_grad(c, nb_sum(c, y), 4, w, gc), NB_OK, "%s", nb_graph_error(c));
    for (int i = 0; i < 4; i++) {
        same_values(m, gm[i], c, gc[i], names[i]);
    }
    nb_graph_free(c);
    nb_graph_free(m);
}

Test(loop_unroll, lstm_loop_is_nb_lstm_unroll,
     .description = "for t in 0..3 { h, c = lstm_cell(x[:, t], h, c, ...) } builds as many nodes "
                    "as nb_lstm_unroll, of the same depth over ops and scopes, with the same "
                    "output and gradients to the last bit")
{
    compare_with_unroll(LSTM, 3, NB_RNN_TANH, NULL);
}

Test(loop_unroll, rnn_and_gru_loops_are_their_unrolls,
     .description = "the same for rnn_cell (tanh and nonlinearity=relu) and gru_cell, T = 1, 2, 4")
{
    for (int T = 1; T <= 4; T *= 2) {
        compare_with_unroll(RNN, T, NB_RNN_TANH, NULL);
        compare_with_unroll(RNN, T, NB_RNN_RELU,
                            "h = rnn_cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh, nonlinearity=relu)");
        compare_with_unroll(GRU, T, NB_RNN_TANH, NULL);
    }
}

Test(loop_unroll, depth_over_scopes_counts_the_steps,
     .description = "the last h of a tanh RNN unrolled over T = 1, 2, 4, 8 steps has depth T over "
                    "scopes and 4T + 2 over ops (matmul, add, add, tanh a step, and the first "
                    "step's slice and reshape of x), as nb_rnn_unroll's")
{
    for (int T = 1; T <= 8; T *= 2) {
        char src[512];
        snprintf(src, sizeof src,
                 "const T = %d\n"
                 "input x[2, %d, 3]\n"
                 "param W_ih[4, 3] = normal(0, 1)\n"
                 "param W_hh[4, 4] = normal(0, 1)\n"
                 "param b_ih[4] = zeros\n"
                 "param b_hh[4] = zeros\n"
                 "h = fill([2, 4], 0)\n"
                 "for t in 0..T {\n"
                 "  h = rnn_cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)\n"
                 "}\n",
                 T, T);
        nb_graph *m = parse(src);
        char last[16];
        snprintf(last, sizeof last, "h_%d", T - 1);
        nb_node *h = node(m, last);
        cr_expect_eq(nb_depth(m, h, NB_DEPTH_SCOPES), T, "T = %d", T);
        nb_graph *c = nb_graph_new();
        nb_rnn_cell cell = nb_rnn_cell_new(c, "rnn", NB_DTYPE_F64, 3, 4, NB_RNN_TANH);
        nb_node *hl;
        nb_rnn_unroll(c, &cell, nb_input(c, NB_DTYPE_F64, NB_SHAPE(2, T, 3)), NULL, NULL, &hl);
        ASSERT_OK(c);
        cr_expect_eq(nb_depth(m, h, NB_DEPTH_SCOPES), nb_depth(c, hl, NB_DEPTH_SCOPES));
        cr_expect_eq(nb_depth(m, h, NB_DEPTH_OPS), nb_depth(c, hl, NB_DEPTH_OPS));
        cr_expect_eq(nb_depth(m, h, NB_DEPTH_OPS), 4 * T + 2, "T = %d", T);
        nb_graph_free(c);
        nb_graph_free(m);
    }
}

/* ---- names, scopes, carried and local variables ---- */

Test(loop_names, steps_name_their_nodes_and_scopes,
     .description = "h = ... in step t is the node h_t in scope step[t]; after the loop h is the "
                    "last step's node and a name first assigned in the body keeps its last value")
{
    nb_graph *g = parse("input x[3] = [1, 2, 3]\n"
                        "h = x * 1\n"
                        "for t in 0..3 {\n"
                        "  d = h + 1\n"
                        "  h = d * 2\n"
                        "}\n"
                        "y = h + d\n");
    for (int t = 0; t < 3; t++) {
        char n[8];
        snprintf(n, sizeof n, "h_%d", t);
        char sc[16];
        snprintf(sc, sizeof sc, "step[%d]", t);
        cr_expect_str_eq(nb_node_scope(node(g, n)), sc);
        snprintf(n, sizeof n, "d_%d", t);
        cr_expect_str_eq(nb_node_scope(node(g, n)), sc);
    }
    cr_expect_eq(nb_node_input(node(g, "y"), 0), node(g, "h_2"));
    cr_expect_eq(nb_node_input(node(g, "y"), 1), node(g, "d_2"));
    /* for x = 1, h: 1 -> 4 -> 10 -> 22 and y = h_2 + d_2 = 22 + 11; for 2 and 3, 30 + 15, 38 + 19 */
    double *v = eval(g, node(g, "y"));
    cr_expect_eq(v[0], 33);
    cr_expect_eq(v[1], 45);
    cr_expect_eq(v[2], 57);
    free(v);
    nb_graph_free(g);
}

Test(loop_names, nested_loops_name_nodes_by_both_steps,
     .description = "for s in 0..2 { for t in 0..3 { a = ... } } makes a_0_0 .. a_1_2, each in "
                    "step[t] inside step[s]; the inner variable may use the outer one")
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "acc = x * 0\n"
                        "for s in 0..2 {\n"
                        "  for t in 0..3 {\n"
                        "    a = acc + x[s, t]\n"
                        "    acc = a * 1\n"
                        "  }\n"
                        "}\n"
                        "y = sum(acc)\n");
    nb_node *a = node(g, "a_1_2");
    cr_expect_str_eq(nb_node_scope(a), "step[2]");
    cr_expect_str_eq(nb_node_scope_at(a, 1), "step[1]");
    cr_expect_str_eq(nb_node_scope_at(node(g, "a_0_1"), 1), "step[0]");
    /* acc ends as [21, 21, 21] (every x added to each element) */
    double *v = eval(g, node(g, "y"));
    cr_expect_eq(v[0], 126, "%g", v[0]);
    free(v);
    /* acc = x * 0 is one element before the loop; then 2 outer steps, or 6 inner ones */
    cr_expect_eq(nb_depth(g, node(g, "acc_1_2"), 1), 3);
    cr_expect_eq(nb_depth(g, node(g, "acc_1_2"), 2), 7);
    nb_graph_free(g);
}

Test(loop_index, index_forms,
     .description = "x[:, t] is slice + reshape; x[t] keeps the axes after it; x[-1] counts from "
                    "the end; a scalar const and arithmetic on the loop variable are numbers in "
                    "an index (x[:, T - 1 - t] runs backwards)")
{
    nb_graph *g = parse("const T = 3\n"
                        "input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "a = x[:, 1]\n"
                        "b = x[1]\n"
                        "c = x[-1, -1]\n"
                        "r = fill([2], 0)\n"
                        "for t in 0..T {\n"
                        "  r = r * 10 + x[:, T - 1 - t]\n"
                        "}\n");
    nb_node *a = node(g, "a");
    cr_assert_eq(nb_node_rank(a), 1);
    cr_expect_str_eq(nb_node_op_name(nb_node_input(a, 0)), "slice");
    double *v = eval(g, a);
    cr_expect(v[0] == 2 && v[1] == 5);
    free(v);
    v = eval(g, node(g, "b"));
    cr_expect(nb_node_size(node(g, "b")) == 3 && v[0] == 4 && v[2] == 6);
    free(v);
    cr_expect_eq(nb_node_rank(node(g, "c")), 0);
    v = eval(g, node(g, "c"));
    cr_expect_eq(v[0], 6);
    free(v);
    v = eval(g, node(g, "r_2"));
    cr_expect(v[0] == 321 && v[1] == 654, "%g %g", v[0], v[1]);
    free(v);
    nb_graph_free(g);
}

/* ---- written back, read again ---- */

static char *write_model(nb_graph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    nb_status s = nb_model_write(g, f);
    fclose(f);
    cr_assert_eq(s, NB_OK, "nb_model_write: %s", nb_graph_error(g));
    return text;
}

Test(loop_write, an_unrolled_model_reads_back_as_the_same_graph,
     .description = "nb_model_write writes the unrolled graph, each step as scope step[t] { } "
                    "with the cell's scope inside; parsing it gives the same nodes (names, "
                    "expressions, scopes) and loss; writing that gives the same text")
{
    nb_graph *a = parse("input x[2, 3, 2]\n"
                        "input y[2, 3] : i32\n"
                        "param E[2, 5] = normal(0, 1)\n"
                        "param W_ih[16, 2] = normal(0, 0.5)\n"
                        "param W_hh[16, 4] = normal(0, 0.5)\n"
                        "param b_ih[16] = normal(0, 0.5)\n"
                        "param b_hh[16] = normal(0, 0.5)\n"
                        "param W[4, 5] = normal(0, 0.5)\n"
                        "h = fill([2, 4], 0)\n"
                        "c = fill([2, 4], 0)\n"
                        "Y = one_hot(y, 5)\n"
                        "total = 0\n"
                        "for t in 0..3 {\n"
                        "  h, c = lstm_cell(x[:, t], h, c, W_ih, W_hh, b_ih, b_hh)\n"
                        "  total = total - sum(log_softmax(h @ W) * Y[:, t])\n"
                        "}\n"
                        "loss = total / 6\n");
    fill_leaf(a, node(a, "x"), 0.3);
    char *text = write_model(a);
    cr_expect_not_null(strstr(text, "scope step[0] {\n"
                                    "  slice_1 = slice(x, axis=1, stop=1)\n"
                                    "  reshape_1 = reshape(slice_1, [2, 2])\n"
                                    "  scope lstm {\n"),
                       "%s", text);
    cr_expect_not_null(strstr(text, "scope step[2] {\n"), "%s", text);
    cr_expect_not_null(strstr(text, "    h_2 = sigmoid_9 * tanh_6\n"), "%s", text);
    cr_expect_null(strstr(text, "for "), "%s", text);
    nb_graph *b = parse(text);
    cr_assert_eq(nb_graph_node_count(b), nb_graph_node_count(a));
    for (size_t i = 0; i < nb_graph_node_count(a); i++) {
        nb_node *u = nb_graph_node(a, i), *w = nb_graph_node(b, i);
        cr_assert_str_eq(nb_node_name(w), nb_node_name(u));
        char eu[256], ew[256];
        nb_node_expression(u, eu, sizeof eu);
        nb_node_expression(w, ew, sizeof ew);
        cr_assert_str_eq(ew, eu, "%s", nb_node_name(u));
        const char *su = nb_node_scope(u), *sw = nb_node_scope(w);
        cr_assert_str_eq(sw ? sw : "", su ? su : "", "%s", nb_node_name(u));
    }
    same_values(b, node(b, "loss"), a, node(a, "loss"), "loss");
    cr_expect_eq(nb_depth(b, node(b, "loss"), NB_DEPTH_SCOPES),
                 nb_depth(a, node(a, "loss"), NB_DEPTH_SCOPES));
    char *again = write_model(b);
    cr_expect_str_eq(again, text);
    free(again);
    free(text);
    nb_graph_free(b);
    nb_graph_free(a);
}

Test(loop_write, indexed_scope_names,
     .description = "scope step[3] { reads as the scope named step[3]; the writer takes a name "
                    "and an index in brackets but not a leading zero")
{
    nb_graph *g = parse("input x[2]\nscope step[3] {\n  y = x * 2\n}\n");
    cr_expect_str_eq(nb_node_scope(node(g, "y")), "step[3]");
    nb_graph_free(g);
    g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_scope_push(g, "step[03]");
    nb_node_set_name(g, nb_exp(g, x), "y");
    nb_scope_pop(g);
    char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    cr_expect_eq(nb_model_write(g, f), NB_ERR_ARG);
    fclose(f);
    cr_expect_str_eq(nb_graph_error(g), "model_write: the scope name 'step[03]' is not a name "
                                        "the model language accepts");
    nb_graph_free(g);
}

/* ---- the example models ---- */

static nb_graph *parse_file(const char *path)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    cr_assert_eq(nb_model_parse_file(g, path, NULL, &err), NB_OK, "%s:%d:%d: %s", path, err.line,
                 err.column, err.message);
    return g;
}

Test(loop_examples, rnn_unrolled_model,
     .description = "examples/models/rnn_unrolled.nb: loss has depth 20 over ops and 6 over "
                    "scopes (4 steps, the readout and the loss)")
{
    nb_graph *g = parse_file(NB_SOURCE_DIR "/examples/models/rnn_unrolled.nb");
    nb_node *loss = node(g, "loss");
    cr_expect_eq(nb_depth(g, loss, NB_DEPTH_OPS), 20);
    cr_expect_eq(nb_depth(g, loss, NB_DEPTH_SCOPES), 6);
    cr_expect_str_eq(nb_node_scope(node(g, "h_3")), "rnn");
    cr_expect_str_eq(nb_node_scope_at(node(g, "h_3"), 1), "step[3]");
    nb_graph_free(g);
}

Test(loop_examples, names_lstm_model,
     .description = "examples/models/names_lstm.nb: an LSTM over 16 steps; loss (nats per "
                    "character) starts near log 27 = 3.30, its depth over scopes is 19 (16 steps "
                    "and the targets' three nodes before them) and its gradient reaches every "
                    "parameter")
{
    nb_graph *g = parse_file(NB_SOURCE_DIR "/examples/models/names_lstm.nb");
    nb_node *loss = node(g, "loss");
    cr_expect_eq(nb_depth(g, loss, NB_DEPTH_SCOPES), 19);
    cr_expect_str_eq(nb_node_scope_at(node(g, "h_15"), 1), "step[15]");
    double *v = eval(g, loss);
    cr_expect(v[0] > 3.0 && v[0] < 3.4, "loss %g", v[0]);
    free(v);
    const char *params[] = { "E", "W_ih", "W_hh", "b_ih", "b_hh", "W", "b" };
    nb_node *p[7], *d[7];
    for (int i = 0; i < 7; i++) {
        p[i] = node(g, params[i]);
    }
    cr_assert_eq(nb_grad(g, loss, 7, p, d), NB_OK, "%s", nb_graph_error(g));
    nb_graph_free(g);
}

/* ---- errors ---- */

Test(loop_errors, ranges,
     .description = "an empty, negative, fractional, too long or undefined range, and a bound "
                    "that is not a scalar const")
{
    parse_error("for t in 0..0 {\n}\n", 1, 10,
                "the loop range 0..0 is empty; a loop runs at least one step");
    parse_error("for t in 0..-2 {\n}\n", 1, 10,
                "the loop range 0..-2 is empty; a loop runs at least one step");
    parse_error("for t in -1..2 {\n}\n", 1, 10, "the loop range -1..2 starts below 0");
    parse_error("for t in 0..2.5 {\n}\n", 1, 13, "the loop bound 2.5 is not a whole number");
    parse_error("const T = 2.5\nfor t in 0..T {\n}\n", 2, 13,
                "the loop bound 2.5 is not a whole number");
    parse_error("for t in 0..1025 {\n}\n", 1, 10,
                "the loop range 0..1025 has 1025 steps; a loop runs at most 1024");
    parse_error("for t in 0..T {\n}\n", 1, 13,
                "'T' is not defined; a loop bound is a whole number or the name of a scalar "
                "const");
    parse_error("input x[2]\nfor t in 0..x {\n}\n", 2, 13,
                "'x' is not a scalar const; a loop bound is a whole number or the name of a "
                "scalar const");
    parse_error("for t in 0..5 {\n  for s in 0..1024 {\n  }\n}\n", 2, 3,
                "this loop brings the model's unrolled steps to 4101; the loops of a model run "
                "at most 4096 steps in all (in step t = 3)");
    parse_error("for t 0..3 {\n}\n", 1, 7, "expected 'in', found '0'");
    parse_error("for t in 0:3 {\n}\n", 1, 11, "expected '..', found ':'");
    parse_error("for t in 0..3\n}\n", 1, 14, "expected '{', found the end of the line");
    parse_error("for t in 0..3 { y = 1\n}\n", 1, 17, "expected the end of the line, found 'y'");
    parse_error("for 3 in 0..3 {\n}\n", 1, 5, "expected a loop variable, found '3'");
    parse_error("for t in ..3 {\n}\n", 1, 10,
                "expected a whole number or the name of a scalar const, found '..'");
}

Test(loop_errors, variables_and_names,
     .description = "the loop variable is new and read-only; declarations stay out of loops; a "
                    "name is assigned once a step; a step's name must be free; nested loops "
                    "need their own variables; an unclosed loop")
{
    parse_error("input x[2]\nfor x in 0..3 {\n}\n", 2, 5,
                "'x' is already defined (at 1:7); a loop variable needs a new name");
    parse_error("for sum in 0..3 {\n}\n", 1, 5,
                "'sum' is a keyword or a function; choose another name");
    parse_error("input x[2]\nfor t in 0..3 {\n  t = exp(x)\n}\n", 3, 3,
                "'t' is the variable of the loop at 2:5; it cannot be assigned (in step t = 0)");
    parse_error("input x[2]\nfor t in 0..3 {\n  x = exp(x)\n}\n", 3, 3,
                "'x' is declared at 1:7; a loop may assign only names given by '=' (in step t = "
                "0)");
    parse_error("for t in 0..3 {\n  param w = 1\n}\n", 2, 3,
                "'param' cannot stand in a loop, as each step would declare a new leaf; declare "
                "it before the loop (in step t = 0)");
    parse_error("input x[2]\nfor t in 0..3 {\n  y = exp(x)\n  y = exp(y)\n}\n", 4, 3,
                "'y' is already assigned in this step (at 3:3); assign it once a step (in step "
                "t = 0)");
    parse_error("input x[2]\nh_1 = exp(x)\nh = exp(x)\nfor t in 0..3 {\n  h = exp(h)\n}\n", 5, 3,
                "'h_1', the name of h in this step, is already defined (at 2:1) (in step t = 1)");
    parse_error("input x[2]\nfor t in 0..3 {\n  h = exp(x)\n}\nh = exp(x)\n", 5, 1,
                "'h' is already defined (at 3:3)");
    parse_error("for t in 0..3 {\n  for t in 0..2 {\n  }\n}\n", 2, 7,
                "'t' is already the variable of the loop at 1:5; a nested loop needs its own (in "
                "step t = 0)");
    parse_error("input x[2]\nfor t in 0..3 {\n  y = x * 2\n", 2, 15,
                "this loop is not closed: a '}' is missing");
    parse_error("input x[2]\nfor t in 0..3 {\n  y = x * 2\n}\nz = x * t\n", 5, 9,
                "'t' is not a defined name");
}

Test(loop_errors, indexes,
     .description = "an index out of range (in the step that goes out), an unknown loop "
                    "variable, too many entries, no number, a wrong entry or bracket")
{
    parse_error("input x[2, 3]\nfor t in 0..4 {\n  y = x[:, t]\n}\n", 3, 12,
                "index 3 is out of range for axis 1 of x[2,3] (size 3) (in step t = 3)");
    /* as docs/cli.md shows it */
    parse_error("input x[1, 4, 2]\nfor t in 0..5 {\n  y = x[:, t]\n}\n", 3, 12,
                "index 4 is out of range for axis 1 of x[1,4,2] (size 4) (in step t = 4)");
    parse_error("input x[2, 3]\ny = x[-3]\n", 2, 8,
                "index -3 is out of range for axis 0 of x[2,3] (size 2)");
    parse_error("input x[2, 3]\nfor t in 0..3 {\n  y = x[:, s]\n}\n", 3, 12,
                "'s' is not a loop variable or a scalar const; an index entry is ':' or a whole "
                "number (in step t = 0)");
    parse_error("input x[2, 3]\ny = x[:, 0, 0]\n", 2, 6,
                "x[2,3] has 2 axes but the index has 3 entries");
    parse_error("input x[2, 3]\ny = x[:, :]\n", 2, 6,
                "this index keeps every axis of x[2,3] whole; give a whole number for one");
    parse_error("input x[2, 3]\ny = x[0.5]\n", 2, 7,
                "an index entry is ':' or a whole number (a number, a loop variable or a scalar "
                "const)");
    parse_error("input x[2, 3]\ny = x[x]\n", 2, 7,
                "an index entry is ':' or a whole number (a number, a loop variable or a scalar "
                "const)");
    parse_error("input x[2, 3]\ny = 3[1]\n", 2, 6, "only a node can be indexed, as in x[:, t]");
    parse_error("input x[2, 3]\ny = x[1, 2)\n", 2, 11, "expected ']', found ')'");
    parse_error("input x[2, 3]\ny = exp(x]\n", 2, 10, "expected ')', found ']'");
    parse_error("input x[2, 3]\ny = x[1\n", 2, 6, "this '[' is not closed: a ']' is missing");
    parse_error("input x[2, 3]\ny = x + :\n", 2, 9, "expected an expression, found ':'");
    parse_error("input x[2, 3]\ny = exp(x)]\n", 2, 11, "unmatched ']'");
}

Test(loop_errors, cells,
     .description = "the cells' forms, their weights' and states' shapes, and their two values")
{
    const char *decl = "input x[2, 3]\n"
                       "input h[2, 4]\n"
                       "param A[16, 3] = zeros\n"
                       "param B[16, 4] = zeros\n"
                       "param b[16] = zeros\n"
                       "param r[4, 3] = zeros\n";
    char src[1024];
#define CELL_ERROR(line_text, col, msg)                                                            \
    do {                                                                                           \
        snprintf(src, sizeof src, "%s%s\n", decl, line_text);                                      \
        parse_error(src, 7, col, msg);                                                             \
    } while (0)
    CELL_ERROR("y = lstm_cell(x, h, h, A, B, b)", 5,
               "lstm_cell takes lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh); got 6 positional "
               "arguments");
    CELL_ERROR("y = gru_cell(x, h, A, B, b, b, axis=1)", 37,
               "gru_cell has no argument 'axis'; it takes gru_cell(x, h, W_ih, W_hh, b_ih, b_hh)");
    CELL_ERROR("y = rnn_cell(x, h, r, B, b, b, nonlinearity=sigmoid)", 45,
               "rnn_cell: nonlinearity must be tanh or relu");
    CELL_ERROR("y, z = lstm_cell(x, h, h, A, A, b, b)", 30,
               "lstm_cell: W_hh must be [4H, H] (H the hidden size); got A[16,3]");
    CELL_ERROR("y, z = lstm_cell(x, h, h, r, B, b, b)", 27,
               "lstm_cell: W_ih must be [16, I] (4H rows, H = 4 from W_hh); got r[4,3]");
    CELL_ERROR("y, z = lstm_cell(x, h, h, A, B, h, b)", 33,
               "lstm_cell: b_ih must be [16] (4H, H = 4 from W_hh); got h[2,4]");
    CELL_ERROR("y, z = lstm_cell(h, h, h, A, B, b, b)", 18,
               "lstm_cell: x must be [2, 3] (I = 3 from W_ih); got h[2,4]");
    CELL_ERROR("y, z = lstm_cell(x, x, h, A, B, b, b)", 21,
               "lstm_cell: h must be [2, 4] (x's batch, H = 4 from W_hh); got x[2,3]");
    CELL_ERROR("y = lstm_cell(x, h, h, A, B, b, b)", 5,
               "lstm_cell gives two values, h and c: assign them with h, c = lstm_cell(...)");
    CELL_ERROR("y = 1 + lstm_cell(x, h, h, A, B, b, b)", 9,
               "lstm_cell gives two values, h and c: assign them with h, c = lstm_cell(...)");
    CELL_ERROR("y, z = exp(x)", 1,
               "two names take the two values of lstm_cell; this expression gives one");
    CELL_ERROR("y, z = lstm_cell(x, h, h, A, B, b, b) * 2", 8,
               "lstm_cell gives two values, h and c: assign them with h, c = lstm_cell(...)");
    CELL_ERROR("lstm_cell = exp(x)", 1,
               "'lstm_cell' is a keyword or a function; choose another name");
#undef CELL_ERROR
    /* a weight or state of the wrong shape is a shape error, the others format errors */
    nb_graph *g = nb_graph_new();
    nb_parse_error err;
    snprintf(src, sizeof src, "%sy, z = lstm_cell(x, x, h, A, B, b, b)\n", decl);
    cr_expect_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_ERR_SHAPE);
    nb_graph_free(g);
    g = nb_graph_new();
    snprintf(src, sizeof src, "%sy = lstm_cell(x, h, h, A, B, b, b)\n", decl);
    cr_expect_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_ERR_FORMAT);
    nb_graph_free(g);
}

Test(loop_errors, a_model_error_in_a_later_step_names_the_step,
     .description = "an engine error in the body reports the step it happened in")
{
    parse_error("input x[2, 3]\nh = x * 1\nfor t in 0..2 {\n  h = h @ x\n}\n", 4, 9,
                "matmul: inner dimensions 3 and 2 differ (h[2,3] @ x[2,3]) (in step t = 0)");
}

Test(loop_write, a_scalar_element_reads_back,
     .description = "x[1, 2] is a scalar: the writer writes its reshape as reshape(s, []), which "
                    "reads back as the same node; [] elsewhere is still an empty literal")
{
    nb_graph *a = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\ny = x[1, 2] * 2\n");
    char *text = write_model(a);
    cr_expect_not_null(strstr(text, "reshape_1 = reshape(slice_2, [])\n"), "%s", text);
    nb_graph *b = parse(text);
    same_values(b, node(b, "y"), a, node(a, "y"), "y");
    cr_expect_eq(nb_node_rank(node(b, "reshape_1")), 0);
    free(text);
    nb_graph_free(b);
    nb_graph_free(a);
    parse_error("input x[2]\ny = x + []\n", 2, 10, "empty list: a literal needs numbers");
}

Test(loop_names, a_long_loop_grows_the_name_table,
     .description = "100 steps of two carried names make 200 step names; after the loop a is "
                    "a_99 = 100 and b is b_99 = 5050")
{
    nb_graph *g = parse("input x = 0\n"
                        "a = x + 0\n"
                        "b = x + 0\n"
                        "for t in 0..100 {\n"
                        "  a = a + 1\n"
                        "  b = b + a\n"
                        "}\n"
                        "y = a * 1\n"
                        "z = b * 1\n");
    cr_expect_eq(nb_node_input(node(g, "y"), 0), node(g, "a_99"));
    double *v = eval(g, node(g, "z"));
    cr_expect_eq(v[0], 5050);
    free(v);
    v = eval(g, node(g, "a_57"));
    cr_expect_eq(v[0], 58);
    free(v);
    nb_graph_free(g);
}
