/* Allocation failure in the public API's own paths (include/hesspec.h; the harness:
 * support/alloc_harness.h): per-layer block operators with their densities combined and the
 * block files of eig and trace; the landscape with its file and plot; the critical-point
 * study with checkpoints, file and plot; training through hs_train with curvature along it
 * and the epoch hook; the compare settings. Each run with its n-th allocation failing returns HS_E_NOMEM with a
 * message, leaves no temporary file and leaks nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/alloc_harness.h"

/* path = dir/name */
static const char *in_dir(const hs_alloc_inputs *in, const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", in->dir, name);
  return buf;
}

static hs_status run_blocks(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_operator *H = NULL, *ops[8] = {0};
  hs_density *parts[8] = {0}, *whole = NULL;
  hs_eigen_result er[8];
  hs_trace_est tr[8];
  memset(er, 0, sizeof er);
  memset(tr, 0, sizeof tr);
  size_t L = 0;
  char path[300];
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st == HS_OK) st = hs_operator_model(m, HS_CURV_HESSIAN, &H);
  if (st == HS_OK) st = hs_operator_layers(H, &L);
  if (st != HS_OK) goto cleanup;
  cr_assert(L >= 2 && L <= 8, "%zu layers", L);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 4, so.probes = 2, so.seed = 3, so.grid_points = 16, so.data = "test"; /* small files: few cJSON nodes */
  hs_eigen_options eo = hs_eigen_defaults();
  eo.count = 1, eo.seed = 3;
  hs_trace_est_options to = hs_trace_est_defaults();
  to.probes = 3, to.seed = 3;
  for (size_t b = 0; b < L; b++) {
    if ((st = hs_operator_block(H, hs_operator_layer_name(H, b), &ops[b])) != HS_OK) goto cleanup;
    hs_spectrum_options bo = so;
    if (bo.steps > hs_operator_size(ops[b])) bo.steps = hs_operator_size(ops[b]);
    bo.grid_points = 16;
    if ((st = hs_spectrum(ops[b], &bo, &parts[b])) != HS_OK) goto cleanup;
    if ((st = hs_eigen(ops[b], &eo, &er[b])) != HS_OK) goto cleanup;
    if ((st = hs_trace_estimate(ops[b], &to, &tr[b])) != HS_OK) goto cleanup;
  }
  if ((st = hs_density_combine(parts, L, &so, &whole)) != HS_OK) goto cleanup; /* takes parts */
  if ((st = hs_density_save(whole, in_dir(in, "d.json", path, sizeof path))) != HS_OK) goto cleanup;
  const hs_run_info info = {.data = "test"};
  if ((st = hs_eigen_save_blocks(L, ops, &eo, er, &info, in_dir(in, "e.json", path, sizeof path))) != HS_OK) goto cleanup;
  if ((st = hs_trace_save_blocks(L, ops, &to, tr, &info, in_dir(in, "t.json", path, sizeof path))) != HS_OK) goto cleanup;
  hs_density_summary s;
  hs_density_get_summary(whole, &s);
  out[0] = s.trace, out[1] = s.lambda_max, out[2] = er[0].values[0], out[3] = tr[L - 1].trace;
  *nout = 4;
