/*
 * graph/internal.h: private structs and helpers shared by graph/, ops/, autodiff/
 * and optim/. Never installed. Cross-file internals carry the nbi_ prefix and
 * hidden visibility (the library is built with -fvisibility=hidden).
 */
#ifndef NABLA_INTERNAL_H
#define NABLA_INTERNAL_H

#include "nabla.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../ops/op.h"

/* "nabla has a bug": the only assertion macro; never fires on user input. */
#define NBI_ASSERT(cond) assert(cond)

#if defined(__GNUC__)
#define NBI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NBI_PRINTF(f, a)
#endif

/* Node flags. */
enum {
    NBI_F_GRAD = 1u << 0,    /* built by nb_grad */
    NBI_F_VALID = 1u << 1,   /* an op node whose data holds its value from the last run */
    NBI_F_NAMED = 1u << 2,   /* name was given by the user */
    NBI_F_SEED = 1u << 3,    /* the seed of an nb_grad call (its pair in grad_pairs names y) */
    NBI_F_WRITTEN = 1u << 4, /* an input given values (written, loaded, or its data handed out) */
};

/*
 * A node: 64 bytes on LP64 and 8 more per input, so a million binary nodes
 * are 80 MB of metadata (and 16 more bytes in the graph's flat tables, below).
 * Its inputs follow it in the same arena block; its attributes (one nbi_attr
 * per attribute its op's record describes) are allocated only for ops that
 * have some. Shapes are interned: elementwise ops share their input's shape
 * array. Names live in a hash (g->names) holding only the nodes that were
 * named or asked for their name, so naming a few gradients costs nothing per
 * node.
 */
struct nb_node {
    nb_node **in;         /* arity inputs */
    void *data;           /* value; leaves own it, op nodes point into the workspace */
    nb_graph *g;          /* owner: ownership checks, lazy names */
    const int64_t *shape; /* rank entries, owned by the arena */
    nbi_attr *attr;       /* the op's attributes, NULL when it has none */
    uint32_t id;          /* index in g->nodes: creation order, also a topological order */
    uint32_t ord;         /* 1-based ordinal among nodes of this op, for generated names */
    uint32_t scope;       /* scope instance, 0 for none */
    uint16_t arity;       /* inputs */
    uint8_t op;           /* nbi_op_id */
    uint8_t dtype;        /* nb_dtype */
    uint8_t rank;
    uint8_t flags; /* NBI_F_* */
};

/*
 * What the planner reads of node id, in g->meta: a flat array beside the
 * records, so planning sweeps 8 bytes a node (and the input ids, 4 bytes an
 * input, in g->in_ids) instead of chasing pointers through 64-byte records.
 * Input ids of node id are in_ids[meta[id].in_at .. meta[id + 1].in_at), the
 * last node's up to n_in_ids.
 */
typedef struct nbi_meta {
    uint32_t in_at;
    uint8_t op;
    uint8_t flags; /* NBI_M_* */
    uint8_t same;  /* bit i: input i (i < 8) has this node's shape (the in-place test) */
    uint8_t units; /* the value's bytes rounded up to 16-byte units, when at most 256; else 0 */
} nbi_meta;

enum {
    NBI_M_LEAF = 1u << 0,   /* input, param, const or state */
    NBI_M_SCALAR = 1u << 1, /* f32 scalars in and out, and its op has a scalar_f32 */
};

/* A scope instance. Index 0 is the root (no scope). */
typedef struct nbi_scope {
    const char *name;
    uint32_t parent;
    uint32_t level; /* 1 for outermost */
} nbi_scope;

/* Arena chunk: node records, shapes, names and leaf values. */
typedef struct nbi_chunk {
    struct nbi_chunk *next;
    size_t size; /* bytes of data[] */
    size_t used;
    size_t alloc_size; /* bytes given to the allocator, header included */
    unsigned char data[];
} nbi_chunk;

typedef struct nbi_plan nbi_plan;

/* An entry of the name hash (open addressing; name NULL marks a free slot). */
typedef struct nbi_name {
    uint32_t id;
    const char *name;
} nbi_name;

