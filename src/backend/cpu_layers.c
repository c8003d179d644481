/* Linear-layer helpers (bias_add, col_sum) and the activation passes. The activation maths
 * comes from act_math.h, shared with the CUDA kernels; f32 uses its f32 twins. */
#include "backend/act_math.h"
#include "backend/cpu_internal.h"

static inline double act_f_f64(int a, double y) { return hs_act_f(a, y); }
static inline double act_df_f64(int a, double y) { return hs_act_df(a, y); }
static inline double act_d2f_f64(int a, double y) { return hs_act_d2f(a, y); }
static inline float act_f_f32(int a, float y) { return hs_act_ff(a, y); }
static inline float act_df_f32(int a, float y) { return hs_act_dff(a, y); }
static inline float act_d2f_f32(int a, float y) { return hs_act_d2ff(a, y); }

/* Element tile of the k-direction activation ops: f'(Y) of a tile is computed once and
 * reused by the k directions while it is in L1 (tanh dominates the cost). */
#define ACT_TILE 512

static inline long ceil_div(long a, long b) { return (a + b - 1) / b; }

/* ---- bias_add: Y (k, rows, cols) += bias_j (cols) ---- */
#define DEF_BIAS_ADD(T, S)                                                                     \
  static void bias_add_##S(int nt, int k, int rows, int cols, const T *bias, size_t pstride,   \
                           T *Y) {                                                             \
    long nrows = (long)k * rows;                                                               \
    _Pragma("omp parallel for num_threads(nt) if (nrows * cols >= CPU_PAR_MIN) schedule(static)") \
    for (long jr = 0; jr < nrows; jr++) {                                                      \
      const T *b = bias + (size_t)(jr / rows) * pstride;                                       \
      T *y = Y + (size_t)jr * cols;                                                            \
      for (int c = 0; c < cols; c++) y[c] += b[c];                                             \
    }                                                                                          \
  }
DEF_BIAS_ADD(float, f32)
DEF_BIAS_ADD(double, f64)

hs_status hs_cpu_bias_add(hs_backend *be, hs_dtype t, int k, int rows, int cols,
                          const void *bias, size_t pstride, void *Y) {
  if ((long)k * rows * cols == 0) return HS_OK;
  CPU_DISPATCH(t, bias_add, cpu_threads(be), k, rows, cols, bias, pstride, Y);
  return HS_OK;
}

/* ---- col_sum: out_j (cols) += sum_r X_j[r][:] ----
 * Tasks are (direction, column tile); each sums its rows in index order in double, so the
 * result does not depend on how tasks are spread over threads. */
#define DEF_COL_SUM(T, S)                                                                      \
  static void col_sum_##S(int nt, int k, int rows, int cols, const T *X, T *out,               \
                          size_t pstride) {                                                    \
    long tiles = ceil_div(cols, CPU_COL_TILE), ntasks = (long)k * tiles;                       \
    _Pragma("omp parallel for num_threads(nt) if ((long)k * rows * cols >= CPU_PAR_MIN) schedule(static)") \
    for (long task = 0; task < ntasks; task++) {                                               \
      int j = (int)(task / tiles), c0 = (int)(task % tiles) * CPU_COL_TILE;                    \
      int w = cols - c0 < CPU_COL_TILE ? cols - c0 : CPU_COL_TILE;                             \
      double acc[CPU_COL_TILE] = {0};                                                          \
      const T *x = X + (size_t)j * rows * cols + c0;                                           \
      for (int r = 0; r < rows; r++, x += cols)                                                \
        for (int c = 0; c < w; c++) acc[c] += x[c];                                            \
      T *o = out + (size_t)j * pstride + c0;                                                   \
      for (int c = 0; c < w; c++) o[c] = (T)((double)o[c] + acc[c]);                           \
    }                                                                                          \
  }
DEF_COL_SUM(float, f32)
DEF_COL_SUM(double, f64)

hs_status hs_cpu_col_sum(hs_backend *be, hs_dtype t, int k, int rows, int cols, const void *X,
                         void *out, size_t pstride) {
  if ((long)k * cols == 0) return HS_OK;
  CPU_DISPATCH(t, col_sum, cpu_threads(be), k, rows, cols, X, out, pstride);
  return HS_OK;
}

