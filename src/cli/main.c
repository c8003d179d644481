/* hesspec <command> [options]: dispatch to the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/mpi.h"

/* The command table: add one line per command. */
static const hs_cli_command *const commands[] = {
    &hs_cmd_info,
    &hs_cmd_loss,
    &hs_cmd_hvp,
    &hs_cmd_spectrum,
    &hs_cmd_eig,
    &hs_cmd_trace,
    &hs_cmd_plot,
    &hs_cmd_train,
    &hs_cmd_compare,
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void overview(FILE *f) {
  fprintf(f, "hesspec %s: exact Hessian spectra of neural networks\n\nusage: hesspec <command> [options]\n\ncommands:\n",
          HS_VERSION);
  for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f, "  %-10s %s\n\nExit status: 0 ok, 1 failure while running, 2 bad usage or bad input.\n", "help",
          "help <command>: options of a command");
}

static const hs_cli_command *find(const char *name) {
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0) return commands[i];
  return NULL;
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
    const hs_cli_command *c = find(argv[2]);
    if (!c) return hs_cli_usage("help", "unknown command '%s'", argv[2]);
    printf("%s\n%s", c->usage, hs_cli_common_help);
    return HS_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0) {
    printf("hesspec %s\n", HS_VERSION);
    return HS_EXIT_OK;
  }
  const hs_cli_command *c = find(name);
  if (!c) {
    fprintf(stderr, "hesspec: unknown command '%s' (try `hesspec help`)\n", name);
    return HS_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s\n%s", c->usage, hs_cli_common_help);
      return HS_EXIT_OK;
    }
  return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv) {
  default_to_passive_waiting(argv);
  /* under mpirun/srun: MPI up, and on ranks > 0 outputs and stdout discarded (cli/mpi.h) */
  int code = hs_cli_mpi_init(argc, argv);
  if (code) return code;
  return hs_cli_mpi_finish(dispatch(argc, argv));
}
