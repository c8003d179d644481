/* hesspec <command> [options]: dispatch to the subcommands. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"
#include "cli/mpi.h"

static void overview(FILE *f) {
  fprintf(f, "hesspec %s: exact Hessian spectra of neural networks\n\nusage: hesspec <command> [options]\n\ncommands:\n",
          HS_VERSION);
  for (size_t i = 0; hs_cli_commands[i]; i++)
    fprintf(f, "  %-10s %s\n", hs_cli_commands[i]->name, hs_cli_commands[i]->summary);
  fprintf(f, "  %-10s %s\n\nExit status: 0 ok, 1 failure while running, 2 bad usage or bad input, 130/143 cancelled by SIGINT/SIGTERM.\n", "help",
          "help <command>: options of a command");
}

/* `hesspec help NAME`: the synopsis, then every option table (the common one last: it is the
 * longest and the same everywhere) */
static void help(const hs_cli_command *c) {
  printf("%s\n", c->usage);
  const hs_setting *tables[8];
  size_t n = hs_cli_command_tables(c, tables, 8);
  if (!n) return;
  for (size_t t = 1; t < n; t++) hs_cli_print_options(stdout, tables[t]);
  if (tables[0] == hs_cli_common_options) printf("\nCommon options:\n");
  hs_cli_print_options(stdout, tables[0]);
}

/* libgomp's default wait policy spins between parallel regions; when the cores are shared
 * (a loaded workstation, a shared cluster node, CI) the spinning threads steal the time of
 * the working ones: an HVP of the 784-256x3-10 benchmark net took 240-490 ms instead of
 * 60-120 ms with passive waiting on the 2-core development machine under load (docs/
 * cpu-backend.md). libgomp reads the policy once, when it is loaded, so the only way to
 * change the default from inside is to run again with it set. An explicit setting wins. */
static void default_to_passive_waiting(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv); /* returns only on failure: then go on as we are */
}

static void on_signal(int sig) { hs_cli_note_signal(sig); }

/* SIGINT and SIGTERM cancel the run through the progress hook (HS_E_CANCELLED: temporary
 * files removed, outputs not written, exit 128 + signal). The handler is reset after the
 * first signal, so a second one kills at once the run that does not stop soon enough. */
static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* HESSPEC_TEST_FAIL_WRITE=N: the N-th write-side step of the atomic writer fails with
 * ENOSPC, so the suites can check a full disk end to end (docs/robustness.md). */
static void arm_write_failure(void) {
  const char *e = getenv("HESSPEC_TEST_FAIL_WRITE");
  if (!e || !*e) return;
  char *end;
  unsigned long long n = strtoull(e, &end, 10);
  if (*end == '\0' && n > 0) hs_test_fail_writes((size_t)n, ENOSPC);
}

static int dispatch(int argc, char **argv) {
  if (argc < 2) {
    overview(stderr);
    return HS_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    if (argc < 3) {
      overview(stdout);
      return HS_EXIT_OK;
    }
    const hs_cli_command *c = hs_cli_find_command(argv[2]);
    if (!c) return hs_cli_usage("help", "unknown command '%s'", argv[2]);
    help(c);
    return HS_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0) {
    printf("hesspec %s\n", HS_VERSION);
    return HS_EXIT_OK;
  }
  const hs_cli_command *c = hs_cli_find_command(name);
  if (!c) {
    fprintf(stderr, "hesspec: unknown command '%s' (try `hesspec help`)\n", name);
    return HS_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      help(c);
      return HS_EXIT_OK;
    }
  return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv) {
  default_to_passive_waiting(argv);
  install_signal_handlers();
  arm_write_failure();
  /* under mpirun/srun: MPI up, and on ranks > 0 outputs and stdout discarded (cli/mpi.h);
   * not for the commands that are never MPI programs (hs_cli_command.outside_mpi) */
  const hs_cli_command *c = argc > 1 ? hs_cli_find_command(argv[1]) : NULL;
  int code = c && c->outside_mpi ? 0 : hs_cli_mpi_init(argc, argv);
  if (code) return code;
  return hs_cli_mpi_finish(dispatch(argc, argv));
}
