/*
 * tests/test_ops_norm.c: dropout and layer_norm beyond the case table: the
 * statistics, reproducibility and modes of dropout's mask, its gradient as the
 * mask of the same run, layer_norm with only a weight or only a bias (PyTorch
 * values), constant rows, exact error messages, Hessian-vector products
 * through both ops against finite differences, the model-language forms and
 * the nb_model_write round trip.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static nb_node *input_f64(nb_graph *g, const char *name, int rank, const int64_t *shape,
                          const double *values)
{
    nb_node *x = nb_input(g, NB_DTYPE_F64, rank, shape);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    nb_node_set_name(g, x, name);
    if (values) {
        cr_assert_eq(nb_node_write_f64(g, x, values, nb_node_size(x)), NB_OK);
    }
    return x;
}

/* Runs outs in one run with flags and reads each into vals[i] (sizes from the nodes). */
static void run_read(nb_graph *g, size_t n, nb_node *const *outs, int flags, double **vals)
{
    cr_assert_eq(nb_graph_run_ex(g, n, outs, flags), NB_OK, "%s", nb_graph_error(g));
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(nb_node_read_f64(g, outs[i], vals[i], nb_node_size(outs[i])), NB_OK, "%s",
                     nb_graph_error(g));
    }
}

static void run1(nb_graph *g, nb_node *y, int flags, double *v)
{
    run_read(g, 1, &y, flags, &v);
}

/* A value in [-1, 1) from a 64-bit LCG, for test data. */
static double next_value(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-52 - 1.0;
}

static void assert_error(nb_graph *g, nb_status code, const char *msg)
{
    cr_assert_eq(nb_graph_status(g), code, "status %s, want %s: %s",
                 nb_status_string(nb_graph_status(g)), nb_status_string(code), nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), msg);
}

/* ---- dropout: the mask ---- */

enum { BIG = 100000 };

Test(dropout, drops_a_fraction_near_p_and_scales_the_rest,
     .description = "p = 0.3 on 100,000 ones (seed 7): between 29,500 and 30,500 zeros, every "
                    "other element exactly 1/(1-0.3), in f64 and f32")
{
    static double ones[BIG], y[BIG];
    for (size_t i = 0; i < BIG; i++) {
        ones[i] = 1;
    }
    nb_dtype dts[2] = { NB_DTYPE_F64, NB_DTYPE_F32 };
    for (int t = 0; t < 2; t++) {
        nb_graph *g = nb_graph_new();
        nb_graph_seed(g, 7);
        nb_node *x = nb_input(g, dts[t], NB_SHAPE(BIG));
        nb_node_write_f64(g, x, ones, BIG);
        nb_node *d = nb_dropout(g, x, 0.3);
        run1(g, d, 0, y);
        double kept = dts[t] == NB_DTYPE_F64 ? 1.0 / (1.0 - 0.3) : (double)(float)(1.0 / 0.7);
        size_t zeros = 0;
        for (size_t i = 0; i < BIG; i++) {
            if (y[i] == 0) {
                zeros++;
            } else {
                cr_assert_eq(y[i], kept, "element %zu is %.17g, want %.17g", i, y[i], kept);
            }
        }
        cr_expect(zeros >= 29500 && zeros <= 30500, "%s: %zu zeros of %d for p = 0.3",
                  nb_dtype_name(dts[t]), zeros, BIG);
        nb_graph_free(g);
    }
}

