/* hs_landscape: the loss-landscape grid of analysis/landscape.h behind the public header,
 * the directions made as `hesspec landscape` makes them (src/cli/cmd_landscape.c). */
#include "api/api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/landscape.h"
#include "analysis/landscape_io.h"
#include "core/alloc.h"
#include "core/context.h"
#include "nn/engine.h"

hs_landscape_options hs_landscape_defaults(void) {
  return (hs_landscape_options){.dims = 1, .directions = HS_LANDSCAPE_RANDOM, .d1 = NULL, .d2 = NULL, .seed = 0,
                                .alpha = {-1, 1}, .beta = {-1, 1}, .points = {21, 21}};
}

void hs_landscape_free(hs_landscape_result *r) {
  if (!r) return;
  free(r->alpha);
  free(r->beta);
  free(r->loss);
  free(r->accuracy);
  free(r->directions);
  memset(r, 0, sizeof *r);
}

/* HS_E_INVALID naming the option, before any work. */
static hs_status check(hs_context *ctx, const hs_landscape_options *o, size_t P) {
  if (o->dims != 1 && o->dims != 2) return hs_fail(ctx, HS_E_INVALID, "landscape: dims %d must be 1 or 2", o->dims);
  if (o->directions != HS_LANDSCAPE_RANDOM && o->directions != HS_LANDSCAPE_GIVEN && o->directions != HS_LANDSCAPE_EIG)
    return hs_fail(ctx, HS_E_INVALID, "landscape: directions %d is not random, given or eig", (int)o->directions);
  const char *axis[2] = {"alpha", "beta"};
  const double *iv[2] = {o->alpha, o->beta};
  for (int k = 0; k < o->dims; k++) {
    if (!isfinite(iv[k][0]) || !isfinite(iv[k][1]) || !(iv[k][0] < iv[k][1]))
      return hs_fail(ctx, HS_E_INVALID, "landscape: %s [%g, %g] must be finite with %s[0] < %s[1]", axis[k], iv[k][0],
                     iv[k][1], axis[k], axis[k]);
    if (o->points[k] < 2 || o->points[k] > 100000)
      return hs_fail(ctx, HS_E_INVALID, "landscape: points[%d] = %zu must be in [2, 100000]", k, o->points[k]);
  }
  if (o->directions != HS_LANDSCAPE_GIVEN) return HS_OK;
  const double *d[2] = {o->d1, o->d2};
  for (int k = 0; k < o->dims; k++) {
    if (!d[k]) return hs_fail(ctx, HS_E_INVALID, "landscape: given directions need d%d (NULL)", k + 1);
    for (size_t p = 0; p < P; p++)
      if (!isfinite(d[k][p])) return hs_fail(ctx, HS_E_INVALID, "landscape: d%d[%zu] = %g is not finite", k + 1, p, d[k][p]);
  }
  return HS_OK;
}

hs_status hs_landscape(hs_model *m, const hs_landscape_options *opt, hs_landscape_result *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = hs_model_context(m);
  const hs_landscape_options o = opt ? *opt : hs_landscape_defaults();
  const size_t P = hs_model_num_params(m), dims = (size_t)o.dims;
  hs_status st = check(ctx, &o, P);
  if (st != HS_OK) return st;
  size_t n, batch;
  hs_model_binding(m, &n, &batch);
  if (!n) return hs_fail(ctx, HS_E_INVALID, "landscape: the model is bound to no data (hs_model_bind)");
  double *theta = hs_malloc(P * sizeof *theta), *D = hs_malloc(dims * P * sizeof *D);
  double ev[2] = {NAN, NAN};
  hs_ls_result *r = NULL;
  if (!theta || !D) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_model_get_params(m, theta));
  if (o.directions == HS_LANDSCAPE_RANDOM) {
    for (size_t j = 0; j < dims; j++) hs_ls_random_direction(m, theta, o.seed, j, D + j * P);
  } else if (o.directions == HS_LANDSCAPE_EIG) {
    HS_TRY(hs_ls_eig_directions(m, dims, o.seed, 0, D, ev));
  } else {
    memcpy(D, o.d1, P * sizeof *D);
    if (dims == 2) memcpy(D + P, o.d2, P * sizeof *D);
  }
  const hs_ls_grid g = {.dims = o.dims, .a0 = o.alpha[0], .a1 = o.alpha[1], .b0 = o.beta[0], .b1 = o.beta[1],
                        .na = o.points[0], .nb = o.points[1]};
  HS_TRY(hs_ls_evaluate(m, theta, D, dims == 2 ? D + P : NULL, &g, &r));
  /* the arrays change hands: the public struct owns them from here */
  *out = (hs_landscape_result){.dims = r->dims, .na = r->na, .nb = r->nb, .params = P, .alpha = r->alpha,
                               .beta = r->beta, .loss = r->loss, .accuracy = r->accuracy, .directions = D,
                               .eigenvalues = {ev[0], ev[1]}, .seconds = r->seconds};
  r->alpha = r->beta = r->loss = r->accuracy = NULL;
  D = NULL;
