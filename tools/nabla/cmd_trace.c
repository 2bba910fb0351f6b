/*
 * tools/nabla/cmd_trace.c: `nabla trace`, the backward pass as a lesson. The
 * forward table lists every node the output needs; the backward one gives
 * each node's adjoint (from one nb_grad call whose wrt is every such node)
 * and the rules that produced it: for each consumer, its op and the part of
 * the op's gradient formula (nb_op_info) that feeds this input.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static bool op_info(const nb_node *n, nb_op_info *info)
{
    const char *name = nb_node_op_name(n);
    for (size_t i = 0; i < nb_op_count(); i++) {
        if (nb_op_info_get(i, info) && strcmp(info->name, name) == 0) {
            return true;
        }
    }
    return false;
}

/* Splits s at top-level ", " and "; " into at most max parts (pointers into copy). */
static int split_rule(char *copy, char **parts, int max)
{
    int n = 0, depth = 0;
    char *start = copy;
    for (char *p = copy; *p; p++) {
        if (*p == '(' || *p == '[') {
            depth++;
        } else if ((*p == ')' || *p == ']') && depth > 0) {
            depth--;
        } else if (depth == 0 && (*p == ',' || *p == ';') && p[1] == ' ' && n + 1 < max) {
            *p = '\0';
            parts[n++] = start;
            start = p + 2;
            p++;
        }
    }
    parts[n++] = start;
    return n;
}

/* True if part looks like "dz = ..."; writes the variable ("z") to var. */
static bool d_part(const char *part, char *var, size_t cap)
{
    if (part[0] != 'd') {
        return false;
    }
    size_t k = 1;
    while ((part[k] >= 'a' && part[k] <= 'z') || (part[k] >= 'A' && part[k] <= 'Z')) {
        k++;
    }
    if (k == 1 || strncmp(part + k, " = ", 3) != 0 || k - 1 >= cap) {
        return false;
    }
    memcpy(var, part + 1, k - 1);
    var[k - 1] = '\0';
    return true;
}

/*
 * The rule by which consumer c sends a gradient to its input `slot`, from the
 * op's grad_formula: "da = dy * b" for a binary op whose formula has one part
 * per input (a trailing parenthetical note applies to every part), the whole
 * formula otherwise. vars[] receives the formula's name of each input.
 */
static void rule_for(const nb_node *c, int slot, char *rule, size_t cap, char vars[2][16])
{
    nb_op_info info;
    rule[0] = '\0';
    strcpy(vars[0], "x");
    strcpy(vars[1], "");
    if (!op_info(c, &info) || !info.grad_formula) {
        return;
    }
    snprintf(rule, cap, "%s", info.grad_formula);
    int arity = nb_node_arity(c);
    if (arity != 2) {
        char v[16];
        if (d_part(info.grad_formula, v, sizeof v)) {
            strcpy(vars[0], v);
        }
        return;
    }
    strcpy(vars[0], "a");
    strcpy(vars[1], "b");
    char copy[512], *parts[8];
    snprintf(copy, sizeof copy, "%s", info.grad_formula);
    int n = split_rule(copy, parts, 8);
    int idx[8], nd = 0;
    for (int i = 0; i < n; i++) {
        char v[16];
        if (d_part(parts[i], v, sizeof v)) {
            if (nd < 2) {
                snprintf(vars[nd], sizeof vars[nd], "%s", v);
            }
            idx[nd++] = i;
        }
    }
    const char *pick = NULL;
    if (nd == 2) {
        pick = parts[idx[slot]];
    } else if (nd == 1 && slot == 0 && nb_node_dtype(nb_node_input(c, 1)) == NB_DTYPE_I32) {
        pick = parts[idx[0]]; /* cross_entropy: the labels get none */
        strcpy(vars[1], "labels");
    }
    if (!pick) {
        return;
    }
    /* a note in parentheses closing the last part belongs to every part */
    const char *last = parts[n - 1], *note = NULL;
    size_t ll = strlen(last);
    if (ll > 2 && last[ll - 1] == ')') {
        int depth = 0;
        for (size_t i = ll; i-- > 0;) {
            depth += last[i] == ')' ? 1 : last[i] == '(' ? -1 : 0;
            if (depth == 0) {
                if (i > 0 && last[i - 1] == ' ') {
                    note = last + i;
                }
                break;
            }
        }
    }
    if (note && pick != last && d_part(last, (char[16]){ 0 }, 16)) {
        snprintf(rule, cap, "%s %s", pick, note);
    } else {
        snprintf(rule, cap, "%s", pick);
    }
}

