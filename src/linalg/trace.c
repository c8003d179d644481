#include "core/alloc.h"
#include "linalg/trace.h"

#include <math.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/stats.h"
#include "linalg/lanczos.h"
#include "linalg/linop_util.h"

void hs_trace_free(hs_trace_result *r) {
  if (!r) return;
  free(r->samples);
  free(r);
}

/* Hutch++ (see trace.h). Sketch probes are Rademacher vectors 0..s-1 of the seed, the
 * Hutchinson part uses vectors s..s+g-1, so neither reuses the other's numbers. */
static hs_status hutchpp(hs_linop *op, const hs_trace_options *opt, hs_trace_result **out) {
  hs_context *ctx = op->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = op->dtype;
  size_t n = op->n, K = opt->probes;
  if (K < 3) return hs_fail(ctx, HS_E_INVALID, "trace: --probes %zu: Hutch++ needs at least 3 products", K);
  size_t s = K / 3, g = K - 2 * s;
  if (s > n) s = n, g = K - 2 * s;
  double t0 = hs_now(), ta;
  hs_status st = HS_OK;
  void *Y = NULL, *W = NULL, *h = NULL;
  double *host = NULL;
  hs_trace_result *r = hs_calloc(1, sizeof *r);
  if (!r) return hs_fail(ctx, HS_E_NOMEM, "trace: out of host memory");
  r->n = n;
  r->probes = K;
  r->seed = opt->seed;
  r->method = HS_TRACE_HUTCHPP;
  size_t rows = s > g ? s : g;
  r->samples = hs_calloc(g, sizeof *r->samples);
  host = hs_malloc(rows * n * sizeof *host);
  if (!r->samples || !host) {
    st = hs_fail(ctx, HS_E_NOMEM, "trace: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, t, rows * n, &Y));
  HS_TRY(hs_dev_alloc(ctx, t, rows * n, &W));
  HS_TRY(hs_dev_alloc(ctx, t, s + 1, &h));
  /* Y = A S */
  for (size_t j = 0; j < s; j++) hs_probe_rademacher(opt->seed, j, n, host + j * n);
  HS_TRY(hs_dev_upload_f64(ctx, t, W, host, s * n));
  ta = hs_now();
  HS_TRY(hs_linop_apply_all(op, s, W, Y));
  HS_OP(ctx, be->ops->sync(be));
  r->t_apply += hs_now() - ta;
  /* Q: the rows of Y orthonormalised in place (two Gram-Schmidt passes), dependent rows dropped */
  double drop = t == HS_F64 ? 1e-12 : 1e-5;
  size_t q = 0;
  for (size_t i = 0; i < s; i++) {
    void *w = hs_dptr(Y, t, q * n);
    if (i != q) HS_OP(ctx, be->ops->copy(be, w, hs_dptr(Y, t, i * n), n * hs_dtype_size(t)));
    double n0, n1;
    HS_OP(ctx, be->ops->nrm2(be, t, n, w, &n0));
    for (int pass = 0; pass < 2; pass++) HS_TRY(hs_project_out(ctx, t, (int)q, n, Y, (int)n, w, h));
    HS_OP(ctx, be->ops->nrm2(be, t, n, w, &n1));
    if (!isfinite(n1)) {
      st = hs_fail(ctx, HS_E_NUMERIC, "trace: the operator returned NaN or Inf");
      goto cleanup;
    }
    if (!(n1 > drop * n0)) continue;
    HS_OP(ctx, be->ops->scal(be, t, n, 1.0 / n1, w));
    q++;
  }
  r->rank = q;
  /* tr(Q^T A Q) exactly */
  ta = hs_now();
  HS_TRY(hs_linop_apply_all(op, q, Y, W));
  HS_OP(ctx, be->ops->sync(be));
  r->t_apply += hs_now() - ta;
  for (size_t i = 0; i < q; i++) {
    double d;
    HS_OP(ctx, be->ops->dot(be, t, n, hs_dptr(Y, t, i * n), hs_dptr(W, t, i * n), &d));
    r->exact_part += d;
  }
  /* Hutchinson on (I - QQ^T) A (I - QQ^T); the projected probes go into W */
  for (size_t j = 0; j < g; j++) hs_probe_rademacher(opt->seed, s + j, n, host + j * n);
  HS_TRY(hs_dev_upload_f64(ctx, t, W, host, g * n));
  for (size_t j = 0; j < g; j++) {
    void *w = hs_dptr(W, t, j * n);
    for (int pass = 0; pass < 2; pass++) HS_TRY(hs_project_out(ctx, t, (int)q, n, Y, (int)n, w, h));
  }
  /* Y (Q) is no longer needed: A G goes there */
  ta = hs_now();
  HS_TRY(hs_linop_apply_all(op, g, W, Y));
  HS_OP(ctx, be->ops->sync(be));
  r->t_apply += hs_now() - ta;
  for (size_t j = 0; j < g; j++)
    HS_OP(ctx, be->ops->dot(be, t, n, hs_dptr(W, t, j * n), hs_dptr(Y, t, j * n), &r->samples[j]));
  double mean;
  hs_mean_se(g, r->samples, &mean, &r->trace_se);
  r->nsamples = g;
  r->trace = r->exact_part + mean;
  r->applies = s + q + g;
  r->t_total = hs_now() - t0;
  *out = r;
  r = NULL;
cleanup:
  be->ops->free(be, Y);
  be->ops->free(be, W);
  be->ops->free(be, h);
  free(host);
  hs_trace_free(r);
  return st;
}

void hs_trace_summarise(hs_trace_result *r) {
  hs_mean_se(r->nsamples, r->samples, &r->trace, &r->trace_se);
}

hs_status hs_trace_hutchinson(hs_linop *op, const hs_trace_options *opt, hs_trace_result **out) {
  *out = NULL;
  if (opt->method == HS_TRACE_HUTCHPP && opt->parts > 1)
    return hs_fail(op->ctx, HS_E_INVALID, "trace: Hutch++ cannot be split by probes (its sketch couples them): use --parallel data");
  if (opt->method == HS_TRACE_HUTCHPP) return hutchpp(op, opt, out);
  hs_context *ctx = op->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = op->dtype;
  size_t n = op->n, K = opt->probes;
  if (K < 1) return hs_fail(ctx, HS_E_INVALID, "trace: --probes must be at least 1 (got 0)");
  const size_t parts = opt->parts > 1 ? opt->parts : 1, part = parts > 1 ? opt->part : 0;
  if (part >= parts || K < parts)
    return hs_fail(ctx, HS_E_INVALID, "trace: part %zu of %zu with %zu probes: every part needs a probe", part, parts, K);
  K = (K - part + parts - 1) / parts; /* this part's probes: part, part + parts, ... */
  /* the block as in a whole run, so a probe meets the same operator call shapes */
  size_t b = opt->block ? opt->block : (opt->probes < 32 ? opt->probes : 32);
  if (b > K) b = K;
  double t0 = hs_now();
  hs_status st = HS_OK;
  void *Z = NULL, *Y = NULL;
  double *host = NULL;
  hs_trace_result *r = hs_calloc(1, sizeof *r);
  if (!r) return hs_fail(ctx, HS_E_NOMEM, "trace: out of host memory");
  r->n = n;
  r->probes = K;
  r->seed = opt->seed;
  r->nsamples = K;
  r->samples = hs_calloc(K, sizeof *r->samples);
  host = hs_malloc(b * n * sizeof *host);
  if (!r->samples || !host) {
    st = hs_fail(ctx, HS_E_NOMEM, "trace: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, t, b * n, &Z));
  HS_TRY(hs_dev_alloc(ctx, t, b * n, &Y));
  for (size_t s = 0; s < K; s += b) {
    size_t c = K - s < b ? K - s : b;
    HS_TRY(hs_progress(ctx, "trace", s, K));
    for (size_t j = 0; j < c; j++) hs_probe_rademacher(opt->seed, part + (s + j) * parts, n, host + j * n);
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
        st = hs_fail(ctx, HS_E_NUMERIC, "trace: probe %zu gave a non-finite z^T A z", part + (s + j) * parts);
        goto cleanup;
      }
      r->samples[s + j] = d;
    }
  }
  HS_TRY(hs_progress(ctx, "trace", K, K));
  if (parts == 1) hs_trace_summarise(r);
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
