/*
 * ops/gather.c: indexing ops (gather, scatter_add, embedding, argmax).
 */
#include "kernel.h"
