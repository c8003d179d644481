/* Critical points by Newton-MR, and their index.
 *
 * Newton-MR (Roosta, Liu, Xu & Mahoney, "Newton-MR: Inexact Newton method with minimum
 * residual sub-problem solver", 2022; Liu & Roosta 2022) minimises f = 0.5 ||g(theta)||^2,
 * whose gradient is H g, so it converges to critical points of the loss of any index
 * (minima, saddles, maxima), not only to minima. Iteration k:
 *   d_k    = MINRES(H_k, -g_k)   (min ||H d + g|| over the Krylov space; H may be indefinite
 *                                 or singular: then a least-squares direction), stopped by
 *                                 the inexactness test ||H (H d + g)|| <= theta ||H g||
 *   alpha  = the first of 1, 1/2, 1/4, ... with
 *            ||g(theta + alpha d)||^2 <= ||g||^2 + 2 rho alpha <d, H g>   (Armijo on ||g||^2)
 *   theta += alpha d.
 * MINRES's iterates satisfy <H d, g> <= 0 (linalg/minres.h), so d descends on ||g||^2; when
 * rounding makes the slope non-negative the step falls back to d = -H g. On a quadratic loss
 * one step with an exact solve lands on the critical point.
 *
 * The index of a point is the fraction of negative Hessian eigenvalues: counted exactly from
 * the dense spectrum when P <= exact_limit, else SLQ's negative mass with its standard error. */
#ifndef HS_ANALYSIS_CRITICAL_H
#define HS_ANALYSIS_CRITICAL_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"
#include "linalg/slq.h"

typedef struct {
  double gtol;          /* stop when ||g|| <= gtol (absolute); > 0 */
  size_t max_iter;      /* Newton-MR iterations at most */
  size_t minres_max;    /* MINRES iterations per solve; 0: hs_newton_mr_minres_default(P) */
  double minres_rtol;   /* relative residual of H d = -g; <= 0: 1e-10 */
  double theta;         /* inexactness in [0, 1): ||H r|| <= theta ||H g|| stops MINRES (1e-2) */
  double armijo;        /* rho in (0, 1/2); <= 0: 1e-4 */
  size_t max_backtracks; /* halvings of alpha; 0: 60 */
} hs_newton_mr_options;

hs_newton_mr_options hs_newton_mr_defaults(void);
/* MINRES iterations per solve by default: min(1000, max(100, 4P)). Without
 * reorthogonalisation MINRES loses orthogonality on ill-conditioned Hessians and needs
 * several times P iterations to reach a small residual (measured: about 140 for P = 38). */
size_t hs_newton_mr_minres_default(size_t P);

typedef struct {
  double loss, grad_norm, grad_norm0;
  size_t iterations;        /* Newton-MR steps taken */
  size_t minres_iterations; /* all solves */
  size_t hvps, gradients;   /* operator products, loss-gradient passes */
  size_t fallbacks;         /* steps along -H g (non-descending MINRES direction) */
  int converged;            /* grad_norm <= gtol */
  const char *stop;         /* why it stopped (static text) */
  double *history;          /* (iterations + 1) ||g|| after each step, owned */
  double seconds;
} hs_newton_mr_result;

/* Runs Newton-MR from the model's current parameters (data bound), leaving the model at the
 * last accepted point. The caller frees r->history (hs_newton_mr_free). */
hs_status hs_newton_mr(hs_model *m, const hs_newton_mr_options *opt, hs_newton_mr_result *r);
void hs_newton_mr_free(hs_newton_mr_result *r);

typedef struct {
  int exact;          /* 1: dense spectrum; 0: SLQ */
  double index;       /* fraction of eigenvalues below -neg_tol */
  double index_se;    /* SLQ: standard error across probes; exact: 0 */
  size_t negative;    /* exact: the count */
  size_t params;
  double neg_tol;     /* absolute */
  double lambda_min, lambda_max;
} hs_index_result;

/* Exact when P <= exact_limit: eigenvalues below -tol_rel * max|lambda| are negative
 * (tol_rel <= 0: 1e-9 in f64, 1e-4 in f32, well above the assembled matrix's rounding and
 * below any curvature worth the name). Otherwise SLQ with slq's options (negative mass below
 * its neg_tol, default 1e-4 max|lambda|). */
hs_status hs_critical_index(hs_model *m, size_t exact_limit, double tol_rel, const hs_slq_options *slq,
                            hs_index_result *out);

/* Start s: every parameter tensor t gets theta_t + noise * ||theta_t|| / sqrt(n_t) * z_t, z_t
 * standard normal from (seed, s, t): a perturbation of relative size about `noise` per tensor
 * (a zero tensor stays zero). noise = 0 leaves the parameters alone. */
hs_status hs_critical_perturb(hs_model *m, uint64_t seed, size_t start, double noise);

/* The fit alpha = alpha0 |1 - eps/eps_c|^{3/2} (Pennington & Bahri 2017) to n points (eps_i
 * = loss, alpha_i = index) by least squares: alpha0 in closed form for each eps_c, eps_c by a
 * log-spaced scan over (0, 4 max eps] refined by golden section. Needs n >= 2 and two
 * distinct losses (else returns 0 and leaves the outputs); returns 1 on success. */
int hs_critical_fit(size_t n, const double *eps, const double *alpha, double *alpha0, double *eps_c,
                    double *rms);

#endif
