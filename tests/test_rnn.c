/*
 * tests/test_rnn.c: the recurrent cells and their unrolling (layers/rnn.c)
 * and stop_gradient: each cell's step and gradients against PyTorch in
 * float64, gradient checks of the cells and of a masked unrolled sequence,
 * second derivatives through two steps, padding that changes nothing,
 * truncated backpropagation through time, and the errors.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <string.h>

/*
 * Made by tests/reference/rnn_cells.py (PyTorch 1.13, float64): for each
 * cell, its inputs, parameters, new states, the loss sum(h' * w) (+ sum(c' * w))
 * and that loss's gradients.
 */
/* torch.nn.RNNCell(3, 2, nonlinearity='tanh') */
static const double rnn_x[] = { 0.14, -0.0, -0.71, 0.78, -0.78, -0.06 };
static const double rnn_h[] = { -0.97, 0.69, -0.37, -0.14 };
static const double rnn_w_ih[] = { 0.32, -0.74, -0.38, -0.97, -0.48, 0.15 };
static const double rnn_w_hh[] = { -0.36, 0.05, 0.75, 0.2 };
static const double rnn_b_ih[] = { 0.72, 0.11 };
static const double rnn_b_hh[] = { 0.32, -0.79 };
static const double rnn_h_out[] = { 0.9400291693782105, -0.9072579608129772, 0.9651270252727365,
                                    -0.8802101641961804 };
static const double rnn_loss = -0.7316564750654182;
static const double rnn_dx[] = {
    0.07840149100694042,   0.1498477701533032,   0.028733300034097645,
    -0.020507555311342435, 0.009090620046273928, 0.010249448605902331
};
static const double rnn_dh[] = { -0.04670326905452207, -0.030502248137602966, 0.018267264705816084,
                                 0.001744597318568562 };
static const double rnn_dw_ih[] = { -0.03401048752206753,  0.01670414486524841,
                                    0.08905281483712923,   -0.006045022273387807,
                                    -0.010979965758729494, 0.08549639798363763 };
static const double rnn_dw_hh[] = { 0.12783199229092684, -0.08229736610385695, 0.11275040035529083,
                                    -0.08587963267176398 };
static const double rnn_db_ih[] = { -0.14503230360305575, -0.10753017819440808 };
static const double rnn_db_hh[] = { -0.14503230360305575, -0.10753017819440808 };
/* torch.nn.RNNCell(3, 2, nonlinearity='relu') */
static const double relu_x[] = { -0.3, 0.41, -0.18, 0.7, 0.22, -0.33 };
static const double relu_h[] = { 0.34, 0.86, -0.23, -0.46 };
static const double relu_w_ih[] = { -0.55, 0.89, 0.81, 0.56, 0.97, -0.69 };
static const double relu_w_hh[] = { 0.55, 0.95, 0.79, 0.09 };
static const double relu_b_ih[] = { 0.41, -0.13 };
static const double relu_b_hh[] = { 0.78, -0.94 };
static const double relu_h_out[] = { 2.5781, 0.0, 0.16999999999999998, 0.0 };
static const double relu_loss = -2.79235625;
static const double relu_dx[] = { 0.5843750000000001, -0.945625, -0.8606250000000001,
                                  0.171875,           -0.278125, -0.25312500000000004 };
static const double relu_dh[] = { -0.5843750000000001, -1.009375, -0.171875, -0.296875 };
static const double relu_dw_ih[] = { 0.09999999999999999, -0.504375, 0.294375, 0.0, 0.0, 0.0 };
static const double relu_dw_hh[] = { -0.289375, -0.7699999999999999, 0.0, 0.0 };
static const double relu_db_ih[] = { -1.375, 0.0 };
static const double relu_db_hh[] = { -1.375, 0.0 };
/* torch.nn.LSTMCell(3, 2) */
static const double lstm_x[] = { -0.19, 0.66, 0.68, -0.61, -0.74, 0.51 };
static const double lstm_h[] = { 0.1, -0.64, -0.75, 0.41 };
static const double lstm_c[] = { 0.66, -0.65, 0.83, 0.98 };
static const double lstm_w_ih[] = { 0.1,   -0.56, 0.91,  0.47, 0.75, -0.36, -0.94, 0.81,
                                    0.06,  -0.22, -0.29, -0.7, 0.99, 0.62,  0.75,  0.24,
                                    -0.04, -0.79, 0.49,  0.25, 0.73, 0.64,  -0.33, -0.55 };
static const double lstm_w_hh[] = { -0.19, 0.61, 0.61, 0.87,  0.12, -0.91, -0.65, 0.45,
                                    0.57,  -0.2, 0.47, -0.37, 0.99, -0.1,  0.37,  0.53 };
static const double lstm_b_ih[] = { 0.06, -0.21, 0.55, -1.0, 0.98, -0.24, 0.3, 0.05 };
static const double lstm_b_hh[] = { -0.23, 0.83, -0.96, -0.4, -0.04, -0.75, 0.27, -0.05 };
static const double lstm_h_out[] = { 0.5506172859325819, -0.13292824686036983, 0.027043442201698326,
                                     -0.01733843921470471 };
static const double lstm_c_out[] = { 0.8682483131502502, -0.5492337871708948, 0.06456570772447157,
                                     -0.045584202208469426 };
static const double lstm_loss = -1.0711188250698913;
static const double lstm_dx[] = { 0.12183860696334001, 0.06652275115796065, -0.4947327034179989,
                                  -0.246161699781756,  -0.2856358564093037, -0.2272756505325317 };
static const double lstm_dh[] = { -0.06609420476741591, 0.24505743800459356, -0.2165755412314311,
                                  0.13462358392286014 };
static const double lstm_dc[] = { -1.0694514052276052, -0.06994249208607467, -0.13094425079887684,
                                  0.027927471887804586 };
