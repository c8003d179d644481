/* Shared pieces of the SVG/HTML writers (io/svg.h). */
#include "core/alloc.h"
#include "io/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *const hs_svg_colors[HS_SVG_NCOLORS] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                   "#bcbd22", "#17becf"};

void hs_sbuf_escaped(hs_sbuf *b, const char *t) {
  for (; t && *t; t++) {
    switch (*t) {
    case '&': hs_sbuf_printf(b, "&amp;"); break;
    case '<': hs_sbuf_printf(b, "&lt;"); break;
    case '>': hs_sbuf_printf(b, "&gt;"); break;
    case '"': hs_sbuf_printf(b, "&quot;"); break;
    default: hs_sbuf_printf(b, "%c", *t);
    }
  }
}

void hs_svg_legend_entry(hs_sbuf *b, double x0, double x1, double y, const char *color,
                         double tx, const char *label) {
  hs_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                 x0, y - 4, x1, y - 4, color);
  hs_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", tx, y);
  hs_sbuf_escaped(b, label ? label : "");
  hs_sbuf_printf(b, "</text>\n");
}

double hs_svg_nice_step(double span, int want) {
  double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}
