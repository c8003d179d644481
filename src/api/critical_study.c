/* hs_critical_study and hs_model_index: the multi-start critical-point study of `hesspec
 * critical` (Newton-MR from perturbed starts, the index of every point, checkpoints, the
 * Pennington-Bahri fit) over analysis/critical.h, and its "hesspec.critical/1" file. */
#include "api/api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critical.h"
#include "analysis/critical_plot.h"
#include "core/alloc.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/result_json.h"
#include "nn/engine.h"

#define EXACT_LIMIT 3000

hs_index_options hs_index_defaults(void) {
  return (hs_index_options){.exact_limit = EXACT_LIMIT, .tol = 0, .steps = 0, .probes = HS_SLQ_DEFAULT_PROBES, .seed = 0};
}

hs_critical_study_options hs_critical_study_defaults(void) {
  return (hs_critical_study_options){.newton = hs_critical_defaults(), .starts = 1, .index = hs_index_defaults(),
                                     .checkpoint_prefix = NULL, .checkpoint_dtype = HS_F64, .on_start = NULL,
                                     .user = NULL};
}

/* The index options' checks (`what` names the caller): a study makes them before its first
 * start, so that a bad option fails before minutes of Newton-MR rather than after. */
static hs_status check_index(hs_context *ctx, const char *what, const hs_index_options *o, size_t P) {
  if (o->steps > P) return hs_fail(ctx, HS_E_INVALID, "%s steps %zu exceeds the %zu parameters", what, o->steps, P);
  if (o->probes < 1) return hs_fail(ctx, HS_E_INVALID, "%s probes must be at least 1 (got 0)", what);
  return HS_OK;
}

hs_status hs_model_index(hs_model *m, const hs_index_options *opt, hs_hessian_index *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = hs_model_context(m);
  const hs_index_options o = opt ? *opt : hs_index_defaults();
  hs_status st = check_index(ctx, "index:", &o, hs_model_num_params(m));
  if (st != HS_OK) return st;
  hs_slq_options so = hs_slq_defaults();
  so.steps = o.steps;
  so.probes = o.probes;
  so.seed = o.seed;
  hs_index_result r;
  if ((st = hs_critical_index(m, o.exact_limit, o.tol, &so, &r)) != HS_OK) return st;
  *out = (hs_hessian_index){.exact = r.exact, .index = r.index, .index_stderr = r.exact ? 0 : r.index_se,
                            .negative = r.negative, .params = r.params, .negative_tol = r.neg_tol,
                            .lambda_min = r.lambda_min, .lambda_max = r.lambda_max};
  return HS_OK;
}

void hs_critical_study_free(hs_critical_study *s) {
  if (!s) return;
  for (size_t k = 0; k < s->starts; k++) {
    if (s->points) hs_critical_free(&s->points[k]);
    if (s->checkpoints) free(s->checkpoints[k]);
  }
  free(s->points);
  free(s->indices);
  free(s->checkpoints);
  memset(s, 0, sizeof *s);
}

/* "C.json" -> "C-start-007.safetensors" (caller frees) */
static char *checkpoint_path(const char *prefix, size_t start) {
  size_t len = strlen(prefix);
  if (len >= 5 && strcmp(prefix + len - 5, ".json") == 0) len -= 5;
  size_t cap = len + 32;
  char *p = hs_malloc(cap);
  if (p) snprintf(p, cap, "%.*s-start-%03zu.safetensors", (int)len, prefix, start);
  return p;
}

