/* The critical-point panel of compare (analysis/compare_panels.h): a small network trained like
 * the compared ones, then hesspec critical's Newton-MR, index and fit (analysis/critical.h)
 * from perturbed copies of its weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/compare_panels.h"
#include "analysis/critical.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "core/sbuf.h"
#include "io/atomic.h"
#include "io/file.h"
#include "nn/dataset.h"

void hs_cmp_critical_free(hs_cmp_critical *p) {
  if (!p) return;
  free(p->starts);
  free(p);
}

static hs_status write_text(hs_context *ctx, const char *dir, const char *name, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return hs_write_file_atomic(ctx, path, text, strlen(text));
}

static void csv_num(hs_sbuf *b, double v) {
  if (isfinite(v)) hs_sbuf_printf(b, ",%.17g", v);
  else hs_sbuf_printf(b, ",");
}

/* critical.csv: one row per start, the columns of the panel's table and more */
static hs_status write_csv(hs_context *ctx, const char *dir, const hs_cmp_critical *p) {
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "start,loss,grad_norm_start,grad_norm,iterations,minres_iterations,converged,stop,index,"
                     "index_stderr,index_method,negative_count,lambda_min,lambda_max,seconds,checkpoint\n");
  for (size_t s = 0; s < p->n_starts; s++) {
    const hs_cmp_critical_start *q = &p->starts[s];
    hs_sbuf_printf(&b, "%zu", s);
    csv_num(&b, q->loss);
    csv_num(&b, q->grad_norm0);
    csv_num(&b, q->grad_norm);
    hs_sbuf_printf(&b, ",%zu,%zu,%d,\"%s\"", q->iterations, q->minres_iterations, q->converged, q->stop);
    csv_num(&b, q->index);
    csv_num(&b, q->exact ? 0.0 : q->index_se);
    hs_sbuf_printf(&b, ",%s,", q->exact ? "exact" : "slq");
    if (q->exact) hs_sbuf_printf(&b, "%zu", q->negative);
    csv_num(&b, q->lambda_min);
    csv_num(&b, q->lambda_max);
    hs_sbuf_printf(&b, ",%.3f,%s\n", q->seconds, q->checkpoint);
  }
  char *text = hs_sbuf_finish(&b);
  if (!text) return hs_fail(ctx, HS_E_NOMEM, "out of memory writing critical/critical.csv");
  hs_status st = write_text(ctx, dir, "critical/critical.csv", text);
  free(text);
  return st;
}

/* Trains the panel's network into m (log in dir/critical/log.csv). */
static hs_status train(hs_context *ctx, const hs_cmp_config *c, hs_model *m, const hs_dataset *tr, const hs_dataset *te,
                       const char *dir) {
  hs_trainer *t = NULL;
  hs_status st;
  char log[4200];
  snprintf(log, sizeof log, "%s/critical/log.csv", dir);
  hs_train_options o;
  HS_TRY(hs_cmp_train_options(ctx, c, c->seeds[0], log, hs_cmp_eval_batch(te->n, c->analysis_batch), &o));
  HS_TRY(hs_trainer_create(m, tr, te, &o, &t));
  st = hs_trainer_run(t);
cleanup:
  hs_trainer_destroy(t);
  return st;
}

/* Newton-MR from start s (a perturbed copy of theta0), its index and checkpoint. */
static hs_status one_start(hs_model *m, const hs_cmp_config *c, const double *theta0, size_t s, const char *dir,
                           hs_cmp_critical_start *q) {
  hs_status st;
  size_t P = hs_model_num_params(m);
  hs_newton_mr_options no = hs_newton_mr_defaults();
  no.gtol = c->critical_gtol;
  no.max_iter = c->critical_max_iter;
  hs_slq_options so = hs_slq_defaults();
  so.steps = c->slq_steps < P ? c->slq_steps : P;
  so.probes = c->slq_probes;
  so.seed = c->probe_seed;
  hs_newton_mr_result nmr;
  memset(&nmr, 0, sizeof nmr);
  hs_index_result idx;
  double t0 = hs_now();
  char path[4200];
  HS_TRY(hs_model_set_params(m, theta0));
  HS_TRY(hs_critical_perturb(m, c->seeds[0], s, c->critical_noise));
  HS_TRY(hs_newton_mr(m, &no, &nmr));
  HS_TRY(hs_critical_index(m, c->critical_exact_limit, 0, &so, &idx));
  snprintf(q->checkpoint, sizeof q->checkpoint, "critical/start-%03zu.safetensors", s);
  snprintf(path, sizeof path, "%s/%s", dir, q->checkpoint);
  HS_TRY(hs_model_save(m, path, c->dtype));
  q->loss = nmr.loss;
  q->grad_norm0 = nmr.grad_norm0;
  q->grad_norm = nmr.grad_norm;
  q->iterations = nmr.iterations;
  q->minres_iterations = nmr.minres_iterations;
  q->converged = nmr.converged;
  q->stop = nmr.stop;
  q->exact = idx.exact;
  q->index = idx.index;
  q->index_se = idx.exact ? 0 : idx.index_se;
  q->negative = idx.negative;
  q->lambda_min = idx.lambda_min;
  q->lambda_max = idx.lambda_max;
  q->seconds = hs_now() - t0;
cleanup:
  hs_newton_mr_free(&nmr);
  return st;
}

