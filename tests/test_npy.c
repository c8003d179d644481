/* .npy reading and writing: numpy-format fixtures built byte by byte, round trips, and one
 * test per class of bad input. */
#include "io_fixture.h"

#include <math.h>
#include <stdint.h>

#include "io/npy.h"

TestSuite(npy, .init = io_setup, .fini = io_teardown);

/* A file as numpy writes it: magic, version, little-endian header length, the dict padded
 * with spaces and a newline to a multiple of 64 bytes, then the data. */
static const char *npy_fixture(const char *name, int major, const char *dict, const void *data,
                               size_t dlen) {
  size_t pre = major == 1 ? 10 : 12;
  size_t total = (pre + strlen(dict) + 1 + 63) / 64 * 64;
  size_t hlen = total - pre;
  unsigned char *b = calloc(1, total + dlen + 1);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)major;
  b[7] = 0;
  for (size_t k = 0; k < pre - 8; k++) b[8 + k] = (unsigned char)(hlen >> (8 * k));
  memcpy(b + pre, dict, strlen(dict));
  memset(b + pre + strlen(dict), ' ', hlen - strlen(dict) - 1);
  b[total - 1] = '\n';
  if (dlen) memcpy(b + total, data, dlen);
  const char *path = io_path(name);
  io_write(path, b, total + dlen);
  free(b);
  return path;
}

static const double d6[6] = {0.5, -1.25, 3.0, 1e300, -0.0, 7.125};

/* ---- reading what numpy writes ---- */

