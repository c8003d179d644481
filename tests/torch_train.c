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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "nn/dataset.h"
#include "support/hs_test.h"
#include "support/torch_support.h"
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
  hs_torch_mkdtemp(dir, sizeof dir, "hs_torch_train", what);
  char *json = hs_spec_to_json(&s);
  snprintf(path, sizeof path, "%s/spec.json", dir);
  hs_torch_write_text(path, json, what);
  free(json);
  snprintf(path, sizeof path, "%s/init.safetensors", dir);
  cr_assert_eq(hs_model_save(m, path, HS_F64), HS_OK, "%s", hs_last_error(ctx));
  hs_torch_write_data(ctx, dir, &s, d, what);
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
  hs_torch_write_text(path, casej, what);

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
  hs_torch_run("train_reference.py", dir, what);
  double *rt = hs_torch_read(ctx, dir, "theta.npy", P, what), *rr = NULL;
  int failed = hs_torch_compare(what, "parameters", theta, rt, P, TOL);
  if (nrun) {
    rr = hs_torch_read(ctx, dir, "running.npy", nrun, what);
    failed |= hs_torch_compare(what, "running statistics", run, rr, nrun, TOL);
  }
  /* the run moved the parameters: a trivial agreement would prove nothing */
  cr_expect(hs_test_relerr(theta, theta0, P, 1e-12) > 1e-3, "[%s] training barely moved the parameters", what);
  hs_torch_cleanup(dir, failed, what);
  free(rt); free(rr); free(theta); free(theta0); free(perm); free(pe);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

int main(int argc, char *argv[]) { return hs_torch_main("torch_train", "train_reference.py", argc, argv); }
