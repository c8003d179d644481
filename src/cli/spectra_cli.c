#include "cli/spectra_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "cli/mpi.h"
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
  ss->t0 = hs_cli_now();
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

void hs_spectra_finish(hs_spectra_session *ss) { ss->prov.elapsed = hs_cli_now() - ss->t0; }

void hs_spectra_close(hs_spectra_session *ss) {
  hs_linop_destroy(ss->op);
  free(ss->spec_json);
  hs_cli_close(&ss->s);
  memset(ss, 0, sizeof *ss);
}

int hs_spectra_parallel(const char *cmd, const char *value, int *probes) {
  if (strcmp(value, "data") == 0) *probes = 0;
  else if (strcmp(value, "probes") == 0) *probes = 1;
  else return hs_cli_usage(cmd, "--parallel '%s': expected data or probes", value), -1;
  hs_cli_mpi_set_data_parallel(!*probes);
  return 1;
}

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
  st = hs_fail(ctx, HS_E_NOMEM, "out of host memory gathering the probes");
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
  st = hs_fail(ctx, HS_E_NOMEM, "out of host memory gathering the probes");
cleanup:
  hs_trace_free(all);
  free(counts);
  free(send);
  free(recv);
  return st;
}
