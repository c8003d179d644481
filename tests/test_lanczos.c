/* Lanczos: Gauss quadrature identities, exact early termination, lockstep probes, start
 * vectors, thread-count invariance, f32, bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "linalg/lanczos.h"
#include "linalg/tridiag.h"
#include "spectra_fixture.h"

/* v^T A^p v / v^T v for p = 0..P on the host. */
static void host_moments(size_t n, const double *A, const double *v, int P, double *mom) {
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  memcpy(x, v, n * sizeof *x);
  double vv = cblas_ddot((int)n, v, 1, v, 1);
  for (int p = 0; p <= P; p++) {
    mom[p] = cblas_ddot((int)n, v, 1, x, 1) / vv;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, A, (int)n, x, 1, 0.0, y, 1);
    memcpy(x, y, n * sizeof *x);
  }
  free(x);
  free(y);
}

/* sum_j w_j theta_j^p = v^T A^p v / v^T v for p <= 2m - 1, weights summing to 1, for every
 * probe of a lockstep run. */
Test(lanczos, quadrature_identities) {
  const size_t n = 60, m = 8, K = 3;
  double d[60];
  for (size_t i = 0; i < n; i++) d[i] = -1.0 + 2.0 * (double)i / (double)(n - 1) + 0.01 * sin((double)i);
  double *A = sf_matrix_with_eigs(n, d, 11);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_lanczos *lz = NULL;
  hs_lanczos_options o = {.probes = K, .max_steps = m};
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_lanczos_start_rademacher(lz, 7), HS_OK);
  cr_assert_eq(hs_lanczos_run(lz, m), HS_OK, "%s", hs_last_error(ctx));
  double v[60], mom[17], th[8], w[8]; /* moments 0..2m */
  for (size_t p = 0; p < K; p++) {
    cr_assert_eq(lz->steps[p], m);
    hs_probe_rademacher(7, p, n, v);
    host_moments(n, A, v, 2 * (int)m - 1, mom);
    cr_assert_eq(hs_tridiag_quadrature(ctx, m, lz->alpha + p * m, lz->beta + p * m, th, w), HS_OK);
    for (int q = 0; q <= 2 * (int)m - 1; q++) {
      double s = 0;
      for (size_t j = 0; j < m; j++) s += w[j] * pow(th[j], q);
      cr_assert(fabs(s - mom[q]) < 1e-12, "probe %zu moment %d: quadrature %.17g, exact %.17g", p, q, s,
                mom[q]);
    }
    /* the next moment is NOT reproduced: m nodes are exact only up to degree 2m - 1 */
    host_moments(n, A, v, 2 * (int)m, mom);
    double s = 0;
    for (size_t j = 0; j < m; j++) s += w[j] * pow(th[j], 2 * (double)m);
    cr_assert(fabs(s - mom[2 * m]) > 1e-9, "degree 2m unexpectedly exact");
  }
  hs_lanczos_destroy(lz);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}

/* Four distinct eigenvalues: every probe's Krylov space is invariant after exactly 4 steps;
 * the nodes are the eigenvalues and the quadrature of exp is exact. */
