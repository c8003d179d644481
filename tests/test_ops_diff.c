/* The op-table differential harness run CPU (1 thread) against CPU (3 threads): exercises the
 * harness of tests/gpu_ops.c in every CI run, and checks that the CPU backend's results do not
 * depend on its thread count (the same checks, the same tolerances). */
#include <criterion/criterion.h>
#include <stdio.h>

#include "support/ops_diff.h"

static hs_status open_cpu3(hs_backend **out, char *err, size_t errlen) {
  hs_status st = hs_cpu_backend_create(3, out);
  if (st != HS_OK) snprintf(err, errlen, "hs_cpu_backend_create(3): %s", hs_status_string(st));
  return st;
}

#define OD_TEST(op) \
  Test(ops_diff, op) { OD_TEST_BODY(op, open_cpu3); }
#include "support/ops_diff_tests.inc"
