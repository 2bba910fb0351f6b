/*
 * tests/test_limits.c: limits without crashes. Shapes whose element count or
 * byte size overflows give NB_ERR_SHAPE (leaves, reshape, broadcast_to,
 * broadcasting, matmul, one_hot, model declarations, checkpoint headers);
 * graphs and literals too large for memory give NB_ERR_NOMEM; and the parser,
 * the writers, nb_depth, nb_grad and the executor handle 100,000 nested
 * parentheses, 100,000 chained statements, 5,000 nested scopes and a
 * 1,000,000-node chain quickly. The deep cases run on a thread with a 256 KiB
 * stack, so any recursion over the nesting would crash the test.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <nabla.h>

#include "gen_text.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/*
 * Allocations of exabytes must fail with NULL, as malloc does, not stop the
 * process: AddressSanitizer's default is to report them as errors.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOWDOWN 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SLOWDOWN 4
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

/* "A few seconds": the budget of each deep case (times 4 under a sanitizer). */
#define BUDGET (5.0 * SLOWDOWN)

#define SMALL_STACK (256 * 1024)

/* Runs fn(arg) on a thread with a 256 KiB stack and waits for it. fn must not assert. */
static void on_small_stack(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t t;
    cr_assert_eq(pthread_attr_init(&attr), 0);
    cr_assert_eq(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
    cr_assert_eq(pthread_create(&t, &attr, fn, arg), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

static void assert_error(nb_graph *g, nb_status want, const char *msg)
{
    cr_assert_eq(nb_graph_status(g), want, "status %s, want %s: %s",
                 nb_status_string(nb_graph_status(g)), nb_status_string(want), nb_graph_error(g));
    cr_assert_str_eq(nb_graph_error(g), msg);
}

/* ======================================================================== */
/* Shapes whose size overflows                                              */
/* ======================================================================== */

#define MAXD 2147483647LL /* 2^31-1, the largest dimension */

Test(overflow, leaves_with_huge_shapes_are_shape_errors)
{
    struct {
        nb_dtype dtype;
        int rank;
        int64_t shape[4];
        const char *msg;
    } cases[] = {
        /* the element count overflows size_t */
        { NB_DTYPE_F32,
          3,
          { MAXD, MAXD, MAXD },
          "input: shape [2147483647,2147483647,2147483647] is not valid (dimensions from 1 to "
          "2^31-1, size within memory)" },
        /* the count fits, 8 bytes each overflow */
        { NB_DTYPE_F64,
          3,
          { MAXD, MAXD, 4 },
          "input: shape [2147483647,2147483647,4] is not valid (dimensions from 1 to 2^31-1, "
          "size within memory)" },
        /* fits in size_t, but beyond PTRDIFF_MAX: larger than any object */
        { NB_DTYPE_F32,
          2,
          { MAXD, MAXD },
          "input: shape [2147483647,2147483647] is not valid (dimensions from 1 to 2^31-1, size "
          "within memory)" },
        { NB_DTYPE_I32,
          4,
          { MAXD, MAXD, MAXD, MAXD },
          "input: shape [2147483647,2147483647,2147483647,2147483647] is not valid (dimensions "
          "from 1 to 2^31-1, size within memory)" },
        /* a dimension above 2^31-1 */
        { NB_DTYPE_F32,
          1,
          { MAXD + 1 },
          "input: shape [2147483648] is not valid (dimensions from 1 to 2^31-1, size within "
          "memory)" },
        { NB_DTYPE_F32,
          2,
          { INT64_MAX, INT64_MAX },
          "input: shape [9223372036854775807,9223372036854775807] is not valid (dimensions from "
          "1 to 2^31-1, size within memory)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nb_graph *g = nb_graph_new();
        cr_assert_null(nb_input(g, cases[i].dtype, cases[i].rank, cases[i].shape));
        assert_error(g, NB_ERR_SHAPE, cases[i].msg);
        cr_assert_eq(nb_graph_node_count(g), 0);
        nb_graph_free(g);
        /* the same check guards parameters, constants and fills */
        g = nb_graph_new();
        nb_dtype fd = cases[i].dtype == NB_DTYPE_I32 ? NB_DTYPE_F32 : cases[i].dtype;
        cr_assert_null(nb_param(g, fd, cases[i].rank, cases[i].shape, nb_init_constant(0)));
        cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
        nb_graph_free(g);
        g = nb_graph_new();
        cr_assert_null(nb_fill(g, fd, cases[i].rank, cases[i].shape, 1));
        cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
        nb_graph_free(g);
        g = nb_graph_new();
        float one = 1;
        cr_assert_null(nb_const(g, NB_DTYPE_F32, cases[i].rank, cases[i].shape, &one));
        cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
        nb_graph_free(g);
    }
}

Test(overflow, reshape_to_a_huge_shape_is_a_shape_error)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(6)), "x");
    /* the product of the target dimensions overflows */
    cr_assert_null(nb_reshape(g, x, NB_SHAPE(INT64_C(1) << 62, INT64_C(1) << 62)));
    assert_error(g, NB_ERR_SHAPE,
                 "reshape(x[6]): target shape [4611686018427387904,4611686018427387904] is not "
                 "valid (one -1 allowed, other dimensions >= 1)");
    nb_graph_free(g);

    /* a fill holds no storage, so a huge one is fine; reshaping it to a 2^32 dimension is not */
    g = nb_graph_new();
    nb_node *f = nb_node_set_name(g, nb_fill(g, NB_DTYPE_F32, NB_SHAPE(65536, 65536), 1), "f");
    cr_assert_not_null(f);
    cr_assert_null(nb_reshape(g, f, NB_SHAPE(-1)));
    assert_error(g, NB_ERR_SHAPE,
                 "reshape(f[65536,65536]): the result shape [4294967296] is not valid "
                 "(dimensions from 1 to 2^31-1, size within memory)");
    nb_graph_free(g);
}

Test(overflow, broadcast_to_a_huge_shape_is_a_shape_error)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(1)), "x");
    /* the element count overflows */
    cr_assert_null(nb_broadcast_to(g, x, NB_SHAPE(MAXD, MAXD, MAXD, MAXD)));
    assert_error(g, NB_ERR_SHAPE,
                 "broadcast_to(x[1]): target shape "
                 "[2147483647,2147483647,2147483647,2147483647] is not valid");
    nb_graph_free(g);

    /* the count fits, the bytes do not */
    g = nb_graph_new();
    x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(1)), "x");
    cr_assert_null(nb_broadcast_to(g, x, NB_SHAPE(MAXD, MAXD, 4)));
    assert_error(g, NB_ERR_SHAPE,
                 "broadcast_to(x[1]): the result shape [2147483647,2147483647,4] is not valid "
                 "(dimensions from 1 to 2^31-1, size within memory)");
    nb_graph_free(g);
}

