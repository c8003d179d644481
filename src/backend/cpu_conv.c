/* Convolution by im2col + GEMM, and pooling, over NCHW arrays: im2col, col2im, transpose,
 * pool_fwd, pool_rfwd and pool_bwd, exactly as the comments of backend.h state them.
 *
 * Every op is a gather: each output element is produced by exactly one task, from its inputs,
 * and where it is a sum (col2im, average pooling, pool_bwd) its terms are added in double in
 * the order backend.h fixes (ascending (i, j); row-major window order; ascending window
 * order) and rounded once to the dtype. Tasks are rows or planes fixed by the shape, never by
 * the thread count, so results are bit-identical for any number of threads; kernels/conv.cu
 * adds the same terms in the same order in double, so the two backends agree bit for bit.
 *
 * Average pooling divides the double sum by kh*kw once (backend.h's "sum ... / (kh*kw)"),
 * in pool_fwd, pool_rfwd and pool_bwd alike. */
#include <limits.h>
#include <stdint.h>

#include "backend/cpu_internal.h"

static inline long ceil_div(long a, long b) { return (a + b - 1) / b; }

/* Output indices o in [0, n) whose input position o*s + off (off = j - pad) lies in [0, len):
 * [*lo, *hi), empty as lo == hi. */
static inline void valid_range(int n, int s, int off, int len, int *lo, int *hi) {
  long a = -(long)off;          /* o*s >= -off */
  long b = (long)len - 1 - off; /* o*s <= len - 1 - off */
  long l = a <= 0 ? 0 : ceil_div(a, s);
  long h = b < 0 ? 0 : b / s + 1;
  if (h > n) h = n;
  if (l > h) l = h;
  *lo = (int)l;
  *hi = (int)h;
}

/* ---- the geometry check shared by both backends (kernels/conv.cu calls it too) ---- */


/* Work (elements touched) above which a parallel region pays. */
#define CONV_PAR(work) ((long long)(work) >= CPU_PAR_MIN)
/* Columns of dX accumulated at once by col2im (double accumulators on the stack). */
#define COL2IM_XTILE 128
/* r x s tile of the transpose: both sides stay in L1. */
#define TRANSPOSE_TILE 32

/* ---- im2col ----
 * X (n, C, H, W); cols (CK, ldc), columns [0, n*L) written. Task (row (c, i, j), sample b)
 * writes the L entries cols[row][b*L .. b*L + L). */
#define DEF_IM2COL(T, S)                                                                       \
  static void im2col_##S(int nt, int n, hs_window g, const T *X, T *cols, long long ldc) {     \
    const long kk = (long)g.kh * g.kw, ck = (long)g.C * kk, L = (long)g.Ho * g.Wo;             \
    const long ntasks = ck * n;                                                                \
    _Pragma("omp parallel for num_threads(nt) if (CONV_PAR(ntasks * L)) schedule(static)")     \
    for (long task = 0; task < ntasks; task++) {                                               \
      const long row = task / n;                                                               \
      const int b = (int)(task % n), c = (int)(row / kk);                                      \
      const int i = (int)(row / g.kw % g.kh), j = (int)(row % g.kw);                           \
      const T *x = X + ((size_t)b * g.C + c) * g.H * g.W;                                      \
      T *o = cols + (size_t)row * ldc + (size_t)b * L;                                         \
      int ox0, ox1;                                                                            \
      valid_range(g.Wo, g.sw, j - g.pw, g.W, &ox0, &ox1);                                      \
      for (int oy = 0; oy < g.Ho; oy++, o += g.Wo) {                                           \
        const int iy = oy * g.sh - g.ph + i;                                                   \
        if (iy < 0 || iy >= g.H) {                                                             \
          for (int ox = 0; ox < g.Wo; ox++) o[ox] = 0;                                         \
          continue;                                                                            \
        }                                                                                      \
        const T *xr = x + (size_t)iy * g.W;                                                    \
        for (int ox = 0; ox < ox0; ox++) o[ox] = 0;                                            \
        for (int ox = ox0; ox < ox1; ox++) o[ox] = xr[ox * g.sw - g.pw + j];                   \
        for (int ox = ox1; ox < g.Wo; ox++) o[ox] = 0;                                         \
      }                                                                                        \
    }                                                                                          \
  }
