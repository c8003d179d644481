/* hesspec trace: Hutchinson's estimate of the trace of the Hessian (or GGN, or a matrix). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/spectra_cli.h"
#include "linalg/trace.h"

static const hs_setting_choice methods[] = {
    {"hutchinson", HS_TRACE_HUTCHINSON}, {"hutch++", HS_TRACE_HUTCHPP}, {"hutchpp", HS_TRACE_HUTCHPP}, {NULL, 0}};
_Static_assert(sizeof(hs_trace_method) == sizeof(int), "a choice field is an int");

static const hs_setting trace_options[] = {
    {.name = "probes", .type = HS_SET_UINT, HS_SET_FIELD(hs_trace_options, probes), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "K", .help = "Rademacher probes (default 100; seeded by --seed, the vectors SLQ starts from)"},
    {.name = "method", .type = HS_SET_CHOICE, HS_SET_FIELD(hs_trace_options, method), .choices = methods,
     .help = "hutchinson (default) or hutch++: K products split into a K/3 sketch whose range\n"
             "is traced exactly and K/3 Hutchinson probes for the rest (far smaller error when a\n"
             "few eigenvalues dominate, as in Hessians)"},
    {.name = "probe-block", .type = HS_SET_UINT, HS_SET_FIELD(hs_trace_options, block), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "B", .help = "probes per operator call (default min(K, 32))"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, hs_spectra_options, trace_options, NULL};

static int run(int argc, char **argv) {
  const char *cmd = "trace";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_spectra_args sa;
  hs_spectra_args_init(&sa);
  hs_trace_options to = {.probes = HS_TRACE_DEFAULT_PROBES};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {hs_spectra_options, &sa}, {trace_options, &to}};
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  to.seed = o.seed;
  hs_spectra_session ss;
  int code = hs_spectra_open(cmd, &o, &sa, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  hs_trace_result *r = NULL;
  hs_status st = hs_trace_hutchinson(ss.op, &to, &r);
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
    "vectors SLQ starts from). Prints the estimate and its standard error; --out writes \"hesspec.trace/1\".\n",
    tables};
