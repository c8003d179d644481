/* hesspec plot: re-plots density files as one SVG, optionally re-smoothed with another sigma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"
#include "io/density.h"
#include "io/svg_plot.h"
#include "linalg/slq.h"

#define MAX_FILES 10

typedef struct {
  const char *out, *title, *labels;
  size_t grid_points;
  double sigma;
  int log_y, quiet;
} plot_args;

static const hs_setting plot_options[] = {
    {.name = "out", .type = HS_SET_STRING, HS_SET_FIELD(plot_args, out), .metavar = "FIG.svg", .help = "the figure (required)"},
    {.name = "log", .type = HS_SET_FLAG, HS_SET_FIELD(plot_args, log_y),
     .help = "logarithmic density axis (eight decades below the peak)"},
    {.name = "sigma", .type = HS_SET_DOUBLE, HS_SET_FIELD(plot_args, sigma), .bounds = HS_SET_MIN | HS_SET_MIN_OPEN,
     .metavar = "S", .help = "re-smooth with a Gaussian of standard deviation S"},
    {.name = "grid", .type = HS_SET_UINT, HS_SET_FIELD(plot_args, grid_points), .bounds = HS_SET_MIN | HS_SET_MAX,
     .min = 2, .max = 10000000, .metavar = "G", .help = "with --sigma: grid points (default: spacing <= sigma/4)"},
    {.name = "labels", .type = HS_SET_STRING, HS_SET_FIELD(plot_args, labels), .metavar = "A,B,...",
     .help = "legend entries, comma-separated (default: the file names)"},
    {.name = "title", .type = HS_SET_STRING, HS_SET_FIELD(plot_args, title), .metavar = "T", .help = "the figure's title"},
    {.name = "quiet", .type = HS_SET_FLAG, HS_SET_FIELD(plot_args, quiet), .help = "(accepted for symmetry; plot prints nothing)"},
    {0}};

static const hs_setting *const tables[] = {plot_options, NULL};

static int run(int argc, char **argv) {
  const char *cmd = "plot";
  plot_args pa = {0};
  hs_cli_binding b[] = {{plot_options, &pa}};
  hs_cli_parsed parsed;
  if (hs_cli_parse(cmd, b, 1, argc, argv, MAX_FILES, &parsed)) return HS_EXIT_USAGE;
  const char *out = pa.out, *title = pa.title, *labels = pa.labels;
  const char *const *files = parsed.positional;
  size_t nf = parsed.n_positional, grid_points = pa.grid_points;
  double sigma = pa.sigma;
  int log_y = pa.log_y, code = HS_EXIT_OK;
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
  st = hs_set_error(ctx, HS_E_NOMEM, "out of memory");
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
    .name = "plot",
    .run = run,
    .summary = "draw density files as one SVG (overlaid, with a legend)",
    .usage = "usage: hesspec plot D1.json [D2.json ...] --out FIG.svg [--log] [--sigma S [--grid G]] [--labels a,b,...]\n"
    "                    [--title T]\n\n"
    "Draws the densities stored in the files, or, with --sigma, re-smooths each file's per-probe\n"
    "nodes and weights with a Gaussian of standard deviation S on a common grid (no recomputation).\n"
    "At most 10 files.\n",
    .options = tables};
