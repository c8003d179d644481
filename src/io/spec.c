#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "core/sbuf.h"
#include "io/file.h"
#include "io/spec.h"

/* Spec files are a few hundred bytes; anything much bigger is the wrong file. */
#define SPEC_MAX_BYTES ((size_t)1 << 20)

static const char *const act_names[] = {"linear", "relu", "tanh"};
static const char *const bn_names[] = {"none", "batch", "running"};
static const char *const loss_names[] = {"mse", "cross_entropy"};

hs_model_spec hs_spec_defaults(void) {
  hs_model_spec s;
  memset(&s, 0, sizeof s);
  s.input_dim = 0; /* required: 0 fails validation until set */
  s.output_dim = 0;
  s.n_hidden = 0;
  s.activation = HS_ACT_RELU;
  s.batchnorm = HS_BN_NONE;
  s.residual = 0;
  s.bias = 1;
  s.loss = HS_LOSS_CROSS_ENTROPY;
  s.weight_decay = 0.0;
  return s;
}

/* True when the text ends inside a string or with brackets still open. */
static int ends_open(const char *text, size_t len) {
  long depth = 0;
  int in_str = 0;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return in_str || depth > 0;
}

void hs_json_error_str(const char *text, size_t len, const char *where, char *out,
                       size_t outlen) {
  size_t pos = (where && where >= text && where <= text + len) ? (size_t)(where - text) : len;
  size_t last = len; /* length without trailing blanks */
  while (last > 0 && (text[last - 1] == ' ' || text[last - 1] == '\t' || text[last - 1] == '\r' ||
                      text[last - 1] == '\n'))
    last--;
  if (last == 0) {
    snprintf(out, outlen, "empty JSON document");
    return;
  }
  /* cJSON points at the last character when it runs out of input, which is also where a
   * genuine error in the last character sits; an open bracket or string tells them apart. */
  if (pos + 1 >= last && ends_open(text, len)) {
    snprintf(out, outlen, "truncated JSON (unexpected end of input)");
    return;
  }
  if (pos > len) pos = len;
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  snprintf(out, outlen, "malformed JSON at line %zu, column %zu", line, col);
}

/* An integer in [lo, hi] stored as a JSON number; 0 if not. */
static int as_int(const cJSON *v, int lo, int hi, int *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= lo && d <= hi) || d != floor(d)) return 0;
  *out = (int)d;
  return 1;
}

static int lookup(const char *const *names, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}

static hs_status enum_field(hs_context *ctx, const char *name, const cJSON *v,
                            const char *const *names, int n, int *out) {
  char list[128] = "";
  for (int i = 0; i < n; i++) {
    size_t u = strlen(list);
    snprintf(list + u, sizeof list - u, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
             names[i]);
  }
  if (!cJSON_IsString(v))
    return hs_fail(ctx, HS_E_INVALID, "%s: field '%s': expected a string (%s)", name,
                   v->string, list);
  int k = lookup(names, n, v->valuestring);
  if (k < 0)
    return hs_fail(ctx, HS_E_INVALID, "%s: field '%s': unknown value '%s' (expected %s)", name,
                   v->string, v->valuestring, list);
  *out = k;
  return HS_OK;
}

