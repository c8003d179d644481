/* The front end of the op table: the argument checks every backend's ops go through.
 *
 * hs_check_<op> takes an op's parameters (backend/ops.def) and checks what the contract in
 * ops.def and backend.h promises independently of the device: dtype, modes and enumerations,
 * sizes, leading dimensions and strides, window geometry, and the pointers that must not be
 * NULL for the sizes given. A failure returns HS_E_INVALID with "<op>: <what>" in be->errmsg,
 * so both backends reject a bad call with the same status and the same message. What depends
 * on the data (labels in [0, C), argmax inside its window, NaN before syev) or on the device
 * (a CUDA grid's limits) stays in the backend.
 *
 * A backend never calls its checks by hand: HS_CHECKED_OPS(impl) defines, for every op, a
 * wrapper impl_checked_<op> that runs hs_check_<op> and then impl_<op>, and HS_CHECKED_TABLE
 * fills the op table with those wrappers. The backend's own functions then run on checked
 * arguments and may call one another directly (unchecked) inside the backend. */
#ifndef HS_BACKEND_CHECK_H
#define HS_BACKEND_CHECK_H

#include "backend/backend.h"

#define HS_OP(op, params, args) hs_status hs_check_##op params;
#include "backend/ops.def"

/* Checks a window geometry as backend.h states it (sizes, kernel/stride >= 1, padding >= 0,
 * pool: no padding and an int32-addressable plane, Ho/Wo by the floor formula); HS_E_INVALID
 * naming op otherwise. */
hs_status hs_window_check(hs_backend *be, const char *op, const hs_window *g, int pool);

/* One wrapper per op: impl_checked_<op>(...) = hs_check_<op>(...), then impl_<op>(...). */
#define HS_CHECKED_OP(impl, op, params, args)                                                  \
  static hs_status impl##_checked_##op params {                                                \
    hs_status st_ = hs_check_##op args;                                                        \
    return st_ != HS_OK ? st_ : impl##_##op args;                                              \
  }

#endif
