/*
 * io/onnx_read.c: nb_onnx_read, an ONNX model as nabla nodes built with the
 * public builders (so shapes and dtypes go through the same checks, and the
 * result can be differentiated). Shapes are static: Shape, Constant,
 * ConstantOfShape and the integer arithmetic on them fold at import, so the
 * chains PyTorch's exporter writes around Reshape and Flatten become
 * constants. Float initializers become trainable parameters (batch
 * normalization's running statistics state nodes); graph inputs become
 * inputs. An operator, attribute or shape outside what is supported is an
 * error naming the ONNX node and its op; the file is untrusted (it is fuzzed:
 * fuzz/fuzz_onnx.c), so every count, index and size is checked before use.
 */
#include "io.h"
#include "onnx_common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#define MAX_CONST (1u << 22) /* elements of a folded constant or an initializer */

/* A value of the ONNX graph: a nabla node, or a constant known at import. */
typedef struct oval {
    const char *name;
    nb_node *node; /* NULL while only the constant is known */
    double *v;     /* the constant's values (malloc'd), or NULL */
    int rank;
    int64_t shape[NB_MAX_RANK];
    int dt;       /* ONNX dtype of the constant */
    bool init;    /* an initializer: a parameter when used as data */
    bool state;   /* to be made a state node (batch norm's running statistics) */
    bool boolean; /* a 0/1 tensor from a comparison */
} oval;

typedef struct orr {
    nb_graph *g;
    nb_dtype fdt; /* dtype of float nodes */
    oval **vals;  /* each malloc'd, so pointers to them stay valid as the list grows */
    size_t n_vals, cap_vals;
    const Onnx__NodeProto *node; /* being imported, for messages */
    char where[300];
    nb_status st;
} orr;

static nb_status failv(orr *r, nb_status code, const char *fmt, va_list ap)
{
    if (r->st != NB_OK) {
        return r->st;
    }
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    r->st = code;
    if (r->node) {
        nbi_report(r->g, code, "onnx_read", 0, NULL, "node '%s' (%s): %s",
                   r->node->name && *r->node->name           ? r->node->name
                   : r->node->n_output && r->node->output[0] ? r->node->output[0]
                                                             : "?",
                   r->node->op_type ? r->node->op_type : "?", msg);
    } else {
        nbi_report(r->g, code, "onnx_read", 0, NULL, "%s%s", r->where, msg);
    }
    return code;
}

static bool fail(orr *r, nb_status code, const char *fmt, ...) NBI_PRINTF(3, 4);
static bool fail(orr *r, nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(r, code, fmt, ap);
    va_end(ap);
    return false;
}

/* A constant's value as an integer, saturating (NaN is 0): the file's numbers may be anything. */
static int64_t to_i64(double v)
{
    if (isnan(v)) {
        return 0;
    }
    return v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
}

static size_t count_of(int rank, const int64_t *shape)
{
    size_t c = 1;
    for (int k = 0; k < rank; k++) {
        c *= (size_t)shape[k];
    }
    return c;
}

static oval *find(orr *r, const char *name)
{
    if (!name) {
        return NULL;
    }
    for (size_t k = r->n_vals; k-- > 0;) {
        if (strcmp(r->vals[k]->name, name) == 0) {
            return r->vals[k];
        }
    }
    return NULL;
}

