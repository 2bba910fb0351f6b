/*
 * tests/test_dist.c: data-parallel training under `mpirun -np 2` on this one
 * machine (tests/meson.build adds it only when nabla is built with MPI and
 * mpirun exists). tests/dist_worker trains a float64 classifier alone and on
 * two processes: same losses and weights, the same bits on both ranks,
 * every example once per epoch, resume, and the two fault cases (a file
 * only one rank cannot read, a gradient that is not finite on one rank),
 * where every process must stop with a message naming the rank, not hang.
 * The examples and `nabla train` print the same lines on one and two processes.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NB_BUILD_DIR
#define NB_BUILD_DIR "build"
#endif
#ifndef NB_MPIRUN
#define NB_MPIRUN "mpirun"
#endif

#define WORKER NB_BUILD_DIR "/tests/dist_worker"
/*
 * Two processes on a machine that may have fewer cores, as root in CI; a
 * timeout turns a hang into a failure. It is generous: under ASan on a
 * loaded 2-core machine, mnist_cnn's two processes took over two minutes.
 * Open MPI's own allocations are not freed at exit: LeakSanitizer (in the
 * ASan build) would fail every run.
 */
#define MPIRUN                                                                                     \
    "ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_rmaps_base_oversubscribe=1 timeout 420 " NB_MPIRUN       \
    " --oversubscribe --allow-run-as-root -np 2 "

typedef struct run_result {
    char *out;
    int status; /* exit code, -1 if killed */
} run_result;

/*
 * Runs a shell command line (standard error joined to the output) and collects what it printed.
 * Open MPI keeps its session directory under a folder of this run's own: two mpiruns starting
 * at once (Criterion runs tests in parallel) raced to create /tmp/ompi.<host>.<uid>, and one
 * failed with "mkdir ... File exists" in orte_init.
 */
static run_result run(const char *cmd)
{
    char full[4096], dir[] = "/tmp/nabla-ompi-XXXXXX";
    bool own = mkdtemp(dir) != NULL;
    if (own) {
        setenv("OMPI_MCA_orte_tmpdir_base", dir, 1);
    }
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
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
    if (own) {
        char rm[64];
        snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
        cr_expect_eq(system(rm), 0, "%s failed", rm);
        unsetenv("OMPI_MCA_orte_tmpdir_base");
    }
    return (run_result){ out, st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1 };
}

static run_result run_ok(const char *cmd)
{
    run_result r = run(cmd);
    cr_assert_eq(r.status, 0, "%s exited with %d; it printed:\n%s", cmd, r.status, r.out);
    return r;
}

/* The number after `key` in text's n-th line that has it (from 0); NAN if none. */
static double value_after(const char *text, const char *key, int nth)
{
    const char *at = text;
    for (int i = 0; (at = strstr(at, key)) != NULL; i++, at += strlen(key)) {
        if (i == nth) {
            return strtod(at + strlen(key), NULL);
        }
    }
    return NAN;
}

static void assert_close(double a, double b, double rel, const char *what)
{
    cr_assert(fabs(a - b) <= rel * fabs(b), "%s: %.17g on two processes, %.17g on one", what, a, b);
}

/*
 * Runs the worker alone and on two processes with args; compares losses and
 * weights. With micro, the process alone computes each global batch as two
 * micro-batches (nb_optim_accumulate), as the two processes do between
 * them: then the weights must be the same bits.
 */
static void compare_one_two(const char *args, int epochs, bool micro)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s%s", WORKER, args, micro ? " --micro 2" : "");
    run_result one = run_ok(cmd);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s' %s", WORKER, args);
    run_result two = run_ok(cmd);
    for (int e = 0; e < epochs; e++) {
        char key[32];
        snprintf(key, sizeof key, "epoch %d loss ", e + 1);
        double a = value_after(two.out, key, 0), b = value_after(one.out, key, 0);
        cr_assert(isfinite(a) && isfinite(b), "no loss for epoch %d:\n%s\n%s", e + 1, one.out,
                  two.out);
        /* float64: the sums only run in another order (with micro, only the reported loss's) */
        assert_close(a, b, micro ? 1e-15 : 1e-12, key);
    }
    assert_close(value_after(two.out, "w2[0] ", 0), value_after(one.out, "w2[0] ", 0), 1e-10,
                 "w2[0]");
    assert_close(value_after(two.out, "w2[20] ", 0), value_after(one.out, "w2[20] ", 0), 1e-10,
                 "w2[20]");
    /* both ranks hold exactly the same bits, and with micro so does the process alone */
    double h0 = value_after(two.out, "rank 0 hash ", 0),
           h1 = value_after(two.out, "rank 1 hash ", 0),
           h = value_after(one.out, "rank 0 hash ", 0);
    cr_assert(isfinite(h0) && h0 == h1, "the ranks' weights differ:\n%s", two.out);
    cr_assert(!micro || h == h0, "one process:\n%s\ntwo:\n%s", one.out, two.out);
    free(one.out);
    free(two.out);
}

