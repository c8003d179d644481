/* Spectral methods on network Hessians: extremal eigenpairs vs dense eig, the exact spectrum,
 * SLQ vs the exact spectrum (Wasserstein-1), Hutchinson vs the exact trace, thread counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/eig.h"
#include "linalg/slq.h"
#include "linalg/trace.h"
#include "spectra_fixture.h"

static hs_linop *model_op(hs_model *m, hs_curvature which) {
  hs_linop *op = NULL;
  hs_status st = hs_linop_model(m, which, &op);
  cr_assert_eq(st, HS_OK, "hs_linop_model failed");
  return op;
}

typedef struct {
  hs_context *ctx;
  hs_model *m;
  hs_dataset *d;
  size_t P;
} net;

static net make_net(hs_dtype t, int threads, int in, int n_hidden, const int *w, int out, hs_activation act,
                    hs_batchnorm bn, hs_loss loss, size_t N, uint64_t seed) {
  net n;
  n.ctx = hs_test_ctx(t, threads);
  hs_model_spec s = hs_test_spec(in, n_hidden, w, out, act, bn, 0, 1, loss);
  n.m = hs_test_model(n.ctx, &s, seed);
  n.d = hs_test_data(n.ctx, &s, N, seed + 1);
  cr_assert_eq(hs_model_bind(n.m, n.d, 0), HS_OK, "%s", hs_last_error(n.ctx));
  n.P = hs_model_num_params(n.m);
  return n;
}

static void free_net(net *n) {
  hs_model_destroy(n->m);
  hs_dataset_destroy(n->d);
  hs_context_destroy(n->ctx);
}

/* Exact eigenvalues of the network's Hessian (dense, by unit-vector HVPs and LAPACK). */
static double *exact_eigs(net *n, hs_curvature which) {
  double *H = hs_test_dense(n->m, which);
  for (size_t i = 0; i < n->P; i++)
    for (size_t j = i + 1; j < n->P; j++) H[i * n->P + j] = H[j * n->P + i] = 0.5 * (H[i * n->P + j] + H[j * n->P + i]);
  double *ev = sf_eigvals(n->P, H);
  free(H);
  return ev;
}

Test(spectra_network, top_bottom_vs_dense) {
  static const int W1[] = {12, 10}, W2[] = {9};
  struct {
    const char *name;
    int in, nh;
    const int *w;
    int out;
    hs_activation act;
    hs_batchnorm bn;
    hs_loss loss;
  } cfg[] = {{"tanh-ce", 6, 2, W1, 4, HS_ACT_TANH, HS_BN_NONE, HS_LOSS_CROSS_ENTROPY},
             {"relu-mse", 5, 2, W1, 3, HS_ACT_RELU, HS_BN_NONE, HS_LOSS_MSE},
             {"bn-relu-ce", 5, 1, W2, 3, HS_ACT_RELU, HS_BN_BATCH, HS_LOSS_CROSS_ENTROPY}};
  for (int c = 0; c < 3; c++) {
    net n = make_net(HS_F64, 2, cfg[c].in, cfg[c].nh, cfg[c].w, cfg[c].out, cfg[c].act, cfg[c].bn, cfg[c].loss, 40, 3 + c);
    double *ev = exact_eigs(&n, HS_CURV_HESSIAN);
    double scale = fmax(fabs(ev[0]), fabs(ev[n.P - 1]));
    hs_linop *op = model_op(n.m, HS_CURV_HESSIAN);
    for (int w = 0; w < 2; w++) {
      const size_t K = 4;
      hs_eig_options o = {.which = w ? HS_EIG_BOTTOM : HS_EIG_TOP, .count = K, .seed = 1};
      hs_eig_result *r = NULL;
      cr_assert_eq(hs_eig_extremal(op, &o, &r), HS_OK, "%s: %s", cfg[c].name, hs_last_error(n.ctx));
      cr_assert_eq(r->found, K, "%s %s: %zu of %zu converged", cfg[c].name, w ? "bottom" : "top", r->found, K);
      for (size_t i = 0; i < K; i++) {
        double ref = w ? ev[i] : ev[n.P - K + i];
        cr_assert(fabs(r->values[i] - ref) <= 1e-8 * scale, "%s %s %zu: %.15g vs dense %.15g (scale %g)", cfg[c].name,
                  w ? "bottom" : "top", i, r->values[i], ref, scale);
      }
      hs_eig_free(r);
    }
    /* the exact path agrees with the reference to rounding */
    hs_eig_result *x = NULL;
    cr_assert_eq(hs_eig_exact(op, 0, 0, &x), HS_OK, "%s", hs_last_error(n.ctx));
    for (size_t i = 0; i < n.P; i++) cr_assert(fabs(x->values[i] - ev[i]) <= 1e-10 * scale, "%s: exact %zu", cfg[c].name, i);
    cr_assert(x->asymmetry < 1e-12, "%s: asymmetry %g", cfg[c].name, x->asymmetry);
    hs_eig_free(x);
    hs_linop_destroy(op);
    free(ev);
    free_net(&n);
  }
}

