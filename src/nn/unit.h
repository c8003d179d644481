/* One unit per layer kind: what a node of that kind keeps and how it runs each pass.
 *
 * Adding a layer kind means one new unit_<kind>.c with its table below, a case in
 * nn/compile.c that makes its node, its ops in the op table (both backends), and its tests
 * (docs/adding-a-layer.md). The drivers in nn/passes.c only loop over nodes.
 *
 * Conventions shared by every unit (B = p->rows, k = p->k; shapes per direction):
 *  - forward:  X (B, in) -> Y (B, out), at the parameters p->m->theta; may fill node-private
 *              state in p->s->priv[node].
 *  - backward: dY (k, B, out) -> dX (k, B, in) (NULL: the input needs no cotangent), adding
 *              parameter gradients into p->G (k, P) when non-NULL. With p->V the second-order
 *              terms of the R-backward are added too, from the gradient pass's cotangents
 *              (p->s->D) and the R-forward's arrays (p->m->rs). p->cache: the gradient pass
 *              (k = 1), which also records what the second-order terms will need.
 *  - rforward: R(X) (k, B, in) (NULL = zero) -> R(Y) (k, B, out), for the directions p->V. */
#ifndef HS_NN_UNIT_H
#define HS_NN_UNIT_H

#include "nn/model.h"

typedef struct {
  hs_model *m;
  hs_batch_state *s;
  int rows, k;
  int bn_mode;
  const void *V; /* (k, P) directions or NULL */
  void *G;       /* (k, P) gradient accumulator or NULL */
  int cache;
} hs_pass;

/* Device elements a node keeps beyond its output value, per sample. */
typedef struct {
  size_t state;       /* in the batch state (dtype elements) */
  size_t state_int;   /* in the batch state (int32) */
  size_t rstate;      /* in the R-state, per direction */
  size_t state_fixed; /* in the batch state, independent of B (per-channel statistics) */
} hs_unit_sizes;

struct hs_unit {
  const char *name;
  void (*sizes)(const hs_model *m, const hs_node *n, hs_unit_sizes *out);
  /* Allocates the node's private arrays of a batch state (priv[]) or of the R-state
   * (rpriv[]) through the given allocator. */
  hs_status (*alloc_state)(hs_model *m, const hs_node *n, int node, hs_batch_state *s, int rows);
  hs_status (*alloc_rstate)(hs_model *m, const hs_node *n, int node, hs_rstate *rs, int k, int rows);
  hs_status (*forward)(hs_pass *p, const hs_node *n, int node, const void *X, void *Y);
  hs_status (*backward)(hs_pass *p, const hs_node *n, int node, const void *dY, void *dX);
  hs_status (*rforward)(hs_pass *p, const hs_node *n, int node, const void *RX, void *RY);
};

extern const hs_unit hs_unit_linear, hs_unit_conv, hs_unit_norm, hs_unit_act, hs_unit_pool, hs_unit_add;

/* Allocation helpers recording ownership in the state (nn/model.c). */
hs_status hs_state_alloc(hs_model *m, hs_batch_state *s, size_t elems, void **p);
hs_status hs_state_alloc_int(hs_model *m, hs_batch_state *s, size_t count, void **p);
hs_status hs_rstate_alloc(hs_model *m, hs_rstate *rs, size_t elems, void **p);

#define NN_OPS(p) ((p)->m->ctx->be->ops)
#define NN_BE(p) ((p)->m->ctx->be)
#define NN_T(p) ((p)->m->dtype)
#define NN_P(p) ((long long)(p)->m->P)
#define NN_THETA(p, off) hs_dptr((p)->m->theta, (p)->m->dtype, (off))
#define NN_VDIR(p, off) hs_dptr((p)->V, (p)->m->dtype, (off))
#define NN_GRAD(p, off) hs_dptr((p)->G, (p)->m->dtype, (off))

#endif
