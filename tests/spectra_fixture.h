/* Shared by the spectral suites (header-only): random symmetric matrices with chosen
 * eigenvalues, random-matrix ensembles, host moments and CDF helpers. */
#ifndef HS_SPECTRA_FIXTURE_H
#define HS_SPECTRA_FIXTURE_H

#include <cblas.h>
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/rng.h"
#include "linalg/linop.h"
#include "support/hs_test.h"

/* A = Q diag(d) Q^T with Q orthogonal (QR of a Gaussian matrix); n x n row-major, caller frees. */
static double *sf_matrix_with_eigs(size_t n, const double *d, uint64_t seed) {
  double *G = malloc(n * n * sizeof *G), *tau = malloc(n * sizeof *tau);
  double *A = calloc(n * n, sizeof *A), *QD = malloc(n * n * sizeof *QD);
  cr_assert(G && tau && A && QD);
  hs_rng_normals(seed, HS_STREAM_TEST, 0, n * n, G);
  cr_assert_eq(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)n, (int)n, G, (int)n, tau), 0);
  cr_assert_eq(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)n, (int)n, (int)n, G, (int)n, tau), 0);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) QD[i * n + j] = G[i * n + j] * d[j];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, QD, (int)n, G,
              (int)n, 0.0, A, (int)n);
  for (size_t i = 0; i < n; i++) /* exact symmetry */
    for (size_t j = i + 1; j < n; j++) A[i * n + j] = A[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
  free(G);
  free(tau);
  free(QD);
  return A;
}

/* GOE: off-diagonal N(0, 1/n), diagonal N(0, 2/n); spectrum -> semicircle on [-2, 2]. */
static double *sf_wigner(size_t n, uint64_t seed) {
  double *A = malloc(n * n * sizeof *A);
  cr_assert(A);
  double s = 1.0 / sqrt((double)n);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i; j < n; j++) {
      double g = hs_rng_normal(seed, HS_STREAM_TEST, i * n + j) * s;
      if (i == j) g *= sqrt(2.0);
      A[i * n + j] = A[j * n + i] = g;
    }
  return A;
}

/* Wishart W = X^T X / N, X (N x n) standard normal; spectrum -> Marchenko-Pastur, c = n/N. */
static double *sf_wishart(size_t n, size_t N, uint64_t seed) {
  double *X = malloc(N * n * sizeof *X), *W = malloc(n * n * sizeof *W);
  cr_assert(X && W);
  hs_rng_normals(seed, HS_STREAM_TEST, 0, N * n, X);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)N, 1.0 / (double)N, X,
              (int)n, X, (int)n, 0.0, W, (int)n);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) W[i * n + j] = W[j * n + i] = 0.5 * (W[i * n + j] + W[j * n + i]);
  free(X);
  return W;
}

/* Eigenvalues (ascending) of a symmetric host matrix (copied). */
static double *sf_eigvals(size_t n, const double *A) {
  double *B = malloc(n * n * sizeof *B), *w = malloc(n * sizeof *w);
  cr_assert(B && w);
  memcpy(B, A, n * n * sizeof *B);
  cr_assert_eq(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (int)n, B, (int)n, w), 0);
  free(B);
  return w;
}

static hs_linop *sf_linop(hs_context *ctx, size_t n, const double *A) {
  hs_linop *op = NULL;
  hs_status st = hs_linop_matrix(ctx, n, A, 1e-12, &op);
  cr_assert_eq(st, HS_OK, "hs_linop_matrix: %s", hs_last_error(ctx));
  return op;
}

/* Semicircle CDF on [-2, 2]. */
static double sf_semicircle_cdf(double x) {
  if (x <= -2) return 0;
  if (x >= 2) return 1;
  return 0.5 + (x * sqrt(4 - x * x) / 2 + 2 * asin(x / 2)) / (2 * M_PI);
}

/* Marchenko-Pastur CDF (ratio c < 1, unit variance) by Simpson's rule on the density. */
static double sf_mp_cdf(double c, double x) {
  double a = (1 - sqrt(c)) * (1 - sqrt(c)), b = (1 + sqrt(c)) * (1 + sqrt(c));
  if (x <= a) return 0;
  if (x >= b) x = b;
  /* substitute t = a + (b - a) sin^2(u) to remove the square-root endpoints */
  double umax = asin(sqrt((x - a) / (b - a)));
  int N = 2000;
  double h = umax / N, s = 0;
  for (int i = 0; i <= N; i++) {
    double u = i * h, t = a + (b - a) * sin(u) * sin(u);
    double dt = 2 * (b - a) * sin(u) * cos(u);
    double f = t > 0 ? sqrt(fmax((b - t) * (t - a), 0)) / (2 * M_PI * c * t) * dt : 0;
    s += f * (i == 0 || i == N ? 1 : (i % 2 ? 4 : 2));
  }
  return s * h / 3;
}

#endif
