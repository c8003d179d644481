/* Files and folders: reading a whole file into memory, with a size cap so that a wrong path
 * (a disk image, a FIFO that never ends) fails with a message instead of exhausting memory;
 * creating a folder with its parents. */
#ifndef HS_IO_FILE_H
#define HS_IO_FILE_H

#include <stddef.h>

#include "hesspec.h"

/* Default cap of hs_read_file: large enough for a (k, P) eigenvector block or the whole of
 * Fashion-MNIST as f64, small enough to refuse a mistaken multi-terabyte path. */
#define HS_READ_FILE_MAX ((size_t)16 << 30)

/* Reads `path` into a new buffer. On success *buf (caller frees) holds *len bytes followed
 * by one NUL byte not counted in *len, so text parsers may treat it as a C string.
 * On failure *buf is NULL and the context names the path: HS_E_IO when the file cannot be
 * opened or read, HS_E_INVALID when it is larger than the cap or a directory. */
hs_status hs_read_file(hs_context *ctx, const char *path, char **buf, size_t *len);
/* hs_read_file_max(ctx, path, max_bytes, buf, len), the same with another cap, is public. */

/* A 64-bit FNV-1a digest of the file's bytes as 16 hex digits (out: 17 chars): tells two
 * files apart (a checkpoint and the optimiser state saved with it), not a cryptographic hash. */
hs_status hs_file_digest(hs_context *ctx, const char *path, char out[17]);

/* hs_mkdir_p (mkdir -p with messages naming the path) is public (include/hesspec.h). */

#endif
