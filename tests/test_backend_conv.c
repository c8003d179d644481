/* The CPU backend's convolution and pooling ops (im2col, col2im, transpose, pool_fwd,
 * pool_rfwd, pool_bwd) against naive references written here, independently of src/backend:
 *
 *  - im2col entry by entry from backend.h's formula (an exact copy: compared bit for bit),
 *    with untouched gap columns for ldc > n*L;
 *  - a direct 7-loop convolution against im2col followed by a plain matrix product, and the
 *    direct input gradient of that convolution against col2im(W^T dY);
 *  - col2im against a scatter-add reference, the adjoint identity
 *    <col2im(c), x> = <c, im2col(x)>, and the summation order backend.h fixes;
 *  - transpose against its index formula, round trips, tiles past 32;
 *  - avg/max pooling against direct loops: ties (first maximum in row-major window order),
 *    NaN, windows that do not divide the input (7x7 kernel 3 stride 2, 5x5 kernel 2),
 *    kernel 1x1, stride 2, kh != kw, sh != sw; the R-forward and backward for k = 1 and 3,
 *    their adjointness, and pool_bwd's summation order;
 *  - the argument errors of every op (HS_E_INVALID with the op's name in the message).
 * Both dtypes; inputs are fresh non-zero normals rounded to the dtype; every device buffer
 * carries GUARD sentinel elements on each side that must come back untouched, and outputs
 * start as NaN so an element the op fails to write shows.
 *
 * Tolerances: data movement (im2col, transpose, max pooling forward/R-forward) is exact.
 * Sums are compared with |got - ref| <= TOL_ULPS * eps(dtype) * (1 + |ref|) (refs in double on
 * the rounded inputs): an output is at most a 75-term sum of O(1) terms (the 3x5x5
 * convolution) accumulated in double, then rounded once to the dtype, so the error is ~1 ulp
 * of the dtype; 64 ulps leaves margin and still catches any real bug (a wrong or missing term
 * is O(1), ~1e7 f32 ulps). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"

#define SEED 20261202ULL
#define GUARD 9
#define SENTINEL 1234.5 /* exact in f32 */
#define ISENTINEL 0x5A5A5A5A
#define IPOISON (-77)
#define TOL_ULPS 64.0

static hs_backend *be;
static uint64_t g_draw;
static const hs_dtype DTYPES[2] = {HS_F64, HS_F32};
static const int KS[2] = {1, 3};

static void setup(void) {
  cr_assert_eq(hs_cpu_backend_create(0, &be), HS_OK);
  cr_assert_not_null(be);
}
static void teardown(void) {
  if (be) be->ops->destroy(be);
  be = NULL;
}
TestSuite(backend_conv, .init = setup, .fini = teardown);

static const char *tname(hs_dtype t) { return t == HS_F64 ? "f64" : "f32"; }
static double round_t(hs_dtype t, double v) { return t == HS_F32 ? (double)(float)v : v; }
static double eps_t(hs_dtype t) { return t == HS_F64 ? DBL_EPSILON : FLT_EPSILON; }
static size_t esz(hs_dtype t) { return t == HS_F64 ? 8 : 4; }

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  cr_assert_not_null(p);
  return p;
}
static double *zeros(size_t n) {
  double *y = calloc(n ? n : 1, sizeof *y);
  cr_assert_not_null(y);
  return y;
}
/* n normals, none closer to 0 than 0.05, rounded to the dtype */
static double *rnd(hs_dtype t, size_t n) {
  double *x = xmalloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    double v = hs_rng_normal(SEED, HS_STREAM_TEST, g_draw++);
    if (fabs(v) < 0.05) v = copysign(0.05 + fabs(v), v);
    x[i] = round_t(t, v);
  }
  return x;
}

/* ---- device buffers with guard bands ---- */

typedef struct {
  hs_dtype t;
  size_t n;
  void *base; /* n + 2*GUARD elements */
} dbuf;

static void *dp(const dbuf *b) { return hs_dptr(b->base, b->t, GUARD); }

/* init NULL: the body starts as NaN */
static dbuf dnew(hs_dtype t, size_t n, const double *init) {
  dbuf b = {t, n, NULL};
  size_t tot = n + 2 * GUARD;
  cr_assert_eq(be->ops->alloc(be, tot * esz(t), &b.base), HS_OK);
  void *raw = xmalloc(tot * esz(t));
  for (size_t i = 0; i < tot; i++) {
    double v = (i < GUARD || i >= GUARD + n) ? SENTINEL : init ? init[i - GUARD] : NAN;
    if (t == HS_F64) ((double *)raw)[i] = v;
    else ((float *)raw)[i] = (float)v;
  }
  cr_assert_eq(be->ops->upload(be, b.base, raw, tot * esz(t)), HS_OK);
  free(raw);
  return b;
}

/* Downloads the body into out (n doubles) and checks the guards. */
static void dget(const dbuf *b, double *out, const char *what) {
  size_t tot = b->n + 2 * GUARD;
  void *raw = xmalloc(tot * esz(b->t));
  cr_assert_eq(be->ops->download(be, raw, b->base, tot * esz(b->t)), HS_OK);
  for (size_t i = 0; i < tot; i++) {
    double v = b->t == HS_F64 ? ((double *)raw)[i] : ((float *)raw)[i];
    if (i < GUARD || i >= GUARD + b->n)
      cr_assert(v == SENTINEL, "%s (%s): guard element %s%zu overwritten: %g", what, tname(b->t),
                i < GUARD ? "-" : "+", i < GUARD ? GUARD - i : i - GUARD - b->n + 1, v);
    else if (out)
      out[i - GUARD] = v;
  }
  free(raw);
}
static double *dfetch(const dbuf *b, const char *what) {
  double *v = xmalloc(b->n * sizeof *v);
  dget(b, v, what);
  return v;
}
static void dfree(dbuf *b) {
  be->ops->free(be, b->base);
  b->base = NULL;
}

/* int32 buffers (argmax) with guards; init NULL: the body starts as IPOISON */
typedef struct {
  size_t n;
  int32_t *base;
} ibuf;

static int32_t *ip(const ibuf *b) { return b->base + GUARD; }
static ibuf inew(size_t n, const int32_t *init) {
  ibuf b = {n, NULL};
  size_t tot = n + 2 * GUARD;
  cr_assert_eq(be->ops->alloc(be, tot * 4, (void **)&b.base), HS_OK);
  int32_t *h = xmalloc(tot * 4);
  for (size_t i = 0; i < tot; i++)
    h[i] = (i < GUARD || i >= GUARD + n) ? ISENTINEL : init ? init[i - GUARD] : IPOISON;
  cr_assert_eq(be->ops->upload(be, b.base, h, tot * 4), HS_OK);
  free(h);
  return b;
}
static int32_t *ifetch(const ibuf *b, const char *what) {
  size_t tot = b->n + 2 * GUARD;
  int32_t *h = xmalloc(tot * 4), *out = xmalloc(b->n * 4);
  cr_assert_eq(be->ops->download(be, h, b->base, tot * 4), HS_OK);
  for (size_t i = 0; i < GUARD; i++) {
    cr_assert(h[i] == ISENTINEL, "%s: guard before the buffer overwritten at -%zu", what, GUARD - i);
    cr_assert(h[GUARD + b->n + i] == ISENTINEL, "%s: guard after the buffer overwritten at +%zu", what, i + 1);
  }
  memcpy(out, h + GUARD, b->n * 4);
  free(h);
  return out;
}
static void ifree(ibuf *b) {
  be->ops->free(be, b->base);
  b->base = NULL;
}

