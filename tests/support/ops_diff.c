/* The differential harness of the op table (see ops_diff.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "support/ops_diff.h"

/* ---- Tolerances ----
 * Measured as max_i |dut_i - ref_i| / max_i |ref_i| over one output (max-norm relative error,
 * so a tiny element is not held to a relative bound that its rounding cannot meet). Inputs are
 * the same values on both sides (f32 cases round once on the host, then upload), so only the
 * arithmetic differs:
 *  EW    elementwise, one or two roundings; CUDA may contract a*b+c into an FMA where the
 *        CPU build does not: a few ulps. f64 1e-14, f32 1e-6 (f32 ulp 6e-8).
 *  ACT   tanh/exp/log from CUDA's libm vs glibc (both within 1-2 ulps), with mild
 *        cancellation in 1 - tanh^2 for |y| <= 2 (factor ~15): f64 1e-13, f32 1e-5.
 *  RED   per-column sums over <= 70 rows in double in different orders (GPU lanes vs CPU
 *        rows in order), then a few operations, then rounding to the dtype: the double part
 *        differs by ~rows*1e-16; f32 outputs by their final rounding. f64 1e-12, f32 1e-5.
 *  GEMM  inner dimension <= 41 accumulated in the dtype by cuBLAS and OpenBLAS with
 *        different blockings and FMAs: error ~ k*eps*max|a||b| against outputs ~ sqrt(k)*|a||b|
 *        (random signs): f64 1e-12, f32 2e-5 (TF32 is off in these tests).
 *  SUM   scalars summed to the host (dot, nrm2, loss sums), relative to the sum of the
 *        absolute terms (the condition of the sum): both sides sum exact double products of
 *        the same values in double, so f32 cases are held to the f64 bound. The CPU sums
 *        blocks of 4096 terms left to right (worst case 4096*eps = 4.5e-13 of the scale), the
 *        GPU a fixed tree: 1e-12.
 *  EXACT the convolution and pooling ops (im2col, col2im, transpose, pool_*): each output is
 *        either a copy (im2col, transpose, max pooling's Y and R-forward) or a sum whose term
 *        order backend.h fixes (col2im: ascending (i, j); average pooling: row-major window
 *        order; pool_bwd: ascending window order), which both backends accumulate in double
 *        and round once to the dtype, average pooling dividing by kh*kw once. There are only
 *        IEEE additions and one IEEE division (no products an FMA could fuse), so the bits must
 *        agree: tolerance 0. A difference means a different order, accumulator or term set.
 *  EIG   syevd by cuSOLVER vs LAPACK: eigenvalues to ~n*eps*||A||; eigenvectors compared
 *        (after fixing the sign) only where the gap to the neighbours exceeds 1e-2*||A||, where
 *        their error is ~ eps*||A||/gap; residuals ||A v - w v|| and orthonormality checked on
 *        the backend under test for every vector. Bounds in check_syev. */
#define TOL_EW(t) ((t) == HS_F64 ? 1e-14 : 1e-6)
#define TOL_ACT(t) ((t) == HS_F64 ? 1e-13 : 1e-5)
#define TOL_RED(t) ((t) == HS_F64 ? 1e-12 : 1e-5)
#define TOL_GEMM(t) ((t) == HS_F64 ? 1e-12 : 2e-5)
#define TOL_SUM 1e-12

#define OD_GUARD 16            /* sentinel elements before and after every buffer */
#define OD_SENTINEL (-1.5e30)  /* finite, exact in f32 and f64 (hence bit-comparable), unlikely */

static const char *DUT(const od_pair *p) { return p->be[1]->ops->name; }

/* cr_assert with the case, dtype and seed in front of the message. */
#define OD_ASSERT(p, cond, ...)                                                                  \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      char m_[768];                                                                              \
      snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
      cr_assert_fail("[%s %s, seed %llu] %s", (p)->what, hs_dtype_name((p)->t),                  \
                     (unsigned long long)(p)->seed, m_);                                         \
    }                                                                                            \
  } while (0)

/* ---- setup ---- */

void od_setup(od_pair *p, od_open_fn open_dut) {
  memset(p, 0, sizeof *p);
  const char *env = getenv("HS_TEST_SEED");
  /* fresh inputs on every run (METHOD.md: the fast version must compute the same function on
   * any valid input); HS_TEST_SEED replays a failing draw */
  p->seed = env ? strtoull(env, NULL, 10)
                : ((uint64_t)time(NULL) * 1000003u) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)clock();
  hs_status st = hs_cpu_backend_create(1, &p->be[0]);
  cr_assert_eq(st, HS_OK, "reference CPU backend: %s", hs_status_string(st));
  char err[512] = "";
  st = open_dut(&p->be[1], err, sizeof err);
  cr_assert_eq(st, HS_OK, "backend under test: %s (%s)", err, hs_status_string(st));
}

void od_teardown(od_pair *p) {
  for (int s = 0; s < 2; s++)
    if (p->be[s]) p->be[s]->ops->destroy(p->be[s]);
}

/* ---- random values (host, double; f32 cases round them before both sides see them) ---- */

/* Signed, magnitude in [lo, hi] with lo > 0: never zero. */
static double draw(od_pair *p, double lo, double hi) {
  double u = hs_rng_uniform(p->seed, HS_STREAM_TEST, p->draws++);
  double v = lo + (hi - lo) * (2 * fabs(u - 0.5));
  return u < 0.5 ? -v : v;
}
static double *vals_rand(od_pair *p, size_t n, double lo, double hi) {
  double *v = malloc((n + 1) * sizeof *v);
  cr_assert(v != NULL);
  for (size_t i = 0; i < n; i++) v[i] = draw(p, lo, hi);
  return v;
}
static double *vals_pos(od_pair *p, size_t n, double lo, double hi) {
  double *v = vals_rand(p, n, lo, hi);
  for (size_t i = 0; i < n; i++) v[i] = fabs(v[i]);
  return v;
}
/* NaN over the (rows x cols) block at offset off with leading dimension ld: elements an op
 * must overwrite. Gaps (ld > cols) keep their values and must stay as they were. */
static void poison(double *v, size_t off, int rows, int cols, size_t ld) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) v[off + (size_t)r * ld + c] = NAN;
}
static double *vals_nan(size_t n) {
  double *v = malloc((n + 1) * sizeof *v);
  cr_assert(v != NULL);
  for (size_t i = 0; i < n; i++) v[i] = NAN;
  return v;
}

/* ---- device buffers on both backends, with guard bands ---- */

typedef struct {
  od_pair *p;
  hs_dtype t;
  size_t n;
  void *d[2]; /* n + 2*OD_GUARD elements; the payload starts at OD_GUARD */
  double *h;  /* the initial payload as the device holds it (rounded to t) */
} od_buf;

static size_t esz(hs_dtype t) { return t == HS_F64 ? 8 : 4; }
static void put(hs_dtype t, void *dst, size_t i, double v) {
  if (t == HS_F64) ((double *)dst)[i] = v;
  else ((float *)dst)[i] = (float)v;
}
static double get(hs_dtype t, const void *src, size_t i) {
  return t == HS_F64 ? ((const double *)src)[i] : (double)((const float *)src)[i];
}

/* Takes ownership of v (n values). */
static od_buf buf_from(od_pair *p, size_t n, double *v) {
  od_buf b = {p, p->t, n, {NULL, NULL}, v};
  size_t tot = n + 2 * OD_GUARD;
  void *stage = malloc(tot * esz(b.t));
  cr_assert(stage != NULL);
  for (size_t i = 0; i < tot; i++)
    put(b.t, stage, i, i < OD_GUARD || i >= OD_GUARD + n ? OD_SENTINEL : v[i - OD_GUARD]);
  for (size_t i = 0; i < n; i++) v[i] = get(b.t, stage, OD_GUARD + i); /* as rounded */
  for (int s = 0; s < 2; s++) {
    hs_backend *be = p->be[s];
    hs_status st = be->ops->alloc(be, tot * esz(b.t), &b.d[s]);
    OD_ASSERT(p, (st) == (HS_OK), "%s alloc: %s", be->ops->name, be->errmsg);
    st = be->ops->upload(be, b.d[s], stage, tot * esz(b.t));
    OD_ASSERT(p, (st) == (HS_OK), "%s upload: %s", be->ops->name, be->errmsg);
  }
  free(stage);
  return b;
}
static od_buf buf_rand(od_pair *p, size_t n, double lo, double hi) { return buf_from(p, n, vals_rand(p, n, lo, hi)); }
static od_buf buf_pos(od_pair *p, size_t n, double lo, double hi) { return buf_from(p, n, vals_pos(p, n, lo, hi)); }
static od_buf buf_nan(od_pair *p, size_t n) { return buf_from(p, n, vals_nan(n)); }

static void *dp(const od_buf *b, int s) { return hs_dptr(b->d[s], b->t, OD_GUARD); }

static void buf_free(od_buf *b) {
  for (int s = 0; s < 2; s++) b->p->be[s]->ops->free(b->p->be[s], b->d[s]);
  free(b->h);
  memset(b, 0, sizeof *b);
}

/* Downloads side s, checks its guard bands bit for bit, returns the payload (caller frees). */
static double *buf_get(od_buf *b, int s, const char *what) {
  od_pair *p = b->p;
  hs_backend *be = p->be[s];
  size_t tot = b->n + 2 * OD_GUARD;
  void *stage = malloc(tot * esz(b->t));
  cr_assert(stage != NULL);
  hs_status st = be->ops->download(be, stage, b->d[s], tot * esz(b->t));
  OD_ASSERT(p, (st) == (HS_OK), "%s download of %s: %s", be->ops->name, what, be->errmsg);
  unsigned char sent[8];
  put(b->t, sent, 0, OD_SENTINEL);
  for (size_t i = 0; i < tot; i++) {
    if (i == OD_GUARD) i = OD_GUARD + b->n;
    if (i >= tot) break;
    OD_ASSERT(p, memcmp((char *)stage + i * esz(b->t), sent, esz(b->t)) == 0,
              "%s wrote outside %s: guard element %s%zu changed", be->ops->name, what,
              i < OD_GUARD ? "-" : "+", i < OD_GUARD ? OD_GUARD - i : i - OD_GUARD - b->n + 1);
  }
  double *v = malloc((b->n + 1) * sizeof *v);
  cr_assert(v != NULL);
  for (size_t i = 0; i < b->n; i++) v[i] = get(b->t, stage, OD_GUARD + i);
  free(stage);
  return v;
}

/* Both sides: guards intact, every element finite, max-norm relative difference <= tol. */
static void buf_compare(od_buf *b, const char *what, double tol) {
  od_pair *p = b->p;
  double *r = buf_get(b, 0, what), *d = buf_get(b, 1, what);
  double maxref = 0, maxdiff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < b->n; i++) {
    OD_ASSERT(p, isfinite(r[i]), "reference %s[%zu] = %g: not written or not finite", what, i, r[i]);
    OD_ASSERT(p, isfinite(d[i]), "%s %s[%zu] = %g (reference %g): not written or not finite",
              DUT(p), what, i, d[i], r[i]);
    if (fabs(r[i]) > maxref) maxref = fabs(r[i]);
    double e = fabs(d[i] - r[i]);
    if (e > maxdiff) maxdiff = e, worst = i;
  }
  double rel = maxref > 0 ? maxdiff / maxref : maxdiff;
  OD_ASSERT(p, rel <= tol,
            "%s %s differs from the reference: max|diff|/max|ref| = %.3g > %.3g (worst [%zu]: %.17g vs %.17g)",
            DUT(p), what, rel, tol, worst, d[worst], r[worst]);
  free(r);
  free(d);
}

/* Scalars returned to the host: |dut - ref| <= tol * scale (scale: sum of |terms|). */
static void scalar_compare(od_pair *p, const char *what, double ref, double dut, double scale, double tol) {
  OD_ASSERT(p, isfinite(ref) && isfinite(dut), "%s: reference %g, %s %g", what, ref, DUT(p), dut);
  double e = fabs(dut - ref), s = scale > 0 ? scale : 1;
  OD_ASSERT(p, e <= tol * s, "%s: %s %.17g vs reference %.17g (|diff| %.3g > %.3g)", what,
            DUT(p), dut, ref, e, tol * s);
}

/* int32 labels on both sides (inputs only: no guards needed). */
typedef struct {
  od_pair *p;
  int32_t *d[2];
} od_labels;

