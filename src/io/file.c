#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/file.h"

hs_status hs_read_file(hs_context *ctx, const char *path, char **buf, size_t *len) {
  return hs_read_file_max(ctx, path, HS_READ_FILE_MAX, buf, len);
}

hs_status hs_read_file_max(hs_context *ctx, const char *path, size_t max_bytes, char **buf,
                           size_t *len) {
  hs_status st = HS_OK;
  char *data = NULL;
  size_t n = 0, cap = 0;
  *buf = NULL;
  *len = 0;

  FILE *fp = fopen(path, "rb");
  if (!fp) return hs_fail(ctx, HS_E_IO, "%s: cannot open: %s", path, strerror(errno));

  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0) {
    st = hs_fail(ctx, HS_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    goto cleanup;
  }
  if (S_ISDIR(sb.st_mode)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: is a directory, expected a file", path);
    goto cleanup;
  }
  /* The size of a regular file sizes the buffer in one go; pipes and process substitutions
   * report 0 and grow below. */
  if (S_ISREG(sb.st_mode)) {
    if ((unsigned long long)sb.st_size > max_bytes) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: file too large (%lld bytes, limit %zu)", path,
                   (long long)sb.st_size, max_bytes);
      goto cleanup;
    }
    cap = (size_t)sb.st_size;
  }
  if (cap < 4096) cap = 4096;
  data = hs_malloc(cap + 1);
  if (!data) {
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    goto cleanup;
  }
  for (;;) {
    if (n == cap) {
      /* Full: probe for one more byte before growing, so a file of exactly the cap fits. */
      int c = fgetc(fp);
      if (c == EOF) {
        if (ferror(fp)) {
          st = hs_fail(ctx, HS_E_IO, "%s: read error: %s", path, strerror(errno));
          goto cleanup;
        }
        break;
      }
      if (cap >= max_bytes) {
        st = hs_fail(ctx, HS_E_INVALID, "%s: file too large (over the limit of %zu bytes)", path,
                     max_bytes);
        goto cleanup;
      }
      size_t ncap = cap > max_bytes / 2 ? max_bytes : cap * 2;
      char *p = hs_realloc(data, ncap + 1);
      if (!p) {
        st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory reading %zu bytes", path, ncap);
        goto cleanup;
      }
      data = p;
      cap = ncap;
      data[n++] = (char)c;
      continue;
    }
    size_t got = fread(data + n, 1, cap - n, fp);
    n += got;
    if (got == 0) {
      if (ferror(fp)) {
        st = hs_fail(ctx, HS_E_IO, "%s: read error: %s", path, strerror(errno));
        goto cleanup;
      }
      break;
    }
  }
  data[n] = '\0';
  *buf = data;
  *len = n;
  data = NULL;

cleanup:
  free(data);
  fclose(fp);
  return st;
}

/* mkdir(dir) where an existing folder counts as success; errno set otherwise. */
static int mkdir_one(const char *dir) {
  if (mkdir(dir, 0777) == 0) return 0;
  if (errno != EEXIST) return -1;
  struct stat sb;
  if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
  errno = ENOTDIR; /* a file (or a dangling link) is in the way */
  return -1;
}

hs_status hs_mkdir_p(hs_context *ctx, const char *path, const char *what) {
  size_t n = strlen(path);
  if (n == 0) return hs_fail(ctx, HS_E_INVALID, "cannot create the %s: the path is empty", what);
  char *dir = malloc(n + 1);
  if (!dir) return hs_fail(ctx, HS_E_NOMEM, "%s: out of host memory creating the %s", path, what);
  memcpy(dir, path, n + 1);
  hs_status st = HS_OK;
  /* each prefix ending before a '/' (the root and empty components skipped), then the path */
  for (size_t i = 1; i <= n; i++) {
    if (i < n && (dir[i] != '/' || dir[i - 1] == '/')) continue;
    char keep = dir[i];
    dir[i] = '\0';
    int rc = mkdir_one(dir);
    if (rc != 0) {
      int e = errno;
      if (i >= n || strspn(path + i, "/") == n - i) /* the path itself (trailing slashes aside) */
        st = hs_fail(ctx, HS_E_OUTPUT, "%s: cannot create the %s (%s)", path, what, strerror(e));
      else
        st = hs_fail(ctx, HS_E_OUTPUT, "%s: cannot create the %s: %s: %s", path, what, dir, strerror(e));
      break;
    }
    dir[i] = keep;
  }
  free(dir);
  return st;
}

hs_status hs_file_digest(hs_context *ctx, const char *path, char out[17]) {
  FILE *f = fopen(path, "rb");
  if (!f) return hs_fail(ctx, HS_E_IO, "%s: cannot open (%s)", path, strerror(errno));
  uint64_t h = 1469598103934665603ull; /* FNV-1a offset basis and prime */
  unsigned char buf[1 << 14];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
  int bad = ferror(f);
  fclose(f);
  if (bad) return hs_fail(ctx, HS_E_IO, "%s: read error", path);
  snprintf(out, 17, "%016" PRIx64, h);
  return HS_OK;
}
