/* train --curvature-every: the rows against independent runs of the spectral commands on the
 * epoch checkpoints (eig --top 1 / --bottom 1 / --exact with vectors, loss --out gradient) on
 * the same samples. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "io/file.h"
#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;
static void setup(void) {
  hs_cli_fixture_setup("curvature");
  ctx = hs_test_ctx(HS_F64, 1);
}
static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}
TestSuite(curvature, .init = setup, .fini = teardown);

static const char *DATA = "--model m.json --inputs X.npy --targets y.npy --device cpu";

static void write_data(void) {
  /* batch-norm in batch mode: the curvature Hessian must use the model's mode, as eig does */
  hs_cli_write_text("m.json", "{\"input_dim\": 4, \"hidden\": [6], \"output_dim\": 3, \"activation\": \"tanh\", "
                              "\"batchnorm\": \"batch\", \"loss\": \"cross_entropy\"}");
  double X[60 * 4];
  hs_rng_normals(4, HS_STREAM_TEST, 0, 240, X);
  int32_t y[60];
  for (int i = 0; i < 60; i++) y[i] = (X[4 * i] > 0) + (X[4 * i + 1] > 0.5);
  size_t xd[2] = {60, 4}, yd[1] = {60};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
}

static void run_ok(const char *args) {
  int rc = hs_cli_run("", args, "");
  cr_assert_eq(rc, 0, "`hesspec %s` exited %d: %s", args, rc, hs_cli_err);
}

static double json_first(const char *name, const char *key, int last) {
  char *buf;
  size_t len;
  cr_assert_eq(hs_read_file(ctx, hs_cli_path(name), &buf, &len), HS_OK);
  cJSON *j = cJSON_Parse(buf);
  free(buf);
  cJSON *a = cJSON_GetObjectItem(j, key);
  cr_assert(cJSON_IsArray(a) && cJSON_GetArraySize(a) > 0, "%s: no %s", name, key);
  double v = cJSON_GetArrayItem(a, last ? cJSON_GetArraySize(a) - 1 : 0)->valuedouble;
  cJSON_Delete(j);
  return v;
}

typedef struct {
  long step, epoch;
  double lmax, lmin, overlap;
} crow;

static size_t read_rows(crow *rows, size_t cap) {
  char *text = hs_cli_read_text("tr/curvature.csv");
  cr_assert(strncmp(text, "# hesspec curvature", 19) == 0);
  char *line = strstr(text, "step,epoch,lambda_max,lambda_min,grad_overlap,seconds\n");
  cr_assert(line, "no header: %s", text);
  line = strchr(line, '\n') + 1;
  size_t n = 0;
  while (*line && n < cap) {
    double sec;
    cr_assert_eq(sscanf(line, "%ld,%ld,%lf,%lf,%lf,%lf", &rows[n].step, &rows[n].epoch, &rows[n].lmax, &rows[n].lmin,
                        &rows[n].overlap, &sec), 6, "bad row: %.80s", line);
    n++;
    line = strchr(line, '\n') + 1;
  }
  free(text);
  return n;
}

