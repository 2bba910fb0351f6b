/*
 * tests/test_lang_keywords.c: attributes as the op records describe them, and
 * the model language's keyword arguments that read them: binding by position
 * and by name, defaults, every binding error with its message and place, the
 * writer's spelling, DOT labels, and nb_op_attr_get.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <criterion/criterion.h>
#include <math.h>
#include <nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nb_graph *parse(const char *src)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    nb_status s = nb_model_parse(g, src, strlen(src), NULL, &e);
    cr_assert_eq(s, NB_OK, "%d:%d: %s\n--- model:\n%s", e.line, e.column, e.message, src);
    return g;
}

static void parse_error(const char *src, int line, int col, const char *msg)
{
    nb_graph *g = nb_graph_new();
    nb_parse_error e;
    cr_assert_eq(nb_model_parse(g, src, strlen(src), NULL, &e), NB_ERR_FORMAT, "%s", src);
    cr_assert_str_eq(e.message, msg, "--- model:\n%s", src);
    cr_assert_eq(e.line, line, "line %d, want %d", e.line, line);
    cr_assert_eq(e.column, col, "column %d, want %d", e.column, col);
    nb_graph_free(g);
}

/* The values of node name after a run, into out[0..n-1]. */
static void values_of(nb_graph *g, const char *name, double *out, size_t n)
{
    nb_node *y = nb_graph_find(g, name);
    cr_assert_not_null(y, "no node %s", name);
    cr_assert_eq(nb_graph_run(g, 1, &y), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_node_read_f64(g, y, out, n), NB_OK);
}

static const char *const model = "input x[4] = [-2, -0.5, 0.25, 3]\n"
                                 "a = leaky_relu(x)\n"
                                 "b = leaky_relu(x, 0.2)\n"
                                 "c = leaky_relu(x, slope=0.2)\n"
                                 "d = leaky_relu(x, slope=1/5)\n";

Test(keywords, positional_keyword_and_default_bind_the_same_attribute)
{
    nb_graph *g = parse(model);
    double a[4], b[4], c[4], d[4];
    values_of(g, "a", a, 4);
    values_of(g, "b", b, 4);
    values_of(g, "c", c, 4);
    values_of(g, "d", d, 4);
    const double want_a[4] = { -0.02, -0.005, 0.25, 3 }, want_b[4] = { -0.4, -0.1, 0.25, 3 };
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(a[i], want_a[i], 1e-15, "a[%d] = %g", i, a[i]);
        cr_assert_float_eq(b[i], want_b[i], 1e-15, "b[%d] = %g", i, b[i]);
        cr_assert_eq(c[i], b[i]);
        cr_assert_eq(d[i], b[i]);
    }
    nb_graph_free(g);
}

Test(keywords, binding_errors_show_the_call_form)
{
    const char *usage = "leaky_relu(x, slope=0.01)";
    char want[256];
    snprintf(want, sizeof want,
             "leaky_relu has no argument 'slop' (did you mean 'slope'?); it takes %s", usage);
    parse_error("input x[3]\ny = leaky_relu(x, slop=1)\n", 2, 24, want);
    snprintf(want, sizeof want,
             "leaky_relu: a positional argument after a keyword one; leaky_relu "
             "takes %s",
             usage);
    parse_error("input x[3]\ny = leaky_relu(x, slope=1, 2)\n", 2, 28, want);
    parse_error("input x[3]\ny = leaky_relu(x, 1, slope=2)\n", 2, 28,
                "leaky_relu: slope is given twice");
    parse_error("input x[3]\ny = leaky_relu(x, slope=[1])\n", 2, 25,
                "leaky_relu: slope must be a number");
    snprintf(want, sizeof want, "leaky_relu takes %s; got 0 positional arguments", usage);
    parse_error("input x[3]\ny = leaky_relu(slope=2)\n", 2, 5, want);
    snprintf(want, sizeof want, "leaky_relu takes %s; got 3 positional arguments", usage);
    parse_error("input x[3]\ny = leaky_relu(x, 1, 2)\n", 2, 5, want);
    parse_error("input x[3]\ny = leaky_relu(x, slope=)\n", 2, 25,
                "expected an expression, found ')'");
    parse_error("input x[3]\ny = leaky_relu(x, slope=p=1)\n", 2, 26,
                "expected an expression, found '='");
}

