/*
 * bench/nabla_bench.c: nabla's side of the performance suite (issue 5). Each
 * workload is built with the public API as a user would build it, timed with
 * CLOCK_MONOTONIC, and checked against the reference values; the
 * GEMM-only workloads time BLIS alone at the same shapes. bench/run.py runs
 * this program and bench/torch_bench.py alternately and prints the table.
 *
 *     nabla-bench WORKLOAD [--threads N] [--json] [--reps N] [--nodes N]
 *                 [--pattern chain|dag] [--no-blis-ref] [--no-simplify] [--form F]
 *                 [--shard-of P]
 *
 * WORKLOAD is W1 W2 W3 W3b W4 W5 W6 W7 gemm-w1 or gemm-w3. The JSON object (one line on
 * stdout) is a stable contract: workload, threads, median_ms, min_ms, max_ms,
 * peak_rss_kb first, then workload-specific fields.
 */
/* blis.h uses POSIX thread types; setenv is POSIX too */
#define _POSIX_C_SOURCE 200809L

#include "datagen.h"

#include <nabla.h>

#include <blis.h>
#include <ctype.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* ======================================================================== */
/* Results: an ordered list of fields, printed as text or as one JSON object */
/* ======================================================================== */

typedef enum field_kind { F_NUM, F_INT, F_STR, F_BOOL, F_RAW } field_kind;

typedef struct field {
    const char *key;
    field_kind kind;
    double num;
    long long i;
    char *str; /* F_STR and F_RAW (already JSON), owned */
} field;

typedef struct report {
    field f[160];
    int n;
    bool all_match; /* every reference check passed */
    int checks;
} report;

static field *put(report *r, const char *key, field_kind kind)
{
    if (r->n == (int)(sizeof r->f / sizeof r->f[0])) {
        fprintf(stderr, "nabla-bench: too many result fields\n");
        exit(1);
    }
    field *f = &r->f[r->n++];
    memset(f, 0, sizeof *f);
    f->key = key;
    f->kind = kind;
    return f;
}

static void put_num(report *r, const char *key, double v)
{
    put(r, key, F_NUM)->num = v;
}

static void put_int(report *r, const char *key, long long v)
{
    put(r, key, F_INT)->i = v;
}

static void put_bool(report *r, const char *key, bool v)
{
    put(r, key, F_BOOL)->i = v;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        fprintf(stderr, "nabla-bench: out of memory\n");
        exit(1);
    }
    return memcpy(d, s, n);
}

static void put_str(report *r, const char *key, const char *s)
{
    put(r, key, F_STR)->str = xstrdup(s);
}

/* A field whose value is already JSON (an array or an object). */
static void put_raw(report *r, const char *key, const char *json)
{
    put(r, key, F_RAW)->str = xstrdup(json);
}

/*
 * A reference check: records key (the value), key_ref and key_match, where a
 * match means |value - ref| <= rtol * |ref|.
 */
static void check(report *r, const char *key, const char *ref_key, const char *match_key,
                  double value, double ref, double rtol)
{
    bool ok = fabs(value - ref) <= rtol * fabs(ref);
    put_num(r, key, value);
    put_num(r, ref_key, ref);
    put_bool(r, match_key, ok);
    r->all_match &= ok;
    r->checks++;
}

static void print_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fprintf(f, "\\%c", *s);
        } else if ((unsigned char)*s < 0x20) {
            fprintf(f, "\\u%04x", (unsigned)*s);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void print_value(FILE *f, const field *x, bool json)
{
    switch (x->kind) {
    case F_NUM:
        if (isfinite(x->num)) {
            fprintf(f, "%.9g", x->num);
        } else {
            fprintf(f, json ? "null" : "n/a");
        }
        break;
    case F_INT:
        fprintf(f, "%lld", x->i);
        break;
    case F_BOOL:
        fprintf(f, "%s", x->i ? "true" : "false");
        break;
    case F_STR:
        if (json) {
            print_json_string(f, x->str);
        } else {
            fprintf(f, "%s", x->str);
        }
        break;
    case F_RAW:
        fprintf(f, "%s", x->str);
        break;
    }
}

static void print_report(const report *r, bool json)
{
    if (json) {
        for (int i = 0; i < r->n; i++) {
            printf("%s", i ? ", " : "{");
            print_json_string(stdout, r->f[i].key);
            printf(": ");
            print_value(stdout, &r->f[i], true);
        }
        printf("}\n");
        return;
    }
    for (int i = 0; i < r->n; i++) {
        printf("%-26s ", r->f[i].key);
        print_value(stdout, &r->f[i], false);
        printf("\n");
    }
}

/* A growing string for nested JSON (W5's per-size list). */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)need + 1 > b->cap) {
        b->cap = (b->n + (size_t)need + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) {
            fprintf(stderr, "nabla-bench: out of memory\n");
            exit(1);
        }
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

/* ======================================================================== */
/* Clocks, statistics, memory                                               */
/* ======================================================================== */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

typedef struct stats {
    double median, min, max;
} stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median (mean of the middle two for an even count), min and max of v[0..n-1]. */
static stats stats_of(const double *v, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) {
        exit(1);
    }
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    stats r = { n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1] };
    free(s);
    return r;
}

static void put_stats(report *r, stats s)
{
    put_num(r, "median_ms", s.median);
    put_num(r, "min_ms", s.min);
    put_num(r, "max_ms", s.max);
}

/* Peak resident set of the process so far, in kB (Linux reports kB). */
static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* A "Vm...:" line of /proc/self/status in kB, or -1. */
static long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        return -1;
    }
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, k) == 0) {
            v = strtol(line + k, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); false if the kernel refuses. */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) {
        return false;
    }
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* An nb_alloc_fn that counts live and peak bytes. */
typedef struct counter {
    size_t live, peak;
} counter;

static void *counting_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    counter *c = user;
    if (new_size == 0) {
        free(ptr);
        c->live -= old_size;
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (!q) {
        return NULL;
    }
    c->live = c->live - old_size + new_size;
    c->peak = c->live > c->peak ? c->live : c->peak;
    return q;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "nabla-bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/*
 * 64-byte aligned floats, as nabla's buffers are (and PyTorch's): BLIS runs
 * this machine's W1 GEMMs about 13% slower on malloc's 16-byte alignment.
 */
static size_t buf_align = 64; /* W1 --form study also tries page alignment */

static float *aligned_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + buf_align - 1) & ~(buf_align - 1);
    float *p = aligned_alloc(buf_align, bytes);
    if (!p) {
        fprintf(stderr, "nabla-bench: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float *sym_alloc(size_t n, uint32_t stream, double scale)
{
    float *p = aligned_floats(n);
    gen_sym(p, n, stream, scale);
    return p;
}

static void die(nb_graph *g, const char *what)
{
    fprintf(stderr, "nabla-bench: %s: %s\n", what, g ? nb_graph_error(g) : "failed");
    exit(1);
}

/* ======================================================================== */
/* Options and threads                                                      */
/* ======================================================================== */

typedef struct options {
    const char *workload;
    int threads;
    bool json;
    int reps;            /* 0: the workload's default */
    long nodes;          /* W5: only this size (0: all three) */
    const char *pattern; /* W5: only "chain" or "dag" (NULL: both) */
    bool no_blis_ref;    /* W1, W3, W3b, W7: skip the in-process BLIS reference (for profiling) */
    const char *form;    /* W7: how the LSTM is built (cells, two, fused, hoisted, ab); W1: study */
    int shard_of;        /* W8 in one process: only the rows of rank 0 of this many (0: all) */
} options;

/*
 * BLIS reads BLIS_NUM_THREADS (then OMP_NUM_THREADS) once when it initializes;
 * setting both before the first BLIS call and then calling
 * bli_thread_set_num_threads makes the count hold whichever BLIS reads.
 */
static void set_threads(int n)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", n);
    setenv("BLIS_NUM_THREADS", buf, 1);
    setenv("OMP_NUM_THREADS", buf, 1);
    bli_thread_set_num_threads(n);
}

static void put_header(report *r, const options *o, const char *workload)
{
    put_str(r, "workload", workload);
    put_int(r, "threads", o->threads);
}

static void put_common_tail(report *r, const options *o)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "BLIS_NUM_THREADS=OMP_NUM_THREADS=%d set before BLIS starts, then "
             "bli_thread_set_num_threads(%d); BLIS reports %ld",
             o->threads, o->threads, (long)bli_thread_get_num_threads());
    put_str(r, "threads_via", buf);
    snprintf(buf, sizeof buf, "BLIS %s, arch %s, %s", bli_info_get_version_str(),
             bli_arch_string(bli_arch_query_id()),
             bli_info_get_enable_openmp()     ? "OpenMP threading"
             : bli_info_get_enable_pthreads() ? "pthreads threading"
                                              : "no threading");
    put_str(r, "blis", buf);
    put_str(r, "nabla_version", nb_version());
}

static int reps_or(const options *o, int dflt)
{
    return o->reps > 0 ? o->reps : dflt;
}

/* ======================================================================== */
/* BLIS GEMM-only references                                                */
/* ======================================================================== */

static void sgemm(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, const float *a, inc_t lda,
                  const float *b, inc_t ldb, float *c, inc_t ldc)
{
    float one = 1, zero = 0;
    bli_sgemm(ta, tb, m, n, k, &one, (float *)a, lda, 1, (float *)b, ldb, 1, &zero, c, ldc, 1);
}

enum { W1_B = 128, W1_IN = 784, W1_H = 512, W1_OUT = 10 };

/* Buffers for W1's eight GEMMs, weights stored [out,in] as PyTorch stores them. */
typedef struct w1_gemm {
    float *x, *w1, *w2, *w3;          /* inputs */
    float *h1, *h2, *dz1, *dz2, *dz3; /* activations and their gradients (as inputs) */
    float *z1, *z2, *z3, *dh1, *dh2;  /* outputs */
    float *dw1, *dw2, *dw3;           /* weight gradients */
} w1_gemm;

static w1_gemm w1_gemm_new(void)
{
    const size_t bh = (size_t)W1_B * W1_H, bo = (size_t)W1_B * W1_OUT;
    w1_gemm s = {
        .x = sym_alloc((size_t)W1_B * W1_IN, 21, 1),
        .w1 = sym_alloc((size_t)W1_H * W1_IN, 22, 0.03),
        .w2 = sym_alloc((size_t)W1_H * W1_H, 23, 0.04),
        .w3 = sym_alloc((size_t)W1_OUT * W1_H, 24, 0.04),
        .h1 = sym_alloc(bh, 25, 1),
        .h2 = sym_alloc(bh, 26, 1),
        .dz1 = sym_alloc(bh, 27, 1e-3),
        .dz2 = sym_alloc(bh, 28, 1e-3),
        .dz3 = sym_alloc(bo, 29, 1e-3),
        .z1 = sym_alloc(bh, 30, 1),
        .z2 = sym_alloc(bh, 31, 1),
        .z3 = sym_alloc(bo, 32, 1),
        .dh1 = sym_alloc(bh, 33, 1),
        .dh2 = sym_alloc(bh, 34, 1),
        .dw1 = sym_alloc((size_t)W1_H * W1_IN, 35, 1),
        .dw2 = sym_alloc((size_t)W1_H * W1_H, 36, 1),
        .dw3 = sym_alloc((size_t)W1_OUT * W1_H, 37, 1),
    };
    return s;
}

static void w1_gemm_free(w1_gemm *s)
{
    float *all[] = { s->x,  s->w1, s->w2, s->w3,  s->h1,  s->h2,  s->dz1, s->dz2, s->dz3,
                     s->z1, s->z2, s->z3, s->dh1, s->dh2, s->dw1, s->dw2, s->dw3 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]);
    }
}

