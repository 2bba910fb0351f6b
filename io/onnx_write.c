/*
 * io/onnx_write.c: nb_onnx_write, a graph (and its gradient nodes, which are
 * ordinary nodes) as an ONNX model of standard ops at opset 17. Inputs become
 * graph inputs, parameters and state nodes initializers, constants Constant
 * nodes; each nabla op becomes one standard op or a small fixed subgraph
 * (map_node below; docs/onnx.md has the table). Value names are the nodes'
 * names with their scope path as a prefix ("layer1/h"); the scope path is
 * also each ONNX node's doc_string. The file is written atomically.
 */
#include "onnx_common.h"

#include "../ops/op.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

typedef struct ow {
    nb_graph *g;
    nbi_oarena a;
    bool training;
    char **names; /* per node id: its value name, NULL when not exported */
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    Onnx__ValueInfoProto **inputs;
    size_t n_inputs, cap_inputs;
    int tmp;            /* counter of temporary value names */
    const char *doc;    /* doc_string of the nodes being emitted: the scope path */
    const nb_node *cur; /* the node being mapped, for messages */
    bool failed;        /* an error has been reported */
} ow;

static bool grow(ow *w, void ***arr, size_t *n, size_t *cap)
{
    if (*n < *cap) {
        return true;
    }
    size_t c = *cap ? 2 * *cap : 64;
    void **p = realloc(*arr, c * sizeof *p);
    if (!p) {
        w->a.oom = true;
        return false;
    }
    *arr = p;
    *cap = c;
    return true;
}

static int onnx_dtype(nb_dtype d)
{
    switch (d) {
    case NB_DTYPE_F32:
        return NBI_ONNX_FLOAT;
    case NB_DTYPE_F64:
        return NBI_ONNX_DOUBLE;
    default:
        return NBI_ONNX_INT32;
    }
}

/* A fresh value name derived from the node being mapped: "layer1/h.t3". */
static const char *tmp(ow *w)
{
    char buf[600];
    const char *base = w->cur ? w->names[w->cur->id] : "c";
    snprintf(buf, sizeof buf, "%s.t%d", base ? base : "c", ++w->tmp);
    return nbi_ostrdup(&w->a, buf);
}

/* Emits node op_type(in...) -> out... and returns it for attributes. */
static Onnx__NodeProto *emit(ow *w, const char *op_type, int nin, const char *const *in, int nout,
                             const char *const *out)
{
    Onnx__NodeProto *n = nbi_oalloc(&w->a, sizeof *n);
    char **i = nbi_oalloc(&w->a, (size_t)(nin + 1) * sizeof *i);
    char **o = nbi_oalloc(&w->a, (size_t)(nout + 1) * sizeof *o);
    if (!n || !i || !o || !grow(w, (void ***)&w->nodes, &w->n_nodes, &w->cap_nodes)) {
        return NULL;
    }
    onnx__node_proto__init(n);
    for (int k = 0; k < nin; k++) {
        i[k] = (char *)in[k];
    }
    for (int k = 0; k < nout; k++) {
        o[k] = (char *)out[k];
    }
    n->n_input = (size_t)nin;
    n->input = i;
    n->n_output = (size_t)nout;
    n->output = o;
    n->op_type = (char *)op_type;
    n->name = (char *)out[0];
    n->doc_string = (char *)w->doc;
    w->nodes[w->n_nodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(ow *w, Onnx__NodeProto *n, const char *name)
{
    if (!n) {
        return NULL;
    }
    Onnx__AttributeProto **list = nbi_oalloc(&w->a, (n->n_attribute + 1) * sizeof *list);
    Onnx__AttributeProto *a = nbi_oalloc(&w->a, sizeof *a);
    if (!list || !a) {
        return NULL;
    }
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    if (n->n_attribute) {
        nbi_ocopy(list, n->attribute, n->n_attribute * sizeof *list);
    }
    list[n->n_attribute++] = a;
    n->attribute = list;
    return a;
}

static void attr_i(ow *w, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(w, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = v;
    }
}

static void attr_f(ow *w, Onnx__NodeProto *n, const char *name, double v)
{
    Onnx__AttributeProto *a = attr(w, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = (float)v;
    }
}

static void attr_s(ow *w, Onnx__NodeProto *n, const char *name, const char *s)
{
    Onnx__AttributeProto *a = attr(w, n, name);
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        a->has_s = 1;
        a->s.data = (uint8_t *)s;
        a->s.len = strlen(s);
    }
}

static void attr_ints(ow *w, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(w, n, name);
    int64_t *c = nbi_oalloc(&w->a, (size_t)(cnt + 1) * sizeof *c);
    if (a && c) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        nbi_ocopy(c, v, (size_t)cnt * sizeof *c);
        a->n_ints = (size_t)cnt;
        a->ints = c;
    }
}

/* A tensor of dtype code dt with rank dims and count elements of es bytes copied from data. */
static Onnx__TensorProto *tensor(ow *w, const char *name, int dt, int rank, const int64_t *shape,
                                 const void *data, size_t bytes)
{
    Onnx__TensorProto *t = nbi_oalloc(&w->a, sizeof *t);
    int64_t *dims = nbi_oalloc(&w->a, (size_t)(rank + 1) * sizeof *dims);
    uint8_t *raw = nbi_oalloc(&w->a, bytes);
    if (!t || !dims || !raw) {
        return NULL;
    }
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = dt;
    nbi_ocopy(dims, shape, (size_t)rank * sizeof *dims);
    t->n_dims = (size_t)rank;
    t->dims = dims;
    if (bytes) {
        nbi_ocopy(raw, data, bytes);
    }
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = bytes;
    return t;
}

static const char *add_init(ow *w, Onnx__TensorProto *t)
{
    if (!t || !grow(w, (void ***)&w->inits, &w->n_inits, &w->cap_inits)) {
        return "";
    }
    w->inits[w->n_inits++] = t;
    return t->name;
}

/* A Constant node of tensor t, named as t: the file's own constants are nodes, so that
   only parameters and state are initializers (which importers make trainable). */
static const char *constant(ow *w, Onnx__TensorProto *t)
{
    if (!t) {
        return "";
    }
    const char *y = t->name;
    Onnx__NodeProto *c = emit(w, "Constant", 0, NULL, 1, &y);
    Onnx__AttributeProto *a = attr(w, c, "value");
    if (a) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
        a->t = t;
    }
    return y;
}

/* A Constant of dtype d (or int64 when i64) from doubles. */
static const char *cst(ow *w, nb_dtype d, bool i64, int rank, const int64_t *shape, const double *v)
{
    size_t cnt = 1;
    for (int k = 0; k < rank; k++) {
        cnt *= (size_t)shape[k];
    }
    size_t es = i64 ? 8 : nb_dtype_size(d);
    unsigned char *buf = malloc(cnt * es + 1);
    if (!buf) {
        w->a.oom = true;
        return "";
    }
    for (size_t k = 0; k < cnt; k++) {
        if (i64) {
            int64_t x = (int64_t)v[k];
            memcpy(buf + k * 8, &x, 8);
        } else if (d == NB_DTYPE_F32) {
            float x = (float)v[k];
            memcpy(buf + k * 4, &x, 4);
        } else if (d == NB_DTYPE_F64) {
            memcpy(buf + k * 8, &v[k], 8);
        } else {
            int32_t x = (int32_t)v[k];
            memcpy(buf + k * 4, &x, 4);
        }
    }
    const char *name = tmp(w);
    const char *r = constant(
        w, tensor(w, name, i64 ? NBI_ONNX_INT64 : onnx_dtype(d), rank, shape, buf, cnt * es));
    free(buf);
    return r;
}

