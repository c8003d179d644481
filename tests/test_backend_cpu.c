/* The CPU backend against naive reference loops written here, independently of src/backend.
 *
 * Every op, both dtypes, odd sizes (7x13x5 and a width past one 64-column tile), k = 1 and
 * k = 3 directions, fresh random non-zero inputs from the counter-based RNG, and guard bands:
 * each device buffer carries GUARD sentinel elements on both sides that must come back
 * untouched. Where an op writes only part of a buffer (ld padding, pstride gaps, batch gaps)
 * the reference starts from the buffer's initial contents, so untouched gaps are checked too.
 * References run in double on the dtype-rounded inputs.
 *
 * Tolerances: |got - ref| <= ulps * eps(dtype) * (1 + |ref|). Inputs are O(1) normals and
 * each output is a sum of at most ~70 O(1) terms (the BN columns), so the classical bound on
 * summation error, n * eps * sum|terms|, is at most a few hundred eps relative to 1 + |ref|;
 * in practice error grows like sqrt(n) * eps. TOL_ULPS = 256 covers that with margin while
 * still catching any real bug (an error is O(1), i.e. ~1e7 f32 ulps). f32 ops that round
 * intermediates in f32 (OpenBLAS sgemm, the f32 activation twins) fit in the same bound;
 * f64 gets the same count of its own, much smaller, eps. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"

#define SEED 20261128ULL
#define GUARD 9
#define SENTINEL 1234.5 /* exact in f32 */
#define TOL_ULPS 256.0

static hs_backend *be;
static uint64_t g_draw; /* every rnd() call draws fresh numbers */
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
TestSuite(backend_cpu, .init = setup, .fini = teardown);

static const char *tname(hs_dtype t) { return t == HS_F64 ? "f64" : "f32"; }
static double round_t(hs_dtype t, double v) { return t == HS_F32 ? (double)(float)v : v; }
static double eps_t(hs_dtype t) { return t == HS_F64 ? DBL_EPSILON : FLT_EPSILON; }

/* n normals, none closer to 0 than 0.05, rounded to the dtype */
static double *rnd(hs_dtype t, size_t n) {
  double *x = malloc((n ? n : 1) * sizeof *x);
  cr_assert_not_null(x);
  for (size_t i = 0; i < n; i++) {
    double v = hs_rng_normal(SEED, HS_STREAM_TEST, g_draw++);
    if (fabs(v) < 0.05) v = copysign(0.05 + fabs(v), v);
    x[i] = round_t(t, v);
  }
  return x;
}
static double *dupd(const double *x, size_t n) {
  double *y = malloc((n ? n : 1) * sizeof *y);
  cr_assert_not_null(y);
  if (n) memcpy(y, x, n * sizeof *y);
  return y;
}
static double *zeros(size_t n) {
  double *y = calloc(n ? n : 1, sizeof *y);
  cr_assert_not_null(y);
  return y;
}
static int32_t *rnd_labels(int rows, int C) {
  int32_t *l = malloc((rows ? rows : 1) * sizeof *l);
  for (int r = 0; r < rows; r++) l[r] = (int32_t)(hs_rng_bits(SEED, HS_STREAM_TEST, g_draw++) % (uint64_t)C);
  return l;
}

/* ---- device buffers with guard bands ---- */

typedef struct {
  hs_dtype t;
  size_t n;
  void *base; /* n + 2*GUARD elements */
} dbuf;

static void *dp(const dbuf *b) { return hs_dptr(b->base, b->t, GUARD); }

static void host_to_dtype(hs_dtype t, const double *src, size_t n, void *dst) {
  for (size_t i = 0; i < n; i++) {
    if (t == HS_F64) ((double *)dst)[i] = src[i];
    else ((float *)dst)[i] = (float)src[i];
  }
}
static void dtype_to_host(hs_dtype t, const void *src, size_t n, double *dst) {
  for (size_t i = 0; i < n; i++) dst[i] = t == HS_F64 ? ((const double *)src)[i] : ((const float *)src)[i];
}

/* init NULL: the body starts as NaN, so an element the op should write but does not shows */
static dbuf dnew(hs_dtype t, size_t n, const double *init) {
  dbuf b = {t, n, NULL};
  size_t tot = n + 2 * GUARD, es = t == HS_F64 ? 8 : 4;
  cr_assert_eq(be->ops->alloc(be, tot * es, &b.base), HS_OK);
  double *h = malloc(tot * sizeof *h);
  void *raw = malloc(tot * es);
  for (size_t i = 0; i < tot; i++)
    h[i] = (i < GUARD || i >= GUARD + n) ? SENTINEL : init ? init[i - GUARD] : NAN;
  host_to_dtype(t, h, tot, raw);
  cr_assert_eq(be->ops->upload(be, b.base, raw, tot * es), HS_OK);
  free(h);
  free(raw);
  return b;
}

/* Downloads the body into out (when non-NULL) and checks the guards. */
static void dget(const dbuf *b, double *out, const char *what) {
  size_t tot = b->n + 2 * GUARD, es = b->t == HS_F64 ? 8 : 4;
  void *raw = malloc(tot * es);
  double *h = malloc(tot * sizeof *h);
  cr_assert_eq(be->ops->download(be, raw, b->base, tot * es), HS_OK);
  dtype_to_host(b->t, raw, tot, h);
  for (size_t i = 0; i < GUARD; i++) {
    cr_assert(h[i] == SENTINEL, "%s (%s): guard before the buffer overwritten at -%zu: %g", what,
              tname(b->t), GUARD - i, h[i]);
    cr_assert(h[GUARD + b->n + i] == SENTINEL, "%s (%s): guard after the buffer overwritten at +%zu: %g",
              what, tname(b->t), i, h[GUARD + b->n + i]);
  }
  if (out) memcpy(out, h + GUARD, b->n * sizeof *out);
  free(raw);
  free(h);
}
static void dfree(dbuf *b) {
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
static void expect_close(const char *what, hs_dtype t, const double *got, const double *ref,
                         size_t n) {
  expect_close_ulps(what, t, got, ref, n, TOL_ULPS);
}
/* Downloads, checks guards, compares with ref. */
static void check_buf(const dbuf *b, const double *ref, const char *what) {
  double *got = malloc((b->n ? b->n : 1) * sizeof *got);
  dget(b, got, what);
  expect_close(what, b->t, got, ref, b->n);
  free(got);
}

/* ============================== memory ============================== */

Test(backend_cpu, identity) {
  cr_assert_str_eq(be->ops->name, "cpu");
  cr_assert(strlen(be->device_name) > 0);
  cr_assert(strstr(be->device_name, "core") != NULL, "device name '%s' lacks the core count",
            be->device_name);
  cr_assert_eq(be->ops->sync(be), HS_OK);
}

Test(backend_cpu, op_table_complete) {
  /* every entry filled: a NULL would crash the network code far from here */
  const void *const *p = (const void *const *)((const char *)be->ops + sizeof(const char *));
  size_t nptr = (sizeof(hs_backend_ops) - sizeof(const char *)) / sizeof(void *);
  for (size_t i = 0; i < nptr; i++) cr_assert_not_null(p[i], "op table entry %zu is NULL", i);
}

Test(backend_cpu, alloc_zero_and_free_null) {
  void *p = (void *)1;
  cr_assert_eq(be->ops->alloc(be, 0, &p), HS_OK);
  cr_assert_null(p);
  be->ops->free(be, NULL);
  cr_assert_eq(be->ops->upload(be, NULL, NULL, 0), HS_OK);
  cr_assert_eq(be->ops->download(be, NULL, NULL, 0), HS_OK);
  cr_assert_eq(be->ops->copy(be, NULL, NULL, 0), HS_OK);
}

Test(backend_cpu, alloc_out_of_memory) {
  void *p = (void *)1;
  cr_assert_eq(be->ops->alloc(be, SIZE_MAX - 8, &p), HS_E_NOMEM);
  cr_assert_null(p);
  cr_assert(strstr(be->errmsg, "alloc") != NULL, "message '%s' does not name the op", be->errmsg);
  be->errmsg[0] = '\0';
  cr_assert_eq(be->ops->alloc(be, (size_t)1 << 62, &p), HS_E_NOMEM);
  cr_assert(strlen(be->errmsg) > 0);
}

Test(backend_cpu, alloc_alignment_and_copy) {
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    size_t n = 1031, es = t == HS_F64 ? 8 : 4;
    double *x = rnd(t, n);
    dbuf a = dnew(t, n, x), b = dnew(t, n, NULL);
    cr_assert_eq((uintptr_t)a.base % 64, 0, "allocation not 64-byte aligned");
    cr_assert_eq(be->ops->copy(be, dp(&b), dp(&a), n * es), HS_OK);
    check_buf(&b, x, "copy");
    check_buf(&a, x, "copy source");
    dfree(&a);
    dfree(&b);
    free(x);
  }
}

Test(backend_cpu, upload_null_is_invalid) {
  char buf[8] = {0};
  cr_assert_eq(be->ops->upload(be, NULL, buf, 8), HS_E_INVALID);
  cr_assert(strstr(be->errmsg, "upload") != NULL);
}

Test(backend_cpu, fill) {
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    size_t sizes[2] = {37, 70001}; /* the large one runs the parallel loop */
    for (int s = 0; s < 2; s++) {
      size_t n = sizes[s];
      dbuf b = dnew(t, n, NULL);
      double v = round_t(t, -0.3125);
      cr_assert_eq(be->ops->fill(be, t, n, -0.3125, dp(&b)), HS_OK);
      double *ref = malloc(n * sizeof *ref);
      for (size_t i = 0; i < n; i++) ref[i] = v;
      check_buf(&b, ref, "fill");
      cr_assert_eq(be->ops->fill(be, t, 0, 1.0, NULL), HS_OK);
      free(ref);
      dfree(&b);
    }
  }
}

/* ============================== BLAS-like ============================== */

/* element (i, p) of op(X) where X is stored row-major with leading dimension ld */
static double opel(const double *X, int ld, int trans, int i, int p) {
  return trans ? X[(size_t)p * ld + i] : X[(size_t)i * ld + p];
}

