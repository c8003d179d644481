/* hs_critical: Newton-MR of analysis/critical.h behind the public header, with the start
 * perturbation of `hesspec critical --noise` (src/cli/cmd_critical.c). The index is left to
 * the caller (hs_eigen or hs_spectrum on the model's Hessian operator). */
#include "api/api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critical.h"
#include "core/context.h"
#include "nn/engine.h"

hs_critical_options hs_critical_defaults(void) {
  const hs_newton_mr_options d = hs_newton_mr_defaults();
  return (hs_critical_options){.gtol = d.gtol, .max_iter = d.max_iter, .minres_max = d.minres_max,
                               .minres_rtol = d.minres_rtol, .theta = d.theta, .noise = 0, .seed = 0, .start = 0};
}

void hs_critical_free(hs_critical_result *r) {
  if (!r) return;
  free(r->history);
  memset(r, 0, sizeof *r);
}

/* The engine's messages name the CLI's flags (--gtol); these name the public fields. */
static hs_status check(hs_context *ctx, const hs_critical_options *o) {
  if (!(o->gtol > 0) || !isfinite(o->gtol)) return hs_fail(ctx, HS_E_INVALID, "critical: gtol %g must be positive", o->gtol);
  if (o->max_iter < 1) return hs_fail(ctx, HS_E_INVALID, "critical: max_iter must be at least 1 (got 0)");
  if (!(o->minres_rtol > 0 && o->minres_rtol < 1))
    return hs_fail(ctx, HS_E_INVALID, "critical: minres_rtol %g must be in (0, 1)", o->minres_rtol);
  if (!(o->theta >= 0 && o->theta < 1)) return hs_fail(ctx, HS_E_INVALID, "critical: theta %g must be in [0, 1)", o->theta);
  if (!(o->noise >= 0) || !isfinite(o->noise))
    return hs_fail(ctx, HS_E_INVALID, "critical: noise %g must be finite and >= 0", o->noise);
  return HS_OK;
}

hs_newton_mr_options hs_api_newton_options(const hs_critical_options *o) {
  hs_newton_mr_options no = hs_newton_mr_defaults();
  no.gtol = o->gtol;
  no.max_iter = o->max_iter;
  no.minres_max = o->minres_max;
  no.minres_rtol = o->minres_rtol;
  no.theta = o->theta;
  return no;
}

hs_status hs_critical(hs_model *m, const hs_critical_options *opt, hs_critical_result *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = hs_model_context(m);
  const hs_critical_options o = opt ? *opt : hs_critical_defaults();
  hs_status st = check(ctx, &o);
  if (st != HS_OK) return st;
  size_t n, batch;
  hs_model_binding(m, &n, &batch);
  if (!n) return hs_fail(ctx, HS_E_INVALID, "critical: the model is bound to no data (hs_model_bind)");
  if ((st = hs_critical_perturb(m, o.seed, o.start, o.noise)) != HS_OK) return st;
  const hs_newton_mr_options no = hs_api_newton_options(&o);
  hs_newton_mr_result r;
  if ((st = hs_newton_mr(m, &no, &r)) != HS_OK) return st; /* it frees its history on failure */
  *out = (hs_critical_result){.loss = r.loss, .grad_norm = r.grad_norm, .grad_norm_start = r.grad_norm0,
                              .iterations = r.iterations, .converged = r.converged, .stop = r.stop,
                              .history = r.history, .minres_iterations = r.minres_iterations, .hvps = r.hvps,
                              .gradients = r.gradients, .fallback_steps = r.fallbacks, .seconds = r.seconds};
  return HS_OK;
}
