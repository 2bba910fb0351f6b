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
 *
 * Planning reads the flat tables node construction fills (g->meta, g->in_ids:
 * op, flags, size, input ids), not the node records, in one sweep; the
 * passes after it work on step-indexed arrays. A plan is its list of steps
 * (steps, offsets, kind); a step of f32 scalars whose op has a scalar_f32
 * runs as one call on workspace offsets (src), reading leaves from slots the
 * run fills first, and sets its node's data only where something reads it
 * there. Every other step sets data and calls its op's forward.
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
    /*
     * How each step runs (KIND_*). Scalar steps run through their op's
     * scalar_f32 and read their inputs at workspace offsets src[2k], src[2k+1]
     * (n_src = n_steps when any step is scalar, else 0); the leaves they read
     * are copied first from slots[i] to slot_offsets[i].
     */
    uint16_t *kind;
    uint32_t n_src;
    uint32_t *src;
    uint32_t n_slots;
    uint32_t *slots, *slot_offsets;
    /* input leaves the steps read, in run order, for the never-written warning */
    uint32_t n_reads;
    uint32_t *reads;
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
    /*
     * Resuming (see resume_base): a saving plan frees no value, so after its
     * run every value it computed is still in the workspace. A plan built on
     * a base (the serial of a saving plan, 0 for none) reads the base's
     * values where the base computed them, at offsets below the base's
     * workspace, and computes only the rest, above it; resumed[] are the
     * base's nodes whose data it must set (read by a kernel, or kept).
     */
    uint32_t serial;
    uint32_t base;
    bool saves;
    uint32_t n_resumed;
    uint32_t *resumed, *resumed_offsets;
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
    nbi_mem_free(g, p->kind, p->n_steps * sizeof *p->kind);
    nbi_mem_free(g, p->src, (size_t)p->n_src * 2 * sizeof *p->src);
    nbi_mem_free(g, p->slots, p->n_slots * sizeof *p->slots);
    nbi_mem_free(g, p->slot_offsets, p->n_slots * sizeof *p->slot_offsets);
    nbi_mem_free(g, p->kept, p->n_kept * sizeof *p->kept);
    nbi_mem_free(g, p->temp_steps, p->n_temps * sizeof *p->temp_steps);
    nbi_mem_free(g, p->temp_offsets, p->n_temps * sizeof *p->temp_offsets);
    nbi_fused_free(g, p->fused);
    nbi_mem_free(g, p->reads, p->n_reads * sizeof *p->reads);
    nbi_mem_free(g, p->resumed, p->n_resumed * sizeof *p->resumed);
    nbi_mem_free(g, p->resumed_offsets, p->n_resumed * sizeof *p->resumed_offsets);
    nbi_mem_free(g, p, sizeof *p);
}

/* A node a resumed plan reads from its base: id, base offset in UNITs, RM_* marks. */
typedef struct rnode {
    uint32_t id, off;
    uint32_t mark;
} rnode;

/* Per-id marks of the needed sweep. */
enum { NEEDED = 1, OUTPUT = 2, READ = 4 };

/* Step flags while planning. */
enum { PS_VIEW = 1, PS_ELEM = 2, PS_KEPT = 4, PS_SCALAR = 8 };

/*
 * Plan step kinds: a kernel call, or scalar_f32; SET_DATA: the node's data
 * must point at its value. Bits KIND_OP_SHIFT and up hold a scalar step's op.
 */
enum { KIND_GENERAL = 0, KIND_SCALAR = 1, KIND_SET_DATA = 2, KIND_OP_SHIFT = 2 };

#define NO_STEP UINT32_MAX

/*
 * What planning needs of one step, copied from its node in the one sweep
 * over node records, so every later pass reads these flat arrays instead of
 * chasing nodes[id] -> in[i] through 64-byte records. Inputs are step
 * indices (NO_STEP for a leaf) in ins[in_at .. in_at + arity).
 */
typedef struct pstep {
    size_t size;    /* block bytes (rounded); unused for views */
    uint32_t in_at; /* first input in ins[] */
    uint16_t arity;
    uint8_t flags; /* PS_* */
    uint8_t same;  /* bit i: input i has this step's shape (in-place candidates, i < 8) */
    uint8_t op;
} pstep;

/*
 * What the offset assignment reads of a step's inputs, apart from the rest,
 * 16 bytes a step: a random DAG reads these at random, once per edge.
 */
