/* Batch norm over the rows of (rows, cols) arrays: forward, backward, R-forward and the
 * second-order terms of the R-backward, exactly as the comments of backend.h state them.
 *
 * Every statistic is a per-column sum over rows. Tasks are (direction, tile of CPU_COL_TILE
 * columns); a task sums its rows in index order into double accumulators (also in f32, where
 * a float mean of thousands of rows would lose digits), then makes a second pass that writes
 * the outputs. A task owns its columns, so results do not depend on the thread count, and an
 * output may alias an input of the same shape (dZ = dY, RY = RZ): each element is read
 * before it is written. */
#include <math.h>

#include "backend/cpu_internal.h"

static inline long ceil_div(long a, long b) { return (a + b - 1) / b; }

#define BN_PAR(k, rows, cols) ((long)(k) * (rows) * (cols) >= CPU_PAR_MIN)

/* ---- bn_fwd ----
 * Z, xhat, Y (rows, cols); gamma, beta, run_*, batch_mean, rstd (cols).
 * Batch variance is two-pass (sum of squared deviations from the mean), not E[z^2] - mean^2,
 * which cancels catastrophically when |mean| >> std. */
#define DEF_BN_FWD(T, S)                                                                       \
  static void bn_fwd_##S(int nt, int mode, int rows, int cols, const T *Z, const T *gamma,     \
                         const T *beta, const T *run_mean, const T *run_var, T *batch_mean,    \
                         T *xhat, T *rstd, T *Y) {                                             \
    long tiles = ceil_div(cols, CPU_COL_TILE);                                                 \
    _Pragma("omp parallel for num_threads(nt) if (BN_PAR(1, rows, cols)) schedule(static)")    \
    for (long tile = 0; tile < tiles; tile++) {                                                \
      int c0 = (int)tile * CPU_COL_TILE;                                                       \
      int w = cols - c0 < CPU_COL_TILE ? cols - c0 : CPU_COL_TILE;                             \
      double mean[CPU_COL_TILE], rs[CPU_COL_TILE];                                             \
      if (mode == HS_BN_BATCH) {                                                               \
        double acc[CPU_COL_TILE] = {0};                                                        \
        for (int r = 0; r < rows; r++) {                                                       \
          const T *z = Z + (size_t)r * cols + c0;                                              \
          for (int c = 0; c < w; c++) acc[c] += z[c];                                          \
        }                                                                                      \
        for (int c = 0; c < w; c++) mean[c] = acc[c] / rows, acc[c] = 0;                       \
        for (int r = 0; r < rows; r++) {                                                       \
          const T *z = Z + (size_t)r * cols + c0;                                              \
          for (int c = 0; c < w; c++) {                                                        \
            double d = z[c] - mean[c];                                                         \
            acc[c] += d * d;                                                                   \
          }                                                                                    \
        }                                                                                      \
        for (int c = 0; c < w; c++) rs[c] = 1.0 / sqrt(acc[c] / rows + HS_BN_EPS);             \
      } else {                                                                                 \
        for (int c = 0; c < w; c++) {                                                          \
          mean[c] = run_mean[c0 + c];                                                          \
          rs[c] = 1.0 / sqrt((double)run_var[c0 + c] + HS_BN_EPS);                             \
        }                                                                                      \
      }                                                                                        \
      for (int c = 0; c < w; c++) {                                                            \
        if (rstd) rstd[c0 + c] = (T)rs[c];                                                     \
        if (batch_mean) batch_mean[c0 + c] = (T)mean[c];                                       \
      }                                                                                        \
      for (int r = 0; r < rows; r++) {                                                         \
        size_t o = (size_t)r * cols + c0;                                                      \
        for (int c = 0; c < w; c++) {                                                          \
          double xh = (Z[o + c] - mean[c]) * rs[c];                                            \
          if (xhat) xhat[o + c] = (T)xh;                                                       \
          Y[o + c] = (T)((double)gamma[c0 + c] * xh + beta[c0 + c]);                           \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }
DEF_BN_FWD(float, f32)
DEF_BN_FWD(double, f64)


hs_status hs_cpu_bn_fwd(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                        const void *gamma, const void *beta, const void *run_mean,
                        const void *run_var, void *batch_mean, void *xhat, void *rstd,
                        void *Y) {
  if (cols == 0) return HS_OK;
  CPU_DISPATCH(t, bn_fwd, cpu_threads(be), mode, rows, cols, Z, gamma, beta, run_mean, run_var,
               batch_mean, xhat, rstd, Y);
  return HS_OK;
}

/* ---- bn_bwd ----
 * xhat (rows, cols); rstd, gamma (cols); dY, dZ (k, rows, cols); dgamma, dbeta (k, pstride).
 * With s1 = sum_r dY, s2 = sum_r dY*xhat: mean_r(g) = gamma*s1/rows, mean_r(g*xhat) =
 * gamma*s2/rows, so the batch formula is dZ = rstd*gamma*(dY - s1/rows - xhat*s2/rows). */
#define DEF_BN_BWD(T, S)                                                                       \
  static void bn_bwd_##S(int nt, int mode, int k, int rows, int cols, const T *xhat,           \
                         const T *rstd, const T *gamma, const T *dY, T *dZ, T *dgamma,         \
                         T *dbeta, size_t pstride) {                                           \
    long tiles = ceil_div(cols, CPU_COL_TILE), ntasks = (long)k * tiles;                       \
    int need_sums = mode == HS_BN_BATCH || dgamma || dbeta;                                    \
    _Pragma("omp parallel for num_threads(nt) if (BN_PAR(k, rows, cols)) schedule(static)")    \
    for (long task = 0; task < ntasks; task++) {                                               \
      int j = (int)(task / tiles), c0 = (int)(task % tiles) * CPU_COL_TILE;                    \
      int w = cols - c0 < CPU_COL_TILE ? cols - c0 : CPU_COL_TILE;                             \
      const T *dy = dY + (size_t)j * rows * cols;                                              \
      double s1[CPU_COL_TILE] = {0}, s2[CPU_COL_TILE] = {0};                                   \
      if (need_sums)                                                                           \
        for (int r = 0; r < rows; r++) {                                                       \
          size_t o = (size_t)r * cols + c0;                                                    \
          for (int c = 0; c < w; c++) {                                                        \
            s1[c] += dy[o + c];                                                                \
            s2[c] += (double)dy[o + c] * xhat[o + c];                                          \
          }                                                                                    \
        }                                                                                      \
      for (int c = 0; c < w; c++) {                                                            \
        size_t p = (size_t)j * pstride + c0 + c;                                               \
        if (dgamma) dgamma[p] = (T)((double)dgamma[p] + s2[c]);                                \
        if (dbeta) dbeta[p] = (T)((double)dbeta[p] + s1[c]);                                   \
      }                                                                                        \
      if (!dZ) continue;                                                                       \
      T *dz = dZ + (size_t)j * rows * cols;                                                    \
      double gs[CPU_COL_TILE], m1[CPU_COL_TILE], m2[CPU_COL_TILE];                             \
      for (int c = 0; c < w; c++) {                                                            \
        gs[c] = (double)gamma[c0 + c] * rstd[c0 + c];                                          \
        m1[c] = mode == HS_BN_BATCH ? s1[c] / rows : 0;                                        \
        m2[c] = mode == HS_BN_BATCH ? s2[c] / rows : 0;                                        \
      }                                                                                        \
      for (int r = 0; r < rows; r++) {                                                         \
        size_t o = (size_t)r * cols + c0;                                                      \
        for (int c = 0; c < w; c++)                                                            \
          dz[o + c] = (T)(gs[c] * (dy[o + c] - m1[c] - xhat[o + c] * m2[c]));                  \
      }                                                                                        \
    }                                                                                          \
  }
DEF_BN_BWD(float, f32)
DEF_BN_BWD(double, f64)

hs_status hs_cpu_bn_bwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                        const void *xhat, const void *rstd, const void *gamma, const void *dY,
                        void *dZ, void *dgamma, void *dbeta, size_t pstride) {
  if ((long)k * cols == 0) return HS_OK;
  CPU_DISPATCH(t, bn_bwd, cpu_threads(be), mode, k, rows, cols, xhat, rstd, gamma, dY, dZ,
               dgamma, dbeta, pstride);
  return HS_OK;
}

/* ---- bn_rfwd ----
 * xhat (rows, cols); rstd, gamma (cols); RZ, RXhat, RY (k, rows, cols); Rgamma, Rbeta
 * (k, pstride), NULL meaning a zero slice. RXhat or RY may be NULL when not wanted. */
#define DEF_BN_RFWD(T, S)                                                                      \
  static void bn_rfwd_##S(int nt, int mode, int k, int rows, int cols, const T *xhat,          \
                          const T *rstd, const T *gamma, const T *RZ, const T *Rgamma,         \
                          const T *Rbeta, size_t pstride, T *RXhat, T *RY) {                   \
    long tiles = ceil_div(cols, CPU_COL_TILE), ntasks = (long)k * tiles;                       \
    _Pragma("omp parallel for num_threads(nt) if (BN_PAR(k, rows, cols)) schedule(static)")    \
    for (long task = 0; task < ntasks; task++) {                                               \
      int j = (int)(task / tiles), c0 = (int)(task % tiles) * CPU_COL_TILE;                    \
      int w = cols - c0 < CPU_COL_TILE ? cols - c0 : CPU_COL_TILE;                             \
      size_t off = (size_t)j * rows * cols;                                                    \
      const T *rz = RZ + off;                                                                  \
      double m1[CPU_COL_TILE] = {0}, m2[CPU_COL_TILE] = {0};                                   \
      double rs[CPU_COL_TILE], g[CPU_COL_TILE], rg[CPU_COL_TILE], rb[CPU_COL_TILE];            \
      if (mode == HS_BN_BATCH) {                                                               \
        for (int r = 0; r < rows; r++) {                                                       \
          size_t o = (size_t)r * cols + c0;                                                    \
          for (int c = 0; c < w; c++) {                                                        \
            m1[c] += rz[o + c];                                                                \
            m2[c] += (double)xhat[o + c] * rz[o + c];                                          \
          }                                                                                    \
        }                                                                                      \
        for (int c = 0; c < w; c++) m1[c] /= rows, m2[c] /= rows;                              \
      }                                                                                        \
      for (int c = 0; c < w; c++) {                                                            \
        size_t p = (size_t)j * pstride + c0 + c;                                               \
        rs[c] = rstd[c0 + c];                                                                  \
        g[c] = gamma[c0 + c];                                                                  \
        rg[c] = Rgamma ? (double)Rgamma[p] : 0.0;                                              \
        rb[c] = Rbeta ? (double)Rbeta[p] : 0.0;                                                \
      }                                                                                        \
      for (int r = 0; r < rows; r++) {                                                         \
        size_t o = (size_t)r * cols + c0;                                                      \
        for (int c = 0; c < w; c++) {                                                          \
          double xh = xhat[o + c];                                                             \
          double rxh = rs[c] * (rz[o + c] - m1[c] - xh * m2[c]);                               \
          if (RXhat) RXhat[off + o + c] = (T)rxh;                                              \
          if (RY) RY[off + o + c] = (T)(rg[c] * xh + g[c] * rxh + rb[c]);                      \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }
DEF_BN_RFWD(float, f32)
DEF_BN_RFWD(double, f64)

hs_status hs_cpu_bn_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                         const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                         const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat,
                         void *RY) {
  if ((long)k * rows * cols == 0) return HS_OK;
  CPU_DISPATCH(t, bn_rfwd, cpu_threads(be), mode, k, rows, cols, xhat, rstd, gamma, RZ, Rgamma,
               Rbeta, pstride, RXhat, RY);
  return HS_OK;
}

/* ---- bn_rbwd_extra ----
 * xhat, dY, dZ (rows, cols) shared by the directions; rstd, gamma (cols); RZ, RXhat, RdZ
 * (k, rows, cols); Rgamma, Rdgamma (k, pstride), Rgamma NULL meaning zero.
 * Column sums per task: mdy = mean_r(dY), mdyx = mean_r(dY*xhat) (direction-independent,
 * recomputed per task so that tasks stay independent), mxrz = mean_r(xhat*RZ_j),
 * sdyr = sum_r(dY*RXhat_j). Then mean_r(g*xhat) = gamma*mdyx, mean_r(g*RXhat_j) =
 * gamma*sdyr/rows. Running mode needs only sdyr. */
#define DEF_BN_RBWD_EXTRA(T, S)                                                                \
  static void bn_rbwd_extra_##S(int nt, int mode, int k, int rows, int cols, const T *xhat,    \
                                const T *rstd, const T *gamma, const T *dY, const T *dZ,       \
                                const T *RZ, const T *RXhat, const T *Rgamma, size_t pstride,  \
                                T *RdZ, T *Rdgamma) {                                          \
    long tiles = ceil_div(cols, CPU_COL_TILE), ntasks = (long)k * tiles;                       \
    int batch = mode == HS_BN_BATCH;                                                           \
    _Pragma("omp parallel for num_threads(nt) if (BN_PAR(k, rows, cols)) schedule(static)")    \
    for (long task = 0; task < ntasks; task++) {                                               \
      int j = (int)(task / tiles), c0 = (int)(task % tiles) * CPU_COL_TILE;                    \
      int w = cols - c0 < CPU_COL_TILE ? cols - c0 : CPU_COL_TILE;                             \
      size_t off = (size_t)j * rows * cols;                                                    \
      const T *rxh = RXhat + off;                                                              \
      double mdy[CPU_COL_TILE] = {0}, mdyx[CPU_COL_TILE] = {0};                                \
      double mxrz[CPU_COL_TILE] = {0}, sdyr[CPU_COL_TILE] = {0};                               \
      for (int r = 0; r < rows; r++) {                                                         \
        size_t o = (size_t)r * cols + c0;                                                      \
        for (int c = 0; c < w; c++) sdyr[c] += (double)dY[o + c] * rxh[o + c];                 \
        if (batch)                                                                             \
          for (int c = 0; c < w; c++) {                                                        \
            mdy[c] += dY[o + c];                                                               \
            mdyx[c] += (double)dY[o + c] * xhat[o + c];                                        \
            mxrz[c] += (double)xhat[o + c] * RZ[off + o + c];                                  \
          }                                                                                    \
      }                                                                                        \
      double rs[CPU_COL_TILE], rg[CPU_COL_TILE], gmx[CPU_COL_TILE], gmr[CPU_COL_TILE];         \
      for (int c = 0; c < w; c++) {                                                            \
        size_t p = (size_t)j * pstride + c0 + c;                                               \
        if (Rdgamma) Rdgamma[p] = (T)((double)Rdgamma[p] + sdyr[c]);                           \
        rs[c] = rstd[c0 + c];                                                                  \
        rg[c] = Rgamma ? (double)Rgamma[p] : 0.0;                                              \
        mdy[c] /= rows, mdyx[c] /= rows, mxrz[c] /= rows;                                      \
        gmx[c] = (double)gamma[c0 + c] * mdyx[c];                                              \
        gmr[c] = (double)gamma[c0 + c] * sdyr[c] / rows;                                       \
      }                                                                                        \
      if (!RdZ) continue;                                                                      \
      T *rdz = RdZ + off;                                                                      \
      for (int r = 0; r < rows; r++) {                                                         \
        size_t o = (size_t)r * cols + c0;                                                      \
        for (int c = 0; c < w; c++) {                                                          \
          double dy = dY[o + c], v;                                                            \
          if (batch) {                                                                         \
            double xh = xhat[o + c];                                                           \
            v = -rs[c] * mxrz[c] * dZ[o + c] + rg[c] * rs[c] * (dy - mdy[c] - xh * mdyx[c]) -  \
                rs[c] * (rxh[o + c] * gmx[c] + xh * gmr[c]);                                   \
          } else {                                                                             \
            v = rs[c] * rg[c] * dy;                                                            \
          }                                                                                    \
          rdz[o + c] = (T)((double)rdz[o + c] + v);                                            \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }
DEF_BN_RBWD_EXTRA(float, f32)
DEF_BN_RBWD_EXTRA(double, f64)

hs_status hs_cpu_bn_rbwd_extra(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                               const void *xhat, const void *rstd, const void *gamma,
                               const void *dY, const void *dZ, const void *RZ, const void *RXhat,
                               const void *Rgamma, size_t pstride, void *RdZ, void *Rdgamma) {
  if ((long)k * cols == 0) return HS_OK;
  CPU_DISPATCH(t, bn_rbwd_extra, cpu_threads(be), mode, k, rows, cols, xhat, rstd, gamma, dY,
               dZ, RZ, RXhat, Rgamma, pstride, RdZ, Rdgamma);
  return HS_OK;
}
