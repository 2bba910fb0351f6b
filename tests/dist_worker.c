/*
 * tests/dist_worker.c: the program tests/test_dist.c runs, alone and under
 * mpirun. It trains a small float64 classifier on generated data with
 * sharded batches and the distributed optimizer, and prints what the tests
 * compare: per-epoch losses, the parameters, and a hash of them per rank.
 *
 *   dist_worker train ROWS BATCH EPOCHS [--save F] [--resume F] [--nan-at STEP] [--micro M]
 *       --micro M: each global batch as M micro-batches, M / processes on each
 *       (nb_optim_accumulate), so one process and M print the same bits
 *   dist_worker shards ROWS BATCH EPOCHS   every example once per epoch?
 *   dist_worker badfile                    rank 1 reads a file that does not exist
 */
#define _POSIX_C_SOURCE 200809L

#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COLS = 5, HIDDEN = 7, CLASSES = 3 };

/* Features from a fixed formula, labels from the features: the same data on every process. */
static nb_dataset make_data(size_t rows)
{
    nb_dataset ds = { .rows = rows, .cols = COLS, .classes = CLASSES };
    ds.x = malloc(rows * COLS * sizeof *ds.x);
    ds.y = malloc(rows * sizeof *ds.y);
    if (!ds.x || !ds.y) {
        exit(3);
    }
    for (size_t i = 0; i < rows; i++) {
        double s = 0;
        for (size_t c = 0; c < COLS; c++) {
            ds.x[i * COLS + c] = (float)sin(0.37 * (double)(i * COLS + c) + 1.3 * (double)c);
            s += ds.x[i * COLS + c] * (double)(c + 1);
        }
        ds.y[i] = s > 1 ? 2 : s > -1 ? 1 : 0;
    }
    return ds;
}

typedef struct net {
    nb_node *x, *y, *loss, *grads[4];
} net;

static net build(nb_graph *g, nb_node *const *p, size_t rows)
{
    net m;
    m.x = nb_input(g, NB_DTYPE_F64, NB_SHAPE((int64_t)rows, COLS));
    m.y = nb_input(g, NB_DTYPE_I32, NB_SHAPE((int64_t)rows));
    nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, m.x, p[0]), p[1]));
    m.loss = nb_cross_entropy(g, nb_add(g, nb_matmul(g, h, p[2]), p[3]), m.y);
    nb_grad(g, m.loss, 4, p, m.grads);
    return m;
}

/* FNV-1a over the parameters' bytes: equal hashes on every rank mean equal bits. */
static unsigned long long hash_params(nb_graph *g, nb_node *const *p)
{
    unsigned long long h = 1469598103934665603ull;
    for (int i = 0; i < 4; i++) {
        size_t n = nb_node_size(p[i]);
        double *v = malloc(n * sizeof *v);
        nb_node_read_f64(g, p[i], v, n);
        const unsigned char *b = (const unsigned char *)v;
        for (size_t k = 0; k < n * sizeof *v; k++) {
            h = (h ^ b[k]) * 1099511628211ull;
        }
        free(v);
    }
    return h;
}

static void fail(nb_graph *g, const char *what)
{
    fprintf(stderr, "rank %d: %s: %s\n", nb_dist_rank(), what, nb_graph_error(g));
    exit(1);
}

