#include "core/alloc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The hook's state. `armed` alone is read on the fast path. */
static int armed;
static size_t count, fail_at;
static int failed;

int hs_alloc_inject(void) {
  if (__builtin_expect(!armed, 1)) return 0;
  if (++count != fail_at) return 0;
  failed = 1;
  return 1;
}

void *hs_malloc(size_t bytes) { return hs_alloc_inject() ? NULL : malloc(bytes); }
void *hs_calloc(size_t n, size_t size) { return hs_alloc_inject() ? NULL : calloc(n, size); }
void *hs_realloc(void *p, size_t bytes) { return hs_alloc_inject() ? NULL : realloc(p, bytes); }
char *hs_strdup(const char *s) { return hs_alloc_inject() ? NULL : strdup(s); }
char *hs_strndup(const char *s, size_t n) { return hs_alloc_inject() ? NULL : strndup(s, n); }

static _Thread_local int json_oom;

static void *json_malloc(size_t bytes) {
  void *p = hs_malloc(bytes);
  if (!p) json_oom = 1;
  return p;
}

void hs_json_oom_clear(void) { json_oom = 0; }
int hs_json_oom(void) { return json_oom; }

void hs_json_put(cJSON *object, const char *key, cJSON *item) {
  if (item && !cJSON_AddItemToObject(object, key, item)) cJSON_Delete(item);
}

void hs_json_push(cJSON *array, cJSON *item) {
  if (item && !cJSON_AddItemToArray(array, item)) cJSON_Delete(item);
}

void hs_alloc_install_json_hooks(void) {
  cJSON_Hooks h = {.malloc_fn = json_malloc, .free_fn = free};
  cJSON_InitHooks(&h);
}

void hs_alloc_test_arm(size_t n) {
  count = 0;
  fail_at = n;
  failed = 0;
  armed = 1;
}

size_t hs_alloc_test_disarm(void) {
  armed = 0;
  return count;
}

int hs_alloc_test_failed(void) { return failed; }
