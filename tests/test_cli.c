/*
 * tests/test_cli.c: the `nabla` command, run as a program. Each test writes
 * its model files to a fresh temporary directory, runs the built binary with
 * popen, and checks the output: JSON field by field (through the small reader
 * below), human lines exactly where their format is fixed, exit statuses
 * (0 success, 1 a failed check, 2 a bad model or bad arguments), error
 * messages with line:column and caret, the numbers of the book's figure 1.3
 * against their closed forms, training and evaluation modes and state nodes
 * in checkpoints (examples/models/bn_mlp.nb), held-out evaluation (eval
 * --data, train --test, standardization kept in checkpoints) and the hints
 * that wrong arguments get. docs/cli.md's examples are checked by test_docs.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NB_BUILD_DIR
#error "NB_BUILD_DIR must name the meson build root"
#endif

#define NABLA NB_BUILD_DIR "/tools/nabla"

/* ---- a temporary directory per test ---- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nabla-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .init = make_dir, .fini = remove_dir);

/* Writes text to dir/name. */
static void write_model(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static char *read_all(FILE *f)
{
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
    }
    buf[n] = '\0';
    return buf;
}

static char *read_path(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    char *s = read_all(f);
    fclose(f);
    return s;
}

/* What a run printed, and how it ended. */
typedef struct result {
    char *out, *err;
    int status;
} result;

/*
 * Runs `nabla ARGS` (a shell fragment: quote what needs it) in dir, with an
 * optional environment prefix such as "PATH=/nonexistent".
 */
__attribute__((format(printf, 2, 3))) static result run_env(const char *env, const char *fmt, ...)
{
    char args[2048], cmd[4096], err_path[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s%s '%s' %s 2>'%s'", dir, env ? "env " : "",
             env ? env : "", NABLA, args, err_path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    result r = { .out = read_all(p) };
    int st = pclose(p);
    cr_assert(WIFEXITED(st), "nabla %s: did not exit normally", args);
    r.status = WEXITSTATUS(st);
    r.err = read_path(err_path);
    cr_assert_not_null(r.err);
    return r;
}

#define run(...) run_env(NULL, __VA_ARGS__)

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* ---- a tiny JSON reader: enough to compare the CLI's output field by field ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;

typedef struct jvalue {
    jkind kind;
    double num; /* J_NUM; J_BOOL: 0 or 1 */
    char *str;  /* J_STR */
    size_t n;   /* J_ARR, J_OBJ: elements */
    struct jvalue *items;
    char **keys; /* J_OBJ */
} jvalue;

static const char *jskip(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
        s++;
    }
    return s;
}

static const char *jparse(const char *s, jvalue *v, int depth);

static const char *jstring(const char *s, char **out)
{
    cr_assert_eq(*s, '"', "JSON: expected a string at %.20s", s);
    s++;
    size_t cap = 16, n = 0;
    char *b = malloc(cap);
    while (*s && *s != '"') {
        char c = *s++;
        if (c == '\\') {
            c = *s++;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            cr_assert_neq(c, 'u', "JSON: \\u escapes are not expected here");
        }
        if (n + 2 > cap) {
            b = realloc(b, cap *= 2);
        }
        b[n++] = c;
    }
    cr_assert_eq(*s, '"', "JSON: unterminated string");
    b[n] = '\0';
    *out = b;
    return s + 1;
}

static const char *jparse(const char *s, jvalue *v, int depth)
{
    cr_assert_lt(depth, 32, "JSON: nested too deep");
    memset(v, 0, sizeof *v);
    s = jskip(s);
    if (*s == '{' || *s == '[') {
        bool obj = *s == '{';
        v->kind = obj ? J_OBJ : J_ARR;
        s = jskip(s + 1);
        size_t cap = 0;
        if (*s == (obj ? '}' : ']')) {
            return s + 1;
        }
        for (;;) {
            if (v->n == cap) {
                cap = cap ? cap * 2 : 4;
                v->items = realloc(v->items, cap * sizeof *v->items);
                v->keys = realloc(v->keys, cap * sizeof *v->keys);
            }
            v->keys[v->n] = NULL;
            if (obj) {
                s = jstring(jskip(s), &v->keys[v->n]);
                s = jskip(s);
                cr_assert_eq(*s, ':', "JSON: expected ':' at %.20s", s);
                s++;
            }
            s = jskip(jparse(s, &v->items[v->n++], depth + 1));
            if (*s == ',') {
                s++;
                continue;
            }
            cr_assert_eq(*s, obj ? '}' : ']', "JSON: expected ',' or a close at %.20s", s);
            return s + 1;
        }
    }
    if (*s == '"') {
        v->kind = J_STR;
        return jstring(s, &v->str);
    }
    if (strncmp(s, "null", 4) == 0) {
        v->kind = J_NULL;
        return s + 4;
    }
    if (strncmp(s, "true", 4) == 0 || strncmp(s, "false", 5) == 0) {
        v->kind = J_BOOL;
        v->num = *s == 't';
        return s + (*s == 't' ? 4 : 5);
    }
    /* JSON numbers only: no inf, nan, hex or leading '+' */
    cr_assert(*s == '-' || (*s >= '0' && *s <= '9'), "JSON: not a value at %.20s", s);
    char *end;
    v->kind = J_NUM;
    v->num = strtod(s, &end);
    cr_assert_neq(end, s);
    return end;
}

static jvalue json(const char *text)
{
    jvalue v;
    const char *end = jskip(jparse(text, &v, 0));
    cr_assert_eq(*end, '\0', "JSON: trailing text '%s'", end);
    return v;
}

static void jfree(jvalue *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

static jvalue *jget(jvalue *obj, const char *key)
{
    cr_assert_eq(obj->kind, J_OBJ);
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            return &obj->items[i];
        }
    }
    cr_assert_fail("JSON: no key '%s'", key);
    return NULL;
}

static bool jhas(jvalue *obj, const char *key)
{
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            return true;
        }
    }
    return false;
}

static jvalue *jat(jvalue *arr, size_t i)
{
    cr_assert_eq(arr->kind, J_ARR);
    cr_assert_lt(i, arr->n);
    return &arr->items[i];
}

static double jnum(jvalue *v)
{
    cr_assert_eq(v->kind, J_NUM, "JSON: expected a number (kind %d)", (int)v->kind);
    return v->num;
}

static const char *jstr(jvalue *v)
{
    cr_assert_eq(v->kind, J_STR);
    return v->str;
}

static void assert_close(double got, double want, double rtol)
{
    cr_assert(fabs(got - want) <= rtol * fabs(want) + 1e-300, "got %.17g, want %.17g", got, want);
}

/* The JSON list of numbers v equals want[0..n-1] within rtol. */
static void assert_list(jvalue *v, const double *want, size_t n, double rtol)
{
    cr_assert_eq(v->kind, J_ARR);
    cr_assert_eq(v->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_close(jnum(jat(v, i)), want[i], rtol);
    }
}

/* The JSON list of strings v equals want[]. */
static void assert_names(jvalue *v, const char *const *want, size_t n)
{
    cr_assert_eq(v->kind, J_ARR);
    cr_assert_eq(v->n, n, "got %zu names, want %zu", v->n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(jstr(jat(v, i)), want[i]);
    }
}

/* ---- the models ---- */

/* Figure 1.3: logistic regression y = sigmoid(sum(w * x)) in one scope. */
static const char fig13[] = "# figure 1.3\n"
                            "input x[3] = [1, 2, -1]\n"
                            "param w[3] = normal(0, 0.5)\n"
                            "scope logistic_regression {\n"
                            "  y = sigmoid(sum(w * x))\n"
                            "}\n";

/* A two-layer classifier on a fixed batch. */
static const char mlp[] = "input x[2, 3] = [[1, 2, 3], [-1, 0.5, 2]]\n"
                          "input labels[2] : i32 = [0, 2]\n"
                          "param w1[3, 4] = xavier\n"
                          "param b1[4] = uniform(-0.1, 0.1)\n"
                          "param w2[4, 3] = he\n"
                          "scope layer1 {\n"
                          "  h = tanh(x @ w1 + b1)\n"
                          "}\n"
                          "logits = h @ w2\n"
                          "loss = cross_entropy(logits, labels)\n";

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* ---- eval ---- */

