/*
 * tests/test_data.c: the dataset readers (IDX and CSV), feature scaling and
 * standardization, seeded mini-batches and copying a batch into a graph's
 * inputs. Real files come from data/ (data/README.md); malformed files are
 * written to a temporary directory at test time. Every error asserts the
 * status, the exact message (naming the file, and the line for CSV) and that
 * the dataset is left empty.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <nabla.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NB_SOURCE_DIR
#define NB_SOURCE_DIR "." /* meson defines it; this only helps a lone syntax check */
#endif
#define DATA NB_SOURCE_DIR "/data/"

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

/* A temporary directory, made per test and removed (with its files) at the end. */
static char scratch[64];

static void scratch_make(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/nb_test_data_XXXXXX");
    cr_assert_not_null(mkdtemp(scratch), "mkdtemp: %s", strerror(errno));
}

static void scratch_remove(void)
{
    DIR *d = opendir(scratch);
    if (!d) {
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(scratch);
}

/* Writes len bytes to scratch/name and returns the path in buf. */
static const char *put_file(char *buf, size_t cap, const char *name, const void *bytes, size_t len)
{
    snprintf(buf, cap, "%s/%s", scratch, name);
    FILE *f = fopen(buf, "wb");
    cr_assert_not_null(f, "%s: %s", buf, strerror(errno));
    cr_assert_eq(fwrite(bytes, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

static const char *put_text(char *buf, size_t cap, const char *name, const char *text)
{
    return put_file(buf, cap, name, text, strlen(text));
}

/* A dataset holding leftovers that a reader must clear ("nothing half-filled"). */
static nb_dataset dirty(void)
{
    return (nb_dataset){ .rows = 7, .cols = 3, .x = NULL, .y = NULL, .classes = 2 };
}

#define ASSERT_EMPTY(ds)                                                                           \
    do {                                                                                           \
        cr_assert_eq((ds).rows, 0);                                                                \
        cr_assert_eq((ds).cols, 0);                                                                \
        cr_assert_null((ds).x);                                                                    \
        cr_assert_null((ds).y);                                                                    \
        cr_assert_eq((ds).classes, 0);                                                             \
    } while (0)

/* Formats an expected message. */
static const char *fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, cap, f, ap);
    va_end(ap);
    return buf;
}

/* ======================================================================== */
/* IDX                                                                      */
/* ======================================================================== */

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/*
 * A small IDX pair: n images of r x c pixels, pixel (i, k) = (7 i + k) % 256,
 * and labels[i]. img and lab must hold 16 + n r c and 8 + n bytes.
 */
static void make_idx(unsigned char *img, unsigned char *lab, uint32_t n, uint32_t r, uint32_t c,
                     const unsigned char *labels)
{
    be32(img, 0x00000803);
    be32(img + 4, n);
    be32(img + 8, r);
    be32(img + 12, c);
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < r * c; k++) {
            img[16 + i * r * c + k] = (unsigned char)((7 * i + k) % 256);
        }
    }
    be32(lab, 0x00000801);
    be32(lab + 4, n);
    memcpy(lab + 8, labels, n);
}

/*
 * Provenance of the reference values: a few lines of Python over the files,
 *   d = open(path, 'rb').read(); struct.unpack('>IIII', d[:16]); d[16 + k]; sum(d[16:800])
 * MNIST train: header (2051, 8000, 28, 28); labels start 9, 3, 4, 2, 1, 0, 7,
 * 9, 1, 8 and end with 5; image 0 has its first nonzero pixel at 234 (81),
 * pixel 237 is 255, and its pixels sum to 22024; the last image sums to 16737.
 * Test: (2051, 2000, 28, 28), labels start 6, 9, 9, 8, 3; image 0 sums to 31429.
 */
Test(idx, reads_the_mnist_subset_train_split)
{
    nb_dataset ds = dirty();
    char err[256] = "untouched";
    cr_assert_eq(nb_dataset_read_idx(&ds, DATA "mnist-subset-train-images-idx3-ubyte",
                                     DATA "mnist-subset-train-labels-idx1-ubyte", err, sizeof err),
                 NB_OK, "%s", err);
    cr_assert_eq(ds.rows, 8000);
    cr_assert_eq(ds.cols, 784);
    cr_assert_eq(ds.classes, 10);
    const double first[10] = { 9, 3, 4, 2, 1, 0, 7, 9, 1, 8 };
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(ds.y[i], first[i], "label %d", i);
    }
    cr_assert_eq(ds.y[7999], 5);
    for (int k = 0; k < 234; k++) {
        cr_assert_eq(ds.x[k], 0.0f, "pixel %d", k);
    }
    cr_assert_eq(ds.x[234], 81.0f);
    cr_assert_eq(ds.x[237], 255.0f);
    double sum0 = 0, sum_last = 0;
    for (int k = 0; k < 784; k++) {
        sum0 += ds.x[k];
        sum_last += ds.x[7999 * 784 + k];
    }
    cr_assert_eq(sum0, 22024);
    cr_assert_eq(sum_last, 16737);
    for (size_t i = 0; i < ds.rows * ds.cols; i++) {
        cr_assert(ds.x[i] >= 0 && ds.x[i] <= 255 && ds.x[i] == floorf(ds.x[i]));
    }
    nb_dataset_free(&ds);
    ASSERT_EMPTY(ds);
}

Test(idx, reads_the_mnist_subset_test_split)
{
    nb_dataset ds;
    char err[256];
    cr_assert_eq(nb_dataset_read_idx(&ds, DATA "mnist-subset-test-images-idx3-ubyte",
                                     DATA "mnist-subset-test-labels-idx1-ubyte", err, sizeof err),
                 NB_OK, "%s", err);
    cr_assert_eq(ds.rows, 2000);
    cr_assert_eq(ds.cols, 784);
    cr_assert_eq(ds.classes, 10);
    const double first[5] = { 6, 9, 9, 8, 3 };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(ds.y[i], first[i]);
    }
    double sum0 = 0;
    for (int k = 0; k < 784; k++) {
        sum0 += ds.x[k];
    }
    cr_assert_eq(sum0, 31429);
    nb_dataset_free(&ds);
}

Test(idx, small_file_read_exactly, .description = "3 images of 2x3, labels 2 0 4: classes 5")
{
    scratch_make();
    unsigned char img[16 + 18], lab[8 + 3];
    make_idx(img, lab, 3, 2, 3, (const unsigned char[]){ 2, 0, 4 });
    char ip[256], lp[256], err[256];
    put_file(ip, sizeof ip, "i", img, sizeof img);
    put_file(lp, sizeof lp, "l", lab, sizeof lab);
    nb_dataset ds;
    cr_assert_eq(nb_dataset_read_idx(&ds, ip, lp, err, sizeof err), NB_OK, "%s", err);
    cr_assert_eq(ds.rows, 3);
    cr_assert_eq(ds.cols, 6);
    cr_assert_eq(ds.classes, 5, "1 + the largest label, even when some are unused");
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 6; k++) {
            cr_assert_eq(ds.x[i * 6 + k], (float)((7 * i + k) % 256));
        }
    }
    cr_assert_eq(ds.y[0], 2);
    cr_assert_eq(ds.y[1], 0);
    cr_assert_eq(ds.y[2], 4);
    nb_dataset_free(&ds);
    scratch_remove();
}

