/* Model spec semantics: range checks of both forms, shape inference of the layer form, and
 * the MLP form's expansion into layers. (Provisional engine-side version.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/spec.h"
#include "nn/spec_check.h"

static hs_status validate_mlp(hs_context *ctx, const hs_model_spec *s) {
  if (s->input_dim < 1 || s->input_dim > HS_SPEC_MAX_DIM)
    return hs_fail(ctx, HS_E_INVALID, "field 'input_dim': %d is not in [1, %d]", s->input_dim,
                   HS_SPEC_MAX_DIM);
  if (s->output_dim < 1 || s->output_dim > HS_SPEC_MAX_DIM)
    return hs_fail(ctx, HS_E_INVALID, "field 'output_dim': %d is not in [1, %d]", s->output_dim,
                   HS_SPEC_MAX_DIM);
  if (s->n_hidden < 0 || s->n_hidden > HS_MAX_HIDDEN)
    return hs_fail(ctx, HS_E_INVALID, "field 'hidden': %d layers is not in [0, %d]", s->n_hidden,
                   HS_MAX_HIDDEN);
  for (int i = 0; i < s->n_hidden; i++)
    if (s->hidden[i] < 1 || s->hidden[i] > HS_SPEC_MAX_DIM)
      return hs_fail(ctx, HS_E_INVALID, "field 'hidden': width %d of layer %d is not in [1, %d]",
                     s->hidden[i], i, HS_SPEC_MAX_DIM);
  if ((unsigned)s->activation > HS_ACT_TANH)
    return hs_fail(ctx, HS_E_INVALID, "field 'activation': invalid value %d", (int)s->activation);
  if ((unsigned)s->batchnorm > HS_BN_RUNNING)
    return hs_fail(ctx, HS_E_INVALID, "field 'batchnorm': invalid value %d", (int)s->batchnorm);
  if ((unsigned)s->loss > HS_LOSS_CROSS_ENTROPY)
    return hs_fail(ctx, HS_E_INVALID, "field 'loss': invalid value %d", (int)s->loss);
  if (s->residual != 0 && s->residual != 1)
    return hs_fail(ctx, HS_E_INVALID, "field 'residual': expected 0 or 1, got %d", s->residual);
  if (s->bias != 0 && s->bias != 1)
    return hs_fail(ctx, HS_E_INVALID, "field 'bias': expected 0 or 1, got %d", s->bias);
  if (!(s->weight_decay >= 0) || !isfinite(s->weight_decay))
    return hs_fail(ctx, HS_E_INVALID, "field 'weight_decay': %g is not a finite number >= 0",
                   s->weight_decay);
  /* With one output the softmax is constant: the loss, gradient and Hessian are all zero. */
  if (s->loss == HS_LOSS_CROSS_ENTROPY && s->output_dim < 2)
    return hs_fail(ctx, HS_E_INVALID,
                   "field 'output_dim': cross_entropy needs at least 2 classes, got %d",
                   s->output_dim);
  return HS_OK;
}


static void shape_str(const hs_shape *s, char *out, size_t len) {
  if (s->rank == 1) snprintf(out, len, "[%d]", s->dim[0]);
  else snprintf(out, len, "[%d, %d, %d]", s->dim[0], s->dim[1], s->dim[2]);
}

typedef struct {
  hs_context *ctx;
  const hs_model_spec *sp;
  hs_layer_shape *out;
} walker;

static hs_status walk(walker *w, int first, int count, const char *prefix, hs_shape in, hs_shape *result);

