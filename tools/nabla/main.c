/*
 * tools/nabla/main.c: the `nabla` command: parses the command line (one table
 * of options, each listing the subcommands that take it), prints help, and
 * dispatches to the subcommands in the other files of this folder.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage_main[] =
    "usage: nabla COMMAND MODEL [OPTIONS]\n"
    "\n"
    "Reads a model written in nabla's model language (a .nb file) and shows its\n"
    "values, gradients, depth, graph and backward pass, checks its gradients, or\n"
    "trains it.\n"
    "\n"
    "commands:\n"
    "  eval   compute a node                    nabla eval model.nb --of y\n"
    "  grad   gradients of a scalar node        nabla grad model.nb --of loss\n"
    "  depth  the longest path, ops or scopes   nabla depth model.nb --of y --scopes\n"
    "  dot    the graph for Graphviz            nabla dot model.nb --of y --svg -o y.svg\n"
    "  trace  the backward pass, step by step   nabla trace model.nb --of y\n"
    "  check  gradients vs finite differences   nabla check model.nb --of loss\n"
    "  train  fit the parameters to a dataset   nabla train model.nb --loss loss --data d.csv\n"
    "  export write the model as ONNX          nabla export model.nb --of y -o model.onnx\n"
    "  import read an ONNX model               nabla import model.onnx -o model.nb\n"
    "\n"
    "Run 'nabla COMMAND --help' for a command's options. 'nabla --version' prints\n"
    "the version. Exit status: 0 success, 1 a failed check (or a diverged\n"
    "training), 2 a bad model, bad arguments or unreadable files.\n"
    "The language and every command are described in docs/cli.md.\n";

static const char opts_common[] =
    "  --set NAME=VALUE  set an input, a parameter or a state node: a nested list\n"
    "                    of its shape, [[1, 2], [3, 4]], or one number for every\n"
    "                    element (repeatable; quote it for the shell)\n"
    "  --seed N          seed of the parameter initializers and of dropout (default 0)\n"
    "  --load FILE       read the parameters and state nodes from a checkpoint\n"
    "                    (nabla train --save)\n"
    "  --train           run in training mode (dropout drops, batch_norm normalizes\n"
    "                    with the batch's statistics); the default is evaluation\n"
    "                    mode (dropout off, batch_norm on its running statistics)\n";

static const char help_eval[] =
    "usage: nabla eval MODEL --of NAME [--set NAME=VALUE]... [--dtype f32|f64] [--json]\n"
    "       nabla eval MODEL --of LOSS --data FILE [--labels FILE] [--load CKPT]\n"
    "\n"
    "Computes the node NAME and prints its value. With --data, computes the scalar\n"
    "LOSS over a dataset instead, in batches as the model declares them (x[B, F],\n"
    "y[B], as for train), in evaluation mode, and prints its mean over the full\n"
    "batches and, for a classifier's loss, the accuracy: held-out figures. A\n"
    "checkpoint saved by train --standardize standardizes the data again with the\n"
    "training data's statistics.\n"
    "\n"
    "  --of NAME         the node to compute (an assigned name, or a generated one\n"
    "                    such as mul_1)\n"
    "%s"
    "  --dtype f32|f64   dtype of the model's floating nodes (default f64)\n"
    "  --json            print {\"of\": NAME, \"shape\": [...], \"value\": V}; with\n"
    "                    --data {\"of\", \"data\", \"loss\", \"accuracy\", \"examples\",\n"
    "                    \"skipped\", \"standardized\"}\n"
    "data (as for train):\n"
    "  --data FILE       a CSV file with a header line, or with --labels the IDX\n"
    "                    images file (MNIST format)\n"
    "  --labels FILE     the IDX labels file\n"
    "  --label COLUMN    the CSV column holding labels or targets (default label)\n"
    "  --x INPUT, --y INPUT  the features and labels inputs (default x and y)\n"
    "  --scale F         multiply every feature by F, as in training\n";

static const char help_grad[] =
    "usage: nabla grad MODEL --of NAME [--wrt A,B,...] [--set NAME=VALUE]...\n"
    "                  [--dtype f32|f64] [--json]\n"
    "\n"
    "Computes the scalar node NAME and its gradient with respect to each of --wrt.\n"
    "A non-scalar NAME is an error: reduce it first (s = sum(y)).\n"
    "\n"
    "  --of NAME         the scalar to differentiate\n"
    "  --wrt A,B,...     parameters, inputs or other nodes (default: every\n"
    "                    parameter, or every float input if there is none)\n"
    "%s"
    "  --dtype f32|f64   dtype of the model's floating nodes (default f64)\n"
    "  --no-simplify     build the gradient without the graph simplifier\n"
    "  --json            print {\"of\": NAME, \"value\": V, \"grads\": {\"w\": G, ...}}\n";

static const char help_depth[] =
    "usage: nabla depth MODEL --of NAME [--scopes[=LEVEL]] [--grad [--wrt A,...]]\n"
    "                   [--concepts[=LEVEL]] [--json]\n"
    "\n"
    "Prints the depth of NAME, the number of elements on the longest path from a\n"
    "leaf to it (Deep Learning, figure 1.3), and that path.\n"
    "\n"
    "  --of NAME         the node to measure\n"
    "  --scopes[=LEVEL]  count scopes as elements: level 1 (the default) takes the\n"
    "                    outermost scopes, 2 the ones inside them, ...; an op\n"
    "                    outside every scope is an element of its own\n"
    "  --grad            also the depth of the gradient graph: the deepest of the\n"
    "                    gradients of NAME (a scalar) w.r.t. every parameter\n"
    "  --wrt A,B,...     with --grad: the gradients to measure instead\n"
    "  --no-simplify     with --grad: build the gradient without the graph\n"
    "                    simplifier (its raw rule output, left-deep sums)\n"
    "  --concepts[=LEVEL]  the depth of the graph of concepts instead (Deep\n"
    "                    Learning, chapter 1): every scope name of LEVEL (default\n"
    "                    1) is one concept, however often it is instantiated;\n"
    "                    concepts that feed each other count once each, together;\n"
    "                    prints the concepts counted (--json: {\"of\": NAME,\n"
    "                    \"concept_depth\": D, \"concepts\": [...], \"level\": LEVEL})\n"
    "  --seed N, --load FILE  as for the other commands (depth ignores values)\n"
    "  --json            print {\"of\": NAME, \"depth\": D, \"path\": [...], \"scopes\":\n"
    "                    false or LEVEL}, with --grad also \"grad_depth\", \"grad_of\",\n"
    "                    \"grad_path\"\n";

static const char help_dot[] =
    "usage: nabla dot MODEL [--of NAME] [--grad [--wrt A,...]] [--values] [--set ...]\n"
    "                 [--scopes[=LEVEL]] [-o FILE] [--svg | --png]\n"
    "\n"
    "Writes the graph in Graphviz DOT: inputs green, parameters orange, constants\n"
    "grey, ops white, gradient ops blue, scopes as clusters, and the longest path\n"
    "to NAME in red.\n"
    "\n"
    "  --of NAME         draw only what NAME needs, and highlight its longest path\n"
    "  --grad            add the gradient graph of NAME (a scalar) w.r.t. every\n"
    "                    parameter (or --wrt), and highlight the deepest gradient\n"
    "  --no-simplify     with --grad: build the gradient without the simplifier\n"
    "  --values          run the graph and show every value (and gradient) of at\n"
    "                    most 8 elements\n"
    "  --scopes[=LEVEL]  draw each scope instance of LEVEL (default 1) as one node,\n"
    "                    and highlight the longest path counted over them\n"
    "%s"
    "  --dtype f32|f64   dtype of the model's floating nodes (default f64)\n"
    "  --title TEXT      a label for the drawing\n"
    "  --left-to-right   lay the graph out from left to right\n"
    "  -o FILE           write to FILE instead of standard output\n"
    "  --svg, --png      render through Graphviz's `dot` program (which must be\n"
    "                    installed) instead of writing DOT\n";

static const char help_trace[] =
    "usage: nabla trace MODEL --of NAME [--set NAME=VALUE]... [--dtype f32|f64] [--json]\n"
    "\n"
    "The backward pass as a lesson. First every node NAME needs, in forward order,\n"
    "with its op, shape and value; then, in reverse order, each node's adjoint\n"
    "d NAME / d node and the rule that produced it: for each consumer, the\n"
    "consumer's op and its gradient formula (dy is the consumer's own adjoint).\n"
    "Contributions from several consumers are summed.\n"
    "\n"
    "  --of NAME         the scalar output\n"
    "%s"
    "  --dtype f32|f64   dtype of the model's floating nodes (default f64)\n"
    "  --json            print the two tables as JSON\n";

static const char help_check[] =
    "usage: nabla check MODEL --of NAME [--wrt A,B,...] [--set NAME=VALUE]...\n"
    "                   [--eps X] [--rtol X] [--atol X] [--json]\n"
    "\n"
    "Checks the gradients of the scalar NAME against central finite differences,\n"
    "in float64, element by element. Prints the largest relative and absolute\n"
    "error per leaf; exits with status 1 if any element is off by more than\n"
    "atol + rtol * |numeric|.\n"
    "\n"
    "  --of NAME         the scalar output\n"
    "  --wrt A,B,...     parameters and inputs to check (default: every\n"
    "                    parameter, or every float input if there is none)\n"
    "%s"
    "  --eps X           finite-difference step (default 1e-6)\n"
    "  --rtol X          relative tolerance (default 1e-5)\n"
    "  --atol X          absolute tolerance (default 1e-7)\n"
    "  --json            print {\"of\": NAME, \"passed\": B, \"results\": {...}}\n";

static const char help_train[] =
    "usage: nabla train MODEL --loss NAME --data FILE [--labels FILE] [--test FILE]\n"
    "                   [OPTIONS]\n"
    "\n"
    "Trains every parameter of the model to reduce the scalar NAME over a dataset,\n"
    "in mini-batches, and prints the loss after each epoch (on stderr): the mean of\n"
    "the steps' losses, which run in training mode (dropout drops, batch_norm uses\n"
    "and updates batch statistics); the accuracy comes from evaluation runs.\n"
    "The model declares the batch as two inputs, features x[B, F] and labels\n"
    "y[B] (`input y[B] : i32` for class labels, f32/f64 for targets); B is the\n"
    "batch size. Each epoch visits the examples in a new seeded order; a last\n"
    "batch of fewer than B examples is skipped (a different one each epoch).\n"
    "\n"
    "data:\n"
    "  --data FILE       a CSV file with a header line, or with --labels the IDX\n"
    "                    images file (MNIST format)\n"
    "  --labels FILE     the IDX labels file\n"
    "  --label COLUMN    the CSV column holding labels or targets (default label)\n"
    "  --x INPUT         the features input (default x)\n"
    "  --y INPUT         the labels input (default y)\n"
    "  --scale F         multiply every feature by F (1/255 for pixels: 0.00392)\n"
    "  --standardize     scale every feature column to mean 0, deviation 1 (the\n"
    "                    statistics go into --save's checkpoint, for eval --data)\n"
    "  --test FILE       held-out data (standardized with the training statistics):\n"
    "                    its loss and accuracy at the end (every epoch with --verbose)\n"
    "  --test-labels FILE  the IDX labels file of --test\n"
    "training:\n"
    "  --loss NAME       the scalar to minimize\n"
    "  --optim NAME      sgd, momentum (SGD with 0.9), nesterov, adagrad, rmsprop,\n"
    "                    adam (default) or adamw\n"
    "  --lr X            learning rate (default: the optimizer's, 0.001 for adam)\n"
    "  --momentum X      momentum for sgd and rmsprop\n"
    "  --weight-decay X  L2 penalty (decoupled for adamw)\n"
    "  --clip X          clip gradients to global norm X\n"
    "  --epochs N        passes over the data (default 10)\n"
    "  --batch N         must equal the model's batch size B (the model fixes it)\n"
    "  --micro-batches M  each step accumulates M batches of B (a global batch of\n"
    "                    B x M x processes): alone with M = 2, the same bits as\n"
    "                    two processes under mpirun (default 1)\n"
    "  --seed N          seed of the initializers and of the batch order (default 0)\n"
    "  --load FILE       start from the parameters and state nodes in a checkpoint\n"
    "  --save FILE       write a checkpoint after every epoch\n"
    "  --dtype f32|f64   dtype of the model's floating nodes (default f64)\n"
    "  --quiet           no progress lines\n"
    "  --verbose         with --test, the test figures on every epoch's line\n"
    "  --json            print the loss (and accuracy) of every epoch as JSON\n"
    "  --set NAME=VALUE  set a parameter's or a state node's starting values\n"
    "                    (repeatable)\n";

typedef struct command {
    const char *name;
    int bit;
    int (*run)(const cli *);
    const char *help;
    bool common; /* help takes opts_common */
} command;

