/* The model's internals, shared by the files of src/nn (never by code above it; src/train and
 * src/analysis use nn/engine.h).
 *
 * The network is a list of nodes compiled from the spec's layer list (nn/compile.c; the MLP
 * form is first expanded into its layer form). Each node reads one value (two for the
 * residual sum) and writes one; values are the per-sample tensors between layers, numbered
 * in forward order, value 0 being the data. Flatten and identity layers make no node: their
 * output is their input's value seen with another shape. A node kind is one unit
 * (nn/unit.h): forward, backward for k cotangents, R-forward, and the second-order terms of
 * the R-backward, each as a short sequence of op-table calls. */
#ifndef HS_NN_MODEL_H
#define HS_NN_MODEL_H

#include "backend/backend.h"
#include "core/context.h"
#include "hesspec.h"
#include "nn/dataset.h"

#define HS_MAX_TENSORS (2 * HS_MAX_LAYERS + 2)
#define HS_MAX_NODES HS_MAX_LAYERS
#define HS_MAX_VALUES (HS_MAX_LAYERS + 1)
#define HS_NODE_PRIV 5 /* node-private arrays in a batch state, and in the R-state */

typedef struct hs_unit hs_unit;

typedef enum { HS_NODE_LINEAR, HS_NODE_CONV, HS_NODE_NORM, HS_NODE_ACT, HS_NODE_POOL, HS_NODE_ADD } hs_node_kind;

typedef struct {
  hs_node_kind kind;
  const hs_unit *unit;
  int in, in2, out;            /* value ids; in2 = second summand (add), else -1 */
  hs_shape in_shape, out_shape;
  long long in_numel, out_numel;
  /* parameters: offsets into the flat vector, SIZE_MAX where absent */
  size_t w, b;                 /* linear: W (out x in), bias; conv: W (O, C, kh, kw), bias */
  int fin, fout;               /* linear: features; conv: channels */
  hs_window g;                 /* conv, pools */
  int act;                     /* act: hs_activation */
  int pool;                    /* pool: hs_pool_mode */
  int norm;                    /* norm: index of its running statistics */
  int norm_2d;                 /* norm over (C, H, W): statistics per channel */
  int norm_dz_private;         /* norm: its own input cotangent is kept apart from D[in] */
  int acc_in, acc_in2;         /* backward: add into the input cotangent (not its first writer) */
  int has_params;
} hs_node;

typedef struct {
  long long numel;  /* per sample */
  int needs_grad;   /* depends on parameters: has a non-zero R and a cotangent worth computing */
  int r_buffer;     /* has an R array (needs_grad, or read as an R-input by a norm) */
  int slot;         /* R-backward cotangent slot, -1 if none */
  int consumers;
} hs_value;

/* Everything that depends on the parameters and one batch but not on a direction: the
 * forward values and the cotangents of the loss gradient. Device arrays, B = rows. */
typedef struct {
  int valid; /* computed at the current parameters */
  int rows;
  int bn_mode; /* the batch-norm mode it was computed in */
  size_t first; /* first sample */
  void *X[HS_MAX_VALUES]; /* (B, numel) forward values; X[0] = the batch's inputs (borrowed) */
  void *D[HS_MAX_VALUES]; /* (B, numel) dL/d(value); D[last] = dF */
  void *priv[HS_MAX_NODES][HS_NODE_PRIV]; /* node-private arrays (unit.h) */
  void *PROB;             /* (B, C) softmax (cross entropy only) */
  double loss_sum;        /* sum over the batch's samples of the per-sample loss */
  void **owned;
  int n_owned, cap_owned;
} hs_batch_state;

/* Direction-dependent arrays for k directions (reused for every batch). */
typedef struct {
  int k, rows; /* allocated capacity */
  void *RX[HS_MAX_VALUES];                 /* (k, B, numel) R(value); NULL where zero */
  void *rpriv[HS_MAX_NODES][HS_NODE_PRIV]; /* node-private R arrays */
  void **slot;                             /* (k, B, max_numel) R-backward cotangents */
  void *RdF;                               /* (k, B, C) R(dF) */
  void **owned;
  int n_owned, cap_owned;
} hs_rstate;

/* Transient work arrays shared by the units (each unit's use ends with its call). */
typedef struct {
  int k, rows;
  void *buf[3];   /* (k, B, max_numel); buf[2] is the driver's accumulation buffer */
  void *conv_cols[2], *conv_yt[2], *conv_ones; /* conv chunks (nn/unit_conv.c) */
  int conv_chunk; /* samples per conv chunk */
  size_t conv_elems; /* the conv workspace, all arrays */
} hs_scratch;

