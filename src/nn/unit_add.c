/* The residual sum out = body(x) + shortcut(x). Linear: no second-order terms; its backward
 * (copying the cotangent to both summands) is done by the driver (nn/passes.c), which knows
 * which of them already hold a cotangent. */
#include "nn/unit.h"

static void add_sizes(const hs_model *m, const hs_node *n, hs_unit_sizes *z) { *z = (hs_unit_sizes){0}; }

/* out = a + b, as copy then axpy (the MLP form's h' = f(Y) + h, bit for bit) */
static hs_status add_sum(hs_pass *p, size_t elems, const void *a, const void *b, void *out) {
  hs_status st = HS_OK;
  if (a) HS_OP(p->m->ctx, NN_OPS(p)->copy(NN_BE(p), out, a, elems * hs_dtype_size(NN_T(p))));
  else HS_OP(p->m->ctx, NN_OPS(p)->fill(NN_BE(p), NN_T(p), elems, 0.0, out));
  if (b) HS_OP(p->m->ctx, NN_OPS(p)->axpy(NN_BE(p), NN_T(p), elems, 1.0, b, out));
cleanup:
  return st;
}

static hs_status add_forward(hs_pass *p, const hs_node *n, int node, const void *X, void *Y) {
  return add_sum(p, (size_t)p->rows * n->out_numel, X, p->s->X[n->in2], Y);
}

static hs_status add_rforward(hs_pass *p, const hs_node *n, int node, const void *RX, void *RY) {
  const void *RX2 = p->m->values[n->in2].needs_grad ? p->m->rs.RX[n->in2] : NULL;
  return add_sum(p, (size_t)p->k * p->rows * n->out_numel, RX, RX2, RY);
}

const hs_unit hs_unit_add = {
    .name = "residual",
    .sizes = add_sizes,
    .alloc_state = NULL,
    .alloc_rstate = NULL,
    .forward = add_forward,
    .backward = NULL,
    .rforward = add_rforward,
};
