/* The deep linear network's global minimum (analysis/optimum.h). */
#include "analysis/optimum.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "nn/dataset.h"
#include "nn/engine.h"

/* The chain of weight layers: widths[0] = in, widths[L] = out, hidden in between. */
typedef struct {
  int L;                        /* weight layers, head included */
  int widths[HS_MAX_LAYERS + 1];
  int residual[HS_MAX_LAYERS];  /* layer l's output is added to its input (identity skip) */
  int last_bias, inner_bias;
} chain;

static hs_status get_chain(hs_context *ctx, const hs_model_spec *s, chain *c) {
  memset(c, 0, sizeof *c);
  if (s->loss != HS_LOSS_MSE)
    return hs_fail(ctx, HS_E_INVALID, "the loss is cross_entropy: the closed-form optimum is for mse (least squares)");
  if (s->weight_decay != 0)
    return hs_fail(ctx, HS_E_INVALID, "weight_decay = %g: the closed-form optimum is for the unregularised mse", s->weight_decay);
  if (s->form == HS_SPEC_MLP) {
    if (s->activation != HS_ACT_LINEAR)
      return hs_fail(ctx, HS_E_INVALID, "activation '%s': the closed-form optimum needs a linear network (activation linear)",
                     s->activation == HS_ACT_RELU ? "relu" : "tanh");
    if (s->batchnorm != HS_BN_NONE)
      return hs_fail(ctx, HS_E_INVALID, "batch norm is not linear in the data: the closed-form optimum needs batchnorm none");
    c->L = s->n_hidden + 1;
    c->widths[0] = s->input_dim;
    for (int i = 0; i < s->n_hidden; i++) {
      c->widths[i + 1] = s->hidden[i];
      c->residual[i] = s->residual && i >= 1 && s->hidden[i] == s->hidden[i - 1];
    }
    c->widths[c->L] = s->output_dim;
    c->last_bias = c->inner_bias = s->bias;
    return HS_OK;
  }
  c->widths[0] = s->input_dim;
  for (int i = 0; i < s->n_layers; i++) {
    const hs_layer_spec *e = &s->layers[i];
    if (e->type == HS_LAYER_IDENTITY || e->type == HS_LAYER_FLATTEN) continue;
    if (e->type != HS_LAYER_LINEAR)
      return hs_fail(ctx, HS_E_INVALID,
                     "layers.%d is not linear, identity or flatten: the closed-form optimum needs a linear network", i);
    if (c->L > 0 && c->last_bias) c->inner_bias = 1;
    c->last_bias = e->bias;
    c->widths[++c->L] = e->out;
  }
  if (c->L == 0) return hs_fail(ctx, HS_E_INVALID, "optimum: the network has no linear layer");
  if (c->inner_bias && !c->last_bias)
    return hs_fail(ctx, HS_E_INVALID,
                   "optimum: an inner linear layer has a bias but the last has none; the closed form covers a free "
                   "output bias (last layer) or none at all");
  return HS_OK;
}

hs_status hs_optimum_check(hs_context *ctx, const hs_model_spec *s) {
  chain c;
  return get_chain(ctx, s, &c);
}

void hs_optimum_free(hs_optimum *o) {
  if (!o) return;
  free(o->M);
  free(o->b);
  free(o);
}

/* (1/N) sum_i 0.5 ||M x_i + b - y_i||^2 */
static double mse_loss(const hs_dataset *d, const double *M, const double *b) {
  size_t n = d->n, in = (size_t)d->input_dim, out = (size_t)d->output_dim;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t o = 0; o < out; o++) {
      double f = b[o] - d->targets[i * out + o];
      for (size_t k = 0; k < in; k++) f += M[o * in + k] * d->X[i * in + k];
      sum += f * f;
    }
  return 0.5 * sum / (double)n;
}

