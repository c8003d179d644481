/* hvp_bench: times the HVP engine on the benchmark model, for bench/run-cpu.sh.
 *
 *   784-256-256-256-10 ReLU MLP (bias, no BN), cross entropy, 1024 samples in one batch
 *   (--batch to change), Fashion-MNIST (the first N training images) when its files are
 *   installed, else synthetic Gaussian inputs of the same shape (the timing does not depend
 *   on the values; the output says which was used).
 *
 * For each dtype (f64, f32): the loss gradient, single-vector HVPs, blocks of --block (8)
 * directions (reported per vector) and, for reference, single-vector Gauss-Newton products.
 * Times are the best of --reps repetitions after a warm-up, with --threads CPU threads.
 * "engine" times call hs_nn_apply on device buffers (what Lanczos and SLQ use); "api" times
 * call the public hs_model_hvp (adds host<->device copies and allocation of V and Y).
 *
 * The GEMM floor: the very GEMMs (shapes, transposes) that one gradient and one single-vector
 * HVP of this model perform, timed alone, (a) through the backend's gemm op (hesspec's
 * deterministic tiling over single-threaded OpenBLAS) and (b) as whole-matrix OpenBLAS calls
 * with OpenBLAS's own threading; no other op. Any engine or framework doing the same
 * arithmetic with this BLAS pays about (b); the engine's overhead above it is the rest.
 *
 * Output: a readable report, and one machine-readable line per number:
 *   RESULT <dtype> <quantity> <milliseconds>
 * with quantity grad, hvp1, hvpK_per_vec, ggn1, api_hvp1, api_hvpK_per_vec,
 * floor_tiled_grad, floor_tiled_hvp1, floor_blas_grad, floor_blas_hvp1. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "hvp_bench"
#include "bench_util.h"
#include "core/context.h"
#include "core/rng.h"
#include "hesspec.h"
#include "io/datasets.h"
#include "nn/hvp.h"
#include "nn/engine.h"

void openblas_set_num_threads(int n); /* OpenBLAS's own API (not in every cblas.h) */

/* Wall clock by default; --clock cpu gives the process CPU time (all threads), which a busy
 * shared machine inflates much less (use it with --threads 1 for contention-robust numbers). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

typedef struct {
  int threads, reps, block;
  size_t samples, batch;
  int f32;
  const char *data; /* "auto", "fashion-mnist", "synthetic" */
  const char *only; /* for profiling: run just this quantity (grad, hvp1, hvpK, ggn1) */
} options;

static void usage(void) {
  fprintf(stderr,
          "usage: hvp_bench [--threads T (2)] [--reps R (10)] [--block K (8)] [--samples N (1024)]\n"
          "                 [--batch B (0 = all)] [--data auto|fashion-mnist|synthetic] [--no-f32]\n"
          "                 [--only grad|hvp1|hvpK|ggn1]  (profiling: time just that one, --reps times)\n"
          "                 [--clock wall|cpu]  (cpu: process CPU time instead of wall time)\n");
  exit(2);
}

/* Best of reps calls of fn after one warm-up call. */
typedef void (*bench_fn)(void *arg);
static double best_ms(int reps, bench_fn fn, void *arg) {
  fn(arg);
  double best = INFINITY;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_ms(bench_clock);
    fn(arg);
    double dt = bench_ms(bench_clock) - t0;
    if (dt < best) best = dt;
  }
  return best;
}

typedef struct {
  hs_model *m;
  hs_context *ctx;
  hs_curvature which;
  size_t k;
  void *V, *Y;          /* device (engine) */
  double *hV, *hY, *hg; /* host (api) */
} job;

static void run_grad(void *a) {
  job *j = a;
  double loss;
  CHECK(j->ctx, "gradient", hs_model_loss_grad(j->m, &loss, j->hg));
}
static void run_engine(void *a) {
  job *j = a;
  CHECK(j->ctx, "hs_nn_apply", hs_nn_apply(j->m, j->which, j->k, j->V, j->Y));
}
static void run_api(void *a) {
  job *j = a;
  CHECK(j->ctx, "hs_model_hvp", hs_model_hvp(j->m, j->which, j->k, j->hV, j->hY));
}

/* ---- the GEMM floor ---- */

typedef struct {
  hs_trans ta, tb;
  int m, n, k;
} gemm_shape;

/* The GEMMs of one gradient (hvp = 0) or one single-vector HVP (hvp = 1) of an MLP without
 * BN, widths w[0..nl] (input, hidden..., output), B rows; as src/nn issues them. */
