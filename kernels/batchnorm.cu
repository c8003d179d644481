/* Batch norm over the rows (batch) of (rows, cols) arrays: forward, backward, R-forward and
 * the second-order R-backward terms (equations in backend.h, derivation in docs/hvp-math.md).
 *
 * Every op is "per-column sums over the rows, then an elementwise pass that uses them". To
 * fill the GPU for tall batches, the rows are cut into S chunks (S a function of rows only:
 * at most BN_MAX_CHUNKS, each of at least BN_CHUNK_ROWS rows) and every kernel runs one block
 * per (tile of COL_TILE columns, direction j, chunk s):
 *   - a sums kernel reduces its chunk's rows (colred.cuh: double, fixed lane order) into
 *     partial[s][j][q][c];
 *   - the apply kernel first adds the S partials of its columns in chunk order (every block
 *     gets the same bits), then writes its chunk's outputs; the chunk-0 blocks also write the
 *     per-column outputs (rstd, batch_mean, parameter-gradient slices).
 * The order of every sum depends only on (rows, cols): deterministic across runs and GPUs.
 * Arithmetic in double; results stored in the dtype. An output may alias the same-shaped
 * input it replaces (dZ = dY, RY = RZ): the sums kernel has read it all before the apply
 * kernel writes. Optional outputs follow the CPU backend: bn_fwd's xhat, rstd and batch_mean,
 * bn_rfwd's RXhat and RY, and the parameter-gradient slices may be NULL (not wanted); a NULL
 * Rgamma/Rbeta is a zero slice. */
#include "colred.cuh"

#define BN_CHUNK_ROWS 128
#define BN_MAX_CHUNKS 64

static inline int bn_chunks(int rows) {
  int s = rows / BN_CHUNK_ROWS;
  return s < 1 ? 1 : s > BN_MAX_CHUNKS ? BN_MAX_CHUNKS : s;
}

/* Launch geometry and scratch of one op: partials of NV sums per (chunk, direction, column). */
typedef struct {
  dim3 grid, block;
  int len; /* rows per chunk (the last may be shorter, never empty) */
} bn_geom;

static bn_geom bn_geometry(int k, int rows, int cols) {
  bn_geom g;
  int S = bn_chunks(rows);
  g.len = (rows + S - 1) / S;
  g.grid = colred_grid(cols, k);
  g.grid.z = (unsigned)S;
  g.block = colred_block();
  return g;
}

/* This block's rows: [r0, r1) of chunk blockIdx.z; each lane takes r0 + lane, + ROW_LANES, ... */
#define FOR_CHUNK_ROWS(r, rows, len)                                          \
  for (int r = (int)blockIdx.z * (len) + (int)threadIdx.y,                    \
           r1_ = min((rows), ((int)blockIdx.z + 1) * (len));                  \
       r < r1_; r += ROW_LANES)

/* Combines the lanes and stores the block's column sums as partial[((z*k + j)*NV + q)*cols + c]. */
template <int NV>
__device__ __forceinline__ void put_partial(double *partial, int cols, int c, double (&v)[NV]) {
  colred_combine<NV>(v);
  if (c < cols && threadIdx.y == 0) {
    size_t base = ((size_t)blockIdx.z * gridDim.y + blockIdx.y) * NV;
#pragma unroll
    for (int q = 0; q < NV; q++) partial[(base + q) * cols + c] = v[q];
  }
}

/* The column totals over all chunks (gridDim.z of them), added in chunk order. */
template <int NV>
__device__ __forceinline__ void get_total(const double *partial, int cols, int c, double (&v)[NV]) {
#pragma unroll
  for (int q = 0; q < NV; q++) v[q] = 0;
  for (unsigned s = 0; s < gridDim.z; s++) {
    size_t base = ((size_t)s * gridDim.y + blockIdx.y) * NV;
#pragma unroll
    for (int q = 0; q < NV; q++) v[q] += partial[(base + q) * cols + c];
  }
}

/* get_total for the block's columns, computed once per column (by row lane 0) and shared, not
 * once per thread: ROW_LANES times fewer reads of the partials. All threads of the block must
 * call it (it holds barriers); columns >= cols get zeros. */
