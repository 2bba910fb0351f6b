/*
 * io/checkpoint.c: saving and loading parameters and optimizer state. Saving
 * writes a temporary file beside the target, syncs it, and renames it over the
 * target, so a crash never leaves a half-written checkpoint in place of a good
 * one. Loading reads and verifies the whole file (magic, version, checksum,
 * every name, dtype and shape) before it changes anything.
 *
 * Format (little-endian; docs/training.md):
 *   "NABLACKP"  u32 version (1 or 2)  u32 flags (1: optimizer state)  u32 tensors
 *   [flags & 1: u32 optimizer kind, u32 slots, i64 steps]
 *   per tensor: u32 name length (at most 4096), name, u32 dtype, u32 rank,
 *               i64 dims[rank], [version 2: u32 has_state, 0 or 1], values,
 *               [has_state: slots x values of optimizer state]
 *   u32 CRC-32 (zlib's) of every byte before it
 * In version 1 every tensor has optimizer state exactly when flags & 1. A file
 * with optimizer state and tensors the optimizer does not update (state nodes:
 * running statistics) needs version 2; every other file is written as version
 * 1, byte for byte as before, so older readers still read it.
 */
#define _POSIX_C_SOURCE 200809L

#include "../optim/optim.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC      "NABLACKP"
#define VERSION    1u
#define VERSION_2  2u /* with a has_state word per tensor */
#define FLAG_OPTIM 1u
#define MAX_NAME   4096u

/* ---- CRC-32 (IEEE 802.3 polynomial, reflected, as zlib) ---- */

static uint32_t crc_update(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* ---- writing ---- */

typedef struct writer {
    FILE *f;
    uint32_t crc;
    bool ok;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->ok && n > 0) {
        w->ok = fwrite(p, 1, n, w->f) == n;
        w->crc = crc_update(w->crc, p, n);
    }
}

/* Integers are stored little-endian whatever the host. */
static void put_u32(writer *w, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    put(w, b, 4);
}

static void put_i64(writer *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    put_u32(w, (uint32_t)u);
    put_u32(w, (uint32_t)(u >> 32));
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* Values in little-endian byte order (a copy per element on big-endian hosts). */
static void put_values(writer *w, const void *data, size_t count, size_t es)
{
    if (host_is_little_endian()) {
        put(w, data, count * es);
        return;
    }
    const unsigned char *p = data;
    for (size_t i = 0; i < count; i++) {
        unsigned char b[8];
        for (size_t k = 0; k < es; k++) {
            b[k] = p[i * es + es - 1 - k];
        }
        put(w, b, es);
    }
}

static int opt_index(const nb_optim *opt, const nb_node *p)
{
    for (size_t i = 0; i < opt->n; i++) {
        if (opt->params[i] == p) {
            return (int)i;
        }
    }
    return -1;
}

static nb_status check_params(nb_graph *g, const char *op, size_t n, nb_node *const *params,
                              const nb_optim *opt)
{
    if (n == 0 || !params) {
        return nbi_report(g, NB_ERR_ARG, op, 0, NULL, "no parameters given");
    }
    size_t n_state = 0;
    for (size_t i = 0; i < n; i++) {
        nb_node *p = params[i];
        if (p && p->g != g) {
            return nbi_report(g, NB_ERR_GRAPH, op, 0, NULL, "params[%zu] belongs to another graph",
                              i);
        }
        if (!p || !nbi_is_leaf(p)) {
            return nbi_report(g, NB_ERR_ARG, op, 0, NULL,
                              "params[%zu] must be a parameter (or input) of this graph", i);
        }
        /*
         * A generated name ("param_2") that cannot be stored falls back to the
         * op name: the file would hold, or be matched against, a wrong name.
         */
        if (!nbi_node_name_stored(p)) {
            return nbi_report(g, NB_ERR_NOMEM, op, 0, NULL, "out of memory");
        }
        size_t name_len = strlen(nb_node_name(p));
        if (name_len > MAX_NAME) {
            /* the loader refuses longer names, so never write a file it cannot read */
            return nbi_report(g, NB_ERR_ARG, op, 0, NULL,
                              "params[%zu] has a name of %zu bytes; a checkpoint holds names up "
                              "to %u",
                              i, name_len, MAX_NAME);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(nb_node_name(params[j]), nb_node_name(p)) == 0) {
                return nbi_report(g, NB_ERR_ARG, op, 0, NULL,
                                  "two parameters are named '%s'; names must be unique",
                                  nb_node_name(p));
            }
        }
        /* state (running statistics) rides along with the optimizer's parameters */
        n_state += p->op == NBI_OP_STATE;
        if (opt && p->op != NBI_OP_STATE && opt_index(opt, p) < 0) {
            return nbi_report(g, NB_ERR_ARG, op, 0, NULL,
                              "parameter '%s' is not one the optimizer updates", nb_node_name(p));
        }
    }
    if (opt && (opt->g != g || opt->n != n - n_state)) {
        return nbi_report(g, NB_ERR_ARG, op, 0, NULL,
                          "with an optimizer, pass exactly its %zu parameters", opt ? opt->n : 0);
    }
    return NB_OK;
}