static hs_status mlp_from_cjson(hs_context *ctx, const char *name, const cJSON *obj,
                                hs_model_spec *out) {
  static const char *const keys[] = {"input_dim", "hidden",   "output_dim", "activation",
                                     "batchnorm", "residual", "bias",       "loss",
                                     "weight_decay"};
  enum { NKEYS = sizeof keys / sizeof keys[0] };
  hs_model_spec s = hs_spec_defaults();
  int seen[NKEYS] = {0};
  hs_status st;

  if (!cJSON_IsObject(obj))
    return hs_fail(ctx, HS_E_INVALID, "%s: expected a JSON object with the model spec", name);
  for (const cJSON *v = obj->child; v; v = v->next) {
    int k = lookup(keys, NKEYS, v->string);
    if (k < 0)
      return hs_fail(ctx, HS_E_INVALID,
                     "%s: unknown field '%s' (known: input_dim, hidden, output_dim, activation, "
                     "batchnorm, residual, bias, loss, weight_decay)",
                     name, v->string);
    if (seen[k]) return hs_fail(ctx, HS_E_INVALID, "%s: field '%s' given twice", name, v->string);
    seen[k] = 1;
    int e;
    switch (k) {
    case 0:
    case 2:
      if (!as_int(v, 1, HS_SPEC_MAX_DIM, k == 0 ? &s.input_dim : &s.output_dim))
        return hs_fail(ctx, HS_E_INVALID, "%s: field '%s': expected a positive integer (at most %d)",
                       name, v->string, HS_SPEC_MAX_DIM);
      break;
    case 1: {
      int ok = cJSON_IsArray(v);
      int n = ok ? cJSON_GetArraySize(v) : 0;
      if (ok && n > HS_MAX_HIDDEN)
        return hs_fail(ctx, HS_E_INVALID, "%s: field 'hidden': %d layers, at most %d supported",
                       name, n, HS_MAX_HIDDEN);
      int i = 0;
      for (const cJSON *w = ok ? v->child : NULL; w && ok; w = w->next)
        ok = as_int(w, 1, HS_SPEC_MAX_DIM, &s.hidden[i++]);
      if (!ok)
        return hs_fail(ctx, HS_E_INVALID,
                       "%s: field 'hidden': expected an array of positive integers", name);
      s.n_hidden = n;
      break;
    }
    case 3:
      if ((st = enum_field(ctx, name, v, act_names, 3, &e)) != HS_OK) return st;
      s.activation = (hs_activation)e;
      break;
    case 4:
      if ((st = enum_field(ctx, name, v, bn_names, 3, &e)) != HS_OK) return st;
      s.batchnorm = (hs_batchnorm)e;
      break;
    case 5:
    case 6:
      if (!cJSON_IsBool(v))
        return hs_fail(ctx, HS_E_INVALID, "%s: field '%s': expected true or false", name,
                       v->string);
      *(k == 5 ? &s.residual : &s.bias) = cJSON_IsTrue(v);
      break;
    case 7:
      if ((st = enum_field(ctx, name, v, loss_names, 2, &e)) != HS_OK) return st;
      s.loss = (hs_loss)e;
      break;
    case 8:
      if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || !isfinite(v->valuedouble))
        return hs_fail(ctx, HS_E_INVALID, "%s: field 'weight_decay': expected a number >= 0",
                       name);
      s.weight_decay = v->valuedouble;
      break;
    }
  }
  if (!seen[0]) return hs_fail(ctx, HS_E_INVALID, "%s: missing required field 'input_dim'", name);
  if (!seen[2]) return hs_fail(ctx, HS_E_INVALID, "%s: missing required field 'output_dim'", name);

  /* Validation messages name the field but not the file; prefix it. */
  st = hs_spec_validate(ctx, &s);
  if (st != HS_OK) {
    char msg[sizeof ctx->errmsg];
    snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
    return hs_fail(ctx, st, "%s: %s", name, msg);
  }
  *out = s;
  return HS_OK;
}

/* ---- the layer form ---- */

static const char *const layer_names[] = {"linear", "conv2d", "batchnorm", "relu", "tanh", "identity",
                                          "avgpool", "maxpool", "global_avgpool", "flatten", "residual"};
enum { N_LAYER_TYPES = sizeof layer_names / sizeof layer_names[0] };

/* An int, or with `pair` also [a, b], each in [lo, hi]. */
static int as_pair(const cJSON *v, int pair, int lo, int hi, int out[2]) {
  if (cJSON_IsNumber(v)) {
    if (!as_int(v, lo, hi, &out[0])) return 0;
    out[1] = out[0];
    return 1;
  }
  if (!pair || !cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2) return 0;
  return as_int(cJSON_GetArrayItem(v, 0), lo, hi, &out[0]) && as_int(cJSON_GetArrayItem(v, 1), lo, hi, &out[1]);
}

typedef struct {
  hs_context *ctx;
  const char *file;
  hs_model_spec *s;
} lparser;

static hs_status parse_list(lparser *p, const cJSON *arr, const char *path, const char *field);

