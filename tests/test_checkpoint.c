/*
 * tests/test_checkpoint.c: saving and loading parameters and optimizer state.
 * Round trips are bit-identical and a resumed run ends where a straight run
 * does; saves are atomic (a failed save leaves the old file and no temporary
 * file); every malformed file is rejected with NB_ERR_IO or NB_ERR_FORMAT and
 * its exact message before anything changes; and the file layout documented
 * at the top of io/checkpoint.c is pinned by parsing a saved file by hand.
 * Files live in a temporary directory made per test.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ======================================================================== */
/* Helpers: a scratch directory, whole files, little-endian fields, CRC-32  */
/* ======================================================================== */

static char scratch[64];

static void scratch_make(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/nb_test_ckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(scratch), "mkdtemp: %s", strerror(errno));
}

/* Removes scratch, its files and its empty subdirectories. */
static void scratch_remove(void)
{
    chmod(scratch, 0700);
    DIR *d = opendir(scratch);
    if (!d) {
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
            if (unlink(path) != 0) {
                rmdir(path);
            }
        }
    }
    closedir(d);
    rmdir(scratch);
}

/* scratch/name into buf. */
static const char *at(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", scratch, name);
    return buf;
}

/* Formats an expected message. */
static const char *fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, cap, f, ap);
    va_end(ap);
    return buf;
}

