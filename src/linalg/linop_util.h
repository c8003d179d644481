/* Helpers shared by the spectral methods on top of hs_linop. */
#ifndef HS_LINOP_UTIL_H
#define HS_LINOP_UTIL_H

#include "linalg/linop.h"

/* Y = A X for k vectors (device, (k, n)), in chunks of op->max_block when the operator
 * limits its block size. */
hs_status hs_linop_apply_all(hs_linop *op, size_t k, const void *X, void *Y);

/* One classical Gram-Schmidt pass against the rows of Q (device, (rows, n) row-major, leading
 * dimension lda): h = Q w (device, rows), then w -= Q^T h, two gemvs. With orthonormal rows
 * this removes w's components along them up to rounding; run it twice where w must come out
 * orthogonal to working precision ("twice is enough"). rows = 0 does nothing. On failure the
 * context holds the backend's message. */
hs_status hs_project_out(hs_context *ctx, hs_dtype t, int rows, size_t n, const void *Q, int lda,
                         void *w, void *h);

#endif
