/* Shared by the libFuzzer harnesses (fuzz/fuzz_*.c; built with -DHS_FUZZ=ON by clang, run by
 * scripts/fuzz.sh): one CPU context for the process, and a private file for the readers that
 * take a path. A parser may refuse any input (a status with a message); it must never crash,
 * leak, read out of bounds or hit undefined behaviour, which ASan/UBSan turn into a failure. */
#ifndef HS_FUZZ_COMMON_H
#define HS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hesspec.h"

static hs_context *fuzz_ctx(void) {
  static hs_context *ctx;
  if (!ctx) {
    hs_context_options o = hs_context_defaults();
    o.threads = 1;
    if (hs_context_create(&o, &ctx) != HS_OK) abort(); /* a harness's own failure */
  }
  return ctx;
}

/* A malloc'd copy (the parsers take ownership of their buffer). */
static char *fuzz_copy(const uint8_t *data, size_t size) {
  char *b = malloc(size + 1);
  if (!b) abort();
  memcpy(b, data, size);
  b[size] = '\0';
  return b;
}

/* The input written to this process's file; its path. */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
  static char path[256];
  if (!path[0]) snprintf(path, sizeof path, "%s/hs-fuzz-%d%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), suffix);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  return path;
}

#endif
