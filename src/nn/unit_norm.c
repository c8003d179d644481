/* Batch norm: BatchNorm1d over (B, F) and BatchNorm2d over (B, C, H, W), statistics per
 * feature / channel over the batch (and the positions), eps = HS_BN_EPS.
 *
 * The op table's batch-norm ops work on (rows, cols) arrays with statistics per column, so
 * BatchNorm2d runs them on the channels-last view (B*H*W, C), reached by one transpose
 * each way; the 2-d node keeps its cached arrays in that view. Equations: docs/hvp-math.md.
 *
 * Private arrays: priv[0] xhat (B, numel), [1] rstd (C), [2] batch mean (C), [3] the node's
 * own input cotangent dZ of the gradient pass (where D[in] cannot serve: the input has
 * other consumers or needs no cotangent, or 2-d), [4] 2-d: the gradient's dY channels-last.
 * rpriv[0] R(xhat) (k, B, numel), [1] 2-d: R(Z) channels-last. */
#include "nn/unit.h"

enum { XHAT, RSTD, MEAN, DZ_OWN, DY_CL };
enum { RXHAT, RZ_CL };

static int spatial(const hs_node *n) { return n->norm_2d ? n->in_shape.dim[1] * n->in_shape.dim[2] : 1; }
static int channels(const hs_node *n) { return n->norm_2d ? n->in_shape.dim[0] : n->in_shape.dim[0]; }
static int own_dz(const hs_node *n) { return n->norm_dz_private || n->norm_2d; }

static void norm_sizes(const hs_model *m, const hs_node *n, hs_unit_sizes *z) {
  *z = (hs_unit_sizes){0};
  size_t e = (size_t)n->in_numel;
  z->state = e + (own_dz(n) ? e : 0) + (n->norm_2d ? e : 0);
  z->state_fixed = 2 * (size_t)channels(n);
  z->rstate = e + (n->norm_2d ? e : 0);
}

static hs_status norm_alloc_state(hs_model *m, const hs_node *n, int node, hs_batch_state *s, int rows) {
  size_t e = (size_t)rows * n->in_numel, C = (size_t)channels(n);
  void **pv = s->priv[node];
  hs_status st;
  if ((st = hs_state_alloc(m, s, e, &pv[XHAT])) || (st = hs_state_alloc(m, s, C, &pv[RSTD])) ||
      (st = hs_state_alloc(m, s, C, &pv[MEAN])))
    return st;
  if (own_dz(n) && (st = hs_state_alloc(m, s, e, &pv[DZ_OWN]))) return st;
  if (n->norm_2d && (st = hs_state_alloc(m, s, e, &pv[DY_CL]))) return st;
  return HS_OK;
}

static hs_status norm_alloc_rstate(hs_model *m, const hs_node *n, int node, hs_rstate *rs, int k, int rows) {
  size_t e = (size_t)k * rows * n->in_numel;
  hs_status st = hs_rstate_alloc(m, rs, e, &rs->rpriv[node][RXHAT]);
  if (st == HS_OK && n->norm_2d) st = hs_rstate_alloc(m, rs, e, &rs->rpriv[node][RZ_CL]);
  return st;
}

/* (nb, C, S) <-> (nb, S, C); to_cl: NCHW to channels-last */
static hs_status cl_transpose(hs_pass *p, const hs_node *n, int nb, int to_cl, const void *src, void *dst) {
  int C = channels(n), S = spatial(n);
  return NN_OPS(p)->transpose(NN_BE(p), NN_T(p), nb, to_cl ? C : S, to_cl ? S : C, 1, src, dst);
}

static hs_status norm_forward(hs_pass *p, const hs_node *n, int node, const void *Z, void *Y) {
  hs_context *ctx = p->m->ctx;
  hs_status st = HS_OK;
  void **pv = p->s->priv[node];
  const int C = channels(n), rows = p->rows * spatial(n);
  const void *gamma = NN_THETA(p, n->w), *beta = NN_THETA(p, n->b);
  const void *rm = p->m->run_mean[n->norm], *rv = p->m->run_var[n->norm];
  if (!n->norm_2d) {
    HS_OP(ctx, NN_OPS(p)->bn_fwd(NN_BE(p), NN_T(p), p->bn_mode, rows, C, Z, gamma, beta, rm, rv, pv[MEAN], pv[XHAT],
                                 pv[RSTD], Y));
    return HS_OK;
  }
  void *Zcl = p->m->scr.buf[0], *Ycl = p->m->scr.buf[1];
  HS_OP(ctx, cl_transpose(p, n, p->rows, 1, Z, Zcl));
  HS_OP(ctx, NN_OPS(p)->bn_fwd(NN_BE(p), NN_T(p), p->bn_mode, rows, C, Zcl, gamma, beta, rm, rv, pv[MEAN], pv[XHAT],
                               pv[RSTD], Ycl));
  HS_OP(ctx, cl_transpose(p, n, p->rows, 0, Ycl, Y));
cleanup:
  return st;
}

