/* The compare report's optional panels (analysis/report_panels.h): the heat maps and the
 * index-vs-loss plot come from hesspec landscape's and hesspec critical's own drawing code
 * (landscape_io.h, critical_plot.h); curvature and operators: report_curvature.c,
 * report_operators.c. */
#include "analysis/report_panels.h"
#include "analysis/report_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critical_plot.h"
#include "analysis/landscape_io.h"
#include "core/alloc.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/svg.h"

/* ---- numbers ---- */

typedef struct {
  double centre, lo, hi, mean; /* the loss at the trained weights; min, max, mean over the grid */
} grid_stats;

static grid_stats stats(const hs_ls_result *l) {
  grid_stats g = {l->loss[(l->na / 2) * l->nb + l->nb / 2], INFINITY, -INFINITY, 0};
  size_t n = 0;
  for (size_t k = 0; k < l->na * l->nb; k++) {
    double v = l->loss[k];
    if (!isfinite(v)) continue;
    g.lo = fmin(g.lo, v);
    g.hi = fmax(g.hi, v);
    g.mean += v;
    n++;
  }
  g.mean = n ? g.mean / (double)n : NAN;
  return g;
}

static size_t converged(const hs_cmp_critical *p) {
  size_t n = 0;
  for (size_t s = 0; s < p->n_starts; s++) n += (size_t)p->starts[s].converged;
  return n;
}

/* "tanh, hidden 3" */
static void critical_net(const hs_cmp_config *c, char *buf, size_t cap) {
  int len = snprintf(buf, cap, "%s, hidden", c->critical_kind.name);
  for (int i = 0; i < c->n_critical_hidden && len > 0 && (size_t)len < cap; i++)
    len += snprintf(buf + len, cap - (size_t)len, "%s%d", i ? "x" : " ", c->critical_hidden[i]);
}

/* ---- findings ---- */

void hs_cmp_panel_findings(const hs_cmp_result *r, hs_sbuf *b) {
  const hs_cmp_config *c = &r->cfg;
  int first = -1;
  grid_stats g0 = {0};
  for (size_t k = 0; k < c->n_kinds; k++) {
    const hs_ls_result *l = r->landscape[k];
    if (!l) continue;
    grid_stats g = stats(l);
    if (first < 0)
      hs_sbuf_printf(b, "Loss landscape around the trained weights (seed %llu; 2D, filter-normalised random directions, "
                        "alpha and beta in [-%g, %g], %zu x %zu points):", (unsigned long long)c->seeds[0],
                     c->landscape_range, c->landscape_range, l->na, l->nb);
    hs_sbuf_printf(b, "%s %s %.4g at the weights, mean %.4g and max %.4g over the grid", first < 0 ? "" : ";",
                   c->kinds[k].name, g.centre, g.mean, g.hi);
    if (first >= 0)
      hs_sbuf_printf(b, " (mean rise above the centre %.4g vs %.4g for %s: %s)", g.mean - g.centre, g0.mean - g0.centre,
                     c->kinds[first].name,
                     g.mean - g.centre < 0.8 * (g0.mean - g0.centre)    ? "a flatter basin"
                     : g.mean - g.centre > 1.25 * (g0.mean - g0.centre) ? "a sharper basin"
                                                                        : "about as flat");
    else
      g0 = g, first = (int)k;
  }
  if (first >= 0) hs_sbuf_printf(b, ".\n");
  hs_cmp_curvature_findings(r, b);
  hs_cmp_operators_findings(r, b);
  const hs_cmp_critical *p = r->critical;
  if (!p) return;
  char net[160];
  critical_net(c, net, sizeof net);
  double lo = INFINITY, hi = -INFINITY, ilo = INFINITY, ihi = -INFINITY;
  size_t saddles = 0;
  for (size_t s = 0; s < p->n_starts; s++) {
    const hs_cmp_critical_start *q = &p->starts[s];
    lo = fmin(lo, q->loss), hi = fmax(hi, q->loss), ilo = fmin(ilo, q->index), ihi = fmax(ihi, q->index);
    saddles += q->index > 0;
  }
  hs_sbuf_printf(b, "Critical points (%s, P = %zu; %zu Newton-MR start%s from the trained weights, noise %g): %zu reached "
                    "||grad|| <= %g within %zu steps; losses %.4g to %.4g (the trained weights: %.4g), index %.3g to %.3g, "
                    "%zu of %zu with negative curvature (saddles)",
                 net, p->params, p->n_starts, p->n_starts == 1 ? "" : "s", c->critical_noise, converged(p), c->critical_gtol,
                 c->critical_max_iter, lo, hi, p->trained_loss, ilo, ihi, saddles, p->n_starts);
  if (p->fit) hs_sbuf_printf(b, "; fit index = %.3g |1 - loss / %.4g|^(3/2) (rms %.2g).\n", p->alpha0, p->eps_c, p->rms);
  else hs_sbuf_printf(b, "; no fit (it needs two starts with different losses).\n");
}

