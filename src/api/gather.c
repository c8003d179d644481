/* Probe-parallel runs of hs_spectrum and hs_trace_estimate (docs/mpi.md): every part's rules
 * or samples gathered through the caller's allgather hook into the result of all probes, in
 * probe order, then summarised as one process's run. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"

/* Probes of part r of R: r, r + R, ... < K */
static size_t part_probes(size_t K, size_t r, size_t R) { return (K - r + R - 1) / R; }

hs_status hs_api_gather_slq(hs_context *ctx, const hs_slq_options *so, hs_allgather_fn gather, void *user,
                            hs_slq_result **rp) {
  hs_slq_result *mine = *rp, *all = NULL;
  const size_t R = so->parts > 1 ? so->parts : 1, K = so->probes, m = mine->steps;
  if (R == 1) return HS_OK;
  hs_status st = HS_OK;
  /* per rank: count (k), nodes (k m), weights (k m), then the accounting (5) */
  size_t *counts = hs_calloc(R, sizeof *counts), total = 0;
  double *send = NULL, *recv = NULL;
  all = hs_calloc(1, sizeof *all);
  if (!counts || !all) goto nomem;
  for (size_t r = 0; r < R; r++) total += counts[r] = part_probes(K, r, R) * (1 + 2 * m) + 5;
  size_t k = mine->probes, n_send = counts[so->part];
  send = hs_malloc(n_send * sizeof *send);
  recv = hs_malloc(total * sizeof *recv);
  *all = *mine; /* the scalars; every array of all is its own */
  all->count = NULL;
  all->nodes = all->weights = NULL;
  all->probes = K;
  all->count = hs_calloc(K, sizeof *all->count);
  all->nodes = hs_calloc(K * m, sizeof *all->nodes);
  all->weights = hs_calloc(K * m, sizeof *all->weights);
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
  HS_TRY(gather(user, send, n_send, counts, recv));
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
  double t0 = hs_now();
  HS_TRY(hs_slq_summarise(ctx, so, all));
  all->t_total = mine->t_total + (hs_now() - t0);
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

hs_status hs_api_gather_trace(hs_context *ctx, const hs_trace_options *to, hs_allgather_fn gather, void *user,
                              hs_trace_result **rp) {
  hs_trace_result *mine = *rp, *all = NULL;
  const size_t R = to->parts > 1 ? to->parts : 1, K = to->probes;
  if (R == 1) return HS_OK;
  hs_status st = HS_OK;
  /* per rank: samples (k), then t_apply and applies */
  size_t *counts = hs_calloc(R, sizeof *counts), total = 0;
  double *send = NULL, *recv = NULL;
  all = hs_calloc(1, sizeof *all);
  if (!counts || !all) goto nomem;
  for (size_t r = 0; r < R; r++) total += counts[r] = part_probes(K, r, R) + 2;
  size_t k = mine->nsamples, n_send = counts[to->part];
  send = hs_malloc(n_send * sizeof *send);
  recv = hs_malloc(total * sizeof *recv);
  *all = *mine;
  all->probes = all->nsamples = K;
  all->samples = hs_calloc(K, sizeof *all->samples);
  if (!send || !recv || !all->samples) goto nomem;
  memcpy(send, mine->samples, k * sizeof *send);
  send[k] = mine->t_apply;
  send[k + 1] = (double)mine->applies;
  HS_TRY(gather(user, send, n_send, counts, recv));
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
