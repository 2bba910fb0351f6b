/*
 * tests/test_exec_memory.c: the executor and its memory plan, through the public
 * API: repeated runs allocate nothing, only what the outputs need runs, buffer
 * reuse never clobbers a live value, views share storage, the plan cache
 * (with evictions) gives correct results, and bad run arguments are refused.
 * Reference values are closed forms computed here in double precision.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <nabla.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* A Lua-style allocator that counts every call and the bytes it holds. */
typedef struct counter {
    size_t calls;
    size_t live;
} counter;

static void *counting_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    counter *c = user;
    c->calls++;
    if (new_size == 0) {
        if (ptr) {
            c->live -= old_size;
        }
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, new_size);
    if (p) {
        c->live += new_size - old_size;
    }
    return p;
}

static void check_ok(nb_graph *g)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

static void run_ok(nb_graph *g, size_t n, nb_node *const *outs)
{
    nb_status s = nb_graph_run(g, n, outs);
    cr_assert_eq(s, NB_OK, "run: %s (%s)", nb_status_string(s), nb_graph_error(g));
}

/* Reads a node's values (any dtype) into a fresh array; the caller frees it. */
static double *values(nb_graph *g, nb_node *n)
{
    size_t count = nb_node_size(n);
    double *v = malloc(count * sizeof *v);
    cr_assert_not_null(v);
    nb_status s = nb_node_read_f64(g, n, v, count);
    cr_assert_eq(s, NB_OK, "read %s: %s", nb_node_name(n), nb_graph_error(g));
    return v;
}

/* Asserts every value of n is want[i] within tol (relative to max(1, |want|)). */
static void expect_values(nb_graph *g, nb_node *n, const double *want, double tol)
{
    size_t count = nb_node_size(n);
    double *v = values(g, n);
    for (size_t i = 0; i < count; i++) {
        double scale = fabs(want[i]) > 1 ? fabs(want[i]) : 1;
        cr_assert(fabs(v[i] - want[i]) <= tol * scale, "%s[%zu] = %.17g, want %.17g",
                  nb_node_name(n), i, v[i], want[i]);
    }
    free(v);
}

static void write_or_die(nb_graph *g, nb_node *n, const double *v, size_t count)
{
    cr_assert_eq(nb_node_write_f64(g, n, v, count), NB_OK, "%s", nb_graph_error(g));
}

static size_t workspace_bytes(nb_graph *g)
{
    nb_memory_stats st;
    nb_graph_memory(g, &st);
    return st.workspace_bytes;
}

/* ---- repeated runs allocate nothing ---- */

enum { MB = 4, MI = 3, MH = 5, MO = 2 }; /* batch, inputs, hidden, outputs */

typedef struct mlp {
    nb_node *x, *t, *w1, *b1, *w2, *b2, *loss;
    nb_node *grads[4];
} mlp;

/* loss = mse(relu(x @ w1 + b1) @ w2 + b2, t), and its gradients. */
static mlp mlp_build(nb_graph *g)
{
    mlp m;
    m.x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(MB, MI));
    m.t = nb_input(g, NB_DTYPE_F64, NB_SHAPE(MB, MO));
    m.w1 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MI, MH), nb_init_normal(0, 0.7));
    m.b1 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MH), nb_init_uniform(-0.2, 0.2));
    m.w2 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MH, MO), nb_init_normal(0, 0.7));
    m.b2 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MO), nb_init_uniform(-0.2, 0.2));
    nb_scope_push(g, "layer1");
    nb_node *h = nb_relu(g, nb_add(g, nb_matmul(g, m.x, m.w1), m.b1));
    nb_scope_pop(g);
    nb_scope_push(g, "layer2");
    nb_node *y = nb_add(g, nb_matmul(g, h, m.w2), m.b2);
    nb_scope_pop(g);
    m.loss = nb_mse(g, y, m.t);
    nb_node *wrt[4] = { m.w1, m.b1, m.w2, m.b2 };
    nb_grad(g, m.loss, 4, wrt, m.grads);
    return m;
}

/* The same model by hand: loss and the gradients of w1, b1, w2, b2 (backprop). */
static double mlp_reference(const mlp *m, double *dw1, double *db1, double *dw2, double *db2)
{
    const double *x = nb_node_data(m->x), *t = nb_node_data(m->t);
    const double *w1 = nb_node_data(m->w1), *b1 = nb_node_data(m->b1);
    const double *w2 = nb_node_data(m->w2), *b2 = nb_node_data(m->b2);
    double z1[MB][MH], h[MB][MH], y[MB][MO], dy[MB][MO], dz1[MB][MH];
    double loss = 0;
    for (int i = 0; i < MB; i++) {
        for (int j = 0; j < MH; j++) {
            z1[i][j] = b1[j];
            for (int k = 0; k < MI; k++) {
                z1[i][j] += x[i * MI + k] * w1[k * MH + j];
            }
            h[i][j] = z1[i][j] > 0 ? z1[i][j] : 0;
        }
        for (int j = 0; j < MO; j++) {
            y[i][j] = b2[j];
            for (int k = 0; k < MH; k++) {
                y[i][j] += h[i][k] * w2[k * MO + j];
            }
            double d = y[i][j] - t[i * MO + j];
            loss += d * d / (MB * MO);
            dy[i][j] = 2 * d / (MB * MO);
        }
    }
    memset(dw2, 0, MH * MO * sizeof *dw2);
    memset(db2, 0, MO * sizeof *db2);
    memset(dw1, 0, MI * MH * sizeof *dw1);
    memset(db1, 0, MH * sizeof *db1);
    for (int i = 0; i < MB; i++) {
        for (int j = 0; j < MO; j++) {
            db2[j] += dy[i][j];
            for (int k = 0; k < MH; k++) {
                dw2[k * MO + j] += h[i][k] * dy[i][j];
            }
        }
        for (int k = 0; k < MH; k++) {
            double dh = 0;
            for (int j = 0; j < MO; j++) {
                dh += dy[i][j] * w2[k * MO + j];
            }
            dz1[i][k] = z1[i][k] > 0 ? dh : 0;
            db1[k] += dz1[i][k];
            for (int c = 0; c < MI; c++) {
                dw1[c * MH + k] += x[i * MI + c] * dz1[i][k];
            }
        }
    }
    return loss;
}

static void mlp_inputs(nb_graph *g, const mlp *m, int run)
{
    double x[MB * MI], t[MB * MO];
    for (int i = 0; i < MB * MI; i++) {
        x[i] = sin(0.37 * run + 1.3 * i) * 2;
    }
    for (int i = 0; i < MB * MO; i++) {
        t[i] = cos(0.11 * run + 0.7 * i);
    }
    write_or_die(g, m->x, x, MB * MI);
    write_or_die(g, m->t, t, MB * MO);
}

static void mlp_check(nb_graph *g, const mlp *m, double *loss_out)
{
    double dw1[MI * MH], db1[MH], dw2[MH * MO], db2[MO];
    double loss = mlp_reference(m, dw1, db1, dw2, db2);
    expect_values(g, m->loss, &loss, 1e-12);
    expect_values(g, m->grads[0], dw1, 1e-12);
    expect_values(g, m->grads[1], db1, 1e-12);
    expect_values(g, m->grads[2], dw2, 1e-12);
    expect_values(g, m->grads[3], db2, 1e-12);
    *loss_out = loss;
}

