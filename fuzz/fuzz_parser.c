/*
 * fuzz/fuzz_parser.c: the model language. The input is model text (a first
 * line starting "#f32" asks for an f32 model). It is parsed into a fresh graph
 * whose allocator refuses blocks over 16 MB and more than 64 MB in all, so a
 * declared shape too large for memory must end in a clean NB_ERR_NOMEM. An
 * error must be reported with a status and a message. A model that parses
 * must survive the rest of the pipeline:
 *   - nb_model_write, then parsing the text back (into a new graph, and
 *     into it again after nb_graph_reset), gives the same nodes (op,
 *     name, dtype, shape, scope, inputs, attributes, leaf values to the bit),
 *     and writing that graph gives the same text again;
 *   - nb_depth and nb_depth_path of the last node, over ops and over scopes;
 *   - when the graph is small (NBF_PARSER_MAX_ELEMS values in all), a run of
 *     every node nothing else uses, the gradient of the last node when it is
 *     a float scalar with respect to every float leaf, a run of those, and
 *     for a smaller f64 graph nb_gradcheck (which must restore the leaves);
 *   - nb_node_expression of every op node, and DOT with values and gradients.
 * Every allocation is given back by nb_graph_free (the allocator counts).
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz.h"

#define NBF_PARSER_MAX_ELEMS       (1u << 16)
#define NBF_PARSER_MAX_BLOCK       ((size_t)16 << 20)
#define NBF_PARSER_MAX_TOTAL       ((size_t)64 << 20)
#define NBF_PARSER_MAX_WRT         16
#define NBF_PARSER_GRADCHECK_MAX   64   /* leaf values nb_gradcheck perturbs */
#define NBF_PARSER_GRADCHECK_GRAPH 4096 /* values in the graph it runs 1 + 2 * 64 times */

typedef struct parser_budget {
    size_t used;
} parser_budget;

static void *parser_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    parser_budget *b = user;
    if (new_size == 0) {
        free(ptr);
        NBF_CHECK(b->used >= old_size, "freeing %zu bytes with %zu in use", old_size, b->used);
        b->used -= old_size;
        return NULL;
    }
    if (new_size > NBF_PARSER_MAX_BLOCK ||
        (new_size > old_size && b->used + (new_size - old_size) > NBF_PARSER_MAX_TOTAL)) {
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (q) {
        NBF_CHECK(b->used >= old_size, "resizing %zu bytes with %zu in use", old_size, b->used);
        b->used = b->used - old_size + new_size;
    }
    return q;
}

/* Values the graph's nodes hold in all, saturating. */
static size_t parser_elements(nb_graph *g)
{
    size_t total = 0;
    for (size_t i = 0; i < nb_graph_node_count(g); i++) {
        size_t n = nb_node_size(nb_graph_node(g, i));
        total = n > SIZE_MAX - total ? SIZE_MAX : total + n;
    }
    return total;
}

static size_t parser_leaf_elements(nb_graph *g)
{
    size_t total = 0;
    for (size_t i = 0; i < nb_graph_node_count(g); i++) {
        nb_node *v = nb_graph_node(g, i);
        size_t n = nb_node_kind(v) == NB_KIND_OP ? 0 : nb_node_size(v);
        total = n > SIZE_MAX - total ? SIZE_MAX : total + n;
    }
    return total;
}

static void parser_check_error(nb_status st, const nb_parse_error *err)
{
    NBF_CHECK(st != NB_ERR_IO, "NB_ERR_IO without a file: %s", err->message);
    NBF_CHECK(err->status == st, "the error's status %d is not the returned %d", (int)err->status,
              (int)st);
    NBF_CHECK(err->message[0] != '\0' && memchr(err->message, '\0', sizeof err->message),
              "an error without a message");
    NBF_CHECK(err->line >= 0 && err->column >= 0, "position %d:%d", err->line, err->column);
}

/* Writes g as model text (malloc'd, *len bytes); NULL when nb_model_write refuses. */
static char *parser_write(nb_graph *g, size_t *len, nb_status *st)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    NBF_CHECK(f, "open_memstream failed");
    *st = nb_model_write(g, f);
    fclose(f);
    if (*st != NB_OK) {
        free(text);
        return NULL;
    }
    return text;
}

/*
 * nb_node_expression of v, whole, in a malloc'd buffer. The expression is how
 * attributes are compared: the writer's call form spells every attribute that
 * is not at its default (exactly, for reals), so it must not be cut short: a
 * concat of 256 inputs with 200-byte names puts its axis past 50 kB.
 */
