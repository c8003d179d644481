/* Atomic writes leave either the complete file or nothing; hs_read_file reads it back. */
#include "io_fixture.h"

#include <sys/stat.h>

#include "io/atomic.h"
#include "io/file.h"

TestSuite(atomic, .init = io_setup, .fini = io_teardown);

Test(atomic, writes_and_replaces) {
  const char *p = io_path("out.txt");
  io_assert_ok(hs_write_file_atomic(io_ctx, p, "first", 5));
  io_assert_ok(hs_write_file_atomic(io_ctx, p, "second!", 7));
  char *buf;
  size_t len;
  io_assert_ok(hs_read_file(io_ctx, p, &buf, &len));
  cr_assert_eq(len, 7);
  cr_assert_str_eq(buf, "second!"); /* NUL-terminated */
  free(buf);
  cr_assert_eq(io_dir_entries(), 1);
}

Test(atomic, mode_follows_umask) {
  mode_t old = umask(027);
  const char *p = io_path("m.txt");
  hs_status st = hs_write_file_atomic(io_ctx, p, "x", 1);
  umask(old);
  io_assert_ok(st);
  struct stat sb;
  cr_assert_eq(stat(p, &sb), 0);
  cr_assert_eq(sb.st_mode & 0777, 0640, "mode %o", (unsigned)(sb.st_mode & 0777));
}

Test(atomic, abort_leaves_nothing) {
  const char *p = io_path("a.txt");
  hs_atomic_file f;
  io_assert_ok(hs_atomic_begin(io_ctx, p, &f));
  fprintf(f.fp, "half of a result");
  cr_assert_eq(io_dir_entries(), 1); /* the temporary */
  hs_atomic_abort(&f);
  hs_atomic_abort(&f); /* idempotent */
  cr_assert_eq(io_dir_entries(), 0);
}

Test(atomic, failed_begin_leaves_nothing) {
  const char *p = io_path("no/such/dir/out.json");
  io_assert_fail(hs_write_file_atomic(io_ctx, p, "x", 1), HS_E_OUTPUT, p, "cannot create");
  cr_assert_eq(io_dir_entries(), 0);
}

Test(atomic, failed_rename_removes_temporary) {
  /* A directory in the way makes the final rename fail after all data were written. */
  const char *p = io_path("taken");
  cr_assert_eq(mkdir(p, 0755), 0);
  io_assert_fail(hs_write_file_atomic(io_ctx, p, "data", 4), HS_E_OUTPUT, p, "rename");
  cr_assert_eq(io_dir_entries(), 1); /* only the directory */
  struct stat sb;
  cr_assert_eq(stat(p, &sb), 0);
  cr_assert(S_ISDIR(sb.st_mode));
}

Test(atomic, failed_write_removes_temporary) {
  /* /dev/full cannot host a temporary, so force the failure through a stream that is
   * already in error. */
  const char *p = io_path("w.txt");
  hs_atomic_file f;
  io_assert_ok(hs_atomic_begin(io_ctx, p, &f));
  fputs("some data", f.fp);
  fflush(f.fp);
  /* Closing the descriptor under stdio makes the next flush fail as a full disk would. */
  close(fileno(f.fp));
  fputs("more", f.fp);
  io_assert_fail(hs_atomic_commit(io_ctx, &f), HS_E_OUTPUT, p, "failed");
  cr_assert(!io_exists(p));
  cr_assert_eq(io_dir_entries(), 0);
}

Test(atomic, read_file_errors) {
  char *buf;
  size_t len;
  const char *p = io_path("missing");
  io_assert_fail(hs_read_file(io_ctx, p, &buf, &len), HS_E_IO, p, "cannot open");
  cr_assert_null(buf);
  io_assert_fail(hs_read_file(io_ctx, io_dir, &buf, &len), HS_E_INVALID, io_dir, "directory");
  p = io_path("big");
  io_write(p, "0123456789", 10);
  io_assert_fail(hs_read_file_max(io_ctx, p, 9, &buf, &len), HS_E_INVALID, p, "too large");
  io_assert_ok(hs_read_file_max(io_ctx, p, 10, &buf, &len));
  cr_assert_eq(len, 10);
  free(buf);
  p = io_path("empty");
  io_write(p, "", 0);
  io_assert_ok(hs_read_file(io_ctx, p, &buf, &len));
  cr_assert_eq(len, 0);
  cr_assert_eq(buf[0], '\0');
  free(buf);
}

Test(atomic, read_file_from_pipe) {
  /* Pipes report no size; the reader grows its buffer and still enforces the cap. */
  char *buf;
  size_t len;
  const char *p = io_path("fifo");
  cr_assert_eq(mkfifo(p, 0600), 0);
  pid_t pid = fork();
  if (pid == 0) {
    FILE *fp = fopen(p, "w");
    for (int i = 0; i < 10000; i++) fputs("abcdefghij", fp);
    fclose(fp);
    _exit(0);
  }
  io_assert_ok(hs_read_file(io_ctx, p, &buf, &len));
  cr_assert_eq(len, 100000);
  cr_assert_eq(buf[99999], 'j');
  free(buf);
}
