/* End to end on the GPU vs the CPU: the same model, parameters, data and seeds in a "cuda" and
 * a "cpu" context; loss, gradient, HVP (k = 1), block HVP (k = 5), Gauss-Newton products, the
 * exact spectrum, extremal eigenvalues and SLQ must agree. Skipped (exit 77) without a usable
 * GPU: tests/support/gpu_skip.h.
 *
 * Tolerances (max-norm relative, hs_test_relerr):
 *  - f64 loss/grad/HVP/GGN: the two backends differ only in summation order (GEMM blockings,
 *    reduction trees) on batches of <= 75 samples and widths <= 16; each output element is a
 *    sum of O(100) products, so differences are ~1e-14 of the scale; 1e-10 leaves room for the
 *    cancellation in BN backward and residual sums without hiding a wrong term (which shows up
 *    at 1e-3 or more).
 *  - f32: the same with eps = 6e-8 and the BN cancellations: 2e-3 (PyTorch's own f32 vs f64
 *    HVP differences are of this order).
 *  - exact spectrum (f64): the assembled Hessians differ by ~1e-14 relative, and Weyl's
 *    theorem bounds each eigenvalue's change by the perturbation's norm: 1e-9 of max|lambda|.
 *  - extremal Lanczos eigenvalues converged to tol 1e-9: 1e-7 of max|lambda|.
 *  - SLQ (20 steps, full reorthogonalisation): Ritz values and weights are smooth functions of
 *    the operator and the (identical, host-drawn) probes; rounding-level differences in the
 *    HVPs move them by far less than 1e-7 (nodes, relative to max|lambda|; weights, absolute).
 *    Probes must terminate at the same step. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "support/gpu_skip.h"
#include "support/hs_test.h"

typedef struct {
  hs_context *ctx;
  hs_model *m;
  hs_dataset *d;
} side;

static const int W_A[] = {16, 16};
static const int W_B[] = {12, 9};
static const int W_C[] = {8, 8, 8};

typedef struct {
  const char *name;
  hs_model_spec spec;
  size_t n, batch;
} config;

/* A conv net with every new op: conv (stride 2, padding, 1x1 projection), BatchNorm2d,
 * maxpool, a residual stage and global average pooling (the transposes of both). */
static hs_model_spec conv_spec(void) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_shape in = {3, {2, 9, 9}};
  hs_model_spec s = hs_test_layers(&in, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH);
  hs_test_conv(&s, 4, 3, 3, 1, 1, 1);
  hs_test_add(&s, HS_LAYER_RELU);
  hs_test_pool(&s, HS_LAYER_MAXPOOL, 2, 1);
  int r = hs_test_residual_begin(&s);
  hs_test_conv(&s, 6, 3, 3, 2, 1, 0);
  hs_test_add(&s, HS_LAYER_BATCHNORM);
  hs_test_add(&s, HS_LAYER_TANH);
  hs_test_conv(&s, 6, 3, 3, 1, 1, 0);
  hs_test_residual_shortcut(&s, r);
  hs_test_conv(&s, 6, 1, 1, 2, 0, 0);
  hs_test_add(&s, HS_LAYER_BATCHNORM);
  hs_test_residual_end(&s, r);
  hs_test_add(&s, HS_LAYER_GLOBAL_AVGPOOL);
  hs_test_add(&s, HS_LAYER_FLATTEN);
  hs_test_linear(&s, 5, 1);
  hs_test_finish(ctx, &s);
  hs_context_destroy(ctx);
  return s;
}

static config config_of(int i) {
  switch (i) {
  case 3: return (config){"conv residual bn2d maxpool ce", conv_spec(), 40, 16};
  case 0: return (config){"relu bn-batch residual ce", hs_test_spec(7, 2, W_A, 5, HS_ACT_RELU, HS_BN_BATCH, 1, 1, HS_LOSS_CROSS_ENTROPY), 75, 32};
  case 1: return (config){"tanh bn-running mse", hs_test_spec(6, 2, W_B, 3, HS_ACT_TANH, HS_BN_RUNNING, 0, 1, HS_LOSS_MSE), 50, 0};
  default: return (config){"linear no-bias ce", hs_test_spec(5, 3, W_C, 4, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_CROSS_ENTROPY), 40, 16};
  }
}

