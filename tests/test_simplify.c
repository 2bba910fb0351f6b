/*
 * tests/test_simplify.c: the graph simplifier (autodiff/simplify.c and the
 * sums in autodiff/grad.c). Each rule on a small graph through
 * nb_graph_simplify; nb_grad with and without it on every example model
 * (same values, no more nodes, no deeper); the balanced sums' depth, exact
 * on integer-valued float64 and within rounding elsewhere; slices' gradients
 * joined by a concat where their pieces do not overlap, and added where they do.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE(...)                                                                                 \
    (sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), (int64_t[])                            \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static void assert_ok(nb_graph *g)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

static nb_node *simplified(nb_graph *g, nb_node *y)
{
    nb_node *s = NULL;
    cr_assert_eq(nb_graph_simplify(g, 1, &y, &s), NB_OK, "%s", nb_graph_error(g));
    cr_assert_not_null(s);
    return s;
}

static void read_all(nb_graph *g, nb_node *n, double *out)
{
    cr_assert_eq(nb_graph_run(g, 1, &n), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, n, out, nb_node_size(n)), NB_OK);
}

/* ---- the rules, one at a time, through nb_graph_simplify ---- */

Test(simplify, common_subexpressions_are_one_node)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, SHAPE(3));
    nb_node *b = nb_input(g, NB_DTYPE_F64, SHAPE(3));
    nb_node *p = nb_mul(g, a, b), *q = nb_mul(g, a, b);
    nb_node *ep = nb_exp(g, p), *eq = nb_exp(g, q); /* in this order: ep is the earlier */
    nb_node *y = nb_add(g, ep, eq);
    size_t before = nb_graph_node_count(g);
    nb_node *s = simplified(g, y);
    /* exp(p) + exp(p): one new add over the first exp, whose inputs did not change */
    cr_assert_neq(s, y);
    cr_assert_eq(nb_graph_node_count(g), before + 1);
    cr_assert_eq(nb_node_input(s, 0), nb_node_input(s, 1));
    cr_assert_eq(nb_node_input(nb_node_input(s, 0), 0), p);
    cr_assert_eq(nb_depth(g, s, 0), nb_depth(g, y, 0));
    /* different attributes are different nodes; equal ones are one */
    nb_node *l1 = nb_leaky_relu(g, p, 0.1), *l2 = nb_leaky_relu(g, p, 0.2);
    nb_node *z = nb_add(g, l1, l2);
    cr_assert_eq(simplified(g, z), z);
    nb_node *z2 = nb_add(g, l1, nb_leaky_relu(g, p, 0.1));
    nb_node *s2 = simplified(g, z2);
    cr_assert_eq(nb_node_input(s2, 0), l1);
    cr_assert_eq(nb_node_input(s2, 1), l1);
    /* values: the same bits */
    double av[3] = { 0.5, -1.25, 3 }, bv[3] = { 2, 0.75, -1.5 }, r1[3], r2[3];
    cr_assert_eq(nb_node_write_f64(g, a, av, 3), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, b, bv, 3), NB_OK);
    read_all(g, y, r1);
    read_all(g, s, r2);
    cr_assert_arr_eq(r1, r2, sizeof r1);
    nb_graph_free(g);
}