Test(overflow, broadcasting_and_matmul_of_valid_inputs_can_overflow)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_node_set_name(g, nb_fill(g, NB_DTYPE_F32, NB_SHAPE(MAXD, 1, 1), 1), "a");
    nb_node *b = nb_node_set_name(g, nb_fill(g, NB_DTYPE_F32, NB_SHAPE(1, 1 << 30, MAXD), 1), "b");
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
    cr_assert_null(nb_add(g, a, b));
    assert_error(g, NB_ERR_SHAPE,
                 "add(a[2147483647,1,1], b[1,1073741824,2147483647]): the result shape "
                 "[2147483647,1073741824,2147483647] is not valid (dimensions from 1 to 2^31-1, "
                 "size within memory)");
    nb_graph_free(g);

    g = nb_graph_new();
    a = nb_node_set_name(g, nb_fill(g, NB_DTYPE_F64, NB_SHAPE(MAXD, 1), 1), "a");
    b = nb_node_set_name(g, nb_fill(g, NB_DTYPE_F64, NB_SHAPE(1, MAXD), 1), "b");
    cr_assert_null(nb_matmul(g, a, b));
    assert_error(g, NB_ERR_SHAPE,
                 "matmul(a[2147483647,1], b[1,2147483647]): the result shape "
                 "[2147483647,2147483647] is not valid (dimensions from 1 to 2^31-1, size within "
                 "memory)");
    nb_graph_free(g);
}