/* ---- plots and sections ---- */

static hs_status landscape_section(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md) {
  const hs_cmp_config *c = &r->cfg;
  hs_status st = HS_OK;
  /* one colour scale and one set of contour levels for every map: their colours compare */
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = 0; k < c->n_kinds; k++)
    if (r->landscape[k]) {
      grid_stats g = stats(r->landscape[k]);
      lo = fmin(lo, g.lo), hi = fmax(hi, g.hi);
    }
  hs_sbuf_printf(html, "<h2>Loss landscape</h2>\n<p>The analysed loss on a 2D grid around the trained weights of the first "
                       "seed (the red cross; the centre of the grid), along two Gaussian directions filter-normalised as in "
                       "Li et al. 2018 (each row of a weight matrix scaled to that row's norm in the weights; biases and "
                       "batch-norm parameters not moved). One colour scale and the same contour levels for all maps.</p>\n");
  hs_sbuf_printf(md, "\n## Loss landscape (seed %llu, 2D, filter-normalised random directions)\n\n"
                     "| kind | loss at the weights | min | mean | max | file |\n|---|---:|---:|---:|---:|---|\n",
                 (unsigned long long)c->seeds[0]);
  for (size_t i = 0; i < c->n_landscape_kinds; i++) {
    int k = hs_cmp_kind_index(c, c->landscape_kinds[i].name);
    if (k < 0 || !r->landscape[k]) {
      hs_sbuf_printf(html, "<p>%s: not among the compared kinds, not drawn.</p>\n", c->landscape_kinds[i].name);
      continue;
    }
    const hs_ls_result *l = r->landscape[k];
    grid_stats g = stats(l);
    char title[160], name[80];
    snprintf(title, sizeof title, "%s: loss around the trained weights (seed %llu)", c->kinds[k].name,
             (unsigned long long)c->seeds[0]);
    snprintf(name, sizeof name, "landscape-%s.svg", c->kinds[k].name);
    char *svg = hs_ls_svg_range(l, title, lo, hi);
    if (!svg) return hs_fail(ctx, HS_E_NOMEM, "out of memory drawing plots/%s (or no finite loss on its grid)", name);
    st = hs_cmp_write_plot(ctx, dir, name, svg);
    if (st == HS_OK) {
      hs_sbuf_printf(html, "<figure class=\"half\">%s<figcaption>", hs_cmp_svg_element(svg));
      hs_sbuf_printf(html, "%s: %.4g at the weights, min %.4g, mean %.4g, max %.4g over %zu x %zu points in "
                           "[-%g, %g]<sup>2</sup> (<code>plots/%s</code>, grid: <a href=\"%s\">%s</a>).</figcaption></figure>\n",
                     c->kinds[k].name, g.centre, g.lo, g.mean, g.hi, l->na, l->nb, c->landscape_range, c->landscape_range,
                     name, r->landscape_file[k], r->landscape_file[k]);
      hs_sbuf_printf(md, "| %s | %.6g | %.6g | %.6g | %.6g | %s |\n", c->kinds[k].name, g.centre, g.lo, g.mean, g.hi,
                     r->landscape_file[k]);
    }
    free(svg);
    if (st != HS_OK) return st;
  }
  return st;
}

