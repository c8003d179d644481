#include "core/alloc.h"
#include "linalg/slq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/stats.h"
#include "linalg/lanczos.h"
#include "linalg/tridiag.h"

hs_slq_options hs_slq_defaults(void) {
  hs_slq_options o = {.steps = 0, .probes = HS_SLQ_DEFAULT_PROBES, .seed = 0, .sigma = 0,
                      .grid_points = 0, .grid_lo = 0, .grid_hi = 0, .neg_tol = -1,
                      .breakdown_tol = 0, .reorth = HS_REORTH_FULL};
  return o;
}

void hs_slq_free(hs_slq_result *r) {
  if (!r) return;
  free(r->count);
  free(r->nodes);
  free(r->weights);
  free(r->grid);
  free(r->density);
  free(r->density_se);
  free(r);
}

double hs_slq_auto_sigma(double lo, double hi) {
  if (hi > lo) return (hi - lo) / 200.0;
  double s = fmax(fabs(lo), fabs(hi));
  return s > 0 ? 1e-3 * s : 1e-3;
}

size_t hs_slq_auto_grid(double lo, double hi, double sigma) {
  double g = ceil(4.0 * (hi - lo) / sigma) + 1.0;
  if (!(g >= HS_SLQ_MIN_GRID)) return HS_SLQ_MIN_GRID;
  if (g > HS_SLQ_MAX_GRID) return HS_SLQ_MAX_GRID;
  return (size_t)g;
}

void hs_slq_smooth(size_t probes, const size_t *count, size_t stride, const double *nodes,
                   const double *weights, double sigma, size_t g, const double *grid,
                   double *density, double *se) {
  const double c = 1.0 / (sigma * sqrt(2.0 * 3.141592653589793));
  for (size_t x = 0; x < g; x++) {
    double sum = 0, sum2 = 0;
    for (size_t p = 0; p < probes; p++) {
      double d = 0;
      for (size_t i = 0; i < count[p]; i++) {
        double z = (grid[x] - nodes[p * stride + i]) / sigma;
        if (fabs(z) < 40) d += weights[p * stride + i] * exp(-0.5 * z * z);
      }
      d *= c;
      sum += d;
      sum2 += d * d;
    }
    double mean = sum / (double)probes;
    density[x] = mean;
    if (se) {
      double var = probes > 1 ? (sum2 - sum * mean) / (double)(probes - 1) : NAN;
      se[x] = probes > 1 ? sqrt(fmax(var, 0.0) / (double)probes) : NAN;
    }
  }
}

static hs_status check_options(hs_context *ctx, size_t n, const hs_slq_options *o) {
  if (o->steps > n)
    return hs_fail(ctx, HS_E_INVALID, "spectrum: --steps %zu exceeds the dimension n = %zu", o->steps, n);
  if (o->probes < 1) return hs_fail(ctx, HS_E_INVALID, "spectrum: --probes must be at least 1 (got 0)");
  if (!(o->sigma >= 0) || !isfinite(o->sigma))
    return hs_fail(ctx, HS_E_INVALID, "spectrum: --sigma %g must be a positive standard deviation", o->sigma);
  if (o->grid_points == 1)
    return hs_fail(ctx, HS_E_INVALID, "spectrum: --grid 1: a grid needs at least 2 points");
  if (o->grid_points > 10000000)
    return hs_fail(ctx, HS_E_INVALID, "spectrum: --grid %zu is more than 10000000 points", o->grid_points);
  if ((o->grid_lo != 0 || o->grid_hi != 0) && !(o->grid_hi > o->grid_lo))
    return hs_fail(ctx, HS_E_INVALID, "spectrum: grid range [%g, %g] is empty", o->grid_lo, o->grid_hi);
  if (isnan(o->neg_tol)) return hs_fail(ctx, HS_E_INVALID, "spectrum: negative tolerance is NaN");
  return HS_OK;
}

/* From the probes' rules (count, nodes, weights; stride r->steps; nodes ascending per
 * probe): extremes, trace, negative mass with its bounds, sigma, grid, density. */
