/* Datasets: Fashion-MNIST (a miniature copy, and the installed one when present),
 * synthetic generators, .npy pairs, and the dataset names. */
#include "io_fixture.h"

#include <math.h>
#include <zlib.h>

#include "io/datasets.h"
#include "io/npy.h"

TestSuite(datasets, .init = io_setup, .fini = io_teardown);

static void gz_idx(const char *name, unsigned magic, int ndim, const unsigned *dims,
                   const unsigned char *data, size_t len) {
  unsigned char hdr[16];
  unsigned v[4] = {magic, dims[0], ndim > 1 ? dims[1] : 0, ndim > 1 ? dims[2] : 0};
  for (int k = 0; k <= ndim; k++)
    for (int b = 0; b < 4; b++) hdr[4 * k + b] = (unsigned char)(v[k] >> (24 - 8 * b));
  gzFile gz = gzopen(io_path(name), "wb");
  cr_assert(gz);
  gzwrite(gz, hdr, 4 + 4 * (unsigned)ndim);
  gzwrite(gz, data, (unsigned)len);
  gzclose(gz);
}

static hs_model_spec spec(int in, int out, hs_loss loss) {
  hs_model_spec s = hs_spec_defaults();
  s.input_dim = in;
  s.output_dim = out;
  s.loss = loss;
  return s;
}

Test(datasets, fashion_mnist_from_hesspec_data) {
  static unsigned char img[3 * 784], lab[3] = {9, 0, 4};
  for (size_t k = 0; k < sizeof img; k++) img[k] = (unsigned char)(k % 256);
  unsigned di[3] = {3, 28, 28}, dl[1] = {3};
  gz_idx("t10k-images-idx3-ubyte.gz", 0x803, 3, di, img, sizeof img);
  gz_idx("t10k-labels-idx1-ubyte.gz", 0x801, 1, dl, lab, sizeof lab);
  snprintf(io_ctx->data_dir, sizeof io_ctx->data_dir, "%s", io_dir); /* the CLI's $HESSPEC_DATA */
  hs_model_spec s = spec(784, 10, HS_LOSS_CROSS_ENTROPY);
  hs_data d;
  io_assert_ok(hs_data_open(io_ctx, "fashion-mnist:test", 2, 0, &s, &d));
  cr_assert_eq(d.n, 2);
  cr_assert_eq(d.input_dim, 784);
  cr_assert_eq(d.labels[0], 9);
  cr_assert_eq(d.labels[1], 0);
  cr_assert_eq(d.X[255], 1.0);
  cr_assert_eq(d.X[784 + 1], (double)((784 + 1) % 256) / 255.0);
  cr_assert(strstr(d.source, "fashion-mnist:test"));
  hs_data_free(&d);

  /* mse: one-hot targets */
  s.loss = HS_LOSS_MSE;
  io_assert_ok(hs_data_open(io_ctx, "fashion-mnist:test", 0, 0, &s, &d));
  cr_assert_eq(d.n, 3);
  cr_assert_null(d.labels);
  cr_assert_eq(d.targets[2 * 10 + 4], 1.0);
  cr_assert_eq(d.targets[2 * 10 + 3], 0.0);
  hs_data_free(&d);

  /* too many samples; the train split is absent: the message says what to install */
  s.loss = HS_LOSS_CROSS_ENTROPY;
  io_assert_fail(hs_data_open(io_ctx, "fashion-mnist:test", 4, 0, &s, &d), HS_E_INVALID,
                 "fashion-mnist:test", "has 3 samples, asked for 4");
  io_assert_fail(hs_data_open(io_ctx, "fashion-mnist", 4, 0, &s, &d), HS_E_IO,
                 io_path("train-labels-idx1-ubyte.gz"), "dataset-fashion-mnist");
  /* a spec that does not fit */
  hs_model_spec bad = spec(100, 10, HS_LOSS_CROSS_ENTROPY);
  io_assert_fail(hs_data_open(io_ctx, "fashion-mnist:test", 1, 0, &bad, &d), HS_E_INVALID,
                 "fashion-mnist", "input_dim 100");
}

Test(datasets, installed_fashion_mnist) {
  char p[512];
  snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", hs_fashion_mnist_dir(io_ctx));
  if (!io_exists(p)) cr_skip_test("dataset-fashion-mnist is not installed");
  hs_model_spec s = spec(784, 10, HS_LOSS_CROSS_ENTROPY);
  hs_data d;
  io_assert_ok(hs_data_open(io_ctx, "fashion-mnist:test", 1000, 0, &s, &d));
  int count[10] = {0};
  double lo = 1, hi = 0;
  for (size_t i = 0; i < d.n; i++) count[d.labels[i]]++;
  for (size_t k = 0; k < d.n * 784; k++) {
    lo = fmin(lo, d.X[k]);
    hi = fmax(hi, d.X[k]);
  }
  cr_assert_eq(lo, 0.0);
  cr_assert_eq(hi, 1.0);
  for (int c = 0; c < 10; c++) cr_assert(count[c] > 50, "class %d has %d samples", c, count[c]);
  /* the canonical first test label is 9 (ankle boot) */
  cr_assert_eq(d.labels[0], 9);
  hs_data_free(&d);
}

