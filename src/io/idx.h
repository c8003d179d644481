/* IDX files (the MNIST / Fashion-MNIST container), plain or gzip'd: a big-endian magic
 * 0x00000801 (u8 labels, 1 dimension) or 0x00000803 (u8 images, 3 dimensions), the
 * big-endian u32 dimensions, then the bytes. */
#ifndef HS_IO_IDX_H
#define HS_IO_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

typedef struct {
  int ndim;          /* 1 or 3 */
  size_t dim[3];     /* as in the file: dim[0] items in the file */
  size_t n;          /* items read: dim[0], or fewer when asked */
  size_t item_size;  /* bytes per item: 1 for labels, rows * cols for images */
  uint8_t *data;     /* n * item_size bytes (owned) */
} hs_idx;

/* Reads the first max_items items (0 = all) of path into *out (hs_idx_free). Reading stops
 * after them, so a prefix of a large file is cheap. A file with fewer bytes than its header
 * promises for those items is HS_E_INVALID naming the file; an unreadable one is HS_E_IO.
 * When every item is read, trailing bytes and gzip CRC errors are detected as well. */
hs_status hs_idx_read(hs_context *ctx, const char *path, size_t max_items, hs_idx *out);
void hs_idx_free(hs_idx *x);

#endif
