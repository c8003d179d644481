/* The helpers that have one home each (STYLE.md "One home per helper"): the mean and its
 * standard error (core/stats), the growing string (core/sbuf), mkdir -p (io/file), the timer
 * (core/clock) and the Gram-Schmidt projection (linalg/linop_util), each against an
 * independent reference: closed forms, snprintf, stat, nanosleep, and a projection computed
 * in double on the host. */
#include "io_fixture.h"

#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/sbuf.h"
#include "core/stats.h"
#include "io/file.h"
#include "linalg/linop_util.h"
#include "support/hs_test.h"

/* ---- mean and standard error ---- */

Test(helpers, mean_se_closed_form) {
  /* x = 1..4: mean 5/2, sample variance 5/3, se = sqrt(5/3/4) */
  const double x[4] = {1, 2, 3, 4};
  double m, se;
  hs_mean_se(4, x, &m, &se);
  cr_assert_float_eq(m, 2.5, 1e-15);
  cr_assert_float_eq(se, sqrt(5.0 / 12.0), 1e-15);
  /* constant samples: no spread */
  const double c[3] = {-7, -7, -7};
  hs_mean_se(3, c, &m, &se);
  cr_assert_eq(m, -7.0);
  cr_assert_eq(se, 0.0);
}

Test(helpers, mean_se_two_pass_keeps_precision) {
  /* 1e9 + (1..4): a one-pass sum-of-squares formula loses every digit of the variance here
   * (sum x^2 ~ 4e18, ulp 512); the two-pass form keeps it */
  const double x[4] = {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4};
  double m, se;
  hs_mean_se(4, x, &m, &se);
  cr_assert_float_eq(m, 1e9 + 2.5, 1e-6);
  cr_assert_float_eq(se, sqrt(5.0 / 12.0), 1e-9);
}

Test(helpers, mean_se_too_few_samples) {
  const double x[1] = {3.25};
  double m, se;
  hs_mean_se(1, x, &m, &se);
  cr_assert_eq(m, 3.25);
  cr_assert(isnan(se), "one sample has no standard error, got %g", se);
  hs_mean_se(0, x, &m, &se);
  cr_assert(isnan(m) && isnan(se));
}

/* ---- the growing string ---- */

Test(helpers, sbuf_matches_snprintf) {
  hs_sbuf b = {0};
  static char ref[64000];
  size_t len = 0;
  /* many small appends, past the first capacity several times */
  for (int i = 0; i < 3000; i++) {
    hs_sbuf_printf(&b, "%d,%s;", i, i % 7 ? "ab" : "");
    len += (size_t)snprintf(ref + len, sizeof ref - len, "%d,%s;", i, i % 7 ? "ab" : "");
  }
  /* one append larger than doubling gives */
  char big[20000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  hs_sbuf_printf(&b, "%s", big);
  len += (size_t)snprintf(ref + len, sizeof ref - len, "%s", big);
  cr_assert_lt(len, sizeof ref);
  cr_assert_eq(b.len, len);
  cr_assert_eq(b.bad, 0);
  char *s = hs_sbuf_finish(&b);
  cr_assert_not_null(s);
  cr_assert_eq(strlen(s), len);
  cr_assert(strcmp(s, ref) == 0, "the built string differs from snprintf's");
  cr_assert(b.s == NULL && b.len == 0 && b.cap == 0, "finish leaves the buffer empty");
  free(s);
}

Test(helpers, sbuf_empty_finishes_as_empty_string) {
  hs_sbuf b = {0};
  char *s = hs_sbuf_finish(&b);
  cr_assert_not_null(s);
  cr_assert_str_eq(s, "");
  free(s);
}

Test(helpers, sbuf_after_failure_returns_null) {
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "kept?");
  b.bad = 1; /* as after a failed realloc: output ignored, finish frees and says so */
  hs_sbuf_printf(&b, "ignored");
  cr_assert_eq(b.len, 5);
  cr_assert_null(hs_sbuf_finish(&b));
  cr_assert_null(b.s);
}

/* ---- mkdir -p ---- */

static int is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

Test(helpers, mkdir_p_nested_and_existing, .init = io_setup, .fini = io_teardown) {
  const char *deep = io_path("a/b/c");
  io_assert_ok(hs_mkdir_p(io_ctx, deep, "folder"));
  cr_assert(is_dir(io_path("a")) && is_dir(io_path("a/b")) && is_dir(deep));
  /* again: an existing folder is fine, and so are its parents */
  io_assert_ok(hs_mkdir_p(io_ctx, deep, "folder"));
  io_assert_ok(hs_mkdir_p(io_ctx, io_path("a"), "folder"));
  /* doubled and trailing slashes */
  io_assert_ok(hs_mkdir_p(io_ctx, io_path("a//b/d/"), "folder"));
  cr_assert(is_dir(io_path("a/b/d")));
}

