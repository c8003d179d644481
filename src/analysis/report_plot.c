/* The report's plot files and their inline copies (analysis/report_plot.h). */
#include "analysis/report_plot.h"

#include <stdio.h>
#include <string.h>

#include "io/atomic.h"

hs_status hs_cmp_write_plot(hs_context *ctx, const char *dir, const char *name, const char *svg) {
  char path[4200];
  snprintf(path, sizeof path, "%s/plots/%s", dir, name);
  return hs_write_file_atomic(ctx, path, svg, strlen(svg));
}

const char *hs_cmp_svg_element(const char *svg) {
  const char *e = strstr(svg, "<svg");
  return e ? e : svg;
}
