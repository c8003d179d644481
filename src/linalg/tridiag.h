/* Symmetric tridiagonal eigenproblems on the host, in double (LAPACK dstev). */
#ifndef HS_TRIDIAG_H
#define HS_TRIDIAG_H

#include <stddef.h>

#include "core/context.h"

/* T = tridiag(beta, alpha, beta), m x m: alpha (m) the diagonal, beta (m - 1) the
 * off-diagonal. theta (m) receives the eigenvalues ascending. When Z is non-NULL it
 * receives the eigenvectors, row-major (m, m): row i is the unit eigenvector of theta[i]
 * (so Z[i*m + 0] is its first component). ctx may be NULL (no message kept). */
hs_status hs_tridiag_eig(hs_context *ctx, size_t m, const double *alpha, const double *beta,
                         double *theta, double *Z);

/* Gauss quadrature of a Lanczos tridiagonal: nodes (m) = eigenvalues of T, weights (m) =
 * squared first components of its unit eigenvectors (they sum to 1). */
hs_status hs_tridiag_quadrature(hs_context *ctx, size_t m, const double *alpha,
                                const double *beta, double *nodes, double *weights);

#endif
