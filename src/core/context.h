/* The context: backend, dtype, threads, the last error message, the progress hook. */
#ifndef HS_CONTEXT_H
#define HS_CONTEXT_H

#include "backend/backend.h"
#include "hesspec.h"

struct hs_context {
  hs_backend *be;
  hs_dtype dtype;
  int threads;
  size_t cache_mb, rstate_mb, conv_mb; /* hs_context_options' memory budgets */
  char data_dir[1024];                 /* "" = the default Fashion-MNIST folder */
  hs_progress_fn progress;
  void *progress_user;
  char errmsg[1024];
};

/* Records a formatted message and returns st, for `return hs_fail(ctx, HS_E_INVALID, ...)`. */
hs_status hs_fail(hs_context *ctx, hs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies the backend's message into the context after a failed op; returns st. */
hs_status hs_fail_backend(hs_context *ctx, hs_status st);
/* Calls the progress hook. HS_OK: go on. Otherwise the hook's own status (HS_E_CANCELLED
 * by convention) with the message set; the caller cleans up and returns it unchanged. */
hs_status hs_progress(hs_context *ctx, const char *what, size_t done, size_t total);

/* Allocation through the backend, with the context's message on failure. */
hs_status hs_dev_alloc(hs_context *ctx, hs_dtype t, size_t n, void **ptr);
/* The same for a byte count (integer arrays). Both count for core/alloc.h's injection. */
hs_status hs_dev_alloc_bytes(hs_context *ctx, size_t bytes, void **ptr);
hs_status hs_dev_upload_f64(hs_context *ctx, hs_dtype t, void *dst, const double *src, size_t n);
hs_status hs_dev_download_f64(hs_context *ctx, hs_dtype t, double *dst, const void *src, size_t n);

/* Runs an op call and jumps to `cleanup` with the context's message on failure. Needs
 * `hs_status st` and `hs_context *ctx` in scope. */
#define HS_TRY(call)                                   \
  do {                                                 \
    st = (call);                                       \
    if (st != HS_OK) goto cleanup;                     \
  } while (0)
#define HS_OP(ctx, call)                               \
  do {                                                 \
    st = (call);                                       \
    if (st != HS_OK) {                                 \
      hs_fail_backend((ctx), st);                      \
      goto cleanup;                                    \
    }                                                  \
  } while (0)

#endif
