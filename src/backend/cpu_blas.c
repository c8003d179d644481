/* BLAS-like ops on OpenBLAS (CBLAS, row-major): gemm, strided-batched gemm, gemv, axpy, scal.
 * Degenerate shapes are handled here rather than trusted to the library: a gemm with k == 0
 * (or alpha == 0) is still C = beta*C, and reference BLAS gemv skips the beta scaling when
 * the inner dimension is 0, which the op's contract does not. */
#include <cblas.h>
#include <limits.h>

#include "backend/cpu_internal.h"

static inline CBLAS_TRANSPOSE cblas_trans(hs_trans t) {
  return t == HS_TRANS ? CblasTrans : CblasNoTrans;
}

/* C(m x n, ldc) = beta*C; beta == 0 writes zeros without reading C (BLAS semantics, so
 * uninitialised or NaN outputs are cleared). */
#define DEF_SCALE_MAT(T, S)                                                                    \
  static void scale_mat_##S(int m, int n, double beta, T *C, int ldc) {                        \
    const T b = (T)beta;                                                                       \
    for (int i = 0; i < m; i++) {                                                              \
      T *c = C + (size_t)i * ldc;                                                              \
      if (beta == 0)                                                                           \
        for (int j = 0; j < n; j++) c[j] = 0;                                                  \
      else if (beta != 1)                                                                      \
        for (int j = 0; j < n; j++) c[j] *= b;                                                 \
    }                                                                                          \
  }
DEF_SCALE_MAT(float, f32)
DEF_SCALE_MAT(double, f64)

#define DEF_GEMM(T, S, P)                                                                      \
  static void gemm_##S(hs_trans ta, hs_trans tb, int m, int n, int k, double alpha, const T *A, \
                       int lda, const T *B, int ldb, double beta, T *C, int ldc) {             \
    if (k == 0 || alpha == 0) {                                                                \
      scale_mat_##S(m, n, beta, C, ldc);                                                       \
      return;                                                                                  \
    }                                                                                          \
    cblas_##P##gemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), m, n, k, (T)alpha, A, lda, \
                    B, ldb, (T)beta, C, ldc);                                                  \
  }
DEF_GEMM(float, f32, s)
DEF_GEMM(double, f64, d)

static inline int imax1(int a) { return a > 1 ? a : 1; }

/* Shape checks shared by gemm and gemm_batched. Row-major: op(A) is m x k, so A as stored
 * has k columns (NOTRANS) or m columns (TRANS); lda must cover them. */
static hs_status check_gemm(hs_backend *be, const char *op, hs_dtype t, hs_trans ta,
                            hs_trans tb, int m, int n, int k, const void *A, int lda,
                            const void *B, int ldb, const void *C, int ldc) {
  if (t != HS_F64 && t != HS_F32) return hs_backend_fail(be, HS_E_INVALID, "%s: unknown dtype %d", op, (int)t);
  if ((ta != HS_NOTRANS && ta != HS_TRANS) || (tb != HS_NOTRANS && tb != HS_TRANS))
    return hs_backend_fail(be, HS_E_INVALID, "%s: bad transpose flag (%d, %d)", op, ta, tb);
  if (m < 0 || n < 0 || k < 0)
    return hs_backend_fail(be, HS_E_INVALID, "%s: negative size m=%d n=%d k=%d", op, m, n, k);
  int acols = ta == HS_NOTRANS ? k : m, bcols = tb == HS_NOTRANS ? n : k;
  if (lda < imax1(acols) || ldb < imax1(bcols) || ldc < imax1(n))
    return hs_backend_fail(be, HS_E_INVALID,
                           "%s: leading dimension too small (m=%d n=%d k=%d, lda=%d ldb=%d ldc=%d)",
                           op, m, n, k, lda, ldb, ldc);
  if (m > 0 && n > 0) {
    if (!C) return hs_backend_fail(be, HS_E_INVALID, "%s: C is NULL", op);
    if (k > 0 && (!A || !B)) return hs_backend_fail(be, HS_E_INVALID, "%s: A or B is NULL", op);
  }
  return HS_OK;
}

