#include "core/settings.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"

const hs_setting *hs_setting_find(const hs_setting *table, const char *name, int by_key) {
  for (const hs_setting *s = table; s->name || s->key; s++) {
    const char *n = by_key ? s->key : s->name;
    if (n && strcmp(n, name) == 0) return s;
  }
  return NULL;
}

int hs_setting_takes_value(const hs_setting *s) { return s->type != HS_SET_FLAG; }

static void store_uint(void *field, size_t size, uint64_t v) {
  switch (size) {
  case 1: *(uint8_t *)field = (uint8_t)v; break;
  case 2: *(uint16_t *)field = (uint16_t)v; break;
  case 4: *(uint32_t *)field = (uint32_t)v; break;
  default: *(uint64_t *)field = v; break;
  }
}

/* the largest value a field of `size` bytes holds; int fields (4 bytes) stop at INT32_MAX so that
 * a signed int never turns negative */
static double uint_limit(size_t size) {
  return size >= 8 ? 18446744073709551615.0 : size == 4 ? 2147483647.0 : (double)((1ull << (8 * size)) - 1);
}

static hs_status check_range(hs_context *ctx, const hs_setting *s, const char *label, double v) {
  int lo_bad = (s->bounds & HS_SET_MIN) && ((s->bounds & HS_SET_MIN_OPEN) ? !(v > s->min) : !(v >= s->min));
  int hi_bad = (s->bounds & HS_SET_MAX) && ((s->bounds & HS_SET_MAX_OPEN) ? !(v < s->max) : !(v <= s->max));
  if (!lo_bad && !hi_bad) return HS_OK;
  char lo[48] = "", hi[48] = "";
  if (s->bounds & HS_SET_MIN) snprintf(lo, sizeof lo, "%s %.17g", (s->bounds & HS_SET_MIN_OPEN) ? ">" : ">=", s->min);
  if (s->bounds & HS_SET_MAX) snprintf(hi, sizeof hi, "%s %.17g", (s->bounds & HS_SET_MAX_OPEN) ? "<" : "<=", s->max);
  return hs_fail(ctx, HS_E_INVALID, "%s %.17g: must be %s%s%s", label, v, lo, *lo && *hi ? " and " : "", hi);
}

/* one scalar (or one list element) from text into field */
static hs_status scalar_from_text(hs_context *ctx, const hs_setting *s, const char *label, const char *text, void *field) {
  char *end;
  switch (s->type) {
  case HS_SET_UINT: {
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || end == text || text[strspn(text, " \t")] == '-')
      return hs_fail(ctx, HS_E_INVALID, "%s '%s': expected a non-negative integer", label, text);
    if ((double)v > uint_limit(s->size)) return hs_fail(ctx, HS_E_INVALID, "%s '%s': too large", label, text);
    hs_status st = check_range(ctx, s, label, (double)v);
    if (st == HS_OK) store_uint(field, s->size, v);
    return st;
  }
  case HS_SET_DOUBLE: {
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || end == text || !isfinite(v))
      return hs_fail(ctx, HS_E_INVALID, "%s '%s': expected a finite number", label, text);
    hs_status st = check_range(ctx, s, label, v);
    if (st == HS_OK) *(double *)field = v;
    return st;
  }
  case HS_SET_STRING: *(const char **)field = text; return HS_OK;
  case HS_SET_STRBUF:
    if (strlen(text) >= s->size)
      return hs_fail(ctx, HS_E_INVALID, "%s '%.40s...': longer than %zu characters", label, text, s->size - 1);
    memcpy(field, text, strlen(text) + 1);
    return HS_OK;
  case HS_SET_CHOICE: {
    char names[256] = "";
    for (const hs_setting_choice *c = s->choices; c->name; c++) {
      if (strcmp(c->name, text) == 0) {
        *(int *)field = c->value;
        return HS_OK;
      }
      snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", c == s->choices ? "" : ", ", c->name);
    }
    return hs_fail(ctx, HS_E_INVALID, "%s '%s': expected one of %s", label, text, names);
  }
  case HS_SET_CUSTOM: return s->parse(ctx, s, label, text, field);
  case HS_SET_FLAG: break;
  }
  return hs_fail(ctx, HS_E_INTERNAL, "%s: setting of type %d takes no value", label, (int)s->type);
}

