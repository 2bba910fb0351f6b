/*
 * tests/test_graph.c: graphs, leaves and nodes through the public API: leaf
 * values in and out, initializers and their statistics, reproducible seeding,
 * generated and given names, node accessors, scopes, memory statistics, and
 * two graphs used by two threads at once.
 */
/* pthreads under -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT_HEALTHY(g)                                                                          \
    cr_assert_eq(nb_graph_status(g), NB_OK, "unexpected error: %s", nb_graph_error(g))

/* ======================================================================== */
/* Library and macros                                                       */
/* ======================================================================== */

Test(library, version_matches_the_header)
{
    cr_assert_str_eq(nb_version(), "0.1.0");
    cr_assert_str_eq(nb_version(), NB_VERSION_STRING);
    cr_assert_eq(NB_VERSION_MAJOR, 0);
    cr_assert_eq(NB_VERSION_MINOR, 1);
    cr_assert_eq(NB_VERSION_PATCH, 0);
}

Test(library, blas_config_names_a_configuration)
{
    const char *c = nb_blas_config();
    cr_assert(c && c[0], "an empty configuration name");
    cr_assert_eq(strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(c), "'%s'", c);
    cr_assert_eq(nb_blas_config(), c, "the name is a constant");
}

Test(library, dtype_sizes_and_names)
{
    cr_assert_eq(nb_dtype_size(NB_DTYPE_F32), 4);
    cr_assert_eq(nb_dtype_size(NB_DTYPE_F64), 8);
    cr_assert_eq(nb_dtype_size(NB_DTYPE_I32), 4);
    cr_assert_str_eq(nb_dtype_name(NB_DTYPE_F32), "f32");
    cr_assert_str_eq(nb_dtype_name(NB_DTYPE_F64), "f64");
    cr_assert_str_eq(nb_dtype_name(NB_DTYPE_I32), "i32");
    cr_assert_str_eq(nb_dtype_name((nb_dtype)9), "unknown");
}

/* Receives NB_SHAPE's expansion. */
static void take_shape(int rank, const int64_t *shape, int *rank_out, int64_t *out)
{
    *rank_out = rank;
    for (int i = 0; i < rank; i++) {
        out[i] = shape[i];
    }
}

Test(library, nb_shape_expands_to_rank_and_dimensions)
{
    int rank = -1;
    int64_t s[4] = { 0 };
    take_shape(NB_SHAPE(4, 3), &rank, s);
    cr_assert_eq(rank, 2);
    cr_assert_eq(s[0], 4);
    cr_assert_eq(s[1], 3);
    take_shape(NB_SHAPE(7), &rank, s);
    cr_assert_eq(rank, 1);
    cr_assert_eq(s[0], 7);
    take_shape(NB_SHAPE(2, 3, 5, 11), &rank, s);
    cr_assert_eq(rank, 4);
    cr_assert_eq(s[0] * s[1] * s[2] * s[3], 330);
    cr_assert_eq(s[3], 11);
}

/* ======================================================================== */
/* Leaves: values in and out                                                */
/* ======================================================================== */

Test(leaf, inputs_start_at_zero_in_every_dtype)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F32, NB_SHAPE(3, 5));
    nb_node *b = nb_input(g, NB_DTYPE_F64, NB_SHAPE(7));
    nb_node *c = nb_input(g, NB_DTYPE_I32, NB_SHAPE(2, 2, 2));
    nb_node *d = nb_input(g, NB_DTYPE_F64, 0, NULL);
    ASSERT_HEALTHY(g);
    const float *fa = nb_node_data(a);
    const double *fb = nb_node_data(b), *fd = nb_node_data(d);
    const int32_t *ic = nb_node_data(c);
    cr_assert_not_null(fa);
    for (int i = 0; i < 15; i++) {
        cr_assert_eq(fa[i], 0.0f);
    }
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(fb[i], 0.0);
    }
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(ic[i], 0);
    }
    cr_assert_eq(fd[0], 0.0);
    nb_graph_free(g);
}

Test(leaf, write_and_read_f32)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 2));
    const float src[4] = { 1.5f, -2.25f, 0.1f, 3e7f };
    cr_assert_eq(nb_node_write(g, x, src, 4), NB_OK);
    cr_assert_eq(memcmp(nb_node_data(x), src, sizeof src), 0);
    double back[4];
    cr_assert_eq(nb_node_read_f64(g, x, back, 4), NB_OK);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(back[i], (double)src[i], "element %d", i);
    }
    nb_graph_free(g);
}

Test(leaf, write_and_read_f64)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    const double src[3] = { 0.1, -1e300, 4.0 / 3.0 };
    cr_assert_eq(nb_node_write(g, x, src, 3), NB_OK);
    double back[3];
    cr_assert_eq(nb_node_read_f64(g, x, back, 3), NB_OK);
    cr_assert_eq(memcmp(back, src, sizeof src), 0);
    const double again[3] = { 9, 8, 7 };
    cr_assert_eq(nb_node_write_f64(g, x, again, 3), NB_OK);
    cr_assert_eq(memcmp(nb_node_data(x), again, sizeof again), 0);
    nb_graph_free(g);
}

