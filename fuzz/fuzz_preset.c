/* The compare preset (src/analysis/compare_config.c): the settings table read from JSON, then
 * validation and the provenance JSON of whatever was accepted. */
#include "analysis/compare.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hs_cmp_config *cfg = malloc(sizeof *cfg); /* large (kinds, seeds, stages) */
  if (!cfg) abort();
  *cfg = hs_cmp_defaults();
  const char *path = fuzz_file(data, size, ".json");
  if (hs_cmp_load_preset(fuzz_ctx(), path, cfg) == HS_OK && hs_cmp_validate(fuzz_ctx(), cfg) == HS_OK) {
    char *json = hs_cmp_config_json(cfg);
    free(json);
  }
  free(cfg);
  return 0;
}
