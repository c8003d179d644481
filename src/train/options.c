/* Training options: defaults, validation, names, the learning-rate schedule. */
#include <math.h>
#include <string.h>

#include "core/context.h"
#include "core/settings.h"
#include "train/train.h"

const hs_setting_choice hs_train_optimizer_choices[] = {{"sgd", HS_TRAIN_SGD}, {"adam", HS_TRAIN_ADAM}, {NULL, 0}};
static const hs_setting_choice schedules[] = {{"constant", HS_TRAIN_CONSTANT}, {"cosine", HS_TRAIN_COSINE}, {NULL, 0}};
_Static_assert(sizeof(hs_train_optimizer) == sizeof(int) && sizeof(hs_train_schedule) == sizeof(int),
               "choice fields are ints");

/* The public config's vocabulary. Ranges are hs_train_validate's (they involve several
 * fields); the table gives names and types. */
#define T hs_train_config
const hs_setting hs_train_settings[] = {
    {.name = "optimizer", .key = "optimizer", .type = HS_SET_CHOICE, HS_SET_FIELD(T, optimizer), .choices = hs_train_optimizer_choices,
     .help = "(default sgd)"},
    {.name = "lr", .key = "lr", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, lr), .metavar = "X",
     .help = "learning rate (default 0.01)"},
    {.name = "momentum", .key = "momentum", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, momentum), .metavar = "X",
     .help = "SGD momentum (default 0.9; 0 with adam unless given)"},
    {.name = "dampening", .key = "dampening", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, dampening), .metavar = "X",
     .help = "SGD dampening (default 0)"},
    {.name = "nesterov", .key = "nesterov", .type = HS_SET_FLAG, HS_SET_FIELD(T, nesterov), .help = "Nesterov momentum (SGD)"},
    {.name = "beta1", .key = "beta1", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, beta1), .metavar = "X",
     .help = "Adam (default 0.9)"},
    {.name = "beta2", .key = "beta2", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, beta2), .metavar = "X",
     .help = "Adam (default 0.999)"},
    {.name = "eps", .key = "eps", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, eps), .metavar = "X", .help = "Adam (default 1e-8)"},
    {.name = "weight-decay", .key = "weight_decay", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, weight_decay), .metavar = "X",
     .help = "the optimiser's coupled L2 (PyTorch's weight_decay), added to\n"
             "the model spec's weight_decay (which is part of the loss)"},
    {.name = "schedule", .key = "schedule", .type = HS_SET_CHOICE, HS_SET_FIELD(T, schedule), .choices = schedules,
     .help = "per-epoch learning rate (default constant)"},
    {.name = "lr-min", .key = "lr_min", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, lr_min), .metavar = "X",
     .help = "the cosine schedule's floor (default 0)"},
    {.name = "bn-momentum", .key = "bn_momentum", .type = HS_SET_DOUBLE, HS_SET_FIELD(T, bn_momentum), .metavar = "X",
     .help = "batch-norm running-statistics momentum (default 0.1)"},
    {.name = "epochs", .key = "epochs", .type = HS_SET_UINT, HS_SET_FIELD(T, epochs), .metavar = "E",
     .help = "epochs (default 10)"},
    {.key = "batch", .type = HS_SET_UINT, HS_SET_FIELD(T, batch)}, /* the command line's is the common --batch */
    {.name = "eval-batch", .type = HS_SET_UINT, HS_SET_FIELD(T, eval_batch), .metavar = "B",
     .help = "batch of the test evaluation (default: all test samples)"},
    {.name = "save-epochs", .type = HS_SET_UINT, HS_SET_LIST(T, save_epochs, n_save), .metavar = "LIST",
     .help = "checkpoint after these epochs too, e.g. 0,5,10 (0 = the initial state)"},
    {0}};
#undef T

const hs_setting *hs_train_config_settings(void) { return hs_train_settings; }

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

const char *hs_optimizer_name(hs_optimizer o) { return o == HS_OPT_ADAM ? "adam" : "sgd"; }
const char *hs_lr_schedule_name(hs_lr_schedule s) { return s == HS_LR_COSINE ? "cosine" : "constant"; }