Test(datasets, mixture) {
  hs_data a, b;
  io_assert_ok(hs_data_mixture(io_ctx, 2000, 64, 2, 10.0, 7, &a));
  io_assert_ok(hs_data_mixture(io_ctx, 10, 64, 2, 10.0, 7, &b));
  /* sample i does not depend on n */
  cr_assert_arr_eq(a.X, b.X, 10 * 64 * sizeof(double));
  cr_assert_eq(a.labels[3], 1);
  cr_assert_eq(a.labels[4], 0);
  /* the empirical class means are about `separation` apart */
  double m[2][64] = {{0}}, dist = 0;
  for (size_t i = 0; i < a.n; i++)
    for (int j = 0; j < 64; j++) m[a.labels[i]][j] += a.X[i * 64 + j] / 1000.0;
  for (int j = 0; j < 64; j++) dist += (m[0][j] - m[1][j]) * (m[0][j] - m[1][j]);
  cr_assert(fabs(sqrt(dist) - 10.0) < 2.5, "distance %g", sqrt(dist));
  hs_data_free(&b);
  io_assert_ok(hs_data_mixture(io_ctx, 10, 64, 2, 10.0, 8, &b));
  cr_assert(memcmp(a.X, b.X, 10 * 64 * sizeof(double)) != 0, "another seed, other data");
  hs_data_free(&a);
  hs_data_free(&b);
  io_assert_fail(hs_data_mixture(io_ctx, 10, 4, 1, 1.0, 0, &a), HS_E_INVALID, "mixture", "classes 1");
}

Test(datasets, teacher) {
  int dims[2] = {3, 2};
  hs_data d;
  io_assert_ok(hs_data_teacher(io_ctx, 50, 1, dims, HS_ACT_TANH, 0.0, 3, &d));
  cr_assert_not_null(d.targets);
  cr_assert_null(d.labels);
  /* a linear teacher: targets are linear in x, so t(x1 + x2) structure shows as
   * t_i = W x_i; recover W from 3 samples and check a fourth */
  double *X = d.X, *T = d.targets;
  /* solve W (2x3) from X rows 0..2 by Cramer's rule */
  double A[3][3], det;
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) A[r][c] = X[r * 3 + c];
  det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
        A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
        A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
  for (int k = 0; k < 2; k++) {
    double w[3];
    for (int c = 0; c < 3; c++) {
      double M[3][3];
      memcpy(M, A, sizeof M);
      for (int r = 0; r < 3; r++) M[r][c] = T[r * 2 + k];
      w[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
              M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
              M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) / det;
    }
    double pred = w[0] * X[9] + w[1] * X[10] + w[2] * X[11];
    cr_assert(fabs(pred - T[3 * 2 + k]) < 1e-9, "linear teacher: %g vs %g", pred, T[6 + k]);
  }
  hs_data_free(&d);

  hs_model_spec s = spec(5, 3, HS_LOSS_MSE);
  io_assert_ok(hs_data_open(io_ctx, "teacher:hidden=8x4,act=relu,noise=0.5", 20, 1, &s, &d));
  cr_assert_eq(d.output_dim, 3);
  cr_assert(strstr(d.source, "teacher:hidden=8x4,act=relu,noise=0.5"), "%s", d.source);
  hs_data e;
  io_assert_ok(hs_data_open(io_ctx, "teacher:hidden=8x4,act=relu", 20, 1, &s, &e));
  cr_assert_arr_eq(d.X, e.X, 20 * 5 * sizeof(double));
  cr_assert(memcmp(d.targets, e.targets, 60 * sizeof(double)) != 0, "noise changes targets");
  hs_data_free(&d);
  hs_data_free(&e);

  s.loss = HS_LOSS_CROSS_ENTROPY;
  io_assert_ok(hs_data_open(io_ctx, "teacher", 20, 1, &s, &d));
  cr_assert_not_null(d.labels);
  for (size_t i = 0; i < d.n; i++) cr_assert(d.labels[i] >= 0 && d.labels[i] < 3);
  hs_data_free(&d);
}