Test(lanczos, early_exact_termination) {
  const size_t n = 50, K = 4;
  const double vals[4] = {-3.0, 0.5, 2.0, 7.25};
  double d[50];
  for (size_t i = 0; i < n; i++) d[i] = vals[i % 4];
  double *A = sf_matrix_with_eigs(n, d, 5);
  for (int dt = 0; dt < 2; dt++) {
    hs_dtype t = dt ? HS_F32 : HS_F64;
    double tol = dt ? 1e-4 : 1e-10;
    hs_context *ctx = hs_test_ctx(t, 2);
    hs_linop *op = sf_linop(ctx, n, A);
    hs_lanczos *lz = NULL;
    hs_lanczos_options o = {.probes = K, .max_steps = 20};
    cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK);
    cr_assert_eq(hs_lanczos_start_rademacher(lz, 3), HS_OK);
    cr_assert_eq(hs_lanczos_run(lz, 20), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(lz->done, 4, "%s: lockstep loop ran %zu steps", hs_dtype_name(t), lz->done);
    cr_assert_eq(lz->applies, 4 * K);
    for (size_t p = 0; p < K; p++) {
      cr_assert(lz->stopped[p], "%s: probe %zu did not stop", hs_dtype_name(t), p);
      cr_assert_eq(lz->steps[p], 4, "%s: probe %zu stopped after %zu steps", hs_dtype_name(t), p, lz->steps[p]);
      double th[4], w[4], v[50], e[50];
      cr_assert_eq(hs_tridiag_quadrature(ctx, 4, lz->alpha + p * 20, lz->beta + p * 20, th, w), HS_OK);
      for (int j = 0; j < 4; j++)
        cr_assert(fabs(th[j] - vals[j]) < tol * 10, "%s: node %d = %.17g", hs_dtype_name(t), j, th[j]);
      /* exact v^T exp(A) v / n from the eigen decomposition: sum over eigenvalues */
      hs_probe_rademacher(3, p, n, v);
      double quad = 0, exact = 0;
      for (int j = 0; j < 4; j++) quad += w[j] * exp(th[j]);
      /* v^T exp(A) v by the Taylor-free route: A's spectral projectors from the moments are
       * awkward; use the dense exp via the same Q: exp(A) = Q exp(D) Q^T. */
      double ed[50];
      for (size_t i = 0; i < n; i++) ed[i] = exp(d[i]);
      double *E = sf_matrix_with_eigs(n, ed, 5);
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, E, (int)n, v, 1, 0.0, e, 1);
      exact = cblas_ddot((int)n, v, 1, e, 1) / (double)n;
      free(E);
      cr_assert(fabs(quad - exact) < tol * 100 * exact, "%s: exp quadrature %.17g vs %.17g", hs_dtype_name(t),
                quad, exact);
    }
    hs_lanczos_destroy(lz);
    hs_linop_destroy(op);
    hs_context_destroy(ctx);
  }
  free(A);
}

/* Probes in lockstep give the same tridiagonals as one probe at a time. */
Test(lanczos, lockstep_equals_single) {
  const size_t n = 80, m = 12, K = 3;
  double *A = sf_wigner(n, 21);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_lanczos *all = NULL;
  hs_lanczos_options o = {.probes = K, .max_steps = m};
  cr_assert_eq(hs_lanczos_create(op, &o, &all), HS_OK);
  cr_assert_eq(hs_lanczos_start_rademacher(all, 9), HS_OK);
  cr_assert_eq(hs_lanczos_run(all, m), HS_OK);
  double *V = malloc(n * sizeof *V);
  for (size_t p = 0; p < K; p++) {
    hs_lanczos *one = NULL;
    hs_lanczos_options o1 = {.probes = 1, .max_steps = m};
    cr_assert_eq(hs_lanczos_create(op, &o1, &one), HS_OK);
    hs_probe_rademacher(9, p, n, V);
    cr_assert_eq(hs_lanczos_start(one, V), HS_OK);
    cr_assert_eq(hs_lanczos_run(one, m), HS_OK);
    for (size_t j = 0; j < m; j++) {
      cr_assert(fabs(one->alpha[j] - all->alpha[p * m + j]) < 1e-13, "alpha %zu %zu", p, j);
      cr_assert(fabs(one->beta[j] - all->beta[p * m + j]) < 1e-13, "beta %zu %zu", p, j);
    }
    hs_lanczos_destroy(one);
  }
  free(V);
  hs_lanczos_destroy(all);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}

/* The basis stays orthonormal to rounding after many steps (full reorthogonalisation), and
 * Ritz vectors built with hs_lanczos_combine satisfy the residual estimate. */
