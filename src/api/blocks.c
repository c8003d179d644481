/* Block operators (hs_operator_block, hs_operator_layers) over analysis/blocks.h, and the
 * provenance every result file of src/api takes from its operator. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "nn/engine.h"

const char *hs_operator_kind(const hs_operator *op) {
  if (!op->model) return "matrix";
  return op->which == HS_CURV_GGN ? "ggn" : op->which == HS_CURV_RESIDUAL ? "residual" : "hessian";
}

/* The tensor names of block b of model m (an array of borrowed names; caller frees). */
static const char **tensor_names(const hs_model *m, const hs_param_block *b) {
  const char **names = hs_calloc(b->ntensors ? b->ntensors : 1, sizeof *names);
  if (!names) return NULL;
  for (size_t t = 0; t < b->ntensors; t++) names[t] = hs_model_tensor(m, b->first_tensor + t)->name;
  return names;
}

/* A block operator of op on block *b, whose segments it takes over (b->segs = NULL). */
static hs_status make_block(hs_operator *op, hs_param_block *b, hs_operator **out) {
  hs_context *ctx = op->ctx;
  hs_operator *blk = hs_calloc(1, sizeof *blk);
  if (!blk) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  *blk = (hs_operator){.ctx = ctx, .model = op->model, .which = op->which, .block_of = 1,
                       .model_params = op->op->n};
  hs_status st = hs_linop_block(op->op, b->nseg, b->segs, &blk->op);
  if (st == HS_OK && !(blk->tensor_names = tensor_names(op->model, b))) st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  blk->block = *b;
  b->segs = NULL;
  if (st != HS_OK) {
    hs_operator_destroy(blk);
    return st;
  }
  *out = blk;
  return HS_OK;
}

hs_status hs_operator_block(hs_operator *op, const char *name, hs_operator **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  if (!name || !*name) return hs_fail(ctx, HS_E_INVALID, "block: no name given (a tensor or layer name)");
  if (!op->model) return hs_fail(ctx, HS_E_UNSUPPORTED, "block %s: an explicit matrix has no tensor names", name);
  if (op->block_of) return hs_fail(ctx, HS_E_UNSUPPORTED, "block %s: the operator is a block already", name);
  if (strcmp(name, "all") == 0)
    return hs_fail(ctx, HS_E_INVALID, "block all: one operator per layer (hs_operator_layers, then hs_operator_block)");
  hs_block_list l;
  hs_status st = hs_blocks_resolve(ctx, op->model, name, &l);
  if (st == HS_OK) st = make_block(op, &l.b[0], out);
  hs_blocks_free(&l);
  return st;
}

hs_status hs_operator_layers(hs_operator *op, size_t *count) {
  *count = 0;
  if (!op->model || op->block_of)
    return hs_fail(op->ctx, HS_E_UNSUPPORTED, "layers: %s has none", op->model ? "a block operator" : "an explicit matrix");
  if (!op->layers_resolved) {
    hs_status st = hs_blocks_resolve(op->ctx, op->model, "all", &op->layers);
    if (st != HS_OK) return st;
    op->layers_resolved = 1;
  }
  *count = op->layers.n;
  return HS_OK;
}

const char *hs_operator_layer_name(const hs_operator *op, size_t i) {
  return op->layers_resolved && i < op->layers.n ? op->layers.b[i].name : NULL;
}

hs_status hs_api_model_provenance(hs_model *m, const char *command, const char *operator_kind, const char *weights,
                                  const char *data, uint64_t seed, double elapsed, hs_provenance *prov, char **spec_json) {
  hs_context *ctx = hs_model_context(m);
  *prov = (hs_provenance){.command = command, .operator_kind = operator_kind, .weights = weights, .data = data,
                          .dtype = hs_context_dtype(ctx), .backend = hs_backend_name(ctx), .device = hs_device_name(ctx),
                          .seed = seed, .elapsed = elapsed};
  if (!(*spec_json = hs_spec_to_json(hs_model_get_spec(m)))) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  prov->model_json = *spec_json;
  hs_model_binding(m, &prov->samples, &prov->batch);
  return HS_OK;
}

/* A block operator's description, its names borrowed from it. */
static hs_block_desc block_desc(const hs_operator *op) {
  return (hs_block_desc){.name = op->block.name, .params = op->block.params, .ntensors = op->block.ntensors,
                         .tensors = op->tensor_names};
}

hs_status hs_api_provenance(hs_operator *op, const char *command, const hs_run_info *info, double seconds,
                            uint64_t seed, hs_provenance *prov, hs_block_desc *block, char **spec_json) {
  const hs_run_info in = info ? *info : (hs_run_info){0};
  const double elapsed = in.elapsed > 0 ? in.elapsed : seconds;
  *spec_json = NULL;
  if (!op->model) {
    *prov = (hs_provenance){.command = command, .operator_kind = hs_operator_kind(op), .backend = hs_backend_name(op->ctx),
                            .device = hs_device_name(op->ctx), .seed = seed, .elapsed = elapsed,
                            .matrix = in.data ? in.data : "host array"};
  } else {
    hs_status st = hs_api_model_provenance(op->model, command, hs_operator_kind(op), in.weights, in.data, seed, elapsed,
                                           prov, spec_json);
    if (st != HS_OK) return st;
  }
  prov->dtype = op->op->dtype;
  if (op->block_of) {
    *block = block_desc(op);
    prov->block = block;
    prov->model_params = op->model_params;
  }
  return HS_OK;
}

hs_status hs_api_blocks_provenance(size_t nb, hs_operator *const *ops, const char *command, const hs_run_info *info,
                                   double seconds, uint64_t seed, const char *path, hs_block_desc **desc,
                                   hs_provenance *prov, char **spec_json) {
  *desc = NULL;
  *spec_json = NULL;
  if (nb == 0 || !ops || !ops[0]) return HS_E_INVALID; /* no context to name it in */
  hs_context *ctx = ops[0]->ctx;
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "%s save: no path given", command);
  hs_block_desc *d = hs_calloc(nb, sizeof *d);
  if (!d) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  for (size_t b = 0; b < nb; b++) {
    if (!ops[b] || !ops[b]->block_of || ops[b]->model != ops[0]->model) {
      free(d);
      return hs_fail(ctx, HS_E_INVALID, "%s: operator %zu is not a block of the first one's model", path, b);
    }
    d[b] = block_desc(ops[b]);
  }
  hs_block_desc unused;
  hs_status st = hs_api_provenance(ops[0], command, info, seconds, seed, prov, &unused, spec_json);
  if (st != HS_OK) {
    free(d);
    return st;
  }
  prov->block = NULL; /* every block: listed under "blocks" */
  prov->model_params = ops[0]->model_params;
  *desc = d;
  return HS_OK;
}
