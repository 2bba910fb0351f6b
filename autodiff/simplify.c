/*
 * autodiff/simplify.c: the graph simplifier. One sweep in id order (a
 * topological order) gives every node a representative: an earlier node
 * computing the same thing (common subexpressions, hash-consed on op, dtype,
 * shape, inputs and attributes), an input an identity hands back (x*1, x+0,
 * x-0, x/1, -(-x), transpose of a transpose), or the node itself with its
 * inputs replaced by theirs (reshape of a reshape, broadcast of a broadcast
 * skip the middle node). A node whose inputs are all nabla's own constants is
 * computed now and becomes one (constant folding). nb_grad runs it over the
 * nodes it just built, rewriting them in place and dropping those no gradient
 * needs; nb_graph_simplify runs it over a program's graph, where nodes are
 * never changed: the nodes that change are built anew.
 */
#include "../graph/internal.h"

/* Folding computes values at build time: only small ones, so no memory is spent on them. */
#define FOLD_MAX 64

/* A representative and its hash (kept, so probes compare hashes before nodes). */
struct slot {
    nb_node *n;
    uint64_t h;
};

typedef struct simp {
    nb_graph *g;
    nb_node **rep;      /* representative per id below hi; NULL for nodes not visited */
    uint32_t lo, hi;    /* the nodes visited: ids lo..hi-1 */
    uint32_t owned;     /* nodes from this id on may be rewritten in place */
    struct slot *table; /* hash set of representatives (see TABLE_MAX), 64-byte aligned */
    void *table_block;  /* its allocation */
    uint32_t cap;
    size_t changes;    /* nodes merged, folded, rewritten or replaced: none, nothing to drop */
    const uint8_t *on; /* nodes to visit (indexed by id - lo), NULL for all */
    uint8_t *used;     /* nb_grad's: nodes some kept node reads (indexed by id - lo) */
} simp;

/* ---- what a node is known to hold ---- */

/*
 * True if n holds value v everywhere and always: a fill node, or a constant
 * of nabla's own (NBI_F_GRAD); a program's constant can be rewritten later
 * with nb_node_write, so its values today prove nothing.
 */
static bool holds(const nb_node *n, double v)
{
    if (n->op == NBI_OP_FILL) {
        return n->attr[0].f == v;
    }
    if (n->op != NBI_OP_CONST || !(n->flags & NBI_F_GRAD)) {
        return false;
    }
    size_t count = nbi_node_count(n);
    for (size_t i = 0; i < count; i++) {
        double x = n->dtype == NB_DTYPE_F32 ? (double)((const float *)n->data)[i]
                                            : ((const double *)n->data)[i];
        if (x != v) {
            return false;
        }
    }
    return true;
}

static bool own_const(const nb_node *n)
{
    return n->op == NBI_OP_CONST && (n->flags & NBI_F_GRAD) && !(n->flags & NBI_F_SEED);
}

/* Ops whose result depends on more than their inputs and attributes: never merged or folded. */
static bool impure(int op)
{
    return op == NBI_OP_DROPOUT || op == NBI_OP_BATCH_NORM || op == NBI_OP_MODE_SELECT ||
           op == NBI_OP_INPUT || op == NBI_OP_PARAM || op == NBI_OP_STATE;
}

/* ---- hash-consing ---- */

/* One step of the hash: every bit of x reaches every bit of the result (splitmix64's finalizer). */
static uint64_t mix(uint64_t h, uint64_t x)
{
    h = (h ^ x) * 0x9e3779b97f4a7c15u;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9u;
    return h ^ (h >> 29);
}

static uint64_t bytes_hash(const void *p, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *c = p; len-- > 0; c++) {
        h = (h ^ *c) * 1099511628211u;
    }
    return h;
}

/*
 * Attributes by their kinds' fields: an nbi_attr has padding after its count
 * and list entries past it, which a struct copy may leave undefined, so
 * hashing or comparing its bytes would read them.
 */
static uint64_t attr_bits(const nbi_attr *a, nbi_attr_kind kind, int j)
{
    if (kind == NBI_ATTR_FLOAT) {
        uint64_t b;
        memcpy(&b, &a->f, sizeof b);
        return b;
    }
    return kind == NBI_ATTR_INTS ? (uint64_t)(uint32_t)a->list[j] : (uint64_t)a->i;
}