/* dZ_j = bn_bwd(dY_j) [+ bn_rbwd_extra: the second-order terms]; dgamma, dbeta into G */
static hs_status norm_backward(hs_pass *p, const hs_node *n, int node, const void *dY, void *dZ) {
  hs_context *ctx = p->m->ctx;
  const hs_backend_ops *op = NN_OPS(p);
  hs_backend *be = NN_BE(p);
  hs_dtype t = NN_T(p);
  hs_status st = HS_OK;
  void **pv = p->s->priv[node];
  void **rpv = p->m->rs.rpriv[node];
  const int C = channels(n), rows = p->rows * spatial(n), k = p->k;
  const size_t P = p->m->P, elems = (size_t)k * p->rows * n->in_numel;
  const void *gamma = NN_THETA(p, n->w);
  void *dg = p->G ? NN_GRAD(p, n->w) : NULL, *db = p->G ? NN_GRAD(p, n->b) : NULL;
  const void *dYin = dY; /* in the ops' (rows, C) view */
  void *dZout = dZ;      /* where bn_bwd writes */
  if (n->norm_2d) {
    void *dYcl = p->cache ? pv[DY_CL] : p->m->scr.buf[0];
    HS_OP(ctx, cl_transpose(p, n, k * p->rows, 1, dY, dYcl));
    dYin = dYcl;
    dZout = p->cache ? pv[DZ_OWN] : p->m->scr.buf[1];
  } else if (p->cache && own_dz(n)) {
    dZout = pv[DZ_OWN];
  } else if (!dZout) {
    dZout = p->m->scr.buf[1]; /* the R-backward of a norm whose input needs no cotangent */
  }
  HS_OP(ctx, op->bn_bwd(be, t, p->bn_mode, k, rows, C, pv[XHAT], pv[RSTD], gamma, dYin, dZout, dg, db, P));
  if (p->V) {
    const void *dYc = n->norm_2d ? pv[DY_CL] : p->s->D[n->out];
    const void *dZc = own_dz(n) ? pv[DZ_OWN] : p->s->D[n->in];
    const void *RZ = n->norm_2d ? rpv[RZ_CL] : p->m->rs.RX[n->in];
    HS_OP(ctx, op->bn_rbwd_extra(be, t, p->bn_mode, k, rows, C, pv[XHAT], pv[RSTD], gamma, dYc, dZc, RZ, rpv[RXHAT],
                                 NN_VDIR(p, n->w), P, dZout, dg));
  }
  if (dZ && dZout != dZ) {
    if (n->norm_2d) HS_OP(ctx, cl_transpose(p, n, k * p->rows, 0, dZout, dZ));
    else HS_OP(ctx, op->copy(be, dZ, dZout, elems * hs_dtype_size(t)));
  }
cleanup:
  return st;
}

/* RXhat_j, RY_j = bn_rfwd(RZ_j, Rgamma_j, Rbeta_j); a zero RZ is materialised (norms are the
 * one unit whose R-output is non-zero on a zero R-input and that reads it as an array). */
static hs_status norm_rforward(hs_pass *p, const hs_node *n, int node, const void *RZ, void *RY) {
  hs_context *ctx = p->m->ctx;
  hs_status st = HS_OK;
  void **pv = p->s->priv[node];
  void **rpv = p->m->rs.rpriv[node];
  const int C = channels(n), rows = p->rows * spatial(n), k = p->k;
  const size_t P = p->m->P, elems = (size_t)k * p->rows * n->in_numel;
  const void *gamma = NN_THETA(p, n->w);
  const void *RZin = RZ;
  void *RYout = RY;
  if (n->norm_2d) {
    if (RZ) HS_OP(ctx, cl_transpose(p, n, k * p->rows, 1, RZ, rpv[RZ_CL]));
    else HS_OP(ctx, NN_OPS(p)->fill(NN_BE(p), NN_T(p), elems, 0.0, rpv[RZ_CL]));
    RZin = rpv[RZ_CL];
    RYout = p->m->scr.buf[0];
  } else if (!RZ) {
    HS_OP(ctx, NN_OPS(p)->fill(NN_BE(p), NN_T(p), elems, 0.0, p->m->rs.RX[n->in]));
    RZin = p->m->rs.RX[n->in];
  }
  HS_OP(ctx, NN_OPS(p)->bn_rfwd(NN_BE(p), NN_T(p), p->bn_mode, k, rows, C, pv[XHAT], pv[RSTD], gamma, RZin,
                                NN_VDIR(p, n->w), NN_VDIR(p, n->b), P, rpv[RXHAT], RYout));
  if (n->norm_2d) HS_OP(ctx, cl_transpose(p, n, k * p->rows, 0, RYout, RY));
cleanup:
  return st;
}

const hs_unit hs_unit_norm = {
    .name = "batchnorm",
    .sizes = norm_sizes,
    .alloc_state = norm_alloc_state,
    .alloc_rstate = norm_alloc_rstate,
    .forward = norm_forward,
    .backward = norm_backward,
    .rforward = norm_rforward,
};
