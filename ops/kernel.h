/*
 * ops/kernel.h: loop generators shared by the op files. Each macro writes one
 * body and instantiates it for float and double (the body sees the element type
 * as T; <tgmath.h> picks expf or exp to match), so kernels are plain
 * contiguous loops the compiler can vectorize, with no per-element calls
 * through pointers. Outputs may alias inputs element for element (the planner
 * runs elementwise ops in place), so no pointer here is restrict.
 */
#ifndef NABLA_KERNEL_H
#define NABLA_KERNEL_H

#include "../graph/internal.h"

#include <tgmath.h>

#include "fastmath.h"

/*
 * NBI_SIMD before a kernel compiles it twice, for baseline x86-64 (SSE2: four
 * floats a vector) and for AVX2 (eight), and the dynamic loader picks the one
 * the CPU runs (target_clones, an ifunc; meson defines NBI_SIMD_CLONES where
 * the compiler and the build allow it). The AVX2 version uses no FMA and the
 * library is built with -ffp-contract=off, so both run the same operations in
 * the same order: results are bit for bit the same on every x86-64 machine
 * (tests/test_internal_fastmath.c checks it).
 */
#ifdef NBI_SIMD_CLONES
#define NBI_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define NBI_SIMD
#endif

/*
 * Broadcast iteration over up to four collapsed dimensions: element
 * (i0,i1,i2,i3) of the output reads a at sa·i and b at sb·i. Adjacent
 * dimensions that are contiguous for both operands are merged, so equal shapes
 * become one flat loop and a bias add becomes rows. The innermost strides are
 * 0 (broadcast) or 1.
 */
typedef struct nbi_bcast {
    int64_t dim[4];
    int64_t sa[4], sb[4];
} nbi_bcast;

/* Sets up iteration over out's shape; a and b (b may be NULL) broadcast to it. */
void nbi_bcast_init(nbi_bcast *it, const nb_node *out, const nb_node *a, const nb_node *b);

