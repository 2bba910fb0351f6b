/*
 * tools/nabla/model.c: loading a model for a command: reading the file,
 * parsing it (errors shown with the source line and a caret), reading a
 * checkpoint, applying --set values (parsed here, nested lists included), and
 * resolving --of and --wrt names. Every error goes through cli_fail or
 * cli_fail_at, which choose between human and JSON output.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

static void json_error(int line, int column, const char *message)
{
    fputs("{\"error\": ", stdout);
    json_string(stdout, message);
    printf(", \"line\": %d, \"column\": %d}\n", line, column);
    fflush(stdout);
}

int cli_fail(const cli *c, int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->json) {
        json_error(0, 0, msg);
    } else if (c->cmd_name) {
        fprintf(stderr, "nabla %s: %s\n", c->cmd_name, msg);
    } else {
        fprintf(stderr, "nabla: %s\n", msg);
    }
    return status;
}

int cli_fail_at(const cli *c, const model *m, int line, int column, const char *message)
{
    if (c->json) {
        json_error(line, column, message);
        return EXIT_USAGE;
    }
    if (line <= 0) {
        fprintf(stderr, "%s: %s\n", m->path, message);
        return EXIT_USAGE;
    }
    fprintf(stderr, "%s:%d:%d: %s\n", m->path, line, column, message);
    /* the source line, then a caret under the column (tabs kept so it lines up) */
    const char *p = m->src, *end = m->src + m->len;
    for (int l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    fprintf(stderr, "%5d | %.*s\n      | ", line, (int)n, p);
    for (int i = 0; i < column - 1; i++) {
        fputc((size_t)i < n && p[i] == '\t' ? '\t' : ' ', stderr);
    }
    fputs("^\n", stderr);
    return EXIT_USAGE;
}

/* ---- small helpers ---- */

void shape_string(const nb_node *n, char *buf, size_t cap)
{
    size_t at = 0;
    int rank = nb_node_rank(n);
    const int64_t *shape = nb_node_shape(n);
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, "]");
    }
}

static void literal_shape_string(const literal *v, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < v->rank && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)v->shape[i]);
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, "]");
    }
}

bool name_is_generated(nb_node *n)
{
    const char *name = nb_node_name(n), *op = nb_node_op_name(n);
    size_t k = strlen(op);
    if (strncmp(name, op, k) != 0 || name[k] != '_' || !name[k + 1]) {
        return false;
    }
    for (const char *p = name + k + 1; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

double *node_values(nb_graph *g, const nb_node *n)
{
    size_t size = nb_node_size(n);
    double *v = malloc((size ? size : 1) * sizeof *v);
    if (v && nb_node_read_f64(g, n, v, size) != NB_OK) {
        free(v);
        v = NULL;
    }
    return v;
}

/* The names the model gave (not generated ones), for "did you mean" lists. */
static void model_names(const model *m, char *buf, size_t cap)
{
    size_t at = 0, shown = 0, count = nb_graph_node_count(m->g);
    buf[0] = '\0';
    for (size_t i = 0; i < count && at + 1 < cap; i++) {
        nb_node *n = nb_graph_node(m->g, i);
        if (nb_node_is_grad(n) || name_is_generated(n)) {
            continue;
        }
        if (shown == 12) {
            snprintf(buf + at, cap - at, ", ...");
            break;
        }
        int w = snprintf(buf + at, cap - at, "%s%s", shown ? ", " : "", nb_node_name(n));
        at += w > 0 ? (size_t)w : 0;
        shown++;
    }
}

nb_node *model_node(const cli *c, const model *m, const char *name, const char *option, int *rc)
{
    nb_node *n = nb_graph_find(m->g, name);
    if (!n || nb_node_is_grad(n)) {
        char names[512], note[300];
        model_names(m, names, sizeof names);
        suggest sg;
        suggest_init(&sg, name, strlen(name));
        size_t count = nb_graph_node_count(m->g);
        for (size_t i = 0; i < count; i++) {
            nb_node *v = nb_graph_node(m->g, i);
            if (!nb_node_is_grad(v)) {
                suggest_try(&sg, nb_node_name(v));
            }
        }
        *rc = cli_fail(c, EXIT_USAGE, "%s %s: %s has no node named '%s'%s%s%s%s", option, name,
                       m->path, name, suggest_note(&sg, note, sizeof note),
                       names[0] ? " (it names: " : "", names, names[0] ? ")" : "");
        return NULL;
    }
    *rc = EXIT_OK;
    return n;
}

/* ---- --set values ---- */

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
        s++;
    }
    return s;
}

