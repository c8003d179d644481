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
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "nn/model.h"
#include "support/hs_test.h"

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

static const char *python(void) {
  const char *p = getenv("HS_TORCH_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

/* tests/torch/reference.py under $HS_SOURCE_DIR (set by ctest), else next to this file. */
static void reference_path(char *out, size_t len) {
  const char *src = getenv("HS_SOURCE_DIR");
  if (src && *src) {
    snprintf(out, len, "%s/tests/torch/reference.py", src);
    return;
  }
  snprintf(out, len, "%s", __FILE__);
  char *slash = strrchr(out, '/');
  if (slash) snprintf(slash + 1, len - (size_t)(slash + 1 - out), "torch/reference.py");
  else snprintf(out, len, "tests/torch/reference.py");
}

/* $HS_BINARY_DIR/hesspec if it exists (ctest sets HS_BINARY_DIR); 0 if not. */
static int cli_path(char *out, size_t len) {
  const char *bin = getenv("HS_BINARY_DIR");
  if (!bin || !*bin) return 0;
  snprintf(out, len, "%s/hesspec", bin);
  return access(out, X_OK) == 0;
}

/* ---- files for the reference ---- */

static void write_text(const char *path, const char *text, const char *what) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "%s: cannot write %s", what, path);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0, "%s: writing %s failed", what, path);
}

/* Reads dir/name (doubles) and checks it holds `count` values. Caller frees. */
static double *read_ref(hs_context *ctx, const char *dir, const char *name, size_t count, const char *what) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  double *x = NULL;
  hs_npy_shape sh;
  cr_assert_eq(hs_npy_read_f64(ctx, path, 0, &x, &sh), HS_OK, "%s: reference output: %s", what, hs_last_error(ctx));
  size_t c = 1;
  for (int i = 0; i < sh.ndim; i++) c *= sh.dim[i];
  cr_assert_eq(c, count, "%s: %s holds %zu values, expected %zu", what, name, c, count);
  return x;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}

/* max |a - b| / max |b| (b the reference), checked against TOL; returns 1 on failure. */
static int compare(const char *what, const char *quantity, const double *a, const double *ref, size_t n) {
  double num = 0, den = 0;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - ref[i]);
    if (d > num || isnan(d)) num = d, worst = i;
    den = fmax(den, fabs(ref[i]));
  }
  double rel = den > 0 ? num / den : num;
  cr_expect(rel <= TOL, "[%s] %s: relative error %.3g > %.0e (worst at %zu: hesspec %.17g, torch %.17g; max |ref| %.3g)",
            what, quantity, rel, TOL, worst, a[worst], ref[worst], den);
  cr_log_info("[%s] %s: relative error %.3g", what, quantity, rel);
  return !(rel <= TOL);
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
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/hs_torch_xcheck.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  cr_assert(mkdtemp(dir), "[%s] mkdtemp failed", what);
  char *json = hs_spec_to_json(&s);
  cr_assert(json);
  snprintf(path, sizeof path, "%s/spec.json", dir);
  write_text(path, json, what);
  free(json);
  char casej[64];
  snprintf(casej, sizeof casej, "{\"batch\": %zu}\n", c->batch);
  snprintf(path, sizeof path, "%s/case.json", dir);
  write_text(path, casej, what);
  snprintf(path, sizeof path, "%s/weights.safetensors", dir);
  cr_assert_eq(hs_model_save(m, path, HS_F64), HS_OK, "[%s] save: %s", what, hs_last_error(ctx));
  size_t dims[2] = {N, (size_t)s.input_dim};
  snprintf(path, sizeof path, "%s/X.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, d->X, 2, dims), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  snprintf(path, sizeof path, "%s/Y.npy", dir);
  if (s.loss == HS_LOSS_CROSS_ENTROPY) {
    cr_assert_eq(hs_npy_write(ctx, path, HS_NPY_I4, d->labels, 1, dims), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  } else {
    dims[1] = C;
    cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, d->targets, 2, dims), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  }
  size_t vdims[2] = {K, P};
  snprintf(path, sizeof path, "%s/V.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, V, 2, vdims), HS_OK, "[%s] %s", what, hs_last_error(ctx));

  /* the reference */
  char ref[512], cmd[1400], out[4096] = "";
  reference_path(ref, sizeof ref);
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", python(), ref, dir);
  FILE *p = popen(cmd, "r");
  cr_assert(p, "[%s] cannot run %s", what, cmd);
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = 0;
  int rc = pclose(p);
  cr_assert_eq(rc, 0, "[%s] %s failed (status %d; files in %s):\n%s", what, cmd, rc, dir, out);

  int failed = 0;
  double *rl = read_ref(ctx, dir, "loss.npy", 1, what);
  failed |= compare(what, "loss", &loss, rl, 1);
  double *rF = read_ref(ctx, dir, "out.npy", N * C, what);
  failed |= compare(what, "network outputs", F, rF, N * C);
  double *rg = read_ref(ctx, dir, "grad.npy", P, what);
  failed |= compare(what, "gradient", grad, rg, P);
  double *rH = read_ref(ctx, dir, "hvp.npy", K * P, what);
  failed |= compare(what, "Hv (k=1)", H1, rH, P);
  failed |= compare(what, "HV (block k=3)", HK, rH, K * P);
  double *rG = read_ref(ctx, dir, "ggn.npy", K * P, what);
  failed |= compare(what, "Gv (k=1)", G1, rG, P);
  failed |= compare(what, "GV (block k=3)", GK, rG, K * P);

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
      double *got = read_ref(ctx, dir, runs[r][2], counts[r], what);
      failed |= compare(what, names[r], got, refs[r], counts[r]);
      free(got);
    }
  } else {
    cr_log_warn("[%s] hesspec CLI not found (set HS_BINARY_DIR): command-line cross-check skipped", what);
  }

  const char *keep = getenv("HS_KEEP_TMP");
  if (failed || (keep && *keep && strcmp(keep, "0"))) {
    cr_log_warn("[%s] files kept in %s", what, dir);
  } else {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  }
  free(rl); free(rF); free(rg); free(rH); free(rG);
  free(grad); free(V); free(H1); free(HK); free(G1); free(GK); free(F);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

/* Skipped (exit 77, as ctest's SKIP_RETURN_CODE) where the interpreter has no torch. */
int main(int argc, char *argv[]) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "'%s' -c 'import torch, numpy' >/dev/null 2>&1", python());
  if (system(cmd) != 0) {
    printf("SKIP: %s has no torch\n", python());
    return 77;
  }
  char ref[512];
  reference_path(ref, sizeof ref);
  if (access(ref, R_OK) != 0) {
    fprintf(stderr, "torch_crosscheck: %s not found (set HS_SOURCE_DIR to the source tree)\n", ref);
    return 1;
  }
  struct criterion_test_set *tests = criterion_initialize();
  int result = 0;
  if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return result;
}
