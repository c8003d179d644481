#include "cli/data.h"

#include <stdio.h>
#include <string.h>

#include "io/datasets.h"

hs_status hs_cli_load_data(hs_context *ctx, const hs_cli_opts *o, const hs_model_spec *spec,
                           hs_dataset **out, char *desc, size_t desclen) {
  *out = NULL;
  hs_data d;
  hs_status st;
  if (o->inputs && o->dataset) return hs_set_error(ctx, HS_E_INVALID, "give either --inputs or --dataset, not both");
  if (o->inputs && !o->targets)
    return hs_set_error(ctx, HS_E_INVALID, "--inputs needs --targets (labels or regression targets)");
  if (!o->inputs && o->targets) return hs_set_error(ctx, HS_E_INVALID, "--targets needs --inputs");
  if (!o->inputs && !o->dataset)
    return hs_set_error(ctx, HS_E_INVALID, "no data: give --inputs X.npy --targets Y.npy or --dataset NAME");
  if (o->inputs) st = hs_data_from_npy(ctx, o->inputs, o->targets, o->samples, spec, &d);
  else st = hs_data_open(ctx, o->dataset, o->samples, o->seed, spec, &d);
  if (st != HS_OK) return st;
  if (o->samples > d.n) {
    st = hs_set_error(ctx, HS_E_INVALID, "--samples %zu: %s holds only %zu samples", o->samples,
                 o->inputs ? o->inputs : o->dataset, d.n);
  } else {
    st = hs_dataset_create(ctx, d.n, d.input_dim, d.X, d.output_dim, d.labels, d.targets, out);
    snprintf(desc, desclen, "%s", d.source);
  }
  hs_data_free(&d);
  return st;
}