static void expect_close_ulps(const char *what, hs_dtype t, const double *got, const double *ref,
                              size_t n, double ulps) {
  double eps = eps_t(t);
  for (size_t i = 0; i < n; i++) {
    double err = fabs(got[i] - ref[i]), lim = ulps * eps * (1 + fabs(ref[i]));
    cr_assert(err <= lim, "%s (%s): element %zu: got %.17g, want %.17g (err %.3g > %.3g)", what,
              tname(t), i, got[i], ref[i], err, lim);
  }
}
static void expect_exact(const char *what, hs_dtype t, const double *got, const double *ref, size_t n) {
  for (size_t i = 0; i < n; i++)
    cr_assert(got[i] == ref[i], "%s (%s): element %zu: got %.17g, want %.17g", what, tname(t), i,
              got[i], ref[i]);
}
static void check_close(const dbuf *b, const double *ref, const char *what) {
  double *got = dfetch(b, what);
  expect_close_ulps(what, b->t, got, ref, b->n, TOL_ULPS);
  free(got);
}
static void check_exact(const dbuf *b, const double *ref, const char *what) {
  double *got = dfetch(b, what);
  expect_exact(what, b->t, got, ref, b->n);
  free(got);
}

/* ---- geometry (computed here from backend.h's formula) ---- */

typedef struct {
  int n, C, H, W, kh, kw, sh, sw, ph, pw;
} shape;

static hs_window win(const shape *s) {
  hs_window g = {.C = s->C, .H = s->H, .W = s->W, .kh = s->kh, .kw = s->kw, .sh = s->sh,
                 .sw = s->sw, .ph = s->ph, .pw = s->pw};
  g.Ho = (s->H + 2 * s->ph - s->kh) / s->sh + 1;
  g.Wo = (s->W + 2 * s->pw - s->kw) / s->sw + 1;
  return g;
}
static void describe(const shape *s, char *out, size_t len) {
  snprintf(out, len, "n=%d C=%d %dx%d kernel %dx%d stride %dx%d pad %dx%d", s->n, s->C, s->H, s->W,
           s->kh, s->kw, s->sh, s->sw, s->ph, s->pw);
}

/* Convolution shapes: padding 1, stride 2 leaving a column unread (8 wide, kernel 3),
 * kh != kw with sh != sw, 1x1 stride 2 (a ResNet shortcut), a kernel larger than the input
 * (padding 2), stride larger than the kernel (elements no window reads). */
static const shape CONV_SHAPES[] = {
    {2, 3, 7, 7, 3, 3, 1, 1, 1, 1}, {2, 2, 7, 8, 3, 3, 2, 2, 0, 0}, {3, 2, 5, 6, 2, 3, 1, 2, 1, 0},
    {2, 4, 5, 5, 1, 1, 2, 2, 0, 0}, {1, 1, 4, 9, 3, 1, 2, 3, 1, 1}, {2, 2, 3, 3, 5, 5, 1, 1, 2, 2},
    {2, 1, 7, 7, 2, 2, 3, 3, 0, 0}, {2, 3, 6, 5, 5, 5, 2, 1, 2, 2},
};
#define N_CONV (sizeof CONV_SHAPES / sizeof *CONV_SHAPES)

/* X[b][c][y][x], 0 outside the plane (the zero padding) */
static double xat(const double *X, const hs_window *g, int b, int c, int y, int x) {
  if (y < 0 || y >= g->H || x < 0 || x >= g->W) return 0;
  return X[(((size_t)b * g->C + c) * g->H + y) * g->W + x];
}

/* The im2col matrix from backend.h's formula: (CK, ldc), gap columns left as they are. */
static void ref_im2col(const double *X, int n, const hs_window *g, double *cols, size_t ldc) {
  size_t L = (size_t)g->Ho * g->Wo;
  for (int c = 0; c < g->C; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++)
        for (int b = 0; b < n; b++)
          for (int oy = 0; oy < g->Ho; oy++)
            for (int ox = 0; ox < g->Wo; ox++)
              cols[((size_t)(c * g->kh + i) * g->kw + j) * ldc + b * L + (size_t)oy * g->Wo + ox] =
                  xat(X, g, b, c, oy * g->sh - g->ph + i, ox * g->sw - g->pw + j);
}

/* ============================== im2col ============================== */

Test(backend_conv, im2col_matches_definition_and_keeps_gaps) {
  for (int d = 0; d < 2; d++)
    for (size_t si = 0; si < N_CONV; si++) {
      hs_dtype t = DTYPES[d];
      const shape *s = &CONV_SHAPES[si];
      hs_window g = win(s);
      char what[160];
      describe(s, what, sizeof what);
      size_t CK = (size_t)g.C * g.kh * g.kw, nL = (size_t)s->n * g.Ho * g.Wo, ldc = nL + 3;
      size_t nx = (size_t)s->n * g.C * g.H * g.W;
      double *X = rnd(t, nx), *cols0 = rnd(t, CK * ldc); /* gaps: random, must survive */
      double *ref = xmalloc(CK * ldc * sizeof *ref);
      memcpy(ref, cols0, CK * ldc * sizeof *ref);
      for (size_t r = 0; r < CK; r++)
        for (size_t q = 0; q < nL; q++) cols0[r * ldc + q] = NAN; /* must be overwritten */
      ref_im2col(X, s->n, &g, ref, ldc);
      dbuf dx = dnew(t, nx, X), dc = dnew(t, CK * ldc, cols0);
      cr_assert_eq(be->ops->im2col(be, t, s->n, g, dp(&dx), dp(&dc), (long long)ldc), HS_OK,
                   "%s: %s", what, be->errmsg);
      double *got = dfetch(&dc, "im2col cols");
      for (size_t i = 0; i < CK * ldc; i++)
        cr_assert(got[i] == ref[i], "im2col %s (%s): cols[%zu][%zu] = %.17g, want %.17g%s", what,
                  tname(t), i / ldc, i % ldc, got[i], ref[i], i % ldc >= nL ? " (a gap column)" : "");
      check_exact(&dx, X, "im2col input (read only)");
      free(got), free(X), free(cols0), free(ref);
      dfree(&dx), dfree(&dc);
    }
}

/* A direct convolution Y[b][o][oy][ox] = sum_{c,i,j} Wt[o][c][i][j] X[b][c][oy*sh-ph+i][ox*sw-pw+j]
 * against Y = Wt (O x CK) * im2col(X) (CK x n*L) computed here by a plain matrix product. */
Test(backend_conv, direct_convolution_equals_im2col_then_matrix_product) {
  const int O = 4;
  for (int d = 0; d < 2; d++)
    for (size_t si = 0; si < N_CONV; si++) {
      hs_dtype t = DTYPES[d];
      const shape *s = &CONV_SHAPES[si];
      hs_window g = win(s);
      char what[160];
      describe(s, what, sizeof what);
      size_t CK = (size_t)g.C * g.kh * g.kw, L = (size_t)g.Ho * g.Wo, nL = s->n * L;
      size_t nx = (size_t)s->n * g.C * g.H * g.W;
      double *X = rnd(t, nx), *Wt = rnd(t, O * CK);
      double *direct = zeros(s->n * O * L), *viacol = zeros(s->n * O * L);
      for (int b = 0; b < s->n; b++)
        for (int o = 0; o < O; o++)
          for (int oy = 0; oy < g.Ho; oy++)
            for (int ox = 0; ox < g.Wo; ox++) {
              double acc = 0;
              for (int c = 0; c < g.C; c++)
                for (int i = 0; i < g.kh; i++)
                  for (int j = 0; j < g.kw; j++)
                    acc += Wt[((size_t)(o * g.C + c) * g.kh + i) * g.kw + j] *
                           xat(X, &g, b, c, oy * g.sh - g.ph + i, ox * g.sw - g.pw + j);
              direct[((size_t)(b * O + o) * g.Ho + oy) * g.Wo + ox] = acc;
            }
      dbuf dx = dnew(t, nx, X), dc = dnew(t, CK * nL, NULL);
      cr_assert_eq(be->ops->im2col(be, t, s->n, g, dp(&dx), dp(&dc), (long long)nL), HS_OK, "%s", be->errmsg);
      double *cols = dfetch(&dc, "im2col cols");
      /* (O x CK)(CK x nL): column b*L + l is output (b, ., l) */
      for (int o = 0; o < O; o++)
        for (size_t q = 0; q < nL; q++) {
          double acc = 0;
          for (size_t r = 0; r < CK; r++) acc += Wt[o * CK + r] * cols[r * nL + q];
          viacol[((q / L) * O + o) * L + q % L] = acc;
        }
      char msg[220];
      snprintf(msg, sizeof msg, "conv via im2col, %s", what);
      expect_close_ulps(msg, t, viacol, direct, s->n * O * L, TOL_ULPS);
      free(X), free(Wt), free(direct), free(viacol), free(cols);
      dfree(&dx), dfree(&dc);
    }
}

