/* Helpers shared by the spectral methods on top of hs_linop. */
#ifndef HS_LINOP_UTIL_H
#define HS_LINOP_UTIL_H

#include "linalg/linop.h"

/* Y = A X for k vectors (device, (k, n)), in chunks of op->max_block when the operator
 * limits its block size. */
hs_status hs_linop_apply_all(hs_linop *op, size_t k, const void *X, void *Y);

#endif
