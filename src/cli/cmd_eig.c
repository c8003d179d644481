/* hesspec eig: extremal eigenpairs by Lanczos, or the whole spectrum densely. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/spectra_cli.h"
#include "io/npy.h"
#include "linalg/eig.h"

static int run(int argc, char **argv) {
  const char *cmd = "eig", *v, *vectors_out = NULL;
  int ggn = 0, exact = 0, modes = 0;
  double sym_tol = 1e-10;
  size_t limit = HS_EIG_EXACT_LIMIT;
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_eig_options eo = {0};
  for (int i = 1; i < argc; i++) {
    int r = hs_spectra_parse_common(cmd, &o, argc, argv, &i, &ggn);
    if (r < 0) return HS_EXIT_USAGE;
    if (r == 1) continue;
    const char *a = argv[i];
    if (strcmp(a, "--exact") == 0) {
      exact = 1;
      modes++;
    } else if (strcmp(a, "--top") == 0 || strcmp(a, "--bottom") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_size(cmd, a, v, &eo.count) < 0) return HS_EXIT_USAGE;
      if (eo.count < 1) return hs_cli_usage(cmd, "%s 0: must be at least 1", a);
      eo.which = a[2] == 't' ? HS_EIG_TOP : HS_EIG_BOTTOM;
      modes++;
    } else if (strcmp(a, "--max-steps") == 0 || strcmp(a, "--exact-limit") == 0) {
      size_t n;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_size(cmd, a, v, &n) < 0) return HS_EXIT_USAGE;
      if (n < 1) return hs_cli_usage(cmd, "%s 0: must be at least 1", a);
      if (a[2] == 'm') eo.max_steps = n;
      else limit = n;
    } else if (strcmp(a, "--tol") == 0 || strcmp(a, "--sym-tol") == 0) {
      double d;
      if (hs_cli_value(cmd, argc, argv, &i, &v) < 0 || hs_cli_double(cmd, a, v, &d) < 0) return HS_EXIT_USAGE;
      if (a[2] == 't' ? !(d > 0) : d < 0) return hs_cli_usage(cmd, "%s %g: out of range", a, d);
      if (a[2] == 't') eo.tol = d;
      else sym_tol = d;
    } else if (strcmp(a, "--vectors-out") == 0) {
      if (hs_cli_value(cmd, argc, argv, &i, &vectors_out) < 0) return HS_EXIT_USAGE;
    } else {
      return hs_cli_usage(cmd, "unknown option '%s'", a);
    }
  }
  if (modes != 1) return hs_cli_usage(cmd, "give exactly one of --exact, --top K, --bottom K");
  if (!o.out) return hs_cli_usage(cmd, "--out FILE.json is required (the eigenvalue file)");
  eo.seed = o.seed;
  eo.want_vectors = vectors_out != NULL;

  hs_spectra_session ss;
  int code = hs_spectra_open(cmd, &o, ggn, sym_tol, &ss);
  if (code) return code;
  hs_context *ctx = ss.s.ctx;
  hs_eig_result *r = NULL;
  hs_status st = exact ? hs_eig_exact(ss.op, limit, eo.want_vectors, &r) : hs_eig_extremal(ss.op, &eo, &r);
  if (st == HS_OK && vectors_out && r->found > 0) {
    size_t dims[2] = {r->found, r->n};
    st = hs_npy_write_f64(ctx, vectors_out, o.dtype, r->vectors, 2, dims);
  }
  if (st == HS_OK) {
    hs_spectra_finish(&ss);
    size_t max_steps = eo.max_steps ? eo.max_steps : 0;
    if (!exact && !max_steps) {
      max_steps = 4 * eo.count + 50 > 300 ? 4 * eo.count + 50 : 300;
      if (max_steps > r->n) max_steps = r->n;
    }
    st = hs_eig_write(ctx, o.out, &ss.prov, r, exact ? "dense" : "lanczos",
                      exact ? "all" : eo.which == HS_EIG_TOP ? "top" : "bottom", max_steps,
                      vectors_out && r->found ? vectors_out : NULL);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else {
    if (!o.quiet) {
      size_t show = r->found < 20 ? r->found : 20;
      printf("%zu eigenvalue%s (P = %zu, %s, %.3f s)%s\n", r->found, r->found == 1 ? "" : "s", r->n,
             exact ? "dense" : "Lanczos", r->t_total, r->found > show ? ", the first 20:" : ":");
      for (size_t i = 0; i < show; i++) {
        if (r->residuals)
          printf("  %.15g  (residual %.2g)\n", r->values[i], r->residuals[i]);
        else
          printf("  %.15g\n", r->values[i]);
      }
      if (exact) printf("asymmetry of the assembled matrix: %.3g (relative)\n", r->asymmetry);
      printf("wrote %s\n", o.out);
    }
    if (r->found < r->requested) {
      fprintf(stderr,
              "hesspec eig: only %zu of %zu eigenpairs converged to a relative residual of %g within %zu Lanczos "
              "steps; raise --max-steps or --tol (the file holds the converged ones)\n",
              r->found, r->requested, r->tol, r->steps);
      code = HS_EXIT_FAIL;
    }
  }
  hs_eig_free(r);
  hs_spectra_close(&ss);
  return code;
}

const hs_cli_command hs_cmd_eig = {
    "eig", run, "extremal eigenpairs (Lanczos) or the exact spectrum (dense)",
    "usage: hesspec eig (--model M.json [--weights W] DATA [--ggn] | --matrix A.npy) --out E.json\n"
    "                   (--top K | --bottom K | --exact) [--vectors-out V.npy]\n\n"
    "  --top K / --bottom K  the K largest / smallest eigenvalues by Lanczos with full reorthogonalisation;\n"
    "                        only pairs with ||A y - lambda y|| <= tol * |lambda|_max are reported\n"
    "  --tol T               relative residual (default 1e-9 in f64, 1e-4 in f32)\n"
    "  --max-steps M         Lanczos steps at most (default max(300, 4K + 50), at most P)\n"
    "  --exact               assemble the P x P matrix from P/k block products and diagonalise it\n"
    "  --exact-limit N       largest P --exact accepts (default 6000: 288 MB of f64)\n"
    "  --vectors-out V.npy   eigenvectors, shape (k, P), row i for eigenvalue i\n"
    "Eigenvalues are written ascending (\"hesspec.eig/1\"). Exit status 1 when fewer than K converged.\n\n"};
