/*
 * lang/parser.c: the model language's parser. Statements are read line by
 * line; expressions by operator precedence with explicit operand and operator
 * stacks (no recursion, so no nesting depth can overflow the C stack); list
 * literals by a small state machine. Nodes are built with the public
 * builders as the parse goes, so shapes are checked at the operator or call
 * that is wrong, and the message points there.
 */
#include "lang.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- symbol table: open addressing from names (in the source) to nodes ---- */

typedef struct sym {
    const char *name;
    size_t len;
    nb_node *node;
    int line, col;
} sym;

typedef struct symtab {
    sym *slots;
    uint32_t cap, count;
} symtab;

static uint32_t hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

static sym *sym_find(const symtab *t, const char *s, size_t len)
{
    if (!t->cap) {
        return NULL;
    }
    for (uint32_t i = hash(s, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        sym *e = &t->slots[i];
        if (!e->name) {
            return NULL;
        }
        if (e->len == len && memcmp(e->name, s, len) == 0) {
            return e;
        }
    }
}

static bool sym_add(nb_graph *g, symtab *t, sym entry)
{
    if ((t->count + 1) * 2 > t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        size_t bytes = (size_t)cap * sizeof(sym);
        sym *slots = nbi_mem_alloc(g, bytes);
        if (!slots || cap < t->cap) {
            return false;
        }
        memset(slots, 0, bytes);
        for (uint32_t i = 0; i < t->cap; i++) {
            sym *e = &t->slots[i];
            if (e->name) {
                uint32_t j = hash(e->name, e->len) & (cap - 1);
                while (slots[j].name) {
                    j = (j + 1) & (cap - 1);
                }
                slots[j] = *e;
            }
        }
        nbi_mem_free(g, t->slots, (size_t)t->cap * sizeof(sym));
        t->slots = slots;
        t->cap = cap;
    }
    uint32_t i = hash(entry.name, entry.len) & (t->cap - 1);
    while (t->slots[i].name) {
        i = (i + 1) & (t->cap - 1);
    }
    t->slots[i] = entry;
    t->count++;
    return true;
}

/* ---- parser state ---- */

enum { V_NODE, V_NUM, V_LIST, V_WORD };

/* An operand on the value stack. */
typedef struct value {
    int kind;
    nb_node *node;       /* V_NODE */
    double num;          /* V_NUM */
    uint32_t off, count; /* V_LIST: values in p->lits */
    int rank;            /* V_LIST */
    int64_t shape[NB_MAX_RANK];
    const char *word; /* V_WORD: a bare name that is not a variable (keepdims) */
    size_t len;
    const char *key; /* a keyword argument's name (axis=1), NULL for a positional one */
    size_t key_len;
    int line, col;
} value;

enum { O_ADD, O_SUB, O_MUL, O_DIV, O_MATMUL, O_POW, O_NEG, O_GROUP, O_CALL };

typedef struct opent {
    int kind;
    int line, col;
    const char *name; /* O_CALL: the function */
    size_t len;
    uint32_t base;   /* O_CALL: value stack height when the call opened */
    const char *key; /* O_CALL: the keyword of the argument being read, if any */
    size_t key_len;
} opent;

typedef struct open_scope {
    int line, col;
} open_scope;

typedef struct parser {
    nb_graph *g;
    lexer lx;
    token tok;
    nb_dtype dtype;
    nb_parse_error *err;
    nb_status status;
    symtab syms;
    value *vals;
    uint32_t n_vals, cap_vals;
    opent *ops;
    uint32_t n_ops, cap_ops;
    double *lits;
    uint32_t n_lits, cap_lits;
    open_scope *scopes;
    uint32_t n_scopes, cap_scopes;
} parser;

NBI_PRINTF(5, 6)
static nb_status fail(parser *p, nb_status code, int line, int col, const char *fmt, ...)
{
    if (p->status != NB_OK) {
        return p->status;
    }
    p->status = code;
    if (p->err) {
        p->err->status = code;
        p->err->line = line;
        p->err->column = col;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static nb_status nomem(parser *p)
{
    return fail(p, NB_ERR_NOMEM, p->tok.line, p->tok.col, "out of memory");
}

static void advance(parser *p)
{
    p->tok = nbl_next(&p->lx);
    const token *t = &p->tok;
    if (t->kind != T_ERROR) {
        return;
    }
    unsigned char c = (unsigned char)t->start[0];
    if ((c >= '0' && c <= '9') || c == '.') {
        fail(p, NB_ERR_FORMAT, t->line, t->col, "bad number '%.*s': %s",
             (int)(t->len > 40 ? 40 : t->len), t->start, t->error);
    } else if (c >= 0x80) {
        fail(p, NB_ERR_FORMAT, t->line, t->col,
             "non-ASCII character (byte 0x%02X); only comments may hold non-ASCII text", c);
    } else if (c > ' ' && c < 0x7F) {
        fail(p, NB_ERR_FORMAT, t->line, t->col, "unexpected character '%c'", c);
    } else {
        fail(p, NB_ERR_FORMAT, t->line, t->col, "unexpected character (byte 0x%02X)", c);
    }
}

static bool is_word(const token *t, const char *w)
{
    return t->kind == T_NAME && strlen(w) == t->len && memcmp(t->start, w, t->len) == 0;
}

/* Describes the current token for "expected X, found Y" messages. */
static void found(const token *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case T_EOF:
        snprintf(buf, cap, "the end of the file");
        break;
    case T_NEWLINE:
        snprintf(buf, cap, "the end of the line");
        break;
    default:
        snprintf(buf, cap, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->start);
    }
}

/*
 * "expected X, found Y". Inside a ( or [ opened on an earlier line (lines are
 * joined there), a note says where, as a missing ')' is the usual cause.
 */
static nb_status expected(parser *p, const char *what)
{
    char f[64], note[64] = "";
    found(&p->tok, f, sizeof f);
    if (p->lx.nesting > 0 && p->tok.line > p->lx.open_line) {
        snprintf(note, sizeof note, " (the '%c' at %d:%d is still open)", p->lx.open_char,
                 p->lx.open_line, p->lx.open_col);
    }
    return fail(p, NB_ERR_FORMAT, p->tok.line, p->tok.col, "expected %s, found %s%s", what, f,
                note);
}

static bool push_val(parser *p, value v)
{
    if (!nbi_grow(p->g, (void **)&p->vals, &p->cap_vals, p->n_vals + 1, sizeof *p->vals)) {
        nomem(p);
        return false;
    }
    p->vals[p->n_vals++] = v;
    return true;
}

static bool push_op(parser *p, opent o)
{
    if (!nbi_grow(p->g, (void **)&p->ops, &p->cap_ops, p->n_ops + 1, sizeof *p->ops)) {
        nomem(p);
        return false;
    }
    p->ops[p->n_ops++] = o;
    return true;
}

static bool push_lit(parser *p, double v)
{
    if (!nbi_grow(p->g, (void **)&p->lits, &p->cap_lits, p->n_lits + 1, sizeof *p->lits)) {
        nomem(p);
        return false;
    }
    p->lits[p->n_lits++] = v;
    return true;
}

/* ---- literals ---- */

/* Reads an optionally negative number at the current token. */
static bool signed_number(parser *p, double *out)
{
    double sign = 1;
    if (p->tok.kind == T_MINUS) {
        sign = -1;
        advance(p);
    }
    if (p->tok.kind != T_NUMBER) {
        expected(p, "a number");
        return false;
    }
    *out = sign * p->tok.num;
    advance(p);
    return p->status == NB_OK;
}

/*
 * Reads a number or a nested list ([[1, 2], [3, 4]]) into p->lits, with its
 * rank and shape. A state machine, not recursion; lists must be rectangular.
 */
static bool literal(parser *p, value *v)
{
    memset(v, 0, sizeof *v);
    v->kind = V_LIST;
    v->line = p->tok.line;
    v->col = p->tok.col;
    v->off = p->n_lits;
    if (p->tok.kind != T_LBRACK) {
        double x;
        if (!signed_number(p, &x) || !push_lit(p, x)) {
            return false;
        }
        v->count = 1;
        return true;
    }
    int64_t counts[NB_MAX_RANK + 1] = { 0 }, want[NB_MAX_RANK + 1];
    for (int i = 0; i <= NB_MAX_RANK; i++) {
        want[i] = -1;
    }
    int depth = 1, rank = -1;
    bool elem = true; /* an element is expected next */
    advance(p);
    while (depth > 0 && p->status == NB_OK) {
        token t = p->tok;
        if (elem && t.kind == T_LBRACK) {
            if (depth == NB_MAX_RANK || (rank >= 0 && depth >= rank)) {
                fail(p, NB_ERR_FORMAT, t.line, t.col,
                     depth == NB_MAX_RANK ? "lists nest deeper than rank %d"
                                          : "this list mixes numbers and lists",
                     NB_MAX_RANK);
                return false;
            }
            counts[++depth] = 0;
            advance(p);
        } else if (elem && (t.kind == T_NUMBER || t.kind == T_MINUS)) {
            if (rank < 0) {
                rank = depth;
            } else if (rank != depth) {
                fail(p, NB_ERR_FORMAT, t.line, t.col, "this list mixes numbers and lists");
                return false;
            }
            double x;
            if (!signed_number(p, &x) || !push_lit(p, x)) {
                return false;
            }
            counts[depth]++;
            elem = false;
        } else if (!elem && t.kind == T_COMMA) {
            advance(p);
            elem = true;
        } else if (t.kind == T_RBRACK && (!elem || counts[depth] == 0)) {
            if (counts[depth] == 0) {
                fail(p, NB_ERR_FORMAT, t.line, t.col, "empty list: a literal needs numbers");
                return false;
            }
            if (want[depth] < 0) {
                want[depth] = counts[depth];
            } else if (want[depth] != counts[depth]) {
                fail(p, NB_ERR_FORMAT, t.line, t.col,
                     "ragged list: this one has %lld element%s, an earlier one %lld",
                     (long long)counts[depth], counts[depth] == 1 ? "" : "s",
                     (long long)want[depth]);
                return false;
            }
            if (--depth > 0) {
                counts[depth]++;
            }
            advance(p);
            elem = false;
        } else {
            expected(p, elem ? "a number or '['" : "',' or ']'");
            return false;
        }
    }
    if (p->status != NB_OK) {
        return false;
    }
    v->rank = rank;
    for (int i = 0; i < rank; i++) {
        v->shape[i] = want[i + 1];
    }
    v->count = p->n_lits - v->off;
    return true;
}

/* Reads a shape [d0, d1, ...] of positive whole numbers. */
static bool shape_spec(parser *p, int *rank, int64_t *shape)
{
    value v;
    int line = p->tok.line, col = p->tok.col;
    uint32_t mark = p->n_lits;
    if (!literal(p, &v)) {
        return false;
    }
    p->n_lits = mark;
    if (v.rank != 1 || v.count > NB_MAX_RANK) {
        fail(p, NB_ERR_FORMAT, line, col, "a shape is a list of at most %d dimensions, like [4, 3]",
             NB_MAX_RANK);
        return false;
    }
    for (uint32_t i = 0; i < v.count; i++) {
        double d = p->lits[mark + i];
        if (!(d >= 1 && d <= INT32_MAX && d == floor(d))) {
            fail(p, NB_ERR_FORMAT, line, col,
                 "dimension %u of the shape is %g; dimensions are whole numbers from 1", i + 1, d);
            return false;
        }
        shape[i] = (int64_t)d;
    }
    *rank = (int)v.count;
    return true;
}

/* ---- engine errors, pointed at the source ---- */

static const char *symbol_of(int kind)
{
    switch (kind) {
    case O_ADD:
        return "+";
    case O_SUB:
        return "-";
    case O_MUL:
        return "*";
    case O_DIV:
        return "/";
    case O_MATMUL:
        return "@";
    default:
        return "**";
    }
}

/*
 * Turns the graph's error after a failed builder call into a parse error at
 * (line, col): "op: detail (a[2,3] @ b[4,5])" for an infix operator, with sep
 * joining the operand descriptions.
 */
static void engine_error(parser *p, int line, int col, const char *sep, int n, nb_node *const *in)
{
    const char *msg = nb_graph_error(p->g), *detail = strstr(msg, "): ");
    const char *paren = strchr(msg, '(');
    char ops[256] = "";
    size_t at = 0;
    for (int i = 0; i < n && in[i]; i++) {
        char d[160];
        nbi_describe(in[i], d, sizeof d);
        int w = snprintf(ops + at, sizeof ops - at, "%s%s", i ? sep : "", d);
        at += w > 0 && (size_t)w < sizeof ops - at ? (size_t)w : 0;
    }
    if (detail && paren && paren < detail) {
        fail(p, nb_graph_status(p->g), line, col, "%.*s: %s (%s)", (int)(paren - msg), msg,
             detail + 3, ops);
    } else {
        fail(p, nb_graph_status(p->g), line, col, "%s", msg);
    }
}

/*
 * False, after an error at (line, col), when x becomes infinite in dtype f32:
 * as for folded numbers, a constant must be finite (1e39 is inf in f32).
 */
static bool fits(parser *p, int dtype, double x, int line, int col)
{
    if (dtype != NB_DTYPE_F32 || isfinite((float)x)) {
        return true;
    }
    return fail(p, NB_ERR_FORMAT, line, col, "%g is too large for f32; constants must be finite",
                x) == NB_OK;
}

/* A value as a node: numbers and lists become constants of the model's dtype. */
static nb_node *as_node(parser *p, value *v)
{
    switch (v->kind) {
    case V_NODE:
        return v->node;
    case V_NUM:
        if (!fits(p, p->dtype, v->num, v->line, v->col)) {
            return NULL;
        }
        v->node = nb_scalar(p->g, p->dtype, v->num);
        break;
    case V_LIST: {
        for (uint32_t i = 0; i < v->count; i++) {
            if (!fits(p, p->dtype, p->lits[v->off + i], v->line, v->col)) {
                return NULL;
            }
        }
        size_t es = nb_dtype_size(p->dtype);
        void *data = nbi_mem_alloc(p->g, v->count * es);
        if (!data) {
            nomem(p);
            return NULL;
        }
        for (uint32_t i = 0; i < v->count; i++) {
            double x = p->lits[v->off + i];
            if (p->dtype == NB_DTYPE_F32) {
                ((float *)data)[i] = (float)x;
            } else {
                ((double *)data)[i] = x;
            }
        }
        v->node = nb_const(p->g, p->dtype, v->rank, v->shape, data);
        nbi_mem_free(p->g, data, v->count * es);
        break;
    }
    default:
        fail(p, NB_ERR_FORMAT, v->line, v->col, "'%.*s' is not a defined name", (int)v->len,
             v->word);
        return NULL;
    }
    if (!v->node) {
        fail(p, nb_graph_status(p->g), v->line, v->col, "%s", nb_graph_error(p->g));
        return NULL;
    }
    v->kind = V_NODE;
    return v->node;
}

/* ---- operators ---- */

static int precedence(int kind)
{
    switch (kind) {
    case O_ADD:
    case O_SUB:
        return 1;
    case O_MUL:
    case O_DIV:
    case O_MATMUL:
        return 2;
    case O_NEG:
        return 3;
    case O_POW:
        return 4;
    default:
        return 0;
    }
}

static bool apply_neg(parser *p, const opent *o)
{
    value *v = &p->vals[p->n_vals - 1];
    if (v->kind == V_NUM) {
        v->num = -v->num;
        return true;
    }
    nb_node *x = as_node(p, v);
    if (!x) {
        return false;
    }
    nb_node *y = nb_neg(p->g, x);
    if (!y) {
        engine_error(p, o->line, o->col, ", ", 1, &x);
        return false;
    }
    *v = (value){ .kind = V_NODE, .node = y, .line = o->line, .col = o->col };
    return true;
}

/*
 * Folds a binary operator on two numbers into a. The result must be finite:
 * the language has no literal for inf or nan, so such a constant could not be
 * written back (and 1 / 0 in a model is a mistake, as in Python).
 */
static bool fold(parser *p, const opent *o, value *a, double z)
{
    double x = a->num, r;
    switch (o->kind) {
    case O_ADD:
        r = x + z;
        break;
    case O_SUB:
        r = x - z;
        break;
    case O_MUL:
        r = x * z;
        break;
    case O_DIV:
        r = x / z;
        break;
    default:
        r = pow(x, z);
    }
    if (!isfinite(r)) {
        return fail(p, NB_ERR_FORMAT, o->line, o->col, "%g %s %g is %s; constants must be finite",
                    x, symbol_of(o->kind), z,
                    isnan(r) ? "nan"
                    : r > 0  ? "inf"
                             : "-inf") == NB_OK;
    }
    a->num = r;
    return true;
}

static bool apply_binary(parser *p, const opent *o)
{
    value b = p->vals[--p->n_vals];
    value *a = &p->vals[p->n_vals - 1];
    if (o->kind == O_POW) {
        if (b.kind != V_NUM) {
            fail(p, NB_ERR_FORMAT, o->line, o->col, "the exponent of ** must be a number");
            return false;
        }
        if (a->kind == V_NUM) {
            return fold(p, o, a, b.num);
        }
        nb_node *x = as_node(p, a);
        nb_node *y = x ? nb_pow(p->g, x, b.num) : NULL;
        if (!y) {
            if (x) {
                engine_error(p, o->line, o->col, ", ", 1, &x);
            }
            return false;
        }
        *a = (value){ .kind = V_NODE, .node = y, .line = o->line, .col = o->col };
        return true;
    }
    if (a->kind == V_NUM && b.kind == V_NUM && o->kind != O_MATMUL) {
        return fold(p, o, a, b.num);
    }
    nb_node *x = as_node(p, a), *z = x ? as_node(p, &b) : NULL;
    if (!x || !z) {
        return false;
    }
    nb_node *y = NULL;
    switch (o->kind) {
    case O_ADD:
        y = nb_add(p->g, x, z);
        break;
    case O_SUB:
        y = nb_sub(p->g, x, z);
        break;
    case O_MUL:
        y = nb_mul(p->g, x, z);
        break;
    case O_DIV:
        y = nb_div(p->g, x, z);
        break;
    default:
        y = nb_matmul(p->g, x, z);
        break;
    }
    if (!y) {
        char sep[8];
        snprintf(sep, sizeof sep, " %s ", symbol_of(o->kind));
        nb_node *in[2] = { x, z };
        engine_error(p, o->line, o->col, sep, 2, in);
        return false;
    }
    *a = (value){ .kind = V_NODE, .node = y, .line = o->line, .col = o->col };
    return true;
}

/* ---- function calls ---- */

/* Integer argument i of a call (an axis, a class count). */
static bool int_arg(parser *p, const opent *o, value *v, const char *what, int64_t *out)
{
    if (v->kind != V_NUM || v->num != floor(v->num) || fabs(v->num) > INT32_MAX) {
        fail(p, NB_ERR_FORMAT, v->line, v->col, "%.*s: the %s must be a whole number", (int)o->len,
             o->name, what);
        return false;
    }
    *out = (int64_t)v->num;
    return true;
}

static bool shape_arg(parser *p, const opent *o, value *v, int *rank, int64_t *shape)
{
    if (v->kind != V_LIST || v->rank != 1 || v->count > NB_MAX_RANK) {
        fail(p, NB_ERR_FORMAT, v->line, v->col, "%.*s: the shape must be a list like [4, 3]",
             (int)o->len, o->name);
        return false;
    }
    for (uint32_t i = 0; i < v->count; i++) {
        double d = p->lits[v->off + i];
        if (d != floor(d) || fabs(d) > INT32_MAX) {
            fail(p, NB_ERR_FORMAT, v->line, v->col, "%.*s: shape entries must be whole numbers",
                 (int)o->len, o->name);
            return false;
        }
        shape[i] = (int64_t)d;
    }
    *rank = (int)v->count;
    return true;
}

static bool word_is(const value *v, const char *w)
{
    return v->kind == V_WORD && strlen(w) == v->len && memcmp(v->word, w, v->len) == 0;
}

/* clang-format off */
typedef enum fn_kind {
    F_UNARY, F_REDUCE, F_MAX, F_ARGMAX, F_SOFTMAX, F_SHAPE, F_MATMUL, F_POW, F_PAIR, F_ONE_HOT,
    F_FILL,
} fn_kind;
/* clang-format on */

typedef struct fn {
    const char *name;
    fn_kind kind;
    int min_args, max_args;
    const char *usage;
} fn;

static const fn functions[] = {
    { "exp", F_UNARY, 1, 1, "exp(x)" },
    { "log", F_UNARY, 1, 1, "log(x)" },
    { "sqrt", F_UNARY, 1, 1, "sqrt(x)" },
    { "abs", F_UNARY, 1, 1, "abs(x)" },
    { "tanh", F_UNARY, 1, 1, "tanh(x)" },
    { "sigmoid", F_UNARY, 1, 1, "sigmoid(x)" },
    { "relu", F_UNARY, 1, 1, "relu(x)" },
    { "neg", F_UNARY, 1, 1, "neg(x)" },
    { "sign", F_UNARY, 1, 1, "sign(x)" },
    { "step", F_UNARY, 1, 1, "step(x)" },
    { "transpose", F_UNARY, 1, 1, "transpose(x)" },
    { "sum", F_REDUCE, 1, 3, "sum(x), sum(x, axis) or sum(x, axis, keepdims)" },
    { "mean", F_REDUCE, 1, 3, "mean(x), mean(x, axis) or mean(x, axis, keepdims)" },
    { "max", F_MAX, 2, 3, "max(x, axis) or max(x, axis, keepdims)" },
    { "argmax_mask", F_ARGMAX, 2, 2, "argmax_mask(x, axis)" },
    { "softmax", F_SOFTMAX, 1, 2, "softmax(x) or softmax(x, axis)" },
    { "log_softmax", F_SOFTMAX, 1, 2, "log_softmax(x) or log_softmax(x, axis)" },
    { "reshape", F_SHAPE, 2, 2, "reshape(x, [shape])" },
    { "broadcast_to", F_SHAPE, 2, 2, "broadcast_to(x, [shape])" },
    { "sum_to", F_SHAPE, 2, 2, "sum_to(x, [shape])" },
    { "matmul", F_MATMUL, 2, 4, "matmul(a, b), optionally with transpose_a and/or transpose_b" },
    { "pow", F_POW, 2, 2, "pow(x, p)" },
    { "bce_logits", F_PAIR, 2, 2, "bce_logits(z, t)" },
    { "mse", F_PAIR, 2, 2, "mse(a, b)" },
    { "sigmoid_grad", F_PAIR, 2, 2, "sigmoid_grad(y, dy)" },
    { "tanh_grad", F_PAIR, 2, 2, "tanh_grad(y, dy)" },
    { "relu_grad", F_PAIR, 2, 2, "relu_grad(y, dy)" },
    { "one_hot", F_ONE_HOT, 2, 2, "one_hot(labels, classes)" },
    { "fill", F_FILL, 1, 2, "fill(value) or fill([shape], value)" },
};

static nb_node *call_unary(nb_graph *g, const char *name, nb_node *x)
{
    static const struct {
        const char *name;
        nb_node *(*build)(nb_graph *, nb_node *);
    } table[] = {
        /* clang-format off */
        { "exp", nb_exp },         { "log", nb_log },   { "sqrt", nb_sqrt },
        { "abs", nb_abs },         { "tanh", nb_tanh }, { "sigmoid", nb_sigmoid },
        { "relu", nb_relu },       { "neg", nb_neg },   { "sign", nb_sign },
        { "step", nb_step },       { "transpose", nb_transpose },
        /* clang-format on */
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (strcmp(table[i].name, name) == 0) {
            return table[i].build(g, x);
        }
    }
    return NULL;
}

/* ---- calls of ops and functions described by attribute records ---- */

/* "slice(x, axis, start=0, stop, step=1)": the call's form, from its description. */
static void generic_usage(const nbl_func *f, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "%s(", f->name);
    const char *names = f->inputs ? f->inputs : "x";
    if (f->arity == NBI_VARIADIC && !f->inputs) {
        at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, "x1, x2, ...");
    } else {
        at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, "%s", names);
    }
    for (int k = 0; k < f->n_attrs && at < cap; k++) {
        const nbi_attr_desc *d = &f->attrs[k];
        char def[48] = "";
        if (!d->required) {
            if (d->kind == NBI_ATTR_INTS) {
                snprintf(def, sizeof def, "=[]");
            } else if (d->kind == NBI_ATTR_BOOL) {
                snprintf(def, sizeof def, "=%s", d->def ? "true" : "false");
            } else if (d->def_word) {
                snprintf(def, sizeof def, "=%s", d->def_word);
            } else {
                snprintf(def, sizeof def, "=%g", d->def);
            }
        }
        at += (size_t)snprintf(buf + at, cap - at, ", %s%s", d->name, def);
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, ")");
    }
}

