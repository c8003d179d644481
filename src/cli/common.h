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

/* A CPU context of one thread for commands that compute nothing on a device (plot, run): the
 * library's readers and file helpers report through it. */
hs_status hs_cli_plain_context(hs_context **ctx);
/* Creates the context only (for commands on an explicit matrix). */
int hs_cli_open_context(const char *cmd, const hs_cli_opts *o, hs_cli_session *s);
/* Context, model (weights or seeded init) and data bound with --batch. Returns an exit code. */
int hs_cli_open(const char *cmd, const hs_cli_opts *o, hs_cli_session *s);
void hs_cli_close(hs_cli_session *s);

/* Prints "hesspec CMD: MESSAGE" to stderr and returns the exit code for st: 2 for bad input
 * (HS_E_INVALID, HS_E_IO, HS_E_UNSUPPORTED), 128 + signal for a cancel by SIGINT/SIGTERM
 * (130, 143), 1 for every other failure (HS_E_OUTPUT, HS_E_NOMEM, ...). */
int hs_cli_fail(const char *cmd, hs_context *ctx, hs_status st);
int hs_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hs_cli_exit_code(hs_status st);

/* Installs the progress hook: it polls the cancel flag (HS_E_CANCELLED after SIGINT or
 * SIGTERM) and draws a bar on a terminal (silent otherwise or with --quiet). */
void hs_cli_progress_install(hs_context *ctx, int quiet);
/* Cancellation by signal: main.c's handlers record the signal (async-signal-safe); the
 * progress and epoch hooks return hs_cli_cancel_status(). */
void hs_cli_note_signal(int sig);
int hs_cli_caught_signal(void); /* 0 when none */
hs_status hs_cli_cancel_status(void);

/* Seconds on the monotonic clock (only differences mean something): the CLI's timings. */
double hs_cli_now(void);

/* The common options (fields of hs_cli_opts): every command's first table. */
extern const hs_setting hs_cli_common_options[];

#endif