static side open_side(const char *device, hs_dtype t, const config *c, uint64_t seed) {
  side s = {0};
  hs_context_options o = hs_context_defaults();
  o.device = device;
  o.dtype = t;
  o.threads = 2;
  o.tf32 = 0;
  hs_status st = hs_context_create(&o, &s.ctx);
  cr_assert_eq(st, HS_OK, "%s context: %s", device, s.ctx ? hs_last_error(s.ctx) : "no memory");
  cr_assert_str_eq(hs_backend_name(s.ctx), device, "asked for %s, got %s", device, hs_backend_name(s.ctx));
  s.m = hs_test_model(s.ctx, &c->spec, seed);   /* parameters drawn on the host: identical */
  s.d = hs_test_data(s.ctx, &c->spec, c->n, seed + 1);
  st = hs_model_bind(s.m, s.d, c->batch);
  cr_assert_eq(st, HS_OK, "%s bind: %s", device, hs_last_error(s.ctx));
  return s;
}

static void close_side(side *s) {
  hs_model_destroy(s->m);
  hs_dataset_destroy(s->d);
  hs_context_destroy(s->ctx);
}

static void compare_model(const config *c, hs_dtype t, double tol) {
  side g = open_side("cuda", t, c, 11), h = open_side("cpu", t, c, 11);
  size_t P = hs_model_num_params(h.m);
  const char *dt = hs_dtype_name(t);
  /* loss and gradient */
  double lg, lh, *gg = malloc(P * sizeof *gg), *gh = malloc(P * sizeof *gh);
  cr_assert_eq(hs_model_loss_grad(g.m, &lg, gg), HS_OK, "%s: cuda loss_grad: %s", c->name, hs_last_error(g.ctx));
  cr_assert_eq(hs_model_loss_grad(h.m, &lh, gh), HS_OK, "%s: cpu loss_grad: %s", c->name, hs_last_error(h.ctx));
  cr_assert(fabs(lg - lh) <= tol * fabs(lh), "%s %s: loss %.17g (cuda) vs %.17g (cpu)", c->name, dt, lg, lh);
  double e = hs_test_relerr(gg, gh, P, 1e-30);
  cr_assert(e <= tol, "%s %s: gradient rel err %.3g > %.3g", c->name, dt, e, tol);
  /* HVP k = 1 and block k = 5; GGN k = 3 */
  const size_t K = 5;
  double *V = hs_test_vec(K * P, 99), *Yg = malloc(K * P * sizeof *Yg), *Yh = malloc(K * P * sizeof *Yh);
  double *Y1 = malloc(P * sizeof *Y1);
  for (int which = 0; which < 2; which++) {
    const char *wn = which == HS_CURV_HESSIAN ? "HVP" : "GGN";
    size_t k = which == HS_CURV_HESSIAN ? K : 3;
    cr_assert_eq(hs_model_hvp(g.m, (hs_curvature)which, k, V, Yg), HS_OK, "cuda %s: %s", wn, hs_last_error(g.ctx));
    cr_assert_eq(hs_model_hvp(h.m, (hs_curvature)which, k, V, Yh), HS_OK, "cpu %s: %s", wn, hs_last_error(h.ctx));
    e = hs_test_relerr(Yg, Yh, k * P, 1e-30);
    cr_assert(e <= tol, "%s %s: block %s (k=%zu) rel err %.3g > %.3g", c->name, dt, wn, k, e, tol);
    /* k = 1 on the GPU against the CPU's block result (and so against the GPU block) */
    cr_assert_eq(hs_model_hvp(g.m, (hs_curvature)which, 1, V + P, Y1), HS_OK, "cuda %s k=1: %s", wn, hs_last_error(g.ctx));
    e = hs_test_relerr(Y1, Yh + P, P, 1e-30);
    cr_assert(e <= tol, "%s %s: %s k=1 rel err %.3g > %.3g", c->name, dt, wn, e, tol);
  }
  free(gg);
  free(gh);
  free(V);
  free(Yg);
  free(Yh);
  free(Y1);
  close_side(&g);
  close_side(&h);
}

Test(gpu_end_to_end, hvp_f64) {
  for (int i = 0; i < 4; i++) {
    config c = config_of(i);
    compare_model(&c, HS_F64, 1e-10);
  }
}

Test(gpu_end_to_end, hvp_f32) {
  for (int i = 0; i < 4; i++) {
    config c = config_of(i);
    compare_model(&c, HS_F32, 2e-3);
  }
}