/* Reads value v as attribute d of call f into *a. */
static bool attr_arg(parser *p, const nbl_func *f, const nbi_attr_desc *d, const value *v,
                     nbi_attr *a)
{
    const char *want = "";
    switch (d->kind) {
    case NBI_ATTR_BOOL:
        if (word_is(v, d->name) || word_is(v, "true")) {
            a->i = 1;
            return true;
        }
        if (word_is(v, "false")) {
            a->i = 0;
            return true;
        }
        if (v->kind == V_NUM && (v->num == 0 || v->num == 1)) {
            a->i = (int64_t)v->num;
            return true;
        }
        want = "true or false";
        break;
    case NBI_ATTR_FLOAT:
        if (v->kind == V_NUM) {
            a->f = v->num;
            return true;
        }
        want = "a number";
        break;
    case NBI_ATTR_INT:
        if (v->kind == V_NUM && v->num == floor(v->num) && fabs(v->num) <= INT32_MAX) {
            a->i = (int64_t)v->num;
            return true;
        }
        if (d->def_word && word_is(v, d->def_word)) {
            a->i = (int64_t)d->def;
            return true;
        }
        if (d->def_word) {
            return fail(p, NB_ERR_FORMAT, v->line, v->col, "%s: %s must be a whole number or %s",
                        f->name, d->name, d->def_word) == NB_OK;
        }
        want = "a whole number";
        break;
    case NBI_ATTR_INTS: {
        bool one = v->kind == V_NUM;
        uint32_t count = one ? 1 : v->count;
        if ((one || (v->kind == V_LIST && v->rank == 1)) && count <= NBI_ATTR_LIST) {
            bool whole = true;
            for (uint32_t j = 0; j < count; j++) {
                double x = one ? v->num : p->lits[v->off + j];
                whole &= x == floor(x) && fabs(x) <= INT32_MAX;
                a->list[j] = whole ? (int32_t)x : 0;
            }
            if (whole) {
                a->n = (int32_t)count;
                return true;
            }
        }
        want = "a whole number or a list of at most 8 of them, like [0, 2]";
        break;
    }
    }
    return fail(p, NB_ERR_FORMAT, v->line, v->col, "%s: %s must be %s", f->name, d->name, want) ==
           NB_OK;
}

