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

/* The buffers of one allgather of R parts: part r sends per_probe doubles for each of its
 * probes, then `extra` doubles of accounting, counts[r] in all. */
typedef struct {
  size_t *counts, n_send;
  double *send, *recv; /* (n_send) this part's; (sum counts) every part's, in part order */
} exchange;

static hs_status exchange_open(hs_context *ctx, size_t R, size_t K, size_t part, size_t per_probe, size_t extra,
                               exchange *x) {
  memset(x, 0, sizeof *x);
  size_t total = 0;
  if (!(x->counts = hs_calloc(R, sizeof *x->counts))) goto nomem;
  for (size_t r = 0; r < R; r++) total += x->counts[r] = part_probes(K, r, R) * per_probe + extra;
  x->n_send = x->counts[part];
  x->send = hs_malloc(x->n_send * sizeof *x->send);
  x->recv = hs_malloc(total * sizeof *x->recv);
  if (x->send && x->recv) return HS_OK;
nomem:
  return hs_fail(ctx, HS_E_NOMEM, "out of host memory gathering the probes");
}

static void exchange_close(exchange *x) {
  free(x->counts);
  free(x->send);
  free(x->recv);
}

hs_status hs_api_gather_slq(hs_context *ctx, const hs_slq_options *so, hs_allgather_fn gather, void *user,
                            hs_slq_result **rp) {
  hs_slq_result *mine = *rp, *all = NULL;
  const size_t R = so->parts > 1 ? so->parts : 1, K = so->probes, m = mine->steps;
  if (R == 1) return HS_OK;
  /* per part: count (k), nodes (k m), weights (k m), then the accounting (5) */
  exchange x;
  hs_status st = exchange_open(ctx, R, K, so->part, 1 + 2 * m, 5, &x);
  if (st != HS_OK) goto cleanup;
  if (!(all = hs_calloc(1, sizeof *all))) goto nomem;
  const size_t k = mine->probes;
  double *send = x.send;
  *all = *mine; /* the scalars; every array of all is its own */
  all->probes = K;
  all->count = hs_calloc(K, sizeof *all->count);
  all->nodes = hs_calloc(K * m, sizeof *all->nodes);
  all->weights = hs_calloc(K * m, sizeof *all->weights);
  all->grid = all->density = all->density_se = NULL;
  if (!all->count || !all->nodes || !all->weights) goto nomem;
  for (size_t j = 0; j < k; j++) send[j] = (double)mine->count[j];
  memcpy(send + k, mine->nodes, k * m * sizeof *send);
  memcpy(send + k + k * m, mine->weights, k * m * sizeof *send);
  double *acc = send + k * (1 + 2 * m);
  acc[0] = mine->t_apply;
  acc[1] = mine->t_reorth;
  acc[2] = mine->t_host;
  acc[3] = (double)mine->applies;
  acc[4] = (double)mine->reorth_passes;
  HS_TRY(gather(user, send, x.n_send, x.counts, x.recv));
  all->t_apply = all->t_reorth = all->t_host = 0;
  all->applies = all->reorth_passes = 0;
  const double *from = x.recv;
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
    from += x.counts[r];
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
  exchange_close(&x);
  return st;
}

hs_status hs_api_gather_trace(hs_context *ctx, const hs_trace_options *to, hs_allgather_fn gather, void *user,
                              hs_trace_result **rp) {
  hs_trace_result *mine = *rp, *all = NULL;
  const size_t R = to->parts > 1 ? to->parts : 1, K = to->probes;
  if (R == 1) return HS_OK;
  /* per part: samples (k), then t_apply and applies */
  exchange x;
  hs_status st = exchange_open(ctx, R, K, to->part, 1, 2, &x);
  if (st != HS_OK) goto cleanup;
  if (!(all = hs_calloc(1, sizeof *all))) goto nomem;
  const size_t k = mine->nsamples;
  *all = *mine; /* the scalars; samples is its own */
  all->probes = all->nsamples = K;
  all->samples = hs_calloc(K, sizeof *all->samples);
  if (!all->samples) goto nomem;
  memcpy(x.send, mine->samples, k * sizeof *x.send);
  x.send[k] = mine->t_apply;
  x.send[k + 1] = (double)mine->applies;
  HS_TRY(gather(user, x.send, x.n_send, x.counts, x.recv));
  all->t_apply = 0;
  all->applies = 0;
  const double *from = x.recv;
  for (size_t r = 0; r < R; r++) {
    size_t kr = part_probes(K, r, R);
    for (size_t j = 0; j < kr; j++) all->samples[r + j * R] = from[j];
    if (from[kr] > all->t_apply) all->t_apply = from[kr];
    all->applies += (size_t)from[kr + 1];
    from += x.counts[r];
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
  exchange_close(&x);
  return st;
}
