/* Dataset names, .npy pairs and the conversions between labels and targets. The loaders
 * themselves are in fashion_mnist.c and synthetic.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/datasets.h"
#include "io/npy.h"

/* Teacher outputs -> the class of the largest output (first on ties). */
static hs_status argmax_labels(hs_context *ctx, hs_data *d) {
  int32_t *y = hs_malloc(d->n * sizeof *y + 1);
  if (!y) return hs_fail(ctx, HS_E_NOMEM, "out of memory for %zu labels", d->n);
  for (size_t i = 0; i < d->n; i++) {
    const double *t = d->targets + i * (size_t)d->output_dim;
    int best = 0;
    for (int k = 1; k < d->output_dim; k++)
      if (t[k] > t[best]) best = k;
    y[i] = best;
  }
  free(d->targets);
  d->targets = NULL;
  d->labels = y;
  return HS_OK;
}

/* "key=value,key=value" options after the dataset name. Returns 0 and fills why on error. */
typedef struct {
  double sep, noise;
  int n_hidden, hidden[HS_MAX_HIDDEN];
  hs_activation act;
} synth_opts;

static int parse_opts(const char *s, int teacher, synth_opts *o, char *why, size_t whylen) {
  while (s && *s) {
    const char *end = strchr(s, ',');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    char item[128];
    if (len >= sizeof item) len = sizeof item - 1;
    memcpy(item, s, len);
    item[len] = '\0';
    s = end ? end + 1 : NULL;
    char *eq = strchr(item, '=');
    if (!eq) {
      snprintf(why, whylen, "option '%s' is not key=value", item);
      return 0;
    }
    *eq = '\0';
    const char *key = item, *val = eq + 1;
    char *rest;
    if (!teacher && strcmp(key, "sep") == 0) {
      o->sep = strtod(val, &rest);
      if (*rest || !*val || !(o->sep >= 0) || !isfinite(o->sep)) {
        snprintf(why, whylen, "sep=%s: expected a number >= 0", val);
        return 0;
      }
    } else if (teacher && strcmp(key, "noise") == 0) {
      o->noise = strtod(val, &rest);
      if (*rest || !*val || !(o->noise >= 0) || !isfinite(o->noise)) {
        snprintf(why, whylen, "noise=%s: expected a number >= 0", val);
        return 0;
      }
    } else if (teacher && strcmp(key, "act") == 0) {
      if (strcmp(val, "linear") == 0) o->act = HS_ACT_LINEAR;
      else if (strcmp(val, "relu") == 0) o->act = HS_ACT_RELU;
      else if (strcmp(val, "tanh") == 0) o->act = HS_ACT_TANH;
      else {
        snprintf(why, whylen, "act=%s: expected linear, relu or tanh", val);
        return 0;
      }
    } else if (teacher && strcmp(key, "hidden") == 0) {
      o->n_hidden = 0;
      const char *p = val;
      while (*p) {
        long w = strtol(p, &rest, 10);
        if (rest == p || w < 1 || w > (1 << 20) || o->n_hidden == HS_MAX_HIDDEN ||
            (*rest && *rest != 'x')) {
          snprintf(why, whylen, "hidden=%s: expected widths such as 64 or 64x32", val);
          return 0;
        }
        o->hidden[o->n_hidden++] = (int)w;
        p = *rest ? rest + 1 : rest;
        if (*rest && !*p) {
          snprintf(why, whylen, "hidden=%s: expected widths such as 64 or 64x32", val);
          return 0;
        }
      }
    } else {
      snprintf(why, whylen, "unknown option '%.40s' (%s)", key,
               teacher ? "expected hidden, act or noise" : "expected sep");
      return 0;
    }
  }
  return 1;
}

static hs_status check_dims(hs_context *ctx, const char *name, const hs_data *d,
                            const hs_model_spec *spec) {
  if (d->input_dim != spec->input_dim || d->output_dim != spec->output_dim)
    return hs_fail(ctx, HS_E_INVALID,
                   "dataset '%s' has %d inputs and %d outputs but the model spec has input_dim "
                   "%d and output_dim %d",
                   name, d->input_dim, d->output_dim, spec->input_dim, spec->output_dim);
  return HS_OK;
}