Test(cli, eval_json_figure_1_3, .description = "y = sigmoid(w . x) at w = [0.5, -0.25, 0.1]")
{
    write_model("fig.nb", fig13);
    result r = run("eval fig.nb --of y --set 'w=[0.5, -0.25, 0.1]' --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    jvalue v = json(r.out);
    cr_assert_str_eq(jstr(jget(&v, "of")), "y");
    cr_assert_eq(jget(&v, "shape")->kind, J_ARR);
    cr_assert_eq(jget(&v, "shape")->n, 0);
    /* w . x = 0.5 - 0.5 - 0.1 */
    assert_close(jnum(jget(&v, "value")), sigmoid(-0.1), 1e-15);
    jfree(&v);
    result_free(&r);
}

Test(cli, eval_human_scalar_and_matrix)
{
    write_model("fig.nb", fig13);
    result r = run("eval fig.nb --of y --set 'w=[0.5, -0.25, 0.1]'");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "y = 0.475021\n");
    result_free(&r);

    write_model("m.nb", "input a[2, 3] = [[1, -2.5, 3], [40, 5, -6]]\nb = a * 2\n");
    r = run("eval m.nb --of b");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "b = [[  2,  -5,   6],\n     [ 80,  10, -12]]\n");
    result_free(&r);

    r = run("eval m.nb --of b --json");
    jvalue v = json(r.out);
    const double shape[] = { 2, 3 }, row0[] = { 2, -5, 6 }, row1[] = { 80, 10, -12 };
    assert_list(jget(&v, "shape"), shape, 2, 0);
    assert_list(jat(jget(&v, "value"), 0), row0, 3, 0);
    assert_list(jat(jget(&v, "value"), 1), row1, 3, 0);
    jfree(&v);
    result_free(&r);
}

Test(cli, eval_json_numbers_round_trip, .description = "17 digits for f64, 9 for f32")
{
    write_model("m.nb", "input a = 0.1\nparam w[2] = normal(0, 1)\n");
    result r = run("eval m.nb --of a --json");
    cr_assert_str_eq(r.out, "{\"of\": \"a\", \"shape\": [], \"value\": 0.10000000000000001}\n");
    result_free(&r);
    r = run("eval m.nb --of a --json --dtype f32");
    cr_assert_str_eq(r.out, "{\"of\": \"a\", \"shape\": [], \"value\": 0.100000001}\n");
    result_free(&r);

    /* the printed parameter values are exactly the library's (seed 0 and seed 3) */
    for (int seed = 0; seed <= 3; seed += 3) {
        r = run("eval m.nb --of w --json --seed %d", seed);
        cr_assert_eq(r.status, 0, "%s", r.err);
        jvalue v = json(r.out);
        nb_graph *g = nb_graph_new();
        nb_graph_seed(g, (uint64_t)seed);
        const char *src = "input a = 0.1\nparam w[2] = normal(0, 1)\n";
        cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), NB_OK);
        const double *w = nb_node_data(nb_graph_find(g, "w"));
        cr_assert_eq(jnum(jat(jget(&v, "value"), 0)), w[0]);
        cr_assert_eq(jnum(jat(jget(&v, "value"), 1)), w[1]);
        nb_graph_free(g);
        jfree(&v);
        result_free(&r);
    }
}

Test(cli, eval_nan_and_infinity_are_null)
{
    write_model("m.nb", "input x[3] = [0, -1, 1]\ny = log(x)\n");
    result r = run("eval m.nb --of y --json");
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, "{\"of\": \"y\", \"shape\": [3], \"value\": [null, null, 0]}\n");
    jvalue v = json(r.out);
    cr_assert_eq(jat(jget(&v, "value"), 0)->kind, J_NULL);
    jfree(&v);
    result_free(&r);
}

Test(cli, set_nested_lists_and_labels)
{
    write_model("m.nb",
                "input a[2, 2]\ninput k[3] : i32\ns = sum(a * a)\nt = sum(one_hot(k, 4))\n");
    result r = run("eval m.nb --of s --set 'a=[[1, 2], [3, 4]]' --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    jvalue v = json(r.out);
    assert_close(jnum(jget(&v, "value")), 30, 0);
    jfree(&v);
    result_free(&r);

    r = run("eval m.nb --of t --set k=[0,3,1] --set a=[[0,0],[0,0]]");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "t = 3\n");
    result_free(&r);

    /* a bare number fills every element, as in the model language */
    r = run("eval m.nb --of s --set a=0.5 --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    v = json(r.out);
    assert_close(jnum(jget(&v, "value")), 1, 0);
    jfree(&v);
    result_free(&r);

    /* a parameter too; the last --set of a name wins */
    write_model("p.nb", "param w = 1\ny = w * 3\n");
    r = run("eval p.nb --of y --set w=2 --set w=-1.5e1");
    cr_assert_str_eq(r.out, "y = -45\n");
    result_free(&r);
}

Test(cli, set_errors)
{
    write_model("m.nb",
                "input a[2, 2]\ninput k[2] : i32\nconst c = 2\nparam s = 1\ny = sum(a) * c\n");
    static const struct {
        const char *args, *message;
    } cases[] = {
        { "--set a=[1,2]",
          "nabla eval: --set a: the value has shape [2] but a has shape [2, 2]\n" },
        { "--set 'a=[[1,2],[3]]'",
          "nabla eval: --set a: ragged list: one has 1 element, an earlier one 2 in "
          "'[[1,2],[3]]'\n" },
        { "--set 'a=[[1,2],[3,4]'",
          "nabla eval: --set a: expected ',' or ']', found the end in '[[1,2],[3,4]'\n" },
        { "--set a=[[1,x],[3,4]]",
          "nabla eval: --set a: expected a number or '[', found 'x],[3,4]]' in '[[1,x],[3,4]]'\n" },
        { "--set a=", "nabla eval: --set a: expected a number or a list like [1, 2], found the end "
                      "in ''\n" },
        { "--set s=[1]", "nabla eval: --set s: the value has shape [1] but s has shape [] (a "
                         "scalar: write a bare number)\n" },
        { "--set s=1x", "nabla eval: --set s: unexpected 'x' after the number in '1x'\n" },
        { "--set s=nan", "nabla eval: --set s: expected a number or a list like [1, 2], found "
                         "'nan' in 'nan'\n" },
        { "--set k=[1,2.5]",
          "nabla eval: --set k: k is an i32 input (labels); 2.5 is not a whole number\n" },
        { "--set c=3",
          "nabla eval: --set c: c is a constant; --set gives values to inputs, parameters and "
          "state nodes\n" },
        { "--set y=3",
          "nabla eval: --set y: y is computed by the model; --set gives values to inputs, "
          "parameters and state nodes\n" },
        { "--set q=3",
          "nabla eval: --set q: m.nb has no node named 'q' (it names: a, k, c, s, y)\n" },
        { "--set a", "nabla eval: --set takes NAME=VALUE, as in --set x=[1,2]; got 'a'\n" },
        { "--set '[[[[[1]]]]]=1'", NULL },
        { "--set 'a=[[[[[1]]]]]'", "nabla eval: --set a: lists nest deeper than rank 4 in "
                                   "'[[[[[1]]]]]'\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        result r = run("eval m.nb --of y %s", cases[i].args);
        cr_assert_eq(r.status, 2, "%s: status %d", cases[i].args, r.status);
        cr_assert_str_eq(r.out, "");
        if (cases[i].message) {
            cr_assert_str_eq(r.err, cases[i].message, "%s", cases[i].args);
        }
        result_free(&r);
    }
    /* with --json, the same error as an object on stdout */
    result r = run("eval m.nb --of y --set a=[1,2] --json");
    cr_assert_eq(r.status, 2);
    jvalue v = json(r.out);
    cr_assert_str_eq(jstr(jget(&v, "error")),
                     "--set a: the value has shape [2] but a has shape [2, 2]");
    cr_assert_eq(jnum(jget(&v, "line")), 0);
    cr_assert_eq(jnum(jget(&v, "column")), 0);
    jfree(&v);
    result_free(&r);
}

/* ---- grad ---- */

Test(cli, grad_json_figure_1_3, .description = "dy/dw = y (1 - y) x, dy/dx = y (1 - y) w")
{
    write_model("fig.nb", fig13);
    result r = run("grad fig.nb --of y --set 'w=[0.5, -0.25, 0.1]' --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    jvalue v = json(r.out);
    double y = sigmoid(-0.1), s = y * (1 - y);
    cr_assert_str_eq(jstr(jget(&v, "of")), "y");
    assert_close(jnum(jget(&v, "value")), y, 1e-15);
    jvalue *grads = jget(&v, "grads");
    cr_assert_eq(grads->n, 1, "the default is every parameter");
    const double dw[] = { s * 1, s * 2, s * -1 };
    assert_list(jget(grads, "w"), dw, 3, 1e-14);
    jfree(&v);
    result_free(&r);

    r = run("grad fig.nb --of y --set 'w=[0.5, -0.25, 0.1]' --wrt x,w --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    v = json(r.out);
    grads = jget(&v, "grads");
    cr_assert_eq(grads->n, 2);
    cr_assert_str_eq(grads->keys[0], "x");
    cr_assert_str_eq(grads->keys[1], "w");
    const double dx[] = { s * 0.5, s * -0.25, s * 0.1 };
    assert_list(jget(grads, "x"), dx, 3, 1e-14);
    assert_list(jget(grads, "w"), dw, 3, 1e-14);
    jfree(&v);
    result_free(&r);
}

Test(cli, grad_human)
{
    write_model("m.nb", "input x = 2\ny = x ** 3\n");
    result r = run("grad m.nb --of y");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "y = 8\ndy/dx = 12\n", "a model without parameters: every input");
    result_free(&r);

    write_model("fig.nb", fig13);
    r = run("grad fig.nb --of y --set 'w=[0, 0, 0]'");
    cr_assert_str_eq(r.out, "y = 0.5\ndy/dw = [0.25, 0.5, -0.25]\n");
    result_free(&r);
}

Test(cli, grad_errors)
{
    write_model("m.nb", mlp);
    result r = run("grad m.nb --of logits");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla grad: --of logits: logits has shape [2, 3], but a gradient "
                            "needs a scalar output; reduce it first, e.g. s = sum(logits), and "
                            "use --of s\n");
    result_free(&r);
    r = run("grad m.nb --of loss --wrt labels");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err,
                     "nabla grad: --wrt labels: labels holds i32 labels, which have no gradient\n");
    result_free(&r);
    r = run("grad m.nb --of loss --wrt w1,nope --json");
    cr_assert_eq(r.status, 2);
    jvalue v = json(r.out);
    cr_assert(strstr(jstr(jget(&v, "error")), "no node named 'nope'"));
    jfree(&v);
    result_free(&r);
    r = run("grad m.nb --of loss --wrt w1,w1");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla grad: --wrt names w1 twice\n");
    result_free(&r);
    r = run("grad m.nb");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla grad: which node? name it with --of NAME (see nabla grad "
                            "--help)\n");
    result_free(&r);
}

/* ---- depth ---- */

Test(cli, depth_figure_1_3, .description = "depth 3 over ops, 1 over scopes; gradient 7 and 2")
{
    write_model("fig.nb", fig13);
    result r = run("depth fig.nb --of y --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "{\"of\": \"y\", \"depth\": 3, \"path\": [\"w\", \"mul_1\", "
                            "\"sum_1\", \"y\"], \"scopes\": false}\n");
    result_free(&r);

    r = run("depth fig.nb --of y --scopes --json");
    jvalue v = json(r.out);
    cr_assert_eq(jnum(jget(&v, "depth")), 1);
    cr_assert_eq(jnum(jget(&v, "scopes")), 1);
    cr_assert(!jhas(&v, "grad_depth"));
    jfree(&v);
    result_free(&r);

    r = run("depth fig.nb --of y --grad --json");
    v = json(r.out);
    cr_assert_eq(jnum(jget(&v, "depth")), 3);
    cr_assert_eq(jnum(jget(&v, "grad_depth")), 6);
    cr_assert_str_eq(jstr(jget(&v, "grad_of")), "w");
    cr_assert_eq(jget(&v, "scopes")->kind, J_BOOL);
    const char *gpath[] = {
        "w", "mul_1", "sum_1", "y", "sigmoid_grad_1", "broadcast_to_1", "grad_w"
    };
    assert_names(jget(&v, "grad_path"), gpath, 7);
    jfree(&v);
    result_free(&r);

    r = run("depth fig.nb --of y --grad --scopes=1 --json");
    v = json(r.out);
    cr_assert_eq(jnum(jget(&v, "depth")), 1);
    cr_assert_eq(jnum(jget(&v, "grad_depth")), 2);
    jfree(&v);
    result_free(&r);

    r = run("depth fig.nb --of y");
    cr_assert_str_eq(r.out, "y: depth 3 over ops\n  w -> mul_1 -> sum_1 -> y\n");
    result_free(&r);
    r = run("depth fig.nb --of y --scopes");
    cr_assert_str_eq(r.out, "y: depth 1 over scopes (level 1)\n"
                            "  w -> [logistic_regression: mul_1 -> sum_1 -> y]\n");
    result_free(&r);
    r = run("depth fig.nb --of y --grad");
    cr_assert_str_eq(r.out, "y: depth 3 over ops\n  w -> mul_1 -> sum_1 -> y\n"
                            "gradient dy/dw: depth 6 over ops\n"
                            "  w -> mul_1 -> sum_1 -> y -> sigmoid_grad_1 -> broadcast_to_1 -> "
                            "grad_w\n");
    result_free(&r);
}

Test(cli, depth_concepts, .description = "--concepts: the concept graph's depth, and its misuses")
{
    write_model("fig.nb", fig13);
    result r = run("depth fig.nb --of y --concepts");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "y: depth 1 over concepts (level 1)\n  logistic_regression\n");
    result_free(&r);
    write_model("loop.nb", "input x[2] = [1, 2]\n"
                           "scope a {\n  u = tanh(x)\n}\nscope b {\n  v = tanh(u)\n}\n"
                           "scope a {\n  w = tanh(v)\n}\nscope b {\n  z = sum(tanh(w))\n}\n");
    r = run("depth loop.nb --of z --concepts --json");
    cr_assert_str_eq(r.out, "{\"of\": \"z\", \"concept_depth\": 2, \"concepts\": [\"a\", "
                            "\"b\"], \"level\": 1}\n");
    result_free(&r);
    r = run("depth fig.nb --of y --concepts --grad");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla depth: --concepts measures the concept graph alone: leave out "
                            "--grad and --scopes\n");
    result_free(&r);
    r = run("depth fig.nb --of y --concepts=0");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla depth: --concepts=LEVEL takes a level >= 1 (1: the outermost "
                            "scopes), not '0'\n");
    result_free(&r);
}

