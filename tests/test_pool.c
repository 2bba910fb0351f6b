/*
 * tests/test_pool.c: the pooling ops (max_pool1d/2d, avg_pool1d/2d,
 * max_pool_index, avg_pool_grad) beyond the case table: the exact message of
 * every bad argument, the model language's positional and keyword forms, the
 * model writer's round trip, the max tie rule and NaN, and second order
 * (a Hessian-vector product through avg and max pooling against finite
 * differences, and a gradient check of the gradient graph).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

#define ASSERT_ERROR(g, code, msg)                                                                 \
    do {                                                                                           \
        cr_assert_eq(nb_graph_status(g), (code), "status %d (%s), message \"%s\"",                 \
                     (int)nb_graph_status(g), nb_status_string(nb_graph_status(g)),                \
                     nb_graph_error(g));                                                           \
        cr_assert_str_eq(nb_graph_error(g), (msg));                                                \
    } while (0)

#define ASSERT_OK(g) cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g))

/* A named f64 input. */
static nb_node *in64(nb_graph *g, const char *name, int rank, const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, rank, shape), name);
}

/* A named f64 input holding v[0..n-1]. */
static nb_node *filled(nb_graph *g, const char *name, int rank, const int64_t *shape,
                       const double *v, size_t n)
{
    nb_node *x = in64(g, name, rank, shape);
    cr_assert_not_null(x, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write_f64(g, x, v, n), NB_OK);
    return x;
}

/* Runs y and returns its values (caller frees). */
static double *eval(nb_graph *g, nb_node *y)
{
    cr_assert_not_null(y, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    size_t n = nb_node_size(y);
    double *v = malloc(n * sizeof *v);
    cr_assert_eq(nb_node_read_f64(g, y, v, n), NB_OK, "%s", nb_graph_error(g));
    return v;
}

/* Asserts y's values are want[0..n-1] to the last bit (NaN matches NaN). */
static void assert_values(nb_graph *g, nb_node *y, size_t n, const double *want)
{
    cr_assert_eq(nb_node_size(y), n, "%zu values, want %zu", nb_node_size(y), n);
    double *got = eval(g, y);
    for (size_t i = 0; i < n; i++) {
        cr_assert(got[i] == want[i] || (isnan(got[i]) && isnan(want[i])),
                  "element %zu is %.17g, want %.17g", i, got[i], want[i]);
    }
    free(got);
}

#define ASSERT_VALUES(g, y, ...)                                                                   \
    assert_values(g, y, sizeof((const double[]){ __VA_ARGS__ }) / sizeof(double),                  \
                  (const double[]){ __VA_ARGS__ })

/* The model-language expression of n. */
static const char *expr(nb_node *n)
{
    static char buf[256];
    cr_assert_not_null(n);
    nb_node_expression(n, buf, sizeof buf);
    return buf;
}

/* A new graph with x[1,1,4,4] (or the given shape) named x; *x receives it. */
static nb_graph *graph_with(nb_node **x, int rank, const int64_t *shape)
{
    nb_graph *g = nb_graph_new();
    *x = in64(g, "x", rank, shape);
    return g;
}

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

Test(pool_errors, ranks_and_dtypes)
{
    nb_node *x;
    nb_graph *g = graph_with(&x, NB_SHAPE(1, 4, 4));
    cr_assert_null(nb_max_pool2d(g, x, 2, 2, 0, 0, 0, 0));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "max_pool2d(x[1,4,4]): x has rank 3; max_pool2d takes [N, C, H, W]");
    nb_graph_free(g);

    g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_avg_pool1d(g, x, 2, 0, 0));
    ASSERT_ERROR(g, NB_ERR_RANK,
                 "avg_pool1d(x[1,1,4,4]): x has rank 4; avg_pool1d takes [N, C, L]");
    nb_graph_free(g);

    g = nb_graph_new();
    nb_node *l = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(1, 1, 4)), "l");
    cr_assert_null(nb_max_pool1d(g, l, 2, 0, 0));
    cr_assert_eq(nb_graph_status(g), NB_ERR_DTYPE, "%s", nb_graph_error(g));
    nb_graph_free(g);
}

