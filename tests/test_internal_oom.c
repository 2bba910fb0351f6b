/*
 * tests/test_internal_oom.c: out-of-memory handling, white-box. An allocator
 * hook fails the k-th allocation (once, or from k on) while a whole session
 * runs: build an MLP with scopes and names, nb_grad, run loss and gradients,
 * nb_depth_path, DOT, and nb_gradcheck on a tiny graph. For every k the
 * session must not crash, must report each failure as NB_ERR_NOMEM (or absorb
 * it with unchanged results), must leave the graph consistent, and must give
 * every byte back at nb_graph_free. The hook also checks that every old_size
 * the library passes is the size of the block it got.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "graph/internal.h"
#include "tests/faulty.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the session ---- */

enum { B = 8, I = 16, H = 64, C = 10, N_GRADS = 4, PATH_CAP = 64 };

/* What a session produced; compared with a session without failures. */
typedef struct outcome {
    bool nomem;      /* some call reported NB_ERR_NOMEM */
    bool graph_made; /* nb_graph_new_with_allocator succeeded */
    bool ran;        /* loss and gradients were computed */
    float loss;
    float grads[H * C]; /* the largest gradient is dw2 [H,C] */
    float grad_sums[N_GRADS];
    size_t depth_path_len;
    uint32_t depth_path[PATH_CAP];
    char *dot; /* malloc'd by the test, not through the hook */
    size_t dot_len;
    bool checked;
    nb_gradcheck_result check;
    size_t nodes_after_build;
} outcome;

/* Records a call's status: NB_OK, or NB_ERR_NOMEM with an "out of memory" message. */
static void note(outcome *o, nb_graph *g, nb_status s, const char *what)
{
    if (s == NB_OK) {
        return;
    }
    cr_assert_eq(s, NB_ERR_NOMEM, "%s: %s (%s)", what, nb_status_string(s), nb_graph_error(g));
    cr_assert(strstr(nb_graph_error(g), "out of memory") != NULL, "%s: message '%s'", what,
              nb_graph_error(g));
    o->nomem = true;
}

/*
 * One builder call: on failure the node count is unchanged and the status is
 * NB_ERR_NOMEM; on success the graph is healthy and has exactly one node more.
 */
#define BUILD(o, g, var, expr)                                                                     \
    do {                                                                                           \
        size_t n0_ = nb_graph_node_count(g);                                                       \
        nb_status s0_ = nb_graph_status(g);                                                        \
        (var) = (expr);                                                                            \
        after_build(o, g, (var), n0_, s0_, #expr);                                                 \
    } while (0)

static void after_build(outcome *o, nb_graph *g, nb_node *n, size_t n0, nb_status s0,
                        const char *what)
{
    size_t n1 = nb_graph_node_count(g);
    if (n) {
        cr_assert_eq(s0, NB_OK, "%s made a node on a graph in error", what);
        cr_assert_eq(nb_graph_status(g), NB_OK, "%s", what);
        cr_assert_eq(n1, n0 + 1, "%s", what);
        cr_assert_eq(nb_graph_node(g, n1 - 1), n, "%s", what);
        return;
    }
    cr_assert_eq(n1, n0, "failed %s changed the node count from %zu to %zu", what, n0, n1);
    note(o, g, nb_graph_status(g), what);
    cr_assert_eq(nb_graph_status(g), NB_ERR_NOMEM, "%s returned NULL on a healthy graph", what);
    /* no half-built node is reachable */
    for (size_t id = 0; id < n1; id++) {
        cr_assert_eq(nb_node_id(nb_graph_node(g, id)), id);
    }
}

/* Names a node; on a healthy graph a failure is NB_ERR_NOMEM and leaves it unnamed. */
static void name(outcome *o, nb_graph *g, nb_node *n, const char *s)
{
    if (!n) {
        return;
    }
    nb_status s0 = nb_graph_status(g);
    size_t n0 = nb_graph_node_count(g);
    nb_node *r = nb_node_set_name(g, n, s);
    cr_assert_eq(nb_graph_node_count(g), n0);
    if (s0 != NB_OK) {
        return;
    }
    if (r) {
        cr_assert_eq(r, n);
        cr_assert_str_eq(nb_node_name(n), s);
        return;
    }
    note(o, g, nb_graph_status(g), "set_name");
    cr_assert_eq(nb_graph_status(g), NB_ERR_NOMEM);
    cr_assert(!(n->flags & NBI_F_NAMED), "a failed set_name left the node flagged as named");
    cr_assert_str_neq(nb_node_name(n), s);
}

static void scope_push(outcome *o, nb_graph *g, const char *s)
{
    nb_scope_push(g, s);
    note(o, g, nb_graph_status(g), "scope_push");
}

static void scope_pop(outcome *o, nb_graph *g)
{
    nb_scope_pop(g);
    note(o, g, nb_graph_status(g), "scope_pop");
}

static void set_inputs(nb_graph *g, nb_node *x, nb_node *labels)
{
    float xv[B * I];
    for (int i = 0; i < B * I; i++) {
        xv[i] = (float)sin(1.7 * i + 0.3);
    }
    int32_t lv[B];
    for (int i = 0; i < B; i++) {
        lv[i] = (7 * i + 1) % C;
    }
    cr_assert_eq(nb_node_write(g, x, xv, B * I), NB_OK);
    cr_assert_eq(nb_node_write(g, labels, lv, B), NB_OK);
}

/* Runs loss and gradients, retrying once after a failed run (a run error is not sticky). */
static void run_model(outcome *o, nb_graph *g, nb_node *loss, nb_node **grads)
{
    nb_node *outs[1 + N_GRADS] = { loss };
    for (int i = 0; i < N_GRADS; i++) {
        outs[1 + i] = grads[i];
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        nb_status st0 = nb_graph_status(g);
        nb_status s = nb_graph_run(g, 1 + N_GRADS, outs);
        if (st0 != NB_OK) {
            cr_assert_eq(s, st0, "a graph in error must refuse to run");
            note(o, g, s, "run of a graph in error");
            return;
        }
        note(o, g, s, "run");
        cr_assert_eq(nb_graph_status(g), NB_OK, "a run error must not stick");
        if (s != NB_OK) {
            for (int i = 0; i < 1 + N_GRADS; i++) {
                cr_assert_null(nb_node_data(outs[i]), "a failed run left a value readable");
            }
            cr_assert_null(g->last_plan);
            continue;
        }
        o->ran = true;
        o->loss = *(const float *)nb_node_data(loss);
        for (int i = 0; i < N_GRADS; i++) {
            const float *d = nb_node_data(grads[i]);
            cr_assert_not_null(d);
            float sum = 0;
            for (size_t j = 0; j < nb_node_size(grads[i]); j++) {
                sum += d[j];
            }
            o->grad_sums[i] = sum;
        }
        memcpy(o->grads, nb_node_data(grads[2]), sizeof o->grads);
        return;
    }
}

static void write_dot(outcome *o, nb_graph *g, nb_node *highlight)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    nb_dot_options opts = nb_dot_defaults();
    opts.grad = true;
    opts.values = true;
    opts.highlight = highlight;
    opts.depth_level = NB_DEPTH_SCOPES;
    opts.title = "mlp";
    nb_status st0 = nb_graph_status(g);
    nb_status s = nb_graph_write_dot(g, f, &opts);
    note(o, g, s, "write_dot");
    note(o, g, nb_graph_status(g), "write_dot (graph status)");
    if (s == NB_OK && st0 == NB_OK && nb_graph_status(g) == NB_OK) {
        long len = ftell(f);
        cr_assert_gt(len, 0);
        rewind(f);
        o->dot = malloc((size_t)len + 1);
        cr_assert_not_null(o->dot);
        o->dot_len = fread(o->dot, 1, (size_t)len, f);
        o->dot[o->dot_len] = '\0';
        cr_assert_eq(o->dot_len, (size_t)len);
    }
    fclose(f);
}

