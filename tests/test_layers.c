/* The layer form through the engine: every layer kind alone and in small stacks, with awkward
 * shapes (kernel 3 / stride 2 / padding 1 on 7x7, 1x1 convolutions, kh != kw, pooling windows
 * that do not divide the input, batch norm over (N, C, H, W) in both modes, residual stages
 * with projection and identity shortcuts, layers whose input needs no cotangent), checked
 * against finite differences of the loss and of the gradient, for symmetry and for blocks of
 * k directions against single ones; and the MLP form against its layer-form expansion, bit for
 * bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/hs_test.h"

typedef struct {
  char name[64];
  hs_model_spec spec;
  int relu; /* piecewise linear: smaller finite-difference steps */
} config;

static hs_shape img(int c, int h, int w) { return (hs_shape){3, {c, h, w}}; }

static int configs(hs_context *ctx, config *c) {
  int n = 0;
  hs_model_spec *s;
  hs_shape in7 = img(2, 7, 7), in5 = img(2, 5, 5);
#define NEW(label, shape, loss, mode, piecewise)                  \
  snprintf(c[n].name, sizeof c[n].name, "%s", label);              \
  c[n].relu = piecewise;                                           \
  c[n].spec = hs_test_layers(&(shape), loss, mode);                \
  s = &c[n].spec;
#define DONE() hs_test_finish(ctx, s), n++

  NEW("conv k3 s2 p1 on 7x7, mse", in7, HS_LOSS_MSE, HS_BN_BATCH, 0);
  hs_test_conv(s, 3, 3, 3, 2, 1, 1);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 3, 1);
  DONE();

  NEW("conv 1x1, tanh, conv k3 p1, avgpool 2 on 7x7", in7, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH, 0);
  hs_test_conv(s, 3, 1, 1, 1, 0, 1);
  hs_test_add(s, HS_LAYER_TANH);
  hs_test_conv(s, 4, 3, 3, 1, 1, 0);
  hs_test_pool(s, HS_LAYER_AVGPOOL, 2, 2);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 3, 1);
  DONE();

  NEW("conv, relu, maxpool 3 s2 on 7x7", in7, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH, 1);
  hs_test_conv(s, 3, 3, 3, 1, 1, 1);
  hs_test_add(s, HS_LAYER_RELU);
  hs_test_pool(s, HS_LAYER_MAXPOOL, 3, 2);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 4, 1);
  DONE();

  NEW("conv kh!=kw, maxpool 2, tanh", in7, HS_LOSS_MSE, HS_BN_BATCH, 1);
  hs_layer_spec *e = hs_test_add(s, HS_LAYER_CONV2D);
  e->out = 3, e->kernel[0] = 3, e->kernel[1] = 2, e->padding[0] = 1, e->padding[1] = 0, e->stride[1] = 2;
  hs_test_pool(s, HS_LAYER_MAXPOOL, 2, 2);
  hs_test_add(s, HS_LAYER_TANH);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 2, 0);
  DONE();

  const hs_batchnorm modes[2] = {HS_BN_BATCH, HS_BN_RUNNING};
  for (int b = 0; b < 2; b++) {
    NEW(b ? "conv, bn2d running, tanh, gap" : "conv, bn2d batch, relu, gap", in5, HS_LOSS_CROSS_ENTROPY, modes[b], !b);
    hs_test_conv(s, 4, 3, 3, 1, 1, 0);
    hs_test_add(s, HS_LAYER_BATCHNORM);
    hs_test_add(s, b ? HS_LAYER_TANH : HS_LAYER_RELU);
    hs_test_add(s, HS_LAYER_GLOBAL_AVGPOOL);
    hs_test_add(s, HS_LAYER_FLATTEN);
    hs_test_linear(s, 3, 1);
    DONE();
  }

  for (int b = 0; b < 2; b++) {
    NEW(b ? "residual stage, projection shortcut, running" : "residual stage, projection shortcut, batch", in7,
        HS_LOSS_CROSS_ENTROPY, modes[b], 1);
    hs_test_conv(s, 3, 3, 3, 1, 1, 0);
    hs_test_add(s, HS_LAYER_BATCHNORM);
    hs_test_add(s, HS_LAYER_RELU);
    int r = hs_test_residual_begin(s);
    hs_test_conv(s, 4, 3, 3, 2, 1, 0);
    hs_test_add(s, HS_LAYER_BATCHNORM);
    hs_test_add(s, HS_LAYER_RELU);
    hs_test_conv(s, 4, 3, 3, 1, 1, 0);
    hs_test_add(s, HS_LAYER_BATCHNORM);
    hs_test_residual_shortcut(s, r);
    hs_test_conv(s, 4, 1, 1, 2, 0, 0);
    hs_test_add(s, HS_LAYER_BATCHNORM);
    hs_test_residual_end(s, r);
    hs_test_add(s, HS_LAYER_RELU);
    hs_test_add(s, HS_LAYER_GLOBAL_AVGPOOL);
    hs_test_add(s, HS_LAYER_FLATTEN);
    hs_test_linear(s, 3, 1);
    DONE();
  }

  NEW("identity residual of convs, tanh", in5, HS_LOSS_MSE, HS_BN_BATCH, 0);
  hs_test_conv(s, 2, 3, 3, 1, 1, 1);
  int r = hs_test_residual_begin(s);
  hs_test_conv(s, 3, 3, 3, 1, 1, 1);
  hs_test_add(s, HS_LAYER_TANH);
  hs_test_conv(s, 2, 3, 3, 1, 1, 1);
  hs_test_residual_end(s, r);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 2, 1);
  DONE();

  NEW("bn first (on the data), residual whose body starts with bn", in5, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH, 0);
  hs_test_add(s, HS_LAYER_BATCHNORM);
  hs_test_conv(s, 3, 3, 3, 1, 1, 1);
  r = hs_test_residual_begin(s);
  hs_test_add(s, HS_LAYER_BATCHNORM);
  hs_test_add(s, HS_LAYER_TANH);
  hs_test_conv(s, 3, 3, 3, 1, 1, 1);
  hs_test_residual_end(s, r);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 3, 1);
  DONE();

  NEW("avgpool on the data, then conv", in7, HS_LOSS_MSE, HS_BN_BATCH, 0);
  hs_test_pool(s, HS_LAYER_AVGPOOL, 2, 1);
  hs_test_conv(s, 3, 2, 2, 2, 0, 1);
  hs_test_add(s, HS_LAYER_TANH);
  hs_test_add(s, HS_LAYER_FLATTEN);
  hs_test_linear(s, 2, 1);
  DONE();

  hs_shape f5 = {1, {5, 0, 0}};
  NEW("features: linear, bn1d, tanh, residual of linears", f5, HS_LOSS_MSE, HS_BN_BATCH, 0);
  hs_test_linear(s, 6, 1);
  hs_test_add(s, HS_LAYER_BATCHNORM);
  hs_test_add(s, HS_LAYER_TANH);
  r = hs_test_residual_begin(s);
  hs_test_linear(s, 6, 0);
  hs_test_add(s, HS_LAYER_TANH);
  hs_test_residual_shortcut(s, r);
  hs_test_linear(s, 6, 1);
  hs_test_residual_end(s, r);
  hs_test_linear(s, 3, 1);
  DONE();
