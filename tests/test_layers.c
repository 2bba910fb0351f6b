/*
 * tests/test_layers.c: the layer builders (layers/): the parameters they make
 * (names, shapes, PyTorch's default initialization), the scope they build in,
 * their values against PyTorch's modules, sharing across applications, and
 * their errors. Also nb_graph_params, nb_graph_states and nb_graph_fail,
 * which layers rest on, and checkpoints of a batch norm layer's state.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run(nb_graph *g, nb_node *y)
{
    cr_assert_not_null(y, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
}

Test(linear, makes_named_parameters_in_pytorch_layout_and_bounds)
{
    nb_graph *g = nb_graph_new();
    nb_linear fc = nb_linear_new(g, "fc1", NB_DTYPE_F64, 16, 3, true);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(fc.name, "fc1");
    cr_assert_str_eq(nb_node_name(fc.weight), "fc1_weight");
    cr_assert_str_eq(nb_node_name(fc.bias), "fc1_bias");
    cr_assert_eq(nb_node_rank(fc.weight), 2);
    cr_assert_eq(nb_node_shape(fc.weight)[0], 3);
    cr_assert_eq(nb_node_shape(fc.weight)[1], 16);
    cr_assert_eq(nb_node_size(fc.bias), 3);
    /* U(-1/sqrt(16), 1/sqrt(16)) = U(-0.25, 0.25), and not all alike */
    const double *w = nb_node_data(fc.weight);
    double lo = 1, hi = -1;
    for (int i = 0; i < 48; i++) {
        lo = fmin(lo, w[i]);
        hi = fmax(hi, w[i]);
    }
    cr_assert(lo >= -0.25 && hi <= 0.25, "weights in [%g, %g]", lo, hi);
    cr_assert(hi - lo > 0.25, "weights spread only over [%g, %g]", lo, hi);
    nb_linear nobias = nb_linear_new(g, "head", NB_DTYPE_F32, 4, 2, false);
    cr_assert_null(nobias.bias);
    cr_assert_eq(nb_node_dtype(nobias.weight), NB_DTYPE_F32);

    nb_node *params[4];
    cr_assert_eq(nb_graph_params(g, params, 4), 3);
    cr_assert_eq(params[0], fc.weight);
    cr_assert_eq(params[1], fc.bias);
    cr_assert_eq(params[2], nobias.weight);
    cr_assert_eq(nb_graph_params(g, NULL, 0), 3);
    cr_assert_eq(nb_graph_params(g, params, 1), 3);
    cr_assert_eq(nb_graph_params(NULL, NULL, 0), 0);
    nb_graph_free(g);
}

/*
 * torch: lin = torch.nn.Linear(3, 2).double(); weight and bias set to W, b below;
 * lin(x) for x = [[1, -2, 0.5], [0.25, 3, -1]]:
 *     [[-0.9000000000000001, 0.75], [2.7750000000000004, 2.375]]
 */
Test(linear, computes_x_w_transposed_plus_b_as_pytorch)
{
    nb_graph *g = nb_graph_new();
    nb_linear fc = nb_linear_new(g, "fc", NB_DTYPE_F64, 3, 2, true);
    const double W[6] = { 0.5, 0.75, -0.2, -0.1, 0.4, 0.3 }, b[2] = { 0.2, 1.5 };
    nb_node_write_f64(g, fc.weight, W, 6);
    nb_node_write_f64(g, fc.bias, b, 2);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
    const double xs[6] = { 1, -2, 0.5, 0.25, 3, -1 };
    nb_node_write_f64(g, x, xs, 6);
    nb_node *y = nb_linear_apply(g, &fc, x);
    run(g, y);
    const double want[4] = { -0.9000000000000001, 0.75, 2.7750000000000004, 2.375 };
    const double *got = nb_node_data(y);
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(got[i], want[i], 1e-15, "y[%d] = %.17g", i, got[i]);
    }
    cr_assert_str_eq(nb_node_scope(y), "fc");

    /* a batch of sequences [B, T, in] shares the weight across steps */
    nb_node *seq = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2, 3));
    nb_node_write_f64(g, seq, xs, 6);
    nb_node *ys = nb_linear_apply(g, &fc, seq);
    run(g, ys);
    cr_assert_eq(nb_node_rank(ys), 3);
    cr_assert_eq(nb_node_shape(ys)[2], 2);
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(((const double *)nb_node_data(ys))[i], want[i], 1e-15);
    }
    /* two applications, one set of parameters, two scope instances */
    cr_assert_eq(nb_graph_params(g, NULL, 0), 2);
    cr_assert_eq(nb_depth(g, ys, NB_DEPTH_SCOPES), 1);
    nb_graph_free(g);
}