/* A tiny float64 graph: y = sum(tanh(x) * x), checked against finite differences. */
static void gradcheck_tiny(outcome *o, faulty *f)
{
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        cr_assert_gt(f->failures, 0);
        o->nomem = true;
        return;
    }
    nb_node *x, *t, *y, *s;
    BUILD(o, g, x, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_uniform(-1, 1)));
    BUILD(o, g, t, nb_tanh(g, x));
    BUILD(o, g, y, nb_mul(g, t, x));
    BUILD(o, g, s, nb_sum(g, y));
    double before[3] = { 0 };
    if (x) {
        memcpy(before, nb_node_data(x), sizeof before);
    }
    nb_gradcheck_result r;
    nb_status st0 = nb_graph_status(g);
    nb_status st = nb_gradcheck(g, s, 1, &x, NULL, &r);
    note(o, g, st, "gradcheck");
    if (st0 != NB_OK) {
        cr_assert_eq(st, st0);
    } else if (st == NB_OK) {
        cr_assert(r.passed, "gradcheck failed: max abs err %g", r.max_abs_err);
        o->checked = true;
        o->check = r;
    }
    if (x) {
        cr_assert_arr_eq(nb_node_data(x), before, sizeof before, "leaf values not restored");
    }
    nb_graph_free(g);
}

static void session(faulty *f, outcome *o)
{
    memset(o, 0, sizeof *o);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        cr_assert_eq(f->failures, 1, "the graph itself is the first allocation");
        cr_assert_eq(f->allocs, 1);
        o->nomem = true;
        return;
    }
    o->graph_made = true;
    nb_node *x, *labels, *w1, *b1, *w2, *b2, *m1, *z1, *h, *m2, *logits, *loss;
    BUILD(o, g, x, nb_input(g, NB_DTYPE_F32, NB_SHAPE(B, I)));
    BUILD(o, g, labels, nb_input(g, NB_DTYPE_I32, NB_SHAPE(B)));
    scope_push(o, g, "mlp");
    scope_push(o, g, "layer1");
    BUILD(o, g, w1, nb_param(g, NB_DTYPE_F32, NB_SHAPE(I, H), nb_init_he_normal()));
    BUILD(o, g, b1, nb_param(g, NB_DTYPE_F32, NB_SHAPE(H), nb_init_uniform(-0.1, 0.1)));
    BUILD(o, g, m1, nb_matmul(g, x, w1));
    BUILD(o, g, z1, nb_add(g, m1, b1));
    BUILD(o, g, h, nb_relu(g, z1));
    scope_pop(o, g);
    scope_push(o, g, "layer2");
    BUILD(o, g, w2, nb_param(g, NB_DTYPE_F32, NB_SHAPE(H, C), nb_init_xavier_uniform()));
    BUILD(o, g, b2, nb_param(g, NB_DTYPE_F32, NB_SHAPE(C), nb_init_constant(0.05)));
    BUILD(o, g, m2, nb_matmul(g, h, w2));
    BUILD(o, g, logits, nb_add(g, m2, b2));
    scope_pop(o, g);
    scope_pop(o, g);
    BUILD(o, g, loss, nb_cross_entropy(g, logits, labels));
    name(o, g, x, "x");
    name(o, g, labels, "labels");
    name(o, g, w1, "w1");
    name(o, g, b1, "b1");
    name(o, g, w2, "w2");
    name(o, g, b2, "b2");
    name(o, g, h, "hidden");
    name(o, g, loss, "loss");
    if (m1) {
        /* a generated name: may fall back to the op name when memory runs out */
        const char *s = nb_node_name(m1);
        cr_assert(strcmp(s, "matmul_1") == 0 || strcmp(s, "matmul") == 0, "%s", s);
    }
    o->nodes_after_build = nb_graph_node_count(g);

    nb_node *grads[N_GRADS] = { NULL };
    nb_node *wrt[N_GRADS] = { w1, b1, w2, b2 };
    nb_status st0 = nb_graph_status(g);
    nb_status s = nb_grad(g, loss, N_GRADS, wrt, grads);
    note(o, g, s, "grad");
    cr_assert_eq(s, nb_graph_status(g));
    if (st0 != NB_OK || s != NB_OK) {
        for (int i = 0; i < N_GRADS; i++) {
            cr_assert_null(grads[i], "a failed nb_grad left grads[%d] set", i);
        }
    } else {
        for (int i = 0; i < N_GRADS; i++) {
            cr_assert_not_null(grads[i]);
            cr_assert(nbi_same_shape(grads[i], wrt[i]));
        }
    }

    if (x && labels) {
        set_inputs(g, x, labels);
    }
    if (loss && s == NB_OK) {
        run_model(o, g, loss, grads);
    } else {
        nb_node *outs[1] = { loss };
        nb_status r = nb_graph_run(g, 1, outs);
        cr_assert_eq(r, nb_graph_status(g), "a graph in error must refuse to run");
        cr_assert_neq(r, NB_OK);
    }

    nb_node *path[PATH_CAP];
    st0 = nb_graph_status(g);
    size_t len = nb_depth_path(g, loss, NB_DEPTH_SCOPES, path, PATH_CAP);
    if (st0 != NB_OK) {
        cr_assert_eq(len, 0);
    } else if (len == 0) {
        /* depth errors are reported, not sticky: the graph stays healthy */
        cr_assert_eq(nb_graph_status(g), NB_OK);
        note(o, g, NB_ERR_NOMEM, "depth_path");
    } else {
        cr_assert_leq(len, PATH_CAP);
        o->depth_path_len = len;
        for (size_t i = 0; i < len; i++) {
            o->depth_path[i] = path[i]->id;
        }
        cr_assert_eq(path[len - 1], loss);
    }

    write_dot(o, g, loss);
    gradcheck_tiny(o, f);

    /* the graph is still consistent: every node is where its id says */
    for (size_t id = 0; id < nb_graph_node_count(g); id++) {
        nb_node *n = nb_graph_node(g, id);
        cr_assert_eq(n->id, id);
        cr_assert_eq(n->g, g);
        for (int i = 0; i < n->arity; i++) {
            cr_assert_lt(n->in[i]->id, id);
        }
    }
    cr_assert_leq(g->n_plans, 16);
    nb_graph_free(g);
}

static void outcome_free(outcome *o)
{
    free(o->dot);
    o->dot = NULL;
}

/* With no NB_ERR_NOMEM reported, every result must equal the failure-free session's. */
static void compare(const outcome *base, const outcome *o, size_t k, bool after)
{
    const char *mode = after ? " and after" : "";
    if (o->nomem) {
        return;
    }
    cr_assert(o->graph_made, "k=%zu%s", k, mode);
    cr_assert_eq(o->nodes_after_build, base->nodes_after_build, "k=%zu%s", k, mode);
    cr_assert(o->ran, "k=%zu%s: nothing failed, yet the model did not run", k, mode);
    cr_assert_eq(o->loss, base->loss, "k=%zu%s", k, mode);
    cr_assert_arr_eq(o->grads, base->grads, sizeof o->grads, "k=%zu%s", k, mode);
    cr_assert_arr_eq(o->grad_sums, base->grad_sums, sizeof o->grad_sums, "k=%zu%s", k, mode);
    cr_assert_eq(o->depth_path_len, base->depth_path_len, "k=%zu%s", k, mode);
    cr_assert_arr_eq(o->depth_path, base->depth_path, sizeof o->depth_path, "k=%zu%s", k, mode);
    cr_assert_not_null(o->dot, "k=%zu%s", k, mode);
    cr_assert_str_eq(o->dot, base->dot, "k=%zu%s: DOT differs with no error reported", k, mode);
    cr_assert(o->checked, "k=%zu%s", k, mode);
    cr_assert_eq(o->check.max_abs_err, base->check.max_abs_err, "k=%zu%s", k, mode);
}

static size_t baseline(outcome *base)
{
    faulty f = faulty_make(0, false);
    session(&f, base);
    cr_assert(!base->nomem);
    cr_assert(base->ran && base->dot && base->checked && base->depth_path_len > 0);
    cr_assert_gt(f.allocs, 10);
    faulty_done(&f);
    return f.allocs;
}