#undef NEW
#undef DONE
  return n;
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

static void step(const double *theta, const double *v, double t, double *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = theta[i] + t * v[i];
}

static const double TS[4] = {-2, -1, 1, 2}, WS[4] = {1, -8, 8, -1};

Test(layers, gradient_and_hvp_match_finite_differences) {
  config c[32];
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  int n = configs(ctx, c);
  for (int ci = 0; ci < n; ci++) {
    hs_model *m = hs_test_model(ctx, &c[ci].spec, 40 + ci);
    hs_dataset *d = hs_test_data(ctx, &c[ci].spec, 11, 70 + ci);
    cr_assert_eq(hs_model_bind(m, d, 4), HS_OK, "%s: %s", c[ci].name, hs_last_error(ctx));
    size_t P = hs_model_num_params(m);
    double *theta = malloc(P * sizeof *theta), *g = malloc(P * sizeof *g), *tp = malloc(P * sizeof *tp);
    double *hv = malloc(P * sizeof *hv), *fd = calloc(P, sizeof *fd), *gk = malloc(P * sizeof *gk);
    double *v = hs_test_vec(P, 90 + ci);
    hs_model_get_params(m, theta);
    grad_at(m, theta, g);
    cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, 1, v, hv), HS_OK, "%s: %s", c[ci].name, hs_last_error(ctx));
    /* directional derivative of the loss, 4-point stencil (error O(eps^4)); piecewise linear
     * nets: steps small enough that no unit crosses a kink */
    double eps = c[ci].relu ? 1e-6 : 1e-4, f = 0;
    for (int k = 0; k < 4; k++) {
      step(theta, v, TS[k] * eps, tp, P);
      f += WS[k] * loss_at(m, tp) / (12 * eps);
    }
    double an = hs_test_dot(g, v, P);
    cr_expect_leq(fabs(f - an), 1e-8 * fmax(1, fabs(an)), "%s: g.v %.12g vs FD %.12g", c[ci].name, an, f);
    eps = c[ci].relu ? 1e-5 : 1e-4;
    for (int k = 0; k < 4; k++) {
      step(theta, v, TS[k] * eps, tp, P);
      grad_at(m, tp, gk);
      for (size_t i = 0; i < P; i++) fd[i] += WS[k] * gk[i] / (12 * eps);
    }
    double err = hs_test_relerr(hv, fd, P, 1e-3);
    cr_expect_leq(err, 1e-7, "%s: Hv vs FD relative error %.3g", c[ci].name, err);
    cr_expect_gt(hs_test_dot(hv, hv, P), 0.0, "%s: Hv is zero", c[ci].name);
    free(theta); free(g); free(tp); free(hv); free(fd); free(gk); free(v);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
  hs_context_destroy(ctx);
}