Test(simplify, identities)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, SHAPE(2, 3));
    nb_node *one = nb_fill(g, NB_DTYPE_F64, SHAPE(2, 3), 1.0);
    nb_node *zero = nb_fill(g, NB_DTYPE_F64, SHAPE(2, 3), 0.0);
    cr_assert_eq(simplified(g, nb_mul(g, x, one)), x, "x*1");
    cr_assert_eq(simplified(g, nb_mul(g, one, x)), x, "1*x");
    cr_assert_eq(simplified(g, nb_div(g, x, one)), x, "x/1");
    cr_assert_eq(simplified(g, nb_add(g, zero, x)), x, "0+x");
    cr_assert_eq(simplified(g, nb_sub(g, x, zero)), x, "x-0");
    cr_assert_eq(simplified(g, nb_neg(g, nb_neg(g, x))), x, "-(-x)");
    cr_assert_eq(simplified(g, nb_transpose(g, nb_transpose(g, x))), x, "transpose twice");
    cr_assert_eq(simplified(g, nb_reshape(g, nb_reshape(g, x, SHAPE(6)), SHAPE(2, 3))), x,
                 "reshape back");
    /* reshape of a reshape: one reshape of x */
    nb_node *r = simplified(g, nb_reshape(g, nb_reshape(g, x, SHAPE(6)), SHAPE(3, 2)));
    cr_assert_str_eq(nb_node_op_name(r), "reshape");
    cr_assert_eq(nb_node_input(r, 0), x);
    /* broadcast of a broadcast: one broadcast of x */
    nb_node *v = nb_input(g, NB_DTYPE_F64, SHAPE(3));
    nb_node *bb = nb_broadcast_to(g, nb_broadcast_to(g, v, SHAPE(2, 3)), SHAPE(4, 2, 3));
    nb_node *b = simplified(g, bb);
    cr_assert_str_eq(nb_node_op_name(b), "broadcast_to");
    cr_assert_eq(nb_node_input(b, 0), v);
    cr_assert_eq(nb_node_size(b), 24);
    /* x*1 where 1 broadcasts x to a larger shape is not x */
    nb_node *big_one = nb_fill(g, NB_DTYPE_F64, SHAPE(2, 3), 1.0);
    nb_node *vb = nb_mul(g, v, big_one);
    cr_assert_eq(simplified(g, vb), vb);
    /* a program's constant may be rewritten later (nb_node_write): never an identity */
    double ones[6] = { 1, 1, 1, 1, 1, 1 };
    nb_node *c = nb_const(g, NB_DTYPE_F64, SHAPE(2, 3), ones);
    nb_node *xc = nb_mul(g, x, c);
    cr_assert_eq(simplified(g, xc), xc);
    assert_ok(g);
    nb_graph_free(g);
}

Test(simplify, x_times_zero_stays_for_non_finite_x)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, SHAPE(3));
    nb_node *zero = nb_fill(g, NB_DTYPE_F64, SHAPE(3), 0.0);
    nb_node *y = nb_mul(g, x, zero);
    nb_node *s = simplified(g, y);
    cr_assert_eq(s, y, "x*0 is not rewritten: inf*0 and NaN*0 are NaN");
    double xv[3] = { INFINITY, NAN, 2 }, out[3];
    cr_assert_eq(nb_node_write_f64(g, x, xv, 3), NB_OK);
    read_all(g, s, out);
    cr_assert(isnan(out[0]) && isnan(out[1]) && out[2] == 0);
    nb_graph_free(g);
}

Test(simplify, nabla_constants_fold_and_merge)
{
    /* mean's gradient broadcasts a constant (1/n): folded into one constant */
    for (int on = 0; on < 2; on++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, on);
        cr_assert_eq(nb_graph_simplifies(g), (bool)on);
        nb_node *x = nb_param(g, NB_DTYPE_F64, SHAPE(3), nb_init_uniform(-1, 1));
        nb_node *y = nb_mean(g, nb_mul(g, x, x));
        size_t n0 = nb_graph_node_count(g);
        nb_node *d = NULL;
        cr_assert_eq(nb_grad(g, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
        size_t added = nb_graph_node_count(g) - n0;
        int broadcasts = 0;
        for (size_t i = n0; i < nb_graph_node_count(g); i++) {
            broadcasts += strcmp(nb_node_op_name(nb_graph_node(g, i)), "broadcast_to") == 0;
        }
        /* raw: seed, 1/n, broadcast, dy*x twice (one per factor), their sum */
        cr_assert_eq(added, on ? 4u : 6u, "%zu nodes", added);
        cr_assert_eq(broadcasts, on ? 0 : 1);
        double xv[3], dv[3];
        cr_assert_eq(nb_node_read_f64(g, x, xv, 3), NB_OK);
        read_all(g, d, dv);
        for (int i = 0; i < 3; i++) {
            cr_assert_float_eq(dv[i], 2 * xv[i] / 3, 1e-15);
        }
        nb_graph_free(g);
    }
}

Test(simplify, a_used_twice,
     .description = "docs/autodiff.md: y = sum(a*a), grad_a = add(mul_2, mul_2)")
{
    for (int on = 0; on < 2; on++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, on);
        nb_node *a = nb_param(g, NB_DTYPE_F64, SHAPE(3), nb_init_uniform(-1, 1));
        nb_node *y = nb_sum(g, nb_mul(g, a, a));
        size_t n0 = nb_graph_node_count(g);
        nb_node *d = NULL;
        cr_assert_eq(nb_grad(g, y, 1, &a, &d), NB_OK, "%s", nb_graph_error(g));
        /* raw: seed, broadcast seed, two products, the add; simplified, one product */
        cr_assert_eq(nb_graph_node_count(g) - n0, on ? 4u : 5u);
        cr_assert_str_eq(nb_node_op_name(d), "add");
        cr_assert_str_eq(nb_node_name(d), "grad_param_1");
        if (on) {
            cr_assert_eq(nb_node_input(d, 0), nb_node_input(d, 1));
            cr_assert_str_eq(nb_node_name(nb_node_input(d, 0)), "mul_2");
        } else {
            cr_assert_str_eq(nb_node_name(nb_node_input(d, 0)), "mul_2");
            cr_assert_str_eq(nb_node_name(nb_node_input(d, 1)), "mul_3");
        }
        double av[3], dv[3];
        cr_assert_eq(nb_node_read_f64(g, a, av, 3), NB_OK);
        read_all(g, d, dv);
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(dv[i], 2 * av[i]);
        }
        nb_graph_free(g);
    }
}

