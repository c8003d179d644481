/* safetensors: byte-exact fixtures as the reference writer produces them, round trips, and
 * the validation of headers and offsets. */
#include "io_fixture.h"

#include <math.h>
#include <stdint.h>

#include "io/safetensors.h"

TestSuite(safetensors, .init = io_setup, .fini = io_teardown);

/* A file from a header text (padded with spaces to 8 bytes unless raw) and a data section. */
static const char *st_fixture(const char *name, const char *header, int pad, const void *data,
                              size_t dlen) {
  size_t hl = strlen(header), padded = pad ? (hl + 7) / 8 * 8 : hl;
  unsigned char *b = calloc(1, 8 + padded + dlen + 1);
  for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)padded >> (8 * k));
  memcpy(b + 8, header, hl);
  memset(b + 8 + hl, ' ', padded - hl);
  if (dlen) memcpy(b + 8 + padded, data, dlen);
  const char *p = io_path(name);
  io_write(p, b, 8 + padded + dlen);
  free(b);
  return p;
}

static void *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  cr_assert(fp);
  fseek(fp, 0, SEEK_END);
  *len = (size_t)ftell(fp);
  rewind(fp);
  void *b = malloc(*len + 1);
  cr_assert_eq(fread(b, 1, *len, fp), *len);
  fclose(fp);
  return b;
}

Test(safetensors, reads_reference_layout) {
  /* As safetensors.torch.save_file writes {"b": f32 [2], "w": f64 [2, 2]} with metadata. */
  unsigned char data[40];
  float b[2] = {1.5f, -2.0f};
  double w[4] = {1, 2, 3, 0.25};
  memcpy(data, w, 32);
  memcpy(data + 32, b, 8);
  const char *p = st_fixture("ref.safetensors",
                             "{\"__metadata__\":{\"format\":\"pt\"},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
                             "\"w\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
                             1, data, sizeof data);
  hs_safetensors st;
  io_assert_ok(hs_st_open(io_ctx, p, &st));
  cr_assert_eq(st.n, 2);
  cr_assert_str_eq(hs_st_meta(&st, "format"), "pt");
  const hs_st_tensor *t;
  double *x;
  io_assert_ok(hs_st_get_f64(io_ctx, &st, "w", &t, &x));
  cr_assert_eq(t->ndim, 2);
  cr_assert_eq(t->shape[0], 2);
  cr_assert_eq(t->shape[1], 2);
  cr_assert_arr_eq(x, w, sizeof w);
  free(x);
  io_assert_ok(hs_st_get_f64(io_ctx, &st, "b", &t, &x));
  cr_assert_eq(t->dtype, HS_ST_F32);
  cr_assert_eq(x[0], 1.5);
  cr_assert_eq(x[1], -2.0);
  free(x);
  io_assert_fail(hs_st_get_f64(io_ctx, &st, "c", &t, &x), HS_E_INVALID, p, "no tensor 'c'");
  hs_st_close(&st);
}

Test(safetensors, converts_torch_dtypes) {
  /* num_batches_tracked is an I64 scalar in PyTorch checkpoints; F16/BF16 appear in
   * half-precision exports. */
  unsigned char data[8 + 4 + 4];
  int64_t nbt = 123;
  uint16_t h[2] = {0x3c00 /* 1.0 */, 0xc500 /* -5.0 */};
  uint16_t bf[2] = {0x3fc0 /* 1.5 */, 0xc000 /* -2.0 */};
  memcpy(data, &nbt, 8);
  memcpy(data + 8, h, 4);
  memcpy(data + 12, bf, 4);
  const char *p = st_fixture("t.safetensors",
                             "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                             "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                             "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]}}",
                             1, data, sizeof data);
  hs_safetensors st;
  io_assert_ok(hs_st_open(io_ctx, p, &st));
  double *x;
  const hs_st_tensor *t;
  io_assert_ok(hs_st_get_f64(io_ctx, &st, "n", &t, &x));
  cr_assert_eq(t->ndim, 0);
  cr_assert_eq(t->count, 1);
  cr_assert_eq(x[0], 123.0);
  free(x);
  io_assert_ok(hs_st_get_f64(io_ctx, &st, "h", &t, &x));
  cr_assert_eq(x[0], 1.0);
  cr_assert_eq(x[1], -5.0);
  free(x);
  io_assert_ok(hs_st_get_f64(io_ctx, &st, "bf", &t, &x));
  cr_assert_eq(x[0], 1.5);
  cr_assert_eq(x[1], -2.0);
  free(x);
  hs_st_close(&st);
}

Test(safetensors, writer_matches_reference_bytes) {
  double v[3] = {1, 2, 3};
  float vf[3] = {1, 2, 3};
  const char *want = st_fixture(
      "want.safetensors",
      "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
      1, vf, sizeof vf);
  const char *got = io_path("got.safetensors");
  hs_st_entry e = {.name = "x", .ndim = 1, .shape = {3}, .data = v};
  const char *k[1] = {"format"}, *val[1] = {"pt"};
  io_assert_ok(hs_st_write(io_ctx, got, HS_F32, &e, 1, k, val, 1));
  size_t la, lb;
  unsigned char *a = slurp(want, &la), *b = slurp(got, &lb);
  cr_assert_eq(la, lb);
  cr_assert_arr_eq(a, b, la);
  cr_assert_eq((la - 12) % 8, 0, "header padded to 8 bytes");
  free(a);
  free(b);
}