DEF_IM2COL(float, f32)
DEF_IM2COL(double, f64)

hs_status hs_cpu_im2col(hs_backend *be, hs_dtype t, int n, hs_window g, const void *X, void *cols,
                        long long ldc) {
  long long nL = (long long)n * g.Ho * g.Wo, ck = (long long)g.C * g.kh * g.kw;
  if (ck * nL == 0) return HS_OK;
  CPU_DISPATCH(t, im2col, cpu_threads(be), n, g, X, cols, ldc);
  return HS_OK;
}

/* ---- col2im ----
 * dX (n, C, H, W) overwritten. Task = plane (b, c); for each row y and tile of columns, the
 * terms of every element are added into double accumulators with (i, j) ascending, the
 * outermost loops: for a fixed (i, j) at most one (oy, ox) reads a given element, so each
 * element's terms arrive in ascending (i, j) order. */
#define DEF_COL2IM(T, S)                                                                       \
  static void col2im_##S(int nt, int n, hs_window g, const T *cols, long long ldc, T *dX) {    \
    const long planes = (long)n * g.C, L = (long)g.Ho * g.Wo;                                  \
    _Pragma("omp parallel for num_threads(nt) if (CONV_PAR(planes * g.H * g.W * g.kh * g.kw)) schedule(static)") \
    for (long pl = 0; pl < planes; pl++) {                                                     \
      const int b = (int)(pl / g.C), c = (int)(pl % g.C);                                      \
      T *dx = dX + (size_t)pl * g.H * g.W;                                                     \
      double acc[COL2IM_XTILE];                                                                \
      for (int y = 0; y < g.H; y++)                                                            \
        for (int x0 = 0; x0 < g.W; x0 += COL2IM_XTILE) {                                       \
          const int w = g.W - x0 < COL2IM_XTILE ? g.W - x0 : COL2IM_XTILE;                     \
          for (int x = 0; x < w; x++) acc[x] = 0;                                              \
          for (int i = 0; i < g.kh; i++) {                                                     \
            const int ty = y + g.ph - i; /* = oy*sh */                                         \
            if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.Ho) continue;                       \
            const int oy = ty / g.sh;                                                          \
            for (int j = 0; j < g.kw; j++) {                                                   \
              const T *cr = cols + (size_t)((long)(c * g.kh + i) * g.kw + j) * ldc +           \
                            (size_t)b * L + (size_t)oy * g.Wo;                                 \
              /* ox with x = ox*sw - pw + j in [x0, x0 + w) */                                 \
              int lo, hi;                                                                      \
              valid_range(g.Wo, g.sw, j - g.pw - x0, w, &lo, &hi);                             \
              for (int ox = lo; ox < hi; ox++) acc[ox * g.sw - g.pw + j - x0] += cr[ox];       \
            }                                                                                  \
          }                                                                                    \
          T *o = dx + (size_t)y * g.W + x0;                                                    \
          for (int x = 0; x < w; x++) o[x] = (T)acc[x];                                        \
        }                                                                                      \
    }                                                                                          \
  }
DEF_COL2IM(float, f32)
DEF_COL2IM(double, f64)

hs_status hs_cpu_col2im(hs_backend *be, hs_dtype t, int n, hs_window g, const void *cols,
                        long long ldc, void *dX) {
  if ((long long)n * g.C * g.H * g.W == 0) return HS_OK;
  CPU_DISPATCH(t, col2im, cpu_threads(be), n, g, cols, ldc, dX);
  return HS_OK;
}

/* ---- transpose ----
 * dst[((b*ns + s)*nr + r)*inner + e] = src[((b*nr + r)*ns + s)*inner + e]. Tasks are
 * (b, r tile, s tile): a pure copy, so any split gives the same bytes. */
