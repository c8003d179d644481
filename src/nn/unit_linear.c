/* Linear layer: Z (B, out) = h W^T + b, W (out, in) row-major as nn.Linear.
 * Equations with shapes: docs/hvp-math.md ("Linear"). */
#include <stdint.h>

#include "nn/unit.h"

static void linear_sizes(const hs_model *m, const hs_node *n, hs_unit_sizes *z) { *z = (hs_unit_sizes){0}; }

static hs_status linear_forward(hs_pass *p, const hs_node *n, int node, const void *h, void *Z) {
  hs_context *ctx = p->m->ctx;
  hs_status st = HS_OK;
  /* Z (B, out) = h (B, in) W^T (in, out) + b */
  HS_OP(ctx, NN_OPS(p)->gemm(NN_BE(p), NN_T(p), HS_NOTRANS, HS_TRANS, p->rows, n->fout, n->fin, 1.0, h, n->fin,
                             NN_THETA(p, n->w), n->fin, 0.0, Z, n->fout));
  if (n->b != SIZE_MAX) HS_OP(ctx, NN_OPS(p)->bias_add(NN_BE(p), NN_T(p), 1, p->rows, n->fout, NN_THETA(p, n->b), 0, Z));
cleanup:
  return st;
}

/* dW_j += dZ_j^T h [+ dZ^T Rh_j]; db_j += colsum dZ_j; dh_j = dZ_j W [+ dZ V_W,j] */
static hs_status linear_backward(hs_pass *p, const hs_node *n, int node, const void *dZ, void *dh) {
  hs_context *ctx = p->m->ctx;
  const hs_backend_ops *op = NN_OPS(p);
  hs_backend *be = NN_BE(p);
  hs_dtype t = NN_T(p);
  hs_status st = HS_OK;
  const int rows = p->rows, k = p->k, in = n->fin, out = n->fout;
  const long long P = NN_P(p);
  const void *h = p->s->X[n->in];                            /* (B, in) */
  const void *dZc = p->s->D[n->out];                         /* (B, out): the gradient's dZ */
  const void *Rh = p->V ? p->m->rs.RX[n->in] : NULL;         /* (k, B, in) or zero */
  if (p->G) {
    HS_OP(ctx, op->gemm_batched(be, t, HS_TRANS, HS_NOTRANS, out, in, rows, 1.0, dZ, out, (long long)rows * out, h,
                                in, 0, 1.0, NN_GRAD(p, n->w), in, P, k));
    if (n->b != SIZE_MAX) HS_OP(ctx, op->col_sum(be, t, k, rows, out, dZ, NN_GRAD(p, n->b), (size_t)P));
    if (Rh)
      HS_OP(ctx, op->gemm_batched(be, t, HS_TRANS, HS_NOTRANS, out, in, rows, 1.0, dZc, out, 0, Rh, in,
                                  (long long)rows * in, 1.0, NN_GRAD(p, n->w), in, P, k));
  }
  if (dh) {
    HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_NOTRANS, k * rows, in, out, 1.0, dZ, out, NN_THETA(p, n->w), in, 0.0,
                        dh, in));
    if (p->V)
      HS_OP(ctx, op->gemm_batched(be, t, HS_NOTRANS, HS_NOTRANS, rows, in, out, 1.0, dZc, out, 0, NN_VDIR(p, n->w),
                                  in, P, 1.0, dh, in, (long long)rows * in, k));
  }
cleanup:
  return st;
}

/* RZ_j (B, out) = Rh_j W^T + h V_W,j^T + V_b,j */
static hs_status linear_rforward(hs_pass *p, const hs_node *n, int node, const void *Rh, void *RZ) {
  hs_context *ctx = p->m->ctx;
  const hs_backend_ops *op = NN_OPS(p);
  hs_backend *be = NN_BE(p);
  hs_dtype t = NN_T(p);
  hs_status st = HS_OK;
  const int rows = p->rows, k = p->k, in = n->fin, out = n->fout;
  const long long P = NN_P(p);
  const void *h = p->s->X[n->in];
  if (Rh)
    HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, k * rows, out, in, 1.0, Rh, in, NN_THETA(p, n->w), in, 0.0, RZ,
                        out));
  HS_OP(ctx, op->gemm_batched(be, t, HS_NOTRANS, HS_TRANS, rows, out, in, 1.0, h, in, 0, NN_VDIR(p, n->w), in, P,
                              Rh ? 1.0 : 0.0, RZ, out, (long long)rows * out, k));
  if (n->b != SIZE_MAX) HS_OP(ctx, op->bias_add(be, t, k, rows, out, NN_VDIR(p, n->b), (size_t)P, RZ));
cleanup:
  return st;
}

const hs_unit hs_unit_linear = {
    .name = "linear",
    .sizes = linear_sizes,
    .alloc_state = NULL,
    .alloc_rstate = NULL,
    .forward = linear_forward,
    .backward = linear_backward,
    .rforward = linear_rforward,
};
