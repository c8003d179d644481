/* From the spec to the node list: the parameter layout table (names, offsets, shapes, in
 * model.parameters() order), the values between nodes, which of them depend on parameters,
 * and the cotangent slots of the R-backward. The MLP form is first expanded into its layer
 * form (hs_spec_mlp_to_layers), so both forms run the same units. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/model.h"
#include "nn/spec_check.h"
#include "nn/unit.h"

typedef struct {
  hs_model *m;
  const hs_model_spec *sp;
  const hs_layer_shape *shapes;
} compiler;

static size_t add_tensor(hs_model *m, const char *module, const char *what, int ndim, const int *shape, int fan_in) {
  size_t t = m->n_tensors++;
  snprintf(m->names[t], sizeof m->names[t], "%s.%s", module, what);
  hs_param_info *p = &m->tensors[t];
  memset(p, 0, sizeof *p);
  p->name = m->names[t];
  p->offset = m->P;
  p->ndim = ndim;
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    p->shape[i] = shape[i];
    n *= (size_t)shape[i];
  }
  p->rows = shape[0];
  p->cols = (int)(n / (size_t)shape[0]);
  m->fan_in[t] = fan_in;
  m->P += n;
  return p->offset;
}

static int new_value(hs_model *m, const hs_shape *shape) {
  int v = m->n_values++;
  m->values[v] = (hs_value){.numel = hs_shape_numel(shape), .needs_grad = 0, .r_buffer = 0, .slot = -1, .consumers = 0};
  if (m->values[v].numel > m->max_numel) m->max_numel = m->values[v].numel;
  return v;
}

static hs_node *new_node(hs_model *m, hs_node_kind kind, const hs_unit *u, int in, const hs_shape *ins,
                         const hs_shape *outs) {
  hs_node *n = &m->nodes[m->n_nodes++];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->unit = u;
  n->in = in;
  n->in2 = -1;
  n->in_shape = *ins;
  n->out_shape = *outs;
  n->in_numel = hs_shape_numel(ins);
  n->out_numel = hs_shape_numel(outs);
  n->w = n->b = SIZE_MAX;
  n->out = new_value(m, outs);
  return n;
}

static hs_window window_of(const hs_layer_spec *e, const hs_shape *in, const hs_shape *out) {
  hs_window g = {.C = in->dim[0], .H = in->dim[1], .W = in->dim[2], .kh = e->kernel[0], .kw = e->kernel[1],
                 .sh = e->stride[0], .sw = e->stride[1], .ph = e->padding[0], .pw = e->padding[1],
                 .Ho = out->dim[1], .Wo = out->dim[2]};
  if (e->type == HS_LAYER_GLOBAL_AVGPOOL) {
    g.kh = g.sh = in->dim[1];
    g.kw = g.sw = in->dim[2];
    g.ph = g.pw = 0;
  } else if (e->type != HS_LAYER_CONV2D) {
    g.ph = g.pw = 0;
  }
  return g;
}

/* One entry that is not a residual; returns the value it outputs. */
static int emit_layer(compiler *c, int i, int in) {
  hs_model *m = c->m;
  const hs_layer_spec *e = &c->sp->layers[i];
  const hs_layer_shape *sh = &c->shapes[i];
  const char *name = sh->path;
  hs_node *n;
  switch (e->type) {
  case HS_LAYER_FLATTEN:
  case HS_LAYER_IDENTITY:
    return in; /* the same value, seen with another shape */
  case HS_LAYER_LINEAR: {
    n = new_node(m, HS_NODE_LINEAR, &hs_unit_linear, in, &sh->in, &sh->out);
    n->fin = sh->in.dim[0];
    n->fout = e->out;
    int ws[2] = {n->fout, n->fin}, bs[1] = {n->fout};
    n->w = add_tensor(m, name, "weight", 2, ws, n->fin);
    if (e->bias) n->b = add_tensor(m, name, "bias", 1, bs, n->fin);
    n->has_params = 1;
    return n->out;
  }
  case HS_LAYER_CONV2D: {
    n = new_node(m, HS_NODE_CONV, &hs_unit_conv, in, &sh->in, &sh->out);
    n->fin = sh->in.dim[0];
    n->fout = e->out;
    n->g = window_of(e, &sh->in, &sh->out);
    int fan = n->fin * e->kernel[0] * e->kernel[1];
    int ws[4] = {n->fout, n->fin, e->kernel[0], e->kernel[1]}, bs[1] = {n->fout};
    n->w = add_tensor(m, name, "weight", 4, ws, fan);
    if (e->bias) n->b = add_tensor(m, name, "bias", 1, bs, fan);
    n->has_params = 1;
    return n->out;
  }
  case HS_LAYER_BATCHNORM: {
    n = new_node(m, HS_NODE_NORM, &hs_unit_norm, in, &sh->in, &sh->out);
    n->norm_2d = sh->in.rank == 3;
    int f = sh->in.dim[0], fs[1] = {f};
    n->w = add_tensor(m, name, "weight", 1, fs, 0);
    n->b = add_tensor(m, name, "bias", 1, fs, 0);
    n->norm = (int)m->n_norms++;
    snprintf(m->norm_names[n->norm], sizeof m->norm_names[n->norm], "%s", name);
    m->norms[n->norm] = (hs_norm_info){m->norm_names[n->norm], f};
    n->has_params = 1;
    return n->out;
  }
  case HS_LAYER_RELU:
  case HS_LAYER_TANH:
    n = new_node(m, HS_NODE_ACT, &hs_unit_act, in, &sh->in, &sh->out);
    n->act = e->type == HS_LAYER_RELU ? HS_ACT_RELU : HS_ACT_TANH;
    return n->out;
  case HS_LAYER_AVGPOOL:
  case HS_LAYER_MAXPOOL:
  case HS_LAYER_GLOBAL_AVGPOOL:
    n = new_node(m, HS_NODE_POOL, &hs_unit_pool, in, &sh->in, &sh->out);
    n->pool = e->type == HS_LAYER_MAXPOOL ? HS_POOL_MAX : HS_POOL_AVG;
    n->g = window_of(e, &sh->in, &sh->out);
    return n->out;
  case HS_LAYER_RESIDUAL:
    break;
  }
  return -1;
}

