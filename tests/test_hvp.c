/* The HVP engine against independent references: finite differences of the loss and of the
 * gradient, symmetry, blocks vs single vectors, closed forms, f32 vs f64, GGN vs H. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "support/hs_test.h"

static const int W2[] = {6, 6};
static const int W3[] = {5, 6, 6};

typedef struct {
  const char *name;
  hs_model_spec spec;
} config;

/* Every layer kind, both losses, both BN modes, residual, with and without bias. */
static int configs(config *c) {
  int n = 0;
  const hs_activation acts[] = {HS_ACT_LINEAR, HS_ACT_RELU, HS_ACT_TANH};
  const hs_batchnorm bns[] = {HS_BN_NONE, HS_BN_BATCH, HS_BN_RUNNING};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      for (int loss = 0; loss < 2; loss++) {
        int residual = (a + b + loss) % 2, bias = (a + b) % 2 == 0 || loss;
        c[n].spec = hs_test_spec(4, 3, W3, 3, acts[a], bns[b], residual, bias, (hs_loss)loss);
        c[n].name = "mixed";
        n++;
      }
  /* no hidden layer; two-layer without bias; weight decay */
  c[n++] = (config){"head only", hs_test_spec(4, 0, NULL, 3, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY)};
  c[n] = (config){"tanh bn residual no-bias wd", hs_test_spec(4, 2, W2, 2, HS_ACT_TANH, HS_BN_BATCH, 1, 0, HS_LOSS_MSE)};
  c[n++].spec.weight_decay = 0.03;
  return n;
}

static void describe(const hs_model_spec *s, char *buf, size_t len) {
  snprintf(buf, len, "act=%d bn=%d res=%d bias=%d loss=%d hidden=%d", s->activation, s->batchnorm, s->residual,
           s->bias, s->loss, s->n_hidden);
}

static double loss_at(hs_model *m, const double *theta) {
  double L;
  cr_assert_eq(hs_model_set_params(m, theta), HS_OK);
  cr_assert_eq(hs_model_loss_grad(m, &L, NULL), HS_OK);
  return L;
}

static void grad_at(hs_model *m, const double *theta, double *g) {
  double L;
  cr_assert_eq(hs_model_set_params(m, theta), HS_OK);
  cr_assert_eq(hs_model_loss_grad(m, &L, g), HS_OK);
}

/* theta + t v */
static void step(const double *theta, const double *v, double t, double *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = theta[i] + t * v[i];
}

Test(hvp, gradient_matches_finite_differences) {
  config c[32];
  int n = configs(c);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  for (int ci = 0; ci < n; ci++) {
    char what[128];
    describe(&c[ci].spec, what, sizeof what);
    hs_model *m = hs_test_model(ctx, &c[ci].spec, 11 + ci);
    hs_dataset *d = hs_test_data(ctx, &c[ci].spec, 11, 7 + ci);
    cr_assert_eq(hs_model_bind(m, d, 4), HS_OK, "%s", hs_last_error(ctx));
    size_t P = hs_model_num_params(m);
    double *theta = malloc(P * sizeof *theta), *g = malloc(P * sizeof *g), *tp = malloc(P * sizeof *tp);
    hs_model_get_params(m, theta);
    grad_at(m, theta, g);
    /* directional derivative along random v, 4-point stencil: error O(eps^4); ReLU: eps
     * small enough that no pre-activation crosses its kink */
    double *v = hs_test_vec(P, 3 + ci), eps = c[ci].spec.activation == HS_ACT_RELU ? 1e-6 : 1e-4;
    double f[4], ts[4] = {-2, -1, 1, 2};
    for (int k = 0; k < 4; k++) {
      step(theta, v, ts[k] * eps, tp, P);
      f[k] = loss_at(m, tp);
    }
    double fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * eps);
    double an = hs_test_dot(g, v, P);
    cr_expect_leq(fabs(fd - an), 1e-8 * fmax(1, fabs(an)), "%s: g.v %.12g vs FD %.12g", what, an, fd);
    free(theta); free(g); free(tp); free(v);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
  hs_context_destroy(ctx);
}