/* Syncs the directory holding path, so the rename itself is durable. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse to sync directories */
        close(fd);
    }
}

nb_status nb_checkpoint_save(nb_graph *g, const char *path, size_t n, nb_node *const *params,
                             const nb_optim *opt)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    g->run_err[0] = '\0'; /* as every data call: the message describes this call only */
    if (!path) {
        return nbi_report(g, NB_ERR_ARG, "checkpoint_save", 0, NULL, "the path is NULL");
    }
    nb_status st = check_params(g, "checkpoint_save", n, params, opt);
    if (st != NB_OK) {
        return st;
    }
    size_t plen = strlen(path);
    char *tmp = nbi_mem_alloc(g, plen + 16);
    if (!tmp) {
        return nbi_report(g, NB_ERR_NOMEM, "checkpoint_save", 0, NULL, "out of memory");
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = nbi_report(g, NB_ERR_IO, "checkpoint_save", 0, NULL,
                        "%s: cannot create a file beside it: %s", path, strerror(errno));
        nbi_mem_free(g, tmp, plen + 16);
        return st;
    }
    /* mkstemp makes the file 0600: keep the old file's mode, or the usual 0644 */
    struct stat old;
    fchmod(fd, stat(path, &old) == 0 ? (old.st_mode & 07777) : 0644);
    writer w = { .f = fdopen(fd, "wb"), .crc = 0, .ok = true };
    if (!w.f) {
        close(fd);
        w.ok = false;
    } else {
        bool mixed = false; /* optimizer state for some tensors only: version 2 */
        for (size_t i = 0; i < n && opt; i++) {
            mixed |= opt_index(opt, params[i]) < 0;
        }
        put(&w, MAGIC, 8);
        put_u32(&w, mixed ? VERSION_2 : VERSION);
        put_u32(&w, opt ? FLAG_OPTIM : 0);
        put_u32(&w, (uint32_t)n);
        if (opt) {
            put_u32(&w, (uint32_t)opt->o.kind);
            put_u32(&w, (uint32_t)opt->n_slots);
            put_i64(&w, opt->t);
        }
        for (size_t i = 0; i < n && w.ok; i++) {
            nb_node *p = params[i];
            const char *name = nb_node_name(p);
            size_t count = nbi_node_count(p), es = nbi_dtype_size(p->dtype);
            put_u32(&w, (uint32_t)strlen(name));
            put(&w, name, strlen(name));
            put_u32(&w, p->dtype);
            put_u32(&w, p->rank);
            for (int d = 0; d < p->rank; d++) {
                put_i64(&w, p->shape[d]);
            }
            int k = opt ? opt_index(opt, p) : -1;
            if (mixed) {
                put_u32(&w, k >= 0);
            }
            put_values(&w, p->data, count, es);
            if (k >= 0) {
                for (int s = 0; s < opt->n_slots; s++) {
                    put_values(&w, nbi_optim_slot(opt, (size_t)k, s), count, es);
                }
            }
        }
        uint32_t crc = w.crc;
        put_u32(&w, crc);
        w.ok = w.ok && fflush(w.f) == 0 && fsync(fd) == 0;
        w.ok = (fclose(w.f) == 0) && w.ok;
    }
    int saved = errno;
    if (w.ok && rename(tmp, path) != 0) {
        saved = errno;
        w.ok = false;
    }
    if (!w.ok) {
        unlink(tmp);
        st = nbi_report(g, NB_ERR_IO, "checkpoint_save", 0, NULL,
                        "%s: writing failed: %s; the previous file, if any, is untouched", path,
                        strerror(saved));
    } else {
        sync_dir(path);
    }
    nbi_mem_free(g, tmp, plen + 16);
    return st;
}

