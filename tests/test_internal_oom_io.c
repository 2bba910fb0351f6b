/*
 * tests/test_internal_oom_io.c: out-of-memory handling beyond building and
 * running (tests/test_internal_oom.c covers those): checkpoint saving and
 * loading, with and without an optimizer; optimizer creation and steps; the
 * model parser and writer. Every allocation each call makes is failed once
 * (and, for the files, from k on), with the checking allocator of
 * tests/faulty.h: the call returns NB_ERR_NOMEM with an "out of memory"
 * message, changes nothing (no parameter, state, step count or file), and
 * leaks nothing. tests/test_lang.c fails the parser from k on with a simpler
 * allocator; here each parser allocation fails alone.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "graph/internal.h"
#include "optim/optim.h"
#include "tests/faulty.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a small model to save, load and train ---- */

enum { NP = 3 };

typedef struct model {
    nb_graph *g;
    nb_node *params[NP], *grads[NP], *loss;
    nb_optim *opt;
} model;

/*
 * y = sum((x @ w + b) * v)^2-ish loss over f32 parameters w [3,4] (named),
 * b [4] (named) and v [4], which is left unnamed so that saving and loading
 * must generate and store its name ("param_3"). value shifts the initial values.
 */
static void model_build(model *m, faulty *f, double value, bool with_opt)
{
    memset(m, 0, sizeof *m);
    m->g = nb_graph_new_with_allocator(faulty_alloc, f);
    cr_assert_not_null(m->g);
    nb_graph *g = m->g;
    nb_graph_seed(g, 11);
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3));
    nb_node *w = nb_node_set_name(
        g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(3, 4), nb_init_uniform(-1 + value, 1 + value)), "w");
    nb_node *b = nb_node_set_name(
        g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(4), nb_init_constant(0.25 + value)), "b");
    nb_node *v = nb_param(g, NB_DTYPE_F32, NB_SHAPE(4), nb_init_normal(value, 1));
    nb_node *h = nb_mul(g, nb_add(g, nb_matmul(g, x, w), b), v);
    m->loss = nb_mean(g, nb_mul(g, h, h));
    m->params[0] = w;
    m->params[1] = b;
    m->params[2] = v;
    cr_assert_eq(nb_grad(g, m->loss, NP, m->params, m->grads), NB_OK, "%s", nb_graph_error(g));
    float xv[6] = { 1, -2, 0.5f, 3, 0.25f, -1 };
    cr_assert_eq(nb_node_write(g, x, xv, 6), NB_OK);
    if (with_opt) {
        nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
        o.lr = 0.1;
        m->opt = nb_optim_new(g, m->loss, NP, m->params, m->grads, &o);
        cr_assert_not_null(m->opt, "%s", nb_graph_error(g));
        /* two steps, so the moments and the step count are not their initial values */
        cr_assert_eq(nb_optim_step(m->opt), NB_OK);
        cr_assert_eq(nb_optim_step(m->opt), NB_OK);
    }
}

static void model_free(model *m)
{
    nb_optim_free(m->opt);
    nb_graph_free(m->g);
}

/* Everything a load may change: parameter values, optimizer state and step count. */
typedef struct snapshot {
    unsigned char bytes[4096];
    size_t len;
} snapshot;

static void snap(const model *m, snapshot *s)
{
    s->len = 0;
    for (int i = 0; i < NP; i++) {
        size_t n = nbi_node_bytes(m->params[i]);
        memcpy(s->bytes + s->len, m->params[i]->data, n);
        s->len += n;
    }
    if (m->opt) {
        memcpy(s->bytes + s->len, m->opt->state, m->opt->state_bytes);
        s->len += m->opt->state_bytes;
        memcpy(s->bytes + s->len, &m->opt->t, sizeof m->opt->t);
        s->len += sizeof m->opt->t;
    }
    cr_assert_leq(s->len, sizeof s->bytes);
}

