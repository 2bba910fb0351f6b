/*
 * graph/dot.c: Graphviz DOT export. Scopes become nested clusters, leaves are
 * drawn apart from ops (and parameters from inputs), gradient nodes are blue,
 * and the longest path to a chosen node is red. Node ids are "n<id>", stable
 * across runs, so output can be compared with golden files.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

nb_dot_options nb_dot_defaults(void)
{
    return (nb_dot_options){ .max_values = 8, .depth_level = NB_DEPTH_OPS };
}

/* Writes s as the inside of a DOT double-quoted string. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
}

static double value_at(const nb_node *n, size_t i)
{
    switch (n->dtype) {
    case NB_DTYPE_F32:
        return ((const float *)n->data)[i];
    case NB_DTYPE_F64:
        return ((const double *)n->data)[i];
    default:
        return ((const int32_t *)n->data)[i];
    }
}

static void put_short(FILE *f, const nb_node *n, size_t i)
{
    fprintf(f, "%.4g", value_at(n, i));
}

/* Writes n's values as nested lists ("[[1, 2], [3, 4]]"), a scalar bare. */
static void put_values(FILE *f, const nb_node *n)
{
    nbi_put_nested(f, n, put_short);
}

/* The latest gradient recorded for n that has a value now, or NULL. */
static const nb_node *grad_of(const nb_graph *g, const nb_node *n)
{
    for (uint32_t i = g->n_grad_pairs; i >= 2; i -= 2) {
        const nb_node *w = g->grad_pairs[i - 2], *d = g->grad_pairs[i - 1];
        if (w == n && nbi_has_value(d)) {
            return d;
        }
    }
    return NULL;
}

static const char *node_style(const nb_node *n)
{
    switch (n->op) {
    case NBI_OP_INPUT:
        return "shape=ellipse, style=filled, fillcolor=\"#d8f0d8\"";
    case NBI_OP_PARAM:
        return "shape=box, style=filled, fillcolor=\"#ffd9a8\"";
    case NBI_OP_CONST:
        return "shape=plaintext, fontcolor=\"#555555\"";
    case NBI_OP_STATE: /* a leaf that runs update, not optimizers: a paler box than a param */
        return "shape=box, style=\"filled,dashed\", fillcolor=\"#e4e4f4\"";
    default:
        return n->flags & NBI_F_GRAD ? "shape=box, style=\"rounded,filled\", fillcolor=\"#dce8ff\""
                                     : "shape=box, style=\"rounded,filled\", fillcolor=white";
    }
}

typedef struct dot_state {
    FILE *f;
    const nb_dot_options *o;
    uint8_t *show;  /* by node id */
    uint32_t *next; /* by node id: the next node on the highlighted path, or UINT32_MAX */
    uint32_t *rep;  /* collapse: by node id, the scope drawn in its place, or UINT32_MAX */
    size_t n;
} dot_state;

/* The y whose seed n is (the pair nb_grad recorded), or NULL. */
static const nb_node *seed_of(const nb_graph *g, const nb_node *n)
{
    for (uint32_t i = 0; (n->flags & NBI_F_SEED) && i + 1 < g->n_grad_pairs; i += 2) {
        if (g->grad_pairs[i + 1] == n) {
            return g->grad_pairs[i];
        }
    }
    return NULL;
}

