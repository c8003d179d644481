/* The differential harness of the op table: every op runs on a reference backend (the CPU,
 * one thread) and on a backend under test, on the same fresh random inputs, and the outputs
 * are compared. The same checks serve two suites:
 *   tests/test_ops_diff.c  CPU (1 thread) vs CPU (3 threads): always runs, so CI exercises
 *                          the harness itself (and the thread-count invariance);
 *   tests/gpu_ops.c        CPU vs CUDA (label gpu): skipped (exit 77) without a usable GPU.
 *
 * What each check asserts (DESIGN.md "GPU work"):
 *  - outputs agree within a per-op, per-dtype tolerance (ops_diff.c, "Tolerances");
 *  - guard bands of OD_GUARD sentinel elements before and after every device buffer are
 *    bit-for-bit untouched (out-of-bounds writes);
 *  - overwrite-outputs start as NaN and must come out finite (unwritten elements);
 *  - gaps inside strided outputs (ld > cols, pstride > cols) keep their initial values;
 *  - inputs are random and non-zero, sizes odd, k = 1 and k = 3 for the block ops;
 *  - "repeat": the reductions give the same bits when run twice (determinism).
 * Inputs are drawn from the counter-based RNG with a fresh seed per run (HS_TEST_SEED=n
 * replays one); every failure message carries the seed. */
#ifndef HS_OPS_DIFF_H
#define HS_OPS_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* Opens the backend under test; returns HS_OK or a status with a message in err. */
typedef hs_status (*od_open_fn)(hs_backend **out, char *err, size_t errlen);

typedef struct od_pair {
  hs_backend *be[2];  /* [0] reference (CPU, 1 thread), [1] under test */
  uint64_t seed;
  uint64_t draws;     /* RNG counter: every value drawn in a test is distinct */
  hs_dtype t;         /* dtype of the case being checked */
  char what[200];     /* the case being checked, for messages */
} od_pair;

/* Creates both backends (asserting on failure) and picks the seed. */
void od_setup(od_pair *p, od_open_fn open_dut);
void od_teardown(od_pair *p);

/* One check per op of backend/ops.def except the transfer ops (HS_OP_MEM: alloc, upload,
 * download, sync, which every check exercises), generated from the op list so that an op
 * added there has no harness until od_check_<op> exists (a link error, not a silent gap);
 * then the harness-only checks of OD_EXTRA_CHECKS. */
#define HS_OP(op, params, args) void od_check_##op(od_pair *p, hs_dtype t);
#define HS_OP_MEM(op, params, args)
#include "backend/ops.def"
#define OD_EXTRA_CHECKS(X) X(repeat) X(bad_dtype) X(bad_args)
#define OD_DECLARE(op) void od_check_##op(od_pair *p, hs_dtype t);
OD_EXTRA_CHECKS(OD_DECLARE)
#undef OD_DECLARE

/* A suite file registers every check above by defining OD_TEST(op) and including
 * support/ops_diff_tests.inc. */
/* The body of OD_TEST(op): both dtypes on a fresh pair of backends. */
#define OD_TEST_BODY(op, open_fn)                                                                \
  do {                                                                                           \
    od_pair p_;                                                                                  \
    od_setup(&p_, open_fn);                                                                      \
    od_check_##op(&p_, HS_F64);                                                                  \
    od_check_##op(&p_, HS_F32);                                                                  \
    od_teardown(&p_);                                                                            \
  } while (0)

#endif
