/* The public comparison (include/hesspec.h): its settings object over the internal config and
 * the run into a report folder (analysis/compare.h). */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>

#include "analysis/compare.h"
#include "analysis/report.h"
#include "core/alloc.h"
#include "core/context.h"

hs_compare_config *hs_compare_config_new(void) {
  hs_compare_config *c = hs_malloc(sizeof *c);
  if (c) *c = hs_cmp_defaults();
  return c;
}

void hs_compare_config_free(hs_compare_config *c) { free(c); }

const hs_setting *hs_compare_config_settings(void) { return hs_cmp_settings; }

hs_status hs_compare_config_load(hs_context *ctx, hs_compare_config *c, const char *preset) {
  if (!c || !preset) return hs_fail(ctx, HS_E_INVALID, "compare: no %s (NULL)", c ? "preset path" : "config");
  hs_cmp_config loaded = *c; /* all or nothing: a key refused halfway keeps none of the file */
  hs_status st = hs_cmp_load_preset(ctx, preset, &loaded);
  if (st == HS_OK) *c = loaded;
  return st;
}

hs_status hs_compare_config_set(hs_context *ctx, hs_compare_config *c, const char *key, const char *text) {
  if (!c || !key || !text) return hs_fail(ctx, HS_E_INVALID, "compare: no %s (NULL)", !c ? "config" : !key ? "key" : "value");
  const void *base;
  const hs_setting *s = hs_cmp_setting_at(key, c, &base);
  if (!s) return hs_fail(ctx, HS_E_INVALID, "compare: unknown setting '%s' (the preset keys of docs/compare.md)", key);
  if (s->type == HS_SET_STRING) /* no borrowed text in a config that outlives the call */
    return hs_fail(ctx, HS_E_INTERNAL, "compare: '%s' holds a borrowed string", key);
  char label[160];
  snprintf(label, sizeof label, "'%s'", key);
  return hs_setting_from_text(ctx, s, label, text, (void *)base);
}

hs_status hs_compare_config_get(hs_context *ctx, const hs_compare_config *c, const char *key, double *value) {
  if (!c || !key || !value) return hs_fail(ctx, HS_E_INVALID, "compare: no %s (NULL)", !c ? "config" : !key ? "key" : "value");
  const void *base;
  const hs_setting *s = hs_cmp_setting_at(key, c, &base);
  if (!s) return hs_fail(ctx, HS_E_INVALID, "compare: unknown setting '%s' (the preset keys of docs/compare.md)", key);
  return hs_setting_number(ctx, s, base, value);
}

hs_status hs_compare_config_check(hs_context *ctx, const hs_compare_config *c) {
  if (!c) return hs_fail(ctx, HS_E_INVALID, "compare: no config (NULL)");
  hs_cmp_config checked = *c; /* checking completes the analysis epochs: the caller's stay as given */
  return hs_cmp_validate(ctx, &checked);
}

void hs_compare_summary_free(hs_compare_summary *s) {
  if (!s) return;
  free(s->findings);
  *s = (hs_compare_summary){0};
}

hs_status hs_compare_run(hs_context *ctx, const hs_compare_config *c, const char *dir,
                         void (*note)(void *user, const char *line), void *note_user, hs_compare_summary *summary) {
  if (summary) *summary = (hs_compare_summary){0};
  if (!c) return hs_fail(ctx, HS_E_INVALID, "compare: no config (NULL)");
  hs_cmp_config cfg = *c; /* checking fills in the last epoch: the caller's stays as given */
  hs_status st = hs_cmp_validate(ctx, &cfg);
  if (st != HS_OK) return st;
  if (cfg.dtype != hs_context_dtype(ctx))
    return hs_fail(ctx, HS_E_INVALID, "compare: the settings ask for dtype %s but the context computes in %s",
                   hs_dtype_name(cfg.dtype), hs_dtype_name(hs_context_dtype(ctx)));
  hs_cmp_result *res = NULL;
  if ((st = hs_cmp_run_into(ctx, &cfg, dir, note, note_user, &res)) != HS_OK) return st;
  if (summary) /* findings NULL after a shortage: the report is written, the run succeeded */
    *summary = (hs_compare_summary){.kinds = cfg.n_kinds, .seeds = cfg.n_seeds, .seconds = res->seconds,
                                    .synthetic_fallback = res->synthetic_fallback, .findings = hs_cmp_findings(res)};
  hs_cmp_result_free(res);
  return HS_OK;
}

hs_status hs_compare(hs_context *ctx, const char *preset, const char *dir,
                     void (*note)(void *user, const char *line), void *note_user) {
  hs_compare_config *c = hs_compare_config_new();
  if (!c) return hs_fail(ctx, HS_E_NOMEM, "compare: out of memory");
  hs_compare_summary sum;
  hs_status st = preset ? hs_compare_config_load(ctx, c, preset) : HS_OK;
  if (st == HS_OK) st = hs_compare_run(ctx, c, dir, note, note_user, &sum);
  if (st == HS_OK && sum.synthetic_fallback && note)
    note(note_user, "notice: Fashion-MNIST was not found (install the Debian package dataset-fashion-mnist or give "
                    "the context a data_dir); a synthetic Gaussian mixture stood in");
  if (st == HS_OK) hs_compare_summary_free(&sum);
  hs_compare_config_free(c);
  return st;
}
