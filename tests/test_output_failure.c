/* Output that cannot be written: a full disk (io/atomic.h's hook makes the n-th write-side
 * step fail with ENOSPC, for every n of a write) and a folder that is not one (a path
 * through a regular file: ENOTDIR, which root cannot bypass as it does permissions). Each
 * returns HS_E_OUTPUT naming the path (the CLI exits 1), leaves no temporary and leaves an
 * older file at the path byte for byte as it was. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/atomic.h"
#include "io/density.h"
#include "io/npy.h"
#include "linalg/slq.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("output_failure");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_test_fail_writes(0, 0);
  hs_context_destroy(ctx);
  hs_cli_fixture_teardown();
}

TestSuite(output_failure, .init = setup, .fini = teardown);

#define path hs_cli_path

static char *slurp(const char *name, size_t *len) {
  FILE *f = fopen(path(name), "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return s;
}

static int same_bytes(const char *name, const char *want, size_t want_len) {
  size_t len = 0;
  char *got = slurp(name, &len);
  int same = got && len == want_len && memcmp(got, want, len) == 0;
  free(got);
  return same;
}

static void write_old(const char *name, const char *text) {
  FILE *f = fopen(path(name), "wb");
  cr_assert(f);
  fputs(text, f);
  fclose(f);
}

/* Runs write() with its n-th step failing for n = 1, 2, ... until a run succeeds (the hook
 * then fired after the last step). Each failure: HS_E_OUTPUT naming `name` and the errno,
 * no temporary, the older `name` intact. Returns the number of steps. */
static size_t fail_every_step(const char *name, hs_status (*write)(const char *path)) {
  static const char old[] = "an older result that must survive\n";
  write_old(name, old);
  size_t n = 1;
  for (;; n++) {
    hs_test_fail_writes(n, ENOSPC);
    hs_status st = write(path(name));
    hs_test_fail_writes(0, 0);
    if (st == HS_OK) break;
    cr_assert_eq(st, HS_E_OUTPUT, "%s, step %zu: status %s (%s)", name, n, hs_status_string(st), hs_last_error(ctx));
    cr_assert(strstr(hs_last_error(ctx), hs_cli_dir), "%s, step %zu: message names no path: %s", name, n,
              hs_last_error(ctx));
    cr_assert(strstr(hs_last_error(ctx), strerror(ENOSPC)), "%s, step %zu: message lacks the cause: %s", name, n,
              hs_last_error(ctx));
    const char *tmp = hs_test_stray_temporary(hs_cli_dir);
    cr_assert_null(tmp, "%s, step %zu: left %s", name, n, tmp);
    cr_assert(same_bytes(name, old, sizeof old - 1), "%s, step %zu: the older file changed", name, n);
    cr_assert_lt(n, 1000, "%s: the write never succeeds", name);
  }
  cr_assert(!same_bytes(name, old, sizeof old - 1), "%s: the successful write did not replace the file", name);
  return n - 1;
}

static hs_status write_npy(const char *p) {
  double x[6] = {1, 2, 3, 4, 5, 6};
  size_t dims[2] = {2, 3};
  return hs_npy_write_f64(ctx, p, HS_F64, x, 2, dims);
}

static hs_status write_checkpoint(const char *p) {
  const int w[1] = {3};
  hs_model_spec s = hs_test_spec(2, 1, w, 2, HS_ACT_TANH, HS_BN_BATCH, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(ctx, &s, 1);
  hs_status st = hs_model_save(m, p, HS_F64);
  hs_model_destroy(m);
  return st;
}

Test(output_failure, full_disk_at_every_step_of_npy_and_checkpoint_writes) {
  size_t k = fail_every_step("out.npy", write_npy);
  cr_assert_geq(k, 4, "only %zu steps: create, write, flush, fsync, rename expected", k);
  fail_every_step("model.safetensors", write_checkpoint);
}

/* The density pair: the CSV is committed first, the JSON (the result, last) after it. A
 * failure anywhere leaves the older JSON intact; the CSV is never partial (old or new). */
static hs_slq_result *slq;

static hs_status write_density(const char *p) {
  hs_provenance prov = {.command = "spectrum", .operator_kind = "matrix", .matrix = "A.npy", .dtype = HS_F64,
                        .backend = "cpu", .device = "cpu", .seed = 1};
  return hs_density_write(ctx, p, &prov, slq);
}

Test(output_failure, full_disk_at_every_step_of_a_density_file) {
  double A[16] = {2, 1, 0, 0, 1, 3, 0, 0, 0, 0, 5, 1, 0, 0, 1, 4};
  hs_linop *op = NULL;
  cr_assert_eq(hs_linop_matrix(ctx, 4, A, 1e-12, &op), HS_OK);
  hs_slq_options o = hs_slq_defaults();
  o.steps = 4;
  o.probes = 2;
  cr_assert_eq(hs_slq_run(op, &o, &slq), HS_OK, "%s", hs_last_error(ctx));
  write_old("d.csv", "old csv\n");
  size_t k = fail_every_step("d.json", write_density);
  cr_assert_geq(k, 8, "%zu steps for two files", k);
  hs_slq_free(slq);
  hs_linop_destroy(op);
}

Test(output_failure, a_folder_that_is_a_file) {
  write_old("plain", "I am a file\n");
  char p[600];
  snprintf(p, sizeof p, "%s/plain/out.npy", hs_cli_dir);
  hs_status st = write_npy(p);
  cr_assert_eq(st, HS_E_OUTPUT, "status %s", hs_status_string(st));
  cr_assert(strstr(hs_last_error(ctx), p), "%s", hs_last_error(ctx));
  cr_assert(strstr(hs_last_error(ctx), strerror(ENOTDIR)), "%s", hs_last_error(ctx));
}

/* ---- the CLI: exit 1, the path in the message, nothing half-written ---- */

static void matrix_file(void) {
  double A[36];
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) A[i * 6 + j] = i == j ? i + 1.0 : 0.01 * (i + j);
  size_t dims[2] = {6, 6};
  cr_assert_eq(hs_npy_write_f64(ctx, path("A.npy"), HS_F64, A, 2, dims), HS_OK);
}