/* Reads (ip, lp), expecting code and exactly msg, and an empty dataset. */
static void expect_idx_error(const char *ip, const char *lp, nb_status code, const char *msg)
{
    nb_dataset ds = dirty();
    char err[512] = "";
    nb_status st = nb_dataset_read_idx(&ds, ip, lp, err, sizeof err);
    cr_assert_eq(st, code, "status %d (%s): %s", (int)st, nb_status_string(st), err);
    cr_assert_str_eq(err, msg);
    ASSERT_EMPTY(ds);
}

/* A good pair in scratch: 2 images of 2x2 (img: 24 bytes, lab: 10 bytes). */
typedef struct idx_pair {
    unsigned char img[16 + 8], lab[8 + 2];
    char ip[256], lp[256];
} idx_pair;

static void good_pair(idx_pair *p)
{
    make_idx(p->img, p->lab, 2, 2, 2, (const unsigned char[]){ 1, 0 });
    put_file(p->ip, sizeof p->ip, "images", p->img, sizeof p->img);
    put_file(p->lp, sizeof p->lp, "labels", p->lab, sizeof p->lab);
}

Test(idx, missing_files_are_io_errors_naming_the_file)
{
    scratch_make();
    idx_pair p;
    good_pair(&p);
    char gone[256], msg[512];
    snprintf(gone, sizeof gone, "%s/no-such-file", scratch);
    expect_idx_error(gone, p.lp, NB_ERR_IO,
                     fmt(msg, sizeof msg, "%s: cannot open: %s", gone, strerror(ENOENT)));
    expect_idx_error(p.ip, gone, NB_ERR_IO,
                     fmt(msg, sizeof msg, "%s: cannot open: %s", gone, strerror(ENOENT)));
    scratch_remove();
}

Test(idx, wrong_magic_numbers)
{
    scratch_make();
    idx_pair p;
    good_pair(&p);
    char msg[512];
    /* the real files swapped: each has the other's magic number */
    const char *mi = DATA "mnist-subset-test-images-idx3-ubyte";
    const char *ml = DATA "mnist-subset-test-labels-idx1-ubyte";
    expect_idx_error(ml, mi, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg,
                         "%s: wrong magic number 0x00000801 (expected 0x00000803 for IDX images)",
                         ml));
    expect_idx_error(mi, mi, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg,
                         "%s: wrong magic number 0x00000803 (expected 0x00000801 for IDX labels)",
                         mi));
    be32(p.lab, 0x00000803);
    put_file(p.lp, sizeof p.lp, "labels", p.lab, sizeof p.lab);
    expect_idx_error(p.ip, p.lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg,
                         "%s: wrong magic number 0x00000803 (expected 0x00000801 for IDX labels)",
                         p.lp));
    be32(p.img, 0x89504e47); /* a PNG file */
    put_file(p.ip, sizeof p.ip, "images", p.img, sizeof p.img);
    expect_idx_error(p.ip, p.lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg,
                         "%s: wrong magic number 0x89504e47 (expected 0x00000803 for IDX images)",
                         p.ip));
    scratch_remove();
}

Test(idx, truncated_headers)
{
    scratch_make();
    idx_pair p;
    good_pair(&p);
    char msg[512], ip[256], lp[256];
    put_file(ip, sizeof ip, "short-images", p.img, 12);
    expect_idx_error(
        ip, p.lp, NB_ERR_FORMAT,
        fmt(msg, sizeof msg, "%s: truncated: 12 bytes, shorter than the 16-byte header", ip));
    put_file(ip, sizeof ip, "empty-images", "", 0);
    expect_idx_error(
        ip, p.lp, NB_ERR_FORMAT,
        fmt(msg, sizeof msg, "%s: truncated: 0 bytes, shorter than the 16-byte header", ip));
    put_file(lp, sizeof lp, "short-labels", p.lab, 7);
    expect_idx_error(
        p.ip, lp, NB_ERR_FORMAT,
        fmt(msg, sizeof msg, "%s: truncated: 7 bytes, shorter than the 8-byte header", lp));
    scratch_remove();
}

Test(idx, truncated_data_and_trailing_bytes)
{
    scratch_make();
    idx_pair p;
    good_pair(&p);
    char msg[512], ip[256], lp[256];
    put_file(ip, sizeof ip, "cut-images", p.img, sizeof p.img - 1);
    expect_idx_error(ip, p.lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg, "%s: truncated: 7 bytes of data, expected 8", ip));
    put_file(lp, sizeof lp, "cut-labels", p.lab, sizeof p.lab - 1);
    expect_idx_error(p.ip, lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg, "%s: truncated: 1 bytes of data, expected 2", lp));

    unsigned char longer[sizeof p.img + 3] = { 0 };
    memcpy(longer, p.img, sizeof p.img);
    put_file(ip, sizeof ip, "long-images", longer, sizeof longer);
    expect_idx_error(ip, p.lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg, "%s: 11 bytes of data, expected 8 (trailing bytes)", ip));
    unsigned char longl[sizeof p.lab + 1] = { 0 };
    memcpy(longl, p.lab, sizeof p.lab);
    put_file(lp, sizeof lp, "long-labels", longl, sizeof longl);
    expect_idx_error(p.ip, lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg, "%s: 3 bytes of data, expected 2 (trailing bytes)", lp));
    scratch_remove();
}

Test(idx, huge_dimensions_are_caught_before_any_allocation,
     .description = "65536^3 pixels announced in a 16-byte file")
{
    scratch_make();
    unsigned char img[16];
    be32(img, 0x00000803);
    be32(img + 4, 65536);
    be32(img + 8, 65536);
    be32(img + 12, 65536);
    idx_pair p;
    good_pair(&p);
    char ip[256], msg[512];
    put_file(ip, sizeof ip, "huge", img, sizeof img);
    expect_idx_error(
        ip, p.lp, NB_ERR_FORMAT,
        fmt(msg, sizeof msg, "%s: truncated: 0 bytes of data, expected 281474976710656", ip));
    scratch_remove();
}

Test(idx, image_and_label_counts_differ)
{
    scratch_make();
    idx_pair p;
    good_pair(&p);
    unsigned char img[16 + 12], lab[8 + 3];
    make_idx(img, lab, 3, 2, 2, (const unsigned char[]){ 0, 1, 2 });
    char ip[256], msg[512];
    put_file(ip, sizeof ip, "three-images", img, sizeof img);
    expect_idx_error(ip, p.lp, NB_ERR_FORMAT,
                     fmt(msg, sizeof msg, "%s has 3 images but %s has 2 labels", ip, p.lp));
    scratch_remove();
}