/* Reads a whole file (malloc'd; *len gets its size). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_geq(size, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void spit(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(bytes, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names in scratch other than . and .., sorted, joined by spaces. */
static const char *listing(char *buf, size_t cap)
{
    char names[16][256];
    int n = 0;
    DIR *d = opendir(scratch);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && n < 16) {
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i ? " " : "", names[i]);
    }
    return buf;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t get64(const unsigned char *p)
{
    return (int64_t)((uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void put64(unsigned char *p, int64_t v)
{
    put32(p, (uint32_t)(uint64_t)v);
    put32(p + 4, (uint32_t)((uint64_t)v >> 32));
}

/* zlib's CRC-32, written independently of io/checkpoint.c: a table, bytewise. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

/* Rewrites the trailing CRC after the test edited the file. */
static void reseal(unsigned char *buf, size_t len)
{
    put32(buf + len - 4, crc32_of(buf, len - 4));
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/*
 * Where the fields of a saved file sit, found by walking it as the format
 * comment of io/checkpoint.c describes; asserts the walk ends at the CRC.
 */
typedef struct layout {
    uint32_t version, flags, tensors, kind, slots;
    int64_t steps;
    size_t head;        /* offset of the first tensor */
    size_t name_len[8]; /* offsets of each tensor's fields */
    size_t dtype[8], rank[8], dims[8], values[8], state[8], end[8];
    size_t crc;
} layout;

static layout walk(const unsigned char *buf, size_t len)
{
    layout l = { 0 };
    cr_assert_geq(len, 24);
    cr_assert_eq(memcmp(buf, "NABLACKP", 8), 0, "the magic number");
    l.version = get32(buf + 8);
    l.flags = get32(buf + 12);
    l.tensors = get32(buf + 16);
    size_t p = 20;
    if (l.flags & 1) {
        l.kind = get32(buf + 20);
        l.slots = get32(buf + 24);
        l.steps = get64(buf + 28);
        p = 36;
    }
    l.head = p;
    cr_assert_leq(l.tensors, 8);
    for (uint32_t t = 0; t < l.tensors; t++) {
        l.name_len[t] = p;
        p += 4 + get32(buf + p);
        l.dtype[t] = p;
        uint32_t dtype = get32(buf + p);
        l.rank[t] = p + 4;
        uint32_t rank = get32(buf + p + 4);
        l.dims[t] = p + 8;
        p += 8;
        size_t count = 1;
        for (uint32_t d = 0; d < rank; d++) {
            count *= (size_t)get64(buf + p);
            p += 8;
        }
        size_t bytes = count * (dtype == 1 ? 8 : 4);
        l.values[t] = p;
        l.state[t] = p + bytes;
        p += bytes * (1 + l.slots);
        l.end[t] = p;
        cr_assert_leq(p, len - 4);
    }
    l.crc = p;
    cr_assert_eq(p + 4, len, "the CRC is the last 4 bytes");
    return l;
}

/* ======================================================================== */
/* A small model and its optimizer                                          */
/* ======================================================================== */

/*
 * loss = mse(tanh(x @ w + b), t) with constant x [4,3] and t [4,2];
 * parameters "w" [3,2] and "b" [2] drawn from the seed.
 */
typedef struct model {
    nb_graph *g;
    nb_node *w, *b, *loss;
    nb_node *params[2], *grads[2];
    nb_optim *opt;
} model;

static model build(nb_dtype dt, uint64_t seed, const nb_optim_options *o)
{
    model m = { 0 };
    nb_graph *g = m.g = nb_graph_new();
    cr_assert_not_null(g);
    nb_graph_seed(g, seed);
    const double xs[12] = { 0.5, -1, 2, 1.5, 0.25, -0.75, -2, 1, 0.1, 0.3, -0.4, 0.9 };
    const double ts[8] = { 0.2, -0.5, 0.7, 0.1, -0.3, 0.4, 0.9, -0.8 };
    float xf[12], tf[8];
    for (int i = 0; i < 12; i++) {
        xf[i] = (float)xs[i];
    }
    for (int i = 0; i < 8; i++) {
        tf[i] = (float)ts[i];
    }
    bool f32 = dt == NB_DTYPE_F32;
    nb_node *x = nb_const(g, dt, NB_SHAPE(4, 3), f32 ? (const void *)xf : (const void *)xs);
    nb_node *t = nb_const(g, dt, NB_SHAPE(4, 2), f32 ? (const void *)tf : (const void *)ts);
    m.w = nb_node_set_name(g, nb_param(g, dt, NB_SHAPE(3, 2), nb_init_normal(0, 0.5)), "w");
    m.b = nb_node_set_name(g, nb_param(g, dt, NB_SHAPE(2), nb_init_normal(0, 0.5)), "b");
    m.params[0] = m.w;
    m.params[1] = m.b;
    m.loss = nb_mse(g, nb_tanh(g, nb_add(g, nb_matmul(g, x, m.w), m.b)), t);
    cr_assert_eq(nb_grad(g, m.loss, 2, m.params, m.grads), NB_OK, "%s", nb_graph_error(g));
    if (o) {
        m.opt = nb_optim_new(g, m.loss, 2, m.params, m.grads, o);
    }
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    return m;
}

static void train(model *m, int steps)
{
    for (int i = 0; i < steps; i++) {
        cr_assert_eq(nb_optim_step(m->opt), NB_OK, "%s", nb_graph_error(m->g));
    }
}

static void drop(model *m)
{
    nb_optim_free(m->opt);
    nb_graph_free(m->g);
}

static nb_optim_options sgd_momentum(void)
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_SGD);
    o.lr = 0.1;
    o.momentum = 0.9;
    return o;
}

static bool same_bytes(const nb_node *a, const nb_node *b)
{
    size_t n = nb_node_size(a) * nb_dtype_size(nb_node_dtype(a));
    return nb_node_size(a) == nb_node_size(b) && nb_node_dtype(a) == nb_node_dtype(b) &&
           memcmp(nb_node_data(a), nb_node_data(b), n) == 0;
}

/* Everything a load could change, read through the public API. */
typedef struct snapshot {
    double w[6], b[2];
    int64_t steps;
} snapshot;

static snapshot snap(const model *m)
{
    snapshot s = { .steps = m->opt ? nb_optim_steps(m->opt) : -1 };
    cr_assert_eq(nb_node_read_f64(m->g, m->w, s.w, 6), NB_OK);
    cr_assert_eq(nb_node_read_f64(m->g, m->b, s.b, 2), NB_OK);
    return s;
}

static void assert_unchanged(const model *m, const snapshot *before, const char *what)
{
    snapshot now = snap(m);
    cr_assert_eq(memcmp(now.w, before->w, sizeof now.w), 0, "%s: w changed", what);
    cr_assert_eq(memcmp(now.b, before->b, sizeof now.b), 0, "%s: b changed", what);
    cr_assert_eq(now.steps, before->steps, "%s: the step count changed", what);
}

/*
 * Loads path into m (with its optimizer when with_opt), expecting code and the
 * message "checkpoint_load: " + msg, a healthy graph and nothing changed.
 */
static void expect_load_error(model *m, const char *path, bool with_opt, nb_status code,
                              const char *msg)
{
    snapshot before = snap(m);
    nb_status st = nb_checkpoint_load(m->g, path, 2, m->params, with_opt ? m->opt : NULL);
    cr_assert_eq(st, code, "status %d (%s): %s", (int)st, nb_status_string(st),
                 nb_graph_error(m->g));
    char want[1024];
    cr_assert_str_eq(nb_graph_error(m->g), fmt(want, sizeof want, "checkpoint_load: %s", msg));
    cr_assert_eq(nb_graph_status(m->g), NB_OK, "file errors do not stick");
    assert_unchanged(m, &before, msg);
}

/*
 * The fixture of the malformed-file tests: a checkpoint of a model trained 3
 * steps with SGD momentum (218 bytes), and a second model built from another
 * seed and never trained, whose parameters, momentum (zero) and step count
 * (0) all differ from the file's, so any partial load would show.
 */
typedef struct fixture {
    model saved, target;
    char path[256];
    unsigned char *bytes;
    size_t len;
    layout l;
    char state_path[256];
    unsigned char *state;
    size_t state_len;
} fixture;

static fixture fx;

static void fixture_setup(void)
{
    scratch_make();
    nb_optim_options o = sgd_momentum();
    fx.saved = build(NB_DTYPE_F64, 1, &o);
    train(&fx.saved, 3);
    at(fx.path, sizeof fx.path, "good.ckpt");
    cr_assert_eq(nb_checkpoint_save(fx.saved.g, fx.path, 2, fx.saved.params, fx.saved.opt), NB_OK,
                 "%s", nb_graph_error(fx.saved.g));
    fx.bytes = slurp(fx.path, &fx.len);
    fx.l = walk(fx.bytes, fx.len);
    fx.target = build(NB_DTYPE_F64, 2, &o);
    /* the target's whole state as a file, to compare after the failed loads */
    at(fx.state_path, sizeof fx.state_path, "target-before.ckpt");
    cr_assert_eq(nb_checkpoint_save(fx.target.g, fx.state_path, 2, fx.target.params, fx.target.opt),
                 NB_OK);
    fx.state = slurp(fx.state_path, &fx.state_len);
}

/* Asserts the target's optimizer state (moments included) is as it was. */
static void assert_target_state_unchanged(void)
{
    char path[256];
    at(path, sizeof path, "target-after.ckpt");
    cr_assert_eq(nb_checkpoint_save(fx.target.g, path, 2, fx.target.params, fx.target.opt), NB_OK);
    size_t len;
    unsigned char *now = slurp(path, &len);
    cr_assert_eq(len, fx.state_len);
    cr_assert_eq(memcmp(now, fx.state, len), 0, "the optimizer state changed");
    free(now);
}

static void fixture_teardown(void)
{
    drop(&fx.saved);
    drop(&fx.target);
    free(fx.bytes);
    free(fx.state);
    scratch_remove();
}

/* Writes an edited copy of the good file (resealed when reseal_crc) and returns its path. */
static const char *edited(char *path, size_t cap, const unsigned char *buf, size_t len,
                          bool reseal_crc)
{
    unsigned char *copy = malloc(len);
    cr_assert_not_null(copy);
    memcpy(copy, buf, len);
    if (reseal_crc) {
        reseal(copy, len);
    }
    at(path, cap, "edited.ckpt");
    spit(path, copy, len);
    free(copy);
    return path;
}

/* ======================================================================== */
/* Round trips                                                              */
/* ======================================================================== */

/* Parameters of every rank 0..4, f32 and f64, one unnamed, and an i32 input. */
typedef struct zoo {
    nb_graph *g;
    nb_node *n[7];
} zoo;

static zoo make_zoo(uint64_t seed, bool reversed)
{
    zoo z;
    z.g = nb_graph_new();
    nb_graph_seed(z.g, seed);
    nb_graph *g = z.g;
    nb_init init = nb_init_normal(0, 1);
    nb_node *n[7] = {
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, 0, NULL, init), "scalar"),
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(5), init), "vector"),
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2, 3), init), "matrix"),
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(2, 1, 3), init), "layer.w"),
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(1, 2, 2, 2), init), "rank 4"),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), init), /* generated name "param_6" */
        nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(3)), "labels"),
    };
    for (int i = 0; i < 7; i++) {
        z.n[i] = n[reversed ? 6 - i : i];
    }
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    return z;
}

static nb_node *zoo_find(const zoo *z, const char *name)
{
    for (int i = 0; i < 7; i++) {
        if (strcmp(nb_node_name(z->n[i]), name) == 0) {
            return z->n[i];
        }
    }
    cr_assert_fail("no node %s", name);
    return NULL;
}

