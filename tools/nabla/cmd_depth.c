/*
 * tools/nabla/cmd_depth.c: the structural commands: depth (the longest path,
 * over ops or over scopes, of a node and of its gradient graph) and dot
 * (Graphviz output, rendered through the `dot` program on request).
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The longest path to out at level (malloc'd, *n nodes), or NULL. */
static nb_node **longest_path(nb_graph *g, nb_node *out, int level, size_t *n)
{
    size_t cap = 64;
    for (;;) {
        nb_node **path = malloc(cap * sizeof *path);
        if (!path) {
            return NULL;
        }
        *n = nb_depth_path(g, out, level, path, cap);
        if (*n <= cap) {
            return path;
        }
        free(path);
        cap = *n;
    }
}

/*
 * Prints a path; at a scope level, the nodes of one element are grouped as
 * [scope: a -> b]. Nodes of one element are consecutive on the path and have
 * the same depth (a step inside an element adds 0), which is how they are told.
 */
static void print_path(FILE *f, nb_graph *g, nb_node *const *path, size_t n, int level)
{
    fputs("  ", f);
    /* one nb_depth sweep per path node: group only where that stays cheap */
    bool group = level > 0 && (double)n * (double)nb_graph_node_count(g) <= 5e7;
    int prev_depth = -1;
    const char *open = NULL;
    for (size_t i = 0; i < n; i++) {
        nb_node *v = path[i];
        bool op = nb_node_kind(v) == NB_KIND_OP && nb_node_arity(v) > 0;
        int d = group && op ? nb_depth(g, v, level) : -1;
        bool same = op && d == prev_depth && d > 0;
        if (!same && open) {
            fputc(']', f);
            open = NULL;
        }
        if (i > 0) {
            fputs(" -> ", f);
        }
        if (!same && group && op && (open = nb_node_scope_at(v, level)) != NULL) {
            fprintf(f, "[%s: ", open);
        }
        fputs(nb_node_name(v), f);
        prev_depth = d;
    }
    if (open) {
        fputc(']', f);
    }
    fputc('\n', f);
}

static void json_path(FILE *f, nb_node *const *path, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, nb_node_name(path[i]));
    }
    fputc(']', f);
}

/* Builds the gradients of y (a scalar) w.r.t. the --wrt set; *deepest is the deepest one. */
static int build_grads(const cli *c, model *m, nb_node *y, int level, nb_node ***wrt,
                       nb_node ***grads, size_t *n, size_t *deepest)
{
    int rc = need_scalar(c, y, "--of");
    if (rc != EXIT_OK || (rc = model_wrt(c, m, wrt, n)) != EXIT_OK) {
        return rc;
    }
    *grads = malloc(*n * sizeof **grads);
    if (!*grads) {
        return cli_fail(c, EXIT_USAGE, "out of memory");
    }
    if (nb_grad(m->g, y, *n, *wrt, *grads) != NB_OK) {
        return cli_fail(c, EXIT_USAGE, "%s", nb_graph_error(m->g));
    }
    int best = -1;
    for (size_t i = 0; i < *n; i++) {
        int d = nb_depth(m->g, (*grads)[i], level);
        if (d > best) {
            best = d;
            *deepest = i;
        }
    }
    return EXIT_OK;
}

/* depth --concepts: the depth of the concept graph and the concepts counted. */
static int concept_depth(const cli *c, model *m, nb_node *y)
{
    int level = c->concepts;
    int depth = nb_depth_concepts(m->g, y, level, NULL, 0);
    const char **names = depth > 0 ? malloc((size_t)depth * sizeof *names) : NULL;
    if (depth < 0 || (depth > 0 && !names) ||
        (depth > 0 && nb_depth_concepts(m->g, y, level, names, (size_t)depth) != depth)) {
        free(names);
        return cli_fail(c, EXIT_USAGE, "depth failed: %s", nb_graph_error(m->g));
    }
    if (c->json) {
        fputs("{\"of\": ", stdout);
        json_string(stdout, c->of);
        printf(", \"concept_depth\": %d, \"concepts\": [", depth);
        for (int i = 0; i < depth; i++) {
            fputs(i ? ", " : "", stdout);
            json_string(stdout, names[i]);
        }
        printf("], \"level\": %d}\n", level);
    } else {
        printf("%s: depth %d over concepts (level %d)\n  ", c->of, depth, level);
        for (int i = 0; i < depth; i++) {
            printf("%s%s", i ? ", " : "", names[i]);
        }
        putchar('\n');
    }
    free(names);
    return EXIT_OK;
}

