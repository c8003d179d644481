/* Training checkpoints: the model file (hs_model_save: parameters and BN running statistics,
 * PyTorch names) and beside it "<name>.optim.safetensors" with what a resume needs: the
 * optimiser state tensors (SGD "momentum_buffer", Adam "exp_avg" and "exp_avg_sq", in the
 * flat parameter order) and metadata (epoch, step, optimiser and the settings a resume must
 * share). Saved in the model's dtype a resume is bit-exact. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "train/trainer.h"

#define OPTIM_FORMAT "hesspec.optim/1"

static hs_status optim_path(hs_context *ctx, const char *model_path, char *out, size_t len) {
  size_t n = strlen(model_path);
  const char *ext = ".safetensors";
  size_t e = strlen(ext);
  int has_ext = n > e && strcmp(model_path + n - e, ext) == 0;
  int w = snprintf(out, len, "%.*s.optim.safetensors", (int)(has_ext ? n - e : n), model_path);
  if (w < 0 || (size_t)w >= len) return hs_fail(ctx, HS_E_INVALID, "checkpoint path too long: %s", model_path);
  return HS_OK;
}

hs_status hs_trainer_save(hs_trainer *t, const char *name) {
  hs_context *ctx = t->ctx;
  double *a = NULL, *b = NULL;
  hs_status st = hs_mkdir_p(ctx, t->o.checkpoint_dir, "checkpoint folder");
  if (st != HS_OK) return st;
  char path[4096], opath[4096 + 32];
  int w = name ? snprintf(path, sizeof path, "%s/%s.safetensors", t->o.checkpoint_dir, name)
               : snprintf(path, sizeof path, "%s/epoch-%04zu.safetensors", t->o.checkpoint_dir, t->epoch);
  if (w < 0 || (size_t)w >= sizeof path) return hs_fail(ctx, HS_E_INVALID, "checkpoint folder path too long");
  HS_TRY(optim_path(ctx, path, opath, sizeof opath));
  size_t P = hs_model_num_params(t->m);
  hs_st_entry ent[2];
  size_t n_ent = 0;
  if (t->o.optimizer == HS_OPT_ADAM || t->o.momentum != 0) {
    a = hs_malloc(P * sizeof *a);
    b = hs_malloc(P * sizeof *b);
    if (!a || !b) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory saving the optimiser state"); goto cleanup; }
    HS_TRY(hs_dev_download_f64(ctx, hs_nn_dtype(t->m), a, t->s1, P));
    ent[n_ent++] = (hs_st_entry){t->o.optimizer == HS_OPT_ADAM ? "exp_avg" : "momentum_buffer", 1, {P}, a};
    if (t->o.optimizer == HS_OPT_ADAM) {
      HS_TRY(hs_dev_download_f64(ctx, hs_nn_dtype(t->m), b, t->s2, P));
      ent[n_ent++] = (hs_st_entry){"exp_avg_sq", 1, {P}, b};
    }
  }
  char epoch[32], step[32], init[8], seed[32], batch[32], n[32];
  snprintf(epoch, sizeof epoch, "%zu", t->epoch);
  snprintf(step, sizeof step, "%" PRIu64, t->step);
  snprintf(init, sizeof init, "%d", t->s1_init);
  snprintf(seed, sizeof seed, "%" PRIu64, t->o.seed);
  snprintf(batch, sizeof batch, "%zu", t->o.batch);
  snprintf(n, sizeof n, "%zu", t->train->n);
  /* The model file first: "last good checkpoint" names it, and a resume needs both. The state
   * records the model file's digest: a run killed between the two writes leaves a new model
   * beside an old state, which a resume must refuse rather than pair. */
  char digest[17];
  HS_TRY(hs_model_save(t->m, path, t->o.checkpoint_dtype));
  HS_TRY(hs_file_digest(ctx, path, digest));
  const char *keys[] = {"format", "optimizer", "epoch", "step", "momentum_initialised", "seed", "batch", "samples", "model_digest"};
  const char *vals[] = {OPTIM_FORMAT, hs_optimizer_name(t->o.optimizer), epoch, step, init, seed, batch, n, digest};
  HS_TRY(hs_st_write(ctx, opath, t->o.checkpoint_dtype, ent, n_ent, keys, vals, 9));
  snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", path);
  t->last_ckpt_epoch = t->epoch;
cleanup:
  free(a);
  free(b);
  return st;
}

static hs_status meta_u64(hs_context *ctx, const hs_safetensors *f, const char *key, uint64_t *out) {
  const char *v = hs_st_meta(f, key);
  char *end;
  if (!v) return hs_fail(ctx, HS_E_INVALID, "%s: metadata field '%s' is missing", f->path, key);
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || end == v || *end) return hs_fail(ctx, HS_E_INVALID, "%s: metadata field '%s' = '%s' is not a count", f->path, key, v);
  *out = x;
  return HS_OK;
}

