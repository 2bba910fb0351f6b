/*
 * graph/graph.c: the graph object and its nodes: creation and release, node
 * construction for every builder (nbi_node_new), input validation, names, and
 * the node accessors and data calls of the public API.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static void *default_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    (void)user;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

nb_graph *nb_graph_new(void)
{
    return nb_graph_new_with_allocator(default_alloc, NULL);
}

nb_graph *nb_graph_new_with_allocator(nb_alloc_fn alloc, void *user)
{
    if (!alloc) {
        return NULL;
    }
    nb_graph *g = alloc(user, NULL, 0, sizeof *g);
    if (!g) {
        return NULL;
    }
    memset(g, 0, sizeof *g);
    g->alloc = alloc;
    g->user = user;
    nb_graph_seed(g, 0);
    return g;
}

void nb_graph_free(nb_graph *g)
{
    if (!g) {
        return;
    }
    nbi_plans_free(g);
    nbi_mem_free(g, g->workspace_block, g->workspace_block_size);
    nbi_mem_free(g, g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
    nbi_mem_free(g, g->meta, (size_t)g->cap_meta * sizeof *g->meta);
    nbi_mem_free(g, g->in_ids, (size_t)g->cap_in_ids * sizeof *g->in_ids);
    nbi_mem_free(g, g->names, (size_t)g->cap_names * sizeof *g->names);
    nbi_mem_free(g, g->scopes, (size_t)g->cap_scopes * sizeof *g->scopes);
    nbi_mem_free(g, g->grad_pairs, (size_t)g->cap_grad_pairs * sizeof *g->grad_pairs);
    nbi_arena_free_all(g);
    g->alloc(g->user, g, sizeof *g, 0);
}

void nb_graph_reset(nb_graph *g)
{
    if (!g) {
        return;
    }
    nbi_plans_free(g); /* plans and kept values name nodes by id */
    nbi_arena_recycle(g);
    /* keep the memory: the allocator, the arena's chunks, the arrays and the workspace */
    nb_graph keep = *g;
    memset(g, 0, sizeof *g);
    g->alloc = keep.alloc;
    g->user = keep.user;
    g->spare = keep.spare;
    g->arena_bytes = keep.arena_bytes;
    g->nodes = keep.nodes;
    g->cap_nodes = keep.cap_nodes;
    g->meta = keep.meta;
    g->cap_meta = keep.cap_meta;
    g->in_ids = keep.in_ids;
    g->cap_in_ids = keep.cap_in_ids;
    g->names = keep.names;
    g->cap_names = keep.cap_names;
    if (g->names) {
        memset(g->names, 0, (size_t)g->cap_names * sizeof *g->names);
    }
    g->scopes = keep.scopes;
    g->cap_scopes = keep.cap_scopes;
    g->grad_pairs = keep.grad_pairs;
    g->cap_grad_pairs = keep.cap_grad_pairs;
    g->workspace = keep.workspace;
    g->workspace_size = keep.workspace_size;
    g->workspace_block = keep.workspace_block;
    g->workspace_block_size = keep.workspace_block_size;
    nb_graph_seed(g, 0);
}

size_t nb_graph_node_count(const nb_graph *g)
{
    return g ? g->n_nodes : 0;
}

nb_node *nb_graph_node(const nb_graph *g, size_t id)
{
    return g && id < g->n_nodes ? g->nodes[id] : NULL;
}

void nb_graph_memory(const nb_graph *g, nb_memory_stats *stats)
{
    if (!stats) {
        return;
    }
    memset(stats, 0, sizeof *stats);
    if (!g) {
        return;
    }
    stats->nodes = g->n_nodes;
    stats->arena_bytes =
        g->arena_bytes + (size_t)g->cap_nodes * sizeof *g->nodes +
        (size_t)g->cap_meta * sizeof *g->meta + (size_t)g->cap_in_ids * sizeof *g->in_ids +
        (size_t)g->cap_names * sizeof *g->names + (size_t)g->cap_scopes * sizeof *g->scopes;
    stats->workspace_bytes = g->workspace_block_size;
    stats->plan_bytes = nbi_plans_bytes(g);
}