/* Keys a layer type accepts besides "type". */
static const char *allowed_keys(hs_layer_type t) {
  switch (t) {
  case HS_LAYER_LINEAR: return "out_features bias";
  case HS_LAYER_CONV2D: return "out_channels kernel stride padding bias";
  case HS_LAYER_BATCHNORM: return "eps";
  case HS_LAYER_AVGPOOL:
  case HS_LAYER_MAXPOOL: return "kernel stride";
  case HS_LAYER_RESIDUAL: return "body shortcut";
  default: return "";
  }
}

static int key_allowed(const char *list, const char *key) {
  size_t n = strlen(key);
  if (n == 0) return 0; /* strstr finds "" everywhere: the loop would never advance (found by fuzz_spec) */
  for (const char *q = list; (q = strstr(q, key)) != NULL; q += n)
    if ((q == list || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\0')) return 1;
  return 0;
}

static hs_status parse_layer(lparser *p, const cJSON *o, const char *path) {
  hs_context *ctx = p->ctx;
  const char *f = p->file;
  if (!cJSON_IsObject(o)) return hs_fail(ctx, HS_E_INVALID, "%s: %s: expected a layer object", f, path);
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
  if (!ty) return hs_fail(ctx, HS_E_INVALID, "%s: %s: missing field 'type'", f, path);
  if (!cJSON_IsString(ty)) return hs_fail(ctx, HS_E_INVALID, "%s: %s: field 'type': expected a string", f, path);
  int t = lookup(layer_names, N_LAYER_TYPES, ty->valuestring);
  if (t < 0)
    return hs_fail(ctx, HS_E_INVALID,
                   "%s: %s: unknown layer type '%s' (known: linear, conv2d, batchnorm, relu, tanh, identity, avgpool, "
                   "maxpool, global_avgpool, flatten, residual)", f, path, ty->valuestring);
  const char *keys = allowed_keys((hs_layer_type)t);
  for (const cJSON *v = o->child; v; v = v->next) {
    if (strcmp(v->string, "type") == 0) continue;
    if (!key_allowed(keys, v->string))
      return hs_fail(ctx, HS_E_INVALID, "%s: %s: unknown field '%s' for a %s layer%s%s%s", f, path, v->string,
                     layer_names[t], *keys ? " (known: " : "", keys, *keys ? ")" : "");
  }
  hs_model_spec *s = p->s;
  if (s->n_layers >= HS_MAX_LAYERS)
    return hs_fail(ctx, HS_E_INVALID, "%s: %s: more than %d layers (residual bodies included)", f, path, HS_MAX_LAYERS);
  int idx = s->n_layers++;
  hs_layer_spec *e = &s->layers[idx];
  memset(e, 0, sizeof *e);
  e->type = (hs_layer_type)t;
  e->bias = 1;
  e->eps = 1e-5;
  e->stride[0] = e->stride[1] = 1;
  const cJSON *v;
  if (t == HS_LAYER_LINEAR || t == HS_LAYER_CONV2D) {
    const char *k = t == HS_LAYER_LINEAR ? "out_features" : "out_channels";
    v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return hs_fail(ctx, HS_E_INVALID, "%s: %s: missing field '%s'", f, path, k);
    if (!as_int(v, 1, HS_SPEC_MAX_DIM, &e->out))
      return hs_fail(ctx, HS_E_INVALID, "%s: %s: field '%s': expected a positive integer", f, path, k);
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "bias"))) {
      if (!cJSON_IsBool(v)) return hs_fail(ctx, HS_E_INVALID, "%s: %s: field 'bias': expected true or false", f, path);
      e->bias = cJSON_IsTrue(v);
    }
  }
  if (t == HS_LAYER_CONV2D || t == HS_LAYER_AVGPOOL || t == HS_LAYER_MAXPOOL) {
    v = cJSON_GetObjectItemCaseSensitive(o, "kernel");
    if (!v) return hs_fail(ctx, HS_E_INVALID, "%s: %s: missing field 'kernel'", f, path);
    if (!as_pair(v, 1, 1, HS_SPEC_MAX_DIM, e->kernel))
      return hs_fail(ctx, HS_E_INVALID, "%s: %s: field 'kernel': expected a positive integer or [kh, kw]", f, path);
    if (t != HS_LAYER_CONV2D) e->stride[0] = e->kernel[0], e->stride[1] = e->kernel[1];
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "stride")) && !as_pair(v, 1, 1, HS_SPEC_MAX_DIM, e->stride))
      return hs_fail(ctx, HS_E_INVALID, "%s: %s: field 'stride': expected a positive integer or [sh, sw]", f, path);
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "padding")) && !as_pair(v, 1, -HS_SPEC_MAX_DIM, HS_SPEC_MAX_DIM, e->padding))
      return hs_fail(ctx, HS_E_INVALID, "%s: %s: field 'padding': expected an integer or [ph, pw]", f, path);
  }
  if (t == HS_LAYER_BATCHNORM && (v = cJSON_GetObjectItemCaseSensitive(o, "eps"))) {
    if (!cJSON_IsNumber(v)) return hs_fail(ctx, HS_E_INVALID, "%s: %s: field 'eps': expected a number", f, path);
    e->eps = v->valuedouble;
  }
  if (t == HS_LAYER_RESIDUAL) {
    char sub[160];
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body"), *sc = cJSON_GetObjectItemCaseSensitive(o, "shortcut");
    if (!body) return hs_fail(ctx, HS_E_INVALID, "%s: %s: missing field 'body'", f, path);
    if (snprintf(sub, sizeof sub, "%s.body", path) >= (int)sizeof sub)
      return hs_fail(ctx, HS_E_INVALID, "%s: %s: residual layers nested too deeply", f, path);
    hs_status st = parse_list(p, body, sub, "body");
    if (st != HS_OK) return st;
    s->layers[idx].body_len = s->n_layers - idx - 1;
    if (sc && !cJSON_IsNull(sc)) {
      if (snprintf(sub, sizeof sub, "%s.shortcut", path) >= (int)sizeof sub)
        return hs_fail(ctx, HS_E_INVALID, "%s: %s: residual layers nested too deeply", f, path);
      if ((st = parse_list(p, sc, sub, "shortcut")) != HS_OK) return st;
    }
    s->layers[idx].shortcut_len = s->n_layers - idx - 1 - s->layers[idx].body_len;
  }
  return HS_OK;
}

