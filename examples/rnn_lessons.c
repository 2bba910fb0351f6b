/*
 * examples/rnn_lessons.c: the two recurrent-network lessons of docs/teaching.md,
 * computed from the graphs themselves.
 *
 *   rnn_lessons [--svg FILE]
 *
 * 1. Depth of the unrolled names model (embedding 32, LSTM 128, linear to 27,
 *    cross-entropy) for T = 1, 2, 4, 8, 16 steps, over ops and over scopes
 *    (each step is a scope "step"), for the loss and for its gradient with
 *    respect to the embedding table (the first layer, so its path crosses the
 *    whole forward pass and the whole backward pass).
 * 2. Vanishing gradients (Deep Learning, section 10.7): the norm of
 *    dLoss/dh_t for every step t of one sequence of names, the loss being the
 *    prediction of its last symbol, for a tanh RNN, an LSTM as PyTorch
 *    initializes it, and the same LSTM with 1 added to its forget gate's bias
 *    (section 10.10.1). With --svg, also draws that table as a plot.
 * Everything is deterministic (fixed seeds, float64 for lesson 2), so
 * tests/test_docs.c checks the output against the docs byte for byte.
 */
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SYMBOLS = 27, EMBED = 32, HIDDEN = 128 };

static void die(nb_graph *g, const char *what)
{
    fprintf(stderr, "rnn_lessons: %s: %s\n", what, g ? nb_graph_error(g) : "failed");
    exit(1);
}

/* ---- lesson 1: depth ---- */

/* Prints the depths of the names model unrolled over T steps and stores them in d[4]. */
static void depth_row(int64_t T, int d[4])
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, 1);
    nb_embedding_layer emb = nb_embedding_layer_new(g, "embed", NB_DTYPE_F32, SYMBOLS, EMBED);
    nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F32, EMBED, HIDDEN);
    nb_linear out = nb_linear_new(g, "out", NB_DTYPE_F32, HIDDEN, SYMBOLS, true);
    nb_node *ids = nb_input(g, NB_DTYPE_I32, NB_SHAPE(1, T));
    nb_node *targets = nb_input(g, NB_DTYPE_I32, NB_SHAPE(T));
    nb_node *h = nb_lstm_unroll(g, &cell, nb_embedding_layer_apply(g, &emb, ids), NULL, NULL, NULL,
                                NULL, NULL);
    nb_node *logits = nb_reshape(g, nb_linear_apply(g, &out, h), NB_SHAPE(T, SYMBOLS));
    nb_node *loss = nb_cross_entropy_ignore(g, logits, targets, -1);
    nb_node *grad;
    nb_grad(g, loss, 1, &emb.weight, &grad);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "lesson 1");
    }
    d[0] = nb_depth(g, loss, NB_DEPTH_OPS);
    d[1] = nb_depth(g, loss, NB_DEPTH_SCOPES);
    d[2] = nb_depth(g, grad, NB_DEPTH_OPS);
    d[3] = nb_depth(g, grad, NB_DEPTH_SCOPES);
    printf("| %2lld | %3d | %2d | %3d | %2d |\n", (long long)T, d[0], d[1], d[2], d[3]);
    nb_graph_free(g);
}

/* ---- lesson 2: vanishing gradients ---- */

/* The sequence: five names and the start of a sixth, predicted one symbol at a time. */
static const char SEQUENCE[] = ".emma.olivia.ava.isabella.sophia.mia";
#define STEPS ((int)sizeof SEQUENCE - 2) /* inputs; the last symbol is only a target */

typedef enum kind { RNN, LSTM, LSTM_FORGET1, KINDS } kind;
static const char *const kind_names[KINDS] = { "tanh RNN", "LSTM", "LSTM, forget bias +1" };

static int32_t symbol(char c)
{
    return c == '.' ? 0 : c - 'a' + 1;
}

/*
 * Fills norm[t] with |dLoss/dh_t| (t = 0..STEPS-1) for one model of the given
 * kind, the loss being the cross-entropy of the last symbol given the rest.
 * Each step's state is the cell's output plus a zero input, so that the
 * gradient with respect to that input is the gradient with respect to h_t.
 */
