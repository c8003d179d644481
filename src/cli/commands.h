/* One entry per subcommand; each lives in src/cli/cmd_<name>.c. */
#ifndef HS_CLI_COMMANDS_H
#define HS_CLI_COMMANDS_H

#include "core/settings.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit code */
  const char *summary;
  const char *usage; /* synopsis and description for `hesspec help NAME`; the options follow */
  /* the command's option tables, the common options first, NULL-terminated: what `run` parses,
   * what `help` lists and what job files are checked against */
  const hs_setting *const *options;
} hs_cli_command;

/* The command called name, NULL if none. */
const hs_cli_command *hs_cli_find_command(const char *name);
/* The option `name` (without dashes) of `command`, NULL when either is unknown. */
const hs_setting *hs_cli_find_option(const char *command, const char *name);
/* Every command, NULL-terminated. */
extern const hs_cli_command *const hs_cli_commands[];

#define HS_CLI_DECLARE(name) extern const hs_cli_command hs_cmd_##name

HS_CLI_DECLARE(info);
HS_CLI_DECLARE(loss);
HS_CLI_DECLARE(hvp);
HS_CLI_DECLARE(spectrum);
HS_CLI_DECLARE(eig);
HS_CLI_DECLARE(trace);
HS_CLI_DECLARE(plot);
HS_CLI_DECLARE(train);
HS_CLI_DECLARE(compare);
HS_CLI_DECLARE(landscape);
HS_CLI_DECLARE(optimum);
HS_CLI_DECLARE(critical);
HS_CLI_DECLARE(run);

#endif
