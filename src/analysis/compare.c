/* The compare driver (analysis/compare.h): data, one training run per (kind, seed), the
 * analysis at every stage through the trainer's epoch hook. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "analysis/compare.h"
#include "analysis/compare_panels.h"
#include "analysis/optimum.h"
#include "core/clock.h"
#include "core/context.h"
#include "io/datasets.h"
#include "io/density.h"
#include "io/file.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "nn/hvp.h"
#include "nn/dataset.h"
#include "nn/engine.h"

typedef struct {
  hs_context *ctx;
  const hs_cmp_config *cfg;
  const char *dir;
  hs_cmp_result *res;
  hs_dataset *train, *test, *ana;
  char ana_desc[1200];
  size_t kind, seed_i;
  char run_rel[64]; /* runs/<kind>-s<seed> */
  char *spec_json;
  hs_cmp_note_fn note;
  void *note_user;
  hs_progress_fn user_progress;
  void *user_progress_data;
  size_t units_done, units_total;
  size_t epoch_units, analysis_units; /* progress weights: rough relative costs */
  size_t landscape_units, critical_units, operators_units;
  double t_run;
} drv;

__attribute__((format(printf, 2, 3))) static void note(drv *d, const char *fmt, ...) {
  if (!d->note) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  d->note(d->note_user, line);
}

/* Inner phases (train, gradient, lanczos) stay silent: one bar for the whole comparison. */
/* The caller's hook sees one phase, "compare", advanced by tick(); the inner phases (train,
 * lanczos, ...) only poll it, at the current count, so that cancellation stays prompt. */
static hs_status tick(drv *d, size_t units) {
  d->units_done += units;
  return d->user_progress ? d->user_progress(d->user_progress_data, "compare", d->units_done, d->units_total) : HS_OK;
}

static hs_status inner_progress(void *user, const char *what, size_t done, size_t total) {
  (void)what, (void)done, (void)total;
  return tick(user, 0);
}

/* ---- data ---- */

static hs_status make_dataset(hs_context *ctx, const hs_data *src, size_t first, size_t n, hs_dataset **out) {
  size_t in = (size_t)src->input_dim, C = (size_t)src->output_dim;
  return hs_dataset_create(ctx, n, src->input_dim, src->X + first * in, src->output_dim,
                           src->labels ? src->labels + first : NULL, src->targets ? src->targets + first * C : NULL, out);
}

static int is_fashion(const char *name) { return strncmp(name, "fashion-mnist", 13) == 0; }