/* C = alpha op(A) op(B) + beta C on the ldc-strided C (padding untouched); beta == 0 ignores C */
static void ref_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda,
                     const double *B, int ldb, double beta, double *C, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) s += opel(A, lda, ta, i, p) * opel(B, ldb, tb, p, j);
      double c0 = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
      C[(size_t)i * ldc + j] = alpha * s + c0;
    }
}

Test(backend_cpu, gemm_all_transposes) {
  const int m = 7, n = 13, k = 5;
  for (int d = 0; d < 2; d++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int bz = 0; bz < 2; bz++) { /* beta = -1.3, then beta = 0 on a NaN C */
          hs_dtype t = DTYPES[d];
          int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
          int lda = acols + 3, ldb = bcols + 2, ldc = n + 4; /* padded leading dimensions */
          double *A = rnd(t, (size_t)arows * lda), *B = rnd(t, (size_t)brows * ldb);
          double *C0 = rnd(t, (size_t)m * ldc);
          if (bz)
            for (size_t i = 0; i < (size_t)m * ldc; i++)
              if (i % ldc < (size_t)n) C0[i] = NAN;
          double alpha = 0.7, beta = bz ? 0.0 : -1.3;
          dbuf dA = dnew(t, (size_t)arows * lda, A), dB = dnew(t, (size_t)brows * ldb, B);
          dbuf dC = dnew(t, (size_t)m * ldc, C0);
          cr_assert_eq(be->ops->gemm(be, t, ta, tb, m, n, k, alpha, dp(&dA), lda, dp(&dB), ldb,
                                     beta, dp(&dC), ldc),
                       HS_OK, "%s", be->errmsg);
          double *ref = dupd(C0, (size_t)m * ldc);
          ref_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, ref, ldc);
          check_buf(&dC, ref, ta ? (tb ? "gemm TT" : "gemm TN") : (tb ? "gemm NT" : "gemm NN"));
          dget(&dA, NULL, "gemm A");
          dget(&dB, NULL, "gemm B");
          dfree(&dA), dfree(&dB), dfree(&dC);
          free(A), free(B), free(C0), free(ref);
        }
}

/* Large enough for the tiled, threaded path (several 64..256-row tiles, k > 1 tiles per row) */
Test(backend_cpu, gemm_tiled) {
  const int m = 301, n = 517, k = 37;
  for (int d = 0; d < 2; d++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        hs_dtype t = DTYPES[d];
        int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
        int lda = acols + 1, ldb = bcols + 3, ldc = n + 2;
        double *A = rnd(t, (size_t)arows * lda), *B = rnd(t, (size_t)brows * ldb);
        double *C0 = rnd(t, (size_t)m * ldc);
        dbuf dA = dnew(t, (size_t)arows * lda, A), dB = dnew(t, (size_t)brows * ldb, B);
        dbuf dC = dnew(t, (size_t)m * ldc, C0);
        cr_assert_eq(be->ops->gemm(be, t, ta, tb, m, n, k, 1.1, dp(&dA), lda, dp(&dB), ldb, 0.5,
                                   dp(&dC), ldc),
                     HS_OK, "%s", be->errmsg);
        double *ref = dupd(C0, (size_t)m * ldc);
        ref_gemm(ta, tb, m, n, k, 1.1, A, lda, B, ldb, 0.5, ref, ldc);
        check_buf(&dC, ref, "gemm tiled");
        dfree(&dA), dfree(&dB), dfree(&dC);
        free(A), free(B), free(C0), free(ref);
      }
}

Test(backend_cpu, gemm_batched_shared_output) {
  /* stride_c = 0: the products accumulate into one C in batch order */
  const int m = 7, n = 13, k = 5, batch = 3;
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    size_t na = (size_t)batch * m * k, nb = (size_t)batch * k * n;
    double *A = rnd(t, na), *B = rnd(t, nb), *C0 = rnd(t, (size_t)m * n);
    dbuf dA = dnew(t, na, A), dB = dnew(t, nb, B), dC = dnew(t, (size_t)m * n, C0);
    cr_assert_eq(be->ops->gemm_batched(be, t, HS_NOTRANS, HS_NOTRANS, m, n, k, 1.0, dp(&dA), k,
                                       (long long)m * k, dp(&dB), n, (long long)k * n, 1.0, dp(&dC),
                                       n, 0, batch),
                 HS_OK, "%s", be->errmsg);
    double *ref = dupd(C0, (size_t)m * n);
    for (int i = 0; i < batch; i++)
      ref_gemm(0, 0, m, n, k, 1.0, A + (size_t)i * m * k, k, B + (size_t)i * k * n, n, 1.0, ref, n);
    check_buf(&dC, ref, "gemm_batched stride_c=0");
    dfree(&dA), dfree(&dB), dfree(&dC);
    free(A), free(B), free(C0), free(ref);
  }
}

Test(backend_cpu, gemm_degenerate) {
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    const int m = 7, n = 13;
    double *C0 = rnd(t, (size_t)m * n);
    dbuf dC = dnew(t, (size_t)m * n, C0);
    /* k == 0: C = beta*C, A and B never read (NULL) */
    cr_assert_eq(be->ops->gemm(be, t, HS_NOTRANS, HS_NOTRANS, m, n, 0, 1.0, NULL, 1, NULL, n, -2.0,
                               dp(&dC), n),
                 HS_OK, "%s", be->errmsg);
    double *ref = dupd(C0, (size_t)m * n);
    for (int i = 0; i < m * n; i++) ref[i] = round_t(t, -2.0 * C0[i]);
    check_buf(&dC, ref, "gemm k=0");
    /* k == 0, beta == 0: zeros */
    cr_assert_eq(be->ops->gemm(be, t, HS_TRANS, HS_TRANS, m, n, 0, 1.0, NULL, m, NULL, 1, 0.0,
                               dp(&dC), n),
                 HS_OK, "%s", be->errmsg);
    for (int i = 0; i < m * n; i++) ref[i] = 0;
    check_buf(&dC, ref, "gemm k=0 beta=0");
    /* m == 0 or n == 0: nothing to do, nothing touched */
    cr_assert_eq(be->ops->gemm(be, t, HS_NOTRANS, HS_NOTRANS, 0, n, 5, 1.0, NULL, 5, NULL, n, 0.0,
                               NULL, n),
                 HS_OK);
    cr_assert_eq(be->ops->gemm(be, t, HS_NOTRANS, HS_NOTRANS, m, 0, 5, 1.0, NULL, 5, NULL, 1, 0.0,
                               NULL, 1),
                 HS_OK);
    dfree(&dC);
    free(C0), free(ref);
  }
}

Test(backend_cpu, gemm_invalid) {
  double A[4] = {1, 2, 3, 4}, C[4];
  cr_assert_eq(be->ops->gemm(be, HS_F64, HS_NOTRANS, HS_NOTRANS, -1, 2, 2, 1, A, 2, A, 2, 0, C, 2),
               HS_E_INVALID);
  cr_assert(strstr(be->errmsg, "gemm") != NULL, "'%s'", be->errmsg);
  /* lda too small for a row-major 2x2 */
  cr_assert_eq(be->ops->gemm(be, HS_F64, HS_NOTRANS, HS_NOTRANS, 2, 2, 2, 1, A, 1, A, 2, 0, C, 2),
               HS_E_INVALID);
  cr_assert_eq(be->ops->gemm(be, (hs_dtype)7, HS_NOTRANS, HS_NOTRANS, 2, 2, 2, 1, A, 2, A, 2, 0, C, 2),
               HS_E_INVALID);
  cr_assert_eq(be->ops->gemm_batched(be, HS_F64, HS_NOTRANS, HS_NOTRANS, 2, 2, 2, 1, A, 2, 0, A, 2,
                                     0, 0, C, 2, 0, -1),
               HS_E_INVALID);
}

Test(backend_cpu, gemm_batched) {
  const int m = 7, n = 13, k = 5, batch = 3;
  for (int d = 0; d < 2; d++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        hs_dtype t = DTYPES[d];
        int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
        int lda = acols + 1, ldb = bcols, ldc = n + 2;
        /* A shared (stride 0); B and C strided with gaps between the matrices */
        long long sa = 0, sb = (long long)brows * ldb + 3, sc = (long long)m * ldc + 5;
        size_t na = (size_t)arows * lda, nb = (size_t)sb * batch, nc = (size_t)sc * batch;
        double *A = rnd(t, na), *B = rnd(t, nb), *C0 = rnd(t, nc);
        dbuf dA = dnew(t, na, A), dB = dnew(t, nb, B), dC = dnew(t, nc, C0);
        cr_assert_eq(be->ops->gemm_batched(be, t, ta, tb, m, n, k, -0.9, dp(&dA), lda, sa, dp(&dB),
                                           ldb, sb, 0.4, dp(&dC), ldc, sc, batch),
                     HS_OK, "%s", be->errmsg);
        double *ref = dupd(C0, nc);
        for (int i = 0; i < batch; i++)
          ref_gemm(ta, tb, m, n, k, -0.9, A + i * sa, lda, B + i * sb, ldb, 0.4, ref + i * sc, ldc);
        check_buf(&dC, ref, "gemm_batched");
        dfree(&dA), dfree(&dB), dfree(&dC);
        free(A), free(B), free(C0), free(ref);
      }
}

Test(backend_cpu, gemv) {
  const int m = 7, n = 13, lda = 16;
  for (int d = 0; d < 2; d++)
    for (int ta = 0; ta < 2; ta++)
      for (int bz = 0; bz < 2; bz++) {
        hs_dtype t = DTYPES[d];
        int xl = ta ? m : n, yl = ta ? n : m;
        double *A = rnd(t, (size_t)m * lda), *x = rnd(t, xl), *y0 = rnd(t, yl);
        if (bz)
          for (int i = 0; i < yl; i++) y0[i] = NAN;
        double beta = bz ? 0.0 : 0.6;
        dbuf dA = dnew(t, (size_t)m * lda, A), dx = dnew(t, xl, x), dy = dnew(t, yl, y0);
        cr_assert_eq(be->ops->gemv(be, t, ta, m, n, 1.7, dp(&dA), lda, dp(&dx), beta, dp(&dy)),
                     HS_OK, "%s", be->errmsg);
        double *ref = malloc(yl * sizeof *ref);
        for (int i = 0; i < yl; i++) {
          double s = 0;
          for (int p = 0; p < xl; p++) s += (ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) * x[p];
          ref[i] = 1.7 * s + (beta == 0 ? 0 : beta * y0[i]);
        }
        check_buf(&dy, ref, ta ? "gemv T" : "gemv N");
        dfree(&dA), dfree(&dx), dfree(&dy);
        free(A), free(x), free(y0), free(ref);
      }
}

