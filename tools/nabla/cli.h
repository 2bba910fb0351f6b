/*
 * tools/nabla/cli.h: what the files of the `nabla` command share: the parsed
 * command line, the loaded model (a graph and its source text), error
 * reporting with exit statuses, and value printing (JSON and human).
 * The command uses only the public API (nabla.h).
 */
#ifndef NABLA_CLI_H
#define NABLA_CLI_H

#define _POSIX_C_SOURCE 200809L

#include <nabla.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses: the JSON contract and docs/cli.md promise these. */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1, /* the command ran and found a failure (a check over tolerance) */
    EXIT_USAGE = 2,  /* a bad model, bad arguments, or unreadable input files */
};

/* The subcommands, as bits so an option can list the ones that take it. */
enum {
    CMD_EVAL = 1 << 0,
    CMD_GRAD = 1 << 1,
    CMD_DEPTH = 1 << 2,
    CMD_DOT = 1 << 3,
    CMD_TRACE = 1 << 4,
    CMD_CHECK = 1 << 5,
    CMD_TRAIN = 1 << 6,
};

/* One --set NAME=VALUE. */
typedef struct cli_set {
    char name[256];
    const char *value;
} cli_set;

/* The command line after parsing; which fields apply depends on the command. */
typedef struct cli {
    int cmd;
    const char *cmd_name;
    const char *model_path;
    const char *of;
    const char *wrt; /* comma-separated */
    cli_set *sets;
    size_t n_sets;
    nb_dtype dtype;
    bool json;
    uint64_t seed;
    const char *load; /* checkpoint to read parameters and state nodes from */
    bool train;       /* run in training mode (eval, grad, dot, trace, check) */
    /* depth, dot */
    int scopes;   /* 0: over ops; k >= 1: over scopes of level k */
    int concepts; /* depth --concepts: 0, or the level of the concept graph */
    bool grad;
    bool no_simplify; /* grad, depth, dot: nb_grad without the simplifier */
    bool values;
    const char *out_path;
    const char *render; /* NULL, "svg" or "png" */
    const char *title;
    bool left_to_right;
    /* check */
    double eps, rtol, atol;
    /* train */
    const char *loss;
    const char *data, *labels, *label_column;
    const char *x_name, *y_name;
    const char *optim;
    double lr, momentum, weight_decay, clip;
    bool lr_given;
    int epochs;
    long batch; /* 0: from the model */
    int micro;  /* batches of B each step accumulates (0: 1) */
    const char *save;
    bool quiet;
    double scale;
    bool standardize;
    const char *test, *test_labels; /* train --test: a held-out dataset */
    bool verbose;                   /* train: test figures every epoch */
} cli;

/* A model loaded from a file: the graph it built and its text (for carets). */
typedef struct model {
    nb_graph *g;
    const char *path;
    char *src;
    size_t len;
    /* --standardize's statistics, state nodes NORM_MEAN and NORM_STD; NULL when none */
    nb_node *norm_mean, *norm_std;
} model;

/* The names under which checkpoints carry --standardize's statistics. */
#define NORM_MEAN "standardize:mean"
#define NORM_STD  "standardize:std"

/* ---- errors (model.c) ---- */

/*
 * Reports an error and returns status (EXIT_USAGE or EXIT_FAILED). Human mode:
 * "nabla CMD: message" on stderr; with --json: {"error": ..., "line": 0,
 * "column": 0} on stdout.
 */
