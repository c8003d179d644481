/* The public API's per-layer blocks, result files and probe-parallel parts (include/hesspec.h):
 * block products against the whole operator restricted to the block's coordinates, the files
 * of hs_eigen_save, hs_trace_save and hs_density_combine against the CLI's (the CLI is a client
 * of the same calls, so these pin the files' contents and the block bookkeeping), re-smoothing
 * against the density it came from, and two parts gathering through a hook into exactly the
 * one-process result. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/api_fixture.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;
static hs_model *model;
static hs_dataset *data;
static double *X;
static int32_t *labels;

static void setup(void) {
  hs_cli_fixture_setup("api_blocks");
  ctx = hs_test_ctx(HS_F64, 1);
  hs_api_make_model(ctx, &model, &data, &X, &labels);
}

static void teardown(void) {
  hs_api_free_model(&model, &data, &X, &labels);
  hs_context_destroy(ctx);
  hs_cli_fixture_teardown();
}

TestSuite(api_blocks, .init = setup, .fini = teardown);

/* Marks in mask (P) the coordinates of the tensors named `layer` or under it ("layer."). */
static size_t layer_mask(const char *layer, unsigned char *mask) {
  size_t n = 0, len = strlen(layer);
  for (size_t t = 0; t < hs_model_num_tensors(model); t++) {
    const hs_param_info *pi = hs_model_tensor(model, t);
    if (strcmp(pi->name, layer) != 0 && !(strncmp(pi->name, layer, len) == 0 && pi->name[len] == '.')) continue;
    size_t numel = (size_t)pi->rows * (size_t)pi->cols;
    memset(mask + pi->offset, 1, numel);
    n += numel;
  }
  return n;
}

