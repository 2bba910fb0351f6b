/*
 * tests/test_fuse.c: the executor's fused kernel (graph/fuse.c), white-box.
 * A logistic regression's gradient run (W4's graph: z = X w + b, the BCE
 * loss, dz, Xᵀ dz) is chosen for fusion; its results are the same bits as the
 * plan built with fusion off (BLIS visits the rows in the same chunks), in
 * float32 and float64, on random and on integer-valued data; graphs that must
 * not fuse are not fused; gradient checks pass through the fused path; runs
 * allocate nothing; an optimizer trained fused or not ends at the same bits.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "graph/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a logistic regression, as bench W4 builds it ---- */

typedef struct model {
    nb_graph *g;
    nb_node *x, *y, *w, *b, *z, *loss, *grads[2];
} model;

/* sin-based data, or integers in -3..3 (every product and sum exact in float64) */
static double datum(size_t i, bool integer)
{
    return integer ? (double)((int)(i * 7 % 13) - 6) / 2.0 : sin(0.37 * (double)i + 0.1);
}

static void write_all(nb_graph *g, nb_node *n, bool integer, size_t salt)
{
    size_t c = nb_node_size(n);
    double *v = malloc(c * sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < c; i++) {
        v[i] = datum(i + salt, integer);
    }
    nb_status s = n->dtype == NB_DTYPE_F64 ? nb_node_write(g, n, v, c) : NB_OK;
    if (n->dtype == NB_DTYPE_F32) {
        float *f = malloc(c * sizeof *f);
        cr_assert_not_null(f);
        for (size_t i = 0; i < c; i++) {
            f[i] = (float)v[i];
        }
        s = nb_node_write(g, n, f, c);
        free(f);
    }
    cr_assert_eq(s, NB_OK, "%s", nb_graph_error(g));
    free(v);
}

static model logistic(int dtype, int64_t n, int64_t d, bool fuse, bool integer)
{
    model m;
    m.g = nb_graph_new();
    cr_assert_not_null(m.g);
    m.g->no_fuse = !fuse;
    m.x = nb_input(m.g, dtype, NB_SHAPE(n, d));
    m.y = nb_input(m.g, dtype, NB_SHAPE(n, 1));
    m.w = nb_param(m.g, dtype, NB_SHAPE(d, 1), nb_init_constant(0));
    m.b = nb_param(m.g, dtype, 0, NULL, nb_init_constant(0));
    m.z = nb_add(m.g, nb_matmul(m.g, m.x, m.w), m.b);
    m.loss = nb_bce_logits(m.g, m.z, m.y);
    nb_node *wrt[2] = { m.w, m.b };
    cr_assert_eq(nb_grad(m.g, m.loss, 2, wrt, m.grads), NB_OK, "%s", nb_graph_error(m.g));
    write_all(m.g, m.x, integer, 0);
    write_all(m.g, m.w, integer, 5);
    write_all(m.g, m.b, integer, 3);
    /* targets 0 or 1 */
    size_t c = (size_t)n;
    double *t = malloc(c * sizeof *t);
    cr_assert_not_null(t);
    for (size_t i = 0; i < c; i++) {
        t[i] = (i * 5 % 7) < 3;
    }
    if (dtype == NB_DTYPE_F64) {
        cr_assert_eq(nb_node_write(m.g, m.y, t, c), NB_OK);
    } else {
        float *f = malloc(c * sizeof *f);
        cr_assert_not_null(f);
        for (size_t i = 0; i < c; i++) {
            f[i] = (float)t[i];
        }
        cr_assert_eq(nb_node_write(m.g, m.y, f, c), NB_OK);
        free(f);
    }
    free(t);
    return m;
}

static void run_ok(nb_graph *g, size_t n, nb_node *const *outs)
{
    nb_status s = nb_graph_run(g, n, outs);
    cr_assert_eq(s, NB_OK, "run: %s (%s)", nb_status_string(s), nb_graph_error(g));
}

