/* hesspec optimum: the closed form against an independent reference (normal equations by
 * Cholesky, LAPACK dposv, and the reduced-rank subspace from the eigenvectors of Yhat^T Yhat,
 * dsyevd, where the code uses dgelsd and dgesvd), the factorisation's loss as the model computes
 * it, the zero Hessian of a deep linear net at W = 0, rejected models, and the CLI. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/optimum.h"
#include "core/rng.h"
#include "io/npy.h"
#include "nn/dataset.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("optimum_test");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}

TestSuite(optimum, .init = setup, .fini = teardown);

/* The reference: Xa = [X, 1] (bias) or X; normal equations (Xa^T Xa) B = Xa^T Y by Cholesky;
 * Yhat = Xa B; with a rank bound r < min(in, out): the centred fitted values (centred only
 * with a bias) projected on the top-r eigenvectors of their Gram matrix Yc^T Yc. Returns
 * (1/N) sum 0.5 ||pred - y||^2. */
static double reference_loss(const hs_dataset *d, int bias, size_t r) {
  size_t n = d->n, in = (size_t)d->input_dim, C = (size_t)d->output_dim, q = in + (bias ? 1 : 0);
  double *Xa = malloc(n * q * sizeof *Xa), *G = calloc(q * q, sizeof *G), *R = calloc(q * C, sizeof *R),
         *Yh = calloc(n * C, sizeof *Yh), *S = calloc(C * C, sizeof *S), *w = malloc(C * sizeof *w), *mean = calloc(C, sizeof *mean);
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < in; k++) Xa[i * q + k] = d->X[i * in + k];
    if (bias) Xa[i * q + in] = 1;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t a = 0; a < q; a++) {
      for (size_t b = 0; b < q; b++) G[a * q + b] += Xa[i * q + a] * Xa[i * q + b];
      for (size_t c = 0; c < C; c++) R[a * C + c] += Xa[i * q + a] * d->targets[i * C + c];
    }
  cr_assert_eq(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)q, (lapack_int)C, G, (lapack_int)q, R, (lapack_int)C), 0);
  for (size_t i = 0; i < n; i++)
    for (size_t c = 0; c < C; c++)
      for (size_t a = 0; a < q; a++) Yh[i * C + c] += Xa[i * q + a] * R[a * C + c];
  if (r < (in < C ? in : C)) {
    if (bias) {
      for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++) mean[c] += Yh[i * C + c] / (double)n;
      for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++) Yh[i * C + c] -= mean[c];
    }
    for (size_t i = 0; i < n; i++)
      for (size_t a = 0; a < C; a++)
        for (size_t b = 0; b < C; b++) S[a * C + b] += Yh[i * C + a] * Yh[i * C + b];
    cr_assert_eq(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)C, S, (lapack_int)C, w), 0);
    /* eigenvalues ascending: the top r eigenvectors are the last r columns */
    double *proj = calloc(n * C, sizeof *proj);
    for (size_t i = 0; i < n; i++)
      for (size_t t = C - r; t < C; t++) {
        double c0 = 0;
        for (size_t a = 0; a < C; a++) c0 += Yh[i * C + a] * S[a * C + t];
        for (size_t a = 0; a < C; a++) proj[i * C + a] += c0 * S[a * C + t];
      }
    for (size_t i = 0; i < n; i++)
      for (size_t c = 0; c < C; c++) Yh[i * C + c] = proj[i * C + c] + mean[c];
    free(proj);
  }
  double sum = 0;
  for (size_t i = 0; i < n * C; i++) sum += (Yh[i] - d->targets[i]) * (Yh[i] - d->targets[i]);
  free(Xa); free(G); free(R); free(Yh); free(S); free(w); free(mean);
  return 0.5 * sum / (double)n;
}

/* One case: the optimum against the reference, then the factorisation in the model: its loss
 * equals the optimum, its gradient vanishes, and random nearby points are no lower. */
