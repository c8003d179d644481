/* Allocation failure: every library call path, run with its n-th allocation failing for
 * every n up to the allocations of a clean run, returns HS_E_NOMEM with a message, leaves
 * no temporary file, and can be destroyed (run under ASan with detect_leaks=1: no leak, no
 * use after free). The hook is core/alloc.h's: it fails exactly one allocation (host, cJSON
 * or device), so the clean-up after it runs with memory available, as a real shortage
 * that passes would. Paths: loss+gradient, HVP (MLP with batch norm and a conv net), SLQ
 * with its density file, extremal and exact eig, one epoch of training with checkpoints
 * and log. Tiny models: the whole suite takes seconds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "io/density.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "support/alloc_harness.h"
#include "support/hs_test.h"
#include "train/train.h"

static hs_status run_loss(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  double *g = NULL;
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  size_t P = hs_model_num_params(m);
  g = malloc(P * sizeof *g);
  if ((st = hs_model_loss_grad(m, &out[0], g)) != HS_OK) goto cleanup;
  for (size_t i = 0; i < 8 && i < P; i++) out[1 + i] = g[i];
  *nout = 1 + (P < 8 ? P : 8);
cleanup:
  free(g);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_hvp(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  double *V = NULL, *Y = NULL;
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  size_t P = hs_model_num_params(m);
  V = malloc(2 * P * sizeof *V);
  Y = malloc(2 * P * sizeof *Y);
  for (size_t i = 0; i < 2 * P; i++) V[i] = sin(0.37 * (double)i + 0.1);
  if ((st = hs_model_hvp(m, HS_CURV_HESSIAN, 2, V, Y)) != HS_OK) goto cleanup;
  for (size_t i = 0; i < 8; i++) out[i] = Y[i * (2 * P / 8)];
  if ((st = hs_model_hvp(m, HS_CURV_GGN, 1, V, Y)) != HS_OK) goto cleanup;
  out[8] = Y[P / 2];
  *nout = 9;
cleanup:
  free(V);
  free(Y);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_spectrum(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_linop *op = NULL;
  hs_slq_result *r = NULL;
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  if ((st = hs_linop_model(m, HS_CURV_HESSIAN, &op)) != HS_OK) goto cleanup;
  hs_slq_options o = hs_slq_defaults();
  o.steps = 6;
  o.probes = 3;
  o.seed = 11;
  o.grid_points = 64;
  if ((st = hs_slq_run(op, &o, &r)) != HS_OK) goto cleanup;
  char *json = hs_spec_to_json(&in->spec);
  if (!json) {
    st = hs_fail(ctx, HS_E_NOMEM, "spec JSON: out of memory");
    goto cleanup;
  }
  hs_provenance prov = {.command = "spectrum", .operator_kind = "hessian", .model_json = json, .data = "test",
                        .samples = in->n, .batch = in->batch, .dtype = HS_F64, .backend = "cpu", .device = "cpu",
                        .seed = 11};
  char path[300];
  snprintf(path, sizeof path, "%s/density.json", in->dir);
  st = hs_density_write(ctx, path, &prov, r);
  free(json);
  if (st != HS_OK) goto cleanup;
  out[0] = r->trace;
  out[1] = r->lambda_min;
  out[2] = r->lambda_max;
  out[3] = r->density[r->grid_n / 2];
  *nout = 4;
cleanup:
  hs_slq_free(r);
  hs_linop_destroy(op);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_eig(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_linop *op = NULL;
  hs_eig_result *top = NULL, *all = NULL;
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  if ((st = hs_linop_model(m, HS_CURV_HESSIAN, &op)) != HS_OK) goto cleanup;
  hs_eig_options o = {.which = HS_EIG_TOP, .count = 2, .tol = 1e-8, .max_steps = 0, .seed = 3, .want_vectors = 1};
  if ((st = hs_eig_extremal(op, &o, &top)) != HS_OK) goto cleanup;
  if ((st = hs_eig_exact(op, 0, 1, &all)) != HS_OK) goto cleanup;
  out[0] = (double)top->found;
  out[1] = top->found ? top->values[top->found - 1] : NAN;
  out[2] = all->values[0];
  out[3] = all->values[all->found - 1];
  *nout = 4;
cleanup:
  hs_eig_free(top);
  hs_eig_free(all);
  hs_linop_destroy(op);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_train(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_trainer *t = NULL;
  double *theta = NULL;
  hs_status st = hs_alloc_make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  char log[300];
  snprintf(log, sizeof log, "%s/log.csv", in->dir);
  hs_train_options o = hs_train_defaults();
  o.optimizer = HS_OPT_ADAM;
  o.lr = 0.01;
  o.epochs = 1;
  o.batch = in->batch;
  o.seed = 5;
  o.checkpoint_dir = in->dir;
  o.keep_last = 1;
  o.log_path = log;
  if ((st = hs_trainer_create(m, d, d, &o, &t)) != HS_OK) goto cleanup;
  if ((st = hs_trainer_run(t)) != HS_OK) goto cleanup;
  size_t P = hs_model_num_params(m);
  theta = malloc(P * sizeof *theta);
  if ((st = hs_model_get_params(m, theta)) != HS_OK) goto cleanup;
  for (size_t i = 0; i < 6; i++) out[i] = theta[i * (P / 6)];
  out[6] = hs_trainer_epoch(t, hs_trainer_num_epochs(t) - 1)->loss;
  *nout = 7;
cleanup:
  free(theta);
  hs_trainer_destroy(t);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

/* [1, 5, 5] -> conv 2x3x3 p1 -> batchnorm -> relu -> avgpool 2 -> flatten -> linear 3 */
static hs_model_spec conv_spec(hs_context *ctx) {
  hs_shape in = {.rank = 3, .dim = {1, 5, 5}};
  hs_model_spec s = hs_test_layers(&in, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH);
  hs_test_conv(&s, 2, 3, 3, 1, 1, 1);
  hs_test_add(&s, HS_LAYER_BATCHNORM);
  hs_test_add(&s, HS_LAYER_RELU);
  hs_test_pool(&s, HS_LAYER_AVGPOOL, 2, 2);
  hs_test_add(&s, HS_LAYER_FLATTEN);
  hs_test_linear(&s, 3, 1);
  hs_test_finish(ctx, &s);
  return s;
}

Test(alloc_failure, loss) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("loss", run_loss, &s, 12, 4);
}

Test(alloc_failure, hvp) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("hvp", run_hvp, &s, 12, 4);
}

Test(alloc_failure, conv_loss_and_hvp) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_model_spec s = conv_spec(ctx);
  hs_context_destroy(ctx);
  hs_alloc_fail_every("conv loss", run_loss, &s, 6, 3);
  hs_alloc_fail_every("conv hvp", run_hvp, &s, 6, 3);
}

Test(alloc_failure, spectrum) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("spectrum", run_spectrum, &s, 12, 6);
}

Test(alloc_failure, eig) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("eig", run_eig, &s, 12, 12);
}

Test(alloc_failure, one_epoch_of_training) {
  hs_model_spec s = hs_alloc_mlp_spec();
  hs_alloc_fail_every("train", run_train, &s, 12, 4);
}
