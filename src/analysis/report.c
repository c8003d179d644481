/* The compare report (analysis/report.h). Every file is written atomically; the CLI writes
 * the whole folder under a temporary name and renames it at the end. */
#include "core/alloc.h"
#include "analysis/report.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/report_panels.h"
#include "analysis/svg_lines.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/svg.h"
#include "io/svg_plot.h"

/* ---- statistics over seeds ---- */

#define FIELD(name) offsetof(hs_cmp_point, name)

static double get(const hs_cmp_point *p, size_t off) { return *(const double *)((const char *)p + off); }

/* mean over the seeds of a field at (kind, epoch); *spread = max - min; NaN when absent */
static double seed_mean(const hs_cmp_result *r, size_t kind, size_t epoch, size_t off, double *spread) {
  double s = 0, lo = INFINITY, hi = -INFINITY;
  size_t n = 0;
  for (size_t i = 0; i < r->cfg.n_seeds; i++) {
    const hs_cmp_point *p = hs_cmp_find(r, kind, i, epoch);
    if (!p || !isfinite(get(p, off))) continue;
    double v = get(p, off);
    s += v;
    lo = fmin(lo, v);
    hi = fmax(hi, v);
    n++;
  }
  if (spread) *spread = n ? hi - lo : NAN;
  return n ? s / (double)n : NAN;
}

static int kind_index(const hs_cmp_result *r, const char *name) { return hs_cmp_kind_index(&r->cfg, name); }

static const char *ratio_words(double a, double b) {
  if (!(a > 0) || !(b > 0)) return "different";
  double q = b / a;
  return q < 0.8 ? "lower" : q > 1.25 ? "higher" : "about the same";
}

/* "<what>: the top eigenvalue after training is lower (A for ka vs B for kb) ..." */
static void compare_kinds(hs_sbuf *b, const hs_cmp_result *r, const char *what, const char *ka, const char *kb) {
  int a = kind_index(r, ka), c = kind_index(r, kb);
  if (a < 0 || c < 0) return;
  size_t E = r->cfg.train.epochs;
  double la = seed_mean(r, (size_t)a, E, FIELD(lambda_max), NULL), lc = seed_mean(r, (size_t)c, E, FIELD(lambda_max), NULL);
  double na = seed_mean(r, (size_t)a, E, FIELD(neg_frac), NULL), nc = seed_mean(r, (size_t)c, E, FIELD(neg_frac), NULL);
  double ta = seed_mean(r, (size_t)a, E, FIELD(test_acc), NULL), tc = seed_mean(r, (size_t)c, E, FIELD(test_acc), NULL);
  hs_sbuf_printf(b, "%s (%s vs %s): after training the top Hessian eigenvalue is %s (%.4g vs %.4g, a factor of %.2f), "
         "the negative mass is %s (%.3g vs %.3g), test accuracy %.3f vs %.3f.\n",
      what, kb, ka, ratio_words(la, lc), lc, la, la > 0 ? lc / la : NAN,
      nc < 0.8 * na ? "smaller" : nc > 1.25 * na ? "larger" : "about the same", nc, na, tc, ta);
}

