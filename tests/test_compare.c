/* hesspec compare (and the train command): a tiny preset produces every file of the report
 * with consistent numbers (summary vs density, eigenvalue and log files), the effective preset
 * (config.json) reproduces the run bit for bit, and bad input (unknown preset keys and
 * values, impossible sizes, a foreign output folder) exits 2 with a message naming it and
 * leaves nothing behind; an output folder that cannot be created exits 1 (an output-side
 * failure, the inputs were fine). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/compare.h"
#include "nn/dataset.h"
#include "nn/engine.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static void setup(void) { hs_cli_fixture_setup("compare_test"); }
static void teardown(void) { hs_cli_fixture_teardown(); }
TestSuite(compare, .init = setup, .fini = teardown, .timeout = 300);

#define dir hs_cli_dir
#define path hs_cli_path
#define write_text hs_cli_write_text
#define read_text hs_cli_read_text
#define errtext hs_cli_err

static const char *env_prefix = ""; /* e.g. "HESSPEC_DATA=/x " for one call */

static const char *threads_opt = "--threads 1";

static int hesspec(const char *args) { return hs_cli_run(env_prefix, args, threads_opt); }

#define exists hs_cli_exists

/* No "<name>.tmp.*" / ".old.*" folder left in dir. */
static void no_leftovers(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d)))
    cr_assert(!strstr(e->d_name, ".tmp.") && !strstr(e->d_name, ".old."), "left behind: %s", e->d_name);
  closedir(d);
}

static const char *TINY =
    "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 60, \"test_samples\": 30,\n"
    "  \"synthetic_dim\": 12, \"synthetic_classes\": 3, \"hidden\": [6, 6],\n"
    "  \"kinds\": [\"linear\", \"relu\", \"relu-bn\", \"relu-res\", \"relu-bn-res\"], \"seeds\": [1, 2],\n"
    "  \"train\": {\"optimizer\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9, \"epochs\": 2, \"batch\": 16},\n"
    "  \"analysis\": {\"epochs\": [0, 1], \"samples\": 40, \"slq_steps\": 12, \"slq_probes\": 2} }\n";

static const char *KINDS[] = {"linear", "relu", "relu-bn", "relu-res", "relu-bn-res"};

static cJSON *json_file(const char *name) {
  char *t = read_text(name);
  cJSON *j = cJSON_Parse(t);
  cr_assert(j, "%s is not JSON", name);
  free(t);
  return j;
}

static double num_at(const cJSON *o, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
  cr_assert(cJSON_IsNumber(x), "field %s.%s", a, b ? b : "");
  return x->valuedouble;
}

static void close_to(double a, double b, const char *what) {
  cr_assert(fabs(a - b) <= 1e-8 * fmax(1.0, fabs(b)), "%s: summary %.12g vs file %.12g", what, a, b);
}

Test(compare, tiny_preset_writes_a_consistent_report) {
  write_text("tiny.json", TINY);
  cr_assert_eq(hesspec("compare --preset tiny.json --out rep"), 0, "%s", errtext);
  no_leftovers();
  const char *top[] = {"rep/index.html", "rep/summary.csv", "rep/summary.md", "rep/config.json",
                       "rep/plots/density-e0000.svg", "rep/plots/density-e0001.svg", "rep/plots/density-e0002.svg",
                       "rep/plots/lambda_max.svg", "rep/plots/lambda_min.svg", "rep/plots/negative_mass.svg",
                       "rep/plots/train_loss.svg", "rep/plots/test_accuracy.svg"};
  for (size_t i = 0; i < sizeof top / sizeof *top; i++) cr_assert(exists(top[i]), "%s is missing", top[i]);
  /* every row of the summary agrees with its files */
  char *csv = read_text("rep/summary.csv");
  int rows = 0;
  char *save = NULL;
  strtok_r(csv, "\n", &save); /* header */
  for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[32];
    int nf = 0;
    for (char *p = line; nf < 32;) {
      f[nf++] = p;
      char *c = strchr(p, ',');
      if (!c) break;
      *c = '\0';
      p = c + 1;
    }
    cr_assert_eq(nf, 26, "summary row with %d fields", nf);
    cr_assert(!*f[20] && !*f[21] && !*f[22], "cross entropy rows have no optimum gap");
    int last = atoi(f[2]) == 2, relu = strstr(f[0], "relu") != NULL;
    cr_assert(last ? *f[23] && atoi(f[23]) >= 1 && atoi(f[23]) <= 5 : !*f[23], "%s epoch %s: outliers '%s'", f[0], f[2], f[23]);
    cr_assert(relu ? *f[25] && atof(f[25]) >= 0 && atof(f[25]) <= 1 : !*f[25], "%s: dead fraction '%s'", f[0], f[25]);
    char name[300];
    snprintf(name, sizeof name, "rep/%s", f[17]);
    cJSON *d = json_file(name);
    cr_assert_str_eq(cJSON_GetObjectItem(d, "format")->valuestring, "hesspec.density/1");
    close_to(atof(f[10]), num_at(d, "summary", "lambda_max"), "slq_lambda_max");
    close_to(atof(f[11]), num_at(d, "summary", "lambda_min"), "slq_lambda_min");
    close_to(atof(f[12]), num_at(d, "summary", "trace"), "trace");
    close_to(atof(f[14]), num_at(d, "summary", "negative_fraction"), "negative_fraction");
    cr_assert(atof(f[8]) >= atof(f[10]) - 1e-6 * fabs(atof(f[8])), "Lanczos lambda_max below the largest Ritz node");
    cJSON_Delete(d);
    snprintf(name, sizeof name, "rep/%s", f[18]);
    d = json_file(name);
    cJSON *ev = cJSON_GetObjectItem(d, "eigenvalues");
    close_to(atof(f[8]), cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 1)->valuedouble, "lambda_max");
    cJSON_Delete(d);
    snprintf(name, sizeof name, "rep/%s", f[19]);
    d = json_file(name);
    close_to(atof(f[9]), cJSON_GetArrayItem(cJSON_GetObjectItem(d, "eigenvalues"), 0)->valuedouble, "lambda_min");
    cJSON_Delete(d);
    rows++;
  }
  cr_assert_eq(rows, 5 * 2 * 3, "%d summary rows", rows);
  free(csv);
  for (int k = 0; k < 5; k++)
    for (int s = 1; s <= 2; s++) {
      char name[200];
      snprintf(name, sizeof name, "rep/runs/%s-s%d/log.csv", KINDS[k], s);
      char *log = read_text(name);
      int lines = 0;
      for (char *p = log; *p; p++) lines += *p == '\n';
      cr_assert_eq(lines, 3, "%s has %d lines", name, lines);
      free(log);
      snprintf(name, sizeof name, "rep/runs/%s-s%d/density-e0001.csv", KINDS[k], s);
      cr_assert(exists(name), "%s is missing", name);
    }
  /* the page is self-contained: inline SVG, no external resources */
  char *html = read_text("rep/index.html");
  cr_assert(strstr(html, "<svg"));
  cr_assert(!strstr(html, "http://") || !strstr(html, "src=\"http"), "external resource");
  cr_assert(!strstr(html, "<script"));
  cr_assert(strstr(html, "Findings"));
  /* the landscape and critical-point panels are off unless the preset asks */
  cr_assert(!strstr(html, "Loss landscape") && !strstr(html, "Critical points"), "a panel without its switch");
  free(html);
  cr_assert(!exists("rep/plots/landscape-relu.svg") && !exists("rep/plots/critical.svg") && !exists("rep/critical") &&
            !exists("rep/runs/relu-s1/landscape.json"), "panel files without the switches");
  /* config.json is a preset reproducing the run exactly (timings aside) */
  cr_assert_eq(hesspec("compare --preset rep/config.json --out rep2"), 0, "%s", errtext);
  cJSON *a = json_file("rep/runs/relu-bn-s2/density-e0002.json"), *b = json_file("rep2/runs/relu-bn-s2/density-e0002.json");
  char *pa = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "probes")), *pb = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "probes"));
  cr_assert_str_eq(pa, pb, "rerun from config.json differs");
  free(pa); free(pb);
  cJSON_Delete(a);
  cJSON_Delete(b);
  /* and a second run replaces the report in place */
  cr_assert_eq(hesspec("compare --preset tiny.json --out rep --seeds 3 --kinds relu"), 0, "%s", errtext);
  cr_assert(exists("rep/runs/relu-s3/log.csv"));
  cr_assert(!exists("rep/runs/relu-s1"));
  no_leftovers();
}