template <int NV>
__device__ __forceinline__ void block_total(const double *partial, int cols, int c, double (&v)[NV]) {
  __shared__ double sh[NV][COL_TILE];
  if (threadIdx.y == 0) {
    double t[NV];
    if (c < cols) get_total<NV>(partial, cols, c, t);
#pragma unroll
    for (int q = 0; q < NV; q++) sh[q][threadIdx.x] = c < cols ? t[q] : 0.0;
  }
  __syncthreads();
#pragma unroll
  for (int q = 0; q < NV; q++) v[q] = sh[q][threadIdx.x];
  __syncthreads(); /* a second call (same NV: the same shared array) may overwrite sh */
}

/* ---- forward (one direction): batch mean, then squared deviations (two passes: no
 * cancellation in the variance), then xhat, rstd, batch_mean, Y ---- */

template <typename T>
__global__ void k_bn_fwd_mean(int rows, int cols, int len, const T *Z, double *p_mean) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  double v[1] = {0};
  if (c < cols) FOR_CHUNK_ROWS(r, rows, len) v[0] += (double)Z[(size_t)r * cols + c];
  put_partial<1>(p_mean, cols, c, v);
}

template <typename T>
__global__ void k_bn_fwd_var(int rows, int cols, int len, const T *Z, const double *p_mean, double *p_var) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  double v[1] = {0};
  double m[1];
  block_total<1>(p_mean, cols, c, m);
  if (c < cols) {
    const double mean = m[0] / rows;
    FOR_CHUNK_ROWS(r, rows, len) {
      double d = (double)Z[(size_t)r * cols + c] - mean;
      v[0] += d * d;
    }
  }
  put_partial<1>(p_var, cols, c, v);
}

template <typename T>
__global__ void k_bn_fwd_apply(int mode, int rows, int cols, int len, const T *Z, const T *gamma,
                               const T *beta, const T *run_mean, const T *run_var,
                               const double *p_mean, const double *p_var, T *batch_mean, T *xhat,
                               T *rstd, T *Y) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  double mean, var;
  if (mode == HS_BN_BATCH) { /* uniform over the block: the barriers are safe */
    double m[1], s2[1];
    block_total<1>(p_mean, cols, c, m);
    block_total<1>(p_var, cols, c, s2);
    if (c >= cols) return;
    mean = m[0] / rows;
    var = s2[0] / rows; /* biased, as PyTorch normalises in training mode */
  } else {
    if (c >= cols) return;
    mean = (double)run_mean[c];
    var = (double)run_var[c];
  }
  const double rs = 1.0 / sqrt(var + HS_BN_EPS);
  const double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
  if (blockIdx.z == 0 && threadIdx.y == 0) {
    if (rstd) rstd[c] = (T)rs;
    if (batch_mean) batch_mean[c] = (T)mean;
  }
  FOR_CHUNK_ROWS(r, rows, len) {
    size_t e = (size_t)r * cols + c;
    double xh = ((double)Z[e] - mean) * rs;
    if (xhat) xhat[e] = (T)xh;
    Y[e] = (T)(g * xh + b);
  }
}

/* ---- backward for k directions: sums of dY*xhat and dY, then dZ and the slices ---- */

template <typename T>
__global__ void k_bn_bwd_sums(int rows, int cols, int len, const T *xhat, const T *dY, double *partial) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const size_t off = (size_t)blockIdx.y * rows * cols;
  double v[2] = {0, 0};
  if (c < cols) FOR_CHUNK_ROWS(r, rows, len) {
    size_t e = (size_t)r * cols + c;
    double dy = (double)dY[off + e];
    v[0] += dy * (double)xhat[e];
    v[1] += dy;
  }
  put_partial<2>(partial, cols, c, v);
}

template <typename T>
__global__ void k_bn_bwd_apply(int mode, int rows, int cols, int len, const T *xhat, const T *rstd,
                               const T *gamma, const T *dY, const double *partial, T *dZ, T *dgamma,
                               T *dbeta, size_t pstride) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  double v[2]; /* sum dY*xhat, sum dY */
  block_total<2>(partial, cols, c, v);
  if (c >= cols) return;
  const size_t j = blockIdx.y, off = j * (size_t)rows * cols;
  if (blockIdx.z == 0 && threadIdx.y == 0) {
    if (dgamma) dgamma[j * pstride + c] = (T)((double)dgamma[j * pstride + c] + v[0]);
    if (dbeta) dbeta[j * pstride + c] = (T)((double)dbeta[j * pstride + c] + v[1]);
  }
  const double rs = (double)rstd[c], gm = gamma ? (double)gamma[c] : 1.0;
  const double m_g = gm * v[1] / rows, m_gx = gm * v[0] / rows; /* mean_r(g), mean_r(g*xhat) */
  if (!dZ) return; /* parameter gradients only */
  FOR_CHUNK_ROWS(r, rows, len) {
    size_t e = (size_t)r * cols + c;
    double g = gm * (double)dY[off + e];
    dZ[off + e] = (T)(mode == HS_BN_BATCH ? rs * (g - m_g - (double)xhat[e] * m_gx) : rs * g);
  }
}

