/* Host-returned reductions: dot, nrm2, nonfinite.
 *
 * dot is our own fixed-order reduction, not cblas_ddot (whose order follows its thread
 * split): x is cut into CPU_DOT_BLOCK-element blocks, each block is summed left to right in
 * double, and the block partials are added in index order. Threads compute blocks of a
 * group of CPU_DOT_GROUP blocks at a time into a stack array, so no allocation is needed and
 * the result is bit-identical for any thread count. Lanczos' alpha/beta depend on this. */
#include <math.h>

#include "backend/cpu_internal.h"

#define CPU_DOT_GROUP 256

#define DEF_DOT(T, S)                                                                          \
  static double dot_block_##S(size_t n, const T *x, const T *y) {                              \
    double s = 0;                                                                              \
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)y[i];                           \
    return s;                                                                                  \
  }                                                                                            \
  static void dot_##S(int nt, size_t n, const T *x, const T *y, double *out) {                 \
    size_t nblocks = (n + CPU_DOT_BLOCK - 1) / CPU_DOT_BLOCK;                                  \
    double total = 0;                                                                          \
    for (size_t g = 0; g < nblocks; g += CPU_DOT_GROUP) {                                      \
      double part[CPU_DOT_GROUP];                                                              \
      long gn = (long)(nblocks - g < CPU_DOT_GROUP ? nblocks - g : CPU_DOT_GROUP);             \
      _Pragma("omp parallel for num_threads(nt) if (gn > 1 && n >= CPU_PAR_MIN) schedule(static)") \
      for (long b = 0; b < gn; b++) {                                                          \
        size_t lo = (g + (size_t)b) * CPU_DOT_BLOCK;                                           \
        size_t len = n - lo < CPU_DOT_BLOCK ? n - lo : CPU_DOT_BLOCK;                          \
        part[b] = dot_block_##S(len, x + lo, y + lo);                                          \
      }                                                                                        \
      for (long b = 0; b < gn; b++) total += part[b];                                          \
    }                                                                                          \
    *out = total;                                                                              \
  }
DEF_DOT(float, f32)
DEF_DOT(double, f64)

hs_status hs_cpu_dot(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y,
                     double *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  CPU_DISPATCH(t, dot, cpu_threads(be), n, x, y, out);
  return HS_OK;
}

/* sqrt of the fixed-order dot: the squares of our values (|x| < 1e150 in double, any f32)
 * cannot overflow, and it keeps nrm2 consistent with dot(x, x) to the last bit. */
hs_status hs_cpu_nrm2(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  double ss;
  CPU_DISPATCH(t, dot, cpu_threads(be), n, x, x, &ss);
  *out = sqrt(ss);
  return HS_OK;
}

/* The CPU has no trip to save: m dots, one after the other. */
hs_status hs_cpu_dots(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                      const void *const *y, double *out) {
  if (m == 0) return HS_OK;
  for (int i = 0; i < m; i++) {
    hs_status st = hs_cpu_dot(be, t, n[i], x[i], y[i], &out[i]);
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

/* An OR over elements: order-free, so a plain parallel reduction is deterministic. */
#define DEF_NONFINITE(T, S)                                                                    \
  static void nonfinite_##S(int nt, size_t n, const T *x, int *out) {                          \
    int bad = 0;                                                                               \
    _Pragma("omp parallel for num_threads(nt) if (n >= CPU_PAR_MIN) reduction(|: bad) schedule(static)") \
    for (size_t i = 0; i < n; i++) bad |= !isfinite(x[i]);                                     \
    *out = bad;                                                                                \
  }
DEF_NONFINITE(float, f32)
DEF_NONFINITE(double, f64)

hs_status hs_cpu_nonfinite(hs_backend *be, hs_dtype t, size_t n, const void *x, int *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  CPU_DISPATCH(t, nonfinite, cpu_threads(be), n, x, out);
  return HS_OK;
}
