/*
 * tests/test_internal_parallel.c: an optimizer step on two threads (BLIS's
 * thread count, graph/parallel.c) gives the very bits of the same step on
 * one: parameters, optimizer state, loss and gradient norm, for every
 * optimizer, with and without clipping, with parameters large enough to be
 * split between threads and small ones that go whole to one thread.
 */
#define _POSIX_C_SOURCE 200809L /* blis.h uses POSIX threads types */

#include "optim/optim.h"

#include <blis.h>
#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdlib.h>
#include <string.h>

/* Sizes straddling the split threshold and the 4096-element norm blocks. */
static const int64_t SIZES[] = { 100003, 3, 40960, 32767, 1 };
enum { NP = sizeof SIZES / sizeof *SIZES, STEPS = 3 };

typedef struct run {
    nb_graph *g;
    nb_optim *opt;
    nb_node *p[NP];
    double loss, norm;
} run;

/* loss = Σ_i mean(tanh(p_i * c_i)²): every gradient element differs. */
static run run_new(nb_dtype dt, const nb_optim_options *o)
{
    run r = { .g = nb_graph_new() };
    nb_graph *g = r.g;
    nb_node *loss = NULL, *grads[NP];
    for (int i = 0; i < NP; i++) {
        r.p[i] = nb_param(g, dt, NB_SHAPE(SIZES[i]), nb_init_uniform(-1.5, 1.5));
        nb_node *c = nb_param(g, dt, NB_SHAPE(SIZES[i]), nb_init_normal(0, 2));
        nb_node *t = nb_tanh(g, nb_mul(g, r.p[i], c));
        nb_node *term = nb_mean(g, nb_mul(g, t, t));
        loss = loss ? nb_add(g, loss, term) : term;
    }
    nb_grad(g, loss, NP, r.p, grads);
    r.opt = nb_optim_new(g, loss, NP, r.p, grads, o);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    return r;
}

#ifdef NBI_OPENMP
#define THREADS(n) (n)
#else
#define THREADS(n) 1 /* without OpenMP nabla's loops stay on one thread */
#endif

static void run_steps(run *r, int threads)
{
    bli_thread_set_num_threads(threads);
    cr_assert_eq(nbi_threads(), THREADS(threads));
    for (int s = 0; s < STEPS; s++) {
        cr_assert_eq(nb_optim_step(r->opt), NB_OK, "%s", nb_graph_error(r->g));
    }
    r->loss = nb_optim_loss(r->opt);
    r->norm = nb_optim_grad_norm(r->opt);
}

static void expect_same(const run *a, const run *b, const char *what)
{
    cr_expect(memcmp(&a->loss, &b->loss, sizeof a->loss) == 0, "%s: loss %.17g and %.17g", what,
              a->loss, b->loss);
    cr_expect(memcmp(&a->norm, &b->norm, sizeof a->norm) == 0, "%s: norm %.17g and %.17g", what,
              a->norm, b->norm);
    for (int i = 0; i < NP; i++) {
        size_t bytes = nb_node_size(a->p[i]) * nb_dtype_size(nb_node_dtype(a->p[i]));
        cr_expect(memcmp(nb_node_data(a->p[i]), nb_node_data(b->p[i]), bytes) == 0,
                  "%s: parameter %d (%lld elements) differs", what, i, (long long)SIZES[i]);
    }
    const nb_optim *x = a->opt, *y = b->opt;
    cr_expect(x->state_bytes == y->state_bytes &&
                  (!x->state_bytes || memcmp(x->state, y->state, x->state_bytes) == 0),
              "%s: optimizer state differs", what);
}

static void check(nb_optim_kind kind, double clip, nb_dtype dt)
{
    nb_optim_options o = nb_optim_defaults(kind);
    o.lr = 0.05;
    o.momentum = kind == NB_OPTIM_SGD || kind == NB_OPTIM_RMSPROP ? 0.9 : 0;
    o.weight_decay = 1e-3;
    o.clip_norm = clip;
    run one = run_new(dt, &o), two = run_new(dt, &o);
    run_steps(&one, 1);
    run_steps(&two, 2);
    char what[64];
    snprintf(what, sizeof what, "%s, clip %g, %s", one.opt->rule->name, clip, nb_dtype_name(dt));
    expect_same(&one, &two, what);
    cr_expect(isfinite(one.loss) && one.loss > 0);
    if (clip > 0) {
        cr_expect_gt(one.norm, clip, "%s: the clipping must have acted", what);
    }
    nb_optim_free(one.opt);
    nb_optim_free(two.opt);
    nb_graph_free(one.g);
    nb_graph_free(two.g);
}

Test(parallel, the_thread_count_follows_blis)
{
    bli_thread_set_num_threads(1);
    cr_expect_eq(nbi_threads(), 1);
    bli_thread_set_num_threads(2);
    cr_expect_eq(nbi_threads(), THREADS(2));
}

