/*
 * tests/test_internal_exec_scalar.c: the executor's scalar steps (graph/exec.c).
 * Steps of f32 scalars run through their op's scalar_f32 on workspace
 * offsets, their leaves copied to slots each run, and set a node's data only
 * when something reads it there. These tests hold them to the kernels' bits
 * (the same graph on shape [1] tensors, and on the general path that value
 * checking takes), and check what they must not lose: new input and
 * parameter values on every run, values handed to tensor kernels and back,
 * kept and NB_RUN_KEEP_ALL values, the after_step hook, views.
 */
#include "graph/internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <string.h>

enum { N_OPS = 15 };

/* One output per op with a scalar_f32, from inputs x and w of rank 0 or shape [1]. */
static void build_all(nb_graph *g, int rank, nb_node **x, nb_node **w, nb_node **out)
{
    const int64_t one[1] = { 1 };
    *x = nb_input(g, NB_DTYPE_F32, rank, rank ? one : NULL);
    *w = nb_param(g, NB_DTYPE_F32, rank, rank ? one : NULL, nb_init_constant(0.75));
    nb_node *a = *x, *b = *w;
    nb_node *y = nb_tanh(g, a), *s = nb_sigmoid(g, a);
    nb_node *o[N_OPS] = {
        nb_add(g, a, b),
        nb_sub(g, a, b),
        nb_mul(g, a, b),
        nb_div(g, a, b),
        nb_neg(g, a),
        nb_exp(g, a),
        nb_abs(g, a),
        y,
        s,
        nb_relu(g, a),
        nb_sign(g, a),
        nb_step(g, a),
        nb_sigmoid_grad(g, s, b),
        nb_tanh_grad(g, y, b),
        nb_relu_grad(g, nb_relu(g, a), b),
    };
    memcpy(out, o, sizeof o);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

static void run_all(nb_graph *g, nb_node *x, float xv, nb_node **out, int flags, float *res)
{
    cr_assert_eq(nb_node_write(g, x, &xv, 1), NB_OK);
    cr_assert_eq(nb_graph_run_ex(g, N_OPS, out, flags), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < N_OPS; i++) {
        res[i] = *(const float *)nb_node_data(out[i]);
    }
}

Test(exec_scalar, scalar_steps_give_the_kernels_bits)
{
    nb_graph *gs = nb_graph_new(), *gt = nb_graph_new();
    nb_node *xs, *ws, *xt, *wt, *os[N_OPS], *ot[N_OPS];
    build_all(gs, 0, &xs, &ws, os);
    build_all(gt, 1, &xt, &wt, ot);
    for (int i = 0; i < N_OPS; i++) {
        cr_assert(gs->meta[os[i]->id].flags & NBI_M_SCALAR, "output %d runs as a scalar step", i);
        cr_assert(!(gt->meta[ot[i]->id].flags & NBI_M_SCALAR));
    }
    const float xv[] = { -3.25f, -1.0f, -1e-3f, 0.0f, 1e-7f, 0.5f, 2.0f, 9.0f, 40.0f };
    for (size_t k = 0; k < sizeof xv / sizeof *xv; k++) {
        float a[N_OPS], b[N_OPS], c[N_OPS];
        run_all(gs, xs, xv[k], os, 0, a);
        run_all(gt, xt, xv[k], ot, 0, b);
        /* value checking runs every step through its kernel */
        run_all(gs, xs, xv[k], os, NB_RUN_CHECK_FINITE, c);
        for (int i = 0; i < N_OPS; i++) {
            cr_assert(memcmp(&a[i], &b[i], sizeof a[i]) == 0, "op %d at x = %g: %.9g vs %.9g", i,
                      (double)xv[k], (double)a[i], (double)b[i]);
            cr_assert(memcmp(&a[i], &c[i], sizeof a[i]) == 0, "op %d at x = %g, checked", i,
                      (double)xv[k]);
        }
    }
    nb_graph_free(gs);
    nb_graph_free(gt);
}

Test(exec_scalar, new_input_and_parameter_values_are_read_on_every_run)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, 0, NULL);
    nb_node *p = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(2));
    nb_node *y = nb_add(g, nb_mul(g, x, p), p); /* x p + p */
    float v = 3;
    nb_node_write(g, x, &v, 1);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_eq(*(const float *)nb_node_data(y), 8.0f);
    v = 5;
    nb_node_write(g, x, &v, 1);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_eq(*(const float *)nb_node_data(y), 12.0f);
    v = -1;
    nb_node_write(g, p, &v, 1);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_eq(*(const float *)nb_node_data(y), -6.0f);
    /* optimizers write a parameter's data in place, with no call the executor sees */
    *(float *)nb_node_data(p) = 0.5f;
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_eq(*(const float *)nb_node_data(y), 3.0f);
    nb_graph_free(g);
}