static const char *scalar(ow *w, nb_dtype d, double v)
{
    return cst(w, d, false, 0, NULL, &v);
}

/* A 1-D int64 initializer. */
static const char *ints(ow *w, int cnt, const int64_t *v)
{
    double dv[NB_MAX_RANK * 2 + 2] = { 0 };
    for (int k = 0; k < cnt; k++) {
        dv[k] = (double)v[k];
    }
    int64_t shape = cnt;
    return cst(w, NB_DTYPE_F64, true, 1, &shape, dv);
}

static const char *shape_of(ow *w, const nb_node *n)
{
    return ints(w, n->rank, n->shape);
}

/* One-input, one-output helpers: "out" NULL makes a temporary. */
static const char *op1(ow *w, const char *op, const char *x, const char *out)
{
    out = out ? out : tmp(w);
    emit(w, op, 1, &x, 1, &out);
    return out;
}

static const char *op2(ow *w, const char *op, const char *a, const char *b, const char *out)
{
    out = out ? out : tmp(w);
    const char *in[2] = { a, b };
    emit(w, op, 2, in, 1, &out);
    return out;
}

static const char *cast(ow *w, const char *x, int to, const char *out)
{
    out = out ? out : tmp(w);
    Onnx__NodeProto *n = emit(w, "Cast", 1, &x, 1, &out);
    attr_i(w, n, "to", to);
    return out;
}

/* Reduce op over axes (none: all), as opset 17 spells each (ReduceSum takes axes as an input). */
static const char *reduce(ow *w, const char *op, const char *x, int nax, const int64_t *axes,
                          bool keep, const char *out)
{
    out = out ? out : tmp(w);
    Onnx__NodeProto *n;
    if (strcmp(op, "ReduceSum") == 0 && nax > 0) {
        const char *in[2] = { x, ints(w, nax, axes) };
        n = emit(w, op, 2, in, 1, &out);
    } else {
        n = emit(w, op, 1, &x, 1, &out);
        if (nax > 0) {
            attr_ints(w, n, "axes", nax, axes);
        }
    }
    attr_i(w, n, "keepdims", keep);
    return out;
}

static const char *reshape(ow *w, const char *x, int rank, const int64_t *shape, const char *out)
{
    return op2(w, "Reshape", x, ints(w, rank, shape), out);
}

static const char *transpose(ow *w, const char *x, int rank, const int64_t *perm, const char *out)
{
    out = out ? out : tmp(w);
    Onnx__NodeProto *n = emit(w, "Transpose", 1, &x, 1, &out);
    attr_ints(w, n, "perm", rank, perm);
    return out;
}

/* The perm that swaps the last two of rank axes. */
static const char *swap_last(ow *w, const char *x, int rank)
{
    int64_t perm[NB_MAX_RANK];
    for (int k = 0; k < rank; k++) {
        perm[k] = k;
    }
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return transpose(w, x, rank, perm, NULL);
}

static bool fail(ow *w, const char *fmt, const char *detail)
{
    if (!w->failed) {
        char s[96];
        nbi_format_shape(w->cur->rank, w->cur->shape, s, sizeof s);
        nbi_report(w->g, NB_ERR_ARG, "onnx_write", 0, NULL, fmt, nbi_ops[w->cur->op]->name,
                   w->names[w->cur->id], s, detail);
        w->failed = true;
    }
    return false;
}

/* The reduced axes of a node's "axes" list (attribute 0); none means all. */
static int axes_of(const nb_node *n, const nb_node *x, int64_t *axes)
{
    const nbi_attr *a = &n->attr[0];
    if (a->n == 0) {
        for (int k = 0; k < x->rank; k++) {
            axes[k] = k;
        }
        return x->rank;
    }
    for (int k = 0; k < a->n; k++) {
        axes[k] = a->list[k] < 0 ? a->list[k] + x->rank : a->list[k];
    }
    return a->n;
}

/* Entry d of a spatial list attribute: empty gives def, one entry serves every axis. */
static int64_t list_at(const nbi_attr *a, int d, int64_t def)
{
    if (a->n == 0) {
        return def;
    }
    return a->n == 1 ? a->list[0] : a->list[d];
}

/* The one-hot rows of labels (i32) over classes in dtype d, all zero where labels == ignore. */
static const char *one_hot(ow *w, const nb_node *labels, int64_t classes, int64_t ignore,
                           bool has_ignore, nb_dtype d, const char *out)
{
    double *r = malloc((size_t)classes * sizeof *r);
    if (!r) {
        w->a.oom = true;
        return "";
    }
    for (int64_t k = 0; k < classes; k++) {
        r[k] = (double)k;
    }
    const char *range = cst(w, NB_DTYPE_I32, false, 1, &classes, r);
    free(r);
    int64_t ax = -1;
    const char *lab = w->names[labels->id];
    const char *u = op2(w, "Unsqueeze", lab, ints(w, 1, &ax), NULL);
    const char *eq = op2(w, "Equal", u, range, NULL);
    if (has_ignore && ignore >= 0 && ignore < classes) {
        const char *keep =
            op1(w, "Not", op2(w, "Equal", u, scalar(w, NB_DTYPE_I32, (double)ignore), NULL), NULL);
        eq = op2(w, "And", eq, keep, NULL);
    }
    return cast(w, eq, onnx_dtype(d), out);
}

/* Spatial attributes of a conv or pool node in ONNX's form. */
typedef struct spatial {
    int nsp;
    int64_t k[2], s[2], p[4], d[2], op[2];
} spatial;

