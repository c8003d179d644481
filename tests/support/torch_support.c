/* Helpers shared by the PyTorch cross-check suites (support/torch_support.h). */
#define _GNU_SOURCE
#include "support/torch_support.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "nn/dataset.h"

const char *hs_torch_python(void) {
  const char *p = getenv("HS_TORCH_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

void hs_torch_script_path(const char *script, char *out, size_t len) {
  const char *src = getenv("HS_SOURCE_DIR");
  if (src && *src) {
    snprintf(out, len, "%s/tests/torch/%s", src, script);
    return;
  }
  /* this file is tests/support/torch_support.c: go up to tests/ */
  snprintf(out, len, "%s", __FILE__);
  char *slash = strrchr(out, '/');
  if (slash) *slash = '\0';
  slash = slash ? strrchr(out, '/') : NULL;
  if (slash) snprintf(slash + 1, len - (size_t)(slash + 1 - out), "torch/%s", script);
  else snprintf(out, len, "tests/torch/%s", script);
}

void hs_torch_mkdtemp(char *dir, size_t len, const char *prefix, const char *what) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, len, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
  cr_assert(mkdtemp(dir), "[%s] mkdtemp failed", what);
}

void hs_torch_write_text(const char *path, const char *text, const char *what) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "%s: cannot write %s", what, path);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0, "%s: writing %s failed", what, path);
}

void hs_torch_write_data(hs_context *ctx, const char *dir, const hs_model_spec *s, const hs_dataset *d,
                         const char *what) {
  char path[600];
  size_t dims[2] = {d->n, (size_t)s->input_dim};
  snprintf(path, sizeof path, "%s/X.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, d->X, 2, dims), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  snprintf(path, sizeof path, "%s/Y.npy", dir);
  if (s->loss == HS_LOSS_CROSS_ENTROPY) {
    cr_assert_eq(hs_npy_write(ctx, path, HS_NPY_I4, d->labels, 1, dims), HS_OK, "[%s] %s", what, hs_last_error(ctx));
  } else {
    dims[1] = (size_t)s->output_dim;
    cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, d->targets, 2, dims), HS_OK, "[%s] %s", what,
                 hs_last_error(ctx));
  }
}

void hs_torch_run(const char *script, const char *dir, const char *what) {
  char path[512], cmd[1400], out[4096] = "";
  hs_torch_script_path(script, path, sizeof path);
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", hs_torch_python(), path, dir);
  FILE *p = popen(cmd, "r");
  cr_assert(p, "[%s] cannot run %s", what, cmd);
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = 0;
  int rc = pclose(p);
  cr_assert_eq(rc, 0, "[%s] %s failed (status %d; files in %s):\n%s", what, cmd, rc, dir, out);
}

double *hs_torch_read(hs_context *ctx, const char *dir, const char *name, size_t count, const char *what) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  double *x = NULL;
  hs_npy_shape sh;
  cr_assert_eq(hs_npy_read_f64(ctx, path, 0, &x, &sh), HS_OK, "%s: reference output: %s", what, hs_last_error(ctx));
  size_t c = 1;
  for (int i = 0; i < sh.ndim; i++) c *= sh.dim[i];
  cr_assert_eq(c, count, "%s: %s holds %zu values, expected %zu", what, name, c, count);
  return x;
}

int hs_torch_compare(const char *what, const char *quantity, const double *a, const double *ref, size_t n,
                     double tol) {
  double num = 0, den = 0;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - ref[i]);
    if (d > num || isnan(d)) num = d, worst = i;
    den = fmax(den, fabs(ref[i]));
  }
  double rel = den > 0 ? num / den : num;
  cr_expect(rel <= tol, "[%s] %s: relative error %.3g > %.0e (worst at %zu: hesspec %.17g, torch %.17g; max |ref| %.3g)",
            what, quantity, rel, tol, worst, n ? a[worst] : 0.0, n ? ref[worst] : 0.0, den);
  cr_log_info("[%s] %s: relative error %.3g", what, quantity, rel);
  return !(rel <= tol);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}

void hs_torch_cleanup(const char *dir, int failed, const char *what) {
  const char *keep = getenv("HS_KEEP_TMP");
  if (failed || (keep && *keep && strcmp(keep, "0"))) {
    cr_log_warn("[%s] files kept in %s", what, dir);
  } else {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  }
}

int hs_torch_main(const char *suite, const char *script, int argc, char *argv[]) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "'%s' -c 'import torch, numpy' >/dev/null 2>&1", hs_torch_python());
  if (system(cmd) != 0) {
    printf("SKIP: %s has no torch\n", hs_torch_python());
    return 77;
  }
  char ref[512];
  hs_torch_script_path(script, ref, sizeof ref);
  if (access(ref, R_OK) != 0) {
    fprintf(stderr, "%s: %s not found (set HS_SOURCE_DIR to the source tree)\n", suite, ref);
    return 1;
  }
  struct criterion_test_set *tests = criterion_initialize();
  int result = 0;
  if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return result;
}
