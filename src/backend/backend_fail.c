/* The backends' error message. Here, not in core: the backend sits below the context and
 * uses nothing of src/core (core/context.h includes backend.h, never the reverse). */
#include <stdarg.h>
#include <stdio.h>

#include "backend/backend.h"

hs_status hs_backend_fail(hs_backend *be, hs_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(be->errmsg, sizeof be->errmsg, fmt, ap);
  va_end(ap);
  return st;
}
