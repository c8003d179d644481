/* hs_trace_estimate: Hutchinson or Hutch++ (linalg/trace.h) on a public operator, the result
 * moved into the public struct. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "linalg/trace.h"

hs_trace_est_options hs_trace_est_defaults(void) {
  return (hs_trace_est_options){.probes = HS_TRACE_DEFAULT_PROBES, .seed = 0, .block = 0,
                                .method = HS_TRACE_EST_HUTCHINSON, .part = 0, .parts = 0, .allgather = NULL,
                                .allgather_user = NULL};
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
  if (o.parts > 1) {
    if (o.method != HS_TRACE_EST_HUTCHINSON)
      return hs_fail(ctx, HS_E_INVALID, "trace: probe parallel needs hutchinson (hutch++ couples its probes through the sketch)");
    if (o.part >= o.parts || o.probes < o.parts || !o.allgather)
      return hs_fail(ctx, HS_E_INVALID, "trace: part %zu of %zu parts with %zu probes%s: need part < parts <= probes "
                     "and an allgather hook", o.part, o.parts, o.probes, o.allgather ? "" : " and no allgather");
    to.part = o.part;
    to.parts = o.parts;
  }
  hs_trace_result *r = NULL;
  hs_status st = hs_trace_hutchinson(op->op, &to, &r);
  if (st == HS_OK && to.parts > 1) st = hs_api_gather_trace(ctx, &to, o.allgather, o.allgather_user, &r);
  if (st != HS_OK) {
    hs_trace_free(r);
    return st;
  }
  *out = (hs_trace_est){.n = r->n, .probes = r->probes, .trace = r->trace, .trace_stderr = r->trace_se,
                        .samples = r->samples, .nsamples = r->nsamples, .sketch_rank = r->rank,
                        .sketch_trace = r->exact_part, .operator_applications = r->applies,
                        .operator_seconds = r->t_apply, .total_seconds = r->t_total};
  r->samples = NULL;
  hs_trace_free(r);
  return HS_OK;
}

/* The internal view of a public estimate, for the writers (no arrays change hands). */
static hs_trace_result internal(const hs_trace_est_options *o, const hs_trace_est *t) {
  return (hs_trace_result){.n = t->n, .probes = t->probes, .seed = o->seed,
                           .method = o->method == HS_TRACE_EST_HUTCHPP ? HS_TRACE_HUTCHPP : HS_TRACE_HUTCHINSON,
                           .trace = t->trace, .trace_se = t->trace_stderr, .samples = t->samples,
                           .nsamples = t->nsamples, .rank = t->sketch_rank, .exact_part = t->sketch_trace,
                           .t_apply = t->operator_seconds, .t_total = t->total_seconds,
                           .applies = t->operator_applications};
}

hs_status hs_trace_save(hs_operator *op, const hs_trace_est_options *opt, const hs_trace_est *t,
                        const hs_run_info *info, const char *path) {
  if (!path || !*path) return hs_fail(op->ctx, HS_E_INVALID, "trace save: no path given");
  const hs_trace_est_options o = opt ? *opt : hs_trace_est_defaults();
  hs_provenance prov;
  hs_block_desc blk;
  char *spec_json;
  hs_status st = hs_api_provenance(op, "trace", info, t->total_seconds, o.seed, &prov, &blk, &spec_json);
  if (st != HS_OK) return st;
  const hs_trace_result r = internal(&o, t);
  st = hs_trace_write(op->ctx, path, &prov, &r);
  free(spec_json);
  return st;
}

hs_status hs_trace_save_blocks(size_t nb, hs_operator *const *ops, const hs_trace_est_options *opt,
                               const hs_trace_est *results, const hs_run_info *info, const char *path) {
  const hs_trace_est_options o = opt ? *opt : hs_trace_est_defaults();
  double seconds = 0;
  for (size_t b = 0; b < nb; b++) seconds += results[b].total_seconds;
  hs_block_desc *desc = NULL;
  hs_provenance prov;
  char *spec_json = NULL;
  hs_status st = hs_api_blocks_provenance(nb, ops, "trace", info, seconds, o.seed, path, &desc, &prov, &spec_json);
  if (st != HS_OK) return st;
  hs_trace_result *r = hs_calloc(nb, sizeof *r);
  const hs_trace_result **parts = hs_calloc(nb, sizeof *parts);
  if (!r || !parts) {
    st = hs_fail(ops[0]->ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  for (size_t b = 0; b < nb; b++) r[b] = internal(&o, &results[b]), parts[b] = &r[b];
  st = hs_trace_write_blocks(ops[0]->ctx, path, &prov, nb, desc, parts);
cleanup:
  free(spec_json);
  free(desc);
  free(r);
  free(parts);
  return st;
}
