/* hesspec spectrum: the SLQ spectral density of the Hessian (or GGN, or a matrix). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/mpi.h"
#include "cli/spectra_cli.h"
#include "io/svg_plot.h"
#include "linalg/slq.h"

static int run(int argc, char **argv) {
  const char *cmd = "spectrum", *plot = NULL, *v;
  int ggn = 0, log_y = 0, by_probes = 0;
  double sym_tol = 1e-10;
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_slq_options so = hs_slq_defaults();
  for (int i = 1; i < argc; i++) {
    int r = hs_spectra_parse_common(cmd, &o, argc, argv, &i, &ggn);
    if (r < 0) return HS_EXIT_USAGE;
    if (r == 1) continue;
    const char *a = argv[i];
    if (strcmp(a, "--log") == 0) {
      log_y = 1;
    } else if (strcmp(a, "--reorth") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0) return HS_EXIT_USAGE;
      if (strcmp(v, "full") == 0) so.reorth = HS_REORTH_FULL;
      else if (strcmp(v, "partial") == 0) so.reorth = HS_REORTH_PARTIAL;
      else return hs_cli_usage(cmd, "--reorth '%s': expected full or partial", v);
    } else if (strcmp(a, "--parallel") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_spectra_parallel(cmd, v, &by_probes) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--plot") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &plot) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--steps") == 0 || strcmp(a, "--probes") == 0 || strcmp(a, "--grid") == 0) {
      size_t n;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_size(cmd, a, v, &n) < 0) return HS_EXIT_USAGE;
      if (n < (a[2] == 'g' ? 2u : 1u))
        return hs_cli_usage(cmd, "%s %zu: must be at least %d", a, n, a[2] == 'g' ? 2 : 1);
      if (a[2] == 's') so.steps = n;
      else if (a[2] == 'p') so.probes = n;
      else so.grid_points = n;
    } else if (strcmp(a, "--sigma") == 0 || strcmp(a, "--neg-tol") == 0 || strcmp(a, "--grid-min") == 0 ||
               strcmp(a, "--grid-max") == 0 || strcmp(a, "--sym-tol") == 0) {
      double d;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_double(cmd, a, v, &d) < 0) return HS_EXIT_USAGE;
      if (strcmp(a, "--sigma") == 0) {
        if (!(d > 0)) return hs_cli_usage(cmd, "--sigma %g: must be a positive standard deviation", d);
        so.sigma = d;
      } else if (strcmp(a, "--neg-tol") == 0) {
        if (d < 0) return hs_cli_usage(cmd, "--neg-tol %g: must be >= 0", d);
        so.neg_tol = d;
      } else if (strcmp(a, "--sym-tol") == 0) {
        if (d < 0) return hs_cli_usage(cmd, "--sym-tol %g: must be >= 0", d);
        sym_tol = d;
      } else if (strcmp(a, "--grid-min") == 0) {
        so.grid_lo = d;
      } else {
        so.grid_hi = d;
      }
    } else {
      return hs_cli_usage(cmd, "unknown option '%s'", a);
    }
  }
  if (!o.out) return hs_cli_usage(cmd, "--out FILE.json is required (the density file)");
  if ((so.grid_lo != 0 || so.grid_hi != 0) && !(so.grid_hi > so.grid_lo))
    return hs_cli_usage(cmd, "--grid-min %g --grid-max %g: both are needed, min < max", so.grid_lo, so.grid_hi);
  so.seed = o.seed;
  if (by_probes && hs_cli_mpi_ranks() > 1) {
    if (so.probes < (size_t)hs_cli_mpi_ranks())
      return hs_cli_usage(cmd, "--parallel probes with %zu probes on %d ranks: every rank needs a probe", so.probes, hs_cli_mpi_ranks());
    so.part = (size_t)hs_cli_mpi_rank();
    so.parts = (size_t)hs_cli_mpi_ranks();
  }

  hs_spectra_session ss;
  int code = hs_spectra_open(cmd, &o, ggn, sym_tol, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  hs_slq_result *r = NULL;
  hs_status st = hs_slq_run(ss.op, &so, &r);
  if (st == HS_OK) st = hs_spectra_gather_slq(ctx, &so, &r); /* probe parallel: all ranks' probes */
  if (st == HS_OK) {
    hs_spectra_finish(&ss);
    st = hs_density_write(ctx, o.out, &ss.prov, r);
  }
  if (st == HS_OK && plot) {
    hs_plot_series s = {.label = NULL, .n = r->grid_n, .x = r->grid, .y = r->density};
    char title[256];
    snprintf(title, sizeof title, "%s spectral density (SLQ: %zu steps, %zu probes, sigma %.3g)",
             ss.prov.operator_kind, r->steps, r->probes, r->sigma);
    hs_plot_options po = {.log_y = log_y, .title = title};
    st = hs_svg_density_write(ctx, plot, &s, 1, &po);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else if (!o.quiet) {
    printf("params %zu  steps %zu  probes %zu  sigma %.6g (standard deviation)\n", r->n, r->steps, r->probes, r->sigma);
    printf("lambda_min %.10g  lambda_max %.10g\n", r->lambda_min, r->lambda_max);
    printf("trace %.10g +- %.3g  negative fraction %.6f +- %.3g (below -%.3g; quadrature bounds [%.4f, %.4f])\n",
           r->trace, r->trace_se, r->neg_frac, r->neg_frac_se, r->neg_tol, r->neg_frac_lo, r->neg_frac_hi);
    printf("time %.3f s: operator %.3f s (%zu products), reorthogonalisation %.3f s, host %.3f s\n", r->t_total,
           r->t_apply, r->applies, r->t_reorth, r->t_host);
    printf("wrote %s%s%s\n", o.out, plot ? " and " : "", plot ? plot : "");
  }
  hs_slq_free(r);
  hs_spectra_close(&ss);
  return code;
}