static const double lstm_dw_ih[] = {
    0.052537646774295996, -0.2422831177235168,  -0.22301715553269472, -0.02131417301259677,
    0.12986785163007492,  0.10895550907433649,  0.08441655915707674,  -0.07435415096908335,
    -0.1740246888313414,  -0.01919383095717247, 0.013765943574454759, 0.03773043575138551,
    0.19861120216679667,  0.18992695639807172,  -0.19590557463315328, 0.021056928402787663,
    -0.07952332107531693, -0.07909438925350576, 0.02677429888652225,  -0.07897828346684609,
    -0.08761460331187731, -0.01233756005748752, 0.044775679279221395, 0.04527848192036543
};
static const double lstm_dw_hh[] = {
    -0.05004835265971476,  0.2285094372700755,   0.03213335966203425,   -0.11992616354919224,
    0.0375705111983079,    0.09564913550756317,  -0.009718765308483184, -0.01904075673826063,
    0.2250836740412905,    -0.08951531598188008, -0.013472071025871479, 0.0764273338095302,
    -0.008836709967373547, 0.0780940957685715,   0.007212330539615811,  -0.043212399296998064
};
static const double lstm_db_ih[] = { -0.32273861363750267, 0.15534672294231763,
                                     -0.2750587743500045,  0.0601124072925487,
                                     -0.36503380218395665, -0.11575753795201738,
                                     -0.13007160805818577, 0.06641820577642768 };
static const double lstm_db_hh[] = { -0.32273861363750267, 0.15534672294231763,
                                     -0.2750587743500045,  0.0601124072925487,
                                     -0.36503380218395665, -0.11575753795201738,
                                     -0.13007160805818577, 0.06641820577642768 };
/* torch.nn.GRUCell(3, 2) */
static const double gru_x[] = { 0.67, -0.92, 0.91, 0.17, 0.1, 0.45 };
static const double gru_h[] = { -0.98, -0.1, 0.26, -0.91 };
static const double gru_w_ih[] = { -0.35, -0.57, -0.9, 0.53,  0.86, -0.45, -0.6, -0.14, -0.26,
                                   0.83,  -0.12, 0.15, -0.37, -0.6, -0.35, 0.34, 0.19,  -0.54 };
static const double gru_w_hh[] = { -0.19, -0.4,  0.27,  0.57, 0.08,  -0.74,
                                   -0.03, -0.82, -0.49, 0.51, -0.38, 0.79 };
static const double gru_b_ih[] = { 0.59, 0.98, 0.68, -0.64, 0.73, 0.83 };
static const double gru_b_hh[] = { -0.59, 0.26, 0.08, -0.35, 0.5, -0.07 };
static const double gru_h_out[] = { -0.1969934935840677, 0.19467243052941835, 0.2889790587743333,
                                    -0.41273681829392006 };
static const double gru_loss = -0.04063371606625233;
static const double gru_dx[] = {
    -0.22814173701229137, -0.02320601836226884, 0.14201703549415404,
    0.012781201205410674, 0.03713513167312965,  0.0013443431021039204
};
static const double gru_dh[] = { -0.4697205828879991, -0.8998035043178989, -0.2372515560348943,
                                 0.03696892944124359 };
static const double gru_dw_ih[] = {
    -0.024826290150478013, 0.034546317440338904,  -0.03341932464525356, -0.011459339823885691,
    0.01368253873596964,   -0.016913025624986262, 0.3139712857686916,   -0.4287928263114285,
    0.42797095976128713,   0.06273352044290544,   -0.09118046968941787, 0.08189406836732631,
    -0.12065047936776836,  0.14549930788218457,   -0.17712262168137122, -0.18124893797586517,
    0.25954947564021136,   -0.23916226792224204
};
static const double gru_dw_hh[] = {
    0.037009457539928396, 0.0024943181226325054, 0.013630037681673205, 0.007156275693763435,
    -0.45568419720857467, -0.053048187772837166, -0.09944642338234272, 0.00400548731284017,
    0.06153090120484164,  0.03168500579297838,   0.14717984742762535,  -0.005435209178886023
};
static const double gru_db_ih[] = { -0.03603248537743115, -0.021697660037504854,
                                    0.4738330274321896,   0.08235432411394181,
                                    -0.22521859898850244, -0.24663911779443504 };
static const double gru_db_hh[] = { -0.03603248537743115, -0.021697660037504854,
                                    0.4738330274321896,   0.08235432411394181,
                                    -0.09711204746046516, -0.12254959363102842 };

enum { B = 2, I = 3, H = 2 };

static double loss_weight(size_t k)
{
    return ((double)((k * 37) % 17) - 8.5) / 8.0;
}

static nb_node *leaf(nb_graph *g, int rank, const int64_t *shape, const double *v)
{
    nb_node *n = nb_input(g, NB_DTYPE_F64, rank, shape);
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        count *= (size_t)shape[i];
    }
    if (v) {
        cr_assert_eq(nb_node_write_f64(g, n, v, count), NB_OK, "%s", nb_graph_error(g));
    }
    return n;
}

/* sum(y * w) with the script's weights w_k, y [rows, cols] */
static nb_node *weighted(nb_graph *g, nb_node *y)
{
    size_t n = 1;
    for (int i = 0; i < nb_node_rank(y); i++) {
        n *= (size_t)nb_node_shape(y)[i];
    }
    double w[256];
    cr_assert(n <= 256);
    for (size_t k = 0; k < n; k++) {
        w[k] = loss_weight(k);
    }
    return nb_sum(g, nb_mul(g, y, nb_const(g, NB_DTYPE_F64, nb_node_rank(y), nb_node_shape(y), w)));
}

static void write(nb_graph *g, nb_node *n, const double *v)
{
    cr_assert_eq(nb_node_write_f64(g, n, v, nb_node_size(n)), NB_OK, "%s", nb_graph_error(g));
}