Test(cli, depth_nested_scopes)
{
    write_model("n.nb", "input x[3] = [1, 2, 3]\n"
                        "param w[3] = [0.1, 0.2, 0.3]\n"
                        "scope model {\n"
                        "  scope linear {\n"
                        "    s = sum(w * x)\n"
                        "  }\n"
                        "  scope activation {\n"
                        "    y = sigmoid(s)\n"
                        "  }\n"
                        "}\n"
                        "z = y * 2\n");
    static const struct {
        const char *opt;
        int depth;
        const char *path;
    } cases[] = {
        { "", 4, "  w -> mul_1 -> s -> y -> z\n" },
        { "--scopes", 2, "  w -> [model: mul_1 -> s -> y] -> z\n" },
        { "--scopes=2", 3, "  w -> [linear: mul_1 -> s] -> [activation: y] -> z\n" },
        { "--scopes=3", 3, "  w -> [linear: mul_1 -> s] -> [activation: y] -> z\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        result r = run("depth n.nb --of z %s", cases[i].opt);
        cr_assert_eq(r.status, 0, "%s", r.err);
        char *nl = strchr(r.out, '\n');
        cr_assert_not_null(nl);
        cr_assert_str_eq(nl + 1, cases[i].path, "%s", cases[i].opt);
        char head[64];
        snprintf(head, sizeof head, "z: depth %d ", cases[i].depth);
        cr_assert(strncmp(r.out, head, strlen(head)) == 0, "%s: %s", cases[i].opt, r.out);
        result_free(&r);
    }
    result r = run("depth n.nb --of z --scopes=0");
    cr_assert_eq(r.status, 2);
    result_free(&r);
}

/* ---- dot ---- */

static bool have_graphviz(void)
{
    return system("command -v dot >/dev/null 2>&1") == 0;
}

Test(cli, dot_output_is_valid_graphviz)
{
    write_model("fig.nb", fig13);
    result r = run("dot fig.nb --of y --grad --values --title 'figure 1.3'");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strncmp(r.out, "digraph", 7) == 0);
    cr_assert(strstr(r.out, "subgraph cluster_"));
    cr_assert(strstr(r.out, "grad:logistic_regression"));
    cr_assert(strstr(r.out, "grad = ["), "values and gradients are shown");
    cr_assert(strstr(r.out, "color=red"), "the longest path is highlighted");
    result_free(&r);

    r = run("dot fig.nb -o fig.dot");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "");
    char path[128];
    snprintf(path, sizeof path, "%s/fig.dot", dir);
    char *text = read_path(path);
    cr_assert_not_null(text);
    cr_assert(strncmp(text, "digraph", 7) == 0);
    cr_assert_null(strstr(text, "grad:"), "no gradient nodes without --grad");
    free(text);
    result_free(&r);

    if (!have_graphviz()) {
        cr_log_warn("Graphviz is not installed: DOT output not rendered");
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' dot fig.nb --of y --grad --values | dot -Tsvg "
             ">/dev/null 2>&1",
             dir, NABLA);
    cr_assert_eq(system(cmd), 0, "Graphviz rejected the DOT output");
    r = run("dot fig.nb --of y --scopes --svg -o fig.svg");
    cr_assert_eq(r.status, 0, "%s", r.err);
    snprintf(path, sizeof path, "%s/fig.svg", dir);
    text = read_path(path);
    cr_assert_not_null(text);
    cr_assert(strstr(text, "<svg"));
    free(text);
    result_free(&r);
}

