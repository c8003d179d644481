/* Every op of the CUDA backend against the CPU backend (tests/support/ops_diff.c: random
 * inputs, odd sizes, guard bands, NaN poison, k = 1 and 3, f64 and f32). Skipped (exit 77)
 * without a usable GPU: tests/support/gpu_skip.h. */
#include <criterion/criterion.h>

#include "support/gpu_skip.h"
#include "support/ops_diff.h"

static hs_status open_cuda(hs_backend **out, char *err, size_t errlen) {
  return hs_backend_open("cuda", 1, 0, out, err, errlen); /* TF32 off: f32 is held to f32 */
}

#define OD_TEST(op) \
  Test(gpu_ops, op) { OD_TEST_BODY(op, open_cuda); }
#include "support/ops_diff_tests.inc"

int main(int argc, char *argv[]) { return hs_test_gpu_main("gpu_ops", argc, argv); }