static void expect_values(nb_graph *g, nb_node *n, const double *want, size_t count,
                          const char *what)
{
    double got[64];
    cr_assert(count <= 64);
    cr_assert_eq(nb_node_size(n), count, "%s: size", what);
    cr_assert_eq(nb_node_read_f64(g, n, got, count), NB_OK, "%s", nb_graph_error(g));
    for (size_t i = 0; i < count; i++) {
        cr_expect(fabs(got[i] - want[i]) <= 1e-13 * (1 + fabs(want[i])),
                  "%s[%zu]: got %.17g, PyTorch %.17g", what, i, got[i], want[i]);
    }
}

/* One cell step as the script ran it: its leaves, its outputs and its loss. */
typedef struct cell_case {
    nb_graph *g;
    nb_node *x, *h, *c, *params[4];
    nb_node *h_out, *c_out, *loss;
} cell_case;

typedef enum kind { RNN_TANH, RNN_RELU, LSTM, GRU } kind;

static cell_case build_case(kind k, const double *x, const double *h, const double *c,
                            const double *const *p)
{
    cell_case cc;
    memset(&cc, 0, sizeof cc);
    nb_graph *g = cc.g = nb_graph_new();
    cc.x = leaf(g, NB_SHAPE(B, I), x);
    cc.h = leaf(g, NB_SHAPE(B, H), h);
    if (k == LSTM) {
        cc.c = leaf(g, NB_SHAPE(B, H), c);
        nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F64, I, H);
        nb_node *ps[4] = { cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh };
        memcpy(cc.params, ps, sizeof ps);
        cr_assert_eq(nb_lstm_cell_apply(g, &cell, cc.x, cc.h, cc.c, &cc.h_out, &cc.c_out), NB_OK,
                     "%s", nb_graph_error(g));
    } else if (k == GRU) {
        nb_gru_cell cell = nb_gru_cell_new(g, "gru", NB_DTYPE_F64, I, H);
        nb_node *ps[4] = { cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh };
        memcpy(cc.params, ps, sizeof ps);
        cc.h_out = nb_gru_cell_apply(g, &cell, cc.x, cc.h);
    } else {
        nb_rnn_cell cell = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, I, H,
                                           k == RNN_RELU ? NB_RNN_RELU : NB_RNN_TANH);
        nb_node *ps[4] = { cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh };
        memcpy(cc.params, ps, sizeof ps);
        cc.h_out = nb_rnn_cell_apply(g, &cell, cc.x, cc.h);
    }
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 4; i++) {
        write(g, cc.params[i], p[i]);
    }
    cc.loss = weighted(g, cc.h_out);
    if (cc.c_out) {
        cc.loss = nb_add(g, cc.loss, weighted(g, cc.c_out));
    }
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    return cc;
}

/* The step's outputs, loss and every gradient against PyTorch's. */
static void check_against_torch(kind k, const double *x, const double *h, const double *c,
                                const double *const *p, const double *h_out, const double *c_out,
                                double loss, const double *const *grads)
{
    cell_case cc = build_case(k, x, h, c, p);
    nb_graph *g = cc.g;
    nb_node *wrt[7] = { cc.x, cc.h };
    size_t n = 2;
    if (cc.c) {
        wrt[n++] = cc.c;
    }
    for (int i = 0; i < 4; i++) {
        wrt[n++] = cc.params[i];
    }
    nb_node *d[7], *outs[10] = { cc.loss, cc.h_out };
    cr_assert_eq(nb_grad(g, cc.loss, n, wrt, d), NB_OK, "%s", nb_graph_error(g));
    size_t m = 2;
    if (cc.c_out) {
        outs[m++] = cc.c_out;
    }
    memcpy(outs + m, d, n * sizeof *d);
    cr_assert_eq(nb_graph_run(g, m + n, outs), NB_OK, "%s", nb_graph_error(g));
    expect_values(g, cc.loss, &loss, 1, "loss");
    expect_values(g, cc.h_out, h_out, B * H, "h'");
    if (cc.c_out) {
        expect_values(g, cc.c_out, c_out, B * H, "c'");
    }
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "gradient %zu", i);
        expect_values(g, d[i], grads[i], nb_node_size(wrt[i]), what);
    }
    nb_graph_free(g);
}

Test(rnn_cell, tanh_step_and_gradients_match_pytorch,
     .description = "nn.RNNCell(3, 2): h', the loss and its gradients wrt x, h and the four "
                    "parameters equal PyTorch's float64 values within 1e-13")
{
    check_against_torch(
        RNN_TANH, rnn_x, rnn_h, NULL,
        (const double *const[]){ rnn_w_ih, rnn_w_hh, rnn_b_ih, rnn_b_hh }, rnn_h_out, NULL,
        rnn_loss,
        (const double *const[]){ rnn_dx, rnn_dh, rnn_dw_ih, rnn_dw_hh, rnn_db_ih, rnn_db_hh });
}

Test(rnn_cell, relu_step_and_gradients_match_pytorch,
     .description = "nn.RNNCell(3, 2, nonlinearity='relu'): h', loss and gradients as PyTorch's")
{
    check_against_torch(RNN_RELU, relu_x, relu_h, NULL,
                        (const double *const[]){ relu_w_ih, relu_w_hh, relu_b_ih, relu_b_hh },
                        relu_h_out, NULL, relu_loss,
                        (const double *const[]){ relu_dx, relu_dh, relu_dw_ih, relu_dw_hh,
                                                 relu_db_ih, relu_db_hh });
}

Test(lstm_cell, step_and_gradients_match_pytorch,
     .description = "nn.LSTMCell(3, 2): h', c', the loss and its gradients wrt x, h, c and the "
                    "four parameters equal PyTorch's float64 values within 1e-13")
{
    check_against_torch(LSTM, lstm_x, lstm_h, lstm_c,
                        (const double *const[]){ lstm_w_ih, lstm_w_hh, lstm_b_ih, lstm_b_hh },
                        lstm_h_out, lstm_c_out, lstm_loss,
                        (const double *const[]){ lstm_dx, lstm_dh, lstm_dc, lstm_dw_ih, lstm_dw_hh,
                                                 lstm_db_ih, lstm_db_hh });
}

