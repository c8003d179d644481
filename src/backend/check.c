/* The front end of the op table (check.h): one argument check per op of backend/ops.def,
 * shared by every backend. The checks are the contract of ops.def read as code; the order
 * of the tests inside each is part of the behaviour (an empty call needs no pointers, so
 * the pointer tests come after the early "nothing to do" exits, as in the ops). */
#include <stdint.h>

#include "backend/check.h"

/* Fails the check with "<op>: <message>" unless cond holds. */
#define REQUIRE(cond, op, ...)                                                                 \
  do {                                                                                         \
    if (!(cond)) return hs_backend_fail(be, HS_E_INVALID, op ": " __VA_ARGS__);                \
  } while (0)
#define REQUIRE_DTYPE(t, op) REQUIRE((t) == HS_F64 || (t) == HS_F32, op, "unknown dtype %d", (int)(t))
#define REQUIRE_PTR(p, op) REQUIRE((p) != NULL, op, "%s is NULL", #p)
#define REQUIRE_ACT(act, op)                                                                   \
  REQUIRE((act) == HS_ACT_LINEAR || (act) == HS_ACT_RELU || (act) == HS_ACT_TANH, op,          \
          "unknown activation %d", (act))

/* Every field of the table but name, destroy and free comes from ops.def: a field written
 * into hs_backend_ops by hand would have no check and be left NULL by the generated tables. */
enum {
  N_OPS = 0
#define HS_OP(op, params, args) +1
#include "backend/ops.def"
};
_Static_assert(sizeof(hs_backend_ops) == sizeof(const char *) + (2 + N_OPS) * sizeof(void (*)(void)),
               "hs_backend_ops has a field that is not in backend/ops.def");

static int imax1(int a) { return a > 1 ? a : 1; }

/* ---- memory ---- */

hs_status hs_check_alloc(hs_backend *be, size_t bytes, void **ptr) {
  REQUIRE_PTR(ptr, "alloc");
  return HS_OK;
}

static hs_status check_transfer(hs_backend *be, const char *op, const void *dst, const void *src,
                                size_t bytes) {
  if (bytes == 0) return HS_OK;
  if (!dst || !src) return hs_backend_fail(be, HS_E_INVALID, "%s: NULL pointer for %zu bytes", op, bytes);
  return HS_OK;
}
hs_status hs_check_upload(hs_backend *be, void *dst, const void *host_src, size_t bytes) {
  return check_transfer(be, "upload", dst, host_src, bytes);
}
hs_status hs_check_download(hs_backend *be, void *host_dst, const void *src, size_t bytes) {
  return check_transfer(be, "download", host_dst, src, bytes);
}
hs_status hs_check_copy(hs_backend *be, void *dst, const void *src, size_t bytes) {
  return check_transfer(be, "copy", dst, src, bytes);
}

hs_status hs_check_fill(hs_backend *be, hs_dtype t, size_t n, double value, void *x) {
  REQUIRE_DTYPE(t, "fill");
  if (n == 0) return HS_OK;
  REQUIRE_PTR(x, "fill");
  return HS_OK;
}

hs_status hs_check_sync(hs_backend *be) { return HS_OK; } /* nothing to check */

/* ---- BLAS-like ---- */

/* Shared by gemm and gemm_batched. Row-major: op(A) is m x k, so A as stored has k columns
 * (NOTRANS) or m columns (TRANS); lda must cover them. */
