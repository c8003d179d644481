/* IDX (the Fashion-MNIST files): magic, type, dimensions, payload size. */
#include "fuzz_common.h"
#include "io/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hs_idx x;
  if (hs_idx_read(fuzz_ctx(), fuzz_file(data, size, ".idx"), 1000, &x) == HS_OK) hs_idx_free(&x);
  return 0;
}
