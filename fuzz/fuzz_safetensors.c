/* safetensors: the 8-byte length, the JSON header, offsets, dtypes, metadata; then every
 * tensor converted to doubles. */
#include "fuzz_common.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hs_context *ctx = fuzz_ctx();
  hs_safetensors st;
  if (hs_st_parse(ctx, "fuzz.safetensors", fuzz_copy(data, size), size, &st) != HS_OK) return 0;
  for (size_t i = 0; i < st.n; i++) {
    double *out = malloc((st.tensors[i].count + 1) * sizeof *out);
    if (out && hs_st_read_f64(ctx, &st, &st.tensors[i], out) == HS_OK) (void)out[0];
    free(out);
  }
  hs_st_close(&st);
  return 0;
}
