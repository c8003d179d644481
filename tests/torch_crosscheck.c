/* Cross-check against PyTorch (ctest label `torch`): for configurations covering every layer
 * kind, hesspec and an independent PyTorch float64 implementation (tests/torch/reference.py,
 * autograd double backward) must agree on the loss, the gradient, Hessian-vector products
 * (k = 1 and a block of k = 3) and Gauss-Newton products, to 1e-10 relative
 * (max abs difference / max abs reference).
 *
 * The model, data and directions are made through the C API, written to a private temporary
 * directory as the files a user would hand to both tools (spec JSON by hs_spec_to_json, the
 * safetensors checkpoint by hs_model_save with the PyTorch tensor names of DESIGN.md, X/Y/V
 * .npy), and reference.py reads those files with its own safetensors/npy readers, so the
 * file contracts are checked end to end too. Where the CLI is built, `hesspec loss`, `hesspec
 * hvp` and `hesspec hvp --ggn` run on the same files and are held to the same tolerance.
 * Without torch for /usr/bin/python3 (or $HS_TORCH_PYTHON) the suite exits 77 (skipped).
 * A failing configuration's directory is kept for diagnosis (and every one with HS_KEEP_TMP=1). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/npy.h"
#include "nn/dataset.h"
#include "support/hs_test.h"
#include "support/torch_support.h"

#define TOL 1e-10
#define K 3 /* block width of the HVP / GGN cross-check */

/* Criterion hands parameters to the test process by value (a separate process image), so
 * the struct holds no pointers: the name is inline. */
typedef struct {
  char name[48];
  int in, n_hidden, widths[4], out;
  hs_activation act;
  hs_batchnorm bn;
  int residual, bias;
  hs_loss loss;
  double wd;
  size_t n, batch; /* samples, batch size (0 = one batch) */
} xcase;

/* Every activation, both BN modes and none, residual (with and without matching widths),
 * bias on/off, both losses, weight decay, one batch and several with a short last one. */
static xcase cases[] = {
    {"relu ce bias 3 batches", 5, 3, {7, 6, 6}, 4, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY, 0, 13, 5},
    {"tanh mse bias 2 batches", 4, 2, {6, 5}, 3, HS_ACT_TANH, HS_BN_NONE, 0, 1, HS_LOSS_MSE, 0, 11, 6},
    {"linear mse no-bias one batch", 4, 3, {5, 6, 3}, 2, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_MSE, 0, 9, 0},
    {"linear ce bias residual", 3, 3, {6, 6, 6}, 4, HS_ACT_LINEAR, HS_BN_NONE, 1, 1, HS_LOSS_CROSS_ENTROPY, 0, 10, 4},
    {"relu bn-batch ce bias 3 batches", 5, 2, {7, 6}, 4, HS_ACT_RELU, HS_BN_BATCH, 0, 1, HS_LOSS_CROSS_ENTROPY, 0, 12, 5},
    {"tanh bn-batch mse residual bias", 4, 3, {6, 6, 6}, 3, HS_ACT_TANH, HS_BN_BATCH, 1, 1, HS_LOSS_MSE, 0, 14, 4},
    {"linear bn-batch ce no-bias one batch", 4, 2, {5, 5}, 3, HS_ACT_LINEAR, HS_BN_BATCH, 1, 0, HS_LOSS_CROSS_ENTROPY, 0, 8, 0},
    {"relu bn-running ce residual no-bias", 5, 3, {6, 6, 6}, 4, HS_ACT_RELU, HS_BN_RUNNING, 1, 0, HS_LOSS_CROSS_ENTROPY, 0, 11, 4},
    {"tanh bn-running mse bias", 3, 2, {5, 4}, 2, HS_ACT_TANH, HS_BN_RUNNING, 0, 1, HS_LOSS_MSE, 0, 9, 4},
    {"linear bn-running mse bias wd", 4, 1, {5}, 3, HS_ACT_LINEAR, HS_BN_RUNNING, 0, 1, HS_LOSS_MSE, 0.05, 7, 3},
    {"tanh ce residual bias wd", 4, 3, {5, 5, 5}, 3, HS_ACT_TANH, HS_BN_NONE, 1, 1, HS_LOSS_CROSS_ENTROPY, 0.1, 10, 3},
    {"relu bn-batch mse residual no-bias wd", 4, 3, {6, 6, 6}, 3, HS_ACT_RELU, HS_BN_BATCH, 1, 0, HS_LOSS_MSE, 0.02, 13, 5},
    {"relu residual widths differ mse", 4, 4, {5, 6, 6, 4}, 2, HS_ACT_RELU, HS_BN_NONE, 1, 1, HS_LOSS_MSE, 0, 10, 4},
    {"tanh bn-batch ce residual deep", 6, 4, {8, 8, 8, 8}, 5, HS_ACT_TANH, HS_BN_BATCH, 1, 1, HS_LOSS_CROSS_ENTROPY, 0, 22, 8},
    {"head only ce bias", 5, 0, {0}, 4, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY, 0, 9, 4},
    {"head only mse no-bias wd", 5, 0, {0}, 3, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_MSE, 0.3, 8, 0},
};

/* $HS_BINARY_DIR/hesspec if it exists (ctest sets HS_BINARY_DIR); 0 if not. */
static int cli_path(char *out, size_t len) {
  const char *bin = getenv("HS_BINARY_DIR");
  if (!bin || !*bin) return 0;
  snprintf(out, len, "%s/hesspec", bin);
  return access(out, X_OK) == 0;
}