Test(pool_errors, kernel_stride_padding)
{
    nb_node *x;
    nb_graph *g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_max_pool2d(g, x, 0, 2, 0, 0, 0, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "max_pool2d(x[1,1,4,4]): kernel [0, 2] must be positive");
    nb_graph_free(g);

    g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_avg_pool2d(g, x, 2, 2, 1, -1, 0, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "avg_pool2d(x[1,1,4,4]): stride [1, -1] must be positive");
    nb_graph_free(g);

    /* PyTorch: "pad should be at most half of kernel size": padding <= kernel / 2 */
    g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_max_pool2d(g, x, 3, 3, 0, 0, 2, 0));
    ASSERT_ERROR(g, NB_ERR_ARG,
                 "max_pool2d(x[1,1,4,4]): padding [2, 0] must be between 0 and half the kernel "
                 "[3, 3] (PyTorch's rule)");
    nb_graph_free(g);

    g = graph_with(&x, NB_SHAPE(1, 1, 5));
    cr_assert_null(nb_max_pool1d(g, x, 1, 1, 1));
    ASSERT_ERROR(g, NB_ERR_ARG,
                 "max_pool1d(x[1,1,5]): padding 1 must be between 0 and half the kernel 1 "
                 "(PyTorch's rule)");
    nb_graph_free(g);

    g = graph_with(&x, NB_SHAPE(1, 1, 5));
    cr_assert_null(nb_avg_pool1d(g, x, 3, 1, -1));
    ASSERT_ERROR(g, NB_ERR_ARG,
                 "avg_pool1d(x[1,1,5]): padding -1 must be between 0 and half the kernel 3 "
                 "(PyTorch's rule)");
    nb_graph_free(g);
}

Test(pool_errors, window_larger_than_the_padded_input)
{
    nb_node *x;
    nb_graph *g = graph_with(&x, NB_SHAPE(1, 1, 2, 6));
    cr_assert_null(nb_max_pool2d(g, x, 5, 2, 1, 1, 1, 0));
    ASSERT_ERROR(
        g, NB_ERR_SHAPE,
        "max_pool2d(x[1,1,2,6]): the window 5 is larger than the padded input 4 on axis 2");
    nb_graph_free(g);
}

Test(pool_errors, gradient_ops_arguments)
{
    nb_node *x;
    nb_graph *g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_max_pool_index(g, x, 3, (const int[]){ 2, 2, 2 }, NULL, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "max_pool_index(x[1,1,4,4]): 3 spatial axes; it takes 1 or 2");
    nb_graph_free(g);

    g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_max_pool_index(g, x, 2, NULL, NULL, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG, "max_pool_index(x[1,1,4,4]): kernel is empty");
    nb_graph_free(g);

    g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_max_pool_index(g, x, 1, (const int[]){ 2 }, NULL, NULL));
    ASSERT_ERROR(g, NB_ERR_RANK, "max_pool_index(x[1,1,4,4]): x has rank 4 for 1 spatial axes");
    nb_graph_free(g);

    nb_node *dy;
    g = graph_with(&dy, NB_SHAPE(1, 1, 3, 3));
    nb_node_set_name(g, dy, "dy");
    cr_assert_null(
        nb_avg_pool_grad(g, dy, 2, (const int64_t[]){ 4, 4 }, (const int[]){ 2, 2 }, NULL, NULL));
    ASSERT_ERROR(g, NB_ERR_SHAPE,
                 "avg_pool_grad(dy[1,1,3,3]): dy's spatial size [3, 3] is not the pooled size "
                 "[2, 2] of [4, 4]");
    nb_graph_free(g);

    g = graph_with(&dy, NB_SHAPE(1, 1, 3, 3));
    nb_node_set_name(g, dy, "dy");
    cr_assert_null(
        nb_avg_pool_grad(g, dy, 1, (const int64_t[]){ 4 }, (const int[]){ 2 }, NULL, NULL));
    ASSERT_ERROR(g, NB_ERR_ARG,
                 "avg_pool_grad(dy[1,1,3,3]): size has 1 entries for 2 spatial axes");
    nb_graph_free(g);
}

Test(pool_errors, first_error_sticks)
{
    nb_node *x;
    nb_graph *g = graph_with(&x, NB_SHAPE(1, 1, 4, 4));
    cr_assert_null(nb_max_pool2d(g, x, 0, 0, 0, 0, 0, 0));
    cr_assert_null(nb_avg_pool2d(g, x, 2, 2, 0, 0, 0, 0));
    ASSERT_ERROR(g, NB_ERR_ARG, "max_pool2d(x[1,1,4,4]): kernel [0, 0] must be positive");
    nb_graph_free(g);
}

