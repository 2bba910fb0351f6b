/*
 * tests/test_docs.c: the docs are true. docs/ops.md must be byte for byte
 * what tools/gen_ops_doc prints from the op table, every builder it names must
 * be declared in include/nabla.h, the recurrent lessons of docs/teaching.md
 * and their plot must be what examples/rnn_lessons prints and draws, and
 * every block of README.md and the docs/ pages marked as a doctest (the
 * convention is described at the runner below) must print what the page shows.
 */
#define _POSIX_C_SOURCE 200809L /* popen */

#include <criterion/criterion.h>

#include <ctype.h>
#include <stdarg.h>
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

/*
 * ---- pages that run: the doc-test runner ----
 *
 * How to mark a block (README.md and every page in docs/ page are scanned; a
 * block is checked only when the line right before its opening ``` fence is
 * one of these HTML comments, which Markdown renderers do not show):
 *
 *   <!-- doctest -->          a shell transcript. Each line starting "$ " is a
 *                             command (a trailing "\" continues it on the next
 *                             line); the lines up to the next "$ " are what it
 *                             prints, stdout and stderr together.
 *   <!-- doctest: file NAME -->  the block's text is written to NAME, for later
 *                             blocks of the page to use (a model, prog.c).
 *   <!-- doctest needs dot -->  a transcript that needs a program the build
 *                             does not (Graphviz's dot for --svg): skipped,
 *                             not failed, where it is not installed.
 *   <!-- doctest: c -->       a C program (or, without main, the body of one,
 *                             with nabla.h, stdio.h and stdlib.h included), compiled
 *                             against the build and run; its output is compared
 *                             with the next block, marked <!-- doctest: output -->.
 *
 * In expected output, a line "..." matches any number of lines, and a number
 * written "~5536" matches any number (and the runs of spaces around it, for
 * padded columns): mark so figures that vary (timings, allocator byte counts,
 * rounding-level errors), which are then checked for form only. Trailing
 * spaces and trailing blank lines do not count.
 *
 * Commands run in order in one shell per page (so files written by one block
 * are there for the next, and $? works), from a fresh directory that looks
 * like the source root: its entries are symlinks to the source tree's, and
 * build/ is the meson build root. build/tools (so `nabla`) and build/examples
 * are on PATH, pkg-config finds the uninstalled nabla, and stdout is line
 * buffered so that stdout and stderr interleave as on a terminal.
 */

#include <dirent.h>
#include <sys/stat.h>

#ifndef NB_SANITIZE
#define NB_SANITIZE "none" /* meson's b_sanitize, for compiling the pages' C */
#endif
#include <unistd.h>

#define MARK "<!-- doctest"

typedef struct doc_block {
    int kind; /* 'T' transcript, 'F' file, 'C' C program, 'O' output of the last C block */
    int line; /* of the opening fence, 1-based */
    char name[128];
    char needs[64]; /* a program the block needs ("dot"); skipped when it is not on PATH */
    char *text;     /* the lines between the fences, malloc'd */
} doc_block;

/*
 * Parses the marker comment at s; 0 if it is not one. A trailing "needs PROG"
 * is copied to needs.
 */
static int marker_kind(const char *s, char *name, size_t cap, char *needs, size_t needs_cap)
{
    if (strncmp(s, MARK, strlen(MARK)) != 0) {
        return 0;
    }
    s += strlen(MARK);
    needs[0] = '\0';
    const char *nd = strstr(s, "needs "), *end = strstr(s, "-->");
    if (nd && end && nd < end) {
        nd += 6;
        snprintf(needs, needs_cap, "%.*s", (int)strcspn(nd, " -"), nd);
    }
    while (*s == ' ' || *s == ':') {
        s++;
    }
    name[0] = '\0';
    if (strncmp(s, "-->", 3) == 0 || strncmp(s, "needs ", 6) == 0) {
        return 'T';
    }
    if (strncmp(s, "file ", 5) == 0) {
        int len = (int)strcspn(s + 5, " -");
        snprintf(name, cap, "%.*s", len, s + 5);
        return 'F';
    }
    if (strncmp(s, "c ", 2) == 0 || strncmp(s, "c-->", 4) == 0) {
        return 'C';
    }
    if (strncmp(s, "output", 6) == 0) {
        return 'O';
    }
    return -1;
}