static void assert_same(const snapshot *a, const snapshot *b, const char *what)
{
    cr_assert_eq(a->len, b->len);
    cr_assert(memcmp(a->bytes, b->bytes, a->len) == 0, "%s", what);
}

/* ---- files ---- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nabla_oom_io_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* The number of entries in dir: a failed save must not leave its temporary file. */
static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static size_t read_all(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    cr_assert_lt(n, cap);
    return n;
}

static void remove_dir(const char *path)
{
    unlink(path);
    rmdir(dir);
}

/* The message of a failed call: "op: out of memory" or "op: <path>: out of memory". */
static void assert_nomem(nb_graph *g, nb_status s, const char *op, size_t k)
{
    cr_assert_eq(s, NB_ERR_NOMEM, "k=%zu: %s: %s", k, nb_status_string(s), nb_graph_error(g));
    cr_assert(strncmp(nb_graph_error(g), op, strlen(op)) == 0 &&
                  strstr(nb_graph_error(g), "out of memory") != NULL,
              "k=%zu: %s", k, nb_graph_error(g));
    cr_assert_eq(nb_graph_status(g), NB_OK, "k=%zu: a data call's failure must not stick", k);
}

/* ======================================================================== */
/* Checkpoints                                                              */
/* ======================================================================== */

static void save_sweep(bool with_opt, bool after)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    /* an older checkpoint the failed saves must leave untouched */
    faulty f = faulty_make(0, false);
    model m;
    model_build(&m, &f, 1, with_opt);
    cr_assert_eq(nb_checkpoint_save(m.g, path, NP, m.params, m.opt), NB_OK);
    model_free(&m);
    faulty_done(&f);
    static unsigned char old[8192], now[8192], want[8192];
    size_t old_len = read_all(path, old, sizeof old);

    size_t k = 1, sites = 0, want_len = 0;
    for (;; k++) {
        f = faulty_make(0, false);
        model_build(&m, &f, 2, with_opt);
        size_t before = f.allocs;
        f.fail_at = before + k;
        f.fail_after = after;
        nb_status s = nb_checkpoint_save(m.g, path, NP, m.params, m.opt);
        f.fail_at = 0;
        if (f.failures == 0) {
            cr_assert_eq(s, NB_OK, "%s", nb_graph_error(m.g));
            sites = f.allocs - before;
            want_len = read_all(path, want, sizeof want);
            model_free(&m);
            faulty_done(&f);
            break;
        }
        assert_nomem(m.g, s, "checkpoint_save", k);
        cr_assert_eq(files_in_dir(), 1, "k=%zu: a temporary file was left behind", k);
        size_t len = read_all(path, now, sizeof now);
        cr_assert(len == old_len && memcmp(now, old, len) == 0, "k=%zu: the old file changed", k);
        /* memory is back: the same call succeeds */
        cr_assert_eq(nb_checkpoint_save(m.g, path, NP, m.params, m.opt), NB_OK);
        model_free(&m);
        faulty_done(&f);
        /* put the old file back for the next k */
        FILE *out = fopen(path, "wb");
        cr_assert_eq(fwrite(old, 1, old_len, out), old_len);
        fclose(out);
    }
    cr_assert_gt(sites, 0);
    cr_assert_eq(k, sites + 1, "every allocation of the save was reached");
    /* the saved file is what a save without failures writes */
    cr_assert(want_len != old_len || memcmp(want, old, old_len) != 0);
    cr_log_info("checkpoint_save%s: %zu allocations, each failed%s", with_opt ? " with Adam" : "",
                sites, after ? " from k on" : " once");
    remove_dir(path);
}

Test(oom_checkpoint, every_allocation_of_save_fails_cleanly,
     .description = "without and with an optimizer, once and from k on: NB_ERR_NOMEM, the old "
                    "file untouched, no temporary file, no leak")
{
    for (int opt = 0; opt <= 1; opt++) {
        save_sweep(opt, false);
        save_sweep(opt, true);
    }
}