Test(roundtrip, every_rank_and_dtype_bit_identical, .init = scratch_make, .fini = scratch_remove,
     .description = "values matched by name, in another order, special values included")
{
    zoo a = make_zoo(1, false);
    /* values a careless copy would change: -0, a NaN payload, inf, a denormal */
    float *v = nb_node_data(zoo_find(&a, "vector"));
    const uint32_t nan_payload = 0x7fc01234u;
    v[0] = -0.0f;
    memcpy(&v[1], &nan_payload, 4);
    v[2] = -INFINITY;
    v[3] = 1e-45f;
    const int32_t labels[3] = { 7, -1, INT32_MAX };
    cr_assert_eq(nb_node_write(a.g, zoo_find(&a, "labels"), labels, 3), NB_OK);
    cr_assert_str_eq(nb_node_name(a.n[5]), "param_6");
    char path[256];
    at(path, sizeof path, "zoo.ckpt");
    cr_assert_eq(nb_checkpoint_save(a.g, path, 7, a.n, NULL), NB_OK, "%s", nb_graph_error(a.g));
    cr_assert_str_eq(nb_graph_error(a.g), "");

    zoo b = make_zoo(2, true);
    for (int i = 0; i < 7; i++) {
        const char *name = nb_node_name(a.n[i]);
        if (strcmp(name, "labels") != 0) {
            cr_assert_not(same_bytes(a.n[i], zoo_find(&b, name)), "%s differs before", name);
        }
    }
    cr_assert_eq(nb_checkpoint_load(b.g, path, 7, b.n, NULL), NB_OK, "%s", nb_graph_error(b.g));
    cr_assert_str_eq(nb_graph_error(b.g), "");
    for (int i = 0; i < 7; i++) {
        const char *name = nb_node_name(a.n[i]);
        cr_assert(same_bytes(a.n[i], zoo_find(&b, name)), "%s is bit-identical", name);
    }
    nb_graph_free(a.g);
    nb_graph_free(b.g);
}

Test(roundtrip, optimizer_state_and_step_count_restored, .init = scratch_make,
     .fini = scratch_remove,
     .description = "saving the loaded model again gives the same bytes: state included")
{
    const nb_optim_kind kinds[2] = { NB_OPTIM_ADAM, NB_OPTIM_SGD };
    for (int k = 0; k < 2; k++) {
        nb_optim_options o =
            kinds[k] == NB_OPTIM_SGD ? sgd_momentum() : nb_optim_defaults(kinds[k]);
        model a = build(NB_DTYPE_F32, 1, &o);
        train(&a, 3);
        model b = build(NB_DTYPE_F32, 2, &o);
        train(&b, 1);
        char pa[256], pb[256];
        at(pa, sizeof pa, "a.ckpt");
        at(pb, sizeof pb, "b.ckpt");
        cr_assert_eq(nb_checkpoint_save(a.g, pa, 2, a.params, a.opt), NB_OK);
        nb_node *reversed[2] = { b.b, b.w }; /* any order: tensors match by name */
        cr_assert_eq(nb_checkpoint_load(b.g, pa, 2, reversed, b.opt), NB_OK, "%s",
                     nb_graph_error(b.g));
        cr_assert_eq(nb_optim_steps(b.opt), 3);
        cr_assert_float_eq(nb_optim_lr(b.opt), nb_optim_lr(a.opt), 0);
        cr_assert(same_bytes(a.w, b.w) && same_bytes(a.b, b.b));
        cr_assert_eq(nb_checkpoint_save(b.g, pb, 2, b.params, b.opt), NB_OK);
        size_t la, lb;
        unsigned char *fa = slurp(pa, &la), *fb = slurp(pb, &lb);
        cr_assert_eq(la, lb);
        cr_assert_eq(memcmp(fa, fb, la), 0, "kind %d: moments restored exactly", (int)kinds[k]);
        free(fa);
        free(fb);
        drop(&a);
        drop(&b);
    }
}

/*
 * A run trained k steps, saved, and resumed in a fresh graph and optimizer
 * (built from another seed, so nothing is inherited but the file) for m more
 * steps ends bit-identical to a run of k + m steps: parameters, step count and
 * last loss. SGD's first momentum step and Adam's bias correction depend on
 * the step count, and the cosine schedule on it too.
 */
Test(roundtrip, resumed_training_matches_a_straight_run, .init = scratch_make,
     .fini = scratch_remove)
{
    nb_optim_options cases[6];
    cases[0] = sgd_momentum();
    cases[1] = sgd_momentum();
    cases[1].nesterov = true;
    cases[2] = nb_optim_defaults(NB_OPTIM_ADAM);
    cases[2].lr = 0.05;
    cases[3] = nb_optim_defaults(NB_OPTIM_ADAMW);
    cases[3].schedule = (nb_schedule){ .kind = NB_SCHEDULE_COSINE, .t_max = 6, .warmup = 2 };
    cases[4] = nb_optim_defaults(NB_OPTIM_RMSPROP);
    cases[4].momentum = 0.5;
    cases[4].centered = true;
    cases[5] = nb_optim_defaults(NB_OPTIM_ADAGRAD);
    cases[5].initial_accumulator = 0.1;
    const int k = 3, m = 4;
    char path[256];
    at(path, sizeof path, "resume.ckpt");
    for (int c = 0; c < 6; c++) {
        for (int d = 0; d < 2; d++) {
            nb_dtype dt = d ? NB_DTYPE_F64 : NB_DTYPE_F32;
            model straight = build(dt, 1, &cases[c]);
            train(&straight, k + m);
            model first = build(dt, 1, &cases[c]);
            train(&first, k);
            cr_assert_eq(nb_checkpoint_save(first.g, path, 2, first.params, first.opt), NB_OK);
            model resumed = build(dt, 2, &cases[c]);
            cr_assert_eq(nb_checkpoint_load(resumed.g, path, 2, resumed.params, resumed.opt), NB_OK,
                         "%s", nb_graph_error(resumed.g));
            train(&resumed, m);
            cr_assert_eq(nb_optim_steps(resumed.opt), k + m);
            cr_assert(same_bytes(straight.w, resumed.w), "case %d %s: w", c, nb_dtype_name(dt));
            cr_assert(same_bytes(straight.b, resumed.b), "case %d %s: b", c, nb_dtype_name(dt));
            double l1 = nb_optim_loss(straight.opt), l2 = nb_optim_loss(resumed.opt);
            cr_assert_eq(memcmp(&l1, &l2, sizeof l1), 0, "case %d: loss %.17g vs %.17g", c, l1, l2);
            /* and the checkpoint mattered: training m steps from scratch differs */
            model fresh = build(dt, 1, &cases[c]);
            train(&fresh, m);
            cr_assert_not(same_bytes(straight.w, fresh.w));
            drop(&straight);
            drop(&first);
            drop(&resumed);
            drop(&fresh);
        }
    }
}

Test(roundtrip, params_alone_from_a_file_with_optimizer_state, .init = scratch_make,
     .fini = scratch_remove)
{
    nb_optim_options o = nb_optim_defaults(NB_OPTIM_ADAM);
    model a = build(NB_DTYPE_F64, 1, &o);
    train(&a, 2);
    model b = build(NB_DTYPE_F64, 2, NULL);
    char path[256];
    at(path, sizeof path, "ck");
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, a.opt), NB_OK);
    cr_assert_eq(nb_checkpoint_load(b.g, path, 2, b.params, NULL), NB_OK, "%s",
                 nb_graph_error(b.g));
    cr_assert(same_bytes(a.w, b.w) && same_bytes(a.b, b.b));
    drop(&a);
    drop(&b);
}

