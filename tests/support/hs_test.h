/* Helpers shared by the Criterion suites: contexts, random models and data, error norms. */
#ifndef HS_TEST_H
#define HS_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

/* A CPU context (asserts on failure). */
hs_context *hs_test_ctx(hs_dtype t, int threads);
/* A name in dir with ".tmp." in it (a temporary an atomic writer left behind), or NULL;
 * static storage. */
const char *hs_test_stray_temporary(const char *dir);
/* A spec with the given shape; other fields default. widths: n_hidden entries. */
hs_model_spec hs_test_spec(int in, int n_hidden, const int *widths, int out, hs_activation act,
                           hs_batchnorm bn, int residual, int bias, hs_loss loss);
/* A model with random parameters (weights ~ N(0, 1/fan_in), biases ~ N(0, 0.1), BN gamma
 * ~ 1 + N(0, 0.2^2), beta ~ N(0, 0.1), running mean ~ N(0, 0.1), var ~ U(0.5, 1.5)). */
hs_model *hs_test_model(hs_context *ctx, const hs_model_spec *s, uint64_t seed);
/* Layer-form specs built in code: hs_test_layers, then layers appended in order (defaults
 * as the JSON form's), residuals bracketed by _begin / _shortcut (omit for an identity
 * shortcut) / _end, then hs_test_finish (shape inference; asserts on failure). */
hs_model_spec hs_test_layers(const hs_shape *input, hs_loss loss, hs_batchnorm mode);
hs_layer_spec *hs_test_add(hs_model_spec *s, hs_layer_type type);
void hs_test_linear(hs_model_spec *s, int out, int bias);
void hs_test_conv(hs_model_spec *s, int out, int kh, int kw, int stride, int pad, int bias);
void hs_test_pool(hs_model_spec *s, hs_layer_type type, int kernel, int stride);
int hs_test_residual_begin(hs_model_spec *s);
void hs_test_residual_shortcut(hs_model_spec *s, int r);
void hs_test_residual_end(hs_model_spec *s, int r);
void hs_test_finish(hs_context *ctx, hs_model_spec *s);
/* n random samples: X ~ N(0, 1); labels uniform or targets ~ N(0, 1). */
hs_dataset *hs_test_data(hs_context *ctx, const hs_model_spec *s, size_t n, uint64_t seed);
/* A random direction ~ N(0, 1) of length n (caller frees). */
double *hs_test_vec(size_t n, uint64_t seed);
/* max_i |a_i - b_i| / max(max_i |b_i|, floor) */
double hs_test_relerr(const double *a, const double *b, size_t n, double floor);
double hs_test_dot(const double *a, const double *b, size_t n);
/* The dense Hessian (or GGN) P x P by HVPs with the unit vectors (caller frees). */
double *hs_test_dense(hs_model *m, hs_curvature which);

#endif
