/*
 * ops/gemm_plain.c: the plain C GEMM behind ops/gemm_plain.h. Loops in i, p, j
 * order so the innermost one runs along contiguous rows of b and c (for an
 * untransposed b); accumulation is in the element type, as BLIS does. c is
 * first scaled by beta (0: overwritten, whatever it held, as BLIS does).
 */
#include "../graph/internal.h"

#include "gemm_plain.h"

#define GEMM_PLAIN(NAME, T)                                                                        \
    void NAME(int ta, int tb, int64_t m, int64_t n, int64_t k, const T *a, int64_t lda,            \
              const T *b, int64_t ldb, T beta, T *c, int64_t ldc)                                  \
    {                                                                                              \
        for (int64_t i = 0; i < m; i++) {                                                          \
            T *ci = c + i * ldc;                                                                   \
            for (int64_t j = 0; j < n; j++) {                                                      \
                ci[j] = beta == 0 ? 0 : beta * ci[j]; /* beta 0 overwrites, as BLIS */             \
            }                                                                                      \
            for (int64_t p = 0; p < k; p++) {                                                      \
                T aip = ta ? a[p * lda + i] : a[i * lda + p];                                      \
                if (tb) {                                                                          \
                    for (int64_t j = 0; j < n; j++) {                                              \
                        ci[j] += aip * b[j * ldb + p];                                             \
                    }                                                                              \
                } else {                                                                           \
                    const T *bp = b + p * ldb;                                                     \
                    for (int64_t j = 0; j < n; j++) {                                              \
                        ci[j] += aip * bp[j];                                                      \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

GEMM_PLAIN(nbi_gemm_plain_f32, float)
GEMM_PLAIN(nbi_gemm_plain_f64, double)
