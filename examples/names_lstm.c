/*
 * examples/names_lstm.c: a character-level language model on the US first
 * names in data/ (26,723 to train on, 2,970 to test). Each name is read as
 * "." + name + "." over the 27 symbols ".a-z"; the model sees a symbol and
 * predicts the next: an embedding of 32, one LSTM layer of 128 (or a tanh RNN
 * or a GRU with --cell), a linear layer to 27 logits, trained with Adam
 * (lr 3e-3, gradients clipped to norm 5) on batches of 64 for 8 epochs.
 * PyTorch's same model reaches a test NLL of 2.008 nats per symbol.
 *
 *   names_lstm [--epochs N] [--seed N] [--quiet] [--data DIR] [--save FILE]
 *              [--resume FILE] [--sample N] [--cell lstm|rnn|gru]
 *
 * Names of different lengths share a batch by padding to T = 16 steps (the
 * longest name, 15 letters, has 16 predictions); the targets of padded steps
 * are -1, which the loss ignores. Padding comes after a name's last symbol,
 * and a forward recurrence cannot carry it backwards, so no mask on the
 * recurrence is needed: padded steps change neither the loss nor any gradient.
 * The last line is "test nll: X", the mean negative log-likelihood in nats per
 * predicted symbol over the whole test file; --sample N first prints N names
 * drawn from the trained model with the seed.
 */
#include "common.h"

enum {
    SYMBOLS = 27,
    EMBED = 32,
    HIDDEN = 128,
    STEPS = 16,
    BATCH = 64,
    EVAL_BATCH = 512,
    SAMPLE_BATCH = 16
};

/* ---- data ---- */

/* Names as symbol strings: 0 is '.', 1..26 are 'a'..'z'. */
typedef struct names {
    size_t n;
    unsigned char (*sym)[STEPS + 1]; /* "." + name + "." padded with 0 */
    unsigned char *len;              /* letters in each name */
} names;

/* Reads one name per line (a-z, 1 to 15 letters); false with a message on error. */
static bool read_names(names *ns, const char *path)
{
    memset(ns, 0, sizeof *ns);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "names_lstm: cannot open %s\n", path);
        return false;
    }
    size_t cap = 0, line = 0;
    char buf[64];
    bool ok = true;
    while (ok && fgets(buf, sizeof buf, f)) {
        line++;
        size_t k = strcspn(buf, "\n");
        bool alpha = k > 0 && k < STEPS && buf[k] == '\n';
        for (size_t i = 0; alpha && i < k; i++) {
            alpha = buf[i] >= 'a' && buf[i] <= 'z';
        }
        if (!alpha) {
            fprintf(stderr, "names_lstm: %s:%zu: not a name of 1 to %d letters a-z\n", path, line,
                    STEPS - 1);
            ok = false;
            break;
        }
        if (ns->n == cap) {
            cap = cap ? 2 * cap : 1024;
            void *s = realloc(ns->sym, cap * sizeof *ns->sym), *l = realloc(ns->len, cap);
            if (s) {
                ns->sym = s;
            }
            if (l) {
                ns->len = l;
            }
            if (!s || !l) {
                fprintf(stderr, "names_lstm: out of memory reading %s\n", path);
                ok = false;
                break;
            }
        }
        memset(ns->sym[ns->n], 0, STEPS + 1);
        for (size_t i = 0; i < k; i++) {
            ns->sym[ns->n][i + 1] = (unsigned char)(buf[i] - 'a' + 1);
        }
        ns->len[ns->n++] = (unsigned char)k;
    }
    fclose(f);
    if (ok && ns->n == 0) {
        fprintf(stderr, "names_lstm: %s holds no names\n", path);
        ok = false;
    }
    if (!ok) {
        free(ns->sym);
        free(ns->len);
        memset(ns, 0, sizeof *ns);
    }
    return ok;
}

static void free_names(names *ns)
{
    free(ns->sym);
    free(ns->len);
}

/*
 * Fills ids [rows, STEPS] and targets [rows * STEPS] with the names at
 * order[0..count-1]; rows beyond count, and steps beyond a name's end, get
 * input 0 and target -1. Returns the number of predictions (targets kept).
 */
static size_t fill_batch(const names *ns, const size_t *order, size_t count, size_t rows,
                         int32_t *ids, int32_t *targets)
{
    size_t kept = 0;
    for (size_t r = 0; r < rows; r++) {
        const unsigned char *s = r < count ? ns->sym[order[r]] : NULL;
        int len = s ? ns->len[order[r]] : -1; /* len + 1 predictions */
        for (int t = 0; t < STEPS; t++) {
            bool real = t <= len;
            ids[r * STEPS + t] = real ? s[t] : 0;
            targets[r * STEPS + t] = real ? s[t + 1] : -1;
            kept += real;
        }
    }
    return kept;
}