static int attr_len(const nbi_attr *a, nbi_attr_kind kind)
{
    return kind == NBI_ATTR_INTS ? (a->n > 0 && a->n <= NBI_ATTR_LIST ? a->n : 0) : 1;
}

static uint64_t attrs_hash(uint64_t h, const nb_node *n)
{
    const nbi_op *rec = nbi_ops[n->op];
    for (int k = 0; k < rec->n_attrs; k++) {
        nbi_attr_kind kind = rec->attrs[k].kind;
        int len = attr_len(&n->attr[k], kind);
        h = mix(h, (uint64_t)len);
        for (int j = 0; j < len; j++) {
            h = mix(h, attr_bits(&n->attr[k], kind, j));
        }
    }
    return h;
}

static bool attrs_same(const nb_node *a, const nb_node *b)
{
    const nbi_op *rec = nbi_ops[a->op];
    for (int k = 0; k < rec->n_attrs; k++) {
        nbi_attr_kind kind = rec->attrs[k].kind;
        int len = attr_len(&a->attr[k], kind);
        if (len != attr_len(&b->attr[k], kind)) {
            return false;
        }
        for (int j = 0; j < len; j++) {
            if (attr_bits(&a->attr[k], kind, j) != attr_bits(&b->attr[k], kind, j)) {
                return false;
            }
        }
    }
    return true;
}

static uint64_t node_hash(const nb_node *n)
{
    uint64_t h = mix(1469598103934665603u, (uint64_t)n->op | (uint64_t)n->dtype << 8 |
                                               (uint64_t)n->rank << 16 | (uint64_t)n->arity << 24);
    for (int i = 0; i < n->rank; i++) {
        h = mix(h, (uint64_t)n->shape[i]);
    }
    for (int i = 0; i < n->arity; i++) {
        h = mix(h, (uint64_t)(uintptr_t)n->in[i]); /* the pointer: no load of the input */
    }
    if (n->attr) {
        h = attrs_hash(h, n);
    }
    if (n->op == NBI_OP_CONST) {
        h = mix(h, bytes_hash(n->data, nbi_node_bytes(n)));
    }
    return h;
}

static bool node_same(const nb_node *a, const nb_node *b)
{
    if (a->op != b->op || a->dtype != b->dtype || a->arity != b->arity ||
        !nbi_shape_eq(a->rank, a->shape, b->rank, b->shape)) {
        return false;
    }
    for (int i = 0; i < a->arity; i++) {
        if (a->in[i] != b->in[i]) {
            return false;
        }
    }
    if (a->attr && b->attr && !attrs_same(a, b)) {
        return false;
    }
    if (a->op == NBI_OP_CONST) {
        return memcmp(a->data, b->data, nbi_node_bytes(a)) == 0;
    }
    return true;
}

/*
 * The table: buckets of 4 slots, one cache line each; a node lives in its home
 * bucket or the other one of its pair (the same 128 bytes). It has 8 slots per
 * node up to TABLE_MAX slots (2 MB, so a lookup in a large gradient is one miss
 * in a cache-sized table, not a miss and a TLB walk in a huge one). When a
 * node finds its 8 slots taken it replaces one (chosen by its hash), and that
 * one merges no more: on graphs larger than about TABLE_MAX / 8 nodes, two
 * equal nodes far apart may both stay. Which do depends on the graph alone,
 * and merged or not the values are the same.
 */
#define TABLE_MAX (1u << 17)
#define BUCKET    4

/* Sizes the table for n representatives. */
static bool table_init(simp *s, uint32_t n)
{
    uint32_t cap = 64;
    while (cap < 8 * (uint64_t)n && cap < TABLE_MAX) {
        cap *= 2;
    }
    size_t bytes = (size_t)cap * sizeof(struct slot) + 64;
    s->table_block = nbi_mem_alloc(s->g, bytes);
    if (!s->table_block) {
        return false;
    }
    memset(s->table_block, 0, bytes);
    s->table = (struct slot *)(((uintptr_t)s->table_block + 63) & ~(uintptr_t)63);
    s->cap = cap;
    return true;
}

