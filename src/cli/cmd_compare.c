/* hesspec compare: train and analyse several network kinds on the same data and seeds, and
 * write the report folder (hs_compare_run; docs/compare.md), built under a temporary
 * name beside --out and renamed into place at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"

static void print_line(void *user, const char *line) {
  (void)user;
  printf("%s\n", line);
  fflush(stdout);
}

typedef struct {
  const char *preset;
} compare_args;

static const hs_setting compare_cli_options[] = {
    {.name = "preset", .type = HS_SET_STRING, HS_SET_FIELD(compare_args, preset), .metavar = "FILE",
     .help = "the settings (examples/compare-demo.json); unknown keys are errors;\n"
             "the other options override it"},
    {0}};

/* with the library's compare settings (hs_compare_config_settings) between these two */
static const hs_setting *const tables[] = {hs_cli_common_options, compare_cli_options, NULL};

/* The common options that the comparison reads, as its preset keys, over the preset and the
 * command line's compare options. */
static hs_status apply_common(hs_context *ctx, const hs_cli_opts *o, const hs_cli_parsed *given, hs_compare_config *cfg) {
  char text[32];
  hs_status st = HS_OK;
  if (o->dataset) st = hs_compare_config_set(ctx, cfg, "dataset", o->dataset);
  if (st == HS_OK && o->samples) {
    snprintf(text, sizeof text, "%zu", o->samples);
    st = hs_compare_config_set(ctx, cfg, "train_samples", text);
  }
  if (st == HS_OK && o->batch) {
    snprintf(text, sizeof text, "%zu", o->batch);
    st = hs_compare_config_set(ctx, cfg, "train.batch", text);
  }
  if (st == HS_OK && hs_cli_given(given, "dtype")) st = hs_compare_config_set(ctx, cfg, "dtype", hs_dtype_name(o->dtype));
  /* fewer training samples than the preset's analysis samples: analyse them all, unless the
   * analysis size was asked for explicitly (then the conflict is reported) */
  double train_n = 0, analysis_n = 0;
  if (st == HS_OK && o->samples && !hs_cli_given(given, "analysis-samples") &&
      (st = hs_compare_config_get(ctx, cfg, "train_samples", &train_n)) == HS_OK &&
      (st = hs_compare_config_get(ctx, cfg, "analysis.samples", &analysis_n)) == HS_OK && analysis_n > train_n) {
    snprintf(text, sizeof text, "%.0f", train_n);
    st = hs_compare_config_set(ctx, cfg, "analysis.samples", text);
  }
  return st;
}

static int run(int argc, char **argv) {
  const char *cmd = "compare";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  compare_args ca = {0};
  int code = HS_EXIT_OK;
  hs_cli_session s;
  memset(&s, 0, sizeof s);
  hs_compare_summary sum = {0};
  hs_compare_config *cfg = hs_compare_config_new();
  if (!cfg) {
    fprintf(stderr, "hesspec %s: out of memory\n", cmd);
    return HS_EXIT_FAIL;
  }
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {compare_cli_options, &ca}, {hs_compare_config_settings(), cfg}};
  hs_cli_parsed given;
  /* twice: the first pass checks the flags and finds the preset; the second lays the flags over
   * the preset, whatever their order */
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, &given)) { code = HS_EXIT_USAGE; goto done; }
  if (!o.out) { code = hs_cli_usage(cmd, "--out DIR is required (the report folder)"); goto done; }
  if (o.weights || o.model || o.inputs || o.targets) {
    code = hs_cli_usage(cmd, "--model, --weights, --inputs and --targets do not apply: the preset defines the networks and data");
    goto done;
  }
  if ((code = hs_cli_open_context(cmd, &o, &s)) != 0) goto done;
  hs_status st = HS_OK;
  hs_compare_config_free(cfg);
  if (!(b[2].base = cfg = hs_compare_config_new())) { st = hs_set_error(s.ctx, HS_E_NOMEM, "out of memory"); goto fail; }
  if (ca.preset && (st = hs_compare_config_load(s.ctx, cfg, ca.preset)) != HS_OK) goto fail;
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) { code = HS_EXIT_USAGE; goto done; }
  if ((st = apply_common(s.ctx, &o, &given, cfg)) != HS_OK || (st = hs_compare_config_check(s.ctx, cfg)) != HS_OK) goto fail;
  double dtype = 0;
  if ((st = hs_compare_config_get(s.ctx, cfg, "dtype", &dtype)) != HS_OK) goto fail;
  if ((hs_dtype)dtype != o.dtype) { /* the preset's dtype: a context of that dtype */
    hs_cli_close(&s);
    o.dtype = (hs_dtype)dtype;
    if ((code = hs_cli_open_context(cmd, &o, &s)) != 0) goto done;
  }
  int lines = !o.quiet && !isatty(fileno(stderr));
  if ((st = hs_compare_run(s.ctx, cfg, o.out, lines ? print_line : NULL, NULL, &sum)) != HS_OK) goto fail;
  if (sum.synthetic_fallback)
    fprintf(stderr, "hesspec %s: notice: Fashion-MNIST was not found (install the Debian package dataset-fashion-mnist "
                    "or set HESSPEC_DATA); using a synthetic Gaussian mixture instead\n", cmd);
  if (!o.quiet) {
    size_t len = strlen(o.out);
    while (len > 1 && o.out[len - 1] == '/') len--; /* "rep/" names the folder rep */
    printf("compared %zu kinds x %zu seeds in %.0fs (%s, %s)\n%sreport: %.*s/index.html\n", sum.kinds, sum.seeds,
           sum.seconds, hs_backend_name(s.ctx), hs_device_name(s.ctx), sum.findings ? sum.findings : "", (int)len, o.out);
  }
  goto done;
fail:
  code = hs_cli_fail(cmd, s.ctx, st);
done:
  hs_compare_summary_free(&sum);
  hs_compare_config_free(cfg);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_compare = {
    .name = "compare",
    .run = run,
    .summary = "train and analyse linear/ReLU/BN/residual networks; HTML report",
    .usage = "usage: hesspec compare --out DIR [--preset FILE.json] [options]\n\n"
    "Trains every network kind (same depth and width, same data) from every seed and\n"
    "analyses the loss Hessian at the chosen epochs (0 = initialisation, the last epoch\n"
    "always): SLQ density, lambda_max/lambda_min (Lanczos), trace, negative mass, loss,\n"
    "gradient norm, train/test accuracy. DIR receives index.html (self-contained),\n"
    "summary.csv, summary.md, config.json, plots/ and runs/<kind>-s<seed>/ (log.csv,\n"
    "density and eigenvalue files). DIR is written under a temporary name and renamed at\n"
    "the end; an existing report there is replaced, any other existing folder refused.\n\n"
    "DATA: --dataset NAME (fashion-mnist, fashion-mnist:test, mixture[:sep=S], teacher[:...]), --samples N\n"
    "(training samples); --batch B (minibatch); --dtype, --device, --threads, --quiet as usual.\n"
    "On a terminal a progress bar shows; otherwise one line per analysis (batch jobs).\n",
    .options = tables,
    .library_options = hs_compare_config_settings};
