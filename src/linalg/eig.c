#include "core/alloc.h"
#include "linalg/eig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "linalg/lanczos.h"
#include "linalg/linop_util.h"
#include "linalg/tridiag.h"

void hs_eig_free(hs_eig_result *r) {
  if (!r) return;
  free(r->values);
  free(r->residuals);
  free(r->vectors);
  free(r);
}

static hs_eig_result *result_new(size_t n, size_t count, int with_res, int with_vec) {
  hs_eig_result *r = hs_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->n = n;
  r->requested = count;
  r->values = hs_calloc(count + 1, sizeof *r->values);
  r->residuals = with_res ? hs_calloc(count + 1, sizeof *r->residuals) : NULL;
  r->vectors = with_vec ? hs_malloc(count * n * sizeof *r->vectors + 1) : NULL;
  if (!r->values || (with_res && !r->residuals) || (with_vec && !r->vectors)) {
    hs_eig_free(r);
    return NULL;
  }
  return r;
}

/* Indices (into ascending Ritz values of a j x j T) of the r wanted pairs, ascending. */
static size_t wanted_first(hs_eig_which which, size_t j, size_t r) {
  return which == HS_EIG_TOP ? j - r : 0;
}

hs_status hs_eig_extremal(hs_linop *op, const hs_eig_options *opt, hs_eig_result **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = op->dtype;
  size_t n = op->n, K = opt->count;
  const char *flag = opt->which == HS_EIG_TOP ? "--top" : "--bottom";
  if (K < 1 || K > n)
    return hs_fail(ctx, HS_E_INVALID, "eig: %s %zu must be between 1 and n = %zu", flag, K, n);
  size_t mmax = opt->max_steps;
  if (mmax == 0) {
    mmax = 4 * K + 50 > 300 ? 4 * K + 50 : 300;
    if (mmax > n) mmax = n;
  }
  if (mmax > n || mmax < 1)
    return hs_fail(ctx, HS_E_INVALID, "eig: --max-steps %zu must be between 1 and n = %zu", mmax, n);
  double tol = opt->tol > 0 ? opt->tol : (t == HS_F64 ? 1e-9 : 1e-4);
  double t0 = hs_now();
  hs_status st = HS_OK;
  hs_lanczos *lz = NULL;
  hs_eig_result *r = NULL;
  double *theta = NULL, *Z = NULL, *S = NULL, *vals = NULL;
  void *Y = NULL, *AY = NULL;

  hs_lanczos_options lo = {.probes = 1, .max_steps = mmax, .breakdown_tol = 0};
  HS_TRY(hs_lanczos_create(op, &lo, &lz));
  HS_TRY(opt->start ? hs_lanczos_start(lz, opt->start) : hs_lanczos_start_rademacher(lz, opt->seed));
  theta = hs_malloc(mmax * sizeof *theta);
  Z = hs_malloc(mmax * mmax * sizeof *Z);
  if (!theta || !Z) {
    st = hs_fail(ctx, HS_E_NOMEM, "eig: out of host memory");
    goto cleanup;
  }

  size_t next = 2 * K + 10 < mmax ? 2 * K + 10 : mmax, j = 0;
  double anorm = 0;
  for (;;) {
    HS_TRY(hs_lanczos_run(lz, next));
    j = lz->steps[0];
    HS_TRY(hs_tridiag_eig(ctx, j, lz->alpha, lz->beta, theta, Z));
    anorm = fmax(fabs(theta[0]), fabs(theta[j - 1]));
    size_t rr = K < j ? K : j, first = wanted_first(opt->which, j, rr);
    int conv = rr == K;
    for (size_t i = first; conv && i < first + rr; i++)
      conv = lz->beta[j - 1] * fabs(Z[i * j + j - 1]) <= tol * anorm;
    if (conv || lz->stopped[0] || j >= mmax) break;
    next = j + (j / 4 > 10 ? j / 4 : 10);
    if (next > mmax) next = mmax;
  }

  /* Ritz vectors of the wanted pairs and their explicit residuals. */
  size_t rr = K < j ? K : j, first = wanted_first(opt->which, j, rr);
  S = hs_malloc(rr * j * sizeof *S);
  vals = hs_malloc(rr * sizeof *vals);
  if (!S || !vals) {
    st = hs_fail(ctx, HS_E_NOMEM, "eig: out of host memory");
    goto cleanup;
  }
  for (size_t i = 0; i < rr; i++) {
    memcpy(S + i * j, Z + (first + i) * j, j * sizeof *S);
    vals[i] = theta[first + i];
  }
  HS_TRY(hs_dev_alloc(ctx, t, rr * n, &Y));
  HS_TRY(hs_dev_alloc(ctx, t, rr * n, &AY));
  HS_TRY(hs_lanczos_combine(lz, 0, j, rr, S, Y));
  double ta = hs_now();
  HS_TRY(hs_linop_apply_all(op, rr, Y, AY));
  HS_OP(ctx, be->ops->sync(be));
  double t_apply_extra = hs_now() - ta;

  r = result_new(n, K, 1, opt->want_vectors);
  if (!r) {
    st = hs_fail(ctx, HS_E_NOMEM, "eig: out of host memory");
    goto cleanup;
  }
  for (size_t i = 0; i < rr; i++) {
    double res;
    void *ay = hs_dptr(AY, t, i * n), *y = hs_dptr(Y, t, i * n);
    HS_OP(ctx, be->ops->axpy(be, t, n, -vals[i], y, ay));
    HS_OP(ctx, be->ops->nrm2(be, t, n, ay, &res));
    if (!(res <= tol * anorm)) continue; /* also drops NaN */
    r->values[r->found] = vals[i];
    r->residuals[r->found] = res;
    if (opt->want_vectors) HS_TRY(hs_dev_download_f64(ctx, t, r->vectors + r->found * n, y, n));
    r->found++;
  }
  r->tol = tol;
  r->anorm = anorm;
  r->steps = j;
  r->applies = lz->applies + rr;
  r->t_apply = lz->t_apply + t_apply_extra;
  r->t_total = hs_now() - t0;
  *out = r;
  r = NULL;
cleanup:
  hs_lanczos_destroy(lz);
  hs_eig_free(r);
  free(theta);
  free(Z);
  free(S);
  free(vals);
  be->ops->free(be, Y);
  be->ops->free(be, AY);
  return st;
}