static bool same_bits(const nb_node *a, const nb_node *b)
{
    return nbi_node_bytes(a) == nbi_node_bytes(b) &&
           memcmp(a->data, b->data, nbi_node_bytes(a)) == 0;
}

/* Runs loss, z and both gradients fused and unfused and compares every bit. */
static void compare_plans(int dtype, int64_t n, int64_t d, bool integer)
{
    model f = logistic(dtype, n, d, true, integer), u = logistic(dtype, n, d, false, integer);
    nb_node *fo[4] = { f.loss, f.grads[0], f.grads[1], f.z };
    nb_node *uo[4] = { u.loss, u.grads[0], u.grads[1], u.z };
    run_ok(f.g, 4, fo);
    run_ok(u.g, 4, uo);
    cr_assert_eq(f.g->fused_runs, 1, "the fused plan was not chosen (n=%lld)", (long long)n);
    cr_assert_eq(u.g->fused_runs, 0);
    for (int i = 0; i < 4; i++) {
        cr_assert(same_bits(fo[i], uo[i]), "output %d differs from the unfused plan (n=%lld)", i,
                  (long long)n);
    }
    if (integer) {
        /* exact: dw = Xᵀ (σ(z) - t) / n has no closed form, but z does */
        double *z = malloc((size_t)n * sizeof *z);
        cr_assert_not_null(z);
        cr_assert_eq(nb_node_read_f64(f.g, f.z, z, (size_t)n), NB_OK);
        for (int64_t i = 0; i < n; i++) {
            double e = datum(3, true);
            for (int64_t k = 0; k < d; k++) {
                e += datum((size_t)(i * d + k), true) * datum((size_t)k + 5, true);
            }
            cr_assert_eq(z[i], e, "z[%lld] = %g, expected %g", (long long)i, z[i], e);
        }
        free(z);
    }
    /* a second run reuses the plan, still fused, same bits */
    run_ok(f.g, 4, fo);
    cr_assert_eq(f.g->fused_runs, 2);
    for (int i = 0; i < 4; i++) {
        cr_assert(same_bits(fo[i], uo[i]));
    }
    nb_graph_free(f.g);
    nb_graph_free(u.g);
}

Test(fuse, w4_graph_is_fused_and_bit_identical_f32,
     .description = "W4's shape (1797x64), one block, and 2-3 blocks of 2048 rows (512 KB)")
{
    int64_t ns[] = { 1797, 1, 7, 8, 121, 2047, 2048, 2049, 4500 };
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        compare_plans(NB_DTYPE_F32, ns[i], 64, false);
    }
    compare_plans(NB_DTYPE_F32, 300, 1, false);
    compare_plans(NB_DTYPE_F32, 300, 13, false);
}

Test(fuse, w4_graph_is_fused_and_bit_identical_f64)
{
    int64_t ns[] = { 1797, 1, 9, 65, 1024, 1025, 2100 }; /* blocks of 1024 rows */
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        compare_plans(NB_DTYPE_F64, ns[i], 64, false);
    }
    compare_plans(NB_DTYPE_F64, 250, 3, false);
}

Test(fuse, integer_valued_f64_is_exact)
{
    compare_plans(NB_DTYPE_F64, 1797, 64, true);
    compare_plans(NB_DTYPE_F64, 100, 5, true);
    compare_plans(NB_DTYPE_F64, 20000, 5, true); /* 2 blocks of 13104 rows */
}

