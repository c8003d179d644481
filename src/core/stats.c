#include "core/stats.h"

#include <math.h>

void hs_mean_se(size_t k, const double *x, double *mean, double *se) {
  if (k == 0) {
    *mean = *se = NAN;
    return;
  }
  double s = 0;
  for (size_t i = 0; i < k; i++) s += x[i];
  double m = s / (double)k, v = 0;
  for (size_t i = 0; i < k; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *se = k > 1 ? sqrt(v / (double)(k - 1) / (double)k) : NAN;
}
