/* hs_operator: a model's curvature or an explicit matrix behind the public header, and the
 * two small entry points the bindings need beside it (a model from JSON text, the
 * cancel-flag progress hook). */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/spec.h"
#include "nn/engine.h"

char *hs_api_strdup(const char *s, int *ok) {
  if (!s) return NULL;
  char *c = hs_strdup(s);
  if (!c) *ok = 0;
  return c;
}

hs_status hs_model_create_json(hs_context *ctx, const char *json, const char *origin, hs_model **out) {
  *out = NULL;
  if (!json) return hs_fail(ctx, HS_E_INVALID, "%s: no JSON text (NULL)", origin ? origin : "spec");
  hs_model_spec *spec = hs_malloc(sizeof *spec); /* about 40 kB: not on the stack of a foreign thread */
  if (!spec) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  hs_status st = hs_spec_parse(ctx, origin ? origin : "spec", json, strlen(json), spec);
  if (st == HS_OK) st = hs_model_create(ctx, spec, out);
  free(spec);
  return st;
}

hs_status hs_progress_cancel_flag(void *user, const char *what, size_t done, size_t total) {
  (void)what, (void)done, (void)total;
  /* an atomic load: the flag is written by another thread (or a signal handler) */
  return user && __atomic_load_n((const int *)user, __ATOMIC_RELAXED) ? HS_E_CANCELLED : HS_OK;
}

hs_status hs_operator_model(hs_model *m, hs_curvature which, hs_operator **out) {
  *out = NULL;
  hs_context *ctx = hs_model_context(m);
  if (which != HS_CURV_HESSIAN && which != HS_CURV_GGN && which != HS_CURV_RESIDUAL)
    return hs_fail(ctx, HS_E_INVALID, "operator: curvature %d is not hessian, ggn or residual", (int)which);
  hs_operator *op = hs_calloc(1, sizeof *op);
  if (!op) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  hs_status st = hs_linop_model(m, which, &op->op);
  if (st != HS_OK) {
    free(op);
    return st;
  }
  op->ctx = ctx;
  op->model = m;
  op->which = which;
  *out = op;
  return HS_OK;
}

hs_status hs_operator_matrix(hs_context *ctx, size_t n, const double *A, double sym_tol, hs_operator **out) {
  *out = NULL;
  if (n == 0 || !A) return hs_fail(ctx, HS_E_INVALID, "matrix: expected a square n x n matrix with n >= 1");
  if (!(sym_tol >= 0)) return hs_fail(ctx, HS_E_INVALID, "matrix: sym_tol %g must be >= 0", sym_tol);
  hs_operator *op = hs_calloc(1, sizeof *op);
  if (!op) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  hs_status st = hs_linop_matrix(ctx, n, A, sym_tol, &op->op);
  if (st != HS_OK) {
    free(op);
    return st;
  }
  op->ctx = ctx;
  *out = op;
  return HS_OK;
}

void hs_operator_destroy(hs_operator *op) {
  if (!op) return;
  hs_linop_destroy(op->op);
  free(op->block.segs);
  free(op->tensor_names);
  hs_blocks_free(&op->layers);
  free(op);
}

size_t hs_operator_size(const hs_operator *op) { return op->op->n; }

/* Staged through two device blocks of k vectors; an operator with a block limit is applied
 * max_block vectors at a time (the numbers do not depend on it: linop.h). */
hs_status hs_operator_apply(hs_operator *op, size_t k, const double *X, double *Y) {
  hs_context *ctx = op->ctx;
  const hs_linop *L = op->op;
  const size_t n = L->n, step = L->max_block ? L->max_block : k;
  void *Xd = NULL, *Yd = NULL;
  hs_status st = HS_OK;
  if (k == 0) return HS_OK;
  if (!X || !Y) return hs_fail(ctx, HS_E_INVALID, "operator apply: X and Y must not be NULL");
  if (X == Y) return hs_fail(ctx, HS_E_INVALID, "operator apply: Y must not alias X");
  HS_TRY(hs_dev_alloc(ctx, L->dtype, step * n, &Xd));
  HS_TRY(hs_dev_alloc(ctx, L->dtype, step * n, &Yd));
  for (size_t j = 0; j < k; j += step) {
    size_t kk = k - j < step ? k - j : step;
    HS_TRY(hs_dev_upload_f64(ctx, L->dtype, Xd, X + j * n, kk * n));
    HS_TRY(op->op->apply(op->op, kk, Xd, Yd));
    HS_TRY(hs_dev_download_f64(ctx, L->dtype, Y + j * n, Yd, kk * n));
  }
cleanup:
  ctx->be->ops->free(ctx->be, Xd);
  ctx->be->ops->free(ctx->be, Yd);
  return st;
}