/* Splits a page into its marked blocks; returns how many (at most cap). */
static size_t page_blocks(const char *page, const char *text, doc_block *out, size_t cap)
{
    size_t n = 0;
    int line = 1, pending = 0;
    char name[128] = "", needs[64] = "";
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (strncmp(p, MARK, strlen(MARK)) == 0) {
            pending = marker_kind(p, name, sizeof name, needs, sizeof needs);
            cr_expect(pending > 0, "%s:%d: unknown doctest marker %.*s", page, line, (int)len, p);
        } else if (strncmp(p, "```", 3) == 0 && pending > 0) {
            /* a marked block: collect up to the closing fence */
            cr_assert_lt(n, cap, "%s: too many doctest blocks", page);
            doc_block *b = &out[n++];
            b->kind = pending;
            b->line = line;
            snprintf(b->name, sizeof b->name, "%s", name);
            snprintf(b->needs, sizeof b->needs, "%s", needs);
            const char *start = eol ? eol + 1 : p + len, *q = start;
            while (*q && strncmp(q, "```", 3) != 0) {
                const char *e = strchr(q, '\n');
                q = e ? e + 1 : q + strlen(q);
                line++;
            }
            cr_assert(*q, "%s:%d: doctest block without a closing fence", page, b->line);
            b->text = strndup(start, (size_t)(q - start));
            eol = strchr(q, '\n');
            len = 0;
            line++;
            pending = 0;
            if (!eol) {
                break;
            }
            p = eol + 1;
            line++;
            continue;
        } else if (pending > 0 && len > 0) {
            cr_expect_fail("%s:%d: a doctest marker must be right before a ``` fence", page, line);
            pending = 0;
        }
        if (!eol) {
            break;
        }
        p = eol + 1;
        line++;
    }
    return n;
}

static bool is_num_start(const char *s)
{
    return isdigit((unsigned char)s[0]) ||
           ((s[0] == '-' || s[0] == '+' || s[0] == '.') && isdigit((unsigned char)s[1]));
}

/* Skips a number (sign, digits, fraction, exponent); returns the end. */
static const char *skip_number(const char *s)
{
    if (*s == '-' || *s == '+') {
        s++;
    }
    while (isdigit((unsigned char)*s) || *s == '.') {
        s++;
    }
    if ((*s == 'e' || *s == 'E') &&
        (isdigit((unsigned char)s[1]) ||
         ((s[1] == '-' || s[1] == '+') && isdigit((unsigned char)s[2])))) {
        s += 2;
        while (isdigit((unsigned char)*s)) {
            s++;
        }
    }
    return s;
}

/* One expected line against one actual line (both without their newline, trimmed). */
static bool line_matches(const char *want, size_t wn, const char *have, size_t hn)
{
    const char *w = want, *we = want + wn, *h = have, *he = have + hn;
    while (w < we && h < he) {
        /* a marked number also absorbs the spaces before it (column padding varies with it) */
        const char *ws = w;
        while (ws < we && *ws == ' ') {
            ws++;
        }
        if (ws > w && *h == ' ' && ws + 1 < we && *ws == '~' && is_num_start(ws + 1)) {
            w = ws;
            while (h < he && *h == ' ') {
                h++;
            }
        }
        if (*w == '~' && w + 1 < we && is_num_start(w + 1)) {
            if (!is_num_start(h)) {
                return false;
            }
            w = skip_number(w + 1);
            h = skip_number(h);
            if (w < we && h < he && *w == ' ' && *h == ' ') {
                while (w < we && *w == ' ') {
                    w++;
                }
                while (h < he && *h == ' ') {
                    h++;
                }
            }
            continue;
        }
        if (*w++ != *h++) {
            return false;
        }
    }
    return w == we && h == he;
}

typedef struct lines {
    const char **s;
    size_t *len;
    size_t n;
} lines;

