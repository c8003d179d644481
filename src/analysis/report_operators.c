/* The operators panel in the compare report (analysis/report_panels.h): per kind (first seed,
 * after training) the SLQ densities of H, G and H - G overlaid (Pennington & Bahri 2017: H =
 * G + (H - G)), their summary table, and lambda_max of every layer's diagonal block as a kind x
 * layer table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report_panels.h"
#include "analysis/report_plot.h"
#include "core/context.h"
#include "io/svg_plot.h"

/* The Hessian point of kind k after training (first seed): the analysis' density is H's. */
static const hs_cmp_point *hessian(const hs_cmp_result *r, size_t k) {
  return hs_cmp_find(r, k, 0, r->cfg.train.epochs);
}

/* The largest layer block of kind k; -1 when none converged. */
static int top_layer(const hs_cmp_operators *o) {
  int best = -1;
  for (size_t i = 0; i < o->n_layers; i++)
    if (isfinite(o->layer_lambda_max[i]) && (best < 0 || o->layer_lambda_max[i] > o->layer_lambda_max[best])) best = (int)i;
  return best;
}

void hs_cmp_operators_findings(const hs_cmp_result *r, hs_sbuf *b) {
  const hs_cmp_config *c = &r->cfg;
  if (!c->operators) return;
  hs_sbuf_printf(b, "Gauss-Newton and residual after %zu epochs (seed %llu; extreme SLQ nodes, trace):", c->train.epochs,
                 (unsigned long long)c->seeds[0]);
  for (size_t k = 0; k < c->n_kinds; k++) {
    const hs_cmp_operators *o = r->operators[k];
    const hs_cmp_point *h = hessian(r, k);
    if (!o || !h) continue;
    hs_sbuf_printf(b, "%s %s H [%.3g, %.4g] trace %.4g, G [%.3g, %.4g] trace %.4g, H - G [%.3g, %.3g] trace %.3g (%.1f%% of "
                      "H's)", k ? ";" : "", c->kinds[k].name, h->slq_lambda_min, h->slq_lambda_max, h->trace,
                   o->ggn.lambda_min, o->ggn.lambda_max, o->ggn.trace, o->residual.lambda_min, o->residual.lambda_max,
                   o->residual.trace, h->trace != 0 ? 100 * o->residual.trace / h->trace : NAN);
  }
  hs_sbuf_printf(b, ". Per layer, the largest diagonal-block lambda_max (of the whole H's):");
  for (size_t k = 0; k < c->n_kinds; k++) {
    const hs_cmp_operators *o = r->operators[k];
    const hs_cmp_point *h = hessian(r, k);
    if (!o || !h) continue;
    int t = top_layer(o);
    if (t >= 0)
      hs_sbuf_printf(b, "%s %s %s %.4g (%.4g)", k ? ";" : "", c->kinds[k].name, o->layer[t], o->layer_lambda_max[t],
                     h->lambda_max);
  }
  hs_sbuf_printf(b, ".\n");
}

static char *density_svg(const hs_cmp_result *r, size_t k) {
  const hs_cmp_operators *o = r->operators[k];
  const hs_cmp_point *h = hessian(r, k);
  hs_plot_series s[3] = {{"H", h->grid_n, h->grid, h->density},
                         {"G (Gauss-Newton)", o->ggn.grid_n, o->ggn.grid, o->ggn.density},
                         {"H - G (residual)", o->residual.grid_n, o->residual.grid, o->residual.density}};
  char title[160];
  snprintf(title, sizeof title, "%s: H, G and H - G after epoch %zu (seed %llu)", r->cfg.kinds[k].name,
           r->cfg.train.epochs, (unsigned long long)r->cfg.seeds[0]);
  hs_plot_options po = {.log_y = 1, .title = title, .xlabel = "eigenvalue", .ylabel = "density (log scale)",
                        .width = 760, .height = 440};
  return hs_svg_density(s, 3, &po);
}

/* The union of the kinds' layer names, each kind's order kept (a BN kind's norm layers fall
 * between the linear layers they follow). */
static size_t layer_union(const hs_cmp_result *r, const char *names[], size_t cap) {
  size_t n = 0;
  for (size_t k = 0; k < r->cfg.n_kinds; k++) {
    const hs_cmp_operators *o = r->operators[k];
    size_t at = 0; /* insert after the previous layer of this kind */
    for (size_t i = 0; o && i < o->n_layers; i++) {
      size_t j = 0;
      while (j < n && strcmp(names[j], o->layer[i]) != 0) j++;
      if (j == n && n < cap) {
        memmove(names + at + 1, names + at, (n - at) * sizeof *names);
        names[at] = o->layer[i];
        j = at;
        n++;
      }
      at = j + 1;
    }
  }
  return n;
}

