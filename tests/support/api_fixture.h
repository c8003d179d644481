/* The public-API suites' model (test_api, test_api_blocks): a small layer-form net with every
 * kind the Hessian has second-order terms for, its data, and the same written as files for
 * the CLI; and the comparisons of numbers and result files they share. */
#ifndef HS_API_FIXTURE_H
#define HS_API_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

struct cJSON;

/* linear 6->8, batch norm, tanh, residual(linear 8->8, relu), linear 8->3; cross entropy */
extern const char *const HS_API_SPEC_LAYERS;
enum { HS_API_SAMPLES = 40, HS_API_SEED = 7 };

/* The model of HS_API_SPEC_LAYERS with the seeded default initialisation of HS_API_SEED (as the
 * CLI makes it without --weights, --seed 7), bound to HS_API_SAMPLES random samples (*X and
 * *labels, caller frees), also written as spec.json, X.npy and Y.npy in the CLI folder. */
void hs_api_make_model(hs_context *ctx, hs_model **model, hs_dataset **data, double **X, int32_t **labels);
/* Frees what hs_api_make_model made (any of it NULL) and sets every pointer to NULL. */
void hs_api_free_model(hs_model **model, hs_dataset **data, double **X, int32_t **labels);

int hs_api_same_bits(const double *a, const double *b, size_t n);
/* Equal to the last bit or two: cJSON prints a number with 15 digits when they read back
 * within DBL_EPSILON relative, so a file's numbers round-trip to about one ulp, not exactly. */
int hs_api_json_close(const double *a, const double *b, size_t n);
/* Drops the fields that hold a clock reading, so two runs' files compare equal. */
void hs_api_drop_clock_fields(struct cJSON *j);
/* The data description a CLI result file records (its data.source; caller frees). */
char *hs_api_data_source(const char *file);
/* Two result files equal apart from their clock fields (and, recursively, their blocks'). */
int hs_api_same_file(const char *a, const char *b);

#endif
