/* Operators and blocks (--operator hessian|ggn|residual, --block NAME|all): every spectrum is
 * checked against dense matrices assembled separately (H and G by products with the unit
 * vectors, their principal submatrices, LAPACK dsyev). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/blocks.h"
#include "core/rng.h"
#include "io/file.h"
#include "io/npy.h"
#include "linalg/block_linop.h"
#include "linalg/eig.h"
#include "linalg/linop.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("blocks");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_cli_fixture_teardown();
  hs_context_destroy(ctx);
}

TestSuite(blocks, .init = setup, .fini = teardown);

/* Ascending eigenvalues of the principal submatrix A[S, S] of an n x n matrix, S the
 * coordinates [off_s, off_s + len_s) of the segments (caller frees). */
static double *sub_eigs(const double *A, size_t n, size_t nseg, const hs_segment *segs, size_t *nb_out) {
  size_t nb = 0;
  for (size_t s = 0; s < nseg; s++) nb += segs[s].length;
  size_t *idx = malloc(nb * sizeof *idx), k = 0;
  for (size_t s = 0; s < nseg; s++)
    for (size_t i = 0; i < segs[s].length; i++) idx[k++] = segs[s].offset + i;
  double *B = malloc(nb * nb * sizeof *B), *w = malloc(nb * sizeof *w);
  for (size_t i = 0; i < nb; i++)
    for (size_t j = 0; j < nb; j++) B[i * nb + j] = 0.5 * (A[idx[i] * n + idx[j]] + A[idx[j] * n + idx[i]]);
  cr_assert_eq(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (int)nb, B, (int)nb, w), 0);
  free(idx);
  free(B);
  *nb_out = nb;
  return w;
}

static double max_abs(const double *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* A tanh MLP with weight decay (so H and G both carry lambda I and H - G must not) */
static hs_model *small_model(hs_loss loss, hs_dataset **data) {
  int widths[2] = {5, 3};
  hs_model_spec s = hs_test_spec(4, 2, widths, 3, HS_ACT_TANH, HS_BN_NONE, 0, 1, loss);
  s.weight_decay = 0.01;
  hs_model *m = hs_test_model(ctx, &s, 11);
  *data = hs_test_data(ctx, &s, 16, 5);
  cr_assert_eq(hs_model_bind(m, *data, 6), HS_OK, "%s", hs_last_error(ctx));
  return m;
}

/* (H - G) v from the fused pass equals H v - G v, on both losses */
Test(blocks, residual_is_hessian_minus_gauss_newton) {
  for (int l = 0; l < 2; l++) {
    hs_dataset *d;
    hs_model *m = small_model(l ? HS_LOSS_MSE : HS_LOSS_CROSS_ENTROPY, &d);
    size_t P = hs_model_num_params(m);
    double *H = hs_test_dense(m, HS_CURV_HESSIAN), *G = hs_test_dense(m, HS_CURV_GGN);
    double *R = hs_test_dense(m, HS_CURV_RESIDUAL);
    for (size_t i = 0; i < P * P; i++) H[i] -= G[i];
    /* the HVPs are accurate to a few eps * ||H||; 1e-12 leaves a margin of about 100 */
    double err = hs_test_relerr(R, H, P * P, 1e-300);
    cr_assert(err < 1e-12, "loss %d: |R - (H - G)| / |H - G| = %g", l, err);
    cr_assert(max_abs(H, P * P) > 1e-3, "the residual is not trivially zero");
    free(H);
    free(G);
    free(R);
    hs_model_destroy(m);
    hs_dataset_destroy(d);
  }
}

/* The block operator's exact spectrum equals that of the assembled principal submatrix,
 * for a tensor, a layer and every layer of "all", on H, G and H - G. */
Test(blocks, block_spectra_equal_submatrix_eigenvalues) {
  hs_dataset *d;
  hs_model *m = small_model(HS_LOSS_CROSS_ENTROPY, &d);
  size_t P = hs_model_num_params(m);
  const char *names[] = {"blocks.1.linear.weight", "blocks.0.linear", "head.bias", "blocks.1"};
  for (int c = 0; c < 3; c++) {
    double *A = hs_test_dense(m, (hs_curvature)c);
    hs_linop *base;
    cr_assert_eq(hs_linop_model(m, (hs_curvature)c, &base), HS_OK, "%s", hs_last_error(ctx));
    for (int q = 0; q < 5; q++) {
      hs_block_list bl;
      cr_assert_eq(hs_blocks_resolve(ctx, m, q < 4 ? names[q] : "all", &bl), HS_OK, "%s", hs_last_error(ctx));
      if (q == 4) cr_assert_eq(bl.n, 3, "all: blocks.0.linear, blocks.1.linear, head; got %zu", bl.n);
      for (size_t b = 0; b < bl.n; b++) {
        size_t nb;
        double *want = sub_eigs(A, P, bl.b[b].nseg, bl.b[b].segs, &nb);
        cr_assert_eq(nb, bl.b[b].params);
        hs_linop *op;
        hs_eig_result *r;
        cr_assert_eq(hs_linop_block(base, bl.b[b].nseg, bl.b[b].segs, &op), HS_OK, "%s", hs_last_error(ctx));
        cr_assert_eq(op->n, nb);
        cr_assert_eq(hs_eig_exact(op, 0, 0, &r), HS_OK, "%s", hs_last_error(ctx));
        /* relative to ||A||: a block of H - G can be zero (the head's bias enters linearly) */
        double err = hs_test_relerr(r->values, want, nb, max_abs(A, P * P));
        cr_assert(err < 1e-12, "curvature %d, block %s: eigenvalues differ by %g (relative)", c, bl.b[b].name, err);
        hs_eig_free(r);
        hs_linop_destroy(op);
        free(want);
      }
      hs_blocks_free(&bl);
    }
    hs_linop_destroy(base);
    free(A);
  }
  /* a layer's tensors are contiguous: one segment; a tensor name selects one tensor */
  hs_block_list bl;
  cr_assert_eq(hs_blocks_resolve(ctx, m, "blocks.0.linear", &bl), HS_OK);
  cr_assert(bl.n == 1 && bl.b[0].nseg == 1 && bl.b[0].ntensors == 2 && bl.b[0].params == 25);
  hs_blocks_free(&bl);
  cr_assert_eq(hs_blocks_resolve(ctx, m, "blocks.0.linear.bias", &bl), HS_OK);
  cr_assert(bl.n == 1 && bl.b[0].ntensors == 1 && bl.b[0].params == 5 && bl.b[0].segs[0].offset == 20);
  hs_blocks_free(&bl);
  /* a prefix that is not a whole name component selects nothing */
  cr_assert_eq(hs_blocks_resolve(ctx, m, "blocks.0.lin", &bl), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "blocks.0.lin") && strstr(hs_last_error(ctx), "blocks.1.linear") &&
                strstr(hs_last_error(ctx), "head"),
            "the message names the block and lists the layers: %s", hs_last_error(ctx));
  hs_model_destroy(m);
  hs_dataset_destroy(d);
}