static hs_status load_data(drv *d) {
  hs_context *ctx = d->ctx;
  const hs_cmp_config *c = d->cfg;
  hs_data tr, te;
  memset(&tr, 0, sizeof tr);
  memset(&te, 0, sizeof te);
  hs_model_spec s = hs_spec_defaults();
  s.n_hidden = 0;
  s.loss = c->loss; /* mse: one-hot targets (hs_data_open) */
  hs_status st;
  const char *name = c->dataset;
  char synth[64];
  if (is_fashion(name)) {
    if (strcmp(name, "fashion-mnist") != 0 && strcmp(name, "fashion-mnist:train") != 0)
      return hs_fail(ctx, HS_E_INVALID, "dataset '%s': compare takes fashion-mnist (its test split is used for testing), mixture[:sep=S] or teacher[:...]", name);
    s.input_dim = 784;
    s.output_dim = 10;
    st = hs_data_open(ctx, "fashion-mnist:train", c->train_samples, 0, &s, &tr);
    if (st == HS_OK) st = hs_data_open(ctx, "fashion-mnist:test", c->test_samples, 0, &s, &te);
    if (st == HS_E_IO) { /* the package is missing: a synthetic stand-in, said loudly */
      hs_data_free(&tr);
      hs_data_free(&te);
      d->res->synthetic_fallback = 1;
      snprintf(synth, sizeof synth, "mixture:sep=3");
      name = synth;
    } else if (st != HS_OK) {
      goto cleanup;
    } else if (tr.n < c->train_samples || te.n < c->test_samples) {
      st = hs_fail(ctx, HS_E_INVALID, "fashion-mnist has %zu training and %zu test samples; asked for %zu and %zu", tr.n, te.n, c->train_samples, c->test_samples);
      goto cleanup;
    }
  }
  if (!is_fashion(name)) {
    if (strncmp(name, "mixture", 7) != 0 && strncmp(name, "teacher", 7) != 0)
      return hs_fail(ctx, HS_E_INVALID, "dataset '%s': compare takes fashion-mnist, mixture[:sep=S] or teacher[:...]", name);
    s.input_dim = c->synthetic_dim;
    s.output_dim = c->synthetic_classes;
    hs_data all;
    /* one draw split in two: train and test share the class means of the seed */
    st = hs_data_open(ctx, name, c->train_samples + c->test_samples, 0, &s, &all);
    if (st != HS_OK) goto cleanup;
    st = make_dataset(ctx, &all, 0, c->train_samples, &d->train);
    if (st == HS_OK) st = make_dataset(ctx, &all, c->train_samples, c->test_samples, &d->test);
    if (st == HS_OK) st = make_dataset(ctx, &all, 0, c->analysis_samples, &d->ana);
    snprintf(d->res->data_desc, sizeof d->res->data_desc, "%s: %zu training + %zu test samples (%s)", name, c->train_samples,
             c->test_samples, all.source);
    hs_data_free(&all);
  } else {
    st = make_dataset(ctx, &tr, 0, c->train_samples, &d->train);
    if (st == HS_OK) st = make_dataset(ctx, &te, 0, c->test_samples, &d->test);
    if (st == HS_OK) st = make_dataset(ctx, &tr, 0, c->analysis_samples, &d->ana);
    snprintf(d->res->data_desc, sizeof d->res->data_desc, "fashion-mnist: first %zu training + first %zu test samples (%s)",
             c->train_samples, c->test_samples, tr.source);
  }
  snprintf(d->ana_desc, sizeof d->ana_desc, "first %zu training samples of %s", c->analysis_samples, d->res->data_desc);
cleanup:
  hs_data_free(&tr);
  hs_data_free(&te);
  return st;
}

/* ---- one analysis ---- */

/* mse: the fraction of samples whose largest output is where their target is largest (for
 * one-hot targets, the classification accuracy) */
static hs_status argmax_agreement(hs_model *m, const hs_dataset *data, double *acc) {
  size_t n = data->n, C = (size_t)data->output_dim, agree = 0;
  double *F = hs_malloc(n * C * sizeof *F);
  if (!F) return hs_fail(hs_model_context(m), HS_E_NOMEM, "out of host memory");
  hs_status st = hs_model_outputs(m, F);
  for (size_t i = 0; st == HS_OK && i < n; i++) {
    size_t bf = 0, bt = 0;
    for (size_t k = 1; k < C; k++) {
      if (F[i * C + k] > F[i * C + bf]) bf = k;
      if (data->targets[i * C + k] > data->targets[i * C + bt]) bt = k;
    }
    agree += bf == bt;
  }
  free(F);
  if (st == HS_OK) *acc = (double)agree / (double)n;
  return st;
}

static hs_status accuracy_on(hs_model *m, const hs_dataset *data, size_t batch, double *acc) {
  hs_status st = hs_model_bind(m, data, hs_cmp_eval_batch(data->n, batch));
  if (st != HS_OK) return st;
  return data->labels ? hs_model_accuracy(m, acc) : argmax_agreement(m, data, acc);
}