/* The first slot of the bucket pair of hash h. */
static struct slot *pair_of(const simp *s, uint64_t h)
{
    return &s->table[((uint32_t)h & (s->cap - 1)) & ~(uint32_t)(2 * BUCKET - 1)];
}

/* The node in the table that computes what n (of hash h) does, or NULL. */
static nb_node *lookup(const simp *s, const nb_node *n, uint64_t h)
{
    struct slot *p = pair_of(s, h);
    for (int i = 0; i < 2 * BUCKET && p[i].n; i++) {
        if (p[i].h == h && node_same(p[i].n, n)) {
            return p[i].n;
        }
    }
    return NULL;
}

/* The node in the table that computes what n does, else n (now in the table). */
static nb_node *intern(simp *s, nb_node *n)
{
    uint64_t h = node_hash(n);
    struct slot *p = pair_of(s, h);
    for (int i = 0; i < 2 * BUCKET; i++) {
        if (!p[i].n) {
            p[i] = (struct slot){ n, h };
            return n;
        }
        if (p[i].h == h && node_same(p[i].n, n)) {
            s->changes++;
            return p[i].n;
        }
    }
    p[(h >> 40) & (2 * BUCKET - 1)] = (struct slot){ n, h };
    return n;
}

/* ---- rules ---- */

/*
 * The input an identity makes v equal to, or NULL. in[] are v's inputs'
 * representatives. x*0 is left alone: it is 0 only for finite x (inf*0 and
 * NaN*0 are NaN), and when x is a constant known finite, folding does it.
 */
static nb_node *identity(const nb_node *v, nb_node *const *in)
{
    switch (v->op) {
    case NBI_OP_MUL:
        for (int i = 0; i < 2; i++) {
            if (holds(in[1 - i], 1.0) && nbi_same_shape(in[i], v)) {
                return in[i];
            }
        }
        return NULL;
    case NBI_OP_ADD:
        for (int i = 0; i < 2; i++) {
            if (holds(in[1 - i], 0.0) && nbi_same_shape(in[i], v)) {
                return in[i];
            }
        }
        return NULL;
    case NBI_OP_SUB:
        return holds(in[1], 0.0) && nbi_same_shape(in[0], v) ? in[0] : NULL;
    case NBI_OP_DIV:
        return holds(in[1], 1.0) && nbi_same_shape(in[0], v) ? in[0] : NULL;
    case NBI_OP_NEG:
    case NBI_OP_TRANSPOSE: /* swaps the last two axes: twice is no swap */
        return in[0]->op == v->op ? in[0]->in[0] : NULL;
    case NBI_OP_RESHAPE:
    case NBI_OP_BROADCAST_TO:
        return nbi_same_shape(in[0], v) ? in[0] : NULL;
    default:
        return NULL;
    }
}

/* reshape(reshape(x)) is reshape(x); broadcast_to(broadcast_to(x)) is broadcast_to(x). */
static void skip_middle(const nb_node *v, nb_node **in)
{
    if ((v->op == NBI_OP_RESHAPE || v->op == NBI_OP_BROADCAST_TO) && in[0]->op == v->op) {
        in[0] = in[0]->in[0];
    }
}

static bool foldable(const nb_node *v, nb_node *const *in)
{
    const nbi_op *rec = nbi_ops[v->op];
    if (v->arity == 0 || impure(v->op) || !rec->forward || (rec->scratch && rec->scratch(v)) ||
        !((rec->flags & NBI_OP_ELEMENTWISE) || v->op == NBI_OP_BROADCAST_TO ||
          v->op == NBI_OP_SUM_TO || v->op == NBI_OP_TRANSPOSE) ||
        v->dtype == NB_DTYPE_I32 || nbi_node_count(v) > FOLD_MAX) {
        return false;
    }
    for (int i = 0; i < v->arity; i++) {
        /*
         * not the seed: folding what is computed from it (the broadcast seed of a
         * sum) would turn gradients into constants and program nodes (d sum(a*b) / da
         * would be b itself), nodes nb_grad could not name or flag
         */
        if (!own_const(in[i])) {
            return false;
        }
    }
    return true;
}