char *hs_cmp_findings(const hs_cmp_result *r) {
  const hs_cmp_config *c = &r->cfg;
  size_t E = c->train.epochs;
  hs_sbuf b = {0};
  if (r->synthetic_fallback)
    hs_sbuf_printf(&b, "Fashion-MNIST was not found (Debian package dataset-fashion-mnist); these results are on a synthetic Gaussian mixture.\n");
  /* seeds */
  if (c->n_seeds > 1) {
    double worst = 0;
    const char *wk = "";
    for (size_t k = 0; k < c->n_kinds; k++) {
      double sp, m = seed_mean(r, k, E, FIELD(loss), &sp);
      if (m > 0 && sp / m > worst) worst = sp / m, wk = c->kinds[k].name;
    }
    hs_sbuf_printf(&b, "Different seeds %s: across %zu seeds the final training loss varies by at most %.1f%% of its mean (largest for %s)",
                   worst < 0.1 ? "reach similar loss" : "reach noticeably different losses", c->n_seeds, 100 * worst, wk);
    double sp, m;
    hs_sbuf_printf(&b, "; per kind:");
    for (size_t k = 0; k < c->n_kinds; k++) {
      m = seed_mean(r, k, E, FIELD(loss), &sp);
      hs_sbuf_printf(&b, " %s %.4g +- %.2g%s", c->kinds[k].name, m, sp / 2, k + 1 < c->n_kinds ? "," : ".\n");
    }
  }
  compare_kinds(&b, r, "Batch norm", "relu", "relu-bn");
  compare_kinds(&b, r, "Skip connections", "relu", "relu-res");
  compare_kinds(&b, r, "Batch norm on top of skip connections", "relu-res", "relu-bn-res");
  compare_kinds(&b, r, "Batch norm in the conv net", "conv", "conv-bn");
  compare_kinds(&b, r, "Skip connections in the conv net", "conv", "resnet");
  compare_kinds(&b, r, "Batch norm on top of skip connections in the conv net", "resnet", "resnet-bn");
  /* the linear network */
  int lin = kind_index(r, "linear");
  if (lin >= 0) {
    size_t k = (size_t)lin;
    double l0 = seed_mean(r, k, 0, FIELD(lambda_max), NULL), m0 = seed_mean(r, k, 0, FIELD(lambda_min), NULL);
    double n0 = seed_mean(r, k, 0, FIELD(neg_frac), NULL);
    double l1 = seed_mean(r, k, E, FIELD(lambda_max), NULL), m1 = seed_mean(r, k, E, FIELD(lambda_min), NULL);
    double n1 = seed_mean(r, k, E, FIELD(neg_frac), NULL), g1 = seed_mean(r, k, E, FIELD(grad_norm), NULL);
    if (isfinite(l0))
      hs_sbuf_printf(&b, "The linear network's Hessian at initialisation spans [%.4g, %.4g] with negative mass %.3g", m0, l0, n0);
    else
      hs_sbuf_printf(&b, "The linear network's Hessian");
    hs_sbuf_printf(&b, "; after training it spans [%.4g, %.4g] with negative mass %.3g and gradient norm %.3g. ", m1, l1, n1, g1);
    double ratio = l1 > 0 ? fabs(m1) / l1 : NAN;
    if (ratio < 0.05)
      hs_sbuf_printf(&b, "Its negative part is small (|lambda_min|/lambda_max = %.3f): a bulk near zero plus positive outliers, "
              "the shape of a neighbourhood of a minimum; for a deep linear network every local minimum is global, "
              "the only traps are saddles (the Hessian at W = 0 vanishes for depth >= 3).\n", ratio);
    else
      hs_sbuf_printf(&b, "Its negative part is still clear (|lambda_min|/lambda_max = %.3f): the end point lies in a saddle region "
              "(deep linear networks have saddles but no bad local minima).\n", ratio);
  }
  /* linear kinds with mse: the gap to the closed-form global optimum */
  for (size_t k = 0; k < c->n_kinds; k++) {
    if (!isfinite(r->optimum[k])) continue;
    double sp, gap = seed_mean(r, k, E, FIELD(optimum_gap), &sp), opt = r->optimum[k];
    hs_sbuf_printf(&b, "Every local minimum is global (%s, mse): after %zu epochs the training loss is %.6g above the closed-form "
                   "optimum %.6g (%s, rank bound %zu), %.3g%% of it, mean over %zu seed%s (spread %.2g)%s.\n",
                   c->kinds[k].name, E, gap, opt, r->optimum_method[k] ? r->optimum_method[k] : "", r->optimum_rank[k],
                   opt > 0 ? 100 * gap / opt : NAN, c->n_seeds, c->n_seeds == 1 ? "" : "s", sp,
                   gap < 1e-3 * fmax(opt, 1e-12) ? ": training found the global minimum"
                                                  : ": the remaining gap is optimisation (too few epochs or too small a step), not a bad local minimum");
  }
  /* outliers of the trained spectra, against C - 1 and C (Sagun et al. 2017; Papyan 2019) */
  {
    int C = r->classes;
    int any = 0;
    for (size_t k = 0; k < c->n_kinds; k++) {
      char list[256] = "";
      size_t len = 0, n = 0;
      double sum = 0;
      for (size_t si = 0; si < c->n_seeds; si++) {
        const hs_cmp_point *p = hs_cmp_find(r, k, si, E);
        if (!p || p->outliers < 0) continue;
        len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%d", n ? ", " : "", p->outliers);
        sum += p->outliers;
        n++;
      }
      if (!n) continue;
      if (!any) hs_sbuf_printf(&b, "Outliers after training (how many of the top %d eigenvalues stand apart from the bulk: the largest relative gap; C - 1 = %d, C = %d classes):", 2 * C, C - 1, C);
      hs_sbuf_printf(&b, "%s %s %s (mean %.1f)", any ? ";" : "", c->kinds[k].name, list, sum / (double)n);
      any = 1;
    }
    if (any) hs_sbuf_printf(&b, ".\n");
  }
  /* dead ReLU units */
  {
    int any = 0;
    for (size_t k = 0; k < c->n_kinds; k++) {
      double d0 = seed_mean(r, k, 0, FIELD(dead_frac), NULL), d1 = seed_mean(r, k, E, FIELD(dead_frac), NULL);
      if (!isfinite(d1)) continue;
      if (!any) hs_sbuf_printf(&b, "Dead ReLU units (zero on every analysed sample), at initialisation -> after training:");
      hs_sbuf_printf(&b, "%s %s %.1f%% -> %.1f%%", any ? ";" : "", c->kinds[k].name, 100 * d0, 100 * d1);
      any = 1;
    }
    if (any) hs_sbuf_printf(&b, ".\n");
  }
  hs_cmp_panel_findings(r, &b); /* the landscape and critical-point panels */
  /* along training */
  for (size_t k = 0; k < c->n_kinds; k++) {
    double a = seed_mean(r, k, 0, FIELD(lambda_max), NULL), z = seed_mean(r, k, E, FIELD(lambda_max), NULL);
    double na = seed_mean(r, k, 0, FIELD(neg_frac), NULL), nz = seed_mean(r, k, E, FIELD(neg_frac), NULL);
    if (!isfinite(a) || !isfinite(z)) continue;
    hs_sbuf_printf(&b, "%s: lambda_max %s from %.4g at initialisation to %.4g after %zu epochs; negative mass %.3g -> %.3g.\n",
                   c->kinds[k].name, z > 1.1 * a ? "grows" : z < 0.9 * a ? "shrinks" : "stays near", a, z, E, na, nz);
  }
  if (b.bad) { free(b.s); return NULL; }
  if (!b.s) { b.s = hs_calloc(1, 1); }
  return b.s;
}