Test(exec_memory, repeated_runs_allocate_nothing,
     .description = "after the first run of loss and gradients, 100 runs with new inputs "
                    "make no allocator call and give the new values")
{
    counter c = { 0, 0 };
    nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
    cr_assert_not_null(g);
    mlp m = mlp_build(g);
    check_ok(g);
    nb_node *outs[5] = { m.loss, m.grads[0], m.grads[1], m.grads[2], m.grads[3] };

    mlp_inputs(g, &m, 0);
    run_ok(g, 5, outs);
    double prev;
    mlp_check(g, &m, &prev);
    size_t calls = c.calls;
    nb_memory_stats before, after;
    nb_graph_memory(g, &before);
    for (int r = 1; r <= 100; r++) {
        mlp_inputs(g, &m, r);
        run_ok(g, 5, outs);
        cr_assert_eq(c.calls, calls, "run %d made %zu allocator calls", r, c.calls - calls);
        double loss;
        mlp_check(g, &m, &loss);
        cr_assert_neq(loss, prev, "run %d: the loss did not follow the new inputs", r);
        prev = loss;
    }
    nb_graph_memory(g, &after);
    cr_assert_eq(after.workspace_bytes, before.workspace_bytes);
    cr_assert_eq(after.plan_bytes, before.plan_bytes);
    cr_assert_eq(after.nodes, before.nodes);
    cr_log_info("MLP: workspace %zu bytes, plans %zu bytes, arena %zu bytes, %zu nodes",
                after.workspace_bytes, after.plan_bytes, after.arena_bytes, after.nodes);
    cr_assert_gt(c.live, 0);
    nb_graph_free(g);
    cr_assert_eq(c.live, 0, "%zu bytes leaked", c.live);
}

Test(exec_memory, parameter_updates_are_seen_without_allocating,
     .description = "writing a parameter between runs (an optimizer step) changes the "
                    "results and allocates nothing")
{
    counter c = { 0, 0 };
    nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
    mlp m = mlp_build(g);
    check_ok(g);
    nb_node *outs[5] = { m.loss, m.grads[0], m.grads[1], m.grads[2], m.grads[3] };
    mlp_inputs(g, &m, 3);
    run_ok(g, 5, outs);
    size_t calls = c.calls;
    for (int step = 0; step < 20; step++) {
        /* plain gradient descent through the writable parameter memory */
        for (int p = 0; p < 4; p++) {
            nb_node *w = p == 0 ? m.w1 : p == 1 ? m.b1 : p == 2 ? m.w2 : m.b2;
            double *wv = nb_node_data(w);
            const double *gv = nb_node_data(m.grads[p]);
            cr_assert_not_null(gv);
            for (size_t i = 0; i < nb_node_size(w); i++) {
                wv[i] -= 0.1 * gv[i];
            }
        }
        run_ok(g, 5, outs);
        double loss;
        mlp_check(g, &m, &loss);
    }
    cr_assert_eq(c.calls, calls);
    nb_graph_free(g);
    cr_assert_eq(c.live, 0);
}

Test(exec_memory, convolution_runs_allocate_nothing,
     .description = "a conv net (conv2d, max pool, a 1x1 conv2d, conv_transpose2d) and its "
                    "gradients: the im2col buffers live in the planned workspace, so after the "
                    "first run 50 runs with new inputs make no allocator call")
{
    counter c = { 0, 0 };
    nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(8, 3, 12, 12));
    nb_node *w1 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(6, 3, 3, 3), nb_init_uniform(-0.3, 0.3));
    nb_node *b1 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(6), nb_init_uniform(-0.3, 0.3));
    nb_node *w2 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(4, 6, 1, 1), nb_init_uniform(-0.3, 0.3));
    nb_node *w3 = nb_param(g, NB_DTYPE_F32, NB_SHAPE(4, 2, 2, 2), nb_init_uniform(-0.3, 0.3));
    nb_node *h = nb_relu(g, nb_conv2d(g, x, w1, b1, &(nb_conv_opts){ .padding = { 1, 1 } }));
    h = nb_max_pool2d(g, h, 2, 2, 0, 0, 0, 0);
    h = nb_tanh(g, nb_conv2d(g, h, w2, NULL, NULL));
    h = nb_conv_transpose2d(g, h, w3, NULL, &(nb_conv_opts){ .stride = { 2, 2 } });
    nb_node *loss = nb_sum(g, nb_mul(g, h, h));
    nb_node *wrt[4] = { w1, b1, w2, w3 }, *outs[5];
    cr_assert_eq(nb_grad(g, loss, 4, wrt, outs), NB_OK, "%s", nb_graph_error(g));
    outs[4] = loss;
    check_ok(g);
    float xv[8 * 3 * 12 * 12];
    for (size_t i = 0; i < sizeof xv / sizeof *xv; i++) {
        xv[i] = (float)sin(0.37 * (double)i);
    }
    cr_assert_eq(nb_node_write(g, x, xv, sizeof xv / sizeof *xv), NB_OK);
    run_ok(g, 5, outs);
    size_t calls = c.calls;
    double prev, l;
    cr_assert_eq(nb_node_read_f64(g, loss, &prev, 1), NB_OK);
    for (int r = 1; r <= 50; r++) {
        xv[r] += 0.5f;
        cr_assert_eq(nb_node_write(g, x, xv, sizeof xv / sizeof *xv), NB_OK);
        run_ok(g, 5, outs);
        cr_assert_eq(c.calls, calls, "run %d made %zu allocator calls", r, c.calls - calls);
        cr_assert_eq(nb_node_read_f64(g, loss, &l, 1), NB_OK);
        cr_assert_neq(l, prev, "run %d: the loss did not follow the new input", r);
        prev = l;
    }
    nb_graph_free(g);
    cr_assert_eq(c.live, 0, "%zu bytes leaked", c.live);
}

Test(exec_memory, convolution_buffers_live_for_their_step_only,
     .description = "two 5x5 convolutions of a [1,2,64,64] f64 image in a row, 2 channels to 2, "
                    "padding 2 (50 taps: the im2col path, not the direct loops), each need "
                    "(50 + 2) * 64*68 * 8 bytes of im2col buffer and output rows, 2 * 68*68*8 of "
                    "padded planes and 4*8 of slack, 1,884,448 bytes: the second reuses the "
                    "first's, so the workspace holds one buffer and a few images, not two")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2, 64, 64));
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 2, 5, 5));
    nb_conv_opts o = { .padding = { 2, 2 } };
    nb_node *y = nb_sum(g, nb_conv2d(g, nb_conv2d(g, x, w, NULL, &o), w, NULL, &o));
    check_ok(g);
    run_ok(g, 1, &y);
    nb_memory_stats m;
    nb_graph_memory(g, &m);
    size_t buffer = 52 * 64 * 68 * 8 + 2 * 68 * 68 * 8 + 4 * 8, image = 2 * 64 * 64 * 8;
    cr_assert_geq(m.workspace_bytes, buffer + image);
    cr_assert_lt(m.workspace_bytes, buffer + 3 * image, "workspace %zu bytes", m.workspace_bytes);
    nb_graph_free(g);
}

