/* Hutchinson's trace estimator: against exact traces, its standard error, thread counts,
 * agreement with the SLQ trace of the same probes, bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/slq.h"
#include "linalg/trace.h"
#include "spectra_fixture.h"

static hs_trace_result *run_trace(hs_context *ctx, size_t n, const double *A, size_t K, size_t block) {
  hs_linop *op = sf_linop(ctx, n, A);
  hs_trace_options o = {.probes = K, .seed = 17, .block = block};
  hs_trace_result *r = NULL;
  cr_assert_eq(hs_trace_hutchinson(op, &o, &r), HS_OK, "%s", hs_last_error(ctx));
  hs_linop_destroy(op);
  return r;
}

Test(trace, within_three_standard_errors) {
  const size_t n = 400;
  double *W = sf_wishart(n, 600, 2), *G = sf_wigner(n, 3);
  const double *mats[2] = {W, G};
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  for (int k = 0; k < 2; k++) {
    double tr = 0, fro = 0, diag = 0;
    for (size_t i = 0; i < n; i++) tr += mats[k][i * n + i], diag += mats[k][i * n + i] * mats[k][i * n + i];
    for (size_t i = 0; i < n * n; i++) fro += mats[k][i] * mats[k][i];
    hs_trace_result *r = run_trace(ctx, n, mats[k], 200, 0);
    cr_assert(fabs(r->trace - tr) < 3 * r->trace_se, "matrix %d: %g +- %g vs exact %g", k, r->trace, r->trace_se, tr);
    /* the standard error matches the Rademacher variance 2 (||A||_F^2 - sum A_ii^2) / K within 30% */
    double se = sqrt(2 * (fro - diag) / 200);
    cr_assert(fabs(r->trace_se / se - 1) < 0.3, "matrix %d: standard error %g vs theory %g", k, r->trace_se, se);
    cr_assert_eq(r->applies, 200);
    hs_trace_free(r);
  }
  hs_context_destroy(ctx);
  free(W);
  free(G);
}

/* Diagonal matrices: Rademacher probes are exact, every sample is the trace. */
Test(trace, exact_for_diagonal) {
  double D[25] = {0};
  for (int i = 0; i < 5; i++) D[i * 6] = i - 1.5;
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_trace_result *r = run_trace(ctx, 5, D, 7, 3);
  for (int p = 0; p < 7; p++) cr_assert(fabs(r->samples[p] - 2.5) < 1e-15);
  cr_assert(r->trace_se < 1e-15);
  hs_trace_free(r);
  hs_context_destroy(ctx);
}

/* Block size changes nothing; SLQ's trace equals Hutchinson's on the same probes. */
Test(trace, blocks_and_slq_agree) {
  const size_t n = 200;
  double *A = sf_wigner(n, 12);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_trace_result *a = run_trace(ctx, n, A, 10, 1), *b = run_trace(ctx, n, A, 10, 4);
  cr_assert(memcmp(a->samples, b->samples, 10 * sizeof(double)) == 0);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_slq_options o = hs_slq_defaults();
  o.steps = 20;
  o.probes = 10;
  o.seed = 17;
  hs_slq_result *s = NULL;
  cr_assert_eq(hs_slq_run(op, &o, &s), HS_OK);
  cr_assert(fabs(s->trace - a->trace) < 1e-10 * (1 + fabs(a->trace)), "slq %g hutchinson %g", s->trace, a->trace);
  hs_slq_free(s);
  hs_linop_destroy(op);
  hs_trace_free(a);
  hs_trace_free(b);
  hs_context_destroy(ctx);
  free(A);
}

Test(trace, identical_across_threads) {
  const size_t n = 500;
  double *A = sf_wigner(n, 1);
  hs_trace_result *r[2];
  for (int t = 0; t < 2; t++) {
    hs_context *ctx = hs_test_ctx(HS_F64, t + 1);
    r[t] = run_trace(ctx, n, A, 20, 0);
    hs_context_destroy(ctx);
  }
  cr_assert(memcmp(r[0]->samples, r[1]->samples, 20 * sizeof(double)) == 0, "samples differ for 1 and 2 threads");
  hs_trace_free(r[0]);
  hs_trace_free(r[1]);
  free(A);
}

Test(trace, bad_inputs) {
  double A[4] = {1, 0, 0, 1};
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, 2, A);
  hs_trace_options o = {.probes = 0};
  hs_trace_result *r = NULL;
  cr_assert_eq(hs_trace_hutchinson(op, &o, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--probes"), "%s", hs_last_error(ctx));
  cr_assert(r == NULL);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
}

/* Hutch++ on a matrix with a few dominant eigenvalues (like a Hessian): within 3 standard
 * errors of the exact trace, and a much smaller error than Hutchinson with the same budget. */
Test(trace, hutchpp_beats_hutchinson_with_outliers) {
  const size_t n = 300;
  double d[300];
  for (size_t i = 0; i < n; i++) d[i] = i < 290 ? 0.05 * sin((double)i) : 50.0 + 10.0 * (double)(i - 290);
  double *A = sf_matrix_with_eigs(n, d, 6), tr = 0;
  for (size_t i = 0; i < n; i++) tr += d[i];
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_trace_result *r[2];
  for (int m = 0; m < 2; m++) {
    hs_trace_options o = {.probes = 60, .seed = 3, .method = m ? HS_TRACE_HUTCHPP : HS_TRACE_HUTCHINSON};
    cr_assert_eq(hs_trace_hutchinson(op, &o, &r[m]), HS_OK, "%s", hs_last_error(ctx));
    cr_log_info("%s: %g +- %g (exact %g), %zu products", m ? "hutch++" : "hutchinson", r[m]->trace, r[m]->trace_se, tr,
                r[m]->applies);
    cr_assert(r[m]->applies <= 60);
    cr_assert(fabs(r[m]->trace - tr) < 3 * r[m]->trace_se + 1e-9, "%s: %g +- %g vs %g", m ? "hutch++" : "hutchinson",
              r[m]->trace, r[m]->trace_se, tr);
  }
  cr_assert_eq(r[1]->rank, 20);
  cr_assert(r[1]->trace_se < 0.05 * r[0]->trace_se, "hutch++ s.e. %g vs hutchinson %g", r[1]->trace_se, r[0]->trace_se);
  hs_trace_free(r[0]);
  hs_trace_free(r[1]);
  /* too small a budget */
  hs_trace_options o = {.probes = 2, .method = HS_TRACE_HUTCHPP};
  hs_trace_result *x = NULL;
  cr_assert_eq(hs_trace_hutchinson(op, &o, &x), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "Hutch++"), "%s", hs_last_error(ctx));
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}
