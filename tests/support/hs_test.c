#include "support/hs_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/engine.h"

hs_context *hs_test_ctx(hs_dtype t, int threads) {
  hs_context_options o = hs_context_defaults();
  o.device = "cpu";
  o.dtype = t;
  o.threads = threads;
  hs_context *ctx = NULL;
  hs_status st = hs_context_create(&o, &ctx);
  cr_assert_eq(st, HS_OK, "context: %s", ctx ? hs_last_error(ctx) : "no memory");
  return ctx;
}

hs_model_spec hs_test_spec(int in, int n_hidden, const int *widths, int out, hs_activation act,
                           hs_batchnorm bn, int residual, int bias, hs_loss loss) {
  hs_model_spec s = hs_spec_defaults();
  s.input_dim = in;
  s.n_hidden = n_hidden;
  for (int i = 0; i < n_hidden; i++) s.hidden[i] = widths[i];
  s.output_dim = out;
  s.activation = act;
  s.batchnorm = bn;
  s.residual = residual;
  s.bias = bias;
  s.loss = loss;
  return s;
}

/* Tensor t belongs to a batch norm: its name is a norm's name plus ".weight" or ".bias". */
static int norm_tensor(const hs_model *m, const char *name, int *is_weight) {
  for (size_t i = 0; i < hs_model_num_norms(m); i++) {
    const char *nn = hs_model_norm(m, i)->name;
    size_t len = strlen(nn);
    if (strncmp(name, nn, len) == 0 && name[len] == '.') {
      *is_weight = strcmp(name + len, ".weight") == 0;
      return 1;
    }
  }
  return 0;
}

hs_model *hs_test_model(hs_context *ctx, const hs_model_spec *s, uint64_t seed) {
  hs_model *m = NULL;
  hs_status st = hs_model_create(ctx, s, &m);
  cr_assert_eq(st, HS_OK, "model: %s", hs_last_error(ctx));
  size_t P = hs_model_num_params(m);
  double *theta = malloc(P * sizeof *theta);
  for (size_t t = 0; t < hs_model_num_tensors(m); t++) {
    const hs_param_info *p = hs_model_tensor(m, t);
    size_t n = (size_t)p->rows * p->cols;
    int w = 0, bn = norm_tensor(m, p->name, &w);
    for (size_t j = 0; j < n; j++) {
      double z = hs_rng_normal(seed, 100 + t, j);
      double *x = theta + p->offset + j;
      if (bn && w) *x = 1.0 + 0.2 * z;
      else if (!bn && p->ndim >= 2) *x = z / sqrt((double)p->cols); /* cols = fan_in */
      else *x = 0.1 * z;
    }
  }
  st = hs_model_set_params(m, theta);
  cr_assert_eq(st, HS_OK, "set params: %s", hs_last_error(ctx));
  free(theta);
  for (size_t i = 0; i < hs_model_num_norms(m); i++) {
    int n = hs_model_norm(m, i)->features;
    double *mean = malloc(n * sizeof *mean), *var = malloc(n * sizeof *var);
    for (int j = 0; j < n; j++) {
      mean[j] = 0.1 * hs_rng_normal(seed, 200 + i, j);
      var[j] = 0.5 + hs_rng_uniform(seed, 300 + i, j);
    }
    st = hs_model_set_running(m, (int)i, mean, var);
    cr_assert_eq(st, HS_OK, "set running: %s", hs_last_error(ctx));
    free(mean);
    free(var);
  }
  return m;
}

/* ---- layer-form specs ---- */

hs_model_spec hs_test_layers(const hs_shape *input, hs_loss loss, hs_batchnorm mode) {
  hs_model_spec s = hs_spec_defaults();
  s.form = HS_SPEC_LAYERS;
  s.input_shape = *input;
  s.loss = loss;
  s.batchnorm = mode;
  return s;
}

hs_layer_spec *hs_test_add(hs_model_spec *s, hs_layer_type type) {
  cr_assert_lt(s->n_layers, HS_MAX_LAYERS);
  hs_layer_spec *e = &s->layers[s->n_layers++];
  memset(e, 0, sizeof *e);
  e->type = type;
  e->bias = 1;
  e->eps = 1e-5;
  e->stride[0] = e->stride[1] = 1;
  return e;
}