/* Splits text into lines with trailing spaces trimmed and trailing blank lines dropped. */
static lines split_lines(const char *text)
{
    lines l = { 0 };
    size_t cap = 16;
    l.s = malloc(cap * sizeof *l.s);
    l.len = malloc(cap * sizeof *l.len);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (l.n == cap) {
            cap *= 2;
            l.s = realloc(l.s, cap * sizeof *l.s);
            l.len = realloc(l.len, cap * sizeof *l.len);
        }
        l.s[l.n] = p;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\r' || p[len - 1] == '\t')) {
            len--;
        }
        l.len[l.n++] = len;
        p = e ? e + 1 : p + strlen(p);
    }
    while (l.n > 0 && l.len[l.n - 1] == 0) {
        l.n--;
    }
    return l;
}

/* Lines want[i..] match have[j..], where a want line "..." matches any number of lines. */
static bool lines_match(const lines *want, size_t i, const lines *have, size_t j)
{
    for (; i < want->n; i++, j++) {
        if (want->len[i] == 3 && strncmp(want->s[i], "...", 3) == 0) {
            for (size_t k = j; k <= have->n; k++) {
                if (lines_match(want, i + 1, have, k)) {
                    return true;
                }
            }
            return false;
        }
        if (j >= have->n || !line_matches(want->s[i], want->len[i], have->s[j], have->len[j])) {
            return false;
        }
    }
    return j == have->n;
}

/*
 * Compares expected output with actual; on a mismatch, writes a message naming
 * the first line that differs into msg and returns false.
 */
static bool doc_output_matches(const char *want_text, const char *have_text, char *msg, size_t cap)
{
    lines want = split_lines(want_text), have = split_lines(have_text);
    bool ok = lines_match(&want, 0, &have, 0);
    if (!ok) {
        size_t i = 0;
        while (i < want.n && i < have.n &&
               line_matches(want.s[i], want.len[i], have.s[i], have.len[i])) {
            i++;
        }
        snprintf(msg, cap,
                 "first difference at output line %zu:\n    page:    %.*s\n    program: %.*s\n"
                 "  the program printed:\n%s",
                 i + 1, i < want.n ? (int)want.len[i] : 11, i < want.n ? want.s[i] : "(no line)",
                 i < have.n ? (int)have.len[i] : 11, i < have.n ? have.s[i] : "(no line)",
                 have_text);
    }
    free(want.s);
    free(want.len);
    free(have.s);
    free(have.len);
    return ok;
}

/* A command of a transcript, the text it should print, and the line it is on. */
typedef struct doc_cmd {
    char *cmd, *want;
    int line;
} doc_cmd;

static size_t transcript_commands(const char *text, int first_line, doc_cmd *out, size_t cap)
{
    size_t n = 0;
    int line = first_line;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        line++;
        if (len >= 2 && p[0] == '$' && p[1] == ' ') {
            cr_assert_lt(n, cap);
            doc_cmd *c = &out[n++];
            c->line = line;
            c->cmd = strndup(p + 2, len - 2);
            c->want = strdup("");
            /* continuation lines */
            while (len > 0 && p[len - 1] == '\\' && e) {
                p = e + 1;
                e = strchr(p, '\n');
                len = e ? (size_t)(e - p) : strlen(p);
                line++;
                size_t old = strlen(c->cmd);
                c->cmd = realloc(c->cmd, old + len + 2);
                c->cmd[old] = '\n';
                memcpy(c->cmd + old + 1, p, len);
                c->cmd[old + 1 + len] = '\0';
            }
        } else if (n > 0) {
            doc_cmd *c = &out[n - 1];
            size_t old = strlen(c->want);
            c->want = realloc(c->want, old + len + 2);
            memcpy(c->want + old, p, len);
            c->want[old + len] = '\n';
            c->want[old + len + 1] = '\0';
        }
        p = e ? e + 1 : p + len;
    }
    return n;
}

