/* ops/table.c: the op table, generated from ops/ops.def. */
#include "op.h"

const nbi_op *const nbi_ops[NBI_OP_COUNT] = {
#define NBI_OP(ID, name) [NBI_OP_##ID] = &nbi_op_##name,
#include "ops.def"
#undef NBI_OP
};
