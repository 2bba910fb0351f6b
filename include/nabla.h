/*
 * nabla.h: the public interface of nabla, a reverse-mode automatic-differentiation
 * engine whose gradients are graphs.
 *
 * This header is the reference documentation. Everything a program needs is here;
 * nothing else is installed.
 *
 * Overview
 * --------
 * A program builds a directed acyclic graph (nb_graph) of nodes (nb_node): leaves
 * (inputs, parameters, constants) and op nodes made by builder calls such as
 * nb_add or nb_matmul. Shapes are inferred and checked when a node is built.
 * nb_grad appends the gradient of a scalar output to the same graph as ordinary
 * nodes, so a gradient can be run, exported as DOT, measured for depth and
 * differentiated again. nb_graph_run computes requested outputs; nb_depth
 * measures the longest path, over primitive ops or over named scopes; and
 * nb_graph_write_dot draws the graph for Graphviz.
 *
 * Errors are sticky, as in cairo: the first bad builder call records a message
 * on the graph and returns NULL; every later builder call that is given NULL
 * returns NULL quietly. Build the whole model, then check nb_graph_status once.
 * nabla never aborts or exits on a caller's mistake.
 *
 * Example: logistic regression, the book's figure 1.3
 * ---------------------------------------------------
 *
 *     #include <nabla.h>
 *     #include <stdio.h>
 *
 *     int main(void)
 *     {
 *         nb_graph *g = nb_graph_new();
 *         nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
 *         nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_normal(0, 0.1));
 *         nb_scope_push(g, "logistic_regression");
 *         nb_node *y = nb_sigmoid(g, nb_sum(g, nb_mul(g, w, x)));
 *         nb_scope_pop(g);
 *         nb_node_set_name(g, x, "x");
 *         nb_node_set_name(g, w, "w");
 *         nb_node_set_name(g, y, "y");
 *
 *         nb_node *dw;
 *         nb_grad(g, y, 1, &w, &dw);
 *         if (nb_graph_status(g) != NB_OK) {
 *             fprintf(stderr, "%s\n", nb_graph_error(g));
 *             return 1;
 *         }
 *         printf("depth over ops: %d\n", nb_depth(g, y, NB_DEPTH_OPS));       // 3
 *         printf("depth over scopes: %d\n", nb_depth(g, y, NB_DEPTH_SCOPES)); // 1
 *         printf("gradient depth: %d\n", nb_depth(g, dw, NB_DEPTH_OPS));
 *
 *         double xs[3] = { 1, 2, 3 };
 *         nb_node_write_f64(g, x, xs, 3);
 *         nb_node *outs[2] = { y, dw };
 *         if (nb_graph_run(g, 2, outs) == NB_OK) {
 *             const double *v = nb_node_data(y);
 *             printf("y = %g\n", v[0]);
 *         }
 *         nb_dot_options dot = nb_dot_defaults();
 *         dot.highlight = y;
 *         nb_graph_write_dot(g, stdout, &dot);
 *         nb_graph_free(g);
 *         return 0;
 *     }
 *
 * Conventions
 * -----------
 * - Shapes are given as a rank and an array of dimensions (int64_t); NB_SHAPE(4, 3)
 *   expands to both. A scalar has rank 0 (pass 0 and NULL).
 * - Storage is row-major and contiguous. dtypes are float32, float64, and int32
 *   (int32 only for class labels and indices).
 * - Elementwise binary ops broadcast as NumPy does: shapes are aligned at the
 *   right; each pair of dimensions must be equal or one of them 1.
 * - Negative axes count from the end (-1 is the last axis).
 * - Pointers returned by nabla are owned by the graph and live until
 *   nb_graph_free, unless a function says otherwise.
 * - A graph may be used by one thread at a time; separate graphs may be used by
 *   separate threads at once. There is no global state.
 */
#ifndef NABLA_H
#define NABLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NABLA_BUILD) && defined(__GNUC__)
#define NB_API __attribute__((visibility("default")))
#else
#define NB_API
#endif

#define NB_VERSION_MAJOR  0
#define NB_VERSION_MINOR  1
#define NB_VERSION_PATCH  0
#define NB_VERSION_STRING "0.1.0"

/* ======================================================================== */
/* Status                                                                   */
/* ======================================================================== */

/* Result of a call. The first error on a graph sticks (see nb_graph_status). */
typedef enum nb_status {
    NB_OK = 0,
    NB_ERR_NOMEM,  /* an allocation failed */
    NB_ERR_ARG,    /* a bad argument: a NULL node, an unknown option, a bad count */
    NB_ERR_SHAPE,  /* shapes do not fit the op */
    NB_ERR_RANK,   /* a rank the op does not accept */
    NB_ERR_DTYPE,  /* mixed dtypes, or a dtype the op does not accept */
    NB_ERR_AXIS,   /* an axis outside the node's rank */
    NB_ERR_GRAPH,  /* a node that belongs to another graph */
    NB_ERR_VALUE,  /* a bad value met while running (a label out of range) */
    NB_ERR_IO,     /* a file could not be read or written */
    NB_ERR_FORMAT, /* a file is malformed */
} nb_status;

/* Returns a short constant English phrase for a status ("shape mismatch"). */
NB_API const char *nb_status_string(nb_status status);

/* Returns the library version as "major.minor.patch". */
NB_API const char *nb_version(void);

/*
 * Returns the name of the configuration the matrix products run on: BLIS's
 * configuration for this CPU ("haswell", "zen3", "skx", ...), or "plain" in a
 * build without BLIS (-Dgemm=plain). Products whose inner dimension spans
 * more than one of the configuration's blocks are summed in its order, so
 * two CPUs with different configurations can differ in the last bits of a
 * product, and a long float32 training run can end a digit apart; on one
 * configuration every run gives the same bits (docs/reliability.md).
 */
NB_API const char *nb_blas_config(void);

/* ======================================================================== */
/* Types, dtypes and shapes                                                 */
/* ======================================================================== */

typedef struct nb_graph nb_graph;
typedef struct nb_node nb_node;

typedef enum nb_dtype {
    NB_DTYPE_F32 = 0,
    NB_DTYPE_F64 = 1,
    NB_DTYPE_I32 = 2, /* labels and indices: leaves, nb_argmax, nb_gather of i32 */
} nb_dtype;

/* Returns the size in bytes of one element of dtype (4, 8 or 4). */
NB_API size_t nb_dtype_size(nb_dtype dtype);

/* Returns "f32", "f64" or "i32". */
NB_API const char *nb_dtype_name(nb_dtype dtype);

/* The largest rank a node may have. */
#define NB_MAX_RANK 4

/* The largest number of inputs an op takes (concat of many tensors). */
#define NB_MAX_ARITY 256

/* NB_SHAPE(d0, d1, ...) expands to `rank, (const int64_t[]){d0, d1, ...}`. */
#define NB_SHAPE(...)                                                                              \
    (int)(sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), (const int64_t[])           \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

/* ======================================================================== */
/* Graphs                                                                   */
/* ======================================================================== */

/*
 * An allocator in the style of Lua's lua_Alloc. Called with new_size == 0 it frees
 * ptr (which may be NULL) and returns NULL; otherwise it behaves as realloc(ptr,
 * new_size), returning NULL on failure and leaving ptr untouched. old_size is the
 * size of the block at ptr (0 when ptr is NULL), given so a counting allocator
 * needs no header.
 */
typedef void *(*nb_alloc_fn)(void *user, void *ptr, size_t old_size, size_t new_size);

/*
 * Creates an empty graph using malloc/realloc/free.
 * Returns NULL only when memory is exhausted. Release with nb_graph_free.
 */
NB_API nb_graph *nb_graph_new(void);

/*
 * Creates an empty graph whose every allocation goes through alloc(user, ...).
 * Tests use this to count allocations and to fail the k-th one.
 * Returns NULL if alloc is NULL or the first allocation fails.
 */
NB_API nb_graph *nb_graph_new_with_allocator(nb_alloc_fn alloc, void *user);

/* Releases the graph and everything it owns: nodes, values, names, plans. NULL is allowed. */
NB_API void nb_graph_free(nb_graph *g);

/*
 * Empties g as nb_graph_new leaves a graph (no nodes, names, scopes or
 * plans; status NB_OK; training mode, the simplifier on, seed 0) but keeps
 * its memory for the nodes to come: a program that builds a graph, runs it
 * and starts over (a scalar graph per example, as in teaching backprop)
 * reuses the pages instead of faulting fresh ones in each time. Every node
 * of g, and everything made from them (optimizers, nb_grad's results), is
 * invalid afterwards; nb_graph_free releases the kept memory. NULL is allowed.
 */
NB_API void nb_graph_reset(nb_graph *g);

/*
 * Returns the graph's sticky status: NB_OK, or the code of the first builder error.
 * A NULL graph reports NB_ERR_ARG.
 */
NB_API nb_status nb_graph_status(const nb_graph *g);

/*
 * Returns the message of the graph's first builder error, or, when the graph is
 * healthy, of the last run, data, depth or DOT call if it failed ("" if it
 * succeeded: each such call clears the message when it starts).
 * Messages name the op, the nodes and their shapes:
 *     matmul(x[4,3], w[2,5]): inner dimensions 3 and 2 differ
 * The string is owned by the graph and valid until the next call on it.
 */
NB_API const char *nb_graph_error(const nb_graph *g);

/*
 * Records a builder error on g from code that builds models on this API
 * (layers, cells, a program's own helpers), with the same rules as the
 * builders' errors: the first one sticks and later ones are ignored; the
 * message is "what(inputs): detail", inputs[0..n-1] listed with their names
 * and shapes as the builders list theirs (n may be 0). status must not be
 * NB_OK. Does nothing when g is NULL.
 */
NB_API void nb_graph_fail(nb_graph *g, nb_status status, const char *what, int n,
                          nb_node *const *inputs, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/*
 * Seeds the graph's random generator (used by parameter initializers). A new graph
 * is seeded with 0, so runs are reproducible unless the program chooses otherwise.
 */
NB_API void nb_graph_seed(nb_graph *g, uint64_t seed);

/* Returns the number of nodes in the graph, gradient nodes included. */
NB_API size_t nb_graph_node_count(const nb_graph *g);

/* Returns the node with the given id (0 .. count-1, in creation order), or NULL. */
NB_API nb_node *nb_graph_node(const nb_graph *g, size_t id);

/* Returns the first node (lowest id) whose name is name, or NULL. */
NB_API nb_node *nb_graph_find(nb_graph *g, const char *name);

/*
 * Writes the graph's parameters, in creation order, to out[0..cap-1] and
 * returns how many the graph has (which may exceed cap: call with cap 0 to
 * count). out may be NULL when cap is 0. For handing a model built from
 * layers to nb_optim_new and nb_checkpoint_save.
 */
NB_API size_t nb_graph_params(const nb_graph *g, nb_node **out, size_t cap);

/*
 * As nb_graph_params, for the graph's state nodes (nb_state: batch
 * normalization's running statistics), which nb_graph_params leaves out
 * because optimizers refuse them. For handing them to nb_checkpoint_save and
 * nb_checkpoint_load beside the parameters.
 */
NB_API size_t nb_graph_states(const nb_graph *g, nb_node **out, size_t cap);

/* Memory held by a graph, for measurements and tests. */
typedef struct nb_memory_stats {
    size_t nodes;           /* number of nodes */
    size_t arena_bytes;     /* node records, shapes, names and leaf values */
    size_t workspace_bytes; /* the shared buffer that holds op values while running */
    size_t plan_bytes;      /* cached execution plans */
} nb_memory_stats;

/* Fills *stats with the graph's current memory use. */
NB_API void nb_graph_memory(const nb_graph *g, nb_memory_stats *stats);

/* ======================================================================== */
/* Leaves: inputs, parameters, constants                                    */
/* ======================================================================== */

/*
 * Creates an input: a leaf whose values the program sets before each run with
 * nb_node_write, without rebuilding the graph. Its values start at zero.
 * Errors: NB_ERR_RANK (rank outside 0..NB_MAX_RANK), NB_ERR_SHAPE (a dimension
 * below 1, or a size that overflows), NB_ERR_DTYPE, NB_ERR_NOMEM.
 */
NB_API nb_node *nb_input(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape);

/* How a parameter's initial values are drawn. Make one with the nb_init_ functions. */
typedef enum nb_init_kind {
    NB_INIT_CONSTANT,       /* every element = a */
    NB_INIT_UNIFORM,        /* U(a, b) */
    NB_INIT_NORMAL,         /* N(mean a, std b) */
    NB_INIT_XAVIER_UNIFORM, /* U(-l, l), l = gain * sqrt(6 / (fan_in + fan_out)) */
    NB_INIT_XAVIER_NORMAL,  /* N(0, gain * sqrt(2 / (fan_in + fan_out))) */
    NB_INIT_HE_UNIFORM,     /* U(-l, l), l = gain * sqrt(6 / fan_in) */
    NB_INIT_HE_NORMAL,      /* N(0, gain * sqrt(2 / fan_in)) */
} nb_init_kind;

/*
 * An initializer. For the Xavier/Glorot and He kinds, a is the gain (1 if 0) and
 * fan_in/fan_out come from the shape unless set: for rank 2, w[fan_in, fan_out]
 * (the layout of w in x @ w); for rank 3 and 4, a convolution weight
 * [out, in/groups, k...] as nb_conv1d/nb_conv2d take it, fan_in = shape[1] * k
 * and fan_out = shape[0] * k with k the product of the kernel dimensions
 * (PyTorch's rule); for rank 1 both are shape[0]; for rank 0 both are 1.
 */
typedef struct nb_init {
    nb_init_kind kind;
    double a, b;
    int64_t fan_in, fan_out; /* 0: derive from the shape */
} nb_init;

NB_API nb_init nb_init_constant(double value);
NB_API nb_init nb_init_uniform(double low, double high);
NB_API nb_init nb_init_normal(double mean, double std);
NB_API nb_init nb_init_xavier_uniform(void);
NB_API nb_init nb_init_xavier_normal(void);
NB_API nb_init nb_init_he_uniform(void);
NB_API nb_init nb_init_he_normal(void);

/*
 * Creates a trainable parameter filled by init from the graph's random generator.
 * Errors: as nb_input, and NB_ERR_ARG for an unknown init kind or a bad range
 * (uniform with high < low, normal with std < 0). dtype must be f32 or f64.
 */
NB_API nb_node *nb_param(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, nb_init init);

/*
 * Creates a constant holding a copy of data (nb_dtype_size(dtype) * size bytes,
 * row-major). Errors: as nb_input, NB_ERR_ARG if data is NULL.
 */
NB_API nb_node *nb_const(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape,
                         const void *data);

/* Creates a rank-0 constant of a floating dtype holding value. */
NB_API nb_node *nb_scalar(nb_graph *g, nb_dtype dtype, double value);

/*
 * Creates an op node with no inputs whose value is a tensor of the given shape
 * filled with value. Unlike nb_const it holds no storage until run.
 * nb_grad uses it for the zero gradient of a node the output does not depend on.
 */
NB_API nb_node *nb_fill(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, double value);

/* ======================================================================== */
/* Nodes                                                                    */
/* ======================================================================== */

/* What a node is. */
typedef enum nb_kind {
    NB_KIND_INPUT,
    NB_KIND_PARAM,
    NB_KIND_CONST,
    NB_KIND_OP,
    NB_KIND_STATE, /* values ops update while running, not an optimizer (nb_state) */
} nb_kind;

/*
 * Names a node and returns it (NULL passes through, so calls chain). Unnamed
 * nodes have stable generated names: the op name and its 1-based ordinal among
 * the graph's nodes of that op ("mul_3", "input_1"). The name is copied.
 * Errors: NB_ERR_ARG for a NULL or empty name, NB_ERR_GRAPH for a foreign node.
 */
NB_API nb_node *nb_node_set_name(nb_graph *g, nb_node *n, const char *name);

/* Returns the node's name (given or generated). Owned by the graph. */
NB_API const char *nb_node_name(nb_node *n);

/* Returns the node's id: its position in creation order, stable for the graph's life. */
NB_API size_t nb_node_id(const nb_node *n);

NB_API nb_kind nb_node_kind(const nb_node *n);

/* Returns the op's name: "add", "matmul", ... and "input", "param", "const", "state" for leaves. */
NB_API const char *nb_node_op_name(const nb_node *n);

NB_API nb_dtype nb_node_dtype(const nb_node *n);
NB_API int nb_node_rank(const nb_node *n);

/* Returns the node's dimensions (nb_node_rank of them). Owned by the graph. */
NB_API const int64_t *nb_node_shape(const nb_node *n);

/* Returns the number of elements (1 for a scalar). */
NB_API size_t nb_node_size(const nb_node *n);

/* Returns the number of inputs of the node's op (0 for leaves). */
NB_API int nb_node_arity(const nb_node *n);

/* Returns input i of the node, or NULL when i is out of range. */
NB_API nb_node *nb_node_input(const nb_node *n, int i);

/* Returns true if nb_grad created the node. */
NB_API bool nb_node_is_grad(const nb_node *n);

/*
 * Returns the name of the innermost scope the node was built in, or NULL.
 * Gradient nodes live in a mirror scope named "grad:<forward scope>".
 */
NB_API const char *nb_node_scope(const nb_node *n);

/*
 * Returns the name of the node's element at nb_depth level `level` >= 1: the
 * scope instance enclosing it at nesting level `level` (1 is its outermost
 * scope), or its innermost scope when it is nested less deeply. Returns NULL
 * when the node is in no scope or level < 1. Owned by the graph.
 */
NB_API const char *nb_node_scope_at(const nb_node *n, int level);

/*
 * Returns the node's values (nb_node_size elements of its dtype, row-major), or
 * NULL when it has none. Leaves always have values; the memory is writable
 * (writing a parameter's values is how optimizers update it). An op node has
 * values after a run that computed it and kept it (a requested output, or every
 * node with NB_RUN_KEEP_ALL), until the next run on the graph.
 */
NB_API void *nb_node_data(const nb_node *n);

/*
 * Copies count elements of the node's dtype from src into a leaf's values.
 * Errors (returned, and reported by nb_graph_error, but not sticky): NB_ERR_ARG
 * if n is NULL, not a leaf, or count is not nb_node_size(n); NB_ERR_GRAPH if n
 * belongs to another graph.
 */
NB_API nb_status nb_node_write(nb_graph *g, nb_node *n, const void *src, size_t count);

/*
 * As nb_node_write, converting from double (to float, or to int32 by truncation).
 * Also NB_ERR_VALUE for a value that does not fit in int32.
 */
NB_API nb_status nb_node_write_f64(nb_graph *g, nb_node *n, const double *src, size_t count);

/*
 * Copies a node's values, converted to double, into dst (count elements).
 * Errors (not sticky): NB_ERR_ARG if count is not nb_node_size(n) or the node has
 * no values; NB_ERR_GRAPH if n belongs to another graph.
 */
NB_API nb_status nb_node_read_f64(nb_graph *g, const nb_node *n, double *dst, size_t count);

/* ======================================================================== */
/* Ops                                                                      */
/* ======================================================================== */
/*
 * Every builder takes the graph first and returns the new node, or NULL after
 * recording an error on the graph (or quietly, when an input is NULL and the
 * graph already holds an error). Inputs must be floating (f32 or f64) and of
 * one dtype unless stated. Every builder also records NB_ERR_SHAPE when its
 * result would not be a valid shape (each dimension 1 to 2^31-1, at most
 * PTRDIFF_MAX bytes), as a broadcast or product of valid inputs can be. The
 * formula and the gradient rule of each op are in docs/ops.md; the gradient
 * rules are written with these same builders.
 */

/* Elementwise binary, with NumPy broadcasting. Errors: NB_ERR_SHAPE, NB_ERR_DTYPE. */
NB_API nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b); /* a + b */
NB_API nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b); /* a - b */
NB_API nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b); /* a * b */
NB_API nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b); /* a / b */