hs_status hs_setting_from_text_msg(char *msg, size_t msglen, const hs_setting *s, const char *label, const char *text,
                                   void *base) {
  hs_context sink; /* messages only: no backend, never passed beyond the parsers */
  memset(&sink, 0, sizeof sink);
  hs_status st = hs_setting_from_text(&sink, s, label, text, base);
  if (msglen) snprintf(msg, msglen, "%s", st == HS_OK ? "" : sink.errmsg);
  return st;
}

hs_status hs_setting_from_text(hs_context *ctx, const hs_setting *s, const char *label, const char *text, void *base) {
  char *field = (char *)base + s->offset;
  if (s->type == HS_SET_FLAG) { /* given: on; a value as JSON's true/false (presets by key) */
    int on = !text || strcmp(text, "true") == 0 || strcmp(text, "1") == 0;
    if (!on && strcmp(text, "false") != 0 && strcmp(text, "0") != 0)
      return hs_fail(ctx, HS_E_INVALID, "%s '%s': expected true or false", label, text);
    *(int *)field = on ? !s->flag_off : s->flag_off;
    return HS_OK;
  }
  if (!s->list_max) return scalar_from_text(ctx, s, label, text, field);
  /* elements are parsed from a copy that is freed below: borrowed strings cannot be elements */
  if (s->type == HS_SET_STRING) return hs_fail(ctx, HS_E_INTERNAL, "%s: a list of borrowed strings", label);
  /* a comma-separated list: every element checked into a scratch array, stored only when all
   * are good, so that a refused value changes nothing */
  size_t n = 0, len = strlen(text);
  char *copy = hs_malloc(len + 1), *elems = hs_calloc(s->list_max, s->size);
  hs_status st = copy && elems ? HS_OK : hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", label);
  if (copy) memcpy(copy, text, len + 1);
  char *p = copy;
  while (st == HS_OK) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    if (n == s->list_max) st = hs_fail(ctx, HS_E_INVALID, "%s '%s': at most %zu values", label, text, s->list_max);
    else if (!*p) st = hs_fail(ctx, HS_E_INVALID, "%s '%s': expected a comma-separated list without empty entries", label, text);
    else st = scalar_from_text(ctx, s, label, p, elems + n++ * s->size);
    if (!comma) break;
    p = comma + 1;
  }
  if (st == HS_OK) {
    memcpy(field, elems, n * s->size);
    store_uint((char *)base + s->count_offset, s->count_size, n);
  }
  free(copy);
  free(elems);
  return st;
}

static hs_status scalar_from_json(hs_context *ctx, const hs_setting *s, const char *label, const cJSON *v, void *field) {
  switch (s->type) {
  case HS_SET_UINT: {
    if (!cJSON_IsNumber(v)) return hs_fail(ctx, HS_E_INVALID, "%s must be a number", label);
    double d = v->valuedouble;
    if (!(d >= 0) || d != floor(d) || d > uint_limit(s->size) || d > 9007199254740992.0)
      return hs_fail(ctx, HS_E_INVALID, "%s = %.17g must be a non-negative integer (at most 2^53)", label, d);
    hs_status st = check_range(ctx, s, label, d);
    if (st == HS_OK) store_uint(field, s->size, (uint64_t)d);
    return st;
  }
  case HS_SET_DOUBLE: {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return hs_fail(ctx, HS_E_INVALID, "%s must be a finite number", label);
    hs_status st = check_range(ctx, s, label, v->valuedouble);
    if (st == HS_OK) *(double *)field = v->valuedouble;
    return st;
  }
  case HS_SET_STRING:
  case HS_SET_STRBUF:
  case HS_SET_CHOICE:
  case HS_SET_CUSTOM:
    if (!cJSON_IsString(v)) return hs_fail(ctx, HS_E_INVALID, "%s must be a string", label);
    return scalar_from_text(ctx, s, label, v->valuestring, field);
  case HS_SET_FLAG:
    if (!cJSON_IsBool(v)) return hs_fail(ctx, HS_E_INVALID, "%s must be true or false", label);
    *(int *)field = cJSON_IsTrue(v) ? !s->flag_off : s->flag_off;
    return HS_OK;
  }
  return hs_fail(ctx, HS_E_INTERNAL, "%s: unknown setting type %d", label, (int)s->type);
}

