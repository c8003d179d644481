#include "linalg/trace.h"

#include <math.h>
#include <stdlib.h>

#include "linalg/lanczos.h"
#include "linalg/linop_util.h"

void hs_trace_free(hs_trace_result *r) {
  if (!r) return;
  free(r->samples);
  free(r);
}

hs_status hs_trace_hutchinson(hs_linop *op, const hs_trace_options *opt, hs_trace_result **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = op->dtype;
  size_t n = op->n, K = opt->probes;
  if (K < 1) return hs_fail(ctx, HS_E_INVALID, "trace: --probes must be at least 1 (got 0)");
  size_t b = opt->block ? opt->block : (K < 32 ? K : 32);
  if (b > K) b = K;
  double t0 = hs_now();
  hs_status st = HS_OK;
  void *Z = NULL, *Y = NULL;
  double *host = NULL;
  hs_trace_result *r = calloc(1, sizeof *r);
  if (!r) return hs_fail(ctx, HS_E_NOMEM, "trace: out of host memory");
  r->n = n;
  r->probes = K;
  r->seed = opt->seed;
  r->samples = calloc(K, sizeof *r->samples);
  host = malloc(b * n * sizeof *host);
  if (!r->samples || !host) {
    st = hs_fail(ctx, HS_E_NOMEM, "trace: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, t, b * n, &Z));
  HS_TRY(hs_dev_alloc(ctx, t, b * n, &Y));
  for (size_t s = 0; s < K; s += b) {
    size_t c = K - s < b ? K - s : b;
    if (hs_progress(ctx, "trace", s, K)) {
      st = hs_fail(ctx, HS_E_INVALID, "trace: cancelled after %zu of %zu probes", s, K);
      goto cleanup;
    }
    for (size_t j = 0; j < c; j++) hs_probe_rademacher(opt->seed, s + j, n, host + j * n);
    HS_TRY(hs_dev_upload_f64(ctx, t, Z, host, c * n));
    double ta = hs_now();
    HS_TRY(hs_linop_apply_all(op, c, Z, Y));
    HS_OP(ctx, be->ops->sync(be));
    r->t_apply += hs_now() - ta;
    r->applies += c;
    for (size_t j = 0; j < c; j++) {
      double d;
      HS_OP(ctx, be->ops->dot(be, t, n, hs_dptr(Z, t, j * n), hs_dptr(Y, t, j * n), &d));
      if (!isfinite(d)) {
        st = hs_fail(ctx, HS_E_NUMERIC, "trace: probe %zu gave a non-finite z^T A z", s + j);
        goto cleanup;
      }
      r->samples[s + j] = d;
    }
  }
  hs_progress(ctx, "trace", K, K);
  double sum = 0, v = 0;
  for (size_t p = 0; p < K; p++) sum += r->samples[p];
  r->trace = sum / (double)K;
  for (size_t p = 0; p < K; p++) v += (r->samples[p] - r->trace) * (r->samples[p] - r->trace);
  r->trace_se = K > 1 ? sqrt(v / (double)(K - 1) / (double)K) : NAN;
  r->t_total = hs_now() - t0;
  *out = r;
  r = NULL;
cleanup:
  be->ops->free(be, Z);
  be->ops->free(be, Y);
  free(host);
  hs_trace_free(r);
  return st;
}
