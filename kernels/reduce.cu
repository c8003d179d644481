/* dot and nrm2: own deterministic reductions (reduce_impl.cuh) rather than cublasDdot.
 *
 * Why not cuBLAS: cublas<t>dot sums in the dtype (f32 dots would lose digits the CPU keeps)
 * and its internal order is not documented to be independent of the GPU model. Lanczos
 * scalars feed a tridiagonal whose eigenvalues are the result, so they are accumulated in
 * double, in a fixed order, as on the CPU. */
#include <float.h>

#include "reduce_impl.cuh"

static_assert(RED_THREADS >= RED_BLOCKS, "k_red_final reads one partial per thread");

template <typename T> struct f_dot {
  const T *x, *y;
  __device__ double operator()(size_t i) const { return (double)x[i] * (double)y[i]; }
};
template <typename T> struct f_sq {
  const T *x;
  double inv_scale;
  __device__ double operator()(size_t i) const {
    double v = (double)x[i] * inv_scale;
    return v * v;
  }
};
template <typename T> struct f_abs {
  const T *x;
  __device__ double operator()(size_t i) const { return fabs((double)x[i]); }
};
struct f_val {
  const double *x;
  __device__ double operator()(size_t i) const { return x[i]; }
};

hs_status cu_dot(hs_backend *be, hs_dtype t, size_t n, const void *x, const void *y, double *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  if (t == HS_F64) return red_to_host<red_sum>(be, n, f_dot<double>{(const double *)x, (const double *)y}, out);
  return red_to_host<red_sum>(be, n, f_dot<float>{(const float *)x, (const float *)y}, out);
}

/* Each dot by the very kernels of cu_dot (same grid, same order: the same bits), its partials
 * in a slot of the scratch buffer; the m totals come back in one strided copy, one sync. */
template <typename T>
static hs_status dots_t(hs_backend *be, int m, const size_t *n, const void *const *x, const void *const *y,
                        double *out) {
  cuda_backend *cb = CB(be);
  const size_t slot = RED_BLOCKS + 1;
  hs_status st = hs_cuda_scratch(be, (size_t)m * slot * sizeof(double));
  if (st != HS_OK) return st;
  double *part = (double *)cb->d_scratch;
  for (int i = 0; i < m; i++) {
    if (n[i] == 0) {
      CU_CHECK(cudaMemsetAsync(part + i * slot + RED_BLOCKS, 0, sizeof(double), cb->stream));
      continue;
    }
    st = red_queue<red_sum>(be, n[i], f_dot<T>{(const T *)x[i], (const T *)y[i]}, part + i * slot);
    if (st != HS_OK) return st;
  }
  CU_CHECK(cudaMemcpy2DAsync(out, sizeof(double), part + RED_BLOCKS, slot * sizeof(double), sizeof(double),
                             (size_t)m, cudaMemcpyDeviceToHost, cb->stream));
  CU_CHECK(cudaStreamSynchronize(cb->stream));
  return HS_OK;
}

hs_status cu_dots(hs_backend *be, hs_dtype t, int m, const size_t *n, const void *const *x,
                  const void *const *y, double *out) {
  if (m == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return t == HS_F64 ? dots_t<double>(be, m, n, x, y, out) : dots_t<float>(be, m, n, x, y, out);
}

template <typename T> static hs_status nrm2_t(hs_backend *be, size_t n, const T *x, double *out) {
  double ss = 0;
  /* the very kernel of dot(x, x): nrm2 = sqrt(dot(x, x)) bit for bit, as on the CPU */
  hs_status st = red_to_host<red_sum>(be, n, f_dot<T>{x, x}, &ss);
  if (st != HS_OK) return st;
  /* Squares of f64 values can overflow (|x| > 1e154) or underflow (|x| < 1e-154); then
   * redo the sum scaled by max|x| (LAPACK's dnrm2 guards the same way). f32 values squared
   * in double can do neither. A NaN sum stays NaN. */
  if (sizeof(T) == 8 && (ss == HUGE_VAL || (ss < 1e-280 && ss >= 0))) {
    double amax = 0;
    st = red_to_host<red_max>(be, n, f_abs<T>{x}, &amax);
    if (st != HS_OK) return st;
    if (amax > 0 && amax < HUGE_VAL) {
      st = red_to_host<red_sum>(be, n, f_sq<T>{x, 1.0 / amax}, &ss);
      if (st != HS_OK) return st;
      *out = amax * sqrt(ss);
      return HS_OK;
    }
    *out = amax; /* 0, Inf or NaN */
    return HS_OK;
  }
  *out = sqrt(ss);
  return HS_OK;
}

hs_status cu_nrm2(hs_backend *be, hs_dtype t, size_t n, const void *x, double *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  if (t == HS_F64) return nrm2_t(be, n, (const double *)x, out);
  return nrm2_t(be, n, (const float *)x, out);
}

hs_status hs_cuda_sum_doubles(hs_backend *be, size_t n, const double *x, double *out) {
  *out = 0;
  if (n == 0) return HS_OK;
  return red_to_host<red_sum>(be, n, f_val{x}, out);
}
