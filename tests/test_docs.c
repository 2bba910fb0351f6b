/*
 * tests/test_docs.c: the generated docs are current. docs/ops.md must be byte
 * for byte what tools/gen_ops_doc prints from the op table, and every builder
 * it names must be declared in include/nabla.h.
 */
#include <criterion/criterion.h>

#include <stdlib.h>

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