#define SEP '\036' /* ASCII record separator: printed by the runner between commands */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static bool on_path(const char *prog)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* A fresh directory that looks like the source root (see the comment above). */
static void make_workdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/nabla-docs-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    DIR *d = opendir(NB_SOURCE_DIR);
    cr_assert_not_null(d);
    struct dirent *e;
    char from[1024], to[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "build") == 0) {
            continue;
        }
        snprintf(from, sizeof from, "%s/%s", NB_SOURCE_DIR, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
        cr_assert_eq(symlink(from, to), 0, "symlink %s", to);
    }
    closedir(d);
    snprintf(to, sizeof to, "%s/build", dir);
    cr_assert_eq(symlink(NB_BUILD_DIR, to), 0);
}

static char *run_script(const char *dir, const char *script_text)
{
    char path[1200], cmd[4000];
    snprintf(path, sizeof path, "%s/.doctest.sh", dir);
    write_text(path, script_text);
    /*
     * stdout line-buffered (coreutils' stdbuf, inherited by every command), so
     * that what a program prints on stdout and stderr interleaves as on a terminal
     */
    snprintf(cmd, sizeof cmd,
             "if command -v stdbuf >/dev/null 2>&1; then exec stdbuf -oL sh '%s' 2>&1; "
             "else exec sh '%s' 2>&1; fi",
             path, path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t size;
    char *out = read_all(p, &size);
    pclose(p);
    cr_assert_not_null(out);
    return out;
}

/* Appends printf-formatted text to a growing malloc'd string. */
static void appendf(char **s, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int add = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t old = *s ? strlen(*s) : 0;
    *s = realloc(*s, old + (size_t)add + 1);
    vsnprintf(*s + old, (size_t)add + 1, fmt, ap2);
    va_end(ap2);
}

/*
 * Runs the marked blocks of a page; returns the number of mismatches, each
 * reported (page:line, the command, the first differing line) into *report.
 */
static int doc_check_page(const char *page, const char *text, char **report, int *n_checked)
{
    doc_block blocks[256];
    size_t nb = page_blocks(page, text, blocks, 256);
    *n_checked = 0;
    if (nb == 0) {
        return 0;
    }
    char dir[64];
    make_workdir(dir, sizeof dir);
    /* one script for the page: a separator before each command keeps the previous status */
    char *script = NULL;
    appendf(&script,
            "cd '%s' || exit 1\nexport PATH='%s/tools:%s/examples':\"$PATH\"\n"
            "export PKG_CONFIG_PATH='%s/meson-uninstalled'\nexport LD_LIBRARY_PATH='%s'\n"
            "exec 2>&1\n",
            dir, NB_BUILD_DIR, NB_BUILD_DIR, NB_BUILD_DIR, NB_BUILD_DIR);
    /* a sanitized build's library links only into sanitized programs: the pages' cc too */
    if (strcmp(NB_SANITIZE, "none") != 0 && NB_SANITIZE[0]) {
        appendf(&script, "cc() { command cc -fsanitize=%s \"$@\"; }\n", NB_SANITIZE);
        /* stdbuf's preloaded library comes before the ASan runtime, which is fine here */
        appendf(&script, "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}"
                         "verify_asan_link_order=0\"\n");
    }
    doc_cmd cmds[512];
    const char *wants[512];
    int lines_of[512];
    size_t nc = 0;
    for (size_t i = 0; i < nb; i++) {
        doc_block *b = &blocks[i];
        if (b->kind == 'F') {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", dir, b->name);
            write_text(path, b->text);
        } else if (b->kind == 'T' && b->needs[0] && !on_path(b->needs)) {
            continue; /* e.g. Graphviz's dot for --svg: not a dependency of the build */
        } else if (b->kind == 'T') {
            size_t k = transcript_commands(b->text, b->line, cmds + nc, 512 - nc);
            for (size_t j = nc; j < nc + k; j++) {
                appendf(&script, "__s=$?; printf '\\036'; (exit $__s); %s\n", cmds[j].cmd);
                wants[j] = cmds[j].want;
                lines_of[j] = cmds[j].line;
            }
            nc += k;
        } else if (b->kind == 'C') {
            bool has_main = strstr(b->text, "main(") != NULL;
            char src[1200];
            snprintf(src, sizeof src, "%s/doctest_%d.c", dir, b->line);
            char *prog = NULL;
            if (has_main) {
                appendf(&prog, "%s", b->text);
            } else {
                appendf(&prog,
                        "#include <nabla.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
                        "int main(void)\n{\n#line %d \"%s\"\n%s\nreturn 0;\n}\n",
                        b->line + 1, page, b->text);
            }
            write_text(src, prog);
            free(prog);
            bool has_output = i + 1 < nb && blocks[i + 1].kind == 'O';
            cr_assert(has_output,
                      "%s:%d: a doctest c block must be followed by a block marked "
                      "<!-- doctest: output -->",
                      page, b->line);
            cr_assert_lt(nc, 512);
            cmds[nc].cmd = NULL;
            cmds[nc].want = NULL;
            wants[nc] = blocks[i + 1].text;
            lines_of[nc] = b->line;
            appendf(&script,
                    "__s=$?; printf '\\036'; cc -std=c11 -w -I'%s/include' '%s' -o '%s.bin' "
                    "-L'%s' -lnabla -lm -Wl,-rpath,'%s' && '%s.bin'\n",
                    NB_SOURCE_DIR, src, src, NB_BUILD_DIR, NB_BUILD_DIR, src);
            nc++;
        }
    }
    char *out = run_script(dir, script);
    free(script);
    /* the output before the first separator is the setup's: it must be empty */
    char *p = strchr(out, SEP);
    int bad = 0;
    for (size_t j = 0; j < nc; j++) {
        char *have = p ? p + 1 : (char *)"";
        char *next = p ? strchr(have, SEP) : NULL;
        if (next) {
            *next = '\0';
        }
        char msg[8192];
        if (!doc_output_matches(wants[j], have, msg, sizeof msg)) {
            bad++;
            appendf(report, "%s:%d: %s\n  %s\n", page, lines_of[j],
                    cmds[j].cmd ? cmds[j].cmd : "(the C program above)", msg);
        }
        p = next;
        (*n_checked)++;
    }
    free(out);
    for (size_t j = 0; j < nc; j++) {
        free(cmds[j].cmd);
        free(cmds[j].want);
    }
    for (size_t i = 0; i < nb; i++) {
        free(blocks[i].text);
    }
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    cr_assert_eq(system(rm), 0);
    return bad;
}

/* The pages: README.md and every page in docs/ (new pages are picked up). */
static size_t doc_pages(char pages[][256], size_t cap)
{
    size_t n = 0;
    snprintf(pages[n++], 256, "README.md");
    DIR *d = opendir(NB_SOURCE_DIR "/docs");
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".md") == 0) {
            snprintf(pages[n++], 256, "docs/%s", e->d_name);
        }
    }
    closedir(d);
    return n;
}