Test(cli, dot_without_graphviz)
{
    write_model("fig.nb", fig13);
    result r = run_env("PATH=/nonexistent", "dot fig.nb --svg -o fig.svg");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "Graphviz's `dot` program, which is not installed"), "%s", r.err);
    result_free(&r);
    r = run("dot fig.nb --svg --png");
    cr_assert_eq(r.status, 2);
    result_free(&r);
    r = run("dot fig.nb --grad");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla dot: --grad needs --of NAME, the scalar to differentiate\n");
    result_free(&r);
}

/* ---- trace ---- */

Test(cli, trace_figure_1_3)
{
    write_model("fig.nb", fig13);
    result r = run("trace fig.nb --of y --set 'w=[0.5, -0.25, 0.1]'");
    cr_assert_eq(r.status, 0, "%s", r.err);
    static const char *const lines[] = {
        "forward pass: the 5 nodes y needs, in order\n",
        "  node   op       shape  value              computed as\n"
        "  x      input    [3]    [1, 2, -1]\n"
        "  w      param    [3]    [0.5, -0.25, 0.1]\n"
        "  mul_1  mul      [3]    [0.5, -0.5, -0.1]  w * x\n"
        "  sum_1  sum      []     -0.1               sum(mul_1)\n"
        "  y      sigmoid  []     0.475              sigmoid(sum_1)\n",
        "  ∂y/∂y = 1\n      the seed",
        /* the rule written with the real nodes, and a value for each of its symbols */
        ("  ∂y/∂sum_1 = 0.2494\n"
         "      from y = sigmoid(sum_1): ∂y/∂sum_1 += sigmoid_grad(y, ∂y/∂y) = ∂y/∂y * y * (1 - y)"
         "   [y = 0.475, ∂y/∂y = 1]\n"),
        "  ∂y/∂mul_1 = [0.2494, 0.2494, 0.2494]\n"
        "      from sum_1 = sum(mul_1): ∂y/∂mul_1 += broadcast_to(∂y/∂sum_1, shape(mul_1))   "
        "[mul_1 = [0.5, -0.5, -0.1], ∂y/∂sum_1 = 0.2494]\n",
        "  ∂y/∂w = [0.2494, 0.4988, -0.2494]\n      from mul_1 = w * x: ∂y/∂w += ∂y/∂mul_1 * x "
        "(summed over broadcast axes)   [x = [1, 2, -1], ∂y/∂mul_1 = [0.2494, 0.2494, 0.2494]]\n",
        "  ∂y/∂x = [0.1247, -0.06234, 0.02494]\n      from mul_1 = w * x: ∂y/∂x += ∂y/∂mul_1 * w "
        "(summed over broadcast axes)   [w = [0.5, -0.25, 0.1], ∂y/∂mul_1 = [0.2494, 0.2494, "
        "0.2494]]\n",
    };
    const char *at = r.out;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        const char *found = strstr(at, lines[i]);
        cr_assert_not_null(found, "missing, in order:\n%s\nin:\n%s", lines[i], r.out);
        at = found + strlen(lines[i]);
    }
    result_free(&r);
}

Test(cli, trace_json_matches_grad)
{
    write_model("m.nb", mlp);
    result g = run("grad m.nb --of loss --json");
    result t = run("trace m.nb --of loss --json");
    cr_assert_eq(g.status, 0, "%s", g.err);
    cr_assert_eq(t.status, 0, "%s", t.err);
    jvalue gv = json(g.out), tv = json(t.out);
    jvalue *fwd = jget(&tv, "forward"), *bwd = jget(&tv, "backward");
    /* forward: every node loss needs, leaves first, loss last */
    cr_assert_str_eq(jstr(jget(jat(fwd, 0), "name")), "x");
    cr_assert_str_eq(jstr(jget(jat(fwd, fwd->n - 1), "name")), "loss");
    cr_assert_str_eq(jstr(jget(jat(fwd, fwd->n - 1), "expr")), "cross_entropy(logits, labels)");
    /* backward: reverse order, the seed first, adjoints equal to grad's */
    cr_assert_str_eq(jstr(jget(jat(bwd, 0), "name")), "loss");
    cr_assert_eq(jnum(jget(jat(bwd, 0), "adjoint")), 1);
    size_t seen = 0;
    for (size_t i = 0; i < bwd->n; i++) {
        jvalue *e = jat(bwd, i);
        const char *name = jstr(jget(e, "name"));
        cr_assert_str_neq(name, "labels", "i32 labels get no adjoint");
        if (strcmp(name, "w1") == 0 || strcmp(name, "b1") == 0 || strcmp(name, "w2") == 0) {
            jvalue *want = jget(jget(&gv, "grads"), name), *got = jget(e, "adjoint");
            cr_assert_eq(got->n, want->n);
            for (size_t k = 0; k < want->n; k++) {
                jvalue *a = jat(got, k), *b = jat(want, k);
                size_t m = a->kind == J_ARR ? a->n : 1;
                for (size_t j = 0; j < m; j++) {
                    double x = a->kind == J_ARR ? jnum(jat(a, j)) : jnum(a);
                    double y = b->kind == J_ARR ? jnum(jat(b, j)) : jnum(b);
                    assert_close(x, y, 1e-12);
                }
            }
            seen++;
        }
        if (strcmp(name, "logits") == 0) {
            jvalue *from = jat(jget(e, "from"), 0);
            cr_assert_str_eq(jstr(jget(from, "consumer")), "loss");
            cr_assert_str_eq(jstr(jget(from, "rule")),
                             "dz = (softmax(z) - one_hot(labels)) * dy / N");
        }
    }
    cr_assert_eq(seen, 3);
    jfree(&gv);
    jfree(&tv);
    result_free(&g);
    result_free(&t);
}

Test(cli, trace_sums_several_consumers)
{
    write_model("m.nb", "input x = 3\nparam w = 2\ny = w * x + w\n");
    result r = run("trace m.nb --of y");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "  ∂y/∂w = 4\n"
                            "      from mul_1 = w * x: ∂y/∂w += ∂y/∂mul_1 * x (summed over "
                            "broadcast axes)   [x = 3, ∂y/∂mul_1 = 1]\n"
                            "      from y = mul_1 + w: ∂y/∂w += ∂y/∂y (summed over broadcast "
                            "axes)   [∂y/∂y = 1]\n"
                            "      (the 2 contributions are summed)\n"),
              "%s", r.out);
    result_free(&r);
}

/* ---- check ---- */

Test(cli, check_passes_on_correct_models)
{
    write_model("fig.nb", fig13);
    result r = run("check fig.nb --of y");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "\n  w     "));
    cr_assert(strstr(r.out, "ok\nthe gradient agrees with finite differences\n"), "%s", r.out);
    result_free(&r);

    write_model("m.nb", mlp);
    r = run("check m.nb --of loss --wrt w1,b1,w2,x --json");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    jvalue v = json(r.out);
    cr_assert_eq(jget(&v, "passed")->num, 1);
    jvalue *res = jget(&v, "results");
    cr_assert_eq(res->n, 4);
    for (size_t i = 0; i < res->n; i++) {
        cr_assert_eq(jget(&res->items[i], "passed")->num, 1, "%s", res->keys[i]);
        cr_assert_lt(jnum(jget(&res->items[i], "max_rel_err")), 1e-5, "%s", res->keys[i]);
    }
    jfree(&v);
    result_free(&r);
}

Test(cli, check_fails_at_a_kink, .description = "relu'(0) is 0; finite differences give 1/2")
{
    write_model("k.nb", "param w[2] = [0, 1]\ny = sum(relu(w))\n");
    result r = run("check k.nb --of y");
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.out, "FAILED: worst at w[0], analytic 0, numeric 0.5\n"), "%s", r.out);
    cr_assert(strstr(r.out, "1 of 1 gradient disagrees"), "%s", r.out);
    result_free(&r);
    r = run("check k.nb --of y --json");
    cr_assert_eq(r.status, 1);
    jvalue v = json(r.out);
    cr_assert_eq(jget(&v, "passed")->num, 0);
    jvalue *w = jget(jget(&v, "results"), "w");
    cr_assert_eq(jnum(jget(w, "worst_index")), 0);
    assert_close(jnum(jget(w, "numeric")), 0.5, 1e-6);
    jfree(&v);
    result_free(&r);
    /* moved off the kink, it passes */
    r = run("check k.nb --of y --set w=[0.25,1]");
    cr_assert_eq(r.status, 0, "%s", r.out);
    result_free(&r);
}

/* ---- train ---- */

static const char iris[] = "input x[16, 4]\n"
                           "input y[16] : i32\n"
                           "param w1[4, 8] = xavier\n"
                           "param b1[8] = zeros\n"
                           "param w2[8, 3] = xavier\n"
                           "param b2[3] = zeros\n"
                           "scope mlp {\n"
                           "  h = relu(x @ w1 + b1)\n"
                           "  logits = h @ w2 + b2\n"
                           "}\n"
                           "loss = cross_entropy(logits, y)\n";