typedef struct pval {
    uint32_t last; /* the last step that reads the value; KEPT_LAST: kept; RELEASED_LAST: freed */
    uint32_t root; /* step whose block holds the value (views share), NO_STEP: a leaf's */
    uint32_t off;  /* workspace offset of the block, in UNITs */
    uint32_t size; /* block size in UNITs, UINT32_MAX when larger (pstep.size has it) */
} pval;

#define KEPT_LAST     UINT32_MAX
#define RELEASED_LAST (UINT32_MAX - 1)
#define SAVED_LAST    (UINT32_MAX - 2) /* a saving plan's value: never freed, not kept */

typedef struct planner {
    uint8_t *state; /* per id up to the highest output: NEEDED, OUTPUT, READ */
    uint32_t *sidx; /* per needed id: its step (sweep order), NO_STEP or a LEAF_SLOT for leaves */
    size_t n_ids;
    pstep *ps;     /* one per step, room for n_ids */
    pval *pv;      /* one per step, room for n_ids */
    uint32_t *ids; /* node id of each step, room for n_ids */
    uint32_t n;
    uint32_t *ins;
    uint32_t n_ins, cap_ins;
    uint32_t *reads; /* input leaves the steps read, in run order */
    uint32_t n_reads, cap_reads;
    uint32_t *slots; /* leaves that scalar steps read, each copied to a workspace slot */
    bool product;    /* a matrix product among the steps: graph/fuse.c may find a region */
    uint32_t n_slots, cap_slots;
    const nbi_plan *base; /* the saving plan this one resumes from, or NULL */
    rnode *r;             /* nodes the base computed that steps read or that are outputs */
    uint32_t n_r, cap_r;
} planner;

/*
 * A leaf's sidx once scalar steps read it, and its entry in their ins[]: its
 * slot, with the top bit set; a node the base computed has RESUMED set too,
 * and its index in r[]. Step indices stay below LEAF_SLOT.
 */
#define LEAF_SLOT  0x80000000u
#define RESUMED    0x40000000u
#define IS_STEP(x) ((x) < LEAF_SLOT)

/* Marks of a resumed node: something needs its data pointer set. */
enum { RM_OUTPUT = 1, RM_READ_BY_KERNEL = 2 };

static void planner_free(nb_graph *g, planner *s)
{
    nbi_mem_free(g, s->state, s->n_ids * sizeof *s->state);
    nbi_mem_free(g, s->sidx, s->n_ids * sizeof *s->sidx);
    nbi_mem_free(g, s->ps, s->n_ids * sizeof *s->ps);
    nbi_mem_free(g, s->pv, s->n_ids * sizeof *s->pv);
    nbi_mem_free(g, s->ids, s->n_ids * sizeof *s->ids);
    nbi_mem_free(g, s->ins, s->cap_ins * sizeof *s->ins);
    nbi_mem_free(g, s->reads, s->cap_reads * sizeof *s->reads);
    nbi_mem_free(g, s->slots, s->cap_slots * sizeof *s->slots);
    nbi_mem_free(g, s->r, s->cap_r * sizeof *s->r);
}

/*
 * The base's workspace offset of node id's value, or NO_UNIT if it did not
 * compute it. The sweep asks for ids in decreasing order and a saving plan's
 * steps are in id order, so *at walks down the base's steps once per plan.
 */
static uint32_t base_offset(const nbi_plan *b, uint32_t id, uint32_t *at)
{
    while (*at > 0 && b->steps[*at - 1] > id) {
        --*at;
    }
    return *at > 0 && b->steps[*at - 1] == id ? b->offsets[*at - 1] : NO_UNIT;
}

/* Records node id as read from the base at offset off. */
static void add_resumed(planner *s, uint32_t id, uint32_t off)
{
    NBI_ASSERT(s->n_r < s->cap_r); /* room for every step of the base */
    s->r[s->n_r] = (rnode){ id, off, s->state[id] & OUTPUT ? RM_OUTPUT : 0 };
    s->sidx[id] = LEAF_SLOT | RESUMED | s->n_r++;
}

/* Bytes of temporary memory step v needs while it runs (0 for most ops). */
static size_t temp_bytes(const nb_node *v)
{
    const nbi_op *op = nbi_ops[v->op];
    return op->scratch ? op->scratch(v) : 0;
}

/*
 * Lets graph/fuse.c make a fusable region's steps contiguous (s->ids in run
 * order, before inputs become step indices), and moves the steps' planning
 * facts with them. Only plans with a matrix product can hold a region, so
 * others do not pay for the look.
 */