static int train(int argc, char **argv)
{
    size_t rows = strtoul(argv[2], NULL, 10), batch = strtoul(argv[3], NULL, 10);
    int epochs = atoi(argv[4]);
    const char *save = NULL, *resume = NULL;
    long nan_at = -1;
    int procs = nb_dist_size(), micro = procs;
    for (int i = 5; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--save") == 0) {
            save = argv[i + 1];
        } else if (strcmp(argv[i], "--resume") == 0) {
            resume = argv[i + 1];
        } else if (strcmp(argv[i], "--nan-at") == 0) {
            nan_at = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--micro") == 0) {
            micro = atoi(argv[i + 1]);
        }
    }
    int per = micro / procs; /* micro-batches per global batch on this process */
    if (micro < procs || micro % procs != 0 || per > 8) {
        fprintf(stderr, "--micro %d does not split over %d processes\n", micro, procs);
        return 2;
    }
    nb_dataset ds = make_data(rows);
    nb_graph *g = nb_graph_new();
    /* a different seed per rank: only rank 0's weights must count (the broadcast) */
    nb_graph_seed(g, 7 + (uint64_t)nb_dist_rank());
    nb_node *p[4] = {
        nb_param(g, NB_DTYPE_F64, NB_SHAPE(COLS, HIDDEN), nb_init_xavier_uniform()),
        nb_param(g, NB_DTYPE_F64, NB_SHAPE(HIDDEN), nb_init_constant(0.1)),
        nb_param(g, NB_DTYPE_F64, NB_SHAPE(HIDDEN, CLASSES), nb_init_xavier_uniform()),
        nb_param(g, NB_DTYPE_F64, NB_SHAPE(CLASSES), nb_init_constant(0)),
    };
    const char *names[4] = { "w1", "b1", "w2", "b2" };
    for (int i = 0; i < 4; i++) {
        nb_node_set_name(g, p[i], names[i]);
    }
    nb_batches b[8];
    for (int j = 0; j < per; j++) {
        if (nb_batches_init(&b[j], rows, batch, 5) != NB_OK ||
            nb_batches_shard(&b[j], nb_dist_rank() * per + j, micro) != NB_OK) {
            return 2;
        }
    }
    size_t nb = nb_batches_count(&b[0]);
    /* a model per size of micro-batch: each part's first and last */
    net nets[16];
    size_t sizes[16], n_nets = 0;
    for (int j = 0; j < per; j++) {
        size_t want[2] = { nb_batches_size(&b[j], 0), nb_batches_size(&b[j], nb - 1) };
        for (int w = 0; w < 2; w++) {
            bool have = want[w] == 0;
            for (size_t i = 0; i < n_nets; i++) {
                have = have || sizes[i] == want[w];
            }
            if (!have) {
                sizes[n_nets] = want[w];
                nets[n_nets++] = build(g, p, want[w]);
            }
        }
    }
    const net full = nets[0];
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_ADAM);
    oo.lr = 0.05;
    oo.clip_norm = 1.0;
    oo.distributed = true;
    /* small buckets: the four parameters go in several all-reduces */
    oo.dist_bucket_bytes = 64;
    nb_optim *opt = nb_optim_new(g, full.loss, 4, p, full.grads, &oo);
    if (nb_graph_status(g) != NB_OK) {
        fail(g, "building");
    }
    if (nb_dist_broadcast(g, 4, p) != NB_OK) {
        fail(g, "broadcast");
    }
    int start = 0;
    if (resume) {
        if (nb_dist_checkpoint_load(g, resume, 4, p, opt) != NB_OK) {
            fail(g, "resume");
        }
        start = (int)(nb_optim_steps(opt) / (int64_t)nb);
    }
    for (int e = start; e < epochs; e++) {
        for (int j = 0; j < per; j++) {
            b[j].rng = 11 + (uint64_t)e;
            nb_batches_shuffle(&b[j]);
        }
        double loss = 0;
        for (size_t k = 0; k < nb * (size_t)per; k++) {
            nb_batches *part = &b[k % (size_t)per];
            size_t m = nb_batches_size(part, k / (size_t)per);
            const net *t = &nets[0];
            for (size_t i = 0; i < n_nets; i++) {
                t = sizes[i] == m ? &nets[i] : t;
            }
            nb_optim_set_share(opt,
                               (double)m / (double)nb_batches_global_size(part, k / (size_t)per));
            if (m > 0 &&
                nb_dataset_load_batch(g, &ds, part, k / (size_t)per, t->x, t->y) != NB_OK) {
                fail(g, "load");
            }
            if (nan_at == nb_optim_steps(opt) && nb_dist_rank() == nb_dist_size() - 1 && m > 0) {
                double *x = calloc(m * COLS, sizeof *x);
                nb_node_read_f64(g, t->x, x, m * COLS);
                x[0] = NAN;
                nb_node_write_f64(g, t->x, x, m * COLS);
                free(x);
            }
            bool last_part = k % (size_t)per == (size_t)per - 1;
            if ((last_part ? nb_optim_step_with(opt, t->loss, t->grads)
                           : nb_optim_accumulate(opt, t->loss, t->grads)) != NB_OK) {
                fail(g, "step");
            }
            loss += m > 0 ? nb_optim_loss(opt) * (double)m : 0;
        }
        nb_dist_sum(&loss, 1);
        if (nb_dist_rank() == 0) {
            printf("epoch %d loss %.17g\n", e + 1, loss / (double)rows);
        }
        if (save && nb_dist_checkpoint_save(g, save, 4, p, opt) != NB_OK) {
            fail(g, "save");
        }
    }
    /* rank 0 prints the values; every rank its hash, collected in rank order */
    double h = (double)(hash_params(g, p) % 1000000007ull), hs[64] = { 0 };
    if (nb_dist_size() <= 64) {
        hs[nb_dist_rank()] = h;
        nb_dist_sum(hs, 64);
    }
    if (nb_dist_rank() == 0) {
        double v[HIDDEN * CLASSES];
        nb_node_read_f64(g, p[2], v, HIDDEN * CLASSES);
        printf("w2[0] %.17g w2[20] %.17g\n", v[0], v[20]);
        for (int r = 0; r < nb_dist_size(); r++) {
            printf("rank %d hash %.0f\n", r, hs[r]);
        }
    }
    nb_optim_free(opt);
    for (int j = 0; j < per; j++) {
        nb_batches_free(&b[j]);
    }
    nb_graph_free(g);
    free(ds.x);
    free(ds.y);
    return 0;
}