Test(api_blocks, block_products_are_the_whole_operator_restricted) {
  size_t P = hs_model_num_params(model), L = 0;
  hs_operator *H = NULL, *B = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &H), HS_OK);
  cr_assert_eq(hs_operator_layers(H, &L), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(L, 4, "linear, batch norm, residual body linear, head: %zu layers", L);
  cr_expect_null(hs_operator_layer_name(H, L));
  unsigned char *mask = malloc(P);
  double *x = calloc(P, sizeof *x), *y = malloc(P * sizeof *y);
  for (size_t b = 0; b < L; b++) {
    const char *name = hs_operator_layer_name(H, b);
    memset(mask, 0, P);
    size_t nb = layer_mask(name, mask);
    cr_assert_eq(hs_operator_block(H, name, &B), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(hs_operator_size(B), nb, "block %s: size %zu, its tensors hold %zu", name, hs_operator_size(B), nb);
    cr_expect_str_eq(hs_operator_kind(B), "hessian");
    /* H_bb v against the whole H applied to v embedded in zeros, read back on the block */
    double *v = hs_test_vec(nb, 30 + b), *hv = malloc(nb * sizeof *hv);
    memset(x, 0, P * sizeof *x);
    for (size_t p = 0, k = 0; p < P; p++)
      if (mask[p]) x[p] = v[k++];
    cr_assert_eq(hs_operator_apply(H, 1, x, y), HS_OK);
    cr_assert_eq(hs_operator_apply(B, 1, v, hv), HS_OK);
    double worst = 0, scale = 0;
    for (size_t p = 0, k = 0; p < P; p++) {
      if (!mask[p]) continue;
      worst = fmax(worst, fabs(hv[k] - y[p]));
      scale = fmax(scale, fabs(y[p]));
      k++;
    }
    cr_expect(worst <= 1e-13 * (scale + 1), "block %s: |H_bb v - (H x)_b| = %g (scale %g)", name, worst, scale);
    free(v);
    free(hv);
    /* a block of a block is refused */
    hs_operator *BB = NULL;
    cr_expect_eq(hs_operator_block(B, name, &BB), HS_E_UNSUPPORTED);
    hs_operator_destroy(B);
    B = NULL;
  }
  /* one tensor is a block too; unknown names are named */
  const char *t0 = hs_model_tensor(model, 0)->name;
  cr_assert_eq(hs_operator_block(H, t0, &B), HS_OK, "%s", hs_last_error(ctx));
  cr_expect_eq(hs_operator_size(B), (size_t)hs_model_tensor(model, 0)->rows * (size_t)hs_model_tensor(model, 0)->cols);
  hs_operator_destroy(B);
  B = NULL;
  cr_expect_eq(hs_operator_block(H, "layers.9", &B), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "layers.9"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_operator_block(H, "all", &B), HS_E_INVALID);
  cr_expect(B == NULL);
  /* an explicit matrix has no blocks */
  const double A[4] = {2, 1, 1, 3};
  hs_operator *M = NULL;
  cr_assert_eq(hs_operator_matrix(ctx, 2, A, 0, &M), HS_OK);
  cr_expect_eq(hs_operator_block(M, "layers.0", &B), HS_E_UNSUPPORTED);
  cr_expect_eq(hs_operator_layers(M, &L), HS_E_UNSUPPORTED);
  cr_expect_str_eq(hs_operator_kind(M), "matrix");
  hs_operator_destroy(M);
  hs_operator_destroy(H);
  free(mask);
  free(x);
  free(y);
}

/* Runs the CLI and checks it succeeded. */
static void cli(const char *args) {
  int rc = hs_cli_run("", args, "");
  cr_assert_eq(rc, 0, "hesspec %s exited %d: %s", args, rc, hs_cli_err);
}

Test(api_blocks, eig_and_trace_files_equal_the_cli) {
  cli("eig --model spec.json --inputs X.npy --targets Y.npy --seed 7 --top 3 --out eig_cli.json");
  cli("eig --model spec.json --inputs X.npy --targets Y.npy --seed 7 --bottom 2 --block all --out eigb_cli.json");
  cli("trace --model spec.json --inputs X.npy --targets Y.npy --seed 7 --probes 12 --operator ggn --out tr_cli.json");
  cli("trace --model spec.json --inputs X.npy --targets Y.npy --seed 7 --probes 9 --block all --out trb_cli.json");
  char *src = hs_api_data_source("eig_cli.json");
  const hs_run_info info = {.data = src};
  hs_operator *H = NULL, *G = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &H), HS_OK);
  cr_assert_eq(hs_operator_model(model, HS_CURV_GGN, &G), HS_OK);

  hs_eigen_options eo = hs_eigen_defaults();
  eo.count = 3, eo.seed = HS_API_SEED;
  hs_eigen_result er;
  cr_assert_eq(hs_eigen(H, &eo, &er), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_eigen_save(H, &eo, &er, &info, NULL, hs_cli_path("eig_api.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(hs_api_same_file("eig_cli.json", "eig_api.json"), "eig files differ (in %s)", hs_cli_dir);
  hs_eigen_free(&er);

  hs_trace_est_options to = hs_trace_est_defaults();
  to.probes = 12, to.seed = HS_API_SEED;
  hs_trace_est te;
  cr_assert_eq(hs_trace_estimate(G, &to, &te), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_trace_save(G, &to, &te, &info, hs_cli_path("tr_api.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(hs_api_same_file("tr_cli.json", "tr_api.json"), "trace files differ (in %s)", hs_cli_dir);
  hs_trace_est_free(&te);

  /* --block all: one operator per layer, the block files */
  size_t L;
  cr_assert_eq(hs_operator_layers(H, &L), HS_OK);
  hs_operator **ops = calloc(L, sizeof *ops);
  hs_eigen_result *ers = calloc(L, sizeof *ers);
  hs_trace_est *tes = calloc(L, sizeof *tes);
  eo.which = HS_EIGEN_BOTTOM, eo.count = 2;
  to.probes = 9;
  double sum = 0;
  for (size_t b = 0; b < L; b++) {
    cr_assert_eq(hs_operator_block(H, hs_operator_layer_name(H, b), &ops[b]), HS_OK);
    cr_assert_eq(hs_eigen(ops[b], &eo, &ers[b]), HS_OK, "%s", hs_last_error(ctx));
    cr_assert_eq(hs_trace_estimate(ops[b], &to, &tes[b]), HS_OK, "%s", hs_last_error(ctx));
    sum += tes[b].trace;
  }
  cr_assert_eq(hs_eigen_save_blocks(L, ops, &eo, ers, &info, hs_cli_path("eigb_api.json")), HS_OK, "%s",
               hs_last_error(ctx));
  cr_expect(hs_api_same_file("eigb_cli.json", "eigb_api.json"), "block eig files differ (in %s)", hs_cli_dir);
  cr_assert_eq(hs_trace_save_blocks(L, ops, &to, tes, &info, hs_cli_path("trb_api.json")), HS_OK, "%s",
               hs_last_error(ctx));
  cr_expect(hs_api_same_file("trb_cli.json", "trb_api.json"), "block trace files differ (in %s)", hs_cli_dir);
  cJSON *j = hs_cli_read_json("trb_api.json");
  double top = cJSON_GetObjectItemCaseSensitive(j, "trace")->valuedouble;
  cr_expect(fabs(top - sum) <= 1e-12 * fabs(sum), "the block file's trace %.17g is not the blocks' sum %.17g", top, sum);
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "blocks")), (int)L);
  cJSON_Delete(j);
  /* the whole operator is not a block: refused, naming the file */
  hs_operator *mixed[2] = {ops[0], H};
  cr_expect_eq(hs_trace_save_blocks(2, mixed, &to, tes, &info, hs_cli_path("bad.json")), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "bad.json") && !hs_cli_exists("bad.json"), "%s", hs_last_error(ctx));
  for (size_t b = 0; b < L; b++) {
    hs_eigen_free(&ers[b]);
    hs_trace_est_free(&tes[b]);
    hs_operator_destroy(ops[b]);
  }
  free(ops);
  free(ers);
  free(tes);
  hs_operator_destroy(H);
  hs_operator_destroy(G);
  free(src);
}

Test(api_blocks, block_all_density_equals_the_cli) {
  cli("spectrum --model spec.json --inputs X.npy --targets Y.npy --seed 7 --steps 12 --probes 3 --block all "
      "--out cli.json");
  char *src = hs_api_data_source("cli.json");
  hs_operator *H = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &H), HS_OK);
  size_t L;
  cr_assert_eq(hs_operator_layers(H, &L), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 12, so.probes = 3, so.seed = HS_API_SEED, so.data = src;
  hs_density **parts = calloc(L, sizeof *parts);
  double trace = 0;
  for (size_t b = 0; b < L; b++) {
    hs_operator *B = NULL;
    cr_assert_eq(hs_operator_block(H, hs_operator_layer_name(H, b), &B), HS_OK);
    hs_spectrum_options bo = so;
    if (bo.steps > hs_operator_size(B)) bo.steps = hs_operator_size(B); /* as the CLI: exact for small blocks */
    cr_assert_eq(hs_spectrum(B, &bo, &parts[b]), HS_OK, "%s", hs_last_error(ctx));
    hs_density_summary s;
    hs_density_get_summary(parts[b], &s);
    trace += s.trace;
    hs_operator_destroy(B); /* the density keeps its own copy of the block's description */
  }
  hs_density *whole = NULL;
  cr_assert_eq(hs_density_combine(parts, L, &so, &whole), HS_OK, "%s", hs_last_error(ctx));
  cr_expect_null(parts[0], "combine takes the blocks");
  cr_assert_eq(hs_density_num_blocks(whole), L);
  hs_density_summary ws;
  hs_density_get_summary(whole, &ws);
  cr_expect(fabs(ws.trace - trace) <= 1e-12 * fabs(trace), "whole trace %.17g, blocks' sum %.17g", ws.trace, trace);
  cr_assert_eq(hs_density_save(whole, hs_cli_path("api.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_expect(hs_api_same_file("cli.json", "api.json"), "block density files differ (in %s)", hs_cli_dir);
  char *c1 = hs_cli_read_text("cli.csv"), *c2 = hs_cli_read_text("api.csv");
  cr_expect_str_eq(c1, c2, "the CSVs differ");
  free(c1);
  free(c2);
  /* a non-block density cannot be combined; the densities handed over are freed anyway */
  hs_density *one[1] = {NULL}, *bad = NULL;
  cr_assert_eq(hs_spectrum(H, &so, &one[0]), HS_OK);
  cr_expect_eq(hs_density_combine(one, 1, &so, &bad), HS_E_INVALID);
  cr_expect(one[0] == NULL && bad == NULL);
  hs_density_destroy(whole);
  hs_operator_destroy(H);
  free(parts);
  free(src);
}

Test(api_blocks, smoothing_reproduces_the_density_and_plots) {
  hs_operator *H = NULL;
  hs_density *d = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &H), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 15, so.probes = 4, so.seed = 3;
  cr_assert_eq(hs_spectrum(H, &so, &d), HS_OK, "%s", hs_last_error(ctx));
  hs_density_summary s;
  hs_density_get_summary(d, &s);
  const double *grid, *dens;
  size_t g = hs_density_grid(d, &grid, &dens, NULL);
  double *y = malloc(g * sizeof *y), peak = 0, worst = 0;
  hs_density_smooth(d, s.sigma, g, grid, y);
  for (size_t i = 0; i < g; i++) {
    peak = fmax(peak, dens[i]);
    worst = fmax(worst, fabs(y[i] - dens[i]));
  }
  cr_expect(worst <= 1e-12 * peak, "re-smoothing with the density's own sigma differs by %g (peak %g)", worst, peak);
  size_t want = hs_density_grid_size(s.lambda_min - 5 * s.sigma, s.lambda_max + 5 * s.sigma, s.sigma);
  cr_expect(want >= 1001, "a grid of %zu points", want);
  hs_plot_line lines[2] = {{.label = "H", .n = g, .x = grid, .y = dens}, {.label = "again", .n = g, .x = grid, .y = y}};
  const hs_plot_style style = {.log_y = 1, .title = "two <lines>"};
  cr_assert_eq(hs_plot_svg(ctx, hs_cli_path("p.svg"), lines, 2, &style), HS_OK, "%s", hs_last_error(ctx));
  char *svg = hs_cli_read_text("p.svg");
  cr_expect(strstr(svg, "<svg") && strstr(svg, "again") && strstr(svg, "two &lt;lines&gt;"), "the SVG lacks its parts");
  free(svg);
  cr_expect_eq(hs_plot_svg(ctx, hs_cli_path("none.svg"), lines, 0, NULL), HS_E_INVALID);
  cr_expect(!hs_cli_exists("none.svg"));
  free(y);
  hs_density_destroy(d);
  hs_operator_destroy(H);
}

/* ---- probe parallel: two parts in two threads, gathering through a shared buffer ---- */

typedef struct {
  pthread_barrier_t barrier;
  double *buf;   /* both parts' doubles, in part order */
  size_t offset[2];
} exchange;

typedef struct {
  exchange *ex;
  size_t part;
  int is_trace;
  hs_status st;
  hs_context *ctx; /* the part's: the density borrows it */
  hs_density *d;
  hs_trace_est t;
} part_run;

static __thread size_t tls_part;

static hs_status gather(void *user, const double *send, size_t n, const size_t *counts, double *recv) {
  exchange *ex = user;
  const size_t r = tls_part, total = counts[0] + counts[1];
  if (n != counts[r]) return HS_E_INTERNAL; /* asserted by the main thread through the status */
  pthread_barrier_wait(&ex->barrier);
  if (r == 0) {
    ex->buf = malloc(total * sizeof *ex->buf);
    ex->offset[0] = 0, ex->offset[1] = counts[0];
  }
  pthread_barrier_wait(&ex->barrier);
  memcpy(ex->buf + ex->offset[r], send, n * sizeof *send);
  pthread_barrier_wait(&ex->barrier);
  memcpy(recv, ex->buf, total * sizeof *recv);
  pthread_barrier_wait(&ex->barrier);
  if (r == 0) free(ex->buf);
  return HS_OK;
}

/* One part on its own context, data, model and operator (as one MPI rank would); no Criterion
 * assertion off the main thread: the outcome is pr->st. */
static void *run_part(void *arg) {
  part_run *pr = arg;
  tls_part = pr->part;
  hs_context_options co = hs_context_defaults();
  co.device = "cpu";
  co.threads = 1;
  hs_dataset *dd = NULL;
  hs_model *m = NULL;
  hs_operator *H = NULL;
  pr->st = hs_context_create(&co, &pr->ctx);
  if (pr->st == HS_OK) pr->st = hs_dataset_create(pr->ctx, HS_API_SAMPLES, 6, X, 3, labels, NULL, &dd);
  if (pr->st == HS_OK) pr->st = hs_model_create_json(pr->ctx, HS_API_SPEC_LAYERS, "layers.json", &m);
  if (pr->st == HS_OK) pr->st = hs_model_init(m, HS_API_SEED);
  if (pr->st == HS_OK) pr->st = hs_model_bind(m, dd, 0);
  if (pr->st == HS_OK) pr->st = hs_operator_model(m, HS_CURV_HESSIAN, &H);
  if (pr->st == HS_OK && pr->is_trace) {
    hs_trace_est_options to = hs_trace_est_defaults();
    to.probes = 7, to.seed = 5, to.part = pr->part, to.parts = 2, to.allgather = gather, to.allgather_user = pr->ex;
    pr->st = hs_trace_estimate(H, &to, &pr->t);
  } else if (pr->st == HS_OK) {
    hs_spectrum_options so = hs_spectrum_defaults();
    so.steps = 10, so.probes = 5, so.seed = 5, so.part = pr->part, so.parts = 2, so.allgather = gather,
    so.allgather_user = pr->ex;
    pr->st = hs_spectrum(H, &so, &pr->d);
  }
  hs_operator_destroy(H);
  hs_model_destroy(m);
  hs_dataset_destroy(dd);
  return NULL;
}

Test(api_blocks, two_parts_gather_into_the_one_process_result) {
  hs_operator *H = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &H), HS_OK);
  hs_spectrum_options so = hs_spectrum_defaults();
  so.steps = 10, so.probes = 5, so.seed = 5;
  hs_density *ref = NULL;
  cr_assert_eq(hs_spectrum(H, &so, &ref), HS_OK);
  hs_trace_est_options to = hs_trace_est_defaults();
  to.probes = 7, to.seed = 5;
  hs_trace_est tref;
  cr_assert_eq(hs_trace_estimate(H, &to, &tref), HS_OK);
  for (int is_trace = 0; is_trace < 2; is_trace++) {
    exchange ex;
    pthread_barrier_init(&ex.barrier, NULL, 2);
    part_run pr[2] = {{.ex = &ex, .part = 0, .is_trace = is_trace}, {.ex = &ex, .part = 1, .is_trace = is_trace}};
    pthread_t th[2];
    for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, run_part, &pr[r]);
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&ex.barrier);
    for (int r = 0; r < 2; r++) {
      cr_assert_eq(pr[r].st, HS_OK, "part %d failed", r);
      if (is_trace) {
        cr_expect(pr[r].t.probes == 7 && pr[r].t.trace == tref.trace && pr[r].t.trace_stderr == tref.trace_stderr &&
                      hs_api_same_bits(pr[r].t.samples, tref.samples, 7),
                  "part %d: the gathered trace differs from one process's", r);
        hs_trace_est_free(&pr[r].t);
        hs_context_destroy(pr[r].ctx);
        continue;
      }
      for (size_t p = 0; p < 5; p++) {
        const double *n1, *w1, *n2, *w2;
        size_t c1 = hs_density_probe(ref, p, &n1, &w1), c2 = hs_density_probe(pr[r].d, p, &n2, &w2);
        cr_expect(c1 == c2 && hs_api_same_bits(n1, n2, c1) && hs_api_same_bits(w1, w2, c1),
                  "part %d, probe %zu: not the one-process rule", r, p);
      }
      hs_density_summary a, b;
      hs_density_get_summary(ref, &a);
      hs_density_get_summary(pr[r].d, &b);
      cr_expect(a.trace == b.trace && a.lambda_min == b.lambda_min && a.lambda_max == b.lambda_max &&
                    a.sigma == b.sigma && a.negative_fraction == b.negative_fraction,
                "part %d: the summary differs from one process's", r);
      cr_expect_eq(b.operator_applications, a.operator_applications, "products of both parts counted");
      hs_density_destroy(pr[r].d);
      hs_context_destroy(pr[r].ctx);
    }
  }
  /* parts without a hook, or more parts than probes, are refused */
  so.parts = 2, so.part = 0;
  hs_density *d = NULL;
  cr_expect_eq(hs_spectrum(H, &so, &d), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "allgather"), "%s", hs_last_error(ctx));
  to.parts = 9, to.part = 0, to.allgather = gather, to.method = HS_TRACE_EST_HUTCHINSON;
  hs_trace_est t;
  cr_expect_eq(hs_trace_estimate(H, &to, &t), HS_E_INVALID);
  hs_trace_est_free(&tref);
  hs_density_destroy(ref);
  hs_operator_destroy(H);
}

