/*
 * ops/op.h: the op record. Everything about an op lives in one record in one
 * file under ops/: its name and DOT symbol, arity, attributes (described once,
 * so DOT, the model language's writer and parser, `nabla trace` and docs/ops.md
 * print and read them without code of their own), forward kernel, gradient
 * rule (written with the public builders, so gradients are graphs) and the
 * formulas that docs/ops.md shows. Its shape rule lives in its builder, beside
 * the record.
 */
#ifndef NABLA_OP_H
#define NABLA_OP_H

#include "nabla.h"

typedef enum nbi_op_id {
#define NBI_OP(ID, name) NBI_OP_##ID,
#include "ops.def"
#undef NBI_OP
    NBI_OP_COUNT
} nbi_op_id;

/* Record flags. */
enum {
    NBI_OP_LEAF = 1u << 0,        /* input, param, const: no kernel, owns its values */
    NBI_OP_ELEMENTWISE = 1u << 1, /* y[i] depends on x[i] only: may write over a dying input */
    NBI_OP_VIEW = 1u << 2,        /* y shares input 0's storage (reshape) */
};

/*
 * An attribute value of a node, of the kind its op's record describes
 * (below): an integer or flag in i, a real in f, or a list of n integers.
 */
#define NBI_ATTR_LIST 8
typedef struct nbi_attr {
    int32_t n; /* entries of list (NBI_ATTR_INTS) */
    union {
        int64_t i; /* NBI_ATTR_INT, NBI_ATTR_BOOL */
        double f;  /* NBI_ATTR_FLOAT */
        int32_t list[NBI_ATTR_LIST];
    };
} nbi_attr;

/* Kinds of attribute; a node stores each as an nbi_attr. */
typedef enum nbi_attr_kind {
    NBI_ATTR_INT,   /* a whole number: an axis, a count, an index */
    NBI_ATTR_BOOL,  /* a flag: written as its bare name when true (keepdims) */
    NBI_ATTR_FLOAT, /* a real: a probability, an epsilon, a slope */
    NBI_ATTR_INTS,  /* a list of at most NBI_ATTR_LIST whole numbers: axes, pads */
} nbi_attr_kind;

/* One attribute of an op: its keyword in the language, its kind and default. */
typedef struct nbi_attr_desc {
    const char *name;
    nbi_attr_kind kind;
    double def; /* default of a scalar kind; a list's default is empty */
    /*
     * Shown even when equal to the default (an axis that must always be
     * read), and required in the language when there is no default to take.
     */
    bool required;
    /* Shown even when equal to its default: an axis a reader of DOT needs. */
    bool shown;
    /*
     * A word that stands for the default in usage messages, docs and the
     * language, where the number itself means nothing to a reader: "end"
     * for a slice's stop, "none" for an unset label. NULL for most.
     */
    const char *def_word;
} nbi_attr_desc;

#define NBI_MAX_ATTRS 6

/* Arity of ops that take any number of inputs from one (concat). */
#define NBI_VARIADIC (-1)

typedef struct nbi_op {
    const char *name;   /* "matmul": node names, DOT, docs */
    const char *symbol; /* short DOT symbol: "+", "@", "σ" */
    int arity;          /* inputs, or NBI_VARIADIC */
    unsigned flags;
    nbi_attr_desc attrs[NBI_MAX_ATTRS]; /* the first n_attrs entries */
    int n_attrs;
    /*
     * Builds the op from n inputs and attribute values (one per attrs[] entry)
     * through the same checks as its public builder: the model language and
     * importers call it. NULL for ops the language spells its own way.
     */
    nb_node *(*build)(nb_graph *g, int n, nb_node *const *in, const nbi_attr *attr);
    const char *inputs; /* the inputs' names for usage messages and docs: "c, a, b" */
    /* Computes y from its inputs' data into y->data. Returns NB_OK or reports an error. */
    nb_status (*forward)(nb_graph *g, nb_node *y);
    /*
     * Builds, for each input i with need[i], the gradient contribution dx[i] (of
     * input i's shape) given dy (of y's shape), with public builder calls only.
     * Leaves dx[i] NULL when input i gets no gradient. NULL for ops whose
     * gradient is zero everywhere it is defined.
     */
    void (*grad)(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx);
    /*
     * Writes attributes for DOT ("axis=1") to buf. NULL: nbi_attr_label writes
     * every attribute that differs from its default.
     */
    void (*label)(const nb_node *y, char *buf, size_t cap);
    /*
     * Bytes of temporary memory forward needs for node y (im2col buffers),
     * the same whatever the thread count; NULL or 0 for none. The executor
     * plans it in the workspace beside the step's output, live for that step
     * only, and hands it to forward as g->scratch, so runs allocate nothing.
     */
    size_t (*scratch)(const nb_node *y);
    /*
     * forward for one f32 element: y = f(x, z) with x input 0's value and z
     * input 1's (unused by unary ops); the same bits as forward. The executor
     * calls it for steps whose output and inputs are f32 scalars (bench W2's
     * graphs). NULL: forward always runs. NBI_SCALAR_F32 in ops/kernel.h
     * writes it from the kernel's own expression. It must be a pure function
     * of x and z (no mode, no randomness, no state): a run resumes from the
     * values of the last scalar run when its leaves are unchanged.
     */
    float (*scalar_f32)(float x, float z);
    const char *formula;      /* "y = a @ b" */
    const char *grad_formula; /* "da = dy @ bᵀ, db = aᵀ @ dy" */
} nbi_op;

#define NBI_OP(ID, name) extern const nbi_op nbi_op_##name;
#include "ops.def"
#undef NBI_OP

/* The op table, indexed by nbi_op_id. */
extern const nbi_op *const nbi_ops[NBI_OP_COUNT];

/* True if attribute k of node y shows: it differs from its default or is required. */
bool nbi_attr_shown(const nb_node *y, int k);

/* Writes attribute k of y as the language and DOT spell it: "axis=1", "keepdims", "pads=[1, 2]". */
void nbi_attr_format(const nb_node *y, int k, char *buf, size_t cap);

/* The generic DOT label: every shown attribute, separated by spaces. */
void nbi_attr_label(const nb_node *y, char *buf, size_t cap);

/* Writes the label of y (its op's own, or the generic one) to buf; "" when none. */
void nbi_node_label(const nb_node *y, char *buf, size_t cap);

#endif /* NABLA_OP_H */
