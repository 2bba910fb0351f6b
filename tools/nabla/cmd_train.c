/*
 * tools/nabla/cmd_train.c: `nabla train`: mini-batch training of a model
 * file's parameters on a CSV or IDX dataset with a chosen optimizer. The
 * model fixes the batch size (its features input is [B, F]); a last batch
 * of fewer than B examples is skipped, a different one in each epoch's
 * seeded order. Progress goes to stderr, the summary to stdout.
 *
 * Under mpirun (docs/distributed.md) every process trains the model on its
 * own B examples of each global batch of B x processes, the gradients are
 * summed, rank 0 prints and saves.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct optim_name {
    const char *name;
    nb_optim_kind kind;
    double momentum; /* default momentum for the SGD variants */
    bool nesterov;
} optim_name;

static const optim_name optims[] = {
    { "sgd", NB_OPTIM_SGD, 0, false },         { "momentum", NB_OPTIM_SGD, 0.9, false },
    { "nesterov", NB_OPTIM_SGD, 0.9, true },   { "adagrad", NB_OPTIM_ADAGRAD, 0, false },
    { "rmsprop", NB_OPTIM_RMSPROP, 0, false }, { "adam", NB_OPTIM_ADAM, 0, false },
    { "adamw", NB_OPTIM_ADAMW, 0, false },
};

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

/* The node whose outputs are scored for accuracy, or NULL when the loss is not a classifier's. */
static nb_node *scored(nb_node *loss, nb_node *y, bool *binary)
{
    const char *op = nb_node_op_name(loss);
    *binary = strcmp(op, "bce_logits") == 0;
    if ((strcmp(op, "cross_entropy") == 0 || *binary) && nb_node_input(loss, 1) == y) {
        return nb_node_input(loss, 0);
    }
    return NULL;
}

/*
 * Share of the full batches' examples (in file order) the logits classify
 * right, from evaluation runs (dropout off, batch_norm on its running
 * statistics) while the steps train; -1 on error.
 */
