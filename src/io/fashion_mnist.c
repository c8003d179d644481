/* Fashion-MNIST from the IDX .gz files of the Debian package dataset-fashion-mnist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/context.h"
#include "io/datasets.h"
#include "io/idx.h"

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

const char *hs_fashion_mnist_dir(const hs_context *ctx) {
  return ctx && ctx->data_dir[0] ? ctx->data_dir : FMNIST_DEFAULT_DIR;
}

/* dir/base.gz, or dir/base when only the unpacked file is there (as from other mirrors). */
static hs_status find_file(hs_context *ctx, const char *dir, const char *base, char *out,
                           size_t outlen) {
  snprintf(out, outlen, "%s/%s.gz", dir, base);
  if (access(out, F_OK) == 0) return HS_OK;
  snprintf(out, outlen, "%s/%s", dir, base);
  if (access(out, F_OK) == 0) return HS_OK;
  snprintf(out, outlen, "%s/%s.gz", dir, base);
  return hs_fail(ctx, HS_E_IO,
                 "%s: not found; install the Debian package dataset-fashion-mnist "
                 "(apt-get install dataset-fashion-mnist) or set HESSPEC_DATA to a directory "
                 "holding the Fashion-MNIST IDX files",
                 out);
}

hs_status hs_data_fashion_mnist(hs_context *ctx, int train, size_t n, hs_data *out) {
  hs_status st;
  hs_idx img = {0}, lab = {0};
  char ipath[1024], lpath[1024];
  const char *dir = hs_fashion_mnist_dir(ctx);
  const char *split = train ? "train" : "test", *prefix = train ? "train" : "t10k";
  char base[64];
  memset(out, 0, sizeof *out);

  snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
  HS_TRY(find_file(ctx, dir, base, lpath, sizeof lpath));
  snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
  HS_TRY(find_file(ctx, dir, base, ipath, sizeof ipath));

  HS_TRY(hs_idx_read(ctx, lpath, n, &lab));
  if (lab.ndim != 1) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: expected a label file (magic 0x00000801)", lpath);
    goto cleanup;
  }
  if (n > lab.dim[0]) {
    st = hs_fail(ctx, HS_E_INVALID, "fashion-mnist:%s has %zu samples, asked for %zu", split,
                 lab.dim[0], n);
    goto cleanup;
  }
  HS_TRY(hs_idx_read(ctx, ipath, n, &img));
  if (img.ndim != 3 || img.dim[1] != 28 || img.dim[2] != 28) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: expected 28x28 images (magic 0x00000803)", ipath);
    goto cleanup;
  }
  if (img.dim[0] != lab.dim[0]) {
    st = hs_fail(ctx, HS_E_INVALID, "%s has %zu images but %s has %zu labels", ipath, img.dim[0],
                 lpath, lab.dim[0]);
    goto cleanup;
  }
  size_t N = lab.n, D = img.item_size;
  out->X = hs_malloc(N * D * sizeof *out->X + 1);
  out->labels = hs_malloc(N * sizeof *out->labels + 1);
  if (!out->X || !out->labels) {
    st = hs_fail(ctx, HS_E_NOMEM, "fashion-mnist: out of memory for %zu samples", N);
    goto cleanup;
  }
  for (size_t i = 0; i < N; i++) {
    if (lab.data[i] > 9) {
      st = hs_fail(ctx, HS_E_INVALID, "%s: label %zu is %d, expected 0..9", lpath, i, lab.data[i]);
      goto cleanup;
    }
    out->labels[i] = lab.data[i];
  }
  for (size_t k = 0; k < N * D; k++) out->X[k] = img.data[k] / 255.0;
  out->n = N;
  out->input_dim = (int)D;
  out->output_dim = 10;
  snprintf(out->source, sizeof out->source, "fashion-mnist:%s (first %zu of %zu samples, %.400s)",
           split, N, lab.dim[0], dir);
  st = HS_OK;

cleanup:
  hs_idx_free(&img);
  hs_idx_free(&lab);
  if (st != HS_OK) hs_data_free(out);
  return st;
}
