/*
 * ops/layout.c: layout ops (concat, slice, pad, permute).
 */
#include "kernel.h"
