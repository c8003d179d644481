/* Private to kernels/: the CUDA backend instance, error checking, launch helpers, and the op
 * entry points each .cu file of kernels/ contributes to the table in backend_cuda.cu.
 *
 * Every op is asynchronous on the backend's one stream; ops that return a value to the host
 * (download, dot, nrm2, nonfinite, loss sums, ce_correct, syev's info) synchronise that
 * stream. Nothing here is global: handles, stream and workspaces live in cuda_backend. */
#ifndef HS_CUDA_INTERNAL_H
#define HS_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <stddef.h>
#include <stdint.h>

/* backend.h has no extern "C" guard of its own (hesspec.h has). */
extern "C" {
#include "backend/backend.h"
}

/* ---- the instance ---- */

/* Fixed decomposition of every host-bound reduction: RED_BLOCKS blocks of RED_THREADS
 * threads, whatever the GPU. A fixed grid (not one sized from the SM count) is what makes
 * dot/nrm2/loss sums bit-identical across runs AND across GPU models. */
#define RED_THREADS 256
#define RED_BLOCKS 240

typedef struct cuda_backend {
  struct hs_backend base; /* first: the table sees a hs_backend * */
  int device;
  int tf32;
  cudaStream_t stream;
  cublasHandle_t blas;
  cusolverDnHandle_t solver;
  double *d_partials; /* RED_BLOCKS + 1 doubles: block partials, then the total */
  int *d_flag;        /* one int: nonfinite flag, syevd info */
  double *h_result;   /* pinned host: 2 doubles, the reductions land here */
  int *h_flag;        /* pinned host: one int */
  void *d_scratch;    /* grown on demand: per-row losses, syevd workspace */
  size_t scratch_bytes;
} cuda_backend;

static inline cuda_backend *CB(hs_backend *be) { return (cuda_backend *)be; }

/* ---- status and messages ---- */

const char *hs_cusolver_status_string(cusolverStatus_t s);
/* A failed CUDA runtime call: HS_E_NOMEM for out-of-memory (with advice), HS_E_BACKEND
 * otherwise; the message names the call. */
hs_status hs_cuda_fail(hs_backend *be, cudaError_t e, const char *call);
hs_status hs_cublas_fail(hs_backend *be, cublasStatus_t s, const char *call);
hs_status hs_cusolver_fail(hs_backend *be, cusolverStatus_t s, const char *call);

/* Inside a function returning hs_status with `hs_backend *be` in scope. CU_LAUNCH follows a
 * <<<>>> launch: a bad configuration is reported by cudaGetLastError, not by the launch. */
