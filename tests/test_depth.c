/*
 * tests/test_depth.c: nb_depth and nb_depth_path. The book's figure 1.3 both
 * ways, the details of the definition (leaves, nested scopes, repeated scope
 * names, ties, short buffers, bad levels), the depth of gradient graphs, and a
 * 100,000-node chain that would overflow a recursive walk.
 */
#include <criterion/criterion.h>
#include <nabla.h>

#include <stdlib.h>
#include <string.h>

static void assert_ok(nb_graph *g)
{
    cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
}

/* Asserts that the longest path to out at level has exactly the given node names. */
static void assert_path(nb_graph *g, nb_node *out, int level, size_t n, const char *const *names)
{
    nb_node *path[64];
    size_t len = nb_depth_path(g, out, level, path, 64);
    cr_assert_eq(len, n, "path to %s at level %d has %zu nodes, want %zu", nb_node_name(out), level,
                 len, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(nb_node_name(path[i]), names[i], "path[%zu] at level %d", i, level);
    }
}

/* The book's figure 1.3: y = sigmoid(sum(w * x)) built in scope logistic_regression. */
typedef struct figure {
    nb_node *x, *w, *y;
} figure;

static figure figure_1_3(nb_graph *g)
{
    figure f;
    f.x = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(3)), "x");
    f.w = nb_node_set_name(g, nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_normal(0, 0.1)), "w");
    nb_scope_push(g, "logistic_regression");
    f.y = nb_node_set_name(g, nb_sigmoid(g, nb_sum(g, nb_mul(g, f.w, f.x))), "y");
    nb_scope_pop(g);
    assert_ok(g);
    return f;
}

/* ---- figure 1.3 ---- */

Test(depth, figure_1_3_over_ops, .description = "sigmoid(sum(w*x)): depth 3 over {mul, sum, σ}")
{
    nb_graph *g = nb_graph_new();
    figure f = figure_1_3(g);
    cr_assert_eq(nb_depth(g, f.y, NB_DEPTH_OPS), 3);
    /* mul(w, x): w and x tie at depth 0 and the tie goes to input 0, w */
    const char *names[] = { "w", "mul_1", "sum_1", "y" };
    assert_path(g, f.y, NB_DEPTH_OPS, 4, names);
    nb_graph_free(g);
}

Test(depth, figure_1_3_over_scopes,
     .description = "sigmoid(sum(w*x)): depth 1 with logistic_regression as one element")
{
    nb_graph *g = nb_graph_new();
    figure f = figure_1_3(g);
    cr_assert_eq(nb_depth(g, f.y, NB_DEPTH_SCOPES), 1);
    /* the path still lists its nodes; only the step from w into the scope counts */
    const char *names[] = { "w", "mul_1", "sum_1", "y" };
    assert_path(g, f.y, NB_DEPTH_SCOPES, 4, names);
    /* levels deeper than any scope see the single scope as the element */
    cr_assert_eq(nb_depth(g, f.y, 2), 1);
    cr_assert_eq(nb_depth(g, f.y, 7), 1);
    nb_graph_free(g);
}

Test(depth, figure_1_3_without_scope, .description = "no scope: each op is its own element")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(3));
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(3), nb_init_constant(1));
    nb_node *y = nb_sigmoid(g, nb_sum(g, nb_mul(g, w, x)));
    assert_ok(g);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), 3);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_SCOPES), 3);
    nb_graph_free(g);
}

/*
 * The gradient dy/dw of figure 1.3, as the op rules build it (dy/dy = 1 skips
 * the chain rule's product):
 *   sub_1          = 1 - y                  sigmoid': y (1 - y)
 *   mul_2          = y * sub_1
 *   broadcast_to_1 = broadcast(mul_2, [3])  sum': dy copied to every element
 *   grad_w         = broadcast_to_1 * x     mul': dy * x for w
 * Over ops, y has depth 3 and each of the four adds one: 7. Over scopes, the
 * forward ops are one element (logistic_regression) and the backward ops
 * another (grad:logistic_regression): w -> [forward] -> [backward] is 2.
 * The shared constant 1 is a leaf in no scope, depth 0.
 */
