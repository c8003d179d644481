/* The public spectral API of include/hesspec.h (src/api): each call against the internal
 * engine it wraps (bit for bit: the same code runs), the density file against the one
 * `hesspec spectrum` writes for the same model, data and seed (equal apart from the clock
 * fields), loading a density back, cancellation through the flag hook, and bad arguments;
 * training, landscapes and critical points against `hesspec train`, `hesspec landscape` and
 * the engines they wrap. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critical.h"
#include "analysis/landscape.h"
#include "io/datasets.h"
#include "io/npy.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "linalg/trace.h"
#include "spectra_fixture.h"
#include "train/train.h"
#include "support/api_fixture.h"
#include "support/cli_fixture.h"

/* The layer-form net of support/api_fixture.h, and an MLP-form spec, both small enough for exact
 * eigendecompositions. */
static const char *const SPEC_MLP =
    "{\"input_dim\": 5, \"hidden\": [7, 7], \"output_dim\": 2, \"activation\": \"tanh\", \"loss\": \"mse\"}";

enum { N_SAMPLES = HS_API_SAMPLES, SEED = HS_API_SEED };
#define SPEC_LAYERS HS_API_SPEC_LAYERS

static hs_context *ctx;
static hs_model *model;
static hs_dataset *data;
static double *X;
static int32_t *labels;

static void setup(void) {
  hs_cli_fixture_setup("api");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_api_free_model(&model, &data, &X, &labels);
  hs_context_destroy(ctx);
  hs_cli_fixture_teardown();
}

static void make_model(void) { hs_api_make_model(ctx, &model, &data, &X, &labels); }

#define same_bits hs_api_same_bits
#define json_close hs_api_json_close

TestSuite(api, .init = setup, .fini = teardown);

Test(api, model_from_json_equals_spec_file) {
  make_model();
  hs_model_spec spec;
  hs_model *m2 = NULL;
  cr_assert_eq(hs_spec_load(ctx, hs_cli_path("spec.json"), &spec), HS_OK);
  cr_assert_eq(hs_model_create(ctx, &spec, &m2), HS_OK);
  cr_assert_eq(hs_model_init(m2, SEED), HS_OK);
  size_t P = hs_model_num_params(model);
  cr_assert_eq(hs_model_num_params(m2), P);
  double *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b);
  cr_assert_eq(hs_model_get_params(model, a), HS_OK);
  cr_assert_eq(hs_model_get_params(m2, b), HS_OK);
  cr_expect(same_bits(a, b, P), "hs_model_create_json and hs_spec_load + hs_model_create differ");
  size_t n, batch;
  hs_model_binding(model, &n, &batch);
  cr_expect(n == N_SAMPLES && batch == N_SAMPLES, "binding: %zu samples, batch %zu", n, batch);
  hs_model_binding(m2, &n, &batch);
  cr_expect(n == 0 && batch == 0, "an unbound model reports %zu samples, batch %zu", n, batch);
  hs_model_destroy(m2);
  free(a);
  free(b);
}

Test(api, bad_json_names_the_origin) {
  hs_model *m = NULL;
  cr_expect_eq(hs_model_create_json(ctx, "{\"input_dim\": 3, \"hiden\": [2]}", "from_torch", &m), HS_E_INVALID);
  cr_expect(m == NULL);
  cr_expect(strstr(hs_last_error(ctx), "from_torch") && strstr(hs_last_error(ctx), "hiden"), "message: %s",
            hs_last_error(ctx));
  cr_expect_eq(hs_model_create_json(ctx, "{\"input_dim\": ", NULL, &m), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "spec"), "message: %s", hs_last_error(ctx));
  cr_expect_eq(hs_model_create_json(ctx, NULL, "x", &m), HS_E_INVALID);
}