Test(roundtrip, relative_path_in_the_working_directory, .init = scratch_make,
     .fini = scratch_remove)
{
    char cwd[512];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(scratch), 0);
    model a = build(NB_DTYPE_F64, 1, NULL), b = build(NB_DTYPE_F64, 2, NULL);
    cr_assert_eq(nb_checkpoint_save(a.g, "plain.ckpt", 2, a.params, NULL), NB_OK, "%s",
                 nb_graph_error(a.g));
    cr_assert_eq(nb_checkpoint_load(b.g, "plain.ckpt", 2, b.params, NULL), NB_OK);
    cr_assert(same_bytes(a.w, b.w));
    char list[256];
    cr_assert_str_eq(listing(list, sizeof list), "plain.ckpt");
    cr_assert_eq(chdir(cwd), 0);
    drop(&a);
    drop(&b);
}

/* ======================================================================== */
/* Atomic saves                                                             */
/* ======================================================================== */

Test(atomic, a_successful_save_replaces_the_file_and_leaves_no_temporary, .init = scratch_make,
     .fini = scratch_remove)
{
    model a = build(NB_DTYPE_F64, 1, NULL), b = build(NB_DTYPE_F64, 2, NULL);
    char path[256], list[256];
    at(path, sizeof path, "ck.bin");
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_OK);
    cr_assert_str_eq(listing(list, sizeof list), "ck.bin");
    /* save other values over it */
    ((double *)nb_node_data(a.w))[0] += 1;
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_OK);
    cr_assert_str_eq(listing(list, sizeof list), "ck.bin");
    cr_assert_eq(nb_checkpoint_load(b.g, path, 2, b.params, NULL), NB_OK);
    cr_assert(same_bytes(a.w, b.w), "the second save is the one read back");
    drop(&a);
    drop(&b);
}

/* mkstemp creates 0600 files; a checkpoint keeps the replaced file's mode, or gets 0644. */
Test(atomic, the_file_mode_is_kept_or_0644, .init = scratch_make, .fini = scratch_remove)
{
    model a = build(NB_DTYPE_F64, 1, NULL);
    char path[256];
    at(path, sizeof path, "ck.bin");
    struct stat sb;
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_OK);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0644, "a new file: mode %o", (unsigned)(sb.st_mode & 07777));
    cr_assert_eq(chmod(path, 0640), 0);
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_OK);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0640, "a replaced file: mode %o",
                 (unsigned)(sb.st_mode & 07777));
    drop(&a);
}

/* Saves a good checkpoint of a at scratch/ck.bin, changes a, returns the file's bytes. */
static unsigned char *good_then_changed(model *a, char *path, size_t cap, size_t *len)
{
    at(path, cap, "ck.bin");
    cr_assert_eq(nb_checkpoint_save(a->g, path, 2, a->params, a->opt), NB_OK);
    unsigned char *old = slurp(path, len);
    ((double *)nb_node_data(a->w))[0] += 1;
    return old;
}

static void assert_old_file_intact(const char *path, const unsigned char *old, size_t len)
{
    size_t now_len;
    unsigned char *now = slurp(path, &now_len);
    cr_assert_eq(now_len, len);
    cr_assert_eq(memcmp(now, old, len), 0, "the old checkpoint is intact");
    free(now);
    char list[256];
    cr_assert_str_eq(listing(list, sizeof list), "ck.bin", "no temporary file left behind");
}

/*
 * Writing fails after the temporary file is made: a file-size limit of 0
 * makes write(2) fail with EFBIG (SIGXFSZ ignored). This works as root too,
 * unlike a read-only directory.
 */
Test(atomic, a_failed_write_keeps_the_old_file, .init = scratch_make, .fini = scratch_remove)
{
    nb_optim_options o = sgd_momentum();
    model a = build(NB_DTYPE_F64, 1, &o);
    train(&a, 2);
    char path[256], want[512];
    size_t len;
    unsigned char *old = good_then_changed(&a, path, sizeof path, &len);

    struct rlimit saved, none;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    none = saved;
    none.rlim_cur = 0;
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
    nb_status st = nb_checkpoint_save(a.g, path, 2, a.params, a.opt);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);

    cr_assert_eq(st, NB_ERR_IO, "%s", nb_graph_error(a.g));
    cr_assert_str_eq(nb_graph_error(a.g),
                     fmt(want, sizeof want,
                         "checkpoint_save: %s: writing failed: %s; the previous file, if any, is "
                         "untouched",
                         path, strerror(EFBIG)));
    cr_assert_eq(nb_graph_status(a.g), NB_OK, "I/O errors do not stick");
    assert_old_file_intact(path, old, len);
    /* and the next save works */
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, a.opt), NB_OK);
    free(old);
    drop(&a);
}

/* The rename fails: the target is a directory. The temporary file is removed. */
Test(atomic, a_failed_rename_leaves_no_temporary, .init = scratch_make, .fini = scratch_remove)
{
    model a = build(NB_DTYPE_F64, 1, NULL);
    char path[256], want[512], list[256];
    at(path, sizeof path, "ck.bin");
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_ERR_IO);
    cr_assert_str_eq(nb_graph_error(a.g),
                     fmt(want, sizeof want,
                         "checkpoint_save: %s: writing failed: %s; the previous file, if any, is "
                         "untouched",
                         path, strerror(EISDIR)));
    cr_assert_str_eq(listing(list, sizeof list), "ck.bin");
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    drop(&a);
}

Test(atomic, a_directory_that_does_not_exist, .init = scratch_make, .fini = scratch_remove)
{
    model a = build(NB_DTYPE_F64, 1, NULL);
    char path[256], want[512], list[256];
    at(path, sizeof path, "missing/ck.bin");
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_ERR_IO);
    cr_assert_str_eq(nb_graph_error(a.g),
                     fmt(want, sizeof want,
                         "checkpoint_save: %s: cannot create a file beside it: %s", path,
                         strerror(ENOENT)));
    cr_assert_str_eq(listing(list, sizeof list), "");
    drop(&a);
}

Test(atomic, a_read_only_directory, .fini = scratch_remove)
{
    if (geteuid() == 0) {
        cr_skip_test("running as root: directory permissions do not stop root (the file-size "
                     "limit and rename tests cover failed saves)");
    }
    scratch_make(); /* after the skip, which ends the test before .fini would run */
    model a = build(NB_DTYPE_F64, 1, NULL);
    char path[256], want[512];
    size_t len;
    unsigned char *old = good_then_changed(&a, path, sizeof path, &len);
    cr_assert_eq(chmod(scratch, 0555), 0);
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_ERR_IO);
    cr_assert_eq(chmod(scratch, 0700), 0);
    cr_assert_str_eq(nb_graph_error(a.g),
                     fmt(want, sizeof want,
                         "checkpoint_save: %s: cannot create a file beside it: %s", path,
                         strerror(EACCES)));
    assert_old_file_intact(path, old, len);
    free(old);
    drop(&a);
}

/* ======================================================================== */
/* Malformed files: exact messages, nothing changed                         */
/* ======================================================================== */

TestSuite(malformed, .init = fixture_setup, .fini = fixture_teardown);

