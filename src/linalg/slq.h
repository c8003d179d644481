/* Stochastic Lanczos quadrature: spectral density of a symmetric operator.
 *
 * Each of K Rademacher probes v_p gives, after m Lanczos steps, a Gauss quadrature rule
 * (nodes theta_pi = Ritz values, weights w_pi = squared first components of T's
 * eigenvectors, summing to 1) with sum_i w_pi f(theta_pi) ~ v_p^T f(A) v_p / n. The density
 *     phi(x) = (1/K) sum_p sum_i w_pi N(x; theta_pi, sigma^2)
 * integrates to 1; sigma is a STANDARD DEVIATION. Defaults and the rules for sigma, grid and
 * the negative-mass tolerance: docs/spectra.md.
 */
#ifndef HS_SLQ_H
#define HS_SLQ_H

#include <stddef.h>
#include <stdint.h>

#include "linalg/lanczos.h"
#include "linalg/linop.h"

#define HS_SLQ_DEFAULT_STEPS 80
#define HS_SLQ_DEFAULT_PROBES 10
#define HS_SLQ_MIN_GRID 1001
#define HS_SLQ_MAX_GRID 100001

typedef struct {
  size_t steps;         /* Lanczos steps per probe, 1..n; 0 = min(80, n) */
  size_t probes;        /* >= 1 */
  uint64_t seed;
  double sigma;         /* kernel standard deviation > 0; 0 = auto (range / 200) */
  size_t grid_points;   /* >= 2; 0 = auto */
  double grid_lo, grid_hi; /* both 0 = auto (extreme nodes -/+ 5 sigma) */
  double neg_tol;       /* mass below -neg_tol counts as negative; < 0 = auto (1e-4 * max|lambda|) */
  double breakdown_tol; /* <= 0 = the dtype default of hs_lanczos_default_tol */
  hs_reorth reorth;     /* HS_REORTH_FULL (default) or HS_REORTH_PARTIAL */
  /* Probe parallel (docs/mpi.md): with parts > 1 only probes p = part, part + parts, ... run
   * (the same vectors as in a whole run: probe p is keyed by its index) and the result holds
   * just their rules, in that order, with no summary; the caller gathers every part's rules
   * into one result of all the probes, in probe order, and calls hs_slq_summarise.
   * parts 0 or 1: all probes. Needs probes >= parts. */
  size_t part, parts;
} hs_slq_options;

hs_slq_options hs_slq_defaults(void);

typedef struct {
  size_t n, probes, steps; /* steps asked per probe */
  uint64_t seed;
  double breakdown_tol;
  size_t *count;           /* (probes): nodes of probe p (< steps when it terminated early) */
  double *nodes, *weights; /* (probes, steps): probe p's rule is its first count[p] entries */
  double sigma;
  size_t grid_n;
  double *grid, *density, *density_se; /* (grid_n); se: standard error across probes */
  double integral;         /* trapezoid integral of density over the grid (about 1) */
  double lambda_min, lambda_max; /* extreme nodes over all probes */
  double trace, trace_se;  /* n * sum w theta = v^T A v per probe (Hutchinson), mean and s.e. */
  double neg_tol, neg_frac, neg_frac_se;
  double neg_frac_lo, neg_frac_hi; /* Chebyshev-Markov-Stieltjes bounds, averaged over probes */
  size_t early;            /* probes whose Krylov space became invariant before `steps` */
  double t_apply, t_reorth, t_host, t_total; /* seconds */
  size_t applies;          /* operator-vector products */
  size_t reorth_passes;    /* Gram-Schmidt passes over the stored basis */
  hs_reorth reorth;
} hs_slq_result;

/* Runs SLQ on op. Bad options are HS_E_INVALID naming them. Caller frees with hs_slq_free. */
hs_status hs_slq_run(hs_linop *op, const hs_slq_options *opt, hs_slq_result **out);
void hs_slq_free(hs_slq_result *r);
/* From r's probes, steps, n, count, nodes and weights: the extreme nodes, trace, negative
 * mass, sigma, grid, density and integral, as hs_slq_run computes them (opt: the sigma, grid
 * and negative-tolerance options). */
hs_status hs_slq_summarise(hs_context *ctx, const hs_slq_options *opt, hs_slq_result *r);

/* The density of the block-diagonal operator diag(A_1, ..., A_B) from SLQ runs on its
 * blocks (same probe count): probe p's rule is the union of the blocks' rules for probe p,
 * block b's weights scaled by n_b / n, so the weights still sum to 1 and the trace per probe
 * is the sum of the blocks'. Summary, sigma and grid follow opt as in hs_slq_run (over the
 * union's nodes); steps is the sum of the blocks' steps (the rule's stride). */
hs_status hs_slq_combine(hs_context *ctx, size_t nb, const hs_slq_result *const *parts,
                         const hs_slq_options *opt, hs_slq_result **out);

/* ---- the smoothing step alone (also used to re-plot a density file) ---- */

/* sigma rule from the node range: (hi - lo) / 200; when hi == lo: 1e-3 * max(|lo|, |hi|), or
 * 1e-3 when both are zero. */
double hs_slq_auto_sigma(double lo, double hi);
/* Grid points for [lo, hi] at kernel width sigma: ceil(4 (hi - lo) / sigma) + 1 clamped to
 * [HS_SLQ_MIN_GRID, HS_SLQ_MAX_GRID] (spacing <= sigma / 4 unless clamped at the top). */
size_t hs_slq_auto_grid(double lo, double hi, double sigma);
/* density[g] and its standard error (se may be NULL) at grid[g] for K probes whose rules are
 * the first count[p] entries of nodes/weights + p*stride. */
void hs_slq_smooth(size_t probes, const size_t *count, size_t stride, const double *nodes,
                   const double *weights, double sigma, size_t g, const double *grid,
                   double *density, double *se);

#endif
