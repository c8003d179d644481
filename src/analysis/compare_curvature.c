/* Curvature along training inside compare (analysis/compare_panels.h): `hesspec train
 * --curvature-every N`'s tracker (train/curvature.h) on each run, its rows kept for the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/compare_panels.h"
#include "core/alloc.h"
#include "core/context.h"
#include "nn/dataset.h"
#include "nn/engine.h"

hs_status hs_cmp_curvature_attach(hs_model *m, const hs_cmp_config *c, const hs_dataset *train, const char *path,
                                  const char *run_rel, hs_curvature_tracker **out) {
  hs_context *ctx = hs_model_context(m);
  size_t P = hs_model_num_params(m);
  size_t k = c->curvature_overlap_k ? c->curvature_overlap_k : (size_t)train->output_dim;
  if (k > P) {
    if (c->curvature_overlap_k)
      return hs_fail(ctx, HS_E_INVALID, "analysis.curvature_overlap_k = %zu is more than the %zu parameters of %s",
                     k, P, run_rel);
    k = P;
  }
  hs_curvature_options o = {.every = c->curvature_every,
                            .samples = c->curvature_samples ? c->curvature_samples : c->analysis_samples,
                            .overlap_k = k,
                            .tol = c->eig_tol,
                            .seed = c->probe_seed,
                            .path = path};
  return hs_curvature_create(m, train, &o, out);
}

hs_status hs_cmp_curvature_keep(hs_context *ctx, const hs_cmp_config *c, const hs_curvature_tracker *t,
                                const hs_dataset *train, hs_cmp_curvature *out) {
  size_t n = hs_curvature_count(t);
  out->rows = hs_malloc((n ? n : 1) * sizeof *out->rows);
  if (!out->rows) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  memcpy(out->rows, hs_curvature_rows(t), n * sizeof *out->rows);
  out->n = n;
  out->samples = c->curvature_samples ? c->curvature_samples : c->analysis_samples;
  out->overlap_k = c->curvature_overlap_k ? c->curvature_overlap_k : (size_t)train->output_dim;
  out->seconds = hs_curvature_seconds(t);
  return HS_OK;
}

void hs_cmp_curvature_free(hs_cmp_curvature *r, size_t n) {
  for (size_t i = 0; r && i < n; i++) free(r[i].rows);
  free(r);
}
