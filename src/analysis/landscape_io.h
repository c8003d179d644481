/* The landscape file ("hesspec.landscape/1" JSON + CSV beside it) and its SVG plot: a curve
 * in 1D, a heat map with contour lines and the origin marked in 2D. Fields: docs/experiments.md, section 1. */
#ifndef HS_ANALYSIS_LANDSCAPE_IO_H
#define HS_ANALYSIS_LANDSCAPE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/landscape.h"
#include "io/density.h"

/* How the directions were made, for the file. Strings borrowed. */
typedef struct {
  const char *kind;       /* "random", "eig", "interpolate", "files" */
  uint64_t seed;          /* random: the direction seed; eig: the Lanczos start seed */
  size_t count;           /* directions: 1 or 2 */
  double eigenvalues[2];  /* eig: largest first */
  const char *to;         /* interpolate: the second checkpoint */
  const char *files[2];   /* files: the .npy paths */
  double norms[2];        /* ||d_j||_2 */
} hs_ls_directions;

/* Writes the CSV (alpha[,beta],loss[,accuracy], one row per point) and then the JSON. */
hs_status hs_ls_write(hs_context *ctx, const char *path, const hs_provenance *prov, const hs_ls_directions *dirs,
                      const hs_ls_result *r);
/* The SVG text (caller frees); NULL when out of memory or no finite loss. */
char *hs_ls_svg(const hs_ls_result *r, const char *title);
/* 2D: the heat map with its colour scale and contour levels over [lo, hi] instead of the
 * grid's own range, so that several maps share one scale (values outside take the end
 * colours); 1D, or lo >= hi: hs_ls_svg. */
char *hs_ls_svg_range(const hs_ls_result *r, const char *title, double lo, double hi);
hs_status hs_ls_svg_write(hs_context *ctx, const char *path, const hs_ls_result *r, const char *title);

#endif
