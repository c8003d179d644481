/* A symmetric linear operator on device vectors: the model's Hessian or Gauss-Newton matrix,
 * or an explicit matrix. Lanczos, SLQ, trace and exact eig run on any of them. */
#ifndef HS_LINOP_H
#define HS_LINOP_H

#include <stddef.h>

#include "core/context.h"

/* What the operator is: the model's curvature, or an explicit matrix. */
typedef enum { HS_LINOP_HESSIAN = 0, HS_LINOP_GGN, HS_LINOP_MATRIX, HS_LINOP_RESIDUAL } hs_linop_kind;

/* "hessian", "ggn", "matrix" (the provenance's operator names) */
static inline const char *hs_linop_kind_name(hs_linop_kind k) {
  return k == HS_LINOP_GGN ? "ggn" : k == HS_LINOP_MATRIX ? "matrix" : k == HS_LINOP_RESIDUAL ? "residual" : "hessian";
}

typedef struct hs_linop hs_linop;
struct hs_linop {
  size_t n;           /* dimension (P for a model) */
  hs_dtype dtype;     /* of the device vectors apply() takes */
  hs_context *ctx;    /* borrowed */
  hs_linop_kind kind; /* name for provenance: hs_linop_kind_name */
  /* Y = A X for k vectors; X and Y are device arrays of shape (k, n), row j = vector j.
   * Y must not alias X. Applying to k vectors at once gives the same numbers as k calls. */
  hs_status (*apply)(hs_linop *self, size_t k, const void *X, void *Y);
  /* Largest k that apply accepts in one call (0 = unlimited). */
  size_t max_block;
  void (*destroy)(hs_linop *self);
  void *impl;
};

static inline void hs_linop_destroy(hs_linop *op) {
  if (op) op->destroy(op);
}

/* The model's Hessian (or Gauss-Newton matrix) at its current parameters over the bound
 * data (src/nn/linop_model.c). The model must outlive the operator. */
hs_status hs_linop_model(hs_model *m, hs_curvature which, hs_linop **out);

/* An explicit symmetric n x n matrix (row-major host array, copied to the device).
 * Non-symmetric beyond tol * max|A| is HS_E_INVALID naming the worst entry. */
hs_status hs_linop_matrix(hs_context *ctx, size_t n, const double *A, double tol, hs_linop **out);

#endif
