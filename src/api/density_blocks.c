/* Densities of block-diagonal operators (hs_density_combine: `--block all`), re-smoothing and
 * the SVG plot of density lines (io/svg_plot.h) behind the public header. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/svg_plot.h"

/* The whole's provenance: the first block's, without the block. */
static hs_status copy_provenance(const hs_density *from, hs_density *to) {
  int ok = 1;
  to->has_provenance = from->has_provenance;
  to->operator_kind = from->operator_kind;
  to->spec_json = hs_api_strdup(from->spec_json, &ok);
  to->weights = hs_api_strdup(from->weights, &ok);
  to->data = hs_api_strdup(from->data, &ok);
  to->backend = hs_api_strdup(from->backend, &ok);
  to->device = hs_api_strdup(from->device, &ok);
  to->dtype = from->dtype;
  to->samples = from->samples;
  to->batch = from->batch;
  to->seed = from->seed;
  return ok ? HS_OK : hs_fail(from->ctx, HS_E_NOMEM, "out of host memory");
}

hs_status hs_density_combine(hs_density **blocks, size_t nb, const hs_spectrum_options *opt, hs_density **out) {
  *out = NULL;
  if (nb == 0 || !blocks || !blocks[0]) return HS_E_INVALID; /* no context to name it in */
  hs_context *ctx = blocks[0]->ctx;
  hs_status st = HS_OK;
  hs_density *d = hs_calloc(1, sizeof *d);
  const hs_slq_result **parts = hs_calloc(nb, sizeof *parts);
  if (!d || !parts) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  for (size_t b = 0; b < nb; b++) {
    if (!blocks[b] || !blocks[b]->has_block) {
      st = hs_fail(ctx, HS_E_INVALID, "density combine: density %zu is not a block's (hs_operator_block)", b);
      goto cleanup;
    }
    if (blocks[b]->r->probes != blocks[0]->r->probes) {
      st = hs_fail(ctx, HS_E_INVALID, "density combine: block %s has %zu probes, block %s %zu", blocks[b]->block_name,
                   blocks[b]->r->probes, blocks[0]->block_name, blocks[0]->r->probes);
      goto cleanup;
    }
    parts[b] = blocks[b]->r;
  }
  d->ctx = ctx;
  HS_TRY(copy_provenance(blocks[0], d));
  const hs_slq_options so = hs_api_slq_options(opt);
  HS_TRY(hs_slq_combine(ctx, nb, parts, &so, &d->r));
  d->steps = d->r->steps;
  for (size_t b = 0; b < nb; b++) d->elapsed += blocks[b]->elapsed;
  d->blocks = hs_calloc(nb, sizeof *d->blocks);
  if (!d->blocks) {
    st = hs_fail(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  memcpy(d->blocks, blocks, nb * sizeof *blocks);
  d->nblocks = nb;
  for (size_t b = 0; b < nb; b++) blocks[b] = NULL; /* d owns them now */
  *out = d;
  d = NULL;
cleanup:
  hs_density_destroy(d);
  for (size_t b = 0; b < nb; b++) {
    hs_density_destroy(blocks[b]);
    blocks[b] = NULL;
  }
  free(parts);
  return st;
}

size_t hs_density_num_blocks(const hs_density *d) { return d->nblocks; }

const hs_density *hs_density_block(const hs_density *d, size_t i) { return i < d->nblocks ? d->blocks[i] : NULL; }

const char *hs_density_block_name(const hs_density *d) { return d->has_block ? d->block_name : NULL; }

size_t hs_density_grid_size(double lo, double hi, double sigma) { return hs_slq_auto_grid(lo, hi, sigma); }

void hs_density_smooth(const hs_density *d, double sigma, size_t n, const double *x, double *y) {
  const hs_slq_result *r = d->r;
  hs_slq_smooth(r->probes, r->count, r->steps, r->nodes, r->weights, sigma, n, x, y, NULL);
}

hs_status hs_plot_svg(hs_context *ctx, const char *path, const hs_plot_line *lines, size_t count,
                      const hs_plot_style *style) {
  if (!path || !*path) return hs_fail(ctx, HS_E_INVALID, "plot: no path given");
  if (count == 0 || !lines) return hs_fail(ctx, HS_E_INVALID, "%s: no line to plot", path);
  hs_plot_series *s = hs_calloc(count, sizeof *s);
  if (!s) return hs_fail(ctx, HS_E_NOMEM, "out of host memory");
  for (size_t i = 0; i < count; i++) s[i] = (hs_plot_series){.label = lines[i].label, .n = lines[i].n, .x = lines[i].x, .y = lines[i].y};
  const hs_plot_style st = style ? *style : (hs_plot_style){0};
  const hs_plot_options po = {.log_y = st.log_y, .title = st.title, .xlabel = st.xlabel, .ylabel = st.ylabel,
                              .width = st.width, .height = st.height};
  hs_status rc = hs_svg_density_write(ctx, path, s, count, &po);
  free(s);
  return rc;
}
