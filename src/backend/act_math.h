/* Scalar activation maths shared by the CPU loops and the CUDA kernels (one source of truth:
 * the differential suite then tests the loops around it, not two copies of the formulas).
 * act: hs_activation (0 linear, 1 relu, 2 tanh). f' and f'' are taken at the activation
 * input y. ReLU: f'(0) = 0 (PyTorch's convention), f'' = 0 everywhere. */
#ifndef HS_ACT_MATH_H
#define HS_ACT_MATH_H

#ifdef __CUDACC__
#define HS_HD __host__ __device__ __forceinline__
#else
#define HS_HD static inline
#endif

#include <math.h>

HS_HD double hs_act_f(int act, double y) {
  return act == 1 ? (y > 0 ? y : 0) : act == 2 ? tanh(y) : y;
}
HS_HD double hs_act_df(int act, double y) {
  if (act == 1) return y > 0 ? 1 : 0;
  if (act == 2) { double t = tanh(y); return 1 - t * t; }
  return 1;
}
HS_HD double hs_act_d2f(int act, double y) {
  if (act == 2) { double t = tanh(y); return -2 * t * (1 - t * t); }
  return 0;
}

/* f32 twins: the f32 path computes in f32 like PyTorch does. */
HS_HD float hs_act_ff(int act, float y) {
  return act == 1 ? (y > 0 ? y : 0.0f) : act == 2 ? tanhf(y) : y;
}
HS_HD float hs_act_dff(int act, float y) {
  if (act == 1) return y > 0 ? 1.0f : 0.0f;
  if (act == 2) { float t = tanhf(y); return 1 - t * t; }
  return 1.0f;
}
HS_HD float hs_act_d2ff(int act, float y) {
  if (act == 2) { float t = tanhf(y); return -2 * t * (1 - t * t); }
  return 0.0f;
}

#endif
