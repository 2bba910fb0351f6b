/*
 * lang/functions.c: the model language's composite functions: calls that
 * build a few ops through a public builder (nb_dropout is a mask and a
 * product), read with keyword arguments as ops are. An op with a build
 * function in its record needs no line here.
 */
#include "lang.h"

const nbl_func nbl_funcs[] = {
    /* composite functions: one line each */
    { NULL },
};

/* the terminating entry is not counted */
const size_t nbl_n_funcs = sizeof nbl_funcs / sizeof *nbl_funcs - 1;
