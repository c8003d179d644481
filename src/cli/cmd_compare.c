/* hesspec compare: train and analyse several network kinds on the same data and seeds, and
 * write the report folder (src/analysis/compare.h, report.h; docs/compare.md). The folder is
 * built under a temporary name beside --out and renamed into place at the end, so a failed
 * or killed run never leaves a half-written report. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/compare.h"
#include "analysis/report.h"
#include "cli/commands.h"
#include "cli/common.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}
static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void print_line(void *user, const char *line) {
  printf("%s\n", line);
  fflush(stdout);
}

/* "a,b,c" -> sizes */
static int parse_sizes(const char *cmd, const char *opt, const char *text, size_t max, size_t *out, size_t *n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", text);
  *n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == max) return hs_cli_usage(cmd, "%s: at most %zu values", opt, max), -1;
    if (hs_cli_size(cmd, opt, tok, &out[(*n)++]) < 0) return -1;
  }
  if (*n == 0) return hs_cli_usage(cmd, "%s '%s': expected a comma-separated list", opt, text), -1;
  return 0;
}

/* The output folder may be absent, or a previous report (it is replaced), never anything else. */
static int check_out(const char *cmd, const char *out) {
  struct stat st;
  /* -2: the place cannot be reached (ENOTDIR, EACCES): an output-side failure, exit 1 */
  if (stat(out, &st) != 0) return errno == ENOENT ? 0 : (fprintf(stderr, "hesspec %s: %s: %s\n", cmd, out, strerror(errno)), -2);
  if (!S_ISDIR(st.st_mode)) return fprintf(stderr, "hesspec %s: %s exists and is not a folder\n", cmd, out), -1;
  char probe[PATH_MAX];
  snprintf(probe, sizeof probe, "%s/summary.csv", out);
  if (access(probe, F_OK) == 0) return 0;
  if (rmdir(out) == 0) return 0; /* was empty */
  fprintf(stderr, "hesspec %s: %s exists and is not a hesspec compare report; refusing to replace it\n", cmd, out);
  return -1;
}