Test(npy, reads_f8_2d_v1) {
  const char *p = npy_fixture("a.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                              d6, sizeof d6);
  double *x;
  hs_npy_shape sh;
  io_assert_ok(hs_npy_read_f64(io_ctx, p, HS_NPY_FINITE, &x, &sh));
  cr_assert_eq(sh.ndim, 2);
  cr_assert_eq(sh.dim[0], 2);
  cr_assert_eq(sh.dim[1], 3);
  cr_assert_arr_eq(x, d6, sizeof d6);
  free(x);
}

Test(npy, reads_versions_2_and_3) {
  float f[3] = {1.5f, -2.0f, 0.25f};
  for (int major = 2; major <= 3; major++) {
    const char *p = npy_fixture(major == 2 ? "v2.npy" : "v3.npy", major,
                                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f,
                                sizeof f);
    double *x;
    hs_npy_shape sh;
    io_assert_ok(hs_npy_read_f64(io_ctx, p, 0, &x, &sh));
    cr_assert_eq(sh.ndim, 1);
    cr_assert_eq(sh.dim[0], 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(x[i], (double)f[i]);
    free(x);
  }
}

Test(npy, reads_integer_dtypes_and_variants) {
  int32_t i4[4] = {0, 9, -3, 2147483647};
  int64_t i8[3] = {1, -5, 2147483647LL};
  uint8_t u1[5] = {0, 1, 2, 255, 7};
  int32_t *y;
  hs_npy_shape sh;
  const char *p = npy_fixture("i4.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }",
                              i4, sizeof i4);
  io_assert_ok(hs_npy_read_i32(io_ctx, p, &y, &sh));
  cr_assert_arr_eq(y, i4, sizeof i4);
  free(y);
  /* '=' (native) and double quotes, as other writers produce */
  p = npy_fixture("i8.npy", 1, "{\"descr\": \"=i8\", \"fortran_order\": False, \"shape\": (3,)}",
                  i8, sizeof i8);
  io_assert_ok(hs_npy_read_i32(io_ctx, p, &y, &sh));
  cr_assert_eq(y[0], 1);
  cr_assert_eq(y[1], -5);
  cr_assert_eq(y[2], 2147483647);
  free(y);
  p = npy_fixture("u1.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", u1,
                  sizeof u1);
  io_assert_ok(hs_npy_read_i32(io_ctx, p, &y, &sh));
  for (int i = 0; i < 5; i++) cr_assert_eq(y[i], u1[i]);
  free(y);
  double *x;
  io_assert_ok(hs_npy_read_f64(io_ctx, p, HS_NPY_FINITE, &x, &sh));
  cr_assert_eq(x[3], 255.0);
  free(x);
}

Test(npy, reads_scalar_and_empty) {
  double v = 42.0;
  const char *p = npy_fixture("s.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                              &v, sizeof v);
  double *x;
  hs_npy_shape sh;
  io_assert_ok(hs_npy_read_f64(io_ctx, p, 0, &x, &sh));
  cr_assert_eq(sh.ndim, 0);
  cr_assert_eq(x[0], 42.0);
  free(x);
  p = npy_fixture("e.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5), }", NULL, 0);
  io_assert_ok(hs_npy_read_f64(io_ctx, p, 0, &x, &sh));
  cr_assert_eq(sh.ndim, 2);
  cr_assert_eq(sh.dim[0], 0);
  cr_assert_eq(sh.dim[1], 5);
  free(x);
}

/* ---- writing: byte-exact against numpy, and round trips ---- */

Test(npy, writer_matches_numpy_bytes) {
  const char *want = npy_fixture("want.npy", 1,
                                 "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", d6,
                                 sizeof d6);
  const char *got = io_path("got.npy");
  size_t dims[2] = {2, 3};
  io_assert_ok(hs_npy_write_f64(io_ctx, got, HS_F64, d6, 2, dims));
  FILE *a = fopen(want, "rb"), *b = fopen(got, "rb");
  unsigned char ba[512], bb[512];
  size_t na = fread(ba, 1, sizeof ba, a), nb = fread(bb, 1, sizeof bb, b);
  fclose(a);
  fclose(b);
  cr_assert_eq(na, 128 + sizeof d6);
  cr_assert_eq(na, nb);
  cr_assert_arr_eq(ba, bb, na);

  int32_t i4[5] = {1, 2, 3, 4, 5};
  size_t n5 = 5;
  want = npy_fixture("want1.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", i4,
                     sizeof i4);
  got = io_path("got1.npy");
  io_assert_ok(hs_npy_write(io_ctx, got, HS_NPY_I4, i4, 1, &n5));
  a = fopen(want, "rb");
  b = fopen(got, "rb");
  na = fread(ba, 1, sizeof ba, a);
  nb = fread(bb, 1, sizeof bb, b);
  fclose(a);
  fclose(b);
  cr_assert_eq(na, nb);
  cr_assert_arr_eq(ba, bb, na);
}

Test(npy, round_trips) {
  const char *p = io_path("rt.npy");
  size_t dims[2] = {3, 2};
  double *x;
  hs_npy_shape sh;
  io_assert_ok(hs_npy_write_f64(io_ctx, p, HS_F64, d6, 2, dims));
  io_assert_ok(hs_npy_read_f64(io_ctx, p, 0, &x, &sh));
  cr_assert_eq(sh.dim[0], 3);
  cr_assert_eq(sh.dim[1], 2);
  cr_assert_arr_eq(x, d6, sizeof d6);
  free(x);

  double small[6] = {0.1, -0.2, 1.0 / 3.0, 1e-30, 65504.0, -7.0};
  io_assert_ok(hs_npy_write_f64(io_ctx, p, HS_F32, small, 1, (size_t[]){6}));
  hs_npy_array a;
  io_assert_ok(hs_npy_read(io_ctx, p, &a));
  cr_assert_eq(a.dtype, HS_NPY_F4);
  io_assert_ok(hs_npy_to_f64(io_ctx, p, &a, HS_NPY_FINITE, &x));
  for (int i = 0; i < 6; i++) cr_assert_eq(x[i], (double)(float)small[i]);
  free(x);
  hs_npy_free(&a);

  int32_t lab[6] = {0, 1, 2, -1, INT32_MAX, INT32_MIN};
  int32_t *y;
  io_assert_ok(hs_npy_write(io_ctx, p, HS_NPY_I4, lab, 2, dims));
  io_assert_ok(hs_npy_read_i32(io_ctx, p, &y, &sh));
  cr_assert_arr_eq(y, lab, sizeof lab);
  free(y);

  int64_t l8[2] = {-3, 4};
  io_assert_ok(hs_npy_write(io_ctx, p, HS_NPY_I8, l8, 1, (size_t[]){2}));
  io_assert_ok(hs_npy_read_i32(io_ctx, p, &y, &sh));
  cr_assert_eq(y[0], -3);
  cr_assert_eq(y[1], 4);
  free(y);
  cr_assert_eq(io_dir_entries(), 1, "no temporary files may remain");
}

/* ---- bad input: one test per class; every message names the file ---- */

Test(npy, missing_file_is_io_error) {
  const char *p = io_path("nope.npy");
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_IO, p, "cannot open");
}

Test(npy, bad_magic) {
  const char *p = io_path("bad.npy");
  io_write(p, "PK\x03\x04 this is a zip file", 24);
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "bad magic");
  io_write(p, "", 0);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "bad magic");
}

