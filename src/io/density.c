#include "core/alloc.h"
#include "io/density.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/context.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/result_json.h"

char *hs_density_csv_path(const char *path) {
  size_t len = strlen(path);
  char *out = hs_malloc(len + 5);
  if (!out) return NULL;
  memcpy(out, path, len + 1);
  if (len >= 5 && strcmp(path + len - 5, ".json") == 0)
    strcpy(out + len - 5, ".csv");
  else
    strcat(out, ".csv");
  return out;
}

static void add_block_desc(cJSON *o, const hs_block_desc *b) {
  cJSON_AddStringToObject(o, "name", b->name);
  cJSON_AddNumberToObject(o, "params", (double)b->params);
  cJSON *t = cJSON_AddArrayToObject(o, "tensors");
  for (size_t i = 0; i < b->ntensors; i++) hs_json_push(t, cJSON_CreateString(b->tensors[i]));
}

void hs_json_add_provenance(cJSON *o, const hs_provenance *p) {
  cJSON_AddStringToObject(o, "hesspec_version", HS_VERSION);
  cJSON_AddStringToObject(o, "command", p->command ? p->command : "");
  cJSON_AddStringToObject(o, "operator", p->operator_kind ? p->operator_kind : "");
  cJSON *model = p->model_json ? cJSON_Parse(p->model_json) : NULL;
  hs_json_put(o, "model", model ? model : cJSON_CreateNull());
  if (p->weights)
    cJSON_AddStringToObject(o, "weights", p->weights);
  else
    hs_json_put(o, "weights", p->model_json ? cJSON_CreateString("seeded default initialisation") : cJSON_CreateNull());
  if (p->data) {
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "source", p->data);
    cJSON_AddNumberToObject(d, "samples", (double)p->samples);
    cJSON_AddNumberToObject(d, "batch", (double)p->batch);
  } else {
    cJSON_AddNullToObject(o, "data");
  }
  if (p->matrix) cJSON_AddStringToObject(o, "matrix", p->matrix);
  cJSON_AddStringToObject(o, "dtype", hs_dtype_name(p->dtype));
  cJSON_AddStringToObject(o, "backend", p->backend ? p->backend : "");
  cJSON_AddStringToObject(o, "device", p->device ? p->device : "");
  cJSON_AddNumberToObject(o, "seed", (double)p->seed);
  if (p->block) {
    cJSON *b = cJSON_AddObjectToObject(o, "block");
    add_block_desc(b, p->block);
    cJSON_AddNumberToObject(b, "model_params", (double)p->model_params);
  }
  cJSON_AddNumberToObject(o, "elapsed_seconds", p->elapsed);
  char when[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON_AddStringToObject(o, "created", when);
}

static cJSON *darray(const double *x, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++) hs_json_push(a, cJSON_CreateNumber(x[i]));
  return a;
}

/* Non-finite numbers (a standard error of one probe) become null, which JSON can hold. */
static void add_num(cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

/* root was built after hs_json_oom_clear(): an allocation that failed while building it
 * left it incomplete, and that is out of memory too. */
hs_status hs_json_write(hs_context *ctx, const char *path, const cJSON *root) {
  char *text = cJSON_Print(root);
  if (!text || hs_json_oom()) {
    cJSON_free(text);
    return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory formatting JSON", path);
  }
  size_t len = strlen(text);
  text[len] = '\0';
  char *buf = hs_malloc(len + 2);
  hs_status st;
  if (!buf) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory formatting JSON", path);
  } else {
    memcpy(buf, text, len);
    buf[len] = '\n';
    st = hs_write_file_atomic(ctx, path, buf, len + 1);
  }
  free(buf);
  cJSON_free(text);
  return st;
}

/* grid, density, stderr; with blocks, one more column per block: its density (its own
 * sigma) on r's grid. */