hs_status hs_optimum_solve(hs_context *ctx, const hs_model_spec *s, const hs_dataset *d, hs_optimum **out) {
  chain c;
  hs_status st = get_chain(ctx, s, &c);
  *out = NULL;
  if (st != HS_OK) return st;
  if (!d->targets) return hs_fail(ctx, HS_E_INVALID, "optimum: the data have labels; mse needs targets (N, output_dim)");
  if (d->input_dim != s->input_dim || d->output_dim != s->output_dim)
    return hs_fail(ctx, HS_E_INVALID, "optimum: the data are %d -> %d, the model %d -> %d", d->input_dim, d->output_dim,
                   s->input_dim, s->output_dim);
  const size_t n = d->n, in = (size_t)d->input_dim, C = (size_t)d->output_dim, rows = n > in ? n : in;
  size_t r = in < C ? in : C;
  for (int l = 1; l < c.L; l++)
    if ((size_t)c.widths[l] < r) r = (size_t)c.widths[l];
  double *Xc = hs_malloc(n * in * sizeof *Xc), *B = hs_calloc(rows * C, sizeof *B), *xm = hs_calloc(in, sizeof *xm),
         *ym = hs_calloc(C, sizeof *ym), *sv = hs_malloc((rows + C + 1) * sizeof *sv), *Yh = NULL, *VT = NULL,
         *Ct = NULL;
  hs_optimum *o = hs_calloc(1, sizeof *o);
  if (!Xc || !B || !xm || !ym || !sv || !o) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  o->M = hs_calloc(C * in, sizeof *o->M);
  o->b = hs_calloc(C, sizeof *o->b);
  if (!o->M || !o->b) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  o->in = (int)in;
  o->out = (int)C;
  o->rank = r;
  o->bias = c.last_bias;
  o->reduced = r < (in < C ? in : C);
  o->method = o->reduced ? "reduced_rank" : "least_squares";
  if (o->bias) {
    for (size_t i = 0; i < n; i++) {
      for (size_t k = 0; k < in; k++) xm[k] += d->X[i * in + k];
      for (size_t k = 0; k < C; k++) ym[k] += d->targets[i * C + k];
    }
    for (size_t k = 0; k < in; k++) xm[k] /= (double)n;
    for (size_t k = 0; k < C; k++) ym[k] /= (double)n;
  }
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < in; k++) Xc[i * in + k] = d->X[i * in + k] - xm[k];
    for (size_t k = 0; k < C; k++) B[i * C + k] = d->targets[i * C + k] - ym[k];
  }
  /* B (in, C) = argmin ||Xc B - Yc||, minimum norm; dgelsd overwrites Xc */
  lapack_int rank_x;
  double *Xw = hs_malloc(n * in * sizeof *Xw);
  if (!Xw) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  memcpy(Xw, Xc, n * in * sizeof *Xw);
  lapack_int info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)in, (lapack_int)C, Xw, (lapack_int)in, B,
                                   (lapack_int)C, sv, -1.0, &rank_x);
  free(Xw);
  if (info != 0) { st = hs_fail(ctx, info > 0 ? HS_E_NUMERIC : HS_E_BACKEND, "optimum: LAPACK dgelsd failed (info %d)", (int)info); goto cleanup; }
  Ct = hs_malloc(in * C * sizeof *Ct); /* the coefficients (in, C) of the solution: B, or B V_r V_r^T */
  if (!Ct) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  memcpy(Ct, B, in * C * sizeof *Ct);
  if (o->reduced) {
    /* Yhat (n, C) = Xc B; its top-r right singular vectors V_r; coefficients B V_r V_r^T */
    size_t q = n < C ? n : C;
    Yh = hs_calloc(n * C, sizeof *Yh);
    VT = hs_malloc(q * C * sizeof *VT);
    if (!Yh || !VT) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < in; k++) {
        double x = Xc[i * in + k];
        for (size_t j = 0; j < C; j++) Yh[i * C + j] += x * B[k * C + j];
      }
    info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'S', (lapack_int)n, (lapack_int)C, Yh, (lapack_int)C, sv, NULL, 1, VT,
                          (lapack_int)C, sv + q);
    if (info != 0) { st = hs_fail(ctx, info > 0 ? HS_E_NUMERIC : HS_E_BACKEND, "optimum: LAPACK dgesvd failed (info %d)", (int)info); goto cleanup; }
    size_t keep = r < q ? r : q;
    for (size_t k = 0; k < in; k++)
      for (size_t j = 0; j < C; j++) {
        double acc = 0;
        for (size_t t = 0; t < keep; t++) {
          double bv = 0;
          for (size_t u = 0; u < C; u++) bv += B[k * C + u] * VT[t * C + u];
          acc += bv * VT[t * C + j];
        }
        Ct[k * C + j] = acc;
      }
  }
  for (size_t j = 0; j < C; j++)
    for (size_t k = 0; k < in; k++) o->M[j * in + k] = Ct[k * C + j];
  for (size_t j = 0; j < C; j++) {
    double v = ym[j];
    for (size_t k = 0; k < in; k++) v -= o->M[j * in + k] * xm[k];
    o->b[j] = o->bias ? v : 0;
  }
  o->loss = mse_loss(d, o->M, o->b);
  /* the unconstrained least-squares loss, for the report */
  {
    double *Mls = hs_malloc(C * in * sizeof *Mls), *bls = hs_calloc(C, sizeof *bls);
    if (!Mls || !bls) { free(Mls); free(bls); st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
    for (size_t j = 0; j < C; j++) {
      for (size_t k = 0; k < in; k++) Mls[j * in + k] = B[k * C + j];
      double v = ym[j];
      for (size_t k = 0; k < in; k++) v -= Mls[j * in + k] * xm[k];
      bls[j] = o->bias ? v : 0;
    }
    o->ls_loss = o->reduced ? mse_loss(d, Mls, bls) : o->loss;
    free(Mls);
    free(bls);
  }
  /* numerical rank of M */
  {
    size_t q = in < C ? in : C;
    double *Mw = hs_malloc(C * in * sizeof *Mw);
    if (!Mw) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
    memcpy(Mw, o->M, C * in * sizeof *Mw);
    info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)C, (lapack_int)in, Mw, (lapack_int)in, sv, NULL, 1, NULL,
                          1, sv + q);
    free(Mw);
    if (info != 0) { st = hs_fail(ctx, HS_E_NUMERIC, "optimum: LAPACK dgesvd failed (info %d)", (int)info); goto cleanup; }
    for (size_t t = 0; t < q; t++)
      if (sv[t] > 1e-12 * sv[0]) o->map_rank++;
  }
  if (!isfinite(o->loss)) { st = hs_fail(ctx, HS_E_NUMERIC, "optimum: the loss is not finite (%g)", o->loss); goto cleanup; }
