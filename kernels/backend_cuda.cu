/* The CUDA backend: instance lifetime, memory, errors, and the op table.
 *
 * The ops themselves live in one .cu per family (elementwise, reduce, blas, batchnorm, conv,
 * loss, optim).
 * One stream per backend; everything is queued on it; calls that hand a value to the host
 * synchronise it. cuBLAS runs on the same stream with host-side scalars
 * (CUBLAS_POINTER_MODE_HOST) and atomics off (its default), so its results are repeatable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "optim.cuh"

/* ---- messages ---- */

const char *hs_cusolver_status_string(cusolverStatus_t s) {
  switch (s) {
  case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
  case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
  case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
  case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
  case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
  case CUSOLVER_STATUS_MAPPING_ERROR: return "CUSOLVER_STATUS_MAPPING_ERROR";
  case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
  case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
  case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
  case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
  case CUSOLVER_STATUS_ZERO_PIVOT: return "CUSOLVER_STATUS_ZERO_PIVOT";
  case CUSOLVER_STATUS_INVALID_LICENSE: return "CUSOLVER_STATUS_INVALID_LICENSE";
  case CUSOLVER_STATUS_IRS_PARAMS_NOT_INITIALIZED: return "CUSOLVER_STATUS_IRS_PARAMS_NOT_INITIALIZED";
  case CUSOLVER_STATUS_IRS_PARAMS_INVALID: return "CUSOLVER_STATUS_IRS_PARAMS_INVALID";
  case CUSOLVER_STATUS_IRS_PARAMS_INVALID_PREC: return "CUSOLVER_STATUS_IRS_PARAMS_INVALID_PREC";
  case CUSOLVER_STATUS_IRS_PARAMS_INVALID_REFINE: return "CUSOLVER_STATUS_IRS_PARAMS_INVALID_REFINE";
  case CUSOLVER_STATUS_IRS_PARAMS_INVALID_MAXITER: return "CUSOLVER_STATUS_IRS_PARAMS_INVALID_MAXITER";
  case CUSOLVER_STATUS_IRS_INTERNAL_ERROR: return "CUSOLVER_STATUS_IRS_INTERNAL_ERROR";
  case CUSOLVER_STATUS_IRS_NOT_SUPPORTED: return "CUSOLVER_STATUS_IRS_NOT_SUPPORTED";
  case CUSOLVER_STATUS_IRS_OUT_OF_RANGE: return "CUSOLVER_STATUS_IRS_OUT_OF_RANGE";
  case CUSOLVER_STATUS_IRS_NRHS_NOT_SUPPORTED_FOR_REFINE_GMRES:
    return "CUSOLVER_STATUS_IRS_NRHS_NOT_SUPPORTED_FOR_REFINE_GMRES";
  case CUSOLVER_STATUS_IRS_INFOS_NOT_INITIALIZED: return "CUSOLVER_STATUS_IRS_INFOS_NOT_INITIALIZED";
  case CUSOLVER_STATUS_IRS_INFOS_NOT_DESTROYED: return "CUSOLVER_STATUS_IRS_INFOS_NOT_DESTROYED";
  case CUSOLVER_STATUS_IRS_MATRIX_SINGULAR: return "CUSOLVER_STATUS_IRS_MATRIX_SINGULAR";
  case CUSOLVER_STATUS_INVALID_WORKSPACE: return "CUSOLVER_STATUS_INVALID_WORKSPACE";
  default: return "CUSOLVER_STATUS_(unknown)";
  }
}

static const char OOM_ADVICE[] = "out of GPU memory; try a smaller --batch or --dtype f32";

/* The checks pass the whole call expression (#call): name only the function. */
static int fn_len(const char *call) {
  const char *p = strchr(call, '(');
  return p ? (int)(p - call) : (int)strlen(call);
}

hs_status hs_cuda_fail(hs_backend *be, cudaError_t e, const char *call) {
  if (e == cudaErrorMemoryAllocation)
    return hs_backend_fail(be, HS_E_NOMEM, "%.*s on %s: %s", fn_len(call), call, be->device_name, OOM_ADVICE);
  return hs_backend_fail(be, HS_E_BACKEND, "%.*s: %s (%s)", fn_len(call), call, cudaGetErrorName(e),
                         cudaGetErrorString(e));
}

hs_status hs_cublas_fail(hs_backend *be, cublasStatus_t s, const char *call) {
  if (s == CUBLAS_STATUS_ALLOC_FAILED)
    return hs_backend_fail(be, HS_E_NOMEM, "%.*s on %s: %s", fn_len(call), call, be->device_name, OOM_ADVICE);
  return hs_backend_fail(be, HS_E_BACKEND, "%.*s: %s (%s)", fn_len(call), call, cublasGetStatusName(s),
                         cublasGetStatusString(s));
}