/*
 * The planner's flat facts of node nd at slot id (graph/exec.c reads these,
 * not the records): op, leaf and scalar flags, which inputs have its shape,
 * its size in 16-byte units, its input ids from in_ids[in_at].
 */
static inline void fill_meta(nb_graph *g, const nb_node *nd, uint32_t id, uint32_t in_at,
                             size_t bytes)
{
    const nbi_op *rec = nbi_ops[nd->op];
    nbi_meta *m = &g->meta[id];
    memset(m, 0, sizeof *m);
    m->in_at = in_at;
    m->op = nd->op;
    m->units = bytes <= 256 ? (uint8_t)((bytes + 15) / 16) : 0;
    /* f32 scalars in and out: the executor runs the node through its op's scalar_f32 */
    bool scalar = rec->scalar_f32 && nd->dtype == NB_DTYPE_F32 && nd->rank == 0 && nd->arity >= 1 &&
                  nd->arity <= 2 && !rec->scratch && !(rec->flags & NBI_OP_VIEW);
    for (int i = 0; i < nd->arity; i++) {
        const nb_node *u = nd->in[i];
        g->in_ids[in_at + (uint32_t)i] = u->id;
        scalar = scalar && u->dtype == NB_DTYPE_F32 && u->rank == 0;
        if (i < 8 && nbi_shape_eq(nd->rank, nd->shape, u->rank, u->shape)) {
            m->same |= (uint8_t)(1u << i);
        }
    }
    m->flags = (uint8_t)((rec->flags & NBI_OP_LEAF ? NBI_M_LEAF : 0) | (scalar ? NBI_M_SCALAR : 0));
}

void nbi_meta_refresh(nb_graph *g, uint32_t first, uint32_t at)
{
    for (uint32_t id = first; id < g->n_nodes; id++) {
        const nb_node *nd = g->nodes[id];
        NBI_ASSERT(g->cap_in_ids - at >= nd->arity); /* rewriting never adds inputs */
        fill_meta(g, nd, id, at, nbi_node_bytes(nd));
        at += nd->arity;
    }
    g->n_in_ids = at;
}

/* ---- construction ---- */

bool nbi_owns(const nb_graph *g, const nb_node *n)
{
    return n && n->g == g;
}

bool nbi_check_inputs_slow(nb_graph *g, const char *op, int n, nb_node *const *in)
{
    if (!g || g->status != NB_OK) {
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!in[i]) {
            nbi_fail(g, NB_ERR_ARG, op, n, in, "input %d is NULL", i + 1);
            return false;
        }
        if (in[i]->g != g) {
            /* by position: the other graph's names may repeat this one's */
            nbi_fail(g, NB_ERR_GRAPH, op, n, in, "input %d belongs to another graph", i + 1);
            return false;
        }
    }
    return true;
}

bool nbi_check_float_slow(nb_graph *g, const char *op, int n, nb_node *const *in)
{
    for (int i = 0; i < n; i++) {
        if (in[i]->dtype == NB_DTYPE_I32) {
            nbi_fail(g, NB_ERR_DTYPE, op, n, in, "input %d is i32; this op needs f32 or f64 inputs",
                     i + 1);
            return false;
        }
        if (in[i]->dtype != in[0]->dtype) {
            nbi_fail(g, NB_ERR_DTYPE, op, n, in, "dtypes %s and %s differ",
                     nb_dtype_name(in[0]->dtype), nb_dtype_name(in[i]->dtype));
            return false;
        }
    }
    return true;
}

bool nbi_check_axis(nb_graph *g, const char *op, nb_node *x, int axis, int *out)
{
    int a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a >= x->rank) {
        nbi_fail(g, NB_ERR_AXIS, op, 1, &x, "axis %d is out of range for rank %d", axis, x->rank);
        return false;
    }
    *out = a;
    return true;
}

static const int64_t scalar_shape[1] = { 0 };