Test(cli, train_decreases_the_loss)
{
    write_model("iris.nb", iris);
    result r = run("train iris.nb --loss loss --data '%s/data/iris-train.csv' --standardize "
                   "--epochs 15 --lr 0.02 --save iris.ckpt --json",
                   NB_SOURCE_DIR);
    cr_assert_eq(r.status, 0, "%s", r.err);
    jvalue v = json(r.out);
    jvalue *losses = jget(&v, "losses");
    cr_assert_eq(losses->n, 15);
    double first = jnum(jat(losses, 0)), last = jnum(jat(losses, 14));
    cr_assert_lt(last, first / 3, "loss %g -> %g", first, last);
    cr_assert_gt(jnum(jat(jget(&v, "accuracy"), 14)), 0.85);
    cr_assert_eq(jnum(jget(&v, "steps")), 15 * 7, "120 rows: 7 batches of 16, 8 skipped");
    cr_assert_eq(jnum(jget(&v, "skipped")), 8);
    cr_assert_str_eq(jstr(jget(&v, "saved")), "iris.ckpt");
    cr_assert(strstr(r.err, "epoch  15/15  loss "), "progress on stderr: %s", r.err);
    jfree(&v);
    result_free(&r);

    /* the checkpoint holds the trained parameters */
    r = run("eval iris.nb --of b2 --load iris.ckpt --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    v = json(r.out);
    cr_assert_neq(jnum(jat(jget(&v, "value"), 0)), 0, "b2 started at zeros");
    jfree(&v);
    result_free(&r);

    /* the same seed gives the same run; quiet means no progress */
    r = run("train iris.nb --loss loss --data '%s/data/iris-train.csv' --epochs 2 --optim sgd "
            "--lr 0.1 --quiet --seed 5",
            NB_SOURCE_DIR);
    result r2 = run("train iris.nb --loss loss --data '%s/data/iris-train.csv' --epochs 2 "
                    "--optim sgd --lr 0.1 --quiet --seed 5",
                    NB_SOURCE_DIR);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    cr_assert_str_eq(r.out, r2.out);
    cr_assert(strncmp(r.out, "trained loss for 2 epochs (14 steps): loss ", 43) == 0, "%s", r.out);
    result_free(&r);
    result_free(&r2);
}

Test(cli, train_errors)
{
    write_model("iris.nb", iris);
    static const struct {
        const char *args, *message;
    } cases[] = {
        { "--loss loss", "nabla train: train needs --loss NAME (the scalar to minimize) and --data "
                         "FILE (see nabla train --help)\n" },
        { "--loss loss --data nope.csv", NULL },
        { "--loss loss --data DATA --batch 10",
          "nabla train: --batch 10: the model fixes the batch size at 16 (x[16, 4]); change the "
          "first dimension of x and y in the model\n" },
        { "--loss loss --data DATA --label species", NULL },
        { "--loss loss --data DATA --optim lbfgs",
          "nabla train: --optim lbfgs: the optimizers are sgd, momentum, nesterov, adagrad, "
          "rmsprop, adam and adamw\n" },
        { "--loss logits --data DATA", NULL },
        { "--loss loss --data DATA --lr -1", "nabla train: --lr takes a number > 0, not '-1'\n" },
        { "--loss loss --data DATA --x h", "nabla train: --x h: h is not an input\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[512];
        const char *d = strstr(cases[i].args, "DATA");
        if (d) {
            snprintf(args, sizeof args, "%.*s'%s/data/iris-train.csv'%s", (int)(d - cases[i].args),
                     cases[i].args, NB_SOURCE_DIR, d + 4);
        } else {
            snprintf(args, sizeof args, "%s", cases[i].args);
        }
        result r = run("train iris.nb %s --quiet", args);
        cr_assert_eq(r.status, 2, "%s: %d %s", args, r.status, r.err);
        if (cases[i].message) {
            cr_assert_str_eq(r.err, cases[i].message);
        } else {
            cr_assert_neq(r.err[0], '\0');
        }
        result_free(&r);
    }
}

/* ---- modes, state nodes and checkpoints (examples/models/bn_mlp.nb) ---- */

#define BN_MLP   NB_SOURCE_DIR "/examples/models/bn_mlp.nb"
#define IRIS_CSV NB_SOURCE_DIR "/data/iris-train.csv"
#define BN_EPS   1e-5 /* batch_norm's default, which bn_mlp.nb keeps */

/* A fixed batch for bn_mlp's x[10, 4]: x[i][j] = sin(4i + j + 1), as a --set literal. */
static void bn_batch(char *buf, size_t cap, double x[10][4])
{
    size_t at = (size_t)snprintf(buf, cap, "x=[");
    for (int i = 0; i < 10; i++) {
        at += (size_t)snprintf(buf + at, cap - at, "%s[", i ? ", " : "");
        for (int j = 0; j < 4; j++) {
            x[i][j] = sin(4.0 * i + j + 1);
            at += (size_t)snprintf(buf + at, cap - at, "%s%.17g", j ? ", " : "", x[i][j]);
        }
        at += (size_t)snprintf(buf + at, cap - at, "]");
    }
    snprintf(buf + at, cap - at, "]");
}

/* The values of `nabla eval ... --json` flattened row-major into out (at most cap); their count. */
static size_t flatten(jvalue *v, double *out, size_t cap)
{
    if (v->kind == J_NUM) {
        cr_assert_gt(cap, 0);
        out[0] = v->num;
        return 1;
    }
    cr_assert_eq(v->kind, J_ARR);
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        n += flatten(&v->items[i], out + n, cap - n);
    }
    return n;
}

/* Runs `nabla eval MODEL --of NAME EXTRA --json`, expects success, and reads the value. */
static size_t eval_values(const char *model, const char *name, const char *extra, double *out,
                          size_t cap)
{
    result r = run("eval '%s' --of %s %s --json", model, name, extra);
    cr_assert_eq(r.status, 0, "eval --of %s %s: %s", name, extra, r.err);
    jvalue v = json(r.out);
    size_t n = flatten(jget(&v, "value"), out, cap);
    jfree(&v);
    result_free(&r);
    return n;
}

/*
 * z = batch_norm(x @ W1, gamma, beta, rm, rv) in evaluation mode, from the
 * values the command reports for W1, gamma, beta, rm and rv (after `extra`:
 * --load, --set).
 */
static void bn_eval_z(const char *extra, double x[10][4], double z[10][16])
{
    double w1[64], gamma[16], beta[16], rm[16], rv[16];
    cr_assert_eq(eval_values(BN_MLP, "W1", extra, w1, 64), 64);
    cr_assert_eq(eval_values(BN_MLP, "gamma", extra, gamma, 16), 16);
    cr_assert_eq(eval_values(BN_MLP, "beta", extra, beta, 16), 16);
    cr_assert_eq(eval_values(BN_MLP, "rm", extra, rm, 16), 16);
    cr_assert_eq(eval_values(BN_MLP, "rv", extra, rv, 16), 16);
    for (int i = 0; i < 10; i++) {
        for (int c = 0; c < 16; c++) {
            double a = 0;
            for (int j = 0; j < 4; j++) {
                a += x[i][j] * w1[j * 16 + c];
            }
            z[i][c] = (a - rm[c]) / sqrt(rv[c] + BN_EPS) * gamma[c] + beta[c];
        }
    }
}

Test(cli, commands_run_in_evaluation_mode_unless_train,
     .description = "eval: dropout off, batch_norm on rm and rv; --train: batch statistics, "
                    "dropout drops with p = 0.25")
{
    char set[2048], extra[2100];
    double x[10][4], want[10][16], z[160], h[160];
    bn_batch(set, sizeof set, x);
    snprintf(extra, sizeof extra, "--set '%s'", set);

    /* evaluation: z from the running statistics (zeros and ones), h = relu(z) */
    bn_eval_z(extra, x, want);
    cr_assert_eq(eval_values(BN_MLP, "z", extra, z, 160), 160);
    cr_assert_eq(eval_values(BN_MLP, "h", extra, h, 160), 160);
    for (int k = 0; k < 160; k++) {
        assert_close(z[k], want[k / 16][k % 16], 1e-12);
        cr_assert_eq(h[k], z[k] > 0 ? z[k] : 0, "h[%d]: dropout is off in evaluation", k);
    }

    /* training: every channel of z has batch mean beta = 0; h is 0 or relu(z) / 0.75 */
    snprintf(extra, sizeof extra, "--set '%s' --train", set);
    cr_assert_eq(eval_values(BN_MLP, "z", extra, z, 160), 160);
    cr_assert_eq(eval_values(BN_MLP, "h", extra, h, 160), 160);
    for (int c = 0; c < 16; c++) {
        double mean = 0;
        for (int i = 0; i < 10; i++) {
            mean += z[i * 16 + c] / 10;
        }
        cr_assert_lt(fabs(mean), 1e-12, "channel %d: batch mean %g", c, mean);
    }
    int dropped = 0, kept = 0;
    for (int k = 0; k < 160; k++) {
        if (z[k] <= 0) {
            cr_assert_eq(h[k], 0);
        } else if (h[k] == 0) {
            dropped++;
        } else {
            assert_close(h[k], z[k] / 0.75, 1e-12);
            kept++;
        }
    }
    cr_assert(dropped > 0 && kept > 0, "dropped %d, kept %d", dropped, kept);
}

Test(cli, set_gives_a_state_node_values)
{
    char set[2048], extra[2200];
    double x[10][4], want[10][16], z[160], rm[16];
    bn_batch(set, sizeof set, x);
    snprintf(extra, sizeof extra, "--set '%s' --set rm=0.5 --set 'rv=2'", set);
    cr_assert_eq(eval_values(BN_MLP, "rm", extra, rm, 16), 16);
    for (int c = 0; c < 16; c++) {
        cr_assert_eq(rm[c], 0.5);
    }
    /* evaluation normalizes with them: (x @ W1 - 0.5) / sqrt(2 + eps) */
    bn_eval_z(extra, x, want);
    cr_assert_eq(eval_values(BN_MLP, "z", extra, z, 160), 160);
    for (int k = 0; k < 160; k++) {
        assert_close(z[k], want[k / 16][k % 16], 1e-12);
    }
}

Test(cli, train_saves_state_and_evaluation_passes_leave_it_alone)
{
    /* with accuracy (evaluation runs after every epoch) and without (--quiet) */
    result r = run("train '%s' --loss loss --data '%s' --standardize --epochs 2 --lr 0.01 "
                   "--save a.ckpt",
                   BN_MLP, IRIS_CSV);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "epoch   2/2  loss "), "%s", r.err);
    cr_assert(strstr(r.err, "  accuracy "), "%s", r.err);
    cr_assert(strstr(r.out, "saved the parameters, the state nodes and the standardization "
                            "statistics to a.ckpt (read them with --load a.ckpt)\n"),
              "%s", r.out);
    result_free(&r);
    r = run("train '%s' --loss loss --data '%s' --standardize --epochs 2 --lr 0.01 --save b.ckpt "
            "--quiet",
            BN_MLP, IRIS_CSV);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    result_free(&r);
    char cmp[400];
    snprintf(cmp, sizeof cmp, "cmp -s '%s/a.ckpt' '%s/b.ckpt'", dir, dir);
    cr_assert_eq(system(cmp), 0, "the accuracy passes changed the checkpoint");

    /* the training steps moved the running statistics from zeros and ones */
    double rm[16], rv[16];
    cr_assert_eq(eval_values(BN_MLP, "rm", "--load a.ckpt", rm, 16), 16);
    cr_assert_eq(eval_values(BN_MLP, "rv", "--load a.ckpt", rv, 16), 16);
    int moved = 0;
    for (int c = 0; c < 16; c++) {
        moved += rm[c] != 0 && rv[c] != 1 && rv[c] > 0;
    }
    cr_assert_eq(moved, 16);

    /* a loaded model evaluates with its saved statistics */
    char set[2048], extra[2100];
    double x[10][4], want[10][16], z[160];
    bn_batch(set, sizeof set, x);
    snprintf(extra, sizeof extra, "--load a.ckpt --set '%s'", set);
    bn_eval_z(extra, x, want);
    cr_assert_eq(eval_values(BN_MLP, "z", extra, z, 160), 160);
    for (int k = 0; k < 160; k++) {
        assert_close(z[k], want[k / 16][k % 16], 1e-12);
    }
}

