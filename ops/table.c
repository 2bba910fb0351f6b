/* ops/table.c: the op table, generated from ops/ops.def, and its public view. */
#include "op.h"

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
        .leaf = op->flags & NBI_OP_LEAF,
        .differentiable = op->grad != NULL,
        .formula = op->formula,
        .grad_formula = op->grad_formula,
    };
    return true;
}
