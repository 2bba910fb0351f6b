/*
 * tools/nabla/data.c: datasets for train and eval: reading CSV or IDX files
 * (and saying what an IDX file without --labels needs), finding the batch
 * inputs, --standardize's statistics kept as two state nodes so that
 * checkpoints carry them, and held-out figures (mean loss and accuracy over
 * a dataset's full batches, in evaluation mode).
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* True when path starts with an IDX magic number (0x00000801 .. 0x0000080d). */
static bool looks_like_idx(const char *path, unsigned *magic)
{
    FILE *f = fopen(path, "rb");
    unsigned char b[4];
    bool idx = f && fread(b, 1, 4, f) == 4 && b[0] == 0 && b[1] == 0 && b[2] == 8 && b[3] >= 1 &&
               b[3] <= 0x0d;
    if (f) {
        fclose(f);
    }
    *magic = idx ? 0x800u | b[3] : 0;
    return idx;
}

int data_read(const cli *c, const char *path, const char *labels, const char *option,
              const char *labels_option, nb_dataset *ds)
{
    char err[1024];
    unsigned magic = 0;
    if (!labels && looks_like_idx(path, &magic)) {
        return cli_fail(c, EXIT_USAGE,
                        "%s %s is an IDX %s file (magic 0x%08x); IDX needs %s FILE, the labels "
                        "file (MNIST's train-labels-idx1-ubyte); CSV files carry their labels "
                        "in a column",
                        option, path, magic == 0x803 ? "images" : "data", magic, labels_option);
    }
    nb_status s = labels
                      ? nb_dataset_read_idx(ds, path, labels, err, sizeof err)
                      : nb_dataset_read_csv(ds, path, c->label_column ? c->label_column : "label",
                                            err, sizeof err);
    if (s != NB_OK) {
        return cli_fail(c, EXIT_USAGE, "%s", err);
    }
    if (c->scale) {
        nb_dataset_scale(ds, c->scale);
    }
    return EXIT_OK;
}

/* The input named by an option, or by default x / y, or else the model's only two inputs. */
static nb_node *find_input(const cli *c, const model *m, const char *given, const char *dflt,
                           int which, const char *option, int *rc)
{
    nb_node *n = NULL;
    if (given) {
        n = model_node(c, m, given, option, rc);
    } else if (!(n = nb_graph_find(m->g, dflt))) {
        nb_node *inputs[2];
        size_t k = 0, count = nb_graph_node_count(m->g);
        for (size_t i = 0; i < count; i++) {
            nb_node *v = nb_graph_node(m->g, i);
            if (nb_node_kind(v) == NB_KIND_INPUT) {
                if (k < 2) {
                    inputs[k] = v;
                }
                k++;
            }
        }
        if (k != 2) {
            *rc =
                cli_fail(c, EXIT_USAGE, "%s has no input named %s: name the %s input with %s INPUT",
                         m->path, dflt, which == 0 ? "features" : "labels", option);
            return NULL;
        }
        n = inputs[which];
    }
    if (n && nb_node_kind(n) != NB_KIND_INPUT) {
        *rc = cli_fail(c, EXIT_USAGE, "%s %s: %s is not an input", option, nb_node_name(n),
                       nb_node_name(n));
        return NULL;
    }
    return n;
}

int data_inputs(const cli *c, const model *m, nb_node **x, nb_node **y)
{
    int rc = EXIT_OK;
    if (!(*x = find_input(c, m, c->x_name, "x", 0, "--x", &rc)) ||
        !(*y = find_input(c, m, c->y_name, "y", 1, "--y", &rc))) {
        return rc;
    }
    char xs[96], ys[96];
    shape_string(*x, xs, sizeof xs);
    shape_string(*y, ys, sizeof ys);
    if (nb_node_rank(*x) != 2 || nb_node_rank(*y) != 1 ||
        nb_node_shape(*x)[0] != nb_node_shape(*y)[0]) {
        return cli_fail(c, EXIT_USAGE,
                        "the batch inputs must be features %s[B, F] and labels %s[B]; the model "
                        "declares %s%s and %s%s",
                        nb_node_name(*x), nb_node_name(*y), nb_node_name(*x), xs, nb_node_name(*y),
                        ys);
    }
    return EXIT_OK;
}

