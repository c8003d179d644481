/* Curvature along training in the compare report (analysis/report_panels.h): lambda_max against
 * the step with the 2/lr line (SGD: the edge of stability, Cohen et al. 2021), the top-k
 * gradient overlap (Gur-Ari, Roberts & Dyer 2018), a table per run and a finding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis/report_panels.h"
#include "analysis/report_plot.h"
#include "analysis/svg_lines.h"
#include "core/alloc.h"
#include "core/context.h"

/* The run of (kind k, seed index si). */
static const hs_cmp_curvature *run(const hs_cmp_result *r, size_t k, size_t si) {
  return &r->curvature[k * r->cfg.n_seeds + si];
}

/* 2/lr for the epoch a row's step belongs to (row epoch e >= 1 trains with lr of epoch e - 1;
 * the row before the first step, epoch 0, with the first lr). */
static double edge(const hs_train_config *t, size_t epoch) { return 2.0 / hs_train_config_lr_at(t, epoch ? epoch - 1 : 0); }

typedef struct {
  double first, peak, last, peak_ratio; /* lambda_max at step 0, its peak after it, at the end; peak / (2/lr) at its step */
  uint64_t peak_step;
  double ov_first, ov_mean, ov_last;
} run_stats;

static run_stats stats(const hs_cmp_config *c, const hs_cmp_curvature *q) {
  run_stats s = {NAN, -INFINITY, NAN, NAN, 0, NAN, NAN, NAN};
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < q->n; i++) {
    const hs_curvature_row *w = &q->rows[i];
    if (isfinite(w->lambda_max)) {
      if (isnan(s.first)) s.first = w->lambda_max;
      s.last = w->lambda_max;
      /* the peak during training: the initial value (step 0) is its own column */
      if (w->step > 0 && w->lambda_max > s.peak) s.peak = w->lambda_max, s.peak_step = w->step, s.peak_ratio = w->lambda_max / edge(&c->train, w->epoch);
    }
    if (isfinite(w->grad_overlap)) {
      if (isnan(s.ov_first)) s.ov_first = w->grad_overlap;
      s.ov_last = w->grad_overlap;
      sum += w->grad_overlap, n++;
    }
  }
  if (!isfinite(s.peak)) s.peak = NAN;
  s.ov_mean = n ? sum / (double)n : NAN;
  return s;
}

void hs_cmp_curvature_findings(const hs_cmp_result *r, hs_sbuf *b) {
  const hs_cmp_config *c = &r->cfg;
  if (!r->curvature) return;
  int sgd = c->train.optimizer == HS_TRAIN_SGD;
  hs_sbuf_printf(b, "Curvature along training (seed %llu, Hessian on %zu samples every %zu steps): lambda_max at the start, "
                    "its peak after it and at the end",
                 (unsigned long long)c->seeds[0], run(r, 0, 0)->samples, c->curvature_every);
  if (sgd) hs_sbuf_printf(b, " (the peak as a fraction of 2/lr at its step; 2/lr = %.4g at the start)", edge(&c->train, 0));
  hs_sbuf_printf(b, ", and the top-%zu gradient overlap (start, mean, end):", run(r, 0, 0)->overlap_k);
  double worst = 0;
  for (size_t k = 0; k < c->n_kinds; k++) {
    run_stats s = stats(c, run(r, k, 0));
    hs_sbuf_printf(b, "%s %s %.4g -> peak %.4g at step %llu", k ? ";" : "", c->kinds[k].name, s.first, s.peak,
                   (unsigned long long)s.peak_step);
    if (sgd) hs_sbuf_printf(b, " (%.2f of 2/lr)", s.peak_ratio);
    hs_sbuf_printf(b, " -> %.4g, overlap %.3g, %.3g, %.3g", s.last, s.ov_first, s.ov_mean, s.ov_last);
    if (isfinite(s.peak_ratio) && s.peak_ratio > worst) worst = s.peak_ratio;
  }
  if (sgd) {
    hs_sbuf_printf(b, ". %s", worst >= 0.9 ? "Some kind reaches the edge of stability during training (lambda_max near 2/lr)."
                                          : "No kind reaches the edge of stability during training (the peak stays below 0.9 "
                                            "of 2/lr; with momentum beta the threshold is even (2 + 2 beta)/lr).");
    int any = 0;
    for (size_t k = 0; k < c->n_kinds; k++) {
      run_stats s = stats(c, run(r, k, 0));
      if (!(s.first >= edge(&c->train, 0))) continue;
      hs_sbuf_printf(b, "%s %s (%.4g)", any ? "," : " Above 2/lr at initialisation, then below it after the first "
                                                     "measured steps:", c->kinds[k].name, s.first);
      any = 1;
    }
    hs_sbuf_printf(b, "%s\n", any ? "." : "");
  } else {
    hs_sbuf_printf(b, ".\n");
  }
}