/* ---- files ---- */

static hs_status write_text(hs_context *ctx, const char *dir, const char *name, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return hs_write_file_atomic(ctx, path, text, strlen(text));
}

static void csv_num(hs_sbuf *b, double v) {
  if (isnan(v)) hs_sbuf_printf(b, ",");
  else hs_sbuf_printf(b, ",%.10g", v);
}

static char *summary_csv(const hs_cmp_result *r) {
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "kind,seed,epoch,params,loss,grad_norm,train_accuracy,test_accuracy,lambda_max,lambda_min,"
          "slq_lambda_max,slq_lambda_min,trace,trace_stderr,negative_fraction,negative_fraction_stderr,seconds,"
          "density_file,eig_top_file,eig_bottom_file,train_loss_all,optimum_loss,gap_to_optimum,outliers,outlier_gap,dead_fraction\n");
  for (size_t i = 0; i < r->n_points; i++) {
    const hs_cmp_point *p = &r->points[i];
    hs_sbuf_printf(&b, "%s,%llu,%zu,%zu", r->cfg.kinds[p->kind].name, (unsigned long long)r->cfg.seeds[p->seed_index], p->epoch,
                   r->params[p->kind]);
    csv_num(&b, p->loss);
    csv_num(&b, p->grad_norm);
    csv_num(&b, p->train_acc);
    csv_num(&b, p->test_acc);
    csv_num(&b, p->lambda_max);
    csv_num(&b, p->lambda_min);
    csv_num(&b, p->slq_lambda_max);
    csv_num(&b, p->slq_lambda_min);
    csv_num(&b, p->trace);
    csv_num(&b, p->trace_se);
    csv_num(&b, p->neg_frac);
    csv_num(&b, p->neg_frac_se);
    hs_sbuf_printf(&b, ",%.3f,%s,%s,%s", p->seconds, p->density_file, p->eig_top_file, p->eig_bottom_file);
    csv_num(&b, p->train_loss_all);
    csv_num(&b, r->optimum[p->kind]);
    csv_num(&b, p->optimum_gap);
    if (p->outliers >= 0) hs_sbuf_printf(&b, ",%d", p->outliers);
    else hs_sbuf_printf(&b, ",");
    csv_num(&b, p->outliers >= 0 ? p->outlier_gap : NAN);
    csv_num(&b, p->dead_frac);
    hs_sbuf_printf(&b, "\n");
  }
  return b.bad ? (free(b.s), NULL) : b.s;
}

