/* hesspec landscape: the loss (and accuracy) on a 1D or 2D grid around --weights
 * (analysis/landscape.h; docs/experiments.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"

typedef struct {
  double lo, hi;
} interval;

enum { DIR_RANDOM, DIR_EIG, DIR_INTERPOLATE, DIR_FILES };
static const hs_setting_choice direction_kinds[] = {
    {"random", DIR_RANDOM}, {"eig", DIR_EIG}, {"interpolate", DIR_INTERPOLATE}, {"files", DIR_FILES}, {NULL, 0}};
static const char *const direction_names[] = {"random", "eig", "interpolate", "files"};

typedef struct {
  int directions;
  size_t dims; /* 0: from the other options */
  interval range[2];
  size_t n_range;
  size_t points[2], n_points;
  const char *to, *plot;
  char files[2][2048];
  size_t n_files;
} landscape_args;

/* "A:B" with A < B, both finite */
static hs_status parse_interval(hs_context *ctx, const hs_setting *s, const char *label, const char *text, void *field) {
  (void)s;
  interval *iv = field;
  const char *colon = strchr(text, ':');
  char *end;
  int bad = !colon;
  if (!bad) {
    errno = 0;
    iv->lo = strtod(text, &end);
    bad = errno || end != colon || end == text;
    iv->hi = strtod(colon + 1, &end);
    bad |= errno || *end || end == colon + 1 || !isfinite(iv->lo) || !isfinite(iv->hi) || !(iv->lo < iv->hi);
  }
  return bad ? hs_set_error(ctx, HS_E_INVALID, "%s '%s': expected A:B with A < B (two intervals: A:B,C:D)", label, text) : HS_OK;
}

#define A landscape_args
static const hs_setting landscape_options[] = {
    {.name = "directions", .type = HS_SET_CHOICE, HS_SET_FIELD(A, directions), .choices = direction_kinds,
     .help = "random (default): Gaussian, filter-normalised (Li et al. 2018): each\n"
             "row of a weight tensor rescaled to that row's norm in the weights;\n"
             "biases and batch-norm parameters zeroed; drawn with --seed\n"
             "eig: unit eigenvectors of the top 1 (1D) or top 2 (2D) Hessian eigenvalues\n"
             "interpolate: from the weights (alpha 0) to --to (alpha 1), 1D\n"
             "files: --direction-files, vectors of shape (P,) used as given"},
    {.name = "dims", .type = HS_SET_UINT, HS_SET_FIELD(A, dims), .bounds = HS_SET_MIN | HS_SET_MAX, .min = 1, .max = 2,
     .metavar = "1|2", .help = "1 or 2 (default: 2 when --range or --points has two parts or two files\n"
                               "are given, else 1)"},
    {.name = "range", .type = HS_SET_CUSTOM, HS_SET_LIST(A, range, n_range), .parse = parse_interval,
     .metavar = "A:B[,C:D]", .help = "coordinates of alpha (and beta); default -1:1 (interpolate: 0:1)"},
    {.name = "points", .type = HS_SET_UINT, HS_SET_LIST(A, points, n_points), .bounds = HS_SET_MIN | HS_SET_MAX,
     .min = 2, .max = 100000, .metavar = "N[,M]", .help = "grid points per axis (default 21)"},
    {.name = "to", .type = HS_SET_STRING, HS_SET_FIELD(A, to), .metavar = "W2.safetensors",
     .help = "interpolate: the checkpoint at alpha = 1"},
    {.name = "direction-files", .type = HS_SET_STRBUF, HS_SET_LIST(A, files, n_files), .metavar = "d1.npy[,d2.npy]",
     .help = "files: the directions, each of shape (P,)"},
    {.name = "plot", .type = HS_SET_STRING, HS_SET_FIELD(A, plot), .metavar = "L.svg",
     .help = "a curve (1D) or a heat map with contour lines and the origin marked (2D)"},
    {0}};
#undef A