/* mse: the linear kinds carry the closed-form optimum of their network on the training set;
 * no trained net is below it (it is the global minimum), the gap is the training loss minus it,
 * it shrinks with training, and the ReLU kind has none. Accuracy is the argmax agreement. */
Test(compare, mse_linear_kinds_report_the_gap_to_the_global_optimum) {
  write_text("mse.json",
             "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 60, \"test_samples\": 30, \"loss\": \"mse\",\n"
             "  \"synthetic_dim\": 12, \"synthetic_classes\": 3, \"hidden\": [2, 2],\n"
             "  \"kinds\": [\"linear\", \"linear-res\", \"relu\"], \"seeds\": [1],\n"
             "  \"train\": {\"optimizer\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9, \"epochs\": 6, \"batch\": 10},\n"
             "  \"analysis\": {\"epochs\": [0], \"samples\": 30, \"slq_steps\": 8, \"slq_probes\": 1} }\n");
  cr_assert_eq(hesspec("compare --preset mse.json --out rep"), 0, "%s", errtext);
  char *csv = read_text("rep/summary.csv");
  char *save = NULL;
  int linear_rows = 0;
  double gap0 = NAN, gap_end = NAN;
  strtok_r(csv, "\n", &save);
  for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[32];
    int nf = 0;
    for (char *p = line; nf < 32;) {
      f[nf++] = p;
      char *c = strchr(p, ',');
      if (!c) break;
      *c = '\0';
      p = c + 1;
    }
    cr_assert_eq(nf, 26, "summary row with %d fields", nf);
    double acc = atof(f[6]);
    cr_expect(*f[6] && acc >= 0 && acc <= 1, "%s: train accuracy '%s'", f[0], f[6]);
    if (strcmp(f[0], "relu") == 0) {
      cr_expect(!*f[20] && !*f[21] && !*f[22], "relu has an optimum: '%s'", f[21]);
      continue;
    }
    double all = atof(f[20]), opt = atof(f[21]), gap = atof(f[22]);
    cr_assert(*f[20] && *f[21] && *f[22], "%s epoch %s: no optimum gap", f[0], f[2]);
    cr_expect(opt > 0 && gap >= -1e-10 * opt, "%s epoch %s: training loss %.12g below the global optimum %.12g", f[0], f[2], all, opt);
    cr_expect(fabs(gap - (all - opt)) <= 1e-8 * all, "%s: gap %.10g is not loss - optimum", f[0], gap);
    if (strcmp(f[0], "linear") == 0) {
      if (atoi(f[2]) == 0) gap0 = gap;
      else gap_end = gap;
    }
    linear_rows++;
  }
  cr_expect_eq(linear_rows, 4, "%d linear rows", linear_rows);
  cr_expect(gap_end < 0.5 * gap0, "the gap does not shrink with training: %g -> %g", gap0, gap_end);
  free(csv);
  char *md = read_text("rep/summary.md");
  cr_expect(strstr(md, "Every local minimum is global (linear, mse)") && strstr(md, "Gap to the global optimum"), "%s", md);
  free(md);
}

/* ---- the landscape and critical-point panels ---- */

static const char *PANELS =
    "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 60, \"test_samples\": 30,\n"
    "  \"synthetic_dim\": 12, \"synthetic_classes\": 3, \"hidden\": [6, 6],\n"
    "  \"kinds\": [\"linear\", \"relu\", \"relu-bn-res\"], \"seeds\": [1, 2],\n"
    "  \"train\": {\"optimizer\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9, \"epochs\": 2, \"batch\": 16},\n"
    "  \"analysis\": {\"epochs\": [0], \"samples\": 40, \"slq_steps\": 12, \"slq_probes\": 2, \"checkpoints\": true,\n"
    "    \"landscape\": %s, \"landscape_kinds\": [\"relu\", \"relu-bn-res\", \"tanh\"], \"landscape_points\": 5,\n"
    "    \"landscape_range\": 0.5, \"critical\": %s, \"critical_kind\": \"tanh\", \"critical_hidden\": [3],\n"
    "    \"critical_samples\": 30, \"critical_starts\": 2, \"critical_noise\": 0.3, \"critical_max_iter\": 20,\n"
    "    \"critical_gtol\": 1e-3} }\n";

/* Runs `hesspec loss --model MODEL --weights W` on the first n samples of the panels' data (the
 * mixture draw is counter-based: its first n samples are those of the comparison's draw). */
