/* The passes over the node list: forward with the loss, backward for k cotangents (with the
 * R-backward's second-order terms when directions are given), and the R-forward. Each is a
 * loop over nodes; what a node does is its unit's (nn/unit.h). Equations: docs/hvp-math.md. */
#include <stdint.h>

#include "nn/unit.h"

static hs_pass pass_of(hs_model *m, hs_batch_state *s, int k, const void *V, void *G, int cache) {
  return (hs_pass){.m = m, .s = s, .rows = s->rows, .k = k, .bn_mode = s->bn_mode, .V = V, .G = G, .cache = cache};
}

hs_status hs_nn_forward(hs_model *m, hs_batch_state *s, const void *Xb, int rows, size_t first, int bn_mode) {
  hs_context *ctx = m->ctx;
  hs_backend *be = ctx->be;
  const hs_backend_ops *op = be->ops;
  hs_dtype t = m->dtype;
  hs_status st = HS_OK;
  const int C = m->spec.output_dim;
  const double scale = 1.0 / (double)m->data->n; /* the loss is the mean over the dataset */
  s->rows = rows;
  s->first = first;
  s->bn_mode = bn_mode;
  s->X[0] = (void *)Xb;
  HS_TRY(hs_nn_scratch_reserve(m, 1, (int)m->batch));
  hs_pass p = pass_of(m, s, 1, NULL, NULL, 0);
  for (int i = 0; i < m->n_nodes; i++) {
    const hs_node *n = &m->nodes[i];
    HS_TRY(n->unit->forward(&p, n, i, s->X[n->in], s->X[n->out]));
  }
  const void *F = s->X[m->output_value];
  void *dF = s->D[m->output_value];
  if (m->spec.loss == HS_LOSS_CROSS_ENTROPY) {
    const int32_t *lab = m->labels + first;
    HS_OP(ctx, op->ce_fwd(be, t, rows, C, F, lab, s->PROB, &s->loss_sum));
    HS_OP(ctx, op->ce_bwd(be, t, rows, C, s->PROB, lab, scale, dF));
  } else {
    const void *T = hs_dptr(m->T, t, first * (size_t)C);
    HS_OP(ctx, op->mse_fwd_bwd(be, t, rows, C, F, T, scale, &s->loss_sum, dF));
  }
cleanup:
  return st;
}

/* The cotangent array of value v: the state's in the gradient pass, else its slot. */
static void *cotangent(hs_model *m, hs_batch_state *s, int v, int cache, const void *dF) {
  if (v == m->output_value) return (void *)dF;
  if (cache) return s->D[v];
  return m->values[v].slot >= 0 ? m->rs.slot[m->values[v].slot] : NULL;
}

/* dst (k, B, numel) = src, or += src when it already holds another reader's part */
static hs_status deliver(hs_model *m, int acc, size_t elems, const void *src, void *dst) {
  hs_status st = HS_OK;
  if (acc) HS_OP(m->ctx, m->ctx->be->ops->axpy(m->ctx->be, m->dtype, elems, 1.0, src, dst));
  else HS_OP(m->ctx, m->ctx->be->ops->copy(m->ctx->be, dst, src, elems * hs_dtype_size(m->dtype)));
cleanup:
  return st;
}

hs_status hs_nn_backward(hs_model *m, hs_batch_state *s, int k, const void *dF, const void *V, void *G, int cache) {
  hs_status st = HS_OK;
  HS_TRY(hs_nn_scratch_reserve(m, k, (int)m->batch));
  hs_pass p = pass_of(m, s, k, V, G, cache);
  for (int i = m->n_nodes - 1; i >= 0; i--) {
    const hs_node *n = &m->nodes[i];
    if (!m->values[n->out].needs_grad) continue;
    const void *dY = cotangent(m, s, n->out, cache, dF);
    const size_t in_elems = (size_t)k * s->rows * n->in_numel;
    if (n->kind == HS_NODE_ADD) {
      if (m->values[n->in].needs_grad)
        HS_TRY(deliver(m, n->acc_in, in_elems, dY, cotangent(m, s, n->in, cache, dF)));
      if (m->values[n->in2].needs_grad)
        HS_TRY(deliver(m, n->acc_in2, in_elems, dY, cotangent(m, s, n->in2, cache, dF)));
      continue;
    }
    void *dX = m->values[n->in].needs_grad ? cotangent(m, s, n->in, cache, dF) : NULL;
    void *dst = dX && n->acc_in ? m->scr.buf[2] : dX;
    HS_TRY(n->unit->backward(&p, n, i, dY, dst));
    if (dst != dX) HS_TRY(deliver(m, 1, in_elems, dst, dX));
  }
cleanup:
  return st;
}

hs_status hs_nn_rforward(hs_model *m, hs_batch_state *s, int k, const void *V) {
  hs_context *ctx = m->ctx;
  hs_backend *be = ctx->be;
  const hs_backend_ops *op = be->ops;
  hs_rstate *rs = &m->rs;
  hs_dtype t = m->dtype;
  hs_status st = HS_OK;
  const int rows = s->rows, C = m->spec.output_dim;
  HS_TRY(hs_nn_scratch_reserve(m, k, (int)m->batch));
  hs_pass p = pass_of(m, s, k, V, NULL, 0);
  for (int i = 0; i < m->n_nodes; i++) {
    const hs_node *n = &m->nodes[i];
    if (!m->values[n->out].needs_grad) continue;
    const void *RX = m->values[n->in].needs_grad ? rs->RX[n->in] : NULL;
    HS_TRY(n->unit->rforward(&p, n, i, RX, rs->RX[n->out]));
  }
  /* R(dF) = H_loss RF: the loss is the mean over the dataset, hence 1/N */
  const double scale = 1.0 / (double)m->data->n;
  const void *RF = rs->RX[m->output_value];
  size_t kBC = (size_t)k * rows * C;
  if (m->spec.loss == HS_LOSS_CROSS_ENTROPY) {
    HS_OP(ctx, op->ce_rop(be, t, k, rows, C, s->PROB, RF, scale, rs->RdF));
  } else {
    HS_OP(ctx, op->copy(be, rs->RdF, RF, kBC * hs_dtype_size(t)));
    HS_OP(ctx, op->scal(be, t, kBC, scale, rs->RdF));
  }
cleanup:
  return st;
}