static void sweep(bool after)
{
    outcome base;
    size_t total = baseline(&base);
    cr_log_info("a full session makes %zu allocations", total);
    size_t reported = 0, absorbed = 0;
    for (size_t k = 1; k <= total + 1; k++) {
        faulty f = faulty_make(k, after);
        outcome o;
        session(&f, &o);
        if (k <= total) {
            cr_assert_geq(f.failures, 1, "k=%zu: allocation %zu was never reached", k, k);
        } else {
            cr_assert_eq(f.failures, 0);
        }
        compare(&base, &o, k, after);
        reported += o.nomem;
        absorbed += f.failures > 0 && !o.nomem;
        outcome_free(&o);
        faulty_done(&f);
    }
    cr_log_info("failing allocation k%s: %zu reported NB_ERR_NOMEM, %zu absorbed",
                after ? " and after" : "", reported, absorbed);
    outcome_free(&base);
}

Test(internal_oom, every_single_allocation_fails_cleanly,
     .description = "for k = 1 .. all allocations of a session, fail only the k-th")
{
    sweep(false);
}

Test(internal_oom, every_allocation_from_k_fails_cleanly,
     .description = "for every k, fail the k-th allocation and every later one")
{
    sweep(true);
}

/* ---- targeted cases ---- */

Test(internal_oom, first_allocation_fails)
{
    faulty f = faulty_make(1, false);
    cr_assert_null(nb_graph_new_with_allocator(faulty_alloc, &f));
    cr_assert_eq(f.allocs, 1);
    cr_assert_eq(f.failures, 1);
    faulty_done(&f);
    cr_assert_null(nb_graph_new_with_allocator(NULL, NULL));
    nb_graph_free(NULL);
}

/* A small healthy graph; returns a node with a generated name ("exp_1"). */
static nb_node *small_graph(faulty *f, nb_graph **out)
{
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    cr_assert_not_null(g);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *e = nb_exp(g, x);
    nb_sum(g, e);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    *out = g;
    return e;
}

Test(internal_oom, generated_name_falls_back_to_op_name,
     .description = "nb_node_name without memory returns the op name, caches nothing, and "
                    "succeeds once memory is back")
{
    for (int k = 1; k <= 2; k++) {
        for (int after = 0; after <= 1; after++) {
            faulty f = faulty_make(0, false);
            nb_graph *g;
            nb_node *e = small_graph(&f, &g);
            f.fail_at = f.allocs + (size_t)k;
            f.fail_after = after;
            const char *s = nb_node_name(e);
            cr_assert_not_null(s);
            if (f.failures > 0) {
                cr_assert_str_eq(s, "exp", "k=%d: %s", k, s);
                for (uint32_t i = 0; i < g->cap_names; i++) {
                    cr_assert(!g->names[i].name || g->names[i].id != e->id, "half-stored name");
                }
            } else {
                cr_assert_str_eq(s, "exp_1");
            }
            cr_assert_eq(nb_graph_status(g), NB_OK, "a name lookup never poisons the graph");
            cr_assert_str_empty(nb_graph_error(g));
            f.fail_at = 0;
            cr_assert_str_eq(nb_node_name(e), "exp_1");
            cr_assert_eq(nb_graph_find(g, "exp_1"), e);
            nb_graph_free(g);
            faulty_done(&f);
        }
    }
}

Test(internal_oom, set_name_failure_is_nomem_and_leaves_no_name)
{
    for (int k = 1; k <= 3; k++) {
        faulty f = faulty_make(0, false);
        nb_graph *g;
        nb_node *e = small_graph(&f, &g);
        size_t nodes = nb_graph_node_count(g);
        f.fail_at = f.allocs + (size_t)k;
        nb_node *r = nb_node_set_name(g, e, "a rather long name that needs its own bytes");
        if (f.failures == 0) {
            /* k beyond the allocations set_name makes */
            cr_assert_eq(r, e);
            cr_assert_eq(nb_graph_status(g), NB_OK);
        } else {
            cr_assert_null(r);
            cr_assert_eq(nb_graph_status(g), NB_ERR_NOMEM);
            cr_assert_str_eq(nb_graph_error(g), "set_name: out of memory");
            cr_assert_eq(nb_graph_node_count(g), nodes);
            cr_assert(!(e->flags & NBI_F_NAMED));
            cr_assert_null(nb_graph_find(g, "a rather long name that needs its own bytes"));
            f.fail_at = 0;
            cr_assert_str_eq(nb_node_name(e), "exp_1");
        }
        nb_graph_free(g);
        faulty_done(&f);
    }
}

Test(internal_oom, set_name_after_generated_names_grow_the_table)
{
    /* the name hash is full (32 of 64 slots: one generated, 31 given), then one more */
    faulty f = faulty_make(0, false);
    nb_graph *g;
    nb_node *e = small_graph(&f, &g);
    cr_assert_str_eq(nb_node_name(e), "exp_1");
    nb_node *x = nb_graph_node(g, 0);
    nb_node *last = x;
    for (int i = 0; i < 40; i++) {
        last = nb_neg(g, last);
        if (i < 31) {
            char name[16];
            snprintf(name, sizeof name, "n%d", i);
            cr_assert_not_null(nb_node_set_name(g, last, name));
        }
    }
    cr_assert_eq(g->n_names, 32);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    f.fail_at = f.allocs + 1;
    cr_assert_null(nb_node_set_name(g, last, "end"));
    cr_assert_eq(nb_graph_status(g), NB_ERR_NOMEM);
    cr_assert_str_eq(nb_node_name(e), "exp_1", "earlier names survive a failed grow");
    cr_assert_str_eq(nb_node_name(last), "neg_40");
    nb_graph_free(g);
    faulty_done(&f);
}

/* 33 ops on [64] f64: z = sum(y8), y(i+1) = e^(y(i) / 2) + tanh(y(i)); *other = the 4th e^. */
static nb_node *run_graph(nb_graph *g, nb_node **other)
{
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(64));
    nb_node *y = x;
    for (int i = 0; i < 8; i++) {
        nb_node *e = nb_exp(g, nb_mul(g, y, nb_scalar(g, NB_DTYPE_F64, 0.5)));
        y = nb_add(g, e, nb_tanh(g, y));
        if (i == 3) {
            *other = e;
        }
    }
    cr_assert_eq(nb_graph_status(g), NB_OK);
    static const double zeros[64];
    cr_assert_eq(nb_node_write_f64(g, x, zeros, 64), NB_OK); /* written: no warning */
    return nb_sum(g, y);
}

Test(internal_oom, failed_run_is_not_sticky_and_keeps_no_stale_values,
     .description = "fail each allocation of a run in turn (plan, scratch, free list, "
                    "workspace): NB_ERR_NOMEM, no stale values, no half plan, then success")
{
    faulty probe = faulty_make(0, false);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, &probe);
    nb_node *other, *z = run_graph(g, &other);
    cr_assert_eq(nb_graph_run(g, 1, &other), NB_OK);
    size_t before = probe.allocs;
    cr_assert_eq(nb_graph_run(g, 1, &z), NB_OK);
    size_t per_run = probe.allocs - before;
    double want = *(double *)nb_node_data(z);
    nb_graph_free(g);
    faulty_done(&probe);
    cr_log_info("a first run of a 33-op graph: %zu allocations", per_run);
    cr_assert_gt(per_run, 3);

    for (size_t k = 1; k <= per_run; k++) {
        faulty f = faulty_make(0, false);
        g = nb_graph_new_with_allocator(faulty_alloc, &f);
        z = run_graph(g, &other);
        cr_assert_eq(nb_graph_run(g, 1, &other), NB_OK); /* a previous run with values */
        cr_assert_not_null(nb_node_data(other));
        double other_values[64];
        memcpy(other_values, nb_node_data(other), sizeof other_values);
        uint32_t plans = g->n_plans;
        size_t plan_bytes = nbi_plans_bytes(g);
        f.fail_at = f.allocs + k;
        nb_status s = nb_graph_run(g, 1, &z);
        cr_assert_eq(f.failures, 1, "k=%zu", k);
        cr_assert_eq(s, NB_ERR_NOMEM, "k=%zu", k);
        cr_assert_eq(nb_graph_status(g), NB_OK);
        cr_assert(strstr(nb_graph_error(g), "out of memory") != NULL, "%s", nb_graph_error(g));
        cr_assert_null(nb_node_data(z));
        if (g->n_plans == plans) {
            /*
             * planning failed before anything was touched: nothing half-built is
             * cached, and the previous values, if still readable, are right
             */
            cr_assert_eq(nbi_plans_bytes(g), plan_bytes);
            const double *ov = nb_node_data(other);
            cr_assert(!ov || memcmp(ov, other_values, sizeof other_values) == 0);
        } else {
            /* the plan was made, the workspace was not: the old values are gone */
            cr_assert_eq(g->n_plans, plans + 1);
            cr_assert_null(g->last_plan);
            cr_assert_null(nb_node_data(other));
            cr_assert_eq(g->workspace_size, 0);
        }
        /* memory is back: the same set runs and gives the right value */
        cr_assert_eq(nb_graph_run(g, 1, &z), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(*(double *)nb_node_data(z), want);
        cr_assert_str_empty(nb_graph_error(g));
        nb_graph_free(g);
        faulty_done(&f);
    }
}

