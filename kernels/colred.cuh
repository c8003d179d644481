/* Per-column reductions over the rows of a (rows, cols) array (private to kernels/).
 *
 * A block of (COL_TILE, ROW_LANES) threads owns COL_TILE consecutive columns; thread (x, l)
 * accumulates rows l, l+ROW_LANES, ... of column x in double, then colred_combine adds the
 * ROW_LANES lane sums in lane order 0, 1, ... The order depends on rows alone: deterministic
 * from run to run and across GPUs. Reads are coalesced along a row (32 columns per warp). */
#ifndef HS_COLRED_CUH
#define HS_COLRED_CUH

#include "cuda_internal.h"

/* Replaces v[q] (this lane's partial sums) by the column totals, in every lane of the column.
 * All threads of the block must call it (it holds barriers). */
template <int NV>
__device__ __forceinline__ void colred_combine(double (&v)[NV]) {
  __shared__ double sh[NV][ROW_LANES][COL_TILE];
#pragma unroll
  for (int q = 0; q < NV; q++) sh[q][threadIdx.y][threadIdx.x] = v[q];
  __syncthreads();
#pragma unroll
  for (int q = 0; q < NV; q++) {
    double s = 0;
#pragma unroll
    for (int l = 0; l < ROW_LANES; l++) s += sh[q][l][threadIdx.x];
    v[q] = s;
  }
  __syncthreads(); /* the next call may overwrite sh */
}

static inline dim3 colred_block() { return dim3(COL_TILE, ROW_LANES); }
/* One block per (column tile, direction). */
static inline dim3 colred_grid(int cols, int k) {
  return dim3((unsigned)((cols + COL_TILE - 1) / COL_TILE), (unsigned)k);
}

#endif
