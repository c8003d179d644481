/* Loss landscapes on a grid (analysis/landscape.h). */
#include "analysis/landscape.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "core/rng.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "nn/engine.h"

void hs_ls_filter_normalize(const hs_model *m, const double *theta, double *d) {
  for (size_t t = 0; t < hs_model_num_tensors(m); t++) {
    const hs_param_info *pi = hs_model_tensor(m, t);
    double *dt = d + pi->offset;
    const double *wt = theta + pi->offset;
    size_t rows = (size_t)pi->rows, cols = (size_t)pi->cols;
    if (pi->ndim < 2) {
      memset(dt, 0, rows * cols * sizeof *dt);
      continue;
    }
    for (size_t r = 0; r < rows; r++) {
      double nd = 0, nw = 0;
      for (size_t c = 0; c < cols; c++) {
        nd += dt[r * cols + c] * dt[r * cols + c];
        nw += wt[r * cols + c] * wt[r * cols + c];
      }
      double s = nd > 0 ? sqrt(nw) / sqrt(nd) : 0;
      for (size_t c = 0; c < cols; c++) dt[r * cols + c] *= s;
    }
  }
}

void hs_ls_random_direction(const hs_model *m, const double *theta, uint64_t seed, size_t j, double *d) {
  hs_rng_normals(seed, HS_STREAM_DIRECTION + 16 * (uint64_t)j, 0, hs_model_num_params(m), d);
  hs_ls_filter_normalize(m, theta, d);
}

hs_status hs_ls_eig_directions(hs_model *m, size_t k, uint64_t seed, double tol, double *D, double *values) {
  hs_context *ctx = hs_model_context(m);
  hs_linop *op = NULL;
  hs_eig_result *r = NULL;
  hs_status st;
  size_t P = hs_model_num_params(m);
  if (k < 1 || k > 2 || k > P) return hs_fail(ctx, HS_E_INVALID, "eig directions: %zu asked (1 or 2, at most P = %zu)", k, P);
  HS_TRY(hs_linop_model(m, HS_CURV_HESSIAN, &op));
  hs_eig_options eo = {.which = HS_EIG_TOP, .count = k, .tol = tol, .max_steps = 0, .seed = seed, .want_vectors = 1};
  HS_TRY(hs_eig_extremal(op, &eo, &r));
  if (r->found < k) {
    st = hs_fail(ctx, HS_E_NUMERIC,
                 "eig directions: only %zu of the top %zu Hessian eigenpairs converged to a relative residual of %g in %zu "
                 "Lanczos steps",
                 r->found, k, r->tol, r->steps);
    goto cleanup;
  }
  for (size_t i = 0; i < k; i++) {
    const double *v = r->vectors + (r->found - 1 - i) * P; /* ascending: the largest is last */
    size_t big = 0;
    for (size_t p = 1; p < P; p++)
      if (fabs(v[p]) > fabs(v[big])) big = p;
    double sgn = v[big] < 0 ? -1.0 : 1.0;
    for (size_t p = 0; p < P; p++) D[i * P + p] = sgn * v[p];
    values[i] = r->values[r->found - 1 - i];
  }
cleanup:
  hs_eig_free(r);
  hs_linop_destroy(op);
  return st;
}

void hs_ls_free(hs_ls_result *r) {
  if (!r) return;
  free(r->alpha);
  free(r->beta);
  free(r->loss);
  free(r->accuracy);
  free(r);
}

static double coord(double lo, double hi, size_t i, size_t n) {
  return i + 1 == n ? hi : lo + (hi - lo) * (double)i / (double)(n - 1); /* the end point exactly */
}

