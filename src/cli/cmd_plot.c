/* hesspec plot: re-plots density files as one SVG, optionally re-smoothed with another sigma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"

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

/* The legend entry of a density file: its name without the folder and ".json". */
static void file_label(const char *path, char *out, size_t len) {
  const char *slash = strrchr(path, '/');
  snprintf(out, len, "%s", slash ? slash + 1 : path);
  size_t n = strlen(out);
  if (n > 5 && strcmp(out + n - 5, ".json") == 0) out[n - 5] = '\0';
}

static int run(int argc, char **argv) {
  const char *cmd = "plot";
  plot_args pa = {0};
  hs_cli_binding b[] = {{plot_options, &pa}};
  hs_cli_parsed parsed;
  if (hs_cli_parse(cmd, b, 1, argc, argv, MAX_FILES, &parsed)) return HS_EXIT_USAGE;
  const char *out = pa.out, *title = pa.title, *labels = pa.labels;
  const char *const *files = parsed.positional;
  size_t nf = parsed.n_positional;
  double sigma = pa.sigma;
  if (nf == 0) return hs_cli_usage(cmd, "no density file given");
  if (!out) return hs_cli_usage(cmd, "--out FIG.svg is required");

  hs_context *ctx = NULL;
  hs_density *d[MAX_FILES] = {0};
  hs_plot_line lines[MAX_FILES];
  char names[MAX_FILES][256];
  double *grid = NULL, *dens[MAX_FILES] = {0};
  char *labcopy = labels ? strdup(labels) : NULL;
  int code = HS_EXIT_OK;
  hs_status st = hs_cli_plain_context(&ctx);
  if (st != HS_OK) goto fail_st;
  if (labels && !labcopy) goto nomem;
  for (size_t f = 0; f < nf; f++)
    if ((st = hs_density_load(ctx, files[f], &d[f])) != HS_OK) goto fail_st;
  char *save = NULL, *tok = labcopy ? strtok_r(labcopy, ",", &save) : NULL;
  for (size_t f = 0; f < nf; f++) {
    file_label(files[f], names[f], sizeof names[f]);
    lines[f].label = tok ? tok : names[f];
    if (tok) tok = strtok_r(NULL, ",", &save);
    lines[f].n = hs_density_grid(d[f], &lines[f].x, &lines[f].y, NULL);
  }
  if (sigma > 0) {
    /* Re-smooth every file's quadrature rules on one common grid. */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t f = 0; f < nf; f++) {
      hs_density_summary sum;
      hs_density_get_summary(d[f], &sum);
      lo = fmin(lo, sum.lambda_min), hi = fmax(hi, sum.lambda_max);
    }
    lo -= 5 * sigma;
    hi += 5 * sigma;
    size_t g = pa.grid_points ? pa.grid_points : hs_density_grid_size(lo, hi, sigma);
    if (!(grid = malloc(g * sizeof *grid))) goto nomem;
    for (size_t i = 0; i < g; i++) grid[i] = lo + (hi - lo) * (double)i / (double)(g - 1);
    for (size_t f = 0; f < nf; f++) {
      if (!(dens[f] = malloc(g * sizeof *dens[f]))) goto nomem;
      hs_density_smooth(d[f], sigma, g, grid, dens[f]);
      lines[f] = (hs_plot_line){.label = lines[f].label, .n = g, .x = grid, .y = dens[f]};
    }
  }
  const hs_plot_style style = {.log_y = pa.log_y, .title = title};
  if ((st = hs_plot_svg(ctx, out, lines, nf, &style)) != HS_OK) goto fail_st;
  goto cleanup;
nomem:
  st = hs_set_error(ctx, HS_E_NOMEM, "out of memory");
fail_st:
  code = hs_cli_fail(cmd, ctx, st);
cleanup:
  for (size_t f = 0; f < nf; f++) {
    hs_density_destroy(d[f]);
    free(dens[f]);
  }
  free(grid);
  free(labcopy);
  hs_context_destroy(ctx);
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