/*
 * Applies call o of f to the values above o->base: the first arity positional
 * arguments are its inputs (every positional one for a variadic f), the rest
 * its attributes in order, then keyword arguments name=value.
 */
static bool apply_generic(parser *p, const opent *o, const nbl_func *f)
{
    int argc = (int)(p->n_vals - o->base);
    /* with no argument pushed yet ("elu()" first), p->vals may still be NULL */
    value *a = argc > 0 ? p->vals + o->base : NULL;
    char usage[256];
    generic_usage(f, usage, sizeof usage);
    /* a flag's bare name (keepdims) is that flag set, wherever it stands */
    for (int i = 0; i < argc; i++) {
        for (int k = 0; k < f->n_attrs && !a[i].key; k++) {
            if (f->attrs[k].kind == NBI_ATTR_BOOL && word_is(&a[i], f->attrs[k].name)) {
                a[i].key = a[i].word;
                a[i].key_len = a[i].len;
            }
        }
    }
    int n_pos = 0;
    while (n_pos < argc && !a[n_pos].key) {
        n_pos++;
    }
    for (int i = n_pos; i < argc; i++) {
        if (!a[i].key) {
            return fail(p, NB_ERR_FORMAT, a[i].line, a[i].col,
                        "%s: a positional argument after a keyword one; %s takes %s", f->name,
                        f->name, usage) == NB_OK;
        }
    }
    int n_in = f->arity == NBI_VARIADIC ? n_pos : f->arity;
    if (n_pos < n_in || n_in < 1 || n_pos - n_in > f->n_attrs) {
        return fail(p, NB_ERR_FORMAT, o->line, o->col, "%s takes %s; got %d positional argument%s",
                    f->name, usage, n_pos, n_pos == 1 ? "" : "s") == NB_OK;
    }
    nbi_attr attr[NBI_MAX_ATTRS];
    bool given[NBI_MAX_ATTRS] = { false };
    memset(attr, 0, sizeof attr);
    for (int k = 0; k < f->n_attrs; k++) {
        if (f->attrs[k].kind == NBI_ATTR_FLOAT) {
            attr[k].f = f->attrs[k].def;
        } else if (f->attrs[k].kind != NBI_ATTR_INTS) {
            attr[k].i = (int64_t)f->attrs[k].def;
        }
    }
    for (int i = n_in; i < argc; i++) {
        int k = i < n_pos ? i - n_in : -1;
        for (int j = 0; k < 0 && j < f->n_attrs; j++) {
            if (strlen(f->attrs[j].name) == a[i].key_len &&
                memcmp(f->attrs[j].name, a[i].key, a[i].key_len) == 0) {
                k = j;
            }
        }
        if (k < 0) {
            return fail(p, NB_ERR_FORMAT, a[i].line, a[i].col,
                        "%s has no argument '%.*s'; it takes %s", f->name, (int)a[i].key_len,
                        a[i].key, usage) == NB_OK;
        }
        if (given[k]) {
            return fail(p, NB_ERR_FORMAT, a[i].line, a[i].col, "%s: %s is given twice", f->name,
                        f->attrs[k].name) == NB_OK;
        }
        given[k] = true;
        if (!attr_arg(p, f, &f->attrs[k], &a[i], &attr[k])) {
            return false;
        }
    }
    for (int k = 0; k < f->n_attrs; k++) {
        if (f->attrs[k].required && !given[k]) {
            return fail(p, NB_ERR_FORMAT, o->line, o->col, "%s needs %s=...; it takes %s", f->name,
                        f->attrs[k].name, usage) == NB_OK;
        }
    }
    nb_node *in[NB_MAX_ARITY];
    if (n_in > NB_MAX_ARITY) {
        return fail(p, NB_ERR_FORMAT, o->line, o->col, "%s takes at most %d inputs", f->name,
                    NB_MAX_ARITY) == NB_OK;
    }
    for (int i = 0; i < n_in; i++) {
        if (!(in[i] = as_node(p, &a[i]))) {
            return false;
        }
    }
    nb_node *y = f->build(p->g, n_in, in, attr);
    if (!y) {
        engine_error(p, o->line, o->col, ", ", n_in, in);
        return false;
    }
    p->n_vals = o->base;
    return push_val(p, (value){ .kind = V_NODE, .node = y, .line = o->line, .col = o->col });
}