hs_status hs_data_open(hs_context *ctx, const char *name, size_t n, uint64_t seed,
                       const hs_model_spec *spec, hs_data *out) {
  hs_status st;
  memset(out, 0, sizeof *out);
  const char *colon = strchr(name, ':');
  size_t base = colon ? (size_t)(colon - name) : strlen(name);
  const char *opts = colon ? colon + 1 : "";
  char why[160];

  if (base == 13 && strncmp(name, "fashion-mnist", 13) == 0) {
    int train = !colon || strcmp(opts, "train") == 0;
    if (!train && strcmp(opts, "test") != 0)
      return hs_fail(ctx, HS_E_INVALID,
                     "dataset '%s': expected fashion-mnist, fashion-mnist:train or "
                     "fashion-mnist:test",
                     name);
    st = hs_data_fashion_mnist(ctx, train, n, out);
  } else if ((base == 7 && strncmp(name, "mixture", 7) == 0) ||
             (base == 7 && strncmp(name, "teacher", 7) == 0)) {
    int teacher = name[0] == 't';
    synth_opts o = {.sep = 3.0, .noise = 0.0, .n_hidden = 0, .act = HS_ACT_TANH};
    if (!parse_opts(opts, teacher, &o, why, sizeof why))
      return hs_fail(ctx, HS_E_INVALID, "dataset '%s': %s", name, why);
    if (n == 0)
      return hs_fail(ctx, HS_E_INVALID, "dataset '%s': a synthetic dataset needs a sample count",
                     name);
    if (!teacher) {
      st = hs_data_mixture(ctx, n, spec->input_dim, spec->output_dim, o.sep, seed, out);
    } else {
      int dims[HS_MAX_HIDDEN + 2];
      dims[0] = spec->input_dim;
      for (int i = 0; i < o.n_hidden; i++) dims[1 + i] = o.hidden[i];
      dims[o.n_hidden + 1] = spec->output_dim;
      st = hs_data_teacher(ctx, n, o.n_hidden + 1, dims, o.act, o.noise, seed, out);
    }
  } else {
    return hs_fail(ctx, HS_E_INVALID,
                   "unknown dataset '%s' (expected fashion-mnist[:train|:test], mixture[:sep=S] "
                   "or teacher[:hidden=HxH,act=A,noise=E])",
                   name);
  }
  if (st != HS_OK) goto cleanup;
  if ((st = check_dims(ctx, name, out, spec)) != HS_OK) goto cleanup;
  if (spec->loss == HS_LOSS_MSE && out->labels) st = hs_data_one_hot(ctx, out);
  if (spec->loss == HS_LOSS_CROSS_ENTROPY && out->targets) st = argmax_labels(ctx, out);

cleanup:
  if (st != HS_OK) hs_data_free(out);
  return st;
}

hs_status hs_data_from_npy(hs_context *ctx, const char *x_path, const char *y_path, size_t n,
                           const hs_model_spec *spec, hs_data *out) {
  hs_status st;
  hs_npy_shape xs, ys;
  char sh[128];
  memset(out, 0, sizeof *out);
  HS_TRY(hs_npy_read_f64(ctx, x_path, HS_NPY_FINITE, &out->X, &xs));
  /* (N, input_dim), or for an input_shape [C, H, W] also (N, C, H, W): the same row-major bytes */
  const hs_shape *is = &spec->input_shape;
  int image = spec->form == HS_SPEC_LAYERS && is->rank == 3;
  int ok_x = (xs.ndim == 2 && xs.dim[1] == (size_t)spec->input_dim) ||
             (image && xs.ndim == 4 && xs.dim[1] == (size_t)is->dim[0] && xs.dim[2] == (size_t)is->dim[1] &&
              xs.dim[3] == (size_t)is->dim[2]);
  if (!ok_x) {
    hs_npy_shape_str(&xs, sh, sizeof sh);
    if (image)
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, expected (N, %d, %d, %d) or (N, %d) for input_shape [%d, %d, %d]",
                   x_path, sh, is->dim[0], is->dim[1], is->dim[2], spec->input_dim, is->dim[0], is->dim[1], is->dim[2]);
    else
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, expected (N, %d) for input_dim %d", x_path, sh,
                   spec->input_dim, spec->input_dim);
    goto cleanup;
  }
  size_t N = xs.dim[0];
  if (spec->loss == HS_LOSS_CROSS_ENTROPY) {
    HS_TRY(hs_npy_read_i32(ctx, y_path, &out->labels, &ys));
    if (ys.ndim != 1) {
      hs_npy_shape_str(&ys, sh, sizeof sh);
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, expected (N,) integer labels", y_path, sh);
      goto cleanup;
    }
    for (size_t i = 0; i < ys.dim[0]; i++)
      if (out->labels[i] < 0 || out->labels[i] >= spec->output_dim) {
        st = hs_fail(ctx, HS_E_INVALID, "%s: element [%zu] = %d is not a class in [0, %d)",
                     y_path, i, (int)out->labels[i], spec->output_dim);
        goto cleanup;
      }
  } else {
    HS_TRY(hs_npy_read_f64(ctx, y_path, HS_NPY_FINITE, &out->targets, &ys));
    int ok = (ys.ndim == 2 && ys.dim[1] == (size_t)spec->output_dim) ||
             (ys.ndim == 1 && spec->output_dim == 1);
    if (!ok) {
      hs_npy_shape_str(&ys, sh, sizeof sh);
      st = hs_fail(ctx, HS_E_INVALID, "%s: shape %s, expected (N, %d) targets for loss mse",
                   y_path, sh, spec->output_dim);
      goto cleanup;
    }
  }
  if (ys.dim[0] != N) {
    st = hs_fail(ctx, HS_E_INVALID, "%s has %zu samples but %s has %zu", x_path, N, y_path,
                 ys.dim[0]);
    goto cleanup;
  }
  if (N == 0) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: no samples", x_path);
    goto cleanup;
  }
  if (n > N) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: asked for %zu samples but the file has %zu", x_path, n,
                 N);
    goto cleanup;
  }
  /* Keeping a prefix needs no copy: the arrays are row-major, so the tail is just unused. */
  out->n = n ? n : N;
  out->input_dim = spec->input_dim;
  out->output_dim = spec->output_dim;
  snprintf(out->source, sizeof out->source, "%s, %s (%zu of %zu samples)", x_path, y_path, out->n,
           N);
  st = HS_OK;

cleanup:
  if (st != HS_OK) hs_data_free(out);
  return st;
}