/* Elementwise unary; the output has the input's shape. */
NB_API nb_node *nb_neg(nb_graph *g, nb_node *x);     /* -x */
NB_API nb_node *nb_exp(nb_graph *g, nb_node *x);     /* e^x */
NB_API nb_node *nb_log(nb_graph *g, nb_node *x);     /* natural log */
NB_API nb_node *nb_sqrt(nb_graph *g, nb_node *x);    /* square root */
NB_API nb_node *nb_abs(nb_graph *g, nb_node *x);     /* |x|; gradient sign(x), 0 at 0 */
NB_API nb_node *nb_tanh(nb_graph *g, nb_node *x);    /* hyperbolic tangent */
NB_API nb_node *nb_sigmoid(nb_graph *g, nb_node *x); /* 1 / (1 + e^-x), stable for large |x| */
NB_API nb_node *nb_relu(nb_graph *g, nb_node *x);    /* max(x, 0); gradient 0 at 0, as PyTorch */
NB_API nb_node *nb_sign(nb_graph *g, nb_node *x);    /* -1, 0 or 1; gradient 0 */
NB_API nb_node *nb_step(nb_graph *g, nb_node *x);    /* 1 where x > 0, else 0; gradient 0 */

/*
 * The derivatives of sigmoid, tanh and relu from their output y, as one op
 * each (their gradient rules use them): dy * y * (1 - y), dy * (1 - y²), and
 * dy where y > 0, else 0. y and dy must have one shape.
 * Errors: NB_ERR_SHAPE, NB_ERR_DTYPE.
 */
NB_API nb_node *nb_sigmoid_grad(nb_graph *g, nb_node *y, nb_node *dy);
NB_API nb_node *nb_tanh_grad(nb_graph *g, nb_node *y, nb_node *dy);
NB_API nb_node *nb_relu_grad(nb_graph *g, nb_node *y, nb_node *dy);

/* x^p for a constant exponent p. */
NB_API nb_node *nb_pow(nb_graph *g, nb_node *x, double p);

/*
 * Reductions. nb_sum and nb_mean reduce every element to a scalar; the _axis
 * forms reduce one axis, keeping it with size 1 when keepdims is true.
 * nb_max_axis's gradient flows to the first arg-max along the axis. They make
 * the same nodes as the _axes forms (reductions over lists of axes, below)
 * with no axis or one. Errors: NB_ERR_AXIS for an axis outside -rank..rank-1.
 */
NB_API nb_node *nb_sum(nb_graph *g, nb_node *x);
NB_API nb_node *nb_mean(nb_graph *g, nb_node *x);
NB_API nb_node *nb_sum_axis(nb_graph *g, nb_node *x, int axis, bool keepdims);
NB_API nb_node *nb_mean_axis(nb_graph *g, nb_node *x, int axis, bool keepdims);
NB_API nb_node *nb_max_axis(nb_graph *g, nb_node *x, int axis, bool keepdims);

/*
 * A 0/1 tensor of x's shape with a 1 at the first maximum along axis. The
 * gradient of nb_max_axis is built from it; its own gradient is 0.
 */
NB_API nb_node *nb_argmax_mask(nb_graph *g, nb_node *x, int axis);

/*
 * Matrix product. 2-D: a[m,k] @ b[k,n] -> [m,n]. Batched: a[B,m,k] @ b[B,k,n] ->
 * [B,m,n]; a rank-2 operand is shared by every batch. Runs on BLIS.
 * Errors: NB_ERR_RANK (rank not 2 or 3), NB_ERR_SHAPE (inner dimensions or batch
 * sizes differ).
 */
NB_API nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b);

/* Flags for nb_matmul_ex: use an operand transposed (its last two axes swapped). */
enum { NB_TRANS_A = 1, NB_TRANS_B = 2 };

/*
 * op(a) @ op(b), where op transposes the operand's last two axes when its flag
 * is set. The transpose is passed to BLIS as a flag; nothing is copied.
 */
NB_API nb_node *nb_matmul_ex(nb_graph *g, nb_node *a, nb_node *b, int flags);

/* Swaps the last two axes (rank >= 2). Errors: NB_ERR_RANK. */
NB_API nb_node *nb_transpose(nb_graph *g, nb_node *x);

/*
 * Same values, new shape. One dimension may be -1 and is inferred.
 * No data is copied; x may be of any dtype, i32 too (labels, indices).
 * Errors: NB_ERR_SHAPE when the sizes differ.
 */
NB_API nb_node *nb_reshape(nb_graph *g, nb_node *x, int rank, const int64_t *shape);

/*
 * Stops the gradient: y = x in value (a view of x's storage, no copy, any
 * dtype), but nb_grad sends nothing back through y, so every gradient reaching
 * x only through y is zero, as torch's x.detach(). The op has no gradient rule
 * (nb_op_info's differentiable is false). Passing a recurrent network's
 * carried state through it between chunks of a sequence truncates
 * backpropagation through time there. In the model language: stop_gradient(x).
 * Errors: as any builder's for a NULL or foreign x.
 */
NB_API nb_node *nb_stop_gradient(nb_graph *g, nb_node *x);

/*
 * Broadcasts x to shape by NumPy rules (explicitly, as one node). Its gradient
 * is nb_sum_to back to x's shape. Errors: NB_ERR_SHAPE.
 */
NB_API nb_node *nb_broadcast_to(nb_graph *g, nb_node *x, int rank, const int64_t *shape);

/*
 * Sums x down to shape, the inverse of broadcasting: x's shape must be what
 * broadcasting shape would give. Its gradient is nb_broadcast_to. Errors: NB_ERR_SHAPE.
 */
NB_API nb_node *nb_sum_to(nb_graph *g, nb_node *x, int rank, const int64_t *shape);

/* Softmax and log-softmax along axis, computed stably (the maximum is subtracted first). */
NB_API nb_node *nb_softmax(nb_graph *g, nb_node *x, int axis);
NB_API nb_node *nb_log_softmax(nb_graph *g, nb_node *x, int axis);

/*
 * One-hot encoding: labels (i32, any shape S) -> S + [classes] of dtype (f32 or
 * f64). A label outside 0..classes-1 makes the run fail with NB_ERR_VALUE.
 */
NB_API nb_node *nb_one_hot(nb_graph *g, nb_node *labels, int64_t classes, nb_dtype dtype);

/*
 * Mean cross-entropy of logits[N,C] against integer labels[N] (i32):
 * mean over i of logsumexp(logits[i,:]) - logits[i, labels[i]]. A scalar.
 * A label outside 0..C-1 makes the run fail with NB_ERR_VALUE, naming it.
 */
NB_API nb_node *nb_cross_entropy(nb_graph *g, nb_node *logits, nb_node *labels);

/*
 * As nb_cross_entropy, but rows whose label equals ignore contribute nothing
 * and are left out of the mean (F.cross_entropy with ignore_index): the sum
 * over the kept rows divided by their count. When every row is ignored the
 * value is NaN (0/0) and the gradient 0, as PyTorch's. Labels other than
 * ignore must be in 0..C-1 (else the run fails with NB_ERR_VALUE); ignore
 * itself may be any value, a class or not. The gradient of ignored rows is 0.
 * Errors: as nb_cross_entropy.
 */
NB_API nb_node *nb_cross_entropy_ignore(nb_graph *g, nb_node *logits, nb_node *labels,
                                        int32_t ignore);

/*
 * Mean binary cross-entropy of logits z against targets t (same shape), computed
 * stably as max(z,0) - z*t + log(1 + e^-|z|). A scalar.
 */
NB_API nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t);

/* Mean squared error: mean((a - b)^2) over all elements, a and b of one shape. A scalar. */
NB_API nb_node *nb_mse(nb_graph *g, nb_node *a, nb_node *b);

/* ---- batch normalization ---- */

/*
 * Creates a state node: a leaf holding values that are not parameters, such
 * as batch normalization's running statistics (PyTorch's buffers), every
 * element set to value. Ops that own it (nb_batch_norm) write it while
 * running; the program may read and write it as any leaf (nb_node_data,
 * nb_node_write). nb_grad treats it as a constant: the gradient with respect
 * to it is zero and nothing flows into it. nb_optim_new refuses it as a
 * parameter. nb_checkpoint_save and nb_checkpoint_load save and restore it
 * when it is in their node list, beside the parameters (with or without an
 * optimizer), and nb_model_write writes it as `state name[shape] = literal`.
 * An op that reads a state node in the same run as the op that updates it
 * sees the old values if it was built before the updating op and the new
 * ones otherwise: read state between runs.
 * Errors: as nb_param's for dtype (f32 or f64) and shape.
 */
NB_API nb_node *nb_state(nb_graph *g, nb_dtype dtype, int rank, const int64_t *shape, double value);

/*
 * Batch normalization over axis 1 (F.batch_norm): x is [N, C], [N, C, L] or
 * [N, C, H, W]; the statistics of channel c are taken over every axis but 1,
 * m = N * L (or N * H * W) values. The output has x's shape:
 *     y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
 * weight and bias are [C] (a NULL weight is ones, a NULL bias zeros, made as
 * nb_fill nodes of [C] that the model writer writes as fill([C], 1)).
 * running_mean and running_var are state nodes [C] (nb_state; usually zeros
 * and ones, as PyTorch starts them). The mode of the run decides
 * (nb_graph_set_training, NB_RUN_TRAIN, NB_RUN_EVAL):
 * - training: mean_c and var_c are the batch's mean and biased variance, and
 *   each run that computes y also updates, as PyTorch does,
 *       running_mean = momentum * mean_c + (1 - momentum) * running_mean
 *       running_var  = momentum * var_c * m / (m - 1) + (1 - momentum) * running_var
 *   (the unbiased variance); y does not depend on the running statistics.
 *   A run with m = 1 fails with NB_ERR_VALUE, as PyTorch refuses it.
 * - evaluation: mean_c and var_c are running_mean and running_var, which
 *   are left unchanged.
 * The gradient follows the run's mode: through the batch statistics in
 * training, through the affine map with fixed statistics in evaluation
 * (nb_mode_select picks the rule's value at run time, so one gradient graph
 * serves both modes and can be differentiated again). No gradient flows to
 * the running statistics. PyTorch's defaults are momentum 0.1, eps 1e-5.
 * Errors: NB_ERR_RANK (x of rank below 2), NB_ERR_SHAPE (weight, bias,
 * running_mean or running_var not [C]), NB_ERR_ARG (a running statistic that
 * is not a state node, running_mean and running_var the same node, momentum
 * outside [0, 1], eps not a finite number > 0), NB_ERR_DTYPE.
 */
NB_API nb_node *nb_batch_norm(nb_graph *g, nb_node *x, nb_node *weight, nb_node *bias,
                              nb_node *running_mean, nb_node *running_var, double momentum,
                              double eps);

/*
 * The value of train in training runs and of eval in evaluation runs (the
 * run's mode, as nb_batch_norm follows it); both are computed. Its gradient
 * selects the same way (dtrain = mode_select(dy, 0), deval = mode_select(0,
 * dy)), so derivatives of every order follow the mode: batch_norm's gradient
 * rule is built with it. train and eval must have one shape.
 * Errors: NB_ERR_SHAPE, NB_ERR_DTYPE.
 */
NB_API nb_node *nb_mode_select(nb_graph *g, nb_node *train, nb_node *eval);

/* -- */

/* ---- activations: leaky_relu, elu, gelu, gelu_tanh, softplus, silu, log1p, erf, clamp ---- */

/*
 * Leaky ReLU: x where x > 0, slope * x elsewhere (F.leaky_relu; PyTorch's
 * default slope is 0.01). Its gradient at 0 is slope, as PyTorch's.
 * Errors: NB_ERR_ARG for a NaN slope.
 */
NB_API nb_node *nb_leaky_relu(nb_graph *g, nb_node *x, double slope);

/*
 * ELU: x where x > 0, alpha * (e^x - 1) elsewhere (F.elu; PyTorch's default
 * alpha is 1), e^x - 1 computed without cancellation near 0. Shape: x's.
 * Gradient: 1 where x > 0, alpha * e^x where x <= 0 (alpha at 0, as PyTorch's),
 * built from nb_exp and nb_step; its own derivative is alpha * e^x where
 * x < 0 and 0 elsewhere (0 at 0, as PyTorch's double backward).
 * Errors: NB_ERR_ARG for a NaN alpha; NB_ERR_DTYPE.
 */
NB_API nb_node *nb_elu(nb_graph *g, nb_node *x, double alpha);

/*
 * The error function erf x = 2/√π ∫₀ˣ e^(-t²) dt, elementwise (torch.erf).
 * Shape: x's. Gradient: 2/√π * e^(-x²), built from nb_exp, so gelu's gradient
 * can be differentiated again. Errors: NB_ERR_DTYPE.
 */
