/* hesspec eig: extremal eigenpairs by Lanczos, or the whole spectrum densely. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/spectra_cli.h"

typedef struct {
  int exact;
  size_t top, bottom, max_steps, limit;
  double tol;
  const char *vectors_out;
} eig_args;

static const hs_setting eig_options[] = {
    {.name = "top", .type = HS_SET_UINT, HS_SET_FIELD(eig_args, top), .bounds = HS_SET_MIN, .min = 1, .metavar = "K",
     .help = "the K largest eigenvalues by Lanczos with full reorthogonalisation;\n"
             "only pairs with ||A y - lambda y|| <= tol * |lambda|_max are reported"},
    {.name = "bottom", .type = HS_SET_UINT, HS_SET_FIELD(eig_args, bottom), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "K", .help = "the K smallest, likewise"},
    {.name = "exact", .type = HS_SET_FLAG, HS_SET_FIELD(eig_args, exact),
     .help = "assemble the P x P matrix from P/k block products and diagonalise it"},
    {.name = "tol", .type = HS_SET_DOUBLE, HS_SET_FIELD(eig_args, tol), .bounds = HS_SET_MIN | HS_SET_MIN_OPEN,
     .metavar = "T", .help = "relative residual (default 1e-9 in f64, 1e-4 in f32)"},
    {.name = "max-steps", .type = HS_SET_UINT, HS_SET_FIELD(eig_args, max_steps), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "M", .help = "Lanczos steps at most (default max(300, 4K + 50), at most P)"},
    {.name = "exact-limit", .type = HS_SET_UINT, HS_SET_FIELD(eig_args, limit), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "N", .help = "largest P --exact accepts (default 6000: 288 MB of f64)"},
    {.name = "vectors-out", .type = HS_SET_STRING, HS_SET_FIELD(eig_args, vectors_out), .metavar = "V.npy",
     .help = "eigenvectors, shape (k, P), row i for eigenvalue i"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, hs_spectra_options, eig_options, NULL};

/* --block all: each layer's block in turn (top/bottom K capped at the block's size), one file.
 * A block with fewer converged pairs than asked is a failure (HS_E_NUMERIC). */
