/*
 * tests/test_internal_simplify.c: nb_grad skips its simplifying sweep when
 * nbi_simplify_needed says the sweep would change nothing. On random graphs
 * (scalars and [2, 3] tensors, fills and constants of 0 and 1, double
 * negations and transposes, repeated subexpressions) the raw gradient is
 * asked, then swept anyway: wherever the answer was "not needed", the sweep
 * must leave every node, input and root as it was and drop none.
 */
#include "../graph/internal.h"

#include <criterion/criterion.h>
#include <nabla.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 33;
}

enum { POOL = 64 };

/* A random forward graph over params: each new node from a random op on earlier ones. */
static nb_node *random_graph(nb_graph *g, uint64_t seed, nb_node **params, int *n_params)
{
    uint64_t s = seed * 2654435761u + 1;
    const int64_t mat[2] = { 2, 3 }, flat[1] = { 6 };
    nb_node *pool[POOL];
    int n = 0;
    *n_params = 0;
    for (int k = 0; k < 3; k++) {
        bool tensor = rng_next(&s) % 2;
        nb_node *p = nb_param(g, NB_DTYPE_F64, tensor ? 2 : 0, tensor ? mat : NULL,
                              nb_init_constant(0.5 + k));
        params[(*n_params)++] = p;
        pool[n++] = p;
    }
    while (n < 24) {
        nb_node *a = pool[rng_next(&s) % n], *b = pool[rng_next(&s) % n];
        if (nb_node_rank(a) != nb_node_rank(b)) {
            b = a; /* same shapes: every binary op below then fits */
        }
        nb_node *r = NULL;
        /* odd seeds: plain ops only, whose gradients mostly have nothing to simplify */
        static const int plain[] = { 0, 1, 2, 5, 6 };
        unsigned pick = (unsigned)(rng_next(&s) % 14);
        switch (seed % 2 ? plain[pick % 5] : (int)pick) {
        case 0:
            r = nb_add(g, a, b);
            break;
        case 1:
            r = nb_mul(g, a, b);
            break;
        case 2:
            r = nb_sub(g, a, b);
            break;
        case 3:
            r = nb_div(g, a,
                       nb_add(g, nb_mul(g, b, b),
                              nb_fill(g, NB_DTYPE_F64, nb_node_rank(b), nb_node_shape(b), 1)));
            break;
        case 4:
            r = nb_neg(g, nb_neg(g, a));
            break;
        case 5:
            r = nb_tanh(g, a);
            break;
        case 6:
            r = nb_sigmoid(g, a);
            break;
        case 7:
            r = nb_mul(g, a,
                       nb_fill(g, NB_DTYPE_F64, nb_node_rank(a), nb_node_shape(a),
                               (double)(rng_next(&s) % 2)));
            break;
        case 8:
            r = nb_add(g, a,
                       nb_fill(g, NB_DTYPE_F64, nb_node_rank(a), nb_node_shape(a),
                               (double)(rng_next(&s) % 2)));
            break;
        case 9:
            r = nb_node_rank(a) == 2 ? nb_transpose(g, nb_transpose(g, a)) : nb_exp(g, a);
            break;
        case 10:
            r = nb_node_rank(a) == 2 ? nb_reshape(g, nb_reshape(g, a, 1, flat), 2, mat)
                                     : nb_neg(g, a);
            break;
        case 11:
            r = nb_add(g, nb_mul(g, a, b), nb_mul(g, a, b));
            break; /* a repeated subexpression */
        case 12: {
            double one = 1.0;
            r = nb_node_rank(a) == 0 ? nb_mul(g, a, nb_const(g, NB_DTYPE_F64, 0, NULL, &one))
                                     : nb_sub(g, a, b);
            break;
        }
        default:
            r = nb_node_rank(a) == 2 ? nb_broadcast_to(g, nb_sum(g, a), 2, mat) : nb_mul(g, a, a);
            break;
        }
        pool[n++] = r;
    }
    nb_node *y = nb_sum(g, pool[n - 1]);
    for (int k = n - 2; k >= n - 4; k--) {
        y = nb_add(g, y, nb_sum(g, pool[k]));
    }
    return y;
}