#define NBI_MSG_MAX     512
#define NBI_CONST_CACHE 32

/*
 * nb_graph_reset (graph/graph.c) zeroes every field but the memory it lists
 * to keep: a new field that owns memory must be kept or freed there.
 */
struct nb_graph {
    nb_alloc_fn alloc;
    void *user;

    nbi_chunk *chunks;
    nbi_chunk *spare; /* chunks of the nodes before nb_graph_reset, for the nodes to come */
    size_t arena_bytes;

    nb_node **nodes;
    uint32_t n_nodes, cap_nodes;
    nbi_meta *meta; /* per node, for the planner (graph/exec.c) */
    uint32_t cap_meta;
    uint32_t *in_ids; /* every node's input ids, in id order */
    uint32_t n_in_ids, cap_in_ids;
    struct nbi_name *names; /* hash from node id to name: given, or generated on request */
    uint32_t cap_names, n_names;
    uint32_t op_count[NBI_OP_COUNT];

    nb_status status;          /* sticky build status */
    char err[NBI_MSG_MAX];     /* first build error */
    char run_err[NBI_MSG_MAX]; /* last failed run or data call, not sticky */

    nbi_scope *scopes;
    uint32_t n_scopes, cap_scopes;
    uint32_t cur_scope;
    uint32_t open_scopes; /* depth of the push stack */

    uint64_t rng[4];

    bool eval_mode;    /* nb_graph_set_training(g, false) */
    bool run_training; /* the mode of the run in progress, for kernels (dropout, batch_norm) */

    bool in_grad;     /* nb_grad is building: new nodes get NBI_F_GRAD */
    bool no_simplify; /* nb_graph_set_simplify(g, false): nb_grad keeps its rules' raw output */
    nb_node *const_cache[NBI_CONST_CACHE];
    uint32_t const_next;

    /* (wrt, grad) pairs from nb_grad calls, for DOT's gradient display */
    nb_node **grad_pairs;
    uint32_t n_grad_pairs, cap_grad_pairs;

    nbi_plan *plans; /* most recently used first */
    uint32_t n_plans;
    nbi_plan *last_plan;  /* plan of the last successful run: its kept values are valid */
    uint32_t plan_serial; /* serials of plans built so far (a resumed plan names its base's) */
    unsigned char *workspace;
    size_t workspace_size;
    void *workspace_block; /* unaligned allocation behind workspace */
    size_t workspace_block_size;
    /*
     * The running step's temporary memory (its op's scratch bytes, 64-byte
     * aligned, in the workspace), valid only inside that step's forward.
     */
    void *scratch;

    /*
     * While set, the executor calls it after each step's kernel with the node
     * just computed; a status other than NB_OK stops the run. dist/dist.c
     * starts a gradient bucket's all-reduce as soon as its gradients exist.
     */
    nb_status (*after_step)(void *ctx, nb_node *v);
    void *after_step_ctx;

    bool no_fuse;          /* plans built while set run every step alone (tests compare) */
    uint64_t fused_runs;   /* fused regions run so far (graph/fuse.c), for tests */
    uint64_t resumed_runs; /* runs that resumed from the last run's saved values, for tests */
};

/* ---- threads (graph/parallel.c) ---- */

/* Threads nabla's own loops may use: BLIS's thread count, 1 without OpenMP. */
int nbi_threads(void);

/* Elements from which a loop is worth splitting between threads (a split costs microseconds). */
#define NBI_PAR_MIN 32768

/* Work of thread k of nt (0 <= k < nt). */
typedef void nbi_parallel_fn(void *ctx, int k, int nt);

/*
 * Calls fn(ctx, k, nt) on nt threads at once (nt may come out smaller than
 * asked: nested in another parallel region it is 1), and returns when all
 * are done. threads <= 1, or a build without OpenMP, calls fn(ctx, 0, 1).
 */
void nbi_parallel(int threads, nbi_parallel_fn *fn, void *ctx);

/* ---- memory (graph/arena.c) ---- */

