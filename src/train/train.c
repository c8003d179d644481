/* The training loop (rules at the top of train/train.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/rng.h"
#include "nn/hvp.h"
#include "train/trainer.h"

#define OPS(t) ((t)->ctx->be->ops)
#define BE(t) ((t)->ctx->be)

void hs_trainer_destroy(hs_trainer *t) {
  if (!t) return;
  OPS(t)->free(BE(t), t->G);
  OPS(t)->free(BE(t), t->s1);
  OPS(t)->free(BE(t), t->s2);
  hs_dataset_destroy(t->shuf);
  free(t->perm);
  free(t->recs);
  free(t);
}

void hs_trainer_set_step_hook(hs_trainer *t, hs_train_step_hook fn, void *user) {
  t->step_hook = fn;
  t->step_hook_user = user;
}

uint64_t hs_trainer_steps(const hs_trainer *t) { return t->step; }

/* The step hook; after it bound other data, this epoch's minibatches are bound again (the
 * same shuffled copy and batch size, so the batches that follow are unchanged). */
static hs_status call_step_hook(hs_trainer *t, size_t epoch, int last, size_t B) {
  if (!t->step_hook) return HS_OK;
  int rebound = 0;
  hs_status st = t->step_hook(t->step_hook_user, t->m, t->step, epoch, last, &rebound);
  if (st != HS_OK) return st;
  if (rebound && B) return hs_nn_bind_streaming(t->m, t->shuf, B);
  return HS_OK;
}

void hs_trainer_set_hook(hs_trainer *t, hs_train_hook fn, void *user) {
  t->hook = fn;
  t->hook_user = user;
}

hs_status hs_trainer_create(hs_model *m, const hs_dataset *train, const hs_dataset *test,
                            const hs_train_options *opt, hs_trainer **out) {
  hs_context *ctx = hs_model_context(m);
  hs_status st;
  *out = NULL;
  if ((st = hs_train_validate(ctx, opt)) != HS_OK) return st;
  const hs_model_spec *sp = hs_model_get_spec(m);
  const int has_bn = hs_model_num_norms(m) > 0;
  const hs_dtype dt = hs_nn_dtype(m);
  const size_t P = hs_model_num_params(m);
  if (train->input_dim != sp->input_dim || train->output_dim != sp->output_dim)
    return hs_fail(ctx, HS_E_INVALID, "training data are (%d -> %d), the model is (%d -> %d)", train->input_dim, train->output_dim, sp->input_dim, sp->output_dim);
  if (test && (test->input_dim != sp->input_dim || test->output_dim != sp->output_dim))
    return hs_fail(ctx, HS_E_INVALID, "test data are (%d -> %d), the model is (%d -> %d)", test->input_dim, test->output_dim, sp->input_dim, sp->output_dim);
  size_t N = train->n, B = opt->batch < N ? opt->batch : N;
  /* BatchNorm in training mode needs two samples per batch (PyTorch refuses one, too). */
  if (has_bn && (B < 2 || N % B == 1))
    return hs_fail(ctx, HS_E_INVALID, "batch %zu with %zu samples leaves a batch of 1 sample: batch norm needs >= 2 per batch", B, N);
  if (has_bn && test && opt->eval_batch && test->n % opt->eval_batch == 1 && sp->batchnorm == HS_BN_BATCH)
    return hs_fail(ctx, HS_E_INVALID, "eval batch %zu with %zu test samples leaves a batch of 1 sample", opt->eval_batch, test->n);
  hs_trainer *t = hs_calloc(1, sizeof *t);
  if (!t) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  t->ctx = ctx;
  t->m = m;
  t->train = train;
  t->test = test;
  t->o = *opt;
  t->perm = hs_malloc(N * sizeof *t->perm);
  if (!t->perm) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  HS_TRY(hs_dataset_create(ctx, N, train->input_dim, train->X, train->output_dim, train->labels, train->targets, &t->shuf));
  HS_TRY(hs_dev_alloc(ctx, dt, P, &t->G));
  if (opt->optimizer == HS_OPT_ADAM || opt->momentum != 0) {
    HS_TRY(hs_dev_alloc(ctx, dt, P, &t->s1));
    HS_OP(ctx, OPS(t)->fill(BE(t), dt, P, 0.0, t->s1));
  }
  if (opt->optimizer == HS_OPT_ADAM) {
    HS_TRY(hs_dev_alloc(ctx, dt, P, &t->s2));
    HS_OP(ctx, OPS(t)->fill(BE(t), dt, P, 0.0, t->s2));
  }
  *out = t;
  return HS_OK;
cleanup:
  hs_trainer_destroy(t);
  return st;
}

