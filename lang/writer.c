/*
 * lang/writer.c: writes a graph's forward part in the model language, in id
 * order (a topological order), so that parsing the text rebuilds the same
 * nodes with the same names, shapes, attributes, scopes and leaf values.
 */
/* fmemopen for nb_node_expression */
#define _POSIX_C_SOURCE 200809L

#include "lang.h"

#include <math.h>
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

static void put_real(FILE *f, double x, bool f32)
{
    char buf[40];
    nbi_format_real(x, f32, buf, sizeof buf);
    fputs(buf, f);
}

static void put_number(FILE *f, const nb_node *n, size_t i)
{
    switch (n->dtype) {
    case NB_DTYPE_F32:
        put_real(f, (double)((const float *)n->data)[i], true);
        break;
    case NB_DTYPE_F64:
        put_real(f, ((const double *)n->data)[i], false);
        break;
    default:
        fprintf(f, "%d", (int)((const int32_t *)n->data)[i]);
    }
}

/* A leaf's values as a literal: a bare number for a scalar, nested lists otherwise. */
static void put_literal(FILE *f, const nb_node *n)
{
    nbi_put_nested(f, n, put_number);
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

/*
 * The generic call form: op(in0, in1, ..., attr=value, ...) with the
 * attributes that show. Every one is a keyword, flags too ("keepdims=true"):
 * the bare flag of DOT labels would be a positional argument after a keyword
 * one, which the parser refuses ("argmax(x, axis=1, keepdims)").
 */
static void put_call(FILE *f, nb_node *v)
{
    fprintf(f, "%s(", nbi_ops[v->op]->name);
    int k = 0;
    for (int i = 0; i < v->arity; i++, k++) {
        fprintf(f, "%s%s", k ? ", " : "", name_of(v->in[i]));
    }
    for (int a = 0; a < nbi_ops[v->op]->n_attrs; a++) {
        if (!nbi_attr_shown(v, a)) {
            continue;
        }
        char buf[160];
        if (nbi_ops[v->op]->attrs[a].kind == NBI_ATTR_BOOL) {
            snprintf(buf, sizeof buf, "%s=%s", nbi_ops[v->op]->attrs[a].name,
                     v->attr[a].i ? "true" : "false");
        } else {
            nbi_attr_format(v, a, buf, sizeof buf);
        }
        fprintf(f, "%s%s", k++ ? ", " : "", buf);
    }
    fputc(')', f);
}

/*
 * The reductions: one axis as before lists of axes ("sum(h, 1, keepdims)"),
 * several as a list ("sum(h, [0, 2], keepdims)"), then var's correction when
 * it is not 1. Every element is "sum(h)"; where that form does not read back
 * (max(h) never was one; a bare keepdims would be read as the axes) the
 * keyword does: "max(h, keepdims=false)", "sum(h, keepdims=true)". The
 * generic form would write "axes=[0, 2], keepdims", a flag after a keyword,
 * which the parser does not take.
 */
static void put_reduce(FILE *f, nb_node *v)
{
    const char *op = nbi_ops[v->op]->name;
    const nbi_attr *axes = &v->attr[0];
    bool keep = nbi_ops[v->op]->n_attrs > 1 && v->attr[1].i != 0;
    fprintf(f, "%s(%s", op, name_of(v->in[0]));
    if (axes->n == 0) {
        if (keep || v->op == NBI_OP_MAX) {
            fprintf(f, ", keepdims=%s", keep ? "true" : "false");
        }
    } else {
        if (axes->n == 1) {
            fprintf(f, ", %d", (int)axes->list[0]);
        } else {
            for (int i = 0; i < axes->n; i++) {
                fprintf(f, "%s%d", i ? ", " : ", [", (int)axes->list[i]);
            }
            fputc(']', f);
        }
        fputs(keep ? ", keepdims" : "", f);
    }
    if (v->op == NBI_OP_VAR && nbi_attr_shown(v, 2)) {
        char buf[64];
        nbi_attr_format(v, 2, buf, sizeof buf);
        fprintf(f, ", %s", buf);
    }
    fputc(')', f);
}

/* The forms the language had before keyword arguments, kept so old files read the same. */
static void put_op(FILE *f, nb_node *v)
{
    nb_node *a = v->arity > 0 ? v->in[0] : NULL, *b = v->arity > 1 ? v->in[1] : NULL;
    const char *op = nbi_ops[v->op]->name;
    int axis = v->attr ? (int)v->attr[0].i : 0;
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
        fprintf(f, "%s ** ", name_of(a));
        put_real(f, v->attr[0].f, false);
        break;
    case NBI_OP_MATMUL:
        if (!v->attr[0].i && !v->attr[1].i) {
            fprintf(f, "%s @ %s", name_of(a), name_of(b));
        } else {
            fprintf(f, "matmul(%s, %s%s%s)", name_of(a), name_of(b),
                    v->attr[0].i ? ", transpose_a" : "", v->attr[1].i ? ", transpose_b" : "");
        }
        break;
    case NBI_OP_SUM:
    case NBI_OP_MEAN:
    case NBI_OP_MAX:
    case NBI_OP_ARGMAX_MASK:
    case NBI_OP_MIN:
    case NBI_OP_LOGSUMEXP:
    case NBI_OP_VAR:
        put_reduce(f, v);
        break;
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
        fprintf(f, "one_hot(%s, %lld", name_of(a), (long long)v->shape[v->rank - 1]);
        /* only cross_entropy's gradient sets ignore: nb_node_expression shows it, no model has it */
        if (nbi_attr_shown(v, 0)) {
            fprintf(f, ", ignore=%lld", (long long)v->attr[0].i);
        }
        fputc(')', f);
        break;
    case NBI_OP_FILL:
        fputs("fill(", f);
        if (v->rank > 0) {
            put_shape(f, v->rank, v->shape);
            fputs(", ", f);
        }
        put_real(f, v->attr[0].f, false);
        fputc(')', f);
        break;
    default:
        put_call(f, v);
    }
}

