/*
 * graph/depth.c: depth as the longest path (Deep Learning, figure 1.3). One
 * sweep in id order (a topological order) computes every node's depth up to
 * the output; the path is read back through each node's deepest input.
 *
 * At level L >= 1 the element of an op node is its scope instance at nesting
 * level L (or its innermost scope, when that is shallower); a step from an op
 * node into another of the same element adds nothing, so a scope counts once.
 */
#include "internal.h"

typedef struct depth_run {
    int32_t *depth;
    uint32_t *from; /* deepest input's id, or UINT32_MAX for leaves */
    uint32_t *elem; /* element scope per scope instance */
    size_t n, n_scopes;
} depth_run;

static void run_free(nb_graph *g, depth_run *r)
{
    nbi_mem_free(g, r->depth, r->n * sizeof *r->depth);
    nbi_mem_free(g, r->from, r->n * sizeof *r->from);
    nbi_mem_free(g, r->elem, r->n_scopes * sizeof *r->elem);
}

static nb_status compute(nb_graph *g, nb_node *out, int level, depth_run *r)
{
    memset(r, 0, sizeof *r);
    if (!g || g->status != NB_OK) {
        return g ? g->status : NB_ERR_ARG; /* a graph in error answers no questions */
    }
    g->run_err[0] = '\0';
    /* a query: bad arguments are reported, not sticky, so the graph stays usable */
    if (!out) {
        return nbi_report(g, NB_ERR_ARG, "depth", 0, NULL, "the output node is NULL");
    }
    if (out->g != g) {
        return nbi_report(g, NB_ERR_GRAPH, "depth", 1, &out, "the node belongs to another graph");
    }
    if (level < 0) {
        return nbi_report(g, NB_ERR_ARG, "depth", 1, &out, "level %d is negative", level);
    }
    char open[300];
    if (!nbi_scopes_closed(g, open, sizeof open)) {
        return nbi_report(g, NB_ERR_ARG, "depth", 0, NULL, "%s", open);
    }
    r->n = (size_t)out->id + 1;
    r->n_scopes = level > 0 ? g->n_scopes : 0;
    r->depth = nbi_mem_alloc(g, r->n * sizeof *r->depth);
    r->from = nbi_mem_alloc(g, r->n * sizeof *r->from);
    r->elem = r->n_scopes ? nbi_mem_alloc(g, r->n_scopes * sizeof *r->elem) : NULL;
    if (!r->depth || !r->from || (r->n_scopes && !r->elem)) {
        run_free(g, r);
        return nbi_report(g, NB_ERR_NOMEM, "depth", 1, &out, "out of memory");
    }
    /* a scope's element: its ancestor at nesting level `level`, or itself if shallower */
    for (uint32_t s = 0; s < r->n_scopes; s++) {
        uint32_t e = s;
        while (g->scopes[e].level > (uint32_t)level) {
            e = g->scopes[e].parent;
        }
        r->elem[s] = e;
    }
    for (uint32_t id = 0; id < r->n; id++) {
        nb_node *v = g->nodes[id];
        int arity = v->arity;
        r->depth[id] = 0;
        r->from[id] = UINT32_MAX;
        /* leaves and fill (no inputs) have depth 0 */
        uint32_t ev = level > 0 && v->scope ? r->elem[v->scope] : 0;
        for (int i = 0; i < arity; i++) {
            nb_node *u = v->in[i];
            uint32_t eu = level > 0 && u->scope ? r->elem[u->scope] : 0;
            bool same = ev != 0 && eu == ev && u->arity > 0;
            int32_t d = r->depth[u->id] + (same ? 0 : 1);
            if (r->from[id] == UINT32_MAX || d > r->depth[id]) {
                r->depth[id] = d;
                r->from[id] = u->id;
            }
        }
    }
    return NB_OK;
}

int nb_depth(nb_graph *g, nb_node *out, int level)
{
    depth_run r;
    if (compute(g, out, level, &r) != NB_OK) {
        return -1;
    }
    int d = r.depth[out->id];
    run_free(g, &r);
    return d;
}

size_t nbi_depth_path(nb_graph *g, nb_node *out, int level, nb_node **path, size_t cap,
                      nb_status *status)
{
    depth_run r;
    *status = compute(g, out, level, &r);
    if (*status != NB_OK) {
        return 0;
    }
    size_t len = 1;
    for (uint32_t id = out->id; r.from[id] != UINT32_MAX; id = r.from[id]) {
        len++;
    }
    /* fill from the end: path[len-1] is out, path[0] the leaf */
    size_t i = len;
    for (uint32_t id = out->id;; id = r.from[id]) {
        i--;
        if (path && i < cap) {
            path[i] = g->nodes[id];
        }
        if (r.from[id] == UINT32_MAX) {
            break;
        }
    }
    run_free(g, &r);
    return len;
}

size_t nb_depth_path(nb_graph *g, nb_node *out, int level, nb_node **path, size_t cap)
{
    nb_status status;
    return nbi_depth_path(g, out, level, path, cap, &status);
}
