#include "support/gpu_skip.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"

int hs_test_cuda_usable(char *why, size_t len) {
  why[0] = '\0';
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
    close(fd[0]);
    close(fd[1]);
    snprintf(why, len, "fork() failed");
    return 0;
  }
  if (pid == 0) {
    close(fd[0]);
    char msg[512] = "";
    hs_backend *be = NULL;
    hs_status st = hs_backend_open("cuda", 1, 0, &be, msg, sizeof msg);
    if (st == HS_OK) {
      snprintf(msg, sizeof msg, "%s", be->device_name);
      be->ops->destroy(be);
    }
    ssize_t w = write(fd[1], msg, strlen(msg));
    (void)w;
    close(fd[1]);
    _exit(st == HS_OK ? 0 : 1);
  }
  close(fd[1]);
  ssize_t got = read(fd[0], why, len - 1);
  why[got > 0 ? (size_t)got : 0] = '\0';
  close(fd[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int hs_test_gpu_main(const char *suite, int argc, char *argv[]) {
  char why[512];
  if (!hs_test_cuda_usable(why, sizeof why)) {
    const char *req = getenv("HS_REQUIRE_GPU");
    if (req && strcmp(req, "1") == 0) {
      fprintf(stderr, "%s: FAILED: HS_REQUIRE_GPU=1 but no usable GPU: %s\n", suite, why);
      return 1;
    }
    printf("%s: SKIPPED: %s\n", suite, why);
    return 77;
  }
  printf("%s: CUDA device: %s\n", suite, why);
  fflush(stdout);
  struct criterion_test_set *tests = criterion_initialize();
  int result = 0;
  if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return result;
}