static hs_status layer_shape(walker *w, int i, const char *path, hs_shape in, hs_shape *o) {
  const hs_layer_spec *e = &w->sp->layers[i];
  hs_context *ctx = w->ctx;
  char sh[64];
  shape_str(&in, sh, sizeof sh);
  *o = in;
  switch (e->type) {
  case HS_LAYER_LINEAR:
    if (in.rank != 1)
      return hs_fail(ctx, HS_E_INVALID, "%s: linear expects features, got %s: add a flatten layer", path, sh);
    if (e->out < 1 || e->out > HS_SPEC_MAX_DIM)
      return hs_fail(ctx, HS_E_INVALID, "%s: field 'out_features': %d is not in [1, %d]", path, e->out, HS_SPEC_MAX_DIM);
    o->dim[0] = e->out;
    return HS_OK;
  case HS_LAYER_CONV2D:
  case HS_LAYER_AVGPOOL:
  case HS_LAYER_MAXPOOL: {
    const char *kind = e->type == HS_LAYER_CONV2D ? "conv2d" : e->type == HS_LAYER_AVGPOOL ? "avgpool" : "maxpool";
    if (in.rank != 3) return hs_fail(ctx, HS_E_INVALID, "%s: %s expects [C, H, W], got %s", path, kind, sh);
    if (e->type == HS_LAYER_CONV2D && (e->out < 1 || e->out > HS_SPEC_MAX_DIM))
      return hs_fail(ctx, HS_E_INVALID, "%s: field 'out_channels': %d is not in [1, %d]", path, e->out, HS_SPEC_MAX_DIM);
    int pad[2] = {e->type == HS_LAYER_CONV2D ? e->padding[0] : 0, e->type == HS_LAYER_CONV2D ? e->padding[1] : 0};
    if (e->kernel[0] < 1 || e->kernel[1] < 1)
      return hs_fail(ctx, HS_E_INVALID, "%s: field 'kernel': %d x %d is not positive", path, e->kernel[0], e->kernel[1]);
    if (e->stride[0] < 1 || e->stride[1] < 1)
      return hs_fail(ctx, HS_E_INVALID, "%s: field 'stride': %d x %d is not positive", path, e->stride[0], e->stride[1]);
    if (pad[0] < 0 || pad[1] < 0)
      return hs_fail(ctx, HS_E_INVALID, "%s: field 'padding': %d x %d is negative", path, pad[0], pad[1]);
    int H = in.dim[1] + 2 * pad[0], W = in.dim[2] + 2 * pad[1];
    if (e->kernel[0] > H || e->kernel[1] > W)
      return hs_fail(ctx, HS_E_INVALID, "%s: field 'kernel': %d x %d is larger than the padded input %d x %d", path,
                     e->kernel[0], e->kernel[1], H, W);
    o->dim[0] = e->type == HS_LAYER_CONV2D ? e->out : in.dim[0];
    o->dim[1] = (H - e->kernel[0]) / e->stride[0] + 1;
    o->dim[2] = (W - e->kernel[1]) / e->stride[1] + 1;
    return HS_OK;
  }
  case HS_LAYER_GLOBAL_AVGPOOL:
    if (in.rank != 3) return hs_fail(ctx, HS_E_INVALID, "%s: global_avgpool expects [C, H, W], got %s", path, sh);
    o->dim[1] = o->dim[2] = 1;
    return HS_OK;
  case HS_LAYER_FLATTEN:
    *o = (hs_shape){1, {(int)hs_shape_numel(&in), 0, 0}};
    return HS_OK;
  case HS_LAYER_BATCHNORM:
    if (!(e->eps > 0) || !isfinite(e->eps)) return hs_fail(ctx, HS_E_INVALID, "%s: field 'eps': %g is not > 0", path, e->eps);
    if (e->eps != 1e-5)
      return hs_fail(ctx, HS_E_UNSUPPORTED, "%s: field 'eps': only 1e-5 is supported (the op table's HS_BN_EPS)", path);
    return HS_OK;
  case HS_LAYER_RELU:
  case HS_LAYER_TANH:
  case HS_LAYER_IDENTITY:
    return HS_OK;
  case HS_LAYER_RESIDUAL: {
    if (e->body_len < 1 || e->shortcut_len < 0 || i + 1 + e->body_len + e->shortcut_len > w->sp->n_layers)
      return hs_fail(ctx, HS_E_INVALID, "%s: residual body (%d entries) and shortcut (%d) do not fit the list", path,
                     e->body_len, e->shortcut_len);
    char pre[80];
    hs_shape b, s = in;
    snprintf(pre, sizeof pre, "%s.body", path);
    hs_status st = walk(w, i + 1, e->body_len, pre, in, &b);
    if (st != HS_OK) return st;
    if (e->shortcut_len) {
      snprintf(pre, sizeof pre, "%s.shortcut", path);
      if ((st = walk(w, i + 1 + e->body_len, e->shortcut_len, pre, in, &s)) != HS_OK) return st;
    }
    char bs[64], ss[64];
    shape_str(&b, bs, sizeof bs);
    shape_str(&s, ss, sizeof ss);
    if (b.rank != s.rank || memcmp(b.dim, s.dim, sizeof b.dim) != 0)
      return hs_fail(ctx, HS_E_INVALID, "%s: residual body gives %s but the shortcut gives %s", path, bs, ss);
    *o = b;
    return HS_OK;
  }
  }
  return hs_fail(ctx, HS_E_INVALID, "%s: unknown layer type %d", path, (int)e->type);
}

