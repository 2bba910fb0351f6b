/*
 * tests/test_examples.c: the training examples reach the figures that the
 * README and docs/training.md quote. Each test runs a built example (from
 * `meson compile`, which `meson test` does not do by itself) with --quiet and
 * checks its exit status and its last line; one test checks that a run
 * resumed from a checkpoint ends exactly where an uninterrupted run does.
 * About 3 s in all on two cores, plus about 60 s of CPU for names_lstm (its
 * eight epochs take 40 s, one epoch of each cell the rest); under ASan+UBSan
 * the eight epochs take 2 min 40 s of CPU.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NB_BUILD_DIR /* tests/meson.build sets it to the build root */
#define NB_BUILD_DIR "build"
#endif

#define EXAMPLES NB_BUILD_DIR "/examples/"

/* ---- helpers ---- */

/* What a command printed and how it ended. */
typedef struct run_result {
    char *out;  /* everything it printed, NUL-terminated (free it) */
    int status; /* its exit code, or -1 if it did not exit normally */
} run_result;

/* Runs a shell command line and collects its standard output. */
static run_result run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen(%s) failed", cmd);
    size_t cap = 4096, n = 0, got;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert_not_null(out);
        }
    }
    out[n] = '\0';
    int st = pclose(p);
    return (run_result){ out, st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1 };
}

/* Runs an example with arguments; asserts it exits 0. */
static run_result run_example(const char *name, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s%s' %s", EXAMPLES, name, args);
    run_result r = run(cmd);
    cr_assert_eq(r.status, 0, "%s exited with %d%s; it printed:\n%s", cmd, r.status,
                 r.status == 127 ? " (not built? run `meson compile -C " NB_BUILD_DIR "` first)"
                                 : "",
                 r.out);
    return r;
}

/* The last non-empty line of text, without its newline, in buf. */
static const char *last_line(const char *text, char *buf, size_t cap)
{
    size_t end = strlen(text);
    while (end > 0 && text[end - 1] == '\n') {
        end--;
    }
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n') {
        start--;
    }
    snprintf(buf, cap, "%.*s", (int)(end - start), text + start);
    return buf;
}

/* The line of text that starts with prefix, without its newline, in buf; NULL if none. */
static const char *line_starting(const char *text, const char *prefix, char *buf, size_t cap)
{
    const char *at = text;
    while (*at) {
        size_t len = strcspn(at, "\n");
        if (strncmp(at, prefix, strlen(prefix)) == 0) {
            snprintf(buf, cap, "%.*s", (int)len, at);
            return buf;
        }
        at += len + (at[len] == '\n');
    }
    return NULL;
}

/* Parses "<prefix><number>" exactly; asserts the form and returns the number. */
static double number_after(const char *line, const char *prefix)
{
    size_t k = strlen(prefix);
    cr_assert(strncmp(line, prefix, k) == 0, "expected a line '%sX', got '%s'", prefix, line);
    char *rest;
    double v = strtod(line + k, &rest);
    cr_assert(rest != line + k && *rest == '\0', "expected a number after '%s' in '%s'", prefix,
              line);
    return v;
}

static void check_tables(const char *name, const char *line);

/* Runs a classifier example with --quiet: its last line must be "test accuracy: 0.XXXX" >= target. */
static void check_accuracy(const char *name, double target)
{
    run_result r = run_example(name, "--quiet");
    char buf[256];
    const char *line = last_line(r.out, buf, sizeof buf);
    double acc = number_after(line, "test accuracy: ");
    cr_assert(strlen(line) == strlen("test accuracy: 0.0000"),
              "'%s' is not 'test accuracy: 0.XXXX'", line);
    cr_assert_geq(acc, target, "%s: test accuracy %.4f is below the documented %.3f", name, acc,
                  target);
    check_tables(name, line);
    free(r.out);
}