static void cli_loss(const char *model, const char *weights, int n, double *loss, double *grad_norm) {
  char a[600];
  snprintf(a, sizeof a, "loss --model %s --weights %s --dataset mixture:sep=4 --samples %d", model, weights, n);
  cr_assert_eq(hesspec(a), 0, "%s: %s", a, errtext);
  char *out = read_text("stdout.txt");
  const char *l = strstr(out, "loss "), *g = strstr(out, "grad_norm ");
  cr_assert(l && g, "hesspec loss printed '%s'", out);
  *loss = strtod(l + 5, NULL);
  *grad_norm = strtod(g + 10, NULL);
  free(out);
}

/* The summary's loss of (kind, seed, epoch). */
static double summary_loss(const char *kind, int seed, int epoch) {
  char *csv = read_text("rep/summary.csv"), *save = NULL, prefix[64];
  snprintf(prefix, sizeof prefix, "%s,%d,%d,", kind, seed, epoch);
  double v = NAN;
  for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    if (strncmp(line, prefix, strlen(prefix)) == 0) v = atof(strchr(line + strlen(prefix), ',') + 1); /* after params */
  free(csv);
  cr_assert(isfinite(v), "no summary row %s", prefix);
  return v;
}

static void valid_svg(const char *name) {
  cr_assert(exists(name), "%s is missing", name);
  char *t = read_text(name);
  cr_assert(strstr(t, "<svg") && strstr(t, "</svg>"), "%s is not an SVG", name);
  cr_assert(!strstr(t, "nan") && !strstr(t, "inf\""), "%s has a non-finite coordinate", name);
  free(t);
}

/* Writes the preset fmt % (a, b) as panels.json, runs it into rep (exit 0, nothing left
 * behind) and returns its index.html (caller frees). */
static char *run_panels(const char *fmt, const char *a, const char *b) {
  char preset[2048];
  snprintf(preset, sizeof preset, fmt, a, b);
  write_text("panels.json", preset);
  cr_assert_eq(hesspec("compare --preset panels.json --out rep"), 0, "%s", errtext);
  no_leftovers();
  return read_text("rep/index.html");
}

/* With both switches on: the page shows both panels, their files exist and are valid, the
 * landscape's centre is the trained model's loss (as the summary and `hesspec loss` on the
 * epoch checkpoint give it), and every critical point's loss and gradient norm are what
 * `hesspec loss` finds at its checkpoint. With the switches off: no panel, no panel file. */
Test(compare, landscape_and_critical_panels) {
  char *html = run_panels(PANELS, "true", "true");
  cr_assert(strstr(html, "<h2>Loss landscape</h2>") && strstr(html, "<h2>Critical points</h2>"), "a panel is missing");
  cr_assert(strstr(html, "plots/landscape-relu.svg") && strstr(html, "plots/landscape-relu-bn-res.svg") &&
            strstr(html, "plots/critical.svg"), "a panel's plot is not on the page");
  cr_assert(strstr(html, "tanh: not among the compared kinds"), "the kind that was not compared is not named");
  free(html);
  char *md = read_text("rep/summary.md");
  cr_assert(strstr(md, "## Loss landscape") && strstr(md, "## Critical points") && strstr(md, "Loss landscape around"), "%s", md);
  free(md);
  /* the landscapes */
  const char *kinds[] = {"relu", "relu-bn-res"};
  for (int k = 0; k < 2; k++) {
    char name[200];
    snprintf(name, sizeof name, "rep/plots/landscape-%s.svg", kinds[k]);
    valid_svg(name);
    snprintf(name, sizeof name, "rep/runs/%s-s1/landscape.json", kinds[k]);
    cJSON *j = json_file(name);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "hesspec.landscape/1");
    cr_assert_eq(num_at(j, "dims", NULL), 2);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "directions"), "kind")->valuestring, "random");
    const cJSON *al = cJSON_GetObjectItem(j, "alpha"), *be = cJSON_GetObjectItem(j, "beta"), *lo = cJSON_GetObjectItem(j, "loss");
    cr_assert(cJSON_GetArraySize(al) == 5 && cJSON_GetArraySize(be) == 5 && cJSON_GetArraySize(lo) == 5, "not a 5 x 5 grid");
    cr_assert_eq(cJSON_GetArrayItem(al, 0)->valuedouble, -0.5);
    cr_assert_eq(cJSON_GetArrayItem(al, 2)->valuedouble, 0.0, "the centre is not alpha = 0");
    cr_assert_eq(cJSON_GetArrayItem(be, 2)->valuedouble, 0.0, "the centre is not beta = 0");
    for (int i = 0; i < 5; i++)
      for (int jj = 0; jj < 5; jj++)
        cr_assert(cJSON_IsNumber(cJSON_GetArrayItem(cJSON_GetArrayItem(lo, i), jj)), "loss[%d][%d] is not a number", i, jj);
    double centre = cJSON_GetArrayItem(cJSON_GetArrayItem(lo, 2), 2)->valuedouble;
    /* the summary prints 10 digits; `hesspec loss` on the checkpoint all of them */
    double s = summary_loss(kinds[k], 1, 2);
    cr_assert(fabs(centre - s) <= 1e-9 * fabs(s), "%s: landscape centre %.17g, summary loss %.17g", kinds[k], centre, s);
    char *model = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "model"));
    write_text("m.json", model);
    free(model);
    double l, g;
    snprintf(name, sizeof name, "rep/runs/%s-s1/epoch-0002.safetensors", kinds[k]);
    cli_loss("m.json", name, 40, &l, &g);
    cr_assert(fabs(centre - l) <= 1e-12 * fabs(l), "%s: landscape centre %.17g, hesspec loss %.17g", kinds[k], centre, l);
    cJSON_Delete(j);
    snprintf(name, sizeof name, "rep/runs/%s-s1/landscape.csv", kinds[k]);
    char *csv = read_text(name);
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 26, "%s: %d lines", name, lines);
    free(csv);
  }
  cr_assert(!exists("rep/runs/relu-s2/landscape.json") && !exists("rep/runs/linear-s1/landscape.json"),
            "a landscape for a seed or kind not asked for");
  /* the critical points */
  valid_svg("rep/plots/critical.svg");
  cr_assert(exists("rep/critical/model.json") && exists("rep/critical/trained.safetensors") && exists("rep/critical/log.csv"));
  char *csv = read_text("rep/critical/critical.csv"), *save = NULL;
  int rows = 0;
  strtok_r(csv, "\n", &save);
  for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save), rows++) {
    char *f[20];
    int nf = 0;
    for (char *p = line; nf < 20;) {
      f[nf++] = p;
      char *c = strchr(p, ',');
      if (!c) break;
      *c = '\0';
      p = c + 1;
    }
    cr_assert_eq(nf, 16, "critical.csv row with %d fields", nf);
    double loss = atof(f[1]), g0 = atof(f[2]), gn = atof(f[3]), index = atof(f[8]);
    int conv = atoi(f[6]);
    cr_assert_eq(atoi(f[0]), rows);
    cr_assert(gn < g0, "start %d: ||grad|| %g did not fall below the start's %g", rows, gn, g0);
    cr_assert_eq(conv, gn <= 1e-3, "start %d: converged %d with ||grad|| %g", rows, conv, gn);
    cr_assert_str_eq(f[10], "exact", "P = 51 is below the exact limit");
    cr_assert(index >= 0 && index <= 1 && fabs(index - atof(f[11]) / 51) < 1e-15, "start %d: index %s of %s", rows, f[8], f[11]);
    char name[200];
    snprintf(name, sizeof name, "rep/%s", f[15]);
    cr_assert(exists(name), "%s is missing", name);
    double l, g;
    cli_loss("rep/critical/model.json", name, 30, &l, &g);
    cr_assert(fabs(l - loss) <= 1e-12 * fabs(loss), "start %d: loss %.17g, hesspec loss %.17g", rows, loss, l);
    cr_assert(fabs(g - gn) <= 1e-8 * fmax(gn, 1e-12), "start %d: grad norm %.17g, hesspec loss %.17g", rows, gn, g);
  }
  cr_assert_eq(rows, 2, "%d starts", rows);
  free(csv);
  /* the effective preset carries the switches */
  cJSON *cfg = json_file("rep/config.json");
  const cJSON *an = cJSON_GetObjectItem(cfg, "analysis");
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(an, "landscape")) && cJSON_IsTrue(cJSON_GetObjectItem(an, "critical")));
  cJSON_Delete(cfg);
  /* switches off: the same preset draws neither */
  html = run_panels(PANELS, "false", "false");
  cr_assert(!strstr(html, "Loss landscape") && !strstr(html, "Critical points"), "a panel without its switch");
  free(html);
  cr_assert(!exists("rep/plots/landscape-relu.svg") && !exists("rep/plots/critical.svg") && !exists("rep/critical") &&
            !exists("rep/runs/relu-s1/landscape.json"), "panel files without the switches");
}

