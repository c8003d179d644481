/* The model spec, both forms (MLP keys and the layer list), with shape inference and the
 * validation that follows. */
#include "fuzz_common.h"
#include "io/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hs_model_spec *spec = malloc(sizeof *spec); /* large (HS_MAX_LAYERS entries) */
  if (!spec) abort();
  char *json = fuzz_copy(data, size);
  (void)hs_spec_parse(fuzz_ctx(), "fuzz.json", json, size, spec);
  free(json);
  free(spec);
  return 0;
}