static hs_status write_csv(hs_context *ctx, const char *path, const hs_slq_result *r, size_t nb,
                           const hs_block_desc *blocks, const hs_slq_result *const *parts) {
  double *cols = NULL;
  if (nb) {
    cols = hs_malloc(nb * r->grid_n * sizeof *cols);
    if (!cols) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    for (size_t b = 0; b < nb; b++)
      hs_slq_smooth(parts[b]->probes, parts[b]->count, parts[b]->steps, parts[b]->nodes, parts[b]->weights,
                    parts[b]->sigma, r->grid_n, r->grid, cols + b * r->grid_n, NULL);
  }
  hs_atomic_file f;
  hs_status st = hs_atomic_begin(ctx, path, &f);
  if (st != HS_OK) {
    free(cols);
    return st;
  }
  fprintf(f.fp, "# hesspec density: sigma (standard deviation) = %.17g; probes = %zu; steps = %zu\n", r->sigma,
          r->probes, r->steps);
  fprintf(f.fp, "lambda,density,stderr");
  for (size_t b = 0; b < nb; b++) fprintf(f.fp, ",%s", blocks[b].name);
  fprintf(f.fp, "\n");
  for (size_t g = 0; g < r->grid_n; g++) {
    if (isfinite(r->density_se[g]))
      fprintf(f.fp, "%.17g,%.17g,%.17g", r->grid[g], r->density[g], r->density_se[g]);
    else
      fprintf(f.fp, "%.17g,%.17g,", r->grid[g], r->density[g]);
    for (size_t b = 0; b < nb; b++) fprintf(f.fp, ",%.17g", cols[b * r->grid_n + g]);
    fprintf(f.fp, "\n");
  }
  free(cols);
  return hs_atomic_commit(ctx, &f);
}

static void add_slq(cJSON *o, const hs_slq_result *r) {
  cJSON_AddNumberToObject(o, "params", (double)r->n);
  cJSON *m = cJSON_AddObjectToObject(o, "method");
  cJSON_AddStringToObject(m, "name", "slq");
  cJSON_AddNumberToObject(m, "lanczos_steps", (double)r->steps);
  cJSON_AddNumberToObject(m, "probes", (double)r->probes);
  cJSON_AddNumberToObject(m, "seed", (double)r->seed);
  cJSON_AddStringToObject(m, "reorth",
                          r->reorth == HS_REORTH_PARTIAL
                              ? "partial: classical Gram-Schmidt against every stored vector when Simon's "
                                "estimate of the loss of orthogonality exceeds sqrt(eps), for two consecutive vectors"
                              : "full: after the three-term recurrence, classical Gram-Schmidt against every "
                                "stored vector, a second pass when the norm drops below 1/sqrt(2) (twice is enough)");
  cJSON_AddNumberToObject(m, "gram_schmidt_passes", (double)r->reorth_passes);
  cJSON_AddStringToObject(m, "start_vectors", "rademacher");
  cJSON_AddNumberToObject(m, "breakdown_tol", r->breakdown_tol);
  cJSON_AddNumberToObject(m, "early_terminated_probes", (double)r->early);
  cJSON *probes = cJSON_AddArrayToObject(o, "probes");
  for (size_t p = 0; p < r->probes; p++) {
    cJSON *q = cJSON_CreateObject();
    hs_json_put(q, "nodes", darray(r->nodes + p * r->steps, r->count[p]));
    hs_json_put(q, "weights", darray(r->weights + p * r->steps, r->count[p]));
    hs_json_push(probes, q);
  }
  cJSON_AddNumberToObject(o, "sigma", r->sigma);
  cJSON_AddStringToObject(o, "sigma_is", "the standard deviation of the Gaussian kernel (not its variance)");
  hs_json_put(o, "grid", darray(r->grid, r->grid_n));
  hs_json_put(o, "density", darray(r->density, r->grid_n));
  cJSON *se = cJSON_CreateArray();
  for (size_t g = 0; g < r->grid_n; g++)
    hs_json_push(se, isfinite(r->density_se[g]) ? cJSON_CreateNumber(r->density_se[g]) : cJSON_CreateNull());
  hs_json_put(o, "density_stderr", se);
  cJSON *s = cJSON_AddObjectToObject(o, "summary");
  cJSON_AddNumberToObject(s, "lambda_min", r->lambda_min);
  cJSON_AddNumberToObject(s, "lambda_max", r->lambda_max);
  cJSON_AddNumberToObject(s, "trace", r->trace);
  add_num(s, "trace_stderr", r->trace_se);
  cJSON_AddNumberToObject(s, "negative_fraction", r->neg_frac);
  add_num(s, "negative_fraction_stderr", r->neg_frac_se);
  cJSON_AddNumberToObject(s, "negative_tolerance", r->neg_tol);
  cJSON *nb = cJSON_AddArrayToObject(s, "negative_fraction_bounds");
  hs_json_push(nb, cJSON_CreateNumber(r->neg_frac_lo));
  hs_json_push(nb, cJSON_CreateNumber(r->neg_frac_hi));
  cJSON_AddNumberToObject(s, "grid_integral", r->integral);
  cJSON *t = cJSON_AddObjectToObject(o, "timing");
  cJSON_AddNumberToObject(t, "operator_seconds", r->t_apply);
  cJSON_AddNumberToObject(t, "reorth_seconds", r->t_reorth);
  cJSON_AddNumberToObject(t, "host_seconds", r->t_host);
  cJSON_AddNumberToObject(t, "total_seconds", r->t_total);
  cJSON_AddNumberToObject(t, "operator_applications", (double)r->applies);
}