/* ---- reading ---- */

typedef struct reader {
    const unsigned char *p, *end;
    bool ok;
} reader;

static const unsigned char *take(reader *r, size_t n)
{
    if (!r->ok || (size_t)(r->end - r->p) < n) {
        r->ok = false;
        return NULL;
    }
    const unsigned char *at = r->p;
    r->p += n;
    return at;
}

static uint32_t get_u32(reader *r)
{
    const unsigned char *b = take(r, 4);
    return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
             : 0;
}

static int64_t get_i64(reader *r)
{
    uint64_t lo = get_u32(r), hi = get_u32(r);
    return (int64_t)(lo | hi << 32);
}

/* Copies count little-endian values of es bytes into dst. */
static void copy_values(void *dst, const unsigned char *src, size_t count, size_t es)
{
    if (host_is_little_endian()) {
        memcpy(dst, src, count * es);
        return;
    }
    unsigned char *d = dst;
    for (size_t i = 0; i < count; i++) {
        for (size_t k = 0; k < es; k++) {
            d[i * es + k] = src[i * es + es - 1 - k];
        }
    }
}

static bool same_ignoring_case(const char *a, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = b[i];
        x = x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x;
        y = y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y;
        if (x != y) {
            return false;
        }
    }
    return true;
}

/* Where a parameter's values (and state) sit in the file once it has been checked. */
typedef struct found {
    const unsigned char *values;
    const unsigned char *state; /* NULL: none in the file */
} found;

static unsigned char *read_file(nb_graph *g, const char *path, size_t *len, nb_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = nbi_report(g, NB_ERR_IO, "checkpoint_load", 0, NULL, "%s: cannot open: %s", path,
                         strerror(errno));
        return NULL;
    }
    struct stat sb;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0) {
        *st = nbi_report(g, NB_ERR_IO, "checkpoint_load", 0, NULL, "%s: cannot stat", path);
    } else if (!(buf = nbi_mem_alloc(g, (size_t)sb.st_size + 1))) {
        *st = nbi_report(g, NB_ERR_NOMEM, "checkpoint_load", 0, NULL, "%s: out of memory", path);
    } else if (fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
        *st = nbi_report(g, NB_ERR_IO, "checkpoint_load", 0, NULL, "%s: read error", path);
        nbi_mem_free(g, buf, (size_t)sb.st_size + 1);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)sb.st_size : 0;
    return buf;
}

/*
 * Checks the checkpoint in buf (len bytes; path names it in messages) against
 * params and opt, whose arguments are already checked, and only then loads it.
 */
