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

typedef struct {
  size_t probes; /* >= 1 */
  uint64_t seed;
  size_t block;  /* probes per operator call; 0 = min(probes, 32) */
} hs_trace_options;

typedef struct {
  size_t n, probes;
  uint64_t seed;
  double trace, trace_se; /* mean and standard error (NaN when probes == 1) */
  double *samples;        /* (probes): z_p^T A z_p */
  double t_apply, t_total;
  size_t applies;
} hs_trace_result;

hs_status hs_trace_hutchinson(hs_linop *op, const hs_trace_options *opt, hs_trace_result **out);
void hs_trace_free(hs_trace_result *r);

#endif
