/*
 * lang/writer.c: writes a graph's forward part in the model language, in id
 * order (a topological order), so that parsing the text rebuilds the same
 * nodes with the same names, shapes, attributes, scopes and leaf values.
 */
#include "lang.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct out {
    FILE *f;
    nb_graph *g;
} out;

static const char *name_of(nb_node *n)
{
    return nb_node_name(n);
}

static void put_number(FILE *f, const nb_node *n, size_t i)
{
    switch (n->dtype) {
    case NB_DTYPE_F32:
        fprintf(f, "%.9g", (double)((const float *)n->data)[i]);
        break;
    case NB_DTYPE_F64:
        fprintf(f, "%.17g", ((const double *)n->data)[i]);
        break;
    default:
        fprintf(f, "%d", (int)((const int32_t *)n->data)[i]);
    }
}

/* A leaf's values as a literal: a bare number for a scalar, nested lists otherwise. */
static void put_literal(FILE *f, const nb_node *n)
{
    size_t count = nbi_node_count(n);
    for (size_t i = 0; i < count; i++) {
        size_t stride = 1;
        int opens = 0, closes = 0;
        for (int a = n->rank - 1; a >= 0; a--) {
            stride *= (size_t)n->shape[a];
            opens += i % stride == 0;
            closes += (i + 1) % stride == 0;
        }
        if (i > 0) {
            fputs(", ", f);
        }
        for (int k = 0; k < opens; k++) {
            fputc('[', f);
        }
        put_number(f, n, i);
        for (int k = 0; k < closes; k++) {
            fputc(']', f);
        }
    }
}

static void put_shape(FILE *f, int rank, const int64_t *shape)
{
    char s[96];
    nbi_format_shape(rank, shape, s, sizeof s);
    /* "[4,3]" reads better as "[4, 3]" */
    for (const char *c = s; *c; c++) {
        fputc(*c, f);
        if (*c == ',') {
            fputc(' ', f);
        }
    }
}

static void put_op(FILE *f, nb_node *v)
{
    nb_node *a = v->in[0], *b = v->in[1];
    const char *op = nbi_ops[v->op]->name;
    int axis = v->attr.i[0];
    bool keep = v->attr.i[1];
    switch (v->op) {
    case NBI_OP_ADD:
    case NBI_OP_SUB:
    case NBI_OP_MUL:
    case NBI_OP_DIV: {
        const char *sym = v->op == NBI_OP_ADD   ? "+"
                          : v->op == NBI_OP_SUB ? "-"
                          : v->op == NBI_OP_MUL ? "*"
                                                : "/";
        fprintf(f, "%s %s %s", name_of(a), sym, name_of(b));
        break;
    }
    case NBI_OP_NEG:
        fprintf(f, "-%s", name_of(a));
        break;
    case NBI_OP_POW:
        fprintf(f, "%s ** %.17g", name_of(a), v->attr.f);
        break;
    case NBI_OP_MATMUL:
        if (axis == 0) {
            fprintf(f, "%s @ %s", name_of(a), name_of(b));
        } else {
            fprintf(f, "matmul(%s, %s%s%s)", name_of(a), name_of(b),
                    axis & NB_TRANS_A ? ", transpose_a" : "", axis & NB_TRANS_B ? ", transpose_b" : "");
        }
        break;
    case NBI_OP_SUM:
    case NBI_OP_MEAN:
        if (axis == NBI_AXIS_ALL) {
            fprintf(f, "%s(%s)", op, name_of(a));
            break;
        }
        /* fall through */
    case NBI_OP_MAX:
        fprintf(f, "%s(%s, %d%s)", op, name_of(a), axis, keep ? ", keepdims" : "");
        break;
    case NBI_OP_ARGMAX_MASK:
    case NBI_OP_SOFTMAX:
    case NBI_OP_LOG_SOFTMAX:
        fprintf(f, "%s(%s, %d)", op, name_of(a), axis);
        break;
    case NBI_OP_RESHAPE:
    case NBI_OP_BROADCAST_TO:
    case NBI_OP_SUM_TO:
        fprintf(f, "%s(%s, ", op, name_of(a));
        put_shape(f, v->rank, v->shape);
        fputc(')', f);
        break;
    case NBI_OP_ONE_HOT:
        fprintf(f, "one_hot(%s, %lld)", name_of(a), (long long)v->shape[v->rank - 1]);
        break;
    case NBI_OP_FILL:
        if (v->rank == 0) {
            fprintf(f, "fill(%.17g)", v->attr.f);
        } else {
            fputs("fill(", f);
            put_shape(f, v->rank, v->shape);
            fprintf(f, ", %.17g)", v->attr.f);
        }
        break;
    default:
        if (nbi_ops[v->op]->arity == 2) {
            fprintf(f, "%s(%s, %s)", op, name_of(a), name_of(b));
        } else {
            fprintf(f, "%s(%s)", op, name_of(a));
        }
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks every forward node's name and inputs before anything is written. */
static nb_status check(nb_graph *g)
{
    uint32_t n = 0;
    const char **names = nbi_mem_alloc(g, (g->n_nodes ? g->n_nodes : 1) * sizeof *names);
    if (!names) {
        return nbi_report(g, NB_ERR_NOMEM, "model_write", 0, NULL, "out of memory");
    }
    nb_status s = NB_OK;
    for (uint32_t id = 0; id < g->n_nodes && s == NB_OK; id++) {
        nb_node *v = g->nodes[id];
        if (v->flags & NBI_F_GRAD) {
            continue;
        }
        const char *name = nb_node_name(v);
        if (!nbl_is_name(name, strlen(name)) || nbl_reserved(name, strlen(name))) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 1, &v,
                           "the name '%s' is not a name the model language accepts", name);
        }
        for (int i = 0; i < nbi_ops[v->op]->arity && s == NB_OK; i++) {
            if (v->in[i]->flags & NBI_F_GRAD) {
                nb_node *in[2] = { v, v->in[i] };
                s = nbi_report(g, NB_ERR_ARG, "model_write", 2, in,
                               "%s uses the gradient node %s; only forward graphs can be written",
                               name, nb_node_name(v->in[i]));
            }
        }
        names[n++] = name;
    }
    for (uint32_t sc = 1; sc < g->n_scopes && s == NB_OK; sc++) {
        const char *name = g->scopes[sc].name;
        if (strncmp(name, "grad:", 5) != 0 && !nbl_is_name(name, strlen(name))) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 0, NULL,
                           "the scope name '%s' is not a name the model language accepts", name);
        }
    }
    qsort(names, n, sizeof *names, compare_names);
    for (uint32_t i = 1; i < n && s == NB_OK; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 0, NULL,
                           "two nodes are named '%s'; names must be unique to be written",
                           names[i]);
        }
    }
    nbi_mem_free(g, names, (g->n_nodes ? g->n_nodes : 1) * sizeof *names);
    return s;
}

