/*
 * graph/exec.c: the executor and its memory plan. The first run of a set of
 * outputs plans it once: the op nodes it needs in id order (ids are a
 * topological order, since a node's inputs always exist before it), and a byte
 * offset for each value in one shared workspace, reusing a block as soon as
 * every consumer of its value has run. Later runs of the same outputs only set
 * data pointers and call kernels: no allocation, no graph walk.
 *
 * All plans of a graph share the workspace (only one runs at a time), so memory
 * is the largest plan's, not the sum. Plans stay valid as the graph grows,
 * because the graph is append-only.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>

#define NO_OFFSET   SIZE_MAX
#define NO_UNIT     UINT32_MAX /* a step with no block of its own: a view */
#define UNIT        16         /* plan offsets count 16-byte units: 4 bytes a step, up to 64 GiB */
#define SMALL_BLOCK 256        /* blocks up to this size live in exact-size bins */
#define MAX_PLANS   16
#define BLOCK_ALIGN 64

struct nbi_plan {
    nbi_plan *next;
    uint32_t n_outs;
    uint32_t *outs; /* ids, in the order the caller gave them: the cache key */
    int flags;
    uint32_t n_steps;
    uint32_t *steps;   /* op node ids in run order */
    uint32_t *offsets; /* workspace offset per step in UNITs, NO_UNIT for views */
    uint32_t n_kept;
    uint32_t *kept; /* op node ids whose values are readable after the run */
    /*
     * Steps whose op needs temporary memory (its record's scratch), in run
     * order, and the workspace offset of that memory in UNITs: sparse, since
     * few ops need any.
     */
    uint32_t n_temps;
    uint32_t *temp_steps;
    uint32_t *temp_offsets;
    size_t workspace; /* bytes of workspace needed */
    size_t bytes;     /* bytes held by this plan */
    nbi_fused *fused; /* regions run as one kernel (graph/fuse.c), NULL for none */
};

/* ---- free-list allocator over workspace offsets (plan time only) ---- */

/*
 * Block sizes: small values (scalars, short vectors) round to 16 bytes and
 * recycle through exact-size bins, O(1) each way, so a graph of a million
 * scalars plans in linear time; larger ones round to 64 (a cache line, good
 * for vector loads) and share a best-fit list that coalesces neighbours.
 */
typedef struct block {
    size_t off, size;
} block;

typedef struct bin {
    size_t *off; /* free blocks of one small size, used as a stack */
    uint32_t n, cap;
} bin;

typedef struct freelist {
    nb_graph *g;
    block *b; /* large free blocks, sorted by offset, coalesced */
    uint32_t n, cap;
    bin *bins;     /* small free blocks, by size / UNIT */
    size_t top;    /* high-water mark: the workspace size */
    bool overflow; /* the workspace would exceed the address space */
} freelist;

static size_t round_block(size_t bytes)
{
    size_t a = bytes <= SMALL_BLOCK ? UNIT : BLOCK_ALIGN;
    return (bytes + a - 1) & ~(a - 1);
}

/* Takes size bytes (a multiple of align) from the top of the workspace. */
static size_t fl_take_top(freelist *fl, size_t size, size_t align)
{
    size_t off = (fl->top + align - 1) & ~(align - 1);
    if (off < fl->top || off > SIZE_MAX - size) {
        fl->overflow = true;
        return 0;
    }
    fl->top = off + size;
    return off;
}

/* Best fit among free blocks; otherwise extend a free tail block or the top. */
static size_t fl_alloc_large(freelist *fl, size_t size)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < fl->n; i++) {
        if (fl->b[i].size >= size && (best == UINT32_MAX || fl->b[i].size < fl->b[best].size)) {
            best = i;
        }
    }
    if (best != UINT32_MAX) {
        size_t off = fl->b[best].off;
        if (fl->b[best].size > size) {
            fl->b[best].off += size;
            fl->b[best].size -= size;
        } else {
            memmove(fl->b + best, fl->b + best + 1, (fl->n - best - 1) * sizeof *fl->b);
            fl->n--;
        }
        return off;
    }
    if (fl->n > 0 && fl->b[fl->n - 1].off + fl->b[fl->n - 1].size == fl->top) {
        size_t off = fl->b[--fl->n].off;
        fl->top = off;
        return fl_take_top(fl, size, BLOCK_ALIGN);
    }
    return fl_take_top(fl, size, BLOCK_ALIGN);
}

