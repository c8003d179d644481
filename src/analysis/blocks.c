#include "analysis/blocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"

/* The module of a tensor name: everything before its last '.'. */
static size_t module_len(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot ? (size_t)(dot - name) : strlen(name);
}

static int in_block(const char *tensor, const char *name) {
  size_t n = strlen(name);
  return strncmp(tensor, name, n) == 0 && (tensor[n] == '\0' || tensor[n] == '.');
}

/* Appends tensor i to block b, merging with the last segment when adjacent. */
static hs_status add_tensor(hs_context *ctx, hs_param_block *b, const hs_param_info *t, size_t i) {
  size_t len = (size_t)t->rows * (size_t)t->cols;
  if (b->ntensors == 0) b->first_tensor = i;
  b->ntensors++;
  b->params += len;
  if (b->nseg > 0 && b->segs[b->nseg - 1].offset + b->segs[b->nseg - 1].length == t->offset) {
    b->segs[b->nseg - 1].length += len;
    return HS_OK;
  }
  hs_segment *g = hs_realloc(b->segs, (b->nseg + 1) * sizeof *g);
  if (!g) return hs_fail(ctx, HS_E_NOMEM, "--block: out of host memory");
  b->segs = g;
  b->segs[b->nseg++] = (hs_segment){.offset = t->offset, .length = len};
  return HS_OK;
}

static hs_status new_block(hs_context *ctx, hs_block_list *l, const char *name, size_t len) {
  hs_param_block *nb = hs_realloc(l->b, (l->n + 1) * sizeof *nb);
  if (!nb) return hs_fail(ctx, HS_E_NOMEM, "--block: out of host memory");
  l->b = nb;
  memset(&l->b[l->n], 0, sizeof l->b[l->n]);
  if (len >= HS_BLOCK_NAME) len = HS_BLOCK_NAME - 1;
  memcpy(l->b[l->n].name, name, len);
  l->n++;
  return HS_OK;
}

void hs_blocks_free(hs_block_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) free(l->b[i].segs);
  free(l->b);
  memset(l, 0, sizeof *l);
}

hs_status hs_blocks_resolve(hs_context *ctx, const hs_model *m, const char *name, hs_block_list *out) {
  memset(out, 0, sizeof *out);
  size_t T = hs_model_num_tensors(m);
  hs_status st = HS_OK;
  if (strcmp(name, "all") == 0) {
    for (size_t i = 0; i < T; i++) {
      const hs_param_info *t = hs_model_tensor(m, i);
      size_t ml = module_len(t->name);
      hs_param_block *last = out->n ? &out->b[out->n - 1] : NULL;
      if (!last || strlen(last->name) != ml || strncmp(last->name, t->name, ml) != 0)
        HS_TRY(new_block(ctx, out, t->name, ml));
      HS_TRY(add_tensor(ctx, &out->b[out->n - 1], t, i));
    }
    return HS_OK;
  }
  HS_TRY(new_block(ctx, out, name, strlen(name)));
  for (size_t i = 0; i < T; i++) {
    const hs_param_info *t = hs_model_tensor(m, i);
    if (in_block(t->name, name)) HS_TRY(add_tensor(ctx, &out->b[0], t, i));
  }
  if (out->b[0].ntensors == 0 || *name == '\0') {
    /* the message lists every layer once (a tensor name is a layer name + its last part) */
    char list[700];
    size_t pos = 0;
    list[0] = '\0';
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < T && pos < sizeof list - 8; i++) {
      const char *tn = hs_model_tensor(m, i)->name;
      size_t ml = module_len(tn);
      if (prev && prev_len == ml && strncmp(prev, tn, ml) == 0) continue;
      int w = snprintf(list + pos, sizeof list - pos, "%s%.*s", pos ? ", " : "", (int)ml, tn);
      if (w < 0 || (size_t)w >= sizeof list - pos) { /* at least 8 bytes were left at pos */
        memcpy(list + pos, ", ...", 6);
        break;
      }
      pos += (size_t)w;
      prev = tn;
      prev_len = ml;
    }
    st = hs_fail(ctx, HS_E_INVALID,
                 "--block '%s': no parameter tensor or layer of that name; layers: %s (or a tensor: "
                 "LAYER.weight, LAYER.bias; or all)",
                 name, list);
    goto cleanup;
  }
  return HS_OK;
cleanup:
  hs_blocks_free(out);
  return st;
}
