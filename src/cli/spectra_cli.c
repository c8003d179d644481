#include "cli/spectra_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/context.h"
#include "io/npy.h"

const char hs_spectra_operator_help[] =
    "Operator (one of):\n"
    "  --model FILE ...    the Hessian of the model's loss over the data (common options below)\n"
    "  --ggn               with --model: the Gauss-Newton matrix J^T H_loss J instead\n"
    "  --matrix A.npy      an explicit symmetric n x n matrix\n"
    "  --sym-tol T         with --matrix: allowed |A_ij - A_ji| relative to max|A| (default 1e-10)\n";

static hs_status open_matrix(hs_context *ctx, const char *path, double tol, hs_linop **op) {
  double *A = NULL;
  hs_npy_shape sh;
  hs_status st = hs_npy_read_f64(ctx, path, HS_NPY_FINITE, &A, &sh);
  if (st != HS_OK) return st;
  if (sh.ndim != 2 || sh.dim[0] != sh.dim[1] || sh.dim[0] == 0) {
    char t[64];
    hs_npy_shape_str(&sh, t, sizeof t);
    st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s: expected a square n x n matrix", path, t);
  } else {
    st = hs_linop_matrix(ctx, sh.dim[0], A, tol, op);
    if (st != HS_OK) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
      hs_fail(ctx, st, "%s: %s", path, msg);
    }
  }
  free(A);
  return st;
}

int hs_spectra_parse_common(const char *cmd, hs_cli_opts *o, int argc, char **argv, int *i, int *ggn) {
  int r = hs_cli_parse_common(cmd, o, argc, argv, i);
  if (r != 0) return r;
  if (strcmp(argv[*i], "--ggn") == 0) {
    *ggn = 1;
    return 1;
  }
  return 0;
}

int hs_spectra_open(const char *cmd, const hs_cli_opts *o, int ggn, double sym_tol, hs_spectra_session *ss) {
  memset(ss, 0, sizeof *ss);
  ss->t0 = hs_now();
  int code;
  hs_status st;
  if (o->matrix) {
    if (o->model || o->inputs || o->dataset || o->weights)
      return hs_cli_usage(cmd, "--matrix excludes --model, --weights, --inputs and --dataset");
    if (ggn) return hs_cli_usage(cmd, "--ggn needs a model, not --matrix");
    if ((code = hs_cli_open_context(cmd, o, &ss->s))) return code;
    if ((st = open_matrix(ss->s.ctx, o->matrix, sym_tol, &ss->op)) != HS_OK) goto fail_st;
    ss->prov.operator_kind = "matrix";
    ss->prov.matrix = o->matrix;
  } else {
    if ((code = hs_cli_open(cmd, o, &ss->s))) return code;
    if ((st = hs_linop_model(ss->s.model, ggn ? HS_CURV_GGN : HS_CURV_HESSIAN, &ss->op)) != HS_OK) goto fail_st;
    ss->spec_json = hs_spec_to_json(hs_model_get_spec(ss->s.model));
    ss->prov.operator_kind = ggn ? "ggn" : "hessian";
    ss->prov.model_json = ss->spec_json;
    ss->prov.weights = o->weights;
    ss->prov.data = ss->s.data_desc;
    ss->prov.samples = hs_dataset_size(ss->s.data);
    ss->prov.batch = o->batch ? o->batch : ss->prov.samples;
  }
  ss->prov.command = cmd;
  ss->prov.dtype = o->dtype;
  ss->prov.backend = hs_backend_name(ss->s.ctx);
  ss->prov.device = hs_device_name(ss->s.ctx);
  ss->prov.seed = o->seed;
  return HS_EXIT_OK;
fail_st:
  code = hs_cli_fail(cmd, ss->s.ctx, st);
  hs_spectra_close(ss);
  return code;
}

void hs_spectra_finish(hs_spectra_session *ss) { ss->prov.elapsed = hs_now() - ss->t0; }

void hs_spectra_close(hs_spectra_session *ss) {
  hs_linop_destroy(ss->op);
  free(ss->spec_json);
  hs_cli_close(&ss->s);
  memset(ss, 0, sizeof *ss);
}
