/* The global minimum of a deep linear network's mse loss, in closed form (docs/experiments.md).
 *
 * A network whose activations are all the identity computes f(x) = M x + b with M the product
 * of its weight matrices. Its reachable maps are exactly the (out x in) matrices of rank at
 * most r = min(in, out, every hidden width) (a residual block I + W reaches every square
 * matrix, so skips do not change this), and b is free when the last layer has a bias (0 when
 * no layer has one). So the minimum over the network equals
 *     min_{rank M <= r, b} (1/N) sum_i 0.5 ||M x_i + b - y_i||^2      (the loss of DESIGN.md)
 * and no local minimum of the network is worse (Kawaguchi 2016; Baldi & Hornik 1989):
 *  - with a bias, b = ybar - M xbar and the problem moves to centred data Xc, Yc;
 *  - least squares: B = argmin ||Xc B - Yc||_F (LAPACK dgelsd, SVD-based, minimum norm where
 *    Xc is rank deficient: the fitted values Yhat = Xc B are unique either way);
 *  - reduced rank (r < min(in, out)): by Eckart-Young the best rank-r matrix in col(Xc) closest
 *    to Yhat is Yhat V_r V_r^T (V_r: top-r right singular vectors of Yhat, dgesvd), because
 *    ||Yc - Xc C||^2 = ||Yc - Yhat||^2 + ||Yhat - Xc C||^2; so M^T = B V_r V_r^T.
 * All in double precision on the host, whatever the model's dtype.
 */
#ifndef HS_ANALYSIS_OPTIMUM_H
#define HS_ANALYSIS_OPTIMUM_H

#include <stddef.h>

#include "hesspec.h"

typedef struct {
  double loss;           /* the optimum, (1/N) sum 0.5 ||f(x_i) - y_i||^2 */
  double ls_loss;        /* the unconstrained least-squares loss (= loss unless reduced) */
  size_t rank;           /* the rank bound r = min(in, out, hidden widths) */
  size_t map_rank;       /* numerical rank of the optimal M (singular values > 1e-12 max) */
  int reduced;           /* r < min(in, out): the reduced-rank solution */
  int bias;              /* b is free (the last layer has a bias) */
  const char *method;    /* "least_squares" or "reduced_rank" */
  int in, out;
  double *M;             /* (out, in) row-major */
  double *b;             /* (out) */
} hs_optimum;

/* HS_OK when the spec is a linear-activation mse network this solves; else HS_E_INVALID with
 * the reason (activation, batch norm, loss, weight decay, a layer kind, biases on an inner
 * layer but not the last). */
hs_status hs_optimum_check(hs_context *ctx, const hs_model_spec *s);
/* The optimum over the data d (targets (n, out)) for spec s. Caller frees *out. */
hs_status hs_optimum_solve(hs_context *ctx, const hs_model_spec *s, const hs_dataset *d, hs_optimum **out);
/* theta (P) of model m (of the checked spec) whose network computes exactly M x + b:
 * M = U S V^T split as W_first = S^1/2 V^T, W_head = U S^1/2 (first k = min(r, in, out)
 * rows/columns, zero padded), inner layers identity on the first k units (zero for residual
 * blocks, whose skip is the identity), every bias zero but the head's (= b). */
hs_status hs_optimum_factorise(hs_model *m, const hs_optimum *o, double *theta);
void hs_optimum_free(hs_optimum *o);

#endif