Test(parallel, sgd_two_threads_same_bits)
{
    check(NB_OPTIM_SGD, 0, NB_DTYPE_F32);
    check(NB_OPTIM_SGD, 1e-3, NB_DTYPE_F64);
}

Test(parallel, adagrad_two_threads_same_bits)
{
    check(NB_OPTIM_ADAGRAD, 0, NB_DTYPE_F64);
}

Test(parallel, rmsprop_two_threads_same_bits)
{
    check(NB_OPTIM_RMSPROP, 1e-3, NB_DTYPE_F32);
}

Test(parallel, adam_two_threads_same_bits)
{
    check(NB_OPTIM_ADAM, 0, NB_DTYPE_F32);
    check(NB_OPTIM_ADAMW, 1e-3, NB_DTYPE_F32);
}

/*
 * Elementwise ops large enough to be split between threads: unary, binary of
 * equal shapes, and broadcasts that split an outer level (a bias over rows,
 * a column against a row, a stack against a matrix). Two threads must give
 * the very bits of one, and every element must be written.
 */
Test(parallel, elementwise_ops_two_threads_same_bits)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_param(g, NB_DTYPE_F32, NB_SHAPE(3, 40001), nb_init_uniform(-3, 3));
    nb_node *row = nb_param(g, NB_DTYPE_F32, NB_SHAPE(40001), nb_init_uniform(-3, 3));
    nb_node *col = nb_param(g, NB_DTYPE_F64, NB_SHAPE(257, 1), nb_init_uniform(-3, 3));
    nb_node *line = nb_param(g, NB_DTYPE_F64, NB_SHAPE(1, 255), nb_init_uniform(-3, 3));
    nb_node *stack = nb_param(g, NB_DTYPE_F32, NB_SHAPE(5, 1, 7000), nb_init_uniform(-3, 3));
    nb_node *mat = nb_param(g, NB_DTYPE_F32, NB_SHAPE(3, 7000), nb_init_uniform(-3, 3));
    nb_node *outs[] = {
        nb_tanh(g, a),             /* unary, 120,003 elements */
        nb_relu(g, row),           /* unary, below the threshold: one thread */
        nb_mul(g, a, a),           /* equal shapes: the one level is split */
        nb_add(g, a, row),         /* a bias over 3 rows */
        nb_sub(g, col, line),      /* [257,1] - [1,255]: 65,535 elements over 257 rows */
        nb_div(g, stack, mat),     /* [5,1,7000] / [3,7000]: [5,3,7000] */
        nb_sigmoid_grad(g, a, a),  /* a fused gradient kernel */
        nb_exp(g, nb_neg(g, mat)), /* below the threshold */
    };
    enum { NO = sizeof outs / sizeof *outs };
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    void *first[NO];
    for (int t = 1; t <= 2; t++) {
        bli_thread_set_num_threads(t);
        for (int i = 0; i < NO; i++) { /* run each alone: nothing shared between them */
            size_t bytes = nb_node_size(outs[i]) * nb_dtype_size(nb_node_dtype(outs[i]));
            cr_assert_eq(nb_graph_run(g, 1, &outs[i]), NB_OK, "%s", nb_graph_error(g));
            if (t == 1) {
                first[i] = malloc(bytes);
                memcpy(first[i], nb_node_data(outs[i]), bytes);
            } else {
                cr_expect(memcmp(first[i], nb_node_data(outs[i]), bytes) == 0,
                          "output %d (%s) differs on two threads", i, nb_node_op_name(outs[i]));
                free(first[i]);
            }
        }
    }
    /* spot checks against the definitions, so a part left unwritten cannot pass */
    cr_assert_eq(nb_graph_run(g, NO, outs), NB_OK, "%s", nb_graph_error(g));
    const float *av = nb_node_data(a), *rv = nb_node_data(row), *sum = nb_node_data(outs[3]);
    for (size_t i = 0; i < 3 * 40001; i += 997) {
        cr_assert_eq(sum[i], av[i] + rv[i % 40001], "a + row at %zu", i);
    }
    cr_assert_eq(sum[3 * 40001 - 1], av[3 * 40001 - 1] + rv[40000]);
    const double *cv = nb_node_data(col), *lv = nb_node_data(line), *diff = nb_node_data(outs[4]);
    for (size_t i = 0; i < 257; i++) {
        for (size_t j = 0; j < 255; j += 31) {
            cr_assert_eq(diff[i * 255 + j], cv[i] - lv[j], "col - line at %zu,%zu", i, j);
        }
    }
    const float *sv = nb_node_data(stack), *mv = nb_node_data(mat), *q = nb_node_data(outs[5]);
    for (size_t s = 0; s < 5; s++) {
        for (size_t r = 0; r < 3; r++) {
            for (size_t c = 0; c < 7000; c += 499) {
                cr_assert_eq(q[(s * 3 + r) * 7000 + c], sv[s * 7000 + c] / mv[r * 7000 + c]);
            }
        }
    }
    nb_graph_free(g);
}
