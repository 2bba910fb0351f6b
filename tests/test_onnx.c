/*
 * tests/test_onnx.c: ONNX export (nb_onnx_write, `nabla export`): its errors,
 * Debian's ONNX checker on every exported example model, and ONNX Runtime
 * (onnxruntime-node, run by tests/onnx/ort_check.js) computing the same
 * outputs and gradients as `nabla eval` and `nabla grad`. The checker tests
 * skip with a message where python3-onnx is missing, the runtime tests where
 * node or npm is; the runtime is installed into the build folder on first use
 * (npm install --ignore-scripts: the package carries its linux-x64 binaries).
 * A build without ONNX support skips everything but the stub's message.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <nabla.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NABLA   NB_BUILD_DIR "/tools/nabla"
#define ORT_DIR NB_BUILD_DIR "/onnxruntime"
#define ORT_PKG "onnxruntime-node@1.20.1"
#define PYTHON  "/usr/bin/python3"
#define MODELS  NB_SOURCE_DIR "/examples/models/"
#define TMODELS NB_TEST_DIR "/onnx/"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nb_onnx_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* True when this build writes ONNX (the stub's message says it does not). */
static bool have_onnx(void)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_scalar(g, NB_DTYPE_F32, 1);
    char path[128];
    snprintf(path, sizeof path, "%s/probe.onnx", dir);
    nb_status st = nb_onnx_write(g, 1, &x, path, NULL);
    bool ok = st == NB_OK;
    if (!ok) {
        cr_assert(strstr(nb_graph_error(g), "without ONNX support"), "%s", nb_graph_error(g));
    }
    nb_graph_free(g);
    return ok;
}

#define NEED_ONNX()                                                                                \
    do {                                                                                           \
        if (!have_onnx()) {                                                                        \
            cr_skip_test("this build has no ONNX support (meson -Donnx=disabled or protobuf-c "    \
                         "missing)");                                                              \
        }                                                                                          \
    } while (0)

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TestSuite(onnx, .init = make_dir, .fini = remove_dir);

Test(onnx, stub_or_file)
{
    if (!have_onnx()) {
        return; /* have_onnx checked the stub's message */
    }
    char path[128];
    snprintf(path, sizeof path, "%s/probe.onnx", dir);
    struct stat s;
    cr_assert_eq(stat(path, &s), 0);
    cr_assert_gt(s.st_size, 20);
}

Test(onnx, errors_leave_the_graph_usable)
{
    NEED_ONNX();
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 1, (int64_t[]){ 3 });
    nb_node *y = nb_sum(g, nb_mul(g, x, x));
    cr_assert_eq(nb_onnx_write(g, 0, &y, "/tmp/never.onnx", NULL), NB_ERR_ARG);
    cr_assert(strstr(nb_graph_error(g), "no outputs"), "%s", nb_graph_error(g));
    cr_assert_eq(nb_onnx_write(g, 1, &y, "/nonexistent-dir/y.onnx", NULL), NB_ERR_IO);
    cr_assert(strstr(nb_graph_error(g), "/nonexistent-dir/y.onnx"), "%s", nb_graph_error(g));
    nb_graph *h = nb_graph_new();
    nb_node *z = nb_scalar(h, NB_DTYPE_F64, 1);
    cr_assert_eq(nb_onnx_write(g, 1, &z, "/tmp/never.onnx", NULL), NB_ERR_GRAPH);
    /* the build status is untouched: the graph still runs */
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, x, (double[]){ 1, 2, 3 }, 3), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK);
    double v;
    nb_node_read_f64(g, y, &v, 1);
    cr_assert_eq(v, 14);
    nb_graph_free(h);
    nb_graph_free(g);
}

/* The command's own errors, as a user meets them. */
Test(onnx, command_errors)
{
    NEED_ONNX();
    char cmd[1024], out[1024] = "";
    snprintf(cmd, sizeof cmd,
             NABLA " export " MODELS "mlp.nb --of nothere -o %s/m.onnx 2>&1; echo rc=$?", dir);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    cr_assert(strstr(out, "nothere"), "%s", out);
    cr_assert(strstr(out, "rc=2"), "%s", out);
    snprintf(cmd, sizeof cmd, NABLA " export " MODELS "mlp.nb --of probs --grad -o %s/m.onnx 2>&1",
             dir);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    cr_assert(strstr(out, "needs a scalar"), "%s", out);
    cr_assert_eq(run(NABLA " export " MODELS "mlp.nb --of loss 2>/dev/null"), 2, "no -o");
}

/* The models of the runtime and checker tests: file, output, dtypes ONNX Runtime has kernels for. */
typedef struct exported {
    const char *path, *of;
    bool f64; /* ONNX Runtime's CPU kernels cover every op of the model in float64 too */
} exported;

