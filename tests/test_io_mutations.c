/* The parsers of untrusted files against damaged input: thousands of deterministic
 * mutations (byte changes, truncations, insertions) of valid .npy, safetensors and spec
 * files must give either success or HS_E_INVALID with a message naming the file — never a
 * crash (run under ASan/UBSan to check memory safety). */
#include "io_fixture.h"

#include <stdint.h>

#include "core/rng.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "io/spec.h"

TestSuite(io_mutations, .init = io_setup, .fini = io_teardown);

typedef hs_status (*parse_fn)(char *buf, size_t len);

static hs_status parse_npy(char *buf, size_t len) {
  hs_npy_array a;
  hs_status st = hs_npy_parse(io_ctx, "m.npy", buf, len, &a);
  if (st == HS_OK) {
    double *x;
    st = hs_npy_to_f64(io_ctx, "m.npy", &a, HS_NPY_FINITE, &x);
    if (st == HS_OK) free(x);
    if (st == HS_E_INVALID) st = HS_OK; /* NaN from a mutated byte */
    hs_npy_free(&a);
  }
  return st;
}

static hs_status parse_st(char *buf, size_t len) {
  hs_safetensors s;
  hs_status st = hs_st_parse(io_ctx, "m.safetensors", buf, len, &s);
  if (st == HS_OK) {
    for (size_t i = 0; i < s.n; i++) {
      double *x = malloc(s.tensors[i].count * sizeof *x + 1);
      hs_st_read_f64(io_ctx, &s, &s.tensors[i], x);
      free(x);
    }
    hs_st_close(&s);
  }
  return st;
}

static hs_status parse_spec(char *buf, size_t len) {
  hs_model_spec s;
  hs_status st = hs_spec_parse(io_ctx, "m.json", buf, len, &s);
  free(buf);
  return st;
}

static void mutate_all(const unsigned char *orig, size_t len, parse_fn parse, const char *name,
                       uint64_t seed) {
  for (uint64_t trial = 0; trial < 3000; trial++) {
    size_t cap = len + 16;
    unsigned char *b = malloc(cap);
    memcpy(b, orig, len);
    size_t n = len;
    uint64_t r = hs_rng_bits(seed, 1, trial);
    int kind = (int)(r % 4);
    size_t pos = (size_t)((r >> 8) % len);
    if (kind == 0) {
      b[pos] = (unsigned char)(r >> 40); /* one byte */
    } else if (kind == 1) {
      n = pos; /* truncation */
    } else if (kind == 2) {
      for (int k = 0; k < 4 && pos + (size_t)k < n; k++) b[pos + k] ^= (unsigned char)(r >> (24 + 8 * k));
    } else {
      memmove(b + pos + 1, b + pos, n - pos); /* insertion */
      b[pos] = (unsigned char)(r >> 40);
      n++;
    }
    hs_status st = parse((char *)b, n); /* takes ownership of b */
    cr_assert(st == HS_OK || st == HS_E_INVALID, "trial %llu: status %d: %s",
              (unsigned long long)trial, (int)st, hs_last_error(io_ctx));
    if (st == HS_E_INVALID)
      cr_assert(strncmp(hs_last_error(io_ctx), name, strlen(name)) == 0, "trial %llu: %s",
                (unsigned long long)trial, hs_last_error(io_ctx));
  }
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  cr_assert(fp);
  fseek(fp, 0, SEEK_END);
  *len = (size_t)ftell(fp);
  rewind(fp);
  unsigned char *b = malloc(*len + 1);
  cr_assert_eq(fread(b, 1, *len, fp), *len);
  fclose(fp);
  return b;
}

Test(io_mutations, npy) {
  double v[6] = {1, 2, 3, 4, 5, 6};
  size_t dims[2] = {2, 3};
  const char *p = io_path("a.npy");
  io_assert_ok(hs_npy_write_f64(io_ctx, p, HS_F64, v, 2, dims));
  size_t len;
  unsigned char *b = slurp(p, &len);
  mutate_all(b, len, parse_npy, "m.npy", 1);
  free(b);
}

Test(io_mutations, safetensors) {
  double w[6] = {1, 2, 3, 4, 5, 6}, c[2] = {7, 8};
  hs_st_entry e[2] = {{.name = "w", .ndim = 2, .shape = {2, 3}, .data = w},
                      {.name = "c", .ndim = 1, .shape = {2}, .data = c}};
  const char *k[1] = {"format"}, *val[1] = {"pt"};
  const char *p = io_path("a.safetensors");
  io_assert_ok(hs_st_write(io_ctx, p, HS_F32, e, 2, k, val, 1));
  size_t len;
  unsigned char *b = slurp(p, &len);
  mutate_all(b, len, parse_st, "m.safetensors", 2);
  free(b);
}

Test(io_mutations, spec) {
  static const char text[] =
      "{\"input_dim\": 784, \"hidden\": [128, 64], \"output_dim\": 10, \"activation\": \"tanh\", "
      "\"batchnorm\": \"batch\", \"residual\": true, \"bias\": false, \"loss\": \"mse\", "
      "\"weight_decay\": 0.001}";
  mutate_all((const unsigned char *)text, sizeof text - 1, parse_spec, "m.json", 3);
}
