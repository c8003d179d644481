/* hesspec hvp: Hessian- (or Gauss-Newton-) vector products for vectors from a .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/clock.h"
#include "core/context.h"
#include "io/npy.h"

static int run(int argc, char **argv) {
  const char *cmd = "hvp", *vectors = NULL;
  int ggn = 0;
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  for (int i = 1; i < argc; i++) {
    int r = hs_cli_parse_common(cmd, &o, argc, argv, &i);
    if (r < 0) return HS_EXIT_USAGE;
    if (r == 1) continue;
    if (strcmp(argv[i], "--vectors") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &vectors) < 0) return HS_EXIT_USAGE;
    } else if (strcmp(argv[i], "--ggn") == 0) {
      ggn = 1;
    } else {
      return hs_cli_usage(cmd, "unknown option '%s'", argv[i]);
    }
  }
  if (!vectors) return hs_cli_usage(cmd, "--vectors V.npy is required");
  if (!o.out) return hs_cli_usage(cmd, "--out HV.npy is required");
  hs_cli_session s;
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  size_t P = hs_model_num_params(s.model), k = 0;
  double *V = NULL, *HV = NULL;
  hs_npy_shape vs;
  hs_status st = hs_npy_read_f64(s.ctx, vectors, HS_NPY_FINITE, &V, &vs);
  if (st == HS_OK) {
    int ok = (vs.ndim == 1 && vs.dim[0] == P) || (vs.ndim == 2 && vs.dim[1] == P && vs.dim[0] > 0);
    if (!ok) {
      char sh[64];
      hs_npy_shape_str(&vs, sh, sizeof sh);
      st = hs_fail(s.ctx, HS_E_INVALID, "%s: shape %s, but the model has P = %zu parameters: expected (%zu,) or (k, %zu)",
                          vectors, sh, P, P, P);
    } else {
      k = vs.ndim == 1 ? 1 : vs.dim[0];
    }
  }
  if (st == HS_OK && !(HV = malloc(k * P * sizeof *HV))) st = HS_E_NOMEM;
  double t0 = hs_now();
  if (st == HS_OK) st = hs_model_hvp(s.model, ggn ? HS_CURV_GGN : HS_CURV_HESSIAN, k, V, HV);
  double seconds = hs_now() - t0;
  if (st == HS_OK) st = hs_npy_write_f64(s.ctx, o.out, o.dtype, HV, vs.ndim, vs.dim);
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, s.ctx, st);
  } else if (!o.quiet) {
    fprintf(stderr, "hesspec hvp: %zu %s product%s of P = %zu in %.3f s (%s, %s) -> %s\n", k, ggn ? "Gauss-Newton" : "Hessian",
            k > 1 ? "s" : "", P, seconds, hs_backend_name(s.ctx), hs_dtype_name(o.dtype), o.out);
  }
  free(V);
  free(HV);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_hvp = {
    "hvp", run, "Hessian-vector products (--ggn: Gauss-Newton)",
    "usage: hesspec hvp --model M.json [--weights W] DATA --vectors V.npy --out HV.npy [--ggn]\n\n"
    "V has shape (P,) or (k, P) in the parameter order of DESIGN.md; HV gets the same shape.\n"
    "k vectors are applied as one block (every GEMM k times wider). --ggn gives J^T H_loss J v.\n"};