Test(dist, two_processes_train_as_one,
     .description = "203 examples in batches of 16 (the last, 11, split 5 and 6): the same "
                    "losses and weights on one and two processes, the same bits on both ranks")
{
    compare_one_two("train 203 16 4", 4, false);
}

Test(dist, an_empty_shard_takes_part,
     .description = "33 examples in batches of 16: the last batch of 1 leaves rank 0 nothing; it "
                    "adds zeros to the sum and training still matches one process")
{
    compare_one_two("train 33 16 3", 3, false);
}

Test(dist, two_micro_batches_on_one_process_are_two_processes,
     .description = "the same two cases, one process computing each batch as two micro-batches: "
                    "the same bits, an uneven and an empty last micro-batch included")
{
    compare_one_two("train 203 16 4", 4, true);
    compare_one_two("train 33 16 3", 3, true);
}

Test(dist, every_example_once_per_epoch)
{
    run_result r = run_ok(MPIRUN "'" WORKER "' shards 1001 64 3");
    cr_assert(strstr(r.out, "rank 0 took 1500 examples; examples not seen exactly 3 times: 0"),
              "%s", r.out);
    cr_assert(strstr(r.out, "rank 1 took 1503 examples; examples not seen exactly 3 times: 0"),
              "%s", r.out);
    free(r.out);
}

/* A temporary file name under the build folder. */
static void temp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, NB_BUILD_DIR "/tests/dist_%ld_%s", (long)getpid(), name);
}

Test(dist, resume_continues_identically)
{
    char ck[512], cmd[2048];
    temp_path(ck, sizeof ck, "resume.ckpt");
    snprintf(cmd, sizeof cmd, MPIRUN "'%s' train 203 16 2 --save '%s'", WORKER, ck);
    free(run_ok(cmd).out);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s' train 203 16 4 --resume '%s'", WORKER, ck);
    run_result resumed = run_ok(cmd);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s' train 203 16 4", WORKER);
    run_result whole = run_ok(cmd);
    const char *a = strstr(resumed.out, "w2[0]"), *b = strstr(whole.out, "w2[0]");
    cr_assert(a && b && strcmp(a, b) == 0, "resumed:\n%s\nuninterrupted:\n%s", resumed.out,
              whole.out);
    remove(ck);
    free(resumed.out);
    free(whole.out);
}

Test(dist, a_file_one_rank_cannot_read_stops_every_rank)
{
    run_result r = run(MPIRUN "'" WORKER "' badfile");
    cr_assert_neq(r.status, 0, "%s", r.out);
    cr_assert_neq(r.status, 124, "timed out (a hang):\n%s", r.out);
    cr_assert(strstr(r.out, "rank 0: stopping: rank 1: "), "%s", r.out);
    cr_assert(strstr(r.out, "rank 1: stopping: rank 1: "), "%s", r.out);
    cr_assert(strstr(r.out, "no-such-dir/train.csv"), "%s", r.out);
    free(r.out);
}