Test(dropout, same_seed_gives_the_same_outputs,
     .description = "two graphs seeded 11 give bit-identical dropout outputs run after run, and "
                    "seeding again repeats the first run")
{
    enum { N = 1000 };
    static double xs[N], a[3][N], b[3][N];
    uint64_t s = 3;
    for (int i = 0; i < N; i++) {
        xs[i] = next_value(&s) + 2;
    }
    for (int k = 0; k < 2; k++) {
        nb_graph *g = nb_graph_new();
        nb_graph_seed(g, 11);
        nb_node *x = input_f64(g, "x", NB_SHAPE(N), xs);
        nb_node *y = nb_dropout(g, x, 0.5);
        double(*out)[N] = k ? b : a;
        run1(g, y, 0, out[0]);
        run1(g, y, 0, out[1]);
        nb_graph_seed(g, 11);
        run1(g, y, 0, out[2]);
        nb_graph_free(g);
    }
    cr_expect(memcmp(a, b, sizeof a) == 0, "the two graphs' runs differ");
    cr_expect(memcmp(a[0], a[2], sizeof a[0]) == 0, "seeding again did not repeat the first run");
}

Test(dropout, successive_runs_draw_different_masks,
     .description = "two runs of one graph drop different elements (about half of the 1,000 "
                    "positions differ for p = 0.5), each dropping about half")
{
    enum { N = 1000 };
    double xs[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        xs[i] = 1;
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(N), xs);
    nb_node *y = nb_dropout(g, x, 0.5);
    run1(g, y, 0, a);
    run1(g, y, 0, b);
    int differ = 0, za = 0, zb = 0;
    for (int i = 0; i < N; i++) {
        differ += (a[i] == 0) != (b[i] == 0);
        za += a[i] == 0;
        zb += b[i] == 0;
    }
    cr_expect(differ > 400 && differ < 600, "%d of %d positions differ", differ, N);
    cr_expect(za > 430 && za < 570 && zb > 430 && zb < 570, "zeros: %d and %d", za, zb);
    nb_graph_free(g);
}

Test(dropout, evaluation_mode_is_the_identity,
     .description = "y = x exactly in an evaluation graph and with NB_RUN_EVAL on a training "
                    "graph; NB_RUN_TRAIN on an evaluation graph drops")
{
    enum { N = 64 };
    double xs[N], y[N];
    uint64_t s = 5;
    for (int i = 0; i < N; i++) {
        xs[i] = next_value(&s);
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(N), xs);
    nb_node *d = nb_dropout(g, x, 0.9);
    run1(g, d, NB_RUN_EVAL, y);
    cr_expect(memcmp(xs, y, sizeof y) == 0, "NB_RUN_EVAL changed x");
    nb_graph_set_training(g, false);
    cr_assert(!nb_graph_training(g));
    run1(g, d, 0, y);
    cr_expect(memcmp(xs, y, sizeof y) == 0, "an evaluation graph changed x");
    run1(g, d, NB_RUN_TRAIN, y);
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        zeros += y[i] == 0;
    }
    cr_expect(zeros > 40, "NB_RUN_TRAIN with p = 0.9 dropped only %d of %d", zeros, N);
    nb_graph_free(g);
}

Test(dropout, p_zero_is_the_identity_and_its_gradient_is_dy,
     .description = "p = 0 in training: y = x exactly, and d/dx sum(y * c) = c")
{
    double xs[4] = { 0.5, -1.25, 2, 0 }, cs[4] = { 1.5, -2, 0.25, 3 }, y[4], dx[4];
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(4), xs);
    nb_node *d = nb_dropout(g, x, 0);
    nb_node *loss = nb_sum(g, nb_mul(g, d, nb_const(g, NB_DTYPE_F64, NB_SHAPE(4), cs)));
    nb_node *gx;
    cr_assert_eq(nb_grad(g, loss, 1, &x, &gx), NB_OK, "%s", nb_graph_error(g));
    nb_node *outs[2] = { d, gx };
    double *vals[2] = { y, dx };
    run_read(g, 2, outs, NB_RUN_TRAIN, vals);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(y[i], xs[i], "y[%d] = %g", i, y[i]);
        cr_expect_eq(dx[i], cs[i], "dx[%d] = %g", i, dx[i]);
    }
    nb_graph_free(g);
}