Test(idx, zero_dimensions)
{
    scratch_make();
    idx_pair p;
    good_pair(&p);
    char ip[256], lp[256], msg[512];
    const unsigned char none[1] = { 0 };
    for (int d = 1; d <= 3; d++) {
        unsigned char img[16], lab[8];
        make_idx(img, lab, 0, 2, 2, none);
        be32(img + 4, d == 1 ? 0 : 2);
        be32(img + 8, d == 2 ? 0 : 2);
        be32(img + 12, d == 3 ? 0 : 2);
        put_file(ip, sizeof ip, "zero", img, sizeof img);
        expect_idx_error(ip, p.lp, NB_ERR_FORMAT,
                         fmt(msg, sizeof msg, "%s: dimension %d is 0", ip, d));
    }
    unsigned char img[16], lab[8];
    make_idx(img, lab, 0, 2, 2, none);
    put_file(ip, sizeof ip, "no-images", img, sizeof img);
    put_file(lp, sizeof lp, "no-labels", lab, sizeof lab);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, fmt(msg, sizeof msg, "%s: dimension 1 is 0", ip));
    expect_idx_error(p.ip, lp, NB_ERR_FORMAT, fmt(msg, sizeof msg, "%s: dimension 1 is 0", lp));
    scratch_remove();
}

Test(idx, null_arguments_and_null_err_buffer)
{
    nb_dataset ds = dirty();
    char err[64];
    cr_assert_eq(nb_dataset_read_idx(&ds, NULL, "x", err, sizeof err), NB_ERR_ARG);
    cr_assert_str_eq(err, "read_idx: NULL argument");
    cr_assert_eq(nb_dataset_read_idx(NULL, "x", "y", NULL, 0), NB_ERR_ARG);
    /* err may be NULL: the status alone still reports the problem */
    cr_assert_eq(nb_dataset_read_idx(&ds, "/nonexistent/i", "/nonexistent/l", NULL, 0), NB_ERR_IO);
    ASSERT_EMPTY(ds);
    /* a small buffer gets a truncated, terminated message */
    cr_assert_eq(nb_dataset_read_idx(&ds, "/nonexistent/i", "/nonexistent/l", err, 8), NB_ERR_IO);
    cr_assert_str_eq(err, "/nonexi");
}

/* ======================================================================== */
/* CSV                                                                      */
/* ======================================================================== */

/*
 * Reference values from Python's csv module over the files: digits-train.csv
 * has 1437 rows, 65 columns (label last), first row 0,0,8,16,... label 3, last
 * row 0,0,2,... label 8; breast_cancer-train.csv has 455 rows, 31 columns,
 * first row 15.1,22.02,97.26,712.8,... ending 0.07873 with label 0, last row
 * 11.84,18.7,77.93,... label 0.
 */
Test(csv, reads_digits_train)
{
    nb_dataset ds = dirty();
    char err[256];
    cr_assert_eq(nb_dataset_read_csv(&ds, DATA "digits-train.csv", "label", err, sizeof err), NB_OK,
                 "%s", err);
    cr_assert_eq(ds.rows, 1437);
    cr_assert_eq(ds.cols, 64);
    cr_assert_eq(ds.classes, 10);
    cr_assert_eq(ds.x[0], 0.0f);
    cr_assert_eq(ds.x[2], 8.0f);
    cr_assert_eq(ds.x[3], 16.0f);
    cr_assert_eq(ds.y[0], 3);
    cr_assert_eq(ds.x[1436 * 64 + 2], 2.0f);
    cr_assert_eq(ds.y[1436], 8);
    for (size_t i = 0; i < ds.rows * ds.cols; i++) {
        cr_assert(ds.x[i] >= 0 && ds.x[i] <= 16);
    }
    nb_dataset_free(&ds);
}

Test(csv, reads_breast_cancer_train)
{
    nb_dataset ds;
    char err[256];
    cr_assert_eq(nb_dataset_read_csv(&ds, DATA "breast_cancer-train.csv", "label", err, sizeof err),
                 NB_OK, "%s", err);
    cr_assert_eq(ds.rows, 455);
    cr_assert_eq(ds.cols, 30);
    cr_assert_eq(ds.classes, 2);
    cr_assert_eq(ds.x[0], 15.1f);
    cr_assert_eq(ds.x[1], 22.02f);
    cr_assert_eq(ds.x[3], 712.8f);
    cr_assert_eq(ds.x[29], 0.07873f);
    cr_assert_eq(ds.y[0], 0);
    cr_assert_eq(ds.x[454 * 30 + 0], 11.84f);
    cr_assert_eq(ds.x[454 * 30 + 2], 77.93f);
    cr_assert_eq(ds.y[454], 0);
    nb_dataset_free(&ds);
}

/* Reads text as a CSV file named name, expecting success. */
static nb_dataset csv_ok(const char *name, const char *text, const char *label)
{
    char path[256], err[512] = "";
    put_text(path, sizeof path, name, text);
    nb_dataset ds = dirty();
    nb_status st = nb_dataset_read_csv(&ds, path, label, err, sizeof err);
    cr_assert_eq(st, NB_OK, "status %d: %s", (int)st, err);
    return ds;
}

/* Writes bytes as scratch/name and reads it, expecting code and "<path><msg>". */
static void csv_bytes_error(const char *name, const void *bytes, size_t len, const char *label,
                            nb_status code, const char *msg)
{
    char path[256], want[512], err[512] = "";
    put_file(path, sizeof path, name, bytes, len);
    nb_dataset ds = dirty();
    nb_status st = nb_dataset_read_csv(&ds, path, label, err, sizeof err);
    cr_assert_eq(st, code, "status %d (%s): %s", (int)st, nb_status_string(st), err);
    cr_assert_str_eq(err, fmt(want, sizeof want, "%s%s", path, msg));
    ASSERT_EMPTY(ds);
}

static void csv_error(const char *name, const char *text, const char *label, const char *msg)
{
    csv_bytes_error(name, text, strlen(text), label, NB_ERR_FORMAT, msg);
}

Test(csv, small_file_read_exactly, .init = scratch_make, .fini = scratch_remove)
{
    nb_dataset ds = csv_ok("t.csv", "a,b,label\n1,2.5,0\n-3,4e2,2\n", "label");
    cr_assert_eq(ds.rows, 2);
    cr_assert_eq(ds.cols, 2);
    cr_assert_eq(ds.classes, 3);
    const float x[4] = { 1, 2.5f, -3, 400 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ds.x[i], x[i]);
    }
    cr_assert_eq(ds.y[0], 0);
    cr_assert_eq(ds.y[1], 2);
    nb_dataset_free(&ds);
}

Test(csv, label_column_anywhere, .init = scratch_make, .fini = scratch_remove)
{
    nb_dataset ds = csv_ok("first.csv", "label,a,b\n1,10,11\n0,20,21\n", "label");
    cr_assert_eq(ds.cols, 2);
    cr_assert_eq(ds.y[0], 1);
    cr_assert_eq(ds.y[1], 0);
    cr_assert_eq(ds.x[0], 10.0f);
    cr_assert_eq(ds.x[1], 11.0f);
    cr_assert_eq(ds.x[2], 20.0f);
    cr_assert_eq(ds.x[3], 21.0f);
    nb_dataset_free(&ds);
    ds = csv_ok("middle.csv", "a,target,b\n10,0.5,11\n", "target");
    cr_assert_eq(ds.cols, 2);
    cr_assert_eq(ds.y[0], 0.5);
    cr_assert_eq(ds.x[0], 10.0f);
    cr_assert_eq(ds.x[1], 11.0f);
    cr_assert_eq(ds.classes, 0, "a fractional target makes it a regression set");
    nb_dataset_free(&ds);
}