static size_t fl_alloc(freelist *fl, size_t size)
{
    if (size > SMALL_BLOCK) {
        return fl_alloc_large(fl, size);
    }
    bin *b = &fl->bins[size / UNIT];
    if (b->n > 0) {
        return b->off[--b->n];
    }
    return fl_take_top(fl, size, UNIT);
}

static bool fl_free_large(freelist *fl, size_t off, size_t size)
{
    uint32_t i = 0;
    while (i < fl->n && fl->b[i].off < off) {
        i++;
    }
    bool merge_prev = i > 0 && fl->b[i - 1].off + fl->b[i - 1].size == off;
    bool merge_next = i < fl->n && off + size == fl->b[i].off;
    if (merge_prev && merge_next) {
        fl->b[i - 1].size += size + fl->b[i].size;
        memmove(fl->b + i, fl->b + i + 1, (fl->n - i - 1) * sizeof *fl->b);
        fl->n--;
    } else if (merge_prev) {
        fl->b[i - 1].size += size;
    } else if (merge_next) {
        fl->b[i].off = off;
        fl->b[i].size += size;
    } else {
        if (!nbi_grow(fl->g, (void **)&fl->b, &fl->cap, fl->n + 1, sizeof *fl->b)) {
            return false;
        }
        memmove(fl->b + i + 1, fl->b + i, (fl->n - i) * sizeof *fl->b);
        fl->b[i] = (block){ off, size };
        fl->n++;
    }
    return true;
}

static bool fl_free(freelist *fl, size_t off, size_t size)
{
    if (size > SMALL_BLOCK) {
        return fl_free_large(fl, off, size);
    }
    bin *b = &fl->bins[size / UNIT];
    if (!nbi_grow(fl->g, (void **)&b->off, &b->cap, b->n + 1, sizeof *b->off)) {
        return false;
    }
    b->off[b->n++] = off;
    return true;
}

/* ---- planning ---- */

static void plan_free(nb_graph *g, nbi_plan *p)
{
    nbi_mem_free(g, p->outs, p->n_outs * sizeof *p->outs);
    nbi_mem_free(g, p->steps, p->n_steps * sizeof *p->steps);
    nbi_mem_free(g, p->offsets, p->n_steps * sizeof *p->offsets);
    nbi_mem_free(g, p->kept, p->n_kept * sizeof *p->kept);
    nbi_mem_free(g, p->temp_steps, p->n_temps * sizeof *p->temp_steps);
    nbi_mem_free(g, p->temp_offsets, p->n_temps * sizeof *p->temp_offsets);
    nbi_fused_free(g, p->fused);
    nbi_mem_free(g, p, sizeof *p);
}

enum { NEEDED = 1, RELEASED = 2, OUTPUT = 4 };

/* Temporary per-node arrays, indexed by id up to the highest output. */
typedef struct scratch {
    uint8_t *state;
    uint32_t *last; /* index of the last step that reads the value; UINT32_MAX: kept */
    uint32_t *root; /* node whose storage this value lives in (views share) */
    size_t *off;    /* workspace offset of a root, NO_OFFSET for leaves */
    size_t n;
} scratch;

static void scratch_free(nb_graph *g, scratch *s)
{
    nbi_mem_free(g, s->state, s->n * sizeof *s->state);
    nbi_mem_free(g, s->last, s->n * sizeof *s->last);
    nbi_mem_free(g, s->root, s->n * sizeof *s->root);
    nbi_mem_free(g, s->off, s->n * sizeof *s->off);
}

static bool scratch_new(nb_graph *g, scratch *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->state = nbi_mem_alloc(g, n * sizeof *s->state);
    s->last = nbi_mem_alloc(g, n * sizeof *s->last);
    s->root = nbi_mem_alloc(g, n * sizeof *s->root);
    s->off = nbi_mem_alloc(g, n * sizeof *s->off);
    if (!s->state || !s->last || !s->root || !s->off) {
        scratch_free(g, s);
        return false;
    }
    memset(s->state, 0, n * sizeof *s->state);
    return true;
}

