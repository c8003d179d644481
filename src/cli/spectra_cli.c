#include "cli/spectra_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mpi.h"
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
  if (!ss->desc || !ss->tensor_names) return hs_set_error(ss->s.ctx, HS_E_NOMEM, "out of host memory");
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
    st = hs_set_error(ctx, HS_E_INVALID, "%s: shape %s: expected a square n x n matrix", path, t);
  } else {
    st = hs_linop_matrix(ctx, sh.dim[0], A, tol, op);
    if (st != HS_OK) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
      hs_set_error(ctx, st, "%s: %s", path, msg);
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
  ss->t0 = hs_cli_now();
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

void hs_spectra_finish(hs_spectra_session *ss) { ss->prov.elapsed = hs_cli_now() - ss->t0; }

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

const hs_setting_choice hs_spectra_parallel_modes[] = {{"data", 0}, {"probes", 1}, {NULL, 0}};

void hs_spectra_set_parallel(int by_probes) { hs_cli_mpi_set_data_parallel(!by_probes); }

/* Probes of part r of R: r, r + R, ... < K */
static size_t part_probes(size_t K, size_t r, size_t R) { return (K - r + R - 1) / R; }

hs_status hs_spectra_gather_slq(hs_context *ctx, const hs_slq_options *so, hs_slq_result **rp) {
  hs_slq_result *mine = *rp, *all = NULL;
  const size_t R = so->parts > 1 ? so->parts : 1, K = so->probes, m = mine->steps;
  if (R == 1) return HS_OK;
  hs_status st = HS_OK;
  /* per rank: count (k), nodes (k m), weights (k m), then the accounting (5) */
  size_t *counts = calloc(R, sizeof *counts), total = 0;
  double *send = NULL, *recv = NULL;
  all = calloc(1, sizeof *all);
  if (!counts || !all) goto nomem;
  for (size_t r = 0; r < R; r++) total += counts[r] = part_probes(K, r, R) * (1 + 2 * m) + 5;
  size_t k = mine->probes, n_send = counts[so->part];
  send = malloc(n_send * sizeof *send);
  recv = malloc(total * sizeof *recv);
  *all = *mine; /* the scalars; every array of all is its own */
  all->count = NULL;
  all->nodes = all->weights = NULL;
  all->probes = K;
  all->count = calloc(K, sizeof *all->count);
  all->nodes = calloc(K * m, sizeof *all->nodes);
  all->weights = calloc(K * m, sizeof *all->weights);
  all->grid = all->density = all->density_se = NULL;
  if (!send || !recv || !all->count || !all->nodes || !all->weights) goto nomem;
  for (size_t j = 0; j < k; j++) send[j] = (double)mine->count[j];
  memcpy(send + k, mine->nodes, k * m * sizeof *send);
  memcpy(send + k + k * m, mine->weights, k * m * sizeof *send);
  double *acc = send + k * (1 + 2 * m);
  acc[0] = mine->t_apply;
  acc[1] = mine->t_reorth;
  acc[2] = mine->t_host;
  acc[3] = (double)mine->applies;
  acc[4] = (double)mine->reorth_passes;
  hs_cli_mpi_allgather(send, n_send, counts, recv);
  all->t_apply = all->t_reorth = all->t_host = 0;
  all->applies = all->reorth_passes = 0;
  const double *from = recv;
  for (size_t r = 0; r < R; r++) {
    size_t kr = part_probes(K, r, R);
    for (size_t j = 0; j < kr; j++) {
      size_t p = r + j * R; /* the global probe index of rank r's j-th probe */
      all->count[p] = (size_t)from[j];
      memcpy(all->nodes + p * m, from + kr + j * m, m * sizeof *all->nodes);
      memcpy(all->weights + p * m, from + kr + kr * m + j * m, m * sizeof *all->weights);
    }
    const double *a = from + kr * (1 + 2 * m);
    /* the slowest rank's times (they run at once); products and passes of all ranks */
    if (a[0] > all->t_apply) all->t_apply = a[0];
    if (a[1] > all->t_reorth) all->t_reorth = a[1];
    if (a[2] > all->t_host) all->t_host = a[2];
    all->applies += (size_t)a[3];
    all->reorth_passes += (size_t)a[4];
    from += counts[r];
  }
  double t0 = hs_cli_now();
  HS_TRY(hs_slq_summarise(ctx, so, all));
  all->t_total = mine->t_total + (hs_cli_now() - t0);
  hs_slq_free(mine); /* all shares none of its arrays */
  *rp = all;
  all = NULL;
  goto cleanup;
nomem:
  st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory gathering the probes");
cleanup:
  hs_slq_free(all);
  free(counts);
  free(send);
  free(recv);
  return st;
}

hs_status hs_spectra_gather_trace(hs_context *ctx, const hs_trace_options *to, hs_trace_result **rp) {
  hs_trace_result *mine = *rp, *all = NULL;
  const size_t R = to->parts > 1 ? to->parts : 1, K = to->probes;
  if (R == 1) return HS_OK;
  hs_status st = HS_OK;
  /* per rank: samples (k), then t_apply and applies */
  size_t *counts = calloc(R, sizeof *counts), total = 0;
  double *send = NULL, *recv = NULL;
  all = calloc(1, sizeof *all);
  if (!counts || !all) goto nomem;
  for (size_t r = 0; r < R; r++) total += counts[r] = part_probes(K, r, R) + 2;
  size_t k = mine->nsamples, n_send = counts[to->part];
  send = malloc(n_send * sizeof *send);
  recv = malloc(total * sizeof *recv);
  *all = *mine;
  all->probes = all->nsamples = K;
  all->samples = calloc(K, sizeof *all->samples);
  if (!send || !recv || !all->samples) goto nomem;
  memcpy(send, mine->samples, k * sizeof *send);
  send[k] = mine->t_apply;
  send[k + 1] = (double)mine->applies;
  hs_cli_mpi_allgather(send, n_send, counts, recv);
  all->t_apply = 0;
  all->applies = 0;
  const double *from = recv;
  for (size_t r = 0; r < R; r++) {
    size_t kr = part_probes(K, r, R);
    for (size_t j = 0; j < kr; j++) all->samples[r + j * R] = from[j];
    if (from[kr] > all->t_apply) all->t_apply = from[kr];
    all->applies += (size_t)from[kr + 1];
    from += counts[r];
  }
  hs_trace_summarise(all);
  hs_trace_free(mine);
  *rp = all;
  all = NULL;
  goto cleanup;
nomem:
  st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory gathering the probes");
cleanup:
  hs_trace_free(all);
  free(counts);
  free(send);
  free(recv);
  return st;
}