Test(api_blocks, critical_study_file_equals_the_cli_and_indices_count_eigenvalues) {
  /* 4 iterations leave the starts short of gtol: exit status 1, the file written all the same */
  int rc = hs_cli_run("", "critical --model spec.json --inputs X.npy --targets Y.npy --seed 7 --starts 3 --noise 0.2 "
                          "--max-iter 4 --out cli.json --plot cli.svg", "");
  cr_assert(rc == 0 || (rc == 1 && strstr(hs_cli_err, "did not reach")), "hesspec critical exited %d: %s", rc, hs_cli_err);
  char *src = hs_api_data_source("cli.json");
  size_t P = hs_model_num_params(model);
  double *theta = malloc(P * sizeof *theta), *last = malloc(P * sizeof *last);
  cr_assert_eq(hs_model_get_params(model, theta), HS_OK);
  hs_critical_study_options co = hs_critical_study_defaults();
  co.starts = 3, co.newton.noise = 0.2, co.newton.max_iter = 4, co.newton.seed = HS_API_SEED;
  co.index.seed = HS_API_SEED;
  co.checkpoint_prefix = hs_cli_path("api.json");
  hs_critical_study s;
  cr_assert_eq(hs_critical_study_run(model, &co, &s), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(s.starts, 3);
  cr_assert_eq(hs_critical_study_save(model, &co, &s, &(hs_run_info){.data = src}, hs_cli_path("api.json")), HS_OK);
  cr_assert_eq(hs_critical_study_plot(ctx, &s, hs_cli_path("api.svg")), HS_OK);
  /* the same file but for the clocks and the checkpoint paths (C-start-NNN beside each file) */
  cJSON *a = hs_cli_read_json("cli.json"), *b = hs_cli_read_json("api.json");
  hs_api_drop_clock_fields(a);
  hs_api_drop_clock_fields(b);
  cJSON *sa, *sb;
  for (int k = 0; k < 3; k++) {
    sa = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "starts"), k);
    sb = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "starts"), k);
    cJSON_DeleteItemFromObjectCaseSensitive(sa, "checkpoint");
    cJSON_DeleteItemFromObjectCaseSensitive(sa, "seconds");
    cJSON_DeleteItemFromObjectCaseSensitive(sb, "checkpoint");
    cJSON_DeleteItemFromObjectCaseSensitive(sb, "seconds");
  }
  cr_expect(cJSON_Compare(a, b, 1), "the study's file differs from the CLI's (in %s)", hs_cli_dir);
  cJSON_Delete(a);
  cJSON_Delete(b);
  char *c1 = hs_cli_read_text("cli.svg"), *c2 = hs_cli_read_text("api.svg");
  cr_expect_str_eq(c1, c2, "the plots differ");
  free(c1);
  free(c2);
  cr_expect(hs_cli_exists("api-start-002.safetensors") && hs_cli_exists("cli-start-002.safetensors"));
  /* the model sits at the last point; its index counts the dense Hessian's negative eigenvalues */
  cr_assert_eq(hs_model_get_params(model, last), HS_OK);
  hs_operator *H = NULL;
  cr_assert_eq(hs_operator_model(model, HS_CURV_HESSIAN, &H), HS_OK);
  hs_eigen_options eo = hs_eigen_defaults();
  eo.which = HS_EIGEN_EXACT;
  hs_eigen_result e;
  cr_assert_eq(hs_eigen(H, &eo, &e), HS_OK);
  const hs_hessian_index *x = &s.indices[2];
  double big = fmax(fabs(e.values[0]), fabs(e.values[e.found - 1]));
  size_t neg = 0;
  for (size_t i = 0; i < e.found; i++) neg += e.values[i] < -1e-9 * big;
  cr_expect(x->exact && x->negative == neg && x->index == (double)neg / (double)P && x->params == P,
            "index %g (%zu negative), the dense spectrum has %zu", x->index, x->negative, neg);
  cr_expect(x->lambda_min == e.values[0] && x->lambda_max == e.values[e.found - 1]);
  /* the index by SLQ: within its standard error of the dense count below SLQ's own tolerance */
  hs_index_options io = hs_index_defaults();
  io.exact_limit = 1, io.steps = P < 60 ? P : 60, io.probes = 30, io.seed = 3;
  hs_hessian_index slq;
  cr_assert_eq(hs_model_index(model, &io, &slq), HS_OK, "%s", hs_last_error(ctx));
  size_t below = 0;
  for (size_t i = 0; i < e.found; i++) below += e.values[i] < -slq.negative_tol;
  const double want = (double)below / (double)P;
  cr_expect(!slq.exact && isfinite(slq.index_stderr) && fabs(slq.index - want) <= 5 * slq.index_stderr,
            "SLQ index %g +- %g, the dense spectrum's %g below -%g", slq.index, slq.index_stderr, want, slq.negative_tol);
  hs_eigen_free(&e);
  hs_operator_destroy(H);
  /* more starts than one need noise */
  co.newton.noise = 0;
  hs_critical_study bad;
  cr_expect_eq(hs_critical_study_run(model, &co, &bad), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "noise"), "%s", hs_last_error(ctx));
  hs_critical_study_free(&s);
  free(theta);
  free(last);
  free(src);
}