/* W1 distance between the SLQ density (default settings) and the exact spectrum of a
 * network with P ~ 1700, relative to the spectral range. */
Test(spectra_network, slq_wasserstein_vs_exact) {
  static const int W[] = {30, 30};
  net n = make_net(HS_F64, 2, 20, 2, W, 5, HS_ACT_TANH, HS_BN_NONE, HS_LOSS_CROSS_ENTROPY, 200, 11);
  cr_assert(n.P >= 1000 && n.P <= 3000, "P = %zu", n.P);
  double *ev = exact_eigs(&n, HS_CURV_HESSIAN);
  hs_linop *op = model_op(n.m, HS_CURV_HESSIAN);
  hs_slq_options o = hs_slq_defaults();
  o.seed = 4;
  hs_slq_result *r = NULL;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_OK, "%s", hs_last_error(n.ctx));
  cr_assert_eq(r->steps, 80);
  cr_assert_eq(r->probes, 10);
  double range = ev[n.P - 1] - ev[0];
  /* W1 = integral |F_slq - F_exact| dx; F_slq is the CDF of the smoothed density */
  double lo = fmin(ev[0], r->lambda_min) - 8 * r->sigma, hi = fmax(ev[n.P - 1], r->lambda_max) + 8 * r->sigma;
  const size_t G = 20000; /* spacing ~ sigma / 100 */
  double h = (hi - lo) / G, w1 = 0;
  size_t e = 0;
  for (size_t g = 0; g < G; g++) {
    double x = lo + (g + 0.5) * h, Fs = 0;
    for (size_t p = 0; p < r->probes; p += 1)
      for (size_t i = 0; i < r->count[p]; i++)
        Fs += r->weights[p * r->steps + i] * 0.5 * erfc(-(x - r->nodes[p * r->steps + i]) / (r->sigma * M_SQRT2));
    Fs /= (double)r->probes;
    while (e < n.P && ev[e] <= x) e++;
    w1 += fabs(Fs - (double)e / (double)n.P) * h;
  }
  cr_log_info("P = %zu, range %g, W1 %g = %.4f%% of the range; sigma %g", n.P, range, w1, 100 * w1 / range, r->sigma);
  cr_assert(w1 < 0.01 * range, "W1 %g is %.3f%% of the spectral range %g", w1, 100 * w1 / range, range);
  /* partial reorthogonalisation: the same quadrature to rounding at the extremes, fewer passes */
  hs_slq_options op2 = o;
  op2.reorth = HS_REORTH_PARTIAL;
  hs_slq_result *rp = NULL;
  cr_assert_eq(hs_slq_run(op, &op2, &rp), HS_OK, "%s", hs_last_error(n.ctx));
  cr_log_info("Gram-Schmidt passes: full %zu, partial %zu", r->reorth_passes, rp->reorth_passes);
  cr_assert(rp->reorth_passes < r->reorth_passes);
  cr_assert(fabs(rp->lambda_max - r->lambda_max) < 1e-9 * range && fabs(rp->lambda_min - r->lambda_min) < 1e-9 * range,
            "partial [%.15g, %.15g] vs full [%.15g, %.15g]", rp->lambda_min, rp->lambda_max, r->lambda_min, r->lambda_max);
  cr_assert(fabs(rp->trace - r->trace) < 1e-9 * fabs(r->trace) + 1e-12);
  hs_slq_free(rp);
  /* extreme Ritz values are (nearly) the extreme eigenvalues */
  cr_assert(fabs(r->lambda_max - ev[n.P - 1]) < 1e-3 * range && fabs(r->lambda_min - ev[0]) < 1e-3 * range);
  /* Hutchinson (through SLQ's first moments) against the exact trace */
  double tr = 0;
  for (size_t i = 0; i < n.P; i++) tr += ev[i];
  hs_trace_options to = {.probes = 100, .seed = 9};
  hs_trace_result *t = NULL;
  cr_assert_eq(hs_trace_hutchinson(op, &to, &t), HS_OK);
  cr_assert(fabs(t->trace - tr) < 3 * t->trace_se, "Hutchinson %g +- %g vs exact %g", t->trace, t->trace_se, tr);
  cr_assert(fabs(r->trace - tr) < 4 * r->trace_se, "SLQ trace %g +- %g vs exact %g", r->trace, r->trace_se, tr);
  hs_trace_free(t);
  to.method = HS_TRACE_HUTCHPP;
  cr_assert_eq(hs_trace_hutchinson(op, &to, &t), HS_OK);
  cr_log_info("Hutch++ %g +- %g, exact %g", t->trace, t->trace_se, tr);
  cr_assert(fabs(t->trace - tr) < 3 * t->trace_se, "Hutch++ %g +- %g vs exact %g", t->trace, t->trace_se, tr);
  hs_trace_free(t);
  hs_slq_free(r);
  hs_linop_destroy(op);
  free(ev);
  free_net(&n);
}

