/* Allocation of the per-batch states, the R-state and the scratch, following the terms of
 * nn/memory.c. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/unit.h"

static hs_status own(hs_model *m, void ***list, int *n, int *cap, void *p) {
  if (*n == *cap) {
    int c = *cap ? 2 * *cap : 64;
    void **q = hs_realloc(*list, (size_t)c * sizeof *q);
    if (!q) {
      m->ctx->be->ops->free(m->ctx->be, p);
      return hs_fail(m->ctx, HS_E_NOMEM, "out of host memory");
    }
    *list = q;
    *cap = c;
  }
  (*list)[(*n)++] = p;
  return HS_OK;
}

hs_status hs_state_alloc(hs_model *m, hs_batch_state *s, size_t elems, void **p) {
  hs_status st = hs_dev_alloc(m->ctx, m->dtype, elems, p);
  return st == HS_OK ? own(m, &s->owned, &s->n_owned, &s->cap_owned, *p) : st;
}

hs_status hs_state_alloc_int(hs_model *m, hs_batch_state *s, size_t count, void **p) {
  hs_status st = hs_dev_alloc_bytes(m->ctx, count * sizeof(int32_t), p);
  if (st != HS_OK) return st;
  return own(m, &s->owned, &s->n_owned, &s->cap_owned, *p);
}

hs_status hs_rstate_alloc(hs_model *m, hs_rstate *rs, size_t elems, void **p) {
  hs_status st = hs_dev_alloc(m->ctx, m->dtype, elems, p);
  return st == HS_OK ? own(m, &rs->owned, &rs->n_owned, &rs->cap_owned, *p) : st;
}

void hs_nn_state_free(hs_model *m, hs_batch_state *s) {
  for (int j = 0; j < s->n_owned; j++) m->ctx->be->ops->free(m->ctx->be, s->owned[j]);
  free(s->owned);
  memset(s, 0, sizeof *s);
}

hs_status hs_nn_state_create(hs_model *m, hs_batch_state *s, int rows) {
  hs_status st = HS_OK;
  memset(s, 0, sizeof *s);
  s->rows = rows;
  for (int v = 1; v < m->n_values && st == HS_OK; v++) {
    size_t e = (size_t)rows * (size_t)m->values[v].numel;
    st = hs_state_alloc(m, s, e, &s->X[v]);
    if (st == HS_OK && m->values[v].needs_grad) st = hs_state_alloc(m, s, e, &s->D[v]);
  }
  if (st == HS_OK && m->spec.loss == HS_LOSS_CROSS_ENTROPY)
    st = hs_state_alloc(m, s, (size_t)rows * m->spec.output_dim, &s->PROB);
  for (int i = 0; i < m->n_nodes && st == HS_OK; i++)
    if (m->nodes[i].unit->alloc_state) st = m->nodes[i].unit->alloc_state(m, &m->nodes[i], i, s, rows);
  if (st != HS_OK) hs_nn_state_free(m, s);
  return st;
}

static void rstate_free(hs_model *m) {
  hs_rstate *rs = &m->rs;
  for (int j = 0; j < rs->n_owned; j++) m->ctx->be->ops->free(m->ctx->be, rs->owned[j]);
  free(rs->owned);
  free(rs->slot);
  memset(rs, 0, sizeof *rs);
}

hs_status hs_nn_rstate_reserve(hs_model *m, int k, int rows) {
  hs_rstate *rs = &m->rs;
  if (rs->k >= k && rs->rows >= rows) return HS_OK;
  rstate_free(m);
  hs_status st = HS_OK;
  const size_t kB = (size_t)k * rows;
  rs->slot = hs_calloc((size_t)m->n_slots + 1, sizeof *rs->slot);
  if (!rs->slot) return hs_fail(m->ctx, HS_E_NOMEM, "out of host memory");
  for (int v = 0; v < m->n_values && st == HS_OK; v++)
    if (m->values[v].r_buffer) st = hs_rstate_alloc(m, rs, kB * (size_t)m->values[v].numel, &rs->RX[v]);
  for (int i = 0; i < m->n_nodes && st == HS_OK; i++)
    if (m->nodes[i].unit->alloc_rstate) st = m->nodes[i].unit->alloc_rstate(m, &m->nodes[i], i, rs, k, rows);
  for (int j = 0; j < m->n_slots && st == HS_OK; j++) st = hs_rstate_alloc(m, rs, kB * (size_t)m->max_numel, &rs->slot[j]);
  if (st == HS_OK) st = hs_rstate_alloc(m, rs, kB * (size_t)m->spec.output_dim, &rs->RdF);
  if (st != HS_OK) {
    rstate_free(m);
    return st;
  }
  rs->k = k;
  rs->rows = rows;
  return HS_OK;
}

/* Conv chunks hold as many samples as fit the context's conv_mb (default 256) of workspace. */
static size_t conv_budget_bytes(const hs_model *m) { return m->ctx->conv_mb << 20; }