Test(internal_oom, builder_failure_leaves_node_count)
{
    /* each builder in turn gets no memory (node table full, arena chunk full) */
    for (size_t k = 1; k <= 200; k++) {
        faulty f = faulty_make(k, false);
        nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, &f);
        if (!g) {
            faulty_done(&f);
            continue;
        }
        outcome o;
        memset(&o, 0, sizeof o);
        nb_node *x;
        BUILD(&o, g, x, nb_input(g, NB_DTYPE_F32, NB_SHAPE(300)));
        for (int i = 0; i < 60 && nb_graph_status(g) == NB_OK; i++) {
            nb_node *y;
            int64_t shape[2] = { 3, 100 };
            switch (i % 5) {
            case 0:
                BUILD(&o, g, y, nb_reshape(g, x, 2, shape)); /* a new shape: arena bytes */
                break;
            case 1:
                BUILD(&o, g, y, nb_exp(g, x));
                break;
            case 2:
                BUILD(&o, g, y, nb_param(g, NB_DTYPE_F32, NB_SHAPE(300), nb_init_constant(1)));
                break;
            case 3:
                BUILD(&o, g, y, nb_fill(g, NB_DTYPE_F32, NB_SHAPE(5, 60), 2));
                break;
            default:
                BUILD(&o, g, y, nb_scalar(g, NB_DTYPE_F32, i));
                break;
            }
        }
        nb_graph_free(g);
        faulty_done(&f);
    }
}

/* ---- every gradient rule under out-of-memory ---- */

enum { OPS_VALUES = 1 + 12 + 12 + 3 + 12 };

/*
 * A float64 graph using every op, its gradient, and a second-order gradient;
 * each builder call is checked like the session's. Returns false when some
 * call reported NB_ERR_NOMEM; otherwise fills vals with every output value.
 */
static bool ops_session(faulty *f, double *vals, int pad)
{
    outcome o;
    memset(&o, 0, sizeof o);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        return false;
    }
    const nb_dtype T = NB_DTYPE_F64;
    if (pad > 0) {
        /* shifts where arena chunks run out, so failures land in other builder calls */
        nb_node *unused;
        BUILD(&o, g, unused, nb_input(g, T, 1, (const int64_t[]){ pad }));
    }
    nb_node *x, *w, *c, *lab, *one, *a, *b, *s, *ls, *sl, *m, *mn, *emn, *den, *sg, *p, *d;
    nb_node *bt, *st, *ab, *ab1, *sq, *th, *e, *ee, *ee1, *l1, *sgb, *t1, *t2, *t3, *t4, *t5;
    nb_node *oh, *ra, *ohm, *sa, *sb, *zz, *ams, *mx, *r, *r2, *rr, *tot[8], *loss;
    BUILD(&o, g, x, nb_input(g, T, NB_SHAPE(3, 4)));
    BUILD(&o, g, w, nb_param(g, T, NB_SHAPE(4, 3), nb_init_uniform(-1, 1)));
    BUILD(&o, g, c, nb_param(g, T, NB_SHAPE(3), nb_init_normal(0, 1)));
    BUILD(&o, g, lab, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)));
    BUILD(&o, g, one, nb_scalar(g, T, 1));
    nb_scope_push(g, "block");
    note(&o, g, nb_graph_status(g), "scope_push");
    BUILD(&o, g, a, nb_matmul_ex(g, x, w, 0));
    BUILD(&o, g, b, nb_transpose(g, a));
    BUILD(&o, g, s, nb_softmax(g, b, 1));
    BUILD(&o, g, ls, nb_log_softmax(g, a, 0));
    BUILD(&o, g, sl, nb_add(g, s, ls));
    BUILD(&o, g, m, nb_max_axis(g, sl, 1, false));
    BUILD(&o, g, mn, nb_mean_axis(g, a, 0, true));
    BUILD(&o, g, emn, nb_exp(g, mn));
    BUILD(&o, g, den, nb_add(g, emn, one));
    BUILD(&o, g, sg, nb_sigmoid(g, a));
    BUILD(&o, g, p, nb_pow(g, sg, 2));
    BUILD(&o, g, d, nb_div(g, p, den));
    BUILD(&o, g, bt, nb_broadcast_to(g, c, NB_SHAPE(3, 3)));
    BUILD(&o, g, st, nb_sum_to(g, bt, NB_SHAPE(1, 3)));
    BUILD(&o, g, ab, nb_abs(g, bt));
    BUILD(&o, g, ab1, nb_add(g, ab, one));
    BUILD(&o, g, sq, nb_sqrt(g, ab1));
    BUILD(&o, g, th, nb_tanh(g, d));
    BUILD(&o, g, e, nb_mul(g, th, sq));
    BUILD(&o, g, ee, nb_exp(g, e));
    BUILD(&o, g, ee1, nb_add(g, ee, one));
    BUILD(&o, g, l1, nb_log(g, ee1));
    nb_scope_pop(g);
    note(&o, g, nb_graph_status(g), "scope_pop");
    BUILD(&o, g, sgb, nb_sigmoid(g, bt));
    BUILD(&o, g, t1, nb_sum(g, m));
    BUILD(&o, g, t2, nb_mean(g, l1));
    BUILD(&o, g, t3, nb_mse(g, d, bt));
    BUILD(&o, g, t4, nb_bce_logits(g, a, sgb));
    BUILD(&o, g, t5, nb_sum(g, st));
    BUILD(&o, g, oh, nb_one_hot(g, lab, 3, T));
    BUILD(&o, g, ra, nb_relu(g, a));
    BUILD(&o, g, ohm, nb_mul(g, oh, ra));
    BUILD(&o, g, sa, nb_sign(g, a));
    BUILD(&o, g, sb, nb_step(g, b));
    BUILD(&o, g, zz, nb_mul(g, sa, sb));
    BUILD(&o, g, ams, nb_argmax_mask(g, a, 1));
    BUILD(&o, g, mx, nb_add(g, zz, ams));
    BUILD(&o, g, r, nb_reshape(g, mx, NB_SHAPE(9)));
    BUILD(&o, g, r2, nb_mul(g, r, r));
    BUILD(&o, g, rr, nb_sum(g, r2));
    nb_node *parts[7] = { t1, t2, t3, t4, t5, ohm, rr };
    tot[0] = t1;
    for (int i = 1; i < 7; i++) {
        nb_node *q = parts[i];
        if (i == 5) {
            BUILD(&o, g, q, nb_sum(g, ohm));
        }
        BUILD(&o, g, tot[i], nb_add(g, tot[i - 1], q));
    }
    loss = tot[6];
    nb_node *wrt[3] = { x, w, c }, *grads[3], *h, *dw2, *ddw;
    note(&o, g, nb_grad(g, loss, 3, wrt, grads), "grad");
    BUILD(&o, g, dw2, nb_mul(g, grads[1], grads[1]));
    BUILD(&o, g, h, nb_sum(g, dw2));
    note(&o, g, nb_grad(g, h, 1, &w, &ddw), "grad of grad");

    bool ok = false;
    if (nb_graph_status(g) == NB_OK) {
        double xv[12];
        for (int i = 0; i < 12; i++) {
            xv[i] = 0.3 * i - 1.7;
        }
        int32_t lv[3] = { 2, 0, 1 };
        cr_assert_eq(nb_node_write_f64(g, x, xv, 12), NB_OK);
        cr_assert_eq(nb_node_write(g, lab, lv, 3), NB_OK);
        nb_node *outs[5] = { loss, grads[0], grads[1], grads[2], ddw };
        nb_status rs = nb_graph_run(g, 5, outs);
        note(&o, g, rs, "run");
        if (rs == NB_OK) {
            size_t at = 0;
            for (int i = 0; i < 5; i++) {
                size_t n = nb_node_size(outs[i]);
                cr_assert_eq(nb_node_read_f64(g, outs[i], vals + at, n), NB_OK);
                at += n;
            }
            cr_assert_eq(at, OPS_VALUES);
            ok = true;
        }
    } else {
        cr_assert(o.nomem);
    }
    nb_graph_free(g);
    cr_assert(ok || o.nomem || f->failures == 0);
    return ok && !o.nomem;
}