static void gradient_norms(kind k, double *norm)
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, 1);
    nb_embedding_layer emb = nb_embedding_layer_new(g, "embed", NB_DTYPE_F64, SYMBOLS, EMBED);
    nb_rnn_cell rnn = { 0 };
    nb_lstm_cell lstm = { 0 };
    if (k == RNN) {
        rnn = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, EMBED, HIDDEN, NB_RNN_TANH);
    } else {
        lstm = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F64, EMBED, HIDDEN);
    }
    nb_linear out = nb_linear_new(g, "out", NB_DTYPE_F64, HIDDEN, SYMBOLS, true);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "lesson 2");
    }
    if (k == LSTM_FORGET1) { /* gates i, f, g, o: the forget gate's bias is rows H..2H-1 */
        double b[4 * HIDDEN];
        if (nb_node_read_f64(g, lstm.bias_ih, b, 4 * HIDDEN) != NB_OK) {
            die(g, "reading the bias");
        }
        for (int i = HIDDEN; i < 2 * HIDDEN; i++) {
            b[i] += 1;
        }
        if (nb_node_write_f64(g, lstm.bias_ih, b, 4 * HIDDEN) != NB_OK) {
            die(g, "writing the bias");
        }
    }
    nb_node *ids = nb_input(g, NB_DTYPE_I32, NB_SHAPE(1, STEPS));
    nb_node *target = nb_input(g, NB_DTYPE_I32, NB_SHAPE(1));
    nb_node *x = nb_embedding_layer_apply(g, &emb, ids); /* [1, STEPS, EMBED] */
    nb_node *h = nb_fill(g, NB_DTYPE_F64, NB_SHAPE(1, HIDDEN), 0), *c = h;
    nb_node *probe[STEPS];
    for (int t = 0; t < STEPS; t++) {
        nb_node *xt = nb_reshape(g, nb_slice(g, x, 1, t, t + 1, 1), NB_SHAPE(1, EMBED));
        if (k == RNN) {
            h = nb_rnn_cell_apply(g, &rnn, xt, h);
        } else {
            nb_lstm_cell_apply(g, &lstm, xt, h, c, &h, &c);
        }
        probe[t] = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, HIDDEN)); /* zeros */
        h = nb_add(g, h, probe[t]);
    }
    nb_node *loss = nb_cross_entropy(g, nb_linear_apply(g, &out, h), target);
    nb_node *grads[STEPS];
    nb_grad(g, loss, STEPS, probe, grads);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "lesson 2");
    }
    int32_t sym[STEPS], last = symbol(SEQUENCE[STEPS]);
    for (int t = 0; t < STEPS; t++) {
        sym[t] = symbol(SEQUENCE[t]);
    }
    double zeros[HIDDEN] = { 0 }, v[HIDDEN];
    for (int t = 0; t < STEPS; t++) {
        if (nb_node_write_f64(g, probe[t], zeros, HIDDEN) != NB_OK) {
            die(g, "lesson 2");
        }
    }
    if (nb_node_write(g, ids, sym, STEPS) != NB_OK || nb_node_write(g, target, &last, 1) != NB_OK ||
        nb_graph_run(g, STEPS, grads) != NB_OK) {
        die(g, "lesson 2");
    }
    for (int t = 0; t < STEPS; t++) {
        if (nb_node_read_f64(g, grads[t], v, HIDDEN) != NB_OK) {
            die(g, "lesson 2");
        }
        double s = 0;
        for (int i = 0; i < HIDDEN; i++) {
            s += v[i] * v[i];
        }
        norm[t] = sqrt(s);
    }
    nb_graph_free(g);
}

/* ---- the plot ---- */

/* A log-scale line plot of norms[kind][t], t = 1..STEPS, as a small standalone SVG. */
static bool write_svg(const char *path, double norms[KINDS][STEPS])
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "rnn_lessons: cannot write %s\n", path);
        return false;
    }
    const double W = 640, H = 400, left = 70, right = 20, top = 40, bottom = 50;
    double lo = floor(log10(norms[0][0])), hi = 0;
    for (int k = 0; k < KINDS; k++) {
        for (int t = 0; t < STEPS; t++) {
            lo = fmin(lo, floor(log10(norms[k][t])));
            hi = fmax(hi, ceil(log10(norms[k][t])));
        }
    }
    const double pw = W - left - right, ph = H - top - bottom;
