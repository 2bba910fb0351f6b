/*
 * tests/test_internal_oom_data.c: out-of-memory handling of the dataset
 * readers and batches, which have no graph and so no allocator hook. This
 * executable is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=free (tests/meson.build): every such call in nabla's static library
 * and in this file goes through the __wrap_ functions below, which can fail
 * the k-th allocation and track live blocks. glibc's own allocations (inside
 * fopen) are not wrapped. For every k: NB_ERR_NOMEM with a message naming
 * the file, the dataset left empty, and no block left live.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <nabla.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exabyte requests must fail with NULL under AddressSanitizer too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* ---- the wrapped allocator ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);

enum { MAX_LIVE = 64 };

static struct {
    bool on;         /* count and track (only around the call under test) */
    size_t calls;    /* allocations while on */
    size_t fail_at;  /* fail this one (1-based); 0: none */
    bool fail_after; /* and every later one */
    size_t failures;
    void *live[MAX_LIVE]; /* blocks allocated while on and not yet freed */
    size_t n_live;
    bool overflow; /* more live blocks than the table holds */
} w;

static bool should_fail(void)
{
    if (!w.on) {
        return false;
    }
    w.calls++;
    if (w.fail_at && (w.calls == w.fail_at || (w.fail_after && w.calls > w.fail_at))) {
        w.failures++;
        return true;
    }
    return false;
}

static void track(void *p)
{
    if (w.on && p) {
        if (w.n_live < MAX_LIVE) {
            w.live[w.n_live++] = p;
        } else {
            w.overflow = true;
        }
    }
}