/* Counts the allocator's calls. */
static void *counting(void *user, void *ptr, size_t old_size, size_t new_size)
{
    (void)old_size;
    ++*(size_t *)user;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

Test(fuse, runs_make_no_allocator_call)
{
    size_t calls = 0;
    nb_graph *g = nb_graph_new_with_allocator(counting, &calls);
    cr_assert_not_null(g);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(200, 16));
    nb_node *y = nb_input(g, NB_DTYPE_F64, NB_SHAPE(200, 1));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(16, 1), nb_init_normal(0, 0.3));
    nb_node *loss = nb_bce_logits(g, nb_matmul(g, x, w), y), *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK);
    write_all(g, x, false, 1);
    nb_node *outs[2] = { loss, dw };
    run_ok(g, 2, outs);
    size_t before = calls;
    for (int i = 0; i < 5; i++) {
        run_ok(g, 2, outs);
    }
    cr_assert_eq(calls, before, "%zu allocator calls in 5 runs", calls - before);
    cr_assert_eq(g->fused_runs, 6);
    nb_graph_free(g);
}

static void train(int64_t n)
{
    model m[2] = { logistic(NB_DTYPE_F32, n, 64, true, false),
                   logistic(NB_DTYPE_F32, n, 64, false, false) };
    nb_optim *o[2];
    for (int i = 0; i < 2; i++) {
        nb_optim_options oo = nb_optim_defaults(NB_OPTIM_SGD);
        oo.lr = 0.1;
        nb_node *p[2] = { m[i].w, m[i].b };
        o[i] = nb_optim_new(m[i].g, m[i].loss, 2, p, m[i].grads, &oo);
        cr_assert_not_null(o[i], "%s", nb_graph_error(m[i].g));
        for (int k = 0; k < 50; k++) {
            cr_assert_eq(nb_optim_step(o[i]), NB_OK, "%s", nb_graph_error(m[i].g));
        }
    }
    cr_assert_eq(m[0].g->fused_runs, 50);
    cr_assert_eq(m[1].g->fused_runs, 0);
    cr_assert(same_bits(m[0].w, m[1].w));
    cr_assert(same_bits(m[0].b, m[1].b));
    cr_assert_eq(nb_optim_loss(o[0]), nb_optim_loss(o[1]));
    for (int i = 0; i < 2; i++) {
        nb_optim_free(o[i]);
        nb_graph_free(m[i].g);
    }
}

Test(fuse, sgd_training_ends_at_the_same_bits, .description = "W4's shape, and three blocks")
{
    train(1797);
    train(4500);
}

Test(fuse, gradcheck_passes_through_the_fused_path)
{
    model m = logistic(NB_DTYPE_F64, 150, 6, true, false);
    nb_node *wrt[2] = { m.w, m.b };
    nb_gradcheck_result r[2];
    cr_assert_eq(nb_gradcheck(m.g, m.loss, 2, wrt, NULL, r), NB_OK, "%s", nb_graph_error(m.g));
    cr_assert(r[0].passed && r[1].passed, "max abs err %g, %g", r[0].max_abs_err, r[1].max_abs_err);
    cr_assert_gt(m.g->fused_runs, 0, "gradcheck's gradient run was not fused");
    nb_graph_free(m.g);
}

Test(fuse, intermediates_asked_for_are_whole)
{
    /* sigmoid(z) is inside the region; asked for, it holds every row */
    model f = logistic(NB_DTYPE_F32, 777, 64, true, false);
    model u = logistic(NB_DTYPE_F32, 777, 64, false, false);
    nb_node *sf = NULL, *su = NULL;
    for (size_t id = 0; id < nb_graph_node_count(f.g); id++) {
        if (nb_graph_node(f.g, id)->op == NBI_OP_SIGMOID) {
            sf = nb_graph_node(f.g, id);
            su = nb_graph_node(u.g, id);
        }
    }
    cr_assert_not_null(sf);
    nb_node *fo[2] = { f.grads[0], sf }, *uo[2] = { u.grads[0], su };
    run_ok(f.g, 2, fo);
    run_ok(u.g, 2, uo);
    cr_assert_eq(f.g->fused_runs, 1);
    cr_assert(same_bits(sf, su));
    cr_assert(same_bits(f.grads[0], u.grads[0]));
    nb_graph_free(f.g);
    nb_graph_free(u.g);
}

