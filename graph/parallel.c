/*
 * graph/parallel.c: nabla's own threads. BLIS runs the GEMMs on as many
 * threads as BLIS_NUM_THREADS (or OMP_NUM_THREADS, or
 * bli_thread_set_num_threads) say; the loops nabla runs between them (large
 * elementwise ops, the optimizer's norm and update) use that many too, from
 * the same OpenMP pool, so one setting covers a whole training step. Without
 * OpenMP everything runs on the calling thread.
 */
/* blis.h uses POSIX threads types, hidden by plain -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#ifndef NBI_PLAIN_GEMM /* no BLIS (WebAssembly): one thread */
#include <blis.h>
#endif
#ifdef NBI_OPENMP
#include <omp.h>
#endif

int nbi_threads(void)
{
#ifdef NBI_OPENMP
    dim_t n = bli_thread_get_num_threads();
    return n > 1 ? (int)n : 1;
#else
    return 1;
#endif
}

void nbi_parallel(int threads, nbi_parallel_fn *fn, void *ctx)
{
#ifdef NBI_OPENMP
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
        fn(ctx, omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#endif
    (void)threads;
    fn(ctx, 0, 1);
}