static hs_status analyse(drv *d, hs_model *m, size_t epoch) {
  hs_context *ctx = d->ctx;
  const hs_cmp_config *c = d->cfg;
  hs_cmp_result *res = d->res;
  hs_status st;
  hs_linop *op = NULL;
  hs_slq_result *slq = NULL;
  hs_eig_result *top = NULL, *bot = NULL;
  void *G = NULL;
  double t0 = hs_now();
  hs_cmp_point *pt = &res->points[res->n_points];
  memset(pt, 0, sizeof *pt);
  pt->kind = d->kind;
  pt->seed_index = d->seed_i;
  pt->epoch = epoch;
  size_t ab = c->analysis_batch ? c->analysis_batch : c->analysis_samples;
  /* Accuracies in batches of the analysis batch (batch-mode BN: statistics of each batch) */
  HS_TRY(accuracy_on(m, d->test, ab, &pt->test_acc));
  HS_TRY(accuracy_on(m, d->train, ab, &pt->train_acc));
  pt->train_loss_all = pt->optimum_gap = NAN;
  if (isfinite(res->optimum[d->kind])) { /* still bound to the whole training set */
    HS_TRY(hs_nn_loss_grad(m, &pt->train_loss_all, NULL));
    pt->optimum_gap = pt->train_loss_all - res->optimum[d->kind];
  }
  HS_TRY(hs_model_bind(m, d->ana, ab));
  HS_TRY(hs_dev_alloc(ctx, hs_nn_dtype(m), hs_model_num_params(m), &G));
  HS_TRY(hs_nn_loss_grad(m, &pt->loss, G));
  HS_OP(ctx, ctx->be->ops->nrm2(ctx->be, hs_nn_dtype(m), hs_model_num_params(m), G, &pt->grad_norm));
  pt->dead_frac = NAN;
  if (c->kinds[d->kind].act == HS_ACT_RELU) {
    HS_TRY(hs_nn_dead_units(m, &pt->dead_units, &pt->relu_units));
    if (pt->relu_units) pt->dead_frac = (double)pt->dead_units / (double)pt->relu_units;
  }
  HS_TRY(hs_linop_model(m, HS_CURV_HESSIAN, &op));
  /* after training the top 2C eigenvalues (the outliers); elsewhere the largest only */
  size_t P = hs_model_num_params(m), want = c->outliers && epoch == c->train.epochs ? 2 * (size_t)d->ana->output_dim : 1;
  if (want > P) want = P;
  hs_eig_options eo = {.which = HS_EIG_TOP, .count = want, .tol = c->eig_tol, .max_steps = 0, .seed = c->probe_seed,
                       .want_vectors = 0, .start = NULL};
  HS_TRY(hs_eig_extremal(op, &eo, &top));
  pt->outliers = -1;
  pt->outlier_gap = NAN;
  pt->top_found = top->found;
  if (want > 1 && top->found >= 2) {
    double *desc = hs_malloc(top->found * sizeof *desc);
    if (!desc) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
    for (size_t i = 0; i < top->found; i++) desc[i] = top->values[top->found - 1 - i];
    pt->outliers = hs_cmp_outliers(desc, top->found, &pt->outlier_gap);
    free(desc);
  }
  eo.which = HS_EIG_BOTTOM;
  HS_TRY(hs_eig_extremal(op, &eo, &bot));
  pt->lambda_max = top->found ? top->values[top->found - 1] : NAN;
  pt->lambda_min = bot->found ? bot->values[0] : NAN;
  hs_slq_options so = hs_cmp_slq_options(c, P, pt->lambda_max, pt->lambda_min);
  HS_TRY(hs_slq_run(op, &so, &slq));
  pt->slq_lambda_max = slq->lambda_max;
  pt->slq_lambda_min = slq->lambda_min;
  pt->trace = slq->trace;
  pt->trace_se = slq->trace_se;
  pt->neg_frac = slq->neg_frac;
  pt->neg_frac_se = slq->neg_frac_se;
  HS_TRY(hs_cmp_keep_density(ctx, slq, &pt->grid_n, &pt->grid, &pt->density));
  snprintf(pt->density_file, sizeof pt->density_file, "%s/density-e%04zu.json", d->run_rel, epoch);
  snprintf(pt->eig_top_file, sizeof pt->eig_top_file, "%s/eig-top-e%04zu.json", d->run_rel, epoch);
  snprintf(pt->eig_bottom_file, sizeof pt->eig_bottom_file, "%s/eig-bottom-e%04zu.json", d->run_rel, epoch);
  char weights[200], path[4096];
  pt->seconds = hs_now() - t0;
  hs_provenance prov = hs_cmp_provenance(c, m, d->kind, d->seed_i, epoch, "hessian", d->spec_json, d->ana_desc, weights);
  prov.elapsed = pt->seconds;
  snprintf(path, sizeof path, "%s/%s", d->dir, pt->density_file);
  HS_TRY(hs_density_write(ctx, path, &prov, slq));
  snprintf(path, sizeof path, "%s/%s", d->dir, pt->eig_top_file);
  HS_TRY(hs_eig_write(ctx, path, &prov, top, "lanczos", "top", top->steps, NULL));
  snprintf(path, sizeof path, "%s/%s", d->dir, pt->eig_bottom_file);
  HS_TRY(hs_eig_write(ctx, path, &prov, bot, "lanczos", "bottom", bot->steps, NULL));
  res->n_points++;
  note(d, "%s seed %llu epoch %zu: loss %.4g, test acc %.3f, lambda_max %.4g, lambda_min %.4g, negative mass %.3g (%.1fs)",
       c->kinds[d->kind].name, (unsigned long long)c->seeds[d->seed_i], epoch, pt->loss, pt->test_acc, pt->lambda_max,
       pt->lambda_min, pt->neg_frac, pt->seconds);
cleanup:
  if (st != HS_OK) { free(pt->grid); free(pt->density); pt->grid = pt->density = NULL; }
  hs_eig_free(top);
  hs_eig_free(bot);
  hs_slq_free(slq);
  hs_linop_destroy(op);
  ctx->be->ops->free(ctx->be, G);
  return st;
}

