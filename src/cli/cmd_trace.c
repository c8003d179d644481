/* hesspec trace: Hutchinson's estimate of the trace of the Hessian (or GGN, or a matrix). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/mpi.h"
#include "cli/spectra_cli.h"
#include "linalg/trace.h"

static const hs_setting_choice methods[] = {
    {"hutchinson", HS_TRACE_HUTCHINSON}, {"hutch++", HS_TRACE_HUTCHPP}, {"hutchpp", HS_TRACE_HUTCHPP}, {NULL, 0}};
_Static_assert(sizeof(hs_trace_method) == sizeof(int), "a choice field is an int");

typedef struct {
  hs_trace_options to;
  int by_probes;
} trace_args;

static const hs_setting trace_options[] = {
    {.name = "probes", .type = HS_SET_UINT, HS_SET_FIELD(trace_args, to.probes), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "K", .help = "Rademacher probes (default 100; seeded by --seed, the vectors SLQ starts from)"},
    {.name = "method", .type = HS_SET_CHOICE, HS_SET_FIELD(trace_args, to.method), .choices = methods,
     .help = "hutchinson (default) or hutch++: K products split into a K/3 sketch whose range\n"
             "is traced exactly and K/3 Hutchinson probes for the rest (far smaller error when a\n"
             "few eigenvalues dominate, as in Hessians)"},
    {.name = "probe-block", .type = HS_SET_UINT, HS_SET_FIELD(trace_args, to.block), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "B", .help = "probes per operator call (default min(K, 32))"},
    {.name = "parallel", .type = HS_SET_CHOICE, HS_SET_FIELD(trace_args, by_probes), .choices = hs_spectra_parallel_modes,
     .help = "under mpirun: data (default; the samples split over the ranks) or probes\n"
             "(each rank runs whole probes over all the data; Hutchinson only; docs/mpi.md)"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, hs_spectra_options, trace_options, NULL};

/* --block all: each layer's block in turn (same seed), one file; the sum is the trace. */
static hs_status run_blocks(hs_spectra_session *ss, const hs_trace_options *to, const char *out, int quiet) {
  size_t nb = ss->blocks.n;
  hs_status st = HS_OK;
  hs_trace_result **parts = calloc(nb, sizeof *parts);
  hs_linop *op = NULL;
  double sum = 0, var = 0;
  if (!parts) return hs_set_error(ss->s.ctx, HS_E_NOMEM, "out of host memory");
  for (size_t b = 0; b < nb; b++) {
    HS_TRY(hs_spectra_block(ss, b, &op));
    HS_TRY(hs_trace_hutchinson(op, to, &parts[b]));
    hs_linop_destroy(op);
    op = NULL;
    sum += parts[b]->trace;
    var += isfinite(parts[b]->trace_se) ? parts[b]->trace_se * parts[b]->trace_se : 0;
    printf("  %-28s params %8zu  trace %.12g +- %.3g\n", ss->blocks.b[b].name, ss->blocks.b[b].params,
           parts[b]->trace, parts[b]->trace_se);
  }
  printf("trace %.12g +- %.3g (sum over %zu blocks)\n", sum, sqrt(var), nb);
  if (out) {
    hs_spectra_finish(ss);
    HS_TRY(hs_trace_write_blocks(ss->s.ctx, out, &ss->prov, nb, ss->desc, (const hs_trace_result *const *)parts));
    if (!quiet) printf("wrote %s\n", out);
  }
cleanup:
  hs_linop_destroy(op);
  for (size_t b = 0; b < nb; b++) hs_trace_free(parts[b]);
  free(parts);
  return st;
}

static int run(int argc, char **argv) {
  const char *cmd = "trace";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_spectra_args sa;
  hs_spectra_args_init(&sa);
  trace_args ta = {.to = {.probes = HS_TRACE_DEFAULT_PROBES}};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {hs_spectra_options, &sa}, {trace_options, &ta}};
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  hs_trace_options to = ta.to;
  hs_spectra_set_parallel(ta.by_probes);
  int by_probes = ta.by_probes;
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
  int code = hs_spectra_open(cmd, &o, &sa, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  hs_trace_result *r = NULL;
  if (ss.all) {
    hs_status sb = run_blocks(&ss, &to, o.out, o.quiet);
    code = sb == HS_OK ? HS_EXIT_OK : hs_cli_fail(cmd, ctx, sb);
    hs_spectra_close(&ss);
    return code;
  }
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
    .name = "trace",
    .run = run,
    .summary = "trace by Hutchinson's estimator, with its standard error",
    .usage = "usage: hesspec trace (--model M.json [--weights W] DATA [--operator hessian|ggn|residual]\n"
    "                     [--block NAME|all] | --matrix A.npy) [--probes K]\n"
    "                     [--method hutchinson|hutch++] [--out T.json]\n\n"
    "tr(A) ~ mean of z^T A z over K Rademacher vectors z (default K = 100, seeded by --seed; the same\n"
    "vectors SLQ starts from). Prints the estimate and its standard error; --out writes \"hesspec.trace/1\".\n",
    .options = tables};
