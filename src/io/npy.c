#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/npy.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io/npy.c assumes a little-endian host"
#endif

/* numpy itself refuses headers over 10000 bytes by default (max_header_size); a little more
 * room costs nothing and still stops a garbage length from driving an allocation. */
#define NPY_MAX_HEADER ((size_t)1 << 20)

static const char *const dtype_names[] = {"f4", "f8", "i4", "i8", "u1"};
static const size_t dtype_sizes[] = {4, 8, 4, 8, 1};

const char *hs_npy_dtype_name(hs_npy_dtype t) { return dtype_names[t]; }
size_t hs_npy_dtype_size(hs_npy_dtype t) { return dtype_sizes[t]; }

void hs_npy_shape_str(const hs_npy_shape *s, char *out, size_t outlen) {
  if (outlen == 0) return;
  if (s->ndim == 0) {
    snprintf(out, outlen, "()");
    return;
  }
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < s->ndim && used < outlen; i++) {
    int w = snprintf(out + used, outlen - used, i ? "x%zu" : "%zu", s->dim[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

void hs_npy_free(hs_npy_array *a) {
  if (!a) return;
  free(a->buf);
  memset(a, 0, sizeof *a);
}

/* ---- header parsing ------------------------------------------------------------------- */

/* A cursor over the header text, which is a Python dict literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * numpy writes exactly that form; the parser accepts the same grammar with either quote
 * style and free whitespace, and nothing else. */
typedef struct {
  const char *s;
  size_t n, i;
  const char *err; /* static description of the first problem */
} cursor;

static void skip_ws(cursor *c) {
  while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                         c->s[c->i] == '\r'))
    c->i++;
}

static int peek(cursor *c) { return c->i < c->n ? (unsigned char)c->s[c->i] : -1; }

static int expect(cursor *c, char ch, const char *err) {
  skip_ws(c);
  if (peek(c) != ch) {
    c->err = err;
    return 0;
  }
  c->i++;
  return 1;
}

/* A quoted string without escapes (none of the three keys or valid descrs need any). */
static int parse_str(cursor *c, char *out, size_t outlen) {
  skip_ws(c);
  int q = peek(c);
  if (q != '\'' && q != '"') {
    c->err = "expected a quoted string";
    return 0;
  }
  c->i++;
  size_t k = 0;
  while (c->i < c->n && c->s[c->i] != q) {
    if (c->s[c->i] == '\\' || k + 1 >= outlen) {
      c->err = "unsupported string";
      return 0;
    }
    out[k++] = c->s[c->i++];
  }
  if (c->i >= c->n) {
    c->err = "unterminated string";
    return 0;
  }
  c->i++;
  out[k] = '\0';
  return 1;
}

static int parse_bool(cursor *c, int *v) {
  skip_ws(c);
  if (c->n - c->i >= 4 && memcmp(c->s + c->i, "True", 4) == 0) {
    c->i += 4;
    *v = 1;
    return 1;
  }
  if (c->n - c->i >= 5 && memcmp(c->s + c->i, "False", 5) == 0) {
    c->i += 5;
    *v = 0;
    return 1;
  }
  c->err = "fortran_order must be True or False";
  return 0;
}

static int parse_shape(cursor *c, hs_npy_shape *sh) {
  if (!expect(c, '(', "shape must be a tuple")) return 0;
  sh->ndim = 0;
  for (;;) {
    skip_ws(c);
    if (peek(c) == ')') {
      c->i++;
      return 1;
    }
    if (!isdigit(peek(c))) {
      c->err = "shape must be a tuple of non-negative integers";
      return 0;
    }
    if (sh->ndim == HS_NPY_MAX_DIMS) {
      c->err = "too many dimensions (at most 8)";
      return 0;
    }
    unsigned long long v = 0;
    while (isdigit(peek(c))) {
      unsigned d = (unsigned)(c->s[c->i++] - '0');
      if (v > (~0ULL - d) / 10) {
        c->err = "dimension too large";
        return 0;
      }
      v = v * 10 + d;
    }
    if (v > SIZE_MAX) {
      c->err = "dimension too large";
      return 0;
    }
    /* Python writes 3L on some old platforms. */
    if (peek(c) == 'L') c->i++;
    sh->dim[sh->ndim++] = (size_t)v;
    skip_ws(c);
    if (peek(c) == ',') {
      c->i++;
    } else if (peek(c) != ')') {
      c->err = "expected ',' or ')' in shape";
      return 0;
    }
  }
}

typedef struct {
  char descr[32];
  int fortran;
  hs_npy_shape shape;
} npy_header;

static int parse_header(cursor *c, npy_header *h) {
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  if (!expect(c, '{', "header is not a dict literal")) return 0;
  for (;;) {
    skip_ws(c);
    if (peek(c) == '}') {
      c->i++;
      break;
    }
    char key[32];
    if (!parse_str(c, key, sizeof key)) {
      c->err = "expected a quoted key";
      return 0;
    }
    if (!expect(c, ':', "expected ':' after a key")) return 0;
    int *seen;
    if (strcmp(key, "descr") == 0) {
      seen = &have_descr;
      skip_ws(c);
      if (peek(c) == '[') {
        c->err = "structured (record) dtypes are not supported";
        return 0;
      }
      if (!parse_str(c, h->descr, sizeof h->descr)) return 0;
    } else if (strcmp(key, "fortran_order") == 0) {
      seen = &have_fortran;
      if (!parse_bool(c, &h->fortran)) return 0;
    } else if (strcmp(key, "shape") == 0) {
      seen = &have_shape;
      if (!parse_shape(c, &h->shape)) return 0;
    } else {
      c->err = "unknown key (expected descr, fortran_order, shape)";
      return 0;
    }
    if (*seen) {
      c->err = "duplicate key";
      return 0;
    }
    *seen = 1;
    skip_ws(c);
    if (peek(c) == ',') {
      c->i++;
    } else if (peek(c) != '}') {
      c->err = "expected ',' or '}'";
      return 0;
    }
  }
  skip_ws(c);
  if (c->i != c->n) {
    c->err = "unexpected text after the dict";
    return 0;
  }
  if (!have_descr || !have_fortran || !have_shape) {
    c->err = !have_descr ? "missing key 'descr'"
             : !have_fortran ? "missing key 'fortran_order'"
                             : "missing key 'shape'";
    return 0;
  }
  return 1;
}

/* Maps a descr to a dtype, or explains the refusal in msg. */
static int map_descr(const char *d, hs_npy_dtype *t, char *msg, size_t msglen) {
  static const struct {
    const char *code;
    hs_npy_dtype t;
  } known[] = {{"f4", HS_NPY_F4}, {"f8", HS_NPY_F8}, {"i4", HS_NPY_I4},
               {"i8", HS_NPY_I8}, {"u1", HS_NPY_U1}};
  char order = d[0];
  const char *code = (order == '<' || order == '>' || order == '=' || order == '|') ? d + 1 : d;
  if (code == d) order = '=';
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
    if (strcmp(code, known[k].code) != 0) continue;
    int one_byte = known[k].t == HS_NPY_U1;
    if (order == '>' && !one_byte) {
      snprintf(msg, msglen, "big-endian dtype '%s' is not supported (save with .astype('<%s'))",
               d, code);
      return 0;
    }
    if (order == '|' && !one_byte) break;
    *t = known[k].t;
    return 1;
  }
  if (strchr(code, 'O'))
    snprintf(msg, msglen, "object arrays (dtype '%s') are not supported", d);
  else
    snprintf(msg, msglen, "unsupported dtype '%s' (expected <f4, <f8, <i4, <i8 or |u1)", d);
  return 0;
}

