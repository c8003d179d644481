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

void hs_sbuf_printf(hs_sbuf *b, const char *fmt, ...) {
  if (b->bad) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) { b->bad = 1; return; }
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = (b->cap ? 2 * b->cap : 65536) + (size_t)n;
    char *s = hs_realloc(b->s, cap);
    if (!s) { b->bad = 1; return; }
    b->s = s;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

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

char *hs_sbuf_finish(hs_sbuf *b) {
  if (b->bad) {
    free(b->s);
    return NULL;
  }
  return b->s;
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
