/*
 * tests/test_docs.c: the generated docs are current. docs/ops.md must be byte
 * for byte what tools/gen_ops_doc prints from the op table, and every builder
 * it names must be declared in include/nabla.h; the recurrent lessons of
 * docs/teaching.md and their plot must be what examples/rnn_lessons prints
 * and draws.
 */
#define _POSIX_C_SOURCE 200809L /* popen */

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ops_doc.h"

#define REGENERATE                                                                                 \
    "docs/ops.md is out of date; regenerate it from the source root with "                         \
    "`meson compile -C build && build/tools/gen_ops_doc > docs/ops.md`"

/* Reads the rest of f into a NUL-terminated malloc'd buffer; NULL on failure. */
static char *read_all(FILE *f, size_t *size)
{
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (buf) {
        buf[n] = '\0';
        *size = n;
    }
    return buf;
}

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *text = read_all(f, size);
    fclose(f);
    return text;
}

/* The table as the generator prints it (through a temporary file: plain C11). */
static char *generate(size_t *size)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f, "tmpfile failed");
    cr_assert_eq(ops_doc_write(f), 0, "ops_doc_write failed");
    rewind(f);
    char *text = read_all(f, size);
    fclose(f);
    cr_assert_not_null(text, "out of memory");
    return text;
}

Test(docs, ops_md_is_current, .description = "docs/ops.md equals tools/gen_ops_doc's output")
{
    size_t want_size = 0, have_size = 0;
    char *want = generate(&want_size);
    char *have = slurp(NB_SOURCE_DIR "/docs/ops.md", &have_size);
    cr_assert_not_null(have, "cannot read " NB_SOURCE_DIR "/docs/ops.md; " REGENERATE);
    size_t i = 0;
    while (i < want_size && i < have_size && want[i] == have[i]) {
        i++;
    }
    if (i < want_size || i < have_size) {
        /* show the first differing line of each */
        size_t start = i;
        while (start > 0 && want[start - 1] != '\n') {
            start--;
        }
        int wl = (int)strcspn(want + start, "\n"), hl = (int)strcspn(have + start, "\n");
        cr_assert_fail("%s\nfirst difference at byte %zu:\n  generated: %.*s\n  docs/ops.md: %.*s",
                       REGENERATE, i, wl, want + start, hl, have + start);
    }
    free(want);
    free(have);
}

Test(docs, ops_md_builders_exist, .description = "every builder in docs/ops.md is in nabla.h")
{
    size_t size = 0;
    char *header = slurp(NB_SOURCE_DIR "/include/nabla.h", &size);
    cr_assert_not_null(header, "cannot read include/nabla.h");
    for (size_t i = 0; i < nb_op_count(); i++) {
        nb_op_info info;
        cr_assert(nb_op_info_get(i, &info));
        const char *builders[3];
        char buf[64];
        int n = ops_doc_builders_of(info.name, builders, buf, sizeof buf);
        for (int k = 0; k < n; k++) {
            char decl[96];
            snprintf(decl, sizeof decl, "nb_node *%s(nb_graph *g,", builders[k]);
            cr_expect_not_null(strstr(header, decl),
                               "op %s: builder %s is not declared in nabla.h; add it there or "
                               "map the op to its builders in tools/ops_doc.h",
                               info.name, builders[k]);
        }
    }
    free(header);
}

/* ---- docs/teaching.md's recurrent lessons are examples/rnn_lessons' output ---- */

#ifndef NB_BUILD_DIR /* tests/meson.build sets it to the build root */
#define NB_BUILD_DIR "build"
#endif

/* True when text holds line as a whole line. */
static bool has_line(const char *text, const char *line, size_t len)
{
    for (const char *at = text; *at;) {
        const char *nl = strchr(at, '\n');
        size_t n = nl ? (size_t)(nl - at) : strlen(at);
        if (n == len && memcmp(at, line, len) == 0) {
            return true;
        }
        if (!nl) {
            break;
        }
        at = nl + 1;
    }
    return false;
}

Test(docs, teaching_md_rnn_lessons_are_the_programs_output,
     .description = "every table row and result line rnn_lessons prints is a line of "
                    "docs/teaching.md, and docs/img/rnn_vanishing.svg is the plot it draws")
{
    const char *svg = NB_BUILD_DIR "/tests/rnn_vanishing.svg";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/examples/rnn_lessons' --svg '%s'", NB_BUILD_DIR, svg);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen(%s) failed", cmd);
    size_t out_size = 0, doc_size = 0, want_size = 0, have_size = 0;
    char *out = read_all(p, &out_size);
    int st = pclose(p);
    cr_assert_not_null(out);
    cr_assert_eq(st, 0, "%s failed (not built? run `meson compile -C build`); it printed:\n%s", cmd,
                 out);
    char *doc = slurp(NB_SOURCE_DIR "/docs/teaching.md", &doc_size);
    cr_assert_not_null(doc, "cannot read docs/teaching.md");
    int checked = 0;
    for (const char *at = out; *at;) {
        size_t n = strcspn(at, "\n");
        bool result = strncmp(at, "| ", 2) == 0 || strncmp(at, "each step ", 10) == 0 ||
                      strncmp(at, "from step ", 10) == 0 || strncmp(at, "at step ", 8) == 0;
        if (result) {
            cr_expect(has_line(doc, at, n),
                      "docs/teaching.md lacks the line rnn_lessons prints:\n%.*s\n"
                      "(rerun `build/examples/rnn_lessons --svg docs/img/rnn_vanishing.svg` "
                      "and update the lessons)",
                      (int)n, at);
            checked++;
        }
        at += n + (at[n] == '\n');
    }
    /* 7 + 37 table lines and the three result lines */
    cr_assert_eq(checked, 47, "rnn_lessons printed %d result lines, not 47:\n%s", checked, out);
    char *want = slurp(svg, &want_size);
    char *have = slurp(NB_SOURCE_DIR "/docs/img/rnn_vanishing.svg", &have_size);
    cr_assert_not_null(want, "rnn_lessons wrote no %s", svg);
    cr_assert_not_null(have, "cannot read docs/img/rnn_vanishing.svg");
    cr_assert(want_size == have_size && memcmp(want, have, want_size) == 0,
              "docs/img/rnn_vanishing.svg differs from what rnn_lessons draws (%zu and %zu "
              "bytes); regenerate it with `build/examples/rnn_lessons --svg "
              "docs/img/rnn_vanishing.svg`",
              have_size, want_size);
    remove(svg);
    free(want);
    free(have);
    free(doc);
    free(out);
}
