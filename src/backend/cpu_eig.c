/* Dense symmetric eigendecomposition by LAPACK ?syevd (divide and conquer: all eigenvectors at
 * a fraction of the QR algorithm's cost for the n ~ 1e3..1e4 Hessians of small models).
 *
 * The buffer is row-major; we hand it to LAPACK as column-major, i.e. as A^T = A. LAPACK
 * then returns eigenvector i as column i, which in our row-major reading is row i, exactly
 * what the op promises. uplo 'L' of the column-major view is the UPPER triangle of the
 * row-major matrix: only that triangle is read, as in the CUDA backend (backend.h). */
#include <lapacke.h>

#include "backend/cpu_internal.h"

hs_status hs_cpu_syev(hs_backend *be, hs_dtype t, int n, void *A, void *w) {
  if (n == 0) return HS_OK;
  /* ?syevd does not detect NaN/Inf and may loop long or return garbage: refuse up front */
  int bad = 0;
  hs_status st = hs_cpu_nonfinite(be, t, (size_t)n * n, A, &bad);
  if (st != HS_OK) return st;
  if (bad) return hs_backend_fail(be, HS_E_NUMERIC, "syev: the %dx%d matrix holds NaN or Inf", n, n);
  lapack_int info = t == HS_F64 ? LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', n, A, n, w)
                                : LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'V', 'L', n, A, n, w);
  if (info == 0) return HS_OK;
  if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
    return hs_backend_fail(be, HS_E_NOMEM, "syev: out of memory for the %s workspace (n=%d)",
                           t == HS_F64 ? "dsyevd" : "ssyevd", n);
  if (info > 0)
    return hs_backend_fail(be, HS_E_NUMERIC,
                           "syev: %s failed to converge (info=%d, n=%d)",
                           t == HS_F64 ? "dsyevd" : "ssyevd", (int)info, n);
  return hs_backend_fail(be, HS_E_BACKEND, "syev: %s rejected argument %d (n=%d)",
                         t == HS_F64 ? "dsyevd" : "ssyevd", (int)-info, n);
}
