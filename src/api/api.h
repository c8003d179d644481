/* The handles of the public spectral API (include/hesspec.h: hs_operator, hs_density): thin
 * wrappers over the internal engines (linalg/slq.h, eig.h, trace.h, io/density.h), shared by
 * the files of src/api only. */
#ifndef HS_API_API_H
#define HS_API_API_H

#include "hesspec.h"
#include "linalg/linop.h"
#include "linalg/slq.h"

struct hs_operator {
  hs_context *ctx; /* borrowed */
  hs_linop *op;    /* owned */
  hs_model *model; /* borrowed; NULL for an explicit matrix */
};

struct hs_density {
  hs_context *ctx;  /* borrowed */
  hs_slq_result *r; /* owned */
  size_t steps;     /* steps asked per probe (a loaded file's rules are stored at their longest) */
  /* Provenance for hs_density_save, owned copies; has_provenance = 0 for a density read
   * from a file (hs_density_load keeps its numbers only). */
  int has_provenance;
  const char *operator_kind; /* static: "hessian", "ggn", "residual", "matrix" */
  char *spec_json, *weights, *data, *backend, *device;
  hs_dtype dtype;
  size_t samples, batch;
  uint64_t seed;
  double elapsed;
};

/* A copy of s (NULL stays NULL); *ok is cleared when out of memory. */
char *hs_api_strdup(const char *s, int *ok);

#endif
