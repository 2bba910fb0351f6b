/*
 * fuzz/fuzz.h: what the libFuzzer targets share. Each fuzz_<target>.c defines
 * nbf_<target>(data, size), the whole check for one input, and, unless
 * NBF_NO_MAIN is defined, the LLVMFuzzerTestOneInput that calls it. The
 * regression test (tests/test_internal_fuzz_regressions.c) includes the four
 * files with NBF_NO_MAIN and its own NBF_FAIL, so saved inputs go through
 * exactly the code the fuzzers ran.
 */
#ifndef NABLA_FUZZ_H
#define NABLA_FUZZ_H

#include <nabla.h>

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant: the fuzzer reports it as a crash and saves the input. */
#ifndef NBF_FAIL
#define NBF_FAIL(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "fuzz check failed: " __VA_ARGS__);                                        \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)
#endif

#define NBF_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            NBF_FAIL(__VA_ARGS__);                                                                 \
        }                                                                                          \
    } while (0)

int nbf_parser(const uint8_t *data, size_t size);
int nbf_checkpoint(const uint8_t *data, size_t size);
int nbf_idx(const uint8_t *data, size_t size);
int nbf_csv(const uint8_t *data, size_t size);
int nbf_onnx(const uint8_t *data, size_t size); /* builds with ONNX support only */

/* The most elements a fuzzed dataset may have for nbf_use_dataset to train on it. */
#define NBF_DATASET_MAX 65536

/*
 * Checks what every reader promises about an error: the dataset is empty and
 * the message is a non-empty string that names the input (name).
 */
static inline void nbf_check_failed_dataset(const nb_dataset *ds, nb_status st, const char *err,
                                            const char *name)
{
    NBF_CHECK(st == NB_ERR_FORMAT || st == NB_ERR_NOMEM, "unexpected status %s: %s",
              nb_status_string(st), err);
    NBF_CHECK(ds->rows == 0 && ds->cols == 0 && !ds->x && !ds->y && ds->classes == 0,
              "a failed read left the dataset filled (%zu rows): %s", ds->rows, err);
    NBF_CHECK(strlen(err) > 0 && strstr(err, name), "the message does not name '%s': '%s'", name,
              err);
}

/*
 * Uses a dataset a reader returned as a program would: every feature finite,
 * classes consistent with the labels, then scaling, standardizing, batches in
 * a shuffled order and nb_dataset_load_batch into a graph's inputs.
 */
static inline void nbf_use_dataset(nb_dataset *ds)
{
    NBF_CHECK(ds->rows > 0 && ds->cols > 0 && ds->x && ds->y, "an empty dataset read as NB_OK");
    size_t n = ds->rows * ds->cols;
    for (size_t i = 0; i < n; i++) {
        NBF_CHECK(isfinite(ds->x[i]), "feature %zu is %g", i, (double)ds->x[i]);
    }
    double top = -1;
    bool whole = true;
    for (size_t i = 0; i < ds->rows; i++) {
        NBF_CHECK(isfinite(ds->y[i]), "label %zu is %g", i, ds->y[i]);
        whole &= ds->y[i] >= 0 && ds->y[i] == floor(ds->y[i]) && ds->y[i] < INT32_MAX;
        top = ds->y[i] > top ? ds->y[i] : top;
    }
    NBF_CHECK(ds->classes == (whole ? (int32_t)top + 1 : 0), "classes %d for labels up to %g",
              (int)ds->classes, top);
    if (n > NBF_DATASET_MAX) {
        return;
    }
    nb_dataset_scale(ds, 0.5);
    nb_dataset_standardize(ds, NULL);
    nb_batches b;
    size_t batch = ds->rows < 3 ? ds->rows : 3;
    NBF_CHECK(nb_batches_init(&b, ds->rows, batch, 42) == NB_OK, "nb_batches_init failed");
    nb_batches_shuffle(&b);
    nb_graph *g = nb_graph_new();
    NBF_CHECK(g, "nb_graph_new failed");
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE((int64_t)batch, (int64_t)ds->cols));
    nb_node *yi = nb_input(g, NB_DTYPE_I32, NB_SHAPE((int64_t)batch));
    nb_node *yf = nb_input(g, NB_DTYPE_F32, NB_SHAPE((int64_t)batch));
    NBF_CHECK(nb_graph_status(g) == NB_OK, "%s", nb_graph_error(g));
    for (size_t k = 0; k < nb_batches_count(&b); k++) {
        nb_status s = nb_dataset_load_batch(g, ds, &b, k, x, ds->classes ? yi : yf);
        /* the last batch may be smaller than the inputs: a clean NB_ERR_ARG */
        NBF_CHECK(s == NB_OK || (s == NB_ERR_ARG && nb_batches_size(&b, k) != batch), "%s",
                  nb_graph_error(g));
    }
    nb_graph_free(g);
    nb_batches_free(&b);
}

#endif /* NABLA_FUZZ_H */