static bool fuse_order(nb_graph *g, planner *s)
{
    uint32_t n = s->n;
    bool product = false;
    for (uint32_t k = 0; k < n && !product; k++) {
        product = s->ps[k].op == NBI_OP_MATMUL;
    }
    s->product = product && !g->no_fuse;
    if (!s->product) {
        return true;
    }
    nbi_fuse_order(g, s->ids, n);
    bool moved = false;
    for (uint32_t k = 0; k < n && !moved; k++) {
        moved = n - 1 - s->sidx[s->ids[k]] != k; /* sidx still holds sweep indices */
    }
    if (!moved) {
        return true;
    }
    pstep *old = nbi_mem_alloc(g, (size_t)n * sizeof *old);
    if (!old) {
        return false;
    }
    memcpy(old, s->ps, (size_t)n * sizeof *old);
    for (uint32_t k = 0; k < n; k++) {
        s->ps[k] = old[n - 1 - s->sidx[s->ids[k]]];
    }
    for (uint32_t k = 0; k < n; k++) {
        s->sidx[s->ids[k]] = n - 1 - k;
    }
    nbi_mem_free(g, old, (size_t)n * sizeof *old);
    return true;
}

/*
 * The one sweep over the graph: from the highest output down (inputs
 * have lower ids), marks what the outputs need and copies each needed op
 * node's planning facts into s->ps, in reverse run order, from the flat
 * g->meta and g->in_ids (records only for large values). Then
 * reverses them into run order and turns input ids into step indices.
 */
static bool sweep(nb_graph *g, planner *s, uint32_t top, uint32_t *n_temps)
{
    const nbi_meta *meta = g->meta;
    uint32_t base_at = s->base ? s->base->n_steps : 0;
    for (uint32_t id = top + 1; id-- > 0;) {
        if (!(s->state[id] & NEEDED)) {
            continue;
        }
        const nbi_meta *m = &meta[id];
        if (m->flags & NBI_M_LEAF) {
            s->sidx[id] = NO_STEP;
            continue;
        }
        uint32_t from_base = s->base ? base_offset(s->base, id, &base_at) : NO_UNIT;
        if (from_base != NO_UNIT) {
            add_resumed(s, id, from_base);
            continue; /* computed by the base: nothing below it is needed for it */
        }
        uint32_t end = id + 1 < g->n_nodes ? meta[id + 1].in_at : g->n_in_ids;
        uint32_t arity = end - m->in_at;
        uint32_t r = s->n;
        NBI_ASSERT(s->n_ins + arity <= s->cap_ins);
        const nbi_op *op = nbi_ops[m->op];
        pstep *q = &s->ps[r];
        q->in_at = s->n_ins;
        q->arity = (uint16_t)arity;
        q->flags = (uint8_t)((op->flags & NBI_OP_VIEW ? PS_VIEW : 0) |
                             (op->flags & NBI_OP_ELEMENTWISE ? PS_ELEM : 0) |
                             (s->state[id] & OUTPUT ? PS_KEPT : 0) |
                             (m->flags & NBI_M_SCALAR ? PS_SCALAR : 0));
        q->same = op->flags & NBI_OP_ELEMENTWISE ? m->same : 0;
        q->op = m->op;
        q->size = 0;
        if (!(op->flags & NBI_OP_VIEW)) {
            /* only large values and ops with scratch read the node's record */
            q->size =
                m->units ? (size_t)m->units * UNIT : round_block(nbi_node_bytes(g->nodes[id]));
            *n_temps += op->scratch && op->scratch(g->nodes[id]) > 0;
        }
        const uint32_t *in = arity ? g->in_ids + m->in_at : NULL; /* NULL before any edge */
        for (uint32_t i = 0; i < arity; i++) {
            s->ins[s->n_ins++] = in[i];
            s->state[in[i]] |= NEEDED | READ;
        }
        s->ids[r] = id;
        s->sidx[id] = r;
        s->n++;
    }
    /* reverse into run order; a sweep index r becomes step n - 1 - r */
    uint32_t n = s->n;
    for (uint32_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
        pstep t = s->ps[a];
        s->ps[a] = s->ps[b];
        s->ps[b] = t;
        uint32_t i = s->ids[a];
        s->ids[a] = s->ids[b];
        s->ids[b] = i;
    }
    if (!fuse_order(g, s)) {
        return false;
    }
    for (uint32_t k = 0; k < n; k++) {
        pstep *q = &s->ps[k];
        for (uint32_t i = 0; i < q->arity; i++) {
            uint32_t id = s->ins[q->in_at + i];
            uint32_t r = s->sidx[id];
            bool leaf = r == NO_STEP || (r & LEAF_SLOT);
            s->ins[q->in_at + i] = leaf ? NO_STEP : n - 1 - r;
            if (leaf && (s->state[id] & READ)) {
                /* each leaf once: listed if an input, in the order the run reads them */
                s->state[id] &= (uint8_t)~READ;
                if (g->meta[id].op == NBI_OP_INPUT) {
                    if (!nbi_grow(g, (void **)&s->reads, &s->cap_reads, s->n_reads + 1,
                                  sizeof *s->reads)) {
                        return false;
                    }
                    s->reads[s->n_reads++] = id;
                }
            }
            if (!(q->flags & PS_SCALAR)) {
                if (leaf && r != NO_STEP && (r & RESUMED)) {
                    s->r[r & ~(LEAF_SLOT | RESUMED)].mark |= RM_READ_BY_KERNEL;
                }
                continue;
            }
            if (!leaf && (s->ps[n - 1 - r].flags & PS_VIEW)) {
                q->flags &= (uint8_t)~PS_SCALAR; /* reading through a view: the general path */
            } else if (r == NO_STEP) {
                /* a leaf scalar steps read: a workspace slot the run copies it to */
                if (s->n_slots >= RESUMED || !nbi_grow(g, (void **)&s->slots, &s->cap_slots,
                                                       s->n_slots + 1, sizeof *s->slots)) {
                    return false;
                }
                s->sidx[id] = LEAF_SLOT | s->n_slots;
                s->slots[s->n_slots++] = id;
            }
            if (leaf) {
                s->ins[q->in_at + i] = s->sidx[id]; /* LEAF_SLOT | slot */
            }
        }
    }
    return true;
}

