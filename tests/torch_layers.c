/* The layer form against PyTorch (label torch): loss, network outputs, gradient, Hessian and
 * Gauss-Newton products (k = 1 and a block of 3) of conv nets with pooling, BatchNorm2d in
 * both modes, residual stages with projection and identity shortcuts and a ResNet-20-shaped
 * net at reduced width, each given as a layer-form JSON spec (so the parser is on the path),
 * saved through hesspec's checkpoint writer and rebuilt from those files by
 * tests/torch/reference.py (nn.Sequential, float64, double backward). Relative error
 * <= 1e-10 in the max norm. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "io/spec.h"
#include "support/hs_test.h"
#include "support/torch_support.h"

#define TOL 1e-10
#define K 3

typedef struct {
  char name[48];
  size_t n, batch;
  char spec[4096];
} lcase;

#define CONV(o, k, s, p, b) "{\"type\":\"conv2d\",\"out_channels\":" #o ",\"kernel\":" #k ",\"stride\":" #s ",\"padding\":" #p ",\"bias\":" #b "}"
#define BN "{\"type\":\"batchnorm\"}"
#define RELU "{\"type\":\"relu\"}"
#define TANH "{\"type\":\"tanh\"}"
#define FLAT "{\"type\":\"flatten\"}"
#define GAP "{\"type\":\"global_avgpool\"}"
#define LIN(o) "{\"type\":\"linear\",\"out_features\":" #o "}"
#define BLOCK(c, s) "{\"type\":\"residual\",\"body\":[" CONV(c, 3, s, 1, false) "," BN "," RELU "," CONV(c, 3, 1, 1, false) "," BN "]}," RELU
#define BLOCK_PROJ(c) "{\"type\":\"residual\",\"body\":[" CONV(c, 3, 2, 1, false) "," BN "," RELU "," CONV(c, 3, 1, 1, false) "," BN \
  "],\"shortcut\":[" CONV(c, 1, 2, 0, false) "," BN "]}," RELU

static lcase cases[] = {
    {"lenet-like, maxpool", 10, 4,
     "{\"input_shape\":[1,12,12],\"layers\":[" CONV(4, 5, 1, 2, true) "," RELU ",{\"type\":\"maxpool\",\"kernel\":2}," CONV(6, 3, 1, 0, true)
     "," RELU ",{\"type\":\"maxpool\",\"kernel\":2}," FLAT "," LIN(12) "," RELU "," LIN(10) "],\"loss\":\"cross_entropy\"}"},
    {"residual stage projection, bn batch", 10, 4,
     "{\"input_shape\":[2,7,7],\"layers\":[" CONV(3, 3, 1, 1, false) "," BN "," RELU "," BLOCK_PROJ(4) "," GAP "," FLAT "," LIN(3)
     "],\"batchnorm_mode\":\"batch\",\"loss\":\"cross_entropy\"}"},
    {"residual stage projection, bn running", 9, 4,
     "{\"input_shape\":[2,7,7],\"layers\":[" CONV(3, 3, 1, 1, false) "," BN "," RELU "," BLOCK_PROJ(4) "," GAP "," FLAT "," LIN(3)
     "],\"batchnorm_mode\":\"running\",\"loss\":\"mse\"}"},
    {"tanh convs, avgpool not dividing", 8, 3,
     "{\"input_shape\":[2,7,7],\"layers\":[" CONV(3, 1, 1, 0, true) "," TANH "," CONV(4, 3, 1, 1, true) ",{\"type\":\"avgpool\",\"kernel\":2},"
     FLAT "," LIN(3) "],\"loss\":\"mse\"}"},
    {"maxpool 3 stride 2 on 7x7", 8, 0,
     "{\"input_shape\":[2,7,7],\"layers\":[" CONV(3, 3, 1, 1, true) "," RELU ",{\"type\":\"maxpool\",\"kernel\":3,\"stride\":2}," FLAT ","
     LIN(4) "],\"loss\":\"cross_entropy\"}"},
    {"conv kh!=kw, stride and padding pairs", 7, 3,
     "{\"input_shape\":[2,7,6],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":3,\"kernel\":[3,2],\"stride\":[1,2],\"padding\":[1,0]},"
     TANH "," FLAT "," LIN(2) "],\"loss\":\"mse\",\"weight_decay\":0.01}"},
    {"bn on the data, identity residual", 10, 4,
     "{\"input_shape\":[2,5,5],\"layers\":[" BN "," CONV(3, 3, 1, 1, true) ",{\"type\":\"residual\",\"body\":[" BN "," TANH ","
     CONV(3, 3, 1, 1, true) "]}," GAP "," FLAT "," LIN(3) "],\"batchnorm_mode\":\"batch\",\"loss\":\"cross_entropy\"}"},
    {"no-bn residual with biases", 8, 4,
     "{\"input_shape\":[2,6,6],\"layers\":[" CONV(3, 3, 1, 1, true) "," RELU ",{\"type\":\"residual\",\"body\":[" CONV(3, 3, 1, 1, true) ","
     RELU "," CONV(3, 3, 1, 1, true) "]}," RELU "," FLAT "," LIN(3) "],\"loss\":\"cross_entropy\"}"},
    {"features: linear, bn1d, residual", 11, 4,
     "{\"input_shape\":[5],\"layers\":[" LIN(6) "," BN "," TANH ",{\"type\":\"residual\",\"body\":[" LIN(6) "," RELU "],\"shortcut\":["
     LIN(6) "]}," LIN(3) "],\"batchnorm_mode\":\"running\",\"loss\":\"cross_entropy\",\"weight_decay\":0.05}"},
    {"resnet-20 shape, widths 2/4/8", 6, 3,
     "{\"input_shape\":[1,8,8],\"layers\":[" CONV(2, 3, 1, 1, false) "," BN "," RELU "," BLOCK(2, 1) "," BLOCK(2, 1) "," BLOCK(2, 1) ","
     BLOCK_PROJ(4) "," BLOCK(4, 1) "," BLOCK(4, 1) "," BLOCK_PROJ(8) "," BLOCK(8, 1) "," BLOCK(8, 1) "," GAP "," FLAT "," LIN(10)
     "],\"batchnorm_mode\":\"batch\",\"loss\":\"cross_entropy\"}"},
};

ParameterizedTestParameters(torch_layers, crosscheck) {
  return cr_make_param_array(lcase, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(lcase *c, torch_layers, crosscheck) {
  const char *what = c->name;
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_model_spec *s = malloc(sizeof *s);
  cr_assert_eq(hs_spec_parse(ctx, what, c->spec, strlen(c->spec), s), HS_OK, "[%s] spec: %s", what, hs_last_error(ctx));
  uint64_t seed = 3000;
  for (const char *q = c->name; *q; q++) seed = seed * 31 + (unsigned char)*q;
  hs_model *m = hs_test_model(ctx, s, seed);
  hs_dataset *d = hs_test_data(ctx, s, c->n, seed + 1);
  cr_assert_eq(hs_model_bind(m, d, c->batch), HS_OK, "[%s] bind: %s", what, hs_last_error(ctx));
  const size_t P = hs_model_num_params(m), N = c->n, C = (size_t)s->output_dim;
  double loss, *grad = malloc(P * sizeof *grad), *V = hs_test_vec(K * P, seed + 2);
  double *H1 = malloc(P * sizeof *H1), *HK = malloc(K * P * sizeof *HK);
  double *G1 = malloc(P * sizeof *G1), *GK = malloc(K * P * sizeof *GK), *F = malloc(N * C * sizeof *F);
  cr_assert_eq(hs_model_loss_grad(m, &loss, grad), HS_OK, "[%s] loss_grad: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_outputs(m, F), HS_OK, "[%s] outputs: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, 1, V, H1), HS_OK, "[%s] hvp: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, K, V, HK), HS_OK, "[%s] hvp k: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_GGN, 1, V, G1), HS_OK, "[%s] ggn: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_GGN, K, V, GK), HS_OK, "[%s] ggn k: %s", what, hs_last_error(ctx));

  char dir[256], path[512];
  hs_torch_mkdtemp(dir, sizeof dir, "hs_torch_layers", what);
  snprintf(path, sizeof path, "%s/spec.json", dir);
  hs_torch_write_text(path, c->spec, what);
  char casej[64];
  snprintf(casej, sizeof casej, "{\"batch\": %zu}\n", c->batch);
  snprintf(path, sizeof path, "%s/case.json", dir);
  hs_torch_write_text(path, casej, what);
  snprintf(path, sizeof path, "%s/weights.safetensors", dir);
  cr_assert_eq(hs_model_save(m, path, HS_F64), HS_OK, "[%s] save: %s", what, hs_last_error(ctx));
  hs_torch_write_data(ctx, dir, s, d, what);
  size_t vdims[2] = {K, P};
  snprintf(path, sizeof path, "%s/V.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, V, 2, vdims), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  hs_torch_run("reference.py", dir, what);

  int failed = 0;
  double *rl = hs_torch_read(ctx, dir, "loss.npy", 1, what);
  failed |= hs_torch_compare(what, "loss", &loss, rl, 1, TOL);
  double *rF = hs_torch_read(ctx, dir, "out.npy", N * C, what);
  failed |= hs_torch_compare(what, "network outputs", F, rF, N * C, TOL);
  double *rg = hs_torch_read(ctx, dir, "grad.npy", P, what);
  failed |= hs_torch_compare(what, "gradient", grad, rg, P, TOL);
  double *rH = hs_torch_read(ctx, dir, "hvp.npy", K * P, what);
  failed |= hs_torch_compare(what, "Hv (k=1)", H1, rH, P, TOL);
  failed |= hs_torch_compare(what, "HV (block k=3)", HK, rH, K * P, TOL);
  double *rG = hs_torch_read(ctx, dir, "ggn.npy", K * P, what);
  failed |= hs_torch_compare(what, "Gv (k=1)", G1, rG, P, TOL);
  failed |= hs_torch_compare(what, "GV (block k=3)", GK, rG, K * P, TOL);
  hs_torch_cleanup(dir, failed, what);
  free(rl); free(rF); free(rg); free(rH); free(rG);
  free(grad); free(V); free(H1); free(HK); free(G1); free(GK); free(F); free(s);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

int main(int argc, char *argv[]) { return hs_torch_main("torch_layers", "reference.py", argc, argv); }