/* Allocation through the graph's hook. NULL on failure; the caller reports. */
void *nbi_mem_alloc(nb_graph *g, size_t size);
void *nbi_mem_realloc(nb_graph *g, void *p, size_t old_size, size_t new_size);
void nbi_mem_free(nb_graph *g, void *p, size_t size);

/* Arena allocation, 16-byte aligned (64 for sizes >= 64); lives until nb_graph_free. */
void *nbi_arena_alloc(nb_graph *g, size_t size);
/*
 * The same at a given alignment (a power of two up to 64): node records take
 * 16, so a binary node's 80 bytes are not padded to 128.
 */
void *nbi_arena_alloc_aligned(nb_graph *g, size_t size, size_t align);
char *nbi_arena_strdup(nb_graph *g, const char *s);
void nbi_arena_free_all(nb_graph *g);
/* Empties the arena but keeps its chunks as g->spare, which later chunks come from first. */
void nbi_arena_recycle(nb_graph *g);

/* Grows an array of elem-sized items to hold at least need; false on OOM or overflow. */
bool nbi_grow(nb_graph *g, void **array, uint32_t *cap, uint32_t need, size_t elem);

/* ---- checked sizes (graph/shape.c) ---- */

bool nbi_mul_overflows(size_t a, size_t b, size_t *out);
/* Element count of a shape; false if it overflows size_t or any dimension is < 1. */
bool nbi_shape_count(int rank, const int64_t *shape, size_t *count);
/*
 * Element count and byte size of a shape of dtype; false if a dimension is
 * outside 1..2^31-1 or the byte size exceeds PTRDIFF_MAX (no object can be
 * larger, and the executor's offset sums stay far from overflowing).
 */
bool nbi_shape_bytes(int rank, const int64_t *shape, int dtype, size_t *count, size_t *bytes);
size_t nbi_node_bytes(const nb_node *n);
/*
 * Refills the planner's flat tables (g->meta, g->in_ids) of nodes first on,
 * whose input ids began at in_ids[at], after their inputs, ops or ids were
 * rewritten in place (the simplifier).
 */
void nbi_meta_refresh(nb_graph *g, uint32_t first, uint32_t at);
size_t nbi_dtype_size(int dtype);
bool nbi_same_shape(const nb_node *a, const nb_node *b);
bool nbi_shape_eq(int ra, const int64_t *a, int rb, const int64_t *b);
/* NumPy broadcast of two shapes into out (rank max(ra, rb)); false if they do not fit. */
bool nbi_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rank,
                         int64_t *out);
/*
 * Writes x with the fewest significant digits (from 15, or 6 for f32) that
 * read back as the same value: 0.1, not 0.10000000000000001.
 */
void nbi_format_real(double x, bool f32, char *buf, size_t cap);

/* Writes "[4,3]" (or "[]") to buf. */
void nbi_format_shape(int rank, const int64_t *shape, char *buf, size_t cap);
/*
 * Writes n's values as nested lists ("[[1, 2], [3, 4]]", a scalar bare),
 * each element through put(f, n, i): DOT and the model writer share it.
 */
void nbi_put_nested(FILE *f, const nb_node *n, void (*put)(FILE *f, const nb_node *n, size_t i));

/* Splits x's shape at axis into outer * len * inner. */
void nbi_axis_split(const nb_node *x, int axis, size_t *outer, size_t *len, size_t *inner);

/* ---- errors (graph/error.c): the one funnel that formats every message ---- */

/*
 * Records a sticky build error "op(a[2,3], b[3]): detail" on g unless one is
 * already there. n inputs are listed; n == 0 gives "op: detail".
 */
void nbi_fail(nb_graph *g, nb_status code, const char *op, int n, nb_node *const *in,
              const char *fmt, ...) NBI_PRINTF(6, 7);

/* As nbi_fail, for run and data errors: sets run_err, leaves the status alone. */
nb_status nbi_report(nb_graph *g, nb_status code, const char *op, int n, nb_node *const *in,
                     const char *fmt, ...) NBI_PRINTF(6, 7);

/* Records NB_ERR_NOMEM for op. */
void nbi_fail_nomem(nb_graph *g, const char *op);

/* ---- node construction (graph/graph.c) ---- */