Test(linear, errors_name_the_layer)
{
    nb_graph *g = nb_graph_new();
    nb_linear l = nb_linear_new(g, "fc-1", NB_DTYPE_F64, 3, 2, true);
    cr_assert_null(l.weight);
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "linear: the layer name 'fc-1' is not a name ([A-Za-z_][A-Za-z0-9_]*)");
    nb_graph_free(g);

    g = nb_graph_new();
    char longname[80];
    memset(longname, 'a', 60);
    longname[60] = '\0';
    nb_linear_new(g, longname, NB_DTYPE_F64, 3, 2, true);
    cr_assert_str_eq(nb_graph_error(g),
                     "linear: the layer name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is too "
                     "long: with '_weight' it must stay under 64 bytes");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_linear_new(g, "fc", NB_DTYPE_F64, 0, 2, true);
    cr_assert_str_eq(nb_graph_error(g),
                     "linear: fc: in and out features must be at least 1 (got 0 and 2)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_linear_new(g, "fc", NB_DTYPE_I32, 3, 2, true);
    cr_assert_eq(nb_graph_status(g), NB_ERR_DTYPE, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), "linear: fc: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_linear fc = nb_linear_new(g, "fc", NB_DTYPE_F64, 3, 2, true);
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 5)), "x");
    cr_assert_null(nb_linear_apply(g, &fc, x));
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert_str_eq(nb_graph_error(g),
                     "matmul(x[4,5], fc_weight[2,3]): inner dimensions 5 and 3 differ");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_linear none;
    memset(&none, 0, sizeof none);
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 5));
    cr_assert_null(nb_linear_apply(g, &none, x));
    cr_assert_str_eq(nb_graph_error(g),
                     "linear: the layer is NULL or was not made by nb_linear_new");
    nb_graph_free(g);
}

Test(graph_fail, records_a_sticky_error_in_the_builders_form)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "x");
    nb_graph_fail(g, NB_OK, "cell", 0, NULL, "ignored: NB_OK is no error");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    nb_graph_fail(g, NB_ERR_SHAPE, "cell", 1, &x, "hidden size %d does not fit", 7);
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert_str_eq(nb_graph_error(g), "cell(x[2,3]): hidden size 7 does not fit");
    nb_graph_fail(g, NB_ERR_ARG, "later", 0, NULL, "the first error wins");
    cr_assert_str_eq(nb_graph_error(g), "cell(x[2,3]): hidden size 7 does not fit");
    cr_assert_null(nb_exp(g, x));
    nb_graph_fail(NULL, NB_ERR_ARG, "x", 0, NULL, "no graph: nothing happens");
    nb_graph_free(g);
}

/* ---- layer normalization ---- */

static void expect_values(nb_node *y, const double *want, int n, double tol)
{
    const double *got = nb_node_data(y);
    for (int i = 0; i < n; i++) {
        cr_assert_float_eq(got[i], want[i], tol, "y[%d] = %.17g, want %.17g", i, got[i], want[i]);
    }
}

Test(layer_norm_layer, makes_ones_and_zeros_named_after_it)
{
    nb_graph *g = nb_graph_new();
    nb_layer_norm_layer ln = nb_layer_norm_layer_new(g, "ln1", NB_DTYPE_F64, 4, true);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(ln.name, "ln1");
    cr_assert_eq(ln.features, 4);
    cr_assert_eq(ln.eps, 1e-5);
    cr_assert_str_eq(nb_node_name(ln.weight), "ln1_weight");
    cr_assert_str_eq(nb_node_name(ln.bias), "ln1_bias");
    cr_assert_eq(nb_node_kind(ln.weight), NB_KIND_PARAM);
    cr_assert_eq(nb_node_rank(ln.weight), 1);
    cr_assert_eq(nb_node_shape(ln.bias)[0], 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(((const double *)nb_node_data(ln.weight))[i], 1.0);
        cr_assert_eq(((const double *)nb_node_data(ln.bias))[i], 0.0);
    }
    nb_layer_norm_layer plain = nb_layer_norm_layer_new(g, "ln2", NB_DTYPE_F32, 4, false);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_null(plain.weight);
    cr_assert_null(plain.bias);
    cr_assert_eq(plain.features, 4);
    cr_assert_eq(nb_graph_params(g, NULL, 0), 2);
    cr_assert_eq(nb_graph_states(g, NULL, 0), 0);
    nb_graph_free(g);
}