/* Bytes of temporary memory step v needs while it runs (0 for most ops). */
static size_t temp_bytes(const nb_node *v)
{
    const nbi_op *op = nbi_ops[v->op];
    return op->scratch ? op->scratch(v) : 0;
}

/*
 * Offsets for every step, freeing each block after its last reader runs. A
 * step's temporary memory is taken after its output and freed with its dying
 * inputs, right after the step, so the next steps reuse it.
 */
static bool assign_offsets(nb_graph *g, nbi_plan *p, scratch *s)
{
    bin bins[SMALL_BLOCK / UNIT + 1];
    memset(bins, 0, sizeof bins);
    freelist fl = { .g = g, .bins = bins };
    bool ok = true;
    uint32_t t = 0;
    for (uint32_t k = 0; k < p->n_steps && ok && !fl.overflow; k++) {
        nb_node *v = g->nodes[p->steps[k]];
        const nbi_op *op = nbi_ops[v->op];
        int arity = v->arity;
        if (op->flags & NBI_OP_VIEW) {
            p->offsets[k] = NO_UNIT;
            continue;
        }
        size_t size = round_block(nbi_node_bytes(v));
        bool placed = false;
        if (op->flags & NBI_OP_ELEMENTWISE) {
            /* write over an input that dies here: same bytes, same shape (not broadcast) */
            for (int i = 0; i < arity && !placed; i++) {
                uint32_t r = s->root[v->in[i]->id];
                if (s->off[r] != NO_OFFSET && s->last[r] == k && !(s->state[r] & RELEASED) &&
                    round_block(nbi_node_bytes(g->nodes[r])) == size &&
                    nbi_same_shape(v->in[i], v)) {
                    s->off[v->id] = s->off[r];
                    s->state[r] |= RELEASED; /* handed over, not freed */
                    placed = true;
                }
            }
        }
        if (!placed) {
            s->off[v->id] = fl_alloc(&fl, size);
        }
        if (s->off[v->id] / UNIT >= NO_UNIT) {
            ok = false; /* a workspace over 64 GiB: reported as out of memory */
            break;
        }
        p->offsets[k] = (uint32_t)(s->off[v->id] / UNIT);
        size_t temp = temp_bytes(v), temp_off = 0;
        if (temp > (size_t)PTRDIFF_MAX) {
            ok = false; /* more than any object can be: reported as out of memory */
            break;
        }
        if (temp > 0) {
            temp = round_block(temp > SMALL_BLOCK ? temp : SMALL_BLOCK + 1); /* 64-byte aligned */
            temp_off = fl_alloc(&fl, temp);
            if (temp_off / UNIT >= NO_UNIT) {
                ok = false;
                break;
            }
            NBI_ASSERT(t < p->n_temps);
            p->temp_steps[t] = k;
            p->temp_offsets[t++] = (uint32_t)(temp_off / UNIT);
            ok = fl_free(&fl, temp_off, temp);
        }
        for (int i = 0; i < arity; i++) {
            uint32_t r = s->root[v->in[i]->id];
            if (s->off[r] != NO_OFFSET && s->last[r] == k && !(s->state[r] & RELEASED)) {
                s->state[r] |= RELEASED;
                ok = fl_free(&fl, s->off[r], round_block(nbi_node_bytes(g->nodes[r])));
            }
        }
    }
    p->workspace = fl.top;
    nbi_mem_free(g, fl.b, fl.cap * sizeof *fl.b);
    for (size_t i = 0; i < sizeof bins / sizeof *bins; i++) {
        nbi_mem_free(g, bins[i].off, bins[i].cap * sizeof *bins[i].off);
    }
    return ok && !fl.overflow;
}