static hs_status check_gemm(hs_backend *be, const char *op, hs_dtype t, hs_trans ta, hs_trans tb,
                            int m, int n, int k, const void *A, int lda, const void *B, int ldb,
                            const void *C, int ldc) {
  if (t != HS_F64 && t != HS_F32)
    return hs_backend_fail(be, HS_E_INVALID, "%s: unknown dtype %d", op, (int)t);
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

hs_status hs_check_gemm(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m, int n, int k,
                        double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                        void *C, int ldc) {
  return check_gemm(be, "gemm", t, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
}

hs_status hs_check_gemm_batched(hs_backend *be, hs_dtype t, hs_trans ta, hs_trans tb, int m,
                                int n, int k, double alpha, const void *A, int lda,
                                long long stride_a, const void *B, int ldb, long long stride_b,
                                double beta, void *C, int ldc, long long stride_c, int batch) {
  hs_status st = check_gemm(be, "gemm_batched", t, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
  if (st != HS_OK) return st;
  REQUIRE(batch >= 0, "gemm_batched", "negative batch %d", batch);
  REQUIRE(stride_a >= 0 && stride_b >= 0 && stride_c >= 0, "gemm_batched",
          "negative stride (%lld, %lld, %lld)", stride_a, stride_b, stride_c);
  return HS_OK;
}

hs_status hs_check_gemv(hs_backend *be, hs_dtype t, hs_trans ta, int m, int n, double alpha,
                        const void *A, int lda, const void *x, double beta, void *y) {
  REQUIRE_DTYPE(t, "gemv");
  REQUIRE(ta == HS_NOTRANS || ta == HS_TRANS, "gemv", "bad transpose flag %d", ta);
  REQUIRE(m >= 0 && n >= 0, "gemv", "negative size m=%d n=%d", m, n);
  REQUIRE(lda >= imax1(n), "gemv", "lda=%d < n=%d", lda, n);
  int o = ta == HS_NOTRANS ? m : n, r = ta == HS_NOTRANS ? n : m;
  if (o == 0) return HS_OK;
  REQUIRE_PTR(y, "gemv");
  REQUIRE(r == 0 || (A && x), "gemv", "A or x is NULL");
  return HS_OK;
}

hs_status hs_check_dot(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y,
                       double *out) {
  REQUIRE_DTYPE(t, "dot");
  REQUIRE_PTR(out, "dot");
  if (n == 0) return HS_OK;
  REQUIRE(x && y, "dot", "x or y is NULL (n=%zu)", n);
  return HS_OK;
}

hs_status hs_check_nrm2(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out) {
  REQUIRE_DTYPE(t, "nrm2");
  REQUIRE_PTR(out, "nrm2");
  if (n == 0) return HS_OK;
  REQUIRE_PTR(x, "nrm2");
  return HS_OK;
}

hs_status hs_check_dots(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                        const void *const *y, double *out) {
  REQUIRE_DTYPE(t, "dots");
  REQUIRE(m >= 0, "dots", "negative count m=%d", m);
  if (m == 0) return HS_OK;
  REQUIRE(n && x && y && out, "dots", "n, x, y or out is NULL");
  for (int i = 0; i < m; i++)
    REQUIRE(n[i] == 0 || (x[i] && y[i]), "dots", "x[%d] or y[%d] is NULL (n=%zu)", i, i, n[i]);
  return HS_OK;
}

hs_status hs_check_axpy(hs_backend *be, hs_dtype t, size_t n, double alpha, const void *x,
                        void *y) {
  REQUIRE_DTYPE(t, "axpy");
  if (n == 0) return HS_OK;
  REQUIRE(x && y, "axpy", "x or y is NULL (n=%zu)", n);
  return HS_OK;
}

hs_status hs_check_scal(hs_backend *be, hs_dtype t, size_t n, double alpha, void *x) {
  REQUIRE_DTYPE(t, "scal");
  if (n == 0) return HS_OK;
  REQUIRE_PTR(x, "scal");
  return HS_OK;
}

hs_status hs_check_nonfinite(hs_backend *be, hs_dtype t, size_t n, const void *x, int *out) {
  REQUIRE_DTYPE(t, "nonfinite");
  REQUIRE_PTR(out, "nonfinite");
  if (n == 0) return HS_OK;
  REQUIRE_PTR(x, "nonfinite");
  return HS_OK;
}

/* ---- linear layers, activations ---- */

hs_status hs_check_bias_add(hs_backend *be, hs_dtype t, int k, int rows, int cols,
                            const void *bias, size_t pstride, void *Y) {
  REQUIRE_DTYPE(t, "bias_add");
  REQUIRE(k >= 0 && rows >= 0 && cols >= 0, "bias_add", "negative size k=%d rows=%d cols=%d", k,
          rows, cols);
  if ((long)k * rows * cols == 0) return HS_OK;
  REQUIRE(bias && Y, "bias_add", "bias or Y is NULL");
  REQUIRE(k == 1 || pstride >= (size_t)cols, "bias_add",
          "pstride=%zu < cols=%d: direction slices overlap", pstride, cols);
  return HS_OK;
}

hs_status hs_check_col_sum(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *X,
                           void *out, size_t pstride) {
  REQUIRE_DTYPE(t, "col_sum");
  REQUIRE(k >= 0 && rows >= 0 && cols >= 0, "col_sum", "negative size k=%d rows=%d cols=%d", k,
          rows, cols);
  if ((long)k * cols == 0) return HS_OK;
  REQUIRE_PTR(out, "col_sum");
  REQUIRE(rows == 0 || X, "col_sum", "X is NULL");
  REQUIRE(k == 1 || pstride >= (size_t)cols, "col_sum",
          "pstride=%zu < cols=%d: direction slices overlap", pstride, cols);
  return HS_OK;
}

hs_status hs_check_act_fwd(hs_backend *be, hs_dtype t, int act, size_t n, const void *Y,
                           void *A) {
  REQUIRE_DTYPE(t, "act_fwd");
  REQUIRE_ACT(act, "act_fwd");
  if (n == 0) return HS_OK;
  REQUIRE(Y && A, "act_fwd", "Y or A is NULL");
  return HS_OK;
}

hs_status hs_check_act_deriv_mul(hs_backend *be, hs_dtype t, int act, int k, size_t n,
                                 const void *Y, const void *G, void *out) {
  REQUIRE_DTYPE(t, "act_deriv_mul");
  REQUIRE_ACT(act, "act_deriv_mul");
  REQUIRE(k >= 0, "act_deriv_mul", "negative k=%d", k);
  if (n == 0 || k == 0) return HS_OK;
  REQUIRE(Y && G && out, "act_deriv_mul", "Y, G or out is NULL");
  return HS_OK;
}

hs_status hs_check_act_rbwd_extra(hs_backend *be, hs_dtype t, int act, int k, size_t n,
                                  const void *Y, const void *dA, const void *RY, void *RdY) {
  REQUIRE_DTYPE(t, "act_rbwd_extra");
  REQUIRE_ACT(act, "act_rbwd_extra");
  REQUIRE(k >= 0, "act_rbwd_extra", "negative k=%d", k);
  /* f'' is identically 0 for linear and ReLU: the op reads nothing, so nothing is required */
  if (n == 0 || k == 0 || act != HS_ACT_TANH) return HS_OK;
  REQUIRE(Y && dA && RY && RdY, "act_rbwd_extra", "Y, dA, RY or RdY is NULL");
  return HS_OK;
}

/* ---- batch norm ---- */

static hs_status check_bn(hs_backend *be, const char *op, hs_dtype t, int mode, int k, int rows,
                          int cols) {
  if (t != HS_F64 && t != HS_F32)
    return hs_backend_fail(be, HS_E_INVALID, "%s: unknown dtype %d", op, (int)t);
  if (mode != HS_BN_BATCH && mode != HS_BN_RUNNING)
    return hs_backend_fail(be, HS_E_INVALID, "%s: mode %d is neither batch (%d) nor running (%d)",
                           op, mode, HS_BN_BATCH, HS_BN_RUNNING);
  if (k < 0 || rows < 0 || cols < 0)
    return hs_backend_fail(be, HS_E_INVALID, "%s: negative size k=%d rows=%d cols=%d", op, k,
                           rows, cols);
  /* batch statistics of an empty batch are undefined (0/0) */
  if (mode == HS_BN_BATCH && rows == 0 && cols > 0 && k > 0)
    return hs_backend_fail(be, HS_E_INVALID, "%s: batch statistics of 0 rows", op);
  return HS_OK;
}

hs_status hs_check_bn_fwd(hs_backend *be, hs_dtype t, int mode, int rows, int cols, const void *Z,
                          const void *gamma, const void *beta, const void *run_mean,
                          const void *run_var, void *batch_mean, void *xhat, void *rstd,
                          void *Y) {
  hs_status st = check_bn(be, "bn_fwd", t, mode, 1, rows, cols);
  if (st != HS_OK) return st;
  if (cols == 0) return HS_OK;
  REQUIRE(gamma && beta, "bn_fwd", "gamma or beta is NULL");
  REQUIRE(mode != HS_BN_RUNNING || (run_mean && run_var), "bn_fwd",
          "running mode needs run_mean and run_var");
  REQUIRE(rows == 0 || (Z && Y), "bn_fwd", "Z or Y is NULL");
  return HS_OK;
}

hs_status hs_check_bn_bwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                          const void *xhat, const void *rstd, const void *gamma, const void *dY,
                          void *dZ, void *dgamma, void *dbeta, size_t pstride) {
  hs_status st = check_bn(be, "bn_bwd", t, mode, k, rows, cols);
  if (st != HS_OK) return st;
  if ((long)k * cols == 0) return HS_OK;
  REQUIRE(rstd && gamma, "bn_bwd", "rstd or gamma is NULL");
  REQUIRE(rows == 0 || (xhat && dY), "bn_bwd", "xhat or dY is NULL");
  REQUIRE(k == 1 || (!dgamma && !dbeta) || pstride >= (size_t)cols, "bn_bwd",
          "pstride=%zu < cols=%d: direction slices overlap", pstride, cols);
  return HS_OK;
}

hs_status hs_check_bn_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                           const void *xhat, const void *rstd, const void *gamma, const void *RZ,
                           const void *Rgamma, const void *Rbeta, size_t pstride, void *RXhat,
                           void *RY) {
  hs_status st = check_bn(be, "bn_rfwd", t, mode, k, rows, cols);
  if (st != HS_OK) return st;
  if ((long)k * rows * cols == 0) return HS_OK;
  REQUIRE(xhat && rstd && gamma && RZ, "bn_rfwd", "xhat, rstd, gamma or RZ is NULL");
  REQUIRE(k == 1 || (!Rgamma && !Rbeta) || pstride >= (size_t)cols, "bn_rfwd",
          "pstride=%zu < cols=%d: direction slices overlap", pstride, cols);
  return HS_OK;
}

hs_status hs_check_bn_rbwd_extra(hs_backend *be, hs_dtype t, int mode, int k, int rows, int cols,
                                 const void *xhat, const void *rstd, const void *gamma,
                                 const void *dY, const void *dZ, const void *RZ,
                                 const void *RXhat, const void *Rgamma, size_t pstride, void *RdZ,
                                 void *Rdgamma) {
  hs_status st = check_bn(be, "bn_rbwd_extra", t, mode, k, rows, cols);
  if (st != HS_OK) return st;
  if ((long)k * cols == 0) return HS_OK;
  REQUIRE(rstd && gamma, "bn_rbwd_extra", "rstd or gamma is NULL");
  REQUIRE(rows == 0 || (dY && RXhat), "bn_rbwd_extra", "dY or RXhat is NULL");
  REQUIRE(rows == 0 || mode != HS_BN_BATCH || (xhat && dZ && RZ), "bn_rbwd_extra",
          "batch mode needs xhat, dZ and RZ");
  REQUIRE(k == 1 || (!Rgamma && !Rdgamma) || pstride >= (size_t)cols, "bn_rbwd_extra",
          "pstride=%zu < cols=%d: direction slices overlap", pstride, cols);
  return HS_OK;
}

/* ---- convolution and pooling ---- */

hs_status hs_window_check(hs_backend *be, const char *op, const hs_window *g, int pool) {
  if (g->C < 0 || g->H < 0 || g->W < 0)
    return hs_backend_fail(be, HS_E_INVALID, "%s: negative shape C=%d H=%d W=%d", op, g->C, g->H,
                           g->W);
  if (g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1)
    return hs_backend_fail(be, HS_E_INVALID, "%s: kernel %dx%d and stride %dx%d must be >= 1", op,
                           g->kh, g->kw, g->sh, g->sw);
  if (g->ph < 0 || g->pw < 0)
    return hs_backend_fail(be, HS_E_INVALID, "%s: negative padding %dx%d", op, g->ph, g->pw);
  if (pool && (g->ph != 0 || g->pw != 0))
    return hs_backend_fail(be, HS_E_INVALID, "%s: pooling takes no padding (ph=%d pw=%d)", op,
                           g->ph, g->pw);
  long long hp = (long long)g->H + 2LL * g->ph, wp = (long long)g->W + 2LL * g->pw;
  if (hp < g->kh || wp < g->kw)
    return hs_backend_fail(be, HS_E_INVALID,
                           "%s: window %dx%d is larger than the padded input %lldx%lld", op, g->kh,
                           g->kw, hp, wp);
  long long ho = (hp - g->kh) / g->sh + 1, wo = (wp - g->kw) / g->sw + 1;
  if (g->Ho != ho || g->Wo != wo)
    return hs_backend_fail(be, HS_E_INVALID,
                           "%s: output %dx%d, but (H + 2ph - kh)/sh + 1 x (W + 2pw - kw)/sw + 1 "
                           "= %lldx%lld",
                           op, g->Ho, g->Wo, ho, wo);
  if (pool && (long long)g->H * g->W > INT32_MAX)
    return hs_backend_fail(be, HS_E_INVALID, "%s: a %dx%d plane does not fit an int32 argmax", op,
                           g->H, g->W);
  return HS_OK;
}

hs_status hs_check_im2col(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X,
                          void *cols, long long ldc) {
  REQUIRE_DTYPE(t, "im2col");
  REQUIRE(n >= 0, "im2col", "negative n=%d", n);
  hs_status st = hs_window_check(be, "im2col", &g, 0);
  if (st != HS_OK) return st;
  long long nL = (long long)n * g.Ho * g.Wo, ck = (long long)g.C * g.kh * g.kw;
  REQUIRE(ldc >= nL, "im2col", "ldc=%lld < n*Ho*Wo=%lld", ldc, nL);
  if (ck * nL == 0) return HS_OK;
  REQUIRE_PTR(cols, "im2col");
  REQUIRE(X || (long long)g.H * g.W == 0, "im2col", "X is NULL");
  return HS_OK;
}

hs_status hs_check_col2im(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols,
                          long long ldc, void *dX) {
  REQUIRE_DTYPE(t, "col2im");
  REQUIRE(n >= 0, "col2im", "negative n=%d", n);
  hs_status st = hs_window_check(be, "col2im", &g, 0);
  if (st != HS_OK) return st;
  long long nL = (long long)n * g.Ho * g.Wo;
  REQUIRE(ldc >= nL, "col2im", "ldc=%lld < n*Ho*Wo=%lld", ldc, nL);
  if ((long long)n * g.C * g.H * g.W == 0) return HS_OK;
  REQUIRE(cols && dX, "col2im", "cols or dX is NULL");
  return HS_OK;
}

hs_status hs_check_transpose(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner,
                             const void *src, void *dst) {
  REQUIRE_DTYPE(t, "transpose");
  REQUIRE(batch >= 0 && R >= 0 && S >= 0 && inner >= 0, "transpose",
          "negative size batch=%d R=%d S=%d inner=%d", batch, R, S, inner);
  size_t bytes = (size_t)batch * R * S * inner * (t == HS_F64 ? 8 : 4);
  if (bytes == 0) return HS_OK;
  REQUIRE(src && dst, "transpose", "src or dst is NULL");
  uintptr_t s0 = (uintptr_t)src, d0 = (uintptr_t)dst;
  REQUIRE(s0 + bytes <= d0 || d0 + bytes <= s0, "transpose", "dst overlaps src");
  return HS_OK;
}

static hs_status check_pool(hs_backend *be, const char *op, hs_dtype t, int mode, int k, int n,
                            const hs_window *g) {
  if (t != HS_F64 && t != HS_F32)
    return hs_backend_fail(be, HS_E_INVALID, "%s: unknown dtype %d", op, (int)t);
  if (mode != HS_POOL_AVG && mode != HS_POOL_MAX)
    return hs_backend_fail(be, HS_E_INVALID, "%s: mode %d is neither avg (%d) nor max (%d)", op,
                           mode, HS_POOL_AVG, HS_POOL_MAX);
  if (k < 0 || n < 0)
    return hs_backend_fail(be, HS_E_INVALID, "%s: negative size k=%d n=%d", op, k, n);
  return hs_window_check(be, op, g, 1);
}

hs_status hs_check_pool_fwd(hs_backend *be, hs_dtype t, int mode, int n, hs_window g,
                            const void *X, void *Y, int32_t *argmax) {
  hs_status st = check_pool(be, "pool_fwd", t, mode, 1, n, &g);
  if (st != HS_OK) return st;
  if ((long long)n * g.C == 0) return HS_OK;
  REQUIRE(X && Y, "pool_fwd", "X or Y is NULL");
  REQUIRE(mode != HS_POOL_MAX || argmax, "pool_fwd", "max pooling needs argmax (NULL)");
  return HS_OK;
}

hs_status hs_check_pool_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                             const int32_t *argmax, const void *RX, void *RY) {
  hs_status st = check_pool(be, "pool_rfwd", t, mode, k, n, &g);
  if (st != HS_OK) return st;
  if ((long long)k * n * g.C == 0) return HS_OK;
  REQUIRE(RX && RY, "pool_rfwd", "RX or RY is NULL");
  REQUIRE(mode != HS_POOL_MAX || argmax, "pool_rfwd", "max pooling needs argmax (NULL)");
  return HS_OK;
}