/* ---- curvature along training and the operators panel ---- */

static const char *CURVOPS =
    "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 60, \"test_samples\": 30,\n"
    "  \"synthetic_dim\": 12, \"synthetic_classes\": 3, \"hidden\": [6, 6],\n"
    "  \"kinds\": [\"relu\", \"relu-bn-res\"], \"seeds\": [1, 2],\n"
    "  \"train\": {\"optimizer\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9, \"epochs\": 2, \"batch\": 16},\n"
    "  \"analysis\": {\"epochs\": [0, 1], \"samples\": 40, \"slq_steps\": 12, \"slq_probes\": 2, \"checkpoints\": true,\n"
    "    \"eig_tol\": 1e-10, \"curvature_every\": %s, \"curvature_samples\": 30, \"curvature_overlap_k\": 2,\n"
    "    \"operators\": %s} }\n";

/* `hesspec ARGS --out t.json` on the mixture's first n samples; the file's first eigenvalue. */
static double cli_eig(const char *args, int n) {
  char a[800];
  snprintf(a, sizeof a, "eig --model m.json --dataset mixture:sep=4 --samples %d --seed 0 --tol 1e-10 %s --out t.json", n, args);
  cr_assert_eq(hesspec(a), 0, "%s: %s", a, errtext);
  cJSON *j = json_file("t.json");
  double v = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "eigenvalues"), 0)->valuedouble;
  cJSON_Delete(j);
  return v;
}

/* Every probe's nodes and weights of two density files agree to 1e-10 (relative to the largest node). */
static void same_rules(const char *a, const char *b) {
  cJSON *x = json_file(a), *y = json_file(b);
  const cJSON *px = cJSON_GetObjectItem(x, "probes"), *py = cJSON_GetObjectItem(y, "probes");
  cr_assert(cJSON_GetArraySize(px) == 2 && cJSON_GetArraySize(py) == 2, "%s, %s: probes", a, b);
  double scale = fmax(fabs(num_at(x, "summary", "lambda_max")), fabs(num_at(x, "summary", "lambda_min")));
  for (int p = 0; p < 2; p++) {
    const char *keys[2] = {"nodes", "weights"};
    for (int k = 0; k < 2; k++) {
      const cJSON *u = cJSON_GetObjectItem(cJSON_GetArrayItem(px, p), keys[k]);
      const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(py, p), keys[k]);
      cr_assert(cJSON_GetArraySize(u) > 0 && cJSON_GetArraySize(u) == cJSON_GetArraySize(v), "%s probe %d %s", a, p, keys[k]);
      for (int i = 0; i < cJSON_GetArraySize(u); i++) {
        double s1 = cJSON_GetArrayItem(u, i)->valuedouble, s2 = cJSON_GetArrayItem(v, i)->valuedouble;
        cr_assert(fabs(s1 - s2) <= 1e-10 * (k ? 1 : scale), "%s vs %s: probe %d %s[%d] %.17g vs %.17g", a, b, p, keys[k], i, s1, s2);
      }
    }
  }
  cJSON_Delete(x);
  cJSON_Delete(y);
}

/* With both switches on: the sections, plots and files exist; lambda_max at each epoch's last
 * step equals `eig --top 1` on that epoch's checkpoint (1e-8 relative); the H, G and H - G
 * densities equal `spectrum --operator hessian|ggn|residual` on the final checkpoint (nodes
 * and weights to 1e-10); each layer's lambda_max equals `eig --top 1 --block NAME`. Off: none. */