static hs_status load_state(hs_trainer *t, const hs_safetensors *f, const char *name, void *dst) {
  const hs_st_tensor *ten;
  double *data = NULL;
  hs_status st = hs_st_get_f64(t->ctx, f, name, &ten, &data);
  if (st != HS_OK) return st;
  if (ten->count != hs_model_num_params(t->m))
    st = hs_fail(t->ctx, HS_E_INVALID, "%s: tensor '%s' has %zu values, the model has %zu parameters", f->path, name, ten->count, hs_model_num_params(t->m));
  else
    st = hs_dev_upload_f64(t->ctx, hs_nn_dtype(t->m), dst, data, hs_model_num_params(t->m));
  free(data);
  return st;
}

hs_status hs_trainer_resume(hs_trainer *t, const char *model_checkpoint) {
  hs_context *ctx = t->ctx;
  char opath[4096 + 32];
  hs_safetensors f;
  memset(&f, 0, sizeof f);
  hs_status st = optim_path(ctx, model_checkpoint, opath, sizeof opath);
  if (st != HS_OK) return st;
  HS_TRY(hs_st_open(ctx, opath, &f));
  const char *fmt = hs_st_meta(&f, "format"), *opt = hs_st_meta(&f, "optimizer");
  if (!fmt || strcmp(fmt, OPTIM_FORMAT) != 0) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: not a hesspec optimiser state (format '%s', expected '%s')", opath, fmt ? fmt : "", OPTIM_FORMAT);
    goto cleanup;
  }
  if (!opt || strcmp(opt, hs_optimizer_name(t->o.optimizer)) != 0) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: optimizer '%s' differs from this run's '%s'", opath, opt ? opt : "", hs_optimizer_name(t->o.optimizer));
    goto cleanup;
  }
  uint64_t epoch, step, init, seed, batch, n;
  HS_TRY(meta_u64(ctx, &f, "epoch", &epoch));
  HS_TRY(meta_u64(ctx, &f, "step", &step));
  HS_TRY(meta_u64(ctx, &f, "momentum_initialised", &init));
  HS_TRY(meta_u64(ctx, &f, "seed", &seed));
  HS_TRY(meta_u64(ctx, &f, "batch", &batch));
  HS_TRY(meta_u64(ctx, &f, "samples", &n));
  /* A different seed, batch or data size would silently change the minibatch sequence. */
  if (seed != t->o.seed || batch != t->o.batch || n != t->train->n) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: saved with seed %" PRIu64 ", batch %" PRIu64 ", %" PRIu64 " samples; this run has seed %" PRIu64 ", batch %zu, %zu samples",
                 opath, seed, batch, n, t->o.seed, t->o.batch, t->train->n);
    goto cleanup;
  }
  if (epoch > t->o.epochs) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: epoch %" PRIu64 " is beyond epochs = %zu", opath, epoch, t->o.epochs);
    goto cleanup;
  }
  const char *saved_digest = hs_st_meta(&f, "model_digest"); /* absent in states written before it existed */
  if (saved_digest) {
    char digest[17];
    HS_TRY(hs_file_digest(ctx, model_checkpoint, digest));
    if (strcmp(digest, saved_digest) != 0) {
      st = hs_fail(ctx, HS_E_INVALID, "%s was not saved with %s (a run stopped between writing the two?): resume from "
                   "an epoch checkpoint or start again", opath, model_checkpoint);
      goto cleanup;
    }
  }
  HS_TRY(hs_model_load(t->m, model_checkpoint));
  if (t->o.optimizer == HS_OPT_ADAM) {
    HS_TRY(load_state(t, &f, "exp_avg", t->s1));
    HS_TRY(load_state(t, &f, "exp_avg_sq", t->s2));
  } else if (t->o.momentum != 0) {
    HS_TRY(load_state(t, &f, "momentum_buffer", t->s1));
  }
  t->epoch = (size_t)epoch;
  t->step = step;
  t->s1_init = init != 0;
  snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", model_checkpoint);
  t->last_ckpt_epoch = t->epoch;
  { /* the log beside the checkpoint, so that the resumed run's log covers every epoch */
    char logp[4200];
    const char *slash = strrchr(model_checkpoint, '/');
    int dl = slash ? (int)(slash - model_checkpoint) : 1;
    snprintf(logp, sizeof logp, "%.*s/log.csv", dl, slash ? model_checkpoint : ".");
    t->n_recs = 0;
    HS_TRY(hs_trainer_read_log(t, logp, t->epoch));
  }
cleanup:
  hs_st_close(&f);
  return st;
}