/*
 * The eight GEMMs of one W1 training step, with the transposes an engine with
 * [out,in] weights uses (the input's gradient is not needed):
 * forward z = x wᵀ three times; backward dW = dzᵀ h three times, dh = dz W twice.
 */
static void w1_gemms(const w1_gemm *s)
{
    const trans_t N = BLIS_NO_TRANSPOSE, T = BLIS_TRANSPOSE;
    sgemm(N, T, W1_B, W1_H, W1_IN, s->x, W1_IN, s->w1, W1_IN, s->z1, W1_H);
    sgemm(N, T, W1_B, W1_H, W1_H, s->h1, W1_H, s->w2, W1_H, s->z2, W1_H);
    sgemm(N, T, W1_B, W1_OUT, W1_H, s->h2, W1_H, s->w3, W1_H, s->z3, W1_OUT);
    sgemm(T, N, W1_OUT, W1_H, W1_B, s->dz3, W1_OUT, s->h2, W1_H, s->dw3, W1_H);
    sgemm(N, N, W1_B, W1_H, W1_OUT, s->dz3, W1_OUT, s->w3, W1_H, s->dh2, W1_H);
    sgemm(T, N, W1_H, W1_H, W1_B, s->dz2, W1_H, s->h1, W1_H, s->dw2, W1_H);
    sgemm(N, N, W1_B, W1_H, W1_H, s->dz2, W1_H, s->w2, W1_H, s->dh1, W1_H);
    sgemm(T, N, W1_H, W1_IN, W1_B, s->dz1, W1_H, s->x, W1_IN, s->dw1, W1_IN);
}

/* Flops of the eight GEMMs: 2mnk each. */
static double w1_gemm_flops(void)
{
    double b = W1_B, in = W1_IN, h = W1_H, out = W1_OUT;
    return 2 * (2 * b * in * h + 3 * b * h * h + 3 * b * h * out);
}

enum { W3_N = 1024 };

typedef struct w3_gemm {
    float *a, *b, *dc, *c, *da, *db;
} w3_gemm;

enum { W3B_R_STREAM = 50 }; /* W3b's fixed weights R = sym(50, [1024,1024], 1) */

/* dC is all ones for W3 (the gradient of sum(C)) and R for W3b (that of sum(C * R)). */
static w3_gemm w3_gemm_new(bool weighted)
{
    size_t nn = (size_t)W3_N * W3_N;
    w3_gemm s = { sym_alloc(nn, 9, 1),  sym_alloc(nn, 10, 1), aligned_floats(nn),
                  sym_alloc(nn, 40, 1), sym_alloc(nn, 41, 1), sym_alloc(nn, 42, 1) };
    if (weighted) {
        gen_sym(s.dc, nn, W3B_R_STREAM, 1);
    } else {
        for (size_t i = 0; i < nn; i++) {
            s.dc[i] = 1;
        }
    }
    return s;
}

static void w3_gemm_free(w3_gemm *s)
{
    free(s->a);
    free(s->b);
    free(s->dc);
    free(s->c);
    free(s->da);
    free(s->db);
}

/* C = A B; dA = dC Bᵀ; dB = Aᵀ dC. */
static void w3_gemms(const w3_gemm *s)
{
    const trans_t N = BLIS_NO_TRANSPOSE, T = BLIS_TRANSPOSE;
    sgemm(N, N, W3_N, W3_N, W3_N, s->a, W3_N, s->b, W3_N, s->c, W3_N);
    sgemm(N, T, W3_N, W3_N, W3_N, s->dc, W3_N, s->b, W3_N, s->da, W3_N);
    sgemm(T, N, W3_N, W3_N, W3_N, s->a, W3_N, s->dc, W3_N, s->db, W3_N);
}

static double w3_flops(void)
{
    return 6.0 * W3_N * W3_N * W3_N;
}

static void bench_gemm_w1(const options *o, report *r)
{
    const int warm = 20, reps = reps_or(o, 200);
    w1_gemm s = w1_gemm_new();
    double *t = xmalloc((size_t)reps * sizeof *t);
    for (int i = -warm; i < reps; i++) {
        double t0 = now_ms();
        w1_gemms(&s);
        if (i >= 0) {
            t[i] = now_ms() - t0;
        }
    }
    stats st = stats_of(t, reps);
    put_header(r, o, "gemm-w1");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what", "BLIS sgemm alone: the eight GEMMs of one W1 step (3 forward, 5 backward)");
    put_int(r, "reps", reps);
    put_int(r, "warmup", warm);
    put_num(r, "gflops", w1_gemm_flops() / (st.median * 1e6));
    free(t);
    w1_gemm_free(&s);
}

static void bench_gemm_w3(const options *o, report *r)
{
    const int warm = 3, reps = reps_or(o, 20);
    w3_gemm s = w3_gemm_new(false);
    double *t = xmalloc((size_t)reps * sizeof *t);
    for (int i = -warm; i < reps; i++) {
        double t0 = now_ms();
        w3_gemms(&s);
        if (i >= 0) {
            t[i] = now_ms() - t0;
        }
    }
    stats st = stats_of(t, reps);
    put_header(r, o, "gemm-w3");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what",
            "BLIS sgemm alone: the three 1024^3 GEMMs of W3 (C = AB, dA = dC Bt, "
            "dB = At dC)");
    put_int(r, "reps", reps);
    put_int(r, "warmup", warm);
    put_num(r, "gflops", w3_flops() / (st.median * 1e6));
    free(t);
    w3_gemm_free(&s);
}

/* ======================================================================== */
/* W1: MLP 784-512-512-10, batch 128, plain SGD                             */
/* ======================================================================== */

typedef struct w1_model {
    nb_graph *g;
    nb_optim *opt;
} w1_model;

/*
 * An nb_alloc_fn whose blocks all start on a page (the study's test of
 * whether the alignment of nabla's arena and workspace matters to BLIS).
 */
static void *page_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    (void)user;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    void *q = aligned_alloc(4096, (new_size + 4095) & ~(size_t)4095);
    if (q && ptr) {
        memcpy(q, ptr, old_size < new_size ? old_size : new_size);
        free(ptr);
    }
    return q;
}

/* W1's MLP with its data and parameters written, ready to step; alloc NULL: malloc's. */
static w1_model w1_build_with(nb_alloc_fn alloc)
{
    nb_graph *g = alloc ? nb_graph_new_with_allocator(alloc, NULL) : nb_graph_new();
    if (!g) {
        die(NULL, "out of memory");
    }
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(W1_B, W1_IN));
    nb_node *labels = nb_input(g, NB_DTYPE_I32, NB_SHAPE(W1_B));
    const int64_t shapes[6][2] = {
        { W1_H, W1_IN }, { W1_H, 0 }, { W1_H, W1_H }, { W1_H, 0 }, { W1_OUT, W1_H }, { W1_OUT, 0 },
    };
    const double scales[6] = { 1 / sqrt(784.0), 1 / sqrt(784.0), 1 / sqrt(512.0),
                               1 / sqrt(512.0), 1 / sqrt(512.0), 1 / sqrt(512.0) };
    nb_node *p[6], *grads[6];
    for (int k = 0; k < 6; k++) {
        int rank = shapes[k][1] ? 2 : 1;
        p[k] = nb_param(g, NB_DTYPE_F32, rank, shapes[k], nb_init_constant(0));
    }
    /* weights stored [out,in] as PyTorch does: z = x Wᵀ + b, the transpose a BLIS flag */
    nb_node *h1 = nb_relu(g, nb_add(g, nb_matmul_ex(g, x, p[0], NB_TRANS_B), p[1]));
    nb_node *h2 = nb_relu(g, nb_add(g, nb_matmul_ex(g, h1, p[2], NB_TRANS_B), p[3]));
    nb_node *logits = nb_add(g, nb_matmul_ex(g, h2, p[4], NB_TRANS_B), p[5]);
    nb_node *loss = nb_cross_entropy(g, logits, labels);
    nb_grad(g, loss, 6, p, grads);
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_SGD);
    oo.lr = 0.01;
    nb_optim *opt = nb_optim_new(g, loss, 6, p, grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building W1");
    }

    /* data: X = sym(1), labels floor(10 u(2)), parameters sym(3..8) */
    float *xs = sym_alloc((size_t)W1_B * W1_IN, 1, 1);
    int32_t ys[W1_B];
    for (int i = 0; i < W1_B; i++) {
        ys[i] = (int32_t)floor(gen_u(2, (uint64_t)i) * 10);
    }
    if (nb_node_write(g, x, xs, (size_t)W1_B * W1_IN) != NB_OK ||
        nb_node_write(g, labels, ys, W1_B) != NB_OK) {
        die(g, "writing W1's data");
    }
    for (int k = 0; k < 6; k++) {
        size_t n = nb_node_size(p[k]);
        float *v = sym_alloc(n, (uint32_t)(3 + k), scales[k]);
        if (nb_node_write(g, p[k], v, n) != NB_OK) {
            die(g, "writing W1's parameters");
        }
        free(v);
    }
    free(xs);

    return (w1_model){ g, opt };
}

static w1_model w1_build(void)
{
    return w1_build_with(NULL);
}

/* Minor page faults of the process so far. */
static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* Writes and reads 8 MiB, four times this machine's L2, so what ran before is out of L2. */
static float *evict_buf;
enum { EVICT_FLOATS = 2 * 1024 * 1024 };

static void evict_l2(void)
{
    volatile float sink = 0;
    for (size_t i = 0; i < EVICT_FLOATS; i += 16) {
        evict_buf[i] += 1;
        sink += evict_buf[i];
    }
    (void)sink;
}

static double w1_timed_step(nb_graph *g, nb_optim *opt)
{
    double t0 = now_ms();
    if (nb_optim_step(opt) != NB_OK) {
        die(g, "W1 step");
    }
    return now_ms() - t0;
}

static double w1_timed_gemms(const w1_gemm *s)
{
    double t0 = now_ms();
    w1_gemms(s);
    return now_ms() - t0;
}

/*
 * W1 --form study: why nabla's step over BLIS's eight GEMMs timed alone (in
 * its own process, as gemm-w1) can differ from the same ratio measured
 * interleaved. In one process, for `cycles` cycles, every variant runs as a
 * short block of 4 units whose first is not timed (the change of variant):
 * the step alone; the GEMMs alone on 64-byte and on page-aligned buffers;
 * step and GEMMs interleaved (as W1's ab figures); the step and the GEMMs each
 * after 8 MiB of other memory traffic (a cold L2, as interleaving makes
 * them); the step right after the GEMMs without timing them; and the step of
 * a second, identical model whose graph allocates page-aligned blocks. Rotating
 * every ~0.2 s makes all variants share the machine's noise; the figures are
 * medians over all cycles.
 */
