#include <criterion/criterion.h>
#include <nabla.h>
#include <math.h>

Test(smoke, logistic)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0.5));
    nb_node *y = nb_sigmoid(g, nb_sum(g, nb_mul(g, w, x)));
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_depth(g, y, 0), 3);
    double xs[3] = { 1, 2, 3 };
    nb_node_write_f64(g, x, xs, 3);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    double v;
    nb_node_read_f64(g, y, &v, 1);
    cr_assert_float_eq(v, 1 / (1 + exp(-3.0)), 1e-12);
    nb_graph_free(g);
}
