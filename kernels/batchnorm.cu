/* Batch norm over the rows (batch) of (rows, cols) arrays: forward, backward, R-forward and
 * the second-order R-backward terms (equations in backend.h, derivation in docs/hvp-math.md).
 *
 * Each kernel runs one block per (tile of COL_TILE columns, direction j): the block first
 * reduces its columns over all rows (colred.cuh: double, fixed order), then sweeps the rows
 * again applying the per-column scalars. Arithmetic in double; results stored in the dtype.
 * An output may alias the same-shaped input it replaces (each element is read and then written
 * by one thread, after the reductions). Optional outputs follow the CPU backend: bn_fwd's
 * xhat, rstd and batch_mean, bn_rfwd's RXhat and RY, and the parameter-gradient slices may be
 * NULL (not wanted); a NULL Rgamma/Rbeta is a zero slice. */
#include "colred.cuh"


/* Loop over this lane's rows for column c. */
#define FOR_ROWS(r, rows) for (int r = threadIdx.y; r < (rows); r += ROW_LANES)


/* ---- forward (one direction): xhat, rstd, batch_mean, Y ---- */

template <typename T>
__global__ void k_bn_fwd(int mode, int rows, int cols, const T *Z, const T *gamma, const T *beta,
                         const T *run_mean, const T *run_var, T *batch_mean, T *xhat, T *rstd, T *Y) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const bool ok = c < cols;
  double mean, var;
  if (mode == HS_BN_BATCH) {
    /* two passes (mean, then squared deviations): no cancellation in the variance */
    double v[1] = {0};
    if (ok) FOR_ROWS(r, rows) v[0] += (double)Z[(size_t)r * cols + c];
    colred_combine<1>(v);
    mean = v[0] / rows;
    v[0] = 0;
    if (ok) FOR_ROWS(r, rows) {
      double d = (double)Z[(size_t)r * cols + c] - mean;
      v[0] += d * d;
    }
    colred_combine<1>(v);
    var = v[0] / rows; /* biased, as PyTorch normalises in training mode */
  } else {
    mean = ok ? (double)run_mean[c] : 0;
    var = ok ? (double)run_var[c] : 1;
  }
  if (!ok) return; /* no barrier below */
  const double rs = 1.0 / sqrt(var + HS_BN_EPS);
  const double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
  if (threadIdx.y == 0) {
    if (rstd) rstd[c] = (T)rs;
    if (batch_mean) batch_mean[c] = (T)mean;
  }
  FOR_ROWS(r, rows) {
    size_t e = (size_t)r * cols + c;
    double xh = ((double)Z[e] - mean) * rs;
    if (xhat) xhat[e] = (T)xh;
    Y[e] = (T)(g * xh + b);
  }
}

/* ---- backward for k directions ---- */

template <typename T>
__global__ void k_bn_bwd(int mode, int rows, int cols, const T *xhat, const T *rstd,
                         const T *gamma, const T *dY, T *dZ, T *dgamma, T *dbeta, size_t pstride) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const bool ok = c < cols;
  const size_t j = blockIdx.y, off = j * (size_t)rows * cols;
  const T *dYj = dY + off;
  T *dZj = dZ + off;
  double v[2] = {0, 0}; /* sum dY*xhat, sum dY */
  if (ok) FOR_ROWS(r, rows) {
    size_t e = (size_t)r * cols + c;
    double dy = (double)dYj[e];
    v[0] += dy * (double)xhat[e];
    v[1] += dy;
  }
  colred_combine<2>(v);
  if (!ok) return;
  if (threadIdx.y == 0) {
    if (dgamma) dgamma[j * pstride + c] = (T)((double)dgamma[j * pstride + c] + v[0]);
    if (dbeta) dbeta[j * pstride + c] = (T)((double)dbeta[j * pstride + c] + v[1]);
  }
  const double rs = (double)rstd[c], gm = gamma ? (double)gamma[c] : 1.0;
  const double m_g = gm * v[1] / rows, m_gx = gm * v[0] / rows; /* mean_r(g), mean_r(g*xhat) */
  FOR_ROWS(r, rows) {
    size_t e = (size_t)r * cols + c;
    double g = gm * (double)dYj[e];
    dZj[e] = (T)(mode == HS_BN_BATCH ? rs * (g - m_g - (double)xhat[e] * m_gx) : rs * g);
  }
}

/* ---- R-forward for k directions ---- */

