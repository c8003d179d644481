/* Training ops: PyTorch's SGD and Adam parameter updates and BatchNorm1d's running-statistic
 * update (semantics in backend.h). Elementwise, so threads split indices and the results do
 * not depend on the thread count. The optimiser arithmetic runs in the op's dtype with the
 * scalars rounded to it, as PyTorch does for a parameter of that dtype; the running-statistic
 * update runs in double because var is recovered from rstd (1/rstd^2 - eps), which in f32
 * would lose the digits the subtraction of eps cancels. */
#include <math.h>

#include "backend/cpu_internal.h"

#define DEF_SGD(T, S)                                                                          \
  static void sgd_##S(int nt, size_t n, T lr, T mom, T damp, int nesterov, T wd, int first,    \
                      const T *grad, T *buf, T *theta) {                                       \
    _Pragma("omp parallel for num_threads(nt) if (n >= CPU_PAR_MIN) schedule(static)")         \
    for (size_t i = 0; i < n; i++) {                                                           \
      T g = grad[i];                                                                           \
      if (wd != 0) g = g + wd * theta[i];                                                      \
      if (mom != 0) {                                                                          \
        T b = first ? g : mom * buf[i] + (1 - damp) * g;                                       \
        buf[i] = b;                                                                            \
        g = nesterov ? g + mom * b : b;                                                        \
      }                                                                                        \
      theta[i] = theta[i] - lr * g;                                                            \
    }                                                                                          \
  }
DEF_SGD(float, f32)
DEF_SGD(double, f64)

hs_status hs_cpu_sgd_step(hs_backend *be, hs_dtype t, size_t n, double lr, double momentum,
                          double dampening, int nesterov, double wd, int first, const void *grad,
                          void *buf, void *theta) {
  if (n == 0) return HS_OK;
  if (t == HS_F64)
    sgd_f64(cpu_threads(be), n, lr, momentum, dampening, nesterov, wd, first, grad, buf, theta);
  else
    sgd_f32(cpu_threads(be), n, (float)lr, (float)momentum, (float)dampening, nesterov, (float)wd,
            first, grad, buf, theta);
  return HS_OK;
}

/* The lerp is written as torch.lerp computes it for weight w = 1 - beta1 < 0.5:
 * m + w*(g - m) (for w >= 0.5: g - (g - m)*(1 - w)). */
#define DEF_ADAM(T, S, SQRT)                                                                   \
  static void adam_##S(int nt, size_t n, T b1, T b2, T eps, T wd, T step_size, T bc2s,         \
                       const T *grad, T *m, T *v, T *theta) {                                  \
    const T w = 1 - b1;                                                                        \
    _Pragma("omp parallel for num_threads(nt) if (n >= CPU_PAR_MIN) schedule(static)")         \
    for (size_t i = 0; i < n; i++) {                                                           \
      T g = grad[i];                                                                           \
      if (wd != 0) g = g + wd * theta[i];                                                      \
      T mi = m[i];                                                                             \
      mi = w < (T)0.5 ? mi + w * (g - mi) : g - (g - mi) * (1 - w);                            \
      T vi = v[i] * b2 + (1 - b2) * g * g;                                                     \
      m[i] = mi;                                                                               \
      v[i] = vi;                                                                               \
      theta[i] = theta[i] - step_size * (mi / (SQRT(vi) / bc2s + eps));                        \
    }                                                                                          \
  }
DEF_ADAM(float, f32, sqrtf)
DEF_ADAM(double, f64, sqrt)

hs_status hs_cpu_adam_step(hs_backend *be, hs_dtype t, size_t n, double beta1, double beta2,
                           double eps, double wd, double step_size, double bc2_sqrt,
                           const void *grad, void *m, void *v, void *theta) {
  if (n == 0) return HS_OK;
  if (t == HS_F64)
    adam_f64(cpu_threads(be), n, beta1, beta2, eps, wd, step_size, bc2_sqrt, grad, m, v, theta);
  else
    adam_f32(cpu_threads(be), n, (float)beta1, (float)beta2, (float)eps, (float)wd,
             (float)step_size, (float)bc2_sqrt, grad, m, v, theta);
  return HS_OK;
}

#define DEF_BN_RUN(T, S)                                                                       \
  static void bn_run_##S(int rows, int cols, double mom, const T *mean, const T *rstd,          \
                         T *rm, T *rv) {                                                       \
    const double unbias = (double)rows / (double)(rows - 1);                                   \
    for (int c = 0; c < cols; c++) {                                                           \
      double s = (double)rstd[c];                                                              \
      double var = 1.0 / (s * s) - HS_BN_EPS;                                                  \
      if (var < 0) var = 0; /* rounding when the batch variance is far below eps */            \
      rm[c] = (T)((1.0 - mom) * (double)rm[c] + mom * (double)mean[c]);                        \
      rv[c] = (T)((1.0 - mom) * (double)rv[c] + mom * var * unbias);                           \
    }                                                                                          \
  }
DEF_BN_RUN(float, f32)
DEF_BN_RUN(double, f64)

hs_status hs_cpu_bn_running_update(hs_backend *be, hs_dtype t, int rows, int cols,
                                   double momentum, const void *batch_mean, const void *rstd,
                                   void *run_mean, void *run_var) {
  if (cols == 0) return HS_OK;
  CPU_DISPATCH(t, bn_run, rows, cols, momentum, batch_mean, rstd, run_mean, run_var);
  return HS_OK;
}
