#include "cli/spectra_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/context.h"
#include "io/npy.h"

static const hs_setting_choice operators[] = {
    {"hessian", HS_CURV_HESSIAN}, {"ggn", HS_CURV_GGN}, {"residual", HS_CURV_RESIDUAL}, {NULL, 0}};
_Static_assert(sizeof(hs_curvature) == sizeof(int), "a choice field is an int");

const hs_setting hs_spectra_options[] = {
    {.name = "matrix", .type = HS_SET_STRING, HS_SET_FIELD(hs_spectra_args, matrix), .metavar = "A.npy",
     .help = "an explicit symmetric n x n matrix instead of a model's Hessian"},
    {.name = "ggn", .type = HS_SET_FLAG, HS_SET_FIELD(hs_spectra_args, ggn),
     .help = "with --model: the Gauss-Newton matrix J^T H_loss J instead of the Hessian (= --operator ggn)"},
    {.name = "operator", .type = HS_SET_CHOICE, HS_SET_FIELD(hs_spectra_args, curv), .choices = operators,
     .help = "with --model: hessian (default) H, ggn (the Gauss-Newton matrix G) or residual (H - G)"},
    {.name = "block", .type = HS_SET_STRING, HS_SET_FIELD(hs_spectra_args, block), .metavar = "NAME|all",
     .help = "with --model: the diagonal block of one tensor (blocks.1.linear.weight) or one layer\n"
             "(blocks.1.linear, layers.3.body.0); all: every layer, one file (docs/spectra.md)"},
    {.name = "sym-tol", .type = HS_SET_DOUBLE, HS_SET_FIELD(hs_spectra_args, sym_tol), .bounds = HS_SET_MIN, .min = 0,
     .metavar = "T", .help = "with --matrix: allowed |A_ij - A_ji| relative to max|A| (default 1e-10)"},
    {0}};

void hs_spectra_args_init(hs_spectra_args *a) {
  memset(a, 0, sizeof *a);
  a->sym_tol = 1e-10;
  a->curv = -1;
}

static const char *curv_name(hs_curvature c) {
  return c == HS_CURV_GGN ? "ggn" : c == HS_CURV_RESIDUAL ? "residual" : "hessian";
}

/* The blocks' descriptions for the files: names and their model tensors. */
static hs_status describe_blocks(hs_spectra_session *ss) {
  hs_model *m = ss->s.model;
  size_t T = hs_model_num_tensors(m);
  ss->desc = calloc(ss->blocks.n, sizeof *ss->desc);
  ss->tensor_names = calloc(T, sizeof *ss->tensor_names);
  if (!ss->desc || !ss->tensor_names) return hs_fail(ss->s.ctx, HS_E_NOMEM, "out of host memory");
  for (size_t i = 0; i < T; i++) ss->tensor_names[i] = hs_model_tensor(m, i)->name;
  for (size_t b = 0; b < ss->blocks.n; b++) {
    const hs_param_block *pb = &ss->blocks.b[b];
    ss->desc[b] = (hs_block_desc){.name = pb->name, .params = pb->params, .ntensors = pb->ntensors,
                                  .tensors = ss->tensor_names + pb->first_tensor};
  }
  return HS_OK;
}

hs_status hs_spectra_block(hs_spectra_session *ss, size_t b, hs_linop **op) {
  const hs_param_block *pb = &ss->blocks.b[b];
  return hs_linop_block(ss->base, pb->nseg, pb->segs, op);
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
  if (ggn && sa->curv >= 0 && sa->curv != HS_CURV_GGN)
    return hs_cli_usage(cmd, "--ggn conflicts with --operator %s", curv_name((hs_curvature)sa->curv));
  hs_curvature curv = sa->curv >= 0 ? (hs_curvature)sa->curv : ggn ? HS_CURV_GGN : HS_CURV_HESSIAN;
  if (sa->block && (!*sa->block || *sa->block == '-'))
    return hs_cli_usage(cmd, "--block '%s': expected a tensor or layer name, or all", sa->block);
  ss->t0 = hs_now();
  int code;
  hs_status st;
  if (sa->matrix) {
    if (o->model || o->inputs || o->dataset || o->weights)
      return hs_cli_usage(cmd, "--matrix excludes --model, --weights, --inputs and --dataset");
    if (ggn || sa->curv >= 0) return hs_cli_usage(cmd, "--operator/--ggn needs a model, not --matrix");
    if (sa->block) return hs_cli_usage(cmd, "--block needs a model (tensor names), not --matrix");
    if ((code = hs_cli_open_context(cmd, o, &ss->s))) return code;
    if ((st = open_matrix(ss->s.ctx, sa->matrix, sa->sym_tol, &ss->op)) != HS_OK) goto fail_st;
    ss->prov.operator_kind = "matrix";
    ss->prov.matrix = sa->matrix;
  } else {
    if ((code = hs_cli_open(cmd, o, &ss->s))) return code;
    if ((st = hs_linop_model(ss->s.model, curv, &ss->op)) != HS_OK) goto fail_st;
    if (sa->block) {
      ss->base = ss->op;
      ss->op = NULL;
      if ((st = hs_blocks_resolve(ss->s.ctx, ss->s.model, sa->block, &ss->blocks)) != HS_OK ||
          (st = describe_blocks(ss)) != HS_OK)
        goto fail_st;
      ss->all = strcmp(sa->block, "all") == 0;
      ss->prov.model_params = hs_model_num_params(ss->s.model);
      if (!ss->all) {
        if ((st = hs_spectra_block(ss, 0, &ss->op)) != HS_OK) goto fail_st;
        ss->prov.block = &ss->desc[0];
      }
    }
    ss->spec_json = hs_spec_to_json(hs_model_get_spec(ss->s.model));
    ss->prov.operator_kind = curv_name(curv);
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
  hs_linop_destroy(ss->base);
  hs_blocks_free(&ss->blocks);
  free(ss->desc);
  free(ss->tensor_names);
  free(ss->spec_json);
  hs_cli_close(&ss->s);
  memset(ss, 0, sizeof *ss);
}
