/*
 * ops/compare.c: comparison and selection ops (maximum, minimum, where, greater, less, equal).
 */
#include "kernel.h"