static hs_status walk(walker *w, int first, int count, const char *prefix, hs_shape in, hs_shape *result) {
  hs_shape cur = in;
  for (int i = first, j = 0; i < first + count; j++) {
    const hs_layer_spec *e = &w->sp->layers[i];
    char path[64];
    if (e->name[0]) snprintf(path, sizeof path, "%s", e->name);
    else snprintf(path, sizeof path, "%s.%d", prefix, j);
    hs_shape o;
    hs_status st = layer_shape(w, i, path, cur, &o);
    if (st != HS_OK) return st;
    long long n = hs_shape_numel(&o);
    if (n < 1 || n > HS_SPEC_MAX_DIM) return hs_fail(w->ctx, HS_E_INVALID, "%s: output of %lld values per sample", path, n);
    w->out[i].in = cur;
    w->out[i].out = o;
    snprintf(w->out[i].path, sizeof w->out[i].path, "%s", path);
    cur = o;
    i += e->type == HS_LAYER_RESIDUAL ? 1 + e->body_len + e->shortcut_len : 1;
  }
  *result = cur;
  return HS_OK;
}

hs_status hs_spec_layer_shapes(hs_context *ctx, const hs_model_spec *s, hs_layer_shape *out) {
  const hs_shape *in = &s->input_shape;
  if (in->rank != 1 && in->rank != 3)
    return hs_fail(ctx, HS_E_INVALID, "field 'input_shape': expected [F] or [C, H, W], got rank %d", in->rank);
  for (int i = 0; i < in->rank; i++)
    if (in->dim[i] < 1 || in->dim[i] > HS_SPEC_MAX_DIM)
      return hs_fail(ctx, HS_E_INVALID, "field 'input_shape': dimension %d is %d", i, in->dim[i]);
  if (hs_shape_numel(in) > HS_SPEC_MAX_DIM) return hs_fail(ctx, HS_E_INVALID, "field 'input_shape': too many values");
  if (s->n_layers < 1 || s->n_layers > HS_MAX_LAYERS)
    return hs_fail(ctx, HS_E_INVALID, "field 'layers': %d entries is not in [1, %d]", s->n_layers, HS_MAX_LAYERS);
  walker w = {ctx, s, out};
  hs_shape o;
  hs_status st = walk(&w, 0, s->n_layers, "layers", *in, &o);
  if (st != HS_OK) return st;
  if (o.rank != 1) {
    char sh[64];
    shape_str(&o, sh, sizeof sh);
    return hs_fail(ctx, HS_E_INVALID, "field 'layers': the network outputs %s per sample, not features: add flatten and linear layers", sh);
  }
  return HS_OK;
}

static hs_status layer_dims(hs_context *ctx, const hs_model_spec *s, int *in, int *out) {
  hs_layer_shape *sh = hs_malloc(sizeof *sh * (size_t)(s->n_layers > 0 ? s->n_layers : 1));
  if (!sh) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  hs_status st = hs_spec_layer_shapes(ctx, s, sh);
  if (st == HS_OK) {
    *in = (int)hs_shape_numel(&s->input_shape);
    int last = 0;
    for (int i = 0; i < s->n_layers;) { /* the top-level entries */
      last = i;
      i += s->layers[i].type == HS_LAYER_RESIDUAL ? 1 + s->layers[i].body_len + s->layers[i].shortcut_len : 1;
    }
    *out = (int)hs_shape_numel(&sh[last].out);
  }
  free(sh);
  return st;
}

hs_status hs_spec_infer_dims(hs_context *ctx, hs_model_spec *s) {
  if (s->form != HS_SPEC_LAYERS) return hs_spec_validate(ctx, s);
  hs_status st = layer_dims(ctx, s, &s->input_dim, &s->output_dim);
  return st == HS_OK ? hs_spec_validate(ctx, s) : st;
}

