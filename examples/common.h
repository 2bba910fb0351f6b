/*
 * examples/common.h: what the training examples share: command-line flags,
 * progress lines on stderr, accuracy, and fit(), the mini-batch training loop
 * with per-epoch evaluation and optional checkpoints, on one process or
 * data-parallel under mpirun. Header-only, so each example is its data, its
 * model and one call.
 */
#ifndef NABLA_EXAMPLES_COMMON_H
#define NABLA_EXAMPLES_COMMON_H

#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* on_exit */

#include <nabla.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NB_DATA_DIR
#define NB_DATA_DIR "data"
#endif

typedef struct options {
    bool quiet;
    bool muted; /* a process other than rank 0 under mpirun: no progress lines */
    int epochs; /* 0: the example's default */
    uint64_t seed;
    const char *data;   /* folder with the dataset files */
    const char *save;   /* checkpoint written after every epoch */
    const char *resume; /* checkpoint to continue from */
} options;

/*
 * Leaves the MPI job when the program ends well. A failing process leaves
 * without it: the others may be waiting for it in a collective call, and
 * mpirun ends the job when a process exits with a non-zero status.
 */
static void leave_job(int status, void *arg)
{
    (void)arg;
    if (status == 0) {
        nb_dist_finalize();
    }
}

/*
 * Joins the MPI job when mpirun started the program (one process otherwise):
 * rank 0 prints, the other processes' standard output goes to /dev/null.
 */
static inline void join_job(options *o, const char *program)
{
    if (nb_dist_init(NULL, NULL) != NB_OK) {
        fprintf(stderr, "%s: %s\n", program, nb_dist_error());
        exit(2);
    }
    if (nb_dist_size() > 1) {
        on_exit(leave_job, NULL);
        if (nb_dist_rank() != 0) {
            o->muted = true;
            if (!freopen("/dev/null", "w", stdout)) {
                exit(2);
            }
        }
    }
}

/* Parses the flags every example takes; with_ckpt adds --save and --resume. */
static inline options parse_options(int argc, char **argv, bool with_ckpt)
{
    options o = { .seed = 1, .data = NB_DATA_DIR };
    join_job(&o, argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            o.quiet = true;
        } else if (strcmp(a, "--epochs") == 0 && v && atoi(v) > 0) {
            o.epochs = atoi(v);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            o.seed = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--data") == 0 && v) {
            o.data = v;
            i++;
        } else if (with_ckpt && strcmp(a, "--save") == 0 && v) {
            o.save = v;
            i++;
        } else if (with_ckpt && strcmp(a, "--resume") == 0 && v) {
            o.resume = v;
            i++;
        } else {
            bool help = strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
            bool known = strcmp(a, "--epochs") == 0 || strcmp(a, "--seed") == 0 ||
                         strcmp(a, "--data") == 0 ||
                         (with_ckpt && (strcmp(a, "--save") == 0 || strcmp(a, "--resume") == 0));
            if (!help) {
                /* name what was wrong before the usage, so it is not lost above it */
                if (known) {
                    fprintf(stderr, "%s: %s needs %s\n", argv[0], a,
                            strcmp(a, "--epochs") == 0 ? "a whole number >= 1" : "a value");
                } else {
                    fprintf(stderr, "%s: unknown flag '%s'\n", argv[0], a);
                }
            }
            fprintf(stderr,
                    "usage: %s [--quiet] [--epochs N] [--seed N] [--data DIR]%s\n"
                    "  --quiet        no progress lines on stderr\n"
                    "  --epochs N     train for N epochs\n"
                    "  --seed N       seed for initialization and shuffling (default 1)\n"
                    "  --data DIR     folder with the dataset files (default " NB_DATA_DIR ")\n%s",
                    argv[0], with_ckpt ? " [--save FILE] [--resume FILE]" : "",
                    with_ckpt ? "  --save FILE    write a checkpoint after every epoch\n"
                                "  --resume FILE  continue from a checkpoint\n"
                              : "");
            exit(help ? 0 : 2);
        }
    }
    return o;
}

