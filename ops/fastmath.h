/*
 * ops/fastmath.h: float32 exp, log1p, sigmoid and tanh written as straight-line
 * arithmetic, so loops over them vectorize (a call to libm's expf in a loop
 * does not). Measured against libm over millions of points of their whole
 * ranges (tests/test_internal_fastmath.c keeps a sample): exp within 1 ulp,
 * log1p and sigmoid within 2, tanh within 3. float64 keeps libm: its tests ask for
 * 1e-12, and its workloads are rarely transcendental-bound.
 *
 * NBI_EXP(x) and friends pick the fast float version or libm's double one by
 * the argument's type, for kernels written once for both (ops/kernel.h).
 */
#ifndef NABLA_FASTMATH_H
#define NABLA_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 2^k for whole k in [-126, 127], from the exponent bits. */
static inline float nbi_pow2f(float k)
{
    int32_t bits = ((int32_t)k + 127) << 23;
    float r;
    memcpy(&r, &bits, sizeof r);
    return r;
}

/*
 * e^x: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 in two parts), e^r by
 * Cephes' degree-7 polynomial, then times 2^k applied in two halves so that
 * k = 128 (e^88.72, just under FLT_MAX) and denormal results stay exact.
 * Below -104 the result is 0, above 88.73 infinity; NaN stays NaN.
 */
static inline float nbi_expf(float x)
{
    /* written so that NaN clamps too: a NaN k would be undefined in nbi_pow2f's conversion */
    float c = x <= 88.73f ? x : 88.73f;
    c = c >= -104.0f ? c : -104.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float k = (c * 1.44269504f + magic) - magic;
    float r = c - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    float k1 = (k * 0.5f + magic) - magic;
    float e = p * nbi_pow2f(k1) * nbi_pow2f(k - k1);
    return x < -104.0f ? 0.0f : x != x ? x : e;
}

/*
 * log(1 + u) for u >= 0 (what softplus needs): with s = u / (2 + u) in
 * [0, 1), log1p(u) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...). For u <= 1, s <=
 * 1/3 and eight terms reach float precision; larger u goes through
 * log(1 + u) = 2 atanh computed on the reduced argument m = (1 + u) / 2^j.
 */
static inline float nbi_log1pf(float u)
{
    /* split 1 + u = 2^j m with m in [sqrt(1/2), sqrt(2)) when u is large */
    float v = 1.0f + u;
    int32_t bits;
    memcpy(&bits, &v, sizeof bits);
    int32_t j = ((bits - 0x3f3504f3) >> 23); /* 0x3f3504f3 = sqrt(1/2) */
    j = u <= 1.0f ? 0 : j;                   /* small u: no split, keep log1p's accuracy */
    int32_t mb = bits - (j << 23);
    float m;
    memcpy(&m, &mb, sizeof m);
    float a = j == 0 ? u : m - 1.0f; /* the argument whose log1p remains */
    float s = a / (2.0f + a), s2 = s * s;
    float t =
        s2 *
        (1.0f / 3 +
         s2 * (1.0f / 5 +
               s2 * (1.0f / 7 +
                     s2 * (1.0f / 9 + s2 * (1.0f / 11 + s2 * (1.0f / 13 + s2 * (1.0f / 15)))))));
    float r = 2.0f * (s + s * t) + (float)j * 0.693147182f;
    return u == INFINITY ? u : r;
}

/* 1 / (1 + e^-x), from e^-|x| so no exponent is positive. */
static inline float nbi_sigmoidf(float x)
{
    float e = nbi_expf(-fabsf(x));
    return (x >= 0 ? 1.0f : e) / (1.0f + e);
}

/*
 * tanh: near 0 the odd Taylor series (|x| < 0.5, where 1 - 2/(e^2x + 1) would
 * cancel); elsewhere 1 - 2/(e^(2|x|) + 1) with the sign put back.
 */
static inline float nbi_tanhf(float x)
{
    float a = fabsf(x), x2 = x * x;
    /* Taylor coefficients of tanh: -1/3, 2/15, -17/315, 62/2835, ... (rounded to float) */
    float small =
        x + x * x2 *
                (-0.333333333f +
                 x2 * (0.133333333f +
                       x2 * (-0.0539682540f +
                             x2 * (0.0218694885f +
                                   x2 * (-0.00886323552f +
                                         x2 * (0.00359212803f + x2 * -0.00145583438f))))));
    small = x == 0 ? x : small; /* -0 + +0 would be +0; tanh(-0) is -0 */
    float big = 1.0f - 2.0f / (nbi_expf(2.0f * a) + 1.0f);
    big = x < 0 ? -big : big;
    return a < 0.5f ? small : big;
}

static inline double nbi_sigmoid(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

/* Type-generic entry points for kernels written once for float and double. */
#define NBI_EXP(x)     _Generic((x), float : nbi_expf, default : exp)(x)
#define NBI_LOG1P(x)   _Generic((x), float : nbi_log1pf, default : log1p)(x)
#define NBI_SIGMOID(x) _Generic((x), float : nbi_sigmoidf, default : nbi_sigmoid)(x)
#define NBI_TANH(x)    _Generic((x), float : nbi_tanhf, default : tanh)(x)

#endif /* NABLA_FASTMATH_H */