/* Computes v (owned, inputs all constants) with its kernel and turns it into a constant. */
static void fold(nb_graph *g, nb_node *v)
{
    void *data = nbi_arena_alloc(g, nbi_node_bytes(v));
    if (!data) {
        nbi_fail_nomem(g, "simplify");
        return;
    }
    v->data = data;
    if (nbi_ops[v->op]->forward(g, v) != NB_OK) {
        v->data = NULL;
        return;
    }
    v->op = NBI_OP_CONST;
    v->arity = 0;
    v->attr = NULL;
    v->flags = NBI_F_GRAD;
}

/* A copy of v (not owned) with inputs in[]: same op, attributes, scope and flags. */
static nb_node *rebuild(simp *s, nb_node *v, nb_node *const *in)
{
    nb_graph *g = s->g;
    uint32_t scope = g->cur_scope;
    bool in_grad = g->in_grad;
    g->cur_scope = v->scope;
    g->in_grad = (v->flags & NBI_F_GRAD) != 0; /* a forward node's copy is forward */
    nb_node *c = nbi_node_newv(g, v->op, v->dtype, v->rank, v->shape, v->arity, in);
    g->cur_scope = scope;
    g->in_grad = in_grad;
    if (!c) {
        return NULL;
    }
    int n_attrs = nbi_ops[v->op]->n_attrs;
    if (n_attrs > 0) {
        memcpy(c->attr, v->attr, (size_t)n_attrs * sizeof *c->attr);
    }
    c->flags = (uint8_t)(v->flags & NBI_F_GRAD);
    return c;
}

static nb_node *rep_of(const simp *s, nb_node *n)
{
    return n->id >= s->lo && n->id < s->hi && s->rep[n->id - s->lo] ? s->rep[n->id - s->lo] : n;
}

/* The representative of v, whose inputs already have theirs. */
static nb_node *visit(simp *s, nb_node *v)
{
    if (v->op == NBI_OP_CONST) {
        return own_const(v) ? intern(s, v) : v;
    }
    if (nbi_is_leaf(v) || (v->flags & NBI_F_SEED)) {
        return v;
    }
    nb_node *in[NB_MAX_ARITY];
    bool changed = false;
    for (int i = 0; i < v->arity; i++) {
        in[i] = rep_of(s, v->in[i]);
    }
    nb_node *same = identity(v, in);
    if (same) {
        s->changes++;
        return same;
    }
    skip_middle(v, in);
    if (v->op == NBI_OP_RESHAPE && nbi_same_shape(in[0], v)) {
        s->changes++;
        return in[0]; /* reshape(reshape(x, s), shape(x)) */
    }
    for (int i = 0; i < v->arity; i++) {
        changed |= in[i] != v->in[i];
    }
    bool fold_it = foldable(v, in);
    s->changes += changed || fold_it;
    if (v->id < s->owned && changed && !fold_it && !impure(v->op)) {
        /* a node that is not ours: look for its new form before building it */
        nb_node probe = *v;
        probe.in = in;
        nb_node *found = lookup(s, &probe, node_hash(&probe));
        if (found) {
            s->changes++;
            return found;
        }
    }
    if (v->id < s->owned && (changed || fold_it)) {
        nb_node *c = rebuild(s, v, in);
        if (!c) {
            return v;
        }
        v = c;
    } else {
        for (int i = 0; i < v->arity; i++) {
            v->in[i] = in[i];
        }
    }
    if (fold_it) {
        fold(s->g, v);
    }
    return impure(v->op) ? v : intern(s, v);
}

static void simp_run(simp *s)
{
    for (uint32_t id = s->lo; id < s->hi && s->g->status == NB_OK; id++) {
        if (s->on && !s->on[id - s->lo]) {
            continue;
        }
        nb_node *v = s->g->nodes[id];
        nb_node *r = s->rep[id - s->lo] = visit(s, v);
        if (s->used && r == v) {
            for (int i = 0; i < v->arity; i++) {
                if (v->in[i]->id >= s->lo) {
                    s->used[v->in[i]->id - s->lo] = 1;
                }
            }
        }
    }
}

static void simp_free(simp *s)
{
    nbi_mem_free(s->g, s->table_block, s->table_block ? (size_t)s->cap * sizeof *s->table + 64 : 0);
    nbi_mem_free(s->g, s->rep, (size_t)(s->hi - s->lo) * sizeof *s->rep);
}

