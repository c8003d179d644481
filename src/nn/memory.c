/* The one account of the engine's device memory: what a batch state, the R-state per
 * direction and the scratch take. bind (whether every batch's state is cached) and the
 * direction chunking of hs_nn_apply both decide from these numbers, and the allocations in
 * nn/state.c follow the same terms. */
#include "nn/unit.h"

size_t hs_nn_state_bytes(const hs_model *m, size_t rows) {
  size_t e = 0, ints = 0;
  for (int v = 1; v < m->n_values; v++) {
    e += rows * (size_t)m->values[v].numel;                               /* X */
    if (m->values[v].needs_grad) e += rows * (size_t)m->values[v].numel; /* D */
  }
  if (m->spec.loss == HS_LOSS_CROSS_ENTROPY) e += rows * (size_t)m->spec.output_dim;
  for (int i = 0; i < m->n_nodes; i++) {
    hs_unit_sizes z;
    m->nodes[i].unit->sizes(m, &m->nodes[i], &z);
    e += rows * z.state + z.state_fixed;
    ints += rows * z.state_int;
  }
  return e * hs_dtype_size(m->dtype) + ints * sizeof(int32_t);
}

size_t hs_nn_rstate_bytes_per_direction(const hs_model *m, size_t rows) {
  size_t e = (size_t)m->spec.output_dim;                           /* RdF */
  e += (size_t)m->n_slots * (size_t)m->max_numel;                    /* cotangent slots */
  e += 3 * (size_t)m->max_numel;                                     /* scratch */
  for (int v = 0; v < m->n_values; v++)
    if (m->values[v].r_buffer) e += (size_t)m->values[v].numel;
  for (int i = 0; i < m->n_nodes; i++) {
    hs_unit_sizes z;
    m->nodes[i].unit->sizes(m, &m->nodes[i], &z);
    e += z.rstate;
  }
  return e * rows * hs_dtype_size(m->dtype);
}

size_t hs_nn_scratch_bytes(const hs_model *m, int k, size_t rows) {
  return (3 * (size_t)k * rows * (size_t)m->max_numel + m->scr.conv_elems) * hs_dtype_size(m->dtype);
}
