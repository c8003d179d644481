/* Loss landscapes: the loss (and, for classifiers, the accuracy) on a 1D or 2D grid of
 * points theta0 + alpha d1 (+ beta d2) around a parameter vector (docs/experiments.md).
 *
 * Directions (each a P-vector in the parameter order of DESIGN.md):
 *  - random: Gaussian, filter-normalised as in Li et al. 2018 ("Visualizing the loss
 *    landscape of neural nets"): each row of a weight tensor (an output unit of a linear
 *    layer, a filter of a conv layer) is rescaled to the norm of the same row of theta0.
 *    One-dimensional tensors (biases, batch-norm weight and bias) are set to zero, as Li et
 *    al. do for their plots (their `--xignore biasbn`): a bias direction has no row norm to
 *    match, and moving BN's affine parameters mixes in a rescaling the filter norm removes.
 *  - eig: the unit eigenvectors of the top 1 (1D) or top 2 (2D) Hessian eigenvalues.
 *  - interpolate: d1 = theta2 - theta0 (alpha = 0 at theta0, 1 at theta2).
 *  - files: vectors given by the user, used as they are.
 *
 * The grid points are evaluated one after another, not in blocks: a point is one forward pass
 * over the bound data at its own parameters, and the engine holds one parameter vector, so
 * k points at once would need k weight sets in every GEMM (a strided-batched GEMM over points
 * in every layer unit). The HVP's block trick does not apply: it widens GEMMs over directions
 * at ONE parameter point. The cost is (points) x (one loss evaluation); docs/experiments.md.
 */
#ifndef HS_ANALYSIS_LANDSCAPE_H
#define HS_ANALYSIS_LANDSCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

/* d (P) <- Gaussian direction j (counter-based stream, identical on every backend), then
 * filter-normalised against theta (hs_ls_filter_normalize). */
/* ||d||_2 of a direction (P), for the file's "norms". */
double hs_ls_norm(const double *d, size_t n);
void hs_ls_random_direction(const hs_model *m, const double *theta /* P */, uint64_t seed, size_t j,
                            double *d /* P */);
/* In place: every row of every weight tensor (ndim >= 2) of d rescaled to the norm of the same
 * row of theta (a zero row of d stays zero); every one-dimensional tensor set to zero. */
void hs_ls_filter_normalize(const hs_model *m, const double *theta /* P */, double *d /* P */);
/* D (k, P): the unit eigenvectors of the k (1 or 2) largest Hessian eigenvalues at the model's
 * current parameters over its bound data, row 0 for the largest; values (k) the eigenvalues,
 * largest first. Each vector's sign is fixed so that its largest-magnitude entry is positive.
 * HS_E_NUMERIC when Lanczos does not converge to tol (<= 0: the eig default). */
hs_status hs_ls_eig_directions(hs_model *m, size_t k, uint64_t seed, double tol, double *D, double *values);

typedef struct {
  int dims;       /* 1 or 2 */
  double a0, a1;  /* alpha from a0 to a1 */
  double b0, b1;  /* beta (2D) */
  size_t na, nb;  /* points per axis, >= 2 (nb ignored in 1D) */
} hs_ls_grid;

typedef struct {
  int dims;
  size_t na, nb;     /* nb = 1 in 1D */
  double *alpha;     /* (na) */
  double *beta;      /* (nb); NULL in 1D */
  double *loss;      /* (na, nb) row-major: loss[i*nb + j] at alpha[i], beta[j] */
  double *accuracy;  /* (na, nb) like loss; NULL unless the loss is cross entropy */
  double seconds;    /* evaluation wall time */
} hs_ls_result;

/* Evaluates the grid around theta0 (P) along d1 (and d2 in 2D) on the model's bound data,
 * each point exactly as hs_model_loss_grad / hs_model_accuracy would give it there (same
 * batches, same batch-norm mode, weight decay included); the model's parameters are theta0
 * again afterwards. Progress: hook "landscape", one unit per point. Caller frees *out. */
hs_status hs_ls_evaluate(hs_model *m, const double *theta0, const double *d1, const double *d2,
                         const hs_ls_grid *g, hs_ls_result **out);
void hs_ls_free(hs_ls_result *r);

#endif
