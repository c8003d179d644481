/* Shape inference and validation of model specs (both forms), and the MLP form's expansion
 * into the layer form. The public entry points are hs_spec_validate, hs_spec_infer_dims and
 * hs_spec_mlp_to_layers (hesspec.h); this header adds what src/nn needs beyond them. */
#ifndef HS_NN_SPEC_CHECK_H
#define HS_NN_SPEC_CHECK_H

#include "hesspec.h"

/* Per-sample shapes around one entry of the layer list, and the entry's module name. */
typedef struct {
  hs_shape in, out;
  /* The layer's explicit name when it has one, else its path in the list:
   * "layers.3", "layers.3.body.0", "layers.3.shortcut.1", "layers.3.body.1.body.0". */
  char path[64];
} hs_layer_shape;

/* For a layer-form spec: every entry's shapes and path (out[0..n_layers)). Fails with
 * HS_E_INVALID naming the layer's path exactly as hs_spec_validate does (it is the same
 * check). The spec's input_dim and output_dim are not consulted. */
hs_status hs_spec_layer_shapes(hs_context *ctx, const hs_model_spec *spec, hs_layer_shape *out);

/* Elements of a per-sample shape: F, or C*H*W. */
static inline long long hs_shape_numel(const hs_shape *s) {
  long long n = 1;
  for (int i = 0; i < s->rank; i++) n *= s->dim[i];
  return n;
}

#endif