Test(leaf, write_and_read_i32)
{
    nb_graph *g = nb_graph_new();
    nb_node *l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(4));
    const int32_t src[4] = { 0, -5, 2147483647, 7 };
    cr_assert_eq(nb_node_write(g, l, src, 4), NB_OK);
    cr_assert_eq(memcmp(nb_node_data(l), src, sizeof src), 0);
    double back[4];
    cr_assert_eq(nb_node_read_f64(g, l, back, 4), NB_OK);
    cr_assert_eq(back[0], 0.0);
    cr_assert_eq(back[1], -5.0);
    cr_assert_eq(back[2], 2147483647.0);
    cr_assert_eq(back[3], 7.0);
    nb_graph_free(g);
}

Test(leaf, write_f64_converts_to_f32_by_rounding)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(3));
    const double src[3] = { 0.1, 1.0 / 3.0, -2.5 };
    cr_assert_eq(nb_node_write_f64(g, x, src, 3), NB_OK);
    const float *v = nb_node_data(x);
    cr_assert_eq(v[0], 0.1f);
    cr_assert_eq(v[1], (float)(1.0 / 3.0));
    cr_assert_eq(v[2], -2.5f);
    double back[3];
    nb_node_read_f64(g, x, back, 3);
    cr_assert_eq(back[0], (double)0.1f);
    nb_graph_free(g);
}

Test(leaf, write_f64_converts_to_i32_by_truncation, .description = "2.7 -> 2, -2.7 -> -2")
{
    nb_graph *g = nb_graph_new();
    nb_node *l = nb_input(g, NB_DTYPE_I32, NB_SHAPE(4));
    const double src[4] = { 2.7, -2.7, 3.0, 0.999 };
    cr_assert_eq(nb_node_write_f64(g, l, src, 4), NB_OK);
    const int32_t *v = nb_node_data(l);
    cr_assert_eq(v[0], 2);
    cr_assert_eq(v[1], -2);
    cr_assert_eq(v[2], 3);
    cr_assert_eq(v[3], 0);
    nb_graph_free(g);
}

Test(leaf, params_and_consts_take_writes_too)
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1));
    const double one[2] = { 1, 1 };
    nb_node *c = nb_const(g, NB_DTYPE_F64, NB_SHAPE(2), one);
    const double src[2] = { 5, 6 };
    cr_assert_eq(nb_node_write(g, p, src, 2), NB_OK);
    cr_assert_eq(nb_node_write_f64(g, c, src, 2), NB_OK);
    cr_assert_eq(((const double *)nb_node_data(p))[1], 6);
    cr_assert_eq(((const double *)nb_node_data(c))[0], 5);
    nb_graph_free(g);
}

Test(leaf, const_copies_its_data)
{
    nb_graph *g = nb_graph_new();
    float src[6] = { 1, 2, 3, 4, 5, 6 };
    nb_node *c = nb_const(g, NB_DTYPE_F32, NB_SHAPE(2, 3), src);
    ASSERT_HEALTHY(g);
    cr_assert_neq(nb_node_data(c), (void *)src);
    src[0] = 100;
    src[5] = -1;
    const float *v = nb_node_data(c);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(v[i], (float)(i + 1), "element %d", i);
    }
    cr_assert_eq(nb_node_kind(c), NB_KIND_CONST);
    cr_assert_str_eq(nb_node_op_name(c), "const");
    nb_graph_free(g);
}

Test(leaf, const_of_i32)
{
    nb_graph *g = nb_graph_new();
    const int32_t src[3] = { 2, 0, 1 };
    nb_node *c = nb_const(g, NB_DTYPE_I32, NB_SHAPE(3), src);
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_dtype(c), NB_DTYPE_I32);
    cr_assert_eq(memcmp(nb_node_data(c), src, sizeof src), 0);
    nb_graph_free(g);
}

Test(leaf, scalar_is_a_rank_0_const)
{
    nb_graph *g = nb_graph_new();
    nb_node *s = nb_scalar(g, NB_DTYPE_F64, 2.5);
    nb_node *t = nb_scalar(g, NB_DTYPE_F32, 0.1);
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_kind(s), NB_KIND_CONST);
    cr_assert_eq(nb_node_rank(s), 0);
    cr_assert_eq(nb_node_size(s), 1);
    cr_assert_eq(nb_node_arity(s), 0);
    cr_assert_eq(*(const double *)nb_node_data(s), 2.5);
    cr_assert_eq(nb_node_dtype(t), NB_DTYPE_F32);
    cr_assert_eq(*(const float *)nb_node_data(t), 0.1f);
    nb_graph_free(g);
}

Test(leaf, fill_is_an_op_without_inputs_valued_when_run)
{
    nb_graph *g = nb_graph_new();
    nb_node *f = nb_fill(g, NB_DTYPE_F32, NB_SHAPE(2, 3), 1.5);
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_kind(f), NB_KIND_OP);
    cr_assert_str_eq(nb_node_op_name(f), "fill");
    cr_assert_eq(nb_node_arity(f), 0);
    cr_assert_null(nb_node_input(f, 0));
    cr_assert_null(nb_node_data(f), "no storage until run");
    cr_assert_eq(nb_graph_run(g, 1, &f), NB_OK, "%s", nb_graph_error(g));
    const float *v = nb_node_data(f);
    cr_assert_not_null(v);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(v[i], 1.5f);
    }
    double back[6];
    cr_assert_eq(nb_node_read_f64(g, f, back, 6), NB_OK);
    cr_assert_eq(back[5], 1.5);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Initializers                                                             */
/* ======================================================================== */