/* Maps node n (its inputs already mapped) to ONNX nodes whose last output is its value. */
static bool map_node(ow *w, nb_node *n)
{
    const char *y = w->names[n->id];
    const char *x[8] = { 0 }; /* the inputs' names; concat, the one op with more, reads its own */
    for (int k = 0; k < n->arity && k < 8; k++) {
        x[k] = w->names[n->in[k]->id];
    }
    nb_node *a = n->arity > 0 ? n->in[0] : NULL;
    nb_dtype dt = (nb_dtype)n->dtype;
    const nbi_attr *at = n->attr;
    int64_t axes[NB_MAX_RANK];
    Onnx__NodeProto *o;
    switch ((nbi_op_id)n->op) {
    case NBI_OP_INPUT:
    case NBI_OP_PARAM:
    case NBI_OP_CONST:
    case NBI_OP_STATE:
    case NBI_OP_FILL:
    case NBI_OP_COUNT:
        return true; /* leaves are written before the ops */
    case NBI_OP_ADD:
        op2(w, "Add", x[0], x[1], y);
        return true;
    case NBI_OP_SUB:
        op2(w, "Sub", x[0], x[1], y);
        return true;
    case NBI_OP_MUL:
        op2(w, "Mul", x[0], x[1], y);
        return true;
    case NBI_OP_DIV:
        op2(w, "Div", x[0], x[1], y);
        return true;
    case NBI_OP_NEG:
        op1(w, "Neg", x[0], y);
        return true;
    case NBI_OP_EXP:
        op1(w, "Exp", x[0], y);
        return true;
    case NBI_OP_LOG:
        op1(w, "Log", x[0], y);
        return true;
    case NBI_OP_SQRT:
        op1(w, "Sqrt", x[0], y);
        return true;
    case NBI_OP_ABS:
        op1(w, "Abs", x[0], y);
        return true;
    case NBI_OP_TANH:
        op1(w, "Tanh", x[0], y);
        return true;
    case NBI_OP_SIGMOID:
        op1(w, "Sigmoid", x[0], y);
        return true;
    case NBI_OP_RELU:
        op1(w, "Relu", x[0], y);
        return true;
    case NBI_OP_SIGN:
        op1(w, "Sign", x[0], y);
        return true;
    case NBI_OP_ERF:
        op1(w, "Erf", x[0], y);
        return true;
    case NBI_OP_STOP_GRADIENT:
        op1(w, "Identity", x[0], y);
        return true;
    case NBI_OP_SIGMOID_GRAD: { /* dy * y * (1 - y) */
        const char *one_minus = op2(w, "Sub", scalar(w, dt, 1), x[0], NULL);
        op2(w, "Mul", x[1], op2(w, "Mul", x[0], one_minus, NULL), y);
        return true;
    }
    case NBI_OP_TANH_GRAD: { /* dy * (1 - y²) */
        const char *sq = op2(w, "Mul", x[0], x[0], NULL);
        op2(w, "Mul", x[1], op2(w, "Sub", scalar(w, dt, 1), sq, NULL), y);
        return true;
    }
    case NBI_OP_RELU_GRAD: { /* dy where y > 0, else 0 */
        const char *pos = op2(w, "Greater", x[0], scalar(w, dt, 0), NULL);
        const char *in[3] = { pos, x[1], scalar(w, dt, 0) };
        emit(w, "Where", 3, in, 1, &y);
        return true;
    }
    case NBI_OP_STEP:
        cast(w, op2(w, "Greater", x[0], scalar(w, dt, 0), NULL), onnx_dtype(dt), y);
        return true;
    case NBI_OP_POW:
        op2(w, "Pow", x[0], scalar(w, dt, at[0].f), y);
        return true;
    case NBI_OP_SUM:
    case NBI_OP_MEAN:
    case NBI_OP_MAX:
    case NBI_OP_MIN:
    case NBI_OP_LOGSUMEXP: {
        static const char *const names[] = { [NBI_OP_SUM] = "ReduceSum",
                                             [NBI_OP_MEAN] = "ReduceMean",
                                             [NBI_OP_MAX] = "ReduceMax",
                                             [NBI_OP_MIN] = "ReduceMin",
                                             [NBI_OP_LOGSUMEXP] = "ReduceLogSumExp" };
        int nax = axes_of(n, a, axes);
        if (nax == 0) {
            op1(w, "Identity", x[0], y);
        } else {
            reduce(w, names[n->op], x[0], nax, axes, at[1].i != 0, y);
        }
        return true;
    }
    case NBI_OP_VAR: { /* Σ (x - mean x)² / max(0, N - correction) */
        int nax = axes_of(n, a, axes);
        double cnt = 1;
        for (int k = 0; k < nax; k++) {
            cnt *= (double)a->shape[axes[k]];
        }
        const char *m = reduce(w, "ReduceMean", x[0], nax, axes, true, NULL);
        const char *d = op2(w, "Sub", x[0], m, NULL);
        const char *s =
            reduce(w, "ReduceSum", op2(w, "Mul", d, d, NULL), nax, axes, at[1].i != 0, NULL);
        op2(w, "Div", s, scalar(w, dt, fmax(0.0, cnt - at[2].f)), y);
        return true;
    }
    case NBI_OP_ARGMAX_MASK: { /* one-hot of the first maximum over the axes, flattened last */
        int nax = axes_of(n, a, axes);
        int r = a->rank;
        bool red[NB_MAX_RANK] = { 0 };
        for (int k = 0; k < nax; k++) {
            red[axes[k]] = true;
        }
        int64_t perm[NB_MAX_RANK], inv[NB_MAX_RANK], flat[NB_MAX_RANK + 1], tshape[NB_MAX_RANK];
        int p = 0, nf = 0;
        int64_t kk = 1;
        for (int k = 0; k < r; k++) {
            if (!red[k]) {
                perm[p++] = k;
                flat[nf++] = a->shape[k];
            }
        }
        for (int k = 0; k < r; k++) {
            if (red[k]) {
                perm[p++] = k;
                kk *= a->shape[k];
            }
        }
        for (int k = 0; k < r; k++) {
            inv[perm[k]] = k;
            tshape[k] = a->shape[perm[k]];
        }
        if (nf == 0) {
            flat[nf++] = 1; /* OneHot takes indices of rank 1 at least */
        }
        flat[nf++] = kk;
        const char *t = transpose(w, x[0], r, perm, NULL);
        t = reshape(w, t, nf, flat, NULL);
        o = emit(w, "ArgMax", 1, &t, 1, (const char *[]){ tmp(w) });
        attr_i(w, o, "axis", -1);
        attr_i(w, o, "keepdims", 0);
        const char *idx = o ? o->output[0] : "";
        const char *depth = ints(w, 1, &kk);
        const char *vals = cst(w, dt, false, 1, (int64_t[]){ 2 }, (double[]){ 0, 1 });
        const char *in[3] = { idx, depth, vals };
        const char *oh = tmp(w);
        o = emit(w, "OneHot", 3, in, 1, &oh);
        attr_i(w, o, "axis", -1);
        t = reshape(w, oh, r, tshape, NULL);
        transpose(w, t, r, inv, y);
        return true;
    }
    case NBI_OP_MATMUL: {
        const char *l = x[0], *r = x[1];
        if (at[0].i) {
            l = swap_last(w, l, n->in[0]->rank);
        }
        if (at[1].i) {
            r = swap_last(w, r, n->in[1]->rank);
        }
        op2(w, "MatMul", l, r, y);
        return true;
    }
    case NBI_OP_TRANSPOSE: {
        int64_t perm[NB_MAX_RANK];
        for (int k = 0; k < a->rank; k++) {
            perm[k] = k;
        }
        if (a->rank >= 2) {
            perm[a->rank - 2] = a->rank - 1;
            perm[a->rank - 1] = a->rank - 2;
        }
        transpose(w, x[0], a->rank, perm, y);
        return true;
    }
    case NBI_OP_RESHAPE:
        op2(w, "Reshape", x[0], shape_of(w, n), y);
        return true;
    case NBI_OP_BROADCAST_TO:
        op2(w, "Expand", x[0], shape_of(w, n), y);
        return true;
    case NBI_OP_SUM_TO: { /* ReduceSum over the broadcast axes, then the target shape */
        int lead = a->rank - n->rank, nax = 0;
        for (int k = 0; k < a->rank; k++) {
            if (k < lead || (n->shape[k - lead] == 1 && a->shape[k] != 1)) {
                axes[nax++] = k;
            }
        }
        const char *s = nax ? reduce(w, "ReduceSum", x[0], nax, axes, true, NULL) : x[0];
        op2(w, "Reshape", s, shape_of(w, n), y);
        return true;
    }
    case NBI_OP_SOFTMAX:
    case NBI_OP_LOG_SOFTMAX:
        o = emit(w, n->op == NBI_OP_SOFTMAX ? "Softmax" : "LogSoftmax", 1, x, 1, &y);
        attr_i(w, o, "axis", at[0].i);
        return true;
    case NBI_OP_ONE_HOT:
        one_hot(w, a, n->shape[n->rank - 1], at[0].i, at[0].i != (int64_t)(-2147483649.0), dt, y);
        return true;
    case NBI_OP_CROSS_ENTROPY: { /* -Σ_i log_softmax(z)_i,label_i / N (N: rows kept) */
        nb_node *z = a, *lab = n->in[1];
        bool has_ignore = at[0].i != (int64_t)(-2147483649.0);
        const char *ls = emit(w, "LogSoftmax", 1, x, 1, (const char *[]){ tmp(w) })
                             ? w->nodes[w->n_nodes - 1]->output[0]
                             : "";
        attr_i(w, w->nodes[w->n_nodes - 1], "axis", -1);
        const char *oh = one_hot(w, lab, z->shape[z->rank - 1], at[0].i, has_ignore, dt, NULL);
        const char *picked =
            reduce(w, "ReduceSum", op2(w, "Mul", ls, oh, NULL), 0, NULL, false, NULL);
        const char *cnt;
        if (has_ignore) {
            const char *keep =
                op1(w, "Not", op2(w, "Equal", x[1], scalar(w, NB_DTYPE_I32, (double)at[0].i), NULL),
                    NULL);
            cnt = reduce(w, "ReduceSum", cast(w, keep, onnx_dtype(dt), NULL), 0, NULL, false, NULL);
        } else {
            cnt = scalar(w, dt, (double)nb_node_size(lab));
        }
        op1(w, "Neg", op2(w, "Div", picked, cnt, NULL), y);
        return true;
    }
    case NBI_OP_BCE_LOGITS: { /* mean(max(z,0) - z t + log(1 + e^-|z|)) */
        const char *e = op1(w, "Exp", op1(w, "Neg", op1(w, "Abs", x[0], NULL), NULL), NULL);
        const char *l = op1(w, "Log", op2(w, "Add", scalar(w, dt, 1), e, NULL), NULL);
        const char *s =
            op2(w, "Sub", op1(w, "Relu", x[0], NULL), op2(w, "Mul", x[0], x[1], NULL), NULL);
        reduce(w, "ReduceMean", op2(w, "Add", s, l, NULL), 0, NULL, false, y);
        return true;
    }
    case NBI_OP_MSE: {
        const char *d = op2(w, "Sub", x[0], x[1], NULL);
        reduce(w, "ReduceMean", op2(w, "Mul", d, d, NULL), 0, NULL, false, y);
        return true;
    }
    case NBI_OP_BATCH_NORM: {
        if (!w->training) {
            o = emit(w, "BatchNormalization", 5, x, 1, &y);
            attr_f(w, o, "epsilon", at[1].f);
            attr_f(w, o, "momentum", 1 - at[0].f);
            return true;
        }
        /* training: the batch's statistics (running ones are not updated in ONNX) */
        int nax = 0;
        int64_t cshape[NB_MAX_RANK];
        for (int k = 0; k < a->rank; k++) {
            cshape[k] = k == 1 ? a->shape[1] : 1;
            if (k != 1) {
                axes[nax++] = k;
            }
        }
        const char *m = reduce(w, "ReduceMean", x[0], nax, axes, true, NULL);
        const char *d = op2(w, "Sub", x[0], m, NULL);
        const char *v = reduce(w, "ReduceMean", op2(w, "Mul", d, d, NULL), nax, axes, true, NULL);
        const char *sd = op1(w, "Sqrt", op2(w, "Add", v, scalar(w, dt, at[1].f), NULL), NULL);
        const char *xh = op2(w, "Div", d, sd, NULL);
        const char *sc = reshape(w, x[1], a->rank, cshape, NULL);
        const char *bi = reshape(w, x[2], a->rank, cshape, NULL);
        op2(w, "Add", op2(w, "Mul", xh, sc, NULL), bi, y);
        return true;
    }
    case NBI_OP_MODE_SELECT:
        op1(w, "Identity", w->training ? x[0] : x[1], y);
        return true;
    case NBI_OP_LEAKY_RELU:
        o = emit(w, "LeakyRelu", 1, x, 1, &y);
        attr_f(w, o, "alpha", at[0].f);
        return true;
    case NBI_OP_ELU:
        o = emit(w, "Elu", 1, x, 1, &y);
        attr_f(w, o, "alpha", at[0].f);
        return true;
    case NBI_OP_GELU: { /* x/2 (1 + erf(x/√2)) */
        const char *e = op1(w, "Erf", op2(w, "Div", x[0], scalar(w, dt, sqrt(2.0)), NULL), NULL);
        const char *h = op2(w, "Mul", x[0], scalar(w, dt, 0.5), NULL);
        op2(w, "Mul", h, op2(w, "Add", e, scalar(w, dt, 1), NULL), y);
        return true;
    }
    case NBI_OP_GELU_TANH: { /* x/2 (1 + tanh(√(2/π) (x + 0.044715 x³))) */
        const char *c = op2(w, "Mul", op2(w, "Mul", op2(w, "Mul", x[0], x[0], NULL), x[0], NULL),
                            scalar(w, dt, 0.044715), NULL);
        const char *in = op2(w, "Mul", op2(w, "Add", x[0], c, NULL),
                             scalar(w, dt, sqrt(2.0 / 3.14159265358979323846)), NULL);
        const char *t = op2(w, "Add", op1(w, "Tanh", in, NULL), scalar(w, dt, 1), NULL);
        op2(w, "Mul", op2(w, "Mul", x[0], scalar(w, dt, 0.5), NULL), t, y);
        return true;
    }
    case NBI_OP_SOFTPLUS:
        op1(w, "Softplus", x[0], y);
        return true;
    case NBI_OP_SILU:
        op2(w, "Mul", x[0], op1(w, "Sigmoid", x[0], NULL), y);
        return true;
    case NBI_OP_LOG1P: { /* Kahan: log(u) x / (u - 1), u = 1 + x, and x where u == 1 (ONNX has no Log1p) */
        const char *u = op2(w, "Add", x[0], scalar(w, dt, 1), NULL);
        const char *d = op2(w, "Sub", u, scalar(w, dt, 1), NULL);
        const char *one = op2(w, "Equal", d, scalar(w, dt, 0), NULL);
        const char *in[3] = { one, scalar(w, dt, 1), d };
        const char *safe = tmp(w);
        emit(w, "Where", 3, in, 1, &safe);
        const char *r =
            op2(w, "Mul", op1(w, "Log", u, NULL), op2(w, "Div", x[0], safe, NULL), NULL);
        const char *in2[3] = { one, x[0], r };
        emit(w, "Where", 3, in2, 1, &y);
        return true;
    }
    case NBI_OP_CLAMP: {
        const char *in[3] = { x[0], isinf(at[0].f) && at[0].f < 0 ? "" : scalar(w, dt, at[0].f),
                              isinf(at[1].f) && at[1].f > 0 ? "" : scalar(w, dt, at[1].f) };
        emit(w, "Clip", 3, in, 1, &y);
        return true;
    }
    case NBI_OP_MAXIMUM:
        op2(w, "Max", x[0], x[1], y);
        return true;
    case NBI_OP_MINIMUM:
        op2(w, "Min", x[0], x[1], y);
        return true;
    case NBI_OP_WHERE: {
        const char *in[3] = { cast(w, x[0], NBI_ONNX_BOOL, NULL), x[1], x[2] };
        emit(w, "Where", 3, in, 1, &y);
        return true;
    }
    case NBI_OP_GREATER:
    case NBI_OP_LESS:
    case NBI_OP_EQUAL: {
        const char *op = n->op == NBI_OP_GREATER ? "Greater"
                         : n->op == NBI_OP_LESS  ? "Less"
                                                 : "Equal";
        cast(w, op2(w, op, x[0], x[1], NULL), onnx_dtype(dt), y);
        return true;
    }
    case NBI_OP_CONCAT: { /* any number of inputs: x[] holds only the first 8 names */
        const char **all = nbi_oalloc(&w->a, (size_t)n->arity * sizeof *all);
        if (!all) {
            return false;
        }
        for (int k = 0; k < n->arity; k++) {
            all[k] = w->names[n->in[k]->id];
        }
        o = emit(w, "Concat", n->arity, all, 1, &y);
        attr_i(w, o, "axis", at[0].i);
        return true;
    }
    case NBI_OP_SLICE: {
        int64_t ax = at[0].i < 0 ? at[0].i + a->rank : at[0].i;
        int64_t st = at[1].i, sp = at[2].i, step = at[3].i;
        if (sp > a->shape[ax]) {
            sp = a->shape[ax];
        }
        const char *in[5] = { x[0], ints(w, 1, &st), ints(w, 1, &sp), ints(w, 1, &ax),
                              ints(w, 1, &step) };
        emit(w, "Slice", 5, in, 1, &y);
        return true;
    }
    case NBI_OP_SLICE_GRAD: { /* dy interleaved with step - 1 zeros, then padded into shape */
        int r = n->rank;
        int64_t ax = at[1].i < 0 ? at[1].i + r : at[1].i;
        int64_t st = at[2].i, step = at[3].i, len = a->shape[ax];
        const char *v = x[0];
        if (step > 1) {
            int64_t sh[NB_MAX_RANK + 1], pads[2 * (NB_MAX_RANK + 1)] = { 0 };
            for (int k = 0; k <= ax; k++) {
                sh[k] = a->shape[k];
            }
            sh[ax + 1] = 1;
            for (int k = (int)ax + 1; k < r; k++) {
                sh[k + 1] = a->shape[k];
            }
            v = reshape(w, v, r + 1, sh, NULL);
            pads[(r + 1) + ax + 1] = step - 1;
            v = op2(w, "Pad", v, ints(w, 2 * (r + 1), pads), NULL);
            int64_t fl[NB_MAX_RANK];
            for (int k = 0; k < r; k++) {
                fl[k] = a->shape[k];
            }
            fl[ax] = len * step;
            v = reshape(w, v, r, fl, NULL);
            int64_t z = 0, e = (len - 1) * step + 1;
            const char *in[4] = { v, ints(w, 1, &z), ints(w, 1, &e), ints(w, 1, &ax) };
            const char *s = tmp(w);
            emit(w, "Slice", 4, in, 1, &s);
            v = s;
            len = e;
        }
        int64_t pads[2 * NB_MAX_RANK] = { 0 };
        pads[ax] = st;
        pads[r + ax] = n->shape[ax] - st - len;
        op2(w, "Pad", v, ints(w, 2 * r, pads), y);
        return true;
    }
    case NBI_OP_PAD: {
        int r = a->rank;
        int64_t pads[2 * NB_MAX_RANK] = { 0 };
        for (int k = 0; k < at[0].n / 2; k++) {
            pads[k] = at[0].list[2 * k];
            pads[r + k] = at[0].list[2 * k + 1];
        }
        const char *in[3] = { x[0], ints(w, 2 * r, pads), scalar(w, dt, at[1].f) };
        emit(w, "Pad", 3, in, 1, &y);
        return true;
    }
    case NBI_OP_PERMUTE: {
        int64_t perm[NB_MAX_RANK];
        for (int k = 0; k < at[0].n; k++) {
            perm[k] = at[0].list[k];
        }
        transpose(w, x[0], at[0].n, perm, y);
        return true;
    }
    case NBI_OP_GATHER:
        o = emit(w, "Gather", 2, x, 1, &y);
        attr_i(w, o, "axis", at[0].i);
        return true;
    case NBI_OP_EMBEDDING: {
        const char *in[2] = { x[1], x[0] };
        o = emit(w, "Gather", 2, in, 1, &y);
        attr_i(w, o, "axis", 0);
        return true;
    }
    case NBI_OP_SCATTER_ADD: { /* ScatterElements(add) into zeros, idx spread over src's shape */
        int r = a->rank;
        int64_t ax = at[0].i < 0 ? at[0].i + r : at[0].i;
        int64_t sh[NB_MAX_RANK];
        for (int k = 0; k < r; k++) {
            sh[k] = k == ax ? n->in[1]->shape[0] : 1;
        }
        const char *idx = reshape(w, x[1], r, sh, NULL);
        idx = op2(w, "Expand", idx, shape_of(w, a), NULL);
        size_t cnt = nb_node_size(n);
        double *z = calloc(cnt ? cnt : 1, sizeof *z);
        if (!z) {
            w->a.oom = true;
            return false;
        }
        const char *zeros = cst(w, dt, false, n->rank, n->shape, z);
        free(z);
        const char *in[3] = { zeros, idx, x[0] };
        o = emit(w, "ScatterElements", 3, in, 1, &y);
        attr_i(w, o, "axis", ax);
        attr_s(w, o, "reduction", "add");
        return true;
    }
    case NBI_OP_ARGMAX: {
        const char *t = tmp(w);
        o = emit(w, "ArgMax", 1, x, 1, &t);
        attr_i(w, o, "axis", at[0].i);
        attr_i(w, o, "keepdims", at[1].i != 0);
        cast(w, t, NBI_ONNX_INT32, y);
        return true;
    }
    case NBI_OP_DROPOUT:
        if (!w->training || at[0].f == 0) {
            op1(w, "Identity", x[0], y);
        } else {
            const char *in[3] = { x[0], scalar(w, dt, at[0].f),
                                  cst(w, NB_DTYPE_F64, false, 0, NULL, (double[]){ 1 }) };
            /* training_mode is a bool scalar */
            Onnx__TensorProto *t = w->nodes[w->n_nodes - 1]->attribute[0]->t;
            t->data_type = NBI_ONNX_BOOL;
            t->raw_data.len = 1;
            t->raw_data.data[0] = 1;
            emit(w, "Dropout", 3, in, 1, &y);
        }
        return true;
    case NBI_OP_LAYER_NORM:
    case NBI_OP_LAYER_NORM_PLAIN: {
        int64_t c = a->shape[a->rank - 1];
        const char *in[3] = { x[0], x[1], x[2] };
        int nin = 3;
        if (n->op == NBI_OP_LAYER_NORM_PLAIN) {
            double *ones = malloc((size_t)c * sizeof *ones);
            if (!ones) {
                w->a.oom = true;
                return false;
            }
            for (int64_t k = 0; k < c; k++) {
                ones[k] = 1;
            }
            in[1] = cst(w, dt, false, 1, &c, ones);
            free(ones);
            nin = 2;
        }
        o = emit(w, "LayerNormalization", nin, in, 1, &y);
        attr_i(w, o, "axis", -1);
        attr_f(w, o, "epsilon", at[0].f);
        return true;
    }
    case NBI_OP_MAX_POOL1D:
    case NBI_OP_MAX_POOL2D:
    case NBI_OP_AVG_POOL1D:
    case NBI_OP_AVG_POOL2D:
    case NBI_OP_MAX_POOL_INDEX:
    case NBI_OP_AVG_POOL_GRAD: {
        int first = n->op == NBI_OP_AVG_POOL_GRAD ? 1 : 0;
        int nsp = n->op == NBI_OP_MAX_POOL1D || n->op == NBI_OP_AVG_POOL1D ? 1
                  : n->op == NBI_OP_MAX_POOL_INDEX || n->op == NBI_OP_AVG_POOL_GRAD
                      ? (at[first].n == 1 ? 1 : 2)
                      : 2;
        if (n->op == NBI_OP_MAX_POOL_INDEX) {
            nsp = a->rank - 2;
        }
        int64_t k[2], s[2], p[4];
        for (int d = 0; d < nsp; d++) {
            k[d] = list_at(&at[first], d, 1);
            s[d] = list_at(&at[first + 1], d, k[d]);
            p[d] = p[nsp + d] = list_at(&at[first + 2], d, 0);
        }
        if (n->op == NBI_OP_AVG_POOL_GRAD) {
            /* each dy spread evenly over its window: a transposed conv by ones / (kh kw) on [N C, 1, ...] */
            nsp = a->rank - 2;
            int64_t sh[4] = { a->shape[0] * a->shape[1], 1, a->shape[2],
                              nsp > 1 ? a->shape[3] : 1 };
            const char *v = reshape(w, x[0], 2 + nsp, sh, NULL);
            int64_t ws[4] = { 1, 1, k[0], nsp > 1 ? k[1] : 1 };
            size_t cnt = (size_t)(k[0] * (nsp > 1 ? k[1] : 1));
            double *wv = malloc(cnt * sizeof *wv);
            if (!wv) {
                w->a.oom = true;
                return false;
            }
            for (size_t q = 0; q < cnt; q++) {
                wv[q] = 1.0 / (double)cnt;
            }
            const char *wt = cst(w, dt, false, 2 + nsp, ws, wv);
            free(wv);
            int64_t outpad[2];
            for (int d = 0; d < nsp; d++) {
                int64_t full = (a->shape[2 + d] - 1) * s[d] - 2 * p[d] + k[d];
                outpad[d] = n->shape[2 + d] - full;
            }
            const char *in[2] = { v, wt };
            const char *t = tmp(w);
            o = emit(w, "ConvTranspose", 2, in, 1, &t);
            attr_ints(w, o, "kernel_shape", nsp, k);
            attr_ints(w, o, "strides", nsp, s);
            attr_ints(w, o, "pads", 2 * nsp, p);
            attr_ints(w, o, "output_padding", nsp, outpad);
            op2(w, "Reshape", t, shape_of(w, n), y);
            return true;
        }
        bool mx = n->op != NBI_OP_AVG_POOL1D && n->op != NBI_OP_AVG_POOL2D;
        const char *outs[2] = { n->op == NBI_OP_MAX_POOL_INDEX ? tmp(w) : y, tmp(w) };
        o = emit(w, mx ? "MaxPool" : "AveragePool", 1, x, n->op == NBI_OP_MAX_POOL_INDEX ? 2 : 1,
                 outs);
        attr_ints(w, o, "kernel_shape", nsp, k);
        attr_ints(w, o, "strides", nsp, s);
        attr_ints(w, o, "pads", 2 * nsp, p);
        if (!mx) {
            attr_i(w, o, "count_include_pad", 1);
        }
        if (n->op == NBI_OP_MAX_POOL_INDEX) {
            /* MaxPool's Indices are flat over the whole of x, as max_pool_index's */
            cast(w, op2(w, "Reshape", outs[1], shape_of(w, n), NULL), NBI_ONNX_INT32, y);
        }
        return true;
    }
    case NBI_OP_CONV2D:
    case NBI_OP_CONV1D:
    case NBI_OP_CONV_TRANSPOSE2D: {
        int nsp = n->op == NBI_OP_CONV1D ? 1 : 2;
        bool tr = n->op == NBI_OP_CONV_TRANSPOSE2D;
        int64_t s[2], p[4], d[2], op[2], k[2];
        int di = tr ? 3 : 2;
        for (int q = 0; q < nsp; q++) {
            s[q] = list_at(&at[0], q, 1);
            p[q] = p[nsp + q] = list_at(&at[1], q, 0);
            d[q] = list_at(&at[di], q, 1);
            op[q] = tr ? list_at(&at[2], q, 0) : 0;
            k[q] = n->in[1]->shape[2 + q];
        }
        o = emit(w, tr ? "ConvTranspose" : "Conv", n->arity, x, 1, &y);
        attr_ints(w, o, "kernel_shape", nsp, k);
        attr_ints(w, o, "strides", nsp, s);
        attr_ints(w, o, "pads", 2 * nsp, p);
        attr_ints(w, o, "dilations", nsp, d);
        attr_i(w, o, "group", at[di + 1].i);
        if (tr) {
            attr_ints(w, o, "output_padding", nsp, op);
        }
        return true;
    }
    case NBI_OP_CONV2D_WEIGHT_GRAD: {
        /*
         * dw = conv of x (channels as batch) by dy (channels as batch), strides and dilations
         * swapped, cut to the kernel; with groups, one such conv per group on its channels of
         * x and of dy, joined along the output channels
         */
        int64_t s[2], p[4], d[2], kk[2];
        for (int q = 0; q < 2; q++) {
            kk[q] = list_at(&at[0], q, 1);
            s[q] = list_at(&at[1], q, 1);
            p[q] = p[2 + q] = list_at(&at[2], q, 0);
            d[q] = list_at(&at[3], q, 1);
        }
        int64_t groups = at[4].i < 1 ? 1 : at[4].i;
        if (groups > 4096) {
            return fail(w, "%s node '%s' %s: %s", "has more groups than its ONNX mapping allows");
        }
        int64_t cg = n->in[0]->shape[1] / groups, og = n->in[1]->shape[1] / groups;
        int64_t perm[4] = { 1, 0, 2, 3 };
        const char *xt = transpose(w, x[0], 4, perm, NULL),
                   *dt_ = transpose(w, x[1], 4, perm, NULL);
        const char **parts = nbi_oalloc(&w->a, (size_t)groups * sizeof *parts);
        if (!parts) {
            return false;
        }
        for (int64_t gi = 0; gi < groups; gi++) {
            const char *in[2] = { xt, dt_ };
            if (groups > 1) {
                int64_t zero = 0, a0 = gi * cg, a1 = (gi + 1) * cg, b0 = gi * og,
                        b1 = (gi + 1) * og;
                const char *sx[4] = { xt, ints(w, 1, &a0), ints(w, 1, &a1), ints(w, 1, &zero) };
                const char *sd[4] = { dt_, ints(w, 1, &b0), ints(w, 1, &b1), ints(w, 1, &zero) };
                in[0] = tmp(w);
                emit(w, "Slice", 4, sx, 1, &in[0]);
                in[1] = tmp(w);
                emit(w, "Slice", 4, sd, 1, &in[1]);
            }
            const char *c = tmp(w);
            o = emit(w, "Conv", 2, in, 1, &c);
            attr_ints(w, o, "strides", 2, d);
            attr_ints(w, o, "dilations", 2, s);
            attr_ints(w, o, "pads", 4, p);
            attr_ints(w, o, "kernel_shape", 2,
                      (int64_t[]){ n->in[1]->shape[2], n->in[1]->shape[3] });
            int64_t zero[2] = { 0, 0 };
            int64_t ax[2] = { 2, 3 };
            const char *sl[4] = { c, ints(w, 2, zero), ints(w, 2, kk), ints(w, 2, ax) };
            const char *cut = tmp(w);
            emit(w, "Slice", 4, sl, 1, &cut);
            parts[gi] = transpose(w, cut, 4, perm, groups > 1 ? NULL : y);
        }
        if (groups > 1) {
            o = emit(w, "Concat", (int)groups, parts, 1, &y);
            attr_i(w, o, "axis", 0);
        }
        return true;
    }
    }
    return fail(w, "%s node '%s' %s: %s", "has no ONNX mapping");
}