/* The call form of op i, when the language reads it through its record. */
static bool op_func(size_t i, nbl_func *f)
{
    const nbi_op *op = nbi_ops[i];
    if (!op->build) {
        return false;
    }
    *f = (nbl_func){ .name = op->name,
                     .arity = op->arity,
                     .n_attrs = op->n_attrs,
                     .build = op->build,
                     .inputs = op->inputs };
    memcpy(f->attrs, op->attrs, sizeof f->attrs);
    return true;
}

/* Finds the op or composite function called name; false when there is none. */
static bool find_generic(const char *name, size_t len, nbl_func *f)
{
    for (size_t i = 0; i < NBI_OP_COUNT; i++) {
        if (strlen(nbi_ops[i]->name) == len && memcmp(nbi_ops[i]->name, name, len) == 0 &&
            op_func(i, f)) {
            return true;
        }
    }
    for (size_t i = 0; i < nbl_n_funcs; i++) {
        if (strlen(nbl_funcs[i].name) == len && memcmp(nbl_funcs[i].name, name, len) == 0) {
            *f = nbl_funcs[i];
            return true;
        }
    }
    return false;
}

/*
 * True if a reduction's call is in the form of its record: a list of axes
 * ("sum(x, [0, 2])"), a keyword argument ("sum(x, axes=[0, 2], keepdims=true)")
 * or a flag spelled true or false ("sum(x, 1, true)", as every flag may be).
 * The forms from before lists of axes keep their own reading and messages.
 */
