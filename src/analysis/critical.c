#include "analysis/critical.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "core/rng.h"
#include "linalg/eig.h"
#include "linalg/lanczos.h"
#include "linalg/linop.h"
#include "linalg/minres.h"
#include "nn/engine.h"
#include "nn/hvp.h"

hs_newton_mr_options hs_newton_mr_defaults(void) {
  return (hs_newton_mr_options){.gtol = 1e-8, .max_iter = 100, .minres_max = 0, .minres_rtol = 1e-10,
                                .theta = 1e-2, .armijo = 1e-4, .max_backtracks = 60};
}

size_t hs_newton_mr_minres_default(size_t P) {
  size_t m = 4 * P > 100 ? 4 * P : 100;
  return m < 1000 ? m : 1000;
}

void hs_newton_mr_free(hs_newton_mr_result *r) {
  if (!r) return;
  free(r->history);
  r->history = NULL;
}

hs_status hs_newton_mr(hs_model *m, const hs_newton_mr_options *opt, hs_newton_mr_result *r) {
  hs_context *ctx = hs_model_context(m);
  hs_backend *be = ctx->be;
  const hs_backend_ops *ops = be->ops;
  hs_dtype t = hs_nn_dtype(m);
  size_t P = hs_model_num_params(m), es = hs_dtype_size(t);
  memset(r, 0, sizeof *r);
  if (!(opt->gtol > 0)) return hs_fail(ctx, HS_E_INVALID, "critical: --gtol %g must be positive", opt->gtol);
  size_t mmax = opt->minres_max ? opt->minres_max : hs_newton_mr_minres_default(P);
  double rtol = opt->minres_rtol > 0 ? opt->minres_rtol : 1e-10;
  double rho = opt->armijo > 0 ? opt->armijo : 1e-4;
  size_t nback = opt->max_backtracks ? opt->max_backtracks : 60;
  if (!(opt->theta >= 0) || opt->theta >= 1)
    return hs_fail(ctx, HS_E_INVALID, "critical: --theta %g must be in [0, 1)", opt->theta);
  if (rho >= 0.5) return hs_fail(ctx, HS_E_INVALID, "critical: Armijo constant %g must be below 1/2", rho);
  double t0 = hs_now();
  hs_status st = HS_OK;
  hs_linop *H = NULL;
  void *buf = NULL;
  r->history = hs_malloc((opt->max_iter + 1) * sizeof *r->history);
  if (!r->history) return hs_fail(ctx, HS_E_NOMEM, "critical: out of host memory");
  /* g, the trial gradient, -g, the direction, H g, the accepted parameters: (P) each */
  HS_TRY(hs_dev_alloc(ctx, t, 6 * P, &buf));
  void *g = buf, *gt = hs_dptr(buf, t, P), *rhs = hs_dptr(buf, t, 2 * P), *d = hs_dptr(buf, t, 3 * P);
  void *Hg = hs_dptr(buf, t, 4 * P), *theta0 = hs_dptr(buf, t, 5 * P), *theta = hs_nn_params(m);
  HS_TRY(hs_linop_model(m, HS_CURV_HESSIAN, &H));
  double loss, gn;
  HS_TRY(hs_nn_loss_grad(m, &loss, g));
  r->gradients++;
  HS_OP(ctx, ops->nrm2(be, t, P, g, &gn));
  r->grad_norm0 = gn;
  r->history[0] = gn;
  r->stop = "iteration limit";
  for (;;) {
    if (gn <= opt->gtol) {
      r->converged = 1;
      r->stop = "gradient norm below gtol";
      break;
    }
    if (r->iterations >= opt->max_iter) break;
    HS_TRY(hs_progress(ctx, "newton-mr", r->iterations, opt->max_iter));
    /* d = MINRES(H, -g); asking for a residual below 0.1 gtol never helps: on a quadratic
     * the residual is the next gradient */
    HS_OP(ctx, ops->copy(be, rhs, g, P * es));
    HS_OP(ctx, ops->scal(be, t, P, -1.0, rhs));
    HS_TRY(H->apply(H, 1, g, Hg));
    double hgn;
    HS_OP(ctx, ops->nrm2(be, t, P, Hg, &hgn));
    /* Newton-MR's inexactness condition ||H r|| <= theta ||H g|| (r = H d + g): MINRES need
     * not fit the part of g that H nearly annihilates, which near a degenerate critical point
     * is where an exact solve would throw d far along near-null directions. theta = 0: solve
     * to the relative residual rtol (one step on a quadratic); asking for a residual below
     * 0.1 gtol never helps, as on a quadratic the residual is the next gradient */
    hs_minres_options mo = {.max_iter = mmax, .rtol = rtol, .atol = 0.1 * opt->gtol, .artol = opt->theta * hgn};
    hs_minres_result mr;
    HS_TRY(hs_minres(H, rhs, d, &mo, &mr));
    r->minres_iterations += mr.iterations;
    r->hvps += mr.iterations + 1;
    double slope; /* directional derivative of 0.5 ||g||^2 along d */
    HS_OP(ctx, ops->dot(be, t, P, d, Hg, &slope));
    if (!(slope < 0)) {
      HS_OP(ctx, ops->copy(be, d, Hg, P * es));
      HS_OP(ctx, ops->scal(be, t, P, -1.0, d));
      HS_OP(ctx, ops->dot(be, t, P, Hg, Hg, &slope));
      slope = -slope;
      r->fallbacks++;
      if (!(slope < 0)) {
        r->stop = "H g = 0: a critical point of ||g||^2 that is not one of the loss";
        break;
      }
    }
    HS_OP(ctx, ops->copy(be, theta0, theta, P * es));
    double f0 = 0.5 * gn * gn, alpha = 1, gnew = NAN, lnew = NAN;
    int accepted = 0;
    for (size_t b = 0; b <= nback; b++, alpha *= 0.5) {
      HS_OP(ctx, ops->copy(be, theta, theta0, P * es));
      HS_OP(ctx, ops->axpy(be, t, P, alpha, d, theta));
      hs_nn_invalidate(m);
      st = hs_nn_loss_grad(m, &lnew, gt);
      r->gradients++;
      if (st == HS_E_NUMERIC) continue; /* overflow at this step length: shorter */
      if (st != HS_OK) goto cleanup;
      HS_OP(ctx, ops->nrm2(be, t, P, gt, &gnew));
      if (isfinite(gnew) && (0.5 * gnew * gnew <= f0 + rho * alpha * slope || gnew <= opt->gtol)) {
        accepted = 1;
        break;
      }
    }
    st = HS_OK;
    if (!accepted) {
      HS_OP(ctx, ops->copy(be, theta, theta0, P * es));
      hs_nn_invalidate(m);
      r->stop = "line search failed (no decrease of ||g|| along the direction)";
      break;
    }
    void *tmp = g;
    g = gt;
    gt = tmp;
    gn = gnew;
    loss = lnew;
    r->iterations++;
    r->history[r->iterations] = gn;
  }
  r->loss = loss;
  r->grad_norm = gn;
  r->seconds = hs_now() - t0;
cleanup:
  hs_linop_destroy(H);
  ops->free(be, buf);
  if (st != HS_OK) hs_newton_mr_free(r);
  return st;
}

