/*
 * io/onnx_common.h: what the ONNX writer (onnx_write.c) and reader
 * (onnx_read.c) share: a bump arena for the protobuf-c messages they build,
 * and the dtype codes of onnx.proto's TensorProto.DataType.
 */
#ifndef NABLA_ONNX_COMMON_H
#define NABLA_ONNX_COMMON_H

#include "../graph/internal.h"
#include "onnx.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* TensorProto.DataType values nabla uses. */
enum {
    NBI_ONNX_FLOAT = 1,
    NBI_ONNX_INT32 = 6,
    NBI_ONNX_INT64 = 7,
    NBI_ONNX_BOOL = 9,
    NBI_ONNX_DOUBLE = 11,
};

/* The default opset: the newest that Debian's ONNX 1.12 checker accepts. */
#define NBI_ONNX_OPSET 17

/* A list of malloc'd blocks freed together: messages live as long as one export or import. */
typedef struct nbi_oarena {
    void **blocks;
    size_t n, cap;
    bool oom;
} nbi_oarena;

/* Zeroed memory of size bytes, or NULL (and a->oom) when out of memory. */
static inline void *nbi_oalloc(nbi_oarena *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **b = realloc(a->blocks, cap * sizeof *b);
        if (!b) {
            a->oom = true;
            return NULL;
        }
        a->blocks = b;
        a->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        a->oom = true;
        return NULL;
    }
    a->blocks[a->n++] = p;
    return p;
}

static inline char *nbi_ostrdup(nbi_oarena *a, const char *s)
{
    size_t len = strlen(s);
    char *p = nbi_oalloc(a, len + 1);
    if (p) {
        memcpy(p, s, len + 1);
    }
    return p;
}

static inline void nbi_oarena_free(nbi_oarena *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->blocks[i]);
    }
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

/* memcpy that takes NULL pointers for empty copies (rank-0 shapes, empty lists). */
static inline void nbi_ocopy(void *dst, const void *src, size_t n)
{
    if (n) {
        memcpy(dst, src, n);
    }
}

static inline bool nbi_onnx_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

#endif /* NABLA_ONNX_COMMON_H */