static int is_stage(const hs_cmp_config *c, size_t epoch) {
  for (size_t i = 0; i < c->n_stages; i++)
    if (c->stages[i] == epoch) return 1;
  return 0;
}

static hs_status cancelled(drv *d, hs_status st) {
  return hs_fail(d->ctx, st, "compare: cancelled after %zu of %zu units", d->units_done, d->units_total);
}

/* Is kind k one of the landscape panel's? */
static int draws_landscape(const hs_cmp_config *c, size_t k) {
  for (size_t i = 0; c->landscape && i < c->n_landscape_kinds; i++)
    if (strcmp(c->landscape_kinds[i].name, c->kinds[k].name) == 0) return 1;
  return 0;
}

/* After the last epoch's analysis of the first seed: G, H - G and the layers' lambda_max. */
static hs_status operators_panel(drv *d, hs_model *m) {
  const hs_cmp_config *c = d->cfg;
  const hs_cmp_point *h = hs_cmp_find(d->res, d->kind, 0, c->train.epochs);
  /* the model is still bound to the analysis samples, in the analysis batches */
  hs_status st = hs_cmp_operators_panel(m, c, d->kind, h, d->dir, d->run_rel, d->spec_json, d->ana_desc, d->res);
  if (st != HS_OK) return st;
  const hs_cmp_operators *o = d->res->operators[d->kind];
  note(d, "%s seed %llu: G in [%.4g, %.4g], H - G in [%.4g, %.4g], %zu layers' lambda_max (%.1fs)", c->kinds[d->kind].name,
       (unsigned long long)c->seeds[0], o->ggn.lambda_min, o->ggn.lambda_max, o->residual.lambda_min,
       o->residual.lambda_max, o->n_layers, o->seconds);
  return (st = tick(d, d->operators_units)) != HS_OK ? cancelled(d, st) : HS_OK;
}