Test(
    docs, pages_print_what_they_show, .timeout = 600,
    .description = "every marked block of README.md and the docs/ pages prints what the page shows")
{
    char pages[64][256];
    size_t n = doc_pages(pages, 64);
    char *report = NULL;
    int bad = 0, checked = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", NB_SOURCE_DIR, pages[i]);
        size_t size;
        char *text = slurp(path, &size);
        cr_assert_not_null(text, "cannot read %s", path);
        int k = 0;
        bad += doc_check_page(pages[i], text, &report, &k);
        checked += k;
        free(text);
    }
    cr_expect_eq(bad, 0,
                 "%d of %d documented commands print something else than their page "
                 "shows (fix the page, or the program):\n%s",
                 bad, checked, report ? report : "");
    /* the pages that must be checked are */
    cr_expect_gt(checked, 60, "only %d doctest commands found", checked);
    free(report);
}

Test(docs, runner_catches_drift, .description = "a page showing a wrong number fails")
{
    char *report = NULL;
    int k = 0;
    const char *good = "<!-- doctest -->\n```\n$ echo 'depth 6'; echo 'took 12.5 ms'; "
                       "echo 'a   1234   ex/s x'\ndepth 6\ntook ~3 ms\na ~9 ex/s x\n```\n";
    cr_expect_eq(doc_check_page("good.md", good, &report, &k), 0, "%s", report ? report : "");
    cr_expect_eq(k, 1);
    const char *bad = "<!-- doctest -->\n```\n$ echo 'depth 6'\ndepth 7\n```\n";
    cr_expect_eq(doc_check_page("bad.md", bad, &report, &k), 1);
    cr_assert_not_null(report);
    cr_expect_not_null(strstr(report, "bad.md:3: echo 'depth 6'"), "%s", report);
    cr_expect_not_null(strstr(report, "page:    depth 7"), "%s", report);
    cr_expect_not_null(strstr(report, "program: depth 6"), "%s", report);
    free(report);
    report = NULL;
    /* "..." lines skip, $? is the previous command's status, files persist */
    const char *forms = "<!-- doctest: file m.txt -->\n```\nhello\n```\n"
                        "<!-- doctest -->\n```\n$ cat m.txt; seq 1 5\nhello\n...\n5\n"
                        "$ false\n$ echo $?\n1\n```\n"
                        "<!-- doctest: c -->\n```c\nnb_graph *g = nb_graph_new();\n"
                        "printf(\"%d\\n\", g != NULL);\nnb_graph_free(g);\n```\n<!-- doctest: "
                        "output -->\n```\n1\n```\n";
    cr_expect_eq(doc_check_page("forms.md", forms, &report, &k), 0, "%s", report ? report : "");
    cr_expect_eq(k, 4);
    free(report);
}