Test(exec_scalar, scalar_values_feed_tensor_kernels_and_back)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_scalar(g, NB_DTYPE_F32, 0.5), *b = nb_scalar(g, NB_DTYPE_F32, 4);
    nb_node *v = nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), nb_init_constant(0.25));
    nb_node *s = nb_mul(g, a, b);                          /* scalar step: 2 */
    nb_node *t = nb_mul(g, v, s);                          /* a kernel reads s: [0.5, 0.5, 0.5] */
    nb_node *r = nb_sum(g, t);                             /* a kernel: 1.5 */
    nb_node *z = nb_add(g, nb_mul(g, r, r), nb_neg(g, s)); /* scalar steps on r and s: 0.25 */
    cr_assert(g->meta[z->id].flags & NBI_M_SCALAR);
    cr_assert(!(g->meta[t->id].flags & NBI_M_SCALAR));
    nb_node *outs[2] = { z, t };
    cr_assert_eq(nb_graph_run(g, 2, outs), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(*(const float *)nb_node_data(z), 0.25f);
    cr_assert_eq(((const float *)nb_node_data(t))[2], 0.5f);
    cr_assert_null(nb_node_data(s), "an unrequested value is not readable");
    nb_graph_free(g);
}

/* A chain x_{i+1} = tanh(x_i * p) + sigmoid(x_i), its values and its nodes. */
enum { CHAIN = 50 };

typedef struct chain {
    nb_graph *g;
    nb_node *p, *x0, *node[3 * CHAIN], *last;
} chain;

static chain make_chain(int rank)
{
    const int64_t one[1] = { 1 };
    chain c = { .g = nb_graph_new() };
    c.p = nb_param(c.g, NB_DTYPE_F32, rank, rank ? one : NULL, nb_init_constant(1.25));
    c.x0 = nb_param(c.g, NB_DTYPE_F32, rank, rank ? one : NULL, nb_init_constant(0.3));
    nb_node *x = c.x0;
    for (int i = 0; i < CHAIN; i++) {
        nb_node *m = nb_mul(c.g, x, c.p), *t = nb_tanh(c.g, m);
        x = nb_add(c.g, t, nb_sigmoid(c.g, x));
        c.node[3 * i] = m;
        c.node[3 * i + 1] = t;
        c.node[3 * i + 2] = x;
    }
    c.last = x;
    return c;
}

static float value(const nb_node *n)
{
    const float *d = nb_node_data(n);
    cr_assert_not_null(d);
    return *d;
}

Test(exec_scalar, keep_all_makes_every_scalar_value_readable)
{
    chain s = make_chain(0), t = make_chain(1);
    cr_assert_eq(nb_graph_run_ex(s.g, 1, &s.last, NB_RUN_KEEP_ALL), NB_OK);
    cr_assert_eq(nb_graph_run_ex(t.g, 1, &t.last, NB_RUN_KEEP_ALL), NB_OK);
    for (int i = 0; i < 3 * CHAIN; i++) {
        float a = value(s.node[i]), b = value(t.node[i]);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "node %d: %.9g vs %.9g", i, (double)a, (double)b);
    }
    /* without it, only the output */
    cr_assert_eq(nb_graph_run(s.g, 1, &s.last), NB_OK);
    cr_assert_null(nb_node_data(s.node[0]));
    cr_assert_float_eq(value(s.last), value(t.last), 0);
    nb_graph_free(s.g);
    nb_graph_free(t.g);
}