Test(cli, load_a_checkpoint_without_state)
{
    /* what a program that saved the parameters alone wrote */
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_model_parse_file(g, BN_MLP, NULL, NULL), NB_OK, "%s", nb_graph_error(g));
    static const char *const names[] = { "W1", "gamma", "beta", "W2", "b2" };
    nb_node *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = nb_graph_find(g, names[i]);
        cr_assert_not_null(p[i]);
    }
    cr_assert_eq(nb_node_write_f64(g, p[4], (double[]){ 0.25, -0.5, 1 }, 3), NB_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/old.ckpt", dir);
    cr_assert_eq(nb_checkpoint_save(g, path, 5, p, NULL), NB_OK, "%s", nb_graph_error(g));
    nb_graph_free(g);

    /* evaluation mode would read rm and rv as if trained: refused, with the ways out */
    result r = run("eval '%s' --of logits --load old.ckpt", BN_MLP);
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla eval: --load old.ckpt: the checkpoint holds the parameters "
                            "only, not the state nodes rm, rv that evaluation mode reads; give "
                            "them with --set, run in training mode with --train, or save a new "
                            "checkpoint with nabla train --load old.ckpt --save FILE\n");
    result_free(&r);
    r = run("grad '%s' --of loss --load old.ckpt --set rm=0", BN_MLP);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "not the state node rv that evaluation mode reads; give it with"), "%s",
              r.err);
    result_free(&r);

    /* fine when they are given, in training mode, or when nothing runs */
    double b2[3];
    cr_assert_eq(eval_values(BN_MLP, "b2", "--load old.ckpt --set rm=0 --set rv=1", b2, 3), 3);
    cr_assert(b2[0] == 0.25 && b2[1] == -0.5 && b2[2] == 1);
    cr_assert_eq(eval_values(BN_MLP, "b2", "--load old.ckpt --train", b2, 3), 3);
    cr_assert_eq(b2[1], -0.5);
    r = run("depth '%s' --of loss --load old.ckpt", BN_MLP);
    cr_assert_eq(r.status, 0, "%s", r.err);
    result_free(&r);

    /* train starts the statistics from the model's values and says so */
    r = run("train '%s' --loss loss --data '%s' --epochs 1 --quiet --load old.ckpt --save new.ckpt",
            BN_MLP, IRIS_CSV);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "nabla train: note: old.ckpt holds the parameters but not the state "
                            "nodes rm, rv; they start from the model's values, and training "
                            "updates them\n");
    result_free(&r);
    double rm[16];
    cr_assert_eq(eval_values(BN_MLP, "rm", "--load new.ckpt", rm, 16), 16);
    cr_assert_neq(rm[0], 0);

    /* a checkpoint of another model names what does not match */
    write_model("iris.nb", iris);
    r = run("eval iris.nb --of loss --load new.ckpt");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla eval: --load new.ckpt: checkpoint_load: new.ckpt: holds 7 "
                            "tensors, but 4 parameters were given\n");
    result_free(&r);
}

Test(cli, check_runs_in_evaluation_mode,
     .description = "dropout's fresh mask per training run would defeat finite differences")
{
    char set[2048];
    double x[10][4];
    bn_batch(set, sizeof set, x);
    result r = run("check '%s' --of loss --set '%s'", BN_MLP, set);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "all 5 gradients agree with finite differences\n"), "%s", r.out);
    result_free(&r);
    r = run("check '%s' --of loss --set '%s' --train", BN_MLP, set);
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla check: --train: h is dropout, which draws a new mask in every "
                            "training run, so finite differences cannot agree with the gradient; "
                            "check in evaluation mode (without --train), or set its p to 0\n");
    result_free(&r);

    /* without dropout, --train checks the gradient through the batch statistics */
    write_model("bn.nb", "input x[6, 3]\n"
                         "param w[3] = [0.5, -1, 2]\n"
                         "param b[3] = [0.1, 0.2, -0.3]\n"
                         "state m[3] = zeros\n"
                         "state v[3] = ones\n"
                         "y = batch_norm(x, w, b, m, v, eps=0.01)\n"
                         "loss = sum(y * y * x)\n");
    const char *xs = "--set 'x=[[1, 2, 0.5], [-1, 0.3, 2], [0.7, -2, 1], [2, 1, -1], "
                     "[0.1, 0.4, 0.9], [-0.6, 1.5, -0.2]]'";
    r = run("check bn.nb --of loss --wrt w,b,x %s --train --json", xs);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    jvalue v = json(r.out);
    cr_assert_eq(jget(&v, "passed")->kind, J_BOOL);
    cr_assert_eq(jget(&v, "passed")->num, 1, "%s", r.out);
    jfree(&v);
    result_free(&r);
    /* and the two modes give different gradients for x */
    result e = run("grad bn.nb --of loss --wrt x %s --json", xs);
    result t = run("grad bn.nb --of loss --wrt x %s --train --json", xs);
    cr_assert(e.status == 0 && t.status == 0);
    cr_assert_str_neq(e.out, t.out);
    result_free(&e);
    result_free(&t);
}

/*
 * docs/cli.md's examples are run and compared by tests/test_docs.c, with every
 * other page's (its blocks are marked <!-- doctest -->).
 */

/* ---- model errors, arguments, help ---- */

