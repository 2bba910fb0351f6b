/*
 * tools/nabla/cmd_eval.c: the numeric commands: eval (a node's value), grad
 * (a scalar's gradients) and check (those gradients against float64 finite
 * differences).
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int need_scalar(const cli *c, nb_node *n, const char *option)
{
    if (nb_node_rank(n) == 0) {
        if (nb_node_dtype(n) == NB_DTYPE_I32) {
            return cli_fail(c, EXIT_USAGE, "%s %s: %s holds i32 labels and has no gradient", option,
                            nb_node_name(n), nb_node_name(n));
        }
        return EXIT_OK;
    }
    char shape[96];
    shape_string(n, shape, sizeof shape);
    return cli_fail(c, EXIT_USAGE,
                    "%s %s: %s has shape %s, but a gradient needs a scalar output; reduce it "
                    "first, e.g. s = sum(%s), and use %s s",
                    option, nb_node_name(n), nb_node_name(n), shape, nb_node_name(n), option);
}

static int need_of(const cli *c)
{
    if (c->of) {
        return EXIT_OK;
    }
    return cli_fail(c, EXIT_USAGE, "which node? name it with --of NAME (see nabla %s --help)",
                    c->cmd_name);
}

static int run(const cli *c, nb_graph *g, size_t n, nb_node *const *outs)
{
    if (nb_graph_run(g, n, outs) != NB_OK) {
        return cli_fail(c, EXIT_USAGE, "running the model failed: %s", nb_graph_error(g));
    }
    cli_run_warning(c, g);
    return EXIT_OK;
}

/* Prints "label = value" with continuation lines under the value's first bracket. */
static void print_named(FILE *f, const char *label, nb_graph *g, const nb_node *n)
{
    double *v = node_values(g, n);
    fprintf(f, "%s = ", label);
    if (!v) {
        fputs("(no value)\n", f);
        return;
    }
    human_values(f, v, nb_node_rank(n), nb_node_shape(n), (int)strlen(label) + 3, 1000);
    free(v);
}

/*
 * eval --data: the scalar --of (a loss) over a dataset's full batches in
 * evaluation mode, with its accuracy when it is a classifier's loss; the
 * features are standardized with the statistics --load brought, if any.
 */
static int eval_data(const cli *c)
{
    model m;
    nb_dataset ds = { 0 };
    nb_node *loss = NULL, *x = NULL, *y = NULL;
    int rc;
    heldout h;
    if ((rc = model_load(c, &m, c->dtype)) != EXIT_OK ||
        !(loss = model_node(c, &m, c->of, "--of", &rc)) ||
        (rc = need_scalar(c, loss, "--of")) != EXIT_OK ||
        (rc = data_inputs(c, &m, &x, &y)) != EXIT_OK ||
        (rc = data_read(c, c->data, c->labels, "--data", "--labels", &ds)) != EXIT_OK ||
        (rc = data_check(c, c->data, &ds, x, true)) != EXIT_OK ||
        (rc = data_apply_saved(c, &m, &ds)) != EXIT_OK) {
        goto done;
    }
    if (c->standardize && !m.norm_mean) {
        rc = cli_fail(c, EXIT_USAGE,
                      "--standardize: eval applies the training data's statistics, which "
                      "nabla train --standardize --save FILE keeps in the checkpoint; give it "
                      "with --load FILE%s",
                      c->load ? " (this one has none)" : "");
        goto done;
    }
    if (data_heldout(m.g, &ds, x, y, loss, true, 1, &h) != 0) {
        rc = cli_fail(c, EXIT_USAGE, "running the model failed: %s", nb_graph_error(m.g));
        goto done;
    }
    if (c->json) {
        fputs("{\"of\": ", stdout);
        json_string(stdout, c->of);
        fputs(", \"data\": ", stdout);
        json_string(stdout, c->data);
        fputs(", \"loss\": ", stdout);
        json_number(stdout, h.loss, NB_DTYPE_F64);
        fputs(", \"accuracy\": ", stdout);
        json_number(stdout, h.accuracy >= 0 ? h.accuracy : NAN, NB_DTYPE_F64);
        printf(", \"examples\": %zu, \"skipped\": %zu, \"standardized\": %s}\n", h.examples,
               h.skipped, m.norm_mean ? "true" : "false");
    } else {
        printf("%s over %s (%zu examples%s%s): %.6f", c->of, c->data, h.examples,
               h.skipped ? ", the last partial batch skipped" : "",
               m.norm_mean ? ", standardized as in training" : "", h.loss);
        if (h.accuracy >= 0) {
            printf(", accuracy %.4f", h.accuracy);
        }
        putchar('\n');
    }
done:
    nb_dataset_free(&ds);
    model_free(&m);
    return rc;
}

