/* The CLI under mpirun (docs/mpi.md): np 2 and np 3 against one process for the loss, the
 * gradient, Hessian and GGN products, SLQ nodes and weights, eig and trace (1e-12 relative);
 * two np 2 runs bit-identical; training under np 2 following one process to 1e-10 over 2
 * epochs; --parallel probes giving the single-process density; a failing rank ending the
 * run with exit 1 and its message within seconds. Skipped (77) where mpirun is missing or
 * the CLI was built without MPI; HS_REQUIRE_MPI=1 turns that into a failure. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

#define MPIRUN HS_CLI_MPIRUN /* the launch prefix and its reasons: support/cli_fixture.h */

/* 60 samples in batches of 7: 9 batches (8 of 7 and one of 4), shared 4/5 by np 2 and 3/3/3
 * by np 3, so shards are unequal and one holds the short batch. */
static const char *data = "--model m.json --dataset mixture --samples 60 --batch 7 --seed 2 --device cpu --threads 1";

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("mpi");
  hs_cli_write_text("m.json", "{\"input_dim\": 6, \"hidden\": [8, 7], \"output_dim\": 3, \"activation\": \"tanh\", "
                              "\"loss\": \"cross_entropy\", \"weight_decay\": 0.001}");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_context_destroy(ctx);
  hs_cli_fixture_teardown();
}

TestSuite(mpi, .init = setup, .fini = teardown, .timeout = 120);

