/* The hook contract (hesspec.h): a progress or epoch hook that returns a status other than
 * HS_OK stops the work at that call, and the call that was running returns that very
 * status (not a generic one) with a message naming the phase; the objects stay usable and
 * destroyable. Each path is stopped on its first, a middle and its last poll, with
 * HS_E_CANCELLED and with an arbitrary other status (HS_E_BACKEND). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "linalg/trace.h"
#include "support/hs_test.h"
#include "train/train.h"

typedef struct {
  size_t calls, stop_at; /* stop on call number stop_at (1-based); 0: never */
  hs_status with;
  char phase[32];
} stopper;

static hs_status stop_hook(void *user, const char *what, size_t done, size_t total) {
  stopper *s = user;
  (void)done, (void)total;
  snprintf(s->phase, sizeof s->phase, "%s", what);
  return ++s->calls == s->stop_at ? s->with : HS_OK;
}

typedef hs_status (*path_fn)(hs_context *ctx, hs_linop *op);

static hs_status run_slq(hs_context *ctx, hs_linop *op) {
  (void)ctx;
  hs_slq_options o = hs_slq_defaults();
  o.steps = 5;
  o.probes = 2;
  hs_slq_result *r = NULL;
  hs_status st = hs_slq_run(op, &o, &r);
  hs_slq_free(r);
  return st;
}

static hs_status run_trace(hs_context *ctx, hs_linop *op) {
  (void)ctx;
  hs_trace_options o = {.probes = 6, .seed = 2, .block = 1};
  hs_trace_result *r = NULL;
  hs_status st = hs_trace_hutchinson(op, &o, &r);
  hs_trace_free(r);
  return st;
}

static hs_status run_exact(hs_context *ctx, hs_linop *op) {
  (void)ctx;
  hs_eig_result *r = NULL;
  hs_status st = hs_eig_exact(op, 0, 0, &r);
  hs_eig_free(r);
  return st;
}

static hs_status run_extremal(hs_context *ctx, hs_linop *op) {
  (void)ctx;
  hs_eig_options o = {.which = HS_EIG_TOP, .count = 1, .seed = 4};
  hs_eig_result *r = NULL;
  hs_status st = hs_eig_extremal(op, &o, &r);
  hs_eig_free(r);
  return st;
}

/* Counts the polls of a clean run, then stops it at the first, a middle and the last. */
static void check_path(hs_context *ctx, hs_linop *op, path_fn run, const char *name, const char *phase) {
  stopper s = {0};
  hs_set_progress(ctx, stop_hook, &s);
  cr_assert_eq(run(ctx, op), HS_OK, "%s: %s", name, hs_last_error(ctx));
  size_t polls = s.calls;
  cr_assert_geq(polls, 2, "%s: %zu progress calls", name, polls);
  const size_t at[3] = {1, (polls + 1) / 2, polls};
  const hs_status with[2] = {HS_E_CANCELLED, HS_E_BACKEND};
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < 3; i++) {
      s = (stopper){.stop_at = at[i], .with = with[w]};
      hs_status st = run(ctx, op);
      cr_assert_eq(st, with[w], "%s stopped on poll %zu of %zu with %s: returned %s", name, at[i], polls,
                   hs_status_string(with[w]), hs_status_string(st));
      cr_assert_eq(s.calls, at[i], "%s: the work went on polling after the stop", name);
      cr_assert(strstr(hs_last_error(ctx), phase), "%s: message lacks the phase '%s': %s", name, phase,
                hs_last_error(ctx));
      if (with[w] == HS_E_CANCELLED)
        cr_assert(strstr(hs_last_error(ctx), "cancelled"), "%s: %s", name, hs_last_error(ctx));
    }
  hs_set_progress(ctx, NULL, NULL);
  cr_assert_eq(run(ctx, op), HS_OK, "%s after the stops: %s", name, hs_last_error(ctx));
}

Test(hooks, linalg_paths_return_the_hooks_status) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  double A[25];
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++) A[i * 5 + j] = i == j ? i + 1.0 : 0.1;
  hs_linop *op = NULL;
  cr_assert_eq(hs_linop_matrix(ctx, 5, A, 1e-12, &op), HS_OK);
  check_path(ctx, op, run_slq, "slq", "lanczos");
  check_path(ctx, op, run_trace, "trace", "trace");
  check_path(ctx, op, run_exact, "eig exact", "assemble");
  check_path(ctx, op, run_extremal, "eig extremal", "lanczos");
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
}

/* ---- the model's gradient and training ---- */

static hs_model *model;
static hs_dataset *data;

static hs_status run_gradient(hs_context *ctx, hs_linop *op) {
  (void)ctx, (void)op;
  double loss;
  return hs_model_loss_grad(model, &loss, NULL);
}

static hs_status run_training(hs_context *ctx, hs_linop *op) {
  (void)ctx, (void)op;
  hs_train_options o = hs_train_defaults();
  o.epochs = 2;
  o.batch = 4;
  o.lr = 0.01;
  hs_trainer *t = NULL;
  hs_status st = hs_trainer_create(model, data, NULL, &o, &t);
  if (st == HS_OK) st = hs_trainer_run(t);
  hs_trainer_destroy(t);
  return st;
}

typedef struct {
  size_t calls, stop_at;
  hs_status with;
} epoch_stopper;

static hs_status stop_epoch(void *user, hs_model *m, const hs_train_epoch *r) {
  epoch_stopper *s = user;
  (void)m, (void)r;
  return ++s->calls == s->stop_at ? s->with : HS_OK;
}

Test(hooks, gradient_training_and_epoch_hook_return_the_hooks_status) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  const int w[1] = {4};
  hs_model_spec s = hs_test_spec(3, 1, w, 2, HS_ACT_TANH, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  model = hs_test_model(ctx, &s, 2);
  data = hs_test_data(ctx, &s, 12, 3);
  cr_assert_eq(hs_model_bind(model, data, 4), HS_OK);
  check_path(ctx, NULL, run_gradient, "gradient", "gradient");
  check_path(ctx, NULL, run_training, "train", "train");

  /* the epoch hook: after epoch 0 (before training) and after epoch 1 */
  for (size_t stop = 1; stop <= 2; stop++) {
    hs_train_options o = hs_train_defaults();
    o.epochs = 2;
    o.batch = 4;
    o.lr = 0.01;
    hs_trainer *t = NULL;
    cr_assert_eq(hs_trainer_create(model, data, NULL, &o, &t), HS_OK);
    epoch_stopper es = {.stop_at = stop, .with = HS_E_CANCELLED};
    hs_trainer_set_hook(t, stop_epoch, &es);
    hs_status st = hs_trainer_run(t);
    cr_assert_eq(st, HS_E_CANCELLED, "epoch hook stop %zu: %s", stop, hs_status_string(st));
    cr_assert(hs_last_error(ctx)[0]);
    cr_assert_eq(hs_trainer_num_epochs(t), stop - 1, "epochs recorded: %zu", hs_trainer_num_epochs(t));
    hs_trainer_destroy(t);
  }
  hs_model_destroy(model);
  hs_dataset_destroy(data);
  hs_context_destroy(ctx);
}
