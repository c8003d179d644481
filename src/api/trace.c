/* hs_trace_estimate: Hutchinson or Hutch++ (linalg/trace.h) on a public operator, the result
 * moved into the public struct. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "linalg/trace.h"

hs_trace_est_options hs_trace_est_defaults(void) {
  return (hs_trace_est_options){.probes = HS_TRACE_DEFAULT_PROBES, .seed = 0, .block = 0,
                                .method = HS_TRACE_EST_HUTCHINSON};
}

void hs_trace_est_free(hs_trace_est *t) {
  if (!t) return;
  free(t->samples);
  memset(t, 0, sizeof *t);
}

hs_status hs_trace_estimate(hs_operator *op, const hs_trace_est_options *opt, hs_trace_est *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = op->ctx;
  hs_trace_est_options o = opt ? *opt : hs_trace_est_defaults();
  if (o.method != HS_TRACE_EST_HUTCHINSON && o.method != HS_TRACE_EST_HUTCHPP)
    return hs_fail(ctx, HS_E_INVALID, "trace: method %d is not hutchinson or hutch++", (int)o.method);
  if (o.probes < 1) return hs_fail(ctx, HS_E_INVALID, "trace: probes must be at least 1 (got 0)");
  if (o.method == HS_TRACE_EST_HUTCHPP && o.probes < 3)
    return hs_fail(ctx, HS_E_INVALID, "trace: hutch++ needs probes >= 3 (got %zu)", o.probes);
  hs_trace_options to = {.probes = o.probes, .seed = o.seed, .block = o.block,
                         .method = o.method == HS_TRACE_EST_HUTCHPP ? HS_TRACE_HUTCHPP : HS_TRACE_HUTCHINSON,
                         .part = 0, .parts = 0};
  hs_trace_result *r = NULL;
  hs_status st = hs_trace_hutchinson(op->op, &to, &r);
  if (st != HS_OK) return st;
  *out = (hs_trace_est){.n = r->n, .probes = r->probes, .trace = r->trace, .trace_stderr = r->trace_se,
                        .samples = r->samples, .nsamples = r->nsamples, .sketch_rank = r->rank,
                        .sketch_trace = r->exact_part, .operator_applications = r->applies,
                        .operator_seconds = r->t_apply, .total_seconds = r->t_total};
  r->samples = NULL;
  hs_trace_free(r);
  return HS_OK;
}