Test(cli, model_errors_point_at_the_place)
{
    write_model("bad.nb", "input x[4, 3]\nparam w[2, 5] = zeros\n\n# a comment\nz = relu(x) @ w\n");
    result r = run("eval bad.nb --of z");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.out, "");
    cr_assert_str_eq(r.err, "bad.nb:5:13: matmul: inner dimensions 3 and 2 differ "
                            "(relu_1[4,3] @ w[2,5])\n"
                            "    5 | z = relu(x) @ w\n"
                            "      |             ^\n");
    result_free(&r);

    r = run("depth bad.nb --of z --json");
    cr_assert_eq(r.status, 2);
    jvalue v = json(r.out);
    cr_assert_str_eq(jstr(jget(&v, "error")),
                     "matmul: inner dimensions 3 and 2 differ (relu_1[4,3] @ w[2,5])");
    cr_assert_eq(jnum(jget(&v, "line")), 5);
    cr_assert_eq(jnum(jget(&v, "column")), 13);
    jfree(&v);
    result_free(&r);

    /* a tab before the error stays a tab under it, so the caret lines up */
    write_model("tab.nb", "input x[2]\n\ty = x + q\n");
    r = run("eval tab.nb --of y");
    cr_assert_eq(r.status, 2);
    char *first_nl = strchr(r.err, '\n');
    cr_assert_not_null(first_nl);
    cr_assert(strncmp(r.err, "tab.nb:2:10: ", 13) == 0, "%s", r.err);
    cr_assert_str_eq(first_nl + 1, "    2 | \ty = x + q\n      | \t        ^\n");
    result_free(&r);

    /* an unclosed scope points at its brace */
    write_model("open.nb", "input x\nscope s {\n  y = x * 2\n");
    r = run("eval open.nb --of y --json");
    cr_assert_eq(r.status, 2);
    v = json(r.out);
    cr_assert_eq(jnum(jget(&v, "line")), 2);
    cr_assert_eq(jnum(jget(&v, "column")), 9);
    jfree(&v);
    result_free(&r);
}

Test(cli, bad_arguments)
{
    write_model("fig.nb", fig13);
    static const struct {
        const char *args, *message;
    } cases[] = {
        { "", NULL },
        { "frob fig.nb", "nabla: unknown command 'frob'; the commands are eval, grad, depth, dot, "
                         "trace, check and train (see nabla --help)\n" },
        { "eval", "nabla eval: no model file (usage: nabla eval MODEL ...; see --help)\n" },
        { "eval nope.nb --of y", "nabla eval: cannot open nope.nb: No such file or directory\n" },
        { "eval fig.nb fig.nb --of y",
          "nabla eval: one model file, please: 'fig.nb' and 'fig.nb' (options start with --)\n" },
        { "eval fig.nb --of y --bogus",
          "nabla eval: unknown option '--bogus' (see nabla eval --help)\n" },
        { "eval fig.nb --of y --epochs 3", "nabla eval: --epochs is an option of train, not of "
                                           "eval\n" },
        { "eval fig.nb --of y --values",
          "nabla eval: --values is an option of dot, not of eval\n" },
        { "eval fig.nb --of", "nabla eval: --of needs a value\n" },
        { "eval fig.nb --of q", "nabla eval: --of q: fig.nb has no node named 'q' (it names: x, "
                                "w, y)\n" },
        { "eval fig.nb --of y --dtype f16", "nabla eval: --dtype is f32 or f64, not 'f16'\n" },
        { "eval fig.nb --of y --seed -1",
          "nabla eval: --seed takes a whole number >= 0, not '-1'\n" },
        { "eval fig.nb --of y --json=1", "nabla eval: --json takes no value\n" },
        { "depth fig.nb --of y --set w=1",
          "nabla depth: --set is an option of eval, grad, dot, trace, check and train, not of "
          "depth\n" },
        { "check fig.nb --of y --eps 0", "nabla check: --eps takes a number > 0, not '0'\n" },
        { "train fig.nb --loss y --micro-batches 0",
          "nabla train: --micro-batches takes a whole number from 1 to 4096, not '0'\n" },
        { "depth fig.nb --of y --train",
          "nabla depth: --train is an option of eval, grad, dot, trace and check, not of depth\n" },
        { "train fig.nb --loss y --train",
          "nabla train: --train is an option of eval, grad, dot, trace and check, not of train\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        result r = run("%s", cases[i].args);
        cr_assert_eq(r.status, 2, "'%s': %d", cases[i].args, r.status);
        if (cases[i].message) {
            cr_assert_str_eq(r.err, cases[i].message, "'%s'", cases[i].args);
        }
        result_free(&r);
    }
}

Test(cli, help_for_every_command)
{
    result r = run("--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strncmp(r.out, "usage: nabla COMMAND MODEL", 26) == 0);
    result_free(&r);
    static const char *const cmds[] = { "eval", "grad", "depth", "dot", "trace", "check", "train" };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char want[64];
        snprintf(want, sizeof want, "usage: nabla %s MODEL", cmds[i]);
        r = run("%s --help", cmds[i]);
        cr_assert_eq(r.status, 0);
        cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
        cr_assert_null(strstr(r.out, "%s"), "a format left in the help of %s", cmds[i]);
        result_free(&r);
        r = run("help %s", cmds[i]);
        cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
        result_free(&r);
    }
    r = run("--version");
    cr_assert_eq(r.status, 0);
    /* the version, then what computes the products */
    const char *blas = nb_blas_config();
    bool plain = strcmp(blas, "plain") == 0;
    char want_version[160];
    snprintf(want_version, sizeof want_version, "nabla %s\nmatrix products: %s%s\n",
             NB_VERSION_STRING, plain ? "plain loops" : "BLIS, configuration ", plain ? "" : blas);
    cr_assert_str_eq(r.out, want_version);
    result_free(&r);
}

/* ---- held-out evaluation ---- */

#define IRIS_NB   NB_SOURCE_DIR "/examples/models/iris_train.nb"
#define IRIS_TEST NB_SOURCE_DIR "/data/iris-test.csv"

Test(cli, train_test_and_eval_data_agree_with_the_saved_statistics,
     .description = "train --test's figures are eval --data's on the saved checkpoint")
{
    result t = run("train '%s' --loss loss --data '%s' --standardize --epochs 4 --lr 0.01 "
                   "--test '%s' --save s.ckpt --quiet --json",
                   IRIS_NB, IRIS_CSV, IRIS_TEST);
    cr_assert_eq(t.status, 0, "%s", t.err);
    jvalue tv = json(t.out);
    jvalue *test = jget(&tv, "test");
    cr_assert_not_null(test, "%s", t.out);
    cr_assert_eq(jnum(jget(test, "examples")), 30);
    cr_assert_eq(jnum(jget(test, "skipped")), 0);
    double loss = jnum(jget(test, "loss")), acc = jnum(jget(test, "accuracy"));
    cr_assert(loss > 0 && loss < 2 && acc > 0.5 && acc <= 1, "%s", t.out);

    /* the checkpoint carries the statistics, and eval applies them */
    result e = run("eval '%s' --of loss --data '%s' --load s.ckpt --json", IRIS_NB, IRIS_TEST);
    cr_assert_eq(e.status, 0, "%s", e.err);
    jvalue ev = json(e.out);
    cr_assert_eq(jnum(jget(&ev, "loss")), loss, "%s vs %s", e.out, t.out);
    cr_assert_eq(jnum(jget(&ev, "accuracy")), acc);
    cr_assert_eq(jget(&ev, "standardized")->kind, J_BOOL);
    cr_assert_eq(jget(&ev, "standardized")->num, 1);
    jfree(&ev);
    result_free(&e);

    /* the statistics are the training data's: mean and std of its first column */
    e = run("eval '%s' --of 'standardize:mean' --load s.ckpt --json", IRIS_NB);
    cr_assert_eq(e.status, 0, "%s", e.err);
    ev = json(e.out);
    jvalue *mean = jget(&ev, "value");
    cr_assert_eq(mean->kind, J_ARR);
    cr_assert_eq(mean->n, 4);
    nb_dataset ds = { 0 };
    char err[256];
    cr_assert_eq(nb_dataset_read_csv(&ds, IRIS_CSV, "label", err, sizeof err), NB_OK, "%s", err);
    double m[4], s[4];
    nb_dataset_moments(&ds, m, s);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(mean->items[k].num, m[k]);
    }
    nb_dataset_free(&ds);
    jfree(&ev);
    result_free(&e);

    /* without the statistics (a model never standardized) the figures differ */
    e = run("eval '%s' --of loss --data '%s' --json", IRIS_NB, IRIS_TEST);
    cr_assert_eq(e.status, 0, "%s", e.err);
    ev = json(e.out);
    cr_assert_neq(jnum(jget(&ev, "loss")), loss);
    cr_assert_eq(jget(&ev, "standardized")->num, 0);
    jfree(&ev);
    result_free(&e);

    /* and the human line */
    e = run("eval '%s' --of loss --data '%s' --load s.ckpt", IRIS_NB, IRIS_TEST);
    cr_assert_eq(e.status, 0, "%s", e.err);
    char want[512];
    snprintf(want, sizeof want,
             "loss over %s (30 examples, standardized as in training): %.6f, accuracy %.4f\n",
             IRIS_TEST, loss, acc);
    cr_assert_str_eq(e.out, want);
    result_free(&e);
    jfree(&tv);
    result_free(&t);

    /* --verbose: the test figures on every epoch's line */
    t = run("train '%s' --loss loss --data '%s' --standardize --epochs 2 --lr 0.01 --test '%s' "
            "--verbose",
            IRIS_NB, IRIS_CSV, IRIS_TEST);
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.err, "epoch   1/2  loss ") && strstr(t.err, "  test loss "), "%s", t.err);
    char *second = strstr(t.err, "epoch   2/2");
    cr_assert(second && strstr(second, "  test accuracy "), "%s", t.err);
    result_free(&t);
}

