/* The in-memory dataset (hs_data, io/datasets.h): freeing it and turning labels into one-hot
 * targets. Apart from the loaders (datasets.c, fashion_mnist.c, synthetic.c), which all use it. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/datasets.h"

void hs_data_free(hs_data *d) {
  if (!d) return;
  free(d->X);
  free(d->labels);
  free(d->targets);
  memset(d, 0, sizeof *d);
}

hs_status hs_data_one_hot(hs_context *ctx, hs_data *d) {
  if (!d->labels) return HS_OK;
  double *T = hs_calloc(d->n * (size_t)d->output_dim + 1, sizeof *T);
  if (!T) return hs_fail(ctx, HS_E_NOMEM, "out of memory for %zu one-hot targets", d->n);
  for (size_t i = 0; i < d->n; i++) T[i * (size_t)d->output_dim + (size_t)d->labels[i]] = 1.0;
  free(d->labels);
  d->labels = NULL;
  d->targets = T;
  return HS_OK;
}