static hs_status run_blocks(hs_spectra_session *ss, const hs_eigen_options *eo, const char *out, int quiet) {
  const size_t nb = ss->nlayers;
  hs_status st = HS_OK;
  hs_eigen_result *parts = calloc(nb, sizeof *parts);
  hs_operator **ops = calloc(nb, sizeof *ops);
  if (!parts || !ops) {
    st = hs_set_error(ss->s.ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  const int exact = eo->which == HS_EIGEN_EXACT, top = eo->which == HS_EIGEN_TOP;
  for (size_t b = 0; b < nb; b++) {
    hs_eigen_options bo = *eo;
    if ((st = hs_spectra_layer(ss, b, &ops[b])) != HS_OK) goto cleanup;
    size_t nbp = hs_operator_size(ops[b]);
    if (bo.count > nbp) bo.count = nbp;
    if (bo.max_steps > nbp) bo.max_steps = nbp;
    if ((st = hs_eigen(ops[b], &bo, &parts[b])) != HS_OK) goto cleanup;
    const hs_eigen_result *r = &parts[b];
    if (r->found < r->requested) {
      st = hs_set_error(ss->s.ctx, HS_E_NUMERIC,
                        "block %s: only %zu of %zu eigenpairs converged within %zu Lanczos steps; raise --max-steps "
                        "or --tol", hs_operator_layer_name(ss->whole, b), r->found, r->requested, r->steps);
      goto cleanup;
    }
    if (!quiet && r->found)
      printf("  %-28s params %8zu  %s %.15g\n", hs_operator_layer_name(ss->whole, b), nbp,
             exact || top ? "largest" : "smallest", exact || top ? r->values[r->found - 1] : r->values[0]);
  }
  hs_spectra_finish(ss);
  if ((st = hs_eigen_save_blocks(nb, ops, eo, parts, &ss->info, out)) != HS_OK) goto cleanup;
  if (!quiet) printf("wrote %s\n", out);
cleanup:
  for (size_t b = 0; parts && ops && b < nb; b++) {
    hs_eigen_free(&parts[b]);
    hs_operator_destroy(ops[b]);
  }
  free(parts);
  free(ops);
  return st;
}

static int run(int argc, char **argv) {
  const char *cmd = "eig";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_spectra_args sa;
  hs_spectra_args_init(&sa);
  eig_args ea = {0};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {hs_spectra_options, &sa}, {eig_options, &ea}};
  if (hs_cli_parse(cmd, b, 3, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  int exact = ea.exact, modes = (ea.exact != 0) + (ea.top != 0) + (ea.bottom != 0);
  const char *vectors_out = ea.vectors_out;
  hs_eigen_options eo = hs_eigen_defaults();
  eo.which = exact ? HS_EIGEN_EXACT : ea.bottom ? HS_EIGEN_BOTTOM : HS_EIGEN_TOP;
  eo.count = ea.bottom ? ea.bottom : ea.top;
  eo.tol = ea.tol;
  eo.max_steps = ea.max_steps;
  eo.exact_limit = ea.limit;
  if (modes != 1) return hs_cli_usage(cmd, "give exactly one of --exact, --top K, --bottom K");
  if (!o.out) return hs_cli_usage(cmd, "--out FILE.json is required (the eigenvalue file)");
  eo.seed = o.seed;
  eo.vectors = vectors_out != NULL;
  if (sa.block && strcmp(sa.block, "all") == 0 && vectors_out)
    return hs_cli_usage(cmd, "--vectors-out needs one operator, not --block all (give one block)");

  hs_spectra_session ss;
  int code = hs_spectra_open(cmd, &o, &sa, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  if (ss.all) {
    hs_status sb = run_blocks(&ss, &eo, o.out, o.quiet);
    code = sb == HS_OK ? HS_EXIT_OK : hs_cli_fail(cmd, ctx, sb);
    hs_spectra_close(&ss);
    return code;
  }
  if (!exact && eo.count > hs_operator_size(ss.op)) {
    code = hs_cli_usage(cmd, "--%s %zu: the operator has dimension %zu", ea.bottom ? "bottom" : "top", eo.count,
                        hs_operator_size(ss.op));
    hs_spectra_close(&ss);
    return code;
  }
  hs_eigen_result r;
  hs_status st = hs_eigen(ss.op, &eo, &r);
  if (st == HS_OK && vectors_out && r.found > 0) {
    size_t dims[2] = {r.found, r.n};
    st = hs_array_save(ctx, vectors_out, o.dtype, r.vectors, 2, dims);
  }
  if (st == HS_OK) {
    hs_spectra_finish(&ss);
    st = hs_eigen_save(ss.op, &eo, &r, &ss.info, vectors_out, o.out);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else {
    if (!o.quiet) {
      size_t show = r.found < 20 ? r.found : 20;
      printf("%zu eigenvalue%s (P = %zu, %s, %.3f s)%s\n", r.found, r.found == 1 ? "" : "s", r.n,
             exact ? "dense" : "Lanczos", r.total_seconds, r.found > show ? ", the first 20:" : ":");
      for (size_t i = 0; i < show; i++) {
        if (r.residuals)
          printf("  %.15g  (residual %.2g)\n", r.values[i], r.residuals[i]);
        else
          printf("  %.15g\n", r.values[i]);
      }
      if (exact) printf("asymmetry of the assembled matrix: %.3g (relative)\n", r.asymmetry);
      printf("wrote %s\n", o.out);
    }
    if (r.found < r.requested) {
      fprintf(stderr,
              "hesspec eig: only %zu of %zu eigenpairs converged to a relative residual of %g within %zu Lanczos "
              "steps; raise --max-steps or --tol (the file holds the converged ones)\n",
              r.found, r.requested, r.tol, r.steps);
      code = HS_EXIT_FAIL;
    }
  }
  hs_eigen_free(&r);
  hs_spectra_close(&ss);
  return code;
}

const hs_cli_command hs_cmd_eig = {
    .name = "eig",
    .run = run,
    .summary = "extremal eigenpairs (Lanczos) or the exact spectrum (dense)",
    .usage = "usage: hesspec eig (--model M.json [--weights W] DATA [--operator hessian|ggn|residual]\n"
    "                   [--block NAME|all] | --matrix A.npy) --out E.json\n"
    "                   (--top K | --bottom K | --exact) [--vectors-out V.npy]\n\n"
    "--block all: every layer's block, one file (\"blocks\": per block; top level: the union's\n"
    "extreme K, or all). Eigenvalues are written ascending (\"hesspec.eig/1\"). Exit status 1 when fewer than K converged.\n",
    .options = tables};
