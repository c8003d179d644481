/* The spectral commands (spectrum, eig, trace, plot): bad input exits 2 with a one-line
 * message and no output file; good runs write files that agree with the library. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/file.h"
#include "io/npy.h"
#include "spectra_fixture.h"
#include "support/cli_fixture.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("spectra_cli");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}

#define dir hs_cli_dir
#define path hs_cli_path
#define write_text hs_cli_write_text
#define exists hs_cli_exists
#define errtext hs_cli_err
static int hesspec(const char *args) { return hs_cli_run("", args, ""); }

static cJSON *read_json(const char *name) {
  char *buf;
  size_t len;
  cr_assert_eq(hs_read_file(ctx, path(name), &buf, &len), HS_OK, "%s", hs_last_error(ctx));
  cJSON *j = cJSON_Parse(buf);
  free(buf);
  cr_assert(j, "%s is not JSON", name);
  return j;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  cr_assert(cJSON_IsNumber(v), "no number \"%s\"", key);
  return v->valuedouble;
}

/* A 20 x 20 symmetric matrix with known eigenvalues 1..20 (A.npy), a non-symmetric one,
 * a non-square one, garbage. */
static void matrices(void) {
  double d[20];
  for (int i = 0; i < 20; i++) d[i] = i + 1;
  double *A = sf_matrix_with_eigs(20, d, 1);
  size_t dims[2] = {20, 20};
  cr_assert_eq(hs_npy_write_f64(ctx, path("A.npy"), HS_F64, A, 2, dims), HS_OK);
  A[2 * 20 + 7] += 1e-3;
  cr_assert_eq(hs_npy_write_f64(ctx, path("N.npy"), HS_F64, A, 2, dims), HS_OK);
  size_t rect[2] = {4, 5};
  cr_assert_eq(hs_npy_write_f64(ctx, path("R.npy"), HS_F64, A, 2, rect), HS_OK);
  write_text("G.npy", "this is not an npy file");
  free(A);
}

static void expect_bad(const char *args, const char *culprit) {
  int rc = hesspec(args);
  cr_expect_eq(rc, 2, "`hesspec %s` exited %d, want 2 (stderr: %s)", args, rc, errtext);
  cr_expect(strstr(errtext, culprit), "`%s`: message does not name '%s': %s", args, culprit, errtext);
  char *nl = strchr(errtext, '\n');
  cr_expect(nl && nl[1] == '\0', "message is not one line: %s", errtext);
  cr_expect(!exists("out.json") && !exists("out.csv") && !exists("out.svg") && !exists("V.npy"),
            "`%s`: an output file was written after bad input", args);
}

TestSuite(spectra_cli, .init = setup, .fini = teardown);

Test(spectra_cli, bad_inputs) {
  matrices();
  expect_bad("spectrum --matrix A.npy --out out.json --steps 0", "--steps");
  expect_bad("spectrum --matrix A.npy --out out.json --steps 21", "--steps 21");
  expect_bad("spectrum --matrix A.npy --out out.json --probes 0", "--probes");
  expect_bad("spectrum --matrix A.npy --out out.json --sigma 0", "--sigma");
  expect_bad("spectrum --matrix A.npy --out out.json --sigma -0.5", "--sigma");
  expect_bad("spectrum --matrix A.npy --out out.json --plot out.svg --grid 1", "--grid");
  expect_bad("spectrum --matrix missing.npy --out out.json", "missing.npy");
  expect_bad("spectrum --matrix G.npy --out out.json", "G.npy");
  expect_bad("spectrum --matrix N.npy --out out.json", "N.npy");
  expect_bad("spectrum --matrix R.npy --out out.json", "R.npy");
  expect_bad("spectrum --matrix A.npy", "--out");
  expect_bad("eig --matrix A.npy --exact --exact-limit 19 --out out.json", "--exact-limit");
  expect_bad("eig --matrix A.npy --top 21 --out out.json --vectors-out V.npy", "--top 21");
  expect_bad("eig --matrix A.npy --top 2 --bottom 2 --out out.json", "exactly one");
  expect_bad("eig --matrix N.npy --top 2 --out out.json", "not symmetric");
  expect_bad("trace --matrix A.npy --probes 0 --out out.json", "--probes");
  expect_bad("trace --matrix G.npy --out out.json", "G.npy");
  expect_bad("trace --matrix A.npy --method hutch++ --probes 2 --out out.json", "--probes 2");
  expect_bad("trace --matrix A.npy --method exact --out out.json", "--method");
  expect_bad("plot missing.json --out out.svg", "missing.json");
  write_text("bad.json", "{\"format\": \"hesspec.density/1\", \"params\": 3}");
  expect_bad("plot bad.json --out out.svg", "bad.json");
  expect_bad("spectrum --matrix A.npy --ggn --out out.json", "--ggn");
}

