/* NumPy .npy arrays (format versions 1.0, 2.0, 3.0), C order, little-endian numeric dtypes.
 *
 * Reading keeps the raw bytes; the conversion helpers give doubles or int32 labels. Every
 * failure is HS_E_INVALID (HS_E_IO when the file cannot be read) with a one-line message
 * naming the file and the problem. Writing is atomic (io/atomic.h).
 *
 * Assumes a little-endian host (every platform hesspec targets); npy.c refuses to build
 * elsewhere rather than silently swap bytes wrongly. */
#ifndef HS_IO_NPY_H
#define HS_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

#define HS_NPY_MAX_DIMS 8

typedef enum { HS_NPY_F4 = 0, HS_NPY_F8, HS_NPY_I4, HS_NPY_I8, HS_NPY_U1 } hs_npy_dtype;

typedef struct {
  int ndim; /* 0 (a scalar) .. HS_NPY_MAX_DIMS */
  size_t dim[HS_NPY_MAX_DIMS];
} hs_npy_shape;

typedef struct {
  hs_npy_dtype dtype;
  hs_npy_shape shape;
  size_t count;              /* product of the dims (1 for a scalar) */
  const unsigned char *data; /* count elements, little-endian, possibly unaligned */
  char *buf;                 /* owned: the whole file; data points into it */
} hs_npy_array;

/* Flags of the conversion helpers. */
enum { HS_NPY_FINITE = 1 /* reject NaN/Inf, naming the first bad index */ };

const char *hs_npy_dtype_name(hs_npy_dtype t); /* "f4", "f8", "i4", "i8", "u1" */
size_t hs_npy_dtype_size(hs_npy_dtype t);
/* "1024x784", "5", "()" for messages. */
void hs_npy_shape_str(const hs_npy_shape *s, char *out, size_t outlen);

/* Reads and validates a file. On success *out owns the file buffer (hs_npy_free). */
hs_status hs_npy_read(hs_context *ctx, const char *path, hs_npy_array *out);
/* The same from memory; takes ownership of buf (malloc'd, len bytes) even on failure.
 * `name` is used in messages. */
hs_status hs_npy_parse(hs_context *ctx, const char *name, char *buf, size_t len,
                       hs_npy_array *out);
void hs_npy_free(hs_npy_array *a);

/* Converts any numeric array to a new double array (caller frees *data). With
 * HS_NPY_FINITE, NaN/Inf are HS_E_INVALID naming the first bad index. */
hs_status hs_npy_to_f64(hs_context *ctx, const char *name, const hs_npy_array *a, int flags,
                        double **data);
/* Integer arrays only (i4, i8, u1); values outside int32 are HS_E_INVALID naming the index. */
hs_status hs_npy_to_i32(hs_context *ctx, const char *name, const hs_npy_array *a,
                        int32_t **data);

/* Read + convert in one call; *shape receives the array's shape. Caller frees *data. */
hs_status hs_npy_read_f64(hs_context *ctx, const char *path, int flags, double **data,
                          hs_npy_shape *shape);
hs_status hs_npy_read_i32(hs_context *ctx, const char *path, int32_t **data,
                          hs_npy_shape *shape);

/* HS_E_INVALID naming `name` and the first non-finite element ("X.npy: element [3, 17] is
 * nan"), using `shape` (may be NULL: a flat index) to print a multi-index. */
hs_status hs_check_finite(hs_context *ctx, const char *name, const double *x, size_t n,
                          const hs_npy_shape *shape);

/* Writes an array of `dtype` whose elements (native layout of that dtype: float, double,
 * int32_t, int64_t, uint8_t) are in `data`, as a version 1.0 file, atomically. */
hs_status hs_npy_write(hs_context *ctx, const char *path, hs_npy_dtype dtype, const void *data,
                       int ndim, const size_t *dims);
/* Writes doubles as f8 (HS_F64) or rounded to f4 (HS_F32). */
hs_status hs_npy_write_f64(hs_context *ctx, const char *path, hs_dtype file_dtype,
                           const double *data, int ndim, const size_t *dims);

#endif
