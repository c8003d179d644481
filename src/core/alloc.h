/* The library's host allocator: every allocation of src/ outside the backends goes through
 * these (and cJSON's through hs_alloc_install_json_hooks), so that a test can make the n-th
 * one fail and check that every path returns HS_E_NOMEM and leaks nothing. Memory from them
 * is released with free(). They behave exactly as malloc, calloc, realloc, strdup, strndup
 * otherwise.
 *
 * Device memory is counted too: hs_dev_alloc (core/context.c), the one door through which
 * the layers above the backend allocate device arrays, asks hs_alloc_inject() first. The
 * backends' own bookkeeping (their handle, the CPU GEMV partial sums, the CUDA scratch)
 * is not counted: the backend sits below core and includes nothing of it.
 *
 * The injection hook is process-wide and meant for single-threaded tests: arm it, run one
 * call, read the count. Unarmed, it costs one predictable branch per allocation. */
#ifndef HS_CORE_ALLOC_H
#define HS_CORE_ALLOC_H

#include <stddef.h>

void *hs_malloc(size_t bytes);
void *hs_calloc(size_t n, size_t size);
void *hs_realloc(void *p, size_t bytes);
char *hs_strdup(const char *s);
char *hs_strndup(const char *s, size_t n);

/* Points cJSON at hs_malloc/free (process-wide; idempotent). Called by hs_context_create. */
void hs_alloc_install_json_hooks(void);
/* cJSON's builders (cJSON_Add*, cJSON_Create* into a parent) drop what they cannot allocate
 * and carry on, so a document built under a shortage is silently incomplete. A writer calls
 * hs_json_oom_clear() before building and fails with HS_E_NOMEM if hs_json_oom() says an
 * allocation of cJSON's failed since. Per thread. */
void hs_json_oom_clear(void);
int hs_json_oom(void);
/* cJSON_AddItemToObject / cJSON_AddItemToArray that free the item when they cannot add it
 * (cJSON keeps it the caller's, which leaks it in `add(o, k, cJSON_Create...())`); a NULL
 * item or parent is a no-op (the failure is already in hs_json_oom). */
struct cJSON;
void hs_json_put(struct cJSON *object, const char *key, struct cJSON *item);
void hs_json_push(struct cJSON *array, struct cJSON *item);

/* Counts an allocation; non-zero when the armed hook says this one must fail. */
int hs_alloc_inject(void);

/* ---- test hooks ---- */
/* Starts counting from zero; fail_at = n > 0 makes the n-th allocation from now fail (only
 * that one: the clean-up that follows may allocate); 0 only counts. */
void hs_alloc_test_arm(size_t fail_at);
/* Stops counting and failing; returns the allocations counted since arming. */
size_t hs_alloc_test_disarm(void);
/* Whether the armed failure has happened. */
int hs_alloc_test_failed(void);

#endif
