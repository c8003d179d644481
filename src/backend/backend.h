/* The backend op table: everything that touches device memory goes through here.
 *
 * A backend is a struct of function pointers plus private state, filled once per backend
 * (cpu.c, kernels/backend_cuda.cu) like ggml's backend interface. The network code (src/nn)
 * and the linear algebra (src/linalg) are written once against this table and never
 * dereference a device pointer.
 *
 * Conventions for every op:
 *  - `be` is the backend instance; on failure an op returns a status and sets a message with
 *    hs_backend_fail (naming the failing call); it never prints or aborts.
 *  - Device pointers are `void *`; hs_dptr() offsets them by elements of a dtype.
 *  - Matrices are ROW-MAJOR with an explicit leading dimension (row stride in elements).
 *  - "k directions": R-op and block operands hold k independent directions stacked
 *    direction-major: a (k, rows, cols) array, direction j at offset j*rows*cols. Per-feature
 *    parameter slices of direction j (bias, BN gamma/beta in a (k, P) block) sit at
 *    `p + j*pstride`.
 *  - Outputs marked "+=" accumulate (callers zero them first); others overwrite.
 *  - Scalars come in as double and are converted to the op's dtype. Reductions returned
 *    to the host (dot, nrm2, loss sums) are accumulated in double in a fixed order that does
 *    not depend on the thread count.
 */
#ifndef HS_BACKEND_H
#define HS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

typedef struct hs_backend hs_backend;

typedef enum { HS_NOTRANS = 0, HS_TRANS = 1 } hs_trans;

/* The geometry of a 2-D window op (convolution, pooling) over inputs (n, C, H, W), NCHW
 * row-major: windows of kh x kw, strides sh, sw, zero padding ph, pw on each side (pools:
 * 0), output Ho = (H + 2ph - kh)/sh + 1, Wo = (W + 2pw - kw)/sw + 1 (floor, as PyTorch).
 * Callers fill Ho and Wo; ops check them against the formula (HS_E_INVALID otherwise). */
typedef struct {
  int C, H, W;
  int kh, kw, sh, sw, ph, pw;
  int Ho, Wo;
} hs_window;

typedef enum { HS_POOL_AVG = 0, HS_POOL_MAX = 1 } hs_pool_mode;

/* The table. Its ops, each with its contract (maths, shapes, accumulate or overwrite, what
 * NULL means), are listed once in backend/ops.def; a backend fills it, from that list, with
 * the wrappers of check.h (HS_CHECKED_OP), so that every call goes through the argument
 * checks both backends share (check.c). docs/engine.md "The op table". */
typedef struct hs_backend_ops {
  const char *name; /* "cpu", "cuda" */
  void (*destroy)(hs_backend *be);
  void (*free)(hs_backend *be, void *ptr); /* NULL is a no-op */
#define HS_OP(op, params, args) hs_status(*op) params;
#include "backend/ops.def"
} hs_backend_ops;

#define HS_BN_EPS 1e-5

/* The common head of every backend instance; backends embed it first. */
struct hs_backend {
  const hs_backend_ops *ops;
  char device_name[128];
  char errmsg[512]; /* last failure inside the backend */
};

/* Creates the backend for a device string ("auto", "cpu", "cuda", "cuda:N"). */
hs_status hs_backend_open(const char *device, int threads, int tf32, hs_backend **out,
                          char *err, size_t errlen);
/* The CPU backend itself; threads = 0: all cores. */
hs_status hs_cpu_backend_create(int threads, hs_backend **out);
/* Available in CUDA builds only (registry.c is the only place that knows). */
hs_status hs_cuda_backend_create(int device, int tf32, hs_backend **out, char *err, size_t errlen);
int hs_backend_cuda_compiled(void);
/* Usable CUDA devices (0 without the CUDA backend or without a driver). */
int hs_backend_cuda_device_count(void);

/* Records a message in be->errmsg and returns st (for `return hs_backend_fail(...)`). */
hs_status hs_backend_fail(hs_backend *be, hs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void *hs_dptr(const void *p, hs_dtype t, size_t elems) {
  return (char *)p + elems * (t == HS_F64 ? 8 : 4);
}

#endif
