/* hesspec spectrum: the SLQ spectral density of the Hessian (or GGN, or a matrix). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/spectra_cli.h"

typedef struct {
  hs_spectrum_options so;
  const char *plot;
  int log_y;
  int by_probes;
} spectrum_args;

static const hs_setting_choice reorth_modes[] = {{"full", 0}, {"partial", 1}, {NULL, 0}};

static const hs_setting spectrum_options[] = {
    {.name = "steps", .type = HS_SET_UINT, HS_SET_FIELD(spectrum_args, so.steps), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "M", .help = "Lanczos steps per probe, 1..P (default 80, or P if smaller)"},
    {.name = "probes", .type = HS_SET_UINT, HS_SET_FIELD(spectrum_args, so.probes), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "K", .help = "Rademacher probe vectors (default 10; seeded by --seed)"},
    {.name = "sigma", .type = HS_SET_DOUBLE, HS_SET_FIELD(spectrum_args, so.sigma), .bounds = HS_SET_MIN | HS_SET_MIN_OPEN,
     .metavar = "S", .help = "kernel standard deviation (default (lambda_max - lambda_min) / 200)"},
    {.name = "grid", .type = HS_SET_UINT, HS_SET_FIELD(spectrum_args, so.grid_points), .bounds = HS_SET_MIN | HS_SET_MAX,
     .min = 2, .max = 10000000, .metavar = "G",
     .help = "grid points (default: spacing <= sigma/4, at least 1001, at most 100001)"},
    {.name = "grid-min", .type = HS_SET_DOUBLE, HS_SET_FIELD(spectrum_args, so.grid_min), .metavar = "A",
     .help = "grid range, with --grid-max (default lambda_min - 5 sigma .. lambda_max + 5 sigma)"},
    {.name = "grid-max", .type = HS_SET_DOUBLE, HS_SET_FIELD(spectrum_args, so.grid_max), .metavar = "B",
     .help = "upper end of the grid range"},
    {.name = "neg-tol", .type = HS_SET_DOUBLE, HS_SET_FIELD(spectrum_args, so.neg_tol), .bounds = HS_SET_MIN, .min = 0,
     .metavar = "T", .help = "negative mass counts Ritz nodes below -T (default 1e-4 max|lambda|)"},
    {.name = "reorth", .type = HS_SET_CHOICE, HS_SET_FIELD(spectrum_args, so.partial_reorth), .choices = reorth_modes,
     .help = "full (default): Gram-Schmidt against the whole basis every step; partial:\n"
             "only when Simon's estimate of lost orthogonality exceeds sqrt(eps) (faster for large P)"},
    {.name = "plot", .type = HS_SET_STRING, HS_SET_FIELD(spectrum_args, plot), .metavar = "F.svg",
     .help = "also draw the density"},
    {.name = "log", .type = HS_SET_FLAG, HS_SET_FIELD(spectrum_args, log_y), .help = "with --plot: logarithmic density axis"},
    {.name = "parallel", .type = HS_SET_CHOICE, HS_SET_FIELD(spectrum_args, by_probes), .choices = hs_spectra_parallel_modes,
     .help = "under mpirun: data (default; the samples split over the ranks) or probes\n"
             "(each rank runs whole probes over all the data; docs/mpi.md)"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, hs_spectra_options, spectrum_options, NULL};

/* --block all: SLQ on every layer's block (the same probes seed for each, steps capped at
 * the block's size, each on its own grid), one density of the block-diagonal operator with
 * the blocks beneath. */
static hs_status run_blocks(hs_spectra_session *ss, const hs_spectrum_options *so, int quiet, hs_density **whole) {
  const size_t nb = ss->nlayers;
  hs_status st = HS_OK;
  hs_density **parts = calloc(nb, sizeof *parts);
  hs_operator *op = NULL;
  if (!parts) return hs_set_error(ss->s.ctx, HS_E_NOMEM, "out of host memory");
  for (size_t b = 0; b < nb; b++) {
    hs_spectrum_options bo = *so;
    if ((st = hs_spectra_layer(ss, b, &op)) != HS_OK) goto cleanup;
    size_t nbp = hs_operator_size(op);
    if (bo.steps > nbp) bo.steps = nbp; /* then the block's quadrature is exact */
    bo.grid_min = bo.grid_max = 0;      /* each block on its own grid; the range is the whole's */
    bo.grid_points = 0;
    if ((st = hs_spectrum(op, &bo, &parts[b])) != HS_OK) goto cleanup;
    hs_operator_destroy(op);
    op = NULL;
    hs_density_summary sum;
    hs_density_get_summary(parts[b], &sum);
    if (!quiet)
      printf("  %-28s params %8zu  lambda_min %.8g  lambda_max %.8g  trace %.8g\n", hs_operator_layer_name(ss->whole, b),
             nbp, sum.lambda_min, sum.lambda_max, sum.trace);
  }
  st = hs_density_combine(parts, nb, so, whole); /* takes the parts */
cleanup:
  hs_operator_destroy(op);
  for (size_t b = 0; b < nb; b++) hs_density_destroy(parts[b]);
  free(parts);
  return st;
}