int cli_fail(const cli *c, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Reports a model error at line:column (1-based; 0 when it has none): human
 * mode prints "file:line:col: message", the source line and a caret under the
 * column; --json prints the error object. Returns EXIT_USAGE.
 */
int cli_fail_at(const cli *c, const model *m, int line, int column, const char *message);

/*
 * After a successful run: prints the library's warning (an input never
 * written, which read as zeros) on stderr as "nabla CMD: warning: ...", with
 * how to give the input a value here.
 */
void cli_run_warning(const cli *c, nb_graph *g);

/* ---- loading (model.c) ---- */

/*
 * Reads and parses c->model_path with c's dtype and seed, sets the graph's
 * mode (training for train and --train, evaluation otherwise), then applies
 * --load (parameters and state nodes) and every --set. Returns EXIT_OK or the
 * exit status after reporting.
 */
int model_load(const cli *c, model *m, nb_dtype dtype);
void model_free(model *m);

/*
 * What a checkpoint of the model holds: every parameter in declaration order,
 * then every state node (malloc'd, *n_params + *n_states entries; NULL when
 * out of memory).
 */
nb_node **model_saved(const model *m, size_t *n_params, size_t *n_states);

/* Finds the node `name` (as given with an option) or reports; NULL then. */
nb_node *model_node(const cli *c, const model *m, const char *name, const char *option, int *rc);

/*
 * The nodes to differentiate with respect to: the --wrt list, or every
 * parameter, or (a model without parameters) every float input. *out is
 * malloc'd; returns EXIT_OK or an exit status after reporting.
 */
int model_wrt(const cli *c, const model *m, nb_node ***out, size_t *n);

/* Parses a --set value ("2.5", "[[1, 2], [3, 4]]"); see model.c. */
typedef struct literal {
    int rank;
    int64_t shape[NB_MAX_RANK];
    double *v; /* malloc'd */
    size_t n;
} literal;
bool literal_parse(const char *s, literal *out, char *err, size_t err_size);

/* "[3]", "[2, 3]", "[]" for a scalar. */
void shape_string(const nb_node *n, char *buf, size_t cap);

/* True when n's name looks generated ("mul_3") rather than given by the model. */
bool name_is_generated(nb_node *n);

/* Reads n's values as doubles (malloc'd, nb_node_size elements) or NULL. */
double *node_values(nb_graph *g, const nb_node *n);

/* ---- output (json.c) ---- */

/* JSON string with escapes. */
void json_string(FILE *f, const char *s);

/* A number that round-trips for dtype (%.17g, %.9g for f32); NaN and infinities as null. */
void json_number(FILE *f, double v, nb_dtype dtype);

/* Values as nested lists matching the shape, a scalar bare. */
void json_values(FILE *f, const double *v, int rank, const int64_t *shape, nb_dtype dtype);

/* A node's values as json_values (null if it has none). */
void json_node(FILE *f, nb_graph *g, const nb_node *n);

/*
 * Human form of values: a scalar "0.5"; a vector "[1, 2, 3]"; a matrix and
 * higher ranks on several lines, columns aligned, continuation lines indented
 * by indent. More than `limit` values print as a summary line.
 */
void human_values(FILE *f, const double *v, int rank, const int64_t *shape, int indent,
                  size_t limit);

/* One-line form for tables: at most `max` values shown, the rest as ", ... (N values)". */
void inline_values(char *buf, size_t cap, const double *v, int rank, const int64_t *shape,
                   size_t max);

/* "%.6g" without "-0". */
void human_number(char *buf, size_t cap, double v);

/* ---- datasets (data.c) ---- */

/*
 * Reads a CSV file, or with labels an IDX images file and its labels, then
 * applies --scale. An IDX file given without labels is reported as needing
 * labels_option. Returns EXIT_OK or the status after reporting.
 */
int data_read(const cli *c, const char *path, const char *labels, const char *option,
              const char *labels_option, nb_dataset *ds);

/* The batch inputs x[B, F] and y[B] (--x, --y, or x and y, or the only two inputs). */
int data_inputs(const cli *c, const model *m, nb_node **x, nb_node **y);

/* ds has x's F features and, when need_batch, at least one batch of examples. */
int data_check(const cli *c, const char *path, const nb_dataset *ds, nb_node *x, bool need_batch);

/* Makes m's statistics nodes for cols features (if --load did not bring them). */
int data_norm_nodes(const cli *c, model *m, size_t cols);

/* --standardize: train's statistics, applied to train and test (may be NULL), kept in m. */
int data_standardize(const cli *c, model *m, nb_dataset *train, nb_dataset *test);

/* Applies the statistics a checkpoint brought (nothing when it had none). */
int data_apply_saved(const cli *c, model *m, nb_dataset *ds);

/* The node whose outputs are scored for accuracy, or NULL when the loss is not a classifier's. */
nb_node *data_scored(nb_node *loss, nb_node *y, bool *binary);

/* Held-out figures over a dataset's full batches, in file order, in evaluation mode. */
typedef struct heldout {
    double loss;     /* mean of the batches' losses (NaN when not asked) */
    double accuracy; /* -1 when the loss is not a classifier's */
    size_t examples; /* in full batches */
    size_t skipped;  /* the last partial batch */
} heldout;
/* Global batches of B x processes x micro (micro 0 or 1: none), as `nabla train --micro-batches`. */
int data_heldout(nb_graph *g, const nb_dataset *ds, nb_node *x, nb_node *y, nb_node *loss,
                 bool want_loss, int micro, heldout *h);

/* ---- did you mean ...? (suggest.c) ---- */

/*
 * Offer every known word with suggest_try; suggest_note writes "; did you
 * mean 'sigmoid'?" for the closest one close enough to be a typo, or "".
 */
typedef struct suggest {
    const char *word;
    size_t len;
    const char *best;
    int dist;
} suggest;
void suggest_init(suggest *s, const char *word, size_t len);
void suggest_try(suggest *s, const char *cand);
const char *suggest_note(const suggest *s, char *buf, size_t cap);

/* ---- commands ---- */

/* EXIT_OK when n is a float scalar; otherwise reports (how to reduce it) and returns EXIT_USAGE. */
int need_scalar(const cli *c, nb_node *n, const char *option);

int cmd_eval(const cli *c);
int cmd_grad(const cli *c);
int cmd_check(const cli *c);
int cmd_depth(const cli *c);
int cmd_dot(const cli *c);
int cmd_trace(const cli *c);
int cmd_train(const cli *c);
/* export and import (ONNX) parse their own options: argv as main's */
int cmd_export_main(int argc, char **argv);
int cmd_import_main(int argc, char **argv);

#endif /* NABLA_CLI_H */