NB_API nb_node *nb_erf(nb_graph *g, nb_node *x);

/*
 * GELU, exact form: x Φ(x) = x/2 * (1 + erf(x/√2)) (F.gelu). Computed as
 * x/2 * erfc(-x/√2), equal to PyTorch's within rounding and accurate in the
 * left tail too, where 1 + erf(x/√2) rounds to 0 (gelu(-10) is -7.6e-23
 * here, -0 in PyTorch). Shape: x's. Gradient: Φ(x) + x φ(x), with φ the
 * normal density, built from nb_erf and nb_exp (second derivatives follow).
 * Errors: NB_ERR_DTYPE.
 */
NB_API nb_node *nb_gelu(nb_graph *g, nb_node *x);

/*
 * GELU, tanh approximation: x/2 * (1 + tanh(√(2/π) (x + 0.044715 x³)))
 * (F.gelu(x, approximate='tanh'), the same operations). Shape: x's.
 * Gradient: the exact derivative of that formula, built from nb_tanh and
 * nb_tanh_grad. Errors: NB_ERR_DTYPE.
 */
NB_API nb_node *nb_gelu_tanh(nb_graph *g, nb_node *x);

/*
 * Softplus log(1 + e^x) with PyTorch's defaults beta = 1 and threshold = 20
 * (F.softplus): x itself where x > 20, else max(x, 0) + log1p(e^-|x|), which
 * neither overflows nor loses the tiny values of large negative x
 * (softplus(-50) is 1.9e-22, not 0). Shape: x's. Gradient: sigmoid(x), and
 * exactly 1 where x > 20, as PyTorch's; differentiated again, sigmoid'(x) up
 * to x = 20 included (PyTorch's double backward gives 0 at exactly 20; the
 * true value there is 2e-9). Errors: NB_ERR_DTYPE.
 */
NB_API nb_node *nb_softplus(nb_graph *g, nb_node *x);

/*
 * SiLU (swish): x * sigmoid(x) (F.silu), stable for large |x|. Shape: x's.
 * Gradient: s + x s (1 - s) with s = sigmoid(x). Errors: NB_ERR_DTYPE.
 */
NB_API nb_node *nb_silu(nb_graph *g, nb_node *x);

/*
 * ln(1 + x), accurate for small x (torch.log1p: log1p(1e-20) is 1e-20).
 * -inf at x = -1 and NaN below, as PyTorch. Shape: x's. Gradient: 1 / (1 + x).
 * Errors: NB_ERR_DTYPE.
 */
NB_API nb_node *nb_log1p(nb_graph *g, nb_node *x);

/*
 * min(max(x, lo), hi) elementwise (torch.clamp(x, lo, hi)); -INFINITY or
 * INFINITY leaves that side open (the defaults in the model language, so
 * `clamp(x, lo=0)` clamps below only). As PyTorch's: lo > hi gives hi
 * everywhere, and NaN x stays NaN. In a graph of f32 the bounds are rounded
 * to float. Shape: x's. Gradient: dy where lo <= x <= hi, both bounds
 * included (the gradient passes at x == lo and x == hi, as PyTorch's), 0
 * elsewhere, so 0 everywhere when lo > hi and 0 at NaN x.
 * Errors: NB_ERR_ARG for a NaN bound (PyTorch would make every element NaN),
 * naming it: "clamp(x[3]): the bound lo is NaN"; NB_ERR_DTYPE.
 */
NB_API nb_node *nb_clamp(nb_graph *g, nb_node *x, double lo, double hi);

/* ---- comparison and selection: maximum, minimum, where, greater, less, equal ---- */

/*
 * Elementwise maximum and minimum of a and b (torch.maximum, torch.minimum),
 * with NumPy broadcasting: the result has the broadcast shape and a's dtype.
 * y = a where a > b (a < b for minimum), else b; where either is NaN, y is
 * NaN, as PyTorch propagates it. At a tie (a == b) y is a (which differs
 * from b only in the sign of a zero; PyTorch's own choice there varies).
 * Gradient, PyTorch's rule: dy goes to the input that wins; at a tie a == b
 * it is split equally, dy/2 to each; where a or b is NaN both get dy. Each
 * part is summed over the axes its input was broadcast along.
 * Errors: NB_ERR_SHAPE for shapes that do not broadcast, NB_ERR_DTYPE for an
 * i32 input or two dtypes.
 */
NB_API nb_node *nb_maximum(nb_graph *g, nb_node *a, nb_node *b);
NB_API nb_node *nb_minimum(nb_graph *g, nb_node *a, nb_node *b);

/*
 * Selection: y = a where c != 0, else b (torch.where(c != 0, a, b)), with c,
 * a and b broadcast together by NumPy rules; the result has the broadcast
 * shape and a's dtype. a and b are floats of one dtype; the condition c is of
 * that dtype (any nonzero value, NaN included, selects a) or i32.
 * Gradient: none to c; da = where(c, dy, 0) and db = where(c, 0, dy), each
 * summed over the axes its input was broadcast along. They are selections,
 * not products with a 0/1 mask, so an infinite or NaN value in the branch not
 * taken leaves the other gradient finite.
 * Errors: NB_ERR_SHAPE for shapes that do not broadcast together;
 * NB_ERR_DTYPE for an i32 a or b, a and b of two dtypes, or a float c of
 * another dtype than a.
 */
NB_API nb_node *nb_where(nb_graph *g, nb_node *c, nb_node *a, nb_node *b);

/*
 * Comparisons a > b, a < b and a == b, elementwise with NumPy broadcasting:
 * 1 where it holds, else 0 (torch.gt, torch.lt, torch.eq as a float tensor).
 * The result has the broadcast shape and the inputs' dtype: two floats of
 * one dtype, or two i32 inputs, whose result is f32 (for accuracy, say:
 * mean(equal(argmax, labels))). A NaN compares false, so equal(NaN, NaN) is 0.
 * Their gradient is 0 (the ops have no gradient rule).
 * Errors: NB_ERR_SHAPE for shapes that do not broadcast, NB_ERR_DTYPE for
 * inputs of two dtypes.
 */
NB_API nb_node *nb_greater(nb_graph *g, nb_node *a, nb_node *b);
NB_API nb_node *nb_less(nb_graph *g, nb_node *a, nb_node *b);
NB_API nb_node *nb_equal(nb_graph *g, nb_node *a, nb_node *b);

/* ---- layout: concat, slice, pad, permute ---- */

/*
 * Joins xs[0..n-1] along axis, as torch.cat(xs, axis): every input has one
 * rank (>= 1) and one size on every other axis; y's size on axis is the sum
 * of theirs. axis counts from the end when negative. n >= 1; one input gives
 * a copy. A node takes at most NB_MAX_ARITY inputs, so more are joined in
 * groups of NB_MAX_ARITY and the groups joined again (a tree of concat
 * nodes, one level deeper for each factor of NB_MAX_ARITY: 300 steps of an
 * unrolled sequence are a concat of two concats, of 256 and 44 inputs). Each
 * input's gradient is its own slab of dy, a slice. In the model language:
 * concat(a, b, c, axis=1) (every positional argument is an input; axis
 * defaults to 0, as torch.cat's dim).
 * Errors: NB_ERR_ARG (n < 1, xs NULL), NB_ERR_RANK (a scalar, ranks
 * differ), NB_ERR_AXIS, NB_ERR_SHAPE (another axis differs), NB_ERR_DTYPE,
 * NB_ERR_NOMEM.
 */
NB_API nb_node *nb_concat(nb_graph *g, int n, nb_node *const *xs, int axis);

/*
 * The stop of nb_slice meaning "to the end of the axis": 2^31-1, the largest
 * dimension a node can have, so it is at or past the end of every axis. It is
 * also the model language's default when stop is left out (and fits in its
 * whole numbers, as INT64_MAX would not); any larger stop means the same.
 */
#define NB_SLICE_END INT32_MAX

/*
 * x[..., start:stop:step, ...] on one axis, as Python and PyTorch slice:
 * y's size on axis is ceil((stop - start) / step), the other axes are x's.
 * Negative axis, start and stop count from the end of the axis. stop is
 * clamped to 0..size as Python clamps it, so NB_SLICE_END (or any stop past
 * the end) takes everything from start on. start, unlike Python's, is not
 * clamped: it must name an element of the axis, so a start out of range is
 * reported rather than silently giving the whole axis or nothing. A slice
 * that would select nothing is an error too, since nabla's dimensions are >= 1.
 * step >= 1 (PyTorch has no negative steps either). The node stores the
 * normalised start and stop, so equal slices read and write alike.
 * The gradient is nb_slice_grad. In the model language:
 * slice(x, axis=0, start=0, stop=end, step=1), each setting optional (the
 * axis always shows in DOT and the written text).
 * Errors: NB_ERR_AXIS; NB_ERR_ARG for step < 1 or a start outside the axis
 * ("slice(x[2,3]): start 5 is past the end of axis 1 (size 3)"); NB_ERR_SHAPE
 * for an empty result ("start 2 and stop 1 select nothing of axis 1 (size 3);
 * a slice keeps at least one element"); NB_ERR_DTYPE.
 */
NB_API nb_node *nb_slice(nb_graph *g, nb_node *x, int axis, int64_t start, int64_t stop,
                         int64_t step);

/*
 * The gradient of nb_slice, as one op: a tensor of zeros of x's shape
 * (x_rank, x_shape) with dy placed at the sliced positions,
 * y[..., start + i * step, ...] = dy[..., i, ...] on axis. x_shape equals dy's
 * shape off axis; start (negative counts from the end of x_shape[axis]) must
 * name an element and dy's elements on axis must fit from start by step. Its
 * own gradient is the slice back, so second derivatives work. In the model
 * language: slice_grad(dy, shape=[2, 3], axis=1, start=0, step=1).
 * Errors: NB_ERR_RANK (x_rank is not dy's rank), NB_ERR_ARG (x_shape NULL,
 * step < 1, start outside the axis), NB_ERR_AXIS, NB_ERR_SHAPE (x_shape is not
 * dy's shape off axis, or dy does not fit), NB_ERR_DTYPE.
 */
NB_API nb_node *nb_slice_grad(nb_graph *g, nb_node *dy, int x_rank, const int64_t *x_shape,
                              int axis, int64_t start, int64_t step);

/*
 * Constant padding: pads[2k] copies of value before x on axis k and
 * pads[2k+1] after it, for k < n/2, pairs from the FIRST axis (as NumPy's
 * pad_width, where F.pad's pairs start from the last axis: F.pad(x, (1, 2))
 * on a [2,3] x is nb_pad(x, 4, {0, 0, 1, 2}, 0)). Axes from n/2 on are not
 * padded. n is even and n/2 <= rank; n == 0 gives a copy. pads are >= 0:
 * F.pad crops with negative pads, nabla crops with nb_slice. value may be any
 * real (an infinite one cannot be written by nb_model_write). The gradient
 * is dy sliced back to x's place. In the model language:
 * pad(x, pads=[0, 0, 1, 2], value=0).
 * Errors: NB_ERR_ARG (n odd or negative, n/2 > rank, pads NULL, a negative
 * pad), NB_ERR_SHAPE (an axis longer than 2^31-1), NB_ERR_DTYPE.
 */
NB_API nb_node *nb_pad(nb_graph *g, nb_node *x, int n, const int64_t *pads, double value);

/*
 * x.permute(perm): axis k of y is axis perm[k] of x, for any order of any
 * rank. n == rank and perm names every axis once; negative entries count from
 * the end (PyTorch accepts them too) and are stored normalised. The last axis
 * stays contiguous when perm keeps it last (rows are copied whole); otherwise
 * the copy goes in cache tiles. The gradient permutes dy by the inverse.
 * nb_transpose remains the swap of the last two axes. In the model language:
 * permute(x, perm=[2, 0, 1]).
 * Errors: NB_ERR_ARG (n is not the rank, perm NULL, an axis named twice),
 * NB_ERR_AXIS (an entry outside -rank..rank-1), NB_ERR_DTYPE.
 */
NB_API nb_node *nb_permute(nb_graph *g, nb_node *x, int n, const int *perm);

/* ---- indexing: gather, scatter_add, embedding, argmax ---- */

/*
 * Slices of x picked by indices along axis (torch.index_select(x, axis, idx)):
 * y[..., j, ...] = x[..., idx[j], ...]. idx is an i32 tensor of rank 1 (any
 * length; indices may repeat and come in any order); the result has x's shape
 * with the axis's size replaced by len(idx), and x's dtype (x may be i32).
 * Its gradient is nb_scatter_add(dy, idx, axis, size of x's axis). In the
 * model language: gather(x, idx, axis=0).
 * Errors: NB_ERR_DTYPE (idx not i32), NB_ERR_RANK (idx not of rank 1),
 * NB_ERR_AXIS. An index outside 0..size-1 (negative ones too, as PyTorch)
 * makes the run fail with NB_ERR_VALUE naming the index, its position in idx
 * and the axis's size:
 *     gather(x[3,4], idx[2]): index 3 at position 1 is outside 0..2 (axis 0 has size 3)
 */
NB_API nb_node *nb_gather(nb_graph *g, nb_node *x, nb_node *idx, int axis);

/*
 * The adjoint of nb_gather: zeros of src's shape with size in place of the
 * axis's length, and slice j of src added at position idx[j] along axis
 * (torch.zeros(...).index_add(axis, idx, src)); repeated indices accumulate.
 * idx is i32 of rank 1 with one index per slice of src along axis. The run
 * touches only the slices used, after one zeroing pass. Its gradient with
 * respect to src is nb_gather(dy, idx, axis), so second derivatives work.
 * Errors: NB_ERR_DTYPE (src not f32 or f64, idx not i32), NB_ERR_RANK (idx
 * not of rank 1), NB_ERR_AXIS, NB_ERR_SHAPE (len(idx) is not src's size along
 * axis, or size < 1). An index outside 0..size-1 fails the run with
 * NB_ERR_VALUE, as in nb_gather.
 */
NB_API nb_node *nb_scatter_add(nb_graph *g, nb_node *src, nb_node *idx, int axis, int64_t size);

/*
 * Rows of table[V,D] looked up by ids (F.embedding(ids, table)): ids is i32
 * of any shape S (of rank at most NB_MAX_RANK - 1), the result S + [D] with
 * y[s..., :] = table[ids[s...], :]. One op, so a lookup is one element in DOT
 * and in nb_depth. The table's gradient adds dy's rows into the rows used
 * (nb_scatter_add over the flattened ids), never a dense one-hot product.
 * Errors: NB_ERR_DTYPE (ids not i32, table not f32 or f64), NB_ERR_RANK
 * (table not of rank 2, or S + [D] over NB_MAX_RANK). An id outside 0..V-1
 * fails the run with NB_ERR_VALUE:
 *     embedding(ids[4], table[5,3]): id 7 at position 2 is outside 0..4 (the table has 5 rows)
 */
NB_API nb_node *nb_embedding(nb_graph *g, nb_node *ids, nb_node *table);

/*
 * The index of the first maximum of x along axis (torch.argmax(x, axis,
 * keepdim)), as an i32 tensor: x's shape without the axis, or with it of size
 * 1 when keepdims is true. Ties go to the first maximum; a NaN counts as
 * larger than every number, so the first NaN wins, as in PyTorch. No gradient
 * flows through it (nb_grad refuses it as an output and passes nothing back
 * through its integer result). Errors: NB_ERR_DTYPE (x not f32 or f64),
 * NB_ERR_AXIS.
 */
NB_API nb_node *nb_argmax(nb_graph *g, nb_node *x, int axis, bool keepdims);

/* ---- reductions over lists of axes: min, logsumexp, var ---- */

/*
 * Reductions over a set of axes, as torch.sum(x, dim=(0, 2, 3), keepdim=...).
 * axes[0..n-1] name the axes to reduce, negative ones counting from the end,
 * in any order; n == 0 (axes may then be NULL) reduces every element.
 * Shape: x's shape without the reduced axes, or with them of size 1 when
 * keepdims is true (all of size 1 for n == 0 with keepdims).
 * The output node records the axes normalized and ascending: nb_sum_axes(g,
 * x, 2, (int[]){ -1, 0 }, false) on a rank-3 x is the node of axes [0, 2].
 * Errors: NB_ERR_AXIS for an axis outside -rank..rank-1 ("sum(x[2,3]): axis 3
 * is out of range for rank 2") or one listed twice, in any spelling ("sum(x[2,
 * 3,4]): axis 0 appears twice in the axes [0, -3]"); NB_ERR_ARG for n < 0
 * ("the number of axes is -1") or a NULL axes with n > 0; NB_ERR_DTYPE for a
 * non-float x.
 */

