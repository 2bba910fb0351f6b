/*
 * layers/rnn.c: the recurrent cells torch.nn.RNNCell, LSTMCell and GRUCell,
 * built from ordinary ops with PyTorch's weight layout (gates stacked along
 * the rows of weight_ih [G*H, I] and weight_hh [G*H, H]), and the unrolling
 * of a cell over a batch-first sequence. Each step is the two products
 * x @ W_ihᵀ and h @ W_hhᵀ (the weights passed to BLIS transposed, nothing
 * copied), the gates then sliced off the last axis. Backpropagation through
 * time is nb_grad over the unrolled graph; nothing here is special to it.
 */
#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fields every cell shares, in the order the public structs hold them. */
typedef struct cell_params {
    char *name;
    int64_t *input_size, *hidden_size;
    nb_node **weight_ih, **weight_hh, **bias_ih, **bias_hh;
} cell_params;

/* Checks the name, dtype and sizes and makes the four parameters of G gates. */
static bool cell_new(nb_graph *g, const char *kind, const char *name, nb_dtype dtype,
                     int64_t input_size, int64_t hidden_size, int64_t gates, cell_params p)
{
    if (!nbi_layer_name(g, p.name, kind, name, "weight_ih") ||
        !nbi_layer_dtype(g, kind, name, dtype)) {
        return false;
    }
    if (input_size < 1 || hidden_size < 1) {
        nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL,
                      "%s: input_size and hidden_size must be at least 1 (got %lld and %lld)", name,
                      (long long)input_size, (long long)hidden_size);
        return false;
    }
    /* PyTorch's reset_parameters: every weight and bias from U(±1/sqrt(hidden_size)) */
    double bound = 1 / sqrt((double)hidden_size);
    nb_init u = nb_init_uniform(-bound, bound);
    int64_t rows = gates * hidden_size;
    *p.weight_ih = nbi_layer_param(g, p.name, "weight_ih", dtype, NB_SHAPE(rows, input_size), u);
    *p.weight_hh = nbi_layer_param(g, p.name, "weight_hh", dtype, NB_SHAPE(rows, hidden_size), u);
    *p.bias_ih = nbi_layer_param(g, p.name, "bias_ih", dtype, NB_SHAPE(rows), u);
    *p.bias_hh = nbi_layer_param(g, p.name, "bias_hh", dtype, NB_SHAPE(rows), u);
    *p.input_size = input_size;
    *p.hidden_size = hidden_size;
    return nb_graph_status(g) == NB_OK;
}

/*
 * Checks a step's inputs: x [B, I] and each state [B, H] (c may be NULL for
 * the cells with one state). Records the error and returns false otherwise.
 */
static bool cell_check(nb_graph *g, const char *kind, const char *name, bool made, int64_t I,
                       int64_t H, nb_node *x, nb_node *h, nb_node *c, bool has_c)
{
    if (nb_graph_status(g) != NB_OK) {
        return false;
    }
    if (!made) {
        nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL, "the cell is NULL or was not made by nb_%s_new",
                      kind);
        return false;
    }
    nb_node *in[3] = { x, h, c };
    int n = has_c ? 3 : 2;
    for (int i = 0; i < n; i++) {
        if (!in[i]) {
            nb_graph_fail(g, NB_ERR_ARG, kind, 0, NULL, "%s: %s is NULL", name,
                          i == 0   ? "x"
                          : i == 1 ? "h"
                                   : "c");
            return false;
        }
    }
    const int64_t *xs = nb_node_shape(x);
    if (nb_node_rank(x) != 2 || xs[1] != I) {
        nb_graph_fail(g, NB_ERR_SHAPE, kind, n, in, "%s: x must be [batch, %lld] (input_size %lld)",
                      name, (long long)I, (long long)I);
        return false;
    }
    for (int i = 1; i < n; i++) {
        const int64_t *s = nb_node_shape(in[i]);
        if (nb_node_rank(in[i]) != 2 || s[0] != xs[0] || s[1] != H) {
            nb_graph_fail(g, NB_ERR_SHAPE, kind, n, in,
                          "%s: the state %s must be [%lld, %lld] (x's batch, hidden_size)", name,
                          i == 1 ? "h" : "c", (long long)xs[0], (long long)H);
            return false;
        }
    }
    return true;
}

