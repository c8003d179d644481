/* Losses over `rows` samples of C outputs (F, P, T, dF: (rows, C); k-direction operands
 * (k, rows, C)): softmax cross entropy forward/backward/R-op, accuracy count, MSE.
 *
 * Per-row work is independent and spread over threads; per-row losses are computed in
 * double, stored, and summed in row order, so loss sums do not depend on the thread count.
 * Softmax is done in double per row (max-shifted log-sum-exp) and rounded once on output. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu_internal.h"

/* Loss-row staging: per-row values for up to this many rows live on the stack, summed in
 * order after each group, so no allocation is needed. */
#define LOSS_GROUP 1024

static hs_status check_labels(hs_backend *be, const char *op, int rows, int C,
                              const int32_t *labels) {
  for (int r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= C)
      return hs_backend_fail(be, HS_E_INVALID, "%s: label %d of row %d is outside [0, %d)", op,
                             (int)labels[r], r, C);
  return HS_OK;
}

/* ---- ce_fwd: P = softmax(F), loss_sum = sum_r (logsumexp(F_r) - F_r[label]) ---- */
#define DEF_CE_FWD(T, S)                                                                       \
  static void ce_fwd_##S(int nt, int rows, int C, const T *F, const int32_t *labels, T *P,     \
                         double *loss_sum) {                                                   \
    double total = 0;                                                                          \
    for (int g = 0; g < rows; g += LOSS_GROUP) {                                               \
      double part[LOSS_GROUP];                                                                 \
      int gn = rows - g < LOSS_GROUP ? rows - g : LOSS_GROUP;                                  \
      _Pragma("omp parallel for num_threads(nt) if ((long)gn * C >= CPU_PAR_MIN) schedule(static)") \
      for (int i = 0; i < gn; i++) {                                                           \
        int r = g + i;                                                                         \
        const T *f = F + (size_t)r * C;                                                        \
        double mx = f[0];                                                                      \
        for (int c = 1; c < C; c++)                                                            \
          if (f[c] > mx) mx = f[c];                                                            \
        double se = 0;                                                                         \
        for (int c = 0; c < C; c++) se += exp(f[c] - mx);                                      \
        part[i] = mx + log(se) - f[labels[r]]; /* before P: P may alias F */                  \
        if (P) {                                                                               \
          T *p = P + (size_t)r * C;                                                            \
          for (int c = 0; c < C; c++) p[c] = (T)(exp(f[c] - mx) / se);                         \
        }                                                                                      \
      }                                                                                        \
      for (int i = 0; i < gn; i++) total += part[i];                                           \
    }                                                                                          \
    *loss_sum = total;                                                                         \
  }
DEF_CE_FWD(float, f32)
DEF_CE_FWD(double, f64)

hs_status hs_cpu_ce_fwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                        const int32_t *labels, void *P, double *loss_sum) {
  if (loss_sum) *loss_sum = 0;
  if (rows == 0) return HS_OK;
  hs_status st = check_labels(be, "ce_fwd", rows, C, labels);
  if (st != HS_OK) return st;
  double sum;
  CPU_DISPATCH(t, ce_fwd, cpu_threads(be), rows, C, F, labels, P, &sum);
  if (loss_sum) *loss_sum = sum;
  return HS_OK;
}

/* ---- ce_bwd: dF = scale*(P - onehot(labels)); dF may alias P ---- */
#define DEF_CE_BWD(T, S)                                                                       \
  static void ce_bwd_##S(int nt, int rows, int C, const T *P, const int32_t *labels,           \
                         double scale, T *dF) {                                                \
    _Pragma("omp parallel for num_threads(nt) if ((long)rows * C >= CPU_PAR_MIN) schedule(static)") \
    for (int r = 0; r < rows; r++) {                                                           \
      const T *p = P + (size_t)r * C;                                                          \
      T *d = dF + (size_t)r * C;                                                               \
      for (int c = 0; c < C; c++) d[c] = (T)(scale * ((double)p[c] - (c == labels[r])));       \
    }                                                                                          \
  }
DEF_CE_BWD(float, f32)
DEF_CE_BWD(double, f64)

hs_status hs_cpu_ce_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *P,
                        const int32_t *labels, double scale, void *dF) {
  if (rows == 0) return HS_OK;
  hs_status st = check_labels(be, "ce_bwd", rows, C, labels);
  if (st != HS_OK) return st;
  CPU_DISPATCH(t, ce_bwd, cpu_threads(be), rows, C, P, labels, scale, dF);
  return HS_OK;
}

