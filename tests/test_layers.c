/*
 * tests/test_layers.c: the layer builders (layers/): the parameters they make
 * (names, shapes, PyTorch's default initialization), the scope they build in,
 * their values against PyTorch's modules, sharing across applications, and
 * their errors. Also nb_graph_params and nb_graph_fail, which layers rest on.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <string.h>

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
