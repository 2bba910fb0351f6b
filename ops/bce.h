/*
 * ops/bce.h: binary cross-entropy with logits summed in eight lanes, shared
 * by its kernel (ops/loss.c) and the fused matrix-vector region
 * (graph/fuse.c), which carries the lanes from block to block: one formula
 * and one order, so the two give the same bits. Lane j takes the rows
 * congruent to j mod 8; the rows past the last whole eight go to lane 0.
 */
#ifndef NABLA_OPS_BCE_H
#define NABLA_OPS_BCE_H

#include "kernel.h"

/* One row's term, max(v, 0) - v t + log(1 + e), with e = exp(-|v|). */
#define NBI_BCE_TERM(T, v, t, e) (((v) > 0 ? (v) : (T)0) - (v) * (t) + NBI_LOG1P(e))

/* Adds n rows of logits z and targets t to the eight partial sums acc. */
NBI_TYPED(nbi_bce_block, (const void *zv, const void *tv, void *accv, size_t n), {
    const T *z = zv, *t = tv;
    T acc[8]; /* a local copy: through accv it could alias the rows for all the compiler knows */
    memcpy(acc, accv, sizeof acc);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++) {
            T v = z[i + j], a = v < 0 ? -v : v;
            acc[j] += NBI_BCE_TERM(T, v, t[i + j], NBI_EXP(-a));
        }
    }
    for (; i < n; i++) {
        T v = z[i], a = v < 0 ? -v : v;
        acc[0] += NBI_BCE_TERM(T, v, t[i], NBI_EXP(-a));
    }
    memcpy(accv, acc, sizeof acc);
})

/* The mean over n rows from the partial sums, added pairwise in double. */
NBI_TYPED(nbi_bce_finish, (const void *accv, void *yv, size_t n), {
    const T *acc = accv;
    double total =
        (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    *(T *)yv = (T)(total / (double)n);
})

#endif