Test(overflow, one_hot_with_too_many_classes_is_a_shape_error)
{
    const int64_t bad[] = { INT64_MAX, MAXD + 1, 0, -1, INT64_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nb_graph *g = nb_graph_new();
        nb_node *l = nb_node_set_name(g, nb_input(g, NB_DTYPE_I32, NB_SHAPE(4)), "l");
        cr_assert_null(nb_one_hot(g, l, bad[i], NB_DTYPE_F32));
        char want[160];
        snprintf(want, sizeof want, "one_hot(l[4]): %lld classes is not a valid size",
                 (long long)bad[i]);
        assert_error(g, NB_ERR_SHAPE, want);
        nb_graph_free(g);
    }
    /* the largest class count is fine: one_hot holds no storage until run */
    nb_graph *g = nb_graph_new();
    nb_node *l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(3));
    cr_assert_not_null(nb_one_hot(g, l, MAXD, NB_DTYPE_F64), "%s", nb_graph_error(g));
    nb_graph_free(g);
}

/* ---- too large for memory: NB_ERR_NOMEM ---- */

Test(overflow, a_leaf_larger_than_memory_is_out_of_memory)
{
    nb_graph *g = nb_graph_new();
    /* 4 (2^31-1) 2^30 bytes, just under 8 EiB: a valid size no machine has */
    cr_assert_null(nb_input(g, NB_DTYPE_F32, NB_SHAPE(MAXD, 1 << 30)));
    assert_error(g, NB_ERR_NOMEM, "input: out of memory for 9223372032559808512 bytes of values");
    cr_assert_eq(nb_graph_node_count(g), 0);
    nb_graph_free(g);
}

Test(overflow, a_graph_larger_than_memory_is_out_of_memory_and_not_sticky)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2));
    nb_node *small = nb_exp(g, x);
    /* fills are free to build; running them needs their bytes */
    nb_node *a = nb_fill(g, NB_DTYPE_F32, NB_SHAPE(MAXD, 1 << 30), 1);
    nb_node *e = nb_exp(g, a);
    /*
     * a, b and c are live at once: their blocks, 2 (2^63 - 2^32) + 2^33 + 128
     * bytes, add up to 2^64 + 128. Before the planner checked the sum, the
     * workspace wrapped to 128 bytes and the fills wrote far past its end.
     */
    nb_node *b = nb_fill(g, NB_DTYPE_F32, NB_SHAPE(MAXD, 1 << 30), 2);
    nb_node *c = nb_fill(g, NB_DTYPE_F32, NB_SHAPE(2, (1 << 30) + 16), 3);
    nb_node *s = nb_add(g, nb_add(g, a, b), nb_sum(g, c));
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));

    cr_assert_eq(nb_graph_run(g, 1, &e), NB_ERR_NOMEM);
    cr_assert_str_eq(nb_graph_error(g),
                     "run: out of memory for a workspace of 9223372032559808512 bytes");
    cr_assert_null(nb_node_data(e));
    cr_assert_eq(nb_graph_run(g, 1, &s), NB_ERR_NOMEM);
    cr_assert_str_eq(nb_graph_error(g), "run: out of memory while planning");
    /* run errors do not stick: the small part still runs */
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_eq(nb_graph_run(g, 1, &small), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(((const float *)nb_node_data(small))[1], 1.0f);
    nb_graph_free(g);
}

/* ---- model files ---- */