Test(dropout, gradient_is_the_mask_of_the_same_run,
     .description = "run y = dropout(x, 0.4) and dx of sum(y * c) together, three times: "
                    "dx = c / 0.6 exactly where y kept x, 0 where it dropped, each run its own "
                    "mask")
{
    enum { N = 200 };
    double xs[N], cs[N], y[N], dx[N], first[N];
    uint64_t s = 9;
    for (int i = 0; i < N; i++) {
        xs[i] = next_value(&s) + 1.5; /* never 0, so y shows the mask */
        cs[i] = next_value(&s);
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(N), xs);
    nb_node *d = nb_dropout(g, x, 0.4);
    nb_node *loss = nb_sum(g, nb_mul(g, d, nb_const(g, NB_DTYPE_F64, NB_SHAPE(N), cs)));
    nb_node *gx;
    cr_assert_eq(nb_grad(g, loss, 1, &x, &gx), NB_OK, "%s", nb_graph_error(g));
    nb_node *outs[2] = { d, gx };
    double *vals[2] = { y, dx };
    double scale = 1.0 / (1.0 - 0.4);
    int changed = 0;
    for (int r = 0; r < 3; r++) {
        run_read(g, 2, outs, 0, vals);
        for (int i = 0; i < N; i++) {
            double want = y[i] == 0 ? 0 : cs[i] * scale;
            cr_assert_eq(dx[i], want, "run %d, element %d: dx %.17g, want %.17g", r, i, dx[i],
                         want);
            if (y[i] != 0) {
                cr_assert_eq(y[i], xs[i] * scale);
            }
            if (r == 0) {
                first[i] = y[i];
            } else {
                changed += (first[i] == 0) != (y[i] == 0);
            }
        }
    }
    cr_expect_gt(changed, 0, "the mask never changed between runs");
    /* the gradient in a run of its own still uses that run's forward mask: dx / c */
    run1(g, gx, NB_RUN_EVAL, dx);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(dx[i], cs[i], "evaluation: dx[%d] = %g, want c = %g", i, dx[i], cs[i]);
    }
    nb_graph_free(g);
}

Test(dropout, is_one_element_in_depth, .description = "depth(dropout(relu(x))) = 2")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(3), NULL);
    nb_node *y = nb_dropout(g, nb_relu(g, x), 0.5);
    cr_expect_eq(nb_depth(g, y, 0), 2);
    cr_expect_str_eq(nb_node_op_name(y), "dropout");
    nb_graph_free(g);
}

/*
 * Finite differences need the same mask in every run: seeding before each run
 * repeats the draw. L = sum(tanh(dropout(x, 0.4)) * c), H v against
 * (g(x + eps v) - g(x - eps v)) / 2eps with g = dL/dx.
 */
Test(dropout, hessian_vector_product_matches_finite_differences,
     .description = "in training, with the seed reset before each run, grad(sum(grad(L, x) * "
                    "v), x) matches central differences of grad(L, x) along v")
{
    enum { N = 12 };
    double xs[N], cs[N], vs[N], hv[N], gp[N], gm[N], xe[N];
    uint64_t s = 21;
    for (int i = 0; i < N; i++) {
        xs[i] = next_value(&s);
        cs[i] = next_value(&s);
        vs[i] = next_value(&s);
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(N), xs);
    nb_node *v = input_f64(g, "v", NB_SHAPE(N), vs);
    nb_node *c = nb_const(g, NB_DTYPE_F64, NB_SHAPE(N), cs);
    nb_node *loss = nb_sum(g, nb_mul(g, nb_tanh(g, nb_dropout(g, x, 0.4)), c));
    nb_node *gx, *h;
    cr_assert_eq(nb_grad(g, loss, 1, &x, &gx), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, nb_sum(g, nb_mul(g, gx, v)), 1, &x, &h), NB_OK, "%s",
                 nb_graph_error(g));
    nb_graph_seed(g, 5);
    run1(g, h, 0, hv);
    const double eps = 1e-5;
    for (int sign = 1; sign >= -1; sign -= 2) {
        for (int i = 0; i < N; i++) {
            xe[i] = xs[i] + sign * eps * vs[i];
        }
        nb_node_write_f64(g, x, xe, N);
        nb_graph_seed(g, 5);
        run1(g, gx, 0, sign > 0 ? gp : gm);
    }
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        zeros += hv[i] == 0;
        cr_expect(fabs(hv[i] - fd) <= 1e-7 + 1e-6 * fabs(fd), "element %d: Hv %.12g, fd %.12g", i,
                  hv[i], fd);
    }
    cr_expect(zeros > 0 && zeros < N, "the mask dropped %d of %d", zeros, N);
    nb_graph_free(g);
}