Test(gru_cell, step_and_gradients_match_pytorch,
     .description = "nn.GRUCell(3, 2) (reset gate inside the hidden product): h', the loss and "
                    "its gradients equal PyTorch's float64 values within 1e-13")
{
    check_against_torch(
        GRU, gru_x, gru_h, NULL, (const double *const[]){ gru_w_ih, gru_w_hh, gru_b_ih, gru_b_hh },
        gru_h_out, NULL, gru_loss,
        (const double *const[]){ gru_dx, gru_dh, gru_dw_ih, gru_dw_hh, gru_db_ih, gru_db_hh });
}

static void gradcheck_all(nb_graph *g, nb_node *loss, size_t n, nb_node *const *wrt)
{
    nb_gradcheck_options opts = nb_gradcheck_defaults();
    nb_gradcheck_result res[16];
    cr_assert(n <= 16);
    cr_assert_eq(nb_gradcheck(g, loss, n, wrt, &opts, res), NB_OK, "%s", nb_graph_error(g));
    for (size_t i = 0; i < n; i++) {
        cr_expect(res[i].passed, "wrt %zu element %zu: analytic %.12g, numeric %.12g", i,
                  res[i].worst_index, res[i].analytic, res[i].numeric);
    }
}

Test(cells, pass_float64_gradient_checks,
     .description = "for each cell (tanh, relu, LSTM, GRU), nb_gradcheck of the loss wrt x, the "
                    "states and the four parameters passes (eps 1e-6, rtol 1e-5, atol 1e-7)")
{
    const double *const *ps[4] = {
        (const double *const[]){ rnn_w_ih, rnn_w_hh, rnn_b_ih, rnn_b_hh },
        (const double *const[]){ relu_w_ih, relu_w_hh, relu_b_ih, relu_b_hh },
        (const double *const[]){ lstm_w_ih, lstm_w_hh, lstm_b_ih, lstm_b_hh },
        (const double *const[]){ gru_w_ih, gru_w_hh, gru_b_ih, gru_b_hh },
    };
    const double *xs[4] = { rnn_x, relu_x, lstm_x, gru_x },
                 *hs[4] = { rnn_h, relu_h, lstm_h, gru_h };
    for (int k = 0; k < 4; k++) {
        cell_case cc = build_case((kind)k, xs[k], hs[k], lstm_c, ps[k]);
        nb_node *wrt[7] = {
            cc.x, cc.h, cc.params[0], cc.params[1], cc.params[2], cc.params[3], cc.c
        };
        gradcheck_all(cc.g, cc.loss, cc.c ? 7 : 6, wrt);
        nb_graph_free(cc.g);
    }
}

/* ---- unrolling ---- */

/* two-decimal values for a sequence: v_k = ((k * 53) % 41 - 20) / 25 */
static void fill_values(double *v, size_t n, size_t offset)
{
    for (size_t k = 0; k < n; k++) {
        v[k] = (double)((int)(((k + offset) * 53) % 41) - 20) / 25.0;
    }
}

/* Gives the cell's four parameters distinct values in (-0.8, 0.8). */
static void set_params(nb_graph *g, nb_node *const *ps)
{
    for (int i = 0; i < 4; i++) {
        double v[64];
        size_t n = nb_node_size(ps[i]);
        cr_assert(n <= 64);
        fill_values(v, n, (size_t)(7 * i + 3));
        write(g, ps[i], v);
    }
}

Test(unroll, masked_sequences_pass_float64_gradient_checks,
     .description = "an RNN, an LSTM and a GRU unrolled over x[2, 3, 2] with mask [[1,1,1],"
                    "[1,1,0]]: nb_gradcheck of sum(out * mask * w) + sum(h_last * w) wrt x, h0, "
                    "c0 and the four parameters passes")
{
    for (int k = 0; k < 3; k++) {
        nb_graph *g = nb_graph_new();
        double xv[12], hv[4], cv[4], mv[6] = { 1, 1, 1, 1, 1, 0 };
        fill_values(xv, 12, 1);
        fill_values(hv, 4, 17);
        fill_values(cv, 4, 29);
        nb_node *x = leaf(g, NB_SHAPE(2, 3, 2), xv), *h0 = leaf(g, NB_SHAPE(2, 2), hv);
        nb_node *c0 = leaf(g, NB_SHAPE(2, 2), cv);
        nb_node *mask = nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 3), mv);
        nb_node *out = NULL, *hl = NULL, *cl = NULL, *ps[4];
        if (k == 0) {
            nb_rnn_cell cell = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 2, 2, NB_RNN_TANH);
            memcpy(ps, (nb_node *[]){ cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh },
                   sizeof ps);
            out = nb_rnn_unroll(g, &cell, x, h0, mask, &hl);
        } else if (k == 1) {
            nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F64, 2, 2);
            memcpy(ps, (nb_node *[]){ cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh },
                   sizeof ps);
            out = nb_lstm_unroll(g, &cell, x, h0, c0, mask, &hl, &cl);
        } else {
            nb_gru_cell cell = nb_gru_cell_new(g, "gru", NB_DTYPE_F64, 2, 2);
            memcpy(ps, (nb_node *[]){ cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh },
                   sizeof ps);
            out = nb_gru_unroll(g, &cell, x, h0, mask, &hl);
        }
        cr_assert_not_null(out, "%s", nb_graph_error(g));
        cr_assert_eq(nb_node_shape(out)[0], 2);
        cr_assert_eq(nb_node_shape(out)[1], 3);
        cr_assert_eq(nb_node_shape(out)[2], 2);
        set_params(g, ps);
        nb_node *m3 = nb_reshape(g, mask, NB_SHAPE(2, 3, 1));
        nb_node *loss = nb_add(g, weighted(g, nb_mul(g, out, m3)), weighted(g, hl));
        if (cl) {
            loss = nb_add(g, loss, weighted(g, cl));
        }
        nb_node *wrt[7] = { x, h0, ps[0], ps[1], ps[2], ps[3], c0 };
        gradcheck_all(g, loss, k == 1 ? 7 : 6, wrt);
        nb_graph_free(g);
    }
}

