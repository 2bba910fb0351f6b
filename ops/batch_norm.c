/*
 * ops/batch_norm.c: batch normalization and the running statistics it keeps.
 */
#include "kernel.h"