/* One line per kind (first seed) of a row field against the step; SGD's 2/lr line on lambda_max. */
static char *plot(const hs_cmp_result *r, int overlap) {
  const hs_cmp_config *c = &r->cfg;
  hs_line_series s[HS_CMP_MAX_KINDS + 1];
  double *x = NULL, *y = NULL;
  size_t total = 0, n = 0, off = 0;
  for (size_t k = 0; k < c->n_kinds; k++) total += run(r, k, 0)->n;
  x = hs_malloc((2 * total + 1) * sizeof *x);
  y = hs_malloc((2 * total + 1) * sizeof *y);
  char *svg = NULL;
  if (!x || !y) goto done;
  double top = -INFINITY;
  for (size_t k = 0; k < c->n_kinds; k++) {
    const hs_cmp_curvature *q = run(r, k, 0);
    for (size_t i = 0; i < q->n; i++) {
      x[off + i] = (double)q->rows[i].step;
      y[off + i] = overlap ? q->rows[i].grad_overlap : q->rows[i].lambda_max;
      if (isfinite(y[off + i])) top = fmax(top, y[off + i]);
    }
    s[n++] = (hs_line_series){c->kinds[k].name, q->n, x + off, y + off, 0};
    off += q->n;
  }
  if (!overlap && c->train.optimizer == HS_TRAIN_SGD) {
    /* 2/lr of every row's epoch; a cosine schedule makes it rise without bound as lr -> lr_min,
     * so it is drawn up to twice the larger of the top lambda_max and its starting value */
    const hs_cmp_curvature *q = run(r, 0, 0);
    double cap = 2 * fmax(top, edge(&c->train, 0));
    for (size_t i = 0; i < q->n; i++) {
      x[off + i] = (double)q->rows[i].step;
      double e = edge(&c->train, q->rows[i].epoch);
      y[off + i] = e <= cap ? e : NAN;
    }
    s[n++] = (hs_line_series){"2 / lr", q->n, x + off, y + off, 1};
  }
  char title[160];
  snprintf(title, sizeof title, "%s along training (seed %llu)",
           overlap ? "Gradient overlap with the top eigenspace" : "Top Hessian eigenvalue", (unsigned long long)c->seeds[0]);
  svg = hs_svg_lines(s, n, title, "optimiser step", overlap ? "||P_k g||^2 / ||g||^2" : "lambda_max", 760, 420);
done:
  free(x);
  free(y);
  return svg;
}

