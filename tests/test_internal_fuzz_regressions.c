/*
 * tests/test_internal_fuzz_regressions.c: every input that made a fuzz target
 * fail (tests/fuzz_regressions/<target>/, one file each, named after the bug)
 * and every seed of the fuzz corpora (fuzz/corpus/<target>/) goes through the
 * targets' own checks: the four fuzz/fuzz_*.c files are compiled in here with
 * NBF_NO_MAIN, and a broken invariant fails the test instead of aborting.
 * docs/reliability.md lists the bugs. Internal: the targets call the nbi_
 * in-memory readers of io/io.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NB_SOURCE_DIR
#define NB_SOURCE_DIR "." /* meson defines it; this only helps a lone syntax check */
#endif

/* The input being checked, named in a failure. */
static char current[1024];

#define NBF_FAIL(...)                                                                              \
    do {                                                                                           \
        cr_log_error("fuzz input %s", current);                                                    \
        cr_assert_fail(__VA_ARGS__);                                                               \
    } while (0)
#define NBF_NO_MAIN

#include "fuzz/fuzz_checkpoint.c"
#include "fuzz/fuzz_csv.c"
#include "fuzz/fuzz_idx.c"
#include "fuzz/fuzz_parser.c"
#ifdef NBI_HAVE_ONNX
#include "fuzz/fuzz_onnx.c"
#endif

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every file of dir (sorted by name) to target; returns how many there were. */
static size_t run_dir(const char *dir, int (*target)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    if (!d) {
        return 0; /* git keeps no empty folder: no file, no regression */
    }
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof names / sizeof *names) {
        if (e->d_name[0] != '.') {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        snprintf(current, sizeof current, "%s/%s", dir, names[i]);
        FILE *f = fopen(current, "rb");
        cr_assert_not_null(f, "cannot open %s", current);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        cr_assert_not_null(buf);
        cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len, "cannot read %s", current);
        fclose(f);
        target(buf, (size_t)len);
        free(buf);
        free(names[i]);
    }
    return n;
}

#define REGRESSIONS NB_SOURCE_DIR "/tests/fuzz_regressions/"
#define CORPUS      NB_SOURCE_DIR "/fuzz/corpus/"

Test(fuzz_regressions, parser, .description = "model texts that once broke the parser fuzzer")
{
    cr_assert_geq(run_dir(REGRESSIONS "parser", nbf_parser), 1);
}

Test(fuzz_regressions, csv, .description = "CSV inputs that once broke the CSV fuzzer")
{
    cr_assert_geq(run_dir(REGRESSIONS "csv", nbf_csv), 1);
}

Test(fuzz_regressions, checkpoint)
{
    run_dir(REGRESSIONS "checkpoint", nbf_checkpoint);
}

Test(fuzz_regressions, idx)
{
    run_dir(REGRESSIONS "idx", nbf_idx);
}

Test(fuzz_corpus, parser, .description = "the seeds: examples/models and more constructs")
{
    cr_assert_geq(run_dir(CORPUS "parser", nbf_parser), 10);
}

Test(fuzz_corpus, checkpoint, .description = "valid and near-valid checkpoints (make_seeds)")
{
    cr_assert_geq(run_dir(CORPUS "checkpoint", nbf_checkpoint), 10);
}

Test(fuzz_corpus, idx, .description = "IDX pairs, valid and malformed (make_seeds)")
{
    cr_assert_geq(run_dir(CORPUS "idx", nbf_idx), 5);
}

#ifdef NBI_HAVE_ONNX
Test(fuzz_regressions, onnx)
{
    run_dir(REGRESSIONS "onnx", nbf_onnx);
}

Test(fuzz_corpus, onnx, .description = "PyTorch's and nabla's exports, and malformed files")
{
    cr_assert_geq(run_dir(CORPUS "onnx", nbf_onnx), 10);
}
#endif

Test(fuzz_corpus, csv, .description = "small CSVs with edge cases")
{
    cr_assert_geq(run_dir(CORPUS "csv", nbf_csv), 10);
}

/* ======================================================================== */
/* The behaviour each fix gives, with its exact message                     */
/* ======================================================================== */