nb_node *nbi_node_newv(nb_graph *g, int op, int dtype, int rank, const int64_t *shape, int n,
                       nb_node *const *in)
{
    NBI_ASSERT(rank >= 0 && rank <= NB_MAX_RANK);
    NBI_ASSERT(n >= 0 && n <= NB_MAX_ARITY);
    const nbi_op *rec = nbi_ops[op];
    size_t count, bytes;
    if (!nbi_shape_bytes(rank, shape, dtype, &count, &bytes)) {
        /* a broadcast, matmul or reshape of valid inputs can still be too large */
        char s[96];
        nbi_format_shape(rank, shape, s, sizeof s);
        nbi_fail(g, NB_ERR_SHAPE, rec->name, n, in,
                 "the result shape %s is not valid (dimensions from 1 to 2^31-1, size within "
                 "memory)",
                 s);
        return NULL;
    }
    if (g->n_nodes == UINT32_MAX) {
        nbi_fail(g, NB_ERR_NOMEM, rec->name, 0, NULL, "the graph is full (2^32 nodes)");
        return NULL;
    }
    /* the three arrays grow rarely (doubling): test room inline, call only to grow */
    if ((g->n_nodes >= g->cap_nodes || g->n_nodes >= g->cap_meta ||
         g->cap_in_ids - g->n_in_ids < (uint32_t)n) &&
        (!nbi_grow(g, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes) ||
         !nbi_grow(g, (void **)&g->meta, &g->cap_meta, g->n_nodes + 1, sizeof *g->meta) ||
         g->n_in_ids > UINT32_MAX - (uint32_t)n ||
         !nbi_grow(g, (void **)&g->in_ids, &g->cap_in_ids, g->n_in_ids + (uint32_t)n,
                   sizeof *g->in_ids))) {
        nbi_fail_nomem(g, rec->name);
        return NULL;
    }
    const int64_t *interned = scalar_shape;
    if (rank > 0) {
        for (int i = 0; i < n && interned == scalar_shape; i++) {
            if (nbi_shape_eq(rank, shape, in[i]->rank, in[i]->shape)) {
                interned = in[i]->shape;
            }
        }
        if (interned == scalar_shape) {
            int64_t *copy = nbi_arena_alloc(g, (size_t)rank * sizeof *copy);
            if (!copy) {
                nbi_fail_nomem(g, rec->name);
                return NULL;
            }
            memcpy(copy, shape, (size_t)rank * sizeof *copy);
            interned = copy;
        }
    }
    /* the inputs live right after the node, in one arena block */
    nb_node *nd = nbi_arena_alloc_aligned(g, sizeof *nd + (size_t)n * sizeof(nb_node *), 16);
    nbi_attr *attr = NULL;
    if (nd && rec->n_attrs > 0) {
        attr = nbi_arena_alloc_aligned(g, (size_t)rec->n_attrs * sizeof *attr, 16);
    }
    if (!nd || (rec->n_attrs > 0 && !attr)) {
        nbi_fail_nomem(g, rec->name);
        return NULL;
    }
    memset(nd, 0, sizeof *nd);
    nd->in = (nb_node **)(nd + 1);
    for (int i = 0; i < n; i++) {
        nd->in[i] = in[i];
    }
    nd->arity = (uint16_t)n;
    nd->op = (uint8_t)op;
    nd->dtype = (uint8_t)dtype;
    nd->rank = (uint8_t)rank;
    nd->shape = interned;
    fill_meta(g, nd, g->n_nodes, g->n_in_ids, bytes);
    g->n_in_ids += (uint32_t)n;
    for (int k = 0; k < rec->n_attrs; k++) {
        memset(&attr[k], 0, sizeof attr[k]);
        if (rec->attrs[k].kind == NBI_ATTR_FLOAT) {
            attr[k].f = rec->attrs[k].def;
        } else if (rec->attrs[k].kind != NBI_ATTR_INTS) {
            attr[k].i = (int64_t)rec->attrs[k].def;
        }
    }
    nd->attr = attr;
    nd->g = g;
    nd->id = g->n_nodes;
    nd->ord = ++g->op_count[op];
    nd->scope = g->cur_scope;
    if (g->in_grad) {
        nd->flags = NBI_F_GRAD;
    } else {
        /* a constant first made for a gradient is forward too once forward ops use it */
        for (int i = 0; i < n; i++) {
            if (nbi_is_leaf(in[i])) {
                in[i]->flags &= (uint8_t)~NBI_F_GRAD;
            }
        }
    }
    g->nodes[g->n_nodes++] = nd;
    return nd;
}