static const command commands[] = {
    { "eval", CMD_EVAL, cmd_eval, help_eval, true },
    { "grad", CMD_GRAD, cmd_grad, help_grad, true },
    { "depth", CMD_DEPTH, cmd_depth, help_depth, false },
    { "dot", CMD_DOT, cmd_dot, help_dot, true },
    { "trace", CMD_TRACE, cmd_trace, help_trace, true },
    { "check", CMD_CHECK, cmd_check, help_check, true },
    { "train", CMD_TRAIN, cmd_train, help_train, false },
};

enum { ALL = 0x7f, VALUES = ALL & ~CMD_DEPTH };

enum {
    ARG_NONE,
    ARG_REQUIRED,
    ARG_OPTIONAL, /* only as --name=value */
};

typedef enum opt_id {
    O_OF,
    O_WRT,
    O_SET,
    O_DTYPE,
    O_JSON,
    O_SEED,
    O_LOAD,
    O_TRAIN,
    O_SCOPES,
    O_CONCEPTS,
    O_GRAD,
    O_NO_SIMPLIFY,
    O_VALUES,
    O_OUT,
    O_SVG,
    O_PNG,
    O_TITLE,
    O_LTR,
    O_EPS,
    O_RTOL,
    O_ATOL,
    O_LOSS,
    O_DATA,
    O_LABELS,
    O_LABEL,
    O_X,
    O_Y,
    O_OPTIM,
    O_LR,
    O_MOMENTUM,
    O_WD,
    O_CLIP,
    O_EPOCHS,
    O_BATCH,
    O_MICRO,
    O_SAVE,
    O_QUIET,
    O_SCALE,
    O_STANDARDIZE,
    O_TEST,
    O_TEST_LABELS,
    O_VERBOSE,
    O_HELP,
} opt_id;