static bool untrack(void *p)
{
    for (size_t i = 0; i < w.n_live; i++) {
        if (w.live[i] == p) {
            w.live[i] = w.live[--w.n_live];
            return true;
        }
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    void *p = __real_malloc(size);
    track(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    void *p = __real_calloc(n, size);
    track(p);
    return p;
}

void *__wrap_realloc(void *p, size_t size)
{
    if (should_fail()) {
        return NULL; /* p stays valid, as realloc promises */
    }
    void *q = __real_realloc(p, size);
    if (q && p) {
        bool tracked = untrack(p);
        if (tracked || w.on) {
            track(q);
        }
    } else {
        track(q);
    }
    return q;
}

void __wrap_free(void *p)
{
    if (p) {
        untrack(p);
    }
    __real_free(p);
}

static void arm(size_t fail_at, bool after)
{
    memset(&w, 0, sizeof w);
    w.fail_at = fail_at;
    w.fail_after = after;
    w.on = true;
}

/* ---- the sweeps ---- */

static bool empty(const nb_dataset *ds)
{
    return ds->rows == 0 && ds->cols == 0 && !ds->x && !ds->y && ds->classes == 0;
}

typedef nb_status (*reader)(nb_dataset *ds, char *err, size_t cap);

static char path_a[512], path_b[512];

static nb_status read_digits(nb_dataset *ds, char *err, size_t cap)
{
    return nb_dataset_read_csv(ds, path_a, "label", err, cap);
}

static nb_status read_mnist(nb_dataset *ds, char *err, size_t cap)
{
    return nb_dataset_read_idx(ds, path_a, path_b, err, cap);
}

/* Fails allocation k (and later ones, if after) of read for every k. */
static size_t sweep(reader read, const char *what, bool after)
{
    nb_dataset base;
    char err[512];
    arm(0, false);
    cr_assert_eq(read(&base, err, sizeof err), NB_OK, "%s", err);
    size_t total = w.calls;
    w.on = false;
    cr_assert_gt(total, 2);
    for (size_t k = 1; k <= total + 1; k++) {
        nb_dataset ds;
        memset(&ds, 0x5a, sizeof ds); /* the reader must empty it */
        err[0] = '\0';
        arm(k, after);
        nb_status s = read(&ds, err, sizeof err);
        w.on = false;
        if (k > total) {
            cr_assert_eq(w.failures, 0);
            cr_assert_eq(s, NB_OK);
            cr_assert_eq(ds.rows, base.rows);
            cr_assert_eq(ds.cols, base.cols);
            cr_assert_eq(ds.classes, base.classes);
            cr_assert_arr_eq(ds.x, base.x, ds.rows * ds.cols * sizeof *ds.x);
            cr_assert_arr_eq(ds.y, base.y, ds.rows * sizeof *ds.y);
            w.on = true;
            nb_dataset_free(&ds);
            w.on = false;
            cr_assert_eq(w.n_live, 0);
            break;
        }
        cr_assert_geq(w.failures, 1, "k=%zu: allocation %zu never came", k, k);
        cr_assert_eq(s, NB_ERR_NOMEM, "k=%zu: %s: %s", k, nb_status_string(s), err);
        /* the message names the file being read */
        cr_assert(strstr(err, "out of memory") != NULL &&
                      (strstr(err, path_a) != NULL || (path_b[0] && strstr(err, path_b) != NULL)),
                  "k=%zu: %s", k, err);
        cr_assert(empty(&ds), "k=%zu: the dataset is not empty", k);
        cr_assert(!w.overflow);
        cr_assert_eq(w.n_live, 0, "k=%zu%s: %zu blocks leaked", k, after ? " and after" : "",
                     w.n_live);
        nb_dataset_free(&ds); /* empty: a no-op */
    }
    nb_dataset_free(&base);
    cr_log_info("%s: %zu allocations, each failed%s", what, total, after ? " from k on" : " once");
    return total;
}

Test(oom_data, every_allocation_of_read_csv_fails_cleanly,
     .description = "data/digits-train.csv (207 KiB: the read buffer grows twice)")
{
    snprintf(path_a, sizeof path_a, "%s/data/digits-train.csv", NB_SOURCE_DIR);
    sweep(read_digits, "nb_dataset_read_csv", false);
    sweep(read_digits, "nb_dataset_read_csv", true);
}

Test(oom_data, every_allocation_of_read_idx_fails_cleanly,
     .description = "MNIST subset test files (1.5 MiB of images: the buffer grows five times)")
{
    snprintf(path_a, sizeof path_a, "%s/data/mnist-subset-test-images-idx3-ubyte", NB_SOURCE_DIR);
    snprintf(path_b, sizeof path_b, "%s/data/mnist-subset-test-labels-idx1-ubyte", NB_SOURCE_DIR);
    sweep(read_mnist, "nb_dataset_read_idx", false);
    sweep(read_mnist, "nb_dataset_read_idx", true);
}

Test(oom_data, failed_batches_are_empty)
{
    nb_batches b;
    arm(1, false);
    nb_status s = nb_batches_init(&b, 1000, 32, 7);
    w.on = false;
    cr_assert_eq(s, NB_ERR_NOMEM);
    cr_assert_null(b.order);
    cr_assert_eq(b.n, 0);
    cr_assert_eq(nb_batches_count(&b), 0);
    nb_batches_shuffle(&b); /* harmless on an empty one */
    nb_batches_free(&b);
    cr_assert_eq(w.n_live, 0);
    arm(2, false);
    cr_assert_eq(nb_batches_init(&b, 1000, 32, 7), NB_OK, "only one allocation");
    w.on = true;
    nb_batches_free(&b);
    cr_assert_eq(w.n_live, 0);
}

Test(oom_data, batches_whose_order_would_overflow_are_out_of_memory,
     .description = "regression: n * sizeof(size_t) wrapped to 8 bytes, then 2^61 writes")
{
    nb_batches b;
    const size_t huge[] = { SIZE_MAX / sizeof(size_t) + 2, SIZE_MAX, SIZE_MAX / 2 };
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        cr_assert_eq(nb_batches_init(&b, huge[i], 32, 7), NB_ERR_NOMEM, "n = %zu", huge[i]);
        cr_assert_null(b.order);
        nb_batches_free(&b);
    }
}
