/* hesspec optimum: the closed-form global minimum of a linear-activation mse network
 * (analysis/optimum.h); --weights-out writes a factorisation into the network's layers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/optimum.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"
#include "core/alloc.h"
#include "io/result_json.h"
#include "nn/dataset.h"

typedef struct {
  const char *weights_out;
} optimum_args;

static const hs_setting optimum_options[] = {
    {.name = "weights-out", .type = HS_SET_STRING, HS_SET_FIELD(optimum_args, weights_out), .metavar = "W.safetensors",
     .help = "parameters attaining the optimum, factorised into the network's layers (SVD\n"
             "split, identity on the inner layers); the file records their loss as the model\n"
             "computes it (factorisation_loss)"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, optimum_options, NULL};

static int run(int argc, char **argv) {
  const char *cmd = "optimum";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  optimum_args oa = {0};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {optimum_options, &oa}};
  if (hs_cli_parse(cmd, b, 2, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  const char *weights_out = oa.weights_out;
  if (o.weights) return hs_cli_usage(cmd, "--weights: the optimum does not depend on parameters (use --weights-out to write it)");
  if (!o.out) return hs_cli_usage(cmd, "--out O.json is required (the optimum file)");
  double t0 = hs_cli_now();
  hs_cli_session s;
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  hs_context *ctx = s.ctx;
  const hs_model_spec *spec = hs_model_get_spec(s.model);
  size_t P = hs_model_num_params(s.model);
  hs_optimum *opt = NULL;
  double *theta = NULL, fact_loss = 0;
  char *spec_json = hs_spec_to_json(spec);
  hs_json_oom_clear(); /* hs_json_write fails if building the tree ran out */
  cJSON *root = cJSON_CreateObject();
  hs_status st;
  if (!spec_json || !root) { st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  HS_TRY(hs_optimum_check(ctx, spec));
  HS_TRY(hs_optimum_solve(ctx, spec, s.data, &opt));
  if (weights_out) {
    if (!(theta = malloc(P * sizeof *theta))) { st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
    HS_TRY(hs_optimum_factorise(s.model, opt, theta));
    HS_TRY(hs_model_set_params(s.model, theta));
    HS_TRY(hs_model_loss_grad(s.model, &fact_loss, NULL));
    HS_TRY(hs_model_save(s.model, weights_out, o.dtype));
  }
  hs_provenance prov = {.command = cmd, .operator_kind = "loss", .model_json = spec_json, .weights = NULL,
                        .data = s.data_desc, .samples = hs_dataset_size(s.data),
                        .batch = o.batch ? o.batch : hs_dataset_size(s.data), .dtype = o.dtype,
                        .backend = hs_backend_name(ctx), .device = hs_device_name(ctx), .seed = o.seed,
                        .elapsed = hs_cli_now() - t0};
  cJSON_AddStringToObject(root, "format", "hesspec.optimum/1");
  hs_json_add_provenance(root, &prov);
  cJSON_ReplaceItemInObject(root, "weights", cJSON_CreateNull());
  cJSON_AddNumberToObject(root, "loss", opt->loss);
  cJSON_AddStringToObject(root, "loss_is", "(1/N) sum_i 0.5 ||f(x_i) - y_i||^2, the model's mse");
  cJSON_AddNumberToObject(root, "rank", (double)opt->rank);
  cJSON_AddStringToObject(root, "rank_is", "the bound min(input, output, hidden widths) on the end-to-end map's rank");
  cJSON_AddNumberToObject(root, "map_rank", (double)opt->map_rank);
  cJSON_AddStringToObject(root, "method", opt->method);
  cJSON_AddBoolToObject(root, "bias", opt->bias);
  cJSON_AddNumberToObject(root, "least_squares_loss", opt->ls_loss);
  cJSON_AddNumberToObject(root, "params", (double)P);
  if (weights_out) {
    cJSON_AddStringToObject(root, "weights_out", weights_out);
    cJSON_AddNumberToObject(root, "factorisation_loss", fact_loss);
  }
  HS_TRY(hs_json_write(ctx, o.out, root));
  if (!o.quiet) {
    printf("optimum %.17g (%s, rank bound %zu, map rank %zu%s)\n", opt->loss, opt->method, opt->rank, opt->map_rank,
           opt->bias ? ", with bias" : "");
    if (opt->reduced) printf("unconstrained least squares %.17g\n", opt->ls_loss);
    if (weights_out) printf("factorisation loss %.17g, wrote %s\n", fact_loss, weights_out);
    printf("wrote %s\n", o.out);
  }
cleanup:
  if (st != HS_OK) code = hs_cli_fail(cmd, ctx, st);
  cJSON_Delete(root);
  free(spec_json);
  free(theta);
  hs_optimum_free(opt);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_optimum = {
    .name = "optimum",
    .run = run,
    .summary = "closed-form global minimum of a linear mse network (least squares / reduced rank)",
    .usage = "usage: hesspec optimum --model M.json DATA --out O.json [--weights-out W.safetensors]\n\n"
    "For a network with linear activations and mse loss (no batch norm, no weight decay): the\n"
    "minimum of the loss over all parameters, in closed form. Its end-to-end map is the least-squares\n"
    "fit (with a free output bias when the last layer has one), or, when a hidden width r is below\n"
    "min(input, output), the reduced-rank fit (Eckart-Young on the fitted values). --out writes\n"
    "\"hesspec.optimum/1\": loss, rank (the bound), map_rank, method (least_squares | reduced_rank),\n"
    "least_squares_loss. Non-linear, batch-norm or cross-entropy models exit 2 with the reason.\n",
    .options = tables};
