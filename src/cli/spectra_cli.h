/* Shared by `spectrum`, `eig` and `trace`: the operator (a model's Hessian / Gauss-Newton
 * matrix, or --matrix A.npy) and the provenance of the result file. */
#ifndef HS_CLI_SPECTRA_H
#define HS_CLI_SPECTRA_H

#include "cli/common.h"

typedef struct {
  hs_cli_session s;
  hs_operator *whole;  /* the model's operator (or the matrix) */
  hs_operator *op;     /* what to run on: whole, or the block of --block NAME; NULL with --block all */
  int all;             /* --block all: one operator per layer (hs_spectra_layer) */
  size_t nlayers;      /* with all */
  hs_run_info info;    /* for the result files: --weights, the data (or --matrix) and the time */
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
/* With --block all: the operator of layer b (caller destroys it before closing). */
hs_status hs_spectra_layer(hs_spectra_session *ss, size_t b, hs_operator **op);
/* Stamps the elapsed time into the run's info. */
void hs_spectra_finish(hs_spectra_session *ss);
void hs_spectra_close(hs_spectra_session *ss);

/* --parallel data|probes of spectrum and trace (docs/mpi.md): the choices, and the switch to
 * call after parsing. Under MPI, probes makes each rank a single process over all the data
 * that runs probes part, part + parts, ... of `probes` and gathers the rest through the MPI
 * hook: *part, *parts and *allgather are set then, left alone otherwise. Returns an exit code
 * (usage when the ranks outnumber the probes). */
extern const hs_setting_choice hs_spectra_parallel_modes[];
int hs_spectra_parallel(const char *cmd, int by_probes, size_t probes, size_t *part, size_t *parts,
                        hs_allgather_fn *allgather);

#endif