Test(api, operator_apply_equals_model_hvp) {
  make_model();
  size_t P = hs_model_num_params(model), k = 3;
  double *V = hs_test_vec(k * P, 5), *Y1 = malloc(k * P * sizeof *Y1), *Y2 = malloc(k * P * sizeof *Y2);
  const hs_curvature curv[] = {HS_CURV_HESSIAN, HS_CURV_GGN, HS_CURV_RESIDUAL};
  for (int c = 0; c < 3; c++) {
    hs_operator *op = NULL;
    cr_assert_eq(hs_operator_model(model, curv[c], &op), HS_OK, "%s", hs_last_error(ctx));
    cr_expect_eq(hs_operator_size(op), P);
    cr_assert_eq(hs_operator_apply(op, k, V, Y1), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(hs_model_hvp(model, curv[c], k, V, Y2), HS_OK);
    cr_expect(same_bits(Y1, Y2, k * P), "curvature %d: operator apply differs from hs_model_hvp", c);
    cr_expect_eq(hs_operator_apply(op, k, V, (double *)V), HS_E_INVALID);
    cr_expect(strstr(hs_last_error(ctx), "alias"), "%s", hs_last_error(ctx));
    hs_operator_destroy(op);
  }
  free(V);
  free(Y1);
  free(Y2);
}

Test(api, operator_needs_bound_data_and_a_symmetric_matrix) {
  hs_model *m = NULL;
  hs_operator *op = NULL;
  cr_assert_eq(hs_model_create_json(ctx, SPEC_MLP, "mlp.json", &m), HS_OK);
  cr_expect_neq(hs_operator_model(m, HS_CURV_HESSIAN, &op), HS_OK);
  cr_expect(op == NULL);
  cr_expect_eq(hs_operator_model(m, (hs_curvature)7, &op), HS_E_INVALID);
  hs_model_destroy(m);
  double A[9] = {1, 2, 3, 2, 5, 6, 3, 6.5, 9};
  cr_expect_eq(hs_operator_matrix(ctx, 3, A, 1e-10, &op), HS_E_INVALID);
  cr_expect(op == NULL);
  A[7] = 6;
  cr_assert_eq(hs_operator_matrix(ctx, 3, A, 1e-10, &op), HS_OK, "%s", hs_last_error(ctx));
  double x[3] = {1, -1, 2}, y[3];
  cr_assert_eq(hs_operator_apply(op, 1, x, y), HS_OK);
  cr_expect(y[0] == 5 && y[1] == 9 && y[2] == 15, "A x = (%g, %g, %g)", y[0], y[1], y[2]);
  hs_operator_destroy(op);
}

/* The API's density file and `hesspec spectrum`'s: the same JSON apart from the clock fields,
 * the same CSV; nodes and weights bit for bit. */
Test(api, spectrum_file_equals_cli) {
  make_model();
  int rc = hs_cli_run("", "spectrum --model spec.json --inputs X.npy --targets Y.npy --seed 7 --steps 25 "
                          "--probes 3 --out cli.json", "");
  cr_assert_eq(rc, 0, "hesspec spectrum exited %d: %s", rc, hs_cli_err);
  char *src = hs_api_data_source("cli.json");

  hs_operator *op = NULL;
  hs_density *d = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &op), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 25, so.probes = 3, so.seed = SEED, so.data = src;
  cr_assert_eq(hs_spectrum(op, &so, &d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_density_save(d, hs_cli_path("api.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(hs_api_same_file("cli.json", "api.json"), "the API's density file differs from the CLI's (files in %s)",
            hs_cli_dir);
  char *c1 = hs_cli_read_text("cli.csv"), *c2 = hs_cli_read_text("api.csv");
  cr_expect_str_eq(c1, c2, "the CSVs differ");

  /* the accessors against the internal engine on the same operator */
  hs_linop *L = NULL;
  hs_slq_result *r = NULL;
  cr_assert_eq(hs_linop_model(model, HS_CURV_HESSIAN, &L), HS_OK);
  hs_slq_options o = hs_slq_defaults();
  o.steps = 25, o.probes = 3, o.seed = SEED;
  cr_assert_eq(hs_slq_run(L, &o, &r), HS_OK);
  hs_density_summary s;
  hs_density_get_summary(d, &s);
  cr_expect(s.params == r->n && s.probes == 3 && s.steps == 25 && s.seed == SEED);
  cr_expect(s.lambda_min == r->lambda_min && s.lambda_max == r->lambda_max && s.trace == r->trace &&
            s.sigma == r->sigma && s.negative_fraction == r->neg_frac && s.grid_integral == r->integral);
  for (size_t p = 0; p < 3; p++) {
    const double *nodes, *weights;
    size_t c = hs_density_probe(d, p, &nodes, &weights);
    cr_expect_eq(c, r->count[p]);
    cr_expect(same_bits(nodes, r->nodes + p * r->steps, c) && same_bits(weights, r->weights + p * r->steps, c),
              "probe %zu: nodes or weights differ from hs_slq_run's", p);
  }
  cr_expect_eq(hs_density_probe(d, 3, NULL, NULL), 0);
  const double *grid, *dens, *se;
  size_t g = hs_density_grid(d, &grid, &dens, &se);
  cr_expect(g == r->grid_n && same_bits(grid, r->grid, g) && same_bits(dens, r->density, g) &&
            same_bits(se, r->density_se, g));
  hs_slq_free(r);
  hs_linop_destroy(L);
  free(c1);
  free(c2);
  free(src);
  hs_density_destroy(d);
  hs_operator_destroy(op);
}

Test(api, density_load_reads_back_what_was_saved) {
  make_model();
  hs_operator *op = NULL;
  hs_density *d = NULL, *back = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_GGN, &op), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 12, so.probes = 2, so.seed = 3, so.sigma = 0.01;
  cr_assert_eq(hs_spectrum(op, &so, &d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_density_save(d, hs_cli_path("d.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_density_load(ctx, hs_cli_path("d.json"), &back), HS_OK, "%s", hs_last_error(ctx));
  hs_density_summary a, b;
  hs_density_get_summary(d, &a);
  hs_density_get_summary(back, &b);
  cr_expect(a.params == b.params && a.probes == b.probes && a.steps == b.steps && a.seed == b.seed);
  double sa[] = {a.sigma, a.lambda_min, a.lambda_max, a.trace, a.trace_stderr, a.negative_fraction,
                 a.negative_fraction_stderr, a.negative_tolerance, a.grid_integral, a.negative_fraction_bounds[0],
                 a.negative_fraction_bounds[1]};
  double sb[] = {b.sigma, b.lambda_min, b.lambda_max, b.trace, b.trace_stderr, b.negative_fraction,
                 b.negative_fraction_stderr, b.negative_tolerance, b.grid_integral, b.negative_fraction_bounds[0],
                 b.negative_fraction_bounds[1]};
  for (size_t i = 0; i < sizeof sa / sizeof *sa; i++)
    cr_expect(json_close(&sb[i], &sa[i], 1), "summary field %zu: saved %.17g, read %.17g", i, sa[i], sb[i]);
  cr_expect(isnan(b.total_seconds), "a loaded density has no timing");
  for (size_t p = 0; p < 2; p++) {
    const double *n1, *w1, *n2, *w2;
    size_t c1 = hs_density_probe(d, p, &n1, &w1), c2 = hs_density_probe(back, p, &n2, &w2);
    cr_expect(c1 == c2 && json_close(n2, n1, c1) && json_close(w2, w1, c1), "probe %zu read back differs", p);
  }
  const double *g1, *d1, *s1, *g2, *d2, *s2;
  size_t n1 = hs_density_grid(d, &g1, &d1, &s1), n2 = hs_density_grid(back, &g2, &d2, &s2);
  cr_expect(n1 == n2 && json_close(g2, g1, n1) && json_close(d2, d1, n1) && json_close(s2, s1, n1));
  cr_expect_eq(hs_density_save(back, hs_cli_path("again.json")), HS_E_UNSUPPORTED);
  cr_expect(!hs_cli_exists("again.json"));
  hs_density_destroy(back);
  back = NULL;
  hs_cli_write_text("bad.json", "{\"format\": \"hesspec.eig/1\"}");
  cr_expect_eq(hs_density_load(ctx, hs_cli_path("bad.json"), &back), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "format"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_density_load(ctx, hs_cli_path("missing.json"), &back), HS_E_IO);
  cr_expect(back == NULL);
  hs_density_destroy(d);
  hs_operator_destroy(op);
}

Test(api, spectrum_rejects_bad_options) {
  make_model();
  hs_operator *op = NULL;
  hs_density *d = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &op), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = hs_operator_size(op) + 1;
  cr_expect_eq(hs_spectrum(op, &so, &d), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "steps"), "%s", hs_last_error(ctx));
  so = hs_spectrum_defaults();
  so.probes = 0;
  cr_expect_eq(hs_spectrum(op, &so, &d), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "probes"), "%s", hs_last_error(ctx));
  so = hs_spectrum_defaults();
  so.sigma = NAN;
  cr_expect_eq(hs_spectrum(op, &so, &d), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "sigma"), "%s", hs_last_error(ctx));
  cr_expect(d == NULL);
  hs_operator_destroy(op);
}

/* The flag hook stops SLQ at its next step; the model stays usable and a rerun gives the
 * numbers of an uninterrupted run. */
Test(api, cancel_flag_stops_and_leaves_the_model_usable) {
  make_model();
  hs_operator *op = NULL;
  hs_density *d = NULL, *ref = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &op), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 20, so.probes = 2;
  cr_assert_eq(hs_spectrum(op, &so, &ref), HS_OK);
  int flag = 1;
  hs_set_progress(ctx, hs_progress_cancel_flag, &flag);
  cr_expect_eq(hs_spectrum(op, &so, &d), HS_E_CANCELLED);
  cr_expect(d == NULL);
  cr_expect(strstr(hs_last_error(ctx), "cancelled"), "%s", hs_last_error(ctx));
  hs_eigen_result e;
  hs_eigen_options eo = hs_eigen_defaults();
  cr_expect_eq(hs_eigen(op, &eo, &e), HS_E_CANCELLED);
  cr_expect(e.values == NULL);
  flag = 0;
  cr_assert_eq(hs_spectrum(op, &so, &d), HS_OK, "%s", hs_last_error(ctx));
  const double *n1, *n2, *w1, *w2;
  for (size_t p = 0; p < 2; p++) {
    size_t c1 = hs_density_probe(d, p, &n1, &w1), c2 = hs_density_probe(ref, p, &n2, &w2);
    cr_expect(c1 == c2 && same_bits(n1, n2, c1) && same_bits(w1, w2, c1), "probe %zu differs after a cancel", p);
  }
  cr_expect_eq(hs_progress_cancel_flag(NULL, "x", 0, 1), HS_OK);
  hs_set_progress(ctx, NULL, NULL);
  hs_density_destroy(d);
  hs_density_destroy(ref);
  hs_operator_destroy(op);
}

Test(api, eigen_equals_internal_lanczos_and_dense) {
  make_model();
  hs_operator *op = NULL;
  hs_linop *L = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &op), HS_OK);
  cr_assert_eq(hs_linop_model(model, HS_CURV_HESSIAN, &L), HS_OK);
  const size_t P = hs_operator_size(op);
  for (int bottom = 0; bottom < 2; bottom++) {
    hs_eigen_options eo = hs_eigen_defaults();
    eo.which = bottom ? HS_EIGEN_BOTTOM : HS_EIGEN_TOP, eo.count = 3, eo.seed = 2, eo.vectors = 1;
    hs_eigen_result e;
    cr_assert_eq(hs_eigen(op, &eo, &e), HS_OK, "%s", hs_last_error(ctx));
    hs_eig_options io = {.which = bottom ? HS_EIG_BOTTOM : HS_EIG_TOP, .count = 3, .seed = 2, .want_vectors = 1};
    hs_eig_result *r = NULL;
    cr_assert_eq(hs_eig_extremal(L, &io, &r), HS_OK);
    cr_expect(e.n == P && e.found == r->found && e.requested == 3 && e.steps == r->steps);
    cr_expect(same_bits(e.values, r->values, r->found) && same_bits(e.residuals, r->residuals, r->found) &&
                  same_bits(e.vectors, r->vectors, r->found * P),
              "%s: differs from hs_eig_extremal", bottom ? "bottom" : "top");
    hs_eig_free(r);
    hs_eigen_free(&e);
    cr_expect(e.values == NULL && e.found == 0, "hs_eigen_free zeroes the struct");
  }
  hs_eigen_options eo = hs_eigen_defaults();
  eo.which = HS_EIGEN_EXACT;
  hs_eigen_result e;
  cr_assert_eq(hs_eigen(op, &eo, &e), HS_OK, "%s", hs_last_error(ctx));
  hs_eig_result *r = NULL;
  cr_assert_eq(hs_eig_exact(L, 0, 0, &r), HS_OK);
  cr_expect(e.found == P && e.residuals == NULL && e.vectors == NULL && same_bits(e.values, r->values, P));
  hs_eig_free(r);
  hs_eigen_free(&e);
  eo.exact_limit = P - 1;
  cr_expect_eq(hs_eigen(op, &eo, &e), HS_E_INVALID);
  eo = hs_eigen_defaults();
  eo.count = 0;
  cr_expect_eq(hs_eigen(op, &eo, &e), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "count"), "%s", hs_last_error(ctx));
  eo.count = P + 1;
  cr_expect_eq(hs_eigen(op, &eo, &e), HS_E_INVALID);
  eo.count = 1, eo.which = (hs_eigen_which)9;
  cr_expect_eq(hs_eigen(op, &eo, &e), HS_E_INVALID);
  hs_linop_destroy(L);
  hs_operator_destroy(op);
}