size_t hs_trainer_num_epochs(const hs_trainer *t) { return t->n_recs; }
const hs_train_epoch *hs_trainer_epoch(const hs_trainer *t, size_t i) { return i < t->n_recs ? &t->recs[i] : NULL; }
const char *hs_trainer_last_checkpoint(const hs_trainer *t) { return t->last_ckpt[0] ? t->last_ckpt : NULL; }

void hs_train_permutation(uint64_t seed, size_t epoch, size_t n, size_t *perm) {
  uint64_t stream = HS_STREAM_SHUFFLE + 16 * (uint64_t)epoch;
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = n ? n - 1 : 0; i > 0; i--) { /* Fisher-Yates, draw i picks from [0, i] */
    size_t j = (size_t)(hs_rng_uniform(seed, stream, i) * (double)(i + 1));
    if (j > i) j = i; /* guards the (impossible for 53-bit uniforms < 1) rounding to i+1 */
    size_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

/* Epoch e's permutation applied to a copy of the training set. */
static void shuffle(hs_trainer *t, size_t e) {
  const hs_dataset *src = t->train;
  hs_dataset *d = t->shuf;
  size_t N = src->n, in = (size_t)src->input_dim, C = (size_t)src->output_dim;
  hs_train_permutation(t->o.seed, e, N, t->perm);
  for (size_t i = 0; i < N; i++) {
    size_t s = t->perm[i];
    memcpy(d->X + i * in, src->X + s * in, in * sizeof *d->X);
    if (src->labels) d->labels[i] = src->labels[s];
    if (src->targets) memcpy(d->targets + i * C, src->targets + s * C, C * sizeof *d->targets);
  }
}

static hs_status push_record(hs_trainer *t, const hs_train_epoch *r) {
  if (t->n_recs == t->cap_recs) {
    size_t cap = t->cap_recs ? 2 * t->cap_recs : 16;
    hs_train_epoch *p = hs_realloc(t->recs, cap * sizeof *p);
    if (!p) return hs_fail(t->ctx, HS_E_NOMEM, "out of host memory");
    t->recs = p;
    t->cap_recs = cap;
  }
  t->recs[t->n_recs++] = *r;
  return HS_OK;
}

/* Data parallel (hs_context_options.ranks > 1): each rank takes a contiguous part of every
 * minibatch and the parts' gradients are summed before the step, so every rank takes the
 * same step as one process would (to rounding). Batch norm needs the statistics of the
 * whole minibatch, so a model with batch norm runs every minibatch whole on every rank. */
static int split_batches(const hs_trainer *t) { return t->ctx->ranks > 1 && hs_model_num_norms(t->m) == 0; }

/* Loss and accuracy over the test data in the spec's evaluation mode. */
static hs_status evaluate(hs_trainer *t, double *loss, double *acc) {
  hs_model *m = t->m;
  const hs_model_spec *sp = hs_model_get_spec(m);
  hs_status st;
  *loss = *acc = NAN;
  if (!t->test) return HS_OK;
  HS_TRY(hs_nn_bind_streaming(m, t->test, t->o.eval_batch));
  const size_t N = t->test->n, EB = t->o.eval_batch == 0 || t->o.eval_batch > N ? N : t->o.eval_batch;
  double sum = 0;
  size_t correct = 0;
  for (size_t b = 0; b < hs_nn_num_batches(m); b++) {
    hs_nn_batch_result r;
    if (split_batches(t)) {
      size_t lo, hi;
      hs_rank_range(N - b * EB < EB ? N - b * EB : EB, t->ctx->rank, t->ctx->ranks, &lo, &hi);
      HS_TRY(hs_nn_batch_rows(m, b, lo, hi, sp->batchnorm, NULL, &r));
    } else {
      HS_TRY(hs_nn_batch(m, b, sp->batchnorm, NULL, &r));
    }
    sum += r.loss_sum;
    correct += r.correct;
  }
  if (split_batches(t)) {
    double sc[2] = {sum, (double)correct};
    HS_TRY(hs_allreduce(t->ctx, sc, 2));
    sum = sc[0];
    correct = (size_t)sc[1];
  }
  *loss = sum / (double)N;
  if (sp->loss == HS_LOSS_CROSS_ENTROPY) *acc = (double)correct / (double)N;
cleanup:
  return st;
}

static int want_save(const hs_trainer *t, size_t epoch) {
  if (!t->o.checkpoint_dir) return 0;
  if (epoch == t->o.epochs) return 1;
  for (size_t i = 0; i < t->o.n_save; i++)
    if (t->o.save_epochs[i] == epoch) return 1;
  return 0;
}

/* "PATH (after epoch E)" or "none", for divergence messages */
static void last_good(const hs_trainer *t, char *out, size_t len) {
  if (t->last_ckpt[0]) snprintf(out, len, "%s (after epoch %zu)", t->last_ckpt, t->last_ckpt_epoch);
  else snprintf(out, len, "none (no checkpoint was asked for)");
}

static hs_status call_hook(hs_trainer *t, const hs_train_epoch *r) {
  if (!t->hook) return HS_OK;
  t->ctx->errmsg[0] = '\0';
  hs_status st = t->hook(t->hook_user, t->m, r);
  if (st == HS_OK || t->ctx->errmsg[0]) return st;
  return hs_fail(t->ctx, st, "train: the epoch hook stopped the run after epoch %zu (%s)", r->epoch, hs_status_string(st));
}

/* One optimiser step on the gradient in t->G at learning rate lr. */
static hs_status step(hs_trainer *t, double lr) {
  hs_model *m = t->m;
  hs_status st = HS_OK;
  double wd = hs_model_get_spec(m)->weight_decay + t->o.weight_decay;
  const hs_dtype dt = hs_nn_dtype(m);
  const size_t P = hs_model_num_params(m);
  t->step++;
  if (t->o.optimizer == HS_OPT_SGD) {
    HS_OP(t->ctx, OPS(t)->sgd_step(BE(t), dt, P, lr, t->o.momentum, t->o.dampening, t->o.nesterov, wd,
                                    !t->s1_init, t->G, t->s1, hs_nn_params(m)));
    t->s1_init = 1;
  } else {
    double bc1 = 1.0 - pow(t->o.beta1, (double)t->step), bc2 = 1.0 - pow(t->o.beta2, (double)t->step);
    HS_OP(t->ctx, OPS(t)->adam_step(BE(t), dt, P, t->o.beta1, t->o.beta2, t->o.eps, wd, lr / bc1, sqrt(bc2),
                                     t->G, t->s1, t->s2, hs_nn_params(m)));
  }
cleanup:
  return st;
}

hs_status hs_trainer_run(hs_trainer *t) {
  hs_context *ctx = t->ctx;
  hs_model *m = t->m;
  hs_status st = HS_OK;
  const hs_model_spec *sp = hs_model_get_spec(m);
  const int has_bn = hs_model_num_norms(m) > 0;
  const hs_dtype dt = hs_nn_dtype(m);
  const size_t P = hs_model_num_params(m);
  const size_t N = t->train->n, B = t->o.batch < N ? t->o.batch : N;
  const size_t per_epoch = (N + B - 1) / B, total = per_epoch * (t->o.epochs - t->epoch);
  size_t done = 0;

  if (t->epoch == 0 && t->n_recs == 0) {
    hs_train_epoch r0 = {.epoch = 0, .loss = NAN, .accuracy = NAN, .test_loss = NAN, .test_accuracy = NAN,
                         .lr = hs_train_lr_at(&t->o, 0), .seconds = 0};
    double t0 = hs_now();
    HS_TRY(evaluate(t, &r0.test_loss, &r0.test_accuracy));
    r0.seconds = hs_now() - t0;
    if (want_save(t, 0)) HS_TRY(hs_trainer_save(t, NULL));
    if (t->o.keep_last && t->o.checkpoint_dir) HS_TRY(hs_trainer_save(t, "last"));
    HS_TRY(call_hook(t, &r0));
    HS_TRY(call_step_hook(t, 0, 1, 0));
  }
  while (t->epoch < t->o.epochs) {
    double t0 = hs_now(), lr = hs_train_lr_at(&t->o, t->epoch), loss_sum = 0;
    size_t correct = 0;
    shuffle(t, t->epoch);
    HS_TRY(hs_nn_bind_streaming(m, t->shuf, B));
    for (size_t b = 0; b < hs_nn_num_batches(m); b++) {
      hs_nn_batch_result r;
      HS_OP(ctx, OPS(t)->fill(BE(t), dt, P, 0.0, t->G));
      /* training mode: batch statistics whatever the spec's evaluation mode */
      if (split_batches(t)) {
        size_t lo, hi;
        hs_rank_range(N - b * B < B ? N - b * B : B, ctx->rank, ctx->ranks, &lo, &hi);
        HS_TRY(hs_nn_batch_rows(m, b, lo, hi, HS_BN_BATCH, t->G, &r));
        double sc[3] = {r.loss_sum, (double)r.correct, (double)r.rows};
        HS_TRY(hs_allreduce_dev(ctx, dt, t->G, P, sc, 3));
        r = (hs_nn_batch_result){.loss_sum = sc[0], .correct = (size_t)sc[1], .rows = (size_t)sc[2]};
      } else {
        HS_TRY(hs_nn_batch(m, b, HS_BN_BATCH, t->G, &r));
      }
      if (!isfinite(r.loss_sum)) {
        char ck[4200];
        last_good(t, ck, sizeof ck);
        st = hs_fail(ctx, HS_E_NUMERIC, "training diverged: the loss of epoch %zu, batch %zu is %g (try a smaller lr); last good checkpoint: %s",
                     t->epoch + 1, b + 1, r.loss_sum, ck);
        goto cleanup;
      }
      loss_sum += r.loss_sum;
      correct += r.correct;
      if (has_bn) HS_TRY(hs_nn_update_running(m, b, t->o.bn_momentum));
      /* the engine scales by 1/N (dataset mean); a step wants the minibatch mean */
      HS_OP(ctx, OPS(t)->scal(BE(t), dt, P, (double)N / (double)r.rows, t->G));
      HS_TRY(step(t, lr));
      hs_nn_invalidate(m);
      HS_TRY(call_step_hook(t, t->epoch + 1, b + 1 == hs_nn_num_batches(m), B));
      HS_TRY(hs_progress(ctx, "train", ++done, total));
    }
    int bad = 0;
    HS_OP(ctx, OPS(t)->nonfinite(BE(t), dt, P, hs_nn_params(m), &bad));
    if (bad) {
      char ck[4200];
      last_good(t, ck, sizeof ck);
      st = hs_fail(ctx, HS_E_NUMERIC, "training diverged: parameters became NaN/Inf in epoch %zu (try a smaller lr); last good checkpoint: %s",
                   t->epoch + 1, ck);
      goto cleanup;
    }
    t->epoch++;
    hs_train_epoch r = {.epoch = t->epoch,
                        .loss = loss_sum / (double)N,
                        .accuracy = sp->loss == HS_LOSS_CROSS_ENTROPY ? (double)correct / (double)N : NAN,
                        .test_loss = NAN,
                        .test_accuracy = NAN,
                        .lr = lr,
                        .seconds = 0};
    HS_TRY(evaluate(t, &r.test_loss, &r.test_accuracy));
    r.seconds = hs_now() - t0;
    HS_TRY(push_record(t, &r));
    HS_TRY(hs_trainer_write_log(t));
    if (want_save(t, t->epoch)) HS_TRY(hs_trainer_save(t, NULL));
    if (t->o.keep_last && t->o.checkpoint_dir) HS_TRY(hs_trainer_save(t, "last"));
    HS_TRY(call_hook(t, &r));
  }
cleanup:
  return st;
}