hs_status hs_density_write(hs_context *ctx, const char *path, const hs_provenance *prov,
                           const hs_slq_result *r) {
  hs_json_oom_clear();
  cJSON *root = cJSON_CreateObject();
  char *csv = hs_density_csv_path(path);
  hs_status st = HS_OK;
  if (!root || !csv) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  cJSON_AddStringToObject(root, "format", "hesspec.density/1");
  hs_json_add_provenance(root, prov);
  add_slq(root, r);
  if (hs_json_oom()) { /* before the CSV: no half pair */
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory building the JSON", path);
    goto cleanup;
  }
  /* CSV first: the JSON appearing last marks a complete pair. */
  HS_TRY(write_csv(ctx, csv, r, 0, NULL, NULL));
  HS_TRY(hs_json_write(ctx, path, root));
cleanup:
  cJSON_Delete(root);
  free(csv);
  return st;
}

static void add_eig(cJSON *root, const hs_eig_result *r, const char *method, const char *which,
                    size_t max_steps, uint64_t seed, const char *vectors_path) {
  cJSON_AddNumberToObject(root, "params", (double)r->n);
  cJSON *m = cJSON_AddObjectToObject(root, "method");
  cJSON_AddStringToObject(m, "name", method);
  cJSON_AddStringToObject(m, "which", which);
  cJSON_AddNumberToObject(m, "requested", (double)r->requested);
  if (r->residuals) {
    cJSON_AddNumberToObject(m, "tol", r->tol);
    cJSON_AddStringToObject(m, "tol_is", "relative residual: ||A y - theta y|| <= tol * anorm_estimate");
    cJSON_AddNumberToObject(m, "max_steps", (double)max_steps);
    cJSON_AddNumberToObject(m, "lanczos_steps", (double)r->steps);
    cJSON_AddNumberToObject(m, "seed", (double)seed);
  }
  cJSON_AddNumberToObject(root, "converged", (double)r->found);
  hs_json_put(root, "eigenvalues", darray(r->values, r->found));
  if (r->residuals) hs_json_put(root, "residuals", darray(r->residuals, r->found));
  cJSON_AddNumberToObject(root, "anorm_estimate", r->anorm);
  if (!r->residuals) cJSON_AddNumberToObject(root, "asymmetry", r->asymmetry);
  if (vectors_path)
    cJSON_AddStringToObject(root, "eigenvectors", vectors_path);
  else
    cJSON_AddNullToObject(root, "eigenvectors");
  cJSON *t = cJSON_AddObjectToObject(root, "timing");
  cJSON_AddNumberToObject(t, "operator_seconds", r->t_apply);
  cJSON_AddNumberToObject(t, "total_seconds", r->t_total);
  cJSON_AddNumberToObject(t, "operator_applications", (double)r->applies);
}

