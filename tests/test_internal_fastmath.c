/*
 * tests/test_internal_fastmath.c: the float32 exp, log1p, sigmoid and tanh of
 * ops/fastmath.h against libm in double, over a sweep of every 997th float,
 * their special values, and the library's kernels (which on an AVX2 machine
 * run the AVX2 clone, NBI_SIMD) against the same functions compiled here for
 * baseline x86-64: the two must agree bit for bit.
 */
#include "ops/fastmath.h"

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdint.h>
#include <string.h>

/* Floats in the order of the reals, as integers: ulps apart = difference. */
static int64_t ordered(float f)
{
    int32_t b;
    memcpy(&b, &f, sizeof b);
    return b < 0 ? (int64_t)INT32_MIN - b : b;
}

static int64_t ulps(float a, float b)
{
    int64_t d = ordered(a) - ordered(b);
    return d < 0 ? -d : d;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

typedef struct worst {
    int64_t ulps;
    float at;
} worst;

static void note(worst *w, float got, double want, float x)
{
    int64_t d = ulps(got, (float)want);
    if (d > w->ulps) {
        w->ulps = d;
        w->at = x;
    }
}

/* The bounds the header states, over every 997th float of each function's domain. */
Test(fastmath, within_the_stated_ulps_of_libm)
{
    worst e = { 0, 0 }, l = { 0, 0 }, s = { 0, 0 }, t = { 0, 0 };
    for (uint64_t u = 0; u < 0x100000000u; u += 997) {
        float x = from_bits((uint32_t)u);
        if (isnan(x)) {
            continue;
        }
        if (x >= -104.0f && x <= 88.7f) {
            note(&e, nbi_expf(x), exp((double)x), x);
        }
        if (x >= 0) {
            note(&l, nbi_log1pf(x), log1p((double)x), x);
        }
        note(&s, nbi_sigmoidf(x), 1 / (1 + exp(-(double)x)), x);
        note(&t, nbi_tanhf(x), tanh((double)x), x);
    }
    cr_expect_leq(e.ulps, 1, "exp: %lld ulps at %.9g", (long long)e.ulps, e.at);
    cr_expect_leq(l.ulps, 2, "log1p: %lld ulps at %.9g", (long long)l.ulps, l.at);
    cr_expect_leq(s.ulps, 2, "sigmoid: %lld ulps at %.9g", (long long)s.ulps, s.at);
    cr_expect_leq(t.ulps, 3, "tanh: %lld ulps at %.9g", (long long)t.ulps, t.at);
}

Test(fastmath, special_values)
{
    cr_expect(isnan(nbi_expf(NAN)));
    cr_expect_eq(nbi_expf(-INFINITY), 0.0f);
    cr_expect_eq(nbi_expf(INFINITY), INFINITY);
    cr_expect_eq(nbi_expf(0.0f), 1.0f);
    cr_expect_eq(nbi_expf(-200.0f), 0.0f);
    cr_expect_eq(nbi_expf(89.0f), INFINITY);
    cr_expect(isfinite(nbi_expf(88.72f)) && nbi_expf(88.72f) > 3.3e38f);
    /* a denormal result: e^-100 = 3.72e-44 */
    cr_expect_leq(ulps(nbi_expf(-100.0f), (float)exp(-100.0)), 1);

    cr_expect_eq(nbi_log1pf(0.0f), 0.0f);
    cr_expect_eq(nbi_log1pf(INFINITY), INFINITY);
    cr_expect_leq(ulps(nbi_log1pf(3.0e38f), (float)log1p(3.0e38)), 2);

    cr_expect_eq(nbi_sigmoidf(INFINITY), 1.0f);
    cr_expect_eq(nbi_sigmoidf(-INFINITY), 0.0f);
    cr_expect_eq(nbi_sigmoidf(0.0f), 0.5f);
    cr_expect(isnan(nbi_sigmoidf(NAN)));
    cr_expect_leq(ulps(nbi_sigmoidf(-1000.0f), 0.0f), 0);
    cr_expect_leq(ulps(nbi_sigmoidf(-90.0f), (float)(1 / (1 + exp(90.0)))), 2);

    cr_expect_eq(nbi_tanhf(INFINITY), 1.0f);
    cr_expect_eq(nbi_tanhf(-INFINITY), -1.0f);
    cr_expect_eq(nbi_tanhf(0.0f), 0.0f);
    cr_expect(signbit(nbi_tanhf(-0.0f)), "tanh(-0) keeps its sign");
    cr_expect(isnan(nbi_tanhf(NAN)));
}

enum { N = 4099 }; /* not a multiple of any vector width: the tails run too */

/* Inputs spanning the interesting ranges, with NaN and both infinities. */
static void fill(float *x)
{
    for (int i = 0; i < N; i++) {
        x[i] = (float)((i % 401) - 200) * 0.61f + (float)(i % 7) * 0.013f;
    }
    x[5] = NAN;
    x[6] = INFINITY;
    x[7] = -INFINITY;
    x[8] = 88.72f;
    x[9] = -103.9f;
}

static bool same_bits(const float *a, const float *b, int n, int *at)
{
    for (int i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof *a) != 0) {
            *at = i;
            return false;
        }
    }
    return true;
}