static void bench_w1_study(const options *o, report *r)
{
    enum { BLOCKS = 9, UNITS = 4 };
    const int cycles = reps_or(o, 40), warm = 20, n = cycles * (UNITS - 1);
    w1_model m = w1_build(), mp = w1_build_with(page_alloc);
    w1_gemm s64 = w1_gemm_new();
    buf_align = 4096;
    w1_gemm spage = w1_gemm_new();
    buf_align = 64;
    evict_buf = aligned_floats(EVICT_FLOATS);
    memset(evict_buf, 0, EVICT_FLOATS * sizeof(float));
    for (int i = 0; i < warm; i++) {
        w1_timed_step(m.g, m.opt);
        w1_timed_step(mp.g, mp.opt);
        w1_timed_gemms(&s64);
        w1_timed_gemms(&spage);
    }
    double *t[BLOCKS];
    for (int k = 0; k < BLOCKS; k++) {
        t[k] = xmalloc((size_t)n * sizeof *t[k]);
    }
    double *pair = xmalloc((size_t)n * sizeof *pair);
    long faults = 0;
    int at = 0;
    for (int c = 0; c < cycles; c++) {
        for (int u = 0; u < UNITS; u++) {
            int i = u == 0 ? -1 : at + u - 1; /* unit 0: not recorded */
            double v[BLOCKS];
            long f0 = minor_faults();
            v[0] = w1_timed_step(m.g, m.opt);
            faults += u ? minor_faults() - f0 : 0;
            if (i >= 0) {
                t[0][i] = v[0];
            }
        }
        for (int u = 0; u < UNITS; u++) {
            double v = w1_timed_gemms(&s64);
            if (u) {
                t[1][at + u - 1] = v;
            }
        }
        for (int u = 0; u < UNITS; u++) {
            double v = w1_timed_gemms(&spage);
            if (u) {
                t[2][at + u - 1] = v;
            }
        }
        for (int u = 0; u < UNITS; u++) {
            double a = w1_timed_step(m.g, m.opt), b = w1_timed_gemms(&s64);
            if (u) {
                t[3][at + u - 1] = a;
                t[4][at + u - 1] = b;
                pair[at + u - 1] = a / b;
            }
        }
        for (int u = 0; u < UNITS; u++) {
            evict_l2();
            double v = w1_timed_step(m.g, m.opt);
            if (u) {
                t[5][at + u - 1] = v;
            }
        }
        for (int u = 0; u < UNITS; u++) {
            evict_l2();
            double v = w1_timed_gemms(&s64);
            if (u) {
                t[6][at + u - 1] = v;
            }
        }
        for (int u = 0; u < UNITS; u++) {
            w1_gemms(&s64);
            double v = w1_timed_step(m.g, m.opt);
            if (u) {
                t[7][at + u - 1] = v;
            }
        }
        for (int u = 0; u < UNITS; u++) {
            double v = w1_timed_step(mp.g, mp.opt);
            if (u) {
                t[8][at + u - 1] = v;
            }
        }
        at += UNITS - 1;
    }
    stats st[BLOCKS];
    for (int k = 0; k < BLOCKS; k++) {
        st[k] = stats_of(t[k], n);
    }
    put_header(r, o, "W1");
    put_stats(r, st[0]);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what",
            "W1's step and BLIS's eight GEMMs, alone, interleaved and after 8 MiB of other "
            "traffic, in rotating blocks of 4 (3 timed) in one process; medians");
    put_int(r, "cycles", cycles);
    put_int(r, "reps", n);
    static const char *const keys[BLOCKS] = {
        "step_median_ms",
        "gemm_median_ms",
        "gemm_page_median_ms",
        "ab_step_median_ms",
        "ab_gemm_median_ms",
        "cold_step_median_ms",
        "cold_gemm_median_ms",
        "step_after_gemm_median_ms",
        "step_page_alloc_median_ms",
    };
    for (int k = 0; k < BLOCKS; k++) {
        put_num(r, keys[k], st[k].median);
    }
    /* the 10th percentiles too: noise only adds time, so low quantiles are steadier */
    static const char *const p10_keys[BLOCKS] = {
        "step_p10_ms",
        "gemm_p10_ms",
        "gemm_page_p10_ms",
        "ab_step_p10_ms",
        "ab_gemm_p10_ms",
        "cold_step_p10_ms",
        "cold_gemm_p10_ms",
        "step_after_gemm_p10_ms",
        "step_page_alloc_p10_ms",
    };
    double p10[BLOCKS];
    for (int k = 0; k < BLOCKS; k++) {
        qsort(t[k], (size_t)n, sizeof *t[k], cmp_double);
        p10[k] = t[k][n / 10];
        put_num(r, p10_keys[k], p10[k]);
    }
    put_num(r, "alone_ratio_p10", p10[0] / p10[1]);
    put_num(r, "ab_ratio_p10", p10[3] / p10[4]);
    put_num(r, "alone_ratio", st[0].median / st[1].median);
    put_num(r, "ab_ratio", st[3].median / st[4].median);
    put_num(r, "ab_pair_ratio_median", stats_of(pair, n).median);
    put_num(r, "cold_ratio", st[5].median / st[6].median);
    put_num(r, "ab_step_over_alone", st[3].median / st[0].median);
    put_num(r, "ab_gemm_over_alone", st[4].median / st[1].median);
    put_num(r, "cold_step_over_alone", st[5].median / st[0].median);
    put_num(r, "cold_gemm_over_alone", st[6].median / st[1].median);
    put_num(r, "gemm_page_over_64", st[2].median / st[1].median);
    put_num(r, "step_page_alloc_over_malloc", st[8].median / st[0].median);
    put_num(r, "step_page_alloc_over_malloc_p10", p10[8] / p10[0]);
    put_num(r, "gemm_page_over_64_p10", p10[2] / p10[1]);
    put_num(r, "minor_faults_per_step", (double)faults / n);
    for (int k = 0; k < BLOCKS; k++) {
        free(t[k]);
    }
    free(pair);
    free(evict_buf);
    w1_gemm_free(&s64);
    w1_gemm_free(&spage);
    nb_optim_free(m.opt);
    nb_graph_free(m.g);
    nb_optim_free(mp.opt);
    nb_graph_free(mp.g);
}

static void bench_w1(const options *o, report *r)
{
    if (o->form && strcmp(o->form, "study") == 0) {
        bench_w1_study(o, r);
        return;
    }
    const int warm = 20, reps = reps_or(o, 200);
    const int ab_reps = o->no_blis_ref ? 0 : o->reps > 0 ? o->reps : 100;
    w1_model m = w1_build();
    nb_graph *g = m.g;
    nb_optim *opt = m.opt;

    /* phase 1: the contract's figure, 200 steps after 20 warm-up steps */
    double *t = xmalloc((size_t)(reps > ab_reps ? reps : ab_reps) * sizeof *t);
    double loss0 = NAN, loss19 = NAN, loss_last = NAN;
    for (int i = -warm; i < reps; i++) {
        double t0 = now_ms();
        if (nb_optim_step(opt) != NB_OK) {
            die(g, "W1 step");
        }
        double dt = now_ms() - t0;
        int step = i + warm;
        double l = nb_optim_loss(opt);
        loss0 = step == 0 ? l : loss0;
        loss19 = step == 19 ? l : loss19;
        loss_last = l;
        if (i >= 0) {
            t[i] = dt;
        }
    }
    stats st = stats_of(t, reps);
    long rss = peak_rss_kb(); /* before the GEMM reference allocates its buffers */
    nb_memory_stats mem;
    nb_graph_memory(g, &mem);

    /* phase 2: the same step against BLIS's eight GEMMs alone, alternating */
    w1_gemm s = w1_gemm_new();
    double *tg = xmalloc((size_t)(ab_reps + 1) * sizeof *tg);
    stats ab_step = { NAN, NAN, NAN }, ab_gemm = { NAN, NAN, NAN };
    for (int i = ab_reps ? -warm : 0; i < ab_reps; i++) {
        double t0 = now_ms();
        if (nb_optim_step(opt) != NB_OK) {
            die(g, "W1 step");
        }
        double t1 = now_ms();
        w1_gemms(&s);
        double t2 = now_ms();
        if (i >= 0) {
            t[i] = t1 - t0;
            tg[i] = t2 - t1;
        }
    }
    if (ab_reps > 0) {
        ab_step = stats_of(t, ab_reps);
        ab_gemm = stats_of(tg, ab_reps);
    }

    /*
     * phase 3: each timed alone, as gemm-w1 times BLIS, but in this process and
     * sharing the noise: blocks of 4 steps then of 4 GEMM sets (the first of
     * each block untimed), rotating 40 times. See "W1 against BLIS alone and
     * interleaved" in docs/performance.md.
     */
    const int cycles = ab_reps > 0 ? 40 : 0, units = 4;
    double *bs = xmalloc((size_t)(cycles * (units - 1) + 1) * sizeof *bs);
    double *bg = xmalloc((size_t)(cycles * (units - 1) + 1) * sizeof *bg);
    for (int c = 0, at = 0; c < cycles; c++, at += units - 1) {
        for (int u = 0; u < units; u++) {
            double v = w1_timed_step(g, opt);
            if (u) {
                bs[at + u - 1] = v;
            }
        }
        for (int u = 0; u < units; u++) {
            double v = w1_timed_gemms(&s);
            if (u) {
                bg[at + u - 1] = v;
            }
        }
    }
    stats bl_step = { NAN, NAN, NAN }, bl_gemm = { NAN, NAN, NAN };
    if (cycles > 0) {
        bl_step = stats_of(bs, cycles * (units - 1));
        bl_gemm = stats_of(bg, cycles * (units - 1));
    }
    free(bs);
    free(bg);

    put_header(r, o, "W1");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", rss);
    put_str(r, "what",
            "one training step (forward, backward, SGD update) of MLP 784-512-512-10, "
            "batch 128, via nb_optim_step");
    put_int(r, "reps", reps);
    put_int(r, "warmup", warm);
    int last_step = warm + reps - 1;
    put_int(r, "last_step", last_step);
    check(r, "loss_step0", "loss_step0_ref", "loss_step0_match", loss0, 2.300901, 1e-4);
    check(r, "loss_step19", "loss_step19_ref", "loss_step19_match", loss19, 2.281702, 1e-4);
    if (last_step == 219) {
        check(r, "loss_step219", "loss_step219_ref", "loss_step219_match", loss_last, 2.063738,
              1e-4);
    } else {
        put_num(r, "loss_last_step", loss_last);
    }
    put_num(r, "ref_rtol", 1e-4);
    put_num(r, "gflops", w1_gemm_flops() / (st.median * 1e6));
    put_int(r, "ab_reps", ab_reps);
    put_num(r, "ab_step_median_ms", ab_step.median);
    put_num(r, "blis_gemm_median_ms", ab_gemm.median);
    put_num(r, "blis_gemm_min_ms", ab_gemm.min);
    put_num(r, "ratio_to_blis", ab_step.median / ab_gemm.median);
    put_int(r, "alone_cycles", cycles);
    put_num(r, "alone_step_median_ms", bl_step.median);
    put_num(r, "alone_gemm_median_ms", bl_gemm.median);
    put_num(r, "ratio_to_blis_alone", bl_step.median / bl_gemm.median);
    put_int(r, "graph_nodes", (long long)nb_graph_node_count(g));
    put_int(r, "arena_bytes", (long long)mem.arena_bytes);
    put_int(r, "workspace_bytes", (long long)mem.workspace_bytes);
    put_int(r, "plan_bytes", (long long)mem.plan_bytes);
    free(t);
    free(tg);
    w1_gemm_free(&s);
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* W2 and W5: scalar graphs (a chain, and a random DAG)                     */
/* ======================================================================== */

typedef enum pattern { CHAIN, DAG } pattern;

typedef struct scalar_run {
    double build_ms, fwd_ms, gbuild_ms, grun_ms, free_ms, total_ms;
    double loss, grad_sum, grad_x0;
    size_t graph_nodes;
    size_t live_bytes;   /* allocated by the graph after the gradient run (counting allocator) */
    nb_memory_stats mem; /* the graph's own account at that point */
} scalar_run;

enum { N_SCALAR_PARAMS = 100 };

/*
 * One pass: build the forward graph, run it, build the gradient, run it (loss
 * and gradients in one run), free. n_ops forward op nodes.
 * CHAIN (W2): p_j = 1.5 + j/100, x0 = 0.5, s = 0; n_ops/4 times
 *   m = x * p[i mod 100]; x = tanh(m); g = sigmoid(x); s = s + g. loss = s;
 *   gradients for every p and x0.
 * DAG (W5): values v_0..v_99 = p = sym(13, [100], 1); op node t (0-based)
 *   takes prev = the value before it and j = floor(u(15, t) (100 + t)), and by
 *   r = u(14, t) is tanh(prev) (r < .25), sigmoid(prev) (< .5), prev * v_j
 *   (< .75) or prev + v_j. loss = the last node; gradients for every p.
 * With mem, the graph allocates through a counting allocator.
 */
/* --no-simplify: nb_grad without the graph simplifier, to measure what it costs */
static bool no_simplify;
/* --reuse: each timed pass builds on the last pass's graph after nb_graph_reset */
static bool reuse_graph;

static scalar_run scalar_graph(pattern pat, size_t n_ops, counter *mem, nb_graph **reuse)
{
    scalar_run res = { 0 };
    double t0 = now_ms();
    nb_graph *g = reuse && *reuse ? *reuse
                  : mem           ? nb_graph_new_with_allocator(counting_alloc, mem)
                                  : nb_graph_new();
    if (reuse && *reuse) {
        nb_graph_reset(*reuse); /* --reuse: this pass builds in the last pass's memory */
    }
    if (!g) {
        die(NULL, "out of memory");
    }
    nb_graph_set_simplify(g, !no_simplify);
    nb_node *wrt[N_SCALAR_PARAMS + 1], *grads[N_SCALAR_PARAMS + 1];
    nb_node *loss;
    size_t n_wrt;
    if (pat == CHAIN) {
        for (int j = 0; j < N_SCALAR_PARAMS; j++) {
            wrt[j] = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(1.5 + j / 100.0));
        }
        nb_node *x = wrt[N_SCALAR_PARAMS] =
            nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.5));
        nb_node *s = nb_scalar(g, NB_DTYPE_F32, 0);
        for (size_t i = 0; i < n_ops / 4; i++) {
            nb_node *m = nb_mul(g, x, wrt[i % N_SCALAR_PARAMS]);
            x = nb_tanh(g, m);
            s = nb_add(g, s, nb_sigmoid(g, x));
        }
        loss = s;
        n_wrt = N_SCALAR_PARAMS + 1;
    } else {
        nb_node **v = xmalloc((N_SCALAR_PARAMS + n_ops) * sizeof *v);
        for (int j = 0; j < N_SCALAR_PARAMS; j++) {
            double pj = (double)(float)((2 * gen_u(13, (uint64_t)j) - 1));
            v[j] = wrt[j] = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(pj));
        }
        for (size_t t = 0; t < n_ops; t++) {
            size_t at = N_SCALAR_PARAMS + t;
            nb_node *prev = v[at - 1];
            double r = gen_u(14, t);
            size_t j = (size_t)floor(gen_u(15, t) * (double)at);
            v[at] = r < 0.25   ? nb_tanh(g, prev)
                    : r < 0.5  ? nb_sigmoid(g, prev)
                    : r < 0.75 ? nb_mul(g, prev, v[j])
                               : nb_add(g, prev, v[j]);
        }
        loss = v[N_SCALAR_PARAMS + n_ops - 1];
        free(v);
        n_wrt = N_SCALAR_PARAMS;
    }
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building a scalar graph");
    }
    double t1 = now_ms();
    if (nb_graph_run(g, 1, &loss) != NB_OK) {
        die(g, "forward run");
    }
    double t2 = now_ms();
    if (nb_grad(g, loss, n_wrt, wrt, grads) != NB_OK) {
        die(g, "nb_grad");
    }
    double t3 = now_ms();
    nb_node *outs[N_SCALAR_PARAMS + 2];
    outs[0] = loss;
    memcpy(outs + 1, grads, n_wrt * sizeof *grads);
    if (nb_graph_run(g, n_wrt + 1, outs) != NB_OK) {
        die(g, "gradient run");
    }
    double t4 = now_ms();
    res.loss = *(const float *)nb_node_data(loss);
    res.grad_sum = 0;
    for (size_t j = 0; j < N_SCALAR_PARAMS; j++) {
        res.grad_sum += *(const float *)nb_node_data(grads[j]);
    }
    res.grad_x0 = pat == CHAIN ? *(const float *)nb_node_data(grads[N_SCALAR_PARAMS]) : NAN;
    res.graph_nodes = nb_graph_node_count(g);
    res.live_bytes = mem ? mem->live : 0;
    nb_graph_memory(g, &res.mem);
    double t5 = now_ms();
    if (reuse) {
        *reuse = g; /* the next pass resets it */
    } else {
        nb_graph_free(g);
    }
    double t6 = now_ms();
    res.build_ms = t1 - t0;
    res.fwd_ms = t2 - t1;
    res.gbuild_ms = t3 - t2;
    res.grun_ms = t4 - t3;
    res.free_ms = t6 - t5;
    res.total_ms = t4 - t0;
    return res;
}