Test(hvp, hvp_matches_finite_differences_of_the_gradient) {
  config c[32];
  int n = configs(c);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  for (int ci = 0; ci < n; ci++) {
    char what[128];
    describe(&c[ci].spec, what, sizeof what);
    hs_model *m = hs_test_model(ctx, &c[ci].spec, 21 + ci);
    hs_dataset *d = hs_test_data(ctx, &c[ci].spec, 11, 17 + ci);
    cr_assert_eq(hs_model_bind(m, d, 4), HS_OK, "%s", hs_last_error(ctx));
    size_t P = hs_model_num_params(m);
    double *theta = malloc(P * sizeof *theta), *tp = malloc(P * sizeof *tp), *hv = malloc(P * sizeof *hv);
    double *g[4], *fd = calloc(P, sizeof *fd), *v = hs_test_vec(P, 5 + ci);
    hs_model_get_params(m, theta);
    cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, 1, v, hv), HS_OK, "%s", hs_last_error(ctx));
    /* ReLU: eps small enough that no pre-activation crosses its kink on these data */
    double eps = c[ci].spec.activation == HS_ACT_RELU ? 1e-5 : 1e-4, ts[4] = {-2, -1, 1, 2}, w[4] = {1, -8, 8, -1};
    for (int k = 0; k < 4; k++) {
      g[k] = malloc(P * sizeof *g[k]);
      step(theta, v, ts[k] * eps, tp, P);
      grad_at(m, tp, g[k]);
      for (size_t i = 0; i < P; i++) fd[i] += w[k] * g[k][i] / (12 * eps);
    }
    double err = hs_test_relerr(hv, fd, P, 1e-3);
    cr_expect_leq(err, 1e-7, "%s: Hv vs FD relative error %.3g", what, err);
    for (int k = 0; k < 4; k++) free(g[k]);
    free(theta); free(tp); free(hv); free(fd); free(v);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
  hs_context_destroy(ctx);
}