static bool reads_as_record(const parser *p, const opent *o, int argc)
{
    for (int i = 0; i < argc; i++) {
        const value *v = &p->vals[o->base + (uint32_t)i];
        if (v->key || (i == 1 && v->kind == V_LIST) ||
            (i == 2 && (word_is(v, "true") || word_is(v, "false")))) {
            return true;
        }
    }
    return false;
}

/* Applies the call o to the values above o->base on the stack. */
static bool apply_call(parser *p, const opent *o)
{
    const fn *f = NULL;
    for (size_t i = 0; i < sizeof functions / sizeof *functions && !f; i++) {
        if (strlen(functions[i].name) == o->len &&
            memcmp(functions[i].name, o->name, o->len) == 0) {
            f = &functions[i];
        }
    }
    nbl_func gf;
    if (!f && find_generic(o->name, o->len, &gf)) {
        return apply_generic(p, o, &gf);
    }
    if (!f) {
        return fail(p, NB_ERR_FORMAT, o->line, o->col,
                    sym_find(&p->syms, o->name, o->len) ? "'%.*s' is a node, not a function"
                                                        : "unknown function '%.*s'",
                    (int)o->len, o->name) == NB_OK;
    }
    int argc = (int)(p->n_vals - o->base);
    if ((f->kind == F_REDUCE || f->kind == F_MAX || f->kind == F_ARGMAX) &&
        reads_as_record(p, o, argc) && find_generic(o->name, o->len, &gf)) {
        return apply_generic(p, o, &gf);
    }
    for (int i = 0; i < argc; i++) {
        const value *v = &p->vals[o->base + (uint32_t)i];
        if (v->key) {
            return fail(p, NB_ERR_FORMAT, v->line, v->col,
                        "%s takes no keyword arguments ('%.*s='); it takes %s", f->name,
                        (int)v->key_len, v->key, f->usage) == NB_OK;
        }
    }
    if (argc < f->min_args || argc > f->max_args) {
        return fail(p, NB_ERR_FORMAT, o->line, o->col, "%s takes %s; got %d argument%s", f->name,
                    f->usage, argc, argc == 1 ? "" : "s") == NB_OK;
    }
    /* only now: with no argument yet pushed, p->vals may still be NULL */
    value *a = p->vals + o->base;
    nb_graph *g = p->g;
    nb_node *in[2] = { NULL, NULL }, *y = NULL;
    int n_in = 1;
    int64_t k = 0, shape[NB_MAX_RANK];
    int rank = 0;
    bool keep = false;
    if (f->kind != F_FILL && !(in[0] = as_node(p, &a[0]))) {
        return false;
    }
    switch (f->kind) {
    case F_UNARY:
        y = call_unary(g, f->name, in[0]);
        break;
    case F_REDUCE:
    case F_MAX:
        if (argc == 3 && !word_is(&a[2], "keepdims")) {
            return fail(p, NB_ERR_FORMAT, a[2].line, a[2].col,
                        "%s: the third argument can only be keepdims", f->name) == NB_OK;
        }
        keep = argc == 3;
        if (argc == 1) {
            y = strcmp(f->name, "sum") == 0 ? nb_sum(g, in[0]) : nb_mean(g, in[0]);
        } else if (!int_arg(p, o, &a[1], "axis", &k)) {
            return false;
        } else if (f->kind == F_MAX) {
            y = nb_max_axis(g, in[0], (int)k, keep);
        } else {
            y = strcmp(f->name, "sum") == 0 ? nb_sum_axis(g, in[0], (int)k, keep)
                                            : nb_mean_axis(g, in[0], (int)k, keep);
        }
        break;
    case F_ARGMAX:
        if (!int_arg(p, o, &a[1], "axis", &k)) {
            return false;
        }
        y = nb_argmax_mask(g, in[0], (int)k);
        break;
    case F_SOFTMAX:
        k = -1;
        if (argc == 2 && !int_arg(p, o, &a[1], "axis", &k)) {
            return false;
        }
        y = strcmp(f->name, "softmax") == 0 ? nb_softmax(g, in[0], (int)k)
                                            : nb_log_softmax(g, in[0], (int)k);
        break;
    case F_SHAPE:
        if (!shape_arg(p, o, &a[1], &rank, shape)) {
            return false;
        }
        y = strcmp(f->name, "reshape") == 0        ? nb_reshape(g, in[0], rank, shape)
            : strcmp(f->name, "broadcast_to") == 0 ? nb_broadcast_to(g, in[0], rank, shape)
                                                   : nb_sum_to(g, in[0], rank, shape);
        break;
    case F_MATMUL: {
        int flags = 0;
        for (int i = 2; i < argc; i++) {
            if (word_is(&a[i], "transpose_a")) {
                flags |= NB_TRANS_A;
            } else if (word_is(&a[i], "transpose_b")) {
                flags |= NB_TRANS_B;
            } else {
                return fail(p, NB_ERR_FORMAT, a[i].line, a[i].col,
                            "matmul: extra arguments can only be transpose_a or transpose_b") ==
                       NB_OK;
            }
        }
        if (!(in[1] = as_node(p, &a[1]))) {
            return false;
        }
        n_in = 2;
        y = nb_matmul_ex(g, in[0], in[1], flags);
        break;
    }
    case F_POW:
        if (a[1].kind != V_NUM) {
            return fail(p, NB_ERR_FORMAT, a[1].line, a[1].col,
                        "pow: the exponent must be a number") == NB_OK;
        }
        y = nb_pow(g, in[0], a[1].num);
        break;
    case F_PAIR:
        if (!(in[1] = as_node(p, &a[1]))) {
            return false;
        }
        n_in = 2;
        y = strcmp(f->name, "bce_logits") == 0     ? nb_bce_logits(g, in[0], in[1])
            : strcmp(f->name, "sigmoid_grad") == 0 ? nb_sigmoid_grad(g, in[0], in[1])
            : strcmp(f->name, "tanh_grad") == 0    ? nb_tanh_grad(g, in[0], in[1])
            : strcmp(f->name, "relu_grad") == 0    ? nb_relu_grad(g, in[0], in[1])
                                                   : nb_mse(g, in[0], in[1]);
        break;
    case F_ONE_HOT:
        if (!int_arg(p, o, &a[1], "class count", &k)) {
            return false;
        }
        y = nb_one_hot(g, in[0], k, p->dtype);
        break;
    case F_FILL: {
        value *val = &a[argc - 1];
        if (argc == 2 && !shape_arg(p, o, &a[0], &rank, shape)) {
            return false;
        }
        if (val->kind != V_NUM) {
            return fail(p, NB_ERR_FORMAT, val->line, val->col,
                        "fill: the value must be a number") == NB_OK;
        }
        if (!fits(p, p->dtype, val->num, val->line, val->col)) {
            return false;
        }
        n_in = 0;
        y = nb_fill(g, p->dtype, rank, shape, val->num);
        break;
    }
    }
    if (!y) {
        engine_error(p, o->line, o->col, ", ", n_in, in);
        return false;
    }
    p->n_vals = o->base;
    return push_val(p, (value){ .kind = V_NODE, .node = y, .line = o->line, .col = o->col });
}