/*
 * Validates the inputs of a builder call: returns false (recording an error on a
 * healthy graph) if g is in error, an input is NULL, or an input belongs to
 * another graph.
 */
bool nbi_check_inputs_slow(nb_graph *g, const char *op, int n, nb_node *const *in);

/* Requires every input to be f32 or f64 and of one dtype; records NB_ERR_DTYPE. */
bool nbi_check_float_slow(nb_graph *g, const char *op, int n, nb_node *const *in);

/*
 * The checks above, inline: every builder calls them, and the passing case is
 * a few loads; the _slow versions find and report what failed.
 */
static inline bool nbi_check_inputs(nb_graph *g, const char *op, int n, nb_node *const *in)
{
    if (!g || g->status != NB_OK) {
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!in[i] || in[i]->g != g) {
            return nbi_check_inputs_slow(g, op, n, in);
        }
    }
    return true;
}

static inline bool nbi_check_float(nb_graph *g, const char *op, int n, nb_node *const *in)
{
    for (int i = 0; i < n; i++) {
        if (in[i]->dtype == NB_DTYPE_I32 || in[i]->dtype != in[0]->dtype) {
            return nbi_check_float_slow(g, op, n, in);
        }
    }
    return true;
}

/*
 * Normalises axis (negative counts from the end) for x; records NB_ERR_AXIS.
 */
bool nbi_check_axis(nb_graph *g, const char *op, nb_node *x, int axis, int *out);

/*
 * Appends a node of op with the given dtype, shape and n inputs, in the current
 * scope, its attributes (if its op has any) set to their defaults. The shape
 * is interned (shared with an input's when equal). Returns NULL after
 * recording NB_ERR_NOMEM, or NB_ERR_SHAPE for a shape too large.
 */
nb_node *nbi_node_newv(nb_graph *g, int op, int dtype, int rank, const int64_t *shape, int n,
                       nb_node *const *in);

/* nbi_node_newv for ops of at most two inputs (b, or both, may be NULL). */
nb_node *nbi_node_new(nb_graph *g, int op, int dtype, int rank, const int64_t *shape, nb_node *a,
                      nb_node *b);

/* True if n is a node of g. */
bool nbi_owns(const nb_graph *g, const nb_node *n);

/* A cached rank-0 constant (grad rules use 1, 0.5, -1 ... many times). */
nb_node *nbi_scalar_cached(nb_graph *g, int dtype, double value);

static inline bool nbi_is_leaf(const nb_node *n)
{
    return n->op == NBI_OP_INPUT || n->op == NBI_OP_PARAM || n->op == NBI_OP_CONST ||
           n->op == NBI_OP_STATE;
}

static inline size_t nbi_node_count(const nb_node *n)
{
    size_t c = 1;
    for (int i = 0; i < n->rank; i++) {
        c *= (size_t)n->shape[i];
    }
    return c;
}

/* The node's name without allocating: the given name, or "op_ord" written to buf. */
const char *nbi_name_into(const nb_node *n, char *buf, size_t cap);

/*
 * As nb_node_name, but NULL when a generated name cannot be stored for lack of
 * memory, where nb_node_name falls back to the op name. Files written or
 * matched by name (models, checkpoints) must not use that fallback.
 */
const char *nbi_node_name_stored(nb_node *n);

/* Writes "name[4,3]" to buf. */
void nbi_describe(nb_node *n, char *buf, size_t cap);

/* ---- random numbers (graph/rng.c) ---- */

uint64_t nbi_rng_next(nb_graph *g);
double nbi_rng_uniform(nb_graph *g); /* [0, 1) */
double nbi_rng_normal(nb_graph *g);  /* N(0, 1) */

/* ---- scopes (graph/scope.c) ---- */

/* Creates a scope instance under parent; returns its index or 0 after recording NOMEM. */
uint32_t nbi_scope_new(nb_graph *g, const char *name, uint32_t parent);

/*
 * False when a scope is still open (an nb_scope_push without its pop), and
 * writes "scope 'NAME' is still open ..." to msg: nb_grad, runs and depth
 * queries refuse to go on, since nodes built or measured then would be
 * grouped in a scope the program meant to have closed.
 */
