/*
 * tools/nabla/json.c: how values are printed. JSON (the scripts' contract):
 * nested lists in row-major order, numbers that round-trip, null for NaN and
 * infinities. Human: six significant digits, matrices on several lines with
 * aligned columns, large tensors summarized.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            if (*p < 0x20) {
                fprintf(f, "\\u%04x", *p);
            } else {
                fputc(*p, f); /* UTF-8 passes through */
            }
        }
    }
    fputc('"', f);
}

void json_number(FILE *f, double v, nb_dtype dtype)
{
    if (!isfinite(v)) {
        fputs("null", f);
    } else if (dtype == NB_DTYPE_I32) {
        fprintf(f, "%.0f", v);
    } else {
        fprintf(f, dtype == NB_DTYPE_F32 ? "%.9g" : "%.17g", v);
    }
}

/* Brackets opening before element i (closing after element i - 1) of a shape. */
static int brackets_at(size_t i, int rank, const int64_t *shape)
{
    int k = 0;
    size_t block = 1;
    for (int d = rank - 1; d >= 0; d--) {
        block *= (size_t)shape[d];
        if (i % block != 0) {
            break;
        }
        k++;
    }
    return k;
}

static size_t count_of(int rank, const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        n *= (size_t)shape[i];
    }
    return n;
}

void json_values(FILE *f, const double *v, int rank, const int64_t *shape, nb_dtype dtype)
{
    size_t n = count_of(rank, shape);
    if (rank == 0) {
        json_number(f, v[0], dtype);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            fputs(", ", f);
        }
        for (int k = brackets_at(i, rank, shape); k > 0; k--) {
            fputc('[', f);
        }
        json_number(f, v[i], dtype);
        for (int k = brackets_at(i + 1, rank, shape); k > 0; k--) {
            fputc(']', f);
        }
    }
}

void json_node(FILE *f, nb_graph *g, const nb_node *n)
{
    double *v = node_values(g, n);
    if (!v) {
        fputs("null", f);
        return;
    }
    json_values(f, v, nb_node_rank(n), nb_node_shape(n), nb_node_dtype(n));
    free(v);
}

static void format_number(char *buf, size_t cap, double v, int digits)
{
    if (v == 0) {
        v = 0; /* no "-0" */
    }
    snprintf(buf, cap, "%.*g", digits, v);
}

void human_number(char *buf, size_t cap, double v)
{
    format_number(buf, cap, v, 6);
}

void human_values(FILE *f, const double *v, int rank, const int64_t *shape, int indent,
                  size_t limit)
{
    size_t n = count_of(rank, shape);
    char num[64];
    if (rank == 0) {
        human_number(num, sizeof num, v[0]);
        fprintf(f, "%s\n", num);
        return;
    }
    if (n > limit) {
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        for (size_t i = 0; i < n; i++) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
            sum += v[i];
        }
        fputc('[', f);
        for (int i = 0; i < rank; i++) {
            fprintf(f, "%s%lld", i ? ", " : "", (long long)shape[i]);
        }
        human_number(num, sizeof num, lo);
        fprintf(f, "] values, min %s", num);
        human_number(num, sizeof num, hi);
        fprintf(f, ", max %s", num);
        human_number(num, sizeof num, sum / (double)n);
        fprintf(f, ", mean %s (--json prints them all)\n", num);
        return;
    }
    /* columns aligned to the widest number, as NumPy does, for rank >= 2 */
    int width = 0;
    for (size_t i = 0; rank >= 2 && i < n; i++) {
        human_number(num, sizeof num, v[i]);
        int w = (int)strlen(num);
        width = w > width ? w : width;
    }
    for (size_t i = 0; i < n; i++) {
        int opens = brackets_at(i, rank, shape);
        if (i > 0) {
            int closed = opens; /* as many as closed after the previous element */
            if (rank >= 2 && closed > 0) {
                fputc(',', f);
                for (int k = 0; k < closed; k++) {
                    fputc('\n', f);
                }
                fprintf(f, "%*s", indent + rank - opens, "");
            } else {
                fputs(", ", f);
            }
        }
        for (int k = 0; k < opens; k++) {
            fputc('[', f);
        }
        human_number(num, sizeof num, v[i]);
        fprintf(f, "%*s", width, num);
        for (int k = brackets_at(i + 1, rank, shape); k > 0; k--) {
            fputc(']', f);
        }
    }
    fputc('\n', f);
}

void inline_values(char *buf, size_t cap, const double *v, int rank, const int64_t *shape,
                   size_t max)
{
    size_t n = count_of(rank, shape), at = 0;
    char num[64];
    buf[0] = '\0';
    if (rank == 0) {
        format_number(buf, cap, v[0], 4);
        return;
    }
    bool all = n <= max;
    size_t shown = all ? n : max;
    int open = 0; /* brackets open: a cut keeps the nesting, so "[[1, 2], [3, ...]]" */
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (at < cap) {                                                                            \
            int w_ = snprintf(buf + at, cap - at, __VA_ARGS__);                                    \
            at += w_ > 0 ? (size_t)w_ : 0;                                                         \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < shown; i++) {
        if (i > 0) {
            PUT(", ");
        }
        for (int k = brackets_at(i, rank, shape); k > 0; k--, open++) {
            PUT("[");
        }
        format_number(num, sizeof num, v[i], 4);
        PUT("%s", num);
        for (int k = i + 1 < n ? brackets_at(i + 1, rank, shape) : rank; k > 0 && open > 0;
             k--, open--) {
            PUT("]");
        }
    }
    if (!all) {
        PUT(", ...");
        for (; open > 0; open--) {
            PUT("]");
        }
        PUT(" (%zu values)", n);
    }
#undef PUT
}
