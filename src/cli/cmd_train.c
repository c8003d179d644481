/* hesspec train: minibatch training (SGD with momentum or Adam) with checkpoints and a CSV
 * log in an output folder. The rules (shuffling, weight decay, batch norm): src/train/train.h
 * and docs/training.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/data.h"
#include "core/clock.h"
#include "io/file.h"
#include "train/train.h"

typedef struct {
  int quiet;
  size_t epochs;
} hook_state;

static int print_epoch(void *user, hs_model *m, const hs_train_epoch *r) {
  hook_state *h = user;
  if (h->quiet) return 0;
  if (r->epoch == 0) {
    if (!isnan(r->test_loss)) printf("epoch 0: test loss %.6g, test accuracy %.4f\n", r->test_loss, r->test_accuracy);
  } else {
    printf("epoch %zu/%zu: loss %.6g", r->epoch, h->epochs, r->loss);
    if (!isnan(r->accuracy)) printf(", accuracy %.4f", r->accuracy);
    if (!isnan(r->test_loss)) printf(", test loss %.6g", r->test_loss);
    if (!isnan(r->test_accuracy)) printf(", test accuracy %.4f", r->test_accuracy);
    printf(", lr %.4g, %.2fs\n", r->lr, r->seconds);
  }
  fflush(stdout);
  return 0;
}

/* "1,5,10" -> epochs */
static int parse_epochs(const char *cmd, const char *text, hs_train_options *t) {
  const char *p = text;
  t->n_save = 0;
  while (*p) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno || (*end && *end != ',') || *p == '-')
      return hs_cli_usage(cmd, "--save-epochs '%s': expected a comma-separated list of epochs", text), -1;
    if (t->n_save == HS_TRAIN_MAX_SAVE) return hs_cli_usage(cmd, "--save-epochs: at most %d epochs", HS_TRAIN_MAX_SAVE), -1;
    t->save_epochs[t->n_save++] = (size_t)v;
    p = *end ? end + 1 : end;
  }
  return 0;
}

static int run(int argc, char **argv) {
  const char *cmd = "train";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_train_options t = hs_train_defaults();
  const char *test_dataset = NULL, *test_inputs = NULL, *test_targets = NULL, *resume = NULL, *v;
  size_t test_samples = 0;
  int momentum_set = 0, keep_last = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = hs_cli_parse_common(cmd, &o, argc, argv, &i);
    if (r < 0) return HS_EXIT_USAGE;
    if (r > 0) continue;
    struct { const char *name; double *dst; } dbl[] = {
        {"--lr", &t.lr}, {"--momentum", &t.momentum}, {"--dampening", &t.dampening}, {"--beta1", &t.beta1},
        {"--beta2", &t.beta2}, {"--eps", &t.eps}, {"--weight-decay", &t.weight_decay}, {"--lr-min", &t.lr_min},
        {"--bn-momentum", &t.bn_momentum}};
    int done = 0;
    for (size_t k = 0; k < sizeof dbl / sizeof *dbl && !done; k++) {
      if (strcmp(a, dbl[k].name) != 0) continue;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_double(cmd, a, v, dbl[k].dst) < 0) return HS_EXIT_USAGE;
      if (dbl[k].dst == &t.momentum) momentum_set = 1;
      done = 1;
    }
    if (done) continue;
    if (strcmp(a, "--epochs") == 0 || strcmp(a, "--test-samples") == 0 || strcmp(a, "--eval-batch") == 0) {
      size_t n;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_size(cmd, a, v, &n) < 0) return HS_EXIT_USAGE;
      if (a[2] == 'e' && a[3] == 'p') t.epochs = n;
      else if (a[2] == 't') test_samples = n;
      else t.eval_batch = n;
    } else if (strcmp(a, "--optimizer") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0) return HS_EXIT_USAGE;
      int x = hs_optimizer_from_name(v);
      if (x < 0) return hs_cli_usage(cmd, "--optimizer '%s': expected sgd or adam", v);
      t.optimizer = (hs_optimizer)x;
    } else if (strcmp(a, "--schedule") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0) return HS_EXIT_USAGE;
      int x = hs_lr_schedule_from_name(v);
      if (x < 0) return hs_cli_usage(cmd, "--schedule '%s': expected constant or cosine", v);
      t.schedule = (hs_lr_schedule)x;
    } else if (strcmp(a, "--nesterov") == 0) {
      t.nesterov = 1;
    } else if (strcmp(a, "--no-keep-last") == 0) {
      keep_last = 0;
    } else if (strcmp(a, "--save-epochs") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || parse_epochs(cmd, v, &t) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--test-dataset") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &test_dataset) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--test-inputs") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &test_inputs) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--test-targets") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &test_targets) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--resume") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &resume) < 0) return HS_EXIT_USAGE;
    } else {
      return hs_cli_usage(cmd, "unknown option '%s'", a);
    }
  }
  if (!o.out) return hs_cli_usage(cmd, "--out DIR is required (the folder for checkpoints and log.csv)");
  if (!momentum_set && t.optimizer == HS_OPT_ADAM) t.momentum = 0;
  if (o.batch) t.batch = o.batch;
  t.seed = o.seed;
  t.checkpoint_dtype = o.dtype;
  if ((test_inputs != NULL) != (test_targets != NULL))
    return hs_cli_usage(cmd, "--test-inputs and --test-targets go together");
  if (test_dataset && test_inputs) return hs_cli_usage(cmd, "give --test-dataset or --test-inputs/--test-targets, not both");
  if (resume && o.weights) return hs_cli_usage(cmd, "--resume already loads the weights; drop --weights");

  hs_cli_session s;
  /* bind with one batch: the trainer rebinds its shuffled copy anyway */
  hs_cli_opts ob = o;
  ob.batch = 0;
  int code = hs_cli_open(cmd, &ob, &s);
  if (code) return code;
  hs_dataset *test = NULL;
  hs_trainer *tr = NULL;
  char log_path[4096], ck_dir[4096];
  hs_status st = HS_OK;
  if (test_dataset || test_inputs) {
    hs_cli_opts ot = o;
    ot.dataset = test_dataset;
    ot.inputs = test_inputs;
    ot.targets = test_targets;
    ot.samples = test_samples;
    char desc[512];
    if ((st = hs_cli_load_data(s.ctx, &ot, hs_model_get_spec(s.model), &test, desc, sizeof desc)) != HS_OK) goto fail;
  }
  if ((st = hs_train_validate(s.ctx, &t)) != HS_OK) goto fail;
  snprintf(log_path, sizeof log_path, "%s/log.csv", o.out);
  snprintf(ck_dir, sizeof ck_dir, "%s", o.out);
  t.log_path = log_path;
  t.checkpoint_dir = ck_dir;
  t.keep_last = keep_last;
  if ((st = hs_trainer_create(s.model, s.data, test, &t, &tr)) != HS_OK) goto fail;
  hook_state hk = {o.quiet, t.epochs};
  hs_trainer_set_hook(tr, print_epoch, &hk);
  if (resume && (st = hs_trainer_resume(tr, resume)) != HS_OK) goto fail;
  /* only now, with every input checked: bad input leaves no folder behind */
  if (hs_mkdir_p(s.ctx, o.out, "output folder") != HS_OK) {
    fprintf(stderr, "hesspec %s: %s\n", cmd, hs_last_error(s.ctx));
    code = HS_EXIT_USAGE;
    goto done;
  }
  double t0 = hs_now();
  st = hs_trainer_run(tr);
  if (st != HS_OK) goto fail;
  if (!o.quiet)
    printf("trained %zu epochs in %.1fs (%s, %s); data %s; checkpoint %s/epoch-%04zu.safetensors; log %s\n", t.epochs,
           hs_now() - t0, hs_optimizer_name(t.optimizer), hs_lr_schedule_name(t.schedule), s.data_desc, o.out, t.epochs,
           log_path);
  goto done;