typedef struct stats {
    double mean, std, min, max, max_abs;
} stats;

static stats stats_of(nb_graph *g, nb_node *p)
{
    size_t n = nb_node_size(p);
    double *v = malloc(n * sizeof *v);
    cr_assert_eq(nb_node_read_f64(g, p, v, n), NB_OK);
    stats s = { 0, 0, INFINITY, -INFINITY, 0 };
    for (size_t i = 0; i < n; i++) {
        s.mean += v[i];
        s.min = v[i] < s.min ? v[i] : s.min;
        s.max = v[i] > s.max ? v[i] : s.max;
        s.max_abs = fabs(v[i]) > s.max_abs ? fabs(v[i]) : s.max_abs;
    }
    s.mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        s.std += (v[i] - s.mean) * (v[i] - s.mean);
    }
    s.std = sqrt(s.std / (double)(n - 1));
    free(v);
    return s;
}

Test(init, constant_is_exact)
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3, 4), nb_init_constant(0.7));
    nb_node *q = nb_param(g, NB_DTYPE_F32, NB_SHAPE(5), nb_init_constant(-0.1));
    ASSERT_HEALTHY(g);
    const double *v = nb_node_data(p);
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(v[i], 0.7);
    }
    const float *w = nb_node_data(q);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(w[i], -0.1f);
    }
    cr_assert_eq(nb_node_kind(p), NB_KIND_PARAM);
    cr_assert_str_eq(nb_node_op_name(p), "param");
    nb_graph_free(g);
}

Test(init, uniform_within_bounds_with_mean_in_the_middle,
     .description = "U(-1, 3) on 200000 elements: mean 1 (sd of the mean 0.0026)")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), nb_init_uniform(-1, 3));
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    cr_assert_geq(s.min, -1.0);
    cr_assert_lt(s.max, 3.0);
    cr_assert_lt(s.min, -0.999);
    cr_assert_gt(s.max, 2.999);
    cr_assert_float_eq(s.mean, 1.0, 0.015);
    /* std of U(a, b) is (b - a) / sqrt(12) */
    cr_assert_float_eq(s.std, 4.0 / sqrt(12.0), 0.01);
    nb_graph_free(g);
}

Test(init, uniform_f32_within_bounds)
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F32, NB_SHAPE(100, 100), nb_init_uniform(0.25, 0.5));
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    cr_assert_geq(s.min, 0.25);
    cr_assert_leq(s.max, 0.5);
    cr_assert_float_eq(s.mean, 0.375, 0.005);
    nb_graph_free(g);
}

Test(init, normal_mean_and_std, .description = "N(2, 0.5) on 200000 elements")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), nb_init_normal(2, 0.5));
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    /* sd of the mean 0.0011, of the std 0.0008 */
    cr_assert_float_eq(s.mean, 2.0, 0.006);
    cr_assert_float_eq(s.std, 0.5, 0.005);
    /* a normal sample this large reaches past 4 sd on both sides */
    cr_assert_lt(s.min, 2.0 - 4 * 0.5);
    cr_assert_gt(s.max, 2.0 + 4 * 0.5);
    nb_graph_free(g);
}

Test(init, xavier_uniform_uses_fan_in_rows_and_fan_out_columns,
     .description = "w[400,500]: l = sqrt(6 / (400 + 500))")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), nb_init_xavier_uniform());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 900.0);
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.999 * l);
    cr_assert_float_eq(s.mean, 0.0, 0.001);
    cr_assert_float_eq(s.std, l / sqrt(3.0), 0.01 * l);
    nb_graph_free(g);
}

Test(init, xavier_normal_std, .description = "w[400,500]: std = sqrt(2 / 900)")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), nb_init_xavier_normal());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double want = sqrt(2.0 / 900.0);
    cr_assert_float_eq(s.std, want, 0.01 * want);
    cr_assert_float_eq(s.mean, 0.0, 0.01 * want);
    nb_graph_free(g);
}

Test(init, he_uniform_uses_fan_in_only, .description = "w[400,500]: l = sqrt(6 / 400)")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), nb_init_he_uniform());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 400.0);
    /* sqrt(6 / 500) would be 9% smaller: the fan is told apart */
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.999 * l);
    cr_assert_float_eq(s.std, l / sqrt(3.0), 0.01 * l);
    nb_graph_free(g);
}

Test(init, he_normal_std, .description = "w[400,500]: std = sqrt(2 / 400)")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), nb_init_he_normal());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double want = sqrt(2.0 / 400.0);
    cr_assert_float_eq(s.std, want, 0.01 * want);
    nb_graph_free(g);
}

Test(init, xavier_uniform_f32_stays_within_the_limit)
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F32, NB_SHAPE(300, 100), nb_init_xavier_uniform());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 400.0);
    cr_assert_leq(s.max_abs, (double)(float)l);
    cr_assert_gt(s.max_abs, 0.998 * l);
    nb_graph_free(g);
}

Test(init, rank_3_fans_are_a_conv1d_weights,
     .description = "w[40,50,3] (out, in, k): fan_in = 150, fan_out = 120")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(40, 50, 3), nb_init_xavier_uniform());
    nb_node *q = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 50, 3), nb_init_he_normal());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 270.0);
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.99 * l);
    stats t = stats_of(g, q);
    cr_assert_float_eq(t.std, sqrt(2.0 / 150.0), 0.015 * sqrt(2.0 / 150.0));
    nb_graph_free(g);
}