/* Gate k (0-based, each of H columns) of the stacked pre-activations s [B, G*H]. */
static nb_node *gate(nb_graph *g, nb_node *s, int64_t k, int64_t H)
{
    return nb_slice(g, s, -1, k * H, (k + 1) * H, 1);
}

/* x @ W_ihᵀ + b_ih and h @ W_hhᵀ + b_hh, each [B, G*H]. */
static void products(nb_graph *g, nb_node *x, nb_node *h, nb_node *w_ih, nb_node *w_hh,
                     nb_node *b_ih, nb_node *b_hh, nb_node **gi, nb_node **gh)
{
    *gi = nb_add(g, nb_matmul_ex(g, x, w_ih, NB_TRANS_B), b_ih);
    *gh = nb_add(g, nb_matmul_ex(g, h, w_hh, NB_TRANS_B), b_hh);
}

/* ---- RNN ---- */

nb_rnn_cell nb_rnn_cell_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t input_size,
                            int64_t hidden_size, nb_rnn_nonlinearity nonlinearity)
{
    nb_rnn_cell c;
    memset(&c, 0, sizeof c);
    if (nonlinearity != NB_RNN_TANH && nonlinearity != NB_RNN_RELU) {
        if (nb_graph_status(g) == NB_OK) {
            nb_graph_fail(g, NB_ERR_ARG, "rnn_cell", 0, NULL,
                          "%s: nonlinearity %d is neither NB_RNN_TANH nor NB_RNN_RELU",
                          name ? name : "(null)", (int)nonlinearity);
        }
        return c;
    }
    if (!cell_new(g, "rnn_cell", name, dtype, input_size, hidden_size, 1,
                  (cell_params){ c.name, &c.input_size, &c.hidden_size, &c.weight_ih, &c.weight_hh,
                                 &c.bias_ih, &c.bias_hh })) {
        memset(&c, 0, sizeof c);
        return c;
    }
    c.nonlinearity = nonlinearity;
    return c;
}

nb_node *nb_rnn_cell_apply(nb_graph *g, const nb_rnn_cell *cell, nb_node *x, nb_node *h)
{
    if (!cell_check(g, "rnn_cell", cell ? cell->name : "", cell && cell->weight_ih,
                    cell ? cell->input_size : 0, cell ? cell->hidden_size : 0, x, h, NULL, false)) {
        return NULL;
    }
    nb_scope_push(g, cell->name);
    nb_node *gi, *gh;
    products(g, x, h, cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh, &gi, &gh);
    nb_node *s = nb_add(g, gi, gh);
    nb_node *y = cell->nonlinearity == NB_RNN_RELU ? nb_relu(g, s) : nb_tanh(g, s);
    nb_scope_pop(g);
    return y;
}

/* ---- LSTM ---- */

nb_lstm_cell nb_lstm_cell_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t input_size,
                              int64_t hidden_size)
{
    nb_lstm_cell c;
    memset(&c, 0, sizeof c);
    if (!cell_new(g, "lstm_cell", name, dtype, input_size, hidden_size, 4,
                  (cell_params){ c.name, &c.input_size, &c.hidden_size, &c.weight_ih, &c.weight_hh,
                                 &c.bias_ih, &c.bias_hh })) {
        memset(&c, 0, sizeof c);
    }
    return c;
}

nb_status nb_lstm_cell_apply(nb_graph *g, const nb_lstm_cell *cell, nb_node *x, nb_node *h,
                             nb_node *c, nb_node **h_out, nb_node **c_out)
{
    if (h_out) {
        *h_out = NULL;
    }
    if (c_out) {
        *c_out = NULL;
    }
    if (!cell_check(g, "lstm_cell", cell ? cell->name : "", cell && cell->weight_ih,
                    cell ? cell->input_size : 0, cell ? cell->hidden_size : 0, x, h, c, true)) {
        return nb_graph_status(g);
    }
    int64_t H = cell->hidden_size;
    nb_scope_push(g, cell->name);
    nb_node *gi, *gh;
    products(g, x, h, cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh, &gi, &gh);
    nb_node *s = nb_add(g, gi, gh);
    nb_node *i = nb_sigmoid(g, gate(g, s, 0, H));
    nb_node *f = nb_sigmoid(g, gate(g, s, 1, H));
    nb_node *gg = nb_tanh(g, gate(g, s, 2, H));
    nb_node *o = nb_sigmoid(g, gate(g, s, 3, H));
    nb_node *c1 = nb_add(g, nb_mul(g, f, c), nb_mul(g, i, gg));
    nb_node *h1 = nb_mul(g, o, nb_tanh(g, c1));
    nb_scope_pop(g);
    if (nb_graph_status(g) == NB_OK) {
        if (h_out) {
            *h_out = h1;
        }
        if (c_out) {
            *c_out = c1;
        }
    }
    return nb_graph_status(g);
}

