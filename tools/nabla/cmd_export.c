/*
 * tools/nabla/cmd_export.c: `nabla export MODEL --of y [--grad] -o model.onnx`,
 * a model as an ONNX file (nb_onnx_write): the nodes --of names, and with
 * --grad the gradients of that scalar with respect to --wrt (or every
 * parameter), so that an ONNX runtime computes the loss and its gradients.
 * It parses its own options (the table in main.c serves the other commands).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char help_export[] =
    "usage: nabla export MODEL --of NAME[,NAME...] [--grad [--wrt A,B,...]] -o FILE.onnx\n"
    "                    [--set NAME=VALUE]... [--dtype f32|f64] [--load FILE] [--train]\n"
    "\n"
    "Writes the nodes NAME (and what they depend on) as an ONNX model (opset 17):\n"
    "inputs become graph inputs, parameters and state nodes initializers with\n"
    "their current values. Open it in Netron or run it with ONNX Runtime\n"
    "(docs/onnx.md).\n"
    "\n"
    "  --of NAME,...      the outputs of the file\n"
    "  --grad             also export the gradients of the first output (a scalar)\n"
    "                     as outputs grad/<name>: a training graph\n"
    "  --wrt A,B,...      the nodes to differentiate with respect to (default: every\n"
    "                     parameter)\n"
    "  -o, --output FILE  the ONNX file to write\n"
    "  --dtype f32|f64    dtype of the model's floating nodes (default f32, what ONNX\n"
    "                     runtimes support best)\n"
    "  --set NAME=VALUE   set an input, a parameter or a state node (repeatable)\n"
    "  --seed N           seed of the parameter initializers (default 0)\n"
    "  --load FILE        read the parameters and state nodes from a checkpoint\n"
    "  --train            export the training mode (dropout drops, batch_norm uses the\n"
    "                     batch's statistics); the default is evaluation mode\n";

/* The value of option argv[*i] ("--of y" or "--of=y"), advancing *i; NULL if missing. */
static const char *value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) == 0 && argv[*i][len] == '=') {
        return argv[*i] + len + 1;
    }
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