/* Returns the bytes of a file (free it); *size gets its length. */
static unsigned char *file_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    cr_assert_gt(len, 0, "%s is empty", path);
    rewind(f);
    unsigned char *b = malloc((size_t)len);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *size = (size_t)len;
    return b;
}

/* A fresh file name in the build's tests/ folder (the file exists, empty). */
static void temp_path(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "%s/tests/examples-%s-XXXXXX", NB_BUILD_DIR, tag);
    int fd = mkstemp(buf);
    cr_assert_geq(fd, 0, "mkstemp(%s) failed", buf);
    close(fd);
}

/*
 * The example tables of README.md and docs/training.md show each example's
 * last line ("| `mnist_cnn` | ... | `test accuracy: 0.9770` | ..."): every row
 * naming the example must show the line it printed now, and README has one.
 */
static void check_tables(const char *name, const char *line)
{
    static const char *const pages[] = { NB_SOURCE_DIR "/README.md",
                                         NB_SOURCE_DIR "/docs/training.md" };
    char row[128], cell[300];
    snprintf(row, sizeof row, "| `%s` |", name);
    snprintf(cell, sizeof cell, "`%s`", line);
    for (int k = 0; k < 2; k++) {
        size_t size;
        char *text = (char *)file_bytes(pages[k], &size);
        char *t = realloc(text, size + 1);
        cr_assert_not_null(t);
        t[size] = '\0';
        int rows = 0;
        for (const char *at = strstr(t, row); at; at = strstr(at + 1, row)) {
            if (at != t && at[-1] != '\n') {
                continue;
            }
            size_t n = strcspn(at, "\n");
            /* a row may add "on BLIS's zen3 configuration: `...`" for a configuration
             * whose products round otherwise (nb_blas_config); such a note is the
             * line on that configuration, the row's first figure on the others */
            char tag[96];
            snprintf(tag, sizeof tag, "on BLIS's %s configuration: `", nb_blas_config());
            const char *end = at + n, *mine = strstr(at, tag), *note = strstr(at, "on BLIS's ");
            bool shown;
            if (mine && mine < end) {
                shown = strncmp(mine + strlen(tag) - 1, cell, strlen(cell)) == 0;
            } else {
                const char *found = strstr(at, cell);
                shown = found && found < (note && note < end ? note : end);
            }
            cr_expect(shown,
                      "%s: the row of %s shows another last line than '%s', which the "
                      "program prints now (BLIS's %s configuration):\n%.*s",
                      pages[k], name, line, nb_blas_config(), (int)n, at);
            rows++;
        }
        cr_expect(k == 1 || rows > 0, "README.md has no row for %s", name);
        free(t);
    }
}

/* ---- the examples reach their figures ---- */

Test(examples, xor_network_fits_where_linear_cannot,
     .description = "xor: the linear model stops at MSE 1/4; the 2-2-1 ReLU network reaches 0")
{
    run_result r = run_example("xor", "--quiet");
    char buf[256];
    const char *lin = line_starting(r.out, "linear model final loss: ", buf, sizeof buf);
    cr_assert_not_null(lin, "no 'linear model final loss:' line in:\n%s", r.out);
    char *rest;
    double lin_loss = strtod(lin + strlen("linear model final loss: "), &rest);
    cr_assert(strcmp(rest, " (the best a linear model can do is 0.25)") == 0,
              "unexpected line '%s'", lin);
    cr_assert_float_eq(lin_loss, 0.25, 1e-6, "the linear model's loss is %g, not 0.25", lin_loss);

    double loss = number_after(last_line(r.out, buf, sizeof buf), "final loss: ");
    cr_assert(loss >= 0 && loss < 1e-6, "the network's final loss %g is not below 1e-6", loss);
    check_tables("xor", last_line(r.out, buf, sizeof buf));
    free(r.out);
}

Test(examples, logreg_reaches_097, .description = "logistic regression, breast cancer: >= 0.97")
{
    check_accuracy("logreg", 0.97);
}