static double accuracy(nb_graph *g, const nb_dataset *ds, size_t batch, nb_node *x, nb_node *y,
                       nb_node *logits, bool binary)
{
    nb_batches b;
    if (nb_batches_init(&b, ds->rows, batch, 0) != NB_OK) {
        return -1;
    }
    size_t full = ds->rows / batch, hits = 0, total = 0, size = nb_node_size(logits);
    size_t per = size / batch;
    double *z = malloc(size * sizeof *z), *t = malloc(batch * sizeof *t);
    for (size_t k = 0; z && t && k < full; k++) {
        if (nb_dataset_load_batch(g, ds, &b, k, x, y) != NB_OK ||
            nb_graph_run_ex(g, 1, &logits, NB_RUN_EVAL) ||
            nb_node_read_f64(g, logits, z, size) != NB_OK ||
            nb_node_read_f64(g, y, t, batch) != NB_OK) {
            total = 0;
            break;
        }
        for (size_t i = 0; i < batch; i++) {
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
    free(z);
    free(t);
    nb_batches_free(&b);
    return total ? (double)hits / (double)total : -1;
}

int cmd_train(const cli *c)
{
    if (!c->loss || !c->data) {
        return cli_fail(c, EXIT_USAGE,
                        "train needs --loss NAME (the scalar to minimize) and --data FILE "
                        "(see nabla train --help)");
    }
    const optim_name *on = NULL;
    const char *oname = c->optim ? c->optim : "adam";
    for (size_t i = 0; i < sizeof optims / sizeof *optims && !on; i++) {
        if (strcmp(optims[i].name, oname) == 0) {
            on = &optims[i];
        }
    }
    if (!on) {
        return cli_fail(c, EXIT_USAGE,
                        "--optim %s: the optimizers are sgd, momentum, nesterov, adagrad, "
                        "rmsprop, adam and adamw",
                        oname);
    }
    if (nb_dist_init(NULL, NULL) != NB_OK) {
        return cli_fail(c, EXIT_USAGE, "%s", nb_dist_error());
    }
    /* under mpirun: rank 0 prints; each process's B examples make a global batch of B x size */
    int rank = nb_dist_rank(), size = nb_dist_size();
    bool quiet = c->quiet || rank != 0;
    FILE *out = rank == 0 ? stdout : fopen("/dev/null", "w");
    if (!out) {
        return cli_fail(c, EXIT_USAGE, "cannot open /dev/null");
    }
    model m;
    nb_dataset ds = { 0 };
    nb_batches b = { 0 };
    nb_optim *opt = NULL;
    nb_node *loss = NULL, *x = NULL, *y = NULL, **params = NULL, **grads = NULL;
    double *losses = NULL, *accs = NULL;
    size_t n_params = 0;
    int rc;
    if ((rc = model_load(c, &m, c->dtype)) != EXIT_OK ||
        !(loss = model_node(c, &m, c->loss, "--loss", &rc)) ||
        (rc = need_scalar(c, loss, "--loss")) != EXIT_OK ||
        !(x = find_input(c, &m, c->x_name, "x", 0, "--x", &rc)) ||
        !(y = find_input(c, &m, c->y_name, "y", 1, "--y", &rc))) {
        goto done;
    }
    char xs[96], ys[96];
    shape_string(x, xs, sizeof xs);
    shape_string(y, ys, sizeof ys);
    if (nb_node_rank(x) != 2 || nb_node_rank(y) != 1 ||
        nb_node_shape(x)[0] != nb_node_shape(y)[0]) {
        rc = cli_fail(c, EXIT_USAGE,
                      "the batch inputs must be features %s[B, F] and labels %s[B]; the model "
                      "declares %s%s and %s%s",
                      nb_node_name(x), nb_node_name(y), nb_node_name(x), xs, nb_node_name(y), ys);
        goto done;
    }
    size_t batch = (size_t)nb_node_shape(x)[0], cols = (size_t)nb_node_shape(x)[1];
    if (c->batch && (size_t)c->batch != batch) {
        rc = cli_fail(c, EXIT_USAGE,
                      "--batch %ld: the model fixes the batch size at %zu (%s%s); change the "
                      "first dimension of %s and %s in the model",
                      c->batch, batch, nb_node_name(x), xs, nb_node_name(x), nb_node_name(y));
        goto done;
    }
    /* the data */
    char err[1024];
    nb_status s =
        c->labels ? nb_dataset_read_idx(&ds, c->data, c->labels, err, sizeof err)
                  : nb_dataset_read_csv(&ds, c->data, c->label_column ? c->label_column : "label",
                                        err, sizeof err);
    if (s != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "%s", err);
        goto done;
    }
    if (ds.cols != cols) {
        rc = cli_fail(c, EXIT_USAGE, "%s has %zu features per example, but %s is %s", c->data,
                      ds.cols, nb_node_name(x), xs);
        goto done;
    }
    if (ds.rows < batch) {
        rc = cli_fail(c, EXIT_USAGE, "%s has %zu examples, fewer than one batch (%zu)", c->data,
                      ds.rows, batch);
        goto done;
    }
    if (c->scale) {
        nb_dataset_scale(&ds, c->scale);
    }
    if (c->standardize) {
        nb_dataset_standardize(&ds, NULL);
    }
    /*
     * the parameters (then the state nodes, which checkpoints carry beside
     * them: batch_norm's running statistics), their gradients and the optimizer
     */
    size_t n_states = 0;
    params = model_saved(&m, &n_params, &n_states);
    grads = malloc((n_params ? n_params : 1) * sizeof *grads);
    losses = calloc((size_t)c->epochs, sizeof *losses);
    accs = calloc((size_t)c->epochs, sizeof *accs);
    if (!params || !grads || !losses || !accs) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    if (n_params == 0) {
        rc = cli_fail(c, EXIT_USAGE, "%s has no parameters to train", m.path);
        goto done;
    }
    nb_optim_options oo = nb_optim_defaults(on->kind);
    oo.momentum = c->momentum ? c->momentum : on->momentum;
    oo.nesterov = on->nesterov;
    if (c->lr_given) {
        oo.lr = c->lr;
    }
    if (c->weight_decay || on->kind != NB_OPTIM_ADAMW) {
        oo.weight_decay = c->weight_decay;
    }
    oo.clip_norm = c->clip;
    oo.distributed = true; /* nothing changes in a run of one process */
    if (nb_grad(m.g, loss, n_params, params, grads) != NB_OK ||
        !(opt = nb_optim_new(m.g, loss, n_params, params, grads, &oo))) {
        rc = cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m.g));
        goto done;
    }
    if (nb_dist_broadcast(m.g, n_params + n_states, params) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m.g));
        goto done;
    }
    size_t global = batch * (size_t)size;
    if (nb_batches_init(&b, ds.rows, global, c->seed) != NB_OK ||
        nb_batches_shard(&b, rank, size) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    bool binary = false;
    nb_node *logits = scored(loss, y, &binary);
    size_t steps = ds.rows / global, skipped = ds.rows % global;
    if (!quiet) {
        fprintf(stderr,
                "training %s: %zu examples, %zu batches of %zu per epoch%s%s, %s, lr %g, %zu "
                "parameter tensor%s\n",
                c->loss, ds.rows, steps, global, size > 1 ? " (one part on each process)" : "",
                skipped ? " (the last partial batch is skipped)" : "", on->name, oo.lr, n_params,
                n_params == 1 ? "" : "s");
    }
    /*
     * the steps run in training mode (dropout drops, batch_norm updates its
     * running statistics); accuracy() asks for evaluation runs, which leave
     * them alone, so the reported accuracy does not change what is saved
     */
    nb_graph_set_training(m.g, true);
    for (int e = 0; e < c->epochs; e++) {
        b.rng = c->seed * 1000003u + (uint64_t)e; /* each epoch's order depends only on it */
        nb_batches_shuffle(&b);
        double sum = 0;
        for (size_t k = 0; k < steps; k++) {
            if (nb_dataset_load_batch(m.g, &ds, &b, k, x, y) != NB_OK) {
                rc = cli_fail(c, EXIT_USAGE, "loading a batch failed: %s", nb_graph_error(m.g));
                goto done;
            }
            s = nb_optim_step(opt);
            if (s != NB_OK) {
                rc = cli_fail(c, s == NB_ERR_VALUE ? EXIT_FAILED : EXIT_USAGE,
                              "epoch %d, step %zu: %s%s", e + 1, k + 1, nb_graph_error(m.g),
                              s == NB_ERR_VALUE ? " (training diverged? try a smaller --lr)" : "");
                goto done;
            }
            sum += nb_optim_loss(opt);
        }
        nb_dist_sum(&sum, 1);
        losses[e] = sum / (double)steps / (double)size;
        accs[e] =
            logits && (!c->quiet || c->json) ? accuracy(m.g, &ds, batch, x, y, logits, binary) : -1;
        if (!quiet) {
            fprintf(stderr, "epoch %*d/%d  loss %.6f", c->epochs >= 100 ? 4 : 3, e + 1, c->epochs,
                    losses[e]);
            if (accs[e] >= 0) {
                fprintf(stderr, "  accuracy %.4f", accs[e]);
            }
            fputc('\n', stderr);
        }
        if (c->save &&
            nb_dist_checkpoint_save(m.g, c->save, n_params + n_states, params, opt) != NB_OK) {
            rc = cli_fail(c, EXIT_USAGE, "--save %s: %s", c->save, nb_graph_error(m.g));
            goto done;
        }
    }
    if (c->json) {
        fputs("{\"loss\": ", out);
        json_string(out, c->loss);
        fprintf(
            out,
            ", \"epochs\": %d, \"steps\": %lld, \"batch\": %zu, \"skipped\": %zu, \"losses\": [",
            c->epochs, (long long)nb_optim_steps(opt), batch, skipped);
        for (int e = 0; e < c->epochs; e++) {
            fputs(e ? ", " : "", out);
            json_number(out, losses[e], NB_DTYPE_F64);
        }
        fputs("]", out);
        if (logits) {
            fputs(", \"accuracy\": [", out);
            for (int e = 0; e < c->epochs; e++) {
                fputs(e ? ", " : "", out);
                json_number(out, accs[e] >= 0 ? accs[e] : NAN, NB_DTYPE_F64);
            }
            fputs("]", out);
        }
        fputs(", \"saved\": ", out);
        if (c->save) {
            json_string(out, c->save);
        } else {
            fputs("null", out);
        }
        fputs("}\n", out);
    } else {
        fprintf(out, "trained %s for %d epoch%s (%lld steps): loss %.6f -> %.6f", c->loss,
                c->epochs, c->epochs == 1 ? "" : "s", (long long)nb_optim_steps(opt), losses[0],
                losses[c->epochs - 1]);
        if (logits && accs[c->epochs - 1] >= 0) {
            fprintf(out, ", accuracy %.4f", accs[c->epochs - 1]);
        }
        fputc('\n', out);
        if (c->save) {
            fprintf(out, "saved the parameters%s to %s (read them with --load %s)\n",
                    n_states ? " and the state nodes" : "", c->save, c->save);
        }
    }
done:
    nb_optim_free(opt);
    nb_batches_free(&b);
    nb_dataset_free(&ds);
    free(params);
    free(grads);
    free(losses);
    free(accs);
    model_free(&m);
    if (out != stdout) {
        fclose(out);
    }
    if (rc == EXIT_OK) {
        nb_dist_finalize(); /* a failed process leaves without it: mpirun ends the job */
    }
    return rc;
}