Test(csv, classes_only_for_whole_nonnegative_labels, .init = scratch_make, .fini = scratch_remove)
{
    nb_dataset ds = csv_ok("neg.csv", "a,label\n1,-1\n2,1\n", "label");
    cr_assert_eq(ds.classes, 0);
    nb_dataset_free(&ds);
    ds = csv_ok("gap.csv", "a,label\n1,0\n2,6\n", "label");
    cr_assert_eq(ds.classes, 7);
    nb_dataset_free(&ds);
}

Test(csv, crlf_line_endings_are_accepted, .init = scratch_make, .fini = scratch_remove)
{
    nb_dataset ds = csv_ok("crlf.csv", "a,b,label\r\n1,2,0\r\n3,4,1\r\n", "label");
    cr_assert_eq(ds.rows, 2);
    cr_assert_eq(ds.cols, 2);
    cr_assert_eq(ds.x[3], 4.0f);
    cr_assert_eq(ds.y[1], 1);
    nb_dataset_free(&ds);
}

Test(csv, blank_lines_spaces_and_a_missing_final_newline, .init = scratch_make,
     .fini = scratch_remove)
{
    nb_dataset ds = csv_ok("blank.csv", "\n a , label \n\n1, 0\n   \n\t\r\n 2 ,1", "label");
    cr_assert_eq(ds.rows, 2);
    cr_assert_eq(ds.cols, 1);
    cr_assert_eq(ds.x[0], 1.0f);
    cr_assert_eq(ds.x[1], 2.0f);
    cr_assert_eq(ds.y[1], 1);
    nb_dataset_free(&ds);
}

Test(csv, missing_file_is_an_io_error, .init = scratch_make, .fini = scratch_remove)
{
    char path[256], want[512], err[512];
    snprintf(path, sizeof path, "%s/absent.csv", scratch);
    nb_dataset ds = dirty();
    cr_assert_eq(nb_dataset_read_csv(&ds, path, "label", err, sizeof err), NB_ERR_IO);
    cr_assert_str_eq(err, fmt(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT)));
    ASSERT_EMPTY(ds);
    cr_assert_eq(nb_dataset_read_csv(&ds, NULL, "label", err, sizeof err), NB_ERR_ARG);
    cr_assert_str_eq(err, "read_csv: NULL argument");
    cr_assert_eq(nb_dataset_read_csv(&ds, path, NULL, err, sizeof err), NB_ERR_ARG);
}

Test(csv, empty_files_and_missing_data, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("empty.csv", "", "label", ": empty file: no header line");
    csv_error("blank.csv", "\n  \n\r\n", "label", ": empty file: no header line");
    csv_error("header.csv", "a,b,label\n", "label", ": no data rows after the header");
    csv_error("header-blank.csv", "a,b,label\n\n\n", "label", ": no data rows after the header");
}

Test(csv, header_problems, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("nolabel.csv", "a,b,c\n1,2,3\n", "label",
              ":1: no column named 'label' in the header");
    csv_error("case.csv", "a,Label\n1,2\n", "label", ":1: no column named 'label' in the header");
    csv_error("late.csv", "\n\na,b\n1,2\n", "label", ":3: no column named 'label' in the header");
    csv_error("alone.csv", "label\n1\n", "label", ":1: the header names no feature column");
}

Test(csv, ragged_rows, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("few.csv", "a,b,label\n1,2,0\n1,2\n", "label", ":3: 2 fields, but the header has 3");
    csv_error("many.csv", "a,b,label\n1,2,3,0\n", "label", ":2: 4 fields, but the header has 3");
    csv_error("one.csv", "a,b,label\n7\n", "label", ":2: 1 fields, but the header has 3");
}

Test(csv, fields_that_are_not_numbers, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("word.csv", "a,b,label\n1,2,0\n1,x,0\n", "label",
              ":3: field 2 ('x') is not a number");
    csv_error("suffix.csv", "a,b,label\n12abc,2,0\n", "label",
              ":2: field 1 ('12abc') is not a number");
    csv_error("label.csv", "a,b,label\n1,2,cat\n", "label", ":2: field 3 ('cat') is not a number");
    csv_error("inner.csv", "a,b,label\n1,2 3,0\n", "label", ":2: field 2 ('2 3') is not a number");
    /* a long field is quoted up to 40 characters */
    csv_error("long.csv",
              "a,label\n"
              "0123456789012345678901234567890123456789tail,0\n",
              "label", ":2: field 1 ('0123456789012345678901234567890123456789') is not a number");
}

Test(csv, nan_and_inf_are_rejected, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("nan.csv", "a,label\nnan,0\n", "label", ":2: field 1 ('nan') is not a finite number");
    csv_error("NaN.csv", "a,label\n1,0\nNaN,1\n", "label",
              ":3: field 1 ('NaN') is not a finite number");
    csv_error("inf.csv", "a,label\ninf,0\n", "label", ":2: field 1 ('inf') is not a finite number");
    csv_error("minf.csv", "a,label\n1,-Infinity\n", "label",
              ":2: field 2 ('-Infinity') is not a finite number");
    csv_error("big.csv", "a,label\n1e999,0\n", "label",
              ":2: field 1 ('1e999') is not a finite number");
}

Test(csv, empty_fields_are_rejected, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("mid.csv", "a,b,label\n1,,0\n", "label", ":2: field 2 ('') is not a number");
    csv_error("end.csv", "a,b,label\n1,2,\n", "label", ":2: field 3 ('') is not a number");
    csv_error("space.csv", "a,b,label\n 1 , ,0\n", "label", ":2: field 2 ('') is not a number");
    csv_error("crlf.csv", "a,b,label\r\n1,2,\r\n", "label", ":2: field 3 ('') is not a number");
}

Test(csv, line_numbers_count_blank_lines_and_crlf, .init = scratch_make, .fini = scratch_remove)
{
    csv_error("lines.csv", "a,label\r\n\r\n1,0\r\n   \r\n2,x\r\n", "label",
              ":5: field 2 ('x') is not a number");
}

Test(csv, a_nul_byte_is_not_text, .init = scratch_make, .fini = scratch_remove)
{
    const char bytes[] = "a,label\n1,0\n2,\0"
                         "1\n";
    csv_bytes_error("nul.csv", bytes, sizeof bytes - 1, "label", NB_ERR_FORMAT,
                    ":3: contains a NUL byte; not a text file");
}

/* ======================================================================== */
/* Scaling and standardization                                              */
/* ======================================================================== */

/* A dataset of rows x cols owned by the caller (released with nb_dataset_free). */
static nb_dataset make_ds(size_t rows, size_t cols, const float *x, const double *y)
{
    nb_dataset ds = { .rows = rows, .cols = cols, .classes = 0 };
    ds.x = malloc(rows * cols * sizeof *ds.x);
    ds.y = malloc(rows * sizeof *ds.y);
    cr_assert(ds.x && ds.y);
    memcpy(ds.x, x, rows * cols * sizeof *ds.x);
    if (y) {
        memcpy(ds.y, y, rows * sizeof *ds.y);
    } else {
        for (size_t i = 0; i < rows; i++) {
            ds.y[i] = (double)i;
        }
    }
    return ds;
}

