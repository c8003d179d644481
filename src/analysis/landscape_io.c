/* The landscape file and plot (analysis/landscape_io.h). */
#include "analysis/landscape_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/svg_lines.h"
#include "core/alloc.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/result_json.h"
#include "io/svg.h"

/* A number, or null where it is not finite (a point whose loss overflowed). */
static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *vec(const double *x, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++) hs_json_push(a, num_or_null(x[i]));
  return a;
}

/* [i] in 1D, [i][j] in 2D */
static cJSON *grid_values(const hs_ls_result *r, const double *v) {
  if (r->dims == 1) return vec(v, r->na);
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < r->na; i++) hs_json_push(a, vec(v + i * r->nb, r->nb));
  return a;
}

static void csv_num(FILE *f, double v, const char *sep) {
  if (isfinite(v)) fprintf(f, "%.17g%s", v, sep);
  else fprintf(f, "%s", sep);
}

static hs_status write_csv(hs_context *ctx, const char *path, const hs_ls_result *r) {
  hs_atomic_file f;
  hs_status st = hs_atomic_begin(ctx, path, &f);
  if (st != HS_OK) return st;
  fprintf(f.fp, "alpha,%sloss%s\n", r->dims == 2 ? "beta," : "", r->accuracy ? ",accuracy" : "");
  for (size_t i = 0; i < r->na; i++)
    for (size_t j = 0; j < r->nb; j++) {
      size_t k = i * r->nb + j;
      fprintf(f.fp, "%.17g,", r->alpha[i]);
      if (r->dims == 2) fprintf(f.fp, "%.17g,", r->beta[j]);
      csv_num(f.fp, r->loss[k], r->accuracy ? "," : "\n");
      if (r->accuracy) csv_num(f.fp, r->accuracy[k], "\n");
    }
  return hs_atomic_commit(ctx, &f);
}

static const char *normalisation(const char *kind) {
  if (strcmp(kind, "random") == 0)
    return "Gaussian, filter-normalised (Li et al. 2018): each row of a weight tensor (output unit or conv filter) "
           "rescaled to the norm of that row of the weights; biases and batch-norm parameters zeroed";
  if (strcmp(kind, "eig") == 0) return "unit Hessian eigenvectors (Lanczos), largest eigenvalue first";
  if (strcmp(kind, "interpolate") == 0) return "none: d1 = theta(to) - theta(weights), alpha = 1 at 'to'";
  if (strcmp(kind, "files") == 0) return "none: the vectors of the files as given";
  return "none: the vectors as given";
}

hs_status hs_ls_write(hs_context *ctx, const char *path, const hs_provenance *prov, const hs_ls_directions *d,
                      const hs_ls_result *r) {
  hs_json_oom_clear(); /* hs_json_write fails if building the tree ran out */
  cJSON *root = cJSON_CreateObject();
  char *csv = hs_density_csv_path(path);
  hs_status st = HS_OK;
  if (!root || !csv) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  cJSON_AddStringToObject(root, "format", "hesspec.landscape/1");
  hs_json_add_provenance(root, prov);
  cJSON *dj = cJSON_AddObjectToObject(root, "directions");
  cJSON_AddStringToObject(dj, "kind", d->kind);
  cJSON_AddStringToObject(dj, "normalisation", normalisation(d->kind));
  cJSON_AddNumberToObject(dj, "count", (double)d->count);
  if (strcmp(d->kind, "random") == 0 || strcmp(d->kind, "eig") == 0) cJSON_AddNumberToObject(dj, "seed", (double)d->seed);
  if (strcmp(d->kind, "eig") == 0) hs_json_put(dj, "eigenvalues", vec(d->eigenvalues, d->count));
  if (d->to) cJSON_AddStringToObject(dj, "to", d->to);
  if (strcmp(d->kind, "files") == 0) {
    cJSON *fa = cJSON_AddArrayToObject(dj, "files");
    for (size_t i = 0; i < d->count; i++) hs_json_push(fa, cJSON_CreateString(d->files[i] ? d->files[i] : ""));
  }
  hs_json_put(dj, "norms", vec(d->norms, d->count));
  cJSON_AddNumberToObject(root, "dims", r->dims);
  hs_json_put(root, "alpha", vec(r->alpha, r->na));
  if (r->dims == 2) hs_json_put(root, "beta", vec(r->beta, r->nb));
  hs_json_put(root, "loss", grid_values(r, r->loss));
  if (r->accuracy) hs_json_put(root, "accuracy", grid_values(r, r->accuracy));
  cJSON_AddStringToObject(root, "layout", r->dims == 2 ? "loss[i][j] at alpha[i], beta[j]" : "loss[i] at alpha[i]");
  cJSON_AddNumberToObject(root, "evaluation_seconds", r->seconds);
  /* CSV first: the JSON appearing last marks a complete pair. */
  HS_TRY(write_csv(ctx, csv, r));
  HS_TRY(hs_json_write(ctx, path, root));
cleanup:
  cJSON_Delete(root);
  free(csv);
  return st;
}