nb_node *nbi_node_new(nb_graph *g, int op, int dtype, int rank, const int64_t *shape, nb_node *a,
                      nb_node *b)
{
    nb_node *in[2] = { a, b };
    return nbi_node_newv(g, op, dtype, rank, shape, a ? (b ? 2 : 1) : 0, in);
}

nb_node *nbi_scalar_cached(nb_graph *g, int dtype, double value)
{
    for (uint32_t i = 0; i < NBI_CONST_CACHE; i++) {
        nb_node *c = g->const_cache[i];
        if (c && c->dtype == dtype) {
            double v = dtype == NB_DTYPE_F32 ? (double)*(float *)c->data : *(double *)c->data;
            double want = dtype == NB_DTYPE_F32 ? (double)(float)value : value;
            if (memcmp(&v, &want, sizeof v) == 0) {
                return c;
            }
        }
    }
    uint32_t scope = g->cur_scope;
    g->cur_scope = 0; /* shared constants belong to no scope */
    nb_node *c = nb_scalar(g, (nb_dtype)dtype, value);
    g->cur_scope = scope;
    if (c) {
        g->const_cache[g->const_next] = c;
        g->const_next = (g->const_next + 1) % NBI_CONST_CACHE;
    }
    return c;
}

/* ---- names ---- */

static uint32_t name_slot(uint32_t id, uint32_t cap)
{
    return (id * 2654435761u) & (cap - 1); /* Knuth's multiplicative hash */
}

static const char *name_get(const nb_graph *g, uint32_t id)
{
    if (!g->n_names) {
        return NULL;
    }
    for (uint32_t i = name_slot(id, g->cap_names);; i = (i + 1) & (g->cap_names - 1)) {
        if (!g->names[i].name) {
            return NULL;
        }
        if (g->names[i].id == id) {
            return g->names[i].name;
        }
    }
}

/* Sets id's name (replacing one it had); false when the table cannot grow. */
static bool name_put(nb_graph *g, uint32_t id, const char *name)
{
    if ((g->n_names + 1) * 2 > g->cap_names) {
        uint32_t cap = g->cap_names ? g->cap_names * 2 : 64;
        size_t bytes = (size_t)cap * sizeof *g->names;
        nbi_name *t = cap > g->cap_names ? nbi_mem_alloc(g, bytes) : NULL;
        if (!t) {
            return false;
        }
        memset(t, 0, bytes);
        for (uint32_t i = 0; i < g->cap_names; i++) {
            if (g->names[i].name) {
                uint32_t j = name_slot(g->names[i].id, cap);
                while (t[j].name) {
                    j = (j + 1) & (cap - 1);
                }
                t[j] = g->names[i];
            }
        }
        nbi_mem_free(g, g->names, (size_t)g->cap_names * sizeof *g->names);
        g->names = t;
        g->cap_names = cap;
    }
    uint32_t i = name_slot(id, g->cap_names);
    while (g->names[i].name && g->names[i].id != id) {
        i = (i + 1) & (g->cap_names - 1);
    }
    g->n_names += !g->names[i].name;
    g->names[i] = (nbi_name){ id, name };
    return true;
}

/* Writes the node's name into buf without allocating: the given name or "op_ord". */
const char *nbi_name_into(const nb_node *n, char *buf, size_t cap)
{
    const char *s = name_get(n->g, n->id);
    if (s) {
        return s;
    }
    snprintf(buf, cap, "%s_%u", nbi_ops[n->op]->name, (unsigned)n->ord);
    return buf;
}

const char *nbi_node_name_stored(nb_node *n)
{
    nb_graph *g = n->g;
    const char *s = name_get(g, n->id);
    if (s) {
        return s;
    }
    char buf[64];
    nbi_name_into(n, buf, sizeof buf);
    char *copy = nbi_arena_strdup(g, buf);
    return copy && name_put(g, n->id, copy) ? copy : NULL;
}

const char *nb_node_name(nb_node *n)
{
    if (!n) {
        return "NULL";
    }
    const char *s = nbi_node_name_stored(n);
    return s ? s : nbi_ops[n->op]->name; /* out of memory: still a readable answer */
}

