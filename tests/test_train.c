/* Training (src/train): the loss falls on a separable set; full-batch trajectories of SGD
 * (momentum, dampening, Nesterov, weight decay) and Adam equal an independent host
 * implementation of PyTorch's update rules driven by the engine's gradient; BatchNorm running
 * statistics follow PyTorch's rule (momentum, unbiased variance) recomputed on the host from
 * the inputs; checkpoints round-trip bit-exactly; a resumed run equals an uninterrupted one
 * bit for bit; divergence stops with HS_E_NUMERIC and keeps the last checkpoint; bad options
 * are refused by name. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/context.h"
#include "core/rng.h"
#include "io/datasets.h"
#include "nn/dataset.h"
#include "nn/engine.h"
#include "support/hs_test.h"
#include "train/train.h"

static char tmpdir[256];

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hs_train_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}
static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) {}
}
TestSuite(train, .init = setup, .fini = teardown);

#define OK(ctx, call) cr_assert_eq((call), HS_OK, "%s: %s", #call, hs_last_error(ctx))

/* Samples [first, first + n) of the mixture of this seed (the class means depend on the
 * seed only, so disjoint ranges are a train/test split of one distribution). */
static hs_dataset *mixture_at(hs_context *ctx, size_t first, size_t n, int dim, int classes, double sep, uint64_t seed) {
  hs_data d;
  OK(ctx, hs_data_mixture(ctx, first + n, dim, classes, sep, seed, &d));
  hs_dataset *ds;
  OK(ctx, hs_dataset_create(ctx, n, d.input_dim, d.X + first * (size_t)dim, d.output_dim, d.labels + first, NULL, &ds));
  hs_data_free(&d);
  return ds;
}
static hs_dataset *mixture(hs_context *ctx, size_t n, int dim, int classes, double sep, uint64_t seed) {
  return mixture_at(ctx, 0, n, dim, classes, sep, seed);
}

/* ---- the loss falls on a separable set ---- */