Test(examples, digits_mlp_reaches_096, .description = "64-64-10 MLP, 8x8 digits: >= 0.96")
{
    check_accuracy("digits_mlp", 0.96);
}

Test(examples, mnist_mlp_reaches_0935, .description = "784-128-10 MLP, MNIST subset: >= 0.935")
{
    check_accuracy("mnist_mlp", 0.935);
}

Test(examples, mnist_cnn_reaches_097,
     .description = "LeNet-5, MNIST subset, 12 epochs: >= 0.97 (measured 0.9770 with seed 1)")
{
    check_accuracy("mnist_cnn", 0.97);
}

Test(examples, lenet_model_file_trains_with_nabla_train,
     .description = "examples/models/lenet.nb, one epoch of nabla train on the IDX files: 125 "
                    "steps, mean loss below 1.1 (measured 1.0126), accuracy >= 0.85 (0.8856)")
{
    run_result r = run("'" NB_BUILD_DIR "/tools/nabla' train '" NB_SOURCE_DIR
                       "/examples/models/lenet.nb' --loss loss --data '" NB_SOURCE_DIR
                       "/data/mnist-subset-train-images-idx3-ubyte' --labels '" NB_SOURCE_DIR
                       "/data/mnist-subset-train-labels-idx1-ubyte' --scale 0.00392156862745098 "
                       "--epochs 1 --json --quiet");
    cr_assert_eq(r.status, 0, "nabla train exited with %d:\n%s", r.status, r.out);
    const char *l = strstr(r.out, "\"losses\": ["), *a = strstr(r.out, "\"accuracy\": [");
    cr_assert(l && a, "%s", r.out);
    double loss = strtod(l + strlen("\"losses\": ["), NULL);
    double acc = strtod(a + strlen("\"accuracy\": ["), NULL);
    cr_assert(strstr(r.out, "\"steps\": 125,"), "%s", r.out);
    cr_assert_lt(loss, 1.1, "%s", r.out);
    cr_assert_geq(acc, 0.85, "%s", r.out);
    free(r.out);
}

Test(examples, regularization_overfits_200_digits_and_reports_three_runs,
     .description = "64-512-512-10 MLP on 200 digits, plain, dropout and weight decay: each "
                    "fits its 200 rows (train accuracy 1.0, measured 1.0000 for all three) and "
                    "stays >= 0.92 on the test split (measured 0.9278, 0.9333, 0.9278)")
{
    run_result r = run_example("regularization", "--quiet");
    const char *names[3] = { "plain", "dropout", "weight decay" };
    char buf[256];
    for (int i = 0; i < 3; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%-13s train accuracy ", names[i]);
        const char *line = line_starting(r.out, prefix, buf, sizeof buf);
        cr_assert_not_null(line, "no '%s' line in:\n%s", prefix, r.out);
        double train = 0, test = 0;
        int used = 0;
        cr_assert_eq(
            sscanf(line + strlen(prefix), "%lf  test accuracy %lf%n", &train, &test, &used), 2,
            "'%s' is not '%s0.XXXX  test accuracy 0.XXXX'", line, prefix);
        cr_assert_eq(line[strlen(prefix) + (size_t)used], '\0', "trailing text in '%s'", line);
        cr_expect_eq(train, 1.0, "%s: train accuracy %.4f, want 1 (the net should overfit)",
                     names[i], train);
        cr_expect_geq(test, 0.92, "%s: test accuracy %.4f is below 0.92", names[i], test);
    }
    last_line(r.out, buf, sizeof buf);
    cr_expect(strncmp(buf, "weight decay  train accuracy ", 29) == 0,
              "the last line is not weight decay's figures: '%s'", buf);
    free(r.out);
}