typedef struct trace {
    nb_graph *g;
    nb_node *y;
    nb_node **fwd; /* the nodes y needs, in id order */
    size_t n_fwd;
    nb_node **adj; /* by position in fwd: the adjoint, or NULL (no gradient) */
} trace;

static const char *no_grad_reason(const nb_node *n)
{
    if (nb_node_dtype(n) == NB_DTYPE_I32) {
        return "i32 labels have no gradient";
    }
    if (nb_node_kind(n) == NB_KIND_CONST) {
        return "a constant: no gradient needed";
    }
    if (nb_node_arity(n) == 0 && nb_node_kind(n) == NB_KIND_OP) {
        return "no inputs: no gradient needed";
    }
    return NULL;
}

static void print_forward(const trace *t)
{
    char(*shape)[64] = malloc(t->n_fwd * sizeof *shape);
    char(*value)[160] = malloc(t->n_fwd * sizeof *value);
    if (!shape || !value) {
        free(shape);
        free(value);
        return;
    }
    int wn = 4, wo = 2, ws = 5, wv = 5;
    for (size_t i = 0; i < t->n_fwd; i++) {
        nb_node *n = t->fwd[i];
        shape_string(n, shape[i], sizeof shape[i]);
        double *v = node_values(t->g, n);
        if (v) {
            inline_values(value[i], sizeof value[i], v, nb_node_rank(n), nb_node_shape(n), 6);
        } else {
            snprintf(value[i], sizeof value[i], "?");
        }
        free(v);
        int a = (int)strlen(nb_node_name(n)), b = (int)strlen(nb_node_op_name(n));
        int s = (int)strlen(shape[i]), w = (int)strlen(value[i]);
        wn = a > wn ? a : wn;
        wo = b > wo ? b : wo;
        ws = s > ws ? s : ws;
        wv = w > wv ? w : wv;
    }
    printf("forward pass: the %zu node%s %s needs, in order\n", t->n_fwd, t->n_fwd == 1 ? "" : "s",
           nb_node_name(t->y));
    printf("  %-*s  %-*s  %-*s  %-*s  computed as\n", wn, "node", wo, "op", ws, "shape", wv,
           "value");
    for (size_t i = 0; i < t->n_fwd; i++) {
        nb_node *n = t->fwd[i];
        char expr[400];
        nb_node_expression(n, expr, sizeof expr);
        char line[1200];
        snprintf(line, sizeof line, "  %-*s  %-*s  %-*s  %-*s  %s", wn, nb_node_name(n), wo,
                 nb_node_op_name(n), ws, shape[i], wv, value[i], expr);
        size_t len = strlen(line);
        while (len > 0 && line[len - 1] == ' ') {
            line[--len] = '\0';
        }
        puts(line);
    }
    free(shape);
    free(value);
}