#define DEF_TRANSPOSE(T, S)                                                                    \
  static void transpose_##S(int nt, int batch, int nr, int ns, int inner, const T *src,        \
                            T *dst) {                                                          \
    const long tr = ceil_div(nr, TRANSPOSE_TILE), ts = ceil_div(ns, TRANSPOSE_TILE);           \
    const long ntasks = (long)batch * tr * ts;                                                 \
    _Pragma("omp parallel for num_threads(nt) if (CONV_PAR((long long)batch * nr * ns * inner)) schedule(static)") \
    for (long task = 0; task < ntasks; task++) {                                               \
      const long b = task / (tr * ts);                                                         \
      const int r0 = (int)(task / ts % tr) * TRANSPOSE_TILE;                                   \
      const int s0 = (int)(task % ts) * TRANSPOSE_TILE;                                        \
      const int r1 = nr - r0 < TRANSPOSE_TILE ? nr : r0 + TRANSPOSE_TILE;                      \
      const int s1 = ns - s0 < TRANSPOSE_TILE ? ns : s0 + TRANSPOSE_TILE;                      \
      for (int s = s0; s < s1; s++)                                                            \
        for (int r = r0; r < r1; r++) {                                                        \
          const T *a = src + (((size_t)b * nr + r) * ns + s) * inner;                          \
          T *d = dst + (((size_t)b * ns + s) * nr + r) * inner;                                \
          for (int e = 0; e < inner; e++) d[e] = a[e];                                         \
        }                                                                                      \
    }                                                                                          \
  }
DEF_TRANSPOSE(float, f32)
DEF_TRANSPOSE(double, f64)

hs_status hs_cpu_transpose(hs_backend *be, hs_dtype t, int batch, int R, int S, int inner,
                           const void *src, void *dst) {
  size_t bytes = (size_t)batch * R * S * inner * (t == HS_F64 ? 8 : 4);
  if (bytes == 0) return HS_OK;
  CPU_DISPATCH(t, transpose, cpu_threads(be), batch, R, S, inner, src, dst);
  return HS_OK;
}

/* ---- pooling ----
 * Windows never leave the input (no padding; Ho, Wo from the floor formula). Planes of
 * (n, C) (times k for the R-ops) are the tasks. */


/* A max-pooling argmax (n*C planes of Ho x Wo) must name an element of its own window:
 * pool_rfwd would read outside the plane otherwise, and pool_bwd (a gather over the windows
 * that contain each element) would silently drop the term, breaking their adjointness. */
static hs_status argmax_check(hs_backend *be, const char *op, long planes, const hs_window *g,
                              const int32_t *argmax) {
  const long L = (long)g->Ho * g->Wo;
  for (long pl = 0; pl < planes; pl++)
    for (int oy = 0; oy < g->Ho; oy++)
      for (int ox = 0; ox < g->Wo; ox++) {
        int32_t a = argmax[pl * L + (long)oy * g->Wo + ox];
        int y = a >= 0 ? a / g->W : -1, x = a >= 0 ? a % g->W : -1;
        if (y < oy * g->sh || y >= oy * g->sh + g->kh || x < ox * g->sw || x >= ox * g->sw + g->kw)
          return hs_backend_fail(be, HS_E_INVALID,
                                 "%s: argmax %d of window (%d, %d) in plane %ld is outside that "
                                 "window",
                                 op, (int)a, oy, ox, pl);
      }
  return HS_OK;
}

/* The mean of the window at (y0, x0) of plane x: the double sum in row-major window order,
 * divided once by kh*kw. */
#define DEF_WINDOW_MEAN(T, S)                                                                  \
  static inline double window_mean_##S(const T *x, const hs_window *g, int y0, int x0) {       \
    double s = 0;                                                                              \
    for (int i = 0; i < g->kh; i++) {                                                          \
      const T *r = x + (size_t)(y0 + i) * g->W + x0;                                           \
      for (int j = 0; j < g->kw; j++) s += r[j];                                               \
    }                                                                                          \
    return s / ((double)g->kh * g->kw);                                                        \
  }