/* ---- the model ---- */

typedef enum cell_kind { CELL_LSTM, CELL_RNN, CELL_GRU } cell_kind;

typedef struct net {
    cell_kind kind;
    nb_embedding_layer embed;
    nb_lstm_cell lstm;
    nb_rnn_cell rnn;
    nb_gru_cell gru;
    nb_linear out;
    nb_node *params[8];
    size_t n_params;
} net;

/* One instance over the shared parameters: rows names of STEPS symbols. */
typedef struct instance {
    size_t rows;
    nb_node *ids, *targets, *logits, *loss;
    nb_node *grads[8];
} instance;

static net net_new(nb_graph *g, cell_kind kind)
{
    net m = { .kind = kind };
    m.embed = nb_embedding_layer_new(g, "embed", NB_DTYPE_F32, SYMBOLS, EMBED);
    nb_node **cell = NULL;
    switch (kind) {
    case CELL_LSTM:
        m.lstm = nb_lstm_cell_new(g, "lstm", NB_DTYPE_F32, EMBED, HIDDEN);
        cell = &m.lstm.weight_ih;
        break;
    case CELL_RNN:
        m.rnn = nb_rnn_cell_new(g, "rnn", NB_DTYPE_F32, EMBED, HIDDEN, NB_RNN_TANH);
        cell = &m.rnn.weight_ih;
        break;
    case CELL_GRU:
        m.gru = nb_gru_cell_new(g, "gru", NB_DTYPE_F32, EMBED, HIDDEN);
        cell = &m.gru.weight_ih;
        break;
    }
    m.out = nb_linear_new(g, "out", NB_DTYPE_F32, HIDDEN, SYMBOLS, true);
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building the model");
    }
    /* the cells hold weight_ih, weight_hh, bias_ih, bias_hh one after another */
    nb_node *p[7] = {
        m.embed.weight, cell[0], cell[1], cell[2], cell[3], m.out.weight, m.out.bias
    };
    memcpy(m.params, p, sizeof p);
    m.n_params = 7;
    return m;
}

static instance instance_new(nb_graph *g, const net *m, size_t rows, bool train)
{
    instance in = { .rows = rows };
    int64_t B = (int64_t)rows;
    in.ids = nb_input(g, NB_DTYPE_I32, NB_SHAPE(B, STEPS));
    in.targets = nb_input(g, NB_DTYPE_I32, NB_SHAPE(B * STEPS));
    nb_node *x = nb_embedding_layer_apply(g, &m->embed, in.ids); /* [B, T, EMBED] */
    nb_node *h = NULL;
    switch (m->kind) {
    case CELL_LSTM:
        h = nb_lstm_unroll(g, &m->lstm, x, NULL, NULL, NULL, NULL, NULL);
        break;
    case CELL_RNN:
        h = nb_rnn_unroll(g, &m->rnn, x, NULL, NULL, NULL);
        break;
    case CELL_GRU:
        h = nb_gru_unroll(g, &m->gru, x, NULL, NULL, NULL);
        break;
    }
    nb_node *z = nb_linear_apply(g, &m->out, h); /* [B, T, SYMBOLS] */
    in.logits = nb_reshape(g, z, NB_SHAPE(B * STEPS, SYMBOLS));
    in.loss = nb_cross_entropy_ignore(g, in.logits, in.targets, -1);
    if (train) {
        nb_grad(g, in.loss, m->n_params, m->params, in.grads);
    }
    if (nb_graph_status(g) != NB_OK) {
        die(g, "building the model");
    }
    return in;
}

/* Loads names order[0..count-1] into in's inputs; returns the predictions they hold. */
static size_t load(nb_graph *g, const instance *in, const names *ns, const size_t *order,
                   size_t count, int32_t *ids, int32_t *targets)
{
    size_t kept = fill_batch(ns, order, count, in->rows, ids, targets);
    if (nb_node_write(g, in->ids, ids, in->rows * STEPS) != NB_OK ||
        nb_node_write(g, in->targets, targets, in->rows * STEPS) != NB_OK) {
        die(g, "loading a batch");
    }
    return kept;
}

