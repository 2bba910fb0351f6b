/*
 * ops/gemm_plain.h: a plain C GEMM and GEMV with BLIS's calling convention,
 * for builds without BLIS (the WebAssembly playground, meson -Dgemm=plain).
 * ops/matmul.c includes this instead of <blis.h> under NBI_PLAIN_GEMM, so its
 * calls stay as written; tests/test_internal_gemm.c checks the loops against
 * BLIS in the native build, where they are compiled too (nbi_gemm_plain_*).
 */
#ifndef NABLA_GEMM_PLAIN_H
#define NABLA_GEMM_PLAIN_H

#include <stdint.h>

/* c[m,n] = op(a)[m,k] op(b)[k,n] + beta c (alpha 1); row strides lda, ldb, ldc, column stride 1 */
void nbi_gemm_plain_f32(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc);
void nbi_gemm_plain_f64(int ta, int tb, int64_t m, int64_t n, int64_t k, const double *a,
                        int64_t lda, const double *b, int64_t ldb, double beta, double *c,
                        int64_t ldc);

#ifdef NBI_PLAIN_GEMM
/* The slice of BLIS's typed API that ops/matmul.c and ops/conv.c call. */
typedef enum { BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE } trans_t;
enum { BLIS_NO_CONJUGATE };

static inline void bli_sgemm(trans_t ta, trans_t tb, int64_t m, int64_t n, int64_t k,
                             const float *alpha, const float *a, int64_t rsa, int64_t csa,
                             const float *b, int64_t rsb, int64_t csb, const float *beta, float *c,
                             int64_t rsc, int64_t csc)
{
    (void)alpha, (void)csa, (void)csb, (void)csc; /* always 1 and unit columns */
    nbi_gemm_plain_f32(ta, tb, m, n, k, a, rsa, b, rsb, *beta, c, rsc);
}

static inline void bli_dgemm(trans_t ta, trans_t tb, int64_t m, int64_t n, int64_t k,
                             const double *alpha, const double *a, int64_t rsa, int64_t csa,
                             const double *b, int64_t rsb, int64_t csb, const double *beta,
                             double *c, int64_t rsc, int64_t csc)
{
    (void)alpha, (void)csa, (void)csb, (void)csc;
    nbi_gemm_plain_f64(ta, tb, m, n, k, a, rsa, b, rsb, *beta, c, rsc);
}

/* y[rows or cols] = op(mat) x, mat stored rows x cols: a GEMM with one column */
static inline void bli_sgemv(trans_t t, int conj, int64_t rows, int64_t cols, const float *alpha,
                             const float *mat, int64_t rs, int64_t cs, const float *x, int64_t incx,
                             const float *beta, float *y, int64_t incy)
{
    (void)conj, (void)alpha, (void)cs, (void)incx, (void)incy;
    int64_t m = t ? cols : rows, k = t ? rows : cols;
    nbi_gemm_plain_f32(t, 0, m, 1, k, mat, rs, x, 1, *beta, y, 1);
}

static inline void bli_dgemv(trans_t t, int conj, int64_t rows, int64_t cols, const double *alpha,
                             const double *mat, int64_t rs, int64_t cs, const double *x,
                             int64_t incx, const double *beta, double *y, int64_t incy)
{
    (void)conj, (void)alpha, (void)cs, (void)incx, (void)incy;
    int64_t m = t ? cols : rows, k = t ? rows : cols;
    nbi_gemm_plain_f64(t, 0, m, 1, k, mat, rs, x, 1, *beta, y, 1);
}
#endif /* NBI_PLAIN_GEMM */

#endif /* NABLA_GEMM_PLAIN_H */