/*
 * torch: ln = torch.nn.LayerNorm(4).double(); weight, bias = [1.5, -0.5, 2, 1],
 * [0.1, 0.2, -0.3, 0]; ln(x) for x = [[1, 2, -1, 0.5], [0.25, -3, 4, 2]]; and
 * torch.nn.LayerNorm(4, elementwise_affine=False).double()(x) for the plain one.
 */
Test(layer_norm_layer, computes_as_pytorch_in_its_scope_sharing_its_parameters)
{
    nb_graph *g = nb_graph_new();
    nb_layer_norm_layer ln = nb_layer_norm_layer_new(g, "ln", NB_DTYPE_F64, 4, true);
    nb_layer_norm_layer plain = nb_layer_norm_layer_new(g, "plain", NB_DTYPE_F64, 4, false);
    const double w[4] = { 1.5, -0.5, 2, 1 }, b[4] = { 0.1, 0.2, -0.3, 0 };
    nb_node_write_f64(g, ln.weight, w, 4);
    nb_node_write_f64(g, ln.bias, b, 4);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 4));
    const double xs[8] = { 1, 2, -1, 0.5, 0.25, -3, 4, 2 };
    nb_node_write_f64(g, x, xs, 8);
    nb_node *y = nb_layer_norm_layer_apply(g, &ln, x);
    run(g, y);
    const double want[8] = { 0.6196130252598184,   -0.4350825864286669,  -3.3022085903900615,
                             -0.11546956116884849, -0.22829301008208897, 0.9416990227780531,
                             2.180436076175784,    0.46204201418960683 };
    expect_values(y, want, 8, 1e-12);
    cr_assert_str_eq(nb_node_scope(y), "ln");
    nb_node *yp = nb_layer_norm_layer_apply(g, &plain, x);
    run(g, yp);
    const double want_plain[8] = { 0.34640868350654563,  1.2701651728573338,   -1.5011042951950309,
                                   -0.11546956116884849, -0.21886200672139264, -1.483398045556106,
                                   1.240218038087892,    0.46204201418960683 };
    expect_values(yp, want_plain, 8, 1e-12);
    cr_assert_str_eq(nb_node_scope(yp), "plain");

    /* a second application, to a batch of sequences [1, 2, 4]: the same rows, no new parameter */
    nb_node *seq = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2, 4));
    nb_node_write_f64(g, seq, xs, 8);
    nb_node *ys = nb_layer_norm_layer_apply(g, &ln, seq);
    run(g, ys);
    expect_values(ys, want, 8, 1e-12);
    cr_assert_eq(nb_graph_params(g, NULL, 0), 2);
    /* eps is read when an application builds: a huge eps flattens the output to the bias */
    ln.eps = 1e12;
    nb_node *flat = nb_layer_norm_layer_apply(g, &ln, x);
    run(g, flat);
    for (int i = 0; i < 8; i++) {
        cr_assert_float_eq(((const double *)nb_node_data(flat))[i], b[i % 4], 1e-5);
    }
    nb_graph_free(g);
}

