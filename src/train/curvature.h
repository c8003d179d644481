/* Curvature along training (`hesspec train --curvature-every N`): after every N-th optimiser
 * step, after the last step of every epoch (so rows line up with the epoch checkpoints) and
 * once before the first step, the Hessian of the loss on the first `samples` training samples
 * (file order, one batch, the model's own batch-norm mode: exactly what `hesspec eig
 * --samples S` sees at that checkpoint) gives
 *   lambda_max    Lanczos top eigenvalue, warm-started from the previous top eigenvector
 *                 (edge of stability: compare with 2 / lr, Cohen et al. 2021);
 *   lambda_min    Lanczos bottom eigenvalue, warm-started likewise;
 *   grad_overlap  ||P_k g||^2 / ||g||^2, P_k the projector on the top-k eigenvectors and g the
 *                 gradient on the same samples (Gur-Ari, Roberts & Dyer 2018: gradient
 *                 descent happens in a tiny subspace);
 * written as CSV rows step,epoch,lambda_max,lambda_min,grad_overlap,seconds. */
#ifndef HS_TRAIN_CURVATURE_H
#define HS_TRAIN_CURVATURE_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

typedef struct {
  size_t every;     /* steps between measurements, >= 1 */
  size_t samples;   /* the first samples of the training data, 1..N */
  size_t overlap_k; /* top-k eigenspace of the overlap, 1..P */
  double tol;       /* Lanczos relative residual; <= 0: the eig default (1e-9 in f64) */
  uint64_t seed;    /* Rademacher start of the first measurement and of the top-k runs */
  const char *path; /* the CSV, rewritten atomically after every measurement */
} hs_curvature_options;

typedef struct hs_curvature_tracker hs_curvature_tracker;

/* One measurement (one CSV row); NaN where a Lanczos pair did not converge. */
typedef struct {
  uint64_t step;
  size_t epoch;
  double lambda_max, lambda_min, grad_overlap, seconds;
} hs_curvature_row;

/* train: the training data (borrowed only here: the subset is copied). */
hs_status hs_curvature_create(hs_model *m, const hs_dataset *train, const hs_curvature_options *o,
                              hs_curvature_tracker **out);
void hs_curvature_destroy(hs_curvature_tracker *c);
/* After a resume: carries over the rows of an earlier run's CSV at `path` with step <= upto
 * (the resumed run's steps), so the file continues instead of restarting. A missing file is
 * no error; a malformed row is HS_E_INVALID naming the file and line. */
hs_status hs_curvature_preload(hs_curvature_tracker *c, const char *path, uint64_t upto);
/* The trainer's step hook (hs_train_step_hook) with user = the tracker. */
hs_status hs_curvature_step(void *user, hs_model *m, uint64_t step, size_t epoch, int last, int *rebound);
/* Measurements taken and their seconds; the wall time since creation without them. */
size_t hs_curvature_count(const hs_curvature_tracker *c);
/* The measurements in order (hs_curvature_count of them; preloaded rows first); borrowed, valid
 * until the next measurement or hs_curvature_destroy. */
const hs_curvature_row *hs_curvature_rows(const hs_curvature_tracker *c);
double hs_curvature_seconds(const hs_curvature_tracker *c);
double hs_curvature_other_seconds(const hs_curvature_tracker *c);

#endif
