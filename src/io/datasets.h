/* Data as host arrays: the built-in datasets, synthetic generators, and .npy pairs.
 *
 * Built-in names (hs_data_open), DESIGN.md's `--dataset NAME`:
 *   fashion-mnist[:train|:test]  the IDX .gz files of the Debian package
 *       dataset-fashion-mnist in /usr/share/datasets/fashion-mnist, or in $HESSPEC_DATA;
 *       the first n samples in file order; pixels / 255 in [0, 1]; 10 classes.
 *       ":train" (60000 samples) is the default.
 *   mixture[:sep=S]  Gaussian mixture classification, see hs_data_mixture; dim and classes
 *       from the model spec; S defaults to 3.
 *   teacher[:hidden=H1xH2...,act=linear|relu|tanh,noise=E]  teacher-network regression,
 *       see hs_data_teacher; dims [input_dim, H..., output_dim] from the model spec; defaults:
 *       no hidden layer (a linear teacher), act tanh, noise 0.
 * For a model with loss mse, class labels become one-hot targets; for cross_entropy, the
 * teacher's targets become labels (the argmax of its output).
 *
 * Synthetic data are pure functions of (seed, n, dims, settings): sample i is the same
 * whatever n is, drawn from the counter-based generator (core/rng.h), stream
 * HS_STREAM_DATA + 16*k for sub-stream k (0 inputs, 1 target noise, 2 class means,
 * 3 + l teacher layer l). */
#ifndef HS_IO_DATASETS_H
#define HS_IO_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

typedef struct {
  size_t n;
  int input_dim, output_dim;
  double *X;        /* (n, input_dim), owned */
  int32_t *labels;  /* (n) in [0, output_dim), owned; NULL for regression */
  double *targets;  /* (n, output_dim), owned; NULL for classification */
  char source[512]; /* provenance: name, settings and where the data came from */
} hs_data;

void hs_data_free(hs_data *d);

/* The folder of the Fashion-MNIST files: the context's data_dir (the CLI's $HESSPEC_DATA)
 * or the Debian package's. */
const char *hs_fashion_mnist_dir(const hs_context *ctx);

/* The first n samples (0 = all) of the training (train = 1) or test split. A missing file
 * is HS_E_IO naming the path and the Debian package to install. */
hs_status hs_data_fashion_mnist(hs_context *ctx, int train, size_t n, hs_data *out);

/* Gaussian mixture: class means mu_c = separation / sqrt(2 dim) * g_c with g_c ~ N(0, I),
 * so that E||mu_a - mu_b||^2 = separation^2; sample i has label i mod classes (balanced)
 * and x_i = mu_{y_i} + N(0, I). `separation` is thus the typical distance between class
 * means in units of the within-class standard deviation. */
hs_status hs_data_mixture(hs_context *ctx, size_t n, int dim, int classes, double separation,
                          uint64_t seed, hs_data *out);

/* Teacher network: x ~ N(0, I_dims[0]); h_{l+1} = act(W_l h_l) for the n_layers - 1 hidden
 * layers, output W_last h (no activation), W_l entries ~ N(0, 1 / fan_in), no biases;
 * targets = output + noise * N(0, 1). dims has n_layers + 1 entries (in, hidden..., out). */
hs_status hs_data_teacher(hs_context *ctx, size_t n, int n_layers, const int *dims,
                          hs_activation act, double noise, uint64_t seed, hs_data *out);

/* A dataset by name (see the top of this file), checked against and shaped for the spec. */
hs_status hs_data_open(hs_context *ctx, const char *name, size_t n, uint64_t seed,
                       const hs_model_spec *spec, hs_data *out);

/* Inputs X.npy (N, input_dim) and targets Y.npy: (N,) integer labels in [0, output_dim)
 * for cross_entropy, (N, output_dim) floats for mse. Any numeric dtype; values must be
 * finite. n > 0 keeps the first n samples. */
hs_status hs_data_from_npy(hs_context *ctx, const char *x_path, const char *y_path, size_t n,
                           const hs_model_spec *spec, hs_data *out);

/* labels -> one-hot targets (replaces d->labels by d->targets). */
hs_status hs_data_one_hot(hs_context *ctx, hs_data *d);

#endif
