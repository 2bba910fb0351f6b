/*
 * tools/nabla/cmd_train.c: `nabla train`: mini-batch training of a model
 * file's parameters on a CSV or IDX dataset with a chosen optimizer. The
 * model fixes the batch size (its features input is [B, F]); a last batch
 * of fewer than B examples is skipped, a different one in each epoch's
 * seeded order. Progress goes to stderr, the summary to stdout.
 *
 * Under mpirun (docs/distributed.md) every process trains the model on its
 * own B examples of each global batch of B x processes, the gradients are
 * summed, rank 0 prints and saves. With --micro-batches M each process
 * accumulates M batches of B a step (nb_optim_accumulate): one process with
 * M = 2 trains as two processes do, bit for bit.
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
        suggest sg;
        suggest_init(&sg, oname, strlen(oname));
        for (size_t i = 0; i < sizeof optims / sizeof *optims; i++) {
            suggest_try(&sg, optims[i].name);
        }
        char note[128] = "";
        if (sg.best) {
            snprintf(note, sizeof note, "did you mean '%s'? ", sg.best);
        }
        return cli_fail(c, EXIT_USAGE,
                        "--optim %s: %sthe optimizers are sgd, momentum, nesterov, adagrad, "
                        "rmsprop, adam and adamw",
                        oname, note);
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
    nb_dataset ds = { 0 }, test = { 0 };
    int micro = c->micro > 0 ? c->micro : 1;
    nb_batches *parts = NULL; /* this process's micro-batches of every global batch */
    heldout ho = { 0 };
    nb_optim *opt = NULL;
    nb_node *loss = NULL, *x = NULL, *y = NULL, **params = NULL, **grads = NULL;
    double *losses = NULL, *accs = NULL;
    size_t n_params = 0;
    int rc;
    if ((rc = model_load(c, &m, c->dtype)) != EXIT_OK ||
        !(loss = model_node(c, &m, c->loss, "--loss", &rc)) ||
        (rc = need_scalar(c, loss, "--loss")) != EXIT_OK ||
        (rc = data_inputs(c, &m, &x, &y)) != EXIT_OK) {
        goto done;
    }
    char xs[96];
    shape_string(x, xs, sizeof xs);
    size_t batch = (size_t)nb_node_shape(x)[0];
    if (c->batch && (size_t)c->batch != batch) {
        rc = cli_fail(c, EXIT_USAGE,
                      "--batch %ld: the model fixes the batch size at %zu (%s%s); change the "
                      "first dimension of %s and %s in the model",
                      c->batch, batch, nb_node_name(x), xs, nb_node_name(x), nb_node_name(y));
        goto done;
    }
    /* the data, and the held-out data standardized with the training statistics */
    if ((rc = data_read(c, c->data, c->labels, "--data", "--labels", &ds)) != EXIT_OK ||
        (rc = data_check(c, c->data, &ds, x, true)) != EXIT_OK) {
        goto done;
    }
    if (c->test && ((rc = data_read(c, c->test, c->test_labels, "--test", "--test-labels",
                                    &test)) != EXIT_OK ||
                    (rc = data_check(c, c->test, &test, x, true)) != EXIT_OK)) {
        goto done;
    }
    if (c->standardize) {
        if ((rc = data_standardize(c, &m, &ds, c->test ? &test : NULL)) != EXIT_OK) {
            goto done;
        }
    } else if (c->test && (rc = data_apply_saved(c, &m, &test)) != EXIT_OK) {
        goto done;
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
    size_t global = batch * (size_t)size * (size_t)micro;
    parts = calloc((size_t)micro, sizeof *parts);
    for (int j = 0; parts && j < micro; j++) {
        if (nb_batches_init(&parts[j], ds.rows, global, c->seed) != NB_OK ||
            nb_batches_shard(&parts[j], rank * micro + j, size * micro) != NB_OK) {
            nb_batches_free(&parts[j]);
            for (int i = 0; i < j; i++) {
                nb_batches_free(&parts[i]);
            }
            free(parts);
            parts = NULL;
        }
    }
    if (!parts) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    bool binary = false;
    nb_node *logits = data_scored(loss, y, &binary);
    size_t steps = ds.rows / global, skipped = ds.rows % global;
    if (!quiet) {
        fprintf(stderr,
                "training %s: %zu examples, %zu batches of %zu per epoch%s%s%s, %s, lr %g, %zu "
                "parameter tensor%s\n",
                c->loss, ds.rows, steps, global, size > 1 ? " (one part on each process)" : "",
                micro > 1 ? (size > 1 ? " as micro-batches of B on each" : " as micro-batches of B")
                          : "",
                skipped ? " (the last partial batch is skipped)" : "", on->name, oo.lr, n_params,
                n_params == 1 ? "" : "s");
    }
    /*
     * the steps run in training mode (dropout drops, batch_norm updates its
     * running statistics); accuracy() asks for evaluation runs, which leave
     * them alone, so the reported accuracy does not change what is saved
     */
    nb_graph_set_training(m.g, true);
    double first = 0; /* the first step's loss, the yardstick of divergence */
    for (int e = 0; e < c->epochs; e++) {
        for (int j = 0; j < micro; j++) { /* each epoch's order depends only on it */
            parts[j].rng = c->seed * 1000003u + (uint64_t)e;
            nb_batches_shuffle(&parts[j]);
        }
        double sum = 0;
        for (size_t k = 0; k < steps * (size_t)micro; k++) {
            int j = (int)(k % (size_t)micro);
            if (nb_dataset_load_batch(m.g, &ds, &parts[j], k / (size_t)micro, x, y) != NB_OK) {
                rc = cli_fail(c, EXIT_USAGE, "loading a batch failed: %s", nb_graph_error(m.g));
                goto done;
            }
            nb_optim_set_share(opt, 1.0 / (double)(size * micro));
            nb_status s = j + 1 < micro ? nb_optim_accumulate(opt, NULL, NULL) : nb_optim_step(opt);
            if (s != NB_OK) {
                rc = cli_fail(c, s == NB_ERR_VALUE ? EXIT_FAILED : EXIT_USAGE,
                              "epoch %d, step %zu: %s%s", e + 1, k / (size_t)micro + 1,
                              nb_graph_error(m.g),
                              s == NB_ERR_VALUE ? " (training diverged? try a smaller --lr)" : "");
                goto done;
            }
            sum += nb_optim_loss(opt);
            if (e == 0 && k == 0) {
                first = nb_optim_loss(opt);
            }
        }
        nb_dist_sum(&sum, 1);
        losses[e] = sum / (double)steps / (double)(size * micro);
        /*
         * a loss that is no longer finite, or has grown a thousandfold over the
         * first step's (nb_optim_diverged), will not come back: stop and say so
         */
        if (nb_optim_diverged(opt, losses[e])) {
            rc = cli_fail(c, EXIT_FAILED,
                          "training diverged at epoch %d: the mean loss is %g, the first step's "
                          "was %g; try a smaller --lr (now %g)",
                          e + 1, losses[e], first, oo.lr);
            goto done;
        }
        heldout tr;
        accs[e] = logits && (!c->quiet || c->json) &&
                          data_heldout(m.g, &ds, x, y, loss, false, micro, &tr) == 0
                      ? tr.accuracy
                      : -1;
        bool test_now = c->test && (c->verbose || e + 1 == c->epochs);
        if (test_now && data_heldout(m.g, &test, x, y, loss, true, micro, &ho) != 0) {
            rc = cli_fail(c, EXIT_USAGE, "evaluating --test %s failed: %s", c->test,
                          nb_graph_error(m.g));
            goto done;
        }
        if (!quiet) {
            fprintf(stderr, "epoch %*d/%d  loss %.6f", c->epochs >= 100 ? 4 : 3, e + 1, c->epochs,
                    losses[e]);
            if (accs[e] >= 0) {
                fprintf(stderr, "  accuracy %.4f", accs[e]);
            }
            if (test_now && c->verbose) {
                fprintf(stderr, "  test loss %.6f", ho.loss);
                if (ho.accuracy >= 0) {
                    fprintf(stderr, "  test accuracy %.4f", ho.accuracy);
                }
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
        if (c->test) {
            fputs(", \"test\": {\"loss\": ", out);
            json_number(out, ho.loss, NB_DTYPE_F64);
            fputs(", \"accuracy\": ", out);
            json_number(out, ho.accuracy >= 0 ? ho.accuracy : NAN, NB_DTYPE_F64);
            fprintf(out, ", \"examples\": %zu, \"skipped\": %zu}", ho.examples, ho.skipped);
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
        if (c->test) {
            fprintf(out, "test (%s, %zu examples%s): loss %.6f", c->test, ho.examples,
                    ho.skipped ? ", the last partial batch skipped" : "", ho.loss);
            if (ho.accuracy >= 0) {
                fprintf(out, ", accuracy %.4f", ho.accuracy);
            }
            fputc('\n', out);
        }
        if (c->save) {
            size_t model_states = n_states - (m.norm_mean ? 2 : 0);
            fprintf(out, "saved the parameters%s%s to %s (read them with --load %s)\n",
                    model_states ? (m.norm_mean ? ", the state nodes" : " and the state nodes")
                                 : "",
                    m.norm_mean ? " and the standardization statistics" : "", c->save, c->save);
        }
    }
done:
    nb_optim_free(opt);
    for (int j = 0; parts && j < micro; j++) {
        nb_batches_free(&parts[j]);
    }
    free(parts);
    nb_dataset_free(&ds);
    nb_dataset_free(&test);
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