Test(depth, figure_1_3_gradient, .description = "dy/dw has depth 6 over ops and 2 over scopes")
{
    nb_graph *g = nb_graph_new();
    figure f = figure_1_3(g);
    nb_node *dw;
    cr_assert_eq(nb_grad(g, f.y, 1, &f.w, &dw), NB_OK, "%s", nb_graph_error(g));
    int ops = nb_depth(g, dw, NB_DEPTH_OPS), scopes = nb_depth(g, dw, NB_DEPTH_SCOPES);
    /*
     * The backward path continues the forward one: sigmoid's derivative
     * y (1 - y) (one op, from y), sum's (a broadcast), mul's (times x). So the
     * gradient is exactly twice as deep as the forward pass: 3 + 3.
     */
    cr_assert_eq(ops, 6);
    cr_assert_eq(scopes, 2);
    cr_assert_gt(ops, nb_depth(g, f.y, NB_DEPTH_OPS), "backward deeper than forward");
    cr_assert_gt(scopes, nb_depth(g, f.y, NB_DEPTH_SCOPES));
    const char *names[] = {
        "w", "mul_1", "sum_1", "y", "sigmoid_grad_1", "broadcast_to_1", "grad_w"
    };
    assert_path(g, dw, NB_DEPTH_OPS, 7, names);
    /* over scopes: one step into logistic_regression, one into its mirror */
    assert_path(g, dw, NB_DEPTH_SCOPES, 7, names);
    /* building the gradient does not change the forward depth */
    cr_assert_eq(nb_depth(g, f.y, NB_DEPTH_OPS), 3);
    cr_assert_eq(nb_depth(g, f.y, NB_DEPTH_SCOPES), 1);
    nb_graph_free(g);
}

/*
 * A chain of n tanh ops on a scalar x: t_k = tanh(t_(k-1)), t_0 = x, y = t_n.
 * Forward depth n. The gradient rule is dx = tanh_grad(y, dy), one op, so
 *   a_(n-1) = tanh_grad(t_n, 1)            depth n + 1
 *   a_(k-1) = tanh_grad(t_k, a_k)          for k = n-1 .. 1, each one deeper
 * (its other input t_k has depth k <= n, shallower), so depth(dy/dx) =
 * depth(a_0) = n + 1 + (n - 1) = 2n: backpropagation doubles the depth.
 */
Test(depth, tanh_chain_gradient, .description = "n tanh ops: depth n forward, 2n backward")
{
    const int ns[] = { 1, 2, 3, 5, 10, 64 };
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        int n = ns[c];
        nb_graph *g = nb_graph_new();
        nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
        nb_node *y = x;
        for (int k = 0; k < n; k++) {
            y = nb_tanh(g, y);
        }
        nb_node *dx;
        cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
        cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), n);
        cr_assert_eq(nb_depth(g, dx, NB_DEPTH_OPS), 2 * n, "n=%d: %d", n,
                     nb_depth(g, dx, NB_DEPTH_OPS));
        /* the path: input, n tanh, then n tanh_grad */
        nb_node *path[200];
        size_t len = nb_depth_path(g, dx, NB_DEPTH_OPS, path, 200);
        cr_assert_eq(len, (size_t)(2 * n + 1));
        cr_assert_eq(path[0], x);
        for (int k = 1; k <= n; k++) {
            cr_assert_str_eq(nb_node_op_name(path[k]), "tanh");
        }
        cr_assert_eq(path[n], y);
        for (int k = n + 1; k < 2 * n + 1; k++) {
            cr_assert_str_eq(nb_node_op_name(path[k]), "tanh_grad");
        }
        cr_assert_eq(path[2 * n], dx);
        nb_graph_free(g);
    }
}

/* ---- definition details ---- */

Test(depth, leaves_have_depth_zero, .description = "inputs, params, consts and fill: depth 0")
{
    nb_graph *g = nb_graph_new();
    nb_node *leaves[] = {
        nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)),
        nb_param(g, NB_DTYPE_F32, NB_SHAPE(2, 2), nb_init_constant(0)),
        nb_scalar(g, NB_DTYPE_F64, 2.5),
        nb_fill(g, NB_DTYPE_F64, NB_SHAPE(3), 1.0),
    };
    assert_ok(g);
    for (size_t i = 0; i < 4; i++) {
        for (int level = 0; level < 3; level++) {
            cr_assert_eq(nb_depth(g, leaves[i], level), 0, "leaf %zu level %d", i, level);
            nb_node *p[2] = { NULL, NULL };
            cr_assert_eq(nb_depth_path(g, leaves[i], level, p, 2), 1);
            cr_assert_eq(p[0], leaves[i]);
            cr_assert_null(p[1]);
        }
    }
    nb_graph_free(g);
}