Test(hvp, symmetric_and_blocks_equal_single_vectors) {
  config c[32];
  int n = configs(c);
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  for (int ci = 0; ci < n; ci++) {
    char what[128];
    describe(&c[ci].spec, what, sizeof what);
    hs_model *m = hs_test_model(ctx, &c[ci].spec, 31 + ci);
    hs_dataset *d = hs_test_data(ctx, &c[ci].spec, 9, 27 + ci);
    cr_assert_eq(hs_model_bind(m, d, 0), HS_OK, "%s", hs_last_error(ctx));
    size_t P = hs_model_num_params(m), k = 3;
    double *V = hs_test_vec(k * P, 9 + ci), *HB = malloc(k * P * sizeof *HB), *h1 = malloc(P * sizeof *h1);
    for (int which = 0; which < 2; which++) {
      cr_assert_eq(hs_model_hvp(m, which, k, V, HB), HS_OK, "%s", hs_last_error(ctx));
      for (size_t j = 0; j < k; j++) {
        cr_assert_eq(hs_model_hvp(m, which, 1, V + j * P, h1), HS_OK);
        /* same GEMM shapes per direction: agreement to a few ulps */
        cr_expect_leq(hs_test_relerr(HB + j * P, h1, P, 1e-12), 1e-13, "%s: block %zu != single (curv %d)", what, j, which);
      }
      double uHv = hs_test_dot(V, HB + P, P), vHu = hs_test_dot(V + P, HB, P);
      cr_expect_leq(fabs(uHv - vHu), 1e-12 * fmax(1, fabs(uHv)), "%s: u.Hv %.15g != v.Hu %.15g (curv %d)", what, uHv,
                    vHu, which);
    }
    free(V); free(HB); free(h1);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
  hs_context_destroy(ctx);
}

/* Linear regression: f = W x, L = 1/(2N) sum ||W x - y||^2, H = I_C (x) X^T X / N. */
Test(hvp, linear_regression_closed_form) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_model_spec s = hs_test_spec(5, 0, NULL, 3, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_MSE);
  hs_model *m = hs_test_model(ctx, &s, 1);
  size_t N = 13;
  hs_dataset *d = hs_test_data(ctx, &s, N, 2);
  cr_assert_eq(hs_model_bind(m, d, 5), HS_OK);
  double *H = hs_test_dense(m, HS_CURV_HESSIAN);
  /* the same X the helper drew */
  double *X = malloc(N * 5 * sizeof *X);
  hs_rng_normals(2, 400, 0, N * 5, X);
  size_t P = 15;
  double worst = 0;
  for (size_t r = 0; r < P; r++)
    for (size_t c = 0; c < P; c++) {
      size_t cr_ = r / 5, a = r % 5, cc = c / 5, b = c % 5;
      double xtx = 0;
      for (size_t i = 0; i < N; i++) xtx += X[i * 5 + a] * X[i * 5 + b];
      double want = cr_ == cc ? xtx / N : 0.0;
      worst = fmax(worst, fabs(H[r * P + c] - want));
    }
  cr_expect_leq(worst, 1e-14, "H differs from I (x) X^T X / N by %.3g", worst);
  free(H); free(X);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

/* Softmax cross entropy at W = 0: p = 1/C, H = (I/C - 11^T/C^2) (x) X^T X / N. */
Test(hvp, softmax_cross_entropy_at_zero) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  const size_t C = 4, D = 3, N = 10, P = C * D;
  hs_model_spec s = hs_test_spec((int)D, 0, NULL, (int)C, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(ctx, &s, 1);
  hs_dataset *d = hs_test_data(ctx, &s, N, 3);
  double zero[12] = {0};
  cr_assert_eq(hs_model_set_params(m, zero), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 4), HS_OK);
  double loss;
  cr_assert_eq(hs_model_loss_grad(m, &loss, NULL), HS_OK);
  cr_expect_leq(fabs(loss - log((double)C)), 1e-15, "loss at W=0 is %.17g, not log C", loss);
  double *H = hs_test_dense(m, HS_CURV_HESSIAN);
  double *X = malloc(N * D * sizeof *X);
  hs_rng_normals(3, 400, 0, N * D, X);
  double worst = 0;
  for (size_t r = 0; r < P; r++)
    for (size_t c = 0; c < P; c++) {
      size_t i = r / D, a = r % D, j = c / D, b = c % D;
      double xtx = 0;
      for (size_t n = 0; n < N; n++) xtx += X[n * D + a] * X[n * D + b];
      double want = ((i == j ? 1.0 / C : 0.0) - 1.0 / (C * C)) * xtx / N;
      worst = fmax(worst, fabs(H[r * P + c] - want));
    }
  cr_expect_leq(worst, 1e-15, "H differs from the closed form by %.3g", worst);
  free(H); free(X);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

/* All ReLU units dead (biases very negative): the output is the head bias alone, so only
 * the head-bias block of H is non-zero, and it equals mean_n (diag p - p p^T). */
Test(hvp, all_dead_relu_network) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_model_spec s = hs_test_spec(4, 2, W2, 3, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(ctx, &s, 4);
  hs_dataset *d = hs_test_data(ctx, &s, 8, 5);
  size_t P = hs_model_num_params(m);
  double *theta = malloc(P * sizeof *theta);
  hs_model_get_params(m, theta);
  for (size_t t = 0; t < hs_model_num_tensors(m); t++) {
    const hs_param_info *p = hs_model_tensor(m, t);
    if (strstr(p->name, "blocks.") && strstr(p->name, "linear.bias"))
      for (int j = 0; j < p->rows; j++) theta[p->offset + j] = -100.0;
  }
  cr_assert_eq(hs_model_set_params(m, theta), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 3), HS_OK);
  double *H = hs_test_dense(m, HS_CURV_HESSIAN);
  const hs_param_info *hb = hs_model_tensor(m, hs_model_num_tensors(m) - 1);
  cr_assert_str_eq(hb->name, "head.bias");
  const double *b = theta + hb->offset;
  double mx = fmax(b[0], fmax(b[1], b[2])), e[3], z = 0, p[3];
  for (int i = 0; i < 3; i++) z += e[i] = exp(b[i] - mx);
  for (int i = 0; i < 3; i++) p[i] = e[i] / z;
  for (size_t r = 0; r < P; r++)
    for (size_t c = 0; c < P; c++) {
      int in_r = r >= hb->offset, in_c = c >= hb->offset;
      if (in_r && in_c) {
        size_t i = r - hb->offset, j = c - hb->offset;
        double want = (i == j ? p[i] : 0) - p[i] * p[j];
        cr_expect_leq(fabs(H[r * P + c] - want), 1e-15, "H[%zu][%zu] = %g, want %g", r, c, H[r * P + c], want);
      } else {
        cr_expect_eq(H[r * P + c], 0.0, "H[%zu][%zu] = %g outside the head-bias block", r, c, H[r * P + c]);
      }
    }
  free(H); free(theta);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

/* With a zero residual (targets = the network's own outputs, mse) the second-order terms
 * vanish and H = G exactly (up to rounding). */
Test(hvp, gauss_newton_equals_hessian_at_zero_residual) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  const hs_activation acts[] = {HS_ACT_TANH, HS_ACT_RELU};
  for (int a = 0; a < 2; a++) {
    hs_model_spec s = hs_test_spec(4, 3, W3, 3, acts[a], a ? HS_BN_RUNNING : HS_BN_BATCH, 1, 1, HS_LOSS_MSE);
    hs_model *m = hs_test_model(ctx, &s, 6);
    size_t N = 12, P = hs_model_num_params(m);
    hs_dataset *d = hs_test_data(ctx, &s, N, 7);
    cr_assert_eq(hs_model_bind(m, d, 6), HS_OK);
    /* targets := the network's own outputs on the same inputs */
    double *F = malloc(N * 3 * sizeof *F), *X = malloc(N * 4 * sizeof *X);
    cr_assert_eq(hs_model_outputs(m, F), HS_OK, "%s", hs_last_error(ctx));
    hs_rng_normals(7, 400, 0, N * 4, X);
    hs_dataset *d2 = NULL;
    cr_assert_eq(hs_dataset_create(ctx, N, 4, X, 3, NULL, F, &d2), HS_OK);
    cr_assert_eq(hs_model_bind(m, d2, 6), HS_OK);
    double loss;
    cr_assert_eq(hs_model_loss_grad(m, &loss, NULL), HS_OK);
    cr_expect_leq(loss, 1e-28, "loss at zero residual %g", loss);
    double *V = hs_test_vec(2 * P, 8), *HV = malloc(2 * P * sizeof *HV), *GV = malloc(2 * P * sizeof *GV);
    cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, 2, V, HV), HS_OK);
    cr_assert_eq(hs_model_hvp(m, HS_CURV_GGN, 2, V, GV), HS_OK);
    double err = hs_test_relerr(HV, GV, 2 * P, 1e-12);
    cr_expect_leq(err, 1e-12, "act %d: H v and G v differ by %.3g at zero residual", a, err);
    free(F); free(X); free(V); free(HV); free(GV);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
    hs_dataset_destroy(d2);
  }
  hs_context_destroy(ctx);
}