Test(simplify, off_gives_the_raw_rules)
{
    nb_graph *g = nb_graph_new();
    cr_assert(nb_graph_simplifies(g), "on by default");
    nb_graph_set_simplify(g, false);
    cr_assert(!nb_graph_simplifies(g));
    nb_graph_set_simplify(NULL, false); /* ignored */
    cr_assert(!nb_graph_simplifies(NULL));
    nb_graph_free(g);
}

Test(simplify, errors_are_sticky)
{
    nb_graph *g = nb_graph_new(), *h = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, SHAPE(2));
    nb_node *other = nb_input(h, NB_DTYPE_F64, SHAPE(2));
    nb_node *out[1] = { NULL };
    cr_assert_eq(nb_graph_simplify(NULL, 1, &x, out), NB_ERR_ARG);
    cr_assert_eq(nb_graph_simplify(g, 0, NULL, NULL), NB_OK);
    cr_assert_eq(nb_graph_simplify(g, 1, &other, out), NB_ERR_GRAPH);
    cr_assert_null(out[0]);
    cr_assert(strstr(nb_graph_error(g), "simplify"), "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_simplify(g, 1, &x, out), NB_ERR_GRAPH, "sticky");
    nb_graph_free(g);
    nb_graph_free(h);
    g = nb_graph_new();
    x = nb_input(g, NB_DTYPE_F64, SHAPE(2));
    cr_assert_eq(nb_graph_simplify(g, 1, &x, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_graph_error(g), "simplify: outs or simplified is NULL"), "%s",
              nb_graph_error(g));
    nb_graph_free(g);
}

/* ---- balanced sums ---- */

/*
 * y = sum_k sum(w * c_k): w fans out to T products, so dy/dw sums T
 * contributions of equal depth. Integer-valued float64: every sum is exact,
 * so the tree and the chain agree bit for bit.
 */
static void fan_out(bool on, int T, double scale, double *grad, int *depth, size_t *nodes)
{
    nb_graph *g = nb_graph_new();
    nb_graph_set_simplify(g, on);
    nb_node *w = nb_param(g, NB_DTYPE_F64, SHAPE(4), nb_init_constant(0));
    double wv[4] = { 1, -2, 3, 5 };
    cr_assert_eq(nb_node_write_f64(g, w, wv, 4), NB_OK);
    nb_node *y = NULL;
    for (int k = 0; k < T; k++) {
        double cv[4];
        for (int i = 0; i < 4; i++) {
            cv[i] = scale * sin(1.0 + k * 4 + i);
            if (scale == 0) {
                cv[i] = (double)((k * 7 + i * 3) % 11) - 5; /* integers */
            }
        }
        nb_node *c = nb_const(g, NB_DTYPE_F64, SHAPE(4), cv);
        nb_node *t = nb_sum(g, nb_mul(g, w, c));
        y = y ? nb_add(g, y, t) : t;
    }
    size_t n0 = nb_graph_node_count(g);
    nb_node *d = NULL;
    cr_assert_eq(nb_grad(g, y, 1, &w, &d), NB_OK, "%s", nb_graph_error(g));
    *nodes = nb_graph_node_count(g) - n0;
    read_all(g, d, grad);
    /* the depth of the sum alone: the contributions are broadcasts of depth 2 (c * seed) */
    *depth = nb_depth(g, d, 0);
    nb_graph_free(g);
}

