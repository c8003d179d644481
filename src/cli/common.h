/* Shared CLI plumbing: the common options of DESIGN.md, building a context, model and data
 * from them, error reporting and exit codes. Only the CLI prints or exits. */
#ifndef HS_CLI_COMMON_H
#define HS_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

enum { HS_EXIT_OK = 0, HS_EXIT_FAIL = 1, HS_EXIT_USAGE = 2 };

typedef struct {
  const char *model;    /* --model FILE (spec JSON) */
  const char *weights;  /* --weights FILE (safetensors) */
  const char *inputs;   /* --inputs X.npy */
  const char *targets;  /* --targets Y.npy */
  const char *dataset;  /* --dataset NAME */
  const char *device;   /* --device auto|cpu|cuda[:i] */
  const char *out;      /* --out PATH */
  const char *matrix;   /* --matrix A.npy (spectrum/eig/trace) */
  size_t samples;       /* --samples N (0 = all) */
  size_t batch;         /* --batch B (0 = all samples) */
  hs_dtype dtype;       /* --dtype f64|f32 */
  uint64_t seed;        /* --seed S */
  int threads;          /* --threads T (0 = all cores) */
  int tf32;             /* --tf32 */
  int quiet;            /* --quiet */
} hs_cli_opts;

typedef struct {
  hs_context *ctx;
  hs_model *model;
  hs_dataset *data;
  char data_desc[512]; /* provenance: "fashion-mnist:train (1024 samples)" or the .npy paths */
} hs_cli_session;

void hs_cli_opts_init(hs_cli_opts *o);
/* Parses argv[*i] if it is a common option (consuming its value too): 1 when consumed, 0 when
 * not a common option, -1 after printing a usage error. */
int hs_cli_parse_common(const char *cmd, hs_cli_opts *o, int argc, char **argv, int *i);
/* Value parsers for command-specific options: print a usage error and return -1 when bad. */
int hs_cli_value(const char *cmd, int argc, char **argv, int *i, const char **out);
int hs_cli_size(const char *cmd, const char *opt, const char *text, size_t *out);
int hs_cli_double(const char *cmd, const char *opt, const char *text, double *out);

/* Creates the context only (for commands on an explicit matrix). */
int hs_cli_open_context(const char *cmd, const hs_cli_opts *o, hs_cli_session *s);
/* Context, model (weights or seeded init) and data bound with --batch. Returns an exit code. */
int hs_cli_open(const char *cmd, const hs_cli_opts *o, hs_cli_session *s);
void hs_cli_close(hs_cli_session *s);

/* Prints "hesspec CMD: MESSAGE" to stderr and returns the exit code for st (2 for bad input). */
int hs_cli_fail(const char *cmd, hs_context *ctx, hs_status st);
int hs_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hs_cli_exit_code(hs_status st);

/* Installs the progress reporter (a bar on a terminal, silent otherwise or with --quiet). */
void hs_cli_progress_install(hs_context *ctx, int quiet);

/* Text of `hesspec help` for the common options. */
extern const char hs_cli_common_help[];

#endif