int data_check(const cli *c, const char *path, const nb_dataset *ds, nb_node *x, bool need_batch)
{
    size_t batch = (size_t)nb_node_shape(x)[0], cols = (size_t)nb_node_shape(x)[1];
    char xs[96];
    shape_string(x, xs, sizeof xs);
    if (ds->cols != cols) {
        return cli_fail(c, EXIT_USAGE, "%s has %zu features per example, but %s is %s", path,
                        ds->cols, nb_node_name(x), xs);
    }
    if (need_batch && ds->rows < batch) {
        return cli_fail(c, EXIT_USAGE, "%s has %zu examples, fewer than one batch (%zu)", path,
                        ds->rows, batch);
    }
    return EXIT_OK;
}

/* ---- standardization statistics ---- */

int data_norm_nodes(const cli *c, model *m, size_t cols)
{
    static const char *const names[2] = { NORM_MEAN, NORM_STD };
    nb_node **at[2] = { &m->norm_mean, &m->norm_std };
    for (int k = 0; k < 2; k++) {
        if (*at[k]) {
            if (nb_node_size(*at[k]) != cols) {
                return cli_fail(c, EXIT_USAGE,
                                "--load %s: its standardization statistics are for %zu "
                                "features, the data has %zu",
                                c->load, nb_node_size(*at[k]), cols);
            }
            continue;
        }
        *at[k] = nb_node_set_name(m->g, nb_state(m->g, NB_DTYPE_F64, NB_SHAPE((int64_t)cols), 0),
                                  names[k]);
        if (!*at[k]) {
            return cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m->g));
        }
    }
    return EXIT_OK;
}

int data_standardize(const cli *c, model *m, nb_dataset *train, nb_dataset *test)
{
    int rc = data_norm_nodes(c, m, train->cols);
    if (rc != EXIT_OK) {
        return rc;
    }
    double *mean = malloc((train->cols ? train->cols : 1) * 2 * sizeof *mean);
    if (!mean) {
        return cli_fail(c, EXIT_USAGE, "out of memory");
    }
    double *std = mean + train->cols;
    nb_dataset_moments(train, mean, std);
    nb_dataset_normalize(train, mean, std);
    if (test) {
        nb_dataset_normalize(test, mean, std);
    }
    if (nb_node_write_f64(m->g, m->norm_mean, mean, train->cols) != NB_OK ||
        nb_node_write_f64(m->g, m->norm_std, std, train->cols) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m->g));
    }
    free(mean);
    return rc;
}

int data_apply_saved(const cli *c, model *m, nb_dataset *ds)
{
    if (!m->norm_mean || !m->norm_std) {
        return EXIT_OK;
    }
    if (nb_node_size(m->norm_mean) != ds->cols) {
        return cli_fail(c, EXIT_USAGE,
                        "--load %s: its standardization statistics are for %zu features, the "
                        "data has %zu",
                        c->load, nb_node_size(m->norm_mean), ds->cols);
    }
    double *mean = node_values(m->g, m->norm_mean), *std = node_values(m->g, m->norm_std);
    if (!mean || !std) {
        free(mean);
        free(std);
        return cli_fail(c, EXIT_USAGE, "out of memory");
    }
    nb_dataset_normalize(ds, mean, std);
    free(mean);
    free(std);
    return EXIT_OK;
}

/* ---- held-out figures ---- */