Test(layer_norm_layer, errors_name_the_layer)
{
    nb_graph *g = nb_graph_new();
    nb_layer_norm_layer l = nb_layer_norm_layer_new(g, "ln 1", NB_DTYPE_F64, 4, true);
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "layer_norm_layer: the layer name 'ln 1' is not a name "
                                        "([A-Za-z_][A-Za-z0-9_]*)");
    cr_assert_eq(l.features, 0);
    cr_assert_str_eq(l.name, "");
    nb_graph_free(g);

    g = nb_graph_new();
    l = nb_layer_norm_layer_new(g, "ln", NB_DTYPE_F64, 0, true);
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "layer_norm_layer: ln: features must be at least 1 (got 0)");
    nb_graph_free(g);

    /* refused without affine too, though there is no parameter to make */
    g = nb_graph_new();
    l = nb_layer_norm_layer_new(g, "ln", NB_DTYPE_I32, 4, false);
    cr_assert_eq(nb_graph_status(g), NB_ERR_DTYPE);
    cr_assert_str_eq(nb_graph_error(g),
                     "layer_norm_layer: ln: dtype i32 is not supported; use f32 or f64");
    cr_assert_null(nb_layer_norm_layer_apply(g, &l, NULL));
    cr_assert_str_eq(nb_graph_error(g),
                     "layer_norm_layer: ln: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);

    g = nb_graph_new();
    l = nb_layer_norm_layer_new(g, "ln", NB_DTYPE_F64, 4, false);
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3)), "x");
    cr_assert_null(nb_layer_norm_layer_apply(g, &l, x));
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert_str_eq(nb_graph_error(g), "layer_norm_layer(x[2,3]): ln: the last axis has size 3, "
                                        "but the layer normalizes 4 features");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_layer_norm_layer none;
    memset(&none, 0, sizeof none);
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
    cr_assert_null(nb_layer_norm_layer_apply(g, &none, x));
    cr_assert_str_eq(nb_graph_error(g), "layer_norm_layer: the layer is NULL or was not made by "
                                        "nb_layer_norm_layer_new");
    nb_graph_free(g);
    g = nb_graph_new();
    cr_assert_null(nb_layer_norm_layer_apply(g, NULL, x));
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    nb_graph_free(g);
}

/* ---- batch normalization ---- */

Test(batch_norm_layer, makes_parameters_and_running_statistics_as_pytorch)
{
    nb_graph *g = nb_graph_new();
    nb_linear fc = nb_linear_new(g, "fc", NB_DTYPE_F32, 2, 3, true);
    nb_batch_norm_layer bn = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_F32, 3, true);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(bn.name, "bn");
    cr_assert_eq(bn.features, 3);
    cr_assert_eq(bn.momentum, 0.1);
    cr_assert_eq(bn.eps, 1e-5);
    cr_assert_str_eq(nb_node_name(bn.weight), "bn_weight");
    cr_assert_str_eq(nb_node_name(bn.bias), "bn_bias");
    cr_assert_str_eq(nb_node_name(bn.running_mean), "bn_running_mean");
    cr_assert_str_eq(nb_node_name(bn.running_var), "bn_running_var");
    cr_assert_eq(nb_node_kind(bn.weight), NB_KIND_PARAM);
    cr_assert_eq(nb_node_kind(bn.running_mean), NB_KIND_STATE);
    cr_assert_eq(nb_node_kind(bn.running_var), NB_KIND_STATE);
    cr_assert_eq(nb_node_dtype(bn.running_var), NB_DTYPE_F32);
    const float *w = nb_node_data(bn.weight), *b = nb_node_data(bn.bias);
    const float *rm = nb_node_data(bn.running_mean), *rv = nb_node_data(bn.running_var);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(w[i], 1.0f);
        cr_assert_eq(b[i], 0.0f);
        cr_assert_eq(rm[i], 0.0f);
        cr_assert_eq(rv[i], 1.0f);
    }
    /* the optimizer's list has the parameters only; the checkpoint's adds the states */
    nb_node *params[8], *states[8];
    cr_assert_eq(nb_graph_params(g, params, 8), 4);
    cr_assert_eq(params[0], fc.weight);
    cr_assert_eq(params[1], fc.bias);
    cr_assert_eq(params[2], bn.weight);
    cr_assert_eq(params[3], bn.bias);
    cr_assert_eq(nb_graph_states(g, states, 8), 2);
    cr_assert_eq(states[0], bn.running_mean);
    cr_assert_eq(states[1], bn.running_var);
    cr_assert_eq(nb_graph_states(g, states, 1), 2);
    cr_assert_eq(states[1], bn.running_var, "cap 1 wrote past out[0]");
    cr_assert_eq(nb_graph_states(NULL, NULL, 0), 0);

    nb_batch_norm_layer plain = nb_batch_norm_layer_new(g, "bn2", NB_DTYPE_F32, 3, false);
    cr_assert_null(plain.weight);
    cr_assert_null(plain.bias);
    cr_assert_str_eq(nb_node_name(plain.running_mean), "bn2_running_mean");
    cr_assert_eq(nb_graph_params(g, NULL, 0), 4);
    cr_assert_eq(nb_graph_states(g, NULL, 0), 4);
    nb_graph_free(g);
}

