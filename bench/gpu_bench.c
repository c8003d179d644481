/* gpu_bench: times the HVP engine on one device (the GPU by default) and the cuBLAS ceiling of
 * the same GEMM shapes, for bench/gpu-check.sh.
 *
 *   784-256-256-256-10 ReLU MLP (bias, no BN), cross entropy, N = 1024 synthetic samples
 *   (X ~ N(0,1) from the counter-based RNG, labels i mod 10: the same data as hvp_bench's
 *   synthetic mode), one batch (--batch to change), parameters from hs_model_init(seed 1).
 *
 * Per dtype (f64, f32): the loss gradient; single-vector HVP; a block of --block directions
 * (per vector); a single GGN product; SLQ end to end (--steps, --probes) on the Hessian. GPU
 * work is asynchronous: every timed region ends with the backend's sync, and times are the
 * median of --reps runs after a warm-up.
 *
 * The ceiling: the GEMMs an HVP cannot avoid, timed alone through the same op table (cuBLAS
 * on the GPU) on the model's shapes: per layer (in -> out) with B rows, the forward product
 * Z = A W^T (B x in x out), the input gradient dA = dZ W and the weight gradient dW = dZ^T A.
 * A gradient needs one of each per layer (no dA for the first); an HVP (R-forward and
 * R-backward, with the [W|V] fusions of DESIGN.md) needs twice that. So
 *   gemm_grad_floor = sum over layers of the three times, hvp_floor = 2 x gemm_grad_floor
 * and engine/floor says how far the elementwise ops, reductions and launches add to it.
 * A large square GEMM gives the card's throughput for the dtype (TFLOP/s).
 *
 * --export DIR writes DIR/X.npy (N, 784) f64, DIR/y.npy (N) i64 and DIR/theta.npy (P) f64 in
 * DESIGN.md's parameter order, so that bench/torch_hvp.py runs on the same model and data.
 *
 * Output: a readable report and machine-readable lines
 *   RESULT <device> <dtype> <quantity> <value>   (ms unless the quantity says otherwise) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "gpu_bench"
#include "bench_util.h"
#include "core/context.h"
#include "core/rng.h"
#include "hesspec.h"
#include "io/npy.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "nn/hvp.h"

#define IN 784
#define OUT 10
#define WIDTH 256
#define DEPTH 3

typedef struct {
  const char *device, *export_dir;
  int reps, block, f64, f32, tf32, slq, peak;
  size_t samples, batch, steps, probes;
} options;

static void usage(void) {
  fprintf(stderr,
          "usage: gpu_bench [--device cuda|cpu|auto (cuda)] [--reps R (20)] [--block K (8)]\n"
          "                 [--samples N (1024)] [--batch B (0 = all)] [--steps M (80)] [--probes K (10)]\n"
          "                 [--dtype f64|f32|both (both)] [--tf32] [--no-slq] [--no-peak] [--export DIR]\n");
  exit(2);
}

typedef struct {
  hs_context *ctx;
  hs_model *m;
  hs_curvature which;
  size_t k;
  void *V, *Y, *G;
  /* gemm */
  hs_dtype t;
  hs_trans ta, tb;
  int gm, gn, gk;
  const void *A, *B;
  void *C;
  int lda, ldb, ldc;
} job;

typedef void (*bench_fn)(job *j);

static void sync_be(job *j) { CHECK(j->ctx, "sync", j->ctx->be->ops->sync(j->ctx->be)); }

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
/* Median of reps timed calls (each ending in a device sync) after one warm-up call. */
static double median_ms(int reps, bench_fn fn, job *j) {
  fn(j);
  sync_be(j);
  double *t = malloc(reps * sizeof *t);
  for (int r = 0; r < reps; r++) {
    double t0 = bench_ms(CLOCK_MONOTONIC);
    fn(j);
    sync_be(j);
    t[r] = bench_ms(CLOCK_MONOTONIC) - t0;
  }
  qsort(t, reps, sizeof *t, cmp_d);
  double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  free(t);
  return med;
}

static void run_grad(job *j) {
  double loss;
  CHECK(j->ctx, "gradient", hs_nn_loss_grad(j->m, &loss, j->G));
}
static void run_apply(job *j) { CHECK(j->ctx, "hs_nn_apply", hs_nn_apply(j->m, j->which, j->k, j->V, j->Y)); }
static void run_gemm(job *j) {
  hs_backend *be = j->ctx->be;
  CHECK(j->ctx, "gemm", be->ops->gemm(be, j->t, j->ta, j->tb, j->gm, j->gn, j->gk, 1.0, j->A, j->lda, j->B,
                                       j->ldb, 0.0, j->C, j->ldc));
}

