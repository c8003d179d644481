/* hs_spectrum and the hs_density handle: SLQ (linalg/slq.h) on a public operator, its
 * result with the provenance `hesspec spectrum` records, and the density file
 * (io/density.h) written and read through the same code as the CLI's. */
#include "api/api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "io/density.h"

hs_spectrum_options hs_spectrum_defaults(void) {
  return (hs_spectrum_options){.steps = 0, .probes = HS_SLQ_DEFAULT_PROBES, .seed = 0, .sigma = 0,
                               .grid_points = 0, .grid_min = 0, .grid_max = 0, .neg_tol = -1,
                               .partial_reorth = 0, .weights = NULL, .data = NULL, .part = 0, .parts = 0,
                               .allgather = NULL, .allgather_user = NULL};
}

void hs_density_destroy(hs_density *d) {
  if (!d) return;
  hs_slq_free(d->r);
  free(d->spec_json);
  free(d->weights);
  free(d->data);
  free(d->backend);
  free(d->device);
  for (size_t t = 0; t < d->ntensors; t++) free(d->tensor_names[t]);
  free(d->tensor_names);
  for (size_t b = 0; b < d->nblocks; b++) hs_density_destroy(d->blocks[b]);
  free(d->blocks);
  free(d);
}

/* The provenance of a run on op, kept in the density for hs_density_save (owned copies). */
static hs_status record_provenance(hs_operator *op, const hs_spectrum_options *opt, hs_density *d) {
  int ok = 1;
  d->has_provenance = 1;
  d->operator_kind = hs_linop_kind_name(op->op->kind);
  if (op->model) {
    d->spec_json = hs_spec_to_json(hs_model_get_spec(op->model));
    ok = d->spec_json != NULL;
    hs_model_binding(op->model, &d->samples, &d->batch);
  }
  d->weights = hs_api_strdup(opt->weights, &ok);
  d->data = hs_api_strdup(opt->data, &ok);
  d->backend = hs_api_strdup(hs_backend_name(op->ctx), &ok);
  d->device = hs_api_strdup(hs_device_name(op->ctx), &ok);
  d->dtype = op->op->dtype;
  d->seed = opt->seed;
  if (ok && op->block_of) {
    d->has_block = 1;
    snprintf(d->block_name, sizeof d->block_name, "%s", op->block.name);
    d->block_params = op->block.params;
    d->model_params = op->model_params;
    d->tensor_names = hs_calloc(op->block.ntensors ? op->block.ntensors : 1, sizeof *d->tensor_names);
    ok = d->tensor_names != NULL;
    for (size_t t = 0; ok && t < op->block.ntensors; t++, d->ntensors++)
      ok = (d->tensor_names[t] = hs_strdup(op->tensor_names[t])) != NULL;
  }
  return ok ? HS_OK : hs_fail(op->ctx, HS_E_NOMEM, "out of host memory");
}

hs_slq_options hs_api_slq_options(const hs_spectrum_options *opt) {
  const hs_spectrum_options o = opt ? *opt : hs_spectrum_defaults();
  hs_slq_options so = hs_slq_defaults();
  so.steps = o.steps;
  so.probes = o.probes;
  so.seed = o.seed;
  so.sigma = o.sigma;
  so.grid_points = o.grid_points;
  so.grid_lo = o.grid_min;
  so.grid_hi = o.grid_max;
  so.neg_tol = o.neg_tol;
  so.reorth = o.partial_reorth ? HS_REORTH_PARTIAL : HS_REORTH_FULL;
  return so; /* the parts are hs_spectrum's to set, once it has checked them */
}

hs_status hs_spectrum(hs_operator *op, const hs_spectrum_options *opt, hs_density **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  double t0 = hs_now();
  hs_spectrum_options o = opt ? *opt : hs_spectrum_defaults();
  if (!(o.neg_tol < 0 || isfinite(o.neg_tol)))
    return hs_fail(ctx, HS_E_INVALID, "spectrum: neg_tol %g is not a finite tolerance", o.neg_tol);
  hs_slq_options so = hs_api_slq_options(&o);
  if (o.parts > 1) {
    if (o.part >= o.parts || o.probes < o.parts || !o.allgather)
      return hs_fail(ctx, HS_E_INVALID, "spectrum: part %zu of %zu parts with %zu probes%s: need part < parts <= probes "
                     "and an allgather hook", o.part, o.parts, o.probes, o.allgather ? "" : " and no allgather");
    so.part = o.part;
    so.parts = o.parts;
  }
  hs_status st = HS_OK;
  hs_density *d = hs_calloc(1, sizeof *d);
  if (!d) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  d->ctx = ctx;
  HS_TRY(record_provenance(op, &o, d));
  HS_TRY(hs_slq_run(op->op, &so, &d->r));
  if (so.parts > 1) HS_TRY(hs_api_gather_slq(ctx, &so, o.allgather, o.allgather_user, &d->r));
  d->steps = d->r->steps;
  d->elapsed = hs_now() - t0;
  *out = d;
  d = NULL;
cleanup:
  hs_density_destroy(d);
  return st;
}

void hs_density_get_summary(const hs_density *d, hs_density_summary *out) {
  const hs_slq_result *r = d->r;
  *out = (hs_density_summary){
      .params = r->n, .probes = r->probes, .steps = d->steps, .seed = r->seed, .sigma = r->sigma,
      .lambda_min = r->lambda_min, .lambda_max = r->lambda_max, .trace = r->trace, .trace_stderr = r->trace_se,
      .negative_fraction = r->neg_frac, .negative_fraction_stderr = r->neg_frac_se,
      .negative_tolerance = r->neg_tol, .negative_fraction_bounds = {r->neg_frac_lo, r->neg_frac_hi},
      .grid_integral = r->integral, .early_terminated_probes = r->early, .operator_applications = r->applies,
      .operator_seconds = r->t_apply, .reorth_seconds = r->t_reorth, .host_seconds = r->t_host,
      .total_seconds = r->t_total};
}

