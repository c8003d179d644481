/* SLQ densities: normalisation, known laws (semicircle, Marchenko-Pastur), the summary,
 * thread-count invariance, option checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/slq.h"
#include "spectra_fixture.h"

/* The SLQ estimate of the spectral CDF at x: probe average of sum_{theta <= x} w, with the
 * node at x (if any) counted half. */
static double slq_cdf(const hs_slq_result *r, double x) {
  double s = 0;
  for (size_t p = 0; p < r->probes; p++)
    for (size_t i = 0; i < r->count[p]; i++) {
      double th = r->nodes[p * r->steps + i], w = r->weights[p * r->steps + i];
      s += th < x ? w : th == x ? 0.5 * w : 0;
    }
  return s / (double)r->probes;
}

static hs_slq_result *run_slq(hs_context *ctx, size_t n, const double *A, size_t steps, size_t probes) {
  hs_linop *op = sf_linop(ctx, n, A);
  hs_slq_options o = hs_slq_defaults();
  o.steps = steps;
  o.probes = probes;
  o.seed = 42;
  hs_slq_result *r = NULL;
  hs_status st = hs_slq_run(op, &o, &r);
  cr_assert_eq(st, HS_OK, "slq: %s", hs_last_error(ctx));
  hs_linop_destroy(op);
  return r;
}

/* Tolerance for a CDF value F estimated by K Rademacher probes of an n x n matrix whose
 * spectral projector has rank ~ F n: the probe variance of v^T P v / n is about
 * 2 F (1 - F) / n, so the standard error of the mean is sqrt(2 F (1 - F) / (n K)). Gauss
 * quadrature of a step adds at most the weight of the nodes next to x (Chebyshev-Markov-
 * Stieltjes), about pi sqrt(F (1 - F)) / m for m nodes on a smooth law; averaging K probes
 * whose nodes fall at different places reduces that further, but we do not count on it.
 * The tolerance is 4 standard errors plus that quadrature bound. */
static double cdf_tol(double F, size_t n, size_t K, size_t m) {
  double v = F * (1 - F);
  return 4 * sqrt(2 * v / (double)(n * K)) + M_PI * sqrt(v) / (double)m;
}

Test(slq, semicircle_cdf) {
  const size_t n = 1500, m = 80, K = 10;
  double *A = sf_wigner(n, 77);
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_slq_result *r = run_slq(ctx, n, A, m, K);
  const double xs[] = {-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5};
  for (int i = 0; i < 7; i++) {
    double F = sf_semicircle_cdf(xs[i]), got = slq_cdf(r, xs[i]), tol = cdf_tol(F, n, K, m);
    cr_log_info("semicircle x=%g: slq %.5f law %.5f |diff| %.5f tol %.5f", xs[i], got, F, fabs(got - F), tol);
    cr_expect(fabs(got - F) < tol, "x = %g: SLQ CDF %.5f vs semicircle %.5f (tol %.5f)", xs[i], got, F, tol);
  }
  /* the edges of the support: extreme Ritz values converge to +-2 (finite n: within n^(-2/3)) */
  cr_expect(fabs(r->lambda_min + 2) < 0.1 && fabs(r->lambda_max - 2) < 0.1, "range [%g, %g]", r->lambda_min,
            r->lambda_max);
  /* trace of a GOE matrix ~ N(0, 2): SLQ's trace is Hutchinson's; compare with the exact one */
  double tr = 0;
  for (size_t i = 0; i < n; i++) tr += A[i * n + i];
  cr_expect(fabs(r->trace - tr) < 4 * r->trace_se, "trace %g +- %g vs exact %g", r->trace, r->trace_se, tr);
  hs_slq_free(r);
  hs_context_destroy(ctx);
  free(A);
}