/* Position of node n in t->fwd, or t->n_fwd. */
static size_t pos_of(const trace *t, const nb_node *n)
{
    size_t lo = 0, hi = t->n_fwd;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (nb_node_id(t->fwd[mid]) < nb_node_id(n)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < t->n_fwd && t->fwd[lo] == n ? lo : t->n_fwd;
}

/* Calls emit for each (consumer, slot) of node i that carries a gradient. */
typedef void (*emit_fn)(const trace *t, size_t i, nb_node *consumer, int slot, void *user);

static void consumers(const trace *t, size_t i, emit_fn emit, void *user)
{
    for (size_t k = i + 1; k < t->n_fwd; k++) {
        nb_node *c = t->fwd[k];
        if (!t->adj[k]) {
            continue; /* the consumer itself gets no gradient */
        }
        for (int s = 0; s < nb_node_arity(c); s++) {
            if (nb_node_input(c, s) == t->fwd[i]) {
                emit(t, i, c, s, user);
            }
        }
    }
}

static bool word_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* Appends s to out (at *at, cap bytes). */
static void put(char *out, size_t cap, size_t *at, const char *s, size_t len)
{
    if (*at + len < cap) {
        memcpy(out + *at, s, len);
        *at += len;
        out[*at] = '\0';
    }
}

/*
 * matmul's rule for the transpose flags this node has: the generic "op(b)ᵀ
 * (transposed back if flagged)" written out, so da = dy @ bᵀ becomes
 * da = dy @ b for a @ bᵀ.
 */
static bool matmul_rule(nb_node *c, int slot, char *rule, size_t cap)
{
    if (strcmp(nb_node_op_name(c), "matmul") != 0) {
        return false;
    }
    char expr[400];
    nb_node_expression(c, expr, sizeof expr);
    bool ta = strstr(expr, "transpose_a") != NULL, tb = strstr(expr, "transpose_b") != NULL;
    static const char *const rules[2][2][2] = {
        /* [ta][tb][slot] */
        { { "da = dy @ bᵀ", "db = aᵀ @ dy" }, { "da = dy @ b", "db = dyᵀ @ a" } },
        { { "da = b @ dyᵀ", "db = a @ dy" }, { "da = bᵀ @ dyᵀ", "db = dyᵀ @ aᵀ" } },
    };
    bool batched = nb_node_rank(nb_node_input(c, 0)) != nb_node_rank(nb_node_input(c, 1));
    snprintf(rule, cap, "%s%s", rules[ta][tb][slot],
             batched ? " (summed over the batch for the shared operand)" : "");
    return true;
}

/*
 * The count a rule's n (or N) stands for: the elements averaged, which is the
 * input's size over the output's, or cross_entropy's rows.
 */
static size_t rule_count(const nb_node *c)
{
    const nb_node *in = nb_node_input(c, 0);
    if (strcmp(nb_node_op_name(c), "cross_entropy") == 0 && nb_node_rank(in) > 0) {
        return (size_t)nb_node_shape(in)[0];
    }
    size_t out = nb_node_size(c);
    return out ? nb_node_size(in) / out : 0;
}

/*
 * The value of c's attribute `name` as its expression shows it ("slope=0.2",
 * pow's "x ** 3"), or the op's default; false when the op has no such
 * attribute or the value cannot be told.
 */
static bool attr_value(nb_node *c, const char *name, char *buf, size_t cap)
{
    nb_op_info info;
    size_t op = 0;
    for (; op < nb_op_count(); op++) {
        if (nb_op_info_get(op, &info) && strcmp(info.name, nb_node_op_name(c)) == 0) {
            break;
        }
    }
    nb_op_attr attr;
    int k = 0;
    for (; op < nb_op_count() && k < info.n_attrs; k++) {
        if (nb_op_attr_get(op, k, &attr) && strcmp(attr.name, name) == 0) {
            break;
        }
    }
    if (op == nb_op_count() || k == info.n_attrs) {
        return false;
    }
    char expr[400], key[80];
    nb_node_expression(c, expr, sizeof expr);
    snprintf(key, sizeof key, "%s=", name);
    const char *at = strstr(expr, key);
    if (at) {
        at += strlen(key);
    } else if (strcmp(nb_node_op_name(c), "pow") == 0 && (at = strstr(expr, " ** "))) {
        at += 4;
    }
    if (at) {
        snprintf(buf, cap, "%.*s", (int)strcspn(at, ",) "), at);
        return true;
    }
    if (attr.required || strcmp(attr.kind, "ints") == 0) {
        return false;
    }
    snprintf(buf, cap, "%g", attr.def);
    return true;
}

/* Appends "name = value" for node n to a binding list. */
static void bind_value(const trace *t, char *where, size_t cap, size_t *at, const char *name,
                       const nb_node *n, const nb_node *shape_of)
{
    char val[400] = "?";
    double *v = node_values(t->g, n);
    if (v) {
        inline_values(val, sizeof val, v, nb_node_rank(shape_of), nb_node_shape(shape_of), 4);
    }
    free(v);
    char item[600];
    int w = snprintf(item, sizeof item, "%s%s = %s", *at ? ", " : "", name, val);
    put(where, cap, at, item, w > 0 ? (size_t)w : 0);
}

/*
 * The rule by which consumer c sends its input `slot` a gradient, written
 * with the real nodes: the consumer's adjoint dy is ∂L/∂c, its output y is c,
 * the inputs' roles (x, a, b, z, ...) are their names, and what the input
 * receives is added to its adjoint: "∂L/∂w += ∂L/∂mul_1 * x". where gets a
 * value for every symbol the rule uses (nodes, the adjoint, n).
 */
static void format_from(const trace *t, nb_node *c, int slot, char *buf, size_t cap)
{
    char expr[400], rule[512], vars[2][16];
    nb_node_expression(c, expr, sizeof expr);
    rule_for(c, slot, rule, sizeof rule, vars);
    matmul_rule(c, slot, rule, sizeof rule);
    const char *L = nb_node_name(t->y), *cn = nb_node_name(c);
    int arity = nb_node_arity(c) < 2 ? nb_node_arity(c) : 2;
    char out[1200] = "", where[1200] = "";
    size_t at = 0, wat = 0;
    bool used_in[2] = { false, false }, used_c = false, used_adj = false;
    char n_sym[2] = ""; /* "n" or "N", as the rule writes it */
    char attrs[400] = "", attrs_seen[200] = " ";
    size_t attr_at = 0;
    bool lhs_done = false;
    for (const char *p = rule; *p;) {
        if (!word_char(*p) || (p > rule && word_char(p[-1]))) {
            /* multi-byte characters (ᵀ, ∂, Σ) pass through unchanged */
            put(out, sizeof out, &at, p, 1);
            p++;
            continue;
        }
        size_t len = 0;
        while (word_char(p[len])) {
            len++;
        }
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), p);
        char sub[300] = "";
        if (strcmp(word, "dy") == 0) {
            snprintf(sub, sizeof sub, "∂%s/∂%s", L, cn);
            used_adj = true;
        } else if (strcmp(word, "y") == 0) {
            snprintf(sub, sizeof sub, "%s", cn);
            used_c = true;
        } else if (strcmp(word, "n") == 0 || strcmp(word, "N") == 0) {
            n_sym[0] = word[0];
        } else if (!strstr(attrs_seen, word) && attr_value(c, word, sub, sizeof sub)) {
            /* an attribute (pow's p, leaky_relu's slope): bound, the word kept */
            char item[200];
            int w = snprintf(item, sizeof item, "%s%s = %s", attr_at ? ", " : "", word, sub);
            if (w > 0 && attr_at + (size_t)w < sizeof attrs) {
                memcpy(attrs + attr_at, item, (size_t)w + 1);
                attr_at += (size_t)w;
            }
            snprintf(attrs_seen + strlen(attrs_seen), sizeof attrs_seen - strlen(attrs_seen),
                     " %s ", word);
            sub[0] = '\0';
        } else {
            for (int s = 0; s < arity && !sub[0]; s++) {
                const char *in = nb_node_name(nb_node_input(c, s));
                if (vars[s][0] && strcmp(word, vars[s]) == 0) {
                    snprintf(sub, sizeof sub, "%s", in);
                    used_in[s] = true;
                } else if (vars[s][0] && word[0] == 'd' && strcmp(word + 1, vars[s]) == 0) {
                    /* the part's own left side adds to the input's adjoint */
                    bool lhs = !lhs_done && s == slot && strncmp(p + len, " = ", 3) == 0;
                    snprintf(sub, sizeof sub, "∂%s/∂%s%s", L, in, lhs ? " +=" : "");
                    if (lhs) {
                        lhs_done = true;
                        p += 2; /* "= " of " = " is replaced by "+=" */
                    }
                }
            }
        }
        if (sub[0] && strncmp(p + len, "ᵀ", strlen("ᵀ")) == 0 && strchr(sub, '/')) {
            /* (∂L/∂h)ᵀ: the transpose is of the whole adjoint */
            put(out, sizeof out, &at, "(", 1);
            put(out, sizeof out, &at, sub, strlen(sub));
            put(out, sizeof out, &at, ")", 1);
        } else if (sub[0]) {
            put(out, sizeof out, &at, sub, strlen(sub));
        } else {
            put(out, sizeof out, &at, p, len);
        }
        p += len;
    }
    /* every symbol with its value */
    for (int s = 0; s < arity; s++) {
        nb_node *in = nb_node_input(c, s);
        if (used_in[s] && (s == 0 || in != nb_node_input(c, 0))) {
            bind_value(t, where, sizeof where, &wat, nb_node_name(in), in, in);
        }
    }
    if (used_c) {
        bind_value(t, where, sizeof where, &wat, cn, c, c);
    }
    if (used_adj) {
        char name[300];
        snprintf(name, sizeof name, "∂%s/∂%s", L, cn);
        size_t k = pos_of(t, c);
        if (k < t->n_fwd && t->adj[k]) {
            bind_value(t, where, sizeof where, &wat, name, t->adj[k], c);
        }
    }
    if (attr_at) {
        char item[420];
        int w = snprintf(item, sizeof item, "%s%s", wat ? ", " : "", attrs);
        put(where, sizeof where, &wat, item, w > 0 ? (size_t)w : 0);
    }
    if (n_sym[0]) {
        char item[64];
        int w = snprintf(item, sizeof item, "%s%s = %zu", wat ? ", " : "", n_sym, rule_count(c));
        put(where, sizeof where, &wat, item, w > 0 ? (size_t)w : 0);
    }
    snprintf(buf, cap, "from %s = %s: %s%s%s%s", cn, expr, out, wat ? "   [" : "", where,
             wat ? "]" : "");
}