/*
 * torch: bn = torch.nn.BatchNorm1d(3).double(); weight, bias = [2, 0.5, -1],
 * [0, 1, 0.5]; x = [[1, -2, 0.5], [3, 0, 1.5], [-1, 4, 2.5], [0, 1, -0.5]];
 * bn.train(); bn(x), then bn.running_mean, bn.running_var; bn.eval(); bn(x).
 */
static const double bn_x[12] = { 1, -2, 0.5, 3, 0, 1.5, -1, 4, 2.5, 0, 1, -0.5 };
static const double bn_w[3] = { 2, 0.5, -1 }, bn_b[3] = { 0, 1, 0.5 };
static const double bn_train[12] = { 0.33806092918159436, 0.3649153813146435, 0.947211806656309,
                                     3.0425483626343497,  0.8267951039949027, 0.052788193343691,
                                     -2.366426504271161,  1.7505545493554213, -0.841635419968927,
                                     -1.0141827875447833, 1.0577349653350323, 1.8416354199689269 };
static const double bn_rm[3] = { 0.07500000000000001, 0.07500000000000001, 0.1 };
static const double bn_rv[3] = { 1.1916666666666667, 1.525, 1.0666666666666667 };
static const double bn_eval[12] = { 1.6946987553238437,   0.15985981199285249, 0.11270348082743697,
                                    5.358912280348371,    0.9696334871804645,  -0.8555378171039705,
                                    -1.9695147697006834,  2.5891808375556886,  -1.823779115035378,
                                    -0.13740800718841978, 1.3745203247742706,  1.0809447787588444 };

Test(batch_norm_layer, trains_and_evaluates_as_pytorch_in_its_scope)
{
    nb_graph *g = nb_graph_new();
    nb_batch_norm_layer bn = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_F64, 3, true);
    nb_node_write_f64(g, bn.weight, bn_w, 3);
    nb_node_write_f64(g, bn.bias, bn_b, 3);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 3));
    nb_node_write_f64(g, x, bn_x, 12);
    nb_node *y = nb_batch_norm_layer_apply(g, &bn, x);
    cr_assert_not_null(y, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_scope(y), "bn");
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_TRAIN), NB_OK, "%s", nb_graph_error(g));
    expect_values(y, bn_train, 12, 1e-12);
    expect_values(bn.running_mean, bn_rm, 3, 1e-15);
    expect_values(bn.running_var, bn_rv, 3, 1e-15);
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_EVAL), NB_OK, "%s", nb_graph_error(g));
    expect_values(y, bn_eval, 12, 1e-12);
    expect_values(bn.running_mean, bn_rm, 3, 1e-15); /* evaluation leaves them alone */
    nb_graph_free(g);
}

Test(batch_norm_layer, applications_share_the_running_statistics)
{
    nb_graph *g = nb_graph_new();
    nb_batch_norm_layer bn = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_F64, 3, true);
    nb_node_write_f64(g, bn.weight, bn_w, 3);
    nb_node_write_f64(g, bn.bias, bn_b, 3);
    /* a training instance of 4 rows and an evaluation instance of 2 */
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 3));
    nb_node *x2 = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
    nb_node_write_f64(g, x, bn_x, 12);
    nb_node_write_f64(g, x2, bn_x, 6);
    nb_node *y = nb_batch_norm_layer_apply(g, &bn, x);
    nb_node *y2 = nb_batch_norm_layer_apply(g, &bn, x2);
    cr_assert_eq(nb_graph_params(g, NULL, 0), 2);
    cr_assert_eq(nb_graph_states(g, NULL, 0), 2);
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_TRAIN), NB_OK, "%s", nb_graph_error(g));
    /* the second instance evaluates with what the first one's training run wrote */
    cr_assert_eq(nb_graph_run_ex(g, 1, &y2, NB_RUN_EVAL), NB_OK, "%s", nb_graph_error(g));
    expect_values(y2, bn_eval, 6, 1e-12);
    nb_graph_free(g);
}

