/*
 * graph/arena.c: every byte a graph holds comes through its allocator hook. The
 * arena is a list of chunks that only grows, so node pointers stay valid for the
 * graph's life; nb_graph_free releases the chunks in one sweep.
 */
#include "internal.h"

#include <stdlib.h>

void *nbi_mem_alloc(nb_graph *g, size_t size)
{
    return size ? g->alloc(g->user, NULL, 0, size) : NULL;
}

void *nbi_mem_realloc(nb_graph *g, void *p, size_t old_size, size_t new_size)
{
    return g->alloc(g->user, p, old_size, new_size);
}

void nbi_mem_free(nb_graph *g, void *p, size_t size)
{
    if (p) {
        g->alloc(g->user, p, size, 0);
    }
}

bool nbi_grow(nb_graph *g, void **array, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    size_t new_cap = *cap ? *cap : 16;
    while (new_cap < need) {
        new_cap *= 2;
    }
    if (new_cap > UINT32_MAX) {
        new_cap = UINT32_MAX;
    }
    size_t bytes, old_bytes = (size_t)*cap * elem;
    if (nbi_mul_overflows(new_cap, elem, &bytes)) {
        return false;
    }
    void *p = nbi_mem_realloc(g, *array, old_bytes, bytes);
    if (!p) {
        return false;
    }
    *array = p;
    *cap = (uint32_t)new_cap;
    return true;
}

/* Chunks start small (a tiny graph stays tiny) and double up to 1 MiB. */
#define CHUNK_MIN 4096u
#define CHUNK_MAX (1u << 20)

/* Offset of the first address at or after c->data + used aligned to align. */
static size_t aligned_offset(const nbi_chunk *c, size_t align)
{
    uintptr_t at = (uintptr_t)(c->data + c->used);
    uintptr_t up = (at + (align - 1)) & ~(uintptr_t)(align - 1);
    return c->used + (size_t)(up - at);
}

void *nbi_arena_alloc(nb_graph *g, size_t size)
{
    return nbi_arena_alloc_aligned(g, size, size >= 64 ? 64 : 16);
}

void *nbi_arena_alloc_aligned(nb_graph *g, size_t size, size_t align)
{
    nbi_chunk *c = g->chunks;
    if (c) {
        size_t at = aligned_offset(c, align);
        if (at <= c->size && size <= c->size - at) {
            c->used = at + size;
            return c->data + at;
        }
    }
    size_t want = c ? c->size * 2 : CHUNK_MIN;
    if (want > CHUNK_MAX) {
        want = CHUNK_MAX;
    }
    if (want < size + align) {
        want = size + align; /* a large value gets a chunk of its own */
    }
    size_t total = sizeof(nbi_chunk) + want;
    if (want < size || total < want) {
        return NULL;
    }
    /* a chunk kept by nb_graph_reset, when one holds the value: its pages are touched */
    nbi_chunk *n = NULL;
    for (nbi_chunk **at = &g->spare; *at; at = &(*at)->next) {
        if ((*at)->size >= size + align) {
            n = *at;
            *at = n->next;
            break;
        }
    }
    if (!n) {
        if (!(n = nbi_mem_alloc(g, total))) {
            return NULL;
        }
        n->size = want;
        n->alloc_size = total;
        g->arena_bytes += total;
    }
    n->used = 0;
    size_t at = aligned_offset(n, align);
    n->used = at + size;
    if (c && want == size + align && c->size - c->used > 256) {
        /* keep bump-allocating from the partly used chunk: put the big one behind it */
        n->next = c->next;
        c->next = n;
    } else {
        n->next = c;
        g->chunks = n;
    }
    return n->data + at;
}

char *nbi_arena_strdup(nb_graph *g, const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = nbi_arena_alloc(g, len);
    if (p) {
        memcpy(p, s, len);
    }
    return p;
}

void nbi_arena_free_all(nb_graph *g)
{
    nbi_arena_recycle(g);
    nbi_chunk *c = g->spare;
    while (c) {
        nbi_chunk *next = c->next;
        nbi_mem_free(g, c, c->alloc_size);
        c = next;
    }
    g->spare = NULL;
    g->arena_bytes = 0;
}

void nbi_arena_recycle(nb_graph *g)
{
    while (g->chunks) {
        nbi_chunk *c = g->chunks;
        g->chunks = c->next;
        c->next = g->spare;
        g->spare = c;
    }
}