static od_labels labels_new(od_pair *p, int rows, const int32_t *host) {
  od_labels l = {p, {NULL, NULL}};
  for (int s = 0; s < 2; s++) {
    hs_backend *be = p->be[s];
    cr_assert_eq(be->ops->alloc(be, (size_t)rows * 4, (void **)&l.d[s]), HS_OK, "labels alloc");
    cr_assert_eq(be->ops->upload(be, l.d[s], host, (size_t)rows * 4), HS_OK, "labels upload");
  }
  return l;
}
static void labels_free(od_labels *l) {
  for (int s = 0; s < 2; s++) l->p->be[s]->ops->free(l->p->be[s], l->d[s]);
}
static int32_t *labels_rand(od_pair *p, int rows, int C) {
  int32_t *y = malloc((size_t)rows * sizeof *y + 4);
  cr_assert(y != NULL);
  for (int r = 0; r < rows; r++) y[r] = (int32_t)(hs_rng_bits(p->seed, HS_STREAM_TEST, p->draws++) % (uint64_t)C);
  return y;
}

/* Runs `call` on both backends; `be` and `s` are in scope, D(buf) is buf's payload on side s. */
#define D(b) dp(&(b), s)
#define RUN(p, call)                                                                               \
  do {                                                                                             \
    for (int s = 0; s < 2; s++) {                                                                  \
      hs_backend *be = (p)->be[s];                                                                 \
      hs_status st_ = (call);                                                                      \
      OD_ASSERT(p, (st_) == (HS_OK), "%s: %s failed: %s (%s)", be->ops->name, #call,      \
                   be->errmsg, hs_status_string(st_));                                             \
    }                                                                                              \
  } while (0)

/* Runs `call` on both backends; both must refuse it with `want` (a contract the harness holds
 * the backend under test to, not only the CPU). */
#define RUN_FAILS(p, want, call)                                                                   \
  do {                                                                                             \
    for (int s = 0; s < 2; s++) {                                                                  \
      hs_backend *be = (p)->be[s];                                                                 \
      hs_status st_ = (call);                                                                      \
      OD_ASSERT(p, (st_) == (want), "%s: %s returned %s, not %s (%s)", be->ops->name, #call,     \
                hs_status_string(st_), hs_status_string(want), be->errmsg);                        \
    }                                                                                              \
  } while (0)

#define CASE(p, tt, ...)                                                                           \
  do {                                                                                             \
    (p)->t = (tt);                                                                                 \
    snprintf((p)->what, sizeof (p)->what, __VA_ARGS__);                                            \
  } while (0)

static const char *ACT_NAME[] = {"linear", "relu", "tanh"};
static const char *BN_NAME(int mode) { return mode == HS_BN_BATCH ? "batch" : "running"; }

/* ================================ memory and BLAS ================================ */

void od_check_fill(od_pair *p, hs_dtype t) {
  CASE(p, t, "fill n=1001");
  od_buf x = buf_nan(p, 1001);
  RUN(p, be->ops->fill(be, t, 1001, -0.37, D(x)));
  buf_compare(&x, "x", 0);
  double *v = buf_get(&x, 1, "x");
  double want = t == HS_F64 ? -0.37 : (double)(float)-0.37;
  OD_ASSERT(p, (v[500]) == (want), "fill wrote %.17g, not %.17g", v[500], want);
  free(v);
  buf_free(&x);
}

void od_check_copy(od_pair *p, hs_dtype t) {
  CASE(p, t, "copy n=517");
  od_buf src = buf_rand(p, 517, 0.1, 1), dst = buf_nan(p, 517);
  RUN(p, be->ops->copy(be, D(dst), D(src), 517 * esz(t)));
  buf_compare(&dst, "dst", 0);
  double *v = buf_get(&dst, 1, "dst");
  OD_ASSERT(p, memcmp(v, src.h, 517 * sizeof *v) == 0, "copy is not exact");
  free(v);
  buf_free(&src);
  buf_free(&dst);
  /* overlapping ranges, both directions: memmove semantics (the CPU's copy is memmove) */
  for (int dir = 0; dir < 2; dir++) {
    CASE(p, t, "copy overlapping, %s by 100 of 517", dir ? "backward" : "forward");
    od_buf x = buf_rand(p, 617, 0.1, 1);
    RUN(p, be->ops->copy(be, hs_dptr(D(x), t, dir ? 0 : 100), hs_dptr(D(x), t, dir ? 100 : 0), 517 * esz(t)));
    buf_compare(&x, "x", 0);
    double *got = buf_get(&x, 1, "x");
    for (size_t i = 0; i < 517; i++)
      OD_ASSERT(p, got[(dir ? 0 : 100) + i] == x.h[(dir ? 100 : 0) + i], "overlapping copy: element %zu is wrong", i);
    free(got);
    buf_free(&x);
  }
}

/* C (m x n, ldc) = alpha op(A) op(B) + beta C with padded leading dimensions. beta = 0 must
 * not read C: its payload starts as NaN. */
static void gemm_case(od_pair *p, hs_dtype t, hs_trans ta, hs_trans tb, double beta) {
  const int m = 37, n = 23, k = 19;
  CASE(p, t, "gemm ta=%d tb=%d m=%d n=%d k=%d beta=%g", ta, tb, m, n, k, beta);
  int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int lda = ac + 3, ldb = bc + 2, ldc = n + 5;
  od_buf A = buf_rand(p, (size_t)ar * lda, 0.05, 1), B = buf_rand(p, (size_t)br * ldb, 0.05, 1);
  double *cv = vals_rand(p, (size_t)m * ldc, 0.05, 1);
  if (beta == 0) poison(cv, 0, m, n, ldc);
  od_buf C = buf_from(p, (size_t)m * ldc, cv);
  RUN(p, be->ops->gemm(be, t, ta, tb, m, n, k, 0.7, D(A), lda, D(B), ldb, beta, D(C), ldc));
  buf_compare(&C, "C", TOL_GEMM(t));
  buf_free(&A);
  buf_free(&B);
  buf_free(&C);
}

/* Element 0 of b on the backend under test is exactly beta times its initial value (zero for
 * beta = 0 over a NaN start), rounded to the dtype: what an empty product must leave. */
static void first_is_scaled(od_buf *b, const char *what, double beta) {
  double *got = buf_get(b, 1, what);
  double want = beta == 0 ? 0.0 : beta * b->h[0];
  if (b->t == HS_F32) want = (float)want;
  OD_ASSERT(b->p, got[0] == want, "%s[0] = %.17g, not beta*%s = %.17g", what, got[0], what, want);
  free(got);
}

/* An empty inner dimension: C = beta*C (beta = 0: zeros over a NaN C), as reference BLAS. */
static void gemm_empty_case(od_pair *p, hs_dtype t, int batched, double beta) {
  const int m = 9, n = 7, ldc = n + 2, batch = batched ? 3 : 1;
  const long long sc = (long long)m * ldc + 1;
  CASE(p, t, "%s k=0 m=%d n=%d beta=%g", batched ? "gemm_batched" : "gemm", m, n, beta);
  od_buf A = buf_rand(p, 4, 0.05, 1), B = buf_rand(p, 4, 0.05, 1);
  double *cv = vals_rand(p, (size_t)sc * batch, 0.05, 1);
  if (beta == 0)
    for (int i = 0; i < batch; i++) poison(cv, (size_t)i * sc, m, n, ldc);
  od_buf C = buf_from(p, (size_t)sc * batch, cv);
  if (batched)
    RUN(p, be->ops->gemm_batched(be, t, HS_NOTRANS, HS_NOTRANS, m, n, 0, 0.7, D(A), 1, 0, D(B), n, 0, beta,
                                 D(C), ldc, sc, batch));
  else
    RUN(p, be->ops->gemm(be, t, HS_NOTRANS, HS_NOTRANS, m, n, 0, 0.7, D(A), 1, D(B), n, beta, D(C), ldc));
  buf_compare(&C, "C", TOL_EW(t));
  first_is_scaled(&C, "C", beta);
  buf_free(&A);
  buf_free(&B);
  buf_free(&C);
}

void od_check_gemm(od_pair *p, hs_dtype t) {
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      gemm_case(p, t, (hs_trans)ta, (hs_trans)tb, -1.3);
      gemm_case(p, t, (hs_trans)ta, (hs_trans)tb, 0.0);
    }
  gemm_empty_case(p, t, 0, 0.5);
  gemm_empty_case(p, t, 0, 0.0);
}

/* batch = 3; stride 0 shares an operand (share: 0 none, 1 A, 2 B). */
static void gemm_batched_case(od_pair *p, hs_dtype t, hs_trans ta, hs_trans tb, int share, double beta) {
  const int m = 13, n = 11, k = 29, batch = 3;
  CASE(p, t, "gemm_batched ta=%d tb=%d share=%s beta=%g", ta, tb, share == 1 ? "A" : share == 2 ? "B" : "none", beta);
  int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int lda = ac + 1, ldb = bc + 3, ldc = n + 2;
  long long sa = share == 1 ? 0 : (long long)ar * lda + 7, sb = share == 2 ? 0 : (long long)br * ldb + 5;
  long long sc = (long long)m * ldc + 3;
  od_buf A = buf_rand(p, (size_t)(share == 1 ? ar * lda : sa * batch), 0.05, 1);
  od_buf B = buf_rand(p, (size_t)(share == 2 ? br * ldb : sb * batch), 0.05, 1);
  double *cv = vals_rand(p, (size_t)sc * batch, 0.05, 1);
  if (beta == 0)
    for (int i = 0; i < batch; i++) poison(cv, (size_t)i * sc, m, n, ldc);
  od_buf C = buf_from(p, (size_t)sc * batch, cv);
  RUN(p, be->ops->gemm_batched(be, t, ta, tb, m, n, k, -0.9, D(A), lda, sa, D(B), ldb, sb, beta,
                               D(C), ldc, sc, batch));
  buf_compare(&C, "C", TOL_GEMM(t));
  buf_free(&A);
  buf_free(&B);
  buf_free(&C);
}

void od_check_gemm_batched(od_pair *p, hs_dtype t) {
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) gemm_batched_case(p, t, (hs_trans)ta, (hs_trans)tb, 0, 0.4);
  gemm_batched_case(p, t, HS_NOTRANS, HS_TRANS, 1, 0.0);
  gemm_batched_case(p, t, HS_TRANS, HS_NOTRANS, 2, 1.0);
  gemm_empty_case(p, t, 1, -0.5);
  gemm_empty_case(p, t, 1, 0.0);
}

void od_check_gemv(od_pair *p, hs_dtype t) {
  const int m = 41, n = 29, lda = n + 2;
  for (int ta = 0; ta < 2; ta++) {
    for (int b = 0; b < 2; b++) {
      double beta = b ? -0.6 : 0.0;
      CASE(p, t, "gemv ta=%d m=%d n=%d beta=%g", ta, m, n, beta);
      int xl = ta ? m : n, yl = ta ? n : m;
      od_buf A = buf_rand(p, (size_t)m * lda, 0.05, 1), x = buf_rand(p, (size_t)xl, 0.05, 1);
      od_buf y = beta == 0 ? buf_nan(p, (size_t)yl) : buf_rand(p, (size_t)yl, 0.05, 1);
      RUN(p, be->ops->gemv(be, t, (hs_trans)ta, m, n, 0.9, D(A), lda, D(x), beta, D(y)));
      buf_compare(&y, "y", TOL_GEMM(t));
      buf_free(&A);
      buf_free(&x);
      buf_free(&y);
    }
  }
  /* an empty inner dimension (n = 0 for A x, m = 0 for A^T x) still scales y by beta */
  for (int ta = 0; ta < 2; ta++)
    for (int b = 0; b < 2; b++) {
      double beta = b ? 0.75 : 0.0;
      int mm = ta ? 0 : 13, nn = ta ? 11 : 0, yl = ta ? nn : mm;
      CASE(p, t, "gemv ta=%d m=%d n=%d (empty inner dimension) beta=%g", ta, mm, nn, beta);
      od_buf A = buf_rand(p, 4, 0.05, 1), x = buf_rand(p, 4, 0.05, 1);
      od_buf y = beta == 0 ? buf_nan(p, (size_t)yl) : buf_rand(p, (size_t)yl, 0.05, 1);
      RUN(p, be->ops->gemv(be, t, (hs_trans)ta, mm, nn, 0.9, D(A), nn > 0 ? nn : 1, D(x), beta, D(y)));
      buf_compare(&y, "y", TOL_EW(t));
      first_is_scaled(&y, "y", beta);
      buf_free(&A);
      buf_free(&x);
      buf_free(&y);
    }
}

/* n spans several sweeps of the GPU's fixed reduction grid (240 x 256) and odd tails. */
static const size_t RED_N[] = {1, 7, 4097, 100003};