static int gemm_list(int hvp, const int *w, int nl, int B, gemm_shape *g) {
  int n = 0;
  for (int i = 0; i < nl; i++) { /* forward / R-forward: layer i maps w[i] -> w[i+1] */
    if (hvp && i > 0) g[n++] = (gemm_shape){HS_NOTRANS, HS_TRANS, B, w[i + 1], w[i]}; /* Rh W^T */
    g[n++] = (gemm_shape){HS_NOTRANS, HS_TRANS, B, w[i + 1], w[i]};                  /* h W^T or h V^T */
  }
  for (int i = nl - 1; i >= 0; i--) { /* backward / R-backward */
    g[n++] = (gemm_shape){HS_TRANS, HS_NOTRANS, w[i + 1], w[i], B}; /* dW = dZ^T h */
    if (hvp && i > 0) g[n++] = (gemm_shape){HS_TRANS, HS_NOTRANS, w[i + 1], w[i], B}; /* + dZ^T Rh */
    if (i > 0) {
      g[n++] = (gemm_shape){HS_NOTRANS, HS_NOTRANS, B, w[i], w[i + 1]};        /* dh = dZ W */
      if (hvp) g[n++] = (gemm_shape){HS_NOTRANS, HS_NOTRANS, B, w[i], w[i + 1]}; /* + dZ V */
    }
  }
  return n;
}

typedef struct {
  hs_context *ctx;
  hs_dtype t;
  int threads, blas; /* blas: whole-matrix OpenBLAS calls; else the backend's gemm */
  const gemm_shape *g;
  int n;
  void *A, *B, *C;
} floor_job;

static void run_floor(void *a) {
  floor_job *f = a;
  for (int i = 0; i < f->n; i++) {
    gemm_shape s = f->g[i];
    int lda = s.ta == HS_TRANS ? s.m : s.k, ldb = s.tb == HS_TRANS ? s.k : s.n;
    if (!f->blas) {
      CHECK(f->ctx, "gemm", f->ctx->be->ops->gemm(f->ctx->be, f->t, s.ta, s.tb, s.m, s.n, s.k, 1.0, f->A, lda, f->B,
                                                  ldb, 0.0, f->C, s.n));
      continue;
    }
    CBLAS_TRANSPOSE ta = s.ta == HS_TRANS ? CblasTrans : CblasNoTrans, tb = s.tb == HS_TRANS ? CblasTrans : CblasNoTrans;
    if (f->t == HS_F64)
      cblas_dgemm(CblasRowMajor, ta, tb, s.m, s.n, s.k, 1.0, f->A, lda, f->B, ldb, 0.0, f->C, s.n);
    else
      cblas_sgemm(CblasRowMajor, ta, tb, s.m, s.n, s.k, 1.0f, f->A, lda, f->B, ldb, 0.0f, f->C, s.n);
  }
}

static void gemm_floor(const options *o, hs_context *ctx, hs_dtype t, const int *w, int nl, int B, double out[2][2]) {
  gemm_shape g[4 * HS_MAX_HIDDEN + 8];
  size_t big = 0;
  for (int i = 0; i <= nl; i++) big = (size_t)B * w[i] > big ? (size_t)B * w[i] : big;
  for (int i = 0; i < nl; i++) big = (size_t)w[i] * w[i + 1] > big ? (size_t)w[i] * w[i + 1] : big;
  floor_job f = {.ctx = ctx, .t = t, .threads = o->threads, .g = g};
  CHECK(ctx, "alloc", hs_dev_alloc(ctx, t, big, &f.A));
  CHECK(ctx, "alloc", hs_dev_alloc(ctx, t, big, &f.B));
  CHECK(ctx, "alloc", hs_dev_alloc(ctx, t, big, &f.C));
  double *r = malloc(big * sizeof *r);
  hs_rng_normals(9, HS_STREAM_TEST, 0, big, r);
  CHECK(ctx, "upload", hs_dev_upload_f64(ctx, t, f.A, r, big));
  CHECK(ctx, "upload", hs_dev_upload_f64(ctx, t, f.B, r, big));
  free(r);
  for (int hvp = 0; hvp < 2; hvp++) {
    f.n = gemm_list(hvp, w, nl, B, g);
    for (int blas = 0; blas < 2; blas++) {
      f.blas = blas;
      if (blas) openblas_set_num_threads(o->threads); /* the CPU backend keeps it at 1 */
      out[hvp][blas] = best_ms(o->reps, run_floor, &f);
      if (blas) openblas_set_num_threads(1);
    }
  }
  ctx->be->ops->free(ctx->be, f.A);
  ctx->be->ops->free(ctx->be, f.B);
  ctx->be->ops->free(ctx->be, f.C);
}

