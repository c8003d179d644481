/* hs_array_*: the .npy reader and writer of io/npy.h behind the public header, with the
 * finiteness check every CLI input gets. */
#include <stdlib.h>
#include <string.h>

#include "hesspec.h"
#include "core/context.h"
#include "io/npy.h"

_Static_assert(HS_ARRAY_MAX_DIMS == HS_NPY_MAX_DIMS, "the public shape holds every .npy shape");

hs_status hs_array_load(hs_context *ctx, const char *path, hs_array *out) {
  memset(out, 0, sizeof *out);
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "array load: no path given");
  hs_npy_shape sh;
  double *data = NULL;
  hs_status st = hs_npy_read_f64(ctx, path, HS_NPY_FINITE, &data, &sh);
  if (st != HS_OK) return st;
  out->ndim = sh.ndim;
  out->count = 1;
  for (int i = 0; i < sh.ndim; i++) {
    out->dim[i] = sh.dim[i];
    out->count *= sh.dim[i];
  }
  out->data = data;
  return HS_OK;
}

void hs_array_free(hs_array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

hs_status hs_array_save(hs_context *ctx, const char *path, hs_dtype file_dtype, const double *data, int ndim,
                        const size_t *dims) {
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "array save: no path given");
  if (file_dtype != HS_F64 && file_dtype != HS_F32)
    return hs_fail(ctx, HS_E_INVALID, "%s: file dtype %d is neither HS_F64 nor HS_F32", path, (int)file_dtype);
  return hs_npy_write_f64(ctx, path, file_dtype, data, ndim, dims);
}

void hs_array_shape_string(int ndim, const size_t *dims, char *out, size_t outlen) {
  hs_npy_shape sh = {.ndim = ndim < 0 ? 0 : ndim > HS_NPY_MAX_DIMS ? HS_NPY_MAX_DIMS : ndim};
  for (int i = 0; i < sh.ndim; i++) sh.dim[i] = dims[i];
  hs_npy_shape_str(&sh, out, outlen);
}