/* Scope chain of s from the outermost: fills chain[] and returns its length. */
static uint32_t chain_of(const nb_graph *g, uint32_t s, uint32_t *chain, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t t = s; t != 0; t = g->scopes[t].parent) {
        n++;
    }
    uint32_t i = n;
    for (uint32_t t = s; t != 0; t = g->scopes[t].parent) {
        if (--i < cap) {
            chain[i] = t;
        }
    }
    return n;
}

nb_status nb_model_write(nb_graph *g, FILE *f)
{
    if (!g || !f) {
        return g ? nbi_report(g, NB_ERR_ARG, "model_write", 0, NULL, "the file is NULL") : NB_ERR_ARG;
    }
    if (g->status != NB_OK) {
        return g->status;
    }
    g->run_err[0] = '\0';
    nb_status s = check(g);
    if (s != NB_OK) {
        return s;
    }
    /* the open scope chain, as a stack of scope ids (scopes may nest deeply) */
    uint32_t cap = g->n_scopes ? g->n_scopes : 1, depth = 0;
    uint32_t *open = nbi_mem_alloc(g, cap * sizeof *open);
    uint32_t *want = nbi_mem_alloc(g, cap * sizeof *want);
    if (!open || !want) {
        nbi_mem_free(g, open, cap * sizeof *open);
        nbi_mem_free(g, want, cap * sizeof *want);
        return nbi_report(g, NB_ERR_NOMEM, "model_write", 0, NULL, "out of memory");
    }
    fprintf(f, "# written by nabla %s; read it back with dtype %s\n", NB_VERSION_STRING,
            g->n_nodes && g->nodes[0]->dtype == NB_DTYPE_F32 ? "f32" : "f64");
    for (uint32_t id = 0; id < g->n_nodes; id++) {
        nb_node *v = g->nodes[id];
        if (v->flags & NBI_F_GRAD) {
            continue;
        }
        uint32_t n = chain_of(g, v->scope, want, cap), common = 0;
        while (common < depth && common < n && open[common] == want[common]) {
            common++;
        }
        while (depth > common) {
            depth--;
            fprintf(f, "%*s}\n", 2 * (int)depth, "");
        }
        while (depth < n) {
            fprintf(f, "%*sscope %s {\n", 2 * (int)depth, "", g->scopes[want[depth]].name);
            open[depth] = want[depth];
            depth++;
        }
        fprintf(f, "%*s", 2 * (int)depth, "");
        const char *name = nb_node_name(v);
        if (nbi_is_leaf(v)) {
            fprintf(f, "%s %s", v->op == NBI_OP_INPUT ? "input" : v->op == NBI_OP_PARAM ? "param" : "const",
                    name);
            if (v->rank > 0) {
                put_shape(f, v->rank, v->shape);
            }
            if (v->dtype == NB_DTYPE_I32) {
                fputs(" : i32", f);
            }
            fputs(" = ", f);
            put_literal(f, v);
        } else {
            fprintf(f, "%s = ", name);
            put_op(f, v);
        }
        fputc('\n', f);
    }
    while (depth > 0) {
        depth--;
        fprintf(f, "%*s}\n", 2 * (int)depth, "");
    }
    nbi_mem_free(g, open, cap * sizeof *open);
    nbi_mem_free(g, want, cap * sizeof *want);
    if (fflush(f) != 0 || ferror(f)) {
        return nbi_report(g, NB_ERR_IO, "model_write", 0, NULL, "writing the model failed");
    }
    return NB_OK;
}