/* ---- the CLI ---- */

static cJSON *read_json(const char *name) {
  char *buf;
  size_t len;
  cr_assert_eq(hs_read_file(ctx, hs_cli_path(name), &buf, &len), HS_OK, "%s", hs_last_error(ctx));
  cJSON *j = cJSON_Parse(buf);
  free(buf);
  cr_assert(j, "%s is not JSON", name);
  return j;
}

static double *json_doubles(const cJSON *a, size_t *n) {
  cr_assert(cJSON_IsArray(a));
  *n = (size_t)cJSON_GetArraySize(a);
  double *x = malloc((*n + 1) * sizeof *x);
  for (size_t i = 0; i < *n; i++) x[i] = cJSON_GetArrayItem(a, (int)i)->valuedouble;
  return x;
}

static const char *DATA = "--model m.json --inputs X.npy --targets y.npy --seed 3 --device cpu --batch 8";

/* The CLI's model: m.json with --seed 3 initialisation and the 12 samples (batch 8). */
static hs_model *cli_model(hs_dataset **d) {
  hs_cli_write_text("m.json", "{\"input_dim\": 4, \"hidden\": [5, 3], \"output_dim\": 3, \"activation\": \"tanh\", "
                              "\"loss\": \"cross_entropy\", \"weight_decay\": 0.01}");
  double X[48];
  hs_rng_normals(1, 1, 0, 48, X);
  size_t xd[2] = {12, 4}, yd[1] = {12};
  cr_assert_eq(hs_npy_write_f64(ctx, hs_cli_path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  int32_t y[12] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 1};
  cr_assert_eq(hs_npy_write(ctx, hs_cli_path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
  hs_model_spec spec;
  hs_model *m;
  cr_assert_eq(hs_spec_load(ctx, hs_cli_path("m.json"), &spec), HS_OK);
  cr_assert_eq(hs_model_create(ctx, &spec, &m), HS_OK);
  cr_assert_eq(hs_model_init(m, 3), HS_OK);
  cr_assert_eq(hs_dataset_create(ctx, 12, 4, X, 3, y, NULL, d), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_bind(m, *d, 8), HS_OK);
  return m;
}

static void run_ok(const char *fmt, const char *extra) {
  char args[1024];
  snprintf(args, sizeof args, fmt, DATA, extra);
  int rc = hs_cli_run("", args, "");
  cr_assert_eq(rc, 0, "`hesspec %s` exited %d: %s", args, rc, hs_cli_err);
}

static void expect_bad(const char *fmt, const char *culprit) {
  char args[1024];
  snprintf(args, sizeof args, fmt, DATA);
  int rc = hs_cli_run("", args, "");
  cr_expect_eq(rc, 2, "`hesspec %s` exited %d, want 2 (stderr: %s)", args, rc, hs_cli_err);
  cr_expect(strstr(hs_cli_err, culprit), "`%s`: message does not name '%s': %s", args, culprit, hs_cli_err);
  cr_expect(!hs_cli_exists("out.json"), "`%s`: an output file was written after bad input", args);
}

Test(blocks, cli_operators_and_blocks_against_assembled_matrices) {
  hs_dataset *d;
  hs_model *m = cli_model(&d);
  size_t P = hs_model_num_params(m);
  double *H = hs_test_dense(m, HS_CURV_HESSIAN), *G = hs_test_dense(m, HS_CURV_GGN);
  double *R = malloc(P * P * sizeof *R);
  for (size_t i = 0; i < P * P; i++) R[i] = H[i] - G[i];
  hs_segment whole = {0, P}, lin1 = {25, 18}; /* blocks.1.linear: weight 3 x 5 and bias 3 */

  /* eig --exact of H - G equals dsyev of the assembled H minus the assembled G */
  run_ok("eig %s --operator residual --exact --out r.json%s", "");
  cJSON *j = read_json("r.json");
  cr_assert_str_eq(cJSON_GetObjectItem(j, "operator")->valuestring, "residual");
  size_t n, nb;
  double *got = json_doubles(cJSON_GetObjectItem(j, "eigenvalues"), &n), *want = sub_eigs(R, P, 1, &whole, &nb);
  cr_assert_eq(n, P);
  cr_assert(hs_test_relerr(got, want, n, max_abs(want, n)) < 1e-12, "H - G spectrum differs");
  cr_assert(want[0] < -1e-6 && want[n - 1] > 1e-6, "the residual is indefinite here");
  free(got);
  free(want);
  cJSON_Delete(j);

  /* one layer's block of H: exact eig, and SLQ with steps = its size (exact quadrature) */
  run_ok("eig %s --block blocks.1.linear --exact --out b.json%s", "");
  j = read_json("b.json");
  cJSON *blk = cJSON_GetObjectItem(j, "block");
  cr_assert_str_eq(cJSON_GetObjectItem(blk, "name")->valuestring, "blocks.1.linear");
  cr_assert_eq(cJSON_GetObjectItem(blk, "params")->valuedouble, 18);
  cr_assert_eq(cJSON_GetObjectItem(blk, "model_params")->valuedouble, (double)P);
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(blk, "tensors")), 2);
  got = json_doubles(cJSON_GetObjectItem(j, "eigenvalues"), &n);
  want = sub_eigs(H, P, 1, &lin1, &nb);
  cr_assert_eq(n, 18);
  cr_assert(hs_test_relerr(got, want, n, max_abs(want, n)) < 1e-12, "block eigenvalues differ");
  free(got);
  cJSON_Delete(j);
  run_ok("spectrum %s --block blocks.1.linear --steps 18 --probes 2 --out s.json%s", "");
  j = read_json("s.json");
  cr_assert_eq(cJSON_GetObjectItem(j, "params")->valuedouble, 18);
  cJSON *sum = cJSON_GetObjectItem(j, "summary");
  cr_assert(fabs(cJSON_GetObjectItem(sum, "lambda_max")->valuedouble - want[17]) < 1e-9 * fabs(want[17]));
  cr_assert(fabs(cJSON_GetObjectItem(sum, "lambda_min")->valuedouble - want[0]) < 1e-9 * fabs(want[17]));
  free(want);
  cJSON_Delete(j);

  /* --block all of G: each block's SLQ equals its own run, node for node; the top level is
   * the block-diagonal density (weights sum to 1, trace = sum of the blocks') */
  run_ok("spectrum %s --ggn --block all --steps 10 --probes 3 --out all.json%s", "");
  run_ok("spectrum %s --operator ggn --block blocks.1.linear --steps 10 --probes 3 --out one.json%s", "");
  cJSON *a = read_json("all.json"), *o = read_json("one.json");
  cr_assert_str_eq(cJSON_GetObjectItem(a, "block")->valuestring, "all");
  cr_assert_str_eq(cJSON_GetObjectItem(a, "operator")->valuestring, "ggn");
  cJSON *blocks = cJSON_GetObjectItem(a, "blocks");
  cr_assert_eq(cJSON_GetArraySize(blocks), 3);
  cJSON *b1 = cJSON_GetArrayItem(blocks, 1);
  cr_assert_str_eq(cJSON_GetObjectItem(b1, "name")->valuestring, "blocks.1.linear");
  for (int p = 0; p < 3; p++) {
    cJSON *pa = cJSON_GetArrayItem(cJSON_GetObjectItem(b1, "probes"), p);
    cJSON *po = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "probes"), p);
    size_t na, no;
    double *xa = json_doubles(cJSON_GetObjectItem(pa, "nodes"), &na), *xo = json_doubles(cJSON_GetObjectItem(po, "nodes"), &no);
    cr_assert_eq(na, no);
    cr_assert(hs_test_relerr(xa, xo, na, 1e-300) < 1e-13, "probe %d: --block all differs from the block's own run", p);
    free(xa);
    free(xo);
  }
  double tr = 0;
  for (int b = 0; b < 3; b++)
    tr += cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, b), "summary"), "trace")->valuedouble;
  cr_assert(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "summary"), "trace")->valuedouble - tr) < 1e-10 * fabs(tr));
  cr_assert_eq(cJSON_GetObjectItem(a, "params")->valuedouble, (double)P);
  cJSON *w0 = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "probes"), 0), "weights");
  size_t nw;
  double *w = json_doubles(w0, &nw), ws = 0;
  for (size_t i = 0; i < nw; i++) ws += w[i];
  cr_assert(fabs(ws - 1) < 1e-12, "block-diagonal weights sum to %.15g", ws);
  size_t counts = 0;
  for (int b = 0; b < 3; b++)
    counts += (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, b), "probes"), 0), "nodes"));
  cr_assert_eq(nw, counts, "probe 0 of the whole holds every block's probe-0 nodes");
  free(w);
  cJSON_Delete(a);
  cJSON_Delete(o);
  char *csv = hs_cli_read_text("all.csv");
  cr_assert(strstr(csv, "lambda,density,stderr,blocks.0.linear,blocks.1.linear,head\n"), "CSV header: %.120s", csv);
  free(csv);

  /* eig --block all --exact: every block's spectrum; the top level is their union */
  run_ok("eig %s --block all --exact --out ea.json%s", "");
  j = read_json("ea.json");
  got = json_doubles(cJSON_GetObjectItem(j, "eigenvalues"), &n);
  cr_assert_eq(n, P);
  hs_block_list bl;
  cr_assert_eq(hs_blocks_resolve(ctx, m, "all", &bl), HS_OK);
  for (size_t b = 0; b < bl.n; b++) {
    double *wb = sub_eigs(H, P, bl.b[b].nseg, bl.b[b].segs, &nb);
    size_t nbj;
    double *gb = json_doubles(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "blocks"), (int)b), "eigenvalues"), &nbj);
    cr_assert_eq(nbj, nb);
    cr_assert(hs_test_relerr(gb, wb, nb, max_abs(wb, nb)) < 1e-12, "block %s differs", bl.b[b].name);
    free(wb);
    free(gb);
  }
  hs_blocks_free(&bl);
  free(got);
  cJSON_Delete(j);
  /* --block all top 2: per block the top 2 of the submatrix */
  run_ok("eig %s --block all --top 2 --out et.json%s", "");
  j = read_json("et.json");
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "eigenvalues")), 2);
  cJSON_Delete(j);

  /* trace: the blocks' traces sum to the trace of H (exact: tr H = sum of the blocks') */
  run_ok("trace %s --block all --probes 40 --out ta.json%s", "");
  j = read_json("ta.json");
  double trH = 0;
  for (size_t i = 0; i < P; i++) trH += H[i * P + i];
  double est = cJSON_GetObjectItem(j, "trace")->valuedouble, se = cJSON_GetObjectItem(j, "trace_stderr")->valuedouble;
  cr_assert(fabs(est - trH) < 4 * se + 1e-9, "trace %g +- %g, exact %g", est, se, trH);
  cJSON_Delete(j);
  /* probes per call are --probe-block */
  run_ok("trace %s --probes 8 --probe-block 4 --out tn.json%s", "");

  /* bad input: exit 2 naming the value; a bad block lists the valid ones */
  expect_bad("spectrum %s --block blocks.7 --out out.json", "blocks.7");
  expect_bad("spectrum %s --block blocks.7 --out out.json", "blocks.1.linear");
  expect_bad("eig %s --block nope --top 1 --out out.json", "nope");
  expect_bad("trace %s --block nope --out out.json", "head");
  expect_bad("spectrum %s --operator hesian --out out.json", "hesian");
  expect_bad("spectrum %s --operator residual --ggn --out out.json", "--ggn");
  expect_bad("eig %s --block all --top 1 --vectors-out V.npy --out out.json", "--vectors-out");
  expect_bad("spectrum %s --block --out out.json", "out.json"); /* --block took "--out" */
  cr_expect_eq(hs_cli_run("", "spectrum --matrix X.npy --block head --out out.json", ""), 2);
  cr_expect(strstr(hs_cli_err, "--block"), "%s", hs_cli_err);
  free(H);
  free(G);
  free(R);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
}