#define CU_CHECK(call)                                          \
  do {                                                          \
    cudaError_t e_ = (call);                                    \
    if (e_ != cudaSuccess) return hs_cuda_fail(be, e_, #call);  \
  } while (0)
#define CU_LAUNCH(name)                                               \
  do {                                                                \
    cudaError_t e_ = cudaGetLastError();                              \
    if (e_ != cudaSuccess) return hs_cuda_fail(be, e_, "launch " name); \
  } while (0)
#define CUBLAS_CHECK(call)                                              \
  do {                                                                  \
    cublasStatus_t s_ = (call);                                         \
    if (s_ != CUBLAS_STATUS_SUCCESS) return hs_cublas_fail(be, s_, #call); \
  } while (0)
#define CUSOLVER_CHECK(call)                                                \
  do {                                                                      \
    cusolverStatus_t s_ = (call);                                           \
    if (s_ != CUSOLVER_STATUS_SUCCESS) return hs_cusolver_fail(be, s_, #call); \
  } while (0)

/* Makes the backend's device current for this host thread (several backends on several
 * GPUs may share a thread); cheap when it already is. */
hs_status hs_cuda_enter(hs_backend *be);
/* Ensures d_scratch holds at least `bytes`. */
hs_status hs_cuda_scratch(hs_backend *be, size_t bytes);

/* ---- launch geometry ---- */

#define EW_THREADS 256
/* Grid for a grid-stride elementwise loop over n items: elementwise results do not depend on
 * the grid, so it is sized for occupancy only. */
static inline unsigned ew_blocks(size_t n) {
  size_t b = (n + EW_THREADS - 1) / EW_THREADS;
  if (b < 1) b = 1;
  if (b > 65535u * 8u) b = 65535u * 8u;
  return (unsigned)b;
}

/* Column-reduction tiles (bias, BN): a block owns COL_TILE columns of one direction and
 * sweeps all rows with ROW_LANES row lanes; lane l takes rows l, l+ROW_LANES, ... and the
 * lanes are combined in lane order. The order depends only on (rows, cols): deterministic. */
#define COL_TILE 32
#define ROW_LANES 8

/* Accumulation type: double for both dtypes (the CPU backend sums in double too). */
template <typename T> struct acc_of { typedef double type; };

template <typename T> __device__ __forceinline__ T to_t(double v) { return (T)v; }

/* ---- the ops, by family (signatures of backend.h) ---- */

/* elementwise.cu */
hs_status cu_fill(hs_backend *be, hs_dtype t, size_t n, double value, void *x);
hs_status cu_nonfinite(hs_backend *be, hs_dtype t, size_t n, const void *x, int *out);
hs_status cu_bias_add(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *bias,
                      size_t pstride, void *Y);
hs_status cu_col_sum(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *X,
                     void *out, size_t pstride);
hs_status cu_act_fwd(hs_backend *be, hs_dtype t, int act, size_t n, const void *Y, void *A);
hs_status cu_act_deriv_mul(hs_backend *be, hs_dtype t, int act, int k, size_t n, const void *Y,
                           const void *G, void *out);
hs_status cu_act_rbwd_extra(hs_backend *be, hs_dtype t, int act, int k, size_t n, const void *Y,
                            const void *dA, const void *RY, void *RdY);

/* reduce.cu */
hs_status cu_dot(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y, double *out);
hs_status cu_nrm2(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out);
hs_status cu_dots(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                  const void *const *y, double *out);
/* Sum of a device array of n doubles (fixed order) into *out; synchronises. */
hs_status hs_cuda_sum_doubles(hs_backend *be, size_t n, const double *x, double *out);

/* blas.cu */
hs_status cu_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                  double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                  void *C, int ldc);
hs_status cu_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n,
                          int k, double alpha, const void *A, int lda, long long stride_a,
                          const void *B, int ldb, long long stride_b, double beta, void *C,
                          int ldc, long long stride_c, int batch);
hs_status cu_gemv(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                  const void *A, int lda, const void *x, double beta, void *y);
hs_status cu_axpy(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x, void *y);
hs_status cu_scal(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x);
hs_status cu_syev(hs_backend *be, hs_dtype t, int n, void *A, void *w);

/* batchnorm.cu */
hs_status cu_bn_fwd(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                    const void *gamma, const void *beta, const void *run_mean, const void *run_var,
                    void *batch_mean, void *xhat, void *rstd, void *Y);
hs_status cu_bn_bwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                    const void *xhat, const void *rstd, const void *gamma, const void *dY, void *dZ,
                    void *dgamma, void *dbeta, size_t pstride);
hs_status cu_bn_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                     const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                     const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat, void *RY);
hs_status cu_bn_rbwd_extra(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                           const void *xhat, const void *rstd, const void *gamma, const void *dY,
                           const void *dZ, const void *RZ, const void *RXhat, const void *Rgamma,
                           size_t pstride, void *RdZ, void *Rdgamma);

/* loss.cu */
hs_status cu_ce_fwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                    const int32_t *labels, void *P, double *loss_sum);
hs_status cu_ce_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *P,
                    const int32_t *labels, double scale, void *dF);
hs_status cu_ce_rop(hs_backend *be, hs_dtype t, int k, int rows, int C, const void *P,
                    const void *RF, double scale, void *RdF);
hs_status cu_ce_correct(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                        const int32_t *labels, size_t *correct);
hs_status cu_mse_fwd_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                         const void *T, double scale, double *loss_sum, void *dF);

/* conv.cu */
hs_status cu_im2col(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X, void *cols,
                    long long ldc);
hs_status cu_col2im(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols,
                    long long ldc, void *dX);
hs_status cu_transpose(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner,
                       const void *src, void *dst);
hs_status cu_pool_fwd(hs_backend *be, hs_dtype t, int mode, int n, hs_window g, const void *X,
                      void *Y, int32_t *argmax);
hs_status cu_pool_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                       const int32_t *argmax, const void *RX, void *RY);
hs_status cu_pool_bwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                      const int32_t *argmax, const void *dY, void *dX);
/* The window geometry check both backends share (defined in src/backend/cpu_conv.c, declared
 * for C in cpu_internal.h): HS_E_INVALID naming op unless g is as backend.h states. */
extern "C" hs_status hs_window_check(hs_backend *be, const char *op, const hs_window *g, int pool);

/* Argument checks shared by the ops: negative sizes are the caller's bug. */
#define CU_REQUIRE(cond, what)                                                  \
  do {                                                                          \
    if (!(cond)) return hs_backend_fail(be, HS_E_INVALID, "cuda %s", what);     \
  } while (0)
/* First statement of every op that takes a dtype: an unknown one is HS_E_INVALID, as on the
 * CPU, never run as f32 by the `t == HS_F64 ? double : float` dispatch that follows. */
#define CU_DTYPE(t, op)                                                                      \
  do {                                                                                       \
    if ((t) != HS_F64 && (t) != HS_F32)                                                      \
      return hs_backend_fail(be, HS_E_INVALID, "cuda %s: unknown dtype %d", op, (int)(t));   \
  } while (0)

#endif