cleanup:
  hs_ls_free(r);
  free(theta);
  free(D);
  return st;
}

/* The engine's view of a public result, for its writers (no arrays change hands). */
static hs_ls_result engine_view(const hs_landscape_result *r) {
  return (hs_ls_result){.dims = r->dims, .na = r->na, .nb = r->nb, .alpha = r->alpha, .beta = r->beta,
                        .loss = r->loss, .accuracy = r->accuracy, .seconds = r->seconds};
}

hs_status hs_landscape_save(hs_model *m, const hs_landscape_options *opt, const hs_landscape_result *r,
                            const hs_landscape_provenance *prov, const char *path) {
  hs_context *ctx = hs_model_context(m);
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "landscape save: no path given");
  const hs_landscape_options o = opt ? *opt : hs_landscape_defaults();
  const hs_landscape_provenance pv = prov ? *prov : (hs_landscape_provenance){0};
  if (r->dims != 1 && r->dims != 2) return hs_fail(ctx, HS_E_INVALID, "%s: the result has dims %d", path, r->dims);
  if (r->params != hs_model_num_params(m))
    return hs_fail(ctx, HS_E_INVALID, "%s: the result has P = %zu, the model %zu", path, r->params, hs_model_num_params(m));
  static const char *const kinds[] = {[HS_LANDSCAPE_RANDOM] = "random", [HS_LANDSCAPE_GIVEN] = "given",
                                      [HS_LANDSCAPE_EIG] = "eig"};
  if ((unsigned)o.directions > HS_LANDSCAPE_EIG)
    return hs_fail(ctx, HS_E_INVALID, "%s: directions %d is not random, given or eig", path, (int)o.directions);
  hs_ls_directions dirs = {.kind = pv.label ? pv.label : kinds[o.directions], .seed = o.seed,
                           .count = (size_t)r->dims, .eigenvalues = {r->eigenvalues[0], r->eigenvalues[1]},
                           .to = pv.to, .files = {pv.files[0], pv.files[1]}};
  for (int j = 0; j < r->dims; j++) dirs.norms[j] = hs_ls_norm(r->directions + (size_t)j * r->params, r->params);
  const hs_ls_result lr = engine_view(r);
  hs_provenance p;
  char *spec_json;
  hs_status st = hs_api_model_provenance(m, "landscape", "loss", pv.weights, pv.data, o.seed,
                                         pv.elapsed > 0 ? pv.elapsed : r->seconds, &p, &spec_json);
  if (st == HS_OK) st = hs_ls_write(ctx, path, &p, &dirs, &lr);
  free(spec_json);
  return st;
}

hs_status hs_landscape_plot(hs_context *ctx, const hs_landscape_result *r, const char *title, const char *path) {
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "landscape plot: no path given");
  const hs_ls_result lr = engine_view(r);
  return hs_ls_svg_write(ctx, path, &lr, title ? title : "loss landscape");
}
