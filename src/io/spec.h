/* Model spec parsing beyond the public hs_spec_load: from a JSON string, or from a cJSON
 * object embedded in a larger document (a job file's "model" entry). */
#ifndef HS_IO_SPEC_H
#define HS_IO_SPEC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "hesspec.h"

/* Widths and dims above this are refused: it keeps P (a sum of products of widths) far
 * from overflow and catches typos such as 1e9. */
#define HS_SPEC_MAX_DIM (1 << 24)

/* `name` (a file name, or "job.json: model") prefixes every message. The result is
 * validated (hs_spec_validate). */
hs_status hs_spec_parse(hs_context *ctx, const char *name, const char *json, size_t len,
                        hs_model_spec *out);
hs_status hs_spec_from_cjson(hs_context *ctx, const char *name, const cJSON *obj,
                             hs_model_spec *out);

/* "malformed JSON at line 3, column 7" or "truncated JSON (unexpected end of input)" for a
 * failed cJSON parse of text[0..len); `where` is the error position that
 * cJSON_ParseWithLengthOpts returns through return_parse_end (thread-safe, unlike
 * cJSON_GetErrorPtr). Shared by every JSON reader so that their messages agree. */
void hs_json_error_str(const char *text, size_t len, const char *where, char *out,
                       size_t outlen);

#endif
