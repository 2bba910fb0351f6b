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
    T_DOTDOT, /* .. of a loop's range */
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

/*
 * A loop (for t in 0..T) runs at most NBL_LOOP_MAX steps, and all the loops
 * of a model together (inner ones counted once per step of the outer one) at
 * most NBL_STEPS_MAX: a loop unrolls as it is read, so these bound the graph
 * a short file can build.
 */
#define NBL_LOOP_MAX  1024
#define NBL_STEPS_MAX 4096

/* True if s (len bytes) is a valid name: [A-Za-z_][A-Za-z0-9_]*, at most NBL_NAME_MAX long. */
bool nbl_is_name(const char *s, size_t len);

/* True if a model may not use s as a name (keywords and function names). */
bool nbl_reserved(const char *s, size_t len);

/* True if s is a scope name the language writes: a name, or a name and an index (step[3]). */
bool nbl_is_scope_name(const char *s, size_t len);

/*
 * A function of the language read through attribute descriptions: an op
 * whose record has a build function, or a composite one (a few ops built by
 * a public builder, such as dropout) listed in lang/functions.c.
 */
typedef struct nbl_func {
    const char *name;
    int arity; /* inputs, or NBI_VARIADIC */
    nbi_attr_desc attrs[NBI_MAX_ATTRS];
    int n_attrs;
    nb_node *(*build)(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr);
    const char *inputs; /* "x, idx": the inputs' names for usage messages */
} nbl_func;

extern const nbl_func nbl_funcs[];
extern const size_t nbl_n_funcs;

/*
 * "did you mean ...?" (lang/suggest.c): offer every known word with
 * nbl_suggest_try; nbl_suggest_note writes "; did you mean 'sigmoid'?" for
 * the closest one close enough to be a typo (a case-only difference is the
 * closest), or "" when there is none. word must outlive the suggester.
 */
typedef struct nbl_suggest {
    const char *word;
    size_t len;
    const char *best;
    size_t best_len;
    int dist;
} nbl_suggest;
void nbl_suggest_init(nbl_suggest *s, const char *word, size_t len);
void nbl_suggest_try(nbl_suggest *s, const char *cand, size_t len);
int nbl_suggest_note(const nbl_suggest *s, char *buf, size_t cap);

#endif /* NABLA_LANG_H */