/* ---- ce_rop: RdF_j = scale*P*(RF_j - rowsum(P*RF_j)); RdF may alias RF ---- */
#define DEF_CE_ROP(T, S)                                                                       \
  static void ce_rop_##S(int nt, int k, int rows, int C, const T *P, const T *RF,              \
                         double scale, T *RdF) {                                               \
    long nrows = (long)k * rows;                                                               \
    _Pragma("omp parallel for num_threads(nt) if (nrows * C >= CPU_PAR_MIN) schedule(static)") \
    for (long jr = 0; jr < nrows; jr++) {                                                      \
      const T *p = P + (size_t)(jr % rows) * C;                                                \
      const T *rf = RF + (size_t)jr * C;                                                       \
      T *o = RdF + (size_t)jr * C;                                                             \
      double s = 0;                                                                            \
      for (int c = 0; c < C; c++) s += (double)p[c] * rf[c];                                   \
      for (int c = 0; c < C; c++) o[c] = (T)(scale * p[c] * (rf[c] - s));                      \
    }                                                                                          \
  }
DEF_CE_ROP(float, f32)
DEF_CE_ROP(double, f64)

hs_status hs_cpu_ce_rop(hs_backend *be, hs_dtype t, int k, int rows, int C, const void *P,
                        const void *RF, double scale, void *RdF) {
  if ((long)k * rows == 0) return HS_OK;
  CPU_DISPATCH(t, ce_rop, cpu_threads(be), k, rows, C, P, RF, scale, RdF);
  return HS_OK;
}

/* ---- ce_correct: rows whose first argmax equals the label (an integer count: order-free) */
#define DEF_CE_CORRECT(T, S)                                                                   \
  static void ce_correct_##S(int nt, int rows, int C, const T *F, const int32_t *labels,       \
                             size_t *correct) {                                                \
    size_t n = 0;                                                                              \
    _Pragma("omp parallel for num_threads(nt) if ((long)rows * C >= CPU_PAR_MIN) reduction(+: n) schedule(static)") \
    for (int r = 0; r < rows; r++) {                                                           \
      const T *f = F + (size_t)r * C;                                                          \
      int best = 0;                                                                            \
      for (int c = 1; c < C; c++)                                                              \
        if (f[c] > f[best]) best = c;                                                          \
      n += best == labels[r];                                                                  \
    }                                                                                          \
    *correct = n;                                                                              \
  }
DEF_CE_CORRECT(float, f32)
DEF_CE_CORRECT(double, f64)

hs_status hs_cpu_ce_correct(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                            const int32_t *labels, size_t *correct) {
  *correct = 0;
  if (rows == 0) return HS_OK;
  hs_status st = check_labels(be, "ce_correct", rows, C, labels);
  if (st != HS_OK) return st;
  CPU_DISPATCH(t, ce_correct, cpu_threads(be), rows, C, F, labels, correct);
  return HS_OK;
}

/* ---- mse_fwd_bwd: loss_sum = sum 0.5*(F - T)^2, dF = scale*(F - T); dF may alias F ---- */
#define DEF_MSE(T, S)                                                                          \
  static void mse_##S(int nt, int rows, int C, const T *F, const T *Tg, double scale,          \
                      double *loss_sum, T *dF) {                                               \
    double total = 0;                                                                          \
    for (int g = 0; g < rows; g += LOSS_GROUP) {                                               \
      double part[LOSS_GROUP];                                                                 \
      int gn = rows - g < LOSS_GROUP ? rows - g : LOSS_GROUP;                                  \
      _Pragma("omp parallel for num_threads(nt) if ((long)gn * C >= CPU_PAR_MIN) schedule(static)") \
      for (int i = 0; i < gn; i++) {                                                           \
        size_t o = (size_t)(g + i) * C;                                                        \
        double s = 0;                                                                          \
        for (int c = 0; c < C; c++) {                                                          \
          double d = (double)F[o + c] - Tg[o + c];                                             \
          s += d * d;                                                                          \
          if (dF) dF[o + c] = (T)(scale * d);                                                  \
        }                                                                                      \
        part[i] = 0.5 * s;                                                                     \
      }                                                                                        \
      for (int i = 0; i < gn; i++) total += part[i];                                           \
    }                                                                                          \
    *loss_sum = total;                                                                         \
  }
DEF_MSE(float, f32)
DEF_MSE(double, f64)

hs_status hs_cpu_mse_fwd_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                             const void *T, double scale, double *loss_sum, void *dF) {
  if (loss_sum) *loss_sum = 0;
  if ((long)rows * C == 0) return HS_OK;
  double sum;
  CPU_DISPATCH(t, mse, cpu_threads(be), rows, C, F, T, scale, &sum, dF);
  if (loss_sum) *loss_sum = sum;
  return HS_OK;
}
