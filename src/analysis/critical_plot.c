#include "analysis/critical_plot.h"

#include <math.h>
#include <stdio.h>

#include "io/svg.h"

char *hs_svg_critical(size_t n, const double *loss, const double *index, const int *converged, int fit,
                      double alpha0, double eps_c, double rms) {
  const int W = 720, H = 460;
  double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(loss[i]) || !isfinite(index[i])) continue;
    x0 = fmin(x0, loss[i]);
    x1 = fmax(x1, loss[i]);
    y1 = fmax(y1, index[i]);
  }
  if (!isfinite(x0)) return NULL;
  if (fit && eps_c > 0) x0 = fmin(x0, eps_c), x1 = fmax(x1, eps_c);
  /* losses equal to rounding (starts that met at one point): a range the ticks can step */
  if (x1 - x0 <= 1e-6 * fmax(fabs(x0), fabs(x1))) {
    double c = 0.5 * (x0 + x1), h = 0.05 * fabs(c) + 0.05;
    x0 = c - h;
    x1 = c + h;
  }
  double xp = 0.05 * (x1 - x0);
  x0 -= xp;
  x1 += xp;
  y1 = y1 > 0 ? 1.1 * y1 : 0.1;
  const double ml = 80, mr = 20, mt = 40, mb = 70;
  double pw = W - ml - mr, ph = H - mt - mb;
#define PX(x) (ml + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (mt + ph - ((y) - y0) / (y1 - y0) * ph)
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                     "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                 W, H, W, H);
  hs_sbuf_printf(&b, "<text x=\"%g\" y=\"22\" font-size=\"14\">critical points: index against loss (%zu starts)</text>\n",
                 ml, n);
  hs_sbuf_printf(&b, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#444\"/>\n", ml, mt, pw, ph);
  double sx = hs_svg_nice_step(x1 - x0, 6), sy = hs_svg_nice_step(y1 - y0, 5);
  /* ticks by counter, not by accumulating x (which absorbs a step far below x's ulp) */
  for (double k = ceil(x0 / sx), x = k * sx; x <= x1 + 1e-12 * sx && k < ceil(x0 / sx) + 50; k++, x = k * sx)
    hs_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#444\"/><text x=\"%.1f\" y=\"%g\" "
                       "text-anchor=\"middle\">%.4g</text>\n", PX(x), mt + ph, PX(x), mt + ph + 5, PX(x), mt + ph + 18, x);
  for (double k = ceil(y0 / sy), y = k * sy; y <= y1 + 1e-12 * sy && k < ceil(y0 / sy) + 50; k++, y = k * sy)
    hs_sbuf_printf(&b, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#444\"/><text x=\"%g\" y=\"%.1f\" "
                       "text-anchor=\"end\">%.4g</text>\n", ml - 5, PY(y), ml, PY(y), ml - 8, PY(y) + 4, y);
  hs_sbuf_printf(&b, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">loss (epsilon)</text>\n", ml + pw / 2, mt + ph + 36);
  hs_sbuf_printf(&b, "<text x=\"20\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 20 %g)\">index "
                     "(fraction of negative eigenvalues)</text>\n", mt + ph / 2, mt + ph / 2);
  if (fit) {
    hs_sbuf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", hs_svg_colors[1]);
    for (int k = 0; k <= 400; k++) {
      double x = x0 + (x1 - x0) * k / 400.0, y = alpha0 * pow(fabs(1 - x / eps_c), 1.5);
      if (y > y1) y = y1;
      hs_sbuf_printf(&b, "%.1f,%.1f ", PX(x), PY(y));
    }
    hs_sbuf_printf(&b, "\"/>\n<text x=\"%g\" y=\"%g\" fill=\"%s\">fit: alpha = %.4g |1 - eps / %.6g|^(3/2)  "
                       "(rms %.3g)</text>\n", ml, mt + ph + 56, hs_svg_colors[1], alpha0, eps_c, rms);
  } else {
    hs_sbuf_printf(&b, "<text x=\"%g\" y=\"%g\">no fit (needs two starts with different losses)</text>\n", ml,
                   mt + ph + 56);
  }
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(loss[i]) || !isfinite(index[i])) continue;
    hs_sbuf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" stroke=\"%s\" fill=\"%s\"><title>start %zu: loss "
                       "%.6g, index %.4g%s</title></circle>\n", PX(loss[i]), PY(index[i]), hs_svg_colors[0],
                   converged[i] ? hs_svg_colors[0] : "white", i, loss[i], index[i], converged[i] ? "" : " (not converged)");
  }
#undef PX
#undef PY
  hs_sbuf_printf(&b, "</svg>\n");
  return hs_sbuf_finish(&b);
}