Test(spectra_cli, good_runs_on_a_matrix) {
  matrices();
  int rc = hesspec("spectrum --matrix A.npy --out d.json --steps 20 --probes 3 --plot d.svg --log --seed 7");
  cr_assert_eq(rc, 0, "spectrum: %s", errtext);
  cr_assert(exists("d.csv") && exists("d.svg"));
  cJSON *j = read_json("d.json");
  cr_assert_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "hesspec.density/1");
  cr_assert_eq(num(j, "params"), 20);
  cJSON *s = cJSON_GetObjectItem(j, "summary");
  /* 20 steps on a 20 x 20 matrix: exact quadrature; extreme nodes are the extreme eigenvalues */
  cr_assert(fabs(num(s, "lambda_min") - 1) < 1e-10 && fabs(num(s, "lambda_max") - 20) < 1e-10);
  cr_assert(fabs(num(s, "grid_integral") - 1) < 1e-6);
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "probes")), 3);
  cr_assert(num(j, "sigma") > 0);
  cJSON_Delete(j);
  /* re-plot two files, re-smoothed */
  cr_assert_eq(hesspec("spectrum --matrix A.npy --out e.json --steps 10 --probes 2"), 0, "%s", errtext);
  cr_assert_eq(hesspec("plot d.json e.json --out both.svg --sigma 0.3 --labels one,two"), 0, "plot: %s", errtext);
  char *svg;
  size_t len;
  cr_assert_eq(hs_read_file(ctx, path("both.svg"), &svg, &len), HS_OK);
  cr_assert(strstr(svg, "<svg") && strstr(svg, ">one<") && strstr(svg, ">two<") && strstr(svg, "polyline"));
  free(svg);
  /* eig: top 3, bottom 2, exact; vectors */
  cr_assert_eq(hesspec("eig --matrix A.npy --top 3 --out t.json --vectors-out V.npy"), 0, "eig: %s", errtext);
  j = read_json("t.json");
  cJSON *ev = cJSON_GetObjectItem(j, "eigenvalues");
  cr_assert_eq(cJSON_GetArraySize(ev), 3);
  for (int i = 0; i < 3; i++) cr_assert(fabs(cJSON_GetArrayItem(ev, i)->valuedouble - (18 + i)) < 1e-8);
  cJSON_Delete(j);
  double *V;
  hs_npy_shape sh;
  cr_assert_eq(hs_npy_read_f64(ctx, path("V.npy"), 0, &V, &sh), HS_OK);
  cr_assert(sh.ndim == 2 && sh.dim[0] == 3 && sh.dim[1] == 20);
  free(V);
  cr_assert_eq(hesspec("eig --matrix A.npy --exact --out x.json"), 0, "eig --exact: %s", errtext);
  j = read_json("x.json");
  ev = cJSON_GetObjectItem(j, "eigenvalues");
  cr_assert_eq(cJSON_GetArraySize(ev), 20);
  for (int i = 0; i < 20; i++) cr_assert(fabs(cJSON_GetArrayItem(ev, i)->valuedouble - (1 + i)) < 1e-10);
  cJSON_Delete(j);
  /* trace: 210 */
  cr_assert_eq(hesspec("trace --matrix A.npy --probes 50 --out tr.json"), 0, "trace: %s", errtext);
  j = read_json("tr.json");
  cr_assert(fabs(num(j, "trace") - 210) < 3 * num(j, "trace_stderr") + 1e-9);
  cJSON_Delete(j);
  cr_assert_eq(hesspec("trace --matrix A.npy --probes 60 --method hutch++ --out tp.json"), 0, "trace: %s", errtext);
  j = read_json("tp.json");
  cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "method"), "name")->valuestring, "hutch++");
  cr_assert(fabs(num(j, "trace") - 210) < 1e-8, "a sketch of 20 vectors spans R^20: exact, got %g",
            num(j, "trace"));
  cJSON_Delete(j);
}

