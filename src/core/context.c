#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"

hs_context_options hs_context_defaults(void) {
  hs_context_options o = {.device = "auto",
                         .dtype = HS_F64,
                         .threads = 0,
                         .tf32 = 0,
                         .cache_mb = 4096,
                         .rstate_mb = 1024,
                         .conv_mb = 256};
  return o;
}

hs_status hs_context_create(const hs_context_options *opt, hs_context **out) {
  *out = NULL;
  hs_context_options o = opt ? *opt : hs_context_defaults();
  hs_alloc_install_json_hooks();
  hs_context *ctx = hs_calloc(1, sizeof *ctx);
  if (!ctx) return HS_E_NOMEM;
  ctx->dtype = o.dtype;
  ctx->threads = o.threads;
  ctx->cache_mb = o.cache_mb;
  ctx->rstate_mb = o.rstate_mb;
  ctx->conv_mb = o.conv_mb ? o.conv_mb : 1;
  if (o.data_dir && strlen(o.data_dir) >= sizeof ctx->data_dir) {
    *out = ctx;
    return hs_fail(ctx, HS_E_INVALID, "data folder name too long: %.64s...", o.data_dir);
  }
  if (o.data_dir) strcpy(ctx->data_dir, o.data_dir);
  ctx->ranks = o.ranks > 1 ? o.ranks : 1;
  ctx->rank = ctx->ranks > 1 ? o.rank : 0;
  ctx->allreduce = ctx->ranks > 1 ? o.allreduce : NULL;
  ctx->allreduce_user = o.allreduce_user;
  if (ctx->ranks > 1 && (!o.allreduce || o.rank < 0 || o.rank >= o.ranks)) {
    *out = ctx;
    return hs_fail(ctx, HS_E_INVALID, "data parallel over %d ranks needs an allreduce callback and a rank in [0, %d), got rank %d%s",
                   o.ranks, o.ranks, o.rank, o.allreduce ? "" : " and no callback");
  }
  hs_status st = hs_backend_open(o.device ? o.device : "auto", o.threads, o.tf32, &ctx->be,
                                 ctx->errmsg, sizeof ctx->errmsg);
  *out = ctx; /* even on failure, so the caller can read the message (as sqlite3_open) */
  return st;
}

void hs_context_destroy(hs_context *ctx) {
  if (!ctx) return;
  if (ctx->be) ctx->be->ops->destroy(ctx->be);
  free(ctx);
}

void hs_set_progress(hs_context *ctx, hs_progress_fn fn, void *user) {
  ctx->progress = fn;
  ctx->progress_user = user;
}

hs_status hs_progress(hs_context *ctx, const char *what, size_t done, size_t total) {
  if (!ctx->progress) return HS_OK;
  hs_status st = ctx->progress(ctx->progress_user, what, done, total);
  if (st == HS_OK) return HS_OK;
  if (st == HS_E_CANCELLED) return hs_fail(ctx, st, "%s: cancelled after %zu of %zu", what, done, total);
  return hs_fail(ctx, st, "%s: the progress hook stopped the work after %zu of %zu (%s)", what, done, total,
                 hs_status_string(st));
}

const char *hs_backend_name(const hs_context *ctx) { return ctx->be->ops->name; }
const char *hs_device_name(const hs_context *ctx) { return ctx->be->device_name; }
hs_dtype hs_context_dtype(const hs_context *ctx) { return ctx->dtype; }

hs_status hs_dev_alloc(hs_context *ctx, hs_dtype t, size_t n, void **ptr) {
  return hs_dev_alloc_bytes(ctx, n * hs_dtype_size(t), ptr);
}

hs_status hs_dev_alloc_bytes(hs_context *ctx, size_t bytes, void **ptr) {
  if (hs_alloc_inject()) {
    *ptr = NULL;
    return hs_fail(ctx, HS_E_NOMEM, "%s backend: out of device memory allocating %zu bytes (injected)",
                   ctx->be->ops->name, bytes);
  }
  hs_status st = ctx->be->ops->alloc(ctx->be, bytes, ptr);
  if (st != HS_OK) return hs_fail_backend(ctx, st);
  return HS_OK;
}

hs_status hs_dev_upload_f64(hs_context *ctx, hs_dtype t, void *dst, const double *src, size_t n) {
  hs_status st;
  if (t == HS_F64) {
    st = ctx->be->ops->upload(ctx->be, dst, src, n * 8);
  } else {
    float *tmp = hs_malloc(n * sizeof *tmp + 1);
    if (!tmp) return hs_fail(ctx, HS_E_NOMEM, "out of host memory converting %zu values", n);
    for (size_t i = 0; i < n; i++) tmp[i] = (float)src[i];
    st = ctx->be->ops->upload(ctx->be, dst, tmp, n * 4);
    free(tmp);
  }
  return st == HS_OK ? HS_OK : hs_fail_backend(ctx, st);
}

hs_status hs_dev_download_f64(hs_context *ctx, hs_dtype t, double *dst, const void *src, size_t n) {
  hs_status st;
  if (t == HS_F64) {
    st = ctx->be->ops->download(ctx->be, dst, src, n * 8);
  } else {
    float *tmp = hs_malloc(n * sizeof *tmp + 1);
    if (!tmp) return hs_fail(ctx, HS_E_NOMEM, "out of host memory converting %zu values", n);
    st = ctx->be->ops->download(ctx->be, tmp, src, n * 4);
    for (size_t i = 0; st == HS_OK && i < n; i++) dst[i] = tmp[i];
    free(tmp);
  }
  return st == HS_OK ? HS_OK : hs_fail_backend(ctx, st);
}

void hs_rank_range(size_t rows, int r, int R, size_t *lo, size_t *hi) {
  /* rows * r fits: rows is a sample count, R a process count */
  *lo = rows * (size_t)r / (size_t)R;
  *hi = rows * (size_t)(r + 1) / (size_t)R;
}

hs_status hs_allreduce(hs_context *ctx, double *buf, size_t n) {
  if (ctx->ranks <= 1 || n == 0) return HS_OK;
  hs_status st = ctx->allreduce(ctx->allreduce_user, buf, n);
  if (st != HS_OK) return hs_fail(ctx, st, "the sum of %zu values over %d ranks failed (%s)", n, ctx->ranks, hs_status_string(st));
  return HS_OK;
}

hs_status hs_allreduce_dev(hs_context *ctx, hs_dtype t, void *dev, size_t n, double *scalars, size_t ns) {
  if (ctx->ranks <= 1) return HS_OK;
  hs_status st = HS_OK;
  double *h = malloc((n + ns) * sizeof *h + 1);
  if (!h) return hs_fail(ctx, HS_E_NOMEM, "out of host memory staging %zu values for the sum over ranks", n + ns);
  if (n) HS_TRY(hs_dev_download_f64(ctx, t, h, dev, n));
  for (size_t i = 0; i < ns; i++) h[n + i] = scalars[i];
  HS_TRY(hs_allreduce(ctx, h, n + ns));
  if (n) HS_TRY(hs_dev_upload_f64(ctx, t, dev, h, n));
  for (size_t i = 0; i < ns; i++) scalars[i] = h[n + i];
cleanup:
  free(h);
  return st;
}