hs_status hs_critical_study_run(hs_model *m, const hs_critical_study_options *opt, hs_critical_study *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = hs_model_context(m);
  const hs_critical_study_options o = opt ? *opt : hs_critical_study_defaults();
  const size_t P = hs_model_num_params(m), n = o.starts;
  if (n < 1) return hs_fail(ctx, HS_E_INVALID, "critical: starts must be at least 1 (got 0)");
  if (n > 1 && !(o.newton.noise > 0))
    return hs_fail(ctx, HS_E_INVALID, "critical: %zu starts need noise > 0 (every start would be the same point)", n);
  hs_status st = check_index(ctx, "critical: index", &o.index, P);
  if (st != HS_OK) return st;
  hs_critical_study s = {0};
  double *theta = hs_malloc(P * sizeof *theta), *loss = hs_malloc(n * sizeof *loss), *index = hs_malloc(n * sizeof *index);
  s.points = hs_calloc(n, sizeof *s.points);
  s.indices = hs_calloc(n, sizeof *s.indices);
  s.checkpoints = hs_calloc(n, sizeof *s.checkpoints);
  if (!theta || !loss || !index || !s.points || !s.indices || !s.checkpoints) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_model_get_params(m, theta));
  for (size_t k = 0; k < n; k++) {
    hs_critical_options no = o.newton;
    no.start = k;
    HS_TRY(hs_model_set_params(m, theta));
    HS_TRY(hs_critical(m, &no, &s.points[k]));
    s.starts = k + 1;
    HS_TRY(hs_model_index(m, &o.index, &s.indices[k]));
    if (o.checkpoint_prefix) {
      if (!(s.checkpoints[k] = checkpoint_path(o.checkpoint_prefix, k))) {
        st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
        goto cleanup;
      }
      HS_TRY(hs_model_save(m, s.checkpoints[k], o.checkpoint_dtype));
    }
    loss[k] = s.points[k].loss;
    index[k] = s.indices[k].index;
    s.converged += (size_t)s.points[k].converged;
    if (o.on_start) HS_TRY(o.on_start(o.user, k, &s.points[k], &s.indices[k], s.checkpoints[k]));
  }
  s.fit = hs_critical_fit(n, loss, index, &s.alpha0, &s.eps_c, &s.rms);
  *out = s;
  memset(&s, 0, sizeof s);
cleanup:
  hs_critical_study_free(&s);
  free(theta);
  free(loss);
  free(index);
  return st;
}

static hs_status write_file(hs_context *ctx, const char *path, const hs_provenance *prov,
                            const hs_newton_mr_options *no, size_t starts, double noise, size_t limit,
                            const hs_critical_study *r) {
  hs_json_oom_clear(); /* hs_json_write fails if building the tree ran out */
  cJSON *root = cJSON_CreateObject();
  if (!root) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
  cJSON_AddStringToObject(root, "format", "hesspec.critical/1");
  hs_json_add_provenance(root, prov);
  cJSON_AddNumberToObject(root, "params", (double)r->indices[0].params);
  cJSON *m = cJSON_AddObjectToObject(root, "method");
  cJSON_AddStringToObject(m, "name", "newton-mr");
  cJSON_AddStringToObject(m, "objective", "0.5 ||grad||^2; d = MINRES(H, -grad); Armijo backtracking on ||grad||^2");
  cJSON_AddNumberToObject(m, "gtol", no->gtol);
  cJSON_AddNumberToObject(m, "max_iter", (double)no->max_iter);
  cJSON_AddNumberToObject(m, "minres_max", (double)no->minres_max);
  cJSON_AddNumberToObject(m, "minres_rtol", no->minres_rtol);
  cJSON_AddNumberToObject(m, "theta", no->theta);
  cJSON_AddStringToObject(m, "theta_is", "MINRES stops when ||H (H d + grad)|| <= theta ||H grad|| (Newton-MR's inexactness)");
  cJSON_AddNumberToObject(m, "armijo", no->armijo);
  cJSON_AddNumberToObject(m, "starts", (double)starts);
  cJSON_AddNumberToObject(m, "noise", noise);
  cJSON_AddStringToObject(m, "noise_is", "per tensor: noise * ||theta_t|| / sqrt(n_t) * N(0, 1), seeded by seed and start");
  cJSON_AddNumberToObject(m, "exact_limit", (double)limit);
  cJSON_AddStringToObject(m, "index_is", "fraction of Hessian eigenvalues below -negative_tol");
  cJSON *a = cJSON_AddArrayToObject(root, "starts");
  for (size_t s = 0; s < starts; s++) {
    const hs_critical_result *p = &r->points[s];
    const hs_hessian_index *x = &r->indices[s];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "start", (double)s);
    cJSON_AddNumberToObject(o, "loss", p->loss);
    cJSON_AddNumberToObject(o, "grad_norm", p->grad_norm);
    cJSON_AddNumberToObject(o, "grad_norm_start", p->grad_norm_start);
    cJSON_AddNumberToObject(o, "iterations", (double)p->iterations);
    cJSON_AddBoolToObject(o, "converged", p->converged);
    cJSON_AddStringToObject(o, "stop", p->stop);
    cJSON_AddNumberToObject(o, "index", x->index);
    if (x->exact) {
      cJSON_AddNumberToObject(o, "index_stderr", 0);
      cJSON_AddStringToObject(o, "index_method", "exact");
      cJSON_AddNumberToObject(o, "negative_count", (double)x->negative);
    } else {
      if (isfinite(x->index_stderr)) cJSON_AddNumberToObject(o, "index_stderr", x->index_stderr);
      else cJSON_AddNullToObject(o, "index_stderr");
      cJSON_AddStringToObject(o, "index_method", "slq");
    }
    cJSON_AddNumberToObject(o, "negative_tol", x->negative_tol);
    cJSON_AddNumberToObject(o, "lambda_min", x->lambda_min);
    cJSON_AddNumberToObject(o, "lambda_max", x->lambda_max);
    cJSON_AddStringToObject(o, "checkpoint", r->checkpoints[s] ? r->checkpoints[s] : "");
    cJSON_AddNumberToObject(o, "minres_iterations", (double)p->minres_iterations);
    cJSON_AddNumberToObject(o, "hvps", (double)p->hvps);
    cJSON_AddNumberToObject(o, "gradients", (double)p->gradients);
    cJSON_AddNumberToObject(o, "fallback_steps", (double)p->fallback_steps);
    cJSON_AddNumberToObject(o, "seconds", p->seconds);
    cJSON *h = cJSON_AddArrayToObject(o, "grad_norm_history");
    for (size_t i = 0; i <= p->iterations; i++) hs_json_push(h, cJSON_CreateNumber(p->history[i]));
    hs_json_push(a, o);
  }
  if (r->fit) {
    cJSON *f = cJSON_AddObjectToObject(root, "fit");
    cJSON_AddStringToObject(f, "formula", "index = alpha0 |1 - loss / eps_c|^(3/2) (Pennington & Bahri 2017)");
    cJSON_AddNumberToObject(f, "alpha0", r->alpha0);
    cJSON_AddNumberToObject(f, "eps_c", r->eps_c);
    cJSON_AddNumberToObject(f, "rms", r->rms);
  } else {
    cJSON_AddNullToObject(root, "fit");
  }
  hs_status st = hs_json_write(ctx, path, root);
  cJSON_Delete(root);
  return st;
}