int cmd_depth(const cli *c)
{
    if (!c->of) {
        return cli_fail(c, EXIT_USAGE,
                        "which node? name it with --of NAME (see nabla depth --help)");
    }
    if (c->concepts && (c->grad || c->scopes)) {
        return cli_fail(c, EXIT_USAGE,
                        "--concepts measures the concept graph alone: "
                        "leave out --grad and --scopes");
    }
    model m;
    nb_node *y = NULL, **wrt = NULL, **grads = NULL, **path = NULL, **gpath = NULL;
    size_t n = 0, deepest = 0, len = 0, glen = 0;
    int level = c->scopes, rc;
    if ((rc = model_load(c, &m, NB_DTYPE_F64)) != EXIT_OK ||
        !(y = model_node(c, &m, c->of, "--of", &rc))) {
        goto done;
    }
    if (c->concepts) {
        rc = concept_depth(c, &m, y);
        goto done;
    }
    if (c->grad && (rc = build_grads(c, &m, y, level, &wrt, &grads, &n, &deepest)) != EXIT_OK) {
        goto done;
    }
    int depth = nb_depth(m.g, y, level);
    path = longest_path(m.g, y, level, &len);
    int gdepth = c->grad ? nb_depth(m.g, grads[deepest], level) : 0;
    gpath = c->grad ? longest_path(m.g, grads[deepest], level, &glen) : NULL;
    if (depth < 0 || !path || (c->grad && (gdepth < 0 || !gpath))) {
        rc = cli_fail(c, EXIT_USAGE, "depth failed: %s", nb_graph_error(m.g));
        goto done;
    }
    if (c->json) {
        fputs("{\"of\": ", stdout);
        json_string(stdout, c->of);
        printf(", \"depth\": %d, \"path\": ", depth);
        json_path(stdout, path, len);
        if (level) {
            printf(", \"scopes\": %d", level);
        } else {
            fputs(", \"scopes\": false", stdout);
        }
        if (c->grad) {
            printf(", \"grad_depth\": %d, \"grad_of\": ", gdepth);
            json_string(stdout, nb_node_name(wrt[deepest]));
            fputs(", \"grad_path\": ", stdout);
            json_path(stdout, gpath, glen);
        }
        fputs("}\n", stdout);
    } else {
        char how[64];
        if (level) {
            snprintf(how, sizeof how, "over scopes (level %d)", level);
        } else {
            snprintf(how, sizeof how, "over ops");
        }
        printf("%s: depth %d %s\n", c->of, depth, how);
        print_path(stdout, m.g, path, len, level);
        if (c->grad) {
            printf("gradient d%s/d%s: depth %d %s", c->of, nb_node_name(wrt[deepest]), gdepth, how);
            if (n > 1) {
                printf(" (the deepest of the %zu gradients)", n);
            }
            putchar('\n');
            print_path(stdout, m.g, gpath, glen, level);
        }
    }
done:
    free(path);
    free(gpath);
    free(wrt);
    free(grads);
    model_free(&m);
    return rc;
}

/* True if `prog` is an executable file in a directory of $PATH (as execvp will look). */
static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path) {
        return false;
    }
    const char *p = path;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char file[4096];
        if (len + strlen(prog) + 2 < sizeof file) {
            /* an empty entry means the current directory */
            snprintf(file, sizeof file, "%.*s/%s", len ? (int)len : 1, len ? p : ".", prog);
            if (access(file, X_OK) == 0) {
                return true;
            }
        }
        if (!colon) {
            return false;
        }
        p = colon + 1;
    }
}