/* Counts how often each example is in this process's shards, sums over processes. */
static int shards(char **argv)
{
    size_t rows = strtoul(argv[2], NULL, 10), batch = strtoul(argv[3], NULL, 10);
    int epochs = atoi(argv[4]);
    nb_batches b;
    double *seen = calloc(rows, sizeof *seen);
    if (!seen || nb_batches_init(&b, rows, batch, 3) != NB_OK ||
        nb_batches_shard(&b, nb_dist_rank(), nb_dist_size()) != NB_OK) {
        return 2;
    }
    double local = 0;
    for (int e = 0; e < epochs; e++) {
        nb_batches_shuffle(&b);
        for (size_t k = 0; k < nb_batches_count(&b); k++) {
            size_t m = nb_batches_size(&b, k);
            size_t first =
                nb_batches_global_size(&b, k) * (size_t)nb_dist_rank() / (size_t)nb_dist_size();
            for (size_t i = 0; i < m; i++) {
                seen[b.order[k * batch + first + i]] += 1;
            }
            local += (double)m;
        }
    }
    nb_dist_sum(seen, rows);
    size_t wrong = 0;
    for (size_t i = 0; i < rows; i++) {
        wrong += seen[i] != epochs;
    }
    printf("rank %d took %.0f examples; examples not seen exactly %d times: %zu\n", nb_dist_rank(),
           local, epochs, wrong);
    nb_batches_free(&b);
    free(seen);
    return 0;
}

/* Rank 1 reads a file that does not exist; every process must learn of it. */
static int badfile(void)
{
    nb_dataset ds;
    char err[512] = "";
    nb_status s = nb_dataset_read_csv(
        &ds, nb_dist_rank() == 1 ? "no-such-dir/train.csv" : NB_SOURCE_DIR "/data/iris-train.csv",
        "label", err, sizeof err);
    s = nb_dist_agree(s, err, sizeof err);
    if (s != NB_OK) {
        fprintf(stderr, "rank %d: stopping: %s\n", nb_dist_rank(), err);
        return 1;
    }
    nb_dataset_free(&ds);
    return 0;
}

int main(int argc, char **argv)
{
    if (nb_dist_init(&argc, &argv) != NB_OK) {
        fprintf(stderr, "dist_worker: %s\n", nb_dist_error());
        return 2;
    }
    int rc = 2;
    if (argc >= 5 && strcmp(argv[1], "train") == 0) {
        rc = train(argc, argv);
    } else if (argc >= 5 && strcmp(argv[1], "shards") == 0) {
        rc = shards(argv);
    } else if (argc >= 2 && strcmp(argv[1], "badfile") == 0) {
        rc = badfile();
    } else {
        fprintf(stderr, "usage: dist_worker train|shards ROWS BATCH EPOCHS ... | badfile\n");
    }
    if (rc == 0) {
        nb_dist_finalize();
    }
    return rc;
}
