/* Forward pass of one batch and the loss with its output cotangent dF = dL/dF.
 * Math and shapes: docs/hvp-math.md. B = rows of the batch, C = output_dim. */
#include <stdint.h>

#include "nn/model.h"

hs_status hs_nn_forward(hs_model *m, hs_batch_state *s, const void *Xb, int rows, size_t first) {
  hs_context *ctx = m->ctx;
  hs_backend *be = ctx->be;
  const hs_backend_ops *op = be->ops;
  const hs_model_spec *sp = &m->spec;
  hs_dtype t = m->dtype;
  hs_status st = HS_OK;
  const int C = sp->output_dim;
  const double scale = 1.0 / (double)m->data->n; /* the loss is the mean over the dataset */
  s->rows = rows;
  s->first = first;

  const void *h = Xb; /* (B, in) */
  for (int i = 0; i < sp->n_hidden; i++) {
    const hs_block_layout *L = &m->blocks[i];
    size_t bn_elems = (size_t)rows * L->out;
    /* Z (B, out) = h W^T + b */
    HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, rows, L->out, L->in, 1.0, h, L->in,
                        hs_dptr(m->theta, t, L->w), L->in, 0.0, s->Z[i], L->out));
    if (sp->bias) HS_OP(ctx, op->bias_add(be, t, 1, rows, L->out, hs_dptr(m->theta, t, L->b), 0, s->Z[i]));
    if (sp->batchnorm != HS_BN_NONE)
      HS_OP(ctx, op->bn_fwd(be, t, sp->batchnorm, rows, L->out, s->Z[i], hs_dptr(m->theta, t, L->gamma),
                            hs_dptr(m->theta, t, L->beta), m->run_mean[i], m->run_var[i], s->MEAN[i],
                            s->XH[i], s->RSTD[i], s->Y[i]));
    /* OUT (B, out) = f(Y) [+ h] */
    if (s->OUT[i] != s->Y[i]) HS_OP(ctx, op->act_fwd(be, t, sp->activation, bn_elems, s->Y[i], s->OUT[i]));
    if (L->residual) HS_OP(ctx, op->axpy(be, t, bn_elems, 1.0, h, s->OUT[i]));
    h = s->OUT[i];
  }
  int in = sp->n_hidden ? sp->hidden[sp->n_hidden - 1] : sp->input_dim;
  /* F (B, C) = h W_out^T + b_out */
  HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, rows, C, in, 1.0, h, in,
                      hs_dptr(m->theta, t, m->head_w), in, 0.0, s->F, C));
  if (sp->bias) HS_OP(ctx, op->bias_add(be, t, 1, rows, C, hs_dptr(m->theta, t, m->head_b), 0, s->F));

  if (sp->loss == HS_LOSS_CROSS_ENTROPY) {
    const int32_t *lab = m->labels + first;
    HS_OP(ctx, op->ce_fwd(be, t, rows, C, s->F, lab, s->PROB, &s->loss_sum));
    HS_OP(ctx, op->ce_bwd(be, t, rows, C, s->PROB, lab, scale, s->dF));
  } else {
    const void *T = hs_dptr(m->T, t, first * (size_t)C);
    HS_OP(ctx, op->mse_fwd_bwd(be, t, rows, C, s->F, T, scale, &s->loss_sum, s->dF));
  }
cleanup:
  return st;
}