static nb_status load(nb_graph *g, const unsigned char *buf, size_t len, const char *path, size_t n,
                      nb_node *const *params, nb_optim *opt)
{
    nb_status st = NB_OK;
    found *at = n <= SIZE_MAX / sizeof *at ? nbi_mem_alloc(g, n * sizeof *at) : NULL;
    if (!at) {
        return nbi_report(g, NB_ERR_NOMEM, "checkpoint_load", 0, NULL, "out of memory");
    }
    memset(at, 0, n * sizeof *at);
#define BAD(...) (st = nbi_report(g, NB_ERR_FORMAT, "checkpoint_load", 0, NULL, __VA_ARGS__))
    reader r = { .p = buf, .end = buf + len, .ok = true };
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0) {
        BAD("%s: not a nabla checkpoint (no \"" MAGIC "\" magic number)", path);
        goto done;
    }
    if (len < 8 + 4 * 4) {
        BAD("%s: truncated: %zu bytes, shorter than the smallest checkpoint (%u bytes)", path, len,
            8u + 4 * 4);
        goto done;
    }
    uint32_t stored = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                      (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    take(&r, 8);
    uint32_t version = get_u32(&r), flags = get_u32(&r), tensors = get_u32(&r);
    if (version != VERSION && version != VERSION_2) {
        BAD("%s: format version %u; this nabla reads versions %u and %u", path, (unsigned)version,
            VERSION, VERSION_2);
        goto done;
    }
    if (crc_update(0, buf, len - 4) != stored) {
        BAD("%s: checksum mismatch: the file is truncated or corrupted", path);
        goto done;
    }
    r.end = buf + len - 4; /* the checksum is not data */
    uint32_t slots = 0;
    if (flags & ~FLAG_OPTIM) {
        BAD("%s: unknown flags 0x%x", path, (unsigned)flags);
        goto done;
    }
    if (flags & FLAG_OPTIM) {
        uint32_t kind = get_u32(&r);
        slots = get_u32(&r);
        int64_t steps = get_i64(&r);
        if (opt && (kind != (uint32_t)opt->o.kind || slots != (uint32_t)opt->n_slots)) {
            BAD("%s: optimizer state is for %s with %u state tensors, not %s with %d", path,
                kind <= NB_OPTIM_ADAMW
                    ? (const char *[]){ "sgd", "adagrad", "rmsprop", "adam", "adamw" }[kind]
                    : "an unknown optimizer",
                (unsigned)slots, opt->rule->name, opt->n_slots);
            goto done;
        }
        if (steps < 0 || slots > NBI_MAX_SLOTS) {
            BAD("%s: bad optimizer header", path);
            goto done;
        }
    } else if (opt) {
        BAD("%s: holds no optimizer state (it was saved without an optimizer)", path);
        goto done;
    }
    if (tensors != n) {
        BAD("%s: holds %u tensor%s, but %zu parameter%s given", path, (unsigned)tensors,
            tensors == 1 ? "" : "s", n, n == 1 ? " was" : "s were");
        goto done;
    }
    for (uint32_t t = 0; t < tensors; t++) {
        uint32_t name_len = get_u32(&r);
        const unsigned char *name = name_len <= MAX_NAME ? take(&r, name_len) : NULL;
        uint32_t dtype = get_u32(&r), rank = get_u32(&r);
        if (!r.ok || !name || dtype > NB_DTYPE_I32 || rank > NB_MAX_RANK) {
            BAD("%s: tensor %u has a malformed header", path, (unsigned)t + 1);
            goto done;
        }
        int64_t dims[NB_MAX_RANK];
        for (uint32_t d = 0; d < rank; d++) {
            dims[d] = get_i64(&r);
        }
        uint32_t has_state = version == VERSION ? (flags & FLAG_OPTIM) : get_u32(&r);
        if (!r.ok || has_state > 1 || (has_state && !(flags & FLAG_OPTIM))) {
            BAD("%s: tensor %u has a malformed header", path, (unsigned)t + 1);
            goto done;
        }
        size_t i = 0;
        while (i < n && !(strlen(nb_node_name(params[i])) == name_len &&
                          memcmp(nb_node_name(params[i]), name, name_len) == 0)) {
            i++;
        }
        if (i == n) {
            /* a name that differs only in case is most likely a renamed parameter */
            size_t k = 0;
            while (k < n && !(strlen(nb_node_name(params[k])) == name_len &&
                              same_ignoring_case(nb_node_name(params[k]), name, name_len))) {
                k++;
            }
            if (k < n) {
                BAD("%s: tensor '%.*s' matches no parameter given; did you mean '%s'? (names "
                    "are case-sensitive)",
                    path, (int)name_len, name, nb_node_name(params[k]));
            } else {
                BAD("%s: tensor '%.*s' matches no parameter given", path, (int)name_len, name);
            }
            goto done;
        }
        nb_node *p = params[i];
        if (at[i].values) {
            BAD("%s: tensor '%.*s' appears twice", path, (int)name_len, name);
            goto done;
        }
        if (!r.ok || dtype != p->dtype || !nbi_shape_eq((int)rank, dims, p->rank, p->shape)) {
            char fs[96], ps[96];
            nbi_format_shape(r.ok ? (int)rank : 0, dims, fs, sizeof fs);
            nbi_format_shape(p->rank, p->shape, ps, sizeof ps);
            BAD("%s: tensor '%s' is %s%s in the file but %s%s in the graph", path, nb_node_name(p),
                nb_dtype_name((nb_dtype)dtype), fs, nb_dtype_name(p->dtype), ps);
            goto done;
        }
        if (opt && has_state != (opt_index(opt, p) >= 0)) {
            BAD(has_state ? "%s: tensor '%s' has optimizer state, but the optimizer does not "
                            "update it"
                          : "%s: tensor '%s' has no optimizer state",
                path, nb_node_name(p));
            goto done;
        }
        size_t bytes = nbi_node_bytes(p);
        at[i].values = take(&r, bytes);
        at[i].state = has_state && slots ? take(&r, bytes * slots) : NULL;
        if (!r.ok) {
            BAD("%s: truncated inside tensor '%s'", path, nb_node_name(p));
            goto done;
        }
    }
    if (r.p != r.end) {
        BAD("%s: %zu unexpected bytes after the last tensor", path, (size_t)(r.end - r.p));
        goto done;
    }
    /* everything checked: now change the parameters and the state */
    for (size_t i = 0; i < n; i++) {
        nb_node *p = params[i];
        size_t count = nbi_node_count(p), es = nbi_dtype_size(p->dtype);
        copy_values(p->data, at[i].values, count, es);
        p->flags |= NBI_F_WRITTEN;
        if (opt && at[i].state) {
            int k = opt_index(opt, p);
            for (uint32_t s = 0; s < slots; s++) {
                copy_values(nbi_optim_slot(opt, (size_t)k, (int)s), at[i].state + s * count * es,
                            count, es);
            }
        }
    }
    if (opt) {
        reader h = { .p = buf + 20, .end = buf + len, .ok = true };
        get_u32(&h);
        get_u32(&h);
        opt->t = get_i64(&h);
    }
#undef BAD
done:
    nbi_mem_free(g, at, n * sizeof *at);
    return st;
}

