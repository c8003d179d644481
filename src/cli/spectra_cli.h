/* Shared by `spectrum`, `eig` and `trace`: the operator (a model's Hessian / Gauss-Newton
 * matrix, or --matrix A.npy) and the provenance of the result file. */
#ifndef HS_CLI_SPECTRA_H
#define HS_CLI_SPECTRA_H

#include "cli/common.h"
#include "io/density.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "linalg/trace.h"

typedef struct {
  hs_cli_session s;
  hs_linop *op;
  char *spec_json;  /* owned */
  hs_provenance prov;
  double t0;
} hs_spectra_session;

/* Parses argv[*i] if it is a common option or --ggn (setting *ggn): 1 when consumed, 0 when
 * not one of these, -1 after printing a usage error. */
int hs_spectra_parse_common(const char *cmd, hs_cli_opts *o, int argc, char **argv, int *i, int *ggn);
/* Opens the session: --matrix (context only; square, finite, symmetric within sym_tol
 * relative to max|A|) or a model with its data; ggn selects the Gauss-Newton operator.
 * Returns an exit code (messages printed). */
int hs_spectra_open(const char *cmd, const hs_cli_opts *o, int ggn, double sym_tol, hs_spectra_session *ss);
/* Stamps the elapsed time into the provenance. */
void hs_spectra_finish(hs_spectra_session *ss);
void hs_spectra_close(hs_spectra_session *ss);

/* --parallel data|probes (spectrum, trace; docs/mpi.md): sets *probes; -1 after a usage
 * error. Under MPI, probes makes each rank a single process over all the data. */
int hs_spectra_parallel(const char *cmd, const char *value, int *probes);
/* Probe parallel: every rank's part (hs_slq_options/hs_trace_options part, parts) gathered
 * into the result of all probes in probe order, then summarised as one run's. *r is this
 * rank's part on entry and the whole result on return. */
hs_status hs_spectra_gather_slq(hs_context *ctx, const hs_slq_options *so, hs_slq_result **r);
hs_status hs_spectra_gather_trace(hs_context *ctx, const hs_trace_options *to, hs_trace_result **r);

/* Text of `hesspec help` for the operator options. */
extern const char hs_spectra_operator_help[];

#endif