static void parse_fails(const char *src, nb_dtype dtype, nb_status want, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_model_options o = { .dtype = dtype };
    nb_parse_error e;
    nb_status s = nb_model_parse(g, src, strlen(src), &o, &e);
    cr_assert_eq(s, want, "%s: %s", nb_status_string(s), e.message);
    cr_assert_str_eq(e.message, msg);
    nb_graph_free(g);
}

Test(overflow, model_declarations_of_huge_shapes)
{
    parse_fails("input x[2147483647, 2147483647, 2147483647]\n", NB_DTYPE_F64, NB_ERR_SHAPE,
                "input: shape [2147483647,2147483647,2147483647] is not valid (dimensions from 1 "
                "to 2^31-1, size within memory)");
    parse_fails("param w[2147483647, 1073741824] = zeros\n", NB_DTYPE_F64, NB_ERR_SHAPE,
                "param: shape [2147483647,1073741824] is not valid (dimensions from 1 to 2^31-1, "
                "size within memory)");
    parse_fails("const c[2147483647, 2147483647, 4] = 1\n", NB_DTYPE_F32, NB_ERR_SHAPE,
                "const c: the shape is too large");
    parse_fails("y = fill([2147483647, 2147483647, 2147483647], 1)\n", NB_DTYPE_F64, NB_ERR_SHAPE,
                "fill: shape [2147483647,2147483647,2147483647] is not valid (dimensions from 1 "
                "to 2^31-1, size within memory)");
    parse_fails("input x[2147483648]\n", NB_DTYPE_F64, NB_ERR_FORMAT,
                "dimension 1 of the shape is 2.14748e+09; dimensions are whole numbers from 1");
    /* valid sizes that no memory holds */
    parse_fails("input x[2147483647, 1073741824] = 0\n", NB_DTYPE_F32, NB_ERR_NOMEM,
                "input: out of memory for 9223372032559808512 bytes of values");
    parse_fails("const c[1000000, 1000000, 1000000] = 1.5\n", NB_DTYPE_F64, NB_ERR_NOMEM,
                "out of memory");
}

/* ---- checkpoint headers ---- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

Test(overflow, checkpoint_headers_declaring_huge_tensors)
{
    char path[] = "/tmp/nabla_limits_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    nb_graph *g = nb_graph_new();
    nb_node *w =
        nb_node_set_name(g, nb_param(g, NB_DTYPE_F32, NB_SHAPE(2, 3), nb_init_constant(0.5)), "w");
    cr_assert_eq(nb_checkpoint_save(g, path, 1, &w, NULL), NB_OK, "%s", nb_graph_error(g));
    FILE *f = fopen(path, "rb");
    unsigned char good[256];
    size_t len = fread(good, 1, sizeof good, f);
    fclose(f);
    /* header 20 bytes, name length 4, "w" 1, dtype 4, rank 4, dims at 33, 24 bytes of values */
    cr_assert_eq(len, 20 + 4 + 1 + 4 + 4 + 16 + 24 + 4);
    struct {
        int at, bytes;
        uint64_t value;
        const char *msg;
    } cases[] = {
        { 33, 8, (uint64_t)INT64_MAX,
          "tensor 'w' is f32[9223372036854775807,3] in the file but f32[2,3] in the graph" },
        { 33, 8, (uint64_t)-1, "tensor 'w' is f32[-1,3] in the file but f32[2,3] in the graph" },
        { 41, 8, UINT64_C(1) << 62,
          "tensor 'w' is f32[2,4611686018427387904] in the file but f32[2,3] in the graph" },
        { 29, 4, 0xFFFFFFFFu, "tensor 1 has a malformed header" }, /* rank */
        { 20, 4, 0xFFFFFFFFu, "tensor 1 has a malformed header" }, /* name length */
        { 16, 4, 0xFFFFFFFFu, "holds 4294967295 tensors, but 1 parameter was given" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char bad[256];
        memcpy(bad, good, len);
        put_le(bad + cases[i].at, cases[i].value, cases[i].bytes);
        put_le(bad + len - 4, crc32_of(bad, len - 4), 4);
        f = fopen(path, "wb");
        cr_assert_eq(fwrite(bad, 1, len, f), len);
        fclose(f);
        cr_assert_eq(nb_checkpoint_load(g, path, 1, &w, NULL), NB_ERR_FORMAT, "case %zu: %s", i,
                     nb_graph_error(g));
        char want[300];
        snprintf(want, sizeof want, "checkpoint_load: %s: %s", path, cases[i].msg);
        cr_assert_str_eq(nb_graph_error(g), want);
        cr_assert_eq(((const float *)nb_node_data(w))[5], 0.5f, "a failed load changed w");
    }
    cr_assert_eq(nb_graph_status(g), NB_OK);
    nb_graph_free(g);
    unlink(path);
}

