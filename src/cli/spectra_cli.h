/* Shared by `spectrum`, `eig` and `trace`: the operator (a model's Hessian / Gauss-Newton
 * matrix, or --matrix A.npy) and the provenance of the result file. */
#ifndef HS_CLI_SPECTRA_H
#define HS_CLI_SPECTRA_H

#include "analysis/blocks.h"
#include "cli/common.h"
#include "io/density.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "linalg/trace.h"

typedef struct {
  hs_cli_session s;
  hs_linop *op;       /* the operator to run on; NULL with --block all (see hs_spectra_block) */
  hs_linop *base;     /* the model's whole operator when a block is selected (op is its block) */
  hs_block_list blocks;             /* --block: the resolved blocks (one, or every layer) */
  int all;                          /* --block all */
  hs_block_desc *desc;              /* (blocks.n) for the result files */
  const char **tensor_names;        /* borrowed model names, indexed by desc */
  char *spec_json;  /* owned */
  hs_provenance prov;
  double t0;
} hs_spectra_session;

/* The operator options of spectrum, eig and trace (table hs_spectra_options). */
typedef struct {
  const char *matrix; /* --matrix A.npy instead of a model */
  int ggn;            /* --ggn: the Gauss-Newton matrix (= --operator ggn) */
  int curv;           /* --operator hessian|ggn|residual (hs_curvature); -1: not given */
  const char *block;  /* --block NAME|all; NULL: the whole operator */
  double sym_tol;     /* --sym-tol: allowed asymmetry of --matrix relative to max|A| */
} hs_spectra_args;

void hs_spectra_args_init(hs_spectra_args *a);
extern const hs_setting hs_spectra_options[];

/* Opens the session: --matrix (context only; square, finite, symmetric within sym_tol
 * relative to max|A|) or a model with its data; ggn selects the Gauss-Newton operator.
 * Returns an exit code (messages printed). */
int hs_spectra_open(const char *cmd, const hs_cli_opts *o, const hs_spectra_args *sa, hs_spectra_session *ss);
/* With --block all: the operator of block b (caller destroys it). */
hs_status hs_spectra_block(hs_spectra_session *ss, size_t b, hs_linop **op);
/* Stamps the elapsed time into the provenance. */
void hs_spectra_finish(hs_spectra_session *ss);
void hs_spectra_close(hs_spectra_session *ss);

/* --parallel data|probes of spectrum and trace (docs/mpi.md): the choices, and the switch to
 * call after parsing (under MPI, probes makes each rank a single process over all the data). */
extern const hs_setting_choice hs_spectra_parallel_modes[];
void hs_spectra_set_parallel(int by_probes);
/* Probe parallel: every rank's part (hs_slq_options/hs_trace_options part, parts) gathered
 * into the result of all probes in probe order, then summarised as one run's. *r is this
 * rank's part on entry and the whole result on return. */
hs_status hs_spectra_gather_slq(hs_context *ctx, const hs_slq_options *so, hs_slq_result **r);
hs_status hs_spectra_gather_trace(hs_context *ctx, const hs_trace_options *to, hs_trace_result **r);

#endif