hs_status hs_cusolver_fail(hs_backend *be, cusolverStatus_t s, const char *call) {
  if (s == CUSOLVER_STATUS_ALLOC_FAILED)
    return hs_backend_fail(be, HS_E_NOMEM, "%.*s on %s: %s", fn_len(call), call, be->device_name, OOM_ADVICE);
  return hs_backend_fail(be, HS_E_BACKEND, "%.*s: %s", fn_len(call), call, hs_cusolver_status_string(s));
}

hs_status hs_cuda_enter(hs_backend *be) {
  CU_CHECK(cudaSetDevice(CB(be)->device));
  return HS_OK;
}

hs_status hs_cuda_scratch(hs_backend *be, size_t bytes) {
  cuda_backend *cb = CB(be);
  if (bytes <= cb->scratch_bytes) return HS_OK;
  /* cudaFree waits for the device, so queued work still using the old scratch is safe. */
  if (cb->d_scratch) CU_CHECK(cudaFree(cb->d_scratch));
  cb->d_scratch = NULL;
  cb->scratch_bytes = 0;
  size_t grow = bytes + bytes / 2; /* amortise regrowth */
  cudaError_t e = cudaMalloc(&cb->d_scratch, grow);
  if (e != cudaSuccess) {
    cb->d_scratch = NULL;
    /* clear the error cudaMalloc left behind, or the next launch check reports it as its own */
    (void)cudaGetLastError();
    return hs_cuda_fail(be, e, "cudaMalloc (scratch)");
  }
  cb->scratch_bytes = grow;
  return HS_OK;
}

/* ---- memory ---- */

hs_status cu_alloc(hs_backend *be, size_t bytes, void **ptr) {
  *ptr = NULL;
  if (bytes == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cudaError_t e = cudaMalloc(ptr, bytes);
  if (e != cudaSuccess) {
    *ptr = NULL;
    (void)cudaGetLastError(); /* an allocation failure is not sticky: clear it */
    if (e == cudaErrorMemoryAllocation)
      return hs_backend_fail(be, HS_E_NOMEM, "cudaMalloc(%zu MiB) on %s: %s",
                             (bytes + (1u << 20) - 1) >> 20, be->device_name, OOM_ADVICE);
    return hs_cuda_fail(be, e, "cudaMalloc");
  }
  return HS_OK;
}

static void cu_free(hs_backend *be, void *ptr) {
  if (!ptr) return;
  /* free cannot report: a failure here means the context is already broken, and the next
   * checked call says so. */
  (void)cudaSetDevice(CB(be)->device);
  (void)cudaFree(ptr);
}

hs_status cu_upload(hs_backend *be, void *dst, const void *src, size_t bytes) {
  if (bytes == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  /* From pageable memory the call returns once the source has been staged, so the caller may
   * reuse its buffer at once; the transfer itself stays ordered on the stream. */
  CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, CB(be)->stream));
  return HS_OK;
}

hs_status cu_download(hs_backend *be, void *dst, const void *src, size_t bytes) {
  if (bytes == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, CB(be)->stream));
  CU_CHECK(cudaStreamSynchronize(CB(be)->stream));
  return HS_OK;
}

/* The contract is memmove's (the CPU's copy may overlap), but cudaMemcpy between overlapping
 * ranges is undefined: an overlapping copy goes through the scratch buffer, two copies ordered
 * on the stream. */
hs_status cu_copy(hs_backend *be, void *dst, const void *src, size_t bytes) {
  if (bytes == 0 || dst == src) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cuda_backend *cb = CB(be);
  const char *d = (const char *)dst, *s = (const char *)src;
  if (d < s + bytes && s < d + bytes) {
    st = hs_cuda_scratch(be, bytes);
    if (st != HS_OK) return st;
    CU_CHECK(cudaMemcpyAsync(cb->d_scratch, src, bytes, cudaMemcpyDeviceToDevice, cb->stream));
    CU_CHECK(cudaMemcpyAsync(dst, cb->d_scratch, bytes, cudaMemcpyDeviceToDevice, cb->stream));
    return HS_OK;
  }
  CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cb->stream));
  return HS_OK;
}

hs_status cu_sync(hs_backend *be) {
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  CU_CHECK(cudaStreamSynchronize(CB(be)->stream));
  return HS_OK;
}

/* ---- lifetime ---- */

static void cu_destroy(hs_backend *be) {
  if (!be) return;
  cuda_backend *cb = CB(be);
  (void)cudaSetDevice(cb->device);
  if (cb->stream) (void)cudaStreamSynchronize(cb->stream);
  if (cb->solver) (void)cusolverDnDestroy(cb->solver);
  if (cb->blas) (void)cublasDestroy(cb->blas);
  if (cb->d_scratch) (void)cudaFree(cb->d_scratch);
  if (cb->d_partials) (void)cudaFree(cb->d_partials);
  if (cb->d_flag) (void)cudaFree(cb->d_flag);
  if (cb->h_result) (void)cudaFreeHost(cb->h_result);
  if (cb->h_flag) (void)cudaFreeHost(cb->h_flag);
  if (cb->stream) (void)cudaStreamDestroy(cb->stream);
  free(cb);
}

