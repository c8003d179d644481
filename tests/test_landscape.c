/* hesspec landscape: filter normalisation, the exact quadratic along an eigenvector of linear
 * regression, every grid point against `hesspec loss` at the same weights, interpolation end
 * points, the plot, and bad option values. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/landscape.h"
#include "analysis/optimum.h"
#include "core/rng.h"
#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("landscape_test");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}

TestSuite(landscape, .init = setup, .fini = teardown);

static double row_norm(const double *x, size_t cols) {
  double s = 0;
  for (size_t c = 0; c < cols; c++) s += x[c] * x[c];
  return sqrt(s);
}

/* Every row of every weight tensor gets the weights' row norm; 1-D tensors are zero. Run on an
 * MLP with batch norm (1-D BN and bias tensors) and a conv net (a row = one filter). */
static void check_filter_norms(hs_model *m, const char *what) {
  size_t P = hs_model_num_params(m);
  double *theta = malloc(P * sizeof *theta), *d = malloc(P * sizeof *d);
  cr_assert_eq(hs_model_get_params(m, theta), HS_OK);
  hs_ls_random_direction(m, theta, 7, 0, d);
  size_t rows_checked = 0;
  for (size_t t = 0; t < hs_model_num_tensors(m); t++) {
    const hs_param_info *pi = hs_model_tensor(m, t);
    size_t rows = (size_t)pi->rows, cols = (size_t)pi->cols;
    for (size_t r = 0; r < rows; r++) {
      const double *dr = d + pi->offset + r * cols, *wr = theta + pi->offset + r * cols;
      if (pi->ndim < 2) {
        for (size_t c = 0; c < cols; c++) cr_expect_eq(dr[c], 0.0, "%s: %s[%zu] = %g, want 0", what, pi->name, r, dr[c]);
        continue;
      }
      double nd = row_norm(dr, cols), nw = row_norm(wr, cols);
      cr_expect(fabs(nd - nw) <= 1e-13 * nw, "%s: %s row %zu: norm %.17g, weights' %.17g", what, pi->name, r, nd, nw);
      /* not the weights themselves: a random direction (cosine well below 1) */
      if (cols > 3) cr_expect(fabs(hs_test_dot(dr, wr, cols)) < 0.999 * nd * nw, "%s: %s row %zu is parallel to the weights", what, pi->name, r);
      rows_checked++;
    }
  }
  cr_expect(rows_checked > 0, "%s: no weight rows", what);
  /* a second direction is a different draw */
  double *d2 = malloc(P * sizeof *d2);
  hs_ls_random_direction(m, theta, 7, 1, d2);
  cr_expect(hs_test_relerr(d, d2, P, 1) > 1e-3, "%s: directions 0 and 1 are the same", what);
  free(d2);
  free(theta);
  free(d);
}

