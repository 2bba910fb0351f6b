/*
 * lang/lexer.c: tokens of the model language. Newlines end statements except
 * inside parentheses and brackets; '#' starts a comment to the end of the line.
 * Numbers are decimal with an optional fraction and exponent; a sign is a
 * separate token. ".." (a loop's range, 0..T) ends a number before it.
 */
#include "lang.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void nbl_lexer_init(lexer *lx, const char *src, size_t len)
{
    /* a UTF-8 byte order mark, as some editors write, is not part of the model */
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) {
        src += 3;
        len -= 3;
    }
    lx->p = src;
    lx->end = src + len;
    lx->line_start = src;
    lx->line = 1;
    lx->nesting = 0;
    lx->open_line = lx->open_col = 0;
    lx->open_char = 0;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool nbl_is_name(const char *s, size_t len)
{
    if (len == 0 || len > NBL_NAME_MAX || !is_alpha(s[0])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!is_alpha(s[i]) && !is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

bool nbl_reserved(const char *s, size_t len)
{
    /* clang-format off */
    static const char *const words[] = {
        "input", "param", "const", "state", "scope", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
        "relu", "neg", "sign", "step", "pow", "sum", "mean", "max", "argmax_mask", "matmul",
        "transpose", "reshape", "broadcast_to", "sum_to", "softmax", "log_softmax", "one_hot",
        "cross_entropy", "bce_logits", "mse", "fill", "sigmoid_grad", "tanh_grad",
        "relu_grad", "for", "rnn_cell", "lstm_cell", "gru_cell",
        /* argument words: a variable of that name would hide them */
        "keepdims", "transpose_a", "transpose_b", "true", "false",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0) {
            return true;
        }
    }
    /* the functions read through their records, and their flags (bare words) */
    for (size_t i = 0; i < NBI_OP_COUNT + nbl_n_funcs; i++) {
        const char *name = i < NBI_OP_COUNT ? nbi_ops[i]->name : nbl_funcs[i - NBI_OP_COUNT].name;
        const nbi_attr_desc *attrs =
            i < NBI_OP_COUNT ? nbi_ops[i]->attrs : nbl_funcs[i - NBI_OP_COUNT].attrs;
        int n_attrs = i < NBI_OP_COUNT ? nbi_ops[i]->n_attrs : nbl_funcs[i - NBI_OP_COUNT].n_attrs;
        if (i < NBI_OP_COUNT && !nbi_ops[i]->build) {
            continue;
        }
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            return true;
        }
        for (int k = 0; k < n_attrs; k++) {
            if (attrs[k].kind == NBI_ATTR_BOOL && strlen(attrs[k].name) == len &&
                memcmp(attrs[k].name, s, len) == 0) {
                return true;
            }
        }
    }
    return false;
}