Test(spectra_cli, good_runs_on_a_model) {
  write_text("m.json", "{\"input_dim\": 4, \"hidden\": [5], \"output_dim\": 3, \"activation\": \"tanh\", "
                       "\"loss\": \"cross_entropy\"}");
  double X[48];
  hs_rng_normals(1, 1, 0, 48, X);
  size_t xd[2] = {12, 4}, yd[1] = {12};
  cr_assert_eq(hs_npy_write_f64(ctx, path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  int32_t y[12] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  cr_assert_eq(hs_npy_write(ctx, path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
  const char *data = "--model m.json --inputs X.npy --targets y.npy --seed 3 --device cpu";
  char args[512];
  /* P = 43: top 2 by Lanczos equal the top of the exact spectrum */
  snprintf(args, sizeof args, "eig %s --exact --out x.json", data);
  cr_assert_eq(hesspec(args), 0, "%s", errtext);
  snprintf(args, sizeof args, "eig %s --top 2 --out t.json", data);
  cr_assert_eq(hesspec(args), 0, "%s", errtext);
  cJSON *x = read_json("x.json"), *t = read_json("t.json");
  cJSON *xe = cJSON_GetObjectItem(x, "eigenvalues"), *te = cJSON_GetObjectItem(t, "eigenvalues");
  cr_assert_eq(cJSON_GetArraySize(xe), 43);
  double top = cJSON_GetArrayItem(xe, 42)->valuedouble;
  for (int i = 0; i < 2; i++)
    cr_assert(fabs(cJSON_GetArrayItem(te, i)->valuedouble - cJSON_GetArrayItem(xe, 41 + i)->valuedouble) < 1e-8 * fabs(top));
  cr_assert_str_eq(cJSON_GetObjectItem(t, "operator")->valuestring, "hessian");
  cr_assert(cJSON_IsObject(cJSON_GetObjectItem(t, "model")));
  cr_assert_eq(num(cJSON_GetObjectItem(t, "data"), "samples"), 12);
  cJSON_Delete(x);
  cJSON_Delete(t);
  /* spectrum of the GGN: no negative mass */
  snprintf(args, sizeof args, "spectrum %s --ggn --steps 20 --out g.json", data);
  cr_assert_eq(hesspec(args), 0, "%s", errtext);
  cJSON *g = read_json("g.json");
  cr_assert_str_eq(cJSON_GetObjectItem(g, "operator")->valuestring, "ggn");
  cr_assert_eq(num(cJSON_GetObjectItem(g, "summary"), "negative_fraction"), 0);
  cJSON_Delete(g);
  /* bad input on a model: steps above P */
  snprintf(args, sizeof args, "spectrum %s --steps 44 --out out.json", data);
  expect_bad(args, "--steps 44");
}

/* The same command on 1 and 2 threads writes the same file, except the wall-clock fields. */
Test(spectra_cli, same_file_for_any_thread_count) {
  matrices();
  cr_assert_eq(hesspec("spectrum --matrix A.npy --out t1.json --steps 12 --probes 3 --threads 1 --device cpu"), 0, "%s", errtext);
  cr_assert_eq(hesspec("spectrum --matrix A.npy --out t2.json --steps 12 --probes 3 --threads 2 --device cpu"), 0, "%s", errtext);
  cJSON *a = read_json("t1.json"), *b = read_json("t2.json");
  const char *clock_fields[] = {"elapsed_seconds", "created", "timing"};
  for (int i = 0; i < 3; i++) {
    cJSON_DeleteItemFromObject(a, clock_fields[i]);
    cJSON_DeleteItemFromObject(b, clock_fields[i]);
  }
  char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
  cr_assert_str_eq(ta, tb, "the density files differ beyond their clock fields");
  cJSON_free(ta);
  cJSON_free(tb);
  cJSON_Delete(a);
  cJSON_Delete(b);
  FILE *f1 = fopen(path("t1.csv"), "rb"), *f2 = fopen(path("t2.csv"), "rb");
  cr_assert(f1 && f2);
  int c1, c2;
  do {
    c1 = fgetc(f1);
    c2 = fgetc(f2);
    cr_assert_eq(c1, c2, "the CSV files differ");
  } while (c1 != EOF);
  fclose(f1);
  fclose(f2);
}