hs_status hs_check_pool_bwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                            const int32_t *argmax, const void *dY, void *dX) {
  hs_status st = check_pool(be, "pool_bwd", t, mode, k, n, &g);
  if (st != HS_OK) return st;
  if ((long long)k * n * g.C == 0) return HS_OK;
  REQUIRE(dY && dX, "pool_bwd", "dY or dX is NULL");
  REQUIRE(mode != HS_POOL_MAX || argmax, "pool_bwd", "max pooling needs argmax (NULL)");
  return HS_OK;
}

/* ---- losses ---- */

hs_status hs_check_ce_fwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                          const int32_t *labels, void *P, double *loss_sum) {
  REQUIRE_DTYPE(t, "ce_fwd");
  REQUIRE(rows >= 0 && C > 0, "ce_fwd", "bad size rows=%d C=%d", rows, C);
  if (rows == 0) return HS_OK;
  REQUIRE(F && labels, "ce_fwd", "F or labels is NULL");
  return HS_OK;
}

hs_status hs_check_ce_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *P,
                          const int32_t *labels, double scale, void *dF) {
  REQUIRE_DTYPE(t, "ce_bwd");
  REQUIRE(rows >= 0 && C > 0, "ce_bwd", "bad size rows=%d C=%d", rows, C);
  if (rows == 0) return HS_OK;
  REQUIRE(P && labels && dF, "ce_bwd", "P, labels or dF is NULL");
  return HS_OK;
}