/* ---- act_fwd: A = f(Y) (A may alias Y) ---- */
#define DEF_ACT_FWD(T, S)                                                                      \
  static void act_fwd_##S(int nt, int act, size_t n, const T *Y, T *A) {                       \
    _Pragma("omp parallel for num_threads(nt) if (n >= CPU_PAR_MIN) schedule(static)")         \
    for (size_t i = 0; i < n; i++) A[i] = act_f_##S(act, Y[i]);                                \
  }
DEF_ACT_FWD(float, f32)
DEF_ACT_FWD(double, f64)

hs_status hs_cpu_act_fwd(hs_backend *be, hs_dtype t, int act, size_t n, const void *Y, void *A) {
  if (n == 0) return HS_OK;
  CPU_DISPATCH(t, act_fwd, cpu_threads(be), act, n, Y, A);
  return HS_OK;
}

/* ---- act_deriv_mul: out_j = f'(Y) * G_j for (k, n) blocks; out may alias G ---- */
#define DEF_ACT_DERIV_MUL(T, S)                                                                \
  static void act_deriv_mul_##S(int nt, int act, int k, size_t n, const T *Y, const T *G,      \
                                T *out) {                                                      \
    long tiles = ceil_div((long)n, ACT_TILE);                                                  \
    _Pragma("omp parallel for num_threads(nt) if (n * (size_t)k >= CPU_PAR_MIN) schedule(static)") \
    for (long tile = 0; tile < tiles; tile++) {                                                \
      size_t i0 = (size_t)tile * ACT_TILE;                                                     \
      size_t w = n - i0 < ACT_TILE ? n - i0 : ACT_TILE;                                        \
      T d[ACT_TILE];                                                                           \
      for (size_t i = 0; i < w; i++) d[i] = act_df_##S(act, Y[i0 + i]);                        \
      for (int j = 0; j < k; j++) {                                                            \
        const T *g = G + (size_t)j * n + i0;                                                   \
        T *o = out + (size_t)j * n + i0;                                                       \
        for (size_t i = 0; i < w; i++) o[i] = d[i] * g[i];                                     \
      }                                                                                        \
    }                                                                                          \
  }
DEF_ACT_DERIV_MUL(float, f32)
DEF_ACT_DERIV_MUL(double, f64)

hs_status hs_cpu_act_deriv_mul(hs_backend *be, hs_dtype t, int act, int k, size_t n,
                               const void *Y, const void *G, void *out) {
  if (n == 0 || k == 0) return HS_OK;
  CPU_DISPATCH(t, act_deriv_mul, cpu_threads(be), act, k, n, Y, G, out);
  return HS_OK;
}

/* ---- act_rbwd_extra: RdY_j += f''(Y) * dA * RY_j ---- */
#define DEF_ACT_RBWD_EXTRA(T, S)                                                               \
  static void act_rbwd_extra_##S(int nt, int act, int k, size_t n, const T *Y, const T *dA,    \
                                 const T *RY, T *RdY) {                                        \
    long tiles = ceil_div((long)n, ACT_TILE);                                                  \
    _Pragma("omp parallel for num_threads(nt) if (n * (size_t)k >= CPU_PAR_MIN) schedule(static)") \
    for (long tile = 0; tile < tiles; tile++) {                                                \
      size_t i0 = (size_t)tile * ACT_TILE;                                                     \
      size_t w = n - i0 < ACT_TILE ? n - i0 : ACT_TILE;                                        \
      T e[ACT_TILE];                                                                           \
      for (size_t i = 0; i < w; i++) e[i] = act_d2f_##S(act, Y[i0 + i]) * dA[i0 + i];          \
      for (int j = 0; j < k; j++) {                                                            \
        const T *ry = RY + (size_t)j * n + i0;                                                 \
        T *o = RdY + (size_t)j * n + i0;                                                       \
        for (size_t i = 0; i < w; i++) o[i] += e[i] * ry[i];                                   \
      }                                                                                        \
    }                                                                                          \
  }
DEF_ACT_RBWD_EXTRA(float, f32)
DEF_ACT_RBWD_EXTRA(double, f64)

hs_status hs_cpu_act_rbwd_extra(hs_backend *be, hs_dtype t, int act, int k, size_t n,
                                const void *Y, const void *dA, const void *RY, void *RdY) {
  /* f'' is identically 0 for linear and ReLU: the term vanishes, skip the pass */
  if (n == 0 || k == 0 || act != HS_ACT_TANH) return HS_OK;
  CPU_DISPATCH(t, act_rbwd_extra, cpu_threads(be), act, k, n, Y, dA, RY, RdY);
  return HS_OK;
}
