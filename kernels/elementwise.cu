/* fill, nonfinite, bias_add, col_sum and the activation ops. The scalar activation maths is
 * act_math.h, shared with the CPU loops. */
#include "backend/act_math.h"
#include "colred.cuh"

/* Activation maths by dtype: f64 uses the double formulas, f32 the float twins (as the CPU). */
template <typename T> struct actm;
template <> struct actm<double> {
  static __device__ __forceinline__ double f(int a, double y) { return hs_act_f(a, y); }
  static __device__ __forceinline__ double df(int a, double y) { return hs_act_df(a, y); }
  static __device__ __forceinline__ double d2f(int a, double y) { return hs_act_d2f(a, y); }
};
template <> struct actm<float> {
  static __device__ __forceinline__ float f(int a, float y) { return hs_act_ff(a, y); }
  static __device__ __forceinline__ float df(int a, float y) { return hs_act_dff(a, y); }
  static __device__ __forceinline__ float d2f(int a, float y) { return hs_act_d2ff(a, y); }
};

#define GRID_STRIDE(i, n)                                                          \
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);         \
       i += (size_t)gridDim.x * blockDim.x)

/* Dispatches a templated launcher on the dtype. */
#define BY_DTYPE(t, fn, ...) ((t) == HS_F64 ? fn<double>(__VA_ARGS__) : fn<float>(__VA_ARGS__))

/* ---- fill ---- */

template <typename T> __global__ void k_fill(size_t n, T v, T *x) {
  GRID_STRIDE(i, n) x[i] = v;
}
template <typename T> static hs_status fill_t(hs_backend *be, size_t n, double value, void *x) {
  k_fill<T><<<ew_blocks(n), EW_THREADS, 0, CB(be)->stream>>>(n, (T)value, (T *)x);
  CU_LAUNCH("k_fill");
  return HS_OK;
}
hs_status cu_fill(hs_backend *be, hs_dtype t, size_t n, double value, void *x) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return BY_DTYPE(t, fill_t, be, n, value, x);
}

/* ---- nonfinite ---- */

/* Any thread that sees NaN/Inf stores 1: all writers store the same value, so the race is
 * benign and the answer deterministic. */
template <typename T> __global__ void k_nonfinite(size_t n, const T *x, int *flag) {
  GRID_STRIDE(i, n) {
    if (!isfinite(x[i])) *flag = 1;
  }
}
template <typename T> static hs_status nonfinite_t(hs_backend *be, size_t n, const void *x) {
  cuda_backend *cb = CB(be);
  k_nonfinite<T><<<ew_blocks(n), EW_THREADS, 0, cb->stream>>>(n, (const T *)x, cb->d_flag);
  CU_LAUNCH("k_nonfinite");
  return HS_OK;
}
hs_status cu_nonfinite(hs_backend *be, hs_dtype t, size_t n, const void *x, int *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cuda_backend *cb = CB(be);
  CU_CHECK(cudaMemsetAsync(cb->d_flag, 0, sizeof(int), cb->stream));
  st = BY_DTYPE(t, nonfinite_t, be, n, x);
  if (st != HS_OK) return st;
  CU_CHECK(cudaMemcpyAsync(cb->h_flag, cb->d_flag, sizeof(int), cudaMemcpyDeviceToHost, cb->stream));
  CU_CHECK(cudaStreamSynchronize(cb->stream));
  *out = *cb->h_flag != 0;
  return HS_OK;
}

/* ---- bias_add: Y (k, rows, cols) += bias_j (cols) at bias + j*pstride ---- */

