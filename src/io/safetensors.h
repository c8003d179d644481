/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header {name: {dtype, shape, data_offsets}, ...,
 * "__metadata__": {str: str}}, then the data section.
 *
 * Reading validates what the reference implementation validates: the header is a JSON
 * object, every tensor's byte range lies in the data section, ranges neither overlap nor
 * leave holes, and each range holds exactly prod(shape) elements of its dtype. Every
 * failure is HS_E_INVALID (HS_E_IO for an unreadable file) naming the file.
 * Writing lays tensors out in the order given, pads the header with spaces to a multiple
 * of 8 bytes as the reference writer does, and is atomic. */
#ifndef HS_IO_SAFETENSORS_H
#define HS_IO_SAFETENSORS_H

#include <stddef.h>

#include "hesspec.h"

#define HS_ST_MAX_DIMS 8

typedef enum {
  HS_ST_F64 = 0,
  HS_ST_F32,
  HS_ST_F16,
  HS_ST_BF16,
  HS_ST_I64,
  HS_ST_I32,
  HS_ST_I16,
  HS_ST_I8,
  HS_ST_U8,
  HS_ST_BOOL,
  HS_ST_OTHER /* a dtype of the format this reader does not convert (U16, F8_E4M3, ...) */
} hs_st_dtype;

typedef struct {
  char *name;
  hs_st_dtype dtype;
  char dtype_name[16]; /* as written in the file, e.g. "F32" */
  int ndim;
  size_t shape[HS_ST_MAX_DIMS];
  size_t count;      /* prod(shape), 1 for a scalar */
  size_t begin, end; /* byte range relative to the data section */
} hs_st_tensor;

typedef struct {
  char *path;                /* for messages (owned) */
  char *buf;                 /* the whole file (owned) */
  size_t len;
  const unsigned char *data; /* the data section, inside buf */
  size_t n;                  /* tensors, in header order */
  hs_st_tensor *tensors;
  size_t n_meta;             /* "__metadata__" entries (all strings) */
  char **meta_keys, **meta_values;
} hs_safetensors;

/* Reads and validates a file. On success the caller owns *out (hs_st_close). */
hs_status hs_st_open(hs_context *ctx, const char *path, hs_safetensors *out);
/* The same from memory; takes ownership of buf (malloc'd) even on failure. */
hs_status hs_st_parse(hs_context *ctx, const char *name, char *buf, size_t len,
                      hs_safetensors *out);
void hs_st_close(hs_safetensors *st);

/* The tensor called name, or NULL. */
const hs_st_tensor *hs_st_find(const hs_safetensors *st, const char *name);
/* The value of a "__metadata__" key, or NULL. */
const char *hs_st_meta(const hs_safetensors *st, const char *key);
/* Converts a tensor of any numeric dtype to doubles: out holds t->count values. */
hs_status hs_st_read_f64(hs_context *ctx, const hs_safetensors *st, const hs_st_tensor *t,
                         double *out);
/* Looks up `name` (HS_E_INVALID naming the file and the tensor if absent) and converts it
 * into a new array (caller frees *data); *t receives the tensor's description. */
hs_status hs_st_get_f64(hs_context *ctx, const hs_safetensors *st, const char *name,
                        const hs_st_tensor **t, double **data);

/* One tensor to write: ndim 0..HS_ST_MAX_DIMS dims, prod(shape) doubles. */
typedef struct {
  const char *name;
  int ndim;
  size_t shape[HS_ST_MAX_DIMS];
  const double *data;
} hs_st_entry;

/* Writes the tensors in order as F64 or F32 (rounded), with optional "__metadata__"
 * (n_meta string pairs; none when 0). Names must be unique, non-empty and not
 * "__metadata__". */
hs_status hs_st_write(hs_context *ctx, const char *path, hs_dtype file_dtype,
                      const hs_st_entry *tensors, size_t n, const char *const *meta_keys,
                      const char *const *meta_values, size_t n_meta);

#endif