/* A ValueInfo of n's dtype and shape under name. */
static Onnx__ValueInfoProto *value_info(ow *w, const char *name, const nb_node *n)
{
    Onnx__ValueInfoProto *v = nbi_oalloc(&w->a, sizeof *v);
    Onnx__TypeProto *t = nbi_oalloc(&w->a, sizeof *t);
    Onnx__TypeProto__Tensor *tt = nbi_oalloc(&w->a, sizeof *tt);
    Onnx__TensorShapeProto *sh = nbi_oalloc(&w->a, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims =
        nbi_oalloc(&w->a, (size_t)(n->rank + 1) * sizeof *dims);
    if (!v || !t || !tt || !sh || !dims) {
        return NULL;
    }
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int k = 0; k < n->rank; k++) {
        dims[k] = nbi_oalloc(&w->a, sizeof **dims);
        if (!dims[k]) {
            return NULL;
        }
        onnx__tensor_shape_proto__dimension__init(dims[k]);
        dims[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[k]->dim_value = n->shape[k];
    }
    sh->n_dim = (size_t)n->rank;
    sh->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = onnx_dtype((nb_dtype)n->dtype);
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

/* The scope path of n, outermost first: "encoder/layer1"; "" when none. */
static void scope_path(const nb_graph *g, const nb_node *n, char *buf, size_t cap)
{
    const char *parts[64];
    int np = 0;
    for (uint32_t s = n->scope; s != 0 && np < 64; s = g->scopes[s].parent) {
        parts[np++] = g->scopes[s].name;
    }
    size_t len = 0;
    buf[0] = '\0';
    while (np-- > 0) {
        int r = snprintf(buf + len, cap - len, "%s%s", len ? "/" : "", parts[np]);
        if (r < 0 || (size_t)r >= cap - len) {
            break;
        }
        len += (size_t)r;
    }
}

/* Writes the encoded model to path through a temporary file and a rename. */
static nb_status write_file(nb_graph *g, const char *path, const uint8_t *buf, size_t len)
{
    size_t pl = strlen(path);
    char *tmpname = malloc(pl + 16);
    if (!tmpname) {
        return nbi_report(g, NB_ERR_NOMEM, "onnx_write", 0, NULL, "out of memory");
    }
    snprintf(tmpname, pl + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmpname, "wb");
    if (!f) {
        nb_status st = nbi_report(g, NB_ERR_IO, "onnx_write", 0, NULL, "cannot create %s: %s",
                                  tmpname, strerror(errno));
        free(tmpname);
        return st;
    }
    bool ok = fwrite(buf, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmpname, path) != 0) {
        ok = false;
    }
    if (!ok) {
        nb_status st = nbi_report(g, NB_ERR_IO, "onnx_write", 0, NULL, "cannot write %s: %s", path,
                                  strerror(errno));
        remove(tmpname);
        free(tmpname);
        return st;
    }
    free(tmpname);
    return NB_OK;
}

nb_onnx_options nb_onnx_defaults(void)
{
    nb_onnx_options o = { .opset = NBI_ONNX_OPSET, .names = NULL, .graph_name = "nabla" };
    return o;
}

static nb_status export(ow *w, size_t n_out, nb_node *const *outs, const char *path,
                        const nb_onnx_options *opts)
{
    nb_graph *g = w->g;
    size_t nn = g->n_nodes;
    bool *need = calloc(nn ? nn : 1, sizeof *need);
    w->names = calloc(nn ? nn : 1, sizeof *w->names);
    if (!need || !w->names) {
        free(need);
        return nbi_report(g, NB_ERR_NOMEM, "onnx_write", 0, NULL, "out of memory");
    }
    for (size_t k = 0; k < n_out; k++) {
        need[outs[k]->id] = true;
    }
    /* ids are a topological order: inputs come before the nodes that use them */
    for (size_t i = nn; i-- > 0;) {
        if (need[i]) {
            nb_node *n = g->nodes[i];
            for (int k = 0; k < n->arity; k++) {
                need[n->in[k]->id] = true;
            }
        }
    }
    char buf[1024], scope[512];
    for (size_t i = 0; i < nn; i++) {
        if (!need[i]) {
            continue;
        }
        nb_node *n = g->nodes[i];
        scope_path(g, n, scope, sizeof scope);
        snprintf(buf, sizeof buf, "%s%s%s", scope, *scope ? "/" : "", nb_node_name(n));
        for (size_t j = 0; j < i; j++) {
            if (w->names[j] && strcmp(w->names[j], buf) == 0) {
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".%zu", i);
                break;
            }
        }
        w->names[i] = nbi_ostrdup(&w->a, buf);
    }
    Onnx__GraphProto *gp = nbi_oalloc(&w->a, sizeof *gp);
    Onnx__ModelProto *mp = nbi_oalloc(&w->a, sizeof *mp);
    Onnx__OperatorSetIdProto *ops = nbi_oalloc(&w->a, sizeof *ops);
    Onnx__OperatorSetIdProto **opsl = nbi_oalloc(&w->a, sizeof *opsl);
    Onnx__ValueInfoProto **outputs = nbi_oalloc(&w->a, (n_out + 1) * sizeof *outputs);
    if (!gp || !mp || !ops || !opsl || !outputs || w->a.oom) {
        free(need);
        return nbi_report(g, NB_ERR_NOMEM, "onnx_write", 0, NULL, "out of memory");
    }
    /* leaves: inputs, initializers, Constant nodes */
    for (size_t i = 0; i < nn && !w->failed; i++) {
        nb_node *n = g->nodes[i];
        if (!need[i] || !(nbi_ops[n->op]->flags & NBI_OP_LEAF || n->op == NBI_OP_FILL)) {
            continue;
        }
        w->cur = n;
        scope_path(g, n, scope, sizeof scope);
        w->doc = nbi_ostrdup(&w->a, scope);
        if (n->op == NBI_OP_INPUT) {
            if (grow(w, (void ***)&w->inputs, &w->n_inputs, &w->cap_inputs)) {
                w->inputs[w->n_inputs++] = value_info(w, w->names[i], n);
            }
            continue;
        }
        size_t bytes = nb_node_size(n) * nb_dtype_size((nb_dtype)n->dtype);
        Onnx__TensorProto *t;
        if (n->op == NBI_OP_FILL) {
            size_t cnt = nb_node_size(n);
            double *v = malloc((cnt ? cnt : 1) * sizeof *v);
            if (!v) {
                w->a.oom = true;
                break;
            }
            for (size_t k = 0; k < cnt; k++) {
                v[k] = n->attr[0].f;
            }
            const char *c = cst(w, (nb_dtype)n->dtype, false, n->rank, n->shape, v);
            free(v);
            op1(w, "Identity", c, w->names[i]);
            continue;
        }
        t = tensor(w, w->names[i], onnx_dtype((nb_dtype)n->dtype), n->rank, n->shape, n->data,
                   bytes);
        if (n->op == NBI_OP_CONST) {
            const char *y = w->names[i];
            Onnx__NodeProto *c = emit(w, "Constant", 0, NULL, 1, &y);
            Onnx__AttributeProto *a = attr(w, c, "value");
            if (a) {
                a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
                a->t = t;
            }
        } else {
            add_init(w, t);
        }
    }
    for (size_t i = 0; i < nn && !w->failed && !w->a.oom; i++) {
        nb_node *n = g->nodes[i];
        if (!need[i] || nbi_ops[n->op]->flags & NBI_OP_LEAF || n->op == NBI_OP_FILL) {
            continue;
        }
        w->cur = n;
        w->tmp = 0;
        scope_path(g, n, scope, sizeof scope);
        w->doc = nbi_ostrdup(&w->a, scope);
        map_node(w, n);
    }
    free(need);
    /* outputs, under the names asked for (an Identity gives a node a second name) */
    for (size_t k = 0; k < n_out && !w->failed && !w->a.oom; k++) {
        const char *name = w->names[outs[k]->id];
        const char *base = opts && opts->names && opts->names[k] ? opts->names[k] : name;
        const char *want = base;
        if (outs[k]->op == NBI_OP_INPUT && strcmp(want, name) == 0) {
            snprintf(buf, sizeof buf, "%s.out",
                     name); /* an input is an output under another name */
            want = nbi_ostrdup(&w->a, buf);
        }
        for (size_t j = 0; j < k && want; j++) {
            if (strcmp(outputs[j]->name, want) == 0) {
                /* a second output of the same value, or of the same name, needs its own name */
                snprintf(buf, sizeof buf, "%s.out%zu", base, k);
                want = nbi_ostrdup(&w->a, buf);
            }
        }
        if (!want) {
            break; /* out of memory: reported below */
        }
        if (strcmp(want, name) != 0) {
            w->cur = outs[k];
            op1(w, "Identity", name, want);
        }
        outputs[k] = value_info(w, want, outs[k]);
    }
    if (w->failed) {
        return nb_graph_status(g) != NB_OK ? nb_graph_status(g) : NB_ERR_ARG;
    }
    if (w->a.oom) {
        return nbi_report(g, NB_ERR_NOMEM, "onnx_write", 0, NULL, "out of memory");
    }
    onnx__graph_proto__init(gp);
    gp->name = (char *)(opts && opts->graph_name ? opts->graph_name : "nabla");
    gp->n_node = w->n_nodes;
    gp->node = w->nodes;
    gp->n_initializer = w->n_inits;
    gp->initializer = w->inits;
    gp->n_input = w->n_inputs;
    gp->input = w->inputs;
    gp->n_output = n_out;
    gp->output = outputs;
    onnx__operator_set_id_proto__init(ops);
    ops->domain = "";
    ops->has_version = 1;
    ops->version = opts && opts->opset ? opts->opset : NBI_ONNX_OPSET;
    opsl[0] = ops;
    onnx__model_proto__init(mp);
    mp->has_ir_version = 1;
    mp->ir_version = 8;
    mp->producer_name = "nabla";
    mp->producer_version = NB_VERSION_STRING;
    mp->n_opset_import = 1;
    mp->opset_import = opsl;
    mp->graph = gp;
    size_t len = onnx__model_proto__get_packed_size(mp);
    uint8_t *out = malloc(len ? len : 1);
    if (!out) {
        return nbi_report(g, NB_ERR_NOMEM, "onnx_write", 0, NULL, "out of memory");
    }
    onnx__model_proto__pack(mp, out);
    nb_status st = write_file(g, path, out, len);
    free(out);
    return st;
}