/* True if every real attribute of v is finite (the language has no inf or nan literal). */
static bool finite_attrs(const nb_node *v, double *bad)
{
    for (int k = 0; k < nbi_ops[v->op]->n_attrs; k++) {
        /* a default is not written, so it may be infinite (clamp's open bounds) */
        if (nbi_ops[v->op]->attrs[k].kind == NBI_ATTR_FLOAT && !isfinite(v->attr[k].f) &&
            nbi_attr_shown(v, k)) {
            *bad = v->attr[k].f;
            return false;
        }
    }
    return true;
}

/*
 * The model's dtype, for the header line and the parser's option: that of the
 * first floating forward node (f64 when there is none). *mixed is set when
 * floating forward nodes of both dtypes exist: then every floating leaf is
 * written with its ": dtype", so the text reads back the same under either
 * option. i32 leaves always carry ": i32".
 */
static nb_dtype model_dtype(const nb_graph *g, bool *mixed)
{
    int first = -1;
    *mixed = false;
    for (uint32_t id = 0; id < g->n_nodes; id++) {
        const nb_node *v = g->nodes[id];
        if (!(v->flags & NBI_F_GRAD) && v->dtype != NB_DTYPE_I32) {
            if (first < 0) {
                first = v->dtype;
            } else if (v->dtype != first) {
                *mixed = true;
            }
        }
    }
    return first < 0 ? NB_DTYPE_F64 : (nb_dtype)first;
}

