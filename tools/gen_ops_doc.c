/*
 * tools/gen_ops_doc.c: prints docs/ops.md, the table of every op with its
 * builder, arity, formula and gradient rule, from the library's op table.
 *     build/tools/gen_ops_doc > docs/ops.md
 * tests/test_docs.c fails when the committed file differs from this output.
 */
#include "ops_doc.h"

int main(void)
{
    if (ops_doc_write(stdout) != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "gen_ops_doc: writing the table failed\n");
        return 1;
    }
    return 0;
}
