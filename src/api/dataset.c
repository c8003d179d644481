/* hs_dataset_open and hs_dataset_load: the dataset readers of io/datasets.h (named sets and
 * .npy pairs) behind the public header, ending in a public hs_dataset. */
#include <stdio.h>

#include "core/context.h"
#include "hesspec.h"
#include "io/datasets.h"

/* d (freed here) as a public dataset. The readers have checked n against what the set holds. */
static hs_status finish(hs_context *ctx, hs_data *d, hs_dataset **out, char *source, size_t source_len) {
  hs_status st = hs_dataset_create(ctx, d->n, d->input_dim, d->X, d->output_dim, d->labels, d->targets, out);
  if (st == HS_OK && source && source_len) snprintf(source, source_len, "%s", d->source);
  hs_data_free(d);
  return st;
}

hs_status hs_dataset_open(hs_context *ctx, const char *name, size_t n, uint64_t seed, const hs_model_spec *spec,
                          hs_dataset **out, char *source, size_t source_len) {
  *out = NULL;
  if (!name || !*name) return hs_fail(ctx, HS_E_INVALID, "dataset: no name given");
  if (!spec) return hs_fail(ctx, HS_E_INVALID, "dataset %s: no model spec given", name);
  hs_data d;
  hs_status st = hs_data_open(ctx, name, n, seed, spec, &d);
  return st == HS_OK ? finish(ctx, &d, out, source, source_len) : st;
}

hs_status hs_dataset_load(hs_context *ctx, const char *inputs, const char *targets, size_t n,
                          const hs_model_spec *spec, hs_dataset **out, char *source, size_t source_len) {
  *out = NULL;
  if (!inputs || !*inputs || !targets || !*targets)
    return hs_fail(ctx, HS_E_INVALID, "dataset: give both the inputs and the targets .npy");
  if (!spec) return hs_fail(ctx, HS_E_INVALID, "dataset %s: no model spec given", inputs);
  hs_data d;
  hs_status st = hs_data_from_npy(ctx, inputs, targets, n, spec, &d);
  return st == HS_OK ? finish(ctx, &d, out, source, source_len) : st;
}