static void load_sweep(bool with_opt, bool after)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    faulty f = faulty_make(0, false);
    model m;
    model_build(&m, &f, 1, with_opt);
    cr_assert_eq(nb_checkpoint_save(m.g, path, NP, m.params, m.opt), NB_OK);
    snapshot saved, before, now;
    snap(&m, &saved);
    model_free(&m);
    faulty_done(&f);

    size_t k = 1, sites = 0;
    for (;; k++) {
        f = faulty_make(0, false);
        model_build(&m, &f, 2, with_opt);
        snap(&m, &before);
        size_t allocs = f.allocs;
        f.fail_at = allocs + k;
        f.fail_after = after;
        nb_status s = nb_checkpoint_load(m.g, path, NP, m.params, m.opt);
        f.fail_at = 0;
        snap(&m, &now);
        if (f.failures == 0) {
            cr_assert_eq(s, NB_OK, "%s", nb_graph_error(m.g));
            assert_same(&now, &saved, "a load without failures gives the saved values");
            sites = f.allocs - allocs;
            model_free(&m);
            faulty_done(&f);
            break;
        }
        assert_nomem(m.g, s, "checkpoint_load", k);
        assert_same(&now, &before, "a failed load changed a parameter or the optimizer state");
        /* memory is back: the same call loads everything */
        cr_assert_eq(nb_checkpoint_load(m.g, path, NP, m.params, m.opt), NB_OK);
        snap(&m, &now);
        assert_same(&now, &saved, "the load after a failed one");
        model_free(&m);
        faulty_done(&f);
    }
    cr_assert_gt(sites, 0);
    cr_log_info("checkpoint_load%s: %zu allocations, each failed%s", with_opt ? " with Adam" : "",
                sites, after ? " from k on" : " once");
    remove_dir(path);
}

Test(oom_checkpoint, every_allocation_of_load_fails_cleanly,
     .description = "without and with an optimizer, once and from k on: NB_ERR_NOMEM, no "
                    "parameter, moment or step count changed, no leak")
{
    for (int opt = 0; opt <= 1; opt++) {
        load_sweep(opt, false);
        load_sweep(opt, true);
    }
}

Test(oom_checkpoint, a_name_that_cannot_be_generated_is_not_replaced_by_the_op_name,
     .description = "regression: saving an unnamed parameter without memory wrote 'param'")
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/one.ckpt", dir);
    faulty f = faulty_make(0, false);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, &f);
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(3));
    cr_assert_not_null(p);
    f.fail_at = f.allocs + 1; /* the names table */
    nb_status s = nb_checkpoint_save(g, path, 1, &p, NULL);
    cr_assert_eq(f.failures, 1);
    assert_nomem(g, s, "checkpoint_save", 1);
    cr_assert_neq(access(path, F_OK), 0, "no file was written");
    f.fail_at = 0;
    cr_assert_eq(nb_checkpoint_save(g, path, 1, &p, NULL), NB_OK);
    cr_assert_str_eq(nb_node_name(p), "param_1");
    nb_graph_free(g);
    faulty_done(&f);
    remove_dir(path);
}

/* ======================================================================== */
/* Optimizers                                                               */
/* ======================================================================== */

static const nb_optim_kind KINDS[] = { NB_OPTIM_SGD, NB_OPTIM_ADAGRAD, NB_OPTIM_RMSPROP,
                                       NB_OPTIM_ADAM, NB_OPTIM_ADAMW };

static nb_optim_options options(nb_optim_kind kind, int variant)
{
    nb_optim_options o = nb_optim_defaults(kind);
    if (variant) {
        o.momentum = kind == NB_OPTIM_SGD || kind == NB_OPTIM_RMSPROP ? 0.9 : 0;
        o.centered = kind == NB_OPTIM_RMSPROP;
        o.clip_norm = 1;
    }
    return o;
}