void od_check_dot(od_pair *p, hs_dtype t) {
  for (size_t c = 0; c < sizeof RED_N / sizeof *RED_N; c++) {
    size_t n = RED_N[c];
    CASE(p, t, "dot n=%zu", n);
    od_buf x = buf_rand(p, n, 0.01, 1), y = buf_rand(p, n, 0.01, 1);
    double out[2], scale = 0;
    RUN(p, be->ops->dot(be, t, n, D(x), D(y), &out[s]));
    for (size_t i = 0; i < n; i++) scale += fabs(x.h[i] * y.h[i]);
    scalar_compare(p, "dot", out[0], out[1], scale, TOL_SUM);
    buf_free(&x);
    buf_free(&y);
  }
}

/* m dots of different lengths (one empty, one shared operand) in one call: each equal to the
 * reference, and on each backend bit for bit the dot that backend returns for the pair alone. */
void od_check_dots(od_pair *p, hs_dtype t) {
  enum { M = 5 };
  const size_t n[M] = {4097, 1, 0, 100003, 7};
  CASE(p, t, "dots m=%d n={4097, 1, 0, 100003, 7}", M);
  od_buf x[M], y[M];
  for (int i = 0; i < M; i++) {
    x[i] = buf_rand(p, n[i] ? n[i] : 1, 0.01, 1);
    y[i] = buf_rand(p, n[i] ? n[i] : 1, 0.01, 1);
  }
  double out[2][M], single[2][M];
  for (int s = 0; s < 2; s++) {
    hs_backend *be = p->be[s];
    const void *xs[M], *ys[M];
    for (int i = 0; i < M; i++) xs[i] = D(x[i]), ys[i] = i == 4 ? D(x[i]) : D(y[i]); /* x.x once */
    hs_status st = be->ops->dots(be, t, M, n, xs, ys, out[s]);
    OD_ASSERT(p, st == HS_OK, "%s dots: %s", be->ops->name, be->errmsg);
    for (int i = 0; i < M; i++) {
      st = be->ops->dot(be, t, n[i], xs[i], ys[i], &single[s][i]);
      OD_ASSERT(p, st == HS_OK, "%s dot: %s", be->ops->name, be->errmsg);
      OD_ASSERT(p, memcmp(&out[s][i], &single[s][i], sizeof(double)) == 0,
                "%s dots[%d] = %.17g is not its own dot %.17g bit for bit", be->ops->name, i, out[s][i], single[s][i]);
    }
  }
  for (int i = 0; i < M; i++) {
    double scale = 0;
    for (size_t e = 0; e < n[i]; e++) scale += fabs(x[i].h[e] * (i == 4 ? x[i].h[e] : y[i].h[e]));
    char what[32];
    snprintf(what, sizeof what, "dots[%d]", i);
    scalar_compare(p, what, out[0][i], out[1][i], scale, TOL_SUM);
    buf_free(&x[i]);
    buf_free(&y[i]);
  }
  OD_ASSERT(p, out[1][2] == 0.0, "an empty dot is %g, not 0", out[1][2]);
}

void od_check_nrm2(od_pair *p, hs_dtype t) {
  for (size_t c = 0; c < sizeof RED_N / sizeof *RED_N; c++) {
    size_t n = RED_N[c];
    CASE(p, t, "nrm2 n=%zu", n);
    od_buf x = buf_rand(p, n, 0.01, 3);
    double out[2], ss = 0;
    RUN(p, be->ops->nrm2(be, t, n, D(x), &out[s]));
    for (size_t i = 0; i < n; i++) ss += x.h[i] * x.h[i];
    scalar_compare(p, "nrm2", out[0], out[1], sqrt(ss), TOL_SUM);
    buf_free(&x);
  }
}

void od_check_axpy(od_pair *p, hs_dtype t) {
  CASE(p, t, "axpy n=1001");
  od_buf x = buf_rand(p, 1001, 0.05, 1), y = buf_rand(p, 1001, 0.05, 1);
  RUN(p, be->ops->axpy(be, t, 1001, -0.77, D(x), D(y)));
  buf_compare(&y, "y", TOL_EW(t));
  buf_free(&x);
  buf_free(&y);
}

void od_check_scal(od_pair *p, hs_dtype t) {
  CASE(p, t, "scal n=1001");
  od_buf x = buf_rand(p, 1001, 0.05, 1);
  RUN(p, be->ops->scal(be, t, 1001, 1.9, D(x)));
  buf_compare(&x, "x", TOL_EW(t));
  buf_free(&x);
}

void od_check_nonfinite(od_pair *p, hs_dtype t) {
  const size_t n = 70001;
  /* none; NaN first; +Inf last; -Inf in the middle */
  for (int c = 0; c < 4; c++) {
    CASE(p, t, "nonfinite case %d n=%zu", c, n);
    double *v = vals_rand(p, n, 0.01, 1e3);
    if (c == 1) v[0] = NAN;
    if (c == 2) v[n - 1] = INFINITY;
    if (c == 3) v[n / 2] = -INFINITY;
    od_buf x = buf_from(p, n, v);
    int out[2];
    RUN(p, be->ops->nonfinite(be, t, n, D(x), &out[s]));
    OD_ASSERT(p, (out[0]) == (c != 0), "reference nonfinite = %d", out[0]);
    OD_ASSERT(p, (out[1]) == (c != 0), "%s nonfinite = %d, expected %d", DUT(p), out[1], c != 0);
    buf_free(&x);
  }
}

/* ================================ linear layers, activations ================================ */

static const int KS[] = {1, 3};

void od_check_bias_add(od_pair *p, hs_dtype t) {
  const int rows = 37, cols = 13;
  for (int ki = 0; ki < 2; ki++) {
    int k = KS[ki];
    size_t ps = k == 1 ? cols : cols + 5;
    CASE(p, t, "bias_add k=%d rows=%d cols=%d pstride=%zu", k, rows, cols, ps);
    od_buf b = buf_rand(p, ps * k, 0.05, 1), Y = buf_rand(p, (size_t)k * rows * cols, 0.05, 1);
    RUN(p, be->ops->bias_add(be, t, k, rows, cols, D(b), ps, D(Y)));
    buf_compare(&Y, "Y", TOL_EW(t));
    buf_free(&b);
    buf_free(&Y);
  }
}

void od_check_col_sum(od_pair *p, hs_dtype t) {
  /* 67 rows: one GPU row chunk; 1030: eight chunks of 129 (the last one short) */
  const int cols = 45, ROWS[] = {67, 1030};
  for (int ri = 0; ri < 2; ri++)
    for (int ki = 0; ki < 2; ki++) {
      int rows = ROWS[ri], k = KS[ki];
      size_t ps = k == 1 ? cols : cols + 4;
      CASE(p, t, "col_sum k=%d rows=%d cols=%d pstride=%zu", k, rows, cols, ps);
      od_buf X = buf_rand(p, (size_t)k * rows * cols, 0.05, 1), out = buf_rand(p, ps * k, 0.05, 1);
      RUN(p, be->ops->col_sum(be, t, k, rows, cols, D(X), D(out), ps));
      buf_compare(&out, "out", TOL_RED(t));
      buf_free(&X);
      buf_free(&out);
    }
}

void od_check_act_fwd(od_pair *p, hs_dtype t) {
  for (int act = 0; act < 3; act++) {
    CASE(p, t, "act_fwd %s n=1001", ACT_NAME[act]);
    od_buf Y = buf_rand(p, 1001, 0.01, 2), A = buf_nan(p, 1001);
    RUN(p, be->ops->act_fwd(be, t, act, 1001, D(Y), D(A)));
    buf_compare(&A, "A", TOL_ACT(t));
    buf_free(&Y);
    buf_free(&A);
  }
}

void od_check_act_deriv_mul(od_pair *p, hs_dtype t) {
  const size_t n = 333;
  for (int act = 0; act < 3; act++)
    for (int ki = 0; ki < 2; ki++) {
      int k = KS[ki];
      CASE(p, t, "act_deriv_mul %s k=%d n=%zu", ACT_NAME[act], k, n);
      od_buf Y = buf_rand(p, n, 0.01, 2), G = buf_rand(p, n * k, 0.05, 1), out = buf_nan(p, n * k);
      RUN(p, be->ops->act_deriv_mul(be, t, act, k, n, D(Y), D(G), D(out)));
      buf_compare(&out, "out", TOL_ACT(t));
      /* in place: out aliases G */
      snprintf(p->what + strlen(p->what), sizeof p->what - strlen(p->what), " in place");
      RUN(p, be->ops->act_deriv_mul(be, t, act, k, n, D(Y), D(G), D(G)));
      buf_compare(&G, "G", TOL_ACT(t));
      buf_free(&Y);
      buf_free(&G);
      buf_free(&out);
    }
}

void od_check_act_rbwd_extra(od_pair *p, hs_dtype t) {
  const size_t n = 333;
  for (int act = 0; act < 3; act++)
    for (int ki = 0; ki < 2; ki++) {
      int k = KS[ki];
      CASE(p, t, "act_rbwd_extra %s k=%d n=%zu", ACT_NAME[act], k, n);
      od_buf Y = buf_rand(p, n, 0.01, 2), dA = buf_rand(p, n, 0.05, 1);
      od_buf RY = buf_rand(p, n * k, 0.05, 1), RdY = buf_rand(p, n * k, 0.05, 1);
      RUN(p, be->ops->act_rbwd_extra(be, t, act, k, n, D(Y), D(dA), D(RY), D(RdY)));
      buf_compare(&RdY, "RdY", TOL_ACT(t));
      buf_free(&Y);
      buf_free(&dA);
      buf_free(&RY);
      buf_free(&RdY);
    }
}

/* ================================ batch norm ================================ */

/* 37 x 70: several GPU tiles (32 columns) and more than one CPU tile (64), a partial last
 * sweep of the GPU's 8 row lanes; 5 x 7: fewer rows than row lanes, one partial tile;
 * 1030 x 40: eight GPU row chunks of 129 rows, the last one short. */
static const int BN_SHAPES[][2] = {{37, 70}, {5, 7}, {1030, 40}};
#define BN_CHECK(op)                                                                             \
  void od_check_##op(od_pair *p, hs_dtype t) {                                                   \
    for (size_t i = 0; i < sizeof BN_SHAPES / sizeof *BN_SHAPES; i++)                            \
      op##_shape(p, t, BN_SHAPES[i][0], BN_SHAPES[i][1]);                                        \
  }

