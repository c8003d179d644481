/* Elementwise activations A = f(Y) (relu, tanh; identity makes no node). */
#include "nn/unit.h"

static void act_sizes(const hs_model *m, const hs_node *n, hs_unit_sizes *z) { *z = (hs_unit_sizes){0}; }

static hs_status act_forward(hs_pass *p, const hs_node *n, int node, const void *Y, void *A) {
  hs_status st = HS_OK;
  HS_OP(p->m->ctx, NN_OPS(p)->act_fwd(NN_BE(p), NN_T(p), n->act, (size_t)p->rows * n->out_numel, Y, A));
cleanup:
  return st;
}

/* dY_j = f'(Y) dA_j [+ f''(Y) dA RY_j, the second-order term; relu has f'' = 0] */
static hs_status act_backward(hs_pass *p, const hs_node *n, int node, const void *dA, void *dY) {
  hs_status st = HS_OK;
  const size_t elems = (size_t)p->rows * n->out_numel;
  const void *Y = p->s->X[n->in];
  if (!dY) return HS_OK;
  HS_OP(p->m->ctx, NN_OPS(p)->act_deriv_mul(NN_BE(p), NN_T(p), n->act, p->k, elems, Y, dA, dY));
  const void *RY = p->V ? p->m->rs.RX[n->in] : NULL;
  if (RY && n->act == HS_ACT_TANH)
    HS_OP(p->m->ctx, NN_OPS(p)->act_rbwd_extra(NN_BE(p), NN_T(p), n->act, p->k, elems, Y, p->s->D[n->out], RY, dY));
cleanup:
  return st;
}

/* RA_j = f'(Y) RY_j */
static hs_status act_rforward(hs_pass *p, const hs_node *n, int node, const void *RY, void *RA) {
  hs_status st = HS_OK;
  HS_OP(p->m->ctx, NN_OPS(p)->act_deriv_mul(NN_BE(p), NN_T(p), n->act, p->k, (size_t)p->rows * n->out_numel,
                                            p->s->X[n->in], RY, RA));
cleanup:
  return st;
}

const hs_unit hs_unit_act = {
    .name = "activation",
    .sizes = act_sizes,
    .alloc_state = NULL,
    .alloc_rstate = NULL,
    .forward = act_forward,
    .backward = act_backward,
    .rforward = act_rforward,
};