/* A decimal number: [+-] digits [. digits] [e [+-] digits]; no inf, nan or hex. */
static const char *scan_number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    const char *digits = p;
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    bool any = p > digits;
    if (*p == '.') {
        p++;
        const char *frac = p;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        any |= p > frac;
    }
    if (!any) {
        return NULL;
    }
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        if (*q == '+' || *q == '-') {
            q++;
        }
        if (!(*q >= '0' && *q <= '9')) {
            return NULL;
        }
        while (*q >= '0' && *q <= '9') {
            q++;
        }
        p = q;
    }
    char buf[128];
    if ((size_t)(p - s) >= sizeof buf) {
        return NULL;
    }
    memcpy(buf, s, (size_t)(p - s));
    buf[p - s] = '\0';
    errno = 0;
    *out = strtod(buf, NULL);
    if (!isfinite(*out)) {
        return NULL;
    }
    return p;
}

static bool push_value(literal *out, size_t *cap, double x)
{
    if (out->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        double *v = realloc(out->v, ncap * sizeof *v);
        if (!v) {
            return false;
        }
        out->v = v;
        *cap = ncap;
    }
    out->v[out->n++] = x;
    return true;
}

/* Describes what is at s for a message. */
static void at_text(const char *s, char *buf, size_t cap)
{
    if (!*s) {
        snprintf(buf, cap, "the end");
    } else {
        snprintf(buf, cap, "'%.12s%s'", s, strlen(s) > 12 ? "..." : "");
    }
}

/*
 * Parses a number or a rectangular nested list of up to NB_MAX_RANK levels
 * into out (values row-major). Iterative, so no input can exhaust the stack.
 */
bool literal_parse(const char *s, literal *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    char what[32];
    s = skip_space(s);
    if (*s != '[') {
        double x;
        const char *p = scan_number(s, &x);
        if (!p || *skip_space(p)) {
            at_text(p && *skip_space(p) ? skip_space(p) : s, what, sizeof what);
            snprintf(err, err_size,
                     p ? "unexpected %s after the number"
                       : "expected a number or a list like "
                         "[1, 2], found %s",
                     what);
            return false;
        }
        if (!push_value(out, &cap, x)) {
            snprintf(err, err_size, "out of memory");
            return false;
        }
        return true;
    }
    int64_t counts[NB_MAX_RANK + 1] = { 0 }, want[NB_MAX_RANK + 1];
    for (int i = 0; i <= NB_MAX_RANK; i++) {
        want[i] = -1;
    }
    int depth = 1, rank = -1;
    bool elem = true; /* an element is expected next */
    s = skip_space(s + 1);
    while (depth > 0) {
        if (elem && *s == '[') {
            if (depth == NB_MAX_RANK || (rank >= 0 && depth >= rank)) {
                snprintf(err, err_size,
                         depth == NB_MAX_RANK ? "lists nest deeper than rank %d"
                                              : "a list mixes numbers and lists",
                         NB_MAX_RANK);
                goto fail;
            }
            counts[++depth] = 0;
            s = skip_space(s + 1);
        } else if (elem && *s != ']') {
            double x;
            const char *p = scan_number(s, &x);
            if (!p) {
                at_text(s, what, sizeof what);
                snprintf(err, err_size, "expected a number or '[', found %s", what);
                goto fail;
            }
            if (rank < 0) {
                rank = depth;
            } else if (rank != depth) {
                snprintf(err, err_size, "a list mixes numbers and lists");
                goto fail;
            }
            if (!push_value(out, &cap, x)) {
                snprintf(err, err_size, "out of memory");
                goto fail;
            }
            counts[depth]++;
            s = skip_space(p);
            elem = false;
        } else if (!elem && *s == ',') {
            s = skip_space(s + 1);
            elem = true;
        } else if (*s == ']' && (!elem || counts[depth] == 0)) {
            if (counts[depth] == 0) {
                snprintf(err, err_size, "an empty list");
                goto fail;
            }
            if (want[depth] < 0) {
                want[depth] = counts[depth];
            } else if (want[depth] != counts[depth]) {
                snprintf(err, err_size, "ragged list: one has %lld element%s, an earlier one %lld",
                         (long long)counts[depth], counts[depth] == 1 ? "" : "s",
                         (long long)want[depth]);
                goto fail;
            }
            if (--depth > 0) {
                counts[depth]++;
            }
            s = skip_space(s + 1);
            elem = false;
        } else {
            at_text(s, what, sizeof what);
            snprintf(err, err_size, "expected %s, found %s",
                     elem ? "a number or '['" : "',' or ']'", what);
            goto fail;
        }
    }
    if (*s) {
        at_text(s, what, sizeof what);
        snprintf(err, err_size, "unexpected %s after the list", what);
        goto fail;
    }
    out->rank = rank;
    for (int i = 0; i < rank; i++) {
        out->shape[i] = want[i + 1];
    }
    return true;
fail:
    free(out->v);
    out->v = NULL;
    out->n = 0;
    return false;
}