static hs_status on_epoch(void *user, hs_model *m, const hs_train_epoch *r) {
  drv *d = user;
  hs_status st;
  if (r->epoch > 0) {
    size_t per_run = d->cfg->train.epochs;
    d->res->epochs[(d->kind * d->cfg->n_seeds + d->seed_i) * per_run + r->epoch - 1] = *r;
    if ((st = tick(d, d->epoch_units)) != HS_OK) return cancelled(d, st);
  }
  if (!is_stage(d->cfg, r->epoch)) return HS_OK;
  if ((st = analyse(d, m, r->epoch)) != HS_OK) return st;
  if ((st = tick(d, d->analysis_units)) != HS_OK) return cancelled(d, st);
  if (d->cfg->operators && d->seed_i == 0 && r->epoch == d->cfg->train.epochs && (st = operators_panel(d, m)) != HS_OK)
    return st;
  if (draws_landscape(d->cfg, d->kind) && d->seed_i == 0 && r->epoch == d->cfg->train.epochs) {
    /* the model is still bound to the analysis samples: the landscape is that of the analysed loss */
    if ((st = hs_cmp_landscape_panel(m, d->cfg, d->kind, d->dir, d->run_rel, d->spec_json, d->ana_desc, d->res)) != HS_OK)
      return st;
    const hs_ls_result *l = d->res->landscape[d->kind];
    note(d, "%s seed %llu: loss landscape, %zu x %zu points in %.1fs", d->cfg->kinds[d->kind].name,
         (unsigned long long)d->cfg->seeds[0], l->na, l->nb, l->seconds);
    if ((st = tick(d, d->landscape_units)) != HS_OK) return cancelled(d, st);
  }
  return HS_OK;
}


static hs_status one_run(drv *d) {
  hs_context *ctx = d->ctx;
  const hs_cmp_config *c = d->cfg;
  const hs_cmp_kind *k = &c->kinds[d->kind];
  uint64_t seed = c->seeds[d->seed_i];
  hs_model *m = NULL;
  hs_trainer *t = NULL;
  hs_curvature_tracker *curv = NULL;
  hs_status st;
  char run_dir[4096], log[4200], curv_path[4200];
  hs_model_spec s;
  HS_TRY(hs_cmp_kind_spec(ctx, c, k, d->train, &s));
  snprintf(d->run_rel, sizeof d->run_rel, "runs/%s-s%llu", k->name, (unsigned long long)seed);
  snprintf(run_dir, sizeof run_dir, "%s/%s", d->dir, d->run_rel);
  snprintf(log, sizeof log, "%s/log.csv", run_dir);
  HS_TRY(hs_mkdir_p(ctx, run_dir, "folder"));
  free(d->spec_json);
  d->spec_json = hs_spec_to_json(&s);
  HS_TRY(hs_model_create(ctx, &s, &m));
  HS_TRY(hs_model_init(m, seed));
  d->res->params[d->kind] = hs_model_num_params(m);
  if (d->seed_i == 0 && hs_optimum_check(NULL, &s) == HS_OK) { /* a linear mse kind: its global optimum, once */
    hs_optimum *opt = NULL;
    HS_TRY(hs_optimum_solve(ctx, &s, d->train, &opt));
    d->res->optimum[d->kind] = opt->loss;
    d->res->optimum_rank[d->kind] = opt->rank;
    d->res->optimum_method[d->kind] = opt->method;
    hs_optimum_free(opt);
  }
  hs_train_options o;
  HS_TRY(hs_cmp_train_options(ctx, c, seed, log,
                              hs_cmp_eval_batch(d->test->n, c->analysis_batch ? c->analysis_batch : c->analysis_samples), &o));
  if (c->save_checkpoints) {
    o.checkpoint_dir = run_dir;
    for (size_t i = 0; i < c->n_stages && i < HS_TRAIN_MAX_SAVE; i++) o.save_epochs[o.n_save++] = c->stages[i];
  }
  HS_TRY(hs_trainer_create(m, d->train, d->test, &o, &t));
  hs_trainer_set_hook(t, on_epoch, d);
  if (c->curvature_every) {
    snprintf(curv_path, sizeof curv_path, "%s/curvature.csv", run_dir);
    HS_TRY(hs_cmp_curvature_attach(m, c, d->train, curv_path, d->run_rel, &curv));
    hs_trainer_set_step_hook(t, hs_curvature_step, curv);
  }
  double t0 = hs_now();
  st = hs_trainer_run(t);
  if (st == HS_OK && curv)
    st = hs_cmp_curvature_keep(ctx, c, curv, d->train, &d->res->curvature[d->kind * c->n_seeds + d->seed_i]);
  if (st != HS_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
    hs_fail(ctx, st, "%s seed %llu: %s", k->name, (unsigned long long)seed, msg);
    goto cleanup;
  }
  note(d, "%s seed %llu: trained and analysed in %.1fs (%zu parameters)", k->name, (unsigned long long)seed, hs_now() - t0, hs_model_num_params(m));
cleanup:
  hs_curvature_destroy(curv);
  hs_trainer_destroy(t);
  hs_model_destroy(m);
  return st;
}