/*
 * x -> a -> b -> c -> d -> e, with a in no scope, b and e in outer, c and d
 * in outer/inner:
 *   level 0: every op counts: 5
 *   level 1: a, [outer: b c d e]: 2
 *   level 2: a, [outer: b], [inner: c d], [outer: e]: 4 (b and e share the
 *            element outer but are not adjacent; the path leaves and re-enters)
 */
Test(depth, nested_scopes_levels, .description = "nested scopes counted at levels 1 and 2")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *a = nb_exp(g, x);
    nb_scope_push(g, "outer");
    nb_node *b = nb_tanh(g, a);
    nb_scope_push(g, "inner");
    nb_node *c = nb_tanh(g, b);
    nb_node *d = nb_tanh(g, c);
    nb_scope_pop(g);
    nb_node *e = nb_tanh(g, d);
    nb_scope_pop(g);
    assert_ok(g);
    cr_assert_eq(nb_depth(g, e, 0), 5);
    cr_assert_eq(nb_depth(g, e, 1), 2);
    cr_assert_eq(nb_depth(g, e, 2), 4);
    cr_assert_eq(nb_depth(g, e, 3), 4, "a level deeper than any scope equals the deepest");
    cr_assert_eq(nb_depth(g, d, 1), 2);
    cr_assert_eq(nb_depth(g, d, 2), 3);
    cr_assert_eq(nb_depth(g, c, 2), 3);
    cr_assert_eq(nb_depth(g, b, 2), 2);
    nb_graph_free(g);
}

Test(depth, same_name_twice_is_two_elements,
     .description = "two pushes of one name are two scope instances")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_scope_push(g, "block");
    nb_node *a = nb_tanh(g, nb_exp(g, x));
    nb_scope_pop(g);
    nb_scope_push(g, "block");
    nb_node *b = nb_tanh(g, nb_exp(g, a));
    nb_scope_pop(g);
    assert_ok(g);
    cr_assert_str_eq(nb_node_scope(a), nb_node_scope(b));
    cr_assert_eq(nb_depth(g, b, NB_DEPTH_OPS), 4);
    cr_assert_eq(nb_depth(g, b, NB_DEPTH_SCOPES), 2);
    cr_assert_eq(nb_depth(g, a, NB_DEPTH_SCOPES), 1);

    /* the same ops in one push are one element */
    nb_graph *h = nb_graph_new();
    nb_node *hx = nb_input(h, NB_DTYPE_F64, NB_SHAPE(2));
    nb_scope_push(h, "block");
    nb_node *hb = nb_tanh(h, nb_exp(h, nb_tanh(h, nb_exp(h, hx))));
    nb_scope_pop(h);
    assert_ok(h);
    cr_assert_eq(nb_depth(h, hb, NB_DEPTH_SCOPES), 1);
    nb_graph_free(h);
    nb_graph_free(g);
}

Test(depth, leaf_inside_scope_counts_the_step,
     .description = "a leaf built inside a scope is not part of the element: +1 into it")
{
    nb_graph *g = nb_graph_new();
    nb_scope_push(g, "layer");
    nb_node *w = nb_param(g, NB_DTYPE_F64, NB_SHAPE(2), nb_init_constant(1));
    nb_node *c = nb_scalar(g, NB_DTYPE_F64, 3);
    nb_node *y = nb_sum(g, nb_mul(g, w, c));
    nb_scope_pop(g);
    assert_ok(g);
    cr_assert_str_eq(nb_node_scope(w), "layer");
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), 2);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_SCOPES), 1);
    nb_node *p[3];
    cr_assert_eq(nb_depth_path(g, y, NB_DEPTH_SCOPES, p, 3), 3);
    cr_assert_eq(p[0], w);
    nb_graph_free(g);
}