hs_status hs_critical_index(hs_model *m, size_t exact_limit, double tol_rel, const hs_slq_options *slq,
                            hs_index_result *out) {
  size_t P = hs_model_num_params(m);
  hs_status st = HS_OK;
  hs_linop *H = NULL;
  hs_eig_result *e = NULL;
  hs_slq_result *s = NULL;
  memset(out, 0, sizeof *out);
  out->params = P;
  HS_TRY(hs_linop_model(m, HS_CURV_HESSIAN, &H));
  if (P <= exact_limit) {
    HS_TRY(hs_eig_exact(H, exact_limit, 0, &e));
    double amax = fmax(fabs(e->values[0]), fabs(e->values[P - 1]));
    double rel = tol_rel > 0 ? tol_rel : hs_nn_dtype(m) == HS_F64 ? 1e-9 : 1e-4;
    out->exact = 1;
    out->neg_tol = rel * amax;
    for (size_t i = 0; i < P; i++) out->negative += e->values[i] < -out->neg_tol;
    out->index = (double)out->negative / (double)P;
    out->lambda_min = e->values[0];
    out->lambda_max = e->values[P - 1];
  } else {
    HS_TRY(hs_slq_run(H, slq, &s));
    out->index = s->neg_frac;
    out->index_se = s->neg_frac_se;
    out->neg_tol = s->neg_tol;
    out->lambda_min = s->lambda_min;
    out->lambda_max = s->lambda_max;
  }
cleanup:
  hs_eig_free(e);
  hs_slq_free(s);
  hs_linop_destroy(H);
  return st;
}

