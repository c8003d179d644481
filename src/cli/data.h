/* Loading the data of the common options: --inputs/--targets .npy files or --dataset NAME. */
#ifndef HS_CLI_DATA_H
#define HS_CLI_DATA_H

#include "cli/common.h"

/* Builds the dataset for spec (shapes checked against it, naming the file). desc receives a
 * provenance string. */
hs_status hs_cli_load_data(hs_context *ctx, const hs_cli_opts *o, const hs_model_spec *spec,
                           hs_dataset **out, char *desc, size_t desclen);

#endif
