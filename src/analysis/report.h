/* The compare report: one folder with index.html (self-contained: inline SVG, no network),
 * summary.csv and summary.md (one row per kind, seed and analysed epoch), config.json (the
 * effective preset), the SVG plots in plots/, beside the runs/ written by hs_cmp_run. */
#ifndef HS_ANALYSIS_REPORT_H
#define HS_ANALYSIS_REPORT_H

#include "analysis/compare.h"

hs_status hs_cmp_report(hs_context *ctx, const hs_cmp_result *r, const char *dir);

/* The plain-words findings (one sentence per entry, '\n'-separated; caller frees). */
char *hs_cmp_findings(const hs_cmp_result *r);

#endif