/* Times C (m x n) = op(A) op(B) with random operands; returns ms (median). */
static double time_gemm(hs_context *ctx, hs_dtype t, int reps, hs_trans ta, hs_trans tb, int m, int n, int k) {
  size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
  double *h = malloc((na > nb ? na : nb) * sizeof *h);
  void *A, *B, *C;
  CHECK(ctx, "alloc A", hs_dev_alloc(ctx, t, na, &A));
  CHECK(ctx, "alloc B", hs_dev_alloc(ctx, t, nb, &B));
  CHECK(ctx, "alloc C", hs_dev_alloc(ctx, t, nc, &C));
  hs_rng_normals(11, HS_STREAM_TEST, 0, na, h); /* never time on zeros */
  CHECK(ctx, "upload A", hs_dev_upload_f64(ctx, t, A, h, na));
  hs_rng_normals(12, HS_STREAM_TEST, 0, nb, h);
  CHECK(ctx, "upload B", hs_dev_upload_f64(ctx, t, B, h, nb));
  job j = {.ctx = ctx, .t = t, .ta = ta, .tb = tb, .gm = m, .gn = n, .gk = k, .A = A, .B = B, .C = C};
  j.lda = ta == HS_NOTRANS ? k : m;
  j.ldb = tb == HS_NOTRANS ? n : k;
  j.ldc = n;
  double ms = median_ms(reps, run_gemm, &j);
  ctx->be->ops->free(ctx->be, A);
  ctx->be->ops->free(ctx->be, B);
  ctx->be->ops->free(ctx->be, C);
  free(h);
  return ms;
}

static void result(const char *dev, const char *dt, const char *q, double v) {
  printf("RESULT %s %s %s %.10g\n", dev, dt, q, v);
}

static hs_model_spec bench_spec(void) {
  hs_model_spec s = hs_spec_defaults();
  s.input_dim = IN;
  s.n_hidden = DEPTH;
  for (int i = 0; i < DEPTH; i++) s.hidden[i] = WIDTH;
  s.output_dim = OUT;
  s.activation = HS_ACT_RELU;
  s.batchnorm = HS_BN_NONE;
  s.residual = 0;
  s.bias = 1;
  s.loss = HS_LOSS_CROSS_ENTROPY;
  return s;
}

