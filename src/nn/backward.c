/* The backward pass for k cotangents sharing one batch state, and with it the R-backward.
 *
 * One routine serves three products, because the R-backward of Pearlmutter (1994) is the
 * ordinary backward pass applied to R(dF) plus second-order terms:
 *   gradient      k = 1, dF = the loss cotangent, V = NULL, deltas cached in the state;
 *   Gauss-Newton  dF = H_loss J v (from rop.c), V = NULL: J^T H_loss J v;
 *   Hessian       dF = R(dF), V = the directions: adds dZ^T R(h), dZ V, f''(Y) dA R(Y) and
 *                 the batch-norm terms of bn_rbwd_extra.
 * Parameter gradients accumulate into G (k, P); direction j of G and V sits at j*P.
 * Equations with shapes: docs/hvp-math.md. */
#include <stdint.h>

#include "nn/model.h"

/* A k-wide scratch buffer not currently holding a or b. */
static void *spare(hs_rstate *rs, const void *a, const void *b) {
  void *c[3] = {rs->Rd_a, rs->Rd_b, rs->Rd_c};
  for (int i = 0; i < 3; i++)
    if (c[i] != a && c[i] != b) return c[i];
  return NULL;
}

hs_status hs_nn_backward(hs_model *m, hs_batch_state *s, const void *Xb, int k, const void *dF,
                         const void *V, void *G, int cache) {
  hs_context *ctx = m->ctx;
  hs_backend *be = ctx->be;
  const hs_backend_ops *op = be->ops;
  const hs_model_spec *sp = &m->spec;
  hs_rstate *rs = &m->rs;
  hs_dtype t = m->dtype;
  hs_status st = HS_OK;
  const int rows = s->rows, C = sp->output_dim, L = sp->n_hidden;
  const long long P = (long long)m->P;
  const int bn = sp->batchnorm != HS_BN_NONE;
  const int in = L ? sp->hidden[L - 1] : sp->input_dim;
  const void *h = L ? s->OUT[L - 1] : Xb;   /* (B, in) head input */
  const void *Rh = (V && L) ? rs->ROUT[L - 1] : NULL; /* (k, B, in) its R */

  /* head: dW_out_j += dF_j^T h [+ dF^T Rh_j], db_out_j += colsum dF_j */
  if (G) {
    HS_OP(ctx, op->gemm_batched(be, t, HS_TRANS, HS_NOTRANS, C, in, rows, 1.0, dF, C, (long long)rows * C, h, in,
                                0, 1.0, hs_dptr(G, t, m->head_w), in, P, k));
    if (sp->bias) HS_OP(ctx, op->col_sum(be, t, k, rows, C, dF, hs_dptr(G, t, m->head_b), (size_t)P));
    if (Rh)
      HS_OP(ctx, op->gemm_batched(be, t, HS_TRANS, HS_NOTRANS, C, in, rows, 1.0, s->dF, C, 0, Rh, in,
                                  (long long)rows * in, 1.0, hs_dptr(G, t, m->head_w), in, P, k));
  }
  if (L == 0) return HS_OK;

  /* dh (k, B, in) = dF W_out [+ dF V_out_j] */
  void *dh = cache ? s->dOUT[L - 1] : rs->Rd_a;
  HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_NOTRANS, k * rows, in, C, 1.0, dF, C,
                      hs_dptr(m->theta, t, m->head_w), in, 0.0, dh, in));
  if (V)
    HS_OP(ctx, op->gemm_batched(be, t, HS_NOTRANS, HS_NOTRANS, rows, in, C, 1.0, s->dF, C, 0,
                                hs_dptr(V, t, m->head_w), in, P, 1.0, dh, in, (long long)rows * in, k));

  for (int i = L - 1; i >= 0; i--) {
    const hs_block_layout *B = &m->blocks[i];
    const size_t elems = (size_t)rows * B->out;
    void *dOUT = dh; /* (k, B, out) */
    void *dY = cache ? s->dY[i] : spare(rs, dOUT, NULL);
    /* dY = f'(Y) dOUT [+ f''(Y) dOUT_cached RY] */
    HS_OP(ctx, op->act_deriv_mul(be, t, sp->activation, k, elems, s->Y[i], dOUT, dY));
    if (V && sp->activation == HS_ACT_TANH) /* relu and linear have f'' = 0 */
      HS_OP(ctx, op->act_rbwd_extra(be, t, sp->activation, k, elems, s->Y[i], s->dOUT[i], rs->RY[i], dY));
    void *dZ = dY;
    if (bn) {
      dZ = cache ? s->dZ[i] : spare(rs, dOUT, dY);
      void *dg = G ? hs_dptr(G, t, B->gamma) : NULL, *db = G ? hs_dptr(G, t, B->beta) : NULL;
      const void *gamma = hs_dptr(m->theta, t, B->gamma);
      HS_OP(ctx, op->bn_bwd(be, t, sp->batchnorm, k, rows, B->out, s->XH[i], s->RSTD[i], gamma, dY, dZ, dg, db,
                            (size_t)P));
      if (V)
        HS_OP(ctx, op->bn_rbwd_extra(be, t, sp->batchnorm, k, rows, B->out, s->XH[i], s->RSTD[i], gamma, s->dY[i],
                                     s->dZ[i], rs->RZ[i], rs->RXH[i], hs_dptr(V, t, B->gamma), (size_t)P, dZ, dg));
    }
    const void *hin = i ? s->OUT[i - 1] : Xb;            /* (B, in) block input */
    const void *Rhin = (V && i) ? rs->ROUT[i - 1] : NULL; /* (k, B, in); the data have no R */
    if (G) {
      /* dW_j += dZ_j^T h [+ dZ^T Rh_j]; db_j += colsum dZ_j */
      HS_OP(ctx, op->gemm_batched(be, t, HS_TRANS, HS_NOTRANS, B->out, B->in, rows, 1.0, dZ, B->out,
                                  (long long)elems, hin, B->in, 0, 1.0, hs_dptr(G, t, B->w), B->in, P, k));
      if (sp->bias) HS_OP(ctx, op->col_sum(be, t, k, rows, B->out, dZ, hs_dptr(G, t, B->b), (size_t)P));
      if (Rhin)
        HS_OP(ctx, op->gemm_batched(be, t, HS_TRANS, HS_NOTRANS, B->out, B->in, rows, 1.0, s->dZ[i], B->out, 0,
                                    Rhin, B->in, (long long)rows * B->in, 1.0, hs_dptr(G, t, B->w), B->in, P, k));
    }
    if (i == 0) break;
    /* dh_prev (k, B, in) = dZ W [+ dZ V_j] [+ dOUT through the skip] */
    void *dprev = cache ? s->dOUT[i - 1] : spare(rs, dOUT, dZ);
    HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_NOTRANS, k * rows, B->in, B->out, 1.0, dZ, B->out,
                        hs_dptr(m->theta, t, B->w), B->in, 0.0, dprev, B->in));
    if (V)
      HS_OP(ctx, op->gemm_batched(be, t, HS_NOTRANS, HS_NOTRANS, rows, B->in, B->out, 1.0, s->dZ[i], B->out, 0,
                                  hs_dptr(V, t, B->w), B->in, P, 1.0, dprev, B->in, (long long)rows * B->in, k));
    if (B->residual) HS_OP(ctx, op->axpy(be, t, (size_t)k * elems, 1.0, dOUT, dprev));
    dh = dprev;
  }
cleanup:
  return st;
}
