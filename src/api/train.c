/* hs_train: the trainer of src/train (train.h) behind the public header: the public config
 * mapped onto hs_train_options (train/options.c), a resume, the run, and the epoch records copied out. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "io/file.h"
#include "nn/engine.h"
#include "train/curvature.h"
#include "train/train.h"

void hs_train_log_free(hs_train_log *log) {
  if (!log) return;
  free(log->records);
  memset(log, 0, sizeof *log);
}


static hs_train_record record(const hs_train_epoch *e) {
  return (hs_train_record){.epoch = e->epoch, .loss = e->loss, .accuracy = e->accuracy, .test_loss = e->test_loss,
                           .test_accuracy = e->test_accuracy, .lr = e->lr, .seconds = e->seconds};
}

/* The trainer's epoch hook calling the config's on_epoch with the public record. */
static hs_status epoch_hook(void *user, hs_model *m, const hs_train_epoch *e) {
  (void)m;
  const hs_train_config *c = user;
  const hs_train_record r = record(e);
  return c->on_epoch(c->on_epoch_user, &r);
}

/* The curvature tracker of the config (NULL when curvature_every is 0), attached to t. */
static hs_status attach_curvature(hs_model *m, const hs_dataset *train, const hs_train_config *c, hs_trainer *t,
                                  hs_curvature_tracker **out) {
  *out = NULL;
  if (!c->curvature_every) return HS_OK;
  hs_context *ctx = hs_model_context(m);
  const size_t N = hs_dataset_size(train);
  if (!c->curvature_path || !*c->curvature_path)
    return hs_fail(ctx, HS_E_INVALID, "train: curvature_every %zu needs a curvature_path (the CSV)", c->curvature_every);
  const hs_curvature_options co = {
      .every = c->curvature_every, .samples = c->curvature_samples ? c->curvature_samples : N < 1024 ? N : 1024,
      .overlap_k = c->overlap_k ? c->overlap_k : (size_t)hs_model_get_spec(m)->output_dim, .seed = c->seed,
      .path = c->curvature_path};
  hs_status st = hs_curvature_create(m, train, &co, out);
  if (st == HS_OK && c->resume) st = hs_curvature_preload(*out, c->curvature_path, hs_trainer_steps(t));
  if (st != HS_OK) {
    hs_curvature_destroy(*out);
    *out = NULL;
    return st;
  }
  hs_trainer_set_step_hook(t, hs_curvature_step, *out);
  return HS_OK;
}

static hs_status copy_records(hs_context *ctx, const hs_trainer *t, hs_train_log *out) {
  size_t n = hs_trainer_num_epochs(t);
  hs_train_record *r = n ? hs_malloc(n * sizeof *r) : NULL;
  if (n && !r) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  for (size_t i = 0; i < n; i++) {
    r[i] = record(hs_trainer_epoch(t, i));
  }
  *out = (hs_train_log){.n = n, .records = r, .steps = hs_trainer_steps(t)};
  return HS_OK;
}

hs_status hs_train(hs_model *m, const hs_dataset *train, const hs_dataset *test, const hs_train_config *c,
                   hs_train_log *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = hs_model_context(m);
  if (!train) return hs_fail(ctx, HS_E_INVALID, "train: no training data (NULL)");
  const hs_train_config cfg = c ? *c : hs_train_config_defaults();
  hs_train_options o;
  hs_status st = hs_train_options_of(ctx, &cfg, &o);
  if (st != HS_OK) return st;
  size_t prev_n, prev_batch;
  hs_model_binding(m, &prev_n, &prev_batch);
  hs_trainer *t = NULL;
  hs_curvature_tracker *curv = NULL;
  if ((st = hs_trainer_create(m, train, test, &o, &t)) != HS_OK) return st; /* nothing bound yet */
  if (cfg.on_epoch) hs_trainer_set_hook(t, epoch_hook, (void *)&cfg);
  if (cfg.resume) HS_TRY(hs_trainer_resume(t, cfg.resume));
  HS_TRY(attach_curvature(m, train, &cfg, t, &curv));
  /* only now, with every input checked (as the CLI): bad input leaves no folder behind */
  if (cfg.checkpoint_dir) HS_TRY(hs_mkdir_p(ctx, cfg.checkpoint_dir, "checkpoint_dir"));
  const double t0 = hs_now();
  HS_TRY(hs_trainer_run(t));
  const double seconds = hs_now() - t0;
  HS_TRY(copy_records(ctx, t, out));
  out->training_seconds = seconds;
  if (curv) {
    out->curvature_measurements = hs_curvature_count(curv);
    out->curvature_seconds = hs_curvature_seconds(curv);
    out->training_seconds = hs_curvature_other_seconds(curv); /* without the measurements */
  }
cleanup:;
  hs_curvature_destroy(curv);
  hs_trainer_destroy(t);
  /* The trainer left m bound to its shuffled copy (now freed) or to test: bind the caller's
   * data again so that no dangling binding survives the call, whatever its outcome. A failed
   * run keeps its own status and message. A batch the data refuse (batch norm and a last
   * batch of one sample) falls back to one batch: HS_E_INVALID would keep the old binding. */
  char msg[sizeof ctx->errmsg];
  memcpy(msg, ctx->errmsg, sizeof msg);
  size_t N = hs_dataset_size(train), B = prev_batch && prev_batch < N ? prev_batch : 0;
  hs_status sb = hs_model_bind(m, train, B);
  if (sb == HS_E_INVALID && B) sb = hs_model_bind(m, train, 0);
  if (st != HS_OK) {
    memcpy(ctx->errmsg, msg, sizeof msg);
  } else if (sb != HS_OK) {
    hs_train_log_free(out);
    st = sb;
  }
  return st;
}
