/* Model lifetime, parameters, running statistics, datasets and binding. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "nn/model.h"

#define OPS(m) ((m)->ctx->be->ops)
#define BE(m) ((m)->ctx->be)

hs_context *hs_model_context(const hs_model *m) { return m->ctx; }
size_t hs_model_num_params(const hs_model *m) { return m->P; }
const hs_model_spec *hs_model_get_spec(const hs_model *m) { return &m->spec; }
size_t hs_model_num_tensors(const hs_model *m) { return m->n_tensors; }
const hs_param_info *hs_model_tensor(const hs_model *m, size_t i) {
  return i < m->n_tensors ? &m->tensors[i] : NULL;
}
size_t hs_model_num_norms(const hs_model *m) { return m->n_norms; }
const hs_norm_info *hs_model_norm(const hs_model *m, size_t i) { return i < m->n_norms ? &m->norms[i] : NULL; }
void hs_model_binding(const hs_model *m, size_t *samples, size_t *batch) {
  *samples = m->data ? m->data->n : 0;
  *batch = m->data ? m->batch : 0;
}

hs_status hs_model_create(hs_context *ctx, const hs_model_spec *spec, hs_model **out) {
  *out = NULL;
  hs_status st = hs_spec_validate(ctx, spec);
  if (st != HS_OK) return st;
  hs_model *m = hs_calloc(1, sizeof *m);
  if (!m) return hs_fail(ctx, HS_E_NOMEM, "out of host memory creating the model");
  m->ctx = ctx;
  m->spec = *spec;
  m->dtype = ctx->dtype;
  HS_TRY(hs_nn_compile(m));
  if (m->P == 0) {
    st = hs_fail(ctx, HS_E_INVALID, "the network has no parameters (no linear, conv2d or batchnorm layer)");
    goto cleanup;
  }
  HS_TRY(hs_dev_alloc(ctx, m->dtype, m->P, &m->theta));
  for (size_t i = 0; i < m->n_norms; i++) {
    HS_TRY(hs_dev_alloc(ctx, m->dtype, (size_t)m->norms[i].features, &m->run_mean[i]));
    HS_TRY(hs_dev_alloc(ctx, m->dtype, (size_t)m->norms[i].features, &m->run_var[i]));
  }
  HS_TRY(hs_model_init(m, 0));
  *out = m;
  return HS_OK;
cleanup:
  hs_model_destroy(m);
  return st;
}

static void free_states(hs_model *m) {
  for (size_t i = 0; i < m->n_states; i++) hs_nn_state_free(m, &m->states[i]);
  free(m->states);
  m->states = NULL;
  m->n_states = 0;
  hs_nn_rstate_release(m);
}

static void unbind(hs_model *m) {
  free_states(m);
  OPS(m)->free(BE(m), m->X);
  OPS(m)->free(BE(m), m->labels);
  OPS(m)->free(BE(m), m->T);
  m->X = m->T = NULL;
  m->labels = NULL;
  m->data = NULL;
}

void hs_model_destroy(hs_model *m) {
  if (!m) return;
  unbind(m);
  OPS(m)->free(BE(m), m->hvp_v);
  OPS(m)->free(BE(m), m->hvp_y);
  OPS(m)->free(BE(m), m->theta);
  for (size_t i = 0; i < m->n_norms; i++) {
    OPS(m)->free(BE(m), m->run_mean[i]);
    OPS(m)->free(BE(m), m->run_var[i]);
  }
  free(m);
}

void hs_nn_invalidate(hs_model *m) {
  for (size_t i = 0; i < m->n_states; i++) m->states[i].valid = 0;
}

static int is_norm_tensor(const hs_model *m, size_t t) { return m->fan_in[t] == 0; }

hs_status hs_model_init(hs_model *m, uint64_t seed) {
  double *theta = hs_malloc(m->P * sizeof *theta);
  if (!theta) return hs_fail(m->ctx, HS_E_NOMEM, "out of host memory (%zu parameters)", m->P);
  for (size_t t = 0; t < m->n_tensors; t++) {
    const hs_param_info *p = &m->tensors[t];
    size_t n = (size_t)p->rows * p->cols;
    double *dst = theta + p->offset;
    if (is_norm_tensor(m, t)) { /* BatchNorm: weight 1, bias 0 */
      size_t len = strlen(p->name);
      double v = len >= 7 && strcmp(p->name + len - 7, ".weight") == 0 ? 1.0 : 0.0;
      for (size_t j = 0; j < n; j++) dst[j] = v;
    } else { /* nn.Linear / nn.Conv2d: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
      double bound = 1.0 / sqrt((double)m->fan_in[t]);
      for (size_t j = 0; j < n; j++)
        dst[j] = bound * (2.0 * hs_rng_uniform(seed, HS_STREAM_INIT + 16 * t, j) - 1.0);
    }
  }
  hs_status st = hs_model_set_params(m, theta);
  free(theta);
  for (size_t i = 0; st == HS_OK && i < m->n_norms; i++) {
    size_t n = (size_t)m->norms[i].features;
    if ((st = OPS(m)->fill(BE(m), m->dtype, n, 0.0, m->run_mean[i])) != HS_OK ||
        (st = OPS(m)->fill(BE(m), m->dtype, n, 1.0, m->run_var[i])) != HS_OK)
      return hs_fail_backend(m->ctx, st);
  }
  return st;
}

static hs_status check_finite(hs_context *ctx, const char *what, const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return hs_fail(ctx, HS_E_INVALID, "%s: value %zu is %g (NaN/Inf)", what, i, x[i]);
  return HS_OK;
}

hs_status hs_model_get_params(hs_model *m, double *theta) {
  return hs_dev_download_f64(m->ctx, m->dtype, theta, m->theta, m->P);
}

hs_status hs_model_set_params(hs_model *m, const double *theta) {
  hs_status st = check_finite(m->ctx, "parameters", theta, m->P);
  if (st != HS_OK) return st;
  hs_nn_invalidate(m);
  return hs_dev_upload_f64(m->ctx, m->dtype, m->theta, theta, m->P);
}

static hs_status check_norm(hs_model *m, int i) {
  if (m->n_norms == 0) return hs_fail(m->ctx, HS_E_INVALID, "the model has no batch norm: no running statistics");
  if (i < 0 || (size_t)i >= m->n_norms)
    return hs_fail(m->ctx, HS_E_INVALID, "batch-norm layer %d out of range [0, %zu)", i, m->n_norms);
  return HS_OK;
}

hs_status hs_model_get_running(hs_model *m, int i, double *mean, double *var) {
  hs_status st = check_norm(m, i);
  size_t n = st == HS_OK ? (size_t)m->norms[i].features : 0;
  if (st == HS_OK && mean) st = hs_dev_download_f64(m->ctx, m->dtype, mean, m->run_mean[i], n);
  if (st == HS_OK && var) st = hs_dev_download_f64(m->ctx, m->dtype, var, m->run_var[i], n);
  return st;
}

hs_status hs_model_set_running(hs_model *m, int i, const double *mean, const double *var) {
  hs_status st = check_norm(m, i);
  if (st != HS_OK) return st;
  size_t n = (size_t)m->norms[i].features;
  if ((st = check_finite(m->ctx, "running_mean", mean, n)) != HS_OK) return st;
  if ((st = check_finite(m->ctx, "running_var", var, n)) != HS_OK) return st;
  for (size_t j = 0; j < n; j++)
    if (var[j] < 0)
      return hs_fail(m->ctx, HS_E_INVALID, "%s.running_var[%zu] = %g is negative", m->norms[i].name, j, var[j]);
  hs_nn_invalidate(m);
  st = hs_dev_upload_f64(m->ctx, m->dtype, m->run_mean[i], mean, n);
  if (st == HS_OK) st = hs_dev_upload_f64(m->ctx, m->dtype, m->run_var[i], var, n);
  return st;
}

/* ---- datasets ---- */

hs_status hs_dataset_create(hs_context *ctx, size_t n, int input_dim, const double *X,
                            int output_dim, const int32_t *labels, const double *targets,
                            hs_dataset **out) {
  *out = NULL;
  if (n == 0) return hs_fail(ctx, HS_E_INVALID, "the dataset has no samples");
  if (input_dim <= 0 || output_dim <= 0)
    return hs_fail(ctx, HS_E_INVALID, "dataset dimensions must be positive (input %d, output %d)", input_dim, output_dim);
  if (!labels == !targets)
    return hs_fail(ctx, HS_E_INVALID, "a dataset needs either labels or targets");
  size_t nx = n * (size_t)input_dim, nt = targets ? n * (size_t)output_dim : 0;
  for (size_t i = 0; i < nx; i++)
    if (!isfinite(X[i]))
      return hs_fail(ctx, HS_E_INVALID, "inputs: sample %zu feature %zu is %g (NaN/Inf)", i / input_dim, i % input_dim, X[i]);
  for (size_t i = 0; i < nt; i++)
    if (!isfinite(targets[i]))
      return hs_fail(ctx, HS_E_INVALID, "targets: sample %zu output %zu is %g (NaN/Inf)", i / output_dim, i % output_dim, targets[i]);
  for (size_t i = 0; labels && i < n; i++)
    if (labels[i] < 0 || labels[i] >= output_dim)
      return hs_fail(ctx, HS_E_INVALID, "targets: label %d of sample %zu is out of range [0, %d)", labels[i], i, output_dim);
  hs_dataset *d = hs_calloc(1, sizeof *d);
  if (!d) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  *d = (hs_dataset){.ctx = ctx, .n = n, .input_dim = input_dim, .output_dim = output_dim};
  d->X = hs_malloc(nx * sizeof *d->X);
  if (labels) d->labels = hs_malloc(n * sizeof *d->labels);
  if (targets) d->targets = hs_malloc(nt * sizeof *d->targets);
  if (!d->X || (labels && !d->labels) || (targets && !d->targets)) {
    hs_dataset_destroy(d);
    return hs_fail(ctx, HS_E_NOMEM, "out of host memory copying %zu samples", n);
  }
  memcpy(d->X, X, nx * sizeof *X);
  if (labels) memcpy(d->labels, labels, n * sizeof *labels);
  if (targets) memcpy(d->targets, targets, nt * sizeof *targets);
  *out = d;
  return HS_OK;
}

void hs_dataset_destroy(hs_dataset *d) {
  if (!d) return;
  free(d->X);
  free(d->labels);
  free(d->targets);
  free(d);
}

size_t hs_dataset_size(const hs_dataset *d) { return d->n; }

/* ---- binding and per-batch state ---- */

/* Per-batch states are cached for every batch while they fit this budget (the context's
 * cache_mb); beyond it one state is recomputed per batch and use. */
static size_t cache_budget_bytes(const hs_context *ctx) { return ctx->cache_mb << 20; }

/* may_cache: keep every batch's state; shard: only this rank's batches (hs_context_options). */
static hs_status bind(hs_model *m, const hs_dataset *d, size_t batch, int may_cache, int shard) {
  hs_context *ctx = m->ctx;
  hs_status st = HS_OK;
  if (d->input_dim != m->spec.input_dim)
    return hs_fail(ctx, HS_E_INVALID, "inputs have %d features but the model's input_dim is %d", d->input_dim, m->spec.input_dim);
  if (d->output_dim != m->spec.output_dim)
    return hs_fail(ctx, HS_E_INVALID, "targets have %d outputs but the model's output_dim is %d", d->output_dim, m->spec.output_dim);
  if (m->spec.loss == HS_LOSS_CROSS_ENTROPY && !d->labels)
    return hs_fail(ctx, HS_E_INVALID, "cross_entropy needs integer labels as targets, got float targets");
  if (m->spec.loss == HS_LOSS_MSE && !d->targets)
    return hs_fail(ctx, HS_E_INVALID, "mse needs float targets of shape (N, %d), got integer labels", m->spec.output_dim);
  unbind(m);
  size_t N = d->n, B = batch == 0 || batch > N ? N : batch;
  if (B > INT32_MAX) return hs_fail(ctx, HS_E_INVALID, "batch of %zu samples is too large", B);
  if (m->n_norms > 0 && m->spec.batchnorm == HS_BN_BATCH && (N % B == 1))
    return hs_fail(ctx, HS_E_INVALID, "--batch %zu leaves a last batch of 1 sample: batch-mode batch norm needs >= 2", B);
  m->data = d;
  m->batch = B;
  /* this rank's shard: whole batches [b0, b1) of the n_b, rows [row0, row0 + n_local) */
  size_t n_b = (N + B - 1) / B, b0 = 0, b1 = n_b;
  if (shard) hs_rank_range(n_b, ctx->rank, ctx->ranks, &b0, &b1);
  m->n_batches = b1 - b0;
  m->row0 = b0 * B;
  m->n_local = (b1 * B < N ? b1 * B : N) - m->row0;
  const size_t nl = m->n_local, r0 = m->row0;
  if (nl > 0) {
    HS_TRY(hs_dev_alloc(ctx, m->dtype, nl * (size_t)d->input_dim, &m->X));
    HS_TRY(hs_dev_upload_f64(ctx, m->dtype, m->X, d->X + r0 * (size_t)d->input_dim, nl * (size_t)d->input_dim));
    if (d->labels) {
      HS_TRY(hs_dev_alloc_bytes(ctx, nl * sizeof(int32_t), (void **)&m->labels));
      HS_OP(ctx, ctx->be->ops->upload(ctx->be, m->labels, d->labels + r0, nl * sizeof(int32_t)));
    } else {
      HS_TRY(hs_dev_alloc(ctx, m->dtype, nl * (size_t)d->output_dim, &m->T));
      HS_TRY(hs_dev_upload_f64(ctx, m->dtype, m->T, d->targets + r0 * (size_t)d->output_dim, nl * (size_t)d->output_dim));
    }
  }
  int cache_all = may_cache && m->n_batches * hs_nn_state_bytes(m, B) <= cache_budget_bytes(ctx);
  size_t n_states = cache_all ? m->n_batches : m->n_batches > 0; /* a rank without batches needs none */
  m->states = hs_calloc(n_states + 1, sizeof *m->states);
  if (!m->states) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  m->n_states = n_states; /* only now: unbind frees n_states states */
  for (size_t i = 0; i < m->n_states; i++) HS_TRY(hs_nn_state_create(m, &m->states[i], (int)B));
  return HS_OK;
cleanup:
  unbind(m);
  return st;
}

hs_status hs_model_bind(hs_model *m, const hs_dataset *d, size_t batch) { return bind(m, d, batch, 1, 1); }

hs_status hs_nn_bind_streaming(hs_model *m, const hs_dataset *d, size_t batch) { return bind(m, d, batch, 0, 0); }

hs_status hs_nn_state_mode(hs_model *m, size_t b, int bn_mode, void *G, hs_batch_state **out) {
  if (!m->data) return hs_fail(m->ctx, HS_E_INVALID, "no data bound to the model");
  if (b >= m->n_batches) return hs_fail(m->ctx, HS_E_INTERNAL, "batch %zu of %zu", b, m->n_batches);
  size_t first = b * m->batch;
  int rows = (int)(first + m->batch <= m->n_local ? m->batch : m->n_local - first);
  return hs_nn_state_rows(m, b, 0, (size_t)rows, bn_mode, G, out);
}

hs_status hs_nn_state_rows(hs_model *m, size_t b, size_t lo, size_t hi, int bn_mode, void *G, hs_batch_state **out) {
  hs_status st;
  if (!m->data) return hs_fail(m->ctx, HS_E_INVALID, "no data bound to the model");
  size_t first = b * m->batch + lo;
  if (b >= m->n_batches || hi <= lo || hi - lo > m->batch || first + (hi - lo) > m->n_local)
    return hs_fail(m->ctx, HS_E_INTERNAL, "rows [%zu, %zu) of batch %zu of %zu", lo, hi, b, m->n_batches);
  int rows = (int)(hi - lo);
  hs_batch_state *s = &m->states[m->n_states == m->n_batches ? b : 0];
  if (!G && s->valid && s->first == first && s->rows == rows && s->bn_mode == bn_mode) { *out = s; return HS_OK; }
  s->valid = 0;
  const void *Xb = hs_dptr(m->X, m->dtype, first * (size_t)m->spec.input_dim);
  HS_TRY(hs_nn_forward(m, s, Xb, rows, first, bn_mode));
  HS_TRY(hs_nn_backward(m, s, 1, s->D[m->output_value], NULL, G, 1));
  s->valid = 1;
  *out = s;
  return HS_OK;
cleanup:
  return st;
}

hs_status hs_nn_state(hs_model *m, size_t b, void *G, hs_batch_state **out) {
  return hs_nn_state_mode(m, b, m->spec.batchnorm, G, out);
}
