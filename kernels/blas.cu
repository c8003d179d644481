/* BLAS-like ops on cuBLAS and the dense symmetric eigensolver on cuSOLVER.
 *
 * Row-major through column-major libraries: a row-major (r x c) matrix with leading
 * dimension ld is, byte for byte, the column-major (c x r) matrix of its transpose. So
 *   C = op(A) op(B)  (row-major)   <=>   C^T = op(B)^T op(A)^T  (column-major),
 * i.e. call gemm with the operands swapped, m and n swapped, and the same transpose flags. */
#include "cuda_internal.h"

static inline cublasOperation_t cu_op(hs_trans t) { return t == HS_TRANS ? CUBLAS_OP_T : CUBLAS_OP_N; }
/* cuBLAS rejects a leading dimension of 0 even where the operand is empty (k = 0), which
 * reference BLAS semantics allow: the operand is never read then, so 1 is as good. */
static inline int ld1(int ld) { return ld < 1 ? 1 : ld; }

/* ---- C = beta*C over `batch` strided (rows x cols, ld) blocks: what a product with an empty
 * inner dimension leaves. beta = 0 stores zeros (NaN or Inf in C must not survive 0*C, as in
 * reference BLAS). Not left to cuBLAS: its handling of k = 0 is not documented. ---- */

template <typename T>
__global__ void k_scale_blocks(size_t total, int rows, int cols, int ld, long long stride, double beta, T *C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t per = (size_t)rows * cols, b = i / per, e = i % per;
    T *c = C + (size_t)b * stride + (e / cols) * (size_t)ld + e % cols;
    *c = beta == 0.0 ? (T)0 : (T)(beta * (double)*c);
  }
}

static hs_status scale_blocks(hs_backend *be, hs_dtype t, int rows, int cols, int ld, long long stride,
                              int batch, double beta, void *C) {
  if (beta == 1.0) return HS_OK;
  size_t total = (size_t)rows * cols * batch;
  cudaStream_t s = CB(be)->stream;
  if (t == HS_F64)
    k_scale_blocks<double><<<ew_blocks(total), EW_THREADS, 0, s>>>(total, rows, cols, ld, stride, beta, (double *)C);
  else
    k_scale_blocks<float><<<ew_blocks(total), EW_THREADS, 0, s>>>(total, rows, cols, ld, stride, beta, (float *)C);
  CU_LAUNCH("k_scale_blocks");
  return HS_OK;
}

/* ---- gemm: C (m x n) = alpha op(A) op(B) + beta C ---- */

hs_status cu_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                  double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                  void *C, int ldc) {
  if (m == 0 || n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  if (k == 0) return scale_blocks(be, t, m, n, ldc, 0, 1, beta, C);
  cublasHandle_t h = CB(be)->blas;
  if (t == HS_F64) {
    CUBLAS_CHECK(cublasDgemm(h, cu_op(tb), cu_op(ta), n, m, k, &alpha, (const double *)B, ld1(ldb),
                             (const double *)A, ld1(lda), &beta, (double *)C, ldc));
  } else {
    float a = (float)alpha, b = (float)beta;
    CUBLAS_CHECK(cublasSgemm(h, cu_op(tb), cu_op(ta), n, m, k, &a, (const float *)B, ld1(ldb),
                             (const float *)A, ld1(lda), &b, (float *)C, ldc));
  }
  return HS_OK;
}

/* Strided batches; a stride of 0 shares the operand (cuBLAS reads it for every batch). */
hs_status cu_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n,
                          int k, double alpha, const void *A, int lda, long long stride_a,
                          const void *B, int ldb, long long stride_b, double beta, void *C,
                          int ldc, long long stride_c, int batch) {
  if (m == 0 || n == 0 || batch == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  if (k == 0) return scale_blocks(be, t, m, n, ldc, stride_c, batch, beta, C);
  cublasHandle_t h = CB(be)->blas;
  if (t == HS_F64) {
    CUBLAS_CHECK(cublasDgemmStridedBatched(h, cu_op(tb), cu_op(ta), n, m, k, &alpha,
                                           (const double *)B, ld1(ldb), stride_b, (const double *)A,
                                           ld1(lda), stride_a, &beta, (double *)C, ldc, stride_c, batch));
  } else {
    float a = (float)alpha, b = (float)beta;
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, cu_op(tb), cu_op(ta), n, m, k, &a,
                                           (const float *)B, ld1(ldb), stride_b, (const float *)A,
                                           ld1(lda), stride_a, &b, (float *)C, ldc, stride_c, batch));
  }
  return HS_OK;
}

/* ---- gemv: y = alpha op(A) x + beta y, A (m x n) row-major = A^T (n x m) column-major ---- */

