#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/idx.h"

void hs_idx_free(hs_idx *x) {
  if (!x) return;
  free(x->data);
  memset(x, 0, sizeof *x);
}

/* gzread in pieces (its length is an unsigned int); returns bytes read or -1 on error. */
static long long read_all(gzFile gz, void *dst, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t chunk = len - done > (1u << 30) ? (1u << 30) : len - done;
    int r = gzread(gz, (char *)dst + done, (unsigned)chunk);
    if (r < 0) return -1;
    if (r == 0) break;
    done += (size_t)r;
  }
  return (long long)done;
}

static hs_status gz_fail(hs_context *ctx, const char *path, gzFile gz) {
  int err = 0;
  const char *msg = gzerror(gz, &err);
  if (err == Z_ERRNO)
    return hs_fail(ctx, HS_E_IO, "%s: read error: %s", path, strerror(errno));
  return hs_fail(ctx, HS_E_INVALID, "%s: corrupt gzip data: %s", path, msg);
}

hs_status hs_idx_read(hs_context *ctx, const char *path, size_t max_items, hs_idx *out) {
  hs_status st = HS_OK;
  memset(out, 0, sizeof *out);
  errno = 0;
  gzFile gz = gzopen(path, "rb");
  if (!gz)
    return hs_fail(ctx, HS_E_IO, "%s: cannot open: %s", path,
                   errno ? strerror(errno) : "out of memory");
  gzbuffer(gz, 1 << 17);

  unsigned char hdr[16];
  long long got = read_all(gz, hdr, 4);
  if (got < 0) {
    st = gz_fail(ctx, path, gz);
    goto cleanup;
  }
  if (got < 4 || hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || (hdr[3] != 1 && hdr[3] != 3)) {
    unsigned magic = got < 4 ? 0 : (unsigned)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: not a u8 IDX file (magic 0x%08x; expected 0x00000801 labels or 0x00000803 "
                 "images)",
                 path, magic);
    goto cleanup;
  }
  out->ndim = hdr[3];
  got = read_all(gz, hdr + 4, 4 * (size_t)out->ndim);
  if (got < 0) {
    st = gz_fail(ctx, path, gz);
    goto cleanup;
  }
  if (got < 4 * out->ndim) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: truncated: the file ends inside the header", path);
    goto cleanup;
  }
  out->item_size = 1;
  for (int k = 0; k < out->ndim; k++) {
    const unsigned char *p = hdr + 4 + 4 * k;
    out->dim[k] = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (k > 0) out->item_size *= out->dim[k];
  }
  if (out->item_size == 0 || out->item_size > ((size_t)1 << 24)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: implausible item size %zux%zu", path, out->dim[1],
                 out->dim[2]);
    goto cleanup;
  }
  out->n = max_items && max_items < out->dim[0] ? max_items : out->dim[0];
  size_t need = out->n * out->item_size;
  /* The header alone must not decide the allocation: a 16-byte file may claim 10 GB (found by
   * fuzz_idx), and a gzip file's size does not bound its content. So the buffer grows
   * geometrically with what the file actually holds, up to what the header says. */
  size_t cap = 0, filled = 0;
  while (filled < need) {
    if (filled == cap) {
      size_t next = cap ? 2 * cap : (size_t)1 << 20;
      if (next > need) next = need;
      unsigned char *grown = hs_realloc(out->data, next + 1);
      if (!grown) {
        st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory for %zu bytes", path, next);
        goto cleanup;
      }
      out->data = grown;
      cap = next;
    }
    size_t want = cap - filled;
    long long r = read_all(gz, out->data + filled, want);
    if (r < 0) {
      st = gz_fail(ctx, path, gz);
      goto cleanup;
    }
    filled += (size_t)r;
    if ((size_t)r < want) break; /* the file ended first */
  }
  if (!out->data && !(out->data = hs_malloc(1))) { /* no items: still an owned buffer */
    st = hs_fail(ctx, HS_E_NOMEM, "%s: out of memory", path);
    goto cleanup;
  }
  got = (long long)filled;
  if ((size_t)got < need) {
    char shape[96];
    if (out->ndim == 1)
      snprintf(shape, sizeof shape, "%zu", out->dim[0]);
    else
      snprintf(shape, sizeof shape, "%zux%zux%zu", out->dim[0], out->dim[1], out->dim[2]);
    st = hs_fail(ctx, HS_E_INVALID,
                 "%s: truncated: header says %s u8, %zu items (%zu bytes) needed but %lld bytes "
                 "follow",
                 path, shape, out->n, need, got);
    goto cleanup;
  }
  if (out->n == out->dim[0]) {
    /* Reading past the end makes zlib check the gzip trailer (CRC and length). */
    unsigned char extra;
    got = read_all(gz, &extra, 1);
    if (got < 0) {
      st = gz_fail(ctx, path, gz);
      goto cleanup;
    }
    if (got > 0) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: trailing data after the %zu items the header declares",
                   path, out->dim[0]);
      goto cleanup;
    }
  }

cleanup:
  gzclose(gz);
  if (st != HS_OK) hs_idx_free(out);
  return st;
}