/* Every op through the front end: cu_checked_<op> checks the arguments (src/backend/check.c,
 * the same checks and messages as the CPU's), then calls cu_<op>. */
#define HS_OP(op, params, args) HS_CHECKED_OP(cu, op, params, args)
#include "backend/ops.def"

/* Generated from backend/ops.def as designated initialisers, in declaration order (nvcc
 * accepts them in its C++17 mode and rejects any out-of-order one): every op's slot is named,
 * so no entry can land in another's. */
static const hs_backend_ops CUDA_OPS = {
    .name = "cuda",
    .destroy = cu_destroy,
    .free = cu_free,
#define HS_OP(op, params, args) .op = cu_checked_##op,
#include "backend/ops.def"
};

/* Everything after the device probe: handles, stream, small workspaces. */
static hs_status cu_setup(hs_backend *be) {
  cuda_backend *cb = CB(be);
  CU_CHECK(cudaSetDevice(cb->device));
  CU_CHECK(cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cb->blas));
  CUBLAS_CHECK(cublasSetStream(cb->blas, cb->stream));
  CUBLAS_CHECK(cublasSetPointerMode(cb->blas, CUBLAS_POINTER_MODE_HOST));
  /* TF32 only when asked: it changes f32 GEMM results at the 1e-3 level. f64 is untouched
   * by the math mode (Hopper's f64 tensor cores are IEEE double FMAs). */
  CUBLAS_CHECK(cublasSetMathMode(cb->blas, cb->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                    : CUBLAS_DEFAULT_MATH));
  CUSOLVER_CHECK(cusolverDnCreate(&cb->solver));
  CUSOLVER_CHECK(cusolverDnSetStream(cb->solver, cb->stream));
  CU_CHECK(cudaMalloc((void **)&cb->d_partials, (RED_BLOCKS + 1) * sizeof(double)));
  CU_CHECK(cudaMalloc((void **)&cb->d_flag, sizeof(int)));
  CU_CHECK(cudaMallocHost((void **)&cb->h_result, 2 * sizeof(double)));
  CU_CHECK(cudaMallocHost((void **)&cb->h_flag, sizeof(int)));
  return HS_OK;
}

extern "C" hs_status hs_cuda_backend_create(int device, int tf32, hs_backend **out, char *err,
                                            size_t errlen) {
  *out = NULL;
  if (errlen) err[0] = '\0';
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    /* No driver, no device, or a driver older than this runtime: not usable, and
     * --device auto then falls back to the CPU. */
    snprintf(err, errlen, "no usable CUDA device: %s",
             e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
    (void)cudaGetLastError();
    return HS_E_UNSUPPORTED;
  }
  if (device < 0 || device >= count) {
    snprintf(err, errlen, "--device cuda:%d: this machine has %d CUDA device%s (cuda:0..cuda:%d)",
             device, count, count == 1 ? "" : "s", count - 1);
    return HS_E_INVALID;
  }
  cudaDeviceProp prop;
  e = cudaGetDeviceProperties(&prop, device);
  if (e != cudaSuccess) {
    snprintf(err, errlen, "cudaGetDeviceProperties(%d): %s", device, cudaGetErrorString(e));
    return HS_E_UNSUPPORTED;
  }
  if (prop.major < 8) {
    /* The build targets sm_80 and sm_90 only. */
    snprintf(err, errlen, "CUDA device %d (%s) has compute capability %d.%d; hesspec needs 8.0+",
             device, prop.name, prop.major, prop.minor);
    return HS_E_UNSUPPORTED;
  }

  cuda_backend *cb = (cuda_backend *)calloc(1, sizeof *cb);
  if (!cb) {
    snprintf(err, errlen, "out of host memory creating the CUDA backend");
    return HS_E_NOMEM;
  }
  cb->base.ops = &CUDA_OPS;
  snprintf(cb->base.device_name, sizeof cb->base.device_name, "%.127s", prop.name);
  cb->device = device;
  cb->tf32 = tf32 != 0;
  hs_status st = cu_setup(&cb->base);
  if (st != HS_OK) {
    snprintf(err, errlen, "CUDA backend on %s: %s", prop.name, cb->base.errmsg);
    cu_destroy(&cb->base);
    return st == HS_E_NOMEM ? HS_E_NOMEM : HS_E_UNSUPPORTED;
  }
  *out = &cb->base;
  return HS_OK;
}
