/* hs_eigen: extremal eigenpairs by Lanczos or the whole spectrum densely (linalg/eig.h) on a
 * public operator, the result moved into the public struct. */
#include "api/api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
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

/* The internal view of a public result, for the writers (no arrays change hands). */
static hs_eig_result internal(const hs_eigen_result *r) {
  return (hs_eig_result){.n = r->n, .requested = r->requested, .found = r->found, .values = r->values,
                         .residuals = r->residuals, .vectors = r->vectors, .tol = r->tol, .anorm = r->anorm,
                         .steps = r->steps, .applies = r->operator_applications, .asymmetry = r->asymmetry,
                         .t_apply = r->operator_seconds, .t_total = r->total_seconds};
}

/* What the file says of the method: "lanczos" top/bottom with its step cap, or "dense" all. */
static void method(const hs_eigen_options *o, size_t n, const char **name, const char **which, size_t *max_steps) {
  const int exact = o->which == HS_EIGEN_EXACT;
  *name = exact ? "dense" : "lanczos";
  *which = exact ? "all" : o->which == HS_EIGEN_TOP ? "top" : "bottom";
  *max_steps = 0;
  if (!exact) {
    *max_steps = o->max_steps ? o->max_steps : (4 * o->count + 50 > 300 ? 4 * o->count + 50 : 300);
    if (!o->max_steps && *max_steps > n) *max_steps = n;
  }
}

hs_status hs_eigen_save(hs_operator *op, const hs_eigen_options *opt, const hs_eigen_result *r,
                        const hs_run_info *info, const char *vectors_path, const char *path) {
  if (!path || !*path) return hs_fail(op->ctx, HS_E_INVALID, "eig save: no path given");
  const hs_eigen_options o = opt ? *opt : hs_eigen_defaults();
  if (r->n != op->op->n)
    return hs_fail(op->ctx, HS_E_INVALID, "%s: the result has n = %zu, the operator %zu", path, r->n, op->op->n);
  hs_provenance prov;
  hs_block_desc blk;
  char *spec_json;
  hs_status st = hs_api_provenance(op, "eig", info, r->total_seconds, o.seed, &prov, &blk, &spec_json);
  if (st != HS_OK) return st;
  const char *name, *which;
  size_t max_steps;
  method(&o, r->n, &name, &which, &max_steps);
  const hs_eig_result e = internal(r);
  st = hs_eig_write(op->ctx, path, &prov, &e, name, which, max_steps, vectors_path && r->found ? vectors_path : NULL);
  free(spec_json);
  return st;
}

hs_status hs_eigen_save_blocks(size_t nb, hs_operator *const *ops, const hs_eigen_options *opt,
                               const hs_eigen_result *results, const hs_run_info *info, const char *path) {
  const hs_eigen_options o = opt ? *opt : hs_eigen_defaults();
  double seconds = 0;
  for (size_t b = 0; b < nb; b++) seconds += results[b].total_seconds;
  hs_block_desc *desc = NULL;
  hs_provenance prov;
  char *spec_json = NULL;
  hs_status st = hs_api_blocks_provenance(nb, ops, "eig", info, seconds, o.seed, path, &desc, &prov, &spec_json);
  if (st != HS_OK) return st;
  hs_eig_result *e = hs_calloc(nb, sizeof *e);
  const hs_eig_result **parts = hs_calloc(nb, sizeof *parts);
  if (!e || !parts) {
    st = hs_fail(ops[0]->ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  for (size_t b = 0; b < nb; b++) e[b] = internal(&results[b]), parts[b] = &e[b];
  const char *name, *which;
  size_t max_steps;
  method(&o, SIZE_MAX, &name, &which, &max_steps);
  st = hs_eig_write_blocks(ops[0]->ctx, path, &prov, nb, desc, parts, name, which,
                           o.which == HS_EIGEN_EXACT ? 0 : o.count, max_steps);
cleanup:
  free(spec_json);
  free(desc);
  free(e);
  free(parts);
  return st;
}
