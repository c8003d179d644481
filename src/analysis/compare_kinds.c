/* The network of each compare kind (analysis/compare.h): the MLP kinds on the preset's hidden
 * widths, the conv kinds as a small residual conv net; shared by the driver (compare.c) and its
 * panels (compare_critical.c, compare_landscape.c), so that those depend on this file and not
 * on the driver that calls them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/compare.h"
#include "core/alloc.h"
#include "core/context.h"
#include "nn/dataset.h"
#include "nn/engine.h"

static hs_layer_spec *push(hs_model_spec *s, hs_layer_type t) {
  hs_layer_spec *e = &s->layers[s->n_layers++];
  memset(e, 0, sizeof *e);
  e->type = t;
  e->bias = 1;
  e->eps = 1e-5;
  e->stride[0] = e->stride[1] = 1;
  return e;
}

static void push_conv(hs_model_spec *s, int out, int kernel, int stride, int bn) {
  hs_layer_spec *e = push(s, HS_LAYER_CONV2D);
  e->out = out;
  e->kernel[0] = e->kernel[1] = kernel;
  e->stride[0] = e->stride[1] = stride;
  e->padding[0] = e->padding[1] = kernel / 2;
  e->bias = !bn; /* a conv followed by batch norm has its bias in the norm's beta */
  if (bn) push(s, HS_LAYER_BATCHNORM);
}

/* The conv kinds on the hidden widths as channels: a 3x3 stem, then per further width a stage
 * of two 3x3 convs (stride 2 where the width changes), wrapped in a residual with an identity
 * shortcut, or a 1x1 projection where the shape changes (resnet kinds), then global average
 * pooling and a linear classifier. Images are square, one channel: 784 inputs -> [1, 28, 28]. */
static hs_status conv_spec(hs_context *ctx, const hs_cmp_config *c, const hs_cmp_kind *k, const hs_dataset *data,
                           hs_model_spec *s) {
  int side = (int)lround(sqrt((double)data->input_dim));
  if (side * side != data->input_dim || side < 4)
    return hs_fail(ctx, HS_E_INVALID, "kind '%s': conv kinds need square one-channel images; the data have %d features",
                   k->name, data->input_dim);
  *s = hs_spec_defaults();
  s->form = HS_SPEC_LAYERS;
  s->input_shape = (hs_shape){3, {1, side, side}};
  s->batchnorm = c->bn_mode;
  s->loss = c->loss;
  const int bn = k->batchnorm;
  push_conv(s, c->hidden[0], 3, 1, bn);
  push(s, HS_LAYER_RELU);
  for (int i = 1; i < c->n_hidden; i++) {
    int w = c->hidden[i], stride = w != c->hidden[i - 1] ? 2 : 1, r = s->n_layers;
    if (k->residual) push(s, HS_LAYER_RESIDUAL);
    push_conv(s, w, 3, stride, bn);
    push(s, HS_LAYER_RELU);
    push_conv(s, w, 3, 1, bn);
    if (k->residual) {
      s->layers[r].body_len = s->n_layers - r - 1;
      if (stride != 1) push_conv(s, w, 1, stride, bn);
      s->layers[r].shortcut_len = s->n_layers - r - 1 - s->layers[r].body_len;
    }
    push(s, HS_LAYER_RELU);
  }
  push(s, HS_LAYER_GLOBAL_AVGPOOL);
  push(s, HS_LAYER_FLATTEN);
  push(s, HS_LAYER_LINEAR)->out = data->output_dim;
  return hs_spec_infer_dims(ctx, s);
}

static hs_model_spec mlp_spec(const hs_cmp_config *c, const hs_cmp_kind *k, const hs_dataset *data) {
  hs_model_spec s = hs_spec_defaults();
  s.input_dim = data->input_dim;
  s.output_dim = data->output_dim;
  s.n_hidden = c->n_hidden;
  for (int i = 0; i < c->n_hidden; i++) s.hidden[i] = c->hidden[i];
  s.activation = k->act;
  s.batchnorm = k->batchnorm ? c->bn_mode : HS_BN_NONE;
  s.residual = k->residual;
  s.bias = c->bias;
  s.loss = c->loss;
  return s;
}

hs_status hs_cmp_kind_spec(hs_context *ctx, const hs_cmp_config *c, const hs_cmp_kind *k, const hs_dataset *data,
                           hs_model_spec *s) {
  if (k->conv) return conv_spec(ctx, c, k, data, s);
  *s = mlp_spec(c, k, data);
  return HS_OK;
}

/* Evaluation batches of the analysis batch size, so that memory stays bounded on large sets. */
size_t hs_cmp_eval_batch(size_t n, size_t ab) {
  if (ab == 0 || ab >= n) return n;
  return n % ab == 1 ? ab + 1 : ab;
}

int hs_cmp_kind_index(const hs_cmp_config *c, const char *name) {
  for (size_t k = 0; k < c->n_kinds; k++)
    if (strcmp(c->kinds[k].name, name) == 0) return (int)k;
  return -1;
}

hs_slq_options hs_cmp_slq_options(const hs_cmp_config *c, size_t P, double lambda_max, double lambda_min) {
  hs_slq_options so = hs_slq_defaults();
  so.steps = c->slq_steps < P ? c->slq_steps : P;
  so.probes = c->slq_probes;
  so.seed = c->probe_seed;
  double scale = fmax(fabs(lambda_max), fabs(lambda_min));
  if (isfinite(scale) && scale > 0) so.neg_tol = c->neg_tol_rel * scale;
  return so;
}

hs_provenance hs_cmp_provenance(const hs_cmp_config *c, hs_model *m, size_t k, size_t si, size_t epoch,
                                const char *op_kind, const char *spec_json, const char *data_desc, char *weights) {
  hs_context *ctx = hs_model_context(m);
  snprintf(weights, 200, "trained by hesspec compare: %s, seed %llu, after %zu epochs%s", c->kinds[k].name,
           (unsigned long long)c->seeds[si], epoch, epoch ? "" : " (the initialisation)");
  return (hs_provenance){.command = "compare",
                         .operator_kind = op_kind,
                         .model_json = spec_json,
                         .weights = weights,
                         .data = data_desc,
                         .samples = c->analysis_samples,
                         .batch = c->analysis_batch ? c->analysis_batch : c->analysis_samples,
                         .dtype = hs_nn_dtype(m),
                         .backend = hs_backend_name(ctx),
                         .device = hs_device_name(ctx),
                         .seed = c->probe_seed};
}

hs_status hs_cmp_keep_density(hs_context *ctx, const hs_slq_result *r, size_t *grid_n, double **grid, double **density) {
  *grid = hs_malloc(r->grid_n * sizeof **grid);
  *density = hs_malloc(r->grid_n * sizeof **density);
  if (!*grid || !*density) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  memcpy(*grid, r->grid, r->grid_n * sizeof **grid);
  memcpy(*density, r->density, r->grid_n * sizeof **density);
  *grid_n = r->grid_n;
  return HS_OK;
}