/* y = Σ x over the axes (torch.sum); f32 sums in double blocks. */
NB_API nb_node *nb_sum_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims);

/* y = Σ x / N over the axes, N the number of elements each output reduces (torch.mean). */
NB_API nb_node *nb_mean_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims);

/*
 * y = max x over the axes (torch.amax's value). A NaN in a reduced set gives
 * NaN, as PyTorch. The gradient goes to the first maximum of each set in
 * row-major order, as torch.max(x, dim)'s index picks it, where torch.amax
 * would share it between ties.
 */
NB_API nb_node *nb_max_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims);

/*
 * y = min x over one axis, or over the axes (torch.amin's value); as max: a
 * NaN propagates, and the gradient goes to the first minimum (torch.min(x,
 * dim)'s index).
 */
NB_API nb_node *nb_min_axis(nb_graph *g, nb_node *x, int axis, bool keepdims);
NB_API nb_node *nb_min_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims);

/*
 * y = log Σ e^x over one axis, or over the axes (torch.logsumexp), computed
 * stably as m + log Σ e^(x - m) with m the maximum, so large x do not
 * overflow. As PyTorch: a set of only -inf gives -inf, one holding +inf gives
 * +inf, a NaN gives NaN. Gradient: dx = e^(x - y) dy (softmax over the set),
 * built from nb_exp and nb_sub of y itself, so it can be differentiated again.
 */
NB_API nb_node *nb_logsumexp(nb_graph *g, nb_node *x, int axis, bool keepdims);
NB_API nb_node *nb_logsumexp_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims);

/*
 * Variance over one axis, or over the axes (torch.var(x, dim, correction=c,
 * keepdim)): y = Σ (x - mean x)² / (N - c), N the elements each output
 * reduces; c = 1 is the unbiased estimate (PyTorch's default), c = 0 the
 * population variance that batch and layer normalization use. Computed in
 * two passes in double (the mean, then the squared deviations). N - c <= 0
 * divides by 0, as PyTorch: inf, or NaN when every deviation is 0. Gradient:
 * dx = 2 (x - mean x) / (N - c) dy (with the forward's divisor, so inf or
 * NaN when N - c <= 0, where PyTorch divides by a negative N - c).
 * Errors: as nb_sum_axes, and NB_ERR_ARG for a NaN correction.
 */
NB_API nb_node *nb_var(nb_graph *g, nb_node *x, int axis, bool keepdims, double correction);
NB_API nb_node *nb_var_axes(nb_graph *g, nb_node *x, int n, const int *axes, bool keepdims,
                            double correction);

/*
 * A 0/1 tensor of x's shape with a 1 at the first maximum (in row-major
 * order) of each set the axes reduce: the gradient of nb_max_axes, and of
 * nb_min_axes applied to -x. A NaN counts as the maximum. Its own gradient is
 * 0. Errors: as nb_sum_axes, and NB_ERR_AXIS for n == 0 ("no axes given").
 */
NB_API nb_node *nb_argmax_mask_axes(nb_graph *g, nb_node *x, int n, const int *axes);

/* ---- regularization and normalization: dropout, layer_norm, batch_norm ---- */

/*
 * Dropout (F.dropout(x, p, training)): in a training run each element of x is
 * zeroed with probability p and the others are scaled by 1/(1-p), so the
 * expected value is x; in an evaluation run (nb_graph_set_training(g, false)
 * or NB_RUN_EVAL) y = x. Shape and dtype of x (f32 or f64).
 *
 * The mask is drawn afresh in every training run from the graph's generator
 * (one draw per dropout node and run, from which the elements' bits follow),
 * so runs are reproducible after nb_graph_seed, and successive runs drop
 * different elements. The gradient is dy times the same mask as the forward
 * of the same run (dy in evaluation): nb_grad builds it as a dropout node of
 * dy tied to this one, so it shows in DOT as `dropout` with two inputs, and it
 * can be differentiated again. p = 0 is the identity in both modes. The masks
 * are nabla's own: the same seed does not give PyTorch's masks.
 * Errors: NB_ERR_ARG for p outside [0, 1) (PyTorch also allows 1, a zero
 * tensor), naming the op and p; NB_ERR_DTYPE for an integer x.
 */
NB_API nb_node *nb_dropout(nb_graph *g, nb_node *x, double p);

/*
 * Layer normalization over the last axis (F.layer_norm(x, [D], weight, bias,
 * eps) for x of shape [..., D]): each row of D values is centred on its mean
 * and divided by sqrt(var + eps), var the biased variance (divided by D), then
 * multiplied by weight and shifted by bias, both of shape [D]. Either may be
 * NULL: without both the node is a `layer_norm_plain` (no affine step);
 * with only one, that step is an ordinary nb_mul or nb_add after it. eps is
 * usually 1e-5 (PyTorch's default). The result has x's shape and dtype.
 * The gradient is built from public builders (it recomputes the normalized x
 * and 1/sigma from x), so it can be differentiated again.
 * Errors: NB_ERR_SHAPE for a scalar x or a weight or bias whose shape is not
 * [D]; NB_ERR_ARG for eps negative, infinite or NaN; NB_ERR_DTYPE for integer
 * or mixed dtypes.
 */
NB_API nb_node *nb_layer_norm(nb_graph *g, nb_node *x, nb_node *weight, nb_node *bias, double eps);

/* ---- convolution and pooling ---- */

/*
 * Max pooling of x[N, C, H, W] (F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw))
 * with ceil_mode false): y[n, c, i, j] is the maximum of x[n, c] over the
 * kh x kw window whose top-left corner is (i*sh - ph, j*sw - pw), the input
 * padded with -inf by ph rows and pw columns on each side. The result is
 * [N, C, OH, OW] with OH = floor((H + 2 ph - kh) / sh) + 1 and
 * OW = floor((W + 2 pw - kw) / sw) + 1. A stride of 0 means the kernel's size
 * along that axis (PyTorch's default); windows may overlap (stride below
 * the kernel). A NaN in a window gives NaN, as in PyTorch.
 * The gradient sends dy to each window's first maximum in row-major window
 * order (PyTorch's tie rule) and adds where windows share it: a scatter_add
 * at nb_max_pool_index's indices, whose gradient is a gather, so second
 * derivatives work; x gets no gradient through the choice of the maximum
 * (zero almost everywhere). In the model language:
 * max_pool2d(x, kernel, stride=kernel, padding=0), each a number or [h, w].
 * Errors: NB_ERR_RANK (x not of rank 4), NB_ERR_DTYPE (x not f32 or f64),
 * NB_ERR_ARG (kernel or stride below 1, padding negative or more than half
 * the kernel, as PyTorch's rule padding <= kernel / 2), NB_ERR_SHAPE (the
 * window is larger than the padded input):
 *     max_pool2d(x[1,1,4,4]): padding [2, 0] must be between 0 and half the kernel [3, 3] (PyTorch's rule)
 */
NB_API nb_node *nb_max_pool2d(nb_graph *g, nb_node *x, int kh, int kw, int sh, int sw, int ph,
                              int pw);

/*
 * Average pooling of x[N, C, H, W] (F.avg_pool2d with count_include_pad
 * true, PyTorch's default, and ceil_mode false): y[n, c, i, j] is the sum of
 * x[n, c] over the window of nb_max_pool2d, padding counted as zeros, divided
 * by kh*kw. Shape rule, stride default and errors as nb_max_pool2d. Its
 * gradient is nb_avg_pool_grad(dy), whose gradient is avg pooling again. In
 * the model language: avg_pool2d(x, kernel, stride=kernel, padding=0).
 */
NB_API nb_node *nb_avg_pool2d(nb_graph *g, nb_node *x, int kh, int kw, int sh, int sw, int ph,
                              int pw);

/*
 * nb_max_pool2d on x[N, C, L] (F.max_pool1d(x, k, s, p)): windows of k
 * elements moved by s (0: by k) over x padded with p -inf on each side,
 * giving [N, C, floor((L + 2p - k) / s) + 1]. Gradient, tie rule and errors
 * as nb_max_pool2d (NB_ERR_RANK for x not of rank 3). In the model language:
 * max_pool1d(x, kernel, stride=kernel, padding=0).
 */
NB_API nb_node *nb_max_pool1d(nb_graph *g, nb_node *x, int k, int s, int p);

/*
 * nb_avg_pool2d on x[N, C, L] (F.avg_pool1d(x, k, s, p), padding counted):
 * each window's sum divided by k. Shape rule as nb_max_pool1d, errors as
 * nb_avg_pool2d. In the model language: avg_pool1d(x, kernel, stride=kernel,
 * padding=0).
 */
NB_API nb_node *nb_avg_pool1d(nb_graph *g, nb_node *x, int k, int s, int p);

/*
 * The flat index into x (of N*C*H*W elements, row-major) of each window's
 * first maximum in the pooling nb_max_pool2d (nsp 2, x[N, C, H, W]) or
 * nb_max_pool1d (nsp 1, x[N, C, L]) makes: an i32 vector of N*C*OH*OW
 * indices, windows in y's row-major order. kernel, stride and padding hold
 * nsp entries each; stride NULL means the kernel, padding NULL means 0. It is
 * what max pooling's gradient scatters dy by; no gradient flows through it.
 * In the model language: max_pool_index(x, kernel, stride=kernel, padding=0).
 * Errors: as nb_max_pool2d; NB_ERR_ARG for nsp not 1 or 2; NB_ERR_RANK for x
 * not of rank 2 + nsp; NB_ERR_SHAPE for x of more than 2^31-1 elements.
 */
NB_API nb_node *nb_max_pool_index(nb_graph *g, nb_node *x, int nsp, const int *kernel,
                                  const int *stride, const int *padding);

/*
 * The adjoint of average pooling: dx of shape [N, C, size...] (nsp = 1 or 2
 * spatial sizes) for dy[N, C, OH, OW] (or [N, C, OL]), each dy[n, c, i, j]
 * spread as dy / (kh*kw) over the in-bounds elements of its window; elements
 * shared by overlapping windows add. kernel, stride (NULL: the kernel) and
 * padding (NULL: 0) as in nb_max_pool_index. Its gradient with respect to dy
 * is the average pooling of the incoming gradient, so it is differentiable
 * to any order. In the model language:
 * avg_pool_grad(dy, size, kernel, stride=kernel, padding=0).
 * Errors: as nb_avg_pool2d for the pooling of size; NB_ERR_RANK (dy not of
 * rank 3 or 4), NB_ERR_ARG (size not of nsp positive entries), NB_ERR_SHAPE
 * (dy's spatial size is not the pooled size of size):
 *     avg_pool_grad(dy[1,1,3,3]): dy's spatial size [3, 3] is not the pooled size [2, 2] of [4, 4]
 */
NB_API nb_node *nb_avg_pool_grad(nb_graph *g, nb_node *dy, int nsp, const int64_t *size,
                                 const int *kernel, const int *stride, const int *padding);

/*
 * The settings of a convolution, per spatial axis ([0] height, [1] width; a
 * 1-d convolution reads [0] only). Zero-initialize and set what differs:
 * NULL, or a zero field, means PyTorch's default (stride 1, padding 0,
 * dilation 1, output_padding 0, groups 1), so
 * nb_conv2d(g, x, w, b, &(nb_conv_opts){ .padding = { 2, 2 } }) is
 * F.conv2d(x, w, b, padding=2). Negative values are errors.
 */
typedef struct nb_conv_opts {
    int stride[2];         /* step of the window; 0: 1 */
    int padding[2];        /* zeros added on each side of the input */
    int dilation[2];       /* spacing of the kernel's taps; 0: 1 */
    int output_padding[2]; /* nb_conv_transpose2d only: rows and columns added at the end */
    int groups;            /* channel groups; 0: 1. groups = C is a depthwise convolution */
} nb_conv_opts;

/*
 * 2-d convolution (cross-correlation, as F.conv2d(x, w, b, stride, padding,
 * dilation, groups)) of x[N, C, H, W] by w[O, C/groups, kh, kw], plus
 * b[O] when b is not NULL:
 *     y[n, o, i, j] = b[o] + sum over c < C/groups, ki, kj of
 *         w[o, c, ki, kj] x[n, g C/groups + c, i sh - ph + ki dh, j sw - pw + kj dw]
 * where g = o / (O/groups) is o's group and x reads 0 outside itself. The
 * result is [N, O, OH, OW], OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1
 * and OW likewise. As in PyTorch, any padding >= 0 is allowed (there is no
 * half-the-kernel rule, unlike pooling's). Gradients: dx =
 * nb_conv_transpose2d(dy, w) (with the output_padding that restores H, W),
 * dw = nb_conv2d_weight_grad(x, dy), db = dy summed over axes 0, 2, 3; each
 * is differentiable again. Runs on BLIS GEMMs over im2col buffers in the
 * executor's planned workspace (a 1x1 convolution of stride 1 without padding
 * copies nothing). In the model language:
 * conv2d(x, w, b, stride=1, padding=0, dilation=1, groups=1), b optional,
 * each list a number or [h, w].
 * Errors: NB_ERR_RANK (x or w not of rank 4), NB_ERR_DTYPE (not f32 or f64,
 * or mixed), NB_ERR_ARG (stride or dilation below 1, negative padding,
 * groups below 1), NB_ERR_SHAPE (groups does not divide O; x's channels are
 * not groups x w.shape[1]; b not [O]; the dilated kernel larger than the
 * padded input), NB_ERR_ARG for an output_padding set (it is
 * nb_conv_transpose2d's):
 *     conv2d(x[1,3,8,8], w[4,2,3,3]): x has 3 channels but w takes 2 (groups 1 x w's 2 per group)
 */
NB_API nb_node *nb_conv2d(nb_graph *g, nb_node *x, nb_node *w, nb_node *b,
                          const nb_conv_opts *opts);

/*
 * 1-d convolution of x[N, C, L] by w[O, C/groups, k] (F.conv1d), plus b[O]
 * when not NULL: nb_conv2d of height 1, with opts' [0] entries (stride,
 * padding, dilation) and groups. The result is [N, O, OL]. Its gradients
 * are nb_conv_transpose2d and nb_conv2d_weight_grad on the [N, C, 1, L]
 * views, reshaped back. In the model language:
 * conv1d(x, w, b, stride=1, padding=0, dilation=1, groups=1).
 * Errors: as nb_conv2d (NB_ERR_RANK for x or w not of rank 3).
 */
NB_API nb_node *nb_conv1d(nb_graph *g, nb_node *x, nb_node *w, nb_node *b,
                          const nb_conv_opts *opts);

/*
 * Transposed 2-d convolution (F.conv_transpose2d(x, w, b, stride, padding,
 * output_padding, groups, dilation)) of x[N, C, H, W] by w[C, O/groups, kh,
 * kw], plus b[O]: the adjoint of nb_conv2d by w, which is conv2d's input
 * gradient. Each x[n, c, i, j] adds x w[c, o, ki, kj] to
 * y[n, g O/groups + o, i sh - ph + ki dh, j sw - pw + kj dw] (g = c's group;
 * positions outside y are dropped). The result is [N, O, OH, OW] with
 * OH = (H - 1) sh - 2 ph + dh (kh - 1) + output_padding[0] + 1, OW likewise.
 * Gradients: dx = nb_conv2d(dy, w), dw = nb_conv2d_weight_grad(dy, x),
 * db = dy summed over axes 0, 2, 3. In the model language:
 * conv_transpose2d(x, w, b, stride=1, padding=0, output_padding=0,
 * dilation=1, groups=1).
 * Errors: as nb_conv2d, and NB_ERR_ARG for an output_padding negative or not
 * smaller than either the stride or the dilation (PyTorch's rule), NB_ERR_SHAPE
 * for x's channels not w.shape[0], groups not dividing them, or an output
 * size below 1.
 */
NB_API nb_node *nb_conv_transpose2d(nb_graph *g, nb_node *x, nb_node *w, nb_node *b,
                                    const nb_conv_opts *opts);

