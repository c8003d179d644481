/* Loss, gradient and curvature-vector products over all batches of the bound data. */
#include <stdint.h>
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "linalg/linop.h"
#include "nn/hvp.h"
#include "nn/model.h"

#define OPS(m) ((m)->ctx->be->ops)
#define BE(m) ((m)->ctx->be)

static hs_status need_data(hs_model *m) {
  return m->data ? HS_OK : hs_fail(m->ctx, HS_E_INVALID, "no data bound to the model (hs_model_bind)");
}

/* Directions per R-pass chunk: keep the R-state near the context's rstate_mb (default 1024)
 * but never below one direction (nn/memory.c accounts for it). */
static int max_chunk(const hs_model *m) {
  double budget = (double)m->ctx->rstate_mb * 1048576.0;
  double per_dir = (double)hs_nn_rstate_bytes_per_direction(m, m->batch);
  double k = budget / per_dir;
  return k < 1 ? 1 : k > 4096 ? 4096 : (int)k;
}

hs_status hs_nn_apply(hs_model *m, hs_curvature which, size_t k, const void *V, void *Y) {
  hs_status st = need_data(m);
  if (st != HS_OK) return st;
  hs_dtype t = m->dtype;
  size_t P = m->P;
  HS_OP(m->ctx, OPS(m)->fill(BE(m), t, k * P, 0.0, Y));
  int chunk = max_chunk(m);
  for (size_t j0 = 0; j0 < k; j0 += (size_t)chunk) {
    int kc = (int)(k - j0 < (size_t)chunk ? k - j0 : (size_t)chunk);
    const void *Vc = hs_dptr(V, t, j0 * P);
    void *Yc = hs_dptr(Y, t, j0 * P);
    HS_TRY(hs_nn_rstate_reserve(m, kc, (int)m->batch));
    for (size_t b = 0; b < m->n_batches; b++) {
      hs_batch_state *s;
      HS_TRY(hs_nn_state(m, b, NULL, &s));
      HS_TRY(hs_nn_rforward(m, s, kc, Vc));
      /* The R-backward is linear in R(dF) for fixed V: H v = backward(R(dF), V) and
       * G v = backward(R(dF), none), so (H - G) v = backward(0, V), one pass instead of two. */
      if (which == HS_CURV_RESIDUAL)
        HS_OP(m->ctx, OPS(m)->fill(BE(m), t, (size_t)kc * (size_t)s->rows * (size_t)m->spec.output_dim, 0.0, m->rs.RdF));
      HS_TRY(hs_nn_backward(m, s, kc, m->rs.RdF, which == HS_CURV_GGN ? NULL : Vc, Yc, 0));
    }
  }
  /* the other ranks' batches; weight decay after the sum, so it is counted once */
  HS_TRY(hs_allreduce_dev(m->ctx, t, Y, k * P, NULL, 0));
  /* weight decay lambda/2 ||theta||^2 adds lambda I to both H and G (so not to H - G) */
  if (m->spec.weight_decay > 0 && which != HS_CURV_RESIDUAL) HS_OP(m->ctx, OPS(m)->axpy(BE(m), t, k * P, m->spec.weight_decay, V, Y));
cleanup:
  return st;
}

hs_status hs_nn_loss_grad(hs_model *m, double *loss, void *G) {
  hs_status st = need_data(m);
  if (st != HS_OK) return st;
  hs_dtype t = m->dtype;
  double total = 0;
  void *scratch = NULL;
  if (!G) HS_TRY(hs_dev_alloc(m->ctx, t, m->P, &scratch));
  void *grad = G ? G : scratch;
  HS_OP(m->ctx, OPS(m)->fill(BE(m), t, m->P, 0.0, grad));
  for (size_t b = 0; b < m->n_batches; b++) {
    hs_batch_state *s;
    HS_TRY(hs_nn_state(m, b, grad, &s));
    total += s->loss_sum;
    HS_TRY(hs_progress(m->ctx, "gradient", b + 1, m->n_batches));
  }
  HS_TRY(hs_allreduce_dev(m->ctx, t, grad, m->P, &total, 1));
  total /= (double)m->data->n; /* the global N: every rank binds the whole dataset */
  if (m->spec.weight_decay > 0) {
    double sq;
    HS_OP(m->ctx, OPS(m)->dot(BE(m), t, m->P, m->theta, m->theta, &sq));
    total += 0.5 * m->spec.weight_decay * sq;
    HS_OP(m->ctx, OPS(m)->axpy(BE(m), t, m->P, m->spec.weight_decay, m->theta, grad));
  }
  if (!isfinite(total)) {
    st = hs_fail(m->ctx, HS_E_NUMERIC, "the loss is %g (NaN/Inf): the parameters or data overflow", total);
    goto cleanup;
  }
  *loss = total;
cleanup:
  OPS(m)->free(BE(m), scratch);
  return st;
}

/* ---- the public, host-memory API ---- */