/* The workspace block a run of y alone allocates (its size plus 64 bytes of alignment slack). */
static size_t workspace_of(nb_graph *g, nb_node *y)
{
    run_ok(g, 1, &y);
    nb_memory_stats m;
    nb_graph_memory(g, &m);
    return m.workspace_bytes;
}

Test(exec_memory, a_1x1_convolution_takes_no_buffer,
     .description = "conv2d of x[2, 8, 16, 16] by w[4, 8, 1, 1] (stride 1, no padding) runs as "
                    "GEMMs straight on x: the workspace is y's 2*4*16*16*8 = 16,384 bytes (and "
                    "64 of alignment slack); with stride 4 it is y's 1,024 bytes and an im2col "
                    "buffer of (8 + 4) rows of 2*4*4 positions, 3,072 bytes")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 8, 16, 16));
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 8, 1, 1));
    cr_assert_eq(workspace_of(g, nb_conv2d(g, x, w, NULL, NULL)), 16384 + 64);
    nb_graph_free(g);
    g = nb_graph_new();
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 8, 16, 16));
    w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 8, 1, 1));
    nb_node *z = nb_conv2d(g, x, w, NULL, &(nb_conv_opts){ .stride = { 4, 4 } });
    cr_assert_eq(workspace_of(g, z), 1024 + 3072 + 64);
    nb_graph_free(g);
}

/* ---- only what the outputs need runs ---- */

Test(exec_memory, unneeded_bad_label_is_not_run,
     .description = "a cross_entropy with label 7 of 3 classes fails only when requested")
{
    nb_graph *g = nb_graph_new();
    nb_node *z = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3));
    nb_node *labels = nb_input(g, NB_DTYPE_I32, NB_SHAPE(2));
    nb_node *ce = nb_cross_entropy(g, z, labels);
    nb_node *other = nb_sum(g, nb_exp(g, z));
    check_ok(g);
    int32_t bad[2] = { 0, 7 };
    cr_assert_eq(nb_node_write(g, labels, bad, 2), NB_OK);

    run_ok(g, 1, &other);
    double want = 6; /* sum of e^0 over 6 zeros */
    expect_values(g, other, &want, 1e-6);
    cr_assert_null(nb_node_data(ce));
    cr_assert_str_empty(nb_graph_error(g));

    cr_assert_eq(nb_graph_run(g, 1, &ce), NB_ERR_VALUE);
    cr_assert_eq(nb_graph_status(g), NB_OK, "a run error is not sticky");
    cr_assert(strstr(nb_graph_error(g), "label 7") != NULL, "%s", nb_graph_error(g));
    cr_assert_null(nb_node_data(ce));
    cr_assert_null(nb_node_data(other), "a failed run leaves no stale values");

    /* the failed set does not poison the graph: the good set runs again */
    run_ok(g, 1, &other);
    expect_values(g, other, &want, 1e-6);
    cr_assert_str_empty(nb_graph_error(g));

    /* with the label fixed, the cross-entropy runs: ln 3 for equal logits */
    int32_t good[2] = { 0, 2 };
    cr_assert_eq(nb_node_write(g, labels, good, 2), NB_OK);
    run_ok(g, 1, &ce);
    want = log(3.0);
    expect_values(g, ce, &want, 1e-6);
    nb_graph_free(g);
}

Test(exec_memory, unrequested_values_are_null_keep_all_keeps_computed)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *b = nb_exp(g, a);
    nb_node *c = nb_neg(g, b);
    nb_node *d = nb_sum(g, c);
    nb_node *e = nb_mul(g, a, a); /* d does not need it */
    nb_node *f = nb_sum(g, nb_mul(g, b, c));
    check_ok(g);
    double av[3] = { 0.5, -1, 2 };
    write_or_die(g, a, av, 3);
    double sum_exp = exp(0.5) + exp(-1.0) + exp(2.0);

    cr_assert_null(nb_node_data(d), "no value before any run");
    run_ok(g, 1, &d);
    cr_assert_not_null(nb_node_data(d));
    cr_assert_not_null(nb_node_data(a), "leaves always have values");
    cr_assert_null(nb_node_data(b));
    cr_assert_null(nb_node_data(c));
    cr_assert_null(nb_node_data(e));
    cr_assert_null(nb_node_data(f));
    double want = -sum_exp;
    expect_values(g, d, &want, 1e-14);
    double tmp[3];
    cr_assert_eq(nb_node_read_f64(g, b, tmp, 3), NB_ERR_ARG, "b has no value to read");

    cr_assert_eq(nb_graph_run_ex(g, 1, &d, NB_RUN_KEEP_ALL), NB_OK, "%s", nb_graph_error(g));
    for (size_t id = 0; id < nb_graph_node_count(g); id++) {
        nb_node *n = nb_graph_node(g, id);
        bool computed = n == b || n == c || n == d;
        if (nb_node_kind(n) != NB_KIND_OP) {
            cr_assert_not_null(nb_node_data(n));
        } else if (computed) {
            cr_assert_not_null(nb_node_data(n), "%s was computed", nb_node_name(n));
        } else {
            cr_assert_null(nb_node_data(n), "%s was not needed", nb_node_name(n));
        }
    }
    double eb[3] = { exp(0.5), exp(-1.0), exp(2.0) };
    double ec[3] = { -eb[0], -eb[1], -eb[2] };
    expect_values(g, b, eb, 1e-14);
    expect_values(g, c, ec, 1e-14);
    expect_values(g, d, &want, 1e-14);

    /* a normal run of the same outputs drops them again */
    run_ok(g, 1, &d);
    cr_assert_null(nb_node_data(b));
    cr_assert_null(nb_node_data(c));
    expect_values(g, d, &want, 1e-14);

    /* and keep-all of a set that needs everything keeps everything */
    nb_node *both[2] = { f, e };
    cr_assert_eq(nb_graph_run_ex(g, 2, both, NB_RUN_KEEP_ALL), NB_OK);
    for (size_t id = 0; id < nb_graph_node_count(g); id++) {
        nb_node *n = nb_graph_node(g, id);
        if (n != d) {
            cr_assert_not_null(nb_node_data(n), "%s", nb_node_name(n));
        } else {
            cr_assert_null(nb_node_data(n), "d is not needed by f or e");
        }
    }
    nb_graph_free(g);
}

/* ---- the memory plan ---- */

enum { CHAIN_LEN = 10000, CHAIN_N = 1000 };

/*
 * x -> x + 1 -> -(x + 1) -> -(x + 1) - 1 -> x + 2: a cycle of four ops adds 2,
 * so CHAIN_LEN ops (a multiple of 4) give x + CHAIN_LEN / 2, exact in f32 for
 * the small integers used here.
 */
static nb_node *chain(nb_graph *g, nb_node *x, int len, nb_node **mid, int mid_at)
{
    nb_node *one = nb_scalar(g, NB_DTYPE_F32, 1.0);
    nb_node *y = x;
    for (int k = 0; k < len; k++) {
        switch (k % 4) {
        case 0:
            y = nb_add(g, y, one);
            break;
        case 1:
        case 3:
            y = nb_neg(g, y);
            break;
        default:
            y = nb_sub(g, y, one);
            break;
        }
        if (k + 1 == mid_at) {
            *mid = y;
        }
    }
    return y;
}

