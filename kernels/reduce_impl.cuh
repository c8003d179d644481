/* Deterministic device reductions to one double (private to kernels/).
 *
 * Fixed decomposition: RED_BLOCKS blocks of RED_THREADS threads regardless of the GPU; thread
 * t of block b takes elements b*RED_THREADS + t + s*RED_BLOCKS*RED_THREADS, s = 0, 1, ..., into
 * four accumulators by s mod 4 (the tail after the last full group of four into the first), in
 * double, combined as (a0 + a1) + (a2 + a3); each block combines its threads by a fixed binary tree, and one final block combines
 * the block partials by the same tree. The order depends on n alone, so a result is
 * bit-identical from run to run and from one GPU model to another (given the same binary).
 * It is not bit-identical to the CPU's order; the differential suite allows rounding. */
#ifndef HS_REDUCE_IMPL_CUH
#define HS_REDUCE_IMPL_CUH

#include "cuda_internal.h"

struct red_sum {
  static __device__ __forceinline__ double id() { return 0.0; }
  static __device__ __forceinline__ double op(double a, double b) { return a + b; }
};
/* max of non-negative values; NaN wins so that it cannot hide */
struct red_max {
  static __device__ __forceinline__ double id() { return 0.0; }
  static __device__ __forceinline__ double op(double a, double b) {
    return (a != a || a > b) ? a : b;
  }
};

template <class R>
__device__ __forceinline__ double block_tree(double *sh, double v) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int w = RED_THREADS / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) sh[threadIdx.x] = R::op(sh[threadIdx.x], sh[threadIdx.x + w]);
    __syncthreads();
  }
  return sh[0];
}

/* partials[b] = reduction over block b's share of f(0..n). f(i) returns a double and may
 * write outputs of element i as a side effect (each i is visited exactly once). */
template <class R, class F>
__global__ void __launch_bounds__(RED_THREADS) k_red_partials(size_t n, F f, double *partials) {
  __shared__ double sh[RED_THREADS];
  /* four independent accumulators (four loads in flight, four add chains instead of one
   * dependent chain), combined as (a0 + a1) + (a2 + a3): still an order fixed by n alone */
  double a0 = R::id(), a1 = R::id(), a2 = R::id(), a3 = R::id();
  const size_t stride = (size_t)RED_BLOCKS * RED_THREADS;
  size_t i = (size_t)blockIdx.x * RED_THREADS + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    a0 = R::op(a0, f(i));
    a1 = R::op(a1, f(i + stride));
    a2 = R::op(a2, f(i + 2 * stride));
    a3 = R::op(a3, f(i + 3 * stride));
  }
  for (; i < n; i += stride) a0 = R::op(a0, f(i));
  double total = block_tree<R>(sh, R::op(R::op(a0, a1), R::op(a2, a3)));
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

/* partials[RED_BLOCKS] = reduction of partials[0..RED_BLOCKS); one block. */
template <class R>
__global__ void __launch_bounds__(RED_THREADS) k_red_final(double *partials) {
  __shared__ double sh[RED_THREADS];
  double v = (int)threadIdx.x < RED_BLOCKS ? partials[threadIdx.x] : R::id();
  double total = block_tree<R>(sh, v);
  if (threadIdx.x == 0) partials[RED_BLOCKS] = total;
}

/* Queues the reduction of f over [0, n) into partials[RED_BLOCKS] (partials: RED_BLOCKS + 1
 * doubles); nothing is synchronised. */
template <class R, class F>
static hs_status red_queue(hs_backend *be, size_t n, F f, double *partials) {
  cudaStream_t s = CB(be)->stream;
  k_red_partials<R, F><<<RED_BLOCKS, RED_THREADS, 0, s>>>(n, f, partials);
  CU_LAUNCH("k_red_partials");
  k_red_final<R><<<1, RED_THREADS, 0, s>>>(partials);
  CU_LAUNCH("k_red_final");
  return HS_OK;
}

/* Reduces f over [0, n) into *out on the host (synchronises the stream). */
template <class R, class F>
static hs_status red_to_host(hs_backend *be, size_t n, F f, double *out) {
  cuda_backend *cb = CB(be);
  hs_status st = red_queue<R, F>(be, n, f, cb->d_partials);
  if (st != HS_OK) return st;
  CU_CHECK(cudaMemcpyAsync(cb->h_result, cb->d_partials + RED_BLOCKS, sizeof(double),
                           cudaMemcpyDeviceToHost, cb->stream));
  CU_CHECK(cudaStreamSynchronize(cb->stream));
  *out = cb->h_result[0];
  return HS_OK;
}

#endif
