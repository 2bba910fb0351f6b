/*
 * fuzz/fuzz_idx.c: the IDX (MNIST) reader. The input is split in two by a
 * length prefix: bytes 0-1 (little-endian) give the images buffer's length k,
 * the next k bytes are the images "file" and the rest the labels "file". A
 * read that succeeds must give back exactly the bytes after the headers; a
 * read that fails must leave the dataset empty and name the file at fault.
 */
#include "fuzz.h"

#include "../io/io.h"

static uint32_t idx_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int nbf_idx(const uint8_t *data, size_t size)
{
    size_t k = size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
    const uint8_t *images = size >= 2 ? data + 2 : data;
    size_t ilen = size >= 2 ? size - 2 : 0;
    k = k < ilen ? k : ilen;
    const uint8_t *labels = images + k;
    size_t llen = ilen - k;
    ilen = k;

    nb_dataset ds = { .rows = 9, .cols = 9, .classes = 9 }; /* leftovers the reader must clear */
    char err[256] = "";
    nb_status st = nbi_dataset_parse_idx(&ds, images, ilen, labels, llen, "images.idx",
                                         "labels.idx", err, sizeof err);
    if (st != NB_OK) {
        nbf_check_failed_dataset(&ds, st, err,
                                 strstr(err, "labels.idx") ? "labels.idx" : "images.idx");
        return 0;
    }
    /* success: both headers are whole, so these reads are in bounds */
    NBF_CHECK(ilen >= 16 && llen >= 8, "short buffers (%zu, %zu) read as NB_OK", ilen, llen);
    uint32_t n = idx_be32(images + 4), rows = idx_be32(images + 8), cols = idx_be32(images + 12);
    NBF_CHECK(idx_be32(images) == 0x803 && idx_be32(labels) == 0x801, "wrong magic read as NB_OK");
    NBF_CHECK(idx_be32(labels + 4) == n && ds.rows == n && ds.cols == (size_t)rows * cols,
              "dataset %zu x %zu from headers %u x %u x %u", ds.rows, ds.cols, (unsigned)n,
              (unsigned)rows, (unsigned)cols);
    NBF_CHECK(ilen - 16 == ds.rows * ds.cols && llen - 8 == ds.rows,
              "the sizes (%zu, %zu) do not match the headers", ilen, llen);
    int top = 0;
    for (size_t i = 0; i < ds.rows * ds.cols; i++) {
        NBF_CHECK(ds.x[i] == images[16 + i], "pixel %zu is %g, not %u", i, (double)ds.x[i],
                  images[16 + i]);
    }
    for (size_t i = 0; i < ds.rows; i++) {
        NBF_CHECK(ds.y[i] == labels[8 + i], "label %zu is %g, not %u", i, ds.y[i], labels[8 + i]);
        top = labels[8 + i] > top ? labels[8 + i] : top;
    }
    NBF_CHECK(ds.classes == top + 1, "classes %d, largest label %d", (int)ds.classes, top);
    nbf_use_dataset(&ds);
    nb_dataset_free(&ds);
    return 0;
}

#ifndef NBF_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nbf_idx(data, size);
}
#endif
