/* Helpers shared by the benchmark programs. Every bench/*.c is built as its own executable,
 * so the shared code lives here as static inline functions. Define BENCH_NAME (the program
 * name for error messages) before including. */
#ifndef HS_BENCH_UTIL_H
#define HS_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hesspec.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

/* Milliseconds on clock clk (CLOCK_MONOTONIC: wall time; CLOCK_PROCESS_CPUTIME_ID: CPU). */
static inline double bench_ms(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Reports a failed call (with the context's last error) and exits 1. */
static inline void bench_die(hs_context *ctx, const char *what, hs_status st) {
  fprintf(stderr, BENCH_NAME ": %s: %s (%s)\n", what, ctx ? hs_last_error(ctx) : "", hs_status_string(st));
  exit(1);
}

#define CHECK(ctx, what, call)                    \
  do {                                            \
    hs_status st_ = (call);                       \
    if (st_ != HS_OK) bench_die(ctx, what, st_); \
  } while (0)

#endif
