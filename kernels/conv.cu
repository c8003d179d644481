/* Convolution by im2col + GEMM, and pooling, over NCHW arrays: im2col, col2im, transpose,
 * pool_fwd, pool_rfwd and pool_bwd (contracts in backend.h; the CPU twin is
 * src/backend/cpu_conv.c).
 *
 * Every kernel is a gather: one thread per output element (grid-stride), no atomics. Where an
 * output is a sum (col2im, average pooling, pool_bwd) the thread adds its terms in double in
 * the order backend.h fixes (ascending (i, j); row-major window order; ascending window
 * order) and rounds once to the dtype, exactly as the CPU backend does: the two agree bit for
 * bit (there are only additions and one division, both IEEE on either side).
 *
 * Arguments arrive checked by the front end both backends share (src/backend/check.c), with
 * one difference in what depends on the data: the argmax of pool_rfwd/pool_bwd is not
 * validated here (that would need a synchronising flag
 * read on every call). An argmax outside its window makes pool_rfwd write NaN there (never an
 * out-of-plane read) and is ignored by pool_bwd's gather; the CPU backend reports it as
 * HS_E_INVALID. */
#include "cuda_internal.h"

#define CONV_GRID_STRIDE(i, n)                                                     \
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);         \
       i += (size_t)gridDim.x * blockDim.x)

#define CONV_BY_DTYPE(t, fn, ...) ((t) == HS_F64 ? fn<double>(__VA_ARGS__) : fn<float>(__VA_ARGS__))

/* ---- im2col: cols[(c*kh + i)*kw + j][b*L + oy*Wo + ox], one thread per entry ---- */

template <typename T>
__global__ void k_im2col(size_t total, long long nL, hs_window g, const T *X, T *cols, long long ldc) {
  const long long L = (long long)g.Ho * g.Wo;
  CONV_GRID_STRIDE(e, total) {
    const long long row = (long long)(e / (size_t)nL), q = (long long)(e % (size_t)nL);
    const int b = (int)(q / L), l = (int)(q % L), oy = l / g.Wo, ox = l % g.Wo;
    const int c = (int)(row / ((long long)g.kh * g.kw)), i = (int)(row / g.kw % g.kh), j = (int)(row % g.kw);
    const int iy = oy * g.sh - g.ph + i, ix = ox * g.sw - g.pw + j;
    T v = (T)0;
    if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
      v = X[(((size_t)b * g.C + c) * g.H + iy) * g.W + ix];
    cols[(size_t)row * (size_t)ldc + (size_t)q] = v;
  }
}

template <typename T>
static hs_status im2col_t(hs_backend *be, int n, hs_window g, const void *X, void *cols, long long ldc) {
  const long long nL = (long long)n * g.Ho * g.Wo;
  const size_t total = (size_t)g.C * g.kh * g.kw * (size_t)nL;
  k_im2col<T><<<ew_blocks(total), EW_THREADS, 0, CB(be)->stream>>>(total, nL, g, (const T *)X, (T *)cols, ldc);
  CU_LAUNCH("k_im2col");
  return HS_OK;
}

hs_status cu_im2col(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X, void *cols, long long ldc) {
  const long long nL = (long long)n * g.Ho * g.Wo;
  if ((long long)g.C * g.kh * g.kw * nL == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return CONV_BY_DTYPE(t, im2col_t, be, n, g, X, cols, ldc);
}

/* ---- col2im: one thread per dX element, its terms in ascending (i, j) ---- */

template <typename T>
__global__ void k_col2im(size_t total, hs_window g, const T *cols, long long ldc, T *dX) {
  const size_t L = (size_t)g.Ho * g.Wo;
  CONV_GRID_STRIDE(e, total) {
    const int x = (int)(e % (size_t)g.W), y = (int)(e / (size_t)g.W % (size_t)g.H);
    const size_t pl = e / ((size_t)g.H * g.W);
    const int c = (int)(pl % (size_t)g.C);
    const size_t b = pl / (size_t)g.C;
    double acc = 0;
    for (int i = 0; i < g.kh; i++) {
      const int ty = y + g.ph - i; /* = oy*sh */
      if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.Ho) continue;
      const int oy = ty / g.sh;
      for (int j = 0; j < g.kw; j++) {
        const int tx = x + g.pw - j; /* = ox*sw */
        if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.Wo) continue;
        const size_t row = ((size_t)c * g.kh + i) * g.kw + j;
        acc += (double)cols[row * (size_t)ldc + b * L + (size_t)oy * g.Wo + tx / g.sw];
      }
    }
    dX[e] = (T)acc;
  }
}