static void loss_falls(hs_optimizer opt, double lr, hs_batchnorm bn) {
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  int w[2] = {16, 16};
  hs_model_spec s = hs_test_spec(8, 2, w, 3, HS_ACT_RELU, bn, 1, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m;
  OK(ctx, hs_model_create(ctx, &s, &m));
  OK(ctx, hs_model_init(m, 7));
  hs_dataset *tr = mixture(ctx, 300, 8, 3, 6.0, 1), *te = mixture_at(ctx, 300, 120, 8, 3, 6.0, 1);
  OK(ctx, hs_model_bind(m, tr, 0));
  double l0, l1, acc;
  OK(ctx, hs_model_loss_grad(m, &l0, NULL));
  hs_train_options o = hs_train_defaults();
  o.optimizer = opt;
  o.lr = lr;
  o.epochs = 15;
  o.batch = 32;
  o.seed = 3;
  hs_trainer *t;
  OK(ctx, hs_trainer_create(m, tr, te, &o, &t));
  OK(ctx, hs_trainer_run(t));
  cr_assert_eq(hs_trainer_num_epochs(t), 15);
  const hs_train_epoch *last = hs_trainer_epoch(t, 14);
  OK(ctx, hs_model_bind(m, tr, 0));
  OK(ctx, hs_model_loss_grad(m, &l1, NULL));
  OK(ctx, hs_model_accuracy(m, &acc));
  cr_assert(l1 < 0.1 * l0, "loss %g -> %g", l0, l1);
  cr_assert(acc > 0.97, "train accuracy %g", acc);
  cr_assert(last->test_accuracy > 0.9, "test accuracy %g", last->test_accuracy);
  cr_assert(hs_trainer_epoch(t, 0)->loss > last->loss);
  hs_trainer_destroy(t);
  hs_dataset_destroy(tr);
  hs_dataset_destroy(te);
  hs_model_destroy(m);
  hs_context_destroy(ctx);
}

Test(train, sgd_lowers_the_loss) { loss_falls(HS_OPT_SGD, 0.05, HS_BN_NONE); }
Test(train, adam_lowers_the_loss_with_batchnorm) { loss_falls(HS_OPT_ADAM, 0.01, HS_BN_RUNNING); }

/* ---- full-batch trajectories against a host implementation of PyTorch's rules ---- */

typedef struct {
  hs_model *ref;   /* the same model, for gradients at host-chosen parameters */
  double **theta;  /* params after each epoch, recorded by the hook */
  double **rmean, **rvar;
  size_t P, nrun;
} recorder;

static hs_status record(void *user, hs_model *m, const hs_train_epoch *r) {
  recorder *rc = user;
  rc->theta[r->epoch] = malloc(rc->P * sizeof(double));
  hs_model_get_params(m, rc->theta[r->epoch]);
  if (rc->nrun) {
    rc->rmean[r->epoch] = malloc(rc->nrun * sizeof(double));
    rc->rvar[r->epoch] = malloc(rc->nrun * sizeof(double));
    hs_model_get_running(m, 0, rc->rmean[r->epoch], rc->rvar[r->epoch]);
  }
  return HS_OK;
}

/* grad of the spec's loss (data + spec weight decay) at theta, over all samples */
static void host_grad(hs_context *ctx, hs_model *ref, const double *theta, double *g) {
  OK(ctx, hs_model_set_params(ref, theta));
  double l;
  OK(ctx, hs_model_loss_grad(ref, &l, g));
}

static void trajectory_case(hs_train_options o, double spec_wd, hs_batchnorm bn) {
  enum { E = 6 };
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  int w[2] = {6, 5};
  hs_model_spec s = hs_test_spec(4, 2, w, 3, HS_ACT_TANH, bn, 0, 1, HS_LOSS_CROSS_ENTROPY);
  s.weight_decay = spec_wd;
  hs_model *m = hs_test_model(ctx, &s, 11), *ref = hs_test_model(ctx, &s, 11);
  hs_dataset *tr = hs_test_data(ctx, &s, 24, 5);
  OK(ctx, hs_model_bind(ref, tr, 0));
  size_t P = hs_model_num_params(m);
  double *th[E + 1] = {0}, *rm[E + 1] = {0}, *rv[E + 1] = {0};
  recorder rc = {.ref = ref, .theta = th, .rmean = rm, .rvar = rv, .P = P, .nrun = 0};
  o.epochs = E;
  o.batch = 24; /* full batch: the shuffle only reorders the sum */
  hs_trainer *t;
  OK(ctx, hs_trainer_create(m, tr, NULL, &o, &t));
  hs_trainer_set_hook(t, record, &rc);
  OK(ctx, hs_trainer_run(t));

  double *x = malloc(P * sizeof *x), *g = malloc(P * sizeof *g), *b1 = calloc(P, sizeof *b1),
         *b2 = calloc(P, sizeof *b2);
  memcpy(x, th[0], P * sizeof *x);
  double wd = o.weight_decay + spec_wd;
  for (int e = 0; e < E; e++) {
    double lr = hs_train_lr_at(&o, (size_t)e);
    host_grad(ctx, ref, x, g); /* includes spec_wd * x */
    for (size_t i = 0; i < P; i++) {
      double gi = g[i] + o.weight_decay * x[i]; /* torch: grad.add(param, alpha=wd) */
      if (o.optimizer == HS_OPT_SGD) {
        if (o.momentum != 0) {
          b1[i] = e == 0 ? gi : o.momentum * b1[i] + (1 - o.dampening) * gi;
          gi = o.nesterov ? gi + o.momentum * b1[i] : b1[i];
        }
        x[i] -= lr * gi;
      } else {
        int st = e + 1;
        b1[i] = o.beta1 * b1[i] + (1 - o.beta1) * gi;
        b2[i] = o.beta2 * b2[i] + (1 - o.beta2) * gi * gi;
        double bc1 = 1 - pow(o.beta1, st), bc2 = 1 - pow(o.beta2, st);
        x[i] -= lr / bc1 * b1[i] / (sqrt(b2[i]) / sqrt(bc2) + o.eps);
      }
    }
    double err = hs_test_relerr(th[e + 1], x, P, 1e-12);
    cr_assert(err < 1e-10, "%s epoch %d: relative error %g against the host rule", hs_optimizer_name(o.optimizer), e + 1, err);
    memcpy(x, th[e + 1], P * sizeof *x); /* no drift: compare step by step */
  }
  (void)wd;
  for (int e = 0; e <= E; e++) free(th[e]);
  free(x); free(g); free(b1); free(b2);
  hs_trainer_destroy(t);
  hs_dataset_destroy(tr);
  hs_model_destroy(m);
  hs_model_destroy(ref);
  hs_context_destroy(ctx);
}

Test(train, sgd_momentum_matches_pytorch_rule) {
  hs_train_options o = hs_train_defaults();
  o.lr = 0.1; o.momentum = 0.9; o.weight_decay = 0.01;
  trajectory_case(o, 0.0, HS_BN_NONE);
}
Test(train, sgd_dampening_spec_decay_cosine) {
  hs_train_options o = hs_train_defaults();
  o.lr = 0.2; o.momentum = 0.5; o.dampening = 0.3; o.schedule = HS_LR_COSINE; o.lr_min = 0.01;
  trajectory_case(o, 0.05, HS_BN_BATCH);
}
Test(train, sgd_nesterov_and_plain) {
  hs_train_options o = hs_train_defaults();
  o.lr = 0.1; o.momentum = 0.8; o.nesterov = 1;
  trajectory_case(o, 0.0, HS_BN_NONE);
  o.momentum = 0; o.nesterov = 0;
  trajectory_case(o, 0.0, HS_BN_NONE);
}
Test(train, adam_matches_pytorch_rule) {
  hs_train_options o = hs_train_defaults();
  o.optimizer = HS_OPT_ADAM; o.lr = 0.01; o.momentum = 0; o.weight_decay = 0.02;
  trajectory_case(o, 0.0, HS_BN_BATCH);
}

Test(train, cosine_schedule_closed_form) {
  hs_train_options o = hs_train_defaults();
  o.schedule = HS_LR_COSINE; o.lr = 0.1; o.lr_min = 0.001; o.epochs = 4;
  cr_assert_float_eq(hs_train_lr_at(&o, 0), 0.1, 1e-15);
  cr_assert_float_eq(hs_train_lr_at(&o, 2), 0.0505, 1e-15);
  cr_assert_float_eq(hs_train_lr_at(&o, 4), 0.001, 1e-15);
}

/* ---- BatchNorm running statistics: PyTorch's rule on the host ---- */

/* Block 0's batch statistics over all n samples at theta: Z = X W^T + b, per-column mean and
 * UNBIASED variance (what BatchNorm1d puts into running_var). */
static void block0_stats(const hs_model *m, const double *theta, const double *X, size_t n,
                         double *mean, double *var) {
  const hs_param_info *W = hs_model_tensor(m, 0), *b = hs_model_tensor(m, 1);
  int out = W->rows, in = W->cols;
  for (int c = 0; c < out; c++) {
    double s = 0, ss = 0;
    double *z = malloc(n * sizeof *z);
    for (size_t r = 0; r < n; r++) {
      double acc = theta[b->offset + c];
      for (int k = 0; k < in; k++) acc += X[r * in + k] * theta[W->offset + (size_t)c * in + k];
      z[r] = acc;
      s += acc;
    }
    mean[c] = s / (double)n;
    for (size_t r = 0; r < n; r++) ss += (z[r] - mean[c]) * (z[r] - mean[c]);
    var[c] = ss / (double)(n - 1);
    free(z);
  }
}

static void bn_rule_case(hs_dtype dt, double mom, double tol) {
  enum { E = 3, N = 20 };
  hs_context *ctx = hs_test_ctx(dt, 2);
  int w[2] = {7, 5};
  hs_model_spec s = hs_test_spec(4, 2, w, 3, HS_ACT_RELU, HS_BN_RUNNING, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(ctx, &s, 21);
  hs_dataset *tr = hs_test_data(ctx, &s, N, 9);
  double *X = malloc(N * 4 * sizeof *X); /* the inputs hs_test_data drew */
  hs_rng_normals(9, 400, 0, N * 4, X);
  size_t P = hs_model_num_params(m);
  double *th[E + 1] = {0}, *rm[E + 1] = {0}, *rv[E + 1] = {0};
  recorder rc = {.ref = NULL, .theta = th, .rmean = rm, .rvar = rv, .P = P, .nrun = 7};
  hs_train_options o = hs_train_defaults();
  o.lr = 0.3; o.epochs = E; o.batch = N; o.bn_momentum = mom;
  hs_trainer *t;
  OK(ctx, hs_trainer_create(m, tr, NULL, &o, &t));
  hs_trainer_set_hook(t, record, &rc);
  OK(ctx, hs_trainer_run(t));
  double mean[7], var[7];
  for (int e = 0; e < E; e++) {
    block0_stats(m, th[e], X, N, mean, var);
    for (int c = 0; c < 7; c++) {
      double em = (1 - mom) * rm[e][c] + mom * mean[c], ev = (1 - mom) * rv[e][c] + mom * var[c];
      cr_assert(fabs(rm[e + 1][c] - em) <= tol * (1 + fabs(em)), "%s epoch %d running_mean[%d] %.17g, rule %.17g",
                hs_dtype_name(dt), e + 1, c, rm[e + 1][c], em);
      cr_assert(fabs(rv[e + 1][c] - ev) <= tol * (1 + fabs(ev)), "%s epoch %d running_var[%d] %.17g, rule %.17g",
                hs_dtype_name(dt), e + 1, c, rv[e + 1][c], ev);
    }
  }
  for (int e = 0; e <= E; e++) { free(th[e]); free(rm[e]); free(rv[e]); }
  free(X);
  hs_trainer_destroy(t);
  hs_dataset_destroy(tr);
  hs_model_destroy(m);
  hs_context_destroy(ctx);
}

Test(train, bn_running_stats_follow_pytorch_rule) {
  bn_rule_case(HS_F64, 0.1, 1e-12);
  bn_rule_case(HS_F64, 0.37, 1e-12);
  bn_rule_case(HS_F32, 0.1, 1e-5);
}

/* The op alone on one batch, including a column of zero variance (rstd = 1/sqrt(eps)). */
Test(train, bn_running_update_op) {
  hs_backend *be;
  cr_assert_eq(hs_cpu_backend_create(1, &be), HS_OK);
  double mean[3] = {0.5, -1, 2}, var_b[3] = {0.25, 3.0, 0.0}, rstd[3], rm[3] = {0.1, 0.2, 0.3}, rv[3] = {1, 2, 3};
  for (int c = 0; c < 3; c++) rstd[c] = 1 / sqrt(var_b[c] + HS_BN_EPS);
  double *d[4];
  double *h[4] = {mean, rstd, rm, rv};
  for (int k = 0; k < 4; k++) {
    cr_assert_eq(be->ops->alloc(be, 3 * sizeof(double), (void **)&d[k]), HS_OK);
    cr_assert_eq(be->ops->upload(be, d[k], h[k], 3 * sizeof(double)), HS_OK);
  }
  cr_assert_eq(be->ops->bn_running_update(be, HS_F64, 8, 3, 0.1, d[0], d[1], d[2], d[3]), HS_OK);
  double orm[3], orv[3];
  be->ops->download(be, orm, d[2], sizeof orm);
  be->ops->download(be, orv, d[3], sizeof orv);
  for (int c = 0; c < 3; c++) {
    cr_assert_float_eq(orm[c], 0.9 * rm[c] + 0.1 * mean[c], 1e-15);
    cr_assert_float_eq(orv[c], 0.9 * rv[c] + 0.1 * var_b[c] * 8.0 / 7.0, 1e-10);
  }
  cr_assert_eq(be->ops->bn_running_update(be, HS_F64, 1, 3, 0.1, d[0], d[1], d[2], d[3]), HS_E_INVALID);
  for (int k = 0; k < 4; k++) be->ops->free(be, d[k]);
  be->ops->destroy(be);
}

/* ---- checkpoints and resume ---- */

static hs_model *bn_model(hs_context *ctx, hs_model_spec *s) {
  static const int w[3] = {9, 9, 9};
  *s = hs_test_spec(6, 3, w, 4, HS_ACT_RELU, HS_BN_BATCH, 1, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m;
  OK(ctx, hs_model_create(ctx, s, &m));
  OK(ctx, hs_model_init(m, 5));
  return m;
}

static void state_of(hs_model *m, double *theta, double *run) {
  OK(hs_model_context(m), hs_model_get_params(m, theta));
  for (int i = 0; i < 3; i++) OK(hs_model_context(m), hs_model_get_running(m, i, run + 18 * i, run + 18 * i + 9));
}

Test(train, checkpoint_round_trips_bit_exactly) {
  for (int k = 0; k < 2; k++) {
    hs_dtype dt = k ? HS_F32 : HS_F64;
    hs_context *ctx = hs_test_ctx(dt, 2);
    hs_model_spec s;
    hs_model *a = bn_model(ctx, &s), *b = bn_model(ctx, &s);
    hs_dataset *tr = mixture(ctx, 90, 6, 4, 3.0, 4);
    hs_train_options o = hs_train_defaults();
    o.epochs = 2; o.batch = 16; o.lr = 0.05;
    hs_trainer *t;
    OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
    OK(ctx, hs_trainer_run(t));
    char path[400];
    snprintf(path, sizeof path, "%s/ck%d.safetensors", tmpdir, k);
    OK(ctx, hs_model_save(a, path, dt));
    OK(ctx, hs_model_load(b, path));
    size_t P = hs_model_num_params(a);
    double *ta = malloc(P * 8), *tb = malloc(P * 8), ra[54], rb[54];
    state_of(a, ta, ra);
    state_of(b, tb, rb);
    cr_assert(memcmp(ta, tb, P * 8) == 0, "%s parameters differ after the round trip", hs_dtype_name(dt));
    cr_assert(memcmp(ra, rb, sizeof ra) == 0, "%s running statistics differ after the round trip", hs_dtype_name(dt));
    free(ta); free(tb);
    hs_trainer_destroy(t);
    hs_dataset_destroy(tr);
    hs_model_destroy(a);
    hs_model_destroy(b);
    hs_context_destroy(ctx);
  }
}

static void resume_case(hs_dtype dt, hs_optimizer opt) {
  hs_context *ctx = hs_test_ctx(dt, 2);
  hs_model_spec s;
  hs_model *a = bn_model(ctx, &s), *b = bn_model(ctx, &s);
  hs_dataset *tr = mixture(ctx, 100, 6, 4, 3.0, 4), *te = mixture(ctx, 30, 6, 4, 3.0, 5);
  char dira[300], dirb[300];
  snprintf(dira, sizeof dira, "%s/a-%d-%d", tmpdir, (int)dt, (int)opt);
  snprintf(dirb, sizeof dirb, "%s/b-%d-%d", tmpdir, (int)dt, (int)opt);
  hs_train_options o = hs_train_defaults();
  o.optimizer = opt;
  o.lr = opt == HS_OPT_ADAM ? 0.01 : 0.05;
  o.epochs = 5; o.batch = 16; o.seed = 77; o.schedule = HS_LR_COSINE;
  o.checkpoint_dtype = dt;
  o.save_epochs[0] = 2; o.n_save = 1;
  o.checkpoint_dir = dira;
  hs_trainer *t;
  OK(ctx, hs_trainer_create(a, tr, te, &o, &t));
  OK(ctx, hs_trainer_run(t));
  hs_trainer_destroy(t);
  o.checkpoint_dir = dirb;
  o.n_save = 0;
  char ck[400];
  snprintf(ck, sizeof ck, "%s/epoch-0002.safetensors", dira);
  OK(ctx, hs_trainer_create(b, tr, te, &o, &t));
  OK(ctx, hs_trainer_resume(t, ck));
  OK(ctx, hs_trainer_run(t));
  cr_assert_eq(hs_trainer_num_epochs(t), 3);
  cr_assert_eq(hs_trainer_epoch(t, 0)->epoch, 3);
  hs_trainer_destroy(t);
  size_t P = hs_model_num_params(a);
  double *ta = malloc(P * 8), *tb = malloc(P * 8), ra[54], rb[54];
  state_of(a, ta, ra);
  state_of(b, tb, rb);
  cr_assert(memcmp(ta, tb, P * 8) == 0, "%s %s: resumed parameters differ", hs_dtype_name(dt), hs_optimizer_name(opt));
  cr_assert(memcmp(ra, rb, sizeof ra) == 0, "%s %s: resumed running statistics differ", hs_dtype_name(dt), hs_optimizer_name(opt));
  /* the optimiser state files of the last epoch are identical too */
  char fa[400], fb[400], cmd[900];
  snprintf(fa, sizeof fa, "%s/epoch-0005.optim.safetensors", dira);
  snprintf(fb, sizeof fb, "%s/epoch-0005.optim.safetensors", dirb);
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", fa, fb);
  cr_assert_eq(system(cmd), 0, "%s and %s differ", fa, fb);
  free(ta); free(tb);
  hs_dataset_destroy(tr);
  hs_dataset_destroy(te);
  hs_model_destroy(a);
  hs_model_destroy(b);
  hs_context_destroy(ctx);
}

Test(train, resume_equals_uninterrupted) {
  resume_case(HS_F64, HS_OPT_SGD);
  resume_case(HS_F64, HS_OPT_ADAM);
  resume_case(HS_F32, HS_OPT_ADAM);
}

Test(train, resume_refuses_other_settings) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_model_spec s;
  hs_model *a = bn_model(ctx, &s);
  hs_dataset *tr = mixture(ctx, 40, 6, 4, 3.0, 4);
  char dir[300], ck[400];
  snprintf(dir, sizeof dir, "%s/r", tmpdir);
  hs_train_options o = hs_train_defaults();
  o.epochs = 1; o.batch = 8; o.checkpoint_dir = dir;
  hs_trainer *t;
  OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
  OK(ctx, hs_trainer_run(t));
  hs_trainer_destroy(t);
  snprintf(ck, sizeof ck, "%s/epoch-0001.safetensors", dir);
  o.batch = 10;
  OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
  cr_assert_eq(hs_trainer_resume(t, ck), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "batch 8"), "%s", hs_last_error(ctx));
  hs_trainer_destroy(t);
  o.batch = 8;
  o.optimizer = HS_OPT_ADAM;
  OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
  cr_assert_eq(hs_trainer_resume(t, ck), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "optimizer"), "%s", hs_last_error(ctx));
  hs_trainer_destroy(t);
  hs_dataset_destroy(tr);
  hs_model_destroy(a);
  hs_context_destroy(ctx);
}