/*
 * Offsets for every step, freeing each block after its last reader runs. A
 * step's temporary memory is taken after its output and freed with its dying
 * inputs, right after the step, so the next steps reuse it. Leaf slots come
 * first and live for the whole run.
 */
static bool assign_offsets(nb_graph *g, nbi_plan *p, planner *s)
{
    bin bins[SMALL_BLOCK / UNIT + 1];
    memset(bins, 0, sizeof bins);
    /* a resumed plan's blocks lie above its base's, whose values it reads */
    size_t start =
        s->base ? (s->base->workspace + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1) : 0;
    freelist fl = { .g = g, .bins = bins, .top = start };
    bool ok = true;
    uint32_t t = 0;
    pstep *ps = s->ps;
    pval *pv = s->pv;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        p->slot_offsets[i] = (uint32_t)(fl_alloc(&fl, UNIT) / UNIT);
    }
    for (uint32_t k = 0; k < p->n_steps && ok && !fl.overflow; k++) {
        pstep *q = &ps[k];
        const uint32_t *in = q->arity ? s->ins + q->in_at : NULL;
        if (q->flags & PS_VIEW) {
            p->offsets[k] = NO_UNIT;
            continue;
        }
        size_t size = q->size, off = 0;
        uint32_t units = size / UNIT < UINT32_MAX ? (uint32_t)(size / UNIT) : UINT32_MAX;
        bool placed = false;
        if (q->flags & PS_ELEM) {
            /* write over an input that dies here: same bytes, same shape (not broadcast) */
            for (uint32_t i = 0; i < q->arity && i < 8 && !placed; i++) {
                uint32_t r = IS_STEP(in[i]) ? pv[in[i]].root : NO_STEP;
                if (r != NO_STEP && pv[r].last == k && pv[r].size == units &&
                    (units != UINT32_MAX || ps[r].size == size) && (q->same >> i & 1)) {
                    off = (size_t)pv[r].off * UNIT;
                    pv[r].last = RELEASED_LAST; /* handed over, not freed */
                    placed = true;
                }
            }
        }
        if (!placed) {
            off = fl_alloc(&fl, size);
        }
        if (off / UNIT >= NO_UNIT) {
            ok = false; /* a workspace over 64 GiB: reported as out of memory */
            break;
        }
        pv[k].off = p->offsets[k] = (uint32_t)(off / UNIT);
        pv[k].size = units;
        size_t temp = p->n_temps ? temp_bytes(g->nodes[p->steps[k]]) : 0, temp_off = 0;
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
        for (uint32_t i = 0; i < q->arity; i++) {
            uint32_t r = IS_STEP(in[i]) ? pv[in[i]].root : NO_STEP;
            if (r != NO_STEP && pv[r].last == k) {
                pv[r].last = RELEASED_LAST;
                ok = fl_free(&fl, (size_t)pv[r].off * UNIT, ps[r].size);
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

static nbi_plan *plan_build(nb_graph *g, size_t n, nb_node *const *outs, int flags,
                            const nbi_plan *base)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        top = outs[i]->id > top ? outs[i]->id : top;
    }
    nbi_plan *p = nbi_mem_alloc(g, sizeof *p);
    if (!p) {
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->flags = flags;
    p->serial = ++g->plan_serial;
    p->base = base ? base->serial : 0;
    planner s;
    memset(&s, 0, sizeof s);
    s.base = base;
    s.n_ids = (size_t)top + 1;
    /* steps are at most the ids; pages of the room not used are never touched */
    s.state = nbi_mem_alloc(g, s.n_ids * sizeof *s.state);
    s.sidx = nbi_mem_alloc(g, s.n_ids * sizeof *s.sidx);
    s.ps = nbi_mem_alloc(g, s.n_ids * sizeof *s.ps);
    s.pv = nbi_mem_alloc(g, s.n_ids * sizeof *s.pv);
    s.ids = nbi_mem_alloc(g, s.n_ids * sizeof *s.ids);
    p->outs = nbi_mem_alloc(g, n * sizeof *p->outs);
    p->n_outs = (uint32_t)n;
    if (!s.state || !s.sidx || !s.ps || !s.pv || !s.ids || !p->outs || s.n_ids >= LEAF_SLOT) {
        goto fail;
    }
    if (base) { /* room for every value of the base; pages not used are never touched */
        s.cap_r = base->n_steps;
        if (s.cap_r >= RESUMED || !(s.r = nbi_mem_alloc(g, (size_t)s.cap_r * sizeof *s.r))) {
            s.cap_r = 0;
            goto fail;
        }
    }
    /* the inputs of nodes 0..top: room for those of every step, exactly */
    s.cap_ins = top + 1 < g->n_nodes ? g->meta[top + 1].in_at : g->n_in_ids;
    s.ins = s.cap_ins ? nbi_mem_alloc(g, (size_t)s.cap_ins * sizeof *s.ins) : NULL;
    if (s.cap_ins && !s.ins) {
        s.cap_ins = 0;
        goto fail;
    }
    memset(s.state, 0, s.n_ids * sizeof *s.state);
    for (size_t i = 0; i < n; i++) {
        p->outs[i] = outs[i]->id;
        s.state[outs[i]->id] |= NEEDED | OUTPUT;
    }
    if (!sweep(g, &s, top, &p->n_temps)) {
        goto fail;
    }
    uint32_t n_steps = s.n;
    pstep *ps = s.ps;
    pval *pv = s.pv;
    p->n_steps = n_steps;
    p->n_reads = s.n_reads;
    p->n_slots = s.n_slots;
    if (n_steps) {
        p->steps = nbi_mem_alloc(g, (size_t)n_steps * sizeof *p->steps);
        p->offsets = nbi_mem_alloc(g, (size_t)n_steps * sizeof *p->offsets);
        p->kind = nbi_mem_alloc(g, (size_t)n_steps * sizeof *p->kind);
        if (!p->steps || !p->offsets || !p->kind) {
            goto fail;
        }
        memcpy(p->steps, s.ids, (size_t)n_steps * sizeof *p->steps);
    }
    if (s.n_reads) {
        if (!(p->reads = nbi_mem_alloc(g, (size_t)s.n_reads * sizeof *p->reads))) {
            goto fail;
        }
        memcpy(p->reads, s.reads, (size_t)s.n_reads * sizeof *p->reads);
    }
    if (s.n_slots) {
        p->slots = nbi_mem_alloc(g, (size_t)s.n_slots * sizeof *p->slots);
        p->slot_offsets = nbi_mem_alloc(g, (size_t)s.n_slots * sizeof *p->slot_offsets);
        if (!p->slots || !p->slot_offsets) {
            goto fail;
        }
        memcpy(p->slots, s.slots, (size_t)s.n_slots * sizeof *p->slots);
    }

    /*
     * A plan of f32 scalar steps alone whose outputs are not gradients (a
     * forward pass, as a rule) saves its values, freeing none (16 bytes a
     * step), so that a later run, typically of the gradient, can resume from
     * them (resume_base) instead of computing them again.
     */
    p->saves = !base && n_steps > 0 && !s.product && !p->n_temps;
    for (size_t i = 0; i < n && p->saves; i++) {
        p->saves = !(outs[i]->flags & NBI_F_GRAD);
    }
    for (uint32_t k = 0; k < n_steps && p->saves; k++) {
        p->saves = (ps[k].flags & PS_SCALAR) && !(ps[k].flags & PS_VIEW);
    }
    /* last readers; kept values (outputs, or all with NB_RUN_KEEP_ALL) are never released */
    bool keep_all = flags & NB_RUN_KEEP_ALL;
    for (uint32_t k = 0; k < n_steps; k++) {
        pv[k].last = 0;
    }
    for (uint32_t k = 0; k < n_steps; k++) {
        const uint32_t *in = ps[k].arity ? s.ins + ps[k].in_at : NULL;
        for (uint32_t i = 0; i < ps[k].arity; i++) {
            if (IS_STEP(in[i])) {
                pv[in[i]].last = k;
            }
        }
    }
    for (uint32_t k = 0; k < n_steps; k++) {
        if (keep_all || (ps[k].flags & PS_KEPT)) {
            pv[k].last = KEPT_LAST;
        } else if (p->saves) {
            pv[k].last = SAVED_LAST;
        }
    }
    /* a view's readers keep its root alive: fold last uses down the view chains */
    for (uint32_t k = n_steps; k-- > 0;) {
        uint32_t src = ps[k].arity ? s.ins[ps[k].in_at] : NO_STEP;
        if ((ps[k].flags & PS_VIEW) && IS_STEP(src) && pv[k].last > pv[src].last) {
            pv[src].last = pv[k].last;
        }
    }
    for (uint32_t k = 0; k < n_steps; k++) {
        uint32_t src = ps[k].arity ? s.ins[ps[k].in_at] : NO_STEP;
        pv[k].root = !(ps[k].flags & PS_VIEW) ? k : IS_STEP(src) ? pv[src].root : NO_STEP;
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
    p->fused = s.product ? nbi_fuse_plan(g, p->steps, p->offsets, n_steps, UNIT) : NULL;

    /*
     * How each step runs. A scalar step reads its inputs at workspace offsets
     * (src), not through its node; its node's data is set only when something
     * reads it there: a kernel of a general step, or the caller (a kept value).
     */
    uint32_t n_scalar = 0;
    for (uint32_t k = 0; k < n_steps; k++) {
        p->kind[k] = KIND_GENERAL;
        if (ps[k].flags & PS_SCALAR) {
            p->kind[k] = (uint16_t)(KIND_SCALAR | (unsigned)ps[k].op << KIND_OP_SHIFT);
            n_scalar++;
        }
        if (pv[k].last == KEPT_LAST) {
            p->kind[k] |= KIND_SET_DATA;
        }
        if (!(ps[k].flags & PS_SCALAR)) {
            const uint32_t *in = ps[k].arity ? s.ins + ps[k].in_at : NULL;
            for (uint32_t i = 0; i < ps[k].arity; i++) {
                if (IS_STEP(in[i])) {
                    p->kind[in[i]] |= KIND_SET_DATA;
                }
            }
        }
    }
    if (n_scalar) {
        p->src = nbi_mem_alloc(g, (size_t)n_steps * 2 * sizeof *p->src);
        if (!p->src) {
            goto fail;
        }
        for (uint32_t k = 0; k < n_steps; k++) {
            if (!(p->kind[k] & KIND_SCALAR)) {
                continue;
            }
            const uint32_t *in = s.ins + ps[k].in_at;
            for (uint32_t i = 0; i < 2; i++) {
                uint32_t j = in[i < ps[k].arity ? i : 0];
                /* a leaf's slot, or the block of the step that computed it */
                NBI_ASSERT(j != NO_STEP);
                p->src[2 * k + i] = IS_STEP(j)    ? p->offsets[j]
                                    : j & RESUMED ? s.r[j & ~(LEAF_SLOT | RESUMED)].off
                                                  : p->slot_offsets[j & ~LEAF_SLOT];
            }
        }
    }
    p->n_src = n_scalar ? n_steps : 0;

    /* the base's nodes whose data the run sets: read by a kernel, or outputs */
    uint32_t n_resumed = 0, n_resumed_out = 0;
    for (uint32_t i = 0; i < s.n_r; i++) {
        n_resumed += s.r[i].mark != 0;
        n_resumed_out += (s.r[i].mark & RM_OUTPUT) != 0;
    }
    if (n_resumed) {
        p->resumed = nbi_mem_alloc(g, n_resumed * sizeof *p->resumed);
        p->resumed_offsets = nbi_mem_alloc(g, n_resumed * sizeof *p->resumed_offsets);
        if (!p->resumed || !p->resumed_offsets) {
            nbi_mem_free(g, p->resumed, n_resumed * sizeof *p->resumed);
            nbi_mem_free(g, p->resumed_offsets, n_resumed * sizeof *p->resumed_offsets);
            p->resumed = p->resumed_offsets = NULL;
            goto fail;
        }
        for (uint32_t i = 0; i < s.n_r; i++) {
            if (s.r[i].mark) {
                p->resumed[p->n_resumed] = s.r[i].id;
                p->resumed_offsets[p->n_resumed++] = s.r[i].off;
            }
        }
    }

    /* kept: outputs (the base's among them), and whatever a kept view keeps alive */
    uint32_t n_kept = n_resumed_out;
    for (uint32_t k = 0; k < n_steps; k++) {
        n_kept += pv[k].last == KEPT_LAST;
    }
    p->kept = n_kept ? nbi_mem_alloc(g, (size_t)n_kept * sizeof *p->kept) : NULL;
    if (n_kept && !p->kept) {
        goto fail;
    }
    p->n_kept = n_kept;
    n_kept = 0;
    for (uint32_t k = 0; k < n_steps; k++) {
        if (pv[k].last == KEPT_LAST) {
            p->kept[n_kept++] = p->steps[k];
        }
    }
    for (uint32_t i = 0; i < s.n_r; i++) {
        if (s.r[i].mark & RM_OUTPUT) {
            p->kept[n_kept++] = s.r[i].id;
        }
    }
    p->bytes = sizeof *p + n * sizeof *p->outs +
               (size_t)n_steps * (sizeof *p->steps + sizeof *p->offsets + sizeof *p->kind) +
               (size_t)p->n_src * 2 * sizeof *p->src + (size_t)p->n_kept * sizeof *p->kept +
               (size_t)p->n_temps * (sizeof *p->temp_steps + sizeof *p->temp_offsets) +
               (size_t)p->n_reads * sizeof *p->reads +
               (size_t)p->n_slots * (sizeof *p->slots + sizeof *p->slot_offsets) +
               (size_t)p->n_resumed * (sizeof *p->resumed + sizeof *p->resumed_offsets) +
               nbi_fused_bytes(p->fused);
    planner_free(g, &s);
    return p;
fail:
    planner_free(g, &s);
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

static nbi_plan *plan_find(nb_graph *g, size_t n, nb_node *const *outs, int flags, uint32_t base)
{
    nbi_plan *prev = NULL;
    for (nbi_plan *p = g->plans; p; prev = p, p = p->next) {
        if (p->flags != flags || p->n_outs != n || p->base != base) {
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

/*
 * Grows the workspace to size bytes. Its first keep bytes survive (a resumed
 * run reads its base's values there); the rest need not: every run rewrites
 * what it reads.
 */
static bool ensure_workspace(nb_graph *g, size_t size, size_t keep)
{
    if (size <= g->workspace_size) {
        return true;
    }
    if (!keep) { /* freed first, so the allocator may hand the same memory back */
        nbi_mem_free(g, g->workspace_block, g->workspace_block_size);
        g->workspace_block = NULL;
        g->workspace_block_size = 0;
        g->workspace = NULL;
        g->workspace_size = 0;
    }
    size_t alloc = size + BLOCK_ALIGN;
    unsigned char *b = nbi_mem_alloc(g, alloc);
    if (!b) {
        return false;
    }
    unsigned char *ws = b + ((BLOCK_ALIGN - (uintptr_t)b % BLOCK_ALIGN) % BLOCK_ALIGN);
    if (keep) {
        memcpy(ws, g->workspace, keep);
        nbi_mem_free(g, g->workspace_block, g->workspace_block_size);
    }
    g->workspace_block = b;
    g->workspace_block_size = alloc;
    g->workspace = ws;
    g->workspace_size = size;
    return true;
}

/*
 * The plan a run may resume from: the last run's, if it saved its values
 * (plan_build) and the leaves it read still hold what it read. That plan's
 * steps are f32 scalar steps, pure functions of their inputs, and read
 * leaves only through its slots, which still hold their copies; so when
 * every leaf equals its copy bit for bit, every saved value is what the
 * run would compute again. Leaves are written in place (nb_node_data,
 * optimizers, checkpoints) with no call the executor sees, so the copies
 * are the only sure test. Checked runs, runs with an after_step hook and
 * NB_RUN_KEEP_ALL runs compute every step themselves.
 */
static const nbi_plan *resume_base(const nb_graph *g, int flags)
{
    const nbi_plan *b = g->last_plan;
    if (!b || !b->saves || g->after_step || (flags & (NB_RUN_CHECK_FINITE | NB_RUN_KEEP_ALL))) {
        return NULL;
    }
    for (uint32_t i = 0; i < b->n_slots; i++) {
        if (memcmp(g->workspace + (size_t)b->slot_offsets[i] * UNIT, g->nodes[b->slots[i]]->data,
                   sizeof(float)) != 0) {
            return NULL;
        }
    }
    return b;
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
    const nbi_plan *base = resume_base(g, flags);
    nbi_plan *p = plan_find(g, n, outs, plan_flags, base ? base->serial : 0);
    if (!p) {
        p = plan_build(g, n, outs, plan_flags, base);
        if (!p) {
            return nbi_report(g, NB_ERR_NOMEM, "run", 0, NULL, "out of memory while planning");
        }
        plan_insert(g, p); /* never evicts base: it ran last, so it is not the oldest */
    }
    invalidate_values(g);
    if (!ensure_workspace(g, p->workspace, base ? base->workspace : 0)) {
        return nbi_report(g, NB_ERR_NOMEM, "run", 0, NULL,
                          "out of memory for a workspace of %zu bytes", p->workspace);
    }
    uint32_t t = 0;
    unsigned char *ws = g->workspace;
    /*
     * Scalar steps run through scalar_f32 on workspace offsets unless values
     * are checked (which needs each step's node and ranges); with an
     * after_step hook every node's data is set, since the hook may read it.
     */
    bool scalar_ok = !(flags & NB_RUN_CHECK_FINITE);
    bool set_all = g->after_step != NULL;
    for (uint32_t i = 0; i < p->n_slots; i++) {
        *(float *)(ws + (size_t)p->slot_offsets[i] * UNIT) =
            *(const float *)g->nodes[p->slots[i]]->data;
    }
    for (uint32_t i = 0; i < p->n_resumed; i++) {
        g->nodes[p->resumed[i]]->data = ws + (size_t)p->resumed_offsets[i] * UNIT;
    }
    g->resumed_runs += base != NULL;
    for (uint32_t k = 0; k < p->n_steps; k++) {
        if (p->fused && scalar_ok && !set_all) {
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
        unsigned kind = p->kind[k];
        if (scalar_ok && (kind & KIND_SCALAR)) {
            float *y = (float *)(ws + (size_t)p->offsets[k] * UNIT);
            float a = *(const float *)(ws + (size_t)p->src[2 * k] * UNIT);
            float b = *(const float *)(ws + (size_t)p->src[2 * k + 1] * UNIT);
            *y = nbi_ops[kind >> KIND_OP_SHIFT]->scalar_f32(a, b);
            if (!(kind & KIND_SET_DATA) && !set_all) {
                continue; /* nothing reads it through its node */
            }
            nb_node *v = g->nodes[p->steps[k]];
            v->data = y;
            if (set_all) {
                nb_status st = g->after_step(g->after_step_ctx, v);
                if (st != NB_OK) {
                    return st;
                }
            }
            continue;
        }
        nb_node *v = g->nodes[p->steps[k]];
        v->data = p->offsets[k] == NO_UNIT ? v->in[0]->data : ws + (size_t)p->offsets[k] * UNIT;
        g->scratch = NULL;
        if (t < p->n_temps && p->temp_steps[t] == k) {
            g->scratch = ws + (size_t)p->temp_offsets[t++] * UNIT;
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
    for (uint32_t i = 0; i < p->n_reads + (base ? base->n_reads : 0); i++) {
        nb_node *u = g->nodes[i < p->n_reads ? p->reads[i] : base->reads[i - p->n_reads]];
        if (!(u->flags & NBI_F_WRITTEN)) {
            char buf[64];
            snprintf(g->run_err, sizeof g->run_err,
                     "warning: input %s was never written and reads as zeros (give it values "
                     "with nb_node_write)",
                     nbi_name_into(u, buf, sizeof buf));
            return NB_OK;
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