static void check_case(const char *what, hs_model_spec *s, size_t want_rank, const char *want_method) {
  hs_dataset *d = hs_test_data(ctx, s, 40, 77);
  hs_optimum *o = NULL;
  cr_assert_eq(hs_optimum_solve(ctx, s, d, &o), HS_OK, "%s: %s", what, hs_last_error(ctx));
  cr_expect_eq(o->rank, want_rank, "%s: rank %zu, want %zu", what, o->rank, want_rank);
  cr_expect_str_eq(o->method, want_method, "%s", what);
  double ref = reference_loss(d, o->bias, o->rank);
  cr_expect(fabs(o->loss - ref) <= 1e-10 * ref, "%s: optimum %.17g, reference %.17g", what, o->loss, ref);
  cr_expect(o->ls_loss <= o->loss * (1 + 1e-12), "%s: least squares %.17g above the constrained %.17g", what, o->ls_loss, o->loss);
  if (o->reduced) cr_expect(o->loss > o->ls_loss * (1 + 1e-6), "%s: the rank bound does not bind (vacuous case)", what);
  hs_model *m;
  cr_assert_eq(hs_model_create(ctx, s, &m), HS_OK);
  size_t P = hs_model_num_params(m);
  double *theta = malloc(P * sizeof *theta), *g = malloc(P * sizeof *g), *pt = malloc(P * sizeof *pt), L, gn = 0;
  cr_assert_eq(hs_optimum_factorise(m, o, theta), HS_OK, "%s: %s", what, hs_last_error(ctx));
  cr_assert_eq(hs_model_set_params(m, theta), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 9), HS_OK);
  cr_assert_eq(hs_model_loss_grad(m, &L, g), HS_OK);
  for (size_t p = 0; p < P; p++) gn += g[p] * g[p];
  cr_expect(fabs(L - o->loss) <= 1e-10 * o->loss, "%s: the factorisation's loss %.17g, optimum %.17g", what, L, o->loss);
  cr_expect(sqrt(gn) < 1e-9, "%s: gradient norm %g at the factorisation", what, sqrt(gn));
  for (int k = 0; k < 5; k++) {
    double *v = hs_test_vec(P, 100 + (uint64_t)k), Lk;
    for (size_t p = 0; p < P; p++) pt[p] = theta[p] + 1e-3 * v[p];
    cr_assert_eq(hs_model_set_params(m, pt), HS_OK);
    cr_assert_eq(hs_model_loss_grad(m, &Lk, NULL), HS_OK);
    cr_expect(Lk >= o->loss * (1 - 1e-12), "%s: a nearby point %.17g is below the optimum %.17g", what, Lk, o->loss);
    free(v);
  }
  free(theta); free(g); free(pt);
  hs_model_destroy(m);
  hs_optimum_free(o);
  hs_dataset_destroy(d);
}

Test(optimum, closed_form_matches_the_reference_and_the_factorisation_attains_it) {
  hs_model_spec s = hs_test_spec(6, 0, NULL, 4, HS_ACT_LINEAR, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  check_case("linear regression with bias", &s, 4, "least_squares");
  int w25[2] = {2, 5};
  s = hs_test_spec(6, 2, w25, 4, HS_ACT_LINEAR, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  check_case("6-2-5-4 with bias", &s, 2, "reduced_rank");
  int w3[1] = {3};
  s = hs_test_spec(6, 1, w3, 4, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_MSE);
  check_case("6-3-4 without bias", &s, 3, "reduced_rank");
  int w88[3] = {8, 8, 8};
  s = hs_test_spec(6, 3, w88, 4, HS_ACT_LINEAR, HS_BN_NONE, 1, 1, HS_LOSS_MSE);
  check_case("6-8-8-8-4 residual", &s, 4, "least_squares");
  int w22[2] = {3, 3};
  s = hs_test_spec(6, 2, w22, 4, HS_ACT_LINEAR, HS_BN_NONE, 1, 1, HS_LOSS_MSE);
  check_case("6-3-3-4 residual", &s, 3, "reduced_rank");
  /* the layer form: linear (no bias), identity, linear with the output bias */
  hs_shape in = {1, {6, 0, 0}};
  hs_model_spec l = hs_test_layers(&in, HS_LOSS_MSE, HS_BN_BATCH);
  hs_test_linear(&l, 2, 0);
  hs_test_add(&l, HS_LAYER_IDENTITY);
  hs_test_linear(&l, 4, 1);
  hs_test_finish(ctx, &l);
  check_case("layer form 6-2-4", &l, 2, "reduced_rank");
}

/* numpy as a second, independent reference (lstsq on [X, 1], SVD of the fitted values):
 * tests/optimum_reference.py; skipped where /usr/bin/python3 has no numpy. */
Test(optimum, closed_form_matches_numpy) {
  if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) cr_skip_test("no numpy for /usr/bin/python3");
  const char *src = getenv("HS_SOURCE_DIR");
  char script[1024];
  snprintf(script, sizeof script, "%s/tests/optimum_reference.py", src ? src : ".");
  int w[3][2] = {{2, 5}, {8, 8}, {3, 0}};
  int nh[3] = {2, 2, 1}, bias[3] = {1, 1, 0};
  for (int c = 0; c < 3; c++) {
    hs_model_spec s = hs_test_spec(6, nh[c], w[c], 4, HS_ACT_LINEAR, HS_BN_NONE, 0, bias[c], HS_LOSS_MSE);
    hs_dataset *d = hs_test_data(ctx, &s, 40, 90 + (uint64_t)c);
    size_t xd[2] = {40, 6}, yd[2] = {40, 4};
    cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, d->X, 2, xd), HS_OK);
    cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("Y.npy"), HS_F64, d->targets, 2, yd), HS_OK);
    hs_optimum *o;
    cr_assert_eq(hs_optimum_solve(ctx, &s, d, &o), HS_OK, "%s", hs_last_error(ctx));
    char cmdline[4096];
    snprintf(cmdline, sizeof cmdline, "/usr/bin/python3 %s %s %s %d %zu", script, hs_cli_path("X.npy"),
             hs_cli_path("Y.npy"), o->bias, o->rank);
    FILE *p = popen(cmdline, "r");
    cr_assert_not_null(p);
    double ref = NAN;
    int got = fscanf(p, "%lf", &ref);
    int rc = pclose(p);
    cr_assert(got == 1 && rc == 0, "%s failed (rc %d)", cmdline, rc);
    cr_expect(fabs(o->loss - ref) <= 1e-10 * ref, "case %d (%s): optimum %.17g, numpy %.17g", c, o->method, o->loss, ref);
    hs_optimum_free(o);
    hs_dataset_destroy(d);
  }
}