Test(depth, ties_go_to_lowest_numbered_input,
     .description = "equal depths: the path follows input 0, whatever the node ids")
{
    nb_graph *g = nb_graph_new();
    nb_node *a = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "a");
    nb_node *b = nb_node_set_name(g, nb_input(g, NB_DTYPE_F64, NB_SHAPE(2)), "b");
    nb_node *ea = nb_node_set_name(g, nb_exp(g, a), "ea");
    nb_node *eb = nb_node_set_name(g, nb_exp(g, b), "eb");
    /* input 0 is eb (the higher id), input 1 is ea */
    nb_node *y = nb_node_set_name(g, nb_add(g, eb, ea), "y");
    nb_node *z = nb_node_set_name(g, nb_add(g, ea, eb), "z");
    assert_ok(g);
    cr_assert_eq(nb_depth(g, y, 0), 2);
    const char *py[] = { "b", "eb", "y" };
    assert_path(g, y, 0, 3, py);
    const char *pz[] = { "a", "ea", "z" };
    assert_path(g, z, 0, 3, pz);
    /* a deeper input 1 wins over input 0 */
    nb_node *deep = nb_node_set_name(g, nb_add(g, a, nb_tanh(g, ea)), "deep");
    cr_assert_eq(nb_depth(g, deep, 0), 3);
    nb_node *p[4];
    cr_assert_eq(nb_depth_path(g, deep, 0, p, 4), 4);
    cr_assert_eq(p[0], a);
    cr_assert_eq(p[1], ea);
    nb_graph_free(g);
}

Test(depth, path_longer_than_cap,
     .description = "nb_depth_path returns the full length and writes only cap entries")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *t1 = nb_tanh(g, x), *t2 = nb_tanh(g, t1), *t3 = nb_tanh(g, t2);
    nb_node *y = nb_tanh(g, t3);
    assert_ok(g);
    nb_node *sentinel = t2;
    nb_node *p[5] = { NULL, NULL, sentinel, sentinel, sentinel };
    cr_assert_eq(nb_depth_path(g, y, 0, p, 2), 5);
    cr_assert_eq(p[0], x);
    cr_assert_eq(p[1], t1);
    for (int i = 2; i < 5; i++) {
        cr_assert_eq(p[i], sentinel, "entry %d past cap was written", i);
    }
    cr_assert_eq(nb_depth_path(g, y, 0, NULL, 0), 5, "a NULL buffer asks for the length");
    cr_assert_eq(nb_depth_path(g, y, 0, p, 5), 5);
    nb_node *want[5] = { x, t1, t2, t3, y };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(p[i], want[i]);
    }
    assert_ok(g);
    nb_graph_free(g);
}

Test(depth, negative_level_is_an_error,
     .description = "level -1: -1 and 0, reported without poisoning the graph")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *y = nb_node_set_name(g, nb_sum(g, nb_tanh(g, x)), "y");
    assert_ok(g);
    cr_assert_eq(nb_depth(g, y, -1), -1);
    cr_assert_eq(nb_graph_status(g), NB_OK, "a bad query is not sticky");
    cr_assert_str_eq(nb_graph_error(g), "depth(y[]): level -1 is negative");
    cr_assert_eq(nb_depth(g, y, 0), 2, "the graph still answers");
    cr_assert_str_eq(nb_graph_error(g), "", "a good call clears the message");
    nb_graph_free(g);

    g = nb_graph_new();
    x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    y = nb_node_set_name(g, nb_sum(g, nb_tanh(g, x)), "y");
    nb_node *p[4] = { NULL, NULL, NULL, NULL };
    cr_assert_eq(nb_depth_path(g, y, -3, p, 4), 0);
    cr_assert_null(p[0], "nothing is written on error");
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "depth(y[]): level -3 is negative");
    nb_graph_free(g);
}

Test(depth, null_output_is_an_error, .description = "a NULL node: -1 and 0")
{
    nb_graph *g = nb_graph_new();
    cr_assert_eq(nb_depth(g, NULL, 0), -1);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_str_eq(nb_graph_error(g), "depth: the output node is NULL");
    cr_assert_eq(nb_depth_path(g, NULL, 0, NULL, 0), 0);
    cr_assert_str_eq(nb_graph_error(g), "depth: the output node is NULL");
    nb_graph_free(g);
}

/* ---- a long chain ---- */

/*
 * 100,000 neg ops in a row. nb_depth sweeps ids in order, so there is no
 * recursion to overflow the stack. The gradient of a neg chain is a neg chain
 * (dx = -dy) rooted at the constant seed 1 and never reads forward values, so
 * its depth is also 100,000.
 */