Test(datasets, bad_names) {
  hs_model_spec s = spec(5, 3, HS_LOSS_MSE);
  hs_data d;
  io_assert_fail(hs_data_open(io_ctx, "mnist", 10, 0, &s, &d), HS_E_INVALID, "mnist", "unknown dataset");
  io_assert_fail(hs_data_open(io_ctx, "fashion-mnist:val", 10, 0, &s, &d), HS_E_INVALID,
                 "fashion-mnist:val", "expected fashion-mnist");
  io_assert_fail(hs_data_open(io_ctx, "mixture:sep=-1", 10, 0, &s, &d), HS_E_INVALID,
                 "mixture:sep=-1", "expected a number >= 0");
  io_assert_fail(hs_data_open(io_ctx, "mixture:noise=1", 10, 0, &s, &d), HS_E_INVALID,
                 "mixture:noise=1", "unknown option 'noise'");
  io_assert_fail(hs_data_open(io_ctx, "teacher:hidden=8x", 10, 0, &s, &d), HS_E_INVALID,
                 "teacher:hidden=8x", "expected widths");
  io_assert_fail(hs_data_open(io_ctx, "teacher:act=gelu", 10, 0, &s, &d), HS_E_INVALID,
                 "teacher:act=gelu", "act=gelu");
  io_assert_fail(hs_data_open(io_ctx, "teacher", 0, 0, &s, &d), HS_E_INVALID, "teacher",
                 "needs a sample count");
}

Test(datasets, npy_pairs) {
  double X[4 * 3] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  int64_t y[4] = {0, 2, 1, 2};
  size_t dx[2] = {4, 3}, dy[1] = {4};
  const char *xp = io_path("X.npy"), *yp = io_path("y.npy");
  io_assert_ok(hs_npy_write_f64(io_ctx, xp, HS_F32, X, 2, dx));
  io_assert_ok(hs_npy_write(io_ctx, yp, HS_NPY_I8, y, 1, dy));
  hs_model_spec s = spec(3, 3, HS_LOSS_CROSS_ENTROPY);
  hs_data d;
  io_assert_ok(hs_data_from_npy(io_ctx, xp, yp, 3, &s, &d));
  cr_assert_eq(d.n, 3);
  cr_assert_eq(d.X[5], 5.0);
  cr_assert_eq(d.labels[1], 2);
  hs_data_free(&d);

  s.output_dim = 2; /* label 2 is out of range now */
  io_assert_fail(hs_data_from_npy(io_ctx, xp, yp, 0, &s, &d), HS_E_INVALID, yp,
                 "element [1] = 2 is not a class in [0, 2)");
  s = spec(4, 3, HS_LOSS_CROSS_ENTROPY);
  io_assert_fail(hs_data_from_npy(io_ctx, xp, yp, 0, &s, &d), HS_E_INVALID, xp, "expected (N, 4)");
  s = spec(3, 3, HS_LOSS_MSE); /* mse wants (N, 3) float targets */
  io_assert_fail(hs_data_from_npy(io_ctx, xp, yp, 0, &s, &d), HS_E_INVALID, yp, "expected (N, 3)");
  io_assert_ok(hs_data_from_npy(io_ctx, xp, xp, 0, &s, &d));
  cr_assert_eq(d.targets[11], 11.0);
  hs_data_free(&d);
  size_t dy3[1] = {3};
  io_assert_ok(hs_npy_write(io_ctx, yp, HS_NPY_I8, y, 1, dy3));
  s = spec(3, 3, HS_LOSS_CROSS_ENTROPY);
  io_assert_fail(hs_data_from_npy(io_ctx, xp, yp, 0, &s, &d), HS_E_INVALID, xp,
                 "has 4 samples but");
  io_assert_fail(hs_data_from_npy(io_ctx, io_path("nope.npy"), yp, 0, &s, &d), HS_E_IO,
                 "nope.npy", "cannot open");
}

Test(datasets, synthetic_data_independent_of_threads) {
  int dims[3] = {9, 5, 2};
  hs_data a, b, c;
  io_ctx->threads = 1;
  io_assert_ok(hs_data_teacher(io_ctx, 4099, 2, dims, HS_ACT_TANH, 0.3, 5, &a));
  io_ctx->threads = 3;
  io_assert_ok(hs_data_teacher(io_ctx, 4099, 2, dims, HS_ACT_TANH, 0.3, 5, &b));
  io_assert_ok(hs_data_teacher(io_ctx, 7, 2, dims, HS_ACT_TANH, 0.3, 5, &c));
  cr_assert_arr_eq(a.X, b.X, 4099 * 9 * sizeof(double));
  cr_assert_arr_eq(a.targets, b.targets, 4099 * 2 * sizeof(double));
  /* and of n (the grouping of samples differs for n = 7) */
  cr_assert_arr_eq(a.targets, c.targets, 7 * 2 * sizeof(double));
  hs_data_free(&a);
  hs_data_free(&b);
  hs_data_free(&c);
  io_ctx->threads = 1;
  io_assert_ok(hs_data_mixture(io_ctx, 5000, 7, 3, 2.0, 9, &a));
  io_ctx->threads = 4;
  io_assert_ok(hs_data_mixture(io_ctx, 5000, 7, 3, 2.0, 9, &b));
  cr_assert_arr_eq(a.X, b.X, 5000 * 7 * sizeof(double));
  hs_data_free(&a);
  hs_data_free(&b);
}
