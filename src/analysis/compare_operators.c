/* The operators panel of compare (analysis/compare_panels.h): `spectrum --operator ggn|residual`
 * and `eig --top 1 --block all` on a trained network, through the same library calls (the model
 * operators of nn/hvp.h, analysis/blocks.h, linalg/block_linop.h, SLQ and Lanczos), their files
 * through io/density.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/blocks.h"
#include "analysis/compare_panels.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "linalg/block_linop.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "nn/engine.h"

/* The SLQ density of one operator of m, written to dir/rel and kept in *out. */
static hs_status op_density(hs_model *m, hs_curvature which, const hs_slq_options *so, const hs_provenance *prov,
                            const char *dir, hs_cmp_op_density *out) {
  hs_context *ctx = hs_model_context(m);
  hs_linop *op = NULL;
  hs_slq_result *r = NULL;
  hs_status st = HS_OK;
  char path[4200];
  hs_provenance p = *prov;
  double t0 = hs_now();
  HS_TRY(hs_linop_model(m, which, &op));
  HS_TRY(hs_slq_run(op, so, &r));
  snprintf(path, sizeof path, "%s/%s", dir, out->file);
  p.elapsed = hs_now() - t0;
  HS_TRY(hs_density_write(ctx, path, &p, r));
  out->lambda_min = r->lambda_min;
  out->lambda_max = r->lambda_max;
  out->trace = r->trace;
  out->trace_se = r->trace_se;
  out->neg_frac = r->neg_frac;
  st = hs_cmp_keep_density(ctx, r, &out->grid_n, &out->grid, &out->density);
cleanup:
  hs_slq_free(r);
  hs_linop_destroy(op);
  return st;
}

/* lambda_max of every layer's diagonal block of H (the layers of `--block all`), one file. */
static hs_status layer_tops(hs_model *m, const hs_cmp_config *c, const hs_provenance *prov, const char *dir,
                            hs_cmp_operators *o) {
  hs_context *ctx = hs_model_context(m);
  hs_block_list bl = {0};
  hs_linop *H = NULL, *op = NULL;
  hs_eig_result **parts = NULL;
  hs_block_desc *desc = NULL;
  const char **names = NULL;
  hs_status st = HS_OK;
  size_t T = hs_model_num_tensors(m), max_steps = 0;
  hs_provenance p = *prov;
  double t0 = hs_now();
  HS_TRY(hs_blocks_resolve(ctx, m, "all", &bl));
  HS_TRY(hs_linop_model(m, HS_CURV_HESSIAN, &H));
  parts = hs_calloc(bl.n, sizeof *parts);
  desc = hs_calloc(bl.n, sizeof *desc);
  names = hs_calloc(T, sizeof *names);
  o->layer = hs_calloc(bl.n, sizeof *o->layer);
  o->layer_params = hs_calloc(bl.n, sizeof *o->layer_params);
  o->layer_lambda_max = hs_calloc(bl.n, sizeof *o->layer_lambda_max);
  if (!parts || !desc || !names || !o->layer || !o->layer_params || !o->layer_lambda_max) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  o->n_layers = bl.n;
  for (size_t i = 0; i < T; i++) names[i] = hs_model_tensor(m, i)->name;
  for (size_t b = 0; b < bl.n; b++) {
    const hs_param_block *pb = &bl.b[b];
    hs_eig_options eo = {.which = HS_EIG_TOP, .count = 1, .tol = c->eig_tol, .seed = c->probe_seed};
    HS_TRY(hs_linop_block(H, pb->nseg, pb->segs, &op));
    HS_TRY(hs_eig_extremal(op, &eo, &parts[b]));
    hs_linop_destroy(op);
    op = NULL;
    snprintf(o->layer[b], sizeof o->layer[b], "%s", pb->name);
    o->layer_params[b] = pb->params;
    o->layer_lambda_max[b] = parts[b]->found ? parts[b]->values[0] : NAN;
    desc[b] = (hs_block_desc){.name = pb->name, .params = pb->params, .ntensors = pb->ntensors,
                              .tensors = names + pb->first_tensor};
    if (parts[b]->steps > max_steps) max_steps = parts[b]->steps;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, o->layers_file);
  p.elapsed = hs_now() - t0;
  HS_TRY(hs_eig_write_blocks(ctx, path, &p, bl.n, desc, (const hs_eig_result *const *)parts, "lanczos", "top", 1,
                             max_steps));
cleanup:
  for (size_t b = 0; parts && b < bl.n; b++) hs_eig_free(parts[b]);
  free(parts);
  free(desc);
  free(names);
  hs_linop_destroy(op);
  hs_linop_destroy(H);
  hs_blocks_free(&bl);
  return st;
}

hs_status hs_cmp_operators_panel(hs_model *m, const hs_cmp_config *c, size_t k, const hs_cmp_point *h, const char *dir,
                                 const char *run_rel, const char *spec_json, const char *data_desc, hs_cmp_result *res) {
  hs_context *ctx = hs_model_context(m);
  double t0 = hs_now();
  hs_status st = HS_OK;
  hs_cmp_operators *o = hs_calloc(1, sizeof *o);
  if (!o) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  size_t E = c->train.epochs;
  snprintf(o->ggn.file, sizeof o->ggn.file, "%s/density-ggn-e%04zu.json", run_rel, E);
  snprintf(o->residual.file, sizeof o->residual.file, "%s/density-residual-e%04zu.json", run_rel, E);
  snprintf(o->layers_file, sizeof o->layers_file, "%s/eig-layers-e%04zu.json", run_rel, E);
  hs_slq_options so = hs_cmp_slq_options(c, hs_model_num_params(m), h->lambda_max, h->lambda_min);
  char weights[200];
  hs_provenance prov = hs_cmp_provenance(c, m, k, 0, E, "ggn", spec_json, data_desc, weights);
  HS_TRY(op_density(m, HS_CURV_GGN, &so, &prov, dir, &o->ggn));
  prov.operator_kind = "residual";
  HS_TRY(op_density(m, HS_CURV_RESIDUAL, &so, &prov, dir, &o->residual));
  prov.operator_kind = "hessian";
  prov.model_params = hs_model_num_params(m);
  HS_TRY(layer_tops(m, c, &prov, dir, o));
  o->seconds = hs_now() - t0;
  res->operators[k] = o;
  o = NULL;
cleanup:
  hs_cmp_operators_free(o);
  return st;
}

void hs_cmp_operators_free(hs_cmp_operators *o) {
  if (!o) return;
  free(o->ggn.grid);
  free(o->ggn.density);
  free(o->residual.grid);
  free(o->residual.density);
  free(o->layer);
  free(o->layer_params);
  free(o->layer_lambda_max);
  free(o);
}
