#include "cli/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "io/npy.h"

static hs_status load_npy_pair(hs_context *ctx, const hs_cli_opts *o, const hs_model_spec *spec,
                               hs_dataset **out, char *desc, size_t desclen) {
  double *X = NULL, *T = NULL;
  int32_t *labels = NULL;
  hs_npy_shape xs, ts;
  hs_status st;
  if (!o->targets) return hs_fail(ctx, HS_E_INVALID, "--inputs needs --targets (labels or regression targets)");
  HS_TRY(hs_npy_read_f64(ctx, o->inputs, HS_NPY_FINITE, &X, &xs));
  if (xs.ndim != 2 || xs.dim[1] != (size_t)spec->input_dim) {
    char sh[64];
    hs_npy_shape_str(&xs, sh, sizeof sh);
    st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, but the model wants (N, %d) (input_dim)", o->inputs, sh,
                 spec->input_dim);
    goto cleanup;
  }
  size_t n = xs.dim[0];
  if (spec->loss == HS_LOSS_CROSS_ENTROPY) {
    HS_TRY(hs_npy_read_i32(ctx, o->targets, &labels, &ts));
    if (ts.ndim != 1 || ts.dim[0] != n) {
      char sh[64];
      hs_npy_shape_str(&ts, sh, sizeof sh);
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, but cross_entropy wants labels of shape (%zu,) to match %s",
                   o->targets, sh, n, o->inputs);
      goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
      if (labels[i] < 0 || labels[i] >= spec->output_dim) {
        st = hs_fail(ctx, HS_E_INVALID, "%s: label %d of sample %zu is out of range [0, %d)", o->targets, labels[i],
                     i, spec->output_dim);
        goto cleanup;
      }
  } else {
    HS_TRY(hs_npy_read_f64(ctx, o->targets, HS_NPY_FINITE, &T, &ts));
    if (ts.ndim != 2 || ts.dim[0] != n || ts.dim[1] != (size_t)spec->output_dim) {
      char sh[64];
      hs_npy_shape_str(&ts, sh, sizeof sh);
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, but mse wants targets of shape (%zu, %d)", o->targets, sh, n,
                   spec->output_dim);
      goto cleanup;
    }
  }
  if (o->samples > n) {
    st = hs_fail(ctx, HS_E_INVALID, "--samples %zu: %s holds only %zu samples", o->samples, o->inputs, n);
    goto cleanup;
  }
  if (o->samples) n = o->samples;
  HS_TRY(hs_dataset_create(ctx, n, spec->input_dim, X, spec->output_dim, labels, T, out));
  snprintf(desc, desclen, "%s + %s (%zu samples)", o->inputs, o->targets, n);
cleanup:
  free(X);
  free(T);
  free(labels);
  return st;
}

hs_status hs_cli_load_data(hs_context *ctx, const hs_cli_opts *o, const hs_model_spec *spec,
                           hs_dataset **out, char *desc, size_t desclen) {
  *out = NULL;
  if (o->inputs && o->dataset) return hs_fail(ctx, HS_E_INVALID, "give either --inputs or --dataset, not both");
  if (o->inputs) return load_npy_pair(ctx, o, spec, out, desc, desclen);
  if (o->targets) return hs_fail(ctx, HS_E_INVALID, "--targets needs --inputs");
  if (!o->dataset) return hs_fail(ctx, HS_E_INVALID, "no data: give --inputs X.npy --targets Y.npy or --dataset NAME");
  return hs_fail(ctx, HS_E_INVALID, "--dataset '%s': WIP", o->dataset);
}