static double max_abs(const double *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

Test(gpu_end_to_end, eig_exact_and_extremal) {
  config c = config_of(0);
  side g = open_side("cuda", HS_F64, &c, 5), h = open_side("cpu", HS_F64, &c, 5);
  hs_linop *og = NULL, *oh = NULL;
  cr_assert_eq(hs_linop_model(g.m, HS_CURV_HESSIAN, &og), HS_OK, "cuda linop: %s", hs_last_error(g.ctx));
  cr_assert_eq(hs_linop_model(h.m, HS_CURV_HESSIAN, &oh), HS_OK, "cpu linop: %s", hs_last_error(h.ctx));
  hs_eig_result *rg = NULL, *rh = NULL;
  cr_assert_eq(hs_eig_exact(og, 0, 0, &rg), HS_OK, "cuda exact eig: %s", hs_last_error(g.ctx));
  cr_assert_eq(hs_eig_exact(oh, 0, 0, &rh), HS_OK, "cpu exact eig: %s", hs_last_error(h.ctx));
  cr_assert_eq(rg->found, rh->found);
  double scale = max_abs(rh->values, rh->found);
  for (size_t i = 0; i < rh->found; i++)
    cr_assert(fabs(rg->values[i] - rh->values[i]) <= 1e-9 * scale, "exact eigenvalue %zu: %.17g (cuda) vs %.17g (cpu)",
              i, rg->values[i], rh->values[i]);
  hs_eig_free(rg);
  hs_eig_free(rh);

  hs_eig_options eo = {.which = HS_EIG_TOP, .count = 3, .tol = 0, .max_steps = 0, .seed = 3, .want_vectors = 0};
  cr_assert_eq(hs_eig_extremal(og, &eo, &rg), HS_OK, "cuda top-3: %s", hs_last_error(g.ctx));
  cr_assert_eq(hs_eig_extremal(oh, &eo, &rh), HS_OK, "cpu top-3: %s", hs_last_error(h.ctx));
  /* which pairs pass the convergence test can differ at the margin; the largest ones must
   * be there and agree (values ascending: align from the top) */
  cr_assert(rg->found >= 1 && rh->found >= 1, "top-3 found %zu (cuda), %zu (cpu)", rg->found, rh->found);
  size_t nf = rg->found < rh->found ? rg->found : rh->found;
  for (size_t i = 0; i < nf; i++) {
    double a = rg->values[rg->found - 1 - i], b = rh->values[rh->found - 1 - i];
    cr_assert(fabs(a - b) <= 1e-7 * scale, "top eigenvalue %zu: %.17g (cuda) vs %.17g (cpu)", i, a, b);
  }
  hs_eig_free(rg);
  hs_eig_free(rh);
  hs_linop_destroy(og);
  hs_linop_destroy(oh);
  close_side(&g);
  close_side(&h);
}

Test(gpu_end_to_end, slq) {
  config c = config_of(1);
  side g = open_side("cuda", HS_F64, &c, 8), h = open_side("cpu", HS_F64, &c, 8);
  hs_linop *og = NULL, *oh = NULL;
  cr_assert_eq(hs_linop_model(g.m, HS_CURV_HESSIAN, &og), HS_OK, "cuda linop: %s", hs_last_error(g.ctx));
  cr_assert_eq(hs_linop_model(h.m, HS_CURV_HESSIAN, &oh), HS_OK, "cpu linop: %s", hs_last_error(h.ctx));
  hs_slq_options so = hs_slq_defaults();
  so.steps = 20;
  so.probes = 4;
  so.seed = 7;
  hs_slq_result *rg = NULL, *rh = NULL;
  cr_assert_eq(hs_slq_run(og, &so, &rg), HS_OK, "cuda slq: %s", hs_last_error(g.ctx));
  cr_assert_eq(hs_slq_run(oh, &so, &rh), HS_OK, "cpu slq: %s", hs_last_error(h.ctx));
  double scale = fmax(fabs(rh->lambda_min), fabs(rh->lambda_max));
  for (size_t p = 0; p < so.probes; p++) {
    cr_assert_eq(rg->count[p], rh->count[p], "probe %zu: %zu nodes (cuda) vs %zu (cpu)", p, rg->count[p], rh->count[p]);
    for (size_t i = 0; i < rh->count[p]; i++) {
      size_t j = p * rh->steps + i;
      cr_assert(fabs(rg->nodes[j] - rh->nodes[j]) <= 1e-7 * scale, "probe %zu node %zu: %.17g vs %.17g", p, i,
                rg->nodes[j], rh->nodes[j]);
      cr_assert(fabs(rg->weights[j] - rh->weights[j]) <= 1e-7, "probe %zu weight %zu: %.17g vs %.17g", p, i,
                rg->weights[j], rh->weights[j]);
    }
  }
  cr_assert(fabs(rg->trace - rh->trace) <= 1e-9 * fmax(fabs(rh->trace), scale), "trace %.17g vs %.17g", rg->trace, rh->trace);
  cr_assert(fabs(rg->integral - 1) < 1e-3, "cuda density integrates to %g", rg->integral);
  hs_slq_free(rg);
  hs_slq_free(rh);
  hs_linop_destroy(og);
  hs_linop_destroy(oh);
  close_side(&g);
  close_side(&h);
}

int main(int argc, char *argv[]) { return hs_test_gpu_main("gpu_end_to_end", argc, argv); }