/*
 * Drops the nodes from first on that no root needs, renumbering the rest
 * (ids stay a topological order: representatives are never later than the
 * nodes they stand for). ords restart from counts, the op counts before them.
 * Nothing outside points at these nodes but the roots and the constant cache,
 * unless one was named: then nothing is dropped.
 */
static void compact(nb_graph *g, uint32_t first, const uint32_t *counts, size_t n_roots,
                    nb_node *const *roots)
{
    for (uint32_t i = 0; i < g->cap_names; i++) {
        if (g->names[i].name && g->names[i].id >= first) {
            return;
        }
    }
    uint32_t n = g->n_nodes - first;
    uint8_t *keep = nbi_mem_alloc(g, n ? n : 1);
    if (!keep) {
        nbi_fail_nomem(g, "grad");
        return;
    }
    memset(keep, 0, n);
    for (size_t i = 0; i < n_roots; i++) {
        if (roots[i] && roots[i]->id >= first) {
            keep[roots[i]->id - first] = 1;
        }
    }
    for (uint32_t k = n; k-- > 0;) {
        nb_node *v = g->nodes[first + k];
        if (!keep[k]) {
            continue;
        }
        for (int i = 0; i < v->arity; i++) {
            if (v->in[i]->id >= first) {
                keep[v->in[i]->id - first] = 1;
            }
        }
    }
    for (uint32_t i = 0; i < NBI_CONST_CACHE; i++) {
        nb_node *c = g->const_cache[i];
        if (c && c->id >= first && !keep[c->id - first]) {
            g->const_cache[i] = NULL;
        }
    }
    memcpy(g->op_count, counts, sizeof g->op_count);
    uint32_t j = first;
    for (uint32_t k = 0; k < n; k++) {
        nb_node *v = g->nodes[first + k];
        if (keep[k]) {
            v->id = j;
            v->ord = ++g->op_count[v->op];
            g->nodes[j++] = v;
        }
    }
    g->n_nodes = j;
    nbi_mem_free(g, keep, n ? n : 1);
}

/* ---- the quick test: would the sweep change anything? ---- */

/* Node id's inputs in the flat tables: their ids at g->in_ids[*at], *n of them. */
static void flat_inputs(const nb_graph *g, uint32_t id, uint32_t *at, uint32_t *n)
{
    *at = g->meta[id].in_at;
    *n = (id + 1 < g->n_nodes ? g->meta[id + 1].in_at : g->n_in_ids) - *at;
}

/* A hash of node id's op and input ids, read from the flat tables alone (0 is kept for empty). */
static uint32_t flat_key(const nb_graph *g, uint32_t id)
{
    uint32_t at, n;
    flat_inputs(g, id, &at, &n);
    uint64_t h = mix(0x9e3779b97f4a7c15u, (uint64_t)g->meta[id].op | (uint64_t)n << 8);
    for (uint32_t i = 0; i < n; i++) {
        h = mix(h, g->in_ids[at + i]);
    }
    return (uint32_t)(h >> 32) | 1u;
}

/*
 * Whether the sweep could change a node from id on: a rule that applies to it
 * as it is (every node before it is then unchanged, so its inputs are their
 * own representatives). Inputs are read from the flat tables; a record is
 * read only where a rule might apply (an input that is a fill or a constant,
 * an op under an input of the same op, a shape rule).
 */
static bool rule_applies(const nb_graph *g, const nb_node *v, uint32_t at, uint32_t n)
{
    int op = g->meta[v->id].op;
    uint8_t in_op0 = n > 0 ? g->meta[g->in_ids[at]].op : 0;
    switch (op) {
    case NBI_OP_MUL:
    case NBI_OP_ADD:
    case NBI_OP_SUB:
    case NBI_OP_DIV:
        for (uint32_t i = 0; i < n; i++) {
            uint8_t o = g->meta[g->in_ids[at + i]].op;
            if (o == NBI_OP_FILL || o == NBI_OP_CONST) {
                return identity(v, v->in) || foldable(v, v->in);
            }
        }
        return false;
    case NBI_OP_NEG:
    case NBI_OP_TRANSPOSE:
        return in_op0 == op || (in_op0 == NBI_OP_CONST && foldable(v, v->in));
    case NBI_OP_RESHAPE:
    case NBI_OP_BROADCAST_TO:
        return in_op0 == op || identity(v, v->in) || foldable(v, v->in);
    default:
        return n > 0 && in_op0 == NBI_OP_CONST && foldable(v, v->in);
    }
}