template <typename T>
__global__ void k_bias_add(size_t total, size_t rc, int cols, const T *bias, size_t pstride, T *Y) {
  GRID_STRIDE(i, total) {
    size_t j = i / rc;
    int c = (int)(i % (size_t)cols);
    Y[i] += bias[j * pstride + c];
  }
}
template <typename T>
static hs_status bias_add_t(hs_backend *be, int k, int rows, int cols, const void *bias,
                            size_t pstride, void *Y) {
  size_t rc = (size_t)rows * cols, total = rc * k;
  k_bias_add<T><<<ew_blocks(total), EW_THREADS, 0, CB(be)->stream>>>(total, rc, cols,
                                                                     (const T *)bias, pstride, (T *)Y);
  CU_LAUNCH("k_bias_add");
  return HS_OK;
}
hs_status cu_bias_add(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *bias,
                      size_t pstride, void *Y) {
  if ((size_t)k * rows * cols == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return BY_DTYPE(t, bias_add_t, be, k, rows, cols, bias, pstride, Y);
}

/* ---- col_sum: out[j*pstride + c] += sum_r X_j[r][c] ----
 * Two passes so that tall arrays (a batch of 1024 rows, a 10-wide head) still fill the GPU:
 * the rows are cut into S chunks, S a function of rows alone (so the summation order, and the
 * result, depend only on the shape); one block per (column tile, direction, chunk) reduces its
 * chunk (colred.cuh) into a double partial, and a second kernel adds the S partials of each
 * column in chunk order. */

#define CS_CHUNK_ROWS 128 /* rows per chunk at least (16 per row lane) */
#define CS_MAX_CHUNKS 64

static inline int cs_chunks(int rows) {
  int s = rows / CS_CHUNK_ROWS;
  return s < 1 ? 1 : s > CS_MAX_CHUNKS ? CS_MAX_CHUNKS : s;
}

/* partial[(s*k + j)*cols + c] = sum over chunk s of X_j[r][c]; grid (tiles, k, S) */
template <typename T>
__global__ void k_col_sum_part(int rows, int cols, int chunk, const T *X, double *partial) {
  const int c = blockIdx.x * COL_TILE + threadIdx.x;
  const size_t j = blockIdx.y, k = gridDim.y, s = blockIdx.z;
  const T *Xj = X + j * (size_t)rows * cols;
  const int r0 = (int)s * chunk, r1 = min(rows, r0 + chunk);
  double v[1] = {0};
  if (c < cols)
    for (int r = r0 + threadIdx.y; r < r1; r += ROW_LANES) v[0] += (double)Xj[(size_t)r * cols + c];
  colred_combine<1>(v);
  if (c < cols && threadIdx.y == 0) partial[(s * k + j) * cols + c] = v[0];
}

/* out[j*pstride + c] += sum_s partial[(s*k + j)*cols + c], s in order */
template <typename T>
__global__ void k_col_sum_fin(int k, int cols, int nchunks, const double *partial, T *out, size_t pstride) {
  GRID_STRIDE(i, (size_t)k * cols) {
    double acc = 0;
    for (int s = 0; s < nchunks; s++) acc += partial[(size_t)s * k * cols + i];
    size_t j = i / cols, c = i % cols;
    T *o = out + j * pstride + c;
    *o = (T)((double)*o + acc);
  }
}

template <typename T>
static hs_status col_sum_t(hs_backend *be, int k, int rows, int cols, const void *X, void *out,
                           size_t pstride) {
  cuda_backend *cb = CB(be);
  const int S = cs_chunks(rows), chunk = (rows + S - 1) / S;
  hs_status st = hs_cuda_scratch(be, (size_t)S * k * cols * sizeof(double));
  if (st != HS_OK) return st;
  double *partial = (double *)cb->d_scratch;
  dim3 grid = colred_grid(cols, k);
  grid.z = (unsigned)S;
  k_col_sum_part<T><<<grid, colred_block(), 0, cb->stream>>>(rows, cols, chunk, (const T *)X, partial);
  CU_LAUNCH("k_col_sum_part");
  size_t n = (size_t)k * cols;
  k_col_sum_fin<T><<<ew_blocks(n), EW_THREADS, 0, cb->stream>>>(k, cols, S, partial, (T *)out, pstride);
  CU_LAUNCH("k_col_sum_fin");
  return HS_OK;
}
hs_status cu_col_sum(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *X,
                     void *out, size_t pstride) {
  CU_REQUIRE(k <= 65535, "col_sum: more than 65535 directions (a grid dimension)");
  if (k == 0 || cols == 0 || rows == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return BY_DTYPE(t, col_sum_t, be, k, rows, cols, X, out, pstride);
}

/* ---- activations ---- */

template <typename T> __global__ void k_act_fwd(int act, size_t n, const T *Y, T *A) {
  GRID_STRIDE(i, n) A[i] = actm<T>::f(act, Y[i]);
}
template <typename T>
static hs_status act_fwd_t(hs_backend *be, int act, size_t n, const void *Y, void *A) {
  k_act_fwd<T><<<ew_blocks(n), EW_THREADS, 0, CB(be)->stream>>>(act, n, (const T *)Y, (T *)A);
  CU_LAUNCH("k_act_fwd");
  return HS_OK;
}
hs_status cu_act_fwd(hs_backend *be, hs_dtype t, int act, size_t n, const void *Y, void *A) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return BY_DTYPE(t, act_fwd_t, be, act, n, Y, A);
}

/* out_j = f'(Y) * G_j; Y (n), G and out (k, n); out may alias G (same index read then written).
 * A thread owns element e of all k directions: f'(Y[e]) (a tanh for tanh) once, not k times;
 * the k accesses stay coalesced across the warp. */
template <typename T>
__global__ void k_act_deriv_mul(int act, int k, size_t n, const T *Y, const T *G, T *out) {
  GRID_STRIDE(e, n) {
    const T d = actm<T>::df(act, Y[e]);
    for (int j = 0; j < k; j++) out[(size_t)j * n + e] = d * G[(size_t)j * n + e];
  }
}
template <typename T>
static hs_status act_deriv_mul_t(hs_backend *be, int act, int k, size_t n, const void *Y,
                                 const void *G, void *out) {
  k_act_deriv_mul<T><<<ew_blocks(n), EW_THREADS, 0, CB(be)->stream>>>(
      act, k, n, (const T *)Y, (const T *)G, (T *)out);
  CU_LAUNCH("k_act_deriv_mul");
  return HS_OK;
}
hs_status cu_act_deriv_mul(hs_backend *be, hs_dtype t, int act, int k, size_t n, const void *Y,
                           const void *G, void *out) {
  if (n == 0 || k == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return BY_DTYPE(t, act_deriv_mul_t, be, act, k, n, Y, G, out);
}

/* RdY_j += f''(Y) * dA * RY_j; Y and dA (n), RY and RdY (k, n). f''(Y)*dA once per element,
 * then the k directions (same product order as the CPU: (f''*dA)*RY). */
template <typename T>
__global__ void k_act_rbwd_extra(int act, int k, size_t n, const T *Y, const T *dA, const T *RY, T *RdY) {
  GRID_STRIDE(e, n) {
    const T w = actm<T>::d2f(act, Y[e]) * dA[e];
    for (int j = 0; j < k; j++) RdY[(size_t)j * n + e] += w * RY[(size_t)j * n + e];
  }
}
template <typename T>
static hs_status act_rbwd_extra_t(hs_backend *be, int act, int k, size_t n, const void *Y,
                                  const void *dA, const void *RY, void *RdY) {
  k_act_rbwd_extra<T><<<ew_blocks(n), EW_THREADS, 0, CB(be)->stream>>>(
      act, k, n, (const T *)Y, (const T *)dA, (const T *)RY, (T *)RdY);
  CU_LAUNCH("k_act_rbwd_extra");
  return HS_OK;
}
hs_status cu_act_rbwd_extra(hs_backend *be, hs_dtype t, int act, int k, size_t n, const void *Y,
                            const void *dA, const void *RY, void *RdY) {
  /* f'' = 0 for linear and ReLU: the term vanishes, and skipping it saves a pass over k*n. */
  if (n == 0 || k == 0 || act != 2) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return BY_DTYPE(t, act_rbwd_extra_t, be, act, k, n, Y, dA, RY, RdY);
}