static hs_status parse_list(lparser *p, const cJSON *arr, const char *path, const char *field) {
  if (!cJSON_IsArray(arr))
    return hs_fail(p->ctx, HS_E_INVALID, "%s: %s: field '%s': expected an array of layers", p->file, path, field);
  int j = 0;
  for (const cJSON *o = arr->child; o; o = o->next, j++) {
    char sub[160];
    snprintf(sub, sizeof sub, "%s.%d", path, j);
    hs_status st = parse_layer(p, o, sub);
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

static hs_status layers_from_cjson(hs_context *ctx, const char *name, const cJSON *obj, hs_model_spec *out) {
  static const char *const keys[] = {"input_shape", "layers", "batchnorm_mode", "loss", "weight_decay"};
  hs_model_spec *s = hs_malloc(sizeof *s);
  if (!s) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  *s = hs_spec_defaults();
  s->form = HS_SPEC_LAYERS;
  s->batchnorm = HS_BN_BATCH;
  hs_status st = HS_OK;
  int e;
  for (const cJSON *v = obj->child; v && st == HS_OK; v = v->next) {
    int k = lookup(keys, 5, v->string);
    if (k < 0) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: unknown field '%s' for the layer form (known: input_shape, layers, "
                   "batchnorm_mode, loss, weight_decay; the MLP form's fields cannot be mixed in)", name, v->string);
    } else if (k == 0) {
      int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0, ok = n == 1 || n == 3;
      for (int i = 0; ok && i < n; i++) ok = as_int(cJSON_GetArrayItem(v, i), 1, HS_SPEC_MAX_DIM, &s->input_shape.dim[i]);
      if (!ok) st = hs_fail(ctx, HS_E_INVALID, "%s: field 'input_shape': expected [F] or [C, H, W] of positive integers", name);
      s->input_shape.rank = n;
    } else if (k == 2) {
      static const char *const modes[] = {"batch", "running"};
      if ((st = enum_field(ctx, name, v, modes, 2, &e)) == HS_OK) s->batchnorm = e ? HS_BN_RUNNING : HS_BN_BATCH;
    } else if (k == 3) {
      if ((st = enum_field(ctx, name, v, loss_names, 2, &e)) == HS_OK) s->loss = (hs_loss)e;
    } else if (k == 4) {
      if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || !isfinite(v->valuedouble))
        st = hs_fail(ctx, HS_E_INVALID, "%s: field 'weight_decay': expected a number >= 0", name);
      else s->weight_decay = v->valuedouble;
    }
  }
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(obj, "layers");
  if (st == HS_OK && !cJSON_GetObjectItemCaseSensitive(obj, "input_shape"))
    st = hs_fail(ctx, HS_E_INVALID, "%s: missing required field 'input_shape'", name);
  if (st == HS_OK) {
    lparser p = {ctx, name, s};
    st = parse_list(&p, layers, "layers", "layers");
  }
  if (st == HS_OK && (st = hs_spec_infer_dims(ctx, s)) != HS_OK) {
    char msg[sizeof ctx->errmsg];
    snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
    st = hs_fail(ctx, st, "%s: %s", name, msg);
  }
  if (st == HS_OK) *out = *s;
  free(s);
  return st;
}