/* Loss (as hs_nn_loss_grad sums it) and accuracy at the model's current parameters theta. */
static hs_status eval_point(hs_model *m, const double *theta, size_t P, double *loss, double *acc) {
  hs_context *ctx = hs_model_context(m);
  const hs_model_spec *s = hs_model_get_spec(m);
  double sum = 0;
  size_t rows = 0, correct = 0;
  hs_status st = HS_OK;
  for (size_t b = 0; b < hs_nn_num_batches(m); b++) {
    hs_nn_batch_result br;
    HS_TRY(hs_nn_batch(m, b, s->batchnorm, NULL, &br));
    sum += br.loss_sum;
    rows += br.rows;
    correct += br.correct;
  }
  if (rows == 0) return hs_fail(ctx, HS_E_INVALID, "landscape: no data bound to the model");
  sum /= (double)rows;
  if (s->weight_decay > 0) {
    double sq = 0;
    for (size_t p = 0; p < P; p++) sq += theta[p] * theta[p];
    sum += 0.5 * s->weight_decay * sq;
  }
  *loss = sum;
  *acc = (double)correct / (double)rows;
cleanup:
  return st;
}

hs_status hs_ls_evaluate(hs_model *m, const double *theta0, const double *d1, const double *d2, const hs_ls_grid *g,
                         hs_ls_result **out) {
  hs_context *ctx = hs_model_context(m);
  hs_status st = HS_OK;
  *out = NULL;
  if (g->dims != 1 && g->dims != 2) return hs_fail(ctx, HS_E_INVALID, "landscape: dims = %d (1 or 2)", g->dims);
  if (g->na < 2 || (g->dims == 2 && g->nb < 2))
    return hs_fail(ctx, HS_E_INVALID, "landscape: at least 2 points per axis (got %zu, %zu)", g->na, g->nb);
  if (g->dims == 2 && !d2) return hs_fail(ctx, HS_E_INVALID, "landscape: a 2D grid needs two directions");
  size_t P = hs_model_num_params(m), na = g->na, nb = g->dims == 2 ? g->nb : 1, total = na * nb;
  int ce = hs_model_get_spec(m)->loss == HS_LOSS_CROSS_ENTROPY;
  double t0 = hs_now();
  double *theta = hs_malloc(P * sizeof *theta);
  hs_ls_result *r = hs_calloc(1, sizeof *r);
  if (!theta || !r) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  r->dims = g->dims;
  r->na = na;
  r->nb = nb;
  r->alpha = hs_malloc(na * sizeof *r->alpha);
  r->beta = g->dims == 2 ? hs_malloc(nb * sizeof *r->beta) : NULL;
  r->loss = hs_malloc(total * sizeof *r->loss);
  r->accuracy = ce ? hs_malloc(total * sizeof *r->accuracy) : NULL;
  if (!r->alpha || (g->dims == 2 && !r->beta) || !r->loss || (ce && !r->accuracy)) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  for (size_t i = 0; i < na; i++) r->alpha[i] = coord(g->a0, g->a1, i, na);
  for (size_t j = 0; g->dims == 2 && j < nb; j++) r->beta[j] = coord(g->b0, g->b1, j, nb);
  for (size_t i = 0; i < na; i++)
    for (size_t j = 0; j < nb; j++) {
      double a = r->alpha[i], b = g->dims == 2 ? r->beta[j] : 0, acc = 0;
      for (size_t p = 0; p < P; p++) theta[p] = theta0[p] + a * d1[p] + (g->dims == 2 ? b * d2[p] : 0.0);
      HS_TRY(hs_model_set_params(m, theta));
      HS_TRY(eval_point(m, theta, P, &r->loss[i * nb + j], &acc));
      if (ce) r->accuracy[i * nb + j] = acc;
      HS_TRY(hs_progress(ctx, "landscape", i * nb + j + 1, total));
    }
  r->seconds = hs_now() - t0;
cleanup:
  if (theta) {
    hs_status st2 = hs_model_set_params(m, theta0);
    if (st == HS_OK) st = st2;
  }
  free(theta);
  if (st != HS_OK) {
    hs_ls_free(r);
    return st;
  }
  *out = r;
  return HS_OK;
}

double hs_ls_norm(const double *d, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += d[i] * d[i];
  return sqrt(s);
}
