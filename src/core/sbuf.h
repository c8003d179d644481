/* A growing string: the one home of the text builders (SVG, HTML, Markdown reports, the
 * canonical JSON of a model spec). */
#ifndef HS_SBUF_H
#define HS_SBUF_H

#include <stddef.h>

/* Zero-initialise. s is NUL-terminated whenever len > 0; on allocation failure `bad` latches
 * and further output is ignored, so writers check once, at hs_sbuf_finish. The caller owns
 * s (hs_sbuf_finish hands it over). */
typedef struct {
  char *s;
  size_t len, cap;
  int bad;
} hs_sbuf;

/* Appends printf-formatted text. */
__attribute__((format(printf, 2, 3))) void hs_sbuf_printf(hs_sbuf *b, const char *fmt, ...);

/* Returns the finished string (caller frees; "" when nothing was written), or NULL after an
 * allocation failure, with the buffer freed. Either way b is left empty. */
char *hs_sbuf_finish(hs_sbuf *b);

#endif