static void md_table(hs_sbuf *b, const hs_cmp_result *r) {
  hs_sbuf_printf(b, "| kind | seed | epoch | loss | grad norm | train acc | test acc | lambda_max | lambda_min | trace | negative mass |\n");
  hs_sbuf_printf(b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < r->n_points; i++) {
    const hs_cmp_point *p = &r->points[i];
    hs_sbuf_printf(b, "| %s | %llu | %zu | %.4g | %.3g | %.3f | %.3f | %.4g | %.4g | %.4g +- %.2g | %.3g |\n", r->cfg.kinds[p->kind].name,
                   (unsigned long long)r->cfg.seeds[p->seed_index], p->epoch, p->loss, p->grad_norm, p->train_acc, p->test_acc,
                   p->lambda_max, p->lambda_min, p->trace, p->trace_se, p->neg_frac);
  }
}

/* Densities of one stage, first seed of every kind, log density axis. */
static char *stage_density_svg(const hs_cmp_result *r, size_t epoch) {
  hs_plot_series s[HS_CMP_MAX_KINDS];
  size_t n = 0;
  for (size_t k = 0; k < r->cfg.n_kinds; k++) {
    const hs_cmp_point *p = hs_cmp_find(r, k, 0, epoch);
    if (!p || !p->grid) continue;
    s[n++] = (hs_plot_series){r->cfg.kinds[k].name, p->grid_n, p->grid, p->density};
  }
  char title[160];
  snprintf(title, sizeof title, "Hessian spectral density, %s (seed %llu)", epoch ? "" : "initialisation",
           (unsigned long long)r->cfg.seeds[0]);
  if (epoch) snprintf(title, sizeof title, "Hessian spectral density after epoch %zu (seed %llu)", epoch, (unsigned long long)r->cfg.seeds[0]);
  hs_plot_options o = {.log_y = 1, .title = title, .xlabel = "eigenvalue", .ylabel = "density (log scale)", .width = 760,
                       .height = 440};
  return n ? hs_svg_density(s, n, &o) : NULL;
}

/* A metric along the analysed epochs, mean over seeds, one line per kind. */
static char *stage_metric_svg(const hs_cmp_result *r, size_t off, const char *title, const char *ylabel) {
  const hs_cmp_config *c = &r->cfg;
  double x[HS_CMP_MAX_KINDS][HS_CMP_MAX_STAGES], y[HS_CMP_MAX_KINDS][HS_CMP_MAX_STAGES];
  hs_line_series s[HS_CMP_MAX_KINDS];
  for (size_t k = 0; k < c->n_kinds; k++) {
    for (size_t i = 0; i < c->n_stages; i++) {
      x[k][i] = (double)c->stages[i];
      y[k][i] = seed_mean(r, k, c->stages[i], off, NULL);
    }
    s[k] = (hs_line_series){c->kinds[k].name, c->n_stages, x[k], y[k], 0};
  }
  return hs_svg_lines(s, c->n_kinds, title, "epoch", ylabel, 680, 380);
}

