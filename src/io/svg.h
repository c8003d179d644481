/* Shared pieces of the SVG/HTML writers (io/svg_plot.c, analysis/svg_lines.c,
 * analysis/report.c): XML escaping into a growing string (core/sbuf.h), tick spacing and the series palette. */
#ifndef HS_IO_SVG_H
#define HS_IO_SVG_H

#include <stddef.h>

#include "core/sbuf.h" /* hs_sbuf, the growing string the writers fill */

/* Appends t (NULL: nothing) with & < > " escaped for XML/HTML text and attributes. */
void hs_sbuf_escaped(hs_sbuf *b, const char *t);

/* One legend entry: a stroke of `color` from x0 to x1 just above baseline y, then the escaped
 * label (NULL: empty) at (tx, y). */
void hs_svg_legend_entry(hs_sbuf *b, double x0, double x1, double y, const char *color,
                         double tx, const char *label);

/* Tick spacing of 1, 2 or 5 times a power of ten giving about `want` ticks over span. */
double hs_svg_nice_step(double span, int want);

/* One palette for every plot, so a kind has one colour on every plot of a report when
 * series come in the same order. */
#define HS_SVG_NCOLORS 10
extern const char *const hs_svg_colors[HS_SVG_NCOLORS];

#endif