/* Shapes for the blocked outputs (o > 256) and the chunked reduction (r > 8192), where
 * partials are added in chunk order */
Test(backend_cpu, gemv_blocked_and_chunked) {
  const int shapes[3][2] = {{300, 13}, {5, 20001}, {20001, 5}};
  for (int d = 0; d < 2; d++)
    for (int sh = 0; sh < 3; sh++)
      for (int ta = 0; ta < 2; ta++)
        for (int bz = 0; bz < 2; bz++) {
          hs_dtype t = DTYPES[d];
          int m = shapes[sh][0], n = shapes[sh][1], lda = n + 1;
          int xl = ta ? m : n, yl = ta ? n : m;
          double *A = rnd(t, (size_t)m * lda), *x = rnd(t, xl), *y0 = rnd(t, yl);
          if (bz)
            for (int i = 0; i < yl; i++) y0[i] = NAN;
          double beta = bz ? 0.0 : -0.8;
          dbuf dA = dnew(t, (size_t)m * lda, A), dx = dnew(t, xl, x), dy = dnew(t, yl, y0);
          cr_assert_eq(be->ops->gemv(be, t, ta, m, n, 0.3, dp(&dA), lda, dp(&dx), beta, dp(&dy)),
                       HS_OK, "%s", be->errmsg);
          double *ref = malloc(yl * sizeof *ref), *got = malloc(yl * sizeof *got);
          double *mag = malloc(yl * sizeof *mag);
          for (int i = 0; i < yl; i++) {
            double s = 0, a = 0;
            for (int p = 0; p < xl; p++) {
              double term = (ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) * x[p];
              s += term, a += fabs(term);
            }
            ref[i] = 0.3 * s + (beta == 0 ? 0 : beta * y0[i]);
            mag[i] = 0.3 * a + fabs(beta == 0 ? 0 : beta * y0[i]);
          }
          dget(&dy, got, "gemv chunked");
          /* 20001-term sums: bound by the sum of |terms| (sqrt(n)-ish growth in practice) */
          for (int i = 0; i < yl; i++)
            cr_assert(fabs(got[i] - ref[i]) <= 4 * sqrt((double)xl) * eps_t(t) * (1 + mag[i]),
                      "gemv %dx%d %c %s [%d]: got %.17g want %.17g", m, n, ta ? 'T' : 'N', tname(t),
                      i, got[i], ref[i]);
          dfree(&dA), dfree(&dx), dfree(&dy);
          free(A), free(x), free(y0), free(ref), free(got), free(mag);
        }
}

Test(backend_cpu, gemv_empty_inner_dimension_scales_y) {
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    double *y0 = rnd(t, 7);
    dbuf dy = dnew(t, 7, y0);
    /* y (7) = A (7 x 0) x + beta y: reference BLAS would skip the scaling */
    cr_assert_eq(be->ops->gemv(be, t, HS_NOTRANS, 7, 0, 1.0, NULL, 1, NULL, 0.5, dp(&dy)), HS_OK,
                 "%s", be->errmsg);
    double ref[7];
    for (int i = 0; i < 7; i++) ref[i] = 0.5 * y0[i];
    check_buf(&dy, ref, "gemv n=0");
    dfree(&dy);
    free(y0);
  }
}

/* sum in long double: the reference for dot/nrm2 */
static long double ref_dot(const double *x, const double *y, size_t n, double *abssum) {
  long double s = 0, a = 0;
  for (size_t i = 0; i < n; i++) s += (long double)x[i] * y[i], a += fabsl((long double)x[i] * y[i]);
  if (abssum) *abssum = (double)a;
  return s;
}

Test(backend_cpu, dot_and_nrm2) {
  size_t sizes[5] = {1, 7, 4096, 4097, 100003};
  for (int d = 0; d < 2; d++)
    for (int s = 0; s < 5; s++) {
      hs_dtype t = DTYPES[d];
      size_t n = sizes[s];
      double *x = rnd(t, n), *y = rnd(t, n);
      dbuf dx = dnew(t, n, x), dy = dnew(t, n, y);
      double got, abssum;
      cr_assert_eq(be->ops->dot(be, t, n, dp(&dx), dp(&dy), &got), HS_OK);
      double ref = (double)ref_dot(x, y, n, &abssum);
      /* accumulated in double in both dtypes: the products of f32 inputs are exact in
       * double, so the bound is in double eps over the sum of |terms| */
      cr_assert(fabs(got - ref) <= 4.0 * n * DBL_EPSILON * abssum + DBL_MIN,
                "dot %s n=%zu: got %.17g want %.17g", tname(t), n, got, ref);
      cr_assert_eq(be->ops->nrm2(be, t, n, dp(&dx), &got), HS_OK);
      double ref2 = sqrt((double)ref_dot(x, x, n, NULL));
      cr_assert(fabs(got - ref2) <= 4.0 * n * DBL_EPSILON * ref2, "nrm2 %s n=%zu: got %.17g want %.17g",
                tname(t), n, got, ref2);
      dget(&dx, NULL, "dot x");
      dfree(&dx), dfree(&dy);
      free(x), free(y);
    }
  double out = 5;
  cr_assert_eq(be->ops->dot(be, HS_F64, 0, NULL, NULL, &out), HS_OK);
  cr_assert_eq(out, 0.0);
  cr_assert_eq(be->ops->nrm2(be, HS_F32, 0, NULL, &out), HS_OK);
  cr_assert_eq(out, 0.0);
}

Test(backend_cpu, axpy_scal) {
  size_t sizes[2] = {1001, 65537};
  for (int d = 0; d < 2; d++)
    for (int s = 0; s < 2; s++) {
      hs_dtype t = DTYPES[d];
      size_t n = sizes[s];
      double *x = rnd(t, n), *y = rnd(t, n);
      dbuf dx = dnew(t, n, x), dy = dnew(t, n, y);
      cr_assert_eq(be->ops->axpy(be, t, n, -0.75, dp(&dx), dp(&dy)), HS_OK);
      double *ref = malloc(n * sizeof *ref);
      for (size_t i = 0; i < n; i++) ref[i] = y[i] - 0.75 * x[i];
      check_buf(&dy, ref, "axpy");
      check_buf(&dx, x, "axpy x");
      cr_assert_eq(be->ops->scal(be, t, n, 1.9, dp(&dx)), HS_OK);
      for (size_t i = 0; i < n; i++) ref[i] = 1.9 * x[i];
      check_buf(&dx, ref, "scal");
      dfree(&dx), dfree(&dy);
      free(x), free(y), free(ref);
    }
}

Test(backend_cpu, nonfinite) {
  size_t sizes[2] = {13, 100001};
  for (int d = 0; d < 2; d++)
    for (int s = 0; s < 2; s++) {
      hs_dtype t = DTYPES[d];
      size_t n = sizes[s];
      double *x = rnd(t, n);
      dbuf dx = dnew(t, n, x);
      int out = -1;
      cr_assert_eq(be->ops->nonfinite(be, t, n, dp(&dx), &out), HS_OK);
      cr_assert_eq(out, 0, "finite data reported non-finite (%s n=%zu)", tname(t), n);
      double bad[3] = {NAN, INFINITY, -INFINITY};
      for (int b = 0; b < 3; b++) {
        x[n - 1 - b] = bad[b];
        dbuf dz = dnew(t, n, x);
        cr_assert_eq(be->ops->nonfinite(be, t, n, dp(&dz), &out), HS_OK);
        cr_assert_eq(out, 1, "%g at %zu missed (%s)", bad[b], n - 1 - b, tname(t));
        dfree(&dz);
      }
      dfree(&dx);
      free(x);
    }
}

/* ============================== linear layers ============================== */

Test(backend_cpu, bias_add) {
  const int rows = 7, cols = 13;
  const size_t pstride = cols + 4;
  for (int d = 0; d < 2; d++)
    for (int kk = 0; kk < 2; kk++) {
      hs_dtype t = DTYPES[d];
      int k = KS[kk];
      size_t ny = (size_t)k * rows * cols, nb = (k - 1) * pstride + cols;
      double *Y = rnd(t, ny), *bias = rnd(t, nb);
      dbuf dY = dnew(t, ny, Y), db = dnew(t, nb, bias);
      cr_assert_eq(be->ops->bias_add(be, t, k, rows, cols, dp(&db), pstride, dp(&dY)), HS_OK);
      double *ref = dupd(Y, ny);
      for (int j = 0; j < k; j++)
        for (int r = 0; r < rows; r++)
          for (int c = 0; c < cols; c++) ref[((size_t)j * rows + r) * cols + c] += bias[j * pstride + c];
      check_buf(&dY, ref, "bias_add");
      check_buf(&db, bias, "bias_add bias");
      dfree(&dY), dfree(&db);
      free(Y), free(bias), free(ref);
    }
}

Test(backend_cpu, col_sum) {
  int shapes[2][2] = {{7, 13}, {5, 131}}; /* 131 columns: three 64-column tiles */
  for (int d = 0; d < 2; d++)
    for (int kk = 0; kk < 2; kk++)
      for (int sh = 0; sh < 2; sh++) {
        hs_dtype t = DTYPES[d];
        int k = KS[kk], rows = shapes[sh][0], cols = shapes[sh][1];
        size_t pstride = cols + 3, nx = (size_t)k * rows * cols, no = (k - 1) * pstride + cols;
        double *X = rnd(t, nx), *o0 = rnd(t, no);
        dbuf dX = dnew(t, nx, X), dO = dnew(t, no, o0);
        cr_assert_eq(be->ops->col_sum(be, t, k, rows, cols, dp(&dX), dp(&dO), pstride), HS_OK);
        double *ref = dupd(o0, no);
        for (int j = 0; j < k; j++)
          for (int c = 0; c < cols; c++) {
            double s = 0;
            for (int r = 0; r < rows; r++) s += X[((size_t)j * rows + r) * cols + c];
            ref[j * pstride + c] += s; /* the gaps between slices stay as they were */
          }
        check_buf(&dO, ref, "col_sum");
        dfree(&dX), dfree(&dO);
        free(X), free(o0), free(ref);
      }
}