int cmd_eval(const cli *c)
{
    int rc = need_of(c);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (c->data) {
        return eval_data(c);
    }
    model m;
    nb_node *y = NULL;
    if ((rc = model_load(c, &m, c->dtype)) == EXIT_OK &&
        (y = model_node(c, &m, c->of, "--of", &rc)) && (rc = run(c, m.g, 1, &y)) == EXIT_OK) {
        if (c->json) {
            fputs("{\"of\": ", stdout);
            json_string(stdout, c->of);
            fputs(", \"shape\": [", stdout);
            for (int i = 0; i < nb_node_rank(y); i++) {
                printf("%s%lld", i ? ", " : "", (long long)nb_node_shape(y)[i]);
            }
            fputs("], \"value\": ", stdout);
            json_node(stdout, m.g, y);
            fputs("}\n", stdout);
        } else {
            print_named(stdout, c->of, m.g, y);
        }
    }
    model_free(&m);
    return rc;
}

int cmd_grad(const cli *c)
{
    int rc = need_of(c);
    if (rc != EXIT_OK) {
        return rc;
    }
    model m;
    nb_node *y = NULL, **wrt = NULL, **outs = NULL;
    size_t n = 0;
    if ((rc = model_load(c, &m, c->dtype)) != EXIT_OK ||
        !(y = model_node(c, &m, c->of, "--of", &rc)) || (rc = need_scalar(c, y, "--of")) ||
        (rc = model_wrt(c, &m, &wrt, &n)) != EXIT_OK) {
        goto done;
    }
    outs = malloc((n + 1) * sizeof *outs);
    if (!outs) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    outs[0] = y;
    if (nb_grad(m.g, y, n, wrt, outs + 1) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m.g));
        goto done;
    }
    if ((rc = run(c, m.g, n + 1, outs)) != EXIT_OK) {
        goto done;
    }
    if (c->json) {
        fputs("{\"of\": ", stdout);
        json_string(stdout, c->of);
        fputs(", \"value\": ", stdout);
        json_node(stdout, m.g, y);
        fputs(", \"grads\": {", stdout);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ", " : "", stdout);
            json_string(stdout, nb_node_name(wrt[i]));
            fputs(": ", stdout);
            json_node(stdout, m.g, outs[i + 1]);
        }
        fputs("}}\n", stdout);
    } else {
        print_named(stdout, c->of, m.g, y);
        for (size_t i = 0; i < n; i++) {
            char label[600];
            snprintf(label, sizeof label, "d%s/d%s", c->of, nb_node_name(wrt[i]));
            print_named(stdout, label, m.g, outs[i + 1]);
        }
    }
done:
    free(outs);
    free(wrt);
    model_free(&m);
    return rc;
}

/* "w[1, 2]" for element index i of n (flat, row-major). */
static void element_name(nb_node *n, size_t i, char *buf, size_t cap)
{
    int rank = nb_node_rank(n);
    const int64_t *shape = nb_node_shape(n);
    size_t idx[NB_MAX_RANK];
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = i % (size_t)shape[d];
        i /= (size_t)shape[d];
    }
    size_t at = (size_t)snprintf(buf, cap, "%s", nb_node_name(n));
    if (rank == 0 || at >= cap) {
        return;
    }
    at += (size_t)snprintf(buf + at, cap - at, "[");
    for (int d = 0; d < rank && at < cap; d++) {
        at += (size_t)snprintf(buf + at, cap - at, "%s%zu", d ? ", " : "", idx[d]);
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, "]");
    }
}