Test(layers, symmetric_and_blocks_equal_single_vectors) {
  config c[32];
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  int n = configs(ctx, c);
  for (int ci = 0; ci < n; ci++) {
    hs_model *m = hs_test_model(ctx, &c[ci].spec, 140 + ci);
    hs_dataset *d = hs_test_data(ctx, &c[ci].spec, 9, 170 + ci);
    cr_assert_eq(hs_model_bind(m, d, 5), HS_OK, "%s: %s", c[ci].name, hs_last_error(ctx));
    size_t P = hs_model_num_params(m), k = 3;
    double *V = hs_test_vec(k * P, 190 + ci), *HB = malloc(k * P * sizeof *HB), *h1 = malloc(P * sizeof *h1);
    for (int which = 0; which < 2; which++) {
      cr_assert_eq(hs_model_hvp(m, which, k, V, HB), HS_OK, "%s: %s", c[ci].name, hs_last_error(ctx));
      for (size_t j = 0; j < k; j++) {
        cr_assert_eq(hs_model_hvp(m, which, 1, V + j * P, h1), HS_OK);
        cr_expect_leq(hs_test_relerr(HB + j * P, h1, P, 1e-12), 1e-13, "%s: block %zu != single (curv %d)",
                      c[ci].name, j, which);
      }
      double uHv = hs_test_dot(V, HB + P, P), vHu = hs_test_dot(V + P, HB, P);
      cr_expect_leq(fabs(uHv - vHu), 1e-12 * fmax(1, fabs(uHv)), "%s: u.Hv %.15g != v.Hu %.15g (curv %d)",
                    c[ci].name, uHv, vHu, which);
    }
    free(V); free(HB); free(h1);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
  hs_context_destroy(ctx);
}

/* The conv workspace split into chunks of a few samples gives the same products as one chunk
 * (to rounding: the weight gradient sums the chunks in order). */
Test(layers, conv_chunks_agree_with_one_chunk) {
  config c[32];
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  int n = configs(ctx, c), ci = 6; /* the residual stage */
  double *out[2] = {NULL, NULL};
  size_t P = 0;
  for (int pass = 0; pass < 2; pass++) {
    hs_context_options o = hs_context_defaults();
    o.device = "cpu";
    o.threads = 1;
    o.conv_mb = pass ? 1 : 512;
    hs_context *cc = NULL;
    cr_assert_eq(hs_context_create(&o, &cc), HS_OK);
    hs_model *m = hs_test_model(cc, &c[ci].spec, 3);
    hs_dataset *d = hs_test_data(cc, &c[ci].spec, 600, 4);
    cr_assert_eq(hs_model_bind(m, d, 300), HS_OK, "%s", hs_last_error(cc));
    P = hs_model_num_params(m);
    double *v = hs_test_vec(2 * P, 5);
    out[pass] = malloc(2 * P * sizeof *out[pass]);
    cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, 2, v, out[pass]), HS_OK);
    free(v);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
    hs_context_destroy(cc);
  }
  cr_expect_leq(hs_test_relerr(out[1], out[0], 2 * P, 1e-12), 1e-12, "%s: chunked conv differs", c[ci].name);
  free(out[0]); free(out[1]);
  (void)n;
  hs_context_destroy(ctx);
}

/* The MLP form and its layer-form expansion are one engine: same names, same numbers, bit
 * for bit. */
