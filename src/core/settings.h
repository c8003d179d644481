/* Settings tables read from JSON (presets, job files). The tables themselves and their text
 * parsers are public (include/hesspec.h, "option tables"); these readers take a cJSON tree,
 * which the public header does not expose. */
#ifndef HS_CORE_SETTINGS_H
#define HS_CORE_SETTINGS_H

#include <stddef.h>

#include "hesspec.h"

struct cJSON;

/* Parses a JSON value (number, string, bool, or array for lists) into base. */
hs_status hs_setting_from_json(hs_context *ctx, const hs_setting *s, const char *label, const struct cJSON *v, void *base);

#endif