Test(landscape, filter_normalisation_gives_each_row_the_weights_norm) {
  int w[2] = {7, 5};
  hs_model_spec s = hs_test_spec(6, 2, w, 3, HS_ACT_RELU, HS_BN_BATCH, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(ctx, &s, 3);
  check_filter_norms(m, "mlp-bn");
  hs_model_destroy(m);
  hs_shape in = {3, {2, 6, 6}};
  hs_model_spec c = hs_test_layers(&in, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH);
  hs_test_conv(&c, 4, 3, 3, 1, 1, 1);
  hs_test_add(&c, HS_LAYER_RELU);
  hs_test_add(&c, HS_LAYER_FLATTEN);
  hs_test_linear(&c, 3, 1);
  hs_test_finish(ctx, &c);
  m = hs_test_model(ctx, &c, 4);
  check_filter_norms(m, "conv");
  hs_model_destroy(m);
}

/* Linear regression with mse is quadratic in theta: along a unit eigenvector v of H,
 * loss(theta0 + t v) = L0 + t g.v + 0.5 lambda t^2 exactly, and at the least-squares
 * solution g = 0. Checked at a random point and at the optimum, against the grid. */
Test(landscape, quadratic_along_an_eigenvector_of_linear_regression) {
  hs_model_spec s = hs_test_spec(5, 0, NULL, 3, HS_ACT_LINEAR, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  hs_model *m = hs_test_model(ctx, &s, 11);
  hs_dataset *d = hs_test_data(ctx, &s, 30, 12);
  cr_assert_eq(hs_model_bind(m, d, 7), HS_OK);
  size_t P = hs_model_num_params(m);
  double *theta = malloc(P * sizeof *theta), *g = malloc(P * sizeof *g), *D = malloc(2 * P * sizeof *D), lam[2];
  hs_optimum *opt = NULL;
  cr_assert_eq(hs_optimum_solve(ctx, &s, d, &opt), HS_OK, "%s", hs_last_error(ctx));
  for (int at_opt = 0; at_opt < 2; at_opt++) {
    if (at_opt) {
      cr_assert_eq(hs_optimum_factorise(m, opt, theta), HS_OK, "%s", hs_last_error(ctx));
      cr_assert_eq(hs_model_set_params(m, theta), HS_OK);
    }
    cr_assert_eq(hs_model_get_params(m, theta), HS_OK);
    double L0;
    cr_assert_eq(hs_model_loss_grad(m, &L0, g), HS_OK);
    cr_assert_eq(hs_ls_eig_directions(m, 2, 1, 1e-12, D, lam), HS_OK, "%s", hs_last_error(ctx));
    cr_expect(lam[0] >= lam[1] && lam[1] > 0, "eigenvalues %g, %g", lam[0], lam[1]);
    cr_expect(fabs(row_norm(D, P) - 1) < 1e-12, "not a unit vector");
    hs_ls_grid grid = {1, -2, 3, 0, 0, 11, 0};
    hs_ls_result *r;
    cr_assert_eq(hs_ls_evaluate(m, theta, D, NULL, &grid, &r), HS_OK, "%s", hs_last_error(ctx));
    double gv = hs_test_dot(g, D, P);
    if (at_opt) cr_expect(fabs(gv) < 1e-12, "g.v = %g at the optimum", gv);
    for (size_t i = 0; i < r->na; i++) {
      double t = r->alpha[i], want = L0 + (at_opt ? 0 : t * gv) + 0.5 * lam[0] * t * t;
      cr_expect(fabs(r->loss[i] - want) <= 1e-10 * fmax(1, fabs(want)), "%s, t = %g: loss %.17g, L0 + 0.5 lambda t^2 = %.17g",
                at_opt ? "optimum" : "random point", t, r->loss[i], want);
    }
    cr_expect_null(r->accuracy, "mse has no accuracy");
    /* the model is back at theta0 */
    double L1;
    cr_assert_eq(hs_model_loss_grad(m, &L1, NULL), HS_OK);
    cr_expect_eq(L1, L0, "parameters not restored: %.17g vs %.17g", L1, L0);
    hs_ls_free(r);
  }
  hs_optimum_free(opt);
  free(theta);
  free(g);
  free(D);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
}

/* ---- the CLI ---- */

static const char *mlp = "{\"input_dim\": 4, \"hidden\": [6, 5], \"output_dim\": 3, \"activation\": \"relu\", "
                         "\"batchnorm\": \"batch\", \"loss\": \"cross_entropy\"}";

/* m.json, X.npy (12 x 4), y.npy labels in [0, 3), W.safetensors (seeded) */
static hs_model *cli_files(hs_model_spec *s) {
  hs_cli_write_text("m.json", mlp);
  cr_assert_eq(hs_spec_load(ctx, hs_cli_path("m.json"), s), HS_OK);
  double X[48];
  hs_rng_normals(5, 1, 0, 48, X);
  size_t xd[2] = {12, 4}, yd[1] = {12};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  int32_t y[12] = {0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 2, 1};
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
  hs_model *m = hs_test_model(ctx, s, 21);
  cr_assert_eq(hs_model_save(m, hs_cli_path("W.safetensors"), HS_F64), HS_OK);
  return m;
}


/* "loss X" and "accuracy A" from the stdout of `hesspec loss` */
static void loss_of(const char *weights, double *loss, double *acc) {
  char args[512];
  snprintf(args, sizeof args, "loss --model m.json --weights %s --inputs X.npy --targets y.npy --batch 4", weights);
  int rc = hs_cli_run("", args, "");
  cr_assert_eq(rc, 0, "hesspec loss failed: %s", hs_cli_err);
  char *out = hs_cli_read_text("stdout.txt");
  const char *l = strstr(out, "loss "), *a = strstr(out, "accuracy ");
  cr_assert(l && a, "unexpected output: %s", out);
  *loss = strtod(l + 5, NULL);
  *acc = strtod(a + 9, NULL);
  free(out);
}

Test(landscape, every_grid_point_equals_hesspec_loss_at_those_weights) {
  hs_model_spec s;
  hs_model *m = cli_files(&s);
  size_t P = hs_model_num_params(m), pd[1] = {P};
  double *theta = malloc(P * sizeof *theta), *d1 = hs_test_vec(P, 31), *d2 = hs_test_vec(P, 32), *pt = malloc(P * sizeof *pt);
  cr_assert_eq(hs_model_get_params(m, theta), HS_OK);
  for (size_t p = 0; p < P; p++) d1[p] *= 0.3, d2[p] *= 0.3;
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("d1.npy"), HS_F64, d1, 1, pd), HS_OK);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("d2.npy"), HS_F64, d2, 1, pd), HS_OK);
  int rc = hs_cli_run("", "landscape --model m.json --weights W.safetensors --inputs X.npy --targets y.npy --batch 4 "
                          "--directions files --direction-files d1.npy,d2.npy --range -1:1,-0.5:1 --points 3,4 "
                          "--out L.json --plot L.svg", "");
  cr_assert_eq(rc, 0, "landscape failed: %s", hs_cli_err);
  cJSON *j = hs_cli_read_json("L.json");
  cr_expect_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "hesspec.landscape/1");
  cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "directions"), "kind")->valuestring, "files");
  cr_expect_not_null(cJSON_GetObjectItem(j, "model"), "no provenance");
  const cJSON *al = cJSON_GetObjectItem(j, "alpha"), *be = cJSON_GetObjectItem(j, "beta"),
              *lo = cJSON_GetObjectItem(j, "loss"), *ac = cJSON_GetObjectItem(j, "accuracy");
  cr_assert(cJSON_GetArraySize(al) == 3 && cJSON_GetArraySize(be) == 4 && cJSON_GetArraySize(lo) == 3 && ac);
  for (int i = 0; i < 3; i++)
    for (int jj = 0; jj < 4; jj++) {
      double a = cJSON_GetArrayItem(al, i)->valuedouble, b = cJSON_GetArrayItem(be, jj)->valuedouble;
      for (size_t p = 0; p < P; p++) pt[p] = theta[p] + a * d1[p] + b * d2[p];
      cr_assert_eq(hs_model_set_params(m, pt), HS_OK);
      cr_assert_eq(hs_model_save(m, hs_cli_path("pt.safetensors"), HS_F64), HS_OK);
      double want, want_acc;
      loss_of("pt.safetensors", &want, &want_acc);
      double got = cJSON_GetArrayItem(cJSON_GetArrayItem(lo, i), jj)->valuedouble;
      double got_acc = cJSON_GetArrayItem(cJSON_GetArrayItem(ac, i), jj)->valuedouble;
      cr_expect(fabs(got - want) <= 1e-13 * fabs(want), "alpha %g beta %g: landscape %.17g, hesspec loss %.17g", a, b, got, want);
      cr_expect(fabs(got_acc - want_acc) < 1e-6, "alpha %g beta %g: accuracy %g vs %g", a, b, got_acc, want_acc);
    }
  cr_expect(fabs(cJSON_GetArrayItem(al, 0)->valuedouble + 1) < 1e-15 && fabs(cJSON_GetArrayItem(be, 3)->valuedouble - 1) < 1e-15);
  cJSON_Delete(j);
  /* the CSV: a header and one row per point */
  char *csv = hs_cli_read_text("L.csv");
  int lines = 0;
  for (const char *c = csv; *c; c++) lines += *c == '\n';
  cr_expect(strncmp(csv, "alpha,beta,loss,accuracy\n", 25) == 0, "CSV header: %.40s", csv);
  cr_expect_eq(lines, 1 + 12, "CSV has %d lines", lines);
  free(csv);
  /* the heat map: cells, contour lines and the origin */
  char *svg = hs_cli_read_text("L.svg");
  cr_expect(strstr(svg, "<svg") && strstr(svg, ">origin</text>"), "no origin marked");
  cr_expect(strstr(svg, "stroke=\"white\"") && strstr(svg, "<line x1"), "no contour lines");
  free(svg);
  free(theta);
  free(d1);
  free(d2);
  free(pt);
  hs_model_destroy(m);
}