/* `hesspec ARGS` on np ranks (np 0: without mpirun); returns the exit status. */
static int run_np(int np, const char *env, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_np(int np, const char *env, const char *fmt, ...) {
  char args[2048], pre[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  if (np > 0) snprintf(pre, sizeof pre, "%s %s%d ", env ? env : "", MPIRUN, np);
  else snprintf(pre, sizeof pre, "%s ", env ? env : "");
  return hs_cli_run(pre, args, NULL);
}

static double *read_npy(const char *name, size_t *n) {
  double *x = NULL;
  hs_npy_shape sh;
  cr_assert_eq(hs_npy_read_f64(ctx, hs_cli_path(name), 0, &x, &sh), HS_OK, "%s: %s", name, hs_last_error(ctx));
  *n = 1;
  for (int i = 0; i < sh.ndim; i++) *n *= sh.dim[i];
  return x;
}


/* The array at a dotted path ("eigenvalues", "probes.1.nodes") as doubles; *n its length. */
static double *json_array(cJSON *j, const char *path, size_t *n) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  cJSON *x = j;
  for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
    x = cJSON_IsArray(x) ? cJSON_GetArrayItem(x, atoi(tok)) : cJSON_GetObjectItem(x, tok);
  cr_assert(cJSON_IsArray(x), "no array at %s", path);
  *n = (size_t)cJSON_GetArraySize(x);
  double *v = malloc((*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(x, (int)i)->valuedouble;
  return v;
}

static int same_bytes(const char *a, const char *b) {
  char *x = hs_cli_read_text(a), *y = hs_cli_read_text(b);
  int same = strcmp(x, y) == 0;
  free(x);
  free(y);
  return same;
}

/* max |a - b| / max |b|: the rounding of sums in another order stays a few ulps of the
 * largest term; 1e-12 leaves room for the Lanczos recurrences' amplification (docs/mpi.md). */
static void expect_close(const char *what, int np, const double *a, const double *b, size_t n, double tol) {
  double e = hs_test_relerr(a, b, n, 1e-300);
  cr_expect(e <= tol, "np %d %s: relative error %.3g > %.0e", np, what, e, tol);
}

static double stdout_value(const char *key) {
  char *t = hs_cli_read_text("stdout.txt");
  char *p = strstr(t, key);
  cr_assert(p, "no '%s' in stdout: %s", key, t);
  double v = strtod(p + strlen(key), NULL);
  free(t);
  return v;
}

Test(mpi, loss_gradient_hessian_and_ggn_products) {
  /* P = 6*8+8 + 8*7+7 + 7*3+3 = 143; three directions */
  size_t P = 143, vd[2] = {3, 143};
  double *V = hs_test_vec(3 * P, 5);
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("V.npy"), HS_F64, V, 2, vd), HS_OK);
  free(V);
  const int nps[] = {0, 2, 3};
  double loss[3];
  for (int i = 0; i < 3; i++) {
    int np = nps[i];
    cr_assert_eq(run_np(np, NULL, "loss %s --out g%d.npy", data, np), 0, "np %d: %s", np, hs_cli_err);
    loss[i] = stdout_value("loss ");
    cr_assert_eq(run_np(np, NULL, "hvp %s --vectors V.npy --out h%d.npy", data, np), 0, "np %d: %s", np, hs_cli_err);
    cr_assert_eq(run_np(np, NULL, "hvp %s --ggn --vectors V.npy --out n%d.npy", data, np), 0, "np %d: %s", np, hs_cli_err);
  }
  char name[3][32];
  const char *kinds = "ghn";
  for (int k = 0; k < 3; k++) {
    size_t n0, n;
    snprintf(name[0], 32, "%c0.npy", kinds[k]);
    double *ref = read_npy(name[0], &n0);
    cr_assert_eq(n0, k == 0 ? P : 3 * P);
    for (int i = 1; i < 3; i++) {
      snprintf(name[i], 32, "%c%d.npy", kinds[k], nps[i]);
      double *x = read_npy(name[i], &n);
      cr_assert_eq(n, n0);
      expect_close(k == 0 ? "gradient" : k == 1 ? "Hessian products" : "GGN products", nps[i], x, ref, n, 1e-12);
      free(x);
    }
    free(ref);
  }
  for (int i = 1; i < 3; i++) cr_expect(fabs(loss[i] - loss[0]) <= 1e-12 * fabs(loss[0]), "np %d loss %.17g vs %.17g", nps[i], loss[i], loss[0]);
  /* np 2 again: the same bits */
  cr_assert_eq(run_np(2, NULL, "hvp %s --vectors V.npy --out h2b.npy", data), 0, "%s", hs_cli_err);
  cr_assert_eq(run_np(2, NULL, "loss %s --out g2b.npy", data), 0, "%s", hs_cli_err);
  cr_expect(same_bytes("h2.npy", "h2b.npy"), "two np 2 runs of hvp differ");
  cr_expect(same_bytes("g2.npy", "g2b.npy"), "two np 2 runs of the gradient differ");
  /* rank 0 alone printed */
  char *out = hs_cli_read_text("stdout.txt");
  int lines = 0;
  for (char *p = out; (p = strstr(p, "grad_norm ")); p++) lines++;
  cr_expect_eq(lines, 1, "%d ranks printed: %s", lines, out);
  free(out);
  /* the reference reduction (gather on rank 0, add in rank order, broadcast) gives the bits
   * of the default one (reduce-scatter, add in rank order, allgather) */
  cr_assert_eq(run_np(3, "HESSPEC_MPI_REDUCE=gather", "hvp %s --vectors V.npy --out h3g.npy", data), 0, "%s", hs_cli_err);
  cr_expect(same_bytes("h3.npy", "h3g.npy"), "the two reduction algorithms differ at np 3");
}

/* SLQ nodes and weights per probe, eig's eigenvalues, trace's samples */
Test(mpi, spectrum_eig_and_trace) {
  const int nps[] = {0, 2, 3};
  for (int i = 0; i < 3; i++) {
    int np = nps[i];
    cr_assert_eq(run_np(np, NULL, "spectrum %s --steps 12 --probes 3 --out s%d.json", data, np), 0, "np %d: %s", np, hs_cli_err);
    cr_assert_eq(run_np(np, NULL, "eig %s --top 3 --out e%d.json", data, np), 0, "np %d: %s", np, hs_cli_err);
    cr_assert_eq(run_np(np, NULL, "trace %s --probes 6 --out t%d.json", data, np), 0, "np %d: %s", np, hs_cli_err);
  }
  char f[64];
  cJSON *s0 = hs_cli_read_json("s0.json"), *e0 = hs_cli_read_json("e0.json"), *t0 = hs_cli_read_json("t0.json");
  for (int i = 1; i < 3; i++) {
    int np = nps[i];
    snprintf(f, sizeof f, "s%d.json", np);
    cJSON *s = hs_cli_read_json(f);
    for (int p = 0; p < 3; p++) {
      const char *fields[2] = {"nodes", "weights"};
      for (int q = 0; q < 2; q++) {
        char path[64];
        snprintf(path, sizeof path, "probes.%d.%s", p, fields[q]);
        size_t n0, n;
        double *a = json_array(s0, path, &n0), *b = json_array(s, path, &n);
        cr_assert_eq(n, n0, "np %d %s: %zu values, one process %zu", np, path, n, n0);
        expect_close(path, np, b, a, n, 1e-12);
        free(a);
        free(b);
      }
    }
    cJSON_Delete(s);
    const struct { const char *prefix, *path; cJSON *ref; } other[2] = {{"e", "eigenvalues", e0}, {"t", "samples", t0}};
    for (int k = 0; k < 2; k++) {
      snprintf(f, sizeof f, "%s%d.json", other[k].prefix, np);
      cJSON *x = hs_cli_read_json(f);
      size_t n0, n;
      double *a = json_array(other[k].ref, other[k].path, &n0), *b = json_array(x, other[k].path, &n);
      cr_assert_eq(n, n0);
      expect_close(other[k].path, np, b, a, n, 1e-12);
      free(a);
      free(b);
      cJSON_Delete(x);
    }
  }
  cJSON_Delete(s0);
  cJSON_Delete(e0);
  cJSON_Delete(t0);
  /* two np 2 runs: identical files but the clock fields */
  cr_assert_eq(run_np(2, NULL, "spectrum %s --steps 12 --probes 3 --out s2b.json", data), 0, "%s", hs_cli_err);
  cJSON *a = hs_cli_read_json("s2.json"), *b = hs_cli_read_json("s2b.json");
  const char *clock_fields[] = {"elapsed_seconds", "created", "timing"};
  for (int i = 0; i < 3; i++) {
    cJSON_DeleteItemFromObject(a, clock_fields[i]);
    cJSON_DeleteItemFromObject(b, clock_fields[i]);
  }
  char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
  cr_expect_str_eq(ta, tb, "two np 2 density files differ beyond their clock fields");
  cJSON_free(ta);
  cJSON_free(tb);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

/* JSON trees equal but for the clock fields (tol 0) or with numbers within tol relative to
 * the largest magnitude of their array (scalars: to themselves). */
static int json_close(const cJSON *a, const cJSON *b, double tol, double scale, char *where, size_t len) {
  if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
    double x = a->valuedouble, y = b->valuedouble, s = scale > 0 ? scale : fabs(x);
    if (tol == 0 ? x == y : fabs(x - y) <= tol * s) return 1;
    snprintf(where, len, "%.17g vs %.17g", y, x);
    return 0;
  }
  if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
    int n = cJSON_GetArraySize(a);
    if (n != cJSON_GetArraySize(b)) return snprintf(where, len, "array lengths %d, %d", n, cJSON_GetArraySize(b)), 0;
    double mx = 0;
    for (const cJSON *x = a->child; x; x = x->next)
      if (cJSON_IsNumber(x)) mx = fmax(mx, fabs(x->valuedouble));
    const cJSON *y = b->child;
    for (const cJSON *x = a->child; x; x = x->next, y = y->next)
      if (!json_close(x, y, tol, mx, where, len)) return 0;
    return 1;
  }
  if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
    static const char *const clock_fields[] = {"elapsed_seconds", "created", "timing"};
    for (const cJSON *x = a->child; x; x = x->next) {
      int skip = 0;
      for (int i = 0; i < 3; i++) skip |= strcmp(x->string, clock_fields[i]) == 0;
      if (skip) continue;
      const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
      if (!y) return snprintf(where, len, "no key %s", x->string), 0;
      if (!json_close(x, y, tol, 0, where, len)) {
        size_t l = strlen(where);
        snprintf(where + l, len - l, " at %s", x->string);
        return 0;
      }
    }
    return cJSON_GetArraySize(a) == cJSON_GetArraySize(b) ? 1 : (snprintf(where, len, "key counts differ"), 0);
  }
  return cJSON_Compare(a, b, 1) ? 1 : (snprintf(where, len, "values differ"), 0);
}