hs_status cu_gemv(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                  const void *A, int lda, const void *x, double beta, void *y) {
  const int len_y = ta == HS_TRANS ? n : m, len_x = ta == HS_TRANS ? m : n;
  if (len_y == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  /* an empty inner dimension still scales y, as the CPU (and reference BLAS) does */
  if (len_x == 0) return scale_blocks(be, t, 1, len_y, len_y, 0, 1, beta, y);
  cublasHandle_t h = CB(be)->blas;
  /* row-major A x = (col-major A^T)^T x: flip the flag, pass the column-major dims (n, m). */
  cublasOperation_t op = ta == HS_TRANS ? CUBLAS_OP_N : CUBLAS_OP_T;
  if (t == HS_F64) {
    CUBLAS_CHECK(cublasDgemv(h, op, n, m, &alpha, (const double *)A, lda, (const double *)x, 1,
                             &beta, (double *)y, 1));
  } else {
    float a = (float)alpha, b = (float)beta;
    CUBLAS_CHECK(cublasSgemv(h, op, n, m, &a, (const float *)A, lda, (const float *)x, 1, &b,
                             (float *)y, 1));
  }
  return HS_OK;
}

/* ---- axpy, scal (64-bit lengths: P can exceed 2^31 in f32 on an H200) ---- */

hs_status cu_axpy(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x, void *y) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cublasHandle_t h = CB(be)->blas;
  if (t == HS_F64) {
    CUBLAS_CHECK(cublasDaxpy_64(h, (int64_t)n, &alpha, (const double *)x, 1, (double *)y, 1));
  } else {
    float a = (float)alpha;
    CUBLAS_CHECK(cublasSaxpy_64(h, (int64_t)n, &a, (const float *)x, 1, (float *)y, 1));
  }
  return HS_OK;
}

hs_status cu_scal(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cublasHandle_t h = CB(be)->blas;
  if (t == HS_F64) {
    CUBLAS_CHECK(cublasDscal_64(h, (int64_t)n, &alpha, (double *)x, 1));
  } else {
    float a = (float)alpha;
    CUBLAS_CHECK(cublasSscal_64(h, (int64_t)n, &a, (float *)x, 1));
  }
  return HS_OK;
}

/* ---- syev: A (n x n) symmetric row-major -> rows are eigenvectors, w ascending ----
 * A symmetric row-major matrix is its own column-major transpose, so syevd sees the same
 * matrix; it returns the eigenvectors as columns of a column-major array, which read
 * row-major are rows: exactly the op's contract. */

hs_status cu_syev(hs_backend *be, hs_dtype t, int n, void *A, void *w) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cuda_backend *cb = CB(be);
  /* syevd does not detect NaN/Inf (it may return garbage): refuse them, as the CPU does */
  int bad = 0;
  st = cu_nonfinite(be, t, (size_t)n * n, A, &bad);
  if (st != HS_OK) return st;
  if (bad) return hs_backend_fail(be, HS_E_NUMERIC, "syev: the %dx%d matrix holds NaN or Inf", n, n);
  const cusolverEigMode_t jobz = CUSOLVER_EIG_MODE_VECTOR;
  /* The contract reads the row-major upper triangle, which is the column-major LOWER one
   * (element (i, j), j >= i, sits at i*n + j: row j, column i of the column-major view). The
   * CPU passes LAPACK 'L' in column-major for the same reason. */
  const cublasFillMode_t uplo = CUBLAS_FILL_MODE_LOWER;
  int lwork = 0;
  if (t == HS_F64) {
    CUSOLVER_CHECK(cusolverDnDsyevd_bufferSize(cb->solver, jobz, uplo, n, (const double *)A, n,
                                               (const double *)w, &lwork));
    st = hs_cuda_scratch(be, (size_t)lwork * sizeof(double));
    if (st != HS_OK) return st;
    CUSOLVER_CHECK(cusolverDnDsyevd(cb->solver, jobz, uplo, n, (double *)A, n, (double *)w,
                                    (double *)cb->d_scratch, lwork, cb->d_flag));
  } else {
    CUSOLVER_CHECK(cusolverDnSsyevd_bufferSize(cb->solver, jobz, uplo, n, (const float *)A, n,
                                               (const float *)w, &lwork));
    st = hs_cuda_scratch(be, (size_t)lwork * sizeof(float));
    if (st != HS_OK) return st;
    CUSOLVER_CHECK(cusolverDnSsyevd(cb->solver, jobz, uplo, n, (float *)A, n, (float *)w,
                                    (float *)cb->d_scratch, lwork, cb->d_flag));
  }
  CU_CHECK(cudaMemcpyAsync(cb->h_flag, cb->d_flag, sizeof(int), cudaMemcpyDeviceToHost, cb->stream));
  CU_CHECK(cudaStreamSynchronize(cb->stream));
  int info = *cb->h_flag;
  if (info < 0)
    return hs_backend_fail(be, HS_E_INTERNAL, "cusolverDn%ssyevd: parameter %d is invalid (info=%d)",
                           t == HS_F64 ? "D" : "S", -info, info);
  if (info > 0)
    return hs_backend_fail(be, HS_E_NUMERIC,
                           "cusolverDn%ssyevd: %d off-diagonal elements did not converge to zero "
                           "(info=%d; NaN/Inf in the matrix?)", t == HS_F64 ? "D" : "S", info, info);
  return HS_OK;
}
