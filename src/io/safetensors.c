#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "io/spec.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io/safetensors.c assumes a little-endian host"
#endif

/* The reference implementation's limit on the JSON header. */
#define ST_MAX_HEADER ((size_t)100000000)

static const struct {
  const char *name;
  hs_st_dtype t;
  size_t size;
} dtypes[] = {
    {"F64", HS_ST_F64, 8},       {"F32", HS_ST_F32, 4},       {"F16", HS_ST_F16, 2},
    {"BF16", HS_ST_BF16, 2},     {"I64", HS_ST_I64, 8},       {"I32", HS_ST_I32, 4},
    {"I16", HS_ST_I16, 2},       {"I8", HS_ST_I8, 1},         {"U8", HS_ST_U8, 1},
    {"BOOL", HS_ST_BOOL, 1},     {"U16", HS_ST_OTHER, 2},     {"U32", HS_ST_OTHER, 4},
    {"U64", HS_ST_OTHER, 8},     {"F8_E4M3", HS_ST_OTHER, 1}, {"F8_E5M2", HS_ST_OTHER, 1},
};
enum { N_DTYPES = sizeof dtypes / sizeof dtypes[0] };

void hs_st_close(hs_safetensors *st) {
  if (!st) return;
  for (size_t i = 0; i < st->n; i++) free(st->tensors[i].name);
  for (size_t i = 0; i < st->n_meta; i++) {
    free(st->meta_keys[i]);
    free(st->meta_values[i]);
  }
  free(st->tensors);
  free(st->meta_keys);
  free(st->meta_values);
  free(st->buf);
  free(st->path);
  memset(st, 0, sizeof *st);
}

/* A JSON number that is an integer in [0, 2^53] (exactly representable), or 0. */
static int as_size(const cJSON *v, size_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return 0;
  *out = (size_t)d;
  return 1;
}

static void shape_str(const hs_st_tensor *t, char *out, size_t outlen) {
  size_t used = (size_t)snprintf(out, outlen, "[");
  for (int k = 0; k < t->ndim && used < outlen; k++)
    used += (size_t)snprintf(out + used, outlen - used, k ? ", %zu" : "%zu", t->shape[k]);
  if (used < outlen) snprintf(out + used, outlen - used, "]");
}

/* Fills t from the header entry v, or returns a static reason. */
static const char *parse_tensor(const cJSON *v, hs_st_tensor *t, size_t *elsize) {
  if (!cJSON_IsObject(v)) return "expected an object with dtype, shape and data_offsets";
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
  if (!cJSON_IsString(dt)) return "missing or non-string 'dtype'";
  if (!cJSON_IsArray(sh)) return "missing or non-array 'shape'";
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
    return "'data_offsets' must be an array [begin, end]";
  int k;
  for (k = 0; k < N_DTYPES; k++)
    if (strcmp(dtypes[k].name, dt->valuestring) == 0) break;
  if (k == N_DTYPES) return "unknown dtype";
  t->dtype = dtypes[k].t;
  snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dtypes[k].name);
  *elsize = dtypes[k].size;
  if (cJSON_GetArraySize(sh) > HS_ST_MAX_DIMS) return "too many dimensions (at most 8)";
  t->ndim = 0;
  t->count = 1;
  for (const cJSON *d = sh->child; d; d = d->next) {
    size_t n;
    if (!as_size(d, &n)) return "'shape' must hold non-negative integers";
    if (n && t->count > SIZE_MAX / 8 / n) return "shape too large";
    t->shape[t->ndim++] = n;
    t->count *= n;
  }
  if (!as_size(off->child, &t->begin) || !as_size(off->child->next, &t->end))
    return "'data_offsets' must hold non-negative integers";
  return NULL;
}

