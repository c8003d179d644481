/* hs_eigen: extremal eigenpairs by Lanczos or the whole spectrum densely (linalg/eig.h) on a
 * public operator, the result moved into the public struct. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "linalg/eig.h"

hs_eigen_options hs_eigen_defaults(void) {
  return (hs_eigen_options){.which = HS_EIGEN_TOP, .count = 1, .tol = 0, .max_steps = 0, .seed = 0,
                            .vectors = 0, .exact_limit = 0};
}

void hs_eigen_free(hs_eigen_result *r) {
  if (!r) return;
  free(r->values);
  free(r->residuals);
  free(r->vectors);
  memset(r, 0, sizeof *r);
}

hs_status hs_eigen(hs_operator *op, const hs_eigen_options *opt, hs_eigen_result *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = op->ctx;
  hs_eigen_options o = opt ? *opt : hs_eigen_defaults();
  const size_t n = op->op->n;
  hs_eig_result *r = NULL;
  hs_status st;
  if (o.which == HS_EIGEN_EXACT) {
    st = hs_eig_exact(op->op, o.exact_limit, o.vectors, &r);
  } else if (o.which == HS_EIGEN_TOP || o.which == HS_EIGEN_BOTTOM) {
    if (o.count < 1 || o.count > n)
      return hs_fail(ctx, HS_E_INVALID, "eig: count %zu must be between 1 and the dimension %zu", o.count, n);
    hs_eig_options eo = {.which = o.which == HS_EIGEN_TOP ? HS_EIG_TOP : HS_EIG_BOTTOM, .count = o.count,
                         .tol = o.tol, .max_steps = o.max_steps, .seed = o.seed, .want_vectors = o.vectors,
                         .start = NULL};
    st = hs_eig_extremal(op->op, &eo, &r);
  } else {
    return hs_fail(ctx, HS_E_INVALID, "eig: which %d is not top, bottom or exact", (int)o.which);
  }
  if (st != HS_OK) return st;
  /* the arrays change hands: the public struct owns them from here */
  *out = (hs_eigen_result){.n = r->n, .requested = r->requested, .found = r->found, .values = r->values,
                           .residuals = r->residuals, .vectors = r->vectors, .tol = r->tol, .anorm = r->anorm,
                           .asymmetry = r->asymmetry, .steps = r->steps, .operator_applications = r->applies,
                           .operator_seconds = r->t_apply, .total_seconds = r->t_total};
  r->values = r->residuals = r->vectors = NULL;
  hs_eig_free(r);
  return HS_OK;
}