typedef struct {
  size_t lines;
} note_count;

/* csv without its column `name` (the header names it), in place; every line the same way. */
static void drop_column(char *csv, const char *name) {
  size_t col = 0, n = strlen(name);
  for (const char *c = csv; *c && *c != '\n'; c++)
    if (*c == ',') col++;
    else if ((c == csv || c[-1] == ',') && strncmp(c, name, n) == 0 && (c[n] == ',' || c[n] == '\n')) break;
  /* col: the index of `name`; remove that field from every line */
  char *w = csv;
  for (const char *r = csv; *r;) {
    size_t field = 0;
    while (*r && *r != '\n') {
      const char *end = r;
      while (*end && *end != ',' && *end != '\n') end++;
      if (field != col) {
        if (field > 0 && !(col == 0 && field == 1)) *w++ = ',';
        memmove(w, r, (size_t)(end - r));
        w += end - r;
      }
      field++;
      r = *end == ',' ? end + 1 : end;
    }
    if (*r == '\n') *w++ = *r++;
  }
  *w = '\0';
}

static void count_note(void *user, const char *line) {
  (void)line;
  ((note_count *)user)->lines++;
}

Test(api_blocks, compare_writes_the_cli_report) {
  static const char *const preset =
      "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 40, \"test_samples\": 20, \"synthetic_dim\": 6,"
      "  \"synthetic_classes\": 3, \"hidden\": [4], \"kinds\": [\"linear\", \"relu-bn\"], \"seeds\": [1],"
      "  \"train\": {\"epochs\": 1, \"batch\": 10}, \"analysis\": {\"epochs\": [1], \"samples\": 20,"
      "  \"slq_steps\": 8, \"slq_probes\": 2} }";
  hs_cli_write_text("p.json", preset);
  int rc = hs_cli_run("", "compare --preset p.json --out cli --threads 1", "");
  cr_assert_eq(rc, 0, "hesspec compare exited %d: %s", rc, hs_cli_err);
  note_count n = {0};
  cr_assert_eq(hs_compare(ctx, hs_cli_path("p.json"), hs_cli_path("api/"), count_note, &n), HS_OK, "%s",
               hs_last_error(ctx));
  cr_expect(n.lines > 0, "no progress line");
  /* the same numbers in summary.csv but its analyses' seconds */
  char *a = hs_cli_read_text("cli/summary.csv"), *b = hs_cli_read_text("api/summary.csv");
  drop_column(a, "seconds");
  drop_column(b, "seconds");
  cr_expect(!strstr(a, "seconds") && strstr(a, "lambda_max"), "the column is not dropped: %.200s", a);
  cr_expect_str_eq(a, b, "the summaries differ (in %s)", hs_cli_dir);
  free(a);
  free(b);
  cr_expect(hs_cli_exists("api/index.html") && !hs_test_stray_temporary(hs_cli_dir));
  /* a second run replaces the report; a folder that is not one is refused and kept */
  cr_assert_eq(hs_compare(ctx, hs_cli_path("p.json"), hs_cli_path("api"), NULL, NULL), HS_OK, "%s", hs_last_error(ctx));
  hs_cli_write_text("plain", "x");
  cr_expect_eq(hs_compare(ctx, hs_cli_path("p.json"), hs_cli_path("plain"), NULL, NULL), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "not a folder"), "%s", hs_last_error(ctx));
  hs_cli_write_text("f32.json", "{ \"dtype\": \"f32\" }");
  cr_expect_eq(hs_compare(ctx, hs_cli_path("f32.json"), hs_cli_path("x"), NULL, NULL), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "f32") && !hs_cli_exists("x"), "%s", hs_last_error(ctx));
}