static oval *add_val(orr *r, const char *name)
{
    if (!name || !*name) {
        fail(r, NB_ERR_FORMAT, "an output without a name");
        return NULL;
    }
    if (find(r, name)) { /* a node reading it would see the wrong one */
        fail(r, NB_ERR_FORMAT, "'%s' is defined twice (an ONNX graph assigns every name once)",
             name);
        return NULL;
    }
    if (r->n_vals == r->cap_vals) {
        size_t cap = r->cap_vals ? 2 * r->cap_vals : 64;
        oval **v = realloc(r->vals, cap * sizeof *v);
        if (!v) {
            fail(r, NB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        r->vals = v;
        r->cap_vals = cap;
    }
    oval *v = calloc(1, sizeof *v);
    if (!v) {
        fail(r, NB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->vals[r->n_vals++] = v;
    v->name = name;
    return v;
}

/* A constant value of rank and shape, its values uninitialized (malloc'd). */
static oval *add_const(orr *r, const char *name, int dt, int rank, const int64_t *shape)
{
    if (rank < 0 || rank > NB_MAX_RANK) {
        fail(r, NB_ERR_RANK, "rank %d is outside 0..%d", rank, NB_MAX_RANK);
        return NULL;
    }
    size_t cnt = 1;
    for (int k = 0; k < rank; k++) {
        if (shape[k] < 0 || shape[k] > (int64_t)MAX_CONST ||
            (shape[k] && cnt > MAX_CONST / (size_t)shape[k])) {
            fail(r, NB_ERR_SHAPE, "a constant of dimension %lld is too large or negative",
                 (long long)shape[k]);
            return NULL;
        }
        cnt *= (size_t)shape[k];
    }
    double *v = malloc((cnt ? cnt : 1) * sizeof *v);
    oval *o = v ? add_val(r, name) : NULL;
    if (!o) {
        free(v);
        if (!v) {
            fail(r, NB_ERR_NOMEM, "out of memory");
        }
        return NULL;
    }
    o->v = v;
    o->dt = dt;
    o->rank = rank;
    nbi_ocopy(o->shape, shape, (size_t)rank * sizeof *shape);
    return o;
}

static bool is_float(int dt)
{
    return dt == NBI_ONNX_FLOAT || dt == NBI_ONNX_DOUBLE || dt == 10 /* float16 */;
}

/* Reads a TensorProto into a constant value. */
static oval *read_tensor(orr *r, const Onnx__TensorProto *t, const char *name)
{
    if (t->n_dims > NB_MAX_RANK) {
        fail(r, NB_ERR_RANK, "tensor '%s' has rank %zu; nabla takes at most %d", name, t->n_dims,
             NB_MAX_RANK);
        return NULL;
    }
    if (t->n_external_data || (t->has_data_location && t->data_location != 0)) {
        fail(r, NB_ERR_FORMAT,
             "tensor '%s' keeps its data in an external file, which is not supported", name);
        return NULL;
    }
    int dt = t->has_data_type ? t->data_type : 0;
    if (dt != NBI_ONNX_FLOAT && dt != NBI_ONNX_DOUBLE && dt != NBI_ONNX_INT32 &&
        dt != NBI_ONNX_INT64 && dt != NBI_ONNX_BOOL) {
        fail(r, NB_ERR_DTYPE,
             "tensor '%s' has ONNX data type %d; nabla reads float, double, "
             "int32, int64 and bool",
             name, dt);
        return NULL;
    }
    oval *o = add_const(r, name, dt, (int)t->n_dims, t->dims);
    if (!o) {
        return NULL;
    }
    size_t cnt = count_of(o->rank, o->shape);
    size_t es = dt == NBI_ONNX_FLOAT || dt == NBI_ONNX_INT32 ? 4 : dt == NBI_ONNX_BOOL ? 1 : 8;
    if (t->has_raw_data && t->raw_data.len) {
        if (t->raw_data.len != cnt * es) {
            fail(r, NB_ERR_FORMAT, "tensor '%s' has %zu bytes of data for %zu elements", name,
                 t->raw_data.len, cnt);
            return NULL;
        }
        if (!nbi_onnx_little_endian()) {
            fail(r, NB_ERR_FORMAT, "reading ONNX needs a little-endian host");
            return NULL;
        }
        const uint8_t *p = t->raw_data.data;
        for (size_t k = 0; k < cnt; k++) {
            if (dt == NBI_ONNX_FLOAT) {
                float f;
                memcpy(&f, p + 4 * k, 4);
                o->v[k] = f;
            } else if (dt == NBI_ONNX_DOUBLE) {
                memcpy(&o->v[k], p + 8 * k, 8);
            } else if (dt == NBI_ONNX_INT32) {
                int32_t i;
                memcpy(&i, p + 4 * k, 4);
                o->v[k] = i;
            } else if (dt == NBI_ONNX_INT64) {
                int64_t i;
                memcpy(&i, p + 8 * k, 8);
                o->v[k] = (double)i;
            } else {
                o->v[k] = p[k] != 0;
            }
        }
        return o;
    }
    size_t have = dt == NBI_ONNX_FLOAT    ? t->n_float_data
                  : dt == NBI_ONNX_DOUBLE ? t->n_double_data
                  : dt == NBI_ONNX_INT64  ? t->n_int64_data
                                          : t->n_int32_data;
    if (have != cnt) {
        fail(r, NB_ERR_FORMAT, "tensor '%s' has %zu values for %zu elements", name, have, cnt);
        return NULL;
    }
    for (size_t k = 0; k < cnt; k++) {
        o->v[k] = dt == NBI_ONNX_FLOAT    ? t->float_data[k]
                  : dt == NBI_ONNX_DOUBLE ? t->double_data[k]
                  : dt == NBI_ONNX_INT64  ? (double)t->int64_data[k]
                                          : t->int32_data[k];
    }
    return o;
}

/* ---- names: ONNX value names as model-language identifiers ---- */

static bool reserved(const char *s)
{
    static const char *const words[] = {
        "input",       "param", "const", "state",      "scope",         "keepdims", "transpose_a",
        "transpose_b", "zeros", "ones",  "he",         "xavier",        "normal",   "uniform",
        "reshape",     "fill",  "neg",   "he_uniform", "xavier_normal", "end",      "none"
    };
    for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
        if (strcmp(s, words[k]) == 0) {
            return true;
        }
    }
    for (size_t k = 0; k < nb_op_count(); k++) {
        nb_op_info info;
        if (nb_op_info_get(k, &info) && strcmp(info.name, s) == 0) {
            return true;
        }
    }
    return false;
}

/* Names n after ONNX value name: other characters become '_', clashes get a number. */
static void name_node(orr *r, nb_node *n, const char *onnx_name)
{
    if (!n || nb_graph_status(r->g) != NB_OK) {
        return;
    }
    char buf[160];
    size_t len = 0;
    if (!isalpha((unsigned char)onnx_name[0]) && onnx_name[0] != '_') {
        buf[len++] = 'v';
    }
    for (const char *p = onnx_name; *p && len < 120; p++) {
        buf[len++] = isalnum((unsigned char)*p) ? *p : '_';
    }
    buf[len] = '\0';
    if (reserved(buf)) {
        buf[len++] = '_';
        buf[len] = '\0';
    }
    char cand[200];
    snprintf(cand, sizeof cand, "%s", buf);
    for (int k = 2; nb_graph_find(r->g, cand); k++) {
        snprintf(cand, sizeof cand, "%s_%d", buf, k);
    }
    nb_node_set_name(r->g, n, cand);
}

/* ---- values as nodes ---- */

static bool graph_ok(orr *r)
{
    if (nb_graph_status(r->g) != NB_OK) {
        if (r->st == NB_OK) {
            r->st = nb_graph_status(r->g);
            /* the builder's message names nabla's op; say which ONNX node it came from */
            char msg[NBI_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", nb_graph_error(r->g));
            if (r->node) {
                snprintf(r->g->err, sizeof r->g->err, "onnx_read: node '%.100s' (%.40s): %.300s",
                         r->node->name && *r->node->name ? r->node->name : "?",
                         r->node->op_type ? r->node->op_type : "?", msg);
            }
        }
        return false;
    }
    return r->st == NB_OK;
}

/* The node of value v: a constant is made a parameter, state or constant node on first use. */
static nb_node *mat(orr *r, oval *v, nb_dtype want)
{
    if (!v) {
        return NULL;
    }
    if (v->node) {
        return v->node;
    }
    bool fl = is_float(v->dt) || want != NB_DTYPE_I32;
    nb_dtype d = fl ? want : NB_DTYPE_I32;
    if (!fl && v->dt != NBI_ONNX_INT32 && v->dt != NBI_ONNX_INT64 && v->dt != NBI_ONNX_BOOL) {
        d = want;
    }
    size_t cnt = count_of(v->rank, v->shape);
    if (cnt == 0) {
        fail(r, NB_ERR_SHAPE, "'%s' has no elements; nabla's tensors have at least one", v->name);
        return NULL;
    }
    nb_node *n;
    if (v->state) {
        n = nb_state(r->g, d, v->rank, v->shape, 0);
    } else if (v->init && d != NB_DTYPE_I32) {
        n = nb_param(r->g, d, v->rank, v->shape, nb_init_constant(0));
    } else {
        void *buf = malloc(cnt * nb_dtype_size(d));
        if (!buf) {
            fail(r, NB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        for (size_t k = 0; k < cnt; k++) {
            if (d == NB_DTYPE_F32) {
                ((float *)buf)[k] = (float)v->v[k];
            } else if (d == NB_DTYPE_F64) {
                ((double *)buf)[k] = v->v[k];
            } else {
                double x = v->v[k];
                if (x != x) { /* no integer stands for NaN */
                    free(buf);
                    fail(r, NB_ERR_VALUE, "'%s' is an integer tensor but element %zu is NaN",
                         v->name, k);
                    return NULL;
                }
                ((int32_t *)buf)[k] = x > INT32_MAX   ? INT32_MAX
                                      : x < INT32_MIN ? INT32_MIN
                                                      : (int32_t)x;
            }
        }
        n = nb_const(r->g, d, v->rank, v->shape, buf);
        free(buf);
    }
    if (!graph_ok(r)) {
        return NULL;
    }
    if ((v->state || v->init) && nb_node_write_f64(r->g, n, v->v, cnt) != NB_OK) {
        fail(r, NB_ERR_VALUE, "cannot set '%s': %s", v->name, nb_graph_error(r->g));
        return NULL;
    }
    if (v->state || v->init) {
        name_node(r, n, v->name);
    }
    v->node = n;
    return n;
}

/* ---- attributes ---- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t k = 0; k < n->n_attribute; k++) {
        if (n->attribute[k] && n->attribute[k]->name && strcmp(n->attribute[k]->name, name) == 0) {
            return n->attribute[k];
        }
    }
    return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : def;
}

static double attr_f(const Onnx__NodeProto *n, const char *name, double def)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : def;
}

/* An int list attribute into v (at most cap entries); -1 when absent, -2 when too long. */
static int attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int cap)
{
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) {
        return -1;
    }
    if (a->n_ints > (size_t)cap) {
        return -2;
    }
    nbi_ocopy(v, a->ints, a->n_ints * sizeof *v);
    return (int)a->n_ints;
}

/* Only the listed attributes (NULL-terminated) are understood: another is an error. */
static bool known_attrs(orr *r, const Onnx__NodeProto *n, const char *const *names)
{
    for (size_t k = 0; k < n->n_attribute; k++) {
        const char *a = n->attribute[k] && n->attribute[k]->name ? n->attribute[k]->name : "";
        bool ok = false;
        for (const char *const *p = names; *p && !ok; p++) {
            ok = strcmp(a, *p) == 0;
        }
        if (!ok) {
            return fail(r, NB_ERR_ARG, "attribute '%s' is not supported", a);
        }
    }
    return true;
}

/* Input k of the node being imported; NULL (and an error when required) if absent. */
static oval *in(orr *r, int k, bool required)
{
    const Onnx__NodeProto *n = r->node;
    if ((size_t)k >= n->n_input || !n->input[k] || !*n->input[k]) {
        if (required) {
            fail(r, NB_ERR_FORMAT, "input %d is missing", k);
        }
        return NULL;
    }
    oval *v = find(r, n->input[k]);
    if (!v) {
        fail(r, NB_ERR_FORMAT, "input '%s' is not defined before it", n->input[k]);
    }
    return v;
}

/* Input k as a node of float dtype (constants made nodes). */
static nb_node *inode(orr *r, int k)
{
    oval *v = in(r, k, true);
    if (!v) {
        return NULL;
    }
    return mat(r, v,
               v->node                         ? nb_node_dtype(v->node)
               : is_float(v->dt) || v->boolean ? r->fdt
                                               : NB_DTYPE_I32);
}

/* Input k as a node of the graph's float dtype (int constants converted). */
static nb_node *fnode(orr *r, int k)
{
    oval *v = in(r, k, true);
    if (!v) {
        return NULL;
    }
    if (v->node && nb_node_dtype(v->node) == NB_DTYPE_I32) {
        fail(r, NB_ERR_DTYPE, "input '%s' holds integers; this op takes floats", v->name);
        return NULL;
    }
    return mat(r, v, r->fdt);
}

/* Input k as a constant (folded at import); NULL and an error when it is computed. */
static oval *cin(orr *r, int k, bool required)
{
    oval *v = in(r, k, required);
    if (v && !v->v) {
        fail(r, NB_ERR_ARG,
             "input '%s' is computed at run time; nabla needs it known at import "
             "(static shapes only)",
             v->name);
        return NULL;
    }
    return v;
}

static bool out_node(orr *r, int k, nb_node *n)
{
    if (!graph_ok(r) || !n) {
        if (r->st == NB_OK) {
            fail(r, NB_ERR_ARG, "cannot be built");
        }
        return false;
    }
    if ((size_t)k >= r->node->n_output) {
        return true;
    }
    oval *v = add_val(r, r->node->output[k]);
    if (!v) {
        return false;
    }
    v->node = n;
    return true;
}

static int norm_axis(orr *r, int64_t axis, int rank)
{
    if (axis < -rank || axis >= (rank ? rank : 1)) {
        fail(r, NB_ERR_AXIS, "axis %lld is outside a tensor of rank %d", (long long)axis, rank);
        return -1;
    }
    return (int)(axis < 0 ? axis + rank : axis);
}

static int rank_of(oval *v)
{
    return v->node ? nb_node_rank(v->node) : v->rank;
}

static const int64_t *shape_of(oval *v)
{
    return v->node ? nb_node_shape(v->node) : v->shape;
}

/* ---- constant folding of elementwise ops (shape arithmetic) ---- */

static bool broadcast_shape(orr *r, int ra, const int64_t *a, int rb, const int64_t *b, int *rank,
                            int64_t *out)
{
    int rr = ra > rb ? ra : rb;
    for (int k = 0; k < rr; k++) {
        int64_t x = k - (rr - ra) >= 0 ? a[k - (rr - ra)] : 1;
        int64_t y = k - (rr - rb) >= 0 ? b[k - (rr - rb)] : 1;
        if (x != y && x != 1 && y != 1) {
            return fail(r, NB_ERR_SHAPE, "constant shapes do not broadcast");
        }
        out[k] = x == 1 ? y : x;
    }
    *rank = rr;
    return true;
}

/* Folds op (a binary function code) over two constants into output 0. */
static bool fold2(orr *r, oval *a, oval *b, int op)
{
    int rank = 0;
    int64_t shape[NB_MAX_RANK];
    if (!broadcast_shape(r, a->rank, a->shape, b->rank, b->shape, &rank, shape)) {
        return false;
    }
    int dt = is_float(a->dt) || is_float(b->dt) ? (is_float(a->dt) ? a->dt : b->dt) : a->dt;
    oval *o = add_const(r, r->node->output[0], op >= 4 ? NBI_ONNX_BOOL : dt, rank, shape);
    if (!o) {
        return false;
    }
    size_t cnt = count_of(rank, shape);
    for (size_t i = 0; i < cnt; i++) {
        size_t ia = 0, ib = 0, sa = 1, sb = 1, rem = i;
        for (int k = rank - 1; k >= 0; k--) {
            size_t idx = rem % (size_t)shape[k];
            rem /= (size_t)shape[k];
            int ka = k - (rank - a->rank), kb = k - (rank - b->rank);
            if (ka >= 0) {
                ia += (a->shape[ka] == 1 ? 0 : idx) * sa;
                sa *= (size_t)a->shape[ka];
            }
            if (kb >= 0) {
                ib += (b->shape[kb] == 1 ? 0 : idx) * sb;
                sb *= (size_t)b->shape[kb];
            }
        }
        double x = a->v[ia], y = b->v[ib], z;
        switch (op) {
        case 0:
            z = x + y;
            break;
        case 1:
            z = x - y;
            break;
        case 2:
            z = x * y;
            break;
        case 3:
            if (is_float(dt)) {
                z = x / y;
            } else { /* integer division, without dividing by 0 or INT64_MIN by -1 */
                int64_t p = to_i64(x), q = to_i64(y);
                z = q == 0 ? 0 : q == -1 ? -(double)p : (double)(p / q);
            }
            break;
        case 4:
            z = x == y;
            break;
        case 5:
            z = x > y;
            break;
        default:
            z = x < y;
            break;
        }
        o->v[i] = z;
    }
    return true;
}

/* ---- the operators ---- */

static bool binary(orr *r, int op)
{
    oval *a = in(r, 0, true), *b = in(r, 1, true);
    if (!a || !b) {
        return false;
    }
    if (a->v && b->v && !a->node && !b->node && !a->init && !b->init) {
        return fold2(r, a, b, op);
    }
    /* a constant operand takes the other's dtype */
    nb_dtype d = a->node ? nb_node_dtype(a->node) : b->node ? nb_node_dtype(b->node) : r->fdt;
    if (op == 4 && d == NB_DTYPE_I32 && a->node && !b->node && b->v && b->rank == 1 &&
        nb_node_rank(a->node) >= 1 && nb_node_shape(a->node)[nb_node_rank(a->node) - 1] == 1) {
        /* labels[..., 1] == [0, 1, ..., C-1]: one_hot, in the graph's float dtype (how
           nb_onnx_write spells it; comparing i32 would give f32 whatever that dtype) */
        bool range = true;
        for (int64_t k = 0; k < b->shape[0] && range; k++) {
            range = b->v[k] == (double)k;
        }
        if (range) {
            int ra = nb_node_rank(a->node);
            nb_node *lab = nb_reshape(r->g, a->node, ra - 1, nb_node_shape(a->node));
            if (!out_node(r, 0, nb_one_hot(r->g, lab, b->shape[0], r->fdt))) {
                return false;
            }
            r->vals[r->n_vals - 1]->boolean = true;
            return true;
        }
    }
    if (op < 4 && d == NB_DTYPE_I32) {
        return fail(r, NB_ERR_DTYPE, "integer arithmetic at run time is not supported");
    }
    nb_node *x = mat(r, a, d), *y = mat(r, b, d);
    if (!x || !y) {
        return false;
    }
    static nb_node *(*const fns[])(nb_graph *, nb_node *,
                                   nb_node *) = { nb_add,   nb_sub,     nb_mul, nb_div,
                                                  nb_equal, nb_greater, nb_less };
    nb_node *y_ = fns[op](r->g, x, y);
    if (!out_node(r, 0, y_)) {
        return false;
    }
    r->vals[r->n_vals - 1]->boolean = op >= 4;
    return true;
}

static bool unary(orr *r, nb_node *(*fn)(nb_graph *, nb_node *))
{
    nb_node *x = fnode(r, 0);
    return x && out_node(r, 0, fn(r->g, x));
}

/* Output 0 as an alias of input 0 (Identity, a Cast that changes nothing, eval Dropout). */
static bool alias(orr *r)
{
    oval *x = in(r, 0, true);
    if (!x) {
        return false;
    }
    oval copy = *x;
    oval *o = add_val(r, r->node->output[0]);
    if (!o) {
        return false;
    }
    const char *name = o->name;
    *o = copy;
    o->name = name;
    if (copy.v) { /* the constant's values are shared: copy them so each is freed once */
        size_t cnt = count_of(copy.rank, copy.shape);
        o->v = malloc((cnt ? cnt : 1) * sizeof *o->v);
        if (!o->v) {
            return fail(r, NB_ERR_NOMEM, "out of memory");
        }
        nbi_ocopy(o->v, copy.v, cnt * sizeof *o->v);
        if (copy.init && !copy.node) {
            /* both names must give one parameter: materialize it now */
            oval *src = find(r, r->node->input[0]);
            nb_node *n = mat(r, src, r->fdt);
            o->node = n;
        }
    }
    return true;
}

static bool reshape_to(orr *r, oval *x, int rank, const int64_t *shape)
{
    if (x->v && !x->node && !x->init) {
        oval *o = add_const(r, r->node->output[0], x->dt, rank, shape);
        if (!o) {
            return false;
        }
        if (count_of(rank, shape) != count_of(x->rank, x->shape)) {
            return fail(r, NB_ERR_SHAPE, "the new shape has another number of elements");
        }
        nbi_ocopy(o->v, x->v, count_of(rank, shape) * sizeof *o->v);
        o->boolean = x->boolean;
        return true;
    }
    nb_node *n = mat(r, x, r->fdt);
    return n && out_node(r, 0, nb_reshape(r->g, n, rank, shape));
}

static bool op_reshape(orr *r)
{
    oval *x = in(r, 0, true), *s = cin(r, 1, true);
    if (!x || !s) {
        return false;
    }
    size_t ns = count_of(s->rank, s->shape);
    if (s->rank != 1 || ns > NB_MAX_RANK) {
        return fail(r, NB_ERR_SHAPE, "the shape input must list at most %d dimensions",
                    NB_MAX_RANK);
    }
    int64_t shape[NB_MAX_RANK];
    int rx = rank_of(x);
    const int64_t *xs = shape_of(x);
    size_t total = count_of(rx, xs), known = 1;
    int minus = -1;
    for (size_t k = 0; k < ns; k++) {
        double d = s->v[k];
        if (d == 0 && !attr_i(r->node, "allowzero", 0)) {
            if ((int)k >= rx) {
                return fail(r, NB_ERR_SHAPE, "dimension %zu copies an axis the input lacks", k);
            }
            shape[k] = xs[k];
        } else if (d == -1 && minus < 0) {
            minus = (int)k;
            shape[k] = 1;
        } else if (d >= 1 && d <= INT32_MAX) {
            shape[k] = (int64_t)d;
        } else {
            return fail(r, NB_ERR_SHAPE, "dimension %g is not supported", d);
        }
        known *= (size_t)shape[k];
    }
    if (minus >= 0) {
        if (known == 0 || total % known) {
            return fail(r, NB_ERR_SHAPE, "-1 cannot be inferred");
        }
        shape[minus] = (int64_t)(total / known);
    }
    return reshape_to(r, x, (int)ns, shape);
}

static bool op_flatten(orr *r)
{
    oval *x = in(r, 0, true);
    if (!x || !known_attrs(r, r->node, (const char *[]){ "axis", NULL })) {
        return false;
    }
    int rx = rank_of(x);
    int64_t ax = attr_i(r->node, "axis", 1);
    if (ax < 0) {
        ax += rx;
    }
    if (ax < 0 || ax > rx) {
        return fail(r, NB_ERR_AXIS, "axis %lld is outside 0..%d", (long long)ax, rx);
    }
    int64_t shape[2] = { (int64_t)count_of((int)ax, shape_of(x)),
                         (int64_t)count_of(rx - (int)ax, shape_of(x) + ax) };
    return reshape_to(r, x, 2, shape);
}

/* The axes of Squeeze/Unsqueeze/Reduce*: the input (opset 13) or the attribute; n -1 when none. */
static bool axes_arg(orr *r, int k, int64_t *axes, int *n)
{
    int c = attr_ints(r->node, "axes", axes, NB_MAX_RANK);
    if (c == -2) {
        return fail(r, NB_ERR_AXIS, "more than %d axes", NB_MAX_RANK);
    }
    *n = c;
    oval *a = (size_t)k < r->node->n_input && r->node->input[k] && *r->node->input[k]
                  ? cin(r, k, true)
                  : NULL;
    if (r->st != NB_OK) {
        return false;
    }
    if (a) {
        size_t cnt = count_of(a->rank, a->shape);
        if (cnt > NB_MAX_RANK) {
            return fail(r, NB_ERR_AXIS, "more than %d axes", NB_MAX_RANK);
        }
        for (size_t q = 0; q < cnt; q++) {
            axes[q] = to_i64(a->v[q]);
        }
        *n = (int)cnt;
    }
    return true;
}

static bool op_squeeze(orr *r, bool un)
{
    oval *x = in(r, 0, true);
    int64_t axes[NB_MAX_RANK];
    int na;
    if (!x || !axes_arg(r, 1, axes, &na)) {
        return false;
    }
    int rx = rank_of(x);
    const int64_t *xs = shape_of(x);
    int64_t shape[NB_MAX_RANK];
    int ro = un ? rx + (na > 0 ? na : 0) : 0;
    if (un) {
        if (na <= 0 || ro > NB_MAX_RANK) {
            return fail(r, NB_ERR_AXIS, "Unsqueeze needs 1 to %d axes", NB_MAX_RANK - rx);
        }
        bool is_new[NB_MAX_RANK] = { 0 };
        for (int k = 0; k < na; k++) {
            int a = norm_axis(r, axes[k], ro);
            if (a < 0 || is_new[a]) {
                return a < 0 ? false : fail(r, NB_ERR_AXIS, "an axis is listed twice");
            }
            is_new[a] = true;
        }
        for (int k = 0, j = 0; k < ro; k++) {
            shape[k] = is_new[k] ? 1 : xs[j++];
        }
    } else {
        bool drop[NB_MAX_RANK] = { 0 };
        for (int k = 0; k < na; k++) {
            int a = norm_axis(r, axes[k], rx);
            if (a < 0) {
                return false;
            }
            if (xs[a] != 1) {
                return fail(r, NB_ERR_SHAPE, "axis %d has size %lld, not 1", a, (long long)xs[a]);
            }
            drop[a] = true;
        }
        for (int k = 0; k < rx; k++) {
            if (na < 0 ? xs[k] != 1 : !drop[k]) {
                shape[ro++] = xs[k];
            }
        }
    }
    return reshape_to(r, x, ro, shape);
}

static bool op_transpose(orr *r)
{
    oval *x = in(r, 0, true);
    if (!x) {
        return false;
    }
    int rx = rank_of(x);
    int64_t p[NB_MAX_RANK];
    int np = attr_ints(r->node, "perm", p, NB_MAX_RANK);
    if (np == -1) {
        for (int k = 0; k < rx; k++) {
            p[k] = rx - 1 - k;
        }
        np = rx;
    }
    if (np != rx) {
        return fail(r, NB_ERR_ARG, "perm has %d entries for rank %d", np, rx);
    }
    int perm[NB_MAX_RANK];
    for (int k = 0; k < rx; k++) {
        if (p[k] < -rx || p[k] >= rx) {
            return fail(r, NB_ERR_AXIS, "perm entry %lld is outside rank %d", (long long)p[k], rx);
        }
        perm[k] = (int)p[k];
    }
    nb_node *n = inode(r, 0);
    return n && out_node(r, 0, nb_permute(r->g, n, rx, perm));
}

static bool op_concat(orr *r)
{
    size_t ni = r->node->n_input;
    if (ni == 0 || ni > 4096) {
        return fail(r, NB_ERR_ARG, "%zu inputs", ni);
    }
    bool all_const = true;
    for (size_t k = 0; k < ni; k++) {
        oval *v = in(r, (int)k, true);
        if (!v) {
            return false;
        }
        all_const = all_const && v->v && !v->node && !v->init;
    }
    int64_t axis = attr_i(r->node, "axis", 0);
    if (all_const) { /* shape lists: 1-D only */
        size_t total = 0;
        for (size_t k = 0; k < ni; k++) {
            oval *v = in(r, (int)k, true);
            if (v->rank != 1) {
                all_const = false;
                break;
            }
            total += (size_t)v->shape[0];
        }
        if (all_const) {
            int64_t s = (int64_t)total;
            oval *first = in(r, 0, true);
            oval *o = add_const(r, r->node->output[0], first->dt, 1, &s);
            if (!o) {
                return false;
            }
            size_t at = 0;
            for (size_t k = 0; k < ni; k++) {
                oval *v = find(r, r->node->input[k]);
                nbi_ocopy(o->v + at, v->v, (size_t)v->shape[0] * sizeof *o->v);
                at += (size_t)v->shape[0];
            }
            return true;
        }
    }
    nb_node **xs = malloc(ni * sizeof *xs);
    if (!xs) {
        return fail(r, NB_ERR_NOMEM, "out of memory");
    }
    bool ok = true;
    for (size_t k = 0; k < ni && ok; k++) {
        xs[k] = inode(r, (int)k);
        ok = xs[k] != NULL;
    }
    if (ok) {
        int ax = norm_axis(r, axis, nb_node_rank(xs[0]));
        ok = ax >= 0 && out_node(r, 0, nb_concat(r->g, (int)ni, xs, ax));
    }
    free(xs);
    return ok;
}

static bool op_shape(orr *r)
{
    oval *x = in(r, 0, true);
    if (!x) {
        return false;
    }
    int rx = rank_of(x);
    int64_t s = attr_i(r->node, "start", 0), e = attr_i(r->node, "end", rx);
    s = s < 0 ? s + rx : s;
    e = e < 0 ? e + rx : e;
    s = s < 0 ? 0 : s > rx ? rx : s;
    e = e < s ? s : e > rx ? rx : e;
    int64_t len = e - s;
    oval *o = add_const(r, r->node->output[0], NBI_ONNX_INT64, 1, &len);
    if (!o) {
        return false;
    }
    for (int64_t k = 0; k < len; k++) {
        o->v[k] = (double)shape_of(x)[s + k];
    }
    return true;
}

static bool op_constant(orr *r)
{
    const Onnx__NodeProto *n = r->node;
    if (n->n_output < 1) {
        return fail(r, NB_ERR_FORMAT, "no output");
    }
    const Onnx__AttributeProto *a = n->n_attribute == 1 ? n->attribute[0] : NULL;
    if (!a || !a->name) {
        return fail(r, NB_ERR_ARG, "a Constant takes exactly one value attribute");
    }
    oval *o;
    if (strcmp(a->name, "value") == 0 && a->t) {
        return read_tensor(r, a->t, n->output[0]) != NULL;
    } else if (strcmp(a->name, "value_float") == 0 || strcmp(a->name, "value_int") == 0) {
        bool f = a->name[6] == 'f';
        if (!(o = add_const(r, n->output[0], f ? NBI_ONNX_FLOAT : NBI_ONNX_INT64, 0, NULL))) {
            return false;
        }
        o->v[0] = f ? a->f : (double)a->i;
        return true;
    } else if (strcmp(a->name, "value_floats") == 0 || strcmp(a->name, "value_ints") == 0) {
        bool f = a->name[6] == 'f';
        int64_t len = (int64_t)(f ? a->n_floats : a->n_ints);
        if (!(o = add_const(r, n->output[0], f ? NBI_ONNX_FLOAT : NBI_ONNX_INT64, 1, &len))) {
            return false;
        }
        for (int64_t k = 0; k < len; k++) {
            o->v[k] = f ? a->floats[k] : (double)a->ints[k];
        }
        return true;
    }
    return fail(r, NB_ERR_ARG, "attribute '%s' is not supported", a->name);
}

static bool op_constant_of_shape(orr *r)
{
    oval *s = cin(r, 0, true);
    if (!s) {
        return false;
    }
    size_t ns = count_of(s->rank, s->shape);
    if (s->rank != 1 || ns > NB_MAX_RANK) {
        return fail(r, NB_ERR_SHAPE, "the shape must list at most %d dimensions", NB_MAX_RANK);
    }
    int64_t shape[NB_MAX_RANK];
    for (size_t k = 0; k < ns; k++) {
        shape[k] = to_i64(s->v[k]);
    }
    double value = 0;
    int dt = NBI_ONNX_FLOAT;
    const Onnx__AttributeProto *a = attr(r->node, "value");
    if (a && a->t) {
        size_t mark = r->n_vals;
        oval *t = read_tensor(r, a->t, "value");
        if (!t || count_of(t->rank, t->shape) != 1) {
            return t ? fail(r, NB_ERR_ARG, "value must hold one element") : false;
        }
        value = t->v[0];
        dt = t->dt;
        free(t->v);
        free(t);
        r->n_vals = mark;
    }
    oval *o = add_const(r, r->node->output[0], dt, (int)ns, shape);
    if (!o) {
        return false;
    }
    size_t cnt = count_of(o->rank, o->shape);
    for (size_t k = 0; k < cnt; k++) {
        o->v[k] = value;
    }
    return true;
}

static bool op_cast(orr *r)
{
    oval *x = in(r, 0, true);
    if (!x) {
        return false;
    }
    int64_t to = attr_i(r->node, "to", 0);
    if (x->v && !x->node && !x->init) {
        if (!alias(r)) {
            return false;
        }
        oval *o = r->vals[r->n_vals - 1];
        size_t cnt = count_of(o->rank, o->shape);
        for (size_t k = 0; k < cnt; k++) {
            double v = o->v[k];
            o->v[k] = to == NBI_ONNX_BOOL ? v != 0
                      : is_float((int)to) ? (to == NBI_ONNX_FLOAT ? (float)v : v)
                                          : (isfinite(v) ? trunc(v) : 0);
        }
        o->dt = (int)to;
        return true;
    }
    bool xf = x->node ? nb_node_dtype(x->node) != NB_DTYPE_I32 : is_float(x->dt);
    if (to == NBI_ONNX_BOOL || (is_float((int)to) && (xf || x->boolean))) {
        return alias(r); /* 0/1 floats serve as bools; floats stay in the graph's dtype */
    }
    return fail(r, NB_ERR_DTYPE, "a cast to ONNX type %lld at run time is not supported",
                (long long)to);
}

static bool op_gather(orr *r)
{
    oval *x = in(r, 0, true), *ix = in(r, 1, true);
    if (!x || !ix) {
        return false;
    }
    int rx = rank_of(x);
    int axis = norm_axis(r, attr_i(r->node, "axis", 0), rx);
    if (axis < 0) {
        return false;
    }
    int64_t len = shape_of(x)[axis];
    if (ix->v && !ix->node) {
        size_t ni = count_of(ix->rank, ix->shape);
        if (is_float(ix->dt) || ix->boolean) {
            /* a float index could round into range here and out of it once exported */
            return fail(r, NB_ERR_DTYPE, "indices must be int32 or int64, got ONNX type %d",
                        ix->dt);
        }
        for (size_t k = 0; k < ni; k++) {
            if (ix->v[k] != floor(ix->v[k])) {
                return fail(r, NB_ERR_VALUE, "index %g is not an integer", ix->v[k]);
            }
            if (ix->v[k] < -len || ix->v[k] >= len) {
                return fail(r, NB_ERR_VALUE, "index %g is outside an axis of %lld", ix->v[k],
                            (long long)len);
            }
        }
        if (x->v && !x->node && !x->init && rx == 1 && ix->rank <= 1) { /* Shape -> Gather */
            oval *o = add_const(r, r->node->output[0], x->dt, ix->rank, ix->shape);
            if (!o) {
                return false;
            }
            for (size_t k = 0; k < ni; k++) {
                double i = ix->v[k];
                o->v[k] = x->v[(size_t)(i < 0 ? i + (double)len : i)];
            }
            return true;
        }
        nb_node *n = inode(r, 0);
        if (!n) {
            return false;
        }
        if (ix->rank == 0) { /* one index: a slice with the axis removed */
            int64_t i = (int64_t)ix->v[0];
            i = i < 0 ? i + len : i;
            nb_node *s = nb_slice(r->g, n, axis, i, i + 1, 1);
            int64_t shape[NB_MAX_RANK];
            for (int k = 0, j = 0; k < rx; k++) {
                if (k != axis) {
                    shape[j++] = nb_node_shape(n)[k];
                }
            }
            return out_node(r, 0, nb_reshape(r->g, s, rx - 1, shape));
        }
        /* negative indices count from the end */
        for (size_t k = 0; k < ni; k++) {
            if (ix->v[k] < 0) {
                ix->v[k] += (double)len;
            }
        }
        nb_node *idx = mat(r, ix, NB_DTYPE_I32);
        if (!idx) {
            return false;
        }
        if (ix->rank == 1) {
            return out_node(r, 0, nb_gather(r->g, n, idx, axis));
        }
        if (axis == 0 && rx == 2) {
            return out_node(r, 0, nb_embedding(r->g, idx, n));
        }
        return fail(r, NB_ERR_RANK, "indices of rank %d on axis %d are not supported", ix->rank,
                    axis);
    }
    nb_node *n = inode(r, 0), *idx = inode(r, 1);
    if (!n || !idx) {
        return false;
    }
    if (nb_node_dtype(idx) != NB_DTYPE_I32) {
        return fail(r, NB_ERR_DTYPE, "indices computed as floats are not supported");
    }
    if (nb_node_rank(idx) == 1) {
        return out_node(r, 0, nb_gather(r->g, n, idx, axis));
    }
    if (axis == 0 && rx == 2) {
        return out_node(r, 0, nb_embedding(r->g, idx, n));
    }
    return fail(r, NB_ERR_RANK, "indices of rank %d on axis %d are not supported",
                nb_node_rank(idx), axis);
}

static bool op_slice(orr *r)
{
    oval *x = in(r, 0, true);
    if (!x) {
        return false;
    }
    int rx = rank_of(x);
    double st[NB_MAX_RANK], en[NB_MAX_RANK], stp[NB_MAX_RANK];
    int64_t ax[NB_MAX_RANK];
    int n = 0;
    if (r->node->n_input >= 3) {
        oval *s = cin(r, 1, true), *e = cin(r, 2, true);
        oval *a = cin(r, 3, false), *p = cin(r, 4, false);
        if (!s || !e || r->st != NB_OK) {
            return false;
        }
        size_t ns = count_of(s->rank, s->shape);
        if (ns > NB_MAX_RANK || count_of(e->rank, e->shape) != ns ||
            (a && count_of(a->rank, a->shape) != ns) || (p && count_of(p->rank, p->shape) != ns)) {
            return fail(r, NB_ERR_ARG, "starts, ends, axes and steps differ in length");
        }
        n = (int)ns;
        for (int k = 0; k < n; k++) {
            st[k] = s->v[k];
            en[k] = e->v[k];
            ax[k] = a ? to_i64(a->v[k]) : k;
            stp[k] = p ? p->v[k] : 1;
        }
    } else { /* opset 1-9: attributes */
        int64_t s[NB_MAX_RANK], e[NB_MAX_RANK];
        n = attr_ints(r->node, "starts", s, NB_MAX_RANK);
        if (n < 0 || attr_ints(r->node, "ends", e, NB_MAX_RANK) != n) {
            return fail(r, NB_ERR_ARG, "starts and ends are missing or differ in length");
        }
        int na = attr_ints(r->node, "axes", ax, NB_MAX_RANK);
        for (int k = 0; k < n; k++) {
            st[k] = (double)s[k];
            en[k] = (double)e[k];
            stp[k] = 1;
            if (na != n) {
                ax[k] = k;
            }
        }
    }
    /* each axis in turn; a constant 1-D input is sliced at import */
    oval cur = *x;
    const int64_t *xs = shape_of(x);
    int64_t shape[NB_MAX_RANK];
    nbi_ocopy(shape, xs, (size_t)rx * sizeof *shape);
    nb_node *node = NULL;
    bool fold = x->v && !x->node && !x->init && rx == 1;
    double *fv = NULL;
    size_t fcount = 0;
    for (int k = 0; k < n; k++) {
        int a = norm_axis(r, ax[k], rx);
        if (a < 0) {
            free(fv);
            return false;
        }
        double len = (double)shape[a], s = st[k], e = en[k], step = stp[k];
        if (step != 1 && !(step > 1 && step <= INT32_MAX && step == floor(step))) {
            free(fv);
            return fail(r, NB_ERR_ARG, "step %g is not supported (integer steps >= 1 only)", step);
        }
        if (s != floor(s) || e != floor(e)) { /* NaN or a fraction, from a float tensor */
            free(fv);
            return fail(r, NB_ERR_ARG, "the start %g and end %g of axis %d are not integers", s, e,
                        a);
        }
        s = s < 0 ? s + len : s;
        e = e < 0 ? e + len : e;
        s = s < 0 ? 0 : s > len ? len : s;
        e = e < 0 ? 0 : e > len ? len : e;
        if (e <= s) {
            free(fv);
            return fail(r, NB_ERR_SHAPE, "the slice of axis %d is empty", a);
        }
        if (fold) {
            const double *src = fv ? fv : x->v;
            size_t cnt = (size_t)((e - s + step - 1) / step);
            double *nv = malloc(cnt * sizeof *nv);
            if (!nv) {
                free(fv);
                return fail(r, NB_ERR_NOMEM, "out of memory");
            }
            for (size_t q = 0; q < cnt; q++) {
                nv[q] = src[(size_t)s + q * (size_t)step];
            }
            free(fv);
            fv = nv;
            fcount = cnt;
            shape[0] = (int64_t)cnt;
            continue;
        }
        if (!node) {
            node = mat(r, x,
                       x->node           ? nb_node_dtype(x->node)
                       : is_float(x->dt) ? r->fdt
                                         : NB_DTYPE_I32);
            if (!node) {
                return false;
            }
        }
        node = nb_slice(r->g, node, a, (int64_t)s, (int64_t)e, (int64_t)step);
        if (!graph_ok(r)) {
            return false;
        }
        shape[a] = nb_node_shape(node)[a];
    }
    (void)cur;
    if (fold) {
        int64_t len = fv ? (int64_t)fcount : x->shape[0];
        oval *o = add_const(r, r->node->output[0], x->dt, 1, &len);
        if (!o) {
            free(fv);
            return false;
        }
        nbi_ocopy(o->v, fv ? fv : x->v, (size_t)len * sizeof *o->v);
        free(fv);
        return true;
    }
    if (!node) {
        return alias(r);
    }
    return out_node(r, 0, node);
}

static bool op_split(orr *r)
{
    nb_node *x = inode(r, 0);
    if (!x) {
        return false;
    }
    int axis = norm_axis(r, attr_i(r->node, "axis", 0), nb_node_rank(x));
    if (axis < 0) {
        return false;
    }
    size_t no = r->node->n_output;
    int64_t len = nb_node_shape(x)[axis];
    if (no == 0 || no > (size_t)len) {
        return fail(r, NB_ERR_ARG, "%zu outputs for an axis of %lld", no, (long long)len);
    }
    int64_t parts[64];
    if (no > 64) {
        return fail(r, NB_ERR_ARG, "more than 64 outputs");
    }
    oval *s = cin(r, 1, false);
    int na = attr_ints(r->node, "split", parts, 64);
    if (r->st != NB_OK) {
        return false;
    }
    if (s) {
        if (count_of(s->rank, s->shape) != no) {
            return fail(r, NB_ERR_ARG, "split lists another number of parts than outputs");
        }
        for (size_t k = 0; k < no; k++) {
            parts[k] = to_i64(s->v[k]);
        }
    } else if (na != (int)no) {
        int64_t each = (len + (int64_t)no - 1) / (int64_t)no;
        for (size_t k = 0; k < no; k++) {
            parts[k] = k + 1 < no ? each : len - each * (int64_t)(no - 1);
        }
    }
    int64_t at = 0;
    for (size_t k = 0; k < no; k++) {
        if (parts[k] < 1 || parts[k] > len - at) {
            return fail(r, NB_ERR_SHAPE, "the parts do not fit the axis of %lld", (long long)len);
        }
        if (!out_node(r, (int)k, nb_slice(r->g, x, axis, at, at + parts[k], 1))) {
            return false;
        }
        at += parts[k];
    }
    return at == len || fail(r, NB_ERR_SHAPE, "the parts do not cover the axis");
}

static bool op_pad(orr *r)
{
    nb_node *x = inode(r, 0);
    if (!x) {
        return false;
    }
    const Onnx__AttributeProto *mode = attr(r->node, "mode");
    if (mode && mode->has_s && !(mode->s.len == 8 && memcmp(mode->s.data, "constant", 8) == 0)) {
        return fail(r, NB_ERR_ARG, "only mode \"constant\" is supported");
    }
    int rx = nb_node_rank(x);
    int64_t p[2 * NB_MAX_RANK];
    int np = attr_ints(r->node, "pads", p, 2 * NB_MAX_RANK);
    double value = attr_f(r->node, "value", 0);
    oval *pv = cin(r, 1, false), *cv = cin(r, 2, false);
    if (r->st != NB_OK) {
        return false;
    }
    if (pv) {
        size_t cnt = count_of(pv->rank, pv->shape);
        if (cnt > 2 * NB_MAX_RANK) {
            return fail(r, NB_ERR_ARG, "too many pads");
        }
        for (size_t k = 0; k < cnt; k++) {
            p[k] = to_i64(pv->v[k]);
        }
        np = (int)cnt;
    }
    if (cv && count_of(cv->rank, cv->shape) >= 1) {
        value = cv->v[0];
    }
    if (np != 2 * rx) {
        return fail(r, NB_ERR_ARG, "%d pads for rank %d", np, rx);
    }
    int64_t pads[2 * NB_MAX_RANK];
    for (int k = 0; k < rx; k++) {
        pads[2 * k] = p[k];
        pads[2 * k + 1] = p[rx + k];
        if (p[k] < 0 || p[rx + k] < 0 || p[k] > INT32_MAX || p[rx + k] > INT32_MAX) {
            return fail(r, NB_ERR_ARG, "negative or huge pads are not supported");
        }
    }
    return out_node(r, 0, nb_pad(r->g, x, 2 * rx, pads, value));
}

static bool op_gemm(orr *r)
{
    nb_node *a = fnode(r, 0), *b = fnode(r, 1);
    if (!a || !b ||
        !known_attrs(r, r->node, (const char *[]){ "alpha", "beta", "transA", "transB", NULL })) {
        return false;
    }
    int flags = (attr_i(r->node, "transA", 0) ? NB_TRANS_A : 0) |
                (attr_i(r->node, "transB", 0) ? NB_TRANS_B : 0);
    nb_node *y = nb_matmul_ex(r->g, a, b, flags);
    double alpha = attr_f(r->node, "alpha", 1), beta = attr_f(r->node, "beta", 1);
    if (alpha != 1) {
        y = nb_mul(r->g, y, nb_scalar(r->g, r->fdt, alpha));
    }
    if (in(r, 2, false)) {
        nb_node *c = fnode(r, 2);
        if (!c) {
            return false;
        }
        if (beta != 1) {
            c = nb_mul(r->g, c, nb_scalar(r->g, r->fdt, beta));
        }
        y = nb_add(r->g, y, c);
    }
    return r->st == NB_OK && out_node(r, 0, y);
}

/* Conv, ConvTranspose, MaxPool, AveragePool: the spatial attributes. */
typedef struct spat {
    int nsp;
    int64_t k[2], s[2], p[4], d[2], op[2];
} spat;

static bool spatial(orr *r, int nsp, spat *sp, bool need_kernel)
{
    const Onnx__AttributeProto *ap = attr(r->node, "auto_pad");
    if (ap && ap->has_s && !(ap->s.len == 6 && memcmp(ap->s.data, "NOTSET", 6) == 0)) {
        return fail(r, NB_ERR_ARG, "auto_pad other than NOTSET is not supported; give pads");
    }
    sp->nsp = nsp;
    int64_t tmp[4];
    int n;
    for (int q = 0; q < 2; q++) {
        sp->k[q] = 1;
        sp->s[q] = 1;
        sp->d[q] = 1;
        sp->op[q] = 0;
    }
    memset(sp->p, 0, sizeof sp->p);
    if ((n = attr_ints(r->node, "kernel_shape", tmp, 2)) >= 0) {
        if (n != nsp) {
            return fail(r, NB_ERR_ARG, "kernel_shape has %d entries for %d spatial axes", n, nsp);
        }
        nbi_ocopy(sp->k, tmp, (size_t)n * sizeof *tmp);
    } else if (need_kernel) {
        return fail(r, NB_ERR_ARG, "kernel_shape is missing");
    }
    static const char *const names[] = { "strides", "dilations", "output_padding" };
    int64_t *dst[] = { sp->s, sp->d, sp->op };
    for (int a = 0; a < 3; a++) {
        if ((n = attr_ints(r->node, names[a], tmp, 2)) >= 0) {
            if (n != nsp) {
                return fail(r, NB_ERR_ARG, "%s has %d entries for %d spatial axes", names[a], n,
                            nsp);
            }
            nbi_ocopy(dst[a], tmp, (size_t)n * sizeof *tmp);
        }
    }
    if ((n = attr_ints(r->node, "pads", tmp, 4)) >= 0) {
        if (n != 2 * nsp) {
            return fail(r, NB_ERR_ARG, "pads has %d entries for %d spatial axes", n, nsp);
        }
        for (int q = 0; q < nsp; q++) {
            if (tmp[q] != tmp[nsp + q]) {
                return fail(r, NB_ERR_ARG,
                            "pads differ at the start and end of an axis (%lld, %lld); "
                            "only symmetric padding is supported",
                            (long long)tmp[q], (long long)tmp[nsp + q]);
            }
            sp->p[q] = tmp[q];
        }
    }
    for (int q = 0; q < nsp; q++) {
        if (sp->k[q] < 1 || sp->k[q] > INT32_MAX || sp->s[q] < 1 || sp->s[q] > INT32_MAX ||
            sp->d[q] < 1 || sp->d[q] > INT32_MAX || sp->p[q] < 0 || sp->p[q] > INT32_MAX ||
            sp->op[q] < 0 || sp->op[q] > INT32_MAX) {
            return fail(r, NB_ERR_ARG, "a kernel, stride, dilation or padding is out of range");
        }
    }
    return true;
}

static bool op_conv(orr *r, bool transpose)
{
    nb_node *x = fnode(r, 0), *w = fnode(r, 1);
    nb_node *b = in(r, 2, false) ? fnode(r, 2) : NULL;
    if (!x || !w || r->st != NB_OK) {
        return false;
    }
    int nsp = nb_node_rank(x) - 2;
    if (nsp < 1 || nsp > 2 || (transpose && nsp != 2)) {
        return fail(r, NB_ERR_RANK, "input of rank %d; nabla has %s", nb_node_rank(x),
                    transpose ? "2-d transposed convolutions" : "1-d and 2-d convolutions");
    }
    if (attr(r->node, "output_shape")) {
        return fail(r, NB_ERR_ARG, "output_shape is not supported; give output_padding");
    }
    spat sp;
    if (!known_attrs(r, r->node,
                     (const char *[]){ "kernel_shape", "strides", "pads", "dilations", "group",
                                       "auto_pad", "output_padding", NULL }) ||
        !spatial(r, nsp, &sp, false)) {
        return false;
    }
    int64_t g = attr_i(r->node, "group", 1);
    if (g < 1 || g > INT32_MAX) {
        return fail(r, NB_ERR_ARG, "group %lld is out of range", (long long)g);
    }
    nb_conv_opts o = { .groups = (int)g };
    for (int q = 0; q < nsp; q++) {
        o.stride[q] = (int)sp.s[q];
        o.padding[q] = (int)sp.p[q];
        o.dilation[q] = (int)sp.d[q];
        o.output_padding[q] = (int)sp.op[q];
    }
    if (!transpose && (sp.op[0] || sp.op[1])) {
        return fail(r, NB_ERR_ARG, "output_padding is ConvTranspose's");
    }
    nb_node *y = transpose  ? nb_conv_transpose2d(r->g, x, w, b, &o)
                 : nsp == 2 ? nb_conv2d(r->g, x, w, b, &o)
                            : nb_conv1d(r->g, x, w, b, &o);
    return out_node(r, 0, y);
}

static bool op_pool(orr *r, bool max)
{
    nb_node *x = fnode(r, 0);
    if (!x) {
        return false;
    }
    int nsp = nb_node_rank(x) - 2;
    if (nsp < 1 || nsp > 2) {
        return fail(r, NB_ERR_RANK, "input of rank %d; nabla pools 1-d and 2-d", nb_node_rank(x));
    }
    if (r->node->n_output > 1) {
        return fail(r, NB_ERR_ARG, "the Indices output is not supported");
    }
    spat sp;
    if (!known_attrs(r, r->node,
                     (const char *[]){ "kernel_shape", "strides", "pads", "dilations", "auto_pad",
                                       "ceil_mode", "count_include_pad", "storage_order", NULL }) ||
        !spatial(r, nsp, &sp, true)) {
        return false;
    }
    if (attr_i(r->node, "ceil_mode", 0)) {
        return fail(r, NB_ERR_ARG, "ceil_mode 1 is not supported");
    }
    if (sp.d[0] != 1 || sp.d[1] != 1) {
        return fail(r, NB_ERR_ARG, "dilated pooling is not supported");
    }
    if (!max && !attr_i(r->node, "count_include_pad", 0) && (sp.p[0] || sp.p[1])) {
        return fail(r, NB_ERR_ARG,
                    "padding with count_include_pad 0 is not supported "
                    "(nabla's average counts the padding)");
    }
    nb_node *y;
    if (nsp == 2) {
        y = (max ? nb_max_pool2d : nb_avg_pool2d)(r->g, x, (int)sp.k[0], (int)sp.k[1], (int)sp.s[0],
                                                  (int)sp.s[1], (int)sp.p[0], (int)sp.p[1]);
    } else {
        y = (max ? nb_max_pool1d : nb_avg_pool1d)(r->g, x, (int)sp.k[0], (int)sp.s[0],
                                                  (int)sp.p[0]);
    }
    return out_node(r, 0, y);
}

static bool op_reduce(orr *r, int which)
{
    nb_node *x = fnode(r, 0);
    int64_t axes[NB_MAX_RANK];
    int na;
    if (!x || !axes_arg(r, 1, axes, &na)) {
        return false;
    }
    bool keep = attr_i(r->node, "keepdims", 1) != 0;
    if (na <= 0 && attr_i(r->node, "noop_with_empty_axes", 0)) {
        return alias(r);
    }
    int ax[NB_MAX_RANK];
    for (int k = 0; k < na; k++) {
        ax[k] = norm_axis(r, axes[k], nb_node_rank(x));
        if (ax[k] < 0) {
            return false;
        }
    }
    if (na <= 0) {
        na = nb_node_rank(x);
        for (int k = 0; k < na; k++) {
            ax[k] = k;
        }
    }
    nb_node *(*const fns[])(nb_graph *, nb_node *, int, const int *,
                            bool) = { nb_mean_axes, nb_sum_axes, nb_max_axes, nb_min_axes,
                                      nb_logsumexp_axes };
    nb_node *(*fn)(nb_graph *, nb_node *, int, const int *, bool) = fns[which];
    return out_node(r, 0, fn(r->g, x, na, ax, keep));
}

static bool op_expand(orr *r)
{
    nb_node *x = inode(r, 0);
    oval *s = cin(r, 1, true);
    if (!x || !s) {
        return false;
    }
    size_t ns = count_of(s->rank, s->shape);
    if (s->rank != 1 || ns > NB_MAX_RANK) {
        return fail(r, NB_ERR_SHAPE, "the shape must list at most %d dimensions", NB_MAX_RANK);
    }
    /* numpy broadcasting of x's shape with the given one */
    int rx = nb_node_rank(x), ro = (int)ns > rx ? (int)ns : rx;
    int64_t shape[NB_MAX_RANK];
    for (int k = 0; k < ro; k++) {
        int kx = k - (ro - rx), ks = k - (ro - (int)ns);
        int64_t a = kx >= 0 ? nb_node_shape(x)[kx] : 1, b = ks >= 0 ? to_i64(s->v[ks]) : 1;
        if (b < 1 || b > INT32_MAX || (a != b && a != 1 && b != 1)) {
            return fail(r, NB_ERR_SHAPE, "the shape does not broadcast with the input's");
        }
        shape[k] = a == 1 ? b : a;
    }
    return out_node(r, 0, nb_broadcast_to(r->g, x, ro, shape));
}

static bool op_softmax(orr *r, bool log)
{
    nb_node *x = fnode(r, 0);
    if (!x) {
        return false;
    }
    int axis = norm_axis(r, attr_i(r->node, "axis", -1), nb_node_rank(x));
    return axis >= 0 && out_node(r, 0, (log ? nb_log_softmax : nb_softmax)(r->g, x, axis));
}

static bool op_clip(orr *r)
{
    nb_node *x = fnode(r, 0);
    if (!x) {
        return false;
    }
    double lo = attr_f(r->node, "min", -INFINITY), hi = attr_f(r->node, "max", INFINITY);
    oval *l = cin(r, 1, false), *h = cin(r, 2, false);
    if (r->st != NB_OK) {
        return false;
    }
    if (l && count_of(l->rank, l->shape) == 1) {
        lo = l->v[0];
    }
    if (h && count_of(h->rank, h->shape) == 1) {
        hi = h->v[0];
    }
    return out_node(r, 0, nb_clamp(r->g, x, lo, hi));
}

static bool op_pow(orr *r)
{
    nb_node *x = fnode(r, 0);
    oval *p = cin(r, 1, true);
    if (!x || !p) {
        return false;
    }
    if (count_of(p->rank, p->shape) != 1) {
        return fail(r, NB_ERR_ARG, "the exponent must be one number known at import");
    }
    return out_node(r, 0, nb_pow(r->g, x, p->v[0]));
}

static bool op_minmax(orr *r, bool max)
{
    size_t ni = r->node->n_input;
    if (ni < 1) {
        return fail(r, NB_ERR_ARG, "no inputs");
    }
    nb_node *y = fnode(r, 0);
    for (size_t k = 1; k < ni && y; k++) {
        nb_node *b = fnode(r, (int)k);
        y = b ? (max ? nb_maximum : nb_minimum)(r->g, y, b) : NULL;
    }
    return y && out_node(r, 0, y);
}

static bool op_where(orr *r)
{
    oval *c = in(r, 0, true);
    nb_node *a = fnode(r, 1), *b = fnode(r, 2);
    if (!c || !a || !b) {
        return false;
    }
    nb_node *cn = mat(r, c, c->node ? nb_node_dtype(c->node) : NB_DTYPE_I32);
    return cn && out_node(r, 0, nb_where(r->g, cn, a, b));
}

static bool op_batch_norm(orr *r)
{
    if (attr_i(r->node, "training_mode", 0)) {
        return fail(r, NB_ERR_ARG, "training_mode 1 is not supported (export in eval mode)");
    }
    if (r->node->n_output > 1) {
        return fail(r, NB_ERR_ARG, "the running statistics outputs are not supported");
    }
    oval *m = in(r, 3, true), *v = in(r, 4, true);
    if (!m || !v) {
        return false;
    }
    if (!m->node && !v->node) {
        m->state = v->state = true;
    }
    nb_node *x = fnode(r, 0), *w = fnode(r, 1), *b = fnode(r, 2);
    nb_node *rm = fnode(r, 3), *rv = fnode(r, 4);
    if (!x || !w || !b || !rm || !rv) {
        return false;
    }
    double mom = attr_f(r->node, "momentum", 0.9);
    return out_node(
        r, 0, nb_batch_norm(r->g, x, w, b, rm, rv, 1 - mom, attr_f(r->node, "epsilon", 1e-5)));
}

static bool op_layer_norm(orr *r)
{
    nb_node *x = fnode(r, 0);
    if (!x) {
        return false;
    }
    int axis = norm_axis(r, attr_i(r->node, "axis", -1), nb_node_rank(x));
    if (axis < 0) {
        return false;
    }
    if (axis != nb_node_rank(x) - 1) {
        return fail(r, NB_ERR_AXIS, "normalizing from axis %d; nabla normalizes the last axis",
                    axis);
    }
    if (r->node->n_output > 1) {
        return fail(r, NB_ERR_ARG, "the Mean and InvStdDev outputs are not supported");
    }
    nb_node *w = fnode(r, 1);
    nb_node *b = in(r, 2, false) ? fnode(r, 2) : NULL;
    if (!w || r->st != NB_OK) {
        return false;
    }
    double eps = attr_f(r->node, "epsilon", 1e-5);
    if (!b) {
        b = nb_fill(r->g, r->fdt, nb_node_rank(w), nb_node_shape(w), 0);
    }
    return out_node(r, 0, nb_layer_norm(r->g, x, w, b, eps));
}

static bool op_dropout(orr *r)
{
    if (r->node->n_output > 1) {
        return fail(r, NB_ERR_ARG, "the mask output is not supported");
    }
    oval *t = cin(r, 2, false);
    if (r->st != NB_OK) {
        return false;
    }
    if (t && count_of(t->rank, t->shape) == 1 && t->v[0] != 0) {
        return fail(r, NB_ERR_ARG, "training_mode true is not supported (export in eval mode)");
    }
    double p = attr_f(r->node, "ratio", 0.5);
    oval *pv = cin(r, 1, false);
    if (r->st != NB_OK) {
        return false;
    }
    if (pv && count_of(pv->rank, pv->shape) == 1) {
        p = pv->v[0];
    }
    nb_node *x = fnode(r, 0);
    return x && out_node(r, 0, nb_dropout(r->g, x, p));
}

/* LSTM (one direction, layout 0): unrolled into matmuls, sigmoids and tanhs, gates i, o, f, c. */
static bool op_lstm(orr *r)
{
    const Onnx__NodeProto *nd = r->node;
    if (!known_attrs(r, nd, (const char *[]){ "hidden_size", "direction", "layout", NULL })) {
        return false;
    }
    const Onnx__AttributeProto *dir = attr(nd, "direction");
    if ((dir && dir->has_s && !(dir->s.len == 7 && memcmp(dir->s.data, "forward", 7) == 0)) ||
        attr_i(nd, "layout", 0) != 0) {
        return fail(r, NB_ERR_ARG, "only forward LSTMs of layout 0 are supported");
    }
    if (in(r, 4, false) || in(r, 7, false)) {
        return fail(r, NB_ERR_ARG, "sequence_lens and peepholes are not supported");
    }
    nb_node *x = fnode(r, 0), *w = fnode(r, 1), *rr = fnode(r, 2);
    nb_node *b = in(r, 3, false) ? fnode(r, 3) : NULL;
    nb_node *h = in(r, 5, false) ? fnode(r, 5) : NULL;
    nb_node *c = in(r, 6, false) ? fnode(r, 6) : NULL;
    if (!x || !w || !rr || r->st != NB_OK) {
        return false;
    }
    int64_t H = attr_i(nd, "hidden_size", 0);
    if (nb_node_rank(x) != 3 || nb_node_rank(w) != 3 || nb_node_rank(rr) != 3 || H < 1 ||
        H > INT32_MAX / 8 || nb_node_shape(w)[0] != 1 || nb_node_shape(w)[1] != 4 * H ||
        nb_node_shape(rr)[1] != 4 * H || nb_node_shape(rr)[2] != H) {
        return fail(r, NB_ERR_SHAPE,
                    "X must be [seq, batch, input], W [1, 4H, input], R [1, 4H, H]");
    }
    int64_t T = nb_node_shape(x)[0], B = nb_node_shape(x)[1], I = nb_node_shape(x)[2];
    nb_graph *g = r->g;
    nb_node *w2 = nb_reshape(g, w, 2, (int64_t[]){ 4 * H, I });
    nb_node *r2 = nb_reshape(g, rr, 2, (int64_t[]){ 4 * H, H });
    nb_node *bias = NULL;
    if (b) {
        nb_node *b2 = nb_reshape(g, b, 1, (int64_t[]){ 8 * H });
        bias = nb_add(g, nb_slice(g, b2, 0, 0, 4 * H, 1), nb_slice(g, b2, 0, 4 * H, 8 * H, 1));
    }
    int64_t bh[2] = { B, H };
    h = h ? nb_reshape(g, h, 2, bh) : nb_fill(g, r->fdt, 2, bh, 0);
    c = c ? nb_reshape(g, c, 2, bh) : nb_fill(g, r->fdt, 2, bh, 0);
    if (T > 100000) {
        return fail(r, NB_ERR_SHAPE, "a sequence of %lld steps is too long to unroll",
                    (long long)T);
    }
    nb_node **ys = malloc((size_t)T * sizeof *ys);
    if (!ys) {
        return fail(r, NB_ERR_NOMEM, "out of memory");
    }
    for (int64_t t = 0; t < T && graph_ok(r); t++) {
        nb_node *xt = nb_reshape(g, nb_slice(g, x, 0, t, t + 1, 1), 2, (int64_t[]){ B, I });
        nb_node *z =
            nb_add(g, nb_matmul_ex(g, xt, w2, NB_TRANS_B), nb_matmul_ex(g, h, r2, NB_TRANS_B));
        if (bias) {
            z = nb_add(g, z, bias);
        }
        nb_node *gi = nb_sigmoid(g, nb_slice(g, z, 1, 0, H, 1));
        nb_node *go = nb_sigmoid(g, nb_slice(g, z, 1, H, 2 * H, 1));
        nb_node *gf = nb_sigmoid(g, nb_slice(g, z, 1, 2 * H, 3 * H, 1));
        nb_node *gc = nb_tanh(g, nb_slice(g, z, 1, 3 * H, 4 * H, 1));
        c = nb_add(g, nb_mul(g, gf, c), nb_mul(g, gi, gc));
        h = nb_mul(g, go, nb_tanh(g, c));
        ys[t] = nb_reshape(g, h, 4, (int64_t[]){ 1, 1, B, H });
    }
    bool ok = graph_ok(r);
    nb_node *y = ok ? (T == 1 ? ys[0] : nb_concat(g, (int)T, ys, 0)) : NULL;
    free(ys);
    if (!ok) {
        return false;
    }
    int64_t s3[3] = { 1, B, H };
    return out_node(r, 0, y) && out_node(r, 1, nb_reshape(g, h, 3, s3)) &&
           out_node(r, 2, nb_reshape(g, c, 3, s3));
}

/* The attributes each operator may carry (another is an error naming it). */
static const struct {
    const char *op, *attrs;
} op_attrs[] = {
    { "Gemm", ",alpha,beta,transA,transB," },
    { "LeakyRelu", ",alpha," },
    { "Elu", ",alpha," },
    { "Softmax", ",axis," },
    { "LogSoftmax", ",axis," },
    { "Clip", ",min,max," },
    { "Conv", ",kernel_shape,strides,pads,dilations,group,auto_pad," },
    { "ConvTranspose",
      ",kernel_shape,strides,pads,dilations,group,auto_pad,output_padding,output_shape," },
    { "MaxPool", ",kernel_shape,strides,pads,dilations,auto_pad,ceil_mode,storage_order," },
    { "AveragePool", ",kernel_shape,strides,pads,auto_pad,ceil_mode,count_include_pad," },
    { "Flatten", ",axis," },
    { "Reshape", ",allowzero," },
    { "Squeeze", ",axes," },
    { "Unsqueeze", ",axes," },
    { "Transpose", ",perm," },
    { "Concat", ",axis," },
    { "Slice", ",starts,ends,axes," },
    { "Split", ",axis,split,num_outputs," },
    { "Gather", ",axis," },
    { "Pad", ",mode,pads,value," },
    { "BatchNormalization", ",epsilon,momentum,training_mode,spatial," },
    { "LayerNormalization", ",axis,epsilon,stash_type," },
    { "Dropout", ",ratio,seed," },
    { "ReduceMean", ",axes,keepdims,noop_with_empty_axes," },
    { "ReduceSum", ",axes,keepdims,noop_with_empty_axes," },
    { "ReduceMax", ",axes,keepdims,noop_with_empty_axes," },
    { "ReduceMin", ",axes,keepdims,noop_with_empty_axes," },
    { "ReduceLogSumExp", ",axes,keepdims,noop_with_empty_axes," },
    { "Constant", ",value,value_float,value_floats,value_int,value_ints," },
    { "ConstantOfShape", ",value," },
    { "Shape", ",start,end," },
    { "Cast", ",to,saturate," },
    { "LSTM", ",hidden_size,direction,layout," },
    { "GRU", ",hidden_size,direction,layout,linear_before_reset," },
};

const char *nbi_onnx_op_attrs(size_t k, const char **op)
{
    if (k >= sizeof op_attrs / sizeof *op_attrs) {
        return NULL;
    }
    *op = op_attrs[k].op;
    return op_attrs[k].attrs;
}

static bool attrs_known(orr *r, const char *op)
{
    const char *allowed = ",";
    for (size_t k = 0; k < sizeof op_attrs / sizeof *op_attrs; k++) {
        if (strcmp(op_attrs[k].op, op) == 0) {
            allowed = op_attrs[k].attrs;
        }
    }
    for (size_t k = 0; k < r->node->n_attribute; k++) {
        const Onnx__AttributeProto *a = r->node->attribute[k];
        const char *name = a && a->name ? a->name : "";
        char key[80];
        snprintf(key, sizeof key, ",%.70s,", name);
        if (!*name || !strstr(allowed, key)) {
            return fail(r, NB_ERR_ARG, "attribute '%s' is not supported", name);
        }
    }
    return true;
}

/* GRU (one direction, layout 0): unrolled as the LSTM, gates z, r, h; linear_before_reset as PyTorch's. */
static bool op_gru(orr *r)
{
    const Onnx__NodeProto *nd = r->node;
    const Onnx__AttributeProto *dir = attr(nd, "direction");
    if ((dir && dir->has_s && !(dir->s.len == 7 && memcmp(dir->s.data, "forward", 7) == 0)) ||
        attr_i(nd, "layout", 0) != 0) {
        return fail(r, NB_ERR_ARG, "only forward GRUs of layout 0 are supported");
    }
    if (in(r, 4, false)) {
        return fail(r, NB_ERR_ARG, "sequence_lens is not supported");
    }
    nb_node *x = fnode(r, 0), *w = fnode(r, 1), *rr = fnode(r, 2);
    nb_node *b = in(r, 3, false) ? fnode(r, 3) : NULL;
    nb_node *h = in(r, 5, false) ? fnode(r, 5) : NULL;
    if (!x || !w || !rr || r->st != NB_OK) {
        return false;
    }
    int64_t H = attr_i(nd, "hidden_size", 0);
    bool lbr = attr_i(nd, "linear_before_reset", 0) != 0;
    if (nb_node_rank(x) != 3 || nb_node_rank(w) != 3 || nb_node_rank(rr) != 3 || H < 1 ||
        H > INT32_MAX / 8 || nb_node_shape(w)[0] != 1 || nb_node_shape(w)[1] != 3 * H ||
        nb_node_shape(rr)[1] != 3 * H || nb_node_shape(rr)[2] != H) {
        return fail(r, NB_ERR_SHAPE,
                    "X must be [seq, batch, input], W [1, 3H, input], R [1, 3H, H]");
    }
    int64_t T = nb_node_shape(x)[0], B = nb_node_shape(x)[1], I = nb_node_shape(x)[2];
    if (T > 100000) {
        return fail(r, NB_ERR_SHAPE, "a sequence of %lld steps is too long to unroll",
                    (long long)T);
    }
    nb_graph *g = r->g;
    nb_node *w2 = nb_reshape(g, w, 2, (int64_t[]){ 3 * H, I });
    nb_node *r2 = nb_reshape(g, rr, 2, (int64_t[]){ 3 * H, H });
    nb_node *wzr = nb_slice(g, w2, 0, 0, 2 * H, 1), *wh = nb_slice(g, w2, 0, 2 * H, 3 * H, 1);
    nb_node *rzr = nb_slice(g, r2, 0, 0, 2 * H, 1), *rh = nb_slice(g, r2, 0, 2 * H, 3 * H, 1);
    nb_node *bzr = NULL, *bwh = NULL, *brh = NULL;
    if (b) {
        nb_node *b2 = nb_reshape(g, b, 1, (int64_t[]){ 6 * H });
        bzr = nb_add(g, nb_slice(g, b2, 0, 0, 2 * H, 1), nb_slice(g, b2, 0, 3 * H, 5 * H, 1));
        bwh = nb_slice(g, b2, 0, 2 * H, 3 * H, 1);
        brh = nb_slice(g, b2, 0, 5 * H, 6 * H, 1);
    }
    int64_t bh[2] = { B, H };
    h = h ? nb_reshape(g, h, 2, bh) : nb_fill(g, r->fdt, 2, bh, 0);
    nb_node **ys = malloc((size_t)(T ? T : 1) * sizeof *ys);
    if (!ys) {
        return fail(r, NB_ERR_NOMEM, "out of memory");
    }
    for (int64_t t = 0; t < T && graph_ok(r); t++) {
        nb_node *xt = nb_reshape(g, nb_slice(g, x, 0, t, t + 1, 1), 2, (int64_t[]){ B, I });
        nb_node *zr =
            nb_add(g, nb_matmul_ex(g, xt, wzr, NB_TRANS_B), nb_matmul_ex(g, h, rzr, NB_TRANS_B));
        if (bzr) {
            zr = nb_add(g, zr, bzr);
        }
        zr = nb_sigmoid(g, zr);
        nb_node *z = nb_slice(g, zr, 1, 0, H, 1), *rg = nb_slice(g, zr, 1, H, 2 * H, 1);
        nb_node *xh = nb_matmul_ex(g, xt, wh, NB_TRANS_B), *hh;
        if (lbr) {
            hh = nb_matmul_ex(g, h, rh, NB_TRANS_B);
            if (brh) {
                hh = nb_add(g, hh, brh);
            }
            hh = nb_mul(g, rg, hh);
        } else {
            hh = nb_matmul_ex(g, nb_mul(g, rg, h), rh, NB_TRANS_B);
            if (brh) {
                hh = nb_add(g, hh, brh);
            }
        }
        nb_node *pre = nb_add(g, xh, hh);
        if (bwh) {
            pre = nb_add(g, pre, bwh);
        }
        nb_node *cand = nb_tanh(g, pre);
        /* h = (1 - z) cand + z h = cand + z (h - cand) */
        h = nb_add(g, cand, nb_mul(g, z, nb_sub(g, h, cand)));
        ys[t] = nb_reshape(g, h, 4, (int64_t[]){ 1, 1, B, H });
    }
    bool ok = graph_ok(r);
    nb_node *y = ok ? (T == 1 ? ys[0] : nb_concat(g, (int)T, ys, 0)) : NULL;
    free(ys);
    if (!ok) {
        return false;
    }
    return out_node(r, 0, y) && out_node(r, 1, nb_reshape(g, h, 3, (int64_t[]){ 1, B, H }));
}

static bool import_node(orr *r)
{
    const char *op = r->node->op_type ? r->node->op_type : "";
    if (!attrs_known(r, op)) {
        return false;
    }
    if (r->node->domain && *r->node->domain && strcmp(r->node->domain, "ai.onnx") != 0) {
        return fail(r, NB_ERR_ARG, "operators of domain '%s' are not supported", r->node->domain);
    }
    if (r->node->n_output < 1) {
        return fail(r, NB_ERR_FORMAT, "the node has no output");
    }
    static const struct {
        const char *name;
        nb_node *(*fn)(nb_graph *, nb_node *);
    } unaries[] = { { "Neg", nb_neg },           { "Relu", nb_relu }, { "Sigmoid", nb_sigmoid },
                    { "Tanh", nb_tanh },         { "Exp", nb_exp },   { "Log", nb_log },
                    { "Sqrt", nb_sqrt },         { "Erf", nb_erf },   { "Abs", nb_abs },
                    { "Softplus", nb_softplus }, { "Sign", nb_sign } };
    for (size_t k = 0; k < sizeof unaries / sizeof *unaries; k++) {
        if (strcmp(op, unaries[k].name) == 0) {
            return unary(r, unaries[k].fn);
        }
    }
    static const char *const bins[] = { "Add", "Sub", "Mul", "Div", "Equal", "Greater", "Less" };
    for (int k = 0; k < 7; k++) {
        if (strcmp(op, bins[k]) == 0) {
            return binary(r, k);
        }
    }
    if (strcmp(op, "Gemm") == 0) {
        return op_gemm(r);
    } else if (strcmp(op, "MatMul") == 0) {
        nb_node *a = fnode(r, 0), *b = fnode(r, 1);
        return a && b && out_node(r, 0, nb_matmul(r->g, a, b));
    } else if (strcmp(op, "LeakyRelu") == 0) {
        nb_node *x = fnode(r, 0);
        return x && out_node(r, 0, nb_leaky_relu(r->g, x, attr_f(r->node, "alpha", 0.01)));
    } else if (strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0) {
        return op_softmax(r, op[0] == 'L');
    } else if (strcmp(op, "Pow") == 0) {
        return op_pow(r);
    } else if (strcmp(op, "Clip") == 0) {
        return op_clip(r);
    } else if (strcmp(op, "Where") == 0) {
        return op_where(r);
    } else if (strcmp(op, "Max") == 0 || strcmp(op, "Min") == 0) {
        return op_minmax(r, op[1] == 'a');
    } else if (strcmp(op, "Conv") == 0 || strcmp(op, "ConvTranspose") == 0) {
        return op_conv(r, op[4] == 'T');
    } else if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0) {
        return op_pool(r, op[0] == 'M');
    } else if (strcmp(op, "GlobalAveragePool") == 0) {
        nb_node *x = fnode(r, 0);
        if (!x || nb_node_rank(x) < 3 || nb_node_rank(x) > 4) {
            return x && fail(r, NB_ERR_RANK, "input of rank %d", nb_node_rank(x));
        }
        int ax[2] = { 2, 3 };
        return out_node(r, 0, nb_mean_axes(r->g, x, nb_node_rank(x) - 2, ax, true));
    } else if (strcmp(op, "Flatten") == 0) {
        return op_flatten(r);
    } else if (strcmp(op, "Reshape") == 0) {
        return op_reshape(r);
    } else if (strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0) {
        return op_squeeze(r, op[0] == 'U');
    } else if (strcmp(op, "Transpose") == 0) {
        return op_transpose(r);
    } else if (strcmp(op, "Concat") == 0) {
        return op_concat(r);
    } else if (strcmp(op, "Slice") == 0) {
        return op_slice(r);
    } else if (strcmp(op, "Split") == 0) {
        return op_split(r);
    } else if (strcmp(op, "Gather") == 0) {
        return op_gather(r);
    } else if (strcmp(op, "Pad") == 0) {
        return op_pad(r);
    } else if (strcmp(op, "BatchNormalization") == 0) {
        return op_batch_norm(r);
    } else if (strcmp(op, "LayerNormalization") == 0) {
        return op_layer_norm(r);
    } else if (strcmp(op, "Dropout") == 0) {
        return op_dropout(r);
    } else if (strcmp(op, "ReduceMean") == 0) {
        return op_reduce(r, 0);
    } else if (strcmp(op, "ReduceSum") == 0) {
        return op_reduce(r, 1);
    } else if (strcmp(op, "ReduceMax") == 0) {
        return op_reduce(r, 2);
    } else if (strcmp(op, "ReduceMin") == 0) {
        return op_reduce(r, 3);
    } else if (strcmp(op, "ReduceLogSumExp") == 0) {
        return op_reduce(r, 4);
    } else if (strcmp(op, "Elu") == 0) {
        nb_node *x = fnode(r, 0);
        return x && out_node(r, 0, nb_elu(r->g, x, attr_f(r->node, "alpha", 1)));
    } else if (strcmp(op, "Expand") == 0) {
        return op_expand(r);
    } else if (strcmp(op, "Identity") == 0) {
        return alias(r);
    } else if (strcmp(op, "Constant") == 0) {
        return op_constant(r);
    } else if (strcmp(op, "ConstantOfShape") == 0) {
        return op_constant_of_shape(r);
    } else if (strcmp(op, "Shape") == 0) {
        return op_shape(r);
    } else if (strcmp(op, "Cast") == 0) {
        return op_cast(r);
    } else if (strcmp(op, "LSTM") == 0) {
        return op_lstm(r);
    } else if (strcmp(op, "GRU") == 0) {
        return op_gru(r);
    }
    return fail(r, NB_ERR_ARG, "operator %s is not supported (docs/onnx.md lists those that are)",
                op);
}

/* The static dtype and shape of a graph input. */
static bool input_type(orr *r, const Onnx__ValueInfoProto *vi, nb_dtype *d, int *rank,
                       int64_t *shape)
{
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type) {
        return fail(r, NB_ERR_FORMAT, "input '%s' is not a tensor", vi->name);
    }
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    int dt = tt->has_elem_type ? tt->elem_type : 0;
    if (is_float(dt)) {
        *d = r->fdt;
    } else if (dt == NBI_ONNX_INT32 || dt == NBI_ONNX_INT64) {
        *d = NB_DTYPE_I32;
    } else {
        return fail(r, NB_ERR_DTYPE,
                    "input '%s' has ONNX data type %d; nabla takes floats and "
                    "integers",
                    vi->name, dt);
    }
    if (!tt->shape) {
        return fail(r, NB_ERR_SHAPE, "input '%s' has no shape; nabla needs static shapes",
                    vi->name);
    }
    if (tt->shape->n_dim > NB_MAX_RANK) {
        return fail(r, NB_ERR_RANK, "input '%s' has rank %zu; nabla takes at most %d", vi->name,
                    tt->shape->n_dim, NB_MAX_RANK);
    }
    *rank = (int)tt->shape->n_dim;
    for (int k = 0; k < *rank; k++) {
        const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[k];
        if (!dm || dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
            dm->dim_value < 1 || dm->dim_value > INT32_MAX) {
            return fail(
                r, NB_ERR_SHAPE,
                "input '%s' has a dynamic or empty dimension %d (%s); nabla needs static "
                "shapes: export with fixed sizes",
                vi->name, k,
                dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                        dm->dim_param
                    ? dm->dim_param
                    : "unknown");
        }
        shape[k] = dm->dim_value;
    }
    return true;
}

/* True when n's name is the generated "op_N". */
static bool generated_name(nb_node *n)
{
    const char *name = nb_node_name(n), *op = nb_node_op_name(n);
    size_t len = strlen(op);
    if (strncmp(name, op, len) != 0 || name[len] != '_' || !name[len + 1]) {
        return false;
    }
    for (const char *p = name + len + 1; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
    }
    return true;
}

static nb_status import_model(orr *r, const Onnx__ModelProto *m, nb_node **outs, size_t cap,
                              size_t *n_out)
{
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) {
        fail(r, NB_ERR_FORMAT, "the model has no graph");
        return r->st;
    }
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[k];
        if (o && (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0) &&
            o->has_version && (o->version < 7 || o->version > 18)) {
            fail(r, NB_ERR_FORMAT, "opset %lld is not supported (7 to 18 are)",
                 (long long)o->version);
            return r->st;
        }
    }
    for (size_t k = 0; k < gp->n_initializer && r->st == NB_OK; k++) {
        const Onnx__TensorProto *t = gp->initializer[k];
        if (!t || !t->name || !*t->name) {
            fail(r, NB_ERR_FORMAT, "initializer %zu has no name", k);
            break;
        }
        snprintf(r->where, sizeof r->where, "initializer '%.200s': ", t->name);
        oval *v = read_tensor(r, t, t->name);
        if (v) {
            v->init = is_float(v->dt);
        }
    }
    r->where[0] = '\0';
    size_t n_inits = r->n_vals; /* the values so far are initializers */
    for (size_t k = 0; k < gp->n_input && r->st == NB_OK; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        if (!vi || !vi->name || !*vi->name) {
            fail(r, NB_ERR_FORMAT, "graph input %zu has no name", k);
            break;
        }
        const oval *seen = find(r, vi->name);
        bool is_init = false;
        for (size_t j = 0; seen && j < n_inits; j++) {
            is_init = is_init || r->vals[j] == seen;
        }
        if (is_init) {
            continue; /* an initializer listed as an input too (IR < 4) */
        }
        if (seen) {
            fail(r, NB_ERR_FORMAT, "graph input '%s' is listed twice", vi->name);
            break;
        }
        nb_dtype d = NB_DTYPE_F32;
        int rank = 0;
        int64_t shape[NB_MAX_RANK];
        if (!input_type(r, vi, &d, &rank, shape)) {
            break;
        }
        nb_node *n = nb_input(r->g, d, rank, shape);
        if (!graph_ok(r)) {
            break;
        }
        name_node(r, n, vi->name);
        oval *v = add_val(r, vi->name);
        if (v) {
            v->node = n;
        }
    }
    for (size_t k = 0; k < gp->n_node && r->st == NB_OK; k++) {
        r->node = gp->node[k];
        if (!r->node) {
            fail(r, NB_ERR_FORMAT, "node %zu is empty", k);
            break;
        }
        for (size_t q = 0; q < r->node->n_output; q++) {
            if (!r->node->output[q]) {
                fail(r, NB_ERR_FORMAT, "an output has no name");
            }
        }
        if (r->st == NB_OK) {
            import_node(r);
        }
        graph_ok(r);
    }
    r->node = NULL;
    if (r->st != NB_OK) {
        return r->st;
    }
    if (gp->n_output == 0) {
        fail(r, NB_ERR_FORMAT, "the graph has no outputs");
        return r->st;
    }
    *n_out = gp->n_output;
    for (size_t k = 0; k < gp->n_output; k++) {
        const Onnx__ValueInfoProto *vi = gp->output[k];
        oval *v = vi && vi->name ? find(r, vi->name) : NULL;
        if (!v) {
            fail(r, NB_ERR_FORMAT, "graph output '%s' is not computed by any node",
                 vi && vi->name ? vi->name : "?");
            return r->st;
        }
        nb_node *n = mat(r, v, is_float(v->dt) || v->node || v->boolean ? r->fdt : NB_DTYPE_I32);
        if (!n) {
            return r->st;
        }
        if (nb_node_kind(n) == NB_KIND_OP && generated_name(n)) {
            name_node(r, n, vi->name); /* the output gets its ONNX name */
        }
        if (k < cap) {
            outs[k] = n;
        }
    }
    return graph_ok(r) ? NB_OK : r->st;
}

