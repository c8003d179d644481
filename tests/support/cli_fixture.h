/* Running the hesspec CLI from a Criterion suite: a private temporary folder, files in it,
 * and the binary that CMake builds beside the test executables. */
#ifndef HS_CLI_FIXTURE_H
#define HS_CLI_FIXTURE_H

extern char hs_cli_dir[256];  /* the suite's folder, made by hs_cli_fixture_setup */
extern char hs_cli_err[4096]; /* stderr of the last hs_cli_run */

/* mkdtemp under /tmp with the tag in the name; teardown removes it (read-only parts too). */
void hs_cli_fixture_setup(const char *tag);
void hs_cli_fixture_teardown(void);
/* dir/name in one of 8 rotating buffers. */
const char *hs_cli_path(const char *name);
void hs_cli_write_text(const char *name, const char *text);
char *hs_cli_read_text(const char *name); /* caller frees; asserts the file exists */
struct cJSON;
struct cJSON *hs_cli_read_json(const char *name); /* cJSON_Delete it; asserts it parses */
int hs_cli_exists(const char *name);
/* The prefix of every mpirun launch in the suites (test_mpi, test_job), then the rank count.
 * OMP_NUM_THREADS=1: np 3 on two cores would otherwise oversubscribe threads 3x; the bits do
 * not depend on the thread count (docs/cpu-backend.md). --bind-to none: ranks may share a
 * core (--oversubscribe). A timeout so a hang fails the test instead of the CI job.
 * detect_leaks=0 for the ranks only (later ASAN_OPTIONS entries win; inert without ASan):
 * OpenMPI leaves its runtime's allocations to process exit by design (it ships valgrind
 * suppressions for them) and unloads its components at MPI_Finalize, so LeakSanitizer can
 * neither attribute nor suppress those stacks and `make check` failed on them. Memory errors
 * are still checked under mpirun; leaks of the sharded bind and the reductions are checked
 * in process by test_shard, which runs the same code with a rank-order reduction callback. */
#define HS_CLI_MPIRUN                                                                                      \
  "ASAN_OPTIONS=\"${ASAN_OPTIONS}:detect_leaks=0\" OMP_NUM_THREADS=1 timeout 60 mpirun --allow-run-as-root " \
  "--oversubscribe --bind-to none -np "

/* The hesspec binary of this build (absolute). */
const char *hs_cli_bin(void);
/* Runs `ENV hesspec ARGS --quiet EXTRA` in the folder (stdout to stdout.txt, stderr to
 * stderr.txt and hs_cli_err); returns the exit status (-1 when killed). */
int hs_cli_run(const char *env, const char *args, const char *extra);

#endif