nb_status nb_onnx_write(nb_graph *g, size_t n, nb_node *const *outputs, const char *path,
                        const nb_onnx_options *opts)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    if (g->status != NB_OK) {
        return g->status;
    }
    if (n == 0 || !outputs || !path) {
        return nbi_report(g, NB_ERR_ARG, "onnx_write", 0, NULL,
                          n == 0     ? "no outputs given"
                          : !outputs ? "outputs is NULL"
                                     : "path is NULL");
    }
    for (size_t k = 0; k < n; k++) {
        if (!outputs[k] || !nbi_owns(g, outputs[k])) {
            return nbi_report(g, outputs[k] ? NB_ERR_GRAPH : NB_ERR_ARG, "onnx_write", 0, NULL,
                              "outputs[%zu] %s", k,
                              outputs[k] ? "belongs to another graph" : "is NULL");
        }
    }
    if (!nbi_onnx_little_endian()) {
        return nbi_report(g, NB_ERR_ARG, "onnx_write", 0, NULL,
                          "ONNX export needs a little-endian host");
    }
    ow w = { .g = g, .training = !g->eval_mode };
    nb_status st = export(&w, n, outputs, path, opts);
    free(w.names);
    free(w.nodes);
    free(w.inits);
    free(w.inputs);
    nbi_oarena_free(&w.a);
    return st;
}
