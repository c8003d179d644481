#include "cli/spectra_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mpi.h"
#include "cli/options.h"

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

hs_status hs_spectra_layer(hs_spectra_session *ss, size_t b, hs_operator **op) {
  return hs_operator_block(ss->whole, hs_operator_layer_name(ss->whole, b), op);
}

/* An exit code (messages printed). */
static int open_matrix(const char *cmd, hs_context *ctx, const char *path, double tol, hs_operator **op) {
  hs_array A;
  hs_status st = hs_array_load(ctx, path, &A);
  if (st != HS_OK) return hs_cli_fail(cmd, ctx, st);
  int code = HS_EXIT_OK;
  if (A.ndim != 2 || A.dim[0] != A.dim[1] || A.dim[0] == 0) {
    char t[64];
    hs_array_shape_string(A.ndim, A.dim, t, sizeof t);
    code = hs_cli_usage(cmd, "%s: shape %s: expected a square n x n matrix", path, t);
  } else if ((st = hs_operator_matrix(ctx, A.dim[0], A.data, tol, op)) != HS_OK) {
    code = hs_cli_exit_code(st);
    fprintf(stderr, "hesspec %s: %s: %s\n", cmd, path, hs_last_error(ctx));
  }
  hs_array_free(&A);
  return code;
}

int hs_spectra_open(const char *cmd, const hs_cli_opts *o, const hs_spectra_args *sa, hs_spectra_session *ss) {
  int ggn = sa->ggn;
  memset(ss, 0, sizeof *ss);
  if (ggn && sa->curv >= 0 && sa->curv != HS_CURV_GGN)
    return hs_cli_usage(cmd, "--ggn conflicts with --operator %s",
                        hs_setting_choice_name(hs_setting_find(hs_spectra_options, "operator", 0), sa->curv));
  hs_curvature curv = sa->curv >= 0 ? (hs_curvature)sa->curv : ggn ? HS_CURV_GGN : HS_CURV_HESSIAN;
  if (sa->block && (!*sa->block || *sa->block == '-'))
    return hs_cli_usage(cmd, "--block '%s': expected a tensor or layer name, or all", sa->block);
  ss->t0 = hs_cli_now();
  int code;
  hs_status st;
  if (sa->matrix) {
    if (o->model || o->inputs || o->dataset || o->weights)
      return hs_cli_usage(cmd, "--matrix excludes --model, --weights, --inputs and --dataset");
    if (ggn || sa->curv >= 0) return hs_cli_usage(cmd, "--operator/--ggn needs a model, not --matrix");
    if (sa->block) return hs_cli_usage(cmd, "--block needs a model (tensor names), not --matrix");
    if ((code = hs_cli_open_context(cmd, o, &ss->s))) return code;
    if ((code = open_matrix(cmd, ss->s.ctx, sa->matrix, sa->sym_tol, &ss->whole))) goto fail;
    ss->info.data = sa->matrix;
    ss->op = ss->whole;
    return HS_EXIT_OK;
  }
  if ((code = hs_cli_open(cmd, o, &ss->s))) return code;
  ss->info.weights = o->weights;
  ss->info.data = ss->s.data_desc;
  if ((st = hs_operator_model(ss->s.model, curv, &ss->whole)) != HS_OK) goto fail_st;
  ss->all = sa->block && strcmp(sa->block, "all") == 0;
  if (ss->all) st = hs_operator_layers(ss->whole, &ss->nlayers);
  else if (sa->block) st = hs_operator_block(ss->whole, sa->block, &ss->op);
  else ss->op = ss->whole;
  if (st != HS_OK) goto fail_st;
  return HS_EXIT_OK;
fail_st:
  code = hs_cli_fail(cmd, ss->s.ctx, st);
fail:
  hs_spectra_close(ss);
  return code;
}

void hs_spectra_finish(hs_spectra_session *ss) { ss->info.elapsed = hs_cli_now() - ss->t0; }

void hs_spectra_close(hs_spectra_session *ss) {
  if (ss->op != ss->whole) hs_operator_destroy(ss->op);
  hs_operator_destroy(ss->whole);
  hs_cli_close(&ss->s);
  memset(ss, 0, sizeof *ss);
}

const hs_setting_choice hs_spectra_parallel_modes[] = {{"data", 0}, {"probes", 1}, {NULL, 0}};

int hs_spectra_parallel(const char *cmd, int by_probes, size_t probes, size_t *part, size_t *parts,
                        hs_allgather_fn *allgather) {
  hs_cli_mpi_set_data_parallel(!by_probes);
  const int ranks = hs_cli_mpi_ranks();
  if (!by_probes || ranks <= 1) return HS_EXIT_OK;
  if (probes < (size_t)ranks)
    return hs_cli_usage(cmd, "--parallel probes with %zu probes on %d ranks: every rank needs a probe", probes, ranks);
  *part = (size_t)hs_cli_mpi_rank();
  *parts = (size_t)ranks;
  *allgather = hs_cli_mpi_allgather;
  return HS_EXIT_OK;
}