/* A run stopped between writing a checkpoint's model file and its optimiser state leaves a
 * new model beside an old state: the digest in the state refuses the pair. */
Test(train, resume_refuses_a_model_file_of_another_save) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_model_spec s;
  hs_model *a = bn_model(ctx, &s);
  hs_dataset *tr = mixture(ctx, 40, 6, 4, 3.0, 4);
  char dir[300], ck[400], cmd[1200];
  snprintf(dir, sizeof dir, "%s/pair", tmpdir);
  hs_train_options o = hs_train_defaults();
  o.epochs = 2; o.batch = 8; o.checkpoint_dir = dir; o.momentum = 0.9;
  o.save_epochs[0] = 1; o.n_save = 1;
  hs_trainer *t;
  OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
  OK(ctx, hs_trainer_run(t));
  hs_trainer_destroy(t);
  snprintf(ck, sizeof ck, "%s/epoch-0001.safetensors", dir);
  OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
  OK(ctx, hs_trainer_resume(t, ck)); /* the true pair resumes */
  hs_trainer_destroy(t);
  snprintf(cmd, sizeof cmd, "cp '%s/epoch-0002.safetensors' '%s'", dir, ck);
  cr_assert_eq(system(cmd), 0);
  OK(ctx, hs_trainer_create(a, tr, NULL, &o, &t));
  cr_assert_eq(hs_trainer_resume(t, ck), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "was not saved with") && strstr(hs_last_error(ctx), "epoch-0001.optim.safetensors"),
            "%s", hs_last_error(ctx));
  hs_trainer_destroy(t);
  hs_dataset_destroy(tr);
  hs_model_destroy(a);
  hs_context_destroy(ctx);
}