static int by_begin(const void *a, const void *b) {
  const hs_st_tensor *x = *(const hs_st_tensor *const *)a, *y = *(const hs_st_tensor *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

hs_status hs_st_parse(hs_context *ctx, const char *name, char *buf, size_t len,
                      hs_safetensors *out) {
  hs_status st = HS_OK;
  cJSON *root = NULL;
  const hs_st_tensor **order = NULL;
  memset(out, 0, sizeof *out);
  out->buf = buf;
  out->len = len;
  out->path = hs_strdup(name);
  if (!out->path) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", name);
    goto cleanup;
  }
  const unsigned char *u = (const unsigned char *)buf;
  if (len < 8) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: not a safetensors file (%zu bytes, no header length)",
                 name, len);
    goto cleanup;
  }
  uint64_t hlen = 0;
  for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | u[k];
  if (hlen > len - 8) {
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: truncated header: header length %llu but only %zu bytes follow", name,
                 (unsigned long long)hlen, len - 8);
    goto cleanup;
  }
  if (hlen > ST_MAX_HEADER) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: header length %llu exceeds the limit of %zu bytes",
                 name, (unsigned long long)hlen, ST_MAX_HEADER);
    goto cleanup;
  }
  const char *htext = buf + 8;
  size_t hl = (size_t)hlen;
  if (hl == 0 || htext[0] != '{') {
    st = hs_fail(ctx, HS_E_INVALID, "%s: not a safetensors file (header does not start with '{')",
                 name);
    goto cleanup;
  }
  const char *end = NULL;
  hs_json_oom_clear();
  root = cJSON_ParseWithLengthOpts(htext, hl, &end, 0);
  if (!root && hs_json_oom()) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory parsing the header", name);
    goto cleanup;
  }
  if (!root) {
    char why[96];
    hs_json_error_str(htext, hl, end, why, sizeof why);
    st = hs_fail(ctx, HS_E_INVALID, "%s: header: %s", name, why);
    goto cleanup;
  }
  for (size_t k = (size_t)(end - htext); k < hl; k++) {
    if (htext[k] != ' ' && htext[k] != '\n' && htext[k] != '\t' && htext[k] != '\r') {
      st = hs_fail(ctx, HS_E_INVALID, "%s: header: text after the JSON object at byte %zu", name,
                   8 + k);
      goto cleanup;
    }
  }
  if (!cJSON_IsObject(root)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: header is not a JSON object", name);
    goto cleanup;
  }
  out->data = u + 8 + hl;
  size_t data_len = len - 8 - hl;

  size_t n_items = (size_t)cJSON_GetArraySize(root);
  out->tensors = hs_calloc(n_items + 1, sizeof *out->tensors);
  size_t *elsize = hs_calloc(n_items + 1, sizeof *elsize);
  order = hs_calloc(n_items + 1, sizeof *order);
  if (!out->tensors || !elsize || !order) {
    free(elsize);
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", name);
    goto cleanup;
  }
  for (const cJSON *v = root->child; v; v = v->next) {
    if (strcmp(v->string, "__metadata__") == 0) {
      if (out->meta_keys) {
        st = hs_fail(ctx, HS_E_INVALID, "%s: header: '__metadata__' given twice", name);
        break;
      }
      int ok = cJSON_IsObject(v);
      size_t nm = ok ? (size_t)cJSON_GetArraySize(v) : 0;
      for (const cJSON *m = ok ? v->child : NULL; m && ok; m = m->next) ok = cJSON_IsString(m);
      if (!ok) {
        st = hs_fail(ctx, HS_E_INVALID,
                     "%s: header: '__metadata__' must be an object of string values", name);
        break;
      }
      out->meta_keys = hs_calloc(nm + 1, sizeof *out->meta_keys);
      out->meta_values = hs_calloc(nm + 1, sizeof *out->meta_values);
      if (!out->meta_keys || !out->meta_values) {
        st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", name);
        break;
      }
      for (const cJSON *m = v->child; m; m = m->next) {
        out->meta_keys[out->n_meta] = hs_strdup(m->string);
        out->meta_values[out->n_meta] = hs_strdup(m->valuestring);
        out->n_meta++;
        if (!out->meta_keys[out->n_meta - 1] || !out->meta_values[out->n_meta - 1]) {
          st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", name);
          break;
        }
      }
      if (st != HS_OK) break;
      continue;
    }
    if (hs_st_find(out, v->string)) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s' appears twice in the header", name,
                   v->string);
      break;
    }
    hs_st_tensor *t = &out->tensors[out->n];
    const char *why = parse_tensor(v, t, &elsize[out->n]);
    if (why) {
      const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
      if (strcmp(why, "unknown dtype") == 0)
        st = hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s': unknown dtype '%s'", name, v->string,
                     dt->valuestring);
      else
        st = hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s': %s", name, v->string, why);
      break;
    }
    t->name = hs_strdup(v->string);
    if (!t->name) {
      st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", name);
      break;
    }
    out->n++;
    char sh[128];
    shape_str(t, sh, sizeof sh);
    if (t->begin > t->end || t->end > data_len) {
      st = hs_fail(ctx, HS_E_INVALID,
                   "%s: tensor '%s': data_offsets [%zu, %zu] out of range (data section is %zu "
                   "bytes)",
                   name, t->name, t->begin, t->end, data_len);
      break;
    }
    if (t->end - t->begin != t->count * elsize[out->n - 1]) {
      st = hs_fail(ctx, HS_E_INVALID,
                   "%s: tensor '%s': shape %s of %s needs %zu bytes but data_offsets [%zu, %zu] "
                   "span %zu",
                   name, t->name, sh, t->dtype_name, t->count * elsize[out->n - 1], t->begin,
                   t->end, t->end - t->begin);
      break;
    }
  }
  free(elsize);
  if (st != HS_OK) goto cleanup;

  /* The reference implementation requires the byte ranges, in order, to tile the data
   * section exactly: no overlap (two tensors sharing bytes) and no hole (hidden bytes). */
  for (size_t i = 0; i < out->n; i++) order[i] = &out->tensors[i];
  qsort(order, out->n, sizeof *order, by_begin);
  size_t pos = 0;
  for (size_t i = 0; i < out->n; i++) {
    if (order[i]->begin < pos) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s' [%zu, %zu] overlaps tensor '%s' [%zu, %zu]",
                   name, order[i]->name, order[i]->begin, order[i]->end, order[i - 1]->name,
                   order[i - 1]->begin, order[i - 1]->end);
      goto cleanup;
    }
    if (order[i]->begin > pos) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: %zu unused bytes before tensor '%s' at offset %zu",
                   name, order[i]->begin - pos, order[i]->name, order[i]->begin);
      goto cleanup;
    }
    pos = order[i]->end;
  }
  if (pos != data_len) {
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: the tensors cover %zu bytes but the data section has %zu bytes", name, pos,
                 data_len);
    goto cleanup;
  }