static unsigned read_le(const unsigned char *p, int nbytes) {
  unsigned v = 0;
  for (int k = nbytes - 1; k >= 0; k--) v = (v << 8) | p[k];
  return v;
}

hs_status hs_npy_parse(hs_context *ctx, const char *name, char *buf, size_t len,
                       hs_npy_array *out) {
  hs_status st = HS_OK;
  const unsigned char *u = (const unsigned char *)buf;
  memset(out, 0, sizeof *out);

  if (len < 10 || memcmp(u, "\x93NUMPY", 6) != 0) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: not a .npy file (bad magic)", name);
    goto cleanup;
  }
  int major = u[6], minor = u[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: unsupported .npy format version %d.%d", name, major,
                 minor);
    goto cleanup;
  }
  size_t pre = major == 1 ? 10 : 12;
  if (len < pre) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: truncated: file ends inside the header length", name);
    goto cleanup;
  }
  size_t hlen = read_le(u + 8, major == 1 ? 2 : 4);
  if (hlen > len - pre) {
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: truncated header: header length %zu but only %zu bytes follow", name,
                 hlen, len - pre);
    goto cleanup;
  }
  if (hlen > NPY_MAX_HEADER) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: header length %zu is implausibly large", name, hlen);
    goto cleanup;
  }

  npy_header h = {{0}, 0, {0, {0}}};
  cursor c = {buf + pre, hlen, 0, NULL};
  if (!parse_header(&c, &h)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: malformed header: %s (at header byte %zu)", name,
                 c.err, c.i);
    goto cleanup;
  }
  char why[256];
  if (!map_descr(h.descr, &out->dtype, why, sizeof why)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: %s", name, why);
    goto cleanup;
  }
  /* numpy flags Fortran order only for arrays that are not also C-contiguous, so a True
   * here always means a transposed layout. */
  if (h.fortran) {
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: Fortran-order arrays are not supported (save with np.ascontiguousarray)",
                 name);
    goto cleanup;
  }

  size_t isz = hs_npy_dtype_size(out->dtype), count = 1;
  for (int k = 0; k < h.shape.ndim; k++) {
    if (h.shape.dim[k] && count > SIZE_MAX / isz / h.shape.dim[k]) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape too large", name);
      goto cleanup;
    }
    count *= h.shape.dim[k];
  }
  size_t need = count * isz, have = len - pre - hlen;
  if (have != need) {
    char sh[200];
    hs_npy_shape_str(&h.shape, sh, sizeof sh);
    st = hs_fail(ctx, HS_E_INVALID, "%s: %s: header says %s %s (%zu bytes) but %zu bytes follow",
                 name, have < need ? "truncated" : "trailing data", sh,
                 hs_npy_dtype_name(out->dtype), need, have);
    goto cleanup;
  }
  out->shape = h.shape;
  out->count = count;
  out->data = u + pre + hlen;
  out->buf = buf;
  buf = NULL;