static void put_node(dot_state *st, nb_node *n, int indent)
{
    FILE *f = st->f;
    char shape[96], attr[160], name[64];
    if (n->rank == 0) {
        snprintf(shape, sizeof shape, "scalar");
    } else {
        nbi_format_shape(n->rank, n->shape, shape, sizeof shape);
    }
    nbi_node_label(n, attr, sizeof attr);
    fprintf(f, "%*sn%u [label=\"", indent, "", (unsigned)n->id);
    const nb_node *y = seed_of(n->g, n);
    if (y) {
        /* the seed: the output's adjoint of itself */
        char buf[64];
        const char *yn = nbi_name_into(y, buf, sizeof buf);
        fputs("∂", f);
        put_escaped(f, yn);
        fputs("/∂", f);
        put_escaped(f, yn);
        fprintf(f, " = 1\", %s", node_style(n));
        if (st->next[n->id] != UINT32_MAX) {
            fputs(", color=red, penwidth=2.5", f);
        }
        fputs("];\n", f);
        return;
    }
    put_escaped(f, nbi_name_into(n, name, sizeof name));
    fputs("\\n", f);
    put_escaped(f, nbi_ops[n->op]->name);
    if (attr[0]) {
        fputc(' ', f);
        put_escaped(f, attr);
    }
    fprintf(f, " %s%s", shape,
            n->dtype == NB_DTYPE_F64   ? ""
            : n->dtype == NB_DTYPE_F32 ? " f32"
                                       : " i32");
    if (st->o->values && nbi_has_value(n) && nbi_node_count(n) <= st->o->max_values) {
        fputs("\\n= ", f);
        put_values(f, n);
        const nb_node *d = st->o->grad ? grad_of(n->g, n) : NULL; /* forward-only: values only */
        if (d && nbi_node_count(d) <= st->o->max_values) {
            fputs("\\ngrad = ", f);
            put_values(f, d);
        }
    }
    fprintf(f, "\", %s", node_style(n));
    if (st->next[n->id] != UINT32_MAX || (st->o->highlight && st->o->highlight == n)) {
        fputs(", color=red, penwidth=2.5", f);
    }
    fputs("];\n", f);
}

/*
 * A collapsed scope instance as one node: its name and what it outputs (its
 * nodes that are used outside it or are the drawing's outputs).
 */
static void put_scope_node(nb_graph *g, dot_state *st, uint32_t scope, int indent)
{
    FILE *f = st->f;
    size_t ops = 0, outs = 0;
    bool red = false;
    char first_out[64] = "";
    for (uint32_t id = 0; id < st->n; id++) {
        nb_node *v = g->nodes[id];
        if (!st->show[id] || st->rep[id] != scope) {
            continue;
        }
        ops += !nbi_is_leaf(v);
        red |= st->next[id] != UINT32_MAX || (st->o->highlight && st->o->highlight == v);
        bool out = st->o->highlight == v;
        for (size_t k = 0; k < st->o->n_outputs && !out; k++) {
            out = st->o->outputs[k] == v;
        }
        for (uint32_t w = id + 1; w < st->n && !out; w++) {
            nb_node *u = g->nodes[w];
            for (int i = 0; st->show[w] && st->rep[w] != scope && i < u->arity && !out; i++) {
                out = u->in[i] == v;
            }
        }
        if (out && outs++ == 0) {
            char buf[64];
            snprintf(first_out, sizeof first_out, "%s", nbi_name_into(v, buf, sizeof buf));
        }
    }
    fprintf(f, "%*ss%u [label=\"", indent, "", (unsigned)scope);
    put_escaped(f, g->scopes[scope].name);
    fprintf(f, "\\n%zu op%s", ops, ops == 1 ? "" : "s");
    if (outs == 1) {
        fputs(" → ", f);
        put_escaped(f, first_out);
    } else if (outs > 1) {
        fprintf(f, " → %zu outputs", outs);
    }
    fprintf(f, "\", shape=box, style=\"rounded,filled\", fillcolor=\"%s\", %s];\n",
            strncmp(g->scopes[scope].name, "grad:", 5) ? "#f3f3fa" : "#eef4ff",
            red ? "color=red, penwidth=2.5" : "color=\"#8888aa\"");
}

/* The role of input i of n when its op names its inputs ("a, b"; "y, dy"), or "". */
static void input_role(const nb_node *n, int i, char *buf, size_t cap)
{
    const char *names = nbi_ops[n->op]->inputs;
    buf[0] = '\0';
    if (!names || n->arity < 2) {
        return;
    }
    for (int k = 0; *names; k++) {
        size_t len = strcspn(names, ",");
        if (k == i) {
            snprintf(buf, cap, "%.*s", (int)len, names);
            return;
        }
        names += len;
        while (*names == ',' || *names == ' ') {
            names++;
        }
    }
}