Test(api, trace_equals_internal_hutchinson) {
  make_model();
  hs_operator *op = NULL;
  hs_linop *L = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &op), HS_OK);
  cr_assert_eq(hs_linop_model(model, HS_CURV_HESSIAN, &L), HS_OK);
  for (int pp = 0; pp < 2; pp++) {
    hs_trace_est_options to = hs_trace_est_defaults();
    to.probes = 30, to.seed = 4, to.method = pp ? HS_TRACE_EST_HUTCHPP : HS_TRACE_EST_HUTCHINSON;
    hs_trace_est t;
    cr_assert_eq(hs_trace_estimate(op, &to, &t), HS_OK, "%s", hs_last_error(ctx));
    hs_trace_options io = {.probes = 30, .seed = 4, .method = pp ? HS_TRACE_HUTCHPP : HS_TRACE_HUTCHINSON};
    hs_trace_result *r = NULL;
    cr_assert_eq(hs_trace_hutchinson(L, &io, &r), HS_OK);
    cr_expect(t.trace == r->trace && t.nsamples == r->nsamples && same_bits(t.samples, r->samples, r->nsamples) &&
                  t.sketch_rank == r->rank && t.sketch_trace == r->exact_part,
              "%s differs from the internal estimate", pp ? "hutch++" : "hutchinson");
    hs_trace_free(r);
    hs_trace_est_free(&t);
  }
  hs_trace_est_options to = hs_trace_est_defaults();
  hs_trace_est t;
  to.probes = 0;
  cr_expect_eq(hs_trace_estimate(op, &to, &t), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "probes"), "%s", hs_last_error(ctx));
  to.probes = 2, to.method = HS_TRACE_EST_HUTCHPP;
  cr_expect_eq(hs_trace_estimate(op, &to, &t), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "hutch++"), "%s", hs_last_error(ctx));
  hs_linop_destroy(L);
  hs_operator_destroy(op);
}