static nbi_plan *plan_build(nb_graph *g, size_t n, nb_node *const *outs, int flags)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        top = outs[i]->id > top ? outs[i]->id : top;
    }
    scratch s;
    nbi_plan *p = nbi_mem_alloc(g, sizeof *p);
    if (!p) {
        return NULL;
    }
    memset(p, 0, sizeof *p);
    if (!scratch_new(g, &s, (size_t)top + 1)) {
        nbi_mem_free(g, p, sizeof *p);
        return NULL;
    }
    p->flags = flags;

    /* what the outputs need: a downward sweep, since inputs have lower ids */
    for (size_t i = 0; i < n; i++) {
        s.state[outs[i]->id] = NEEDED | OUTPUT;
    }
    uint32_t n_steps = 0;
    for (uint32_t id = top + 1; id-- > 0;) {
        nb_node *v = g->nodes[id];
        if (!(s.state[id] & NEEDED) || nbi_is_leaf(v)) {
            continue;
        }
        n_steps++;
        for (int i = 0; i < v->arity; i++) {
            s.state[v->in[i]->id] |= NEEDED;
        }
    }
    p->n_outs = (uint32_t)n;
    p->n_steps = n_steps;
    p->outs = nbi_mem_alloc(g, n * sizeof *p->outs);
    p->steps = nbi_mem_alloc(g, (size_t)n_steps * sizeof *p->steps);
    p->offsets = nbi_mem_alloc(g, (size_t)n_steps * sizeof *p->offsets);
    if (!p->outs || (n_steps && (!p->steps || !p->offsets))) {
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        p->outs[i] = outs[i]->id;
    }
    uint32_t k = 0;
    for (uint32_t id = 0; id <= top; id++) {
        nb_node *v = g->nodes[id];
        s.last[id] = 0;
        s.root[id] = id;
        s.off[id] = NO_OFFSET;
        if (!(s.state[id] & NEEDED) || nbi_is_leaf(v)) {
            continue;
        }
        p->steps[k++] = id;
    }
    nbi_fuse_order(g, p->steps, n_steps);
    for (k = 0; k < n_steps; k++) {
        nb_node *v = g->nodes[p->steps[k]];
        for (int i = 0; i < v->arity; i++) {
            s.last[v->in[i]->id] = k;
        }
    }

    /* kept values are never released */
    bool keep_all = flags & NB_RUN_KEEP_ALL;
    uint32_t n_kept;
    for (uint32_t j = 0; j < n_steps; j++) {
        uint32_t id = p->steps[j];
        if (keep_all || (s.state[id] & OUTPUT)) {
            s.last[id] = UINT32_MAX;
        }
    }
    /* a view's readers keep its root alive: fold last uses down the view chains */
    for (uint32_t j = n_steps; j-- > 0;) {
        nb_node *v = g->nodes[p->steps[j]];
        if (nbi_ops[v->op]->flags & NBI_OP_VIEW) {
            uint32_t src = v->in[0]->id;
            if (s.last[v->id] > s.last[src]) {
                s.last[src] = s.last[v->id];
            }
        }
    }
    for (uint32_t j = 0; j < n_steps; j++) {
        nb_node *v = g->nodes[p->steps[j]];
        if (nbi_ops[v->op]->flags & NBI_OP_VIEW) {
            s.root[v->id] = s.root[v->in[0]->id];
        }
    }
    for (uint32_t j = 0; j < n_steps; j++) {
        p->n_temps += temp_bytes(g->nodes[p->steps[j]]) > 0;
    }
    if (p->n_temps) {
        p->temp_steps = nbi_mem_alloc(g, p->n_temps * sizeof *p->temp_steps);
        p->temp_offsets = nbi_mem_alloc(g, p->n_temps * sizeof *p->temp_offsets);
        if (!p->temp_steps || !p->temp_offsets) {
            goto fail;
        }
    }
    if (!assign_offsets(g, p, &s)) {
        goto fail;
    }
    p->fused = nbi_fuse_plan(g, p->steps, p->offsets, n_steps, UNIT);

    /* kept: outputs, and whatever a kept view keeps alive */
    n_kept = 0;
    for (uint32_t j = 0; j < n_steps; j++) {
        n_kept += s.last[p->steps[j]] == UINT32_MAX;
    }
    p->n_kept = n_kept;
    p->kept = n_kept ? nbi_mem_alloc(g, (size_t)n_kept * sizeof *p->kept) : NULL;
    if (n_kept && !p->kept) {
        goto fail;
    }
    n_kept = 0;
    for (uint32_t j = 0; j < n_steps; j++) {
        if (s.last[p->steps[j]] == UINT32_MAX) {
            p->kept[n_kept++] = p->steps[j];
        }
    }
    p->bytes = sizeof *p + n * sizeof *p->outs +
               (size_t)n_steps * (sizeof *p->steps + sizeof *p->offsets) +
               (size_t)p->n_kept * sizeof *p->kept +
               (size_t)p->n_temps * (sizeof *p->temp_steps + sizeof *p->temp_offsets) +
               nbi_fused_bytes(p->fused);
    scratch_free(g, &s);
    return p;
