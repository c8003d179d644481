#include "linalg/lanczos.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "linalg/linop_util.h"

double hs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double hs_lanczos_default_tol(hs_dtype t) { return t == HS_F64 ? 1e-10 : 1e-5; }

void hs_probe_rademacher(uint64_t seed, size_t p, size_t n, double *out) {
  hs_rng_rademacher(seed, HS_STREAM_PROBE + 16 * (uint64_t)p, 0, n, out);
}

void *hs_lanczos_vec(const hs_lanczos *lz, size_t p, size_t j) {
  return hs_dptr(lz->basis, lz->op->dtype, (j * lz->k + p) * lz->n);
}

void hs_lanczos_destroy(hs_lanczos *lz) {
  if (!lz) return;
  hs_backend *be = lz->ctx->be;
  be->ops->free(be, lz->basis);
  be->ops->free(be, lz->h1);
  be->ops->free(be, lz->h2);
  free(lz->steps);
  free(lz->stopped);
  free(lz->alpha);
  free(lz->beta);
  free(lz->anorm);
  free(lz->omega);
  free(lz->force);
  free(lz);
}

hs_status hs_lanczos_create(hs_linop *op, const hs_lanczos_options *opt, hs_lanczos **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  size_t n = op->n, k = opt->probes, m = opt->max_steps;
  if (k < 1) return hs_fail(ctx, HS_E_INVALID, "lanczos: probes = %zu, must be at least 1", k);
  if (m < 1 || m > n)
    return hs_fail(ctx, HS_E_INVALID, "lanczos: steps = %zu, must be between 1 and n = %zu", m, n);
  /* The basis is addressed with int strides (BLAS): k*n and m+1 must fit. */
  if (k > (size_t)INT_MAX / n || m + 1 > (size_t)INT_MAX)
    return hs_fail(ctx, HS_E_INVALID, "lanczos: probes * n = %zu * %zu is too large for one block",
                   k, n);
  hs_status st = HS_OK;
  hs_lanczos *lz = calloc(1, sizeof *lz);
  if (!lz) return hs_fail(ctx, HS_E_NOMEM, "lanczos: out of host memory");
  lz->op = op;
  lz->ctx = ctx;
  lz->n = n;
  lz->k = k;
  lz->max_steps = m;
  lz->tol = opt->breakdown_tol > 0 ? opt->breakdown_tol : hs_lanczos_default_tol(op->dtype);
  lz->reorth = opt->reorth;
  lz->omega = calloc(k * 2 * (m + 2), sizeof *lz->omega);
  lz->force = calloc(k, sizeof *lz->force);
  lz->steps = calloc(k, sizeof *lz->steps);
  lz->stopped = calloc(k, sizeof *lz->stopped);
  lz->alpha = calloc(k * m, sizeof *lz->alpha);
  lz->beta = calloc(k * m, sizeof *lz->beta);
  lz->anorm = calloc(k, sizeof *lz->anorm);
  if (!lz->steps || !lz->stopped || !lz->alpha || !lz->beta || !lz->anorm || !lz->omega || !lz->force) {
    st = hs_fail(ctx, HS_E_NOMEM, "lanczos: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, op->dtype, (m + 1) * k * n, &lz->basis));
  HS_TRY(hs_dev_alloc(ctx, op->dtype, k * (m + 1), &lz->h1));
  HS_TRY(hs_dev_alloc(ctx, op->dtype, k * (m + 1), &lz->h2));
  *out = lz;
  return HS_OK;
cleanup:
  hs_lanczos_destroy(lz);
  return st;
}

hs_status hs_lanczos_start(hs_lanczos *lz, const double *V) {
  hs_context *ctx = lz->ctx;
  size_t n = lz->n, k = lz->k;
  hs_status st = HS_OK;
  double *row = malloc(n * sizeof *row);
  if (!row) return hs_fail(ctx, HS_E_NOMEM, "lanczos: out of host memory");
  for (size_t p = 0; p < k; p++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += V[p * n + i] * V[p * n + i];
    if (!(s > 0) || !isfinite(s)) {
      st = hs_fail(ctx, HS_E_INVALID, "lanczos: start vector %zu is zero or not finite", p);
      goto cleanup;
    }
    double inv = 1.0 / sqrt(s);
    for (size_t i = 0; i < n; i++) row[i] = V[p * n + i] * inv;
    HS_TRY(hs_dev_upload_f64(ctx, lz->op->dtype, hs_lanczos_vec(lz, p, 0), row, n));
    lz->steps[p] = 0;
    lz->stopped[p] = 0;
    lz->anorm[p] = 0;
    lz->force[p] = 0;
    double *om = lz->omega + p * 2 * (lz->max_steps + 2);
    memset(om, 0, 2 * (lz->max_steps + 2) * sizeof *om);
    om[0] = 1.0; /* q_0 . q_0 */
  }
  lz->done = 0;
cleanup:
  free(row);
  return st;
}

hs_status hs_lanczos_start_rademacher(hs_lanczos *lz, uint64_t seed) {
  size_t n = lz->n, k = lz->k;
  double *V = malloc(k * n * sizeof *V);
  if (!V) return hs_fail(lz->ctx, HS_E_NOMEM, "lanczos: out of host memory");
  for (size_t p = 0; p < k; p++) hs_probe_rademacher(seed, p, n, V + p * n);
  hs_status st = hs_lanczos_start(lz, V);
  free(V);
  return st;
}

/* Unit roundoff of the vectors' arithmetic. */
static double unit_roundoff(hs_dtype t) { return t == HS_F64 ? 1.1102230246251565e-16 : 5.960464477539063e-08; }

/* PARTIAL: Simon's recurrence for w_i ~ q_{j+1} . q_i (i <= j) from those of q_j and q_{j-1},
 * given alpha_j and beta_j = b; the rounding of each step enters as eps ||A|| with the sign
 * that grows the estimate (the usual pessimistic model). Returns max_i |w_i|; the new row
 * replaces the older one. */
static double omega_step(hs_lanczos *lz, size_t p, size_t j, double a, double b) {
  size_t m = lz->max_steps, L = m + 2;
  double *cur = lz->omega + p * 2 * L + (j % 2) * L, *prev = lz->omega + p * 2 * L + ((j + 1) % 2) * L;
  const double *al = lz->alpha + p * m, *be = lz->beta + p * m;
  double eps = unit_roundoff(lz->op->dtype), noise = eps * fmax(lz->anorm[p], fabs(a) + b), worst = 0;
  double bprev = j > 0 ? be[j - 1] : 0.0;
  /* prev (q_{j-1} . q_i) is overwritten in place by the new row (q_{j+1} . q_i) */
  for (size_t i = 0; i < j; i++) {
    double t = be[i] * cur[i + 1] + (al[i] - a) * cur[i] - bprev * prev[i] + (i > 0 ? be[i - 1] * cur[i - 1] : 0.0);
    prev[i] = (t + copysign(noise, t)) / b;
    worst = fmax(worst, fabs(prev[i]));
  }
  prev[j] = sqrt((double)lz->n) * eps; /* q_{j+1} . q_j after the local recurrence */
  prev[j + 1] = 1.0;
  return worst;
}

/* After a full pass over the basis: q_{j+1} is orthogonal to working precision. */
static void omega_reset(hs_lanczos *lz, size_t p, size_t j) {
  size_t L = lz->max_steps + 2;
  double *nw = lz->omega + p * 2 * L + ((j + 1) % 2) * L, eps = unit_roundoff(lz->op->dtype);
  for (size_t i = 0; i <= j; i++) nw[i] = eps;
  nw[j + 1] = 1.0;
}

/* One Lanczos step for probe p: w (slot j+1) already holds A q_j.
 *
 * First the three-term recurrence (w -= beta_{j-1} q_{j-1}, w -= alpha q_j): in exact
 * arithmetic that is the whole orthogonalisation; it removes the two large components. Then
 * classical Gram-Schmidt against every stored vector of the probe (one gemv for h = Q w, one
 * for w -= Q^T h), which removes what rounding left along all earlier directions. A second
 * pass follows when the pass cancelled more than a factor 1/sqrt(2) of the norm (the
 * Kahan-Parlett / DGKS test: "twice is enough", Giraud et al. 2005); otherwise the vector is
 * already orthogonal to working precision and a second pass would only re-read the basis,
 * which dominates the cost of a step for large P. The passes are counted (lz->passes). */
static hs_status orth_step(hs_lanczos *lz, size_t p, size_t j, double *beta_out) {
  hs_context *ctx = lz->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = lz->op->dtype;
  size_t n = lz->n, m = lz->max_steps;
  hs_status st = HS_OK;
  void *w = hs_lanczos_vec(lz, p, j + 1);
  const void *qj = hs_lanczos_vec(lz, p, j);
  const void *Q = hs_lanczos_vec(lz, p, 0);
  int lda = (int)(lz->k * n), rows = (int)(j + 1);
  void *h1 = hs_dptr(lz->h1, t, p * (m + 1)), *h2 = hs_dptr(lz->h2, t, p * (m + 1));
  double a, b0, b, hj;
  if (j > 0) HS_OP(ctx, be->ops->axpy(be, t, n, -lz->beta[p * m + j - 1], hs_lanczos_vec(lz, p, j - 1), w));
  HS_OP(ctx, be->ops->dot(be, t, n, qj, w, &a));
  HS_OP(ctx, be->ops->axpy(be, t, n, -a, qj, w));
  HS_OP(ctx, be->ops->nrm2(be, t, n, w, &b0));
  b = b0;
  int full = 1;
  if (lz->reorth == HS_REORTH_PARTIAL && b0 > 0) {
    double worst = omega_step(lz, p, j, a, b0);
    full = lz->force[p] || worst > sqrt(unit_roundoff(t));
    lz->force[p] = full && !lz->force[p]; /* a triggered pass also cleans the next vector */
  }
  for (int pass = 0; full && pass < 2; pass++) {
    void *h = pass ? h2 : h1;
    HS_OP(ctx, be->ops->gemv(be, t, HS_NOTRANS, rows, (int)n, 1.0, Q, lda, w, 0.0, h));
    HS_OP(ctx, be->ops->gemv(be, t, HS_TRANS, rows, (int)n, -1.0, Q, lda, h, 1.0, w));
    HS_TRY(hs_dev_download_f64(ctx, t, &hj, hs_dptr(h, t, j), 1));
    HS_OP(ctx, be->ops->nrm2(be, t, n, w, &b));
    a += hj;
    lz->passes++;
    if (!(b < 0.7071067811865476 * b0)) break;
    b0 = b;
  }
  if (lz->reorth == HS_REORTH_PARTIAL && full) omega_reset(lz, p, j);
  if (!isfinite(a) || !isfinite(b))
    return hs_fail(ctx, HS_E_NUMERIC,
                   "lanczos: probe %zu, step %zu: non-finite value (alpha = %g, beta = %g); the "
                   "operator returned NaN or Inf",
                   p, j + 1, a, b);
  lz->alpha[p * m + j] = a;
  lz->beta[p * m + j] = b;
  double bprev = j > 0 ? lz->beta[p * m + j - 1] : 0.0;
  double local = sqrt(a * a + bprev * bprev + b * b); /* = ||A q_j|| in exact arithmetic */
  if (local > lz->anorm[p]) lz->anorm[p] = local;
  lz->steps[p] = j + 1;
  if (b <= lz->tol * lz->anorm[p]) {
    lz->stopped[p] = 1; /* invariant subspace: T is exact; the next slot stays zero */
    HS_OP(ctx, be->ops->fill(be, t, n, 0.0, w));
  } else {
    HS_OP(ctx, be->ops->scal(be, t, n, 1.0 / b, w));
  }
  *beta_out = b;
cleanup:
  return st;
}

hs_status hs_lanczos_run(hs_lanczos *lz, size_t steps) {
  hs_context *ctx = lz->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = lz->op->dtype;
  size_t n = lz->n, k = lz->k;
  hs_status st = HS_OK;
  if (steps > lz->max_steps)
    return hs_fail(ctx, HS_E_INTERNAL, "lanczos: %zu steps asked, %zu allocated", steps, lz->max_steps);
  for (size_t j = lz->done; j < steps; j++) {
    int any = 0;
    for (size_t p = 0; p < k; p++) any |= !lz->stopped[p];
    if (!any) break;
    if (hs_progress(ctx, "lanczos", j, steps))
      return hs_fail(ctx, HS_E_INVALID, "lanczos: cancelled at step %zu of %zu", j, steps);
    double t0 = hs_now();
    HS_TRY(hs_linop_apply_all(lz->op, k, hs_lanczos_vec(lz, 0, j), hs_lanczos_vec(lz, 0, j + 1)));
    HS_OP(ctx, be->ops->sync(be));
    double t1 = hs_now();
    lz->t_apply += t1 - t0;
    lz->applies += k;
    for (size_t p = 0; p < k; p++) {
      if (lz->stopped[p]) {
        HS_OP(ctx, be->ops->fill(be, t, n, 0.0, hs_lanczos_vec(lz, p, j + 1)));
        continue;
      }
      double b;
      HS_TRY(orth_step(lz, p, j, &b));
    }
    HS_OP(ctx, be->ops->sync(be));
    lz->t_reorth += hs_now() - t1;
    lz->done = j + 1;
  }
  hs_progress(ctx, "lanczos", steps, steps);
cleanup:
  return st;
}

hs_status hs_lanczos_combine(hs_lanczos *lz, size_t p, size_t len, size_t r, const double *S,
                             void *Y) {
  hs_context *ctx = lz->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = lz->op->dtype;
  hs_status st = HS_OK;
  void *Sd = NULL;
  if (r == 0 || len == 0) return HS_OK;
  HS_TRY(hs_dev_alloc(ctx, t, r * len, &Sd));
  HS_TRY(hs_dev_upload_f64(ctx, t, Sd, S, r * len));
  HS_OP(ctx, be->ops->gemm(be, t, HS_NOTRANS, HS_NOTRANS, (int)r, (int)lz->n, (int)len, 1.0, Sd,
                           (int)len, hs_lanczos_vec(lz, p, 0), (int)(lz->k * lz->n), 0.0, Y,
                           (int)lz->n));
cleanup:
  be->ops->free(be, Sd);
  return st;
}