static bool reduce_top(parser *p)
{
    opent o = p->ops[--p->n_ops];
    if (o.kind == O_NEG) {
        return apply_neg(p, &o);
    }
    return apply_binary(p, &o);
}

static int binary_kind(tok_kind t)
{
    switch (t) {
    case T_PLUS:
        return O_ADD;
    case T_MINUS:
        return O_SUB;
    case T_STAR:
        return O_MUL;
    case T_SLASH:
        return O_DIV;
    case T_AT:
        return O_MATMUL;
    case T_POW:
        return O_POW;
    default:
        return -1;
    }
}

/*
 * Parses an expression up to the end of the line into one value. Operator
 * precedence with explicit stacks: ** binds tightest and to the right, then
 * unary minus, then * / @, then + -, as in Python.
 */
static bool expression(parser *p, value *out)
{
    uint32_t vbase = p->n_vals, obase = p->n_ops;
    bool operand = true;
    while (p->status == NB_OK) {
        token t = p->tok;
        if (operand) {
            if (t.kind == T_MINUS) {
                push_op(p, (opent){ .kind = O_NEG, .line = t.line, .col = t.col });
                advance(p);
            } else if (t.kind == T_LPAREN) {
                push_op(p, (opent){ .kind = O_GROUP, .line = t.line, .col = t.col });
                advance(p);
            } else if (t.kind == T_NUMBER) {
                push_val(p, (value){ .kind = V_NUM, .num = t.num, .line = t.line, .col = t.col });
                advance(p);
                operand = false;
            } else if (t.kind == T_LBRACK) {
                value v;
                if (literal(p, &v)) {
                    push_val(p, v);
                }
                operand = false;
            } else if (t.kind == T_NAME) {
                advance(p);
                opent *call = p->n_ops > obase ? &p->ops[p->n_ops - 1] : NULL;
                if (p->tok.kind == T_ASSIGN && call && call->kind == O_CALL) {
                    /* name=value opens a keyword argument */
                    if (call->key) {
                        return expected(p, "an expression") == NB_OK;
                    }
                    call->key = t.start;
                    call->key_len = t.len;
                    advance(p);
                    continue;
                }
                if (p->tok.kind == T_LPAREN) { /* a call */
                    push_op(p, (opent){ .kind = O_CALL,
                                        .line = t.line,
                                        .col = t.col,
                                        .name = t.start,
                                        .len = t.len,
                                        .base = p->n_vals });
                    advance(p);
                    if (p->tok.kind == T_RPAREN) { /* no arguments */
                        opent o = p->ops[--p->n_ops];
                        advance(p);
                        apply_call(p, &o);
                        operand = false;
                    }
                    continue;
                }
                sym *s = sym_find(&p->syms, t.start, t.len);
                if (s) {
                    push_val(
                        p,
                        (value){ .kind = V_NODE, .node = s->node, .line = t.line, .col = t.col });
                } else {
                    /* a bare word: keepdims, transpose_a, or an unknown name (caught on use) */
                    push_val(p, (value){ .kind = V_WORD,
                                         .word = t.start,
                                         .len = t.len,
                                         .line = t.line,
                                         .col = t.col });
                }
                operand = false;
            } else {
                return expected(p, "an expression") == NB_OK;
            }
            continue;
        }
        int kind = binary_kind(t.kind);
        if (kind >= 0) {
            /* reduce what binds at least as tightly (** is right-associative) */
            while (p->n_ops > obase && p->status == NB_OK) {
                int top = p->ops[p->n_ops - 1].kind;
                int pt = precedence(top), pk = precedence(kind);
                if (top == O_GROUP || top == O_CALL || pt < pk || (pt == pk && kind == O_POW)) {
                    break;
                }
                reduce_top(p);
            }
            push_op(p, (opent){ .kind = kind, .line = t.line, .col = t.col });
            advance(p);
            operand = true;
        } else if (t.kind == T_COMMA || t.kind == T_RPAREN) {
            while (p->n_ops > obase && p->ops[p->n_ops - 1].kind != O_GROUP &&
                   p->ops[p->n_ops - 1].kind != O_CALL && p->status == NB_OK) {
                reduce_top(p);
            }
            if (p->status != NB_OK) {
                break;
            }
            if (p->n_ops == obase) {
                return fail(p, NB_ERR_FORMAT, t.line, t.col,
                            t.kind == T_COMMA ? "',' outside a function call's arguments"
                                              : "unmatched ')'") == NB_OK;
            }
            opent *top = &p->ops[p->n_ops - 1];
            if (top->kind == O_CALL && top->key) {
                /* the argument just read is the keyword's value */
                if (p->n_vals > top->base) {
                    p->vals[p->n_vals - 1].key = top->key;
                    p->vals[p->n_vals - 1].key_len = top->key_len;
                }
                top->key = NULL;
            }
            if (t.kind == T_COMMA) {
                if (top->kind != O_CALL) {
                    return fail(p, NB_ERR_FORMAT, t.line, t.col,
                                "',' outside a function call's arguments") == NB_OK;
                }
                advance(p);
                operand = true;
                continue;
            }
            opent o = p->ops[--p->n_ops];
            advance(p);
            if (o.kind == O_CALL && !apply_call(p, &o)) {
                break;
            }
        } else if (t.kind == T_NEWLINE || t.kind == T_EOF) {
            break;
        } else {
            return expected(p, "an operator or the end of the line") == NB_OK;
        }
    }
    while (p->n_ops > obase && p->status == NB_OK) {
        opent *top = &p->ops[p->n_ops - 1];
        if (top->kind == O_GROUP) {
            return fail(p, NB_ERR_FORMAT, top->line, top->col,
                        "this '(' is not closed: a ')' is missing") == NB_OK;
        }
        if (top->kind == O_CALL) {
            return fail(p, NB_ERR_FORMAT, top->line, top->col,
                        "this call of %.*s is not closed: a ')' is missing", (int)top->len,
                        top->name) == NB_OK;
        }
        reduce_top(p);
    }
    if (p->status != NB_OK) {
        return false;
    }
    if (operand || p->n_vals != vbase + 1) {
        return expected(p, "an expression") == NB_OK;
    }
    *out = p->vals[--p->n_vals];
    return true;
}

/* ---- statements ---- */