/* ============================== activations ============================== */

/* Written from the definitions, not from act_math.h. */
static double ref_f(int act, double y) {
  if (act == HS_ACT_RELU) return y > 0 ? y : 0;
  if (act == HS_ACT_TANH) return (exp(y) - exp(-y)) / (exp(y) + exp(-y));
  return y;
}
static double ref_df(int act, double y) {
  if (act == HS_ACT_RELU) return y > 0 ? 1 : 0; /* PyTorch: relu'(0) = 0 */
  if (act == HS_ACT_TANH) { double c = cosh(y); return 1 / (c * c); }
  return 1;
}
static double ref_d2f(int act, double y) {
  if (act == HS_ACT_TANH) { double c = cosh(y); return -2 * tanh(y) / (c * c); }
  return 0;
}
static const char *ACT_NAMES[3] = {"linear", "relu", "tanh"};

Test(backend_cpu, act_fwd) {
  const size_t n = 1001;
  for (int d = 0; d < 2; d++)
    for (int act = 0; act < 3; act++) {
      hs_dtype t = DTYPES[d];
      double *Y = rnd(t, n);
      Y[5] = 0; /* relu at its kink */
      dbuf dY = dnew(t, n, Y), dA = dnew(t, n, NULL);
      cr_assert_eq(be->ops->act_fwd(be, t, act, n, dp(&dY), dp(&dA)), HS_OK);
      double *ref = malloc(n * sizeof *ref);
      for (size_t i = 0; i < n; i++) ref[i] = ref_f(act, Y[i]);
      check_buf(&dA, ref, ACT_NAMES[act]);
      dfree(&dY), dfree(&dA);
      free(Y), free(ref);
    }
}

Test(backend_cpu, act_deriv_mul) {
  const size_t n = 1001; /* crosses the 512-element tiles */
  for (int d = 0; d < 2; d++)
    for (int act = 0; act < 3; act++)
      for (int kk = 0; kk < 2; kk++)
        for (int alias = 0; alias < 2; alias++) {
          hs_dtype t = DTYPES[d];
          int k = KS[kk];
          double *Y = rnd(t, n), *G = rnd(t, k * n);
          Y[0] = 0;
          dbuf dY = dnew(t, n, Y), dG = dnew(t, k * n, G), dO = dnew(t, k * n, NULL);
          void *out = alias ? dp(&dG) : dp(&dO);
          cr_assert_eq(be->ops->act_deriv_mul(be, t, act, k, n, dp(&dY), dp(&dG), out), HS_OK);
          double *ref = malloc(k * n * sizeof *ref);
          for (int j = 0; j < k; j++)
            for (size_t i = 0; i < n; i++) ref[j * n + i] = ref_df(act, Y[i]) * G[j * n + i];
          check_buf(alias ? &dG : &dO, ref, "act_deriv_mul");
          dfree(&dY), dfree(&dG), dfree(&dO);
          free(Y), free(G), free(ref);
        }
}

Test(backend_cpu, act_rbwd_extra) {
  const size_t n = 1001;
  for (int d = 0; d < 2; d++)
    for (int act = 0; act < 3; act++)
      for (int kk = 0; kk < 2; kk++) {
        hs_dtype t = DTYPES[d];
        int k = KS[kk];
        double *Y = rnd(t, n), *dA = rnd(t, n), *RY = rnd(t, k * n), *R0 = rnd(t, k * n);
        dbuf dY = dnew(t, n, Y), ddA = dnew(t, n, dA), dRY = dnew(t, k * n, RY),
             dR = dnew(t, k * n, R0);
        cr_assert_eq(be->ops->act_rbwd_extra(be, t, act, k, n, dp(&dY), dp(&ddA), dp(&dRY), dp(&dR)),
                     HS_OK);
        double *ref = dupd(R0, k * n);
        for (int j = 0; j < k; j++)
          for (size_t i = 0; i < n; i++) ref[j * n + i] += ref_d2f(act, Y[i]) * dA[i] * RY[j * n + i];
        check_buf(&dR, ref, "act_rbwd_extra");
        dfree(&dY), dfree(&ddA), dfree(&dRY), dfree(&dR);
        free(Y), free(dA), free(RY), free(R0), free(ref);
      }
}

Test(backend_cpu, act_invalid) {
  double y = 1, a;
  cr_assert_eq(be->ops->act_fwd(be, HS_F64, 3, 1, &y, &a), HS_E_INVALID);
  cr_assert(strstr(be->errmsg, "act_fwd") != NULL);
  cr_assert_eq(be->ops->act_deriv_mul(be, HS_F64, -1, 1, 1, &y, &y, &a), HS_E_INVALID);
}

/* ============================== batch norm ============================== */

static const int BN_SHAPES[2][2] = {{7, 13}, {5, 67}}; /* 67 columns: two tiles */
static const int BN_MODES[2] = {HS_BN_BATCH, HS_BN_RUNNING};

/* column statistics of Z (rows, cols): mean and biased variance, two-pass */
static void ref_bn_stats(const double *Z, int rows, int cols, double *mean, double *var) {
  for (int c = 0; c < cols; c++) {
    double s = 0, q = 0;
    for (int r = 0; r < rows; r++) s += Z[r * cols + c];
    mean[c] = s / rows;
    for (int r = 0; r < rows; r++) q += (Z[r * cols + c] - mean[c]) * (Z[r * cols + c] - mean[c]);
    var[c] = q / rows;
  }
}

/* mean over rows of a (rows, cols) array's column c */
static double colmean(const double *X, int rows, int cols, int c) {
  double s = 0;
  for (int r = 0; r < rows; r++) s += X[r * cols + c];
  return s / rows;
}

Test(backend_cpu, bn_fwd) {
  for (int d = 0; d < 2; d++)
    for (int md = 0; md < 2; md++)
      for (int sh = 0; sh < 2; sh++) {
        hs_dtype t = DTYPES[d];
        int mode = BN_MODES[md], rows = BN_SHAPES[sh][0], cols = BN_SHAPES[sh][1];
        size_t n = (size_t)rows * cols;
        double *Z = rnd(t, n), *gamma = rnd(t, cols), *beta = rnd(t, cols);
        double *rm = rnd(t, cols), *rv = rnd(t, cols);
        for (int c = 0; c < cols; c++) rv[c] = round_t(t, fabs(rv[c]) + 0.25);
        for (size_t i = 0; i < n; i++) Z[i] = round_t(t, 3.0 + 2.0 * Z[i]); /* mean far from 0 */
        dbuf dZ = dnew(t, n, Z), dg = dnew(t, cols, gamma), db = dnew(t, cols, beta);
        dbuf drm = dnew(t, cols, rm), drv = dnew(t, cols, rv);
        dbuf dbm = dnew(t, cols, NULL), dxh = dnew(t, n, NULL), drs = dnew(t, cols, NULL),
             dY = dnew(t, n, NULL);
        cr_assert_eq(be->ops->bn_fwd(be, t, mode, rows, cols, dp(&dZ), dp(&dg), dp(&db),
                                     mode == HS_BN_RUNNING ? dp(&drm) : NULL,
                                     mode == HS_BN_RUNNING ? dp(&drv) : NULL, dp(&dbm), dp(&dxh),
                                     dp(&drs), dp(&dY)),
                     HS_OK, "%s", be->errmsg);
        double *mean = malloc(cols * sizeof *mean), *var = malloc(cols * sizeof *var);
        if (mode == HS_BN_BATCH) ref_bn_stats(Z, rows, cols, mean, var);
        else memcpy(mean, rm, cols * sizeof *mean), memcpy(var, rv, cols * sizeof *var);
        double *rstd = malloc(cols * sizeof *rstd), *xh = malloc(n * sizeof *xh),
               *Y = malloc(n * sizeof *Y);
        for (int c = 0; c < cols; c++) rstd[c] = 1 / sqrt(var[c] + 1e-5);
        for (int r = 0; r < rows; r++)
          for (int c = 0; c < cols; c++) {
            xh[r * cols + c] = (Z[r * cols + c] - mean[c]) * rstd[c];
            Y[r * cols + c] = gamma[c] * xh[r * cols + c] + beta[c];
          }
        check_buf(&dbm, mean, "bn_fwd batch_mean");
        check_buf(&drs, rstd, "bn_fwd rstd");
        check_buf(&dxh, xh, "bn_fwd xhat");
        check_buf(&dY, Y, "bn_fwd Y");
        dfree(&dZ), dfree(&dg), dfree(&db), dfree(&drm), dfree(&drv);
        dfree(&dbm), dfree(&dxh), dfree(&drs), dfree(&dY);
        free(Z), free(gamma), free(beta), free(rm), free(rv), free(mean), free(var);
        free(rstd), free(xh), free(Y);
      }
}

/* Random forward state: xhat (rows, cols), rstd > 0 and gamma (cols). The ops are formulas in
 * these, so they need not come from an actual forward pass. */
typedef struct {
  int rows, cols;
  double *xhat, *rstd, *gamma;
  dbuf dxhat, drstd, dgamma;
} bn_state;

static bn_state bn_state_new(hs_dtype t, int rows, int cols) {
  bn_state s = {.rows = rows, .cols = cols};
  s.xhat = rnd(t, (size_t)rows * cols), s.rstd = rnd(t, cols), s.gamma = rnd(t, cols);
  for (int c = 0; c < cols; c++) s.rstd[c] = round_t(t, 0.5 + fabs(s.rstd[c]));
  s.dxhat = dnew(t, (size_t)rows * cols, s.xhat);
  s.drstd = dnew(t, cols, s.rstd);
  s.dgamma = dnew(t, cols, s.gamma);
  return s;
}
static void bn_state_free(bn_state *s) {
  dfree(&s->dxhat), dfree(&s->drstd), dfree(&s->dgamma);
  free(s->xhat), free(s->rstd), free(s->gamma);
}