Test(depth, chain_of_100000, .description = "a 100,000-node chain: depth 100000, no recursion")
{
    enum { N = 100000 };
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_node *y = x;
    for (int i = 0; i < N; i++) {
        y = nb_neg(g, y);
    }
    assert_ok(g);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), N);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_SCOPES), N);
    nb_node **path = malloc((N + 1) * sizeof *path);
    cr_assert_not_null(path);
    cr_assert_eq(nb_depth_path(g, y, NB_DEPTH_OPS, path, N + 1), (size_t)N + 1);
    cr_assert_eq(path[0], x);
    cr_assert_eq(path[N], y);
    free(path);

    /* the rules' raw gradient is a chain of N negations, measured without recursion */
    nb_node *dx;
    nb_graph_set_simplify(g, false);
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_depth(g, dx, NB_DEPTH_OPS), N);
    /* the simplifier cancels the negations in pairs (N is even): dx is the seed 1 */
    nb_graph_set_simplify(g, true);
    size_t before = nb_graph_node_count(g);
    cr_assert_eq(nb_grad(g, y, 1, &x, &dx), NB_OK, "%s", nb_graph_error(g));
    cr_assert_eq(nb_depth(g, dx, NB_DEPTH_OPS), 0);
    cr_assert_eq(nb_graph_node_count(g), before + 1);
    nb_graph_free(g);
}

Test(depth, chain_of_100000_in_one_scope, .description = "the same chain in a scope: depth 1")
{
    enum { N = 100000 };
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, 0, NULL);
    nb_scope_push(g, "chain");
    nb_node *y = x;
    for (int i = 0; i < N; i++) {
        y = nb_neg(g, y);
    }
    nb_scope_pop(g);
    assert_ok(g);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_OPS), N);
    cr_assert_eq(nb_depth(g, y, NB_DEPTH_SCOPES), 1);
    nb_graph_free(g);
}

/* ---- the depth of the graph of concepts (nb_depth_concepts) ---- */

/* Asserts the concept depth of out at level and the concepts counted, in order. */
static void assert_concepts(nb_graph *g, nb_node *out, int level, int n, const char *const *names)
{
    const char *got[16];
    int d = nb_depth_concepts(g, out, level, got, 16);
    cr_assert_eq(d, n, "concept depth of %s at level %d is %d, want %d (%s)", nb_node_name(out),
                 level, d, n, nb_graph_error(g));
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(got[i], names[i], "concept %d", i);
    }
}

/* The book's face and eyes: n steps, each refining one from the other. */
static nb_node *refinement(nb_graph *g, int steps)
{
    nb_node *image = nb_input(g, NB_DTYPE_F64, NB_SHAPE(4));
    nb_node *we = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4), nb_init_normal(0, 0.5));
    nb_node *wf = nb_param(g, NB_DTYPE_F64, NB_SHAPE(4), nb_init_normal(0, 0.5));
    nb_node *face = image;
    for (int i = 0; i < steps; i++) {
        nb_scope_push(g, "eyes");
        nb_node *eyes = nb_tanh(g, nb_add(g, nb_mul(g, we, face), image));
        nb_scope_pop(g);
        nb_scope_push(g, "face");
        face = nb_tanh(g, nb_add(g, nb_mul(g, wf, eyes), image));
        nb_scope_pop(g);
    }
    return face;
}

Test(depth_concepts, refinement_is_two_concepts_deep,
     .description = "eyes <-> face over n steps: concept depth 2, scope depth 2n")
{
    for (int steps = 1; steps <= 5; steps++) {
        nb_graph *g = nb_graph_new();
        nb_node *face = refinement(g, steps);
        assert_ok(g);
        cr_assert_eq(nb_depth(g, face, NB_DEPTH_SCOPES), 2 * steps);
        cr_assert_eq(nb_depth(g, face, NB_DEPTH_OPS), 6 * steps);
        assert_concepts(g, face, 1, 2, (const char *[]){ "eyes", "face" });
        nb_graph_free(g);
    }
}

Test(depth_concepts, figure_1_3_is_one_concept)
{
    nb_graph *g = nb_graph_new();
    figure f = figure_1_3(g);
    nb_node *dw;
    nb_grad(g, f.y, 1, &f.w, &dw);
    assert_ok(g);
    assert_concepts(g, f.y, 1, 1, (const char *[]){ "logistic_regression" });
    /* the gradient's mirror scope is a concept of its own, after the forward one */
    assert_concepts(g, dw, 1, 2,
                    (const char *[]){ "logistic_regression", "grad:logistic_regression" });
    cr_assert_eq(nb_depth_concepts(g, f.x, 1, NULL, 0), 0, "a leaf is no concept");
    nb_graph_free(g);
}

