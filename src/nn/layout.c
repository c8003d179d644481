/* The parameter layout table: names, offsets and shapes of the flat vector (DESIGN.md). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nn/model.h"

static size_t add_tensor(hs_model *m, const char *name, int rows, int cols, int fan_in) {
  size_t t = m->n_tensors++;
  m->fan_in[t] = fan_in;
  snprintf(m->names[t], sizeof m->names[t], "%s", name);
  m->tensors[t] = (hs_param_info){m->names[t], m->P, rows, cols};
  m->P += (size_t)rows * (size_t)cols;
  return m->tensors[t].offset;
}

int hs_block_is_residual(const hs_model_spec *s, int i) {
  return s->residual && i >= 1 && s->hidden[i] == s->hidden[i - 1];
}

void hs_nn_build_layout(hs_model *m) {
  const hs_model_spec *s = &m->spec;
  char name[48];
  int in = s->input_dim;
  m->P = 0;
  m->n_tensors = 0;
  m->max_width = s->input_dim > s->output_dim ? s->input_dim : s->output_dim;
  for (int i = 0; i < s->n_hidden; i++) {
    hs_block_layout *b = &m->blocks[i];
    b->in = in;
    b->out = s->hidden[i];
    b->residual = hs_block_is_residual(s, i);
    b->b = b->gamma = b->beta = SIZE_MAX;
    snprintf(name, sizeof name, "blocks.%d.linear.weight", i);
    b->w = add_tensor(m, name, b->out, b->in, b->in);
    if (s->bias) {
      snprintf(name, sizeof name, "blocks.%d.linear.bias", i);
      b->b = add_tensor(m, name, b->out, 1, b->in);
    }
    if (s->batchnorm != HS_BN_NONE) {
      snprintf(name, sizeof name, "blocks.%d.norm.weight", i);
      b->gamma = add_tensor(m, name, b->out, 1, 0);
      snprintf(name, sizeof name, "blocks.%d.norm.bias", i);
      b->beta = add_tensor(m, name, b->out, 1, 0);
    }
    if (b->out > m->max_width) m->max_width = b->out;
    in = b->out;
  }
  m->head_w = add_tensor(m, "head.weight", s->output_dim, in, in);
  m->head_b = s->bias ? add_tensor(m, "head.bias", s->output_dim, 1, in) : SIZE_MAX;
}