static void ops_sweep(bool after)
{
    double base[OPS_VALUES], vals[OPS_VALUES];
    faulty f = faulty_make(0, false);
    cr_assert(ops_session(&f, base, 0));
    faulty_done(&f);
    size_t sessions = 0, most = 0;
    for (int pad = 0; pad <= 504; pad += 4) {
        f = faulty_make(0, false);
        cr_assert(ops_session(&f, vals, pad));
        cr_assert_arr_eq(vals, base, sizeof vals);
        size_t total = f.allocs;
        most = total > most ? total : most;
        faulty_done(&f);
        for (size_t k = 1; k <= total + 1; k++) {
            f = faulty_make(k, after);
            if (ops_session(&f, vals, pad)) {
                cr_assert_arr_eq(vals, base, sizeof vals, "pad %d, k=%zu: results differ", pad, k);
            } else {
                cr_assert_gt(f.failures, 0, "pad %d, k=%zu: an error, no failed allocation", pad,
                             k);
            }
            faulty_done(&f);
            sessions++;
        }
    }
    cr_log_info("every-op sweep%s: %zu sessions, up to %zu allocations each",
                after ? " (from k on)" : "", sessions, most);
}

Test(internal_oom, every_gradient_rule_fails_cleanly,
     .description = "a graph using every op, its gradient and a second-order gradient, "
                    "with each allocation failing once, then from k on")
{
    ops_sweep(false);
    ops_sweep(true);
}

/* ---- the ops of Part II, the layers and state leaves under out-of-memory ---- */

enum { NEW_OPS_VALUES = 1 + 12 + 12 + 3 + 3 + 15 + 12 + 3 + 3 };

/* total += sum(y * y), each call checked like the session's builders. */
static void add_square(outcome *o, nb_graph *g, nb_node **total, nb_node *y)
{
    nb_node *sq, *s;
    BUILD(o, g, sq, nb_mul(g, y, y));
    BUILD(o, g, s, nb_sum(g, sq));
    if (!*total) {
        *total = s;
        return;
    }
    BUILD(o, g, *total, nb_add(g, *total, s));
}

/*
 * A float64 graph using every op added in Part II (state leaves, batch_norm,
 * mode_select, the activations, comparisons, layout, indexing, reductions over
 * lists of axes, cross_entropy with ignore, dropout, layer_norm with and
 * without weight and bias), the gradient of a loss through all of them with
 * respect to five leaves, and a second-order gradient. Each builder call is
 * checked like the session's. Returns false when some call reported
 * NB_ERR_NOMEM; otherwise fills vals with the outputs and the running
 * statistics the training run updated.
 */
