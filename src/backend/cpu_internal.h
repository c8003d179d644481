/* Private to the CPU backend (src/backend/cpu*.c): the instance, the op prototypes and the
 * helpers that every op file shares.
 *
 * One source per op serves both dtypes: each kernel body is written once inside a macro
 * `DEF_xxx(T, S)` and instantiated as xxx_f32 (T = float) and xxx_f64 (T = double); the op
 * entry validates its arguments and dispatches on hs_dtype with CPU_DISPATCH.
 *
 * Determinism: every reduction runs in double in a fixed order (rows in index order inside a
 * column, fixed-size blocks combined in index order), and threads only split independent
 * outputs, so results are bit-identical for any thread count. */
#ifndef HS_CPU_INTERNAL_H
#define HS_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

typedef struct {
  hs_backend base; /* first: a hs_cpu * is a hs_backend * */
  int threads;     /* OpenMP threads of this backend's loops (>= 1) */
} hs_cpu;

static inline int cpu_threads(const hs_backend *be) { return ((const hs_cpu *)be)->threads; }

/* Below this many elements a parallel region costs more than it saves. */
#define CPU_PAR_MIN 32768
/* Columns per task in column reductions: 64 doubles of accumulators stay in registers/L1
 * while the rows stream by. */
#define CPU_COL_TILE 64
/* dot/nrm2 block: partial sums of this many elements are combined in index order. Part of
 * the numerical contract (results depend on it, threads do not). */
#define CPU_DOT_BLOCK 4096

#define CPU_DISPATCH(t, fn, ...)                                                               \
  do {                                                                                         \
    if ((t) == HS_F64)                                                                         \
      fn##_f64(__VA_ARGS__);                                                                   \
    else                                                                                       \
      fn##_f32(__VA_ARGS__);                                                                   \
  } while (0)

/* Argument checks: `return`s HS_E_INVALID naming the op. */
#define CPU_REQUIRE(be, cond, op, ...)                                                         \
  do {                                                                                         \
    if (!(cond)) return hs_backend_fail((be), HS_E_INVALID, op ": " __VA_ARGS__);              \
  } while (0)
#define CPU_CHECK_DTYPE(be, t, op)                                                             \
  CPU_REQUIRE(be, (t) == HS_F64 || (t) == HS_F32, op, "unknown dtype %d", (int)(t))
#define CPU_CHECK_ACT(be, act, op)                                                             \
  CPU_REQUIRE(be, (act) >= 0 && (act) <= 2, op, "unknown activation %d", (act))
#define CPU_CHECK_PTR(be, p, op) CPU_REQUIRE(be, (p) != NULL, op, "%s is NULL", #p)

/* ---- memory (cpu.c) ---- */
hs_status hs_cpu_alloc(hs_backend *be, size_t bytes, void **ptr);
void hs_cpu_free(hs_backend *be, void *ptr);
hs_status hs_cpu_upload(hs_backend *be, void *dst, const void *host_src, size_t bytes);
hs_status hs_cpu_download(hs_backend *be, void *host_dst, const void *src, size_t bytes);
hs_status hs_cpu_copy(hs_backend *be, void *dst, const void *src, size_t bytes);
hs_status hs_cpu_fill(hs_backend *be, hs_dtype t, size_t n, double value, void *x);
hs_status hs_cpu_sync(hs_backend *be);

/* ---- BLAS-like (cpu_blas.c) ---- */
hs_status hs_cpu_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                      double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                      void *C, int ldc);
hs_status hs_cpu_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n,
                              int k, double alpha, const void *A, int lda, long long stride_a,
                              const void *B, int ldb, long long stride_b, double beta, void *C,
                              int ldc, long long stride_c, int batch);
hs_status hs_cpu_gemv(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                      const void *A, int lda, const void *x, double beta, void *y);
hs_status hs_cpu_axpy(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x, void *y);
hs_status hs_cpu_scal(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x);

/* ---- reductions (cpu_reduce.c) ---- */
hs_status hs_cpu_dot(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y,
                     double *out);
hs_status hs_cpu_nrm2(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out);
hs_status hs_cpu_dots(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                      const void *const *y, double *out);
hs_status hs_cpu_nonfinite(hs_backend *be, hs_dtype t, size_t n, const void *x, int *out);