Test(batch_norm_layer, checkpoints_carry_the_states_nb_graph_states_lists)
{
    char path[] = "/tmp/nabla_layers_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    nb_graph *g = nb_graph_new();
    nb_linear fc = nb_linear_new(g, "fc", NB_DTYPE_F64, 3, 3, true);
    nb_batch_norm_layer bn = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_F64, 3, true);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 3));
    nb_node_write_f64(g, x, bn_x, 12);
    nb_node *y = nb_batch_norm_layer_apply(g, &bn, nb_linear_apply(g, &fc, x));
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_TRAIN), NB_OK, "%s", nb_graph_error(g));
    double rm[3], rv[3];
    nb_node_read_f64(g, bn.running_mean, rm, 3);
    nb_node_read_f64(g, bn.running_var, rv, 3);
    cr_assert_neq(rm[0], 0.0);

    nb_node *nodes[8];
    size_t n = nb_graph_params(g, nodes, 8);
    n += nb_graph_states(g, nodes + n, 8 - n);
    cr_assert_eq(n, 6);
    cr_assert_eq(nb_checkpoint_save(g, path, n, nodes, NULL), NB_OK, "%s", nb_graph_error(g));
    /* more training changes the statistics; loading brings the saved ones back */
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_TRAIN), NB_OK, "%s", nb_graph_error(g));
    cr_assert_neq(((const double *)nb_node_data(bn.running_mean))[0], rm[0]);
    cr_assert_eq(nb_checkpoint_load(g, path, n, nodes, NULL), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(((const double *)nb_node_data(bn.running_mean))[i], rm[i]);
        cr_assert_eq(((const double *)nb_node_data(bn.running_var))[i], rv[i]);
    }
    remove(path);
    nb_graph_free(g);
}

Test(batch_norm_layer, errors_name_the_layer)
{
    nb_graph *g = nb_graph_new();
    char longname[80];
    memset(longname, 'b', 51);
    longname[51] = '\0'; /* 51 + "_running_mean" (13) = 64 bytes with the NUL: one too many */
    nb_batch_norm_layer l = nb_batch_norm_layer_new(g, longname, NB_DTYPE_F64, 3, true);
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(
        nb_graph_error(g),
        "batch_norm_layer: the layer name 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...' "
        "is too long: with '_running_mean' it must stay under 64 bytes");
    cr_assert_null(l.running_mean);
    nb_graph_free(g);
    g = nb_graph_new();
    longname[50] = '\0';
    l = nb_batch_norm_layer_new(g, longname, NB_DTYPE_F64, 3, true);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    nb_graph_free(g);

    g = nb_graph_new();
    l = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_F64, -2, true);
    cr_assert_str_eq(nb_graph_error(g),
                     "batch_norm_layer: bn: features must be at least 1 (got -2)");
    nb_graph_free(g);

    g = nb_graph_new();
    l = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_I32, 3, false);
    cr_assert_eq(nb_graph_status(g), NB_ERR_DTYPE);
    cr_assert_str_eq(nb_graph_error(g),
                     "batch_norm_layer: bn: dtype i32 is not supported; use f32 or f64");
    cr_assert_eq(nb_graph_node_count(g), 0);
    nb_graph_free(g);

    g = nb_graph_new();
    l = nb_batch_norm_layer_new(g, "bn", NB_DTYPE_F64, 4, true);
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(5, 3)), "x");
    cr_assert_null(nb_batch_norm_layer_apply(g, &l, x));
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert_str_eq(nb_graph_error(g),
                     "batch_norm(x[5,3], bn_weight[4], bn_bias[4], bn_running_mean[4], "
                     "bn_running_var[4]): weight is [4] but x has 3 channels (axis 1); it must be "
                     "[3]");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_batch_norm_layer none;
    memset(&none, 0, sizeof none);
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(5, 3));
    cr_assert_null(nb_batch_norm_layer_apply(g, &none, x));
    cr_assert_str_eq(nb_graph_error(g), "batch_norm_layer: the layer is NULL or was not made by "
                                        "nb_batch_norm_layer_new");
    nb_graph_free(g);
}

/* ---- dropout ---- */

