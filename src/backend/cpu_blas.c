/* BLAS-like ops on OpenBLAS (CBLAS, row-major): gemm, strided-batched gemm, gemv, axpy, scal.
 *
 * Determinism across thread counts. OpenBLAS's own threading changes the summation order
 * with the thread count (measured on 0.3.21: dgemm 700x4x700 and dgemv 700x700 differ in the
 * last bits between 1 and 2 threads), which would make Lanczos tridiagonals, and so every
 * density file, depend on the machine. So OpenBLAS runs single-threaded (cpu.c) and we
 * thread around it: the output is cut into tiles by a rule that depends on the shape only,
 * never on the thread count, and each tile is one single-threaded library call. A long
 * reduction dimension in gemv is cut into fixed chunks whose partial results are added in
 * chunk order in double. Whichever thread runs a tile, the same calls produce the same bits.
 *
 * Degenerate shapes are handled here rather than trusted to the library: a gemm with k == 0
 * (or alpha == 0) is still C = beta*C, gemv with an empty inner dimension still scales y
 * (reference BLAS skips that), and beta == 0 never reads the output (so NaN garbage there is
 * cleared), whatever the library version does with a zero scale. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu_internal.h"

static inline CBLAS_TRANSPOSE cblas_trans(hs_trans t) {
  return t == HS_TRANS ? CblasTrans : CblasNoTrans;
}
static inline int imin(int a, int b) { return a < b ? a : b; }
static inline long ceil_div(long a, long b) { return (a + b - 1) / b; }

/* Below this many flops (2mnk) a gemm or gemv runs in the calling thread. */
#define BLAS_PAR_FLOPS (1L << 21)

/* ---- gemm tiling ----
 * Each tile re-packs its A and B panels, an overhead of about 1/mb + 1/nb per flop: tiles
 * start at 256 x 512 (within noise of one whole-matrix call) and shrink, columns first,
 * down to 128 x 256 until there are GEMM_MIN_TILES of them, so that mid-size products
 * still spread over the cores. (64 x 128 tiles cost 10-20% single-threaded on the HVP
 * benchmark's shapes, 128 x 256 within noise.) A function of (m, n) only. */
#define GEMM_MIN_TILES 16

typedef struct {
  int mb, nb;
  long tm, tn;
} gemm_tiling;

static gemm_tiling gemm_tiles(int m, int n) {
  gemm_tiling g = {256, 512, 0, 0};
  for (;;) {
    g.tm = ceil_div(m, g.mb), g.tn = ceil_div(n, g.nb);
    if (g.tm * g.tn >= GEMM_MIN_TILES) break;
    if (g.nb > 256 && (g.nb >= 2 * g.mb || g.mb <= 128)) g.nb /= 2;
    else if (g.mb > 128) g.mb /= 2;
    else break;
  }
  return g;
}

/* One tile C(mm x nn) = alpha op(A) op(B) + beta C, single-threaded. */
#define DEF_GEMM_TILE(T, S, P)                                                                 \
  static void gemm_tile_##S(hs_trans ta, hs_trans tb, int mm, int nn, int k, double alpha,     \
                            const T *A, int lda, const T *B, int ldb, double beta, T *C,       \
                            int ldc) {                                                         \
    if (beta == 0) /* BLAS semantics: C is not read */                                         \
      for (int i = 0; i < mm; i++) memset(C + (size_t)i * ldc, 0, (size_t)nn * sizeof(T));     \
    if (k == 0 || alpha == 0) {                                                                \
      if (beta != 0 && beta != 1)                                                              \
        for (int i = 0; i < mm; i++)                                                           \
          for (int j = 0; j < nn; j++) C[(size_t)i * ldc + j] *= (T)beta;                      \
      return;                                                                                  \
    }                                                                                          \
    cblas_##P##gemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), mm, nn, k, (T)alpha, A,   \
                    lda, B, ldb, (T)beta, C, ldc);                                             \
  }
DEF_GEMM_TILE(float, f32, s)
DEF_GEMM_TILE(double, f64, d)

/* `batch` gemms x tiles, all independent tasks. Tile (i0, j0) of op(A) op(B) reads rows
 * i0.. of op(A) (row i0 of A, or column i0 of a transposed A) and columns j0.. of op(B). */
