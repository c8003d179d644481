/* The command line read through settings tables (src/core/settings.h): each command lists its
 * tables (the common options first), and the same tables answer `hesspec help` and the job
 * files' question "does this command take this option, and of what type?". */
#ifndef HS_CLI_OPTIONS_H
#define HS_CLI_OPTIONS_H

#include <stdio.h>

#include "hesspec.h"

/* A table and the struct its offsets point into. */
typedef struct {
  const hs_setting *table;
  void *base;
} hs_cli_binding;

#define HS_CLI_MAX_GIVEN 64
#define HS_CLI_MAX_POSITIONAL 16

/* What a parse saw: the settings given (in order; repeats included), and bare arguments. */
typedef struct {
  const hs_setting *given[HS_CLI_MAX_GIVEN];
  size_t n_given;
  const char *positional[HS_CLI_MAX_POSITIONAL];
  size_t n_positional;
} hs_cli_parsed;

/* Parses argv[1..argc) ("--name VALUE", "--name=VALUE", "--flag") into the bindings; names
 * match exactly. max_positional bare arguments are accepted (0: none). Returns 0, or prints
 * "hesspec CMD: ..." naming the option and value and returns 2 (HS_EXIT_USAGE). `parsed` may
 * be NULL. */
int hs_cli_parse(const char *cmd, const hs_cli_binding *b, size_t nb, int argc, char **argv, size_t max_positional,
                 hs_cli_parsed *parsed);
/* Was the option `name` (command-line name, no dashes) given? */
int hs_cli_given(const hs_cli_parsed *p, const char *name);
/* The help lines of a table ("  --steps M   Lanczos steps ..."), for `hesspec help`. */
void hs_cli_print_options(FILE *f, const hs_setting *table);

#endif