Test(lanczos, orthogonality_and_ritz_vectors) {
  const size_t n = 200, m = 120;
  double *A = sf_wigner(n, 4);
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_lanczos *lz = NULL;
  hs_lanczos_options o = {.probes = 1, .max_steps = m};
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK);
  cr_assert_eq(hs_lanczos_start_rademacher(lz, 1), HS_OK);
  cr_assert_eq(hs_lanczos_run(lz, m), HS_OK);
  double *Q = malloc((m + 1) * n * sizeof *Q);
  for (size_t j = 0; j <= m; j++)
    cr_assert_eq(hs_dev_download_f64(ctx, HS_F64, Q + j * n, hs_lanczos_vec(lz, 0, j), n), HS_OK);
  double worst = 0;
  for (size_t i = 0; i <= m; i++)
    for (size_t j = 0; j <= i; j++) {
      double d = cblas_ddot((int)n, Q + i * n, 1, Q + j * n, 1) - (i == j);
      worst = fmax(worst, fabs(d));
    }
  cr_assert(worst < 1e-13, "loss of orthogonality %g", worst);
  /* Ritz pair of the largest Ritz value */
  double *th = malloc(m * sizeof *th), *Z = malloc(m * m * sizeof *Z), y[200], Ay[200];
  cr_assert_eq(hs_tridiag_eig(ctx, m, lz->alpha, lz->beta, th, Z), HS_OK);
  void *Yd = NULL;
  cr_assert_eq(hs_dev_alloc(ctx, HS_F64, n, &Yd), HS_OK);
  cr_assert_eq(hs_lanczos_combine(lz, 0, m, 1, Z + (m - 1) * m, Yd), HS_OK);
  cr_assert_eq(hs_dev_download_f64(ctx, HS_F64, y, Yd, n), HS_OK);
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, A, (int)n, y, 1, 0.0, Ay, 1);
  cblas_daxpy((int)n, -th[m - 1], y, 1, Ay, 1);
  double res = cblas_dnrm2((int)n, Ay, 1), est = lz->beta[m - 1] * fabs(Z[(m - 1) * m + m - 1]);
  cr_assert(fabs(res - est) < 1e-12, "residual %g vs estimate %g", res, est);
  ctx->be->ops->free(ctx->be, Yd);
  free(th);
  free(Z);
  free(Q);
  hs_lanczos_destroy(lz);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}

/* Bit-identical tridiagonals for 1 and 2 threads, f64 and f32. */
Test(lanczos, identical_across_threads) {
  const size_t n = 700, m = 40, K = 4;
  double *A = sf_wigner(n, 8);
  for (int dt = 0; dt < 2; dt++) {
    double *ab[2];
    for (int th = 1; th <= 2; th++) {
      hs_context *ctx = hs_test_ctx(dt ? HS_F32 : HS_F64, th);
      hs_linop *op = sf_linop(ctx, n, A);
      hs_lanczos *lz = NULL;
      hs_lanczos_options o = {.probes = K, .max_steps = m};
      cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK);
      cr_assert_eq(hs_lanczos_start_rademacher(lz, 2), HS_OK);
      cr_assert_eq(hs_lanczos_run(lz, m), HS_OK);
      ab[th - 1] = malloc(2 * K * m * sizeof(double));
      memcpy(ab[th - 1], lz->alpha, K * m * sizeof(double));
      memcpy(ab[th - 1] + K * m, lz->beta, K * m * sizeof(double));
      hs_lanczos_destroy(lz);
      hs_linop_destroy(op);
      hs_context_destroy(ctx);
    }
    cr_assert(memcmp(ab[0], ab[1], 2 * K * m * sizeof(double)) == 0, "%s: threads 1 and 2 differ",
              dt ? "f32" : "f64");
    free(ab[0]);
    free(ab[1]);
  }
  free(A);
}

/* f32 arithmetic tracks f64 to single-precision accuracy. */
Test(lanczos, f32_close_to_f64) {
  const size_t n = 300, m = 30;
  double *A = sf_wigner(n, 13);
  double th[2][30], w[2][30];
  for (int dt = 0; dt < 2; dt++) {
    hs_context *ctx = hs_test_ctx(dt ? HS_F32 : HS_F64, 1);
    hs_linop *op = sf_linop(ctx, n, A);
    hs_lanczos *lz = NULL;
    hs_lanczos_options o = {.probes = 1, .max_steps = m};
    cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK);
    cr_assert_eq(hs_lanczos_start_rademacher(lz, 2), HS_OK);
    cr_assert_eq(hs_lanczos_run(lz, m), HS_OK);
    cr_assert_eq(hs_tridiag_quadrature(ctx, m, lz->alpha, lz->beta, th[dt], w[dt]), HS_OK);
    hs_lanczos_destroy(lz);
    hs_linop_destroy(op);
    hs_context_destroy(ctx);
  }
  /* extreme Ritz values are well conditioned */
  cr_assert(fabs(th[0][0] - th[1][0]) < 1e-4, "%g vs %g", th[0][0], th[1][0]);
  cr_assert(fabs(th[0][m - 1] - th[1][m - 1]) < 1e-4, "%g vs %g", th[0][m - 1], th[1][m - 1]);
  free(A);
}