hs_status hs_check_ce_rop(hs_backend *be, hs_dtype t, int k, int rows, int C, const void *P,
                          const void *RF, double scale, void *RdF) {
  REQUIRE_DTYPE(t, "ce_rop");
  REQUIRE(k >= 0 && rows >= 0 && C > 0, "ce_rop", "bad size k=%d rows=%d C=%d", k, rows, C);
  if ((long)k * rows == 0) return HS_OK;
  REQUIRE(P && RF && RdF, "ce_rop", "P, RF or RdF is NULL");
  return HS_OK;
}

hs_status hs_check_ce_correct(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                              const int32_t *labels, size_t *correct) {
  REQUIRE_DTYPE(t, "ce_correct");
  REQUIRE_PTR(correct, "ce_correct");
  REQUIRE(rows >= 0 && C > 0, "ce_correct", "bad size rows=%d C=%d", rows, C);
  if (rows == 0) return HS_OK;
  REQUIRE(F && labels, "ce_correct", "F or labels is NULL");
  return HS_OK;
}

hs_status hs_check_mse_fwd_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                               const void *T, double scale, double *loss_sum, void *dF) {
  REQUIRE_DTYPE(t, "mse_fwd_bwd");
  REQUIRE(rows >= 0 && C >= 0, "mse_fwd_bwd", "negative size rows=%d C=%d", rows, C);
  if ((long)rows * C == 0) return HS_OK;
  REQUIRE(F && T, "mse_fwd_bwd", "F or T is NULL");
  return HS_OK;
}