Test(curvature, rows_equal_eig_on_the_epoch_checkpoints) {
  write_data();
  char args[1024];
  /* 60 samples in batches of 16: 4 steps per epoch; every 3 steps: rows 0, 3, 4 (end of
   * epoch 1), 6, 8 (end of epoch 2) */
  snprintf(args, sizeof args, "train %s --out tr --epochs 2 --batch 16 --lr 0.2 --save-epochs 1 --seed 2 "
                              "--curvature-every 3 --curvature-samples 40", DATA);
  run_ok(args);
  crow r[16];
  size_t n = read_rows(r, 16);
  long want_steps[5] = {0, 3, 4, 6, 8}, want_epochs[5] = {0, 1, 1, 2, 2};
  cr_assert_eq(n, 5, "%zu rows", n);
  for (size_t i = 0; i < 5; i++)
    cr_assert(r[i].step == want_steps[i] && r[i].epoch == want_epochs[i], "row %zu: step %ld epoch %ld", i, r[i].step,
              r[i].epoch);
  const int at[2] = {2, 4}; /* the rows of the epochs' last steps */
  for (int e = 1; e <= 2; e++) {
    const crow *q = &r[at[e - 1]];
    snprintf(args, sizeof args, "eig %s --samples 40 --weights tr/epoch-%04d.safetensors --top 1 --out t.json", DATA, e);
    run_ok(args);
    double top = json_first("t.json", "eigenvalues", 0);
    cr_assert(fabs(q->lmax - top) <= 1e-8 * fabs(top), "epoch %d: lambda_max %.15g, eig --top 1 %.15g", e, q->lmax, top);
    snprintf(args, sizeof args, "eig %s --samples 40 --weights tr/epoch-%04d.safetensors --bottom 1 --out b.json", DATA, e);
    run_ok(args);
    double bot = json_first("b.json", "eigenvalues", 0);
    cr_assert(fabs(q->lmin - bot) <= 1e-8 * fabs(top), "epoch %d: lambda_min %.15g, eig --bottom 1 %.15g", e, q->lmin, bot);
    /* the overlap from the dense eigenvectors (the top 3 = classes) and the gradient */
    snprintf(args, sizeof args, "eig %s --samples 40 --weights tr/epoch-%04d.safetensors --exact --out x.json "
                                "--vectors-out V.npy", DATA, e);
    run_ok(args);
    snprintf(args, sizeof args, "loss %s --samples 40 --weights tr/epoch-%04d.safetensors --out g.npy", DATA, e);
    run_ok(args);
    double *V, *g;
    hs_npy_shape sv, sg;
    cr_assert_eq(hs_npy_read_f64(ctx, hs_cli_path("V.npy"), 0, &V, &sv), HS_OK);
    cr_assert_eq(hs_npy_read_f64(ctx, hs_cli_path("g.npy"), 0, &g, &sg), HS_OK);
    size_t P = sg.dim[0], K = sv.dim[0];
    cr_assert_eq(sv.dim[1], P);
    double proj = 0, gg = hs_test_dot(g, g, P);
    for (size_t i = K - 3; i < K; i++) {
      double d = hs_test_dot(V + i * P, g, P);
      proj += d * d;
    }
    cr_assert(fabs(q->overlap - proj / gg) < 1e-7, "epoch %d: overlap %.12g, dense %.12g", e, q->overlap, proj / gg);
    cr_assert(q->overlap > 0 && q->overlap <= 1 + 1e-12);
    free(V);
    free(g);
  }
  /* the measurements do not change training: the same run without them ends at the same point */
  snprintf(args, sizeof args, "train %s --out plain --epochs 2 --batch 16 --lr 0.2 --seed 2", DATA);
  run_ok(args);
  char *a = hs_cli_read_text("tr/log.csv"), *b = hs_cli_read_text("plain/log.csv");
  char *ra = strstr(a, "\n2,"), *rb = strstr(b, "\n2,");
  cr_assert(ra && rb);
  /* every column but the last (seconds) */
  char *ea = strchr(ra + 1, '\n'), *eb = strchr(rb + 1, '\n');
  if (ea) *ea = '\0';
  if (eb) *eb = '\0';
  *strrchr(ra, ',') = '\0';
  *strrchr(rb, ',') = '\0';
  cr_assert_str_eq(ra, rb, "epoch 2 differs with the measurements");
  free(a);
  free(b);
}

Test(curvature, bad_options_exit_2) {
  write_data();
  const char *bad[][2] = {{"--curvature-every 0", "--curvature-every"},
                          {"--curvature-samples 10", "--curvature-every"},
                          {"--curvature-every 2 --curvature-samples 61", "--curvature-samples 61"},
                          {"--curvature-every 2 --overlap-k 0", "--overlap-k"},
                          {"--curvature-every 2 --overlap-k 100000", "--overlap-k 100000"},
                          {"--curvature-every x", "--curvature-every"}};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char args[512];
    snprintf(args, sizeof args, "train %s --out out --epochs 1 %s", DATA, bad[k][0]);
    int rc = hs_cli_run("", args, "");
    cr_expect_eq(rc, 2, "`%s` exited %d: %s", args, rc, hs_cli_err);
    cr_expect(strstr(hs_cli_err, bad[k][1]), "`%s`: message does not name %s: %s", args, bad[k][1], hs_cli_err);
    cr_expect(!hs_cli_exists("out"), "`%s` left a folder", args);
  }
}

/* --resume continues curvature.csv: the rows up to the resumed step are kept, the rest are
 * measured again and equal those of an uninterrupted run (to the Lanczos tolerance: the
 * resumed run starts its chains cold). */
Test(curvature, resume_continues_the_file) {
  write_data();
  char args[1024];
  const char *common = "--epochs 2 --batch 16 --lr 0.2 --save-epochs 1 --seed 2 --curvature-every 3 --curvature-samples 40";
  snprintf(args, sizeof args, "train %s --out tr %s", DATA, common);
  run_ok(args);
  crow full[16];
  size_t n = read_rows(full, 16);
  /* a second copy of the run, resumed after epoch 1 in its own folder */
  snprintf(args, sizeof args, "train %s --out tr2 %s", DATA, common);
  run_ok(args);
  snprintf(args, sizeof args, "train %s --out tr2 %s --resume tr2/epoch-0001.safetensors", DATA, common);
  run_ok(args);
  char *text = hs_cli_read_text("tr2/curvature.csv");
  char *line = strchr(strstr(text, "step,epoch"), '\n') + 1;
  size_t m = 0;
  while (*line) {
    crow r;
    double sec;
    cr_assert_eq(sscanf(line, "%ld,%ld,%lf,%lf,%lf,%lf", &r.step, &r.epoch, &r.lmax, &r.lmin, &r.overlap, &sec), 6);
    cr_assert(m < n && r.step == full[m].step && r.epoch == full[m].epoch, "row %zu: step %ld", m, r.step);
    cr_assert(fabs(r.lmax - full[m].lmax) <= 1e-8 * fabs(full[m].lmax), "row %zu: %.15g vs %.15g", m, r.lmax, full[m].lmax);
    m++;
    line = strchr(line, '\n') + 1;
  }
  cr_assert_eq(m, n, "%zu rows after the resume, %zu in the full run", m, n);
  free(text);
}
