/* Summary statistics over independent samples (probes, seeds): the one home of the mean and
 * its standard error that trace and spectrum results report. */
#ifndef HS_STATS_H
#define HS_STATS_H

#include <stddef.h>

/* *mean = the mean of x[0..k), *se = its standard error sqrt(s^2/k) with the unbiased
 * sample variance s^2 = sum (x_i - mean)^2/(k - 1). Two passes (the mean first, then the
 * squared deviations), so the variance never comes from a difference of large sums. k = 1:
 * *se = NaN (no estimate of the spread); k = 0: both NaN. */
void hs_mean_se(size_t k, const double *x, double *mean, double *se);

#endif