static inline double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A progress line on stderr, unless --quiet. */
static inline void progress(const options *o, const char *fmt, ...)
{
    if (o->quiet || o->muted) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

/*
 * Stops the example with the graph's error message (naming this process's
 * rank under mpirun, where every process that stops prints its line).
 */
static inline void die(nb_graph *g, const char *what)
{
    if (nb_dist_size() > 1) {
        fprintf(stderr, "rank %d: ", nb_dist_rank());
    }
    fprintf(stderr, "%s: %s\n", what, g ? nb_graph_error(g) : "failed");
    exit(1);
}

/* Joins the data folder and a file name into buf. */
static inline const char *data_path(char *buf, size_t cap, const options *o, const char *file)
{
    snprintf(buf, cap, "%s/%s", o->data, file);
    return buf;
}

/*
 * Reads the UCI 8x8 digits' train and test splits from o->data, pixels
 * scaled from 0..16 to [0, 1]. Prints "program: message" and returns false
 * when a file cannot be read.
 */
static inline bool load_digits(const options *o, const char *program, nb_dataset *train,
                               nb_dataset *test)
{
    char err[512], a[1024];
    if (nb_dataset_read_csv(train, data_path(a, sizeof a, o, "digits-train.csv"), "label", err,
                            sizeof err) != NB_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        return false;
    }
    if (nb_dataset_read_csv(test, data_path(a, sizeof a, o, "digits-test.csv"), "label", err,
                            sizeof err) != NB_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        nb_dataset_free(train);
        return false;
    }
    nb_dataset_scale(train, 1.0 / 16);
    nb_dataset_scale(test, 1.0 / 16);
    return true;
}

/*
 * Reads the MNIST subset's train and test splits (IDX) from o->data, pixels
 * scaled from 0..255 to [0, 1]. Prints "program: message" and returns false
 * when a file cannot be read.
 */
static inline bool load_mnist(const options *o, const char *program, nb_dataset *train,
                              nb_dataset *test)
{
    char err[512], a[1024], b[1024];
    if (nb_dataset_read_idx(train,
                            data_path(a, sizeof a, o, "mnist-subset-train-images-idx3-ubyte"),
                            data_path(b, sizeof b, o, "mnist-subset-train-labels-idx1-ubyte"), err,
                            sizeof err) != NB_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        return false;
    }
    if (nb_dataset_read_idx(test, data_path(a, sizeof a, o, "mnist-subset-test-images-idx3-ubyte"),
                            data_path(b, sizeof b, o, "mnist-subset-test-labels-idx1-ubyte"), err,
                            sizeof err) != NB_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        nb_dataset_free(train);
        return false;
    }
    nb_dataset_scale(train, 1.0 / 255);
    nb_dataset_scale(test, 1.0 / 255);
    return true;
}

/* y = x @ w + b: a dense layer. */
static inline nb_node *dense(nb_graph *g, nb_node *x, nb_node *w, nb_node *b)
{
    return nb_add(g, nb_matmul(g, x, w), b);
}

/*
 * Share of examples classified right: for logits [N,C] the largest entry must
 * be at the label; for logits [N] (binary) the logit must be > 0 exactly when
 * the label is 1.
 */
static inline double accuracy(nb_graph *g, nb_node *logits, nb_node *labels)
{
    size_t n = (size_t)nb_node_shape(logits)[0], c = nb_node_size(logits) / n, hits = 0;
    double *z = malloc(n * c * sizeof *z), *y = malloc(n * sizeof *y);
    if (!z || !y || nb_node_read_f64(g, logits, z, n * c) != NB_OK ||
        nb_node_read_f64(g, labels, y, n) != NB_OK) {
        die(g, "accuracy");
    }
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < c; k++) {
            best = z[i * c + k] > z[i * c + best] ? k : best;
        }
        hits += c == 1 ? (z[i] > 0) == (y[i] == 1) : (double)best == y[i];
    }
    free(z);
    free(y);
    return (double)hits / (double)n;
}

/* One instance of a model over shared parameters, for a given number of rows. */
typedef struct model {
    nb_node *x, *y, *logits, *loss;
    nb_node *grads[32]; /* one per parameter */
} model;

/* Builds an instance for rows examples; with train, also its gradients. */
typedef model (*model_fn)(nb_graph *g, nb_node *const *params, size_t rows, bool train);

typedef struct fit_config {
    size_t n_params;
    nb_node *const *params;
    model_fn build;
    size_t batch;
    int epochs;
    nb_optim_options optim;
    /*
     * Micro-batches per global batch (0 or 1: one per process): each global
     * batch is computed as this many parts, on one process or spread over
     * several, and their gradients summed, so the run is the same bit for
     * bit on one process and on two (docs/distributed.md).
     */
    size_t micro;
} fit_config;

#define FIT_MAX_MICRO 64

/*
 * The classifier both MLP examples train: x -> relu(x w1 + b1) -> w2 + b2,
 * cross-entropy against i32 labels, each layer in a scope. Its sizes come
 * from the parameters p = {w1 [in,hidden], b1 [hidden], w2 [hidden,classes], b2}.
 */