Test(dist, a_gradient_not_finite_on_one_rank_stops_every_rank,
     .description = "step 20 (epoch 2) gets a NaN on rank 1: both ranks stop naming rank 1 and "
                    "w1, and the checkpoint of epoch 1 is intact")
{
    char ck[512], cmd[2048];
    temp_path(ck, sizeof ck, "nan.ckpt");
    snprintf(cmd, sizeof cmd, MPIRUN "'%s' train 203 16 3 --save '%s' --nan-at 20", WORKER, ck);
    run_result r = run(cmd);
    cr_assert_neq(r.status, 0, "%s", r.out);
    cr_assert_neq(r.status, 124, "timed out (a hang):\n%s", r.out);
    const char *msg = "step: optim_step(w1[5,7]): rank 1: the gradient of w1 is not finite; no "
                      "parameter was updated";
    char want[512];
    for (int rank = 0; rank < 2; rank++) {
        snprintf(want, sizeof want, "rank %d: %s", rank, msg);
        cr_assert(strstr(r.out, want), "no line \"%s\" in:\n%s", want, r.out);
    }
    /* the checkpoint is epoch 1's: resuming it for 0 more epochs gives a 1-epoch run's weights */
    snprintf(cmd, sizeof cmd, "'%s' train 203 16 1 --resume '%s'", WORKER, ck);
    run_result resumed = run_ok(cmd);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s' train 203 16 1", WORKER);
    run_result one_epoch = run_ok(cmd);
    const char *a = strstr(resumed.out, "w2[0]"), *b = strstr(one_epoch.out, "w2[0]");
    cr_assert(a && b && strncmp(a, b, strcspn(b, "\n")) == 0, "resumed:\n%s\none epoch:\n%s",
              resumed.out, one_epoch.out);
    remove(ck);
    free(r.out);
    free(resumed.out);
    free(one_epoch.out);
}

/* The last line starting with prefix in text, in buf. */
static const char *line_with(const char *text, const char *prefix, char *buf, size_t cap)
{
    const char *found = NULL;
    for (const char *at = text; at; at = strchr(at, '\n'), at = at ? at + 1 : NULL) {
        if (strncmp(at, prefix, strlen(prefix)) == 0) {
            found = at;
        }
    }
    buf[0] = '\0';
    if (found) {
        snprintf(buf, cap, "%.*s", (int)strcspn(found, "\n"), found);
    }
    return buf;
}

/*
 * An example prints one `test accuracy:` line, the same on one and two
 * processes, and the one docs/distributed.md quotes; the losses of its
 * progress lines (lines of them) agree within 1e-5 relative.
 */
static void example_one_two(const char *name, int lines, const char *want)
{
    char cmd[2048], a[256], b[256];
    snprintf(cmd, sizeof cmd, "'%s/examples/%s'", NB_BUILD_DIR, name);
    run_result one = run_ok(cmd);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s/examples/%s'", NB_BUILD_DIR, name);
    run_result two = run_ok(cmd);
    line_with(one.out, "test accuracy: ", a, sizeof a);
    line_with(two.out, "test accuracy: ", b, sizeof b);
    cr_assert(a[0] && strcmp(a, b) == 0, "one process:\n%s\ntwo:\n%s", one.out, two.out);
    cr_assert_str_eq(b, want);
    const char *first = strstr(two.out, "test accuracy: ");
    cr_assert(first && !strstr(first + 1, "test accuracy: "), "printed twice:\n%s", two.out);
    for (int e = 0; e < lines; e++) {
        double x = value_after(one.out, "  loss ", e), y = value_after(two.out, "  loss ", e);
        cr_assert(isfinite(x), "no loss on progress line %d:\n%s", e + 1, one.out);
        assert_close(y, x, 1e-5, "an epoch's loss");
    }
    cr_assert(isnan(value_after(one.out, "  loss ", lines)), "more progress lines than %d", lines);
    free(one.out);
    free(two.out);
}

Test(dist, mnist_mlp_on_two_processes)
{
    example_one_two("mnist_mlp", 10, "test accuracy: 0.9415");
}

/*
 * LeNet under float32 Adam carries rounding far: the example computes each
 * global batch as two micro-batches, so one and two processes train alike.
 */
Test(dist, mnist_cnn_on_two_processes)
{
    /* BLIS's zen3 configuration sums its products in other blocks (nb_blas_config) */
    bool zen3 = strcmp(nb_blas_config(), "zen3") == 0;
    example_one_two("mnist_cnn", 12, zen3 ? "test accuracy: 0.9765" : "test accuracy: 0.9770");
}

Test(dist, digits_mlp_on_two_processes)
{
    example_one_two("digits_mlp", 10, "test accuracy: 0.9722"); /* 40 epochs: 10 lines */
}

/* The numbers of a JSON array "key": [a, b, ...] in text, into v (up to cap); their count. */
static int json_array(const char *text, const char *key, double *v, int cap)
{
    const char *at = strstr(text, key);
    int n = 0;
    if (!at || !(at = strchr(at, '['))) {
        return 0;
    }
    for (at++; n < cap && *at && *at != ']'; n++) {
        char *end;
        v[n] = strtod(at, &end);
        at = end;
        while (*at == ',' || *at == ' ') {
            at++;
        }
    }
    return n;
}

