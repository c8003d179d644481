/* The two optional panels of the compare report (analysis/compare.h, the `landscape` and
 * `critical` settings; docs/compare.md, docs/experiments.md section 7), computed by hs_cmp_run
 * with the library functions of `hesspec landscape` and `hesspec critical`, drawn by
 * hs_cmp_report (analysis/report_panels.h). */
#ifndef HS_ANALYSIS_COMPARE_PANELS_H
#define HS_ANALYSIS_COMPARE_PANELS_H

#include "analysis/compare.h"

/* The 2D landscape of compared kind k around the model's current parameters (the final
 * weights of the first seed) over its bound data (the analysis samples, in their batches):
 * writes dir/run_rel/landscape.json + .csv ("hesspec.landscape/1") and keeps the grid in
 * res->landscape[k]. The model's parameters are unchanged afterwards. */
hs_status hs_cmp_landscape_panel(hs_model *m, const hs_cmp_config *c, size_t k, const char *dir, const char *run_rel,
                                 const char *spec_json, const char *data_desc, hs_cmp_result *res);

/* Trains the panel's small network (critical_kind, critical_hidden; the comparison's training
 * settings and first seed) on train/test and runs Newton-MR from perturbed copies of its
 * weights. Files in dir/critical/: model.json, trained.safetensors, log.csv, start-NNN.safetensors
 * (one per start) and critical.csv (one row per start). *out: caller frees (hs_cmp_critical_free). */
hs_status hs_cmp_critical_panel(hs_context *ctx, const hs_cmp_config *c, const hs_dataset *train, const hs_dataset *test,
                                const char *dir, hs_cmp_critical **out);
void hs_cmp_critical_free(hs_cmp_critical *p);

#endif