hs_status hs_spec_from_cjson(hs_context *ctx, const char *name, const cJSON *obj, hs_model_spec *out) {
  if (!cJSON_IsObject(obj))
    return hs_fail(ctx, HS_E_INVALID, "%s: expected a JSON object with the model spec", name);
  if (cJSON_GetObjectItemCaseSensitive(obj, "layers")) return layers_from_cjson(ctx, name, obj, out);
  return mlp_from_cjson(ctx, name, obj, out);
}

hs_status hs_spec_parse(hs_context *ctx, const char *name, const char *json, size_t len,
                        hs_model_spec *out) {
  const char *end = NULL;
  hs_json_oom_clear();
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root && hs_json_oom()) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory parsing the JSON", name);
  if (!root) {
    char why[96];
    hs_json_error_str(json, len, end, why, sizeof why);
    return hs_fail(ctx, HS_E_INVALID, "%s: %s", name, why);
  }
  hs_status st;
  size_t k = (size_t)(end - json);
  while (k < len && (json[k] == ' ' || json[k] == '\t' || json[k] == '\n' || json[k] == '\r'))
    k++;
  if (k < len) {
    char why[96];
    hs_json_error_str(json, len, json + k, why, sizeof why);
    st = hs_fail(ctx, HS_E_INVALID, "%s: %s (text after the JSON object)", name, why);
  } else {
    st = hs_spec_from_cjson(ctx, name, root, out);
  }
  cJSON_Delete(root);
  return st;
}

hs_status hs_spec_load(hs_context *ctx, const char *path, hs_model_spec *out) {
  char *buf;
  size_t len;
  hs_status st = hs_read_file_max(ctx, path, SPEC_MAX_BYTES, &buf, &len);
  if (st != HS_OK) return st;
  st = hs_spec_parse(ctx, path, buf, len, out);
  free(buf);
  return st;
}

/* The shortest %g form that reads back as the same double, so equal specs print equally. */
static void fmt_double(double x, char *out, size_t outlen) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, outlen, "%.*g", prec, x);
    if (strtod(out, NULL) == x) return;
  }
}

static char *layers_to_json(const hs_model_spec *s);

char *hs_spec_to_json(const hs_model_spec *s) {
  if (s->form == HS_SPEC_LAYERS) return layers_to_json(s);
  /* Fixed key order and no whitespace: the text is the spec's identity in provenance. */
  size_t cap = 512 + (size_t)HS_MAX_HIDDEN * 12;
  char *out = hs_malloc(cap);
  if (!out) return NULL;
  int n = s->n_hidden < 0 ? 0 : s->n_hidden > HS_MAX_HIDDEN ? HS_MAX_HIDDEN : s->n_hidden;
  size_t w = (size_t)snprintf(out, cap, "{\"input_dim\":%d,\"hidden\":[", s->input_dim);
  for (int i = 0; i < n; i++)
    w += (size_t)snprintf(out + w, cap - w, i ? ",%d" : "%d", s->hidden[i]);
  char wd[32];
  fmt_double(s->weight_decay, wd, sizeof wd);
  unsigned a = (unsigned)s->activation, b = (unsigned)s->batchnorm, l = (unsigned)s->loss;
  snprintf(out + w, cap - w,
           "],\"output_dim\":%d,\"activation\":\"%s\",\"batchnorm\":\"%s\",\"residual\":%s,"
           "\"bias\":%s,\"loss\":\"%s\",\"weight_decay\":%s}",
           s->output_dim, a <= HS_ACT_TANH ? act_names[a] : "invalid",
           b <= HS_BN_RUNNING ? bn_names[b] : "invalid", s->residual ? "true" : "false",
           s->bias ? "true" : "false", l <= HS_LOSS_CROSS_ENTROPY ? loss_names[l] : "invalid",
           isfinite(s->weight_decay) ? wd : "null");
  return out;
}