Test(npy, unsupported_version) {
  const char *p = npy_fixture("v4.npy", 4, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                              d6, 8);
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "version 4.0");
}

Test(npy, truncated_header) {
  const char *p = io_path("th.npy");
  hs_npy_array a;
  /* the header length says 118 bytes, but the file ends after 20 */
  io_write(p, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8", 24);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "header length 118");
  /* the file ends inside the 4-byte length of a version 2 file */
  io_write(p, "\x93NUMPY\x02\x00\x76\x00", 10);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "truncated");
  /* a length field beyond any plausible file */
  io_write(p, "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}", 14);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "header length");
}

Test(npy, truncated_data) {
  const char *p = npy_fixture("td.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                              d6, 40);
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p,
                 "truncated: header says 2x3 f8 (48 bytes) but 40 bytes follow");
}

Test(npy, trailing_data) {
  double d7[7] = {0};
  const char *p = npy_fixture("tr.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                              d7, sizeof d7);
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "trailing data");
}

Test(npy, fortran_order) {
  const char *p = npy_fixture("f.npy", 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                              d6, sizeof d6);
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "Fortran-order");
}

Test(npy, big_endian) {
  const char *p = npy_fixture("be.npy", 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (6,), }",
                              d6, sizeof d6);
  hs_npy_array a;
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "big-endian dtype '>f8'");
}

Test(npy, unsupported_dtypes) {
  hs_npy_array a;
  const char *p = npy_fixture("o.npy", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (6,), }",
                              d6, sizeof d6);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "object arrays");
  p = npy_fixture("f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", d6, 8);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "unsupported dtype '<f2'");
  p = npy_fixture("c.npy", 1, "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", d6,
                  sizeof d6);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "unsupported dtype '<c16'");
  p = npy_fixture("r.npy", 1,
                  "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                  d6, 12);
  io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "structured");
}

Test(npy, malformed_headers) {
  static const char *const bad[] = {
      "{'descr': '<f8', 'fortran_order': False, }",                        /* no shape */
      "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'x': 1, }", /* unknown key */
      "{'descr': '<f8', 'fortran_order': False, 'shape': [6], }",          /* list, not tuple */
      "{'descr': '<f8', 'fortran_order': false, 'shape': (6,), }",         /* JSON bool */
      "{'descr': '<f8', 'fortran_order': False, 'shape': (6, -1), }",      /* negative dim */
      "{'descr': '<f8' 'fortran_order': False, 'shape': (6,), }",          /* missing comma */
      "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), } junk",    /* trailing text */
      "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (6,), }",
      "{'descr: '<f8', 'fortran_order': False, 'shape': (6,), }",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "m%zu.npy", i);
    const char *p = npy_fixture(name, 1, bad[i], d6, sizeof d6);
    hs_npy_array a;
    io_assert_fail(hs_npy_read(io_ctx, p, &a), HS_E_INVALID, p, "malformed header");
  }
}

Test(npy, labels_must_be_int32_integers) {
  const char *p = npy_fixture("fl.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }",
                              d6, sizeof d6);
  int32_t *y;
  io_assert_fail(hs_npy_read_i32(io_ctx, p, &y, NULL), HS_E_INVALID, p, "integer labels");
  int64_t big[3] = {0, 1, 1LL << 33};
  p = npy_fixture("big.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", big,
                  sizeof big);
  io_assert_fail(hs_npy_read_i32(io_ctx, p, &y, NULL), HS_E_INVALID, p,
                 "element [2] = 8589934592 is out of the int32 range");
}

Test(npy, nonfinite_named_by_index) {
  double v[6] = {0, 1, 2, 3, 4, NAN};
  const char *p = npy_fixture("nan.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                              v, sizeof v);
  double *x;
  io_assert_fail(hs_npy_read_f64(io_ctx, p, HS_NPY_FINITE, &x, NULL), HS_E_INVALID, p,
                 "element [1, 2] is nan");
  cr_assert_null(x);
  io_assert_ok(hs_npy_read_f64(io_ctx, p, 0, &x, NULL)); /* not asked: accepted */
  cr_assert(isnan(x[5]));
  free(x);
  double w[3] = {1, -INFINITY, 0};
  io_assert_fail(hs_check_finite(io_ctx, "w", w, 3, NULL), HS_E_INVALID, "w", "element [1] is -inf");
}