Test(oom_optim, every_allocation_of_optim_new_fails_cleanly,
     .description = "each optimizer, with 0 to 3 state slots: NULL, NB_ERR_NOMEM, no leak")
{
    size_t total = 0;
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++) {
        for (int variant = 0; variant <= 1; variant++) {
            nb_optim_options o = options(KINDS[i], variant);
            size_t k = 1;
            for (;; k++) {
                faulty f = faulty_make(0, false);
                model m;
                model_build(&m, &f, 0, false);
                f.fail_at = f.allocs + k;
                nb_optim *opt = nb_optim_new(m.g, m.loss, NP, m.params, m.grads, &o);
                f.fail_at = 0;
                if (f.failures == 0) {
                    cr_assert_not_null(opt, "%s", nb_graph_error(m.g));
                    nb_optim_free(opt);
                    model_free(&m);
                    faulty_done(&f);
                    break;
                }
                cr_assert_null(opt, "k=%zu", k);
                cr_assert_eq(nb_graph_status(m.g), NB_ERR_NOMEM);
                cr_assert_str_eq(nb_graph_error(m.g), "optim_new: out of memory");
                model_free(&m);
                faulty_done(&f);
            }
            cr_log_info("optim_new kind %d%s: %zu allocations", (int)KINDS[i],
                        variant ? " (momentum, centered, clipping)" : "", k - 1);
            total += k - 1;
        }
    }
    cr_assert_geq(total, 10 * 5, "at least the record and four arrays each");
}

/* One step of each optimizer with each allocation failed: nothing is updated. */
Test(oom_optim, every_allocation_of_a_step_fails_cleanly,
     .description = "a failed first step (planning, workspace) changes no parameter, state or "
                    "step count, and the retried step equals an undisturbed one")
{
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++) {
        nb_optim_options o = options(KINDS[i], 1);
        /* the undisturbed step */
        faulty f = faulty_make(0, false);
        model m;
        model_build(&m, &f, 0, false);
        m.opt = nb_optim_new(m.g, m.loss, NP, m.params, m.grads, &o);
        cr_assert_not_null(m.opt);
        cr_assert_eq(nb_optim_step(m.opt), NB_OK);
        snapshot want, before, now;
        snap(&m, &want);
        model_free(&m);
        faulty_done(&f);

        size_t k = 1;
        for (;; k++) {
            f = faulty_make(0, false);
            model_build(&m, &f, 0, false);
            m.opt = nb_optim_new(m.g, m.loss, NP, m.params, m.grads, &o);
            snap(&m, &before);
            f.fail_at = f.allocs + k;
            nb_status s = nb_optim_step(m.opt);
            f.fail_at = 0;
            if (f.failures == 0) {
                cr_assert_eq(s, NB_OK);
                snap(&m, &now);
                assert_same(&now, &want, "an undisturbed step");
                model_free(&m);
                faulty_done(&f);
                break;
            }
            assert_nomem(m.g, s, "run", k);
            snap(&m, &now);
            assert_same(&now, &before, "a failed step changed something");
            cr_assert_eq(nb_optim_steps(m.opt), 0);
            cr_assert_eq(nb_optim_step(m.opt), NB_OK, "%s", nb_graph_error(m.g));
            snap(&m, &now);
            assert_same(&now, &want, "the retried step differs from an undisturbed one");
            model_free(&m);
            faulty_done(&f);
        }
        cr_assert_gt(k, 3, "a first step plans and allocates a workspace");
        cr_log_info("first optim_step, kind %d: %zu allocations", (int)KINDS[i], k - 1);
        /* later steps allocate nothing, so nothing can fail */
        f = faulty_make(0, false);
        model_build(&m, &f, 0, false);
        m.opt = nb_optim_new(m.g, m.loss, NP, m.params, m.grads, &o);
        cr_assert_eq(nb_optim_step(m.opt), NB_OK);
        f.fail_at = f.allocs + 1;
        f.fail_after = true;
        for (int s = 0; s < 3; s++) {
            cr_assert_eq(nb_optim_step(m.opt), NB_OK);
        }
        cr_assert_eq(f.failures, 0);
        f.fail_at = 0;
        model_free(&m);
        faulty_done(&f);
    }
}