Test(scale, multiplies_every_feature_and_no_label)
{
    nb_dataset ds = make_ds(2, 2, (const float[]){ 0, 255, 51, 1 }, (const double[]){ 3, 4 });
    nb_dataset_scale(&ds, 1.0 / 255);
    cr_assert_eq(ds.x[0], 0.0f);
    cr_assert_eq(ds.x[1], 1.0f);
    cr_assert_eq(ds.x[2], (float)(51 * (1.0 / 255)));
    cr_assert_eq(ds.x[3], (float)(1.0 / 255));
    cr_assert_eq(ds.y[0], 3);
    cr_assert_eq(ds.y[1], 4);
    nb_dataset_free(&ds);
    nb_dataset_scale(&ds, 2); /* an empty dataset: nothing to do */
    nb_dataset_scale(NULL, 2);
}

Test(scale, mnist_pixels_into_the_unit_interval)
{
    nb_dataset ds;
    char err[256];
    cr_assert_eq(nb_dataset_read_idx(&ds, DATA "mnist-subset-test-images-idx3-ubyte",
                                     DATA "mnist-subset-test-labels-idx1-ubyte", err, sizeof err),
                 NB_OK, "%s", err);
    nb_dataset_scale(&ds, 1.0 / 255);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < ds.rows * ds.cols; i++) {
        lo = ds.x[i] < lo ? ds.x[i] : lo;
        hi = ds.x[i] > hi ? ds.x[i] : hi;
    }
    cr_assert_eq(lo, 0.0f);
    cr_assert_eq(hi, 1.0f);
    nb_dataset_free(&ds);
}

/*
 * Train, 4 rows x 3 columns: column 0 is 1 2 3 4 (mean 2.5, population
 * variance 1.25), column 1 is the constant 5, column 2 is 0 0 0 8 (mean 2,
 * variance (4+4+4+36)/4 = 12). The other set, 2 rows, is standardized with
 * train's statistics: (v - mean) / sd, or v - mean for the constant column.
 */
Test(standardize, train_statistics_by_hand_and_applied_to_the_other_set)
{
    nb_dataset train = make_ds(4, 3, (const float[]){ 1, 5, 0, 2, 5, 0, 3, 5, 0, 4, 5, 8 }, NULL);
    nb_dataset test = make_ds(2, 3, (const float[]){ 5, 7, 2, -1, 5, 14 }, NULL);
    nb_dataset_standardize(&train, &test);
    const double sd0 = sqrt(1.25), sd2 = sqrt(12);
    const double want_train[12] = {
        (1 - 2.5) / sd0, 0, (0 - 2.0) / sd2, (2 - 2.5) / sd0, 0, (0 - 2.0) / sd2,
        (3 - 2.5) / sd0, 0, (0 - 2.0) / sd2, (4 - 2.5) / sd0, 0, (8 - 2.0) / sd2,
    };
    for (int i = 0; i < 12; i++) {
        cr_assert_float_eq(train.x[i], want_train[i], 1e-6, "train %d: %g", i, train.x[i]);
    }
    const double want_test[6] = {
        (5 - 2.5) / sd0, 7 - 5, 0, (-1 - 2.5) / sd0, 0, (14 - 2.0) / sd2
    };
    for (int i = 0; i < 6; i++) {
        cr_assert_float_eq(test.x[i], want_test[i], 1e-6, "test %d: %g", i, test.x[i]);
    }
    cr_assert_eq(test.x[1], 2.0f, "a constant column is only centered");
    cr_assert_eq(train.y[3], 3, "labels untouched");
    nb_dataset_free(&train);
    nb_dataset_free(&test);
}

Test(standardize, breast_cancer_train_gets_mean_0_and_std_1)
{
    nb_dataset train, test;
    char err[256];
    cr_assert_eq(
        nb_dataset_read_csv(&train, DATA "breast_cancer-train.csv", "label", err, sizeof err),
        NB_OK, "%s", err);
    cr_assert_eq(
        nb_dataset_read_csv(&test, DATA "breast_cancer-test.csv", "label", err, sizeof err), NB_OK,
        "%s", err);
    /* the raw statistics of train, to apply to test by hand */
    double mean[30], sd[30];
    for (size_t c = 0; c < 30; c++) {
        double s = 0, q = 0;
        for (size_t r = 0; r < train.rows; r++) {
            s += train.x[r * 30 + c];
        }
        mean[c] = s / (double)train.rows;
        for (size_t r = 0; r < train.rows; r++) {
            double d = train.x[r * 30 + c] - mean[c];
            q += d * d;
        }
        sd[c] = sqrt(q / (double)train.rows);
    }
    float raw_test0 = test.x[0], raw_test_last = test.x[113 * 30 + 29];
    nb_dataset_standardize(&train, &test);
    for (size_t c = 0; c < 30; c++) {
        double s = 0, q = 0;
        for (size_t r = 0; r < train.rows; r++) {
            s += train.x[r * 30 + c];
            q += (double)train.x[r * 30 + c] * train.x[r * 30 + c];
        }
        double m = s / (double)train.rows, v = q / (double)train.rows - m * m;
        cr_assert(fabs(m) < 1e-5, "column %zu: mean %g", c, m);
        cr_assert(fabs(v - 1) < 1e-4, "column %zu: variance %g", c, v);
    }
    cr_assert_float_eq(test.x[0], (raw_test0 - mean[0]) / sd[0], 1e-5);
    cr_assert_float_eq(test.x[113 * 30 + 29], (raw_test_last - mean[29]) / sd[29], 1e-5);
    nb_dataset_free(&train);
    nb_dataset_free(&test);
}

Test(standardize, another_set_with_other_columns_is_left_unchanged)
{
    nb_dataset train = make_ds(2, 1, (const float[]){ 1, 3 }, NULL);
    nb_dataset other = make_ds(1, 2, (const float[]){ 5, 6 }, NULL);
    nb_dataset_standardize(&train, &other);
    cr_assert_eq(train.x[0], -1.0f);
    cr_assert_eq(other.x[0], 5.0f);
    cr_assert_eq(other.x[1], 6.0f);
    nb_dataset_free(&train);
    nb_dataset_free(&other);
}

Test(standardize, without_another_set_and_on_empty_sets)
{
    nb_dataset train = make_ds(2, 1, (const float[]){ 1, 3 }, NULL);
    nb_dataset_standardize(&train, NULL);
    cr_assert_eq(train.x[0], -1.0f);
    cr_assert_eq(train.x[1], 1.0f);
    nb_dataset_free(&train);
    nb_dataset_standardize(&train, NULL); /* empty: nothing to do */
    nb_dataset_standardize(NULL, NULL);
}

/* ======================================================================== */
/* Batches                                                                  */
/* ======================================================================== */

Test(batches, init_rejects_zero_sizes)
{
    nb_batches b;
    memset(&b, 0xab, sizeof b);
    cr_assert_eq(nb_batches_init(&b, 0, 4, 1), NB_ERR_ARG);
    cr_assert_null(b.order);
    cr_assert_eq(nb_batches_count(&b), 0);
    cr_assert_eq(nb_batches_init(&b, 4, 0, 1), NB_ERR_ARG);
    cr_assert_null(b.order);
    cr_assert_eq(nb_batches_count(&b), 0);
    cr_assert_eq(nb_batches_size(&b, 0), 0);
    cr_assert_eq(nb_batches_init(NULL, 4, 2, 1), NB_ERR_ARG);
    nb_batches_free(&b);
    nb_batches_free(NULL);
}