template <typename T>
__global__ void k_bn_rfwd(int mode, int rows, int cols, const T *xhat, const T *rstd,
                          const T *gamma, const T *RZ, const T *Rgamma, const T *Rbeta,
                          size_t pstride, T *RXhat, T *RY) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const bool ok = c < cols;
  const size_t j = blockIdx.y, off = j * (size_t)rows * cols;
  const T *RZj = RZ + off;
  double v[2] = {0, 0}; /* sum RZ, sum xhat*RZ */
  if (mode == HS_BN_BATCH) {
    if (ok) FOR_ROWS(r, rows) {
      size_t e = (size_t)r * cols + c;
      double rz = (double)RZj[e];
      v[0] += rz;
      v[1] += (double)xhat[e] * rz;
    }
    colred_combine<2>(v);
  }
  if (!ok) return;
  const double rs = (double)rstd[c], gm = gamma ? (double)gamma[c] : 1.0;
  const double rg = Rgamma ? (double)Rgamma[j * pstride + c] : 0.0;
  const double rb = Rbeta ? (double)Rbeta[j * pstride + c] : 0.0;
  const double m0 = v[0] / rows, m1 = v[1] / rows;
  FOR_ROWS(r, rows) {
    size_t e = (size_t)r * cols + c;
    double xh = (double)xhat[e], rz = (double)RZj[e];
    double rx = mode == HS_BN_BATCH ? rs * (rz - m0 - xh * m1) : rs * rz;
    if (RXhat) RXhat[off + e] = (T)rx;
    if (RY) RY[off + e] = (T)(rg * xh + gm * rx + rb);
  }
}

/* ---- second-order R-backward terms for k directions (dY, dZ shared by all) ---- */

template <typename T>
__global__ void k_bn_rbwd_extra(int mode, int rows, int cols, const T *xhat, const T *rstd,
                                const T *gamma, const T *dY, const T *dZ, const T *RZ,
                                const T *RXhat, const T *Rgamma, size_t pstride, T *RdZ,
                                T *Rdgamma) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const bool ok = c < cols;
  const size_t j = blockIdx.y, off = j * (size_t)rows * cols;
  /* sums over r of: dY*RXhat_j, xhat*RZ_j, dY, dY*xhat (the last three in batch mode only) */
  double v[4] = {0, 0, 0, 0};
  if (ok) FOR_ROWS(r, rows) {
    size_t e = (size_t)r * cols + c;
    double dy = (double)dY[e];
    v[0] += dy * (double)RXhat[off + e];
    if (mode == HS_BN_BATCH) {
      double xh = (double)xhat[e];
      v[1] += xh * (double)RZ[off + e];
      v[2] += dy;
      v[3] += dy * xh;
    }
  }
  colred_combine<4>(v);
  if (!ok) return;
  if (threadIdx.y == 0 && Rdgamma)
    Rdgamma[j * pstride + c] = (T)((double)Rdgamma[j * pstride + c] + v[0]);
  const double rs = (double)rstd[c], gm = gamma ? (double)gamma[c] : 1.0;
  const double rg = Rgamma ? (double)Rgamma[j * pstride + c] : 0.0;
  const double m_dyrx = v[0] / rows, m_xrz = v[1] / rows, m_dy = v[2] / rows, m_dyx = v[3] / rows;
  FOR_ROWS(r, rows) {
    size_t e = (size_t)r * cols + c;
    double dy = (double)dY[e], add;
    if (mode == HS_BN_BATCH) {
      double xh = (double)xhat[e], rx = (double)RXhat[off + e];
      add = -rs * m_xrz * (double)dZ[e] + rg * rs * (dy - m_dy - xh * m_dyx) -
            rs * (rx * gm * m_dyx + xh * gm * m_dyrx);
    } else {
      add = rs * rg * dy;
    }
    RdZ[off + e] = (T)((double)RdZ[off + e] + add);
  }
}

/* ---- launchers ---- */

#define BN_REQUIRE(k, rows, cols, name)                                                     \
  do {                                                                                      \
    CU_REQUIRE((k) >= 0 && (k) <= 65535 && (rows) >= 0 && (cols) >= 0, name ": bad size"); \
    CU_REQUIRE(mode == HS_BN_BATCH || mode == HS_BN_RUNNING, name ": unknown mode");        \
    CU_REQUIRE(mode != HS_BN_BATCH || rows > 0 || (k) == 0 || (cols) == 0,                  \
               name ": batch statistics of 0 rows");                                        \
    if ((k) == 0 || (rows) == 0 || (cols) == 0) return HS_OK;                              \
    hs_status st_ = hs_cuda_enter(be);                                                      \
    if (st_ != HS_OK) return st_;                                                           \
  } while (0)

