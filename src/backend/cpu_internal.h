/* Private to the CPU backend (src/backend/cpu*.c): the instance, the op prototypes and the
 * helpers that every op file shares.
 *
 * One source per op serves both dtypes: each kernel body is written once inside a macro
 * `DEF_xxx(T, S)` and instantiated as xxx_f32 (T = float) and xxx_f64 (T = double); the op
 * entry dispatches on hs_dtype with CPU_DISPATCH. Arguments arrive checked: the table in
 * cpu.c points at the front end's wrappers (check.h), which run hs_check_<op> first; only
 * what depends on the data (labels, argmax) is checked here.
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

/* ---- the ops: hs_cpu_<op> for every op of backend/ops.def, defined in cpu.c (memory),
 * cpu_blas.c (gemm, gemm_batched, gemv, axpy, scal), cpu_reduce.c (dot, nrm2, dots,
 * nonfinite), cpu_layers.c (bias, activations), cpu_bn.c, cpu_conv.c (im2col, col2im,
 * transpose, pooling), cpu_loss.c, cpu_eig.c (syev) and cpu_optim.c (optimiser steps, BN
 * running statistics). They run on arguments the front end (check.c) has checked. ---- */
#define HS_OP(op, params, args) hs_status hs_cpu_##op params;
#include "backend/ops.def"
void hs_cpu_free(hs_backend *be, void *ptr);

#endif