static const exported models[] = {
    { MODELS "figure_1_3.nb", "y", true },
    { MODELS "xor.nb", "loss", true },
    { MODELS "mlp.nb", "loss,probs", true },
    { MODELS "iris_train.nb", "loss", true },
    { MODELS "bn_mlp.nb", "loss", true },
    { TMODELS "cnn.nb", "loss", false }, /* no float64 Conv in ONNX Runtime */
    { TMODELS "ops.nb", "loss", false }, /* nor Erf */
};

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

Test(onnx, checker_accepts_every_export)
{
    NEED_ONNX();
    if (run(PYTHON " -c 'import onnx' 2>/dev/null") != 0) {
        cr_skip_test("python3-onnx is missing (apt-get install python3-onnx): no ONNX checker");
    }
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        for (int grad = 0; grad < 2; grad++) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd,
                     NABLA " export %s --of %s %s -o %s/%s.onnx && " PYTHON
                           " -c 'import onnx, sys; m = onnx.load(sys.argv[1]); "
                           "onnx.checker.check_model(m, full_check=True)' %s/%s.onnx",
                     models[i].path, models[i].of, grad ? "--grad" : "", dir, base(models[i].path),
                     dir, base(models[i].path));
            cr_expect_eq(run(cmd), 0, "the checker refused %s%s", base(models[i].path),
                         grad ? " --grad" : "");
        }
    }
}

/* Installs onnxruntime-node into the build folder once (a lock for parallel tests). */
static void need_ort(void)
{
    if (run("command -v node >/dev/null 2>&1") != 0) {
        cr_skip_test("node is missing (apt-get install nodejs): no ONNX Runtime test");
    }
    struct stat s;
    if (stat(ORT_DIR
             "/node_modules/onnxruntime-node/bin/napi-v3/linux/x64/onnxruntime_binding.node",
             &s) == 0) {
        return;
    }
    if (run("command -v npm >/dev/null 2>&1") != 0) {
        cr_skip_test("npm is missing (apt-get install npm): cannot install " ORT_PKG);
    }
    int rc = run("mkdir -p " ORT_DIR " && cd " ORT_DIR " && flock .lock sh -c "
                 "'test -f node_modules/onnxruntime-node/package.json || "
                 "npm install --ignore-scripts --no-audit --no-fund --loglevel=error " ORT_PKG
                 " >npm.log 2>&1'");
    if (rc != 0) {
        cr_skip_test("npm install " ORT_PKG " failed (offline?); see " ORT_DIR "/npm.log");
    }
    if (stat(ORT_DIR
             "/node_modules/onnxruntime-node/bin/napi-v3/linux/x64/onnxruntime_binding.node",
             &s) != 0) {
        cr_skip_test(ORT_PKG " carries no linux-x64 binary for this machine");
    }
}

static void ort_check(size_t i)
{
    NEED_ONNX();
    need_ort();
    const exported *m = &models[i];
    for (int grad = 0; grad < 2; grad++) {
        for (int f64 = 0; f64 <= (int)m->f64; f64++) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd,
                     "node " NB_TEST_DIR "/onnx/ort_check.js " ORT_DIR "/node_modules " NABLA
                     " %s %s %s/%s%s%s.onnx %s --dtype %s 2>&1",
                     m->path, m->of, dir, base(m->path), grad ? "_grad" : "", f64 ? "_f64" : "",
                     grad ? "--grad" : "", f64 ? "f64" : "f32");
            FILE *p = popen(cmd, "r");
            char out[4096] = "";
            size_t n = fread(out, 1, sizeof out - 1, p);
            out[n] = '\0';
            int rc = pclose(p);
            cr_expect_eq(rc, 0, "%s%s in %s: %s", base(m->path), grad ? " --grad" : "",
                         f64 ? "f64" : "f32", out);
            cr_expect(strstr(out, "ok "), "%s", out);
        }
    }
}

Test(onnx_runtime, figure_1_3, .init = make_dir, .fini = remove_dir)
{
    ort_check(0);
}
Test(onnx_runtime, xor, .init = make_dir, .fini = remove_dir)
{
    ort_check(1);
}
Test(onnx_runtime, mlp, .init = make_dir, .fini = remove_dir)
{
    ort_check(2);
}
Test(onnx_runtime, iris_train, .init = make_dir, .fini = remove_dir)
{
    ort_check(3);
}
Test(onnx_runtime, bn_mlp, .init = make_dir, .fini = remove_dir)
{
    ort_check(4);
}
Test(onnx_runtime, cnn, .init = make_dir, .fini = remove_dir)
{
    ort_check(5);
}
Test(onnx_runtime, most_ops_and_their_gradients, .init = make_dir, .fini = remove_dir)
{
    ort_check(6);
}