template <typename T>
static hs_status col2im_t(hs_backend *be, int n, hs_window g, const void *cols, long long ldc, void *dX) {
  const size_t total = (size_t)n * g.C * g.H * g.W;
  k_col2im<T><<<ew_blocks(total), EW_THREADS, 0, CB(be)->stream>>>(total, g, (const T *)cols, ldc, (T *)dX);
  CU_LAUNCH("k_col2im");
  return HS_OK;
}

hs_status cu_col2im(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols, long long ldc, void *dX) {
  if ((long long)n * g.C * g.H * g.W == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return CONV_BY_DTYPE(t, col2im_t, be, n, g, cols, ldc, dX);
}

/* ---- transpose ----
 * inner == 1 (channels last): the classic shared-memory tile, so that both the reads (along
 * s) and the writes (along r) are coalesced; inner > 1: one thread per dst element, whose
 * reads are contiguous runs of `inner` already. Pure copies: any geometry gives the same
 * bytes. */

#define TR_TILE 32
#define TR_ROWS 8

/* grid (ceil(S/32), ceil(R/32), min(batch, 65535)); block (32, 8) */
template <typename T>
__global__ void k_transpose_tile(int batch, int R, int S, const T *src, T *dst) {
  __shared__ T tile[TR_TILE][TR_TILE + 1]; /* +1: no bank conflicts on the transposed read */
  const int s0 = blockIdx.x * TR_TILE, r0 = blockIdx.y * TR_TILE;
  for (int b = blockIdx.z; b < batch; b += gridDim.z) {
    const T *a = src + (size_t)b * R * S;
    T *d = dst + (size_t)b * R * S;
    for (int q = threadIdx.y; q < TR_TILE; q += TR_ROWS) {
      const int r = r0 + q, s = s0 + threadIdx.x;
      if (r < R && s < S) tile[q][threadIdx.x] = a[(size_t)r * S + s];
    }
    __syncthreads();
    for (int q = threadIdx.y; q < TR_TILE; q += TR_ROWS) {
      const int s = s0 + q, r = r0 + threadIdx.x;
      if (r < R && s < S) d[(size_t)s * R + r] = tile[threadIdx.x][q];
    }
    __syncthreads(); /* the next sample overwrites the tile */
  }
}

template <typename T>
__global__ void k_transpose(size_t total, int R, int S, int inner, const T *src, T *dst) {
  CONV_GRID_STRIDE(i, total) {
    const size_t e = i % (size_t)inner, q = i / (size_t)inner;
    const size_t r = q % (size_t)R, bs = q / (size_t)R;
    const size_t s = bs % (size_t)S, b = bs / (size_t)S;
    dst[i] = src[((b * R + r) * S + s) * inner + e];
  }
}

template <typename T>
static hs_status transpose_t(hs_backend *be, int batch, int R, int S, int inner, const void *src, void *dst) {
  cudaStream_t st = CB(be)->stream;
  const unsigned gx = (unsigned)((S + TR_TILE - 1) / TR_TILE), gy = (unsigned)((R + TR_TILE - 1) / TR_TILE);
  if (inner == 1 && gy <= 65535u) {
    dim3 grid(gx, gy, (unsigned)(batch < 65535 ? batch : 65535)), block(TR_TILE, TR_ROWS);
    k_transpose_tile<T><<<grid, block, 0, st>>>(batch, R, S, (const T *)src, (T *)dst);
    CU_LAUNCH("k_transpose_tile");
    return HS_OK;
  }
  const size_t total = (size_t)batch * R * S * inner;
  k_transpose<T><<<ew_blocks(total), EW_THREADS, 0, st>>>(total, R, S, inner, (const T *)src, (T *)dst);
  CU_LAUNCH("k_transpose");
  return HS_OK;
}

hs_status cu_transpose(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner, const void *src, void *dst) {
  if ((size_t)batch * R * S * inner == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return CONV_BY_DTYPE(t, transpose_t, be, batch, R, S, inner, src, dst);
}

/* ---- pooling (no padding: every window lies inside its plane) ---- */

/* The double sum of the window at (y0, x0) in row-major window order, divided once by kh*kw
 * (as cpu_conv.c's window_mean). */
template <typename T>
__device__ __forceinline__ double window_mean(const T *x, const hs_window &g, int y0, int x0) {
  double s = 0;
  for (int i = 0; i < g.kh; i++) {
    const T *r = x + (size_t)(y0 + i) * g.W + x0;
    for (int j = 0; j < g.kw; j++) s += (double)r[j];
  }
  return s / ((double)g.kh * g.kw);
}

/* One thread per output (n, C, Ho, Wo). Max: m is replaced by v when v > m, or v is NaN and m
 * is not: the first maximum in row-major window order, the first NaN being "the maximum". */
template <typename T>
__global__ void k_pool_fwd(size_t total, int mode, hs_window g, const T *X, T *Y, int32_t *argmax) {
  CONV_GRID_STRIDE(w, total) {
    const int ox = (int)(w % (size_t)g.Wo), oy = (int)(w / (size_t)g.Wo % (size_t)g.Ho);
    const size_t pl = w / ((size_t)g.Ho * g.Wo);
    const T *x = X + pl * g.H * g.W;
    const int y0 = oy * g.sh, x0 = ox * g.sw;
    if (mode == HS_POOL_AVG) {
      Y[w] = (T)window_mean(x, g, y0, x0);
      continue;
    }
    int32_t best = y0 * g.W + x0;
    T m = x[best];
    for (int i = 0; i < g.kh; i++)
      for (int j = 0; j < g.kw; j++) {
        const int32_t p = (y0 + i) * g.W + x0 + j;
        const T v = x[p];
        if (m == m && (v > m || v != v)) m = v, best = p;
      }
    Y[w] = m;
    argmax[w] = best;
  }
}

template <typename T>
static hs_status pool_fwd_t(hs_backend *be, int mode, int n, hs_window g, const void *X, void *Y, int32_t *argmax) {
  const size_t total = (size_t)n * g.C * g.Ho * g.Wo;
  k_pool_fwd<T><<<ew_blocks(total), EW_THREADS, 0, CB(be)->stream>>>(total, mode, g, (const T *)X, (T *)Y, argmax);
  CU_LAUNCH("k_pool_fwd");
  return HS_OK;
}

/* Shared argument checks of the three pooling ops (as cpu_conv.c's pool_check). */
hs_status cu_pool_fwd(hs_backend *be, hs_dtype t, int mode, int n, hs_window g, const void *X, void *Y,
                      int32_t *argmax) {
  if ((long long)n * g.C == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return CONV_BY_DTYPE(t, pool_fwd_t, be, mode, n, g, X, Y, argmax);
}

/* Whether argmax a names an element of window (oy, ox). */
__device__ __forceinline__ bool in_window(int32_t a, const hs_window &g, int oy, int ox) {
  if (a < 0) return false;
  const int y = a / g.W, x = a % g.W;
  return y >= oy * g.sh && y < oy * g.sh + g.kh && x >= ox * g.sw && x < ox * g.sw + g.kw;
}

/* One thread per output (k, n, C, Ho, Wo); argmax (n, C, Ho, Wo) shared by the directions. */
template <typename T>
__global__ void k_pool_rfwd(size_t total, size_t planes, int mode, hs_window g, const int32_t *argmax, const T *RX,
                            T *RY) {
  const size_t L = (size_t)g.Ho * g.Wo;
  CONV_GRID_STRIDE(w, total) {
    const size_t task = w / L, l = w % L;
    const int ox = (int)(l % (size_t)g.Wo), oy = (int)(l / (size_t)g.Wo);
    const T *rx = RX + task * g.H * g.W;
    if (mode == HS_POOL_AVG) {
      RY[w] = (T)window_mean(rx, g, oy * g.sh, ox * g.sw);
      continue;
    }
    const int32_t a = argmax[(task % planes) * L + l];
    RY[w] = in_window(a, g, oy, ox) ? rx[a] : (T)nan("");
  }
}

template <typename T>
static hs_status pool_rfwd_t(hs_backend *be, int mode, int k, int n, hs_window g, const int32_t *argmax,
                             const void *RX, void *RY) {
  const size_t planes = (size_t)n * g.C, total = (size_t)k * planes * g.Ho * g.Wo;
  k_pool_rfwd<T><<<ew_blocks(total), EW_THREADS, 0, CB(be)->stream>>>(total, planes, mode, g, argmax, (const T *)RX,
                                                                      (T *)RY);
  CU_LAUNCH("k_pool_rfwd");
  return HS_OK;
}

hs_status cu_pool_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g, const int32_t *argmax,
                       const void *RX, void *RY) {
  if ((long long)k * n * g.C == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return CONV_BY_DTYPE(t, pool_rfwd_t, be, mode, k, n, g, argmax, RX, RY);
}

/* One thread per dX element (k, n, C, H, W): the windows oy in [ceil((y - kh + 1)/sh), y/sh]
 * (clipped to [0, Ho)), likewise ox, in row-major window order. */
__device__ __forceinline__ void covering(int y, int k, int s, int n, int *lo, int *hi) {
  const int a = y - k + 1; /* oy*s >= a */
  int l = a <= 0 ? 0 : (a + s - 1) / s;
  int h = y / s + 1;
  if (h > n) h = n;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

template <typename T>
__global__ void k_pool_bwd(size_t total, size_t planes, int mode, hs_window g, const int32_t *argmax, const T *dY,
                           T *dX) {
  const size_t L = (size_t)g.Ho * g.Wo, HW = (size_t)g.H * g.W;
  const double kk = (double)g.kh * g.kw;
  CONV_GRID_STRIDE(e, total) {
    const size_t task = e / HW;
    const int32_t p = (int32_t)(e % HW);
    const int y = p / g.W, x = p % g.W;
    int oy0, oy1, ox0, ox1;
    covering(y, g.kh, g.sh, g.Ho, &oy0, &oy1);
    covering(x, g.kw, g.sw, g.Wo, &ox0, &ox1);
    const T *dy = dY + task * L;
    const int32_t *am = mode == HS_POOL_MAX ? argmax + (task % planes) * L : NULL;
    double s = 0;
    for (int oy = oy0; oy < oy1; oy++)
      for (int ox = ox0; ox < ox1; ox++) {
        const size_t w = (size_t)oy * g.Wo + ox;
        if (!am || am[w] == p) s += (double)dy[w];
      }
    dX[e] = (T)(am ? s : s / kk);
  }
}

template <typename T>
static hs_status pool_bwd_t(hs_backend *be, int mode, int k, int n, hs_window g, const int32_t *argmax, const void *dY,
                            void *dX) {
  const size_t planes = (size_t)n * g.C, total = (size_t)k * planes * g.H * g.W;
  k_pool_bwd<T><<<ew_blocks(total), EW_THREADS, 0, CB(be)->stream>>>(total, planes, mode, g, argmax, (const T *)dY,
                                                                     (T *)dX);
  CU_LAUNCH("k_pool_bwd");
  return HS_OK;
}

hs_status cu_pool_bwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g, const int32_t *argmax,
                      const void *dY, void *dX) {
  if ((long long)k * n * g.C == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return CONV_BY_DTYPE(t, pool_bwd_t, be, mode, k, n, g, argmax, dY, dX);
}