/* ============================== col2im ============================== */

/* The direct input gradient of the convolution above, dX[b][c][y][x] = sum of Wt[o][c][i][j]
 * dY[b][o][oy][ox] over every (o, i, j, oy, ox) whose window reads (y, x), against
 * col2im(Wt^T dY) with the product computed here. */
Test(backend_conv, convolution_input_gradient_equals_col2im_of_wT_dY) {
  const int O = 3;
  for (int d = 0; d < 2; d++)
    for (size_t si = 0; si < N_CONV; si++) {
      hs_dtype t = DTYPES[d];
      const shape *s = &CONV_SHAPES[si];
      hs_window g = win(s);
      char what[160];
      describe(s, what, sizeof what);
      size_t CK = (size_t)g.C * g.kh * g.kw, L = (size_t)g.Ho * g.Wo, nL = s->n * L;
      size_t nx = (size_t)s->n * g.C * g.H * g.W;
      double *Wt = rnd(t, O * CK), *dY = rnd(t, s->n * O * L), *ref = zeros(nx);
      for (int b = 0; b < s->n; b++)
        for (int o = 0; o < O; o++)
          for (int oy = 0; oy < g.Ho; oy++)
            for (int ox = 0; ox < g.Wo; ox++)
              for (int c = 0; c < g.C; c++)
                for (int i = 0; i < g.kh; i++)
                  for (int j = 0; j < g.kw; j++) {
                    int y = oy * g.sh - g.ph + i, x = ox * g.sw - g.pw + j;
                    if (y < 0 || y >= g.H || x < 0 || x >= g.W) continue;
                    ref[(((size_t)b * g.C + c) * g.H + y) * g.W + x] +=
                        Wt[((size_t)(o * g.C + c) * g.kh + i) * g.kw + j] *
                        dY[((size_t)(b * O + o) * g.Ho + oy) * g.Wo + ox];
                  }
      /* dcols = Wt^T dY, rounded to the dtype as the network would hold it; the reference
       * above uses the exact products, so this rounding is inside the tolerance (one ulp of
       * each term) */
      size_t ldc = nL + 2;
      double *dcols = zeros(CK * ldc);
      for (size_t r = 0; r < CK; r++)
        for (size_t q = 0; q < nL; q++) {
          double acc = 0;
          for (int o = 0; o < O; o++) acc += Wt[o * CK + r] * dY[((q / L) * O + o) * L + q % L];
          dcols[r * ldc + q] = round_t(t, acc);
        }
      for (size_t r = 0; r < CK; r++) dcols[r * ldc + nL] = dcols[r * ldc + nL + 1] = NAN; /* gaps: never read */
      dbuf dc = dnew(t, CK * ldc, dcols), dx = dnew(t, nx, NULL);
      cr_assert_eq(be->ops->col2im(be, t, s->n, g, dp(&dc), (long long)ldc, dp(&dx)), HS_OK, "%s", be->errmsg);
      char msg[220];
      snprintf(msg, sizeof msg, "conv input gradient via col2im, %s", what);
      check_close(&dx, ref, msg);
      free(Wt), free(dY), free(ref), free(dcols);
      dfree(&dc), dfree(&dx);
    }
}

/* col2im against a scatter-add of every cols entry into the element im2col read it from
 * (elements no window reads must come out 0), and <col2im(c), x> = <c, im2col(x)>. */
Test(backend_conv, col2im_is_the_scatter_add_and_the_adjoint_of_im2col) {
  for (int d = 0; d < 2; d++)
    for (size_t si = 0; si < N_CONV; si++) {
      hs_dtype t = DTYPES[d];
      const shape *s = &CONV_SHAPES[si];
      hs_window g = win(s);
      char what[160];
      describe(s, what, sizeof what);
      size_t CK = (size_t)g.C * g.kh * g.kw, L = (size_t)g.Ho * g.Wo, nL = s->n * L, ldc = nL + 1;
      size_t nx = (size_t)s->n * g.C * g.H * g.W;
      double *c = rnd(t, CK * ldc), *x = rnd(t, nx), *ref = zeros(nx);
      for (int cc = 0; cc < g.C; cc++)
        for (int i = 0; i < g.kh; i++)
          for (int j = 0; j < g.kw; j++)
            for (size_t q = 0; q < nL; q++) {
              int b = (int)(q / L), oy = (int)(q % L) / g.Wo, ox = (int)(q % L) % g.Wo;
              int yy = oy * g.sh - g.ph + i, xx = ox * g.sw - g.pw + j;
              if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
              ref[(((size_t)b * g.C + cc) * g.H + yy) * g.W + xx] +=
                  c[((size_t)(cc * g.kh + i) * g.kw + j) * ldc + q];
            }
      dbuf dc = dnew(t, CK * ldc, c), dxo = dnew(t, nx, NULL), dxi = dnew(t, nx, x), dco = dnew(t, CK * nL, NULL);
      cr_assert_eq(be->ops->col2im(be, t, s->n, g, dp(&dc), (long long)ldc, dp(&dxo)), HS_OK, "%s", be->errmsg);
      cr_assert_eq(be->ops->im2col(be, t, s->n, g, dp(&dxi), dp(&dco), (long long)nL), HS_OK, "%s", be->errmsg);
      char msg[220];
      snprintf(msg, sizeof msg, "col2im vs scatter-add, %s", what);
      check_close(&dxo, ref, msg);
      double *ci = dfetch(&dxo, "col2im"), *xi = dfetch(&dco, "im2col");
      long double lhs = 0, rhs = 0, scale = 0;
      for (size_t e = 0; e < nx; e++) lhs += (long double)ci[e] * x[e];
      for (size_t r = 0; r < CK; r++)
        for (size_t q = 0; q < nL; q++) {
          rhs += (long double)c[r * ldc + q] * xi[r * nL + q];
          scale += fabsl((long double)c[r * ldc + q] * xi[r * nL + q]);
        }
      /* col2im's outputs are rounded once to the dtype: |lhs - rhs| <= eps * sum|terms| */
      double tol = 4 * eps_t(t) * (double)(scale > 0 ? scale : 1);
      cr_assert(fabsl(lhs - rhs) <= tol, "adjoint %s (%s): <col2im(c), x> = %.17Lg, <c, im2col(x)> = %.17Lg", what,
                tname(t), lhs, rhs);
      free(c), free(x), free(ref), free(ci), free(xi);
      dfree(&dc), dfree(&dxo), dfree(&dxi), dfree(&dco);
    }
}

