/*
 * tests/test_internal_gemm.c: the plain C GEMM (ops/gemm_plain.c, what the
 * WebAssembly playground and -Dgemm=plain multiply with) against BLIS, for
 * every pair of transpose flags, padded row strides and the one-column and
 * one-row shapes matmul hands to gemv, in float and double, with beta 0
 * (overwrite) and 1 (accumulate, as ops/conv.c does).
 */
#define _POSIX_C_SOURCE 200809L /* blis.h uses POSIX threads types */

#include "ops/gemm_plain.h"

#include <blis.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

/* (m, n, k) shapes: square, tall, wide, gemv-like, empty inner dimension */
static const int64_t SHAPES[][3] = { { 4, 5, 3 }, { 17, 9, 33 }, { 1, 7, 6 },
                                     { 8, 1, 5 }, { 3, 4, 1 },   { 2, 3, 0 } };

static double value(int64_t i) /* deterministic, varied, away from 0 */
{
    return sin(0.7 * (double)i + 0.3) + 0.1 * (double)(i % 5);
}

/*
 * The stored matrix is op's shape transposed when flagged, each row padded by
 * 2; c starts as NaN (beta 0 must overwrite it) or as values (beta 1 adds).
 */
static void check(int ta, int tb, const int64_t *s, bool f32, double beta)
{
    int64_t m = s[0], n = s[1], k = s[2];
    int64_t lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 2, ldc = n + 2;
    int64_t ar = ta ? k : m, br = tb ? n : k;
    size_t na = (size_t)(ar * lda), nb = (size_t)(br * ldb), nc = (size_t)(m * ldc);
    double *a = calloc(na + 1, sizeof *a), *b = calloc(nb + 1, sizeof *b);
    double *c0 = calloc(nc + 1, sizeof *c0), *c1 = calloc(nc + 1, sizeof *c1);
    float *af = calloc(na + 1, sizeof *af), *bf = calloc(nb + 1, sizeof *bf);
    float *c0f = calloc(nc + 1, sizeof *c0f), *c1f = calloc(nc + 1, sizeof *c1f);
    for (size_t i = 0; i < na; i++) {
        af[i] = (float)(a[i] = value((int64_t)i));
    }
    for (size_t i = 0; i < nb; i++) {
        bf[i] = (float)(b[i] = value((int64_t)i + 101));
    }
    for (size_t i = 0; i < nc; i++) {
        c0f[i] = c1f[i] = (float)(c0[i] = c1[i] = beta == 0 ? NAN : value((int64_t)i + 202));
    }
    trans_t bta = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
            btb = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    if (f32) {
        float one = 1, bt = (float)beta;
        bli_sgemm(bta, btb, m, n, k, &one, af, lda, 1, bf, ldb, 1, &bt, c0f, ldc, 1);
        nbi_gemm_plain_f32(ta, tb, m, n, k, af, lda, bf, ldb, bt, c1f, ldc);
    } else {
        double one = 1;
        bli_dgemm(bta, btb, m, n, k, &one, a, lda, 1, b, ldb, 1, &beta, c0, ldc, 1);
        nbi_gemm_plain_f64(ta, tb, m, n, k, a, lda, b, ldb, beta, c1, ldc);
    }
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double want = f32 ? c0f[i * ldc + j] : c0[i * ldc + j];
            double got = f32 ? c1f[i * ldc + j] : c1[i * ldc + j];
            /* summation order differs from BLIS's: rounding, scaled by k */
            double tol = (f32 ? 1e-5 : 1e-13) * (double)(k + 1);
            cr_assert(fabs(got - want) <= tol,
                      "%s ta=%d tb=%d m=%lld n=%lld k=%lld [%lld,%lld]: %g vs BLIS %g",
                      f32 ? "f32" : "f64", ta, tb, (long long)m, (long long)n, (long long)k,
                      (long long)i, (long long)j, got, want);
        }
    }
    free(a), free(b), free(c0), free(c1), free(af), free(bf), free(c0f), free(c1f);
}

Test(gemm_plain, agrees_with_blis_for_every_transpose_and_shape)
{
    for (size_t s = 0; s < sizeof SHAPES / sizeof *SHAPES; s++) {
        for (int f = 0; f < 4; f++) {
            for (int beta = 0; beta < 2; beta++) { /* conv accumulates with beta 1 */
                check(f & 1, (f >> 1) & 1, SHAPES[s], false, beta);
                check(f & 1, (f >> 1) & 1, SHAPES[s], true, beta);
            }
        }
    }
}