hs_status hs_eig_write(hs_context *ctx, const char *path, const hs_provenance *prov,
                       const hs_eig_result *r, const char *method, const char *which,
                       size_t max_steps, const char *vectors_path) {
  hs_json_oom_clear();
  cJSON *root = cJSON_CreateObject();
  if (!root) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
  cJSON_AddStringToObject(root, "format", "hesspec.eig/1");
  hs_json_add_provenance(root, prov);
  add_eig(root, r, method, which, max_steps, prov->seed, vectors_path);
  hs_status st = hs_json_write(ctx, path, root);
  cJSON_Delete(root);
  return st;
}

static void add_trace(cJSON *root, const hs_trace_result *r) {
  cJSON_AddNumberToObject(root, "params", (double)r->n);
  cJSON *m = cJSON_AddObjectToObject(root, "method");
  cJSON_AddStringToObject(m, "name", r->method == HS_TRACE_HUTCHPP ? "hutch++" : "hutchinson");
  cJSON_AddStringToObject(m, "probe_vectors", "rademacher");
  cJSON_AddNumberToObject(m, "probes", (double)r->probes);
  cJSON_AddNumberToObject(m, "seed", (double)r->seed);
  cJSON_AddNumberToObject(root, "trace", r->trace);
  add_num(root, "trace_stderr", r->trace_se);
  if (r->method == HS_TRACE_HUTCHPP) {
    cJSON_AddNumberToObject(root, "sketch_rank", (double)r->rank);
    cJSON_AddNumberToObject(root, "sketch_trace", r->exact_part);
  }
  hs_json_put(root, "samples", darray(r->samples, r->nsamples));
  cJSON *t = cJSON_AddObjectToObject(root, "timing");
  cJSON_AddNumberToObject(t, "operator_seconds", r->t_apply);
  cJSON_AddNumberToObject(t, "total_seconds", r->t_total);
  cJSON_AddNumberToObject(t, "operator_applications", (double)r->applies);
}

hs_status hs_trace_write(hs_context *ctx, const char *path, const hs_provenance *prov,
                         const hs_trace_result *r) {
  hs_json_oom_clear();
  cJSON *root = cJSON_CreateObject();
  if (!root) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
  cJSON_AddStringToObject(root, "format", "hesspec.trace/1");
  hs_json_add_provenance(root, prov);
  add_trace(root, r);
  hs_status st = hs_json_write(ctx, path, root);
  cJSON_Delete(root);
  return st;
}

/* ---- --block all ---- */

/* The "blocks" array: per block its name and tensors, then what `add` writes. */
static cJSON *blocks_array(cJSON *root, size_t nb, const hs_block_desc *blocks) {
  cJSON_AddStringToObject(root, "block", "all");
  cJSON *a = cJSON_AddArrayToObject(root, "blocks");
  for (size_t b = 0; a && b < nb; b++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", blocks[b].name);
    cJSON *t = cJSON_AddArrayToObject(o, "tensors");
    for (size_t i = 0; i < blocks[b].ntensors; i++) hs_json_push(t, cJSON_CreateString(blocks[b].tensors[i]));
    hs_json_push(a, o);
  }
  return a;
}

