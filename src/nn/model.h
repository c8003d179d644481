/* The model's internals, shared by the files of src/nn (never by code above it). */
#ifndef HS_NN_MODEL_H
#define HS_NN_MODEL_H

#include "core/context.h"
#include "hesspec.h"

#define HS_MAX_TENSORS (4 * HS_MAX_HIDDEN + 2)

/* Offsets of one hidden block's tensors in the flat vector; SIZE_MAX where absent. */
typedef struct {
  int in, out;          /* W: out x in */
  int residual;         /* h' = h + u */
  size_t w, b, gamma, beta;
} hs_block_layout;

struct hs_dataset {
  hs_context *ctx;
  size_t n;
  int input_dim, output_dim;
  double *X;       /* (n, input_dim) */
  int32_t *labels; /* (n) or NULL */
  double *targets; /* (n, output_dim) or NULL */
};

/* Everything that depends on the parameters and one batch but not on a direction: the
 * forward activations and the backward deltas of the loss gradient. Device arrays, shapes
 * per block i with B = rows, n = out width of block i. */
typedef struct {
  int valid; /* computed at the current parameters */
  int rows;
  size_t first; /* first sample */
  /* per block */
  void *Z[HS_MAX_HIDDEN];    /* (B, n) linear output */
  void *XH[HS_MAX_HIDDEN];   /* (B, n) normalised Z (BN only) */
  void *RSTD[HS_MAX_HIDDEN]; /* (n) 1/sqrt(var + eps) (BN only) */
  void *MEAN[HS_MAX_HIDDEN]; /* (n) batch mean (BN only) */
  void *Y[HS_MAX_HIDDEN];    /* (B, n) activation input (= Z without BN) */
  void *OUT[HS_MAX_HIDDEN];  /* (B, n) block output = next block's input h */
  void *F;                   /* (B, C) network output */
  void *PROB;                /* (B, C) softmax (cross entropy only) */
  void *dF;                  /* (B, C) dL/dF */
  void *dOUT[HS_MAX_HIDDEN]; /* (B, n) dL/d(block output) */
  void *dY[HS_MAX_HIDDEN];   /* (B, n) dL/dY */
  void *dZ[HS_MAX_HIDDEN];   /* (B, n) dL/dZ (= dY without BN) */
  double loss_sum;           /* sum over the batch's samples of the per-sample loss */
  void *owned[16 * HS_MAX_HIDDEN + 8];
  int n_owned;
} hs_batch_state;

/* Direction-dependent scratch for k directions (reused for every batch). */
typedef struct {
  int k, rows; /* allocated capacity */
  void *RZ[HS_MAX_HIDDEN], *RXH[HS_MAX_HIDDEN], *RY[HS_MAX_HIDDEN], *ROUT[HS_MAX_HIDDEN];
  void *RF, *RdF;
  void *Rd_a, *Rd_b, *Rd_c; /* (k, B, max width): R-backward ping-pong buffers */
  void *owned[8 * HS_MAX_HIDDEN + 8];
  int n_owned;
} hs_rstate;

struct hs_model {
  hs_context *ctx;
  hs_model_spec spec;
  hs_dtype dtype;
  size_t P;
  size_t n_tensors;
  hs_param_info tensors[HS_MAX_TENSORS];
  char names[HS_MAX_TENSORS][48];
  int fan_in[HS_MAX_TENSORS]; /* of the layer a linear weight or bias belongs to; 0 for BN */
  hs_block_layout blocks[HS_MAX_HIDDEN];
  size_t head_w, head_b;
  int max_width; /* widest activation, input included */

  void *theta;                   /* (P) device parameters */
  void *run_mean[HS_MAX_HIDDEN]; /* (n_i) device running stats (BN only) */
  void *run_var[HS_MAX_HIDDEN];

  /* bound data */
  const hs_dataset *data;
  size_t batch, n_batches;
  void *X;         /* (N, in) device */
  int32_t *labels; /* (N) device */
  void *T;         /* (N, C) device (mse) */
  hs_batch_state *states; /* n_batches when cached, else 1 reused */
  size_t n_states;
  hs_rstate rs;
  void *ones_scratch;
};

hs_context *hs_model_context(const hs_model *m);

/* Batch b's state at the current parameters, computed if stale. With G non-NULL the pass
 * is always run and the batch's loss gradient is accumulated into G (P). */
hs_status hs_nn_state(hs_model *m, size_t b, void *G, hs_batch_state **out);
/* hs_model_bind with one batch state, recomputed for every batch: for passes that visit each
 * batch once per parameter point (training, evaluation), where caching every batch's state
 * would only cost memory. */
hs_status hs_nn_bind_streaming(hs_model *m, const hs_dataset *d, size_t batch);
/* Marks every cached state stale (after the parameters change). */
void hs_nn_invalidate(hs_model *m);

/* The passes (src/nn/forward.c, backward.c, rop.c). Scale = 1/N for the dataset mean. */
hs_status hs_nn_forward(hs_model *m, hs_batch_state *s, const void *Xb, int rows, size_t first);
/* Backward of k cotangents dF (k, B, C) through the network at state s, accumulating
 * parameter gradients into G (k, P). When `V` is non-NULL the second-order terms of the
 * R-backward at direction block V (k, P) are added too (the Hessian); NULL gives J^T dF. */
hs_status hs_nn_backward(hs_model *m, hs_batch_state *s, const void *Xb, int k, const void *dF,
                         const void *V, void *G, int cache_deltas);
hs_status hs_nn_rforward(hs_model *m, hs_batch_state *s, const void *Xb, int k, const void *V);
hs_status hs_nn_rstate_reserve(hs_model *m, int k, int rows);

#endif