/* backend.h: each element's terms are summed in ascending (i, j) order. Stride 1, no padding:
 * the element (y, x) is read through (i, j) by window (y - i, x - j). Its terms, in ascending
 * (i, j) order, are 1e17, -1e17, 1 followed by zeros, so the contract's sum is exactly 1; the
 * case asserts first that the orders a bug would use give 0, so it discriminates: 2x2
 * catches j-major and reversed order, 1x3 a reversed j loop, 3x1 a reversed i loop. */
static double sum_in(const double *v, const int *order, int n) {
  double s = 0;
  for (int q = 0; q < n; q++) s += v[order[q]];
  return s;
}
static void col2im_order_case(hs_dtype t, int kh, int kw) {
  shape s = {1, 1, 2 * kh - 1, 2 * kw - 1, kh, kw, 1, 1, 0, 0};
  hs_window g = win(&s);
  const int y = kh - 1, x = kw - 1, K = kh * kw; /* the centre: read by every (i, j) */
  double big = round_t(t, 1e17), terms[9] = {big, -big, 1, 0, 0, 0, 0, 0, 0};
  int jmajor[9], rev[9], jrev[9];
  for (int q = 0; q < K; q++) {
    int i = q / kw, j = q % kw;
    jmajor[q] = (q % kh) * kw + q / kh; /* (i, j) = (q % kh, q / kh) */
    rev[q] = K - 1 - q;
    jrev[q] = i * kw + (kw - 1 - j);
  }
  const int *bad[3] = {jmajor, rev, jrev};
  for (int o = 0; o < 3; o++)
    if ((o == 0 && kh > 1 && kw > 1) || o == 1 || (o == 2 && kh == 1))
      cr_assert(sum_in(terms, bad[o], K) != 1.0, "order case %dx%d does not discriminate order %d", kh, kw, o);
  size_t L = (size_t)g.Ho * g.Wo;
  double *cols = zeros((size_t)K * L);
  for (int q = 0; q < K; q++) {
    int i = q / kw, j = q % kw;
    cols[(size_t)q * L + (size_t)(y - i) * g.Wo + (x - j)] = terms[q];
  }
  dbuf dc = dnew(t, (size_t)K * L, cols), dx = dnew(t, (size_t)g.H * g.W, NULL);
  cr_assert_eq(be->ops->col2im(be, t, 1, g, dp(&dc), (long long)L, dp(&dx)), HS_OK, "%s", be->errmsg);
  double *got = dfetch(&dx, "col2im");
  cr_assert(got[(size_t)y * g.W + x] == 1.0,
            "col2im %dx%d (%s): centre = %.17g, not 1: its terms are not summed in ascending (i, j) order", kh, kw,
            tname(t), got[(size_t)y * g.W + x]);
  free(got), free(cols);
  dfree(&dc), dfree(&dx);
}

Test(backend_conv, col2im_sums_in_ascending_ij_order) {
  for (int d = 0; d < 2; d++) {
    col2im_order_case(DTYPES[d], 2, 2);
    col2im_order_case(DTYPES[d], 1, 3);
    col2im_order_case(DTYPES[d], 3, 1);
  }
}

/* ============================== transpose ============================== */

static void transpose_case(hs_dtype t, int batch, int R, int S, int inner) {
  size_t n = (size_t)batch * R * S * inner;
  double *src = xmalloc(n * sizeof *src), *ref = xmalloc(n * sizeof *ref);
  for (size_t i = 0; i < n; i++) src[i] = (double)i + 0.5; /* distinct, exact in f32 */
  for (int b = 0; b < batch; b++)
    for (int r = 0; r < R; r++)
      for (int s = 0; s < S; s++)
        for (int e = 0; e < inner; e++)
          ref[(((size_t)b * S + s) * R + r) * inner + e] = src[(((size_t)b * R + r) * S + s) * inner + e];
  dbuf ds = dnew(t, n, src), dd = dnew(t, n, NULL), db = dnew(t, n, NULL);
  cr_assert_eq(be->ops->transpose(be, t, batch, R, S, inner, dp(&ds), dp(&dd)), HS_OK, "%s", be->errmsg);
  char msg[160];
  snprintf(msg, sizeof msg, "transpose batch=%d R=%d S=%d inner=%d", batch, R, S, inner);
  check_exact(&dd, ref, msg);
  /* and back, with R and S swapped */
  cr_assert_eq(be->ops->transpose(be, t, batch, S, R, inner, dp(&dd), dp(&db)), HS_OK, "%s", be->errmsg);
  snprintf(msg, sizeof msg, "transpose round trip batch=%d R=%d S=%d inner=%d", batch, R, S, inner);
  check_exact(&db, src, msg);
  check_exact(&ds, src, "transpose source (read only)");
  free(src), free(ref);
  dfree(&ds), dfree(&dd), dfree(&db);
}

Test(backend_conv, transpose_index_formula_and_round_trip) {
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    transpose_case(t, 2, 5, 7, 1);    /* (n, C, HW) -> (n, HW, C) */
    transpose_case(t, 1, 3, 4, 11);   /* (n, O, L) -> (O, n, L): batch 1, R n, S O, inner L */
    transpose_case(t, 3, 40, 70, 1);  /* past one 32 x 32 tile both ways, partial tiles */
    transpose_case(t, 2, 33, 1, 5);   /* S = 1: a plain copy */
    transpose_case(t, 4, 1, 37, 2);   /* R = 1 */
    transpose_case(t, 5, 9, 130, 1);  /* above the parallel threshold: 5850 elements x ... */
    transpose_case(t, 7, 64, 80, 1);  /* 35840 elements: the parallel loop runs */
  }
}

/* The two uses backend.h names, checked by meaning rather than by the formula. */
Test(backend_conv, transpose_channels_last_and_output_major) {
  const int n = 3, C = 4, HW = 6, O = 5, L = 7;
  hs_dtype t = HS_F64;
  /* (n, C, HW) -> (n, HW, C): element (b, c, p) lands at (b, p, c) */
  double *x = rnd(t, n * C * HW);
  dbuf dx = dnew(t, n * C * HW, x), dy = dnew(t, n * C * HW, NULL);
  cr_assert_eq(be->ops->transpose(be, t, n, C, HW, 1, dp(&dx), dp(&dy)), HS_OK);
  double *y = dfetch(&dy, "channels last");
  for (int b = 0; b < n; b++)
    for (int c = 0; c < C; c++)
      for (int p = 0; p < HW; p++)
        cr_assert(y[(b * HW + p) * C + c] == x[(b * C + c) * HW + p], "channels last (%d, %d, %d)", b, c, p);
  free(x), free(y);
  dfree(&dx), dfree(&dy);
  /* (n, O, L) -> (O, n, L): batch 1, R n, S O, inner L */
  double *z = rnd(t, n * O * L);
  dbuf dz = dnew(t, n * O * L, z), dw = dnew(t, n * O * L, NULL);
  cr_assert_eq(be->ops->transpose(be, t, 1, n, O, L, dp(&dz), dp(&dw)), HS_OK);
  double *w = dfetch(&dw, "output major");
  for (int b = 0; b < n; b++)
    for (int o = 0; o < O; o++)
      for (int l = 0; l < L; l++)
        cr_assert(w[(o * n + b) * L + l] == z[(b * O + o) * L + l], "output major (%d, %d, %d)", b, o, l);
  free(z), free(w);
  dfree(&dz), dfree(&dw);
}

/* ============================== pooling ============================== */

/* Pool shapes: 7x7 kernel 3 stride 2 and 5x5 kernel 2 stride 2 (windows that do not divide
 * the input: a last row and column no window covers), kernel 1x1 (stride 1 and 2), kh != kw
 * with sh != sw, overlapping windows (kernel 3 stride 1), a window as large as the plane. */