static bool define(parser *p, const token *name, nb_node *n)
{
    sym *s = sym_find(&p->syms, name->start, name->len);
    if (s) {
        fail(p, NB_ERR_FORMAT, name->line, name->col, "'%.*s' is already defined (at %d:%d)",
             (int)name->len, name->start, s->line, s->col);
        return false;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)name->len, name->start);
    if (!nb_node_set_name(p->g, n, buf)) {
        fail(p, nb_graph_status(p->g), name->line, name->col, "%s", nb_graph_error(p->g));
        return false;
    }
    if (!sym_add(p->g, &p->syms,
                 (sym){ .name = name->start,
                        .len = name->len,
                        .node = n,
                        .line = name->line,
                        .col = name->col })) {
        nomem(p);
        return false;
    }
    return true;
}

/* Reads the name a statement defines, checking it is free to use. */
static bool new_name(parser *p, token *name)
{
    *name = p->tok;
    if (name->kind != T_NAME) {
        return expected(p, "a name") == NB_OK;
    }
    if (nbl_reserved(name->start, name->len)) {
        return fail(p, NB_ERR_FORMAT, name->line, name->col,
                    "'%.*s' is a keyword or a function; choose another name", (int)name->len,
                    name->start) == NB_OK;
    }
    if (name->len > NBL_NAME_MAX) {
        return fail(p, NB_ERR_FORMAT, name->line, name->col,
                    "the name is longer than %d characters", NBL_NAME_MAX) == NB_OK;
    }
    advance(p);
    return p->status == NB_OK;
}

static bool end_of_statement(parser *p)
{
    if (p->tok.kind != T_NEWLINE && p->tok.kind != T_EOF) {
        return expected(p, "the end of the line") == NB_OK;
    }
    return true;
}

/*
 * Writes literal v as values of dtype and shape into dst: the literal must have
 * that shape, or be one number for every element. name is for messages.
 */
static bool literal_into(parser *p, const value *v, int dtype, int rank, const int64_t *shape,
                         void *dst, const char *name)
{
    size_t count;
    nbi_shape_count(rank, shape, &count);
    if (v->count != 1 && !nbi_shape_eq(v->rank, v->shape, rank, shape)) {
        char a[96], b[96];
        nbi_format_shape(v->rank, v->shape, a, sizeof a);
        nbi_format_shape(rank, shape, b, sizeof b);
        return fail(p, NB_ERR_SHAPE, v->line, v->col, "the literal has shape %s but %s is %s", a,
                    name, b) == NB_OK;
    }
    for (size_t i = 0; i < count; i++) {
        double x = p->lits[v->off + (v->count == 1 ? 0 : i)];
        switch (dtype) {
        case NB_DTYPE_F32:
            if (!fits(p, dtype, x, v->line, v->col)) {
                return false;
            }
            ((float *)dst)[i] = (float)x;
            break;
        case NB_DTYPE_F64:
            ((double *)dst)[i] = x;
            break;
        default:
            if (x != floor(x) || fabs(x) > INT32_MAX) {
                return fail(p, NB_ERR_FORMAT, v->line, v->col,
                            "%s is i32: %g is not a whole number", name, x) == NB_OK;
            }
            ((int32_t *)dst)[i] = (int32_t)x;
        }
    }
    return true;
}

/* Reads an initializer: a literal, zeros, ones, normal(m, s), uniform(a, b), xavier, he. */
static bool initializer(parser *p, nb_init *init, value *lit, bool *is_literal)
{
    token t = p->tok;
    *is_literal = false;
    if (t.kind == T_NUMBER || t.kind == T_MINUS || t.kind == T_LBRACK) {
        *is_literal = true;
        return literal(p, lit);
    }
    static const struct {
        const char *name;
        nb_init_kind kind;
        int args;
    } inits[] = {
        { "zeros", NB_INIT_CONSTANT, 0 },        { "ones", NB_INIT_CONSTANT, 0 },
        { "normal", NB_INIT_NORMAL, 2 },         { "uniform", NB_INIT_UNIFORM, 2 },
        { "xavier", NB_INIT_XAVIER_UNIFORM, 0 }, { "xavier_normal", NB_INIT_XAVIER_NORMAL, 0 },
        { "he", NB_INIT_HE_NORMAL, 0 },          { "he_uniform", NB_INIT_HE_UNIFORM, 0 },
    };
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++) {
        if (!is_word(&t, inits[i].name)) {
            continue;
        }
        *init = (nb_init){ .kind = inits[i].kind, .a = 1 };
        if (i <= 1) {
            init->a = i == 1 ? 1 : 0;
        }
        advance(p);
        if (inits[i].args == 0) {
            return p->status == NB_OK;
        }
        double a, b;
        if (p->tok.kind != T_LPAREN) {
            return expected(p, "'('") == NB_OK;
        }
        advance(p);
        if (!signed_number(p, &a)) {
            return false;
        }
        if (p->tok.kind != T_COMMA) {
            return expected(p, "','") == NB_OK;
        }
        advance(p);
        if (!signed_number(p, &b)) {
            return false;
        }
        if (p->tok.kind != T_RPAREN) {
            return expected(p, "')'") == NB_OK;
        }
        advance(p);
        init->a = a;
        init->b = b;
        return p->status == NB_OK;
    }
    return expected(p, "a literal or an initializer (zeros, ones, normal(m, s), uniform(a, b), "
                       "xavier, xavier_normal, he, he_uniform)") == NB_OK;
}

/*
 * input NAME [shape] [: dtype] [= literal] | param NAME [shape] [: dtype] = init
 * | const NAME [shape] [: dtype] = literal
 * | state NAME [shape] [: dtype] = (literal | zeros | ones). The dtype defaults to the model's;
 * the writer names it when a node's differs (i32 labels, an i32 constant).
 */
static bool declaration(parser *p, int which)
{
    token kw = p->tok;
    advance(p);
    token name;
    if (!new_name(p, &name)) {
        return false;
    }
    int rank = 0;
    int64_t shape[NB_MAX_RANK];
    bool has_shape = p->tok.kind == T_LBRACK;
    if (has_shape && !shape_spec(p, &rank, shape)) {
        return false;
    }
    nb_dtype dtype = p->dtype;
    if (p->tok.kind == T_COLON) {
        advance(p);
        if (is_word(&p->tok, "i32")) {
            dtype = NB_DTYPE_I32;
        } else if (is_word(&p->tok, "f32")) {
            dtype = NB_DTYPE_F32;
        } else if (is_word(&p->tok, "f64")) {
            dtype = NB_DTYPE_F64;
        } else {
            return expected(p, "a dtype (i32, f32 or f64)") == NB_OK;
        }
        advance(p);
    }
    value lit = { .count = 0 };
    nb_init init = nb_init_constant(0);
    bool is_literal = false;
    token init_tok = kw; /* where an engine error about the values points */
    if (p->tok.kind == T_ASSIGN) {
        advance(p);
        if (which == NBI_OP_PARAM) {
            init_tok = p->tok;
            if (!initializer(p, &init, &lit, &is_literal)) {
                return false;
            }
        } else if (which == NBI_OP_STATE &&
                   (is_word(&p->tok, "zeros") || is_word(&p->tok, "ones"))) {
            /* state starts as PyTorch's buffers do: running means at 0, variances at 1 */
            init = nb_init_constant(is_word(&p->tok, "ones") ? 1 : 0);
            advance(p);
            if (p->status != NB_OK) {
                return false;
            }
        } else {
            if (!literal(p, &lit)) {
                return false;
            }
            is_literal = true;
        }
    } else if (which != NBI_OP_INPUT) {
        return expected(p, which == NBI_OP_PARAM   ? "'=' and an initializer"
                           : which == NBI_OP_STATE ? "'=' and a literal, zeros or ones"
                                                   : "'=' and a literal") == NB_OK;
    }
    if (!end_of_statement(p)) {
        return false;
    }
    if (!has_shape && is_literal) {
        rank = lit.rank;
        memcpy(shape, lit.shape, sizeof shape);
    }
    char nm[256];
    snprintf(nm, sizeof nm, "%.*s", (int)name.len, name.start);
    nb_node *n = NULL;
    if (which == NBI_OP_CONST) {
        /* the values first, then the constant that copies them */
        size_t count = 1, bytes;
        if (!nbi_shape_bytes(rank, shape, dtype, &count, &bytes)) {
            return fail(p, NB_ERR_SHAPE, kw.line, kw.col, "const %s: the shape is too large", nm) ==
                   NB_OK;
        }
        void *data = nbi_mem_alloc(p->g, bytes ? bytes : 1);
        if (!data) {
            return nomem(p) == NB_OK;
        }
        if (literal_into(p, &lit, dtype, rank, shape, data, nm)) {
            n = nb_const(p->g, dtype, rank, rank ? shape : NULL, data);
        }
        nbi_mem_free(p->g, data, bytes ? bytes : 1);
        if (p->status != NB_OK) {
            return false;
        }
    } else if (which == NBI_OP_STATE) {
        n = nb_state(p->g, dtype, rank, rank ? shape : NULL, init.a);
    } else {
        n = which == NBI_OP_INPUT ? nb_input(p->g, dtype, rank, rank ? shape : NULL)
                                  : nb_param(p->g, dtype, rank, rank ? shape : NULL, init);
    }
    if (!n) {
        return fail(p, nb_graph_status(p->g), init_tok.line, init_tok.col, "%s",
                    nb_graph_error(p->g)) == NB_OK;
    }
    if (is_literal && which != NBI_OP_CONST &&
        !literal_into(p, &lit, dtype, rank, shape, n->data, nm)) {
        return false;
    }
    return define(p, &name, n);
}

