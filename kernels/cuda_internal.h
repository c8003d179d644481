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
#include "backend/check.h"
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

/* ---- the ops: cu_<op> for every op of backend/ops.def, one .cu per family ----
 * backend_cuda.cu (memory, sync), elementwise.cu (fill, nonfinite, bias, activations),
 * reduce.cu (dot, nrm2, dots), blas.cu (gemm, gemm_batched, gemv, axpy, scal, syev),
 * batchnorm.cu, conv.cu (im2col, col2im, transpose, pooling), loss.cu, optim.cu. */
#define HS_OP(op, params, args) hs_status cu_##op params;
#include "backend/ops.def"

/* Sum of a device array of n doubles (fixed order) into *out; synchronises (reduce.cu). */
hs_status hs_cuda_sum_doubles(hs_backend *be, size_t n, const double *x, double *out);

/* The device's own limits (a grid dimension, say), after the front end (check.h) has checked
 * the arguments as the contract states them: HS_E_INVALID with "cuda <what>". */
#define CU_REQUIRE(cond, what)                                                  \
  do {                                                                          \
    if (!(cond)) return hs_backend_fail(be, HS_E_INVALID, "cuda %s", what);     \
  } while (0)

#endif