/*
 * The weight gradient of nb_conv2d, as one op: for x[N, C, H, W] and
 * dy[N, O, OH, OW] (the gradient of the convolution's output), the
 * [O, C/groups, kh, kw] tensor
 *     dw[o, c, ki, kj] = sum over n, i, j of
 *         dy[n, o, i, j] x[n, g C/groups + c, i sh - ph + ki dh, j sw - pw + kj dw]
 * for the convolution with kernel kh x kw and opts (no output_padding).
 * It is bilinear in x and dy: its gradients, for an incoming ddw, are
 * dx = nb_conv_transpose2d(dy, ddw) and ddy = nb_conv2d(x, ddw), so second
 * derivatives of convolutions are graphs of these three ops. In the model
 * language: conv2d_weight_grad(x, dy, kernel=[kh, kw], stride=1, padding=0,
 * dilation=1, groups=1).
 * Errors: as nb_conv2d; NB_ERR_ARG for a kernel below 1; NB_ERR_SHAPE for
 * batch sizes that differ, groups dividing neither channel count, or dy's
 * spatial size not the convolution's output size.
 */
NB_API nb_node *nb_conv2d_weight_grad(nb_graph *g, nb_node *x, nb_node *dy, int kh, int kw,
                                      const nb_conv_opts *opts);

/* What the op table says of one op (leaves included), for docs and teaching tools. */
typedef struct nb_op_info {
    const char *name;         /* "matmul", as nb_node_op_name reports it */
    const char *symbol;       /* short symbol: "@" (DOT labels show the name) */
    int arity;                /* number of inputs; -1 for any number from one (concat) */
    int n_attrs;              /* attributes, read with nb_op_attr_get */
    bool leaf;                /* input, param or const */
    bool differentiable;      /* has a gradient rule (false: its gradient is zero) */
    const char *formula;      /* "y = op(a) @ op(b), ..." */
    const char *grad_formula; /* "da = dy @ op(b)ᵀ, ..." */
} nb_op_info;

/* Returns the number of ops in the op table. */
NB_API size_t nb_op_count(void);

/* Fills *info for op i (0 .. nb_op_count()-1); returns false if i is out of range. */
NB_API bool nb_op_info_get(size_t i, nb_op_info *info);

/*
 * An attribute of an op: the keyword the model language takes for it
 * (`axis=1`), its kind ("int", "bool", "float" or "ints", a list of whole
 * numbers), its default (for the scalar kinds; a list's default is empty) and
 * whether a call must give it.
 */
typedef struct nb_op_attr {
    const char *name;
    const char *kind;
    double def;
    bool required;
    const char *def_word; /* the word that stands for the default ("end", "none"), or NULL */
} nb_op_attr;

/*
 * Fills *attr for attribute k (0 .. n_attrs-1) of op i; returns false when i
 * or k is out of range.
 */
NB_API bool nb_op_attr_get(size_t i, int k, nb_op_attr *attr);

/* ======================================================================== */
/* Scopes                                                                   */
/* ======================================================================== */

/*
 * Opens a named scope: every node built until the matching nb_scope_pop belongs
 * to it. Scopes nest, and each push makes a new instance (two pushes of one name
 * are two elements). Scopes group nodes into one element for nb_depth and into
 * one cluster for DOT. The name is copied.
 * Errors: NB_ERR_ARG for a NULL or empty name.
 */
NB_API void nb_scope_push(nb_graph *g, const char *name);

/* Closes the innermost open scope. Errors: NB_ERR_ARG when no scope is open. */
NB_API void nb_scope_pop(nb_graph *g);

/* ======================================================================== */
/* Autodiff                                                                 */
/* ======================================================================== */

/*
 * Appends to g the gradient of the scalar y with respect to each of wrt[0..n-1]
 * and stores the gradient nodes in grads[0..n-1] (each of its wrt's shape).
 *
 * The gradient nodes are ordinary nodes built with each op's gradient rule, so
 * they can be run, drawn, measured, and differentiated again (call nb_grad on a
 * gradient for second derivatives and Hessian-vector products). Contributions
 * through several paths are summed. Only nodes on a path from a wrt node to y
 * get gradient nodes. When y does not depend on wrt[i], grads[i] is an
 * nb_fill node of zeros (op name "fill"): stated, not an error.
 *
 * Gradient nodes are flagged (nb_node_is_grad) and built in mirror scopes
 * "grad:<name>" of the forward scopes.
 *
 * Returns the graph's status. Errors: NB_ERR_SHAPE if y is not a scalar (reduce
 * it first, e.g. with nb_sum); NB_ERR_ARG for NULL arguments; NB_ERR_GRAPH for a
 * foreign node; NB_ERR_DTYPE for an i32 y, or a wrt node whose dtype is not
 * y's (i32 labels); NB_ERR_ARG while a scope is still open (an nb_scope_push
 * without its pop: its gradient nodes would land in it). On error grads[] is
 * all NULL. A state node (nb_state) is a constant: its gradient is a fill node
 * of zeros.
 */
NB_API nb_status nb_grad(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt, nb_node **grads);

/*
 * The graph simplifier. nb_grad applies it to the nodes it builds (unless
 * turned off with nb_graph_set_simplify), and nb_graph_simplify applies it to
 * any outputs. Its rules change node count, depth and speed, not results:
 *
 * - common subexpressions: two nodes of one op, dtype, shape, inputs and
 *   attributes are one node (not dropout, batch_norm or mode_select, whose
 *   results depend on more than that, nor inputs, parameters and state).
 *   The table of nodes seen is bounded (2 MB), so in a pass over more than
 *   about 16,000 nodes two equal nodes far apart may both stay;
 * - constant folding: an elementwise op, broadcast_to, sum_to or transpose
 *   whose inputs are all nabla's own constants (those nb_grad made, never a
 *   program's nb_const, which nb_node_write may change) and whose result has
 *   at most 64 elements is computed once, by its kernel, and becomes a
 *   constant;
 * - identities: x*1, x/1, x+0, x-0 are x (1 and 0 being a fill node or
 *   nabla's own constant, and x already of the result's shape); -(-x) and
 *   transpose(transpose(x)) are x; reshape(reshape(x)) and
 *   broadcast_to(broadcast_to(x)) skip the middle node, and a reshape or
 *   broadcast to x's own shape is x. x*0 is NOT rewritten: it is 0 only for
 *   finite x (inf*0 and NaN*0 are NaN), so it is computed, or folded when x
 *   is a constant, whose value is known;
 * - in nb_grad, a node's gradient contributions from several paths are
 *   summed in a tree shaped by their depths: two of equal depth are added as
 *   soon as both exist, so T contributions of equal depth cost ceil(log2 T)
 *   levels of add instead of the T-1 of a chain; a contribution two or more
 *   levels deeper than all those waiting has them summed first; the rest is
 *   summed, two shallowest first, when the node's gradient is needed.
 *   Few contributions wait at a time, so they do not all stay alive;
 * - in nb_grad, two contributions that place their values in zeros along
 *   one axis (the gradients of step-1 slices: slice_grad nodes) are joined,
 *   not added, when no two of their pieces overlap: one concat of the pieces
 *   (+0 fill nodes in the gaps, and a slice_grad around it if they do not
 *   reach both ends), so the four gate slices of an LSTM give their gates
 *   one [B, 4H] concat instead of four zero-padded [B, 4H] tensors and three
 *   adds. Up to NB_MAX_ARITY pieces; then they are added.
 *
 * Merging, folding and identities are exact: the same kernels on the same
 * values give the same bits (the one exception: x + 0 for x = -0 gives -0,
 * where the add would give +0; the two compare equal; so do joined slices'
 * gradients, whose -0 stays -0). A sum of three or
 * more contributions may be associated differently from the chain, so in
 * floating point it may differ in the last bits (three of equal depth are
 * summed as the chain does; sums of integers are exact either way). nb_grad
 * also drops the nodes its rules built that no gradient needs.
 *
 * nb_graph_simplify writes in simplified[i] a node computing what outs[i]
 * does: outs[i] itself when nothing applies, else an earlier equal node or a
 * new node. It never changes or removes existing nodes (a program may hold
 * them), so the old nodes stay, and a run of simplified[] skips them.
 * Returns the graph's status; errors are sticky: NB_ERR_ARG for NULL
 * arguments, NB_ERR_GRAPH for a foreign node, NB_ERR_NOMEM. On error
 * simplified[] is all NULL.
 */
NB_API nb_status nb_graph_simplify(nb_graph *g, size_t n, nb_node *const *outs,
                                   nb_node **simplified);

/*
 * Turns the simplifier in nb_grad on (the default) or off: off, nb_grad keeps
 * its rules' raw output, a left-deep chain of adds for each sum (for "before"
 * figures, or to see each rule's nodes). nb_graph_simplify is not affected.
 */
NB_API void nb_graph_set_simplify(nb_graph *g, bool on);

/* True if nb_grad simplifies the nodes it builds (see nb_graph_set_simplify). */
NB_API bool nb_graph_simplifies(const nb_graph *g);

/* Options of nb_gradcheck. Start from nb_gradcheck_defaults(). */
typedef struct nb_gradcheck_options {
    double eps;            /* central-difference step (default 1e-6) */
    double rtol;           /* relative tolerance (default 1e-5) */
    double atol;           /* absolute tolerance (default 1e-7) */
    nb_node *const *grads; /* check these gradient nodes instead of nb_grad's (default NULL) */
} nb_gradcheck_options;

NB_API nb_gradcheck_options nb_gradcheck_defaults(void);

/* What nb_gradcheck found for one wrt node. */
typedef struct nb_gradcheck_result {
    double max_abs_err; /* max |analytic - numeric| */
    double max_rel_err; /* max |analytic - numeric| / max(|analytic|, |numeric|) */
    size_t worst_index; /* element with the largest |a - n| / (atol + rtol |n|) */
    double analytic;    /* analytic gradient at worst_index */
    double numeric;     /* numeric gradient at worst_index */
    bool passed;        /* every element within atol + rtol * |numeric| */
} nb_gradcheck_result;

/*
 * Checks nb_grad's gradient of the scalar y with respect to the leaves wrt[0..n-1]
 * against central finite differences (f(x+eps) - f(x-eps)) / 2eps, element by
 * element. Use float64 graphs: float32 differences are too coarse to check.
 * Unless opts->grads is set, each call runs nb_grad and so appends new gradient
 * nodes to g; with opts->grads set, those nodes (gradients already built, or
 * deliberately wrong ones in a test of the checker) are checked instead and
 * nothing is added. It runs the graph 1 + 2 * size times per wrt node, so the
 * values of earlier runs are no longer valid afterwards. Leaf values are
 * restored afterwards, state leaves too: every run starts from the states'
 * values at the call, so the running statistics a training run of batch_norm
 * updates end as they were. Fills results[0..n-1].
 * Returns NB_OK when the check ran (see results[i].passed), or the error that
 * stopped it (NB_ERR_ARG if a wrt node is not a leaf).
 */
NB_API nb_status nb_gradcheck(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt,
                              const nb_gradcheck_options *opts, nb_gradcheck_result *results);

/* ======================================================================== */
/* Execution                                                                */
/* ======================================================================== */

/* Flags of nb_graph_run_ex. */
enum {
    NB_RUN_KEEP_ALL = 1, /* keep every computed value readable (no buffer reuse), e.g. for DOT */
    NB_RUN_CHECK_FINITE = 2, /* stop at the first node whose output holds a NaN or an infinity */
    NB_RUN_TRAIN = 4,        /* this run in training mode, whatever the graph's mode */
    NB_RUN_EVAL = 8,         /* this run in evaluation mode, whatever the graph's mode */
};

/*
 * Sets the graph's mode for later runs: training (true, the mode of a new
 * graph, as PyTorch's modules start) or evaluation (false). Ops that behave
 * differently follow it: dropout drops only in training; batch_norm uses the
 * batch's statistics and updates its running ones in training, and uses the
 * running ones in evaluation. The NB_RUN_TRAIN and NB_RUN_EVAL flags override
 * it for one run. Changing the mode does not re-plan a run or allocate.
 */
NB_API void nb_graph_set_training(nb_graph *g, bool training);

/* Returns the graph's mode: true for training (see nb_graph_set_training). */
NB_API bool nb_graph_training(const nb_graph *g);

/*
 * Computes outs[0..n-1] and every node they need, in topological order, and
 * nothing else. NB_ERR_GRAPH if an output belongs to another graph.
 * The first run of a given set of outputs plans it: the order,
 * and buffer reuse by liveness, so a value's memory is reused once its last
 * consumer has run. Later runs of the same set allocate nothing. Values are
 * read with nb_node_data and stay valid until the next run on the graph.
 * Returns NB_ERR_* of the graph's sticky error without running, NB_ERR_ARG for
 * bad arguments or while a scope is still open (not sticky: pop it and run),
 * NB_ERR_NOMEM, or NB_ERR_VALUE from an op (see nb_graph_error). A run that
 * reads an input never given values (nb_node_write, nb_node_write_f64, a
 * pointer from nb_node_data, a loaded batch or checkpoint) succeeds with
 * zeros and leaves "warning: input x was never written ..." in nb_graph_error.
 * A run of f32 scalar ops alone whose outputs are not gradients keeps all its
 * values (16 bytes a step), and the next run reuses those it needs while every
 * leaf holds the bits that run read: the same results, computed once.
 */
NB_API nb_status nb_graph_run(nb_graph *g, size_t n, nb_node *const *outs);

/*
 * As nb_graph_run, with NB_RUN_ flags. With NB_RUN_CHECK_FINITE every op's
 * output is scanned as it is computed; the first NaN or infinity stops the run
 * with NB_ERR_VALUE and a message naming the node, its op, the first bad
 * element and the value ranges of its inputs:
 *     check_finite: log_1[3] (log) produced NaN at index 1; inputs: x[3] in [-1, 2]
 */
NB_API nb_status nb_graph_run_ex(nb_graph *g, size_t n, nb_node *const *outs, int flags);

/* ======================================================================== */
/* Depth                                                                    */
/* ======================================================================== */

/* Levels of nb_depth. Level k >= 1 counts the scopes of nesting level k as elements. */
enum {
    NB_DEPTH_OPS = 0,    /* every op node is one element */
    NB_DEPTH_SCOPES = 1, /* outermost scope instances are one element each */
};

/*
 * Returns the depth of out: the number of elements on the longest path from a
 * leaf to out (Goodfellow et al., Deep Learning, section 1, figure 1.3). Leaves
 * and fill nodes (no inputs) have depth 0; an op node has depth 1 + the largest
 * depth among its inputs, except that at level >= 1 a step between two op nodes
 * of the same scope instance (at that nesting level, or the node's innermost
 * scope if shallower) adds 0, so a whole scope counts as one element. A gradient
 * node's depth is measured over the combined graph, forward nodes it uses included.
 * Returns -1 on a graph in error, or after reporting (not sticky, as for runs:
 * the graph stays usable) NB_ERR_ARG for a NULL node, a negative level or a
 * scope still open, NB_ERR_GRAPH for a foreign node, NB_ERR_NOMEM.
 */
NB_API int nb_depth(nb_graph *g, nb_node *out, int level);

/*
 * Computes the longest path to out at level and writes its nodes, from a leaf to
 * out, to path[0..cap-1]. Returns the number of nodes on the whole path (depth + 1
 * at level 0), which may exceed cap: call again with a larger buffer. Ties go to
 * the input listed first (nb_node_input(v, 0) before 1). Returns 0 on the
 * errors of nb_depth.
 */
NB_API size_t nb_depth_path(nb_graph *g, nb_node *out, int level, nb_node **path, size_t cap);

/*
 * Returns the depth of out in the graph of concepts (Deep Learning, chapter 1:
 * the depth of the graph of concepts, against the depth of the computation).
 * Every scope name is one concept: at level >= 1 an op node's concept is the
 * name of its element scope (as nb_depth: its scope at nesting level `level`,
 * or its innermost one when shallower), so all instances of one name, in
 * every step of a loop, are one node of the concept graph; an op outside any
 * scope is a concept of its own, and leaves are none (depth 0). An edge joins
 * the concepts of an input and of its consumer when they differ. Feedback
 * makes cycles; the rule for them: concepts that reach each other (a
 * strongly connected component) count together, each one once, and a path
 * passes such a group once. The depth is the largest number of concepts so
 * counted on a path ending at out's concept. So an iterative refinement of
 * `eyes` and `face` over n steps has concept depth 2 and scope depth 2n
 * (docs/depth.md). Writes the concepts counted, from the first, to
 * names[0..cap-1] (names may be NULL; the strings are owned by the graph);
 * the count is the depth. Returns -1 on a graph in error, or after reporting
 * (not sticky) NB_ERR_ARG for a NULL node or a level below 1, NB_ERR_GRAPH,
 * NB_ERR_NOMEM.
 */
