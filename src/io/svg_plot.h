/* Density plots as standalone SVG: one or more curves overlaid with a legend, linear or log
 * density axis. No dependencies; the file opens in any browser. */
#ifndef HS_IO_SVG_PLOT_H
#define HS_IO_SVG_PLOT_H

#include <stddef.h>

#include "hesspec.h"

typedef struct {
  const char *label;      /* legend text (XML-escaped here) */
  size_t n;
  const double *x, *y;    /* borrowed; y >= 0 */
} hs_plot_series;

typedef struct {
  int log_y;              /* logarithmic density axis (values below max * 1e-8 clipped) */
  const char *title;      /* NULL: none */
  const char *xlabel;     /* NULL: "eigenvalue" */
  const char *ylabel;     /* NULL: "density" */
  int width, height;      /* pixels; 0: 800 x 500 */
} hs_plot_options;

/* The SVG text (caller frees), or NULL when out of memory or nothing to plot. */
char *hs_svg_density(const hs_plot_series *s, size_t count, const hs_plot_options *o);
/* Writes it atomically. */
hs_status hs_svg_density_write(hs_context *ctx, const char *path, const hs_plot_series *s,
                               size_t count, const hs_plot_options *o);

#endif