hs_status hs_cmp_run(hs_context *ctx, const hs_cmp_config *cfg, const char *dir, hs_cmp_note_fn notef,
                     void *note_user, hs_cmp_result **out) {
  hs_status st;
  double t0 = hs_now();
  *out = NULL;
  hs_cmp_result *res = hs_calloc(1, sizeof *res);
  if (!res) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  res->cfg = *cfg;
  for (size_t k = 0; k < HS_CMP_MAX_KINDS; k++) res->optimum[k] = NAN;
  drv d;
  memset(&d, 0, sizeof d);
  d.ctx = ctx;
  d.cfg = &res->cfg;
  d.dir = dir;
  d.res = res;
  d.note = notef;
  d.note_user = note_user;
  d.user_progress = ctx->progress;
  d.user_progress_data = ctx->progress_user;
  size_t runs = cfg->n_kinds * cfg->n_seeds;
  /* Progress weights in sample passes: an epoch is a forward and backward over the training
   * set; an analysis about two passes per Lanczos vector over the analysis samples (SLQ
   * probes run as one block, about 4x cheaper per vector; ~100 steps per extremal
   * eigenvalue), plus the accuracy forwards. Only the remaining-time estimate uses them. */
  d.epoch_units = 3 * cfg->train_samples;
  d.analysis_units = 2 * cfg->analysis_samples * (cfg->slq_steps * cfg->slq_probes / 4 + 200) +
                     2 * (cfg->train_samples + cfg->test_samples);
  /* a landscape point is one forward pass; a Newton-MR step some 50 HVPs (~2 passes each) */
  d.landscape_units = cfg->landscape_points * cfg->landscape_points * cfg->analysis_samples;
  size_t crit_n = cfg->critical_samples ? cfg->critical_samples : cfg->analysis_samples;
  d.critical_units = cfg->train.epochs * d.epoch_units + cfg->critical_starts * cfg->critical_max_iter * 100 * crit_n;
  /* a curvature measurement some 500 HVPs (top, bottom, top-k) on its samples, per measurement;
   * the operators two SLQ runs and one Lanczos chain per layer */
  size_t steps_per_epoch = (cfg->train_samples + cfg->train.batch - 1) / cfg->train.batch;
  size_t n_curv = cfg->curvature_every ? 1 + cfg->train.epochs * (steps_per_epoch / cfg->curvature_every + 1) : 0;
  size_t curv_units = n_curv * 1000 * (cfg->curvature_samples ? cfg->curvature_samples : cfg->analysis_samples);
  d.operators_units = cfg->operators ? 2 * d.analysis_units : 0;
  size_t n_landscapes = 0;
  for (size_t k = 0; k < cfg->n_kinds; k++) n_landscapes += (size_t)draws_landscape(cfg, k);
  d.epoch_units += curv_units / (cfg->train.epochs ? cfg->train.epochs : 1); /* ticked per epoch */
  d.units_total = runs * (cfg->train.epochs * d.epoch_units + cfg->n_stages * d.analysis_units) +
                  cfg->n_kinds * d.operators_units +
                  n_landscapes * d.landscape_units + (cfg->critical ? d.critical_units : 0);
  res->n_epoch_recs = cfg->train.epochs;
  res->points = hs_calloc(runs * cfg->n_stages, sizeof *res->points);
  res->epochs = hs_calloc(runs * cfg->train.epochs, sizeof *res->epochs);
  if (cfg->curvature_every) res->curvature = hs_calloc(runs, sizeof *res->curvature);
  if (!res->points || !res->epochs || (cfg->curvature_every && !res->curvature)) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  HS_TRY(load_data(&d));
  res->classes = d.train->output_dim;
  char runs_dir[4096];
  snprintf(runs_dir, sizeof runs_dir, "%s/runs", dir);
  HS_TRY(hs_mkdir_p(ctx, runs_dir, "folder"));
  hs_set_progress(ctx, inner_progress, &d);
  if ((st = tick(&d, 0)) != HS_OK) { cancelled(&d, st); goto cleanup; } /* starts the clock */
  for (d.kind = 0; d.kind < cfg->n_kinds; d.kind++)
    for (d.seed_i = 0; d.seed_i < cfg->n_seeds; d.seed_i++) {
      st = one_run(&d);
      if (st != HS_OK) goto cleanup;
    }
  if (cfg->critical) {
    HS_TRY(hs_cmp_critical_panel(ctx, &res->cfg, d.train, d.test, dir, &res->critical));
    note(&d, "critical points: %zu starts of a %s network (P = %zu) in %.1fs", res->critical->n_starts,
         cfg->critical_kind.name, res->critical->params, res->critical->seconds + res->critical->train_seconds);
    if ((st = tick(&d, d.critical_units)) != HS_OK) { cancelled(&d, st); goto cleanup; }
  }
  res->seconds = hs_now() - t0;
  res->backend = hs_backend_name(ctx);
  res->device = hs_device_name(ctx);
cleanup:
  hs_set_progress(ctx, d.user_progress, d.user_progress_data);
  free(d.spec_json);
  hs_dataset_destroy(d.train);
  hs_dataset_destroy(d.test);
  hs_dataset_destroy(d.ana);
  if (st != HS_OK) {
    hs_cmp_result_free(res);
    return st;
  }
  *out = res;
  return HS_OK;
}

