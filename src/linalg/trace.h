/* Trace estimation: Hutchinson's estimator with Rademacher probes.
 *
 * tr(A) ~ (1/K) sum_p z_p^T A z_p, z_p in {-1, +1}^n; unbiased, with variance
 * 2 (||A||_F^2 - sum_i A_ii^2) per probe. Probe p is the same vector SLQ starts from (before
 * normalisation), so `hesspec trace` and the trace of a density file agree for equal seeds.
 */
#ifndef HS_TRACE_H
#define HS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "linalg/linop.h"

#define HS_TRACE_DEFAULT_PROBES 100

/* HUTCHINSON: K Rademacher probes. HUTCHPP (Hutch++, Meyer, Musco, Musco & Woodruff 2021):
 * the same budget of K operator products split in three: K/3 Rademacher sketch vectors S give
 * an orthonormal basis Q of A S, tr(Q^T A Q) is computed exactly (K/3 products), and
 * Hutchinson with the remaining K/3 Rademacher vectors, projected off Q, estimates the trace
 * of the rest. For spectra with a few large eigenvalues (Hessians) that removes most of the
 * variance; the reported standard error is that of the Hutchinson part (given Q). */
typedef enum { HS_TRACE_HUTCHINSON = 0, HS_TRACE_HUTCHPP = 1 } hs_trace_method;

typedef struct {
  size_t probes; /* >= 1 */
  uint64_t seed;
  size_t block;  /* probes per operator call; 0 = min(probes, 32) */
  hs_trace_method method;
  /* Probe parallel, Hutchinson only (docs/mpi.md): with parts > 1 only probes p = part,
   * part + parts, ... run, and the result holds their samples in that order with no
   * estimate; the caller gathers all parts' samples in probe order and calls
   * hs_trace_summarise. parts 0 or 1: all probes. Needs probes >= parts. */
  size_t part, parts;
} hs_trace_options;

typedef struct {
  size_t n, probes;
  uint64_t seed;
  hs_trace_method method;
  double trace, trace_se; /* estimate and standard error (NaN when it has one sample) */
  double *samples;        /* Hutchinson: (probes) z_p^T A z_p; Hutch++: (nsamples) g^T A g of the
                             projected vectors */
  size_t nsamples;        /* entries of samples */
  size_t rank;            /* Hutch++: columns of Q kept (after dropping dependent ones) */
  double exact_part;      /* Hutch++: tr(Q^T A Q) */
  double t_apply, t_total;
  size_t applies;
} hs_trace_result;

hs_status hs_trace_hutchinson(hs_linop *op, const hs_trace_options *opt, hs_trace_result **out);
void hs_trace_free(hs_trace_result *r);
/* trace and trace_se from r->samples (nsamples of them): their mean and standard error. */
void hs_trace_summarise(hs_trace_result *r);

#endif