/* An explicit matrix through every call: exact eigenvalues 1..20, the density's trace. */
Test(api, matrix_operator_spectra) {
  double ev[20];
  for (int i = 0; i < 20; i++) ev[i] = i + 1;
  double *A = sf_matrix_with_eigs(20, ev, 3);
  hs_operator *op = NULL;
  cr_assert_eq(hs_operator_matrix(ctx, 20, A, 1e-10, &op), HS_OK, "%s", hs_last_error(ctx));
  hs_eigen_options eo = hs_eigen_defaults();
  eo.which = HS_EIGEN_EXACT;
  hs_eigen_result e;
  cr_assert_eq(hs_eigen(op, &eo, &e), HS_OK);
  for (int i = 0; i < 20; i++) cr_expect(fabs(e.values[i] - ev[i]) < 1e-12, "eigenvalue %d: %.17g", i, e.values[i]);
  hs_eigen_free(&e);
  hs_density *d = NULL;
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 20, so.probes = 4, so.data = "A.npy";
  cr_assert_eq(hs_spectrum(op, &so, &d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_density_save(d, hs_cli_path("m.json")), HS_OK, "%s", hs_last_error(ctx));
  cJSON *j = hs_cli_read_json("m.json");
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "operator");
  const cJSON *mat = cJSON_GetObjectItemCaseSensitive(j, "matrix");
  cr_expect(cJSON_IsString(kind) && strcmp(kind->valuestring, "matrix") == 0);
  cr_expect(cJSON_IsString(mat) && strcmp(mat->valuestring, "A.npy") == 0);
  cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "model")));
  cJSON_Delete(j);
  hs_density_destroy(d);
  hs_operator_destroy(op);
  free(A);
}

/* A second model of the same spec with the seeded initialisation, unbound. */
static hs_model *fresh_model(void) {
  hs_model *m = NULL;
  cr_assert_eq(hs_model_create_json(ctx, SPEC_LAYERS, "layers.json", &m), HS_OK);
  cr_assert_eq(hs_model_init(m, SEED), HS_OK);
  return m;
}

/* Parameters and batch-norm running statistics of a and b, bit for bit. */
static int same_state(hs_model *a, hs_model *b) {
  size_t P = hs_model_num_params(a);
  double *x = malloc(P * sizeof *x), *y = malloc(P * sizeof *y);
  cr_assert_eq(hs_model_get_params(a, x), HS_OK);
  cr_assert_eq(hs_model_get_params(b, y), HS_OK);
  int same = same_bits(x, y, P);
  for (size_t i = 0; i < hs_model_num_norms(a); i++) {
    int f = hs_model_norm(a, i)->features;
    double ma[64], va[64], mb[64], vb[64];
    cr_assert(f <= 64);
    cr_assert_eq(hs_model_get_running(a, (int)i, ma, va), HS_OK);
    cr_assert_eq(hs_model_get_running(b, (int)i, mb, vb), HS_OK);
    same = same && same_bits(ma, mb, (size_t)f) && same_bits(va, vb, (size_t)f);
  }
  free(x);
  free(y);
  return same;
}

/* hs_train against `hesspec train` with the same options, data and seed: the last checkpoint
 * and the trained model bit for bit (parameters and running statistics); the records against
 * the internal trainer's. */
Test(api, train_equals_cli_and_trainer) {
  make_model();
  int rc = hs_cli_run("", "train --model spec.json --inputs X.npy --targets Y.npy --seed 7 --batch 8 --epochs 3 "
                          "--lr 0.05 --momentum 0.8 --nesterov --schedule cosine --out cli", "");
  cr_assert_eq(rc, 0, "hesspec train exited %d: %s", rc, hs_cli_err);
  hs_train_config c = hs_train_config_defaults();
  c.batch = 8, c.epochs = 3, c.lr = 0.05, c.momentum = 0.8, c.nesterov = 1, c.schedule = HS_TRAIN_COSINE, c.seed = SEED;
  c.checkpoint_dir = hs_cli_path("api"), c.log_path = hs_cli_path("api.csv");
  hs_train_log log;
  cr_assert_eq(hs_train(model, data, NULL, &c, &log), HS_OK, "%s", hs_last_error(ctx));
  hs_model *cli = fresh_model();
  cr_assert_eq(hs_model_load(cli, hs_cli_path("cli/epoch-0003.safetensors")), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(same_state(model, cli), "hs_train's model differs from hesspec train's last checkpoint");
  cr_expect(hs_cli_exists("api/epoch-0003.safetensors") && hs_cli_exists("api/last.safetensors") &&
            hs_cli_exists("api.csv"));
  size_t n, batch;
  hs_model_binding(model, &n, &batch);
  cr_expect(n == N_SAMPLES && batch == N_SAMPLES, "after training: bound to %zu samples, batch %zu", n, batch);

  /* the internal trainer from the same start: the same records */
  hs_model *ref = fresh_model();
  hs_train_options o = hs_train_defaults();
  o.batch = 8, o.epochs = 3, o.lr = 0.05, o.momentum = 0.8, o.nesterov = 1, o.schedule = HS_LR_COSINE, o.seed = SEED;
  hs_trainer *t = NULL;
  cr_assert_eq(hs_trainer_create(ref, data, NULL, &o, &t), HS_OK);
  cr_assert_eq(hs_trainer_run(t), HS_OK);
  cr_assert_eq(log.n, 3);
  cr_expect_eq(log.steps, hs_trainer_steps(t));
  for (size_t i = 0; i < 3; i++) {
    const hs_train_epoch *e = hs_trainer_epoch(t, i);
    const hs_train_record *r = &log.records[i];
    cr_expect(r->epoch == i + 1 && r->loss == e->loss && r->accuracy == e->accuracy && r->lr == e->lr &&
                  isnan(r->test_loss) && isnan(r->test_accuracy),
              "epoch %zu: record differs from the trainer's", i + 1);
  }
  hs_trainer_destroy(t);
  cr_expect(same_state(model, ref));
  hs_train_log_free(&log);
  cr_expect(log.records == NULL && log.n == 0, "hs_train_log_free zeroes the struct");
  /* the loss on the data bound again is the trained model's */
  double l1, l2;
  cr_assert_eq(hs_model_bind(ref, data, 0), HS_OK);
  cr_assert_eq(hs_model_loss_grad(model, &l1, NULL), HS_OK);
  cr_assert_eq(hs_model_loss_grad(ref, &l2, NULL), HS_OK);
  cr_expect(l1 == l2);
  hs_model_destroy(ref);
  hs_model_destroy(cli);
}

/* Two epochs, then a resume from their checkpoint to four: the state and the records of an
 * uninterrupted four-epoch run (Adam, with test data). */
Test(api, train_resume_equals_uninterrupted) {
  make_model();
  hs_dataset *test = NULL;
  cr_assert_eq(hs_dataset_create(ctx, 10, 6, X, 3, labels, NULL, &test), HS_OK);
  hs_train_config c = hs_train_config_defaults();
  c.optimizer = HS_TRAIN_ADAM, c.lr = 0.01, c.batch = 8, c.epochs = 2, c.seed = 3;
  c.checkpoint_dir = hs_cli_path("run"), c.log_path = hs_cli_path("run/log.csv");
  hs_train_log part, whole, resumed;
  cr_assert_eq(hs_train(model, data, test, &c, &part), HS_OK, "%s", hs_last_error(ctx));
  hs_model *m2 = fresh_model(), *m3 = fresh_model();
  c.epochs = 4, c.checkpoint_dir = NULL, c.log_path = NULL;
  cr_assert_eq(hs_train(m2, data, test, &c, &whole), HS_OK, "%s", hs_last_error(ctx));
  c.resume = hs_cli_path("run/epoch-0002.safetensors");
  cr_assert_eq(hs_train(m3, data, test, &c, &resumed), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(same_state(m2, m3), "a resumed run differs from an uninterrupted one");
  cr_assert(whole.n == 4 && resumed.n == 4 && part.n == 2, "records: %zu, %zu, %zu", whole.n, resumed.n, part.n);
  cr_expect_eq(whole.steps, resumed.steps);
  /* the carried-over epochs come from log.csv, which prints 10 significant digits; those
   * trained after the resume are the uninterrupted run's bit for bit */
  for (size_t i = 0; i < 4; i++) {
    const hs_train_record *a = &whole.records[i], *b = &resumed.records[i];
    double tol = i < 2 ? 5e-10 : 0;
    cr_expect(a->epoch == b->epoch && fabs(b->loss - a->loss) <= tol * fabs(a->loss) &&
                  fabs(b->test_loss - a->test_loss) <= tol * fabs(a->test_loss) && b->test_accuracy == a->test_accuracy &&
                  !isnan(a->test_loss) && !isnan(a->test_accuracy),
              "epoch %zu: %.17g / %.17g against %.17g / %.17g", i + 1, a->loss, a->test_loss, b->loss, b->test_loss);
  }
  hs_train_log_free(&part);
  hs_train_log_free(&whole);
  hs_train_log_free(&resumed);
  hs_model_destroy(m2);
  hs_model_destroy(m3);
  hs_model_destroy(model); /* before its data: the binding borrows them */
  model = NULL;
  hs_dataset_destroy(test);
}

Test(api, train_rejects_bad_options_and_cancels) {
  make_model();
  hs_train_log log;
  hs_train_config c = hs_train_config_defaults();
  c.lr = -1;
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "lr"), "%s", hs_last_error(ctx));
  c = hs_train_config_defaults();
  c.optimizer = (hs_train_optimizer)5;
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "optimizer"), "%s", hs_last_error(ctx));
  c = hs_train_config_defaults();
  c.save_epochs[0] = 1, c.save_epochs[1] = 99, c.n_save = 2, c.checkpoint_dir = hs_cli_path("never");
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "save_epochs"), "%s", hs_last_error(ctx));
  cr_expect(!hs_cli_exists("never"), "bad options left a folder behind");
  c.n_save = HS_TRAIN_MAX_SAVE + 1;
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_INVALID, "a count beyond the list");
  cr_expect(strstr(hs_last_error(ctx), "save_epochs"), "%s", hs_last_error(ctx));
  c = hs_train_config_defaults();
  c.batch = 39; /* a last batch of one sample with batch norm */
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "batch"), "%s", hs_last_error(ctx));
  cr_expect(log.records == NULL);
  /* cancelled at the first minibatch: the model bound to its data again, and usable */
  int flag = 1;
  hs_set_progress(ctx, hs_progress_cancel_flag, &flag);
  c = hs_train_config_defaults();
  c.batch = 8;
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_CANCELLED);
  cr_expect(strstr(hs_last_error(ctx), "cancelled"), "%s", hs_last_error(ctx));
  hs_set_progress(ctx, NULL, NULL);
  double loss;
  cr_expect_eq(hs_model_loss_grad(model, &loss, NULL), HS_OK, "%s", hs_last_error(ctx));
  size_t n, batch;
  hs_model_binding(model, &n, &batch);
  cr_expect(n == N_SAMPLES);
}