hs_status hs_cpu_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                      double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                      void *C, int ldc) {
  hs_status st = check_gemm(be, "gemm", t, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
  if (st != HS_OK) return st;
  if (m == 0 || n == 0) return HS_OK;
  CPU_DISPATCH(t, gemm, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  return HS_OK;
}

hs_status hs_cpu_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n,
                              int k, double alpha, const void *A, int lda, long long stride_a,
                              const void *B, int ldb, long long stride_b, double beta, void *C,
                              int ldc, long long stride_c, int batch) {
  hs_status st = check_gemm(be, "gemm_batched", t, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
  if (st != HS_OK) return st;
  CPU_REQUIRE(be, batch >= 0, "gemm_batched", "negative batch %d", batch);
  CPU_REQUIRE(be, stride_a >= 0 && stride_b >= 0 && stride_c >= 0, "gemm_batched",
              "negative stride (%lld, %lld, %lld)", stride_a, stride_b, stride_c);
  if (m == 0 || n == 0) return HS_OK;
  /* A loop of library gemms: each one is already threaded inside OpenBLAS, and OpenBLAS
   * (pthreads build) must not be called from inside an OpenMP region. */
  for (int i = 0; i < batch; i++) {
    const void *Ai = hs_dptr(A, t, (size_t)i * (size_t)stride_a);
    const void *Bi = hs_dptr(B, t, (size_t)i * (size_t)stride_b);
    void *Ci = hs_dptr(C, t, (size_t)i * (size_t)stride_c);
    CPU_DISPATCH(t, gemm, ta, tb, m, n, k, alpha, Ai, lda, Bi, ldb, beta, Ci, ldc);
  }
  return HS_OK;
}

/* y(len) = beta*y with BLAS semantics for beta == 0 */
#define DEF_SCALE_VEC(T, S)                                                                    \
  static void scale_vec_##S(int len, double beta, T *y) {                                      \
    if (beta == 0)                                                                             \
      for (int i = 0; i < len; i++) y[i] = 0;                                                  \
    else if (beta != 1)                                                                        \
      for (int i = 0; i < len; i++) y[i] *= (T)beta;                                           \
  }
DEF_SCALE_VEC(float, f32)
DEF_SCALE_VEC(double, f64)

#define DEF_GEMV(T, S, P)                                                                      \
  static void gemv_##S(hs_trans ta, int m, int n, double alpha, const T *A, int lda,           \
                       const T *x, double beta, T *y) {                                        \
    int ylen = ta == HS_NOTRANS ? m : n, xlen = ta == HS_NOTRANS ? n : m;                      \
    if (xlen == 0 || alpha == 0) {                                                             \
      scale_vec_##S(ylen, beta, y);                                                            \
      return;                                                                                  \
    }                                                                                          \
    cblas_##P##gemv(CblasRowMajor, cblas_trans(ta), m, n, (T)alpha, A, lda, x, 1, (T)beta, y,  \
                    1);                                                                        \
  }
DEF_GEMV(float, f32, s)
DEF_GEMV(double, f64, d)

hs_status hs_cpu_gemv(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                      const void *A, int lda, const void *x, double beta, void *y) {
  CPU_CHECK_DTYPE(be, t, "gemv");
  CPU_REQUIRE(be, ta == HS_NOTRANS || ta == HS_TRANS, "gemv", "bad transpose flag %d", ta);
  CPU_REQUIRE(be, m >= 0 && n >= 0, "gemv", "negative size m=%d n=%d", m, n);
  CPU_REQUIRE(be, lda >= imax1(n), "gemv", "lda=%d < n=%d", lda, n);
  int ylen = ta == HS_NOTRANS ? m : n, xlen = ta == HS_NOTRANS ? n : m;
  if (ylen == 0) return HS_OK;
  CPU_CHECK_PTR(be, y, "gemv");
  CPU_REQUIRE(be, xlen == 0 || (A && x), "gemv", "A or x is NULL");
  CPU_DISPATCH(t, gemv, ta, m, n, alpha, A, lda, x, beta, y);
  return HS_OK;
}

/* CBLAS counts in (32-bit) blasint: long vectors go in INT_MAX-sized pieces. */
#define DEF_AXPY_SCAL(T, S, P)                                                                 \
  static void axpy_##S(size_t n, double alpha, const T *x, T *y) {                             \
    for (size_t i = 0; i < n; i += INT_MAX) {                                                  \
      size_t len = n - i < (size_t)INT_MAX ? n - i : (size_t)INT_MAX;                          \
      cblas_##P##axpy((int)len, (T)alpha, x + i, 1, y + i, 1);                                 \
    }                                                                                          \
  }                                                                                            \
  static void scal_##S(size_t n, double alpha, T *x) {                                         \
    for (size_t i = 0; i < n; i += INT_MAX) {                                                  \
      size_t len = n - i < (size_t)INT_MAX ? n - i : (size_t)INT_MAX;                          \
      cblas_##P##scal((int)len, (T)alpha, x + i, 1);                                           \
    }                                                                                          \
  }
DEF_AXPY_SCAL(float, f32, s)
DEF_AXPY_SCAL(double, f64, d)

hs_status hs_cpu_axpy(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x,
                      void *y) {
  CPU_CHECK_DTYPE(be, t, "axpy");
  if (n == 0) return HS_OK;
  CPU_REQUIRE(be, x && y, "axpy", "x or y is NULL (n=%zu)", n);
  CPU_DISPATCH(t, axpy, n, alpha, x, y);
  return HS_OK;
}

hs_status hs_cpu_scal(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x) {
  CPU_CHECK_DTYPE(be, t, "scal");
  if (n == 0) return HS_OK;
  CPU_CHECK_PTR(be, x, "scal");
  CPU_DISPATCH(t, scal, n, alpha, x);
  return HS_OK;
}
