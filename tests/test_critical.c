/* hesspec critical: Newton-MR against closed forms (a quadratic's minimiser by LAPACK least
 * squares) and the index against the exact Hessian assembled separately (HVPs on unit
 * vectors, LAPACK dsyev). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critical.h"
#include "core/rng.h"
#include "io/file.h"
#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;
static void setup(void) {
  hs_cli_fixture_setup("critical");
  ctx = hs_test_ctx(HS_F64, 1);
}
static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}
TestSuite(critical, .init = setup, .fini = teardown);

/* Linear regression with mse is a quadratic: one exact Newton-MR step (theta = 0) lands on
 * its minimiser, which LAPACK's least squares gives independently. */
Test(critical, newton_mr_solves_a_quadratic_in_one_step) {
  const int in = 3, out = 2, N = 40;
  hs_model_spec s = hs_test_spec(in, 0, NULL, out, HS_ACT_LINEAR, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  hs_model *m = hs_test_model(ctx, &s, 4);
  double X[40 * 3], Y[40 * 2];
  hs_rng_normals(2, HS_STREAM_TEST, 0, (size_t)N * in, X);
  hs_rng_normals(3, HS_STREAM_TEST, 0, (size_t)N * out, Y);
  hs_dataset *d;
  cr_assert_eq(hs_dataset_create(ctx, N, in, X, out, NULL, Y, &d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_bind(m, d, 16), HS_OK);
  hs_newton_mr_options o = hs_newton_mr_defaults();
  o.theta = 0;
  o.gtol = 1e-12;
  hs_newton_mr_result r;
  cr_assert_eq(hs_newton_mr(m, &o, &r), HS_OK, "%s", hs_last_error(ctx));
  cr_assert(r.converged && r.iterations == 1, "%zu iterations, ||g|| %g -> %g (%s)", r.iterations, r.grad_norm0,
            r.grad_norm, r.stop);
  /* [X 1] [W^T; b^T] = Y in the least-squares sense */
  double A[40 * 4], B[40 * 2];
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < in; j++) A[i * 4 + j] = X[i * in + j];
    A[i * 4 + 3] = 1;
    for (int c = 0; c < out; c++) B[i * 2 + c] = Y[i * out + c];
  }
  cr_assert_eq(LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', N, 4, 2, A, 4, B, 2), 0);
  size_t P = hs_model_num_params(m);
  cr_assert_eq(P, 8);
  double th[8], want[8];
  cr_assert_eq(hs_model_get_params(m, th), HS_OK);
  for (int c = 0; c < out; c++) {
    for (int j = 0; j < in; j++) want[c * in + j] = B[j * 2 + c]; /* head.weight (out x in) */
    want[6 + c] = B[3 * 2 + c];                                 /* head.bias */
  }
  double err = hs_test_relerr(th, want, 8, 1);
  cr_assert(err < 1e-10, "Newton-MR point differs from the least-squares solution by %g", err);
  hs_newton_mr_free(&r);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
}

/* The fit recovers alpha0 and eps_c from exact points of the curve. */
Test(critical, fit_recovers_the_curve) {
  double eps[6] = {1.2, 1.5, 2.0, 2.6, 3.1, 4.0}, alpha[6];
  for (int i = 0; i < 6; i++) alpha[i] = 0.4 * pow(fabs(1 - eps[i] / 1.1), 1.5);
  double a0, ec, rms;
  cr_assert(hs_critical_fit(6, eps, alpha, &a0, &ec, &rms));
  cr_assert(fabs(a0 - 0.4) < 1e-6 && fabs(ec - 1.1) < 1e-6 && rms < 1e-8, "alpha0 %.9g eps_c %.9g rms %g", a0, ec, rms);
  double same[2] = {1, 1};
  cr_assert(!hs_critical_fit(2, same, alpha, &a0, &ec, &rms), "one loss: no fit");
}

static cJSON *read_json(const char *name) {
  char *buf;
  size_t len;
  cr_assert_eq(hs_read_file(ctx, hs_cli_path(name), &buf, &len), HS_OK, "%s", hs_last_error(ctx));
  cJSON *j = cJSON_Parse(buf);
  free(buf);
  cr_assert(j, "%s is not JSON", name);
  return j;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static const char *DATA = "--model m.json --inputs X.npy --targets Y.npy --device cpu";

/* A tanh net (P = 38) regressing a smooth function: critical --starts 3; every returned point
 * has ||grad|| <= gtol when reloaded, and its index is the negative count of the Hessian
 * assembled here from the checkpoint. */
Test(critical, cli_points_are_critical_and_their_index_is_exact) {
  hs_cli_write_text("m.json", "{\"input_dim\": 3, \"hidden\": [6], \"output_dim\": 2, \"activation\": \"tanh\", "
                              "\"loss\": \"mse\"}");
  const size_t N = 64;
  double X[64 * 3], Y[64 * 2];
  hs_rng_normals(8, HS_STREAM_TEST, 0, N * 3, X);
  for (size_t i = 0; i < N; i++) {
    Y[2 * i] = sin(X[3 * i]) + 0.3 * X[3 * i + 1] * X[3 * i + 2];
    Y[2 * i + 1] = tanh(X[3 * i + 2] - X[3 * i]) + 0.1 * hs_rng_normal(9, HS_STREAM_TEST, i);
  }
  size_t xd[2] = {N, 3}, yd[2] = {N, 2};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("Y.npy"), HS_F64, Y, 2, yd), HS_OK);
  char args[1024];
  /* seed 2, noise 0.2: all three starts converge (to one saddle of index 12/38); other seeds
   * also reach slowly-converging degenerate points (docs/critical.md) */
  snprintf(args, sizeof args, "critical %s --seed 2 --starts 3 --noise 0.2 --out c.json --plot c.svg", DATA);
  int rc = hs_cli_run("", args, "");
  cr_assert_eq(rc, 0, "`hesspec %s` exited %d: %s", args, rc, hs_cli_err);
  cJSON *j = read_json("c.json");
  cr_assert_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "hesspec.critical/1");
  cJSON *starts = cJSON_GetObjectItem(j, "starts");
  cr_assert_eq(cJSON_GetArraySize(starts), 3);

  hs_model_spec spec;
  hs_model *m;
  hs_dataset *d;
  cr_assert_eq(hs_spec_load(ctx, hs_cli_path("m.json"), &spec), HS_OK);
  cr_assert_eq(hs_model_create(ctx, &spec, &m), HS_OK);
  cr_assert_eq(hs_dataset_create(ctx, N, 3, X, 2, NULL, Y, &d), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 0), HS_OK);
  size_t P = hs_model_num_params(m);
  cr_assert_eq(P, 38);
  int saddles = 0;
  for (int s = 0; s < 3; s++) {
    cJSON *q = cJSON_GetArrayItem(starts, s);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(q, "converged")), "start %d did not converge", s);
    cr_assert_str_eq(cJSON_GetObjectItem(q, "index_method")->valuestring, "exact");
    const char *ck = cJSON_GetObjectItem(q, "checkpoint")->valuestring;
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", hs_cli_dir, ck);
    cr_assert_eq(hs_model_load(m, full), HS_OK, "%s", hs_last_error(ctx));
    double loss, g[38];
    cr_assert_eq(hs_model_loss_grad(m, &loss, g), HS_OK);
    double gn = sqrt(hs_test_dot(g, g, P));
    cr_assert(gn <= 1e-8, "start %d: ||grad|| = %g at the checkpoint", s, gn);
    cr_assert(fabs(loss - cJSON_GetObjectItem(q, "loss")->valuedouble) <= 1e-12 * loss);
    double *H = hs_test_dense(m, HS_CURV_HESSIAN), w[38];
    for (size_t a = 0; a < P; a++)
      for (size_t b = a + 1; b < P; b++) H[a * P + b] = H[b * P + a] = 0.5 * (H[a * P + b] + H[b * P + a]);
    cr_assert_eq(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (int)P, H, (int)P, w), 0);
    qsort(w, P, sizeof *w, cmp_double);
    double amax = fmax(fabs(w[0]), fabs(w[P - 1]));
    size_t neg = 0;
    for (size_t i = 0; i < P; i++) neg += w[i] < -1e-9 * amax;
    /* no eigenvalue sits near the threshold, so the count cannot depend on rounding */
    for (size_t i = 0; i < P; i++)
      cr_assert(fabs(fabs(w[i]) - 1e-9 * amax) > 1e-11 * amax, "eigenvalue %g is at the threshold", w[i]);
    cr_assert_eq((size_t)cJSON_GetObjectItem(q, "negative_count")->valuedouble, neg, "start %d", s);
    cr_assert(fabs(cJSON_GetObjectItem(q, "index")->valuedouble - (double)neg / (double)P) < 1e-15);
    saddles += neg > 0;
    free(H);
  }
  cr_assert(saddles > 0, "the starts found only minima: the index check would be trivial");
  cJSON_Delete(j);
  char *svg = hs_cli_read_text("c.svg");
  cr_assert(strstr(svg, "<svg") && strstr(svg, "<circle"));
  free(svg);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
}