static void expect_same_json(const char *ref, const char *other, double tol) {
  cJSON *a = hs_cli_read_json(ref), *b = hs_cli_read_json(other);
  char where[512] = "";
  cr_expect(json_close(a, b, tol, 0, where, sizeof where), "%s vs %s (tolerance %g): %s", other, ref, tol, where);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

/* Each rank runs whole probes (p mod R) over all the data; the gathered file is the one
 * process's. Bit for bit where P is a multiple of 8: the Lanczos basis holds q_j of probe p
 * at (j k + p) P doubles, so with another number k of probes per run the vectors sit at
 * other 64-byte alignments, and the CPU's vector kernels round a vector's head by its
 * alignment (measured: P = 143 differs by an ulp, P = 88 never; docs/mpi.md). */
Test(mpi, parallel_probes_give_the_single_process_file) {
  hs_cli_write_text("m8.json", "{\"input_dim\": 7, \"hidden\": [5, 5], \"output_dim\": 3, \"activation\": \"tanh\", "
                               "\"loss\": \"cross_entropy\"}"); /* P = 40 + 30 + 18 = 88 */
  const char *models[2] = {"m.json", "m8.json"};
  char more[512];
  for (int k = 0; k < 2; k++) {
    snprintf(more, sizeof more, "--model %s --dataset mixture --samples 60 --batch 7 --seed 2 --device cpu --threads 1", models[k]);
    cr_assert_eq(run_np(0, NULL, "spectrum %s --steps 12 --probes 5 --out ps%d.json", more, k), 0, "%s", hs_cli_err);
    cr_assert_eq(run_np(0, NULL, "trace %s --probes 7 --out pt%d.json", more, k), 0, "%s", hs_cli_err);
    for (int np = 2; np <= 3; np++) {
      char f[32], g[32], r1[32], r2[32];
      snprintf(f, sizeof f, "ps%d_%d.json", k, np);
      snprintf(g, sizeof g, "pt%d_%d.json", k, np);
      snprintf(r1, sizeof r1, "ps%d.json", k);
      snprintf(r2, sizeof r2, "pt%d.json", k);
      cr_assert_eq(run_np(np, NULL, "spectrum %s --steps 12 --probes 5 --parallel probes --out %s", more, f), 0, "%s", hs_cli_err);
      cr_assert_eq(run_np(np, NULL, "trace %s --probes 7 --parallel probes --out %s", more, g), 0, "%s", hs_cli_err);
      expect_same_json(r1, f, k == 0 ? 1e-12 : 0);
      expect_same_json(r2, g, k == 0 ? 1e-12 : 0);
    }
  }
  /* fewer probes than ranks, and Hutch++, are usage errors */
  cr_expect_eq(run_np(3, NULL, "spectrum %s --steps 12 --probes 2 --parallel probes --out x.json", data), 2, "%s", hs_cli_err);
  cr_expect(strstr(hs_cli_err, "every rank needs a probe"), "%s", hs_cli_err);
  cr_expect_eq(run_np(2, NULL, "trace %s --method hutch++ --probes 6 --parallel probes --out x.json", data), 2, "%s", hs_cli_err);
}

static double *log_column(const char *name, const char *column, size_t *n) {
  char *t = hs_cli_read_text(name);
  char *line = strtok(t, "\n");
  int col = -1, c = 0;
  for (char *p = line; p; c++) {
    char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == strlen(column) && strncmp(p, column, len) == 0) col = c;
    p = comma ? comma + 1 : NULL;
  }
  cr_assert(col >= 0, "%s has no column %s", name, column);
  double *v = malloc(64 * sizeof *v);
  *n = 0;
  while ((line = strtok(NULL, "\n")) && *n < 64) {
    char *p = line;
    for (int k = 0; k < col && p; k++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    cr_assert(p, "%s: a short row", name);
    v[(*n)++] = strtod(p, NULL);
  }
  free(t);
  return v;
}

Test(mpi, train_follows_one_process) {
  /* minibatches of 16: 60 = 3 x 16 + 12; np 2 splits each 8/8 and the last 6/6 */
  const char *train = "train --model m.json --dataset mixture --samples 60 --seed 2 --device cpu --threads 1 "
                      "--epochs 2 --batch 16 --lr 0.1 --momentum 0.9 --test-dataset mixture --test-samples 30";
  cr_assert_eq(run_np(0, NULL, "%s --out r1", train), 0, "%s", hs_cli_err);
  cr_assert_eq(run_np(2, NULL, "%s --out r2", train), 0, "%s", hs_cli_err);
  /* the log prints 10 significant digits: equal to that; the parameters below to 1e-10 */
  const char *cols[] = {"loss", "test_loss"};
  for (int c = 0; c < 2; c++) {
    size_t n1, n2;
    double *a = log_column("r1/log.csv", cols[c], &n1), *b = log_column("r2/log.csv", cols[c], &n2);
    cr_assert_eq(n1, n2);
    cr_assert_eq(n1, 2, "epochs 1, 2");
    for (size_t i = 0; i < n1; i++)
      cr_expect(fabs(a[i] - b[i]) <= 1e-9 * fabs(a[i]), "%s epoch %zu: %.17g vs %.17g", cols[c], i + 1, b[i], a[i]);
    free(a);
    free(b);
  }
  /* the parameters after 2 epochs */
  hs_model_spec spec;
  cr_assert_eq(hs_spec_load(ctx, hs_cli_path("m.json"), &spec), HS_OK);
  double th[2][143];
  for (int r = 0; r < 2; r++) {
    hs_model *m;
    cr_assert_eq(hs_model_create(ctx, &spec, &m), HS_OK);
    cr_assert_eq(hs_model_load(m, hs_cli_path(r ? "r2/epoch-0002.safetensors" : "r1/epoch-0002.safetensors")), HS_OK, "%s",
                 hs_last_error(ctx));
    cr_assert_eq(hs_model_num_params(m), 143);
    cr_assert_eq(hs_model_get_params(m, th[r]), HS_OK);
    hs_model_destroy(m);
  }
  expect_close("parameters after 2 epochs", 2, th[1], th[0], 143, 1e-10);
}

/* compare: training splits minibatches (relu) or replicates them (relu-bn), the analysis
 * shards batches; summary.csv equals one process's but for the wall-clock column (its
 * numbers print 10 digits; the rounding differences are ~1e-15). */
Test(mpi, compare_follows_one_process) {
  const char *args = "compare --dataset mixture --samples 200 --test-samples 100 --analysis-samples 60 --hidden 8,8 "
                     "--kinds relu,relu-bn --seeds 1 --epochs 2 --batch 20 --analysis-epochs 0,2 --steps 10 --probes 2 "
                     "--device cpu --threads 1";
  cr_assert_eq(run_np(0, NULL, "%s --out c1", args), 0, "%s", hs_cli_err);
  cr_assert_eq(run_np(2, NULL, "%s --out c2", args), 0, "%s", hs_cli_err);
  char *a = hs_cli_read_text("c1/summary.csv"), *b = hs_cli_read_text("c2/summary.csv");
  /* drop the seconds column (the 17th) of every row, in place */
  char *rows[2] = {a, b};
  for (int f = 0; f < 2; f++) {
    char *w = rows[f];
    int col = 0;
    for (const char *r = rows[f]; *r; r++) {
      if (*r == '\n') col = 0;
      else if (*r == ',') col++;
      if (col != 16 || *r == '\n') *w++ = *r;
    }
    *w = '\0';
  }
  cr_expect_str_eq(b, a, "summary.csv under np 2 differs from one process's");
  free(a);
  free(b);
}

Test(mpi, a_failing_rank_ends_the_run) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* rank 1 fails after loading its data; ranks 0 and 2 wait for it in the first reduction */
  int rc = run_np(3, "HESSPEC_MPI_FAIL_RANK=1", "spectrum %s --steps 12 --probes 3 --out f.json", data);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  cr_expect_eq(rc, 1, "exit %d: %s", rc, hs_cli_err);
  cr_expect(strstr(hs_cli_err, "rank 1: simulated failure"), "the failing rank's message is missing: %s", hs_cli_err);
  cr_expect(sec < 20, "the run took %.1f s to end", sec);
  cr_expect(!hs_cli_exists("f.json"), "a failed run wrote its output");
  /* bad usage fails on every rank: exit 2 as for one process */
  rc = run_np(2, NULL, "spectrum %s --steps 0 --out f.json", data);
  cr_expect_eq(rc, 2, "exit %d: %s", rc, hs_cli_err);
}

int main(int argc, char *argv[]) {
  const char *why = NULL;
#ifndef HS_TEST_CLI_HAS_MPI
  why = "the CLI was built without MPI (configure with -DHS_MPI=ON, libopenmpi-dev installed)";
#endif
  if (!why && system("command -v mpirun > /dev/null 2>&1") != 0) why = "mpirun is not on PATH (apt-get install openmpi-bin)";
  if (why) {
    const char *req = getenv("HS_REQUIRE_MPI");
    if (req && strcmp(req, "1") == 0) {
      fprintf(stderr, "test_mpi: FAILED: HS_REQUIRE_MPI=1 but %s\n", why);
      return 1;
    }
    printf("test_mpi: SKIPPED: %s\n", why);
    return 77;
  }
  struct criterion_test_set *tests = criterion_initialize();
  int result = 0;
  if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return result;
}