Test(keywords, functions_of_the_first_language_take_none)
{
    parse_error("input x[3]\ny = softmax(x, axis=0)\n", 2, 21,
                "softmax takes no keyword arguments ('axis='); it takes softmax(x) or "
                "softmax(x, axis)");
}

Test(keywords, an_equals_sign_outside_a_call_is_still_an_error)
{
    parse_error("input x[3]\ny = (slope=1)\n", 2, 11,
                "expected an operator or the end of the line, found '='");
}

Test(keywords, flag_words_and_true_false_are_reserved)
{
    parse_error("input true[3]\n", 1, 7, "'true' is a keyword or a function; choose another name");
    parse_error("input leaky_relu[3]\n", 1, 7,
                "'leaky_relu' is a keyword or a function; choose another name");
}

/* nb_model_write's text of g, in a malloc'ed string. */
static char *written(nb_graph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(nb_model_write(g, f), NB_OK, "%s", nb_graph_error(g));
    fclose(f);
    return buf;
}

Test(keywords, the_writer_spells_attributes_that_differ_from_their_default)
{
    nb_graph *g = parse(model);
    char expr[128];
    nb_node_expression(nb_graph_find(g, "a"), expr, sizeof expr);
    cr_assert_str_eq(expr, "leaky_relu(x)");
    nb_node_expression(nb_graph_find(g, "c"), expr, sizeof expr);
    cr_assert_str_eq(expr, "leaky_relu(x, slope=0.2)");
    nb_node_expression(nb_graph_find(g, "d"), expr, sizeof expr);
    cr_assert_str_eq(expr, "leaky_relu(x, slope=0.2)");

    /* and the text reads back as the same graph */
    char *text = written(g);
    nb_graph *h = parse(text);
    double d1[4], d2[4];
    values_of(g, "d", d1, 4);
    values_of(h, "d", d2, 4);
    cr_assert_eq(memcmp(d1, d2, sizeof d1), 0);
    free(text);
    nb_graph_free(h);
    nb_graph_free(g);
}

Test(keywords, the_writer_refuses_a_non_finite_attribute)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "x");
    nb_node_set_name(g, nb_leaky_relu(g, x, INFINITY), "y");
    FILE *f = tmpfile();
    cr_assert_eq(nb_model_write(g, f), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "model_write(y[2]): y has the constant inf; the model language has no literal "
                     "for it");
    fclose(f);
    nb_graph_free(g);
}

Test(keywords, dot_labels_show_attributes_off_their_default)
{
    nb_graph *g = parse(model);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(nb_graph_write_dot(g, f, NULL), NB_OK);
    fclose(f);
    cr_assert_not_null(strstr(buf, "a\\nleaky_relu [4]"), "%s", buf);
    cr_assert_not_null(strstr(buf, "c\\nleaky_relu slope=0.2 [4]"), "%s", buf);
    free(buf);
    nb_graph_free(g);
}

Test(keywords, op_attributes_are_public)
{
    size_t leaky = nb_op_count(), sum = nb_op_count();
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        cr_assert(nb_op_info_get(i, &info));
        leaky = strcmp(info.name, "leaky_relu") == 0 ? i : leaky;
        sum = strcmp(info.name, "sum") == 0 ? i : sum;
    }
    cr_assert_lt(leaky, nb_op_count());
    nb_op_info info;
    nb_op_info_get(leaky, &info);
    cr_assert_eq(info.n_attrs, 1);
    nb_op_attr a;
    cr_assert(nb_op_attr_get(leaky, 0, &a));
    cr_assert_str_eq(a.name, "slope");
    cr_assert_str_eq(a.kind, "float");
    cr_assert_eq(a.def, 0.01);
    cr_assert_not(a.required);
    cr_assert_not(nb_op_attr_get(leaky, 1, &a));
    cr_assert_not(nb_op_attr_get(leaky, -1, &a));
    cr_assert_not(nb_op_attr_get(nb_op_count(), 0, &a));
    cr_assert_not(nb_op_attr_get(leaky, 0, NULL));
    nb_op_info_get(sum, &info);
    cr_assert_gt(info.n_attrs, 0);
}