/* ---- eigendecomposition ---- */

hs_status hs_check_syev(hs_backend *be, hs_dtype t, int n, void *A, void *w) {
  REQUIRE_DTYPE(t, "syev");
  REQUIRE(n >= 0, "syev", "negative size n=%d", n);
  if (n == 0) return HS_OK;
  REQUIRE(A && w, "syev", "A or w is NULL");
  return HS_OK;
}

/* ---- training ---- */

hs_status hs_check_sgd_step(hs_backend *be, hs_dtype t, size_t n, double lr, double momentum,
                            double dampening, int nesterov, double wd, int first,
                            const void *grad, void *buf, void *theta) {
  REQUIRE_DTYPE(t, "sgd_step");
  if (n == 0) return HS_OK;
  REQUIRE(grad && theta, "sgd_step", "grad or theta is NULL");
  REQUIRE(momentum == 0 || buf, "sgd_step", "momentum %g needs a buffer", momentum);
  return HS_OK;
}

hs_status hs_check_adam_step(hs_backend *be, hs_dtype t, size_t n, double beta1, double beta2,
                             double eps, double wd, double step_size, double bc2_sqrt,
                             const void *grad, void *m, void *v, void *theta) {
  REQUIRE_DTYPE(t, "adam_step");
  if (n == 0) return HS_OK;
  REQUIRE(grad && m && v && theta, "adam_step", "grad, m, v or theta is NULL");
  REQUIRE(bc2_sqrt > 0, "adam_step", "bc2_sqrt = %g must be positive", bc2_sqrt);
  return HS_OK;
}

hs_status hs_check_bn_running_update(hs_backend *be, hs_dtype t, int rows, int cols,
                                     double momentum, const void *batch_mean, const void *rstd,
                                     void *run_mean, void *run_var) {
  REQUIRE_DTYPE(t, "bn_running_update");
  REQUIRE(rows >= 2 && cols >= 0, "bn_running_update",
          "rows=%d (needs >= 2 for the unbiased variance), cols=%d", rows, cols);
  if (cols == 0) return HS_OK;
  REQUIRE(batch_mean && rstd && run_mean && run_var, "bn_running_update", "an argument is NULL");
  return HS_OK;
}