hs_status hs_critical_perturb(hs_model *m, uint64_t seed, size_t start, double noise) {
  hs_context *ctx = hs_model_context(m);
  if (!(noise >= 0) || !isfinite(noise)) return hs_fail(ctx, HS_E_INVALID, "critical: --noise %g must be >= 0", noise);
  if (noise == 0) return HS_OK;
  size_t P = hs_model_num_params(m);
  double *th = hs_malloc(P * sizeof *th), *z = hs_malloc(P * sizeof *z);
  hs_status st = HS_OK;
  if (!th || !z) {
    st = hs_fail(ctx, HS_E_NOMEM, "critical: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_model_get_params(m, th));
  for (size_t i = 0; i < hs_model_num_tensors(m); i++) {
    const hs_param_info *ti = hs_model_tensor(m, i);
    size_t n = (size_t)ti->rows * (size_t)ti->cols;
    double *x = th + ti->offset, sq = 0;
    for (size_t j = 0; j < n; j++) sq += x[j] * x[j];
    hs_rng_normals(seed, HS_STREAM_PERTURB + 16 * (((uint64_t)start << 20) + i), 0, n, z);
    double scale = noise * sqrt(sq / (double)n);
    for (size_t j = 0; j < n; j++) x[j] += scale * z[j];
  }
  HS_TRY(hs_model_set_params(m, th));
cleanup:
  free(th);
  free(z);
  return st;
}

/* SSE of the best alpha0 for this eps_c (alpha0 >= 0 in closed form). */
static double fit_sse(size_t n, const double *eps, const double *alpha, double ec, double *a0) {
  double su = 0, sa = 0;
  for (size_t i = 0; i < n; i++) {
    double u = pow(fabs(1 - eps[i] / ec), 1.5);
    su += u * u;
    sa += u * alpha[i];
  }
  double a = su > 0 ? fmax(0.0, sa / su) : 0, sse = 0;
  for (size_t i = 0; i < n; i++) {
    double e = alpha[i] - a * pow(fabs(1 - eps[i] / ec), 1.5);
    sse += e * e;
  }
  *a0 = a;
  return sse;
}

int hs_critical_fit(size_t n, const double *eps, const double *alpha, double *alpha0, double *eps_c, double *rms) {
  if (n < 2) return 0;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(eps[i]) || !isfinite(alpha[i]) || eps[i] <= 0) return 0;
    lo = fmin(lo, eps[i]);
    hi = fmax(hi, eps[i]);
  }
  if (!(hi - lo > 1e-9 * hi)) return 0; /* one loss (to rounding): eps_c is not determined */
  /* scan log-spaced eps_c over [lo / 1e3, 4 hi], then golden section around the best */
  const int S = 4000;
  double a = log(lo / 1e3), b = log(4 * hi), best = INFINITY, bx = 0, a0;
  for (int k = 0; k <= S; k++) {
    double x = a + (b - a) * k / S, sse = fit_sse(n, eps, alpha, exp(x), &a0);
    if (sse < best) best = sse, bx = x;
  }
  double h = (b - a) / S, l = bx - h, u = bx + h, g = 0.6180339887498949;
  for (int it = 0; it < 100; it++) {
    double x1 = u - g * (u - l), x2 = l + g * (u - l);
    if (fit_sse(n, eps, alpha, exp(x1), &a0) < fit_sse(n, eps, alpha, exp(x2), &a0)) u = x2;
    else l = x1;
  }
  double x = 0.5 * (l + u), sse = fit_sse(n, eps, alpha, exp(x), &a0);
  if (sse > best) sse = fit_sse(n, eps, alpha, exp(x = bx), &a0);
  *eps_c = exp(x);
  *alpha0 = a0;
  *rms = sqrt(sse / (double)n);
  return 1;
}