Test(malformed, the_fixture_itself_loads)
{
    cr_assert_eq(fx.len, 218);
    model *t = &fx.target;
    cr_assert_eq(nb_checkpoint_load(t->g, fx.path, 2, t->params, t->opt), NB_OK, "%s",
                 nb_graph_error(t->g));
    cr_assert_eq(nb_optim_steps(t->opt), 3);
    cr_assert(same_bytes(t->w, fx.saved.w));
}

Test(malformed, missing_file_and_a_directory)
{
    char path[256], msg[512];
    at(path, sizeof path, "absent.ckpt");
    expect_load_error(&fx.target, path, true, NB_ERR_IO,
                      fmt(msg, sizeof msg, "%s: cannot open: %s", path, strerror(ENOENT)));
    at(path, sizeof path, "a-directory");
    cr_assert_eq(mkdir(path, 0700), 0);
    expect_load_error(&fx.target, path, true, NB_ERR_IO,
                      fmt(msg, sizeof msg, "%s: read error", path));
    assert_target_state_unchanged();
}

Test(malformed, not_a_checkpoint)
{
    char path[256], msg[512];
    const char *text = "# not a checkpoint, just some text that is long enough\n";
    at(path, sizeof path, "text.ckpt");
    spit(path, text, strlen(text));
    const char *not_ours = "%s: not a nabla checkpoint (no \"NABLACKP\" magic number)";
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT, fmt(msg, sizeof msg, not_ours, path));
    spit(path, "", 0);
    expect_load_error(&fx.target, path, false, NB_ERR_FORMAT, fmt(msg, sizeof msg, not_ours, path));
    unsigned char *b = malloc(fx.len);
    memcpy(b, fx.bytes, fx.len);
    b[7] = 'Q'; /* NABLACKQ, with a valid checksum */
    reseal(b, fx.len);
    spit(path, b, fx.len);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT, fmt(msg, sizeof msg, not_ours, path));
    free(b);
    assert_target_state_unchanged();
}

Test(malformed, wrong_version)
{
    char path[256], msg[512];
    unsigned char *b = malloc(fx.len);
    const uint32_t versions[3] = { 0, 3, 0xFFFFFFFFu };
    for (int i = 0; i < 3; i++) {
        memcpy(b, fx.bytes, fx.len);
        put32(b + 8, versions[i]);
        edited(path, sizeof path, b, fx.len, true);
        expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                          fmt(msg, sizeof msg,
                              "%s: format version %u; this nabla reads versions 1 and 2", path,
                              (unsigned)versions[i]));
    }
    free(b);
    assert_target_state_unchanged();
}

/*
 * Every proper prefix of the file is rejected: shorter than the magic number,
 * "not a checkpoint"; shorter than the smallest checkpoint (24 bytes: magic,
 * version, flags, count, CRC), "truncated"; longer, the last four bytes are
 * taken for the CRC and do not match.
 */
Test(malformed, truncated_at_every_byte)
{
    char path[256], msg[512];
    at(path, sizeof path, "cut.ckpt");
    for (size_t cut = 0; cut < fx.len; cut++) {
        spit(path, fx.bytes, cut);
        if (cut < 8) {
            fmt(msg, sizeof msg, "%s: not a nabla checkpoint (no \"NABLACKP\" magic number)", path);
        } else if (cut < 24) {
            fmt(msg, sizeof msg,
                "%s: truncated: %zu bytes, shorter than the smallest checkpoint (24 bytes)", path,
                cut);
        } else {
            fmt(msg, sizeof msg, "%s: checksum mismatch: the file is truncated or corrupted", path);
        }
        expect_load_error(&fx.target, path, true, NB_ERR_FORMAT, msg);
    }
    /* without an optimizer too, at a few points */
    const size_t cuts[4] = { 20, 36, 100, 217 };
    for (int i = 0; i < 4; i++) {
        spit(path, fx.bytes, cuts[i]);
        cr_assert_eq(nb_checkpoint_load(fx.target.g, path, 2, fx.target.params, NULL),
                     NB_ERR_FORMAT);
    }
    assert_target_state_unchanged();
}

/*
 * A flipped bit anywhere is caught. The magic number and the version are
 * checked before the checksum (so a newer file is named as such); everywhere
 * else, including the CRC itself, the checksum does not match.
 */
Test(malformed, a_flipped_bit_anywhere)
{
    char path[256], msg[512];
    unsigned char *b = malloc(fx.len);
    at(path, sizeof path, "flipped.ckpt");
    for (size_t i = 0; i < fx.len; i++) {
        memcpy(b, fx.bytes, fx.len);
        b[i] ^= (unsigned char)(1u << (i % 8));
        spit(path, b, fx.len);
        if (i < 8) {
            fmt(msg, sizeof msg, "%s: not a nabla checkpoint (no \"NABLACKP\" magic number)", path);
        } else if (i < 12) {
            fmt(msg, sizeof msg, "%s: format version %u; this nabla reads versions 1 and 2", path,
                (unsigned)get32(b + 8));
        } else {
            fmt(msg, sizeof msg, "%s: checksum mismatch: the file is truncated or corrupted", path);
        }
        expect_load_error(&fx.target, path, true, NB_ERR_FORMAT, msg);
    }
    free(b);
    assert_target_state_unchanged();
}

/* The structural checks behind the checksum, on files edited and resealed. */
Test(malformed, resealed_structural_errors)
{
    char path[256], msg[512];
    const layout *l = &fx.l;
    unsigned char *b = malloc(fx.len + 8);

    memcpy(b, fx.bytes, fx.len);
    put32(b + 12, 3); /* an unknown flag beside the optimizer flag */
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: unknown flags 0x3", path));

    memcpy(b, fx.bytes, fx.len);
    put32(b + 16, 3);
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(
        &fx.target, path, true, NB_ERR_FORMAT,
        fmt(msg, sizeof msg, "%s: holds 3 tensors, but 2 parameters were given", path));

    memcpy(b, fx.bytes, fx.len);
    put32(b + l->dtype[1], 7);
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: tensor 2 has a malformed header", path));

    memcpy(b, fx.bytes, fx.len);
    put32(b + l->rank[0], 5);
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: tensor 1 has a malformed header", path));

    memcpy(b, fx.bytes, fx.len);
    put32(b + l->name_len[0], 100000); /* a name longer than the file */
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: tensor 1 has a malformed header", path));

    memcpy(b, fx.bytes, fx.len);
    put32(b + l->name_len[1], 200); /* runs past the end, but under the name limit */
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: tensor 2 has a malformed header", path));

    /* a dimension that does not fit: reported as a shape mismatch */
    memcpy(b, fx.bytes, fx.len);
    put64(b + l->dims[0], 1000);
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg,
                          "%s: tensor 'w' is f64[1000,2] in the file but f64[3,2] in the graph",
                          path));

    /* the second tensor renamed "w": the first name appears twice */
    memcpy(b, fx.bytes, fx.len);
    b[l->name_len[1] + 4] = 'w';
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: tensor 'w' appears twice", path));

    /* three bytes between the last tensor and the CRC */
    memcpy(b, fx.bytes, l->crc);
    memset(b + l->crc, 0xEE, 3);
    edited(path, sizeof path, b, fx.len + 3, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: 3 unexpected bytes after the last tensor", path));

    /* the last tensor's state cut short (sealed again) */
    memcpy(b, fx.bytes, l->crc - 8);
    edited(path, sizeof path, b, fx.len - 8, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: truncated inside tensor 'b'", path));

    /* a negative step count */
    memcpy(b, fx.bytes, fx.len);
    put64(b + 28, -1);
    edited(path, sizeof path, b, fx.len, true);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: bad optimizer header", path));
    free(b);
    assert_target_state_unchanged();
}

Test(malformed, a_name_that_matches_no_parameter)
{
    /* a model whose bias is called "bias" */
    model *t = &fx.target;
    nb_node_set_name(t->g, t->b, "bias");
    char msg[512];
    expect_load_error(t, fx.path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg, "%s: tensor 'b' matches no parameter given", fx.path));
    nb_node_set_name(t->g, t->b, "b");
    assert_target_state_unchanged();
}

