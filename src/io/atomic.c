#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/atomic.h"

static size_t fail_at, steps;
static int fail_errno;

void hs_test_fail_writes(size_t n, int err) {
  fail_at = n;
  steps = 0;
  fail_errno = err;
}

/* Counts a write-side step; 1 (with errno set) when the armed hook fails this one. */
static int injected(void) {
  if (__builtin_expect(!fail_at, 1)) return 0;
  if (++steps != fail_at) return 0;
  errno = fail_errno;
  return 1;
}

static void release(hs_atomic_file *f) {
  free(f->path);
  free(f->tmp_path);
  f->path = f->tmp_path = NULL;
  f->fp = NULL;
}

/* mkstemp creates files with mode 0600; a result file should get the mode any other newly
 * created file would (0666 & ~umask). umask() can only be read by setting it, which races
 * with other threads, so read it from /proc where available. */
static mode_t creation_mode(void) {
  mode_t mask = 022;
  FILE *fp = fopen("/proc/self/status", "r");
  if (fp) {
    char line[256];
    while (fgets(line, sizeof line, fp)) {
      unsigned m;
      if (sscanf(line, "Umask: %o", &m) == 1) {
        mask = (mode_t)m;
        break;
      }
    }
    fclose(fp);
  }
  return 0666 & ~mask;
}

/* Makes the rename itself durable. Best effort: some filesystems refuse fsync on a
 * directory, and the data are already safe. No allocation: after the rename nothing may
 * fail for want of memory. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096] = ".";
  if (slash) {
    size_t len = (size_t)(slash - path) + (slash == path);
    if (len >= sizeof dir) return;
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

hs_status hs_atomic_begin(hs_context *ctx, const char *path, hs_atomic_file *f) {
  f->fp = NULL;
  f->path = hs_strdup(path);
  f->tmp_path = hs_malloc(strlen(path) + sizeof ".tmp.XXXXXX");
  if (!f->path || !f->tmp_path) {
    release(f);
    return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
  }
  sprintf(f->tmp_path, "%s.tmp.XXXXXX", path);
  int fd = injected() ? -1 : mkstemp(f->tmp_path);
  if (fd < 0) {
    int e = errno;
    release(f);
    return hs_fail(ctx, HS_E_OUTPUT, "%s: cannot create: %s", path, strerror(e));
  }
  (void)fchmod(fd, creation_mode());
  f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    int e = errno;
    close(fd);
    unlink(f->tmp_path);
    release(f);
    return hs_fail(ctx, HS_E_OUTPUT, "%s: cannot open for writing: %s", path, strerror(e));
  }
  return HS_OK;
}

hs_status hs_atomic_write(hs_context *ctx, hs_atomic_file *f, const void *data, size_t len) {
  if (!f->fp) return hs_fail(ctx, HS_E_INTERNAL, "write to an atomic file that is not open");
  if (len && (injected() || fwrite(data, 1, len, f->fp) != len))
    return hs_fail(ctx, HS_E_OUTPUT, "%s: write failed: %s", f->path, strerror(errno));
  return HS_OK;
}

hs_status hs_atomic_commit(hs_context *ctx, hs_atomic_file *f) {
  if (!f->fp) {
    release(f);
    return hs_fail(ctx, HS_E_INTERNAL, "commit of an atomic file that is not open");
  }
  hs_status st = HS_OK;
  const char *what = NULL;
  int e = 0;
  /* fflush and fsync first: a full disk or quota shows up here, not after the rename. */
  if (injected() || fflush(f->fp) != 0 || ferror(f->fp)) {
    what = "write failed";
    e = errno;
  } else if (injected() || fsync(fileno(f->fp)) != 0) {
    what = "fsync failed";
    e = errno;
  }
  if (fclose(f->fp) != 0 && !what) {
    what = "close failed";
    e = errno;
  }
  f->fp = NULL;
  if (!what && (injected() || rename(f->tmp_path, f->path) != 0)) {
    what = "cannot rename into place";
    e = errno;
  }
  if (what) {
    unlink(f->tmp_path);
    st = hs_fail(ctx, HS_E_OUTPUT, "%s: %s: %s", f->path, what, e ? strerror(e) : "stream error");
  } else {
    sync_parent_dir(f->path);
  }
  release(f);
  return st;
}

void hs_atomic_abort(hs_atomic_file *f) {
  if (f->fp) {
    fclose(f->fp);
    f->fp = NULL;
  }
  if (f->tmp_path) unlink(f->tmp_path);
  release(f);
}

hs_status hs_write_file_atomic(hs_context *ctx, const char *path, const void *data, size_t len) {
  hs_atomic_file f;
  hs_status st = hs_atomic_begin(ctx, path, &f);
  if (st != HS_OK) return st;
  st = hs_atomic_write(ctx, &f, data, len);
  if (st != HS_OK) {
    hs_atomic_abort(&f);
    return st;
  }
  return hs_atomic_commit(ctx, &f);
}
