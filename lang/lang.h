/*
 * lang/lang.h: the model language's internals: tokens and the lexer, shared by
 * the parser (lang/parser.c) and the writer (lang/writer.c).
 */
#ifndef NABLA_LANG_H
#define NABLA_LANG_H

#include "../graph/internal.h"

typedef enum tok_kind {
    T_EOF,
    T_NEWLINE,
    T_NAME,
    T_NUMBER,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_AT,
    T_POW,
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_ASSIGN,
    T_COLON,
    T_ERROR,
} tok_kind;

typedef struct token {
    tok_kind kind;
    const char *start; /* into the source; not NUL-terminated */
    size_t len;
    double num;        /* T_NUMBER */
    int line, col;     /* 1-based */
    const char *error; /* T_ERROR: what is wrong with a number, or which kind of bad character */
} token;

typedef struct lexer {
    const char *p, *end;
    const char *line_start;
    int line;
    long nesting;            /* open ( and [: newlines inside them join lines, as in Python */
    int open_line, open_col; /* the outermost open ( or [, for "is still open" notes */
    char open_char;
} lexer;

void nbl_lexer_init(lexer *lx, const char *src, size_t len);
token nbl_next(lexer *lx);

/* The longest name of a node or a scope, in bytes. */
#define NBL_NAME_MAX 200

/* True if s (len bytes) is a valid name: [A-Za-z_][A-Za-z0-9_]*, at most NBL_NAME_MAX long. */
bool nbl_is_name(const char *s, size_t len);

/* True if a model may not use s as a name (keywords and function names). */
bool nbl_reserved(const char *s, size_t len);

#endif /* NABLA_LANG_H */