static void bn_fwd_shape(od_pair *p, hs_dtype t, int rows, int cols) {
  for (int mode = HS_BN_BATCH; mode <= HS_BN_RUNNING; mode++) {
    CASE(p, t, "bn_fwd %s rows=%d cols=%d", BN_NAME(mode), rows, cols);
    /* an offset mean (|mean| >> std) exposes a one-pass variance */
    double *z = vals_rand(p, (size_t)rows * cols, 0.01, 1);
    for (size_t i = 0; i < (size_t)rows * cols; i++) z[i] += 3.0;
    od_buf Z = buf_from(p, (size_t)rows * cols, z);
    od_buf gamma = buf_rand(p, cols, 0.2, 2), beta = buf_rand(p, cols, 0.05, 1);
    od_buf rm = buf_rand(p, cols, 0.5, 3.5), rv = buf_pos(p, cols, 0.3, 2);
    od_buf mean = buf_nan(p, cols), xhat = buf_nan(p, (size_t)rows * cols), rstd = buf_nan(p, cols);
    od_buf Y = buf_nan(p, (size_t)rows * cols);
    RUN(p, be->ops->bn_fwd(be, t, mode, rows, cols, D(Z), D(gamma), D(beta), D(rm), D(rv), D(mean),
                           D(xhat), D(rstd), D(Y)));
    buf_compare(&mean, "batch_mean", TOL_RED(t));
    buf_compare(&rstd, "rstd", TOL_RED(t));
    buf_compare(&xhat, "xhat", TOL_RED(t));
    buf_compare(&Y, "Y", TOL_RED(t));
    od_buf *all[] = {&Z, &gamma, &beta, &rm, &rv, &mean, &xhat, &rstd, &Y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
  }
}
/* Running mode over an empty batch: no rows to normalise, but rstd and batch_mean (from the
 * running statistics) are still outputs. */
static void bn_fwd_empty(od_pair *p, hs_dtype t) {
  const int cols = 45;
  CASE(p, t, "bn_fwd running rows=0 cols=%d", cols);
  od_buf gamma = buf_rand(p, cols, 0.2, 2), beta = buf_rand(p, cols, 0.05, 1);
  od_buf rm = buf_rand(p, cols, 0.5, 3.5), rv = buf_pos(p, cols, 0.3, 2);
  od_buf mean = buf_nan(p, cols), rstd = buf_nan(p, cols), Z = buf_rand(p, 1, 0.1, 1), Y = buf_rand(p, 1, 0.1, 1);
  RUN(p, be->ops->bn_fwd(be, t, HS_BN_RUNNING, 0, cols, D(Z), D(gamma), D(beta), D(rm), D(rv), D(mean), NULL,
                         D(rstd), D(Y)));
  buf_compare(&mean, "batch_mean", TOL_EW(t));
  buf_compare(&rstd, "rstd", TOL_RED(t));
  buf_compare(&Y, "Y (no rows: untouched)", 0);
  od_buf *all[] = {&gamma, &beta, &rm, &rv, &mean, &rstd, &Z, &Y};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
}

void od_check_bn_fwd(od_pair *p, hs_dtype t) {
  for (size_t i = 0; i < sizeof BN_SHAPES / sizeof *BN_SHAPES; i++) bn_fwd_shape(p, t, BN_SHAPES[i][0], BN_SHAPES[i][1]);
  bn_fwd_empty(p, t);
}

static void bn_bwd_shape(od_pair *p, hs_dtype t, int rows, int cols) {
  for (int mode = HS_BN_BATCH; mode <= HS_BN_RUNNING; mode++)
    for (int ki = 0; ki < 2; ki++)
      for (int want = 0; want < 3; want++) { /* 0: dZ only, 1: all, 2: dgamma/dbeta only */
        int k = KS[ki];
        size_t ps = k == 1 ? cols : cols + 3, rc = (size_t)rows * cols;
        CASE(p, t, "bn_bwd %s %dx%d k=%d pstride=%zu %s", BN_NAME(mode), rows, cols, k, ps,
             want == 0 ? "dgamma/dbeta NULL" : want == 1 ? "all outputs" : "dZ NULL");
        od_buf xhat = buf_rand(p, rc, 0.01, 2), rstd = buf_pos(p, cols, 0.5, 2), gamma = buf_rand(p, cols, 0.2, 2);
        od_buf dY = buf_rand(p, rc * k, 0.05, 1);
        od_buf dZ = want == 2 ? buf_rand(p, rc * k, 0.05, 1) : buf_nan(p, rc * k);
        od_buf dg = buf_rand(p, ps * k, 0.05, 1), db = buf_rand(p, ps * k, 0.05, 1);
        RUN(p, be->ops->bn_bwd(be, t, mode, k, rows, cols, D(xhat), D(rstd), D(gamma), D(dY), want == 2 ? NULL : D(dZ),
                               want ? D(dg) : NULL, want ? D(db) : NULL, ps));
        buf_compare(&dZ, want == 2 ? "dZ (NULL: untouched)" : "dZ", want == 2 ? 0 : TOL_RED(t));
        buf_compare(&dg, "dgamma", TOL_RED(t));
        buf_compare(&db, "dbeta", TOL_RED(t));
        od_buf *all[] = {&xhat, &rstd, &gamma, &dY, &dZ, &dg, &db};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
      }
}
BN_CHECK(bn_bwd)

static void bn_rfwd_shape(od_pair *p, hs_dtype t, int rows, int cols) {
  for (int mode = HS_BN_BATCH; mode <= HS_BN_RUNNING; mode++)
    for (int ki = 0; ki < 2; ki++) {
      int k = KS[ki];
      size_t ps = k == 1 ? cols : cols + 3, rc = (size_t)rows * cols;
      CASE(p, t, "bn_rfwd %s %dx%d k=%d pstride=%zu", BN_NAME(mode), rows, cols, k, ps);
      od_buf xhat = buf_rand(p, rc, 0.01, 2), rstd = buf_pos(p, cols, 0.5, 2), gamma = buf_rand(p, cols, 0.2, 2);
      od_buf RZ = buf_rand(p, rc * k, 0.05, 1), Rg = buf_rand(p, ps * k, 0.05, 1), Rb = buf_rand(p, ps * k, 0.05, 1);
      od_buf RX = buf_nan(p, rc * k), RY = buf_nan(p, rc * k);
      RUN(p, be->ops->bn_rfwd(be, t, mode, k, rows, cols, D(xhat), D(rstd), D(gamma), D(RZ), D(Rg),
                              D(Rb), ps, D(RX), D(RY)));
      buf_compare(&RX, "RXhat", TOL_RED(t));
      buf_compare(&RY, "RY", TOL_RED(t));
      od_buf *all[] = {&xhat, &rstd, &gamma, &RZ, &Rg, &Rb, &RX, &RY};
      for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
    }
}
BN_CHECK(bn_rfwd)

static void bn_rbwd_extra_shape(od_pair *p, hs_dtype t, int rows, int cols) {
  for (int mode = HS_BN_BATCH; mode <= HS_BN_RUNNING; mode++)
    for (int ki = 0; ki < 2; ki++) {
      int k = KS[ki];
      size_t ps = k == 1 ? cols : cols + 3, rc = (size_t)rows * cols;
      CASE(p, t, "bn_rbwd_extra %s %dx%d k=%d pstride=%zu", BN_NAME(mode), rows, cols, k, ps);
      od_buf xhat = buf_rand(p, rc, 0.01, 2), rstd = buf_pos(p, cols, 0.5, 2), gamma = buf_rand(p, cols, 0.2, 2);
      od_buf dY = buf_rand(p, rc, 0.05, 1), dZ = buf_rand(p, rc, 0.05, 1);
      od_buf RZ = buf_rand(p, rc * k, 0.05, 1), RX = buf_rand(p, rc * k, 0.05, 1), Rg = buf_rand(p, ps * k, 0.05, 1);
      od_buf RdZ = buf_rand(p, rc * k, 0.05, 1), Rdg = buf_rand(p, ps * k, 0.05, 1);
      RUN(p, be->ops->bn_rbwd_extra(be, t, mode, k, rows, cols, D(xhat), D(rstd), D(gamma), D(dY), D(dZ),
                                    D(RZ), D(RX), D(Rg), ps, D(RdZ), D(Rdg)));
      buf_compare(&RdZ, "RdZ", TOL_RED(t));
      buf_compare(&Rdg, "Rdgamma", TOL_RED(t));
      /* RdZ NULL: the parameter term alone, RdZ's memory untouched */
      od_buf RdZ2 = buf_rand(p, rc * k, 0.05, 1), Rdg2 = buf_rand(p, ps * k, 0.05, 1);
      RUN(p, be->ops->bn_rbwd_extra(be, t, mode, k, rows, cols, D(xhat), D(rstd), D(gamma), D(dY), D(dZ),
                                    D(RZ), D(RX), D(Rg), ps, NULL, D(Rdg2)));
      buf_compare(&RdZ2, "RdZ (NULL: untouched)", 0);
      buf_compare(&Rdg2, "Rdgamma (RdZ NULL)", TOL_RED(t));
      buf_free(&RdZ2);
      buf_free(&Rdg2);
      od_buf *all[] = {&xhat, &rstd, &gamma, &dY, &dZ, &RZ, &RX, &Rg, &RdZ, &Rdg};
      for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
    }
}
BN_CHECK(bn_rbwd_extra)

/* ================================ convolution and pooling ================================ */

/* int32 buffers (argmax) on both sides with guard bands, like od_buf. */
#define OD_ISENTINEL 0x5A5A5A5A
#define OD_IPOISON (-77) /* an argmax no window has: must be overwritten (max) or kept (avg) */

typedef struct {
  od_pair *p;
  size_t n;
  int32_t *d[2]; /* n + 2*OD_GUARD elements */
  int32_t *h;    /* the initial payload */
} od_ibuf;

/* Takes ownership of v (n values). */
static od_ibuf ibuf_from(od_pair *p, size_t n, int32_t *v) {
  od_ibuf b = {p, n, {NULL, NULL}, v};
  size_t tot = n + 2 * OD_GUARD;
  int32_t *stage = malloc(tot * 4);
  cr_assert(stage != NULL);
  for (size_t i = 0; i < tot; i++) stage[i] = i < OD_GUARD || i >= OD_GUARD + n ? OD_ISENTINEL : v[i - OD_GUARD];
  for (int s = 0; s < 2; s++) {
    hs_backend *be = p->be[s];
    hs_status st = be->ops->alloc(be, tot * 4, (void **)&b.d[s]);
    OD_ASSERT(p, st == HS_OK, "%s alloc: %s", be->ops->name, be->errmsg);
    st = be->ops->upload(be, b.d[s], stage, tot * 4);
    OD_ASSERT(p, st == HS_OK, "%s upload: %s", be->ops->name, be->errmsg);
  }
  free(stage);
  return b;
}
static od_ibuf ibuf_poison(od_pair *p, size_t n) {
  int32_t *v = malloc((n + 1) * 4);
  cr_assert(v != NULL);
  for (size_t i = 0; i < n; i++) v[i] = OD_IPOISON;
  return ibuf_from(p, n, v);
}
#define DI(b) ((b).d[s] + OD_GUARD)

/* Downloads side s, checks its guards, returns the payload (caller frees). */
static int32_t *ibuf_get(od_ibuf *b, int s, const char *what) {
  od_pair *p = b->p;
  hs_backend *be = p->be[s];
  size_t tot = b->n + 2 * OD_GUARD;
  int32_t *stage = malloc(tot * 4), *v = malloc((b->n + 1) * 4);
  cr_assert(stage != NULL && v != NULL);
  hs_status st = be->ops->download(be, stage, b->d[s], tot * 4);
  OD_ASSERT(p, st == HS_OK, "%s download of %s: %s", be->ops->name, what, be->errmsg);
  for (size_t i = 0; i < OD_GUARD; i++) {
    OD_ASSERT(p, stage[i] == OD_ISENTINEL, "%s wrote outside %s: guard element -%zu changed", be->ops->name, what,
              OD_GUARD - i);
    OD_ASSERT(p, stage[OD_GUARD + b->n + i] == OD_ISENTINEL, "%s wrote outside %s: guard element +%zu changed",
              be->ops->name, what, i + 1);
  }
  memcpy(v, stage + OD_GUARD, b->n * 4);
  free(stage);
  return v;
}
/* Both sides equal element for element; keep = 1: and equal to the initial payload. */
static void ibuf_compare(od_ibuf *b, const char *what, int keep) {
  od_pair *p = b->p;
  int32_t *r = ibuf_get(b, 0, what), *d = ibuf_get(b, 1, what);
  for (size_t i = 0; i < b->n; i++) {
    OD_ASSERT(p, d[i] == r[i], "%s %s[%zu] = %d, reference %d", DUT(p), what, i, (int)d[i], (int)r[i]);
    if (keep) OD_ASSERT(p, d[i] == b->h[i], "%s changed %s[%zu] (%d -> %d), which it must not write", DUT(p), what, i,
                        (int)b->h[i], (int)d[i]);
  }
  free(r);
  free(d);
}
static void ibuf_free(od_ibuf *b) {
  for (int s = 0; s < 2; s++) b->p->be[s]->ops->free(b->p->be[s], b->d[s]);
  free(b->h);
  memset(b, 0, sizeof *b);
}

/* The elements of b outside the (rows x cols) block with leading dimension ld are as they were
 * uploaded, on both sides (an op writing into a strided block must not touch the gaps). */
static void buf_gaps_kept(od_buf *b, const char *what, size_t rows, size_t cols, size_t ld) {
  od_pair *p = b->p;
  for (int s = 0; s < 2; s++) {
    double *v = buf_get(b, s, what);
    for (size_t r = 0; r < rows; r++)
      for (size_t c = cols; c < ld; c++) {
        size_t i = r * ld + c;
        OD_ASSERT(p, memcmp(&v[i], &b->h[i], sizeof v[i]) == 0, "%s wrote the gap %s[%zu][%zu]: %.17g -> %.17g",
                  p->be[s]->ops->name, what, r, c, b->h[i], v[i]);
      }
    free(v);
  }
}

/* Runs `call` on both backends and expects HS_E_INVALID from each (the checks are shared). */
#define RUN_INVALID(p, call)                                                                         \
  do {                                                                                             \
    for (int s = 0; s < 2; s++) {                                                                  \
      hs_backend *be = (p)->be[s];                                                                 \
      hs_status st_ = (call);                                                                      \
      OD_ASSERT(p, st_ == HS_E_INVALID, "%s accepted %s (status %s)", be->ops->name, #call,        \
                hs_status_string(st_));                                                            \
    }                                                                                              \
  } while (0)

typedef struct {
  int n, C, H, W, kh, kw, sh, sw, ph, pw;
} od_shape;

static hs_window od_win(const od_shape *s) {
  hs_window g = {.C = s->C, .H = s->H, .W = s->W, .kh = s->kh, .kw = s->kw, .sh = s->sh, .sw = s->sw,
                 .ph = s->ph, .pw = s->pw};
  g.Ho = (s->H + 2 * s->ph - s->kh) / s->sh + 1;
  g.Wo = (s->W + 2 * s->pw - s->kw) / s->sw + 1;
  return g;
}
#define OD_SHAPE_FMT "n=%d C=%d %dx%d kernel %dx%d stride %dx%d pad %dx%d"
#define OD_SHAPE_ARGS(s) (s)->n, (s)->C, (s)->H, (s)->W, (s)->kh, (s)->kw, (s)->sh, (s)->sw, (s)->ph, (s)->pw

/* Odd sizes: 3x3 pad 1; kh != kw with sh != sw and a column no window reads; a 1x1 stride-2
 * shortcut; a kernel larger than the input with padding 2; one past CPU_PAR_MIN (the 3-thread
 * CPU runs its parallel loops) that also spans many GPU blocks. */
static const od_shape CONV_CASES[] = {
    {3, 5, 11, 9, 3, 3, 1, 1, 1, 1}, {2, 3, 9, 8, 3, 2, 2, 1, 1, 0}, {3, 4, 7, 7, 1, 1, 2, 2, 0, 0},
    {2, 2, 3, 4, 5, 5, 3, 2, 2, 2},  {5, 8, 29, 29, 3, 3, 1, 1, 1, 1},
};
#define N_CONV_CASES (sizeof CONV_CASES / sizeof *CONV_CASES)

void od_check_im2col(od_pair *p, hs_dtype t) {
  for (size_t ci = 0; ci < N_CONV_CASES; ci++) {
    const od_shape *sh = &CONV_CASES[ci];
    hs_window g = od_win(sh);
    size_t CK = (size_t)g.C * g.kh * g.kw, nL = (size_t)sh->n * g.Ho * g.Wo, ldc = nL + 3;
    CASE(p, t, "im2col " OD_SHAPE_FMT " ldc=%zu", OD_SHAPE_ARGS(sh), ldc);
    od_buf X = buf_rand(p, (size_t)sh->n * g.C * g.H * g.W, 0.05, 1);
    double *cv = vals_rand(p, CK * ldc, 0.05, 1); /* gaps: random, must be kept */
    poison(cv, 0, (int)CK, (int)nL, ldc);
    od_buf cols = buf_from(p, CK * ldc, cv);
    RUN(p, be->ops->im2col(be, t, sh->n, g, D(X), D(cols), (long long)ldc));
    buf_compare(&cols, "cols", 0 /* a copy */);
    buf_gaps_kept(&cols, "cols", CK, nL, ldc);
    if (ci == 0) {
      RUN_INVALID(p, be->ops->im2col(be, t, sh->n, g, D(X), D(cols), (long long)nL - 1));
      hs_window bad = g;
      bad.Wo++;
      RUN_INVALID(p, be->ops->im2col(be, t, sh->n, bad, D(X), D(cols), (long long)ldc));
      RUN_INVALID(p, be->ops->im2col(be, (hs_dtype)7, sh->n, g, D(X), D(cols), (long long)ldc));
    }
    buf_free(&X);
    buf_free(&cols);
  }
}

void od_check_col2im(od_pair *p, hs_dtype t) {
  for (size_t ci = 0; ci < N_CONV_CASES; ci++) {
    const od_shape *sh = &CONV_CASES[ci];
    hs_window g = od_win(sh);
    size_t CK = (size_t)g.C * g.kh * g.kw, nL = (size_t)sh->n * g.Ho * g.Wo, ldc = nL + 2;
    CASE(p, t, "col2im " OD_SHAPE_FMT " ldc=%zu", OD_SHAPE_ARGS(sh), ldc);
    double *cv = vals_rand(p, CK * ldc, 0.05, 1);
    for (size_t r = 0; r < CK; r++) cv[r * ldc + nL] = cv[r * ldc + nL + 1] = NAN; /* gaps: never read */
    od_buf cols = buf_from(p, CK * ldc, cv), dX = buf_nan(p, (size_t)sh->n * g.C * g.H * g.W);
    RUN(p, be->ops->col2im(be, t, sh->n, g, D(cols), (long long)ldc, D(dX)));
    buf_compare(&dX, "dX", 0 /* EXACT */);
    if (ci == 0) {
      hs_window bad = g;
      bad.kh = 0;
      RUN_INVALID(p, be->ops->col2im(be, t, sh->n, bad, D(cols), (long long)ldc, D(dX)));
      RUN_INVALID(p, be->ops->col2im(be, t, sh->n, g, D(cols), (long long)ldc, NULL));
    }
    buf_free(&cols);
    buf_free(&dX);
  }
}

void od_check_transpose(od_pair *p, hs_dtype t) {
  /* channels last (inner 1, several 32 x 32 GPU tiles and partial ones), output major
   * (batch 1, inner L), S = 1, and one past CPU_PAR_MIN */
  static const int TC[][4] = {{3, 5, 37, 1}, {1, 4, 7, 13}, {2, 70, 45, 1}, {3, 33, 1, 1}, {2, 3, 5, 129}, {7, 64, 80, 1}};
  for (size_t c = 0; c < sizeof TC / sizeof *TC; c++) {
    int batch = TC[c][0], R = TC[c][1], S = TC[c][2], inner = TC[c][3];
    size_t n = (size_t)batch * R * S * inner;
    CASE(p, t, "transpose batch=%d R=%d S=%d inner=%d", batch, R, S, inner);
    od_buf src = buf_rand(p, n, 0.05, 1), dst = buf_nan(p, n);
    RUN(p, be->ops->transpose(be, t, batch, R, S, inner, D(src), D(dst)));
    buf_compare(&dst, "dst", 0 /* a copy */);
    double *v = buf_get(&dst, 1, "dst"); /* and the index formula of backend.h, on the backend under test */
    for (int b = 0; b < batch; b++)
      for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
          for (int e = 0; e < inner; e++) {
            size_t di = (((size_t)b * S + s) * R + r) * inner + e, si = (((size_t)b * R + r) * S + s) * inner + e;
            OD_ASSERT(p, v[di] == src.h[si], "%s dst[%zu] = %.17g is not src[%zu] = %.17g", DUT(p), di, v[di], si,
                      src.h[si]);
          }
    free(v);
    if (c == 0) /* dst overlapping src */
      RUN_INVALID(p, be->ops->transpose(be, t, batch, R, S, inner, D(src), hs_dptr(D(src), t, 1)));
    buf_free(&src);
    buf_free(&dst);
  }
}

/* Windows that do not divide the input (7x7 kernel 3 stride 2, 5x5 kernel 2 stride 2), kh != kw
 * with sh != sw, kernel 1x1 at stride 1 and 2, overlapping windows (kernel 3 stride 1), and one
 * past CPU_PAR_MIN. */
static const od_shape POOL_CASES[] = {
    {2, 3, 7, 7, 3, 3, 2, 2, 0, 0}, {3, 2, 5, 5, 2, 2, 2, 2, 0, 0}, {2, 3, 9, 11, 2, 3, 1, 2, 0, 0},
    {2, 2, 6, 5, 1, 1, 1, 1, 0, 0}, {2, 4, 8, 7, 1, 1, 2, 2, 0, 0}, {1, 3, 6, 9, 3, 3, 1, 1, 0, 0},
    {6, 8, 31, 31, 3, 3, 2, 2, 0, 0},
};
#define N_POOL_CASES (sizeof POOL_CASES / sizeof *POOL_CASES)
static const char *POOL_NAME(int mode) { return mode == HS_POOL_AVG ? "avg" : "max"; }

/* A random argmax inside each window of n*C planes (windows overlap: several may pick one
 * element, which exercises pool_bwd's sums). */
static int32_t *argmax_rand(od_pair *p, size_t planes, const hs_window *g) {
  size_t L = (size_t)g->Ho * g->Wo;
  int32_t *a = malloc((planes * L + 1) * 4);
  cr_assert(a != NULL);
  for (size_t pl = 0; pl < planes; pl++)
    for (int oy = 0; oy < g->Ho; oy++)
      for (int ox = 0; ox < g->Wo; ox++) {
        uint64_t r = hs_rng_bits(p->seed, HS_STREAM_TEST, p->draws++);
        int i = (int)(r % (uint64_t)g->kh), j = (int)((r >> 24) % (uint64_t)g->kw);
        a[pl * L + (size_t)oy * g->Wo + ox] = (oy * g->sh + i) * g->W + ox * g->sw + j;
      }
  return a;
}

/* input: 0 random, 1 ties (values from {-1, -0.5, 0.5, 1}), 2 random with NaNs */
static void pool_fwd_case(od_pair *p, hs_dtype t, int mode, const od_shape *sh, int input) {
  static const char *IN[] = {"random", "ties", "NaNs"};
  hs_window g = od_win(sh);
  size_t nx = (size_t)sh->n * g.C * g.H * g.W, ny = (size_t)sh->n * g.C * g.Ho * g.Wo;
  CASE(p, t, "pool_fwd %s %s " OD_SHAPE_FMT, POOL_NAME(mode), IN[input], OD_SHAPE_ARGS(sh));
  double *x = vals_rand(p, nx, 0.05, 1);
  if (input == 1)
    for (size_t i = 0; i < nx; i++) x[i] = x[i] < 0 ? (x[i] < -0.5 ? -1 : -0.5) : (x[i] > 0.5 ? 1 : 0.5);
  if (input == 2)
    for (size_t i = 0; i < nx; i += 7) x[i] = NAN;
  od_buf X = buf_from(p, nx, x), Y = buf_nan(p, ny);
  od_ibuf am = ibuf_poison(p, ny);
  RUN(p, be->ops->pool_fwd(be, t, mode, sh->n, g, D(X), D(Y), DI(am)));
  if (input != 2) {
    buf_compare(&Y, "Y", 0 /* EXACT */);
  } else { /* NaN where the reference has NaN (a window holding one), equal bits elsewhere */
    double *r = buf_get(&Y, 0, "Y"), *d = buf_get(&Y, 1, "Y");
    size_t nans = 0;
    for (size_t i = 0; i < ny; i++) {
      nans += isnan(r[i]) != 0;
      OD_ASSERT(p, isnan(r[i]) ? isnan(d[i]) : d[i] == r[i], "%s Y[%zu] = %.17g, reference %.17g", DUT(p), i, d[i], r[i]);
    }
    OD_ASSERT(p, nans > 0, "reference max pooling does not propagate NaN");
    free(r);
    free(d);
  }
  ibuf_compare(&am, "argmax", mode == HS_POOL_AVG /* avg must not write it */);
  if (mode == HS_POOL_AVG) {
    RUN(p, be->ops->pool_fwd(be, t, mode, sh->n, g, D(X), D(Y), NULL));
    buf_compare(&Y, "Y (argmax NULL)", 0);
  }
  buf_free(&X);
  buf_free(&Y);
  ibuf_free(&am);
}

void od_check_pool_fwd(od_pair *p, hs_dtype t) {
  for (size_t ci = 0; ci < N_POOL_CASES; ci++) {
    pool_fwd_case(p, t, HS_POOL_AVG, &POOL_CASES[ci], 0);
    for (int input = 0; input < 3; input++) pool_fwd_case(p, t, HS_POOL_MAX, &POOL_CASES[ci], input);
  }
  /* the shared argument checks: padding, a wrong Ho, max without argmax, an unknown mode */
  const od_shape *sh = &POOL_CASES[0];
  hs_window g = od_win(sh), pad = g, badho = g;
  pad.ph = 1, pad.Ho = (g.H + 2 - g.kh) / g.sh + 1;
  badho.Ho++;
  CASE(p, t, "pool_fwd invalid arguments " OD_SHAPE_FMT, OD_SHAPE_ARGS(sh));
  od_buf X = buf_rand(p, (size_t)sh->n * g.C * g.H * g.W, 0.05, 1), Y = buf_nan(p, (size_t)sh->n * g.C * pad.Ho * g.Wo);
  od_ibuf am = ibuf_poison(p, (size_t)sh->n * g.C * pad.Ho * g.Wo);
  RUN_INVALID(p, be->ops->pool_fwd(be, t, HS_POOL_AVG, sh->n, pad, D(X), D(Y), NULL));
  RUN_INVALID(p, be->ops->pool_fwd(be, t, HS_POOL_AVG, sh->n, badho, D(X), D(Y), NULL));
  RUN_INVALID(p, be->ops->pool_fwd(be, t, HS_POOL_MAX, sh->n, g, D(X), D(Y), NULL));
  RUN_INVALID(p, be->ops->pool_fwd(be, t, 2, sh->n, g, D(X), D(Y), DI(am)));
  buf_free(&X);
  buf_free(&Y);
  ibuf_free(&am);
}

void od_check_pool_rfwd(od_pair *p, hs_dtype t) {
  for (size_t ci = 0; ci < N_POOL_CASES; ci++)
    for (int mode = HS_POOL_AVG; mode <= HS_POOL_MAX; mode++)
      for (int ki = 0; ki < 2; ki++) {
        const od_shape *sh = &POOL_CASES[ci];
        hs_window g = od_win(sh);
        int k = KS[ki];
        size_t planes = (size_t)sh->n * g.C, nx = planes * g.H * g.W, ny = planes * g.Ho * g.Wo;
        CASE(p, t, "pool_rfwd %s k=%d " OD_SHAPE_FMT, POOL_NAME(mode), k, OD_SHAPE_ARGS(sh));
        od_ibuf am = ibuf_from(p, ny, argmax_rand(p, planes, &g));
        od_buf RX = buf_rand(p, nx * k, 0.05, 1), RY = buf_nan(p, ny * k);
        RUN(p, be->ops->pool_rfwd(be, t, mode, k, sh->n, g, mode == HS_POOL_MAX ? DI(am) : NULL, D(RX), D(RY)));
        buf_compare(&RY, "RY", 0 /* EXACT */);
        ibuf_compare(&am, "argmax (input)", 1);
        buf_free(&RX);
        buf_free(&RY);
        ibuf_free(&am);
      }
}

void od_check_pool_bwd(od_pair *p, hs_dtype t) {
  for (size_t ci = 0; ci < N_POOL_CASES; ci++)
    for (int mode = HS_POOL_AVG; mode <= HS_POOL_MAX; mode++)
      for (int ki = 0; ki < 2; ki++) {
        const od_shape *sh = &POOL_CASES[ci];
        hs_window g = od_win(sh);
        int k = KS[ki];
        size_t planes = (size_t)sh->n * g.C, nx = planes * g.H * g.W, ny = planes * g.Ho * g.Wo;
        CASE(p, t, "pool_bwd %s k=%d " OD_SHAPE_FMT, POOL_NAME(mode), k, OD_SHAPE_ARGS(sh));
        od_ibuf am = ibuf_from(p, ny, argmax_rand(p, planes, &g));
        od_buf dY = buf_rand(p, ny * k, 0.05, 1), dX = buf_nan(p, nx * k);
        RUN(p, be->ops->pool_bwd(be, t, mode, k, sh->n, g, mode == HS_POOL_MAX ? DI(am) : NULL, D(dY), D(dX)));
        buf_compare(&dX, "dX", 0 /* EXACT */);
        buf_free(&dY);
        buf_free(&dX);
        ibuf_free(&am);
      }
}

/* ================================ losses ================================ */

/* C = 10 (one column per lane) and C = 67 (several sweeps of a warp) */
static const int CS[] = {10, 67};
#define LOSS_ROWS 37

void od_check_ce_fwd(od_pair *p, hs_dtype t) {
  const int rows = LOSS_ROWS;
  for (int ci = 0; ci < 2; ci++) {
    int C = CS[ci];
    CASE(p, t, "ce_fwd rows=%d C=%d", rows, C);
    int32_t *y = labels_rand(p, rows, C);
    od_labels L = labels_new(p, rows, y);
    od_buf F = buf_rand(p, (size_t)rows * C, 0.01, 4), P = buf_nan(p, (size_t)rows * C);
    double loss[2];
    RUN(p, be->ops->ce_fwd(be, t, rows, C, D(F), L.d[s], D(P), &loss[s]));
    buf_compare(&P, "P", TOL_ACT(t));
    double scale = 0; /* sum of |row loss| bounds the conditioning: losses are >= 0 */
    for (int r = 0; r < rows; r++) scale += fabs(F.h[(size_t)r * C + y[r]]) + log((double)C) + 8;
    scalar_compare(p, "ce loss_sum", loss[0], loss[1], scale, TOL_SUM * 100 /* exp/log ulps */);
    /* a label out of range is refused by both */
    y[rows / 2] = C;
    od_labels bad = labels_new(p, rows, y);
    for (int s = 0; s < 2; s++) {
      hs_backend *be = p->be[s];
      hs_status st = be->ops->ce_fwd(be, t, rows, C, D(F), bad.d[s], D(P), &loss[s]);
      OD_ASSERT(p, (st) == (HS_E_INVALID), "%s accepted label %d with C=%d", be->ops->name, C, C);
    }
    labels_free(&bad);
    labels_free(&L);
    free(y);
    buf_free(&F);
    buf_free(&P);
  }
}

void od_check_ce_bwd(od_pair *p, hs_dtype t) {
  const int rows = LOSS_ROWS;
  for (int ci = 0; ci < 2; ci++) {
    int C = CS[ci];
    CASE(p, t, "ce_bwd rows=%d C=%d", rows, C);
    int32_t *y = labels_rand(p, rows, C);
    od_labels L = labels_new(p, rows, y);
    od_buf P = buf_pos(p, (size_t)rows * C, 0.001, 1), dF = buf_nan(p, (size_t)rows * C);
    RUN(p, be->ops->ce_bwd(be, t, rows, C, D(P), L.d[s], 1.0 / rows, D(dF)));
    buf_compare(&dF, "dF", TOL_EW(t));
    labels_free(&L);
    /* a label outside [0, C) is refused, as ce_fwd refuses it */
    for (int bad = 0; bad < 2; bad++) {
      CASE(p, t, "ce_bwd rows=%d C=%d, label %s at row %d", rows, C, bad ? "C" : "-1", rows / 2);
      y[rows / 2] = bad ? C : -1;
      od_labels B = labels_new(p, rows, y);
      RUN_FAILS(p, HS_E_INVALID, be->ops->ce_bwd(be, t, rows, C, D(P), B.d[s], 1.0 / rows, D(dF)));
      labels_free(&B);
    }
    free(y);
    buf_free(&P);
    buf_free(&dF);
  }
}

void od_check_ce_rop(od_pair *p, hs_dtype t) {
  const int rows = LOSS_ROWS;
  for (int ci = 0; ci < 2; ci++)
    for (int ki = 0; ki < 2; ki++) {
      int C = CS[ci], k = KS[ki];
      CASE(p, t, "ce_rop k=%d rows=%d C=%d", k, rows, C);
      od_buf P = buf_pos(p, (size_t)rows * C, 0.001, 1), RF = buf_rand(p, (size_t)k * rows * C, 0.05, 1);
      od_buf RdF = buf_nan(p, (size_t)k * rows * C);
      RUN(p, be->ops->ce_rop(be, t, k, rows, C, D(P), D(RF), 0.3, D(RdF)));
      buf_compare(&RdF, "RdF", TOL_RED(t));
      buf_free(&P);
      buf_free(&RF);
      buf_free(&RdF);
    }
}

void od_check_ce_correct(od_pair *p, hs_dtype t) {
  const int rows = 203;
  for (int ci = 0; ci < 2; ci++) {
    int C = CS[ci];
    CASE(p, t, "ce_correct rows=%d C=%d", rows, C);
    int32_t *y = labels_rand(p, rows, C);
    double *f = vals_rand(p, (size_t)rows * C, 0.01, 4);
    /* rows 4i: label is the unique max; 4i+1: a tie before the label (the first maximum is
     * another column: wrong); 4i+2: a tie after the label (right); 4i+3: random */
    size_t expect = 0;
    for (int r = 0; r < rows; r++) {
      double *fr = f + (size_t)r * C;
      int lab = y[r], other = (lab + 1 + r % (C - 1)) % C; /* != lab */
      int lo = lab < other ? lab : other, hi = lab < other ? other : lab;
      if (r % 4 == 0) fr[lab] = 5; /* random values are below 5 */
      if (r % 4 == 1) fr[lo] = fr[hi] = 5, y[r] = hi;
      if (r % 4 == 2) fr[lo] = fr[hi] = 5, y[r] = lo;
      int am = 0;
      for (int c = 1; c < C; c++)
        if ((t == HS_F64 ? fr[c] : (double)(float)fr[c]) > (t == HS_F64 ? fr[am] : (double)(float)fr[am])) am = c;
      expect += am == y[r];
    }
    od_labels L = labels_new(p, rows, y);
    od_buf F = buf_from(p, (size_t)rows * C, f);
    size_t got[2];
    RUN(p, be->ops->ce_correct(be, t, rows, C, D(F), L.d[s], &got[s]));
    OD_ASSERT(p, (got[0]) == (expect), "reference: %zu correct, expected %zu", got[0], expect);
    OD_ASSERT(p, (got[1]) == (expect), "%s: %zu correct, expected %zu", DUT(p), got[1], expect);
    labels_free(&L);
    free(y);
    buf_free(&F);
  }
}

void od_check_mse_fwd_bwd(od_pair *p, hs_dtype t) {
  const int rows = LOSS_ROWS, C = 7;
  for (int want = 0; want < 2; want++) {
    CASE(p, t, "mse_fwd_bwd rows=%d C=%d dF %s", rows, C, want ? "wanted" : "NULL");
    size_t n = (size_t)rows * C;
    od_buf F = buf_rand(p, n, 0.05, 2), T = buf_rand(p, n, 0.05, 2), dF = buf_nan(p, n);
    double loss[2], scale = 0;
    RUN(p, be->ops->mse_fwd_bwd(be, t, rows, C, D(F), D(T), 1.0 / rows, &loss[s], want ? D(dF) : NULL));
    for (size_t i = 0; i < n; i++) scale += 0.5 * (F.h[i] - T.h[i]) * (F.h[i] - T.h[i]);
    scalar_compare(p, "mse loss_sum", loss[0], loss[1], scale, TOL_SUM);
    if (want) buf_compare(&dF, "dF", TOL_EW(t));
    buf_free(&F);
    buf_free(&T);
    buf_free(&dF);
  }
}

/* ================================ eigendecomposition ================================ */

static void syev_case(od_pair *p, hs_dtype t, int n) {
  CASE(p, t, "syev n=%d", n);
  double *a = malloc((size_t)n * n * sizeof *a + 8);
  cr_assert(a != NULL);
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) a[(size_t)i * n + j] = a[(size_t)j * n + i] = draw(p, 0.01, 1);
  /* the symmetric matrix the op must see (the upper triangle, row-major), kept before junk is
   * written into the strict lower triangle, which the op must not read */
  double *sym = malloc((size_t)n * n * sizeof *sym + 8);
  cr_assert(sym != NULL);
  memcpy(sym, a, (size_t)n * n * sizeof *sym);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++) a[(size_t)i * n + j] = 100 + draw(p, 0.01, 1);
  od_buf A = buf_from(p, (size_t)n * n, a), w = buf_nan(p, (size_t)n);
  if (t == HS_F32)
    for (size_t i = 0; i < (size_t)n * n; i++) sym[i] = (float)sym[i];
  RUN(p, be->ops->syev(be, t, n, D(A), D(w)));
  double *wr = buf_get(&w, 0, "w"), *wd = buf_get(&w, 1, "w");
  double *vr = buf_get(&A, 0, "A"), *vd = buf_get(&A, 1, "A");
  double anorm = 0;
  for (int i = 0; i < n; i++) anorm = fmax(anorm, fabs(wr[i]));
  const double eps = t == HS_F64 ? 2.2e-16 : 1.2e-7;
  const double tol_w = 50 * n * eps, tol_res = 50 * n * eps, tol_orth = 50 * n * eps;
  for (int i = 0; i < n; i++) {
    OD_ASSERT(p, isfinite(wd[i]), "%s w[%d] = %g", DUT(p), i, wd[i]);
    OD_ASSERT(p, fabs(wd[i] - wr[i]) <= tol_w * anorm, "%s w[%d] = %.17g vs reference %.17g",
              DUT(p), i, wd[i], wr[i]);
    if (i) OD_ASSERT(p, wd[i] >= wd[i - 1], "%s eigenvalues not ascending at %d", DUT(p), i);
  }
  for (int i = 0; i < n; i++) {
    const double *v = vd + (size_t)i * n, *u = vr + (size_t)i * n;
    /* residual ||A v - w v||_inf against the original matrix (A.h) */
    double res = 0;
    for (int r = 0; r < n; r++) {
      double s = 0;
      for (int c = 0; c < n; c++) s += sym[(size_t)r * n + c] * v[c];
      res = fmax(res, fabs(s - wd[i] * v[r]));
    }
    OD_ASSERT(p, res <= tol_res * anorm, "%s eigenpair %d: residual %.3g > %.3g", DUT(p), i, res, tol_res * anorm);
    for (int j = 0; j <= i; j++) {
      double d = 0;
      for (int c = 0; c < n; c++) d += v[c] * vd[(size_t)j * n + c];
      OD_ASSERT(p, fabs(d - (i == j)) <= tol_orth, "%s eigenvectors %d, %d: <vi,vj> = %.3g", DUT(p), i, j, d);
    }
    double gap = INFINITY;
    if (i > 0) gap = fmin(gap, wr[i] - wr[i - 1]);
    if (i < n - 1) gap = fmin(gap, wr[i + 1] - wr[i]);
    if (gap > 1e-2 * anorm) {
      double d = 0, diff = 0;
      for (int c = 0; c < n; c++) d += u[c] * v[c];
      double sgn = d < 0 ? -1 : 1;
      for (int c = 0; c < n; c++) diff = fmax(diff, fabs(sgn * v[c] - u[c]));
      double tol_v = 50 * n * eps * anorm / gap;
      OD_ASSERT(p, diff <= tol_v, "%s eigenvector %d differs from the reference by %.3g > %.3g (gap %.3g)",
                DUT(p), i, diff, tol_v, gap);
    }
  }
  free(wr);
  free(wd);
  free(vr);
  free(vd);
  free(sym);
  buf_free(&A);
  buf_free(&w);
}

