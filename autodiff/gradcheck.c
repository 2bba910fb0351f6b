/*
 * autodiff/gradcheck.c: checks nb_grad against central finite differences,
 * element by element, restoring every perturbed value and the state leaves
 * the runs update. Meant for float64
 * graphs, where a step of 1e-6 leaves errors near 1e-10 and a wrong factor
 * stands out by orders of magnitude.
 */
#include "../graph/internal.h"

#include <math.h>

nb_gradcheck_options nb_gradcheck_defaults(void)
{
    return (nb_gradcheck_options){ .eps = 1e-6, .rtol = 1e-5, .atol = 1e-7, .grads = NULL };
}

static double get(const nb_node *n, size_t i)
{
    return n->dtype == NB_DTYPE_F32 ? (double)((float *)n->data)[i] : ((double *)n->data)[i];
}

static void set(nb_node *n, size_t i, double v)
{
    if (n->dtype == NB_DTYPE_F32) {
        ((float *)n->data)[i] = (float)v;
    } else {
        ((double *)n->data)[i] = v;
    }
}

/*
 * The values of every state leaf (batch_norm's running statistics), which a
 * training run updates: saved when the check starts and put back before each
 * run and at the end, so every run sees the same state and the check leaves
 * none of its runs behind.
 */
typedef struct states {
    unsigned char *data;
    size_t bytes;
} states;

static size_t state_bytes(const nb_node *n)
{
    return nbi_node_count(n) * nb_dtype_size((nb_dtype)n->dtype);
}

static bool states_save(nb_graph *g, states *st)
{
    st->bytes = 0;
    st->data = NULL;
    for (uint32_t id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id]->op == NBI_OP_STATE) {
            st->bytes += state_bytes(g->nodes[id]);
        }
    }
    if (st->bytes == 0) {
        return true;
    }
    if (!(st->data = nbi_mem_alloc(g, st->bytes))) {
        return false;
    }
    size_t at = 0;
    for (uint32_t id = 0; id < g->n_nodes; id++) {
        nb_node *v = g->nodes[id];
        if (v->op == NBI_OP_STATE) {
            memcpy(st->data + at, v->data, state_bytes(v));
            at += state_bytes(v);
        }
    }
    return true;
}

static void states_restore(nb_graph *g, const states *st)
{
    size_t at = 0;
    for (uint32_t id = 0; id < g->n_nodes && at < st->bytes; id++) {
        nb_node *v = g->nodes[id];
        if (v->op == NBI_OP_STATE) {
            memcpy(v->data, st->data + at, state_bytes(v));
            at += state_bytes(v);
        }
    }
}

/* y with x[i] = value and the saved states (x may be a state leaf itself). */
static nb_status eval(nb_graph *g, nb_node *y, const states *st, nb_node *x, size_t i, double value,
                      double *out)
{
    states_restore(g, st);
    set(x, i, value);
    nb_status s = nb_graph_run(g, 1, &y);
    if (s == NB_OK) {
        *out = get(y, 0);
    }
    return s;
}

nb_status nb_gradcheck(nb_graph *g, nb_node *y, size_t n, nb_node *const *wrt,
                       const nb_gradcheck_options *opts, nb_gradcheck_result *results)
{
    if (!g) {
        return NB_ERR_ARG;
    }
    if (g->status != NB_OK) {
        return g->status;
    }
    if (n > 0 && (!wrt || !results)) {
        return nbi_report(g, NB_ERR_ARG, "gradcheck", 0, NULL, "wrt or results is NULL");
    }
    for (size_t i = 0; i < n; i++) {
        if (!wrt[i] || wrt[i]->g != g || !nbi_is_leaf(wrt[i])) {
            nb_node *w = wrt[i];
            return nbi_report(g, NB_ERR_ARG, "gradcheck", 1, &w,
                              "wrt[%zu] must be an input, parameter or constant of this graph", i);
        }
    }
    nb_gradcheck_options o = opts ? *opts : nb_gradcheck_defaults();
    size_t grads_bytes = n * sizeof(nb_node *);
    nb_node **grads = nbi_mem_alloc(g, grads_bytes);
    if (n > 0 && !grads) {
        return nbi_report(g, NB_ERR_NOMEM, "gradcheck", 0, NULL, "out of memory");
    }
    /* saved before nb_grad, which appends op nodes only: these are all the states */
    states st;
    if (!states_save(g, &st)) {
        nbi_mem_free(g, grads, grads_bytes);
        return nbi_report(g, NB_ERR_NOMEM, "gradcheck", 0, NULL, "out of memory");
    }
    nb_status s = NB_OK;
    if (o.grads) {
        for (size_t i = 0; i < n; i++) {
            grads[i] = o.grads[i];
            if (!grads[i] || grads[i]->g != g || !nbi_same_shape(grads[i], wrt[i])) {
                nb_node *in[2] = { grads[i], wrt[i] };
                s = nbi_report(g, NB_ERR_ARG, "gradcheck", 2, in,
                               "grads[%zu] must be a node of this graph shaped like wrt[%zu]", i,
                               i);
                break;
            }
        }
    } else {
        s = nb_grad(g, y, n, wrt, grads);
    }
    for (size_t w = 0; w < n && s == NB_OK; w++) {
        nb_gradcheck_result *r = &results[w];
        *r = (nb_gradcheck_result){ .passed = true };
        nb_node *x = wrt[w];
        size_t count = nbi_node_count(x);
        size_t bytes = count * sizeof(double);
        double *analytic = nbi_mem_alloc(g, bytes);
        if (!analytic) {
            s = nbi_report(g, NB_ERR_NOMEM, "gradcheck", 0, NULL, "out of memory");
            break;
        }
        states_restore(g, &st);
        s = nb_graph_run(g, 1, &grads[w]);
        if (s == NB_OK) {
            s = nb_node_read_f64(g, grads[w], analytic, count);
        }
        double worst = -1;
        for (size_t i = 0; i < count && s == NB_OK; i++) {
            states_restore(g, &st);
            double v = get(x, i), fp = 0, fm = 0;
            s = eval(g, y, &st, x, i, v + o.eps, &fp);
            if (s == NB_OK) {
                s = eval(g, y, &st, x, i, v - o.eps, &fm);
            }
            set(x, i, v);
            double num = (fp - fm) / (2 * o.eps), a = analytic[i];
            double err = fabs(a - num), scale = fmax(fabs(a), fabs(num));
            double rel = scale > 0 ? err / scale : 0;
            double ratio = err / (o.atol + o.rtol * fabs(num));
            r->max_abs_err = fmax(r->max_abs_err, err);
            r->max_rel_err = fmax(r->max_rel_err, rel);
            if (!(err <= o.atol + o.rtol * fabs(num))) { /* NaN fails too */
                r->passed = false;
            }
            if (ratio > worst || ratio != ratio) {
                worst = ratio != ratio ? INFINITY : ratio;
                r->worst_index = i;
                r->analytic = a;
                r->numeric = num;
            }
        }
        nbi_mem_free(g, analytic, bytes);
    }
    states_restore(g, &st);
    nbi_mem_free(g, st.data, st.bytes);
    nbi_mem_free(g, grads, grads_bytes);
    return s;
}
