/* Shared by the I/O suites (header-only so that it adds no link dependency): a context
 * without a backend, a private temporary directory, and byte-level file helpers.
 *
 * The format code only needs a context for its error message, so these suites run without
 * a backend (and before one exists). */
#ifndef HS_IO_FIXTURE_H
#define HS_IO_FIXTURE_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/context.h"

static hs_context *io_ctx;
static char io_dir[256];

static inline void io_setup(void) {
  io_ctx = calloc(1, sizeof *io_ctx);
  cr_assert(io_ctx);
  const char *tmp = getenv("TMPDIR");
  snprintf(io_dir, sizeof io_dir, "%s/hs_io_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  cr_assert(mkdtemp(io_dir), "mkdtemp failed");
}

static inline int io_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb;
  (void)flag;
  (void)f;
  return remove(p);
}

static inline void io_teardown(void) {
  free(io_ctx);
  io_ctx = NULL;
  if (io_dir[0]) nftw(io_dir, io_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  io_dir[0] = '\0';
}

/* A path inside the test directory (a static buffer from a small ring: a few may be live). */
static inline const char *io_path(const char *name) {
  static char ring[8][512];
  static int next;
  char *p = ring[next++ % 8];
  snprintf(p, 512, "%s/%s", io_dir, name);
  return p;
}

static inline void io_write(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  cr_assert(fp, "cannot create fixture %s", path);
  cr_assert_eq(fwrite(data, 1, len, fp), len);
  cr_assert_eq(fclose(fp), 0);
}

static inline int io_exists(const char *path) { return access(path, F_OK) == 0; }

/* Number of entries in the test directory (to prove no temporary was left behind). */
static inline int io_dir_entries(void) {
  DIR *d = opendir(io_dir);
  cr_assert(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* The call failed with `want` and the message names `path` and contains `what`. */
#define io_assert_fail(call, want, path, what)                                            \
  do {                                                                                    \
    hs_status st_ = (call);                                                               \
    cr_assert_eq(st_, (want), "status %d, want %d; message: %s", (int)st_, (int)(want),   \
                 hs_last_error(io_ctx));                                                  \
    cr_assert(strstr(hs_last_error(io_ctx), (path)), "message does not name '%s': %s",    \
              (path), hs_last_error(io_ctx));                                             \
    cr_assert(strstr(hs_last_error(io_ctx), (what)), "message lacks '%s': %s", (what),    \
              hs_last_error(io_ctx));                                                     \
    cr_assert(!strchr(hs_last_error(io_ctx), '\n'), "message is not one line: %s",        \
              hs_last_error(io_ctx));                                                     \
  } while (0)

#define io_assert_ok(call)                                                                \
  do {                                                                                    \
    hs_status st_ = (call);                                                               \
    cr_assert_eq(st_, HS_OK, "status %d: %s", (int)st_, hs_last_error(io_ctx));           \
  } while (0)

#endif
