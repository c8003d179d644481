#include "cli/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/data.h"
#include "cli/mpi.h"

const char hs_cli_common_help[] =
    "Common options:\n"
    "  --model FILE        model spec (JSON)\n"
    "  --weights FILE      parameters (safetensors); default: seeded initialisation\n"
    "  --inputs X.npy      inputs (N, input_dim)\n"
    "  --targets Y.npy     labels (N,) for cross_entropy, targets (N, output_dim) for mse\n"
    "  --dataset NAME      fashion-mnist[:train|:test], mixture[:sep=S] or teacher[:hidden=HxH,act=A,noise=E]\n"
    "                      (instead of --inputs; docs/io.md)\n"
    "  --samples N         use the first N samples (default: all)\n"
    "  --batch B           batch size, also the batch-norm batch (default: all samples)\n"
    "  --device D          auto | cpu | cuda | cuda:N (default auto)\n"
    "  --dtype T           f64 | f32 (default f64)\n"
    "  --tf32              allow TF32 GEMMs on the GPU (f32 only)\n"
    "  --threads T         CPU threads (default: all cores)\n"
    "  --seed S            seed of initialisation, probes and synthetic data (default 0)\n"
    "  --out PATH          output file\n"
    "  --quiet             no progress display\n";

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
  default: return HS_EXIT_FAIL;
  }
}

int hs_cli_fail(const char *cmd, hs_context *ctx, hs_status st) {
  const char *msg = ctx ? hs_last_error(ctx) : "";
  fprintf(stderr, "hesspec %s: %s\n", cmd, msg && *msg ? msg : hs_status_string(st));
  return hs_cli_exit_code(st);
}

int hs_cli_value(const char *cmd, int argc, char **argv, int *i, const char **out) {
  if (*i + 1 >= argc) {
    hs_cli_usage(cmd, "option %s needs a value", argv[*i]);
    return -1;
  }
  *out = argv[++*i];
  return 1;
}

int hs_cli_size(const char *cmd, const char *opt, const char *text, size_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || *end || end == text || v < 0) {
    hs_cli_usage(cmd, "%s '%s': expected a non-negative integer", opt, text);
    return -1;
  }
  *out = (size_t)v;
  return 1;
}

int hs_cli_double(const char *cmd, const char *opt, const char *text, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || *end || end == text || !isfinite(v)) {
    hs_cli_usage(cmd, "%s '%s': expected a finite number", opt, text);
    return -1;
  }
  *out = v;
  return 1;
}

int hs_cli_parse_common(const char *cmd, hs_cli_opts *o, int argc, char **argv, int *i) {
  const char *a = argv[*i], *v;
  struct { const char *name; const char **dst; } paths[] = {
      {"--model", &o->model},     {"--weights", &o->weights}, {"--inputs", &o->inputs},
      {"--targets", &o->targets}, {"--dataset", &o->dataset}, {"--device", &o->device},
      {"--out", &o->out},         {"--matrix", &o->matrix}};
  for (size_t k = 0; k < sizeof paths / sizeof *paths; k++)
    if (strcmp(a, paths[k].name) == 0) return hs_cli_value(cmd, argc, argv, i, paths[k].dst);
  if (strcmp(a, "--tf32") == 0) return o->tf32 = 1;
  if (strcmp(a, "--quiet") == 0) return o->quiet = 1;
  if (strcmp(a, "--samples") == 0 || strcmp(a, "--batch") == 0 || strcmp(a, "--seed") == 0 ||
      strcmp(a, "--threads") == 0) {
    size_t n;
    if (hs_cli_value(cmd, argc, argv, i, &v) < 0 || hs_cli_size(cmd, a, v, &n) < 0) return -1;
    if (a[2] == 's' && a[3] == 'a') o->samples = n;
    else if (a[2] == 'b') o->batch = n;
    else if (a[2] == 's') o->seed = n;
    else o->threads = (int)n;
    return 1;
  }
  if (strcmp(a, "--dtype") == 0) {
    if (hs_cli_value(cmd, argc, argv, i, &v) < 0) return -1;
    if (strcmp(v, "f64") == 0) o->dtype = HS_F64;
    else if (strcmp(v, "f32") == 0) o->dtype = HS_F32;
    else return hs_cli_usage(cmd, "--dtype '%s': expected f64 or f32", v), -1;
    return 1;
  }
  return 0;
}

int hs_cli_open_context(const char *cmd, const hs_cli_opts *o, hs_cli_session *s) {
  memset(s, 0, sizeof *s);
  hs_context_options co = hs_context_defaults();
  co.device = o->device;
  co.dtype = o->dtype;
  co.threads = o->threads;
  co.tf32 = o->tf32;
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

double hs_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