/* Writes the DOT text through `dot -T<format> [-o out]`. */
static int render(const cli *c, nb_graph *g, const nb_dot_options *o)
{
    if (!on_path("dot")) {
        return cli_fail(c, EXIT_FAILED,
                        "--%s needs Graphviz's `dot` program, which is not installed (not found "
                        "on PATH); install Graphviz (Debian, Ubuntu: apt-get install graphviz), "
                        "or leave out --%s to write DOT text and render it elsewhere",
                        c->render, c->render);
    }
    if (!c->out_path && strcmp(c->render, "png") == 0 && isatty(STDOUT_FILENO)) {
        return cli_fail(c, EXIT_USAGE, "a PNG image would go to the terminal: add -o FILE.png");
    }
    int fds[2];
    if (pipe(fds) != 0) {
        return cli_fail(c, EXIT_FAILED, "cannot start dot: %s", strerror(errno));
    }
    char format[16];
    snprintf(format, sizeof format, "-T%s", c->render);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return cli_fail(c, EXIT_FAILED, "cannot start dot: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = { "dot", format, NULL, NULL, NULL };
        if (c->out_path) {
            argv[2] = "-o";
            argv[3] = (char *)c->out_path;
        }
        execvp("dot", argv);
        _exit(127);
    }
    close(fds[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* dot may stop reading early */
    FILE *f = fdopen(fds[1], "w");
    nb_status s = f ? nb_graph_write_dot(g, f, o) : NB_ERR_IO;
    if (f) {
        fclose(f);
    } else {
        close(fds[1]);
    }
    signal(SIGPIPE, old);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return cli_fail(c, EXIT_FAILED, "dot failed (%s %d)%s",
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                        c->out_path ? "; is the output file writable?" : "");
    }
    if (s != NB_OK) {
        return cli_fail(c, EXIT_FAILED, "writing DOT to dot failed: %s", nb_graph_error(g));
    }
    return EXIT_OK;
}

int cmd_dot(const cli *c)
{
    if (c->grad && !c->of) {
        return cli_fail(c, EXIT_USAGE, "--grad needs --of NAME, the scalar to differentiate");
    }
    model m;
    nb_node *y = NULL, **wrt = NULL, **grads = NULL, **outs = NULL;
    size_t n = 0, deepest = 0;
    int rc;
    if ((rc = model_load(c, &m, c->dtype)) != EXIT_OK ||
        (c->of && !(y = model_node(c, &m, c->of, "--of", &rc)))) {
        goto done;
    }
    if (c->grad && (rc = build_grads(c, &m, y, c->scopes, &wrt, &grads, &n, &deepest)) != EXIT_OK) {
        goto done;
    }
    /* the nodes to draw (and to compute for --values): y and its gradients, or everything */
    size_t n_outs = y ? 1 + n : nb_graph_node_count(m.g);
    outs = malloc((n_outs ? n_outs : 1) * sizeof *outs);
    if (!outs) {
        rc = cli_fail(c, EXIT_USAGE, "out of memory");
        goto done;
    }
    if (y) {
        outs[0] = y;
        for (size_t i = 0; i < n; i++) {
            outs[1 + i] = grads[i];
        }
    } else {
        for (size_t i = 0; i < n_outs; i++) {
            outs[i] = nb_graph_node(m.g, i);
        }
    }
    if (c->values && n_outs && nb_graph_run_ex(m.g, n_outs, outs, NB_RUN_KEEP_ALL) != NB_OK) {
        rc = cli_fail(c, EXIT_USAGE, "running the model failed: %s", nb_graph_error(m.g));
        goto done;
    }
    if (c->values && n_outs) {
        cli_run_warning(c, m.g);
    }
    nb_dot_options o = nb_dot_defaults();
    if (y) {
        o.outputs = outs;
        o.n_outputs = n_outs;
        o.highlight = c->grad ? grads[deepest] : y;
    }
    o.grad = c->grad;
    o.values = c->values;
    o.depth_level = c->scopes;
    o.collapse = c->scopes; /* each scope instance of that level drawn as one node */
    o.title = c->title;
    o.left_to_right = c->left_to_right;
    if (c->render) {
        rc = render(c, m.g, &o);
        goto done;
    }
    FILE *f = c->out_path ? fopen(c->out_path, "w") : stdout;
    if (!f) {
        rc = cli_fail(c, EXIT_USAGE, "cannot write %s: %s", c->out_path, strerror(errno));
        goto done;
    }
    nb_status s = nb_graph_write_dot(m.g, f, &o);
    bool bad = (f == stdout ? fflush(f) : fclose(f)) != 0;
    if (s != NB_OK || bad) {
        rc = cli_fail(c, EXIT_USAGE, "writing %s failed: %s", c->out_path ? c->out_path : "DOT",
                      s != NB_OK ? nb_graph_error(m.g) : strerror(errno));
    }
done:
    free(outs);
    free(wrt);
    free(grads);
    model_free(&m);
    return rc;
}