/* Mean NLL per predicted symbol over all of ns, in batches of the instance's rows. */
static double mean_nll(nb_graph *g, const instance *in, const names *ns, int32_t *ids,
                       int32_t *targets)
{
    size_t *order = malloc(ns->n * sizeof *order);
    if (!order) {
        die(NULL, "evaluation");
    }
    for (size_t i = 0; i < ns->n; i++) {
        order[i] = i;
    }
    double sum = 0;
    size_t count = 0;
    for (size_t at = 0; at < ns->n; at += in->rows) {
        size_t k = ns->n - at < in->rows ? ns->n - at : in->rows;
        size_t kept = load(g, in, ns, order + at, k, ids, targets);
        double loss;
        if (nb_graph_run_ex(g, 1, &in->loss, NB_RUN_EVAL) != NB_OK ||
            nb_node_read_f64(g, in->loss, &loss, 1) != NB_OK) {
            die(g, "evaluation");
        }
        sum += loss * (double)kept; /* the batch's mean is over its kept targets */
        count += kept;
    }
    free(order);
    return sum / (double)count;
}

/* ---- sampling ---- */

/* splitmix64: the sampler's own generator, seeded from --seed. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/*
 * Prints n names drawn from the model one symbol at a time: the prefix so far
 * goes through the instance (rows names at once), the next symbol is drawn
 * from the softmax at its last step, until '.' or the 15th letter.
 */
static void sample(nb_graph *g, const instance *in, size_t n, uint64_t seed)
{
    size_t rows = in->rows;
    int32_t *ids = calloc(rows * STEPS, sizeof *ids), *tg = malloc(rows * STEPS * sizeof *tg);
    double *z = malloc(rows * STEPS * SYMBOLS * sizeof *z);
    char(*out)[STEPS] = calloc(rows, sizeof *out);
    if (!ids || !tg || !z || !out) {
        die(NULL, "sampling");
    }
    for (size_t i = 0; i < rows * STEPS; i++) {
        tg[i] = -1;
    }
    uint64_t rng = seed ^ 0x5eedu;
    for (size_t done = 0; done < n; done += rows) {
        size_t k = n - done < rows ? n - done : rows;
        memset(ids, 0, rows * STEPS * sizeof *ids);
        memset(out, 0, rows * sizeof *out);
        bool live[SAMPLE_BATCH] = { false };
        for (size_t r = 0; r < k; r++) {
            live[r] = true;
        }
        for (int t = 0; t < STEPS - 1; t++) {
            if (nb_node_write(g, in->ids, ids, rows * STEPS) != NB_OK ||
                nb_node_write(g, in->targets, tg, rows * STEPS) != NB_OK ||
                nb_graph_run_ex(g, 1, &in->logits, NB_RUN_EVAL) != NB_OK ||
                nb_node_read_f64(g, in->logits, z, rows * STEPS * SYMBOLS) != NB_OK) {
                die(g, "sampling");
            }
            for (size_t r = 0; r < k; r++) {
                if (!live[r]) {
                    continue;
                }
                const double *zt = z + (r * STEPS + (size_t)t) * SYMBOLS;
                double mx = zt[0], p[SYMBOLS], total = 0;
                for (int c = 1; c < SYMBOLS; c++) {
                    mx = zt[c] > mx ? zt[c] : mx;
                }
                for (int c = 0; c < SYMBOLS; c++) {
                    total += p[c] = exp(zt[c] - mx);
                }
                double u = (double)(next_random(&rng) >> 11) * 0x1p-53 * total;
                int c = 0;
                while (c < SYMBOLS - 1 && (u -= p[c]) >= 0) {
                    c++;
                }
                if (c == 0 || t == STEPS - 2) {
                    live[r] = false; /* '.' ends the name; 15 letters is the longest */
                }
                if (c != 0) {
                    out[r][t] = (char)('a' + c - 1);
                    ids[r * STEPS + (size_t)t + 1] = c;
                }
            }
        }
        for (size_t r = 0; r < k; r++) {
            printf("%s\n", out[r]);
        }
    }
    free(ids);
    free(tg);
    free(z);
    free(out);
}

/* ---- flags ---- */

