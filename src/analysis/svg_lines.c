/* Line charts for the compare report (analysis/svg_lines.h). */
#include "analysis/svg_lines.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/svg.h"

char *hs_svg_lines(const hs_line_series *s, size_t count, const char *title, const char *xlabel,
                   const char *ylabel, int W, int H) {
  if (W <= 0) W = 640;
  if (H <= 0) H = 400;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (size_t c = 0; c < count; c++)
    for (size_t i = 0; i < s[c].n; i++) {
      if (!isfinite(s[c].x[i]) || !isfinite(s[c].y[i])) continue;
      x0 = fmin(x0, s[c].x[i]);
      x1 = fmax(x1, s[c].x[i]);
      y0 = fmin(y0, s[c].y[i]);
      y1 = fmax(y1, s[c].y[i]);
    }
  if (!isfinite(x0) || !isfinite(y0)) return NULL;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) {
    double d = y0 == 0 ? 1 : 0.1 * fabs(y0);
    y0 -= d;
    y1 += d;
  }
  double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  const double ml = 80, mr = 130, mt = title ? 36 : 16, mb = 50; /* legend in the right margin */
  double pw = W - ml - mr, ph = H - mt - mb;
#define PX(x) (ml + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (mt + ph - ((y) - y0) / (y1 - y0) * ph)
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  hs_sbuf_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  if (title) {
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", W / 2.0);
    hs_sbuf_escaped(&b, title);
    hs_sbuf_printf(&b, "</text>\n");
  }
  double xs = hs_svg_nice_step(x1 - x0, 8), ys = hs_svg_nice_step(y1 - y0, 6);
  if (xs < 1 && x1 - x0 >= 1) xs = 1; /* epochs and steps are integers */
  for (double x = ceil(x0 / xs) * xs; x <= x1 + 1e-9 * xs; x += xs) {
    hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", PX(x), mt, PX(x), mt + ph);
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(x), mt + ph + 16, fabs(x) < 1e-12 * xs ? 0.0 : x);
  }
  for (double y = ceil(y0 / ys) * ys; y <= y1 + 1e-9 * ys; y += ys) {
    hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", ml, PY(y), ml + pw, PY(y));
    hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", ml - 6, PY(y) + 4, fabs(y) < 1e-12 * ys ? 0.0 : y);
  }
  hs_sbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", ml, mt, pw, ph);
  if (y0 < 0 && y1 > 0)
    hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n", ml, PY(0.0), ml + pw, PY(0.0));
  hs_sbuf_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ml + pw / 2, H - 12);
  hs_sbuf_escaped(&b, xlabel ? xlabel : "epoch");
  hs_sbuf_printf(&b, "</text>\n<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">", mt + ph / 2);
  hs_sbuf_escaped(&b, ylabel ? ylabel : "");
  hs_sbuf_printf(&b, "</text>\n");
  for (size_t c = 0; c < count; c++) {
    const char *col = s[c].dashed ? "#555" : hs_svg_colors[c % HS_SVG_NCOLORS];
    hs_sbuf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                   s[c].dashed ? " stroke-dasharray=\"7 4\"" : "");
    for (size_t i = 0; i < s[c].n; i++)
      if (isfinite(s[c].x[i]) && isfinite(s[c].y[i])) hs_sbuf_printf(&b, "%.1f,%.1f ", PX(s[c].x[i]), PY(s[c].y[i]));
    hs_sbuf_printf(&b, "\"/>\n");
    for (size_t i = 0; !s[c].dashed && i < s[c].n; i++)
      if (isfinite(s[c].x[i]) && isfinite(s[c].y[i]))
        hs_sbuf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PX(s[c].x[i]), PY(s[c].y[i]), col);
    /* legend, right of the plot: never over the data */
    double ly = mt + 14 + 16 * (double)c;
    hs_svg_legend_entry(&b, ml + pw + 10, ml + pw + 30, ly, col, ml + pw + 35, s[c].label);
  }
  hs_sbuf_printf(&b, "</svg>\n");
#undef PX
#undef PY
  return hs_sbuf_finish(&b);
}