Test(batches, counts_and_sizes_with_a_partial_last_batch)
{
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 10, 4, 7), NB_OK);
    cr_assert_eq(b.n, 10);
    cr_assert_eq(b.batch, 4);
    cr_assert_eq(b.rng, 7);
    for (size_t i = 0; i < 10; i++) {
        cr_assert_eq(b.order[i], i, "init gives the order 0..n-1");
    }
    cr_assert_eq(nb_batches_count(&b), 3);
    cr_assert_eq(nb_batches_size(&b, 0), 4);
    cr_assert_eq(nb_batches_size(&b, 1), 4);
    cr_assert_eq(nb_batches_size(&b, 2), 2);
    cr_assert_eq(nb_batches_size(&b, 3), 0);
    cr_assert_eq(nb_batches_size(&b, SIZE_MAX), 0);
    nb_batches_free(&b);
    cr_assert_null(b.order);

    cr_assert_eq(nb_batches_init(&b, 8, 4, 0), NB_OK);
    cr_assert_eq(nb_batches_count(&b), 2);
    cr_assert_eq(nb_batches_size(&b, 1), 4);
    nb_batches_free(&b);

    cr_assert_eq(nb_batches_init(&b, 3, 5, 0), NB_OK);
    cr_assert_eq(nb_batches_count(&b), 1);
    cr_assert_eq(nb_batches_size(&b, 0), 3);
    nb_batches_free(&b);
}

static bool is_permutation(const size_t *order, size_t n)
{
    bool *seen = calloc(n, sizeof *seen);
    cr_assert_not_null(seen);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        ok = order[i] < n && !seen[order[i]];
        if (ok) {
            seen[order[i]] = true;
        }
    }
    free(seen);
    return ok;
}

Test(batches, shuffle_gives_a_permutation_that_depends_only_on_the_state)
{
    enum { N = 1000 };
    nb_batches b, c;
    cr_assert_eq(nb_batches_init(&b, N, 32, 12345), NB_OK);
    nb_batches_shuffle(&b);
    cr_assert(is_permutation(b.order, N));
    size_t moved = 0;
    for (size_t i = 0; i < N; i++) {
        moved += b.order[i] != i;
    }
    cr_assert_gt(moved, N / 2, "a shuffle moves most examples (%zu moved)", moved);
    size_t first[N];
    memcpy(first, b.order, sizeof first);
    uint64_t after = b.rng;
    cr_assert_neq(after, 12345, "shuffling advances the generator");

    /* a second shuffle continues from the advanced state: another order */
    nb_batches_shuffle(&b);
    cr_assert(is_permutation(b.order, N));
    cr_assert_neq(memcmp(first, b.order, sizeof first), 0);

    /* the same state gives the same order, whatever was shuffled before */
    b.rng = 12345;
    nb_batches_shuffle(&b);
    cr_assert_eq(memcmp(first, b.order, sizeof first), 0);
    cr_assert_eq(b.rng, after);
    b.rng = 12345;
    nb_batches_shuffle(&b);
    cr_assert_eq(memcmp(first, b.order, sizeof first), 0);

    /* a fresh set of batches with that state agrees */
    cr_assert_eq(nb_batches_init(&c, N, 7, 99), NB_OK);
    nb_batches_shuffle(&c);
    nb_batches_shuffle(&c);
    c.rng = 12345;
    nb_batches_shuffle(&c);
    cr_assert_eq(memcmp(first, c.order, sizeof first), 0);

    /* and another state gives another order */
    c.rng = 12346;
    nb_batches_shuffle(&c);
    cr_assert(is_permutation(c.order, N));
    cr_assert_neq(memcmp(first, c.order, sizeof first), 0);
    nb_batches_free(&b);
    nb_batches_free(&c);
}

/*
 * The exact order, so a resumed run shuffles as the original did across
 * versions. Reference: a Python transcription of splitmix64 and the
 * Fisher-Yates loop of io/dataset.c (i from n down to 2, j = r % i with
 * rejection of r >= UINT64_MAX - UINT64_MAX % i) gives, for n = 10,
 * seed 42: 0 9 5 8 6 4 7 2 1 3; seed 0: 6 3 2 9 8 1 4 7 0 5.
 */
Test(batches, shuffle_order_is_pinned)
{
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 10, 3, 42), NB_OK);
    nb_batches_shuffle(&b);
    const size_t want42[10] = { 0, 9, 5, 8, 6, 4, 7, 2, 1, 3 };
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(b.order[i], want42[i], "seed 42, position %d", i);
    }
    b.rng = 0;
    nb_batches_shuffle(&b);
    const size_t want0[10] = { 6, 3, 2, 9, 8, 1, 4, 7, 0, 5 };
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(b.order[i], want0[i], "seed 0, position %d", i);
    }
    nb_batches_free(&b);
}

Test(batches, shuffle_of_one_example_and_of_nothing)
{
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 1, 1, 5), NB_OK);
    nb_batches_shuffle(&b);
    cr_assert_eq(b.order[0], 0);
    nb_batches_free(&b);
    nb_batches_shuffle(&b); /* freed: nothing to do */
    nb_batches_shuffle(NULL);
}

/* ======================================================================== */
/* Loading a batch into a graph                                             */
/* ======================================================================== */

/* 5 examples of 2 features: x[r] = (10 r, 10 r + 1), y[r] = r. */
static nb_dataset five(void)
{
    return make_ds(5, 2, (const float[]){ 0, 1, 10, 11, 20, 21, 30, 31, 40, 41 }, NULL);
}

static nb_node *named_input(nb_graph *g, const char *name, nb_dtype dt, int rank,
                            const int64_t *shape)
{
    return nb_node_set_name(g, nb_input(g, dt, rank, shape), name);
}

Test(load_batch, copies_the_rows_of_the_order_into_every_dtype)
{
    nb_dataset ds = five();
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 5, 2, 3), NB_OK);
    nb_batches_shuffle(&b);
    nb_graph *g = nb_graph_new();
    nb_node *x32 = named_input(g, "x32", NB_DTYPE_F32, NB_SHAPE(2, 2));
    nb_node *x64 = named_input(g, "x64", NB_DTYPE_F64, NB_SHAPE(2, 2));
    nb_node *yi = named_input(g, "yi", NB_DTYPE_I32, NB_SHAPE(2));
    nb_node *yf = named_input(g, "yf", NB_DTYPE_F32, NB_SHAPE(2));
    nb_node *yd = named_input(g, "yd", NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *xt = named_input(g, "xt", NB_DTYPE_F32, NB_SHAPE(1, 2));
    nb_node *yt = named_input(g, "yt", NB_DTYPE_I32, NB_SHAPE(1));
    cr_assert_eq(nb_graph_status(g), NB_OK);
    for (size_t k = 0; k < 2; k++) {
        cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, k, x32, yi), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, k, x64, yf), NB_OK);
        cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, k, x32, yd), NB_OK);
        const float *a = nb_node_data(x32);
        const double *d = nb_node_data(x64), *vd = nb_node_data(yd);
        const int32_t *vi = nb_node_data(yi);
        const float *vf = nb_node_data(yf);
        for (size_t i = 0; i < 2; i++) {
            size_t r = b.order[k * 2 + i];
            cr_assert_eq(a[i * 2], 10.0f * (float)r);
            cr_assert_eq(a[i * 2 + 1], 10.0f * (float)r + 1);
            cr_assert_eq(d[i * 2], 10.0 * (double)r);
            cr_assert_eq(d[i * 2 + 1], 10.0 * (double)r + 1);
            cr_assert_eq(vi[i], (int32_t)r);
            cr_assert_eq(vf[i], (float)r);
            cr_assert_eq(vd[i], (double)r);
        }
    }
    /* the partial last batch goes into inputs of its own size; y may be NULL */
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 2, xt, yt), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(((const float *)nb_node_data(xt))[0], 10.0f * (float)b.order[4]);
    cr_assert_eq(((const int32_t *)nb_node_data(yt))[0], (int32_t)b.order[4]);
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 0, x32, NULL), NB_OK);
    cr_assert_eq(((const float *)nb_node_data(x32))[0], 10.0f * (float)b.order[0]);
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_graph_free(g);
    nb_batches_free(&b);
    nb_dataset_free(&ds);
}