nb_node *nb_node_set_name(nb_graph *g, nb_node *n, const char *name)
{
    if (!nbi_check_inputs(g, "set_name", 1, &n)) {
        return g && g->status != NB_OK && nbi_owns(g, n) ? n : NULL;
    }
    if (!name || !*name) {
        nbi_fail(g, NB_ERR_ARG, "set_name", 1, &n, "the name is NULL or empty");
        return NULL;
    }
    char *s = nbi_arena_strdup(g, name);
    if (!s || !name_put(g, n->id, s)) {
        nbi_fail_nomem(g, "set_name");
        return NULL;
    }
    n->flags |= NBI_F_NAMED;
    return n;
}

size_t nb_graph_params(const nb_graph *g, nb_node **out, size_t cap)
{
    size_t n = 0;
    for (uint32_t id = 0; g && id < g->n_nodes; id++) {
        if (g->nodes[id]->op == NBI_OP_PARAM) {
            if (n < cap) {
                out[n] = g->nodes[id];
            }
            n++;
        }
    }
    return n;
}

size_t nb_graph_states(const nb_graph *g, nb_node **out, size_t cap)
{
    size_t n = 0;
    for (uint32_t id = 0; g && id < g->n_nodes; id++) {
        if (g->nodes[id]->op == NBI_OP_STATE) {
            if (n < cap) {
                out[n] = g->nodes[id];
            }
            n++;
        }
    }
    return n;
}

nb_node *nb_graph_find(nb_graph *g, const char *name)
{
    if (!g || !name) {
        return NULL;
    }
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        char buf[64];
        if (strcmp(nbi_name_into(g->nodes[i], buf, sizeof buf), name) == 0) {
            return g->nodes[i];
        }
    }
    return NULL;
}

/* ---- accessors ---- */

size_t nb_node_id(const nb_node *n)
{
    return n ? n->id : 0;
}

nb_kind nb_node_kind(const nb_node *n)
{
    switch (n ? n->op : NBI_OP_FILL) {
    case NBI_OP_INPUT:
        return NB_KIND_INPUT;
    case NBI_OP_PARAM:
        return NB_KIND_PARAM;
    case NBI_OP_CONST:
        return NB_KIND_CONST;
    case NBI_OP_STATE:
        return NB_KIND_STATE;
    default:
        return NB_KIND_OP;
    }
}

const char *nb_node_op_name(const nb_node *n)
{
    return n ? nbi_ops[n->op]->name : "NULL";
}

nb_dtype nb_node_dtype(const nb_node *n)
{
    return n ? (nb_dtype)n->dtype : NB_DTYPE_F32;
}

int nb_node_rank(const nb_node *n)
{
    return n ? n->rank : 0;
}

const int64_t *nb_node_shape(const nb_node *n)
{
    return n ? n->shape : scalar_shape;
}

size_t nb_node_size(const nb_node *n)
{
    return n ? nbi_node_count(n) : 0;
}

int nb_node_arity(const nb_node *n)
{
    return n ? n->arity : 0;
}

nb_node *nb_node_input(const nb_node *n, int i)
{
    return n && i >= 0 && i < n->arity ? n->in[i] : NULL;
}

bool nb_node_is_grad(const nb_node *n)
{
    return n && (n->flags & NBI_F_GRAD);
}

const char *nb_node_scope(const nb_node *n)
{
    return n && n->scope ? n->g->scopes[n->scope].name : NULL;
}

const char *nb_node_scope_at(const nb_node *n, int level)
{
    if (!n || !n->scope || level < 1) {
        return NULL;
    }
    uint32_t s = n->scope;
    while (n->g->scopes[s].level > (uint32_t)level) {
        s = n->g->scopes[s].parent;
    }
    return n->g->scopes[s].name;
}

void *nb_node_data(const nb_node *n)
{
    if (n && n->op == NBI_OP_INPUT) {
        /* the program holds the pointer and may fill the input through it */
        ((nb_node *)n)->flags |= NBI_F_WRITTEN;
    }
    return n && nbi_has_value(n) ? n->data : NULL;
}

/* ---- data in and out ---- */

/* Starts a data call: clears the last run or data message; checks the node. */
static nb_status check_node(nb_graph *g, nb_node *n, const char *op)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    g->run_err[0] = '\0';
    if (!n) {
        return nbi_report(g, NB_ERR_ARG, op, 0, NULL, "the node is NULL");
    }
    if (n->g != g) {
        return nbi_report(g, NB_ERR_GRAPH, op, 1, &n, "the node belongs to another graph");
    }
    return NB_OK;
}