#define DEF_GEMM_BATCHED(T, S)                                                                 \
  static void gemm_batched_##S(int nt, hs_trans ta, hs_trans tb, int m, int n, int k,          \
                               double alpha, const T *A, int lda, long long sa, const T *B,    \
                               int ldb, long long sb, double beta, T *C, int ldc,              \
                               long long sc, int batch) {                                      \
    gemm_tiling g = gemm_tiles(m, n);                                                          \
    long tiles = g.tm * g.tn, ntasks = tiles * batch;                                          \
    int par = ntasks > 1 && 2.0 * m * n * k * batch >= BLAS_PAR_FLOPS;                         \
    _Pragma("omp parallel for num_threads(nt) if (par) schedule(dynamic)")                     \
    for (long task = 0; task < ntasks; task++) {                                               \
      long bi = task / tiles, tile = task % tiles;                                             \
      int i0 = (int)(tile / g.tn) * g.mb, j0 = (int)(tile % g.tn) * g.nb;                      \
      const T *a = A + bi * sa + (ta == HS_NOTRANS ? (size_t)i0 * lda : (size_t)i0);           \
      const T *b = B + bi * sb + (tb == HS_NOTRANS ? (size_t)j0 : (size_t)j0 * ldb);           \
      T *c = C + bi * sc + (size_t)i0 * ldc + j0;                                              \
      gemm_tile_##S(ta, tb, imin(g.mb, m - i0), imin(g.nb, n - j0), k, alpha, a, lda, b, ldb,  \
                    beta, c, ldc);                                                             \
    }                                                                                          \
  }
DEF_GEMM_BATCHED(float, f32)
DEF_GEMM_BATCHED(double, f64)

hs_status hs_cpu_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                      double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                      void *C, int ldc) {
  if (m == 0 || n == 0) return HS_OK;
  CPU_DISPATCH(t, gemm_batched, cpu_threads(be), ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0,
               beta, C, ldc, 0, 1);
  return HS_OK;
}

hs_status hs_cpu_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n,
                              int k, double alpha, const void *A, int lda, long long stride_a,
                              const void *B, int ldb, long long stride_b, double beta, void *C,
                              int ldc, long long stride_c, int batch) {
  if (m == 0 || n == 0 || batch == 0) return HS_OK;
  if (stride_c == 0 && batch > 1) {
    /* one shared C: the products apply in batch order (C = alpha*op(A_i)op(B_i) + beta*C,
     * i = 0, 1, ...), never concurrently */
    for (int i = 0; i < batch; i++)
      CPU_DISPATCH(t, gemm_batched, cpu_threads(be), ta, tb, m, n, k, alpha,
                   hs_dptr(A, t, (size_t)i * stride_a), lda, 0, hs_dptr(B, t, (size_t)i * stride_b),
                   ldb, 0, beta, C, ldc, 0, 1);
    return HS_OK;
  }
  CPU_DISPATCH(t, gemm_batched, cpu_threads(be), ta, tb, m, n, k, alpha, A, lda, stride_a, B, ldb,
               stride_b, beta, C, ldc, stride_c, batch);
  return HS_OK;
}

/* ---- gemv ----
 * Row-major A (m x n). The reduction runs over r = n (NOTRANS) or r = m (TRANS), the output
 * has o = m or n elements. Outputs are cut into blocks of GEMV_OB; if r fits in one chunk of
 * GEMV_KB each block is one library call, else each (block, chunk) pair writes a partial
 * result and the partials are added in chunk order in double. Lanczos' reorthogonalisation
 * (o = steps, r = P ~ 1e5..1e7) lives on the chunked path. */
#define GEMV_OB 256
#define GEMV_KB 8192

/* out(ow) = alpha op(A_sub) x_sub + beta out, single-threaded; the sub-block starts at the
 * output o0 and reduction index r0 of op(A). */
#define DEF_GEMV_BLOCK(T, S, P)                                                                \
  static void gemv_block_##S(hs_trans ta, const T *A, int lda, int o0, int ow, int r0, int rw, \
                             double alpha, const T *x, double beta, T *out) {                  \
    if (beta == 0) memset(out, 0, (size_t)ow * sizeof(T));                                     \
    if (rw == 0 || alpha == 0) {                                                               \
      if (beta != 0 && beta != 1)                                                              \
        for (int i = 0; i < ow; i++) out[i] *= (T)beta;                                        \
      return;                                                                                  \
    }                                                                                          \
    if (ta == HS_NOTRANS) /* rows o0.., columns r0.. */                                        \
      cblas_##P##gemv(CblasRowMajor, CblasNoTrans, ow, rw, (T)alpha,                           \
                      A + (size_t)o0 * lda + r0, lda, x + r0, 1, (T)beta, out, 1);             \
    else /* rows r0.., columns o0.. */                                                         \
      cblas_##P##gemv(CblasRowMajor, CblasTrans, rw, ow, (T)alpha,                             \
                      A + (size_t)r0 * lda + o0, lda, x + r0, 1, (T)beta, out, 1);             \
  }
DEF_GEMV_BLOCK(float, f32, s)
DEF_GEMV_BLOCK(double, f64, d)

