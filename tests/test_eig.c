/* Eigenpairs: extremal by Lanczos vs LAPACK, residuals, eigenvectors, exact (dense assembly)
 * vs LAPACK, the size limit. Networks: test_spectra_network.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/eig.h"
#include "spectra_fixture.h"

static hs_eig_result *run_extremal(hs_context *ctx, hs_linop *op, hs_eig_which which, size_t K, int vec) {
  hs_eig_options o = {.which = which, .count = K, .seed = 5, .want_vectors = vec};
  hs_eig_result *r = NULL;
  cr_assert_eq(hs_eig_extremal(op, &o, &r), HS_OK, "%s", hs_last_error(ctx));
  return r;
}

Test(eig, top_and_bottom_match_lapack) {
  const size_t n = 500, K = 5;
  double *A = sf_wishart(n, 700, 4);
  /* outliers at both ends, like a Hessian's */
  for (size_t i = 0; i < 3; i++) A[(i * 7) * n + i * 7] += 10.0 + (double)i;
  for (size_t i = 0; i < 2; i++) A[(i * 11 + 1) * n + i * 11 + 1] -= 5.0 + (double)i;
  double *ev = sf_eigvals(n, A);
  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_linop *op = sf_linop(ctx, n, A);
  double scale = fmax(fabs(ev[0]), fabs(ev[n - 1]));
  for (int w = 0; w < 2; w++) {
    hs_eig_result *r = run_extremal(ctx, op, w ? HS_EIG_BOTTOM : HS_EIG_TOP, K, 1);
    cr_assert_eq(r->found, K, "%s: %zu of %zu converged", w ? "bottom" : "top", r->found, K);
    for (size_t i = 0; i < K; i++) {
      double ref = w ? ev[i] : ev[n - K + i];
      cr_assert(fabs(r->values[i] - ref) < 1e-8 * scale, "%s %zu: %.15g vs LAPACK %.15g", w ? "bottom" : "top", i,
                r->values[i], ref);
      cr_assert(r->residuals[i] <= r->tol * r->anorm);
      /* the returned vector is a unit eigenvector: ||A y - lambda y|| = residual */
      double *y = r->vectors + i * n, Ay[500];
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, A, (int)n, y, 1, 0.0, Ay, 1);
      cblas_daxpy((int)n, -r->values[i], y, 1, Ay, 1);
      cr_assert(fabs(cblas_dnrm2((int)n, y, 1) - 1) < 1e-10);
      cr_assert(fabs(cblas_dnrm2((int)n, Ay, 1) - r->residuals[i]) < 1e-10 * scale);
    }
    for (size_t i = 1; i < K; i++) cr_assert(r->values[i] >= r->values[i - 1], "not ascending");
    hs_eig_free(r);
  }
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(ev);
  free(A);
}

/* Few distinct eigenvalues: the chain breaks down early; the values found are exact. */
Test(eig, invariant_subspace) {
  const size_t n = 60;
  double d[60];
  for (size_t i = 0; i < n; i++) d[i] = (double)(i % 3) - 1.0;
  double *A = sf_matrix_with_eigs(n, d, 2);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_eig_result *r = run_extremal(ctx, op, HS_EIG_TOP, 2, 0);
  cr_assert_eq(r->steps, 3);
  cr_assert_eq(r->found, 2);
  cr_assert(fabs(r->values[0]) < 1e-12 && fabs(r->values[1] - 1) < 1e-12);
  hs_eig_free(r);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}

Test(eig, exact_matches_lapack) {
  const size_t n = 150;
  double *A = sf_wigner(n, 31), *ev = sf_eigvals(n, A);
  for (int dt = 0; dt < 2; dt++) {
    hs_context *ctx = hs_test_ctx(dt ? HS_F32 : HS_F64, 2);
    hs_linop *op = sf_linop(ctx, n, A);
    hs_eig_result *r = NULL;
    cr_assert_eq(hs_eig_exact(op, 0, 1, &r), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(r->found, n);
    double tol = dt ? 1e-5 : 1e-12;
    for (size_t i = 0; i < n; i++) cr_assert(fabs(r->values[i] - ev[i]) < tol * 4, "%zu: %g vs %g", i, r->values[i], ev[i]);
    cr_assert(r->asymmetry < tol);
    cr_assert_eq(r->applies, n);
    /* vectors: row i satisfies A y = lambda y */
    double Ay[150];
    for (size_t i = 0; i < n; i += 37) {
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, A, (int)n, r->vectors + i * n, 1, 0.0, Ay, 1);
      cblas_daxpy((int)n, -r->values[i], r->vectors + i * n, 1, Ay, 1);
      cr_assert(cblas_dnrm2((int)n, Ay, 1) < tol * 100, "vector %zu residual %g", i, cblas_dnrm2((int)n, Ay, 1));
    }
    hs_eig_free(r);
    hs_linop_destroy(op);
    hs_context_destroy(ctx);
  }
  free(ev);
  free(A);
}

Test(eig, bad_inputs) {
  const size_t n = 40;
  double *A = sf_wigner(n, 1);
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_linop *op = sf_linop(ctx, n, A);
  hs_eig_result *r = NULL;
  cr_assert_eq(hs_eig_exact(op, 39, 0, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--exact-limit"), "%s", hs_last_error(ctx));
  cr_assert_eq(hs_eig_exact(op, 40, 0, &r), HS_OK);
  hs_eig_free(r);
  r = NULL;
  hs_eig_options o = {.which = HS_EIG_TOP, .count = 0};
  cr_assert_eq(hs_eig_extremal(op, &o, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--top 0"), "%s", hs_last_error(ctx));
  o.which = HS_EIG_BOTTOM;
  o.count = 41;
  cr_assert_eq(hs_eig_extremal(op, &o, &r), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "--bottom 41"), "%s", hs_last_error(ctx));
  cr_assert(r == NULL);
  hs_linop_destroy(op);
  hs_context_destroy(ctx);
  free(A);
}
