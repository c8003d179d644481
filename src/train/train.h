/* Training: minibatch SGD (with momentum) and Adam with PyTorch's update rules, constant or
 * cosine learning rate, weight decay, seeded shuffling, BatchNorm running statistics,
 * checkpoints, a per-epoch log, and divergence detection. docs/training.md has the rules.
 *
 * Everything runs on the model's device: parameters (m->theta), gradient and optimiser state
 * stay there; per step only the batch loss (and the correct count) come back to the host.
 *
 * Minibatches: at the start of epoch e (0-based) the training set is permuted on the host by
 * Fisher-Yates with draws from the counter-based RNG (stream HS_STREAM_SHUFFLE + 16*e under
 * the shuffle seed), so epoch e's order is a pure function of (seed, e, N): a resumed run sees
 * the same batches as an uninterrupted one. The permuted copy is bound to the model and its
 * consecutive batches of B samples (the last one possibly smaller) are the minibatches.
 *
 * Weight decay: the spec's weight_decay (lambda/2 ||theta||^2 in the loss, so also in the
 * Hessian) and the optimiser's weight_decay (PyTorch's `weight_decay` argument: coupled L2,
 * g += wd*theta, not part of the analysed loss) both act; the step uses their sum.
 *
 * Batch norm: a step always runs BN in training mode (batch statistics, as PyTorch's
 * model.train()) and updates the running statistics with momentum `bn_momentum` (unbiased
 * batch variance); evaluation (test accuracy, the analysis) uses the spec's mode ("batch" or
 * "running").
 */
#ifndef HS_TRAIN_H
#define HS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/settings.h"
#include "hesspec.h"

typedef enum { HS_OPT_SGD = 0, HS_OPT_ADAM = 1 } hs_optimizer;
typedef enum { HS_LR_CONSTANT = 0, HS_LR_COSINE = 1 } hs_lr_schedule;


typedef struct {
  hs_optimizer optimizer;
  double lr;            /* > 0 */
  double momentum;      /* SGD, [0, 1) */
  double dampening;     /* SGD */
  int nesterov;         /* SGD; needs momentum > 0 and dampening 0 (as PyTorch) */
  double beta1, beta2;  /* Adam, [0, 1) */
  double eps;           /* Adam, > 0 */
  double weight_decay;  /* optimiser's coupled L2 (>= 0), on top of the spec's */
  hs_lr_schedule schedule;
  double lr_min;        /* cosine: eta_min */
  size_t epochs;        /* total epochs (>= 1) */
  size_t batch;         /* minibatch size B (>= 1; a batch-norm model needs >= 2) */
  uint64_t seed;        /* shuffle seed */
  double bn_momentum;   /* PyTorch's BatchNorm momentum, default 0.1 */
  size_t eval_batch;    /* batch for test evaluation (0 = all test samples at once) */
  /* Checkpoints: "<dir>/epoch-EEEE.safetensors" (+ ".optim.safetensors", the optimiser
   * state for resuming) after the epochs listed in save_epochs (1-based: the state after
   * that many epochs; 0 = the initial state) and after the last epoch. dir NULL: none. */
  const char *checkpoint_dir;
  size_t save_epochs[HS_TRAIN_MAX_SAVE];
  size_t n_save;
  hs_dtype checkpoint_dtype; /* file dtype; the model's dtype keeps resumes bit-exact */
  /* Also rewrite "<dir>/last.safetensors" (+ ".optim") after every epoch, so that a diverged
   * or killed run keeps its last good state (each file replaced atomically). */
  int keep_last;
  const char *log_path;      /* CSV rewritten atomically after every epoch; NULL: none */
} hs_train_options;

hs_train_options hs_train_defaults(void);
/* hs_train_config_settings() (public): the names, types and fields of hs_train_config, the
 * command-line names of `hesspec train` and the keys of the "train" object of compare presets. */
extern const hs_setting hs_train_settings[];
extern const hs_setting_choice hs_train_optimizer_choices[]; /* sgd, adam: hs_train_optimizer */
/* HS_E_INVALID naming the field when an option is out of range. */
hs_status hs_train_validate(hs_context *ctx, const hs_train_options *o);
/* The public config (include/hesspec.h) as these options, and back: one place for the mapping.
 * hs_train_options_of checks what hs_train_validate cannot see in the public form (the enums,
 * the save list) and then validates, HS_E_INVALID naming the field. hs_train_config_of
 * borrows t's paths; it sets no resume, curvature or hook. */
