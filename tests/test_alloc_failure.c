/* Allocation failure: every library call path, run with its n-th allocation failing for
 * every n up to the allocations of a clean run, returns HS_E_NOMEM with a message, leaves
 * no temporary file, and can be destroyed (run under ASan with detect_leaks=1: no leak, no
 * use after free). The hook is core/alloc.h's: it fails exactly one allocation (host, cJSON
 * or device), so the clean-up after it runs with memory available, as a real shortage
 * that passes would. Paths: loss+gradient, HVP (MLP with batch norm and a conv net), SLQ
 * with its density file, extremal and exact eig, one epoch of training with checkpoints
 * and log. Tiny models: the whole suite takes seconds. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/density.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "linalg/slq.h"
#include "support/hs_test.h"
#include "train/train.h"

#define MAX_OUT 64

/* Under AddressSanitizer, leaks are checked here, in the test: Criterion ignores the exit
 * status of its worker processes, so LeakSanitizer's report at exit fails nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define HS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HS_LSAN 1
#endif
#endif
#ifdef HS_LSAN
#include <sanitizer/lsan_interface.h>
static int leaks_found(void) { return __lsan_do_recoverable_leak_check(); }
#else
static int leaks_found(void) { return 0; }
#endif

/* The inputs of a scenario, prepared before the hook is armed. */
typedef struct {
  hs_model_spec spec;
  size_t n, batch;
  double *X;       /* (n, input_dim) */
  int32_t *labels; /* (n) */
  char dir[256];   /* a scratch folder for the files a scenario writes */
} inputs;

/* A scenario: everything from model creation to its results and their destruction, with
 * goto-cleanup like library code. It fills out[0..*nout) with numbers of its results. */
typedef hs_status (*scenario)(hs_context *ctx, const inputs *in, double *out, size_t *nout);

static hs_status make(hs_context *ctx, const inputs *in, hs_model **m, hs_dataset **d) {
  hs_status st;
  if ((st = hs_model_create(ctx, &in->spec, m)) != HS_OK) return st;
  if ((st = hs_model_init(*m, 7)) != HS_OK) return st;
  if ((st = hs_dataset_create(ctx, in->n, in->spec.input_dim, in->X, in->spec.output_dim, in->labels, NULL, d)) != HS_OK)
    return st;
  return hs_model_bind(*m, *d, in->batch);
}