Test(init, rank_4_fans_are_a_conv2d_weights,
     .description = "LeNet's conv2 w[16,6,5,5]: fan_in = 150, fan_out = 400 (PyTorch's fans)")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(16, 6, 5, 5), nb_init_xavier_uniform());
    nb_node *q = nb_param(g, NB_DTYPE_F64, NB_SHAPE(256, 6, 5, 5), nb_init_he_normal());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 550.0); /* torch.nn.init.xavier_uniform_: sqrt(6 / (150 + 400)) */
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.99 * l);
    stats t = stats_of(g, q);
    cr_assert_float_eq(t.std, sqrt(2.0 / 150.0), 0.015 * sqrt(2.0 / 150.0));
    nb_graph_free(g);
}

Test(init, rank_1_fans_are_the_length, .description = "b[20000]: fan_in = fan_out = 20000")
{
    nb_graph *g = nb_graph_new();
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(20000), nb_init_xavier_uniform());
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 40000.0);
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.99 * l);
    nb_graph_free(g);
}

Test(init, rank_0_fans_are_one, .description = "a scalar He-uniform lies in [-sqrt 6, sqrt 6]")
{
    nb_graph *g = nb_graph_new();
    for (int i = 0; i < 200; i++) {
        nb_node *p = nb_param(g, NB_DTYPE_F64, 0, NULL, nb_init_he_uniform());
        cr_assert_leq(fabs(*(const double *)nb_node_data(p)), sqrt(6.0));
    }
    ASSERT_HEALTHY(g);
    nb_graph_free(g);
}

Test(init, explicit_fans_override_the_shape,
     .description = "w[400,500] with fan_in 10, fan_out 20: l = sqrt(6 / 30)")
{
    nb_graph *g = nb_graph_new();
    nb_init xu = nb_init_xavier_uniform();
    xu.fan_in = 10;
    xu.fan_out = 20;
    nb_init hn = nb_init_he_normal();
    hn.fan_in = 50;
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), xu);
    nb_node *q = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), hn);
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 30.0);
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.999 * l);
    stats t = stats_of(g, q);
    cr_assert_float_eq(t.std, sqrt(2.0 / 50.0), 0.01 * sqrt(2.0 / 50.0));
    nb_graph_free(g);
}

Test(init, only_one_fan_overridden_keeps_the_other_from_the_shape,
     .description = "w[400,500] with fan_out 100: l = sqrt(6 / 500)")
{
    nb_graph *g = nb_graph_new();
    nb_init xu = nb_init_xavier_uniform();
    xu.fan_out = 100;
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), xu);
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = sqrt(6.0 / 500.0);
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.999 * l);
    nb_graph_free(g);
}

Test(init, gain_scales_xavier, .description = "a = 2 doubles the limit")
{
    nb_graph *g = nb_graph_new();
    nb_init xu = nb_init_xavier_uniform();
    xu.a = 2;
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), xu);
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    double l = 2 * sqrt(6.0 / 900.0);
    cr_assert_leq(s.max_abs, l);
    cr_assert_gt(s.max_abs, 0.999 * l);
    nb_graph_free(g);
}

Test(init, zero_gain_means_one)
{
    nb_graph *g = nb_graph_new();
    nb_init xn = nb_init_xavier_normal();
    xn.a = 0;
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(400, 500), xn);
    ASSERT_HEALTHY(g);
    stats s = stats_of(g, p);
    cr_assert_float_eq(s.std, sqrt(2.0 / 900.0), 0.01 * sqrt(2.0 / 900.0));
    nb_graph_free(g);
}

Test(init, constructors_fill_the_record)
{
    nb_init c = nb_init_constant(3), u = nb_init_uniform(-1, 2), n = nb_init_normal(0.5, 0.1);
    cr_assert_eq(c.kind, NB_INIT_CONSTANT);
    cr_assert_eq(c.a, 3);
    cr_assert_eq(u.kind, NB_INIT_UNIFORM);
    cr_assert_eq(u.a, -1);
    cr_assert_eq(u.b, 2);
    cr_assert_eq(n.kind, NB_INIT_NORMAL);
    cr_assert_eq(n.a, 0.5);
    cr_assert_eq(n.b, 0.1);
    cr_assert_eq(nb_init_xavier_uniform().kind, NB_INIT_XAVIER_UNIFORM);
    cr_assert_eq(nb_init_xavier_normal().kind, NB_INIT_XAVIER_NORMAL);
    cr_assert_eq(nb_init_he_uniform().kind, NB_INIT_HE_UNIFORM);
    cr_assert_eq(nb_init_he_normal().kind, NB_INIT_HE_NORMAL);
    cr_assert_eq(nb_init_he_normal().fan_in, 0);
    cr_assert_eq(nb_init_he_normal().fan_out, 0);
}

/* ======================================================================== */
/* Seeds                                                                    */
/* ======================================================================== */

/* Values of a fresh N(0, 1) parameter of 64 elements, after seeding if seed >= 0. */
static void draw64(int64_t seed, double *out)
{
    nb_graph *g = nb_graph_new();
    if (seed >= 0) {
        nb_graph_seed(g, (uint64_t)seed);
    }
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(64), nb_init_normal(0, 1));
    cr_assert_not_null(p);
    memcpy(out, nb_node_data(p), 64 * sizeof *out);
    nb_graph_free(g);
}