Test(fuzz_fixes, a_call_without_arguments_is_a_syntax_error)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    const char *src = "input x = 1\ny = exp()\n";
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_ERR_FORMAT);
    cr_assert_str_eq(e.message, "exp takes exp(x); got 0 arguments");
    cr_assert_eq(e.line, 2);
    cr_assert_eq(e.column, 5);
    nb_graph_free(g);
}

Test(fuzz_fixes, a_call_of_an_op_with_settings_without_arguments_is_a_syntax_error,
     .description = "regression: the first call, with keywords read from the op's record, "
                    "took an offset of the empty value stack's NULL")
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    const char *src = "y = elu()\n";
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_ERR_FORMAT);
    cr_assert_str_eq(e.message, "elu takes elu(x, alpha=1); got 0 positional arguments");
    cr_assert_eq(e.line, 1);
    cr_assert_eq(e.column, 5);
    nb_graph_free(g);
}

Test(fuzz_fixes, an_f32_literal_beyond_the_f32_range_is_a_syntax_error)
{
    static const struct {
        const char *src, *message;
        int line, column;
    } cases[] = {
        { "input x = 1e39\n", "1e+39 is too large for f32; constants must be finite", 1, 11 },
        { "input x[2] = [1, -4e38]\n", "-4e+38 is too large for f32; constants must be finite", 1,
          14 },
        { "input x = 1\ny = x * 1e39\n", "1e+39 is too large for f32; constants must be finite", 2,
          9 },
        { "input x[2] = 1\ny = x * [1e39, 1]\n",
          "1e+39 is too large for f32; constants must be finite", 2, 9 },
        { "y = fill([2], 1e300)\n", "1e+300 is too large for f32; constants must be finite", 1,
          15 },
        { "input x : f32 = 1e39\n", "1e+39 is too large for f32; constants must be finite", 1, 17 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nb_graph *g = nb_graph_new();
        nb_parse_error e;
        nb_model_options o = { .dtype = NB_DTYPE_F32 };
        cr_assert_eq(nb_model_parse(g, cases[i].src, strlen(cases[i].src), &o, &e), NB_ERR_FORMAT,
                     "%s", cases[i].src);
        cr_assert_str_eq(e.message, cases[i].message, "%s", cases[i].src);
        cr_assert_eq(e.line, cases[i].line, "%s", cases[i].src);
        cr_assert_eq(e.column, cases[i].column, "%s: column %d", cases[i].src, e.column);
        nb_graph_free(g);
    }
    /* the largest f32 is fine, and f64 models keep their range */
    nb_graph *g = nb_graph_new();
    nb_model_options o = { .dtype = NB_DTYPE_F32 };
    const char *ok = "input x = 3.4e38\n";
    cr_assert_eq(nb_model_parse(g, ok, strlen(ok), &o, NULL), NB_OK);
    nb_graph_free(g);
    g = nb_graph_new();
    const char *f64 = "input x = 1e300\n";
    cr_assert_eq(nb_model_parse(g, f64, strlen(f64), NULL, NULL), NB_OK);
    nb_graph_free(g);
}

Test(fuzz_fixes, a_csv_feature_beyond_the_f32_range_is_a_format_error)
{
    const char *csv = "a,label\n1,0\n1e39,1\n";
    nb_dataset ds;
    char err[256];
    cr_assert_eq(nbi_dataset_parse_csv(&ds, csv, strlen(csv), "t.csv", "label", err, sizeof err),
                 NB_ERR_FORMAT);
    cr_assert_str_eq(err, "t.csv:3: field 1 ('1e39') is too large for a float32 feature");
    cr_assert_eq(ds.rows, 0);
    cr_assert_null(ds.x);
    /* a label is a double: 1e39 is a fine regression target */
    csv = "a,label\n1,1e39\n";
    cr_assert_eq(nbi_dataset_parse_csv(&ds, csv, strlen(csv), "t.csv", "label", err, sizeof err),
                 NB_OK);
    cr_assert_eq(ds.y[0], 1e39);
    nb_dataset_free(&ds);
}

Test(fuzz_fixes, f32_exp_sigmoid_and_tanh_of_nan_are_nan)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(4));
    nb_node *y[3] = { nb_exp(g, x), nb_sigmoid(g, x), nb_tanh(g, x) };
    float in[4] = { NAN, INFINITY, -INFINITY, 0 };
    cr_assert_eq(nb_node_write(g, x, in, 4), NB_OK);
    cr_assert_eq(nb_graph_run(g, 3, y), NB_OK);
    const float want[3][4] = { { NAN, INFINITY, 0, 1 }, { NAN, 1, 0, 0.5f }, { NAN, 1, -1, 0 } };
    for (int k = 0; k < 3; k++) {
        const float *v = nb_node_data(y[k]);
        cr_assert(isnan(v[0]), "%s(NaN) = %g", nb_node_op_name(y[k]), (double)v[0]);
        for (int i = 1; i < 4; i++) {
            cr_assert_eq(v[i], want[k][i], "%s(%g) = %g", nb_node_op_name(y[k]), (double)in[i],
                         (double)v[i]);
        }
    }
    nb_graph_free(g);
}