/*
 * nabla train on iris_train.nb's x[20, 4] alone and its x[10, 4] on two
 * processes, on data: the same losses (1e-12 relative) and accuracies, and
 * the steps a global batch of 20 gives.
 */
static void train_one_two(const char *data, const char *steps)
{
    char model20[512], cmd[4096];
    temp_path(model20, sizeof model20, "iris20.nb");
    snprintf(cmd, sizeof cmd, "sed 's/x\\[10, 4\\]/x[20, 4]/; s/y\\[10\\]/y[20]/' '%s' > '%s'",
             NB_SOURCE_DIR "/examples/models/iris_train.nb", model20);
    free(run_ok(cmd).out);
    char args[1024];
    snprintf(args, sizeof args, "--loss loss --data '%s' --standardize --epochs 4 --json --quiet",
             data);
    snprintf(cmd, sizeof cmd, "'%s/tools/nabla' train '%s' %s", NB_BUILD_DIR, model20, args);
    run_result one = run_ok(cmd);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s/tools/nabla' train '%s' %s", NB_BUILD_DIR,
             NB_SOURCE_DIR "/examples/models/iris_train.nb", args);
    run_result two = run_ok(cmd);
    double l1[8], l2[8], a1[8], a2[8];
    cr_assert_eq(json_array(one.out, "\"losses\"", l1, 8), 4, "%s", one.out);
    cr_assert_eq(json_array(two.out, "\"losses\"", l2, 8), 4, "%s", two.out);
    cr_assert_eq(json_array(one.out, "\"accuracy\"", a1, 8), 4, "%s", one.out);
    cr_assert_eq(json_array(two.out, "\"accuracy\"", a2, 8), 4, "%s", two.out);
    for (int e = 0; e < 4; e++) {
        assert_close(l2[e], l1[e], 1e-12, "loss");
        cr_assert_eq(a2[e], a1[e], "epoch %d accuracy %.17g on two processes, %.17g on one", e + 1,
                     a2[e], a1[e]);
    }
    cr_assert(strstr(two.out, steps), "%s", two.out);
    remove(model20);
    free(one.out);
    free(two.out);
}

Test(dist, nabla_train_on_two_processes,
     .description = "each process fills the model's x[10, 4] with its part of a global batch of "
                    "20: the same losses (1e-12 relative) and accuracies as x[20, 4] on one")
{
    train_one_two(NB_SOURCE_DIR "/data/iris-train.csv", "\"steps\": 24");
}

Test(dist, nabla_train_micro_batches_on_one_process_are_two_processes,
     .description = "--micro-batches 2 on one process of x[10, 4] prints what two processes "
                    "print, bit for bit: losses, accuracies, the test figures")
{
    char cmd[4096], args[1024];
    snprintf(args, sizeof args,
             "'%s' --loss loss --data '%s' --test '%s' --standardize --epochs 4 --json --quiet "
             "--dtype f32",
             NB_SOURCE_DIR "/examples/models/iris_train.nb", NB_SOURCE_DIR "/data/iris-train.csv",
             NB_SOURCE_DIR "/data/iris-test.csv");
    snprintf(cmd, sizeof cmd, "'%s/tools/nabla' train %s --micro-batches 2", NB_BUILD_DIR, args);
    run_result one = run_ok(cmd);
    snprintf(cmd, sizeof cmd, MPIRUN "'%s/tools/nabla' train %s", NB_BUILD_DIR, args);
    run_result two = run_ok(cmd);
    cr_assert(strstr(one.out, "\"steps\": 24") && strcmp(one.out, two.out) == 0,
              "one process:\n%s\ntwo:\n%s", one.out, two.out);
    free(one.out);
    free(two.out);
}

Test(dist, nabla_train_accuracy_covers_the_rows_one_process_does,
     .description = "135 rows: a global batch of 20 covers 120 of them; the accuracy on two "
                    "processes of 10 counts those 120 too (not 130, as 13 batches of 10 would), "
                    "each process its part")
{
    char data[512], cmd[2048];
    temp_path(data, sizeof data, "iris135.csv");
    snprintf(cmd, sizeof cmd, "{ cat '%s'; sed -n 2,16p '%s'; } > '%s'",
             NB_SOURCE_DIR "/data/iris-train.csv", NB_SOURCE_DIR "/data/iris-train.csv", data);
    free(run_ok(cmd).out);
    train_one_two(data, "\"steps\": 24");
    remove(data);
}