Test(backend_cpu, bn_bwd) {
  for (int d = 0; d < 2; d++)
    for (int md = 0; md < 2; md++)
      for (int sh = 0; sh < 2; sh++)
        for (int kk = 0; kk < 2; kk++)
          for (int want_params = 0; want_params < 2; want_params++) {
            hs_dtype t = DTYPES[d];
            int mode = BN_MODES[md], rows = BN_SHAPES[sh][0], cols = BN_SHAPES[sh][1], k = KS[kk];
            size_t n = (size_t)rows * cols, pstride = cols + 2, np = (k - 1) * pstride + cols;
            bn_state s = bn_state_new(t, rows, cols);
            double *dY = rnd(t, k * n), *dg0 = rnd(t, np), *db0 = rnd(t, np);
            dbuf ddY = dnew(t, k * n, dY), ddZ = dnew(t, k * n, NULL), ddg = dnew(t, np, dg0),
                 ddb = dnew(t, np, db0);
            cr_assert_eq(be->ops->bn_bwd(be, t, mode, k, rows, cols, dp(&s.dxhat), dp(&s.drstd),
                                         dp(&s.dgamma), dp(&ddY), dp(&ddZ),
                                         want_params ? dp(&ddg) : NULL,
                                         want_params ? dp(&ddb) : NULL, pstride),
                         HS_OK, "%s", be->errmsg);
            double *dZ = malloc(k * n * sizeof *dZ), *dg = dupd(dg0, np), *db = dupd(db0, np);
            double *g = malloc(n * sizeof *g), *gx = malloc(n * sizeof *gx);
            for (int j = 0; j < k; j++) {
              const double *dy = dY + j * n;
              for (size_t i = 0; i < n; i++) {
                g[i] = s.gamma[i % cols] * dy[i];
                gx[i] = g[i] * s.xhat[i];
              }
              for (int c = 0; c < cols; c++) {
                double mg = colmean(g, rows, cols, c), mgx = colmean(gx, rows, cols, c);
                double sdx = 0, sd = 0;
                for (int r = 0; r < rows; r++) {
                  size_t i = (size_t)r * cols + c;
                  dZ[j * n + i] = mode == HS_BN_BATCH
                                      ? s.rstd[c] * (g[i] - mg - s.xhat[i] * mgx)
                                      : s.rstd[c] * g[i];
                  sdx += dy[i] * s.xhat[i];
                  sd += dy[i];
                }
                if (want_params) dg[j * pstride + c] += sdx, db[j * pstride + c] += sd;
              }
            }
            check_buf(&ddZ, dZ, "bn_bwd dZ");
            check_buf(&ddg, dg, "bn_bwd dgamma");
            check_buf(&ddb, db, "bn_bwd dbeta");
            /* in place: dZ over dY */
            cr_assert_eq(be->ops->bn_bwd(be, t, mode, k, rows, cols, dp(&s.dxhat), dp(&s.drstd),
                                         dp(&s.dgamma), dp(&ddY), dp(&ddY), NULL, NULL, pstride),
                         HS_OK);
            check_buf(&ddY, dZ, "bn_bwd dZ in place");
            bn_state_free(&s);
            dfree(&ddY), dfree(&ddZ), dfree(&ddg), dfree(&ddb);
            free(dY), free(dg0), free(db0), free(dZ), free(dg), free(db), free(g), free(gx);
          }
}

Test(backend_cpu, bn_rfwd) {
  for (int d = 0; d < 2; d++)
    for (int md = 0; md < 2; md++)
      for (int sh = 0; sh < 2; sh++)
        for (int kk = 0; kk < 2; kk++)
          for (int with_rparams = 0; with_rparams < 2; with_rparams++) {
            hs_dtype t = DTYPES[d];
            int mode = BN_MODES[md], rows = BN_SHAPES[sh][0], cols = BN_SHAPES[sh][1], k = KS[kk];
            size_t n = (size_t)rows * cols, pstride = cols + 5, np = (k - 1) * pstride + cols;
            bn_state s = bn_state_new(t, rows, cols);
            double *RZ = rnd(t, k * n), *Rg = rnd(t, np), *Rb = rnd(t, np);
            dbuf dRZ = dnew(t, k * n, RZ), dRg = dnew(t, np, Rg), dRb = dnew(t, np, Rb);
            dbuf dRX = dnew(t, k * n, NULL), dRY = dnew(t, k * n, NULL);
            cr_assert_eq(be->ops->bn_rfwd(be, t, mode, k, rows, cols, dp(&s.dxhat), dp(&s.drstd),
                                          dp(&s.dgamma), dp(&dRZ), with_rparams ? dp(&dRg) : NULL,
                                          with_rparams ? dp(&dRb) : NULL, pstride, dp(&dRX),
                                          dp(&dRY)),
                         HS_OK, "%s", be->errmsg);
            double *RX = malloc(k * n * sizeof *RX), *RY = malloc(k * n * sizeof *RY);
            double *xr = malloc(n * sizeof *xr);
            for (int j = 0; j < k; j++) {
              const double *rz = RZ + j * n;
              for (size_t i = 0; i < n; i++) xr[i] = s.xhat[i] * rz[i];
              for (int c = 0; c < cols; c++) {
                double m1 = colmean(rz, rows, cols, c), m2 = colmean(xr, rows, cols, c);
                double rg = with_rparams ? Rg[j * pstride + c] : 0;
                double rb = with_rparams ? Rb[j * pstride + c] : 0;
                for (int r = 0; r < rows; r++) {
                  size_t i = (size_t)r * cols + c;
                  double rx = mode == HS_BN_BATCH ? s.rstd[c] * (rz[i] - m1 - s.xhat[i] * m2)
                                                  : s.rstd[c] * rz[i];
                  RX[j * n + i] = rx;
                  RY[j * n + i] = rg * s.xhat[i] + s.gamma[c] * rx + rb;
                }
              }
            }
            check_buf(&dRX, RX, "bn_rfwd RXhat");
            check_buf(&dRY, RY, "bn_rfwd RY");
            check_buf(&dRg, Rg, "bn_rfwd Rgamma (input)");
            bn_state_free(&s);
            dfree(&dRZ), dfree(&dRg), dfree(&dRb), dfree(&dRX), dfree(&dRY);
            free(RZ), free(Rg), free(Rb), free(RX), free(RY), free(xr);
          }
}

Test(backend_cpu, bn_rbwd_extra) {
  for (int d = 0; d < 2; d++)
    for (int md = 0; md < 2; md++)
      for (int sh = 0; sh < 2; sh++)
        for (int kk = 0; kk < 2; kk++) {
          hs_dtype t = DTYPES[d];
          int mode = BN_MODES[md], rows = BN_SHAPES[sh][0], cols = BN_SHAPES[sh][1], k = KS[kk];
          size_t n = (size_t)rows * cols, pstride = cols + 1, np = (k - 1) * pstride + cols;
          bn_state s = bn_state_new(t, rows, cols);
          double *dY = rnd(t, n), *dZ = rnd(t, n), *RZ = rnd(t, k * n), *RX = rnd(t, k * n);
          double *Rg = rnd(t, np), *RdZ0 = rnd(t, k * n), *Rdg0 = rnd(t, np);
          dbuf ddY = dnew(t, n, dY), ddZ = dnew(t, n, dZ), dRZ = dnew(t, k * n, RZ),
               dRX = dnew(t, k * n, RX), dRg = dnew(t, np, Rg), dRdZ = dnew(t, k * n, RdZ0),
               dRdg = dnew(t, np, Rdg0);
          cr_assert_eq(be->ops->bn_rbwd_extra(be, t, mode, k, rows, cols, dp(&s.dxhat),
                                              dp(&s.drstd), dp(&s.dgamma), dp(&ddY), dp(&ddZ),
                                              dp(&dRZ), dp(&dRX), dp(&dRg), pstride, dp(&dRdZ),
                                              dp(&dRdg)),
                       HS_OK, "%s", be->errmsg);
          double *RdZ = dupd(RdZ0, k * n), *Rdg = dupd(Rdg0, np);
          double *tmp = malloc(n * sizeof *tmp);
          for (int j = 0; j < k; j++) {
            const double *rz = RZ + j * n, *rx = RX + j * n;
            for (int c = 0; c < cols; c++) {
              double rs = s.rstd[c], rg = Rg[j * pstride + c], gm = s.gamma[c];
              /* every mean straight from its definition */
              for (int r = 0; r < rows; r++) tmp[r * cols + c] = s.xhat[r * cols + c] * rz[r * cols + c];
              double m_xrz = colmean(tmp, rows, cols, c);
              double m_dy = colmean(dY, rows, cols, c);
              for (int r = 0; r < rows; r++) tmp[r * cols + c] = dY[r * cols + c] * s.xhat[r * cols + c];
              double m_dyx = colmean(tmp, rows, cols, c);
              for (int r = 0; r < rows; r++) tmp[r * cols + c] = gm * dY[r * cols + c] * s.xhat[r * cols + c];
              double m_gx = colmean(tmp, rows, cols, c);
              for (int r = 0; r < rows; r++) tmp[r * cols + c] = gm * dY[r * cols + c] * rx[r * cols + c];
              double m_grx = colmean(tmp, rows, cols, c);
              double sdyr = 0;
              for (int r = 0; r < rows; r++) {
                size_t i = (size_t)r * cols + c;
                double v = mode == HS_BN_BATCH
                               ? -rs * m_xrz * dZ[i] +
                                     rg * rs * (dY[i] - m_dy - s.xhat[i] * m_dyx) -
                                     rs * (rx[i] * m_gx + s.xhat[i] * m_grx)
                               : rs * rg * dY[i];
                RdZ[j * n + i] += v;
                sdyr += dY[i] * rx[i];
              }
              Rdg[j * pstride + c] += sdyr;
            }
          }
          check_buf(&dRdZ, RdZ, "bn_rbwd_extra RdZ");
          check_buf(&dRdg, Rdg, "bn_rbwd_extra Rdgamma");
          bn_state_free(&s);
          dfree(&ddY), dfree(&ddZ), dfree(&dRZ), dfree(&dRX), dfree(&dRg), dfree(&dRdZ),
              dfree(&dRdg);
          free(dY), free(dZ), free(RZ), free(RX), free(Rg), free(RdZ0), free(Rdg0), free(RdZ),
              free(Rdg), free(tmp);
        }
}