Test(exec_memory, long_chain_workspace_is_one_value,
     .description = "10,000 elementwise ops on a [1000] f32 tensor: x + 5000, with a "
                    "workspace of about one value; keep-all needs about 10,000 values")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(CHAIN_N));
    nb_node *mid = NULL;
    nb_node *y = chain(g, x, CHAIN_LEN, &mid, 4000);
    check_ok(g);
    double *xv = malloc(CHAIN_N * sizeof *xv), *want = malloc(CHAIN_N * sizeof *want);
    for (int i = 0; i < CHAIN_N; i++) {
        xv[i] = i - 300;
        want[i] = xv[i] + CHAIN_LEN / 2;
    }
    write_or_die(g, x, xv, CHAIN_N);
    run_ok(g, 1, &y);
    expect_values(g, y, want, 0);
    cr_assert_null(nb_node_data(mid));

    const size_t value = CHAIN_N * sizeof(float);
    size_t ws = workspace_bytes(g);
    cr_log_info("chain of %d ops on [%d] f32: workspace %zu bytes (one value is %zu)", CHAIN_LEN,
                CHAIN_N, ws, value);
    cr_assert_geq(ws, value);
    cr_assert_leq(ws, 3 * value, "workspace %zu bytes grows with the chain", ws);

    /* new inputs, same plan */
    for (int i = 0; i < CHAIN_N; i++) {
        xv[i] = 2 * i;
        want[i] = xv[i] + CHAIN_LEN / 2;
    }
    write_or_die(g, x, xv, CHAIN_N);
    run_ok(g, 1, &y);
    expect_values(g, y, want, 0);
    cr_assert_eq(workspace_bytes(g), ws);

    cr_assert_eq(nb_graph_run_ex(g, 1, &y, NB_RUN_KEEP_ALL), NB_OK, "%s", nb_graph_error(g));
    size_t ws_all = workspace_bytes(g);
    cr_log_info("keep-all: workspace %zu bytes (%.3f values per op)", ws_all,
                (double)ws_all / value / CHAIN_LEN);
    cr_assert_geq(ws_all, (size_t)CHAIN_LEN * value);
    cr_assert_leq(ws_all, (size_t)CHAIN_LEN * value * 11 / 10);
    expect_values(g, y, want, 0);
    for (int i = 0; i < CHAIN_N; i++) {
        want[i] = xv[i] + 2000; /* 4000 ops: 1000 cycles */
    }
    expect_values(g, mid, want, 0);
    free(xv);
    free(want);
    nb_graph_free(g);
}

/* W products x * (i + 1), all live at once, then summed: x * W (W + 1) / 2. */
static size_t wide_workspace(int width)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(CHAIN_N));
    nb_node *t[64];
    cr_assert_leq(width, 64);
    for (int i = 0; i < width; i++) {
        t[i] = nb_mul(g, x, nb_scalar(g, NB_DTYPE_F32, i + 1));
    }
    nb_node *acc = t[0];
    for (int i = 1; i < width; i++) {
        acc = nb_add(g, acc, t[i]);
    }
    check_ok(g);
    double xv[CHAIN_N], want[CHAIN_N];
    for (int i = 0; i < CHAIN_N; i++) {
        xv[i] = i % 17 - 8;
        want[i] = xv[i] * width * (width + 1) / 2;
    }
    write_or_die(g, x, xv, CHAIN_N);
    run_ok(g, 1, &acc);
    expect_values(g, acc, want, 0);
    size_t ws = workspace_bytes(g);
    nb_graph_free(g);
    return ws;
}

Test(exec_memory, wide_graph_workspace_grows_with_width)
{
    const size_t value = CHAIN_N * sizeof(float);
    size_t ws4 = wide_workspace(4), ws16 = wide_workspace(16), ws64 = wide_workspace(64);
    cr_log_info("wide graphs on [%d] f32: width 4: %zu, 16: %zu, 64: %zu bytes", CHAIN_N, ws4, ws16,
                ws64);
    cr_assert_geq(ws4, 4 * value);
    cr_assert_geq(ws16, 16 * value);
    cr_assert_geq(ws64, 64 * value);
    cr_assert_leq(ws64, 66 * value * 11 / 10);
    cr_assert_lt(ws4, ws16);
    cr_assert_lt(ws16, ws64);
}

/* ---- reuse never clobbers a live value ---- */

Test(exec_memory, diamond_keeps_shared_input,
     .description = "x = e^a feeds -x and x*x: r = x*x - x, then r + x and r * x")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(6));
    nb_node *x = nb_exp(g, a);
    nb_node *p = nb_neg(g, x);    /* may not overwrite x: x * x comes later */
    nb_node *q = nb_mul(g, x, x); /* x read twice by one op */
    nb_node *r = nb_add(g, p, q);
    nb_node *s = nb_add(g, r, x); /* x again, after r took p's or q's block */
    nb_node *u = nb_mul(g, nb_tanh(g, r), s);
    check_ok(g);
    double av[6] = { -1, -0.5, 0, 0.25, 0.5, 1 };
    write_or_die(g, a, av, 6);
    double want_r[6], want_s[6], want_u[6];
    for (int i = 0; i < 6; i++) {
        double e = exp(av[i]);
        want_r[i] = e * e - e;
        want_s[i] = want_r[i] + e;
        want_u[i] = tanh(want_r[i]) * want_s[i];
    }
    run_ok(g, 1, &u);
    expect_values(g, u, want_u, 1e-14);
    nb_node *rs[2] = { r, s };
    run_ok(g, 2, rs);
    expect_values(g, r, want_r, 1e-14);
    expect_values(g, s, want_s, 1e-14);
    nb_graph_free(g);
}

Test(exec_memory, value_used_far_later_survives,
     .description = "x0 = tanh(a) is read again after 60 ops that free and reuse blocks")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 8));
    nb_node *x0 = nb_tanh(g, a);
    nb_node *half = nb_scalar(g, NB_DTYPE_F64, 0.5);
    nb_node *y = nb_exp(g, x0);
    for (int k = 0; k < 20; k++) {
        /* y + mean(y) * 0.5 - 0.5: a scalar block and a full block die every round */
        nb_node *m = nb_mul(g, nb_mean(g, y), half);
        y = nb_sub(g, nb_add(g, y, m), half);
    }
    nb_node *out = nb_mul(g, y, x0);
    check_ok(g);
    double av[16];
    for (int i = 0; i < 16; i++) {
        av[i] = 0.2 * i - 1.5;
    }
    write_or_die(g, a, av, 16);
    double yv[16], want[16];
    for (int i = 0; i < 16; i++) {
        yv[i] = exp(tanh(av[i]));
    }
    for (int k = 0; k < 20; k++) {
        double mean = 0;
        for (int i = 0; i < 16; i++) {
            mean += yv[i] / 16;
        }
        for (int i = 0; i < 16; i++) {
            yv[i] = yv[i] + mean * 0.5 - 0.5;
        }
    }
    for (int i = 0; i < 16; i++) {
        want[i] = yv[i] * tanh(av[i]);
    }
    run_ok(g, 1, &out);
    expect_values(g, out, want, 1e-12);
    nb_graph_free(g);
}