static const shape POOL_SHAPES[] = {
    {2, 3, 7, 7, 3, 3, 2, 2, 0, 0}, {2, 2, 5, 5, 2, 2, 2, 2, 0, 0}, {1, 2, 4, 5, 1, 1, 1, 1, 0, 0},
    {2, 2, 5, 6, 1, 1, 2, 2, 0, 0}, {2, 3, 6, 7, 2, 3, 1, 2, 0, 0}, {1, 2, 6, 5, 3, 3, 1, 1, 0, 0},
    {3, 1, 4, 6, 4, 6, 1, 1, 0, 0}, {2, 2, 8, 8, 2, 2, 2, 2, 0, 0},
};
#define N_POOL (sizeof POOL_SHAPES / sizeof *POOL_SHAPES)

/* Direct pooling of one (n*C) plane stack: Y and (max) the first maximum of each window,
 * scanning row-major and replacing only on a strictly greater value or a first NaN. */
static void ref_pool(int mode, int planes, const hs_window *g, const double *X, double *Y, int32_t *am) {
  for (int p = 0; p < planes; p++) {
    const double *x = X + (size_t)p * g->H * g->W;
    for (int oy = 0; oy < g->Ho; oy++)
      for (int ox = 0; ox < g->Wo; ox++) {
        size_t w = (size_t)p * g->Ho * g->Wo + (size_t)oy * g->Wo + ox;
        double sum = 0, best = -INFINITY;
        int32_t arg = -1;
        for (int i = 0; i < g->kh; i++)
          for (int j = 0; j < g->kw; j++) {
            int32_t pos = (oy * g->sh + i) * g->W + ox * g->sw + j;
            double v = x[pos];
            sum += v;
            if (arg < 0 || (!isnan(best) && (v > best || isnan(v)))) best = v, arg = pos;
          }
        if (mode == HS_POOL_AVG) Y[w] = sum / (g->kh * g->kw);
        else Y[w] = best, am[w] = arg;
      }
  }
}

static void pool_fwd_case(hs_dtype t, int mode, const shape *s, int ties) {
  hs_window g = win(s);
  char what[200];
  describe(s, what, sizeof what);
  int planes = s->n * s->C;
  size_t nx = (size_t)planes * g.H * g.W, ny = (size_t)planes * g.Ho * g.Wo;
  double *X = rnd(t, nx);
  if (ties) /* integers in [-2, 2]: most windows hold their maximum more than once */
    for (size_t i = 0; i < nx; i++) X[i] = fmax(-2, fmin(2, nearbyint(X[i])));
  double *Y = xmalloc(ny * sizeof *Y);
  int32_t *am = xmalloc(ny * 4);
  ref_pool(mode, planes, &g, X, Y, am);
  dbuf dx = dnew(t, nx, X), dy = dnew(t, ny, NULL);
  ibuf da = inew(ny, NULL);
  cr_assert_eq(be->ops->pool_fwd(be, t, mode, s->n, g, dp(&dx), dp(&dy), ip(&da)), HS_OK, "%s: %s", what,
               be->errmsg);
  char msg[260];
  snprintf(msg, sizeof msg, "pool_fwd %s%s, %s", mode == HS_POOL_AVG ? "avg" : "max", ties ? " with ties" : "", what);
  if (mode == HS_POOL_AVG) check_close(&dy, Y, msg);
  else check_exact(&dy, Y, msg);
  int32_t *got = ifetch(&da, "argmax");
  if (mode == HS_POOL_MAX) {
    int tied = 0;
    for (size_t w = 0; w < ny; w++) {
      cr_assert_eq(got[w], am[w], "%s (%s): argmax[%zu] = %d, want %d (the first maximum)", msg, tname(t), w, got[w],
                   am[w]);
      size_t p = w / ((size_t)g.Ho * g.Wo), l = w % ((size_t)g.Ho * g.Wo);
      int oy = (int)l / g.Wo, ox = (int)l % g.Wo, hits = 0;
      for (int i = 0; i < g.kh; i++)
        for (int j = 0; j < g.kw; j++)
          hits += X[p * g.H * g.W + (size_t)(oy * g.sh + i) * g.W + ox * g.sw + j] == Y[w];
      tied += hits > 1;
    }
    if (ties && g.kh * g.kw > 1) cr_assert(tied > 0, "%s: the tie case has no ties", msg);
  } else {
    for (size_t w = 0; w < ny; w++)
      cr_assert_eq(got[w], IPOISON, "%s: avg pooling wrote argmax[%zu]", msg, w);
  }
  check_exact(&dx, X, "pool_fwd input (read only)");
  free(X), free(Y), free(am), free(got);
  dfree(&dx), dfree(&dy), ifree(&da);
}

Test(backend_conv, pool_fwd_avg_and_max_against_direct_loops) {
  for (int d = 0; d < 2; d++)
    for (size_t si = 0; si < N_POOL; si++) {
      pool_fwd_case(DTYPES[d], HS_POOL_AVG, &POOL_SHAPES[si], 0);
      pool_fwd_case(DTYPES[d], HS_POOL_MAX, &POOL_SHAPES[si], 0);
      pool_fwd_case(DTYPES[d], HS_POOL_MAX, &POOL_SHAPES[si], 1);
    }
}

Test(backend_conv, pool_fwd_avg_accepts_null_argmax) {
  shape s = {1, 1, 5, 5, 2, 2, 2, 2, 0, 0};
  hs_window g = win(&s);
  double *X = rnd(HS_F64, 25), Y[4];
  ref_pool(HS_POOL_AVG, 1, &g, X, Y, NULL);
  dbuf dx = dnew(HS_F64, 25, X), dy = dnew(HS_F64, 4, NULL);
  cr_assert_eq(be->ops->pool_fwd(be, HS_F64, HS_POOL_AVG, 1, g, dp(&dx), dp(&dy), NULL), HS_OK, "%s", be->errmsg);
  check_close(&dy, Y, "pool_fwd avg, argmax NULL");
  free(X);
  dfree(&dx), dfree(&dy);
}

/* NaN is the maximum (and propagates); of several NaNs the first; a window of -inf only
 * takes its first element. 2x2 windows, stride 2, on a 4x6 plane: windows (0,0) .. (1,2). */
Test(backend_conv, pool_fwd_max_nan_and_infinities) {
  shape s = {1, 1, 4, 6, 2, 2, 2, 2, 0, 0};
  hs_window g = win(&s);
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    double *X = rnd(t, 24);
    X[1 * 6 + 1] = NAN;            /* window (0,0): NaN last in window order, after finite values */
    X[0 * 6 + 3] = NAN;            /* window (0,1): two NaNs, (0,3) first */
    X[1 * 6 + 2] = NAN;
    X[0 * 6 + 4] = X[0 * 6 + 5] = X[1 * 6 + 4] = X[1 * 6 + 5] = -INFINITY; /* window (0,2) */
    X[2 * 6 + 0] = 7; X[2 * 6 + 1] = INFINITY;                              /* window (1,0): +inf */
    dbuf dx = dnew(t, 24, X), dy = dnew(t, 6, NULL);
    ibuf da = inew(6, NULL);
    cr_assert_eq(be->ops->pool_fwd(be, t, HS_POOL_MAX, 1, g, dp(&dx), dp(&dy), ip(&da)), HS_OK, "%s", be->errmsg);
    double *y = dfetch(&dy, "Y");
    int32_t *a = ifetch(&da, "argmax");
    cr_assert(isnan(y[0]) && a[0] == 1 * 6 + 1, "(%s) NaN window: Y %g argmax %d", tname(t), y[0], a[0]);
    cr_assert(isnan(y[1]) && a[1] == 0 * 6 + 3, "(%s) two NaNs: Y %g argmax %d (want the first, 3)", tname(t), y[1], a[1]);
    cr_assert(y[2] == -INFINITY && a[2] == 0 * 6 + 4, "(%s) -inf window: Y %g argmax %d", tname(t), y[2], a[2]);
    cr_assert(y[3] == INFINITY && a[3] == 2 * 6 + 1, "(%s) +inf window: Y %g argmax %d", tname(t), y[3], a[3]);
    for (int w = 4; w < 6; w++) cr_assert(isfinite(y[w]), "(%s) window %d: %g", tname(t), w, y[w]);
    free(X), free(y), free(a);
    dfree(&dx), dfree(&dy), ifree(&da);
  }
}