/*
 * True unless the sweep over ids first.. would leave every node as it is and
 * find every one read (by a later node or as a root): then nb_grad can skip
 * it. It answers true as soon as one node might change, so graphs with
 * something to simplify pay little for asking; graphs without (the scalar
 * chains of W2) skip the sweep's pointer chasing, reading the flat tables and
 * a table of ids keyed by (op, input ids) that nothing is ever evicted from.
 * A key shared by two nodes only counts when node_same says they are equal.
 */
bool nbi_simplify_needed(nb_graph *g, uint32_t first, size_t n_roots, nb_node *const *roots)
{
    uint32_t n = g->n_nodes - first, cap = 64;
    while (cap < 2 * (uint64_t)n) {
        cap *= 2;
    }
    uint32_t *slot = nbi_mem_alloc(g, (size_t)cap * 2 * sizeof *slot); /* (key, id) pairs */
    uint8_t *read = nbi_mem_alloc(g, n);
    bool needed = true;
    if (!slot || !read) {
        goto done; /* the sweep reports the lack of memory */
    }
    memset(slot, 0, (size_t)cap * 2 * sizeof *slot);
    memset(read, 0, n);
    for (size_t i = 0; i < n_roots; i++) {
        if (roots[i] && roots[i]->id >= first) {
            read[roots[i]->id - first] = 1;
        }
    }
    enum { AHEAD = 8 }; /* keys of later nodes are hashed early: their slots are on the way */
    uint32_t keys[AHEAD];
    for (uint32_t k = 0; k < AHEAD && k < n; k++) {
        keys[k] = flat_key(g, first + k);
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t id = first + k, at, arity;
        uint32_t key = keys[k % AHEAD];
        if (k + AHEAD < n) {
            keys[k % AHEAD] = flat_key(g, id + AHEAD);
            __builtin_prefetch(&slot[2 * (keys[k % AHEAD] & (cap - 1))]);
        }
        flat_inputs(g, id, &at, &arity);
        for (uint32_t i = 0; i < arity; i++) {
            if (g->in_ids[at + i] >= first) {
                read[g->in_ids[at + i] - first] = 1;
            }
        }
        int op = g->meta[id].op;
        bool leaf = g->meta[id].flags & NBI_M_LEAF;
        if ((leaf && op != NBI_OP_CONST) || impure(op)) {
            continue;
        }
        nb_node *v = g->nodes[id];
        if (v->flags & NBI_F_SEED || (op == NBI_OP_CONST && !own_const(v))) {
            continue;
        }
        if (arity == 0) {
            /* constants and fills: their value is data or an attribute, so the key is the whole node */
            key = (uint32_t)(node_hash(v) >> 32) | 1u;
        } else if (rule_applies(g, v, at, arity)) {
            goto done;
        }
        for (uint32_t h = key & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (slot[2 * h] == 0) {
                slot[2 * h] = key;
                slot[2 * h + 1] = id;
                break;
            }
            if (slot[2 * h] == key && node_same(g->nodes[slot[2 * h + 1]], v)) {
                goto done; /* a common subexpression */
            }
        }
    }
    needed = memchr(read, 0, n) != NULL; /* a node nothing reads is dropped */
done:
    nbi_mem_free(g, slot, slot ? (size_t)cap * 2 * sizeof *slot : 0);
    nbi_mem_free(g, read, n);
    return needed;
}

void nbi_simplify_tail(nb_graph *g, uint32_t first, const uint32_t *counts, size_t n_roots,
                       nb_node **roots)
{
    if (g->status == NB_OK && first < g->n_nodes && nbi_simplify_needed(g, first, n_roots, roots)) {
        nbi_simplify_sweep(g, first, counts, n_roots, roots);
    }
}