/* ======================================================================== */
/* The model language                                                       */
/* ======================================================================== */

static const char MODEL[] =
    "# every kind of statement\n"
    "input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
    "input l[2] : i32 = [0, 2]\n"
    "param w[3, 4] = normal(0, 1)\n"
    "param u[4] = [0.5, -1, 2, 0.25]\n"
    "const c = [[1, 0, 0, 1], [0, 1, 1, 0]]\n"
    "scope net {\n"
    "  scope inner {\n"
    "    h = tanh(x @ w + [1, 2, 3, 4]) * u\n"
    "  }\n"
    "  p = softmax(h * c, 1)\n"
    "}\n"
    "s = sum(h, 1, keepdims) + mean(-h ** 2)\n"
    "loss = cross_entropy(h @ transpose(w), l) + sum(fill([2], 1 + 1)) + sum(s) + sum(p)\n";

static void parse_sweep(const char *src, const char *what)
{
    faulty f = faulty_make(0, false);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, &f);
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), NB_OK, "%s", nb_graph_error(g));
    size_t nodes = nb_graph_node_count(g), total = f.allocs; /* allocation 1 is the graph */
    nb_graph_free(g);
    faulty_done(&f);
    for (size_t k = 2; k <= total + 1; k++) {
        f = faulty_make(k, false);
        g = nb_graph_new_with_allocator(faulty_alloc, &f);
        nb_parse_error e;
        nb_status s = nb_model_parse(g, src, strlen(src), NULL, &e);
        if (k <= total) {
            cr_assert_eq(f.failures, 1, "k=%zu", k);
            cr_assert_eq(s, NB_ERR_NOMEM, "k=%zu: %s", k, e.message);
            cr_assert_eq(e.status, NB_ERR_NOMEM);
            cr_assert(strstr(e.message, "out of memory") != NULL, "k=%zu: %s", k, e.message);
            cr_assert_gt(e.line, 0, "k=%zu: the error has a place", k);
        } else {
            cr_assert_eq(s, NB_OK);
            cr_assert_eq(nb_graph_node_count(g), nodes);
        }
        nb_graph_free(g);
        faulty_done(&f);
    }
    cr_log_info("nb_model_parse of %s: %zu allocations, each failed once", what, total - 1);
}

Test(oom_lang, every_allocation_of_a_parse_fails_cleanly,
     .description = "NB_ERR_NOMEM in the parse error, a graph that frees cleanly")
{
    parse_sweep(MODEL, "every kind of statement");
    /* a longer model grows the symbol table, the operand, operator and literal stacks, the
       scope stack and many arena chunks */
    char *big = malloc(1 << 20);
    cr_assert_not_null(big);
    size_t at = (size_t)snprintf(big, 1 << 20, "input x[3] = [1, 2, 3]\ny0 = x * 2\n");
    for (int i = 1; i <= 300; i++) {
        at += (size_t)snprintf(big + at, (1 << 20) - at, "scope s%d {\n", i);
    }
    for (int i = 1; i <= 300; i++) {
        at += (size_t)snprintf(big + at, (1 << 20) - at,
                               "y%d = ((((y%d + [%d, 2, 3])))) * (1 + -(-(x)))\n}\n", i, i - 1, i);
    }
    at += (size_t)snprintf(big + at, (1 << 20) - at, "z = sum(%s", "");
    for (int i = 0; i < 200; i++) {
        at += (size_t)snprintf(big + at, (1 << 20) - at, "tanh(");
    }
    at += (size_t)snprintf(big + at, (1 << 20) - at, "y300");
    for (int i = 0; i < 200; i++) {
        at += (size_t)snprintf(big + at, (1 << 20) - at, ")");
    }
    snprintf(big + at, (1 << 20) - at, ")\n");
    parse_sweep(big, "300 nested scopes and 200 nested calls");
    free(big);
}