hs_status cu_bn_fwd(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                    const void *gamma, const void *beta, const void *run_mean, const void *run_var,
                    void *batch_mean, void *xhat, void *rstd, void *Y) {
  BN_REQUIRE(1, rows, cols, "bn_fwd");
  CU_REQUIRE(mode == HS_BN_BATCH || (run_mean && run_var), "bn_fwd: running mode needs running statistics");
  cudaStream_t s = CB(be)->stream;
  if (t == HS_F64)
    k_bn_fwd<double><<<colred_grid(cols, 1), colred_block(), 0, s>>>(
        mode, rows, cols, (const double *)Z, (const double *)gamma, (const double *)beta,
        (const double *)run_mean, (const double *)run_var, (double *)batch_mean, (double *)xhat,
        (double *)rstd, (double *)Y);
  else
    k_bn_fwd<float><<<colred_grid(cols, 1), colred_block(), 0, s>>>(
        mode, rows, cols, (const float *)Z, (const float *)gamma, (const float *)beta,
        (const float *)run_mean, (const float *)run_var, (float *)batch_mean, (float *)xhat,
        (float *)rstd, (float *)Y);
  CU_LAUNCH("k_bn_fwd");
  return HS_OK;
}

hs_status cu_bn_bwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                    const void *xhat, const void *rstd, const void *gamma, const void *dY, void *dZ,
                    void *dgamma, void *dbeta, size_t pstride) {
  BN_REQUIRE(k, rows, cols, "bn_bwd");
  cudaStream_t s = CB(be)->stream;
  if (t == HS_F64)
    k_bn_bwd<double><<<colred_grid(cols, k), colred_block(), 0, s>>>(
        mode, rows, cols, (const double *)xhat, (const double *)rstd, (const double *)gamma,
        (const double *)dY, (double *)dZ, (double *)dgamma, (double *)dbeta, pstride);
  else
    k_bn_bwd<float><<<colred_grid(cols, k), colred_block(), 0, s>>>(
        mode, rows, cols, (const float *)xhat, (const float *)rstd, (const float *)gamma,
        (const float *)dY, (float *)dZ, (float *)dgamma, (float *)dbeta, pstride);
  CU_LAUNCH("k_bn_bwd");
  return HS_OK;
}

hs_status cu_bn_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                     const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                     const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat, void *RY) {
  BN_REQUIRE(k, rows, cols, "bn_rfwd");
  cudaStream_t s = CB(be)->stream;
  if (t == HS_F64)
    k_bn_rfwd<double><<<colred_grid(cols, k), colred_block(), 0, s>>>(
        mode, rows, cols, (const double *)xhat, (const double *)rstd, (const double *)gamma,
        (const double *)RZ, (const double *)Rgamma, (const double *)Rbeta, pstride,
        (double *)RXhat, (double *)RY);
  else
    k_bn_rfwd<float><<<colred_grid(cols, k), colred_block(), 0, s>>>(
        mode, rows, cols, (const float *)xhat, (const float *)rstd, (const float *)gamma,
        (const float *)RZ, (const float *)Rgamma, (const float *)Rbeta, pstride,
        (float *)RXhat, (float *)RY);
  CU_LAUNCH("k_bn_rfwd");
  return HS_OK;
}

hs_status cu_bn_rbwd_extra(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                           const void *xhat, const void *rstd, const void *gamma, const void *dY,
                           const void *dZ, const void *RZ, const void *RXhat, const void *Rgamma,
                           size_t pstride, void *RdZ, void *Rdgamma) {
  BN_REQUIRE(k, rows, cols, "bn_rbwd_extra");
  cudaStream_t s = CB(be)->stream;
  if (t == HS_F64)
    k_bn_rbwd_extra<double><<<colred_grid(cols, k), colred_block(), 0, s>>>(
        mode, rows, cols, (const double *)xhat, (const double *)rstd, (const double *)gamma,
        (const double *)dY, (const double *)dZ, (const double *)RZ, (const double *)RXhat,
        (const double *)Rgamma, pstride, (double *)RdZ, (double *)Rdgamma);
  else
    k_bn_rbwd_extra<float><<<colred_grid(cols, k), colred_block(), 0, s>>>(
        mode, rows, cols, (const float *)xhat, (const float *)rstd, (const float *)gamma,
        (const float *)dY, (const float *)dZ, (const float *)RZ, (const float *)RXhat,
        (const float *)Rgamma, pstride, (float *)RdZ, (float *)Rdgamma);
  CU_LAUNCH("k_bn_rbwd_extra");
  return HS_OK;
}