/* ======================================================================== */
/* Deep models: no recursion anywhere                                        */
/* ======================================================================== */

/* Work for the small-stack thread: everything is measured there, asserted after. */
typedef struct deep {
    const char *src;
    size_t len;
    const char *out_name;  /* run this node and read its value */
    const char *grad_name; /* if set: d out / d grad_name, run */
    bool write;            /* write the model and the DOT, parse the model again */
    nb_graph *g;
    nb_status parse_st, run_st, grad_st;
    nb_parse_error err;
    double value, grad;
    int depth_ops, depth_scopes, depth_deepest;
    size_t nodes, model_len, dot_len, reparsed_nodes;
    nb_status write_st, dot_st, reparse_st;
    bool same_text;
    double t_parse, t_depth, t_grad, t_run, t_write, t_dot, t_reparse;
} deep;

static char *write_to_memory(nb_graph *g, bool dot, size_t *len, nb_status *st)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) {
        *st = NB_ERR_IO;
        return NULL;
    }
    nb_dot_options o = nb_dot_defaults();
    o.grad = true;
    *st = dot ? nb_graph_write_dot(g, f, &o) : nb_model_write(g, f);
    fclose(f);
    return buf;
}

static void *deep_job(void *arg)
{
    deep *d = arg;
    double t0 = now();
    d->g = nb_graph_new();
    nb_graph *g = d->g;
    d->parse_st = nb_model_parse(g, d->src, d->len, NULL, &d->err);
    d->t_parse = now() - t0;
    d->nodes = nb_graph_node_count(g);
    if (d->parse_st != NB_OK) {
        return NULL;
    }
    nb_node *out = nb_graph_find(g, d->out_name);
    if (!out) {
        return NULL;
    }
    t0 = now();
    d->depth_ops = nb_depth(g, out, NB_DEPTH_OPS);
    d->depth_scopes = nb_depth(g, out, NB_DEPTH_SCOPES);
    d->depth_deepest = nb_depth(g, out, 1000000);
    d->t_depth = now() - t0;
    t0 = now();
    d->run_st = nb_graph_run(g, 1, &out);
    d->t_run = now() - t0;
    if (d->run_st == NB_OK) {
        nb_node_read_f64(g, out, &d->value, 1);
    }
    if (d->write) {
        t0 = now();
        char *model = write_to_memory(g, false, &d->model_len, &d->write_st);
        d->t_write = now() - t0;
        t0 = now();
        nb_graph *b = nb_graph_new();
        d->reparse_st = model ? nb_model_parse(b, model, d->model_len, NULL, NULL) : NB_ERR_IO;
        d->reparsed_nodes = nb_graph_node_count(b);
        size_t again_len = 0;
        nb_status again_st;
        char *again = write_to_memory(b, false, &again_len, &again_st);
        d->same_text =
            again && model && again_len == d->model_len && memcmp(again, model, again_len) == 0;
        d->t_reparse = now() - t0;
        free(again);
        free(model);
        nb_graph_free(b);
    }
    if (d->grad_name) {
        nb_node *x = nb_graph_find(g, d->grad_name), *dx = NULL;
        t0 = now();
        d->grad_st = nb_grad(g, out, 1, &x, &dx);
        d->t_grad = now() - t0;
        if (d->grad_st == NB_OK) {
            t0 = now();
            d->grad_st = nb_graph_run(g, 1, &dx);
            d->t_run += now() - t0;
            nb_node_read_f64(g, dx, &d->grad, 1);
        }
    }
    if (d->write) {
        t0 = now();
        free(write_to_memory(g, true, &d->dot_len, &d->dot_st));
        d->t_dot = now() - t0;
    }
    return NULL;
}

