/*
 * ops/op.h: the op record. Everything about an op lives in one record in one
 * file under ops/: its name and DOT symbol, arity, forward kernel, gradient rule
 * (written with the public builders, so gradients are graphs), DOT attribute
 * label and the formulas that docs/ops.md shows. Its shape rule lives in its
 * public builder, beside the record.
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

typedef struct nbi_op {
    const char *name;   /* "matmul": node names, DOT, docs */
    const char *symbol; /* short DOT symbol: "+", "@", "σ" */
    int arity;
    unsigned flags;
    /* Computes y from its inputs' data into y->data. Returns NB_OK or reports an error. */
    nb_status (*forward)(nb_graph *g, nb_node *y);
    /*
     * Builds, for each input i with need[i], the gradient contribution dx[i] (of
     * input i's shape) given dy (of y's shape), with public builder calls only.
     * Leaves dx[i] NULL when input i gets no gradient. NULL for ops whose
     * gradient is zero everywhere it is defined.
     */
    void (*grad)(nb_graph *g, nb_node *y, nb_node *dy, const bool *need, nb_node **dx);
    /* Writes attributes for DOT ("axis=1") to buf; NULL when there are none. */
    void (*label)(const nb_node *y, char *buf, size_t cap);
    const char *formula;      /* "y = a @ b" */
    const char *grad_formula; /* "da = dy @ bᵀ, db = aᵀ @ dy" */
} nbi_op;

#define NBI_OP(ID, name) extern const nbi_op nbi_op_##name;
#include "ops.def"
#undef NBI_OP

/* The op table, indexed by nbi_op_id. */
extern const nbi_op *const nbi_ops[NBI_OP_COUNT];

#endif /* NABLA_OP_H */
