/* The optional panels of the compare report (analysis/compare.h, the `landscape`, `critical`,
 * `curvature_every` and `operators` settings; docs/compare.md, docs/experiments.md sections 4,
 * 5 and 7), computed by hs_cmp_run with the library functions of `hesspec landscape`, `hesspec
 * critical`, `hesspec train --curvature-every` and `--operator` / `--block all`, drawn by
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

/* Curvature along training (curvature_every > 0): the tracker of `hesspec train
 * --curvature-every` for one run of model m on train (its first curvature_samples samples,
 * top-curvature_overlap_k overlap, 0 = the classes; Lanczos eig_tol, seed probe_seed), writing
 * the CSV `path` (borrowed until the tracker is destroyed: runs/<kind>-s<seed>/curvature.csv);
 * the caller sets it as the trainer's step hook (hs_curvature_step). HS_E_INVALID naming
 * analysis.curvature_overlap_k (and run_rel) when it exceeds the parameters. */
hs_status hs_cmp_curvature_attach(hs_model *m, const hs_cmp_config *c, const hs_dataset *train, const char *path,
                                  const char *run_rel, hs_curvature_tracker **out);
/* Copies the tracker's rows into *out (rows owned by out). */
hs_status hs_cmp_curvature_keep(hs_context *ctx, const hs_cmp_config *c, const hs_curvature_tracker *t,
                                const hs_dataset *train, hs_cmp_curvature *out);
/* Frees n per-run records and the array. */
void hs_cmp_curvature_free(hs_cmp_curvature *r, size_t n);

/* The operators panel (operators on) of compared kind k: with the model at the final weights of
 * the first seed and bound to the analysis samples, the SLQ densities of G and H - G (settings of
 * hs_cmp_slq_options; the negative-mass scale of the Hessian point `h`) into
 * dir/run_rel/density-ggn-eEEEE.json and density-residual-eEEEE.json (+ .csv), and lambda_max
 * of every layer's diagonal block of H (`--block all`'s layers; Lanczos, eig_tol, seed
 * probe_seed) into dir/run_rel/eig-layers-eEEEE.json (one "hesspec.eig/1" file with a "blocks"
 * array). Kept in res->operators[k]. */
hs_status hs_cmp_operators_panel(hs_model *m, const hs_cmp_config *c, size_t k, const hs_cmp_point *h, const char *dir,
                                 const char *run_rel, const char *spec_json, const char *data_desc, hs_cmp_result *res);
void hs_cmp_operators_free(hs_cmp_operators *o);

#endif
