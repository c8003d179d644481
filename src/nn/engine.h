/* What src/linalg, src/train and src/analysis may use of the engine: device-level entry
 * points over the opaque hs_model, with the batch-norm mode passed explicitly. Nothing here
 * exposes the node list or the batch states (nn/model.h stays private to src/nn). */
#ifndef HS_NN_ENGINE_H
#define HS_NN_ENGINE_H

#include "hesspec.h"

hs_context *hs_model_context(const hs_model *m);
hs_dtype hs_nn_dtype(const hs_model *m);
/* (P) device parameters. After writing them call hs_nn_invalidate. */
void *hs_nn_params(hs_model *m);
void hs_nn_invalidate(hs_model *m);
/* hs_model_bind with one batch state, recomputed for every batch: for passes that visit each
 * batch once per parameter point (training, evaluation), where caching every batch's state
 * would only cost memory. Never sharded over ranks: data-parallel training splits each
 * minibatch itself (hs_nn_batch_rows). */
hs_status hs_nn_bind_streaming(hs_model *m, const hs_dataset *d, size_t batch);
size_t hs_nn_num_batches(const hs_model *m);

typedef struct {
  double loss_sum; /* sum of the batch's per-sample losses */
  size_t rows;     /* samples in the batch */
  size_t correct;  /* correct predictions (cross entropy; 0 for mse) */
} hs_nn_batch_result;

/* Forward pass of batch b with every batch norm in bn_mode (HS_BN_BATCH: training mode;
 * HS_BN_RUNNING: eval mode); with G non-NULL the batch's loss gradient (scaled by 1/N of the
 * bound data) is accumulated into the device vector G (P). */
hs_status hs_nn_batch(hs_model *m, size_t b, int bn_mode, void *G, hs_nn_batch_result *out);
/* The same over rows [lo, hi) of batch b only (lo == hi: nothing, a zero result): a rank's
 * part of a minibatch in data-parallel training. G still carries 1/N of the bound data. */
hs_status hs_nn_batch_rows(hs_model *m, size_t b, size_t lo, size_t hi, int bn_mode, void *G, hs_nn_batch_result *out);
/* After a training-mode hs_nn_batch of batch b: every batch norm's running statistics
 * updated from that batch's statistics (PyTorch's momentum rule, unbiased variance). */
hs_status hs_nn_update_running(hs_model *m, size_t b, double momentum);

/* Dead ReLU units over the bound data, in the model's batch-norm mode: a unit is one feature of
 * a ReLU layer's (F) output or one channel of its (C, H, W) output, dead when that output is
 * exactly 0 for every sample (and every position). Sums over every ReLU layer; *units = 0 when
 * the network has none. */
hs_status hs_nn_dead_units(hs_model *m, size_t *dead, size_t *units);

#endif