Test(compare, curvature_and_operators_panels) {
  char *html = run_panels(CURVOPS, "3", "true");
  cr_assert(strstr(html, "<h2>Curvature along training</h2>") && strstr(html, "<h2>Gauss-Newton, residual and layers</h2>"),
            "a section is missing");
  cr_assert(strstr(html, "plots/curvature-lambda_max.svg") && strstr(html, "plots/curvature-overlap.svg") &&
            strstr(html, "plots/operators-relu.svg") && strstr(html, "plots/operators-relu-bn-res.svg"), "a plot is not on the page");
  cr_assert(strstr(html, "<th>blocks.1.norm</th>") && strstr(html, "<th>head</th>"), "the layer table lacks a layer");
  free(html);
  char *md = read_text("rep/summary.md");
  cr_assert(strstr(md, "## Curvature along training") && strstr(md, "## Gauss-Newton, residual and layers") &&
            strstr(md, "Curvature along training (seed 1") && strstr(md, "Gauss-Newton and residual after 2 epochs"), "%s", md);
  free(md);
  valid_svg("rep/plots/curvature-lambda_max.svg");
  valid_svg("rep/plots/curvature-overlap.svg");
  char *svg = read_text("rep/plots/curvature-lambda_max.svg");
  cr_assert(strstr(svg, "2 / lr") && strstr(svg, "stroke-dasharray=\"7 4\""), "SGD: no 2/lr line");
  free(svg);
  const char *kinds[] = {"relu", "relu-bn-res"};
  for (int k = 0; k < 2; k++) {
    char name[300], args[600];
    snprintf(name, sizeof name, "rep/plots/operators-%s.svg", kinds[k]);
    valid_svg(name);
    snprintf(name, sizeof name, "rep/runs/%s-s1/density-e0002.json", kinds[k]);
    cJSON *j = json_file(name);
    char *model = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "model"));
    write_text("m.json", model);
    free(model);
    cJSON_Delete(j);
    /* curvature.csv of both seeds: 4 steps per epoch, every 3: rows 0, 3, 4, 6, 8 */
    for (int seed = 1; seed <= 2; seed++) {
      snprintf(name, sizeof name, "rep/runs/%s-s%d/curvature.csv", kinds[k], seed);
      char *t = read_text(name), *line = strstr(t, "step,epoch,lambda_max,lambda_min,grad_overlap,seconds\n");
      cr_assert(strncmp(t, "# hesspec curvature", 19) == 0 && line, "%s: %s", name, t);
      line = strchr(line, '\n') + 1;
      long want[5][2] = {{0, 0}, {3, 1}, {4, 1}, {6, 2}, {8, 2}};
      for (int i = 0; i < 5; i++) {
        long step, epoch;
        double lmax, lmin, ov, sec;
        cr_assert_eq(sscanf(line, "%ld,%ld,%lf,%lf,%lf,%lf", &step, &epoch, &lmax, &lmin, &ov, &sec), 6, "%s row %d", name, i);
        cr_assert(step == want[i][0] && epoch == want[i][1], "%s row %d: step %ld epoch %ld", name, i, step, epoch);
        cr_assert(ov >= 0 && ov <= 1 + 1e-12, "%s row %d: overlap %g", name, i, ov);
        if (i == 2 || i == 4) { /* an epoch's last step: the parameters of its checkpoint */
          snprintf(args, sizeof args, "--weights rep/runs/%s-s%d/epoch-%04ld.safetensors --top 1", kinds[k], seed, epoch);
          double top = cli_eig(args, 30);
          cr_assert(fabs(lmax - top) <= 1e-8 * fabs(top), "%s epoch %ld: lambda_max %.15g, eig --top 1 %.15g", name, epoch, lmax, top);
        }
        line = strchr(line, '\n') + 1;
      }
      cr_assert_eq(*line, '\0', "%s: more than 5 rows", name);
      free(t);
    }
    /* H, G and H - G after training against `hesspec spectrum --operator` on the checkpoint */
    const char *ops[3][2] = {{"hessian", "density-e0002.json"}, {"ggn", "density-ggn-e0002.json"},
                             {"residual", "density-residual-e0002.json"}};
    for (int o = 0; o < 3; o++) {
      snprintf(args, sizeof args, "spectrum --model m.json --dataset mixture:sep=4 --samples 40 --weights "
                                  "rep/runs/%s-s1/epoch-0002.safetensors --steps 12 --probes 2 --seed 0 --operator %s --out s.json",
               kinds[k], ops[o][0]);
      cr_assert_eq(hesspec(args), 0, "%s: %s", args, errtext);
      snprintf(name, sizeof name, "rep/runs/%s-s1/%s", kinds[k], ops[o][1]);
      same_rules(name, "s.json");
      if (o) {
        cJSON *d = json_file(name);
        cr_assert_str_eq(cJSON_GetObjectItem(d, "operator")->valuestring, ops[o][0]);
        cJSON_Delete(d);
        snprintf(name, sizeof name, "rep/runs/%s-s1/%s", kinds[k], ops[o][1]);
        strcpy(strrchr(name, '.'), ".csv");
        cr_assert(exists(name), "%s is missing", name);
      }
    }
    /* every layer's lambda_max against `hesspec eig --top 1 --block NAME` */
    snprintf(name, sizeof name, "rep/runs/%s-s1/eig-layers-e0002.json", kinds[k]);
    cJSON *l = json_file(name);
    cr_assert_str_eq(cJSON_GetObjectItem(l, "format")->valuestring, "hesspec.eig/1");
    const cJSON *blocks = cJSON_GetObjectItem(l, "blocks"), *b;
    cr_assert_eq(cJSON_GetArraySize(blocks), k ? 5 : 3, "%s: %d layers", name, cJSON_GetArraySize(blocks));
    cJSON_ArrayForEach(b, blocks) {
      const char *layer = cJSON_GetObjectItem(b, "name")->valuestring;
      double v = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "eigenvalues"), 0)->valuedouble;
      snprintf(args, sizeof args, "--weights rep/runs/%s-s1/epoch-0002.safetensors --top 1 --block %s", kinds[k], layer);
      double top = cli_eig(args, 40);
      cr_assert(fabs(v - top) <= 1e-8 * fabs(top), "%s %s: lambda_max %.15g, eig --block %.15g", kinds[k], layer, v, top);
    }
    cJSON_Delete(l);
  }
  cr_assert(!exists("rep/runs/relu-s2/density-ggn-e0002.json") && !exists("rep/runs/relu-s2/eig-layers-e0002.json"),
            "operators for a seed other than the first");
  cJSON *cfg = json_file("rep/config.json");
  const cJSON *an = cJSON_GetObjectItem(cfg, "analysis");
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(an, "operators")) && num_at(an, "curvature_every", NULL) == 3);
  cJSON_Delete(cfg);
  /* switches off: no section, no plot, no file */
  html = run_panels(CURVOPS, "0", "false");
  cr_assert(!strstr(html, "Curvature along training") && !strstr(html, "Gauss-Newton"), "a section without its switch");
  free(html);
  cr_assert(!exists("rep/plots/curvature-lambda_max.svg") && !exists("rep/plots/curvature-overlap.svg") &&
            !exists("rep/plots/operators-relu.svg") && !exists("rep/runs/relu-s1/curvature.csv") &&
            !exists("rep/runs/relu-s1/density-ggn-e0002.json") && !exists("rep/runs/relu-s1/density-residual-e0002.json") &&
            !exists("rep/runs/relu-s1/eig-layers-e0002.json"), "files without the switches");
}

