/*
 * ops/norm.c: regularization and normalization ops (dropout, layer_norm, batch_norm).
 */
#include "kernel.h"