/* ---- divergence and bad options ---- */

/* After epoch 2, a huge (finite) weight: epoch 3's loss overflows. */
static hs_status blow_up_after_2(void *user, hs_model *m, const hs_train_epoch *r) {
  if (r->epoch != 2) return HS_OK;
  size_t P = hs_model_num_params(m);
  double *th = malloc(P * sizeof *th);
  hs_model_get_params(m, th);
  for (size_t i = 0; i < P; i++) th[i] *= 1e300;
  hs_model_set_params(m, th);
  free(th);
  return HS_OK;
}

Test(train, divergence_stops_and_keeps_the_last_checkpoint) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  int w[1] = {8};
  hs_model_spec s = hs_test_spec(6, 1, w, 4, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m;
  OK(ctx, hs_model_create(ctx, &s, &m));
  hs_dataset *tr = mixture(ctx, 64, 6, 4, 3.0, 4);
  char dir[300], log[400];
  snprintf(dir, sizeof dir, "%s/div", tmpdir);
  snprintf(log, sizeof log, "%s/div/log.csv", tmpdir);
  hs_train_options o = hs_train_defaults();
  o.epochs = 50; o.batch = 16; o.lr = 1e6; o.checkpoint_dir = dir; o.log_path = log;
  o.n_save = 1; o.save_epochs[0] = 0;
  hs_trainer *t;
  OK(ctx, hs_trainer_create(m, tr, NULL, &o, &t));
  cr_assert_eq(hs_trainer_run(t), HS_E_NUMERIC);
  cr_assert(strstr(hs_last_error(ctx), "diverged"), "%s", hs_last_error(ctx));
  cr_assert(strstr(hs_last_error(ctx), "epoch-0000.safetensors (after epoch 0)"), "%s", hs_last_error(ctx));
  hs_trainer_destroy(t);
  /* with keep_last the last good epoch is kept whatever save_epochs says, and resumable */
  o.n_save = 0;
  o.keep_last = 1;
  o.lr = 0.05;
  OK(ctx, hs_model_init(m, 0));
  OK(ctx, hs_trainer_create(m, tr, NULL, &o, &t));
  hs_trainer_set_hook(t, blow_up_after_2, NULL);
  cr_assert_eq(hs_trainer_run(t), HS_E_NUMERIC);
  cr_assert(strstr(hs_last_error(ctx), "last.safetensors (after epoch 2)"), "%s", hs_last_error(ctx));
  cr_assert(strstr(hs_last_error(ctx), "epoch 3"), "%s", hs_last_error(ctx));
  cr_assert_eq(hs_trainer_num_epochs(t), 2);
  hs_trainer_destroy(t);
  char last[400];
  snprintf(last, sizeof last, "%s/last.safetensors", dir);
  OK(ctx, hs_trainer_create(m, tr, NULL, &o, &t));
  OK(ctx, hs_trainer_resume(t, last));
  cr_assert(hs_trainer_num_epochs(t) < 50);
  char ck[400];
  snprintf(ck, sizeof ck, "%s/epoch-0000.safetensors", dir);
  cr_assert_eq(access(ck, R_OK), 0);
  hs_trainer_destroy(t);
  hs_dataset_destroy(tr);
  hs_model_destroy(m);
  hs_context_destroy(ctx);
}

