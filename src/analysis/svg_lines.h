/* Line charts (quantity against epoch or step) as standalone SVG, for the compare report: one line
 * with point markers per series, a legend, linear axes. Densities use io/svg_plot.h. */
#ifndef HS_ANALYSIS_SVG_LINES_H
#define HS_ANALYSIS_SVG_LINES_H

#include <stddef.h>

typedef struct {
  const char *label;  /* legend text (XML-escaped here) */
  size_t n;
  const double *x, *y; /* borrowed; non-finite points are skipped */
  int dashed;          /* a reference line: grey dashes, no markers (e.g. 2 / lr) */
} hs_line_series;

/* The SVG text (caller frees); NULL when out of memory or no finite point. */
char *hs_svg_lines(const hs_line_series *s, size_t count, const char *title, const char *xlabel,
                   const char *ylabel, int width, int height);

#endif