/* The enums are mapped by hand, not cast: the internal ones may grow or be renumbered. */
hs_status hs_train_options_of(hs_context *ctx, const hs_train_config *c, hs_train_options *o) {
  *o = hs_train_defaults();
  if (c->optimizer != HS_TRAIN_SGD && c->optimizer != HS_TRAIN_ADAM)
    return hs_fail(ctx, HS_E_INVALID, "train: optimizer %d is not sgd or adam", (int)c->optimizer);
  if (c->schedule != HS_TRAIN_CONSTANT && c->schedule != HS_TRAIN_COSINE)
    return hs_fail(ctx, HS_E_INVALID, "train: schedule %d is not constant or cosine", (int)c->schedule);
  if (c->n_save > HS_TRAIN_MAX_SAVE)
    return hs_fail(ctx, HS_E_INVALID, "train: save_epochs has %zu entries (at most %d)", c->n_save, HS_TRAIN_MAX_SAVE);
  for (size_t i = 0; i < c->n_save; i++)
    if (c->save_epochs[i] > c->epochs)
      return hs_fail(ctx, HS_E_INVALID, "train: save_epochs[%zu] = %zu is after the last epoch %zu", i,
                     c->save_epochs[i], c->epochs);
  if (c->checkpoint_dtype != HS_F64 && c->checkpoint_dtype != HS_F32)
    return hs_fail(ctx, HS_E_INVALID, "train: checkpoint_dtype %d is not f64 or f32", (int)c->checkpoint_dtype);
  if (c->checkpoint_dir && !c->checkpoint_dir[0])
    return hs_fail(ctx, HS_E_INVALID, "train: checkpoint_dir is empty (NULL for no checkpoints)");
  o->optimizer = c->optimizer == HS_TRAIN_ADAM ? HS_OPT_ADAM : HS_OPT_SGD;
  o->lr = c->lr;
  o->momentum = c->momentum;
  o->dampening = c->dampening;
  o->nesterov = c->nesterov;
  o->beta1 = c->beta1;
  o->beta2 = c->beta2;
  o->eps = c->eps;
  o->weight_decay = c->weight_decay;
  o->schedule = c->schedule == HS_TRAIN_COSINE ? HS_LR_COSINE : HS_LR_CONSTANT;
  o->lr_min = c->lr_min;
  o->epochs = c->epochs;
  o->batch = c->batch;
  o->seed = c->seed;
  o->bn_momentum = c->bn_momentum;
  o->eval_batch = c->eval_batch;
  o->checkpoint_dir = c->checkpoint_dir;
  if (c->n_save) memcpy(o->save_epochs, c->save_epochs, c->n_save * sizeof *c->save_epochs);
  o->n_save = c->n_save;
  o->checkpoint_dtype = c->checkpoint_dtype;
  o->keep_last = c->keep_last != 0;
  o->log_path = c->log_path;
  return hs_train_validate(ctx, o);
}

hs_train_config hs_train_config_of(const hs_train_options *t) {
  hs_train_config c;
  memset(&c, 0, sizeof c);
  c.optimizer = t->optimizer == HS_OPT_ADAM ? HS_TRAIN_ADAM : HS_TRAIN_SGD;
  c.lr = t->lr;
  c.momentum = t->momentum;
  c.dampening = t->dampening;
  c.nesterov = t->nesterov;
  c.beta1 = t->beta1;
  c.beta2 = t->beta2;
  c.eps = t->eps;
  c.weight_decay = t->weight_decay;
  c.schedule = t->schedule == HS_LR_COSINE ? HS_TRAIN_COSINE : HS_TRAIN_CONSTANT;
  c.lr_min = t->lr_min;
  c.epochs = t->epochs;
  c.batch = t->batch;
  c.seed = t->seed;
  c.bn_momentum = t->bn_momentum;
  c.eval_batch = t->eval_batch;
  c.checkpoint_dir = t->checkpoint_dir;
  memcpy(c.save_epochs, t->save_epochs, sizeof c.save_epochs);
  c.n_save = t->n_save;
  c.checkpoint_dtype = t->checkpoint_dtype;
  c.keep_last = t->keep_last;
  c.log_path = t->log_path;
  return c;
}

hs_train_config hs_train_config_defaults(void) {
  const hs_train_options d = hs_train_defaults();
  hs_train_config c = hs_train_config_of(&d);
  c.keep_last = 1;
  return c;
}

double hs_train_config_lr_at(const hs_train_config *c, size_t epoch) {
  hs_train_options o = hs_train_defaults();
  o.schedule = c->schedule == HS_TRAIN_COSINE ? HS_LR_COSINE : HS_LR_CONSTANT;
  o.lr = c->lr;
  o.lr_min = c->lr_min;
  o.epochs = c->epochs;
  return hs_train_lr_at(&o, epoch);
}

/* The table's name of a choice option's value */
static const char *choice_label(const char *option, int value) {
  const char *name = hs_setting_choice_name(hs_setting_find(hs_train_settings, option, 0), value);
  return name ? name : "unknown";
}

const char *hs_train_optimizer_label(hs_train_optimizer o) { return choice_label("optimizer", (int)o); }
const char *hs_train_schedule_label(hs_train_schedule s) { return choice_label("schedule", (int)s); }