/* Orders (from, to) edge keys. */
static int by_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Marks what to draw: what the outputs need (or everything), gradient nodes on request. */
static void choose(nb_graph *g, const nb_dot_options *o, dot_state *st)
{
    if (o->outputs && o->n_outputs > 0) {
        memset(st->show, 0, st->n);
        for (size_t i = 0; i < o->n_outputs; i++) {
            if (o->outputs[i] && o->outputs[i]->g == g) {
                st->show[o->outputs[i]->id] = 1;
            }
        }
        for (uint32_t id = (uint32_t)st->n; id-- > 0;) {
            nb_node *v = g->nodes[id];
            for (int i = 0; st->show[id] && i < v->arity; i++) {
                st->show[v->in[i]->id] = 1;
            }
        }
    } else {
        memset(st->show, 1, st->n);
    }
    if (!o->grad) {
        for (uint32_t id = 0; id < st->n; id++) {
            st->show[id] &= !(g->nodes[id]->flags & NBI_F_GRAD);
        }
    }
}

/* Two spaces a level, up to 32 levels: deeper nesting must not make the text quadratic. */
static int cluster_indent(uint32_t depth)
{
    return 2 * (int)(depth < 32 ? depth : 32) + 2;
}

/* Emits clusters depth first without recursion (scopes may nest thousands deep). */
static bool put_clusters(nb_graph *g, dot_state *st)
{
    uint32_t ns = g->n_scopes ? g->n_scopes : 1; /* index 0, the root, always */
    size_t bytes = (size_t)ns * sizeof(uint32_t);
    uint32_t *first = nbi_mem_alloc(g, bytes), *sib = nbi_mem_alloc(g, bytes);
    uint32_t *stack = nbi_mem_alloc(g, bytes), *used = nbi_mem_alloc(g, bytes);
    uint32_t *head = nbi_mem_alloc(g, bytes), *link = nbi_mem_alloc(g, st->n * sizeof(uint32_t));
    bool ok = first && sib && stack && used && head && link;
    if (ok) {
        for (uint32_t s = 0; s < ns; s++) {
            first[s] = sib[s] = head[s] = UINT32_MAX;
            used[s] = 0;
        }
        /* nodes bucketed by scope, in id order (built backwards, read forwards) */
        for (uint32_t id = (uint32_t)st->n; id-- > 0;) {
            if (st->show[id]) {
                uint32_t s = g->nodes[id]->scope;
                link[id] = head[s];
                head[s] = id;
                for (uint32_t a = s; a != 0 && !used[a]; a = g->scopes[a].parent) {
                    used[a] = 1; /* drawn only if something inside is */
                }
            }
        }
        for (uint32_t s = ns; s-- > 1;) {
            uint32_t p = g->scopes[s].parent;
            sib[s] = first[p];
            first[p] = s;
        }
        for (uint32_t id = head[0]; id != UINT32_MAX; id = link[id]) {
            put_node(st, g->nodes[id], 2);
        }
        /* stack holds the path of open clusters; each entry's next child is first[] */
        uint32_t top = 0, cur = first[0];
        for (;;) {
            while (cur != UINT32_MAX && !used[cur]) {
                cur = sib[cur];
            }
            if (cur != UINT32_MAX && st->o->collapse > 0 &&
                g->scopes[cur].level >= (uint32_t)st->o->collapse) {
                put_scope_node(g, st, cur, cluster_indent(top));
                cur = sib[cur];
                continue;
            }
            if (cur != UINT32_MAX) {
                int ind = cluster_indent(top);
                fprintf(st->f, "%*ssubgraph cluster_%u {\n%*s  label=\"", ind, "", (unsigned)cur,
                        ind, "");
                put_escaped(st->f, g->scopes[cur].name);
                fprintf(st->f,
                        "\"; style=\"rounded,filled\"; fillcolor=\"%s\"; color=\"#8888aa\";\n",
                        strncmp(g->scopes[cur].name, "grad:", 5) ? "#f3f3fa" : "#eef4ff");
                for (uint32_t id = head[cur]; id != UINT32_MAX; id = link[id]) {
                    put_node(st, g->nodes[id], ind + 2);
                }
                stack[top++] = cur;
                cur = first[cur];
                continue;
            }
            if (top == 0) {
                break;
            }
            uint32_t done = stack[--top];
            fprintf(st->f, "%*s}\n", cluster_indent(top), "");
            cur = sib[done];
        }
    }
    nbi_mem_free(g, first, bytes);
    nbi_mem_free(g, sib, bytes);
    nbi_mem_free(g, stack, bytes);
    nbi_mem_free(g, used, bytes);
    nbi_mem_free(g, head, bytes);
    nbi_mem_free(g, link, st->n * sizeof(uint32_t));
    return ok;
}

