/* Training ops of kernels/optim.cu (semantics in backend.h), for the table in
 * backend_cuda.cu. */
#ifndef HS_CUDA_OPTIM_CUH
#define HS_CUDA_OPTIM_CUH

#include "cuda_internal.h"

hs_status cu_sgd_step(hs_backend *be, hs_dtype t, size_t n, double lr, double momentum,
                      double dampening, int nesterov, double wd, int first, const void *grad,
                      void *buf, void *theta);
hs_status cu_adam_step(hs_backend *be, hs_dtype t, size_t n, double beta1, double beta2,
                       double eps, double wd, double step_size, double bc2_sqrt,
                       const void *grad, void *m, void *v, void *theta);
hs_status cu_bn_running_update(hs_backend *be, hs_dtype t, int rows, int cols, double momentum,
                               const void *batch_mean, const void *rstd, void *run_mean,
                               void *run_var);

#endif