Test(seed, same_seed_gives_identical_values)
{
    double a[64], b[64];
    draw64(1234, a);
    draw64(1234, b);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
}

Test(seed, new_graph_defaults_to_seed_0)
{
    double a[64], b[64];
    draw64(-1, a);
    draw64(0, b);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
}

Test(seed, different_seeds_differ)
{
    double a[64], b[64], c[64];
    draw64(0, a);
    draw64(1, b);
    draw64(2, c);
    int same_ab = 0, same_bc = 0;
    for (int i = 0; i < 64; i++) {
        same_ab += a[i] == b[i];
        same_bc += b[i] == c[i];
    }
    cr_assert_eq(same_ab, 0);
    cr_assert_eq(same_bc, 0);
}

Test(seed, reseeding_restarts_the_stream)
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, 99);
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(16), nb_init_uniform(0, 1));
    nb_node *q = nb_param(g, NB_DTYPE_F64, NB_SHAPE(16), nb_init_uniform(0, 1));
    nb_graph_seed(g, 99);
    nb_node *r = nb_param(g, NB_DTYPE_F64, NB_SHAPE(16), nb_init_uniform(0, 1));
    ASSERT_HEALTHY(g);
    cr_assert_neq(memcmp(nb_node_data(p), nb_node_data(q), 16 * sizeof(double)), 0,
                  "the stream continues from one parameter to the next");
    cr_assert_eq(memcmp(nb_node_data(p), nb_node_data(r), 16 * sizeof(double)), 0);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Names                                                                    */
/* ======================================================================== */

Test(name, generated_names_are_op_and_ordinal)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *y = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *a1 = nb_add(g, x, y);
    nb_node *m1 = nb_mul(g, a1, x);
    nb_node *a2 = nb_add(g, m1, y);
    nb_node *c = nb_scalar(g, NB_DTYPE_F64, 2);
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(0));
    nb_node *s = nb_sum(g, nb_mul(g, a2, c));
    ASSERT_HEALTHY(g);
    cr_assert_str_eq(nb_node_name(x), "input_1");
    cr_assert_str_eq(nb_node_name(y), "input_2");
    cr_assert_str_eq(nb_node_name(a1), "add_1");
    cr_assert_str_eq(nb_node_name(m1), "mul_1");
    cr_assert_str_eq(nb_node_name(a2), "add_2");
    cr_assert_str_eq(nb_node_name(c), "const_1");
    cr_assert_str_eq(nb_node_name(p), "param_1");
    cr_assert_str_eq(nb_node_name(nb_node_input(s, 0)), "mul_2");
    cr_assert_str_eq(nb_node_name(s), "sum_1");
    nb_graph_free(g);
}

Test(name, generated_names_are_stable)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2));
    nb_node *e = nb_exp(g, x);
    const char *first = nb_node_name(e);
    cr_assert_str_eq(first, "exp_1");
    for (int i = 0; i < 50; i++) {
        nb_exp(g, nb_input(g, NB_DTYPE_F32, NB_SHAPE(2)));
    }
    nb_node_set_name(g, x, "x");
    cr_assert_str_eq(nb_node_name(e), "exp_1");
    cr_assert_eq(nb_node_name(e), first, "the same string is returned");
    cr_assert_str_eq(nb_node_name(nb_graph_node(g, nb_graph_node_count(g) - 1)), "exp_51");
    ASSERT_HEALTHY(g);
    nb_graph_free(g);
}

Test(name, set_name_returns_its_node_and_copies_the_name)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    char buf[16] = "weights";
    cr_assert_eq(nb_node_set_name(g, x, buf), x);
    strcpy(buf, "changed");
    cr_assert_str_eq(nb_node_name(x), "weights");
    cr_assert_eq(nb_node_set_name(g, x, "renamed"), x);
    cr_assert_str_eq(nb_node_name(x), "renamed");
    ASSERT_HEALTHY(g);
    nb_graph_free(g);
}

Test(name, set_name_passes_null_through_on_a_graph_in_error,
     .description = "nb_node_set_name(g, nb_matmul(...), \"y\") chains")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3));
    nb_node *y = nb_node_set_name(g, nb_matmul(g, a, a), "y");
    cr_assert_null(y);
    cr_assert_eq(nb_graph_status(g), NB_ERR_SHAPE);
    cr_assert_str_eq(nb_graph_error(g),
                     "matmul(input_1[2,3], input_1[2,3]): inner dimensions 3 and 2 differ");
    nb_graph_free(g);
}

Test(name, find_by_given_and_generated_names)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "x");
    nb_node *y = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *s = nb_add(g, x, y);
    nb_node *t = nb_node_set_name(g, nb_add(g, s, y), "out");
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_graph_find(g, "x"), x);
    cr_assert_eq(nb_graph_find(g, "input_2"), y);
    cr_assert_eq(nb_graph_find(g, "add_1"), s);
    cr_assert_eq(nb_graph_find(g, "out"), t);
    /* a given name replaces the generated one */
    cr_assert_null(nb_graph_find(g, "input_1"));
    cr_assert_null(nb_graph_find(g, "add_2"));
    cr_assert_null(nb_graph_find(g, "nothing"));
    cr_assert_null(nb_graph_find(g, NULL));
    cr_assert_null(nb_graph_find(NULL, "x"));
    nb_graph_free(g);
}

