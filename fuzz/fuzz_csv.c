/*
 * fuzz/fuzz_csv.c: the CSV reader. Each input is read twice: with the label
 * column "label", and with a column named after the header's first field (so
 * the fuzzer need not guess a name to get past the header). A read that fails
 * must leave the dataset empty and name the input and, past the header, the
 * line; one that succeeds must hold only finite numbers, and the same input
 * must read the same way twice.
 */
#include "fuzz.h"

#include "../io/io.h"

static void csv_read(const uint8_t *data, size_t size, const char *label)
{
    nb_dataset ds = { .rows = 9, .cols = 9, .classes = 9 }; /* leftovers the reader must clear */
    char err[256] = "";
    nb_status st =
        nbi_dataset_parse_csv(&ds, (const char *)data, size, "fuzz.csv", label, err, sizeof err);
    if (st != NB_OK) {
        nbf_check_failed_dataset(&ds, st, err, "fuzz.csv");
        return;
    }
    NBF_CHECK(err[0] == '\0', "NB_OK with a message: %s", err);
    /* deterministic: a second read gives the same numbers */
    nb_dataset again;
    NBF_CHECK(nbi_dataset_parse_csv(&again, (const char *)data, size, "fuzz.csv", label, err,
                                    sizeof err) == NB_OK,
              "a second read failed: %s", err);
    NBF_CHECK(again.rows == ds.rows && again.cols == ds.cols && again.classes == ds.classes &&
                  memcmp(again.x, ds.x, ds.rows * ds.cols * sizeof *ds.x) == 0 &&
                  memcmp(again.y, ds.y, ds.rows * sizeof *ds.y) == 0,
              "two reads of one input differ");
    nb_dataset_free(&again);
    nbf_use_dataset(&ds);
    nb_dataset_free(&ds);
}

int nbf_csv(const uint8_t *data, size_t size)
{
    csv_read(data, size, "label");
    /* the header's first field, trimmed as the reader trims it */
    char name[64];
    size_t i = 0, n = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\t')) {
        i++;
    }
    while (i < size && data[i] != ',' && data[i] != '\n' && data[i] != '\0' &&
           n + 1 < sizeof name) {
        name[n++] = (char)data[i++];
    }
    while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t' || name[n - 1] == '\r')) {
        n--;
    }
    name[n] = '\0';
    if (strcmp(name, "label") != 0) {
        csv_read(data, size, name);
    }
    return 0;
}

#ifndef NBF_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nbf_csv(data, size);
}
#endif
