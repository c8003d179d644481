/* Settings tables (src/core/settings.h) and the command line read through them (src/cli/options.h):
 * exact names, types, ranges, lists, JSON, and the command registry's tables. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"
#include "core/context.h"
#include "core/settings.h"

typedef struct {
  uint64_t seed, seed_probes;
  size_t steps;
  int small, flag, keep;
  double sigma;
  const char *path;
  char buf[8];
  int mode;
  size_t n_list;
  size_t list[3];
} demo;

static const hs_setting_choice modes[] = {{"full", 3}, {"partial", 7}, {NULL, 0}};

static const hs_setting demo_table[] = {
    {.name = "seed", .key = "seed", .type = HS_SET_UINT, HS_SET_FIELD(demo, seed)},
    {.name = "seed-probes", .type = HS_SET_UINT, HS_SET_FIELD(demo, seed_probes)},
    {.name = "steps", .key = "x.steps", .type = HS_SET_UINT, HS_SET_FIELD(demo, steps), .bounds = HS_SET_MIN | HS_SET_MAX,
     .min = 2, .max = 10},
    {.name = "small", .type = HS_SET_UINT, HS_SET_FIELD(demo, small)},
    {.name = "flag", .type = HS_SET_FLAG, HS_SET_FIELD(demo, flag)},
    {.name = "no-keep", .key = "keep", .type = HS_SET_FLAG, HS_SET_FIELD(demo, keep), .flag_off = 1},
    {.name = "sigma", .type = HS_SET_DOUBLE, HS_SET_FIELD(demo, sigma), .bounds = HS_SET_MIN | HS_SET_MIN_OPEN, .min = 0},
    {.name = "path", .type = HS_SET_STRING, HS_SET_FIELD(demo, path)},
    {.name = "buf", .key = "buf", .type = HS_SET_STRBUF, HS_SET_FIELD(demo, buf)},
    {.name = "mode", .type = HS_SET_CHOICE, HS_SET_FIELD(demo, mode), .choices = modes},
    {.name = "list", .key = "list", .type = HS_SET_UINT, HS_SET_LIST(demo, list, n_list), .bounds = HS_SET_MAX, .max = 100},
    {0}};

static hs_context msg;

static hs_status text(const char *name, const char *value, demo *d) {
  memset(&msg, 0, sizeof msg);
  const hs_setting *s = hs_setting_find(demo_table, name, 0);
  cr_assert(s, "no setting %s", name);
  return hs_setting_from_text(&msg, s, name, value, d);
}

Test(settings, names_match_exactly_so_a_longer_name_never_sets_a_shorter_one) {
  demo d = {0};
  cr_assert_eq(text("seed-probes", "7", &d), HS_OK);
  cr_assert_eq(d.seed, 0);
  cr_assert_eq(d.seed_probes, 7);
  cr_assert_null(hs_setting_find(demo_table, "see", 0));
  cr_assert_null(hs_setting_find(demo_table, "seeds", 0));
  cr_assert_null(hs_setting_find(demo_table, "x.steps", 0), "keys and names are separate namespaces");
  cr_assert_eq(hs_setting_find(demo_table, "x.steps", 1), &demo_table[2]);
}

Test(settings, integers_are_checked_for_syntax_sign_range_and_field_width) {
  demo d = {0};
  cr_assert_eq(text("steps", "10", &d), HS_OK);
  cr_assert_eq(d.steps, 10);
  cr_assert_eq(text("steps", "11", &d), HS_E_INVALID);
  cr_assert(strstr(msg.errmsg, "<= 10"), "%s", msg.errmsg);
  cr_assert_eq(text("steps", "1", &d), HS_E_INVALID);
  cr_assert(strstr(msg.errmsg, ">= 2"), "%s", msg.errmsg);
  cr_assert_eq(d.steps, 10, "a rejected value leaves the field");
  cr_assert_eq(text("steps", "-3", &d), HS_E_INVALID);
  cr_assert_eq(text("steps", "4x", &d), HS_E_INVALID);
  cr_assert(strstr(msg.errmsg, "'4x'"), "%s", msg.errmsg);
  cr_assert_eq(text("steps", "", &d), HS_E_INVALID);
  cr_assert_eq(text("small", "2147483647", &d), HS_OK);
  cr_assert_eq(d.small, 2147483647);
  cr_assert_eq(text("small", "2147483648", &d), HS_E_INVALID, "an int field never turns negative");
  cr_assert_eq(text("seed", "18446744073709551615", &d), HS_OK);
  cr_assert_eq(d.seed, UINT64_MAX);
}

Test(settings, doubles_flags_strings_and_choices) {
  demo d = {.keep = 1};
  cr_assert_eq(text("sigma", "0.25", &d), HS_OK);
  cr_assert_eq(d.sigma, 0.25);
  cr_assert_eq(text("sigma", "0", &d), HS_E_INVALID, "open lower bound");
  cr_assert_eq(text("sigma", "nan", &d), HS_E_INVALID);
  cr_assert_eq(text("sigma", "1e999", &d), HS_E_INVALID);
  cr_assert_eq(text("flag", NULL, &d), HS_OK);
  cr_assert_eq(d.flag, 1);
  cr_assert_eq(text("no-keep", NULL, &d), HS_OK);
  cr_assert_eq(d.keep, 0);
  /* a flag by key takes JSON's true/false as text: "false" is off, whatever else is refused */
  cr_assert_eq(text("flag", "false", &d), HS_OK);
  cr_assert_eq(d.flag, 0);
  cr_assert_eq(text("flag", "1", &d), HS_OK);
  cr_assert_eq(d.flag, 1);
  cr_assert_eq(text("flag", "maybe", &d), HS_E_INVALID);
  cr_assert_eq(d.flag, 1, "a refused value changes nothing");
  cr_assert_eq(text("no-keep", "true", &d), HS_OK);
  cr_assert_eq(d.keep, 0, "true applies a clearing flag, as in JSON");
  cr_assert_eq(text("no-keep", "false", &d), HS_OK);
  cr_assert_eq(d.keep, 1);
  cr_assert_eq(text("no-keep", NULL, &d), HS_OK);
  cr_assert_eq(text("mode", "partial", &d), HS_OK);
  cr_assert_eq(d.mode, 7);
  cr_assert_eq(text("mode", "ful", &d), HS_E_INVALID);
  cr_assert(strstr(msg.errmsg, "full, partial"), "%s", msg.errmsg);
  cr_assert_eq(text("buf", "1234567", &d), HS_OK);
  cr_assert_str_eq(d.buf, "1234567");
  cr_assert_eq(text("buf", "12345678", &d), HS_E_INVALID, "one byte is the terminator");
}