Test(simplify, fan_out_sums_are_balanced_trees)
{
    for (int T = 1; T <= 33; T += (T < 9 ? 1 : 8)) {
        double raw[4], bal[4];
        int draw, dbal;
        size_t nraw, nbal;
        fan_out(false, T, 0, raw, &draw, &nraw);
        fan_out(true, T, 0, bal, &dbal, &nbal);
        cr_assert_arr_eq(raw, bal, sizeof raw, "T=%d: integer sums are exact in any order", T);
        int levels = 0;
        while ((1 << levels) < T) {
            levels++;
        }
        /*
         * each contribution is c_k times dy broadcast (2 ops deep; simplified, the T
         * broadcasts are one node); the chain adds T-1 levels, the tree ceil(log2 T)
         */
        cr_assert_eq(dbal, 2 + levels, "T=%d: depth %d", T, dbal);
        cr_assert_eq(draw, T + 1, "T=%d: depth %d", T, draw);
        cr_assert_leq(nbal, nraw, "T=%d", T);
    }
}

Test(simplify, reassociated_sums_agree_within_rounding)
{
    double raw[4], bal[4];
    int draw, dbal;
    size_t nraw, nbal;
    fan_out(false, 40, 0.1, raw, &draw, &nraw);
    fan_out(true, 40, 0.1, bal, &dbal, &nbal);
    for (int i = 0; i < 4; i++) {
        cr_assert(fabs(raw[i] - bal[i]) <= 1e-14 * fmax(1, fabs(raw[i])), "%d: %.17g vs %.17g", i,
                  raw[i], bal[i]);
    }
    cr_assert_lt(dbal, draw);
}

/* ---- slices' gradients joined ---- */

/*
 * y = Σ_k sum(f_k(x[:, start_k:stop_k])) over x [2, 8] in float64, each
 * slice through its own op (exp, tanh, square, sigmoid by k % 4), used in
 * the order given; writes dy/dx in grad and returns the gradient node.
 */