hs_status hs_model_loss_grad(hs_model *m, double *loss, double *grad) {
  void *G = NULL;
  hs_status st = HS_OK;
  if (grad) HS_TRY(hs_dev_alloc(m->ctx, m->dtype, m->P, &G));
  HS_TRY(hs_nn_loss_grad(m, loss, G));
  if (grad) HS_TRY(hs_dev_download_f64(m->ctx, m->dtype, grad, G, m->P));
cleanup:
  OPS(m)->free(BE(m), G);
  return st;
}

hs_status hs_model_accuracy(hs_model *m, double *acc) {
  hs_status st = need_data(m);
  if (st != HS_OK) return st;
  if (m->spec.loss != HS_LOSS_CROSS_ENTROPY)
    return hs_fail(m->ctx, HS_E_INVALID, "accuracy needs a classification model (loss cross_entropy)");
  size_t correct = 0;
  for (size_t b = 0; b < m->n_batches; b++) {
    hs_batch_state *s;
    size_t c;
    HS_TRY(hs_nn_state(m, b, NULL, &s));
    HS_OP(m->ctx, OPS(m)->ce_correct(BE(m), m->dtype, s->rows, m->spec.output_dim, s->X[m->output_value], m->labels + s->first, &c));
    correct += c;
  }
  double sum = (double)correct; /* exact: counts below 2^53 */
  HS_TRY(hs_allreduce(m->ctx, &sum, 1));
  *acc = sum / (double)m->data->n;
cleanup:
  return st;
}

hs_status hs_model_outputs(hs_model *m, double *F) {
  hs_status st = need_data(m);
  if (st != HS_OK) return st;
  const size_t C = (size_t)m->spec.output_dim;
  hs_context *ctx = m->ctx;
  /* Data parallel: each rank fills its rows and zeros the others; the sum over ranks adds
   * only zeros to every value, so it is exact and gives every rank all of F. */
  if (ctx->ranks > 1)
    for (size_t i = 0; i < m->data->n * C; i++) F[i] = 0.0;
  for (size_t b = 0; b < m->n_batches; b++) {
    hs_batch_state *s;
    HS_TRY(hs_nn_state(m, b, NULL, &s));
    HS_TRY(hs_dev_download_f64(ctx, m->dtype, F + (m->row0 + s->first) * C, s->X[m->output_value], (size_t)s->rows * C));
  }
  HS_TRY(hs_allreduce(ctx, F, m->data->n * C));
cleanup:
  return st;
}

hs_status hs_model_hvp(hs_model *m, hs_curvature which, size_t k, const double *V, double *Y) {
  hs_status st = HS_OK;
  size_t n = k * m->P;
  if (k == 0) return HS_OK;
  if (n > m->hvp_cap) { /* grow the staging pair kept in the model (model.h) */
    OPS(m)->free(BE(m), m->hvp_v);
    OPS(m)->free(BE(m), m->hvp_y);
    m->hvp_v = m->hvp_y = NULL;
    m->hvp_cap = 0;
    HS_TRY(hs_dev_alloc(m->ctx, m->dtype, n, &m->hvp_v));
    HS_TRY(hs_dev_alloc(m->ctx, m->dtype, n, &m->hvp_y));
    m->hvp_cap = n;
  }
  HS_TRY(hs_dev_upload_f64(m->ctx, m->dtype, m->hvp_v, V, n));
  HS_TRY(hs_nn_apply(m, which, k, m->hvp_v, m->hvp_y));
  HS_TRY(hs_dev_download_f64(m->ctx, m->dtype, Y, m->hvp_y, n));
cleanup:
  return st;
}

/* ---- the model as a linear operator ---- */

static hs_curvature model_curvature(const hs_linop *self) {
  return self->kind == HS_LINOP_GGN ? HS_CURV_GGN : self->kind == HS_LINOP_RESIDUAL ? HS_CURV_RESIDUAL : HS_CURV_HESSIAN;
}

static hs_status model_apply(hs_linop *self, size_t k, const void *X, void *Y) {
  return hs_nn_apply(self->impl, model_curvature(self), k, X, Y);
}

static void model_linop_destroy(hs_linop *self) { free(self); }

hs_status hs_linop_model(hs_model *m, hs_curvature which, hs_linop **out) {
  *out = NULL;
  hs_status st = need_data(m);
  if (st != HS_OK) return st;
  hs_linop *op = hs_calloc(1, sizeof *op);
  if (!op) return hs_fail(m->ctx, HS_E_NOMEM, "out of host memory");
  *op = (hs_linop){.n = m->P, .dtype = m->dtype, .ctx = m->ctx,
                   .kind = which == HS_CURV_GGN ? HS_LINOP_GGN : which == HS_CURV_RESIDUAL ? HS_LINOP_RESIDUAL : HS_LINOP_HESSIAN, .apply = model_apply,
                   .max_block = 0, .destroy = model_linop_destroy, .impl = m};
  *out = op;
  return HS_OK;
}
