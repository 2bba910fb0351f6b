/*
 * graph/scope.c: named, nestable scopes. Each push makes a new instance, so
 * nb_depth can count a whole instance as one element and DOT can draw it as a
 * cluster. Instance 0 is the root (no scope).
 */
#include "internal.h"

uint32_t nbi_scope_new(nb_graph *g, const char *name, uint32_t parent)
{
    if (g->n_scopes == 0) {
        /* lazily create the root */
        if (!nbi_grow(g, (void **)&g->scopes, &g->cap_scopes, 1, sizeof *g->scopes)) {
            nbi_fail_nomem(g, "scope_push");
            return 0;
        }
        g->scopes[0] = (nbi_scope){ .name = NULL, .parent = 0, .level = 0 };
        g->n_scopes = 1;
    }
    char *copy = nbi_arena_strdup(g, name);
    if (!copy ||
        !nbi_grow(g, (void **)&g->scopes, &g->cap_scopes, g->n_scopes + 1, sizeof *g->scopes)) {
        nbi_fail_nomem(g, "scope_push");
        return 0;
    }
    uint32_t id = g->n_scopes++;
    g->scopes[id] =
        (nbi_scope){ .name = copy, .parent = parent, .level = g->scopes[parent].level + 1 };
    return id;
}

void nb_scope_push(nb_graph *g, const char *name)
{
    if (!g || g->status != NB_OK) {
        return;
    }
    if (!name || !*name) {
        nbi_fail(g, NB_ERR_ARG, "scope_push", 0, NULL, "the scope name is NULL or empty");
        return;
    }
    uint32_t id = nbi_scope_new(g, name, g->cur_scope);
    if (id) {
        g->cur_scope = id;
        g->open_scopes++;
    }
}

bool nbi_scopes_closed(const nb_graph *g, char *msg, size_t cap)
{
    if (g->open_scopes == 0) {
        return true;
    }
    snprintf(msg, cap,
             "scope '%s' is still open: every nb_scope_push needs its nb_scope_pop before "
             "nb_grad, a run or a depth query",
             g->scopes[g->cur_scope].name);
    return false;
}

void nb_scope_pop(nb_graph *g)
{
    if (!g || g->status != NB_OK) {
        return;
    }
    if (g->open_scopes == 0) {
        nbi_fail(g, NB_ERR_ARG, "scope_pop", 0, NULL, "no scope is open");
        return;
    }
    g->cur_scope = g->scopes[g->cur_scope].parent;
    g->open_scopes--;
}