Test(safetensors, round_trips_f64_and_f32) {
  double w[6] = {0.1, -0.2, 1.0 / 3, 1e-300, 5, -6}, bias[2] = {7, -8}, s = 0.5;
  hs_st_entry e[3] = {{.name = "head.weight", .ndim = 2, .shape = {2, 3}, .data = w},
                      {.name = "head.bias", .ndim = 1, .shape = {2}, .data = bias},
                      {.name = "odd \"name\"\\", .ndim = 0, .data = &s}};
  for (int f = 0; f < 2; f++) {
    hs_dtype dt = f ? HS_F32 : HS_F64;
    const char *p = io_path(f ? "f32.safetensors" : "f64.safetensors");
    io_assert_ok(hs_st_write(io_ctx, p, dt, e, 3, NULL, NULL, 0));
    hs_safetensors st;
    io_assert_ok(hs_st_open(io_ctx, p, &st));
    cr_assert_eq(st.n, 3);
    cr_assert_eq(st.n_meta, 0);
    /* names in the order given */
    cr_assert_str_eq(st.tensors[0].name, "head.weight");
    cr_assert_str_eq(st.tensors[1].name, "head.bias");
    cr_assert_str_eq(st.tensors[2].name, "odd \"name\"\\");
    cr_assert_str_eq(st.tensors[0].dtype_name, f ? "F32" : "F64");
    for (int i = 0; i < 3; i++) {
      double *x;
      const hs_st_tensor *t;
      io_assert_ok(hs_st_get_f64(io_ctx, &st, e[i].name, &t, &x));
      cr_assert_eq(t->ndim, e[i].ndim);
      for (size_t j = 0; j < t->count; j++)
        cr_assert_eq(x[j], f ? (double)(float)e[i].data[j] : e[i].data[j]);
      free(x);
    }
    hs_st_close(&st);
  }
  cr_assert_eq(io_dir_entries(), 2);
}

Test(safetensors, writer_rejects_duplicate_names) {
  double v = 1;
  hs_st_entry e[2] = {{.name = "a", .ndim = 0, .data = &v}, {.name = "a", .ndim = 0, .data = &v}};
  const char *p = io_path("dup.safetensors");
  io_assert_fail(hs_st_write(io_ctx, p, HS_F64, e, 2, NULL, NULL, 0), HS_E_INVALID, p,
                 "'a' given twice");
  cr_assert_eq(io_dir_entries(), 0);
}

/* ---- bad input ---- */

static const char one_f32[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

Test(safetensors, missing_file) {
  hs_safetensors st;
  const char *p = io_path("none.safetensors");
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_IO, p, "cannot open");
}

Test(safetensors, truncated_length_and_header) {
  hs_safetensors st;
  const char *p = io_path("short.safetensors");
  io_write(p, "\x10\x00\x00", 3);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "no header length");
  /* header length 0x1000 but a 10-byte header */
  io_write(p, "\x00\x10\x00\x00\x00\x00\x00\x00{\"a\":1}   ", 18);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "header length 4096");
  io_write(p, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "truncated header");
}

Test(safetensors, malformed_and_truncated_json) {
  hs_safetensors st;
  float d[2] = {0};
  const char *p = st_fixture("m.safetensors", "{\"a\":{\"dtype\":\"F32\",,}}", 1, d, 8);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "malformed JSON");
  p = st_fixture("t.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2", 1, d, 8);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "truncated JSON");
  p = st_fixture("n.safetensors", "[1, 2]", 1, NULL, 0);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "does not start with '{'");
  p = st_fixture("x.safetensors", "{} {}", 1, NULL, 0);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "text after the JSON object");
  p = st_fixture("md.safetensors", "{\"__metadata__\":{\"epochs\":3}}", 1, NULL, 0);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "string values");
}

Test(safetensors, bad_tensor_entries) {
  hs_safetensors st;
  float d[2] = {0};
  static const char *const bad[][2] = {
      {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unknown dtype 'F33'"},
      {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "'dtype'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "non-negative"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", "'shape'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "data_offsets"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
       "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8"},
      {"{\"a\":[1]}", "expected an object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "b%zu.safetensors", i);
    const char *p = st_fixture(name, bad[i][0], 1, d, 8);
    io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, bad[i][1]);
    cr_assert(strstr(hs_last_error(io_ctx), "'a'"), "names the tensor: %s", hs_last_error(io_ctx));
  }
}

Test(safetensors, offsets_out_of_range) {
  hs_safetensors st;
  float d[2] = {0};
  const char *p = st_fixture("r.safetensors",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 1,
                             d, 8);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "out of range");
  p = st_fixture("r2.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
                 1, d, 8);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "out of range");
  /* truncated data: the header is fine, the data section is short */
  p = st_fixture("r3.safetensors", one_f32, 1, d, 6);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "out of range (data section is 6 bytes)");
}

Test(safetensors, overlaps_holes_and_tail) {
  hs_safetensors st;
  float d[4] = {0};
  const char *p = st_fixture(
      "o.safetensors",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      1, d, 12);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "overlaps tensor 'a'");
  p = st_fixture("h.safetensors",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 1, d, 16);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "8 unused bytes before tensor 'a'");
  p = st_fixture("tail.safetensors", one_f32, 1, d, 16);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "cover 8 bytes but the data section has 16");
  p = st_fixture("dup.safetensors",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 1, d, 8);
  io_assert_fail(hs_st_open(io_ctx, p, &st), HS_E_INVALID, p, "'a' appears twice");
}

Test(safetensors, unpadded_header_is_accepted) {
  /* Padding is the writer's courtesy, not a rule of the format. */
  float d[2] = {3, 4};
  const char *p = st_fixture("u.safetensors", one_f32, 0, d, 8);
  hs_safetensors st;
  io_assert_ok(hs_st_open(io_ctx, p, &st));
  double x[2];
  io_assert_ok(hs_st_read_f64(io_ctx, &st, hs_st_find(&st, "a"), x));
  cr_assert_eq(x[1], 4.0);
  hs_st_close(&st);
}