void od_check_syev(od_pair *p, hs_dtype t) {
  syev_case(p, t, 1);
  syev_case(p, t, 6);
  syev_case(p, t, 37);
}

/* ================================ training ================================ */

void od_check_sgd_step(od_pair *p, hs_dtype t) {
  const size_t n = 1001;
  /* plain; momentum (first step); momentum + dampening; Nesterov; all with weight decay or not */
  static const struct { double mom, damp, wd; int nesterov, first; } C[] = {
      {0, 0, 0, 0, 0}, {0.9, 0, 0, 0, 1}, {0.9, 0.1, 0.01, 0, 0}, {0.8, 0, 0.02, 1, 0}};
  for (size_t c = 0; c < sizeof C / sizeof *C; c++) {
    CASE(p, t, "sgd_step momentum=%g dampening=%g wd=%g nesterov=%d first=%d", C[c].mom, C[c].damp, C[c].wd,
         C[c].nesterov, C[c].first);
    od_buf g = buf_rand(p, n, 0.05, 1), buf = buf_rand(p, n, 0.05, 1), th = buf_rand(p, n, 0.05, 1);
    RUN(p, be->ops->sgd_step(be, t, n, 0.05, C[c].mom, C[c].damp, C[c].nesterov, C[c].wd, C[c].first, D(g),
                             C[c].mom != 0 ? D(buf) : NULL, D(th)));
    buf_compare(&th, "theta", TOL_EW(t));
    buf_compare(&buf, "buf", TOL_EW(t));
    buf_free(&g);
    buf_free(&buf);
    buf_free(&th);
  }
}

