/*
 * autodiff/grad.c: reverse-mode differentiation that builds graphs (symbol to
 * symbol, Deep Learning section 6.5). One reverse sweep over the nodes on a
 * path from a wrt node to y calls each op's gradient rule, which appends
 * ordinary nodes; contributions through several paths are summed with nb_add,
 * as trees shaped by depth (a chain with the simplifier off), or joined by a
 * concat when they are slices' gradients that do not overlap. Gradient nodes
 * go into mirror scopes, so depth and DOT can tell the backward pass from the
 * forward one. Last, the simplifier (simplify.c) goes over the new nodes.
 */
#include "../graph/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * The names gradients must not repeat: every name the graph stores (given, or
 * generated and asked for), in an open-addressing set. Generated names that
 * were never asked for cannot clash: they are "op_N", and no op is "grad".
 */
typedef struct name_set {
    const char **slot;
    size_t cap;
} name_set;

static size_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return (size_t)h;
}

static bool name_set_has(const name_set *set, const char *name)
{
    for (size_t i = name_hash(name) & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1)) {
        if (strcmp(set->slot[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static void name_set_add(name_set *set, const char *name)
{
    size_t i = name_hash(name) & (set->cap - 1);
    while (set->slot[i]) {
        i = (i + 1) & (set->cap - 1);
    }
    set->slot[i] = name;
}

/*
 * Names each result that is new and unnamed after its wrt node: grad_x, or
 * grad_x_2, grad_x_3, ... when that name is taken (the gradient of a gradient,
 * a second nb_grad call), so names stay unique: nb_graph_find finds each
 * result, and DOT and traces tell them apart.
 */
static void name_results(nb_graph *g, size_t n, nb_node *const *wrt, nb_node **grads,
                         uint32_t first_new)
{
    name_set set = { NULL, 64 };
    while (set.cap < 2 * ((size_t)g->n_names + n) + 1) {
        set.cap *= 2;
    }
    set.slot = nbi_mem_alloc(g, set.cap * sizeof *set.slot);
    if (!set.slot) {
        nbi_fail_nomem(g, "grad");
        return;
    }
    memset(set.slot, 0, set.cap * sizeof *set.slot);
    for (uint32_t i = 0; i < g->cap_names; i++) {
        if (g->names[i].name) {
            name_set_add(&set, g->names[i].name);
        }
    }
    for (size_t i = 0; i < n && g->status == NB_OK; i++) {
        nb_node *d = grads[i];
        if (d->id < first_new || (d->flags & NBI_F_NAMED) || nbi_is_leaf(d)) {
            continue;
        }
        char name[200];
        int len = snprintf(name, sizeof name, "grad_%s", nb_node_name(wrt[i]));
        if (len < 0 || (size_t)len > sizeof name - 16) { /* room for "_N" */
            len = (int)(sizeof name - 16);
            name[len] = '\0';
        }
        for (unsigned k = 2; name_set_has(&set, name); k++) {
            snprintf(name + len, sizeof name - (size_t)len, "_%u", k);
        }
        if (nb_node_set_name(g, d, name)) {
            name_set_add(&set, nb_node_name(d));
        }
    }
    nbi_mem_free(g, set.slot, set.cap * sizeof *set.slot);
}

nb_node *nbi_chain(nb_graph *g, nb_node *dy, nb_node *local)
{
    /*
     * Only nabla's own constants (built by nb_grad) may be folded: a program's
     * constant holding 1 today can be rewritten with nb_node_write later.
     */
    if (dy && local && dy->op == NBI_OP_CONST && (dy->flags & NBI_F_GRAD) && dy->rank == 0) {
        double one = dy->dtype == NB_DTYPE_F32 ? (double)*(float *)dy->data : *(double *)dy->data;
        if (one == 1.0) {
            return local;
        }
    }
    return nb_mul(g, dy, local);
}

nb_node *nbi_unbroadcast(nb_graph *g, nb_node *dx, const nb_node *like)
{
    if (!dx || nbi_same_shape(dx, like)) {
        return dx;
    }
    return nb_sum_to(g, dx, like->rank, like->shape);
}

nb_node *nbi_expand_reduced(nb_graph *g, nb_node *dy, nb_node *x, int axis, bool keepdims)
{
    if (!keepdims) {
        int64_t shape[NB_MAX_RANK];
        memcpy(shape, x->shape, (size_t)x->rank * sizeof *shape);
        shape[axis] = 1;
        dy = nb_reshape(g, dy, x->rank, shape);
    }
    if (dy && nbi_same_shape(dy, x)) {
        return dy;
    }
    return nb_broadcast_to(g, dy, x->rank, x->shape);
}

/*
 * Mirror of forward scope s for gradient nodes ("grad:<name>"), made on first
 * use under the mirror of s's parent. Iterative: scopes may nest thousands deep.
 */
static uint32_t mirror_scope(nb_graph *g, uint32_t *mirror, uint32_t s)
{
    while (s != 0 && !mirror[s] && g->status == NB_OK) {
        uint32_t t = s; /* the outermost ancestor of s without a mirror */
        while (g->scopes[t].parent != 0 && !mirror[g->scopes[t].parent]) {
            t = g->scopes[t].parent;
        }
        char name[256];
        snprintf(name, sizeof name, "grad:%s", g->scopes[t].name);
        mirror[t] = nbi_scope_new(g, name, mirror[g->scopes[t].parent]);
    }
    return s != 0 ? mirror[s] : 0;
}

/* A term of a gradient sum not yet added: its node, depth, arrival, and the next pending one. */
typedef struct term {
    nb_node *x;
    int32_t depth;
    uint32_t first; /* arrival of its first contribution: the earlier term goes on the left */
    uint32_t next;  /* index + 1 in the pool of the node's next pending term, 0 at the end */
} term;

/* Temporary per-node arrays for one nb_grad call, indexed by id up to y's. */
typedef struct sweep {
    uint8_t *mark; /* ON_PATH_UP: y depends on it; ON_PATH_DOWN: it depends on a wrt */
    nb_node **adj; /* accumulated adjoint (with pending terms: only a mark that there is one) */
    uint32_t *mirror;
    size_t n, n_scopes;
    /* with the simplifier: each node's terms not yet added, in a pool with a free list */
    uint32_t *head; /* per node: index + 1 of its first pending term, 0 for none */
    term *pool;
    uint32_t n_pool, cap_pool, free_pool, arrivals;
    int32_t *depth; /* depth over ops of nodes 0..n_depth-1, for the sums' shape */
    uint32_t n_depth, cap_depth;
    /* a sum's terms and huffman_sum's queue, reused: no allocation per node with two consumers */
    term *terms;
    uint32_t cap_terms;
} sweep;

enum { DEPENDS_ON_WRT = 1, NEEDED_BY_Y = 2 };

static void sweep_free(nb_graph *g, sweep *s)
{
    nbi_mem_free(g, s->mark, s->n * sizeof *s->mark);
    nbi_mem_free(g, s->adj, s->n * sizeof *s->adj);
    nbi_mem_free(g, s->mirror, s->n_scopes * sizeof *s->mirror);
    nbi_mem_free(g, s->head, s->head ? s->n * sizeof *s->head : 0);
    nbi_mem_free(g, s->pool, (size_t)s->cap_pool * sizeof *s->pool);
    nbi_mem_free(g, s->depth, (size_t)s->cap_depth * sizeof *s->depth);
    nbi_mem_free(g, s->terms, (size_t)s->cap_terms * sizeof *s->terms);
}

/* Depth over ops of n (a leaf or fill is 0), computed for every node up to it once. */
static int32_t depth_of(nb_graph *g, sweep *s, const nb_node *n)
{
    if (n->id >= s->n_depth) {
        if (!nbi_grow(g, (void **)&s->depth, &s->cap_depth, n->id + 1, sizeof *s->depth)) {
            nbi_fail_nomem(g, "grad"); /* a sum shaped otherwise could round otherwise */
            return 0;
        }
        /* from the flat tables: no node record is read */
        for (uint32_t id = s->n_depth; id <= n->id; id++) {
            uint32_t end = id + 1 < g->n_nodes ? g->meta[id + 1].in_at : g->n_in_ids;
            int32_t d = 0;
            for (uint32_t e = g->meta[id].in_at; e < end; e++) {
                int32_t di = s->depth[g->in_ids[e]] + 1;
                d = di > d ? di : d;
            }
            s->depth[id] = d;
        }
        s->n_depth = n->id + 1;
    }
    return s->depth[n->id];
}

/* ---- slices' gradients that tile an axis: joined, not added ---- */

/* A piece of a placement: node x at offset off along the axis. */
typedef struct piece {
    nb_node *x;
    int64_t off;
} piece;

static bool zero_fill(const nb_node *n)
{
    return n->op == NBI_OP_FILL && n->attr[0].f == 0 && !signbit(n->attr[0].f);
}

/*
 * The pieces n places in zeros along one axis, in order, into p (room for
 * NB_MAX_ARITY); 0 if n is no placement. A placement is a step-1 slice_grad,
 * of a concat along its axis or not, or a concat along an axis with a +0
 * fill among its inputs (what join_placements builds); the fills are left
 * out: they are the gaps.
 */
static int placement(const nb_node *n, int *axis, piece *p)
{
    int64_t base = 0;
    const nb_node *inner = n;
    if (n->op == NBI_OP_SLICE_GRAD) {
        if (n->attr[3].i != 1) {
            return 0;
        }
        *axis = (int)n->attr[1].i;
        base = n->attr[2].i;
        inner = n->in[0];
    } else if (n->op == NBI_OP_CONCAT) {
        *axis = (int)n->attr[0].i;
        bool gap = false;
        for (int i = 0; i < n->arity && !gap; i++) {
            gap = zero_fill(n->in[i]);
        }
        if (!gap) {
            return 0;
        }
    } else {
        return 0;
    }
    if (inner->op != NBI_OP_CONCAT || inner->attr[0].i != *axis) {
        p[0] = (piece){ (nb_node *)inner, base };
        return 1;
    }
    int k = 0;
    for (int i = 0; i < inner->arity; i++) {
        if (!zero_fill(inner->in[i])) {
            p[k++] = (piece){ inner->in[i], base };
        }
        base += inner->in[i]->shape[*axis];
    }
    return k;
}

static int piece_cmp(const void *pa, const void *pb)
{
    const piece *a = pa, *b = pb;
    return a->off < b->off ? -1 : a->off > b->off;
}

/*
 * a + b when both place pieces in zeros along the same axis and no two
 * pieces overlap: the pieces joined by one concat (with +0 fills in the
 * gaps, and in a slice_grad if they do not reach both ends). The four
 * slices of an LSTM's gates then give their gradients to the gates as one
 * [B, 4H] concat, not four zero-padded [B, 4H] tensors and three adds. The
 * values are a + b's except that a -0 stays -0 (a sum gives +0), as with
 * x + 0 -> x. NULL, with no error, when the rule does not apply.
 */
static nb_node *join_placements(nb_graph *g, nb_node *a, nb_node *b)
{
    piece p[2 * NB_MAX_ARITY];
    int axis_a, axis_b;
    int na = placement(a, &axis_a, p);
    int nb = na ? placement(b, &axis_b, p + na) : 0;
    if (!nb || axis_a != axis_b || a->dtype != b->dtype) {
        return NULL;
    }
    int n = na + nb;
    qsort(p, (size_t)n, sizeof *p, piece_cmp);
    int parts = 1;
    for (int i = 0; i + 1 < n; i++) {
        int64_t end = p[i].off + p[i].x->shape[axis_a];
        if (end > p[i + 1].off) {
            return NULL; /* they overlap: a real sum */
        }
        parts += 1 + (end < p[i + 1].off);
    }
    if (parts > NB_MAX_ARITY) {
        return NULL;
    }
    nb_node *xs[NB_MAX_ARITY];
    int64_t shape[NB_MAX_RANK];
    memcpy(shape, a->shape, (size_t)a->rank * sizeof *shape);
    int k = 0;
    for (int i = 0; i < n; i++) {
        xs[k++] = p[i].x;
        int64_t end = p[i].off + p[i].x->shape[axis_a];
        if (i + 1 < n && end < p[i + 1].off) {
            shape[axis_a] = p[i + 1].off - end;
            xs[k++] = nb_fill(g, (nb_dtype)a->dtype, a->rank, shape, 0.0);
        }
    }
    nb_node *joined = nb_concat(g, k, xs, axis_a);
    int64_t start = p[0].off, stop = p[n - 1].off + p[n - 1].x->shape[axis_a];
    if (!joined || (start == 0 && stop == a->shape[axis_a])) {
        return joined;
    }
    return nb_slice_grad(g, joined, a->rank, a->shape, axis_a, start, 1);
}

/* a + b, the earlier term on the left; x NULL on failure (the error is recorded). */
static term add_terms(nb_graph *g, sweep *s, term a, term b)
{
    if (b.first < a.first) {
        term t = a;
        a = b;
        b = t;
    }
    nb_node *x = join_placements(g, a.x, b.x);
    if (!x && g->status == NB_OK) {
        x = nb_add(g, a.x, b.x);
    }
    return (term){ x, x ? depth_of(g, s, x) : 0, a.first, 0 };
}

static int term_cmp(const void *pa, const void *pb)
{
    const term *a = pa, *b = pb;
    if (a->depth != b->depth) {
        return a->depth < b->depth ? -1 : 1;
    }
    return a->first < b->first ? -1 : a->first > b->first;
}

/*
 * The sum of t[0..k-1] with the least depth: the two shallowest terms are
 * added first, again and again (Huffman's rule with max for +). Sorted terms
 * come from t, sums (made in order of depth) from a second queue, so it is
 * linear after the sort.
 */
static term huffman_sum(nb_graph *g, sweep *s, term *t, uint32_t k)
{
    qsort(t, k, sizeof *t, term_cmp);
    term *q = t + k; /* take_pending left room for k sums behind the terms */
    uint32_t ti = 0, qi = 0, qn = 0;
    for (uint32_t left = k; left > 1 && g->status == NB_OK; left--) {
        term ab[2];
        for (int j = 0; j < 2; j++) {
            bool from_t = ti < k && (qi == qn || term_cmp(&t[ti], &q[qi]) <= 0);
            ab[j] = from_t ? t[ti++] : q[qi++];
        }
        q[qn++] = add_terms(g, s, ab[0], ab[1]);
    }
    return g->status != NB_OK ? (term){ 0 } : qn ? q[qn - 1] : t[0];
}

/*
 * Unlinks node id's pending terms into s->terms, *k of them, with room for
 * k more behind them (huffman_sum's queue); valid until the next call.
 */
static term *take_pending(nb_graph *g, sweep *s, uint32_t id, uint32_t *k)
{
    *k = 0;
    for (uint32_t c = s->head[id]; c; c = s->pool[c - 1].next) {
        (*k)++;
    }
    if (*k > UINT32_MAX / 2 ||
        !nbi_grow(g, (void **)&s->terms, &s->cap_terms, 2 * *k, sizeof *s->terms)) {
        nbi_fail_nomem(g, "grad");
        return NULL;
    }
    term *t = s->terms;
    uint32_t j = 0;
    for (uint32_t c = s->head[id]; c;) {
        uint32_t next = s->pool[c - 1].next;
        t[j++] = s->pool[c - 1];
        s->pool[c - 1].next = s->free_pool; /* the slot is free again */
        s->free_pool = c;
        c = next;
    }
    s->head[id] = 0;
    return t;
}

/* Puts t first in node id's pending terms. */
static void push_term(nb_graph *g, sweep *s, uint32_t id, term t)
{
    uint32_t slot = s->free_pool;
    if (slot) {
        s->free_pool = s->pool[slot - 1].next;
    } else if (nbi_grow(g, (void **)&s->pool, &s->cap_pool, s->n_pool + 1, sizeof *s->pool)) {
        slot = ++s->n_pool;
    } else {
        nbi_fail_nomem(g, "grad");
        return;
    }
    t.next = s->head[id];
    s->pool[slot - 1] = t;
    s->head[id] = slot;
}

/*
 * Adds contribution dx to u's adjoint. Without the simplifier, to the running
 * sum at once (a left-deep chain). With it, sums are shaped by depth as the
 * terms arrive: two terms of equal depth are added at once (that costs the
 * optimum nothing: 2^d + 2^d = 2^(d+1) in Kraft's sum, whose log is the least
 * depth a sum of terms can have), so T terms of equal depth make a balanced
 * tree of ceil(log2 T) levels; a term at least two levels deeper than all the
 * pending ones first has those summed into one, which stays shallower than
 * it. The rest is summed when the adjoint is needed. Few terms wait at a time,
 * so, as with the chain, contributions do not all stay alive until the end.
 */
static void contribute(nb_graph *g, sweep *s, nb_node *u, nb_node *dx)
{
    uint32_t id = u->id;
    if (!s->head) {
        s->adj[id] = s->adj[id] ? nb_add(g, s->adj[id], dx) : dx;
        return;
    }
    if (!s->adj[id]) {
        s->adj[id] = dx; /* a mark: the adjoint is the sum of the pending terms */
    }
    if (!s->head[id]) {
        /* a first term: its depth is needed only if a second comes (-1: not known yet) */
        term t = { dx, -1, s->arrivals++, 0 };
        push_term(g, s, id, t);
        return;
    }
    uint32_t c = s->head[id];
    if (s->pool[c - 1].depth < 0 && s->pool[c - 1].next == 0) {
        s->pool[c - 1].depth = depth_of(g, s, s->pool[c - 1].x);
    }
    term t = { dx, depth_of(g, s, dx), s->arrivals++, 0 };
    for (bool merged = true; merged && g->status == NB_OK;) {
        merged = false;
        for (uint32_t *link = &s->head[id]; *link; link = &s->pool[*link - 1].next) {
            term *p = &s->pool[*link - 1];
            if (p->depth == t.depth) {
                term other = *p;
                uint32_t slot = *link;
                *link = p->next;
                s->pool[slot - 1].next = s->free_pool;
                s->free_pool = slot;
                t = add_terms(g, s, other, t);
                merged = true;
                break;
            }
        }
    }
    int32_t deepest = -1;
    uint32_t n_pending = 0;
    for (uint32_t c = s->head[id]; c; c = s->pool[c - 1].next) {
        deepest = s->pool[c - 1].depth > deepest ? s->pool[c - 1].depth : deepest;
        n_pending++;
    }
    if (g->status == NB_OK && n_pending >= 2 && t.depth > deepest + 1) {
        uint32_t k;
        term *all = take_pending(g, s, id, &k);
        if (all) {
            term c = huffman_sum(g, s, all, k);
            s->head[id] = 0;
            if (g->status == NB_OK) {
                push_term(g, s, id, c); /* the one pending term now; t goes in below */
            }
        }
    }
    if (g->status != NB_OK || !t.x) {
        return;
    }
    push_term(g, s, id, t);
}

/* u's adjoint: its pending terms summed on first use (all are in: ids go down). */
static nb_node *adjoint(nb_graph *g, sweep *s, uint32_t id)
{
    if (!s->head || !s->head[id] || g->status != NB_OK) {
        return s->adj[id];
    }
    uint32_t c = s->head[id];
    if (s->pool[c - 1].next == 0) { /* one term, the common case: no sum */
        s->adj[id] = s->pool[c - 1].x;
        s->pool[c - 1].next = s->free_pool;
        s->free_pool = c;
        s->head[id] = 0;
        return s->adj[id];
    }
    uint32_t k;
    term *t = take_pending(g, s, id, &k);
    if (!t) {
        return NULL;
    }
    for (uint32_t j = 0; j < k; j++) {
        if (t[j].depth < 0) {
            t[j].depth = depth_of(g, s, t[j].x);
        }
    }
    s->adj[id] = huffman_sum(g, s, t, k).x;
    return s->adj[id];
}

static bool record_pairs(nb_graph *g, size_t n, nb_node *const *wrt, nb_node **grads)
{
    uint32_t need = g->n_grad_pairs + 2 * (uint32_t)n;
    if (!nbi_grow(g, (void **)&g->grad_pairs, &g->cap_grad_pairs, need, sizeof *g->grad_pairs)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        g->grad_pairs[g->n_grad_pairs++] = wrt[i];
        g->grad_pairs[g->n_grad_pairs++] = grads[i];
    }
    return true;
}

static bool check_args(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt, nb_node **grads)
{
    if (!nbi_check_inputs(g, "grad", 1, &y)) {
        return false;
    }
    if (n > 0 && (!wrt || !grads)) {
        nbi_fail(g, NB_ERR_ARG, "grad", 1, &y, "wrt or grads is NULL");
        return false;
    }
    if (y->dtype == NB_DTYPE_I32) {
        nbi_fail(g, NB_ERR_DTYPE, "grad", 1, &y, "the output is i32; it must be f32 or f64");
        return false;
    }
    if (nbi_node_count(y) != 1) {
        nbi_fail(g, NB_ERR_SHAPE, "grad", 1, &y,
                 "the output must be a scalar; reduce it first, e.g. with nb_sum");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!wrt[i]) {
            nbi_fail(g, NB_ERR_ARG, "grad", 1, &y, "wrt[%zu] is NULL", i);
            return false;
        }
        nb_node *in[2] = { y, wrt[i] };
        if (wrt[i]->g != g) {
            nbi_fail(g, NB_ERR_GRAPH, "grad", 2, in, "wrt[%zu] belongs to another graph", i);
            return false;
        }
        if (wrt[i]->dtype != y->dtype) {
            nbi_fail(g, NB_ERR_DTYPE, "grad", 2, in, "wrt[%zu] is %s but the output is %s", i,
                     nb_dtype_name(wrt[i]->dtype), nb_dtype_name(y->dtype));
            return false;
        }
    }
    return true;
}

nb_status nb_grad(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt, nb_node **grads)
{
    if (grads) {
        for (size_t i = 0; i < n; i++) {
            grads[i] = NULL;
        }
    }
    if (!check_args(g, y, n, wrt, grads)) {
        return g ? (g->status != NB_OK ? g->status : NB_ERR_ARG) : NB_ERR_ARG;
    }
    char open[300];
    if (!nbi_scopes_closed(g, open, sizeof open)) {
        nbi_fail(g, NB_ERR_ARG, "grad", 1, &y, "%s", open);
        return g->status;
    }
    if (n == 0) {
        return NB_OK;
    }
    sweep s = { .n = (size_t)y->id + 1, .n_scopes = g->n_scopes };
    s.mark = nbi_mem_alloc(g, s.n * sizeof *s.mark);
    s.adj = nbi_mem_alloc(g, s.n * sizeof *s.adj);
    s.mirror = s.n_scopes ? nbi_mem_alloc(g, s.n_scopes * sizeof *s.mirror) : NULL;
    if (!s.mark || !s.adj || (s.n_scopes && !s.mirror)) {
        sweep_free(g, &s);
        nbi_fail_nomem(g, "grad");
        return g->status;
    }
    memset(s.mark, 0, s.n * sizeof *s.mark);
    memset(s.adj, 0, s.n * sizeof *s.adj);
    if (s.mirror) {
        memset(s.mirror, 0, s.n_scopes * sizeof *s.mirror);
    }
    bool simplify = !g->no_simplify;
    if (simplify) {
        s.head = nbi_mem_alloc(g, s.n * sizeof *s.head);
        if (!s.head) {
            sweep_free(g, &s);
            nbi_fail_nomem(g, "grad");
            return g->status;
        }
        memset(s.head, 0, s.n * sizeof *s.head);
    }

    /* On a path: y depends on it (downward sweep) and it depends on a wrt (upward). */
    for (size_t i = 0; i < n; i++) {
        /* state (running statistics) is a constant to differentiation: its gradient is zero */
        if (wrt[i]->id < s.n && wrt[i]->op != NBI_OP_STATE) {
            s.mark[wrt[i]->id] |= DEPENDS_ON_WRT;
        }
    }
    for (uint32_t id = 0; id < s.n; id++) {
        nb_node *v = g->nodes[id];
        for (int i = 0; i < v->arity; i++) {
            if (s.mark[v->in[i]->id] & DEPENDS_ON_WRT) {
                s.mark[id] |= DEPENDS_ON_WRT;
            }
        }
    }
    s.mark[y->id] |= NEEDED_BY_Y;
    for (uint32_t id = y->id + 1; id-- > 0;) {
        nb_node *v = g->nodes[id];
        if (!(s.mark[id] & NEEDED_BY_Y)) {
            continue;
        }
        for (int i = 0; i < v->arity; i++) {
            s.mark[v->in[i]->id] |= NEEDED_BY_Y;
        }
    }

    uint32_t saved_scope = g->cur_scope;
    bool saved_in_grad = g->in_grad;
    g->in_grad = true;
    uint32_t first_new = g->n_nodes;
    uint32_t counts[NBI_OP_COUNT];
    memcpy(counts, g->op_count, sizeof counts);
    nb_node *seed = NULL;

    if (s.mark[y->id] & DEPENDS_ON_WRT) {
        g->cur_scope = mirror_scope(g, s.mirror, y->scope);
        /*
         * a seed of its own (not the cached constant 1, which rules share), so
         * that it can be drawn as ∂y/∂y = 1; recorded as y's gradient
         */
        seed = y->rank == 0 ? nb_scalar(g, (nb_dtype)y->dtype, 1.0)
                            : nb_fill(g, (nb_dtype)y->dtype, y->rank, y->shape, 1.0);
        s.adj[y->id] = seed;
        if (seed) {
            seed->flags |= NBI_F_SEED;
            nb_node *pair_w[1] = { y }, *pair_d[1] = { seed };
            if (!record_pairs(g, 1, pair_w, pair_d)) {
                nbi_fail_nomem(g, "grad");
            }
        }
    }
    for (uint32_t id = y->id + 1; id-- > 0 && g->status == NB_OK;) {
        nb_node *v = g->nodes[id];
        const nbi_op *op = nbi_ops[v->op];
        if (s.mark[id] != (DEPENDS_ON_WRT | NEEDED_BY_Y) || !s.adj[id] || !op->grad) {
            continue;
        }
        nb_node *dy = adjoint(g, &s, id);
        if (!dy) {
            break;
        }
        bool need[NB_MAX_ARITY];
        bool any = false;
        for (int i = 0; i < v->arity; i++) {
            need[i] = (s.mark[v->in[i]->id] & DEPENDS_ON_WRT) && v->in[i]->dtype != NB_DTYPE_I32;
            any |= need[i];
        }
        if (!any) {
            continue;
        }
        g->cur_scope = mirror_scope(g, s.mirror, v->scope);
        nb_node *dx[NB_MAX_ARITY];
        for (int i = 0; i < v->arity; i++) {
            dx[i] = NULL;
        }
        op->grad(g, v, dy, need, dx);
        for (int i = 0; i < v->arity && g->status == NB_OK; i++) {
            if (!need[i] || !dx[i]) {
                continue;
            }
            nb_node *u = v->in[i];
            NBI_ASSERT(nbi_same_shape(dx[i], u));
            contribute(g, &s, u, dx[i]);
        }
    }

    /* y does not depend on a wrt node: its gradient is zero, said as a fill node */
    g->cur_scope = 0;
    for (size_t i = 0; i < n && g->status == NB_OK; i++) {
        nb_node *w = wrt[i];
        nb_node *d = w->id < s.n ? adjoint(g, &s, w->id) : NULL;
        if (!d) {
            d = nb_fill(g, (nb_dtype)w->dtype, w->rank, w->shape, 0.0);
        }
        grads[i] = d;
    }
    g->cur_scope = saved_scope;
    g->in_grad = saved_in_grad;

    if (simplify && g->status == NB_OK) {
        /* the seed stays: DOT draws it as y's gradient */
        nb_node **roots = nbi_mem_alloc(g, (n + 1) * sizeof *roots);
        if (roots) {
            memcpy(roots, grads, n * sizeof *roots);
            roots[n] = seed;
            nbi_simplify_tail(g, first_new, counts, n + 1, roots);
            memcpy(grads, roots, n * sizeof *roots);
            nbi_mem_free(g, roots, (n + 1) * sizeof *roots);
        } else {
            nbi_fail_nomem(g, "grad");
        }
    }
    if (g->status == NB_OK) {
        name_results(g, n, wrt, grads, first_new);
    }
    if (g->status == NB_OK && !record_pairs(g, n, wrt, grads)) {
        nbi_fail_nomem(g, "grad");
    }
    sweep_free(g, &s);
    if (g->status != NB_OK) {
        for (size_t i = 0; i < n; i++) {
            grads[i] = NULL;
        }
    }
    return g->status;
}