static char *parser_expression(nb_node *v)
{
    for (size_t cap = 512;; cap *= 2) {
        char *buf = malloc(cap);
        NBF_CHECK(buf, "out of memory");
        if (nb_node_expression(v, buf, cap) + 1 < cap) {
            return buf;
        }
        free(buf);
    }
}

/* Node a of the parsed graph and node b of its round trip must be the same node. */
static void parser_same_node(nb_node *a, nb_node *b, const char *text)
{
    const char *sa = nb_node_scope(a), *sb = nb_node_scope(b);
    NBF_CHECK(strcmp(nb_node_op_name(a), nb_node_op_name(b)) == 0 &&
                  strcmp(nb_node_name(a), nb_node_name(b)) == 0 &&
                  nb_node_dtype(a) == nb_node_dtype(b) && nb_node_rank(a) == nb_node_rank(b) &&
                  memcmp(nb_node_shape(a), nb_node_shape(b),
                         (size_t)nb_node_rank(a) * sizeof(int64_t)) == 0 &&
                  nb_node_arity(a) == nb_node_arity(b) && (!sa) == (!sb) &&
                  (!sa || strcmp(sa, sb) == 0),
              "node %zu (%s, %s) changed in the round trip to (%s, %s):\n%s", nb_node_id(a),
              nb_node_name(a), nb_node_op_name(a), nb_node_name(b), nb_node_op_name(b), text);
    for (int k = 0; k < nb_node_arity(a); k++) {
        NBF_CHECK(nb_node_id(nb_node_input(a, k)) == nb_node_id(nb_node_input(b, k)),
                  "input %d of %s changed in the round trip:\n%s", k, nb_node_name(a), text);
    }
    char *ea = parser_expression(a), *eb = parser_expression(b);
    NBF_CHECK(strcmp(ea, eb) == 0, "%s = %s became %s", nb_node_name(a), ea, eb);
    free(ea);
    free(eb);
    if (nb_node_kind(a) != NB_KIND_OP) {
        NBF_CHECK(nb_node_kind(a) == nb_node_kind(b) &&
                      memcmp(nb_node_data(a), nb_node_data(b),
                             nb_node_size(a) * nb_dtype_size(nb_node_dtype(a))) == 0,
                  "the values of %s changed in the round trip:\n%s", nb_node_name(a), text);
    }
}

/*
 * Parse, write, parse the text back and write again: node by node the same
 * graph (ops, names, shapes, scopes, inputs, attributes, leaf values to the
 * bit), and the same text.
 */
static void parser_round_trip(nb_graph *g)
{
    size_t len = 0, len2 = 0;
    nb_status st;
    char *text = parser_write(g, &len, &st);
    if (!text) {
        /* refusals the writer documents: names it cannot write (generated "mul_1" taken by
         * the user), values without a literal (an init that overflowed), or no memory */
        NBF_CHECK(st == NB_ERR_ARG || st == NB_ERR_NOMEM, "nb_model_write: %s: %s",
                  nb_status_string(st), nb_graph_error(g));
        return;
    }
    parser_budget budget = { 0 };
    nb_graph *h = nb_graph_new_with_allocator(parser_alloc, &budget);
    NBF_CHECK(h, "nb_graph_new failed");
    /* the writer's first line names the dtype to read the text back with */
    const char *nl = memchr(text, '\n', len);
    NBF_CHECK(nl && nl - text >= 3 &&
                  (memcmp(nl - 3, "f32", 3) == 0 || memcmp(nl - 3, "f64", 3) == 0),
              "the first line names no dtype:\n%s", text);
    nb_model_options opts = { .dtype =
                                  memcmp(nl - 3, "f32", 3) == 0 ? NB_DTYPE_F32 : NB_DTYPE_F64 };
    nb_parse_error err;
    st = nb_model_parse(h, text, len, &opts, &err);
    NBF_CHECK(st == NB_OK || st == NB_ERR_NOMEM, "the written model does not parse: %d:%d: %s\n%s",
              err.line, err.column, err.message, text);
    if (st == NB_OK) {
        NBF_CHECK(nb_graph_node_count(h) == nb_graph_node_count(g),
                  "%zu nodes, %zu after the round trip:\n%s", nb_graph_node_count(g),
                  nb_graph_node_count(h), text);
        for (size_t i = 0; i < nb_graph_node_count(g); i++) {
            parser_same_node(nb_graph_node(g, i), nb_graph_node(h, i), text);
        }
        char *text2 = parser_write(h, &len2, &st);
        NBF_CHECK(text2, "the parsed text cannot be written: %s", nb_graph_error(h));
        NBF_CHECK(len == len2 && memcmp(text, text2, len) == 0,
                  "the round trip changed the text:\n%s\n----\n%s", text, text2);
        free(text2);
        /* a reset graph, in the memory of the last one, parses the text into the same nodes */
        nb_graph_reset(h);
        st = nb_model_parse(h, text, len, &opts, &err);
        NBF_CHECK(st == NB_OK || st == NB_ERR_NOMEM, "the text does not parse after a reset: %s",
                  err.message);
        NBF_CHECK(st != NB_OK || nb_graph_node_count(h) == nb_graph_node_count(g),
                  "%zu nodes after a reset, %zu before", nb_graph_node_count(h),
                  nb_graph_node_count(g));
        for (size_t i = 0; st == NB_OK && i < nb_graph_node_count(g); i++) {
            parser_same_node(nb_graph_node(g, i), nb_graph_node(h, i), text);
        }
    }
    nb_graph_free(h);
    NBF_CHECK(budget.used == 0, "%zu bytes not freed", budget.used);
    free(text);
}