Test(exec_memory, broadcasting_operands_are_not_overwritten_wrongly)
{
    nb_graph *g = nb_graph_new();
    nb_node *A = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 5));
    nb_node *B = nb_input(g, NB_DTYPE_F64, NB_SHAPE(5));
    nb_node *C = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 1));
    nb_node *M = nb_exp(g, A);                  /* [4,5], dies in y1 */
    nb_node *row = nb_neg(g, B);                /* [5], dies in y1 */
    nb_node *col = nb_sqrt(g, C);               /* [4,1] */
    nb_node *y1 = nb_add(g, M, row);            /* may write over M, not row */
    nb_node *y2 = nb_mul(g, col, y1);           /* broadcast input 0, y1 input 1 */
    nb_node *M2 = nb_exp(g, nb_neg(g, A));      /* [4,5] */
    nb_node *y3 = nb_sub(g, nb_tanh(g, B), M2); /* row - M2: over M2, order kept */
    nb_node *p = nb_exp(g, C);                  /* [4,1] */
    nb_node *q = nb_tanh(g, nb_reshape(g, B, NB_SHAPE(1, 5)));
    nb_node *y4 = nb_sub(g, p, q); /* [4,5] from [4,1] and [1,5] */
    nb_node *s2 = nb_exp(g, nb_reshape(g, C, NB_SHAPE(2, 2)));
    nb_node *s1 = nb_neg(g, nb_reshape(g, col, NB_SHAPE(1, 4)));
    nb_node *tiny = nb_add(g, nb_sum_axis(g, s2, 1, true), nb_sum_axis(g, s1, 0, true));
    nb_node *total = nb_add(g, nb_add(g, nb_add(g, y2, y3), y4), nb_sum(g, tiny));
    check_ok(g);
    double av[20], bv[5], cv[4];
    for (int i = 0; i < 20; i++) {
        av[i] = 0.1 * i - 1;
    }
    for (int i = 0; i < 5; i++) {
        bv[i] = 0.3 * i - 0.6;
    }
    for (int i = 0; i < 4; i++) {
        cv[i] = 0.5 + i;
    }
    write_or_die(g, A, av, 20);
    write_or_die(g, B, bv, 5);
    write_or_die(g, C, cv, 4);

    double w2[20], w3[20], w4[20], wt[20], tiny_sum = 0;
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 5; j++) {
            int k = i * 5 + j;
            w2[k] = sqrt(cv[i]) * (exp(av[k]) - bv[j]);
            w3[k] = tanh(bv[j]) - exp(-av[k]);
            w4[k] = exp(cv[i]) - tanh(bv[j]);
        }
    }
    /* tiny[i][j] = (e^c[2i] + e^c[2i+1]) - sqrt(c[j]): [2,1] + [1,4] -> [2,4] */
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            tiny_sum += exp(cv[2 * i]) + exp(cv[2 * i + 1]) - sqrt(cv[j]);
        }
    }
    for (int k = 0; k < 20; k++) {
        wt[k] = w2[k] + w3[k] + w4[k] + tiny_sum;
    }
    run_ok(g, 1, &total);
    expect_values(g, total, wt, 1e-13);
    nb_node *parts[3] = { y2, y3, y4 };
    run_ok(g, 3, parts);
    expect_values(g, y2, w2, 1e-14);
    expect_values(g, y3, w3, 1e-14);
    expect_values(g, y4, w4, 1e-14);
    nb_graph_free(g);
}

Test(exec_memory, same_block_size_different_shape_is_not_in_place,
     .description = "[2,1] + [1,2] -> [2,2]: all round to one 64-byte block, yet the "
                    "output may not overwrite either operand")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 1));
    nb_node *b = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1, 2));
    nb_node *y = nb_add(g, nb_exp(g, a), nb_neg(g, b));
    nb_node *z = nb_mul(g, nb_exp(g, b), nb_neg(g, a)); /* the other order */
    nb_node *out = nb_add(g, y, z);
    check_ok(g);
    double av[2] = { 0.5, -1 }, bv[2] = { 2, 3 };
    write_or_die(g, a, av, 2);
    write_or_die(g, b, bv, 2);
    double want[4];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            want[i * 2 + j] = exp(av[i]) - bv[j] + exp(bv[j]) * -av[i];
        }
    }
    run_ok(g, 1, &out);
    expect_values(g, out, want, 1e-14);
    nb_graph_free(g);
}

Test(exec_memory, in_place_candidates_of_different_sizes)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F32, NB_SHAPE(100));
    nb_node *b = nb_input(g, NB_DTYPE_F32, NB_SHAPE(1));
    nb_node *big = nb_exp(g, a);                   /* 400 bytes */
    nb_node *small = nb_neg(g, b);                 /* 4 bytes */
    nb_node *y = nb_mul(g, small, big);            /* over big, not small */
    nb_node *s = nb_sum(g, y);                     /* y dies: a scalar takes its block */
    nb_node *big2 = nb_exp(g, nb_neg(g, a));       /* a large value after a split block */
    nb_node *z = nb_add(g, big2, nb_mul(g, s, s)); /* [100] + [] */
    nb_node *w = nb_add(g, nb_sum(g, z), small);   /* small lives long, [] + [1] -> [1] */
    nb_node *v = nb_mul(g, w, z);                  /* [1] * [100] */
    check_ok(g);
    double av[100], bv = 0.03;
    for (int i = 0; i < 100; i++) {
        av[i] = 0.02 * i - 1;
    }
    write_or_die(g, a, av, 100);
    write_or_die(g, b, &bv, 1);
    double sum = 0, zz[100], zsum = 0, want[100];
    for (int i = 0; i < 100; i++) {
        sum += -bv * exp(av[i]);
    }
    for (int i = 0; i < 100; i++) {
        zz[i] = exp(-av[i]) + sum * sum;
        zsum += zz[i];
    }
    for (int i = 0; i < 100; i++) {
        want[i] = (zsum - bv) * zz[i];
    }
    run_ok(g, 1, &v);
    expect_values(g, v, want, 1e-4);
    nb_graph_free(g);
}

Test(exec_memory, reshape_view_whose_source_dies,
     .description = "a view keeps its source's block alive until the view's last reader")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(12));
    nb_node *b = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3, 4));
    nb_node *s = nb_exp(g, a); /* read only through views */
    nb_node *v1 = nb_reshape(g, s, NB_SHAPE(2, 6));
    nb_node *v2 = nb_reshape(g, v1, NB_SHAPE(3, 4));  /* a view of a view */
    nb_node *w = nb_neg(g, nb_exp(g, nb_tanh(g, b))); /* blocks allocated meanwhile */
    nb_node *u = nb_add(g, w, v2);                    /* last reader of s */
    nb_node *n = nb_neg(g, nb_reshape(g, nb_sqrt(g, b), NB_SHAPE(12))); /* in place via view */
    nb_node *out = nb_add(g, nb_reshape(g, u, NB_SHAPE(12)), n);
    nb_node *view_out = nb_reshape(g, nb_exp(g, b), NB_SHAPE(12)); /* an output that is a view */
    check_ok(g);
    double av[12], bv[12], wu[12], wout[12], wview[12];
    for (int i = 0; i < 12; i++) {
        av[i] = 0.1 * i - 0.4;
        bv[i] = 0.25 * i + 0.1;
        wu[i] = -exp(tanh(bv[i])) + exp(av[i]);
        wout[i] = wu[i] - sqrt(bv[i]);
        wview[i] = exp(bv[i]);
    }
    write_or_die(g, a, av, 12);
    write_or_die(g, b, bv, 12);
    run_ok(g, 1, &out);
    expect_values(g, out, wout, 1e-14);
    run_ok(g, 1, &u);
    expect_values(g, u, wu, 1e-14);
    run_ok(g, 1, &view_out);
    expect_values(g, view_out, wview, 1e-14);

    /*
     * s3's last direct reader (neg, elementwise, same shape) comes before the
     * last reader of its view v3: neg may not write over s3, nor may e^b take
     * its block
     */
    nb_node *s3 = nb_exp(g, a);
    nb_node *v3 = nb_reshape(g, s3, NB_SHAPE(3, 4));
    nb_node *t3 = nb_neg(g, s3);
    nb_node *w3 = nb_exp(g, b);
    nb_node *u3 = nb_add(g, nb_mul(g, v3, w3), nb_reshape(g, t3, NB_SHAPE(3, 4)));
    check_ok(g);
    double wu3[12];
    for (int i = 0; i < 12; i++) {
        wu3[i] = exp(av[i]) * exp(bv[i]) - exp(av[i]);
    }
    run_ok(g, 1, &u3);
    expect_values(g, u3, wu3, 1e-14);
    nb_node *both[2] = { view_out, out };
    run_ok(g, 2, both);
    expect_values(g, view_out, wview, 1e-14);
    expect_values(g, out, wout, 1e-14);
    nb_graph_free(g);
}

