/*
 * tests/test_internal_exec_resume.c: resuming from saved values (graph/exec.c).
 * A run of f32 scalar steps whose outputs are not gradients saves its values;
 * the next run resumes from them, computing only what they do not cover,
 * when every leaf still holds the bits the saving run read. These tests hold
 * resumed runs to the bits of runs that compute everything, and check what
 * must stop a resume: a leaf written in place, checked, NB_RUN_KEEP_ALL and
 * hooked runs, another run in between; and what a resumed run must still do:
 * set the data of the base's nodes that kernels or the caller read, grow the
 * workspace without losing them, and warn of inputs never written.
 */
#include "graph/internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdint.h>
#include <string.h>

static float value(const nb_node *n)
{
    return *(const float *)nb_node_data(n);
}

static void same_bits(float a, float b, const char *what, int i)
{
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "%s %d: %.9g vs %.9g", what, i, (double)a, (double)b);
}

/* W2's pattern, short: x = tanh(x * p[i % 3]), s += sigmoid(x). */
typedef struct chain {
    nb_graph *g;
    nb_node *p[3], *x0, *loss, *grads[4];
} chain;

static chain make_chain(int n)
{
    chain c = { .g = nb_graph_new() };
    for (int j = 0; j < 3; j++) {
        c.p[j] = nb_param(c.g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.9 + j / 10.0));
    }
    c.x0 = nb_param(c.g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.5));
    nb_node *x = c.x0, *s = nb_scalar(c.g, NB_DTYPE_F32, 0);
    for (int i = 0; i < n; i++) {
        x = nb_tanh(c.g, nb_mul(c.g, x, c.p[i % 3]));
        s = nb_add(c.g, s, nb_sigmoid(c.g, x));
    }
    c.loss = s;
    cr_assert_eq(nb_graph_status(c.g), NB_OK, "%s", nb_graph_error(c.g));
    return c;
}

static void make_grads(chain *c)
{
    nb_node *wrt[4] = { c->p[0], c->p[1], c->p[2], c->x0 };
    cr_assert_eq(nb_grad(c->g, c->loss, 4, wrt, c->grads), NB_OK, "%s", nb_graph_error(c->g));
}

Test(exec_resume, a_gradient_run_after_the_forward_run_resumes_and_gives_the_same_bits)
{
    chain a = make_chain(50), b = make_chain(50);
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    float loss = value(a.loss);
    make_grads(&a);
    make_grads(&b);
    nb_node *oa[5] = { a.loss, a.grads[0], a.grads[1], a.grads[2], a.grads[3] };
    nb_node *ob[5] = { b.loss, b.grads[0], b.grads[1], b.grads[2], b.grads[3] };
    cr_assert_eq(nb_graph_run(a.g, 5, oa), NB_OK, "%s", nb_graph_error(a.g));
    cr_assert_eq(a.g->resumed_runs, 1, "the gradient run did not resume");
    cr_assert_eq(nb_graph_run(b.g, 5, ob), NB_OK); /* no forward run before: computes all */
    cr_assert_eq(b.g->resumed_runs, 0);
    same_bits(value(a.loss), loss, "loss", 0); /* a resumed output is readable */
    for (int i = 0; i < 5; i++) {
        same_bits(value(oa[i]), value(ob[i]), "output", i);
    }
    nb_graph_free(a.g);
    nb_graph_free(b.g);
}

Test(exec_resume, a_leaf_written_in_place_after_the_forward_run_is_seen)
{
    chain a = make_chain(20), b = make_chain(20);
    make_grads(&a);
    make_grads(&b);
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    /* through the pointer, as optimizers write: the executor sees no call */
    *(float *)nb_node_data(a.p[1]) = 1.25f;
    *(float *)nb_node_data(b.p[1]) = 1.25f;
    cr_assert_eq(nb_graph_run(a.g, 4, a.grads), NB_OK);
    cr_assert_eq(a.g->resumed_runs, 0, "resumed from values of the old parameter");
    cr_assert_eq(nb_graph_run(b.g, 4, b.grads), NB_OK);
    for (int i = 0; i < 4; i++) {
        same_bits(value(a.grads[i]), value(b.grads[i]), "gradient", i);
    }
    nb_graph_free(a.g);
    nb_graph_free(b.g);
}