Test(dropout_layer, drops_in_training_only_in_its_scope_without_parameters)
{
    nb_graph *g = nb_graph_new();
    nb_dropout_layer drop = nb_dropout_layer_new(g, "drop", 0.5);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(drop.name, "drop");
    cr_assert_eq(drop.p, 0.5);
    cr_assert_eq(nb_graph_node_count(g), 0);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(200));
    double xs[200];
    for (int i = 0; i < 200; i++) {
        xs[i] = 1 + i;
    }
    nb_node_write_f64(g, x, xs, 200);
    nb_node *y = nb_dropout_layer_apply(g, &drop, x);
    nb_node *y2 = nb_dropout_layer_apply(g, &drop, x);
    cr_assert_not_null(y2, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_scope(y), "drop");
    cr_assert_eq(nb_graph_params(g, NULL, 0), 0);
    nb_node *both[2] = { y, y2 };
    cr_assert_eq(nb_graph_run_ex(g, 2, both, NB_RUN_TRAIN), NB_OK, "%s", nb_graph_error(g));
    /* each element is dropped or doubled; each application draws its own mask */
    int zeros = 0, differ = 0;
    for (int i = 0; i < 200; i++) {
        double a = ((const double *)nb_node_data(y))[i], b = ((const double *)nb_node_data(y2))[i];
        cr_assert(a == 0 || a == 2 * xs[i], "y[%d] = %g", i, a);
        zeros += a == 0;
        differ += (a == 0) != (b == 0);
    }
    cr_assert(zeros > 60 && zeros < 140, "%d of 200 dropped at p = 0.5", zeros);
    cr_assert_gt(differ, 0, "two applications drew the same mask");
    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_EVAL), NB_OK, "%s", nb_graph_error(g));
    expect_values(y, xs, 200, 0);
    nb_graph_free(g);
}

Test(dropout_layer, errors_name_the_layer)
{
    nb_graph *g = nb_graph_new();
    nb_dropout_layer l = nb_dropout_layer_new(g, "drop", 1);
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "dropout_layer: drop: p must be in [0, 1) (got 1)");
    cr_assert_str_eq(l.name, "");
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    cr_assert_null(nb_dropout_layer_apply(g, &l, x));
    nb_graph_free(g);

    g = nb_graph_new();
    nb_dropout_layer_new(g, "drop", NAN);
    cr_assert_str_eq(nb_graph_error(g), "dropout_layer: drop: p must be in [0, 1) (got nan)");
    nb_graph_free(g);

    /* no suffix: the whole NB_LAYER_NAME_MAX - 1 bytes are the name's */
    char longname[80];
    memset(longname, 'd', 64);
    longname[63] = '\0';
    g = nb_graph_new();
    l = nb_dropout_layer_new(g, longname, 0.1);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    longname[63] = 'd';
    longname[64] = '\0';
    nb_dropout_layer_new(g, longname, 0.1);
    cr_assert_str_eq(nb_graph_error(g),
                     "dropout_layer: the layer name 'dddddddddddddddddddddddddddddddddddddddd...' "
                     "is too long: it must stay under 64 bytes");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_dropout_layer none;
    memset(&none, 0, sizeof none);
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    cr_assert_null(nb_dropout_layer_apply(g, &none, x));
    cr_assert_str_eq(nb_graph_error(g),
                     "dropout_layer: the layer is NULL or was not made by nb_dropout_layer_new");
    nb_graph_free(g);

    g = nb_graph_new();
    l = nb_dropout_layer_new(g, "drop", 0.5);
    x = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "ids");
    cr_assert_null(nb_dropout_layer_apply(g, &l, x));
    cr_assert_eq(nb_graph_status(g), NB_ERR_DTYPE, "%s", nb_graph_error(g));
    nb_graph_free(g);
}

/* ---- embedding ---- */

Test(embedding_layer, makes_a_standard_normal_table_named_after_it)
{
    nb_graph *g = nb_graph_new();
    nb_embedding_layer emb = nb_embedding_layer_new(g, "emb", NB_DTYPE_F64, 100, 20);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(emb.name, "emb");
    cr_assert_str_eq(nb_node_name(emb.weight), "emb_weight");
    cr_assert_eq(nb_node_kind(emb.weight), NB_KIND_PARAM);
    cr_assert_eq(nb_node_rank(emb.weight), 2);
    cr_assert_eq(nb_node_shape(emb.weight)[0], 100);
    cr_assert_eq(nb_node_shape(emb.weight)[1], 20);
    /* N(0, 1) over 2000 draws: mean within 0.1 (4.5 standard errors), std within 0.1 */
    const double *w = nb_node_data(emb.weight);
    double sum = 0, sq = 0;
    for (int i = 0; i < 2000; i++) {
        sum += w[i];
        sq += w[i] * w[i];
    }
    double mean = sum / 2000, sd = sqrt(sq / 2000 - mean * mean);
    cr_assert(fabs(mean) < 0.1, "mean %g", mean);
    cr_assert(fabs(sd - 1) < 0.1, "std %g", sd);
    nb_graph_free(g);
}