static int run(int argc, char **argv) {
  const char *cmd = "compare";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  const char *preset = NULL, *v;
  int dtype_given = 0, code = HS_EXIT_OK;
  hs_cmp_config cfg = hs_cmp_defaults();
  /* the preset first, so that flags override it whatever their order */
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--preset") == 0) preset = argv[i + 1];
  hs_cli_session s;
  memset(&s, 0, sizeof s);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--dtype") == 0) dtype_given = 1;
    int r = hs_cli_parse_common(cmd, &o, argc, argv, &i);
    if (r < 0) return HS_EXIT_USAGE;
    if (r > 0) continue;
    size_t tmp[HS_MAX_HIDDEN], n;
    if (strcmp(a, "--preset") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--checkpoints") == 0) {
      cfg.save_checkpoints = 1;
    } else if (hs_cli_value(cmd, argc, argv, &i, &v) < 0) {
      return HS_EXIT_USAGE;
    } else if (strcmp(a, "--hidden") == 0) {
      if (parse_sizes(cmd, a, v, HS_MAX_HIDDEN, tmp, &n) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(a, "--kinds") == 0 || strcmp(a, "--seeds") == 0 || strcmp(a, "--analysis-epochs") == 0 ||
               strcmp(a, "--test-samples") == 0 || strcmp(a, "--analysis-samples") == 0 || strcmp(a, "--epochs") == 0 ||
               strcmp(a, "--steps") == 0 || strcmp(a, "--probes") == 0 || strcmp(a, "--lr") == 0 ||
               strcmp(a, "--optimizer") == 0) {
      /* applied after the preset is read */
    } else {
      return hs_cli_usage(cmd, "unknown option '%s'", a);
    }
  }
  if (!o.out) return hs_cli_usage(cmd, "--out DIR is required (the report folder)");
  if (o.matrix || o.weights || o.model || o.inputs)
    return hs_cli_usage(cmd, "--model, --weights, --inputs and --matrix do not apply: the preset defines the networks and data");
  code = hs_cli_open_context(cmd, &o, &s);
  if (code) return code;
  hs_status st = HS_OK;
  if (preset && (st = hs_cmp_load_preset(s.ctx, preset, &cfg)) != HS_OK) goto fail;
  /* flags over the preset */
  for (int i = 1; i + 1 < argc; i++) {
    const char *a = argv[i];
    v = argv[i + 1];
    size_t tmp[HS_CMP_MAX_STAGES + HS_MAX_HIDDEN], n;
    if (strcmp(a, "--hidden") == 0) {
      parse_sizes(cmd, a, v, HS_MAX_HIDDEN, tmp, &n);
      cfg.n_hidden = (int)n;
      for (size_t k = 0; k < n; k++) {
        if (tmp[k] < 1 || tmp[k] > 1000000) { code = hs_cli_usage(cmd, "--hidden: width %zu must be in [1, 1000000]", tmp[k]); goto done; }
        cfg.hidden[k] = (int)tmp[k];
      }
    } else if (strcmp(a, "--seeds") == 0) {
      if (parse_sizes(cmd, a, v, HS_CMP_MAX_SEEDS, tmp, &n) < 0) { code = HS_EXIT_USAGE; goto done; }
      cfg.n_seeds = n;
      for (size_t k = 0; k < n; k++) cfg.seeds[k] = tmp[k];
    } else if (strcmp(a, "--analysis-epochs") == 0) {
      if (parse_sizes(cmd, a, v, HS_CMP_MAX_STAGES - 1, cfg.stages, &cfg.n_stages) < 0) { code = HS_EXIT_USAGE; goto done; }
    } else if (strcmp(a, "--kinds") == 0) {
      char buf[512];
      snprintf(buf, sizeof buf, "%s", v);
      cfg.n_kinds = 0;
      for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (cfg.n_kinds == HS_CMP_MAX_KINDS) { code = hs_cli_usage(cmd, "--kinds: at most %d kinds", HS_CMP_MAX_KINDS); goto done; }
        if ((st = hs_cmp_parse_kind(s.ctx, tok, &cfg.kinds[cfg.n_kinds++])) != HS_OK) goto fail;
      }
    } else if (strcmp(a, "--test-samples") == 0 || strcmp(a, "--analysis-samples") == 0 || strcmp(a, "--epochs") == 0 ||
               strcmp(a, "--steps") == 0 || strcmp(a, "--probes") == 0) {
      if (hs_cli_size(cmd, a, v, &n) < 0) { code = HS_EXIT_USAGE; goto done; }
      if (a[2] == 't') cfg.test_samples = n;
      else if (a[2] == 'a') cfg.analysis_samples = n;
      else if (a[2] == 'e') cfg.train.epochs = n;
      else if (a[3] == 't') cfg.slq_steps = n;
      else cfg.slq_probes = n;
    } else if (strcmp(a, "--lr") == 0) {
      if (hs_cli_double(cmd, a, v, &cfg.train.lr) < 0) { code = HS_EXIT_USAGE; goto done; }
    } else if (strcmp(a, "--optimizer") == 0) {
      int x = hs_optimizer_from_name(v);
      if (x < 0) { code = hs_cli_usage(cmd, "--optimizer '%s': expected sgd or adam", v); goto done; }
      cfg.train.optimizer = (hs_optimizer)x;
    }
  }
  if (o.dataset) snprintf(cfg.dataset, sizeof cfg.dataset, "%s", o.dataset);
  if (o.samples) cfg.train_samples = o.samples;
  if (o.batch) cfg.train.batch = o.batch;
  if (dtype_given) cfg.dtype = o.dtype;
  /* fewer training samples than the preset's analysis samples: analyse them all, unless the
   * analysis size was asked for explicitly (then the conflict is reported) */
  int analysis_given = 0;
  for (int i = 1; i < argc; i++) analysis_given |= strcmp(argv[i], "--analysis-samples") == 0;
  if (o.samples && cfg.analysis_samples > cfg.train_samples && !analysis_given) cfg.analysis_samples = cfg.train_samples;
  if ((st = hs_cmp_validate(s.ctx, &cfg)) != HS_OK) goto fail;
  if (cfg.dtype != o.dtype) { /* the preset's dtype: a context of that dtype */
    hs_cli_close(&s);
    o.dtype = cfg.dtype;
    if ((code = hs_cli_open_context(cmd, &o, &s)) != 0) return code;
  }
  /* "rep/" names the folder rep: the temporary must sit beside it, not inside */
  char outbuf[PATH_MAX];
  snprintf(outbuf, sizeof outbuf, "%s", o.out);
  for (size_t l = strlen(outbuf); l > 1 && outbuf[l - 1] == '/'; l--) outbuf[l - 1] = '\0';
  o.out = outbuf;
  int out_ok = check_out(cmd, o.out);
  if (out_ok < 0) { code = out_ok == -2 ? HS_EXIT_FAIL : HS_EXIT_USAGE; goto done; }
  char tmpdir[PATH_MAX], olddir[PATH_MAX];
  if (snprintf(tmpdir, sizeof tmpdir, "%s.tmp.XXXXXX", o.out) >= (int)sizeof tmpdir || !mkdtemp(tmpdir)) {
    fprintf(stderr, "hesspec %s: %s: cannot create the report folder (%s)\n", cmd, o.out, strerror(errno));
    code = HS_EXIT_FAIL; /* an output-side failure: the inputs were fine */
    goto done;
  }
  { /* mkdtemp makes it 0700; the report gets the permissions of an ordinary mkdir */
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmpdir, 0777 & ~mask);
  }
  hs_cmp_result *res = NULL;
  int lines = !o.quiet && !isatty(fileno(stderr));
  st = hs_cmp_run(s.ctx, &cfg, tmpdir, lines ? print_line : NULL, NULL, &res);
  if (st == HS_OK && res->synthetic_fallback)
    fprintf(stderr, "hesspec %s: notice: Fashion-MNIST was not found (install the Debian package dataset-fashion-mnist "
                    "or set HESSPEC_DATA); using a synthetic Gaussian mixture instead\n", cmd);
  if (st == HS_OK) st = hs_cmp_report(s.ctx, res, tmpdir);
  if (st != HS_OK) {
    hs_cmp_result_free(res);
    rm_tree(tmpdir);
    goto fail;
  }
  /* into place: an old report moves aside first and is removed after */
  olddir[0] = '\0';
  if (access(o.out, F_OK) == 0) {
    snprintf(olddir, sizeof olddir, "%s.old.XXXXXX", o.out);
    if (!mkdtemp(olddir) || rename(o.out, olddir) != 0) {
      fprintf(stderr, "hesspec %s: %s: cannot move the previous report aside (%s)\n", cmd, o.out, strerror(errno));
      rm_tree(tmpdir);
      hs_cmp_result_free(res);
      code = HS_EXIT_FAIL;
      goto done;
    }
  }
  if (rename(tmpdir, o.out) != 0) {
    fprintf(stderr, "hesspec %s: %s: cannot rename the report into place (%s); it is in %s\n", cmd, o.out, strerror(errno), tmpdir);
    hs_cmp_result_free(res);
    code = HS_EXIT_FAIL;
    goto done;
  }
  if (olddir[0]) rm_tree(olddir);
  if (!o.quiet) {
    char *f = hs_cmp_findings(res);
    printf("compared %zu kinds x %zu seeds in %.0fs (%s, %s)\n%sreport: %s/index.html\n", cfg.n_kinds, cfg.n_seeds, res->seconds,
           res->backend, res->device, f ? f : "", o.out);
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
    "compare", run, "train and analyse linear/ReLU/BN/residual networks; HTML report",
    "usage: hesspec compare --out DIR [--preset FILE.json] [options]\n\n"
    "Trains every network kind (same depth and width, same data) from every seed and\n"
    "analyses the loss Hessian at the chosen epochs (0 = initialisation, the last epoch\n"
    "always): SLQ density, lambda_max/lambda_min (Lanczos), trace, negative mass, loss,\n"
    "gradient norm, train/test accuracy. DIR receives index.html (self-contained),\n"
    "summary.csv, summary.md, config.json, plots/ and runs/<kind>-s<seed>/ (log.csv,\n"
    "density and eigenvalue files). DIR is written under a temporary name and renamed at\n"
    "the end; an existing report there is replaced, any other existing folder refused.\n\n"
    "  --preset FILE         the settings (examples/compare-demo.json); unknown keys are errors\n"
    "Flags override the preset:\n"
    "  --dataset NAME        fashion-mnist (test split: fashion-mnist:test) or mixture[:sep=S]\n"
    "  --samples N           training samples; --test-samples N; --analysis-samples N (the\n"
    "                        Hessian is that of the loss on the first N training samples;\n"
    "                        capped at --samples unless given explicitly)\n"
    "  --hidden W1,W2,...    hidden widths; --kinds relu,relu-bn,... (linear|relu|tanh[-bn][-res])\n"
    "  --seeds 1,2,3         initialisation and shuffling seeds\n"
    "  --epochs E --batch B --lr X --optimizer sgd|adam\n"
    "  --analysis-epochs 0,2,8   epochs to analyse; --steps M --probes K (SLQ)\n"
    "  --checkpoints         keep a checkpoint at every analysed epoch in runs/\n"
    "  --dtype f64|f32 --device D --threads T --quiet\n"
    "On a terminal a progress bar shows; otherwise one line per analysis (batch jobs).\n"};
