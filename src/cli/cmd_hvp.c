/* hesspec hvp: Hessian- (or Gauss-Newton-) vector products for vectors from a .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/common.h"

typedef struct {
  const char *vectors;
  int ggn;
} hvp_args;

static const hs_setting hvp_options[] = {
    {.name = "vectors", .type = HS_SET_STRING, HS_SET_FIELD(hvp_args, vectors), .metavar = "V.npy",
     .help = "directions, shape (P,) or (k, P), in parameter order (required)"},
    {.name = "ggn", .type = HS_SET_FLAG, HS_SET_FIELD(hvp_args, ggn), .help = "Gauss-Newton products G V instead of H V"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, hvp_options, NULL};

static int run(int argc, char **argv) {
  const char *cmd = "hvp";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hvp_args ha = {0};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {hvp_options, &ha}};
  if (hs_cli_parse(cmd, b, 2, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  const char *vectors = ha.vectors;
  int ggn = ha.ggn;
  if (!vectors) return hs_cli_usage(cmd, "--vectors V.npy is required");
  if (!o.out) return hs_cli_usage(cmd, "--out HV.npy is required");
  hs_cli_session s;
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  size_t P = hs_model_num_params(s.model), k = 0;
  double *HV = NULL, seconds = 0, t0;
  hs_array V;
  hs_status st = hs_array_load(s.ctx, vectors, &V);
  if (st != HS_OK) goto report;
  if (!((V.ndim == 1 && V.dim[0] == P) || (V.ndim == 2 && V.dim[1] == P && V.dim[0] > 0))) {
    char sh[64];
    hs_array_shape_string(V.ndim, V.dim, sh, sizeof sh);
    code = hs_cli_usage(cmd, "%s: shape %s, but the model has P = %zu parameters: expected (%zu,) or (k, %zu)",
                        vectors, sh, P, P, P);
    goto done;
  }
  k = V.ndim == 1 ? 1 : V.dim[0];
  if (!(HV = malloc(k * P * sizeof *HV))) st = hs_set_error(s.ctx, HS_E_NOMEM, "out of host memory");
  t0 = hs_cli_now();
  if (st == HS_OK) st = hs_model_hvp(s.model, ggn ? HS_CURV_GGN : HS_CURV_HESSIAN, k, V.data, HV);
  seconds = hs_cli_now() - t0;
  if (st == HS_OK) st = hs_array_save(s.ctx, o.out, o.dtype, HV, V.ndim, V.dim);
report:
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, s.ctx, st);
  } else if (!o.quiet) {
    fprintf(stderr, "hesspec hvp: %zu %s product%s of P = %zu in %.3f s (%s, %s) -> %s\n", k, ggn ? "Gauss-Newton" : "Hessian",
            k > 1 ? "s" : "", P, seconds, hs_backend_name(s.ctx), hs_dtype_name(o.dtype), o.out);
  }
done:
  hs_array_free(&V);
  free(HV);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_hvp = {
    .name = "hvp",
    .run = run,
    .summary = "Hessian-vector products (--ggn: Gauss-Newton)",
    .usage = "usage: hesspec hvp --model M.json [--weights W] DATA --vectors V.npy --out HV.npy [--ggn]\n\n"
    "V has shape (P,) or (k, P) in the parameter order of DESIGN.md; HV gets the same shape.\n"
    "k vectors are applied as one block (every GEMM k times wider). --ggn gives J^T H_loss J v.\n",
    .options = tables};
