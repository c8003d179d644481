/* Losses: softmax cross entropy (forward, backward, R-op, accuracy) and mean squared error.
 *
 * Row-wise work runs one warp per row: each lane walks columns lane, lane+32, ... in order
 * and the warp combines lanes by a fixed shuffle-down tree whose lane-0 result is broadcast,
 * so every lane uses the same bits. Per-row losses go to a scratch array of doubles that the
 * deterministic reduction (reduce_impl.cuh) sums to the host. Arithmetic in double. */
#include "reduce_impl.cuh"

#define ROWS_PER_BLOCK 4 /* warps per block, one row each */
#define FULL 0xffffffffu

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(FULL, v, o);
  return __shfl_sync(FULL, v, 0);
}
__device__ __forceinline__ double warp_max(double v) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_down_sync(FULL, v, o));
  return __shfl_sync(FULL, v, 0);
}

static inline unsigned row_blocks(size_t nrows) {
  return (unsigned)((nrows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
}

/* ---- ce_fwd: P = softmax(F) row-wise, rowloss[r] = logsumexp(F_r) - F_r[label_r] ---- */

#define NO_BAD_ROW 0x7f7f7f7f /* cudaMemset byte 0x7f: larger than any row index */

/* Records the first row whose label is outside [0, C) (atomicMin: order-free). */
__device__ __forceinline__ bool label_ok(int y, int C, int r, int *bad_row) {
  if (y >= 0 && y < C) return true;
  atomicMin(bad_row, r);
  return false;
}

static hs_status bad_label_check(hs_backend *be, const char *op, int C) {
  int r = *CB(be)->h_flag;
  if (r == NO_BAD_ROW) return HS_OK;
  return hs_backend_fail(be, HS_E_INVALID, "%s: the label of row %d is outside [0, %d)", op, r, C);
}

template <typename T>
__global__ void k_ce_fwd(int rows, int C, const T *F, const int32_t *labels, T *P, double *rowloss,
                         int *bad_row) {
  const int r = blockIdx.x * ROWS_PER_BLOCK + threadIdx.y, lane = threadIdx.x;
  if (r >= rows) return; /* whole warp leaves together */
  const T *f = F + (size_t)r * C;
  double m = -HUGE_VAL;
  for (int c = lane; c < C; c += 32) m = fmax(m, (double)f[c]);
  m = warp_max(m);
  double s = 0;
  for (int c = lane; c < C; c += 32) s += exp((double)f[c] - m);
  s = warp_sum(s);
  const int y = labels[r];
  const bool ok = y >= 0 && y < C;
  if (!ok && lane == 0) atomicMin(bad_row, r);
  const double fy = ok ? (double)f[y] : (double)NAN;
  __syncwarp(); /* every lane has read f[y] before any lane writes P: P may alias F */
  if (P) {
    T *p = P + (size_t)r * C;
    for (int c = lane; c < C; c += 32) p[c] = (T)(exp((double)f[c] - m) / s);
  }
  if (lane == 0) rowloss[r] = ok ? log(s) + m - fy : (double)NAN;
}

template <typename T>
static hs_status ce_fwd_t(hs_backend *be, int rows, int C, const void *F, const int32_t *labels,
                          void *P, double *loss_sum) {
  cuda_backend *cb = CB(be);
  hs_status st = hs_cuda_scratch(be, (size_t)rows * sizeof(double));
  if (st != HS_OK) return st;
  double *rowloss = (double *)cb->d_scratch;
  CU_CHECK(cudaMemsetAsync(cb->d_flag, 0x7f, sizeof(int), cb->stream));
  k_ce_fwd<T><<<row_blocks(rows), dim3(32, ROWS_PER_BLOCK), 0, cb->stream>>>(
      rows, C, (const T *)F, labels, (T *)P, rowloss, cb->d_flag);
  CU_LAUNCH("k_ce_fwd");
  CU_CHECK(cudaMemcpyAsync(cb->h_flag, cb->d_flag, sizeof(int), cudaMemcpyDeviceToHost, cb->stream));
  double sum = 0;
  st = hs_cuda_sum_doubles(be, (size_t)rows, rowloss, &sum); /* synchronises: h_flag is set */
  if (st != HS_OK) return st;
  st = bad_label_check(be, "ce_fwd", C);
  if (st != HS_OK) return st;
  if (loss_sum) *loss_sum = sum;
  return HS_OK;
}

hs_status cu_ce_fwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                    const int32_t *labels, void *P, double *loss_sum) {
  if (loss_sum) *loss_sum = 0; /* NULL: not wanted (P only), as on the CPU */
  if (rows == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  return t == HS_F64 ? ce_fwd_t<double>(be, rows, C, F, labels, P, loss_sum)
                     : ce_fwd_t<float>(be, rows, C, F, labels, P, loss_sum);
}

/* ---- ce_bwd: dF = scale*(P - onehot(labels)) ---- */

template <typename T>
__global__ void k_ce_bwd(size_t total, int C, const T *P, const int32_t *labels, double scale, T *dF,
                         int *bad_row) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / C;
    int c = (int)(i % C);
    if (c == 0) label_ok(labels[r], C, (int)r, bad_row);
    double y = labels[r] == c ? 1.0 : 0.0;
    dF[i] = (T)(scale * ((double)P[i] - y));
  }
}