fail:
  code = hs_cli_fail(cmd, s.ctx, st);
done:
  hs_trainer_destroy(tr);
  hs_dataset_destroy(test);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_train = {
    "train", run, "train a model (SGD/Adam) with checkpoints and a CSV log",
    "usage: hesspec train --model M.json DATA --out DIR [options]\n\n"
    "Minibatch training with PyTorch's update rules. Writes DIR/log.csv (epoch, loss,\n"
    "accuracy, test_loss, test_accuracy, lr, seconds) after every epoch and checkpoints\n"
    "DIR/epoch-EEEE.safetensors (+ .optim.safetensors, the optimiser state) after the\n"
    "epochs of --save-epochs and the last one. A NaN/Inf loss stops the run (exit 1),\n"
    "keeping the checkpoints written so far.\n\n"
    "  --epochs E            epochs (default 10)\n"
    "  --batch B             minibatch size (default 128); the data are reshuffled every epoch\n"
    "  --optimizer sgd|adam  (default sgd)\n"
    "  --lr X                learning rate (default 0.01)\n"
    "  --momentum X          SGD momentum (default 0.9), --dampening X, --nesterov\n"
    "  --beta1 X --beta2 X --eps X   Adam (defaults 0.9, 0.999, 1e-8)\n"
    "  --weight-decay X      the optimiser's coupled L2 (PyTorch's weight_decay), added to\n"
    "                        the model spec's weight_decay (which is part of the loss)\n"
    "  --schedule constant|cosine    per-epoch learning rate; --lr-min X (cosine floor)\n"
    "  --bn-momentum X       batch-norm running-statistics momentum (default 0.1)\n"
    "  --save-epochs LIST    e.g. 0,5,10 (0 = the initial state)\n"
    "  --no-keep-last        do not rewrite DIR/last.safetensors (+ .optim) after every epoch\n"
    "                        (it is the last good state when a run diverges or is killed)\n"
    "  --test-dataset NAME | --test-inputs X.npy --test-targets Y.npy  [--test-samples N]\n"
    "  --eval-batch B        batch of the test evaluation (default: all test samples)\n"
    "  --resume CKPT         continue from DIR/epoch-EEEE.safetensors of a run with the same\n"
    "                        options (bit-exact: the same batches and optimiser state)\n"
    "  --seed S              initialisation and shuffling seed\n"};