static bool new_ops_session(faulty *f, double *vals, int pad)
{
    outcome o;
    memset(&o, 0, sizeof o);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        return false;
    }
    const nb_dtype T = NB_DTYPE_F64;
    if (pad > 0) {
        nb_node *unused;
        BUILD(&o, g, unused, nb_input(g, T, 1, (const int64_t[]){ pad }));
    }
    nb_node *x, *c, *w, *b, *table, *rm, *rv, *idx, *ids, *lab, *total = NULL;
    BUILD(&o, g, x, nb_param(g, T, NB_SHAPE(4, 3), nb_init_uniform(-1, 1)));
    BUILD(&o, g, c, nb_input(g, T, NB_SHAPE(4, 3)));
    BUILD(&o, g, w, nb_param(g, T, NB_SHAPE(3), nb_init_normal(1, 0.1)));
    BUILD(&o, g, b, nb_param(g, T, NB_SHAPE(3), nb_init_constant(0.25)));
    BUILD(&o, g, table, nb_param(g, T, NB_SHAPE(5, 3), nb_init_uniform(-1, 1)));
    BUILD(&o, g, rm, nb_state(g, T, NB_SHAPE(3), 0));
    BUILD(&o, g, rv, nb_state(g, T, NB_SHAPE(3), 1));
    BUILD(&o, g, idx, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)));
    BUILD(&o, g, ids, nb_input(g, NB_DTYPE_I32, NB_SHAPE(2, 2)));
    BUILD(&o, g, lab, nb_input(g, NB_DTYPE_I32, NB_SHAPE(4)));
    nb_scope_push(g, "part2");
    note(&o, g, nb_graph_status(g), "scope_push");

    /* layout */
    nb_node *cat, *sl, *sg, *pd, *pm, *x3;
    nb_node *pair[2] = { x, c };
    BUILD(&o, g, cat, nb_concat(g, 2, pair, 0));
    BUILD(&o, g, sl, nb_slice(g, cat, 0, 1, 8, 2));
    BUILD(&o, g, sg, nb_slice_grad(g, sl, NB_SHAPE(8, 3), 0, 1, 2));
    BUILD(&o, g, pd, nb_pad(g, x, 4, (const int64_t[]){ 1, 0, 0, 1 }, 0.5));
    BUILD(&o, g, pm, nb_permute(g, pd, 2, (const int[]){ 1, 0 }));
    BUILD(&o, g, x3, nb_reshape(g, cat, NB_SHAPE(2, 4, 3)));
    add_square(&o, g, &total, sl);
    add_square(&o, g, &total, sg);
    add_square(&o, g, &total, pm);

    /* indexing */
    nb_node *ga, *sa, *em, *am, *oh, *ohx, *ce;
    BUILD(&o, g, ga, nb_gather(g, x, idx, 0));
    BUILD(&o, g, sa, nb_scatter_add(g, ga, idx, 0, 4));
    BUILD(&o, g, em, nb_embedding(g, ids, table));
    BUILD(&o, g, am, nb_argmax(g, c, 1, false));
    BUILD(&o, g, oh, nb_one_hot(g, am, 3, T));
    BUILD(&o, g, ohx, nb_mul(g, oh, x));
    BUILD(&o, g, ce, nb_cross_entropy_ignore(g, x, lab, -1));
    add_square(&o, g, &total, sa);
    add_square(&o, g, &total, em);
    add_square(&o, g, &total, ohx);
    add_square(&o, g, &total, ce);

    /* comparison and selection */
    nb_node *mx, *mn, *gt, *lt, *eq, *wh, *sel;
    BUILD(&o, g, mx, nb_maximum(g, x, c));
    BUILD(&o, g, mn, nb_minimum(g, x, w));
    BUILD(&o, g, gt, nb_greater(g, x, c));
    BUILD(&o, g, lt, nb_less(g, x, w));
    BUILD(&o, g, eq, nb_equal(g, x, x));
    BUILD(&o, g, wh, nb_where(g, gt, x, c));
    BUILD(&o, g, sel, nb_where(g, lt, mx, mn));
    add_square(&o, g, &total, wh);
    add_square(&o, g, &total, sel);
    add_square(&o, g, &total, eq);

    /* activations */
    nb_node *ax, *acts[10];
    BUILD(&o, g, ax, nb_abs(g, x));
    BUILD(&o, g, acts[0], nb_clamp(g, x, -0.5, 0.5));
    BUILD(&o, g, acts[1], nb_leaky_relu(g, x, 0.1));
    BUILD(&o, g, acts[2], nb_elu(g, x, 1.5));
    BUILD(&o, g, acts[3], nb_erf(g, x));
    BUILD(&o, g, acts[4], nb_gelu(g, x));
    BUILD(&o, g, acts[5], nb_gelu_tanh(g, x));
    BUILD(&o, g, acts[6], nb_softplus(g, x));
    BUILD(&o, g, acts[7], nb_silu(g, x));
    BUILD(&o, g, acts[8], nb_log1p(g, ax));
    BUILD(&o, g, acts[9], nb_clamp(g, x, -INFINITY, 0.25));
    for (int i = 0; i < 10; i++) {
        add_square(&o, g, &total, acts[i]);
    }

    /* reductions over lists of axes */
    nb_node *red[11];
    BUILD(&o, g, red[0], nb_sum_axes(g, x3, 2, (const int[]){ 0, 2 }, true));
    BUILD(&o, g, red[1], nb_mean_axes(g, x3, 1, (const int[]){ 1 }, false));
    BUILD(&o, g, red[2], nb_max_axes(g, x3, 2, (const int[]){ 0, 1 }, false));
    BUILD(&o, g, red[3], nb_min_axes(g, x3, 2, (const int[]){ 0, -2 }, true));
    BUILD(&o, g, red[4], nb_min_axis(g, x, 0, false));
    BUILD(&o, g, red[5], nb_logsumexp_axes(g, x3, 2, (const int[]){ 0, 2 }, false));
    BUILD(&o, g, red[6], nb_logsumexp(g, x, 1, true));
    BUILD(&o, g, red[7], nb_var_axes(g, x3, 2, (const int[]){ 0, 1 }, false, 1));
    BUILD(&o, g, red[8], nb_var(g, x, 0, true, 0));
    BUILD(&o, g, red[9], nb_argmax_mask_axes(g, x3, 2, (const int[]){ 0, 2 }));
    BUILD(&o, g, red[10], nb_mul(g, red[9], x3));
    for (int i = 0; i < 11; i++) {
        if (i != 9) {
            add_square(&o, g, &total, red[i]);
        }
    }

    /* regularization and normalization */
    nb_node *dr, *ln, *lnp, *bn, *ms;
    BUILD(&o, g, dr, nb_dropout(g, x, 0.25));
    BUILD(&o, g, ln, nb_layer_norm(g, x, w, b, 1e-5));
    BUILD(&o, g, lnp, nb_layer_norm(g, c, NULL, NULL, 1e-3));
    BUILD(&o, g, bn, nb_batch_norm(g, x, w, b, rm, rv, 0.1, 1e-5));
    BUILD(&o, g, ms, nb_mode_select(g, bn, lnp));
    add_square(&o, g, &total, dr);
    add_square(&o, g, &total, ln);
    add_square(&o, g, &total, ms);
    nb_scope_pop(g);
    note(&o, g, nb_graph_status(g), "scope_pop");

    nb_node *wrt[5] = { x, c, w, b, table }, *grads[5] = { NULL }, *dx2, *h, *ddx = NULL;
    note(&o, g, nb_grad(g, total, 5, wrt, grads), "grad");
    BUILD(&o, g, dx2, nb_mul(g, grads[0], grads[0]));
    BUILD(&o, g, h, nb_sum(g, dx2));
    note(&o, g, nb_grad(g, h, 1, &x, &ddx), "grad of grad");

    bool ok = false;
    if (nb_graph_status(g) == NB_OK) {
        double cv[12];
        for (int i = 0; i < 12; i++) {
            cv[i] = 0.35 * i - 1.9;
        }
        const int32_t iv[3] = { 2, 0, 2 }, idv[4] = { 0, 4, 1, 1 }, lv[4] = { 2, -1, 0, 1 };
        cr_assert_eq(nb_node_write_f64(g, c, cv, 12), NB_OK);
        cr_assert_eq(nb_node_write(g, idx, iv, 3), NB_OK);
        cr_assert_eq(nb_node_write(g, ids, idv, 4), NB_OK);
        cr_assert_eq(nb_node_write(g, lab, lv, 4), NB_OK);
        nb_node *outs[7] = { total, grads[0], grads[1], grads[2], grads[3], grads[4], ddx };
        nb_status rs = nb_graph_run(g, 7, outs);
        note(&o, g, rs, "run");
        if (rs == NB_OK) {
            size_t at = 0;
            for (int i = 0; i < 7; i++) {
                size_t n = nb_node_size(outs[i]);
                cr_assert_eq(nb_node_read_f64(g, outs[i], vals + at, n), NB_OK);
                at += n;
            }
            /* the training run moved the running statistics, exactly once */
            cr_assert_eq(nb_node_read_f64(g, rm, vals + at, 3), NB_OK);
            cr_assert_eq(nb_node_read_f64(g, rv, vals + at + 3, 3), NB_OK);
            at += 6;
            cr_assert_eq(at, NEW_OPS_VALUES);
            ok = true;
        } else {
            /* a failed run leaves the states as they were */
            const double *m = nb_node_data(rm), *v = nb_node_data(rv);
            for (int i = 0; i < 3; i++) {
                cr_assert(m[i] == 0 && v[i] == 1, "a failed run moved the running statistics");
            }
        }
    } else {
        cr_assert(o.nomem);
    }
    nb_graph_free(g);
    cr_assert(ok || o.nomem || f->failures == 0);
    return ok && !o.nomem;
}

static void new_ops_sweep(bool after)
{
    double base[NEW_OPS_VALUES], vals[NEW_OPS_VALUES];
    faulty f = faulty_make(0, false);
    cr_assert(new_ops_session(&f, base, 0));
    faulty_done(&f);
    size_t sessions = 0, most = 0;
    for (int pad = 0; pad <= 504; pad += 8) {
        f = faulty_make(0, false);
        cr_assert(new_ops_session(&f, vals, pad));
        cr_assert_arr_eq(vals, base, sizeof vals);
        size_t total = f.allocs;
        most = total > most ? total : most;
        faulty_done(&f);
        for (size_t k = 1; k <= total + 1; k++) {
            f = faulty_make(k, after);
            if (new_ops_session(&f, vals, pad)) {
                cr_assert_arr_eq(vals, base, sizeof vals, "pad %d, k=%zu: results differ", pad, k);
            } else {
                cr_assert_gt(f.failures, 0, "pad %d, k=%zu: an error, no failed allocation", pad,
                             k);
            }
            faulty_done(&f);
            sessions++;
        }
    }
    cr_log_info("Part II sweep%s: %zu sessions, up to %zu allocations each",
                after ? " (from k on)" : "", sessions, most);
}

Test(internal_oom, every_new_op_and_its_gradients_fail_cleanly,
     .description = "a graph using every op of Part II, its gradient and a second-order "
                    "gradient, with each allocation failing once, then from k on")
{
    new_ops_sweep(false);
    new_ops_sweep(true);
}

/* ---- convolutions under out-of-memory ---- */

enum { CONV_VALUES = 1 + 24 + 3 + 54 };

/*
 * A conv2d layer with bias over [2, 2, 5, 5], conv1d, conv_transpose2d and
 * conv2d_weight_grad, the gradient of a loss through them with respect to
 * the layer's weight and bias and a second weight, and a second-order
 * gradient (conv_transpose2d and conv2d_weight_grad differentiated), then a
 * run, whose steps take im2col buffers from the workspace.
 */