static bool is(const char *arg, const char *name)
{
    size_t len = strlen(name);
    return strncmp(arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

int cmd_export_main(int argc, char **argv)
{
    cli c = { .cmd_name = "export", .dtype = NB_DTYPE_F32 };
    c.sets = calloc((size_t)argc, sizeof *c.sets);
    if (!c.sets) {
        return cli_fail(&c, EXIT_USAGE, "out of memory");
    }
    int rc = EXIT_OK;
    for (int i = 2; i < argc && rc == EXIT_OK; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help_export, stdout);
            free(c.sets);
            return EXIT_OK;
        } else if (strcmp(a, "--grad") == 0) {
            c.grad = true;
        } else if (strcmp(a, "--train") == 0) {
            c.train = true;
        } else if (a[0] != '-') {
            if (c.model_path) {
                rc = cli_fail(&c, EXIT_USAGE, "two model files: %s and %s", c.model_path, a);
            }
            c.model_path = a;
        } else if (is(a, "--of") || is(a, "--wrt") || is(a, "-o") || is(a, "--output") ||
                   is(a, "--dtype") || is(a, "--set") || is(a, "--seed") || is(a, "--load")) {
            char opt[16];
            size_t len = strcspn(a, "=");
            snprintf(opt, sizeof opt, "%.*s", (int)len, a);
            if (!(v = value(argc, argv, &i, opt))) {
                rc = cli_fail(&c, EXIT_USAGE, "%s needs a value", opt);
            } else if (strcmp(opt, "--of") == 0) {
                c.of = v;
            } else if (strcmp(opt, "--wrt") == 0) {
                c.wrt = v;
            } else if (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0) {
                c.out_path = v;
            } else if (strcmp(opt, "--load") == 0) {
                c.load = v;
            } else if (strcmp(opt, "--seed") == 0) {
                c.seed = strtoull(v, NULL, 10);
            } else if (strcmp(opt, "--dtype") == 0) {
                if (strcmp(v, "f32") == 0 || strcmp(v, "f64") == 0) {
                    c.dtype = v[1] == '3' ? NB_DTYPE_F32 : NB_DTYPE_F64;
                } else {
                    rc = cli_fail(&c, EXIT_USAGE, "--dtype takes f32 or f64, not '%s'", v);
                }
            } else { /* --set NAME=VALUE */
                const char *eq = strchr(v, '=');
                if (!eq || eq == v || (size_t)(eq - v) >= sizeof c.sets[0].name) {
                    rc = cli_fail(&c, EXIT_USAGE, "--set takes NAME=VALUE, not '%s'", v);
                } else {
                    snprintf(c.sets[c.n_sets].name, sizeof c.sets[0].name, "%.*s", (int)(eq - v),
                             v);
                    c.sets[c.n_sets++].value = eq + 1;
                }
            }
        } else {
            rc = cli_fail(&c, EXIT_USAGE, "unknown option %s (see nabla export --help)", a);
        }
    }
    if (rc == EXIT_OK && (!c.model_path || !c.of || !c.out_path)) {
        rc = cli_fail(&c, EXIT_USAGE, "%s (usage: nabla export MODEL --of NAME -o FILE.onnx)",
                      !c.model_path ? "no model file"
                      : !c.of       ? "which node? name it with --of NAME"
                                    : "no output file: give -o FILE.onnx");
    }
    if (rc == EXIT_OK && c.wrt && !c.grad) {
        rc = cli_fail(&c, EXIT_USAGE, "--wrt goes with --grad");
    }
    model m = { 0 };
    bool loaded = false;
    nb_node **outs = NULL, **wrt = NULL;
    const char **names = NULL;
    char(*grad_names)[300] = NULL;
    if (rc == EXIT_OK) {
        rc = model_load(&c, &m, c.dtype);
        loaded = rc == EXIT_OK;
    }
    size_t n_of = 0, n_wrt = 0;
    if (rc == EXIT_OK) {
        size_t cap = nb_graph_node_count(m.g) + 8;
        outs = calloc(cap, sizeof *outs);
        names = calloc(cap, sizeof *names);
        if (!outs || !names) {
            rc = cli_fail(&c, EXIT_USAGE, "out of memory");
        }
        for (const char *p = c.of; rc == EXIT_OK && *p;) {
            size_t len = strcspn(p, ",");
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            nb_node *n = model_node(&c, &m, name, "--of", &rc);
            if (n) {
                names[n_of] = nb_node_name(n);
                outs[n_of++] = n;
            }
            p += len + (p[len] == ',');
        }
    }
    if (rc == EXIT_OK && c.grad && (rc = need_scalar(&c, outs[0], "--of")) == EXIT_OK &&
        (rc = model_wrt(&c, &m, &wrt, &n_wrt)) == EXIT_OK) {
        grad_names = calloc(n_wrt ? n_wrt : 1, sizeof *grad_names);
        if (!grad_names) {
            rc = cli_fail(&c, EXIT_USAGE, "out of memory");
        } else if (nb_grad(m.g, outs[0], n_wrt, wrt, outs + n_of) != NB_OK) {
            rc = cli_fail(&c, EXIT_USAGE, "differentiating %s failed: %s", c.of,
                          nb_graph_error(m.g));
        } else {
            for (size_t k = 0; k < n_wrt; k++) {
                snprintf(grad_names[k], sizeof grad_names[k], "grad/%s", nb_node_name(wrt[k]));
                names[n_of + k] = grad_names[k];
            }
            n_of += n_wrt;
        }
    }
    if (rc == EXIT_OK) {
        nb_onnx_options o = nb_onnx_defaults();
        o.names = names;
        if (nb_onnx_write(m.g, n_of, outs, c.out_path, &o) != NB_OK) {
            rc = cli_fail(&c, EXIT_USAGE, "%s", nb_graph_error(m.g));
        }
    }
    free(grad_names);
    free(wrt);
    free(names);
    free(outs);
    if (loaded) {
        model_free(&m);
    }
    free(c.sets);
    return rc;
}
