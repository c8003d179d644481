#include "cli/options.h"

#include <stdio.h>
#include <string.h>

#include "cli/common.h"

static const hs_setting *lookup(const hs_cli_binding *b, size_t nb, const char *name, void **base) {
  for (size_t i = 0; i < nb; i++) {
    const hs_setting *s = hs_setting_find(b[i].table, name, 0);
    if (s) {
      *base = b[i].base;
      return s;
    }
  }
  return NULL;
}

int hs_cli_parse(const char *cmd, const hs_cli_binding *b, size_t nb, int argc, char **argv, size_t max_positional,
                 hs_cli_parsed *parsed) {
  hs_cli_parsed local;
  if (!parsed) parsed = &local;
  memset(parsed, 0, sizeof *parsed);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] != '-' || !a[2]) {
      if (a[0] == '-' && a[1]) return hs_cli_usage(cmd, "unknown option '%s' (options are --long-names)", a);
      if (parsed->n_positional == max_positional)
        return hs_cli_usage(cmd, max_positional ? "too many arguments: '%s'" : "unexpected argument '%s'", a);
      parsed->positional[parsed->n_positional++] = a;
      continue;
    }
    char name[128];
    const char *eq = strchr(a + 2, '='), *value = NULL;
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (len >= sizeof name) return hs_cli_usage(cmd, "unknown option '%.60s...'", a);
    memcpy(name, a + 2, len);
    name[len] = '\0';
    void *base = NULL;
    const hs_setting *s = lookup(b, nb, name, &base);
    if (!s) return hs_cli_usage(cmd, "unknown option '--%s' (see `hesspec help %s`)", name, cmd);
    char label[160];
    snprintf(label, sizeof label, "--%s", name);
    if (!hs_setting_takes_value(s)) {
      if (eq) return hs_cli_usage(cmd, "%s takes no value", label);
    } else if (eq) {
      value = eq + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      char hint[256];
      return hs_cli_usage(cmd, "%s needs a value (%s)", label, hs_setting_value_hint(s, hint, sizeof hint));
    }
    char msg[1024];
    if (hs_setting_from_text_msg(msg, sizeof msg, s, label, value, base) != HS_OK) return hs_cli_usage(cmd, "%s", msg);
    if (parsed->n_given < HS_CLI_MAX_GIVEN) parsed->given[parsed->n_given++] = s;
  }
  return 0;
}

int hs_cli_given(const hs_cli_parsed *p, const char *name) {
  for (size_t i = 0; i < p->n_given; i++)
    if (p->given[i]->name && strcmp(p->given[i]->name, name) == 0) return 1;
  return 0;
}

void hs_cli_print_options(FILE *f, const hs_setting *table) {
  for (const hs_setting *s = table; s->name || s->key; s++) {
    if (!s->name || !s->help) continue;
    char hint[256], head[320];
    const char *h = hs_setting_value_hint(s, hint, sizeof hint);
    snprintf(head, sizeof head, "--%s%s%s", s->name, *h ? " " : "", h);
    /* help text may run over several lines: indent the continuation under the first */
    const char *line = s->help;
    int first = 1;
    while (*line) {
      const char *nl = strchr(line, '\n');
      int n = nl ? (int)(nl - line) : (int)strlen(line);
      if (first && strlen(head) <= 22) fprintf(f, "  %-22s %.*s\n", head, n, line);
      else if (first) fprintf(f, "  %s\n  %-22s %.*s\n", head, "", n, line);
      else fprintf(f, "  %-22s %.*s\n", "", n, line);
      first = 0;
      line = nl ? nl + 1 : line + n;
    }
  }
}