cleanup:
  for (size_t b = 0; b < 8; b++) {
    hs_density_destroy(parts[b]);
    hs_eigen_free(&er[b]);
    hs_trace_est_free(&tr[b]);
    hs_operator_destroy(ops[b]);
  }
  hs_density_destroy(whole);
  hs_operator_destroy(H);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_landscape_and_critical(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_landscape_result ls;
  hs_critical_study cs;
  memset(&ls, 0, sizeof ls);
  memset(&cs, 0, sizeof cs);
  char path[300], prefix[300];
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  hs_landscape_options lo = hs_landscape_defaults();
  lo.dims = 2, lo.points[0] = 3, lo.points[1] = 2, lo.seed = 4;
  if ((st = hs_landscape(m, &lo, &ls)) != HS_OK) goto cleanup;
  const hs_landscape_provenance lp = {.data = "test"};
  if ((st = hs_landscape_save(m, &lo, &ls, &lp, in_dir(in, "l.json", path, sizeof path))) != HS_OK) goto cleanup;
  if ((st = hs_landscape_plot(ctx, &ls, "t", in_dir(in, "l.svg", path, sizeof path))) != HS_OK) goto cleanup;
  hs_critical_study_options co = hs_critical_study_defaults();
  co.starts = 2, co.newton.noise = 0.1, co.newton.max_iter = 1, co.newton.minres_max = 10;
  co.checkpoint_prefix = in_dir(in, "c.json", prefix, sizeof prefix);
  if ((st = hs_critical_study_run(m, &co, &cs)) != HS_OK) goto cleanup;
  if ((st = hs_critical_study_save(m, &co, &cs, NULL, prefix)) != HS_OK) goto cleanup;
  if ((st = hs_critical_study_plot(ctx, &cs, in_dir(in, "c.svg", path, sizeof path))) != HS_OK) goto cleanup;
  out[0] = ls.loss[0], out[1] = ls.loss[5], out[2] = cs.points[1].loss, out[3] = cs.indices[1].index;
  *nout = 4;
cleanup:
  hs_landscape_free(&ls);
  hs_critical_study_free(&cs);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status count_epoch(void *user, const hs_train_record *r) {
  *(double *)user += (double)r->epoch + 1; /* epoch 0 (the initial state) and 1 */
  return HS_OK;
}

static hs_status run_train_with_curvature(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_train_log log;
  memset(&log, 0, sizeof log);
  char curv[300], csv[300];
  double losses = 0;
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  hs_train_config c = hs_train_config_defaults();
  c.epochs = 1, c.batch = in->batch, c.seed = 5, c.checkpoint_dir = in->dir;
  c.log_path = in_dir(in, "log.csv", csv, sizeof csv);
  c.curvature_every = 2, c.curvature_samples = 4, c.overlap_k = 1;
  c.curvature_path = in_dir(in, "curvature.csv", curv, sizeof curv);
  c.on_epoch = count_epoch, c.on_epoch_user = &losses;
  if ((st = hs_train(m, d, NULL, &c, &log)) != HS_OK) goto cleanup;
  out[0] = log.records[0].loss, out[1] = (double)log.curvature_measurements, out[2] = losses;
  *nout = 3;
cleanup:
  hs_train_log_free(&log);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

/* The compare settings: a preset read, keys set and read back, the check; and a job file's
 * check of a list value. The run itself is compare's (test_compare), far too long to fail at
 * every allocation. */
static hs_status run_compare_settings(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  char path[300];
  FILE *f = fopen(in_dir(in, "p.json", path, sizeof path), "w");
  cr_assert(f);
  fputs("{\"kinds\": [\"linear\", \"relu\"], \"train\": {\"epochs\": 3, \"batch\": 10},"
        " \"analysis\": {\"epochs\": [0, 1]}}", f);
  fclose(f);
  hs_compare_config *c = hs_compare_config_new();
  if (!c) return hs_set_error(ctx, HS_E_NOMEM, "out of memory");
  double epochs = 0, steps = 0;
  hs_status st = hs_compare_config_load(ctx, c, path);
  if (st == HS_OK) st = hs_compare_config_set(ctx, c, "kinds", "relu,relu-bn,relu-res");
  if (st == HS_OK) st = hs_compare_config_set(ctx, c, "analysis.slq_steps", "12");
  if (st == HS_OK) st = hs_compare_config_check(ctx, c);
  if (st == HS_OK) st = hs_compare_config_get(ctx, c, "train.epochs", &epochs);
  if (st == HS_OK) st = hs_compare_config_get(ctx, c, "analysis.slq_steps", &steps);
  const hs_setting *kinds = hs_setting_find(hs_compare_config_settings(), "kinds", 0);
  if (st == HS_OK) st = hs_setting_check_json(ctx, kinds, "'kinds'", "[\"relu\", \"relu-bn\"]");
  hs_compare_config_free(c);
  out[0] = epochs, out[1] = steps;
  *nout = 2;
  return st;
}

Test(alloc_failure_api, compare_settings) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("compare settings", run_compare_settings, &s, 8, 4);
}

Test(alloc_failure_api, per_layer_blocks_and_their_files) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("blocks", run_blocks, &s, 12, 12);
}

Test(alloc_failure_api, landscape_and_critical_study) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("landscape and critical", run_landscape_and_critical, &s, 12, 6);
}

Test(alloc_failure_api, training_with_curvature) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("train with curvature", run_train_with_curvature, &s, 8, 4);
}