typedef struct scalar_summary {
    stats total;
    double build_ms, fwd_ms, gbuild_ms, grun_ms, free_ms; /* medians */
    scalar_run first;  /* the untimed pass through the counting allocator */
    counter mem;       /* its live and peak bytes */
    long rss_delta_kb; /* VmHWM during the counted pass minus VmRSS before, or -1 */
    int reps;          /* timed samples */
} scalar_summary;

/*
 * One counted pass (warm-up and memory), then reps timed passes; when the
 * counted pass took over SLOW_MS, it is the only sample (the counting
 * allocator costs a call per allocation, and nabla allocates in chunks), so a
 * pathologically slow size does not take minutes.
 */
enum { SLOW_MS = 3000 };

static scalar_summary scalar_bench(pattern pat, size_t n_ops, int reps)
{
    scalar_summary s = { 0 };
#ifdef __GLIBC__
    malloc_trim(0); /* return freed heap pages, so the RSS baseline is honest */
#endif
    bool hwm = reset_peak_rss();
    long rss0 = proc_status_kb("VmRSS:");
    s.first = scalar_graph(pat, n_ops, &s.mem, NULL);
    s.rss_delta_kb = hwm && rss0 >= 0 ? proc_status_kb("VmHWM:") - rss0 : -1;
    if (s.first.total_ms > SLOW_MS) {
        s.total = (stats){ s.first.total_ms, s.first.total_ms, s.first.total_ms };
        s.build_ms = s.first.build_ms;
        s.fwd_ms = s.first.fwd_ms;
        s.gbuild_ms = s.first.gbuild_ms;
        s.grun_ms = s.first.grun_ms;
        s.free_ms = s.first.free_ms;
        s.reps = 1;
        return s;
    }
    s.reps = reps;
    double *v[6];
    for (int k = 0; k < 6; k++) {
        v[k] = xmalloc((size_t)reps * sizeof *v[k]);
    }
    nb_graph *kept = NULL;
    for (int i = 0; i < reps; i++) {
        scalar_run r = scalar_graph(pat, n_ops, NULL, reuse_graph ? &kept : NULL);
        v[0][i] = r.total_ms;
        v[1][i] = r.build_ms;
        v[2][i] = r.fwd_ms;
        v[3][i] = r.gbuild_ms;
        v[4][i] = r.grun_ms;
        v[5][i] = r.free_ms;
    }
    nb_graph_free(kept);
    s.total = stats_of(v[0], reps);
    s.build_ms = stats_of(v[1], reps).median;
    s.fwd_ms = stats_of(v[2], reps).median;
    s.gbuild_ms = stats_of(v[3], reps).median;
    s.grun_ms = stats_of(v[4], reps).median;
    s.free_ms = stats_of(v[5], reps).median;
    for (int k = 0; k < 6; k++) {
        free(v[k]);
    }
    return s;
}

static void bench_w2(const options *o, report *r)
{
    const size_t n_ops = 100000;
    scalar_summary s = scalar_bench(CHAIN, n_ops, reps_or(o, 21));
    put_header(r, o, "W2");
    put_stats(r, s.total);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what",
            "build forward (100,000 scalar op nodes), run it, build the gradient "
            "for 101 scalars, run it (loss and gradients); nb_graph_free excluded");
    put_int(r, "reps", reps_or(o, 21));
    put_int(r, "nodes", (long long)n_ops);
    put_num(r, "ns_per_node", s.total.median * 1e6 / (double)n_ops);
    put_num(r, "build_ms", s.build_ms);
    put_num(r, "forward_ms", s.fwd_ms);
    put_num(r, "grad_build_ms", s.gbuild_ms);
    put_num(r, "grad_run_ms", s.grun_ms);
    put_num(r, "free_ms", s.free_ms);
    put_int(r, "graph_nodes", (long long)s.first.graph_nodes);
    put_int(r, "graph_bytes", (long long)s.first.live_bytes);
    put_int(r, "graph_peak_bytes", (long long)s.mem.peak);
    put_num(r, "bytes_per_node", (double)s.first.live_bytes / (double)n_ops);
    put_num(r, "peak_bytes_per_node", (double)s.mem.peak / (double)n_ops);
    put_num(r, "bytes_per_graph_node", (double)s.first.live_bytes / (double)s.first.graph_nodes);
    /* where the bytes are: nabla's own account, the rest (node index, etc.) by difference */
    const nb_memory_stats *m = &s.first.mem;
    put_int(r, "arena_bytes", (long long)m->arena_bytes);
    put_int(r, "workspace_bytes", (long long)m->workspace_bytes);
    put_int(r, "plan_bytes", (long long)m->plan_bytes);
    put_int(r, "other_bytes",
            (long long)s.first.live_bytes -
                (long long)(m->arena_bytes + m->workspace_bytes + m->plan_bytes));
    put_int(r, "rss_delta_kb", s.rss_delta_kb);
    check(r, "loss", "loss_ref", "loss_match", s.first.loss, 18007.68, 1e-5);
    check(r, "grad_p_sum", "grad_p_sum_ref", "grad_p_sum_match", s.first.grad_sum, 649.409, 1e-5);
    check(r, "grad_x0", "grad_x0_ref", "grad_x0_match", s.first.grad_x0, 0.447687, 1e-5);
    put_num(r, "ref_rtol", 1e-5);
}

/* A number for hand-built JSON: null when not finite. */
static void sb_num(sbuf *b, const char *key, double v)
{
    if (isfinite(v)) {
        sb_printf(b, ", \"%s\": %.6g", key, v);
    } else {
        sb_printf(b, ", \"%s\": null", key);
    }
}