NB_API int nb_depth_concepts(nb_graph *g, nb_node *out, int level, const char **names, size_t cap);

/* ======================================================================== */
/* Graphviz DOT                                                             */
/* ======================================================================== */

/* Options of nb_graph_write_dot. Start from nb_dot_defaults(). */
typedef struct nb_dot_options {
    nb_node *const *outputs; /* draw only what these depend on (NULL: the whole graph) */
    size_t n_outputs;
    bool grad;          /* include gradient nodes (default false) */
    bool values;        /* show values and gradients when computed and small (default false) */
    size_t max_values;  /* show values of nodes with at most this many elements (default 8) */
    nb_node *highlight; /* highlight the longest path to this node (default NULL) */
    int depth_level;    /* level of that path, as nb_depth (default NB_DEPTH_OPS) */
    const char *title;  /* graph label (default none) */
    bool left_to_right; /* rankdir=LR instead of top to bottom (default false) */
    int collapse;       /* k >= 1: draw each scope instance of level k as one node, as the
                           book's second figure 1.3 draws logistic regression (default 0) */
} nb_dot_options;

NB_API nb_dot_options nb_dot_defaults(void);

/*
 * Writes the graph as Graphviz DOT to f. Each node shows its name, op and shape,
 * and, with values, its value and its gradient when they are computed and small.
 * Inputs are green ellipses, parameters orange boxes, state nodes pale dashed
 * boxes, constants grey plain text,
 * ops white rounded boxes and gradient ops blue; scopes are clusters; the longest
 * path to highlight is red and bold. Node ids are stable ("n12" is node 12).
 * A scalar's shape reads "scalar". Edges into an op whose inputs play
 * different parts carry the input's role (a and b of sub, div and matmul; y
 * and dy of the *_grad ops), and the seed of a gradient reads ∂y/∂y = 1.
 * Gradients show (with values) only in a drawing with grad. With collapse = k,
 * each scope instance of level k (or a shallower innermost one) is one node
 * "s<scope id>" named after the scope and what it outputs, edges between
 * elements are drawn once, and a highlighted path is red through them.
 * opts may be NULL for the defaults. Returns NB_ERR_IO when writing fails.
 */
NB_API nb_status nb_graph_write_dot(nb_graph *g, FILE *f, const nb_dot_options *opts);

/* ======================================================================== */
/* Optimizers                                                               */
/* ======================================================================== */

typedef struct nb_optim nb_optim;

/* The optimizers, with the update rules of their papers and PyTorch's documentation. */
typedef enum nb_optim_kind {
    NB_OPTIM_SGD,     /* with momentum, dampening, Nesterov, L2 weight decay */
    NB_OPTIM_ADAGRAD, /* Duchi et al. 2011, with lr decay */
    NB_OPTIM_RMSPROP, /* Hinton's lecture 6e, with momentum and centered variants */
    NB_OPTIM_ADAM,    /* Kingma and Ba 2015, bias-corrected; weight decay as L2 */
    NB_OPTIM_ADAMW,   /* Loshchilov and Hutter 2019: decoupled weight decay */
} nb_optim_kind;

/* Learning-rate schedules: the rate for step t (counted from 1). */
typedef enum nb_schedule_kind {
    NB_SCHEDULE_CONSTANT, /* lr */
    NB_SCHEDULE_STEP,     /* lr * gamma^floor((t-1) / step_size) */
    NB_SCHEDULE_COSINE,   /* lr_min + (lr - lr_min) (1 + cos(pi min(t-1, t_max) / t_max)) / 2 */
} nb_schedule_kind;

typedef struct nb_schedule {
    nb_schedule_kind kind;
    int64_t step_size; /* STEP: steps between decays */
    double gamma;      /* STEP: decay factor */
    int64_t t_max;     /* COSINE: steps to reach lr_min */
    double lr_min;     /* COSINE: final rate */
    int64_t warmup;    /* linear warm-up, lr * t / warmup for t <= warmup (0: none); the kind's
                          formula then runs with t - warmup in place of t */
} nb_schedule;

/*
 * Options of nb_optim_new. Start from nb_optim_defaults(kind): PyTorch's
 * defaults (for SGD, which has none in PyTorch, lr 0.01), a constant schedule,
 * and for a step schedule gamma 0.1 with step_size left 0, so choosing
 * NB_SCHEDULE_STEP without a step size is an error rather than a decay every step.
 */
typedef struct nb_optim_options {
    nb_optim_kind kind;
    double lr;           /* learning rate (SGD 0.01, Adagrad 0.01, RMSprop 0.01, Adam(W) 0.001) */
    double weight_decay; /* L2 penalty added to the gradient; AdamW: decoupled (default 0.01) */
    double momentum;     /* SGD, RMSprop (default 0) */
    double dampening;    /* SGD (default 0) */
    bool nesterov;       /* SGD: Nesterov momentum (needs momentum > 0, dampening 0) */
    double beta1, beta2; /* Adam(W): 0.9, 0.999 */
    double alpha;        /* RMSprop smoothing constant: 0.99 */
    bool centered;       /* RMSprop: divide by the centered second moment */
    double eps;          /* Adam(W) 1e-8, RMSprop 1e-8, Adagrad 1e-10 */
    double lr_decay;     /* Adagrad: lr / (1 + (t-1) lr_decay) */
    double initial_accumulator; /* Adagrad: starting sum of squares */
    double clip_norm;           /* clip gradients to this global L2 norm first (0: off) */
    nb_schedule schedule;
    /*
     * Data-parallel training (see "Distributed training" below): each step
     * sums the gradients of every process, each weighted by its share
     * (nb_optim_set_share, 1/size by default), before clipping and the update,
     * so every process applies the same update. Does nothing in a run of one
     * process. The all-reduces go in buckets of about dist_bucket_bytes
     * (0: 1 MiB; SIZE_MAX: one all-reduce after the whole gradient run),
     * started while the gradient run still computes the rest. Join the job
     * (nb_dist_init) before nb_optim_new.
     */
    bool distributed;
    size_t dist_bucket_bytes;
} nb_optim_options;

NB_API nb_optim_options nb_optim_defaults(nb_optim_kind kind);

/*
 * Creates an optimizer for params[0..n-1] (parameters of g) whose gradients are
 * grads[0..n-1] (from nb_grad of loss). loss may be NULL; when given, each step
 * also computes it (read it with nb_optim_loss). The optimizer owns its state
 * (moments), allocated once here; steps allocate nothing.
 * Returns NULL after recording an error on g, sticky as a builder's: NB_ERR_ARG
 * for bad options or arguments (a grad not shaped like its param, a param that
 * is not a param, such as a state node, params of mixed dtypes).
 */
NB_API nb_optim *nb_optim_new(nb_graph *g, nb_node *loss, size_t n, nb_node *const *params,
                              nb_node *const *grads, const nb_optim_options *opts);

/* Releases the optimizer and its state (not the graph). NULL is allowed. */
NB_API void nb_optim_free(nb_optim *opt);

/*
 * One step: runs the graph for the loss and the gradients (with the inputs as
 * they are now), then updates every parameter in place. Returns the run's
 * status (nothing is updated when it fails) or NB_ERR_VALUE when a gradient is
 * not finite (nothing is updated; see nb_graph_error).
 */
NB_API nb_status nb_optim_step(nb_optim *opt);

/*
 * As nb_optim_step, but runs loss and grads[0..n-1] given here instead of the
 * ones the optimizer was made with: another instance of the same model over
 * the same parameters, such as a smaller last batch. The state is shared, and
 * alternating between instances allocates nothing after the first run of each.
 */
NB_API nb_status nb_optim_step_with(nb_optim *opt, nb_node *loss, nb_node *const *grads);

/*
 * Gradient accumulation: one micro-batch of a global batch. Runs loss and
 * grads[0..n-1] (both NULL: the optimizer's own, as nb_optim_step) and adds
 * the gradients times the share (nb_optim_set_share) to a sum the optimizer
 * keeps, without updating; the next nb_optim_step or nb_optim_step_with adds
 * its own run the same way and updates from the sum. With each micro-batch's
 * share its examples over the global batch's and a loss that is a mean over
 * its examples, the sum is the gradient of the mean over the global batch.
 * Micro-batches computed on one process and the same micro-batches spread
 * over two (`distributed`, one each) give the same sums, bit for bit
 * (docs/distributed.md). The first call allocates the sum, one copy of the
 * parameters, once (without MPI; under it the all-reduce's buffer holds it).
 * nb_optim_loss then returns this run's loss. Not collective. Returns the
 * run's status; after a failure the sum is lost, and the next step fails
 * with this message without updating (under MPI on every process, naming
 * this rank).
 */
NB_API nb_status nb_optim_accumulate(nb_optim *opt, nb_node *loss, nb_node *const *grads);

/* The loss computed by the last step or accumulation (NaN before the first, or without a loss node). */
NB_API double nb_optim_loss(const nb_optim *opt);

/*
 * The divergence check of `nabla train`: true when loss (say, an epoch's mean
 * loss) is not finite or is over 1000 times the loss of the optimizer's first
 * step, a run that does not come back; stop and lower the learning rate.
 * False for a NULL opt and before any step with a loss.
 */
NB_API bool nb_optim_diverged(const nb_optim *opt, double loss);

/* Steps taken so far. */
NB_API int64_t nb_optim_steps(const nb_optim *opt);

/* The learning rate the next step will use (after the schedule). */
NB_API double nb_optim_lr(const nb_optim *opt);

/* The global gradient norm of the last step, before clipping. */
NB_API double nb_optim_grad_norm(const nb_optim *opt);

/* ======================================================================== */
/* Datasets                                                                 */
/* ======================================================================== */

/*
 * A dataset in memory: rows examples of cols features each, and one label or
 * target per example. Readers fill it; nb_dataset_free releases it.
 */
typedef struct nb_dataset {
    size_t rows;     /* examples */
    size_t cols;     /* features per example */
    float *x;        /* rows * cols features, row-major */
    double *y;       /* rows labels (class numbers) or regression targets */
    int32_t classes; /* 1 + the largest label when every label is a whole number >= 0, else 0 */
} nb_dataset;

/*
 * Reads MNIST's IDX format: an images file (magic 0x00000803, N x rows x cols
 * unsigned bytes) and a labels file (magic 0x00000801, N bytes). Features are
 * the raw pixel values 0..255 (see nb_dataset_scale).
 * On error returns NB_ERR_IO (a file cannot be opened or read) or NB_ERR_FORMAT
 * (wrong magic number, truncated file, counts that differ), writes a message
 * naming the file to err (err_size bytes; err may be NULL), and leaves *ds empty.
 */
NB_API nb_status nb_dataset_read_idx(nb_dataset *ds, const char *images_path,
                                     const char *labels_path, char *err, size_t err_size);

/*
 * Reads a numeric CSV file with a header line. The column named label_column
 * holds the labels or targets; every other column is a feature. Fields are
 * separated by commas; every field must be a number.
 * On error returns NB_ERR_IO or NB_ERR_FORMAT (no such column, a ragged row, a
 * field that is not a number, no data rows) with a message naming the file and
 * the line ("digits-train.csv:12: field 5 ('x') is not a number").
 */
NB_API nb_status nb_dataset_read_csv(nb_dataset *ds, const char *path, const char *label_column,
                                     char *err, size_t err_size);

/* Releases the dataset's arrays and empties it. */
NB_API void nb_dataset_free(nb_dataset *ds);

/* Multiplies every feature by factor (1/255 turns pixels into [0, 1]). */
NB_API void nb_dataset_scale(nb_dataset *ds, double factor);

/*
 * Standardizes every feature column of train to mean 0 and standard deviation
 * 1, and applies train's statistics to other (which may be NULL), so no test
 * statistic leaks into training. Constant columns are only centered.
 */
NB_API void nb_dataset_standardize(nb_dataset *train, nb_dataset *other);

/*
 * The statistics nb_dataset_standardize uses: each feature column's mean and
 * standard deviation over ds (population form, divided by rows), into
 * mean[cols] and std[cols]. An empty dataset gives 0 and 1.
 */
NB_API void nb_dataset_moments(const nb_dataset *ds, double *mean, double *std);

/*
 * Applies saved statistics: each feature becomes (x - mean[c]) / std[c], a
 * std of 0 only centering, as nb_dataset_standardize does with train's own.
 */
NB_API void nb_dataset_normalize(nb_dataset *ds, const double *mean, const double *std);

/* Mini-batches over n examples in a seeded random order. */
typedef struct nb_batches {
    size_t n, batch;
    size_t *order; /* a permutation of 0..n-1 */
    uint64_t rng;
    int shard, shards; /* this process's part of each batch (nb_batches_shard); 0, 0: all */
} nb_batches;

/*
 * Prepares ceil(n / batch) batches in order 0..n-1 (call nb_batches_shuffle for
 * a random order). Returns NB_ERR_ARG for n or batch 0, NB_ERR_NOMEM.
 */
NB_API nb_status nb_batches_init(nb_batches *b, size_t n, size_t batch, uint64_t seed);

/*
 * Draws a new order (Fisher-Yates over 0..n-1) from the generator state b->rng,
 * advancing it: the same state gives the same order, so a program can set
 * b->rng from its seed and the epoch number to make each epoch's order
 * reproducible on its own (as a resumed run needs).
 */
NB_API void nb_batches_shuffle(nb_batches *b);

/* Number of batches: ceil(n / batch). */
NB_API size_t nb_batches_count(const nb_batches *b);

/*
 * Examples in batch k: batch, or fewer for the last one; after
 * nb_batches_shard, this process's part of them.
 */
NB_API size_t nb_batches_size(const nb_batches *b, size_t k);

/*
 * Splits every batch into shards contiguous parts, of sizes differing by at
 * most one, and makes this process take part shard (0 <= shard < shards):
 * nb_batches_size and nb_dataset_load_batch then see that part only. With the
 * same seed every process draws the same order, so each epoch every example
 * is in exactly one process's part (a part may be empty when the last batch
 * has fewer examples than shards). Usually nb_batches_shard(b,
 * nb_dist_rank(), nb_dist_size()). Returns NB_ERR_ARG for a bad shard.
 */
NB_API nb_status nb_batches_shard(nb_batches *b, int shard, int shards);

/* Examples in batch k over all shards (nb_batches_size before sharding). */
NB_API size_t nb_batches_global_size(const nb_batches *b, size_t k);

NB_API void nb_batches_free(nb_batches *b);

/*
 * Copies batch k of ds into the inputs x ([size, cols], f32 or f64) and y
 * ([size], i32, f32 or f64; may be NULL), where size is nb_batches_size(b, k).
 * Returns NB_ERR_ARG when the shapes do not fit (see nb_graph_error),
 * NB_ERR_GRAPH when x or y belongs to another graph, or NB_ERR_VALUE when y
 * is i32 and a label is not a whole number (nothing is copied then).
 */
NB_API nb_status nb_dataset_load_batch(nb_graph *g, const nb_dataset *ds, const nb_batches *b,
                                       size_t k, nb_node *x, nb_node *y);

/* ======================================================================== */
/* Checkpoints                                                              */
/* ======================================================================== */

/*
 * Saves params[0..n-1] (names, dtypes, shapes, values) and, when opt is not
 * NULL, its state (steps taken and moments) to path, atomically: the file is
 * written beside path under a temporary name, flushed and synced, then renamed
 * over path, so a crash leaves either the old file or the new one (the new
 * file keeps the old one's permissions, or gets 0644). The format (docs/training.md)
 * has a magic number, a version and a CRC-32. params may be any leaves with
 * values; state nodes (nb_state: running statistics) are saved beside the
 * parameters, with or without an optimizer.
 * Returns NB_ERR_IO on failure (see nb_graph_error), NB_ERR_ARG for bad
 * arguments (duplicate names, names over 4096 bytes, parameters, state nodes
 * aside, that are not exactly the optimizer's), NB_ERR_GRAPH for a parameter
 * of another graph.
 */
NB_API nb_status nb_checkpoint_save(nb_graph *g, const char *path, size_t n, nb_node *const *params,
                                    const nb_optim *opt);

