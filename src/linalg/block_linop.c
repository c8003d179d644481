#include "linalg/block_linop.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "linalg/linop_util.h"

typedef struct {
  hs_linop *base;      /* borrowed */
  size_t nseg;
  hs_segment *segs;    /* (nseg) owned */
  void *X, *Y;         /* device (cap, base->n): the embedded directions and their products */
  size_t cap;          /* directions the work arrays hold */
} block_impl;

/* Row j of dst (rows of length ld_dst) from row j of src, segment by segment: embed when
 * `embed` (block -> full), else restrict (full -> block). */
static hs_status move_rows(hs_linop *self, size_t k, const void *src, void *dst, int embed) {
  block_impl *bi = self->impl;
  hs_context *ctx = self->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = self->dtype;
  size_t N = bi->base->n, n = self->n, es = hs_dtype_size(t);
  hs_status st = HS_OK;
  for (size_t j = 0; j < k; j++) {
    size_t pos = 0;
    for (size_t s = 0; s < bi->nseg; s++) {
      const hs_segment *g = &bi->segs[s];
      if (embed)
        HS_OP(ctx, be->ops->copy(be, hs_dptr(dst, t, j * N + g->offset), hs_dptr(src, t, j * n + pos), g->length * es));
      else
        HS_OP(ctx, be->ops->copy(be, hs_dptr(dst, t, j * n + pos), hs_dptr(src, t, j * N + g->offset), g->length * es));
      pos += g->length;
    }
  }
cleanup:
  return st;
}

static hs_status block_apply(hs_linop *self, size_t k, const void *X, void *Y) {
  block_impl *bi = self->impl;
  hs_context *ctx = self->ctx;
  hs_backend *be = ctx->be;
  hs_dtype t = self->dtype;
  size_t N = bi->base->n;
  hs_status st = HS_OK;
  if (k > bi->cap) {
    be->ops->free(be, bi->X);
    be->ops->free(be, bi->Y);
    bi->X = bi->Y = NULL;
    bi->cap = 0;
    HS_TRY(hs_dev_alloc(ctx, t, k * N, &bi->X));
    HS_TRY(hs_dev_alloc(ctx, t, k * N, &bi->Y));
    bi->cap = k;
    /* outside the block the embedded directions stay zero: embedding writes only the
     * block's coordinates and the base operator reads X without writing it */
    HS_OP(ctx, be->ops->fill(be, t, k * N, 0.0, bi->X));
  }
  HS_TRY(move_rows(self, k, X, bi->X, 1));
  HS_TRY(hs_linop_apply_all(bi->base, k, bi->X, bi->Y));
  HS_TRY(move_rows(self, k, bi->Y, Y, 0));
cleanup:
  return st;
}

static void block_destroy(hs_linop *self) {
  if (!self) return;
  block_impl *bi = self->impl;
  if (bi) {
    hs_backend *be = self->ctx->be;
    be->ops->free(be, bi->X);
    be->ops->free(be, bi->Y);
    free(bi->segs);
    free(bi);
  }
  free(self);
}

hs_status hs_linop_block(hs_linop *base, size_t nseg, const hs_segment *segs, hs_linop **out) {
  *out = NULL;
  hs_context *ctx = base->ctx;
  if (nseg == 0) return hs_fail(ctx, HS_E_INVALID, "block operator: no coordinates selected");
  size_t n = 0, end = 0;
  for (size_t s = 0; s < nseg; s++) {
    if (segs[s].length == 0 || segs[s].offset < end || segs[s].offset + segs[s].length > base->n)
      return hs_fail(ctx, HS_E_INVALID,
                     "block operator: segment %zu [%zu, %zu) is empty, overlaps or leaves [0, %zu)", s,
                     segs[s].offset, segs[s].offset + segs[s].length, base->n);
    end = segs[s].offset + segs[s].length;
    n += segs[s].length;
  }
  hs_linop *op = hs_calloc(1, sizeof *op);
  block_impl *bi = hs_calloc(1, sizeof *bi);
  hs_segment *copy = hs_malloc(nseg * sizeof *copy);
  if (!op || !bi || !copy) {
    free(op);
    free(bi);
    free(copy);
    return hs_fail(ctx, HS_E_NOMEM, "block operator: out of host memory");
  }
  memcpy(copy, segs, nseg * sizeof *copy);
  *bi = (block_impl){.base = base, .nseg = nseg, .segs = copy};
  /* The base's max_block is honoured inside apply (hs_linop_apply_all), so the block
   * operator takes any k; its work arrays grow to the largest k seen. */
  *op = (hs_linop){.n = n, .dtype = base->dtype, .ctx = ctx, .kind = base->kind, .apply = block_apply,
                   .max_block = 0, .destroy = block_destroy, .impl = bi};
  *out = op;
  return HS_OK;
}