/*
 * ---- the pictures: docs/img is what the programs draw ----
 *
 * tools/regen_img.sh writes each picture's DOT file from a program and
 * renders it; both are committed. Here the DOT files are made again and
 * compared byte for byte, and each SVG must show every label line of its DOT
 * file (as Graphviz escapes it), so neither can be left behind a change.
 */

/* Writes s as Graphviz writes text into SVG: &, <, > and - escaped. */
static void svg_escape(const char *s, size_t len, char *out, size_t cap)
{
    size_t at = 0;
    for (size_t i = 0; i < len && at + 8 < cap; i++) {
        const char *rep = s[i] == '&'   ? "&amp;"
                          : s[i] == '<' ? "&lt;"
                          : s[i] == '>' ? "&gt;"
                          : s[i] == '-' ? "&#45;"
                                        : NULL;
        if (rep) {
            at += (size_t)snprintf(out + at, cap - at, "%s", rep);
        } else {
            out[at++] = s[i];
        }
    }
    out[at] = '\0';
}

/* Each line of every label="..." of dot must be some <text>'s content in svg. */
static void svg_shows_labels(const char *name, const char *dot, const char *svg)
{
    for (const char *p = strstr(dot, "label=\""); p; p = strstr(p + 1, "label=\"")) {
        const char *q = p + 7;
        while (*q && *q != '"') {
            const char *end = q;
            while (*end && *end != '"' && !(end[0] == '\\' && end[1] == 'n')) {
                end += end[0] == '\\' && end[1] ? 2 : 1;
            }
            char line[512], esc[1024], want[1100];
            snprintf(line, sizeof line, "%.*s", (int)(end - q), q);
            /* DOT's \" inside a label is a quote */
            char plain[512];
            size_t k = 0;
            for (size_t i = 0; line[i] && k + 1 < sizeof plain; i++) {
                if (line[i] == '\\' && line[i + 1]) {
                    i++;
                }
                plain[k++] = line[i];
            }
            plain[k] = '\0';
            if (k > 0 && strncmp(p - 4, "head", 4) != 0) {
                svg_escape(plain, k, esc, sizeof esc);
                snprintf(want, sizeof want, ">%s</text>", esc);
                cr_expect_not_null(strstr(svg, want),
                                   "docs/img/%s.svg does not show '%s' of its .dot file; "
                                   "regenerate with tools/regen_img.sh",
                                   name, plain);
            }
            q = *end == '\\' ? end + 2 : end;
        }
    }
}

/* n with thousands separators, as the tables print it */
static void with_commas(char *out, size_t cap, long n)
{
    char d[32];
    int len = snprintf(d, sizeof d, "%ld", n), at = 0;
    for (int i = 0; i < len && at + 2 < (int)cap; i++) {
        if (i > 0 && (len - i) % 3 == 0) {
            out[at++] = ',';
        }
        out[at++] = d[i];
    }
    out[at] = '\0';
}