static void emit_human(const trace *t, size_t i, nb_node *c, int slot, void *user)
{
    (void)i;
    int *count = user;
    char line[1600];
    format_from(t, c, slot, line, sizeof line);
    printf("      %s\n", line);
    (*count)++;
}

static void print_backward(const trace *t)
{
    printf("\nbackward pass: each node's adjoint ∂%s/∂node, in reverse order\n",
           nb_node_name(t->y));
    printf(
        "(each consumer of a node adds to its adjoint what the op's gradient rule sends, written\n"
        "here with the real nodes and, in brackets, the values it uses; a node used several\n"
        "times sums what it receives)\n");
    for (size_t i = t->n_fwd; i-- > 0;) {
        nb_node *n = t->fwd[i];
        const char *why = no_grad_reason(n);
        if (why || !t->adj[i]) {
            printf("  ∂%s/∂%s: none (%s)\n", nb_node_name(t->y), nb_node_name(n),
                   why ? why : "no path");
            continue;
        }
        char val[1024] = "?";
        double *v = node_values(t->g, t->adj[i]);
        if (v) {
            inline_values(val, sizeof val, v, nb_node_rank(n), nb_node_shape(n), 6);
        }
        free(v);
        printf("  ∂%s/∂%s = %s\n", nb_node_name(t->y), nb_node_name(n), val);
        if (n == t->y) {
            printf("      the seed: the output's adjoint of itself is 1\n");
            continue;
        }
        int count = 0;
        consumers(t, i, emit_human, &count);
        if (count > 1) {
            printf("      (the %d contributions are summed)\n", count);
        }
    }
}