/* The Gauss-Newton matrix is positive semi-definite: no negative mass, lambda_min >= -rounding. */
Test(spectra_network, ggn_has_no_negative_mass) {
  static const int W[] = {10};
  net n = make_net(HS_F64, 1, 6, 1, W, 3, HS_ACT_TANH, HS_BN_NONE, HS_LOSS_CROSS_ENTROPY, 50, 2);
  hs_linop *op = model_op(n.m, HS_CURV_GGN);
  hs_slq_options o = hs_slq_defaults();
  o.steps = 30;
  hs_slq_result *r = NULL;
  cr_assert_eq(hs_slq_run(op, &o, &r), HS_OK, "%s", hs_last_error(n.ctx));
  cr_assert(r->neg_frac == 0, "GGN negative fraction %g", r->neg_frac);
  cr_assert(r->lambda_min > -1e-10 * r->lambda_max, "GGN lambda_min %g", r->lambda_min);
  hs_slq_free(r);
  hs_linop_destroy(op);
  free_net(&n);
}

/* Same seed, 1 or 2 threads: bit-identical quadrature rules and densities, f64 and f32. */
Test(spectra_network, identical_across_threads) {
  static const int W[] = {64, 64};
  for (int dt = 0; dt < 2; dt++) {
    hs_slq_result *r[2];
    for (int t = 0; t < 2; t++) {
      net n = make_net(dt ? HS_F32 : HS_F64, t + 1, 32, 2, W, 10, HS_ACT_RELU, HS_BN_NONE, HS_LOSS_CROSS_ENTROPY, 256, 5);
      hs_linop *op = model_op(n.m, HS_CURV_HESSIAN);
      hs_slq_options o = hs_slq_defaults();
      o.steps = 20;
      o.probes = 3;
      cr_assert_eq(hs_slq_run(op, &o, &r[t]), HS_OK, "%s", hs_last_error(n.ctx));
      hs_linop_destroy(op);
      free_net(&n);
    }
    size_t len = r[0]->probes * r[0]->steps * sizeof(double);
    cr_assert(memcmp(r[0]->nodes, r[1]->nodes, len) == 0 && memcmp(r[0]->weights, r[1]->weights, len) == 0,
              "%s: quadrature differs between 1 and 2 threads", dt ? "f32" : "f64");
    cr_assert(memcmp(r[0]->density, r[1]->density, r[0]->grid_n * sizeof(double)) == 0);
    hs_slq_free(r[0]);
    hs_slq_free(r[1]);
  }
}