Test(layers, mlp_form_equals_its_layer_expansion_bit_for_bit) {
  static const int W3[] = {5, 6, 6};
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  const hs_activation acts[] = {HS_ACT_LINEAR, HS_ACT_RELU, HS_ACT_TANH};
  const hs_batchnorm bns[] = {HS_BN_NONE, HS_BN_BATCH, HS_BN_RUNNING};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) {
      hs_model_spec mlp = hs_test_spec(4, 3, W3, 3, acts[a], bns[b], (a + b) % 2 == 0, (a + b) % 3 != 1,
                                       b == 1 ? HS_LOSS_MSE : HS_LOSS_CROSS_ENTROPY);
      hs_model_spec *lay = malloc(sizeof *lay);
      cr_assert_eq(hs_spec_mlp_to_layers(ctx, &mlp, lay), HS_OK, "%s", hs_last_error(ctx));
      hs_model *m1 = hs_test_model(ctx, &mlp, 7), *m2 = hs_test_model(ctx, lay, 7);
      size_t P = hs_model_num_params(m1);
      cr_assert_eq(hs_model_num_params(m2), P);
      cr_assert_eq(hs_model_num_tensors(m2), hs_model_num_tensors(m1));
      for (size_t t = 0; t < hs_model_num_tensors(m1); t++)
        cr_expect_str_eq(hs_model_tensor(m2, t)->name, hs_model_tensor(m1, t)->name);
      hs_dataset *d = hs_test_data(ctx, &mlp, 10, 8);
      cr_assert_eq(hs_model_bind(m1, d, 4), HS_OK);
      cr_assert_eq(hs_model_bind(m2, d, 4), HS_OK);
      double l1, l2, *g1 = malloc(P * sizeof *g1), *g2 = malloc(P * sizeof *g2);
      double *V = hs_test_vec(2 * P, 9), *y1 = malloc(2 * P * sizeof *y1), *y2 = malloc(2 * P * sizeof *y2);
      cr_assert_eq(hs_model_loss_grad(m1, &l1, g1), HS_OK);
      cr_assert_eq(hs_model_loss_grad(m2, &l2, g2), HS_OK);
      cr_expect(l1 == l2 && memcmp(g1, g2, P * sizeof *g1) == 0, "act %d bn %d: loss or gradient differ", a, b);
      for (int which = 0; which < 2; which++) {
        cr_assert_eq(hs_model_hvp(m1, which, 2, V, y1), HS_OK);
        cr_assert_eq(hs_model_hvp(m2, which, 2, V, y2), HS_OK);
        cr_expect(memcmp(y1, y2, 2 * P * sizeof *y1) == 0, "act %d bn %d: products differ (curv %d)", a, b, which);
      }
      free(g1); free(g2); free(V); free(y1); free(y2); free(lay);
      hs_model_destroy(m1);
      hs_model_destroy(m2);
      hs_dataset_destroy(d);
    }
  hs_context_destroy(ctx);
}

/* f32 conv nets follow f64 to f32 accuracy, and are really computed in f32. */
Test(layers, f32_agrees_with_f64) {
  config c[32];
  hs_context *c64 = hs_test_ctx(HS_F64, 1), *c32 = hs_test_ctx(HS_F32, 1);
  configs(c64, c);
  const hs_model_spec *s = &c[6].spec;
  hs_model *m64 = hs_test_model(c64, s, 9), *m32 = hs_test_model(c32, s, 9);
  hs_dataset *d64 = hs_test_data(c64, s, 16, 10), *d32 = hs_test_data(c32, s, 16, 10);
  cr_assert_eq(hs_model_bind(m64, d64, 8), HS_OK);
  cr_assert_eq(hs_model_bind(m32, d32, 8), HS_OK);
  size_t P = hs_model_num_params(m64);
  double *v = hs_test_vec(P, 11), *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b), l64, l32;
  cr_assert_eq(hs_model_loss_grad(m64, &l64, a), HS_OK);
  cr_assert_eq(hs_model_loss_grad(m32, &l32, b), HS_OK);
  cr_expect_leq(fabs(l64 - l32), 1e-5 * fabs(l64), "loss f64 %.9g f32 %.9g", l64, l32);
  cr_assert_eq(hs_model_hvp(m64, HS_CURV_HESSIAN, 1, v, a), HS_OK);
  cr_assert_eq(hs_model_hvp(m32, HS_CURV_HESSIAN, 1, v, b), HS_OK);
  double err = hs_test_relerr(b, a, P, 1e-3);
  cr_expect_leq(err, 1e-3, "Hv f32 vs f64 relative error %.3g", err);
  cr_expect_gt(err, 0.0, "f32 equals f64 bit for bit: the f32 path is not f32");
  free(v); free(a); free(b);
  hs_model_destroy(m64); hs_model_destroy(m32);
  hs_dataset_destroy(d64); hs_dataset_destroy(d32);
  hs_context_destroy(c64); hs_context_destroy(c32);
}