static bool conv_session(faulty *f, double *vals)
{
    outcome o;
    memset(&o, 0, sizeof o);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        return false;
    }
    const nb_dtype T = NB_DTYPE_F64;
    nb_node *x, *w2, *s, *v, *c1, *c2, *c3, *c4, *t;
    BUILD(&o, g, x, nb_input(g, T, NB_SHAPE(2, 2, 5, 5)));
    BUILD(&o, g, w2, nb_param(g, T, NB_SHAPE(3, 2, 2, 2), nb_init_uniform(-1, 1)));
    BUILD(&o, g, s, nb_input(g, T, NB_SHAPE(2, 3, 4)));
    BUILD(&o, g, v, nb_param(g, T, NB_SHAPE(1, 3, 2), nb_init_uniform(-1, 1)));
    nb_conv2d_layer cl =
        nb_conv2d_layer_new(g, "c", T, 2, 3, 3, 3, &(nb_conv_opts){ .padding = { 1, 1 } }, true);
    note(&o, g, nb_graph_status(g), "conv2d_layer_new");
    c1 = nb_conv2d_layer_apply(g, &cl, x);
    note(&o, g, nb_graph_status(g), "conv2d_layer_apply");
    BUILD(&o, g, t, nb_tanh(g, c1));
    BUILD(&o, g, c2, nb_conv_transpose2d(g, t, w2, NULL, &(nb_conv_opts){ .stride = { 2, 2 } }));
    BUILD(&o, g, c3, nb_conv1d(g, s, v, NULL, &(nb_conv_opts){ .stride = { 2 } }));
    BUILD(&o, g, c4, nb_conv2d_weight_grad(g, x, c1, 3, 3, &(nb_conv_opts){ .padding = { 1, 1 } }));
    nb_node *total = NULL;
    add_square(&o, g, &total, c2);
    add_square(&o, g, &total, c3);
    add_square(&o, g, &total, c4);
    nb_node *wrt[4] = { cl.weight, cl.bias, w2, v }, *grads[4] = { NULL }, *sq, *h, *dd = NULL;
    note(&o, g, nb_grad(g, total, 4, wrt, grads), "grad");
    BUILD(&o, g, sq, nb_mul(g, grads[2], grads[2]));
    BUILD(&o, g, h, nb_sum(g, sq));
    note(&o, g, nb_grad(g, h, 1, &cl.weight, &dd), "grad of grad");
    bool ok = false;
    if (nb_graph_status(g) == NB_OK) {
        double xv[100], sv[24];
        for (int i = 0; i < 100; i++) {
            xv[i] = sin(0.9 * i);
            if (i < 24) {
                sv[i] = cos(0.6 * i);
            }
        }
        cr_assert_eq(nb_node_write_f64(g, x, xv, 100), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, s, sv, 24), NB_OK);
        nb_node *outs[4] = { total, grads[2], grads[1], dd };
        nb_status rs = nb_graph_run(g, 4, outs);
        note(&o, g, rs, "run");
        if (rs == NB_OK) {
            size_t at = 0;
            for (int i = 0; i < 4; i++) {
                size_t n = nb_node_size(outs[i]);
                cr_assert_eq(nb_node_read_f64(g, outs[i], vals + at, n), NB_OK);
                at += n;
            }
            cr_assert_eq(at, CONV_VALUES);
            ok = true;
        }
    } else {
        cr_assert(o.nomem);
    }
    nb_graph_free(g);
    return ok && !o.nomem;
}

static void conv_sweep(bool after)
{
    double base[CONV_VALUES], vals[CONV_VALUES];
    faulty f = faulty_make(0, false);
    cr_assert(conv_session(&f, base));
    size_t total = f.allocs;
    faulty_done(&f);
    for (size_t k = 1; k <= total + 1; k++) {
        f = faulty_make(k, after);
        if (conv_session(&f, vals)) {
            cr_assert_arr_eq(vals, base, sizeof vals, "k=%zu: results differ", k);
        } else {
            cr_assert_gt(f.failures, 0, "k=%zu: an error, no failed allocation", k);
        }
        faulty_done(&f);
    }
    cr_log_info("conv sweep%s: %zu allocations", after ? " (from k on)" : "", total);
}

Test(internal_oom, every_convolution_op_and_its_gradients_fail_cleanly,
     .description = "a conv layer, conv1d, conv_transpose2d and conv2d_weight_grad, their "
                    "gradient and a second-order gradient, with each allocation failing once, "
                    "then from k on")
{
    conv_sweep(false);
    conv_sweep(true);
}

enum { LAYER_VALUES = 1 + 12 + 4 + 8 };

/*
 * Two linear layers (with and without bias) applied to a [5, 3] batch and a
 * [2, 5, 3] sequence, the gradient of a loss with respect to their
 * parameters, and a run. A failed nb_linear_new must leave the graph in
 * NB_ERR_NOMEM and its apply must return NULL.
 */
static bool layers_session(faulty *f, double *vals)
{
    outcome o;
    memset(&o, 0, sizeof o);
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        return false;
    }
    const nb_dtype T = NB_DTYPE_F64;
    nb_node *x, *x3;
    BUILD(&o, g, x, nb_input(g, T, NB_SHAPE(5, 3)));
    BUILD(&o, g, x3, nb_input(g, T, NB_SHAPE(2, 5, 3)));
    nb_linear fc1 = nb_linear_new(g, "fc1", T, 3, 4, true);
    note(&o, g, nb_graph_status(g), "linear_new fc1");
    nb_linear fc2 = nb_linear_new(g, "fc2", T, 4, 2, false);
    note(&o, g, nb_graph_status(g), "linear_new fc2");
    cr_assert_null(fc2.bias);
    if (nb_graph_status(g) == NB_OK) {
        cr_assert_str_eq(nb_node_name(fc1.weight), "fc1_weight");
        cr_assert_str_eq(nb_node_name(fc1.bias), "fc1_bias");
        cr_assert_str_eq(nb_node_name(fc2.weight), "fc2_weight");
    }
    nb_node *h = nb_linear_apply(g, &fc1, x);
    note(&o, g, nb_graph_status(g), "linear_apply fc1");
    nb_node *y = nb_linear_apply(g, &fc2, nb_tanh(g, h));
    nb_node *y3 = nb_linear_apply(g, &fc2, nb_linear_apply(g, &fc1, x3));
    note(&o, g, nb_graph_status(g), "linear_apply");
    cr_assert_eq(!y || !y3, nb_graph_status(g) != NB_OK,
                 "an apply returned NULL on a healthy graph");
    nb_node *loss = nb_add(g, nb_sum(g, nb_mul(g, y, y)), nb_mean(g, y3));
    note(&o, g, nb_graph_status(g), "loss");
    cr_assert_eq(!loss, nb_graph_status(g) != NB_OK, "a builder returned NULL on a healthy graph");
    nb_node *wrt[3] = { fc1.weight, fc1.bias, fc2.weight }, *grads[3] = { NULL };
    note(&o, g, nb_grad(g, loss, 3, wrt, grads), "grad");
    bool ok = false;
    if (nb_graph_status(g) == NB_OK) {
        double xv[15], x3v[30];
        for (int i = 0; i < 30; i++) {
            x3v[i] = cos(0.7 * i);
            if (i < 15) {
                xv[i] = sin(1.3 * i);
            }
        }
        cr_assert_eq(nb_node_write_f64(g, x, xv, 15), NB_OK);
        cr_assert_eq(nb_node_write_f64(g, x3, x3v, 30), NB_OK);
        nb_node *outs[4] = { loss, grads[0], grads[1], grads[2] };
        nb_status rs = nb_graph_run(g, 4, outs);
        note(&o, g, rs, "run");
        if (rs == NB_OK) {
            size_t at = 0;
            for (int i = 0; i < 4; i++) {
                size_t n = nb_node_size(outs[i]);
                cr_assert_eq(nb_node_read_f64(g, outs[i], vals + at, n), NB_OK);
                at += n;
            }
            cr_assert_eq(at, LAYER_VALUES);
            ok = true;
        }
    } else {
        cr_assert(o.nomem);
    }
    nb_graph_free(g);
    return ok && !o.nomem;
}

Test(internal_oom, every_allocation_of_the_linear_layers_fails_cleanly,
     .description = "nb_linear_new and nb_linear_apply, their gradient and a run, with each "
                    "allocation failing once, then from k on")
{
    double base[LAYER_VALUES], vals[LAYER_VALUES];
    faulty f = faulty_make(0, false);
    cr_assert(layers_session(&f, base));
    size_t total = f.allocs;
    faulty_done(&f);
    for (int after = 0; after <= 1; after++) {
        for (size_t k = 1; k <= total + 1; k++) {
            f = faulty_make(k, after);
            if (layers_session(&f, vals)) {
                cr_assert_arr_eq(vals, base, sizeof vals, "k=%zu: results differ", k);
            } else {
                cr_assert_gt(f.failures, 0, "k=%zu: an error, no failed allocation", k);
            }
            faulty_done(&f);
        }
    }
    cr_log_info("linear layers: %zu allocations, each failed once and from k on", total);
}