Test(fuse, a_loss_after_the_sigmoid_it_shares_with_is_placed_once)
{
    /*
     * sigmoid(z) built before the loss: the loss moves up to it (both read
     * e^-|z|), and is not run a second time where it was
     */
    nb_graph *g[2];
    double r[2][2 + 8];
    for (int i = 0; i < 2; i++) {
        g[i] = nb_graph_new();
        g[i]->no_fuse = i == 1;
        nb_node *x = nb_input(g[i], NB_DTYPE_F64, NB_SHAPE(300, 8));
        nb_node *y = nb_input(g[i], NB_DTYPE_F64, NB_SHAPE(300, 1));
        nb_node *w = nb_param(g[i], NB_DTYPE_F64, NB_SHAPE(8, 1), nb_init_constant(0.1));
        write_all(g[i], x, false, 1);
        write_all(g[i], y, false, 2);
        nb_node *z = nb_matmul(g[i], x, w), *s = nb_sigmoid(g[i], z);
        nb_node *loss = nb_add(g[i], nb_bce_logits(g[i], z, y), nb_sum(g[i], s)), *dw;
        cr_assert_eq(nb_grad(g[i], loss, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g[i]));
        nb_node *outs[2] = { loss, dw };
        run_ok(g[i], 2, outs);
        r[i][0] = *(const double *)nb_node_data(loss);
        memcpy(r[i] + 1, nb_node_data(dw), 8 * sizeof(double));
        r[i][9] = (double)g[i]->fused_runs;
    }
    cr_assert_eq(r[0][9], 1);
    cr_assert_eq(r[1][9], 0);
    cr_assert_arr_eq(r[0], r[1], 9 * sizeof(double));
    nb_graph_free(g[0]);
    nb_graph_free(g[1]);
}

Test(fuse, a_view_as_the_target_is_read_through_its_source)
{
    /* the targets as a reshape of a [n] input: a view, its rows in the input's storage */
    nb_graph *g[2];
    double r[2][1 + 8];
    for (int i = 0; i < 2; i++) {
        g[i] = nb_graph_new();
        g[i]->no_fuse = i == 1;
        nb_node *x = nb_input(g[i], NB_DTYPE_F64, NB_SHAPE(500, 8));
        nb_node *t = nb_input(g[i], NB_DTYPE_F64, NB_SHAPE(500));
        nb_node *w = nb_param(g[i], NB_DTYPE_F64, NB_SHAPE(8, 1), nb_init_constant(0.1));
        write_all(g[i], x, false, 1);
        write_all(g[i], t, false, 2);
        nb_node *d = nb_sub(g[i], nb_tanh(g[i], nb_matmul(g[i], x, w)),
                            nb_reshape(g[i], nb_exp(g[i], t), 2, (int64_t[]){ 500, 1 }));
        nb_node *loss = nb_sum(g[i], nb_mul(g[i], d, d)), *dw;
        cr_assert_eq(nb_grad(g[i], loss, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g[i]));
        nb_node *outs[2] = { loss, dw };
        run_ok(g[i], 2, outs);
        r[i][0] = *(const double *)nb_node_data(loss);
        memcpy(r[i] + 1, nb_node_data(dw), 8 * sizeof(double));
    }
    cr_assert_eq(g[0]->fused_runs, 1);
    cr_assert_eq(g[1]->fused_runs, 0);
    cr_assert_arr_eq(r[0], r[1], sizeof r[0]);
    nb_graph_free(g[0]);
    nb_graph_free(g[1]);
}

/* ---- what must not fuse ---- */

/* Runs y's gradient with respect to w and says whether the run was fused. */
static bool fused(nb_graph *g, nb_node *loss, nb_node *w, int flags)
{
    nb_node *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    nb_node *outs[2] = { loss, dw };
    uint64_t before = g->fused_runs;
    nb_status s = nb_graph_run_ex(g, 2, outs, flags);
    cr_assert_eq(s, NB_OK, "%s", nb_graph_error(g));
    return g->fused_runs > before;
}

