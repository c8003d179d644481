/* Private to the CPU backend (src/backend/cpu*.c): the instance, the op prototypes and the
 * helpers that every op file shares.
 *
 * One source per op serves both dtypes: each kernel body is written once inside a macro
 * `DEF_xxx(T, S)` and instantiated as xxx_f32 (T = float) and xxx_f64 (T = double); the op
 * entry validates its arguments and dispatches on hs_dtype with CPU_DISPATCH.
 *
 * Determinism: every reduction runs in double in a fixed order (rows in index order inside a
 * column, fixed-size blocks combined in index order), and threads only split independent
 * outputs, so results are bit-identical for any thread count. */
#ifndef HS_CPU_INTERNAL_H
#define HS_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

typedef struct {
  hs_backend base; /* first: a hs_cpu * is a hs_backend * */
  int threads;     /* OpenMP threads of this backend's loops (>= 1) */
} hs_cpu;

static inline int cpu_threads(const hs_backend *be) { return ((const hs_cpu *)be)->threads; }

/* Below this many elements a parallel region costs more than it saves. */
#define CPU_PAR_MIN 32768
/* Columns per task in column reductions: 64 doubles of accumulators stay in registers/L1
 * while the rows stream by. */
#define CPU_COL_TILE 64
/* dot/nrm2 block: partial sums of this many elements are combined in index order. Part of
 * the numerical contract (results depend on it, threads do not). */
#define CPU_DOT_BLOCK 4096

#define CPU_DISPATCH(t, fn, ...)                                                               \
  do {                                                                                         \
    if ((t) == HS_F64)                                                                         \
      fn##_f64(__VA_ARGS__);                                                                   \
    else                                                                                       \
      fn##_f32(__VA_ARGS__);                                                                   \
  } while (0)

/* Argument checks: `return`s HS_E_INVALID naming the op. */
#define CPU_REQUIRE(be, cond, op, ...)                                                         \
  do {                                                                                         \
    if (!(cond)) return hs_backend_fail((be), HS_E_INVALID, op ": " __VA_ARGS__);              \
  } while (0)
#define CPU_CHECK_DTYPE(be, t, op)                                                             \
  CPU_REQUIRE(be, (t) == HS_F64 || (t) == HS_F32, op, "unknown dtype %d", (int)(t))
#define CPU_CHECK_ACT(be, act, op)                                                             \
  CPU_REQUIRE(be, (act) >= 0 && (act) <= 2, op, "unknown activation %d", (act))
#define CPU_CHECK_PTR(be, p, op) CPU_REQUIRE(be, (p) != NULL, op, "%s is NULL", #p)

/* ---- the ops: hs_cpu_<op> for every op of backend/ops.def, defined in cpu.c (memory),
 * cpu_blas.c (gemm, gemm_batched, gemv, axpy, scal), cpu_reduce.c (dot, nrm2, dots,
 * nonfinite), cpu_layers.c (bias, activations), cpu_bn.c, cpu_conv.c (im2col, col2im,
 * transpose, pooling), cpu_loss.c, cpu_eig.c (syev) and cpu_optim.c (optimiser steps, BN
 * running statistics). They run on arguments the front end (check.c) has checked. ---- */
#define HS_OP(op, params, args) hs_status hs_cpu_##op params;
#include "backend/ops.def"
void hs_cpu_free(hs_backend *be, void *ptr);

/* Checks a window geometry as backend.h states it (sizes, kernel/stride >= 1, padding >= 0,
 * pool: no padding and an int32-addressable plane, Ho/Wo by the floor formula); HS_E_INVALID
 * naming op otherwise. Backend-neutral: kernels/conv.cu uses it too. */
hs_status hs_window_check(hs_backend *be, const char *op, const hs_window *g, int pool);

#endif
