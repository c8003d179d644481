/* The trainer's internals, shared by the files of src/train only. */
#ifndef HS_TRAINER_H
#define HS_TRAINER_H

#include "nn/dataset.h"
#include "nn/engine.h"
#include "train/train.h"

struct hs_trainer {
  hs_context *ctx;
  hs_model *m;
  const hs_dataset *train, *test; /* borrowed */
  hs_train_options o;
  hs_dataset *shuf;               /* owned: this epoch's permuted copy of train */
  size_t *perm;                   /* (N) */
  void *G;                        /* (P) device: minibatch gradient */
  void *s1, *s2;                  /* (P) device: SGD momentum buffer / Adam exp_avg, exp_avg_sq */
  uint64_t step;                  /* optimiser steps taken (Adam's t) */
  int s1_init;                    /* SGD: the momentum buffer holds a value */
  size_t epoch;                   /* epochs completed */
  hs_train_epoch *recs;
  size_t n_recs, cap_recs;
  char last_ckpt[4096];           /* the last checkpoint written or resumed from, "" if none */
  size_t last_ckpt_epoch;
  hs_train_hook hook;
  void *hook_user;
  hs_train_step_hook step_hook;
  void *step_hook_user;
};

/* train/checkpoint.c: "<dir>/<name>.safetensors" and its optimiser companion; name NULL =
 * "epoch-EEEE". */
hs_status hs_trainer_save(hs_trainer *t, const char *name);
/* train/log.c */
hs_status hs_trainer_write_log(hs_trainer *t);
/* Preloads the rows of epochs 1..upto from an earlier run's log (a resume continues it); a
 * missing, foreign or incomplete log is skipped (the log then starts at the resume). */
hs_status hs_trainer_read_log(hs_trainer *t, const char *path, size_t upto);

#endif