/* A random argmax inside each window (windows overlap: several may pick one element). */
static int32_t *rnd_argmax(int planes, const hs_window *g) {
  size_t L = (size_t)g->Ho * g->Wo;
  int32_t *a = xmalloc(planes * L * 4);
  for (int p = 0; p < planes; p++)
    for (int oy = 0; oy < g->Ho; oy++)
      for (int ox = 0; ox < g->Wo; ox++) {
        uint64_t r = hs_rng_bits(SEED, HS_STREAM_TEST, g_draw++);
        int i = (int)(r % (uint64_t)g->kh), j = (int)((r >> 20) % (uint64_t)g->kw);
        a[p * L + (size_t)oy * g->Wo + ox] = (oy * g->sh + i) * g->W + ox * g->sw + j;
      }
  return a;
}

static void pool_rfwd_case(hs_dtype t, int mode, int k, const shape *s) {
  hs_window g = win(s);
  char what[200];
  describe(s, what, sizeof what);
  int planes = s->n * s->C;
  size_t HW = (size_t)g.H * g.W, L = (size_t)g.Ho * g.Wo;
  double *RX = rnd(t, (size_t)k * planes * HW), *ref = xmalloc((size_t)k * planes * L * sizeof *ref);
  int32_t *am = rnd_argmax(planes, &g);
  for (int j = 0; j < k; j++) {
    const double *rx = RX + (size_t)j * planes * HW;
    double *ry = ref + (size_t)j * planes * L;
    if (mode == HS_POOL_AVG) ref_pool(HS_POOL_AVG, planes, &g, rx, ry, NULL);
    else
      for (int p = 0; p < planes; p++)
        for (size_t w = 0; w < L; w++) ry[p * L + w] = rx[p * HW + am[p * L + w]];
  }
  dbuf drx = dnew(t, (size_t)k * planes * HW, RX), dry = dnew(t, (size_t)k * planes * L, NULL);
  ibuf da = inew(planes * L, am);
  cr_assert_eq(be->ops->pool_rfwd(be, t, mode, k, s->n, g, mode == HS_POOL_MAX ? ip(&da) : NULL, dp(&drx), dp(&dry)),
               HS_OK, "%s: %s", what, be->errmsg);
  char msg[260];
  snprintf(msg, sizeof msg, "pool_rfwd %s k=%d, %s", mode == HS_POOL_AVG ? "avg" : "max", k, what);
  if (mode == HS_POOL_AVG) check_close(&dry, ref, msg);
  else check_exact(&dry, ref, msg);
  free(RX), free(ref), free(am);
  dfree(&drx), dfree(&dry), ifree(&da);
}

Test(backend_conv, pool_rfwd_against_direct_loops) {
  for (int d = 0; d < 2; d++)
    for (int ki = 0; ki < 2; ki++)
      for (size_t si = 0; si < N_POOL; si++) {
        pool_rfwd_case(DTYPES[d], HS_POOL_AVG, KS[ki], &POOL_SHAPES[si]);
        pool_rfwd_case(DTYPES[d], HS_POOL_MAX, KS[ki], &POOL_SHAPES[si]);
      }
}

/* pool_rfwd of max pooling is the directional derivative of pool_fwd away from ties:
 * (pool(X + h RX) - pool(X - h RX)) / 2h in f64 with distinct inputs. */
Test(backend_conv, pool_rfwd_max_is_the_derivative_of_pool_fwd) {
  shape s = {2, 2, 7, 7, 3, 3, 2, 2, 0, 0};
  hs_window g = win(&s);
  int planes = s.n * s.C;
  size_t nx = (size_t)planes * g.H * g.W, ny = (size_t)planes * g.Ho * g.Wo;
  double *X = rnd(HS_F64, nx), *RX = rnd(HS_F64, nx), h = 1e-7;
  double *Xp = xmalloc(nx * sizeof *Xp), *Xm = xmalloc(nx * sizeof *Xm), *fd = xmalloc(ny * sizeof *fd);
  for (size_t i = 0; i < nx; i++) Xp[i] = X[i] + h * RX[i], Xm[i] = X[i] - h * RX[i];
  dbuf dx = dnew(HS_F64, nx, X), dxp = dnew(HS_F64, nx, Xp), dxm = dnew(HS_F64, nx, Xm), drx = dnew(HS_F64, nx, RX);
  dbuf dy = dnew(HS_F64, ny, NULL), dyp = dnew(HS_F64, ny, NULL), dym = dnew(HS_F64, ny, NULL), dry = dnew(HS_F64, ny, NULL);
  ibuf da = inew(ny, NULL), dap = inew(ny, NULL), dam = inew(ny, NULL);
  cr_assert_eq(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, s.n, g, dp(&dx), dp(&dy), ip(&da)), HS_OK);
  cr_assert_eq(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, s.n, g, dp(&dxp), dp(&dyp), ip(&dap)), HS_OK);
  cr_assert_eq(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, s.n, g, dp(&dxm), dp(&dym), ip(&dam)), HS_OK);
  cr_assert_eq(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, 1, s.n, g, ip(&da), dp(&drx), dp(&dry)), HS_OK);
  double *yp = dfetch(&dyp, "Y+"), *ym = dfetch(&dym, "Y-");
  for (size_t w = 0; w < ny; w++) fd[w] = (yp[w] - ym[w]) / (2 * h);
  double *ry = dfetch(&dry, "RY");
  for (size_t w = 0; w < ny; w++)
    cr_assert(fabs(ry[w] - fd[w]) <= 1e-6 * (1 + fabs(fd[w])), "RY[%zu] = %.12g, central difference %.12g", w, ry[w],
              fd[w]);
  free(X), free(RX), free(Xp), free(Xm), free(fd), free(yp), free(ym), free(ry);
  dfree(&dx), dfree(&dxp), dfree(&dxm), dfree(&drx), dfree(&dy), dfree(&dyp), dfree(&dym), dfree(&dry);
  ifree(&da), ifree(&dap), ifree(&dam);
}

