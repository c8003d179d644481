#include "cli/data.h"

hs_status hs_cli_load_data(hs_context *ctx, const hs_cli_opts *o, const hs_model_spec *spec,
                           hs_dataset **out, char *desc, size_t desclen) {
  *out = NULL;
  if (o->inputs && o->dataset) return hs_set_error(ctx, HS_E_INVALID, "give either --inputs or --dataset, not both");
  if (o->inputs && !o->targets)
    return hs_set_error(ctx, HS_E_INVALID, "--inputs needs --targets (labels or regression targets)");
  if (!o->inputs && o->targets) return hs_set_error(ctx, HS_E_INVALID, "--targets needs --inputs");
  if (!o->inputs && !o->dataset)
    return hs_set_error(ctx, HS_E_INVALID, "no data: give --inputs X.npy --targets Y.npy or --dataset NAME");
  if (o->inputs) return hs_dataset_load(ctx, o->inputs, o->targets, o->samples, spec, out, desc, desclen);
  return hs_dataset_open(ctx, o->dataset, o->samples, o->seed, spec, out, desc, desclen);
}