fail:
    scratch_free(g, &s);
    plan_free(g, p);
    return NULL;
}

/* ---- the plan cache ---- */

static void invalidate_values(nb_graph *g)
{
    nbi_plan *p = g->last_plan;
    if (!p) {
        return;
    }
    for (uint32_t i = 0; i < p->n_kept; i++) {
        g->nodes[p->kept[i]]->flags &= (uint8_t)~NBI_F_VALID;
    }
    g->last_plan = NULL;
}

static nbi_plan *plan_find(nb_graph *g, size_t n, nb_node *const *outs, int flags)
{
    nbi_plan *prev = NULL;
    for (nbi_plan *p = g->plans; p; prev = p, p = p->next) {
        if (p->flags != flags || p->n_outs != n) {
            continue;
        }
        size_t i = 0;
        while (i < n && p->outs[i] == outs[i]->id) {
            i++;
        }
        if (i == n) {
            if (prev) { /* move to front: most recently used */
                prev->next = p->next;
                p->next = g->plans;
                g->plans = p;
            }
            return p;
        }
    }
    return NULL;
}

static void plan_insert(nb_graph *g, nbi_plan *p)
{
    if (g->n_plans == MAX_PLANS) {
        nbi_plan **pp = &g->plans;
        while ((*pp)->next) {
            pp = &(*pp)->next;
        }
        if (*pp == g->last_plan) {
            invalidate_values(g);
        }
        plan_free(g, *pp);
        *pp = NULL;
        g->n_plans--;
    }
    p->next = g->plans;
    g->plans = p;
    g->n_plans++;
}

void nbi_plans_free(nb_graph *g)
{
    nbi_plan *p = g->plans;
    while (p) {
        nbi_plan *next = p->next;
        plan_free(g, p);
        p = next;
    }
    g->plans = NULL;
    g->n_plans = 0;
    g->last_plan = NULL;
}

size_t nbi_plans_bytes(const nb_graph *g)
{
    size_t b = 0;
    for (const nbi_plan *p = g->plans; p; p = p->next) {
        b += p->bytes;
    }
    return b;
}

static bool ensure_workspace(nb_graph *g, size_t size)
{
    if (size <= g->workspace_size) {
        return true;
    }
    /* contents need not survive: every run rewrites what it reads */
    nbi_mem_free(g, g->workspace_block, g->workspace_block_size);
    g->workspace_block = NULL;
    g->workspace_block_size = 0;
    g->workspace = NULL;
    g->workspace_size = 0;
    size_t alloc = size + BLOCK_ALIGN;
    unsigned char *b = nbi_mem_alloc(g, alloc);
    if (!b) {
        return false;
    }
    uintptr_t a = ((uintptr_t)b + BLOCK_ALIGN - 1) & ~(uintptr_t)(BLOCK_ALIGN - 1);
    g->workspace_block = b;
    g->workspace_block_size = alloc;
    g->workspace = b + (a - (uintptr_t)b);
    g->workspace_size = size;
    return true;
}

/* ---- running ---- */