void od_check_adam_step(od_pair *p, hs_dtype t) {
  const size_t n = 1001;
  for (int wd = 0; wd < 2; wd++) {
    CASE(p, t, "adam_step step 3 wd=%g", wd ? 0.01 : 0.0);
    const double b1 = 0.9, b2 = 0.999, step = 3;
    od_buf g = buf_rand(p, n, 0.05, 1), m = buf_rand(p, n, 0.01, 0.5), v = buf_pos(p, n, 1e-4, 0.5);
    od_buf th = buf_rand(p, n, 0.05, 1);
    RUN(p, be->ops->adam_step(be, t, n, b1, b2, 1e-8, wd ? 0.01 : 0.0, 1e-3 / (1 - pow(b1, step)),
                              sqrt(1 - pow(b2, step)), D(g), D(m), D(v), D(th)));
    /* sqrt and a division per element: libm ulps */
    buf_compare(&m, "m", TOL_EW(t));
    buf_compare(&v, "v", TOL_EW(t));
    buf_compare(&th, "theta", TOL_ACT(t));
    buf_free(&g);
    buf_free(&m);
    buf_free(&v);
    buf_free(&th);
  }
}

void od_check_bn_running_update(od_pair *p, hs_dtype t) {
  const int rows = 37, cols = 45;
  CASE(p, t, "bn_running_update rows=%d cols=%d", rows, cols);
  od_buf mean = buf_rand(p, cols, 0.05, 2), rstd = buf_pos(p, cols, 0.5, 2);
  od_buf rm = buf_rand(p, cols, 0.05, 1), rv = buf_pos(p, cols, 0.3, 2);
  RUN(p, be->ops->bn_running_update(be, t, rows, cols, 0.1, D(mean), D(rstd), D(rm), D(rv)));
  buf_compare(&rm, "run_mean", TOL_EW(t));
  buf_compare(&rv, "run_var", TOL_EW(t));
  buf_free(&mean);
  buf_free(&rstd);
  buf_free(&rm);
  buf_free(&rv);
}