Test(lanczos, bad_inputs) {
  double A[9] = {1, 2, 3, 2, 4, 5, 3, 5, 6};
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, 3, A);
  hs_lanczos *lz = NULL;
  hs_lanczos_options o = {.probes = 1, .max_steps = 4};
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "steps = 4"), "%s", hs_last_error(ctx));
  o.max_steps = 0;
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_E_INVALID);
  o.max_steps = 2;
  o.probes = 0;
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "probes"), "%s", hs_last_error(ctx));
  o.probes = 2;
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK);
  double V[6] = {1, 0, 0, 0, 0, 0};
  cr_assert_eq(hs_lanczos_start(lz, V), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "start vector 1"), "%s", hs_last_error(ctx));
  hs_lanczos_destroy(lz);
  hs_linop_destroy(op);
  /* non-symmetric and non-finite matrices */
  double B[9] = {1, 2, 3, 2, 4, 5, 3, 5.5, 6};
  cr_assert_eq(hs_linop_matrix(ctx, 3, B, 1e-8, &op), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "not symmetric") && strstr(hs_last_error(ctx), "A[1][2]"), "%s",
            hs_last_error(ctx));
  B[7] = NAN;
  cr_assert_eq(hs_linop_matrix(ctx, 3, B, 1e-8, &op), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "(2, 1)"), "%s", hs_last_error(ctx));
  hs_context_destroy(ctx);
}

/* A zero operator: the first step breaks down; the single node is 0 with weight 1. */
Test(lanczos, zero_operator) {
  double A[16] = {0};
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, 4, A);
  hs_lanczos *lz = NULL;
  hs_lanczos_options o = {.probes = 2, .max_steps = 4};
  cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK);
  cr_assert_eq(hs_lanczos_start_rademacher(lz, 0), HS_OK);
  cr_assert_eq(hs_lanczos_run(lz, 4), HS_OK);
  cr_assert_eq(lz->steps[0], 1);
  cr_assert_eq(lz->steps[1], 1);
  cr_assert_eq(lz->alpha[0], 0.0);
  hs_lanczos_destroy(lz);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
}

/* Partial reorthogonalisation: semi-orthogonal basis (|q_i . q_j| of order sqrt(eps) at
 * most), far fewer passes over the basis, and the same extreme Ritz values and low moments
 * as full reorthogonalisation. */
Test(lanczos, partial_reorthogonalisation) {
  const size_t n = 600, m = 100, K = 2;
  double d[600];
  for (size_t i = 0; i < n; i++) d[i] = i < 590 ? sin(0.37 * (double)i) : 5.0 + (double)(i - 590); /* bulk + outliers */
  double *A = sf_matrix_with_eigs(n, d, 3);
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_lanczos *lz[2] = {NULL, NULL};
  for (int r = 0; r < 2; r++) {
    hs_lanczos_options o = {.probes = K, .max_steps = m, .reorth = r ? HS_REORTH_PARTIAL : HS_REORTH_FULL};
    cr_assert_eq(hs_lanczos_create(op, &o, &lz[r]), HS_OK);
    cr_assert_eq(hs_lanczos_start_rademacher(lz[r], 4), HS_OK);
    cr_assert_eq(hs_lanczos_run(lz[r], m), HS_OK, "%s", hs_last_error(ctx));
  }
  cr_log_info("Gram-Schmidt passes: full %zu, partial %zu", lz[0]->passes, lz[1]->passes);
  cr_assert(lz[1]->passes * 2 < lz[0]->passes, "partial made %zu passes, full %zu", lz[1]->passes, lz[0]->passes);
  double *Q = malloc((m + 1) * n * sizeof *Q), mom[21], v[600];
  for (size_t p = 0; p < K; p++) {
    for (size_t j = 0; j < m; j++)
      cr_assert_eq(hs_dev_download_f64(ctx, HS_F64, Q + j * n, hs_lanczos_vec(lz[1], p, j), n), HS_OK);
    double worst = 0;
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < i; j++) worst = fmax(worst, fabs(cblas_ddot((int)n, Q + i * n, 1, Q + j * n, 1)));
    cr_log_info("probe %zu: max |q_i . q_j| = %g with partial reorthogonalisation", p, worst);
    cr_assert(worst < 1e-6, "probe %zu: orthogonality lost: %g", p, worst);
    double th[2][100], w[2][100];
    for (int r = 0; r < 2; r++)
      cr_assert_eq(hs_tridiag_quadrature(ctx, m, lz[r]->alpha + p * m, lz[r]->beta + p * m, th[r], w[r]), HS_OK);
    for (int e = 0; e < 10; e++) /* the outliers and the bulk edge */
      cr_assert(fabs(th[0][m - 1 - e] - th[1][m - 1 - e]) < 1e-10 * 15, "probe %zu: Ritz value %d: %.15g vs %.15g", p, e,
                th[0][m - 1 - e], th[1][m - 1 - e]);
    hs_probe_rademacher(4, p, n, v);
    host_moments(n, A, v, 20, mom);
    for (int q = 0; q <= 20; q++) {
      double s = 0;
      for (size_t j = 0; j < m; j++) s += w[1][j] * pow(th[1][j], q);
      cr_assert(fabs(s - mom[q]) < 1e-9 * fmax(1.0, fabs(mom[q])), "probe %zu moment %d: %.15g vs %.15g", p, q, s, mom[q]);
    }
  }
  free(Q);
  hs_lanczos_destroy(lz[0]);
  hs_lanczos_destroy(lz[1]);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}

