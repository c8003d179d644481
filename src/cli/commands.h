/* One entry per subcommand; each lives in src/cli/cmd_<name>.c. */
#ifndef HS_CLI_COMMANDS_H
#define HS_CLI_COMMANDS_H

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit code */
  const char *summary;
  const char *usage; /* the full text of `hesspec help NAME` */
} hs_cli_command;

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

#endif