static int apply_set(const cli *c, const model *m, const cli_set *s)
{
    int rc;
    nb_node *n = model_node(c, m, s->name, "--set", &rc);
    if (!n) {
        return rc;
    }
    nb_kind kind = nb_node_kind(n);
    /* a state node is a leaf with values, as a parameter is (running statistics to try) */
    if (kind != NB_KIND_INPUT && kind != NB_KIND_PARAM && kind != NB_KIND_STATE) {
        return cli_fail(c, EXIT_USAGE,
                        "--set %s: %s is %s; --set gives values to inputs, parameters and state "
                        "nodes",
                        s->name, s->name,
                        kind == NB_KIND_CONST ? "a constant" : "computed by the model");
    }
    literal v;
    char err[256];
    if (!literal_parse(s->value, &v, err, sizeof err)) {
        return cli_fail(c, EXIT_USAGE, "--set %s: %s in '%s'", s->name, err, s->value);
    }
    char want[96], got[96];
    shape_string(n, want, sizeof want);
    literal_shape_string(&v, got, sizeof got);
    /* a bare number fills every element, as a literal does in the model language */
    size_t size = nb_node_size(n);
    if (v.rank == 0 && size > 1) {
        double *all = realloc(v.v, size * sizeof *all);
        if (!all) {
            free(v.v);
            return cli_fail(c, EXIT_USAGE, "out of memory");
        }
        for (size_t i = 1; i < size; i++) {
            all[i] = all[0];
        }
        v.v = all;
        v.n = size;
        v.rank = nb_node_rank(n);
        memcpy(v.shape, nb_node_shape(n), (size_t)v.rank * sizeof *v.shape);
    }
    bool same = v.rank == nb_node_rank(n);
    for (int i = 0; same && i < v.rank; i++) {
        same = v.shape[i] == nb_node_shape(n)[i];
    }
    if (!same) {
        free(v.v);
        return cli_fail(c, EXIT_USAGE, "--set %s: the value has shape %s but %s has shape %s%s",
                        s->name, got, s->name, want,
                        nb_node_rank(n) == 0 ? " (a scalar: write a bare number)" : "");
    }
    if (nb_node_dtype(n) == NB_DTYPE_I32) {
        for (size_t i = 0; i < v.n; i++) {
            if (v.v[i] != floor(v.v[i]) || fabs(v.v[i]) > INT32_MAX) {
                double bad = v.v[i];
                free(v.v);
                return cli_fail(c, EXIT_USAGE,
                                "--set %s: %s is an i32 input (labels); %g is not a whole number",
                                s->name, s->name, bad);
            }
        }
    }
    nb_status st = nb_node_write_f64(m->g, n, v.v, v.n);
    free(v.v);
    if (st != NB_OK) {
        return cli_fail(c, EXIT_USAGE, "--set %s: %s", s->name, nb_graph_error(m->g));
    }
    return EXIT_OK;
}

void cli_run_warning(const cli *c, nb_graph *g)
{
    const char *msg = nb_graph_error(g), *name;
    if (strncmp(msg, "warning: input ", 15) != 0) {
        return;
    }
    name = msg + 15;
    fprintf(stderr,
            "nabla %s: warning: input %.*s was never given values and reads as zeros; give it "
            "with --set %.*s=VALUE or a literal in the model (input %.*s[...] = [...])\n",
            c->cmd_name, (int)strcspn(name, " "), name, (int)strcspn(name, " "), name,
            (int)strcspn(name, " "), name);
}

/* ---- loading ---- */

static int read_file(const cli *c, model *m)
{
    FILE *f = fopen(m->path, "rb");
    if (!f) {
        return cli_fail(c, EXIT_USAGE, "cannot open %s: %s", m->path, strerror(errno));
    }
    size_t cap = 4096;
    m->src = malloc(cap);
    m->len = 0;
    while (m->src) {
        size_t got = fread(m->src + m->len, 1, cap - m->len, f);
        m->len += got;
        if (m->len < cap) {
            break;
        }
        char *more = cap < SIZE_MAX / 2 ? realloc(m->src, cap * 2) : NULL;
        if (!more) {
            free(m->src);
            m->src = NULL;
        }
        m->src = more;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!m->src) {
        return cli_fail(c, EXIT_USAGE, "%s: out of memory", m->path);
    }
    if (bad) {
        return cli_fail(c, EXIT_USAGE, "cannot read %s", m->path);
    }
    return EXIT_OK;
}