/* ---- linear layers and activations (cpu_layers.c) ---- */
hs_status hs_cpu_bias_add(hs_backend *be, hs_dtype t, int k, int rows, int cols,
                          const void *bias, size_t pstride, void *Y);
hs_status hs_cpu_col_sum(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *X,
                         void *out, size_t pstride);
hs_status hs_cpu_act_fwd(hs_backend *be, hs_dtype t, int act, size_t n, const void *Y, void *A);
hs_status hs_cpu_act_deriv_mul(hs_backend *be, hs_dtype t, int act, int k, size_t n,
                               const void *Y, const void *G, void *out);
hs_status hs_cpu_act_rbwd_extra(hs_backend *be, hs_dtype t, int act, int k, size_t n,
                                const void *Y, const void *dA, const void *RY, void *RdY);

/* ---- batch norm (cpu_bn.c) ---- */
hs_status hs_cpu_bn_fwd(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                        const void *gamma, const void *beta, const void *run_mean,
                        const void *run_var, void *batch_mean, void *xhat, void *rstd, void *Y);
hs_status hs_cpu_bn_bwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                        const void *xhat, const void *rstd, const void *gamma, const void *dY,
                        void *dZ, void *dgamma, void *dbeta, size_t pstride);
hs_status hs_cpu_bn_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                         const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                         const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat,
                         void *RY);
hs_status hs_cpu_bn_rbwd_extra(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                               const void *xhat, const void *rstd, const void *gamma,
                               const void *dY, const void *dZ, const void *RZ, const void *RXhat,
                               const void *Rgamma, size_t pstride, void *RdZ, void *Rdgamma);

/* ---- convolution and pooling (cpu_conv.c) ---- */
/* Checks a window geometry as backend.h states it (sizes, kernel/stride >= 1, padding >= 0,
 * pool: no padding and an int32-addressable plane, Ho/Wo by the floor formula); HS_E_INVALID
 * naming op otherwise. Backend-neutral: kernels/conv.cu uses it too. */
hs_status hs_window_check(hs_backend *be, const char *op, const hs_window *g, int pool);
hs_status hs_cpu_im2col(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X, void *cols,
                        long long ldc);
hs_status hs_cpu_col2im(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols,
                        long long ldc, void *dX);
hs_status hs_cpu_transpose(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner,
                           const void *src, void *dst);
hs_status hs_cpu_pool_fwd(hs_backend *be, hs_dtype t, int mode, int n, hs_window g, const void *X,
                          void *Y, int32_t *argmax);
hs_status hs_cpu_pool_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                           const int32_t *argmax, const void *RX, void *RY);
hs_status hs_cpu_pool_bwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                          const int32_t *argmax, const void *dY, void *dX);

/* ---- losses (cpu_loss.c) ---- */
hs_status hs_cpu_ce_fwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                        const int32_t *labels, void *P, double *loss_sum);
hs_status hs_cpu_ce_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *P,
                        const int32_t *labels, double scale, void *dF);
hs_status hs_cpu_ce_rop(hs_backend *be, hs_dtype t, int k, int rows, int C, const void *P,
                        const void *RF, double scale, void *RdF);
hs_status hs_cpu_ce_correct(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                            const int32_t *labels, size_t *correct);
hs_status hs_cpu_mse_fwd_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                             const void *T, double scale, double *loss_sum, void *dF);

/* ---- dense symmetric eigendecomposition (cpu_eig.c) ---- */
hs_status hs_cpu_syev(hs_backend *be, hs_dtype t, int n, void *A, void *w);

/* ---- training: optimiser steps, BN running statistics (cpu_optim.c) ---- */
hs_status hs_cpu_sgd_step(hs_backend *be, hs_dtype t, size_t n, double lr, double momentum,
                          double dampening, int nesterov, double wd, int first, const void *grad,
                          void *buf, void *theta);
hs_status hs_cpu_adam_step(hs_backend *be, hs_dtype t, size_t n, double beta1, double beta2,
                           double eps, double wd, double step_size, double bc2_sqrt,
                           const void *grad, void *m, void *v, void *theta);
hs_status hs_cpu_bn_running_update(hs_backend *be, hs_dtype t, int rows, int cols,
                                   double momentum, const void *batch_mean, const void *rstd,
                                   void *run_mean, void *run_var);

#endif