Test(unroll, builds_each_step_in_a_step_scope,
     .description = "a tanh RNN unrolled over T = 1, 2, 4 and 8 steps: the depth over scopes "
                    "(level 1) of the last state is T: each step's scope is one element")
{
    int depth[4];
    for (int i = 0; i < 4; i++) {
        int64_t T = (int64_t)1 << i;
        nb_graph *g = nb_graph_new();
        nb_rnn_cell cell = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 2, 3, NB_RNN_TANH);
        nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, T, 2));
        nb_node *hl = NULL;
        cr_assert_not_null(nb_rnn_unroll(g, &cell, x, NULL, NULL, &hl), "%s", nb_graph_error(g));
        depth[i] = nb_depth(g, hl, 1);
        nb_graph_free(g);
    }
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(depth[i], 1 << i, "T = %d: depth %d", 1 << i, depth[i]);
    }
}

/* ---- second derivatives ---- */

Test(unroll, hessian_vector_product_through_two_steps_matches_differences,
     .description = "a tanh RNN over two steps: H v = d/dW_hh sum(dL/dW_hh * v), the gradient "
                    "of a gradient, matches (dL/dW_hh(W + eps v) - dL/dW_hh(W - eps v)) / 2eps "
                    "(eps 1e-5) within 1e-8")
{
    nb_graph *g = nb_graph_new();
    double xv[4];
    fill_values(xv, 4, 5);
    nb_node *x = leaf(g, NB_SHAPE(1, 2, 2), xv);
    nb_rnn_cell cell = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 2, 2, NB_RNN_TANH);
    nb_node *ps[4] = { cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh };
    nb_node *out = nb_rnn_unroll(g, &cell, x, NULL, NULL, NULL);
    cr_assert_not_null(out, "%s", nb_graph_error(g));
    set_params(g, ps);
    nb_node *loss = weighted(g, out), *w = cell.weight_hh, *dw = NULL, *hv = NULL;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    double v[4] = { 0.3, -0.7, 0.5, 0.2 };
    nb_node *s = nb_sum(g, nb_mul(g, dw, nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 2), v)));
    cr_assert_eq(nb_grad(g, s, 1, &w, &hv), NB_OK, "%s", nb_graph_error(g));
    double w0[4], analytic[4], plus[4], minus[4], wp[4];
    cr_assert_eq(nb_graph_run(g, 1, &hv), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, hv, analytic, 4), NB_OK);
    cr_assert_eq(nb_node_read_f64(g, w, w0, 4), NB_OK);
    const double eps = 1e-5;
    for (int sign = -1; sign <= 1; sign += 2) {
        for (int i = 0; i < 4; i++) {
            wp[i] = w0[i] + sign * eps * v[i];
        }
        write(g, w, wp);
        cr_assert_eq(nb_graph_run(g, 1, &dw), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_node_read_f64(g, dw, sign > 0 ? plus : minus, 4), NB_OK);
    }
    double norm = 0;
    for (int i = 0; i < 4; i++) {
        double numeric = (plus[i] - minus[i]) / (2 * eps);
        norm += fabs(analytic[i]);
        cr_expect(fabs(analytic[i] - numeric) <= 1e-8, "element %d: analytic %.12g, numeric %.12g",
                  i, analytic[i], numeric);
    }
    cr_expect_gt(norm, 1e-3, "the Hessian-vector product is not trivially zero");
    nb_graph_free(g);
}

/* ---- padding ---- */

/* An LSTM over x [b, T, 2] with its outputs and last states weighted by wo and wl. */
typedef struct seq_run {
    nb_graph *g;
    nb_node *x, *out, *hl, *cl, *loss, *ps[4], *d[5];
} seq_run;

static seq_run run_lstm(int64_t b, int64_t T, const double *xv, const double *mv, const double *wo,
                        const double *wl)
{
    seq_run r;
    memset(&r, 0, sizeof r);
    nb_graph *g = r.g = nb_graph_new();
    r.x = leaf(g, NB_SHAPE(b, T, 2), xv);
    nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F64, 2, 2);
    nb_node *ps[4] = { cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh };
    memcpy(r.ps, ps, sizeof ps);
    nb_node *mask = mv ? nb_const(g, NB_DTYPE_F64, NB_SHAPE(b, T), mv) : NULL;
    r.out = nb_lstm_unroll(g, &cell, r.x, NULL, NULL, mask, &r.hl, &r.cl);
    cr_assert_not_null(r.out, "%s", nb_graph_error(g));
    set_params(g, ps);
    nb_node *o = r.out;
    if (mask) {
        o = nb_mul(g, o, nb_reshape(g, mask, NB_SHAPE(b, T, 1)));
    }
    r.loss = nb_add(
        g, nb_sum(g, nb_mul(g, o, nb_const(g, NB_DTYPE_F64, NB_SHAPE(b, T, 2), wo))),
        nb_sum(g, nb_mul(g, nb_add(g, r.hl, r.cl), nb_const(g, NB_DTYPE_F64, NB_SHAPE(b, 2), wl))));
    nb_node *wrt[5] = { r.x, ps[0], ps[1], ps[2], ps[3] };
    cr_assert_eq(nb_grad(g, r.loss, 5, wrt, r.d), NB_OK, "%s", nb_graph_error(g));
    nb_node *outs[8] = { r.loss, r.out, r.hl, r.d[0], r.d[1], r.d[2], r.d[3], r.d[4] };
    cr_assert_eq(nb_graph_run(g, 8, outs), NB_OK, "%s", nb_graph_error(g));
    return r;
}

static void read(seq_run *r, nb_node *n, double *v)
{
    cr_assert_eq(nb_node_read_f64(r->g, n, v, nb_node_size(n)), NB_OK, "%s", nb_graph_error(r->g));
}