void nbi_simplify_sweep(nb_graph *g, uint32_t first, const uint32_t *counts, size_t n_roots,
                        nb_node **roots)
{
    if (g->status != NB_OK || first >= g->n_nodes) {
        return;
    }
    uint32_t in_at = g->meta[first].in_at;
    simp s = { .g = g, .lo = first, .hi = g->n_nodes, .owned = first };
    s.rep = nbi_mem_alloc(g, (size_t)(s.hi - s.lo) * sizeof *s.rep);
    if (!s.rep || !table_init(&s, s.hi - s.lo)) {
        simp_free(&s);
        nbi_fail_nomem(g, "grad");
        return;
    }
    uint32_t n = s.hi - s.lo;
    s.used = nbi_mem_alloc(g, n);
    if (!s.used) {
        simp_free(&s);
        nbi_fail_nomem(g, "grad");
        return;
    }
    memset(s.rep, 0, (size_t)n * sizeof *s.rep);
    memset(s.used, 0, n);
    simp_run(&s);
    for (size_t i = 0; i < n_roots; i++) {
        if (roots[i]) {
            roots[i] = rep_of(&s, roots[i]);
            if (roots[i]->id >= first) {
                s.used[roots[i]->id - first] = 1;
            }
        }
    }
    /* nothing changed and every node is read: nothing to drop, and no sweep to find that out */
    bool drop = s.changes > 0 || memchr(s.used, 0, n) != NULL;
    nbi_mem_free(g, s.used, n);
    simp_free(&s);
    if (g->status == NB_OK && drop) {
        compact(g, first, counts, n_roots, roots);
        nbi_meta_refresh(g, first, in_at); /* inputs rewritten in place, ids renumbered */
    }
}

nb_status nb_graph_simplify(nb_graph *g, size_t n, nb_node *const *outs, nb_node **simplified)
{
    if (simplified) {
        for (size_t i = 0; i < n; i++) {
            simplified[i] = NULL;
        }
    }
    if (!g) {
        return NB_ERR_ARG;
    }
    if (g->status != NB_OK) {
        return g->status;
    }
    if (n > 0 && (!outs || !simplified)) {
        nbi_fail(g, NB_ERR_ARG, "simplify", 0, NULL, "outs or simplified is NULL");
        return g->status;
    }
    uint32_t hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (!nbi_check_inputs(g, "simplify", 1, &outs[i])) {
            return g->status;
        }
        hi = outs[i]->id + 1 > hi ? outs[i]->id + 1 : hi;
    }
    uint32_t in_at = g->n_in_ids;
    simp s = { .g = g, .lo = 0, .hi = hi, .owned = g->n_nodes };
    uint8_t *on = nbi_mem_alloc(g, hi ? hi : 1);
    s.rep = nbi_mem_alloc(g, (size_t)(hi ? hi : 1) * sizeof *s.rep);
    if (!on || !s.rep || !table_init(&s, hi)) {
        nbi_mem_free(g, on, hi ? hi : 1);
        nbi_mem_free(g, s.rep, (size_t)(hi ? hi : 1) * sizeof *s.rep);
        nbi_mem_free(g, s.table_block, s.table_block ? (size_t)s.cap * sizeof *s.table + 64 : 0);
        nbi_fail_nomem(g, "simplify");
        return g->status;
    }
    memset(on, 0, hi);
    memset(s.rep, 0, (size_t)hi * sizeof *s.rep);
    /* only what the outputs need */
    for (size_t i = 0; i < n; i++) {
        on[outs[i]->id] = 1;
    }
    for (uint32_t id = hi; id-- > 0;) {
        nb_node *v = g->nodes[id];
        if (on[id]) {
            for (int i = 0; i < v->arity; i++) {
                on[v->in[i]->id] = 1;
            }
        }
    }
    s.on = on;
    simp_run(&s);
    for (size_t i = 0; i < n && g->status == NB_OK; i++) {
        simplified[i] = rep_of(&s, outs[i]);
    }
    simp_free(&s);
    nbi_mem_free(g, on, hi ? hi : 1);
    nbi_meta_refresh(g, s.owned, in_at); /* nodes built by the pass may have been rewritten */
    if (g->status != NB_OK) {
        for (size_t i = 0; i < n; i++) {
            simplified[i] = NULL;
        }
    }
    return g->status;
}

void nb_graph_set_simplify(nb_graph *g, bool on)
{
    if (g) {
        g->no_simplify = !on;
    }
}

bool nb_graph_simplifies(const nb_graph *g)
{
    return g && !g->no_simplify;
}