Test(cli, old_checkpoints_without_statistics_still_load)
{
    /* a checkpoint saved without --standardize holds no statistics, as every older file */
    result t = run("train '%s' --loss loss --data '%s' --epochs 1 --save p.ckpt --quiet", IRIS_NB,
                   IRIS_CSV);
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "saved the parameters to p.ckpt"), "%s", t.out);
    result_free(&t);
    result e = run("eval '%s' --of loss --data '%s' --load p.ckpt --json", IRIS_NB, IRIS_TEST);
    cr_assert_eq(e.status, 0, "%s", e.err);
    jvalue ev = json(e.out);
    cr_assert_eq(jget(&ev, "standardized")->num, 0);
    jfree(&ev);
    result_free(&e);
    /* --standardize at eval time cannot invent the training statistics */
    e = run("eval '%s' --of loss --data '%s' --load p.ckpt --standardize", IRIS_NB, IRIS_TEST);
    cr_assert_eq(e.status, 2);
    cr_assert_str_eq(e.err, "nabla eval: --standardize: eval applies the training data's "
                            "statistics, which nabla train --standardize --save FILE keeps in "
                            "the checkpoint; give it with --load FILE (this one has none)\n");
    result_free(&e);
}

Test(cli, idx_without_labels_says_what_it_needs)
{
    /* an IDX images file: magic 0x00000803, 1 image of 2 x 2 */
    static const unsigned char idx[] = {
        0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4
    };
    char path[256];
    snprintf(path, sizeof path, "%s/images.idx", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(idx, 1, sizeof idx, f), sizeof idx);
    cr_assert_eq(fclose(f), 0);
    write_model("m.nb", "input x[1, 4]\ninput y[1] : i32\nparam w[4, 2] = zeros\n"
                        "loss = cross_entropy(x @ w, y)\n");
    result r = run("train m.nb --loss loss --data images.idx");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "nabla train: --data images.idx is an IDX images file (magic "
                            "0x00000803); IDX needs --labels FILE, the labels file (MNIST's "
                            "train-labels-idx1-ubyte); CSV files carry their labels in a column\n");
    result_free(&r);
    r = run("train m.nb --loss loss --data '%s' --test images.idx", IRIS_CSV);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--test images.idx is an IDX images file") &&
                  strstr(r.err, "IDX needs --test-labels FILE"),
              "%s", r.err);
    result_free(&r);
    r = run("eval m.nb --of loss --data images.idx");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "IDX needs --labels FILE"), "%s", r.err);
    result_free(&r);
}

Test(cli, a_diverging_loss_stops_training, .description = "sgd with lr 1e4 on iris blows up")
{
    result r = run("train '%s' --loss loss --data '%s' --optim sgd --lr 10000 --epochs 20", IRIS_NB,
                   IRIS_CSV);
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_assert(strstr(r.err, "nabla train: training diverged at epoch "), "%s", r.err);
    cr_assert(strstr(r.err, "try a smaller --lr (now 10000)"), "%s", r.err);
    result_free(&r);
}

Test(cli, misspelt_commands_options_optimizers_and_nodes_get_a_suggestion)
{
    write_model("fig.nb", fig13);
    static const struct {
        const char *args, *err;
    } cases[] = {
        { "evl fig.nb --of y", "nabla: unknown command 'evl'; did you mean 'eval'? (see nabla "
                               "--help)\n" },
        { "frobnicate fig.nb", "nabla: unknown command 'frobnicate'; the commands are eval, "
                               "grad, depth, dot, trace, check and train (see nabla --help)\n" },
        { "eval fig.nb --off y", "nabla eval: unknown option '--off'; did you mean '--of'? (see "
                                 "nabla eval --help)\n" },
        { "depth fig.nb --of y --scope", "nabla depth: unknown option '--scope'; did you mean "
                                         "'--scopes'? (see nabla depth --help)\n" },
        { "eval fig.nb --of y --zzzzzz", "nabla eval: unknown option '--zzzzzz' (see nabla eval "
                                         "--help)\n" },
        { "train fig.nb --loss y --data d.csv --optim adm",
          "nabla train: --optim adm: did you mean 'adam'? the optimizers are sgd, momentum, "
          "nesterov, adagrad, rmsprop, adam and adamw\n" },
        { "eval fig.nb --of Y", "nabla eval: --of Y: fig.nb has no node named 'Y'; did you mean "
                                "'y'? (it names: x, w, y)\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        result r = run("%s", cases[i].args);
        cr_expect_eq(r.status, 2, "%s", cases[i].args);
        cr_expect_str_eq(r.err, cases[i].err, "nabla %s", cases[i].args);
        result_free(&r);
    }
    /* the model language's suggestions reach the command with line and caret */
    write_model("typo.nb", "input x[3]\ny = sigmod(x)\n");
    result r = run("eval typo.nb --of y");
    cr_assert_str_eq(r.err, "typo.nb:2:5: unknown function 'sigmod'; did you mean 'sigmoid'?\n"
                            "    2 | y = sigmod(x)\n"
                            "      |     ^\n");
    result_free(&r);
}

Test(cli, trace_specializes_rules_and_gives_every_symbol_a_value,
     .description = "matmul's flags, pow's p, mean's n, leaky_relu's default slope")
{
    write_model("t.nb", "input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "param w[4, 3] = ones\n"
                        "param v[2, 4] = ones\n"
                        "h = matmul(x, w, transpose_b)\n"
                        "g = matmul(x, v, transpose_a)\n"
                        "z = leaky_relu(h) ** 2\n"
                        "loss = mean(z) + sum(g)\n");
    result r = run("trace t.nb --of loss");
    cr_assert_eq(r.status, 0, "%s", r.err);
    static const char *const parts[] = {
        /* a @ bᵀ: da = dy @ b, db = dyᵀ @ a; aᵀ @ b: da = b @ dyᵀ, db = a @ dy */
        "from h = matmul(x, w, transpose_b): ∂loss/∂w += (∂loss/∂h)ᵀ @ x   [x = ",
        "from h = matmul(x, w, transpose_b): ∂loss/∂x += ∂loss/∂h @ w   [w = ",
        "from g = matmul(x, v, transpose_a): ∂loss/∂v += x @ ∂loss/∂g   [x = ",
        "from g = matmul(x, v, transpose_a): ∂loss/∂x += v @ (∂loss/∂g)ᵀ   [v = ",
        ", p = 2]\n",
        "from mean_1 = mean(z): ∂loss/∂z += broadcast_to(∂loss/∂mean_1 / n, shape(z))   [z = ",
        ", n = 8]\n",
        ", slope = 0.01]\n",
    };
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        cr_expect_not_null(strstr(r.out, parts[i]), "missing: %s\nin:\n%s", parts[i], r.out);
    }
    /* the same nested form in both passes, cut after six values */
    cr_expect_not_null(strstr(r.out, "[4, 3]  [[1, 1, 1], [1, 1, 1], ...] (12 values)"), "%s",
                       r.out);
    cr_expect_not_null(strstr(r.out, "  ∂loss/∂x = [[10, 10, 10], [19, 19, 19]]\n"), "%s", r.out);
    result_free(&r);
    /* the JSON gives the op's rule for this input and the applied one */
    r = run("trace t.nb --of loss --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "\"rule\": \"da = dy @ b\", \"applied\": \"from h = "
                                     "matmul(x, w, transpose_b): ∂loss/∂x += ∂loss/∂h @ w"),
                       "%s", r.out);
    result_free(&r);
}

Test(cli, an_input_never_given_values_gets_a_warning)
{
    write_model("z.nb", "input x[2]\nparam w[2] = [1, 2]\ny = sum(w * x)\n");
    result r = run("eval z.nb --of y");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "y = 0\n");
    cr_assert_str_eq(r.err, "nabla eval: warning: input x was never given values and reads as "
                            "zeros; give it with --set x=VALUE or a literal in the model (input "
                            "x[...] = [...])\n");
    result_free(&r);
    r = run("eval z.nb --of y --set 'x=[1, 1]'");
    cr_assert_str_eq(r.out, "y = 3\n");
    cr_assert_str_eq(r.err, "");
    result_free(&r);
}
