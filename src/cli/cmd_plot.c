/* hesspec plot: re-plots density files as one SVG, optionally re-smoothed with another sigma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/context.h"
#include "io/density.h"
#include "io/svg_plot.h"
#include "linalg/slq.h"

#define MAX_FILES 10

static int run(int argc, char **argv) {
  const char *cmd = "plot", *out = NULL, *title = NULL, *labels = NULL, *v;
  const char *files[MAX_FILES];
  size_t nf = 0, grid_points = 0;
  double sigma = 0;
  int log_y = 0, code = HS_EXIT_OK;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--out") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &out) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--title") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &title) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--labels") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &labels) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--log") == 0) {
      log_y = 1;
    } else if (strcmp(a, "--quiet") == 0) {
    } else if (strcmp(a, "--sigma") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_double(cmd, a, v, &sigma) < 0) return HS_EXIT_USAGE;
      if (!(sigma > 0)) return hs_cli_usage(cmd, "--sigma %g: must be a positive standard deviation", sigma);
    } else if (strcmp(a, "--grid") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_size(cmd, a, v, &grid_points) < 0) return HS_EXIT_USAGE;
      if (grid_points < 2 || grid_points > 10000000) return hs_cli_usage(cmd, "--grid %zu: must be 2 .. 10000000", grid_points);
    } else if (a[0] == '-' && a[1] == '-') {
      return hs_cli_usage(cmd, "unknown option '%s'", a);
    } else {
      if (nf == MAX_FILES) return hs_cli_usage(cmd, "at most %d density files", MAX_FILES);
      files[nf++] = a;
    }
  }
  if (nf == 0) return hs_cli_usage(cmd, "no density file given");
  if (!out) return hs_cli_usage(cmd, "--out FIG.svg is required");

  hs_context *ctx = calloc(1, sizeof *ctx); /* messages only: no backend needed */
  hs_density_file df[MAX_FILES];
  memset(df, 0, sizeof df);
  hs_plot_series s[MAX_FILES];
  double *grid = NULL, *dens[MAX_FILES] = {0};
  char *labcopy = labels ? strdup(labels) : NULL;
  hs_status st = HS_OK;
  if (!ctx || (labels && !labcopy)) {
    fprintf(stderr, "hesspec plot: out of memory\n");
    code = HS_EXIT_FAIL;
    goto cleanup;
  }
  for (size_t f = 0; f < nf; f++)
    if ((st = hs_density_read(ctx, files[f], &df[f])) != HS_OK) goto fail_st;
  char *save = NULL, *tok = labcopy ? strtok_r(labcopy, ",", &save) : NULL;
  for (size_t f = 0; f < nf; f++) {
    s[f].label = tok ? tok : df[f].label;
    if (tok) tok = strtok_r(NULL, ",", &save);
    s[f].n = df[f].grid_n;
    s[f].x = df[f].grid;
    s[f].y = df[f].density;
  }
  if (sigma > 0) {
    /* Re-smooth every file's quadrature rules on one common grid. */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t f = 0; f < nf; f++) lo = fmin(lo, df[f].lambda_min), hi = fmax(hi, df[f].lambda_max);
    lo -= 5 * sigma;
    hi += 5 * sigma;
    size_t g = grid_points ? grid_points : hs_slq_auto_grid(lo, hi, sigma);
    grid = malloc(g * sizeof *grid);
    if (!grid) goto nomem;
    for (size_t i = 0; i < g; i++) grid[i] = lo + (hi - lo) * (double)i / (double)(g - 1);
    for (size_t f = 0; f < nf; f++) {
      if (!(dens[f] = malloc(g * sizeof *dens[f]))) goto nomem;
      hs_slq_smooth(df[f].probes, df[f].count, df[f].stride, df[f].nodes, df[f].weights, sigma, g, grid, dens[f], NULL);
      s[f].n = g;
      s[f].x = grid;
      s[f].y = dens[f];
    }
  }
  hs_plot_options po = {.log_y = log_y, .title = title};
  if ((st = hs_svg_density_write(ctx, out, s, nf, &po)) != HS_OK) goto fail_st;
  goto cleanup;
nomem:
  st = hs_fail(ctx, HS_E_NOMEM, "out of memory");
fail_st:
  code = hs_cli_fail(cmd, ctx, st);
cleanup:
  for (size_t f = 0; f < nf; f++) {
    hs_density_file_free(&df[f]);
    free(dens[f]);
  }
  free(grid);
  free(labcopy);
  free(ctx);
  return code;
}

const hs_cli_command hs_cmd_plot = {
    "plot", run, "draw density files as one SVG (overlaid, with a legend)",
    "usage: hesspec plot D1.json [D2.json ...] --out FIG.svg [--log] [--sigma S [--grid G]] [--labels a,b,...]\n"
    "                    [--title T]\n\n"
    "Draws the densities stored in the files, or, with --sigma, re-smooths each file's per-probe\n"
    "nodes and weights with a Gaussian of standard deviation S on a common grid (no recomputation).\n"
    "  --log         logarithmic density axis (eight decades below the peak)\n"
    "  --labels      legend entries, comma-separated (default: the file names)\n"};
