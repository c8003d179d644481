/* The handles of the public spectral API (include/hesspec.h: hs_operator, hs_density): thin
 * wrappers over the internal engines (linalg/slq.h, eig.h, trace.h, io/density.h), shared by
 * the files of src/api only. */
#ifndef HS_API_API_H
#define HS_API_API_H

#include "analysis/blocks.h"
#include "analysis/critical.h"
#include "hesspec.h"
#include "io/density.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "linalg/trace.h"

struct hs_operator {
  hs_context *ctx; /* borrowed */
  hs_linop *op;    /* owned */
  hs_model *model; /* borrowed; NULL for an explicit matrix */
  hs_curvature which;
  /* A block operator (hs_operator_block): its description for the files (name and tensor
   * names borrowed from block and the model) and the parent's dimension. block_of = 0: the
   * whole operator. */
  int block_of;
  hs_param_block block;        /* owned segments */
  const char **tensor_names;   /* (block.ntensors) owned array of borrowed names */
  size_t model_params;
  hs_block_list layers;        /* the model's layers, resolved on first use (hs_operator_layers) */
  int layers_resolved;
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
  /* from a block operator: its description (owned copies) */
  int has_block;
  char block_name[HS_BLOCK_NAME];
  size_t block_params, model_params, ntensors;
  char **tensor_names;
  /* a combination of blocks (hs_density_combine): the blocks, owned */
  size_t nblocks;
  hs_density **blocks;
};

/* A copy of s (NULL stays NULL); *ok is cleared when out of memory. */
char *hs_api_strdup(const char *s, int *ok);

/* The provenance of a result of model m for its file: its spec (owned by *spec_json, caller
 * frees), binding, the context's dtype, backend and device, and the given strings, seed and
 * time (which the caller resolves). HS_E_NOMEM only. */
hs_status hs_api_model_provenance(hs_model *m, const char *command, const char *operator_kind, const char *weights,
                                  const char *data, uint64_t seed, double elapsed, hs_provenance *prov, char **spec_json);
/* The provenance of a result on op for its file: the model's spec (owned by *spec_json,
 * caller frees), binding, backend and dtype, the block when op is one, and info's strings
 * and time (elapsed <= 0: `seconds`). HS_E_NOMEM only. */
hs_status hs_api_provenance(hs_operator *op, const char *command, const hs_run_info *info, double seconds,
                            uint64_t seed, hs_provenance *prov, hs_block_desc *block, char **spec_json);
/* Newton-MR's options of the public critical-point ones (the start perturbation aside). */
hs_newton_mr_options hs_api_newton_options(const hs_critical_options *o);

/* The engine's SLQ options of the public ones (opt NULL: the defaults), without the parts. */
hs_slq_options hs_api_slq_options(const hs_spectrum_options *opt);

/* The provenance of a `--block all` file from block operators ops[0..nb) of one model (results
 * of `seconds` in all): *desc (nb, names borrowed from ops; caller frees), prov with no single
 * block and the model's P, *spec_json (caller frees). HS_E_INVALID naming path when an
 * operator is not a block of the first one's model; nb = 0: HS_E_INVALID alone. */
hs_status hs_api_blocks_provenance(size_t nb, hs_operator *const *ops, const char *command, const hs_run_info *info,
                                   double seconds, uint64_t seed, const char *path, hs_block_desc **desc,
                                   hs_provenance *prov, char **spec_json);
/* Probe parallel (hs_spectrum_options.parts): *r is this part's result on entry (the
 * probes part, part + parts, ...) and that of all probes on return, through gather. */
hs_status hs_api_gather_slq(hs_context *ctx, const hs_slq_options *so, hs_allgather_fn gather, void *user,
                            hs_slq_result **r);
hs_status hs_api_gather_trace(hs_context *ctx, const hs_trace_options *to, hs_allgather_fn gather, void *user,
                              hs_trace_result **r);


#endif
