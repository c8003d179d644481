/* Atomic file output: a result file either appears complete or not at all.
 *
 * The data go to "<path>.tmp.XXXXXX" in the same directory (so the final rename stays on
 * one filesystem and is atomic), are fsync'ed, and the temporary is renamed over `path`.
 * Any failure removes the temporary. A process killed between begin and commit can leave a
 * stray "*.tmp.*" file behind, but never a truncated `path`.
 *
 * Usage:
 *   hs_atomic_file f;
 *   HS_TRY(hs_atomic_begin(ctx, path, &f));
 *   fprintf(f.fp, ...);                     // or hs_atomic_write
 *   st = hs_atomic_commit(ctx, &f);         // on error paths: hs_atomic_abort(&f)
 *
 * Write errors on f.fp are sticky in stdio; commit checks them, so callers may fprintf
 * freely and let commit report a full disk. */
#ifndef HS_IO_ATOMIC_H
#define HS_IO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

#include "hesspec.h"

typedef struct {
  FILE *fp;        /* open on the temporary; NULL once committed or aborted */
  char *path;      /* final name (owned) */
  char *tmp_path;  /* temporary name (owned) */
} hs_atomic_file;

/* Creates the temporary. On failure nothing is left on disk and *f needs no abort. */
hs_status hs_atomic_begin(hs_context *ctx, const char *path, hs_atomic_file *f);
/* fwrite with an error message naming the final path. */
hs_status hs_atomic_write(hs_context *ctx, hs_atomic_file *f, const void *data, size_t len);
/* Flushes, fsyncs, closes and renames into place. Whatever the outcome, *f is released
 * afterwards (on failure the temporary is removed). */
hs_status hs_atomic_commit(hs_context *ctx, hs_atomic_file *f);
/* Discards the temporary and releases *f. Safe to call twice and after commit. */
void hs_atomic_abort(hs_atomic_file *f);

/* Writes len bytes of data to path atomically. */
hs_status hs_write_file_atomic(hs_context *ctx, const char *path, const void *data, size_t len);

/* hs_test_fail_writes (include/hesspec.h) arms the failure of the steps below: creating the
 * temporary, each hs_atomic_write, and in hs_atomic_commit the flush, the fsync and the
 * rename. The CLI arms it from HESSPEC_TEST_FAIL_WRITE (docs/robustness.md). */

#endif
