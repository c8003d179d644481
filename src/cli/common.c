#include "cli/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/data.h"
#include "cli/options.h"
#include "cli/mpi.h"

static const hs_setting_choice dtypes[] = {{"f64", HS_F64}, {"f32", HS_F32}, {NULL, 0}};
_Static_assert(sizeof(hs_dtype) == sizeof(int), "a choice field is an int");

const hs_setting hs_cli_common_options[] = {
    {.name = "model", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, model), .metavar = "FILE",
     .help = "model spec (JSON)"},
    {.name = "weights", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, weights), .metavar = "FILE",
     .help = "parameters (safetensors); default: seeded initialisation"},
    {.name = "inputs", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, inputs), .metavar = "X.npy",
     .help = "inputs (N, input_dim), or (N, C, H, W) for the layer form"},
    {.name = "targets", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, targets), .metavar = "Y.npy",
     .help = "labels (N,) for cross_entropy, targets (N, output_dim) for mse"},
    {.name = "dataset", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, dataset), .metavar = "NAME",
     .help = "fashion-mnist[:train|:test], mixture[:sep=S] or teacher[:hidden=HxH,act=A,noise=E]\n"
             "(instead of --inputs; docs/io.md)"},
    {.name = "samples", .type = HS_SET_UINT, HS_SET_FIELD(hs_cli_opts, samples), .metavar = "N",
     .help = "use the first N samples (default: all)"},
    {.name = "batch", .type = HS_SET_UINT, HS_SET_FIELD(hs_cli_opts, batch), .metavar = "B",
     .help = "batch size, also the batch-norm batch (default: all samples)"},
    {.name = "device", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, device), .metavar = "D",
     .help = "auto | cpu | cuda | cuda:N (default auto)"},
    {.name = "dtype", .type = HS_SET_CHOICE, HS_SET_FIELD(hs_cli_opts, dtype), .choices = dtypes,
     .help = "arithmetic (default f64)"},
    {.name = "tf32", .type = HS_SET_FLAG, HS_SET_FIELD(hs_cli_opts, tf32), .help = "allow TF32 GEMMs on the GPU (f32 only)"},
    {.name = "threads", .type = HS_SET_UINT, HS_SET_FIELD(hs_cli_opts, threads), .bounds = HS_SET_MAX, .max = 4096,
     .metavar = "T", .help = "CPU threads (default: all cores)"},
    {.name = "seed", .type = HS_SET_UINT, HS_SET_FIELD(hs_cli_opts, seed), .metavar = "S",
     .help = "seed of initialisation, probes and synthetic data (default 0)"},
    {.name = "out", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, out), .metavar = "PATH", .help = "output file"},
    {.name = "quiet", .type = HS_SET_FLAG, HS_SET_FIELD(hs_cli_opts, quiet), .help = "no progress display"},
    {0}};

void hs_cli_opts_init(hs_cli_opts *o) {
  memset(o, 0, sizeof *o);
  o->device = "auto";
  o->dtype = HS_F64;
}

int hs_cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "hesspec %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  return HS_EXIT_USAGE;
}

int hs_cli_exit_code(hs_status st) {
  switch (st) {
  case HS_OK: return HS_EXIT_OK;
  case HS_E_INVALID:
  case HS_E_IO:
  case HS_E_UNSUPPORTED: return HS_EXIT_USAGE;
  /* 128 + the signal, as a shell reports a process the signal killed, so that scripts and
   * schedulers see the interruption; a cancel without a signal is a plain failure. */
  case HS_E_CANCELLED: return hs_cli_caught_signal() ? 128 + hs_cli_caught_signal() : HS_EXIT_FAIL;
  default: return HS_EXIT_FAIL; /* HS_E_OUTPUT among them: the input was fine, the run failed */
  }
}

int hs_cli_fail(const char *cmd, hs_context *ctx, hs_status st) {
  const char *msg = ctx ? hs_last_error(ctx) : "";
  fprintf(stderr, "hesspec %s: %s\n", cmd, msg && *msg ? msg : hs_status_string(st));
  return hs_cli_exit_code(st);
}