Test(helpers, mkdir_p_names_the_path, .init = io_setup, .fini = io_teardown) {
  io_write(io_path("file"), "x", 1);
  /* the path itself is a file */
  io_assert_fail(hs_mkdir_p(io_ctx, io_path("file"), "output folder"), HS_E_OUTPUT, io_path("file"),
                 "cannot create the output folder (Not a directory)");
  /* a parent is a file: the message names the path and the parent */
  const char *under = io_path("file/sub/dir");
  io_assert_fail(hs_mkdir_p(io_ctx, under, "checkpoint folder"), HS_E_OUTPUT, under,
                 "cannot create the checkpoint folder: ");
  cr_assert(strstr(hs_last_error(io_ctx), io_path("file: ")), "parent not named: %s",
            hs_last_error(io_ctx));
  cr_assert(!io_exists(io_path("file/sub")));
  io_assert_fail(hs_mkdir_p(io_ctx, "", "folder"), HS_E_INVALID, "", "the path is empty");
}

/* ---- the timer ---- */

Test(helpers, now_is_monotonic_seconds) {
  double t0 = hs_now();
  struct timespec d = {0, 20 * 1000 * 1000};
  nanosleep(&d, NULL);
  double t1 = hs_now(), t2 = hs_now();
  cr_assert_geq(t1 - t0, 0.019, "slept 20 ms, the timer saw %g s", t1 - t0);
  cr_assert_lt(t1 - t0, 5.0);
  cr_assert_geq(t2, t1);
}

/* ---- the Gram-Schmidt projection ---- */

Test(helpers, project_out_matches_host_projection) {
  for (int d = 0; d < 2; d++) {
    hs_dtype t = d ? HS_F32 : HS_F64;
    hs_context *ctx = hs_test_ctx(t, 1);
    hs_backend *be = ctx->be;
    const int rows = 3, n = 11, lda = 13; /* lda > n: the gaps must not be read as basis */
    double Q[3 * 13], w[11], h[3];
    /* orthonormal rows by Gram-Schmidt in double on the host; gaps hold garbage */
    for (int i = 0; i < rows * lda; i++) Q[i] = 1e6 * (i + 1);
    for (int i = 0; i < rows; i++) {
      double *q = Q + i * lda;
      for (int c = 0; c < n; c++) q[c] = hs_rng_normal(7, 1, (uint64_t)(i * n + c));
      for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < i; j++) {
          double dot = hs_test_dot(q, Q + j * lda, (size_t)n);
          for (int c = 0; c < n; c++) q[c] -= dot * Q[j * lda + c];
        }
      double nr = sqrt(hs_test_dot(q, q, (size_t)n));
      for (int c = 0; c < n; c++) q[c] /= nr;
    }
    for (int c = 0; c < n; c++) w[c] = hs_rng_normal(7, 2, (uint64_t)c);
    /* reference: h = Q w, w' = w - Q^T h */
    double ref_w[11], ref_h[3];
    for (int i = 0; i < rows; i++) ref_h[i] = hs_test_dot(Q + i * lda, w, (size_t)n);
    for (int c = 0; c < n; c++) {
      ref_w[c] = w[c];
      for (int i = 0; i < rows; i++) ref_w[c] -= ref_h[i] * Q[i * lda + c];
    }
    void *dQ, *dw, *dh;
    cr_assert_eq(hs_dev_alloc(ctx, t, (size_t)rows * lda, &dQ), HS_OK);
    cr_assert_eq(hs_dev_alloc(ctx, t, (size_t)n, &dw), HS_OK);
    cr_assert_eq(hs_dev_alloc(ctx, t, (size_t)rows, &dh), HS_OK);
    cr_assert_eq(hs_dev_upload_f64(ctx, t, dQ, Q, (size_t)rows * lda), HS_OK);
    cr_assert_eq(hs_dev_upload_f64(ctx, t, dw, w, (size_t)n), HS_OK);
    cr_assert_eq(hs_project_out(ctx, t, rows, (size_t)n, dQ, lda, dw, dh), HS_OK, "%s",
                 hs_last_error(ctx));
    double got_w[11], got_h[3];
    cr_assert_eq(hs_dev_download_f64(ctx, t, got_w, dw, (size_t)n), HS_OK);
    cr_assert_eq(hs_dev_download_f64(ctx, t, got_h, dh, (size_t)rows), HS_OK);
    double tol = t == HS_F64 ? 1e-14 : 1e-6;
    cr_assert_leq(hs_test_relerr(got_h, ref_h, (size_t)rows, 1.0), tol, "h = Q w");
    cr_assert_leq(hs_test_relerr(got_w, ref_w, (size_t)n, 1.0), tol, "w - Q^T Q w");
    /* the result is orthogonal to the basis (to the dtype's rounding) */
    for (int i = 0; i < rows; i++)
      cr_assert_leq(fabs(hs_test_dot(got_w, Q + i * lda, (size_t)n)), 10 * tol, "row %d", i);
    /* no rows: nothing happens */
    cr_assert_eq(hs_project_out(ctx, t, 0, (size_t)n, dQ, lda, dw, dh), HS_OK);
    double again[11];
    cr_assert_eq(hs_dev_download_f64(ctx, t, again, dw, (size_t)n), HS_OK);
    cr_assert(memcmp(again, got_w, sizeof again) == 0);
    /* a backend failure comes back with the op's message in the context (lda < n) */
    cr_assert_eq(hs_project_out(ctx, t, rows, (size_t)n, dQ, n - 1, dw, dh), HS_E_INVALID);
    cr_assert(strstr(hs_last_error(ctx), "gemv") != NULL, "message: %s", hs_last_error(ctx));
    be->ops->free(be, dQ);
    be->ops->free(be, dw);
    be->ops->free(be, dh);
    hs_context_destroy(ctx);
  }
}