static void emit_json(const trace *t, size_t i, nb_node *c, int slot, void *user)
{
    (void)i;
    int *count = user;
    char expr[400], rule[512], vars[2][16];
    nb_node_expression(c, expr, sizeof expr);
    rule_for(c, slot, rule, sizeof rule, vars);
    matmul_rule(c, slot, rule, sizeof rule);
    fputs(*count ? ", " : "", stdout);
    fputs("{\"consumer\": ", stdout);
    json_string(stdout, nb_node_name(c));
    fputs(", \"op\": ", stdout);
    json_string(stdout, nb_node_op_name(c));
    printf(", \"input\": %d, \"expr\": ", slot);
    json_string(stdout, expr);
    fputs(", \"rule\": ", stdout);
    json_string(stdout, rule);
    char applied[1600];
    format_from(t, c, slot, applied, sizeof applied);
    fputs(", \"applied\": ", stdout);
    json_string(stdout, applied);
    fputs("}", stdout);
    (*count)++;
}

static void print_json(const trace *t)
{
    fputs("{\"of\": ", stdout);
    json_string(stdout, nb_node_name(t->y));
    fputs(", \"forward\": [", stdout);
    for (size_t i = 0; i < t->n_fwd; i++) {
        nb_node *n = t->fwd[i];
        char expr[400];
        nb_node_expression(n, expr, sizeof expr);
        fputs(i ? ",\n  " : "\n  ", stdout);
        fputs("{\"name\": ", stdout);
        json_string(stdout, nb_node_name(n));
        fputs(", \"op\": ", stdout);
        json_string(stdout, nb_node_op_name(n));
        fputs(", \"shape\": [", stdout);
        for (int d = 0; d < nb_node_rank(n); d++) {
            printf("%s%lld", d ? ", " : "", (long long)nb_node_shape(n)[d]);
        }
        fputs("], \"expr\": ", stdout);
        json_string(stdout, expr);
        fputs(", \"value\": ", stdout);
        json_node(stdout, t->g, n);
        fputs("}", stdout);
    }
    fputs("],\n \"backward\": [", stdout);
    bool first = true;
    for (size_t i = t->n_fwd; i-- > 0;) {
        nb_node *n = t->fwd[i];
        if (!t->adj[i]) {
            continue;
        }
        fputs(first ? "\n  " : ",\n  ", stdout);
        first = false;
        fputs("{\"name\": ", stdout);
        json_string(stdout, nb_node_name(n));
        fputs(", \"adjoint\": ", stdout);
        double *v = node_values(t->g, t->adj[i]);
        if (v) {
            json_values(stdout, v, nb_node_rank(n), nb_node_shape(n), nb_node_dtype(n));
        } else {
            fputs("null", stdout);
        }
        free(v);
        fputs(", \"from\": [", stdout);
        int count = 0;
        if (n != t->y) {
            consumers(t, i, emit_json, &count);
        }
        fputs("]}", stdout);
    }
    fputs("]}\n", stdout);
}