Test(settings, lists_from_text_check_every_element_and_the_capacity) {
  demo d = {0};
  cr_assert_eq(text("list", "4,5,6", &d), HS_OK);
  cr_assert_eq(d.n_list, 3);
  cr_assert_eq(d.list[2], 6);
  cr_assert_eq(text("list", "1,2,3,4", &d), HS_E_INVALID);
  cr_assert(strstr(msg.errmsg, "at most 3"), "%s", msg.errmsg);
  cr_assert_eq(text("list", "1,,2", &d), HS_E_INVALID);
  cr_assert_eq(text("list", "1,200", &d), HS_E_INVALID);
  cr_assert_eq(d.n_list, 3, "a rejected list leaves the count");
  cr_assert(d.list[0] == 4 && d.list[1] == 5 && d.list[2] == 6, "and the elements: %zu %zu %zu", d.list[0], d.list[1],
            d.list[2]);
  cr_assert_eq(text("list", "9", &d), HS_OK);
  cr_assert_eq(d.n_list, 1);
}

Test(settings, json_values_are_typed) {
  demo d = {.keep = 1};
  cJSON *root = cJSON_Parse("{\"seed\": 5, \"neg\": -1, \"frac\": 2.5, \"keep\": true, \"buf\": \"ab\", "
                            "\"list\": [1, 2], \"bad_list\": [1, \"x\"], \"str\": \"5\"}");
  cr_assert(root);
  memset(&msg, 0, sizeof msg);
  const hs_setting *seed = hs_setting_find(demo_table, "seed", 1), *keep = hs_setting_find(demo_table, "keep", 1),
                   *list = hs_setting_find(demo_table, "list", 1), *buf = hs_setting_find(demo_table, "buf", 1);
  cr_assert_eq(hs_setting_from_json(&msg, seed, "seed", cJSON_GetObjectItem(root, "seed"), &d), HS_OK);
  cr_assert_eq(d.seed, 5);
  cr_assert_eq(hs_setting_from_json(&msg, seed, "seed", cJSON_GetObjectItem(root, "neg"), &d), HS_E_INVALID);
  cr_assert_eq(hs_setting_from_json(&msg, seed, "seed", cJSON_GetObjectItem(root, "frac"), &d), HS_E_INVALID);
  cr_assert_eq(hs_setting_from_json(&msg, seed, "seed", cJSON_GetObjectItem(root, "str"), &d), HS_E_INVALID,
               "a number written as a string is not a number");
  cr_assert_eq(hs_setting_from_json(&msg, keep, "keep", cJSON_GetObjectItem(root, "keep"), &d), HS_OK);
  cr_assert_eq(d.keep, 0, "true for a clearing flag clears");
  cr_assert_eq(hs_setting_from_json(&msg, buf, "buf", cJSON_GetObjectItem(root, "buf"), &d), HS_OK);
  cr_assert_str_eq(d.buf, "ab");
  cr_assert_eq(hs_setting_from_json(&msg, list, "list", cJSON_GetObjectItem(root, "list"), &d), HS_OK);
  cr_assert_eq(d.n_list, 2);
  cr_assert_eq(hs_setting_from_json(&msg, list, "list", cJSON_GetObjectItem(root, "bad_list"), &d), HS_E_INVALID);
  cr_assert(d.n_list == 2 && d.list[0] == 1, "a rejected array changes nothing");
  /* the public check takes the value's JSON text (job files hand over what they hold) */
  cr_assert_eq(hs_setting_check_json(&msg, list, "list", "[1, \"x\"]"), HS_E_INVALID);
  cr_assert_eq(hs_setting_check_json(&msg, list, "list", "5"), HS_E_INVALID, "a list must be an array");
  cr_assert_eq(hs_setting_check_json(&msg, list, "list", "[7, 8, 9]"), HS_OK);
  cr_assert_eq(hs_setting_check_json(&msg, list, "list", "[1, 2, 3, 4]"), HS_E_INVALID, "capacity 3");
  cr_assert_eq(hs_setting_check_json(&msg, seed, "seed", "\"5\""), HS_E_INVALID, "a string is not a number");
  cr_assert_eq(hs_setting_check_json(&msg, seed, "'seed'", "[1,"), HS_E_INVALID);
  cr_assert(strstr(msg.errmsg, "'seed'") && strstr(msg.errmsg, "not a JSON value"), "%s", msg.errmsg);
  cr_assert_eq(d.n_list, 2, "checking stores nothing");
  cr_assert_eq(d.list[0], 1);
  cJSON_Delete(root);
}