nb_status nbi_onnx_read_buffer(nb_graph *g, const uint8_t *buf, size_t len,
                               const nb_onnx_read_options *opts, nb_node **outputs, size_t cap,
                               size_t *n_outputs)
{
    size_t dummy;
    if (!n_outputs) {
        n_outputs = &dummy;
    }
    *n_outputs = 0;
    if (g->status != NB_OK) {
        return g->status;
    }
    orr r = { .g = g, .fdt = opts && opts->dtype == NB_DTYPE_F64 ? NB_DTYPE_F64 : NB_DTYPE_F32 };
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m) {
        return nbi_report(g, NB_ERR_FORMAT, "onnx_read", 0, NULL,
                          "not an ONNX model (the protobuf encoding is malformed)");
    }
    nb_status st = import_model(&r, m, outputs, cap, n_outputs);
    onnx__model_proto__free_unpacked(m, NULL);
    for (size_t k = 0; k < r.n_vals; k++) {
        free(r.vals[k]->v);
        free(r.vals[k]);
    }
    free(r.vals);
    return st;
}

nb_status nb_onnx_read(nb_graph *g, const char *path, const nb_onnx_read_options *opts,
                       nb_node **outputs, size_t cap, size_t *n_outputs)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    if (n_outputs) {
        *n_outputs = 0;
    }
    if (g->status != NB_OK) {
        return g->status;
    }
    if (!path) {
        return nbi_report(g, NB_ERR_ARG, "onnx_read", 0, NULL, "path is NULL");
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        return nbi_report(g, NB_ERR_IO, "onnx_read", 0, NULL, "cannot open %s: %s", path,
                          strerror(errno));
    }
    size_t cap_b = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap_b);
    while (buf) {
        size_t got = fread(buf + len, 1, cap_b - len, f);
        len += got;
        if (len < cap_b) {
            break;
        }
        uint8_t *nb = cap_b < ((size_t)1 << 31) ? realloc(buf, cap_b * 2) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap_b *= 2;
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        return nbi_report(g, buf ? NB_ERR_IO : NB_ERR_NOMEM, "onnx_read", 0, NULL,
                          buf ? "cannot read %s" : "out of memory reading %s", path);
    }
    nb_status st = nbi_onnx_read_buffer(g, buf, len, opts, outputs, cap, n_outputs);
    free(buf);
    return st;
}