typedef struct option {
    const char *name;
    opt_id id;
    int arg;
    int cmds;
} option;

static const option options[] = {
    { "--of", O_OF, ARG_REQUIRED, ALL & ~CMD_TRAIN },
    { "--wrt", O_WRT, ARG_REQUIRED, CMD_GRAD | CMD_DEPTH | CMD_DOT | CMD_CHECK },
    { "--set", O_SET, ARG_REQUIRED, VALUES },
    { "--dtype", O_DTYPE, ARG_REQUIRED, CMD_EVAL | CMD_GRAD | CMD_DOT | CMD_TRACE | CMD_TRAIN },
    { "--json", O_JSON, ARG_NONE, ALL & ~CMD_DOT },
    { "--seed", O_SEED, ARG_REQUIRED, ALL },
    { "--load", O_LOAD, ARG_REQUIRED, ALL },
    { "--train", O_TRAIN, ARG_NONE, VALUES & ~CMD_TRAIN },
    { "--scopes", O_SCOPES, ARG_OPTIONAL, CMD_DEPTH | CMD_DOT },
    { "--concepts", O_CONCEPTS, ARG_OPTIONAL, CMD_DEPTH },
    { "--grad", O_GRAD, ARG_NONE, CMD_DEPTH | CMD_DOT },
    { "--no-simplify", O_NO_SIMPLIFY, ARG_NONE, CMD_GRAD | CMD_DEPTH | CMD_DOT },
    { "--values", O_VALUES, ARG_NONE, CMD_DOT },
    { "-o", O_OUT, ARG_REQUIRED, CMD_DOT },
    { "--output", O_OUT, ARG_REQUIRED, CMD_DOT },
    { "--svg", O_SVG, ARG_NONE, CMD_DOT },
    { "--png", O_PNG, ARG_NONE, CMD_DOT },
    { "--title", O_TITLE, ARG_REQUIRED, CMD_DOT },
    { "--left-to-right", O_LTR, ARG_NONE, CMD_DOT },
    { "--eps", O_EPS, ARG_REQUIRED, CMD_CHECK },
    { "--rtol", O_RTOL, ARG_REQUIRED, CMD_CHECK },
    { "--atol", O_ATOL, ARG_REQUIRED, CMD_CHECK },
    { "--loss", O_LOSS, ARG_REQUIRED, CMD_TRAIN },
    { "--data", O_DATA, ARG_REQUIRED, CMD_TRAIN | CMD_EVAL },
    { "--labels", O_LABELS, ARG_REQUIRED, CMD_TRAIN | CMD_EVAL },
    { "--label", O_LABEL, ARG_REQUIRED, CMD_TRAIN | CMD_EVAL },
    { "--x", O_X, ARG_REQUIRED, CMD_TRAIN | CMD_EVAL },
    { "--y", O_Y, ARG_REQUIRED, CMD_TRAIN | CMD_EVAL },
    { "--optim", O_OPTIM, ARG_REQUIRED, CMD_TRAIN },
    { "--lr", O_LR, ARG_REQUIRED, CMD_TRAIN },
    { "--momentum", O_MOMENTUM, ARG_REQUIRED, CMD_TRAIN },
    { "--weight-decay", O_WD, ARG_REQUIRED, CMD_TRAIN },
    { "--clip", O_CLIP, ARG_REQUIRED, CMD_TRAIN },
    { "--epochs", O_EPOCHS, ARG_REQUIRED, CMD_TRAIN },
    { "--batch", O_BATCH, ARG_REQUIRED, CMD_TRAIN },
    { "--micro-batches", O_MICRO, ARG_REQUIRED, CMD_TRAIN },
    { "--save", O_SAVE, ARG_REQUIRED, CMD_TRAIN },
    { "--quiet", O_QUIET, ARG_NONE, CMD_TRAIN },
    { "--scale", O_SCALE, ARG_REQUIRED, CMD_TRAIN | CMD_EVAL },
    { "--standardize", O_STANDARDIZE, ARG_NONE, CMD_TRAIN | CMD_EVAL },
    { "--test", O_TEST, ARG_REQUIRED, CMD_TRAIN },
    { "--test-labels", O_TEST_LABELS, ARG_REQUIRED, CMD_TRAIN },
    { "--verbose", O_VERBOSE, ARG_NONE, CMD_TRAIN },
    { "--help", O_HELP, ARG_NONE, ALL },
    { "-h", O_HELP, ARG_NONE, ALL },
};