nb_status nbi_checkpoint_load_buffer(nb_graph *g, const unsigned char *buf, size_t len,
                                     const char *name, size_t n, nb_node *const *params,
                                     nb_optim *opt)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    g->run_err[0] = '\0'; /* as every data call: the message describes this call only */
    if (!name || (!buf && len)) {
        return nbi_report(g, NB_ERR_ARG, "checkpoint_load", 0, NULL,
                          "the buffer or its name is NULL");
    }
    nb_status st = check_params(g, "checkpoint_load", n, params, opt);
    if (st != NB_OK) {
        return st;
    }
    return load(g, buf ? buf : (const unsigned char *)"", len, name, n, params, opt);
}

nb_status nb_checkpoint_load(nb_graph *g, const char *path, size_t n, nb_node *const *params,
                             nb_optim *opt)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    g->run_err[0] = '\0'; /* as every data call: the message describes this call only */
    if (!path) {
        return nbi_report(g, NB_ERR_ARG, "checkpoint_load", 0, NULL, "the path is NULL");
    }
    nb_status st = check_params(g, "checkpoint_load", n, params, opt);
    if (st != NB_OK) {
        return st;
    }
    size_t len = 0;
    unsigned char *buf = read_file(g, path, &len, &st);
    if (!buf) {
        return st;
    }
    st = load(g, buf, len, path, n, params, opt);
    nbi_mem_free(g, buf, len + 1);
    return st;
}