/* leaves are compared bit for bit: a NaN written over a NaN of other bits is a change */
Test(exec_resume, a_leaf_given_other_nan_bits_is_a_change)
{
    chain a = make_chain(5);
    make_grads(&a);
    uint32_t q1 = 0x7fc00001u, q2 = 0x7fc00002u;
    memcpy(nb_node_data(a.x0), &q1, 4);
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    memcpy(nb_node_data(a.x0), &q2, 4);
    cr_assert_eq(nb_graph_run(a.g, 4, a.grads), NB_OK);
    cr_assert_eq(a.g->resumed_runs, 0);
    memcpy(nb_node_data(a.x0), &q2, 4); /* the same bits again: resumes */
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    cr_assert_eq(nb_graph_run(a.g, 4, a.grads), NB_OK);
    cr_assert_eq(a.g->resumed_runs, 1);
    nb_graph_free(a.g);
}

Test(exec_resume, checked_keep_all_hooked_and_intervening_runs_compute_every_step)
{
    chain a = make_chain(10);
    make_grads(&a);
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    cr_assert_eq(nb_graph_run_ex(a.g, 4, a.grads, NB_RUN_CHECK_FINITE), NB_OK);
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    cr_assert_eq(nb_graph_run_ex(a.g, 4, a.grads, NB_RUN_KEEP_ALL), NB_OK);
    cr_assert_eq(a.g->resumed_runs, 0);
    /* a gradient run saves nothing, so a second one does not resume from it */
    cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
    cr_assert_eq(nb_graph_run(a.g, 4, a.grads), NB_OK);
    cr_assert_eq(nb_graph_run(a.g, 4, a.grads), NB_OK);
    cr_assert_eq(a.g->resumed_runs, 1);
    nb_graph_free(a.g);
}

/* SGD on the chain: forward, then gradient (resumed), then the update. */
Test(exec_resume, a_training_loop_resumes_every_step_and_matches_one_combined_run)
{
    chain a = make_chain(30), b = make_chain(30);
    make_grads(&a);
    make_grads(&b);
    nb_node *ob[5] = { b.loss, b.grads[0], b.grads[1], b.grads[2], b.grads[3] };
    for (int step = 0; step < 8; step++) {
        cr_assert_eq(nb_graph_run(a.g, 1, &a.loss), NB_OK);
        float loss = value(a.loss); /* valid until the next run */
        cr_assert_eq(nb_graph_run(a.g, 4, a.grads), NB_OK);
        cr_assert_eq(nb_graph_run(b.g, 5, ob), NB_OK);
        same_bits(loss, value(b.loss), "loss at step", step);
        for (int i = 0; i < 4; i++) {
            same_bits(value(a.grads[i]), value(b.grads[i]), "gradient", i);
            nb_node *w = i < 3 ? a.p[i] : a.x0, *v = i < 3 ? b.p[i] : b.x0;
            *(float *)nb_node_data(w) -= 0.1f * value(a.grads[i]);
            *(float *)nb_node_data(v) -= 0.1f * value(b.grads[i]);
        }
    }
    cr_assert_eq(a.g->resumed_runs, 8);
    cr_assert_eq(b.g->resumed_runs, 0);
    nb_graph_free(a.g);
    nb_graph_free(b.g);
}

/*
 * A tensor kernel reading the base's scalars, and a workspace that grows
 * under them: the resumed run must set their data and keep their bytes.
 */
Test(exec_resume, tensor_kernels_read_the_base_values_after_the_workspace_grows)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.3));
    nb_node *t = nb_tanh(g, x), *u = nb_exp(g, t), *tu[2] = { t, u };
    cr_assert_eq(nb_graph_run(g, 2, tu), NB_OK);
    float tv = value(t), uv = value(u);
    const int64_t big[1] = { 4096 }; /* 16 KiB: the workspace must grow */
    nb_node *v = nb_param(g, NB_DTYPE_F32, 1, big, nb_init_constant(2));
    nb_node *w = nb_mul(g, nb_add(g, v, t), u); /* broadcasts read t and u through their data */
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    nb_node *o[2] = { w, t };
    cr_assert_eq(nb_graph_run(g, 2, o), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(g->resumed_runs, 1);
    same_bits(value(t), tv, "t", 0);
    const float *wv = nb_node_data(w);
    float want = (2 + tv) * uv;
    same_bits(wv[0], want, "w", 0);
    same_bits(wv[4095], want, "w", 4095);
    nb_graph_free(g);
}

Test(exec_resume, a_resumed_run_still_warns_of_an_input_never_written)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, 0, NULL);
    nb_node *w = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(2));
    nb_node *y = nb_mul(g, nb_tanh(g, x), w), *dw; /* dw = tanh(x): x read by the base alone */
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert(strstr(nb_graph_error(g), "never written"), "%s", nb_graph_error(g));
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &dw), NB_OK);
    cr_assert_eq(g->resumed_runs, 1);
    cr_assert(strstr(nb_graph_error(g), "never written"), "%s", nb_graph_error(g));
    nb_graph_free(g);
}