/* ======================================================================== */
/* Semantics the case table cannot express                                  */
/* ======================================================================== */

Test(pool, max_ties_go_to_the_first_maximum_in_row_major_window_order,
     .description = "x = ones[1,1,4,4], max_pool2d(x, 2, stride 1): each window's gradient goes "
                    "to its top-left element, so dx sums to 9 over the top-left 3x3 block, as "
                    "PyTorch's x.grad")
{
    nb_graph *g = nb_graph_new();
    double ones[16];
    for (int i = 0; i < 16; i++) {
        ones[i] = 1;
    }
    nb_node *x = filled(g, "x", NB_SHAPE(1, 1, 4, 4), ones, 16);
    nb_node *y = nb_max_pool2d(g, x, 2, 2, 1, 1, 0, 0);
    nb_node *dx;
    cr_assert_eq(nb_grad(g, nb_sum(g, y), 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    ASSERT_VALUES(g, dx, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0);
    nb_node *idx = nb_max_pool_index(g, x, 2, (const int[]){ 2, 2 }, (const int[]){ 1, 1 }, NULL);
    ASSERT_VALUES(g, idx, 0, 1, 2, 4, 5, 6, 8, 9, 10);
    nb_graph_free(g);
}

Test(pool, max_ties_with_padding_in_1d,
     .description = "x = [3, 1, 3], max_pool1d(x, 3, 1, 1): windows [-inf,3,1], [3,1,3], "
                    "[1,3,-inf] pick elements 0, 0, 2, so dx = [2, 0, 1] (PyTorch's x.grad)")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = filled(g, "x", NB_SHAPE(1, 1, 3), (const double[]){ 3, 1, 3 }, 3);
    nb_node *y = nb_max_pool1d(g, x, 3, 1, 1);
    nb_node *dx;
    cr_assert_eq(nb_grad(g, nb_sum(g, y), 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    ASSERT_VALUES(g, y, 3, 3, 3);
    ASSERT_VALUES(g, dx, 2, 0, 1);
    nb_graph_free(g);
}

Test(pool, max_pooling_propagates_nan,
     .description = "x = [1, NaN, 2]: max_pool1d(x, 3, 1, 1) is NaN in every window, as PyTorch")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = filled(g, "x", NB_SHAPE(1, 1, 3), (const double[]){ 1, NAN, 2 }, 3);
    ASSERT_VALUES(g, nb_max_pool1d(g, x, 3, 1, 1), NAN, NAN, NAN);
    ASSERT_VALUES(g, nb_max_pool1d(g, x, 1, 0, 0), 1, NAN, 2);
    nb_graph_free(g);
}

Test(pool, max_pool_2x2_stride_2_ties_nan_and_inf,
     .description = "the 2x2 stride-2 path (vectorized): ties go to the first maximum, the "
                    "first NaN wins over numbers and later NaNs, an all -inf window gives -inf "
                    "at its first element; values and routed gradients, f64 and f32")
{
    for (int f32 = 0; f32 < 2; f32++) {
        nb_graph *g = nb_graph_new();
        /* windows: {1, NaN, NaN, 2}, {5, 5, 5, 3}, {-inf x 4} */
        const double v[12] = { 1,   NAN, 5, 5, -INFINITY, -INFINITY,
                               NAN, 2,   5, 3, -INFINITY, -INFINITY };
        nb_node *x = nb_input(g, f32 ? NB_DTYPE_F32 : NB_DTYPE_F64, NB_SHAPE(1, 1, 2, 6));
        cr_assert_eq(nb_node_write_f64(g, x, v, 12), NB_OK);
        nb_node *y = nb_max_pool2d(g, x, 2, 2, 2, 2, 0, 0), *dx;
        cr_assert_eq(nb_grad(g, nb_sum(g, y), 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
        ASSERT_VALUES(g, y, NAN, 5, -INFINITY);
        ASSERT_VALUES(g, dx, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0);
        nb_graph_free(g);
    }
}

Test(pool, max_pool_2x2_stride_2_matches_brute_force,
     .description = "max_pool2d(x, 2) of x [2, 3, 6, 10] drawn from 5 values (many ties): "
                    "every maximum and every routed gradient as a direct scan finds them")
{
    enum { N = 2, C = 3, H = 6, W = 10, OH = 3, OW = 5 };
    double v[N * C * H * W], want[N * C * OH * OW], dwant[N * C * H * W] = { 0 };
    uint32_t r = 7;
    for (int i = 0; i < N * C * H * W; i++) {
        r = r * 1103515245u + 12345u;
        v[i] = (double)((r >> 16) % 5);
    }
    for (int p = 0; p < N * C; p++) {
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                int best = -1;
                for (int ky = 0; ky < 2; ky++) {
                    for (int kx = 0; kx < 2; kx++) {
                        int at = p * H * W + (2 * oy + ky) * W + 2 * ox + kx;
                        best = best < 0 || v[at] > v[best] ? at : best;
                    }
                }
                want[(p * OH + oy) * OW + ox] = v[best];
                dwant[best] += 1;
            }
        }
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = filled(g, "x", NB_SHAPE(N, C, H, W), v, N * C * H * W), *dx;
    nb_node *y = nb_max_pool2d(g, x, 2, 2, 2, 2, 0, 0);
    cr_assert_eq(nb_grad(g, nb_sum(g, y), 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    assert_values(g, y, N * C * OH * OW, want);
    assert_values(g, dx, N * C * H * W, dwant);
    nb_graph_free(g);
}

/*
 * max_pool2d(x, 2) and max_pool_index(x, 2) of x [n, c, h, w] filled with
 * v(i): the values to the bit (the sign of a zero) and the indices as a
 * tap-by-tap scan finds them (first maximum in row-major order, first NaN).
 */
static void check_pool2(int f32, int64_t n, int64_t c, int64_t h, int64_t w, double (*v)(int64_t))
{
    int64_t oh = h / 2, ow = w / 2, nx = n * c * h * w, ny = n * c * oh * ow;
    double *xv = malloc((size_t)nx * sizeof *xv), *want = malloc((size_t)ny * sizeof *want);
    double *wi = malloc((size_t)ny * sizeof *wi);
    for (int64_t i = 0; i < nx; i++) {
        xv[i] = f32 ? (double)(float)v(i) : v(i);
    }
    for (int64_t p = 0; p < n * c; p++) {
        for (int64_t oy = 0; oy < oh; oy++) {
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t best = -1;
                for (int ky = 0; ky < 2; ky++) {
                    for (int kx = 0; kx < 2; kx++) {
                        int64_t at = p * h * w + (2 * oy + ky) * w + 2 * ox + kx;
                        double a = xv[at], b = best < 0 ? -INFINITY : xv[best];
                        best = best < 0 || a > b || (isnan(a) && !isnan(b)) ? at : best;
                    }
                }
                want[(p * oh + oy) * ow + ox] = xv[best];
                wi[(p * oh + oy) * ow + ox] = (double)best;
            }
        }
    }
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, f32 ? NB_DTYPE_F32 : NB_DTYPE_F64, NB_SHAPE(n, c, h, w));
    cr_assert_eq(nb_node_write_f64(g, x, xv, (size_t)nx), NB_OK);
    nb_node *y = nb_max_pool2d(g, x, 2, 2, 2, 2, 0, 0);
    nb_node *idx = nb_max_pool_index(g, x, 2, (const int[]){ 2, 2 }, NULL, NULL);
    double *got = eval(g, y), *gi = eval(g, idx);
    for (int64_t k = 0; k < ny; k++) {
        cr_assert(got[k] == want[k] || (isnan(got[k]) && isnan(want[k])),
                  "[%lld,%lld,%lld,%lld] f32 %d, output %lld: %g, want %g", (long long)n,
                  (long long)c, (long long)h, (long long)w, f32, (long long)k, got[k], want[k]);
        cr_assert_eq(!!signbit(got[k]), !!signbit(want[k]), "output %lld: the sign of %g",
                     (long long)k, want[k]);
        cr_assert_eq(gi[k], wi[k], "[%lld,%lld,%lld,%lld] f32 %d, output %lld: index %g, want %g",
                     (long long)n, (long long)c, (long long)h, (long long)w, f32, (long long)k,
                     gi[k], wi[k]);
    }
    free(got);
    free(gi);
    free(xv);
    free(want);
    free(wi);
    nb_graph_free(g);
}

/* Element i of x (rows of w): 2x2 window k holds pattern k % 256 of {-1, -0, 0, 1}, 2 bits a tap. */
static double tie_pattern(int64_t i, int64_t w)
{
    static const double vals[4] = { -1, -0.0, 0.0, 1 };
    int64_t row = i / w, col = i % w;
    int64_t win = (row / 2) * (w / 2) + col / 2, tap = (row % 2) * 2 + col % 2;
    return vals[(win % 256) >> (2 * tap) & 3];
}

static int64_t pattern_w;
static double pattern_v(int64_t i)
{
    return tie_pattern(i, pattern_w);
}

/* the patterns, with one NaN at element 1000 */
static double pattern_nan_v(int64_t i)
{
    return i == 1000 ? NAN : tie_pattern(i, pattern_w);
}

Test(pool, max_pool_2x2_stride_2_every_tie_pattern,
     .description = "max_pool2d(x, 2) and max_pool_index(x, 2) over all 256 windows of "
                    "{-1, -0, 0, 1}: the first maximum in row-major order and its bits, in the "
                    "planes-as-rows path (h = 2 oh, w = 2 ow; several planes a segment), with "
                    "odd sizes (a row at a time), rows longer than a block, and one NaN; f64, f32")
{
    static const int64_t shapes[][4] = {
        { 2, 3, 8, 28 },   /* whole planes, 18 rows a segment across planes */
        { 3, 16, 10, 10 }, /* LeNet's second pool */
        { 2, 3, 9, 29 },   /* an odd row and column dropped: one row at a time */
        { 1, 2, 4, 1100 }, /* rows longer than a segment: blocks of 256 outputs */
        { 1, 1, 2, 2 },
    };
    for (int f32 = 0; f32 < 2; f32++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t *q = shapes[s];
            pattern_w = q[3];
            check_pool2(f32, q[0], q[1], q[2], q[3], pattern_v);
            check_pool2(f32, q[0], q[1], q[2], q[3], pattern_nan_v);
        }
    }
}

Test(pool, float32_matches_float64,
     .description = "avg_pool2d(x, 3, stride 1, padding 1) of x = 0..15 in [4,4], in f32: "
                    "PyTorch's values rounded to float")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(1, 1, 4, 4));
    double v[16];
    for (int i = 0; i < 16; i++) {
        v[i] = i;
    }
    cr_assert_eq(nb_node_write_f64(g, x, v, 16), NB_OK);
    nb_node *y = nb_avg_pool2d(g, x, 3, 3, 1, 1, 1, 1);
    double *got = eval(g, y);
    /* torch: F.avg_pool2d(torch.arange(16.).reshape(1, 1, 4, 4).double(), 3, 1, 1) */
    const double want[16] = { 1.1111111111111112,
                              2.0,
                              2.6666666666666665,
                              2.0,
                              3.0,
                              5.0,
                              6.0,
                              4.333333333333333,
                              5.666666666666667,
                              9.0,
                              10.0,
                              7.0,
                              4.666666666666667,
                              7.333333333333333,
                              8.0,
                              5.555555555555555 };
    for (int i = 0; i < 16; i++) {
        cr_assert(fabs(got[i] - want[i]) <= 1e-6 * fabs(want[i]), "element %d: %.9g, want %.9g", i,
                  got[i], want[i]);
    }
    free(got);
    nb_graph_free(g);
}

