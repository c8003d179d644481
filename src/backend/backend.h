/* The backend op table: everything that touches device memory goes through here.
 *
 * A backend is a struct of function pointers plus private state, filled once per backend
 * (cpu.c, kernels/backend_cuda.cu) like ggml's backend interface. The network code (src/nn)
 * and the linear algebra (src/linalg) are written once against this table and never
 * dereference a device pointer.
 *
 * Conventions for every op:
 *  - `be` is the backend instance; on failure an op returns a status and sets a message with
 *    hs_backend_fail (naming the failing call); it never prints or aborts.
 *  - Device pointers are `void *`; hs_dptr() offsets them by elements of a dtype.
 *  - Matrices are ROW-MAJOR with an explicit leading dimension (row stride in elements).
 *  - "k directions": R-op and block operands hold k independent directions stacked
 *    direction-major: a (k, rows, cols) array, direction j at offset j*rows*cols. Per-feature
 *    parameter slices of direction j (bias, BN gamma/beta in a (k, P) block) sit at
 *    `p + j*pstride`.
 *  - Outputs marked "+=" accumulate (callers zero them first); others overwrite.
 *  - Scalars come in as double and are converted to the op's dtype. Reductions returned
 *    to the host (dot, nrm2, loss sums) are accumulated in double in a fixed order that does
 *    not depend on the thread count.
 */
#ifndef HS_BACKEND_H
#define HS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

typedef struct hs_backend hs_backend;

typedef enum { HS_NOTRANS = 0, HS_TRANS = 1 } hs_trans;

/* The geometry of a 2-D window op (convolution, pooling) over inputs (n, C, H, W), NCHW
 * row-major: windows of kh x kw, strides sh, sw, zero padding ph, pw on each side (pools:
 * 0), output Ho = (H + 2ph - kh)/sh + 1, Wo = (W + 2pw - kw)/sw + 1 (floor, as PyTorch).
 * Callers fill Ho and Wo; ops check them against the formula (HS_E_INVALID otherwise). */
typedef struct {
  int C, H, W;
  int kh, kw, sh, sw, ph, pw;
  int Ho, Wo;
} hs_window;

typedef enum { HS_POOL_AVG = 0, HS_POOL_MAX = 1 } hs_pool_mode;