nb_node *data_scored(nb_node *loss, nb_node *y, bool *binary)
{
    const char *op = nb_node_op_name(loss);
    *binary = strcmp(op, "bce_logits") == 0;
    if ((strcmp(op, "cross_entropy") == 0 || *binary) && nb_node_input(loss, 1) == y) {
        return nb_node_input(loss, 0);
    }
    return NULL;
}

/*
 * Under mpirun each process takes its part of every global batch (the model's
 * batch times the processes and the micro-batches, as training does) and the
 * counts are summed, so the figures cover the rows one process with the
 * global batch would, with no process doing the whole set.
 */
int data_heldout(nb_graph *g, const nb_dataset *ds, nb_node *x, nb_node *y, nb_node *loss,
                 bool want_loss, int micro, heldout *h)
{
    size_t batch = (size_t)nb_node_shape(x)[0];
    int rank = nb_dist_rank(), procs = nb_dist_size();
    micro = micro > 0 ? micro : 1;
    int parts =
        procs * micro; /* this process takes parts rank * micro to rank * micro + micro - 1 */
    size_t global = batch * (size_t)parts;
    bool binary = false;
    nb_node *logits = data_scored(loss, y, &binary);
    memset(h, 0, sizeof *h);
    h->accuracy = -1;
    h->loss = NAN;
    size_t full = ds->rows / global, hits = 0, total = 0;
    size_t size = logits ? nb_node_size(logits) : 0, per = logits ? size / batch : 0;
    double *z = malloc((size ? size : 1) * sizeof *z), *t = malloc(batch * sizeof *t);
    double sum = 0;
    int rc = z && t ? 0 : -1;
    nb_node *outs[2];
    size_t n_outs = 0;
    if (want_loss) {
        outs[n_outs++] = loss;
    }
    if (logits) {
        outs[n_outs++] = logits;
    }
    for (int part = rank * micro; rc == 0 && part < rank * micro + micro && n_outs; part++) {
        nb_batches b;
        if (nb_batches_init(&b, ds->rows, global, 0) != NB_OK) {
            rc = -1;
            break;
        }
        rc = nb_batches_shard(&b, part, parts) == NB_OK ? 0 : -1;
        for (size_t k = 0; rc == 0 && k < full; k++) {
            double lv = 0;
            if (nb_dataset_load_batch(g, ds, &b, k, x, y) != NB_OK ||
                nb_graph_run_ex(g, n_outs, outs, NB_RUN_EVAL) != NB_OK ||
                (want_loss && nb_node_read_f64(g, loss, &lv, 1) != NB_OK) ||
                (logits && (nb_node_read_f64(g, logits, z, size) != NB_OK ||
                            nb_node_read_f64(g, y, t, batch) != NB_OK))) {
                rc = -1;
                break;
            }
            sum += lv;
            for (size_t i = 0; logits && i < batch; i++) {
                if (binary) {
                    for (size_t j = 0; j < per; j++) {
                        hits += (z[i * per + j] > 0) == (t[i] > 0.5);
                        total++;
                    }
                    continue;
                }
                size_t best = 0;
                for (size_t j = 1; j < per; j++) {
                    best = z[i * per + j] > z[i * per + best] ? j : best;
                }
                hits += (double)best == t[i];
                total++;
            }
        }
        nb_batches_free(&b);
    }
    free(z);
    free(t);
    /* every process sums, a failed one too, so none waits for another that left */
    double counts[4] = { (double)hits, (double)total, sum, rc != 0 };
    if (procs > 1 && nb_dist_sum(counts, 4) != NB_OK) {
        counts[3] = 1;
    }
    rc = counts[3] != 0 ? -1 : 0;
    if (rc == 0) {
        h->examples = full * global;
        h->skipped = ds->rows - h->examples;
        /* each process's batch loss is a mean over its part: their mean is the global batch's */
        h->loss = want_loss && full ? counts[2] / (double)(full * (size_t)parts) : NAN;
        h->accuracy = counts[1] > 0 ? counts[0] / counts[1] : -1;
    }
    return rc;
}