Test(simplify_needed, the_sweep_changes_nothing_where_it_is_not_needed,
     .description = "400 random graphs: raw gradient, nbi_simplify_needed, then the sweep "
                    "forced; 'not needed' always means the sweep kept every node as it was")
{
    int skipped = 0, changed = 0;
    for (uint64_t seed = 1; seed <= 400; seed++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, false);
        nb_node *params[4], *grads[4];
        int np;
        nb_node *y = random_graph(g, seed, params, &np);
        cr_assert_eq(nb_graph_status(g), NB_OK, "seed %d: %s", (int)seed, nb_graph_error(g));
        uint32_t first = g->n_nodes, counts[NBI_OP_COUNT];
        memcpy(counts, g->op_count, sizeof counts);
        cr_assert_eq(nb_grad(g, y, (size_t)np, params, grads), NB_OK, "%s", nb_graph_error(g));
        nb_node *roots[5], *before[5];
        memcpy(roots, grads, (size_t)np * sizeof *roots);
        size_t n_roots = (size_t)np;
        for (uint32_t id = first; id < g->n_nodes; id++) {
            if (g->nodes[id]->flags & NBI_F_SEED) {
                roots[n_roots++] = g->nodes[id];
            }
        }
        memcpy(before, roots, sizeof roots);
        bool needed = nbi_simplify_needed(g, first, n_roots, roots);
        /* each tail node's inputs, to see the sweep's rewrites in place */
        uint32_t n = g->n_nodes;
        nb_node **snap = calloc((size_t)(n - first) * NB_MAX_ARITY + 1, sizeof *snap);
        nb_node **ids = calloc((size_t)(n - first) + 1, sizeof *ids);
        int *ops = calloc((size_t)(n - first) + 1, sizeof *ops); /* folding changes the op */
        cr_assert(snap && ids && ops);
        for (uint32_t id = first; id < n; id++) {
            ids[id - first] = g->nodes[id];
            ops[id - first] = g->nodes[id]->op;
            for (int i = 0; i < g->nodes[id]->arity; i++) {
                snap[(size_t)(id - first) * NB_MAX_ARITY + (size_t)i] = g->nodes[id]->in[i];
            }
        }
        nbi_simplify_sweep(g, first, counts, n_roots, roots);
        cr_assert_eq(nb_graph_status(g), NB_OK, "%s", nb_graph_error(g));
        bool same = g->n_nodes == n && memcmp(roots, before, sizeof roots) == 0;
        for (uint32_t id = first; same && id < n; id++) {
            same = g->nodes[id] == ids[id - first] && g->nodes[id]->op == ops[id - first];
            for (int i = 0; same && i < g->nodes[id]->arity; i++) {
                same = g->nodes[id]->in[i] == snap[(size_t)(id - first) * NB_MAX_ARITY + (size_t)i];
            }
        }
        if (!needed) {
            cr_assert(same, "seed %d: the sweep changed a gradient the quick test passed",
                      (int)seed);
            skipped++;
        }
        changed += !same;
        free(snap);
        free(ids);
        free(ops);
        nb_graph_free(g);
    }
    /* both kinds occur, so both branches were tried */
    cr_assert_gt(skipped, 20, "only %d of 400 gradients had nothing to simplify", skipped);
    cr_assert_gt(changed, 20, "only %d of 400 gradients were simplified", changed);
}

Test(simplify_needed, a_scalar_chain_has_nothing_to_simplify,
     .description = "W2's shape of graph (tanh and sigmoid steps mixing in parameters): the "
                    "quick test says no sweep is needed, and nb_grad gives as many nodes with "
                    "the simplifier as without")
{
    uint32_t nodes[2];
    for (int on = 0; on < 2; on++) {
        nb_graph *g = nb_graph_new();
        nb_graph_set_simplify(g, on);
        nb_node *p[4], *gr[4];
        for (int k = 0; k < 4; k++) {
            p[k] = nb_param(g, NB_DTYPE_F32, 0, NULL, nb_init_constant(0.1 * (k + 1)));
        }
        nb_node *x = p[0];
        for (int i = 0; i < 200; i++) {
            nb_node *t = nb_mul(g, x, p[1 + i % 3]);
            x = i % 2 ? nb_tanh(g, t) : nb_sigmoid(g, nb_add(g, t, p[i % 4]));
        }
        uint32_t first = g->n_nodes;
        cr_assert_eq(nb_grad(g, x, 4, p, gr), NB_OK, "%s", nb_graph_error(g));
        if (!on) {
            nb_node *roots[5];
            memcpy(roots, gr, sizeof gr);
            size_t n_roots = 4;
            for (uint32_t id = first; id < g->n_nodes; id++) {
                if (g->nodes[id]->flags & NBI_F_SEED) {
                    roots[n_roots++] = g->nodes[id];
                }
            }
            cr_assert_not(nbi_simplify_needed(g, first, n_roots, roots));
        }
        nodes[on] = g->n_nodes;
        nb_graph_free(g);
    }
    cr_assert_eq(nodes[1], nodes[0]);
}