/* ---- dropout: errors ---- */

Test(dropout, p_outside_0_1_is_an_argument_error,
     .description = "p = 1, p = -0.25 and p = NaN: NB_ERR_ARG naming dropout, x and p")
{
    double ps[3] = { 1, -0.25, NAN };
    const char *msgs[3] = { "dropout(x[2,3]): p 1 is outside [0, 1)",
                            "dropout(x[2,3]): p -0.25 is outside [0, 1)",
                            "dropout(x[2,3]): p nan is outside [0, 1)" };
    for (int k = 0; k < 3; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = input_f64(g, "x", NB_SHAPE(2, 3), NULL);
        cr_expect_null(nb_dropout(g, x, ps[k]));
        assert_error(g, NB_ERR_ARG, msgs[k]);
        nb_graph_free(g);
    }
}

Test(dropout, integer_x_is_a_dtype_error)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_I32, NB_SHAPE(3));
    nb_node_set_name(g, x, "labels");
    cr_expect_null(nb_dropout(g, x, 0.5));
    cr_expect_eq(nb_graph_status(g), NB_ERR_DTYPE);
    cr_expect(strncmp(nb_graph_error(g), "dropout(labels[3]): ", 20) == 0, "%s", nb_graph_error(g));
    nb_graph_free(g);
}

/* ---- layer_norm ---- */

/* torch: F.layer_norm(x, [3], w, None) and F.layer_norm(x, [3], None, b), eps 1e-5 */
Test(layer_norm, weight_only_and_bias_only_match_pytorch,
     .description = "F.layer_norm(x, [3], w) and F.layer_norm(x, [3], None, b) for x[2,3], as "
                    "layer_norm_plain then a product or a sum")
{
    const double xs[6] = { -1.61, 0.78, -1.99, 0.84, -1.33, -0.71 };
    const double ws[3] = { 1.67, -0.37, 1.64 }, bs[3] = { 0.39, -1.7, 0.38 };
    const double want_w[6] = { -0.912581825988334, -0.5190518134408578, -1.4044739515165887,
                               2.269069554420987,  0.3770459888334275,  -0.5570769564746134 };
    const double want_b[6] = { -0.1564561832265473, -0.29715726097065454, -0.476386555802798,
                               1.7487242840844233,  -2.7190432130633173,  0.04031892897889422 };
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(2, 3), xs);
    nb_node *w = input_f64(g, "w", NB_SHAPE(3), ws);
    nb_node *b = input_f64(g, "b", NB_SHAPE(3), bs);
    nb_node *yw = nb_layer_norm(g, x, w, NULL, 1e-5), *yb = nb_layer_norm(g, x, NULL, b, 1e-5);
    cr_assert_str_eq(nb_node_op_name(yw), "mul");
    cr_assert_str_eq(nb_node_op_name(yb), "add");
    cr_assert_str_eq(nb_node_op_name(nb_node_input(yw, 0)), "layer_norm_plain");
    double vw[6], vb[6];
    nb_node *outs[2] = { yw, yb };
    double *vals[2] = { vw, vb };
    run_read(g, 2, outs, 0, vals);
    for (int i = 0; i < 6; i++) {
        cr_expect(fabs(vw[i] - want_w[i]) <= 1e-14, "weight only [%d]: %.17g", i, vw[i]);
        cr_expect(fabs(vb[i] - want_b[i]) <= 1e-14, "bias only [%d]: %.17g", i, vb[i]);
    }
    nb_gradcheck_options opts = nb_gradcheck_defaults();
    nb_gradcheck_result res[2];
    nb_node *c = nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 3), xs);
    nb_node *lw = nb_sum(g, nb_mul(g, nb_mul(g, yw, yw), c));
    nb_node *wrt_w[2] = { x, w }, *wrt_b[2] = { x, b };
    cr_assert_eq(nb_gradcheck(g, lw, 2, wrt_w, &opts, res), NB_OK, "%s", nb_graph_error(g));
    cr_expect(res[0].passed && res[1].passed, "weight only: gradcheck failed");
    nb_node *lb = nb_sum(g, nb_mul(g, nb_mul(g, yb, yb), c));
    cr_assert_eq(nb_gradcheck(g, lb, 2, wrt_b, &opts, res), NB_OK, "%s", nb_graph_error(g));
    cr_expect(res[0].passed && res[1].passed, "bias only: gradcheck failed");
    nb_graph_free(g);
}

