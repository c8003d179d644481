#include "core/sbuf.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hs_sbuf_printf(hs_sbuf *b, const char *fmt, ...) {
  if (b->bad) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n > SIZE_MAX / 4 - b->len) {
    b->bad = 1;
    return;
  }
  if (b->len + (size_t)n + 1 > b->cap) {
    /* doubling keeps appends amortised O(1); at least room for this piece */
    size_t cap = b->cap ? 2 * b->cap : 4096;
    if (cap < b->len + (size_t)n + 1) cap = b->len + (size_t)n + 1;
    char *s = hs_realloc(b->s, cap);
    if (!s) {
      b->bad = 1;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

char *hs_sbuf_finish(hs_sbuf *b) {
  char *s = b->s;
  if (b->bad) {
    free(s);
    s = NULL;
  } else if (!s) {
    s = calloc(1, 1);
  }
  memset(b, 0, sizeof *b);
  return s;
}
