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

size_t hs_cli_command_tables(const hs_cli_command *c, const hs_setting **out, size_t cap) {
  size_t n = 0;
  for (size_t t = 0; c->options && c->options[t] && n < cap; t++) {
    out[n++] = c->options[t];
    if (t == 0 && c->library_options && n < cap) out[n++] = c->library_options();
  }
  return n;
}

const hs_setting *hs_cli_find_option(const char *command, const char *name) {
  const hs_cli_command *c = hs_cli_find_command(command);
  if (!c) return NULL;
  const hs_setting *tables[8];
  size_t n = hs_cli_command_tables(c, tables, 8);
  for (size_t t = 0; t < n; t++) {
    const hs_setting *s = hs_setting_find(tables[t], name, 0);
    if (s) return s;
  }
  return NULL;
}