Test(settings, numbers_and_choice_names_read_back_what_was_set) {
  demo d = {0};
  double x = -1;
  cr_assert_eq(text("steps", "7", &d), HS_OK);
  cr_assert_eq(text("small", "4000000000", &d), HS_E_INVALID, "an int field stops at INT32_MAX");
  cr_assert_eq(text("small", "2147483647", &d), HS_OK);
  cr_assert_eq(text("mode", "partial", &d), HS_OK);
  cr_assert_eq(text("sigma", "0.25", &d), HS_OK);
  cr_assert_eq(hs_setting_number(&msg, hs_setting_find(demo_table, "steps", 0), &d, &x), HS_OK);
  cr_assert_eq(x, 7);
  cr_assert_eq(hs_setting_number(&msg, hs_setting_find(demo_table, "small", 0), &d, &x), HS_OK);
  cr_assert_eq(x, 2147483647.0);
  cr_assert_eq(hs_setting_number(&msg, hs_setting_find(demo_table, "sigma", 0), &d, &x), HS_OK);
  cr_assert_eq(x, 0.25);
  const hs_setting *mode = hs_setting_find(demo_table, "mode", 0);
  cr_assert_eq(hs_setting_number(&msg, mode, &d, &x), HS_OK);
  cr_assert_eq(x, 7);
  cr_assert_str_eq(hs_setting_choice_name(mode, (int)x), "partial");
  cr_assert_null(hs_setting_choice_name(mode, 5), "a value that is no choice has no name");
  cr_assert_null(hs_setting_choice_name(hs_setting_find(demo_table, "steps", 0), 7), "not a choice setting");
  cr_assert_eq(hs_setting_number(&msg, hs_setting_find(demo_table, "list", 0), &d, &x), HS_E_INVALID, "a list");
  cr_assert_eq(hs_setting_number(&msg, hs_setting_find(demo_table, "buf", 0), &d, &x), HS_E_INVALID, "text");
}