/* summary.csv without its timing column (17th) */
static char *summary_without_seconds(const char *name) {
  char *t = read_text(name), *out = malloc(strlen(t) + 1), *o = out;
  int field = 0;
  for (const char *p = t; *p; p++) {
    if (*p == '\n') field = 0;
    else if (*p == ',') field++;
    if (field != 16 || *p == ',') *o++ = *p;
  }
  *o = '\0';
  free(t);
  return out;
}

Test(compare, results_do_not_depend_on_the_thread_count) {
  write_text("tiny.json", TINY);
  cr_assert_eq(hesspec("compare --preset tiny.json --out r1 --kinds relu-bn-res,linear"), 0, "%s", errtext);
  threads_opt = "--threads 3";
  int rc = hesspec("compare --preset tiny.json --out r3 --kinds relu-bn-res,linear");
  threads_opt = "--threads 1";
  cr_assert_eq(rc, 0, "%s", errtext);
  char *a = summary_without_seconds("r1/summary.csv"), *b = summary_without_seconds("r3/summary.csv");
  cr_assert_str_eq(a, b, "summary.csv differs between 1 and 3 threads");
  free(a);
  free(b);
}

static void bad(const char *preset, const char *args, const char *needle) {
  write_text("bad.json", preset);
  char a[600];
  snprintf(a, sizeof a, "compare --preset bad.json --out badrep %s", args);
  int rc = hesspec(a);
  cr_assert_eq(rc, 2, "'%s' with %s: exit %d (%s)", preset, args, rc, errtext);
  cr_assert(strstr(errtext, needle), "message '%s' does not name '%s'", errtext, needle);
  cr_assert(!strchr(errtext, '\n') || strchr(errtext, '\n') == errtext + strlen(errtext) - 1, "not one line: %s", errtext);
  cr_assert(!exists("badrep"), "a report folder was written");
  no_leftovers();
}

Test(compare, bad_input_exits_2_naming_it) {
  bad("{\"dataset\": \"mixture\", \"colour\": 3}", "", "colour");
  bad("{\"train\": {\"lr\": 0.1, \"learning_rate\": 3}}", "", "train.learning_rate");
  bad("{\"analysis\": {\"epochs\": [0, 50]}}", "", "beyond");
  bad("{\"kinds\": [\"relu\", \"sigmoid-bn\"]}", "", "sigmoid-bn");
  bad("{\"train_samples\": 100, \"analysis\": {\"samples\": 500}}", "", "analysis samples");
  bad("{\"hidden\": [0]}", "", "hidden");
  bad("{\"train\": {\"optimizer\": \"lbfgs\"}}", "", "lbfgs");
  bad("{\"seeds\": [1, 1]}", "", "twice");
  bad("[1, 2]", "", "object");
  bad("{\"dataset\": \"mixture\"", "", "JSON");
  bad("{}", "--kinds relu,foo", "foo");
  bad("{}", "--hidden 4,x", "--hidden");
  bad("{\"loss\": \"hinge\"}", "", "hinge");
  bad("{}", "--loss hinge", "--loss 'hinge'");
  /* the panels' keys */
  bad("{\"analysis\": {\"landscape\": true, \"landscape_points\": 4}}", "", "analysis.landscape_points");
  bad("{\"analysis\": {\"landscape_points\": 1}}", "", "analysis.landscape_points");
  bad("{\"analysis\": {\"landscape_range\": 0}}", "", "analysis.landscape_range");
  bad("{\"analysis\": {\"landscape_kinds\": [\"relu\", \"sigmoid\"]}}", "", "sigmoid");
  bad("{\"analysis\": {\"landscape\": \"yes\"}}", "", "analysis.landscape");
  bad("{\"analysis\": {\"critical\": true, \"critical_starts\": 3, \"critical_noise\": 0}}", "", "analysis.critical_noise");
  bad("{\"analysis\": {\"critical_gtol\": 0}}", "", "analysis.critical_gtol");
  bad("{\"analysis\": {\"critical_starts\": 0}}", "", "analysis.critical_starts");
  bad("{\"analysis\": {\"critical_noise\": -1}}", "", "analysis.critical_noise");
  bad("{\"analysis\": {\"critical_hidden\": [3, 0]}}", "", "analysis.critical_hidden");
  bad("{\"analysis\": {\"critical_kind\": \"softplus\"}}", "", "softplus");
  bad("{\"train_samples\": 100, \"analysis\": {\"samples\": 50, \"critical\": true, \"critical_samples\": 500}}", "",
      "analysis.critical_samples");
  bad("{\"analysis\": {\"critical_hiden\": [3]}}", "", "analysis.critical_hiden");
  bad("{\"dataset\": \"spiral\"}", "", "spiral");
  /* curvature along training and the operators panel: {preset, what the message names} */
  const char *curv_ops[][2] = {
      {"{\"analysis\": {\"curvature_every\": -1}}", "analysis.curvature_every"},
      {"{\"analysis\": {\"curvature_every\": 2.5}}", "analysis.curvature_every"},
      {"{\"analysis\": {\"curvature_overlap_k\": 1000000}}", "analysis.curvature_overlap_k"},
      {"{\"train_samples\": 100, \"analysis\": {\"samples\": 50, \"curvature_every\": 5, \"curvature_samples\": 500}}",
       "analysis.curvature_samples"},
      {"{\"analysis\": {\"operators\": \"yes\"}}", "analysis.operators"},
      {"{\"analysis\": {\"operator\": true}}", "analysis.operator"},
      /* more eigenvectors than the 141 parameters: found when the network is built */
      {"{\"dataset\": \"mixture:sep=4\", \"train_samples\": 60, \"test_samples\": 30, \"synthetic_dim\": 12, "
       "\"synthetic_classes\": 3, \"hidden\": [6, 6], \"kinds\": [\"relu\"], \"seeds\": [1], \"train\": {\"epochs\": 1, "
       "\"batch\": 16}, \"analysis\": {\"epochs\": [0], \"samples\": 40, \"curvature_every\": 2, \"curvature_overlap_k\": 5000}}",
       "analysis.curvature_overlap_k"}};
  for (size_t i = 0; i < sizeof curv_ops / sizeof *curv_ops; i++) bad(curv_ops[i][0], "", curv_ops[i][1]);
  bad("{\"train_samples\": 100, \"analysis\": {\"samples\": 50}}", "--batch 1000", "batch");
  write_text("ok.json", TINY);
  /* an unwritable output folder */
  cr_assert_eq(mkdir(path("ro"), 0555), 0);
  int rc = hesspec("compare --preset ok.json --out ro/rep");
  if (geteuid() != 0) { /* root writes anywhere */
    cr_assert_eq(rc, 1, "unwritable folder: exit %d (%s)", rc, errtext);
    cr_assert(strstr(errtext, "ro/rep"), "%s", errtext);
  }
  write_text("plain", "a file, not a folder");
  rc = hesspec("compare --preset ok.json --out plain/rep");
  cr_assert_eq(rc, 1, "output through a file: exit %d (%s)", rc, errtext);
  cr_assert(strstr(errtext, "plain/rep"), "%s", errtext);
  cr_assert_eq(unlink(path("plain")), 0);
  rc = hesspec("compare --preset ok.json --out no/such/dir/rep");
  cr_assert_eq(rc, 1, "missing parent: exit %d (%s)", rc, errtext);
  cr_assert(strstr(errtext, "no/such/dir/rep"), "%s", errtext);
  /* a folder that is not a report is never replaced */
  cr_assert_eq(mkdir(path("mine"), 0755), 0);
  write_text("mine/notes.txt", "keep me");
  rc = hesspec("compare --preset ok.json --out mine");
  cr_assert_eq(rc, 2, "foreign folder: exit %d (%s)", rc, errtext);
  cr_assert(strstr(errtext, "not a hesspec compare report"), "%s", errtext);
  cr_assert(exists("mine/notes.txt"));
  no_leftovers();
}