Test(unroll, padded_batch_gives_the_unpadded_sequences_results,
     .description = "an LSTM over a batch of a 3-step and a 2-step sequence, the second padded "
                    "with 5s and masked: its outputs and last states are exactly those of the "
                    "sequences run one by one, padded inputs get gradient exactly 0, the other "
                    "input gradients agree to rounding (1e-15: sums taken in another order), the "
                    "loss and parameter gradients are the sums of the two (within 1e-14)")
{
    double xa[6], xb[4], wo[12], wl[4], mv[6] = { 1, 1, 1, 1, 1, 0 };
    fill_values(xa, 6, 2);
    fill_values(xb, 4, 11);
    fill_values(wo, 12, 23);
    fill_values(wl, 4, 31);
    double xp[12] = { xa[0], xa[1], xa[2], xa[3], xa[4], xa[5], xb[0], xb[1], xb[2], xb[3], 5, 5 };
    double wob[4] = { wo[6], wo[7], wo[8], wo[9] };
    seq_run p = run_lstm(2, 3, xp, mv, wo, wl);
    seq_run a = run_lstm(1, 3, xa, NULL, wo, wl);
    seq_run b = run_lstm(1, 2, xb, NULL, wob, wl + 2);

    double po[12], ao[6], bo[4], ph[4], ah[2], bh[2];
    read(&p, p.out, po), read(&a, a.out, ao), read(&b, b.out, bo);
    read(&p, p.hl, ph), read(&a, a.hl, ah), read(&b, b.hl, bh);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(po[i], ao[i], "out of sequence a, element %d", i);
    }
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(po[6 + i], bo[i], "out of sequence b, element %d", i);
    }
    cr_expect_eq(po[10], bo[2], "a padded step repeats the state");
    cr_expect_eq(po[11], bo[3], "a padded step repeats the state");
    cr_expect_eq(ph[0], ah[0]);
    cr_expect_eq(ph[1], ah[1]);
    cr_expect_eq(ph[2], bh[0]);
    cr_expect_eq(ph[3], bh[1]);

    double pdx[12], adx[6], bdx[4];
    read(&p, p.d[0], pdx), read(&a, a.d[0], adx), read(&b, b.d[0], bdx);
    for (int i = 0; i < 6; i++) {
        cr_expect(fabs(pdx[i] - adx[i]) <= 1e-15 * (1 + fabs(adx[i])),
                  "dx of sequence a, element %d: batch %.17g, alone %.17g", i, pdx[i], adx[i]);
    }
    for (int i = 0; i < 4; i++) {
        cr_expect(fabs(pdx[6 + i] - bdx[i]) <= 1e-15 * (1 + fabs(bdx[i])),
                  "dx of sequence b, element %d: batch %.17g, alone %.17g", i, pdx[6 + i], bdx[i]);
    }
    cr_expect_eq(pdx[10], 0.0, "a padded input gets no gradient");
    cr_expect_eq(pdx[11], 0.0, "a padded input gets no gradient");

    double pl, al, bl;
    read(&p, p.loss, &pl), read(&a, a.loss, &al), read(&b, b.loss, &bl);
    cr_expect(fabs(pl - (al + bl)) <= 1e-14 * fabs(pl), "loss %.17g, one by one %.17g", pl,
              al + bl);
    for (int k = 1; k < 5; k++) {
        double pg[32], ag[32], bg[32];
        size_t n = nb_node_size(p.d[k]);
        read(&p, p.d[k], pg), read(&a, a.d[k], ag), read(&b, b.d[k], bg);
        for (size_t i = 0; i < n; i++) {
            cr_expect(fabs(pg[i] - (ag[i] + bg[i])) <= 1e-14 * (1 + fabs(pg[i])),
                      "parameter %d element %zu: batch %.17g, one by one %.17g", k, i, pg[i],
                      ag[i] + bg[i]);
        }
    }
    nb_graph_free(p.g), nb_graph_free(a.g), nb_graph_free(b.g);
}

/* ---- stop_gradient and truncated backpropagation through time ---- */

Test(stop_gradient, truncates_backpropagation_through_time,
     .description = "a tanh RNN over two chunks of 2 steps, the first chunk's last state passed "
                    "through stop_gradient: the loss is the untruncated one, nothing reaches the "
                    "first chunk's inputs (a fill of zeros), and dL/dW_hh is exactly that of the "
                    "second chunk run from a constant state, unlike the untruncated gradient")
{
    double x1v[4], x2v[4], h1v[2];
    fill_values(x1v, 4, 3);
    fill_values(x2v, 4, 9);
    double grads[3][4], losses[3];
    for (int mode = 0; mode < 3; mode++) { /* 0 truncated, 1 untruncated, 2 from a constant */
        nb_graph *g = nb_graph_new();
        nb_rnn_cell cell = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 2, 2, NB_RNN_TANH);
        nb_node *ps[4] = { cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh };
        nb_node *x1 = leaf(g, NB_SHAPE(1, 2, 2), x1v), *x2 = leaf(g, NB_SHAPE(1, 2, 2), x2v);
        nb_node *h1 = NULL, *start;
        if (mode == 2) {
            start = leaf(g, NB_SHAPE(1, 2), h1v);
        } else {
            cr_assert_not_null(nb_rnn_unroll(g, &cell, x1, NULL, NULL, &h1), "%s",
                               nb_graph_error(g));
            start = mode == 0 ? nb_stop_gradient(g, h1) : h1;
        }
        nb_node *out = nb_rnn_unroll(g, &cell, x2, start, NULL, NULL);
        cr_assert_not_null(out, "%s", nb_graph_error(g));
        set_params(g, ps);
        nb_node *loss = weighted(g, out);
        nb_node *wrt[2] = { cell.weight_hh, x1 }, *d[2];
        cr_assert_eq(nb_grad(g, loss, 2, wrt, d), NB_OK, "%s", nb_graph_error(g));
        nb_node *outs[3] = { loss, d[0], h1 ? h1 : d[1] };
        cr_assert_eq(nb_graph_run(g, 3, outs), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_node_read_f64(g, loss, &losses[mode], 1), NB_OK);
        cr_assert_eq(nb_node_read_f64(g, d[0], grads[mode], 4), NB_OK);
        if (mode == 0) {
            cr_expect_str_eq(nb_node_op_name(d[1]), "fill");
            cr_assert_eq(nb_node_read_f64(g, h1, h1v, 2), NB_OK);
        }
        nb_graph_free(g);
    }
    cr_expect_eq(losses[0], losses[1], "stop_gradient is the identity forward");
    cr_expect_eq(losses[0], losses[2]);
    double differ = 0;
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(grads[0][i], grads[2][i], "element %d: %.17g vs %.17g", i, grads[0][i],
                     grads[2][i]);
        differ += fabs(grads[0][i] - grads[1][i]);
    }
    cr_expect_gt(differ, 1e-3, "the untruncated gradient also flows through the first chunk");
}

