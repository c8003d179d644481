/* Pieces every JSON result file shares (density, eig, trace, landscape, optimum): the
 * provenance keys of DESIGN.md "Output files" and the atomic write of a cJSON tree. */
#ifndef HS_IO_RESULT_JSON_H
#define HS_IO_RESULT_JSON_H

#include <cjson/cJSON.h>

#include "io/density.h"

/* Adds the provenance keys (hesspec_version, command, operator, model, weights, data, dtype,
 * backend, device, seed, elapsed_seconds, created) at the top level of o. */
void hs_json_add_provenance(cJSON *o, const hs_provenance *p);
/* Prints root (indented, newline-terminated) and writes it atomically to path. */
hs_status hs_json_write(hs_context *ctx, const char *path, const cJSON *root);

#endif