static void expect_output_failure(int rc, const char *args, const char *name) {
  cr_assert_eq(rc, 1, "`%s`: exit %d, want 1 (stderr: %s)", args, rc, hs_cli_err);
  cr_assert(strstr(hs_cli_err, name), "`%s`: the message does not name %s: %s", args, name, hs_cli_err);
  char *nl = strchr(hs_cli_err, '\n');
  cr_assert(nl && nl[1] == '\0', "message is not one line: %s", hs_cli_err);
  const char *tmp = hs_test_stray_temporary(hs_cli_dir);
  cr_assert_null(tmp, "`%s` left %s", args, tmp);
}

Test(output_failure, cli_full_disk_exits_1_and_keeps_the_older_result) {
  matrix_file();
  const char *args = "spectrum --matrix A.npy --out s.json --steps 4 --probes 2";
  cr_assert_eq(hs_cli_run("", args, ""), 0, "%s", hs_cli_err);
  size_t old_len = 0;
  char *old = slurp("s.json", &old_len);
  /* the provenance's clock and timings differ from run to run: the older file differs */
  size_t n = 1;
  for (;; n++) {
    char env[64];
    snprintf(env, sizeof env, "HESSPEC_TEST_FAIL_WRITE=%zu ", n);
    int rc = hs_cli_run(env, args, "");
    if (rc == 0) break;
    expect_output_failure(rc, args, "s.");
    cr_assert(strstr(hs_cli_err, strerror(ENOSPC)), "%s", hs_cli_err);
    cr_assert(same_bytes("s.json", old, old_len), "step %zu: s.json changed", n);
    cr_assert_lt(n, 100);
  }
  cr_assert_geq(n, 9, "the CLI's write took %zu steps", n - 1);
  free(old);
}

Test(output_failure, cli_output_folder_that_is_a_file_exits_1) {
  matrix_file();
  write_old("plain", "I am a file\n");
  expect_output_failure(hs_cli_run("", "spectrum --matrix A.npy --out plain/s.json --steps 4 --probes 2", ""),
                        "spectrum --out plain/s.json", "plain/s.");
  cr_assert(same_bytes("plain", "I am a file\n", 12));
  /* train's and compare's output folders */
  write_old("m.json", "{\"input_dim\": 2, \"hidden\": [3], \"output_dim\": 2, \"loss\": \"cross_entropy\"}");
  double X[16];
  for (int i = 0; i < 16; i++) X[i] = sin(i);
  size_t xd[2] = {8, 2}, yd[1] = {8};
  cr_assert_eq(hs_npy_write_f64(ctx, path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  int32_t y[8] = {0, 1, 0, 1, 1, 0, 1, 0};
  cr_assert_eq(hs_npy_write(ctx, path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
  expect_output_failure(hs_cli_run("", "train --model m.json --inputs X.npy --targets y.npy --epochs 1 --out plain/run", ""),
                        "train --out plain/run", "plain/run");
}

Test(output_failure, cli_train_full_disk_exits_1_with_the_path) {
  write_old("m.json", "{\"input_dim\": 2, \"hidden\": [3], \"output_dim\": 2, \"loss\": \"cross_entropy\"}");
  double X[16];
  for (int i = 0; i < 16; i++) X[i] = cos(i);
  size_t xd[2] = {8, 2}, yd[1] = {8};
  cr_assert_eq(hs_npy_write_f64(ctx, path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  int32_t y[8] = {0, 1, 0, 1, 1, 0, 1, 0};
  cr_assert_eq(hs_npy_write(ctx, path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
  /* the 7th step falls into the first checkpoint pair of epoch 0 or the log */
  for (int n = 1; n <= 12; n += 3) {
    char env[64];
    snprintf(env, sizeof env, "HESSPEC_TEST_FAIL_WRITE=%d ", n);
    int rc = hs_cli_run(env, "train --model m.json --inputs X.npy --targets y.npy --epochs 2 --batch 4 --out run", "");
    cr_assert_eq(rc, 1, "step %d: exit %d (%s)", n, rc, hs_cli_err);
    cr_assert(strstr(hs_cli_err, "run/"), "step %d: %s", n, hs_cli_err);
    cr_assert(strstr(hs_cli_err, strerror(ENOSPC)), "step %d: %s", n, hs_cli_err);
    DIR *dp = opendir(path("run"));
    cr_assert(dp);
    struct dirent *e;
    while ((e = readdir(dp))) cr_assert(!strstr(e->d_name, ".tmp."), "step %d left run/%s", n, e->d_name);
    closedir(dp);
  }
}