Test(malformed, shape_dtype_and_rank_mismatches)
{
    char path[256], msg[512];
    at(path, sizeof path, "plain.ckpt");
    cr_assert_eq(nb_checkpoint_save(fx.saved.g, path, 2, fx.saved.params, NULL), NB_OK);
    struct {
        nb_dtype dt;
        int rank;
        int64_t shape[2];
        const char *graph;
    } cases[4] = {
        { NB_DTYPE_F64, 2, { 2, 3 }, "f64[2,3]" },
        { NB_DTYPE_F32, 2, { 3, 2 }, "f32[3,2]" },
        { NB_DTYPE_F64, 1, { 6 }, "f64[6]" },
        { NB_DTYPE_F64, 0, { 0 }, "f64[]" },
    };
    for (int i = 0; i < 4; i++) {
        nb_graph *g = nb_graph_new();
        nb_node *p[2] = {
            nb_node_set_name(
                g, nb_param(g, cases[i].dt, cases[i].rank, cases[i].shape, nb_init_constant(3)),
                "w"),
            nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(4)), "b"),
        };
        cr_assert_eq(nb_graph_status(g), NB_OK);
        cr_assert_eq(nb_checkpoint_load(g, path, 2, p, NULL), NB_ERR_FORMAT);
        cr_assert_str_eq(nb_graph_error(g),
                         fmt(msg, sizeof msg,
                             "checkpoint_load: %s: tensor 'w' is f64[3,2] in the file but %s in "
                             "the graph",
                             path, cases[i].graph));
        double v[2];
        cr_assert_eq(nb_node_read_f64(g, p[1], v, 2), NB_OK);
        cr_assert(v[0] == 4 && v[1] == 4, "b is untouched");
        nb_graph_free(g);
    }
}

Test(malformed, a_different_parameter_count)
{
    char msg[512];
    nb_graph *g = nb_graph_new();
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3, 2), nb_init_constant(5)), "w");
    cr_assert_eq(nb_checkpoint_load(g, fx.path, 1, &w, NULL), NB_ERR_FORMAT);
    cr_assert_str_eq(nb_graph_error(g),
                     fmt(msg, sizeof msg,
                         "checkpoint_load: %s: holds 2 tensors, but 1 parameter was given",
                         fx.path));
    cr_assert_eq(((double *)nb_node_data(w))[0], 5);
    nb_graph_free(g);
}

Test(malformed, optimizer_state_absent_or_of_another_kind)
{
    char path[256], msg[512];
    at(path, sizeof path, "no-state.ckpt");
    cr_assert_eq(nb_checkpoint_save(fx.saved.g, path, 2, fx.saved.params, NULL), NB_OK);
    expect_load_error(&fx.target, path, true, NB_ERR_FORMAT,
                      fmt(msg, sizeof msg,
                          "%s: holds no optimizer state (it was saved without an optimizer)",
                          path));
    assert_target_state_unchanged();

    nb_optim_options kinds[3] = { nb_optim_defaults(NB_OPTIM_ADAM), nb_optim_defaults(NB_OPTIM_SGD),
                                  nb_optim_defaults(NB_OPTIM_RMSPROP) };
    const char *want[3] = { "adam with 2", "sgd with 0", "rmsprop with 1" };
    for (int i = 0; i < 3; i++) {
        model other = build(NB_DTYPE_F64, 3, &kinds[i]);
        train(&other, 1);
        expect_load_error(&other, fx.path, true, NB_ERR_FORMAT,
                          fmt(msg, sizeof msg,
                              "%s: optimizer state is for sgd with 1 state tensors, not %s",
                              fx.path, want[i]));
        drop(&other);
    }
}

/* ======================================================================== */
/* Argument errors                                                          */
/* ======================================================================== */

/* Asserts a non-sticky argument error with message "<op>: " + msg and no file at path. */
static void expect_call_error(nb_graph *g, nb_status st, nb_status code, const char *op,
                              const char *msg)
{
    char want[512];
    cr_assert_eq(st, code, "status %d: %s", (int)st, nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), fmt(want, sizeof want, "%s: %s", op, msg));
    cr_assert_eq(nb_graph_status(g), NB_OK);
}

static void expect_arg_error(nb_graph *g, nb_status st, const char *op, const char *msg)
{
    expect_call_error(g, st, NB_ERR_ARG, op, msg);
}