static inline model relu_mlp(nb_graph *g, nb_node *const *p, size_t rows, bool train)
{
    model m = { 0 };
    m.x = nb_input(g, NB_DTYPE_F32, NB_SHAPE((int64_t)rows, nb_node_shape(p[0])[0]));
    m.y = nb_input(g, NB_DTYPE_I32, NB_SHAPE((int64_t)rows));
    nb_scope_push(g, "hidden");
    nb_node *h = nb_relu(g, dense(g, m.x, p[0], p[1]));
    nb_scope_pop(g);
    nb_scope_push(g, "output");
    m.logits = dense(g, h, p[2], p[3]);
    nb_scope_pop(g);
    m.loss = nb_cross_entropy(g, m.logits, m.y);
    if (train) {
        nb_grad(g, m.loss, 4, p, m.grads);
    }
    return m;
}

/* Accuracy of an evaluation instance m on all of ds, in an evaluation run (no dropout). */
static inline double evaluate(nb_graph *g, const model *m, const nb_dataset *ds)
{
    nb_batches all;
    if (nb_batches_init(&all, ds->rows, ds->rows, 0) != NB_OK ||
        nb_dataset_load_batch(g, ds, &all, 0, m->x, m->y) != NB_OK ||
        nb_graph_run_ex(g, 1, &m->logits, NB_RUN_EVAL) != NB_OK) {
        die(g, "evaluate");
    }
    nb_batches_free(&all);
    return accuracy(g, m->logits, m->y);
}

/* This process's part of n rows: all of them, or its shard under mpirun (nb_batches_shard). */
static inline size_t shard_rows(size_t n)
{
    size_t r = (size_t)nb_dist_rank(), k = (size_t)nb_dist_size();
    return n * (r + 1) / k - n * r / k;
}

/*
 * Accuracy on all of ds of an instance m built for shard_rows(ds->rows):
 * each process counts the hits in its part, and the counts are summed.
 */
static inline double evaluate_shards(nb_graph *g, const model *m, const nb_dataset *ds)
{
    if (nb_dist_size() == 1) {
        return evaluate(g, m, ds);
    }
    nb_batches all;
    if (nb_batches_init(&all, ds->rows, ds->rows, 0) != NB_OK ||
        nb_batches_shard(&all, nb_dist_rank(), nb_dist_size()) != NB_OK ||
        nb_dataset_load_batch(g, ds, &all, 0, m->x, m->y) != NB_OK ||
        nb_graph_run_ex(g, 1, &m->logits, NB_RUN_EVAL) != NB_OK) {
        die(g, "evaluate");
    }
    double hits = round(accuracy(g, m->logits, m->y) * (double)nb_batches_size(&all, 0));
    nb_batches_free(&all);
    if (nb_dist_sum(&hits, 1) != NB_OK) {
        die(NULL, "evaluate: summing over processes");
    }
    return hits / (double)ds->rows;
}

/* The instance of the model for rows examples among those built, or NULL. */
static inline const model *instance_for(const model *ms, const size_t *rows, size_t n, size_t want)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i] == want) {
            return &ms[i];
        }
    }
    return NULL;
}

/*
 * Trains with mini-batches in a seeded order per epoch (smaller batches run
 * through their own instances, sharing the optimizer's state), reports
 * loss, accuracy, speed and time after each epoch, saves and resumes
 * checkpoints when asked, and returns the final test accuracy.
 *
 * Each global batch of c->batch examples is split into micro-batches
 * (c->micro, at least one per process): a process accumulates the
 * gradients of its micro-batches (nb_optim_accumulate) and steps on the
 * last. Under mpirun the optimizer also sums the processes' gradients,
 * rank 0's parameters are the start, losses and accuracies are summed
 * over processes and checkpoints written by rank 0.
 */