int cmd_trace(const cli *c)
{
    if (!c->of) {
        return cli_fail(c, EXIT_USAGE,
                        "which node? name it with --of NAME (see nabla trace --help)");
    }
    model m;
    trace t = { 0 };
    nb_node **wrt = NULL, **grads = NULL, **outs = NULL;
    uint8_t *mark = NULL;
    int rc;
    if ((rc = model_load(c, &m, c->dtype)) != EXIT_OK ||
        !(t.y = model_node(c, &m, c->of, "--of", &rc)) ||
        (rc = need_scalar(c, t.y, "--of")) != EXIT_OK) {
        goto done;
    }
    t.g = m.g;
    size_t top = nb_node_id(t.y) + 1;
    mark = calloc(top, 1);
    t.fwd = malloc(top * sizeof *t.fwd);
    t.adj = calloc(top, sizeof *t.adj);
    wrt = malloc(top * sizeof *wrt);
    grads = malloc(top * sizeof *grads);
    outs = malloc(2 * top * sizeof *outs);
    if (!mark || !t.fwd || !t.adj || !wrt || !grads || !outs) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    /* what y needs: ids are a topological order, so one sweep down from y */
    mark[top - 1] = 1;
    for (size_t id = top; id-- > 0;) {
        nb_node *v = nb_graph_node(m.g, id);
        for (int i = 0; mark[id] && i < nb_node_arity(v); i++) {
            mark[nb_node_id(nb_node_input(v, i))] = 1;
        }
    }
    size_t n_wrt = 0;
    for (size_t id = 0; id < top; id++) {
        if (mark[id]) {
            nb_node *v = nb_graph_node(m.g, id);
            t.fwd[t.n_fwd++] = v;
            if (!no_grad_reason(v)) {
                wrt[n_wrt++] = v;
            }
        }
    }
    if (nb_grad(m.g, t.y, n_wrt, wrt, grads) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m.g));
        goto done;
    }
    size_t n_outs = 0;
    for (size_t i = 0; i < t.n_fwd; i++) {
        outs[n_outs++] = t.fwd[i];
    }
    for (size_t i = 0; i < n_wrt; i++) {
        t.adj[pos_of(&t, wrt[i])] = grads[i];
        outs[n_outs++] = grads[i];
    }
    if (nb_graph_run_ex(m.g, n_outs, outs, NB_RUN_KEEP_ALL) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "running the model failed: %s", nb_graph_error(m.g));
        goto done;
    }
    cli_run_warning(c, m.g);
    if (c->json) {
        print_json(&t);
    } else {
        print_forward(&t);
        print_backward(&t);
    }
done:
    free(mark);
    free(t.fwd);
    free(t.adj);
    free(wrt);
    free(grads);
    free(outs);
    model_free(&m);
    return rc;
}
