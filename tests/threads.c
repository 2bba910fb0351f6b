/*
 * tests/threads.c: two graphs used from two threads at once give the same
 * results as each run alone. A plain C program (exit status 0 or 1), not
 * Criterion, so it also runs under ThreadSanitizer (docs/reliability.md):
 *
 *     meson setup build-tsan -Db_sanitize=thread -Db_lundef=false
 *     meson test -C build-tsan threads
 *
 * Each job builds its own graph and uses most of the library on it: the
 * builders, nb_grad and a second-order gradient, BLIS matrix products, the
 * executor and its plan cache, NB_RUN_CHECK_FINITE and an error message,
 * Adam over shuffled mini-batches, nb_depth, DOT, the model parser and
 * writer, a checkpoint saved and loaded into a fresh graph, and a product
 * large enough for BLIS to use threads of its own when BLIS_NUM_THREADS > 1. Everything a
 * job produces is folded into a 64-bit digest. The program computes each
 * job's digest alone, then runs the jobs in pairs on two threads (two
 * different jobs, and one job twice) several times, and compares.
 */
#define _POSIX_C_SOURCE 200809L

#include <nabla.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- digests ---- */

typedef struct digest {
    uint64_t h;
    int failures; /* calls that did not do what the job expects */
    char first_failure[1200];
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        d->h = (d->h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
    }
}

static void mix_str(digest *d, const char *s)
{
    mix(d, s, strlen(s) + 1);
}

static void mix_node(digest *d, nb_node *n)
{
    const void *v = nb_node_data(n);
    if (v) {
        mix(d, v, nb_node_size(n) * nb_dtype_size(nb_node_dtype(n)));
    }
}

static void expect(digest *d, int ok, const char *what, nb_graph *g)
{
    if (!ok) {
        if (d->failures++ == 0) {
            snprintf(d->first_failure, sizeof d->first_failure, "%s: %s", what,
                     g ? nb_graph_error(g) : "");
        }
    }
}

/* Writes with f, then folds the text into the digest. */
static void mix_text(digest *d, nb_graph *g, int dot)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        expect(d, 0, "open_memstream", NULL);
        return;
    }
    nb_status s = dot ? nb_graph_write_dot(g, f, NULL) : nb_model_write(g, f);
    fclose(f);
    expect(d, s == NB_OK, dot ? "write_dot" : "model_write", g);
    mix(d, text, len);
    free(text);
}

/* ---- the job ---- */

typedef struct job {
    int id;   /* shapes and seeds differ by job */
    int tag;  /* distinguishes file names of concurrent runs */
    digest d; /* the result */
} job;

enum { STEPS = 40 };