static inline double fit(nb_graph *g, const options *o, const fit_config *c,
                         const nb_dataset *train, const nb_dataset *test)
{
    size_t procs = (size_t)nb_dist_size(), micro = c->micro > procs ? c->micro : procs;
    size_t per = micro / procs; /* micro-batches of each global batch on this process */
    if (micro % procs != 0 || per > FIT_MAX_MICRO) {
        fprintf(stderr, "%zu micro-batches do not split over %zu processes (at most %d each)\n",
                micro, procs, FIT_MAX_MICRO);
        exit(2);
    }
    nb_batches parts[FIT_MAX_MICRO];
    for (size_t j = 0; j < per; j++) {
        if (nb_batches_init(&parts[j], train->rows, c->batch, o->seed) != NB_OK ||
            nb_batches_shard(&parts[j], nb_dist_rank() * (int)per + (int)j, (int)micro) != NB_OK) {
            die(g, "batches");
        }
    }
    size_t n_batches = nb_batches_count(&parts[0]);
    if (nb_batches_size(&parts[0], 0) == 0) {
        die(NULL, "batches: fewer examples in a batch than micro-batches");
    }
    /* an instance per size of micro-batch: the first and the last batch's, of each part */
    model ms[2 * FIT_MAX_MICRO];
    size_t sizes[2 * FIT_MAX_MICRO], n_ms = 0;
    for (size_t j = 0; j < per; j++) {
        size_t want[2] = { nb_batches_size(&parts[j], 0),
                           nb_batches_size(&parts[j], n_batches - 1) };
        for (int w = 0; w < 2; w++) {
            if (want[w] > 0 && !instance_for(ms, sizes, n_ms, want[w])) {
                sizes[n_ms] = want[w];
                ms[n_ms++] = c->build(g, c->params, want[w], true);
            }
        }
    }
    const model *full = &ms[0];
    model on_train = c->build(g, c->params, shard_rows(train->rows), false);
    model on_test = c->build(g, c->params, shard_rows(test->rows), false);
    nb_optim_options oo = c->optim;
    oo.distributed = true; /* nothing changes in a run of one process */
    nb_optim *opt = nb_optim_new(g, full->loss, c->n_params, c->params, full->grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building the model");
    }
    /* every process starts from rank 0's weights */
    if (nb_dist_broadcast(g, c->n_params, c->params) != NB_OK) {
        die(g, "broadcast");
    }
    int epochs = o->epochs > 0 ? o->epochs : c->epochs, start = 0;
    if (o->resume) {
        if (nb_dist_checkpoint_load(g, o->resume, c->n_params, c->params, opt) != NB_OK) {
            die(g, "resume");
        }
        start = (int)(nb_optim_steps(opt) / (int64_t)n_batches);
        progress(o, "resumed from %s after epoch %d (step %lld)\n", o->resume, start,
                 (long long)nb_optim_steps(opt));
    }
    double t0 = now_seconds();
    for (int epoch = start; epoch < epochs; epoch++) {
        double te = now_seconds(), loss_sum = 0;
        for (size_t j = 0; j < per; j++) { /* an epoch's order depends only on it */
            parts[j].rng = o->seed * 1000003u + (uint64_t)epoch;
            nb_batches_shuffle(&parts[j]);
        }
        for (size_t k = 0; k < n_batches; k++) {
            for (size_t j = 0; j < per; j++) {
                size_t m_rows = nb_batches_size(&parts[j], k);
                const model *m = m_rows ? instance_for(ms, sizes, n_ms, m_rows) : full;
                /* each micro-batch's part of the global batch weighs its gradient */
                nb_optim_set_share(opt,
                                   (double)m_rows / (double)nb_batches_global_size(&parts[j], k));
                if (m_rows > 0 &&
                    nb_dataset_load_batch(g, train, &parts[j], k, m->x, m->y) != NB_OK) {
                    die(g, "loading a batch");
                }
                nb_status st = j + 1 < per ? nb_optim_accumulate(opt, m->loss, m->grads)
                                           : nb_optim_step_with(opt, m->loss, m->grads);
                if (st != NB_OK) {
                    die(g, "training step");
                }
                loss_sum += m_rows > 0 ? nb_optim_loss(opt) * (double)m_rows : 0;
            }
        }
        if (nb_dist_sum(&loss_sum, 1) != NB_OK) {
            die(NULL, "summing the loss over processes");
        }
        double secs = now_seconds() - te;
        if (o->save && nb_dist_checkpoint_save(g, o->save, c->n_params, c->params, opt) != NB_OK) {
            die(g, "save");
        }
        /* every epoch when there are few, else ten lines in all */
        bool report = epochs <= 20 || (epoch + 1) % (epochs / 10) == 0 || epoch + 1 == epochs;
        if (report && !o->quiet) {
            double train_acc = evaluate_shards(g, &on_train, train);
            double test_acc = evaluate_shards(g, &on_test, test);
            progress(
                o, "epoch %3d/%d  loss %.4f  train acc %.4f  test acc %.4f  %7.0f ex/s  %5.1f s\n",
                epoch + 1, epochs, loss_sum / (double)train->rows, train_acc, test_acc,
                (double)train->rows / secs, now_seconds() - t0);
        }
    }
    double acc = evaluate_shards(g, &on_test, test);
    nb_optim_free(opt);
    for (size_t j = 0; j < per; j++) {
        nb_batches_free(&parts[j]);
    }
    return acc;
}

#endif