Test(train, bad_options_are_named) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  struct { const char *field; hs_train_options o; } c[8];
  for (int i = 0; i < 8; i++) c[i].o = hs_train_defaults();
  c[0].field = "lr"; c[0].o.lr = -1;
  c[1].field = "momentum"; c[1].o.momentum = 1.5;
  c[2].field = "beta2"; c[2].o.beta2 = 1;
  c[3].field = "epochs"; c[3].o.epochs = 0;
  c[4].field = "nesterov"; c[4].o.nesterov = 1; c[4].o.momentum = 0;
  c[5].field = "lr_min"; c[5].o.lr_min = 1;
  c[6].field = "save_epochs"; c[6].o.n_save = 1; c[6].o.save_epochs[0] = 99;
  c[7].field = "batch"; c[7].o.batch = 0;
  for (int i = 0; i < 8; i++) {
    cr_assert_eq(hs_train_validate(ctx, &c[i].o), HS_E_INVALID, "%s accepted", c[i].field);
    cr_assert(strstr(hs_last_error(ctx), c[i].field), "message '%s' does not name %s", hs_last_error(ctx), c[i].field);
  }
  /* batch norm with a last batch of one sample */
  hs_model_spec s;
  hs_model *m = bn_model(ctx, &s);
  hs_dataset *tr = mixture(ctx, 33, 6, 4, 3.0, 4);
  hs_train_options o = hs_train_defaults();
  o.batch = 16;
  hs_trainer *t;
  cr_assert_eq(hs_trainer_create(m, tr, NULL, &o, &t), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "batch of 1"), "%s", hs_last_error(ctx));
  hs_dataset_destroy(tr);
  hs_model_destroy(m);
  hs_context_destroy(ctx);
}