Test(layer_norm, constant_rows_give_the_bias_exactly,
     .description = "a row of 19 equal values (lanes and a tail) normalizes to 0: the output is "
                    "the bias, bit for bit, in f32 and f64")
{
    enum { D = 19 };
    double xs[2 * D], ws[D], bs[D], y[2 * D];
    for (int i = 0; i < D; i++) {
        xs[i] = 3.7;
        xs[D + i] = -1e4;
        ws[i] = 1 + i;
        bs[i] = 0.5 - i;
    }
    nb_dtype dts[2] = { NB_DTYPE_F64, NB_DTYPE_F32 };
    for (int t = 0; t < 2; t++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_input(g, dts[t], NB_SHAPE(2, D)), *w = nb_input(g, dts[t], NB_SHAPE(D));
        nb_node *b = nb_input(g, dts[t], NB_SHAPE(D));
        nb_node_write_f64(g, x, xs, 2 * D);
        nb_node_write_f64(g, w, ws, D);
        nb_node_write_f64(g, b, bs, D);
        run1(g, nb_layer_norm(g, x, w, b, 1e-5), 0, y);
        for (int i = 0; i < 2 * D; i++) {
            cr_expect_eq(y[i], bs[i % D], "%s [%d]: %.17g", nb_dtype_name(dts[t]), i, y[i]);
        }
        nb_graph_free(g);
    }
}

Test(layer_norm, large_mean_keeps_its_digits_in_f32,
     .description = "x = 1000 + (0, 0.5, ..., 7.5) in f32: the normalized row matches the f64 "
                    "one within 1e-3 (a sum of squares minus a squared sum would lose it)")
{
    enum { D = 16 };
    double xs[D], y32[D], y64[D];
    for (int i = 0; i < D; i++) {
        xs[i] = 1000 + 0.5 * i;
    }
    nb_dtype dts[2] = { NB_DTYPE_F64, NB_DTYPE_F32 };
    for (int t = 0; t < 2; t++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_input(g, dts[t], NB_SHAPE(D));
        nb_node_write_f64(g, x, xs, D);
        run1(g, nb_layer_norm(g, x, NULL, NULL, 0), 0, t ? y32 : y64);
        nb_graph_free(g);
    }
    /* closed form: (i - 7.5) / sqrt(mean((i - 7.5)^2)) = (i - 7.5) / sqrt(21.25) */
    for (int i = 0; i < D; i++) {
        cr_expect(fabs(y64[i] - (i - 7.5) / sqrt(21.25)) < 1e-12, "f64 [%d] %.17g", i, y64[i]);
        cr_expect(fabs(y32[i] - y64[i]) < 1e-3, "f32 [%d] %.9g, f64 %.9g", i, y32[i], y64[i]);
    }
}