/* ---- R-forward for k directions: sums of RZ and xhat*RZ (batch mode), then RXhat, RY ---- */

template <typename T>
__global__ void k_bn_rfwd_sums(int rows, int cols, int len, const T *xhat, const T *RZ, double *partial) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const size_t off = (size_t)blockIdx.y * rows * cols;
  double v[2] = {0, 0};
  if (c < cols) FOR_CHUNK_ROWS(r, rows, len) {
    size_t e = (size_t)r * cols + c;
    double rz = (double)RZ[off + e];
    v[0] += rz;
    v[1] += (double)xhat[e] * rz;
  }
  put_partial<2>(partial, cols, c, v);
}

template <typename T>
__global__ void k_bn_rfwd_apply(int mode, int rows, int cols, int len, const T *xhat, const T *rstd,
                                const T *gamma, const T *RZ, const T *Rgamma, const T *Rbeta,
                                size_t pstride, const double *partial, T *RXhat, T *RY) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  double v[2] = {0, 0};
  if (mode == HS_BN_BATCH) block_total<2>(partial, cols, c, v); /* mode: uniform over the block */
  if (c >= cols) return;
  const size_t j = blockIdx.y, off = j * (size_t)rows * cols;
  const double rs = (double)rstd[c], gm = gamma ? (double)gamma[c] : 1.0;
  const double rg = Rgamma ? (double)Rgamma[j * pstride + c] : 0.0;
  const double rb = Rbeta ? (double)Rbeta[j * pstride + c] : 0.0;
  const double m0 = v[0] / rows, m1 = v[1] / rows;
  FOR_CHUNK_ROWS(r, rows, len) {
    size_t e = (size_t)r * cols + c;
    double xh = (double)xhat[e], rz = (double)RZ[off + e];
    double rx = mode == HS_BN_BATCH ? rs * (rz - m0 - xh * m1) : rs * rz;
    if (RXhat) RXhat[off + e] = (T)rx;
    if (RY) RY[off + e] = (T)(rg * xh + gm * rx + rb);
  }
}

/* ---- second-order R-backward terms for k directions (dY, dZ shared by all) ---- */

/* sums over r of: dY*RXhat_j, xhat*RZ_j, dY, dY*xhat (the last three in batch mode only) */
template <typename T>
__global__ void k_bn_rbwd_sums(int mode, int rows, int cols, int len, const T *xhat, const T *dY,
                               const T *RZ, const T *RXhat, double *partial) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const size_t off = (size_t)blockIdx.y * rows * cols;
  double v[4] = {0, 0, 0, 0};
  if (c < cols) FOR_CHUNK_ROWS(r, rows, len) {
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
  put_partial<4>(partial, cols, c, v);
}