Test(backend_cpu, bn_invalid) {
  double z[4] = {1, 2, 3, 4}, g[2] = {1, 1}, o[4];
  cr_assert_eq(be->ops->bn_fwd(be, HS_F64, 3, 2, 2, z, g, g, NULL, NULL, o, o, o, o), HS_E_INVALID);
  cr_assert(strstr(be->errmsg, "bn_fwd") != NULL, "'%s'", be->errmsg);
  /* running mode without running statistics */
  cr_assert_eq(be->ops->bn_fwd(be, HS_F64, HS_BN_RUNNING, 2, 2, z, g, g, NULL, NULL, o, o, o, o),
               HS_E_INVALID);
  /* batch statistics of an empty batch */
  cr_assert_eq(be->ops->bn_fwd(be, HS_F64, HS_BN_BATCH, 0, 2, z, g, g, NULL, NULL, o, o, o, o),
               HS_E_INVALID);
}

/* ---- the BN contract itself, by central differences of the backend's own forward (f64) ----
 * bn_bwd must be the gradient of bn_fwd, bn_rfwd its directional derivative, and
 * bn_rbwd_extra (with R(dY) = 0) the directional derivative of bn_bwd's dZ and dgamma. */

typedef struct {
  double *xhat, *rstd, *Y;
} bn_fwd_out;

static void bn_fwd_host(int mode, int rows, int cols, const double *Z, const double *gamma,
                        const double *beta, const double *rm, const double *rv, double *xhat,
                        double *rstd, double *Y) {
  cr_assert_eq(be->ops->bn_fwd(be, HS_F64, mode, rows, cols, Z, gamma, beta, rm, rv, NULL, xhat,
                               rstd, Y),
               HS_OK, "%s", be->errmsg);
}

static double maxabs(const double *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

Test(backend_cpu, bn_contract_finite_differences) {
  const int rows = 7, cols = 13;
  const size_t n = (size_t)rows * cols;
  const double h = 1e-5;
  for (int md = 0; md < 2; md++) {
    int mode = BN_MODES[md];
    /* host memory is device memory on the CPU backend: call the ops on plain arrays */
    double *Z = rnd(HS_F64, n), *gamma = rnd(HS_F64, cols), *beta = rnd(HS_F64, cols);
    double *rm = rnd(HS_F64, cols), *rv = rnd(HS_F64, cols);
    for (int c = 0; c < cols; c++) rv[c] = fabs(rv[c]) + 0.5;
    double *RZ = rnd(HS_F64, n), *Rg = rnd(HS_F64, cols), *Rb = rnd(HS_F64, cols);
    double *W = rnd(HS_F64, n); /* dY: L = sum W .* Y */
    double *xh = zeros(n), *rs = zeros(cols), *Y = zeros(n);
    double *Zp = zeros(n), *Zm = zeros(n), *gp = zeros(cols), *gm = zeros(cols);
    double *bp = zeros(cols), *bm = zeros(cols);
    double *xhp = zeros(n), *xhm = zeros(n), *rsp = zeros(cols), *rsm = zeros(cols);
    double *Yp = zeros(n), *Ym = zeros(n);
    for (size_t i = 0; i < n; i++) Zp[i] = Z[i] + h * RZ[i], Zm[i] = Z[i] - h * RZ[i];
    for (int c = 0; c < cols; c++) {
      gp[c] = gamma[c] + h * Rg[c], gm[c] = gamma[c] - h * Rg[c];
      bp[c] = beta[c] + h * Rb[c], bm[c] = beta[c] - h * Rb[c];
    }
    bn_fwd_host(mode, rows, cols, Z, gamma, beta, rm, rv, xh, rs, Y);
    bn_fwd_host(mode, rows, cols, Zp, gp, bp, rm, rv, xhp, rsp, Yp);
    bn_fwd_host(mode, rows, cols, Zm, gm, bm, rm, rv, xhm, rsm, Ym);

    /* R-forward: RY = dY/de along (RZ, Rg, Rb) */
    double *RX = zeros(n), *RY = zeros(n), *fd = zeros(n);
    cr_assert_eq(be->ops->bn_rfwd(be, HS_F64, mode, 1, rows, cols, xh, rs, gamma, RZ, Rg, Rb, 0, RX,
                                  RY),
                 HS_OK);
    for (size_t i = 0; i < n; i++) fd[i] = (Yp[i] - Ym[i]) / (2 * h);
    for (size_t i = 0; i < n; i++)
      cr_assert(fabs(fd[i] - RY[i]) <= 1e-7 * (1 + maxabs(fd, n)), "bn_rfwd mode %d [%zu]: %g vs fd %g",
                mode, i, RY[i], fd[i]);

    /* backward: <dZ, RZ> + <dgamma, Rg> + <dbeta, Rb> = dL/de with dY = W */
    double *dZ = zeros(n), *dg = zeros(cols), *db = zeros(cols);
    cr_assert_eq(be->ops->bn_bwd(be, HS_F64, mode, 1, rows, cols, xh, rs, gamma, W, dZ, dg, db, 0),
                 HS_OK);
    double lhs = 0, lp = 0, lm = 0;
    for (size_t i = 0; i < n; i++) lhs += dZ[i] * RZ[i], lp += W[i] * Yp[i], lm += W[i] * Ym[i];
    for (int c = 0; c < cols; c++) lhs += dg[c] * Rg[c] + db[c] * Rb[c];
    double fdl = (lp - lm) / (2 * h);
    cr_assert(fabs(lhs - fdl) <= 1e-7 * (1 + fabs(fdl)), "bn_bwd mode %d: <grad, v> %.12g vs fd %.12g",
              mode, lhs, fdl);

    /* R-backward second-order terms: d/de of (dZ, dgamma) with dY = W held fixed */
    double *dZp = zeros(n), *dZm = zeros(n), *dgp = zeros(cols), *dgm = zeros(cols);
    cr_assert_eq(be->ops->bn_bwd(be, HS_F64, mode, 1, rows, cols, xhp, rsp, gp, W, dZp, dgp, NULL, 0),
                 HS_OK);
    cr_assert_eq(be->ops->bn_bwd(be, HS_F64, mode, 1, rows, cols, xhm, rsm, gm, W, dZm, dgm, NULL, 0),
                 HS_OK);
    double *RdZ = zeros(n), *Rdg = zeros(cols);
    cr_assert_eq(be->ops->bn_rbwd_extra(be, HS_F64, mode, 1, rows, cols, xh, rs, gamma, W, dZ, RZ,
                                        RX, Rg, 0, RdZ, Rdg),
                 HS_OK);
    for (size_t i = 0; i < n; i++) fd[i] = (dZp[i] - dZm[i]) / (2 * h);
    for (size_t i = 0; i < n; i++)
      cr_assert(fabs(fd[i] - RdZ[i]) <= 1e-7 * (1 + maxabs(fd, n)),
                "bn_rbwd_extra mode %d RdZ[%zu]: %g vs fd %g", mode, i, RdZ[i], fd[i]);
    for (int c = 0; c < cols; c++) {
      double f = (dgp[c] - dgm[c]) / (2 * h);
      cr_assert(fabs(f - Rdg[c]) <= 1e-7 * (1 + fabs(f)), "bn_rbwd_extra mode %d Rdgamma[%d]: %g vs fd %g",
                mode, c, Rdg[c], f);
    }
    double *all[] = {Z, gamma, beta, rm, rv, RZ, Rg, Rb, W, xh, rs, Y, Zp, Zm, gp, gm, bp, bm,
                     xhp, xhm, rsp, rsm, Yp, Ym, RX, RY, fd, dZ, dg, db, dZp, dZm, dgp, dgm, RdZ, Rdg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
  }
}

/* ============================== losses ============================== */

static void ref_softmax_row(const double *f, int C, double *p, double *loss_for_label, int label) {
  double mx = f[0];
  for (int c = 1; c < C; c++) mx = fmax(mx, f[c]);
  long double s = 0;
  for (int c = 0; c < C; c++) s += expl((long double)f[c] - mx);
  for (int c = 0; c < C; c++) p[c] = (double)(expl((long double)f[c] - mx) / s);
  *loss_for_label = (double)(logl(s) + mx - f[label]);
}

Test(backend_cpu, ce_fwd) {
  const int rows = 7, C = 5;
  for (int d = 0; d < 2; d++)
    for (int big = 0; big < 2; big++) { /* big: logits ~ 1e3, exp would overflow unshifted */
      hs_dtype t = DTYPES[d];
      double *F = rnd(t, rows * C);
      if (big)
        for (int i = 0; i < rows * C; i++) F[i] = round_t(t, 1000.0 * F[i]);
      int32_t *lab = rnd_labels(rows, C);
      dbuf dF = dnew(t, rows * C, F), dP = dnew(t, rows * C, NULL);
      double loss = NAN;
      cr_assert_eq(be->ops->ce_fwd(be, t, rows, C, dp(&dF), lab, dp(&dP), &loss), HS_OK, "%s",
                   be->errmsg);
      double P[35], ref_loss = 0, l;
      for (int r = 0; r < rows; r++) {
        ref_softmax_row(F + r * C, C, P + r * C, &l, lab[r]);
        ref_loss += l;
      }
      check_buf(&dP, P, "ce_fwd P");
      cr_assert(isfinite(loss));
      /* the loss sum is accumulated in double in both dtypes */
      cr_assert(fabs(loss - ref_loss) <= 1e-12 * (1 + fabs(ref_loss)), "ce_fwd %s: loss %.17g want %.17g",
                tname(t), loss, ref_loss);
      /* P == NULL: the loss alone */
      double loss2 = NAN;
      cr_assert_eq(be->ops->ce_fwd(be, t, rows, C, dp(&dF), lab, NULL, &loss2), HS_OK);
      cr_assert_eq(loss2, loss);
      dfree(&dF), dfree(&dP);
      free(F), free(lab);
    }
}

Test(backend_cpu, ce_bad_label) {
  double F[6] = {1, 2, 3, 4, 5, 6}, P[6], loss;
  int32_t lab[2] = {0, 3};
  cr_assert_eq(be->ops->ce_fwd(be, HS_F64, 2, 3, F, lab, P, &loss), HS_E_INVALID);
  cr_assert(strstr(be->errmsg, "ce_fwd") && strstr(be->errmsg, "label"), "'%s'", be->errmsg);
  lab[1] = -1;
  cr_assert_eq(be->ops->ce_bwd(be, HS_F64, 2, 3, P, lab, 1.0, P), HS_E_INVALID);
  size_t nc;
  cr_assert_eq(be->ops->ce_correct(be, HS_F64, 2, 3, F, lab, &nc), HS_E_INVALID);
}

Test(backend_cpu, ce_bwd) {
  const int rows = 7, C = 5;
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    double *P = rnd(t, rows * C);
    int32_t *lab = rnd_labels(rows, C);
    dbuf dP = dnew(t, rows * C, P), ddF = dnew(t, rows * C, NULL);
    cr_assert_eq(be->ops->ce_bwd(be, t, rows, C, dp(&dP), lab, 1.0 / 7, dp(&ddF)), HS_OK);
    double ref[35];
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < C; c++) ref[r * C + c] = (P[r * C + c] - (c == lab[r] ? 1.0 : 0.0)) / 7;
    check_buf(&ddF, ref, "ce_bwd");
    dfree(&dP), dfree(&ddF);
    free(P), free(lab);
  }
}

