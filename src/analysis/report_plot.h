/* Plots of the compare report: written to dir/plots/<name> and inlined into index.html. The
 * one home of both for every section (report_panels.c, report_curvature.c,
 * report_operators.c), so the sections depend on it and not on each other. */
#ifndef HS_ANALYSIS_REPORT_PLOT_H
#define HS_ANALYSIS_REPORT_PLOT_H

#include "hesspec.h"

/* Writes dir/plots/<name> atomically. */
hs_status hs_cmp_write_plot(hs_context *ctx, const char *dir, const char *name, const char *svg);
/* The SVG element without its XML declaration, for inlining into the page. */
const char *hs_cmp_svg_element(const char *svg);

#endif