/* ---- GRU ---- */

nb_gru_cell nb_gru_cell_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t input_size,
                            int64_t hidden_size)
{
    nb_gru_cell c;
    memset(&c, 0, sizeof c);
    if (!cell_new(g, "gru_cell", name, dtype, input_size, hidden_size, 3,
                  (cell_params){ c.name, &c.input_size, &c.hidden_size, &c.weight_ih, &c.weight_hh,
                                 &c.bias_ih, &c.bias_hh })) {
        memset(&c, 0, sizeof c);
    }
    return c;
}

nb_node *nb_gru_cell_apply(nb_graph *g, const nb_gru_cell *cell, nb_node *x, nb_node *h)
{
    if (!cell_check(g, "gru_cell", cell ? cell->name : "", cell && cell->weight_ih,
                    cell ? cell->input_size : 0, cell ? cell->hidden_size : 0, x, h, NULL, false)) {
        return NULL;
    }
    int64_t H = cell->hidden_size;
    nb_scope_push(g, cell->name);
    nb_node *gi, *gh;
    products(g, x, h, cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh, &gi, &gh);
    nb_node *r = nb_sigmoid(g, nb_add(g, gate(g, gi, 0, H), gate(g, gh, 0, H)));
    nb_node *z = nb_sigmoid(g, nb_add(g, gate(g, gi, 1, H), gate(g, gh, 1, H)));
    /* PyTorch's placement: the reset gate scales W_hn h + b_hn, not h */
    nb_node *n = nb_tanh(g, nb_add(g, gate(g, gi, 2, H), nb_mul(g, r, gate(g, gh, 2, H))));
    /* (1 - z) * n + z * h, written n + z * (h - n) */
    nb_node *y = nb_add(g, n, nb_mul(g, z, nb_sub(g, h, n)));
    nb_scope_pop(g);
    return y;
}

/* ---- unrolling ---- */

typedef enum cell_kind { KIND_RNN, KIND_LSTM, KIND_GRU } cell_kind;

static const char *const unroll_names[] = { "rnn_unroll", "lstm_unroll", "gru_unroll" };

/*
 * Runs cell (of kind) over x [B, T, I] from h0 (and c0 for an LSTM), NULL
 * states meaning zeros; with a mask [B, T], a step whose mask is 0 keeps the
 * state it was given. Returns [B, T, H] and the last state(s).
 */