/* The drawn key of node id: its own, or (collapsed) its scope's, offset past the nodes. */
static uint64_t drawn_key(const dot_state *st, uint32_t id)
{
    return st->rep[id] == UINT32_MAX ? id : (uint64_t)st->n + st->rep[id];
}

static void put_key(FILE *f, const dot_state *st, uint64_t k)
{
    fprintf(f, k < st->n ? "n%u" : "s%u", (unsigned)(k < st->n ? k : k - st->n));
}

/*
 * Edges between drawn elements, each once (an edge inside a collapsed scope
 * is not drawn): red when any edge it stands for is on the highlighted path.
 */
static bool put_collapsed_edges(nb_graph *g, dot_state *st)
{
    size_t cap = 0;
    for (uint32_t id = 0; id < st->n; id++) {
        cap += st->show[id] ? (size_t)g->nodes[id]->arity : 0;
    }
    /* key: from (high 31 bits), to (next 31 bits), red (bit 1), gradient (bit 0) */
    uint64_t *e = nbi_mem_alloc(g, (cap ? cap : 1) * sizeof *e);
    if (!e) {
        return false;
    }
    size_t n = 0;
    for (uint32_t id = 0; id < st->n; id++) {
        nb_node *v = g->nodes[id];
        for (int i = 0; st->show[id] && i < v->arity; i++) {
            nb_node *u = v->in[i];
            uint64_t a = drawn_key(st, u->id), b = drawn_key(st, id);
            if (!st->show[u->id] || a == b) {
                continue;
            }
            bool red = st->next[u->id] == id;
            e[n++] = a << 33 | b << 2 | (uint64_t)red << 1 | ((v->flags & NBI_F_GRAD) != 0);
        }
    }
    qsort(e, n, sizeof *e, by_key);
    for (size_t i = 0; i < n;) {
        uint64_t pair = e[i] >> 2;
        bool red = false, grad = false;
        for (; i < n && e[i] >> 2 == pair; i++) {
            red |= (e[i] >> 1) & 1;
            grad |= e[i] & 1;
        }
        fputs("  ", st->f);
        put_key(st->f, st, pair >> 31);
        fputs(" -> ", st->f);
        put_key(st->f, st, pair & 0x7fffffffu);
        fputs(red    ? " [color=red, penwidth=2.5];\n"
              : grad ? " [color=\"#4a72c4\"];\n"
                     : ";\n",
              st->f);
    }
    nbi_mem_free(g, e, (cap ? cap : 1) * sizeof *e);
    return true;
}