/* ---- the plot ---- */

/* Viridis at five stops, linearly interpolated: perceptually ordered, readable in grey. */
static void colour(double t, char out[8]) {
  static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  double x = t * 4;
  int k = x >= 4 ? 3 : (int)x;
  double f = x - k;
  int c[3];
  for (int i = 0; i < 3; i++) c[i] = (int)lround(stops[k][i] + f * (stops[k + 1][i] - stops[k][i]));
  snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* The value scale of the heat map and the contours: log10 when every loss is positive and they
 * span more than a decade (a landscape's walls would otherwise flatten its basin to one colour). */
typedef struct {
  int log;
  double lo, hi;
} scale;

static double scaled(const scale *s, double v) { return s->log ? log10(v) : v; }

/* lo < hi: the colour scale and contour levels span [lo, hi] (values outside take the end
 * colours), so that maps drawn side by side share them; otherwise the grid's own range. */
static char *heat_map(const hs_ls_result *r, const char *title, double lo, double hi) {
  size_t na = r->na, nb = r->nb;
  double vmin = INFINITY, vmax = -INFINITY;
  for (size_t k = 0; k < na * nb; k++)
    if (isfinite(r->loss[k])) vmin = fmin(vmin, r->loss[k]), vmax = fmax(vmax, r->loss[k]);
  if (!isfinite(vmin)) return NULL;
  if (isfinite(lo) && isfinite(hi) && lo < hi) vmin = lo, vmax = hi;
  scale sc = {vmin > 0 && vmax > 10 * vmin, 0, 0};
  sc.lo = scaled(&sc, vmin);
  sc.hi = scaled(&sc, vmax);
  if (!(sc.hi > sc.lo)) sc.hi = sc.lo + 1;
  const int W = 720, H = 600;
  const double ml = 80, mr = 110, mt = title ? 40 : 20, mb = 55, pw = W - ml - mr, ph = H - mt - mb;
  double x0 = r->alpha[0], x1 = r->alpha[na - 1], y0 = r->beta[0], y1 = r->beta[nb - 1];
  double hx = (x1 - x0) / (double)(na - 1) / 2, hy = (y1 - y0) / (double)(nb - 1) / 2;
  double X0 = x0 - hx, X1 = x1 + hx, Y0 = y0 - hy, Y1 = y1 + hy; /* cells centred on the points */
#define PX(x) (ml + ((x) - X0) / (X1 - X0) * pw)
#define PY(y) (mt + ph - ((y) - Y0) / (Y1 - Y0) * ph)
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  hs_sbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                 W, H, W, H);
  if (title) {
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", ml + pw / 2);
    hs_sbuf_escaped(&b, title);
    hs_sbuf_printf(&b, "</text>\n");
  }
  char col[8];
  for (size_t i = 0; i < na; i++)
    for (size_t j = 0; j < nb; j++) {
      double v = r->loss[i * nb + j];
      if (isfinite(v)) colour((scaled(&sc, v) - sc.lo) / (sc.hi - sc.lo), col);
      else snprintf(col, sizeof col, "#ffffff");
      double ax = r->alpha[i], by = r->beta[j];
      hs_sbuf_printf(&b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", PX(ax - hx),
                     PY(by + hy), PX(ax + hx) - PX(ax - hx) + 0.3, PY(by - hy) - PY(by + hy) + 0.3, col);
    }
  /* contours: marching squares on the grid of points, 10 levels evenly spaced on the scale */
  const int levels = 10;
  hs_sbuf_printf(&b, "<g stroke=\"white\" stroke-width=\"1\" stroke-opacity=\"0.8\" fill=\"none\">\n");
  for (int l = 1; l <= levels; l++) {
    double lev = sc.lo + (sc.hi - sc.lo) * l / (levels + 1.0);
    for (size_t i = 0; i + 1 < na; i++)
      for (size_t j = 0; j + 1 < nb; j++) {
        /* corners counter-clockwise: (i,j) (i+1,j) (i+1,j+1) (i,j+1) */
        size_t ci[4] = {i, i + 1, i + 1, i}, cj[4] = {j, j, j + 1, j + 1};
        double v[4], px[4], py[4];
        int ok = 1, n = 0;
        for (int c = 0; c < 4; c++) {
          double raw = r->loss[ci[c] * nb + cj[c]];
          ok &= isfinite(raw) && (!sc.log || raw > 0);
          v[c] = ok ? scaled(&sc, raw) : 0;
        }
        if (!ok) continue;
        for (int e = 0; e < 4; e++) {
          int a = e, c = (e + 1) % 4;
          if ((v[a] < lev) == (v[c] < lev)) continue;
          double f = (lev - v[a]) / (v[c] - v[a]);
          px[n] = PX(r->alpha[ci[a]] + f * (r->alpha[ci[c]] - r->alpha[ci[a]]));
          py[n] = PY(r->beta[cj[a]] + f * (r->beta[cj[c]] - r->beta[cj[a]]));
          n++;
        }
        for (int s = 0; s + 1 < n; s += 2)
          hs_sbuf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px[s], py[s], px[s + 1], py[s + 1]);
      }
  }
  hs_sbuf_printf(&b, "</g>\n");
  /* the origin (the checkpoint itself) */
  if (X0 <= 0 && 0 <= X1 && Y0 <= 0 && 0 <= Y1)
    hs_sbuf_printf(&b, "<g stroke=\"red\" stroke-width=\"2\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n"
                   "<text x=\"%.1f\" y=\"%.1f\" fill=\"red\">origin</text>\n",
                   PX(0) - 7, PY(0) - 7, PX(0) + 7, PY(0) + 7, PX(0) - 7, PY(0) + 7, PX(0) + 7, PY(0) - 7, PX(0) + 9,
                   PY(0) - 9);
  /* axes */
  hs_sbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n", ml, mt, pw, ph);
  double xs = hs_svg_nice_step(X1 - X0, 8), ys = hs_svg_nice_step(Y1 - Y0, 8);
  for (double t = ceil(X0 / xs) * xs; t <= X1 + 1e-9 * xs; t += xs)
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(t), mt + ph + 16,
                   fabs(t) < 1e-12 * xs ? 0.0 : t);
  for (double t = ceil(Y0 / ys) * ys; t <= Y1 + 1e-9 * ys; t += ys)
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ml - 6, PY(t) + 4,
                   fabs(t) < 1e-12 * ys ? 0.0 : t);
  hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">alpha (direction 1)</text>\n", ml + pw / 2, H - 14);
  hs_sbuf_printf(&b, "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\">beta (direction 2)</text>\n",
                 mt + ph / 2);
  /* colour bar */
  double bx = ml + pw + 20, bw = 18;
  for (int s = 0; s < 50; s++) {
    colour((s + 0.5) / 50.0, col);
    hs_sbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"/>\n", bx,
                   mt + ph - (s + 1) * ph / 50, bw, ph / 50 + 0.3, col);
  }
  for (int s = 0; s <= 4; s++) {
    double v = sc.lo + (sc.hi - sc.lo) * s / 4.0;
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">%.3g</text>\n", bx + bw + 4, mt + ph - s * ph / 4 + 4,
                   sc.log ? pow(10, v) : v);
  }
  hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">loss%s</text>\n", bx, mt - 6, sc.log ? " (log)" : "");
  hs_sbuf_printf(&b, "</svg>\n");
