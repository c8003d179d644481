/* The counter-based generator: a pure function of (seed, stream, index), with the moments
 * of its distributions, independent streams and seeds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"

Test(rng, pure_function_of_its_counter) {
  double a[64], b[64];
  hs_rng_normals(7, HS_STREAM_PROBE, 0, 64, a);
  hs_rng_normals(7, HS_STREAM_PROBE, 33, 31, b + 33); /* a slice, drawn on its own */
  for (int i = 33; i < 64; i++) cr_expect_eq(a[i], b[i], "draw %d depends on what was drawn before", i);
  for (int i = 0; i < 64; i++) b[i] = hs_rng_normal(7, HS_STREAM_PROBE, i);
  for (int i = 0; i < 64; i++) cr_expect_eq(a[i], b[i], "draw %d depends on what was drawn before", i);
  cr_expect_neq(hs_rng_bits(7, 1, 0), hs_rng_bits(8, 1, 0));
  cr_expect_neq(hs_rng_bits(7, 1, 0), hs_rng_bits(7, 2, 0));
  cr_expect_neq(hs_rng_bits(7, 1, 0), hs_rng_bits(7, 1, 1));
}

/* Moments over n = 10^6 draws: the standard error of a mean of unit-variance draws is
 * 1e-3, so 5e-3 is a 5-sigma bound; likewise for the variance (sd of s^2 ~ sqrt(2/n)). */
Test(rng, moments) {
  const size_t n = 1000000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0, sr = 0;
  double *r = malloc(n * sizeof *r);
  hs_rng_rademacher(3, HS_STREAM_PROBE, 0, n, r);
  for (size_t i = 0; i < n; i++) {
    double u = hs_rng_uniform(3, 9, i), z = hs_rng_normal(3, 10, i);
    cr_assert(u >= 0 && u < 1);
    su += u; su2 += u * u;
    sn += z; sn2 += z * z; sn4 += z * z * z * z;
    sr += r[i];
    cr_assert(r[i] == 1 || r[i] == -1);
  }
  free(r);
  cr_expect_leq(fabs(su / n - 0.5), 5 * sqrt(1.0 / 12 / n), "uniform mean %g", su / n);
  cr_expect_leq(fabs(su2 / n - 1.0 / 3), 5e-3, "uniform E[u^2] %g", su2 / n);
  cr_expect_leq(fabs(sn / n), 5e-3, "normal mean %g", sn / n);
  cr_expect_leq(fabs(sn2 / n - 1), 5 * sqrt(2.0 / n), "normal variance %g", sn2 / n);
  cr_expect_leq(fabs(sn4 / n - 3), 0.05, "normal kurtosis %g", sn4 / n);
  cr_expect_leq(fabs(sr / n), 5e-3, "rademacher mean %g", sr / n);
}

/* Streams are uncorrelated: the sample correlation of two streams is O(1/sqrt(n)). */
Test(rng, streams_are_uncorrelated) {
  const size_t n = 200000;
  double c = 0;
  for (size_t i = 0; i < n; i++) c += hs_rng_normal(1, HS_STREAM_PROBE, i) * hs_rng_normal(1, HS_STREAM_PROBE + 16, i);
  cr_expect_leq(fabs(c / n), 5 / sqrt((double)n), "correlation %g", c / n);
}