cleanup:
  free(buf);
  if (st != HS_OK) memset(out, 0, sizeof *out);
  return st;
}

hs_status hs_npy_read(hs_context *ctx, const char *path, hs_npy_array *out) {
  char *buf;
  size_t len;
  memset(out, 0, sizeof *out);
  hs_status st = hs_read_file(ctx, path, &buf, &len);
  if (st != HS_OK) return st;
  return hs_npy_parse(ctx, path, buf, len, out);
}

/* ---- conversion ----------------------------------------------------------------------- */

static void index_str(size_t flat, const hs_npy_shape *s, char *out, size_t outlen) {
  if (!s || s->ndim <= 1) {
    snprintf(out, outlen, "%zu", flat);
    return;
  }
  size_t idx[HS_NPY_MAX_DIMS];
  for (int k = s->ndim - 1; k >= 0; k--) {
    size_t d = s->dim[k] ? s->dim[k] : 1;
    idx[k] = flat % d;
    flat /= d;
  }
  size_t used = 0;
  for (int k = 0; k < s->ndim && used < outlen; k++) {
    int w = snprintf(out + used, outlen - used, k ? ", %zu" : "%zu", idx[k]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

hs_status hs_check_finite(hs_context *ctx, const char *name, const double *x, size_t n,
                          const hs_npy_shape *shape) {
  for (size_t i = 0; i < n; i++) {
    if (isfinite(x[i])) continue;
    char idx[200];
    index_str(i, shape, idx, sizeof idx);
    return hs_fail(ctx, HS_E_INVALID, "%s: element [%s] is %s (values must be finite)", name,
                   idx, isnan(x[i]) ? "nan" : x[i] > 0 ? "inf" : "-inf");
  }
  return HS_OK;
}

hs_status hs_npy_to_f64(hs_context *ctx, const char *name, const hs_npy_array *a, int flags,
                        double **data) {
  *data = NULL;
  double *x = hs_malloc(a->count * sizeof *x + 1);
  if (!x) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory for %zu values", name, a->count);
  const unsigned char *p = a->data;
  size_t n = a->count;
  switch (a->dtype) {
  case HS_NPY_F8:
    memcpy(x, p, n * 8);
    break;
  case HS_NPY_F4:
    for (size_t i = 0; i < n; i++) {
      float v;
      memcpy(&v, p + 4 * i, 4);
      x[i] = v;
    }
    break;
  case HS_NPY_I4:
    for (size_t i = 0; i < n; i++) {
      int32_t v;
      memcpy(&v, p + 4 * i, 4);
      x[i] = v;
    }
    break;
  case HS_NPY_I8:
    for (size_t i = 0; i < n; i++) {
      int64_t v;
      memcpy(&v, p + 8 * i, 8);
      x[i] = (double)v;
    }
    break;
  case HS_NPY_U1:
    for (size_t i = 0; i < n; i++) x[i] = p[i];
    break;
  }
  if ((flags & HS_NPY_FINITE) && (a->dtype == HS_NPY_F4 || a->dtype == HS_NPY_F8)) {
    hs_status st = hs_check_finite(ctx, name, x, n, &a->shape);
    if (st != HS_OK) {
      free(x);
      return st;
    }
  }
  *data = x;
  return HS_OK;
}

hs_status hs_npy_to_i32(hs_context *ctx, const char *name, const hs_npy_array *a,
                        int32_t **data) {
  *data = NULL;
  if (a->dtype == HS_NPY_F4 || a->dtype == HS_NPY_F8)
    return hs_fail(ctx, HS_E_INVALID, "%s: expected integer labels, got dtype %s", name,
                   hs_npy_dtype_name(a->dtype));
  int32_t *y = hs_malloc(a->count * sizeof *y + 1);
  if (!y) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory for %zu values", name, a->count);
  const unsigned char *p = a->data;
  for (size_t i = 0; i < a->count; i++) {
    if (a->dtype == HS_NPY_U1) {
      y[i] = p[i];
    } else if (a->dtype == HS_NPY_I4) {
      memcpy(&y[i], p + 4 * i, 4);
    } else {
      int64_t v;
      memcpy(&v, p + 8 * i, 8);
      if (v < INT32_MIN || v > INT32_MAX) {
        char idx[200];
        index_str(i, &a->shape, idx, sizeof idx);
        free(y);
        return hs_fail(ctx, HS_E_INVALID, "%s: element [%s] = %lld is out of the int32 range",
                       name, idx, (long long)v);
      }
      y[i] = (int32_t)v;
    }
  }
  *data = y;
  return HS_OK;
}

hs_status hs_npy_read_f64(hs_context *ctx, const char *path, int flags, double **data,
                          hs_npy_shape *shape) {
  hs_npy_array a;
  *data = NULL;
  hs_status st = hs_npy_read(ctx, path, &a);
  if (st == HS_OK) st = hs_npy_to_f64(ctx, path, &a, flags, data);
  if (st == HS_OK && shape) *shape = a.shape;
  hs_npy_free(&a);
  return st;
}

hs_status hs_npy_read_i32(hs_context *ctx, const char *path, int32_t **data,
                          hs_npy_shape *shape) {
  hs_npy_array a;
  *data = NULL;
  hs_status st = hs_npy_read(ctx, path, &a);
  if (st == HS_OK) st = hs_npy_to_i32(ctx, path, &a, data);
  if (st == HS_OK && shape) *shape = a.shape;
  hs_npy_free(&a);
  return st;
}

/* ---- writing -------------------------------------------------------------------------- */

/* Builds the preamble and header as numpy does: version 1.0 (2.0 if the header would not
 * fit in 16 bits), padded with spaces and a final newline so that the data start on a
 * 64-byte boundary. Returns the total length or 0 if it does not fit. */
static size_t make_header(hs_npy_dtype dtype, int ndim, const size_t *dims, char *out,
                          size_t outlen) {
  char dict[512];
  int w = snprintf(dict, sizeof dict, "{'descr': '%s%s', 'fortran_order': False, 'shape': (",
                   dtype == HS_NPY_U1 ? "|" : "<", hs_npy_dtype_name(dtype));
  for (int k = 0; k < ndim; k++)
    w += snprintf(dict + w, sizeof dict - (size_t)w, k ? ", %zu" : "%zu", dims[k]);
  w += snprintf(dict + w, sizeof dict - (size_t)w, "%s), }", ndim == 1 ? "," : "");
  size_t dlen = (size_t)w;
  size_t pre = dlen + 1 + 10 > 65535 ? 12 : 10;
  size_t total = (pre + dlen + 1 + 63) / 64 * 64;
  if (total > outlen) return 0;
  size_t hlen = total - pre;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = pre == 10 ? 1 : 2;
  out[7] = 0;
  for (size_t k = 0; k < pre - 8; k++) out[8 + k] = (char)((hlen >> (8 * k)) & 0xff);
  memcpy(out + pre, dict, dlen);
  memset(out + pre + dlen, ' ', hlen - dlen - 1);
  out[total - 1] = '\n';
  return total;
}

static hs_status write_common(hs_context *ctx, const char *path, hs_npy_dtype dtype,
                              const void *data, const double *f64_as_f32, int ndim,
                              const size_t *dims) {
  if (ndim < 0 || ndim > HS_NPY_MAX_DIMS)
    return hs_fail(ctx, HS_E_INVALID, "%s: cannot write a %d-dimensional array", path, ndim);
  size_t count = 1;
  for (int k = 0; k < ndim; k++) count *= dims[k];
  char header[1024];
  size_t hl = make_header(dtype, ndim, dims, header, sizeof header);
  if (!hl) return hs_fail(ctx, HS_E_INTERNAL, "%s: .npy header does not fit", path);

  hs_atomic_file f;
  hs_status st = hs_atomic_begin(ctx, path, &f);
  if (st != HS_OK) return st;
  HS_TRY(hs_atomic_write(ctx, &f, header, hl));
  if (f64_as_f32) {
    float chunk[4096];
    for (size_t i = 0; i < count; i += 4096) {
      size_t m = count - i < 4096 ? count - i : 4096;
      for (size_t j = 0; j < m; j++) chunk[j] = (float)f64_as_f32[i + j];
      HS_TRY(hs_atomic_write(ctx, &f, chunk, m * sizeof(float)));
    }
  } else {
    HS_TRY(hs_atomic_write(ctx, &f, data, count * hs_npy_dtype_size(dtype)));
  }
  return hs_atomic_commit(ctx, &f);

cleanup:
  hs_atomic_abort(&f);
  return st;
}

hs_status hs_npy_write(hs_context *ctx, const char *path, hs_npy_dtype dtype, const void *data,
                       int ndim, const size_t *dims) {
  return write_common(ctx, path, dtype, data, NULL, ndim, dims);
}

hs_status hs_npy_write_f64(hs_context *ctx, const char *path, hs_dtype file_dtype,
                           const double *data, int ndim, const size_t *dims) {
  if (file_dtype == HS_F32) return write_common(ctx, path, HS_NPY_F4, NULL, data, ndim, dims);
  return write_common(ctx, path, HS_NPY_F8, data, NULL, ndim, dims);
}
