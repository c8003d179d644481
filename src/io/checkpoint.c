/* hs_model_load / hs_model_save: safetensors checkpoints with the tensor names and shapes
 * of DESIGN.md, written against the public model API only (the layout table and
 * get/set_params), so the file format does not depend on the model's internals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/npy.h"
#include "io/safetensors.h"

/* The model's context (for error messages), provided by src/nn/model.c. Declared here
 * rather than by including nn/model.h so that this file sees none of the model's
 * internals. */
hs_context *hs_model_context(const hs_model *m);

static void expected_shape(const hs_param_info *p, int *ndim, size_t shape[4]) {
  *ndim = p->ndim;
  for (int k = 0; k < 4; k++) shape[k] = k < p->ndim ? (size_t)p->shape[k] : 0;
}

static void shape_str(int ndim, const size_t *shape, char *out, size_t outlen) {
  size_t used = (size_t)snprintf(out, outlen, "[");
  for (int k = 0; k < ndim && used < outlen; k++)
    used += (size_t)snprintf(out + used, outlen - used, k ? ", %zu" : "%zu", shape[k]);
  if (used < outlen) snprintf(out + used, outlen - used, "]");
}

/* The batch norm whose last parameter (its bias) is tensor t, or -1: PyTorch's state_dict
 * lists a norm's running statistics right after it. */
static int norm_ending_at(hs_model *m, size_t t) {
  const hs_param_info *p = hs_model_tensor(m, t);
  for (size_t i = 0; i < hs_model_num_norms(m); i++) {
    const hs_norm_info *n = hs_model_norm(m, i);
    size_t len = strlen(n->name);
    if (strncmp(p->name, n->name, len) == 0 && strcmp(p->name + len, ".bias") == 0) return (int)i;
  }
  return -1;
}

static size_t norm_features_sum(hs_model *m) {
  size_t s = 0;
  for (size_t i = 0; i < hs_model_num_norms(m); i++) s += (size_t)hs_model_norm(m, i)->features;
  return s;
}

hs_status hs_model_save(hs_model *m, const char *path, hs_dtype file_dtype) {
  hs_context *ctx = hs_model_context(m);
  const hs_model_spec *spec = hs_model_get_spec(m);
  size_t nt = hs_model_num_tensors(m), P = hs_model_num_params(m);
  size_t n_run = hs_model_num_norms(m), width_sum = norm_features_sum(m);
  hs_status st = HS_OK;
  char *spec_json = NULL;
  char(*run_names)[64] = NULL;
  double *theta = hs_malloc((P + 2 * width_sum) * sizeof *theta + 1);
  hs_st_entry *e = hs_calloc(nt + 2 * n_run + 1, sizeof *e);
  run_names = hs_calloc(2 * n_run + 1, sizeof *run_names);
  spec_json = hs_spec_to_json(spec);
  if (!theta || !e || !run_names || !spec_json) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  HS_TRY(hs_model_get_params(m, theta));
  double *run = theta + P;

  /* PyTorch's state_dict order: each norm's running statistics follow its last parameter
   * (its bias), so a diff against a torch export lines up. */
  size_t ne = 0, nr = 0;
  for (size_t t = 0; t < nt; t++) {
    const hs_param_info *p = hs_model_tensor(m, t);
    size_t shape[4];
    e[ne].name = p->name;
    expected_shape(p, &e[ne].ndim, shape);
    for (int k = 0; k < 4; k++) e[ne].shape[k] = shape[k];
    e[ne].data = theta + p->offset;
    ne++;
    int b = norm_ending_at(m, t);
    if (b < 0) continue;
    size_t w = (size_t)hs_model_norm(m, (size_t)b)->features;
    HS_TRY(hs_model_get_running(m, b, run, run + w));
    for (int k = 0; k < 2; k++) {
      snprintf(run_names[nr], sizeof run_names[nr], "%s.%s", hs_model_norm(m, (size_t)b)->name,
               k ? "running_var" : "running_mean");
      e[ne].name = run_names[nr++];
      e[ne].ndim = 1;
      e[ne].shape[0] = w;
      e[ne].data = run + k * w;
      ne++;
    }
    run += 2 * w;
  }
  const char *keys[3] = {"format", "hesspec_version", "hesspec_spec"};
  const char *vals[3] = {"pt", HS_VERSION, spec_json};
  st = hs_st_write(ctx, path, file_dtype, e, ne, keys, vals, 3);

cleanup:
  free(theta);
  free(e);
  free(run_names);
  free(spec_json);
  return st;
}

