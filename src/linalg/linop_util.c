#include "linalg/linop_util.h"

#include "core/context.h"

hs_status hs_linop_apply_all(hs_linop *op, size_t k, const void *X, void *Y) {
  size_t b = op->max_block ? op->max_block : k;
  for (size_t s = 0; s < k; s += b) {
    size_t c = k - s < b ? k - s : b;
    hs_status st = op->apply(op, c, hs_dptr(X, op->dtype, s * op->n), hs_dptr(Y, op->dtype, s * op->n));
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

hs_status hs_project_out(hs_context *ctx, hs_dtype t, int rows, size_t n, const void *Q, int lda,
                         void *w, void *h) {
  if (rows == 0) return HS_OK;
  hs_backend *be = ctx->be;
  hs_status st = be->ops->gemv(be, t, HS_NOTRANS, rows, (int)n, 1.0, Q, lda, w, 0.0, h);
  if (st == HS_OK) st = be->ops->gemv(be, t, HS_TRANS, rows, (int)n, -1.0, Q, lda, h, 1.0, w);
  return st == HS_OK ? HS_OK : hs_fail_backend(ctx, st);
}