/* Index of the first NaN or infinity among n's values, or SIZE_MAX. */
static size_t first_non_finite(const nb_node *n)
{
    size_t count = nbi_node_count(n);
    if (n->dtype == NB_DTYPE_I32) {
        return SIZE_MAX;
    }
    for (size_t i = 0; i < count; i++) {
        double v = n->dtype == NB_DTYPE_F32 ? (double)((const float *)n->data)[i]
                                            : ((const double *)n->data)[i];
        if (v - v != 0) { /* NaN or infinity */
            return i;
        }
    }
    return SIZE_MAX;
}

/* The smallest and largest non-NaN values of a node, and whether it holds a NaN. */
typedef struct range {
    double lo, hi;
    bool nan;
} range;

static range value_range(const nb_node *u)
{
    range r = { INFINITY, -INFINITY, false };
    size_t count = nbi_node_count(u);
    for (size_t k = 0; k < count; k++) {
        double x = u->dtype == NB_DTYPE_F32   ? (double)((const float *)u->data)[k]
                   : u->dtype == NB_DTYPE_F64 ? ((const double *)u->data)[k]
                                              : (double)((const int32_t *)u->data)[k];
        if (x != x) {
            r.nan = true;
            continue;
        }
        r.lo = x < r.lo ? x : r.lo;
        r.hi = x > r.hi ? x : r.hi;
    }
    return r;
}

/*
 * Checks v's output after its kernel ran. before[i] holds the range of input i
 * when bit i of in_place is set: the kernel wrote over that input's storage.
 */
static nb_status check_finite(nb_graph *g, nb_node *v, const range *before, unsigned in_place)
{
    size_t bad = first_non_finite(v);
    if (bad == SIZE_MAX) {
        return NB_OK;
    }
    double x = v->dtype == NB_DTYPE_F32 ? (double)((const float *)v->data)[bad]
                                        : ((const double *)v->data)[bad];
    char d[160], ranges[NBI_MSG_MAX / 2] = "";
    size_t at = 0;
    for (int i = 0; i < v->arity && at < sizeof ranges; i++) {
        char u[160];
        nbi_describe(v->in[i], u, sizeof u);
        range r = i < 8 && (in_place & (1u << i)) ? before[i] : value_range(v->in[i]);
        int w = snprintf(ranges + at, sizeof ranges - at, "%s%s in [%g, %g]%s", i ? ", " : "", u,
                         r.lo, r.hi, r.nan ? " with NaN" : "");
        at += w > 0 ? (size_t)w : 0;
    }
    nbi_describe(v, d, sizeof d);
    return nbi_report(g, NB_ERR_VALUE, "check_finite", 0, NULL,
                      "%s (%s) produced %s at index %zu%s%s", d, nbi_ops[v->op]->name,
                      x != x  ? "NaN"
                      : x > 0 ? "inf"
                              : "-inf",
                      bad, ranges[0] ? "; inputs: " : "", ranges);
}

nb_status nb_graph_run(nb_graph *g, size_t n, nb_node *const *outs)
{
    return nb_graph_run_ex(g, n, outs, 0);
}