/*
 * Loads params[0..n-1] (matched by name; dtypes and shapes must agree) and,
 * when opt is not NULL, the optimizer state, from a file nb_checkpoint_save
 * wrote. The whole file is checked before anything changes: on any error no
 * parameter and no state is modified. Returns NB_ERR_IO (cannot read),
 * NB_ERR_FORMAT (not a checkpoint, wrong version, truncated, checksum mismatch,
 * missing or mismatched tensors, no optimizer state when one is asked for),
 * or NB_ERR_ARG and NB_ERR_GRAPH as nb_checkpoint_save.
 */
NB_API nb_status nb_checkpoint_load(nb_graph *g, const char *path, size_t n, nb_node *const *params,
                                    nb_optim *opt);

/*
 * Looks up the tensor `name` in the checkpoint at path, for a caller that
 * saves more than the model's leaves (the nabla command saves --standardize's
 * statistics as the state nodes "standardize:mean" and "standardize:std") and
 * must know what a file holds before it loads it with nb_checkpoint_load.
 * The file is read and its checksum verified. Returns NB_OK with *found set,
 * and when it is true the tensor's dtype, rank and shape (NB_MAX_RANK
 * entries); NB_ERR_IO or NB_ERR_FORMAT (the message in nb_graph_error) when
 * the file cannot be read or is not a checkpoint; NB_ERR_ARG for a NULL
 * argument. Not sticky.
 */
NB_API nb_status nb_checkpoint_find(nb_graph *g, const char *path, const char *name, bool *found,
                                    nb_dtype *dtype, int *rank, int64_t *shape);

/* ======================================================================== */
/* Distributed training (MPI)                                               */
/* ======================================================================== */
/*
 * Data-parallel training on MPI (dist/dist.c, docs/distributed.md): the same
 * program runs as several processes (mpirun -np 2 prog), each builds the
 * same model, takes its shard of every global batch (nb_batches_shard), and
 * the optimizer option `distributed` sums the processes' gradients before
 * every update, so all processes keep the same parameters. In a build
 * without MPI (meson -Dmpi=disabled), or a program not started by mpirun,
 * these functions see one process of rank 0 and change nothing.
 *
 * Collective functions (marked so) must be called by every process, in the
 * same order. A process that fails on its own, outside a collective call,
 * ends the others with nb_dist_abort; a failure found inside one (a file
 * only one process could not read, passed to nb_dist_agree; a gradient that
 * is not finite on one process) is reported by every process, naming the
 * rank, so all of them stop cleanly.
 */

/* True when nabla was built with MPI. */
NB_API bool nb_dist_available(void);

/*
 * Joins the job: attaches to MPI when the program initialized it already,
 * else initializes it (MPI_Init_thread, funneled; argc and argv may be NULL)
 * when mpirun or another launcher started the process; otherwise the run is
 * one process and MPI is not started. Call once, before the other nb_dist
 * functions. Returns NB_ERR_ARG when a launcher started several processes
 * but nabla was built without MPI (each would train alone), NB_ERR_IO when
 * MPI fails to start; nb_dist_error says why. Collective.
 */
NB_API nb_status nb_dist_init(int *argc, char ***argv);

/* This process's rank, 0 to nb_dist_size() - 1 (0 before nb_dist_init). */
NB_API int nb_dist_rank(void);

/* Number of processes in the job (1 before nb_dist_init or without MPI). */
NB_API int nb_dist_size(void);

/* The message of the last failed nb_dist_init, "" if none. */
NB_API const char *nb_dist_error(void);

/*
 * Leaves the job: finalizes MPI if nb_dist_init started it (a program that
 * attached finalizes it itself). Call at the end of a successful run, from
 * every process. Collective.
 */
NB_API void nb_dist_finalize(void);

/*
 * Ends every process of the job at once with exit status code (MPI_Abort):
 * for a failure on this process alone, which the others, waiting in a
 * collective call, would never learn of. In a run of one process, exit(code).
 */
NB_API void nb_dist_abort(int code);

/*
 * Agrees on a status: returns NB_OK when every process passes NB_OK, else
 * the status of the lowest failing rank, whose message (msg, on that rank)
 * is copied into msg on every process as "rank R: message". msg holds cap
 * bytes and is read on a failing process, written on all when one failed.
 * Collective.
 */
NB_API nb_status nb_dist_agree(nb_status local, char *msg, size_t cap);

/* Replaces x[0..n-1] by its sum over all processes (every process gets the same). Collective. */
NB_API nb_status nb_dist_sum(double *x, size_t n);

/*
 * Copies the values of nodes[0..n-1] (leaves with values: parameters, state
 * nodes) from rank 0 to every process, so a run never starts from different
 * weights. Returns NB_ERR_ARG for a node without a value (recorded as the
 * graph's run error) and NB_ERR_IO if MPI fails. Collective.
 */
NB_API nb_status nb_dist_broadcast(nb_graph *g, size_t n, nb_node *const *nodes);

/*
 * Sets the share of the global batch that the next runs (steps and
 * nb_optim_accumulate) compute: their gradients are multiplied by share
 * before they are summed, over micro-batches and, with `distributed`, over
 * processes. With a loss that is a mean over the run's examples, share =
 * its examples / the global batch's gives the gradient of the mean over
 * the global batch; 0 means the run has no examples and adds zeros,
 * without running the graph. The default is 1 / processes with
 * `distributed`, else 1. Returns NB_ERR_ARG for a share outside [0, 1].
 */
NB_API nb_status nb_optim_set_share(nb_optim *opt, double share);

/*
 * nb_checkpoint_save on rank 0 only (atomically, as always), then agrees:
 * every process returns rank 0's status, with its message as the graph's
 * run error. Collective.
 */
NB_API nb_status nb_dist_checkpoint_save(nb_graph *g, const char *path, size_t n,
                                         nb_node *const *params, const nb_optim *opt);

/*
 * nb_checkpoint_load on rank 0 only, then broadcasts the loaded values and
 * the optimizer's state and step count, so every process continues from
 * the same point. Every process returns rank 0's status. Collective.
 */
NB_API nb_status nb_dist_checkpoint_load(nb_graph *g, const char *path, size_t n,
                                         nb_node *const *params, nb_optim *opt);

/* ======================================================================== */
/* Layers                                                                   */
/* ======================================================================== */
/*
 * Model-building helpers built on the functions above only (layers/ includes
 * nothing but this header). A layer is made once, which creates its
 * parameters, named after it ("fc1_weight", "fc1_bias") and initialized as
 * PyTorch's module of the same kind is by default; it is then applied any
 * number of times, so a model built for several batch sizes shares one set of
 * parameters. Each application builds its nodes in a scope named after the
 * layer, so DOT clusters and depth over scopes show layers. Weights use
 * PyTorch's layouts, so trained values interoperate.
 *
 * A layer's name must be a model-language name ([A-Za-z_][A-Za-z0-9_]*, at
 * most NB_LAYER_NAME_MAX - 1 bytes, suffixes included) so that
 * nb_model_write and checkpoints can name its parameters. Errors are sticky,
 * as for builders: a failed _new leaves NULL nodes in the layer and its apply
 * returns NULL.
 */
#define NB_LAYER_NAME_MAX 64

/* A fully connected layer: y = x @ weightᵀ + bias, as torch.nn.Linear. */
typedef struct nb_linear {
    char name[NB_LAYER_NAME_MAX];
    nb_node *weight; /* [out, in] */
    nb_node *bias;   /* [out], or NULL without bias */
} nb_linear;

/*
 * Makes a linear layer from in to out features. weight and bias are drawn
 * from U(-1/sqrt(in), 1/sqrt(in)), PyTorch's default.
 * Errors: NB_ERR_ARG (a name that is not a model-language name, or too long;
 * in or out below 1), NB_ERR_DTYPE (not f32 or f64), NB_ERR_NOMEM.
 */
NB_API nb_linear nb_linear_new(nb_graph *g, const char *name, nb_dtype dtype, int64_t in,
                               int64_t out, bool bias);

/*
 * Applies the layer to x[..., in] (rank 2 or 3: [N, in] or [B, T, in]) and
 * returns [..., out], built in scope layer->name. The product passes the
 * weight to BLIS transposed; nothing is copied.
 * Errors: as nb_matmul_ex and nb_add (NB_ERR_SHAPE when x's last axis is not in).
 */
NB_API nb_node *nb_linear_apply(nb_graph *g, const nb_linear *layer, nb_node *x);

/*
 * A layer wrapping an op of the same name is that name plus _layer
 * (nb_batch_norm_layer beside the op nb_batch_norm), with _new and _apply.
 * A failed _new returns a zeroed layer, which its _apply refuses with
 * NB_ERR_ARG ("batch_norm_layer: the layer is NULL or was not made by
 * nb_batch_norm_layer_new") on a graph not yet in error. Hyperparameters
 * (eps, momentum, p) are fields set to PyTorch's defaults by _new; a program
 * may change them before an application, which reads them when it builds.
 */

/* Layer normalization over the last axis, as torch.nn.LayerNorm(features). */
typedef struct nb_layer_norm_layer {
    char name[NB_LAYER_NAME_MAX];
    int64_t features; /* D, the size of the last axis */
    nb_node *weight;  /* [D], ones; NULL without affine */
    nb_node *bias;    /* [D], zeros; NULL without affine */
    double eps;       /* 1e-5 */
} nb_layer_norm_layer;

/*
 * Makes a layer normalization over features values; with affine, the
 * parameters "<name>_weight" (ones) and "<name>_bias" (zeros), as PyTorch's
 * elementwise_affine=True.
 * Errors: NB_ERR_ARG (the name, as nb_linear_new; features below 1),
 * NB_ERR_DTYPE (not f32 or f64, also without affine), NB_ERR_NOMEM.
 */
NB_API nb_layer_norm_layer nb_layer_norm_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                                   int64_t features, bool affine);

/*
 * Applies nb_layer_norm(x, weight, bias, eps) to x[..., features] in scope
 * layer->name: each row of the last axis centred and scaled to unit
 * variance, then weight * . + bias. Same in training and evaluation.
 * Errors: NB_ERR_SHAPE when x's last axis is not features
 * ("layer_norm_layer(x[2,3]): ln: the last axis has size 3, but the layer
 * normalizes 4 features"), and as nb_layer_norm.
 */
NB_API nb_node *nb_layer_norm_layer_apply(nb_graph *g, const nb_layer_norm_layer *layer,
                                          nb_node *x);

/*
 * Batch normalization over axis 1, as torch.nn.BatchNorm1d(features) (and
 * BatchNorm2d for x of rank 4), keeping running statistics.
 */
typedef struct nb_batch_norm_layer {
    char name[NB_LAYER_NAME_MAX];
    int64_t features;      /* C, the size of axis 1 */
    nb_node *weight;       /* [C], ones; NULL without affine */
    nb_node *bias;         /* [C], zeros; NULL without affine */
    nb_node *running_mean; /* state [C], zeros */
    nb_node *running_var;  /* state [C], ones */
    double momentum;       /* 0.1 */
    double eps;            /* 1e-5 */
} nb_batch_norm_layer;

/*
 * Makes a batch normalization over features channels: with affine, the
 * parameters "<name>_weight" (ones) and "<name>_bias" (zeros); always the
 * state nodes (nb_state) "<name>_running_mean" (zeros) and
 * "<name>_running_var" (ones), which nb_graph_params does not list and
 * nb_graph_states does. Every application shares them.
 * Errors: NB_ERR_ARG (the name, which must leave room for
 * "_running_mean"; features below 1), NB_ERR_DTYPE, NB_ERR_NOMEM.
 */
NB_API nb_batch_norm_layer nb_batch_norm_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                                   int64_t features, bool affine);

/*
 * Applies nb_batch_norm(x, weight, bias, running_mean, running_var, momentum,
 * eps) to x [N, C], [N, C, L] or [N, C, H, W] in scope layer->name. A
 * training run normalizes with the batch's statistics and updates the running
 * ones (once per application computed in the run); an evaluation run
 * normalizes with the running ones (see nb_batch_norm). Evaluate with
 * NB_RUN_EVAL or nb_graph_set_training(g, false), as with model.eval().
 * Errors: as nb_batch_norm (NB_ERR_SHAPE when axis 1 is not features).
 */
NB_API nb_node *nb_batch_norm_layer_apply(nb_graph *g, const nb_batch_norm_layer *layer,
                                          nb_node *x);

/* Dropout, as torch.nn.Dropout(p): no parameters. */
typedef struct nb_dropout_layer {
    char name[NB_LAYER_NAME_MAX];
    double p; /* the probability of zeroing an element in training */
} nb_dropout_layer;

/*
 * Makes a dropout layer. The name (at most NB_LAYER_NAME_MAX - 1 bytes)
 * is only its scope's: it has nothing to save.
 * Errors: NB_ERR_ARG (the name; p outside [0, 1):
 * "dropout_layer: drop: p must be in [0, 1) (got 1)").
 */
NB_API nb_dropout_layer nb_dropout_layer_new(nb_graph *g, const char *name, double p);

/*
 * Applies nb_dropout(x, p) in scope layer->name: in a training run each
 * element is zeroed with probability p and the rest scaled by 1/(1-p), a
 * new mask in each run and each application; the identity in evaluation.
 * Errors: as nb_dropout.
 */
NB_API nb_node *nb_dropout_layer_apply(nb_graph *g, const nb_dropout_layer *layer, nb_node *x);

/* A table of num vectors of dim values, as torch.nn.Embedding(num, dim). */
typedef struct nb_embedding_layer {
    char name[NB_LAYER_NAME_MAX];
    nb_node *weight; /* [num, dim], the table, drawn from N(0, 1) */
} nb_embedding_layer;

/*
 * Makes an embedding layer, its table the parameter "<name>_weight" (PyTorch
 * calls it weight too), drawn from N(0, 1) as PyTorch's default.
 * Errors: NB_ERR_ARG (the name; num or dim below 1), NB_ERR_DTYPE, NB_ERR_NOMEM.
 */
NB_API nb_embedding_layer nb_embedding_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                                 int64_t num, int64_t dim);

/*
 * Looks up the rows of the table for i32 ids of any shape S, giving S + [dim]
 * (nb_embedding), in scope layer->name. Only the rows used get gradient.
 * Errors: as nb_embedding (an id outside 0..num-1 fails the run with NB_ERR_VALUE).
 */
NB_API nb_node *nb_embedding_layer_apply(nb_graph *g, const nb_embedding_layer *layer,
                                         nb_node *ids);

/*
 * A 2-d convolution layer, as torch.nn.Conv2d(in, out, (kh, kw), stride,
 * padding, dilation, groups, bias): weight [out, in/groups, kh, kw] and bias
 * [out], PyTorch's layouts.
 */
typedef struct nb_conv2d_layer {
    char name[NB_LAYER_NAME_MAX];
    nb_node *weight;   /* [out, in/groups, kh, kw] */
    nb_node *bias;     /* [out], or NULL without bias */
    nb_conv_opts opts; /* stride, padding, dilation, groups, read at each apply */
} nb_conv2d_layer;

/*
 * Makes a 2-d convolution layer from in to out channels with a kh x kw
 * kernel and the settings opts (NULL: PyTorch's defaults; output_padding
 * must stay 0). Its parameters "<name>_weight" and "<name>_bias" are drawn
 * from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups * kh * kw:
 * PyTorch's default (kaiming_uniform with a = sqrt(5) for the weight, and
 * that bound for the bias).
 * Errors: NB_ERR_ARG (the name, as nb_linear_new; in, out or the kernel
 * below 1; groups not dividing in and out:
 * "conv2d_layer: c1: groups 4 must be positive and divide in (6) and out (16) channels"),
 * NB_ERR_DTYPE, NB_ERR_NOMEM.
 */
NB_API nb_conv2d_layer nb_conv2d_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                           int64_t in, int64_t out, int kh, int kw,
                                           const nb_conv_opts *opts, bool bias);

/*
 * Applies nb_conv2d(x, weight, bias, &layer->opts) to x[N, in, H, W] in
 * scope layer->name. Errors: as nb_conv2d.
 */
NB_API nb_node *nb_conv2d_layer_apply(nb_graph *g, const nb_conv2d_layer *layer, nb_node *x);