Test(keywords, leaky_relu_refuses_a_nan_slope)
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "x");
    cr_assert_null(nb_leaky_relu(g, x, NAN));
    cr_assert_eq(nb_graph_status(g), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g), "leaky_relu(x[2]): the slope is NaN");
    nb_graph_free(g);
}

Test(keywords, a_flag_by_its_bare_name_may_follow_keywords)
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 7]]\n"
                        "a = sum(x, axes=[1], keepdims)\n"
                        "b = sum(x, keepdims, axes=[1])\n"
                        "c = sum(x, [1], keepdims=true)\n");
    double a[2], b[2], c[2];
    values_of(g, "a", a, 2);
    values_of(g, "b", b, 2);
    values_of(g, "c", c, 2);
    cr_assert_eq(a[0], 6);
    cr_assert_eq(a[1], 16);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_eq(memcmp(a, c, sizeof a), 0);
    cr_assert_eq(nb_node_rank(nb_graph_find(g, "b")), 2);
    nb_graph_free(g);
}

Test(keywords, a_default_with_a_word_is_shown_and_read_by_it)
{
    nb_graph *g = parse("input x[2, 5]\n"
                        "a = slice(x, axis=1, start=1, stop=end)\n"
                        "b = slice(x, axis=1, start=1)\n");
    char ea[128], eb[128];
    nb_node_expression(nb_graph_find(g, "a"), ea, sizeof ea);
    nb_node_expression(nb_graph_find(g, "b"), eb, sizeof eb);
    cr_assert_str_eq(ea, "slice(x, axis=1, start=1)");
    cr_assert_str_eq(ea, eb);
    nb_graph_free(g);
    /* the axis defaults to 0 and always shows */
    g = parse("input x[2, 5]\nc = slice(x, stop=1)\n");
    nb_node_expression(nb_graph_find(g, "c"), ea, sizeof ea);
    cr_assert_str_eq(ea, "slice(x, axis=0, stop=1)");
    nb_graph_free(g);
    parse_error("input x[2, 5]\ny = slice(x, axis=1, stop=last)\n", 2, 27,
                "slice: stop must be a whole number or end");

    size_t slice = nb_op_count();
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        nb_op_info_get(i, &info);
        slice = strcmp(info.name, "slice") == 0 ? i : slice;
    }
    nb_op_attr stop, start;
    cr_assert(nb_op_attr_get(slice, 2, &stop));
    cr_assert(nb_op_attr_get(slice, 1, &start));
    cr_assert_str_eq(stop.name, "stop");
    cr_assert_str_eq(stop.def_word, "end");
    cr_assert_null(start.def_word);
}

Test(keywords, a_reduction_flag_may_be_true_or_false_in_its_place,
     .description = "sum(x, 1, true) is sum(x, 1, keepdims), as every flag may be spelled; "
                    "the first language's reading once refused it")
{
    nb_graph *g = parse("input x[2, 3] = [[1, 2, 3], [4, 5, 6]]\n"
                        "a = sum(x, 1, true)\n"
                        "b = sum(x, 1, keepdims)\n"
                        "c = max(x, 0, false)\n"
                        "d = mean(x, -1, false)\n");
    char ea[64], eb[64], ec[64], ed[64];
    nb_node_expression(nb_graph_find(g, "a"), ea, sizeof ea);
    nb_node_expression(nb_graph_find(g, "b"), eb, sizeof eb);
    nb_node_expression(nb_graph_find(g, "c"), ec, sizeof ec);
    nb_node_expression(nb_graph_find(g, "d"), ed, sizeof ed);
    cr_assert_str_eq(ea, "sum(x, 1, keepdims)");
    cr_assert_str_eq(eb, "sum(x, 1, keepdims)");
    cr_assert_str_eq(ec, "max(x, 0)");
    cr_assert_str_eq(ed, "mean(x, 1)");
    double d[2];
    values_of(g, "d", d, 2);
    cr_assert(d[0] == 2 && d[1] == 5, "%g %g", d[0], d[1]);
    nb_graph_free(g);
    /* the first language's message still answers any other third word */
    parse_error("input x[2, 3] = 1\ny = sum(x, 1, keep)\n", 2, 15,
                "sum: the third argument can only be keepdims");
}