static char *write_model(nb_graph *g, nb_status *s, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    cr_assert_not_null(out);
    *s = nb_model_write(g, out);
    fclose(out);
    return text;
}

/*
 * The ops of Part II with keyword and positional arguments, flags as words and
 * as true/false, state leaves, and a scope: every call goes through the op
 * records' attribute reading.
 */
static const char MODEL_KW[] =
    "input x[4, 3] = [[1, 2, 3], [-1, 0.5, 2], [0, 0, 1], [3, -2, 0.25]]\n"
    "input i[3] : i32 = [2, 0, 2]\n"
    "input l[4] : i32 = [0, -1, 2, 1]\n"
    "param w[3] = ones\n"
    "param b[3] = [0.5, -1, 2]\n"
    "param t[5, 3] = uniform(-1, 1)\n"
    "state rm[3] = zeros\n"
    "state rv[3] : f64 = ones\n"
    "scope net {\n"
    "  c = concat(x, x, axis=0) + 1\n"
    "  s = slice(c, 0, 1, stop=8, step=2) + slice(x, axis=1, start=-3)\n"
    "  p = permute(pad(x, [1, 0], value=0.5), perm=[1, 0])\n"
    "  g = scatter_add(gather(x, i, axis=0), i, 0, size=4) + slice_grad(s, [4, 3], 0, step=1)\n"
    "  e = sum(embedding(argmax(x, 1, keepdims=false), t), 0)\n"
    "  a = leaky_relu(x, slope=0.2) + elu(x, 0.5) + clamp(x, lo=-1) + clamp(x, -2, hi=2)\n"
    "  a2 = erf(x) * gelu(x) - gelu_tanh(x) + softplus(x) * silu(x) + log1p(abs(x))\n"
    "  m = where(greater(x, b), maximum(x, b), minimum(x, 0)) + equal(x, w) + less(x, 0)\n"
    "  r = sum(x, [0, 1], keepdims) + var(x, 0, keepdims=true, correction=0) + "
    "logsumexp(x, axes=[1], keepdims=true)\n"
    "  r2 = min(x, [0, 1]) + max(x, axes=[0], keepdims=false) + mean(x, 1, true)\n"
    "  n = batch_norm(x, w, b, rm, rv, momentum=0.2) + layer_norm(x, w, b, eps=1e-3) + "
    "layer_norm_plain(x, 1e-4)\n"
    "  d = mode_select(dropout(n, p=0.25), n) * argmax_mask(x, axes=[0, 1])\n"
    "}\n"
    "loss = cross_entropy(x, l, ignore=-1) + sum(s) + sum(p) + sum(g) + sum(e) + sum(a) + "
    "sum(a2) + sum(m) + sum(r) + sum(r2) + sum(d)\n";

/* Every allocation of nb_model_write of src's graph fails once, then from k on. */
static void write_sweep(const char *src, const char *what)
{
    faulty f = faulty_make(0, false);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, &f);
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), NB_OK, "%s", nb_graph_error(g));
    size_t before = f.allocs, len;
    nb_status s;
    char *want = write_model(g, &s, &len);
    cr_assert_eq(s, NB_OK, "%s", nb_graph_error(g));
    size_t total = f.allocs - before;
    nb_graph_free(g);
    faulty_done(&f);
    for (size_t k = 1; k <= total; k++) {
        for (int after = 0; after <= 1; after++) {
            f = faulty_make(0, false);
            g = nb_graph_new_with_allocator(faulty_alloc, &f);
            cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), NB_OK);
            f.fail_at = f.allocs + k;
            f.fail_after = after;
            char *text = write_model(g, &s, &len);
            cr_assert_eq(f.failures > 0, true, "k=%zu", k);
            f.fail_at = 0;
            assert_nomem(g, s, "model_write", k);
            free(text);
            /* memory is back: the same text as without failures */
            text = write_model(g, &s, &len);
            cr_assert_eq(s, NB_OK);
            cr_assert_str_eq(text, want, "k=%zu", k);
            free(text);
            nb_graph_free(g);
            faulty_done(&f);
        }
    }
    free(want);
    cr_log_info("nb_model_write of %s: %zu allocations, each failed once and from k on", what,
                total);
}