/* At W = 0 every second derivative of a depth >= 3 linear net (two or more hidden layers, no
 * biases) is a product with another weight matrix, hence exactly 0: the Hessian assembled
 * from HVPs on the unit vectors must be exactly zero. Depth 2 is the control: its W1-W2 block
 * is -E[x y^T] and does not vanish. */
Test(optimum, hessian_of_a_deep_linear_net_vanishes_at_zero) {
  int w[3] = {4, 3, 5};
  for (int depth_hidden = 1; depth_hidden <= 3; depth_hidden++) {
    hs_model_spec s = hs_test_spec(5, depth_hidden, w, 3, HS_ACT_LINEAR, HS_BN_NONE, 0, 0, HS_LOSS_MSE);
    hs_model *m;
    cr_assert_eq(hs_model_create(ctx, &s, &m), HS_OK);
    size_t P = hs_model_num_params(m);
    double *zero = calloc(P, sizeof *zero);
    cr_assert_eq(hs_model_set_params(m, zero), HS_OK);
    hs_dataset *d = hs_test_data(ctx, &s, 20, 3);
    cr_assert_eq(hs_model_bind(m, d, 0), HS_OK);
    double *H = hs_test_dense(m, HS_CURV_HESSIAN);
    size_t nonzero = 0;
    for (size_t i = 0; i < P * P; i++) nonzero += H[i] != 0.0;
    if (depth_hidden >= 2)
      cr_expect_eq(nonzero, 0, "depth %d: %zu of %zu Hessian entries are non-zero at W = 0", depth_hidden + 1, nonzero, P * P);
    else
      cr_expect(nonzero > 0, "depth 2: the Hessian at W = 0 should not vanish (control)");
    free(H);
    free(zero);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
}

static void expect_rejected(const hs_model_spec *s, const char *reason) {
  cr_expect_eq(hs_optimum_check(ctx, s), HS_E_INVALID, "accepted (want a message with '%s')", reason);
  cr_expect(strstr(hs_last_error(ctx), reason), "message does not say '%s': %s", reason, hs_last_error(ctx));
}

Test(optimum, non_linear_and_classification_models_are_rejected_with_the_reason) {
  int w[1] = {4};
  hs_model_spec s = hs_test_spec(5, 1, w, 3, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  expect_rejected(&s, "relu");
  s = hs_test_spec(5, 1, w, 3, HS_ACT_LINEAR, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  expect_rejected(&s, "cross_entropy");
  s = hs_test_spec(5, 1, w, 3, HS_ACT_LINEAR, HS_BN_BATCH, 0, 1, HS_LOSS_MSE);
  expect_rejected(&s, "batch norm");
  s = hs_test_spec(5, 1, w, 3, HS_ACT_LINEAR, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  s.weight_decay = 0.1;
  expect_rejected(&s, "weight_decay");
  hs_shape in = {1, {5, 0, 0}};
  hs_model_spec l = hs_test_layers(&in, HS_LOSS_MSE, HS_BN_BATCH);
  hs_test_linear(&l, 4, 1);
  hs_test_add(&l, HS_LAYER_TANH);
  hs_test_linear(&l, 3, 1);
  hs_test_finish(ctx, &l);
  expect_rejected(&l, "layers.1");
  l = hs_test_layers(&in, HS_LOSS_MSE, HS_BN_BATCH);
  hs_test_linear(&l, 4, 1);
  hs_test_linear(&l, 3, 0);
  hs_test_finish(ctx, &l);
  expect_rejected(&l, "bias");
}

/* ---- the CLI ---- */

static void cli_files(void) {
  hs_cli_write_text("lin.json", "{\"input_dim\": 5, \"hidden\": [2, 6], \"output_dim\": 3, \"activation\": \"linear\", "
                                "\"loss\": \"mse\"}");
  hs_cli_write_text("relu.json", "{\"input_dim\": 5, \"hidden\": [4], \"output_dim\": 3, \"activation\": \"relu\", "
                                 "\"loss\": \"mse\"}");
  hs_cli_write_text("ce.json", "{\"input_dim\": 5, \"hidden\": [4], \"output_dim\": 3, \"activation\": \"linear\", "
                               "\"loss\": \"cross_entropy\"}");
  double X[5 * 16], Y[3 * 16];
  hs_rng_normals(8, 1, 0, 80, X);
  hs_rng_normals(8, 2, 0, 48, Y);
  size_t xd[2] = {16, 5}, yd[2] = {16, 3}, ld[1] = {16};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("Y.npy"), HS_F64, Y, 2, yd), HS_OK);
  int32_t y[16] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("y.npy"), HS_NPY_I4, y, 1, ld), HS_OK);
}