static const hs_setting *const tables[] = {hs_cli_common_options, landscape_options, NULL};

/* A direction file of shape (P,) into d; an exit code (messages printed). */
static int read_direction(const char *cmd, hs_context *ctx, const char *path, size_t P, double *d) {
  hs_array v;
  hs_status st = hs_array_load(ctx, path, &v);
  if (st != HS_OK) return hs_cli_fail(cmd, ctx, st);
  int code = HS_EXIT_OK;
  if (v.ndim != 1 || v.dim[0] != P) {
    char t[64];
    hs_array_shape_string(v.ndim, v.dim, t, sizeof t);
    code = hs_cli_usage(cmd, "%s: shape %s: expected a direction of shape (%zu,) (the model's P)", path, t, P);
  } else {
    memcpy(d, v.data, P * sizeof *d);
  }
  hs_array_free(&v);
  return code;
}

static int run(int argc, char **argv) {
  const char *cmd = "landscape";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  landscape_args la = {.directions = DIR_RANDOM};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {landscape_options, &la}};
  if (hs_cli_parse(cmd, b, 2, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  const char *kind = direction_names[la.directions], *to = la.to, *plot = la.plot, *files[2] = {la.files[0], la.files[1]};
  size_t dims = la.dims, n_files = la.n_files;
  int is_interp = la.directions == DIR_INTERPOLATE, is_files = la.directions == DIR_FILES;
  /* consistency of the direction options */
  if (to && !is_interp) return hs_cli_usage(cmd, "--to needs --directions interpolate");
  if (n_files && !is_files) return hs_cli_usage(cmd, "--direction-files needs --directions files");
  if (is_interp && !to) return hs_cli_usage(cmd, "--directions interpolate needs --to W2.safetensors");
  if (is_files && !n_files) return hs_cli_usage(cmd, "--directions files needs --direction-files d1.npy[,d2.npy]");
  if (!dims) dims = is_files ? n_files : is_interp ? 1 : (la.n_points == 2 || la.n_range == 2 ? 2 : 1);
  if (is_interp && dims != 1) return hs_cli_usage(cmd, "--directions interpolate is one-dimensional (--dims 1)");
  if (is_files && dims != n_files)
    return hs_cli_usage(cmd, "--dims %zu but --direction-files names %zu file%s", dims, n_files, n_files == 1 ? "" : "s");
  if (la.n_range == 2 && dims == 1) return hs_cli_usage(cmd, "--range gives two intervals for a 1D landscape");
  if (la.n_points == 2 && dims == 1) return hs_cli_usage(cmd, "--points gives two counts for a 1D landscape");
  hs_landscape_options lo = hs_landscape_defaults();
  lo.dims = (int)dims;
  lo.seed = o.seed;
  lo.directions = la.directions == DIR_RANDOM ? HS_LANDSCAPE_RANDOM
                  : la.directions == DIR_EIG  ? HS_LANDSCAPE_EIG
                                              : HS_LANDSCAPE_GIVEN;
  if (is_interp && !la.n_range) lo.alpha[0] = 0, lo.alpha[1] = 1;
  double *axis[2] = {lo.alpha, lo.beta};
  for (size_t k = 0; k < 2; k++) {
    const interval *iv = &la.range[k < la.n_range ? k : 0];
    if (la.n_range) axis[k][0] = iv->lo, axis[k][1] = iv->hi;
    if (la.n_points) lo.points[k] = la.points[k < la.n_points ? k : 0];
  }
  if (!o.out) return hs_cli_usage(cmd, "--out L.json is required (the landscape file)");

  hs_cli_session s;
  double t0 = hs_cli_now();
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  hs_context *ctx = s.ctx;
  hs_model *m = s.model;
  size_t P = hs_model_num_params(m);
  double *D = NULL;
  hs_landscape_result res = {0};
  hs_status st = HS_OK;
  if (lo.directions == HS_LANDSCAPE_GIVEN) {
    if (!(D = malloc(dims * P * sizeof *D))) {
      st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory");
      goto fail;
    }
    lo.d1 = D, lo.d2 = dims == 2 ? D + P : NULL;
  }
  if (is_interp) {
    /* theta2 through the model, then the model back at --weights (or its seeded init) */
    double *theta = malloc(P * sizeof *theta);
    if (!theta) st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory");
    if (st == HS_OK) st = hs_model_get_params(m, theta);
    if (st == HS_OK) st = hs_model_load(m, to);
    if (st == HS_OK) st = hs_model_get_params(m, D);
    if (st == HS_OK) st = o.weights ? hs_model_load(m, o.weights) : hs_model_init(m, o.seed);
    for (size_t p = 0; st == HS_OK && p < P; p++) D[p] -= theta[p];
    free(theta);
    if (st != HS_OK) goto fail;
  } else if (is_files) {
    for (size_t j = 0; j < dims; j++)
      if ((code = read_direction(cmd, ctx, files[j], P, D + j * P))) goto done;
  }
  if ((st = hs_landscape(m, &lo, &res)) != HS_OK) goto fail;
  const hs_landscape_provenance prov = {.weights = o.weights, .data = s.data_desc, .label = kind, .to = to,
                                        .files = {is_files ? files[0] : NULL, is_files ? files[1] : NULL},
                                        .elapsed = hs_cli_now() - t0};
  if ((st = hs_landscape_save(m, &lo, &res, &prov, o.out)) != HS_OK) goto fail;
  if (plot) {
    char title[160];
    snprintf(title, sizeof title, "loss along %s direction%s", kind, dims == 2 ? "s" : "");
    if ((st = hs_landscape_plot(ctx, &res, title, plot)) != HS_OK) goto fail;
  }
  if (!o.quiet) {
    size_t n = res.na * res.nb, best = 0;
    for (size_t k = 1; k < n; k++)
      if (res.loss[k] < res.loss[best] || !isfinite(res.loss[best])) best = k;
    printf("%zu points (%s, %zu direction%s, P = %zu) in %.3f s\n", n, kind, dims, dims == 2 ? "s" : "", P, res.seconds);
    if (dims == 2)
      printf("lowest loss %.10g at alpha %g, beta %g\n", res.loss[best], res.alpha[best / res.nb], res.beta[best % res.nb]);
    else
      printf("lowest loss %.10g at alpha %g\n", res.loss[best], res.alpha[best]);
    if (la.directions == DIR_EIG && dims == 2) printf("eigenvalues %.10g, %.10g\n", res.eigenvalues[0], res.eigenvalues[1]);
    else if (la.directions == DIR_EIG) printf("eigenvalue %.10g\n", res.eigenvalues[0]);
    printf("wrote %s%s%s\n", o.out, plot ? " and " : "", plot ? plot : "");
  }
  goto done;
fail:
  code = hs_cli_fail(cmd, ctx, st);
done:
  hs_landscape_free(&res);
  free(D);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_landscape = {
    .name = "landscape",
    .run = run,
    .summary = "loss and accuracy on a 1D or 2D grid of directions around the weights",
    .usage = "usage: hesspec landscape --model M.json [--weights W.safetensors] DATA --out L.json [--plot L.svg]\n"
    "                         [--directions random|eig|interpolate|files] [--dims 1|2]\n"
    "                         [--range A:B[,C:D]] [--points N[,M]] [--to W2.safetensors]\n"
    "                         [--direction-files d1.npy[,d2.npy]]\n\n"
    "The loss at theta + alpha d1 (+ beta d2) on a grid, each point what `hesspec loss` prints\n"
    "there (same batches and batch-norm mode; running statistics stay those of --weights), and\n"
    "the accuracy for cross entropy. --out writes \"hesspec.landscape/1\" (alpha, beta,\n"
    "loss[i][j], accuracy, how the directions were made) and a CSV beside it\n"
    "(docs/experiments.md).\n",
    .options = tables};