DEF_WINDOW_MEAN(float, f32)
DEF_WINDOW_MEAN(double, f64)

/* ---- pool_fwd: Y (n, C, Ho, Wo), argmax (n, C, Ho, Wo) for max ----
 * Max: the running maximum m is replaced by v when v > m, or v is NaN and m is not: the first
 * maximum in row-major window order wins ties, and the first NaN is "the maximum". */
#define DEF_POOL_FWD(T, S)                                                                     \
  static void pool_fwd_##S(int nt, int mode, int n, hs_window g, const T *X, T *Y,             \
                           int32_t *argmax) {                                                  \
    const long planes = (long)n * g.C, L = (long)g.Ho * g.Wo;                                  \
    _Pragma("omp parallel for num_threads(nt) if (CONV_PAR(planes * L * g.kh * g.kw)) schedule(static)") \
    for (long pl = 0; pl < planes; pl++) {                                                     \
      const T *x = X + (size_t)pl * g.H * g.W;                                                 \
      T *y = Y + (size_t)pl * L;                                                               \
      int32_t *am = argmax ? argmax + (size_t)pl * L : NULL;                                   \
      for (int oy = 0; oy < g.Ho; oy++)                                                        \
        for (int ox = 0; ox < g.Wo; ox++) {                                                    \
          const int y0 = oy * g.sh, x0 = ox * g.sw;                                            \
          const long w = (long)oy * g.Wo + ox;                                                 \
          if (mode == HS_POOL_AVG) {                                                           \
            y[w] = (T)window_mean_##S(x, &g, y0, x0);                                           \
            continue;                                                                          \
          }                                                                                    \
          int32_t best = y0 * g.W + x0;                                                        \
          T m = x[best];                                                                       \
          for (int i = 0; i < g.kh; i++)                                                       \
            for (int j = 0; j < g.kw; j++) {                                                   \
              const int32_t p = (y0 + i) * g.W + x0 + j;                                       \
              const T v = x[p];                                                                \
              if (m == m && (v > m || v != v)) m = v, best = p;                                \
            }                                                                                  \
          y[w] = m;                                                                            \
          am[w] = best;                                                                        \
        }                                                                                      \
    }                                                                                          \
  }
DEF_POOL_FWD(float, f32)
DEF_POOL_FWD(double, f64)

hs_status hs_cpu_pool_fwd(hs_backend *be, hs_dtype t, int mode, int n, hs_window g, const void *X,
                          void *Y, int32_t *argmax) {
  if ((long long)n * g.C == 0) return HS_OK;
  CPU_DISPATCH(t, pool_fwd, cpu_threads(be), mode, n, g, X, Y,
               mode == HS_POOL_MAX ? argmax : NULL);
  return HS_OK;
}

/* ---- pool_rfwd: RX (k, n, C, H, W) -> RY (k, n, C, Ho, Wo); argmax (n, C, Ho, Wo) ---- */
#define DEF_POOL_RFWD(T, S)                                                                    \
  static void pool_rfwd_##S(int nt, int mode, int k, int n, hs_window g,                       \
                            const int32_t *argmax, const T *RX, T *RY) {                       \
    const long planes = (long)n * g.C, L = (long)g.Ho * g.Wo, ntasks = planes * k;             \
    const long work = mode == HS_POOL_AVG ? ntasks * L * g.kh * g.kw : ntasks * L;             \
    _Pragma("omp parallel for num_threads(nt) if (CONV_PAR(work)) schedule(static)")           \
    for (long task = 0; task < ntasks; task++) {                                               \
      const T *rx = RX + (size_t)task * g.H * g.W;                                             \
      T *ry = RY + (size_t)task * L;                                                           \
      if (mode == HS_POOL_MAX) {                                                               \
        const int32_t *am = argmax + (size_t)(task % planes) * L;                              \
        for (long w = 0; w < L; w++) ry[w] = rx[am[w]];                                        \
        continue;                                                                              \
      }                                                                                        \
      for (int oy = 0; oy < g.Ho; oy++)                                                        \
        for (int ox = 0; ox < g.Wo; ox++)                                                      \
          ry[(long)oy * g.Wo + ox] = (T)window_mean_##S(rx, &g, oy * g.sh, ox * g.sw);        \
    }                                                                                          \
  }
