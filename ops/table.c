/*
 * ops/table.c: the op table, generated from ops/ops.def, its public view, and
 * the generic attribute printing every op without a label of its own uses.
 */
#include "../graph/internal.h"

const nbi_op *const nbi_ops[NBI_OP_COUNT] = {
#define NBI_OP(ID, name) [NBI_OP_##ID] = &nbi_op_##name,
#include "ops.def"
#undef NBI_OP
};

size_t nb_op_count(void)
{
    return NBI_OP_COUNT;
}

bool nb_op_info_get(size_t i, nb_op_info *info)
{
    if (i >= NBI_OP_COUNT || !info) {
        return false;
    }
    const nbi_op *op = nbi_ops[i];
    *info = (nb_op_info){
        .name = op->name,
        .symbol = op->symbol,
        .arity = op->arity,
        .n_attrs = op->n_attrs,
        .leaf = op->flags & NBI_OP_LEAF,
        .differentiable = op->grad != NULL,
        .formula = op->formula,
        .grad_formula = op->grad_formula,
    };
    return true;
}

static const char *const kind_names[] = { "int", "bool", "float", "ints" };

bool nb_op_attr_get(size_t i, int k, nb_op_attr *attr)
{
    if (i >= NBI_OP_COUNT || !attr || k < 0 || k >= nbi_ops[i]->n_attrs) {
        return false;
    }
    const nbi_attr_desc *d = &nbi_ops[i]->attrs[k];
    *attr = (nb_op_attr){
        .name = d->name,
        .kind = kind_names[d->kind],
        .def = d->def,
        .required = d->required,
        .def_word = d->def_word,
    };
    return true;
}

bool nbi_attr_shown(const nb_node *y, int k)
{
    const nbi_attr_desc *d = &nbi_ops[y->op]->attrs[k];
    const nbi_attr *a = &y->attr[k];
    switch (d->kind) {
    case NBI_ATTR_FLOAT:
        return d->required || d->shown || memcmp(&a->f, &d->def, sizeof a->f) != 0;
    case NBI_ATTR_INTS:
        return d->required || d->shown || a->n > 0;
    default:
        return d->required || d->shown || a->i != (int64_t)d->def;
    }
}

void nbi_attr_format(const nb_node *y, int k, char *buf, size_t cap)
{
    const nbi_attr_desc *d = &nbi_ops[y->op]->attrs[k];
    const nbi_attr *a = &y->attr[k];
    char r[40];
    switch (d->kind) {
    case NBI_ATTR_BOOL:
        snprintf(buf, cap, "%s%s", d->name, a->i ? "" : "=false");
        break;
    case NBI_ATTR_FLOAT:
        nbi_format_real(a->f, false, r, sizeof r);
        snprintf(buf, cap, "%s=%s", d->name, r);
        break;
    case NBI_ATTR_INTS: {
        size_t at = (size_t)snprintf(buf, cap, "%s=[", d->name);
        for (int j = 0; j < a->n && at < cap; j++) {
            at += (size_t)snprintf(buf + at, cap - at, "%s%d", j ? ", " : "", (int)a->list[j]);
        }
        if (at < cap) {
            snprintf(buf + at, cap - at, "]");
        }
        break;
    }
    default:
        snprintf(buf, cap, "%s=%lld", d->name, (long long)a->i);
    }
}

void nbi_attr_label(const nb_node *y, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int k = 0; k < nbi_ops[y->op]->n_attrs && at + 1 < cap; k++) {
        if (!nbi_attr_shown(y, k)) {
            continue;
        }
        if (at > 0) {
            buf[at++] = ' ';
            buf[at] = '\0';
        }
        nbi_attr_format(y, k, buf + at, cap - at);
        at += strlen(buf + at);
    }
}

void nbi_node_label(const nb_node *y, char *buf, size_t cap)
{
    const nbi_op *op = nbi_ops[y->op];
    buf[0] = '\0';
    if (op->label) {
        op->label(y, buf, cap);
    } else if (op->n_attrs > 0) {
        nbi_attr_label(y, buf, cap);
    }
}
