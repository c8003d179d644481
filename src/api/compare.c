/* hs_compare: a comparison from a preset file into its report folder (analysis/compare.h), as
 * `hesspec compare --preset` runs it without command-line overrides. */
#include "api/api.h"

#include "analysis/compare.h"
#include "core/context.h"

hs_status hs_compare(hs_context *ctx, const char *preset, const char *dir,
                     void (*note)(void *user, const char *line), void *note_user) {
  hs_cmp_config cfg = hs_cmp_defaults();
  hs_status st = preset ? hs_cmp_load_preset(ctx, preset, &cfg) : HS_OK;
  if (st == HS_OK) st = hs_cmp_validate(ctx, &cfg);
  if (st != HS_OK) return st;
  if (cfg.dtype != hs_context_dtype(ctx))
    return hs_fail(ctx, HS_E_INVALID, "compare: %s asks for dtype %s but the context computes in %s",
                   preset ? preset : "the default preset", hs_dtype_name(cfg.dtype), hs_dtype_name(hs_context_dtype(ctx)));
  hs_cmp_result *res = NULL;
  if ((st = hs_cmp_run_into(ctx, &cfg, dir, note, note_user, &res)) != HS_OK) return st;
  if (res->synthetic_fallback && note)
    note(note_user, "notice: Fashion-MNIST was not found (install the Debian package dataset-fashion-mnist or give "
                    "the context a data_dir); a synthetic Gaussian mixture stood in");
  hs_cmp_result_free(res);
  return HS_OK;
}