static void pool_bwd_case(hs_dtype t, int mode, int k, const shape *s) {
  hs_window g = win(s);
  char what[200];
  describe(s, what, sizeof what);
  int planes = s->n * s->C;
  size_t HW = (size_t)g.H * g.W, L = (size_t)g.Ho * g.Wo, nx = (size_t)k * planes * HW, ny = (size_t)k * planes * L;
  double *dY = rnd(t, ny), *ref = zeros(nx);
  int32_t *am = rnd_argmax(planes, &g);
  /* scatter: every window hands its cotangent to its members (avg) or its argmax (max) */
  for (int j = 0; j < k; j++)
    for (int p = 0; p < planes; p++)
      for (int oy = 0; oy < g.Ho; oy++)
        for (int ox = 0; ox < g.Wo; ox++) {
          size_t w = (size_t)oy * g.Wo + ox;
          double v = dY[((size_t)j * planes + p) * L + w];
          double *dx = ref + ((size_t)j * planes + p) * HW;
          if (mode == HS_POOL_MAX) {
            dx[am[p * L + w]] += v;
            continue;
          }
          for (int i = 0; i < g.kh; i++)
            for (int jj = 0; jj < g.kw; jj++) dx[(size_t)(oy * g.sh + i) * g.W + ox * g.sw + jj] += v / (g.kh * g.kw);
        }
  dbuf ddy = dnew(t, ny, dY), ddx = dnew(t, nx, NULL);
  ibuf da = inew(planes * L, am);
  cr_assert_eq(be->ops->pool_bwd(be, t, mode, k, s->n, g, mode == HS_POOL_MAX ? ip(&da) : NULL, dp(&ddy), dp(&ddx)),
               HS_OK, "%s: %s", what, be->errmsg);
  char msg[260];
  snprintf(msg, sizeof msg, "pool_bwd %s k=%d, %s", mode == HS_POOL_AVG ? "avg" : "max", k, what);
  check_close(&ddx, ref, msg);

  /* adjointness with pool_rfwd (the same linear map): <pool_bwd(dY), RX> = <dY, pool_rfwd(RX)> */
  double *RX = rnd(t, nx);
  dbuf drx = dnew(t, nx, RX), dry = dnew(t, ny, NULL);
  cr_assert_eq(be->ops->pool_rfwd(be, t, mode, k, s->n, g, ip(&da), dp(&drx), dp(&dry)), HS_OK, "%s", be->errmsg);
  double *bx = dfetch(&ddx, "dX"), *ry = dfetch(&dry, "RY");
  long double lhs = 0, rhs = 0, scale = 0;
  for (size_t e = 0; e < nx; e++) lhs += (long double)bx[e] * RX[e], scale += fabsl((long double)bx[e] * RX[e]);
  for (size_t w = 0; w < ny; w++) rhs += (long double)dY[w] * ry[w];
  cr_assert(fabsl(lhs - rhs) <= 8 * eps_t(t) * (double)(scale > 0 ? scale : 1),
            "%s (%s): <pool_bwd(dY), RX> = %.17Lg but <dY, pool_rfwd(RX)> = %.17Lg", msg, tname(t), lhs, rhs);
  free(dY), free(ref), free(am), free(RX), free(bx), free(ry);
  dfree(&ddy), dfree(&ddx), dfree(&drx), dfree(&dry), ifree(&da);
}

Test(backend_conv, pool_bwd_against_scatter_and_adjoint_of_rfwd) {
  for (int d = 0; d < 2; d++)
    for (int ki = 0; ki < 2; ki++)
      for (size_t si = 0; si < N_POOL; si++) {
        pool_bwd_case(DTYPES[d], HS_POOL_AVG, KS[ki], &POOL_SHAPES[si]);
        pool_bwd_case(DTYPES[d], HS_POOL_MAX, KS[ki], &POOL_SHAPES[si]);
      }
}

/* backend.h: each element's terms in ascending (row-major) window order. Stride 1: the
 * element at the centre of a (2kh - 1) x (2kw - 1) plane lies in all Ho x Wo = kh x kw windows;
 * their cotangents in row-major order are 1e17, -1e17, 1, 0, ..., which sum to exactly 1 (avg:
 * 1/(kh*kw)); the orders a bug would use give 0 (checked first, so the case discriminates):
 * 2x2 catches column-major and reversed order, 1x3 a reversed ox loop, 3x1 a reversed oy loop.
 * Max: every argmax is the centre. */
static void pool_bwd_order_case(hs_dtype t, int kh, int kw) {
  shape s = {1, 1, 2 * kh - 1, 2 * kw - 1, kh, kw, 1, 1, 0, 0};
  hs_window g = win(&s);
  const int K = kh * kw, centre = (kh - 1) * g.W + (kw - 1);
  double big = round_t(t, 1e17), dy[9] = {big, -big, 1, 0, 0, 0, 0, 0, 0};
  int colmajor[9], rev[9], oxrev[9];
  int32_t am[9];
  for (int q = 0; q < K; q++) {
    colmajor[q] = (q % kh) * kw + q / kh;
    rev[q] = K - 1 - q;
    oxrev[q] = (q / kw) * kw + (kw - 1 - q % kw);
    am[q] = centre;
  }
  const int *bad[3] = {colmajor, rev, oxrev};
  for (int o = 0; o < 3; o++)
    if ((o == 0 && kh > 1 && kw > 1) || o == 1 || (o == 2 && kh == 1))
      cr_assert(sum_in(dy, bad[o], K) != 1.0, "order case %dx%d does not discriminate order %d", kh, kw, o);
  dbuf ddy = dnew(t, K, dy), ddx = dnew(t, (size_t)g.H * g.W, NULL);
  ibuf da = inew(K, am);
  cr_assert_eq(be->ops->pool_bwd(be, t, HS_POOL_MAX, 1, 1, g, ip(&da), dp(&ddy), dp(&ddx)), HS_OK, "%s", be->errmsg);
  double *x = dfetch(&ddx, "dX");
  for (int e = 0; e < g.H * g.W; e++)
    cr_assert(x[e] == (e == centre ? 1.0 : 0.0), "max %dx%d (%s): dX[%d] = %.17g (centre %d)", kh, kw, tname(t), e, x[e],
              centre);
  free(x);
  cr_assert_eq(be->ops->pool_bwd(be, t, HS_POOL_AVG, 1, 1, g, NULL, dp(&ddy), dp(&ddx)), HS_OK, "%s", be->errmsg);
  x = dfetch(&ddx, "dX");
  cr_assert(x[centre] == round_t(t, 1.0 / K), "avg %dx%d (%s): dX[centre] = %.17g, want 1/%d", kh, kw, tname(t),
            x[centre], K);
  free(x);
  dfree(&ddy), dfree(&ddx), ifree(&da);
}

Test(backend_conv, pool_bwd_sums_in_ascending_window_order) {
  for (int d = 0; d < 2; d++) {
    pool_bwd_order_case(DTYPES[d], 2, 2);
    pool_bwd_order_case(DTYPES[d], 1, 3);
    pool_bwd_order_case(DTYPES[d], 3, 1);
  }
}

/* ============================== argument errors ============================== */