Test(args, bad_parameter_lists, .init = scratch_make, .fini = scratch_remove)
{
    nb_optim_options o = sgd_momentum();
    model a = build(NB_DTYPE_F64, 1, &o);
    nb_graph *g = a.g;
    char path[256], list[256];
    at(path, sizeof path, "never.ckpt");
    nb_node *extra =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1)), "extra");
    nb_node *twin =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1)), "w");
    nb_node *sum = nb_node_set_name(g, nb_sum(g, a.w), "total");
    nb_graph *h = nb_graph_new();
    nb_node *foreign =
        nb_node_set_name(h, nb_param(h, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1)), "foreign");
    cr_assert_eq(nb_graph_status(g), NB_OK);

    const char *ops[2] = { "checkpoint_save", "checkpoint_load" };
    for (int i = 0; i < 2; i++) {
#define CALL(n, params, opt)                                                                       \
    (i == 0 ? nb_checkpoint_save(g, path, (n), (params), (opt))                                    \
            : nb_checkpoint_load(g, path, (n), (params), (opt)))
        nb_node *dup[2] = { a.w, twin };
        expect_arg_error(g, CALL(2, dup, NULL), ops[i],
                         "two parameters are named 'w'; names must be unique");
        nb_node *same[2] = { a.w, a.w };
        expect_arg_error(g, CALL(2, same, NULL), ops[i],
                         "two parameters are named 'w'; names must be unique");
        nb_node *outside[2] = { a.w, extra };
        expect_arg_error(g, CALL(2, outside, a.opt), ops[i],
                         "parameter 'extra' is not one the optimizer updates");
        expect_arg_error(g, CALL(1, a.params, a.opt), ops[i],
                         "with an optimizer, pass exactly its 2 parameters");
        nb_node *three[3] = { a.w, a.b, extra };
        expect_arg_error(g, CALL(3, three, a.opt), ops[i],
                         "parameter 'extra' is not one the optimizer updates");
        nb_node *op[2] = { a.w, sum };
        expect_arg_error(g, CALL(2, op, NULL), ops[i],
                         "params[1] must be a parameter (or input) of this graph");
        nb_node *other[2] = { foreign, a.w };
        expect_call_error(g, CALL(2, other, NULL), NB_ERR_GRAPH, ops[i],
                          "params[0] belongs to another graph");
        nb_node *null[2] = { a.w, NULL };
        expect_arg_error(g, CALL(2, null, NULL), ops[i],
                         "params[1] must be a parameter (or input) of this graph");
        expect_arg_error(g, CALL(0, a.params, NULL), ops[i], "no parameters given");
        expect_arg_error(g, CALL(2, NULL, NULL), ops[i], "no parameters given");
#undef CALL
    }
    expect_arg_error(g, nb_checkpoint_save(g, NULL, 2, a.params, NULL), "checkpoint_save",
                     "the path is NULL");
    expect_arg_error(g, nb_checkpoint_load(g, NULL, 2, a.params, NULL), "checkpoint_load",
                     "the path is NULL");
    cr_assert_eq(nb_checkpoint_save(NULL, path, 2, a.params, NULL), NB_ERR_ARG);
    cr_assert_eq(nb_checkpoint_load(NULL, path, 2, a.params, NULL), NB_ERR_ARG);
    cr_assert_str_eq(listing(list, sizeof list), "", "argument errors write nothing");
    /* each call clears the last message, as every data call does */
    cr_assert_str_neq(nb_graph_error(g), "");
    cr_assert_eq(nb_checkpoint_save(g, path, 2, a.params, a.opt), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");
    expect_arg_error(g, nb_checkpoint_load(g, NULL, 2, a.params, NULL), "checkpoint_load",
                     "the path is NULL");
    cr_assert_eq(nb_checkpoint_load(g, path, 2, a.params, a.opt), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_graph_free(h);
    drop(&a);
}

/*
 * The format caps names at 4096 bytes; a longer name must be refused when
 * saving, not written into a file that no load accepts.
 */
Test(args, names_longer_than_the_format_allows, .init = scratch_make, .fini = scratch_remove)
{
    nb_graph *g = nb_graph_new();
    char *name = malloc(5001);
    memset(name, 'n', 5000);
    name[5000] = '\0';
    nb_node *p =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1)), name);
    char path[256], list[256];
    at(path, sizeof path, "long.ckpt");
    expect_arg_error(g, nb_checkpoint_save(g, path, 1, &p, NULL), "checkpoint_save",
                     "params[0] has a name of 5000 bytes; a checkpoint holds names up to 4096");
    cr_assert_str_eq(listing(list, sizeof list), "");
    name[4096] = '\0';
    nb_node_set_name(g, p, name);
    cr_assert_eq(nb_checkpoint_save(g, path, 1, &p, NULL), NB_OK, "%s", nb_graph_error(g));
    ((double *)nb_node_data(p))[0] = 9;
    cr_assert_eq(nb_checkpoint_load(g, path, 1, &p, NULL), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(((double *)nb_node_data(p))[0], 1);
    free(name);
    nb_graph_free(g);
}

/* ======================================================================== */
/* The documented layout                                                    */
/* ======================================================================== */

/*
 * io/checkpoint.c's header comment: "NABLACKP", u32 version 1, u32 flags (1:
 * optimizer state), u32 tensors, [u32 kind, u32 slots, i64 steps], per tensor
 * u32 name length, name, u32 dtype, u32 rank, i64 dims, values, [slots x
 * state], then zlib's CRC-32 of everything before it; all little-endian.
 */
Test(format, with_optimizer_state_field_by_field, .init = scratch_make, .fini = scratch_remove)
{
    nb_optim_options o = sgd_momentum();
    model a = build(NB_DTYPE_F64, 1, &o);
    train(&a, 2);
    char path[256];
    at(path, sizeof path, "pinned.ckpt");
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, a.opt), NB_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    cr_assert_eq(len, 218);
    cr_assert_eq(memcmp(b, "NABLACKP", 8), 0);
    cr_assert_eq(get32(b + 8), 1, "version");
    cr_assert_eq(get32(b + 12), 1, "flags: optimizer state");
    cr_assert_eq(get32(b + 16), 2, "tensors");
    cr_assert_eq(get32(b + 20), (uint32_t)NB_OPTIM_SGD, "optimizer kind");
    cr_assert_eq(get32(b + 24), 1, "slots: SGD's momentum buffer");
    cr_assert_eq(get64(b + 28), 2, "steps");
    /* the first tensor at 36 */
    cr_assert_eq(get32(b + 36), 1, "name length");
    cr_assert_eq(b[40], 'w');
    cr_assert_eq(get32(b + 41), (uint32_t)NB_DTYPE_F64);
    cr_assert_eq(get32(b + 45), 2, "rank");
    cr_assert_eq(get64(b + 49), 3);
    cr_assert_eq(get64(b + 57), 2);
    if (host_is_little_endian()) {
        cr_assert_eq(memcmp(b + 65, nb_node_data(a.w), 48), 0, "values, row-major");
    }
    /* 48 bytes of momentum, then the second tensor */
    size_t p = 65 + 48 + 48;
    cr_assert_eq(get32(b + p), 1);
    cr_assert_eq(b[p + 4], 'b');
    cr_assert_eq(get32(b + p + 5), (uint32_t)NB_DTYPE_F64);
    cr_assert_eq(get32(b + p + 9), 1);
    cr_assert_eq(get64(b + p + 13), 2);
    if (host_is_little_endian()) {
        cr_assert_eq(memcmp(b + p + 21, nb_node_data(a.b), 16), 0);
    }
    p += 21 + 16 + 16;
    cr_assert_eq(p, len - 4);
    cr_assert_eq(get32(b + p), crc32_of(b, p), "zlib's CRC-32 of every byte before it");
    /* the generic walker agrees */
    layout l = walk(b, len);
    cr_assert_eq(l.head, 36);
    cr_assert_eq(l.values[1], 182);
    free(b);
    drop(&a);
}