nb_status nb_graph_write_dot(nb_graph *g, FILE *f, const nb_dot_options *opts)
{
    if (!g || !f) {
        return g ? nbi_report(g, NB_ERR_ARG, "write_dot", 0, NULL, "the file is NULL") : NB_ERR_ARG;
    }
    g->run_err[0] = '\0';
    nb_dot_options o = opts ? *opts : nb_dot_defaults();
    if (o.highlight && o.highlight->g != g) {
        return nbi_report(g, NB_ERR_GRAPH, "write_dot", 1, &o.highlight,
                          "the node to highlight belongs to another graph");
    }
    dot_state st = { .f = f, .o = &o, .n = g->n_nodes };
    st.show = nbi_mem_alloc(g, st.n ? st.n : 1);
    st.next = nbi_mem_alloc(g, (st.n ? st.n : 1) * sizeof *st.next);
    st.rep = nbi_mem_alloc(g, (st.n ? st.n : 1) * sizeof *st.rep);
    nb_node **path = NULL;
    size_t path_len = 0;
    nb_status status = NB_OK;
    if (!st.show || !st.next || !st.rep) {
        status = nbi_report(g, NB_ERR_NOMEM, "write_dot", 0, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < st.n; i++) {
        st.next[i] = UINT32_MAX;
        st.rep[i] = UINT32_MAX;
        /* collapse: the enclosing instance at the level (nodes of shallower scopes stay) */
        uint32_t sc = g->nodes[i]->scope;
        if (o.collapse > 0 && sc != 0 && g->scopes[sc].level >= (uint32_t)o.collapse) {
            while (g->scopes[sc].level > (uint32_t)o.collapse) {
                sc = g->scopes[sc].parent;
            }
            st.rep[i] = sc;
        }
    }
    if (st.n) {
        choose(g, &o, &st);
    }
    if (o.highlight && g->status == NB_OK) {
        /* without its path the drawing would be silently wrong: a failure stops here */
        path_len = nbi_depth_path(g, o.highlight, o.depth_level, NULL, 0, &status);
        if (path_len == 0) {
            goto done;
        }
        path = nbi_mem_alloc(g, path_len * sizeof *path);
        if (!path) {
            status = nbi_report(g, NB_ERR_NOMEM, "write_dot", 0, NULL, "out of memory");
            goto done;
        }
        if (nbi_depth_path(g, o.highlight, o.depth_level, path, path_len, &status) != path_len) {
            status = status != NB_OK ? status : NB_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i + 1 < path_len; i++) {
            st.next[path[i]->id] = path[i + 1]->id;
        }
    }
    fputs("digraph nabla {\n", f);
    fprintf(f, "  graph [rankdir=%s, fontname=\"Helvetica\", newrank=true",
            o.left_to_right ? "LR" : "TB");
    if (o.title) {
        fputs(", labelloc=t, label=\"", f);
        put_escaped(f, o.title);
        fputc('"', f);
    }
    fputs("];\n  node [fontname=\"Helvetica\", fontsize=11];\n"
          "  edge [color=\"#555555\", arrowsize=0.7];\n",
          f);
    if (st.n && !put_clusters(g, &st)) {
        status = nbi_report(g, NB_ERR_NOMEM, "write_dot", 0, NULL, "out of memory");
        goto done;
    }
    if (o.collapse > 0) {
        if (!put_collapsed_edges(g, &st)) {
            status = nbi_report(g, NB_ERR_NOMEM, "write_dot", 0, NULL, "out of memory");
            goto done;
        }
    } else {
        for (uint32_t id = 0; id < st.n; id++) {
            nb_node *v = g->nodes[id];
            if (!st.show[id]) {
                continue;
            }
            for (int i = 0; i < v->arity; i++) {
                nb_node *u = v->in[i];
                if (!st.show[u->id]) {
                    continue;
                }
                char role[32];
                input_role(v, i, role, sizeof role);
                fprintf(f, "  n%u -> n%u", (unsigned)u->id, (unsigned)id);
                const char *sep = " [";
                if (st.next[u->id] == id) {
                    fputs(" [color=red, penwidth=2.5", f);
                    sep = ", ";
                } else if (v->flags & NBI_F_GRAD) {
                    fputs(" [color=\"#4a72c4\"", f);
                    sep = ", ";
                }
                if (role[0]) {
                    fprintf(f, "%sheadlabel=\"%s\", labelfontsize=9, labelfontcolor=\"#555555\"",
                            sep, role);
                    sep = ", ";
                }
                fputs(sep[0] == ',' ? "];\n" : ";\n", f);
            }
        }
    }
    fputs("}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        status = nbi_report(g, NB_ERR_IO, "write_dot", 0, NULL, "writing the DOT output failed");
    }
done:
    nbi_mem_free(g, path, path_len * sizeof *path);
    nbi_mem_free(g, st.show, st.n ? st.n : 1);
    nbi_mem_free(g, st.next, (st.n ? st.n : 1) * sizeof *st.next);
    nbi_mem_free(g, st.rep, (st.n ? st.n : 1) * sizeof *st.rep);
    return status;
}