/* ======================================================================== */
/* The model language                                                       */
/* ======================================================================== */

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_OK, "%d:%d: %s", e.line,
                 e.column, e.message);
    return g;
}

static nb_node *find(nb_graph *g, const char *name)
{
    nb_node *n = nb_graph_find(g, name);
    cr_assert_not_null(n, "no node %s", name);
    return n;
}

static void parse_error(const char *src, nb_status status, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), status, "%s", e.message);
    cr_assert_str_eq(e.message, msg);
    nb_graph_free(g);
}

static const char forms_model[] =
    "input x[1, 1, 4, 4] = [[[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]]]\n"
    "input s[1, 2, 4] = [[[0, 3, 1, 2], [7, 5, 6, 4]]]\n"
    "m1 = max_pool2d(x, 2)\n"
    "m2 = max_pool2d(x, kernel=[2, 2], stride=2, padding=0)\n"
    "m3 = max_pool2d(x, [2, 2], [2, 2], [0, 0])\n"
    "a1 = avg_pool2d(x, 3, 1, 1)\n"
    "a2 = avg_pool2d(x, kernel=3, padding=1, stride=[1, 1])\n"
    "p1 = max_pool1d(s, 3, 1, 1)\n"
    "p2 = max_pool1d(s, kernel=[3], padding=1, stride=1)\n"
    "b1 = avg_pool1d(s, 2)\n"
    "b2 = avg_pool1d(s, kernel=2, stride=[2])\n"
    "i1 = max_pool_index(x, 2)\n"
    "i2 = max_pool_index(x, kernel=2, stride=2)\n"
    "g1 = avg_pool_grad(m1, [4, 4], 2)\n"
    "g2 = avg_pool_grad(m1, size=[4, 4], kernel=[2, 2], padding=0)\n";