Test(compare, preset_reader_names_the_file_and_key) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  write_text("p.json", "{\"analysis\": {\"slq_steps\": 10, \"probes\": 3}}");
  hs_cmp_config c = hs_cmp_defaults();
  cr_assert_eq(hs_cmp_load_preset(ctx, path("p.json"), &c), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "analysis.probes"), "%s", hs_last_error(ctx));
  cr_assert(strstr(hs_last_error(ctx), "p.json"), "%s", hs_last_error(ctx));
  /* a kind refused by its custom parser leaves the field as it was */
  const hs_setting *ck = hs_cmp_setting_at("analysis.critical_kind", &c, &(const void *){NULL});
  cr_assert(ck);
  cr_assert_eq(hs_setting_from_text(ctx, ck, "critical_kind", "relu-bnX", &c), HS_E_INVALID);
  cr_assert_str_eq(c.critical_kind.name, "tanh");
  cr_assert_eq(c.critical_kind.batchnorm, 0);
  /* checking twice adds the last epoch once; 31 epochs and the last fill the list exactly */
  c = hs_cmp_defaults();
  c.train.epochs = 40;
  c.slq_steps = 7; /* the field after the list */
  c.n_stages = 31;
  for (size_t i = 0; i < 31; i++) c.stages[i] = i;
  cr_assert_eq(hs_cmp_validate(ctx, &c), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(c.n_stages, 32);
  cr_assert_eq(hs_cmp_validate(ctx, &c), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(c.n_stages, 32);
  cr_assert_eq(c.stages[31], 40);
  cr_assert_eq(c.slq_steps, 7, "the field after the list is untouched");
  /* the shipped presets are valid */
  const char *src = getenv("HS_SOURCE_DIR");
  if (src) {
    const char *presets[] = {"compare-demo.json", "compare-quick.json"};
    for (int i = 0; i < 2; i++) {
      char p[600];
      snprintf(p, sizeof p, "%s/examples/%s", src, presets[i]);
      c = hs_cmp_defaults();
      cr_assert_eq(hs_cmp_load_preset(ctx, p, &c), HS_OK, "%s", hs_last_error(ctx));
      cr_assert_eq(hs_cmp_validate(ctx, &c), HS_OK, "%s", hs_last_error(ctx));
      cr_assert_eq(c.n_kinds, 5);
    }
  }
  hs_context_destroy(ctx);
}

Test(compare, missing_fashion_mnist_falls_back_with_a_notice) {
  env_prefix = "HESSPEC_DATA=/nonexistent/hs ";
  int rc = hesspec("compare --out fb --samples 60 --test-samples 20 --analysis-samples 30 --hidden 5 --epochs 1 "
                   "--analysis-epochs 0 --kinds relu --seeds 1 --steps 8 --probes 2 --batch 16");
  env_prefix = "";
  cr_assert_eq(rc, 0, "%s", errtext);
  cr_assert(strstr(errtext, "notice") && strstr(errtext, "dataset-fashion-mnist"), "no notice: '%s'", errtext);
  char *md = read_text("fb/summary.md");
  cr_assert(strstr(md, "synthetic Gaussian mixture"), "the report does not say the data are synthetic");
  free(md);
}

/* ---- hesspec train ---- */

static const char *SPEC = "{\"input_dim\": 8, \"hidden\": [10, 10], \"output_dim\": 3, \"activation\": \"relu\", "
                          "\"batchnorm\": \"running\", \"residual\": true, \"loss\": \"cross_entropy\"}";

Test(compare, train_command_runs_resumes_and_refuses_bad_options) {
  write_text("m.json", SPEC);
  const char *data = "--model m.json --dataset mixture:sep=4 --samples 90 --test-dataset mixture:sep=4 --test-samples 30";
  char a[800];
  snprintf(a, sizeof a, "train %s --epochs 4 --batch 16 --optimizer adam --lr 0.01 --save-epochs 2 --out tr", data);
  cr_assert_eq(hesspec(a), 0, "%s", errtext);
  cr_assert(exists("tr/log.csv") && exists("tr/epoch-0002.safetensors") && exists("tr/epoch-0004.optim.safetensors"));
  snprintf(a, sizeof a, "train %s --epochs 4 --batch 16 --optimizer adam --lr 0.01 --resume tr/epoch-0002.safetensors --out tr2", data);
  cr_assert_eq(hesspec(a), 0, "%s", errtext);
  char cmd[800];
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", path("tr/epoch-0004.safetensors"), path("tr2/epoch-0004.safetensors"));
  cr_assert_eq(system(cmd), 0, "resumed CLI run differs");
  /* the resumed log carries the first two epochs over: the same rows, timings aside */
  char *la = read_text("tr/log.csv"), *lb = read_text("tr2/log.csv");
  int rows = 0;
  char *sa = NULL, *sb = NULL;
  for (char *ra = strtok_r(la, "\n", &sa), *rb = strtok_r(lb, "\n", &sb); ra || rb;
       ra = strtok_r(NULL, "\n", &sa), rb = strtok_r(NULL, "\n", &sb)) {
    cr_assert(ra && rb, "the logs have different lengths");
    *strrchr(ra, ',') = '\0';
    *strrchr(rb, ',') = '\0';
    cr_assert_str_eq(ra, rb, "log rows differ");
    rows++;
  }
  cr_assert_eq(rows, 5, "%d log lines", rows);
  free(la);
  free(lb);
  struct { const char *args, *needle; } c[] = {
      {"--optimizer lbfgs", "lbfgs"}, {"--lr -1", "lr"}, {"--schedule step", "step"}, {"--save-epochs 1,x", "--save-epochs"},
      {"--momentum 2", "momentum"}, {"--epochs 0", "epochs"}, {"--frobnicate", "--frobnicate"},
      {"--batch 89", "batch of 1"}, {"--resume nowhere.safetensors", "nowhere"}};
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    snprintf(a, sizeof a, "train %s %s --out bad", data, c[i].args);
    int rc = hesspec(a);
    cr_assert_eq(rc, 2, "%s: exit %d (%s)", c[i].args, rc, errtext);
    cr_assert(strstr(errtext, c[i].needle), "%s: message '%s'", c[i].args, errtext);
    cr_assert(!exists("bad"), "%s: wrote an output folder", c[i].args);
  }
}