cleanup:
  free(Xc);
  free(B);
  free(xm);
  free(ym);
  free(sv);
  free(Yh);
  free(VT);
  free(Ct);
  if (st != HS_OK) {
    hs_optimum_free(o);
    return st;
  }
  *out = o;
  return HS_OK;
}

hs_status hs_optimum_factorise(hs_model *m, const hs_optimum *o, double *theta) {
  hs_context *ctx = hs_model_context(m);
  chain c;
  hs_status st = get_chain(ctx, hs_model_get_spec(m), &c);
  if (st != HS_OK) return st;
  const size_t in = (size_t)o->in, C = (size_t)o->out, q = in < C ? in : C, P = hs_model_num_params(m);
  size_t k = o->rank < q ? o->rank : q;
  double *Mw = hs_malloc(C * in * sizeof *Mw), *U = hs_malloc(C * q * sizeof *U), *VT = hs_malloc(q * in * sizeof *VT),
         *sv = hs_malloc((2 * q + 1) * sizeof *sv);
  if (!Mw || !U || !VT || !sv) { st = hs_fail(ctx, HS_E_NOMEM, "out of host memory"); goto cleanup; }
  memcpy(Mw, o->M, C * in * sizeof *Mw);
  lapack_int info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'S', (lapack_int)C, (lapack_int)in, Mw, (lapack_int)in, sv, U,
                                   (lapack_int)q, VT, (lapack_int)in, sv + q);
  if (info != 0) { st = hs_fail(ctx, HS_E_NUMERIC, "optimum: LAPACK dgesvd failed (info %d)", (int)info); goto cleanup; }
  memset(theta, 0, P * sizeof *theta);
  /* walk the parameter tensors: each 2-D tensor is the next weight layer, a 1-D one its bias */
  int l = -1;
  for (size_t t = 0; t < hs_model_num_tensors(m); t++) {
    const hs_param_info *pi = hs_model_tensor(m, t);
    double *w = theta + pi->offset;
    if (pi->ndim == 1) {
      if (l == c.L - 1) memcpy(w, o->b, C * sizeof *w); /* the head's bias; inner biases stay zero */
      continue;
    }
    l++;
    size_t rows = (size_t)pi->rows, cols = (size_t)pi->cols;
    if (pi->ndim != 2 || l >= c.L || rows != (size_t)c.widths[l + 1] || cols != (size_t)c.widths[l]) {
      st = hs_fail(ctx, HS_E_INTERNAL, "optimum: tensor %s does not fit the linear chain", pi->name);
      goto cleanup;
    }
    if (c.L == 1) { /* no hidden layer: the map itself */
      memcpy(w, o->M, C * in * sizeof *w);
    } else if (l == 0) { /* S^1/2 V^T on the first k rows */
      for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < in; j++) w[i * cols + j] = sqrt(sv[i]) * VT[i * in + j];
    } else if (l == c.L - 1) { /* U S^1/2 on the first k columns */
      for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < k; j++) w[i * cols + j] = U[i * q + j] * sqrt(sv[j]);
    } else if (!c.residual[l]) { /* identity on the first k units (a residual block adds them itself) */
      for (size_t i = 0; i < k; i++) w[i * cols + i] = 1;
    }
  }
  if (l != c.L - 1) st = hs_fail(ctx, HS_E_INTERNAL, "optimum: %d weight tensors for a chain of %d layers", l + 1, c.L);
cleanup:
  free(Mw);
  free(U);
  free(VT);
  free(sv);
  return st;
}