/*
 * torch: emb = torch.nn.Embedding(4, 3).double(); weight set to T below;
 * emb(torch.tensor([[2, 0], [3, 2]])) gives the rows [[T2, T0], [T3, T2]].
 */
Test(embedding_layer, looks_up_rows_in_its_scope_sharing_the_table)
{
    nb_graph *g = nb_graph_new();
    nb_embedding_layer emb = nb_embedding_layer_new(g, "emb", NB_DTYPE_F64, 4, 3);
    const double T[12] = { 0.5, -1, 2, 1.5, 0, -0.25, 3, 0.75, -2, -1.5, 1, 0.125 };
    nb_node_write_f64(g, emb.weight, T, 12);
    nb_node *ids = nb_input(g, NB_DTYPE_I32, NB_SHAPE(2, 2));
    const int32_t is[4] = { 2, 0, 3, 2 };
    nb_node_write(g, ids, is, 4);
    nb_node *y = nb_embedding_layer_apply(g, &emb, ids);
    run(g, y);
    cr_assert_eq(nb_node_rank(y), 3);
    cr_assert_eq(nb_node_shape(y)[2], 3);
    cr_assert_str_eq(nb_node_scope(y), "emb");
    const double want[12] = { 3, 0.75, -2, 0.5, -1, 2, -1.5, 1, 0.125, 3, 0.75, -2 };
    expect_values(y, want, 12, 0);
    nb_node *one = nb_input(g, NB_DTYPE_I32, NB_SHAPE(1));
    const int32_t i1 = 1;
    nb_node_write(g, one, &i1, 1);
    nb_node *y1 = nb_embedding_layer_apply(g, &emb, one);
    run(g, y1);
    expect_values(y1, T + 3, 3, 0);
    cr_assert_eq(nb_graph_params(g, NULL, 0), 1);
    nb_graph_free(g);
}

Test(embedding_layer, errors_name_the_layer)
{
    nb_graph *g = nb_graph_new();
    nb_embedding_layer l = nb_embedding_layer_new(g, "emb", NB_DTYPE_F64, 4, 0);
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "embedding_layer: emb: num and dim must be at least 1 (got 4 and 0)");
    cr_assert_null(l.weight);
    nb_graph_free(g);

    g = nb_graph_new();
    nb_embedding_layer_new(g, "emb", NB_DTYPE_I32, 4, 3);
    cr_assert_eq(nb_graph_status(g), NB_ERR_DTYPE);
    cr_assert_str_eq(nb_graph_error(g),
                     "embedding_layer: emb: dtype i32 is not supported; use f32 or f64");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_embedding_layer_new(g, "9emb", NB_DTYPE_F64, 4, 3);
    cr_assert_str_eq(nb_graph_error(g), "embedding_layer: the layer name '9emb' is not a name "
                                        "([A-Za-z_][A-Za-z0-9_]*)");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_embedding_layer none;
    memset(&none, 0, sizeof none);
    nb_node *ids = nb_input(g, NB_DTYPE_I32, NB_SHAPE(2));
    cr_assert_null(nb_embedding_layer_apply(g, &none, ids));
    cr_assert_str_eq(nb_graph_error(g), "embedding_layer: the layer is NULL or was not made by "
                                        "nb_embedding_layer_new");
    nb_graph_free(g);

    /* an id outside the table fails the run, as the op does */
    g = nb_graph_new();
    l = nb_embedding_layer_new(g, "emb", NB_DTYPE_F64, 5, 3);
    ids = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(4)), "ids");
    const int32_t is[4] = { 0, 1, 7, 2 };
    nb_node_write(g, ids, is, 4);
    nb_node *y = nb_embedding_layer_apply(g, &l, ids);
    cr_assert_not_null(y, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_VALUE);
    cr_assert_str_eq(nb_graph_error(g), "embedding(ids[4], emb_weight[5,3]): id 7 at position 2 "
                                        "is outside 0..4 (the table has 5 rows)");
    nb_graph_free(g);
}