void hs_cmp_result_free(hs_cmp_result *r) {
  if (!r) return;
  for (size_t i = 0; r->points && i < r->n_points; i++) {
    free(r->points[i].grid);
    free(r->points[i].density);
  }
  free(r->points);
  free(r->epochs);
  for (size_t k = 0; k < HS_CMP_MAX_KINDS; k++) hs_ls_free(r->landscape[k]);
  for (size_t k = 0; k < HS_CMP_MAX_KINDS; k++) hs_cmp_operators_free(r->operators[k]);
  hs_cmp_curvature_free(r->curvature, r->curvature ? r->cfg.n_kinds * r->cfg.n_seeds : 0);
  hs_cmp_critical_free(r->critical);
  free(r);
}

int hs_cmp_outliers(const double *v, size_t n, double *gap) {
  int best = 1;
  double bg = -INFINITY;
  for (size_t k = 1; k < n; k++) {
    double g = (v[k - 1] - v[k]) / fmax(fabs(v[k]), 1e-12 * fabs(v[0]));
    if (g > bg) bg = g, best = (int)k;
  }
  if (gap) *gap = bg;
  return best;
}

const hs_cmp_point *hs_cmp_find(const hs_cmp_result *r, size_t kind, size_t seed, size_t epoch) {
  for (size_t i = 0; i < r->n_points; i++) {
    const hs_cmp_point *p = &r->points[i];
    if (p->kind == kind && p->seed_index == seed && p->epoch == epoch) return p;
  }
  return NULL;
}
