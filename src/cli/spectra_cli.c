#include "cli/spectra_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "io/npy.h"

const hs_setting hs_spectra_options[] = {
    {.name = "matrix", .type = HS_SET_STRING, HS_SET_FIELD(hs_spectra_args, matrix), .metavar = "A.npy",
     .help = "an explicit symmetric n x n matrix instead of a model's Hessian"},
    {.name = "ggn", .type = HS_SET_FLAG, HS_SET_FIELD(hs_spectra_args, ggn),
     .help = "with --model: the Gauss-Newton matrix J^T H_loss J instead of the Hessian"},
    {.name = "sym-tol", .type = HS_SET_DOUBLE, HS_SET_FIELD(hs_spectra_args, sym_tol), .bounds = HS_SET_MIN, .min = 0,
     .metavar = "T", .help = "with --matrix: allowed |A_ij - A_ji| relative to max|A| (default 1e-10)"},
    {0}};

void hs_spectra_args_init(hs_spectra_args *a) {
  memset(a, 0, sizeof *a);
  a->sym_tol = 1e-10;
}

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

int hs_spectra_open(const char *cmd, const hs_cli_opts *o, const hs_spectra_args *sa, hs_spectra_session *ss) {
  int ggn = sa->ggn;
  memset(ss, 0, sizeof *ss);
  ss->t0 = hs_cli_now();
  int code;
  hs_status st;
  if (sa->matrix) {
    if (o->model || o->inputs || o->dataset || o->weights)
      return hs_cli_usage(cmd, "--matrix excludes --model, --weights, --inputs and --dataset");
    if (ggn) return hs_cli_usage(cmd, "--ggn needs a model, not --matrix");
    if ((code = hs_cli_open_context(cmd, o, &ss->s))) return code;
    if ((st = open_matrix(ss->s.ctx, sa->matrix, sa->sym_tol, &ss->op)) != HS_OK) goto fail_st;
    ss->prov.operator_kind = "matrix";
    ss->prov.matrix = sa->matrix;
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

void hs_spectra_finish(hs_spectra_session *ss) { ss->prov.elapsed = hs_cli_now() - ss->t0; }

void hs_spectra_close(hs_spectra_session *ss) {
  hs_linop_destroy(ss->op);
  free(ss->spec_json);
  hs_cli_close(&ss->s);
  memset(ss, 0, sizeof *ss);
}