/*
 * The fuzzing sessions' coverage tables in docs/reliability.md are
 * fuzz/replay_coverage.sh's output, kept beside their figures as
 * docs/img/fuzz_onnx_importer*.tsv: every line of each file must be a row.
 */
Test(docs, fuzz_coverage_tables_are_the_replays_output)
{
    size_t size;
    char *md = slurp(NB_SOURCE_DIR "/docs/reliability.md", &size);
    cr_assert_not_null(md);
    static const char *const tsv[] = { "fuzz_onnx_importer", "fuzz_onnx_importer_12" };
    for (size_t t = 0; t < sizeof tsv / sizeof *tsv; t++) {
        char path[512];
        snprintf(path, sizeof path, "%s/docs/img/%s.tsv", NB_SOURCE_DIR, tsv[t]);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        char line[512];
        int rows = 0;
        cr_assert_not_null(fgets(line, sizeof line, f)); /* the header */
        while (fgets(line, sizeof line, f)) {
            long v[10];
            int got = sscanf(line, "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2],
                             &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
            cr_assert_eq(got, 10, "%s: %s", path, line);
            /* | inputs | importer lines | importer branches | exporter lines | */
            char row[160], a[32], b[32], c[32], d[32];
            with_commas(a, sizeof a, v[1]);
            with_commas(b, sizeof b, v[2]);
            with_commas(c, sizeof c, v[4]);
            with_commas(d, sizeof d, v[6]);
            snprintf(row, sizeof row, "| %s | %s | %s | %s |\n", a, b, c, d);
            cr_expect(strstr(md, row),
                      "docs/reliability.md has no row ending \"%.*s\" (%s, minute %ld)",
                      (int)strlen(row) - 1, row, tsv[t], v[0]);
            rows++;
        }
        fclose(f);
        cr_expect_gt(rows, 3, "%s", path);
    }
    free(md);
}

Test(docs, images_are_what_the_programs_draw, .timeout = 120)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/nabla-img-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tools/regen_img.sh' --dot-only '%s' '%s' 2>&1", NB_SOURCE_DIR,
             dir, NB_BUILD_DIR);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    DIR *d = opendir(NB_SOURCE_DIR "/docs/img");
    cr_assert_not_null(d);
    struct dirent *e;
    int pictures = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".svg") != 0) {
            continue;
        }
        char name[256], path[1024];
        snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
        /*
         * plots, not graphs: rnn_vanishing is checked byte for byte by
         * teaching_md_rnn_lessons_are_the_programs_output; fuzz_onnx_* are
         * measurements, drawn by fuzz/plateau.py from one fuzzing session's
         * log or from its replayed snapshots (docs/img/fuzz_onnx_importer*.tsv,
         * whose rows fuzz_coverage_tables_are_the_replays_output finds in
         * docs/reliability.md), which no test can repeat
         */
        if (strcmp(name, "rnn_vanishing") == 0 || strncmp(name, "fuzz_onnx_", 10) == 0) {
            continue;
        }
        size_t size;
        snprintf(path, sizeof path, "%s/docs/img/%s.svg", NB_SOURCE_DIR, name);
        char *svg = slurp(path, &size);
        snprintf(path, sizeof path, "%s/docs/img/%s.dot", NB_SOURCE_DIR, name);
        char *have = slurp(path, &size);
        snprintf(path, sizeof path, "%s/%s.dot", dir, name);
        char *want = slurp(path, &size);
        cr_expect_not_null(want,
                           "docs/img/%s.svg: no program draws it (add it to "
                           "tools/regen_img.sh)",
                           name);
        cr_expect_not_null(have, "docs/img/%s.svg has no docs/img/%s.dot beside it", name, name);
        if (want && have) {
            cr_expect_str_eq(have, want,
                             "docs/img/%s.dot is not what the program draws now; regenerate "
                             "with tools/regen_img.sh",
                             name);
            svg_shows_labels(name, have, svg);
            pictures++;
        }
        free(svg);
        free(have);
        free(want);
    }
    closedir(d);
    cr_expect_geq(pictures, 5);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