/*
 * Walks the verified tensor headers of buf for `name`: the layout is the one
 * load() checks, so a file load() accepts is walked the same way.
 */
static nb_status find(nb_graph *g, const unsigned char *buf, size_t len, const char *path,
                      const char *name, bool *found_it, nb_dtype *dtype, int *rank, int64_t *shape)
{
#define BAD(...) nbi_report(g, NB_ERR_FORMAT, "checkpoint_find", 0, NULL, __VA_ARGS__)
    reader r = { .p = buf, .end = buf + len, .ok = true };
    if (len < 8 + 4 * 4 || memcmp(buf, MAGIC, 8) != 0) {
        return BAD("%s: not a nabla checkpoint", path);
    }
    uint32_t stored = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                      (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    take(&r, 8);
    uint32_t version = get_u32(&r), flags = get_u32(&r), tensors = get_u32(&r);
    if (version != VERSION && version != VERSION_2) {
        return BAD("%s: format version %u; this nabla reads versions %u and %u", path,
                   (unsigned)version, VERSION, VERSION_2);
    }
    if (crc_update(0, buf, len - 4) != stored) {
        return BAD("%s: checksum mismatch: the file is truncated or corrupted", path);
    }
    r.end = buf + len - 4;
    uint32_t slots = 0;
    if (flags & FLAG_OPTIM) {
        get_u32(&r);
        slots = get_u32(&r);
        get_i64(&r);
    }
    size_t want = strlen(name);
    for (uint32_t t = 0; t < tensors && r.ok; t++) {
        uint32_t name_len = get_u32(&r);
        const unsigned char *at = name_len <= MAX_NAME ? take(&r, name_len) : NULL;
        uint32_t dt = get_u32(&r), rk = get_u32(&r);
        if (!r.ok || !at || dt > NB_DTYPE_I32 || rk > NB_MAX_RANK) {
            return BAD("%s: tensor %u has a malformed header", path, (unsigned)t + 1);
        }
        int64_t dims[NB_MAX_RANK];
        size_t count = 1;
        for (uint32_t d = 0; d < rk; d++) {
            dims[d] = get_i64(&r);
            if (dims[d] < 0 || (dims[d] > 0 && count > SIZE_MAX / 8 / (size_t)dims[d])) {
                return BAD("%s: tensor %u has a malformed header", path, (unsigned)t + 1);
            }
            count *= (size_t)dims[d];
        }
        uint32_t has_state = version == VERSION ? (flags & FLAG_OPTIM) : get_u32(&r);
        if (name_len == want && memcmp(at, name, want) == 0 && r.ok) {
            *found_it = true;
            *dtype = (nb_dtype)dt;
            *rank = (int)rk;
            memcpy(shape, dims, rk * sizeof *dims);
            return NB_OK;
        }
        size_t bytes = count * nbi_dtype_size((int)dt);
        take(&r, bytes);
        if (has_state && slots) {
            take(&r, bytes * slots);
        }
    }
    if (!r.ok) {
        return BAD("%s: truncated", path);
    }
    return NB_OK;
#undef BAD
}

nb_status nb_checkpoint_find(nb_graph *g, const char *path, const char *name, bool *found_it,
                             nb_dtype *dtype, int *rank, int64_t *shape)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    g->run_err[0] = '\0';
    if (!path || !name || !found_it || !dtype || !rank || !shape) {
        return nbi_report(g, NB_ERR_ARG, "checkpoint_find", 0, NULL, "an argument is NULL");
    }
    *found_it = false;
    nb_status st = NB_OK;
    size_t len = 0;
    unsigned char *buf = read_file(g, path, &len, &st);
    if (!buf) {
        return st;
    }
    st = find(g, buf, len, path, name, found_it, dtype, rank, shape);
    nbi_mem_free(g, buf, len + 1);
    return st;
}