bool nbi_scopes_closed(const nb_graph *g, char *msg, size_t cap);

/* ---- depth (graph/depth.c) ---- */

/* nb_depth_path, also telling why it returned 0. */
size_t nbi_depth_path(nb_graph *g, nb_node *out, int level, nb_node **path, size_t cap,
                      nb_status *status);

/* ---- execution (graph/exec.c) ---- */

void nbi_plans_free(nb_graph *g);
size_t nbi_plans_bytes(const nb_graph *g);

/* ---- fusion (graph/fuse.c): Xᵀ-and-X products run in one pass over X ---- */

/* The fused regions of one plan; owned by the plan. */
typedef struct nbi_fused nbi_fused;

/*
 * Reorders steps[0..n) (a topological order) so that each fusable region is
 * contiguous; still a topological order. Never fails (without memory it
 * leaves the order alone).
 */
void nbi_fuse_order(nb_graph *g, uint32_t *steps, uint32_t n);

/*
 * The regions of a plan whose steps nbi_fuse_order arranged and whose
 * workspace offsets (in units of unit bytes, UINT32_MAX for views) are
 * assigned, keeping those that block-wise execution runs exactly as step by
 * step; NULL when none (or without memory: running unfused is as correct).
 */
nbi_fused *nbi_fuse_plan(nb_graph *g, const uint32_t *steps, const uint32_t *offsets, uint32_t n,
                         size_t unit);
void nbi_fused_free(nb_graph *g, nbi_fused *f);
size_t nbi_fused_bytes(const nbi_fused *f);

/*
 * Runs the region that starts at step k, if f has one there, and sets
 * *covered to its number of steps (0 when the step is to run alone). Data
 * pointers into g->workspace are set as the run loop sets them.
 */
nb_status nbi_fuse_run(nb_graph *g, const nbi_fused *f, uint32_t k, uint32_t *covered);

/* True if n has a value right now (a leaf, or an op node kept by the last run). */
static inline bool nbi_has_value(const nb_node *n)
{
    return nbi_is_leaf(n) || (n->flags & NBI_F_VALID);
}

/* ---- helpers for gradient rules (autodiff/grad.c), built from public builders ---- */

/*
 * dy * local, the chain rule's product, skipped when dy is the constant 1 that
 * seeds a scalar output, so first-order graphs carry no "1 * x" nodes.
 */
nb_node *nbi_chain(nb_graph *g, nb_node *dy, nb_node *local);

/* dx summed down to like's shape when broadcasting made it larger; dx itself otherwise. */
nb_node *nbi_unbroadcast(nb_graph *g, nb_node *dx, const nb_node *like);

/*
 * dy of a reduction of x along axis (keepdims or not) brought back to x's shape:
 * reshaped to keep the axis, then broadcast.
 */
nb_node *nbi_expand_reduced(nb_graph *g, nb_node *dy, nb_node *x, int axis, bool keepdims);

/* ---- the simplifier (autodiff/simplify.c) ---- */

/*
 * Simplifies nodes first..n_nodes-1 (all nb_grad's, nothing else points at
 * them) in place, replaces each of roots[] by its representative, and drops
 * the nodes no root needs; counts are the op counts before first, from which
 * the kept nodes' ords restart.
 */
void nbi_simplify_tail(nb_graph *g, uint32_t first, const uint32_t *counts, size_t n_roots,
                       nb_node **roots);

/*
 * nbi_simplify_tail's two halves. nbi_simplify_needed is false only when the
 * sweep would change no node from first on and find each one read (by a later
 * node or as one of roots[]); it reads the flat tables, and a node's record
 * only where a rule might apply. nbi_simplify_sweep is the sweep itself.
 */
bool nbi_simplify_needed(nb_graph *g, uint32_t first, size_t n_roots, nb_node *const *roots);
void nbi_simplify_sweep(nb_graph *g, uint32_t first, const uint32_t *counts, size_t n_roots,
                        nb_node **roots);

#endif /* NABLA_INTERNAL_H */