/* Reads one tensor of the file into dst after checking dtype, shape and values. */
static hs_status load_tensor(hs_context *ctx, const hs_safetensors *f, const char *name,
                             int ndim, const size_t *shape, int nonneg, double *dst) {
  const hs_st_tensor *t = hs_st_find(f, name);
  char want[64], have[160];
  shape_str(ndim, shape, want, sizeof want);
  if (!t) return hs_fail(ctx, HS_E_INVALID, "%s: missing tensor '%s' (shape %s)", f->path, name, want);
  if (t->dtype != HS_ST_F64 && t->dtype != HS_ST_F32 && t->dtype != HS_ST_F16 &&
      t->dtype != HS_ST_BF16)
    return hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s': dtype %s, expected a float (F32 or F64)",
                   f->path, name, t->dtype_name);
  int same = t->ndim == ndim;
  for (int k = 0; same && k < ndim; k++) same = t->shape[k] == shape[k];
  if (!same) {
    shape_str(t->ndim, t->shape, have, sizeof have);
    return hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s': expected shape %s, file has %s", f->path,
                   name, want, have);
  }
  hs_status st = hs_st_read_f64(ctx, f, t, dst);
  if (st != HS_OK) return st;
  char label[512];
  snprintf(label, sizeof label, "%s: tensor '%s'", f->path, name);
  hs_npy_shape sh = {.ndim = ndim};
  for (int k = 0; k < ndim; k++) sh.dim[k] = shape[k];
  if ((st = hs_check_finite(ctx, label, dst, t->count, &sh)) != HS_OK) return st;
  for (size_t i = 0; nonneg && i < t->count; i++)
    if (dst[i] < 0)
      return hs_fail(ctx, HS_E_INVALID, "%s: element [%zu] = %g is negative (a variance)", label,
                     i, dst[i]);
  return HS_OK;
}

hs_status hs_model_load(hs_model *m, const char *path) {
  hs_context *ctx = hs_model_context(m);
  const hs_model_spec *spec = hs_model_get_spec(m);
  size_t nt = hs_model_num_tensors(m), P = hs_model_num_params(m), n_norms = hs_model_num_norms(m);
  size_t width_sum = norm_features_sum(m);
  hs_safetensors f = {0};
  hs_status st = hs_st_open(ctx, path, &f);
  if (st != HS_OK) return st;
  double *theta = hs_malloc((P + 2 * width_sum) * sizeof *theta + 1);
  char *used = hs_calloc(f.n + 1, 1);
  char *have_run = hs_calloc(n_norms + 1, 1);
  if (!theta || !used || !have_run) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }

  for (size_t t = 0; t < nt; t++) {
    const hs_param_info *p = hs_model_tensor(m, t);
    int ndim;
    size_t shape[4];
    expected_shape(p, &ndim, shape);
    HS_TRY(load_tensor(ctx, &f, p->name, ndim, shape, 0, theta + p->offset));
    used[hs_st_find(&f, p->name) - f.tensors] = 1;
  }

  double *run = theta + P;
  for (size_t b = 0; b < n_norms; b++) {
    const hs_norm_info *ni = hs_model_norm(m, b);
    size_t w = (size_t)ni->features;
    char mean[96], var[96];
    snprintf(mean, sizeof mean, "%s.running_mean", ni->name);
    snprintf(var, sizeof var, "%s.running_var", ni->name);
    int hm = hs_st_find(&f, mean) != NULL, hv = hs_st_find(&f, var) != NULL;
    /* "running" mode normalises by them; "batch" mode keeps them only for export. */
    if (!hm && !hv && spec->batchnorm == HS_BN_BATCH) {
      run += 2 * w;
      continue;
    }
    if (!hm || !hv) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: missing tensor '%s'%s", path, hm ? var : mean,
                   spec->batchnorm == HS_BN_RUNNING && !hm && !hv
                       ? " (batchnorm 'running' needs the running statistics)"
                       : "");
      goto cleanup;
    }
    HS_TRY(load_tensor(ctx, &f, mean, 1, &w, 0, run));
    HS_TRY(load_tensor(ctx, &f, var, 1, &w, 1, run + w));
    used[hs_st_find(&f, mean) - f.tensors] = 1;
    used[hs_st_find(&f, var) - f.tensors] = 1;
    have_run[b] = 1;
    run += 2 * w;
  }

  for (size_t i = 0; i < f.n; i++) {
    if (used[i]) continue;
    const char *name = f.tensors[i].name;
    /* PyTorch's batch norms store their update counter; it has no meaning here. */
    int counter = 0;
    for (size_t b = 0; b < n_norms && !counter; b++) {
      size_t len = strlen(hs_model_norm(m, b)->name);
      counter = strncmp(name, hs_model_norm(m, b)->name, len) == 0 && strcmp(name + len, ".num_batches_tracked") == 0;
    }
    if (counter) continue;
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: unexpected tensor '%s' (not part of this model; does the model spec match "
                 "the checkpoint?)",
                 path, name);
    goto cleanup;
  }

  /* Only now that every tensor passed are the model's values replaced. */
  HS_TRY(hs_model_set_params(m, theta));
  run = theta + P;
  for (size_t b = 0; b < n_norms; b++) {
    size_t w = (size_t)hs_model_norm(m, b)->features;
    if (have_run[b]) HS_TRY(hs_model_set_running(m, (int)b, run, run + w));
    run += 2 * w;
  }

cleanup:
  free(theta);
  free(used);
  free(have_run);
  hs_st_close(&f);
  return st;
}