hs_status hs_eig_exact(hs_linop *op, size_t limit, int want_vectors, hs_eig_result **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = op->dtype;
  size_t n = op->n;
  if (limit == 0) limit = HS_EIG_EXACT_LIMIT;
  if (n > limit)
    return hs_fail(ctx, HS_E_INVALID,
                   "eig --exact: n = %zu exceeds the limit of %zu (a dense %zu x %zu matrix); "
                   "raise it with --exact-limit N",
                   n, limit, n, n);
  if (n > 46340) return hs_fail(ctx, HS_E_INVALID, "eig --exact: n = %zu is too large for a dense matrix", n);
  double t0 = hs_now();
  hs_status st = HS_OK;
  size_t b = op->max_block ? op->max_block : 64;
  if (b > n) b = n;
  double *H = hs_malloc(n * n * sizeof *H), *E = hs_calloc(b * n, sizeof *E);
  void *X = NULL, *Yd = NULL, *A = NULL, *w = NULL;
  hs_eig_result *r = result_new(n, n, 0, want_vectors);
  if (!H || !E || !r) {
    st = hs_fail(ctx, HS_E_NOMEM, "eig --exact: out of host memory for a %zu x %zu matrix", n, n);
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, t, b * n, &X));
  HS_TRY(hs_dev_alloc(ctx, t, b * n, &Yd));
  double t_apply = 0;
  for (size_t s = 0; s < n; s += b) {
    size_t c = n - s < b ? n - s : b;
    HS_TRY(hs_progress(ctx, "assemble", s, n));
    for (size_t j = 0; j < c; j++) E[j * n + s + j] = 1.0;
    HS_TRY(hs_dev_upload_f64(ctx, t, X, E, c * n));
    for (size_t j = 0; j < c; j++) E[j * n + s + j] = 0.0;
    double ta = hs_now();
    HS_TRY(hs_linop_apply_all(op, c, X, Yd));
    HS_OP(ctx, be->ops->sync(be));
    t_apply += hs_now() - ta;
    HS_TRY(hs_dev_download_f64(ctx, t, H + s * n, Yd, c * n));
  }
  HS_TRY(hs_progress(ctx, "assemble", n, n));
  be->ops->free(be, X);
  be->ops->free(be, Yd);
  X = Yd = NULL;

  double amax = 0, asym = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      if (!isfinite(H[i * n + j])) {
        st = hs_fail(ctx, HS_E_NUMERIC, "eig --exact: entry (%zu, %zu) of the operator is not finite", i, j);
        goto cleanup;
      }
      amax = fmax(amax, fabs(H[i * n + j]));
    }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double a = H[i * n + j], c = H[j * n + i];
      asym = fmax(asym, fabs(a - c));
      H[i * n + j] = H[j * n + i] = 0.5 * (a + c);
    }
  r->asymmetry = amax > 0 ? asym / amax : 0;

  HS_TRY(hs_dev_alloc(ctx, t, n * n, &A));
  HS_TRY(hs_dev_alloc(ctx, t, n, &w));
  HS_TRY(hs_dev_upload_f64(ctx, t, A, H, n * n));
  HS_OP(ctx, be->ops->syev(be, t, (int)n, A, w));
  HS_TRY(hs_dev_download_f64(ctx, t, r->values, w, n));
  if (want_vectors) HS_TRY(hs_dev_download_f64(ctx, t, r->vectors, A, n * n));
  r->found = n;
  r->anorm = fmax(fabs(r->values[0]), fabs(r->values[n - 1]));
  r->applies = n;
  r->t_apply = t_apply;
  r->t_total = hs_now() - t0;
  *out = r;
  r = NULL;
cleanup:
  free(H);
  free(E);
  be->ops->free(be, X);
  be->ops->free(be, Yd);
  be->ops->free(be, A);
  be->ops->free(be, w);
  hs_eig_free(r);
  return st;
}
