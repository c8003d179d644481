/* hesspec info: version, build options, backends and devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"

static int run(int argc, char **argv) {
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  for (int i = 1; i < argc; i++) {
    int r = hs_cli_parse_common("info", &o, argc, argv, &i);
    if (r < 0) return HS_EXIT_USAGE;
    if (r == 0) return hs_cli_usage("info", "unknown option '%s'", argv[i]);
  }
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

const hs_cli_command hs_cmd_info = {"info", run, "version, build options, backends and devices",
                                    "usage: hesspec info [--device D]\n\n"
                                    "Prints the version, the compiled-in backends, the devices found and the one\n"
                                    "--device selects.\n"};