Test(critical, bad_options_exit_2) {
  hs_cli_write_text("m.json", "{\"input_dim\": 3, \"hidden\": [4], \"output_dim\": 2, \"activation\": \"tanh\", "
                              "\"loss\": \"mse\"}");
  double X[30], Y[20];
  hs_rng_normals(1, HS_STREAM_TEST, 0, 30, X);
  hs_rng_normals(2, HS_STREAM_TEST, 0, 20, Y);
  size_t xd[2] = {10, 3}, yd[2] = {10, 2};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("Y.npy"), HS_F64, Y, 2, yd), HS_OK);
  const char *bad[][2] = {{"--gtol 0", "--gtol"},          {"--gtol -1", "--gtol"},
                          {"--noise -0.1", "--noise"},     {"--starts 0", "--starts"},
                          {"--starts 3", "--noise"},       {"--theta 1", "--theta"},
                          {"--max-iter 0", "--max-iter"},  {"--minres-rtol 2", "--minres-rtol"},
                          {"--minres-max x", "--minres-max"}, {"--steps 999", "--steps 999"},
                          {"--index-tol 0", "--index-tol"}, {"--frobnicate", "--frobnicate"}};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char args[512];
    snprintf(args, sizeof args, "critical %s --out out.json %s", DATA, bad[k][0]);
    int rc = hs_cli_run("", args, "");
    cr_expect_eq(rc, 2, "`%s` exited %d: %s", args, rc, hs_cli_err);
    cr_expect(strstr(hs_cli_err, bad[k][1]), "`%s`: message does not name %s: %s", args, bad[k][1], hs_cli_err);
    cr_expect(!hs_cli_exists("out.json"));
  }
  char args[512];
  snprintf(args, sizeof args, "critical %s", DATA);
  cr_expect_eq(hs_cli_run("", args, ""), 2);
  cr_expect(strstr(hs_cli_err, "--out"), "%s", hs_cli_err);
}