hs_status hs_density_write_blocks(hs_context *ctx, const char *path, const hs_provenance *prov,
                                  size_t nb, const hs_block_desc *blocks, const hs_slq_result *const *parts,
                                  const hs_slq_result *whole) {
  hs_json_oom_clear();
  cJSON *root = cJSON_CreateObject();
  char *csv = hs_density_csv_path(path);
  hs_status st = HS_OK;
  if (!root || !csv) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  cJSON_AddStringToObject(root, "format", "hesspec.density/1");
  hs_json_add_provenance(root, prov);
  add_slq(root, whole);
  cJSON_AddStringToObject(root, "density_is", "the block-diagonal operator diag(A_b): the blocks' densities weighted by params_b / params");
  cJSON *a = blocks_array(root, nb, blocks);
  for (size_t b = 0; b < nb; b++) add_slq(cJSON_GetArrayItem(a, (int)b), parts[b]);
  if (hs_json_oom()) { /* before the CSV: no half pair */
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory building the JSON", path);
    goto cleanup;
  }
  HS_TRY(write_csv(ctx, csv, whole, nb, blocks, parts));
  HS_TRY(hs_json_write(ctx, path, root));
cleanup:
  cJSON_Delete(root);
  free(csv);
  return st;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

hs_status hs_eig_write_blocks(hs_context *ctx, const char *path, const hs_provenance *prov, size_t nb,
                              const hs_block_desc *blocks, const hs_eig_result *const *parts,
                              const char *method, const char *which, size_t count, size_t max_steps) {
  size_t total = 0, n = 0;
  for (size_t b = 0; b < nb; b++) total += parts[b]->found, n += parts[b]->n;
  double *all = hs_malloc((total + 1) * sizeof *all);
  hs_json_oom_clear();
  cJSON *root = cJSON_CreateObject();
  hs_status st = HS_OK;
  if (!all || !root) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  size_t pos = 0;
  for (size_t b = 0; b < nb; b++)
    for (size_t i = 0; i < parts[b]->found; i++) all[pos++] = parts[b]->values[i];
  qsort(all, total, sizeof *all, cmp_double);
  size_t keep = strcmp(which, "all") == 0 || count > total ? total : count;
  const double *first = strcmp(which, "top") == 0 ? all + (total - keep) : all;
  cJSON_AddStringToObject(root, "format", "hesspec.eig/1");
  hs_json_add_provenance(root, prov);
  cJSON_AddNumberToObject(root, "params", (double)n);
  cJSON *m = cJSON_AddObjectToObject(root, "method");
  cJSON_AddStringToObject(m, "name", method);
  cJSON_AddStringToObject(m, "which", which);
  cJSON_AddNumberToObject(m, "requested", (double)count);
  cJSON_AddStringToObject(root, "eigenvalues_are",
                          "of the block-diagonal operator diag(A_b): the union of the blocks' eigenvalues, "
                          "the extreme ones for top/bottom");
  cJSON_AddNumberToObject(root, "converged", (double)keep);
  hs_json_put(root, "eigenvalues", darray(first, keep));
  cJSON *a = blocks_array(root, nb, blocks);
  for (size_t b = 0; b < nb; b++)
    add_eig(cJSON_GetArrayItem(a, (int)b), parts[b], method, which, max_steps < parts[b]->n ? max_steps : parts[b]->n,
            prov->seed, NULL);
  st = hs_json_write(ctx, path, root);
cleanup:
  free(all);
  cJSON_Delete(root);
  return st;
}

hs_status hs_trace_write_blocks(hs_context *ctx, const char *path, const hs_provenance *prov, size_t nb,
                                const hs_block_desc *blocks, const hs_trace_result *const *parts) {
  hs_json_oom_clear();
  cJSON *root = cJSON_CreateObject();
  if (!root) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
  double tr = 0, var = 0;
  size_t n = 0;
  for (size_t b = 0; b < nb; b++) {
    tr += parts[b]->trace;
    var += parts[b]->trace_se * parts[b]->trace_se;
    n += parts[b]->n;
  }
  cJSON_AddStringToObject(root, "format", "hesspec.trace/1");
  hs_json_add_provenance(root, prov);
  cJSON_AddNumberToObject(root, "params", (double)n);
  cJSON_AddNumberToObject(root, "trace", tr);
  add_num(root, "trace_stderr", sqrt(var));
  cJSON_AddStringToObject(root, "trace_is", "the sum of the blocks' traces (= the trace of the whole operator); "
                                            "its standard error: the root sum of the blocks' squared errors");
  cJSON *a = blocks_array(root, nb, blocks);
  for (size_t b = 0; b < nb; b++) add_trace(cJSON_GetArrayItem(a, (int)b), parts[b]);
  hs_status st = hs_json_write(ctx, path, root);
  cJSON_Delete(root);
  return st;
}

/* ---- reading ---- */

void hs_density_file_free(hs_density_file *f) {
  if (!f) return;
  free(f->count);
  free(f->nodes);
  free(f->weights);
  free(f->grid);
  free(f->density);
  free(f->density_se);
  memset(f, 0, sizeof *f);
}

static hs_status read_darray(hs_context *ctx, const char *path, const char *field, const cJSON *a,
                             double *out, size_t n) {
  if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n)
    return hs_fail(ctx, HS_E_INVALID, "%s: field \"%s\" is missing or does not have %zu numbers", path, field, n);
  size_t i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
      return hs_fail(ctx, HS_E_INVALID, "%s: field \"%s\"[%zu] is not a finite number", path, field, i);
    out[i++] = e->valuedouble;
  }
  return HS_OK;
}