static nb_node *sliced(nb_graph *g, bool on, int n, const int64_t (*range)[3], double *grad)
{
    nb_graph_set_simplify(g, on);
    nb_node *x = nb_param(g, NB_DTYPE_F64, SHAPE(2, 8), nb_init_constant(0));
    double xv[16];
    for (int i = 0; i < 16; i++) {
        xv[i] = 0.3 * sin(1.0 + i) + 0.05 * i;
    }
    cr_assert_eq(nb_node_write_f64(g, x, xv, 16), NB_OK);
    nb_node *y = NULL;
    for (int k = 0; k < n; k++) {
        nb_node *s = nb_slice(g, x, 1, range[k][0], range[k][1], range[k][2]);
        nb_node *f = k % 4 == 0   ? nb_exp(g, s)
                     : k % 4 == 1 ? nb_tanh(g, s)
                     : k % 4 == 2 ? nb_mul(g, s, s)
                                  : nb_sigmoid(g, s);
        nb_node *t = nb_sum(g, f);
        y = y ? nb_add(g, y, t) : t;
    }
    nb_node *d = NULL;
    cr_assert_eq(nb_grad(g, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
    read_all(g, d, grad);
    return d;
}

/* The gradient with the simplifier on and off: the same bits (no zero is signed here). */
static nb_node *sliced_both(nb_graph *g, int n, const int64_t (*range)[3], double *grad)
{
    double raw[16];
    nb_graph *r = nb_graph_new();
    nb_node *draw = sliced(r, false, n, range, raw);
    cr_assert_str_eq(nb_node_op_name(draw), n > 1 ? "add" : "slice_grad");
    nb_graph_free(r);
    nb_node *d = sliced(g, true, n, range, grad);
    cr_assert_arr_eq(raw, grad, sizeof raw);
    return d;
}

Test(simplify, slice_gradients_that_tile_an_axis_are_one_concat)
{
    /* the LSTM's gates: four slices tiling the axis, used out of order */
    const int64_t gates[4][3] = { { 4, 6, 1 }, { 0, 2, 1 }, { 6, 8, 1 }, { 2, 4, 1 } };
    double grad[16];
    nb_graph *g = nb_graph_new();
    nb_node *d = sliced_both(g, 4, gates, grad);
    cr_assert_str_eq(nb_node_op_name(d), "concat");
    cr_assert_eq(nb_node_arity(d), 4);
    for (int i = 0; i < 4; i++) {
        /* each input is its slice's own gradient, in order along the axis */
        cr_assert_str_neq(nb_node_op_name(nb_node_input(d, i)), "slice_grad");
        cr_assert_eq(nb_node_shape(nb_node_input(d, i))[1], 2);
    }
    /* x[:, 0:2] went through tanh (the second use), x[:, 4:6] through exp (the first) */
    cr_assert_str_eq(nb_node_op_name(nb_node_input(d, 0)), "tanh_grad");
    cr_assert_str_eq(nb_node_op_name(nb_node_input(d, 2)), "mul");
    /* one level over the slices' own gradients, where the sum took two adds over slice_grads */
    cr_assert_eq(nb_depth(g, d, 0), nb_depth(g, nb_node_input(d, 0), 0) + 1);
    nb_graph_free(g);
}

Test(simplify, slice_gradients_with_gaps_are_joined_around_zeros)
{
    double grad[16];
    /* [0, 2) and [5, 8): a +0 fill of [2, 3] between them */
    const int64_t ends[2][3] = { { 5, 8, 1 }, { 0, 2, 1 } };
    nb_graph *g = nb_graph_new();
    nb_node *d = sliced_both(g, 2, ends, grad);
    cr_assert_str_eq(nb_node_op_name(d), "concat");
    cr_assert_eq(nb_node_arity(d), 3);
    nb_node *gap = nb_node_input(d, 1);
    cr_assert_str_eq(nb_node_op_name(gap), "fill");
    cr_assert_eq(nb_node_shape(gap)[1], 3);
    for (int r = 0; r < 2; r++) {
        for (int c = 2; c < 5; c++) {
            cr_assert(grad[r * 8 + c] == 0 && !signbit(grad[r * 8 + c]));
        }
    }
    nb_graph_free(g);
    /* [1, 3) and [3, 5) reach neither end: their concat, placed by one slice_grad */
    const int64_t inner[2][3] = { { 3, 5, 1 }, { 1, 3, 1 } };
    g = nb_graph_new();
    d = sliced_both(g, 2, inner, grad);
    cr_assert_str_eq(nb_node_op_name(d), "slice_grad");
    cr_assert_str_eq(nb_node_op_name(nb_node_input(d, 0)), "concat");
    cr_assert_eq(nb_node_arity(nb_node_input(d, 0)), 2);
    nb_graph_free(g);
    /* three pieces, the middle one last: the gap's fill is split around it, then gone */
    const int64_t split[3][3] = { { 0, 2, 1 }, { 6, 8, 1 }, { 2, 6, 1 } };
    g = nb_graph_new();
    d = sliced_both(g, 3, split, grad);
    cr_assert_str_eq(nb_node_op_name(d), "concat");
    cr_assert_eq(nb_node_arity(d), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_neq(nb_node_op_name(nb_node_input(d, i)), "fill");
    }
    nb_graph_free(g);
}

Test(simplify, overlapping_or_strided_slice_gradients_are_added)
{
    double grad[16];
    const int64_t overlap[2][3] = { { 0, 5, 1 }, { 3, 8, 1 } };
    nb_graph *g = nb_graph_new();
    cr_assert_str_eq(nb_node_op_name(sliced_both(g, 2, overlap, grad)), "add");
    nb_graph_free(g);
    /* steps of 2 interleave: a slice_grad of step 2 is not a placement of one block */
    const int64_t strided[2][3] = { { 0, 8, 2 }, { 1, 8, 2 } };
    g = nb_graph_new();
    cr_assert_str_eq(nb_node_op_name(sliced_both(g, 2, strided, grad)), "add");
    nb_graph_free(g);
}

Test(simplify, joined_slice_gradients_keep_a_negative_zero)
{
    /* d/dx of sum(x[0:1] * -0) + sum(x[1:2] * 2) is [-0, 2] joined; a sum gives [+0, 2] */
    for (int on = 0; on < 2; on++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, on);
        nb_node *x = nb_param(g, NB_DTYPE_F64, SHAPE(2), nb_init_constant(1));
        nb_node *a = nb_mul(g, nb_slice(g, x, 0, 0, 1, 1),
                            nb_const(g, NB_DTYPE_F64, SHAPE(1), (double[]){ -0.0 }));
        nb_node *b = nb_mul(g, nb_slice(g, x, 0, 1, 2, 1),
                            nb_const(g, NB_DTYPE_F64, SHAPE(1), (double[]){ 2.0 }));
        nb_node *y = nb_add(g, nb_sum(g, a), nb_sum(g, b)), *d = NULL;
        cr_assert_eq(nb_grad(g, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
        double v[2];
        read_all(g, d, v);
        cr_assert(v[0] == 0 && v[1] == 2);
        cr_assert_eq(signbit(v[0]) != 0, on != 0, "simplify %d: %g", on, v[0]);
        nb_graph_free(g);
    }
}

Test(simplify, more_pieces_than_a_concat_takes_are_added)
{
    /* 300 one-column slices: joined while a concat can hold them, then added */
    enum { N = 300 };
    double raw[N], joined[N];
    for (int on = 0; on < 2; on++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, on);
        nb_node *x = nb_param(g, NB_DTYPE_F64, SHAPE(N), nb_init_constant(0.5));
        nb_node *y = NULL;
        for (int k = 0; k < N; k++) {
            int64_t at = (k * 7) % N; /* every column once, out of order */
            nb_node *t = nb_sum(g, nb_exp(g, nb_slice(g, x, 0, at, at + 1, 1)));
            y = y ? nb_add(g, y, t) : t;
        }
        nb_node *d = NULL;
        cr_assert_eq(nb_grad(g, y, 1, &x, &d), NB_OK, "%s", nb_graph_error(g));
        read_all(g, d, on ? joined : raw);
        nb_graph_free(g);
    }
    cr_assert_arr_eq(raw, joined, sizeof raw);
    for (int i = 0; i < N; i++) {
        cr_assert_float_eq(joined[i], exp(0.5), 1e-15);
    }
}

Test(simplify, joined_slice_gradients_differentiate_again)
{
    /* z = Σ (dy/dx)², its gradient through the concat (whose gradient is slices) */
    nb_graph *g = nb_graph_new();
    const int64_t gates[4][3] = { { 4, 6, 1 }, { 0, 2, 1 }, { 6, 8, 1 }, { 2, 4, 1 } };
    double grad[16];
    nb_node *d = sliced(g, true, 4, gates, grad);
    cr_assert_str_eq(nb_node_op_name(d), "concat");
    nb_node *z = nb_sum(g, nb_mul(g, d, d)), *x = NULL;
    cr_assert_eq(nb_graph_params(g, &x, 1), 1);
    nb_gradcheck_result res;
    cr_assert_eq(nb_gradcheck(g, z, 1, &x, NULL, &res), NB_OK, "%s", nb_graph_error(g));
    cr_assert(res.passed, "max rel err %g at %zu: %g vs %g", res.max_rel_err, res.worst_index,
              res.analytic, res.numeric);
    nb_graph_free(g);
}

/* ---- every example model ---- */

typedef struct model_result {
    size_t nodes;
    int depth;
    size_t n_values;
    double *values;
} model_result;

static model_result grad_model(const char *file, const char *out, bool on)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/models/%s", NB_SOURCE_DIR, file);
    nb_graph *g = nb_graph_new();
    nb_graph_set_simplify(g, on);
    nb_graph_seed(g, 7);
    nb_parse_error pe;
    cr_assert_eq(nb_model_parse_file(g, path, NULL, &pe), NB_OK, "%s:%d: %s", path, pe.line,
                 pe.message);
    /* float inputs get values (a zero input would hide most of the gradient) */
    for (size_t i = 0; i < nb_graph_node_count(g); i++) {
        nb_node *v = nb_graph_node(g, i);
        if (nb_node_kind(v) == NB_KIND_INPUT && nb_node_dtype(v) != NB_DTYPE_I32) {
            size_t n = nb_node_size(v);
            double *x = malloc(n * sizeof *x);
            for (size_t k = 0; k < n; k++) {
                x[k] = sin(0.37 * (double)(k + 1) + (double)i);
            }
            cr_assert_eq(nb_node_write_f64(g, v, x, n), NB_OK);
            free(x);
        }
    }
    nb_node *y = nb_graph_find(g, out);
    cr_assert_not_null(y, "%s has no %s", file, out);
    size_t n = nb_graph_params(g, NULL, 0);
    nb_node **wrt = malloc(n * sizeof *wrt), **grads = malloc(n * sizeof *grads);
    nb_graph_params(g, wrt, n);
    size_t n0 = nb_graph_node_count(g);
    cr_assert_eq(nb_grad(g, y, n, wrt, grads), NB_OK, "%s", nb_graph_error(g));
    model_result r = { .nodes = nb_graph_node_count(g) - n0 };
    for (size_t i = 0; i < n; i++) {
        int d = nb_depth(g, grads[i], 0);
        r.depth = d > r.depth ? d : r.depth;
        r.n_values += nb_node_size(grads[i]);
    }
    cr_assert_eq(nb_graph_run(g, n, grads), NB_OK, "%s", nb_graph_error(g));
    r.values = malloc(r.n_values * sizeof *r.values);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = nb_node_size(grads[i]);
        cr_assert_eq(nb_node_read_f64(g, grads[i], r.values + at, k), NB_OK);
        at += k;
    }
    free(wrt);
    free(grads);
    nb_graph_free(g);
    return r;
}