hs_status hs_cmp_critical_panel(hs_context *ctx, const hs_cmp_config *c, const hs_dataset *tr, const hs_dataset *te,
                                const char *dir, hs_cmp_critical **out) {
  hs_status st = HS_OK;
  hs_model *m = NULL;
  hs_dataset *data = NULL;
  double *theta = NULL, *g = NULL, *eps = NULL, *alpha = NULL;
  char *spec_json = NULL, path[4200];
  *out = NULL;
  hs_cmp_critical *p = hs_calloc(1, sizeof *p);
  hs_cmp_config *cc = hs_malloc(sizeof *cc); /* the comparison with the panel's widths */
  if (!p || !cc) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  *cc = *c;
  cc->n_hidden = c->n_critical_hidden;
  memcpy(cc->hidden, c->critical_hidden, sizeof cc->hidden);
  hs_model_spec s;
  HS_TRY(hs_cmp_kind_spec(ctx, cc, &c->critical_kind, tr, &s));
  snprintf(path, sizeof path, "%s/critical", dir);
  HS_TRY(hs_mkdir_p(ctx, path, "folder"));
  spec_json = hs_spec_to_json(&s);
  if (!spec_json) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  HS_TRY(write_text(ctx, dir, "critical/model.json", spec_json));
  HS_TRY(hs_model_create(ctx, &s, &m));
  HS_TRY(hs_model_init(m, c->seeds[0]));
  double t0 = hs_now();
  HS_TRY(train(ctx, c, m, tr, te, dir));
  p->train_seconds = hs_now() - t0;
  snprintf(path, sizeof path, "%s/critical/trained.safetensors", dir);
  HS_TRY(hs_model_save(m, path, c->dtype));
  /* the loss of the first n training samples, as the analysis binds them */
  t0 = hs_now();
  size_t n = c->critical_samples ? c->critical_samples : c->analysis_samples, P = hs_model_num_params(m);
  HS_TRY(hs_dataset_create(ctx, n, tr->input_dim, tr->X, tr->output_dim, tr->labels, tr->targets, &data));
  HS_TRY(hs_model_bind(m, data, hs_cmp_eval_batch(n, c->analysis_batch)));
  p->params = P;
  p->samples = n;
  p->n_starts = c->critical_starts;
  p->starts = hs_calloc(p->n_starts, sizeof *p->starts);
  theta = hs_malloc(P * sizeof *theta);
  g = hs_malloc(P * sizeof *g);
  eps = hs_malloc(p->n_starts * sizeof *eps);
  alpha = hs_malloc(p->n_starts * sizeof *alpha);
  if (!p->starts || !theta || !g || !eps || !alpha) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  HS_TRY(hs_model_get_params(m, theta));
  HS_TRY(hs_model_loss_grad(m, &p->trained_loss, g));
  double sq = 0;
  for (size_t i = 0; i < P; i++) sq += g[i] * g[i];
  p->trained_grad_norm = sqrt(sq);
  for (size_t k = 0; k < p->n_starts; k++) {
    HS_TRY(one_start(m, c, theta, k, dir, &p->starts[k]));
    eps[k] = p->starts[k].loss;
    alpha[k] = p->starts[k].index;
  }
  /* every start, converged or not, as `hesspec critical` fits them */
  p->fit = hs_critical_fit(p->n_starts, eps, alpha, &p->alpha0, &p->eps_c, &p->rms);
  HS_TRY(write_csv(ctx, dir, p));
  p->seconds = hs_now() - t0;
cleanup:
  hs_model_destroy(m);
  hs_dataset_destroy(data);
  free(cc);
  free(spec_json);
  free(theta);
  free(g);
  free(eps);
  free(alpha);
  if (st != HS_OK) {
    hs_cmp_critical_free(p);
    return st;
  }
  *out = p;
  return HS_OK;
}
