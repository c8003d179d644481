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
  int rank, ranks;          /* data parallel: this process of `ranks` (1 = alone) */
  hs_allreduce_fn allreduce; /* set when ranks > 1 */
  void *allreduce_user;
  hs_progress_fn progress;
  void *progress_user;
  char errmsg[1024];
};

/* Records a formatted message and returns st, for `return hs_fail(ctx, HS_E_INVALID, ...)`:
 * the library's short name of the public hs_set_error. */
#define hs_fail hs_set_error
/* Copies the backend's message into the context after a failed op; returns st. */
hs_status hs_fail_backend(hs_context *ctx, hs_status st);
/* Calls the progress hook. HS_OK: go on. Otherwise the hook's own status (HS_E_CANCELLED
 * by convention) with the message set; the caller cleans up and returns it unchanged. */
hs_status hs_progress(hs_context *ctx, const char *what, size_t done, size_t total);

/* The sum over ranks of buf (n host doubles), in place (hs_context_options.allreduce);
 * HS_OK without a call for a single process. */
hs_status hs_allreduce(hs_context *ctx, double *buf, size_t n);
/* The same for a device array (n values of dtype t, staged through host doubles) followed by
 * ns host scalars, in one reduction. dev may be NULL (n = 0). */
hs_status hs_allreduce_dev(hs_context *ctx, hs_dtype t, void *dev, size_t n, double *scalars, size_t ns);
/* Rows [lo, hi) of a range of `rows` rows that rank r of R takes when it is split into R
 * contiguous parts: lo = floor(rows r / R). */
void hs_rank_range(size_t rows, int r, int R, size_t *lo, size_t *hi);

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
