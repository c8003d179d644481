/* The landscape panel of compare (analysis/compare_panels.h): hesspec landscape's random
 * filter-normalised directions and grid evaluation (analysis/landscape.h) around a trained
 * network, its file through landscape_io. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis/compare_panels.h"
#include "analysis/landscape_io.h"
#include "core/alloc.h"
#include "core/context.h"
#include "nn/engine.h"

hs_status hs_cmp_landscape_panel(hs_model *m, const hs_cmp_config *c, size_t k, const char *dir, const char *run_rel,
                                 const char *spec_json, const char *data_desc, hs_cmp_result *res) {
  hs_context *ctx = hs_model_context(m);
  hs_status st = HS_OK;
  size_t P = hs_model_num_params(m);
  hs_ls_result *r = NULL;
  double *theta = hs_malloc(P * sizeof *theta), *D = hs_malloc(2 * P * sizeof *D);
  if (!theta || !D) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  HS_TRY(hs_model_get_params(m, theta));
  /* The same direction seed for every kind: the draws differ only where the layouts do */
  for (size_t j = 0; j < 2; j++) hs_ls_random_direction(m, theta, c->probe_seed, j, D + j * P);
  double a = c->landscape_range;
  hs_ls_grid g = {2, -a, a, -a, a, c->landscape_points, c->landscape_points};
  HS_TRY(hs_ls_evaluate(m, theta, D, D + P, &g, &r));
  hs_ls_directions dirs = {.kind = "random", .seed = c->probe_seed, .count = 2,
                           .norms = {hs_ls_norm(D, P), hs_ls_norm(D + P, P)}};
  char weights[200], path[4096];
  hs_provenance prov = hs_cmp_provenance(c, m, k, 0, c->train.epochs, "loss", spec_json, data_desc, weights);
  prov.elapsed = r->seconds;
  snprintf(res->landscape_file[k], sizeof res->landscape_file[k], "%s/landscape.json", run_rel);
  snprintf(path, sizeof path, "%s/%s", dir, res->landscape_file[k]);
  HS_TRY(hs_ls_write(ctx, path, &prov, &dirs, r));
  res->landscape[k] = r;
  r = NULL;
cleanup:
  hs_ls_free(r);
  free(theta);
  free(D);
  return st;
}
