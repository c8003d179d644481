/* Eigenpairs of a symmetric operator: extremal ones by Lanczos, all of them densely.
 *
 * Extremal: one Lanczos chain (full reorthogonalisation) from a Rademacher start vector,
 * extended until the K wanted Ritz pairs have residual estimates beta_j |s_ji| <= tol * ||A||
 * (||A|| estimated by the largest |Ritz value|). The Ritz vectors are then formed and their
 * residuals ||A y - theta y|| computed explicitly; only pairs whose explicit residual passes
 * are reported. A single chain finds one copy of a multiple eigenvalue (docs/spectra.md).
 *
 * Exact: the dense matrix is assembled from n/b block applications to unit vectors,
 * symmetrised on the host (the asymmetry is reported: for a Hessian it measures the HVP's
 * rounding), and handed to the backend's dense symmetric eigensolver.
 */
#ifndef HS_EIG_H
#define HS_EIG_H

#include <stddef.h>
#include <stdint.h>

#include "linalg/linop.h"

#define HS_EIG_EXACT_LIMIT 6000

typedef enum { HS_EIG_TOP = 0, HS_EIG_BOTTOM = 1 } hs_eig_which;

typedef struct {
  hs_eig_which which;
  size_t count;      /* K >= 1, <= n */
  double tol;        /* relative residual; <= 0: 1e-9 (f64) or 1e-4 (f32) */
  size_t max_steps;  /* Lanczos steps at most; 0 = min(n, max(300, 4K + 50)) */
  uint64_t seed;
  int want_vectors;
  const double *start; /* extremal: the start vector (host, n, nonzero; a warm start from an
                          earlier eigenvector); NULL: the Rademacher probe 0 of seed */
} hs_eig_options;

typedef struct {
  size_t n, requested, found; /* found <= requested: the converged pairs */
  double *values;    /* (found) ascending */
  double *residuals; /* (found) ||A y - theta y|| (explicit); NULL for exact */
  double *vectors;   /* (found, n) host, row i = unit eigenvector of values[i]; NULL unless asked */
  double tol, anorm; /* the tolerance used and the ||A|| estimate it is relative to */
  size_t steps;      /* Lanczos steps taken (exact: 0) */
  size_t applies;    /* operator-vector products */
  double asymmetry;  /* exact: max |A_ij - A_ji| / max |A_ij| before symmetrising */
  double t_apply, t_total;
} hs_eig_result;

hs_status hs_eig_extremal(hs_linop *op, const hs_eig_options *opt, hs_eig_result **out);
/* limit: largest n accepted (0 = HS_EIG_EXACT_LIMIT); above it HS_E_INVALID. */
hs_status hs_eig_exact(hs_linop *op, size_t limit, int want_vectors, hs_eig_result **out);
void hs_eig_free(hs_eig_result *r);

#endif