/* A 1-d convolution layer, as torch.nn.Conv1d(in, out, k, ...): weight [out, in/groups, k]. */
typedef struct nb_conv1d_layer {
    char name[NB_LAYER_NAME_MAX];
    nb_node *weight;   /* [out, in/groups, k] */
    nb_node *bias;     /* [out], or NULL without bias */
    nb_conv_opts opts; /* stride[0], padding[0], dilation[0], groups */
} nb_conv1d_layer;

/*
 * Makes a 1-d convolution layer of kernel size k, as nb_conv2d_layer_new
 * (fan_in = in/groups * k). Errors: as nb_conv2d_layer_new ("conv1d_layer: ...").
 */
NB_API nb_conv1d_layer nb_conv1d_layer_new(nb_graph *g, const char *name, nb_dtype dtype,
                                           int64_t in, int64_t out, int k, const nb_conv_opts *opts,
                                           bool bias);

/* Applies nb_conv1d to x[N, in, L] in scope layer->name. Errors: as nb_conv1d. */
NB_API nb_node *nb_conv1d_layer_apply(nb_graph *g, const nb_conv1d_layer *layer, nb_node *x);

/*
 * Recurrent cells, as torch.nn.RNNCell, LSTMCell and GRUCell, built from
 * ordinary ops (so their gradients, and the gradients of those, are graphs
 * too). A cell of hidden size H and G gates holds PyTorch's four parameters,
 * named after it: "<name>_weight_ih" [G*H, input_size], "<name>_weight_hh"
 * [G*H, H], "<name>_bias_ih" [G*H] and "<name>_bias_hh" [G*H], the gates
 * stacked along the rows in PyTorch's order, so a state_dict's tensors load
 * as they are. Every one is drawn from U(-1/sqrt(H), 1/sqrt(H)), PyTorch's
 * default. A step computes the two products x @ weight_ihᵀ and
 * h @ weight_hhᵀ (the weights passed to BLIS transposed, nothing copied) and
 * slices the gates off their last axis; it is built in scope <name>.
 * A step takes x [B, input_size] and states [B, H]. Its errors: NB_ERR_SHAPE
 * for an x that is not [B, input_size] or a state that is not [B, H] with x's
 * B ("lstm_cell(x[2,3], h[2,4], c[2,5]): lstm: the state h must be [2, 5]
 * (x's batch, hidden_size)"), NB_ERR_ARG for a NULL input or a cell that
 * its _new did not make ("lstm_cell: the cell is NULL or was not made by
 * nb_lstm_cell_new"), and those of the ops.
 * The _new functions' errors: NB_ERR_ARG (the name, which must leave room for
 * "_weight_ih"; input_size or hidden_size below 1), NB_ERR_DTYPE (not f32 or
 * f64), NB_ERR_NOMEM; a failed _new returns a zeroed cell.
 */

/* The nonlinearity of an Elman cell, as RNNCell's nonlinearity='tanh' or 'relu'. */
typedef enum nb_rnn_nonlinearity { NB_RNN_TANH, NB_RNN_RELU } nb_rnn_nonlinearity;

/* An Elman cell (G = 1): h' = act(x @ W_ihᵀ + b_ih + h @ W_hhᵀ + b_hh). */
typedef struct nb_rnn_cell {
    char name[NB_LAYER_NAME_MAX];
    int64_t input_size, hidden_size;
    nb_rnn_nonlinearity nonlinearity;
    nb_node *weight_ih, *weight_hh, *bias_ih, *bias_hh;
} nb_rnn_cell;

/*
 * An LSTM cell (G = 4, gates i, f, g, o in that order along the rows):
 * i, f, o = sigmoid of their rows of x @ W_ihᵀ + b_ih + h @ W_hhᵀ + b_hh,
 * g = tanh of its rows, c' = f * c + i * g, h' = o * tanh(c').
 */
typedef struct nb_lstm_cell {
    char name[NB_LAYER_NAME_MAX];
    int64_t input_size, hidden_size;
    nb_node *weight_ih, *weight_hh, *bias_ih, *bias_hh;
} nb_lstm_cell;

/*
 * A GRU cell (G = 3, gates r, z, n), PyTorch's formula with the reset gate
 * inside the hidden product: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),
 * z likewise, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
 * h' = (1 - z) * n + z * h.
 */
typedef struct nb_gru_cell {
    char name[NB_LAYER_NAME_MAX];
    int64_t input_size, hidden_size;
    nb_node *weight_ih, *weight_hh, *bias_ih, *bias_hh;
} nb_gru_cell;

/* Makes the cells. Errors: as above, and NB_ERR_ARG for an unknown nonlinearity. */
NB_API nb_rnn_cell nb_rnn_cell_new(nb_graph *g, const char *name, nb_dtype dtype,
                                   int64_t input_size, int64_t hidden_size,
                                   nb_rnn_nonlinearity nonlinearity);
NB_API nb_lstm_cell nb_lstm_cell_new(nb_graph *g, const char *name, nb_dtype dtype,
                                     int64_t input_size, int64_t hidden_size);
NB_API nb_gru_cell nb_gru_cell_new(nb_graph *g, const char *name, nb_dtype dtype,
                                   int64_t input_size, int64_t hidden_size);

/* One step of an Elman or GRU cell: the new state h' [B, H], or NULL after an error. */
NB_API nb_node *nb_rnn_cell_apply(nb_graph *g, const nb_rnn_cell *cell, nb_node *x, nb_node *h);
NB_API nb_node *nb_gru_cell_apply(nb_graph *g, const nb_gru_cell *cell, nb_node *x, nb_node *h);

/*
 * One step of an LSTM cell from the states h and c: stores h' and c' (each
 * [B, H]) in *h_out and *c_out (either may be NULL when not wanted; both are
 * set to NULL after an error). Returns the graph's status.
 */
NB_API nb_status nb_lstm_cell_apply(nb_graph *g, const nb_lstm_cell *cell, nb_node *x, nb_node *h,
                                    nb_node *c, nb_node **h_out, nb_node **c_out);

/*
 * Unrolls a cell over a batch-first sequence x [B, T, input_size] (as
 * PyTorch's batch_first=True) from the initial states h0 (and c0) [B, H],
 * NULL meaning zeros as in PyTorch, sharing the cell's parameters over the
 * T steps. Each step is built in a scope "step" (the cell's scope inside it),
 * so depth over scopes counts time steps. Returns every step's h as one
 * node [B, T, H] (the [B, 1, H] reshapes of the steps joined by nb_concat)
 * and stores the last state(s) in *h_last (and *c_last), each may be NULL.
 *
 * mask, when not NULL, is [B, T] of x's dtype: nonzero for a real step, 0
 * for padding. A padded step keeps the state it was given (h_t = h_(t-1),
 * through nb_where, a selection), so sequences of several lengths padded at
 * their end run in one batch: row b's *h_last is its state after its last
 * real step, its outputs at padded steps repeat that state (each bit for bit
 * as the sequence run alone), and a loss that weights the outputs by the mask
 * has the value and gradients of the sequences run one by one, up to the
 * order of floating-point sums; padded inputs get exactly zero gradient.
 *
 * Backpropagation through time is nb_grad over the result. To truncate it,
 * pass a chunk's last state through nb_stop_gradient before the next chunk.
 * Errors: NB_ERR_SHAPE for an x that is not [B, T, input_size]
 * ("lstm_unroll(x[2,3]): lstm: x must be [batch, steps, 4] (batch first,
 * input_size 4)"; a T of 0 cannot be made, dimensions being >= 1), a mask
 * that is not [B, T], or initial states that are not [B, H] ("rnn_unroll(x[2,3,4],
 * h0[1,2]): rnn: the initial state h0 must be [2, 2] (x's batch, hidden_size)");
 * NB_ERR_ARG for a NULL x or a cell its _new did not make; NB_ERR_NOMEM.
 */
NB_API nb_node *nb_rnn_unroll(nb_graph *g, const nb_rnn_cell *cell, nb_node *x, nb_node *h0,
                              nb_node *mask, nb_node **h_last);
NB_API nb_node *nb_lstm_unroll(nb_graph *g, const nb_lstm_cell *cell, nb_node *x, nb_node *h0,
                               nb_node *c0, nb_node *mask, nb_node **h_last, nb_node **c_last);
NB_API nb_node *nb_gru_unroll(nb_graph *g, const nb_gru_cell *cell, nb_node *x, nb_node *h0,
                              nb_node *mask, nb_node **h_last);

/* ======================================================================== */
/* Model language                                                           */
/* ======================================================================== */
/*
 * A small text language for models (files ending in .nb), one statement per
 * line, '#' starting a comment (docs/cli.md has the full grammar):
 *
 *     input x[2] = [1, -2]            # an input, with optional default values
 *     input y[4] : i32                # labels for cross_entropy
 *     param w[2] = normal(0, 0.1)     # literal, zeros, ones, normal(m, s),
 *                                     # uniform(a, b), xavier, he
 *     const c = 2.5                   # shape from the literal
 *     scope logistic_regression {     # scopes nest
 *       y = sigmoid(sum(w * x))
 *     }
 *     z = y * c
 *
 * Expressions: + - * / (broadcasting), @ (matrix product), unary -, ** with a
 * numeric exponent, with Python's precedence; functions for every op. Every
 * assigned name becomes the node's name. Parsing uses explicit stacks, so
 * deep nesting cannot overflow the C stack.
 *
 * Loops unroll as they are read, each step in a scope step[t]; x[:, t] takes
 * a step's slice, and the recurrent cells are functions (an LSTM's gives two
 * values):
 *
 *     for t in 0..T {                 # T a whole number or a scalar const
 *       h, c = lstm_cell(x[:, t], h, c, W_ih, W_hh, b_ih, b_hh)
 *     }
 *
 * In step t, h = ... makes the node h_t and rebinds h to it, so names
 * defined before the loop are carried from step to step.
 */

/* Where and why parsing stopped. */
typedef struct nb_parse_error {
    nb_status status;  /* NB_OK, or the kind of error */
    int line, column;  /* 1-based position of the error; 0 when it has none */
    char message[512]; /* without the place: "matmul: inner dimensions 3 and 2 differ
                          (x[4,3] @ w[2,5])"; a tool prints "file:line:col: message" */
} nb_parse_error;

/* Options of nb_model_parse. */
typedef struct nb_model_options {
    nb_dtype dtype; /* dtype of every float node (default NB_DTYPE_F64) */
} nb_model_options;

/*
 * Parses model text src (len bytes, need not be NUL-terminated) and builds its
 * nodes in g; look them up with nb_graph_find. opts may be NULL.
 * Returns NB_OK, or fills *err (which may be NULL) and returns its status:
 * NB_ERR_FORMAT for syntax (an unknown name, a redefinition, a bad literal, an
 * unclosed scope or parenthesis, a bad loop range or an index out of range;
 * inside a loop the message ends with its step, "(in step t = 3)"),
 * NB_ERR_SHAPE for a cell's weights or states of the wrong shape, or the
 * engine's code for a bad op (shapes, axes, dtypes), with the message
 * pointing at the operator or call. On error g
 * may hold part of the model (and, for an engine error, that error): use a
 * fresh graph to try again.
 */
NB_API nb_status nb_model_parse(nb_graph *g, const char *src, size_t len,
                                const nb_model_options *opts, nb_parse_error *err);

/* As nb_model_parse, reading the file at path (NB_ERR_IO if it cannot be read). */
NB_API nb_status nb_model_parse_file(nb_graph *g, const char *path, const nb_model_options *opts,
                                     nb_parse_error *err);

/*
 * Writes the expression that computes op node n in the model language, with
 * its inputs' names and its attributes: "w * x", "sum(h, 1, keepdims)",
 * "x ** 3", "matmul(a, b, transpose_b)". Leaves give "". Writes at most cap
 * bytes (NUL included, truncating) and returns the length written.
 */
NB_API size_t nb_node_expression(nb_node *n, char *buf, size_t cap);

/*
 * Writes g's forward graph (gradient nodes are left out) in the model
 * language, every node under its name, parameters and inputs with their
 * current values as literals, so that parsing the text gives the same graph.
 * Returns NB_ERR_ARG (see nb_graph_error) when a name is not an identifier or
 * two nodes share a name, NB_ERR_IO when writing fails.
 */
NB_API nb_status nb_model_write(nb_graph *g, FILE *f);

/* ======================================================================== */
/* ONNX export and import                                                   */
/* ======================================================================== */

/*
 * ONNX (https://onnx.ai) is the exchange format of ONNX Runtime, PyTorch's
 * exporter and Netron. nabla reads and writes it when built with protobuf-c
 * (meson option onnx, on when libprotobuf-c-dev, protobuf-c-compiler and
 * libonnx-dev are installed); without it these functions fail with NB_ERR_ARG
 * and say so. docs/onnx.md has the op mapping both ways.
 */

/* Options of nb_onnx_write. */
typedef struct nb_onnx_options {
    int opset;                /* ONNX opset of the file; 0 or 17 (the one supported) */
    const char *const *names; /* names of the outputs in the file (NULL, or a NULL
                                 entry: the node's scope path and name) */
    const char *graph_name;   /* the ONNX graph's name (NULL: "nabla") */
} nb_onnx_options;

/* The defaults: opset 17, outputs under their node names, graph "nabla". */
NB_API nb_onnx_options nb_onnx_defaults(void);

/*
 * Writes the nodes that n outputs depend on as an ONNX model at path
 * (atomically: a temporary file renamed over path). Inputs become graph
 * inputs with their dtypes and shapes, parameters and state nodes
 * initializers (their current values), constants Constant nodes, and every
 * op one standard ONNX op or a small fixed subgraph of them; values are named
 * "scope/name" after the node's scope path and name. Gradient nodes are
 * ordinary nodes: pass the results of nb_grad as outputs to export a training
 * graph that computes the loss and its gradients. Ops whose meaning depends
 * on the mode (dropout, batch_norm, mode_select) are written for the graph's
 * mode (nb_graph_set_training). opts may be NULL (nb_onnx_defaults).
 * Errors (nb_graph_error tells; the graph stays usable): NB_ERR_ARG for a node
 * without an ONNX mapping (naming its op, node and shape) or a build without
 * ONNX support, NB_ERR_IO when the file cannot be written, NB_ERR_NOMEM.
 */
NB_API nb_status nb_onnx_write(nb_graph *g, size_t n, nb_node *const *outputs, const char *path,
                               const nb_onnx_options *opts);

/* Options of nb_onnx_read. */
typedef struct nb_onnx_read_options {
    nb_dtype dtype; /* dtype of the float nodes: NB_DTYPE_F32 (the default, as files
                       usually hold) or NB_DTYPE_F64 */
} nb_onnx_read_options;

/*
 * Reads the ONNX model at path and builds its graph in g with the public
 * builders: graph inputs become inputs (float ones of opts' dtype, integer
 * ones i32), float initializers trainable parameters holding their values
 * (BatchNormalization's running statistics state nodes), and each operator
 * nabla ops (docs/onnx.md lists the operators: those PyTorch's exporter
 * writes for MLPs, CNNs and LSTMs). Shapes must be static: Shape, Constant,
 * ConstantOfShape and the integer arithmetic, Gather, Slice, Concat, Cast,
 * Squeeze and Unsqueeze on them fold at import. Nodes are named after the
 * ONNX names (characters other than letters, digits and '_' become '_'),
 * so nb_graph_find and nb_model_write work on the result. The first cap of
 * the graph's outputs are stored in outputs (which may be NULL when cap is 0)
 * and their count in *n_outputs (may be NULL). opts may be NULL.
 * Set the graph's mode to evaluation (nb_graph_set_training) to run an
 * export of a model in eval mode: batch norm then uses the running statistics.
 * Errors (nb_graph_error tells): NB_ERR_IO (unreadable file), NB_ERR_FORMAT
 * (not ONNX, a value used before it is defined), NB_ERR_ARG (an unsupported
 * operator, attribute, or a value needed at import but computed at run time,
 * naming the ONNX node and its op), NB_ERR_SHAPE (a dynamic dimension), or a
 * builder's error for shapes that do not fit, prefixed by the ONNX node.
 * g may then hold part of the model: use a fresh graph to try again.
 */
NB_API nb_status nb_onnx_read(nb_graph *g, const char *path, const nb_onnx_read_options *opts,
                              nb_node **outputs, size_t cap, size_t *n_outputs);

#ifdef __cplusplus
}
#endif

#endif /* NABLA_H */