struct hs_model {
  hs_context *ctx;
  hs_model_spec spec;   /* as given (MLP or layer form) */
  hs_dtype dtype;
  size_t P;
  size_t n_tensors;
  hs_param_info tensors[HS_MAX_TENSORS];
  char names[HS_MAX_TENSORS][80];
  int fan_in[HS_MAX_TENSORS]; /* of the layer a weight or bias belongs to; 0 for BN */
  size_t n_norms;
  hs_norm_info norms[HS_MAX_LAYERS];
  char norm_names[HS_MAX_LAYERS][64];

  int n_nodes, n_values, n_slots;
  hs_node nodes[HS_MAX_NODES];
  hs_value values[HS_MAX_VALUES];
  long long max_numel; /* widest value, input and output included */
  int output_value;

  void *theta;                  /* (P) device parameters */
  void *run_mean[HS_MAX_LAYERS]; /* (features) device running stats, per norm */
  void *run_var[HS_MAX_LAYERS];

  /* bound data */
  const hs_dataset *data;
  size_t batch, n_batches; /* n_batches: this rank's (all of them in a single process) */
  size_t row0, n_local;     /* this rank's rows [row0, row0 + n_local) of the bound data */
  void *X;         /* (n_local, in) device: this rank's rows */
  int32_t *labels; /* (n_local) device */
  void *T;         /* (n_local, C) device (mse) */
  hs_batch_state *states; /* n_batches when cached, else 1 reused */
  size_t n_states;
  hs_rstate rs;
  hs_scratch scr;
  /* hs_model_hvp's device copies of V and Y (hvp_cap values each), kept between calls: a fresh
   * pair per call cost 6% of a single HVP of the 784-256x3-10 net in page faults and
   * allocation (bench/results/2026-12-06-python-overhead.md) */
  void *hvp_v, *hvp_y;
  size_t hvp_cap;
};

/* nn/compile.c: nodes, values, parameter layout and cotangent slots from m->spec. */
hs_status hs_nn_compile(hs_model *m);
/* nn/memory.c: the one account of device memory. Bytes of one batch state of `rows` rows,
 * and of the R-state per direction (the R arrays and cotangent slots of `rows` rows). */
size_t hs_nn_state_bytes(const hs_model *m, size_t rows);
size_t hs_nn_rstate_bytes_per_direction(const hs_model *m, size_t rows);
size_t hs_nn_scratch_bytes(const hs_model *m, int k, size_t rows);

hs_context *hs_model_context(const hs_model *m);

/* Batch b's state at the current parameters in the model's own batch-norm mode, computed
 * if stale. With G non-NULL the pass is always run and the batch's loss gradient is
 * accumulated into G (P). */
hs_status hs_nn_state(hs_model *m, size_t b, void *G, hs_batch_state **out);
/* The same in an explicit batch-norm mode (training passes use HS_BN_BATCH). */
hs_status hs_nn_state_mode(hs_model *m, size_t b, int bn_mode, void *G, hs_batch_state **out);
/* The same for rows [lo, hi) of local batch b only (a rank's part of a minibatch). */
hs_status hs_nn_state_rows(hs_model *m, size_t b, size_t lo, size_t hi, int bn_mode, void *G, hs_batch_state **out);
/* Marks every cached state stale (after the parameters change). */
void hs_nn_invalidate(hs_model *m);
hs_status hs_nn_bind_streaming(hs_model *m, const hs_dataset *d, size_t batch);

/* The passes (nn/passes.c). The loss is the dataset mean: its cotangents carry 1/N. */
hs_status hs_nn_forward(hs_model *m, hs_batch_state *s, const void *Xb, int rows, size_t first, int bn_mode);
/* Backward of k cotangents dF (k, B, C) through the network at state s, accumulating
 * parameter gradients into G (k, P) when non-NULL. With V non-NULL the second-order terms
 * of the R-backward at direction block V (k, P) are added (the Hessian); NULL gives J^T dF.
 * cache = 1: the gradient pass (k = 1), whose cotangents are kept in the state. */
hs_status hs_nn_backward(hs_model *m, hs_batch_state *s, int k, const void *dF, const void *V, void *G,
                         int cache);
hs_status hs_nn_rforward(hs_model *m, hs_batch_state *s, int k, const void *V);
/* nn/state.c */
hs_status hs_nn_state_create(hs_model *m, hs_batch_state *s, int rows);
void hs_nn_state_free(hs_model *m, hs_batch_state *s);
hs_status hs_nn_rstate_reserve(hs_model *m, int k, int rows);
hs_status hs_nn_scratch_reserve(hs_model *m, int k, int rows);
void hs_nn_rstate_release(hs_model *m); /* the R-state and the scratch */

#endif
