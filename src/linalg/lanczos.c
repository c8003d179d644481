#include "core/alloc.h"
#include "linalg/lanczos.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "linalg/linop_util.h"

double hs_lanczos_default_tol(hs_dtype t) { return t == HS_F64 ? 1e-10 : 1e-5; }

void hs_probe_rademacher(uint64_t seed, size_t p, size_t n, double *out) {
  hs_rng_rademacher(seed, HS_STREAM_PROBE + 16 * (uint64_t)p, 0, n, out);
}

void *hs_lanczos_vec(const hs_lanczos *lz, size_t p, size_t j) {
  return hs_dptr(lz->basis, lz->op->dtype, (j * lz->k + p) * lz->n);
}

/* Host scratch of orth_block, per live probe i < k: its index, alpha, the norms before and
 * after a pass, whether a pass is due / still to run, its vector, and the operands of the
 * `dots` calls (two per probe in a Gram-Schmidt pass). Allocated once with the basis, so a
 * step does no allocation. */
struct hs_lanczos_step {
  size_t *live, *len;
  double *a, *b0, *b, *got;
  const void **x, **y;
  void **w;
  int *due, *again;
};

static struct hs_lanczos_step *step_alloc(size_t k) {
  /* one block: the 8-byte arrays first (13k elements: live, len 2k, a, b0, b, got 2k, x 2k,
   * y 2k, w), the two int arrays last, so every array is aligned */
  struct hs_lanczos_step *w = hs_malloc(sizeof *w + 13 * k * 8 + 2 * k * sizeof(int));
  if (!w) return NULL;
  char *c = (char *)(w + 1);
#define CARVE(field, count)                                                                   \
  do {                                                                                        \
    w->field = (void *)c;                                                                     \
    c += (count) * sizeof *w->field;                                                          \
  } while (0)
  CARVE(live, k);
  CARVE(len, 2 * k);
  CARVE(a, k);
  CARVE(b0, k);
  CARVE(b, k);
  CARVE(got, 2 * k);
  CARVE(x, 2 * k);
  CARVE(y, 2 * k);
  CARVE(w, k);
  CARVE(due, k);
  CARVE(again, k);
#undef CARVE
  return w;
}