typedef struct seen {
    uint32_t n;
    float v[4 * CHAIN + 8];
    uint32_t stop_at; /* fail on this call (1-based), 0 never */
} seen;

static nb_status record(void *ctx, nb_node *v)
{
    seen *s = ctx;
    s->v[s->n++] = *(const float *)v->data;
    return s->n == s->stop_at ? NB_ERR_VALUE : NB_OK;
}

Test(exec_scalar, after_step_sees_every_scalar_value)
{
    chain s = make_chain(0), t = make_chain(1);
    seen a = { 0 }, b = { 0 };
    s.g->after_step = record;
    s.g->after_step_ctx = &a;
    t.g->after_step = record;
    t.g->after_step_ctx = &b;
    cr_assert_eq(nb_graph_run(s.g, 1, &s.last), NB_OK);
    cr_assert_eq(nb_graph_run(t.g, 1, &t.last), NB_OK);
    cr_assert_eq(a.n, 4 * CHAIN, "one call per step (sigmoid too)");
    cr_assert_eq(a.n, b.n);
    cr_assert(memcmp(a.v, b.v, a.n * sizeof *a.v) == 0);
    /* a hook's error stops the run with that status */
    a.n = 0;
    a.stop_at = 7;
    cr_assert_eq(nb_graph_run(s.g, 1, &s.last), NB_ERR_VALUE);
    cr_assert_eq(a.n, 7);
    nb_graph_free(s.g);
    nb_graph_free(t.g);
}

Test(exec_scalar, views_of_scalars_are_read_through_their_source)
{
    nb_graph *g = nb_graph_new();
    nb_node *v = nb_param(g, NB_DTYPE_F32, NB_SHAPE(1), nb_init_constant(0.5));
    nb_node *a = nb_reshape(g, v, 0, NULL);                             /* a view of a leaf */
    nb_node *b = nb_mul(g, a, a);                                       /* 0.25 */
    nb_node *c = nb_reshape(g, nb_reshape(g, b, NB_SHAPE(1)), 0, NULL); /* views of a step */
    nb_node *d = nb_add(g, c, a);                                       /* 0.75 */
    nb_node *e = nb_mul(g, d, c);                                       /* 0.1875 */
    cr_assert_eq(nb_graph_run(g, 1, &e), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(value(e), 0.1875f);
    *(float *)nb_node_data(v) = 2;
    cr_assert_eq(nb_graph_run(g, 1, &e), NB_OK);
    cr_assert_eq(value(e), 24.0f); /* (4 + 2) * 4 */
    nb_graph_free(g);
}

Test(exec_scalar, gradients_of_a_scalar_chain_give_the_tensor_bits)
{
    chain s = make_chain(0), t = make_chain(1);
    nb_node *ws[2] = { s.p, s.x0 }, *wt[2] = { t.p, t.x0 }, *gs[3], *gt[3];
    nb_node *loss_t = nb_sum(t.g, t.last); /* nb_grad wants a scalar */
    cr_assert_eq(nb_grad(s.g, s.last, 2, ws, gs), NB_OK);
    cr_assert_eq(nb_grad(t.g, loss_t, 2, wt, gt), NB_OK);
    gs[2] = s.last;
    gt[2] = t.last;
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(nb_graph_run(s.g, 3, gs), NB_OK);
        cr_assert_eq(nb_graph_run(t.g, 3, gt), NB_OK);
        for (int i = 0; i < 3; i++) {
            float a = value(gs[i]), b = value(gt[i]);
            cr_assert(memcmp(&a, &b, sizeof a) == 0, "output %d: %.9g vs %.9g", i, (double)a,
                      (double)b);
        }
        *(float *)nb_node_data(s.p) = 0.8f; /* a second round with a new parameter */
        *(float *)nb_node_data(t.p) = 0.8f;
    }
    nb_graph_free(s.g);
    nb_graph_free(t.g);
}
