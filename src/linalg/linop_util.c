#include "linalg/linop_util.h"

hs_status hs_linop_apply_all(hs_linop *op, size_t k, const void *X, void *Y) {
  size_t b = op->max_block ? op->max_block : k;
  for (size_t s = 0; s < k; s += b) {
    size_t c = k - s < b ? k - s : b;
    hs_status st = op->apply(op, c, hs_dptr(X, op->dtype, s * op->n), hs_dptr(Y, op->dtype, s * op->n));
    if (st != HS_OK) return st;
  }
  return HS_OK;
}
