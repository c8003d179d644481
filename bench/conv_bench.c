/* Conv-net HVP benchmark, hesspec side (bench/run-conv.sh runs it beside bench/torch_conv.py):
 *   conv_bench SPEC.json WEIGHTS.safetensors X.npy Y.npy [--threads T] [--reps R] [--block K]
 *              [--dtype f64|f32]
 *              [--device cpu|cuda[:i]]
 * One batch of all the samples in X. Times (best of R after a warm-up, wall clock): the
 * gradient, one HVP, a block of K HVPs (per vector), and the HVP's split by op kind (GEMM,
 * im2col/col2im, transposes and pooling, the rest), then the peak resident memory. Output:
 * readable lines and `RESULT <dtype> <quantity> <value>` lines. */
#define BENCH_NAME "conv_bench"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "core/context.h"
#include "io/datasets.h"
#include "io/npy.h"
#include "nn/engine.h"
#include "nn/hvp.h"

/* Per-op-kind time, measured by wrapping the backend's op table (the CPU runs ops
 * synchronously, so the wall time of a call is its cost). */
static hs_backend_ops wrapped;
static const hs_backend_ops *orig;
static double t_gemm, t_unfold, t_layout;
static hs_status w_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k, double alpha,
                        const void *A, int lda, const void *B, int ldb, double beta, void *C, int ldc) {
  double t0 = bench_ms(CLOCK_MONOTONIC);
  hs_status st = orig->gemm(be, t, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  t_gemm += bench_ms(CLOCK_MONOTONIC) - t0;
  return st;
}
static hs_status w_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                                double alpha, const void *A, int lda, long long sa, const void *B, int ldb,
                                long long sb, double beta, void *C, int ldc, long long sc, int batch) {
  double t0 = bench_ms(CLOCK_MONOTONIC);
  hs_status st = orig->gemm_batched(be, t, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
  t_gemm += bench_ms(CLOCK_MONOTONIC) - t0;
  return st;
}
static hs_status w_im2col(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X, void *cols, long long ldc) {
  double t0 = bench_ms(CLOCK_MONOTONIC);
  hs_status st = orig->im2col(be, t, n, g, X, cols, ldc);
  t_unfold += bench_ms(CLOCK_MONOTONIC) - t0;
  return st;
}
static hs_status w_col2im(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols, long long ldc, void *dX) {
  double t0 = bench_ms(CLOCK_MONOTONIC);
  hs_status st = orig->col2im(be, t, n, g, cols, ldc, dX);
  t_unfold += bench_ms(CLOCK_MONOTONIC) - t0;
  return st;
}
static hs_status w_transpose(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner, const void *src,
                             void *dst) {
  double t0 = bench_ms(CLOCK_MONOTONIC);
  hs_status st = orig->transpose(be, t, batch, R, S, inner, src, dst);
  t_layout += bench_ms(CLOCK_MONOTONIC) - t0;
  return st;
}

static void usage(void) {
  fprintf(stderr, "usage: conv_bench SPEC.json WEIGHTS.safetensors X.npy Y.npy [--threads T] [--reps R] "
                  "[--block K] [--dtype f64|f32] [--device cpu|cuda]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 5) usage();
  int threads = 2, reps = 3, K = 8;
  hs_dtype dt = HS_F64;
  const char *device = "cpu";
  for (int i = 5; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--block")) K = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dtype")) dt = !strcmp(argv[++i], "f32") ? HS_F32 : HS_F64;
    else if (!strcmp(argv[i], "--device")) device = argv[++i];
    else usage();
  }
  hs_context_options o = hs_context_defaults();
  o.device = device;
  o.threads = threads;
  o.dtype = dt;
  hs_context *ctx = NULL;
  CHECK(ctx, "context", hs_context_create(&o, &ctx));
  hs_model_spec *spec = malloc(sizeof *spec);
  CHECK(ctx, argv[1], hs_spec_load(ctx, argv[1], spec));
  hs_model *m = NULL;
  CHECK(ctx, "model", hs_model_create(ctx, spec, &m));
  CHECK(ctx, argv[2], hs_model_load(m, argv[2]));
  hs_data data;
  CHECK(ctx, argv[3], hs_data_from_npy(ctx, argv[3], argv[4], 0, spec, &data));
  hs_dataset *d = NULL;
  CHECK(ctx, "dataset", hs_dataset_create(ctx, data.n, data.input_dim, data.X, data.output_dim, data.labels, data.targets, &d));
  CHECK(ctx, "bind", hs_model_bind(m, d, 0));
  size_t P = hs_model_num_params(m);
  void *V, *Y, *G;
  CHECK(ctx, "alloc", hs_dev_alloc(ctx, dt, (size_t)K * P, &V));
  CHECK(ctx, "alloc", hs_dev_alloc(ctx, dt, (size_t)K * P, &Y));
  CHECK(ctx, "alloc", hs_dev_alloc(ctx, dt, P, &G));
  double *hv = malloc((size_t)K * P * sizeof *hv);
  for (size_t i = 0; i < (size_t)K * P; i++) hv[i] = (double)((i * 2654435761u) % 2001) / 1000.0 - 1.0;
  CHECK(ctx, "upload", hs_dev_upload_f64(ctx, dt, V, hv, (size_t)K * P));
  const char *dn = hs_dtype_name(dt);
  double best_g = 1e300, best_1 = 1e300, best_k = 1e300, loss;
  for (int r = 0; r <= reps; r++) { /* r = 0: warm-up */
    hs_nn_invalidate(m);
    double t0 = bench_ms(CLOCK_MONOTONIC);
    CHECK(ctx, "grad", hs_nn_loss_grad(m, &loss, G));
    CHECK(ctx, "sync", ctx->be->ops->sync(ctx->be));
    double t1 = bench_ms(CLOCK_MONOTONIC);
    CHECK(ctx, "hvp1", hs_nn_apply(m, HS_CURV_HESSIAN, 1, V, Y));
    CHECK(ctx, "sync", ctx->be->ops->sync(ctx->be));
    double t2 = bench_ms(CLOCK_MONOTONIC);
    CHECK(ctx, "hvpK", hs_nn_apply(m, HS_CURV_HESSIAN, (size_t)K, V, Y));
    CHECK(ctx, "sync", ctx->be->ops->sync(ctx->be));
    double t3 = bench_ms(CLOCK_MONOTONIC);
    if (r == 0) continue;
    if (t1 - t0 < best_g) best_g = t1 - t0;
    if (t2 - t1 < best_1) best_1 = t2 - t1;
    if ((t3 - t2) / K < best_k) best_k = (t3 - t2) / K;
  }
  /* where one HVP's time goes (state cached: R-forward + R-backward only); on the CPU only,
   * where ops run synchronously */
  int split = strcmp(hs_backend_name(ctx), "cpu") == 0;
  orig = ctx->be->ops;
  wrapped = *orig;
  wrapped.gemm = w_gemm;
  wrapped.gemm_batched = w_gemm_batched;
  wrapped.im2col = w_im2col;
  wrapped.col2im = w_col2im;
  wrapped.transpose = w_transpose;
  if (split) ctx->be->ops = &wrapped;
  double t0 = bench_ms(CLOCK_MONOTONIC);
  CHECK(ctx, "hvp1", hs_nn_apply(m, HS_CURV_HESSIAN, 1, V, Y));
  double total = bench_ms(CLOCK_MONOTONIC) - t0;
  ctx->be->ops = orig;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("hesspec %s on %s (%s): P = %zu, N = %zu, %d threads, loss %.10g\n", dn, hs_backend_name(ctx), hs_device_name(ctx), P, data.n, threads, loss);
  printf("  gradient %.1f ms, HVP %.1f ms, block of %d: %.1f ms per vector\n", best_g, best_1, K, best_k);
  if (split)
    printf("  one HVP: %.0f%% GEMM, %.0f%% im2col/col2im, %.0f%% transposes, %.0f%% the rest; peak RSS %.0f MiB\n",
         100 * t_gemm / total, 100 * t_unfold / total, 100 * t_layout / total,
         100 * (total - t_gemm - t_unfold - t_layout) / total, ru.ru_maxrss / 1024.0);
  if (!split) printf("  peak RSS %.0f MiB (host)\n", ru.ru_maxrss / 1024.0);
  printf("RESULT %s grad %.3f\nRESULT %s hvp1 %.3f\nRESULT %s hvpK_per_vec %.3f\nRESULT %s peak_mib %.1f\n", dn, best_g,
         dn, best_1, dn, best_k, dn, ru.ru_maxrss / 1024.0);
  return 0;
}
