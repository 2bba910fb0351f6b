/*
 * tests/faulty.h: a failing, checking allocator for the white-box
 * out-of-memory tests (tests/test_internal_oom*.c). It fails the k-th
 * allocation (once, or from k on), counts live bytes, and checks that every
 * old_size the library passes is the size of the block it got. Include it in
 * one test file each: its functions are static.
 */
#ifndef NB_TESTS_FAULTY_H
#define NB_TESTS_FAULTY_H

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

typedef struct block_rec {
    void *p;
    size_t size;
} block_rec;

typedef struct faulty {
    size_t allocs;   /* calls with new_size > 0 */
    size_t fail_at;  /* 1-based allocation to fail; 0: none */
    bool fail_after; /* also fail every allocation after fail_at */
    size_t failures;
    size_t live_bytes;
    block_rec *blocks; /* live blocks, for old_size checks */
    size_t n_blocks, cap_blocks;
    size_t bad_sizes; /* frees or reallocs whose old_size was wrong */
    size_t unknown;   /* frees or reallocs of a pointer we never returned */
} faulty;

static size_t find_block(faulty *f, void *p)
{
    for (size_t i = f->n_blocks; i-- > 0;) {
        if (f->blocks[i].p == p) {
            return i;
        }
    }
    return SIZE_MAX;
}

static void forget_block(faulty *f, size_t i)
{
    f->blocks[i] = f->blocks[--f->n_blocks];
}

static void remember_block(faulty *f, void *p, size_t size)
{
    if (f->n_blocks == f->cap_blocks) {
        f->cap_blocks = f->cap_blocks ? 2 * f->cap_blocks : 256;
        f->blocks = realloc(f->blocks, f->cap_blocks * sizeof *f->blocks);
        if (!f->blocks) {
            abort(); /* the test's own bookkeeping; not nabla's memory */
        }
    }
    f->blocks[f->n_blocks++] = (block_rec){ p, size };
}

/* Checks that ptr is a live block of old_size bytes and forgets it. */
static void check_old(faulty *f, void *ptr, size_t old_size)
{
    size_t i = find_block(f, ptr);
    if (i == SIZE_MAX) {
        f->unknown++;
        return;
    }
    if (f->blocks[i].size != old_size) {
        f->bad_sizes++;
    }
    f->live_bytes -= f->blocks[i].size;
    forget_block(f, i);
}

static void *faulty_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    faulty *f = user;
    if (new_size == 0) {
        if (ptr) {
            check_old(f, ptr, old_size);
            free(ptr);
        }
        return NULL;
    }
    f->allocs++;
    if (f->fail_at && (f->allocs == f->fail_at || (f->fail_after && f->allocs > f->fail_at))) {
        f->failures++;
        return NULL;
    }
    if (!ptr && old_size != 0) {
        f->bad_sizes++;
    }
    size_t i = SIZE_MAX;
    if (ptr) {
        i = find_block(f, ptr);
        if (i == SIZE_MAX) {
            f->unknown++;
            return NULL;
        }
        if (f->blocks[i].size != old_size) {
            f->bad_sizes++;
        }
    }
    void *p = realloc(ptr, new_size);
    if (!p) {
        return NULL;
    }
    if (i != SIZE_MAX) {
        f->live_bytes -= f->blocks[i].size;
        f->blocks[i] = (block_rec){ p, new_size };
    } else {
        remember_block(f, p, new_size);
    }
    f->live_bytes += new_size;
    return p;
}

static faulty faulty_make(size_t fail_at, bool fail_after)
{
    return (faulty){ .fail_at = fail_at, .fail_after = fail_after };
}

static void faulty_done(faulty *f)
{
    cr_assert_eq(f->unknown, 0, "freed or reallocated %zu unknown pointers", f->unknown);
    cr_assert_eq(f->bad_sizes, 0, "%zu calls passed a wrong old_size", f->bad_sizes);
    cr_assert_eq(f->live_bytes, 0, "%zu bytes in %zu blocks leaked (fail at %zu%s)", f->live_bytes,
                 f->n_blocks, f->fail_at, f->fail_after ? " and after" : "");
    cr_assert_eq(f->n_blocks, 0);
    free(f->blocks);
    f->blocks = NULL;
}

#endif /* NB_TESTS_FAULTY_H */
