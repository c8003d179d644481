/* hesspec <command> [options]: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"

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

int main(int argc, char **argv) {
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