hs_status hs_train_options_of(hs_context *ctx, const hs_train_config *c, hs_train_options *o);
hs_train_config hs_train_config_of(const hs_train_options *t);
/* The public config's learning rate of epoch e (hs_train_lr_at), and its enums' names ("sgd",
 * "cosine"; those of the settings table). */
double hs_train_config_lr_at(const hs_train_config *c, size_t epoch);
const char *hs_train_optimizer_label(hs_train_optimizer o);
const char *hs_train_schedule_label(hs_train_schedule s);

typedef struct {
  size_t epoch;       /* 1-based: the state after this many epochs */
  double loss;        /* mean minibatch loss over the epoch (before each step), + spec decay */
  double accuracy;    /* train accuracy of the minibatch forwards (NaN for mse) */
  double test_loss;   /* at the end of the epoch (NaN without test data) */
  double test_accuracy;
  double lr;          /* the learning rate used in this epoch */
  double seconds;     /* wall time of the epoch (training and evaluation) */
} hs_train_epoch;

/* Called after every epoch (and once before the first with epoch 0 and NaN losses), after
 * that epoch's checkpoints and log are written: the model holds the parameters after that
 * epoch; the callback may bind other data (training rebinds its own). A status other than
 * HS_OK stops the run, and hs_trainer_run returns that very status (HS_E_CANCELLED to
 * cancel), with the message the hook set on the context or else a generic one. */
typedef hs_status (*hs_train_hook)(void *user, hs_model *m, const hs_train_epoch *rec);

/* Called after every optimiser step: step = steps taken so far (1-based, global), epoch = the
 * 1-based epoch the step belongs to, last = 1 at the epoch's last step (the parameters are
 * then those of the epoch's checkpoint, running statistics included); also once before the
 * first step of a fresh run with step = 0, epoch = 0. The model holds the parameters after
 * the step; the hook may bind other data (then it sets *rebound = 1 and the trainer binds its
 * minibatches again). A status other than HS_OK stops the run with it (and its message). */
typedef hs_status (*hs_train_step_hook)(void *user, hs_model *m, uint64_t step, size_t epoch, int last,
                                        int *rebound);

typedef struct hs_trainer hs_trainer;

/* A trainer for model m (borrowed) on train (borrowed; labels or targets as the model
 * needs) with optional test data (NULL). Allocates the optimiser state on the device. */
hs_status hs_trainer_create(hs_model *m, const hs_dataset *train, const hs_dataset *test,
                            const hs_train_options *opt, hs_trainer **out);
void hs_trainer_destroy(hs_trainer *t);
void hs_trainer_set_hook(hs_trainer *t, hs_train_hook fn, void *user);
void hs_trainer_set_step_hook(hs_trainer *t, hs_train_step_hook fn, void *user);
/* Optimiser steps taken (after a resume: those of the resumed run included). */
uint64_t hs_trainer_steps(const hs_trainer *t);

/* Loads a checkpoint written by a trainer with the same options: the model file and its
 * ".optim.safetensors" companion (optimiser state, epoch, step). Training then continues
 * from that epoch exactly as if it had not stopped. The rows of the log.csv beside the
 * checkpoint up to that epoch are carried over into this run's log. */
hs_status hs_trainer_resume(hs_trainer *t, const char *model_checkpoint);

/* Trains up to opt->epochs. Divergence (a non-finite minibatch loss or parameter) stops the
 * run with HS_E_NUMERIC and a message naming the epoch, batch and last good checkpoint;
 * checkpoints already written are kept and the log holds the epochs completed. */
hs_status hs_trainer_run(hs_trainer *t);

/* The epoch records in order: those completed by this trainer, preceded after a resume by
 * the rows carried over from the earlier run's log (then the first is epoch 1). */
size_t hs_trainer_num_epochs(const hs_trainer *t);
const hs_train_epoch *hs_trainer_epoch(const hs_trainer *t, size_t i);
/* The last checkpoint written (NULL if none). */
const char *hs_trainer_last_checkpoint(const hs_trainer *t);

/* The learning rate of epoch e (0-based) under the schedule: PyTorch's CosineAnnealingLR
 * closed form lr_min + (lr - lr_min)(1 + cos(pi e / epochs))/2, or lr. */
double hs_train_lr_at(const hs_train_options *o, size_t epoch);

/* Epoch e's minibatch order: perm[i] = the training sample at position i (0-based epoch). */
void hs_train_permutation(uint64_t seed, size_t epoch, size_t n, size_t *perm);

/* "sgd"/"adam", "constant"/"cosine" (a checkpoint records the optimiser by name). */
const char *hs_optimizer_name(hs_optimizer o);
const char *hs_lr_schedule_name(hs_lr_schedule s);

#endif
