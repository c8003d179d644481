/* Checkpoints: hs_model_save/hs_model_load round trips, the PyTorch names and shapes in the
 * file, and the refusal of checkpoints that do not fit the model. */
#include "io_fixture.h"

#include <math.h>

#include "io/safetensors.h"
#include "support/hs_test.h"

static hs_context *cctx;

static void ck_setup(void) {
  io_setup();
  cctx = hs_test_ctx(HS_F64, 1);
}

static void ck_teardown(void) {
  hs_context_destroy(cctx);
  io_teardown();
}

TestSuite(checkpoint, .init = ck_setup, .fini = ck_teardown);

static const int widths[2] = {5, 5};

static hs_model_spec spec_bn(hs_batchnorm bn) {
  return hs_test_spec(3, 2, widths, 4, HS_ACT_TANH, bn, 1, 1, HS_LOSS_CROSS_ENTROPY);
}

/* The model's tensors as safetensors entries (params then running stats), for building
 * files that deviate from what hs_model_save writes. theta/run are filled here; the caller
 * frees them. Returns the number of entries. */
static size_t model_entries(hs_model *m, hs_st_entry *e, double **theta, double **run) {
  const hs_model_spec *s = hs_model_get_spec(m);
  size_t P = hs_model_num_params(m), n = 0;
  *theta = malloc(P * sizeof **theta);
  cr_assert_eq(hs_model_get_params(m, *theta), HS_OK);
  for (size_t t = 0; t < hs_model_num_tensors(m); t++) {
    const hs_param_info *p = hs_model_tensor(m, t);
    int mat = strstr(p->name, "linear.weight") || strcmp(p->name, "head.weight") == 0;
    e[n] = (hs_st_entry){.name = p->name, .ndim = mat ? 2 : 1,
                         .shape = {(size_t)p->rows, (size_t)p->cols}, .data = *theta + p->offset};
    n++;
  }
  *run = malloc(2 * 64 * sizeof **run);
  static char names[4][48];
  for (int b = 0; s->batchnorm != HS_BN_NONE && b < 2; b++) {
    cr_assert_eq(hs_model_get_running(m, b, *run + 10 * b, *run + 10 * b + 5), HS_OK);
    for (int k = 0; k < 2; k++) {
      snprintf(names[2 * b + k], 48, "blocks.%d.norm.%s", b, k ? "running_var" : "running_mean");
      e[n++] = (hs_st_entry){.name = names[2 * b + k], .ndim = 1, .shape = {5},
                             .data = *run + 10 * b + 5 * k};
    }
  }
  return n;
}

Test(checkpoint, round_trip_all_variants) {
  for (int bn = 0; bn < 3; bn++) {
    for (int bias = 0; bias < 2; bias++) {
      hs_model_spec s = spec_bn((hs_batchnorm)bn);
      s.bias = bias;
      hs_model *a = hs_test_model(cctx, &s, 11), *b = hs_test_model(cctx, &s, 22);
      const char *p = io_path("ck.safetensors");
      cr_assert_eq(hs_model_save(a, p, HS_F64), HS_OK, "%s", hs_last_error(cctx));
      cr_assert_eq(hs_model_load(b, p), HS_OK, "%s", hs_last_error(cctx));
      size_t P = hs_model_num_params(a);
      double *ta = malloc(P * sizeof *ta), *tb = malloc(P * sizeof *tb);
      hs_model_get_params(a, ta);
      hs_model_get_params(b, tb);
      cr_assert_arr_eq(ta, tb, P * sizeof *ta);
      for (int i = 0; bn && i < 2; i++) {
        double ma[5], va[5], mb[5], vb[5];
        hs_model_get_running(a, i, ma, va);
        hs_model_get_running(b, i, mb, vb);
        cr_assert_arr_eq(ma, mb, sizeof ma);
        cr_assert_arr_eq(va, vb, sizeof va);
      }
      free(ta);
      free(tb);
      hs_model_destroy(a);
      hs_model_destroy(b);
    }
  }
}