static const struct {
    const char *file, *out;
    bool exact; /* no node sums four or more contributions: the same bits */
} models[] = {
    { "figure_1_3.nb", "y", true },     { "xor.nb", "loss", true },
    { "mlp.nb", "loss", true },         { "lenet.nb", "loss", true },
    { "bn_mlp.nb", "loss", true },      { "iris_train.nb", "loss", true },
    { "names_lstm.nb", "loss", false }, { "rnn_unrolled.nb", "loss", false },
};

Test(simplify, every_example_model_same_gradient_fewer_nodes)
{
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        model_result raw = grad_model(models[m].file, models[m].out, false);
        model_result simple = grad_model(models[m].file, models[m].out, true);
        cr_log_info("%s: nodes %zu -> %zu, depth %d -> %d", models[m].file, raw.nodes, simple.nodes,
                    raw.depth, simple.depth);
        cr_assert_leq(simple.nodes, raw.nodes, "%s", models[m].file);
        cr_assert_leq(simple.depth, raw.depth, "%s", models[m].file);
        cr_assert_eq(simple.n_values, raw.n_values);
        for (size_t i = 0; i < raw.n_values; i++) {
            if (models[m].exact) {
                cr_assert(memcmp(&raw.values[i], &simple.values[i], sizeof(double)) == 0,
                          "%s [%zu]: %.17g vs %.17g", models[m].file, i, raw.values[i],
                          simple.values[i]);
            } else {
                cr_assert(fabs(raw.values[i] - simple.values[i]) <=
                              1e-12 * fmax(1e-3, fabs(raw.values[i])),
                          "%s [%zu]: %.17g vs %.17g", models[m].file, i, raw.values[i],
                          simple.values[i]);
            }
        }
        free(raw.values);
        free(simple.values);
    }
}