static void scratch_free(hs_model *m) {
  hs_scratch *w = &m->scr;
  hs_backend *be = m->ctx->be;
  for (int i = 0; i < 3; i++) be->ops->free(be, w->buf[i]);
  for (int i = 0; i < 2; i++) {
    be->ops->free(be, w->conv_cols[i]);
    be->ops->free(be, w->conv_yt[i]);
  }
  be->ops->free(be, w->conv_ones);
  memset(w, 0, sizeof *w);
}

hs_status hs_nn_scratch_reserve(hs_model *m, int k, int rows) {
  hs_scratch *w = &m->scr;
  if (w->k >= k && w->rows >= rows) return HS_OK;
  if (k < w->k) k = w->k;
  if (rows < w->rows) rows = w->rows;
  scratch_free(m);
  hs_status st = HS_OK;
  hs_context *ctx = m->ctx;
  const size_t kB = (size_t)k * rows;
  for (int i = 0; i < 3; i++) HS_TRY(hs_dev_alloc(ctx, m->dtype, kB * (size_t)m->max_numel, &w->buf[i]));
  size_t cols = 0, yt = 0, L = 0, per_sample = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const hs_node *n = &m->nodes[i];
    if (n->kind != HS_NODE_CONV) continue;
    size_t l = (size_t)n->g.Ho * n->g.Wo, ck = (size_t)n->g.C * n->g.kh * n->g.kw;
    if (ck * l > cols) cols = ck * l;
    if ((size_t)n->fout * l > yt) yt = (size_t)n->fout * l;
    if (l > L) L = l;
  }
  if (L > 0) {
    per_sample = 2 * cols + 2 * yt + L;
    size_t fit = conv_budget_bytes(m) / (per_sample * hs_dtype_size(m->dtype));
    int chunk = fit < 1 ? 1 : fit > (size_t)rows ? rows : (int)fit;
    w->conv_chunk = chunk;
    w->conv_elems = (size_t)chunk * per_sample;
    for (int i = 0; i < 2; i++) {
      HS_TRY(hs_dev_alloc(ctx, m->dtype, (size_t)chunk * cols, &w->conv_cols[i]));
      HS_TRY(hs_dev_alloc(ctx, m->dtype, (size_t)chunk * yt, &w->conv_yt[i]));
    }
    HS_TRY(hs_dev_alloc(ctx, m->dtype, (size_t)chunk * L, &w->conv_ones));
    HS_OP(ctx, ctx->be->ops->fill(ctx->be, m->dtype, (size_t)chunk * L, 1.0, w->conv_ones));
  }
  w->k = k;
  w->rows = rows;
  return HS_OK;
cleanup:
  scratch_free(m);
  return st;
}

void hs_nn_rstate_release(hs_model *m) {
  rstate_free(m);
  scratch_free(m);
}