/* Reads "loss" (na x nb nested arrays, or a flat array in 1D) of a landscape file. */
static void read_grid(cJSON *j, const char *key, double *out, size_t na, size_t nb) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
  cr_assert(cJSON_IsArray(a) && (size_t)cJSON_GetArraySize(a) == na, "%s: not %zu rows", key, na);
  for (size_t i = 0; i < na; i++) {
    const cJSON *row = cJSON_GetArrayItem(a, (int)i);
    if (nb == 1 && cJSON_IsNumber(row)) {
      out[i] = row->valuedouble;
      continue;
    }
    cr_assert(cJSON_IsArray(row) && (size_t)cJSON_GetArraySize(row) == nb, "%s[%zu]: not %zu values", key, i, nb);
    for (size_t k = 0; k < nb; k++) out[i * nb + k] = cJSON_GetArrayItem(row, (int)k)->valuedouble;
  }
}

/* Random filter-normalised directions in 2D against `hesspec landscape`'s file, and given
 * directions in 1D against hs_ls_evaluate, bit for bit. */
Test(api, landscape_equals_cli_and_engine) {
  make_model();
  int rc = hs_cli_run("", "landscape --model spec.json --inputs X.npy --targets Y.npy --seed 7 --range -0.5:1,-1:0.25 "
                          "--points 5,4 --out ls.json", "");
  cr_assert_eq(rc, 0, "hesspec landscape exited %d: %s", rc, hs_cli_err);
  hs_landscape_options lo = hs_landscape_defaults();
  lo.dims = 2, lo.seed = SEED, lo.alpha[0] = -0.5, lo.alpha[1] = 1, lo.beta[0] = -1, lo.beta[1] = 0.25;
  lo.points[0] = 5, lo.points[1] = 4;
  hs_landscape_result r;
  cr_assert_eq(hs_landscape(model, &lo, &r), HS_OK, "%s", hs_last_error(ctx));
  cr_assert(r.dims == 2 && r.na == 5 && r.nb == 4 && r.accuracy && r.beta);
  cJSON *j = hs_cli_read_json("ls.json");
  double loss[20], acc[20];
  read_grid(j, "loss", loss, 5, 4);
  read_grid(j, "accuracy", acc, 5, 4);
  cr_expect(json_close(r.loss, loss, 20) && json_close(r.accuracy, acc, 20), "the grid differs from the CLI's file");
  cJSON_Delete(j);
  size_t P = hs_model_num_params(model);
  double *theta = malloc(P * sizeof *theta), *d = malloc(P * sizeof *d), *after = malloc(P * sizeof *after);
  cr_assert_eq(hs_model_get_params(model, theta), HS_OK);
  hs_ls_random_direction(model, theta, SEED, 1, d);
  cr_expect(same_bits(r.directions + P, d, P), "d2 is not random direction 1 of the seed");
  hs_landscape_free(&r);
  cr_expect(r.loss == NULL && r.directions == NULL);

  /* given directions, 1D, against the engine */
  double *v = hs_test_vec(P, 9);
  lo = hs_landscape_defaults();
  lo.directions = HS_LANDSCAPE_GIVEN, lo.d1 = v, lo.points[0] = 7;
  cr_assert_eq(hs_landscape(model, &lo, &r), HS_OK, "%s", hs_last_error(ctx));
  hs_ls_result *e = NULL;
  hs_ls_grid g = {.dims = 1, .a0 = -1, .a1 = 1, .na = 7};
  cr_assert_eq(hs_ls_evaluate(model, theta, v, NULL, &g, &e), HS_OK);
  cr_expect(r.na == 7 && r.nb == 1 && r.beta == NULL && same_bits(r.alpha, e->alpha, 7) &&
            same_bits(r.loss, e->loss, 7) && same_bits(r.accuracy, e->accuracy, 7) && isnan(r.eigenvalues[0]));
  cr_assert_eq(hs_model_get_params(model, after), HS_OK);
  cr_expect(same_bits(theta, after, P), "the model is not back at its parameters");
  hs_ls_free(e);
  hs_landscape_free(&r);

  /* bad options name the field */
  lo.d1 = NULL;
  cr_expect_eq(hs_landscape(model, &lo, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "d1"), "%s", hs_last_error(ctx));
  lo = hs_landscape_defaults();
  lo.points[0] = 1;
  cr_expect_eq(hs_landscape(model, &lo, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "points"), "%s", hs_last_error(ctx));
  lo = hs_landscape_defaults();
  lo.alpha[0] = 2;
  cr_expect_eq(hs_landscape(model, &lo, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "alpha"), "%s", hs_last_error(ctx));
  cr_expect(r.loss == NULL);
  free(v);
  free(theta);
  free(d);
  free(after);
}