/* A number of obj, or NaN where it is absent, null or not a number. */
static double opt_num(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The fields a reader of the numbers may want but re-plotting does not need: the steps and
 * seed of the method, the standard error of the density, the summary. Absent ones are NaN
 * (files of older versions, hand-made files); present ones of the wrong kind are errors. */
static hs_status read_optional(hs_context *ctx, const char *path, const cJSON *root, hs_density_file *out) {
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(root, "method");
  double steps = opt_num(method, "lanczos_steps"), seed = opt_num(method, "seed");
  out->steps = steps >= 1 && steps <= 9007199254740992.0 && steps == floor(steps) && steps >= (double)out->stride
                   ? (size_t)steps : out->stride;
  out->seed = seed >= 0 && seed < 18446744073709551616.0 && seed == floor(seed) ? (uint64_t)seed : 0;
  out->density_se = hs_malloc(out->grid_n * sizeof *out->density_se);
  if (!out->density_se) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
  const cJSON *se = cJSON_GetObjectItemCaseSensitive(root, "density_stderr");
  if (se && !(cJSON_IsArray(se) && (size_t)cJSON_GetArraySize(se) == out->grid_n))
    return hs_fail(ctx, HS_E_INVALID, "%s: field \"density_stderr\" does not have %zu entries (one per grid point)",
                   path, out->grid_n);
  for (size_t g = 0; g < out->grid_n; g++) out->density_se[g] = NAN;
  size_t g = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, se) {
    if (cJSON_IsNumber(e)) out->density_se[g] = e->valuedouble;
    else if (!cJSON_IsNull(e))
      return hs_fail(ctx, HS_E_INVALID, "%s: field \"density_stderr\"[%zu] is neither a number nor null", path, g);
    g++;
  }
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "summary");
  out->trace = opt_num(s, "trace");
  out->trace_se = opt_num(s, "trace_stderr");
  out->neg_frac = opt_num(s, "negative_fraction");
  out->neg_frac_se = opt_num(s, "negative_fraction_stderr");
  out->neg_tol = opt_num(s, "negative_tolerance");
  out->integral = opt_num(s, "grid_integral");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, "negative_fraction_bounds");
  const cJSON *lo = cJSON_GetArrayItem(b, 0), *hi = cJSON_GetArrayItem(b, 1);
  out->neg_frac_lo = cJSON_IsArray(b) && cJSON_IsNumber(lo) ? lo->valuedouble : NAN;
  out->neg_frac_hi = cJSON_IsArray(b) && cJSON_IsNumber(hi) ? hi->valuedouble : NAN;
  return HS_OK;
}