#define DEF_GEMV(T, S)                                                                         \
  static void gemv_##S(int nt, hs_trans ta, int m, int n, double alpha, const T *A, int lda,   \
                       const T *x, double beta, T *y, T *part) {                               \
    int o = ta == HS_NOTRANS ? m : n, r = ta == HS_NOTRANS ? n : m;                            \
    long ob = ceil_div(o, GEMV_OB), nch = ceil_div(r, GEMV_KB);                                \
    int par = 2.0 * m * n >= BLAS_PAR_FLOPS;                                                   \
    if (!part) {                                                                               \
      _Pragma("omp parallel for num_threads(nt) if (par && ob > 1) schedule(static)")          \
      for (long b = 0; b < ob; b++) {                                                          \
        int o0 = (int)b * GEMV_OB;                                                             \
        gemv_block_##S(ta, A, lda, o0, imin(GEMV_OB, o - o0), 0, r, alpha, x, beta, y + o0);   \
      }                                                                                        \
      return;                                                                                  \
    }                                                                                          \
    long ntasks = ob * nch; /* part: (nch, o) */                                               \
    _Pragma("omp parallel for num_threads(nt) if (par) schedule(static)")                      \
    for (long task = 0; task < ntasks; task++) {                                               \
      long ch = task / ob, b = task % ob;                                                      \
      int o0 = (int)b * GEMV_OB, r0 = (int)ch * GEMV_KB;                                       \
      gemv_block_##S(ta, A, lda, o0, imin(GEMV_OB, o - o0), r0, imin(GEMV_KB, r - r0), 1.0, x, \
                     0.0, part + (size_t)ch * o + o0);                                         \
    }                                                                                          \
    _Pragma("omp parallel for num_threads(nt) if (par && o >= 4096) schedule(static)")         \
    for (int i = 0; i < o; i++) {                                                              \
      double s = 0;                                                                            \
      for (long ch = 0; ch < nch; ch++) s += part[(size_t)ch * o + i];                         \
      y[i] = (T)(alpha * s + (beta == 0 ? 0.0 : beta * (double)y[i]));                         \
    }                                                                                          \
  }
DEF_GEMV(float, f32)
DEF_GEMV(double, f64)

hs_status hs_cpu_gemv(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                      const void *A, int lda, const void *x, double beta, void *y) {
  int o = ta == HS_NOTRANS ? m : n, r = ta == HS_NOTRANS ? n : m;
  if (o == 0) return HS_OK;
  void *part = NULL;
  if (r > GEMV_KB && alpha != 0) {
    part = malloc((size_t)ceil_div(r, GEMV_KB) * (size_t)o * (t == HS_F64 ? 8 : 4));
    if (!part)
      return hs_backend_fail(be, HS_E_NOMEM, "gemv: out of host memory for %ld partial sums",
                             ceil_div(r, GEMV_KB) * (long)o);
  }
  CPU_DISPATCH(t, gemv, cpu_threads(be), ta, m, n, alpha, A, lda, x, beta, y, part);
  free(part);
  return HS_OK;
}

/* ---- axpy, scal: elementwise, so any split is deterministic; fixed chunks of the
 * library kernel, threaded here since the library itself runs single-threaded. ---- */
#define VEC_CHUNK 65536

#define DEF_AXPY_SCAL(T, S, P)                                                                 \
  static void axpy_##S(int nt, size_t n, double alpha, const T *x, T *y) {                     \
    long nch = ceil_div((long)n, VEC_CHUNK);                                                   \
    _Pragma("omp parallel for num_threads(nt) if (nch > 1) schedule(static)")                  \
    for (long c = 0; c < nch; c++) {                                                           \
      size_t i0 = (size_t)c * VEC_CHUNK, len = n - i0 < VEC_CHUNK ? n - i0 : VEC_CHUNK;        \
      cblas_##P##axpy((int)len, (T)alpha, x + i0, 1, y + i0, 1);                               \
    }                                                                                          \
  }                                                                                            \
  static void scal_##S(int nt, size_t n, double alpha, T *x) {                                 \
    long nch = ceil_div((long)n, VEC_CHUNK);                                                   \
    _Pragma("omp parallel for num_threads(nt) if (nch > 1) schedule(static)")                  \
    for (long c = 0; c < nch; c++) {                                                           \
      size_t i0 = (size_t)c * VEC_CHUNK, len = n - i0 < VEC_CHUNK ? n - i0 : VEC_CHUNK;        \
      cblas_##P##scal((int)len, (T)alpha, x + i0, 1);                                          \
    }                                                                                          \
  }
DEF_AXPY_SCAL(float, f32, s)
DEF_AXPY_SCAL(double, f64, d)

hs_status hs_cpu_axpy(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x,
                      void *y) {
  if (n == 0) return HS_OK;
  CPU_DISPATCH(t, axpy, cpu_threads(be), n, alpha, x, y);
  return HS_OK;
}

hs_status hs_cpu_scal(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x) {
  if (n == 0) return HS_OK;
  CPU_DISPATCH(t, scal, cpu_threads(be), n, alpha, x);
  return HS_OK;
}
