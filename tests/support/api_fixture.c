#include "support/api_fixture.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

const char *const HS_API_SPEC_LAYERS =
    "{\"input_shape\": [6], \"layers\": [{\"type\": \"linear\", \"out_features\": 8},"
    " {\"type\": \"batchnorm\"}, {\"type\": \"tanh\"},"
    " {\"type\": \"residual\", \"body\": [{\"type\": \"linear\", \"out_features\": 8}, {\"type\": \"relu\"}]},"
    " {\"type\": \"linear\", \"out_features\": 3}], \"batchnorm_mode\": \"batch\", \"loss\": \"cross_entropy\"}";

void hs_api_make_model(hs_context *ctx, hs_model **model, hs_dataset **data, double **X, int32_t **labels) {
  cr_assert_eq(hs_model_create_json(ctx, HS_API_SPEC_LAYERS, "layers.json", model), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_init(*model, HS_API_SEED), HS_OK);
  *X = hs_test_vec(HS_API_SAMPLES * 6, 11);
  *labels = malloc(HS_API_SAMPLES * sizeof **labels);
  for (int i = 0; i < HS_API_SAMPLES; i++) (*labels)[i] = (i * 7 + 3) % 3;
  cr_assert_eq(hs_dataset_create(ctx, HS_API_SAMPLES, 6, *X, 3, *labels, NULL, data), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_bind(*model, *data, 0), HS_OK, "%s", hs_last_error(ctx));
  hs_cli_write_text("spec.json", HS_API_SPEC_LAYERS);
  size_t dx[2] = {HS_API_SAMPLES, 6}, dy[1] = {HS_API_SAMPLES};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, *X, 2, dx), HS_OK);
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("Y.npy"), HS_NPY_I4, *labels, 1, dy), HS_OK);
}

void hs_api_free_model(hs_model **model, hs_dataset **data, double **X, int32_t **labels) {
  hs_model_destroy(*model);
  hs_dataset_destroy(*data);
  free(*X);
  free(*labels);
  *model = NULL, *data = NULL, *X = NULL, *labels = NULL;
}

int hs_api_same_bits(const double *a, const double *b, size_t n) { return n == 0 || memcmp(a, b, n * sizeof *a) == 0; }

int hs_api_json_close(const double *a, const double *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(a[i] == b[i] || fabs(a[i] - b[i]) <= 4.5e-16 * fabs(b[i]) || (isnan(a[i]) && isnan(b[i])))) return 0;
  return 1;
}

void hs_api_drop_clock_fields(cJSON *j) {
  const char *clock[] = {"elapsed_seconds", "created", "timing", "evaluation_seconds"};
  for (size_t i = 0; i < sizeof clock / sizeof *clock; i++) cJSON_DeleteItemFromObjectCaseSensitive(j, clock[i]);
  cJSON *blocks = cJSON_GetObjectItemCaseSensitive(j, "blocks");
  cJSON *b;
  if (cJSON_IsArray(blocks)) cJSON_ArrayForEach(b, blocks) hs_api_drop_clock_fields(b);
}

int hs_api_same_file(const char *a, const char *b) {
  cJSON *x = hs_cli_read_json(a), *y = hs_cli_read_json(b);
  hs_api_drop_clock_fields(x);
  hs_api_drop_clock_fields(y);
  int same = cJSON_Compare(x, y, 1);
  cJSON_Delete(x);
  cJSON_Delete(y);
  return same;
}

char *hs_api_data_source(const char *file) {
  cJSON *j = hs_cli_read_json(file);
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), "source");
  cr_assert(cJSON_IsString(src), "%s: no data.source", file);
  char *s = strdup(src->valuestring);
  cJSON_Delete(j);
  return s;
}