static void train(job *j, digest *d, const char *ckpt)
{
    const int in = 6 + 2 * j->id, hidden = 16 + 8 * j->id, classes = 3 + j->id, rows = 96;
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, 100 + (uint64_t)j->id);

    /* a synthetic dataset, filled by hand */
    nb_dataset ds = { .rows = (size_t)rows, .cols = (size_t)in, .classes = classes };
    ds.x = malloc((size_t)rows * (size_t)in * sizeof *ds.x);
    ds.y = malloc((size_t)rows * sizeof *ds.y);
    if (!ds.x || !ds.y) {
        expect(d, 0, "malloc", NULL);
        free(ds.x);
        free(ds.y);
        nb_graph_free(g);
        return;
    }
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < in; c++) {
            ds.x[r * in + c] = (float)((r * 7 + c * 3 + j->id) % 11) / 5.0f - 1.0f;
        }
        ds.y[r] = (r * 5 + j->id) % classes;
    }

    const int batch = 16;
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(batch, in)), "x");
    nb_node *y = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(batch)), "y");
    nb_scope_push(g, "mlp");
    nb_node *w1 = nb_node_set_name(
        g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(in, hidden), nb_init_he_normal()), "w1");
    nb_node *b1 =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(hidden), nb_init_constant(0)), "b1");
    nb_node *w2 = nb_node_set_name(
        g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(hidden, classes), nb_init_xavier_uniform()), "w2");
    nb_node *b2 = nb_node_set_name(
        g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(classes), nb_init_constant(0)), "b2");
    nb_node *h = nb_relu(g, nb_add(g, nb_matmul(g, x, w1), b1));
    nb_node *logits = nb_add(g, nb_matmul(g, h, w2), b2);
    nb_scope_pop(g);
    nb_node *loss = nb_node_set_name(g, nb_cross_entropy(g, logits, y), "loss");
    nb_node *params[4] = { w1, b1, w2, b2 }, *grads[4];
    expect(d, nb_grad(g, loss, 4, params, grads) == NB_OK, "grad", g);
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    o.lr = 0.01;
    nb_optim *opt = nb_optim_new(g, loss, 4, params, grads, &o);
    expect(d, opt != NULL, "optim_new", g);
    nb_batches b;
    expect(d, nb_batches_init(&b, (size_t)rows, (size_t)batch, 5) == NB_OK, "batches", NULL);
    for (int step = 0; opt && step < STEPS; step++) {
        size_t k = (size_t)step % nb_batches_count(&b);
        if (k == 0) {
            b.rng = 5 + (uint64_t)step;
            nb_batches_shuffle(&b);
        }
        expect(d, nb_dataset_load_batch(g, &ds, &b, k, x, y) == NB_OK, "load_batch", g);
        expect(d, nb_optim_step(opt) == NB_OK, "optim_step", g);
        double l = nb_optim_loss(opt);
        mix(d, &l, sizeof l);
    }
    for (int i = 0; i < 4; i++) {
        mix_node(d, params[i]);
    }
    /* depth, DOT, a checked run of a softmax */
    int depth = nb_depth(g, loss, NB_DEPTH_OPS), sdepth = nb_depth(g, loss, NB_DEPTH_SCOPES);
    mix(d, &depth, sizeof depth);
    mix(d, &sdepth, sizeof sdepth);
    mix_text(d, g, 1);
    nb_node *p = nb_softmax(g, logits, 1);
    expect(d, nb_graph_run_ex(g, 1, &p, NB_RUN_CHECK_FINITE) == NB_OK, "checked run", g);
    mix_node(d, p);

    /* a checkpoint, loaded into a second graph */
    expect(d, nb_checkpoint_save(g, ckpt, 4, params, opt) == NB_OK, "checkpoint_save", g);
    nb_graph *g2 = nb_graph_new();
    nb_node *q[4] = {
        nb_node_set_name(g2, nb_param(g2, NB_DTYPE_F32, NB_SHAPE(in, hidden), nb_init_constant(0)),
                         "w1"),
        nb_node_set_name(g2, nb_param(g2, NB_DTYPE_F32, NB_SHAPE(hidden), nb_init_constant(0)),
                         "b1"),
        nb_node_set_name(
            g2, nb_param(g2, NB_DTYPE_F32, NB_SHAPE(hidden, classes), nb_init_constant(0)), "w2"),
        nb_node_set_name(g2, nb_param(g2, NB_DTYPE_F32, NB_SHAPE(classes), nb_init_constant(0)),
                         "b2"),
    };
    expect(d, nb_checkpoint_load(g2, ckpt, 4, q, NULL) == NB_OK, "checkpoint_load", g2);
    for (int i = 0; i < 4; i++) {
        expect(d,
               memcmp(nb_node_data(q[i]), nb_node_data(params[i]),
                      nb_node_size(q[i]) * sizeof(float)) == 0,
               "loaded values", NULL);
    }
    unlink(ckpt);
    nb_graph_free(g2);

    /* an error message belongs to its graph */
    expect(d, nb_matmul(g, w1, w1) == NULL || in == hidden, "a bad matmul", g);
    mix_str(d, nb_graph_error(g));

    nb_batches_free(&b);
    nb_optim_free(opt);
    nb_graph_free(g);
    nb_dataset_free(&ds);
}