Test(slq, marchenko_pastur_cdf) {
  const size_t n = 1000, N = 2000, m = 80, K = 10;
  const double c = (double)n / (double)N;
  double *W = sf_wishart(n, N, 78);
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_slq_result *r = run_slq(ctx, n, W, m, K);
  const double xs[] = {0.2, 0.5, 1.0, 1.5, 2.0, 2.5};
  for (int i = 0; i < 6; i++) {
    double F = sf_mp_cdf(c, xs[i]), got = slq_cdf(r, xs[i]), tol = cdf_tol(F, n, K, m);
    cr_log_info("MP x=%g: slq %.5f law %.5f |diff| %.5f tol %.5f", xs[i], got, F, fabs(got - F), tol);
    cr_expect(fabs(got - F) < tol, "x = %g: SLQ CDF %.5f vs Marchenko-Pastur %.5f (tol %.5f)", xs[i], got, F, tol);
  }
  double a = (1 - sqrt(c)) * (1 - sqrt(c)), b = (1 + sqrt(c)) * (1 + sqrt(c));
  cr_expect(fabs(r->lambda_min - a) < 0.05 && fabs(r->lambda_max - b) < 0.1, "range [%g, %g] vs [%g, %g]",
            r->lambda_min, r->lambda_max, a, b);
  cr_expect(r->neg_frac == 0, "a positive definite matrix has negative mass %g", r->neg_frac);
  hs_slq_free(r);
  hs_context_destroy(ctx);
  free(W);
}

/* The density integrates to 1, weights sum to 1 per probe, sigma and grid follow the rule. */
Test(slq, density_normalised_and_defaults) {
  const size_t n = 400;
  double *A = sf_wigner(n, 5);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_slq_result *r = run_slq(ctx, n, A, 0, 4);
  cr_assert_eq(r->steps, 80);
  for (size_t p = 0; p < r->probes; p++) {
    double s = 0;
    for (size_t i = 0; i < r->count[p]; i++) s += r->weights[p * r->steps + i];
    cr_assert(fabs(s - 1) < 1e-12, "probe %zu weights sum to %.17g", p, s);
  }
  cr_assert(fabs(r->sigma - (r->lambda_max - r->lambda_min) / 200) < 1e-15);
  cr_assert(r->grid_n >= HS_SLQ_MIN_GRID);
  cr_assert(fabs(r->grid[0] - (r->lambda_min - 5 * r->sigma)) < 1e-12);
  cr_assert(fabs(r->integral - 1) < 1e-6, "integral %.10f", r->integral);
  /* the smoothing step alone, re-run with another sigma, still integrates to 1 */
  double *d = malloc(r->grid_n * sizeof *d);
  hs_slq_smooth(r->probes, r->count, r->steps, r->nodes, r->weights, 2 * r->sigma, r->grid_n, r->grid, d, NULL);
  double h = r->grid[1] - r->grid[0], s = 0;
  for (size_t g = 0; g + 1 < r->grid_n; g++) s += 0.5 * h * (d[g] + d[g + 1]);
  cr_assert(fabs(s - 1) < 1e-3, "re-smoothed integral %g (the grid clips 2.5 sigma tails)", s);
  free(d);
  hs_slq_free(r);
  /* n smaller than the default steps: steps = n, and the quadrature is exact (breakdown) */
  double *B = sf_wigner(30, 6);
  r = run_slq(ctx, 30, B, 0, 3);
  cr_assert_eq(r->steps, 30);
  double *ev = sf_eigvals(30, B);
  for (size_t p = 0; p < 3; p++)
    for (size_t i = 0; i < r->count[p]; i++)
      cr_assert(fabs(r->nodes[p * r->steps + i] - ev[i]) < 1e-10, "node %zu of a full run is not eigenvalue", i);
  free(ev);
  free(B);
  hs_slq_free(r);
  hs_context_destroy(ctx);
  free(A);
}