/* Asserts a non-sticky load_batch error: status, exact message, healthy graph. */
#define ASSERT_LOAD_ERROR(call, code, msg)                                                         \
    do {                                                                                           \
        nb_status st_ = (call);                                                                    \
        cr_assert_eq(st_, (code), "status %d: %s", (int)st_, nb_graph_error(g));                   \
        cr_assert_str_eq(nb_graph_error(g), (msg));                                                \
        cr_assert_eq(nb_graph_status(g), NB_OK, "data errors do not stick");                       \
    } while (0)

Test(load_batch, shape_and_index_errors)
{
    nb_dataset ds = five();
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 5, 2, 3), NB_OK);
    nb_graph *g = nb_graph_new();
    nb_node *x = named_input(g, "x", NB_DTYPE_F32, NB_SHAPE(2, 2));
    nb_node *y = named_input(g, "y", NB_DTYPE_I32, NB_SHAPE(2));
    nb_node *x3 = named_input(g, "x3", NB_DTYPE_F32, NB_SHAPE(3, 2));
    nb_node *xw = named_input(g, "xw", NB_DTYPE_F64, NB_SHAPE(2, 3));
    nb_node *xr = named_input(g, "xr", NB_DTYPE_F32, NB_SHAPE(4));
    nb_node *xi = named_input(g, "xi", NB_DTYPE_I32, NB_SHAPE(2, 2));
    nb_node *y3 = named_input(g, "y3", NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *y2d = named_input(g, "y2d", NB_DTYPE_F64, NB_SHAPE(2, 1));
    nb_node *op = nb_node_set_name(g, nb_neg(g, x), "negx");
    cr_assert_eq(nb_graph_status(g), NB_OK);

    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, x3, y), NB_ERR_ARG,
                      "load_batch(x3[3,2], y[2]): x must be a float input of shape [2,2] for "
                      "batch 0");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 1, xw, NULL), NB_ERR_ARG,
                      "load_batch(xw[2,3]): x must be a float input of shape [2,2] for batch 1");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, xr, y), NB_ERR_ARG,
                      "load_batch(xr[4], y[2]): x must be a float input of shape [2,2] for "
                      "batch 0");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, xi, y), NB_ERR_ARG,
                      "load_batch(xi[2,2], y[2]): x must be a float input of shape [2,2] for "
                      "batch 0");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, op, y), NB_ERR_ARG,
                      "load_batch(negx[2,2], y[2]): x must be a float input of shape [2,2] for "
                      "batch 0");
    /* the last batch holds one example */
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 2, x, y), NB_ERR_ARG,
                      "load_batch(x[2,2], y[2]): x must be a float input of shape [1,2] for "
                      "batch 2");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, x, y3), NB_ERR_ARG,
                      "load_batch(x[2,2], y3[3]): y must be an input of shape [2] for batch 0");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, x, y2d), NB_ERR_ARG,
                      "load_batch(x[2,2], y2d[2,1]): y must be an input of shape [2] for batch 0");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 3, x, y), NB_ERR_ARG,
                      "load_batch: batch 3 does not exist for 5 examples in batches of 2");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, SIZE_MAX, x, y), NB_ERR_ARG,
                      "load_batch: batch 18446744073709551615 does not exist for 5 examples in "
                      "batches of 2");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, NULL, y), NB_ERR_ARG,
                      "load_batch: NULL argument");
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, NULL, &b, 0, x, y), NB_ERR_ARG,
                      "load_batch: NULL argument");

    /* batches made for another number of examples */
    nb_batches four;
    cr_assert_eq(nb_batches_init(&four, 4, 2, 3), NB_OK);
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &four, 0, x, y), NB_ERR_ARG,
                      "load_batch: the batches cover 4 examples but the dataset has 5");
    nb_batches_free(&four);

    /* a node of another graph */
    nb_graph *h = nb_graph_new();
    nb_node *hx = named_input(h, "hx", NB_DTYPE_F32, NB_SHAPE(2, 2));
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, hx, y), NB_ERR_GRAPH,
                      "load_batch(hx[2,2], y[2]): x belongs to another graph");
    nb_node *hy = named_input(h, "hy", NB_DTYPE_I32, NB_SHAPE(2));
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 0, x, hy), NB_ERR_GRAPH,
                      "load_batch(x[2,2], hy[2]): y belongs to another graph");
    nb_graph_free(h);
    cr_assert_eq(nb_dataset_load_batch(NULL, &ds, &b, 0, x, y), NB_ERR_ARG);

    /* still usable after all that */
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 0, x, y), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "");
    nb_graph_free(g);
    nb_batches_free(&b);
    nb_dataset_free(&ds);
}

Test(load_batch, labels_that_are_not_whole_numbers_into_i32)
{
    nb_dataset ds = make_ds(4, 1, (const float[]){ 1, 2, 3, 4 }, (const double[]){ 0, 1, 1.5, 2 });
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 4, 2, 0), NB_OK);
    nb_graph *g = nb_graph_new();
    nb_node *x = named_input(g, "x", NB_DTYPE_F64, NB_SHAPE(2, 1));
    nb_node *y = named_input(g, "y", NB_DTYPE_I32, NB_SHAPE(2));
    nb_node *yf = named_input(g, "yf", NB_DTYPE_F64, NB_SHAPE(2));
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 0, x, y), NB_OK);
    /* batch 1 holds example 2, labelled 1.5: nothing is written */
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 1, x, y), NB_ERR_VALUE,
                      "load_batch(x[2,1], y[2]): label 1.5 of example 2 is not a whole number");
    const double *xv = nb_node_data(x);
    const int32_t *yv = nb_node_data(y);
    cr_assert(xv[0] == 1 && xv[1] == 2 && yv[0] == 0 && yv[1] == 1, "batch 0 still in place");
    /* a float target takes it */
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 1, x, yf), NB_OK);
    cr_assert_eq(((const double *)nb_node_data(yf))[0], 1.5);

    ds.y[3] = NAN;
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 1, x, y), NB_ERR_VALUE,
                      "load_batch(x[2,1], y[2]): label 1.5 of example 2 is not a whole number");
    ds.y[2] = 3;
    ASSERT_LOAD_ERROR(nb_dataset_load_batch(g, &ds, &b, 1, x, y), NB_ERR_VALUE,
                      "load_batch(x[2,1], y[2]): label nan of example 3 is not a whole number");
    nb_graph_free(g);
    nb_batches_free(&b);
    nb_dataset_free(&ds);
}

