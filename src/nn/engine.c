/* The device-level entry points of nn/engine.h. */
#include "nn/engine.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "nn/model.h"

hs_dtype hs_nn_dtype(const hs_model *m) { return m->dtype; }
void *hs_nn_params(hs_model *m) { return m->theta; }
size_t hs_nn_num_batches(const hs_model *m) { return m->n_batches; }

static hs_status batch_result(hs_model *m, hs_batch_state *s, hs_nn_batch_result *out);

hs_status hs_nn_batch(hs_model *m, size_t b, int bn_mode, void *G, hs_nn_batch_result *out) {
  hs_batch_state *s;
  hs_status st = hs_nn_state_mode(m, b, bn_mode, G, &s);
  if (st != HS_OK) return st;
  return batch_result(m, s, out);
}

hs_status hs_nn_batch_rows(hs_model *m, size_t b, size_t lo, size_t hi, int bn_mode, void *G, hs_nn_batch_result *out) {
  *out = (hs_nn_batch_result){0, 0, 0};
  if (lo == hi) return HS_OK; /* a rank's empty part of a short minibatch */
  hs_batch_state *s;
  hs_status st = hs_nn_state_rows(m, b, lo, hi, bn_mode, G, &s);
  if (st != HS_OK) return st;
  return batch_result(m, s, out);
}

static hs_status batch_result(hs_model *m, hs_batch_state *s, hs_nn_batch_result *out) {
  hs_status st = HS_OK;
  out->loss_sum = s->loss_sum;
  out->rows = (size_t)s->rows;
  out->correct = 0;
  if (m->spec.loss == HS_LOSS_CROSS_ENTROPY) {
    hs_context *ctx = m->ctx;
    HS_OP(ctx, ctx->be->ops->ce_correct(ctx->be, m->dtype, s->rows, m->spec.output_dim, s->X[m->output_value],
                                        m->labels + s->first, &out->correct));
  }
cleanup:
  return st;
}

hs_status hs_nn_update_running(hs_model *m, size_t b, double momentum) {
  hs_context *ctx = m->ctx;
  hs_status st = HS_OK;
  hs_batch_state *s = &m->states[m->n_states == m->n_batches ? b : 0];
  if (!s->valid || s->first != b * m->batch || s->bn_mode != HS_BN_BATCH)
    return hs_fail(ctx, HS_E_INTERNAL, "running statistics asked for batch %zu without its training-mode pass", b);
  for (int i = 0; i < m->n_nodes; i++) {
    const hs_node *n = &m->nodes[i];
    if (n->kind != HS_NODE_NORM) continue;
    /* BatchNorm2d counts every position of the batch: rows = B*H*W */
    int rows = s->rows * (n->norm_2d ? n->in_shape.dim[1] * n->in_shape.dim[2] : 1);
    HS_OP(ctx, ctx->be->ops->bn_running_update(ctx->be, m->dtype, rows, n->in_shape.dim[0], momentum,
                                               s->priv[i][2], s->priv[i][1], m->run_mean[n->norm],
                                               m->run_var[n->norm]));
  }
cleanup:
  return st;
}

hs_status hs_nn_dead_units(hs_model *m, size_t *dead, size_t *units) {
  hs_context *ctx = m->ctx;
  hs_status st = HS_OK;
  *dead = *units = 0;
  if (!m->data) return hs_fail(ctx, HS_E_INVALID, "no data bound to the model");
  /* alive[u]: unit u (over all ReLU nodes, in node order) was positive somewhere */
  size_t total = 0;
  for (int i = 0; i < m->n_nodes; i++)
    if (m->nodes[i].kind == HS_NODE_ACT && m->nodes[i].act == HS_ACT_RELU) total += (size_t)m->nodes[i].out_shape.dim[0];
  if (total == 0) return HS_OK;
  unsigned char *alive = hs_calloc(total, 1);
  double *host = hs_malloc((size_t)m->batch * (size_t)m->max_numel * sizeof *host), *aliveness = NULL;
  if (!alive || !host) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  for (size_t b = 0; b < m->n_batches; b++) {
    hs_batch_state *s;
    HS_TRY(hs_nn_state(m, b, NULL, &s));
    size_t base = 0;
    for (int i = 0; i < m->n_nodes; i++) {
      const hs_node *n = &m->nodes[i];
      if (n->kind != HS_NODE_ACT || n->act != HS_ACT_RELU) continue;
      size_t numel = (size_t)n->out_numel, ch = (size_t)n->out_shape.dim[0], per = numel / ch; /* (C, H*W) or (F, 1) */
      HS_TRY(hs_dev_download_f64(ctx, m->dtype, host, s->X[n->out], (size_t)s->rows * numel));
      for (size_t r = 0; r < (size_t)s->rows; r++)
        for (size_t c = 0; c < ch; c++)
          for (size_t q = 0; q < per && !alive[base + c]; q++)
            if (host[r * numel + c * per + q] != 0) alive[base + c] = 1;
      base += ch;
    }
  }
  /* under data parallelism a unit is alive when it is on any rank's shard: sum the flags */
  aliveness = hs_malloc(total * sizeof *aliveness);
  if (!aliveness) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  for (size_t u = 0; u < total; u++) aliveness[u] = alive[u];
  HS_TRY(hs_allreduce(ctx, aliveness, total));
  for (size_t u = 0; u < total; u++) *dead += !(aliveness[u] > 0);
  *units = total;
cleanup:
  free(alive);
  free(aliveness);
  free(host);
  return st;
}