/* A memory budget from the environment: unset or empty keeps *mb; else a whole number. */
static int env_mb(const char *cmd, const char *name, size_t *mb) {
  const char *e = getenv(name);
  if (!e || !*e) return 0;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(e, &end, 10);
  if (errno || *end || *e == '-' || v > ((size_t)-1 >> 20))
    return hs_cli_usage(cmd, "environment variable %s='%s': expected a size in MiB (a whole number)", name, e), -1;
  *mb = (size_t)v;
  return 0;
}

hs_status hs_cli_plain_context(hs_context **ctx) {
  hs_context_options co = hs_context_defaults();
  co.device = "cpu";
  co.threads = 1;
  return hs_context_create(&co, ctx);
}

int hs_cli_open_context(const char *cmd, const hs_cli_opts *o, hs_cli_session *s) {
  memset(s, 0, sizeof *s);
  hs_context_options co = hs_context_defaults();
  co.device = o->device;
  co.dtype = o->dtype;
  co.threads = o->threads;
  co.tf32 = o->tf32;
  /* The budgets' environment variables (docs/engine.md); the library reads none itself. */
  if (env_mb(cmd, "HESSPEC_CACHE_MB", &co.cache_mb) < 0 || env_mb(cmd, "HESSPEC_RSTATE_MB", &co.rstate_mb) < 0 ||
      env_mb(cmd, "HESSPEC_CONV_MB", &co.conv_mb) < 0)
    return HS_EXIT_USAGE;
  co.data_dir = getenv("HESSPEC_DATA");
  /* under MPI: data parallel over the ranks, this rank's GPU (cli/mpi.h, docs/mpi.md) */
  char device[32];
  co.device = hs_cli_mpi_device(o->device, device, sizeof device);
  hs_cli_mpi_context_options(&co);
  if (o->tf32 && o->dtype != HS_F32) return hs_cli_usage(cmd, "--tf32 needs --dtype f32");
  hs_status st = hs_context_create(&co, &s->ctx);
  if (st != HS_OK) {
    int code = hs_cli_fail(cmd, s->ctx, st);
    hs_cli_close(s);
    return code;
  }
  hs_cli_progress_install(s->ctx, o->quiet || hs_cli_mpi_rank() > 0); /* rank 0 draws */
  return HS_EXIT_OK;
}

int hs_cli_open(const char *cmd, const hs_cli_opts *o, hs_cli_session *s) {
  int code = hs_cli_open_context(cmd, o, s);
  if (code) return code;
  hs_status st;
  hs_model_spec spec;
  if (!o->model) {
    code = hs_cli_usage(cmd, "--model FILE is required (a model spec JSON; see examples/)");
    goto fail;
  }
  if ((st = hs_spec_load(s->ctx, o->model, &spec)) != HS_OK ||
      (st = hs_model_create(s->ctx, &spec, &s->model)) != HS_OK)
    goto fail_st;
  st = o->weights ? hs_model_load(s->model, o->weights) : hs_model_init(s->model, o->seed);
  if (st != HS_OK) goto fail_st;
  if ((st = hs_cli_load_data(s->ctx, o, &spec, &s->data, s->data_desc, sizeof s->data_desc)) != HS_OK) goto fail_st;
  if (hs_cli_mpi_should_fail()) { /* test hook: this rank's data are unusable (docs/mpi.md) */
    fprintf(stderr, "hesspec %s: rank %d: simulated failure reading the data (HESSPEC_MPI_FAIL_RANK)\n", cmd, hs_cli_mpi_rank());
    code = HS_EXIT_FAIL;
    goto fail;
  }
  if (o->batch > hs_dataset_size(s->data)) {
    code = hs_cli_usage(cmd, "--batch %zu is larger than the %zu samples", o->batch, hs_dataset_size(s->data));
    goto fail;
  }
  if ((st = hs_model_bind(s->model, s->data, o->batch)) != HS_OK) goto fail_st;
  return HS_EXIT_OK;
fail_st:
  code = hs_cli_fail(cmd, s->ctx, st);
fail:
  hs_cli_close(s);
  return code;
}

void hs_cli_close(hs_cli_session *s) {
  hs_model_destroy(s->model);
  hs_dataset_destroy(s->data);
  hs_context_destroy(s->ctx);
  memset(s, 0, sizeof *s);
}