/* Runs BODY for each inner row: pa, pb, py point at the row, n is its length. */
#define NBI_BCAST_ROWS(it, T, a, b, y, ...)                                                        \
    do {                                                                                           \
        int64_t n_ = (it)->dim[3], r_ = 0;                                                         \
        for (int64_t i0 = 0; i0 < (it)->dim[0]; i0++) {                                            \
            for (int64_t i1 = 0; i1 < (it)->dim[1]; i1++) {                                        \
                for (int64_t i2 = 0; i2 < (it)->dim[2]; i2++, r_++) {                              \
                    const T *pa = (a) + i0 * (it)->sa[0] + i1 * (it)->sa[1] + i2 * (it)->sa[2];    \
                    const T *pb = (b) + i0 * (it)->sb[0] + i1 * (it)->sb[1] + i2 * (it)->sb[2];    \
                    T *py = (y) + r_ * n_;                                                         \
                    int64_t n = n_;                                                                \
                    (void)pb;                                                                      \
                    __VA_ARGS__;                                                                   \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* An elementwise binary kernel over its iteration: y = f(a, b), each of dtype T. */
typedef void nbi_binary_fn(const nbi_bcast *it, const void *a, const void *b, void *y);

/* An elementwise unary kernel: y[i] = f(x[i]) for i < n. */
typedef void nbi_unary_fn(size_t n, const void *x, void *y);

/*
 * Run fn over the whole iteration (elements of es bytes), split between
 * nbi_threads() threads when it has NBI_PAR_MIN elements or more (ops/broadcast.c;
 * the forward macros below call smaller kernels directly).
 * Each element is computed as on one thread: the results are the same bits.
 */
void nbi_binary_run(const nbi_bcast *it, nbi_binary_fn *fn, const void *a, const void *b, void *y,
                    size_t es);
void nbi_unary_run(nbi_unary_fn *fn, size_t n, const void *x, void *y, size_t es);

#if defined(__GNUC__)
#define NBI_MAYBE_UNUSED __attribute__((unused))
#else
#define NBI_MAYBE_UNUSED
#endif

/*
 * NAME_scalar_f32(x, z): the same expression as NAME's kernels for one f32
 * element (z unused by unary ops), for the op record's scalar_f32. The
 * executor calls it for rank-0 steps instead of the kernel, so scalar graphs
 * skip the broadcast set-up and loop; the bits are the kernel's (no FMA, the
 * same operations in the same order).
 */
#define NBI_SCALAR_F32(NAME, ...)                                                                  \
    NBI_MAYBE_UNUSED static float NAME##_scalar_f32(float x, float z)                              \
    {                                                                                              \
        typedef float T;                                                                           \
        (void)(T)0;                                                                                \
        (void)z;                                                                                   \
        return (__VA_ARGS__);                                                                      \
    }

/*
 * Elementwise binary forward kernel NAME_forward for y = EXPR(x, z), where x is
 * from input 0 and z from input 1, with NumPy broadcasting.
 */
#define NBI_BINARY_FORWARD(NAME, ...)                                                              \
    NBI_BINARY_TYPED(NAME##_f32, float, __VA_ARGS__)                                               \
    NBI_BINARY_TYPED(NAME##_f64, double, __VA_ARGS__)                                              \
    NBI_SCALAR_F32(NAME, __VA_ARGS__)                                                              \
    static nb_status NAME##_forward(nb_graph *g, nb_node *y)                                       \
    {                                                                                              \
        (void)g;                                                                                   \
        nbi_bcast it;                                                                              \
        nbi_bcast_init(&it, y, y->in[0], y->in[1]);                                                \
        bool f32 = y->dtype == NB_DTYPE_F32;                                                       \
        const void *a = y->in[0]->data, *b = y->in[1]->data;                                       \
        if (nbi_node_count(y) >= NBI_PAR_MIN) {                                                    \
            nbi_binary_run(&it, f32 ? NAME##_f32 : NAME##_f64, a, b, y->data,                      \
                           f32 ? sizeof(float) : sizeof(double));                                  \
        } else if (f32) { /* small: a direct call, as scalar graphs make many */                   \
            NAME##_f32(&it, a, b, y->data);                                                        \
        } else {                                                                                   \
            NAME##_f64(&it, a, b, y->data);                                                        \
        }                                                                                          \
        return NB_OK;                                                                              \
    }

#define NBI_BINARY_TYPED(FN, TYPE, ...)                                                            \
    NBI_SIMD static void FN(const nbi_bcast *it, const void *av, const void *bv, void *yv)         \
    {                                                                                              \
        typedef TYPE T;                                                                            \
        const T *a = av, *b = bv;                                                                  \
        T *y = yv;                                                                                 \
        NBI_BCAST_ROWS(it, T, a, b, y, {                                                           \
            if (it->sa[3] && it->sb[3]) {                                                          \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    const T x = pa[k], z = pb[k];                                                  \
                    py[k] = (__VA_ARGS__);                                                         \
                }                                                                                  \
            } else if (it->sa[3]) {                                                                \
                const T z = pb[0];                                                                 \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    const T x = pa[k];                                                             \
                    py[k] = (__VA_ARGS__);                                                         \
                }                                                                                  \
            } else if (it->sb[3]) {                                                                \
                const T x = pa[0];                                                                 \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    const T z = pb[k];                                                             \
                    py[k] = (__VA_ARGS__);                                                         \
                }                                                                                  \
            } else {                                                                               \
                const T x = pa[0], z = pb[0], v = (__VA_ARGS__);                                   \
                for (int64_t k = 0; k < n; k++) {                                                  \
                    py[k] = v;                                                                     \
                }                                                                                  \
            }                                                                                      \
        });                                                                                        \
    }

/* Elementwise unary forward kernel NAME_forward for y = EXPR(x), x from input 0. */
#define NBI_UNARY_FORWARD(NAME, ...)                                                               \
    NBI_UNARY_TYPED(NAME##_f32, float, __VA_ARGS__)                                                \
    NBI_UNARY_TYPED(NAME##_f64, double, __VA_ARGS__)                                               \
    NBI_SCALAR_F32(NAME, __VA_ARGS__)                                                              \
    static nb_status NAME##_forward(nb_graph *g, nb_node *y)                                       \
    {                                                                                              \
        (void)g;                                                                                   \
        bool f32 = y->dtype == NB_DTYPE_F32;                                                       \
        size_t n = nbi_node_count(y);                                                              \
        if (n >= NBI_PAR_MIN) {                                                                    \
            nbi_unary_run(f32 ? NAME##_f32 : NAME##_f64, n, y->in[0]->data, y->data,               \
                          f32 ? sizeof(float) : sizeof(double));                                   \
        } else if (f32) {                                                                          \
            NAME##_f32(n, y->in[0]->data, y->data);                                                \
        } else {                                                                                   \
            NAME##_f64(n, y->in[0]->data, y->data);                                                \
        }                                                                                          \
        return NB_OK;                                                                              \
    }

#define NBI_UNARY_TYPED(FN, TYPE, ...)                                                             \
    NBI_SIMD static void FN(size_t n, const void *xv, void *yv)                                    \
    {                                                                                              \
        typedef TYPE T;                                                                            \
        const T *xs = xv;                                                                          \
        T *ys = yv;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T x = xs[i];                                                                     \
            ys[i] = (__VA_ARGS__);                                                                 \
        }                                                                                          \
    }

/*
 * Instantiates a kernel body for both float types: defines NAME_f32 and
 * NAME_f64 with parameter list PARAMS; the body sees the element type as T
 * (PARAMS cannot, so pass data as void pointers and convert in the body).
 */
#define NBI_TYPED(NAME, PARAMS, ...)                                                               \
    NBI_SIMD static void NAME##_f32 PARAMS                                                         \
    {                                                                                              \
        typedef float T;                                                                           \
        __VA_ARGS__                                                                                \
    }                                                                                              \
    NBI_SIMD static void NAME##_f64 PARAMS                                                         \
    {                                                                                              \
        typedef double T;                                                                          \
        __VA_ARGS__                                                                                \
    }

/* Calls NAME_f32 or NAME_f64 by y's dtype. */
#define NBI_DISPATCH(y, NAME, ...)                                                                 \
    do {                                                                                           \
        if ((y)->dtype == NB_DTYPE_F32) {                                                          \
            NAME##_f32(__VA_ARGS__);                                                               \
        } else {                                                                                   \
            NAME##_f64(__VA_ARGS__);                                                               \
        }                                                                                          \
    } while (0)

#endif /* NABLA_KERNEL_H */