Test(stop_gradient, reads_and_writes_in_the_model_language,
     .description = "y = sum(stop_gradient(x) * x) parses; dy/dx = x (one path), not 2x; "
                    "the node writes as stop_gradient(x) and shares x's storage (a view)")
{
    nb_graph *g = nb_graph_new();
    const char *src = "input x[2] = [1.5, -2]\ns = stop_gradient(x)\ny = sum(s * x)\n";
    nb_parse_error err;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_OK, "%s", err.message);
    nb_node *x = nb_graph_find(g, "x"), *y = nb_graph_find(g, "y"), *s = nb_graph_find(g, "s");
    char buf[64];
    nb_node_expression(s, buf, sizeof buf);
    cr_expect_str_eq(buf, "stop_gradient(x)");
    nb_node *d = NULL;
    cr_assert_eq(nb_grad(g, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
    nb_node *outs[2] = { y, d };
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_OK, "%s", nb_graph_error(g));
    double yv, dv[2];
    cr_assert_eq(nb_node_read_f64(g, y, &yv, 1), NB_OK);
    cr_assert_eq(nb_node_read_f64(g, d, dv, 2), NB_OK);
    cr_expect_eq(yv, 6.25);
    cr_expect_eq(dv[0], 1.5);
    cr_expect_eq(dv[1], -2.0);
    nb_graph_free(g);
}

/* ---- errors ---- */

static nb_node *named(nb_graph *g, const char *name, int rank, const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, rank, shape), name);
}

Test(cells, report_mismatched_state_shapes,
     .description = "a state of the wrong hidden size or batch, or an x of the wrong input size, "
                    "gives NB_ERR_SHAPE with the cell, the inputs and the shape expected")
{
    nb_graph *g = nb_graph_new();
    nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F64, 3, 5);
    nb_node *x = named(g, "x", NB_SHAPE(2, 3)), *h = named(g, "h", NB_SHAPE(2, 4));
    nb_node *c = named(g, "c", NB_SHAPE(2, 5)), *ho = x, *co = x;
    cr_expect_eq(nb_lstm_cell_apply(g, &cell, x, h, c, &ho, &co), NB_ERR_SHAPE);
    cr_expect_null(ho);
    cr_expect_null(co);
    cr_expect_str_eq(nb_graph_error(g), "lstm_cell(x[2,3], h[2,4], c[2,5]): lstm: the state h must "
                                        "be [2, 5] (x's batch, hidden_size)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_gru_cell gru = nb_gru_cell_new(g, "gru", NB_DTYPE_F64, 3, 2);
    x = named(g, "x", NB_SHAPE(2, 3));
    h = named(g, "h", NB_SHAPE(3, 2));
    cr_expect_null(nb_gru_cell_apply(g, &gru, x, h));
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(
        nb_graph_error(g),
        "gru_cell(x[2,3], h[3,2]): gru: the state h must be [2, 2] (x's batch, hidden_size)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_rnn_cell rnn = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 3, 2, NB_RNN_RELU);
    x = named(g, "x", NB_SHAPE(2, 4));
    h = named(g, "h", NB_SHAPE(2, 2));
    cr_expect_null(nb_rnn_cell_apply(g, &rnn, x, h));
    cr_expect_str_eq(nb_graph_error(g),
                     "rnn_cell(x[2,4], h[2,2]): rnn: x must be [batch, 3] (input_size 3)");
    nb_graph_free(g);
}

Test(unroll, reports_bad_sequences_masks_and_an_empty_sequence,
     .description = "an x that is not [B, T, input_size], a mask that is not [B, T], a state of "
                    "another batch, and a sequence of T = 0 (which nb_input refuses, dimensions "
                    "being >= 1) each give their error, and the unroll returns NULL")
{
    nb_graph *g = nb_graph_new();
    nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F64, 4, 2);
    nb_node *x = named(g, "x", NB_SHAPE(2, 3)), *hl = x;
    cr_expect_null(nb_lstm_unroll(g, &cell, x, NULL, NULL, NULL, &hl, NULL));
    cr_expect_null(hl);
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(
        nb_graph_error(g),
        "lstm_unroll(x[2,3]): lstm: x must be [batch, steps, 4] (batch first, input_size 4)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_gru_cell gru = nb_gru_cell_new(g, "gru", NB_DTYPE_F64, 4, 2);
    x = named(g, "x", NB_SHAPE(2, 3, 4));
    nb_node *m = named(g, "m", NB_SHAPE(2, 4));
    cr_expect_null(nb_gru_unroll(g, &gru, x, NULL, m, NULL));
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(
        nb_graph_error(g),
        "gru_unroll(x[2,3,4], m[2,4]): gru: the mask must be [2, 3] (x's batch and steps)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_rnn_cell rnn = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 4, 2, NB_RNN_TANH);
    x = named(g, "x", NB_SHAPE(2, 3, 4));
    nb_node *h0 = named(g, "h0", NB_SHAPE(1, 2));
    cr_expect_null(nb_rnn_unroll(g, &rnn, x, h0, NULL, NULL));
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(nb_graph_error(g), "rnn_unroll(x[2,3,4], h0[1,2]): rnn: the initial state h0 "
                                        "must be [2, 2] (x's batch, hidden_size)");
    nb_graph_free(g);

    g = nb_graph_new();
    rnn = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 4, 2, NB_RNN_TANH);
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 0, 4));
    cr_expect_null(x);
    cr_expect_null(nb_rnn_unroll(g, &rnn, x, NULL, NULL, NULL));
    cr_expect_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_expect_str_eq(
        nb_graph_error(g),
        "input: shape [2,0,4] is not valid (dimensions from 1 to 2^31-1, size within memory)");
    nb_graph_free(g);
}

