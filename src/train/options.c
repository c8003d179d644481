/* Training options: defaults, validation, names, the learning-rate schedule. */
#include <math.h>
#include <string.h>

#include "core/context.h"
#include "train/train.h"

hs_train_options hs_train_defaults(void) {
  hs_train_options o;
  memset(&o, 0, sizeof o);
  o.optimizer = HS_OPT_SGD;
  o.lr = 0.01;
  o.momentum = 0.9;
  o.beta1 = 0.9;
  o.beta2 = 0.999;
  o.eps = 1e-8;
  o.schedule = HS_LR_CONSTANT;
  o.epochs = 10;
  o.batch = 128;
  o.bn_momentum = 0.1;
  o.checkpoint_dtype = HS_F64;
  return o;
}

hs_status hs_train_validate(hs_context *ctx, const hs_train_options *o) {
#define BAD(...) return hs_fail(ctx, HS_E_INVALID, __VA_ARGS__)
  if (o->optimizer != HS_OPT_SGD && o->optimizer != HS_OPT_ADAM) BAD("optimizer: unknown value %d", (int)o->optimizer);
  if (!(o->lr > 0) || !isfinite(o->lr)) BAD("lr = %g must be positive", o->lr);
  if (!(o->momentum >= 0 && o->momentum < 1)) BAD("momentum = %g must be in [0, 1)", o->momentum);
  if (!(o->dampening >= 0 && o->dampening <= 1)) BAD("dampening = %g must be in [0, 1]", o->dampening);
  if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
    BAD("nesterov needs momentum > 0 and dampening 0 (momentum %g, dampening %g)", o->momentum, o->dampening);
  if (!(o->beta1 >= 0 && o->beta1 < 1)) BAD("beta1 = %g must be in [0, 1)", o->beta1);
  if (!(o->beta2 >= 0 && o->beta2 < 1)) BAD("beta2 = %g must be in [0, 1)", o->beta2);
  if (!(o->eps > 0)) BAD("eps = %g must be positive", o->eps);
  if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay)) BAD("weight_decay = %g must be >= 0", o->weight_decay);
  if (o->schedule != HS_LR_CONSTANT && o->schedule != HS_LR_COSINE) BAD("lr_schedule: unknown value %d", (int)o->schedule);
  if (!(o->lr_min >= 0 && o->lr_min <= o->lr)) BAD("lr_min = %g must be in [0, lr = %g]", o->lr_min, o->lr);
  if (o->epochs < 1 || o->epochs > 1000000) BAD("epochs = %zu must be in [1, 1000000]", o->epochs);
  if (o->batch < 1) BAD("batch = %zu must be >= 1", o->batch);
  if (!(o->bn_momentum >= 0 && o->bn_momentum <= 1)) BAD("bn_momentum = %g must be in [0, 1]", o->bn_momentum);
  if (o->n_save > HS_TRAIN_MAX_SAVE) BAD("save_epochs: at most %d entries", HS_TRAIN_MAX_SAVE);
  for (size_t i = 0; i < o->n_save; i++)
    if (o->save_epochs[i] > o->epochs) BAD("save_epochs: epoch %zu is beyond epochs = %zu", o->save_epochs[i], o->epochs);
  if (o->checkpoint_dtype != HS_F64 && o->checkpoint_dtype != HS_F32) BAD("checkpoint dtype: unknown value %d", (int)o->checkpoint_dtype);
  return HS_OK;
#undef BAD
}

double hs_train_lr_at(const hs_train_options *o, size_t epoch) {
  if (o->schedule != HS_LR_COSINE) return o->lr;
  const double pi = 3.14159265358979323846;
  return o->lr_min + (o->lr - o->lr_min) * (1.0 + cos(pi * (double)epoch / (double)o->epochs)) / 2.0;
}

int hs_optimizer_from_name(const char *s) {
  return strcmp(s, "sgd") == 0 ? HS_OPT_SGD : strcmp(s, "adam") == 0 ? HS_OPT_ADAM : -1;
}
int hs_lr_schedule_from_name(const char *s) {
  return strcmp(s, "constant") == 0 ? HS_LR_CONSTANT : strcmp(s, "cosine") == 0 ? HS_LR_COSINE : -1;
}
const char *hs_optimizer_name(hs_optimizer o) { return o == HS_OPT_ADAM ? "adam" : "sgd"; }
const char *hs_lr_schedule_name(hs_lr_schedule s) { return s == HS_LR_COSINE ? "cosine" : "constant"; }