/* ---- the layer form's canonical text: fixed key order, every default written out ---- */

static void jpair(hs_sbuf *b, const char *key, const int v[2]) {
  if (v[0] == v[1]) hs_sbuf_printf(b, ",\"%s\":%d", key, v[0]);
  else hs_sbuf_printf(b, ",\"%s\":[%d,%d]", key, v[0], v[1]);
}

/* Entries [first, first + count) as a JSON array; returns the index after them. */
static int jlayers(hs_sbuf *b, const hs_model_spec *s, int first, int count) {
  hs_sbuf_printf(b, "[");
  int i = first;
  for (int j = 0; i < first + count && i < s->n_layers; j++) {
    const hs_layer_spec *e = &s->layers[i];
    unsigned t = (unsigned)e->type;
    hs_sbuf_printf(b, "%s{\"type\":\"%s\"", j ? "," : "", t < N_LAYER_TYPES ? layer_names[t] : "invalid");
    switch (e->type) {
    case HS_LAYER_LINEAR: hs_sbuf_printf(b, ",\"out_features\":%d,\"bias\":%s", e->out, e->bias ? "true" : "false"); break;
    case HS_LAYER_CONV2D:
      hs_sbuf_printf(b, ",\"out_channels\":%d", e->out);
      jpair(b, "kernel", e->kernel);
      jpair(b, "stride", e->stride);
      jpair(b, "padding", e->padding);
      hs_sbuf_printf(b, ",\"bias\":%s", e->bias ? "true" : "false");
      break;
    case HS_LAYER_AVGPOOL:
    case HS_LAYER_MAXPOOL:
      jpair(b, "kernel", e->kernel);
      jpair(b, "stride", e->stride);
      break;
    case HS_LAYER_BATCHNORM: {
      char eps[32];
      fmt_double(e->eps, eps, sizeof eps);
      hs_sbuf_printf(b, ",\"eps\":%s", eps);
      break;
    }
    default: break;
    }
    if (e->type == HS_LAYER_RESIDUAL) {
      hs_sbuf_printf(b, ",\"body\":");
      int k = jlayers(b, s, i + 1, e->body_len);
      hs_sbuf_printf(b, ",\"shortcut\":");
      jlayers(b, s, k, e->shortcut_len);
      i += 1 + e->body_len + e->shortcut_len;
    } else {
      i++;
    }
    hs_sbuf_printf(b, "}");
  }
  hs_sbuf_printf(b, "]");
  return i;
}

static char *layers_to_json(const hs_model_spec *s) {
  hs_sbuf b = {0};
  const hs_shape *in = &s->input_shape;
  hs_sbuf_printf(&b, "{\"input_shape\":[");
  for (int i = 0; i < in->rank && i < 3; i++) hs_sbuf_printf(&b, i ? ",%d" : "%d", in->dim[i]);
  hs_sbuf_printf(&b, "],\"layers\":");
  jlayers(&b, s, 0, s->n_layers);
  char wd[32];
  fmt_double(s->weight_decay, wd, sizeof wd);
  unsigned l = (unsigned)s->loss;
  hs_sbuf_printf(&b, ",\"batchnorm_mode\":\"%s\",\"loss\":\"%s\",\"weight_decay\":%s}",
       s->batchnorm == HS_BN_RUNNING ? "running" : "batch", l <= HS_LOSS_CROSS_ENTROPY ? loss_names[l] : "invalid",
       isfinite(s->weight_decay) ? wd : "null");
  return hs_sbuf_finish(&b);
}