Test(pool_lang, positional_and_keyword_forms_are_one_node,
     .description = "each group of calls gives the same expression and values: numbers or "
                    "[h, w] lists, stride defaulting to the kernel, keywords in any order")
{
    nb_graph *g = parse(forms_model);
    for (int k = 1; k <= 3; k++) {
        char name[4];
        snprintf(name, sizeof name, "m%d", k);
        cr_assert_str_eq(expr(find(g, name)), "max_pool2d(x, kernel=[2, 2])");
    }
    ASSERT_VALUES(g, find(g, "m3"), 5, 7, 13, 15);
    for (int k = 1; k <= 2; k++) {
        char name[4];
        snprintf(name, sizeof name, "a%d", k);
        cr_assert_str_eq(expr(find(g, name)),
                         "avg_pool2d(x, kernel=[3, 3], stride=[1, 1], padding=[1, 1])");
    }
    /* (0+1+4+5)/9 at the corner, (0+1+2+4+5+6+8+9+10)/9 = 5 inside */
    double *a = eval(g, find(g, "a2"));
    cr_assert_eq(a[0], 10.0 / 9);
    cr_assert_eq(a[5], 5.0);
    free(a);
    cr_assert_str_eq(expr(find(g, "p1")), "max_pool1d(s, kernel=[3], stride=[1], padding=[1])");
    cr_assert_str_eq(expr(find(g, "p2")), "max_pool1d(s, kernel=[3], stride=[1], padding=[1])");
    ASSERT_VALUES(g, find(g, "p2"), 3, 3, 3, 2, 7, 7, 6, 6);
    cr_assert_str_eq(expr(find(g, "b1")), "avg_pool1d(s, kernel=[2])");
    cr_assert_str_eq(expr(find(g, "b2")), "avg_pool1d(s, kernel=[2])");
    ASSERT_VALUES(g, find(g, "b2"), 1.5, 1.5, 6, 5);
    cr_assert_str_eq(expr(find(g, "i1")), "max_pool_index(x, kernel=[2, 2])");
    cr_assert_str_eq(expr(find(g, "i2")), "max_pool_index(x, kernel=[2, 2])");
    ASSERT_VALUES(g, find(g, "i2"), 5, 7, 13, 15);
    cr_assert_str_eq(expr(find(g, "g1")), "avg_pool_grad(m1, size=[4, 4], kernel=[2, 2])");
    cr_assert_str_eq(expr(find(g, "g2")), "avg_pool_grad(m1, size=[4, 4], kernel=[2, 2])");
    /* each of m1 = 5, 7, 13, 15 spread as a quarter over its 2x2 block */
    ASSERT_VALUES(g, find(g, "g2"), 1.25, 1.25, 1.75, 1.75, 1.25, 1.25, 1.75, 1.75, 3.25, 3.25,
                  3.75, 3.75, 3.25, 3.25, 3.75, 3.75);
    nb_graph_free(g);
}

