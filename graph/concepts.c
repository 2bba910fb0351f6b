/*
 * graph/concepts.c: the book's second measure of depth (Deep Learning,
 * chapter 1): the depth of the graph of concepts. Every scope name is one
 * concept, however many instances it has; concepts that feed each other (a
 * strongly connected component, found by Tarjan's algorithm) count once each,
 * together. docs/depth.md states the rule.
 */
#include "internal.h"

#include <string.h>

typedef struct cgraph {
    nb_graph *g;
    size_t n;           /* nodes up to out */
    size_t n_scopes;    /* g->n_scopes */
    uint32_t *concept;  /* per node: concept id, UINT32_MAX for leaves and unused nodes */
    uint32_t *of_scope; /* per scope instance: concept id of its element's name */
    uint32_t *name_at;  /* per concept: scope index of its name, or n_scopes + node id */
    size_t n_concepts;
    uint32_t *head, *next_edge, *to; /* successor lists: head[c], next_edge[e], to[e] */
    size_t n_edges;
    /* Tarjan: index, low, on-stack, the stack, the component of each concept */
    uint32_t *index, *low, *stack, *comp, *call, *edge_at;
    uint8_t *on_stack;
    size_t n_comps;
} cgraph;

#define NONE UINT32_MAX

static void *alloc_n(cgraph *c, size_t n, size_t size, bool *ok)
{
    if (!*ok || n == 0) {
        return NULL;
    }
    void *p = nbi_mem_alloc(c->g, n * size);
    if (!p) {
        *ok = false;
    }
    return p;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

/* Concept ids for scope instances: one per distinct name of an element scope. */
static void name_concepts(cgraph *c, int level, bool *ok)
{
    nb_graph *g = c->g;
    size_t cap = 16;
    while (cap < 2 * c->n_scopes) {
        cap *= 2;
    }
    uint32_t *table = alloc_n(c, cap, sizeof *table, ok); /* scope index of a name's first use */
    if (!*ok) {
        return;
    }
    memset(table, 0xff, cap * sizeof *table);
    for (uint32_t s = 1; s < c->n_scopes; s++) {
        uint32_t e = s;
        while (g->scopes[e].level > (uint32_t)level) {
            e = g->scopes[e].parent;
        }
        const char *name = g->scopes[e].name;
        size_t h = (size_t)hash_name(name) & (cap - 1);
        while (table[h] != NONE && strcmp(g->scopes[table[h]].name, name) != 0) {
            h = (h + 1) & (cap - 1);
        }
        if (table[h] == NONE) {
            table[h] = e;
        }
        c->of_scope[s] = table[h];
    }
    nbi_mem_free(g, table, cap * sizeof *table);
}

/* Tarjan's algorithm without recursion (a graph of unscoped ops has a concept per op). */
static void components(cgraph *c)
{
    uint32_t next_index = 0;
    size_t sp = 0, cp = 0;
    for (uint32_t root = 0; root < c->n_concepts; root++) {
        if (c->index[root] != NONE) {
            continue;
        }
        c->call[cp++] = root;
        c->index[root] = c->low[root] = next_index++;
        c->edge_at[root] = c->head[root];
        c->stack[sp++] = root;
        c->on_stack[root] = 1;
        while (cp > 0) {
            uint32_t v = c->call[cp - 1];
            uint32_t e = c->edge_at[v];
            if (e != NONE) {
                c->edge_at[v] = c->next_edge[e];
                uint32_t w = c->to[e];
                if (c->index[w] == NONE) {
                    c->index[w] = c->low[w] = next_index++;
                    c->edge_at[w] = c->head[w];
                    c->stack[sp++] = w;
                    c->on_stack[w] = 1;
                    c->call[cp++] = w;
                } else if (c->on_stack[w] && c->index[w] < c->low[v]) {
                    c->low[v] = c->index[w];
                }
                continue;
            }
            cp--;
            if (cp > 0) {
                uint32_t u = c->call[cp - 1];
                if (c->low[v] < c->low[u]) {
                    c->low[u] = c->low[v];
                }
            }
            if (c->low[v] == c->index[v]) { /* v roots a component: pop it */
                uint32_t w;
                do {
                    w = c->stack[--sp];
                    c->on_stack[w] = 0;
                    c->comp[w] = (uint32_t)c->n_comps;
                } while (w != v);
                c->n_comps++;
            }
        }
    }
}

static void cgraph_free(cgraph *c)
{
    nb_graph *g = c->g;
    size_t nc = c->n_concepts ? c->n_concepts : 1;
    nbi_mem_free(g, c->concept, c->n * sizeof *c->concept);
    nbi_mem_free(g, c->of_scope, c->n_scopes * sizeof *c->of_scope);
    nbi_mem_free(g, c->name_at, c->n * sizeof *c->name_at);
    nbi_mem_free(g, c->head, nc * sizeof *c->head);
    nbi_mem_free(g, c->next_edge, c->n_edges * sizeof *c->next_edge);
    nbi_mem_free(g, c->to, c->n_edges * sizeof *c->to);
    uint32_t **per_concept[] = { &c->index, &c->low, &c->stack, &c->comp, &c->call, &c->edge_at };
    for (size_t i = 0; i < sizeof per_concept / sizeof *per_concept; i++) {
        nbi_mem_free(g, *per_concept[i], nc * sizeof(uint32_t));
    }
    nbi_mem_free(g, c->on_stack, nc);
}

int nb_depth_concepts(nb_graph *g, nb_node *out, int level, const char **names, size_t cap)
{
    if (!g || g->status != NB_OK) {
        return -1;
    }
    g->run_err[0] = '\0';
    /* a query, as nb_depth: bad arguments are reported, not sticky */
    if (!out) {
        nbi_report(g, NB_ERR_ARG, "depth_concepts", 0, NULL, "the output node is NULL");
        return -1;
    }
    if (out->g != g) {
        nbi_report(g, NB_ERR_GRAPH, "depth_concepts", 1, &out, "the node belongs to another graph");
        return -1;
    }
    if (level < 1) {
        nbi_report(g, NB_ERR_ARG, "depth_concepts", 1, &out,
                   "level %d: concepts are scope names, so the level is 1 or more", level);
        return -1;
    }
    cgraph c = { .g = g, .n = (size_t)out->id + 1, .n_scopes = g->n_scopes };
    bool ok = true;
    c.concept = alloc_n(&c, c.n, sizeof *c.concept, &ok);
    c.name_at = alloc_n(&c, c.n, sizeof *c.name_at, &ok);
    c.of_scope = alloc_n(&c, c.n_scopes, sizeof *c.of_scope, &ok);
    name_concepts(&c, level, &ok);
    if (!ok) {
        cgraph_free(&c);
        nbi_report(g, NB_ERR_NOMEM, "depth_concepts", 1, &out, "out of memory");
        return -1;
    }
    /* the op nodes out depends on, and their concepts (ids in order of first use) */
    for (size_t i = 0; i < c.n; i++) {
        c.concept[i] = NONE;
    }
    c.concept[out->id] = 0; /* "needed" marks, replaced below */
    for (size_t i = c.n; i-- > 0;) {
        nb_node *v = g->nodes[i];
        if (c.concept[i] == NONE) {
            continue;
        }
        for (int k = 0; k < v->arity; k++) {
            c.concept[v->in[k]->id] = 0;
        }
    }
    for (size_t i = 0; i < c.n; i++) {
        c.name_at[i] = NONE;
    }
    uint32_t *first = alloc_n(&c, c.n_scopes, sizeof *first, &ok); /* name scope -> concept */
    if (c.n_scopes && !ok) {
        cgraph_free(&c);
        nbi_report(g, NB_ERR_NOMEM, "depth_concepts", 1, &out, "out of memory");
        return -1;
    }
    for (size_t s = 0; s < c.n_scopes; s++) {
        first[s] = NONE;
    }
    size_t n_edges = 0;
    for (size_t i = 0; i < c.n; i++) {
        nb_node *v = g->nodes[i];
        if (c.concept[i] == NONE || v->arity == 0) {
            c.concept[i] = NONE; /* leaves and fill nodes are no concept */
            continue;
        }
        uint32_t key = v->scope ? c.of_scope[v->scope] : NONE;
        if (key != NONE && first[key] != NONE) {
            c.concept[i] = first[key];
        } else {
            c.concept[i] = (uint32_t)c.n_concepts;
            c.name_at[c.n_concepts++] = key != NONE ? key : (uint32_t)(c.n_scopes + i);
            if (key != NONE) {
                first[key] = c.concept[i];
            }
        }
        n_edges += (size_t)v->arity;
    }
    nbi_mem_free(g, first, c.n_scopes * sizeof *first);
    size_t nc = c.n_concepts ? c.n_concepts : 1;
    c.n_edges = n_edges;
    c.head = alloc_n(&c, nc, sizeof *c.head, &ok);
    c.next_edge = alloc_n(&c, n_edges, sizeof *c.next_edge, &ok);
    c.to = alloc_n(&c, n_edges, sizeof *c.to, &ok);
    uint32_t **per_concept[] = { &c.index, &c.low, &c.stack, &c.comp, &c.call, &c.edge_at };
    for (size_t i = 0; i < sizeof per_concept / sizeof *per_concept; i++) {
        *per_concept[i] = alloc_n(&c, nc, sizeof(uint32_t), &ok);
    }
    c.on_stack = alloc_n(&c, nc, 1, &ok);
    if (!ok) {
        cgraph_free(&c);
        nbi_report(g, NB_ERR_NOMEM, "depth_concepts", 1, &out, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < nc; k++) {
        c.head[k] = c.index[k] = NONE;
        c.on_stack[k] = 0;
    }
    /* an edge from the concept of each op input to the consumer's other concept */
    size_t e = 0;
    for (size_t i = 0; i < c.n; i++) {
        nb_node *v = g->nodes[i];
        if (c.concept[i] == NONE) {
            continue;
        }
        for (int k = 0; k < v->arity; k++) {
            uint32_t cu = c.concept[v->in[k]->id];
            if (cu != NONE && cu != c.concept[i]) {
                c.to[e] = c.concept[i];
                c.next_edge[e] = c.head[cu];
                c.head[cu] = (uint32_t)e++;
            }
        }
    }
    int depth = 0;
    if (c.concept[out->id] != NONE) {
        components(&c);
        /*
         * Tarjan numbers components sinks first, so every edge between two
         * goes from a higher number to a lower one: sweep from the highest.
         * total[k] = size[k] + the largest total of a component feeding k.
         * index, low and call are free now: reuse them as size, total, from.
         */
        uint32_t *size = c.index, *total = c.low, *from = c.call;
        for (size_t k = 0; k < c.n_comps; k++) {
            size[k] = 0;
            total[k] = 0;
            from[k] = NONE;
        }
        for (size_t k = 0; k < c.n_concepts; k++) {
            size[c.comp[k]]++;
        }
        /* concepts sorted by component (counting sort, stable: ids ascending inside) */
        uint32_t *order = c.stack, *start = c.edge_at;
        for (size_t k = 0; k < c.n_comps; k++) {
            start[k] = k ? start[k - 1] + size[k - 1] : 0;
        }
        for (size_t k = 0; k < c.n_concepts; k++) {
            order[start[c.comp[k]]++] = (uint32_t)k;
        }
        /* start[k] is now the end of component k's run; its members lie before it */
        for (size_t k = 0; k < c.n_comps; k++) {
            total[k] = size[k];
        }
        for (size_t k = c.n_comps; k-- > 0;) {
            uint32_t end = start[k], begin = end - size[k];
            for (uint32_t j = begin; j < end; j++) {
                for (uint32_t ed = c.head[order[j]]; ed != NONE; ed = c.next_edge[ed]) {
                    uint32_t t = c.comp[c.to[ed]];
                    if (t != k && total[k] + size[t] > total[t]) {
                        total[t] = total[k] + size[t];
                        from[t] = (uint32_t)k;
                    }
                }
            }
        }
        uint32_t k = c.comp[c.concept[out->id]];
        depth = (int)total[k];
        /* names from the source end: walk back, then fill the buffer from its end */
        if (names) {
            size_t pos = (size_t)depth;
            for (uint32_t q = k; q != NONE; q = from[q]) {
                uint32_t end = start[q], begin = end - size[q];
                for (uint32_t j = end; j-- > begin;) {
                    pos--;
                    if (pos < cap) {
                        uint32_t key = c.name_at[order[j]];
                        names[pos] = key < c.n_scopes ? g->scopes[key].name
                                                      : nb_node_name(g->nodes[key - c.n_scopes]);
                    }
                }
            }
        }
    }
    cgraph_free(&c);
    return depth;
}
