/*
 * bench/datagen.h: the benchmark's shared data generator (issue 5), so nabla
 * and PyTorch (bench/torch_bench.py) see bit-identical inputs. Element i of
 * stream k is u = (lowbias32((i + k * 0x9E3779B9) mod 2^32) >> 8) / 2^24, a
 * multiple of 2^-24 in [0, 1); a symmetric tensor of scale s is (2u - 1) * s,
 * row-major, computed in double and rounded to float once.
 */
#ifndef NABLA_BENCH_DATAGEN_H
#define NABLA_BENCH_DATAGEN_H

#include <stddef.h>
#include <stdint.h>

/* Chris Wellons' lowbias32 integer hash. */
static inline uint32_t lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

/* Element i of stream k, in [0, 1) (exact in float and double). */
static inline double gen_u(uint32_t stream, uint64_t i)
{
    uint32_t x = (uint32_t)i + stream * 0x9E3779B9u; /* both wrap mod 2^32 */
    return (double)(lowbias32(x) >> 8) / 16777216.0;
}

/* Fills out[0..n-1] with the symmetric tensor of the given stream and scale. */
static inline void gen_sym(float *out, size_t n, uint32_t stream, double scale)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)((2 * gen_u(stream, i) - 1) * scale);
    }
}

#endif