Test(landscape, interpolation_runs_from_the_weights_to_the_target) {
  hs_model_spec s;
  hs_model *m = cli_files(&s);
  hs_model *m2 = hs_test_model(ctx, &s, 22);
  cr_assert_eq(hs_model_save(m2, hs_cli_path("W2.safetensors"), HS_F64), HS_OK);
  int rc = hs_cli_run("", "landscape --model m.json --weights W.safetensors --inputs X.npy --targets y.npy --batch 4 "
                          "--directions interpolate --to W2.safetensors --points 5 --out I.json --plot I.svg", "");
  cr_assert_eq(rc, 0, "landscape failed: %s", hs_cli_err);
  cJSON *j = hs_cli_read_json("I.json");
  const cJSON *al = cJSON_GetObjectItem(j, "alpha"), *lo = cJSON_GetObjectItem(j, "loss");
  cr_assert_eq(cJSON_GetArraySize(lo), 5);
  cr_expect(cJSON_GetArrayItem(al, 0)->valuedouble == 0 && cJSON_GetArrayItem(al, 4)->valuedouble == 1, "default range 0:1");
  cr_expect(!cJSON_IsArray(cJSON_GetArrayItem(lo, 0)), "1D loss must be a flat list");
  double l0, a0, l1, a1;
  loss_of("W.safetensors", &l0, &a0);
  loss_of("W2.safetensors", &l1, &a1);
  double g0 = cJSON_GetArrayItem(lo, 0)->valuedouble, g1 = cJSON_GetArrayItem(lo, 4)->valuedouble;
  cr_expect(fabs(g0 - l0) <= 1e-13 * l0, "alpha 0: %.17g vs %.17g", g0, l0);
  cr_expect(fabs(g1 - l1) <= 1e-12 * l1, "alpha 1: %.17g vs %.17g", g1, l1);
  cJSON_Delete(j);
  char *svg = hs_cli_read_text("I.svg");
  cr_expect(strstr(svg, "<polyline"), "no curve");
  free(svg);
  /* random and eig directions run too and record how they were made */
  rc = hs_cli_run("", "landscape --model m.json --weights W.safetensors --inputs X.npy --targets y.npy "
                      "--directions eig --dims 2 --points 3 --out E.json", "");
  cr_assert_eq(rc, 0, "eig landscape failed: %s", hs_cli_err);
  j = hs_cli_read_json("E.json");
  const cJSON *ev = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "directions"), "eigenvalues");
  cr_expect(cJSON_GetArraySize(ev) == 2 && cJSON_GetArrayItem(ev, 0)->valuedouble >= cJSON_GetArrayItem(ev, 1)->valuedouble);
  cJSON_Delete(j);
  hs_model_destroy(m);
  hs_model_destroy(m2);
}