Test(name, find_returns_the_lowest_id)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1));
    nb_node *b = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1));
    nb_node_set_name(g, b, "dup");
    nb_node_set_name(g, a, "dup");
    cr_assert_eq(nb_graph_find(g, "dup"), a);
    nb_graph_free(g);
}

Test(name, gradient_results_are_named_after_their_wrt_node)
{
    nb_graph *g = nb_graph_new();
    nb_node *w = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "w");
    nb_node *y = nb_sum(g, nb_mul(g, w, w));
    nb_node *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_name(dw), "grad_w");
    cr_assert_eq(nb_graph_find(g, "grad_w"), dw);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Accessors                                                                */
/* ======================================================================== */

Test(node, accessors_of_an_op_node)
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 3));
    nb_node *b = nb_param(g, NB_DTYPE_F32, NB_SHAPE(3), nb_init_constant(1));
    nb_node *y = nb_add(g, a, b);
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_kind(y), NB_KIND_OP);
    cr_assert_str_eq(nb_node_op_name(y), "add");
    cr_assert_eq(nb_node_dtype(y), NB_DTYPE_F32);
    cr_assert_eq(nb_node_rank(y), 2);
    cr_assert_eq(nb_node_shape(y)[0], 2);
    cr_assert_eq(nb_node_shape(y)[1], 3);
    cr_assert_eq(nb_node_size(y), 6);
    cr_assert_eq(nb_node_arity(y), 2);
    cr_assert_eq(nb_node_input(y, 0), a);
    cr_assert_eq(nb_node_input(y, 1), b);
    cr_assert_null(nb_node_input(y, 2));
    cr_assert_null(nb_node_input(y, -1));
    cr_assert_eq(nb_node_id(a), 0);
    cr_assert_eq(nb_node_id(b), 1);
    cr_assert_eq(nb_node_id(y), 2);
    cr_assert_not(nb_node_is_grad(y));
    cr_assert_null(nb_node_scope(y));
    nb_graph_free(g);
}

Test(node, accessors_of_leaves)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_I32, NB_SHAPE(4, 1, 2, 3));
    nb_node *p = nb_param(g, NB_DTYPE_F64, NB_SHAPE(5), nb_init_constant(0));
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_kind(x), NB_KIND_INPUT);
    cr_assert_str_eq(nb_node_op_name(x), "input");
    cr_assert_eq(nb_node_dtype(x), NB_DTYPE_I32);
    cr_assert_eq(nb_node_rank(x), 4);
    const int64_t *s = nb_node_shape(x);
    cr_assert_eq(s[0], 4);
    cr_assert_eq(s[1], 1);
    cr_assert_eq(s[2], 2);
    cr_assert_eq(s[3], 3);
    cr_assert_eq(nb_node_size(x), 24);
    cr_assert_eq(nb_node_arity(x), 0);
    cr_assert_null(nb_node_input(x, 0));
    cr_assert_eq(nb_node_kind(p), NB_KIND_PARAM);
    cr_assert_eq(nb_node_dtype(p), NB_DTYPE_F64);
    cr_assert_eq(nb_node_size(p), 5);
    nb_graph_free(g);
}

Test(node, shapes_of_unary_reduction_and_matmul_results)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2, 3, 4));
    nb_node *w = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4, 5));
    nb_node *r = nb_relu(g, x);
    nb_node *s = nb_sum_axis(g, x, 1, false);
    nb_node *k = nb_mean_axis(g, x, -1, true);
    nb_node *t = nb_sum(g, x);
    nb_node *m = nb_matmul(g, x, w);
    nb_node *tr = nb_transpose(g, x);
    ASSERT_HEALTHY(g);
    cr_assert_eq(nb_node_arity(r), 1);
    cr_assert_eq(nb_node_input(r, 0), x);
    cr_assert_null(nb_node_input(r, 1));
    cr_assert_eq(nb_node_rank(s), 2);
    cr_assert_eq(nb_node_shape(s)[0], 2);
    cr_assert_eq(nb_node_shape(s)[1], 4);
    cr_assert_eq(nb_node_rank(k), 3);
    cr_assert_eq(nb_node_shape(k)[2], 1);
    cr_assert_eq(nb_node_rank(t), 0);
    cr_assert_eq(nb_node_size(t), 1);
    cr_assert_eq(nb_node_rank(m), 3);
    cr_assert_eq(nb_node_shape(m)[0], 2);
    cr_assert_eq(nb_node_shape(m)[1], 3);
    cr_assert_eq(nb_node_shape(m)[2], 5);
    cr_assert_eq(nb_node_shape(tr)[1], 4);
    cr_assert_eq(nb_node_shape(tr)[2], 3);
    nb_graph_free(g);
}

Test(node, graph_node_count_and_lookup_by_id)
{
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_graph_node_count(g), 0);
    cr_assert_null(nb_graph_node(g, 0));
    nb_node *made[5];
    made[0] = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    for (int i = 1; i < 5; i++) {
        made[i] = nb_exp(g, made[i - 1]);
    }
    cr_assert_eq(nb_graph_node_count(g), 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(nb_graph_node(g, i), made[i]);
        cr_assert_eq(nb_node_id(made[i]), i);
    }
    cr_assert_null(nb_graph_node(g, 5));
    cr_assert_null(nb_graph_node(g, SIZE_MAX));
    cr_assert_eq(nb_graph_node_count(NULL), 0);
    cr_assert_null(nb_graph_node(NULL, 0));
    nb_graph_free(g);
}