static void layer_tables(const hs_cmp_result *r, hs_sbuf *html, hs_sbuf *md) {
  const hs_cmp_config *c = &r->cfg;
  const char *names[256];
  size_t n = layer_union(r, names, 256);
  hs_sbuf_printf(html, "<table>\n<tr><th>kind</th><th>&lambda;<sub>max</sub>(H)</th>");
  hs_sbuf_printf(md, "\n### lambda_max of each layer's diagonal block of H\n\n| kind | H |");
  for (size_t j = 0; j < n; j++) {
    hs_sbuf_printf(html, "<th>%s</th>", names[j]);
    hs_sbuf_printf(md, " %s |", names[j]);
  }
  hs_sbuf_printf(html, "<th>file</th></tr>\n");
  hs_sbuf_printf(md, "\n|---|---:|");
  for (size_t j = 0; j < n; j++) hs_sbuf_printf(md, "---:|");
  hs_sbuf_printf(md, "\n");
  for (size_t k = 0; k < c->n_kinds; k++) {
    const hs_cmp_operators *o = r->operators[k];
    const hs_cmp_point *h = hessian(r, k);
    if (!o || !h) continue;
    hs_sbuf_printf(html, "<tr><td>%s</td><td>%.4g</td>", c->kinds[k].name, h->lambda_max);
    hs_sbuf_printf(md, "| %s | %.4g |", c->kinds[k].name, h->lambda_max);
    for (size_t j = 0; j < n; j++) {
      size_t i = 0;
      while (i < o->n_layers && strcmp(o->layer[i], names[j]) != 0) i++;
      if (i < o->n_layers) {
        hs_sbuf_printf(html, "<td title=\"%zu parameters\">%.4g</td>", o->layer_params[i], o->layer_lambda_max[i]);
        hs_sbuf_printf(md, " %.4g |", o->layer_lambda_max[i]);
      } else {
        hs_sbuf_printf(html, "<td>-</td>");
        hs_sbuf_printf(md, " - |");
      }
    }
    hs_sbuf_printf(html, "<td style=\"text-align:left\"><a href=\"%s\">eig</a></td></tr>\n", o->layers_file);
    hs_sbuf_printf(md, "\n");
  }
  hs_sbuf_printf(html, "</table>\n");
}

hs_status hs_cmp_operators_section(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md) {
  const hs_cmp_config *c = &r->cfg;
  hs_status st = HS_OK;
  hs_sbuf_printf(html, "<h2>Gauss-Newton, residual and layers</h2>\n<p>After epoch %zu, first seed (%llu): the SLQ densities "
                       "(%zu steps x %zu probes, seed %llu, as the Hessian's) of the Hessian H, its Gauss-Newton part "
                       "G = J<sup>T</sup> H<sub>loss</sub> J (positive semi-definite) and the residual H - G "
                       "(<code>hesspec spectrum --operator hessian|ggn|residual</code>; Pennington &amp; Bahri 2017, Papyan "
                       "2019), and the top eigenvalue of every layer's diagonal block of H (<code>hesspec eig --top 1 "
                       "--block all</code>; Lanczos, tolerance %g).</p>\n",
                 c->train.epochs, (unsigned long long)c->seeds[0], c->slq_steps, c->slq_probes,
                 (unsigned long long)c->probe_seed, c->eig_tol);
  hs_sbuf_printf(md, "\n## Gauss-Newton, residual and layers (after epoch %zu, seed %llu)\n\n"
                     "| kind | operator | lambda_min | lambda_max | trace | negative mass | file |\n"
                     "|---|---|---:|---:|---:|---:|---|\n",
                 c->train.epochs, (unsigned long long)c->seeds[0]);
  hs_sbuf tab = {0};
  hs_sbuf_printf(&tab, "<table>\n<tr><th>kind</th><th>operator</th><th>&lambda;<sub>min</sub></th><th>&lambda;<sub>max</sub>"
                       "</th><th>trace</th><th>negative mass</th><th>file</th></tr>\n");
  for (size_t k = 0; k < c->n_kinds; k++) {
    const hs_cmp_operators *o = r->operators[k];
    const hs_cmp_point *h = hessian(r, k);
    if (!o || !h) continue;
    char name[80];
    snprintf(name, sizeof name, "operators-%s.svg", c->kinds[k].name);
    char *svg = density_svg(r, k);
    if (!svg) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory drawing plots/%s", name); goto cleanup; }
    st = hs_cmp_write_plot(ctx, dir, name, svg);
    if (st == HS_OK)
      hs_sbuf_printf(html, "<figure class=\"half\">%s<figcaption>%s: H, G and H - G (log density axis; "
                           "<code>plots/%s</code>).</figcaption></figure>\n", hs_cmp_svg_element(svg), c->kinds[k].name, name);
    free(svg);
    if (st != HS_OK) goto cleanup;
    struct { const char *op; double lo, hi, tr, neg; const char *file; } rows[3] = {
        {"H", h->slq_lambda_min, h->slq_lambda_max, h->trace, h->neg_frac, h->density_file},
        {"G", o->ggn.lambda_min, o->ggn.lambda_max, o->ggn.trace, o->ggn.neg_frac, o->ggn.file},
        {"H - G", o->residual.lambda_min, o->residual.lambda_max, o->residual.trace, o->residual.neg_frac, o->residual.file}};
    for (int i = 0; i < 3; i++) {
      hs_sbuf_printf(&tab, "<tr><td>%s</td><td>%s</td><td>%.4g</td><td>%.4g</td><td>%.4g</td><td>%.3g</td>"
                           "<td style=\"text-align:left\"><a href=\"%s\">density</a></td></tr>\n",
                     c->kinds[k].name, rows[i].op, rows[i].lo, rows[i].hi, rows[i].tr, rows[i].neg, rows[i].file);
      hs_sbuf_printf(md, "| %s | %s | %.4g | %.4g | %.4g | %.3g | %s |\n", c->kinds[k].name, rows[i].op, rows[i].lo,
                     rows[i].hi, rows[i].tr, rows[i].neg, rows[i].file);
    }
  }
  hs_sbuf_printf(&tab, "</table>\n<p>lambda_min, lambda_max: the extreme SLQ nodes; negative mass below -%g "
                       "max(|lambda_max|, |lambda_min|) of H. Per layer: &lambda;<sub>max</sub> of each layer's diagonal "
                       "block of H (hover a cell for the block's parameter count).</p>\n", c->neg_tol_rel);
  if (tab.bad) { st = hs_fail(ctx, HS_E_NOMEM, "out of memory writing the report"); goto cleanup; }
  hs_sbuf_printf(html, "%s", tab.s);
  layer_tables(r, html, md);
cleanup:
  free(tab.s);
  return st;
}