Test(settings, the_command_line_parser_takes_both_value_forms_and_names_bad_input) {
  demo d = {0};
  hs_cli_binding b[] = {{demo_table, &d}};
  char *argv[] = {"demo", "--steps", "3", "--sigma=0.5", "--flag", "pos1", NULL};
  hs_cli_parsed p;
  cr_assert_eq(hs_cli_parse("demo", b, 1, 6, argv, 1, &p), 0);
  cr_assert_eq(d.steps, 3);
  cr_assert_eq(d.sigma, 0.5);
  cr_assert_eq(d.flag, 1);
  cr_assert_eq(p.n_positional, 1);
  cr_assert_str_eq(p.positional[0], "pos1");
  cr_assert(hs_cli_given(&p, "sigma"));
  cr_assert(!hs_cli_given(&p, "seed"));
  char *bad1[] = {"demo", "--seeds", "3"};
  cr_assert_eq(hs_cli_parse("demo", b, 1, 3, bad1, 0, NULL), HS_EXIT_USAGE);
  char *bad2[] = {"demo", "--steps"};
  cr_assert_eq(hs_cli_parse("demo", b, 1, 2, bad2, 0, NULL), HS_EXIT_USAGE);
  char *bad3[] = {"demo", "--flag=1"};
  cr_assert_eq(hs_cli_parse("demo", b, 1, 2, bad3, 0, NULL), HS_EXIT_USAGE);
  char *bad4[] = {"demo", "stray"};
  cr_assert_eq(hs_cli_parse("demo", b, 1, 2, bad4, 0, NULL), HS_EXIT_USAGE);
  char *bad5[] = {"demo", "-s", "3"};
  cr_assert_eq(hs_cli_parse("demo", b, 1, 3, bad5, 0, NULL), HS_EXIT_USAGE);
}

/* Every command: its tables are well formed and no option name is defined twice (the parser
 * would silently take the first). */
Test(settings, every_command_table_is_well_formed_with_unique_names) {
  size_t commands = 0;
  for (size_t c = 0; hs_cli_commands[c]; c++, commands++) {
    const hs_cli_command *cmd = hs_cli_commands[c];
    const hs_setting *tables[8];
    size_t n = hs_cli_command_tables(cmd, tables, 8);
    cr_assert(n, "%s has no option tables", cmd->name);
    for (size_t t = 0; t < n; t++)
      for (const hs_setting *s = tables[t]; s->name || s->key; s++) {
        cr_assert(s->size > 0, "%s: %s has no field", cmd->name, s->name ? s->name : s->key);
        if (s->type == HS_SET_CHOICE) cr_assert(s->choices, "%s: %s has no choices", cmd->name, s->name);
        if (s->type == HS_SET_CUSTOM) cr_assert(s->parse, "%s: %s has no parser", cmd->name, s->name);
        if (s->type == HS_SET_FLAG || s->type == HS_SET_CHOICE) cr_assert_eq(s->size, sizeof(int));
        if (!s->name) continue;
        cr_assert(s->help, "%s: --%s has no help line", cmd->name, s->name);
        cr_assert_eq(hs_cli_find_option(cmd->name, s->name), s, "%s: --%s is defined twice", cmd->name, s->name);
      }
  }
  cr_assert_geq(commands, 9);
  cr_assert_null(hs_cli_find_option("spectrum", "seeds"));
  cr_assert_null(hs_cli_find_option("nosuch", "out"));
  cr_assert_eq(hs_cli_find_option("spectrum", "steps")->type, HS_SET_UINT);
  cr_assert_eq(hs_cli_find_option("train", "save-epochs")->list_max, 64);
  cr_assert_eq(hs_cli_find_option("eig", "out"), hs_setting_find(hs_cli_common_options, "out", 0));
}