/* L = sum(sin-free smooth function): sum(layer_norm(x, w, b)^3 * c) over x[3,5], w and b[5]. */
Test(layer_norm, hessian_vector_product_matches_finite_differences,
     .description = "with and without weight and bias: H v = grad(sum(grad(L, p) * v), p) for "
                    "p = (x, w, b) matches (g(p + eps v) - g(p - eps v)) / 2eps")
{
    enum { R = 3, D = 5, NX = R * D, N = NX + 2 * D };
    for (int affine = 0; affine < 2; affine++) {
        double p[N], vs[N], cs[NX], hv[N], gp[N], gm[N], pe[N];
        uint64_t s = 77 + (uint64_t)affine;
        for (int i = 0; i < N; i++) {
            p[i] = next_value(&s) * 2;
            vs[i] = next_value(&s);
        }
        for (int i = 0; i < NX; i++) {
            cs[i] = next_value(&s);
        }
        nb_graph *g = nb_graph_new();
        nb_node *leaf[3] = { input_f64(g, "x", NB_SHAPE(R, D), p),
                             input_f64(g, "w", NB_SHAPE(D), p + NX),
                             input_f64(g, "b", NB_SHAPE(D), p + NX + D) };
        nb_node *vv[3] = { input_f64(g, "vx", NB_SHAPE(R, D), vs),
                           input_f64(g, "vw", NB_SHAPE(D), vs + NX),
                           input_f64(g, "vb", NB_SHAPE(D), vs + NX + D) };
        int n = affine ? 3 : 1;
        nb_node *y =
            nb_layer_norm(g, leaf[0], affine ? leaf[1] : NULL, affine ? leaf[2] : NULL, 1e-3);
        nb_node *loss =
            nb_sum(g, nb_mul(g, nb_pow(g, y, 3), nb_const(g, NB_DTYPE_F64, NB_SHAPE(R, D), cs)));
        nb_node *gr[3], *h[3], *dot = NULL;
        cr_assert_eq(nb_grad(g, loss, (size_t)n, leaf, gr), NB_OK, "%s", nb_graph_error(g));
        for (int k = 0; k < n; k++) {
            nb_node *t = nb_sum(g, nb_mul(g, gr[k], vv[k]));
            dot = dot ? nb_add(g, dot, t) : t;
        }
        cr_assert_eq(nb_grad(g, dot, (size_t)n, leaf, h), NB_OK, "%s", nb_graph_error(g));
        int total = affine ? N : NX;
        double *hv_k[3] = { hv, hv + NX, hv + NX + D };
        run_read(g, (size_t)n, h, 0, hv_k);
        const double eps = 1e-5;
        for (int sign = 1; sign >= -1; sign -= 2) {
            for (int i = 0; i < N; i++) {
                pe[i] = p[i] + sign * eps * vs[i];
            }
            for (int k = 0; k < n; k++) {
                size_t at = k == 0 ? 0 : k == 1 ? NX : NX + D;
                nb_node_write_f64(g, leaf[k], pe + at, nb_node_size(leaf[k]));
            }
            double *out = sign > 0 ? gp : gm;
            double *g_k[3] = { out, out + NX, out + NX + D };
            run_read(g, (size_t)n, gr, 0, g_k);
        }
        double scale = 0;
        for (int i = 0; i < total; i++) {
            scale = fmax(scale, fabs(hv[i]));
        }
        cr_assert_gt(scale, 1e-2, "the Hessian-vector product should not vanish");
        for (int i = 0; i < total; i++) {
            double fd = (gp[i] - gm[i]) / (2 * eps);
            cr_expect(fabs(hv[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                      "affine %d, element %d: Hv %.12g, finite differences %.12g", affine, i, hv[i],
                      fd);
        }
        nb_graph_free(g);
    }
}

/* ---- layer_norm: errors ---- */

Test(layer_norm, shape_errors_name_the_inputs,
     .description = "a scalar x, a weight of [4] for x[2,3] and a bias of [1,3]: NB_ERR_SHAPE")
{
    nb_graph *g = nb_graph_new();
    nb_node *s = input_f64(g, "s", 0, NULL, NULL);
    cr_expect_null(nb_layer_norm(g, s, NULL, NULL, 1e-5));
    assert_error(g, NB_ERR_SHAPE,
                 "layer_norm(s[]): x is a scalar; layer_norm normalizes its "
                 "last axis");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(2, 3), NULL);
    nb_node *w = input_f64(g, "w", NB_SHAPE(4), NULL), *b = input_f64(g, "b", NB_SHAPE(3), NULL);
    cr_expect_null(nb_layer_norm(g, x, w, b, 1e-5));
    assert_error(g, NB_ERR_SHAPE,
                 "layer_norm(x[2,3], w[4], b[3]): the weight has shape [4], not [3] (x's last "
                 "axis)");
    nb_graph_free(g);

    g = nb_graph_new();
    x = input_f64(g, "x", NB_SHAPE(2, 3), NULL);
    b = input_f64(g, "b", NB_SHAPE(1, 3), NULL);
    cr_expect_null(nb_layer_norm(g, x, NULL, b, 1e-5));
    assert_error(g, NB_ERR_SHAPE,
                 "layer_norm(x[2,3], b[1,3]): the bias has shape [1,3], not [3] (x's last axis)");
    nb_graph_free(g);
}

Test(layer_norm, bad_eps_and_mixed_dtypes,
     .description = "eps -1 and eps inf: NB_ERR_ARG; an f32 weight for f64 x: NB_ERR_DTYPE")
{
    double eps[2] = { -1, INFINITY };
    const char *msgs[2] = { "layer_norm(x[2,3]): eps -1 is not a finite number >= 0",
                            "layer_norm(x[2,3]): eps inf is not a finite number >= 0" };
    for (int k = 0; k < 2; k++) {
        nb_graph *g = nb_graph_new();
        nb_node *x = input_f64(g, "x", NB_SHAPE(2, 3), NULL);
        cr_expect_null(nb_layer_norm(g, x, NULL, NULL, eps[k]));
        assert_error(g, NB_ERR_ARG, msgs[k]);
        nb_graph_free(g);
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = input_f64(g, "x", NB_SHAPE(2, 3), NULL);
    nb_node *w = nb_input(g, NB_DTYPE_F32, NB_SHAPE(3));
    nb_node_set_name(g, w, "w");
    cr_expect_null(nb_layer_norm(g, x, w, NULL, 1e-5));
    cr_expect_eq(nb_graph_status(g), NB_ERR_DTYPE, "%s", nb_graph_error(g));
    cr_expect(strncmp(nb_graph_error(g), "layer_norm(x[2,3], w[3]): ", 26) == 0, "%s",
              nb_graph_error(g));
    nb_graph_free(g);
}

/* ---- the model language ---- */

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_OK, "%d:%d: %s\n%s", e.line,
                 e.column, e.message, src);
    return g;
}