Test(fuzz_fixes, gradcheck_puts_back_the_states_training_runs_update,
     .description = "regression: each run of nb_gradcheck moved batch_norm's running statistics")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 2), nb_init_constant(0));
    nb_node *m = nb_state(g, NB_DTYPE_F64, NB_SHAPE(2), 0.5);
    nb_node *v = nb_state(g, NB_DTYPE_F64, NB_SHAPE(2), 2);
    nb_node *w = nb_fill(g, NB_DTYPE_F64, NB_SHAPE(2), 1);
    nb_node *b = nb_fill(g, NB_DTYPE_F64, NB_SHAPE(2), 0);
    nb_node *y = nb_sum(g, nb_mul(g, nb_batch_norm(g, x, w, b, m, v, 0.1, 1e-5), x));
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    const double xv[4] = { 1, 2, 3, 5 };
    cr_assert_eq(nb_node_write_f64(g, x, xv, 4), NB_OK);
    /* x and both states: the states are constants to nb_grad, and no run may move them */
    nb_node *wrt[3] = { x, m, v };
    nb_gradcheck_result r[3];
    cr_assert_eq(nb_gradcheck(g, y, 3, wrt, NULL, r), NB_OK, "%s", nb_graph_error(g));
    for (int i = 0; i < 3; i++) {
        cr_assert(r[i].passed, "wrt %d: analytic %g, numeric %g", i, r[i].analytic, r[i].numeric);
    }
    const double *mv = nb_node_data(m), *vv = nb_node_data(v), *xd = nb_node_data(x);
    cr_assert(mv[0] == 0.5 && mv[1] == 0.5, "running mean %g %g", mv[0], mv[1]);
    cr_assert(vv[0] == 2 && vv[1] == 2, "running var %g %g", vv[0], vv[1]);
    cr_assert_arr_eq(xd, xv, sizeof xv);
    /* an ordinary run still updates them: 0.9 * 0.5 + 0.1 * mean of column 0 (1, 3) */
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    cr_assert_float_eq(((const double *)nb_node_data(m))[0], 0.65, 1e-15);
    nb_graph_free(g);
}

Test(fuzz_fixes, argmax_with_keepdims_is_written_with_keywords_only,
     .description = "regression: the writer put keepdims bare after axis=1, a positional "
                    "argument after a keyword one, and the model did not read back")
{
    nb_graph *g = nb_graph_new();
    const char *src = "input x[2, 3] = [[1, 5, 2], [4, 0, 3]]\ny = argmax(x, 1, keepdims)\n";
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, NULL), NB_OK);
    char expr[64];
    nb_node_expression(nb_graph_find(g, "y"), expr, sizeof expr);
    cr_assert_str_eq(expr, "argmax(x, axis=1, keepdims=true)");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(nb_model_write(g, f), NB_OK);
    fclose(f);
    nb_graph *h = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(h, text, len, NULL, &e), NB_OK, "%d:%d: %s\n%s", e.line, e.column,
                 e.message, text);
    nb_node *y = nb_graph_find(h, "y");
    cr_assert(nb_node_rank(y) == 2 && nb_node_shape(y)[1] == 1);
    free(text);
    nb_graph_free(h);
    nb_graph_free(g);
}