DEF_POOL_RFWD(float, f32)
DEF_POOL_RFWD(double, f64)

hs_status hs_cpu_pool_rfwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                           const int32_t *argmax, const void *RX, void *RY) {
  if ((long long)k * n * g.C == 0) return HS_OK;
  if (mode == HS_POOL_MAX) {
    hs_status st = argmax_check(be, "pool_rfwd", (long)n * g.C, &g, argmax);
    if (st != HS_OK) return st;
  }
  CPU_DISPATCH(t, pool_rfwd, cpu_threads(be), mode, k, n, g, argmax, RX, RY);
  return HS_OK;
}

/* ---- pool_bwd: dY (k, n, C, Ho, Wo) -> dX (k, n, C, H, W); argmax (n, C, Ho, Wo) ----
 * Element (y, x) lies in the windows oy in [ceil((y - kh + 1)/sh), y/sh] (clipped to
 * [0, Ho)), likewise ox; they are visited in row-major (ascending) window order. Elements
 * that no window covers (the right/bottom margins the floor formula leaves) get 0. */
#define DEF_POOL_BWD(T, S)                                                                     \
  static void pool_bwd_##S(int nt, int mode, int k, int n, hs_window g, const int32_t *argmax, \
                           const T *dY, T *dX) {                                               \
    const long planes = (long)n * g.C, L = (long)g.Ho * g.Wo, ntasks = planes * k;             \
    const int wy = ceil_div(g.kh, g.sh), wx = ceil_div(g.kw, g.sw);                            \
    const double kk = (double)g.kh * g.kw;                                                     \
    _Pragma("omp parallel for num_threads(nt) if (CONV_PAR(ntasks * g.H * g.W * wy * wx)) schedule(static)") \
    for (long task = 0; task < ntasks; task++) {                                               \
      const T *dy = dY + (size_t)task * L;                                                     \
      const int32_t *am = mode == HS_POOL_MAX ? argmax + (size_t)(task % planes) * L : NULL;   \
      T *dx = dX + (size_t)task * g.H * g.W;                                                   \
      for (int y = 0; y < g.H; y++) {                                                          \
        int oy0, oy1;                                                                          \
        valid_range(g.Ho, g.sh, g.kh - 1 - y, g.kh, &oy0, &oy1); /* 0 <= y - oy*sh < kh */     \
        for (int x = 0; x < g.W; x++) {                                                        \
          int ox0, ox1;                                                                        \
          valid_range(g.Wo, g.sw, g.kw - 1 - x, g.kw, &ox0, &ox1);                             \
          const int32_t p = y * g.W + x;                                                       \
          double s = 0;                                                                        \
          for (int oy = oy0; oy < oy1; oy++)                                                   \
            for (int ox = ox0; ox < ox1; ox++) {                                               \
              const long w = (long)oy * g.Wo + ox;                                             \
              if (!am || am[w] == p) s += dy[w];                                               \
            }                                                                                  \
          dx[p] = (T)(am ? s : s / kk);                                                        \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }
DEF_POOL_BWD(float, f32)
DEF_POOL_BWD(double, f64)

hs_status hs_cpu_pool_bwd(hs_backend *be, hs_dtype t, int mode, int k, int n, hs_window g,
                          const int32_t *argmax, const void *dY, void *dX) {
  if ((long long)k * n * g.C == 0) return HS_OK;
  if (mode == HS_POOL_MAX) {
    hs_status st = argmax_check(be, "pool_bwd", (long)n * g.C, &g, argmax);
    if (st != HS_OK) return st;
  }
  CPU_DISPATCH(t, pool_bwd, cpu_threads(be), mode, k, n, g, argmax, dY, dX);
  return HS_OK;
}
