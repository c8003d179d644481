/* Parameter blocks by checkpoint names, for `--block NAME|all`.
 *
 * A block is the set of parameter tensors whose name is NAME (one tensor, e.g.
 * "blocks.1.linear.weight") or starts with NAME + "." (a layer or any module above it, e.g.
 * "blocks.1.linear", "blocks.1", "layers.3.body.0"). The flat parameter order is depth first
 * (DESIGN.md), so a module's tensors are contiguous; the block is kept as segments anyway,
 * merged where adjacent. "all" is every layer: the tensors grouped by their module name (the
 * name without its last component), in parameter order. */
#ifndef HS_ANALYSIS_BLOCKS_H
#define HS_ANALYSIS_BLOCKS_H

#include <stddef.h>

#include "hesspec.h"
#include "linalg/block_linop.h"

#define HS_BLOCK_NAME 80

typedef struct {
  char name[HS_BLOCK_NAME];
  size_t params;       /* coordinates in the block */
  size_t nseg;
  hs_segment *segs;    /* (nseg) owned, increasing */
  size_t ntensors;
  size_t first_tensor; /* tensors [first_tensor, first_tensor + ntensors) of the model */
} hs_param_block;

typedef struct {
  size_t n;
  hs_param_block *b; /* (n) owned */
} hs_block_list;

/* Resolves NAME or "all" against the model's tensors. An unknown name is HS_E_INVALID with
 * a message naming it and listing the valid layer names (tensor names are the layer names
 * plus ".weight", ".bias"). */
hs_status hs_blocks_resolve(hs_context *ctx, const hs_model *m, const char *name, hs_block_list *out);
void hs_blocks_free(hs_block_list *l);

#endif