Test(exec_memory, reshape_of_a_leaf_shares_storage)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3));
    nb_node *r = nb_reshape(g, x, NB_SHAPE(6));
    nb_node *r2 = nb_reshape(g, r, NB_SHAPE(3, -1));
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4), nb_init_constant(1.5));
    nb_node *rp = nb_reshape(g, p, NB_SHAPE(2, 2));
    check_ok(g);
    cr_assert_eq(nb_node_shape(r2)[1], 2);
    cr_assert_null(nb_node_data(r), "an op node has no value before a run");
    nb_node *outs[3] = { r, r2, rp };
    run_ok(g, 3, outs);
    cr_assert_eq(nb_node_data(r), nb_node_data(x));
    cr_assert_eq(nb_node_data(r2), nb_node_data(x));
    cr_assert_eq(nb_node_data(rp), nb_node_data(p));
    nb_memory_stats st;
    nb_graph_memory(g, &st);
    cr_assert_eq(st.workspace_bytes, 0, "views of leaves need no workspace");
    double xv[6] = { 1, 2, 3, 4, 5, 6 };
    write_or_die(g, x, xv, 6);
    expect_values(g, r2, xv, 0); /* the same memory: no run needed to see it */
    nb_graph_free(g);
}

Test(exec_memory, leaves_are_never_written_in_place,
     .description = "elementwise ops on a leaf, or on a view of one, leave its values alone")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(6), nb_init_constant(0.5));
    nb_node *rx = nb_reshape(g, x, NB_SHAPE(6)); /* x's last reader is this view */
    nb_node *y = nb_neg(g, rx);                  /* same shape, same bytes as x */
    nb_node *z = nb_add(g, y, p);                /* p dies here too */
    nb_node *out = nb_mul(g, nb_exp(g, z), z);
    check_ok(g);
    double xv[6] = { 1, 2, 3, 4, 5, 6 }, pv[6] = { 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 }, want[6];
    for (int i = 0; i < 6; i++) {
        double zi = -xv[i] + 0.5;
        want[i] = exp(zi) * zi;
    }
    write_or_die(g, x, xv, 6);
    for (int r = 0; r < 3; r++) {
        run_ok(g, 1, &out);
        expect_values(g, out, want, 1e-14);
        expect_values(g, x, xv, 0);
        expect_values(g, p, pv, 0);
    }
    nb_graph_free(g);
}

Test(exec_memory, plans_share_one_workspace,
     .description = "the workspace is the largest plan's, not the sum; switching between "
                    "cached plans allocates nothing")
{
    counter c = { 0, 0 };
    nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(CHAIN_N));
    nb_node *small = nb_sum(g, nb_exp(g, x));
    nb_node *t[8], *acc;
    for (int i = 0; i < 8; i++) {
        t[i] = nb_mul(g, x, nb_scalar(g, NB_DTYPE_F32, i + 1));
    }
    acc = t[0];
    for (int i = 1; i < 8; i++) {
        acc = nb_add(g, acc, t[i]);
    }
    nb_node *big = nb_sum(g, acc);
    check_ok(g);
    double xv[CHAIN_N];
    for (int i = 0; i < CHAIN_N; i++) {
        xv[i] = (i % 5) * 0.25;
    }
    write_or_die(g, x, xv, CHAIN_N);
    double sum_x = 0, sum_e = 0;
    for (int i = 0; i < CHAIN_N; i++) {
        sum_x += xv[i];
        sum_e += exp(xv[i]);
    }
    double want_big = 36 * sum_x; /* 1 + 2 + ... + 8 */

    run_ok(g, 1, &small);
    size_t ws_small = workspace_bytes(g);
    run_ok(g, 1, &big);
    size_t ws_big = workspace_bytes(g);
    cr_log_info("workspace: small set %zu bytes, big set %zu bytes", ws_small, ws_big);
    cr_assert_lt(ws_small, ws_big);
    cr_assert_geq(ws_big, 8 * CHAIN_N * sizeof(float));
    size_t calls = c.calls;
    for (int r = 0; r < 10; r++) {
        run_ok(g, 1, &small);
        expect_values(g, small, &sum_e, 1e-5);
        cr_assert_null(nb_node_data(big));
        run_ok(g, 1, &big);
        expect_values(g, big, &want_big, 1e-6);
        cr_assert_null(nb_node_data(small));
        cr_assert_eq(workspace_bytes(g), ws_big);
    }
    cr_assert_eq(c.calls, calls, "switching between cached plans allocated");
    nb_graph_free(g);
    cr_assert_eq(c.live, 0);
}

/* ---- the plan cache ---- */

enum { N_SETS = 20 };

typedef struct cache_graph {
    nb_graph *g;
    nb_node *x;
    nb_node *o[N_SETS]; /* o[i] = sum(x * (i + 1)) + i * exp(x[0]) style values */
} cache_graph;

/* o[i] = (x * (i + 1) + i) summed: (i + 1) Σx + 3i. */
static cache_graph cache_build(void)
{
    cache_graph c;
    c.g = nb_graph_new();
    c.x = nb_input(c.g, NB_DTYPE_F64, NB_SHAPE(3));
    for (int i = 0; i < N_SETS; i++) {
        nb_node *k = nb_scalar(c.g, NB_DTYPE_F64, i + 1);
        nb_node *b = nb_scalar(c.g, NB_DTYPE_F64, i);
        c.o[i] = nb_sum(c.g, nb_add(c.g, nb_mul(c.g, c.x, k), b));
    }
    check_ok(c.g);
    return c;
}

static double cache_want(int i, double sum_x)
{
    return (i + 1) * sum_x + 3.0 * i;
}

static double cache_set_x(cache_graph *c, int round)
{
    double xv[3] = { round * 0.5, 1 - round, 0.25 };
    write_or_die(c->g, c->x, xv, 3);
    return xv[0] + xv[1] + xv[2];
}