Test(checkpoint, file_has_pytorch_names_and_shapes) {
  hs_model_spec s = spec_bn(HS_BN_RUNNING);
  hs_model *m = hs_test_model(cctx, &s, 3);
  const char *p = io_path("ck.safetensors");
  cr_assert_eq(hs_model_save(m, p, HS_F32), HS_OK, "%s", hs_last_error(cctx));
  hs_safetensors f;
  io_assert_ok(hs_st_open(io_ctx, p, &f));
  static const char *const order[] = {
      "blocks.0.linear.weight", "blocks.0.linear.bias", "blocks.0.norm.weight",
      "blocks.0.norm.bias", "blocks.0.norm.running_mean", "blocks.0.norm.running_var",
      "blocks.1.linear.weight", "blocks.1.linear.bias", "blocks.1.norm.weight",
      "blocks.1.norm.bias", "blocks.1.norm.running_mean", "blocks.1.norm.running_var",
      "head.weight", "head.bias"};
  cr_assert_eq(f.n, 14);
  for (size_t i = 0; i < 14; i++) {
    cr_assert_str_eq(f.tensors[i].name, order[i]);
    cr_assert_str_eq(f.tensors[i].dtype_name, "F32");
  }
  const hs_st_tensor *w = hs_st_find(&f, "blocks.0.linear.weight");
  cr_assert_eq(w->ndim, 2);
  cr_assert_eq(w->shape[0], 5); /* out x in */
  cr_assert_eq(w->shape[1], 3);
  const hs_st_tensor *hb = hs_st_find(&f, "head.bias");
  cr_assert_eq(hb->ndim, 1);
  cr_assert_eq(hb->shape[0], 4);
  cr_assert(strstr(hs_st_meta(&f, "hesspec_spec"), "\"batchnorm\":\"running\""));
  hs_st_close(&f);

  /* f32 files load to the f32-rounded values */
  hs_model *b = hs_test_model(cctx, &s, 4);
  cr_assert_eq(hs_model_load(b, p), HS_OK, "%s", hs_last_error(cctx));
  size_t P = hs_model_num_params(m);
  double *ta = malloc(P * sizeof *ta), *tb = malloc(P * sizeof *tb);
  hs_model_get_params(m, ta);
  hs_model_get_params(b, tb);
  for (size_t i = 0; i < P; i++) cr_assert_eq(tb[i], (double)(float)ta[i]);
  free(ta);
  free(tb);
  hs_model_destroy(b);
  hs_model_destroy(m);
}

