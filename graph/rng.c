/*
 * graph/rng.c: the graph's own random generator (xoshiro256**, seeded through
 * splitmix64), so parameter initialization is reproducible and no state is
 * shared between graphs.
 */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void nb_graph_seed(nb_graph *g, uint64_t seed)
{
    if (!g) {
        return;
    }
    for (int i = 0; i < 4; i++) {
        g->rng[i] = splitmix64(&seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t nbi_rng_next(nb_graph *g)
{
    uint64_t *s = g->rng;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nbi_rng_uniform(nb_graph *g)
{
    return (double)(nbi_rng_next(g) >> 11) * 0x1.0p-53;
}

double nbi_rng_normal(nb_graph *g)
{
    /* Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]. */
    double u = 1.0 - nbi_rng_uniform(g), v = nbi_rng_uniform(g);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