Test(oom_lang, every_allocation_of_a_write_fails_cleanly,
     .description = "nb_model_write: NB_ERR_NOMEM, or the same text; names never fall back")
{
    write_sweep(MODEL, "every kind of statement");
    write_sweep(MODEL_KW, "the ops of Part II with keyword arguments");
}

Test(oom_lang, every_allocation_of_a_parse_with_keyword_arguments_fails_cleanly,
     .description = "the ops of Part II called with keywords, flags and state leaves: "
                    "NB_ERR_NOMEM in the parse error, a graph that frees cleanly")
{
    parse_sweep(MODEL_KW, "the ops of Part II with keyword arguments");
    /* nodes come from arena chunks: a first leaf of each size moves where a chunk runs out,
       so that the failures land in other calls */
    static char src[sizeof MODEL_KW + 64];
    for (int pad = 1; pad <= 512; pad += 7) {
        snprintf(src, sizeof src, "input pad_[%d]\n%s", pad, MODEL_KW);
        parse_sweep(src, "the same after a leaf of some size");
        write_sweep(src, "the same after a leaf of some size");
    }
}

Test(oom_lang, a_written_model_with_keyword_arguments_reads_back_the_same,
     .description = "the sweeps above compare against this text: it must be the model's")
{
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_model_parse(g, MODEL_KW, strlen(MODEL_KW), NULL, NULL), NB_OK, "%s",
                 nb_graph_error(g));
    nb_status s;
    size_t len, len2;
    char *text = write_model(g, &s, &len);
    cr_assert_eq(s, NB_OK, "%s", nb_graph_error(g));
    cr_assert(strstr(text, "state rm[3] = [0, 0, 0]\n"), "%s", text);
    cr_assert(strstr(text, "batch_norm(x, w, b, rm, rv, momentum=0.2)"), "%s", text);
    nb_graph *h = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(h, text, len, NULL, &e), NB_OK, "%d:%d: %s", e.line, e.column,
                 e.message);
    cr_assert_eq(nb_graph_node_count(h), nb_graph_node_count(g));
    char *text2 = write_model(h, &s, &len2);
    cr_assert_str_eq(text2, text);
    free(text);
    free(text2);
    nb_graph_free(h);
    nb_graph_free(g);
}

Test(oom_lang, a_name_that_cannot_be_generated_is_out_of_memory_for_the_writer,
     .description = "regression: the writer took the op name 'exp' and refused it as reserved")
{
    faulty f = faulty_make(0, false);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, &f);
    nb_node *y = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "x");
    for (int i = 0; i < 40; i++) {
        y = nb_exp(g, y); /* the names table (16 entries) must grow to name these */
    }
    cr_assert_eq(nb_graph_status(g), NB_OK);
    for (size_t k = 1;; k++) {
        f.fail_at = f.allocs + k;
        nb_status s;
        size_t len;
        char *text = write_model(g, &s, &len);
        free(text);
        bool failed = f.failures > 0;
        f.fail_at = 0;
        f.failures = 0;
        if (!failed) {
            cr_assert_eq(s, NB_OK, "%s", nb_graph_error(g));
            break;
        }
        assert_nomem(g, s, "model_write", k);
    }
    nb_graph_free(g);
    faulty_done(&f);
}