/* Entries [first, first + count) of the preorder list, as a sequence from value `in`. */
static int emit_seq(compiler *c, int first, int count, int in) {
  int cur = in;
  for (int i = first; i < first + count;) {
    const hs_layer_spec *e = &c->sp->layers[i];
    if (e->type != HS_LAYER_RESIDUAL) {
      cur = emit_layer(c, i, cur);
      i++;
      continue;
    }
    int body = emit_seq(c, i + 1, e->body_len, cur);
    int shortcut = e->shortcut_len ? emit_seq(c, i + 1 + e->body_len, e->shortcut_len, cur) : cur;
    const hs_layer_shape *sh = &c->shapes[i];
    hs_node *n = new_node(c->m, HS_NODE_ADD, &hs_unit_add, body, &sh->out, &sh->out);
    n->in2 = shortcut;
    cur = n->out;
    i += 1 + e->body_len + e->shortcut_len;
  }
  return cur;
}

/* Which values depend on parameters, who reads them, and the R-backward's cotangent slots:
 * walking the nodes backwards, a value's cotangent is first written by its last reader and
 * dies when its producer has run; slots are reused greedily. */
static hs_status plan(hs_model *m) {
  for (int i = 0; i < m->n_nodes; i++) {
    hs_node *n = &m->nodes[i];
    m->values[n->in].consumers++;
    if (n->in2 >= 0) m->values[n->in2].consumers++;
    m->values[n->out].needs_grad =
        n->has_params || m->values[n->in].needs_grad || (n->in2 >= 0 && m->values[n->in2].needs_grad);
  }
  for (int v = 0; v < m->n_values; v++) m->values[v].r_buffer = m->values[v].needs_grad;
  for (int i = 0; i < m->n_nodes; i++) {
    hs_node *n = &m->nodes[i];
    if (n->kind == HS_NODE_NORM) {
      m->values[n->in].r_buffer = 1;
      n->norm_dz_private = m->values[n->in].consumers > 1 || !m->values[n->in].needs_grad;
    }
  }
  int written[HS_MAX_VALUES] = {0}, busy[HS_MAX_VALUES] = {0};
  m->n_slots = 0;
  for (int i = m->n_nodes - 1; i >= 0; i--) {
    hs_node *n = &m->nodes[i];
    if (!m->values[n->out].needs_grad) continue;
    int ins[2] = {n->in, n->in2};
    for (int q = 0; q < 2; q++) {
      int v = ins[q];
      if (v < 0 || !m->values[v].needs_grad) continue;
      if (q == 0) n->acc_in = written[v];
      else n->acc_in2 = written[v];
      written[v] = 1;
      if (m->values[v].slot < 0) {
        int s = 0;
        while (s < m->n_slots && busy[s]) s++;
        if (s == m->n_slots) m->n_slots++;
        busy[s] = 1;
        m->values[v].slot = s;
      }
    }
    if (n->out != m->output_value && m->values[n->out].slot >= 0) busy[m->values[n->out].slot] = 0;
  }
  return HS_OK;
}

hs_status hs_nn_compile(hs_model *m) {
  hs_status st = HS_OK;
  hs_model_spec *expanded = NULL;
  hs_layer_shape *shapes = NULL;
  const hs_model_spec *sp = &m->spec;
  if (sp->form == HS_SPEC_MLP) {
    expanded = hs_malloc(sizeof *expanded);
    if (!expanded) return hs_fail(m->ctx, HS_E_NOMEM, "out of host memory compiling the model");
    HS_TRY(hs_spec_mlp_to_layers(m->ctx, sp, expanded));
    sp = expanded;
  }
  shapes = hs_calloc((size_t)sp->n_layers + 1, sizeof *shapes);
  if (!shapes) {
    st = hs_fail(m->ctx, HS_E_NOMEM, "out of host memory compiling the model");
    goto cleanup;
  }
  HS_TRY(hs_spec_layer_shapes(m->ctx, sp, shapes));
  m->P = m->n_tensors = m->n_norms = 0;
  m->n_nodes = m->n_values = 0;
  m->max_numel = 0;
  new_value(m, &sp->input_shape); /* value 0: the data */
  compiler c = {m, sp, shapes};
  m->output_value = emit_seq(&c, 0, sp->n_layers, 0);
  if (m->output_value == 0 || m->nodes[m->n_nodes - 1].out != m->output_value) {
    st = hs_fail(m->ctx, HS_E_INVALID, "the network has no layer that computes its output from the inputs");
    goto cleanup;
  }
  if (m->values[m->output_value].numel != m->spec.output_dim) {
    st = hs_fail(m->ctx, HS_E_INTERNAL, "the network outputs %lld features, the spec says output_dim %d",
                 m->values[m->output_value].numel, m->spec.output_dim);
    goto cleanup;
  }
  HS_TRY(plan(m));
cleanup:
  free(shapes);
  free(expanded);
  return st;
}