Test(backend_cpu, ce_rop) {
  const int rows = 7, C = 5;
  for (int d = 0; d < 2; d++)
    for (int kk = 0; kk < 2; kk++)
      for (int alias = 0; alias < 2; alias++) {
        hs_dtype t = DTYPES[d];
        int k = KS[kk];
        double *P = rnd(t, rows * C), *RF = rnd(t, k * rows * C);
        dbuf dP = dnew(t, rows * C, P), dRF = dnew(t, k * rows * C, RF),
             dR = dnew(t, k * rows * C, NULL);
        void *out = alias ? dp(&dRF) : dp(&dR);
        cr_assert_eq(be->ops->ce_rop(be, t, k, rows, C, dp(&dP), dp(&dRF), 0.25, out), HS_OK);
        double *ref = malloc(k * rows * C * sizeof *ref);
        for (int j = 0; j < k; j++)
          for (int r = 0; r < rows; r++) {
            const double *p = P + r * C, *rf = RF + (j * rows + r) * C;
            double s = 0;
            for (int c = 0; c < C; c++) s += p[c] * rf[c];
            for (int c = 0; c < C; c++) ref[(j * rows + r) * C + c] = 0.25 * p[c] * (rf[c] - s);
          }
        check_buf(alias ? &dRF : &dR, ref, "ce_rop");
        dfree(&dP), dfree(&dRF), dfree(&dR);
        free(P), free(RF), free(ref);
      }
}

Test(backend_cpu, ce_rop_is_the_softmax_jacobian) {
  /* d/de [softmax(F + e RF) - onehot] = the op with scale 1 (f64, central differences) */
  const int rows = 7, C = 5;
  double *F = rnd(HS_F64, rows * C), *RF = rnd(HS_F64, rows * C);
  double Fp[35], Fm[35], Pp[35], Pm[35], P[35], R[35], loss;
  int32_t *lab = rnd_labels(rows, C);
  const double h = 1e-6;
  for (int i = 0; i < rows * C; i++) Fp[i] = F[i] + h * RF[i], Fm[i] = F[i] - h * RF[i];
  cr_assert_eq(be->ops->ce_fwd(be, HS_F64, rows, C, F, lab, P, &loss), HS_OK);
  cr_assert_eq(be->ops->ce_fwd(be, HS_F64, rows, C, Fp, lab, Pp, &loss), HS_OK);
  cr_assert_eq(be->ops->ce_fwd(be, HS_F64, rows, C, Fm, lab, Pm, &loss), HS_OK);
  cr_assert_eq(be->ops->ce_rop(be, HS_F64, 1, rows, C, P, RF, 1.0, R), HS_OK);
  for (int i = 0; i < rows * C; i++) {
    double fd = (Pp[i] - Pm[i]) / (2 * h);
    cr_assert(fabs(fd - R[i]) <= 1e-8, "ce_rop[%d]: %g vs fd %g", i, R[i], fd);
  }
  free(F), free(RF), free(lab);
}

Test(backend_cpu, ce_correct) {
  const int rows = 7, C = 5;
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    double *F = rnd(t, rows * C);
    int32_t *lab = rnd_labels(rows, C);
    /* row 0: a tie between columns 1 and 3, the first maximum wins */
    F[1] = F[3] = 9;
    lab[0] = 3;
    dbuf dF = dnew(t, rows * C, F);
    size_t got = 99;
    cr_assert_eq(be->ops->ce_correct(be, t, rows, C, dp(&dF), lab, &got), HS_OK);
    size_t ref = 0;
    for (int r = 0; r < rows; r++) {
      int best = 0;
      for (int c = 1; c < C; c++)
        if (F[r * C + c] > F[r * C + best]) best = c;
      ref += best == lab[r];
    }
    cr_assert_eq(got, ref, "ce_correct %s: %zu want %zu", tname(t), got, ref);
    lab[0] = 1;
    cr_assert_eq(be->ops->ce_correct(be, t, rows, C, dp(&dF), lab, &got), HS_OK);
    cr_assert_eq(got, ref + 1, "ties: the first maximum counts");
    dfree(&dF);
    free(F), free(lab);
  }
}

Test(backend_cpu, mse_fwd_bwd) {
  const int rows = 7, C = 5;
  for (int d = 0; d < 2; d++)
    for (int variant = 0; variant < 3; variant++) { /* dF separate, dF NULL, dF over F */
      hs_dtype t = DTYPES[d];
      double *F = rnd(t, rows * C), *T = rnd(t, rows * C);
      dbuf dF = dnew(t, rows * C, F), dT = dnew(t, rows * C, T), ddF = dnew(t, rows * C, NULL);
      double loss = NAN;
      void *out = variant == 0 ? dp(&ddF) : variant == 1 ? NULL : dp(&dF);
      cr_assert_eq(be->ops->mse_fwd_bwd(be, t, rows, C, dp(&dF), dp(&dT), 0.5, &loss, out), HS_OK);
      double ref_loss = 0, ref[35];
      for (int i = 0; i < rows * C; i++) {
        double e = F[i] - T[i];
        ref_loss += 0.5 * e * e;
        ref[i] = 0.5 * e;
      }
      cr_assert(fabs(loss - ref_loss) <= 1e-12 * (1 + ref_loss), "mse %s: %.17g want %.17g",
                tname(t), loss, ref_loss);
      if (variant == 0) check_buf(&ddF, ref, "mse dF");
      if (variant == 1) dget(&ddF, NULL, "mse dF untouched");
      if (variant == 2) check_buf(&dF, ref, "mse dF in place");
      dfree(&dF), dfree(&dT), dfree(&ddF);
      free(F), free(T);
    }
}

/* ============================== syev ============================== */

Test(backend_cpu, syev) {
  int sizes[3] = {1, 7, 40};
  for (int d = 0; d < 2; d++)
    for (int s = 0; s < 3; s++) {
      hs_dtype t = DTYPES[d];
      int n = sizes[s];
      size_t nn = (size_t)n * n;
      double *A = rnd(t, nn);
      for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) A[j * n + i] = A[i * n + j]; /* symmetric */
      dbuf dA = dnew(t, nn, A), dw = dnew(t, n, NULL);
      cr_assert_eq(be->ops->syev(be, t, n, dp(&dA), dp(&dw)), HS_OK, "%s", be->errmsg);
      double *V = malloc(nn * sizeof *V), *w = malloc(n * sizeof *w);
      dget(&dA, V, "syev vectors");
      dget(&dw, w, "syev values");
      double anorm = 0;
      for (size_t i = 0; i < nn; i++) anorm = fmax(anorm, fabs(A[i]));
      /* backward-stable solver: residual and orthogonality O(n eps ||A||) */
      double tol = 64.0 * n * eps_t(t);
      for (int i = 0; i < n; i++) {
        if (i > 0) cr_assert(w[i - 1] <= w[i], "eigenvalues not ascending at %d", i);
        for (int r = 0; r < n; r++) { /* (A v_i)[r] - w_i v_i[r], v_i = row i */
          double av = 0;
          for (int c = 0; c < n; c++) av += A[r * n + c] * V[i * n + c];
          cr_assert(fabs(av - w[i] * V[i * n + r]) <= tol * anorm * n,
                    "syev %s n=%d: residual of pair %d at %d: %g", tname(t), n, i, r,
                    av - w[i] * V[i * n + r]);
        }
        for (int j = 0; j <= i; j++) {
          double dd = 0;
          for (int c = 0; c < n; c++) dd += V[i * n + c] * V[j * n + c];
          cr_assert(fabs(dd - (i == j)) <= tol, "syev %s n=%d: <v%d, v%d> = %g", tname(t), n, i, j, dd);
        }
      }
      double tr = 0, sw = 0;
      for (int i = 0; i < n; i++) tr += A[i * n + i], sw += w[i];
      cr_assert(fabs(tr - sw) <= tol * anorm * n, "trace %g vs sum of eigenvalues %g", tr, sw);
      dfree(&dA), dfree(&dw);
      free(A), free(V), free(w);
    }
}