Test(stop_gradient, survives_a_model_write_round_trip,
     .description = "nb_model_write writes s = stop_gradient(x); parsing the text into a new "
                    "graph gives the same y (6.25) and the same gradient dy/dx = x")
{
    nb_graph *g = nb_graph_new();
    const char *src = "input x[2] = [1.5, -2]\ns = stop_gradient(x)\ny = sum(s * x)\n";
    nb_parse_error err;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &err), NB_OK, "%s", err.message);
    char text[4096] = { 0 };
    FILE *f = fmemopen(text, sizeof text - 1, "w");
    cr_assert_not_null(f);
    cr_assert_eq(nb_model_write(g, f), NB_OK, "%s", nb_graph_error(g));
    fclose(f);
    cr_expect(strstr(text, "s = stop_gradient(x)") != NULL, "%s", text);
    nb_graph *g2 = nb_graph_new();
    cr_assert_eq(nb_model_parse(g2, text, strlen(text), NULL, &err), NB_OK, "%s", err.message);
    nb_node *x = nb_graph_find(g2, "x"), *y = nb_graph_find(g2, "y"), *d = NULL;
    cr_assert_eq(nb_grad(g2, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g2));
    nb_node *outs[2] = { y, d };
    cr_assert_eq(nb_graph_run(g2, 2, outs), NB_OK, "%s", nb_graph_error(g2));
    double yv, dv[2];
    cr_assert_eq(nb_node_read_f64(g2, y, &yv, 1), NB_OK);
    cr_assert_eq(nb_node_read_f64(g2, d, dv, 2), NB_OK);
    cr_expect_eq(yv, 6.25);
    cr_expect_eq(dv[0], 1.5);
    cr_expect_eq(dv[1], -2.0);
    nb_graph_free(g2);
    nb_graph_free(g);
}

Test(cells, make_named_parameters_in_pytorch_layout_and_bounds,
     .description = "nb_lstm_cell_new(g, \"enc\", f64, 3, 4) makes enc_weight_ih [16,3], "
                    "enc_weight_hh [16,4], enc_bias_ih [16] and enc_bias_hh [16], all within "
                    "U(-1/2, 1/2); GRU has 3 gates, RNN 1")
{
    nb_graph *g = nb_graph_new();
    nb_lstm_cell l = nb_lstm_cell_new(g, "enc", NB_DTYPE_F64, 3, 4);
    nb_gru_cell gr = nb_gru_cell_new(g, "gru", NB_DTYPE_F64, 3, 4);
    nb_rnn_cell r = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F64, 3, 4, NB_RNN_TANH);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    const char *names[4] = { "enc_weight_ih", "enc_weight_hh", "enc_bias_ih", "enc_bias_hh" };
    nb_node *ps[4] = { l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh };
    int64_t rows[4] = { 16, 16, 16, 16 }, cols[4] = { 3, 4, 0, 0 };
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(nb_node_name(ps[i]), names[i]);
        cr_expect_eq(nb_node_rank(ps[i]), cols[i] ? 2 : 1);
        cr_expect_eq(nb_node_shape(ps[i])[0], rows[i]);
        if (cols[i]) {
            cr_expect_eq(nb_node_shape(ps[i])[1], cols[i]);
        }
        double v[64];
        size_t n = nb_node_size(ps[i]);
        cr_assert_eq(nb_node_read_f64(g, ps[i], v, n), NB_OK);
        double lo = 1, hi = -1;
        for (size_t k = 0; k < n; k++) {
            lo = v[k] < lo ? v[k] : lo;
            hi = v[k] > hi ? v[k] : hi;
        }
        cr_expect(lo >= -0.5 && hi <= 0.5 && hi - lo > 0.3, "%s in [%g, %g]", names[i], lo, hi);
    }
    cr_expect_eq(nb_node_shape(gr.weight_ih)[0], 12);
    cr_expect_eq(nb_node_shape(gr.weight_hh)[1], 4);
    cr_expect_eq(nb_node_shape(r.weight_hh)[0], 4);
    cr_expect_eq(nb_node_shape(r.bias_ih)[0], 4);
    cr_expect_str_eq(nb_node_name(gr.bias_hh), "gru_bias_hh");
    nb_graph_free(g);
}

Test(cells, report_bad_sizes_and_unmade_cells,
     .description = "a hidden_size of 0 gives NB_ERR_ARG and a zeroed cell, which its apply "
                    "and unroll then refuse without crashing")
{
    nb_graph *g = nb_graph_new();
    nb_lstm_cell l = nb_lstm_cell_new(g, "enc", NB_DTYPE_F64, 3, 0);
    cr_expect_null(l.weight_ih);
    cr_expect_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_expect_str_eq(nb_graph_error(g),
                     "lstm_cell: enc: input_size and hidden_size must be at least 1 (got 3 and 0)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_gru_cell zero;
    memset(&zero, 0, sizeof zero);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
    nb_node *h = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 2));
    cr_expect_null(nb_gru_cell_apply(g, &zero, x, h));
    cr_expect_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_expect_str_eq(nb_graph_error(g),
                     "gru_cell: the cell is NULL or was not made by nb_gru_cell_new");
    nb_graph_free(g);

    g = nb_graph_new();
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3, 3));
    cr_expect_null(nb_rnn_unroll(g, NULL, x, NULL, NULL, NULL));
    cr_expect_str_eq(nb_graph_error(g), "rnn_unroll: the cell is NULL or was not made by its _new");
    nb_graph_free(g);
}