/* ---- the fused kernel (graph/fuse.c) under out-of-memory ---- */

enum { FUSE_N = 40, FUSE_D = 6, FUSE_VALUES = 1 + FUSE_D + 1 };

/*
 * W4's graph in small, float64: z = X w + b, bce_logits, the gradients of w
 * and b, two runs. Planning the fused region allocates; when that fails the
 * plan runs unfused, which gives the same bits, so a session either reports
 * NB_ERR_NOMEM or gives the failure-free values. *fused says whether the
 * last run took the fused path.
 */
static bool fuse_session(faulty *f, double *vals, bool *fused)
{
    outcome o;
    memset(&o, 0, sizeof o);
    *fused = false;
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        return false;
    }
    nb_node *x, *y, *w, *b, *m, *z, *loss, *grads[2] = { NULL, NULL };
    BUILD(&o, g, x, nb_input(g, NB_DTYPE_F64, NB_SHAPE(FUSE_N, FUSE_D)));
    BUILD(&o, g, y, nb_input(g, NB_DTYPE_F64, NB_SHAPE(FUSE_N, 1)));
    BUILD(&o, g, w, nb_param(g, NB_DTYPE_F64, NB_SHAPE(FUSE_D, 1), nb_init_constant(0.25)));
    BUILD(&o, g, b, nb_param(g, NB_DTYPE_F64, 0, NULL, nb_init_constant(-0.5)));
    BUILD(&o, g, m, nb_matmul(g, x, w));
    BUILD(&o, g, z, nb_add(g, m, b));
    BUILD(&o, g, loss, nb_bce_logits(g, z, y));
    nb_node *wrt[2] = { w, b };
    note(&o, g, nb_grad(g, loss, 2, wrt, grads), "grad");
    bool ok = nb_graph_status(g) == NB_OK;
    if (ok) {
        double xv[FUSE_N * FUSE_D], yv[FUSE_N];
        for (int i = 0; i < FUSE_N * FUSE_D; i++) {
            xv[i] = sin(0.7 * i + 0.2);
        }
        for (int i = 0; i < FUSE_N; i++) {
            yv[i] = i % 3 == 0;
        }
        ok = nb_node_write(g, x, xv, FUSE_N * FUSE_D) == NB_OK &&
             nb_node_write(g, y, yv, FUSE_N) == NB_OK;
    }
    nb_node *outs[3] = { loss, grads[0], grads[1] };
    for (int run = 0; run < 2 && ok; run++) {
        uint64_t before = g->fused_runs;
        nb_status s = nb_graph_run(g, 3, outs);
        note(&o, g, s, "fused run");
        ok = s == NB_OK;
        *fused = ok && g->fused_runs > before;
    }
    if (ok) {
        vals[0] = *(const double *)nb_node_data(loss);
        memcpy(vals + 1, nb_node_data(grads[0]), FUSE_D * sizeof *vals);
        vals[1 + FUSE_D] = *(const double *)nb_node_data(grads[1]);
    }
    nb_graph_free(g);
    return ok;
}

Test(internal_oom, the_fused_plan_fails_cleanly,
     .description = "W4's fused gradient run, each allocation failing once, then from k on: an "
                    "error, or the same bits fused or not")
{
    double base[FUSE_VALUES], vals[FUSE_VALUES];
    bool fused;
    faulty f = faulty_make(0, false);
    cr_assert(fuse_session(&f, base, &fused));
    cr_assert(fused, "the failure-free session did not fuse");
    size_t total = f.allocs;
    faulty_done(&f);
    size_t unfused = 0;
    for (int after = 0; after <= 1; after++) {
        for (size_t k = 1; k <= total + 1; k++) {
            f = faulty_make(k, after);
            if (fuse_session(&f, vals, &fused)) {
                cr_assert_arr_eq(vals, base, sizeof vals, "k=%zu: results differ", k);
                unfused += !fused;
            } else {
                cr_assert_gt(f.failures, 0, "k=%zu: an error, no failed allocation", k);
            }
            faulty_done(&f);
        }
    }
    cr_assert_gt(unfused, 0, "no failure left the plan unfused");
    cr_log_info("fused plan: %zu allocations; %zu sessions ran unfused after a failure", total,
                unfused);
}

/*
 * A scalar chain's forward run, then its gradient run resuming from the
 * forward's saved values (graph/exec.c), twice, with the workspace growing
 * under the saved values; resumed tells whether the last gradient run
 * resumed.
 */
enum { RESUME_OPS = 24 };

static bool resume_session(faulty *f, float *vals, bool *resumed)
{
    outcome o;
    memset(&o, 0, sizeof o);
    *resumed = false;
    nb_graph *g = nb_graph_new_with_allocator(faulty_alloc, f);
    if (!g) {
        return false;
    }
    nb_node *p, *x, *s, *loss, *wrt[2], *grads[2] = { NULL, NULL };
    BUILD(&o, g, p, nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.9)));
    BUILD(&o, g, x, nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.5)));
    BUILD(&o, g, s, nb_scalar(g, NB_DTYPE_F32, 0));
    nb_node *v = x, *m, *q;
    for (int i = 0; i < RESUME_OPS && v && s; i++) {
        BUILD(&o, g, m, nb_mul(g, v, p));
        BUILD(&o, g, v, nb_tanh(g, m));
        BUILD(&o, g, q, nb_sigmoid(g, v));
        BUILD(&o, g, s, nb_add(g, s, q));
    }
    loss = s;
    bool ok = nb_graph_status(g) == NB_OK;
    nb_status st = ok ? nb_graph_run(g, 1, &loss) : NB_ERR_NOMEM;
    note(&o, g, st, "forward run");
    ok = st == NB_OK;
    wrt[0] = p;
    wrt[1] = x;
    if (ok) {
        st = nb_grad(g, loss, 2, wrt, grads);
        note(&o, g, st, "grad");
        ok = st == NB_OK;
    }
    nb_node *outs[3] = { loss, grads[0], grads[1] };
    for (int run = 0; run < 2 && ok; run++) {
        uint64_t before = g->resumed_runs;
        st = nb_graph_run(g, 3, outs);
        note(&o, g, st, "gradient run");
        ok = st == NB_OK;
        *resumed = ok && g->resumed_runs > before;
        if (ok && run == 0) {
            vals[0] = *(const float *)nb_node_data(loss);
            st = nb_graph_run(g, 1, &loss); /* forward again, for the second resume */
            note(&o, g, st, "forward run");
            ok = st == NB_OK;
        }
    }
    if (ok) {
        vals[1] = *(const float *)nb_node_data(grads[0]);
        vals[2] = *(const float *)nb_node_data(grads[1]);
    }
    nb_graph_free(g);
    return ok;
}

Test(internal_oom, a_resumed_gradient_run_fails_cleanly,
     .description = "a scalar gradient run resuming from the forward's values, each allocation "
                    "failing once, then from k on: an error, or the same bits resumed or not")
{
    float base[3], vals[3];
    bool resumed;
    faulty f = faulty_make(0, false);
    cr_assert(resume_session(&f, base, &resumed));
    cr_assert(resumed, "the failure-free session did not resume");
    size_t total = f.allocs;
    faulty_done(&f);
    size_t ran = 0;
    for (int after = 0; after <= 1; after++) {
        for (size_t k = 1; k <= total + 1; k++) {
            f = faulty_make(k, after);
            if (resume_session(&f, vals, &resumed)) {
                cr_assert_arr_eq(vals, base, sizeof vals, "k=%zu: results differ", k);
                ran++;
            } else {
                cr_assert_gt(f.failures, 0, "k=%zu: an error, no failed allocation", k);
            }
            faulty_done(&f);
        }
    }
    cr_assert_gt(ran, 0);
    cr_log_info("resumed run: %zu allocations", total);
}