Test(checkpoint, column_weight_stays_2d) {
  /* head.weight is (2, 1): a matrix with one column, not a vector */
  static const int one[1] = {1};
  hs_model_spec s = hs_test_spec(3, 1, one, 2, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  hs_model *m = hs_test_model(cctx, &s, 1);
  const char *p = io_path("one.safetensors");
  cr_assert_eq(hs_model_save(m, p, HS_F64), HS_OK, "%s", hs_last_error(cctx));
  hs_safetensors f;
  io_assert_ok(hs_st_open(io_ctx, p, &f));
  const hs_st_tensor *w = hs_st_find(&f, "head.weight");
  cr_assert_eq(w->ndim, 2);
  cr_assert_eq(w->shape[0], 2);
  cr_assert_eq(w->shape[1], 1);
  hs_st_close(&f);
  cr_assert_eq(hs_model_load(m, p), HS_OK, "%s", hs_last_error(cctx));
  hs_model_destroy(m);
}

/* Writes the model's entries with entry `drop` removed (-1: none), entry `reshape` given a
 * wrong shape, and `extra` (may be NULL) appended; returns the path. */
static const char *variant(hs_model *m, const char *name, int drop, int reshape,
                           const hs_st_entry *extra, double poison) {
  hs_st_entry e[32], out[32];
  double *theta, *run;
  size_t n = model_entries(m, e, &theta, &run), k = 0;
  static double big[256];
  for (size_t i = 0; i < n; i++) {
    if ((int)i == drop) continue;
    out[k] = e[i];
    if ((int)i == reshape) {
      out[k].shape[1] = out[k].shape[1] + 1;
      out[k].data = big;
    }
    k++;
  }
  if (extra) out[k++] = *extra;
  if (poison != 0) theta[7] = poison;
  const char *p = io_path(name);
  io_assert_ok(hs_st_write(io_ctx, p, HS_F64, out, k, NULL, NULL, 0));
  free(theta);
  free(run);
  return p;
}

#define ck_assert_fail(call, path, what)                                                  \
  do {                                                                                    \
    hs_status st_ = (call);                                                               \
    cr_assert_eq(st_, HS_E_INVALID, "status %d: %s", (int)st_, hs_last_error(cctx));      \
    cr_assert(strstr(hs_last_error(cctx), (path)), "no path: %s", hs_last_error(cctx));   \
    cr_assert(strstr(hs_last_error(cctx), (what)), "lacks '%s': %s", (what),              \
              hs_last_error(cctx));                                                       \
  } while (0)

Test(checkpoint, rejects_mismatches) {
  hs_model_spec s = spec_bn(HS_BN_NONE);
  hs_model *m = hs_test_model(cctx, &s, 5);
  size_t P = hs_model_num_params(m);
  double *before = malloc(P * sizeof *before), *after = malloc(P * sizeof *after);
  hs_model_get_params(m, before);

  const char *p = variant(m, "miss.safetensors", 5 /* head.bias */, -1, NULL, 0);
  ck_assert_fail(hs_model_load(m, p), p, "missing tensor 'head.bias' (shape [4])");

  p = variant(m, "shape.safetensors", -1, 0, NULL, 0);
  ck_assert_fail(hs_model_load(m, p), p,
                 "tensor 'blocks.0.linear.weight': expected shape [5, 3], file has [5, 4]");

  double one = 1;
  hs_st_entry extra = {.name = "blocks.7.linear.weight", .ndim = 0, .data = &one};
  p = variant(m, "extra.safetensors", -1, -1, &extra, 0);
  ck_assert_fail(hs_model_load(m, p), p, "unexpected tensor 'blocks.7.linear.weight'");

  /* num_batches_tracked belongs to BN models only */
  extra.name = "blocks.0.norm.num_batches_tracked";
  p = variant(m, "nbt.safetensors", -1, -1, &extra, 0);
  ck_assert_fail(hs_model_load(m, p), p, "unexpected tensor 'blocks.0.norm.num_batches_tracked'");

  p = variant(m, "nan.safetensors", -1, -1, NULL, NAN);
  ck_assert_fail(hs_model_load(m, p), p, "tensor 'blocks.0.linear.weight': element [2, 1] is nan");

  p = io_path("nofile.safetensors");
  cr_assert_eq(hs_model_load(m, p), HS_E_IO);

  /* a failed load leaves the model as it was */
  hs_model_get_params(m, after);
  cr_assert_arr_eq(before, after, P * sizeof *before);
  free(before);
  free(after);
  hs_model_destroy(m);
}

Test(checkpoint, running_statistics) {
  hs_model_spec s = spec_bn(HS_BN_RUNNING);
  hs_model *m = hs_test_model(cctx, &s, 6);
  /* entries: b0 w,b,g,beta; b1 w,b,g,beta; head w,b; then b0 mean,var; b1 mean,var */
  const char *p = variant(m, "norun.safetensors", 10, -1, NULL, 0);
  ck_assert_fail(hs_model_load(m, p), p, "missing tensor 'blocks.0.norm.running_mean'");

  /* PyTorch's counter is accepted in BN models */
  double cnt = 100;
  hs_st_entry nbt = {.name = "blocks.1.norm.num_batches_tracked", .ndim = 0, .data = &cnt};
  p = variant(m, "nbt.safetensors", -1, -1, &nbt, 0);
  cr_assert_eq(hs_model_load(m, p), HS_OK, "%s", hs_last_error(cctx));

  /* "batch" mode loads without running statistics, keeping the model's own */
  hs_model_spec sb = spec_bn(HS_BN_BATCH);
  hs_model *b = hs_test_model(cctx, &sb, 7);
  double m0[5], v0[5], m1[5], v1[5];
  hs_model_get_running(b, 0, m0, v0);
  hs_st_entry e[32];
  double *theta, *run;
  size_t n = model_entries(b, e, &theta, &run);
  p = io_path("batch.safetensors");
  io_assert_ok(hs_st_write(io_ctx, p, HS_F64, e, n - 4, NULL, NULL, 0));
  cr_assert_eq(hs_model_load(b, p), HS_OK, "%s", hs_last_error(cctx));
  hs_model_get_running(b, 0, m1, v1);
  cr_assert_arr_eq(m0, m1, sizeof m0);
  /* a negative variance is refused by name */
  run[5] = -1;
  p = io_path("negvar.safetensors");
  io_assert_ok(hs_st_write(io_ctx, p, HS_F64, e, n, NULL, NULL, 0));
  ck_assert_fail(hs_model_load(b, p), p, "tensor 'blocks.0.norm.running_var': element [0] = -1 is negative");
  free(theta);
  free(run);
  hs_model_destroy(b);
  hs_model_destroy(m);
}