bool nbl_is_scope_name(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[n] != '[') {
        n++;
    }
    if (!nbl_is_name(s, n)) {
        return false;
    }
    if (n == len) {
        return true;
    }
    /* name[digits], the digits without a leading zero (step[0], step[12]) */
    size_t d = len - n - 2;
    if (len < n + 3 || s[len - 1] != ']' || (d > 1 && s[n + 1] == '0') || d > 9) {
        return false;
    }
    for (size_t i = n + 1; i < len - 1; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static token make(lexer *lx, tok_kind kind, const char *start, size_t len)
{
    return (token){ .kind = kind,
                    .start = start,
                    .len = len,
                    .line = lx->line,
                    .col = (int)(start - lx->line_start) + 1 };
}

static void open_bracket(lexer *lx, const char *s)
{
    if (lx->nesting++ == 0) {
        lx->open_line = lx->line;
        lx->open_col = (int)(s - lx->line_start) + 1;
        lx->open_char = *s;
    }
}

token nbl_next(lexer *lx)
{
    for (;;) {
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r')) {
            lx->p++;
        }
        if (lx->p < lx->end && *lx->p == '#') {
            while (lx->p < lx->end && *lx->p != '\n') {
                lx->p++;
            }
        }
        if (lx->p >= lx->end) {
            return make(lx, T_EOF, lx->p, 0);
        }
        if (*lx->p == '\n') {
            token t = make(lx, T_NEWLINE, lx->p, 1);
            lx->p++;
            lx->line++;
            lx->line_start = lx->p;
            if (lx->nesting > 0) {
                continue; /* inside ( or [: the statement goes on */
            }
            return t;
        }
        break;
    }
    const char *s = lx->p;
    char c = *s;
    if (is_alpha(c)) {
        while (lx->p < lx->end && (is_alpha(*lx->p) || is_digit(*lx->p))) {
            lx->p++;
        }
        return make(lx, T_NAME, s, (size_t)(lx->p - s));
    }
    if (is_digit(c) || (c == '.' && s + 1 < lx->end && is_digit(s[1]))) {
        const char *q = s;
        const char *why = NULL;
        while (q < lx->end && is_digit(*q)) {
            q++;
        }
        if (q < lx->end && *q == '.' && !(q + 1 < lx->end && q[1] == '.')) {
            q++;
            while (q < lx->end && is_digit(*q)) {
                q++;
            }
        }
        if (q < lx->end && (*q == 'e' || *q == 'E')) {
            const char *e = q + 1;
            if (e < lx->end && (*e == '+' || *e == '-')) {
                e++;
            }
            if (e < lx->end && is_digit(*e)) {
                while (e < lx->end && is_digit(*e)) {
                    e++;
                }
            } else {
                why = "the exponent has no digits";
            }
            q = e;
        }
        if (!why && q < lx->end && *q == '.' && !(q + 1 < lx->end && q[1] == '.')) {
            why = "a second '.'";
        } else if (!why && q < lx->end && is_alpha(*q)) {
            why = "a number runs into a name";
        }
        if (why) {
            /* show the whole bad word: 1.2.3, 1e, 2x */
            while (q < lx->end && (is_alpha(*q) || is_digit(*q) || *q == '.')) {
                q++;
            }
        }
        token t = make(lx, T_NUMBER, s, (size_t)(q - s));
        lx->p = q;
        char buf[128];
        if (!why && t.len >= sizeof buf) {
            why = "more than 127 characters";
        }
        if (!why) {
            memcpy(buf, s, t.len);
            buf[t.len] = '\0';
            t.num = strtod(buf, NULL);
            if (t.num == HUGE_VAL) {
                why = "too large for a double";
            }
        }
        if (why) {
            t.kind = T_ERROR;
            t.error = why;
        }
        return t;
    }
    lx->p++;
    switch (c) {
    case '+':
        return make(lx, T_PLUS, s, 1);
    case '-':
        return make(lx, T_MINUS, s, 1);
    case '*':
        if (lx->p < lx->end && *lx->p == '*') {
            lx->p++;
            return make(lx, T_POW, s, 2);
        }
        return make(lx, T_STAR, s, 1);
    case '/':
        return make(lx, T_SLASH, s, 1);
    case '@':
        return make(lx, T_AT, s, 1);
    case '(':
        open_bracket(lx, s);
        return make(lx, T_LPAREN, s, 1);
    case ')':
        lx->nesting -= lx->nesting > 0;
        return make(lx, T_RPAREN, s, 1);
    case '[':
        open_bracket(lx, s);
        return make(lx, T_LBRACK, s, 1);
    case ']':
        lx->nesting -= lx->nesting > 0;
        return make(lx, T_RBRACK, s, 1);
    case '{':
        return make(lx, T_LBRACE, s, 1);
    case '}':
        return make(lx, T_RBRACE, s, 1);
    case ',':
        return make(lx, T_COMMA, s, 1);
    case '=':
        return make(lx, T_ASSIGN, s, 1);
    case ':':
        return make(lx, T_COLON, s, 1);
    default: {
        if (c == '.' && lx->p < lx->end && *lx->p == '.') {
            lx->p++;
            return make(lx, T_DOTDOT, s, 2);
        }
        /* the parser words the message from the byte (see advance in parser.c) */
        token t = make(lx, T_ERROR, s, 1);
        t.error = (unsigned char)c >= 0x80 ? "a non-ASCII character" : "an unexpected character";
        return t;
    }
    }
}