Test(simplify, the_recurrent_models_get_shallower)
{
    /* 16 steps: each weight's gradient sums 16 contributions, a tree of 4 levels, not 15 */
    model_result raw = grad_model("names_lstm.nb", "loss", false);
    model_result simple = grad_model("names_lstm.nb", "loss", true);
    cr_assert_lt(simple.nodes, raw.nodes);
    cr_assert_lt(simple.depth, raw.depth);
    free(raw.values);
    free(simple.values);
}

Test(simplify, nb_graph_simplify_on_raw_gradients_keeps_the_bits)
{
    /* the names model's raw gradient, simplified after the fact: no sum is reshaped */
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/models/names_lstm.nb", NB_SOURCE_DIR);
    nb_graph *g = nb_graph_new();
    nb_graph_set_simplify(g, false);
    nb_parse_error pe;
    cr_assert_eq(nb_model_parse_file(g, path, NULL, &pe), NB_OK, "%s", pe.message);
    nb_node *y = nb_graph_find(g, "loss");
    size_t n = nb_graph_params(g, NULL, 0);
    nb_node **wrt = malloc(n * sizeof *wrt), **grads = malloc(n * sizeof *grads),
            **simple = malloc(n * sizeof *simple);
    nb_graph_params(g, wrt, n);
    cr_assert_eq(nb_grad(g, y, n, wrt, grads), NB_OK, "%s", nb_graph_error(g));
    size_t before = nb_graph_node_count(g);
    cr_assert_eq(nb_graph_simplify(g, n, grads, simple), NB_OK, "%s", nb_graph_error(g));
    size_t added = nb_graph_node_count(g) - before;
    cr_assert_gt(added, 0);
    cr_assert_eq(simple[4], simple[3], "b_hh's gradient is b_ih's");
    for (size_t i = 0; i < n; i++) {
        cr_assert_leq(nb_depth(g, simple[i], 0), nb_depth(g, grads[i], 0));
    }
    cr_assert_eq(nb_graph_run(g, n, grads), NB_OK, "%s", nb_graph_error(g));
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += nb_node_size(grads[i]);
    }
    double *a = malloc(total * sizeof *a), *b = malloc(total * sizeof *b);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        nb_node_read_f64(g, grads[i], a + at, nb_node_size(grads[i]));
        at += nb_node_size(grads[i]);
    }
    cr_assert_eq(nb_graph_run(g, n, simple), NB_OK, "%s", nb_graph_error(g));
    at = 0;
    for (size_t i = 0; i < n; i++) {
        nb_node_read_f64(g, simple[i], b + at, nb_node_size(simple[i]));
        at += nb_node_size(simple[i]);
    }
    cr_assert_arr_eq(a, b, total * sizeof *a);
    cr_log_info("names LSTM raw gradient: nb_graph_simplify built %zu nodes", added);
    free(a);
    free(b);
    free(wrt);
    free(grads);
    free(simple);
    nb_graph_free(g);
}

