/*
 * lang/suggest.c: "did you mean ...?" for the model language's messages: the
 * known word closest to a misspelt one, by edit distance (insertions,
 * deletions, substitutions and swaps of neighbours, each one step), offered
 * only when it is close enough to be a likely typo.
 */
#include "lang.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_LEN 64 /* longer words get no suggestion */

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

void nbl_suggest_init(nbl_suggest *s, const char *word, size_t len)
{
    *s = (nbl_suggest){ .word = word, .len = len, .dist = -1 };
}

void nbl_suggest_try(nbl_suggest *s, const char *cand, size_t len)
{
    if (s->len == 0 || s->len > MAX_LEN || len == 0 || len > MAX_LEN ||
        (len == s->len && memcmp(cand, s->word, len) == 0)) {
        return;
    }
    int d = distance(s->word, s->len, cand, len);
    /* about one edit in four letters; a word of one or two letters only by case ("z" is not "x") */
    int limit = s->len <= 2 ? 0 : s->len <= 5 ? 1 : s->len <= 8 ? 2 : 3;
    if (d <= limit && (s->dist < 0 || d < s->dist)) {
        s->best = cand;
        s->best_len = len;
        s->dist = d;
    }
}

int nbl_suggest_note(const nbl_suggest *s, char *buf, size_t cap)
{
    if (!s->best) {
        if (cap) {
            buf[0] = '\0';
        }
        return 0;
    }
    return snprintf(buf, cap, "; did you mean '%.*s'?", (int)s->best_len, s->best);
}
