#define _GNU_SOURCE
#include "support/cli_fixture.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char hs_cli_dir[256];
char hs_cli_err[4096];

void hs_cli_fixture_setup(const char *tag) {
  snprintf(hs_cli_dir, sizeof hs_cli_dir, "/tmp/hs_%s.XXXXXX", tag);
  cr_assert(mkdtemp(hs_cli_dir), "mkdtemp %s failed", hs_cli_dir);
}

void hs_cli_fixture_teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", hs_cli_dir, hs_cli_dir);
  cr_expect_eq(system(cmd), 0, "could not remove %s", hs_cli_dir);
}

const char *hs_cli_path(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 512, "%s/%s", hs_cli_dir, name);
  return p;
}

void hs_cli_write_text(const char *name, const char *text) {
  FILE *f = fopen(hs_cli_path(name), "w");
  cr_assert(f, "cannot write %s", name);
  fputs(text, f);
  fclose(f);
}

char *hs_cli_read_text(const char *name) {
  FILE *f = fopen(hs_cli_path(name), "r");
  cr_assert(f, "%s is missing", name);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

int hs_cli_exists(const char *name) {
  struct stat sb;
  return stat(hs_cli_path(name), &sb) == 0;
}

const char *hs_cli_bin(void) {
  /* the CLI sits beside the test executable in the build directory */
  static char bin[1024];
  if (bin[0]) return bin;
  ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 16);
  cr_assert(n > 0);
  bin[n] = '\0';
  strcpy(strrchr(bin, '/'), "/hesspec");
  return bin;
}

int hs_cli_run(const char *env, const char *args, const char *extra) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && %s'%s' %s --quiet %s > stdout.txt 2> stderr.txt", hs_cli_dir,
           env ? env : "", hs_cli_bin(), args, extra ? extra : "");
  int rc = system(cmd);
  FILE *f = fopen(hs_cli_path("stderr.txt"), "r");
  size_t len = f ? fread(hs_cli_err, 1, sizeof hs_cli_err - 1, f) : 0;
  hs_cli_err[len] = '\0';
  if (f) fclose(f);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

cJSON *hs_cli_read_json(const char *name) {
  char *t = hs_cli_read_text(name);
  cJSON *j = cJSON_Parse(t);
  free(t);
  cr_assert(j, "%s is not JSON", name);
  return j;
}
