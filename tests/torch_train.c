/* Training cross-check against PyTorch (ctest label `torch`): the same network, initial
 * checkpoint, data and minibatch order (hs_train_permutation, written to perm.npy) trained by
 * hesspec's trainer and by torch.optim.SGD / torch.optim.Adam with BatchNorm1d's running
 * statistics and CosineAnnealingLR (tests/torch/train_reference.py), float64. The parameters
 * and running statistics after a few epochs must agree to 1e-10 relative (max abs difference
 * / max abs reference). Minibatches include a short last one; both losses; both BN modes.
 * Skipped (exit 77) where /usr/bin/python3 (or $HS_TORCH_PYTHON) has no torch. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/npy.h"
#include "nn/model.h"
#include "support/hs_test.h"
#include "train/train.h"

#define TOL 1e-10

typedef struct {
  char name[48];
  int n_hidden, widths[3];
  hs_activation act;
  hs_batchnorm bn;
  int residual;
  hs_loss loss;
  double spec_wd;
  hs_optimizer opt;
  double lr, momentum, dampening;
  int nesterov;
  double wd;
  hs_lr_schedule schedule;
  double bn_momentum;
  size_t n, batch, epochs;
} tcase;

static tcase cases[] = {
    {"sgd momentum bn-running residual cosine", 3, {7, 7, 7}, HS_ACT_RELU, HS_BN_RUNNING, 1, HS_LOSS_CROSS_ENTROPY, 0, HS_OPT_SGD, 0.1, 0.9, 0, 0, 1e-3, HS_LR_COSINE, 0.1, 30, 8, 3},
    {"sgd nesterov tanh bn-batch spec-wd", 2, {6, 5}, HS_ACT_TANH, HS_BN_BATCH, 0, HS_LOSS_CROSS_ENTROPY, 0.02, HS_OPT_SGD, 0.2, 0.8, 0, 1, 0, HS_LR_CONSTANT, 0.25, 26, 6, 3},
    {"sgd dampening mse no-bn", 2, {6, 6}, HS_ACT_TANH, HS_BN_NONE, 1, HS_LOSS_MSE, 0, HS_OPT_SGD, 0.05, 0.5, 0.3, 0, 0.01, HS_LR_COSINE, 0.1, 25, 10, 3},
    {"adam bn-running relu wd", 2, {8, 6}, HS_ACT_RELU, HS_BN_RUNNING, 0, HS_LOSS_CROSS_ENTROPY, 0, HS_OPT_ADAM, 0.01, 0, 0, 0, 0.01, HS_LR_CONSTANT, 0.1, 30, 7, 3},
    {"adam cosine bn-batch residual mse", 3, {6, 6, 6}, HS_ACT_RELU, HS_BN_BATCH, 1, HS_LOSS_MSE, 0.01, HS_OPT_ADAM, 0.02, 0, 0, 0, 0, HS_LR_COSINE, 0.1, 29, 9, 4},
};

static const char *python(void) {
  const char *p = getenv("HS_TORCH_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

static void script_path(char *out, size_t len) {
  const char *src = getenv("HS_SOURCE_DIR");
  if (src && *src) {
    snprintf(out, len, "%s/tests/torch/train_reference.py", src);
    return;
  }
  snprintf(out, len, "%s", __FILE__);
  char *slash = strrchr(out, '/');
  if (slash) snprintf(slash + 1, len - (size_t)(slash + 1 - out), "torch/train_reference.py");
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "cannot write %s", path);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}

static int compare(const char *what, const char *quantity, const double *a, const double *ref, size_t n) {
  double num = 0, den = 0;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - ref[i]);
    if (d > num || isnan(d)) num = d, worst = i;
    den = fmax(den, fabs(ref[i]));
  }
  double rel = den > 0 ? num / den : num;
  cr_expect(rel <= TOL, "[%s] %s: relative error %.3g > %.0e (worst at %zu: hesspec %.17g, torch %.17g)", what,
            quantity, rel, TOL, worst, n ? a[worst] : 0.0, n ? ref[worst] : 0.0);
  cr_log_info("[%s] %s: relative error %.3g", what, quantity, rel);
  return !(rel <= TOL);
}

ParameterizedTestParameters(torch_train, trajectory) {
  return cr_make_param_array(tcase, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(tcase *c, torch_train, trajectory) {
  const char *what = c->name;
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  int in = 5, out = 3;
  hs_model_spec s = hs_test_spec(in, c->n_hidden, c->widths, out, c->act, c->bn, c->residual, 1, c->loss);
  s.weight_decay = c->spec_wd;
  uint64_t seed = 500;
  for (const char *q = c->name; *q; q++) seed = seed * 31 + (unsigned char)*q;
  hs_model *m = hs_test_model(ctx, &s, seed);
  hs_dataset *d = hs_test_data(ctx, &s, c->n, seed + 1);
  size_t P = hs_model_num_params(m), N = c->n;

  char dir[256], path[600];
  snprintf(dir, sizeof dir, "/tmp/hs_torch_train.XXXXXX");
  cr_assert(mkdtemp(dir));
  char *json = hs_spec_to_json(&s);
  snprintf(path, sizeof path, "%s/spec.json", dir);
  write_text(path, json);
  free(json);
  snprintf(path, sizeof path, "%s/init.safetensors", dir);
  cr_assert_eq(hs_model_save(m, path, HS_F64), HS_OK, "%s", hs_last_error(ctx));
  size_t dims[2] = {N, (size_t)in};
  snprintf(path, sizeof path, "%s/X.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, d->X, 2, dims), HS_OK, "%s", hs_last_error(ctx));
  snprintf(path, sizeof path, "%s/Y.npy", dir);
  if (s.loss == HS_LOSS_CROSS_ENTROPY) {
    cr_assert_eq(hs_npy_write(ctx, path, HS_NPY_I4, d->labels, 1, dims), HS_OK, "%s", hs_last_error(ctx));
  } else {
    dims[1] = (size_t)out;
    cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, d->targets, 2, dims), HS_OK, "%s", hs_last_error(ctx));
  }
  hs_train_options o = hs_train_defaults();
  o.optimizer = c->opt;
  o.lr = c->lr;
  o.momentum = c->momentum;
  o.dampening = c->dampening;
  o.nesterov = c->nesterov;
  o.weight_decay = c->wd;
  o.schedule = c->schedule;
  o.bn_momentum = c->bn_momentum;
  o.epochs = c->epochs;
  o.batch = c->batch;
  o.seed = seed + 2;
  /* the minibatch order of every epoch, as doubles (exact integers) */
  double *perm = malloc(c->epochs * N * sizeof *perm);
  size_t *pe = malloc(N * sizeof *pe);
  for (size_t e = 0; e < c->epochs; e++) {
    hs_train_permutation(o.seed, e, N, pe);
    for (size_t i = 0; i < N; i++) perm[e * N + i] = (double)pe[i];
  }
  size_t pdims[2] = {c->epochs, N};
  snprintf(path, sizeof path, "%s/perm.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, perm, 2, pdims), HS_OK, "%s", hs_last_error(ctx));
  char casej[600];
  snprintf(casej, sizeof casej,
           "{\"optimizer\": \"%s\", \"lr\": %.17g, \"momentum\": %.17g, \"dampening\": %.17g, \"nesterov\": %d, "
           "\"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g, \"weight_decay\": %.17g, \"schedule\": \"%s\", "
           "\"lr_min\": %.17g, \"bn_momentum\": %.17g, \"epochs\": %zu, \"batch\": %zu}\n",
           hs_optimizer_name(o.optimizer), o.lr, o.momentum, o.dampening, o.nesterov, o.beta1, o.beta2, o.eps,
           o.weight_decay, hs_lr_schedule_name(o.schedule), o.lr_min, o.bn_momentum, o.epochs, o.batch);
  snprintf(path, sizeof path, "%s/case.json", dir);
  write_text(path, casej);

  /* hesspec */
  double *theta0 = malloc(P * sizeof *theta0);
  cr_assert_eq(hs_model_get_params(m, theta0), HS_OK);
  hs_trainer *t;
  cr_assert_eq(hs_trainer_create(m, d, NULL, &o, &t), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_trainer_run(t), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  hs_trainer_destroy(t);
  double *theta = malloc(P * sizeof *theta), run[2 * 3 * 8];
  size_t nrun = 0;
  cr_assert_eq(hs_model_get_params(m, theta), HS_OK);
  for (int i = 0; c->bn != HS_BN_NONE && i < c->n_hidden; i++) {
    cr_assert_eq(hs_model_get_running(m, i, run + nrun, run + nrun + c->widths[i]), HS_OK);
    nrun += 2 * (size_t)c->widths[i];
  }

  /* PyTorch */
  char script[512], cmd[1400], text[4096] = "";
  script_path(script, sizeof script);
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", python(), script, dir);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  size_t got = fread(text, 1, sizeof text - 1, p);
  text[got] = 0;
  int rc = pclose(p);
  cr_assert_eq(rc, 0, "[%s] %s failed (status %d; files in %s):\n%s", what, cmd, rc, dir, text);
  double *rt = NULL, *rr = NULL;
  hs_npy_shape sh;
  snprintf(path, sizeof path, "%s/theta.npy", dir);
  cr_assert_eq(hs_npy_read_f64(ctx, path, 0, &rt, &sh), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(sh.dim[0], P);
  int failed = compare(what, "parameters", theta, rt, P);
  if (nrun) {
    snprintf(path, sizeof path, "%s/running.npy", dir);
    cr_assert_eq(hs_npy_read_f64(ctx, path, 0, &rr, &sh), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(sh.dim[0], nrun);
    failed |= compare(what, "running statistics", run, rr, nrun);
  }
  /* the run moved the parameters: a trivial agreement would prove nothing */
  cr_expect(hs_test_relerr(theta, theta0, P, 1e-12) > 1e-3, "[%s] training barely moved the parameters", what);
  if (failed) cr_log_warn("[%s] files kept in %s", what, dir);
  else nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(rt); free(rr); free(theta); free(theta0); free(perm); free(pe);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

int main(int argc, char *argv[]) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "'%s' -c 'import torch, numpy' >/dev/null 2>&1", python());
  if (system(cmd) != 0) {
    printf("SKIP: %s has no torch\n", python());
    return 77;
  }
  struct criterion_test_set *tests = criterion_initialize();
  int result = 0;
  if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return result;
}