/*
 * f32 scalars run through the executor's scalar steps, which plan from the
 * flat tables (g->meta, g->in_ids); nb_grad's simplifier rewrites and
 * renumbers its nodes, so the tables must follow. A fan-out of scalars with
 * identities and repeated subexpressions in its gradient: the gradients
 * with the simplifier equal those without, and a second nb_grad on top
 * (planned after the first was compacted) runs too.
 */
Test(simplify, scalar_gradients_after_renumbering)
{
    double want[2][3];
    for (int on = 0; on < 2; on++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, on);
        nb_node *x = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.75));
        nb_node *w = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(-1.5));
        nb_node *one = nb_scalar(g, NB_DTYPE_F32, 1);
        nb_node *t = nb_tanh(g, nb_mul(g, x, w));
        nb_node *y = nb_add(g, nb_mul(g, nb_mul(g, t, t), one), nb_sigmoid(g, nb_mul(g, t, x)));
        y = nb_add(g, y, nb_neg(g, nb_neg(g, nb_mul(g, x, t))));
        nb_node *wrt[2] = { x, w }, *dg[2];
        cr_assert_eq(nb_grad(g, y, 2, wrt, dg), NB_OK, "%s", nb_graph_error(g));
        nb_node *h[1];
        cr_assert_eq(nb_grad(g, dg[0], 1, wrt, h), NB_OK, "%s", nb_graph_error(g));
        nb_node *outs[3] = { dg[0], dg[1], h[0] };
        cr_assert_eq(nb_graph_run(g, 3, outs), NB_OK, "%s", nb_graph_error(g));
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(nb_node_read_f64(g, outs[i], &want[on][i], 1), NB_OK);
        }
        nb_graph_free(g);
    }
    for (int i = 0; i < 3; i++) {
        cr_assert(fabs(want[1][i] - want[0][i]) <= 1e-6 * fabs(want[0][i]),
                  "gradient %d: %.9g simplified, %.9g raw", i, want[1][i], want[0][i]);
    }
}