static nb_status check_leaf_count(nb_graph *g, nb_node *n, size_t count, const char *op)
{
    nb_status s = check_node(g, n, op);
    if (s != NB_OK) {
        return s;
    }
    if (!nbi_is_leaf(n)) {
        return nbi_report(g, NB_ERR_ARG, op, 1, &n,
                          "%s is an op node; only inputs, parameters and constants take values",
                          nb_node_name(n));
    }
    if (count != nbi_node_count(n)) {
        return nbi_report(g, NB_ERR_ARG, op, 1, &n, "got %zu values for %zu elements", count,
                          nbi_node_count(n));
    }
    return NB_OK;
}

nb_status nb_node_write(nb_graph *g, nb_node *n, const void *src, size_t count)
{
    nb_status s = check_leaf_count(g, n, count, "write");
    if (s != NB_OK) {
        return s;
    }
    if (!src) {
        return nbi_report(g, NB_ERR_ARG, "write", 1, &n, "the source is NULL");
    }
    memcpy(n->data, src, count * nbi_dtype_size(n->dtype));
    n->flags |= NBI_F_WRITTEN;
    return NB_OK;
}

nb_status nb_node_write_f64(nb_graph *g, nb_node *n, const double *src, size_t count)
{
    nb_status s = check_leaf_count(g, n, count, "write_f64");
    if (s != NB_OK) {
        return s;
    }
    if (!src) {
        return nbi_report(g, NB_ERR_ARG, "write_f64", 1, &n, "the source is NULL");
    }
    if (n->dtype == NB_DTYPE_F64) {
        memcpy(n->data, src, count * sizeof *src);
    } else if (n->dtype == NB_DTYPE_F32) {
        float *d = n->data;
        for (size_t i = 0; i < count; i++) {
            d[i] = (float)src[i];
        }
    } else {
        int32_t *d = n->data;
        for (size_t i = 0; i < count; i++) {
            if (!(src[i] > INT32_MIN - 1.0 && src[i] < INT32_MAX + 1.0)) {
                return nbi_report(g, NB_ERR_VALUE, "write_f64", 1, &n,
                                  "value %g at index %zu does not fit in i32", src[i], i);
            }
        }
        for (size_t i = 0; i < count; i++) {
            d[i] = (int32_t)src[i];
        }
    }
    n->flags |= NBI_F_WRITTEN;
    return NB_OK;
}

nb_status nb_node_read_f64(nb_graph *g, const nb_node *cn, double *dst, size_t count)
{
    nb_node *n = (nb_node *)cn;
    nb_status s = check_node(g, n, "read_f64");
    if (s != NB_OK) {
        return s;
    }
    if (!dst) {
        return nbi_report(g, NB_ERR_ARG, "read_f64", 1, &n, "the destination is NULL");
    }
    if (!nbi_has_value(n)) {
        return nbi_report(g, NB_ERR_ARG, "read_f64", 1, &n,
                          "%s has no value; run the graph with it as an output first",
                          nb_node_name(n));
    }
    if (count != nbi_node_count(n)) {
        return nbi_report(g, NB_ERR_ARG, "read_f64", 1, &n, "asked for %zu values of %zu", count,
                          nbi_node_count(n));
    }
    if (n->dtype == NB_DTYPE_F64) {
        memcpy(dst, n->data, count * sizeof *dst);
    } else if (n->dtype == NB_DTYPE_F32) {
        const float *s = n->data;
        for (size_t i = 0; i < count; i++) {
            dst[i] = s[i];
        }
    } else {
        const int32_t *s = n->data;
        for (size_t i = 0; i < count; i++) {
            dst[i] = s[i];
        }
    }
    return NB_OK;
}

size_t nb_dtype_size(nb_dtype dtype)
{
    return nbi_dtype_size(dtype);
}

const char *nb_dtype_name(nb_dtype dtype)
{
    switch (dtype) {
    case NB_DTYPE_F32:
        return "f32";
    case NB_DTYPE_F64:
        return "f64";
    case NB_DTYPE_I32:
        return "i32";
    }
    return "unknown";
}