static void parser_dot(nb_graph *g, nb_node *last)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    NBF_CHECK(f, "open_memstream failed");
    nb_dot_options o = nb_dot_defaults();
    o.values = true;
    o.grad = true;
    o.highlight = last;
    o.depth_level = NB_DEPTH_SCOPES;
    nb_status st = nb_graph_write_dot(g, f, &o);
    fclose(f);
    NBF_CHECK(st == NB_OK || st == NB_ERR_NOMEM, "nb_graph_write_dot: %s", nb_graph_error(g));
    free(text);
}

/*
 * nb_gradcheck of small f64 graphs with the gradients already built (so it
 * adds no node): it runs the graph 1 + 2 * size times per leaf and must put
 * every leaf value back.
 */
static void parser_gradcheck(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt,
                             nb_node *const *grads)
{
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        size += nb_node_size(wrt[i]);
    }
    if (nb_node_dtype(y) != NB_DTYPE_F64 || size > NBF_PARSER_GRADCHECK_MAX ||
        parser_elements(g) > NBF_PARSER_GRADCHECK_GRAPH) {
        return;
    }
    double before[NBF_PARSER_GRADCHECK_MAX], *at = before;
    for (size_t i = 0; i < n; i++) {
        memcpy(at, nb_node_data(wrt[i]), nb_node_size(wrt[i]) * sizeof *at);
        at += nb_node_size(wrt[i]);
    }
    nb_gradcheck_options o = nb_gradcheck_defaults();
    o.grads = grads;
    nb_gradcheck_result res[NBF_PARSER_MAX_WRT];
    size_t nodes = nb_graph_node_count(g);
    nb_status st = nb_gradcheck(g, y, n, wrt, &o, res);
    NBF_CHECK(st == NB_OK || st == NB_ERR_VALUE || st == NB_ERR_NOMEM, "nb_gradcheck: %s: %s",
              nb_status_string(st), nb_graph_error(g));
    NBF_CHECK(nb_graph_node_count(g) == nodes, "nb_gradcheck with grads added nodes");
    at = before;
    for (size_t i = 0; i < n; i++) {
        NBF_CHECK(memcmp(at, nb_node_data(wrt[i]), nb_node_size(wrt[i]) * sizeof *at) == 0,
                  "nb_gradcheck did not restore %s", nb_node_name(wrt[i]));
        at += nb_node_size(wrt[i]);
    }
}

/* nb_node_expression of every op node, whole and truncated. */
static void parser_expressions(nb_graph *g)
{
    for (size_t i = 0; i < nb_graph_node_count(g); i++) {
        nb_node *v = nb_graph_node(g, i);
        char small[8], big[600];
        size_t a = nb_node_expression(v, small, sizeof small);
        size_t b = nb_node_expression(v, big, sizeof big);
        NBF_CHECK(a == strlen(small) && a < sizeof small && b == strlen(big) && b < sizeof big &&
                      strncmp(small, big, a) == 0,
                  "nb_node_expression: '%s' and '%s'", small, big);
        NBF_CHECK((b == 0) == (nb_node_kind(v) != NB_KIND_OP), "the expression of %s is '%s'",
                  nb_node_name(v), big);
    }
}