/* ================================ determinism ================================ */

/* Each backend, run twice on the same inputs, gives the same bits: the host-bound sums (dot,
 * nrm2, loss sums) and the column reductions (col_sum over several GPU row chunks, batch-norm
 * statistics). */
void od_check_repeat(od_pair *p, hs_dtype t) {
  const size_t n = 100003;
  const int rows = 1030, cols = 45, k = 3;
  CASE(p, t, "repeat: dot, nrm2, mse loss, col_sum, bn_fwd twice");
  od_buf x = buf_rand(p, n, 0.01, 1), y = buf_rand(p, n, 0.01, 1);
  od_buf X = buf_rand(p, (size_t)k * rows * cols, 0.05, 1), out = buf_rand(p, (size_t)k * cols, 0.05, 1);
  od_buf gamma = buf_rand(p, cols, 0.2, 2), beta = buf_rand(p, cols, 0.05, 1), Y = buf_nan(p, (size_t)rows * cols);
  for (int s = 0; s < 2; s++) {
    hs_backend *be = p->be[s];
    double a[2], b[2], l[2];
    double *cs[2], *bn[2];
    for (int rep = 0; rep < 2; rep++) {
      OD_ASSERT(p, be->ops->dot(be, t, n, D(x), D(y), &a[rep]) == HS_OK, "%s dot: %s", be->ops->name, be->errmsg);
      OD_ASSERT(p, be->ops->nrm2(be, t, n, D(x), &b[rep]) == HS_OK, "%s nrm2: %s", be->ops->name, be->errmsg);
      OD_ASSERT(p, be->ops->mse_fwd_bwd(be, t, (int)(n / 7), 7, D(x), D(y), 1.0, &l[rep], NULL) == HS_OK,
                "%s mse: %s", be->ops->name, be->errmsg);
      /* out back to its initial values, then += the column sums */
      size_t bytes = out.n * esz(t);
      void *stage = malloc(bytes);
      for (size_t i = 0; i < out.n; i++) put(t, stage, i, out.h[i]);
      OD_ASSERT(p, be->ops->upload(be, D(out), stage, bytes) == HS_OK, "upload");
      free(stage);
      OD_ASSERT(p, be->ops->col_sum(be, t, k, rows, cols, D(X), D(out), cols) == HS_OK, "%s col_sum: %s",
                be->ops->name, be->errmsg);
      cs[rep] = buf_get(&out, s, "out");
      OD_ASSERT(p, be->ops->bn_fwd(be, t, HS_BN_BATCH, rows, cols, D(X), D(gamma), D(beta), NULL, NULL, NULL, NULL,
                                   NULL, D(Y)) == HS_OK, "%s bn_fwd: %s", be->ops->name, be->errmsg);
      bn[rep] = buf_get(&Y, s, "Y");
    }
    OD_ASSERT(p, memcmp(&a[0], &a[1], sizeof a[0]) == 0, "%s dot not repeatable: %.17g vs %.17g", be->ops->name, a[0], a[1]);
    OD_ASSERT(p, memcmp(&b[0], &b[1], sizeof b[0]) == 0, "%s nrm2 not repeatable: %.17g vs %.17g", be->ops->name, b[0], b[1]);
    OD_ASSERT(p, memcmp(&l[0], &l[1], sizeof l[0]) == 0, "%s mse loss not repeatable: %.17g vs %.17g", be->ops->name, l[0], l[1]);
    OD_ASSERT(p, memcmp(cs[0], cs[1], out.n * sizeof(double)) == 0, "%s col_sum not repeatable", be->ops->name);
    OD_ASSERT(p, memcmp(bn[0], bn[1], Y.n * sizeof(double)) == 0, "%s bn_fwd not repeatable", be->ops->name);
    /* nrm2 is sqrt(dot(x, x)) bit for bit on both backends */
    double xx;
    OD_ASSERT(p, be->ops->dot(be, t, n, D(x), D(x), &xx) == HS_OK, "dot");
    OD_ASSERT(p, sqrt(xx) == b[0], "%s nrm2 %.17g != sqrt(dot(x, x)) %.17g", be->ops->name, b[0], sqrt(xx));
    for (int rep = 0; rep < 2; rep++) {
      free(cs[rep]);
      free(bn[rep]);
    }
  }
  od_buf *all[] = {&x, &y, &X, &out, &gamma, &beta, &Y};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
}

/* ================================ argument checks ================================ */

/* ---- calls the front end must refuse (src/backend/check.c) ----
 * Both backends go through the same argument checks, so a bad call is refused on both with
 * HS_E_INVALID and the same message, "<op>: <what>". Each check below also proves its own
 * coverage: every op of backend/ops.def is refused at least once (but those listed as having
 * nothing to refuse), so an op added to the list without a case here fails the check. */

static const char *const OP_NAMES[] = {
#define HS_OP(op, params, args) #op,
#include "backend/ops.def"
};
#define N_OPS (sizeof OP_NAMES / sizeof *OP_NAMES)

typedef struct {
  unsigned char hit[N_OPS];
} od_cover;

static void cover(od_pair *p, od_cover *c, const char *op) {
  for (size_t i = 0; i < N_OPS; i++)
    if (strcmp(OP_NAMES[i], op) == 0) {
      c->hit[i] = 1;
      return;
    }
  OD_ASSERT(p, 0, "%s is not an op of backend/ops.def", op);
}

/* Every op was refused at least once, except those in `exempt` (NULL-terminated). */
static void cover_check(od_pair *p, const od_cover *c, const char *const *exempt) {
  for (size_t i = 0; i < N_OPS; i++) {
    int ex = 0;
    for (const char *const *e = exempt; *e; e++) ex |= strcmp(*e, OP_NAMES[i]) == 0;
    OD_ASSERT(p, c->hit[i] || ex, "no case refuses a bad call of %s: add one", OP_NAMES[i]);
  }
}

/* be->ops->op args on both backends: both return HS_E_INVALID, with the same message, which
 * starts with "op: " and contains `want` (a fragment naming what is wrong). */