cleanup:
  free(order);
  cJSON_Delete(root);
  if (st != HS_OK) hs_st_close(out);
  return st;
}

hs_status hs_st_open(hs_context *ctx, const char *path, hs_safetensors *out) {
  char *buf;
  size_t len;
  memset(out, 0, sizeof *out);
  hs_status st = hs_read_file(ctx, path, &buf, &len);
  if (st != HS_OK) return st;
  return hs_st_parse(ctx, path, buf, len, out);
}

const hs_st_tensor *hs_st_find(const hs_safetensors *st, const char *name) {
  for (size_t i = 0; i < st->n; i++)
    if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
  return NULL;
}

const char *hs_st_meta(const hs_safetensors *st, const char *key) {
  for (size_t i = 0; i < st->n_meta; i++)
    if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
  return NULL;
}

static double half_to_double(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0    ? ldexp(m, -24)
             : e == 31 ? (m ? NAN : INFINITY)
                       : ldexp(m | 0x400, e - 25);
  return (h & 0x8000) ? -v : v;
}

hs_status hs_st_read_f64(hs_context *ctx, const hs_safetensors *st, const hs_st_tensor *t,
                         double *out) {
  const unsigned char *p = st->data + t->begin;
  size_t n = t->count;
#define CONVERT(type)                                                                      \
  for (size_t i = 0; i < n; i++) {                                                         \
    type v_;                                                                               \
    memcpy(&v_, p + i * sizeof(type), sizeof(type));                                       \
    out[i] = (double)v_;                                                                   \
  }
  switch (t->dtype) {
  case HS_ST_F64: memcpy(out, p, n * 8); break;
  case HS_ST_F32: CONVERT(float); break;
  case HS_ST_I64: CONVERT(int64_t); break;
  case HS_ST_I32: CONVERT(int32_t); break;
  case HS_ST_I16: CONVERT(int16_t); break;
  case HS_ST_I8: CONVERT(int8_t); break;
  case HS_ST_U8: CONVERT(uint8_t); break;
  case HS_ST_BOOL:
    for (size_t i = 0; i < n; i++) out[i] = p[i] != 0;
    break;
  case HS_ST_F16:
    for (size_t i = 0; i < n; i++) out[i] = half_to_double((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    break;
  case HS_ST_BF16:
    for (size_t i = 0; i < n; i++) {
      uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
      float f;
      memcpy(&f, &bits, 4);
      out[i] = f;
    }
    break;
  case HS_ST_OTHER:
    return hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s': dtype %s cannot be converted", st->path,
                   t->name, t->dtype_name);
  }
#undef CONVERT
  return HS_OK;
}

hs_status hs_st_get_f64(hs_context *ctx, const hs_safetensors *st, const char *name,
                        const hs_st_tensor **t, double **data) {
  *data = NULL;
  const hs_st_tensor *x = hs_st_find(st, name);
  if (t) *t = x;
  if (!x) return hs_fail(ctx, HS_E_INVALID, "%s: no tensor '%s'", st->path, name);
  double *d = hs_malloc(x->count * sizeof *d + 1);
  if (!d) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory for tensor '%s'", st->path, name);
  hs_status s = hs_st_read_f64(ctx, st, x, d);
  if (s != HS_OK) {
    free(d);
    return s;
  }
  *data = d;
  return HS_OK;
}

/* ---- writing -------------------------------------------------------------------------- */

typedef struct {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 1024);
    while (cap < b->len + n + 1) cap *= 2;
    char *p = hs_realloc(b->s, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* pre, then v in decimal, then post (literal formats only: no format string is built) */
static void sb_zu(sbuf *b, const char *pre, size_t v, const char *post) {
  char tmp[32];
  int w = snprintf(tmp, sizeof tmp, "%zu", v);
  sb_str(b, pre);
  sb_put(b, tmp, (size_t)w);
  sb_str(b, post);
}

/* A JSON string literal; bytes >= 0x80 pass through (names are UTF-8). */
static void sb_json_str(sbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sb_put(b, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      sb_put(b, e, 6);
    } else {
      sb_put(b, (const char *)&c, 1);
    }
  }
  sb_put(b, "\"", 1);
}

hs_status hs_st_write(hs_context *ctx, const char *path, hs_dtype file_dtype,
                      const hs_st_entry *tensors, size_t n, const char *const *meta_keys,
                      const char *const *meta_values, size_t n_meta) {
  hs_status st = HS_OK;
  sbuf h = {0};
  hs_atomic_file f = {0};
  size_t es = file_dtype == HS_F32 ? 4 : 8;
  size_t offset = 0;

  sb_str(&h, "{");
  if (n_meta) {
    sb_str(&h, "\"__metadata__\":{");
    for (size_t i = 0; i < n_meta; i++) {
      if (i) sb_str(&h, ",");
      sb_json_str(&h, meta_keys[i]);
      sb_str(&h, ":");
      sb_json_str(&h, meta_values[i]);
    }
    sb_str(&h, "}");
  }
  for (size_t i = 0; i < n; i++) {
    const hs_st_entry *t = &tensors[i];
    if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: tensor %zu has an invalid name", path, i);
      goto cleanup;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(tensors[j].name, t->name) == 0) {
        st = hs_fail(ctx, HS_E_INVALID, "%s: tensor name '%s' given twice", path, t->name);
        goto cleanup;
      }
    if (t->ndim < 0 || t->ndim > HS_ST_MAX_DIMS) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: tensor '%s': %d dimensions", path, t->name, t->ndim);
      goto cleanup;
    }
    size_t count = 1;
    for (int k = 0; k < t->ndim; k++) count *= t->shape[k];
    if (n_meta || i) sb_str(&h, ",");
    sb_json_str(&h, t->name);
    sb_str(&h, file_dtype == HS_F32 ? ":{\"dtype\":\"F32\",\"shape\":[" : ":{\"dtype\":\"F64\",\"shape\":[");
    for (int k = 0; k < t->ndim; k++) sb_zu(&h, k ? "," : "", t->shape[k], "");
    sb_zu(&h, "],\"data_offsets\":[", offset, ",");
    offset += count * es;
    sb_zu(&h, "", offset, "]}");
  }
  sb_str(&h, "}");
  /* The data section starts 8-byte aligned, so every f64 tensor in it is aligned. */
  while (!h.oom && h.len % 8) sb_str(&h, " "); /* sb_put does nothing once out of memory */
  if (h.oom) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory building the header", path);
    goto cleanup;
  }

  unsigned char len8[8];
  for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
  HS_TRY(hs_atomic_begin(ctx, path, &f));
  HS_TRY(hs_atomic_write(ctx, &f, len8, 8));
  HS_TRY(hs_atomic_write(ctx, &f, h.s, h.len));
  for (size_t i = 0; i < n; i++) {
    const hs_st_entry *t = &tensors[i];
    size_t count = 1;
    for (int k = 0; k < t->ndim; k++) count *= t->shape[k];
    if (file_dtype == HS_F64) {
      HS_TRY(hs_atomic_write(ctx, &f, t->data, count * 8));
      continue;
    }
    float chunk[4096];
    for (size_t j = 0; j < count; j += 4096) {
      size_t m = count - j < 4096 ? count - j : 4096;
      for (size_t q = 0; q < m; q++) chunk[q] = (float)t->data[j + q];
      HS_TRY(hs_atomic_write(ctx, &f, chunk, m * 4));
    }
  }
  st = hs_atomic_commit(ctx, &f);

cleanup:
  if (st != HS_OK) hs_atomic_abort(&f);
  free(h.s);
  return st;
}