const hs_cli_command hs_cmd_spectrum = {
    "spectrum", run, "spectral density by stochastic Lanczos quadrature",
    "usage: hesspec spectrum (--model M.json [--weights W] DATA [--ggn] | --matrix A.npy) --out D.json\n"
    "                        [--steps M] [--probes K] [--sigma S] [--grid G] [--grid-min A --grid-max B]\n"
    "                        [--neg-tol T] [--reorth full|partial] [--plot FIG.svg [--log]]\n\n"
    "Density phi(x) = (1/K) sum_p sum_i w_pi N(x; theta_pi, sigma^2): the probe average of Gaussians of\n"
    "STANDARD DEVIATION sigma at the Ritz values theta (weights w: squared first components).\n"
    "  --steps M     Lanczos steps per probe, 1..P (default 80, or P if smaller)\n"
    "  --probes K    Rademacher probe vectors (default 10; seeded by --seed)\n"
    "  --sigma S     kernel standard deviation (default (lambda_max - lambda_min) / 200)\n"
    "  --grid G      grid points (default: spacing <= sigma/4, at least 1001, at most 100001)\n"
    "  --grid-min/--grid-max  grid range (default lambda_min - 5 sigma .. lambda_max + 5 sigma)\n"
    "  --neg-tol T   negative mass counts Ritz nodes below -T (default 1e-4 max|lambda|)\n"
    "  --reorth R    full (default): Gram-Schmidt against the whole basis every step; partial:\n"
    "                only when Simon's estimate of lost orthogonality exceeds sqrt(eps) (faster for large P)\n"
    "  --plot F.svg  also draw the density (--log: logarithmic density axis)\n"
    "  --parallel P  under mpirun: data (default; the samples split over the ranks) or probes\n"
    "                (each rank runs whole probes over all the data; docs/mpi.md)\n"
    "Writes D.json (\"hesspec.density/1\", per-probe nodes and weights included) and D.csv beside it.\n\n"};
