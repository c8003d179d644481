/* hesspec compare: train and analyse several network kinds on the same data and seeds, and
 * write the report folder (src/analysis/compare.h; docs/compare.md), built under a temporary
 * name beside --out and renamed into place at the end (hs_cmp_run_into). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/compare.h"
#include "analysis/report.h"
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
             "the options below override it"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, compare_cli_options, hs_cmp_settings, NULL};

static int run(int argc, char **argv) {
  const char *cmd = "compare";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  compare_args ca = {0};
  int code = HS_EXIT_OK;
  hs_cmp_config cfg = hs_cmp_defaults();
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {compare_cli_options, &ca}, {hs_cmp_settings, &cfg}};
  hs_cli_parsed given;
  /* twice: the first pass checks the flags and finds the preset; the second lays the flags over
   * the preset, whatever their order */
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, &given)) return HS_EXIT_USAGE;
  hs_cli_session s;
  memset(&s, 0, sizeof s);
  if (!o.out) return hs_cli_usage(cmd, "--out DIR is required (the report folder)");
  if (o.weights || o.model || o.inputs || o.targets)
    return hs_cli_usage(cmd, "--model, --weights, --inputs and --targets do not apply: the preset defines the networks and data");
  code = hs_cli_open_context(cmd, &o, &s);
  if (code) return code;
  hs_status st = HS_OK;
  cfg = hs_cmp_defaults();
  if (ca.preset && (st = hs_cmp_load_preset(s.ctx, ca.preset, &cfg)) != HS_OK) goto fail;
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) { code = HS_EXIT_USAGE; goto done; }
  int dtype_given = hs_cli_given(&given, "dtype");
  if (o.dataset) snprintf(cfg.dataset, sizeof cfg.dataset, "%s", o.dataset);
  if (o.samples) cfg.train_samples = o.samples;
  if (o.batch) cfg.train.batch = o.batch;
  if (dtype_given) cfg.dtype = o.dtype;
  /* fewer training samples than the preset's analysis samples: analyse them all, unless the
   * analysis size was asked for explicitly (then the conflict is reported) */
  int analysis_given = hs_cli_given(&given, "analysis-samples");
  if (o.samples && cfg.analysis_samples > cfg.train_samples && !analysis_given) cfg.analysis_samples = cfg.train_samples;
  if ((st = hs_cmp_validate(s.ctx, &cfg)) != HS_OK) goto fail;
  if (cfg.dtype != o.dtype) { /* the preset's dtype: a context of that dtype */
    hs_cli_close(&s);
    o.dtype = cfg.dtype;
    if ((code = hs_cli_open_context(cmd, &o, &s)) != 0) return code;
  }
  hs_cmp_result *res = NULL;
  int lines = !o.quiet && !isatty(fileno(stderr));
  if ((st = hs_cmp_run_into(s.ctx, &cfg, o.out, lines ? print_line : NULL, NULL, &res)) != HS_OK) goto fail;
  if (res->synthetic_fallback)
    fprintf(stderr, "hesspec %s: notice: Fashion-MNIST was not found (install the Debian package dataset-fashion-mnist "
                    "or set HESSPEC_DATA); using a synthetic Gaussian mixture instead\n", cmd);
  if (!o.quiet) {
    char *f = hs_cmp_findings(res);
    size_t len = strlen(o.out);
    while (len > 1 && o.out[len - 1] == '/') len--; /* "rep/" names the folder rep */
    printf("compared %zu kinds x %zu seeds in %.0fs (%s, %s)\n%sreport: %.*s/index.html\n", cfg.n_kinds, cfg.n_seeds,
           res->seconds, res->backend, res->device, f ? f : "", (int)len, o.out);
    free(f);
  }
  hs_cmp_result_free(res);
  goto done;
fail:
  code = hs_cli_fail(cmd, s.ctx, st);
done:
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
    .options = tables};