size_t hs_density_grid(const hs_density *d, const double **grid, const double **density, const double **stderr_) {
  if (grid) *grid = d->r->grid;
  if (density) *density = d->r->density;
  if (stderr_) *stderr_ = d->r->density_se;
  return d->r->grid_n;
}

size_t hs_density_probe(const hs_density *d, size_t p, const double **nodes, const double **weights) {
  const hs_slq_result *r = d->r;
  if (p >= r->probes) {
    if (nodes) *nodes = NULL;
    if (weights) *weights = NULL;
    return 0;
  }
  if (nodes) *nodes = r->nodes + p * r->steps;
  if (weights) *weights = r->weights + p * r->steps;
  return r->count[p];
}

/* A block density's description, its names borrowed from it. */
static hs_block_desc block_desc(const hs_density *d) {
  return (hs_block_desc){.name = d->block_name, .params = d->block_params, .ntensors = d->ntensors,
                         .tensors = (const char *const *)d->tensor_names};
}

/* The provenance of d for its file, info's fields in place of the recorded ones; *blk
 * receives the block's description when d is a block's. */
static hs_provenance provenance(const hs_density *d, const hs_run_info *info, hs_block_desc *blk) {
  const hs_run_info in = info ? *info : (hs_run_info){0};
  int matrix = strcmp(d->operator_kind, "matrix") == 0;
  const char *data = in.data ? in.data : d->data;
  hs_provenance prov = {.command = "spectrum", .operator_kind = d->operator_kind, .model_json = d->spec_json,
                        .weights = in.weights ? in.weights : d->weights, .data = matrix ? NULL : data,
                        .samples = d->samples, .batch = d->batch, .matrix = matrix ? (data ? data : "host array") : NULL,
                        .dtype = d->dtype, .backend = d->backend, .device = d->device, .seed = d->seed,
                        .elapsed = in.elapsed > 0 ? in.elapsed : d->elapsed};
  if (d->has_block) {
    *blk = block_desc(d);
    prov.block = blk;
    prov.model_params = d->model_params;
  }
  return prov;
}

hs_status hs_density_save_with(const hs_density *d, const hs_run_info *info, const char *path) {
  if (!path || !*path) return hs_fail(d->ctx, HS_E_INVALID, "density save: no path given");
  if (!d->has_provenance)
    return hs_fail(d->ctx, HS_E_UNSUPPORTED,
                   "%s: a density read from a file has no provenance to write; copy that file instead", path);
  hs_block_desc blk;
  hs_provenance prov = provenance(d, info, &blk);
  if (!d->nblocks) return hs_density_write(d->ctx, path, &prov, d->r);
  /* --block all: the whole on top, every block's description and rule beneath */
  hs_status st = HS_OK;
  hs_block_desc *desc = hs_calloc(d->nblocks, sizeof *desc);
  const hs_slq_result **parts = hs_calloc(d->nblocks, sizeof *parts);
  if (!desc || !parts) {
    st = hs_fail(d->ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  for (size_t b = 0; b < d->nblocks; b++) desc[b] = block_desc(d->blocks[b]), parts[b] = d->blocks[b]->r;
  prov.model_params = d->r->n;
  st = hs_density_write_blocks(d->ctx, path, &prov, d->nblocks, desc, parts, d->r);
cleanup:
  free(desc);
  free(parts);
  return st;
}

hs_status hs_density_save(const hs_density *d, const char *path) { return hs_density_save_with(d, NULL, path); }

/* The file's arrays moved into an SLQ result (f is left empty). */
static hs_status from_file(hs_context *ctx, hs_density_file *f, hs_slq_result **out) {
  hs_slq_result *r = hs_calloc(1, sizeof *r);
  if (!r) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  /* the rules keep the file's stride: steps is the row length of nodes and weights */
  *r = (hs_slq_result){.n = f->params, .probes = f->probes, .steps = f->stride, .seed = f->seed,
                       .breakdown_tol = NAN, .count = f->count, .nodes = f->nodes, .weights = f->weights,
                       .sigma = f->sigma, .grid_n = f->grid_n, .grid = f->grid, .density = f->density,
                       .density_se = f->density_se, .integral = f->integral, .lambda_min = f->lambda_min,
                       .lambda_max = f->lambda_max, .trace = f->trace, .trace_se = f->trace_se,
                       .neg_tol = f->neg_tol, .neg_frac = f->neg_frac, .neg_frac_se = f->neg_frac_se,
                       .neg_frac_lo = f->neg_frac_lo, .neg_frac_hi = f->neg_frac_hi, .t_apply = NAN,
                       .t_reorth = NAN, .t_host = NAN, .t_total = NAN};
  f->count = NULL;
  f->nodes = f->weights = f->grid = f->density = f->density_se = NULL;
  *out = r;
  return HS_OK;
}

hs_status hs_density_load(hs_context *ctx, const char *path, hs_density **out) {
  *out = NULL;
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "density load: no path given");
  hs_density_file f;
  hs_status st = hs_density_read(ctx, path, &f);
  if (st != HS_OK) return st;
  hs_density *d = hs_calloc(1, sizeof *d);
  if (!d) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  d->ctx = ctx;
  d->steps = f.steps;
  HS_TRY(from_file(ctx, &f, &d->r));
  *out = d;
  d = NULL;
cleanup:
  hs_density_destroy(d);
  hs_density_file_free(&f);
  return st;
}