Test(load_batch, a_whole_epoch_sees_every_example_once)
{
    nb_dataset ds;
    char err[256];
    cr_assert_eq(nb_dataset_read_csv(&ds, DATA "iris-train.csv", "label", err, sizeof err), NB_OK,
                 "%s", err);
    cr_assert_eq(ds.rows, 120);
    for (size_t i = 0; i < ds.rows; i++) {
        ds.x[i * ds.cols] = (float)i; /* tag each example */
    }
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, ds.rows, 32, 1), NB_OK);
    nb_batches_shuffle(&b);
    nb_graph *g = nb_graph_new();
    nb_node *full = nb_input(g, NB_DTYPE_F32, NB_SHAPE(32, 4));
    nb_node *tail = nb_input(g, NB_DTYPE_F32, NB_SHAPE(24, 4));
    nb_node *yfull = nb_input(g, NB_DTYPE_I32, NB_SHAPE(32));
    nb_node *ytail = nb_input(g, NB_DTYPE_I32, NB_SHAPE(24));
    int seen[120] = { 0 };
    cr_assert_eq(nb_batches_count(&b), 4);
    for (size_t k = 0; k < 4; k++) {
        bool last = nb_batches_size(&b, k) < 32;
        nb_node *x = last ? tail : full, *y = last ? ytail : yfull;
        cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, k, x, y), NB_OK, "%s", nb_graph_error(g));
        const float *v = nb_node_data(x);
        const int32_t *l = nb_node_data(y);
        for (size_t i = 0; i < nb_batches_size(&b, k); i++) {
            size_t tag = (size_t)v[i * 4];
            seen[tag]++;
            cr_assert_eq((double)l[i], ds.y[tag]);
        }
    }
    for (int i = 0; i < 120; i++) {
        cr_assert_eq(seen[i], 1, "example %d seen %d times", i, seen[i]);
    }
    nb_graph_free(g);
    nb_batches_free(&b);
    nb_dataset_free(&ds);
}

Test(standardize, moments_and_normalize_are_what_standardize_does,
     .description = "saved statistics applied later give the same bits")
{
    /* columns: 1, 2, 3 (mean 2, std sqrt(2/3)); constant 5 (std 0: only centered) */
    float x[6] = { 1, 5, 2, 5, 3, 5 };
    double y[3] = { 0, 1, 0 };
    nb_dataset a = { .rows = 3, .cols = 2, .x = malloc(sizeof x), .y = malloc(sizeof y) };
    nb_dataset b = { .rows = 3, .cols = 2, .x = malloc(sizeof x), .y = malloc(sizeof y) };
    cr_assert(a.x && a.y && b.x && b.y);
    memcpy(a.x, x, sizeof x);
    memcpy(b.x, x, sizeof x);
    memcpy(a.y, y, sizeof y);
    memcpy(b.y, y, sizeof y);
    double mean[2], std[2];
    nb_dataset_moments(&a, mean, std);
    cr_assert_eq(mean[0], 2);
    cr_assert_float_eq(std[0], sqrt(2.0 / 3.0), 1e-15);
    cr_assert_eq(mean[1], 5);
    cr_assert_eq(std[1], 0);
    nb_dataset_standardize(&a, NULL);
    nb_dataset_normalize(&b, mean, std);
    cr_assert_eq(memcmp(a.x, b.x, sizeof x), 0);
    cr_assert_eq(b.x[1], 0);
    cr_assert_float_eq(b.x[4], (float)(1 / sqrt(2.0 / 3.0)), 1e-6);
    nb_dataset_free(&a);
    nb_dataset_free(&b);
}

Test(batches, shards_split_each_batch_in_contiguous_parts,
     .description = "10 examples, batches of 4, 3 shards: batch 4 splits 1,1,2 and the last, "
                    "2, splits 0,1,1; the parts load the batch's rows in order")
{
    nb_batches b;
    cr_assert_eq(nb_batches_init(&b, 10, 4, 7), NB_OK);
    const size_t want[3][3] = { { 1, 1, 0 }, { 1, 1, 1 }, { 2, 2, 1 } };
    for (int s = 0; s < 3; s++) {
        cr_assert_eq(nb_batches_shard(&b, s, 3), NB_OK);
        for (size_t k = 0; k < 3; k++) {
            cr_assert_eq(nb_batches_size(&b, k), want[s][k], "shard %d batch %zu", s, k);
            cr_assert_eq(nb_batches_global_size(&b, k), k < 2 ? 4u : 2u);
        }
    }
    /* shard 2 of batch 0 holds examples 2 and 3 of the identity order */
    nb_dataset ds = { .rows = 10, .cols = 1 };
    float xs[10];
    double ys[10];
    for (int i = 0; i < 10; i++) {
        xs[i] = (float)i;
        ys[i] = i;
    }
    ds.x = xs;
    ds.y = ys;
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F32, NB_SHAPE(2, 1));
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 0, x, NULL), NB_OK);
    cr_assert_float_eq(((const float *)nb_node_data(x))[0], 2.0f, 0);
    cr_assert_float_eq(((const float *)nb_node_data(x))[1], 3.0f, 0);
    /* an empty part cannot be loaded */
    cr_assert_eq(nb_batches_shard(&b, 0, 3), NB_OK);
    nb_node *x1 = nb_input(g, NB_DTYPE_F32, NB_SHAPE(1, 1));
    cr_assert_eq(nb_dataset_load_batch(g, &ds, &b, 2, x1, NULL), NB_ERR_ARG);
    cr_assert_str_eq(nb_graph_error(g),
                     "load_batch: shard 0 of batch 2 is empty (2 examples in 3 shards)");
    cr_assert_eq(nb_batches_shard(&b, 3, 3), NB_ERR_ARG);
    cr_assert_eq(nb_batches_shard(&b, 0, 0), NB_ERR_ARG);
    nb_graph_free(g);
    nb_batches_free(&b);
}

Test(batches, one_process_job,
     .description = "without mpirun the job is rank 0 of 1 and the "
                    "collective calls pass values through")
{
    cr_assert_eq(nb_dist_init(NULL, NULL), NB_OK);
    cr_assert_eq(nb_dist_rank(), 0);
    cr_assert_eq(nb_dist_size(), 1);
    double v[2] = { 1.5, -2 };
    cr_assert_eq(nb_dist_sum(v, 2), NB_OK);
    cr_assert(v[0] == 1.5 && v[1] == -2);
    char msg[64] = "mine";
    cr_assert_eq(nb_dist_agree(NB_ERR_IO, msg, sizeof msg), NB_ERR_IO);
    cr_assert_eq(nb_dist_agree(NB_OK, msg, sizeof msg), NB_OK);
    nb_dist_finalize();
    cr_assert_eq(nb_dist_size(), 1);
}
