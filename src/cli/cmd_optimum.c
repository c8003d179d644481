/* hesspec optimum: the closed-form global minimum of a linear-activation mse network
 * (analysis/optimum.h); --weights-out writes a factorisation into the network's layers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"

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
  hs_linear_optimum_result r;
  hs_status st = hs_linear_optimum(s.model, weights_out != NULL, &r);
  if (st == HS_OK && weights_out) st = hs_model_save(s.model, weights_out, o.dtype);
  if (st == HS_OK) {
    const hs_run_info info = {.data = s.data_desc, .elapsed = hs_cli_now() - t0, .seed = o.seed};
    st = hs_linear_optimum_save(s.model, &r, &info, weights_out, o.out);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, s.ctx, st);
  } else if (!o.quiet) {
    printf("optimum %.17g (%s, rank bound %zu, map rank %zu%s)\n", r.loss, r.method, r.rank, r.map_rank,
           r.bias ? ", with bias" : "");
    if (r.reduced) printf("unconstrained least squares %.17g\n", r.least_squares_loss);
    if (weights_out) printf("factorisation loss %.17g, wrote %s\n", r.factorisation_loss, weights_out);
    printf("wrote %s\n", o.out);
  }
  hs_linear_optimum_free(&r);
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