Test(node, gradient_nodes_are_flagged)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(1));
    nb_node *y = nb_sum(g, nb_tanh(g, nb_mul(g, w, x)));
    size_t forward = nb_graph_node_count(g);
    nb_node *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    cr_assert_gt(nb_graph_node_count(g), forward);
    cr_assert(nb_node_is_grad(dw));
    for (size_t i = 0; i < forward; i++) {
        cr_assert_not(nb_node_is_grad(nb_graph_node(g, i)), "forward node %zu", i);
    }
    size_t ops = 0;
    for (size_t i = forward; i < nb_graph_node_count(g); i++) {
        nb_node *n = nb_graph_node(g, i);
        if (nb_node_kind(n) == NB_KIND_OP) {
            cr_assert(nb_node_is_grad(n), "gradient node %zu (%s)", i, nb_node_name(n));
            ops++;
        }
    }
    cr_assert_gt(ops, 0);
    nb_graph_free(g);
}

Test(node, accessors_tolerate_null)
{
    cr_assert_str_eq(nb_node_name(NULL), "NULL");
    cr_assert_str_eq(nb_node_op_name(NULL), "NULL");
    cr_assert_eq(nb_node_rank(NULL), 0);
    cr_assert_eq(nb_node_size(NULL), 0);
    cr_assert_eq(nb_node_arity(NULL), 0);
    cr_assert_null(nb_node_input(NULL, 0));
    cr_assert_null(nb_node_data(NULL));
    cr_assert_null(nb_node_scope(NULL));
    cr_assert_not(nb_node_is_grad(NULL));
}

/* ======================================================================== */
/* Scopes                                                                   */
/* ======================================================================== */

Test(scope, nodes_report_their_innermost_scope)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_scope_push(g, "model");
    nb_node *a = nb_exp(g, x);
    nb_scope_push(g, "layer");
    nb_node *b = nb_exp(g, a);
    nb_scope_pop(g);
    nb_node *c = nb_exp(g, b);
    nb_scope_push(g, "layer");
    nb_node *d = nb_exp(g, c);
    nb_scope_pop(g);
    nb_scope_pop(g);
    nb_node *e = nb_exp(g, d);
    ASSERT_HEALTHY(g);
    cr_assert_null(nb_node_scope(x));
    cr_assert_str_eq(nb_node_scope(a), "model");
    cr_assert_str_eq(nb_node_scope(b), "layer");
    cr_assert_str_eq(nb_node_scope(c), "model");
    cr_assert_str_eq(nb_node_scope(d), "layer");
    cr_assert_null(nb_node_scope(e));
    nb_graph_free(g);
}

Test(scope, the_scope_name_is_copied)
{
    nb_graph *g = nb_graph_new();
    char name[8] = "enc";
    nb_scope_push(g, name);
    strcpy(name, "dec");
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(1));
    nb_scope_pop(g);
    cr_assert_str_eq(nb_node_scope(x), "enc");
    nb_graph_free(g);
}

Test(scope, gradient_nodes_live_in_mirror_scopes)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(1));
    nb_scope_push(g, "net");
    nb_scope_push(g, "dense");
    nb_node *h = nb_tanh(g, nb_mul(g, w, x));
    nb_scope_pop(g);
    nb_node *y = nb_sum(g, h);
    nb_scope_pop(g);
    nb_node *dw;
    cr_assert_eq(nb_grad(g, y, 1, &w, &dw), NB_OK, "%s", nb_graph_error(g));
    cr_assert_str_eq(nb_node_scope(h), "dense");
    cr_assert_str_eq(nb_node_scope(y), "net");
    /* dw is mul's gradient rule, applied inside dense */
    cr_assert_str_eq(nb_node_scope(dw), "grad:dense");
    int dense = 0, net = 0;
    for (size_t i = 0; i < nb_graph_node_count(g); i++) {
        nb_node *n = nb_graph_node(g, i);
        const char *s = nb_node_scope(n);
        if (nb_node_is_grad(n) && nb_node_kind(n) == NB_KIND_OP) {
            cr_assert_not_null(s, "gradient node %s", nb_node_name(n));
            cr_assert(strcmp(s, "grad:dense") == 0 || strcmp(s, "grad:net") == 0, "scope %s", s);
            dense += strcmp(s, "grad:dense") == 0;
            net += strcmp(s, "grad:net") == 0;
        }
    }
    cr_assert_gt(dense, 0);
    cr_assert_gt(net, 0);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Memory statistics                                                        */
/* ======================================================================== */

Test(memory, statistics_are_plausible)
{
    nb_memory_stats s;
    memset(&s, 0xff, sizeof s);
    nb_graph_memory(NULL, &s);
    cr_assert_eq(s.nodes, 0);
    cr_assert_eq(s.arena_bytes, 0);

    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(100, 10));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(10, 10), nb_init_he_normal());
    nb_node *y = nb_sum(g, nb_relu(g, nb_matmul(g, x, w)));
    ASSERT_HEALTHY(g);
    nb_graph_memory(g, &s);
    cr_assert_eq(s.nodes, nb_graph_node_count(g));
    cr_assert_eq(s.nodes, 5);
    /* the leaves' values alone are (1000 + 100) * 8 bytes */
    cr_assert_geq(s.arena_bytes, 1100 * sizeof(double));
    cr_assert_lt(s.arena_bytes, 1u << 20);
    cr_assert_eq(s.workspace_bytes, 0, "building allocates no values");
    cr_assert_eq(s.plan_bytes, 0);
    size_t before = s.arena_bytes;

    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    nb_graph_memory(g, &s);
    cr_assert_eq(s.nodes, 5);
    /* matmul's [100,10] value must fit */
    cr_assert_geq(s.workspace_bytes, 1000 * sizeof(double));
    cr_assert_gt(s.plan_bytes, 0);

    nb_exp(g, y);
    nb_graph_memory(g, &s);
    cr_assert_eq(s.nodes, 6);
    cr_assert_geq(s.arena_bytes, before);
    nb_graph_free(g);
}

