/* Job files (src/cli/job.c): the JSON, the checks of every task against its command's option
 * tables, the expansion of weights lists and globs with {stem}, and the task command lines.
 * Inputs that could make glob() walk far are skipped (wildcards in a folder part, "..", an
 * absolute path): such a walk of the filesystem says nothing about the parser and would only
 * time out. Relative paths resolve in the folder of the harness's private file. */
#include "cli/job.h"
#include "fuzz_common.h"

static int contains(const uint8_t *data, size_t size, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= size; i++)
    if (memcmp(data + i, s, n) == 0) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const far[] = {"*/", "?/", "]/", "../", "\"/", "\\", NULL};
  for (size_t i = 0; far[i]; i++)
    if (contains(data, size, far[i])) return 0;
  const char *path = fuzz_file(data, size, ".job.json");
  hs_job job;
  if (hs_job_load(fuzz_ctx(), path, &job) == HS_OK) {
    for (size_t i = 0; i < job.n_tasks; i++) (void)hs_job_task_done(&job.tasks[i]);
    hs_job_free(&job);
  }
  return 0;
}