#define REJECT(p, cov, want, op, args)                                                           \
  do {                                                                                           \
    char msg_[2][sizeof(p)->be[0]->errmsg];                                                      \
    for (int s = 0; s < 2; s++) {                                                                \
      hs_backend *be = (p)->be[s];                                                               \
      be->errmsg[0] = '\0';                                                                      \
      hs_status st_ = be->ops->op args;                                                          \
      OD_ASSERT(p, st_ == HS_E_INVALID, "%s: %s%s returned %s, not invalid input (%s)",          \
                be->ops->name, #op, #args, hs_status_string(st_), be->errmsg);                  \
      memcpy(msg_[s], be->errmsg, sizeof msg_[s]);                                               \
    }                                                                                            \
    OD_ASSERT(p, strcmp(msg_[0], msg_[1]) == 0, "%s%s: the messages differ: cpu '%s', %s '%s'",  \
              #op, #args, msg_[0], DUT(p), msg_[1]);                                             \
    OD_ASSERT(p, strncmp(msg_[0], #op ": ", strlen(#op ": ")) == 0 && strstr(msg_[0], want),     \
              "%s%s: message '%s' should be '%s: ...%s...'", #op, #args, msg_[0], #op, want);    \
    cover(p, cov, #op);                                                                          \
  } while (0)

/* Every op that takes a dtype refuses an unknown one on both backends (a GPU backend must not
 * run it as f32). Valid sizes and buffers otherwise, so that the dtype is the only thing
 * wrong. `t` only picks the buffers' element size here. */
void od_check_bad_dtype(od_pair *p, hs_dtype t) {
  const hs_dtype bad = (hs_dtype)7;
  CASE(p, t, "unknown dtype %d", (int)bad);
  od_buf a = buf_pos(p, 64, 0.5, 1), b = buf_pos(p, 64, 0.5, 1), c = buf_pos(p, 64, 0.5, 1);
  od_buf d = buf_pos(p, 64, 0.5, 1), e = buf_pos(p, 64, 0.5, 1);
  int32_t y0[4] = {0, 1, 0, 1}, am[4] = {0, 0, 0, 0};
  od_labels L = labels_new(p, 4, y0), A = labels_new(p, 4, am);
  hs_window g = {.C = 1, .H = 2, .W = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .ph = 0, .pw = 0, .Ho = 2, .Wo = 2};
  double out = 0;
  int flag = 0;
  size_t cnt = 0;
  const size_t n1[1] = {4};
  od_cover cov = {{0}};
#define BAD(op, args) REJECT(p, &cov, "unknown dtype 7", op, args)
  BAD(fill, (be, bad, 4, 1.0, D(a)));
  BAD(nonfinite, (be, bad, 4, D(a), &flag));
  BAD(gemm, (be, bad, HS_NOTRANS, HS_NOTRANS, 2, 2, 2, 1.0, D(a), 2, D(b), 2, 0.0, D(c), 2));
  BAD(gemm_batched, (be, bad, HS_NOTRANS, HS_NOTRANS, 2, 2, 2, 1.0, D(a), 2, 4, D(b), 2, 4, 0.0, D(c), 2, 4, 2));
  BAD(gemv, (be, bad, HS_NOTRANS, 2, 2, 1.0, D(a), 2, D(b), 0.0, D(c)));
  BAD(dot, (be, bad, 4, D(a), D(b), &out));
  BAD(nrm2, (be, bad, 4, D(a), &out));
  BAD(dots, (be, bad, 1, n1, (const void *const[]){D(a)}, (const void *const[]){D(b)}, &out));
  BAD(axpy, (be, bad, 4, 1.0, D(a), D(b)));
  BAD(scal, (be, bad, 4, 2.0, D(a)));
  BAD(bias_add, (be, bad, 1, 2, 2, D(a), 2, D(b)));
  BAD(col_sum, (be, bad, 1, 2, 2, D(a), D(b), 2));
  BAD(act_fwd, (be, bad, 2, 4, D(a), D(b)));
  BAD(act_deriv_mul, (be, bad, 2, 1, 4, D(a), D(b), D(c)));
  BAD(act_rbwd_extra, (be, bad, 2, 1, 4, D(a), D(b), D(c), D(d)));
  BAD(bn_fwd, (be, bad, HS_BN_BATCH, 2, 2, D(a), D(b), D(c), NULL, NULL, NULL, NULL, D(d), D(e)));
  BAD(bn_bwd, (be, bad, HS_BN_BATCH, 1, 2, 2, D(a), D(b), D(c), D(d), D(e), NULL, NULL, 2));
  BAD(bn_rfwd, (be, bad, HS_BN_BATCH, 1, 2, 2, D(a), D(b), D(c), D(d), NULL, NULL, 2, NULL, D(e)));
  BAD(bn_rbwd_extra, (be, bad, HS_BN_BATCH, 1, 2, 2, D(a), D(b), D(c), D(d), D(e), D(a), D(b), NULL, 2, D(e), NULL));
  BAD(im2col, (be, bad, 1, g, D(a), D(b), 4));
  BAD(col2im, (be, bad, 1, g, D(a), 4, D(b)));
  BAD(transpose, (be, bad, 1, 2, 2, 1, D(a), D(b)));
  BAD(pool_fwd, (be, bad, HS_POOL_MAX, 1, g, D(a), D(b), A.d[s]));
  BAD(pool_rfwd, (be, bad, HS_POOL_MAX, 1, 1, g, A.d[s], D(a), D(b)));
  BAD(pool_bwd, (be, bad, HS_POOL_MAX, 1, 1, g, A.d[s], D(a), D(b)));
  BAD(ce_fwd, (be, bad, 2, 2, D(a), L.d[s], D(b), &out));
  BAD(ce_bwd, (be, bad, 2, 2, D(a), L.d[s], 1.0, D(b)));
  BAD(ce_rop, (be, bad, 1, 2, 2, D(a), D(b), 1.0, D(c)));
  BAD(ce_correct, (be, bad, 2, 2, D(a), L.d[s], &cnt));
  BAD(mse_fwd_bwd, (be, bad, 2, 2, D(a), D(b), 1.0, &out, D(c)));
  BAD(syev, (be, bad, 2, D(a), D(b)));
  BAD(sgd_step, (be, bad, 4, 0.1, 0.0, 0.0, 0, 0.0, 1, D(a), NULL, D(b)));
  BAD(adam_step, (be, bad, 4, 0.9, 0.999, 1e-8, 0.0, 0.1, 1.0, D(a), D(b), D(c), D(d)));
  BAD(bn_running_update, (be, bad, 4, 2, 0.1, D(a), D(b), D(c), D(d)));
#undef BAD
  /* the ops without a dtype */
  cover_check(p, &cov, (const char *const[]){"alloc", "upload", "download", "copy", "sync", NULL});
  labels_free(&L);
  labels_free(&A);
  od_buf *all[] = {&a, &b, &c, &d, &e};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
}

/* One bad call per op (sync has nothing to refuse) with a valid dtype, one thing wrong: a
 * NULL that the sizes make necessary, a negative size, a leading dimension, stride or window
 * that does not fit, an unknown mode, transpose flag or activation, overlapping operands. The
 * CPU backend refused all of these before the front end existed; the CUDA backend did not
 * check most of them (a NULL, a small lda or an overlap reached the device). */
void od_check_bad_args(od_pair *p, hs_dtype t) {
  CASE(p, t, "bad arguments");
  od_buf a = buf_pos(p, 64, 0.5, 1), b = buf_pos(p, 64, 0.5, 1), c = buf_pos(p, 64, 0.5, 1);
  od_buf d = buf_pos(p, 64, 0.5, 1), e = buf_pos(p, 64, 0.5, 1);
  int32_t y0[4] = {0, 1, 0, 1}, am[4] = {0, 0, 0, 0};
  od_labels L = labels_new(p, 4, y0), A = labels_new(p, 4, am);
  const hs_window g = {.C = 1, .H = 2, .W = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .ph = 0, .pw = 0, .Ho = 2, .Wo = 2};
  hs_window g_ho = g, g_pad = g;
  g_ho.Ho = 3;   /* not (H - kh)/sh + 1 */
  g_pad.ph = 1;  /* pooling takes no padding */
  g_pad.Ho = 4;
  double out = 0, host[8] = {0};
  size_t cnt = 0;
  const size_t n1[1] = {4};
  od_cover cov = {{0}};
  REJECT(p, &cov, "ptr is NULL", alloc, (be, 8, NULL));
  REJECT(p, &cov, "NULL pointer for 8 bytes", upload, (be, NULL, host, 8));
  REJECT(p, &cov, "NULL pointer for 8 bytes", download, (be, host, NULL, 8));
  REJECT(p, &cov, "NULL pointer for 8 bytes", copy, (be, D(a), NULL, 8));
  REJECT(p, &cov, "x is NULL", fill, (be, t, 4, 1.0, NULL));
  REJECT(p, &cov, "leading dimension too small", gemm,
         (be, t, HS_NOTRANS, HS_NOTRANS, 2, 2, 3, 1.0, D(a), 2, D(b), 2, 0.0, D(c), 2));
  REJECT(p, &cov, "negative stride", gemm_batched,
         (be, t, HS_NOTRANS, HS_NOTRANS, 2, 2, 2, 1.0, D(a), 2, -4, D(b), 2, 4, 0.0, D(c), 2, 4, 2));
  REJECT(p, &cov, "bad transpose flag", gemv, (be, t, (hs_trans)5, 2, 2, 1.0, D(a), 2, D(b), 0.0, D(c)));
  REJECT(p, &cov, "out is NULL", dot, (be, t, 4, D(a), D(b), NULL));
  REJECT(p, &cov, "x is NULL", nrm2, (be, t, 4, NULL, &out));
  REJECT(p, &cov, "x[0] or y[0] is NULL", dots,
         (be, t, 1, n1, (const void *const[]){NULL}, (const void *const[]){D(b)}, &out));
  REJECT(p, &cov, "x or y is NULL", axpy, (be, t, 4, 1.0, D(a), NULL));
  REJECT(p, &cov, "x is NULL", scal, (be, t, 4, 2.0, NULL));
  REJECT(p, &cov, "out is NULL", nonfinite, (be, t, 4, D(a), NULL));
  REJECT(p, &cov, "direction slices overlap", bias_add, (be, t, 2, 2, 3, D(a), 2, D(b)));
  REJECT(p, &cov, "negative size", col_sum, (be, t, 1, -2, 2, D(a), D(b), 2));
  REJECT(p, &cov, "unknown activation 3", act_fwd, (be, t, 3, 4, D(a), D(b)));
  REJECT(p, &cov, "negative k", act_deriv_mul, (be, t, HS_ACT_RELU, -1, 4, D(a), D(b), D(c)));
  REJECT(p, &cov, "is NULL", act_rbwd_extra, (be, t, HS_ACT_TANH, 1, 4, D(a), D(b), NULL, D(d)));
  REJECT(p, &cov, "running mode needs run_mean and run_var", bn_fwd,
         (be, t, HS_BN_RUNNING, 2, 2, D(a), D(b), D(c), NULL, NULL, NULL, NULL, D(d), D(e)));
  REJECT(p, &cov, "mode 9", bn_bwd, (be, t, 9, 1, 2, 2, D(a), D(b), D(c), D(d), D(e), NULL, NULL, 2));
  REJECT(p, &cov, "batch statistics of 0 rows", bn_rfwd,
         (be, t, HS_BN_BATCH, 1, 0, 2, D(a), D(b), D(c), D(d), NULL, NULL, 2, NULL, D(e)));
  REJECT(p, &cov, "batch mode needs xhat, dZ and RZ", bn_rbwd_extra,
         (be, t, HS_BN_BATCH, 1, 2, 2, D(a), D(b), D(c), D(d), NULL, D(a), D(b), NULL, 2, D(e), NULL));
  REJECT(p, &cov, "ldc=3 < n*Ho*Wo=4", im2col, (be, t, 1, g, D(a), D(b), 3));
  REJECT(p, &cov, "output 3x2", col2im, (be, t, 1, g_ho, D(a), 4, D(b)));
  REJECT(p, &cov, "dst overlaps src", transpose, (be, t, 1, 2, 2, 1, D(a), D(a)));
  REJECT(p, &cov, "max pooling needs argmax", pool_fwd, (be, t, HS_POOL_MAX, 1, g, D(a), D(b), NULL));
  REJECT(p, &cov, "pooling takes no padding", pool_rfwd, (be, t, HS_POOL_AVG, 1, 1, g_pad, NULL, D(a), D(b)));
  REJECT(p, &cov, "mode 5", pool_bwd, (be, t, 5, 1, 1, g, A.d[s], D(a), D(b)));
  REJECT(p, &cov, "bad size rows=2 C=0", ce_fwd, (be, t, 2, 0, D(a), L.d[s], D(b), &out));
  REJECT(p, &cov, "P, labels or dF is NULL", ce_bwd, (be, t, 2, 2, D(a), NULL, 1.0, D(b)));
  REJECT(p, &cov, "bad size k=-1", ce_rop, (be, t, -1, 2, 2, D(a), D(b), 1.0, D(c)));
  REJECT(p, &cov, "correct is NULL", ce_correct, (be, t, 2, 2, D(a), L.d[s], NULL));
  REJECT(p, &cov, "F or T is NULL", mse_fwd_bwd, (be, t, 2, 2, D(a), NULL, 1.0, &out, D(c)));
  REJECT(p, &cov, "negative size n=-2", syev, (be, t, -2, D(a), D(b)));
  REJECT(p, &cov, "needs a buffer", sgd_step, (be, t, 4, 0.1, 0.9, 0.0, 0, 0.0, 1, D(a), NULL, D(b)));
  REJECT(p, &cov, "bc2_sqrt = 0 must be positive", adam_step,
         (be, t, 4, 0.9, 0.999, 1e-8, 0.0, 0.1, 0.0, D(a), D(b), D(c), D(d)));
  REJECT(p, &cov, "needs >= 2", bn_running_update, (be, t, 1, 2, 0.1, D(a), D(b), D(c), D(d)));
  (void)cnt;
  cover_check(p, &cov, (const char *const[]){"sync", NULL});
  labels_free(&L);
  labels_free(&A);
  od_buf *all[] = {&a, &b, &c, &d, &e};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
}
