/*
 * io/dataset.c: datasets for training: MNIST's IDX files and numeric CSV with
 * a header, feature scaling, seeded mini-batches, and copying a batch into a
 * graph's inputs. Readers check everything and name the file and line of the
 * first problem; on error the dataset is left empty.
 */
#include "io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

NBI_PRINTF(4, 5)
static nb_status fail(char *err, size_t cap, nb_status code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

void nb_dataset_free(nb_dataset *ds)
{
    if (!ds) {
        return;
    }
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

/* Reads a whole file. Returns NULL with a message on failure; *len gets its size. */
static unsigned char *slurp(const char *path, size_t *len, char *err, size_t cap, nb_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = fail(err, cap, NB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t size = 0, alloc = 1 << 16;
    unsigned char *buf = malloc(alloc);
    while (buf) {
        size_t got = fread(buf + size, 1, alloc - size, f);
        size += got;
        if (got == 0) {
            break;
        }
        if (size == alloc) {
            unsigned char *grown = alloc <= SIZE_MAX / 2 ? realloc(buf, alloc * 2) : NULL;
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            alloc *= 2;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf) {
        *st = fail(err, cap, NB_ERR_NOMEM, "%s: out of memory while reading", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        *st = fail(err, cap, NB_ERR_IO, "%s: read error", path);
        return NULL;
    }
    *len = size;
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks an IDX header: magic, then dims counts; returns the element count. */
static nb_status idx_header(const char *path, const unsigned char *buf, size_t len, uint32_t magic,
                            int dims, uint32_t *shape, size_t *count, char *err, size_t cap)
{
    size_t head = 4 + 4 * (size_t)dims;
    if (len < head) {
        return fail(err, cap, NB_ERR_FORMAT,
                    "%s: truncated: %zu bytes, shorter than the %zu-byte header", path, len, head);
    }
    uint32_t m = be32(buf);
    if (m != magic) {
        return fail(err, cap, NB_ERR_FORMAT,
                    "%s: wrong magic number 0x%08x (expected 0x%08x for IDX %s)", path, (unsigned)m,
                    (unsigned)magic, dims == 3 ? "images" : "labels");
    }
    size_t c = 1;
    for (int i = 0; i < dims; i++) {
        shape[i] = be32(buf + 4 + 4 * i);
        if (shape[i] == 0 || nbi_mul_overflows(c, shape[i], &c)) {
            return fail(err, cap, NB_ERR_FORMAT, "%s: dimension %d is %u", path, i + 1,
                        (unsigned)shape[i]);
        }
    }
    if (len - head < c) {
        return fail(err, cap, NB_ERR_FORMAT, "%s: truncated: %zu bytes of data, expected %zu", path,
                    len - head, c);
    }
    if (len - head > c) {
        return fail(err, cap, NB_ERR_FORMAT, "%s: %zu bytes of data, expected %zu (trailing bytes)",
                    path, len - head, c);
    }
    *count = c;
    return NB_OK;
}

/* Checks both headers and fills ds; ds is empty on entry and left empty on error. */
static nb_status parse_idx(nb_dataset *ds, const unsigned char *ib, size_t ilen,
                           const unsigned char *lb, size_t llen, const char *images_path,
                           const char *labels_path, char *err, size_t err_size)
{
    size_t icount = 0, lcount = 0;
    uint32_t is[3] = { 0 }, ls[1] = { 0 };
    nb_status st = idx_header(images_path, ib, ilen, 0x00000803, 3, is, &icount, err, err_size);
    if (st == NB_OK) {
        st = idx_header(labels_path, lb, llen, 0x00000801, 1, ls, &lcount, err, err_size);
    }
    if (st == NB_OK && is[0] != ls[0]) {
        st = fail(err, err_size, NB_ERR_FORMAT, "%s has %u images but %s has %u labels",
                  images_path, (unsigned)is[0], labels_path, (unsigned)ls[0]);
    }
    if (st != NB_OK) {
        return st;
    }
    ds->rows = is[0];
    ds->cols = (size_t)is[1] * is[2];
    ds->x = malloc(icount * sizeof *ds->x);
    ds->y = malloc(ds->rows * sizeof *ds->y);
    if (!ds->x || !ds->y) {
        nb_dataset_free(ds);
        return fail(err, err_size, NB_ERR_NOMEM, "%s: out of memory", images_path);
    }
    for (size_t i = 0; i < icount; i++) {
        ds->x[i] = ib[16 + i];
    }
    int32_t top = 0;
    for (size_t i = 0; i < ds->rows; i++) {
        ds->y[i] = lb[8 + i];
        top = lb[8 + i] > top ? lb[8 + i] : top;
    }
    ds->classes = top + 1;
    return NB_OK;
}

nb_status nbi_dataset_parse_idx(nb_dataset *ds, const unsigned char *images, size_t ilen,
                                const unsigned char *labels, size_t llen, const char *images_name,
                                const char *labels_name, char *err, size_t cap)
{
    if (!ds || !images_name || !labels_name || (!images && ilen) || (!labels && llen)) {
        return fail(err, cap, NB_ERR_ARG, "read_idx: NULL argument");
    }
    memset(ds, 0, sizeof *ds);
    return parse_idx(ds, images, ilen, labels, llen, images_name, labels_name, err, cap);
}

nb_status nb_dataset_read_idx(nb_dataset *ds, const char *images_path, const char *labels_path,
                              char *err, size_t err_size)
{
    if (!ds || !images_path || !labels_path) {
        return fail(err, err_size, NB_ERR_ARG, "read_idx: NULL argument");
    }
    memset(ds, 0, sizeof *ds);
    nb_status st = NB_OK;
    size_t ilen = 0, llen = 0;
    unsigned char *ib = slurp(images_path, &ilen, err, err_size, &st);
    unsigned char *lb = ib ? slurp(labels_path, &llen, err, err_size, &st) : NULL;
    if (lb) {
        st = parse_idx(ds, ib, ilen, lb, llen, images_path, labels_path, err, err_size);
    }
    free(ib);
    free(lb);
    return st;
}

/* ---- CSV ---- */

/* Splits line [p, end) at commas into fields; returns the count (NUL-terminates). */
static size_t split_fields(char *p, char *end, char **fields, size_t max)
{
    size_t n = 0;
    for (;;) {
        char *c = p;
        while (c < end && *c != ',') {
            c++;
        }
        if (n < max) {
            fields[n] = p;
        }
        n++;
        if (c >= end) {
            *c = '\0';
            break;
        }
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) {
        s[--len] = '\0';
    }
    return s;
}

/*
 * Parses the CSV text in buf (len bytes, then a NUL at buf[len]) into ds, which
 * is empty on entry and left empty on error. Takes buf and frees it: fields
 * are split in place.
 */
static nb_status parse_csv(nb_dataset *ds, char *buf, size_t len, const char *path,
                           const char *label_column, char *err, size_t err_size)
{
    nb_status st = NB_OK;
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *c = buf; c < nul; c++) {
            line += *c == '\n';
        }
        free(buf);
        return fail(err, err_size, NB_ERR_FORMAT, "%s:%zu: contains a NUL byte; not a text file",
                    path, line);
    }

    /* count lines to size the arrays */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += buf[i] == '\n';
    }
    lines += len > 0 && buf[len - 1] != '\n';
    char **fields = NULL;
    size_t ncols = 0, label = SIZE_MAX, row = 0, line_no = 0;
    char *p = buf, *end = buf + len;
    while (p < end && st == NB_OK) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        line_no++;
        char *line = p;
        p = nl ? nl + 1 : end;
        if (stop > line && stop[-1] == '\r') {
            stop--;
        }
        bool blank = true;
        for (char *c = line; c < stop && blank; c++) {
            blank = *c == ' ' || *c == '\t';
        }
        if (blank) {
            continue;
        }
        if (!fields) { /* the header */
            ncols = 1;
            for (char *c = line; c < stop; c++) {
                ncols += *c == ',';
            }
            fields = malloc(ncols * sizeof *fields);
            if (!fields) {
                st = fail(err, err_size, NB_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            split_fields(line, stop, fields, ncols);
            for (size_t i = 0; i < ncols; i++) {
                if (strcmp(trim(fields[i]), label_column) == 0) {
                    label = i;
                }
            }
            if (label == SIZE_MAX) {
                st =
                    fail(err, err_size, NB_ERR_FORMAT, "%s:%zu: no column named '%s' in the header",
                         path, line_no, label_column);
                break;
            }
            if (ncols < 2) {
                st = fail(err, err_size, NB_ERR_FORMAT,
                          "%s:%zu: the header names no feature column", path, line_no);
                break;
            }
            ds->cols = ncols - 1;
            size_t cells; /* lines * cols floats: overflows only past 4 GiB of text */
            bool fits =
                !nbi_mul_overflows(lines, ds->cols, &cells) && cells <= SIZE_MAX / sizeof *ds->x;
            ds->x = fits ? malloc(cells * sizeof *ds->x) : NULL;
            ds->y = malloc(lines * sizeof *ds->y);
            if (!ds->x || !ds->y) {
                st = fail(err, err_size, NB_ERR_NOMEM, "%s: out of memory", path);
            }
            continue;
        }
        size_t got = split_fields(line, stop, fields, ncols);
        if (got != ncols) {
            st = fail(err, err_size, NB_ERR_FORMAT, "%s:%zu: %zu fields, but the header has %zu",
                      path, line_no, got, ncols);
            break;
        }
        size_t k = 0;
        for (size_t i = 0; i < ncols; i++) {
            char *f = trim(fields[i]), *rest;
            errno = 0;
            double v = strtod(f, &rest);
            if (*f == '\0' || *rest != '\0' || !isfinite(v)) {
                st =
                    fail(err, err_size, NB_ERR_FORMAT, "%s:%zu: field %zu ('%.40s') is not a %s",
                         path, line_no, i + 1, f, *f && *rest == '\0' ? "finite number" : "number");
                break;
            }
            if (i != label && !isfinite((float)v)) {
                /* features are stored as float: 1e39 would become inf */
                st = fail(err, err_size, NB_ERR_FORMAT,
                          "%s:%zu: field %zu ('%.40s') is too large for a float32 feature", path,
                          line_no, i + 1, f);
                break;
            }
            if (i == label) {
                ds->y[row] = v;
            } else {
                ds->x[row * ds->cols + k++] = (float)v;
            }
        }
        row++;
    }
    if (st == NB_OK && !fields) {
        st = fail(err, err_size, NB_ERR_FORMAT, "%s: empty file: no header line", path);
    } else if (st == NB_OK && row == 0) {
        st = fail(err, err_size, NB_ERR_FORMAT, "%s: no data rows after the header", path);
    }
    free(fields);
    free(buf);
    if (st != NB_OK) {
        nb_dataset_free(ds);
        return st;
    }
    ds->rows = row;
    double top = -1;
    bool whole = true;
    for (size_t i = 0; i < row; i++) {
        whole &= ds->y[i] >= 0 && ds->y[i] == floor(ds->y[i]) && ds->y[i] < INT32_MAX;
        top = ds->y[i] > top ? ds->y[i] : top;
    }
    ds->classes = whole ? (int32_t)top + 1 : 0;
    return NB_OK;
}

nb_status nbi_dataset_parse_csv(nb_dataset *ds, const char *buf, size_t len, const char *name,
                                const char *label_column, char *err, size_t cap)
{
    if (!ds || !name || !label_column || (!buf && len)) {
        return fail(err, cap, NB_ERR_ARG, "read_csv: NULL argument");
    }
    memset(ds, 0, sizeof *ds);
    char *copy = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (!copy) {
        return fail(err, cap, NB_ERR_NOMEM, "%s: out of memory", name);
    }
    if (len) {
        memcpy(copy, buf, len);
    }
    copy[len] = '\0';
    return parse_csv(ds, copy, len, name, label_column, err, cap);
}

nb_status nb_dataset_read_csv(nb_dataset *ds, const char *path, const char *label_column, char *err,
                              size_t err_size)
{
    if (!ds || !path || !label_column) {
        return fail(err, err_size, NB_ERR_ARG, "read_csv: NULL argument");
    }
    memset(ds, 0, sizeof *ds);
    nb_status st = NB_OK;
    size_t len = 0;
    char *buf = (char *)slurp(path, &len, err, err_size, &st);
    if (!buf) {
        return st;
    }
    char *grown = realloc(buf, len + 1);
    if (!grown) {
        free(buf);
        return fail(err, err_size, NB_ERR_NOMEM, "%s: out of memory", path);
    }
    buf = grown;
    buf[len] = '\0';
    return parse_csv(ds, buf, len, path, label_column, err, err_size);
}

/* ---- scaling ---- */

void nb_dataset_scale(nb_dataset *ds, double factor)
{
    if (!ds || !ds->x) {
        return;
    }
    size_t n = ds->rows * ds->cols;
    for (size_t i = 0; i < n; i++) {
        ds->x[i] = (float)(ds->x[i] * factor);
    }
}

void nb_dataset_moments(const nb_dataset *ds, double *mean, double *std)
{
    for (size_t c = 0; ds && mean && std && c < ds->cols; c++) {
        double m = 0, var = 0;
        for (size_t r = 0; ds->x && r < ds->rows; r++) {
            m += ds->x[r * ds->cols + c];
        }
        m = ds->rows ? m / (double)ds->rows : 0;
        for (size_t r = 0; ds->x && r < ds->rows; r++) {
            double d = ds->x[r * ds->cols + c] - m;
            var += d * d;
        }
        mean[c] = m;
        std[c] = ds->rows ? sqrt(var / (double)ds->rows) : 1;
    }
}

void nb_dataset_normalize(nb_dataset *ds, const double *mean, const double *std)
{
    if (!ds || !ds->x || !mean || !std) {
        return;
    }
    for (size_t c = 0; c < ds->cols; c++) {
        double inv = std[c] > 0 ? 1 / std[c] : 1;
        for (size_t r = 0; r < ds->rows; r++) {
            float *v = &ds->x[r * ds->cols + c];
            *v = (float)((*v - mean[c]) * inv);
        }
    }
}

void nb_dataset_standardize(nb_dataset *train, nb_dataset *other)
{
    if (!train || !train->x || train->rows == 0) {
        return;
    }
    double *mean = malloc(train->cols * 2 * sizeof *mean);
    if (!mean) {
        return; /* void API: leaves the data as it was */
    }
    double *std = mean + train->cols;
    nb_dataset_moments(train, mean, std);
    nb_dataset_normalize(train, mean, std);
    if (other && other->cols == train->cols) {
        nb_dataset_normalize(other, mean, std);
    }
    free(mean);
}

/* ---- batches ---- */

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

nb_status nb_batches_init(nb_batches *b, size_t n, size_t batch, uint64_t seed)
{
    if (!b) {
        return NB_ERR_ARG;
    }
    memset(b, 0, sizeof *b);
    if (n == 0 || batch == 0) {
        return NB_ERR_ARG;
    }
    /* n * sizeof could wrap to a small block that the loop below overruns */
    b->order = n <= SIZE_MAX / sizeof *b->order ? malloc(n * sizeof *b->order) : NULL;
    if (!b->order) {
        return NB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        b->order[i] = i;
    }
    b->n = n;
    b->batch = batch;
    b->rng = seed;
    return NB_OK;
}

void nb_batches_shuffle(nb_batches *b)
{
    if (!b || !b->order) {
        return;
    }
    /* from the identity, so an order depends only on the generator's state */
    for (size_t i = 0; i < b->n; i++) {
        b->order[i] = i;
    }
    for (size_t i = b->n; i > 1; i--) {
        /* unbiased: reject the short top range of the 64-bit draw */
        uint64_t limit = UINT64_MAX - UINT64_MAX % i, r;
        do {
            r = next_random(&b->rng);
        } while (r >= limit);
        size_t j = (size_t)(r % i), t = b->order[i - 1];
        b->order[i - 1] = b->order[j];
        b->order[j] = t;
    }
}

size_t nb_batches_count(const nb_batches *b)
{
    return b && b->batch ? (b->n + b->batch - 1) / b->batch : 0;
}

size_t nb_batches_global_size(const nb_batches *b, size_t k)
{
    if (!b || k >= nb_batches_count(b)) {
        return 0;
    }
    size_t start = k * b->batch;
    return b->n - start < b->batch ? b->n - start : b->batch;
}

/* First example of shard s of a batch of m examples: parts differ in size by at most one. */
static size_t shard_start(size_t m, int s, int shards)
{
    return m * (size_t)s / (size_t)shards;
}

size_t nb_batches_size(const nb_batches *b, size_t k)
{
    size_t m = nb_batches_global_size(b, k);
    if (m == 0 || b->shards <= 1) {
        return m;
    }
    return shard_start(m, b->shard + 1, b->shards) - shard_start(m, b->shard, b->shards);
}

nb_status nb_batches_shard(nb_batches *b, int shard, int shards)
{
    if (!b || shards < 1 || shard < 0 || shard >= shards) {
        return NB_ERR_ARG;
    }
    b->shard = shard;
    b->shards = shards;
    return NB_OK;
}

void nb_batches_free(nb_batches *b)
{
    if (b) {
        free(b->order);
        memset(b, 0, sizeof *b);
    }
}

nb_status nb_dataset_load_batch(nb_graph *g, const nb_dataset *ds, const nb_batches *b, size_t k,
                                nb_node *x, nb_node *y)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    g->run_err[0] = '\0'; /* a data call: the message describes this call only */
    if (!ds || !b || !x) {
        return nbi_report(g, NB_ERR_ARG, "load_batch", 0, NULL, "NULL argument");
    }
    size_t m = nb_batches_size(b, k);
    nb_node *in[2] = { x, y };
    if (x->g != g || (y && y->g != g)) {
        return nbi_report(g, NB_ERR_GRAPH, "load_batch", y ? 2 : 1, in,
                          "%s belongs to another graph", x->g != g ? "x" : "y");
    }
    if (b->n != ds->rows) {
        return nbi_report(g, NB_ERR_ARG, "load_batch", 0, NULL,
                          "the batches cover %zu examples but the dataset has %zu", b->n, ds->rows);
    }
    if (nb_batches_global_size(b, k) == 0) {
        return nbi_report(g, NB_ERR_ARG, "load_batch", 0, NULL,
                          "batch %zu does not exist for %zu examples in batches of %zu", k, b->n,
                          b->batch);
    }
    if (m == 0) {
        return nbi_report(g, NB_ERR_ARG, "load_batch", 0, NULL,
                          "shard %d of batch %zu is empty (%zu examples in %d shards)", b->shard, k,
                          nb_batches_global_size(b, k), b->shards);
    }
    if (!nbi_is_leaf(x) || x->rank != 2 || (size_t)x->shape[0] != m ||
        (size_t)x->shape[1] != ds->cols || x->dtype == NB_DTYPE_I32) {
        return nbi_report(g, NB_ERR_ARG, "load_batch", y ? 2 : 1, in,
                          "x must be a float input of shape [%zu,%zu] for batch %zu", m, ds->cols,
                          k);
    }
    if (y && (!nbi_is_leaf(y) || y->rank != 1 || (size_t)y->shape[0] != m)) {
        return nbi_report(g, NB_ERR_ARG, "load_batch", 2, in,
                          "y must be an input of shape [%zu] for batch %zu", m, k);
    }
    const size_t *rows = b->order + k * b->batch;
    if (b->shards > 1) {
        rows += shard_start(nb_batches_global_size(b, k), b->shard, b->shards);
    }
    if (y && y->dtype == NB_DTYPE_I32) {
        for (size_t i = 0; i < m; i++) {
            double v = ds->y[rows[i]];
            if (v != floor(v) || v < INT32_MIN || v > INT32_MAX) {
                return nbi_report(g, NB_ERR_VALUE, "load_batch", 2, in,
                                  "label %g of example %zu is not a whole number", v, rows[i]);
            }
        }
    }
    x->flags |= NBI_F_WRITTEN;
    for (size_t i = 0; i < m; i++) {
        const float *src = ds->x + rows[i] * ds->cols;
        if (x->dtype == NB_DTYPE_F32) {
            memcpy((float *)x->data + i * ds->cols, src, ds->cols * sizeof *src);
        } else {
            double *dst = (double *)x->data + i * ds->cols;
            for (size_t c = 0; c < ds->cols; c++) {
                dst[c] = src[c];
            }
        }
        if (!y) {
            continue;
        }
        double v = ds->y[rows[i]];
        y->flags |= NBI_F_WRITTEN;
        switch (y->dtype) {
        case NB_DTYPE_I32:
            ((int32_t *)y->data)[i] = (int32_t)v;
            break;
        case NB_DTYPE_F32:
            ((float *)y->data)[i] = (float)v;
            break;
        default:
            ((double *)y->data)[i] = v;
            break;
        }
    }
    return NB_OK;
}
