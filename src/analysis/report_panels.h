/* The optional panels of the compare report (analysis/compare_panels.h): the 2D loss
 * landscapes side by side, the critical points, curvature along training and the operators
 * (H, G, H - G; the layers' lambda_max), as plots (plots/landscape-<kind>.svg,
 * plots/critical.svg, plots/curvature-lambda_max.svg, plots/curvature-overlap.svg,
 * plots/operators-<kind>.svg), HTML and Markdown sections and findings. */
#ifndef HS_ANALYSIS_REPORT_PANELS_H
#define HS_ANALYSIS_REPORT_PANELS_H

#include "analysis/compare.h"
#include "core/sbuf.h"

/* Writes the panels' plots into dir/plots and appends their sections to html and md (nothing
 * when both panels are off). */
hs_status hs_cmp_report_panels(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md);

/* Appends the panels' findings, one '\n'-ended sentence each. */
void hs_cmp_panel_findings(const hs_cmp_result *r, hs_sbuf *b);

/* The pieces, one file each (report_panels.c, report_curvature.c, report_operators.c): a
 * section appends to html and md and writes its plots; findings append sentences. */
hs_status hs_cmp_curvature_section(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md);
void hs_cmp_curvature_findings(const hs_cmp_result *r, hs_sbuf *b);
hs_status hs_cmp_operators_section(hs_context *ctx, const hs_cmp_result *r, const char *dir, hs_sbuf *html, hs_sbuf *md);
void hs_cmp_operators_findings(const hs_cmp_result *r, hs_sbuf *b);

#endif
