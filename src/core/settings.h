/* Settings tables: one descriptor per option of a command or key of a preset, {name, type,
 * field, range}, from which the command line, presets, job files and `hesspec help` are all
 * read. Names match exactly (no prefixes, no first-letter tests), so adding --seed-probes
 * next to --seed cannot change what --seed means.
 *
 * A table is an array of hs_setting ended by an entry with name == NULL and key == NULL. The
 * field is at `offset` bytes from a base pointer the caller supplies (the struct the table
 * describes), `size` bytes wide, so one table serves every instance. */
#ifndef HS_CORE_SETTINGS_H
#define HS_CORE_SETTINGS_H

#include <stddef.h>

#include "hesspec.h"

struct cJSON;

typedef enum {
  HS_SET_FLAG,     /* int: a command-line flag sets it to 1 (flag_off: to 0); JSON true/false */
  HS_SET_UINT,     /* unsigned integer of `size` bytes (size_t, uint64_t, int, unsigned) */
  HS_SET_DOUBLE,   /* double */
  HS_SET_STRING,   /* const char *: borrowed from argv (or the cJSON tree: copy before freeing it) */
  HS_SET_STRBUF,   /* char[size]: copied; too long is an error */
  HS_SET_CHOICE,   /* int: the value of the named choice */
  HS_SET_CUSTOM,   /* parsed by `parse` (text; JSON strings are passed as text) */
} hs_setting_type;

typedef struct hs_setting_choice {
  const char *name;
  int value;
} hs_setting_choice;

/* bounds: which of min/max apply, and whether they are strict */
enum { HS_SET_MIN = 1, HS_SET_MAX = 2, HS_SET_MIN_OPEN = 4, HS_SET_MAX_OPEN = 8 };

typedef struct hs_setting hs_setting;
/* Parses one value (one list element for lists) into `field`. `label` names it in messages
 * ("--kinds", "preset.json: 'kinds'"). HS_E_INVALID with the message in ctx when bad. */
typedef hs_status (*hs_setting_parse_fn)(hs_context *ctx, const hs_setting *s, const char *label, const char *text,
                                         void *field);

struct hs_setting {
  const char *name;    /* command-line name without the dashes ("steps"); also the job-file key.
                          NULL: not on the command line */
  const char *key;     /* preset key ("analysis.slq_steps"); NULL: not in presets */
  hs_setting_type type;
  size_t offset, size; /* the field (HS_SET_FIELD); for lists the array, size = one element */
  int bounds;          /* HS_SET_MIN | HS_SET_MAX | ..._OPEN */
  double min, max;
  int flag_off;        /* HS_SET_FLAG: the flag clears the field (--no-keep-last) */
  const hs_setting_choice *choices; /* HS_SET_CHOICE: ended by {NULL, 0} */
  hs_setting_parse_fn parse;        /* HS_SET_CUSTOM */
  /* lists: a comma-separated value on the command line, a JSON array in files. The field is an
   * array of list_max elements; the element count goes to the unsigned field at count_offset,
   * count_size bytes wide. list_max == 0: a single value. */
  size_t list_max, count_offset, count_size;
  const char *metavar; /* "M" in "--steps M" */
  const char *help;    /* one line (or several, '\n'-separated) for `hesspec help` */
};

/* offset and size of a member, for hs_setting's offset/size pair */
#define HS_SET_FIELD(T, m) .offset = offsetof(T, m), .size = sizeof(((T *)0)->m)
/* an array member as a list: element size, capacity, and where the count goes */
#define HS_SET_LIST(T, m, n)                                                                             \
  .offset = offsetof(T, m), .size = sizeof(((T *)0)->m[0]),                                              \
  .list_max = sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]), .count_offset = offsetof(T, n),             \
  .count_size = sizeof(((T *)0)->n)

/* The entry named `name` (command-line name, or preset key when by_key), NULL if none. */
const hs_setting *hs_setting_find(const hs_setting *table, const char *name, int by_key);
/* Does the setting take a value on the command line (everything but flags)? */
int hs_setting_takes_value(const hs_setting *s);
/* Parses a command-line value (NULL for flags) into base. HS_E_INVALID naming label when bad. */
hs_status hs_setting_from_text(hs_context *ctx, const hs_setting *s, const char *label, const char *text, void *base);
/* The same for a caller without a context (a command line parsed before one exists): the
 * message goes to msg (msglen bytes; custom parsers get a context that only holds it). */
hs_status hs_setting_from_text_msg(char *msg, size_t msglen, const hs_setting *s, const char *label, const char *text,
                                   void *base);
/* Parses a JSON value (number, string, bool, or array for lists) into base. */
hs_status hs_setting_from_json(hs_context *ctx, const hs_setting *s, const char *label, const struct cJSON *v, void *base);
/* Checks a JSON value's type and range without storing it (job-file validation). */
hs_status hs_setting_check_json(hs_context *ctx, const hs_setting *s, const char *label, const struct cJSON *v);
/* "full|partial" for choices, else the metavar or a word for the type. Static or s's strings. */
const char *hs_setting_value_hint(const hs_setting *s, char *buf, size_t cap);

#endif
