/* Average and max pooling (global average pooling is an average pool over the whole plane).
 * Both are piecewise linear: the R-forward applies the pool to R(X) (max: at the forward's
 * argmax), the backward is the adjoint, and there are no second-order terms.
 * Private: priv[0] argmax (B, C, Ho, Wo) int32 (max only). */
#include "nn/unit.h"

static void pool_sizes(const hs_model *m, const hs_node *n, hs_unit_sizes *z) {
  *z = (hs_unit_sizes){0};
  if (n->pool == HS_POOL_MAX) z->state_int = (size_t)n->out_numel;
}

static hs_status pool_alloc_state(hs_model *m, const hs_node *n, int node, hs_batch_state *s, int rows) {
  if (n->pool != HS_POOL_MAX) return HS_OK;
  return hs_state_alloc_int(m, s, (size_t)rows * n->out_numel, &s->priv[node][0]);
}

static hs_status pool_forward(hs_pass *p, const hs_node *n, int node, const void *X, void *Y) {
  hs_status st = HS_OK;
  HS_OP(p->m->ctx, NN_OPS(p)->pool_fwd(NN_BE(p), NN_T(p), n->pool, p->rows, n->g, X, Y, p->s->priv[node][0]));
cleanup:
  return st;
}

static hs_status pool_backward(hs_pass *p, const hs_node *n, int node, const void *dY, void *dX) {
  hs_status st = HS_OK;
  if (!dX) return HS_OK;
  HS_OP(p->m->ctx,
        NN_OPS(p)->pool_bwd(NN_BE(p), NN_T(p), n->pool, p->k, p->rows, n->g, p->s->priv[node][0], dY, dX));
cleanup:
  return st;
}

static hs_status pool_rforward(hs_pass *p, const hs_node *n, int node, const void *RX, void *RY) {
  hs_status st = HS_OK;
  HS_OP(p->m->ctx,
        NN_OPS(p)->pool_rfwd(NN_BE(p), NN_T(p), n->pool, p->k, p->rows, n->g, p->s->priv[node][0], RX, RY));
cleanup:
  return st;
}

const hs_unit hs_unit_pool = {
    .name = "pool",
    .sizes = pool_sizes,
    .alloc_state = pool_alloc_state,
    .alloc_rstate = NULL,
    .forward = pool_forward,
    .backward = pool_backward,
    .rforward = pool_rforward,
};