/* True if every value of leaf v is finite (the language has no inf or nan literal). */
static bool finite_values(const nb_node *v, double *bad)
{
    size_t count = nbi_node_count(v);
    for (size_t i = 0; i < count; i++) {
        double x = v->dtype == NB_DTYPE_F32   ? (double)((const float *)v->data)[i]
                   : v->dtype == NB_DTYPE_F64 ? ((const double *)v->data)[i]
                                              : 0;
        if (!isfinite(x)) {
            *bad = x;
            return false;
        }
    }
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks every forward node's name and inputs before anything is written. */
static nb_status check(nb_graph *g, nb_dtype dtype)
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
        const char *name = nbi_node_name_stored(v); /* never the op-name fallback */
        if (!name) {
            s = nbi_report(g, NB_ERR_NOMEM, "model_write", 0, NULL, "out of memory");
            break;
        }
        if (!nbl_is_name(name, strlen(name)) || nbl_reserved(name, strlen(name))) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 1, &v,
                           "the name '%s' is not a name the model language accepts", name);
        }
        for (int i = 0; i < v->arity && s == NB_OK; i++) {
            if (v->in[i]->flags & NBI_F_GRAD) {
                nb_node *in[2] = { v, v->in[i] };
                s = nbi_report(g, NB_ERR_ARG, "model_write", 2, in,
                               "%s uses the gradient node %s; only forward graphs can be written",
                               name, nb_node_name(v->in[i]));
            }
        }
        double bad = 0;
        if (s == NB_OK && nbi_is_leaf(v) && !finite_values(v, &bad)) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 1, &v,
                           "%s holds %g; the model language has no literal for it", name, bad);
        }
        if (s == NB_OK && !finite_attrs(v, &bad)) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 1, &v,
                           "%s has the constant %g; the model language has no literal for it", name,
                           bad);
        }
        if (s == NB_OK && (v->op == NBI_OP_FILL || v->op == NBI_OP_ONE_HOT) && v->dtype != dtype) {
            s = nbi_report(g, NB_ERR_ARG, "model_write", 1, &v,
                           "%s is %s but the model is %s; the language builds %s in the model's "
                           "dtype",
                           name, nb_dtype_name((nb_dtype)v->dtype), nb_dtype_name(dtype),
                           nbi_ops[v->op]->name);
        }
        names[n++] = name;
    }
    for (uint32_t sc = 1; sc < g->n_scopes && s == NB_OK; sc++) {
        const char *name = g->scopes[sc].name;
        if (strncmp(name, "grad:", 5) != 0 && !nbl_is_scope_name(name, strlen(name))) {
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

/* Two spaces a level, up to 32 levels: deeper nesting must not make the text quadratic. */
static int indent(uint32_t depth)
{
    return 2 * (int)(depth < 32 ? depth : 32);
}

nb_status nb_model_write(nb_graph *g, FILE *f)
{
    if (!g || !f) {
        return g ? nbi_report(g, NB_ERR_ARG, "model_write", 0, NULL, "the file is NULL")
                 : NB_ERR_ARG;
    }
    if (g->status != NB_OK) {
        return g->status;
    }
    g->run_err[0] = '\0';
    bool mixed;
    nb_dtype dtype = model_dtype(g, &mixed);
    nb_status s = check(g, dtype);
    if (s != NB_OK) {
        return s;
    }
    /*
     * The open scope chain as a stack of scope ids, pos[s] = 1 + the place of
     * scope s on it (0: not open), and the scopes a node needs opened. Moving
     * to a node's scope walks up only from the scopes it opens, so the cost is
     * the number of scopes written, however deep they nest.
     */
    uint32_t cap = g->n_scopes ? g->n_scopes : 1, depth = 0;
    uint32_t *open = nbi_mem_alloc(g, cap * sizeof *open);
    uint32_t *fresh = nbi_mem_alloc(g, cap * sizeof *fresh);
    uint32_t *pos = nbi_mem_alloc(g, cap * sizeof *pos);
    if (!open || !fresh || !pos) {
        nbi_mem_free(g, open, cap * sizeof *open);
        nbi_mem_free(g, fresh, cap * sizeof *fresh);
        nbi_mem_free(g, pos, cap * sizeof *pos);
        return nbi_report(g, NB_ERR_NOMEM, "model_write", 0, NULL, "out of memory");
    }
    memset(pos, 0, cap * sizeof *pos);
    fprintf(f, "# written by nabla %s; read it back with dtype %s\n", NB_VERSION_STRING,
            nb_dtype_name(dtype));
    for (uint32_t id = 0; id < g->n_nodes; id++) {
        nb_node *v = g->nodes[id];
        if (v->flags & NBI_F_GRAD) {
            continue;
        }
        uint32_t sc = v->scope, n = 0;
        while (sc != 0 && pos[sc] == 0) {
            fresh[n++] = sc;
            sc = g->scopes[sc].parent;
        }
        uint32_t keep = sc != 0 ? pos[sc] : 0; /* open[0 .. keep-1] stay open */
        while (depth > keep) {
            pos[open[--depth]] = 0;
            fprintf(f, "%*s}\n", indent(depth), "");
        }
        while (n > 0) {
            sc = fresh[--n];
            fprintf(f, "%*sscope %s {\n", indent(depth), "", g->scopes[sc].name);
            open[depth++] = sc;
            pos[sc] = depth;
        }
        fprintf(f, "%*s", indent(depth), "");
        const char *name = nb_node_name(v);
        if (nbi_is_leaf(v)) {
            fprintf(f, "%s %s",
                    v->op == NBI_OP_INPUT   ? "input"
                    : v->op == NBI_OP_PARAM ? "param"
                    : v->op == NBI_OP_STATE ? "state"
                                            : "const",
                    name);
            if (v->rank > 0) {
                put_shape(f, v->rank, v->shape);
            }
            if (v->dtype != dtype || mixed) {
                fprintf(f, " : %s", nb_dtype_name((nb_dtype)v->dtype));
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
        fprintf(f, "%*s}\n", indent(depth), "");
    }
    nbi_mem_free(g, open, cap * sizeof *open);
    nbi_mem_free(g, fresh, cap * sizeof *fresh);
    nbi_mem_free(g, pos, cap * sizeof *pos);
    if (fflush(f) != 0 || ferror(f)) {
        return nbi_report(g, NB_ERR_IO, "model_write", 0, NULL, "writing the model failed");
    }
    return NB_OK;
}

size_t nb_node_expression(nb_node *n, char *buf, size_t cap)
{
    if (!buf || cap == 0) {
        return 0;
    }
    buf[0] = '\0';
    if (!n || nbi_is_leaf(n)) {
        return 0;
    }
    FILE *f = fmemopen(buf, cap, "w");
    if (!f) {
        return 0;
    }
    put_op(f, n);
    fclose(f); /* writes the terminating NUL, truncating to cap - 1 */
    buf[cap - 1] = '\0';
    return strlen(buf);
}