static void bench_w5(const options *o, report *r)
{
    const size_t sizes[3] = { 10000, 100000, 1000000 };
    const int reps[3] = { 21, 7, 3 };
    sbuf b = { 0 };
    double ns[2][3], bpn[2][3], rpn[2][3];
    for (int k = 0; k < 6; k++) {
        ns[k / 3][k % 3] = bpn[k / 3][k % 3] = rpn[k / 3][k % 3] = NAN;
    }
    stats sum = { 0, 0, 0 };
    sb_printf(&b, "[");
    int done = 0;
    for (int pat = CHAIN; pat <= DAG; pat++) {
        if (o->pattern && strcmp(o->pattern, pat == CHAIN ? "chain" : "dag") != 0) {
            continue;
        }
        for (int k = 0; k < 3; k++) {
            size_t nodes = o->nodes > 0 ? (size_t)o->nodes : sizes[k];
            if (o->nodes > 0 && k > 0) {
                break;
            }
            int n_reps = o->reps > 0 ? o->reps : reps[k];
            scalar_summary s = scalar_bench((pattern)pat, nodes, n_reps);
            double n = (double)nodes;
            int slot = o->nodes > 0 ? -1 : k;
            double t_node = s.total.median * 1e6 / n, b_node = (double)s.mem.peak / n;
            double r_node = s.rss_delta_kb >= 0 ? (double)s.rss_delta_kb * 1024 / n : NAN;
            if (slot >= 0) {
                ns[pat][slot] = t_node;
                bpn[pat][slot] = b_node;
                rpn[pat][slot] = r_node;
            }
            sum.median += s.total.median;
            sum.min += s.total.min;
            sum.max += s.total.max;
            sb_printf(&b, "%s{\"pattern\": \"%s\", \"nodes\": %zu, \"reps\": %d", done ? ", " : "",
                      pat == CHAIN ? "chain" : "dag", nodes, s.reps);
            sb_num(&b, "median_ms", s.total.median);
            sb_num(&b, "min_ms", s.total.min);
            sb_num(&b, "max_ms", s.total.max);
            sb_num(&b, "ns_per_node", t_node);
            sb_num(&b, "build_ms", s.build_ms);
            sb_num(&b, "forward_ms", s.fwd_ms);
            sb_num(&b, "grad_build_ms", s.gbuild_ms);
            sb_num(&b, "grad_run_ms", s.grun_ms);
            sb_num(&b, "free_ms", s.free_ms);
            sb_printf(&b, ", \"graph_nodes\": %zu", s.first.graph_nodes);
            sb_num(&b, "bytes_per_node", b_node);
            sb_printf(&b, ", \"rss_delta_kb\": %ld", s.rss_delta_kb);
            sb_num(&b, "rss_bytes_per_node", r_node);
            sb_num(&b, "loss", s.first.loss);
            sb_num(&b, "grad_p_sum", s.first.grad_sum);
            sb_printf(&b, "}");
            done++;
        }
    }
    sb_printf(&b, "]");
    put_header(r, o, "W5");
    put_stats(r, sum);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what",
            "scalar graphs of 1e4, 1e5, 1e6 op nodes, a chain (the W2 pattern) and a "
            "random DAG: build, forward, gradient build, gradient run; median_ms, "
            "min_ms and max_ms are sums over the configurations in sizes");
    put_num(r, "chain_time_ratio", ns[CHAIN][2] / ns[CHAIN][0]);
    put_num(r, "chain_mem_ratio", bpn[CHAIN][2] / bpn[CHAIN][0]);
    put_num(r, "chain_rss_ratio", rpn[CHAIN][2] / rpn[CHAIN][0]);
    put_num(r, "dag_time_ratio", ns[DAG][2] / ns[DAG][0]);
    put_num(r, "dag_mem_ratio", bpn[DAG][2] / bpn[DAG][0]);
    put_num(r, "dag_rss_ratio", rpn[DAG][2] / rpn[DAG][0]);
    put_str(r, "ratio_note",
            "ratios are per-node figures at 1e6 over those at 1e4; mem is the "
            "graph's peak allocated bytes (counting allocator), rss the peak RSS "
            "growth during the counted pass");
    put_raw(r, "sizes", b.s);
    free(b.s);
}

/* ======================================================================== */
/* W3: gradients of sum(A @ B) at 1024; W3b: of sum((A @ B) * R)           */
/* ======================================================================== */

/*
 * W3b's references in double: sum(dA) = sum_j colsum(R)_j colsum(B)_j and
 * sum(dB) = sum_i rowsum(A)_i rowsum(R)_i exactly, and the loss as
 * sum(A * (R Bᵀ)) with one double GEMM (BLIS's dgemm, 1e-13 relative).
 */
static void w3b_refs(const float *a, const float *b, const float *rw, double *loss, double *sda,
                     double *sdb)
{
    const size_t n = W3_N, nn = n * n;
    double *a64 = xmalloc(nn * sizeof *a64), *b64 = xmalloc(nn * sizeof *b64);
    double *r64 = xmalloc(nn * sizeof *r64), *da = xmalloc(nn * sizeof *da);
    for (size_t i = 0; i < nn; i++) {
        a64[i] = a[i];
        b64[i] = b[i];
        r64[i] = rw[i];
    }
    double one = 1, zero = 0;
    bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, (dim_t)n, (dim_t)n, (dim_t)n, &one, r64, (inc_t)n,
              1, b64, (inc_t)n, 1, &zero, da, (inc_t)n, 1);
    *loss = *sda = *sdb = 0;
    for (size_t i = 0; i < nn; i++) {
        *loss += a64[i] * da[i];
    }
    for (size_t j = 0; j < n; j++) {
        double cr = 0, cb = 0, ra = 0, rr = 0;
        for (size_t i = 0; i < n; i++) {
            cr += r64[i * n + j];
            cb += b64[i * n + j];
            ra += a64[j * n + i];
            rr += r64[j * n + i];
        }
        *sda += cr * cb;
        *sdb += ra * rr;
    }
    free(a64);
    free(b64);
    free(r64);
    free(da);
}

static void bench_w3(const options *o, report *r, bool weighted)
{
    const int warm = 3, reps = reps_or(o, 20);
    const size_t nn = (size_t)W3_N * W3_N;
    nb_graph *g = nb_graph_new();
    if (!g) {
        die(NULL, "out of memory");
    }
    nb_node *ab[2], *grads[2];
    ab[0] = nb_param(g, NB_DTYPE_F32, NB_SHAPE(W3_N, W3_N), nb_init_constant(0));
    ab[1] = nb_param(g, NB_DTYPE_F32, NB_SHAPE(W3_N, W3_N), nb_init_constant(0));
    nb_node *c = nb_matmul(g, ab[0], ab[1]);
    /* W3b: R a fixed input, so dC = R is no broadcast and both backward GEMMs run */
    nb_node *rw = weighted ? nb_input(g, NB_DTYPE_F32, NB_SHAPE(W3_N, W3_N)) : NULL;
    nb_node *loss = nb_sum(g, weighted ? nb_mul(g, c, rw) : c);
    nb_grad(g, loss, 2, ab, grads);
    if (nb_graph_status(g) != NB_OK) {
        die(g, weighted ? "building W3b" : "building W3");
    }
    float *a = sym_alloc(nn, 9, 1), *b = sym_alloc(nn, 10, 1);
    float *rv = weighted ? sym_alloc(nn, W3B_R_STREAM, 1) : NULL;
    if (nb_node_write(g, ab[0], a, nn) != NB_OK || nb_node_write(g, ab[1], b, nn) != NB_OK ||
        (rw && nb_node_write(g, rw, rv, nn) != NB_OK)) {
        die(g, "writing W3's data");
    }
    double ref_loss = 0, ref_da = 0, ref_db = 0;
    if (weighted) {
        w3b_refs(a, b, rv, &ref_loss, &ref_da, &ref_db);
    } else {
        /* exact references in double: sum(AB) = Σ_k colsum(A)_k rowsum(B)_k */
        double sum_a = 0, sum_b = 0;
        for (size_t k = 0; k < W3_N; k++) {
            double ca = 0, rb = 0;
            for (size_t i = 0; i < W3_N; i++) {
                ca += a[i * W3_N + k];
                rb += b[k * W3_N + i];
            }
            ref_loss += ca * rb;
            sum_a += ca;
            sum_b += rb;
        }
        ref_da = W3_N * sum_b;
        ref_db = W3_N * sum_a;
    }
    free(a);
    free(b);
    free(rv);
    nb_node *outs[3] = { loss, grads[0], grads[1] };
    /* a first run plans and sizes the workspace; the peak RSS is read before the reference
       GEMM's buffers exist */
    if (nb_graph_run(g, 3, outs) != NB_OK) {
        die(g, "W3 run");
    }
    long rss = peak_rss_kb();
    w3_gemm s = w3_gemm_new(weighted);
    double *t = xmalloc((size_t)reps * sizeof *t), *tg = xmalloc((size_t)reps * sizeof *tg);
    for (int i = 1 - warm; i < reps; i++) {
        double t0 = now_ms();
        if (nb_graph_run(g, 3, outs) != NB_OK) {
            die(g, "W3 run");
        }
        double t1 = now_ms();
        if (!o->no_blis_ref) {
            w3_gemms(&s);
        }
        double t2 = now_ms();
        if (i >= 0) {
            t[i] = t1 - t0;
            tg[i] = t2 - t1;
        }
    }
    stats st = stats_of(t, reps), sg = stats_of(tg, reps);
    if (o->no_blis_ref) {
        sg = (stats){ NAN, NAN, NAN };
    }
    /* the median of the per-pair ratios, which a slow stretch of the machine moves less */
    double *pr = xmalloc((size_t)reps * sizeof *pr);
    for (int i = 0; i < reps; i++) {
        pr[i] = t[i] / tg[i];
    }
    double pair_ratio = o->no_blis_ref ? NAN : stats_of(pr, reps).median;
    free(pr);
    double sda = 0, sdb = 0;
    const float *da = nb_node_data(grads[0]), *db = nb_node_data(grads[1]);
    for (size_t i = 0; i < nn; i++) {
        sda += da[i];
        sdb += db[i];
    }
    nb_memory_stats mem;
    nb_graph_memory(g, &mem);
    put_header(r, o, weighted ? "W3b" : "W3");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", rss);
    put_str(r, "what",
            weighted ? "one run of loss = sum((A @ B) * R), R a fixed [1024,1024] input, and its "
                       "gradients for A and B, 1024x1024 f32"
                     : "one run of loss = sum(A @ B) and its gradients for A and B, 1024x1024 f32");
    put_int(r, "reps", reps);
    put_int(r, "warmup", warm);
    put_num(r, "gflops", w3_flops() / (st.median * 1e6));
    put_num(r, "blis_gemm_median_ms", sg.median);
    put_num(r, "blis_gemm_min_ms", sg.min);
    put_num(r, "blis_gflops", w3_flops() / (sg.median * 1e6));
    put_num(r, "ratio_to_blis", st.median / sg.median);
    put_num(r, "pair_ratio_median", pair_ratio);
    /* f32 sums of a million products: a relative tolerance of 1e-3 of the reference */
    check(r, "loss", "loss_ref", "loss_match", *(const float *)nb_node_data(loss), ref_loss, 1e-3);
    check(r, "grad_a_sum", "grad_a_sum_ref", "grad_a_sum_match", sda, ref_da, 1e-3);
    check(r, "grad_b_sum", "grad_b_sum_ref", "grad_b_sum_match", sdb, ref_db, 1e-3);
    put_str(r, "ref_source",
            weighted ? "double sums: sum(dA) = sum_j colsum(R)_j colsum(B)_j, sum(dB) = "
                       "sum_i rowsum(A)_i rowsum(R)_i (exact), loss = sum(A * (R Bt)) with a "
                       "double GEMM"
                     : "exact double sums: sum(AB) = sum_k colsum(A)_k rowsum(B)_k, "
                       "sum(dA) = 1024 sum(B), sum(dB) = 1024 sum(A)");
    put_int(r, "workspace_bytes", (long long)mem.workspace_bytes);
    put_int(r, "graph_nodes", (long long)nb_graph_node_count(g));
    free(t);
    free(tg);
    w3_gemm_free(&s);
    nb_graph_free(g);
}

/* ======================================================================== */
/* W4: logistic regression, 1000 full-batch SGD steps                      */
/* ======================================================================== */

