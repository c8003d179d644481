#define _GNU_SOURCE
#include "support/alloc_harness.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/context.h"
#include "support/hs_test.h"

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

hs_status hs_alloc_make(hs_context *ctx, const hs_alloc_inputs *in, hs_model **m, hs_dataset **d) {
  hs_status st;
  if ((st = hs_model_create(ctx, &in->spec, m)) != HS_OK) return st;
  if ((st = hs_model_init(*m, 7)) != HS_OK) return st;
  if ((st = hs_dataset_create(ctx, in->n, in->spec.input_dim, in->X, in->spec.output_dim, in->labels, NULL, d)) != HS_OK)
    return st;
  return hs_model_bind(*m, *d, in->batch);
}

static void inputs_init(hs_alloc_inputs *in, const hs_model_spec *spec, size_t n, size_t batch) {
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

static void inputs_free(hs_alloc_inputs *in) {
  free(in->X);
  free(in->labels);
  nftw(in->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

hs_model_spec hs_alloc_mlp_spec(void) {
  const int w[2] = {5, 4};
  return hs_test_spec(4, 2, w, 3, HS_ACT_TANH, HS_BN_BATCH, 1, 1, HS_LOSS_CROSS_ENTROPY);
}

/* The check: a clean run counts the allocations; then for n = 1..count the n-th fails. */
void hs_alloc_fail_every(const char *name, hs_alloc_scenario run, const hs_model_spec *spec, size_t n, size_t batch) {
  hs_context *ctx = hs_test_ctx(HS_F64, 1);
  hs_alloc_inputs in;
  inputs_init(&in, spec, n, batch);
  double ref[HS_ALLOC_MAX_OUT], got[HS_ALLOC_MAX_OUT];
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
  for (size_t i = 0; i < nref; i++) cr_assert_eq(got[i], ref[i], "%s: clean runs differ at %zu: %.17g, %.17g", name, i, ref[i], got[i]);

  for (size_t k = 1; k <= count; k++) {
    ctx->errmsg[0] = '\0';
    hs_alloc_test_arm(k);
    st = run(ctx, &in, got, &ngot);
    hs_alloc_test_disarm();
    cr_assert(hs_alloc_test_failed(), "%s: allocation %zu of %zu never happened", name, k, count);
    cr_assert_eq(st, HS_E_NOMEM, "%s: allocation %zu of %zu failed, yet status %s (%s)", name, k, count,
                 hs_status_string(st), hs_last_error(ctx));
    cr_assert(hs_last_error(ctx)[0], "%s: allocation %zu of %zu: no message", name, k, count);
    const char *tmp = hs_test_stray_temporary(in.dir);
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

