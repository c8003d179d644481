/* Lanczos with full reorthogonalisation, k independent start vectors in lockstep.
 *
 * Each probe p runs its own Krylov recurrence; the k current vectors form one (k, n) block,
 * so the operator is applied once per step to all probes (a block HVP for a model). The
 * basis is kept on the device as (max_steps + 1) slots of (k, n): slot j holds q_j of every
 * probe, and probe p's basis is the strided (j + 1, n) matrix at slot 0 + p*n with row
 * stride k*n, so reorthogonalisation is two gemv per pass against it.
 *
 * Step j of an active probe:  w = A q_j - beta_{j-1} q_{j-1} - alpha_j q_j (alpha_j = q_j.w);
 * then classical Gram-Schmidt against q_0..q_j (h = Q w, w -= Q^T h, two gemv), repeated once
 * when it cancels more than 1/sqrt(2) of the norm (Kahan-Parlett: twice is enough); alpha_j
 * gains the q_j coefficients; beta_j = ||w||;  q_{j+1} = w / beta_j.  If beta_j < tol * (running estimate of ||A||) the
 * Krylov space of that probe is invariant: the probe stops after j + 1 steps and its
 * tridiagonal is exact (its quadrature reproduces v^T f(A) v for every polynomial f).
 * Stopped probes keep a zero vector in later slots (applying A to it costs nothing extra
 * per call and keeps the block shape fixed, so results do not depend on who stopped).
 *
 * All scalars are double on the host; the order of every operation is fixed, so results
 * are the same for any thread count (given a backend with fixed-order reductions).
 */
#ifndef HS_LANCZOS_H
#define HS_LANCZOS_H

#include <stddef.h>
#include <stdint.h>

#include "linalg/linop.h"

/* Reorthogonalisation against the stored basis. FULL (the default) at every step; PARTIAL
 * (Simon 1984, as in PROPACK) only when Simon's recurrence estimates that some |q_i . q_j|
 * exceeds sqrt(eps) (then for two consecutive vectors): semi-orthogonality, which keeps the
 * tridiagonal's eigenvalues (and so the quadrature nodes) accurate to about eps ||A||, at a
 * fraction of the basis traffic. */
typedef enum { HS_REORTH_FULL = 0, HS_REORTH_PARTIAL = 1 } hs_reorth;

typedef struct {
  size_t probes;         /* k >= 1 */
  size_t max_steps;      /* 1 <= m <= n: basis slots allocated up front */
  double breakdown_tol;  /* relative; <= 0: default for the dtype (hs_lanczos_default_tol) */
  hs_reorth reorth;
} hs_lanczos_options;

typedef struct hs_lanczos {
  hs_linop *op; /* borrowed */
  hs_context *ctx;
  size_t n, k, max_steps;
  double tol;
  hs_reorth reorth;
  double *omega;    /* (k, 2, max_steps + 2), PARTIAL: Simon's estimates of q_j.q_i and q_{j-1}.q_i */
  int *force;       /* (k), PARTIAL: reorthogonalise the next vector too */
  size_t *steps;    /* (k): steps completed per probe (= length of its alpha) */
  int *stopped;     /* (k): 1 once the probe broke down (invariant subspace found) */
  double *alpha;    /* (k, max_steps): T's diagonal */
  double *beta;     /* (k, max_steps): beta[p][j] couples q_j and q_{j+1}; the last one
                       computed is the norm of the final residual */
  double *anorm;    /* (k): running estimate of ||A|| (max over steps of |a| + b + b_prev) */
  size_t done;      /* steps taken by the lockstep loop (max over probes of steps) */
  void *basis;      /* device: (max_steps + 1, k, n) */
  void *h1, *h2;    /* device: (k, max_steps + 1) Gram-Schmidt coefficients */
  void *one;        /* device: one element, 1.0 (h[j] is fetched as its dot with it) */
  struct hs_lanczos_step *step; /* host workspace of one lockstep step, sized for k probes */
  /* accounting, seconds of wall time (the device synchronised at each boundary) */
  double t_apply, t_reorth, t_host;
  size_t applies;   /* operator applications counted per vector */
  size_t passes;    /* Gram-Schmidt passes against the stored basis, all probes and steps */
} hs_lanczos;

/* The default relative breakdown tolerance: 1e-10 in f64, 1e-5 in f32. */
double hs_lanczos_default_tol(hs_dtype t);

/* Allocates the basis; checks k >= 1 and 1 <= max_steps <= n (HS_E_INVALID naming them).
 * The caller frees with hs_lanczos_destroy. */
hs_status hs_lanczos_create(hs_linop *op, const hs_lanczos_options *opt, hs_lanczos **out);
void hs_lanczos_destroy(hs_lanczos *lz);

/* Start vectors: probe p is the Rademacher vector of hs_rng_rademacher(seed,
 * HS_STREAM_PROBE + 16*p, 0, n), normalised (drawn on the host, uploaded). */
hs_status hs_lanczos_start_rademacher(hs_lanczos *lz, uint64_t seed);
/* Start vectors from the host: V (k, n), each row nonzero; normalised here. */
hs_status hs_lanczos_start(hs_lanczos *lz, const double *V);

/* Advances every probe that has not stopped until it has `steps` steps (<= max_steps). The
 * progress hook sees "lanczos" with done/total = steps. */
hs_status hs_lanczos_run(hs_lanczos *lz, size_t steps);

/* Device pointer to q_j of probe p (n elements), j <= max_steps. */
void *hs_lanczos_vec(const hs_lanczos *lz, size_t p, size_t j);

/* Y (r, n, device) = S Q_p^T: row i of Y is sum_j S[i][j] q_j for the first `len` basis
 * vectors of probe p; S is (r, len) on the host, row-major. Ritz vectors from the
 * eigenvectors of the tridiagonal. */
hs_status hs_lanczos_combine(hs_lanczos *lz, size_t p, size_t len, size_t r, const double *S,
                             void *Y);

/* Rademacher probe vector p of a seed (n values), as used for starts and Hutchinson. */
void hs_probe_rademacher(uint64_t seed, size_t p, size_t n, double *out);

#endif
