/* hs_linear_optimum: the closed-form optimum of analysis/optimum.h on a bound model, and its
 * "hesspec.optimum/1" file. */
#include "api/api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/optimum.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "io/result_json.h"
#include "nn/model.h"

void hs_linear_optimum_free(hs_linear_optimum_result *r) {
  if (!r) return;
  free(r->theta);
  memset(r, 0, sizeof *r);
}

hs_status hs_linear_optimum(hs_model *m, int factorise, hs_linear_optimum_result *out) {
  memset(out, 0, sizeof *out);
  hs_context *ctx = hs_model_context(m);
  const hs_model_spec *spec = hs_model_get_spec(m);
  if (!m->data) return hs_fail(ctx, HS_E_INVALID, "optimum: the model is bound to no data (hs_model_bind)");
  const size_t P = hs_model_num_params(m);
  hs_optimum *opt = NULL;
  double *theta = NULL;
  hs_status st = hs_optimum_check(ctx, spec);
  if (st != HS_OK) return st;
  HS_TRY(hs_optimum_solve(ctx, spec, m->data, &opt));
  *out = (hs_linear_optimum_result){.loss = opt->loss, .least_squares_loss = opt->ls_loss, .rank = opt->rank,
                                    .map_rank = opt->map_rank, .method = opt->method, .reduced = opt->reduced,
                                    .bias = opt->bias, .params = P, .factorisation_loss = NAN};
  if (factorise) {
    if (!(theta = hs_malloc(P * sizeof *theta))) {
      st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
      goto cleanup;
    }
    HS_TRY(hs_optimum_factorise(m, opt, theta));
    HS_TRY(hs_model_set_params(m, theta));
    HS_TRY(hs_model_loss_grad(m, &out->factorisation_loss, NULL));
    out->theta = theta;
    theta = NULL;
  }
cleanup:
  if (st != HS_OK) memset(out, 0, sizeof *out);
  free(theta);
  hs_optimum_free(opt);
  return st;
}

hs_status hs_linear_optimum_save(hs_model *m, const hs_linear_optimum_result *r, const hs_run_info *info,
                                 const char *weights_out, const char *path) {
  hs_context *ctx = hs_model_context(m);
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "optimum save: no path given");
  const hs_run_info in = info ? *info : (hs_run_info){0};
  hs_provenance prov;
  char *spec_json;
  hs_status st = hs_api_model_provenance(m, "optimum", "loss", NULL, in.data, in.seed, in.elapsed, &prov, &spec_json);
  if (st != HS_OK) return st;
  hs_json_oom_clear(); /* hs_json_write fails if building the tree ran out */
  cJSON *root = cJSON_CreateObject();
  if (!root) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  cJSON_AddStringToObject(root, "format", "hesspec.optimum/1");
  hs_json_add_provenance(root, &prov);
  cJSON_ReplaceItemInObject(root, "weights", cJSON_CreateNull());
  cJSON_AddNumberToObject(root, "loss", r->loss);
  cJSON_AddStringToObject(root, "loss_is", "(1/N) sum_i 0.5 ||f(x_i) - y_i||^2, the model's mse");
  cJSON_AddNumberToObject(root, "rank", (double)r->rank);
  cJSON_AddStringToObject(root, "rank_is", "the bound min(input, output, hidden widths) on the end-to-end map's rank");
  cJSON_AddNumberToObject(root, "map_rank", (double)r->map_rank);
  cJSON_AddStringToObject(root, "method", r->method ? r->method : "");
  cJSON_AddBoolToObject(root, "bias", r->bias);
  cJSON_AddNumberToObject(root, "least_squares_loss", r->least_squares_loss);
  cJSON_AddNumberToObject(root, "params", (double)r->params);
  if (weights_out) {
    cJSON_AddStringToObject(root, "weights_out", weights_out);
    cJSON_AddNumberToObject(root, "factorisation_loss", r->factorisation_loss);
  }
  st = hs_json_write(ctx, path, root);
cleanup:
  cJSON_Delete(root);
  free(spec_json);
  return st;
}
