/* Every op of the CUDA backend against the CPU backend (tests/support/ops_diff.c: random
 * inputs, odd sizes, guard bands, NaN poison, k = 1 and 3, f64 and f32).
 *
 * Without a usable GPU (no CUDA in this build, no driver, no device) the suite prints why
 * and exits 77, which ctest reports as skipped, never as passed. With HS_REQUIRE_GPU=1 (set by
 * bench/gpu-check.sh) a missing GPU is a failure instead: on a GPU machine, "skipped" would
 * hide a broken driver or build.
 *
 * The probe runs in a child process: Criterion forks a worker per test, and a CUDA context
 * does not survive fork(), so the parent must not touch CUDA. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/ops_diff.h"

static hs_status open_cuda(hs_backend **out, char *err, size_t errlen) {
  return hs_backend_open("cuda", 1, 0, out, err, errlen); /* TF32 off: f32 is held to f32 */
}

#define OD_TEST(op) \
  Test(gpu_ops, op) { OD_TEST_BODY(op, open_cuda); }
OD_OPS(OD_TEST)

/* 1 if a CUDA backend opens (in a child process); else 0 with the reason in why. */
static int cuda_usable(char *why, size_t len) {
  if (!hs_backend_cuda_compiled()) {
    snprintf(why, len, "this build has no CUDA backend (configure with -DHS_CUDA=ON)");
    return 0;
  }
  int fd[2];
  if (pipe(fd) != 0) {
    snprintf(why, len, "pipe() failed");
    return 0;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(why, len, "fork() failed");
    return 0;
  }
  if (pid == 0) {
    close(fd[0]);
    char err[512] = "";
    hs_backend *be = NULL;
    hs_status st = open_cuda(&be, err, sizeof err);
    if (st == HS_OK) {
      snprintf(err, sizeof err, "%s", be->device_name);
      be->ops->destroy(be);
    }
    ssize_t w = write(fd[1], err, strlen(err));
    (void)w;
    close(fd[1]);
    _exit(st == HS_OK ? 0 : 1);
  }
  close(fd[1]);
  ssize_t got = read(fd[0], why, len - 1);
  why[got > 0 ? got : 0] = '\0';
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char *argv[]) {
  char why[512] = "";
  if (!cuda_usable(why, sizeof why)) {
    const char *req = getenv("HS_REQUIRE_GPU");
    if (req && strcmp(req, "1") == 0) {
      fprintf(stderr, "gpu_ops: FAILED: HS_REQUIRE_GPU=1 but no usable GPU: %s\n", why);
      return 1;
    }
    printf("gpu_ops: SKIPPED: %s\n", why);
    return 77;
  }
  printf("gpu_ops: CUDA device: %s\n", why);
  struct criterion_test_set *tests = criterion_initialize();
  int result = 0;
  if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return result;
}
