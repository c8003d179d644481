/* hesspec trace: Hutchinson's estimate of the trace of the Hessian (or GGN, or a matrix). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/mpi.h"
#include "cli/spectra_cli.h"

static const hs_setting_choice methods[] = {
    {"hutchinson", HS_TRACE_EST_HUTCHINSON}, {"hutch++", HS_TRACE_EST_HUTCHPP}, {"hutchpp", HS_TRACE_EST_HUTCHPP},
    {NULL, 0}};
_Static_assert(sizeof(hs_trace_est_method) == sizeof(int), "a choice field is an int");

typedef struct {
  hs_trace_est_options to;
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
static hs_status run_blocks(hs_spectra_session *ss, const hs_trace_est_options *to, const char *out, int quiet) {
  const size_t nb = ss->nlayers;
  hs_status st = HS_OK;
  hs_trace_est *parts = calloc(nb, sizeof *parts);
  hs_operator **ops = calloc(nb, sizeof *ops);
  double sum = 0, var = 0;
  if (!parts || !ops) {
    st = hs_set_error(ss->s.ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  for (size_t b = 0; b < nb; b++) {
    if ((st = hs_spectra_layer(ss, b, &ops[b])) != HS_OK || (st = hs_trace_estimate(ops[b], to, &parts[b])) != HS_OK)
      goto cleanup;
    const hs_trace_est *t = &parts[b];
    sum += t->trace;
    var += isfinite(t->trace_stderr) ? t->trace_stderr * t->trace_stderr : 0;
    printf("  %-28s params %8zu  trace %.12g +- %.3g\n", hs_operator_layer_name(ss->whole, b), t->n, t->trace,
           t->trace_stderr);
  }
  printf("trace %.12g +- %.3g (sum over %zu blocks)\n", sum, sqrt(var), nb);
  if (out) {
    hs_spectra_finish(ss);
    if ((st = hs_trace_save_blocks(nb, ops, to, parts, &ss->info, out)) != HS_OK) goto cleanup;
    if (!quiet) printf("wrote %s\n", out);
  }
cleanup:
  for (size_t b = 0; parts && ops && b < nb; b++) {
    hs_trace_est_free(&parts[b]);
    hs_operator_destroy(ops[b]);
  }
  free(parts);
  free(ops);
  return st;
}

static int run(int argc, char **argv) {
  const char *cmd = "trace";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_spectra_args sa;
  hs_spectra_args_init(&sa);
  trace_args ta = {.to = hs_trace_est_defaults()};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {hs_spectra_options, &sa}, {trace_options, &ta}};
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  hs_trace_est_options to = ta.to;
  to.seed = o.seed;
  if (to.method == HS_TRACE_EST_HUTCHPP && to.probes < 3)
    return hs_cli_usage(cmd, "--probes %zu: hutch++ needs at least 3 (a sketch, its products and a probe)", to.probes);
  if (ta.by_probes && hs_cli_mpi_ranks() > 1 && to.method == HS_TRACE_EST_HUTCHPP)
    return hs_cli_usage(cmd, "--parallel probes: Hutch++ couples its probes through the sketch; use --parallel data");
  int code = hs_spectra_parallel(cmd, ta.by_probes, to.probes, &to.part, &to.parts, &to.allgather);
  if (code) return code;
  hs_spectra_session ss;
  code = hs_spectra_open(cmd, &o, &sa, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  if (ss.all) {
    hs_status sb = run_blocks(&ss, &to, o.out, o.quiet);
    code = sb == HS_OK ? HS_EXIT_OK : hs_cli_fail(cmd, ctx, sb);
    hs_spectra_close(&ss);
    return code;
  }
  hs_trace_est r;
  hs_status st = hs_trace_estimate(ss.op, &to, &r);
  if (st == HS_OK && o.out) {
    hs_spectra_finish(&ss);
    st = hs_trace_save(ss.op, &to, &r, &ss.info, o.out);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else {
    printf("trace %.12g +- %.3g (%s, %zu operator products, P = %zu, %.3f s)\n", r.trace, r.trace_stderr,
           to.method == HS_TRACE_EST_HUTCHPP ? "Hutch++" : "Hutchinson", r.operator_applications, r.n,
           r.total_seconds);
    if (o.out && !o.quiet) printf("wrote %s\n", o.out);
  }
  hs_trace_est_free(&r);
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