Test(format, without_optimizer_state_and_with_f32_and_rank_0, .init = scratch_make,
     .fini = scratch_remove)
{
    nb_graph *g = nb_graph_new();
    nb_node *p[2] = {
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(1.5)), "s"),
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(1, 1, 1, 2), nb_init_constant(-2)),
                         "four"),
    };
    char path[256];
    at(path, sizeof path, "plain.ckpt");
    cr_assert_eq(nb_checkpoint_save(g, path, 2, p, NULL), NB_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    /* 20 header + (4 + 1 + 4 + 4 + 4) + (4 + 4 + 4 + 4 + 32 + 8) + 4 CRC */
    cr_assert_eq(len, 20 + 17 + 56 + 4);
    cr_assert_eq(get32(b + 12), 0, "flags: no optimizer state");
    cr_assert_eq(get32(b + 16), 2);
    cr_assert_eq(get32(b + 20), 1);
    cr_assert_eq(b[24], 's');
    cr_assert_eq(get32(b + 25), (uint32_t)NB_DTYPE_F32);
    cr_assert_eq(get32(b + 29), 0, "rank 0: no dims");
    cr_assert_eq(get32(b + 33), 0x3FC00000u, "1.5f, little-endian");
    cr_assert_eq(get32(b + 37), 4);
    cr_assert_eq(memcmp(b + 41, "four", 4), 0);
    cr_assert_eq(get32(b + 49), 4, "rank");
    cr_assert_eq(get64(b + 53 + 24), 2, "last dimension");
    cr_assert_eq(get32(b + 85), 0xC0000000u, "-2.0f");
    cr_assert_eq(get32(b + len - 4), crc32_of(b, len - 4));
    free(b);
    nb_graph_free(g);
}

/*
 * The worked example of docs/training.md ("Checkpoint format"), byte for
 * byte: w = [0.5, -1] (f32) after one step of SGD (lr 0.1, momentum 0.9) on
 * the loss sum(w * w), so w = [0.4, -0.8] and the momentum buffer [1, -2].
 */
Test(format, the_documented_77_byte_example, .init = scratch_make, .fini = scratch_remove)
{
    static const unsigned char want[77] = {
        0x4e, 0x41, 0x42, 0x4c, 0x41, 0x43, 0x4b, 0x50, 0x01, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x77, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xcd, 0xcc, 0xcc, 0x3e, 0xcd, 0xcc, 0x4c, 0xbf,
        0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x1c, 0x04, 0x3c, 0xfa,
    };
    nb_graph *g = nb_graph_new();
    const float w0[2] = { 0.5f, -1.0f };
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(2), nb_init_constant(0)), "w");
    cr_assert_eq(nb_node_write(g, w, w0, 2), NB_OK);
    nb_node *loss = nb_sum(g, nb_mul(g, w, w)), *dw;
    cr_assert_eq(nb_grad(g, loss, 1, &w, &dw), NB_OK);
    nb_optim_options o = sgd_momentum();
    nb_optim *opt = nb_optim_new(g, loss, 1, &w, &dw, &o);
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_optim_step(opt), NB_OK);
    char path[256];
    at(path, sizeof path, "doc.ckpt");
    cr_assert_eq(nb_checkpoint_save(g, path, 1, &w, opt), NB_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    cr_assert_eq(len, sizeof want);
    for (size_t i = 0; i < len; i++) {
        cr_assert_eq(b[i], want[i], "byte %zu: 0x%02x, documented 0x%02x", i, b[i], want[i]);
    }
    free(b);
    nb_optim_free(opt);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Looking up a tensor; names that differ only in case                      */
/* ======================================================================== */

Test(find, reports_what_a_file_holds, .init = scratch_make, .fini = scratch_remove)
{
    model m = build(NB_DTYPE_F64, 1, NULL);
    char path[256];
    at(path, sizeof path, "find.ckpt");
    /* a state node beside the parameters: how the nabla command keeps --standardize's statistics */
    nb_node *extra =
        nb_node_set_name(m.g, nb_state(m.g, NB_DTYPE_F64, NB_SHAPE(3), 0.5), "standardize:mean");
    nb_node *all[3] = { m.w, m.b, extra };
    cr_assert_eq(nb_checkpoint_save(m.g, path, 3, all, NULL), NB_OK, "%s", nb_graph_error(m.g));
    bool found = false;
    nb_dtype dt = NB_DTYPE_I32;
    int rank = -1;
    int64_t shape[NB_MAX_RANK] = { 0 };
    cr_assert_eq(nb_checkpoint_find(m.g, path, "w", &found, &dt, &rank, shape), NB_OK);
    cr_assert(found);
    cr_assert_eq(dt, NB_DTYPE_F64);
    cr_assert_eq(rank, 2);
    cr_assert(shape[0] == 3 && shape[1] == 2);
    cr_assert_eq(nb_checkpoint_find(m.g, path, "standardize:mean", &found, &dt, &rank, shape),
                 NB_OK);
    cr_assert(found && rank == 1 && shape[0] == 3);
    cr_assert_eq(nb_checkpoint_find(m.g, path, "W", &found, &dt, &rank, shape), NB_OK);
    cr_assert_not(found, "names are case-sensitive");
    /* with optimizer state (version 2: a has_state word per tensor) it walks the same */
    drop(&m);
    nb_optim_options o = sgd_momentum();
    m = build(NB_DTYPE_F32, 2, &o);
    train(&m, 2);
    cr_assert_eq(nb_checkpoint_save(m.g, path, 2, m.params, m.opt), NB_OK);
    cr_assert_eq(nb_checkpoint_find(m.g, path, "b", &found, &dt, &rank, shape), NB_OK);
    cr_assert(found && dt == NB_DTYPE_F32 && rank == 1 && shape[0] == 2);
    /* a missing file and a corrupted one are errors, and do not stick */
    char missing[256];
    at(missing, sizeof missing, "none.ckpt");
    cr_assert_eq(nb_checkpoint_find(m.g, missing, "b", &found, &dt, &rank, shape), NB_ERR_IO);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    bytes[len / 2] ^= 1;
    spit(path, bytes, len);
    free(bytes);
    cr_assert_eq(nb_checkpoint_find(m.g, path, "b", &found, &dt, &rank, shape), NB_ERR_FORMAT);
    char want[512];
    cr_assert_str_eq(nb_graph_error(m.g),
                     fmt(want, sizeof want,
                         "checkpoint_find: %s: checksum mismatch: the file is truncated or "
                         "corrupted",
                         path));
    cr_assert_eq(nb_graph_status(m.g), NB_OK);
    cr_assert_eq(nb_checkpoint_find(m.g, path, NULL, &found, &dt, &rank, shape), NB_ERR_ARG);
    drop(&m);
}

Test(find, a_name_differing_in_case_gets_a_suggestion, .init = scratch_make, .fini = scratch_remove)
{
    model a = build(NB_DTYPE_F64, 1, NULL), b = build(NB_DTYPE_F64, 2, NULL);
    char path[256];
    at(path, sizeof path, "case.ckpt");
    cr_assert_eq(nb_checkpoint_save(a.g, path, 2, a.params, NULL), NB_OK);
    nb_node_set_name(b.g, b.w, "W");
    char want[512];
    expect_load_error(&b, path, false, NB_ERR_FORMAT,
                      fmt(want, sizeof want,
                          "%s: tensor 'w' matches no parameter given; did you mean 'W'? (names "
                          "are case-sensitive)",
                          path));
    drop(&a);
    drop(&b);
}