typedef struct lin {
    nb_graph *g;
    nb_node *x, *w, *z;
} lin;

static lin linear(int64_t n, int64_t d)
{
    lin l;
    l.g = nb_graph_new();
    cr_assert_not_null(l.g);
    l.x = nb_input(l.g, NB_DTYPE_F64, NB_SHAPE(n, d));
    l.w = nb_param(l.g, NB_DTYPE_F64, NB_SHAPE(d, 1), nb_init_normal(0, 0.5));
    l.z = nb_matmul(l.g, l.x, l.w);
    write_all(l.g, l.x, false, 2);
    return l;
}

Test(fuse, a_plain_chain_fuses)
{
    /* the control for the tests below: sum(tanh(X w) * 3) */
    lin l = linear(100, 8);
    nb_node *loss = nb_sum(l.g, nb_mul(l.g, nb_tanh(l.g, l.z), nb_scalar(l.g, NB_DTYPE_F64, 3)));
    cr_assert(fused(l.g, loss, l.w, 0));
    nb_graph_free(l.g);
}

Test(fuse, a_reduction_over_rows_in_the_chain_does_not_fuse)
{
    /* dz depends on every row of z through the mean: not row-local */
    lin l = linear(100, 8);
    nb_node *c = nb_sub(l.g, l.z, nb_mean(l.g, l.z));
    nb_node *loss = nb_sum(l.g, nb_mul(l.g, c, c));
    cr_assert_not(fused(l.g, loss, l.w, 0));
    nb_graph_free(l.g);
}

Test(fuse, an_op_across_rows_does_not_fuse)
{
    /* softmax over the rows: each element reads them all */
    lin l = linear(100, 8);
    nb_node *t = nb_input(l.g, NB_DTYPE_F64, NB_SHAPE(100, 1));
    write_all(l.g, t, false, 9);
    nb_node *loss = nb_sum(l.g, nb_mul(l.g, nb_softmax(l.g, l.z, 0), t));
    cr_assert_not(fused(l.g, loss, l.w, 0));
    nb_graph_free(l.g);
}

Test(fuse, broadcasting_along_rows_does_not_fuse)
{
    /* z [n,1] times a row [1,4] makes [n,4]: the chain leaves z's shape */
    lin l = linear(100, 8);
    nb_node *r = nb_input(l.g, NB_DTYPE_F64, NB_SHAPE(1, 4));
    write_all(l.g, r, false, 4);
    nb_node *loss = nb_sum(l.g, nb_tanh(l.g, nb_mul(l.g, l.z, r)));
    cr_assert_not(fused(l.g, loss, l.w, 0));
    nb_graph_free(l.g);
}

Test(fuse, another_matrix_does_not_fuse)
{
    /* w's gradient is X2ᵀ dz, X2 not the matrix of the first product */
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(50, 4));
    nb_node *x2 = nb_input(g, NB_DTYPE_F64, NB_SHAPE(50, 4));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4, 1), nb_init_normal(0, 0.5));
    nb_node *v = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4, 1), nb_init_normal(0, 0.5));
    write_all(g, x, false, 1);
    write_all(g, x2, false, 2);
    /* sum(tanh(X w) * (X2 v)): v's gradient X2ᵀ tanh(X w) starts from X w */
    nb_node *loss = nb_sum(g, nb_mul(g, nb_tanh(g, nb_matmul(g, x, w)), nb_matmul(g, x2, v)));
    cr_assert_not(fused(g, loss, v, 0));
    nb_graph_free(g);
}

Test(fuse, checked_runs_go_step_by_step)
{
    /* NB_RUN_CHECK_FINITE checks each step's output, so every step runs alone */
    lin l = linear(100, 8);
    nb_node *loss = nb_sum(l.g, nb_sigmoid(l.g, l.z));
    cr_assert_not(fused(l.g, loss, l.w, NB_RUN_CHECK_FINITE));
    cr_assert(fused(l.g, loss, l.w, 0));
    nb_graph_free(l.g);
}