int cmd_check(const cli *c)
{
    int rc = need_of(c);
    if (rc != EXIT_OK) {
        return rc;
    }
    model m;
    nb_node *y = NULL, **wrt = NULL;
    nb_gradcheck_result *res = NULL;
    size_t n = 0;
    if ((rc = model_load(c, &m, NB_DTYPE_F64)) != EXIT_OK ||
        !(y = model_node(c, &m, c->of, "--of", &rc)) || (rc = need_scalar(c, y, "--of")) ||
        (rc = model_wrt(c, &m, &wrt, &n)) != EXIT_OK) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (nb_node_kind(wrt[i]) == NB_KIND_OP) {
            rc = cli_fail(c, EXIT_USAGE,
                          "--wrt %s: check perturbs parameters and inputs, and %s is computed",
                          nb_node_name(wrt[i]), nb_node_name(wrt[i]));
            goto done;
        }
    }
    /*
     * finite differences compare runs, and in training mode each run draws a
     * new dropout mask: the differences would measure the masks, not the slope
     */
    for (size_t i = 0; c->train && i < nb_graph_node_count(m.g); i++) {
        nb_node *v = nb_graph_node(m.g, i);
        if (strcmp(nb_node_op_name(v), "dropout") == 0) {
            rc = cli_fail(c, EXIT_USAGE,
                          "--train: %s is dropout, which draws a new mask in every training run, "
                          "so finite differences cannot agree with the gradient; check in "
                          "evaluation mode (without --train), or set its p to 0",
                          nb_node_name(v));
            goto done;
        }
    }
    res = calloc(n ? n : 1, sizeof *res);
    if (!res) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    nb_gradcheck_options o = nb_gradcheck_defaults();
    o.eps = c->eps;
    o.rtol = c->rtol;
    o.atol = c->atol;
    if (nb_gradcheck(m.g, y, n, wrt, &o, res) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "the check could not run: %s", nb_graph_error(m.g));
        goto done;
    }
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed += !res[i].passed;
    }
    if (c->json) {
        fputs("{\"of\": ", stdout);
        json_string(stdout, c->of);
        printf(", \"passed\": %s, \"eps\": ", failed ? "false" : "true");
        json_number(stdout, o.eps, NB_DTYPE_F64);
        fputs(", \"rtol\": ", stdout);
        json_number(stdout, o.rtol, NB_DTYPE_F64);
        fputs(", \"atol\": ", stdout);
        json_number(stdout, o.atol, NB_DTYPE_F64);
        fputs(", \"results\": {", stdout);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ", " : "", stdout);
            json_string(stdout, nb_node_name(wrt[i]));
            fputs(": {\"max_rel_err\": ", stdout);
            json_number(stdout, res[i].max_rel_err, NB_DTYPE_F64);
            fputs(", \"max_abs_err\": ", stdout);
            json_number(stdout, res[i].max_abs_err, NB_DTYPE_F64);
            printf(", \"passed\": %s, \"worst_index\": %zu, \"analytic\": ",
                   res[i].passed ? "true" : "false", res[i].worst_index);
            json_number(stdout, res[i].analytic, NB_DTYPE_F64);
            fputs(", \"numeric\": ", stdout);
            json_number(stdout, res[i].numeric, NB_DTYPE_F64);
            fputs("}", stdout);
        }
        fputs("}}\n", stdout);
    } else {
        printf("gradient check of %s: central differences in float64, eps %g,\n"
               "an element passes when |analytic - numeric| <= %g + %g |numeric|\n",
               c->of, o.eps, o.atol, o.rtol);
        int width = 4;
        for (size_t i = 0; i < n; i++) {
            int w = (int)strlen(nb_node_name(wrt[i]));
            width = w > width ? w : width;
        }
        bool noise = false;
        printf("  %-*s  %-13s  %-13s  result\n", width, "leaf", "max rel error", "max abs error");
        for (size_t i = 0; i < n; i++) {
            char rel[32], abs_[32];
            /* differences below atol are rounding noise: their relative size means nothing */
            if (res[i].max_abs_err <= o.atol && res[i].max_rel_err > o.rtol) {
                snprintf(rel, sizeof rel, "-");
                noise = true;
            } else {
                snprintf(rel, sizeof rel, "%.3g", res[i].max_rel_err);
            }
            snprintf(abs_, sizeof abs_, "%.3g", res[i].max_abs_err);
            printf("  %-*s  %-13s  %-13s  ", width, nb_node_name(wrt[i]), rel, abs_);
            if (res[i].passed) {
                puts("ok");
            } else {
                char el[256], a[32], nu[32];
                element_name(wrt[i], res[i].worst_index, el, sizeof el);
                human_number(a, sizeof a, res[i].analytic);
                human_number(nu, sizeof nu, res[i].numeric);
                printf("FAILED: worst at %s, analytic %s, numeric %s\n", el, a, nu);
            }
        }
        if (noise) {
            printf("  (-: every difference is below atol: the relative errors of values near 0 are "
                   "noise)\n");
        }
        if (failed) {
            printf("%zu of %zu gradient%s disagree%s with finite differences\n"
                   "(at a kink, such as relu or abs at exactly 0 or a tie in max, finite\n"
                   "differences straddle it and cannot agree: move the point with --set)\n",
                   failed, n, n == 1 ? "" : "s", n == 1 ? "s" : "");
        } else {
            printf(n == 1 ? "the gradient agrees with finite differences\n"
                          : "all %zu gradients agree with finite differences\n",
                   n);
        }
    }
    rc = failed ? EXIT_FAILED : EXIT_OK;
done:
    free(res);
    free(wrt);
    model_free(&m);
    return rc;
}