void hs_test_linear(hs_model_spec *s, int out, int bias) {
  hs_layer_spec *e = hs_test_add(s, HS_LAYER_LINEAR);
  e->out = out;
  e->bias = bias;
}

void hs_test_conv(hs_model_spec *s, int out, int kh, int kw, int stride, int pad, int bias) {
  hs_layer_spec *e = hs_test_add(s, HS_LAYER_CONV2D);
  e->out = out;
  e->kernel[0] = kh;
  e->kernel[1] = kw;
  e->stride[0] = e->stride[1] = stride;
  e->padding[0] = e->padding[1] = pad;
  e->bias = bias;
}

void hs_test_pool(hs_model_spec *s, hs_layer_type type, int kernel, int stride) {
  hs_layer_spec *e = hs_test_add(s, type);
  e->kernel[0] = e->kernel[1] = kernel;
  e->stride[0] = e->stride[1] = stride;
}

int hs_test_residual_begin(hs_model_spec *s) {
  hs_test_add(s, HS_LAYER_RESIDUAL);
  return s->n_layers - 1;
}

void hs_test_residual_shortcut(hs_model_spec *s, int r) { s->layers[r].body_len = s->n_layers - r - 1; }

void hs_test_residual_end(hs_model_spec *s, int r) {
  hs_layer_spec *e = &s->layers[r];
  if (e->body_len == 0) e->body_len = s->n_layers - r - 1;
  e->shortcut_len = s->n_layers - r - 1 - e->body_len;
}

void hs_test_finish(hs_context *ctx, hs_model_spec *s) {
  hs_status st = hs_spec_infer_dims(ctx, s);
  cr_assert_eq(st, HS_OK, "layer spec: %s", hs_last_error(ctx));
}

hs_dataset *hs_test_data(hs_context *ctx, const hs_model_spec *s, size_t n, uint64_t seed) {
  double *X = malloc(n * s->input_dim * sizeof *X);
  hs_rng_normals(seed, 400, 0, n * s->input_dim, X);
  int32_t *labels = NULL;
  double *T = NULL;
  if (s->loss == HS_LOSS_CROSS_ENTROPY) {
    labels = malloc(n * sizeof *labels);
    for (size_t i = 0; i < n; i++) labels[i] = (int32_t)(hs_rng_bits(seed, 401, i) % (uint64_t)s->output_dim);
  } else {
    T = malloc(n * s->output_dim * sizeof *T);
    hs_rng_normals(seed, 402, 0, n * s->output_dim, T);
  }
  hs_dataset *d = NULL;
  hs_status st = hs_dataset_create(ctx, n, s->input_dim, X, s->output_dim, labels, T, &d);
  cr_assert_eq(st, HS_OK, "dataset: %s", hs_last_error(ctx));
  free(X);
  free(labels);
  free(T);
  return d;
}

double *hs_test_vec(size_t n, uint64_t seed) {
  double *v = malloc(n * sizeof *v);
  hs_rng_normals(seed, 500, 0, n, v);
  return v;
}

double hs_test_relerr(const double *a, const double *b, size_t n, double floor) {
  double num = 0, den = floor;
  for (size_t i = 0; i < n; i++) {
    num = fmax(num, fabs(a[i] - b[i]));
    den = fmax(den, fabs(b[i]));
  }
  return num / den;
}

double hs_test_dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

double *hs_test_dense(hs_model *m, hs_curvature which) {
  size_t P = hs_model_num_params(m);
  double *E = calloc(P * P, sizeof *E), *H = malloc(P * P * sizeof *H);
  for (size_t i = 0; i < P; i++) E[i * P + i] = 1.0;
  hs_status st = hs_model_hvp(m, which, P, E, H);
  cr_assert_eq(st, HS_OK, "dense hvp: %s", hs_last_error(hs_model_context(m)));
  free(E);
  return H;
}

const char *hs_test_stray_temporary(const char *dir) {
  static char name[256];
  DIR *dp = opendir(dir);
  cr_assert(dp, "%s: cannot list it", dir);
  const char *found = NULL;
  struct dirent *e;
  while ((e = readdir(dp)))
    if (strstr(e->d_name, ".tmp.")) {
      snprintf(name, sizeof name, "%s", e->d_name);
      found = name;
      break;
    }
  closedir(dp);
  return found;
}
