/*
 * graph/shape.c: shape arithmetic shared by the builders: checked element
 * counts, NumPy broadcasting, axis splitting and shape formatting.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

bool nbi_mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) {
        return true;
    }
    *out = a * b;
    return false;
}

bool nbi_shape_count(int rank, const int64_t *shape, size_t *count)
{
    size_t c = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 1 || (uint64_t)shape[i] > SIZE_MAX || shape[i] > INT32_MAX) {
            return false;
        }
        if (nbi_mul_overflows(c, (size_t)shape[i], &c)) {
            return false;
        }
    }
    *count = c;
    return true;
}

bool nbi_shape_bytes(int rank, const int64_t *shape, int dtype, size_t *count, size_t *bytes)
{
    size_t c, b;
    if (!nbi_shape_count(rank, shape, &c) || nbi_mul_overflows(c, nbi_dtype_size(dtype), &b) ||
        b > PTRDIFF_MAX) {
        return false;
    }
    *count = c;
    *bytes = b;
    return true;
}

size_t nbi_dtype_size(int dtype)
{
    return dtype == NB_DTYPE_F64 ? 8 : 4;
}

size_t nbi_node_bytes(const nb_node *n)
{
    return nbi_node_count(n) * nbi_dtype_size(n->dtype);
}

bool nbi_shape_eq(int ra, const int64_t *a, int rb, const int64_t *b)
{
    if (ra != rb) {
        return false;
    }
    return a == b || ra == 0 || memcmp(a, b, (size_t)ra * sizeof *a) == 0;
}

bool nbi_same_shape(const nb_node *a, const nb_node *b)
{
    return nbi_shape_eq(a->rank, a->shape, b->rank, b->shape);
}

bool nbi_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rank,
                         int64_t *out)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        /* align at the right */
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            return false;
        }
        out[i] = da == 1 ? db : da;
    }
    *rank = r;
    return true;
}

void nbi_format_shape(int rank, const int64_t *shape, char *buf, size_t cap)
{
    size_t at = 0;
    int w = snprintf(buf, cap, "[");
    at = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < rank && at < cap; i++) {
        w = snprintf(buf + at, cap - at, i ? ",%lld" : "%lld", (long long)shape[i]);
        at += w > 0 ? (size_t)w : 0;
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, "]");
    }
}

void nbi_axis_split(const nb_node *x, int axis, size_t *outer, size_t *len, size_t *inner)
{
    size_t o = 1, in = 1;
    for (int i = 0; i < axis; i++) {
        o *= (size_t)x->shape[i];
    }
    for (int i = axis + 1; i < x->rank; i++) {
        in *= (size_t)x->shape[i];
    }
    *outer = o;
    *len = (size_t)x->shape[axis];
    *inner = in;
}

void nbi_put_nested(FILE *f, const nb_node *n, void (*put)(FILE *f, const nb_node *n, size_t i))
{
    size_t count = nbi_node_count(n);
    for (size_t i = 0; i < count; i++) {
        /* open a bracket for each axis whose index just wrapped to 0, close likewise */
        size_t stride = 1;
        int opens = 0, closes = 0;
        for (int a = n->rank - 1; a >= 0; a--) {
            stride *= (size_t)n->shape[a];
            opens += i % stride == 0;
            closes += (i + 1) % stride == 0;
        }
        if (i > 0) {
            fputs(", ", f);
        }
        for (int k = 0; k < opens; k++) {
            fputc('[', f);
        }
        put(f, n, i);
        for (int k = 0; k < closes; k++) {
            fputc(']', f);
        }
    }
}

void nbi_format_real(double x, bool f32, char *buf, size_t cap)
{
    /* 17 significant digits (9 for f32) always suffice */
    for (int digits = f32 ? 6 : 15;; digits++) {
        snprintf(buf, cap, "%.*g", digits, x);
        double back = strtod(buf, NULL);
        if ((f32 ? (float)back == (float)x : back == x) || digits >= (f32 ? 9 : 17)) {
            break;
        }
    }
}