static void print_help(FILE *f, const command *cmd)
{
    if (cmd->common) {
        fprintf(f, cmd->help, opts_common);
    } else {
        fputs(cmd->help, f);
    }
}

/* A number option: finite, and >= min. */
static bool parse_double(const char *s, double min, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < min) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') {
        return false;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* Applies option o with value v (NULL for ARG_NONE). Returns EXIT_OK or reports. */
static int apply(cli *c, const option *o, const char *v)
{
    long k;
    switch (o->id) {
    case O_OF:
        c->of = v;
        break;
    case O_WRT:
        c->wrt = v;
        break;
    case O_SET: {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v || (size_t)(eq - v) >= sizeof c->sets->name) {
            return cli_fail(c, EXIT_USAGE, "--set takes NAME=VALUE, as in --set x=[1,2]; got '%s'",
                            v);
        }
        cli_set *s = &c->sets[c->n_sets++];
        memcpy(s->name, v, (size_t)(eq - v));
        s->name[eq - v] = '\0';
        s->value = eq + 1;
        break;
    }
    case O_DTYPE:
        if (strcmp(v, "f32") == 0) {
            c->dtype = NB_DTYPE_F32;
        } else if (strcmp(v, "f64") == 0) {
            c->dtype = NB_DTYPE_F64;
        } else {
            return cli_fail(c, EXIT_USAGE, "--dtype is f32 or f64, not '%s'", v);
        }
        break;
    case O_JSON:
        c->json = true;
        break;
    case O_SEED:
        if (!parse_u64(v, &c->seed)) {
            return cli_fail(c, EXIT_USAGE, "--seed takes a whole number >= 0, not '%s'", v);
        }
        break;
    case O_LOAD:
        c->load = v;
        break;
    case O_TRAIN:
        c->train = true;
        break;
    case O_SCOPES:
        if (!v) {
            c->scopes = 1;
        } else if (parse_long(v, 1, 1000000, &k)) {
            c->scopes = (int)k;
        } else {
            return cli_fail(c, EXIT_USAGE,
                            "--scopes=LEVEL takes a level >= 1 (1: the outermost scopes), not '%s'",
                            v);
        }
        break;
    case O_CONCEPTS:
        if (!v) {
            c->concepts = 1;
        } else if (parse_long(v, 1, 1000000, &k)) {
            c->concepts = (int)k;
        } else {
            return cli_fail(
                c, EXIT_USAGE,
                "--concepts=LEVEL takes a level >= 1 (1: the outermost scopes), not '%s'", v);
        }
        break;
    case O_GRAD:
        c->grad = true;
        break;
    case O_NO_SIMPLIFY:
        c->no_simplify = true;
        break;
    case O_VALUES:
        c->values = true;
        break;
    case O_OUT:
        c->out_path = v;
        break;
    case O_SVG:
    case O_PNG:
        if (c->render) {
            return cli_fail(c, EXIT_USAGE, "choose one of --svg and --png");
        }
        c->render = o->id == O_SVG ? "svg" : "png";
        break;
    case O_TITLE:
        c->title = v;
        break;
    case O_LTR:
        c->left_to_right = true;
        break;
    case O_EPS:
    case O_RTOL:
    case O_ATOL: {
        double x;
        if (!parse_double(v, 0, &x) || (o->id == O_EPS && x == 0)) {
            return cli_fail(c, EXIT_USAGE, "%s takes a number %s, not '%s'", o->name,
                            o->id == O_EPS ? "> 0" : ">= 0", v);
        }
        *(o->id == O_EPS ? &c->eps : o->id == O_RTOL ? &c->rtol : &c->atol) = x;
        break;
    }
    case O_LOSS:
        c->loss = v;
        break;
    case O_DATA:
        c->data = v;
        break;
    case O_LABELS:
        c->labels = v;
        break;
    case O_LABEL:
        c->label_column = v;
        break;
    case O_X:
        c->x_name = v;
        break;
    case O_Y:
        c->y_name = v;
        break;
    case O_OPTIM:
        c->optim = v;
        break;
    case O_LR:
    case O_MOMENTUM:
    case O_WD:
    case O_CLIP:
    case O_SCALE: {
        double x;
        if (!parse_double(v, 0, &x) || ((o->id == O_LR || o->id == O_SCALE) && x == 0)) {
            return cli_fail(c, EXIT_USAGE, "%s takes a number %s, not '%s'", o->name,
                            o->id == O_LR || o->id == O_SCALE ? "> 0" : ">= 0", v);
        }
        if (o->id == O_LR) {
            c->lr = x;
            c->lr_given = true;
        } else {
            *(o->id == O_MOMENTUM ? &c->momentum
              : o->id == O_WD     ? &c->weight_decay
              : o->id == O_CLIP   ? &c->clip
                                  : &c->scale) = x;
        }
        break;
    }
    case O_EPOCHS:
        if (!parse_long(v, 1, 100000000, &k)) {
            return cli_fail(c, EXIT_USAGE, "--epochs takes a whole number >= 1, not '%s'", v);
        }
        c->epochs = (int)k;
        break;
    case O_BATCH:
        if (!parse_long(v, 1, 1L << 30, &k)) {
            return cli_fail(c, EXIT_USAGE, "--batch takes a whole number >= 1, not '%s'", v);
        }
        c->batch = k;
        break;
    case O_MICRO:
        if (!parse_long(v, 1, 4096, &k)) {
            return cli_fail(c, EXIT_USAGE,
                            "--micro-batches takes a whole number from 1 to 4096, not '%s'", v);
        }
        c->micro = (int)k;
        break;
    case O_SAVE:
        c->save = v;
        break;
    case O_QUIET:
        c->quiet = true;
        break;
    case O_STANDARDIZE:
        c->standardize = true;
        break;
    case O_TEST:
        c->test = v;
        break;
    case O_TEST_LABELS:
        c->test_labels = v;
        break;
    case O_VERBOSE:
        c->verbose = true;
        break;
    case O_HELP:
        break;
    }
    return EXIT_OK;
}