static void bench_dtype(const options *o, hs_dtype t, const double *X, const int32_t *labels) {
  hs_context_options co = hs_context_defaults();
  co.device = o->device;
  co.dtype = t;
  co.threads = 0;
  co.tf32 = o->tf32;
  hs_context *ctx = NULL;
  hs_status cst = hs_context_create(&co, &ctx);
  if (cst != HS_OK) bench_die(ctx, "context", cst);
  const char *dn = hs_dtype_name(t), *dev = hs_backend_name(ctx);
  printf("[%s] backend %s, device %s\n", dn, dev, hs_device_name(ctx));

  hs_model_spec s = bench_spec();
  hs_model *m = NULL;
  CHECK(ctx, "model", hs_model_create(ctx, &s, &m));
  CHECK(ctx, "init", hs_model_init(m, 1));
  hs_dataset *d = NULL;
  CHECK(ctx, "dataset", hs_dataset_create(ctx, o->samples, IN, X, OUT, labels, NULL, &d));
  CHECK(ctx, "bind", hs_model_bind(m, d, o->batch));
  const size_t P = hs_model_num_params(m), K = (size_t)o->block;

  job j = {.ctx = ctx, .m = m, .which = HS_CURV_HESSIAN};
  double *hV = malloc(K * P * sizeof *hV);
  hs_rng_normals(7, HS_STREAM_TEST, 0, K * P, hV);
  CHECK(ctx, "alloc V", hs_dev_alloc(ctx, t, K * P, &j.V));
  CHECK(ctx, "alloc Y", hs_dev_alloc(ctx, t, K * P, &j.Y));
  CHECK(ctx, "alloc G", hs_dev_alloc(ctx, t, P, &j.G));
  CHECK(ctx, "upload V", hs_dev_upload_f64(ctx, t, j.V, hV, K * P));
  free(hV);

  double loss;
  CHECK(ctx, "loss", hs_model_loss_grad(m, &loss, NULL));
  printf("[%s] P = %zu, loss at init %.10f\n", dn, P, loss);
  result(dev, dn, "loss_at_init", loss);

  double grad = median_ms(o->reps, run_grad, &j);
  j.k = 1;
  double hvp1 = median_ms(o->reps, run_apply, &j);
  j.k = K;
  double hvpk = median_ms(o->reps, run_apply, &j) / (double)K;
  j.k = 1;
  j.which = HS_CURV_GGN;
  double ggn1 = median_ms(o->reps, run_apply, &j);

  /* the GEMM floor on the model's shapes */
  const int B = (int)(o->batch ? o->batch : o->samples);
  int dims[DEPTH + 2] = {IN, WIDTH, WIDTH, WIDTH, OUT};
  double floor_grad = 0;
  for (int l = 0; l <= DEPTH; l++) {
    int in = dims[l], out = dims[l + 1];
    double fwd = time_gemm(ctx, t, o->reps, HS_NOTRANS, HS_TRANS, B, out, in);   /* Z = A W^T */
    double dA = l ? time_gemm(ctx, t, o->reps, HS_NOTRANS, HS_NOTRANS, B, in, out) : 0; /* dA = dZ W */
    double dW = time_gemm(ctx, t, o->reps, HS_TRANS, HS_NOTRANS, out, in, B);    /* dW = dZ^T A */
    floor_grad += fwd + dA + dW;
  }
  double floor_hvp = 2 * floor_grad;
  /* card throughput for the dtype */
  const int N = 4096;
  double tflops = NAN;
  if (o->peak) {
    double big = time_gemm(ctx, t, o->reps < 5 ? o->reps : 5, HS_NOTRANS, HS_NOTRANS, N, N, N);
    tflops = 2.0 * N * N * (double)N / (big * 1e-3) / 1e12;
  }

  /* SLQ end to end on the Hessian */
  hs_linop *op = NULL;
  hs_slq_result *r = NULL;
  double slq_ms = NAN;
  if (o->slq) {
    CHECK(ctx, "linop", hs_linop_model(m, HS_CURV_HESSIAN, &op));
    hs_slq_options so = hs_slq_defaults();
    so.steps = o->steps;
    so.probes = o->probes;
    so.seed = 1;
    double t0 = bench_ms(CLOCK_MONOTONIC);
    CHECK(ctx, "slq", hs_slq_run(op, &so, &r));
    sync_be(&j);
    slq_ms = bench_ms(CLOCK_MONOTONIC) - t0;
  }

  printf("[%s] gradient                 %9.3f ms\n", dn, grad);
  printf("[%s] HVP single               %9.3f ms  (%.2f x gradient; GEMM floor %.3f ms)\n", dn, hvp1, hvp1 / grad, floor_hvp);
  printf("[%s] HVP block of %-2zu /vector  %9.3f ms  (%.2f x gradient)\n", dn, K, hvpk, hvpk / grad);
  printf("[%s] GGN single               %9.3f ms\n", dn, ggn1);
  printf("[%s] GEMM floor: gradient %.3f ms, HVP %.3f ms; %dx%dx%d GEMM %.1f TFLOP/s\n", dn, floor_grad, floor_hvp, N, N,
         N, tflops); /* nan when --no-peak */
  if (r)
    printf("[%s] SLQ %zu steps x %zu probes: %.1f ms (apply %.1f ms, reorth %.1f ms, host %.1f ms); lambda [%.6g, %.6g]\n",
           dn, o->steps, o->probes, slq_ms, r->t_apply * 1e3, r->t_reorth * 1e3, r->t_host * 1e3, r->lambda_min,
           r->lambda_max);
  result(dev, dn, "grad", grad);
  result(dev, dn, "hvp1", hvp1);
  result(dev, dn, "hvpK_per_vec", hvpk);
  result(dev, dn, "ggn1", ggn1);
  result(dev, dn, "gemm_grad_floor", floor_grad);
  result(dev, dn, "gemm_hvp_floor", floor_hvp);
  if (o->peak) result(dev, dn, "gemm4096_tflops", tflops);
  if (r) {
    result(dev, dn, "slq_total", slq_ms);
    result(dev, dn, "slq_lambda_max", r->lambda_max);
  }
  fflush(stdout);

  if (r) hs_slq_free(r);
  hs_linop_destroy(op);
  ctx->be->ops->free(ctx->be, j.V);
  ctx->be->ops->free(ctx->be, j.Y);
  ctx->be->ops->free(ctx->be, j.G);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

/* X, y and the initial parameters for bench/torch_hvp.py. */
static void export_data(const options *o, const double *X, const int32_t *labels) {
  hs_context_options co = hs_context_defaults();
  co.device = "cpu";
  hs_context *ctx = NULL;
  CHECK(ctx, "context", hs_context_create(&co, &ctx));
  char path[4096];
  size_t dims[2] = {o->samples, IN};
  snprintf(path, sizeof path, "%s/X.npy", o->export_dir);
  CHECK(ctx, "export X", hs_npy_write(ctx, path, HS_NPY_F8, X, 2, dims));
  int64_t *y = malloc(o->samples * sizeof *y);
  for (size_t i = 0; i < o->samples; i++) y[i] = labels[i];
  snprintf(path, sizeof path, "%s/y.npy", o->export_dir);
  CHECK(ctx, "export y", hs_npy_write(ctx, path, HS_NPY_I8, y, 1, dims));
  free(y);
  hs_model_spec s = bench_spec();
  hs_model *m = NULL;
  CHECK(ctx, "model", hs_model_create(ctx, &s, &m));
  CHECK(ctx, "init", hs_model_init(m, 1));
  size_t P = hs_model_num_params(m);
  double *theta = malloc(P * sizeof *theta);
  CHECK(ctx, "params", hs_model_get_params(m, theta));
  snprintf(path, sizeof path, "%s/theta.npy", o->export_dir);
  CHECK(ctx, "export theta", hs_npy_write(ctx, path, HS_NPY_F8, theta, 1, &P));
  printf("exported X.npy, y.npy, theta.npy (P = %zu) to %s\n", P, o->export_dir);
  free(theta);
  hs_model_destroy(m);
  hs_context_destroy(ctx);
}

int main(int argc, char **argv) {
  options o = {.device = "cuda", .reps = 20, .block = 8, .samples = 1024, .batch = 0, .steps = 80, .probes = 10,
               .f64 = 1, .f32 = 1, .tf32 = 0, .slq = 1, .peak = 1, .export_dir = NULL};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--tf32")) { o.tf32 = 1; continue; }
    if (!strcmp(a, "--no-slq")) { o.slq = 0; continue; }
    if (!strcmp(a, "--no-peak")) { o.peak = 0; continue; }
    if (!v) usage();
    if (!strcmp(a, "--device")) o.device = v;
    else if (!strcmp(a, "--reps")) o.reps = atoi(v);
    else if (!strcmp(a, "--block")) o.block = atoi(v);
    else if (!strcmp(a, "--samples")) o.samples = (size_t)atol(v);
    else if (!strcmp(a, "--batch")) o.batch = (size_t)atol(v);
    else if (!strcmp(a, "--steps")) o.steps = (size_t)atol(v);
    else if (!strcmp(a, "--probes")) o.probes = (size_t)atol(v);
    else if (!strcmp(a, "--export")) o.export_dir = v;
    else if (!strcmp(a, "--dtype")) {
      o.f64 = !strcmp(v, "f64") || !strcmp(v, "both");
      o.f32 = !strcmp(v, "f32") || !strcmp(v, "both");
      if (!o.f64 && !o.f32) usage();
    } else usage();
    i++;
  }
  if (o.reps < 1 || o.block < 1 || o.samples < 2 || o.steps < 1 || o.probes < 1) usage();

  double *X = malloc(o.samples * IN * sizeof *X);
  int32_t *labels = malloc(o.samples * sizeof *labels);
  hs_rng_normals(3, HS_STREAM_DATA, 0, o.samples * IN, X);
  for (size_t i = 0; i < o.samples; i++) labels[i] = (int32_t)(i % OUT);
  printf("hesspec %s gpu_bench: %d-%d-%d-%d-%d relu, cross_entropy, %zu synthetic samples, batch %zu, block %d, "
         "SLQ %zu x %zu, median of %d after warm-up%s\n",
         HS_VERSION, IN, WIDTH, WIDTH, WIDTH, OUT, o.samples, o.batch ? o.batch : o.samples, o.block, o.steps,
         o.probes, o.reps, o.tf32 ? ", TF32 allowed" : "");
  if (o.export_dir) export_data(&o, X, labels);
  if (o.f64) bench_dtype(&o, HS_F64, X, labels);
  if (o.f32) bench_dtype(&o, HS_F32, X, labels);
  free(X);
  free(labels);
  return 0;
}