ParameterizedTestParameters(torch, crosscheck) {
  return cr_make_param_array(xcase, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(xcase *c, torch, crosscheck) {
  const char *what = c->name;
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_model_spec s = hs_test_spec(c->in, c->n_hidden, c->widths, c->out, c->act, c->bn, c->residual, c->bias, c->loss);
  s.weight_decay = c->wd;
  uint64_t seed = 1000;
  for (const char *q = c->name; *q; q++) seed = seed * 31 + (unsigned char)*q; /* per config */
  hs_model *m = hs_test_model(ctx, &s, seed);
  hs_dataset *d = hs_test_data(ctx, &s, c->n, seed + 1);
  cr_assert_eq(hs_model_bind(m, d, c->batch), HS_OK, "[%s] bind: %s", what, hs_last_error(ctx));
  const size_t P = hs_model_num_params(m), N = c->n, C = (size_t)s.output_dim;

  /* hesspec */
  double loss, *grad = malloc(P * sizeof *grad), *V = hs_test_vec(K * P, seed + 2);
  double *H1 = malloc(P * sizeof *H1), *HK = malloc(K * P * sizeof *HK);
  double *G1 = malloc(P * sizeof *G1), *GK = malloc(K * P * sizeof *GK), *F = malloc(N * C * sizeof *F);
  cr_assert_eq(hs_model_loss_grad(m, &loss, grad), HS_OK, "[%s] loss_grad: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_outputs(m, F), HS_OK, "[%s] outputs: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, 1, V, H1), HS_OK, "[%s] hvp: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, K, V, HK), HS_OK, "[%s] hvp k=%d: %s", what, K, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_GGN, 1, V, G1), HS_OK, "[%s] ggn: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_GGN, K, V, GK), HS_OK, "[%s] ggn k=%d: %s", what, K, hs_last_error(ctx));

  /* the files both tools read */
  char dir[256], path[512];
  hs_torch_mkdtemp(dir, sizeof dir, "hs_torch_xcheck", what);
  char *json = hs_spec_to_json(&s);
  cr_assert(json);
  snprintf(path, sizeof path, "%s/spec.json", dir);
  hs_torch_write_text(path, json, what);
  free(json);
  char casej[64];
  snprintf(casej, sizeof casej, "{\"batch\": %zu}\n", c->batch);
  snprintf(path, sizeof path, "%s/case.json", dir);
  hs_torch_write_text(path, casej, what);
  snprintf(path, sizeof path, "%s/weights.safetensors", dir);
  cr_assert_eq(hs_model_save(m, path, HS_F64), HS_OK, "[%s] save: %s", what, hs_last_error(ctx));
  hs_torch_write_data(ctx, dir, &s, d, what);
  size_t vdims[2] = {K, P};
  snprintf(path, sizeof path, "%s/V.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, V, 2, vdims), HS_OK, "[%s] %s", what, hs_last_error(ctx));

  /* the reference */
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

  /* The same files through the command line (`hesspec loss` / `hvp` / `hvp --ggn`), when the
   * CLI is built ($HS_BINARY_DIR/hesspec, as under ctest). */
  char cli[600];
  if (cli_path(cli, sizeof cli)) {
    char common[2600], batch[48] = "";
    if (c->batch) snprintf(batch, sizeof batch, " --batch %zu", c->batch);
    snprintf(common, sizeof common,
             "--model '%s/spec.json' --weights '%s/weights.safetensors' --inputs '%s/X.npy' --targets '%s/Y.npy'%s "
             "--device cpu --threads 2 --quiet",
             dir, dir, dir, dir, batch);
    const char *runs[3][3] = {{"loss", "", "cli_grad.npy"}, {"hvp", " --vectors '%s/V.npy'", "cli_hvp.npy"},
                              {"hvp", " --vectors '%s/V.npy' --ggn", "cli_ggn.npy"}};
    double *refs[3] = {rg, rH, rG};
    size_t counts[3] = {P, K * P, K * P};
    const char *names[3] = {"CLI gradient", "CLI hvp (k=3)", "CLI hvp --ggn (k=3)"};
    for (int r = 0; r < 3; r++) {
      char extra[600], full[4200];
      snprintf(extra, sizeof extra, runs[r][1], dir);
      snprintf(full, sizeof full, "'%s' %s %s%s --out '%s/%s' 2>&1", cli, runs[r][0], common, extra, dir, runs[r][2]);
      FILE *q = popen(full, "r");
      cr_assert(q, "[%s] cannot run %s", what, full);
      char msg[2048] = "";
      size_t nr = fread(msg, 1, sizeof msg - 1, q);
      msg[nr] = 0;
      int qrc = pclose(q);
      if (qrc != 0) {
        cr_expect_eq(qrc, 0, "[%s] %s failed (status %d):\n%s", what, full, qrc, msg);
        failed = 1;
        continue;
      }
      double *got = hs_torch_read(ctx, dir, runs[r][2], counts[r], what);
      failed |= hs_torch_compare(what, names[r], got, refs[r], counts[r], TOL);
      free(got);
    }
  } else {
    cr_log_warn("[%s] hesspec CLI not found (set HS_BINARY_DIR): command-line cross-check skipped", what);
  }

  hs_torch_cleanup(dir, failed, what);
  free(rl); free(rF); free(rg); free(rH); free(rG);
  free(grad); free(V); free(H1); free(HK); free(G1); free(GK); free(F);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

/* Skipped (exit 77, as ctest's SKIP_RETURN_CODE) where the interpreter has no torch. */
int main(int argc, char *argv[]) { return hs_torch_main("torch_crosscheck", "reference.py", argc, argv); }