Test(pool_lang, bad_calls_name_the_call)
{
    const char *head = "input x[1, 1, 4, 4]\ninput s[1, 1, 5]\n";
    char src[256];
    snprintf(src, sizeof src, "%sm = max_pool2d(x)\n", head);
    parse_error(src, NB_ERR_FORMAT,
                "max_pool2d needs kernel=...; it takes max_pool2d(x, kernel, stride=[], "
                "padding=[])");
    snprintf(src, sizeof src, "%sm = max_pool2d(x, [2, 2, 2])\n", head);
    parse_error(src, NB_ERR_ARG,
                "max_pool2d: kernel has 3 entries; it takes a number or [h, w] (x[1,1,4,4])");
    snprintf(src, sizeof src, "%sm = avg_pool1d(s, [2, 2])\n", head);
    parse_error(src, NB_ERR_ARG,
                "avg_pool1d: kernel has 2 entries; it takes one number (s[1,1,5])");
    snprintf(src, sizeof src, "%sm = avg_pool1d(s, 4, padding=3)\n", head);
    parse_error(src, NB_ERR_ARG,
                "avg_pool1d: padding 3 must be between 0 and half the kernel 4 (PyTorch's rule) "
                "(s[1,1,5])");
}

/* ======================================================================== */
/* Model writer round trip                                                  */
/* ======================================================================== */

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