static void expect_expression(nb_graph *g, const char *name, const char *want)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    char buf[256];
    nb_node_expression(n, buf, sizeof buf);
    cr_expect_str_eq(buf, want, "%s = %s, want %s", name, buf, want);
}

Test(lang, dropout_and_layer_norm_forms,
     .description = "positional and keyword forms build the same node; defaults p = 0.5 and eps "
                    "= 1e-5 are left out when written")
{
    nb_graph *g = parse("input x[2, 3]\n"
                        "param w[3] = [1, 2, 3]\n"
                        "param b[3] = [0, 0.5, 1]\n"
                        "d1 = dropout(x, 0.25)\n"
                        "d2 = dropout(x, p=0.25)\n"
                        "d3 = dropout(x)\n"
                        "l1 = layer_norm(x, w, b, 0.001)\n"
                        "l2 = layer_norm(x, w, b, eps=0.001)\n"
                        "l3 = layer_norm(x, w, b)\n"
                        "n1 = layer_norm_plain(x, 0.01)\n"
                        "n2 = layer_norm_plain(x, eps=0.01)\n"
                        "n3 = layer_norm_plain(x)\n");
    expect_expression(g, "d1", "dropout(x, p=0.25)");
    expect_expression(g, "d2", "dropout(x, p=0.25)");
    expect_expression(g, "d3", "dropout(x)");
    expect_expression(g, "l1", "layer_norm(x, w, b, eps=0.001)");
    expect_expression(g, "l2", "layer_norm(x, w, b, eps=0.001)");
    expect_expression(g, "l3", "layer_norm(x, w, b)");
    expect_expression(g, "n1", "layer_norm_plain(x, eps=0.01)");
    expect_expression(g, "n2", "layer_norm_plain(x, eps=0.01)");
    expect_expression(g, "n3", "layer_norm_plain(x)");
    nb_graph_free(g);
}

