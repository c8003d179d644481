/* The command line: exit status, one-line messages naming the file and the problem, no
 * output file after bad input, and a good run that writes what the library computes. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("cli_test");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}

#define path hs_cli_path
#define write_text hs_cli_write_text
#define exists hs_cli_exists
#define errtext hs_cli_err
static int hesspec(const char *args) { return hs_cli_run("", args, ""); }

static const char *spec_json = "{\"input_dim\": 4, \"hidden\": [5], \"output_dim\": 3, \"activation\": \"tanh\", "
                               "\"loss\": \"cross_entropy\"}";

/* A good model and data set: 6 samples of 4 features, labels in [0, 3). */
static void good_files(void) {
  write_text("m.json", spec_json);
  double X[24];
  hs_rng_normals(1, 1, 0, 24, X);
  size_t xd[2] = {6, 4}, yd[1] = {6};
  cr_assert_eq(hs_npy_write_f64(ctx, path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  int32_t y[6] = {0, 1, 2, 0, 1, 2};
  cr_assert_eq(hs_npy_write(ctx, path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
}

/* Bad input: exit 2, one line naming `culprit`, no output file. */
static void expect_bad(const char *args, const char *culprit, const char *also) {
  int rc = hesspec(args);
  cr_expect_eq(rc, 2, "`hesspec %s` exited %d, want 2 (stderr: %s)", args, rc, errtext);
  cr_expect(strstr(errtext, culprit), "message does not name '%s': %s", culprit, errtext);
  if (also) cr_expect(strstr(errtext, also), "message does not say '%s': %s", also, errtext);
  char *nl = strchr(errtext, '\n');
  cr_expect(nl && nl[1] == '\0', "message is not one line: %s", errtext);
  cr_expect(!exists("out.npy"), "an output file was written after bad input");
}

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, good_hvp_matches_the_library) {
  good_files();
  /* P = 5*4 + 5 + 3*5 + 3 = 43 */
  size_t P = 43, k = 2, vd[2] = {2, 43};
  double *V = hs_test_vec(k * P, 3);
  cr_assert_eq(hs_npy_write_f64(ctx, path("V.npy"), HS_F64, V, 2, vd), HS_OK);
  int rc = hesspec("hvp --model m.json --inputs X.npy --targets y.npy --vectors V.npy --out out.npy --seed 5 --device cpu");
  cr_assert_eq(rc, 0, "hvp failed: %s", errtext);
  double *HV;
  hs_npy_shape sh;
  cr_assert_eq(hs_npy_read_f64(ctx, path("out.npy"), 0, &HV, &sh), HS_OK);
  cr_assert(sh.ndim == 2 && sh.dim[0] == 2 && sh.dim[1] == P);
  /* the same product through the library */
  hs_model_spec s;
  cr_assert_eq(hs_spec_load(ctx, path("m.json"), &s), HS_OK);
  hs_model *m;
  cr_assert_eq(hs_model_create(ctx, &s, &m), HS_OK);
  cr_assert_eq(hs_model_init(m, 5), HS_OK);
  double X[24];
  hs_rng_normals(1, 1, 0, 24, X);
  int32_t y[6] = {0, 1, 2, 0, 1, 2};
  hs_dataset *d;
  cr_assert_eq(hs_dataset_create(ctx, 6, 4, X, 3, y, NULL, &d), HS_OK);
  cr_assert_eq(hs_model_bind(m, d, 0), HS_OK);
  double *ref = malloc(k * P * sizeof *ref);
  cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, k, V, ref), HS_OK);
  for (size_t i = 0; i < k * P; i++) cr_expect_eq(HV[i], ref[i], "entry %zu: %g vs %g", i, HV[i], ref[i]);
  free(V); free(HV); free(ref);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
}

Test(cli, missing_and_malformed_files) {
  good_files();
  expect_bad("loss --model nope.json --inputs X.npy --targets y.npy --out out.npy", "nope.json", NULL);
  write_text("bad.json", "{\"input_dim\": 4, \"hidden\": [5,");
  expect_bad("loss --model bad.json --inputs X.npy --targets y.npy --out out.npy", "bad.json", NULL);
  write_text("unk.json", "{\"input_dim\": 4, \"output_dim\": 3, \"widths\": [5]}");
  expect_bad("loss --model unk.json --inputs X.npy --targets y.npy --out out.npy", "widths", NULL);
  write_text("val.json", "{\"input_dim\": 4, \"output_dim\": 3, \"activation\": \"gelu\"}");
  expect_bad("loss --model val.json --inputs X.npy --targets y.npy --out out.npy", "gelu", NULL);
  write_text("trunc.npy", "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (6, 4), }");
  expect_bad("loss --model m.json --inputs trunc.npy --targets y.npy --out out.npy", "trunc.npy", NULL);
  expect_bad("loss --model m.json --inputs X.npy --targets missing.npy --out out.npy", "missing.npy", NULL);
  write_text("w.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":");
  expect_bad("loss --model m.json --weights w.safetensors --inputs X.npy --targets y.npy --out out.npy",
             "w.safetensors", NULL);
}

Test(cli, shapes_labels_and_values) {
  good_files();
  double X5[30];
  hs_rng_normals(2, 1, 0, 30, X5);
  size_t d5[2] = {6, 5};
  cr_assert_eq(hs_npy_write_f64(ctx, path("X5.npy"), HS_F64, X5, 2, d5), HS_OK);
  expect_bad("loss --model m.json --inputs X5.npy --targets y.npy --out out.npy", "X5.npy", "input_dim");
  int32_t ybad[6] = {0, 1, 2, 3, 1, 2};
  size_t yd[1] = {6}, y5[1] = {5};
  cr_assert_eq(hs_npy_write(ctx, path("ybad.npy"), HS_NPY_I4, ybad, 1, yd), HS_OK);
  expect_bad("loss --model m.json --inputs X.npy --targets ybad.npy --out out.npy", "ybad.npy", "[0, 3)");
  cr_assert_eq(hs_npy_write(ctx, path("yshort.npy"), HS_NPY_I4, ybad, 1, y5), HS_OK);
  expect_bad("loss --model m.json --inputs X.npy --targets yshort.npy --out out.npy", "yshort.npy", NULL);
  double Xnan[24];
  hs_rng_normals(1, 1, 0, 24, Xnan);
  Xnan[13] = NAN;
  size_t xd[2] = {6, 4};
  cr_assert_eq(hs_npy_write_f64(ctx, path("Xnan.npy"), HS_F64, Xnan, 2, xd), HS_OK);
  expect_bad("loss --model m.json --inputs Xnan.npy --targets y.npy --out out.npy", "Xnan.npy", NULL);
  double V[10] = {0};
  size_t vd[1] = {10};
  cr_assert_eq(hs_npy_write_f64(ctx, path("V.npy"), HS_F64, V, 1, vd), HS_OK);
  expect_bad("hvp --model m.json --inputs X.npy --targets y.npy --vectors V.npy --out out.npy", "V.npy", "43");
}

Test(cli, weights_with_nan_are_rejected) {
  good_files();
  hs_model_spec s;
  cr_assert_eq(hs_spec_load(ctx, path("m.json"), &s), HS_OK);
  hs_model *m;
  cr_assert_eq(hs_model_create(ctx, &s, &m), HS_OK);
  cr_assert_eq(hs_model_save(m, path("w.safetensors"), HS_F64), HS_OK, "%s", hs_last_error(ctx));
  hs_model_destroy(m);
  /* poison the first value of the first tensor (the data start right after the header) */
  FILE *f = fopen(path("w.safetensors"), "r+b");
  cr_assert(f);
  unsigned char len8[8];
  cr_assert_eq(fread(len8, 1, 8, f), 8);
  long hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen * 256 + len8[i];
  double nan = NAN;
  fseek(f, 8 + hlen, SEEK_SET);
  fwrite(&nan, sizeof nan, 1, f);
  fclose(f);
  expect_bad("loss --model m.json --weights w.safetensors --inputs X.npy --targets y.npy --out out.npy",
             "w.safetensors", NULL);
}

Test(cli, usage_errors) {
  good_files();
  expect_bad("hvp --model m.json --inputs X.npy --targets y.npy --out out.npy", "--vectors", NULL);
  expect_bad("loss --model m.json --inputs X.npy --targets y.npy --frobnicate --out out.npy", "--frobnicate", NULL);
  expect_bad("loss --model m.json --inputs X.npy --targets y.npy --dtype f16 --out out.npy", "f16", NULL);
  expect_bad("loss --model m.json --inputs X.npy --targets y.npy --device tpu --out out.npy", "tpu", NULL);
  expect_bad("loss --model m.json --inputs X.npy --targets y.npy --batch 100 --out out.npy", "--batch", NULL);
  expect_bad("frobnicate", "frobnicate", NULL);
}