/* A training-log column per epoch (mean over seeds), one line per kind. */
static char *curve_svg(const hs_cmp_result *r, size_t off, const char *title, const char *ylabel) {
  const hs_cmp_config *c = &r->cfg;
  size_t E = c->train.epochs;
  double *x = hs_malloc(E * sizeof *x), *y = hs_malloc(c->n_kinds * E * sizeof *y);
  hs_line_series s[HS_CMP_MAX_KINDS];
  char *svg = NULL;
  if (!x || !y) goto done;
  for (size_t e = 0; e < E; e++) x[e] = (double)(e + 1);
  for (size_t k = 0; k < c->n_kinds; k++) {
    for (size_t e = 0; e < E; e++) {
      double sum = 0;
      size_t n = 0;
      for (size_t si = 0; si < c->n_seeds; si++) {
        const hs_train_epoch *rec = &r->epochs[(k * c->n_seeds + si) * E + e];
        double v = *(const double *)((const char *)rec + off);
        if (isfinite(v)) sum += v, n++;
      }
      y[k * E + e] = n ? sum / (double)n : NAN;
    }
    s[k] = (hs_line_series){c->kinds[k].name, E, x, y + k * E, 0};
  }
  svg = hs_svg_lines(s, c->n_kinds, title, "epoch", ylabel, 680, 380);
done:
  free(x);
  free(y);
  return svg;
}

/* The outlier count and gap of a point as table text ("-" where not measured). */
static void outlier_text(const hs_cmp_point *p, char out[32], char gap[32]) {
  if (p->outliers < 0) {
    snprintf(out, 32, "-");
    snprintf(gap, 32, "-");
    return;
  }
  snprintf(out, 32, "%d", p->outliers);
  snprintf(gap, 32, "%.3g", p->outlier_gap);
}

typedef struct {
  char name[64];
  char *svg;
  char caption[200];
} plot;