Test(lang, dropout_p_out_of_range_is_reported_at_the_call)
{
    const char *src = "input x[2, 3]\ny = dropout(x, p=1)\n";
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_ERR_ARG);
    cr_expect_eq(e.line, 2);
    cr_expect(strstr(e.message, "p 1 is outside [0, 1)") != NULL, "%s", e.message);
    nb_graph_free(g);
}

Test(lang, model_write_round_trip,
     .description = "a model with dropout, layer_norm and layer_norm_plain, written and parsed "
                    "into a new graph, gives the same text and the same outputs: in evaluation, "
                    "and in training with the same seed")
{
    const char *src = "input x[4, 6] = [[0.1, -0.4, 0.9, 1.3, -1.1, 0.2], [0.5, 0.6, -0.7, 0.8, "
                      "0.0, -0.2], [1.5, -1.0, 0.3, 0.4, 0.25, -0.5], [0.05, 0.7, -0.3, -0.9, "
                      "1.1, 0.6]]\n"
                      "param w[6] = [1, 0.5, -1, 2, 1.5, 0.25]\n"
                      "param b[6] = [0, 0.1, 0.2, -0.3, 0.4, -0.5]\n"
                      "h = dropout(relu(layer_norm(x, w, b, eps=0.001)), p=0.3)\n"
                      "y = layer_norm_plain(h) * w\n";
    nb_graph *a = parse(src);
    char *text[2] = { NULL, NULL };
    size_t len[2];
    nb_graph *gs[2] = { a, NULL };
    for (int k = 0; k < 2; k++) {
        FILE *f = open_memstream(&text[k], &len[k]);
        cr_assert_eq(nb_model_write(gs[k], f), NB_OK, "%s", nb_graph_error(gs[k]));
        fclose(f);
        if (k == 0) {
            gs[1] = parse(text[0]);
        }
    }
    cr_expect_str_eq(text[0], text[1]);
    cr_expect(strstr(text[0], "dropout(") != NULL && strstr(text[0], "p=0.3") != NULL, "%s",
              text[0]);
    double ya[2][24], yb[2][24];
    for (int k = 0; k < 2; k++) {
        nb_node *y = nb_graph_find(gs[k], "y");
        cr_assert_not_null(y);
        double(*out)[24] = k ? yb : ya;
        run1(gs[k], y, NB_RUN_EVAL, out[0]);
        nb_graph_seed(gs[k], 3);
        run1(gs[k], y, NB_RUN_TRAIN, out[1]);
    }
    cr_expect(memcmp(ya, yb, sizeof ya) == 0, "the parsed graph computes other values");
    cr_expect(memcmp(ya[0], ya[1], sizeof ya[0]) != 0, "training dropped nothing");
    free(text[0]);
    free(text[1]);
    nb_graph_free(a);
    nb_graph_free(gs[1]);
}