/* The commands that take option o, for "--values is an option of dot". */
static void takers(const option *o, char *buf, size_t cap)
{
    size_t at = 0, n = 0, total = 0;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        total += (o->cmds & commands[i].bit) != 0;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof commands / sizeof *commands && at < cap; i++) {
        if (o->cmds & commands[i].bit) {
            n++;
            int w = snprintf(buf + at, cap - at, "%s%s",
                             n == 1       ? ""
                             : n == total ? " and "
                                          : ", ",
                             commands[i].name);
            at += w > 0 ? (size_t)w : 0;
        }
    }
}

static int parse(cli *c, const command *cmd, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (c->model_path) {
                return cli_fail(c, EXIT_USAGE,
                                "one model file, please: '%s' and '%s' (options start with --)",
                                c->model_path, a);
            }
            c->model_path = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc && !c->model_path) {
                c->model_path = argv[++i];
            }
            continue;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const option *o = NULL;
        for (size_t k = 0; k < sizeof options / sizeof *options && !o; k++) {
            if (strlen(options[k].name) == len && strncmp(options[k].name, a, len) == 0) {
                o = &options[k];
            }
        }
        if (!o) {
            /* the closest of this command's options first, then of any command's */
            suggest sg;
            suggest_init(&sg, a, len);
            for (int pass = 0; pass < 2 && !sg.best; pass++) {
                for (size_t k = 0; k < sizeof options / sizeof *options; k++) {
                    if (pass || (options[k].cmds & cmd->bit)) {
                        suggest_try(&sg, options[k].name);
                    }
                }
            }
            char note[128];
            return cli_fail(c, EXIT_USAGE, "unknown option '%.*s'%s (see nabla %s --help)",
                            (int)len, a, suggest_note(&sg, note, sizeof note), cmd->name);
        }
        if (!(o->cmds & cmd->bit)) {
            char who[128];
            takers(o, who, sizeof who);
            return cli_fail(c, EXIT_USAGE, "%s is an option of %s, not of %s", o->name, who,
                            cmd->name);
        }
        const char *v = NULL;
        if (o->arg == ARG_NONE && eq) {
            return cli_fail(c, EXIT_USAGE, "%s takes no value", o->name);
        }
        if (o->arg == ARG_REQUIRED) {
            if (eq) {
                v = eq + 1;
            } else if (i + 1 < argc) {
                v = argv[++i];
            } else {
                return cli_fail(c, EXIT_USAGE, "%s needs a value", o->name);
            }
        } else if (o->arg == ARG_OPTIONAL && eq) {
            v = eq + 1;
        }
        int rc = apply(c, o, v);
        if (rc != EXIT_OK) {
            return rc;
        }
    }
    if (!c->model_path) {
        return cli_fail(c, EXIT_USAGE, "no model file (usage: nabla %s MODEL ...; see --help)",
                        cmd->name);
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    print_help(stdout, &commands[i]);
                    return EXIT_OK;
                }
            }
        }
        fputs(usage_main, stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "export") == 0) { /* ONNX (cmd_export.c): its own options */
        return cmd_export_main(argc, argv);
    }
    if (strcmp(name, "import") == 0) {
        return cmd_import_main(argc, argv);
    }
    if (strcmp(name, "--version") == 0) {
        /* the second line says what rounds the products (nb_blas_config) */
        const char *blas = nb_blas_config();
        printf("nabla %s\nmatrix products: %s%s\n", nb_version(),
               strcmp(blas, "plain") == 0 ? "plain loops" : "BLIS, configuration ",
               strcmp(blas, "plain") == 0 ? "" : blas);
        return EXIT_OK;
    }
    const command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof *commands && !cmd; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            cmd = &commands[i];
        }
    }
    cli c = { .cmd_name = name,
              .dtype = NB_DTYPE_F64,
              .eps = 1e-6,
              .rtol = 1e-5,
              .atol = 1e-7,
              .epochs = 10 };
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            c.json = true; /* errors found while parsing are reported as JSON too */
        }
    }
    if (!cmd) {
        c.cmd_name = NULL;
        suggest sg;
        suggest_init(&sg, name, strlen(name));
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
            suggest_try(&sg, commands[i].name);
        }
        if (sg.best) {
            return cli_fail(&c, EXIT_USAGE,
                            "unknown command '%s'; did you mean '%s'? (see nabla "
                            "--help)",
                            name, sg.best);
        }
        return cli_fail(&c, EXIT_USAGE,
                        "unknown command '%s'; the commands are eval, grad, depth, dot, trace, "
                        "check and train (see nabla --help)",
                        name);
    }
    c.cmd = cmd->bit;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout, cmd);
            return EXIT_OK;
        }
    }
    c.sets = calloc((size_t)argc, sizeof *c.sets);
    if (!c.sets) {
        return cli_fail(&c, EXIT_USAGE, "out of memory");
    }
    int rc = parse(&c, cmd, argc, argv);
    if (rc == EXIT_OK) {
        rc = cmd->run(&c);
    }
    free(c.sets);
    return rc;
}