hs_status hs_cmp_report(hs_context *ctx, const hs_cmp_result *r, const char *dir) {
  const hs_cmp_config *c = &r->cfg;
  hs_status st = HS_OK;
  plot plots[HS_CMP_MAX_STAGES + 8];
  size_t np = 0;
  char *csv = NULL, *findings = NULL, *cfgjson = NULL;
  hs_sbuf md = {0}, html = {0}, panel_md = {0}, panel_html = {0};
  char plots_dir[4096];
  snprintf(plots_dir, sizeof plots_dir, "%s/plots", dir);
  st = hs_mkdir_p(ctx, plots_dir, "folder");
  if (st != HS_OK) return st;
  memset(plots, 0, sizeof plots);
  for (size_t i = 0; i < c->n_stages; i++) {
    plot *p = &plots[np++];
    snprintf(p->name, sizeof p->name, "density-e%04zu.svg", c->stages[i]);
    snprintf(p->caption, sizeof p->caption, "Spectral densities (SLQ, log density axis) %s%zu, one curve per network kind.",
             c->stages[i] ? "after epoch " : "at initialisation, epoch ", c->stages[i]);
    p->svg = stage_density_svg(r, c->stages[i]);
  }
  struct { const char *name; size_t off; const char *title, *ylabel, *caption; } sm[] = {
      {"lambda_max.svg", FIELD(lambda_max), "Top Hessian eigenvalue along training", "lambda_max", "lambda_max (Lanczos) at the analysed epochs, mean over seeds."},
      {"lambda_min.svg", FIELD(lambda_min), "Bottom Hessian eigenvalue along training", "lambda_min", "lambda_min (Lanczos) at the analysed epochs, mean over seeds."},
      {"negative_mass.svg", FIELD(neg_frac), "Negative spectral mass along training", "negative fraction", "Fraction of the SLQ spectral mass below -neg_tol_rel max|lambda|, mean over seeds."},
      {"trace.svg", FIELD(trace), "Hessian trace along training", "trace", "Trace (Hutchinson on the SLQ probes), mean over seeds."}};
  for (size_t i = 0; i < sizeof sm / sizeof *sm; i++) {
    plot *p = &plots[np++];
    snprintf(p->name, sizeof p->name, "%s", sm[i].name);
    snprintf(p->caption, sizeof p->caption, "%s", sm[i].caption);
    p->svg = stage_metric_svg(r, sm[i].off, sm[i].title, sm[i].ylabel);
  }
  struct { const char *name; size_t off; const char *title, *ylabel, *caption; } cv[] = {
      {"train_loss.svg", offsetof(hs_train_epoch, loss), "Training loss", "mean minibatch loss", "Training loss per epoch (mean of the minibatch losses), mean over seeds."},
      {"test_accuracy.svg", offsetof(hs_train_epoch, test_accuracy), "Test accuracy", "accuracy", "Test accuracy after every epoch, mean over seeds."}};
  for (size_t i = 0; i < sizeof cv / sizeof *cv; i++) {
    plot *p = &plots[np++];
    snprintf(p->name, sizeof p->name, "%s", cv[i].name);
    snprintf(p->caption, sizeof p->caption, "%s", cv[i].caption);
    p->svg = curve_svg(r, cv[i].off, cv[i].title, cv[i].ylabel);
  }
  for (size_t i = 0; i < np; i++) {
    if (!plots[i].svg) continue; /* nothing to plot (e.g. no finite value) */
    char rel[128];
    snprintf(rel, sizeof rel, "plots/%.63s", plots[i].name);
    HS_TRY(write_text(ctx, dir, rel, plots[i].svg));
  }
  HS_TRY(hs_cmp_report_panels(ctx, r, dir, &panel_html, &panel_md));
  csv = summary_csv(r);
  findings = hs_cmp_findings(r);
  cfgjson = hs_cmp_config_json(c);
  if (!csv || !findings || !cfgjson) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory writing the report"); goto cleanup; }
  HS_TRY(write_text(ctx, dir, "summary.csv", csv));
  HS_TRY(write_text(ctx, dir, "config.json", cfgjson));

  /* summary.md */
  hs_sbuf_printf(&md, "# hesspec compare\n\n");
  hs_sbuf_printf(&md, "Data: %s. Networks: hidden widths", r->data_desc);
  for (int i = 0; i < c->n_hidden; i++) hs_sbuf_printf(&md, "%s%d", i ? "x" : " ", c->hidden[i]);
  hs_sbuf_printf(&md, ", kinds");
  for (size_t k = 0; k < c->n_kinds; k++) hs_sbuf_printf(&md, "%s%s (P = %zu)", k ? ", " : " ", c->kinds[k].name, r->params[k]);
  hs_sbuf_printf(&md, ". Training: %s, lr %g (%s), batch %zu, %zu epochs. Hessian of the loss on %zu training samples; SLQ %zu steps x %zu probes. "
           "Backend %s (%s), %s, %.0f s.\n\n",
      hs_train_optimizer_label(c->train.optimizer), c->train.lr, hs_train_schedule_label(c->train.schedule), c->train.batch, c->train.epochs,
      c->analysis_samples, c->slq_steps, c->slq_probes, r->backend ? r->backend : "", r->device ? r->device : "",
      hs_dtype_name(c->dtype), r->seconds);
  hs_sbuf_printf(&md, "## Findings\n\n");
  for (const char *p = findings; *p;) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    hs_sbuf_printf(&md, "- %.*s\n", (int)l, p);
    p += l + (e ? 1 : 0);
  }
  hs_sbuf_printf(&md, "\n## Summary\n\n");
  md_table(&md, r);
  int any_opt = 0;
  for (size_t k = 0; k < c->n_kinds; k++) any_opt |= isfinite(r->optimum[k]);
  if (any_opt) {
    hs_sbuf_printf(&md, "\n## Gap to the global optimum (linear kinds, mse)\n\n| kind | seed | epoch | training loss | optimum | gap |\n|---|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < r->n_points; i++) {
      const hs_cmp_point *p = &r->points[i];
      if (!isfinite(r->optimum[p->kind])) continue;
      hs_sbuf_printf(&md, "| %s | %llu | %zu | %.8g | %.8g | %.3g |\n", c->kinds[p->kind].name,
                     (unsigned long long)c->seeds[p->seed_index], p->epoch, p->train_loss_all, r->optimum[p->kind], p->optimum_gap);
    }
  }
  hs_sbuf_printf(&md, "\n## Outliers and dead units (after epoch %zu)\n\n| kind | seed | top eigenvalues | outliers | C - 1 | C | relative gap | dead ReLU units |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
                 c->train.epochs);
  for (size_t i = 0; i < r->n_points; i++) {
    const hs_cmp_point *p = &r->points[i];
    if (p->epoch != c->train.epochs) continue;
    char out_s[32], gap_s[32];
    outlier_text(p, out_s, gap_s);
    hs_sbuf_printf(&md, "| %s | %llu | %zu | %s | %d | %d | %s | ", c->kinds[p->kind].name,
                   (unsigned long long)c->seeds[p->seed_index], p->top_found, out_s, r->classes - 1, r->classes, gap_s);
    if (isfinite(p->dead_frac)) hs_sbuf_printf(&md, "%zu of %zu (%.1f%%) |\n", p->dead_units, p->relu_units, 100 * p->dead_frac);
    else hs_sbuf_printf(&md, "- |\n");
  }
  if (panel_md.s) hs_sbuf_printf(&md, "%s", panel_md.s);
  hs_sbuf_printf(&md, "\nPlots: plots/*.svg; per-run files (training log, density and eigenvalue files): runs/.\n");
  if (md.bad || panel_md.bad || panel_html.bad) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory writing the report"); goto cleanup; }
  HS_TRY(write_text(ctx, dir, "summary.md", md.s));

  /* index.html: self-contained */
  hs_sbuf_printf(&html, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>hesspec compare</title>\n"
             "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
             "th{background:#f3f3f3}td:first-child{text-align:left}figure{display:inline-block;margin:0.5em;vertical-align:top}"
             "figcaption{font-size:13px;color:#555;max-width:740px}li{margin:0.4em 0}"
             "figure.half svg{width:640px;height:auto}figure.half figcaption{max-width:640px}</style>\n</head><body>\n");
  hs_sbuf_printf(&html, "<h1>hesspec compare: Hessian spectra of linear, ReLU, batch-norm and residual networks</h1>\n<p>");
  hs_sbuf_escaped(&html, md.s + strlen("# hesspec compare\n\n"));
  /* only the first paragraph of the markdown (the setup line) */
  {
    char *cut = strstr(html.s, "\n\n## Findings");
    if (cut) { html.len = (size_t)(cut - html.s); html.s[html.len] = '\0'; }
  }
  hs_sbuf_printf(&html, "</p>\n<h2>Findings</h2>\n<ul>\n");
  for (const char *p = findings; *p;) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(l < sizeof line ? l : sizeof line - 1), p);
    hs_sbuf_printf(&html, "<li>");
    hs_sbuf_escaped(&html, line);
    hs_sbuf_printf(&html, "</li>\n");
    p += l + (e ? 1 : 0);
  }
  hs_sbuf_printf(&html, "</ul>\n<h2>Spectral densities</h2>\n");
  for (size_t i = 0; i < np; i++) {
    if (i == c->n_stages) hs_sbuf_printf(&html, "<h2>Along training</h2>\n");
    if (!plots[i].svg) continue;
    hs_sbuf_printf(&html, "<figure>%s<figcaption>", plots[i].svg);
    hs_sbuf_escaped(&html, plots[i].caption);
    hs_sbuf_printf(&html, " (<code>plots/%s</code>)</figcaption></figure>\n", plots[i].name);
  }
  if (panel_html.s) hs_sbuf_printf(&html, "%s", panel_html.s);
  hs_sbuf_printf(&html, "<h2>Summary</h2>\n<table>\n<tr><th>kind</th><th>seed</th><th>epoch</th><th>loss</th><th>grad norm</th><th>train acc</th>"
             "<th>test acc</th><th>&lambda;<sub>max</sub></th><th>&lambda;<sub>min</sub></th><th>trace</th><th>negative mass</th><th>files</th></tr>\n");
  for (size_t i = 0; i < r->n_points; i++) {
    const hs_cmp_point *p = &r->points[i];
    hs_sbuf_printf(&html, "<tr><td>%s</td><td>%llu</td><td>%zu</td><td>%.4g</td><td>%.3g</td><td>%.3f</td><td>%.3f</td><td>%.4g</td><td>%.4g</td>"
               "<td>%.4g &plusmn; %.2g</td><td>%.3g</td><td style=\"text-align:left\"><a href=\"%s\">density</a> <a href=\"%s\">top</a> <a href=\"%s\">bottom</a></td></tr>\n",
        c->kinds[p->kind].name, (unsigned long long)c->seeds[p->seed_index], p->epoch, p->loss, p->grad_norm, p->train_acc,
        p->test_acc, p->lambda_max, p->lambda_min, p->trace, p->trace_se, p->neg_frac, p->density_file, p->eig_top_file,
        p->eig_bottom_file);
  }
  hs_sbuf_printf(&html, "</table>\n");
  if (any_opt) {
    hs_sbuf_printf(&html, "<h2>Gap to the global optimum (linear kinds, mse)</h2>\n<p>The closed-form minimum of the same network "
                   "on the same training set (<code>hesspec optimum</code>: least squares, or reduced rank when a hidden width is "
                   "below min(input, output)); a deep linear network has no worse local minimum.</p>\n<table>\n<tr><th>kind</th>"
                   "<th>seed</th><th>epoch</th><th>training loss</th><th>optimum</th><th>gap</th></tr>\n");
    for (size_t i = 0; i < r->n_points; i++) {
      const hs_cmp_point *p = &r->points[i];
      if (!isfinite(r->optimum[p->kind])) continue;
      hs_sbuf_printf(&html, "<tr><td>%s</td><td>%llu</td><td>%zu</td><td>%.8g</td><td>%.8g</td><td>%.3g</td></tr>\n",
                     c->kinds[p->kind].name, (unsigned long long)c->seeds[p->seed_index], p->epoch, p->train_loss_all,
                     r->optimum[p->kind], p->optimum_gap);
    }
    hs_sbuf_printf(&html, "</table>\n");
  }
  hs_sbuf_printf(&html, "<h2>Outliers and dead units (after epoch %zu)</h2>\n<p>Outliers: how many of the top 2C Hessian "
                 "eigenvalues stand apart from the bulk (the position of the largest relative gap), against C - 1 and C for C "
                 "classes (Sagun et al. 2017; Papyan 2019). Dead units: ReLU outputs that are 0 on every analysed sample.</p>\n"
                 "<table>\n<tr><th>kind</th><th>seed</th><th>top eigenvalues</th><th>outliers</th><th>C - 1</th><th>C</th>"
                 "<th>relative gap</th><th>dead ReLU units</th></tr>\n", c->train.epochs);
  for (size_t i = 0; i < r->n_points; i++) {
    const hs_cmp_point *p = &r->points[i];
    if (p->epoch != c->train.epochs) continue;
    char out_s[32], gap_s[32];
    outlier_text(p, out_s, gap_s);
    hs_sbuf_printf(&html, "<tr><td>%s</td><td>%llu</td><td>%zu</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>",
                   c->kinds[p->kind].name, (unsigned long long)c->seeds[p->seed_index], p->top_found, out_s,
                   r->classes - 1, r->classes, gap_s);
    if (isfinite(p->dead_frac)) hs_sbuf_printf(&html, "%zu of %zu (%.1f%%)</td></tr>\n", p->dead_units, p->relu_units, 100 * p->dead_frac);
    else hs_sbuf_printf(&html, "-</td></tr>\n");
  }
  hs_sbuf_printf(&html, "</table>\n");
  hs_sbuf_printf(&html, "<p>Files: <a href=\"summary.csv\">summary.csv</a>, <a href=\"summary.md\">summary.md</a>, "
             "<a href=\"config.json\">config.json</a> (the effective preset: rerun with <code>hesspec compare --preset config.json</code>), "
             "training logs <code>runs/&lt;kind&gt;-s&lt;seed&gt;/log.csv</code>.</p>\n");
  hs_sbuf_printf(&html, "<p style=\"font-size:12px;color:#777\">lambda_max and lambda_min: Lanczos with residual tolerance %g relative to ||H||. "
             "Density, trace and negative mass: stochastic Lanczos quadrature (%zu steps, %zu Rademacher probes, seed %llu); "
             "the negative mass is the quadrature weight of nodes below -%g max(|lambda_max|, |lambda_min|). "
             "hesspec %s.</p>\n</body></html>\n",
      c->eig_tol, c->slq_steps, c->slq_probes, (unsigned long long)c->probe_seed, c->neg_tol_rel, HS_VERSION);
  if (html.bad) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory writing the report"); goto cleanup; }
  HS_TRY(write_text(ctx, dir, "index.html", html.s));
cleanup:
  for (size_t i = 0; i < np; i++) free(plots[i].svg);
  free(csv);
  free(findings);
  free(cfgjson);
  free(md.s);
  free(html.s);
  free(panel_md.s);
  free(panel_html.s);
  return st;
}
