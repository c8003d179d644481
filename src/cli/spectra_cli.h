/* Shared by `spectrum`, `eig` and `trace`: the operator (a model's Hessian / Gauss-Newton
 * matrix, or --matrix A.npy) and the provenance of the result file. */
#ifndef HS_CLI_SPECTRA_H
#define HS_CLI_SPECTRA_H

#include "cli/common.h"
#include "io/density.h"
#include "linalg/linop.h"

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

/* Text of `hesspec help` for the operator options. */
extern const char hs_spectra_operator_help[];

#endif