/*
 * What a checkpoint holds for the model: every parameter, in declaration
 * order, then every state node (malloc'd; *n_params + *n_states entries).
 */
static nb_node **saved_of(nb_graph *g, size_t *n_params, size_t *n_states)
{
    size_t count = nb_graph_node_count(g);
    nb_node **p = malloc((count ? count : 1) * sizeof *p);
    *n_params = *n_states = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; p && i < count; i++) {
            nb_node *v = nb_graph_node(g, i);
            if (nb_node_kind(v) == (kind ? NB_KIND_STATE : NB_KIND_PARAM) && !nb_node_is_grad(v)) {
                p[*n_params + (*n_states)++] = v;
            }
        }
        if (kind == 0) {
            *n_params = *n_states;
            *n_states = 0;
        }
    }
    return p;
}

nb_node **model_saved(const model *m, size_t *n_params, size_t *n_states)
{
    return saved_of(m->g, n_params, n_states);
}

static bool is_set(const cli *c, const char *name)
{
    for (size_t i = 0; i < c->n_sets; i++) {
        if (strcmp(c->sets[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * --load: the parameters and the state nodes. A checkpoint saved with the
 * parameters only (before nabla saved state, or by a program that passed
 * parameters alone) still loads: the state nodes keep the model's values.
 * That is right for train (training runs re-estimate running statistics) and
 * for training-mode runs (batch_norm reads the batch's statistics), so those
 * get a note or nothing; an evaluation-mode run would read the model's
 * initial statistics as if trained, so it is refused unless --set gives
 * every missing state node.
 */
static int load_checkpoint(const cli *c, model *m)
{
    /*
     * --standardize's statistics, when the file has them, load as two more
     * state nodes (so every list below includes them)
     */
    static const char *const norm[2] = { NORM_MEAN, NORM_STD };
    nb_node **norm_at[2] = { &m->norm_mean, &m->norm_std };
    for (int k = 0; k < 2; k++) {
        bool found = false;
        nb_dtype dt;
        int rank;
        int64_t shape[NB_MAX_RANK];
        if (nb_checkpoint_find(m->g, c->load, norm[k], &found, &dt, &rank, shape) != NB_OK) {
            return cli_fail(c, EXIT_USAGE, "--load %s: %s", c->load, nb_graph_error(m->g));
        }
        if (found &&
            !(*norm_at[k] = nb_node_set_name(m->g, nb_state(m->g, dt, rank, shape, 0), norm[k]))) {
            return cli_fail(c, EXIT_USAGE, "--load %s: %s", c->load, nb_graph_error(m->g));
        }
    }
    size_t np, ns;
    nb_node **nodes = saved_of(m->g, &np, &ns);
    if (!nodes) {
        return cli_fail(c, EXIT_USAGE, "out of memory");
    }
    nb_status s = np + ns ? nb_checkpoint_load(m->g, c->load, np + ns, nodes, NULL) : NB_OK;
    int rc = EXIT_OK;
    if (s != NB_OK) {
        char first[1024];
        snprintf(first, sizeof first, "%s", nb_graph_error(m->g));
        /* nothing changed on failure, so the parameters alone can be tried */
        if (ns && np && nb_checkpoint_load(m->g, c->load, np, nodes, NULL) == NB_OK) {
            char names[512] = "";
            size_t at = 0, unset = 0;
            bool evaluates = !c->train && c->cmd != CMD_TRAIN && c->cmd != CMD_DEPTH &&
                             (c->cmd != CMD_DOT || c->values);
            for (size_t i = 0; i < ns && at + 1 < sizeof names; i++) {
                const char *name = nb_node_name(nodes[np + i]);
                if (is_set(c, name)) {
                    continue;
                }
                int w = snprintf(names + at, sizeof names - at, "%s%s", unset ? ", " : "", name);
                at += w > 0 ? (size_t)w : 0;
                unset++;
            }
            if (unset && c->cmd == CMD_TRAIN) {
                fprintf(stderr,
                        "nabla train: note: %s holds the parameters but not the state node%s "
                        "%s; %s from the model's values, and training updates %s\n",
                        c->load, unset == 1 ? "" : "s", names,
                        unset == 1 ? "it starts" : "they start", unset == 1 ? "it" : "them");
            } else if (unset && evaluates) {
                rc = cli_fail(c, EXIT_USAGE,
                              "--load %s: the checkpoint holds the parameters only, not the state "
                              "node%s %s that evaluation mode reads; give %s with --set, run in "
                              "training mode with --train, or save a new checkpoint with nabla "
                              "train --load %s --save FILE",
                              c->load, unset == 1 ? "" : "s", names, unset == 1 ? "it" : "them",
                              c->load);
            }
        } else {
            rc = cli_fail(c, EXIT_USAGE, "--load %s: %s", c->load, first);
        }
    }
    free(nodes);
    return rc;
}

int model_load(const cli *c, model *m, nb_dtype dtype)
{
    memset(m, 0, sizeof *m);
    m->path = c->model_path;
    int rc = read_file(c, m);
    if (rc != EXIT_OK) {
        return rc;
    }
    m->g = nb_graph_new();
    if (!m->g) {
        return cli_fail(c, EXIT_USAGE, "out of memory");
    }
    nb_graph_seed(m->g, c->seed);
    nb_graph_set_simplify(m->g, !c->no_simplify);
    nb_model_options mo = { .dtype = dtype };
    nb_parse_error pe;
    if (nb_model_parse(m->g, m->src, m->len, &mo, &pe) != NB_OK) {
        return cli_fail_at(c, m, pe.line, pe.column, pe.message);
    }
    /* a new graph trains; the other commands show the model as it predicts */
    nb_graph_set_training(m->g, c->cmd == CMD_TRAIN || c->train);
    if (c->load && (rc = load_checkpoint(c, m)) != EXIT_OK) {
        return rc;
    }
    for (size_t i = 0; i < c->n_sets; i++) {
        if ((rc = apply_set(c, m, &c->sets[i])) != EXIT_OK) {
            return rc;
        }
    }
    return EXIT_OK;
}

void model_free(model *m)
{
    nb_graph_free(m->g);
    free(m->src);
    memset(m, 0, sizeof *m);
}

/* Can a gradient be taken with respect to n? Reports why not. */
static int wrt_ok(const cli *c, nb_node *n)
{
    const char *name = nb_node_name(n);
    if (nb_node_kind(n) == NB_KIND_CONST) {
        return cli_fail(c, EXIT_USAGE,
                        "--wrt %s: %s is a constant; differentiate with respect to parameters, "
                        "inputs or computed nodes",
                        name, name);
    }
    if (nb_node_dtype(n) == NB_DTYPE_I32) {
        return cli_fail(c, EXIT_USAGE, "--wrt %s: %s holds i32 labels, which have no gradient",
                        name, name);
    }
    return EXIT_OK;
}

int model_wrt(const cli *c, const model *m, nb_node ***out, size_t *n)
{
    size_t count = nb_graph_node_count(m->g);
    nb_node **list = malloc((count ? count : 1) * sizeof *list);
    *out = NULL;
    *n = 0;
    if (!list) {
        return cli_fail(c, EXIT_USAGE, "out of memory");
    }
    int rc = EXIT_OK;
    if (c->wrt) {
        const char *p = c->wrt;
        while (rc == EXIT_OK) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char name[256];
            if (len == 0 || len >= sizeof name) {
                rc = cli_fail(c, EXIT_USAGE, "--wrt takes names separated by commas: A,B,C");
                break;
            }
            memcpy(name, p, len);
            name[len] = '\0';
            nb_node *v = model_node(c, m, name, "--wrt", &rc);
            if (v && (rc = wrt_ok(c, v)) == EXIT_OK) {
                for (size_t i = 0; i < *n; i++) {
                    if (list[i] == v) {
                        rc = cli_fail(c, EXIT_USAGE, "--wrt names %s twice", name);
                    }
                }
                list[(*n)++] = v;
            }
            if (!comma) {
                break;
            }
            p = comma + 1;
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            nb_node *v = nb_graph_node(m->g, i);
            if (nb_node_kind(v) == NB_KIND_PARAM && !nb_node_is_grad(v)) {
                list[(*n)++] = v;
            }
        }
        for (size_t i = 0; *n == 0 && i < count; i++) {
            nb_node *v = nb_graph_node(m->g, i);
            if (nb_node_kind(v) == NB_KIND_INPUT && nb_node_dtype(v) != NB_DTYPE_I32) {
                list[(*n)++] = v;
            }
        }
        if (*n == 0) {
            rc = cli_fail(c, EXIT_USAGE,
                          "%s has no parameters and no float inputs to differentiate with "
                          "respect to",
                          m->path);
        }
    }
    if (rc != EXIT_OK) {
        free(list);
        *n = 0;
        return rc;
    }
    *out = list;
    return EXIT_OK;
}