hs_status hs_critical_study_save(hs_model *m, const hs_critical_study_options *opt, const hs_critical_study *s,
                                 const hs_run_info *info, const char *path) {
  hs_context *ctx = hs_model_context(m);
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "critical save: no path given");
  if (s->starts == 0) return hs_fail(ctx, HS_E_INVALID, "%s: the study has no start", path);
  const hs_critical_study_options o = opt ? *opt : hs_critical_study_defaults();
  const hs_run_info in = info ? *info : (hs_run_info){0};
  hs_newton_mr_options no = hs_api_newton_options(&o.newton);
  if (!no.minres_max) no.minres_max = hs_newton_mr_minres_default(hs_model_num_params(m)); /* the file says which */
  hs_provenance prov;
  char *spec_json;
  hs_status st = hs_api_model_provenance(m, "critical", "hessian", in.weights, in.data, o.newton.seed, in.elapsed, &prov,
                                         &spec_json);
  if (st == HS_OK) st = write_file(ctx, path, &prov, &no, s->starts, o.newton.noise, o.index.exact_limit, s);
  free(spec_json);
  return st;
}

hs_status hs_critical_study_plot(hs_context *ctx, const hs_critical_study *s, const char *path) {
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "critical plot: no path given");
  const size_t n = s->starts;
  double *loss = hs_malloc((n ? n : 1) * sizeof *loss), *index = hs_malloc((n ? n : 1) * sizeof *index);
  int *conv = hs_malloc((n ? n : 1) * sizeof *conv);
  char *svg = NULL;
  hs_status st = HS_OK;
  if (loss && index && conv) {
    for (size_t k = 0; k < n; k++) loss[k] = s->points[k].loss, index[k] = s->indices[k].index, conv[k] = s->points[k].converged;
    svg = hs_svg_critical(n, loss, index, conv, s->fit, s->alpha0, s->eps_c, s->rms);
  }
  if (!svg) st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory drawing the plot", path);
  else st = hs_write_file_atomic(ctx, path, svg, strlen(svg));
  free(svg);
  free(loss);
  free(index);
  free(conv);
  return st;
}