/* The model language, float64 and second derivatives, on a graph of its own. */
static void language(job *j, digest *d)
{
    char src[1024];
    snprintf(src, sizeof src,
             "input x[%d, 3] = 0.5\n"
             "param w[3, 3] = normal(0, 1)\n"
             "scope block {\n"
             "  h = tanh(x @ w) ** 2\n"
             "  s = softmax(h, 1)\n"
             "}\n"
             "y = sum(log_softmax(s * %d, 1)) + mean(sigmoid(h))\n",
             2 + j->id, 1 + j->id);
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, 7 + (uint64_t)j->id);
    nb_parse_error e;
    expect(d, nb_model_parse(g, src, strlen(src), NULL, &e) == NB_OK, e.message, NULL);
    nb_node *yv = nb_graph_find(g, "y"), *w = nb_graph_find(g, "w"), *dw = NULL, *hv = NULL;
    if (!yv || !w) {
        expect(d, 0, "find", g);
        nb_graph_free(g);
        return;
    }
    mix_text(d, g, 0);
    expect(d, nb_grad(g, yv, 1, &w, &dw) == NB_OK, "grad", g);
    nb_node *gsum = nb_sum(g, nb_mul(g, dw, dw));
    expect(d, nb_grad(g, gsum, 1, &w, &hv) == NB_OK, "grad of grad", g);
    nb_node *outs[3] = { yv, dw, hv };
    for (int r = 0; r < 3; r++) { /* the cached plan, run again */
        expect(d, nb_graph_run(g, 3, outs) == NB_OK, "run", g);
    }
    for (int i = 0; i < 3; i++) {
        mix_node(d, outs[i]);
    }
    nb_gradcheck_result res;
    expect(d, nb_gradcheck(g, yv, 1, &w, NULL, &res) == NB_OK && res.passed, "gradcheck", g);
    mix(d, &res.max_abs_err, sizeof res.max_abs_err);
    nb_graph_free(g);
}

/* A product large enough for BLIS to use its own threads when BLIS_NUM_THREADS asks. */
static void big_product(job *j, digest *d)
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, 3 + (uint64_t)j->id);
    nb_node *a = nb_param(g, NB_DTYPE_F64, NB_SHAPE(256, 192), nb_init_uniform(-1, 1));
    nb_node *b = nb_param(g, NB_DTYPE_F64, NB_SHAPE(192, 320), nb_init_uniform(-1, 1));
    nb_node *c = nb_matmul_ex(g, nb_matmul(g, a, b), b, NB_TRANS_B);
    expect(d, nb_graph_run(g, 1, &c) == NB_OK, "big product", g);
    mix_node(d, c);
    nb_graph_free(g);
}

static void *run_job(void *arg)
{
    job *j = arg;
    memset(&j->d, 0, sizeof j->d);
    j->d.h = 0xcbf29ce484222325ull;
    char ckpt[128];
    snprintf(ckpt, sizeof ckpt, "/tmp/nabla_threads_%ld_%d_%d.ckpt", (long)getpid(), j->id, j->tag);
    train(j, &j->d, ckpt);
    language(j, &j->d);
    big_product(j, &j->d);
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 4;
    enum { JOBS = 2 };
    uint64_t alone[JOBS];
    for (int i = 0; i < JOBS; i++) {
        job j = { .id = i };
        run_job(&j);
        if (j.d.failures) {
            fprintf(stderr, "threads: job %d alone failed: %s\n", i, j.d.first_failure);
            return 1;
        }
        alone[i] = j.d.h;
    }
    int bad = 0;
    for (int r = 0; r < rounds; r++) {
        /* two different jobs, then the same job twice */
        int pairs[2][2] = { { 0, 1 }, { r % JOBS, r % JOBS } };
        for (int p = 0; p < 2; p++) {
            job js[2] = { { .id = pairs[p][0], .tag = 1 }, { .id = pairs[p][1], .tag = 2 } };
            pthread_t t[2];
            for (int i = 0; i < 2; i++) {
                if (pthread_create(&t[i], NULL, run_job, &js[i]) != 0) {
                    fprintf(stderr, "threads: pthread_create failed\n");
                    return 1;
                }
            }
            for (int i = 0; i < 2; i++) {
                pthread_join(t[i], NULL);
                if (js[i].d.failures || js[i].d.h != alone[js[i].id]) {
                    fprintf(stderr,
                            "threads: round %d, job %d on thread %d: digest %016llx, alone "
                            "%016llx%s%s\n",
                            r, js[i].id, i, (unsigned long long)js[i].d.h,
                            (unsigned long long)alone[js[i].id], js[i].d.failures ? "; " : "",
                            js[i].d.first_failure);
                    bad++;
                }
            }
        }
    }
    printf("threads: %d rounds of 2 pairs: %s\n", rounds,
           bad ? "results differ from the runs alone" : "same results as alone");
    return bad ? 1 : 0;
}
