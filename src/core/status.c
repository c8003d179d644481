#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/context.h"

const char *hs_status_string(hs_status s) {
  switch (s) {
  case HS_OK: return "ok";
  case HS_E_INVALID: return "invalid input";
  case HS_E_IO: return "i/o error";
  case HS_E_NOMEM: return "out of memory";
  case HS_E_BACKEND: return "backend failure";
  case HS_E_UNSUPPORTED: return "unsupported";
  case HS_E_NUMERIC: return "numerical failure";
  case HS_E_INTERNAL: return "internal error";
  case HS_E_CANCELLED: return "cancelled";
  case HS_E_OUTPUT: return "cannot write the output";
  }
  return "unknown status";
}

size_t hs_dtype_size(hs_dtype t) { return t == HS_F64 ? 8 : 4; }
const char *hs_dtype_name(hs_dtype t) { return t == HS_F64 ? "f64" : "f32"; }

hs_status hs_set_error(hs_context *ctx, hs_status st, const char *fmt, ...) {
  if (ctx) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
  }
  return st;
}

hs_status hs_fail_backend(hs_context *ctx, hs_status st) {
  if (ctx && ctx->be)
    snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s backend: %s", ctx->be->ops->name,
             ctx->be->errmsg[0] ? ctx->be->errmsg : hs_status_string(st));
  return st;
}

const char *hs_last_error(const hs_context *ctx) { return ctx ? ctx->errmsg : ""; }
