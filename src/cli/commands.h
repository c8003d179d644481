/* One entry per subcommand; each lives in src/cli/cmd_<name>.c. */
#ifndef HS_CLI_COMMANDS_H
#define HS_CLI_COMMANDS_H

#include "hesspec.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit code */
  const char *summary;
  const char *usage; /* synopsis and description for `hesspec help NAME`; the options follow */
  /* the command's option tables, the common options first, NULL-terminated: what `run` parses,
   * what `help` lists and what job files are checked against */
  const hs_setting *const *options;
  /* a vocabulary of the library the command also reads (hs_train_config_settings), second
   * after the common options in help, lookups and job files; NULL: none */
  const hs_setting *(*library_options)(void);
  /* 1: never an MPI program. Launched R times by mpirun/srun, it runs as R independent
   * processes (main.c skips hs_cli_mpi_init): `run`, whose workers share a job by claims. */
  int outside_mpi;
  /* Job files (cli/job.c, docs/jobs.md), for commands whose --out is a folder filled over a long
   * run; argv is the task's checked command line from the command's name on, out its --out
   * resolved, out_arg as given. job_done_file: the file written last in it, which marks the
   * task done (caller frees). job_resume_argv: the command line that continues a task a killed
   * worker left half done, NULL-terminated (caller frees the strings and the array), or NULL
   * when there is nothing to continue. NULL hooks: --out itself marks done; no resume. */
  char *(*job_done_file)(int argc, char **argv, const char *out);
  char **(*job_resume_argv)(int argc, char **argv, const char *out, const char *out_arg);
} hs_cli_command;

/* The command called name, NULL if none. */
const hs_cli_command *hs_cli_find_command(const char *name);
/* The command's tables in order (the common options, the library's, the command's own) into
 * out, at most cap: how many. */
size_t hs_cli_command_tables(const hs_cli_command *c, const hs_setting **out, size_t cap);
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