Test(pool_lang, model_write_round_trip,
     .description = "a graph of every pooling op, written and parsed into a new graph, gives the "
                    "same expressions and values; writing the copy gives the same text")
{
    nb_graph *a = nb_graph_new();
    double v[2 * 3 * 5 * 5];
    for (int i = 0; i < 150; i++) {
        v[i] = sin(0.7 * i + 0.3); /* distinct values: no ties */
    }
    nb_node *x = filled(a, "x", NB_SHAPE(2, 3, 5, 5), v, 150);
    const char *names[] = { "mp", "ap", "m1", "a1", "ix", "ag", "out" };
    nb_node *n[7];
    n[0] = nb_max_pool2d(a, x, 3, 2, 2, 1, 1, 1);
    n[1] = nb_avg_pool2d(a, n[0], 2, 2, 1, 1, 0, 0);
    n[2] = nb_max_pool1d(a, nb_reshape(a, x, NB_SHAPE(2, 3, 25)), 4, 3, 2);
    n[3] = nb_avg_pool1d(a, n[2], 3, 0, 1);
    n[4] = nb_max_pool_index(a, x, 2, (const int[]){ 3, 2 }, (const int[]){ 2, 1 },
                             (const int[]){ 1, 1 });
    n[5] = nb_avg_pool_grad(a, n[0], 2, (const int64_t[]){ 5, 5 }, (const int[]){ 3, 2 },
                            (const int[]){ 2, 1 }, (const int[]){ 1, 1 });
    n[6] = nb_add(a, nb_sum(a, n[1]), nb_add(a, nb_sum(a, n[3]), nb_sum(a, n[5])));
    for (int i = 0; i < 7; i++) {
        nb_node_set_name(a, n[i], names[i]);
    }
    ASSERT_OK(a);
    char *text = write_model(a);
    cr_assert_not_null(
        strstr(text, "mp = max_pool2d(x, kernel=[3, 2], stride=[2, 1], padding=[1, 1])\n"), "%s",
        text);
    cr_assert_not_null(strstr(text, "ap = avg_pool2d(mp, kernel=[2, 2], stride=[1, 1])\n"), "%s",
                       text);
    cr_assert_not_null(strstr(text, "a1 = avg_pool1d(m1, kernel=[3], padding=[1])\n"), "%s", text);

    nb_graph *b = parse(text);
    for (int i = 0; i < 7; i++) {
        nb_node *u = find(a, names[i]), *w = find(b, names[i]);
        char eu[256];
        snprintf(eu, sizeof eu, "%s", expr(u));
        cr_assert_str_eq(expr(w), eu, "%s", names[i]);
        cr_assert_eq(nb_node_size(w), nb_node_size(u));
        double *du = eval(a, u), *dw = eval(b, w);
        cr_assert_eq(memcmp(du, dw, nb_node_size(u) * sizeof *du), 0, "%s: values differ",
                     names[i]);
        free(du);
        free(dw);
    }
    char *again = write_model(b);
    cr_assert_str_eq(again, text);
    free(again);
    free(text);
    nb_graph_free(b);
    nb_graph_free(a);
}

/* ======================================================================== */
/* Second order                                                             */
/* ======================================================================== */