typedef struct hs_backend_ops {
  const char *name; /* "cpu", "cuda" */
  void (*destroy)(hs_backend *be);

  /* ---- memory ---- */
  hs_status (*alloc)(hs_backend *be, size_t bytes, void **ptr); /* *ptr = NULL when bytes == 0 */
  void (*free)(hs_backend *be, void *ptr);                      /* NULL is a no-op */
  hs_status (*upload)(hs_backend *be, void *dst, const void *host_src, size_t bytes);
  hs_status (*download)(hs_backend *be, void *host_dst, const void *src, size_t bytes);
  hs_status (*copy)(hs_backend *be, void *dst, const void *src, size_t bytes); /* device to device */
  /* x[0..n) = value */
  hs_status (*fill)(hs_backend *be, hs_dtype t, size_t n, double value, void *x);
  /* Waits for queued work (no-op on the CPU). */
  hs_status (*sync)(hs_backend *be);

  /* ---- BLAS-like, row-major ---- */
  /* C(m x n) = alpha op(A) op(B) + beta C; op(A) is m x k, op(B) is k x n. */
  hs_status (*gemm)(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                    double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                    void *C, int ldc);
  /* `batch` independent gemms; operand i at A + i*stride_a (elements; a stride of 0 shares
   * the operand across the batch), likewise B; C's stride must keep the outputs disjoint
   * (stride_c = 0 with batch > 1 would race on a GPU). */
  hs_status (*gemm_batched)(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n,
                            int k, double alpha, const void *A, int lda, long long stride_a,
                            const void *B, int ldb, long long stride_b, double beta, void *C,
                            int ldc, long long stride_c, int batch);
  /* y = alpha op(A) x + beta y; A is m x n (row-major, lda), op(A) = A or A^T. */
  hs_status (*gemv)(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                    const void *A, int lda, const void *x, double beta, void *y);
  hs_status (*dot)(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y, double *out);
  hs_status (*nrm2)(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out);
  /* m dot products in one trip to the host: out[i] = dot(n[i], x[i], y[i]), each bit for bit
   * what dot returns. One synchronisation for all m where dot pays one each: Lanczos fetches
   * the scalars of all its probes' step with it. */
  hs_status (*dots)(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                    const void *const *y, double *out);
  hs_status (*axpy)(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x, void *y);
  hs_status (*scal)(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x);
  /* *out = 1 if any of x[0..n) is NaN or Inf, else 0. */
  hs_status (*nonfinite)(hs_backend *be, hs_dtype t, size_t n, const void *x, int *out);

  /* ---- linear layers ---- */
  /* Y_j[r][c] += bias[j*pstride + c] for Y (k, rows, cols). */
  hs_status (*bias_add)(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *bias,
                        size_t pstride, void *Y);
  /* out[j*pstride + c] += sum_r X_j[r][c] for X (k, rows, cols); r summed in order. */
  hs_status (*col_sum)(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *X,
                       void *out, size_t pstride);

  /* ---- activations (act: hs_activation; Y is the activation input, n elements) ---- */
  /* A = f(Y) */
  hs_status (*act_fwd)(hs_backend *be, hs_dtype t, int act, size_t n, const void *Y, void *A);
  /* out_j = f'(Y) * G_j for G, out (k, n): the backward pass (G = dA) and the R-forward
   * (G = R(Y)) alike. out may alias G. */
  hs_status (*act_deriv_mul)(hs_backend *be, hs_dtype t, int act, int k, size_t n, const void *Y,
                             const void *G, void *out);
  /* RdY_j += f''(Y) * dA * RY_j: the second-order term of the R-backward. */
  hs_status (*act_rbwd_extra)(hs_backend *be, hs_dtype t, int act, int k, size_t n, const void *Y,
                              const void *dA, const void *RY, void *RdY);

  /* ---- batch norm over the rows (batch) of a (rows, cols) array, eps = HS_BN_EPS ----
   * mode: HS_BN_BATCH (statistics of this batch, biased variance) or HS_BN_RUNNING (the
   * given running statistics). Cached per batch: xhat (rows, cols), rstd (cols) = 1/s with
   * s = sqrt(var + eps). Equations with shapes: docs/hvp-math.md. */
  /* Y = gamma*xhat + beta; run_mean/run_var are read in running mode only (may be NULL
   * otherwise). batch_mean (cols) receives the mean used (for running-stat updates).
   * batch_mean, xhat and rstd may be NULL (not wanted). */
  hs_status (*bn_fwd)(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                      const void *gamma, const void *beta, const void *run_mean,
                      const void *run_var, void *batch_mean, void *xhat, void *rstd, void *Y);
  /* Backward of the BN for k directions sharing the forward state: given dY_j (rows, cols):
   *   g = gamma*dY_j
   *   batch:   dZ_j = rstd*(g - mean_r(g) - xhat*mean_r(g*xhat))      running: dZ_j = rstd*g
   *   dgamma[j*pstride + c] += sum_r dY_j*xhat,   dbeta[j*pstride + c] += sum_r dY_j
   * dgamma/dbeta may be NULL (not wanted). */
  hs_status (*bn_bwd)(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                      const void *xhat, const void *rstd, const void *gamma, const void *dY,
                      void *dZ, void *dgamma, void *dbeta, size_t pstride);
  /* R-forward for k directions: given RZ_j and the direction's Rgamma/Rbeta slices:
   *   batch:   RXhat_j = rstd*(RZ_j - mean_r(RZ_j) - xhat*mean_r(xhat*RZ_j))
   *   running: RXhat_j = rstd*RZ_j
   *   RY_j = Rgamma*xhat + gamma*RXhat_j + Rbeta
   * A NULL Rgamma or Rbeta is a zero slice; RXhat or RY may be NULL (not wanted). */
  hs_status (*bn_rfwd)(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                       const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                       const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat,
                       void *RY);
  /* The second-order terms of the BN R-backward (the first-order part is bn_bwd applied to
   * R(dY)). With g = gamma*dY (one direction-independent dY, dZ of the forward gradient):
   *   batch:   RdZ_j += -rstd*mean_r(xhat*RZ_j)*dZ
   *                     + Rgamma_j*rstd*(dY - mean_r(dY) - xhat*mean_r(dY*xhat))
   *                     - rstd*(RXhat_j*mean_r(g*xhat) + xhat*mean_r(g*RXhat_j))
   *   running: RdZ_j += rstd*Rgamma_j*dY
   *   both:    Rdgamma[j*pstride + c] += sum_r dY*RXhat_j
   * A NULL Rgamma is a zero slice; Rdgamma may be NULL (not wanted). */
  hs_status (*bn_rbwd_extra)(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                             const void *xhat, const void *rstd, const void *gamma,
                             const void *dY, const void *dZ, const void *RZ, const void *RXhat,
                             const void *Rgamma, size_t pstride, void *RdZ, void *Rdgamma);

  /* ---- convolution (im2col + GEMM) and pooling over NCHW arrays; g as hs_window ----
   * CK = C*kh*kw, L = Ho*Wo. Equations with shapes: docs/hvp-math.md. */
  /* Unfold n samples X (n, C, H, W) into columns: cols is a (CK, ldc) row-major matrix
   * whose columns [0, n*L) this op overwrites (the others are untouched, ldc >= n*L):
   *   cols[(c*kh + i)*kw + j][b*L + oy*Wo + ox] = X[b][c][oy*sh - ph + i][ox*sw - pw + j],
   * and 0 where that position falls in the padding. */
  hs_status (*im2col)(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X, void *cols,
                      long long ldc);
  /* The adjoint of im2col: dX (n, C, H, W) is overwritten with, for each element, the sum of
   * the cols entries that im2col reads from it, summed in ascending (i, j) order (a gather:
   * deterministic, no atomics). Entries that read the padding are ignored. */
  hs_status (*col2im)(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols,
                      long long ldc, void *dX);
  /* Batched transpose of R x S matrices of `inner`-element blocks:
   *   dst[((b*S + s)*R + r)*inner + e] = src[((b*R + r)*S + s)*inner + e]
   * for b < batch, r < R, s < S, e < inner. (n, C, HW) -> (n, HW, C): batch n, R C, S HW,
   * inner 1 (channels last, for batch norm over channels); (n, O, L) -> (O, n, L): batch 1,
   * R n, S O, inner L (and back with R and S swapped). dst must not overlap src. */
  hs_status (*transpose)(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner,
                         const void *src, void *dst);
  /* Pooling forward (g.ph = g.pw = 0, else HS_E_INVALID): Y (n, C, Ho, Wo) overwritten with
   *   avg: the mean of each window (sum in row-major window order, divided by kh*kw);
   *   max: the maximum of each window, and argmax (n, C, Ho, Wo; int32) = y*W + x of the
   *        first maximum in row-major window order (PyTorch's tie rule). NaN propagates
   *        (a NaN is the maximum, as in PyTorch).
   * argmax is unused for avg (may be NULL) and required for max. */
  hs_status (*pool_fwd)(hs_backend *be, hs_dtype t, int mode, int n, hs_window g, const void *X,
                        void *Y, int32_t *argmax);
  /* Pooling R-forward for k directions sharing the forward's argmax (n, C, Ho, Wo):
   *   avg: RY_j = window means of RX_j;   max: RY_j[w] = RX_j[argmax[w]] in w's plane.
   * RX (k, n, C, H, W), RY (k, n, C, Ho, Wo) overwritten; argmax unused for avg. */
  hs_status (*pool_rfwd)(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                         const int32_t *argmax, const void *RX, void *RY);
  /* Pooling backward for k cotangents dY (k, n, C, Ho, Wo); dX (k, n, C, H, W) overwritten:
   *   avg: dX_j[p] = sum over the windows w that contain p of dY_j[w] / (kh*kw);
   *   max: dX_j[p] = sum over the windows w with argmax[w] = p of dY_j[w];
   * each element's terms summed in ascending window order (a gather, deterministic). Pooling
   * is piecewise linear, so its R-backward is this op applied to R(dY), with no extra terms. */
  hs_status (*pool_bwd)(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                        const int32_t *argmax, const void *dY, void *dX);

  /* ---- losses over `rows` samples of C outputs; labels are int32 device arrays ---- */
  /* P = softmax(F) row-wise; *loss_sum = sum_r -log P[r][label_r] (log-sum-exp, stable).
   * P or loss_sum may be NULL (not wanted). Labels outside [0, C) are HS_E_INVALID. */
  hs_status (*ce_fwd)(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                      const int32_t *labels, void *P, double *loss_sum);
  /* dF = scale*(P - onehot(labels)) */
  hs_status (*ce_bwd)(hs_backend *be, hs_dtype t, int rows, int C, const void *P,
                      const int32_t *labels, double scale, void *dF);
  /* The softmax Hessian applied to k directions: RdF_j = scale*P*(RF_j - rowsum(P*RF_j)). */
  hs_status (*ce_rop)(hs_backend *be, hs_dtype t, int k, int rows, int C, const void *P,
                      const void *RF, double scale, void *RdF);
  /* *correct = number of rows whose argmax(F) (first maximum) equals the label. */
  hs_status (*ce_correct)(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                          const int32_t *labels, size_t *correct);
  /* *loss_sum = sum 0.5*(F - T)^2 over rows*C; dF = scale*(F - T) when dF != NULL. */
  hs_status (*mse_fwd_bwd)(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                           const void *T, double scale, double *loss_sum, void *dF);

  /* ---- dense symmetric eigendecomposition ---- */
  /* A (n x n, symmetric, row-major) is overwritten: row i = unit eigenvector of w[i];
   * w (n, dtype) ascending. (LAPACK dsyevd / cuSOLVER syevd.) Only the upper triangle
   * (row-major; the lower one of the column-major view) is read. */
  hs_status (*syev)(hs_backend *be, hs_dtype t, int n, void *A, void *w);

  /* ---- training (src/train; CPU: cpu_optim.c, CUDA: kernels/optim.cu) ----
   * Elementwise over n parameters, arithmetic in the op's dtype as PyTorch does it. */
  /* torch.optim.SGD: g = grad + wd*theta; with momentum != 0: buf = first ? g :
   * momentum*buf + (1 - dampening)*g, g = nesterov ? g + momentum*buf : buf;
   * then theta -= lr*g. buf is unused (may be NULL) when momentum == 0. */
  hs_status (*sgd_step)(hs_backend *be, hs_dtype t, size_t n, double lr, double momentum,
                        double dampening, int nesterov, double wd, int first, const void *grad,
                        void *buf, void *theta);
  /* torch.optim.Adam (amsgrad off): g = grad + wd*theta; m += (1 - beta1)*(g - m) (lerp);
   * v = beta2*v + (1 - beta2)*g*g; theta -= step_size * m / (sqrt(v)/bc2_sqrt + eps), where
   * the host passes step_size = lr/(1 - beta1^step) and bc2_sqrt = sqrt(1 - beta2^step). */
  hs_status (*adam_step)(hs_backend *be, hs_dtype t, size_t n, double beta1, double beta2,
                         double eps, double wd, double step_size, double bc2_sqrt,
                         const void *grad, void *m, void *v, void *theta);
  /* BatchNorm1d's running statistics after a training-mode forward of `rows` rows (>= 2),
   * from bn_fwd's batch_mean and rstd (cols): var = 1/rstd^2 - eps (biased) and
   *   run_mean = (1 - momentum)*run_mean + momentum*batch_mean
   *   run_var  = (1 - momentum)*run_var + momentum*var*rows/(rows - 1)   (unbiased) */
  hs_status (*bn_running_update)(hs_backend *be, hs_dtype t, int rows, int cols, double momentum,
                                 const void *batch_mean, const void *rstd, void *run_mean,
                                 void *run_var);
} hs_backend_ops;

#define HS_BN_EPS 1e-5

/* The common head of every backend instance; backends embed it first. */
struct hs_backend {
  const hs_backend_ops *ops;
  char device_name[128];
  char errmsg[512]; /* last failure inside the backend */
};

/* Creates the backend for a device string ("auto", "cpu", "cuda", "cuda:N"). */
hs_status hs_backend_open(const char *device, int threads, int tf32, hs_backend **out,
                          char *err, size_t errlen);
/* The CPU backend itself; threads = 0: all cores. */
hs_status hs_cpu_backend_create(int threads, hs_backend **out);
/* Available in CUDA builds only (registry.c is the only place that knows). */
hs_status hs_cuda_backend_create(int device, int tf32, hs_backend **out, char *err, size_t errlen);
int hs_backend_cuda_compiled(void);
/* Usable CUDA devices (0 without the CUDA backend or without a driver). */
int hs_backend_cuda_device_count(void);

/* Records a message in be->errmsg and returns st (for `return hs_backend_fail(...)`). */
hs_status hs_backend_fail(hs_backend *be, hs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void *hs_dptr(const void *p, hs_dtype t, size_t elems) {
  return (char *)p + elems * (t == HS_F64 ? 8 : 4);
}

#endif