#define EXPECT_INVALID(call, opname)                                                               \
  do {                                                                                             \
    be->errmsg[0] = '\0';                                                                          \
    hs_status st_ = (call);                                                                        \
    cr_assert_eq(st_, HS_E_INVALID, "%s returned %d, not HS_E_INVALID", #call, (int)st_);          \
    cr_assert(strstr(be->errmsg, opname) != NULL, "%s: message '%s' does not name %s", #call,      \
              be->errmsg, opname);                                                                 \
  } while (0)

Test(backend_conv, im2col_col2im_invalid_arguments) {
  shape s = {2, 2, 5, 5, 3, 3, 1, 1, 1, 1};
  hs_window g = win(&s), bad;
  double X[2 * 2 * 25], cols[18 * 50 + 8];
  long long nL = 2 * 25;
  for (int i = 0; i < 100; i++) X[i] = 0.25 * (i % 9) - 1;
  cr_assert_eq(be->ops->im2col(be, HS_F64, 2, g, X, cols, nL), HS_OK, "%s", be->errmsg);
  EXPECT_INVALID(be->ops->im2col(be, (hs_dtype)7, 2, g, X, cols, nL), "im2col");
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, -1, g, X, cols, nL), "im2col");
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, g, X, cols, nL - 1), "im2col"); /* ldc < n*L */
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, g, NULL, cols, nL), "im2col");
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, g, X, NULL, nL), "im2col");
  bad = g, bad.Ho = 4;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, bad, X, cols, nL), "im2col");
  bad = g, bad.Wo = 6;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, bad, X, cols, nL), "im2col");
  bad = g, bad.kh = 0;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, bad, X, cols, nL), "im2col");
  bad = g, bad.sw = 0;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, bad, X, cols, nL), "im2col");
  bad = g, bad.ph = -1;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, bad, X, cols, nL), "im2col");
  bad = g, bad.C = -2;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 2, bad, X, cols, nL), "im2col");
  /* a window larger than the padded input (the floor formula would give Ho = 1) */
  shape big = {1, 1, 2, 2, 5, 5, 1, 1, 1, 1};
  bad = win(&big), bad.Ho = bad.Wo = 1;
  EXPECT_INVALID(be->ops->im2col(be, HS_F64, 1, bad, X, cols, 1), "im2col");

  cr_assert_eq(be->ops->col2im(be, HS_F64, 2, g, cols, nL, X), HS_OK, "%s", be->errmsg);
  EXPECT_INVALID(be->ops->col2im(be, (hs_dtype)3, 2, g, cols, nL, X), "col2im");
  EXPECT_INVALID(be->ops->col2im(be, HS_F64, -2, g, cols, nL, X), "col2im");
  EXPECT_INVALID(be->ops->col2im(be, HS_F64, 2, g, cols, nL - 1, X), "col2im");
  EXPECT_INVALID(be->ops->col2im(be, HS_F64, 2, g, NULL, nL, X), "col2im");
  EXPECT_INVALID(be->ops->col2im(be, HS_F64, 2, g, cols, nL, NULL), "col2im");
  bad = g, bad.Ho = 6;
  EXPECT_INVALID(be->ops->col2im(be, HS_F64, 2, bad, cols, nL, X), "col2im");
  bad = g, bad.sh = -1;
  EXPECT_INVALID(be->ops->col2im(be, HS_F64, 2, bad, cols, nL, X), "col2im");
  /* empty work: nothing is touched, NULL is fine */
  cr_assert_eq(be->ops->im2col(be, HS_F64, 0, g, NULL, NULL, 0), HS_OK, "%s", be->errmsg);
  cr_assert_eq(be->ops->col2im(be, HS_F64, 0, g, NULL, 0, NULL), HS_OK, "%s", be->errmsg);
}

Test(backend_conv, transpose_invalid_arguments) {
  double a[64], b[64];
  for (int i = 0; i < 64; i++) a[i] = i;
  cr_assert_eq(be->ops->transpose(be, HS_F64, 2, 4, 4, 2, a, b), HS_OK, "%s", be->errmsg);
  EXPECT_INVALID(be->ops->transpose(be, (hs_dtype)9, 2, 4, 4, 2, a, b), "transpose");
  EXPECT_INVALID(be->ops->transpose(be, HS_F64, -1, 4, 4, 2, a, b), "transpose");
  EXPECT_INVALID(be->ops->transpose(be, HS_F64, 2, 4, -4, 2, a, b), "transpose");
  EXPECT_INVALID(be->ops->transpose(be, HS_F64, 2, 4, 4, 2, NULL, b), "transpose");
  EXPECT_INVALID(be->ops->transpose(be, HS_F64, 2, 4, 4, 2, a, NULL), "transpose");
  EXPECT_INVALID(be->ops->transpose(be, HS_F32, 2, 4, 4, 2, a, (float *)a + 63), "transpose"); /* overlap */
  EXPECT_INVALID(be->ops->transpose(be, HS_F64, 2, 4, 4, 2, a + 5, a), "transpose");
  cr_assert_eq(be->ops->transpose(be, HS_F64, 2, 4, 4, 1, a, a + 32), HS_OK, "adjacent halves do not overlap: %s",
               be->errmsg);
  cr_assert_eq(be->ops->transpose(be, HS_F64, 0, 4, 4, 2, NULL, NULL), HS_OK, "%s", be->errmsg);
}

Test(backend_conv, pool_invalid_arguments) {
  shape s = {1, 2, 5, 5, 2, 2, 2, 2, 0, 0};
  hs_window g = win(&s), bad;
  double X[50], Y[8], dX[50], dY[8];
  int32_t am[8];
  for (int i = 0; i < 50; i++) X[i] = i % 7 - 3.5;
  for (int i = 0; i < 8; i++) dY[i] = 0.5 * i - 1;
  cr_assert_eq(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, 1, g, X, Y, am), HS_OK, "%s", be->errmsg);
  EXPECT_INVALID(be->ops->pool_fwd(be, (hs_dtype)5, HS_POOL_MAX, 1, g, X, Y, am), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, 2, 1, g, X, Y, am), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, -1, 1, g, X, Y, am), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, -1, g, X, Y, am), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, 1, g, X, Y, NULL), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, HS_POOL_AVG, 1, g, NULL, Y, NULL), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, HS_POOL_AVG, 1, g, X, NULL, NULL), "pool_fwd");
  bad = g, bad.Ho = 3;
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, HS_POOL_AVG, 1, bad, X, Y, NULL), "pool_fwd");
  /* padding, even with Ho/Wo consistent with it */
  shape sp = {1, 2, 5, 5, 2, 2, 2, 2, 1, 0};
  bad = win(&sp);
  EXPECT_INVALID(be->ops->pool_fwd(be, HS_F64, HS_POOL_AVG, 1, bad, X, Y, NULL), "pool_fwd");
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, HS_POOL_AVG, 1, 1, bad, NULL, X, Y), "pool_rfwd");
  EXPECT_INVALID(be->ops->pool_bwd(be, HS_F64, HS_POOL_AVG, 1, 1, bad, NULL, dY, dX), "pool_bwd");

  cr_assert_eq(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, X, Y), HS_OK, "%s", be->errmsg);
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, -1, 1, g, am, X, Y), "pool_rfwd");
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, 3, 1, 1, g, am, X, Y), "pool_rfwd");
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, NULL, X, Y), "pool_rfwd");
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, NULL, Y), "pool_rfwd");
  cr_assert_eq(be->ops->pool_bwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, dY, dX), HS_OK, "%s", be->errmsg);
  EXPECT_INVALID(be->ops->pool_bwd(be, HS_F64, HS_POOL_MAX, 1, -1, g, am, dY, dX), "pool_bwd");
  EXPECT_INVALID(be->ops->pool_bwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, NULL, dY, dX), "pool_bwd");
  EXPECT_INVALID(be->ops->pool_bwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, dY, NULL), "pool_bwd");
  /* an argmax outside its window (window (0,1) covers x = 2, 3 of rows 0, 1), or negative */
  int32_t keep = am[1];
  am[1] = 0;
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, X, Y), "pool_rfwd");
  EXPECT_INVALID(be->ops->pool_bwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, dY, dX), "pool_bwd");
  am[1] = -3;
  EXPECT_INVALID(be->ops->pool_rfwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, X, Y), "pool_rfwd");
  am[1] = 25 + 2; /* the right column, but in the next plane */
  EXPECT_INVALID(be->ops->pool_bwd(be, HS_F64, HS_POOL_MAX, 1, 1, g, am, dY, dX), "pool_bwd");
  am[1] = keep;
  /* avg ignores argmax; empty work accepts NULL */
  cr_assert_eq(be->ops->pool_rfwd(be, HS_F64, HS_POOL_AVG, 1, 1, g, NULL, X, Y), HS_OK, "%s", be->errmsg);
  cr_assert_eq(be->ops->pool_bwd(be, HS_F64, HS_POOL_AVG, 0, 1, g, NULL, NULL, NULL), HS_OK, "%s", be->errmsg);
  cr_assert_eq(be->ops->pool_fwd(be, HS_F64, HS_POOL_MAX, 0, g, NULL, NULL, NULL), HS_OK, "%s", be->errmsg);
}