hs_status hs_setting_from_json(hs_context *ctx, const hs_setting *s, const char *label, const cJSON *v, void *base) {
  char *field = (char *)base + s->offset;
  if (!s->list_max) return scalar_from_json(ctx, s, label, v, field);
  if (!cJSON_IsArray(v)) return hs_fail(ctx, HS_E_INVALID, "%s must be an array", label);
  char *elems = hs_calloc(s->list_max, s->size); /* as from text: stored only when all are good */
  if (!elems) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", label);
  size_t n = 0;
  hs_status st = HS_OK;
  const cJSON *e;
  cJSON_ArrayForEach(e, v) {
    if (n == s->list_max) st = hs_fail(ctx, HS_E_INVALID, "%s has more than %zu entries", label, s->list_max);
    else st = scalar_from_json(ctx, s, label, e, elems + n++ * s->size);
    if (st != HS_OK) break;
  }
  if (st == HS_OK) {
    memcpy(field, elems, n * s->size);
    store_uint((char *)base + s->count_offset, s->count_size, n);
  }
  free(elems);
  return st;
}

hs_status hs_setting_check_json(hs_context *ctx, const hs_setting *s, const char *label, const char *json) {
  size_t end = s->offset + s->size * (s->list_max ? s->list_max : 1);
  if (s->list_max && s->count_offset + s->count_size > end) end = s->count_offset + s->count_size;
  hs_json_oom_clear();
  cJSON *v = cJSON_Parse(json);
  if (!v) return hs_json_oom() ? hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", label)
                               : hs_fail(ctx, HS_E_INVALID, "%s: '%.40s' is not a JSON value", label, json);
  void *scratch = hs_calloc(1, end);
  hs_status st = scratch ? hs_setting_from_json(ctx, s, label, v, scratch) : hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", label);
  free(scratch);
  cJSON_Delete(v);
  return st;
}

static uint64_t load_uint(const void *field, size_t size) {
  switch (size) {
  case 1: return *(const uint8_t *)field;
  case 2: return *(const uint16_t *)field;
  case 4: return *(const uint32_t *)field;
  default: return *(const uint64_t *)field;
  }
}

hs_status hs_setting_number(hs_context *ctx, const hs_setting *s, const void *base, double *out) {
  const char *field = (const char *)base + s->offset;
  if (s->list_max) return hs_fail(ctx, HS_E_INVALID, "%s: a list, not a number", s->key ? s->key : s->name);
  switch (s->type) {
  case HS_SET_UINT: *out = (double)load_uint(field, s->size); return HS_OK;
  case HS_SET_DOUBLE: *out = *(const double *)field; return HS_OK;
  case HS_SET_FLAG:
  case HS_SET_CHOICE: *out = *(const int *)field; return HS_OK;
  default: return hs_fail(ctx, HS_E_INVALID, "%s: not a numeric setting", s->key ? s->key : s->name);
  }
}

const char *hs_setting_choice_name(const hs_setting *s, int value) {
  if (s->type != HS_SET_CHOICE || !s->choices) return NULL;
  for (const hs_setting_choice *c = s->choices; c->name; c++)
    if (c->value == value) return c->name;
  return NULL;
}

const char *hs_setting_value_hint(const hs_setting *s, char *buf, size_t cap) {
  if (s->type == HS_SET_CHOICE && s->choices) {
    buf[0] = '\0';
    for (const hs_setting_choice *c = s->choices; c->name; c++)
      snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", c == s->choices ? "" : "|", c->name);
    return buf;
  }
  if (s->metavar) return s->metavar;
  switch (s->type) {
  case HS_SET_UINT: return s->list_max ? "N,N,..." : "N";
  case HS_SET_DOUBLE: return "X";
  case HS_SET_FLAG: return "";
  default: return s->list_max ? "A,B,..." : "VALUE";
  }
}
