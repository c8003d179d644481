/* hesspec info: version, build options, backends and devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"

static const hs_setting info_options[] = {
    {.name = "device", .type = HS_SET_STRING, HS_SET_FIELD(hs_cli_opts, device), .metavar = "D",
     .help = "the device to select and report: auto | cpu | cuda | cuda:N (default auto)"},
    {0}};

static const hs_setting *const tables[] = {info_options, NULL};

static int run(int argc, char **argv) {
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_cli_binding b[] = {{info_options, &o}};
  if (hs_cli_parse("info", b, 1, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  char *build = hs_build_info();
  printf("hesspec %s\n%s", HS_VERSION, build ? build : "");
  free(build);
  hs_cli_session s;
  int code = hs_cli_open_context("info", &o, &s);
  if (code) return code;
  printf("selected (--device %s): backend %s, device %s\n", o.device, hs_backend_name(s.ctx), hs_device_name(s.ctx));
  hs_cli_close(&s);
  return HS_EXIT_OK;
}

const hs_cli_command hs_cmd_info = {
    .name = "info",
    .run = run,
    .summary = "version, build options, backends and devices",
    .usage = "usage: hesspec info [--device D]\n\n"
             "Prints the version, the compiled-in backends, the devices found and the one\n"
             "--device selects.\n",
    .options = tables};