/* Host round trips (the ops a GPU backend must synchronise for) during hs_lanczos_run, counted
 * by wrapping the CPU's op table. */
static const hs_backend_ops *trip_orig;
static size_t trips;
static hs_status trip_dot(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y, double *out) {
  trips++;
  return trip_orig->dot(be, t, n, x, y, out);
}
static hs_status trip_nrm2(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out) {
  trips++;
  return trip_orig->nrm2(be, t, n, x, out);
}
static hs_status trip_dots(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                           const void *const *y, double *out) {
  trips++;
  return trip_orig->dots(be, t, m, n, x, y, out);
}
static hs_status trip_download(hs_backend *be, void *dst, const void *src, size_t bytes) {
  trips++;
  return trip_orig->download(be, dst, src, bytes);
}
static hs_status trip_sync(hs_backend *be) {
  trips++;
  return trip_orig->sync(be);
}

/* A step's scalars of all probes come back together: the round trips per step do not grow
 * with the number of probes (before, each probe paid 4 per step: 26 per step at k = 6). At
 * most 4 dots calls (alpha, norm, two Gram-Schmidt passes) and the run's 2 syncs per step. */
Test(lanczos, host_round_trips_independent_of_probes) {
  const size_t n = 80, m = 12;
  double d[80];
  for (size_t i = 0; i < n; i++) d[i] = (double)i / (double)n + 0.05 * cos((double)i);
  double *A = sf_matrix_with_eigs(n, d, 5);
  size_t total[2];
  const size_t K[2] = {1, 6};
  for (int c = 0; c < 2; c++) {
    hs_context *ctx = hs_test_ctx(HS_F64, 1);
    hs_linop *op = sf_linop(ctx, n, A);
    hs_lanczos *lz = NULL;
    hs_lanczos_options o = {.probes = K[c], .max_steps = m};
    cr_assert_eq(hs_lanczos_create(op, &o, &lz), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(hs_lanczos_start_rademacher(lz, 3), HS_OK);
    hs_backend_ops wrapped = *ctx->be->ops;
    trip_orig = ctx->be->ops;
    wrapped.dot = trip_dot;
    wrapped.nrm2 = trip_nrm2;
    wrapped.dots = trip_dots;
    wrapped.download = trip_download;
    wrapped.sync = trip_sync;
    ctx->be->ops = &wrapped;
    trips = 0;
    hs_status st = hs_lanczos_run(lz, m);
    ctx->be->ops = trip_orig;
    cr_assert_eq(st, HS_OK, "%s", hs_last_error(ctx));
    for (size_t p = 0; p < K[c]; p++) cr_assert_eq(lz->steps[p], m);
    total[c] = trips;
    cr_assert(trips <= 6 * m, "k = %zu: %zu host round trips in %zu steps (more than 6 per step)", K[c], trips, m);
    hs_lanczos_destroy(lz);
    hs_linop_destroy(op);
    hs_context_destroy(ctx);
  }
  /* only a second Gram-Schmidt pass that some probe needs and probe 0 does not can add trips */
  cr_assert(total[1] <= total[0] + m, "k = 6: %zu round trips, k = 1: %zu", total[1], total[0]);
  free(A);
}
