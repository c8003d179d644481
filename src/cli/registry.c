/* The command table and lookups by name (for dispatch, help and job files). */
#include <stddef.h>
#include <string.h>

#include "cli/commands.h"

/* The command table: add one line per command. */
const hs_cli_command *const hs_cli_commands[] = {
    &hs_cmd_info,
    &hs_cmd_loss,
    &hs_cmd_hvp,
    &hs_cmd_spectrum,
    &hs_cmd_eig,
    &hs_cmd_trace,
    &hs_cmd_plot,
    &hs_cmd_train,
    &hs_cmd_compare,
    &hs_cmd_landscape,
    &hs_cmd_optimum,
    &hs_cmd_critical,
    &hs_cmd_run,
    NULL,
};

const hs_cli_command *hs_cli_find_command(const char *name) {
  for (size_t i = 0; hs_cli_commands[i]; i++)
    if (strcmp(hs_cli_commands[i]->name, name) == 0) return hs_cli_commands[i];
  return NULL;
}

const hs_setting *hs_cli_find_option(const char *command, const char *name) {
  const hs_cli_command *c = hs_cli_find_command(command);
  if (!c || !c->options) return NULL;
  for (size_t t = 0; c->options[t]; t++) {
    const hs_setting *s = hs_setting_find(c->options[t], name, 0);
    if (s) return s;
  }
  return NULL;
}
