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