Test(depth_concepts, a_cycle_counts_each_of_its_concepts_once,
     .description = "a -> b -> c -> a, then d: the cycle counts 3, d one more")
{
    nb_graph *g = nb_graph_new();
    nb_node *x = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    nb_node *v = x;
    const char *order[] = { "a", "b", "c", "a", "b", "c", "a" };
    for (size_t i = 0; i < 7; i++) {
        nb_scope_push(g, order[i]);
        v = nb_tanh(g, v);
        nb_scope_pop(g);
    }
    nb_scope_push(g, "d");
    nb_node *out = nb_exp(g, v);
    nb_scope_pop(g);
    nb_node *lone = nb_exp(g, x); /* outside every scope: a concept of its own */
    nb_node *both = nb_add(g, out, lone);
    assert_ok(g);
    assert_concepts(g, out, 1, 4, (const char *[]){ "a", "b", "c", "d" });
    assert_concepts(g, lone, 1, 1, (const char *[]){ "exp_2" });
    assert_concepts(g, both, 1, 5, (const char *[]){ "a", "b", "c", "d", "add_1" });
    nb_graph_free(g);
}

Test(depth_concepts, nested_names_at_each_level)
{
    nb_graph *g = nb_graph_new();
    nb_node *v = nb_input(g, NB_DTYPE_F64, NB_SHAPE(2));
    for (int i = 0; i < 3; i++) { /* model { inner { tanh } other { sin } } three times */
        nb_scope_push(g, "model");
        nb_scope_push(g, "inner");
        v = nb_tanh(g, v);
        nb_scope_pop(g);
        nb_scope_push(g, "other");
        v = nb_tanh(g, v);
        nb_scope_pop(g);
        nb_scope_pop(g);
    }
    assert_ok(g);
    cr_assert_eq(nb_depth(g, v, 1), 3);
    assert_concepts(g, v, 1, 1, (const char *[]){ "model" });
    assert_concepts(g, v, 2, 2, (const char *[]){ "inner", "other" });
    nb_graph_free(g);
}

Test(depth_concepts, bad_arguments_are_reported_not_sticky)
{
    nb_graph *g = nb_graph_new();
    figure f = figure_1_3(g);
    cr_assert_eq(nb_depth_concepts(g, f.y, 0, NULL, 0), -1);
    cr_assert_str_eq(nb_graph_error(g), "depth_concepts(y[]): level 0: concepts are scope "
                                        "names, so the level is 1 or more");
    cr_assert_eq(nb_depth_concepts(g, NULL, 1, NULL, 0), -1);
    cr_assert_eq(nb_graph_status(g), NB_OK);
    cr_assert_eq(nb_depth_concepts(NULL, f.y, 1, NULL, 0), -1);
    nb_graph_free(g);
}

/* Fails allocations from the k-th on, when armed; tracks the bytes it holds. */
typedef struct failing {
    long left; /* allocations still allowed; < 0: no limit */
    size_t live;
} failing;

static void *failing_alloc(void *user, void *ptr, size_t old_size, size_t new_size)
{
    failing *f = user;
    if (new_size == 0) {
        f->live -= old_size;
        free(ptr);
        return NULL;
    }
    if (f->left == 0) {
        return NULL;
    }
    if (f->left > 0) {
        f->left--;
    }
    void *p = realloc(ptr, new_size);
    if (p) {
        f->live += new_size - old_size;
    }
    return p;
}

Test(depth_concepts, out_of_memory_at_every_allocation_is_clean,
     .description = "every allocation the call makes can fail: -1, NOMEM, no leak, usable")
{
    failing f = { .left = -1 };
    nb_graph *g = nb_graph_new_with_allocator(failing_alloc, &f);
    nb_node *face = refinement(g, 3);
    assert_ok(g);
    size_t before = f.live;
    int failed = 0;
    for (long k = 0;; k++) {
        f.left = k;
        int d = nb_depth_concepts(g, face, 1, NULL, 0);
        f.left = -1;
        cr_assert_eq(f.live, before, "allocation %ld: %zu bytes leaked", k, f.live - before);
        if (d == 2) {
            break;
        }
        cr_assert_eq(d, -1);
        cr_assert(strstr(nb_graph_error(g), "out of memory"), "%s", nb_graph_error(g));
        cr_assert_eq(nb_graph_status(g), NB_OK, "not sticky");
        failed++;
    }
    cr_assert_gt(failed, 5, "the call makes several allocations");
    nb_graph_free(g);
}
