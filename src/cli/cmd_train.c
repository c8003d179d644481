/* hesspec train: minibatch training (SGD with momentum or Adam) with checkpoints and a CSV
 * log in an output folder. The rules (shuffling, weight decay, batch norm): src/train/train.h
 * and docs/training.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/data.h"
#include "cli/options.h"

typedef struct {
  int quiet;
  size_t epochs;
} hook_state;

/* "adam", "cosine": the name the option table gives the value */
static const char *choice_name(const char *option, int value) {
  const char *name = hs_setting_choice_name(hs_setting_find(hs_train_config_settings(), option, 0), value);
  return name ? name : "?";
}

static hs_status print_epoch(void *user, const hs_train_record *r) {
  hook_state *h = user;
  if (h->quiet) return hs_cli_cancel_status();
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
  return hs_cli_cancel_status();
}

typedef struct {
  const char *test_dataset, *test_inputs, *test_targets, *resume;
  size_t test_samples;
  int keep_last;
  size_t curv_every, curv_samples, overlap_k; /* 0 = not given */
} train_args;

static const hs_setting train_cli_options[] = {
    {.name = "no-keep-last", .type = HS_SET_FLAG, HS_SET_FIELD(train_args, keep_last), .flag_off = 1,
     .help = "do not rewrite DIR/last.safetensors (+ .optim) after every epoch\n"
             "(it is the last good state when a run diverges or is killed)"},
    {.name = "test-dataset", .type = HS_SET_STRING, HS_SET_FIELD(train_args, test_dataset), .metavar = "NAME",
     .help = "test data evaluated after every epoch (or --test-inputs/--test-targets)"},
    {.name = "test-inputs", .type = HS_SET_STRING, HS_SET_FIELD(train_args, test_inputs), .metavar = "X.npy",
     .help = "test inputs, with --test-targets"},
    {.name = "test-targets", .type = HS_SET_STRING, HS_SET_FIELD(train_args, test_targets), .metavar = "Y.npy",
     .help = "test labels or targets"},
    {.name = "test-samples", .type = HS_SET_UINT, HS_SET_FIELD(train_args, test_samples), .metavar = "N",
     .help = "use the first N test samples (default: all)"},
    {.name = "resume", .type = HS_SET_STRING, HS_SET_FIELD(train_args, resume), .metavar = "CKPT",
     .help = "continue from DIR/epoch-EEEE.safetensors of a run with the same\n"
             "options (bit-exact: the same batches and optimiser state)"},
    {.name = "curvature-every", .type = HS_SET_UINT, HS_SET_FIELD(train_args, curv_every), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "N", .help = "after every N-th step, each epoch's last step and before the first: DIR/curvature.csv\n"
                            "(step, epoch, lambda_max, lambda_min, grad_overlap, seconds; docs/training.md)"},
    {.name = "curvature-samples", .type = HS_SET_UINT, HS_SET_FIELD(train_args, curv_samples), .bounds = HS_SET_MIN,
     .min = 1, .metavar = "S", .help = "the curvature Hessian's samples: the first S training samples (default 1024)"},
    {.name = "overlap-k", .type = HS_SET_UINT, HS_SET_FIELD(train_args, overlap_k), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "K", .help = "the eigenspace of grad_overlap (default: the number of classes)"},
    {0}};

/* with the library's train options (hs_train_config_settings) between these two */
static const hs_setting *const tables[] = {hs_cli_common_options, train_cli_options, NULL};

/* The command line (argv[0] = "train") into its three tables: 0, or HS_EXIT_USAGE (printed). */
static int parse(int argc, char **argv, hs_cli_opts *o, hs_train_config *t, train_args *ta, hs_cli_parsed *given) {
  hs_cli_opts_init(o);
  *t = hs_train_config_defaults();
  *ta = (train_args){.keep_last = 1};
  hs_cli_binding b[] = {{hs_cli_common_options, o}, {hs_train_config_settings(), t}, {train_cli_options, ta}};
  return hs_cli_parse("train", b, 3, argc, argv, 0, given);
}