nb_status nb_graph_run_ex(nb_graph *g, size_t n, nb_node *const *outs, int flags)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    if (g->status != NB_OK) {
        return g->status; /* never run a graph in error; nb_graph_error says why */
    }
    g->run_err[0] = '\0';
    if (n > 0 && !outs) {
        return nbi_report(g, NB_ERR_ARG, "run", 0, NULL, "the output array is NULL");
    }
    char open[300];
    if (!nbi_scopes_closed(g, open, sizeof open)) {
        return nbi_report(g, NB_ERR_ARG, "run", 0, NULL, "%s", open);
    }
    if (flags & ~(NB_RUN_KEEP_ALL | NB_RUN_CHECK_FINITE | NB_RUN_TRAIN | NB_RUN_EVAL)) {
        return nbi_report(g, NB_ERR_ARG, "run", 0, NULL, "unknown flags 0x%x", (unsigned)flags);
    }
    if ((flags & NB_RUN_TRAIN) && (flags & NB_RUN_EVAL)) {
        return nbi_report(g, NB_ERR_ARG, "run", 0, NULL,
                          "NB_RUN_TRAIN and NB_RUN_EVAL are both set; a run has one mode");
    }
    g->run_training = flags & NB_RUN_TRAIN ? true : flags & NB_RUN_EVAL ? false : !g->eval_mode;
    for (size_t i = 0; i < n; i++) {
        if (!outs[i]) {
            return nbi_report(g, NB_ERR_ARG, "run", 0, NULL, "output %zu is NULL", i + 1);
        }
        if (outs[i]->g != g) {
            return nbi_report(g, NB_ERR_GRAPH, "run", 1, &outs[i],
                              "output %zu belongs to another graph", i + 1);
        }
    }
    if (n == 0) {
        return NB_OK;
    }
    int plan_flags = flags & NB_RUN_KEEP_ALL; /* checking does not change the plan */
    nbi_plan *p = plan_find(g, n, outs, plan_flags);
    if (!p) {
        p = plan_build(g, n, outs, plan_flags);
        if (!p) {
            return nbi_report(g, NB_ERR_NOMEM, "run", 0, NULL, "out of memory while planning");
        }
        plan_insert(g, p);
    }
    invalidate_values(g);
    if (!ensure_workspace(g, p->workspace)) {
        return nbi_report(g, NB_ERR_NOMEM, "run", 0, NULL,
                          "out of memory for a workspace of %zu bytes", p->workspace);
    }
    uint32_t t = 0;
    for (uint32_t k = 0; k < p->n_steps; k++) {
        if (p->fused && !(flags & NB_RUN_CHECK_FINITE) && !g->after_step) {
            uint32_t covered;
            nb_status st = nbi_fuse_run(g, p->fused, k, &covered);
            if (st != NB_OK) {
                return st;
            }
            if (covered) {
                k += covered - 1; /* none of its steps needs temporary memory */
                continue;
            }
        }
        nb_node *v = g->nodes[p->steps[k]];
        v->data =
            p->offsets[k] == NO_UNIT ? v->in[0]->data : g->workspace + (size_t)p->offsets[k] * UNIT;
        g->scratch = NULL;
        if (t < p->n_temps && p->temp_steps[t] == k) {
            g->scratch = g->workspace + (size_t)p->temp_offsets[t++] * UNIT;
        }
        range before[8]; /* in-place ops are elementwise, of few inputs */
        unsigned in_place = 0;
        if ((flags & NB_RUN_CHECK_FINITE) && p->offsets[k] != NO_UNIT) {
            /* an op run in place overwrites a dying input: take its range first */
            for (int i = 0; i < v->arity && i < 8; i++) {
                if (v->in[i]->data == v->data) {
                    before[i] = value_range(v->in[i]);
                    in_place |= 1u << i;
                }
            }
        }
        nb_status st = nbi_ops[v->op]->forward(g, v);
        g->scratch = NULL;
        if (st == NB_OK && (flags & NB_RUN_CHECK_FINITE)) {
            st = check_finite(g, v, before, in_place);
        }
        if (st == NB_OK && g->after_step) {
            st = g->after_step(g->after_step_ctx, v);
        }
        if (st != NB_OK) {
            return st;
        }
    }
    for (uint32_t i = 0; i < p->n_kept; i++) {
        g->nodes[p->kept[i]]->flags |= NBI_F_VALID;
    }
    g->last_plan = p;
    /*
     * an input nobody gave values reads as zeros: a warning, not an error
     * (zeros can be meant), left where nb_graph_error shows it
     */
    for (uint32_t k = 0; k < p->n_steps; k++) {
        nb_node *v = g->nodes[p->steps[k]];
        for (int i = 0; i < v->arity; i++) {
            nb_node *u = v->in[i];
            if (u->op == NBI_OP_INPUT && !(u->flags & NBI_F_WRITTEN)) {
                char buf[64];
                snprintf(g->run_err, sizeof g->run_err,
                         "warning: input %s was never written and reads as zeros (give it values "
                         "with nb_node_write)",
                         nbi_name_into(u, buf, sizeof buf));
                return NB_OK;
            }
        }
    }
    return NB_OK;
}

void nb_graph_set_training(nb_graph *g, bool training)
{
    if (g) {
        g->eval_mode = !training;
    }
}

bool nb_graph_training(const nb_graph *g)
{
    return g && !g->eval_mode;
}