/* Runs set i = { o[i], o[(i + 1) % N_SETS] } and checks both values. */
static void cache_run_set(cache_graph *c, int i, double sum_x)
{
    int j = (i + 1) % N_SETS;
    nb_node *outs[2] = { c->o[i], c->o[j] };
    run_ok(c->g, 2, outs);
    double wi = cache_want(i, sum_x), wj = cache_want(j, sum_x);
    expect_values(c->g, c->o[i], &wi, 1e-14);
    expect_values(c->g, c->o[j], &wj, 1e-14);
}

Test(exec_memory, alternating_output_sets)
{
    cache_graph c = cache_build();
    int prev = -1;
    for (int round = 0; round < 30; round++) {
        int i = (round % 3) * 5; /* sets 0, 5, 10 */
        double sum_x = cache_set_x(&c, round);
        cache_run_set(&c, i, sum_x);
        if (prev >= 0) {
            /* the previous set's outputs that this set does not recompute lost their values */
            cr_assert_null(nb_node_data(c.o[prev]), "o[%d] after running set %d", prev, i);
            cr_assert_null(nb_node_data(c.o[prev + 1]), "o[%d] after running set %d", prev + 1, i);
        }
        prev = i;
    }
    nb_graph_free(c.g);
}

Test(exec_memory, overlapping_sets_and_order)
{
    cache_graph c = cache_build();
    double sum_x = cache_set_x(&c, 2);
    cache_run_set(&c, 3, sum_x); /* o3, o4 */
    cache_run_set(&c, 4, sum_x); /* o4, o5: o4 recomputed, o3 dropped */
    cr_assert_null(nb_node_data(c.o[3]));
    cr_assert_not_null(nb_node_data(c.o[4]));
    nb_node *rev[2] = { c.o[5], c.o[4] }; /* same nodes, another order: another plan */
    run_ok(c.g, 2, rev);
    double w4 = cache_want(4, sum_x), w5 = cache_want(5, sum_x);
    expect_values(c.g, c.o[4], &w4, 1e-14);
    expect_values(c.g, c.o[5], &w5, 1e-14);
    nb_node *dup[3] = { c.o[7], c.o[7], c.o[7] }; /* a repeated output */
    run_ok(c.g, 3, dup);
    double w7 = cache_want(7, sum_x);
    expect_values(c.g, c.o[7], &w7, 1e-14);
    nb_graph_free(c.g);
}

Test(exec_memory, more_sets_than_the_cache_holds,
     .description = "20 distinct output sets cycled three times: evictions, correct values, "
                    "and a cache that stops growing at 16 plans")
{
    cache_graph c = cache_build();
    nb_memory_stats st;
    size_t one_plan = 0, sixteen = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N_SETS; i++) {
            double sum_x = cache_set_x(&c, round * N_SETS + i);
            cache_run_set(&c, i, sum_x);
            int before = (i + N_SETS - 1) % N_SETS; /* the set run just before */
            if (round > 0 || i > 0) {
                cr_assert_null(nb_node_data(c.o[before]), "o[%d] after set %d", before, i);
            }
            nb_graph_memory(c.g, &st);
            if (round == 0 && i == 0) {
                one_plan = st.plan_bytes;
                cr_assert_gt(one_plan, 0);
            }
            if (round == 0 && i == 15) {
                sixteen = st.plan_bytes;
                cr_assert_eq(sixteen, 16 * one_plan);
            }
            if (round > 0 || i >= 15) {
                cr_assert_eq(st.plan_bytes, sixteen, "the cache holds 16 plans");
            }
        }
    }
    /* an evicted set and a cached one, run back to back */
    double sum_x = cache_set_x(&c, 99);
    cache_run_set(&c, 0, sum_x);
    cache_run_set(&c, 19, sum_x);
    cache_run_set(&c, 0, sum_x);
    nb_graph_free(c.g);
}

Test(exec_memory, inputs_change_without_rebuilding)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 2));
    nb_node *w = nb_const(g, NB_DTYPE_F64, NB_SHAPE(2, 2), (const double[]){ 1, 2, 3, 4 });
    nb_node *y = nb_matmul(g, x, w);
    check_ok(g);
    size_t nodes = nb_graph_node_count(g);
    nb_memory_stats first, later;
    for (int r = 0; r < 10; r++) {
        double xv[4] = { r, 1, -r, 2 };
        write_or_die(g, x, xv, 4);
        run_ok(g, 1, &y);
        double want[4] = { r * 1 + 1 * 3, r * 2 + 1 * 4, -r * 1 + 2 * 3, -r * 2 + 2 * 4 };
        expect_values(g, y, want, 1e-14);
        if (r == 0) {
            nb_graph_memory(g, &first);
        }
    }
    nb_graph_memory(g, &later);
    cr_assert_eq(nb_graph_node_count(g), nodes);
    cr_assert_eq(later.plan_bytes, first.plan_bytes);
    cr_assert_eq(later.arena_bytes, first.arena_bytes);
    cr_assert_eq(later.workspace_bytes, first.workspace_bytes);
    nb_graph_free(g);
}

Test(exec_memory, graph_grows_between_runs)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *y = nb_sum(g, nb_exp(g, x));
    check_ok(g);
    double xv[3] = { 0, 1, 2 };
    write_or_die(g, x, xv, 3);
    run_ok(g, 1, &y);
    double wy = 1 + exp(1.0) + exp(2.0);
    expect_values(g, y, &wy, 1e-14);
    /* appending nodes keeps the cached plan of y valid */
    nb_node *z = nb_mul(g, y, nb_sum(g, x));
    check_ok(g);
    run_ok(g, 1, &z);
    double wz = wy * 3;
    expect_values(g, z, &wz, 1e-14);
    run_ok(g, 1, &y);
    expect_values(g, y, &wy, 1e-14);
    cr_assert_null(nb_node_data(z));
    nb_graph_free(g);
}

/* ---- bad run arguments ---- */

Test(exec_memory, run_arguments)
{
    nb_graph *g = nb_graph_new();
    nb_graph *other = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *y = nb_exp(g, x);
    nb_node *foreign = nb_exp(other, nb_input(other, NB_DTYPE_F64, NB_SHAPE(2)));
    check_ok(g);
    check_ok(other);
    cr_assert_eq(nb_node_write_f64(g, x, (double[]){ 0, 0 }, 2), NB_OK);
    run_ok(g, 1, &y);
    double want[2] = { 1, 1 };

    cr_assert_eq(nb_graph_run(NULL, 1, &y), NB_ERR_ARG);

    /* no outputs: nothing to do, and nothing is disturbed */
    cr_assert_eq(nb_graph_run(g, 0, NULL), NB_OK);
    cr_assert_eq(nb_graph_run(g, 0, &y), NB_OK);
    cr_assert_str_empty(nb_graph_error(g));

    cr_assert_eq(nb_graph_run(g, 1, NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_graph_error(g), "NULL") != NULL, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_status(g), NB_OK, "bad run arguments are not sticky");

    nb_node *with_null[2] = { y, NULL };
    cr_assert_eq(nb_graph_run(g, 2, with_null), NB_ERR_ARG);
    cr_assert(strstr(nb_graph_error(g), "output 2 is NULL") != NULL, "%s", nb_graph_error(g));

    nb_node *mixed[2] = { y, foreign };
    cr_assert_eq(nb_graph_run(g, 2, mixed), NB_ERR_GRAPH);
    cr_assert(strstr(nb_graph_error(g), "another graph") != NULL, "%s", nb_graph_error(g));
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_eq(nb_graph_status(other), NB_OK, "the foreign graph is not touched");

    cr_assert_eq(nb_graph_run_ex(g, 1, &y, 0x40), NB_ERR_ARG);
    cr_assert(strstr(nb_graph_error(g), "flags") != NULL, "%s", nb_graph_error(g));

    /* the graph still runs, and a success clears the last run error */
    run_ok(g, 1, &y);
    cr_assert_str_empty(nb_graph_error(g));
    expect_values(g, y, want, 0);

    /* a graph in error refuses to run and says why */
    cr_assert_null(nb_add(g, y, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3))));
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_ERR_SHAPE);
    cr_assert(strstr(nb_graph_error(g), "add(") == nb_graph_error(g), "%s", nb_graph_error(g));

    /* the other graph's own output runs in its own graph */
    run_ok(other, 1, &foreign);
    expect_values(other, foreign, want, 0);
    nb_graph_free(g);
    nb_graph_free(other);
}

