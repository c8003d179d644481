/* hesspec loss: the loss and gradient norm at the given parameters; --out writes the
 * gradient (P,) as .npy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/common.h"

static const hs_setting *const tables[] = {hs_cli_common_options, NULL};

static int run(int argc, char **argv) {
  const char *cmd = "loss";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_cli_binding b[] = {{hs_cli_common_options, &o}};
  if (hs_cli_parse(cmd, b, 1, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  hs_cli_session s;
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  size_t P = hs_model_num_params(s.model);
  double *grad = malloc(P * sizeof *grad), loss, acc = -1;
  hs_status st = grad ? HS_OK : HS_E_NOMEM;
  if (st == HS_OK) st = hs_model_loss_grad(s.model, &loss, grad);
  if (st == HS_OK && hs_model_get_spec(s.model)->loss == HS_LOSS_CROSS_ENTROPY) st = hs_model_accuracy(s.model, &acc);
  if (st == HS_OK && o.out) st = hs_array_save(s.ctx, o.out, o.dtype, grad, 1, &P);
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, s.ctx, st);
  } else {
    double gn = 0;
    for (size_t i = 0; i < P; i++) gn += grad[i] * grad[i];
    printf("loss %.17g\ngrad_norm %.17g\nparams %zu\n", loss, sqrt(gn), P);
    if (acc >= 0) printf("accuracy %.6f\n", acc);
    printf("data %s\nbackend %s (%s), dtype %s\n", s.data_desc, hs_backend_name(s.ctx), hs_device_name(s.ctx),
           hs_dtype_name(o.dtype));
  }
  free(grad);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_loss = {
    .name = "loss",
    .run = run,
    .summary = "loss and gradient norm; --out writes the gradient",
    .usage = "usage: hesspec loss --model M.json [--weights W.safetensors] DATA [--out GRAD.npy]\n\n"
    "Prints the loss over the data (the sample-weighted mean over batches, plus weight\n"
    "decay), the gradient norm, the parameter count and, for classifiers, the accuracy.\n"
    "--out writes the gradient as a (P,) .npy in the parameter order of DESIGN.md.\n",
    .options = tables};