static hs_status critical_section(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md) {
  const hs_cmp_config *c = &r->cfg;
  const hs_cmp_critical *p = r->critical;
  size_t n = p->n_starts;
  double *loss = hs_malloc(n * sizeof *loss), *index = hs_malloc(n * sizeof *index);
  int *conv = hs_malloc(n * sizeof *conv);
  char *svg = NULL, net[160];
  hs_status st = HS_OK;
  if (!loss || !index || !conv) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory drawing plots/critical.svg"); goto cleanup; }
  for (size_t s = 0; s < n; s++) loss[s] = p->starts[s].loss, index[s] = p->starts[s].index, conv[s] = p->starts[s].converged;
  svg = hs_svg_critical(n, loss, index, conv, p->fit, p->alpha0, p->eps_c, p->rms);
  if (!svg) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory drawing plots/critical.svg (or no finite point)"); goto cleanup; }
  HS_TRY(hs_cmp_write_plot(ctx, dir, "critical.svg", svg));
  critical_net(c, net, sizeof net);
  hs_sbuf_printf(html, "<h2>Critical points</h2>\n<p>A small network (%s, P = %zu) trained like the others (seed %llu, %.2g s; "
                       "at its weights the loss on the first %zu training samples is %.4g, ||grad|| %.3g). From %zu copies of "
                       "its weights, each tensor perturbed by %g times its RMS, Newton-MR (MINRES on H d = -g, line search on "
                       "||g||<sup>2</sup>; it converges to critical points of any index) runs to ||grad|| &le; %g or %zu steps "
                       "(<code>hesspec critical</code>, docs/critical.md). Index: the fraction of negative Hessian "
                       "eigenvalues (%s). Filled markers: converged. Fit: index = &alpha;<sub>0</sub> |1 - loss / "
                       "&epsilon;<sub>c</sub>|<sup>3/2</sup> (Pennington &amp; Bahri 2017).</p>\n",
                 net, p->params, (unsigned long long)c->seeds[0], p->train_seconds, p->samples, p->trained_loss,
                 p->trained_grad_norm, n, c->critical_noise, c->critical_gtol, c->critical_max_iter,
                 p->params <= c->critical_exact_limit ? "exact: the dense spectrum" : "SLQ, with its standard error");
  hs_sbuf_printf(html, "<figure>%s<figcaption>Index against loss, one marker per start (<code>plots/critical.svg</code>, "
                       "<a href=\"critical/critical.csv\">critical/critical.csv</a>).</figcaption></figure>\n"
                       "<table>\n<tr><th>start</th><th>loss</th><th>||grad|| start</th><th>||grad||</th><th>steps</th>"
                       "<th>converged</th><th>index</th><th>&lambda;<sub>min</sub></th><th>&lambda;<sub>max</sub></th>"
                       "<th>point</th></tr>\n",
                 hs_cmp_svg_element(svg));
  hs_sbuf_printf(md, "\n## Critical points (%s, P = %zu, Newton-MR, %zu starts, noise %g)\n\n"
                     "| start | loss | grad norm | steps | converged | index | lambda_min | lambda_max |\n"
                     "|---:|---:|---:|---:|---|---:|---:|---:|\n",
                 net, p->params, n, c->critical_noise);
  for (size_t s = 0; s < n; s++) {
    const hs_cmp_critical_start *q = &p->starts[s];
    char idx[64];
    if (q->exact) snprintf(idx, sizeof idx, "%.4g (%zu of %zu)", q->index, q->negative, p->params);
    else snprintf(idx, sizeof idx, "%.4g &plusmn; %.2g", q->index, q->index_se);
    hs_sbuf_printf(html, "<tr><td>%zu</td><td>%.6g</td><td>%.3g</td><td>%.3g</td><td>%zu</td><td>%s</td><td>%s</td>"
                         "<td>%.4g</td><td>%.4g</td><td style=\"text-align:left\"><a href=\"%s\">checkpoint</a></td></tr>\n",
                   s, q->loss, q->grad_norm0, q->grad_norm, q->iterations, q->converged ? "yes" : "no", idx, q->lambda_min,
                   q->lambda_max, q->checkpoint);
    if (!q->exact) snprintf(idx, sizeof idx, "%.4g +- %.2g", q->index, q->index_se);
    hs_sbuf_printf(md, "| %zu | %.6g | %.3g | %zu | %s | %s | %.4g | %.4g |\n", s, q->loss, q->grad_norm, q->iterations,
                   q->converged ? "yes" : "no", idx, q->lambda_min, q->lambda_max);
  }
  hs_sbuf_printf(html, "</table>\n<p>Files in <code>critical/</code>: model.json, trained.safetensors, log.csv (its "
                       "training), start-NNN.safetensors (the points).</p>\n");
cleanup:
  free(loss);
  free(index);
  free(conv);
  free(svg);
  return st;
}

hs_status hs_cmp_report_panels(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md) {
  hs_status st = HS_OK;
  if (r->cfg.landscape) HS_TRY(landscape_section(ctx, r, dir, html, md));
  if (r->critical) HS_TRY(critical_section(ctx, r, dir, html, md));
  if (r->curvature) HS_TRY(hs_cmp_curvature_section(ctx, r, dir, html, md));
  if (r->cfg.operators) HS_TRY(hs_cmp_operators_section(ctx, r, dir, html, md));
cleanup:
  return st;
}