hs_status hs_density_read(hs_context *ctx, const char *path, hs_density_file *out) {
  memset(out, 0, sizeof *out);
  char *buf = NULL;
  size_t len = 0;
  hs_status st = hs_read_file(ctx, path, &buf, &len);
  if (st != HS_OK) return st;
  hs_json_oom_clear();
  cJSON *root = cJSON_ParseWithLength(buf, len);
  free(buf);
  if (!root && hs_json_oom()) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory parsing the JSON", path);
  if (!root) return hs_fail(ctx, HS_E_INVALID, "%s: not valid JSON", path);
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "hesspec.density/1") != 0) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: field \"format\" is not \"hesspec.density/1\"", path);
    goto cleanup;
  }
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
  const cJSON *sigma = cJSON_GetObjectItemCaseSensitive(root, "sigma");
  const cJSON *probes = cJSON_GetObjectItemCaseSensitive(root, "probes");
  const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
  /* an integer count, and one a size_t holds (converting 1e77 is undefined: found by fuzz_density) */
  if (!cJSON_IsNumber(params) || !(params->valuedouble >= 1 && params->valuedouble <= 9007199254740992.0) ||
      params->valuedouble != floor(params->valuedouble)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: field \"params\" is missing or not a positive integer (at most 2^53)", path);
    goto cleanup;
  }
  if (!cJSON_IsNumber(sigma) || !(sigma->valuedouble > 0)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: field \"sigma\" is missing or not positive", path);
    goto cleanup;
  }
  if (!cJSON_IsArray(probes) || cJSON_GetArraySize(probes) < 1) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: field \"probes\" is missing or empty", path);
    goto cleanup;
  }
  if (!cJSON_IsArray(grid) || cJSON_GetArraySize(grid) < 2) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: field \"grid\" is missing or has fewer than 2 points", path);
    goto cleanup;
  }
  out->params = (size_t)params->valuedouble;
  out->sigma = sigma->valuedouble;
  out->probes = (size_t)cJSON_GetArraySize(probes);
  size_t stride = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, probes) {
    const cJSON *nd = cJSON_GetObjectItemCaseSensitive(p, "nodes");
    size_t c = cJSON_IsArray(nd) ? (size_t)cJSON_GetArraySize(nd) : 0;
    if (c > stride) stride = c;
  }
  if (stride == 0) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: field \"probes\" holds no nodes", path);
    goto cleanup;
  }
  out->stride = stride;
  out->grid_n = (size_t)cJSON_GetArraySize(grid);
  out->count = hs_calloc(out->probes, sizeof *out->count);
  out->nodes = hs_calloc(out->probes * stride, sizeof *out->nodes);
  out->weights = hs_calloc(out->probes * stride, sizeof *out->weights);
  out->grid = hs_malloc(out->grid_n * sizeof *out->grid);
  out->density = hs_malloc(out->grid_n * sizeof *out->density);
  if (!out->count || !out->nodes || !out->weights || !out->grid || !out->density) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  size_t i = 0;
  out->lambda_min = INFINITY;
  out->lambda_max = -INFINITY;
  cJSON_ArrayForEach(p, probes) {
    char field[64];
    const cJSON *nd = cJSON_GetObjectItemCaseSensitive(p, "nodes");
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(p, "weights");
    size_t c = cJSON_IsArray(nd) ? (size_t)cJSON_GetArraySize(nd) : 0;
    snprintf(field, sizeof field, "probes[%zu].nodes", i);
    HS_TRY(read_darray(ctx, path, field, nd, out->nodes + i * stride, c));
    snprintf(field, sizeof field, "probes[%zu].weights", i);
    HS_TRY(read_darray(ctx, path, field, wt, out->weights + i * stride, c));
    out->count[i] = c;
    for (size_t j = 0; j < c; j++) {
      out->lambda_min = fmin(out->lambda_min, out->nodes[i * stride + j]);
      out->lambda_max = fmax(out->lambda_max, out->nodes[i * stride + j]);
    }
    i++;
  }
  HS_TRY(read_darray(ctx, path, "grid", grid, out->grid, out->grid_n));
  HS_TRY(read_darray(ctx, path, "density", cJSON_GetObjectItemCaseSensitive(root, "density"), out->density,
                     out->grid_n));
  HS_TRY(read_optional(ctx, path, root, out));
cleanup:
  cJSON_Delete(root);
  if (st != HS_OK) hs_density_file_free(out);
  return st;
}