hs_status hs_slq_summarise(hs_context *ctx, const hs_slq_options *opt, hs_slq_result *r) {
  hs_status st = HS_OK;
  double th = hs_now();
  const size_t K = r->probes, m = r->steps, n = r->n;
  double *per = hs_calloc(2 * K, sizeof *per);
  if (!per) return hs_fail(ctx, HS_E_NOMEM, "spectrum: out of host memory");
  double lmin = INFINITY, lmax = -INFINITY;
  r->early = 0;
  for (size_t p = 0; p < K; p++) {
    if (r->count[p] < m) r->early++;
    for (size_t i = 0; i < r->count[p]; i++) {
      lmin = fmin(lmin, r->nodes[p * m + i]);
      lmax = fmax(lmax, r->nodes[p * m + i]);
    }
  }
  r->lambda_min = lmin;
  r->lambda_max = lmax;
  /* Summary statistics per probe, then mean and standard error across probes. */
  r->neg_tol = opt->neg_tol >= 0 ? opt->neg_tol : 1e-4 * fmax(fabs(lmin), fabs(lmax));
  /* The nodes of a probe ascend. Gauss quadrature brackets the probe's spectral CDF at x
   * between theta_k < x < theta_{k+1} (Chebyshev-Markov-Stieltjes): sum_{i<k} w_i <= F(x) <=
   * sum_{i<=k+1} w_i, so the negative mass is known only to within the weights of the nodes
   * on either side of -neg_tol; those bounds go into the file next to the estimate. */
  double lo_sum = 0, hi_sum = 0;
  for (size_t p = 0; p < K; p++) {
    double tr = 0, neg = 0, last_below = 0, first_above = 0;
    for (size_t i = 0; i < r->count[p]; i++) {
      double node = r->nodes[p * m + i], w = r->weights[p * m + i];
      tr += w * node;
      if (node < -r->neg_tol) {
        neg += w;
        last_below = w;
      } else if (first_above == 0) {
        first_above = w;
      }
    }
    per[p] = (double)n * tr;
    per[K + p] = neg;
    lo_sum += neg - last_below;
    hi_sum += fmin(1.0, neg + first_above);
  }
  r->neg_frac_lo = fmax(0.0, lo_sum / (double)K);
  r->neg_frac_hi = hi_sum / (double)K;
  hs_mean_se(K, per, &r->trace, &r->trace_se);
  hs_mean_se(K, per + K, &r->neg_frac, &r->neg_frac_se);

  /* The smoothed density on its grid. */
  r->sigma = opt->sigma > 0 ? opt->sigma : hs_slq_auto_sigma(lmin, lmax);
  double glo = opt->grid_lo, ghi = opt->grid_hi;
  if (glo == 0 && ghi == 0) {
    glo = lmin - 5 * r->sigma;
    ghi = lmax + 5 * r->sigma;
  }
  r->grid_n = opt->grid_points ? opt->grid_points : hs_slq_auto_grid(glo, ghi, r->sigma);
  r->grid = hs_calloc(r->grid_n, sizeof *r->grid);
  r->density = hs_malloc(r->grid_n * sizeof *r->density);
  r->density_se = hs_malloc(r->grid_n * sizeof *r->density_se);
  if (!r->grid || !r->density || !r->density_se) {
    st = hs_fail(ctx, HS_E_NOMEM, "spectrum: out of host memory for a grid of %zu points", r->grid_n);
    goto cleanup;
  }
  for (size_t g = 0; g < r->grid_n; g++)
    r->grid[g] = glo + (ghi - glo) * (double)g / (double)(r->grid_n - 1);
  hs_slq_smooth(K, r->count, m, r->nodes, r->weights, r->sigma, r->grid_n, r->grid, r->density,
                r->density_se);
  double h = (ghi - glo) / (double)(r->grid_n - 1), integ = 0;
  for (size_t g = 0; g + 1 < r->grid_n; g++) integ += 0.5 * h * (r->density[g] + r->density[g + 1]);
  r->integral = integ;

  r->t_host += hs_now() - th;
cleanup:
  free(per);
  return st;
}