/* The outlier count: the position of the largest relative gap among the top eigenvalues. */
Test(compare, outliers_are_counted_at_the_largest_relative_gap) {
  double a[6] = {100, 90, 80, 1, 0.9, 0.8}, g;
  cr_expect_eq(hs_cmp_outliers(a, 6, &g), 3);
  cr_expect(fabs(g - 79) < 1e-12, "gap %g", g);
  double b[5] = {5, 4, 3, 2, 1};
  cr_expect_eq(hs_cmp_outliers(b, 5, NULL), 4, "the gap relative to the smaller value grows towards zero");
  double c[3] = {10, 0, -1};
  cr_expect_eq(hs_cmp_outliers(c, 3, NULL), 1, "a zero eigenvalue after the top one");
  double d[2] = {2, 2};
  cr_expect_eq(hs_cmp_outliers(d, 2, &g), 1);
  cr_expect_eq(g, 0);
}

/* Dead units against the hidden activations computed on the host from the parameters: units
 * killed by a zero weight row and a negative bias, in both layers of an MLP, over several
 * batches; and channels of a conv net killed by a zero filter. */
Test(compare, dead_relu_units_match_the_host_activations) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  int w[2] = {6, 5};
  hs_model_spec s = hs_test_spec(4, 2, w, 3, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(ctx, &s, 5);
  hs_dataset *d = hs_test_data(ctx, &s, 10, 6);
  size_t P = hs_model_num_params(m);
  double *th = malloc(P * sizeof *th);
  cr_assert_eq(hs_model_get_params(m, th), HS_OK);
  /* layout: W0 (6x4) b0 (6) W1 (5x6) b1 (5) head */
  double *W0 = th, *b0 = th + 24, *W1 = th + 30, *b1 = th + 60;
  int kill0[2] = {1, 3}, kill1 = 2;
  for (int k = 0; k < 2; k++) {
    for (int j = 0; j < 4; j++) W0[kill0[k] * 4 + j] = 0;
    b0[kill0[k]] = -1;
  }
  for (int j = 0; j < 6; j++) W1[kill1 * 6 + j] = 0;
  b1[kill1] = -1;
  cr_assert_eq(hs_model_set_params(m, th), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 3), HS_OK);
  size_t dead, units;
  cr_assert_eq(hs_nn_dead_units(m, &dead, &units), HS_OK, "%s", hs_last_error(ctx));
  int alive0[6] = {0}, alive1[5] = {0};
  for (size_t i = 0; i < d->n; i++) {
    double h0[6], h1;
    for (int u = 0; u < 6; u++) {
      double z = b0[u];
      for (int j = 0; j < 4; j++) z += W0[u * 4 + j] * d->X[i * 4 + j];
      h0[u] = z > 0 ? z : 0;
      alive0[u] |= h0[u] != 0;
    }
    for (int u = 0; u < 5; u++) {
      double z = b1[u];
      for (int j = 0; j < 6; j++) z += W1[u * 6 + j] * h0[j];
      h1 = z > 0 ? z : 0;
      alive1[u] |= h1 != 0;
    }
  }
  size_t want = 0;
  for (int u = 0; u < 6; u++) want += !alive0[u];
  for (int u = 0; u < 5; u++) want += !alive1[u];
  cr_expect_eq(units, 11);
  cr_expect_eq(dead, want, "%zu dead units, the host activations say %zu", dead, want);
  cr_expect(dead >= 3, "the three killed units are not all dead (%zu)", dead);
  free(th);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  /* a conv net: channel 2 of 4 killed */
  hs_shape in = {3, {2, 5, 5}};
  hs_model_spec c = hs_test_layers(&in, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH);
  hs_test_conv(&c, 4, 3, 3, 1, 1, 1);
  hs_test_add(&c, HS_LAYER_RELU);
  hs_test_add(&c, HS_LAYER_FLATTEN);
  hs_test_linear(&c, 3, 1);
  hs_test_finish(ctx, &c);
  m = hs_test_model(ctx, &c, 7);
  d = hs_test_data(ctx, &c, 8, 8);
  P = hs_model_num_params(m);
  th = malloc(P * sizeof *th);
  cr_assert_eq(hs_model_get_params(m, th), HS_OK);
  const hs_param_info *cw = hs_model_tensor(m, 0), *cb = hs_model_tensor(m, 1);
  for (int j = 0; j < cw->cols; j++) th[cw->offset + 2 * (size_t)cw->cols + (size_t)j] = 0;
  th[cb->offset + 2] = -1;
  cr_assert_eq(hs_model_set_params(m, th), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 0), HS_OK);
  cr_assert_eq(hs_nn_dead_units(m, &dead, &units), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(units == 4 && dead == 1, "conv: %zu of %zu channels dead, want 1 of 4", dead, units);
  free(th);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}