/* Runs every node nothing else uses; returns the run's status. */
static nb_status parser_run_sinks(nb_graph *g)
{
    size_t n = nb_graph_node_count(g);
    bool *used = calloc(n, sizeof *used);
    nb_node **outs = malloc(n * sizeof *outs);
    NBF_CHECK(used && outs, "out of memory");
    for (size_t i = 0; i < n; i++) {
        nb_node *v = nb_graph_node(g, i);
        for (int k = 0; k < nb_node_arity(v); k++) {
            used[nb_node_id(nb_node_input(v, k))] = true;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!used[i]) {
            outs[m++] = nb_graph_node(g, i);
        }
    }
    nb_status st = nb_graph_run(g, m, outs);
    NBF_CHECK(st == NB_OK || st == NB_ERR_VALUE || st == NB_ERR_NOMEM, "nb_graph_run: %s: %s",
              nb_status_string(st), nb_graph_error(g));
    for (size_t i = 0; i < m && st == NB_OK; i++) {
        NBF_CHECK(nb_node_data(outs[i]), "output %s has no value", nb_node_name(outs[i]));
    }
    free(used);
    free(outs);
    return st;
}

int nbf_parser(const uint8_t *data, size_t size)
{
    nb_model_options opts = { .dtype = NB_DTYPE_F64 };
    if (size >= 4 && memcmp(data, "#f32", 4) == 0) {
        opts.dtype = NB_DTYPE_F32;
    }
    parser_budget budget = { 0 };
    nb_graph *g = nb_graph_new_with_allocator(parser_alloc, &budget);
    NBF_CHECK(g, "nb_graph_new failed");
    nb_parse_error err;
    nb_status st = nb_model_parse(g, (const char *)data, size, &opts, &err);
    if (st != NB_OK) {
        parser_check_error(st, &err);
        nb_graph_free(g);
        NBF_CHECK(budget.used == 0, "%zu bytes not freed", budget.used);
        return 0;
    }
    NBF_CHECK(nb_graph_status(g) == NB_OK, "NB_OK from the parser on a graph in error");
    size_t count = nb_graph_node_count(g);
    if (parser_leaf_elements(g) <= NBF_PARSER_MAX_ELEMS) {
        parser_round_trip(g);
    }
    if (count == 0) {
        nb_graph_free(g);
        NBF_CHECK(budget.used == 0, "%zu bytes not freed", budget.used);
        return 0;
    }
    nb_node *last = nb_graph_node(g, count - 1);
    for (int level = NB_DEPTH_OPS; level <= 2; level++) {
        int d = nb_depth(g, last, level);
        nb_node *path[4];
        size_t len = nb_depth_path(g, last, level, path, 4);
        NBF_CHECK(d >= 0 || strstr(nb_graph_error(g), "memory"), "nb_depth: %s", nb_graph_error(g));
        NBF_CHECK(d < 0 || level > 0 || len == (size_t)d + 1, "depth %d but a path of %zu nodes", d,
                  len);
        NBF_CHECK(d <= (int)count, "depth %d in a graph of %zu nodes", d, count);
    }
    if (parser_elements(g) <= NBF_PARSER_MAX_ELEMS) {
        parser_run_sinks(g);
    }
    nb_dtype dt = nb_node_dtype(last);
    if (nb_node_rank(last) == 0 && dt != NB_DTYPE_I32) {
        nb_node *wrt[NBF_PARSER_MAX_WRT], *grads[NBF_PARSER_MAX_WRT];
        size_t n = 0;
        for (size_t i = 0; i < count && n < NBF_PARSER_MAX_WRT; i++) {
            nb_node *v = nb_graph_node(g, i);
            if (nb_node_kind(v) != NB_KIND_OP && nb_node_dtype(v) == dt) {
                wrt[n++] = v;
            }
        }
        if (n > 0) {
            st = nb_grad(g, last, n, wrt, grads);
            NBF_CHECK(st == NB_OK || st == NB_ERR_NOMEM, "nb_grad: %s", nb_graph_error(g));
            if (st == NB_OK && parser_elements(g) <= NBF_PARSER_MAX_ELEMS) {
                st = nb_graph_run(g, n, grads);
                NBF_CHECK(st == NB_OK || st == NB_ERR_VALUE || st == NB_ERR_NOMEM,
                          "running the gradients: %s: %s", nb_status_string(st), nb_graph_error(g));
                if (st == NB_OK) {
                    for (size_t i = 0; i < n; i++) {
                        NBF_CHECK(nb_node_data(grads[i]), "gradient %zu has no value", i);
                    }
                    parser_gradcheck(g, last, n, wrt, grads);
                }
            }
        }
    }
    parser_expressions(g);
    parser_dot(g, last);
    nb_graph_free(g);
    NBF_CHECK(budget.used == 0, "%zu bytes not freed", budget.used);
    return 0;
}

#ifndef NBF_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nbf_parser(data, size);
}
#endif
