/* The density file reader ("hesspec.density/1"): JSON shape, arrays and their lengths. */
#include "fuzz_common.h"
#include "io/density.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hs_density_file f;
  memset(&f, 0, sizeof f);
  if (hs_density_read(fuzz_ctx(), fuzz_file(data, size, ".json"), &f) == HS_OK) hs_density_file_free(&f);
  return 0;
}