#undef PX
#undef PY
  return hs_sbuf_finish(&b);
}

char *hs_ls_svg_range(const hs_ls_result *r, const char *title, double lo, double hi) {
  if (r->dims == 2) return heat_map(r, title, lo, hi);
  return hs_ls_svg(r, title);
}

char *hs_ls_svg(const hs_ls_result *r, const char *title) {
  if (r->dims == 2) return heat_map(r, title, NAN, NAN);
  hs_line_series s = {"loss", r->na, r->alpha, r->loss, 0};
  return hs_svg_lines(&s, 1, title, "alpha", "loss", 720, 450);
}

hs_status hs_ls_svg_write(hs_context *ctx, const char *path, const hs_ls_result *r, const char *title) {
  char *svg = hs_ls_svg(r, title);
  if (!svg) {
    /* hs_ls_svg gives NULL for a grid without a finite loss and when memory runs out */
    int finite = 0;
    for (size_t k = 0; k < r->na * r->nb && !finite; k++) finite = isfinite(r->loss[k]);
    if (finite) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory drawing the plot", path);
    return hs_fail(ctx, HS_E_NUMERIC, "%s: nothing to plot (no finite loss on the grid)", path);
  }
  hs_status st = hs_write_file_atomic(ctx, path, svg, strlen(svg));
  free(svg);
  return st;
}
