/* Training ops on the GPU: PyTorch's SGD and Adam updates and BatchNorm1d's running-statistic
 * update; the twins of src/backend/cpu_optim.c (same formulas, same dtype rules: optimiser
 * arithmetic in the parameter dtype, the running-statistic update in double). Elementwise:
 * the results do not depend on the launch geometry. */
#include "optim.cuh"

#define OPT_GRID_STRIDE(i, n)                                                      \
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);         \
       i += (size_t)gridDim.x * blockDim.x)

template <typename T>
__global__ void k_sgd(size_t n, T lr, T mom, T damp, int nesterov, T wd, int first,
                      const T *grad, T *buf, T *theta) {
  OPT_GRID_STRIDE(i, n) {
    T g = grad[i];
    if (wd != (T)0) g = g + wd * theta[i];
    if (mom != (T)0) {
      T b = first ? g : mom * buf[i] + ((T)1 - damp) * g;
      buf[i] = b;
      g = nesterov ? g + mom * b : b;
    }
    theta[i] = theta[i] - lr * g;
  }
}

template <typename T>
static hs_status sgd_t(hs_backend *be, size_t n, double lr, double mom, double damp, int nesterov,
                       double wd, int first, const void *grad, void *buf, void *theta) {
  k_sgd<T><<<ew_blocks(n), EW_THREADS, 0, CB(be)->stream>>>(
      n, (T)lr, (T)mom, (T)damp, nesterov, (T)wd, first, (const T *)grad, (T *)buf, (T *)theta);
  CU_LAUNCH("k_sgd");
  return HS_OK;
}

hs_status cu_sgd_step(hs_backend *be, hs_dtype t, size_t n, double lr, double momentum,
                      double dampening, int nesterov, double wd, int first, const void *grad,
                      void *buf, void *theta) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return t == HS_F64 ? sgd_t<double>(be, n, lr, momentum, dampening, nesterov, wd, first, grad, buf, theta)
                     : sgd_t<float>(be, n, lr, momentum, dampening, nesterov, wd, first, grad, buf, theta);
}

template <typename T> __device__ __forceinline__ T opt_sqrt(T x);
template <> __device__ __forceinline__ double opt_sqrt<double>(double x) { return sqrt(x); }
template <> __device__ __forceinline__ float opt_sqrt<float>(float x) { return sqrtf(x); }

/* lerp as torch.lerp computes it (see cpu_optim.c). */
template <typename T>
__global__ void k_adam(size_t n, T b1, T b2, T eps, T wd, T step_size, T bc2s, const T *grad,
                       T *m, T *v, T *theta) {
  const T w = (T)1 - b1;
  OPT_GRID_STRIDE(i, n) {
    T g = grad[i];
    if (wd != (T)0) g = g + wd * theta[i];
    T mi = m[i];
    mi = w < (T)0.5 ? mi + w * (g - mi) : g - (g - mi) * ((T)1 - w);
    T vi = v[i] * b2 + ((T)1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    theta[i] = theta[i] - step_size * (mi / (opt_sqrt<T>(vi) / bc2s + eps));
  }
}

template <typename T>
static hs_status adam_t(hs_backend *be, size_t n, double b1, double b2, double eps, double wd,
                        double step_size, double bc2s, const void *grad, void *m, void *v,
                        void *theta) {
  k_adam<T><<<ew_blocks(n), EW_THREADS, 0, CB(be)->stream>>>(
      n, (T)b1, (T)b2, (T)eps, (T)wd, (T)step_size, (T)bc2s, (const T *)grad, (T *)m, (T *)v,
      (T *)theta);
  CU_LAUNCH("k_adam");
  return HS_OK;
}

hs_status cu_adam_step(hs_backend *be, hs_dtype t, size_t n, double beta1, double beta2,
                       double eps, double wd, double step_size, double bc2_sqrt,
                       const void *grad, void *m, void *v, void *theta) {
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return t == HS_F64 ? adam_t<double>(be, n, beta1, beta2, eps, wd, step_size, bc2_sqrt, grad, m, v, theta)
                     : adam_t<float>(be, n, beta1, beta2, eps, wd, step_size, bc2_sqrt, grad, m, v, theta);
}

template <typename T>
__global__ void k_bn_run(int rows, int cols, double mom, const T *mean, const T *rstd, T *rm,
                         T *rv) {
  const double unbias = (double)rows / (double)(rows - 1);
  OPT_GRID_STRIDE(c, (size_t)cols) {
    double s = (double)rstd[c];
    double var = 1.0 / (s * s) - HS_BN_EPS;
    if (var < 0) var = 0;
    rm[c] = (T)((1.0 - mom) * (double)rm[c] + mom * (double)mean[c]);
    rv[c] = (T)((1.0 - mom) * (double)rv[c] + mom * var * unbias);
  }
}

template <typename T>
static hs_status bn_run_t(hs_backend *be, int rows, int cols, double mom, const void *mean,
                          const void *rstd, void *rm, void *rv) {
  k_bn_run<T><<<ew_blocks((size_t)cols), EW_THREADS, 0, CB(be)->stream>>>(
      rows, cols, mom, (const T *)mean, (const T *)rstd, (T *)rm, (T *)rv);
  CU_LAUNCH("k_bn_run");
  return HS_OK;
}

hs_status cu_bn_running_update(hs_backend *be, hs_dtype t, int rows, int cols, double momentum,
                               const void *batch_mean, const void *rstd, void *run_mean,
                               void *run_var) {
  if (cols == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return t == HS_F64 ? bn_run_t<double>(be, rows, cols, momentum, batch_mean, rstd, run_mean, run_var)
                     : bn_run_t<float>(be, rows, cols, momentum, batch_mean, rstd, run_mean, run_var);
}