static void run_deep(deep *d, text *t)
{
    d->src = t->s;
    d->len = t->len;
    on_small_stack(deep_job, d);
    cr_assert_eq(d->parse_st, NB_OK, "%d:%d: %s", d->err.line, d->err.column, d->err.message);
    cr_assert_eq(d->run_st, NB_OK, "%s", nb_graph_error(d->g));
}

static void done_deep(deep *d, text *t)
{
    nb_graph_free(d->g);
    free(t->s);
}

Test(deep, hundred_thousand_nested_parentheses, .timeout = 120,
     .description = "((((x)))) 100,000 deep, neg(neg(...)) 100,000 deep, and 100,001 unary minuses")
{
    text t = { 0 };
    put(&t, "input x = 3\ny = ");
    put_n(&t, "(", 100000);
    put(&t, "x");
    put_n(&t, ")", 100000);
    put(&t, " * 2\nz = ");
    put_n(&t, "neg(", 100000);
    put(&t, "x");
    put_n(&t, ")", 100000);
    put(&t, " + y\nw = ");
    put_n(&t, "-", 100001);
    put(&t, "z\n");
    deep d = { .out_name = "w", .grad_name = "x" };
    run_deep(&d, &t);
    /* y = 6, z = x + y = 9 (an even number of negations), w = -z */
    cr_assert_eq(d.value, -9);
    cr_assert_eq(d.depth_ops, 100000 + 1 + 100001, "%d", d.depth_ops);
    cr_assert_eq(d.grad_st, NB_OK);
    cr_assert_eq(d.grad, -3, "dw/dx = -(1 + 2) = -3, got %g", d.grad);
    cr_log_info("100,000 nested parentheses: parse %.3f s, depth %.3f s, grad %.3f s, run %.3f s",
                d.t_parse, d.t_depth, d.t_grad, d.t_run);
    cr_assert_lt(d.t_parse + d.t_depth + d.t_grad + d.t_run, BUDGET);
    done_deep(&d, &t);
}

Test(deep, hundred_thousand_chained_statements, .timeout = 120,
     .description = "y1 = y0 + 1 ... y99999: the value, the depth, and a round trip")
{
    text t = { 0 };
    put(&t, "input x = 0.5\ny0 = x + 1\n");
    char line[64];
    for (int i = 1; i < 100000; i++) {
        snprintf(line, sizeof line, "y%d = y%d + 1\n", i, i - 1);
        put(&t, line);
    }
    deep d = { .out_name = "y99999", .grad_name = "x", .write = true };
    run_deep(&d, &t);
    cr_assert_eq(d.value, 100000.5);
    cr_assert_eq(d.depth_ops, 100000);
    cr_assert_eq(d.grad, 1);
    cr_assert_eq(d.write_st, NB_OK);
    cr_assert_eq(d.reparse_st, NB_OK);
    /* x, and per statement a constant 1 and an add */
    cr_assert_eq(d.nodes, 200001);
    cr_assert_eq(d.reparsed_nodes, 200001, "%zu", d.reparsed_nodes);
    cr_assert(d.same_text, "writing the parsed text gives the same text");
    cr_assert_eq(d.dot_st, NB_OK);
    cr_log_info("100,000 statements: parse %.3f s, depth %.3f s, grad %.3f s, run %.3f s, "
                "write %.3f s (%zu bytes), reparse %.3f s, DOT %.3f s (%zu bytes)",
                d.t_parse, d.t_depth, d.t_grad, d.t_run, d.t_write, d.model_len, d.t_reparse,
                d.t_dot, d.dot_len);
    cr_assert_lt(d.t_parse + d.t_depth + d.t_grad + d.t_run + d.t_write + d.t_reparse + d.t_dot,
                 BUDGET);
    done_deep(&d, &t);
}