static hs_status run_loss(hs_context *ctx, const inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  double *g = NULL;
  hs_status st = make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  size_t P = hs_model_num_params(m);
  g = malloc(P * sizeof *g);
  if ((st = hs_model_loss_grad(m, &out[0], g)) != HS_OK) goto cleanup;
  for (size_t i = 0; i < 8 && i < P; i++) out[1 + i] = g[i];
  *nout = 1 + (P < 8 ? P : 8);
cleanup:
  free(g);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_hvp(hs_context *ctx, const inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  double *V = NULL, *Y = NULL;
  hs_status st = make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  size_t P = hs_model_num_params(m);
  V = malloc(2 * P * sizeof *V);
  Y = malloc(2 * P * sizeof *Y);
  for (size_t i = 0; i < 2 * P; i++) V[i] = sin(0.37 * (double)i + 0.1);
  if ((st = hs_model_hvp(m, HS_CURV_HESSIAN, 2, V, Y)) != HS_OK) goto cleanup;
  for (size_t i = 0; i < 8; i++) out[i] = Y[i * (2 * P / 8)];
  if ((st = hs_model_hvp(m, HS_CURV_GGN, 1, V, Y)) != HS_OK) goto cleanup;
  out[8] = Y[P / 2];
  *nout = 9;
cleanup:
  free(V);
  free(Y);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_spectrum(hs_context *ctx, const inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_linop *op = NULL;
  hs_slq_result *r = NULL;
  hs_status st = make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  if ((st = hs_linop_model(m, HS_CURV_HESSIAN, &op)) != HS_OK) goto cleanup;
  hs_slq_options o = hs_slq_defaults();
  o.steps = 6;
  o.probes = 3;
  o.seed = 11;
  o.grid_points = 64;
  if ((st = hs_slq_run(op, &o, &r)) != HS_OK) goto cleanup;
  char *json = hs_spec_to_json(&in->spec);
  if (!json) {
    st = hs_fail(ctx, HS_E_NOMEM, "spec JSON: out of memory");
    goto cleanup;
  }
  hs_provenance prov = {.command = "spectrum", .operator_kind = "hessian", .model_json = json, .data = "test",
                        .samples = in->n, .batch = in->batch, .dtype = HS_F64, .backend = "cpu", .device = "cpu",
                        .seed = 11};
  char path[300];
  snprintf(path, sizeof path, "%s/density.json", in->dir);
  st = hs_density_write(ctx, path, &prov, r);
  free(json);
  if (st != HS_OK) goto cleanup;
  out[0] = r->trace;
  out[1] = r->lambda_min;
  out[2] = r->lambda_max;
  out[3] = r->density[r->grid_n / 2];
  *nout = 4;
cleanup:
  hs_slq_free(r);
  hs_linop_destroy(op);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_eig(hs_context *ctx, const inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_linop *op = NULL;
  hs_eig_result *top = NULL, *all = NULL;
  hs_status st = make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  if ((st = hs_linop_model(m, HS_CURV_HESSIAN, &op)) != HS_OK) goto cleanup;
  hs_eig_options o = {.which = HS_EIG_TOP, .count = 2, .tol = 1e-8, .max_steps = 0, .seed = 3, .want_vectors = 1};
  if ((st = hs_eig_extremal(op, &o, &top)) != HS_OK) goto cleanup;
  if ((st = hs_eig_exact(op, 0, 1, &all)) != HS_OK) goto cleanup;
  out[0] = (double)top->found;
  out[1] = top->found ? top->values[top->found - 1] : NAN;
  out[2] = all->values[0];
  out[3] = all->values[all->found - 1];
  *nout = 4;
cleanup:
  hs_eig_free(top);
  hs_eig_free(all);
  hs_linop_destroy(op);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

static hs_status run_train(hs_context *ctx, const inputs *in, double *out, size_t *nout) {
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_trainer *t = NULL;
  double *theta = NULL;
  hs_status st = make(ctx, in, &m, &d);
  if (st != HS_OK) goto cleanup;
  char log[300];
  snprintf(log, sizeof log, "%s/log.csv", in->dir);
  hs_train_options o = hs_train_defaults();
  o.optimizer = HS_OPT_ADAM;
  o.lr = 0.01;
  o.epochs = 1;
  o.batch = in->batch;
  o.seed = 5;
  o.checkpoint_dir = in->dir;
  o.keep_last = 1;
  o.log_path = log;
  if ((st = hs_trainer_create(m, d, d, &o, &t)) != HS_OK) goto cleanup;
  if ((st = hs_trainer_run(t)) != HS_OK) goto cleanup;
  size_t P = hs_model_num_params(m);
  theta = malloc(P * sizeof *theta);
  if ((st = hs_model_get_params(m, theta)) != HS_OK) goto cleanup;
  for (size_t i = 0; i < 6; i++) out[i] = theta[i * (P / 6)];
  out[6] = hs_trainer_epoch(t, hs_trainer_num_epochs(t) - 1)->loss;
  *nout = 7;
cleanup:
  free(theta);
  hs_trainer_destroy(t);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  return st;
}

/* ---- inputs ---- */

static void inputs_init(inputs *in, const hs_model_spec *spec, size_t n, size_t batch) {
  memset(in, 0, sizeof *in);
  in->spec = *spec;
  in->n = n;
  in->batch = batch;
  in->X = malloc(n * (size_t)spec->input_dim * sizeof *in->X);
  in->labels = malloc(n * sizeof *in->labels);
  for (size_t i = 0; i < n * (size_t)spec->input_dim; i++) in->X[i] = cos(1.3 * (double)i) + 0.1 * (double)(i % 5);
  for (size_t i = 0; i < n; i++) in->labels[i] = (int32_t)(i % (size_t)spec->output_dim);
  const char *tmp = getenv("TMPDIR");
  snprintf(in->dir, sizeof in->dir, "%s/hs_alloc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  cr_assert(mkdtemp(in->dir));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}

static void inputs_free(inputs *in) {
  free(in->X);
  free(in->labels);
  nftw(in->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A temporary (*.tmp.*) left in the scratch folder, or NULL. */
static const char *stray_temporary(const char *dir) {
  static char name[256];
  DIR *dp = opendir(dir);
  if (!dp) return NULL;
  const char *found = NULL;
  struct dirent *e;
  while ((e = readdir(dp)))
    if (strstr(e->d_name, ".tmp.")) {
      snprintf(name, sizeof name, "%s", e->d_name);
      found = name;
      break;
    }
  closedir(dp);
  return found;
}

static hs_model_spec mlp_spec(void) {
  const int w[2] = {5, 4};
  return hs_test_spec(4, 2, w, 3, HS_ACT_TANH, HS_BN_BATCH, 1, 1, HS_LOSS_CROSS_ENTROPY);
}

/* [1, 5, 5] -> conv 2x3x3 p1 -> batchnorm -> relu -> avgpool 2 -> flatten -> linear 3 */
static hs_model_spec conv_spec(hs_context *ctx) {
  hs_shape in = {.rank = 3, .dim = {1, 5, 5}};
  hs_model_spec s = hs_test_layers(&in, HS_LOSS_CROSS_ENTROPY, HS_BN_BATCH);
  hs_test_conv(&s, 2, 3, 3, 1, 1, 1);
  hs_test_add(&s, HS_LAYER_BATCHNORM);
  hs_test_add(&s, HS_LAYER_RELU);
  hs_test_pool(&s, HS_LAYER_AVGPOOL, 2, 2);
  hs_test_add(&s, HS_LAYER_FLATTEN);
  hs_test_linear(&s, 3, 1);
  hs_test_finish(ctx, &s);
  return s;
}

/* The check: a clean run counts the allocations; then for n = 1..count the n-th fails. */
static void fail_every_allocation(const char *name, scenario run, const hs_model_spec *spec, size_t n, size_t batch) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  inputs in;
  inputs_init(&in, spec, n, batch);
  double ref[MAX_OUT], got[MAX_OUT];
  size_t nref = 0, ngot = 0;

  hs_alloc_test_arm(0);
  hs_status st = run(ctx, &in, ref, &nref);
  size_t count = hs_alloc_test_disarm();
  cr_assert_eq(st, HS_OK, "%s: clean run: %s", name, hs_last_error(ctx));
  cr_assert_gt(count, 10, "%s: only %zu allocations counted: the hook is not wired", name, count);
  cr_assert_gt(nref, 0);
  /* the run is deterministic, so the n-th allocation of a failing run is the clean run's */
  hs_alloc_test_arm(0);
  st = run(ctx, &in, got, &ngot);
  cr_assert_eq(hs_alloc_test_disarm(), count, "%s: the allocation count differs between clean runs", name);
  cr_assert_eq(st, HS_OK);
  for (size_t i = 0; i < nref; i++) cr_assert_eq(got[i], ref[i], "%s: clean runs differ", name);

  for (size_t k = 1; k <= count; k++) {
    ctx->errmsg[0] = '\0';
    hs_alloc_test_arm(k);
    st = run(ctx, &in, got, &ngot);
    hs_alloc_test_disarm();
    cr_assert(hs_alloc_test_failed(), "%s: allocation %zu of %zu never happened", name, k, count);
    cr_assert_eq(st, HS_E_NOMEM, "%s: allocation %zu of %zu failed, yet status %s (%s)", name, k, count,
                 hs_status_string(st), hs_last_error(ctx));
    cr_assert(hs_last_error(ctx)[0], "%s: allocation %zu of %zu: no message", name, k, count);
    const char *tmp = stray_temporary(in.dir);
    cr_assert_null(tmp, "%s: allocation %zu of %zu left the temporary %s", name, k, count, tmp);
  }
  /* and the library still works afterwards */
  st = run(ctx, &in, got, &ngot);
  cr_assert_eq(st, HS_OK, "%s: after the failures: %s", name, hs_last_error(ctx));
  for (size_t i = 0; i < nref; i++) cr_assert_eq(got[i], ref[i], "%s: results changed after the failures", name);
  cr_log_info("%s: %zu allocations, each failed once", name, count);
  inputs_free(&in);
  hs_context_destroy(ctx);
  cr_assert(!leaks_found(), "%s: LeakSanitizer found leaks (report above)", name);
}

Test(alloc_failure, loss) {
  hs_model_spec s = mlp_spec();
  fail_every_allocation("loss", run_loss, &s, 12, 4);
}

Test(alloc_failure, hvp) {
  hs_model_spec s = mlp_spec();
  fail_every_allocation("hvp", run_hvp, &s, 12, 4);
}

Test(alloc_failure, conv_loss_and_hvp) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_model_spec s = conv_spec(ctx);
  hs_context_destroy(ctx);
  fail_every_allocation("conv loss", run_loss, &s, 6, 3);
  fail_every_allocation("conv hvp", run_hvp, &s, 6, 3);
}

Test(alloc_failure, spectrum) {
  hs_model_spec s = mlp_spec();
  fail_every_allocation("spectrum", run_spectrum, &s, 12, 6);
}

Test(alloc_failure, eig) {
  hs_model_spec s = mlp_spec();
  fail_every_allocation("eig", run_eig, &s, 12, 12);
}

Test(alloc_failure, one_epoch_of_training) {
  hs_model_spec s = mlp_spec();
  fail_every_allocation("train", run_train, &s, 12, 4);
}
