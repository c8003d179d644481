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

/* Every op of hs_backend_ops that computes something, one check each (alloc, free, upload,
 * download and sync are exercised by all of them). */
#define OD_OPS(X)                                                                                \
  X(fill) X(copy) X(gemm) X(gemm_batched) X(gemv) X(dot) X(dots) X(nrm2) X(axpy) X(scal) X(nonfinite)   \
  X(bias_add) X(col_sum) X(act_fwd) X(act_deriv_mul) X(act_rbwd_extra) X(bn_fwd) X(bn_bwd)     \
  X(bn_rfwd) X(bn_rbwd_extra) X(im2col) X(col2im) X(transpose) X(pool_fwd) X(pool_rfwd)        \
  X(pool_bwd) X(ce_fwd) X(ce_bwd) X(ce_rop) X(ce_correct) X(mse_fwd_bwd) X(syev) X(sgd_step)   \
  X(adam_step) X(bn_running_update) X(repeat) X(bad_dtype)

#define OD_DECLARE(op) void od_check_##op(od_pair *p, hs_dtype t);
OD_OPS(OD_DECLARE)
#undef OD_DECLARE

/* A suite file defines its tests with: #define OD_TEST(op) Test(suite, op) { ... } */
#define OD_TEST_BODY(op, open_fn)                                                                \
  do {                                                                                           \
    od_pair p_;                                                                                  \
    od_setup(&p_, open_fn);                                                                      \
    od_check_##op(&p_, HS_F64);                                                                  \
    od_check_##op(&p_, HS_F32);                                                                  \
    od_teardown(&p_);                                                                            \
  } while (0)

#endif
