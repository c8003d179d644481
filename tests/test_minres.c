/* MINRES against dense LAPACK solves: SPD, indefinite, and singular (least squares). */
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "linalg/minres.h"
#include "spectra_fixture.h"

static hs_context *ctx;
static void setup(void) { ctx = hs_test_ctx(HS_F64, 1); }
static void teardown(void) { hs_context_destroy(ctx); }
TestSuite(minres, .init = setup, .fini = teardown);

/* Runs MINRES on the n x n matrix A for b; returns x (host, caller frees). */
static double *solve(const double *A, size_t n, const double *b, double rtol, size_t maxit, hs_minres_result *res) {
  hs_linop *op;
  cr_assert_eq(hs_linop_matrix(ctx, n, A, 1e-12, &op), HS_OK, "%s", hs_last_error(ctx));
  void *bd, *xd;
  cr_assert_eq(hs_dev_alloc(ctx, HS_F64, n, &bd), HS_OK);
  cr_assert_eq(hs_dev_alloc(ctx, HS_F64, n, &xd), HS_OK);
  cr_assert_eq(hs_dev_upload_f64(ctx, HS_F64, bd, b, n), HS_OK);
  hs_minres_options o = {.max_iter = maxit, .rtol = rtol};
  cr_assert_eq(hs_minres(op, bd, xd, &o, res), HS_OK, "%s", hs_last_error(ctx));
  double *x = malloc(n * sizeof *x);
  cr_assert_eq(hs_dev_download_f64(ctx, HS_F64, x, xd, n), HS_OK);
  ctx->be->ops->free(ctx->be, bd);
  ctx->be->ops->free(ctx->be, xd);
  hs_linop_destroy(op);
  return x;
}

static double *dense_solve(const double *A, size_t n, const double *b) {
  double *M = malloc(n * n * sizeof *M), *x = malloc(n * sizeof *x);
  lapack_int *piv = malloc(n * sizeof *piv);
  memcpy(M, A, n * n * sizeof *M);
  memcpy(x, b, n * sizeof *x);
  cr_assert_eq(LAPACKE_dgesv(LAPACK_ROW_MAJOR, (int)n, 1, M, (int)n, piv, x, 1), 0);
  free(M);
  free(piv);
  return x;
}

static void check_against_dense(const double *d, size_t n, uint64_t seed) {
  double *A = sf_matrix_with_eigs(n, d, seed), *b = hs_test_vec(n, seed + 1);
  hs_minres_result r;
  double *x = solve(A, n, b, 1e-13, 4 * n, &r), *want = dense_solve(A, n, b);
  /* condition number 20 here: the error is about kappa * rtol */
  double err = hs_test_relerr(x, want, n, 0);
  cr_assert(err < 1e-11, "seed %llu: |x - x_dense| / |x_dense| = %g after %zu iterations (%s)",
            (unsigned long long)seed, err, r.iterations, hs_minres_stop_name(r.stop));
  cr_assert(r.iterations <= n + 5, "%zu iterations for n = %zu", r.iterations, n);
  /* the recurrence's residual estimate is the true residual */
  double *Ax = calloc(n, sizeof *Ax), rr = 0, bb = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) Ax[i] += A[i * n + j] * x[j];
    rr += (b[i] - Ax[i]) * (b[i] - Ax[i]);
    bb += b[i] * b[i];
  }
  cr_assert(sqrt(rr) <= 1e-12 * sqrt(bb), "true residual %g", sqrt(rr));
  free(A);
  free(b);
  free(x);
  free(want);
  free(Ax);
}

Test(minres, spd_equals_dense_solve) {
  double d[30];
  for (int i = 0; i < 30; i++) d[i] = 1 + i * (19.0 / 29);
  check_against_dense(d, 30, 3);
}

Test(minres, indefinite_equals_dense_solve) {
  double d[30];
  for (int i = 0; i < 30; i++) d[i] = i < 10 ? -1 - i : 1 + (i - 10) * 0.95;
  check_against_dense(d, 30, 7);
}

/* Singular and b outside the range: MINRES stops at a least-squares point (A^T r = 0) and
 * its iterates satisfy <A x, b> = ||A x||^2 >= 0 (Newton-MR's descent property). */
Test(minres, singular_system_gives_least_squares_point) {
  size_t n = 25;
  double d[25];
  for (size_t i = 0; i < n; i++) d[i] = i < 3 ? 0.0 : (i % 2 ? 1.0 : -1.0) * (1 + (double)i / 5);
  double *A = sf_matrix_with_eigs(n, d, 11), *b = hs_test_vec(n, 12);
  hs_minres_result r;
  double *x = solve(A, n, b, 1e-12, 200, &r);
  cr_assert(r.stop == HS_MINRES_LSQ || r.stop == HS_MINRES_INVARIANT, "stop: %s", hs_minres_stop_name(r.stop));
  double *res = malloc(n * sizeof *res), Axb = 0, AxAx = 0, Ar = 0, Anorm = 0;
  for (size_t i = 0; i < n; i++) {
    double ax = 0;
    for (size_t j = 0; j < n; j++) ax += A[i * n + j] * x[j];
    res[i] = b[i] - ax;
    Axb += ax * b[i];
    AxAx += ax * ax;
  }
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (size_t j = 0; j < n; j++) s += A[i * n + j] * res[j];
    Ar += s * s;
    Anorm = fmax(Anorm, fabs(d[i]));
  }
  cr_assert(sqrt(Ar) < 1e-10 * Anorm * sqrt(hs_test_dot(res, res, n)), "||A r|| = %g (estimate %g), %zu iterations, %s", sqrt(Ar), r.arnorm,
            r.iterations, hs_minres_stop_name(r.stop));
  cr_assert(Axb > 0 && fabs(Axb - AxAx) < 1e-10 * AxAx, "<Ax, b> = %g, ||Ax||^2 = %g", Axb, AxAx);
  /* the residual left is b's component in the null space (3 dimensions), not zero */
  cr_assert(sqrt(hs_test_dot(res, res, n)) > 1e-3);
  free(A);
  free(b);
  free(x);
  free(res);
}

Test(minres, zero_rhs_and_bad_options) {
  double d[4] = {1, 2, 3, 4};
  double *A = sf_matrix_with_eigs(4, d, 1), b[4] = {0, 0, 0, 0};
  hs_minres_result r;
  double *x = solve(A, 4, b, 1e-10, 10, &r);
  cr_assert(r.iterations == 0 && x[0] == 0 && x[3] == 0);
  free(x);
  hs_linop *op;
  cr_assert_eq(hs_linop_matrix(ctx, 4, A, 1e-12, &op), HS_OK);
  hs_minres_options o = {.max_iter = 0, .rtol = 1e-8};
  cr_assert_eq(hs_minres(op, NULL, NULL, &o, &r), HS_E_INVALID);
  hs_linop_destroy(op);
  free(A);
}