/* Takes --sample N and --cell KIND out of argv (the rest goes to parse_options). */
static void own_flags(int *argc, char **argv, long *n_sample, cell_kind *kind)
{
    int w = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sample") == 0 && v) {
            char *end;
            *n_sample = strtol(v, &end, 10);
            if (*end || *n_sample < 0) {
                fprintf(stderr, "names_lstm: --sample wants a count, not '%s'\n", v);
                exit(2);
            }
            i++;
        } else if (strcmp(a, "--cell") == 0 && v) {
            if (strcmp(v, "lstm") == 0) {
                *kind = CELL_LSTM;
            } else if (strcmp(v, "rnn") == 0) {
                *kind = CELL_RNN;
            } else if (strcmp(v, "gru") == 0) {
                *kind = CELL_GRU;
            } else {
                fprintf(stderr, "names_lstm: --cell is lstm, rnn or gru, not '%s'\n", v);
                exit(2);
            }
            i++;
        } else {
            if (strcmp(a, "--help") == 0) {
                fprintf(stderr, "names_lstm also takes:\n"
                                "  --sample N     print N names drawn from the model\n"
                                "  --cell KIND    lstm (default), rnn (tanh) or gru\n");
            }
            argv[w++] = argv[i];
        }
    }
    *argc = w;
}

int main(int argc, char **argv)
{
    long n_sample = 0;
    cell_kind kind = CELL_LSTM;
    own_flags(&argc, argv, &n_sample, &kind);
    options o = parse_options(argc, argv, true);
    char a[1024];
    names train, test;
    if (!read_names(&train, data_path(a, sizeof a, &o, "names-train.txt"))) {
        return 1;
    }
    if (!read_names(&test, data_path(a, sizeof a, &o, "names-test.txt"))) {
        free_names(&train);
        return 1;
    }

    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, o.seed);
    net m = net_new(g, kind);
    instance step = instance_new(g, &m, BATCH, true);
    instance eval = instance_new(g, &m, test.n < EVAL_BATCH ? test.n : EVAL_BATCH, false);
    nb_optim_options oo = nb_optim_defaults(NB_OPTIM_ADAM);
    oo.lr = 3e-3;
    oo.clip_norm = 5;
    nb_optim *opt = nb_optim_new(g, step.loss, m.n_params, m.params, step.grads, &oo);
    int32_t *ids = malloc(EVAL_BATCH * STEPS * sizeof *ids);
    int32_t *targets = malloc(EVAL_BATCH * STEPS * sizeof *targets);
    nb_batches b;
    if (!opt || !ids || !targets || nb_batches_init(&b, train.n, BATCH, o.seed) != NB_OK) {
        die(g, "setting up training");
    }
    size_t n_batches = nb_batches_count(&b);
    int epochs = o.epochs > 0 ? o.epochs : 8, start = 0;
    if (o.resume) {
        if (nb_checkpoint_load(g, o.resume, m.n_params, m.params, opt) != NB_OK) {
            die(g, "resume");
        }
        start = (int)(nb_optim_steps(opt) / (int64_t)n_batches);
        progress(&o, "resumed from %s after epoch %d (step %lld)\n", o.resume, start,
                 (long long)nb_optim_steps(opt));
    }
    double t0 = now_seconds();
    for (int epoch = start; epoch < epochs; epoch++) {
        double te = now_seconds(), sum = 0;
        size_t count = 0;
        b.rng = o.seed * 1000003u + (uint64_t)epoch; /* an epoch's order depends only on it */
        nb_batches_shuffle(&b);
        for (size_t k = 0; k < n_batches; k++) {
            /* the short last batch is padded with empty rows, which the loss ignores */
            size_t kept =
                load(g, &step, &train, b.order + k * BATCH, nb_batches_size(&b, k), ids, targets);
            if (nb_optim_step(opt) != NB_OK) {
                die(g, "training step");
            }
            sum += nb_optim_loss(opt) * (double)kept;
            count += kept;
        }
        double secs = now_seconds() - te;
        if (o.save && nb_checkpoint_save(g, o.save, m.n_params, m.params, opt) != NB_OK) {
            die(g, "save");
        }
        if (!o.quiet) {
            progress(&o, "epoch %2d/%d  train nll %.4f  test nll %.4f  %6.2f ms/step  %5.1f s\n",
                     epoch + 1, epochs, sum / (double)count,
                     mean_nll(g, &eval, &test, ids, targets), 1e3 * secs / (double)n_batches,
                     now_seconds() - t0);
        }
    }
    if (n_sample > 0) { /* its own small instance: each symbol is one run over the prefixes */
        instance few = instance_new(g, &m, SAMPLE_BATCH, false);
        sample(g, &few, (size_t)n_sample, o.seed);
    }
    printf("test nll: %.4f\n", mean_nll(g, &eval, &test, ids, targets));
    nb_batches_free(&b);
    nb_optim_free(opt);
    free(ids);
    free(targets);
    free_names(&train);
    free_names(&test);
    nb_graph_free(g);
    return 0;
}
