/* hesspec trace: Hutchinson's estimate of the trace of the Hessian (or GGN, or a matrix). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/mpi.h"
#include "cli/spectra_cli.h"
#include "linalg/trace.h"

static int run(int argc, char **argv) {
  const char *cmd = "trace", *v;
  int ggn = 0, by_probes = 0;
  double sym_tol = 1e-10;
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_trace_options to = {.probes = HS_TRACE_DEFAULT_PROBES};
  for (int i = 1; i < argc; i++) {
    int r = hs_spectra_parse_common(cmd, &o, argc, argv, &i, &ggn);
    if (r < 0) return HS_EXIT_USAGE;
    if (r == 1) continue;
    const char *a = argv[i];
    if (strcmp(a, "--probes") == 0 || strcmp(a, "--block") == 0) {
      size_t n;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_size(cmd, a, v, &n) < 0) return HS_EXIT_USAGE;
      if (n < 1) return hs_cli_usage(cmd, "%s 0: must be at least 1", a);
      if (a[2] == 'p') to.probes = n;
      else to.block = n;
    } else if (strcmp(a, "--method") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0) return HS_EXIT_USAGE;
      if (strcmp(v, "hutchinson") == 0) to.method = HS_TRACE_HUTCHINSON;
      else if (strcmp(v, "hutch++") == 0 || strcmp(v, "hutchpp") == 0) to.method = HS_TRACE_HUTCHPP;
      else return hs_cli_usage(cmd, "--method '%s': expected hutchinson or hutch++", v);
    } else if (strcmp(a, "--parallel") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_spectra_parallel(cmd, v, &by_probes) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--sym-tol") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_double(cmd, a, v, &sym_tol) < 0) return HS_EXIT_USAGE;
      if (sym_tol < 0) return hs_cli_usage(cmd, "--sym-tol %g: must be >= 0", sym_tol);
    } else {
      return hs_cli_usage(cmd, "unknown option '%s'", a);
    }
  }
  to.seed = o.seed;
  if (by_probes && hs_cli_mpi_ranks() > 1) {
    if (to.method == HS_TRACE_HUTCHPP)
      return hs_cli_usage(cmd, "--parallel probes: Hutch++ couples its probes through the sketch; use --parallel data");
    if (to.probes < (size_t)hs_cli_mpi_ranks())
      return hs_cli_usage(cmd, "--parallel probes with %zu probes on %d ranks: every rank needs a probe", to.probes, hs_cli_mpi_ranks());
    to.part = (size_t)hs_cli_mpi_rank();
    to.parts = (size_t)hs_cli_mpi_ranks();
  }
  hs_spectra_session ss;
  int code = hs_spectra_open(cmd, &o, ggn, sym_tol, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  hs_trace_result *r = NULL;
  hs_status st = hs_trace_hutchinson(ss.op, &to, &r);
  if (st == HS_OK) st = hs_spectra_gather_trace(ctx, &to, &r); /* probe parallel: all ranks' probes */
  if (st == HS_OK && o.out) {
    hs_spectra_finish(&ss);
    st = hs_trace_write(ctx, o.out, &ss.prov, r);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else {
    printf("trace %.12g +- %.3g (%s, %zu operator products, P = %zu, %.3f s)\n", r->trace, r->trace_se,
           r->method == HS_TRACE_HUTCHPP ? "Hutch++" : "Hutchinson", r->applies, r->n, r->t_total);
    if (o.out && !o.quiet) printf("wrote %s\n", o.out);
  }
  hs_trace_free(r);
  hs_spectra_close(&ss);
  return code;
}

const hs_cli_command hs_cmd_trace = {
    "trace", run, "trace by Hutchinson's estimator, with its standard error",
    "usage: hesspec trace (--model M.json [--weights W] DATA [--ggn] | --matrix A.npy) [--probes K]\n"
    "                     [--method hutchinson|hutch++] [--out T.json]\n\n"
    "tr(A) ~ mean of z^T A z over K Rademacher vectors z (default K = 100, seeded by --seed; the same\n"
    "vectors SLQ starts from). Prints the estimate and its standard error; --out writes \"hesspec.trace/1\".\n"
    "  --method M    hutchinson (default) or hutch++: K products split into a K/3 sketch whose range\n"
    "                is traced exactly and K/3 Hutchinson probes for the rest (far smaller error when a\n"
    "                few eigenvalues dominate, as in Hessians)\n"
    "  --block B     probes per operator call (default min(K, 32))\n"
    "  --parallel P  under mpirun: data (default) or probes (each rank runs whole probes; Hutchinson only)\n\n"};