/* ======================================================================== */
/* Two graphs in two threads                                                */
/* ======================================================================== */

enum { MLP_RUNS = 4, MLP_N = 16, MLP_IN = 8, MLP_HID = 32, MLP_OUT = 4 };
enum { MLP_VALUES = 1 + MLP_IN * MLP_HID + MLP_HID + MLP_HID * MLP_OUT };

/*
 * Builds a small MLP seeded with seed, runs it MLP_RUNS times on inputs that
 * depend on the seed and the run, with an SGD step between runs, and writes
 * the loss and the gradients of every run to out. Returns false on any error.
 */
static bool run_mlp(uint64_t seed, double *out)
{
    nb_graph *g = nb_graph_new();
    nb_graph_seed(g, seed);
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(MLP_N, MLP_IN));
    nb_node *y = nb_input(g, NB_DTYPE_I32, NB_SHAPE(MLP_N));
    nb_node *w1 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MLP_IN, MLP_HID), nb_init_xavier_uniform());
    nb_node *b1 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MLP_HID), nb_init_normal(0, 0.1));
    nb_node *w2 = nb_param(g, NB_DTYPE_F64, NB_SHAPE(MLP_HID, MLP_OUT), nb_init_he_normal());
    nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, w1), b1));
    nb_node *loss = nb_cross_entropy(g, nb_matmul(g, h, w2), y);
    nb_node *wrt[3] = { w1, b1, w2 }, *outs[4];
    outs[0] = loss;
    bool ok = nb_grad(g, loss, 3, wrt, outs + 1) == NB_OK;
    for (int r = 0; ok && r < MLP_RUNS; r++) {
        double xs[MLP_N * MLP_IN];
        int32_t ys[MLP_N];
        for (int i = 0; i < MLP_N * MLP_IN; i++) {
            xs[i] = sin(0.37 * i + 1.3 * r + (double)seed);
        }
        for (int i = 0; i < MLP_N; i++) {
            ys[i] = (int32_t)((i * 7 + r + (int)seed) % MLP_OUT);
        }
        ok = nb_node_write_f64(g, x, xs, MLP_N * MLP_IN) == NB_OK &&
             nb_node_write(g, y, ys, MLP_N) == NB_OK && nb_graph_run(g, 4, outs) == NB_OK;
        double *o = out + (size_t)r * MLP_VALUES;
        for (int k = 0; ok && k < 4; k++) {
            size_t n = nb_node_size(outs[k]);
            ok = nb_node_read_f64(g, outs[k], o, n) == NB_OK;
            o += n;
        }
        /* an SGD step, so each run depends on the ones before */
        for (int k = 0; ok && k < 3; k++) {
            double *p = nb_node_data(wrt[k]);
            const double *d = nb_node_data(outs[k + 1]);
            for (size_t i = 0; i < nb_node_size(wrt[k]); i++) {
                p[i] -= 0.5 * d[i];
            }
        }
    }
    nb_graph_free(g);
    return ok;
}

typedef struct job {
    uint64_t seed;
    int repeats;
    const double *want;
    int mismatches, failures;
} job;

static void *thread_main(void *arg)
{
    job *j = arg;
    double *got = malloc(MLP_RUNS * MLP_VALUES * sizeof *got);
    for (int k = 0; k < j->repeats; k++) {
        if (!run_mlp(j->seed, got)) {
            j->failures++;
        } else if (memcmp(got, j->want, MLP_RUNS * MLP_VALUES * sizeof *got) != 0) {
            j->mismatches++;
        }
    }
    free(got);
    return NULL;
}

Test(threads, two_graphs_in_two_threads_match_running_each_alone,
     .description = "no shared state: results are bit for bit those of a lone run")
{
    static double want[2][MLP_RUNS * MLP_VALUES];
    cr_assert(run_mlp(11, want[0]));
    cr_assert(run_mlp(42, want[1]));
    /* the two models differ, so a mix-up would show */
    cr_assert_neq(memcmp(want[0], want[1], sizeof want[0]), 0);
    cr_assert(isfinite(want[0][0]) && want[0][0] > 0);
    /* a lone run is itself reproducible */
    double *again = malloc(sizeof want[0]);
    cr_assert(run_mlp(11, again));
    cr_assert_eq(memcmp(again, want[0], sizeof want[0]), 0);
    free(again);

    job jobs[2] = {
        { .seed = 11, .repeats = 25, .want = want[0] },
        { .seed = 42, .repeats = 25, .want = want[1] },
    };
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, thread_main, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(jobs[i].failures, 0, "thread %d", i);
        cr_assert_eq(jobs[i].mismatches, 0, "thread %d", i);
    }
}