static void bench_w4(const options *o, report *r)
{
    enum { N = 1797, D = 64, STEPS = 1000 };
    const int reps = reps_or(o, 11);
    float *xs = sym_alloc((size_t)N * D, 11, 1), *v = sym_alloc(D, 12, 1);
    float ys[N];
    for (int i = 0; i < N; i++) {
        double z = 0;
        for (int k = 0; k < D; k++) {
            z += (double)xs[i * D + k] * v[k];
        }
        ys[i] = z > 0 ? 1.0f : 0.0f;
    }
    nb_graph *g = nb_graph_new();
    if (!g) {
        die(NULL, "out of memory");
    }
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(N, D));
    nb_node *y = nb_input(g, NB_DTYPE_F32, NB_SHAPE(N, 1));
    nb_node *p[2], *grads[2];
    p[0] = nb_param(g, NB_DTYPE_F32, NB_SHAPE(D, 1), nb_init_constant(0));
    p[1] = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0));
    nb_node *z = nb_add(g, nb_matmul(g, x, p[0]), p[1]);
    /* mean binary cross-entropy of sigmoid(z), in its stable form on the logits */
    nb_node *loss = nb_bce_logits(g, z, y);
    nb_grad(g, loss, 2, p, grads);
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_SGD);
    oo.lr = 0.1;
    nb_optim *opt = nb_optim_new(g, loss, 2, p, grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building W4");
    }
    if (nb_node_write(g, x, xs, (size_t)N * D) != NB_OK || nb_node_write(g, y, ys, N) != NB_OK) {
        die(g, "writing W4's data");
    }
    float zeros[D] = { 0 };
    double *t = xmalloc((size_t)(reps + 1) * sizeof *t), last_loss = NAN;
    for (int i = -1; i < reps; i++) { /* one warm-up pass */
        if (nb_node_write(g, p[0], zeros, D) != NB_OK ||
            nb_node_write(g, p[1], zeros, 1) != NB_OK) {
            die(g, "resetting W4");
        }
        double t0 = now_ms();
        for (int k = 0; k < STEPS; k++) {
            if (nb_optim_step(opt) != NB_OK) {
                die(g, "W4 step");
            }
        }
        double dt = now_ms() - t0;
        last_loss = nb_optim_loss(opt);
        if (i >= 0) {
            t[i] = dt;
        }
    }
    stats st = stats_of(t, reps);
    long rss = peak_rss_kb();
    /* after the last update: the loss and the accuracy of the trained model */
    nb_node *outs[2] = { loss, z };
    if (nb_graph_run(g, 2, outs) != NB_OK) {
        die(g, "W4 evaluation");
    }
    double loss_after = *(const float *)nb_node_data(loss);
    const float *zv = nb_node_data(z);
    int hits = 0;
    for (int i = 0; i < N; i++) {
        hits += (zv[i] > 0) == (ys[i] == 1);
    }
    put_header(r, o, "W4");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", rss);
    put_str(r, "what", "1000 full-batch SGD steps (lr 0.1) of logistic regression on 1797x64");
    put_int(r, "reps", reps);
    put_num(r, "us_per_step", st.median * 1e3 / STEPS);
    check(r, "final_loss", "final_loss_ref", "final_loss_match", last_loss, 0.173087, 1e-4);
    put_num(r, "loss_after_last_update", loss_after);
    check(r, "accuracy", "accuracy_ref", "accuracy_match", (double)hits / N, 0.9783, 1e-4);
    put_num(r, "ref_rtol", 1e-4);
    put_str(r, "ref_note", "final_loss is the loss computed by step 1000, before its update");
    free(t);
    free(xs);
    free(v);
    nb_optim_free(opt);
    nb_graph_free(g);
}

/*
 * W6: one LeNet-5 training step (forward, gradient, Adam update) at batch 64
 * of 1x28x28, as examples/mnist_cnn.c builds it: conv 5x5 to 6 with padding
 * 2, ReLU, max-pool 2, conv 5x5 to 16, ReLU, max-pool 2, dense 400-120-84-10.
 * Data and weights from the shared generator, as bench/torch_bench.py's twin.
 */
static void bench_w6(const options *o, report *r)
{
    enum { B = 64, NP = 10 };
    const int warm = 10, reps = reps_or(o, 100);
    nb_graph *g = nb_graph_new();
    if (!g) {
        die(NULL, "out of memory");
    }
    static const struct {
        int rank;
        int64_t shape[4];
        int fan_in;
    } ps[NP] = {
        { 4, { 6, 1, 5, 5 }, 25 }, { 1, { 6 }, 25 },         { 4, { 16, 6, 5, 5 }, 150 },
        { 1, { 16 }, 150 },        { 2, { 120, 400 }, 400 }, { 1, { 120 }, 400 },
        { 2, { 84, 120 }, 120 },   { 1, { 84 }, 120 },       { 2, { 10, 84 }, 84 },
        { 1, { 10 }, 84 },
    };
    nb_node *p[NP], *grads[NP];
    for (int k = 0; k < NP; k++) {
        p[k] = nb_param(g, NB_DTYPE_F32, ps[k].rank, ps[k].shape, nb_init_constant(0));
    }
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(B, 1, 28, 28));
    nb_node *labels = nb_input(g, NB_DTYPE_I32, NB_SHAPE(B));
    nb_node *h = nb_conv2d(g, x, p[0], p[1], &(nb_conv_opts){ .padding = { 2, 2 } });
    h = nb_max_pool2d(g, nb_relu(g, h), 2, 2, 2, 2, 0, 0);
    h = nb_conv2d(g, h, p[2], p[3], NULL);
    h = nb_max_pool2d(g, nb_relu(g, h), 2, 2, 2, 2, 0, 0);
    h = nb_reshape(g, h, NB_SHAPE(B, 400));
    h = nb_relu(g, nb_add(g, nb_matmul_ex(g, h, p[4], NB_TRANS_B), p[5]));
    h = nb_relu(g, nb_add(g, nb_matmul_ex(g, h, p[6], NB_TRANS_B), p[7]));
    nb_node *logits = nb_add(g, nb_matmul_ex(g, h, p[8], NB_TRANS_B), p[9]);
    nb_node *loss = nb_cross_entropy(g, logits, labels);
    nb_grad(g, loss, NP, p, grads);
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_ADAM);
    nb_optim *opt = nb_optim_new(g, loss, NP, p, grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building W6");
    }
    float *xs = sym_alloc((size_t)B * 28 * 28, 61, 1);
    int32_t ys[B];
    for (int i = 0; i < B; i++) {
        ys[i] = (int32_t)floor(gen_u(62, (uint64_t)i) * 10);
    }
    if (nb_node_write(g, x, xs, (size_t)B * 28 * 28) != NB_OK ||
        nb_node_write(g, labels, ys, B) != NB_OK) {
        die(g, "writing W6's data");
    }
    free(xs);
    for (int k = 0; k < NP; k++) {
        size_t n = nb_node_size(p[k]);
        float *v = sym_alloc(n, (uint32_t)(63 + k), 1 / sqrt((double)ps[k].fan_in));
        if (nb_node_write(g, p[k], v, n) != NB_OK) {
            die(g, "writing W6's parameters");
        }
        free(v);
    }
    double *t = xmalloc((size_t)reps * sizeof *t), loss0 = NAN, loss9 = NAN;
    for (int i = -warm; i < reps; i++) {
        double t0 = now_ms();
        if (nb_optim_step(opt) != NB_OK) {
            die(g, "W6 step");
        }
        double dt = now_ms() - t0;
        loss0 = i == -warm ? nb_optim_loss(opt) : loss0;
        loss9 = i == -warm + 9 ? nb_optim_loss(opt) : loss9;
        if (i >= 0) {
            t[i] = dt;
        }
    }
    stats st = stats_of(t, reps);
    double n = B, conv = 2 * n * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150);
    double dense = 2 * n * (400 * 120 + 120 * 84 + 84 * 10);
    double flops = 3 * (conv + dense) - 2 * n * 6 * 28 * 28 * 25; /* no gradient for x */
    put_header(r, o, "W6");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what",
            "one LeNet-5 training step (forward, gradient, Adam update), batch 64 of 1x28x28, "
            "via nb_optim_step");
    put_int(r, "reps", reps);
    put_int(r, "warmup", warm);
    check(r, "loss_step0", "loss_step0_ref", "loss_step0_match", loss0, 2.316288, 1e-4);
    check(r, "loss_step9", "loss_step9_ref", "loss_step9_match", loss9, 2.208669, 1e-4);
    put_num(r, "ref_rtol", 1e-4);
    put_num(r, "gflops", flops / (st.median * 1e6));
    free(t);
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* W7: one training step of the names model (embedding, LSTM, linear, Adam)  */
/* ======================================================================== */

enum { W7_B = 64, W7_T = 16, W7_V = 27, W7_E = 32, W7_H = 128 };

/*
 * One LSTM step from pre-activations s [B, 4H] (gates i, f, g, o as
 * PyTorch stacks them), as layers/rnn.c writes it.
 */
static void w7_gates(nb_graph *g, nb_node *s, nb_node *c, nb_node **h_out, nb_node **c_out)
{
    nb_node *i = nb_sigmoid(g, nb_slice(g, s, -1, 0, W7_H, 1));
    nb_node *f = nb_sigmoid(g, nb_slice(g, s, -1, W7_H, 2 * W7_H, 1));
    nb_node *gg = nb_tanh(g, nb_slice(g, s, -1, 2 * W7_H, 3 * W7_H, 1));
    nb_node *o = nb_sigmoid(g, nb_slice(g, s, -1, 3 * W7_H, 4 * W7_H, 1));
    *c_out = nb_add(g, nb_mul(g, f, c), nb_mul(g, i, gg));
    *h_out = nb_mul(g, o, nb_tanh(g, *c_out));
}

/*
 * The LSTM over x [B, T, E] in one of the forms the bench compares:
 * "cells": nb_lstm_unroll, the library's cells;
 * "two": two products a step, x_t W_ihᵀ + b_ih and h W_hhᵀ + b_hh, added;
 * "fused": one product a step, [x_t, h] [B, E+H] times [W_ih, W_hh]ᵀ (the
 *   weights joined once per run, the biases summed once);
 * "hoisted": x W_ihᵀ + b_ih for all steps in one [B*T, E] x [E, 4H] product,
 *   then h W_hhᵀ per step (what cuDNN and PyTorch's CPU LSTM do).
 */
static nb_node *w7_lstm(nb_graph *g, const char *form, const nb_lstm_cell *cell, nb_node *x)
{
    if (strcmp(form, "cells") == 0) {
        return nb_lstm_unroll(g, cell, x, NULL, NULL, NULL, NULL, NULL);
    }
    bool fused = strcmp(form, "fused") == 0, two = strcmp(form, "two") == 0;
    if (!fused && !two && strcmp(form, "hoisted") != 0) {
        fprintf(stderr, "nabla-bench: W7 --form is cells, two, fused, hoisted or ab, not '%s'\n",
                form);
        exit(2);
    }
    nb_node *h = nb_fill(g, NB_DTYPE_F32, NB_SHAPE(W7_B, W7_H), 0), *c = h;
    nb_node *w2[2] = { cell->weight_ih, cell->weight_hh };
    nb_node *w = fused ? nb_concat(g, 2, w2, 1) : NULL; /* [4H, E+H] */
    nb_node *b = two ? NULL : nb_add(g, cell->bias_ih, cell->bias_hh);
    nb_node *xw = NULL;
    if (!fused && !two) {
        nb_node *x2 = nb_reshape(g, x, NB_SHAPE(W7_B * W7_T, W7_E));
        xw = nb_reshape(g, nb_add(g, nb_matmul_ex(g, x2, cell->weight_ih, NB_TRANS_B), b),
                        NB_SHAPE(W7_B, W7_T, 4 * W7_H));
    }
    nb_node *outs[W7_T];
    for (int t = 0; t < W7_T; t++) {
        nb_node *s;
        nb_node *xt = nb_reshape(g, nb_slice(g, x, 1, t, t + 1, 1), NB_SHAPE(W7_B, W7_E));
        if (fused) {
            nb_node *xh[2] = { xt, h };
            s = nb_add(g, nb_matmul_ex(g, nb_concat(g, 2, xh, 1), w, NB_TRANS_B), b);
        } else if (two) {
            s = nb_add(g,
                       nb_add(g, nb_matmul_ex(g, xt, cell->weight_ih, NB_TRANS_B), cell->bias_ih),
                       nb_add(g, nb_matmul_ex(g, h, cell->weight_hh, NB_TRANS_B), cell->bias_hh));
        } else {
            nb_node *st = nb_reshape(g, nb_slice(g, xw, 1, t, t + 1, 1), NB_SHAPE(W7_B, 4 * W7_H));
            s = nb_add(g, st, nb_matmul_ex(g, h, cell->weight_hh, NB_TRANS_B));
        }
        w7_gates(g, s, c, &h, &c);
        outs[t] = nb_reshape(g, h, NB_SHAPE(W7_B, 1, W7_H));
    }
    return nb_concat(g, W7_T, outs, 1);
}

