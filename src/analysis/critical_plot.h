/* `hesspec critical --plot`: index against loss, one marker per start (filled when it
 * converged), and the fit alpha0 |1 - eps/eps_c|^{3/2} with its parameters. */
#ifndef HS_ANALYSIS_CRITICAL_PLOT_H
#define HS_ANALYSIS_CRITICAL_PLOT_H

#include <stddef.h>

/* fit: 0 when there is none (alpha0, eps_c ignored). The SVG text (caller frees) or NULL. */
char *hs_svg_critical(size_t n, const double *loss, const double *index, const int *converged, int fit,
                      double alpha0, double eps_c, double rms);

#endif
