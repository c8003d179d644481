#include "linalg/minres.h"

#include <math.h>
#include <string.h>

#include "linalg/linop_util.h"

const char *hs_minres_stop_name(hs_minres_stop s) {
  switch (s) {
  case HS_MINRES_RTOL: return "residual below tolerance";
  case HS_MINRES_LSQ: return "least-squares solution (singular system)";
  case HS_MINRES_INVARIANT: return "invariant Krylov space";
  case HS_MINRES_ARTOL: return "||A r|| below its tolerance";
  default: return "iteration limit";
  }
}

hs_status hs_minres(hs_linop *A, const void *b, void *x, const hs_minres_options *opt, hs_minres_result *res) {
  hs_context *ctx = A->ctx;
  hs_backend *be = ctx->be;
  const hs_backend_ops *ops = be->ops;
  hs_dtype t = A->dtype;
  size_t n = A->n, es = hs_dtype_size(t);
  hs_status st = HS_OK;
  memset(res, 0, sizeof *res);
  res->stop = HS_MINRES_MAXIT;
  if (opt->max_iter < 1 || !(opt->rtol > 0))
    return hs_fail(ctx, HS_E_INVALID, "minres: max_iter %zu must be >= 1 and rtol %g > 0", opt->max_iter, opt->rtol);
  void *buf = NULL;
  HS_TRY(hs_dev_alloc(ctx, t, 6 * n, &buf));
  /* r1, r2: the last two unnormalised Lanczos vectors; y: the next one; v = y / beta;
   * w, w1, w2: the search directions (columns of V R^{-1}) */
  void *r1 = buf, *r2 = hs_dptr(buf, t, n), *y = hs_dptr(buf, t, 2 * n), *v = hs_dptr(buf, t, 3 * n);
  void *w = hs_dptr(buf, t, 4 * n), *w2 = hs_dptr(buf, t, 5 * n), *w1 = NULL;
  HS_OP(ctx, ops->fill(be, t, n, 0.0, x));
  HS_OP(ctx, ops->fill(be, t, 2 * n, 0.0, w));
  double beta1;
  HS_OP(ctx, ops->nrm2(be, t, n, b, &beta1));
  if (!isfinite(beta1)) {
    st = hs_fail(ctx, HS_E_NUMERIC, "minres: the right-hand side is not finite");
    goto cleanup;
  }
  if (beta1 == 0) {
    res->stop = HS_MINRES_RTOL;
    goto cleanup;
  }
  HS_OP(ctx, ops->copy(be, r1, b, n * es));
  HS_OP(ctx, ops->copy(be, r2, b, n * es));
  HS_OP(ctx, ops->copy(be, y, b, n * es));
  double oldb = 0, beta = beta1, dbar = 0, epsln = 0, phibar = beta1, cs = -1, sn = 0, tnorm2 = 0;
  double rnorm = beta1, arnorm = 0, anorm = 0, xnorm = 0;
  const double eps = t == HS_F64 ? 2.220446049250313e-16 : 1.1920929e-07;
  for (size_t itn = 1; itn <= opt->max_iter; itn++) {
    HS_OP(ctx, ops->copy(be, v, y, n * es));
    HS_OP(ctx, ops->scal(be, t, n, 1.0 / beta, v));
    HS_TRY(hs_linop_apply_all(A, 1, v, y));
    if (itn >= 2) HS_OP(ctx, ops->axpy(be, t, n, -beta / oldb, r1, y));
    double alfa;
    HS_OP(ctx, ops->dot(be, t, n, v, y, &alfa));
    HS_OP(ctx, ops->axpy(be, t, n, -alfa / beta, r2, y));
    void *tmp = r1; /* r1 <- r2, r2 <- y (by swapping buffers: y is rewritten next step) */
    r1 = r2;
    r2 = tmp;
    HS_OP(ctx, ops->copy(be, r2, y, n * es));
    oldb = beta;
    HS_OP(ctx, ops->nrm2(be, t, n, r2, &beta));
    tnorm2 += alfa * alfa + oldb * oldb + beta * beta;
    /* apply the previous rotation, then the new one that annihilates beta */
    double oldeps = epsln;
    double delta = cs * dbar + sn * alfa, gbar = sn * dbar - cs * alfa;
    epsln = sn * beta;
    dbar = -cs * beta;
    double root = hypot(gbar, dbar);
    arnorm = phibar * root; /* ||A r_{k-1}||, r_{k-1} = b - A x_{k-1}, ||r_{k-1}|| = phibar */
    anorm = sqrt(tnorm2);
    /* A least-squares point: stop at x_{k-1}, before the step whose pivot gamma ~ 0 would
     * throw the iterate along the null space (the singular, incompatible case MINRES-QLP
     * exists for; stopping here is Choi, Paige & Saunders' test on ||A r||) */
    if (itn > 1 && (arnorm <= opt->rtol * anorm * phibar || arnorm <= opt->artol)) {
      res->stop = arnorm <= opt->artol ? HS_MINRES_ARTOL : HS_MINRES_LSQ;
      res->iterations = itn;
      break;
    }
    double gamma = hypot(gbar, beta);
    if (gamma < eps) gamma = eps;
    cs = gbar / gamma;
    sn = beta / gamma;
    double phi = cs * phibar;
    phibar = sn * phibar;
    /* w_k = (v_k - oldeps w_{k-2} - delta w_{k-1}) / gamma;  x += phi w_k */
    w1 = w2;
    w2 = w;
    w = w1; /* the oldest buffer is overwritten with the new direction */
    HS_OP(ctx, ops->scal(be, t, n, -oldeps, w));
    HS_OP(ctx, ops->axpy(be, t, n, -delta, w2, w));
    HS_OP(ctx, ops->axpy(be, t, n, 1.0, v, w));
    HS_OP(ctx, ops->scal(be, t, n, 1.0 / gamma, w));
    HS_OP(ctx, ops->axpy(be, t, n, phi, w, x));
    w1 = NULL;
    HS_OP(ctx, ops->nrm2(be, t, n, x, &xnorm));
    rnorm = phibar;
    res->iterations = itn;
    if (!isfinite(alfa) || !isfinite(beta) || !isfinite(rnorm) || !isfinite(xnorm)) {
      st = hs_fail(ctx, HS_E_NUMERIC, "minres: iteration %zu: non-finite value (alpha %g, beta %g); the operator "
                                      "returned NaN or Inf", itn, alfa, beta);
      goto cleanup;
    }
    if (rnorm <= opt->rtol * beta1 || (opt->atol > 0 && rnorm <= opt->atol)) {
      res->stop = HS_MINRES_RTOL;
      break;
    }
    if (beta <= eps * anorm) { /* K_k is invariant: x_k is the exact minimiser over all of R^n in it */
      res->stop = HS_MINRES_INVARIANT;
      break;
    }
  }
  res->resnorm = rnorm;
  res->arnorm = arnorm;
  res->anorm = anorm;
  res->xnorm = xnorm;
cleanup:
  ops->free(be, buf);
  return st;
}