Test(examples, norm_mlp_normalization_trains_the_deep_net_plain_sgd_does_not_yet,
     .description = "64-(64x6)-10 ReLU MLP, SGD lr 0.1, 20 epochs: batch norm and layer norm "
                    "reach train >= 0.99 and test >= 0.95 (measured 0.9993 / 0.9750 and "
                    "0.9986 / 0.9667); plain stays below 0.80 on both (measured 0.5692 / 0.5528)")
{
    run_result r = run_example("norm_mlp", "--quiet");
    const char *names[3] = { "plain", "batch norm", "layer norm" };
    char buf[256];
    for (int i = 0; i < 3; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%-11s train accuracy ", names[i]);
        const char *line = line_starting(r.out, prefix, buf, sizeof buf);
        cr_assert_not_null(line, "no '%s' line in:\n%s", prefix, r.out);
        double train = 0, test = 0;
        int used = 0;
        cr_assert_eq(
            sscanf(line + strlen(prefix), "%lf  test accuracy %lf%n", &train, &test, &used), 2,
            "'%s' is not '%s0.XXXX  test accuracy 0.XXXX'", line, prefix);
        cr_assert_eq(line[strlen(prefix) + (size_t)used], '\0', "trailing text in '%s'", line);
        if (i == 0) {
            cr_expect_lt(train, 0.80, "plain: train accuracy %.4f; the example says it lags",
                         train);
            cr_expect_lt(test, 0.80, "plain: test accuracy %.4f; the example says it lags", test);
        } else {
            cr_expect_geq(train, 0.99, "%s: train accuracy %.4f is below 0.99", names[i], train);
            cr_expect_geq(test, 0.95, "%s: test accuracy %.4f is below 0.95", names[i], test);
        }
    }
    last_line(r.out, buf, sizeof buf);
    cr_expect(strncmp(buf, "layer norm  train accuracy ", 27) == 0,
              "the last line is not layer norm's figures: '%s'", buf);
    free(r.out);
}

Test(examples, names_lstm_reaches_2_05,
     .description = "character LSTM on the names, 8 epochs: test NLL <= 2.05 nats per symbol "
                    "(measured 2.0097; PyTorch's same model 2.0076, a trigram model 2.265)")
{
    run_result r = run_example("names_lstm", "--quiet");
    char buf[256];
    const char *line = last_line(r.out, buf, sizeof buf);
    double nll = number_after(line, "test nll: ");
    cr_assert(strlen(line) == strlen("test nll: 0.0000"), "'%s' is not 'test nll: X.XXXX'", line);
    cr_assert_leq(nll, 2.05, "names_lstm: test nll %.4f is above the documented 2.05", nll);
    cr_assert_gt(nll, 1.5, "names_lstm: test nll %.4f is implausibly low", nll);
    check_tables("names_lstm", line);
    free(r.out);
}

Test(examples, names_lstm_samples_names_and_takes_every_cell,
     .description = "--sample 5 prints five names of a-z (1 to 15 letters) before the nll line, "
                    "the same for the same seed; rnn and gru train too (one epoch)")
{
    const char *cells[3] = { "lstm", "rnn", "gru" };
    for (int k = 0; k < 3; k++) {
        char args[128];
        snprintf(args, sizeof args, "--quiet --epochs 1 --sample 5 --seed 3 --cell %s", cells[k]);
        run_result r = run_example("names_lstm", args);
        const char *at = r.out;
        for (int i = 0; i < 5; i++) {
            size_t len = strcspn(at, "\n");
            cr_assert(len >= 1 && len <= 15 && strspn(at, "abcdefghijklmnopqrstuvwxyz") == len,
                      "%s: sample %d is not a name of 1 to 15 letters:\n%s", cells[k], i, r.out);
            at += len + 1;
        }
        char buf[256];
        double nll = number_after(last_line(r.out, buf, sizeof buf), "test nll: ");
        /* one epoch: well below the uniform 3.2958 (measured 2.14 lstm, 2.17 rnn, 2.15 gru) */
        cr_expect_lt(nll, 2.3, "%s after one epoch: test nll %.4f", cells[k], nll);
        cr_assert_eq(strncmp(at, "test nll: ", 10), 0, "%s: more than 5 names:\n%s", cells[k],
                     r.out);
        if (k == 0) {
            run_result again = run_example("names_lstm", args);
            cr_assert_str_eq(again.out, r.out, "the same seed drew different names");
            free(again.out);
        }
        free(r.out);
    }
}