/*
 * BLIS alone at the GEMM shapes of one W7 step in the fused form: per time
 * step [x, h] W^T, its input gradient dS W and weight gradient dS^T [x, h];
 * the output layer's three products over all B*T rows.
 */
typedef struct w7_gemm {
    float *xh, *w, *s, *ds, *dxh, *dw, *h, *wo, *z, *dz, *dh, *dwo;
} w7_gemm;

static w7_gemm w7_gemm_new(void)
{
    const size_t XH = W7_E + W7_H, G = 4 * W7_H, R = (size_t)W7_B * W7_T;
    w7_gemm m = {
        sym_alloc(W7_B * XH, 40, 1), sym_alloc(G * XH, 41, 0.1),      aligned_floats(W7_B * G),
        sym_alloc(W7_B * G, 42, 1),  aligned_floats(W7_B * XH),       aligned_floats(G * XH),
        sym_alloc(R * W7_H, 43, 1),  sym_alloc(W7_V * W7_H, 44, 0.1), aligned_floats(R * W7_V),
        sym_alloc(R * W7_V, 45, 1),  aligned_floats(R * W7_H),        aligned_floats(W7_V * W7_H),
    };
    return m;
}

static void w7_gemm_free(w7_gemm *m)
{
    float *all[12] = { m->xh, m->w,  m->s, m->ds, m->dxh, m->dw,
                       m->h,  m->wo, m->z, m->dz, m->dh,  m->dwo };
    for (int i = 0; i < 12; i++) {
        free(all[i]);
    }
}

static void w7_gemms(const w7_gemm *m)
{
    const trans_t N = BLIS_NO_TRANSPOSE, T = BLIS_TRANSPOSE;
    const dim_t XH = W7_E + W7_H, G = 4 * W7_H, R = (dim_t)W7_B * W7_T;
    for (int t = 0; t < W7_T; t++) {
        sgemm(N, T, W7_B, G, XH, m->xh, XH, m->w, XH, m->s, G);
        sgemm(N, N, W7_B, XH, G, m->ds, G, m->w, XH, m->dxh, XH);
        sgemm(T, N, G, XH, W7_B, m->ds, G, m->xh, XH, m->dw, XH);
    }
    sgemm(N, T, R, W7_V, W7_H, m->h, W7_H, m->wo, W7_H, m->z, W7_V);
    sgemm(N, N, R, W7_H, W7_V, m->dz, W7_V, m->wo, W7_H, m->dh, W7_H);
    sgemm(T, N, W7_V, W7_H, R, m->dz, W7_V, m->h, W7_H, m->dwo, W7_H);
}

/* One names model in its own graph, with its optimizer, ready to step. */
typedef struct w7_model {
    nb_graph *g;
    nb_optim *opt;
} w7_model;

static w7_model w7_build(const char *form)
{
    nb_graph *g = nb_graph_new();
    if (!g) {
        die(NULL, "out of memory");
    }
    nb_embedding_layer emb = nb_embedding_layer_new(g, "embed", NB_DTYPE_F32, W7_V, W7_E);
    nb_lstm_cell cell = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F32, W7_E, W7_H);
    nb_linear out = nb_linear_new(g, "out", NB_DTYPE_F32, W7_H, W7_V, true);
    nb_node *ids = nb_input(g, NB_DTYPE_I32, NB_SHAPE(W7_B, W7_T));
    nb_node *targets = nb_input(g, NB_DTYPE_I32, NB_SHAPE(W7_B * W7_T));
    nb_node *p[7] = { emb.weight,   cell.weight_ih, cell.weight_hh, cell.bias_ih,
                      cell.bias_hh, out.weight,     out.bias };
    nb_node *grads[7];
    nb_node *h = w7_lstm(g, form, &cell, nb_embedding_layer_apply(g, &emb, ids));
    nb_node *logits = nb_reshape(g, nb_linear_apply(g, &out, h), NB_SHAPE(W7_B * W7_T, W7_V));
    nb_node *loss = nb_cross_entropy_ignore(g, logits, targets, -1);
    nb_grad(g, loss, 7, p, grads);
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_ADAM);
    oo.lr = 3e-3;
    oo.clip_norm = 5;
    nb_optim *opt = nb_optim_new(g, loss, 7, p, grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building W7");
    }
    /* data: ids floor(27 u(30)), targets floor(27 u(31)); parameters sym(32..38) */
    int32_t xs[W7_B * W7_T], ys[W7_B * W7_T];
    for (int i = 0; i < W7_B * W7_T; i++) {
        xs[i] = (int32_t)floor(gen_u(30, (uint64_t)i) * W7_V);
        ys[i] = (int32_t)floor(gen_u(31, (uint64_t)i) * W7_V);
    }
    if (nb_node_write(g, ids, xs, W7_B * W7_T) != NB_OK ||
        nb_node_write(g, targets, ys, W7_B * W7_T) != NB_OK) {
        die(g, "writing W7's data");
    }
    for (int k = 0; k < 7; k++) {
        size_t n = nb_node_size(p[k]);
        float *v = sym_alloc(n, (uint32_t)(32 + k), k == 0 ? 1 : 1 / sqrt((double)W7_H));
        if (nb_node_write(g, p[k], v, n) != NB_OK) {
            die(g, "writing W7's parameters");
        }
        free(v);
    }
    return (w7_model){ g, opt };
}

static double w7_step(const w7_model *m)
{
    double t0 = now_ms();
    if (nb_optim_step(m->opt) != NB_OK) {
        die(m->g, "W7 step");
    }
    return now_ms() - t0;
}

/*
 * --form ab: the four forms in one process, one step of each in turn, so
 * that they share the machine's noise; reports each form's median and the
 * ratios to the library's cells.
 */
static void bench_w7_ab(const options *o, report *r)
{
    enum { FORMS = 4 };
    const char *forms[FORMS] = { "cells", "two", "fused", "hoisted" };
    const int warm = 20, reps = reps_or(o, 200);
    w7_model m[FORMS];
    double *t[FORMS];
    for (int k = 0; k < FORMS; k++) {
        m[k] = w7_build(forms[k]);
        t[k] = xmalloc((size_t)reps * sizeof *t[k]);
    }
    for (int i = -warm; i < reps; i++) {
        for (int k = 0; k < FORMS; k++) {
            double dt = w7_step(&m[k]);
            if (i >= 0) {
                t[k][i] = dt;
            }
        }
    }
    stats st[FORMS];
    for (int k = 0; k < FORMS; k++) {
        st[k] = stats_of(t[k], reps);
    }
    put_header(r, o, "W7");
    put_stats(r, st[0]);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_str(r, "what", "W7's step in four forms, one step of each in turn");
    put_int(r, "reps", reps);
    static const char *const keys[FORMS][2] = { { "cells_median_ms", "cells_loss" },
                                                { "two_median_ms", "two_loss" },
                                                { "fused_median_ms", "fused_loss" },
                                                { "hoisted_median_ms", "hoisted_loss" } };
    for (int k = 0; k < FORMS; k++) {
        put_num(r, keys[k][0], st[k].median);
    }
    put_num(r, "fused_over_two", st[2].median / st[1].median);
    put_num(r, "hoisted_over_two", st[3].median / st[1].median);
    put_num(r, "cells_over_two", st[0].median / st[1].median);
    for (int k = 0; k < FORMS; k++) {
        put_num(r, keys[k][1], nb_optim_loss(m[k].opt));
        free(t[k]);
        nb_optim_free(m[k].opt);
        nb_graph_free(m[k].g);
    }
}

static void bench_w7(const options *o, report *r)
{
    const char *form = o->form ? o->form : "cells";
    if (strcmp(form, "ab") == 0) {
        bench_w7_ab(o, r);
        return;
    }
    const int warm = 20, reps = reps_or(o, 200);
    w7_model m = w7_build(form);
    double *t = xmalloc((size_t)reps * sizeof *t);
    double loss0 = NAN, loss_last = NAN;
    for (int i = -warm; i < reps; i++) {
        double dt = w7_step(&m);
        loss0 = i == -warm ? nb_optim_loss(m.opt) : loss0;
        loss_last = nb_optim_loss(m.opt);
        if (i >= 0) {
            t[i] = dt;
        }
    }
    stats st = stats_of(t, reps);
    long rss = peak_rss_kb();
    nb_memory_stats mem;
    nb_graph_memory(m.g, &mem);
    /* the same step against BLIS's 51 GEMMs alone, alternating (as W1) */
    const int ab_reps = o->no_blis_ref ? 0 : o->reps > 0 ? o->reps : 100;
    w7_gemm gm = w7_gemm_new();
    double *ts = xmalloc((size_t)(ab_reps + 1) * sizeof *ts);
    double *tg = xmalloc((size_t)(ab_reps + 1) * sizeof *tg);
    for (int i = ab_reps ? -5 : 0; i < ab_reps; i++) {
        double dt = w7_step(&m), t1 = now_ms();
        w7_gemms(&gm);
        if (i >= 0) {
            ts[i] = dt;
            tg[i] = now_ms() - t1;
        }
    }
    stats ab_step = { NAN, NAN, NAN }, ab_gemm = { NAN, NAN, NAN };
    if (ab_reps > 0) {
        ab_step = stats_of(ts, ab_reps);
        ab_gemm = stats_of(tg, ab_reps);
    }
    put_header(r, o, "W7");
    put_stats(r, st);
    put_int(r, "peak_rss_kb", rss);
    put_str(r, "what",
            "one training step (forward, backward, clip 5, Adam lr 3e-3) of the names model: "
            "embedding 27x32, LSTM 128 over T=16, linear to 27, batch 64, via nb_optim_step");
    put_str(r, "form", form);
    put_int(r, "reps", reps);
    put_int(r, "warmup", warm);
    check(r, "loss_step0", "loss_step0_ref", "loss_step0_match", loss0, 3.297356, 1e-4);
    put_num(r, "loss_last_step", loss_last);
    put_num(r, "ref_rtol", 1e-4);
    put_int(r, "ab_reps", ab_reps);
    put_num(r, "ab_step_median_ms", ab_step.median);
    put_num(r, "blis_gemm_median_ms", ab_gemm.median);
    put_num(r, "blis_gemm_min_ms", ab_gemm.min);
    put_num(r, "ratio_to_blis", ab_step.median / ab_gemm.median);
    put_int(r, "graph_nodes", (long long)nb_graph_node_count(m.g));
    put_int(r, "workspace_bytes", (long long)mem.workspace_bytes);
    free(t);
    free(ts);
    free(tg);
    w7_gemm_free(&gm);
    nb_optim_free(m.opt);
    nb_graph_free(m.g);
}