static int run(int argc, char **argv) {
  const char *cmd = "train";
  hs_cli_opts o;
  hs_train_config c;
  train_args ta;
  hs_cli_parsed given;
  if (parse(argc, argv, &o, &c, &ta, &given)) return HS_EXIT_USAGE;
  const char *test_dataset = ta.test_dataset, *test_inputs = ta.test_inputs, *test_targets = ta.test_targets;
  const char *resume = ta.resume;
  size_t test_samples = ta.test_samples;
  int momentum_set = hs_cli_given(&given, "momentum"), keep_last = ta.keep_last;
  if (!o.out) return hs_cli_usage(cmd, "--out DIR is required (the folder for checkpoints and log.csv)");
  if (!momentum_set && c.optimizer == HS_TRAIN_ADAM) c.momentum = 0;
  if (o.batch) c.batch = o.batch;
  c.seed = o.seed;
  c.checkpoint_dtype = o.dtype;
  if ((test_inputs != NULL) != (test_targets != NULL))
    return hs_cli_usage(cmd, "--test-inputs and --test-targets go together");
  if (test_dataset && test_inputs) return hs_cli_usage(cmd, "give --test-dataset or --test-inputs/--test-targets, not both");
  if (resume && o.weights) return hs_cli_usage(cmd, "--resume already loads the weights; drop --weights");
  if (!ta.curv_every && (ta.curv_samples || ta.overlap_k))
    return hs_cli_usage(cmd, "--curvature-samples and --overlap-k need --curvature-every N");

  hs_cli_session s;
  /* bind with one batch: the trainer rebinds its shuffled copy anyway */
  hs_cli_opts ob = o;
  ob.batch = 0;
  int code = hs_cli_open(cmd, &ob, &s);
  if (code) return code;
  hs_dataset *test = NULL;
  hs_train_log log = {0};
  char log_path[4096], curv_path[4096];
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
  snprintf(log_path, sizeof log_path, "%s/log.csv", o.out);
  snprintf(curv_path, sizeof curv_path, "%s/curvature.csv", o.out);
  hook_state hk = {o.quiet, c.epochs};
  c.log_path = log_path;
  c.checkpoint_dir = o.out;
  c.keep_last = keep_last;
  c.resume = resume;
  c.curvature_every = ta.curv_every;
  c.curvature_samples = ta.curv_samples;
  c.overlap_k = ta.overlap_k;
  c.curvature_path = ta.curv_every ? curv_path : NULL;
  c.on_epoch = print_epoch;
  c.on_epoch_user = &hk;
  double t0 = hs_cli_now();
  if ((st = hs_train(s.model, s.data, test, &c, &log)) != HS_OK) goto fail;
  if (!o.quiet)
    printf("trained %zu epochs in %.1fs (%s, %s); data %s; checkpoint %s/epoch-%04zu.safetensors; log %s\n", c.epochs,
           hs_cli_now() - t0, choice_name("optimizer", (int)c.optimizer), choice_name("schedule", (int)c.schedule),
           s.data_desc, o.out, c.epochs, log_path);
  if (ta.curv_every && !o.quiet)
    printf("curvature: %zu measurements in %.2fs, %.1f%% of the training time (%.2fs); %s\n", log.curvature_measurements,
           log.curvature_seconds, 100.0 * log.curvature_seconds / fmax(log.training_seconds, 1e-9), log.training_seconds,
           curv_path);
  goto done;
fail:
  code = hs_cli_fail(cmd, s.ctx, st);
done:
  hs_train_log_free(&log);
  hs_dataset_destroy(test);
  hs_cli_close(&s);
  return code;
}

/* ---- as a job task (cli/job.c, docs/jobs.md) ---- */

/* A train task is done when its last file is there: the optimiser state of its final epoch
 * (written after the model file, the log and the curvature rows). argv: the task's command
 * line from "train" on, checked by the job reader. */
static char *job_done_file(int argc, char **argv, const char *out) {
  hs_cli_opts o;
  hs_train_config t;
  train_args ta;
  if (parse(argc, argv, &o, &t, &ta, NULL)) return NULL;
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "%s/epoch-%04zu.optim.safetensors", out, t.epochs);
  return hs_sbuf_finish(&b);
}

/* A task a killed worker left half done continues from OUT/last.safetensors when that state is
 * whole (its .optim.safetensors beside it; a resume also checks the pair's digest), unless the
 * task resumes from elsewhere itself. The resumed state replaces --weights. */
static char **job_resume_argv(int argc, char **argv, const char *out, const char *out_arg) {
  hs_sbuf m = {0}, s = {0};
  hs_sbuf_printf(&m, "%s/last.safetensors", out);
  hs_sbuf_printf(&s, "%s/last.optim.safetensors", out);
  char *model = hs_sbuf_finish(&m), *state = hs_sbuf_finish(&s);
  int whole = model && state && access(model, F_OK) == 0 && access(state, F_OK) == 0;
  free(model);
  free(state);
  for (int i = 0; whole && i < argc; i++) whole = strcmp(argv[i], "--resume") != 0;
  if (!whole) return NULL;
  char **r = calloc((size_t)argc + 3, sizeof *r);
  int n = 0;
  for (int i = 0; r && i < argc; i++) {
    if (strcmp(argv[i], "--weights") == 0) {
      i++;
      continue;
    }
    if (!(r[n++] = strdup(argv[i]))) goto oom;
  }
  hs_sbuf a = {0};
  hs_sbuf_printf(&a, "%s/last.safetensors", out_arg);
  if (!r || !(r[n++] = strdup("--resume")) || !(r[n++] = hs_sbuf_finish(&a))) goto oom;
  return r;
oom:
  for (int i = 0; r && r[i]; i++) free(r[i]);
  free(r);
  return NULL;
}

const hs_cli_command hs_cmd_train = {
    .name = "train",
    .run = run,
    .summary = "train a model (SGD/Adam) with checkpoints and a CSV log",
    .usage = "usage: hesspec train --model M.json DATA --out DIR [options]\n\n"
    "Minibatch training with PyTorch's update rules. Writes DIR/log.csv (epoch, loss,\n"
    "accuracy, test_loss, test_accuracy, lr, seconds) after every epoch and checkpoints\n"
    "DIR/epoch-EEEE.safetensors (+ .optim.safetensors, the optimiser state) after the\n"
    "epochs of --save-epochs and the last one. A NaN/Inf loss stops the run (exit 1),\n"
    "keeping the checkpoints written so far.\n\n"
    "DATA as in the common options; --batch B is the minibatch size (default 128), the data\n"
    "reshuffled every epoch; --seed S seeds initialisation and shuffling.\n",
    .options = tables,
    .library_options = hs_train_config_settings,
    .job_done_file = job_done_file,
    .job_resume_argv = job_resume_argv};
