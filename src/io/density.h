/* Result files of the spectral commands: density ("hesspec.density/1" JSON + CSV beside it),
 * eigenvalues ("hesspec.eig/1"), traces ("hesspec.trace/1"), each with its provenance and
 * written atomically (io/atomic.h). Field reference: docs/spectra.md. */
#ifndef HS_IO_DENSITY_H
#define HS_IO_DENSITY_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"
#include "linalg/eig.h"
#include "linalg/slq.h"
#include "linalg/trace.h"

/* One diagonal block of the operator (`--block`): its name, dimension and tensors. */
typedef struct {
  const char *name;
  size_t params;
  size_t ntensors;
  const char *const *tensors; /* (ntensors) names, borrowed */
} hs_block_desc;

/* Where a result came from (DESIGN.md, "Output files"). Strings are borrowed; NULL = absent. */
typedef struct {
  const char *command;    /* "spectrum", "eig", "trace" */
  const char *operator_kind; /* "hessian", "ggn", "matrix" */
  const char *model_json; /* canonical model spec JSON (hs_spec_to_json), or NULL */
  const char *weights;    /* checkpoint path; NULL: seeded default initialisation */
  const char *data;       /* data source description */
  size_t samples, batch;
  const char *matrix;     /* --matrix path */
  hs_dtype dtype;
  const char *backend, *device;
  uint64_t seed;
  double elapsed;         /* seconds, whole command */
  const hs_block_desc *block; /* --block NAME: the block; NULL: the whole operator (or all) */
  size_t model_params;    /* P of the model when a block is selected */
} hs_provenance;

/* The CSV path beside a density file: "x.json" -> "x.csv", otherwise path + ".csv".
 * Caller frees; NULL when out of memory. */
char *hs_density_csv_path(const char *path);

/* Writes the density file and its CSV (grid, density, standard error). */
hs_status hs_density_write(hs_context *ctx, const char *path, const hs_provenance *prov,
                           const hs_slq_result *r);
/* method: "lanczos" (extremal; which = "top"/"bottom") or "dense" (which = "all");
 * vectors_path: the .npy the eigenvectors went to, or NULL. max_steps: the Lanczos cap. */
hs_status hs_eig_write(hs_context *ctx, const char *path, const hs_provenance *prov,
                       const hs_eig_result *r, const char *method, const char *which,
                       size_t max_steps, const char *vectors_path);
hs_status hs_trace_write(hs_context *ctx, const char *path, const hs_provenance *prov,
                         const hs_trace_result *r);

/* `--block all`: one file, "block": "all", and "blocks": [{"name", "tensors", then the
 * fields the single-block file has at its top level}, ...] in parameter order.
 * Density: the top level is the density of the block-diagonal operator (hs_slq_combine,
 * `whole`), so readers of "hesspec.density/1" see a valid file; the CSV holds its grid,
 * density and standard error, then one column per block (that block's density, its own
 * sigma, on the same grid). Eig: the top-level "eigenvalues" are those of the
 * block-diagonal operator that the blocks determine (all of them for dense; the `count`
 * extreme ones of the union for top/bottom). Trace: the top-level trace is the sum (the
 * trace of the operator itself), its standard error the root sum of squares. */
hs_status hs_density_write_blocks(hs_context *ctx, const char *path, const hs_provenance *prov,
                                  size_t nb, const hs_block_desc *blocks, const hs_slq_result *const *parts,
                                  const hs_slq_result *whole);
hs_status hs_eig_write_blocks(hs_context *ctx, const char *path, const hs_provenance *prov, size_t nb,
                              const hs_block_desc *blocks, const hs_eig_result *const *parts,
                              const char *method, const char *which, size_t count, size_t max_steps);
hs_status hs_trace_write_blocks(hs_context *ctx, const char *path, const hs_provenance *prov, size_t nb,
                                const hs_block_desc *blocks, const hs_trace_result *const *parts);

/* A density file read back (for re-plotting and re-smoothing). */
typedef struct {
  size_t params, probes, stride;   /* probe p's rule: nodes/weights[p*stride .. + count[p]] */
  size_t *count;
  double *nodes, *weights;
  double sigma;
  size_t grid_n;
  double *grid, *density;
  double lambda_min, lambda_max;
  /* Optional fields (NaN, or steps = stride and seed 0, where the file lacks them): */
  size_t steps;                    /* method.lanczos_steps */
  uint64_t seed;                   /* method.seed */
  double *density_se;              /* (grid_n) density_stderr; NaN where null */
  double trace, trace_se, neg_frac, neg_frac_se, neg_tol, neg_frac_lo, neg_frac_hi, integral; /* summary */
} hs_density_file;

/* HS_E_IO if unreadable, HS_E_INVALID naming the file and field when malformed. */
hs_status hs_density_read(hs_context *ctx, const char *path, hs_density_file *out);
void hs_density_file_free(hs_density_file *f);

#endif
