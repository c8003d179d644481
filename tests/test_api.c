/* The public spectral API of include/hesspec.h (src/api): each call against the internal
 * engine it wraps (bit for bit: the same code runs), the density file against the one
 * `hesspec spectrum` writes for the same model, data and seed (equal apart from the clock
 * fields), loading a density back, cancellation through the flag hook, and bad arguments. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/npy.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "linalg/trace.h"
#include "spectra_fixture.h"
#include "support/cli_fixture.h"

/* A layer-form net with every kind the Hessian has second-order terms for (tanh, batch norm,
 * a residual sum) and an MLP-form spec, both small enough for exact eigendecompositions. */
static const char *const SPEC_LAYERS =
    "{\"input_shape\": [6], \"layers\": [{\"type\": \"linear\", \"out_features\": 8},"
    " {\"type\": \"batchnorm\"}, {\"type\": \"tanh\"},"
    " {\"type\": \"residual\", \"body\": [{\"type\": \"linear\", \"out_features\": 8}, {\"type\": \"relu\"}]},"
    " {\"type\": \"linear\", \"out_features\": 3}], \"batchnorm_mode\": \"batch\", \"loss\": \"cross_entropy\"}";
static const char *const SPEC_MLP =
    "{\"input_dim\": 5, \"hidden\": [7, 7], \"output_dim\": 2, \"activation\": \"tanh\", \"loss\": \"mse\"}";

enum { N_SAMPLES = 40, SEED = 7 };

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
  hs_model_destroy(model);
  hs_dataset_destroy(data);
  hs_context_destroy(ctx);
  free(X);
  free(labels);
  model = NULL, data = NULL, X = NULL, labels = NULL;
  hs_cli_fixture_teardown();
}

/* The layer-form model with the seeded default initialisation of SEED (as the CLI makes it
 * without --weights), bound to N_SAMPLES random samples, also written as spec.json, X.npy and
 * Y.npy for the CLI. */
static void make_model(void) {
  cr_assert_eq(hs_model_create_json(ctx, SPEC_LAYERS, "layers.json", &model), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_init(model, SEED), HS_OK);
  X = hs_test_vec(N_SAMPLES * 6, 11);
  labels = malloc(N_SAMPLES * sizeof *labels);
  for (int i = 0; i < N_SAMPLES; i++) labels[i] = (i * 7 + 3) % 3;
  cr_assert_eq(hs_dataset_create(ctx, N_SAMPLES, 6, X, 3, labels, NULL, &data), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_bind(model, data, 0), HS_OK, "%s", hs_last_error(ctx));
  hs_cli_write_text("spec.json", SPEC_LAYERS);
  size_t dx[2] = {N_SAMPLES, 6}, dy[1] = {N_SAMPLES};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, dx), HS_OK);
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("Y.npy"), HS_NPY_I4, labels, 1, dy), HS_OK);
}

static int same_bits(const double *a, const double *b, size_t n) { return n == 0 || memcmp(a, b, n * sizeof *a) == 0; }

/* Equal to the last bit or two: cJSON prints a number with 15 digits when they read back
 * within DBL_EPSILON relative, so a file's numbers round-trip to about one ulp, not exactly. */
static int json_close(const double *a, const double *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(a[i] == b[i] || fabs(a[i] - b[i]) <= 4.5e-16 * fabs(b[i]) || (isnan(a[i]) && isnan(b[i])))) return 0;
  return 1;
}

static cJSON *read_json(const char *name) {
  char *buf;
  size_t len;
  cr_assert_eq(hs_read_file(ctx, hs_cli_path(name), &buf, &len), HS_OK, "%s", hs_last_error(ctx));
  cJSON *j = cJSON_ParseWithLength(buf, len);
  free(buf);
  cr_assert(j, "%s is not JSON", name);
  return j;
}

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
  cJSON *cli = read_json("cli.json");
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cli, "data"), "source");
  cr_assert(cJSON_IsString(src));

  hs_operator *op = NULL;
  hs_density *d = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &op), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 25, so.probes = 3, so.seed = SEED, so.data = src->valuestring;
  cr_assert_eq(hs_spectrum(op, &so, &d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_density_save(d, hs_cli_path("api.json")), HS_OK, "%s", hs_last_error(ctx));
  cJSON *api = read_json("api.json");
  const char *clock[] = {"elapsed_seconds", "created", "timing"};
  for (int i = 0; i < 3; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(cli, clock[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(api, clock[i]);
  }
  cr_expect(cJSON_Compare(cli, api, 1), "the API's density file differs from the CLI's (files in %s)", hs_cli_dir);
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
  cJSON_Delete(cli);
  cJSON_Delete(api);
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
  cJSON *j = read_json("m.json");
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