#define PX(t) (left + pw * ((t)-1) / (STEPS - 1))
#define PY(v) (top + ph * (hi - log10(v)) / (hi - lo))
    const char *colors[KINDS] = { "#d62728", "#1f77b4", "#2ca02c" };
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">"
            "|dLoss/dh_t| for the last symbol of \"%s\"</text>\n",
            W, H, W, H, W / 2, SEQUENCE);
    for (double e = lo; e <= hi; e++) {
        double y = PY(pow(10, e));
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">1e%+03.0f</text>\n",
                left, y, W - right, y, left - 6, y + 4, e);
    }
    for (int t = 1; t <= STEPS; t += t == 1 ? 4 : 5) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", PX(t),
                H - bottom + 18, t);
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"black\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">step t (the loss is at step %d)"
            "</text>\n",
            left, top, pw, ph, left + pw / 2, H - 12, STEPS);
    for (int k = 0; k < KINDS; k++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[k]);
        for (int t = 0; t < STEPS; t++) {
            fprintf(f, "%s%.1f,%.1f", t ? " " : "", PX(t + 1), PY(norms[k][t]));
        }
        fprintf(f, "\"/>\n");
        double ly = top + 20 + 18 * k;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                left + 16, ly, left + 40, ly, colors[k], left + 46, ly + 4, kind_names[k]);
    }
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    bool ok = fflush(f) == 0 && !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok) {
        fprintf(stderr, "rnn_lessons: error writing %s\n", path);
    }
    return ok;
}

int main(int argc, char **argv)
{
    const char *svg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--svg") == 0 && i + 1 < argc) {
            svg = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--svg FILE]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    printf("lesson 1: depth of the names model unrolled over T steps\n"
           "(loss: cross-entropy of every step; gradient: dLoss/d embed_weight)\n\n"
           "|  T | loss, ops | loss, scopes | gradient, ops | gradient, scopes |\n"
           "| -: | --: | -: | --: | -: |\n");
    int d8[4], d16[4];
    for (int64_t T = 1; T <= 16; T *= 2) {
        depth_row(T, T == 16 ? d16 : d8); /* d8 ends with T = 8's */
    }
    printf("\neach step from T = 8 to 16 adds %g ops and %g scope to the loss, "
           "%g ops and %g scopes to the gradient\n",
           (d16[0] - d8[0]) / 8.0, (d16[1] - d8[1]) / 8.0, (d16[2] - d8[2]) / 8.0,
           (d16[3] - d8[3]) / 8.0);

    static double norms[KINDS][STEPS];
    for (int k = 0; k < KINDS; k++) {
        gradient_norms((kind)k, norms[k]);
    }
    printf("\nlesson 2: |dLoss/dh_t| for the last symbol of \"%s\"\n\n"
           "|  t | %s | %s | %s |\n| -: | --: | --: | --: |\n",
           SEQUENCE, kind_names[0], kind_names[1], kind_names[2]);
    for (int t = 0; t < STEPS; t++) {
        printf("| %2d | %.2e | %.2e | %.2e |\n", t + 1, norms[0][t], norms[1][t], norms[2][t]);
    }
    printf("\nfrom step 1 to step %d the gradient grows by %.1e (%s), %.1e (%s), %.1e (%s)\n",
           STEPS, norms[0][STEPS - 1] / norms[0][0], kind_names[0],
           norms[1][STEPS - 1] / norms[1][0], kind_names[1], norms[2][STEPS - 1] / norms[2][0],
           kind_names[2]);
    printf("at step 1 the LSTM's gradient is %.0f times the tanh RNN's\n",
           norms[1][0] / norms[0][0]);
    if (svg && !write_svg(svg, norms)) {
        return 1;
    }
    return 0;
}