Test(deep, five_thousand_nested_scopes, .timeout = 120,
     .description = "scopes 5,000 deep: depth at every level, gradient mirror scopes, the "
                    "model writer and DOT")
{
    text t = { 0 };
    put(&t, "input x = 1\n");
    char line[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(line, sizeof line, "scope s%d {\n  a%d = x * %d\n", i, i, i + 1);
        put(&t, line);
    }
    put_n(&t, "}\n", 5000);
    put(&t, "top = a4999 + a0\n");
    deep d = { .out_name = "top", .grad_name = "x", .write = true };
    run_deep(&d, &t);
    cr_assert_str_eq(nb_node_scope(nb_graph_find(d.g, "a4999")), "s4999");
    cr_assert_str_eq(nb_node_scope_at(nb_graph_find(d.g, "a4999"), 1), "s0");
    cr_assert_str_eq(nb_node_scope_at(nb_graph_find(d.g, "a4999"), 5000), "s4999");
    cr_assert_eq(d.value, 5001);
    cr_assert_eq(d.depth_ops, 2);
    /* a0 and a4999 are both in s0 at level 1: one element, then top */
    cr_assert_eq(d.depth_scopes, 2);
    cr_assert_eq(d.depth_deepest, 2);
    cr_assert_eq(d.grad, 5001);
    cr_assert_eq(d.write_st, NB_OK);
    cr_assert_eq(d.reparse_st, NB_OK);
    cr_assert(d.same_text);
    cr_assert_eq(d.dot_st, NB_OK);
    /* indentation is capped, so the texts grow linearly with the nesting */
    cr_assert_lt(d.model_len, 2000000, "%zu bytes of model", d.model_len);
    cr_assert_lt(d.dot_len, 8000000, "%zu bytes of DOT", d.dot_len);
    cr_log_info("5,000 nested scopes: parse %.3f s, depth %.3f s, grad %.3f s, run %.3f s, "
                "write %.3f s (%zu bytes), reparse %.3f s, DOT %.3f s (%zu bytes)",
                d.t_parse, d.t_depth, d.t_grad, d.t_run, d.t_write, d.model_len, d.t_reparse,
                d.t_dot, d.dot_len);
    cr_assert_lt(d.t_parse + d.t_depth + d.t_grad + d.t_run + d.t_write + d.t_reparse + d.t_dot,
                 BUDGET);
    done_deep(&d, &t);
}

/* ---- a million-node chain through the C API ---- */

enum { CHAIN = 1000000 };

typedef struct chain {
    nb_status build_st, grad_st, run_st;
    int depth, grad_depth;
    size_t path_len, nodes;
    double y, dx;
    nb_memory_stats mem;
    double t_build, t_depth, t_grad, t_run, t_rerun;
} chain;