Test(api_blocks, compare_settings_by_key_are_the_command_line_overrides) {
  hs_cli_write_text("p.json", "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 40, \"test_samples\": 20,"
                              "  \"synthetic_dim\": 6, \"synthetic_classes\": 3, \"hidden\": [4], \"kinds\": [\"linear\"],"
                              "  \"seeds\": [1], \"train\": {\"epochs\": 1, \"batch\": 10},"
                              "  \"analysis\": {\"epochs\": [1], \"samples\": 20, \"slq_steps\": 8, \"slq_probes\": 2} }");
  hs_compare_config *c = hs_compare_config_new();
  cr_assert(c);
  double v = 0;
  cr_assert_eq(hs_compare_config_get(ctx, c, "train.epochs", &v), HS_OK, "%s", hs_last_error(ctx));
  cr_expect_eq(v, 8, "the defaults are compare-demo.json's: 8 epochs");
  cr_assert_eq(hs_compare_config_load(ctx, c, hs_cli_path("p.json")), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_get(ctx, c, "train.epochs", &v), HS_OK);
  cr_expect_eq(v, 1, "the preset's");
  /* what --kinds relu-bn --epochs 2 --steps 6 --lr 0.1 set, by preset key */
  cr_assert_eq(hs_compare_config_set(ctx, c, "kinds", "relu-bn"), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_set(ctx, c, "train.epochs", "2"), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_set(ctx, c, "analysis.slq_steps", "6"), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_set(ctx, c, "train.lr", "0.1"), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_get(ctx, c, "train.lr", &v), HS_OK);
  cr_expect_eq(v, 0.1);
  /* bad keys and values are named; a refused value changes nothing */
  cr_expect_eq(hs_compare_config_set(ctx, c, "analysis.nosuch", "1"), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "'analysis.nosuch'"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_compare_config_set(ctx, c, "analysis.slq_steps", "many"), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "analysis.slq_steps") && strstr(hs_last_error(ctx), "many"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_compare_config_set(ctx, c, "kinds", "relu,nosuch"), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "nosuch"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_compare_config_set(ctx, c, "analysis.outliers", "maybe"), HS_E_INVALID);
  cr_expect_eq(hs_compare_config_set(ctx, c, "analysis.outliers", "false"), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_get(ctx, c, "analysis.outliers", &v), HS_OK);
  cr_expect_eq(v, 0);
  cr_expect_eq(hs_compare_config_set(ctx, c, "analysis.outliers", "true"), HS_OK);
  cr_expect_eq(hs_compare_config_get(ctx, c, "kinds", &v), HS_E_INVALID, "a list is no number");
  cr_assert_eq(hs_compare_config_get(ctx, c, "analysis.slq_steps", &v), HS_OK);
  cr_expect_eq(v, 6);
  /* the command-line names of the table are `hesspec compare`'s options */
  const hs_setting *kinds = hs_setting_find(hs_compare_config_settings(), "kinds", 0);
  cr_assert(kinds && kinds->key && strcmp(kinds->key, "kinds") == 0);
  /* the run equals the command line with those options */
  int rc = hs_cli_run("", "compare --preset p.json --kinds relu-bn --epochs 2 --steps 6 --lr 0.1 --out cli --threads 1", "");
  cr_assert_eq(rc, 0, "hesspec compare exited %d: %s", rc, hs_cli_err);
  hs_compare_summary sum;
  cr_assert_eq(hs_compare_run(ctx, c, hs_cli_path("api"), NULL, NULL, &sum), HS_OK, "%s", hs_last_error(ctx));
  cr_expect_eq(sum.kinds, 1);
  cr_expect_eq(sum.seeds, 1);
  cr_expect(sum.seconds > 0 && sum.findings && strstr(sum.findings, "relu-bn"), "%s", sum.findings ? sum.findings : "(none)");
  hs_compare_summary_free(&sum);
  cr_expect_null(sum.findings);
  char *a = hs_cli_read_text("cli/summary.csv"), *b = hs_cli_read_text("api/summary.csv");
  drop_column(a, "seconds");
  drop_column(b, "seconds");
  cr_expect_str_eq(a, b, "the summaries differ (in %s)", hs_cli_dir);
  free(a);
  free(b);
  /* checking changes nothing: a later smaller train.epochs is judged on the epochs given */
  cr_assert_eq(hs_compare_config_check(ctx, c), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_set(ctx, c, "train.epochs", "1"), HS_OK);
  cr_assert_eq(hs_compare_config_check(ctx, c), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_compare_config_set(ctx, c, "train.epochs", "2"), HS_OK);
  /* a preset refused at its second key keeps none of its keys */
  hs_cli_write_text("half.json", "{ \"train_samples\": 77, \"seeds\": \"x\" }");
  cr_expect_eq(hs_compare_config_load(ctx, c, hs_cli_path("half.json")), HS_E_INVALID);
  cr_assert_eq(hs_compare_config_get(ctx, c, "train_samples", &v), HS_OK);
  cr_expect_eq(v, 40, "the refused preset's train_samples was kept");
  /* the check names the key; the run checks a copy and leaves the caller's config as given */
  cr_assert_eq(hs_compare_config_set(ctx, c, "analysis.epochs", "0,5"), HS_OK);
  cr_expect_eq(hs_compare_config_check(ctx, c), HS_E_INVALID);
  cr_expect(strstr(hs_last_error(ctx), "analysis.epochs"), "%s", hs_last_error(ctx));
  cr_expect_eq(hs_compare_run(ctx, c, hs_cli_path("never"), NULL, NULL, &sum), HS_E_INVALID);
  cr_expect(!hs_cli_exists("never") && sum.findings == NULL);
  hs_compare_config_free(c);
  hs_compare_config_free(NULL);
}