/* ---- checkpoints: a resumed run ends where an uninterrupted one does ---- */

Test(examples, mnist_mlp_resume_continues_where_it_stopped,
     .description = "--epochs 2 --save F, then --epochs 3 --resume F == --epochs 3 straight")
{
    char straight[512], split[512], cmd[1200], a[256], b[256];
    temp_path(straight, sizeof straight, "straight");
    temp_path(split, sizeof split, "split");

    snprintf(cmd, sizeof cmd, "--quiet --epochs 3 --save '%s'", straight);
    run_result full = run_example("mnist_mlp", cmd);
    snprintf(cmd, sizeof cmd, "--quiet --epochs 2 --save '%s'", split);
    run_result first = run_example("mnist_mlp", cmd);
    /* without --quiet (progress goes to stderr, merged here) to see where it resumed */
    snprintf(cmd, sizeof cmd, "--epochs 3 --resume '%s' --save '%s' 2>&1", split, split);
    run_result rest = run_example("mnist_mlp", cmd);

    /* 8,000 examples in batches of 64 are 125 steps per epoch */
    char line[512];
    const char *resumed = line_starting(rest.out, "resumed from ", line, sizeof line);
    cr_assert_not_null(resumed, "the resumed run did not say it resumed:\n%s", rest.out);
    cr_assert(strstr(resumed, "after epoch 2 (step 250)"), "resumed at the wrong place: '%s'",
              resumed);
    cr_assert_null(line_starting(rest.out, "epoch   1/", line, sizeof line),
                   "the resumed run trained epoch 1 again:\n%s", rest.out);
    cr_assert_not_null(line_starting(rest.out, "epoch   3/3", line, sizeof line),
                       "the resumed run did not train epoch 3:\n%s", rest.out);

    const char *want = last_line(full.out, a, sizeof a);
    cr_assert(strncmp(want, "test accuracy: ", 15) == 0, "unexpected last line '%s'", want);
    cr_assert_str_eq(last_line(rest.out, b, sizeof b), want, "resumed: '%s', straight: '%s'", b,
                     want);

    /* the strongest form: the same weights, moments and step count, byte for byte */
    size_t n1, n2;
    unsigned char *c1 = file_bytes(straight, &n1), *c2 = file_bytes(split, &n2);
    cr_assert_eq(n1, n2, "checkpoint sizes differ: %zu and %zu", n1, n2);
    cr_assert(memcmp(c1, c2, n1) == 0,
              "the resumed run's checkpoint differs from the straight one's");

    free(c1);
    free(c2);
    free(full.out);
    free(first.out);
    free(rest.out);
    unlink(straight);
    unlink(split);
}

Test(examples, an_unknown_flag_is_named, .description = "xor --epoch 3 says which flag is wrong")
{
    run_result r = run("'" EXAMPLES "xor' --epoch 3 2>&1");
    cr_assert_eq(r.status, 2, "%s", r.out);
    cr_assert(strncmp(r.out, EXAMPLES "xor: unknown flag '--epoch'\nusage: ",
                      strlen(EXAMPLES "xor: unknown flag '--epoch'\nusage: ")) == 0,
              "%s", r.out);
    free(r.out);
    r = run("'" EXAMPLES "logreg' --epochs 2>&1");
    cr_assert_eq(r.status, 2, "%s", r.out);
    cr_assert(strstr(r.out, "logreg: --epochs needs a whole number >= 1\n"), "%s", r.out);
    free(r.out);
    r = run("'" EXAMPLES "logreg' --help 2>&1");
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert(strncmp(r.out, "usage: ", 7) == 0, "%s", r.out);
    free(r.out);
}