hs_status hs_spec_validate(hs_context *ctx, const hs_model_spec *s) {
  if (s->form == HS_SPEC_MLP) return validate_mlp(ctx, s);
  if (s->form != HS_SPEC_LAYERS) return hs_fail(ctx, HS_E_INVALID, "spec form %d is neither MLP nor layers", (int)s->form);
  if (s->batchnorm != HS_BN_BATCH && s->batchnorm != HS_BN_RUNNING)
    return hs_fail(ctx, HS_E_INVALID, "field 'batchnorm_mode': expected batch or running");
  if ((unsigned)s->loss > HS_LOSS_CROSS_ENTROPY)
    return hs_fail(ctx, HS_E_INVALID, "field 'loss': invalid value %d", (int)s->loss);
  if (!(s->weight_decay >= 0) || !isfinite(s->weight_decay))
    return hs_fail(ctx, HS_E_INVALID, "field 'weight_decay': %g is not a finite number >= 0", s->weight_decay);
  int in, out;
  hs_status st = layer_dims(ctx, s, &in, &out);
  if (st != HS_OK) return st;
  if (in != s->input_dim || out != s->output_dim)
    return hs_fail(ctx, HS_E_INVALID, "input_dim %d / output_dim %d disagree with the layers (%d / %d): call hs_spec_infer_dims",
                   s->input_dim, s->output_dim, in, out);
  if (s->loss == HS_LOSS_CROSS_ENTROPY && out < 2)
    return hs_fail(ctx, HS_E_INVALID, "the network outputs %d feature: cross_entropy needs at least 2 classes", out);
  return HS_OK;
}

static hs_layer_spec *push(hs_model_spec *o, hs_layer_type t, const char *name) {
  hs_layer_spec *e = &o->layers[o->n_layers++];
  memset(e, 0, sizeof *e);
  e->type = t;
  e->bias = 1;
  e->eps = 1e-5;
  e->stride[0] = e->stride[1] = 1;
  snprintf(e->name, sizeof e->name, "%s", name);
  return e;
}

hs_status hs_spec_mlp_to_layers(hs_context *ctx, const hs_model_spec *mlp, hs_model_spec *o) {
  hs_status st = validate_mlp(ctx, mlp);
  if (st != HS_OK) return st;
  memset(o, 0, sizeof *o);
  o->form = HS_SPEC_LAYERS;
  o->input_shape = (hs_shape){1, {mlp->input_dim, 0, 0}};
  o->batchnorm = mlp->batchnorm == HS_BN_RUNNING ? HS_BN_RUNNING : HS_BN_BATCH;
  o->loss = mlp->loss;
  o->weight_decay = mlp->weight_decay;
  int prev = mlp->input_dim;
  char name[40];
  for (int i = 0; i < mlp->n_hidden; i++) {
    int res = mlp->residual && i >= 1 && mlp->hidden[i] == prev;
    int r = o->n_layers;
    if (res) {
      snprintf(name, sizeof name, "blocks.%d", i);
      push(o, HS_LAYER_RESIDUAL, name);
    }
    snprintf(name, sizeof name, "blocks.%d.linear", i);
    hs_layer_spec *e = push(o, HS_LAYER_LINEAR, name);
    e->out = mlp->hidden[i];
    e->bias = mlp->bias;
    if (mlp->batchnorm != HS_BN_NONE) {
      snprintf(name, sizeof name, "blocks.%d.norm", i);
      push(o, HS_LAYER_BATCHNORM, name);
    }
    snprintf(name, sizeof name, "blocks.%d.act", i);
    push(o, mlp->activation == HS_ACT_RELU ? HS_LAYER_RELU : mlp->activation == HS_ACT_TANH ? HS_LAYER_TANH : HS_LAYER_IDENTITY,
         name);
    if (res) o->layers[r].body_len = o->n_layers - r - 1;
    prev = mlp->hidden[i];
  }
  hs_layer_spec *h = push(o, HS_LAYER_LINEAR, "head");
  h->out = mlp->output_dim;
  h->bias = mlp->bias;
  return hs_spec_infer_dims(ctx, o);
}
