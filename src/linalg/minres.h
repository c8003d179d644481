/* MINRES (Paige & Saunders 1975) for A x = b with A symmetric, possibly indefinite or
 * singular: x_k minimises ||b - A x|| over the Krylov space K_k(A, b). No preconditioner,
 * no shift; the recurrence follows Paige & Saunders' MINRES as in SciPy's minres (and the
 * stopping tests of Choi, Paige & Saunders 2011 for singular systems).
 *
 * Vectors are device arrays of the operator's dtype (one direction per product); scalars are
 * double on the host. The iterates have the property Newton-MR relies on (Roosta, Liu, Xu &
 * Mahoney 2022): x_k minimises ||b - A x|| over a space containing x_k's multiples, so
 * <A x_k, b - A x_k> = 0 and <A x_k, b> = ||A x_k||^2 >= 0; for b = -g that is <H d, g> <= 0:
 * d descends on 0.5 ||g||^2, whose gradient is H g. */
#ifndef HS_MINRES_H
#define HS_MINRES_H

#include <stddef.h>

#include "linalg/linop.h"

typedef enum {
  HS_MINRES_RTOL = 0,   /* ||b - A x|| <= rtol ||b|| (or <= atol) */
  HS_MINRES_LSQ,        /* ||A r|| <= rtol ||A|| ||r||: a least-squares solution (b not in range(A)) */
  HS_MINRES_INVARIANT,  /* the Krylov space became invariant (beta = 0): x is the solution in it */
  HS_MINRES_ARTOL,      /* ||A r|| <= artol */
  HS_MINRES_MAXIT       /* max_iter reached */
} hs_minres_stop;

typedef struct {
  size_t max_iter; /* >= 1 */
  double rtol;     /* relative residual; > 0 */
  double atol;     /* absolute residual norm that also stops (0: none) */
  double artol;    /* stop when ||A r|| <= artol (absolute; 0: none): Newton-MR's inexactness test */
} hs_minres_options;

typedef struct {
  size_t iterations;  /* = operator products */
  double resnorm;     /* ||b - A x|| (the recurrence's estimate) */
  double arnorm;      /* ||A (b - A x)|| (estimate) */
  double anorm;       /* Frobenius-norm estimate of A on the Krylov space */
  double xnorm;
  hs_minres_stop stop;
} hs_minres_result;

/* x (device, n) = the MINRES iterate; x is overwritten (the start is 0). b may not alias x.
 * b = 0 gives x = 0 with zero iterations. Non-finite scalars are HS_E_NUMERIC. */
hs_status hs_minres(hs_linop *A, const void *b, void *x, const hs_minres_options *opt, hs_minres_result *res);

const char *hs_minres_stop_name(hs_minres_stop s);

#endif