/* A reproducible sequence in [-1, 1) (a 64-bit LCG), independent of the library. */
static double next_value(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (double)(*state >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

static void write_seq(nb_graph *g, nb_node *n, uint64_t *state, double *copy)
{
    size_t k = nb_node_size(n);
    double v[64];
    cr_assert(k <= 64);
    for (size_t i = 0; i < k; i++) {
        v[i] = next_value(state);
        if (copy) {
            copy[i] = v[i];
        }
    }
    cr_assert_eq(nb_node_write_f64(g, n, v, k), NB_OK);
}

static void eval_into(nb_graph *g, nb_node *out, double *dst)
{
    cr_assert_eq(nb_graph_run(g, 1, &out), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, out, dst, nb_node_size(out)), NB_OK);
}

Test(pool_second_order, hessian_vector_product_through_avg_and_max_pooling,
     .description = "L = sum(K * tanh(a) * a) + sum(M * m * m), a = avg_pool2d(w, 3, stride 2, "
                    "padding 1), m = max_pool1d(reshape(w, [1, 5, 5]), 2, stride 1): "
                    "Hv = grad(sum(grad(L) * v)) matches (g(w + eps v) - g(w - eps v)) / 2eps; "
                    "the second sweep differentiates avg_pool_grad, scatter_add and gather")
{
    enum { N = 25 };
    nb_graph *g = nb_graph_new();
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 1, 5, 5));
    nb_node *a = nb_avg_pool2d(g, w, 3, 3, 2, 2, 1, 1);
    nb_node *m = nb_max_pool1d(g, nb_reshape(g, w, NB_SHAPE(1, 5, 5)), 2, 1, 0);
    nb_node *k = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 1, 3, 3));
    nb_node *mk = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 5, 4));
    nb_node *loss = nb_add(g, nb_sum(g, nb_mul(g, nb_mul(g, k, nb_tanh(g, a)), a)),
                           nb_sum(g, nb_mul(g, mk, nb_mul(g, m, m))));
    nb_node *gw, *hv;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &gw), NB_OK, "%s", nb_graph_error(g));
    nb_node *v = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 1, 5, 5));
    cr_assert_eq(nb_grad(g, nb_sum(g, nb_mul(g, gw, v)), 1, &w, &hv), NB_OK, "%s",
                 nb_graph_error(g));
    ASSERT_OK(g);

    uint64_t state = 17;
    double p0[N], dir[N];
    write_seq(g, w, &state, p0);
    write_seq(g, k, &state, NULL);
    write_seq(g, mk, &state, NULL);
    write_seq(g, v, &state, dir);

    double h[N], gp[N], gm[N], at[N];
    eval_into(g, hv, h);
    const double eps = 1e-5;
    for (int sign = 1; sign >= -1; sign -= 2) {
        for (int i = 0; i < N; i++) {
            at[i] = p0[i] + sign * eps * dir[i];
        }
        cr_assert_eq(nb_node_write_f64(g, w, at, N), NB_OK);
        eval_into(g, gw, sign > 0 ? gp : gm);
    }
    double scale = 0;
    for (int i = 0; i < N; i++) {
        scale = fmax(scale, fabs(h[i]));
    }
    cr_assert_gt(scale, 1e-2, "the Hessian-vector product should not vanish");
    for (int i = 0; i < N; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        cr_assert(fabs(h[i] - fd) <= 1e-6 * fmax(fabs(fd), 1e-3 * scale),
                  "element %d: Hv = %.12g, finite differences %.12g", i, h[i], fd);
    }
    nb_graph_free(g);
}

Test(pool_second_order, gradient_of_the_gradient_checks,
     .description = "nb_gradcheck of sum(grad(L, w) * c) with respect to w, for L = "
                    "sum(exp(max_pool2d(avg_pool2d(w, 2, stride 1), 2, stride 1, padding 1))): "
                    "the gradient graph (scatter_add, avg_pool_grad) has correct gradients")
{
    nb_graph *g = nb_graph_new();
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2, 4, 3));
    nb_node *a = nb_avg_pool2d(g, w, 2, 2, 1, 1, 0, 0);
    nb_node *m = nb_max_pool2d(g, a, 2, 2, 1, 1, 1, 1);
    nb_node *loss = nb_sum(g, nb_exp(g, m));
    nb_node *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    nb_node *cst = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2, 4, 3));
    nb_node *y = nb_sum(g, nb_mul(g, dw, cst));
    ASSERT_OK(g);
    uint64_t state = 5;
    write_seq(g, w, &state, NULL);
    write_seq(g, cst, &state, NULL);
    nb_gradcheck_options o = nb_gradcheck_defaults();
    nb_gradcheck_result r;
    cr_assert_eq(nb_gradcheck(g, y, 1, &w, &o, &r), NB_OK, "%s", nb_graph_error(g));
    cr_assert(r.passed, "element %zu: analytic %.12g, numeric %.12g", r.worst_index, r.analytic,
              r.numeric);
    cr_assert_gt(fabs(r.analytic) + fabs(r.numeric), 0);
    nb_graph_free(g);
}