/*
 * Random scalar DAGs and random runs: outputs from the forward nodes and
 * the gradients, leaves written at random in between. Every value must have
 * the bits of the same run on a twin graph whose runs never resume.
 */
static uint64_t rnd_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state % n);
}

enum { N_LEAVES = 4, N_OPS_MAX = 40 };

typedef struct dag {
    nb_graph *g;
    nb_node *v[N_LEAVES + N_OPS_MAX], *grads[N_LEAVES];
    int n;
} dag;

static void build_dag(dag *d, const uint32_t *code, int n_ops)
{
    d->g = nb_graph_new();
    for (int j = 0; j < N_LEAVES; j++) {
        d->v[j] = j == 0 ? nb_input(d->g, NB_DTYPE_F32, 0, NULL)
                         : nb_param(d->g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.4 * j - 0.7));
    }
    float x0 = 0.25f;
    cr_assert_eq(nb_node_write(d->g, d->v[0], &x0, 1), NB_OK);
    d->n = N_LEAVES;
    for (int t = 0; t < n_ops; t++) {
        nb_node *a = d->v[code[3 * t + 1] % (uint32_t)d->n];
        nb_node *b = d->v[code[3 * t + 2] % (uint32_t)d->n];
        nb_node *y;
        switch (code[3 * t] % 6) {
        case 0:
            y = nb_tanh(d->g, a);
            break;
        case 1:
            y = nb_sigmoid(d->g, a);
            break;
        case 2:
            y = nb_mul(d->g, a, b);
            break;
        case 3:
            y = nb_add(d->g, a, b);
            break;
        case 4:
            y = nb_sub(d->g, a, b);
            break;
        default:
            y = nb_neg(d->g, a);
            break;
        }
        d->v[d->n++] = y;
    }
    cr_assert_eq(nb_grad(d->g, d->v[d->n - 1], N_LEAVES - 1, d->v + 1, d->grads), NB_OK, "%s",
                 nb_graph_error(d->g));
}

Test(exec_resume, random_runs_on_random_dags_give_the_bits_of_runs_that_never_resume)
{
    uint64_t resumed = 0;
    for (int trial = 0; trial < 200; trial++) {
        int n_ops = 1 + (int)rnd(N_OPS_MAX);
        uint32_t code[3 * N_OPS_MAX];
        for (int i = 0; i < 3 * n_ops; i++) {
            code[i] = rnd(1u << 30);
        }
        dag a, b;
        build_dag(&a, code, n_ops);
        build_dag(&b, code, n_ops);
        for (int r = 0; r < 12; r++) {
            /* outputs: forward nodes, or gradients (with a forward node at times) */
            nb_node *oa[4], *ob[4];
            int k = 1 + (int)rnd(3);
            bool grads = rnd(2);
            for (int i = 0; i < k; i++) {
                bool gi = grads && (i == 0 || rnd(2));
                uint32_t j = gi ? rnd(N_LEAVES - 1) : rnd((uint32_t)a.n);
                oa[i] = gi ? a.grads[j] : a.v[j];
                ob[i] = gi ? b.grads[j] : b.v[j];
            }
            cr_assert_eq(nb_graph_run(a.g, (size_t)k, oa), NB_OK, "%s", nb_graph_error(a.g));
            cr_assert_eq(nb_graph_run_ex(b.g, (size_t)k, ob, NB_RUN_KEEP_ALL), NB_OK);
            for (int i = 0; i < k; i++) {
                same_bits(value(oa[i]), value(ob[i]), "output", i);
            }
            if (rnd(3) == 0) { /* write a leaf, at times with the bits it holds */
                uint32_t j = rnd(N_LEAVES);
                float x = rnd(2) ? *(const float *)nb_node_data(a.v[j]) : (float)rnd(100) / 50 - 1;
                *(float *)nb_node_data(a.v[j]) = x;
                *(float *)nb_node_data(b.v[j]) = x;
            }
        }
        resumed += a.g->resumed_runs;
        cr_assert_eq(b.g->resumed_runs, 0);
        nb_graph_free(a.g);
        nb_graph_free(b.g);
    }
    cr_assert_gt(resumed, 200, "only %llu runs resumed: the test tests little",
                 (unsigned long long)resumed);
}