static nb_node *unroll(nb_graph *g, cell_kind kind, const void *cell, const char *name, bool made,
                       int64_t I, int64_t H, nb_node *x, nb_node *h0, nb_node *c0, nb_node *mask,
                       nb_node **h_last, nb_node **c_last)
{
    const char *what = unroll_names[kind];
    if (h_last) {
        *h_last = NULL;
    }
    if (c_last) {
        *c_last = NULL;
    }
    if (nb_graph_status(g) != NB_OK) {
        return NULL;
    }
    if (!made) {
        nb_graph_fail(g, NB_ERR_ARG, what, 0, NULL, "the cell is NULL or was not made by its _new");
        return NULL;
    }
    if (!x) {
        nb_graph_fail(g, NB_ERR_ARG, what, 0, NULL, "%s: the sequence x is NULL", name);
        return NULL;
    }
    const int64_t *xs = nb_node_shape(x);
    if (nb_node_rank(x) != 3 || xs[2] != I) {
        nb_graph_fail(g, NB_ERR_SHAPE, what, 1, &x,
                      "%s: x must be [batch, steps, %lld] (batch first, input_size %lld)", name,
                      (long long)I, (long long)I);
        return NULL;
    }
    int64_t B = xs[0], T = xs[1];
    if (mask) {
        const int64_t *ms = nb_node_shape(mask);
        if (nb_node_rank(mask) != 2 || ms[0] != B || ms[1] != T) {
            nb_node *in[2] = { x, mask };
            nb_graph_fail(g, NB_ERR_SHAPE, what, 2, in,
                          "%s: the mask must be [%lld, %lld] (x's batch and steps)", name,
                          (long long)B, (long long)T);
            return NULL;
        }
    }
    /* checked here too, so that the message names the sequence rather than step 0's slice */
    nb_node *init[2] = { h0, c0 };
    for (int i = 0; i < 2; i++) {
        const int64_t *s = init[i] ? nb_node_shape(init[i]) : NULL;
        if (s && (nb_node_rank(init[i]) != 2 || s[0] != B || s[1] != H)) {
            nb_node *in[2] = { x, init[i] };
            nb_graph_fail(g, NB_ERR_SHAPE, what, 2, in,
                          "%s: the initial state %s must be [%lld, %lld] (x's batch, hidden_size)",
                          name, i == 0 ? "h0" : "c0", (long long)B, (long long)H);
            return NULL;
        }
    }
    nb_dtype dt = nb_node_dtype(x);
    nb_node *h = h0 ? h0 : nb_fill(g, dt, NB_SHAPE(B, H), 0);
    nb_node *c = kind != KIND_LSTM ? NULL : c0 ? c0 : nb_fill(g, dt, NB_SHAPE(B, H), 0);
    nb_node **outs = malloc((size_t)T * sizeof *outs);
    if (!outs) {
        nb_graph_fail(g, NB_ERR_NOMEM, what, 0, NULL, "%s: out of memory for %lld steps", name,
                      (long long)T);
        return NULL;
    }
    for (int64_t t = 0; t < T && nb_graph_status(g) == NB_OK; t++) {
        nb_scope_push(g, "step");
        nb_node *xt = nb_reshape(g, nb_slice(g, x, 1, t, t + 1, 1), NB_SHAPE(B, I));
        nb_node *hn = NULL, *cn = NULL;
        switch (kind) {
        case KIND_RNN:
            hn = nb_rnn_cell_apply(g, cell, xt, h);
            break;
        case KIND_LSTM:
            nb_lstm_cell_apply(g, cell, xt, h, c, &hn, &cn);
            break;
        case KIND_GRU:
            hn = nb_gru_cell_apply(g, cell, xt, h);
            break;
        }
        if (mask && nb_graph_status(g) == NB_OK) {
            /* a selection, not m*new + (1-m)*old: padded steps send back exactly nothing */
            nb_node *m = nb_slice(g, mask, 1, t, t + 1, 1); /* [B, 1], broadcast over H */
            hn = nb_where(g, m, hn, h);
            if (cn) {
                cn = nb_where(g, m, cn, c);
            }
        }
        h = hn;
        c = cn;
        outs[t] = nb_reshape(g, h, NB_SHAPE(B, 1, H));
        nb_scope_pop(g);
    }
    nb_node *y =
        nb_graph_status(g) == NB_OK ? (T == 1 ? outs[0] : nb_concat(g, (int)T, outs, 1)) : NULL;
    free(outs);
    if (nb_graph_status(g) != NB_OK) {
        return NULL;
    }
    if (h_last) {
        *h_last = h;
    }
    if (c_last) {
        *c_last = c;
    }
    return y;
}

nb_node *nb_rnn_unroll(nb_graph *g, const nb_rnn_cell *cell, nb_node *x, nb_node *h0, nb_node *mask,
                       nb_node **h_last)
{
    return unroll(g, KIND_RNN, cell, cell ? cell->name : "", cell && cell->weight_ih,
                  cell ? cell->input_size : 0, cell ? cell->hidden_size : 0, x, h0, NULL, mask,
                  h_last, NULL);
}

nb_node *nb_lstm_unroll(nb_graph *g, const nb_lstm_cell *cell, nb_node *x, nb_node *h0, nb_node *c0,
                        nb_node *mask, nb_node **h_last, nb_node **c_last)
{
    return unroll(g, KIND_LSTM, cell, cell ? cell->name : "", cell && cell->weight_ih,
                  cell ? cell->input_size : 0, cell ? cell->hidden_size : 0, x, h0, c0, mask,
                  h_last, c_last);
}

nb_node *nb_gru_unroll(nb_graph *g, const nb_gru_cell *cell, nb_node *x, nb_node *h0, nb_node *mask,
                       nb_node **h_last)
{
    return unroll(g, KIND_GRU, cell, cell ? cell->name : "", cell && cell->weight_ih,
                  cell ? cell->input_size : 0, cell ? cell->hidden_size : 0, x, h0, NULL, mask,
                  h_last, NULL);
}
