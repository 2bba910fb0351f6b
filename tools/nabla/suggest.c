/*
 * tools/nabla/suggest.c: "did you mean ...?" for the command line: the known
 * word (command, option, optimizer, node name) closest to a misspelt one by
 * edit distance, offered only when close enough to be a likely typo. The
 * same rule as the model language's (lang/suggest.c), which the command
 * cannot call: it uses only the public header.
 */
#include "cli.h"

#include <ctype.h>
#include <string.h>

#define MAX_LEN 64

/* Optimal string alignment distance, case-insensitive; a case-only difference is 0. */
static int distance(const char *a, size_t n, const char *b, size_t m)
{
    int d[MAX_LEN + 1][MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++) {
        d[i][0] = (int)i;
    }
    for (size_t j = 0; j <= m; j++) {
        d[0][j] = (int)j;
    }
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ai != bj);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[n][m];
}

void suggest_init(suggest *s, const char *word, size_t len)
{
    *s = (suggest){ .word = word, .len = len, .dist = -1 };
}

void suggest_try(suggest *s, const char *cand)
{
    size_t len = strlen(cand);
    /* options are compared without their dashes: "--lr" and "-lr" */
    const char *w = s->word, *c = cand;
    size_t wn = s->len, cn = len;
    while (wn && *w == '-') {
        w++;
        wn--;
    }
    while (cn && *c == '-') {
        c++;
        cn--;
    }
    if (wn == 0 || wn > MAX_LEN || cn == 0 || cn > MAX_LEN ||
        (s->len == len && memcmp(cand, s->word, len) == 0)) {
        return;
    }
    int d = distance(w, wn, c, cn);
    /* about one edit in four letters; a word of one or two letters only by case */
    int limit = wn <= 2 ? 0 : wn <= 5 ? 1 : wn <= 8 ? 2 : 3;
    if (d <= limit && (s->dist < 0 || d < s->dist)) {
        s->best = cand;
        s->dist = d;
    }
}

const char *suggest_note(const suggest *s, char *buf, size_t cap)
{
    if (!s->best) {
        buf[0] = '\0';
    } else {
        snprintf(buf, cap, "; did you mean '%s'?", s->best);
    }
    return buf;
}
