/* The R-forward pass: the directional derivatives R(.) = d/dt (.)(theta + t v) at t = 0 of
 * every activation, for k directions V (k, P) at once, then the loss R-op
 * R(dF) = H_loss R(F). Equations with shapes: docs/hvp-math.md. */
#include <stdint.h>
#include <string.h>

#include "nn/model.h"

static hs_status rs_alloc(hs_model *m, void **p, size_t n) {
  hs_status st = hs_dev_alloc(m->ctx, m->dtype, n, p);
  if (st == HS_OK) m->rs.owned[m->rs.n_owned++] = *p;
  return st;
}

hs_status hs_nn_rstate_reserve(hs_model *m, int k, int rows) {
  hs_rstate *rs = &m->rs;
  if (rs->k >= k && rs->rows >= rows) return HS_OK;
  for (int j = 0; j < rs->n_owned; j++) m->ctx->be->ops->free(m->ctx->be, rs->owned[j]);
  memset(rs, 0, sizeof *rs);
  const hs_model_spec *sp = &m->spec;
  size_t kB = (size_t)k * rows;
  hs_status st = HS_OK;
  for (int i = 0; i < sp->n_hidden; i++) {
    size_t n = kB * sp->hidden[i];
    if ((st = rs_alloc(m, &rs->RZ[i], n)) || (st = rs_alloc(m, &rs->ROUT[i], n))) goto cleanup;
    if (sp->batchnorm != HS_BN_NONE) {
      if ((st = rs_alloc(m, &rs->RXH[i], n)) || (st = rs_alloc(m, &rs->RY[i], n))) goto cleanup;
    } else {
      rs->RY[i] = rs->RZ[i];
    }
  }
  size_t wide = kB * (size_t)m->max_width;
  if ((st = rs_alloc(m, &rs->RF, kB * sp->output_dim)) || (st = rs_alloc(m, &rs->RdF, kB * sp->output_dim)) ||
      (st = rs_alloc(m, &rs->Rd_a, wide)) || (st = rs_alloc(m, &rs->Rd_b, wide)) || (st = rs_alloc(m, &rs->Rd_c, wide)))
    goto cleanup;
  rs->k = k;
  rs->rows = rows;
  return HS_OK;
cleanup:
  for (int j = 0; j < rs->n_owned; j++) m->ctx->be->ops->free(m->ctx->be, rs->owned[j]);
  memset(rs, 0, sizeof *rs);
  return st;
}

hs_status hs_nn_rforward(hs_model *m, hs_batch_state *s, const void *Xb, int k, const void *V) {
  hs_context *ctx = m->ctx;
  hs_backend *be = ctx->be;
  const hs_backend_ops *op = be->ops;
  const hs_model_spec *sp = &m->spec;
  hs_rstate *rs = &m->rs;
  hs_dtype t = m->dtype;
  hs_status st = HS_OK;
  const int rows = s->rows, C = sp->output_dim;
  const long long P = (long long)m->P;

  const void *h = Xb;   /* (B, in) */
  const void *Rh = NULL; /* (k, B, in); R(data) = 0 */
  for (int i = 0; i < sp->n_hidden; i++) {
    const hs_block_layout *B = &m->blocks[i];
    const size_t elems = (size_t)rows * B->out;
    /* RZ_j (B, out) = Rh_j W^T + h V_W,j^T + V_b,j */
    if (Rh)
      HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, k * rows, B->out, B->in, 1.0, Rh, B->in,
                          hs_dptr(m->theta, t, B->w), B->in, 0.0, rs->RZ[i], B->out));
    HS_OP(ctx, op->gemm_batched(be, t, HS_NOTRANS, HS_TRANS, rows, B->out, B->in, 1.0, h, B->in, 0,
                                hs_dptr(V, t, B->w), B->in, P, Rh ? 1.0 : 0.0, rs->RZ[i], B->out,
                                (long long)elems, k));
    if (sp->bias) HS_OP(ctx, op->bias_add(be, t, k, rows, B->out, hs_dptr(V, t, B->b), (size_t)P, rs->RZ[i]));
    if (sp->batchnorm != HS_BN_NONE)
      HS_OP(ctx, op->bn_rfwd(be, t, sp->batchnorm, k, rows, B->out, s->XH[i], s->RSTD[i],
                             hs_dptr(m->theta, t, B->gamma), rs->RZ[i], hs_dptr(V, t, B->gamma),
                             hs_dptr(V, t, B->beta), (size_t)P, rs->RXH[i], rs->RY[i]));
    /* ROUT_j = f'(Y) RY_j [+ Rh_j] */
    HS_OP(ctx, op->act_deriv_mul(be, t, sp->activation, k, elems, s->Y[i], rs->RY[i], rs->ROUT[i]));
    if (B->residual) HS_OP(ctx, op->axpy(be, t, (size_t)k * elems, 1.0, Rh, rs->ROUT[i]));
    h = s->OUT[i];
    Rh = rs->ROUT[i];
  }
  int in = sp->n_hidden ? sp->hidden[sp->n_hidden - 1] : sp->input_dim;
  /* RF_j (B, C) = Rh_j W_out^T + h V_out,j^T + V_bout,j */
  if (Rh)
    HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, k * rows, C, in, 1.0, Rh, in,
                        hs_dptr(m->theta, t, m->head_w), in, 0.0, rs->RF, C));
  HS_OP(ctx, op->gemm_batched(be, t, HS_NOTRANS, HS_TRANS, rows, C, in, 1.0, h, in, 0,
                              hs_dptr(V, t, m->head_w), in, P, Rh ? 1.0 : 0.0, rs->RF, C,
                              (long long)rows * C, k));
  if (sp->bias) HS_OP(ctx, op->bias_add(be, t, k, rows, C, hs_dptr(V, t, m->head_b), (size_t)P, rs->RF));

  /* R(dF) = H_loss RF: the loss is the mean over the dataset, hence 1/N */
  const double scale = 1.0 / (double)m->data->n;
  size_t kBC = (size_t)k * rows * C;
  if (sp->loss == HS_LOSS_CROSS_ENTROPY) {
    HS_OP(ctx, op->ce_rop(be, t, k, rows, C, s->PROB, rs->RF, scale, rs->RdF));
  } else {
    HS_OP(ctx, op->copy(be, rs->RdF, rs->RF, kBC * hs_dtype_size(t)));
    HS_OP(ctx, op->scal(be, t, kBC, scale, rs->RdF));
  }
cleanup:
  return st;
}
