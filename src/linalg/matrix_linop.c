/* hs_linop_matrix: an explicit symmetric matrix held on the device. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "linalg/linop.h"

typedef struct {
  void *A; /* device, n x n, row-major, the operator's dtype */
} matrix_impl;

/* y_j = A^T x_j (= A x_j, A symmetric), one gemv per vector rather than one GEMM for the
 * block: a BLAS picks kernels by shape, so a GEMM's rounding for row j could depend on k, and
 * the operator contract says a block gives the same numbers as single calls. The operator
 * is memory-bound either way for the sizes an explicit matrix has. */
static hs_status matrix_apply(hs_linop *self, size_t k, const void *X, void *Y) {
  hs_context *ctx = self->ctx;
  matrix_impl *mi = self->impl;
  hs_status st = HS_OK;
  size_t n = self->n;
  for (size_t j = 0; j < k; j++)
    HS_OP(ctx, ctx->be->ops->gemv(ctx->be, self->dtype, HS_TRANS, (int)n, (int)n, 1.0, mi->A, (int)n,
                                  hs_dptr(X, self->dtype, j * n), 0.0, hs_dptr(Y, self->dtype, j * n)));
cleanup:
  return st;
}

static void matrix_destroy(hs_linop *self) {
  if (!self) return;
  matrix_impl *mi = self->impl;
  if (mi) {
    self->ctx->be->ops->free(self->ctx->be, mi->A);
    free(mi);
  }
  free(self);
}

hs_status hs_linop_matrix(hs_context *ctx, size_t n, const double *A, double tol, hs_linop **out) {
  *out = NULL;
  if (n == 0) return hs_fail(ctx, HS_E_INVALID, "matrix: dimension must be at least 1");
  if (n > 46340) /* n*n and the int sizes of the BLAS calls */
    return hs_fail(ctx, HS_E_INVALID, "matrix: dimension %zu is larger than the supported 46340", n);
  if (!(tol >= 0)) return hs_fail(ctx, HS_E_INVALID, "matrix: symmetry tolerance %g must be >= 0", tol);
  double amax = 0;
  for (size_t i = 0; i < n * n; i++) {
    if (!isfinite(A[i]))
      return hs_fail(ctx, HS_E_INVALID, "matrix: entry (%zu, %zu) is not finite", i / n, i % n);
    if (fabs(A[i]) > amax) amax = fabs(A[i]);
  }
  double worst = 0;
  size_t wi = 0, wj = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double d = fabs(A[i * n + j] - A[j * n + i]);
      if (d > worst) worst = d, wi = i, wj = j;
    }
  if (worst > tol * amax)
    return hs_fail(ctx, HS_E_INVALID,
                   "matrix: not symmetric: |A[%zu][%zu] - A[%zu][%zu]| = %g exceeds %g * max|A| = %g",
                   wi, wj, wj, wi, worst, tol, tol * amax);

  hs_status st = HS_OK;
  hs_linop *op = hs_calloc(1, sizeof *op);
  matrix_impl *mi = hs_calloc(1, sizeof *mi);
  if (!op || !mi) {
    free(op);
    free(mi);
    return hs_fail(ctx, HS_E_NOMEM, "matrix: out of host memory");
  }
  op->n = n;
  op->dtype = ctx->dtype;
  op->ctx = ctx;
  op->kind = HS_LINOP_MATRIX;
  op->apply = matrix_apply;
  op->max_block = 0;
  op->destroy = matrix_destroy;
  op->impl = mi;
  HS_TRY(hs_dev_alloc(ctx, op->dtype, n * n, &mi->A));
  HS_TRY(hs_dev_upload_f64(ctx, op->dtype, mi->A, A, n * n));
  *out = op;
  return HS_OK;
cleanup:
  matrix_destroy(op);
  return st;
}