/* Negative mass: a matrix with exactly 30% negative eigenvalues. */
Test(slq, negative_fraction) {
  const size_t n = 500;
  double d[500];
  for (size_t i = 0; i < n; i++) d[i] = i < 150 ? -1.0 - (double)i / 150 : 0.5 + (double)i / 100;
  double *A = sf_matrix_with_eigs(n, d, 9);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_slq_result *r = run_slq(ctx, n, A, 40, 20);
  double tol = 4 * sqrt(2 * 0.3 * 0.7 / (double)(n * 20));
  cr_assert(fabs(r->neg_frac - 0.3) < tol, "negative fraction %g +- %g", r->neg_frac, r->neg_frac_se);
  cr_assert(r->neg_frac_se > 0 && r->neg_frac_se < tol);
  hs_slq_free(r);
  hs_context_destroy(ctx);
  free(A);
}

Test(slq, identical_across_threads) {
  const size_t n = 600;
  double *A = sf_wishart(n, 900, 3);
  hs_slq_result *r[2];
  for (int t = 0; t < 2; t++) {
    hs_context *ctx = hs_test_ctx(HS_F64, t + 1);
    r[t] = run_slq(ctx, n, A, 30, 3);
    hs_context_destroy(ctx);
  }
  cr_assert(memcmp(r[0]->nodes, r[1]->nodes, 3 * 30 * sizeof(double)) == 0, "nodes differ for 1 and 2 threads");
  cr_assert(memcmp(r[0]->weights, r[1]->weights, 3 * 30 * sizeof(double)) == 0, "weights differ");
  cr_assert(r[0]->grid_n == r[1]->grid_n && memcmp(r[0]->density, r[1]->density, r[0]->grid_n * sizeof(double)) == 0,
            "density differs");
  hs_slq_free(r[0]);
  hs_slq_free(r[1]);
  free(A);
}

Test(slq, bad_options) {
  double A[16] = {1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4};
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, 4, A);
  hs_slq_result *r = NULL;
  hs_slq_options o = hs_slq_defaults();
  o.steps = 5;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--steps 5"), "%s", hs_last_error(ctx));
  o = hs_slq_defaults();
  o.probes = 0;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--probes"), "%s", hs_last_error(ctx));
  o = hs_slq_defaults();
  o.sigma = -1;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--sigma"), "%s", hs_last_error(ctx));
  o = hs_slq_defaults();
  o.grid_points = 1;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_E_INVALID);
  cr_assert(r == NULL);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
}

/* The Chebyshev-Markov-Stieltjes bounds bracket the exact negative fraction of each probe's
 * quadratic form, here for a matrix whose eigenvalues crowd around zero. */
Test(slq, negative_fraction_bounds) {
  const size_t n = 400;
  double d[400];
  for (size_t i = 0; i < n; i++) d[i] = i < 20 ? -1.0 - (double)i : i >= 380 ? 1.0 + (double)(i - 380) : 1e-3 * sin((double)i);
  double *A = sf_matrix_with_eigs(n, d, 8);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_slq_options o = hs_slq_defaults();
  o.steps = 12;
  o.probes = 6;
  o.neg_tol = 1e-4;
  hs_slq_result *r = NULL;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_OK);
  /* exact probe-average of v^T 1[A < -tol] v / n, from the eigen decomposition */
  double *P = malloc(n * sizeof *P), v[400], e[400];
  for (size_t i = 0; i < n; i++) P[i] = d[i] < -1e-4 ? 1.0 : 0.0;
  double *E = sf_matrix_with_eigs(n, P, 8), exact = 0;
  for (size_t p = 0; p < 6; p++) {
    hs_probe_rademacher(o.seed, p, n, v);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, E, (int)n, v, 1, 0.0, e, 1);
    exact += cblas_ddot((int)n, v, 1, e, 1) / (double)n / 6;
  }
  cr_assert(r->neg_frac_lo <= exact + 1e-12 && exact <= r->neg_frac_hi + 1e-12, "exact %g outside [%g, %g]", exact,
            r->neg_frac_lo, r->neg_frac_hi);
  cr_assert(r->neg_frac_lo <= r->neg_frac && r->neg_frac <= r->neg_frac_hi);
  free(P);
  free(E);
  hs_slq_free(r);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}