Test(backend_cpu, syev_known_and_nonfinite) {
  /* [[2, 1], [1, 2]]: eigenvalues 1 and 3 */
  double A[4] = {2, 1, 1, 2}, w[2];
  cr_assert_eq(be->ops->syev(be, HS_F64, 2, A, w), HS_OK);
  cr_assert(fabs(w[0] - 1) < 1e-14 && fabs(w[1] - 3) < 1e-14);
  cr_assert(fabs(fabs(A[0]) - M_SQRT1_2) < 1e-14 && fabs(A[0] + A[1]) < 1e-14,
            "row 0 must be the eigenvector of 1: (%g, %g)", A[0], A[1]);
  /* only the upper triangle (row-major) is read: the lower one holds junk */
  double U[4] = {2, 1, -77, 2};
  cr_assert_eq(be->ops->syev(be, HS_F64, 2, U, w), HS_OK);
  cr_assert(fabs(w[0] - 1) < 1e-14 && fabs(w[1] - 3) < 1e-14, "read the lower triangle: %g %g", w[0], w[1]);
  double B[4] = {1, NAN, NAN, 1};
  cr_assert_eq(be->ops->syev(be, HS_F64, 2, B, w), HS_E_NUMERIC);
  cr_assert(strstr(be->errmsg, "syev") != NULL);
  cr_assert_eq(be->ops->syev(be, HS_F64, 0, NULL, NULL), HS_OK);
}

/* ============================== determinism ============================== */

/* The same ops on backends with 1 and 3 threads must agree to the bit: reductions are
 * fixed-order. Sizes are above the parallel threshold. */
Test(backend_cpu, thread_count_does_not_change_results) {
  hs_backend *b1, *b3;
  cr_assert_eq(hs_cpu_backend_create(1, &b1), HS_OK);
  cr_assert_eq(hs_cpu_backend_create(3, &b3), HS_OK);
  hs_backend *bs[2] = {b1, b3};
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    size_t es = t == HS_F64 ? 8 : 4;
    const size_t n = 300007;
    const int rows = 1500, cols = 70, k = 3, C = 10, lrows = 5000;
    double *x = rnd(t, n), *y = rnd(t, n);
    double *X = rnd(t, (size_t)k * rows * cols), *gam = rnd(t, cols), *bet = rnd(t, cols);
    double *F = rnd(t, (size_t)lrows * C), *T = rnd(t, (size_t)lrows * C);
    int32_t *lab = rnd_labels(lrows, C);
    void *raw[8];
    double res[2][4];
    void *out[2][6];
    for (int b = 0; b < 2; b++) {
      hs_backend *e = bs[b];
      /* the CPU backend works on host memory: plain converted arrays are its buffers */
      for (int i = 0; i < 8; i++) raw[i] = NULL;
      raw[0] = malloc(n * es), raw[1] = malloc(n * es);
      raw[2] = malloc((size_t)k * rows * cols * es);
      raw[3] = malloc(cols * es), raw[4] = malloc(cols * es);
      raw[5] = malloc((size_t)lrows * C * es), raw[6] = malloc((size_t)lrows * C * es);
      host_to_dtype(t, x, n, raw[0]);
      host_to_dtype(t, y, n, raw[1]);
      host_to_dtype(t, X, (size_t)k * rows * cols, raw[2]);
      host_to_dtype(t, gam, cols, raw[3]);
      host_to_dtype(t, bet, cols, raw[4]);
      host_to_dtype(t, F, (size_t)lrows * C, raw[5]);
      host_to_dtype(t, T, (size_t)lrows * C, raw[6]);
      cr_assert_eq(e->ops->dot(e, t, n, raw[0], raw[1], &res[b][0]), HS_OK);
      cr_assert_eq(e->ops->nrm2(e, t, n, raw[0], &res[b][1]), HS_OK);
      cr_assert_eq(e->ops->ce_fwd(e, t, lrows, C, raw[5], lab, NULL, &res[b][2]), HS_OK);
      cr_assert_eq(e->ops->mse_fwd_bwd(e, t, lrows, C, raw[5], raw[6], 1.0, &res[b][3], NULL), HS_OK);
      out[b][0] = calloc(k * cols, es); /* col_sum */
      cr_assert_eq(e->ops->col_sum(e, t, k, rows, cols, raw[2], out[b][0], cols), HS_OK);
      out[b][1] = malloc((size_t)rows * cols * es); /* bn_fwd xhat */
      out[b][2] = malloc(cols * es);                /* rstd */
      out[b][3] = malloc((size_t)rows * cols * es); /* Y */
      cr_assert_eq(e->ops->bn_fwd(e, t, HS_BN_BATCH, rows, cols, raw[2], raw[3], raw[4], NULL, NULL,
                                  NULL, out[b][1], out[b][2], out[b][3]),
                   HS_OK);
      out[b][4] = malloc((size_t)k * rows * cols * es); /* bn_bwd dZ */
      out[b][5] = calloc(k * cols, es);                 /* dgamma */
      cr_assert_eq(e->ops->bn_bwd(e, t, HS_BN_BATCH, k, rows, cols, out[b][1], out[b][2], raw[3],
                                  raw[2], out[b][4], out[b][5], NULL, cols),
                   HS_OK);
      for (int i = 0; i < 8; i++) free(raw[i]);
    }
    cr_assert(memcmp(res[0], res[1], sizeof res[0]) == 0,
              "%s: dot/nrm2/ce/mse differ across thread counts: %.17g/%.17g %.17g/%.17g", tname(t),
              res[0][0], res[1][0], res[0][2], res[1][2]);
    size_t sizes[6] = {k * cols, (size_t)rows * cols, cols, (size_t)rows * cols,
                       (size_t)k * rows * cols, k * cols};
    for (int i = 0; i < 6; i++) {
      cr_assert(memcmp(out[0][i], out[1][i], sizes[i] * es) == 0,
                "%s: output %d differs across thread counts", tname(t), i);
      free(out[0][i]), free(out[1][i]);
    }
    free(x), free(y), free(X), free(gam), free(bet), free(F), free(T), free(lab);
  }
  b1->ops->destroy(b1);
  b3->ops->destroy(b3);
}

/* OpenBLAS's own threading changes gemm/gemv results with the thread count (it does at
 * these shapes on 0.3.21); the backend's fixed tiling must not. */
Test(backend_cpu, blas_thread_count_does_not_change_results) {
  hs_backend *bs[2];
  cr_assert_eq(hs_cpu_backend_create(1, &bs[0]), HS_OK);
  cr_assert_eq(hs_cpu_backend_create(3, &bs[1]), HS_OK);
  const int gshapes[3][3] = {{700, 4, 700}, {2000, 8, 300}, {128, 784, 1000}};
  const int vshapes[3][2] = {{700, 700}, {40, 100003}, {3000, 600}};
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    size_t es = t == HS_F64 ? 8 : 4;
    for (int s = 0; s < 3; s++) {
      int m = gshapes[s][0], n = gshapes[s][1], k = gshapes[s][2];
      double *A = rnd(t, (size_t)m * k), *B = rnd(t, (size_t)k * n);
      void *a = malloc((size_t)m * k * es), *b = malloc((size_t)k * n * es), *c[2];
      host_to_dtype(t, A, (size_t)m * k, a);
      host_to_dtype(t, B, (size_t)k * n, b);
      for (int e = 0; e < 2; e++) {
        c[e] = calloc((size_t)m * n, es);
        cr_assert_eq(bs[e]->ops->gemm(bs[e], t, HS_NOTRANS, HS_NOTRANS, m, n, k, 1.0, a, k, b, n, 0.0,
                                      c[e], n),
                     HS_OK);
      }
      cr_assert(memcmp(c[0], c[1], (size_t)m * n * es) == 0, "gemm %dx%dx%d %s differs across threads",
                m, n, k, tname(t));
      free(A), free(B), free(a), free(b), free(c[0]), free(c[1]);
    }
    for (int s = 0; s < 3; s++)
      for (int ta = 0; ta < 2; ta++) {
        int m = vshapes[s][0], n = vshapes[s][1], xl = ta ? m : n, yl = ta ? n : m;
        double *A = rnd(t, (size_t)m * n), *X = rnd(t, xl);
        void *a = malloc((size_t)m * n * es), *x = malloc(xl * es), *y[2];
        host_to_dtype(t, A, (size_t)m * n, a);
        host_to_dtype(t, X, xl, x);
        for (int e = 0; e < 2; e++) {
          y[e] = calloc(yl, es);
          cr_assert_eq(bs[e]->ops->gemv(bs[e], t, ta, m, n, 1.0, a, n, x, 0.0, y[e]), HS_OK);
        }
        cr_assert(memcmp(y[0], y[1], yl * es) == 0, "gemv %dx%d %c %s differs across threads", m, n,
                  ta ? 'T' : 'N', tname(t));
        free(A), free(X), free(a), free(x), free(y[0]), free(y[1]);
      }
  }
  bs[0]->ops->destroy(bs[0]);
  bs[1]->ops->destroy(bs[1]);
}

/* dot's order is part of the contract: blocks of 4096 summed left to right in double, block
 * partials added in index order. Rebuilt here to the bit. */
Test(backend_cpu, dot_fixed_order) {
  const size_t n = 40 * 4096 + 1234; /* above the parallel threshold: 41 blocks */
  for (int d = 0; d < 2; d++) {
    hs_dtype t = DTYPES[d];
    double *x = rnd(t, n), *y = rnd(t, n);
    for (size_t i = 0; i < n; i += 4096) x[i] = round_t(t, x[i] * 1e6); /* order-sensitive sums */
    dbuf dx = dnew(t, n, x), dy = dnew(t, n, y);
    double got;
    cr_assert_eq(be->ops->dot(be, t, n, dp(&dx), dp(&dy), &got), HS_OK);
    double part[41], total = 0, reversed = 0;
    for (size_t b = 0; b < 41; b++) {
      double s = 0;
      for (size_t i = b * 4096; i < n && i < (b + 1) * 4096; i++) s += x[i] * y[i];
      part[b] = s;
      total += s;
    }
    for (int b = 40; b >= 0; b--) reversed += part[b];
    cr_assert(total != reversed, "test data too benign: the order of the partials does not show");
    cr_assert(got == total, "dot %s %.17g, fixed-order reference %.17g", tname(t), got, total);
    dfree(&dx), dfree(&dy);
    free(x), free(y);
  }
}