static void bench_dtype(const options *o, hs_dtype t, const hs_data *data) {
  hs_context_options co = hs_context_defaults();
  co.device = "cpu";
  co.dtype = t;
  co.threads = o->threads;
  hs_context *ctx = NULL;
  CHECK(ctx, "context", hs_context_create(&co, &ctx));
  const char *dn = hs_dtype_name(t);

  hs_model_spec s = hs_spec_defaults();
  s.input_dim = 784;
  s.n_hidden = 3;
  s.hidden[0] = s.hidden[1] = s.hidden[2] = 256;
  s.output_dim = 10;
  s.activation = HS_ACT_RELU;
  s.batchnorm = HS_BN_NONE;
  s.residual = 0;
  s.bias = 1;
  s.loss = HS_LOSS_CROSS_ENTROPY;
  hs_model *m = NULL;
  CHECK(ctx, "model", hs_model_create(ctx, &s, &m));
  CHECK(ctx, "init", hs_model_init(m, 1));
  hs_dataset *d = NULL;
  CHECK(ctx, "dataset",
        hs_dataset_create(ctx, data->n, data->input_dim, data->X, data->output_dim, data->labels, NULL, &d));
  CHECK(ctx, "bind", hs_model_bind(m, d, o->batch));
  const size_t P = hs_model_num_params(m), K = (size_t)o->block;

  job j = {.m = m, .ctx = ctx, .which = HS_CURV_HESSIAN};
  j.hV = malloc(K * P * sizeof *j.hV);
  j.hY = malloc(K * P * sizeof *j.hY);
  j.hg = malloc(P * sizeof *j.hg);
  hs_rng_normals(7, HS_STREAM_TEST, 0, K * P, j.hV);
  CHECK(ctx, "alloc V", hs_dev_alloc(ctx, t, K * P, &j.V));
  CHECK(ctx, "alloc Y", hs_dev_alloc(ctx, t, K * P, &j.Y));
  CHECK(ctx, "upload V", hs_dev_upload_f64(ctx, t, j.V, j.hV, K * P));

  double loss;
  CHECK(ctx, "loss", hs_model_loss_grad(m, &loss, NULL));
  printf("[%s] P = %zu, loss at init %.6f\n", dn, P, loss);

  if (o->only) { /* profiling: one quantity only (perf record -- hvp_bench --only hvp1) */
    j.k = !strcmp(o->only, "hvpK") ? K : 1;
    j.which = !strcmp(o->only, "ggn1") ? HS_CURV_GGN : HS_CURV_HESSIAN;
    double ms = best_ms(o->reps, !strcmp(o->only, "grad") ? run_grad : run_engine, &j);
    printf("[%s] %s: best %.3f ms%s\n", dn, o->only, ms / (double)j.k, j.k > 1 ? " per vector" : "");
    goto done;
  }
  double grad = best_ms(o->reps, run_grad, &j);
  j.k = 1;
  double hvp1 = best_ms(o->reps, run_engine, &j);
  double api1 = best_ms(o->reps, run_api, &j);
  j.k = K;
  double hvpk = best_ms(o->reps, run_engine, &j) / (double)K;
  double apik = best_ms(o->reps, run_api, &j) / (double)K;
  j.k = 1;
  j.which = HS_CURV_GGN;
  double ggn1 = best_ms(o->reps, run_engine, &j);
  double fl[2][2];
  const int widths[] = {784, 256, 256, 256, 10};
  gemm_floor(o, ctx, t, widths, 4, (int)(o->batch ? o->batch : data->n), fl);

  printf("[%s] gradient                 %9.3f ms\n", dn, grad);
  printf("[%s] HVP single (engine)      %9.3f ms   (%.2f x gradient)\n", dn, hvp1, hvp1 / grad);
  printf("[%s] HVP block of %-2zu /vector  %9.3f ms   (%.2f x gradient)\n", dn, K, hvpk, hvpk / grad);
  printf("[%s] GGN single (engine)      %9.3f ms\n", dn, ggn1);
  printf("[%s] HVP single (public API)  %9.3f ms\n", dn, api1);
  printf("[%s] HVP block (public API)   %9.3f ms per vector\n", dn, apik);
  printf("[%s] GEMM floor, gradient     %9.3f ms tiled backend gemm, %9.3f ms whole-matrix OpenBLAS\n", dn, fl[0][0], fl[0][1]);
  printf("[%s] GEMM floor, HVP single   %9.3f ms tiled backend gemm, %9.3f ms whole-matrix OpenBLAS\n", dn, fl[1][0], fl[1][1]);
  printf("RESULT %s grad %.4f\nRESULT %s hvp1 %.4f\nRESULT %s hvpK_per_vec %.4f\nRESULT %s ggn1 %.4f\n"
         "RESULT %s api_hvp1 %.4f\nRESULT %s api_hvpK_per_vec %.4f\n",
         dn, grad, dn, hvp1, dn, hvpk, dn, ggn1, dn, api1, dn, apik);
  printf("RESULT %s floor_tiled_grad %.4f\nRESULT %s floor_tiled_hvp1 %.4f\nRESULT %s floor_blas_grad %.4f\n"
         "RESULT %s floor_blas_hvp1 %.4f\n", dn, fl[0][0], dn, fl[1][0], dn, fl[0][1], dn, fl[1][1]);
  fflush(stdout);
done:
  ctx->be->ops->free(ctx->be, j.V);
  ctx->be->ops->free(ctx->be, j.Y);
  free(j.hV);
  free(j.hY);
  free(j.hg);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

int main(int argc, char **argv) {
  options o = {.threads = 2, .reps = 10, .block = 8, .samples = 1024, .batch = 0, .f32 = 1, .data = "auto"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-f32")) { o.f32 = 0; continue; }
    if (!v) usage();
    if (!strcmp(a, "--threads")) o.threads = atoi(v);
    else if (!strcmp(a, "--reps")) o.reps = atoi(v);
    else if (!strcmp(a, "--block")) o.block = atoi(v);
    else if (!strcmp(a, "--samples")) o.samples = (size_t)atol(v);
    else if (!strcmp(a, "--batch")) o.batch = (size_t)atol(v);
    else if (!strcmp(a, "--data")) o.data = v;
    else if (!strcmp(a, "--only")) o.only = v;
    else if (!strcmp(a, "--clock") && (!strcmp(v, "wall") || !strcmp(v, "cpu")))
      bench_clock = !strcmp(v, "cpu") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    else usage();
    i++;
  }
  if (o.threads < 1 || o.reps < 1 || o.block < 1 || o.samples < 2) usage();
  if (o.only && strcmp(o.only, "grad") && strcmp(o.only, "hvp1") && strcmp(o.only, "hvpK") && strcmp(o.only, "ggn1"))
    usage();

  /* the data, as host arrays */
  hs_context_options co = hs_context_defaults();
  co.device = "cpu";
  co.threads = o.threads;
  hs_context *ctx = NULL;
  CHECK(ctx, "context", hs_context_create(&co, &ctx));
  hs_data data;
  memset(&data, 0, sizeof data);
  int have = 0;
  if (strcmp(o.data, "synthetic") != 0) {
    hs_status st = hs_data_fashion_mnist(ctx, 1, o.samples, &data);
    if (st == HS_OK) have = 1;
    else if (!strcmp(o.data, "fashion-mnist")) bench_die(ctx, "fashion-mnist", st);
    else fprintf(stderr, "hvp_bench: Fashion-MNIST unavailable (%s); using synthetic data\n", hs_last_error(ctx));
  }
  if (!have) {
    data.n = o.samples;
    data.input_dim = 784;
    data.output_dim = 10;
    data.X = malloc(o.samples * 784 * sizeof *data.X);
    data.labels = malloc(o.samples * sizeof *data.labels);
    hs_rng_normals(3, HS_STREAM_DATA, 0, o.samples * 784, data.X);
    for (size_t i = 0; i < o.samples; i++) data.labels[i] = (int32_t)(i % 10);
    snprintf(data.source, sizeof data.source, "synthetic Gaussian N(0,1), %zu x 784, labels i mod 10", o.samples);
  }
  printf("hesspec %s hvp_bench: 784-256-256-256-10 relu, cross_entropy, %zu samples, batch %zu, %d threads, "
         "best of %d after warm-up, %s time\n", HS_VERSION, data.n, o.batch ? o.batch : data.n, o.threads, o.reps,
         bench_clock == CLOCK_MONOTONIC ? "wall" : "process CPU");
  printf("data: %s\n", data.source);
  printf("backend: %s (%s)\n", hs_backend_name(ctx), hs_device_name(ctx));
  printf("RESULT meta data %s\n", have ? "fashion-mnist" : "synthetic");
  hs_context_destroy(ctx);

  bench_dtype(&o, HS_F64, &data);
  if (o.f32) bench_dtype(&o, HS_F32, &data);
  hs_data_free(&data);
  return 0;
}
