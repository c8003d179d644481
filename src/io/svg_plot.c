#include "io/svg_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "io/atomic.h"
#include "io/svg.h"

char *hs_svg_density(const hs_plot_series *s, size_t count, const hs_plot_options *o) {
  hs_plot_options def = {0};
  if (!o) o = &def;
  int W = o->width > 0 ? o->width : 800, H = o->height > 0 ? o->height : 500;
  const double ml = 80, mr = 20, mt = o->title ? 40 : 20, mb = 55;
  double x0 = INFINITY, x1 = -INFINITY, ymax = 0;
  for (size_t c = 0; c < count; c++)
    for (size_t i = 0; i < s[c].n; i++) {
      if (!isfinite(s[c].x[i]) || !isfinite(s[c].y[i])) continue;
      x0 = fmin(x0, s[c].x[i]);
      x1 = fmax(x1, s[c].x[i]);
      ymax = fmax(ymax, s[c].y[i]);
    }
  if (!(x1 > x0)) return NULL;
  if (!(ymax > 0)) ymax = 1;
  double y0, y1;
  if (o->log_y) {
    y1 = ceil(log10(ymax) + 0.05);
    y0 = fmax(y1 - 9, floor(log10(ymax)) - 8); /* eight decades below the peak */
  } else {
    y0 = 0;
    y1 = ymax * 1.05;
  }
  double pw = W - ml - mr, ph = H - mt - mb;
#define PX(x) (ml + ((x) - x0) / (x1 - x0) * pw)
#define PY(v) (mt + ph - ((v) - y0) / (y1 - y0) * ph)
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  hs_sbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  hs_sbuf_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  if (o->title) {
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", ml + pw / 2);
    hs_sbuf_escaped(&b, o->title);
    hs_sbuf_printf(&b, "</text>\n");
  }
  /* x ticks and grid */
  double xs = hs_svg_nice_step(x1 - x0, 8);
  for (double t = ceil(x0 / xs) * xs; t <= x1 + 1e-9 * xs; t += xs) {
    double px = PX(t), v = fabs(t) < 1e-12 * xs ? 0 : t;
    hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", px, mt, px, mt + ph);
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", px, mt + ph + 16, v);
  }
  /* y ticks */
  if (o->log_y) {
    for (double e = y0; e <= y1 + 1e-9; e += 1) {
      double py = PY(e);
      hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", ml, py, ml + pw, py);
      hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", ml - 6, py + 4, (int)e);
    }
  } else {
    double ys = hs_svg_nice_step(y1 - y0, 6);
    for (double t = 0; t <= y1 + 1e-9 * ys; t += ys) {
      double py = PY(t);
      hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", ml, py, ml + pw, py);
      hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ml - 6, py + 4, t);
    }
  }
  hs_sbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n", ml, mt, pw, ph);
  hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ml + pw / 2, (double)H - 12);
  hs_sbuf_escaped(&b, o->xlabel ? o->xlabel : "eigenvalue");
  hs_sbuf_printf(&b, "</text>\n<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">", mt + ph / 2);
  hs_sbuf_escaped(&b, o->ylabel ? o->ylabel : (o->log_y ? "density (log scale)" : "density"));
  hs_sbuf_printf(&b, "</text>\n");
  /* curves, clipped to the plot area */
  hs_sbuf_printf(&b, "<clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n", ml, mt, pw, ph);
  for (size_t c = 0; c < count; c++) {
    hs_sbuf_printf(&b, "<polyline clip-path=\"url(#plot)\" fill=\"none\" stroke-width=\"1.5\" stroke=\"%s\" points=\"",
                   hs_svg_colors[c % HS_SVG_NCOLORS]);
    for (size_t i = 0; i < s[c].n; i++) {
      double x = s[c].x[i], y = s[c].y[i];
      if (!isfinite(x) || !isfinite(y)) continue;
      double v = o->log_y ? (y > 0 ? fmax(log10(y), y0 - 0.5) : y0 - 0.5) : y;
      hs_sbuf_printf(&b, "%.2f,%.2f ", PX(x), PY(v));
    }
    hs_sbuf_printf(&b, "\"/>\n");
  }
  /* legend */
  if (count > 1 || (count == 1 && s[0].label)) {
    size_t longest = 0;
    for (size_t c = 0; c < count; c++)
      if (s[c].label && strlen(s[c].label) > longest) longest = strlen(s[c].label);
    double lw = fmin(46 + 7.0 * (double)longest, pw - 20), lx = ml + pw - lw - 10, ly = mt + 10;
    hs_sbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" fill-opacity=\"0.85\" "
            "stroke=\"#999\"/>\n", lx, ly, lw, 18.0 * (double)count + 8);
    for (size_t c = 0; c < count; c++) {
      double yy = ly + 16 + 18.0 * (double)c;
      hs_svg_legend_entry(&b, lx + 8, lx + 30, yy, hs_svg_colors[c % HS_SVG_NCOLORS], lx + 36,
                          s[c].label);
    }
  }
  hs_sbuf_printf(&b, "</svg>\n");
#undef PX
#undef PY
  return hs_sbuf_finish(&b);
}

hs_status hs_svg_density_write(hs_context *ctx, const char *path, const hs_plot_series *s,
                               size_t count, const hs_plot_options *o) {
  char *svg = hs_svg_density(s, count, o);
  if (!svg) return hs_fail(ctx, HS_E_INVALID, "%s: nothing to plot (empty or degenerate densities)", path);
  hs_status st = hs_write_file_atomic(ctx, path, svg, strlen(svg));
  free(svg);
  return st;
}
