/* .npy: magic, version, header dict, dtype, shape, payload size; from memory and from a file. */
#include "fuzz_common.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hs_context *ctx = fuzz_ctx();
  hs_npy_array a;
  if (hs_npy_parse(ctx, "fuzz.npy", fuzz_copy(data, size), size, &a) == HS_OK) hs_npy_free(&a);
  if (hs_npy_read(ctx, fuzz_file(data, size, ".npy"), &a) == HS_OK) hs_npy_free(&a);
  return 0;
}