template <typename T>
__global__ void k_bn_rbwd_apply(int mode, int rows, int cols, int len, const T *xhat, const T *rstd,
                                const T *gamma, const T *dY, const T *dZ, const T *RXhat,
                                const T *Rgamma, size_t pstride, const double *partial, T *RdZ,
                                T *Rdgamma) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  double v[4];
  block_total<4>(partial, cols, c, v);
  if (c >= cols) return;
  const size_t j = blockIdx.y, off = j * (size_t)rows * cols;
  if (blockIdx.z == 0 && threadIdx.y == 0 && Rdgamma)
    Rdgamma[j * pstride + c] = (T)((double)Rdgamma[j * pstride + c] + v[0]);
  const double rs = (double)rstd[c], gm = gamma ? (double)gamma[c] : 1.0;
  const double rg = Rgamma ? (double)Rgamma[j * pstride + c] : 0.0;
  const double m_dyrx = v[0] / rows, m_xrz = v[1] / rows, m_dy = v[2] / rows, m_dyx = v[3] / rows;
  if (!RdZ) return; /* Rdgamma only */
  FOR_CHUNK_ROWS(r, rows, len) {
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

/* After the front end's checks: the device's own limit (k is a grid dimension), then
 * nothing to do for an empty call. */
#define BN_ENTER(k, rows, cols, name)                                                       \
  do {                                                                                      \
    CU_REQUIRE((k) <= 65535, name ": more than 65535 directions (a grid dimension)");       \
    if ((k) == 0 || (rows) == 0 || (cols) == 0) return HS_OK;                              \
    hs_status st_ = hs_cuda_enter(be);                                                      \
    if (st_ != HS_OK) return st_;                                                           \
  } while (0)

/* Scratch for nv sums per (chunk, direction, column). */
static hs_status bn_scratch(hs_backend *be, const bn_geom &g, int k, int cols, int nv, double **p) {
  size_t n = (size_t)g.grid.z * k * nv * cols;
  hs_status st = hs_cuda_scratch(be, n * sizeof(double));
  *p = (double *)CB(be)->d_scratch;
  return st;
}

template <typename T>
static hs_status bn_fwd_t(hs_backend *be, int mode, int rows, int cols, const void *Z, const void *gamma,
                          const void *beta, const void *run_mean, const void *run_var, void *batch_mean,
                          void *xhat, void *rstd, void *Y) {
  cudaStream_t s = CB(be)->stream;
  bn_geom g = bn_geometry(1, rows, cols);
  double *p_mean = NULL, *p_var = NULL;
  if (mode == HS_BN_BATCH) {
    hs_status st = bn_scratch(be, g, 1, cols, 2, &p_mean); /* two regions: mean, var */
    if (st != HS_OK) return st;
    p_var = p_mean + (size_t)g.grid.z * cols;
    k_bn_fwd_mean<T><<<g.grid, g.block, 0, s>>>(rows, cols, g.len, (const T *)Z, p_mean);
    CU_LAUNCH("k_bn_fwd_mean");
    k_bn_fwd_var<T><<<g.grid, g.block, 0, s>>>(rows, cols, g.len, (const T *)Z, p_mean, p_var);
    CU_LAUNCH("k_bn_fwd_var");
  }
  k_bn_fwd_apply<T><<<g.grid, g.block, 0, s>>>(mode, rows, cols, g.len, (const T *)Z, (const T *)gamma,
                                               (const T *)beta, (const T *)run_mean, (const T *)run_var,
                                               p_mean, p_var, (T *)batch_mean, (T *)xhat, (T *)rstd, (T *)Y);
  CU_LAUNCH("k_bn_fwd_apply");
  return HS_OK;
}

hs_status cu_bn_fwd(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                    const void *gamma, const void *beta, const void *run_mean, const void *run_var,
                    void *batch_mean, void *xhat, void *rstd, void *Y) {
  /* Not BN_ENTER's early return for 0 rows: running mode over 0 rows still writes rstd and
   * batch_mean (from the running statistics), as the CPU does; the apply kernel then visits
   * no rows. */
  if (cols == 0 || (rows == 0 && !rstd && !batch_mean)) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return t == HS_F64 ? bn_fwd_t<double>(be, mode, rows, cols, Z, gamma, beta, run_mean, run_var, batch_mean, xhat, rstd, Y)
                     : bn_fwd_t<float>(be, mode, rows, cols, Z, gamma, beta, run_mean, run_var, batch_mean, xhat, rstd, Y);
}

template <typename T>
static hs_status bn_bwd_t(hs_backend *be, int mode, int k, int rows, int cols, const void *xhat,
                          const void *rstd, const void *gamma, const void *dY, void *dZ, void *dgamma,
                          void *dbeta, size_t pstride) {
  cudaStream_t s = CB(be)->stream;
  bn_geom g = bn_geometry(k, rows, cols);
  double *part;
  hs_status st = bn_scratch(be, g, k, cols, 2, &part);
  if (st != HS_OK) return st;
  k_bn_bwd_sums<T><<<g.grid, g.block, 0, s>>>(rows, cols, g.len, (const T *)xhat, (const T *)dY, part);
  CU_LAUNCH("k_bn_bwd_sums");
  k_bn_bwd_apply<T><<<g.grid, g.block, 0, s>>>(mode, rows, cols, g.len, (const T *)xhat, (const T *)rstd,
                                               (const T *)gamma, (const T *)dY, part, (T *)dZ, (T *)dgamma,
                                               (T *)dbeta, pstride);
  CU_LAUNCH("k_bn_bwd_apply");
  return HS_OK;
}

hs_status cu_bn_bwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                    const void *xhat, const void *rstd, const void *gamma, const void *dY, void *dZ,
                    void *dgamma, void *dbeta, size_t pstride) {
  BN_ENTER(k, rows, cols, "bn_bwd");
  return t == HS_F64 ? bn_bwd_t<double>(be, mode, k, rows, cols, xhat, rstd, gamma, dY, dZ, dgamma, dbeta, pstride)
                     : bn_bwd_t<float>(be, mode, k, rows, cols, xhat, rstd, gamma, dY, dZ, dgamma, dbeta, pstride);
}