/* Newton-MR through the API and the engine from the same perturbed start: the same point,
 * history and counts, bit for bit. */
Test(api, critical_equals_newton_mr) {
  make_model();
  size_t P = hs_model_num_params(model);
  double *theta = malloc(P * sizeof *theta), *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b);
  cr_assert_eq(hs_model_get_params(model, theta), HS_OK);
  hs_critical_options co = hs_critical_defaults();
  co.max_iter = 6, co.gtol = 1e-12, co.noise = 0.1, co.seed = 5, co.start = 2;
  hs_critical_result r;
  cr_assert_eq(hs_critical(model, &co, &r), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_get_params(model, a), HS_OK);

  cr_assert_eq(hs_model_set_params(model, theta), HS_OK);
  cr_assert_eq(hs_critical_perturb(model, 5, 2, 0.1), HS_OK);
  hs_newton_mr_options no = hs_newton_mr_defaults();
  no.max_iter = 6, no.gtol = 1e-12;
  hs_newton_mr_result e;
  cr_assert_eq(hs_newton_mr(model, &no, &e), HS_OK);
  cr_assert_eq(hs_model_get_params(model, b), HS_OK);
  cr_expect(same_bits(a, b, P), "the point found differs from hs_newton_mr's");
  cr_expect(r.loss == e.loss && r.grad_norm == e.grad_norm && r.grad_norm_start == e.grad_norm0 &&
            r.iterations == e.iterations && r.converged == e.converged && r.hvps == e.hvps &&
            r.minres_iterations == e.minres_iterations && same_bits(r.history, e.history, e.iterations + 1));
  cr_expect(r.grad_norm < r.grad_norm_start, "Newton-MR did not reduce the gradient: %g -> %g", r.grad_norm_start,
            r.grad_norm);
  hs_newton_mr_free(&e);
  hs_critical_free(&r);
  cr_expect(r.history == NULL);

  co = hs_critical_defaults();
  co.gtol = 0;
  cr_expect_eq(hs_critical(model, &co, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "gtol"), "%s", hs_last_error(ctx));
  co = hs_critical_defaults();
  co.theta = 1;
  cr_expect_eq(hs_critical(model, &co, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "theta"), "%s", hs_last_error(ctx));
  hs_model *unbound = fresh_model();
  cr_expect_eq(hs_critical(unbound, NULL, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "bound"), "%s", hs_last_error(ctx));
  hs_model_destroy(unbound);
  free(theta);
  free(a);
  free(b);
}

/* A quadratic loss (MSE of a linear model) is solved by one exact Newton step. */
Test(api, critical_quadratic_one_step) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  cr_assert_eq(hs_model_create_json(ctx, "{\"input_dim\": 4, \"hidden\": [], \"output_dim\": 2, \"loss\": \"mse\"}",
                                    "lin", &m), HS_OK, "%s", hs_last_error(ctx));
  double *x = hs_test_vec(30 * 4, 2), *y = hs_test_vec(30 * 2, 3);
  cr_assert_eq(hs_dataset_create(ctx, 30, 4, x, 2, NULL, y, &d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_bind(m, d, 0), HS_OK);
  hs_critical_options co = hs_critical_defaults();
  co.theta = 0, co.gtol = 1e-9;
  hs_critical_result r;
  cr_assert_eq(hs_critical(m, &co, &r), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(r.converged && r.iterations == 1, "converged %d in %zu steps, ||g|| %g", r.converged, r.iterations, r.grad_norm);
  hs_critical_free(&r);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  free(x);
  free(y);
}

Test(api, arrays_round_trip_and_name_bad_elements) {
  const double A[6] = {1.5, -2, 1e-300, 3.25, 0, 1.0 / 3};
  const size_t dims[2] = {2, 3};
  hs_array a;
  cr_assert_eq(hs_array_save(ctx, hs_cli_path("a.npy"), HS_F64, A, 2, dims), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_array_load(ctx, hs_cli_path("a.npy"), &a), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(a.ndim == 2 && a.dim[0] == 2 && a.dim[1] == 3 && a.count == 6 && same_bits(a.data, A, 6));
  hs_array_free(&a);
  cr_expect(a.data == NULL && a.count == 0);
  /* f32 files hold each value rounded once */
  cr_assert_eq(hs_array_save(ctx, hs_cli_path("f.npy"), HS_F32, A, 1, (size_t[]){6}), HS_OK);
  cr_assert_eq(hs_array_load(ctx, hs_cli_path("f.npy"), &a), HS_OK);
  for (size_t i = 0; i < 6; i++) cr_expect_eq(a.data[i], (double)(float)A[i], "element %zu", i);
  hs_array_free(&a);
  /* integer files (labels) come back as doubles */
  const int32_t L[3] = {7, -1, 2147483647};
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("i.npy"), HS_NPY_I4, L, 1, (size_t[]){3}), HS_OK);
  cr_assert_eq(hs_array_load(ctx, hs_cli_path("i.npy"), &a), HS_OK);
  cr_expect(a.data[0] == 7 && a.data[1] == -1 && a.data[2] == 2147483647.0);
  hs_array_free(&a);
  /* a NaN is named by its index; a missing file is HS_E_IO; *out is zeroed */
  const double B[4] = {0, 1, NAN, 3};
  cr_assert_eq(hs_array_save(ctx, hs_cli_path("nan.npy"), HS_F64, B, 2, (size_t[]){2, 2}), HS_OK);
  cr_expect_eq(hs_array_load(ctx, hs_cli_path("nan.npy"), &a), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "nan.npy") && strstr(hs_last_error(ctx), "[1, 0]"), "%s", hs_last_error(ctx));
  cr_expect(a.data == NULL);
  cr_expect_eq(hs_array_load(ctx, hs_cli_path("missing.npy"), &a), HS_E_IO);
  cr_expect_eq(hs_array_save(ctx, hs_cli_path("bad.npy"), (hs_dtype)7, A, 1, (size_t[]){6}), HS_E_INVALID);
  cr_expect(!hs_cli_exists("bad.npy"));
  char sh[32];
  hs_array_shape_string(2, dims, sh, sizeof sh);
  cr_expect_str_eq(sh, "2x3");
  hs_array_shape_string(0, dims, sh, sizeof sh);
  cr_expect_str_eq(sh, "()");
}