static void *chain_job(void *arg)
{
    chain *c = arg;
    double t0 = now();
    nb_graph *g = nb_graph_new();
    /*
     * the rules' raw gradient, a million deep, is what this measures; the simplifier
     * would cancel the negations in pairs (test_depth and test_simplify check that)
     */
    nb_graph_set_simplify(g, false);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1));
    nb_node *y = x;
    for (int i = 0; i < CHAIN; i++) {
        /* mostly negations; every 1,000th op a tanh, so values stay interesting */
        y = i % 1000 == 999 ? nb_tanh(g, y) : nb_neg(g, y);
    }
    c->build_st = nb_graph_status(g);
    c->t_build = now() - t0;
    if (c->build_st != NB_OK) {
        nb_graph_free(g);
        return NULL;
    }
    t0 = now();
    c->depth = nb_depth(g, y, NB_DEPTH_OPS);
    c->path_len = nb_depth_path(g, y, NB_DEPTH_OPS, NULL, 0);
    c->t_depth = now() - t0;
    nb_node *dx = NULL;
    t0 = now();
    c->grad_st = nb_grad(g, y, 1, &x, &dx);
    c->t_grad = now() - t0;
    if (c->grad_st == NB_OK) {
        c->grad_depth = nb_depth(g, dx, NB_DEPTH_OPS);
        double xv = 0.5;
        nb_node_write_f64(g, x, &xv, 1);
        nb_node *outs[2] = { y, dx };
        t0 = now();
        c->run_st = nb_graph_run(g, 2, outs);
        c->t_run = now() - t0;
        t0 = now();
        c->run_st = c->run_st == NB_OK ? nb_graph_run(g, 2, outs) : c->run_st;
        c->t_rerun = now() - t0;
        if (c->run_st == NB_OK) {
            nb_node_read_f64(g, y, &c->y, 1);
            nb_node_read_f64(g, dx, &c->dx, 1);
        }
    }
    c->nodes = nb_graph_node_count(g);
    nb_graph_memory(g, &c->mem);
    nb_graph_free(g);
    return NULL;
}

Test(deep, million_node_chain, .timeout = 300,
     .description = "nb_depth, nb_depth_path, nb_grad and two runs of a 1,000,000-op chain")
{
    chain c = { 0 };
    on_small_stack(chain_job, &c);
    cr_assert_eq(c.build_st, NB_OK);
    cr_assert_eq(c.grad_st, NB_OK);
    cr_assert_eq(c.run_st, NB_OK);
    cr_assert_eq(c.depth, CHAIN);
    cr_assert_eq(c.path_len, CHAIN + 1);
    /* the reference, computed the same way in plain C */
    double y = 0.5, dy = 1;
    for (int i = 0; i < CHAIN; i++) {
        if (i % 1000 == 999) {
            y = tanh(y);
            dy *= 1 - y * y;
        } else {
            y = -y;
            dy = -dy;
        }
    }
    cr_assert_float_eq(c.y, y, 1e-15);
    cr_assert_float_eq(c.dx, dy, 1e-12 * (dy < 0 ? -dy : dy));
    cr_assert_geq(c.grad_depth, CHAIN);
    /* memory stays proportional: node records, the plan, and a tiny workspace */
    double per_node = (double)c.mem.arena_bytes / (double)c.nodes;
    cr_log_info("1,000,000-op chain: %zu nodes with its gradient; build %.3f s, depth+path "
                "%.3f s, grad %.3f s, first run %.3f s, second run %.3f s; arena %.1f MB "
                "(%.0f B/node), plans %.1f MB, workspace %zu B",
                c.nodes, c.t_build, c.t_depth, c.t_grad, c.t_run, c.t_rerun,
                (double)c.mem.arena_bytes / 1e6, per_node, (double)c.mem.plan_bytes / 1e6,
                c.mem.workspace_bytes);
    cr_assert_lt(per_node, 160, "%.0f bytes per node", per_node);
    cr_assert_lt(c.mem.plan_bytes, c.nodes * 40);
    /* in-place reuse: the workspace holds the 1,000 tanh outputs the backward pass reads */
    cr_assert_lt(c.mem.workspace_bytes, 1000 * 64 + 4096, "%zu", c.mem.workspace_bytes);
    cr_assert_lt(c.t_build + c.t_depth + c.t_grad + c.t_run + c.t_rerun, 2 * BUDGET);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    cr_log_info("peak resident set: %.0f MB", (double)ru.ru_maxrss / 1024);
}