hs_status hs_cmp_curvature_section(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md) {
  const hs_cmp_config *c = &r->cfg;
  hs_status st = HS_OK;
  char *lm = plot(r, 0), *ov = plot(r, 1);
  if (!lm || !ov) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory drawing plots/curvature-*.svg (or no finite value)"); goto cleanup; }
  HS_TRY(hs_cmp_write_plot(ctx, dir, "curvature-lambda_max.svg", lm));
  HS_TRY(hs_cmp_write_plot(ctx, dir, "curvature-overlap.svg", ov));
  const hs_cmp_curvature *q0 = run(r, 0, 0);
  int sgd = c->train.optimizer == HS_TRAIN_SGD;
  char line[600];
  if (sgd)
    snprintf(line, sizeof line, "Dashed: 2/lr of each step's epoch (%s schedule; 2/lr = %.4g at the start), the edge of "
                                "stability of full-batch gradient descent (Cohen et al. 2021); with heavy-ball momentum "
                                "beta = %g the threshold is (2 + 2 beta)/lr = %.4g at the start. Minibatch SGD is not "
                                "full-batch descent: the line is a reference, not a law.",
             hs_train_schedule_label(c->train.schedule), edge(&c->train, 0), c->train.momentum,
             (2 + 2 * c->train.momentum) / c->train.lr);
  else
    snprintf(line, sizeof line, "No 2/lr line: with Adam the stability threshold concerns the preconditioned Hessian "
                                "(Cohen et al. 2022), which is not measured here; the plain Hessian's lambda_max is shown.");
  hs_sbuf_printf(html, "<h2>Curvature along training</h2>\n<p>The tracker of <code>hesspec train --curvature-every %zu</code> "
                       "on every run: the Hessian of the loss on the first %zu training samples (one batch) after every "
                       "%zu-th optimiser step, every epoch's last step and before the first; lambda_max by Lanczos "
                       "warm-started from the previous eigenvector; the overlap ||P<sub>k</sub> g||<sup>2</sup> / "
                       "||g||<sup>2</sup> of the gradient with the top-%zu eigenspace (Gur-Ari, Roberts &amp; Dyer 2018). "
                       "Plotted: the first seed of each kind. %s</p>\n",
                 c->curvature_every, q0->samples, c->curvature_every, q0->overlap_k, line);
  hs_sbuf_printf(html, "<figure class=\"half\">%s<figcaption>lambda_max against the step "
                       "(<code>plots/curvature-lambda_max.svg</code>).</figcaption></figure>\n"
                       "<figure class=\"half\">%s<figcaption>Gradient overlap with the top-%zu eigenspace "
                       "(<code>plots/curvature-overlap.svg</code>).</figcaption></figure>\n",
                 hs_cmp_svg_element(lm), hs_cmp_svg_element(ov), q0->overlap_k);
  hs_sbuf_printf(html, "<table>\n<tr><th>kind</th><th>seed</th><th>measurements</th><th>&lambda;<sub>max</sub> start</th>"
                       "<th>peak</th><th>at step</th>%s<th>end</th><th>overlap start</th><th>mean</th><th>end</th>"
                       "<th>seconds</th><th>file</th></tr>\n", sgd ? "<th>peak / (2/lr)</th>" : "");
  hs_sbuf_printf(md, "\n## Curvature along training (every %zu steps, %zu samples, top-%zu overlap)\n\n"
                     "| kind | seed | measurements | lambda_max start | peak | at step | peak / (2/lr) | end | overlap start "
                     "| mean | end | seconds |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                 c->curvature_every, q0->samples, q0->overlap_k);
  for (size_t k = 0; k < c->n_kinds; k++)
    for (size_t si = 0; si < c->n_seeds; si++) {
      const hs_cmp_curvature *q = run(r, k, si);
      run_stats s = stats(c, q);
      char ratio[32] = "-";
      if (sgd) snprintf(ratio, sizeof ratio, "%.3f", s.peak_ratio);
      hs_sbuf_printf(html, "<tr><td>%s</td><td>%llu</td><td>%zu</td><td>%.4g</td><td>%.4g</td><td>%llu</td>",
                     c->kinds[k].name, (unsigned long long)c->seeds[si], q->n, s.first, s.peak,
                     (unsigned long long)s.peak_step);
      if (sgd) hs_sbuf_printf(html, "<td>%s</td>", ratio);
      hs_sbuf_printf(html, "<td>%.4g</td><td>%.3g</td><td>%.3g</td><td>%.3g</td><td>%.2f</td>"
                           "<td style=\"text-align:left\"><a href=\"runs/%s-s%llu/curvature.csv\">curvature.csv</a></td></tr>\n",
                     s.last, s.ov_first, s.ov_mean, s.ov_last, q->seconds, c->kinds[k].name,
                     (unsigned long long)c->seeds[si]);
      hs_sbuf_printf(md, "| %s | %llu | %zu | %.4g | %.4g | %llu | %s | %.4g | %.3g | %.3g | %.3g | %.2f |\n",
                     c->kinds[k].name, (unsigned long long)c->seeds[si], q->n, s.first, s.peak,
                     (unsigned long long)s.peak_step, ratio, s.last, s.ov_first, s.ov_mean, s.ov_last, q->seconds);
    }
  hs_sbuf_printf(html, "</table>\n");
cleanup:
  free(lm);
  free(ov);
  return st;
}