Test(api, landscape_save_writes_the_cli_file) {
  make_model();
  size_t P = hs_model_num_params(model);
  double *v = hs_test_vec(P, 4), *w = hs_test_vec(P, 5);
  cr_assert_eq(hs_array_save(ctx, hs_cli_path("d1.npy"), HS_F64, v, 1, &P), HS_OK);
  cr_assert_eq(hs_array_save(ctx, hs_cli_path("d2.npy"), HS_F64, w, 1, &P), HS_OK);
  int rc = hs_cli_run("", "landscape --model spec.json --inputs X.npy --targets Y.npy --seed 7 --directions files "
                          "--direction-files d1.npy,d2.npy --points 4,3 --range -1:2,0:1 --out cli.json", "");
  cr_assert_eq(rc, 0, "hesspec landscape exited %d: %s", rc, hs_cli_err);
  char *src = hs_api_data_source("cli.json");

  hs_landscape_options lo = hs_landscape_defaults();
  lo.dims = 2, lo.directions = HS_LANDSCAPE_GIVEN, lo.d1 = v, lo.d2 = w, lo.seed = SEED;
  lo.alpha[0] = -1, lo.alpha[1] = 2, lo.beta[0] = 0, lo.beta[1] = 1, lo.points[0] = 4, lo.points[1] = 3;
  hs_landscape_result r;
  cr_assert_eq(hs_landscape(model, &lo, &r), HS_OK, "%s", hs_last_error(ctx));
  const hs_landscape_provenance pv = {.data = src, .label = "files", .files = {"d1.npy", "d2.npy"}};
  cr_assert_eq(hs_landscape_save(model, &lo, &r, &pv, hs_cli_path("api.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(hs_api_same_file("cli.json", "api.json"), "the API's landscape file differs from the CLI's (files in %s)",
            hs_cli_dir);

  /* without provenance: the kind from the options, the norms of the directions, no CSV half-written */
  cr_assert_eq(hs_landscape_save(model, &lo, &r, NULL, hs_cli_path("bare.json")), HS_OK, "%s", hs_last_error(ctx));
  cJSON *bare = hs_cli_read_json("bare.json");
  const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(bare, "directions");
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(dirs, "kind")->valuestring, "given");
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(bare, "weights")->valuestring, "seeded default initialisation");
  double nv = 0;
  for (size_t p = 0; p < P; p++) nv += v[p] * v[p];
  const cJSON *norms = cJSON_GetObjectItemCaseSensitive(dirs, "norms");
  cr_expect(fabs(cJSON_GetArrayItem(norms, 0)->valuedouble - sqrt(nv)) <= 1e-14 * sqrt(nv));
  cr_expect(hs_cli_exists("bare.csv"));
  cJSON_Delete(bare);
  cr_expect_eq(hs_landscape_plot(ctx, &r, NULL, hs_cli_path("ls.svg")), HS_OK, "%s", hs_last_error(ctx));
  char *svg = hs_cli_read_text("ls.svg");
  cr_expect(svg && strstr(svg, "<svg"), "no SVG written");
  free(svg);
  cr_expect_eq(hs_landscape_save(model, &lo, &r, NULL, ""), HS_E_INVALID);
  hs_landscape_free(&r);
  free(src);
  free(v);
  free(w);
}

/* The loss of the model over d, at batch 0 (all samples). */
static double loss_over(hs_dataset *d) {
  double loss;
  cr_assert_eq(hs_model_bind(model, d, 0), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_loss_grad(model, &loss, NULL), HS_OK, "%s", hs_last_error(ctx));
  return loss;
}

Test(api, datasets_by_name_and_from_npy) {
  make_model();
  const double ref = loss_over(data);
  hs_dataset *d = NULL;
  char src[512];
  cr_assert_eq(hs_dataset_load(ctx, hs_cli_path("X.npy"), hs_cli_path("Y.npy"), 0, hs_model_get_spec(model), &d, src,
                               sizeof src),
               HS_OK, "%s", hs_last_error(ctx));
  cr_expect_eq(hs_dataset_size(d), N_SAMPLES);
  cr_expect(strstr(src, "X.npy"), "source '%s'", src);
  cr_expect_eq(loss_over(d), ref, "the .npy pair gives another loss than the arrays it holds");
  hs_dataset_destroy(d);
  d = NULL;
  /* a named synthetic set equals the reader's own arrays */
  hs_data raw;
  cr_assert_eq(hs_data_open(ctx, "mixture:sep=2", 30, 5, hs_model_get_spec(model), &raw), HS_OK, "%s",
               hs_last_error(ctx));
  hs_dataset *direct = NULL;
  cr_assert_eq(hs_dataset_create(ctx, raw.n, raw.input_dim, raw.X, raw.output_dim, raw.labels, raw.targets, &direct),
               HS_OK);
  cr_assert_eq(hs_dataset_open(ctx, "mixture:sep=2", 30, 5, hs_model_get_spec(model), &d, src, sizeof src), HS_OK,
               "%s", hs_last_error(ctx));
  cr_expect(hs_dataset_size(d) == 30 && strstr(src, "mixture"), "source '%s'", src);
  const double a = loss_over(direct), b = loss_over(d);
  cr_expect_eq(a, b, "hs_dataset_open gives another loss (%.17g) than hs_data_open's arrays (%.17g)", b, a);
  hs_model_bind(model, data, 0);
  hs_dataset_destroy(direct);
  hs_dataset_destroy(d);
  d = NULL;
  hs_data_free(&raw);
  /* bad input names the value */
  cr_expect_eq(hs_dataset_load(ctx, hs_cli_path("X.npy"), hs_cli_path("Y.npy"), N_SAMPLES + 1, hs_model_get_spec(model),
                               &d, NULL, 0),
               HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "X.npy") && strstr(hs_last_error(ctx), "41"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_dataset_open(ctx, "no-such-set", 0, 0, hs_model_get_spec(model), &d, NULL, 0), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "no-such-set"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_dataset_load(ctx, hs_cli_path("X.npy"), NULL, 0, hs_model_get_spec(model), &d, NULL, 0), HS_E_INVALID);
  cr_expect(d == NULL);
}