static int run(int argc, char **argv) {
  const char *cmd = "spectrum";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_spectra_args sa;
  hs_spectra_args_init(&sa);
  spectrum_args a = {.so = hs_spectrum_defaults()};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {hs_spectra_options, &sa}, {spectrum_options, &a}};
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  hs_spectrum_options so = a.so;
  const char *plot = a.plot;
  if (!o.out) return hs_cli_usage(cmd, "--out FILE.json is required (the density file)");
  if ((so.grid_min != 0 || so.grid_max != 0) && !(so.grid_max > so.grid_min))
    return hs_cli_usage(cmd, "--grid-min %g --grid-max %g: both are needed, min < max", so.grid_min, so.grid_max);
  so.seed = o.seed;
  int code = hs_spectra_parallel(cmd, a.by_probes, so.probes, &so.part, &so.parts, &so.allgather);
  if (code) return code;

  hs_spectra_session ss;
  code = hs_spectra_open(cmd, &o, &sa, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  hs_density *d = NULL;
  hs_status st = ss.all ? run_blocks(&ss, &so, o.quiet, &d) : hs_spectrum(ss.op, &so, &d);
  if (st == HS_OK) {
    hs_spectra_finish(&ss);
    st = hs_density_save_with(d, &ss.info, o.out);
  }
  hs_density_summary r;
  if (d) hs_density_get_summary(d, &r);
  if (st == HS_OK && plot) {
    hs_plot_line line = {.label = NULL};
    line.n = hs_density_grid(d, &line.x, &line.y, NULL);
    char title[256];
    snprintf(title, sizeof title, "%s spectral density (SLQ: %zu steps, %zu probes, sigma %.3g)",
             hs_operator_kind(ss.whole), r.steps, r.probes, r.sigma);
    hs_plot_style style = {.log_y = a.log_y, .title = title};
    st = hs_plot_svg(ctx, plot, &line, 1, &style);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else if (!o.quiet) {
    printf("params %zu  steps %zu  probes %zu  sigma %.6g (standard deviation)\n", r.params, r.steps, r.probes, r.sigma);
    printf("lambda_min %.10g  lambda_max %.10g\n", r.lambda_min, r.lambda_max);
    printf("trace %.10g +- %.3g  negative fraction %.6f +- %.3g (below -%.3g; quadrature bounds [%.4f, %.4f])\n",
           r.trace, r.trace_stderr, r.negative_fraction, r.negative_fraction_stderr, r.negative_tolerance,
           r.negative_fraction_bounds[0], r.negative_fraction_bounds[1]);
    printf("time %.3f s: operator %.3f s (%zu products), reorthogonalisation %.3f s, host %.3f s\n", r.total_seconds,
           r.operator_seconds, r.operator_applications, r.reorth_seconds, r.host_seconds);
    printf("wrote %s%s%s\n", o.out, plot ? " and " : "", plot ? plot : "");
  }
  hs_density_destroy(d);
  hs_spectra_close(&ss);
  return code;
}

const hs_cli_command hs_cmd_spectrum = {
    .name = "spectrum",
    .run = run,
    .summary = "spectral density by stochastic Lanczos quadrature",
    .usage = "usage: hesspec spectrum (--model M.json [--weights W] DATA [--operator hessian|ggn|residual]\n"
    "                        [--block NAME|all] | --matrix A.npy) --out D.json\n"
    "                        [--steps M] [--probes K] [--sigma S] [--grid G] [--grid-min A --grid-max B]\n"
    "                        [--neg-tol T] [--reorth full|partial] [--plot FIG.svg [--log]]\n\n"
    "Density phi(x) = (1/K) sum_p sum_i w_pi N(x; theta_pi, sigma^2): the probe average of Gaussians of\n"
    "STANDARD DEVIATION sigma at the Ritz values theta (weights w: squared first components).\n"
    "Writes D.json (\"hesspec.density/1\", per-probe nodes and weights included) and D.csv beside it.\n",
    .options = tables};