/* Bad values: exit 2, a one-line message naming the option or value, no output file. */
static void expect_bad(const char *extra, const char *culprit) {
  char args[1024];
  snprintf(args, sizeof args, "landscape --model m.json --inputs X.npy --targets y.npy --out bad.json %s", extra);
  int rc = hs_cli_run("", args, "");
  cr_expect_eq(rc, 2, "`%s` exited %d, want 2 (stderr: %s)", extra, rc, hs_cli_err);
  cr_expect(strstr(hs_cli_err, culprit), "`%s`: message does not name '%s': %s", extra, culprit, hs_cli_err);
  char *nl = strchr(hs_cli_err, '\n');
  cr_expect(nl && nl[1] == '\0', "message is not one line: %s", hs_cli_err);
  cr_expect(!hs_cli_exists("bad.json"), "`%s` wrote an output", extra);
}

Test(landscape, bad_option_values_exit_2) {
  hs_model_spec s;
  hs_model *m = cli_files(&s);
  size_t P = hs_model_num_params(m), pd[1] = {P}, short_d[1] = {P - 1};
  double *v = hs_test_vec(P, 1);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("d1.npy"), HS_F64, v, 1, pd), HS_OK);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("short.npy"), HS_F64, v, 1, short_d), HS_OK);
  expect_bad("--directions sideways", "sideways");
  expect_bad("--dims 3", "--dims 3");
  expect_bad("--dims two", "--dims");
  expect_bad("--range 1:0", "--range '1:0'");
  expect_bad("--range 0:x", "--range '0:x'");
  expect_bad("--range 0", "--range '0'");
  expect_bad("--range -1:1,-1:1,0:1", "--range");
  expect_bad("--range -1:1,-1:1 --dims 1", "two intervals");
  expect_bad("--points 1", "--points 1: must be >= 2");
  expect_bad("--points 5,x", "--points");
  expect_bad("--points 5,5,5", "--points");
  expect_bad("--points 5,5 --dims 1", "two counts");
  expect_bad("--to W.safetensors", "--to");
  expect_bad("--directions interpolate", "--to");
  expect_bad("--directions interpolate --to W.safetensors --dims 2", "one-dimensional");
  expect_bad("--directions interpolate --to nope.safetensors", "nope.safetensors");
  expect_bad("--direction-files d1.npy", "--direction-files");
  expect_bad("--directions files", "--direction-files");
  expect_bad("--directions files --direction-files d1.npy --dims 2", "--dims 2");
  expect_bad("--directions files --direction-files short.npy", "short.npy");
  expect_bad("--directions files --direction-files d1.npy,", "without empty entries");
  expect_bad("--directions files --direction-files missing.npy", "missing.npy");
  expect_bad("--frobnicate", "--frobnicate");
  int rc = hs_cli_run("", "landscape --model m.json --inputs X.npy --targets y.npy", "");
  cr_expect(rc == 2 && strstr(hs_cli_err, "--out"), "missing --out: %d %s", rc, hs_cli_err);
  free(v);
  hs_model_destroy(m);
}