Test(optimum, cli_writes_the_optimum_and_weights_that_attain_it) {
  cli_files();
  int rc = hs_cli_run("", "optimum --model lin.json --inputs X.npy --targets Y.npy --out O.json --weights-out W.safetensors", "");
  cr_assert_eq(rc, 0, "optimum failed: %s", hs_cli_err);
  char *text = hs_cli_read_text("O.json");
  cJSON *j = cJSON_Parse(text);
  free(text);
  cr_assert_not_null(j);
  cr_expect_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "hesspec.optimum/1");
  cr_expect_str_eq(cJSON_GetObjectItem(j, "method")->valuestring, "reduced_rank");
  cr_expect_eq(cJSON_GetObjectItem(j, "rank")->valuedouble, 2);
  double loss = cJSON_GetObjectItem(j, "loss")->valuedouble;
  cJSON_Delete(j);
  /* the library on the same data */
  hs_model_spec s;
  cr_assert_eq(hs_spec_load(ctx, hs_cli_path("lin.json"), &s), HS_OK);
  double *X, *Y;
  hs_npy_shape sx, sy;
  cr_assert_eq(hs_npy_read_f64(ctx, hs_cli_path("X.npy"), 0, &X, &sx), HS_OK);
  cr_assert_eq(hs_npy_read_f64(ctx, hs_cli_path("Y.npy"), 0, &Y, &sy), HS_OK);
  hs_dataset *d;
  cr_assert_eq(hs_dataset_create(ctx, 16, 5, X, 3, NULL, Y, &d), HS_OK);
  double ref = reference_loss(d, 1, 2);
  cr_expect(fabs(loss - ref) <= 1e-10 * ref, "CLI optimum %.17g, reference %.17g", loss, ref);
  /* `hesspec loss` at the written weights */
  rc = hs_cli_run("", "loss --model lin.json --weights W.safetensors --inputs X.npy --targets Y.npy", "");
  cr_assert_eq(rc, 0, "loss failed: %s", hs_cli_err);
  char *out = hs_cli_read_text("stdout.txt");
  double got = strtod(strstr(out, "loss ") + 5, NULL);
  cr_expect(fabs(got - loss) <= 1e-10 * loss, "hesspec loss at the factorisation %.17g, optimum %.17g", got, loss);
  free(out);
  free(X);
  free(Y);
  hs_dataset_destroy(d);
}

static void expect_bad(const char *args, const char *culprit) {
  int rc = hs_cli_run("", args, "");
  cr_expect_eq(rc, 2, "`%s` exited %d, want 2 (stderr: %s)", args, rc, hs_cli_err);
  cr_expect(strstr(hs_cli_err, culprit), "`%s`: message does not name '%s': %s", args, culprit, hs_cli_err);
  char *nl = strchr(hs_cli_err, '\n');
  cr_expect(nl && nl[1] == '\0', "message is not one line: %s", hs_cli_err);
  cr_expect(!hs_cli_exists("bad.json") && !hs_cli_exists("bad.safetensors"), "`%s` wrote an output", args);
}

Test(optimum, cli_bad_input_exits_2_with_the_reason) {
  cli_files();
  expect_bad("optimum --model relu.json --inputs X.npy --targets Y.npy --out bad.json", "relu");
  expect_bad("optimum --model ce.json --inputs X.npy --targets y.npy --out bad.json --weights-out bad.safetensors", "cross_entropy");
  expect_bad("optimum --model lin.json --inputs X.npy --targets Y.npy", "--out");
  expect_bad("optimum --model lin.json --weights W.safetensors --inputs X.npy --targets Y.npy --out bad.json", "--weights");
  expect_bad("optimum --model lin.json --inputs X.npy --targets Y.npy --out bad.json --top 3", "--top");
}