/*
 * The library's f32 kernels give the very bits of the scalar functions built
 * here. On a CPU with AVX2 that compares the AVX2 clone with the baseline
 * code; elsewhere the baseline with itself.
 */
Test(fastmath, library_kernels_agree_bit_for_bit_with_the_scalar_functions)
{
    static float x[N], want[N];
    fill(x);
    nb_graph *g = nb_graph_new();
    nb_node *in = nb_input(g, NB_DTYPE_F32, NB_SHAPE(N));
    nb_node *outs[4] = { nb_exp(g, in), nb_sigmoid(g, in), nb_tanh(g, in),
                         nb_tanh_grad(g, in, in) };
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_write(g, in, x, N), NB_OK);
    cr_assert_eq(nb_graph_run(g, 4, outs), NB_OK, "%s", nb_graph_error(g));
    const char *names[4] = { "exp", "sigmoid", "tanh", "tanh_grad" };
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < N; i++) {
            want[i] = k == 0   ? nbi_expf(x[i])
                      : k == 1 ? nbi_sigmoidf(x[i])
                      : k == 2 ? nbi_tanhf(x[i])
                               : x[i] * (1.0f - x[i] * x[i]);
        }
        int at = -1;
        const float *got = nb_node_data(outs[k]);
        cr_expect(same_bits(got, want, N, &at), "%s(%.9g): library %.9g, scalar %.9g", names[k],
                  at >= 0 ? x[at] : 0.0f, at >= 0 ? got[at] : 0.0f, at >= 0 ? want[at] : 0.0f);
    }
    nb_graph_free(g);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    cr_log_info("this CPU %s AVX2", __builtin_cpu_supports("avx2") ? "has" : "lacks");
#endif
}

/* The same for the two losses whose kernels sum: lanes fixed, so sums agree too. */
Test(fastmath, loss_sums_agree_bit_for_bit_with_the_scalar_order)
{
    static float z[N], t[N];
    fill(z);
    for (int i = 0; i < N; i++) {
        z[i] = isfinite(z[i]) ? z[i] : 1.5f; /* a finite loss */
        t[i] = (float)(i % 3 == 0);
    }
    nb_graph *g = nb_graph_new();
    nb_node *zn = nb_input(g, NB_DTYPE_F32, NB_SHAPE(N));
    nb_node *tn = nb_input(g, NB_DTYPE_F32, NB_SHAPE(N));
    nb_node *outs[2] = { nb_bce_logits(g, zn, tn), nb_mse(g, zn, tn) };
    cr_assert_eq(nb_node_write(g, zn, z, N), NB_OK);
    cr_assert_eq(nb_node_write(g, tn, t, N), NB_OK);
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_OK, "%s", nb_graph_error(g));
    /* the kernels' order: eight lanes of partial sums, combined pairwise */
    float bce[8] = { 0 }, mse[8] = { 0 };
    int i = 0;
    for (; i + 8 <= N; i += 8) {
        for (int j = 0; j < 8; j++) {
            float v = z[i + j], a = fabsf(v), d = v - t[i + j];
            bce[j] += (v > 0 ? v : 0.0f) - v * t[i + j] + nbi_log1pf(nbi_expf(-a));
            mse[j] += d * d;
        }
    }
    for (; i < N; i++) {
        float v = z[i], a = fabsf(v), d = v - t[i];
        bce[0] += (v > 0 ? v : 0.0f) - v * t[i] + nbi_log1pf(nbi_expf(-a));
        mse[0] += d * d;
    }
    float sums[2];
    const float *lanes[2] = { bce, mse };
    for (int k = 0; k < 2; k++) {
        const float *a = lanes[k];
        double total = (double)(((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
        sums[k] = (float)(total / N);
    }
    float got0 = *(const float *)nb_node_data(outs[0]),
          got1 = *(const float *)nb_node_data(outs[1]);
    cr_expect(memcmp(&got0, &sums[0], sizeof got0) == 0, "bce_logits: %.9g, scalar %.9g", got0,
              sums[0]);
    cr_expect(memcmp(&got1, &sums[1], sizeof got1) == 0, "mse: %.9g, scalar %.9g", got1, sums[1]);
    nb_graph_free(g);
}