Test(api, linear_optimum_is_a_stationary_minimum) {
  /* a linear mse net 4 -> 3 -> 2: the least squares fit is not reduced (rank 2 = min(4, 2)) */
  static const char *const spec = "{\"input_dim\": 4, \"hidden\": [3], \"output_dim\": 2, \"activation\": \"linear\","
                                  " \"loss\": \"mse\"}";
  cr_assert_eq(hs_model_create_json(ctx, spec, "linear.json", &model), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_init(model, 3), HS_OK);
  X = hs_test_vec(30 * 4, 5);
  double *Y = hs_test_vec(30 * 2, 6);
  cr_assert_eq(hs_dataset_create(ctx, 30, 4, X, 2, NULL, Y, &data), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_bind(model, data, 0), HS_OK);
  size_t P = hs_model_num_params(model);
  double *before = malloc(P * sizeof *before), *after = malloc(P * sizeof *after), *g = malloc(P * sizeof *g), loss;
  cr_assert_eq(hs_model_get_params(model, before), HS_OK);
  hs_linear_optimum_result r;
  cr_assert_eq(hs_linear_optimum(model, 0, &r), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(r.theta == NULL && isnan(r.factorisation_loss) && r.params == P && !r.reduced);
  cr_assert_eq(hs_model_get_params(model, after), HS_OK);
  cr_expect(same_bits(before, after, P), "without factorise the model is unchanged");
  cr_assert_eq(hs_model_loss_grad(model, &loss, NULL), HS_OK);
  cr_expect(r.loss <= loss, "the optimum %.17g is above the loss at a random point %.17g", r.loss, loss);
  hs_linear_optimum_free(&r);
  /* factorised: the model sits at theta, its loss is the optimum and its gradient vanishes */
  cr_assert_eq(hs_linear_optimum(model, 1, &r), HS_OK, "%s", hs_last_error(ctx));
  cr_assert(r.theta != NULL);
  cr_assert_eq(hs_model_get_params(model, after), HS_OK);
  cr_expect(same_bits(after, r.theta, P), "the model is not left at theta");
  cr_assert_eq(hs_model_loss_grad(model, &loss, g), HS_OK);
  double gn = 0;
  for (size_t p = 0; p < P; p++) gn += g[p] * g[p];
  cr_expect(fabs(loss - r.loss) <= 1e-12 * r.loss && loss == r.factorisation_loss, "loss %.17g, optimum %.17g", loss,
            r.loss);
  cr_expect(sqrt(gn) <= 1e-10, "||grad|| = %g at the optimum", sqrt(gn));
  const hs_run_info info = {.data = "test arrays", .seed = 9};
  cr_assert_eq(hs_linear_optimum_save(model, &r, &info, "w.safetensors", hs_cli_path("o.json")), HS_OK);
  cJSON *j = hs_cli_read_json("o.json");
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(j, "format")->valuestring, "hesspec.optimum/1");
  cr_expect_eq(cJSON_GetObjectItemCaseSensitive(j, "loss")->valuedouble, r.loss);
  cr_expect_eq(cJSON_GetObjectItemCaseSensitive(j, "seed")->valuedouble, 9);
  cJSON_Delete(j);
  hs_linear_optimum_free(&r);
  /* a non-linear net is refused with the reason */
  hs_model *tanh_net = NULL;
  cr_assert_eq(hs_model_create_json(ctx, "{\"input_dim\": 4, \"hidden\": [3], \"output_dim\": 2, \"activation\": "
                                         "\"tanh\", \"loss\": \"mse\"}", "tanh.json", &tanh_net), HS_OK);
  cr_assert_eq(hs_model_bind(tanh_net, data, 0), HS_OK);
  cr_expect_eq(hs_linear_optimum(tanh_net, 1, &r), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "tanh") && r.theta == NULL, "%s", hs_last_error(ctx));
  hs_model_destroy(tanh_net);
  free(before);
  free(after);
  free(g);
  free(Y);
}

typedef struct {
  size_t calls, stop_after;
  size_t epochs[8];
} epoch_counter;

static hs_status count_epoch(void *user, const hs_train_record *r) {
  epoch_counter *c = user;
  if (c->calls < 8) c->epochs[c->calls] = r->epoch;
  c->calls++;
  return c->stop_after && c->calls >= c->stop_after ? HS_E_CANCELLED : HS_OK;
}

Test(api, train_calls_on_epoch_and_stops_on_its_status) {
  make_model();
  hs_train_config c = hs_train_config_defaults();
  c.epochs = 3, c.batch = 10, c.seed = 4;
  epoch_counter n = {0};
  c.on_epoch = count_epoch, c.on_epoch_user = &n;
  hs_train_log log;
  cr_assert_eq(hs_train(model, data, data, &c, &log), HS_OK, "%s", hs_last_error(ctx));
  /* with test data: epoch 0 (the initial state's test loss), then 1, 2, 3 */
  cr_expect(n.calls == 4 && n.epochs[0] == 0 && n.epochs[1] == 1 && n.epochs[3] == 3, "%zu calls", n.calls);
  cr_expect(log.n == 3 && log.curvature_measurements == 0 && log.training_seconds > 0);
  hs_train_log_free(&log);
  /* the hook's status stops the run with it */
  n = (epoch_counter){.stop_after = 2};
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_CANCELLED);
  cr_expect(n.calls == 2 && log.records == NULL, "%zu calls", n.calls);
  /* curvature along training needs its CSV's path */
  c.on_epoch = NULL, c.curvature_every = 2;
  cr_expect_eq(hs_train(model, data, NULL, &c, &log), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "curvature_path"), "%s", hs_last_error(ctx));
  c.curvature_path = hs_cli_path("curv.csv"), c.curvature_samples = 12;
  cr_assert_eq(hs_train(model, data, NULL, &c, &log), HS_OK, "%s", hs_last_error(ctx));
  /* 12 steps: before the first, every second step (6) and each epoch's last (already counted) */
  cr_expect_eq(log.curvature_measurements, 7);
  cr_expect(hs_cli_exists("curv.csv") && log.curvature_seconds > 0);
  hs_train_log_free(&log);
}