void hs_lanczos_destroy(hs_lanczos *lz) {
  if (!lz) return;
  hs_backend *be = lz->ctx->be;
  be->ops->free(be, lz->basis);
  be->ops->free(be, lz->h1);
  be->ops->free(be, lz->h2);
  be->ops->free(be, lz->one);
  free(lz->steps);
  free(lz->stopped);
  free(lz->alpha);
  free(lz->beta);
  free(lz->anorm);
  free(lz->omega);
  free(lz->force);
  free(lz->step);
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
  hs_lanczos *lz = hs_calloc(1, sizeof *lz);
  if (!lz) return hs_fail(ctx, HS_E_NOMEM, "lanczos: out of host memory");
  lz->op = op;
  lz->ctx = ctx;
  lz->n = n;
  lz->k = k;
  lz->max_steps = m;
  lz->tol = opt->breakdown_tol > 0 ? opt->breakdown_tol : hs_lanczos_default_tol(op->dtype);
  lz->reorth = opt->reorth;
  lz->omega = hs_calloc(k * 2 * (m + 2), sizeof *lz->omega);
  lz->force = hs_calloc(k, sizeof *lz->force);
  lz->steps = hs_calloc(k, sizeof *lz->steps);
  lz->stopped = hs_calloc(k, sizeof *lz->stopped);
  lz->alpha = hs_calloc(k * m, sizeof *lz->alpha);
  lz->beta = hs_calloc(k * m, sizeof *lz->beta);
  lz->anorm = hs_calloc(k, sizeof *lz->anorm);
  lz->step = step_alloc(k);
  if (!lz->steps || !lz->stopped || !lz->alpha || !lz->beta || !lz->anorm || !lz->omega || !lz->force ||
      !lz->step) {
    st = hs_fail(ctx, HS_E_NOMEM, "lanczos: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, op->dtype, (m + 1) * k * n, &lz->basis));
  HS_TRY(hs_dev_alloc(ctx, op->dtype, k * (m + 1), &lz->h1));
  HS_TRY(hs_dev_alloc(ctx, op->dtype, k * (m + 1), &lz->h2));
  HS_TRY(hs_dev_alloc(ctx, op->dtype, 1, &lz->one));
  HS_OP(ctx, ctx->be->ops->fill(ctx->be, op->dtype, 1, 1.0, lz->one));
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
  double *row = hs_malloc(n * sizeof *row);
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
  double *V = hs_malloc(k * n * sizeof *V);
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

/* Step j of every live probe in lockstep: w_p (slot j+1) already holds A q_j.
 *
 * Per probe, first the three-term recurrence (w -= beta_{j-1} q_{j-1}, w -= alpha q_j): in
 * exact arithmetic that is the whole orthogonalisation; it removes the two large components.
 * Then classical Gram-Schmidt against every stored vector of the probe (one gemv for h = Q w,
 * one for w -= Q^T h), which removes what rounding left along all earlier directions. A second
 * pass follows when the pass cancelled more than a factor 1/sqrt(2) of the norm (the
 * Kahan-Parlett / DGKS test: "twice is enough", Giraud et al. 2005); otherwise the vector is
 * already orthogonal to working precision and a second pass would only re-read the basis,
 * which dominates the cost of a step for large P. The passes are counted (lz->passes).
 *
 * The probes are independent, so each phase runs over all of them and the scalars it needs on
 * the host (alpha, the norm, the Gram-Schmidt correction) come back for all probes in one
 * `dots` call: on a GPU a step costs 3 host round trips (4 with a second pass) whatever the
 * number of probes, instead of 4 per probe. Every vector sees the same ops in the same order
 * as one probe alone, and dots returns dot's bits: the numbers do not depend on k. */

/* Norms from dots' squared sums: nrm2 is sqrt(dot(x, x)) bit for bit on both backends, except
 * where the squares overflow or underflow, which nrm2 guards by rescaling: recomputed there. */
static hs_status norms_from_squares(hs_lanczos *lz, size_t cnt, void *const *vec, double *ss) {
  hs_backend *be = lz->ctx->be;
  hs_status st = HS_OK;
  for (size_t i = 0; i < cnt; i++) {
    if (ss[i] == HUGE_VAL || (ss[i] >= 0 && ss[i] < 1e-280))
      HS_OP(lz->ctx, be->ops->nrm2(be, lz->op->dtype, lz->n, vec[i], &ss[i]));
    else
      ss[i] = sqrt(ss[i]);
  }
cleanup:
  return st;
}

static hs_status orth_block(hs_lanczos *lz, size_t j) {
  hs_context *ctx = lz->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = lz->op->dtype;
  size_t n = lz->n, m = lz->max_steps, k = lz->k;
  hs_status st = HS_OK;
  const void *Q0 = hs_lanczos_vec(lz, 0, 0);
  int lda = (int)(k * n), rows = (int)(j + 1);
  struct hs_lanczos_step *ws = lz->step;
  size_t *live = ws->live, *len = ws->len, cnt = 0;
  double *a = ws->a, *b0 = ws->b0, *b = ws->b, *got = ws->got;
  int *due = ws->due, *again = ws->again;
  const void **x = ws->x, **y = ws->y;
  void **w = ws->w;
  for (size_t p = 0; p < k; p++)
    if (!lz->stopped[p]) live[cnt++] = p;
  if (cnt == 0) goto cleanup;

  /* alpha = q_j . (w - beta_{j-1} q_{j-1}) */
  for (size_t i = 0; i < cnt; i++) {
    size_t p = live[i];
    w[i] = hs_lanczos_vec(lz, p, j + 1);
    if (j > 0) HS_OP(ctx, be->ops->axpy(be, t, n, -lz->beta[p * m + j - 1], hs_lanczos_vec(lz, p, j - 1), w[i]));
    x[i] = hs_lanczos_vec(lz, p, j);
    y[i] = w[i];
    len[i] = n;
  }
  HS_OP(ctx, be->ops->dots(be, t, (int)cnt, len, x, y, a));
  /* b0 = ||w - alpha q_j|| */
  for (size_t i = 0; i < cnt; i++) {
    HS_OP(ctx, be->ops->axpy(be, t, n, -a[i], hs_lanczos_vec(lz, live[i], j), w[i]));
    x[i] = y[i] = w[i];
  }
  HS_OP(ctx, be->ops->dots(be, t, (int)cnt, len, x, y, b0));
  HS_TRY(norms_from_squares(lz, cnt, w, b0));
  for (size_t i = 0; i < cnt; i++) {
    size_t p = live[i];
    b[i] = b0[i];
    due[i] = 1;
    if (lz->reorth == HS_REORTH_PARTIAL && b0[i] > 0) {
      double worst = omega_step(lz, p, j, a[i], b0[i]);
      due[i] = lz->force[p] || worst > sqrt(unit_roundoff(t));
      lz->force[p] = due[i] && !lz->force[p]; /* a triggered pass also cleans the next vector */
    }
    again[i] = due[i];
  }

  /* Gram-Schmidt passes; h[j] (the correction of alpha) comes back as the dot of one element
   * with a device 1.0, exact */
  for (int pass = 0; pass < 2; pass++) {
    size_t q = 0;
    for (size_t i = 0; i < cnt; i++) {
      if (!again[i]) continue;
      size_t p = live[i];
      void *h = hs_dptr(pass ? lz->h2 : lz->h1, t, p * (m + 1));
      const void *Q = hs_dptr(Q0, t, p * n);
      HS_TRY(hs_project_out(ctx, t, rows, n, Q, lda, w[i], h));
      x[2 * q] = y[2 * q] = w[i];
      len[2 * q] = n;
      x[2 * q + 1] = hs_dptr(h, t, j);
      y[2 * q + 1] = lz->one;
      len[2 * q + 1] = 1;
      q++;
    }
    if (q == 0) break;
    HS_OP(ctx, be->ops->dots(be, t, (int)(2 * q), len, x, y, got));
    q = 0;
    for (size_t i = 0; i < cnt; i++) {
      if (!again[i]) continue;
      double ss = got[2 * q];
      HS_TRY(norms_from_squares(lz, 1, &w[i], &ss));
      b[i] = ss;
      a[i] += got[2 * q + 1];
      lz->passes++;
      q++;
      if (!(b[i] < 0.7071067811865476 * b0[i])) again[i] = 0;
      else b0[i] = b[i];
    }
  }

  for (size_t i = 0; i < cnt; i++) {
    size_t p = live[i];
    if (lz->reorth == HS_REORTH_PARTIAL && due[i]) omega_reset(lz, p, j);
    if (!isfinite(a[i]) || !isfinite(b[i])) {
      st = hs_fail(ctx, HS_E_NUMERIC,
                   "lanczos: probe %zu, step %zu: non-finite value (alpha = %g, beta = %g); the "
                   "operator returned NaN or Inf",
                   p, j + 1, a[i], b[i]);
      goto cleanup;
    }
    lz->alpha[p * m + j] = a[i];
    lz->beta[p * m + j] = b[i];
    double bprev = j > 0 ? lz->beta[p * m + j - 1] : 0.0;
    double local = sqrt(a[i] * a[i] + bprev * bprev + b[i] * b[i]); /* = ||A q_j|| in exact arithmetic */
    if (local > lz->anorm[p]) lz->anorm[p] = local;
    lz->steps[p] = j + 1;
    if (b[i] <= lz->tol * lz->anorm[p]) {
      lz->stopped[p] = 1; /* invariant subspace: T is exact; the next slot stays zero */
      HS_OP(ctx, be->ops->fill(be, t, n, 0.0, w[i]));
    } else {
      HS_OP(ctx, be->ops->scal(be, t, n, 1.0 / b[i], w[i]));
    }
  }
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
    HS_TRY(hs_progress(ctx, "lanczos", j, steps));
    double t0 = hs_now();
    HS_TRY(hs_linop_apply_all(lz->op, k, hs_lanczos_vec(lz, 0, j), hs_lanczos_vec(lz, 0, j + 1)));
    HS_OP(ctx, be->ops->sync(be));
    double t1 = hs_now();
    lz->t_apply += t1 - t0;
    lz->applies += k;
    for (size_t p = 0; p < k; p++)
      if (lz->stopped[p]) HS_OP(ctx, be->ops->fill(be, t, n, 0.0, hs_lanczos_vec(lz, p, j + 1)));
    HS_TRY(orth_block(lz, j));
    HS_OP(ctx, be->ops->sync(be));
    lz->t_reorth += hs_now() - t1;
    lz->done = j + 1;
  }
  HS_TRY(hs_progress(ctx, "lanczos", steps, steps));
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
