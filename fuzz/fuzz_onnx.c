/*
 * fuzz/fuzz_onnx.c: the ONNX importer. Every input is read as an ONNX file's
 * bytes by nbi_onnx_read_buffer into a fresh graph whose allocator refuses
 * blocks over 16 MB and more than 64 MB in all (the first byte's low bit picks
 * f32 or f64 float nodes). A refusal must have a status, a message that says
 * it comes from the importer, and leave the graph's build status alone or set
 * by a builder. A model that imports is used as a program would: its outputs
 * are run when the graph is small, then it is exported (nb_onnx_write, which
 * maps every op nabla has) and the export imported again: the same number of
 * outputs with the same shapes. Every byte allocated is freed.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include "../io/io.h"

#include <unistd.h>

#define NBF_ONNX_MAX_BLOCK ((size_t)16 << 20)
#define NBF_ONNX_MAX_TOTAL ((size_t)64 << 20)
#define NBF_ONNX_MAX_RUN   (1u << 16) /* values of a graph the check runs */
#define NBF_ONNX_OUTS      16

typedef struct onnx_budget {
    size_t used;
} onnx_budget;

static void *onnx_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    onnx_budget *b = user;
    if (new_size == 0) {
        free(ptr);
        NBF_CHECK(b->used >= old_size, "freeing %zu bytes with %zu in use", old_size, b->used);
        b->used -= old_size;
        return NULL;
    }
    if (new_size > NBF_ONNX_MAX_BLOCK ||
        (new_size > old_size && b->used + (new_size - old_size) > NBF_ONNX_MAX_TOTAL)) {
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (q) {
        NBF_CHECK(b->used >= old_size, "resizing %zu bytes with %zu in use", old_size, b->used);
        b->used = b->used - old_size + new_size;
    }
    return q;
}

static size_t onnx_values(nb_graph *g)
{
    size_t total = 0;
    for (size_t i = 0; i < nb_graph_node_count(g); i++) {
        size_t n = nb_node_size(nb_graph_node(g, i));
        total = total + n < total ? SIZE_MAX : total + n;
    }
    return total;
}

static void onnx_check_error(nb_graph *g, nb_status st)
{
    NBF_CHECK(st != NB_OK, "an error without a status");
    const char *msg = nb_graph_error(g);
    NBF_CHECK(msg && *msg, "an error (%s) without a message", nb_status_string(st));
    NBF_CHECK(st == NB_ERR_NOMEM || strstr(msg, "onnx_read") || nb_graph_status(g) != NB_OK,
              "a refusal that does not say it is the importer's: %s", msg);
}

int nbf_onnx(const uint8_t *data, size_t size)
{
    nb_onnx_read_options o = { .dtype = size && (data[0] & 1) ? NB_DTYPE_F64 : NB_DTYPE_F32 };
    onnx_budget budget = { 0 };
    nb_graph *g = nb_graph_new_with_allocator(onnx_alloc, &budget);
    NBF_CHECK(g, "nb_graph_new failed");
    nb_graph_set_training(g, false);
    nb_node *outs[NBF_ONNX_OUTS];
    size_t n = 0;
    nb_status st = nbi_onnx_read_buffer(g, data, size, &o, outs, NBF_ONNX_OUTS, &n);
    if (st != NB_OK) {
        onnx_check_error(g, st);
        nb_graph_free(g);
        NBF_CHECK(budget.used == 0, "%zu bytes not freed", budget.used);
        return 0;
    }
    NBF_CHECK(nb_graph_status(g) == NB_OK, "NB_OK from the importer on a graph in error");
    NBF_CHECK(n >= 1, "a model without outputs imported");
    size_t m = n < NBF_ONNX_OUTS ? n : NBF_ONNX_OUTS;
    for (size_t k = 0; k < m; k++) {
        NBF_CHECK(outs[k] && nb_node_rank(outs[k]) >= 0 && nb_node_rank(outs[k]) <= NB_MAX_RANK,
                  "output %zu is not a node", k);
    }
    if (onnx_values(g) <= NBF_ONNX_MAX_RUN) {
        /* a run may fail on values (an index out of range), never crash */
        nb_graph_run(g, m, outs);
        char path[64];
        snprintf(path, sizeof path, "/tmp/nbf_onnx_%ld.onnx", (long)getpid());
        st = nb_onnx_write(g, m, outs, path, NULL);
        NBF_CHECK(st == NB_OK || st == NB_ERR_NOMEM, "an imported model does not export: %s",
                  nb_graph_error(g));
        if (st == NB_OK) {
            onnx_budget b2 = { 0 };
            nb_graph *h = nb_graph_new_with_allocator(onnx_alloc, &b2);
            NBF_CHECK(h, "nb_graph_new failed");
            nb_graph_set_training(h, false);
            nb_node *outs2[NBF_ONNX_OUTS];
            size_t n2 = 0;
            st = nb_onnx_read(h, path, &o, outs2, NBF_ONNX_OUTS, &n2);
            NBF_CHECK(st == NB_OK || st == NB_ERR_NOMEM, "nabla's export does not import: %s",
                      nb_graph_error(h));
            if (st == NB_OK) {
                NBF_CHECK(n2 == m, "%zu outputs exported, %zu imported", m, n2);
                for (size_t k = 0; k < m; k++) {
                    NBF_CHECK(nb_node_rank(outs2[k]) == nb_node_rank(outs[k]) &&
                                  nb_node_size(outs2[k]) == nb_node_size(outs[k]),
                              "output %zu changed shape in the round trip", k);
                }
            }
            nb_graph_free(h);
            NBF_CHECK(b2.used == 0, "%zu bytes not freed", b2.used);
        }
        remove(path);
    }
    nb_graph_free(g);
    NBF_CHECK(budget.used == 0, "%zu bytes not freed", budget.used);
    return 0;
}

#ifndef NBF_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nbf_onnx(data, size);
}
#endif