hs_status hs_slq_run(hs_linop *op, const hs_slq_options *opt, hs_slq_result **out) {
  *out = NULL;
  hs_context *ctx = op->ctx;
  size_t n = op->n;
  hs_status st = check_options(ctx, n, opt);
  if (st != HS_OK) return st;
  double t_start = hs_now();
  const size_t parts = opt->parts > 1 ? opt->parts : 1, part = parts > 1 ? opt->part : 0;
  if (part >= parts || opt->probes < parts)
    return hs_fail(ctx, HS_E_INVALID, "spectrum: part %zu of %zu with %zu probes: every part needs a probe", part, parts, opt->probes);
  /* this part's probes: p = part, part + parts, ... < K */
  size_t K = (opt->probes - part + parts - 1) / parts;
  size_t m = opt->steps ? opt->steps : (n < HS_SLQ_DEFAULT_STEPS ? n : HS_SLQ_DEFAULT_STEPS);
  hs_lanczos *lz = NULL;
  double *V = NULL;
  hs_slq_result *r = hs_calloc(1, sizeof *r);
  if (!r) return hs_fail(ctx, HS_E_NOMEM, "spectrum: out of host memory");
  r->n = n;
  r->probes = K;
  r->steps = m;
  r->seed = opt->seed;
  r->count = hs_calloc(K, sizeof *r->count);
  r->nodes = hs_calloc(K * m, sizeof *r->nodes);
  r->weights = hs_calloc(K * m, sizeof *r->weights);
  V = hs_malloc(K * n * sizeof *V);
  if (!r->count || !r->nodes || !r->weights || !V) {
    st = hs_fail(ctx, HS_E_NOMEM, "spectrum: out of host memory");
    goto cleanup;
  }

  hs_lanczos_options lo = {.probes = K, .max_steps = m, .breakdown_tol = opt->breakdown_tol, .reorth = opt->reorth};
  HS_TRY(hs_lanczos_create(op, &lo, &lz));
  r->breakdown_tol = lz->tol;
  /* probe p is the same vector whichever part runs it (hs_lanczos_start_rademacher's) */
  for (size_t j = 0; j < K; j++) hs_probe_rademacher(opt->seed, part + j * parts, n, V + j * n);
  HS_TRY(hs_lanczos_start(lz, V));
  HS_TRY(hs_lanczos_run(lz, m));

  double th = hs_now();
  for (size_t p = 0; p < K; p++) {
    size_t c = lz->steps[p];
    r->count[p] = c;
    HS_TRY(hs_tridiag_quadrature(ctx, c, lz->alpha + p * m, lz->beta + p * m, r->nodes + p * m,
                                 r->weights + p * m));
  }
  r->t_apply = lz->t_apply;
  r->t_reorth = lz->t_reorth;
  r->applies = lz->applies;
  r->reorth_passes = lz->passes;
  r->reorth = opt->reorth;
  r->t_host = lz->t_host + (hs_now() - th);
  if (parts == 1) HS_TRY(hs_slq_summarise(ctx, opt, r));
  r->t_total = hs_now() - t_start;
  *out = r;
  r = NULL;
cleanup:
  hs_lanczos_destroy(lz);
  hs_slq_free(r);
  free(V);
  return st;
}

/* Insertion sort of one probe's rule by node (a few hundred nodes at most). */
static void sort_rule(size_t c, double *x, double *w) {
  for (size_t i = 1; i < c; i++) {
    double xi = x[i], wi = w[i];
    size_t j = i;
    for (; j > 0 && x[j - 1] > xi; j--) {
      x[j] = x[j - 1];
      w[j] = w[j - 1];
    }
    x[j] = xi;
    w[j] = wi;
  }
}

hs_status hs_slq_combine(hs_context *ctx, size_t nb, const hs_slq_result *const *parts,
                         const hs_slq_options *opt, hs_slq_result **out) {
  *out = NULL;
  if (nb == 0) return hs_fail(ctx, HS_E_INVALID, "spectrum: no blocks to combine");
  size_t K = parts[0]->probes, n = 0, m = 0;
  for (size_t b = 0; b < nb; b++) {
    if (parts[b]->probes != K)
      return hs_fail(ctx, HS_E_INTERNAL, "spectrum: block %zu has %zu probes, block 0 %zu", b, parts[b]->probes, K);
    n += parts[b]->n;
    m += parts[b]->steps;
  }
  hs_status st = HS_OK;
  hs_slq_result *r = hs_calloc(1, sizeof *r);
  if (!r) return hs_fail(ctx, HS_E_NOMEM, "spectrum: out of host memory");
  *r = (hs_slq_result){.n = n, .probes = K, .steps = m, .seed = parts[0]->seed,
                       .breakdown_tol = parts[0]->breakdown_tol, .reorth = parts[0]->reorth};
  r->count = hs_calloc(K, sizeof *r->count);
  r->nodes = hs_calloc(K * m, sizeof *r->nodes);
  r->weights = hs_calloc(K * m, sizeof *r->weights);
  if (!r->count || !r->nodes || !r->weights) {
    st = hs_fail(ctx, HS_E_NOMEM, "spectrum: out of host memory");
    goto cleanup;
  }
  for (size_t b = 0; b < nb; b++) {
    const hs_slq_result *q = parts[b];
    double scale = (double)q->n / (double)n; /* block b holds n_b of the n eigenvalues */
    for (size_t p = 0; p < K; p++) {
      for (size_t i = 0; i < q->count[p]; i++) {
        r->nodes[p * m + r->count[p] + i] = q->nodes[p * q->steps + i];
        r->weights[p * m + r->count[p] + i] = scale * q->weights[p * q->steps + i];
      }
      r->count[p] += q->count[p];
    }
    r->early += q->early;
    r->t_apply += q->t_apply;
    r->t_reorth += q->t_reorth;
    r->t_host += q->t_host;
    r->t_total += q->t_total;
    r->applies += q->applies;
    r->reorth_passes += q->reorth_passes;
  }
  for (size_t p = 0; p < K; p++) sort_rule(r->count[p], r->nodes + p * m, r->weights + p * m);
  size_t early = r->early; /* the blocks' count: summarising would compare with the summed steps */
  HS_TRY(hs_slq_summarise(ctx, opt, r));
  r->early = early;
  *out = r;
  r = NULL;
cleanup:
  hs_slq_free(r);
  return st;
}