hs_status cu_ce_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *P,
                    const int32_t *labels, double scale, void *dF) {
  if (rows == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  size_t total = (size_t)rows * C;
  cuda_backend *cb = CB(be);
  cudaStream_t s = cb->stream;
  CU_CHECK(cudaMemsetAsync(cb->d_flag, 0x7f, sizeof(int), s));
  if (t == HS_F64)
    k_ce_bwd<double><<<ew_blocks(total), EW_THREADS, 0, s>>>(total, C, (const double *)P, labels,
                                                             scale, (double *)dF, cb->d_flag);
  else
    k_ce_bwd<float><<<ew_blocks(total), EW_THREADS, 0, s>>>(total, C, (const float *)P, labels,
                                                            scale, (float *)dF, cb->d_flag);
  CU_LAUNCH("k_ce_bwd");
  /* labels are validated as on the CPU: one 4-byte download per backward (a batch's gradient
   * synchronises for its loss sum anyway) */
  CU_CHECK(cudaMemcpyAsync(cb->h_flag, cb->d_flag, sizeof(int), cudaMemcpyDeviceToHost, s));
  CU_CHECK(cudaStreamSynchronize(s));
  return bad_label_check(be, "ce_bwd", C);
}

/* ---- ce_rop: RdF_j = scale*P*(RF_j - rowsum(P*RF_j)), one warp per (direction, row) ---- */

template <typename T>
__global__ void k_ce_rop(size_t nrows, int rows, int C, const T *P, const T *RF, double scale, T *RdF) {
  const size_t jr = (size_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y; /* j*rows + r */
  const int lane = threadIdx.x;
  if (jr >= nrows) return;
  const T *p = P + (jr % (size_t)rows) * C;
  const T *rf = RF + jr * C;
  T *out = RdF + jr * C;
  double s = 0;
  for (int c = lane; c < C; c += 32) s += (double)p[c] * (double)rf[c];
  s = warp_sum(s);
  for (int c = lane; c < C; c += 32) out[c] = (T)(scale * (double)p[c] * ((double)rf[c] - s));
}

hs_status cu_ce_rop(hs_backend *be, hs_dtype t, int k, int rows, int C, const void *P,
                    const void *RF, double scale, void *RdF) {
  if (rows == 0 || k == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  size_t nrows = (size_t)k * rows;
  cudaStream_t s = CB(be)->stream;
  if (t == HS_F64)
    k_ce_rop<double><<<row_blocks(nrows), dim3(32, ROWS_PER_BLOCK), 0, s>>>(
        nrows, rows, C, (const double *)P, (const double *)RF, scale, (double *)RdF);
  else
    k_ce_rop<float><<<row_blocks(nrows), dim3(32, ROWS_PER_BLOCK), 0, s>>>(
        nrows, rows, C, (const float *)P, (const float *)RF, scale, (float *)RdF);
  CU_LAUNCH("k_ce_rop");
  return HS_OK;
}

/* ---- ce_correct: rows whose first argmax equals the label ---- */

template <typename T>
__global__ void k_ce_correct(int rows, int C, const T *F, const int32_t *labels, double *hit,
                             int *bad_row) {
  const int r = blockIdx.x * ROWS_PER_BLOCK + threadIdx.y, lane = threadIdx.x;
  if (r >= rows) return;
  const T *f = F + (size_t)r * C;
  /* each lane: first maximum of its columns (strict >, as a serial loop from c = 0) */
  double best = -HUGE_VAL;
  int arg = C; /* "none yet" loses every tie */
  for (int c = lane; c < C; c += 32) {
    double v = (double)f[c];
    if (arg == C || v > best) { best = v; arg = c; }
  }
  /* combine: larger value wins; on a tie the smaller column (the first maximum) */
  for (int o = 16; o > 0; o >>= 1) {
    double ob = __shfl_down_sync(FULL, best, o);
    int oa = __shfl_down_sync(FULL, arg, o);
    if (oa < C && (arg == C || ob > best || (ob == best && oa < arg))) { best = ob; arg = oa; }
  }
  if (lane == 0) hit[r] = label_ok(labels[r], C, r, bad_row) && arg == labels[r] ? 1.0 : 0.0;
}

hs_status cu_ce_correct(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                        const int32_t *labels, size_t *correct) {
  *correct = 0;
  if (rows == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  cuda_backend *cb = CB(be);
  st = hs_cuda_scratch(be, (size_t)rows * sizeof(double));
  if (st != HS_OK) return st;
  double *hit = (double *)cb->d_scratch;
  CU_CHECK(cudaMemsetAsync(cb->d_flag, 0x7f, sizeof(int), cb->stream));
  if (t == HS_F64)
    k_ce_correct<double><<<row_blocks(rows), dim3(32, ROWS_PER_BLOCK), 0, cb->stream>>>(
        rows, C, (const double *)F, labels, hit, cb->d_flag);
  else
    k_ce_correct<float><<<row_blocks(rows), dim3(32, ROWS_PER_BLOCK), 0, cb->stream>>>(
        rows, C, (const float *)F, labels, hit, cb->d_flag);
  CU_LAUNCH("k_ce_correct");
  CU_CHECK(cudaMemcpyAsync(cb->h_flag, cb->d_flag, sizeof(int), cudaMemcpyDeviceToHost, cb->stream));
  double n;
  st = hs_cuda_sum_doubles(be, (size_t)rows, hit, &n); /* integers < 2^53: exact */
  if (st != HS_OK) return st;
  st = bad_label_check(be, "ce_correct", C);
  if (st != HS_OK) return st;
  *correct = (size_t)n;
  return HS_OK;
}

/* ---- mse_fwd_bwd: loss_sum = sum 0.5*(F-T)^2, dF = scale*(F-T) ---- */

template <typename T> struct f_mse {
  const T *F, *Tg;
  double scale;
  T *dF; /* may be NULL; may alias F (element i is read before it is written) */
  __device__ double operator()(size_t i) const {
    double d = (double)F[i] - (double)Tg[i];
    if (dF) dF[i] = (T)(scale * d);
    return 0.5 * d * d;
  }
};

hs_status cu_mse_fwd_bwd(hs_backend *be, hs_dtype t, int rows, int C, const void *F,
                         const void *T, double scale, double *loss_sum, void *dF) {
  if (loss_sum) *loss_sum = 0;
  size_t n = (size_t)rows * C;
  if (n == 0) return HS_OK;
  hs_status st = hs_cuda_enter(be);
  if (st != HS_OK) return st;
  double sum = 0;
  if (t == HS_F64)
    st = red_to_host<red_sum>(be, n, f_mse<double>{(const double *)F, (const double *)T, scale,
                                                   (double *)dF}, &sum);
  else
    st = red_to_host<red_sum>(be, n, f_mse<float>{(const float *)F, (const float *)T, scale,
                                                  (float *)dF}, &sum);
  if (st == HS_OK && loss_sum) *loss_sum = sum;
  return st;
}
