/* The dataset object: host arrays, readable by src/train (which permutes them per epoch). */
#ifndef HS_NN_DATASET_H
#define HS_NN_DATASET_H

#include <stdint.h>

#include "core/context.h"

struct hs_dataset {
  hs_context *ctx;
  size_t n;
  int input_dim, output_dim;
  double *X;       /* (n, input_dim) */
  int32_t *labels; /* (n) or NULL */
  double *targets; /* (n, output_dim) or NULL */
};

#endif