Test(exec_memory, leaf_outputs_need_no_steps)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *c = nb_scalar(g, NB_DTYPE_F64, 4);
    nb_node *f = nb_fill(g, NB_DTYPE_F64, NB_SHAPE(3), 2.5);
    check_ok(g);
    nb_node *outs[3] = { x, c, f };
    run_ok(g, 3, outs);
    double wf[3] = { 2.5, 2.5, 2.5 }, wc = 4;
    expect_values(g, f, wf, 0);
    expect_values(g, c, &wc, 0);
    run_ok(g, 1, &x);
    cr_assert_not_null(nb_node_data(x));
    cr_assert_null(nb_node_data(f));
    nb_graph_free(g);
}

/* ---- nb_graph_reset ---- */

/* What build_scalar computed: the loss, the gradients and the graph's size. */
typedef struct scalar_result {
    double loss, grads[9];
    size_t nodes;
    size_t build_calls; /* allocator calls while building the forward graph (with c) */
} scalar_result;

/*
 * A scalar chain in a scope (x = tanh(x * p_i + b), loss = sum of sigmoid(x)),
 * 2,000 ops, named parameters from the graph's generator, its gradient built
 * and run together with the loss.
 */
static scalar_result build_scalar(nb_graph *g, const counter *c)
{
    scalar_result r = { 0 };
    size_t calls0 = c ? c->calls : 0;
    nb_node *p[9];
    nb_scope_push(g, "chain");
    for (int i = 0; i < 9; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", i);
        p[i] =
            nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, 0, NULL, nb_init_uniform(-1, 1)), name);
    }
    nb_node *x = nb_scalar(g, NB_DTYPE_F64, 0.25), *loss = nb_scalar(g, NB_DTYPE_F64, 0);
    for (int k = 0; k < 500; k++) {
        x = nb_tanh(g, nb_add(g, nb_mul(g, x, p[k % 8]), p[8]));
        loss = nb_add(g, loss, nb_sigmoid(g, x));
    }
    nb_scope_pop(g);
    r.build_calls = c ? c->calls - calls0 : 0;
    nb_node *grads[9], *outs[10] = { loss };
    cr_assert_eq(nb_grad(g, loss, 9, p, grads), NB_OK, "%s", nb_graph_error(g));
    memcpy(outs + 1, grads, sizeof grads);
    run_ok(g, 10, outs);
    r.loss = *(const double *)nb_node_data(loss);
    for (int i = 0; i < 9; i++) {
        r.grads[i] = *(const double *)nb_node_data(grads[i]);
    }
    r.nodes = nb_graph_node_count(g);
    return r;
}

Test(exec_memory, a_reset_graph_builds_as_a_new_one_in_the_same_memory,
     .description = "after nb_graph_reset the same program gives the same bits, the same "
                    "nodes and names, and holds exactly the memory it held, allocating less")
{
    counter c = { 0 };
    nb_graph *g = nb_graph_new_with_allocator(counting_alloc, &c);
    nb_graph *fresh = nb_graph_new();
    scalar_result want = build_scalar(fresh, NULL);
    scalar_result first = build_scalar(g, &c);
    size_t held = c.live;
    nb_memory_stats m1;
    nb_graph_memory(g, &m1);
    cr_assert_gt(first.build_calls, 10, "the first build allocated its arena and arrays");
    first.build_calls = 0;
    cr_assert_eq(memcmp(&first, &want, sizeof want), 0, "the counting allocator changed a result");
    for (int round = 0; round < 3; round++) {
        nb_graph_reset(g);
        cr_assert_eq(nb_graph_node_count(g), 0);
        cr_assert_null(nb_graph_find(g, "p0"), "a name outlived the reset");
        scalar_result again = build_scalar(g, &c);
        /* the arena's chunks and the arrays come back: the forward build allocates nothing */
        cr_assert_eq(again.build_calls, 0, "round %d: %zu allocator calls building", round,
                     again.build_calls);
        cr_assert_eq(memcmp(&again, &want, sizeof want), 0,
                     "round %d: loss %.17g against %.17g, %zu nodes against %zu", round, again.loss,
                     want.loss, again.nodes, want.nodes);
        cr_assert_not_null(nb_graph_find(g, "p3"));
        cr_assert_str_eq(nb_node_scope(nb_graph_find(g, "p3")), "chain");
        nb_memory_stats m;
        nb_graph_memory(g, &m);
        cr_assert_eq(m.arena_bytes, m1.arena_bytes, "round %d: the arena grew", round);
        cr_assert_eq(c.live, held, "round %d: %zu bytes held, %zu after the first build", round,
                     c.live, held);
    }
    nb_graph_free(g);
    nb_graph_free(fresh);
    cr_assert_eq(c.live, 0, "nb_graph_free released everything, spare chunks included");
}

Test(exec_memory, reset_clears_errors_settings_and_the_seed)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2)),
            *b = nb_input(g, NB_DTYPE_F32, NB_SHAPE(3));
    cr_assert_null(nb_add(g, a, b));
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    nb_graph_seed(g, 7);
    nb_graph_set_training(g, false);
    nb_scope_push(g, "open");
    nb_graph_reset(g);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");
    /* seed 0, as a new graph: the same first draw */
    nb_graph *fresh = nb_graph_new();
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4), nb_init_normal(0, 1));
    nb_node *wf = nb_param(fresh, NB_DTYPE_F64, NB_SHAPE(4), nb_init_normal(0, 1));
    cr_assert_eq(memcmp(nb_node_data(w), nb_node_data(wf), 4 * sizeof(double)), 0);
    /* no scope left open: the name has no prefix; training mode again (dropout drops) */
    nb_node *x = nb_node_set_name(g, nb_fill(g, NB_DTYPE_F64, NB_SHAPE(64), 1), "x");
    cr_assert_null(nb_node_scope(x));
    nb_node *d = nb_dropout(g, x, 0.5);
    run_ok(g, 1, &d);
    double *v = values(g, d);
    int zeros = 0;
    for (int i = 0; i < 64; i++) {
        zeros += v[i] == 0;
    }
    cr_assert_gt(zeros, 0, "dropout kept every value: the graph stayed in eval mode");
    free(v);
    nb_graph_reset(NULL);
    nb_graph_free(g);
    nb_graph_free(fresh);
}