static bool assignment(parser *p)
{
    token name;
    if (!new_name(p, &name)) {
        return false;
    }
    if (p->tok.kind != T_ASSIGN) {
        return expected(p, "'='") == NB_OK;
    }
    advance(p);
    value v;
    if (!expression(p, &v) || !end_of_statement(p)) {
        return false;
    }
    if (v.kind == V_NODE) {
        char buf[64];
        const char *old = nbi_name_into(v.node, buf, sizeof buf);
        if ((v.node->flags & NBI_F_NAMED) || nbi_is_leaf(v.node)) {
            return fail(p, NB_ERR_FORMAT, name.line, name.col,
                        "%.*s = %s would give '%s' a second name; write an expression that "
                        "computes something",
                        (int)name.len, name.start, old, old) == NB_OK;
        }
    }
    nb_node *n = as_node(p, &v);
    return n && define(p, &name, n);
}

static bool statement(parser *p)
{
    token t = p->tok;
    if (t.kind == T_NAME) {
        if (is_word(&t, "input")) {
            return declaration(p, NBI_OP_INPUT);
        }
        if (is_word(&t, "param")) {
            return declaration(p, NBI_OP_PARAM);
        }
        if (is_word(&t, "const")) {
            return declaration(p, NBI_OP_CONST);
        }
        if (is_word(&t, "state")) {
            return declaration(p, NBI_OP_STATE);
        }
        if (is_word(&t, "scope")) {
            advance(p);
            token name = p->tok;
            if (name.kind != T_NAME) {
                return expected(p, "a scope name") == NB_OK;
            }
            if (name.len > NBL_NAME_MAX) {
                return fail(p, NB_ERR_FORMAT, name.line, name.col,
                            "the scope name is longer than %d characters", NBL_NAME_MAX) == NB_OK;
            }
            advance(p);
            if (p->tok.kind != T_LBRACE) {
                return expected(p, "'{'") == NB_OK;
            }
            token brace = p->tok;
            advance(p);
            if (!end_of_statement(p)) {
                return false;
            }
            char buf[256];
            snprintf(buf, sizeof buf, "%.*s", (int)name.len, name.start);
            nb_scope_push(p->g, buf);
            if (nb_graph_status(p->g) != NB_OK ||
                !nbi_grow(p->g, (void **)&p->scopes, &p->cap_scopes, p->n_scopes + 1,
                          sizeof *p->scopes)) {
                return nomem(p) == NB_OK;
            }
            p->scopes[p->n_scopes++] = (open_scope){ brace.line, brace.col };
            return true;
        }
        return assignment(p);
    }
    if (t.kind == T_RBRACE) {
        if (p->n_scopes == 0) {
            return fail(p, NB_ERR_FORMAT, t.line, t.col, "'}' closes no scope") == NB_OK;
        }
        advance(p);
        if (!end_of_statement(p)) {
            return false;
        }
        p->n_scopes--;
        nb_scope_pop(p->g);
        return true;
    }
    return expected(p,
                    "a statement (input, param, const, state, scope, '}' or name = expression)") ==
           NB_OK;
}

nb_status nb_model_parse(nb_graph *g, const char *src, size_t len, const nb_model_options *opts,
                         nb_parse_error *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
    }
    parser p = { .g = g, .dtype = opts ? opts->dtype : NB_DTYPE_F64, .err = err };
    if (!g || (!src && len > 0)) {
        return fail(&p, NB_ERR_ARG, 0, 0, "no graph or no source text");
    }
    if (g->status != NB_OK) {
        return fail(&p, g->status, 0, 0, "the graph is in error: %s", g->err);
    }
    if (p.dtype != NB_DTYPE_F32 && p.dtype != NB_DTYPE_F64) {
        return fail(&p, NB_ERR_ARG, 0, 0, "the model dtype must be f32 or f64");
    }
    nbl_lexer_init(&p.lx, src ? src : "", len);
    advance(&p);
    uint32_t scopes_before = g->open_scopes;
    while (p.status == NB_OK && p.tok.kind != T_EOF) {
        if (p.tok.kind == T_NEWLINE) {
            advance(&p);
            continue;
        }
        p.n_lits = 0;
        if (statement(&p) && p.tok.kind == T_NEWLINE) {
            advance(&p);
        }
    }
    if (p.status == NB_OK && p.n_scopes > 0) {
        open_scope *s = &p.scopes[p.n_scopes - 1];
        fail(&p, NB_ERR_FORMAT, s->line, s->col, "this scope is not closed: a '}' is missing");
    }
    while (g->open_scopes > scopes_before && g->status == NB_OK) {
        nb_scope_pop(g); /* leave the graph's scope stack as we found it */
    }
    nbi_mem_free(g, p.syms.slots, (size_t)p.syms.cap * sizeof(sym));
    nbi_mem_free(g, p.vals, (size_t)p.cap_vals * sizeof *p.vals);
    nbi_mem_free(g, p.ops, (size_t)p.cap_ops * sizeof *p.ops);
    nbi_mem_free(g, p.lits, (size_t)p.cap_lits * sizeof *p.lits);
    nbi_mem_free(g, p.scopes, (size_t)p.cap_scopes * sizeof *p.scopes);
    return p.status;
}

nb_status nb_model_parse_file(nb_graph *g, const char *path, const nb_model_options *opts,
                              nb_parse_error *err)
{
    parser p = { .err = err };
    if (err) {
        memset(err, 0, sizeof *err);
    }
    if (!g || !path) {
        return fail(&p, NB_ERR_ARG, 0, 0, "no graph or no path");
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        return fail(&p, NB_ERR_IO, 0, 0, "%s: cannot open", path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = ncap > cap ? nbi_mem_realloc(g, buf, cap, ncap) : NULL;
            if (!nb) {
                nbi_mem_free(g, buf, cap);
                fclose(f);
                return fail(&p, NB_ERR_NOMEM, 0, 0, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    nb_status s;
    if (bad) {
        s = fail(&p, NB_ERR_IO, 0, 0, "%s: read error", path);
    } else {
        s = nb_model_parse(g, buf, len, opts, err);
    }
    nbi_mem_free(g, buf, cap);
    return s;
}
