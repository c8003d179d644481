#include "core/alloc.h"
#include "linalg/tridiag.h"

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

hs_status hs_tridiag_eig(hs_context *ctx, size_t m, const double *alpha, const double *beta,
                         double *theta, double *Z) {
  if (m == 0) return HS_OK;
  hs_status st = HS_OK;
  double *e = hs_malloc(m * sizeof *e);
  if (!e) {
    st = hs_fail(ctx, HS_E_NOMEM, "tridiagonal eigenproblem: out of host memory (m = %zu)", m);
    goto cleanup;
  }
  memcpy(theta, alpha, m * sizeof *theta);
  if (m > 1) memcpy(e, beta, (m - 1) * sizeof *e);
  /* Column-major with ldz = m: column i (eigenvector i) is row i of a row-major Z. */
  lapack_int info = LAPACKE_dstev(LAPACK_COL_MAJOR, Z ? 'V' : 'N', (lapack_int)m, theta, e, Z,
                                  (lapack_int)m);
  if (info != 0) {
    st = hs_fail(ctx, info < 0 ? HS_E_INTERNAL : HS_E_NUMERIC,
                 "tridiagonal eigenproblem (LAPACK dstev, m = %zu) failed: info = %d", m, (int)info);
    goto cleanup;
  }
cleanup:
  free(e);
  return st;
}

hs_status hs_tridiag_quadrature(hs_context *ctx, size_t m, const double *alpha,
                                const double *beta, double *nodes, double *weights) {
  double *Z = hs_malloc(m * m * sizeof *Z + 1);
  if (!Z) return hs_fail(ctx, HS_E_NOMEM, "quadrature: out of host memory (m = %zu)", m);
  hs_status st = hs_tridiag_eig(ctx, m, alpha, beta, nodes, Z);
  if (st == HS_OK)
    for (size_t i = 0; i < m; i++) weights[i] = Z[i * m] * Z[i * m];
  free(Z);
  return st;
}