/* f32 and f64 agree to f32 accuracy (the f32 path is a real f32 path, not a cast). */
Test(hvp, f32_agrees_with_f64) {
  hs_context *c64 = hs_test_ctx(HS_F64, 1), *c32 = hs_test_ctx(HS_F32, 1);
  hs_model_spec s = hs_test_spec(6, 3, W3, 4, HS_ACT_TANH, HS_BN_BATCH, 1, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m64 = hs_test_model(c64, &s, 9), *m32 = hs_test_model(c32, &s, 9);
  hs_dataset *d64 = hs_test_data(c64, &s, 32, 10), *d32 = hs_test_data(c32, &s, 32, 10);
  cr_assert_eq(hs_model_bind(m64, d64, 16), HS_OK);
  cr_assert_eq(hs_model_bind(m32, d32, 16), HS_OK);
  size_t P = hs_model_num_params(m64);
  double *v = hs_test_vec(P, 11), *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b), l64, l32;
  cr_assert_eq(hs_model_loss_grad(m64, &l64, a), HS_OK);
  cr_assert_eq(hs_model_loss_grad(m32, &l32, b), HS_OK);
  cr_expect_leq(fabs(l64 - l32), 1e-5 * fabs(l64), "loss f64 %.9g f32 %.9g", l64, l32);
  cr_expect_leq(hs_test_relerr(b, a, P, 1e-3), 1e-4, "gradients differ");
  cr_assert_eq(hs_model_hvp(m64, HS_CURV_HESSIAN, 1, v, a), HS_OK);
  cr_assert_eq(hs_model_hvp(m32, HS_CURV_HESSIAN, 1, v, b), HS_OK);
  double err = hs_test_relerr(b, a, P, 1e-3);
  cr_expect_leq(err, 1e-4, "Hv f32 vs f64 relative error %.3g", err);
  cr_expect_gt(err, 0.0, "f32 equals f64 bit for bit: the f32 path is not f32");
  free(v); free(a); free(b);
  hs_model_destroy(m64); hs_model_destroy(m32);
  hs_dataset_destroy(d64); hs_dataset_destroy(d32);
  hs_context_destroy(c64); hs_context_destroy(c32);
}