template <typename T>
static hs_status bn_rfwd_t(hs_backend *be, int mode, int k, int rows, int cols, const void *xhat,
                           const void *rstd, const void *gamma, const void *RZ, const void *Rgamma,
                           const void *Rbeta, size_t pstride, void *RXhat, void *RY) {
  cudaStream_t s = CB(be)->stream;
  bn_geom g = bn_geometry(k, rows, cols);
  double *part = NULL;
  if (mode == HS_BN_BATCH) {
    hs_status st = bn_scratch(be, g, k, cols, 2, &part);
    if (st != HS_OK) return st;
    k_bn_rfwd_sums<T><<<g.grid, g.block, 0, s>>>(rows, cols, g.len, (const T *)xhat, (const T *)RZ, part);
    CU_LAUNCH("k_bn_rfwd_sums");
  }
  k_bn_rfwd_apply<T><<<g.grid, g.block, 0, s>>>(mode, rows, cols, g.len, (const T *)xhat, (const T *)rstd,
                                                (const T *)gamma, (const T *)RZ, (const T *)Rgamma,
                                                (const T *)Rbeta, pstride, part, (T *)RXhat, (T *)RY);
  CU_LAUNCH("k_bn_rfwd_apply");
  return HS_OK;
}

hs_status cu_bn_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                     const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                     const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat, void *RY) {
  BN_ENTER(k, rows, cols, "bn_rfwd");
  return t == HS_F64 ? bn_rfwd_t<double>(be, mode, k, rows, cols, xhat, rstd, gamma, RZ, Rgamma, Rbeta, pstride, RXhat, RY)
                     : bn_rfwd_t<float>(be, mode, k, rows, cols, xhat, rstd, gamma, RZ, Rgamma, Rbeta, pstride, RXhat, RY);
}

template <typename T>
static hs_status bn_rbwd_t(hs_backend *be, int mode, int k, int rows, int cols, const void *xhat,
                           const void *rstd, const void *gamma, const void *dY, const void *dZ,
                           const void *RZ, const void *RXhat, const void *Rgamma, size_t pstride,
                           void *RdZ, void *Rdgamma) {
  cudaStream_t s = CB(be)->stream;
  bn_geom g = bn_geometry(k, rows, cols);
  double *part;
  hs_status st = bn_scratch(be, g, k, cols, 4, &part);
  if (st != HS_OK) return st;
  k_bn_rbwd_sums<T><<<g.grid, g.block, 0, s>>>(mode, rows, cols, g.len, (const T *)xhat, (const T *)dY,
                                               (const T *)RZ, (const T *)RXhat, part);
  CU_LAUNCH("k_bn_rbwd_sums");
  k_bn_rbwd_apply<T><<<g.grid, g.block, 0, s>>>(mode, rows, cols, g.len, (const T *)xhat, (const T *)rstd,
                                                (const T *)gamma, (const T *)dY, (const T *)dZ,
                                                (const T *)RXhat, (const T *)Rgamma, pstride, part,
                                                (T *)RdZ, (T *)Rdgamma);
  CU_LAUNCH("k_bn_rbwd_apply");
  return HS_OK;
}

hs_status cu_bn_rbwd_extra(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                           const void *xhat, const void *rstd, const void *gamma, const void *dY,
                           const void *dZ, const void *RZ, const void *RXhat, const void *Rgamma,
                           size_t pstride, void *RdZ, void *Rdgamma) {
  BN_ENTER(k, rows, cols, "bn_rbwd_extra");
  return t == HS_F64 ? bn_rbwd_t<double>(be, mode, k, rows, cols, xhat, rstd, gamma, dY, dZ, RZ, RXhat, Rgamma, pstride, RdZ, Rdgamma)
                     : bn_rbwd_t<float>(be, mode, k, rows, cols, xhat, rstd, gamma, dY, dZ, RZ, RXhat, Rgamma, pstride, RdZ, Rdgamma);
}