/* ======================================================================== */
/* W8: W1's MLP trained data-parallel, global batch 256 (docs/distributed.md) */
/* ======================================================================== */

/*
 * Under `mpirun -np P nabla-bench W8` each process runs the W1 MLP on its
 * 256 / P rows of one global batch with the distributed SGD optimizer; alone
 * it runs all 256. Two optimizers over the same graph alternate step by
 * step: one all-reduces in 1 MiB buckets while the gradient run goes on,
 * the other in one all-reduce after it, so the overlap is measured in the
 * same conditions. Rank 0 reports.
 */
enum { W8_B = 256 };

static void bench_w8(const options *o, report *r)
{
    if (nb_dist_init(NULL, NULL) != NB_OK) {
        fprintf(stderr, "nabla-bench: %s\n", nb_dist_error());
        exit(2);
    }
    int rank = nb_dist_rank(), size = nb_dist_size();
    if (rank != 0 && !freopen("/dev/null", "w", stdout)) {
        exit(2);
    }
    if (o->shard_of > 0 && size > 1) {
        fprintf(stderr,
                "nabla-bench: W8 --shard-of runs one process's shard alone, not under mpirun\n");
        exit(2);
    }
    const int warm = 10, reps = reps_or(o, 100);
    /* --shard-of P: rank 0's rows of P processes, alone: a shard's step without the all-reduce */
    int parts = o->shard_of > 0 ? o->shard_of : size;
    int lo = W8_B * rank / parts, rows = W8_B * (rank + 1) / parts - lo;
    nb_graph *g = nb_graph_new();
    if (!g) {
        die(NULL, "out of memory");
    }
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(rows, W1_IN));
    nb_node *labels = nb_input(g, NB_DTYPE_I32, NB_SHAPE(rows));
    const int64_t shapes[6][2] = {
        { W1_H, W1_IN }, { W1_H, 0 }, { W1_H, W1_H }, { W1_H, 0 }, { W1_OUT, W1_H }, { W1_OUT, 0 },
    };
    nb_node *p[6], *grads[6];
    for (int k = 0; k < 6; k++) {
        p[k] = nb_param(g, NB_DTYPE_F32, shapes[k][1] ? 2 : 1, shapes[k], nb_init_constant(0));
    }
    nb_node *h1 = nb_relu(g, nb_add(g, nb_matmul_ex(g, x, p[0], NB_TRANS_B), p[1]));
    nb_node *h2 = nb_relu(g, nb_add(g, nb_matmul_ex(g, h1, p[2], NB_TRANS_B), p[3]));
    nb_node *logits = nb_add(g, nb_matmul_ex(g, h2, p[4], NB_TRANS_B), p[5]);
    nb_node *loss = nb_cross_entropy(g, logits, labels);
    nb_grad(g, loss, 6, p, grads);
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_SGD);
    oo.lr = 0.01;
    oo.distributed = true;
    nb_optim *buckets = nb_optim_new(g, loss, 6, p, grads, &oo);
    oo.dist_bucket_bytes = SIZE_MAX;
    nb_optim *single = nb_optim_new(g, loss, 6, p, grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building W8");
    }
    /* this process's rows of the global batch (W1's generator, so one process sees W1's data) */
    float *xs = sym_alloc((size_t)W8_B * W1_IN, 1, 1);
    int32_t ys[W8_B];
    for (int i = 0; i < W8_B; i++) {
        ys[i] = (int32_t)floor(gen_u(2, (uint64_t)i) * 10);
    }
    if (nb_node_write(g, x, xs + (size_t)lo * W1_IN, (size_t)rows * W1_IN) != NB_OK ||
        nb_node_write(g, labels, ys + lo, (size_t)rows) != NB_OK) {
        die(g, "writing W8's data");
    }
    free(xs);
    const double scales[6] = { 1 / sqrt(784.0), 1 / sqrt(784.0), 1 / sqrt(512.0),
                               1 / sqrt(512.0), 1 / sqrt(512.0), 1 / sqrt(512.0) };
    for (int k = 0; k < 6; k++) {
        size_t n = nb_node_size(p[k]);
        float *v = sym_alloc(n, (uint32_t)(3 + k), scales[k]);
        if (nb_node_write(g, p[k], v, n) != NB_OK) {
            die(g, "writing W8's parameters");
        }
        free(v);
    }
    double *tb = xmalloc((size_t)reps * sizeof *tb), *ts = xmalloc((size_t)reps * sizeof *ts);
    double loss0 = NAN;
    for (int i = -warm; i < reps; i++) {
        double t0 = now_ms();
        if (nb_optim_step(buckets) != NB_OK) {
            die(g, "W8 step");
        }
        double t1 = now_ms();
        if (nb_optim_step(single) != NB_OK) {
            die(g, "W8 step");
        }
        double t2 = now_ms();
        loss0 = i == -warm ? nb_optim_loss(buckets) : loss0;
        if (i >= 0) {
            tb[i] = t1 - t0;
            ts[i] = t2 - t1;
        }
    }
    double l = loss0;
    nb_dist_sum(&l, 1); /* the first step's global loss: the mean of equal shards' means */
    stats sb = stats_of(tb, reps), ss = stats_of(ts, reps);
    put_header(r, o, "W8");
    put_stats(r, sb);
    put_int(r, "peak_rss_kb", peak_rss_kb());
    put_int(r, "processes", size);
    put_int(r, "rows_per_process", rows);
    put_str(r, "what",
            "one data-parallel SGD step of W1's MLP 784-512-512-10 on a global batch of 256 "
            "(256 / processes rows each), gradients all-reduced in 1 MiB buckets during the "
            "gradient run");
    put_int(r, "reps", reps);
    put_num(r, "examples_per_s", (double)rows * size / (sb.median * 1e-3));
    put_num(r, "one_allreduce_median_ms", ss.median);
    put_num(r, "overlap_saves_ms", ss.median - sb.median);
    put_num(r, "loss_step0", o->shard_of > 0 ? l : l / size);
    put_num(r, "allreduce_bytes_per_step",
            (double)(W1_H * W1_IN + W1_H + W1_H * W1_H + W1_H + W1_OUT * W1_H + W1_OUT) * 4);
    free(tb);
    free(ts);
    nb_optim_free(buckets);
    nb_optim_free(single);
    nb_graph_free(g);
    nb_dist_finalize();
}

/* ======================================================================== */
/* main                                                                     */
/* ======================================================================== */

static void usage(FILE *f)
{
    fprintf(f, "usage: nabla-bench WORKLOAD [--threads N] [--json] [--reps N]\n"
               "                   [--nodes N] [--pattern chain|dag] [--no-blis-ref] "
               "[--no-simplify] [--reuse] [--form F] [--shard-of P]\n"
               "  WORKLOAD     W1 (MLP step), W2 (scalar graph), W3 (gradient of sum(A @ B)),\n"
               "               W3b (of sum((A @ B) * R): both backward GEMMs),\n"
               "               W4 (logistic regression), W5 (scaling), W6 (LeNet-5 step),\n"
               "               W7 (names LSTM step), gemm-w1, gemm-w3,\n"
               "               W8 (W1 data-parallel, under mpirun -np P)\n"
               "  --threads N  BLIS threads (default 1)\n"
               "  --json       print one JSON object instead of text\n"
               "  --reps N     timed repetitions instead of the workload's default\n"
               "  --nodes N    W5: only graphs of N op nodes (for profiling)\n"
               "  --pattern P  W5: only the chain or only the random DAG\n"
               "  --no-blis-ref  W1, W3, W3b, W7: time nabla alone, without the alternating BLIS\n"
               "               reference (for profiling; the ratio fields are then null)\n"
               "  --no-simplify  W2, W5: nb_grad without the graph simplifier (what it costs)\n"
               "  --reuse      W2, W5: time the passes on one graph, reset between them\n");
    fprintf(f,
            "  --form F     W7: the LSTM as the library's cells (the default), two\n"
            "               (x W_ih and h W_hh a step), fused ([x, h] times [W_ih, W_hh],\n"
            "               one product a step), hoisted (x W_ih for all steps in one\n"
            "               product), or ab: the four in turn, one step each;\n"
            "               W1: study, the step and BLIS's GEMMs alone, interleaved,\n"
            "               cold and page-aligned, in rotating blocks (--reps: cycles)\n"
            "  --shard-of P W8 in one process: only the first of P processes' rows (a\n"
            "               shard's step with nothing to all-reduce: the ideal P-process step)\n");
}

int main(int argc, char **argv)
{
    options o = { .threads = 1 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (strcmp(a, "--threads") == 0 && v && atoi(v) > 0) {
            o.threads = atoi(v);
            i++;
        } else if (strcmp(a, "--reps") == 0 && v && atoi(v) > 0) {
            o.reps = atoi(v);
            i++;
        } else if (strcmp(a, "--nodes") == 0 && v && atol(v) >= 4) {
            o.nodes = atol(v);
            i++;
        } else if (strcmp(a, "--pattern") == 0 && v &&
                   (strcmp(v, "chain") == 0 || strcmp(v, "dag") == 0)) {
            o.pattern = v;
            i++;
        } else if (strcmp(a, "--form") == 0 && v) {
            o.form = v;
            i++;
        } else if (strcmp(a, "--shard-of") == 0 && v && atoi(v) > 0 && atoi(v) <= 256) {
            o.shard_of = atoi(v);
            i++;
        } else if (strcmp(a, "--no-blis-ref") == 0) {
            o.no_blis_ref = true;
        } else if (strcmp(a, "--no-simplify") == 0) {
            no_simplify = true;
        } else if (strcmp(a, "--reuse") == 0) {
            reuse_graph = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-' && !o.workload) {
            o.workload = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!o.workload) {
        usage(stderr);
        return 2;
    }
    char w[16];
    snprintf(w, sizeof w, "%s", o.workload);
    for (char *c = w; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    set_threads(o.threads);
    report r = { .all_match = true };
    if (strcmp(w, "w1") == 0) {
        bench_w1(&o, &r);
    } else if (strcmp(w, "w2") == 0) {
        bench_w2(&o, &r);
    } else if (strcmp(w, "w3") == 0) {
        bench_w3(&o, &r, false);
    } else if (strcmp(w, "w3b") == 0) {
        bench_w3(&o, &r, true);
    } else if (strcmp(w, "w4") == 0) {
        bench_w4(&o, &r);
    } else if (strcmp(w, "w5") == 0) {
        bench_w5(&o, &r);
    } else if (strcmp(w, "w6") == 0) {
        bench_w6(&o, &r);
    } else if (strcmp(w, "w7") == 0) {
        bench_w7(&o, &r);
    } else if (strcmp(w, "w8") == 0) {
        bench_w8(&o, &r);
    } else if (strcmp(w, "gemm-w1") == 0) {
        bench_gemm_w1(&o, &r);
    } else if (strcmp(w, "gemm-w3") == 0) {
        bench_gemm_w3(&o, &r);
    } else {
        fprintf(stderr, "nabla-bench: unknown workload '%s'\n", o.workload);
        usage(stderr);
        return 2;
    }
    if (r.checks > 0) {
        put_bool(&r, "reference_match", r.all_match);
    }
    put_common_tail(&r, &o);
    print_report(&r, o.json);
    for (int i = 0; i < r.n; i++) {
        free(r.f[i].str);
    }
    return 0;
}
