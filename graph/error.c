/*
 * graph/error.c: the one funnel that formats every error message, in the form
 * "op(x[4,3], w[2,5]): detail". Build errors stick (cairo's first-error-wins
 * status); run and data errors are reported without poisoning the graph.
 * Set a breakpoint on format_message to catch any error at its source.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *const status_strings[] = {
    [NB_OK] = "success",
    [NB_ERR_NOMEM] = "out of memory",
    [NB_ERR_ARG] = "invalid argument",
    [NB_ERR_SHAPE] = "shape mismatch",
    [NB_ERR_RANK] = "unsupported rank",
    [NB_ERR_DTYPE] = "dtype mismatch",
    [NB_ERR_AXIS] = "axis out of range",
    [NB_ERR_GRAPH] = "node from another graph",
    [NB_ERR_VALUE] = "invalid value",
    [NB_ERR_IO] = "input/output error",
    [NB_ERR_FORMAT] = "malformed file",
};

const char *nb_status_string(nb_status status)
{
    if ((unsigned)status < sizeof status_strings / sizeof *status_strings) {
        return status_strings[status];
    }
    return "unknown status";
}

const char *nb_version(void)
{
    return NB_VERSION_STRING;
}

void nbi_describe(nb_node *n, char *buf, size_t cap)
{
    if (!n) {
        snprintf(buf, cap, "NULL");
        return;
    }
    char shape[96], name[64];
    nbi_format_shape(n->rank, n->shape, shape, sizeof shape);
    snprintf(buf, cap, "%s%s", nbi_name_into(n, name, sizeof name), shape);
}

static void format_message(char *out, size_t cap, const char *op, int n, nb_node *const *in,
                           const char *fmt, va_list ap)
{
    size_t at = 0;
    int w = snprintf(out, cap, "%s", op);
    at = w > 0 ? (size_t)w : 0;
    if (n > 0 && at < cap) {
        /* the inputs take at most half the message, so the reason always fits after them */
        size_t budget = cap / 2;
        out[at++] = '(';
        for (int i = 0; i < n && at < cap; i++) {
            char d[160];
            nbi_describe(in[i], d, sizeof d);
            if (i > 0 && at + strlen(d) + 2 > budget) {
                w = snprintf(out + at, cap - at, ", and %d more", n - i);
                at += w > 0 ? (size_t)w : 0;
                break;
            }
            w = snprintf(out + at, cap - at, "%s%s", i ? ", " : "", d);
            at += w > 0 ? (size_t)w : 0;
        }
        if (at < cap) {
            out[at++] = ')';
        }
    }
    if (at < cap) {
        w = snprintf(out + at, cap - at, ": ");
        at += w > 0 ? (size_t)w : 0;
    }
    if (at < cap) {
        vsnprintf(out + at, cap - at, fmt, ap);
    }
    out[cap - 1] = '\0';
}

void nbi_fail(nb_graph *g, nb_status code, const char *op, int n, nb_node *const *in,
              const char *fmt, ...)
{
    if (!g || g->status != NB_OK) {
        return; /* first error wins */
    }
    va_list ap;
    va_start(ap, fmt);
    format_message(g->err, sizeof g->err, op, n, in, fmt, ap);
    va_end(ap);
    g->status = code;
}

void nb_graph_fail(nb_graph *g, nb_status status, const char *what, int n, nb_node *const *inputs,
                   const char *fmt, ...)
{
    if (!g || g->status != NB_OK || status == NB_OK || n < 0 || (n > 0 && !inputs)) {
        return;
    }
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || inputs[i]->g != g) {
            n = 0; /* a foreign or missing node cannot be described */
        }
    }
    va_list ap;
    va_start(ap, fmt);
    format_message(g->err, sizeof g->err, what ? what : "error", n, inputs, fmt, ap);
    va_end(ap);
    g->status = status;
}

nb_status nbi_report(nb_graph *g, nb_status code, const char *op, int n, nb_node *const *in,
                     const char *fmt, ...)
{
    if (!g) {
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    format_message(g->run_err, sizeof g->run_err, op, n, in, fmt, ap);
    va_end(ap);
    return code;
}

void nbi_fail_nomem(nb_graph *g, const char *op)
{
    nbi_fail(g, NB_ERR_NOMEM, op, 0, NULL, "out of memory");
}

nb_status nb_graph_status(const nb_graph *g)
{
    return g ? g->status : NB_ERR_ARG;
}

const char *nb_graph_error(const nb_graph *g)
{
    if (!g) {
        return "no graph (NULL)";
    }
    return g->status != NB_OK ? g->err : g->run_err;
}
