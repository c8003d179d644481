/* hesspec critical: Newton-MR from --weights (and perturbed copies) to nearby critical
 * points, their index, a checkpoint per point and "hesspec.critical/1". The method:
 * src/analysis/critical.h and docs/critical.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"

typedef struct {
  size_t starts, max_iter, exact_limit, minres_max, probes, steps;
  double noise, gtol, minres_rtol, index_tol, theta;
  const char *plot;
} critical_args;

static const hs_setting critical_options[] = {
    {.name = "starts", .type = HS_SET_UINT, HS_SET_FIELD(critical_args, starts), .bounds = HS_SET_MIN | HS_SET_MAX,
     .min = 1, .max = 100000, .metavar = "N", .help = "starts (default 1; N > 1 needs --noise)"},
    {.name = "noise", .type = HS_SET_DOUBLE, HS_SET_FIELD(critical_args, noise), .bounds = HS_SET_MIN, .min = 0,
     .metavar = "S", .help = "per tensor theta_t += S ||theta_t|| / sqrt(n_t) z, z ~ N(0, 1) (default 0)"},
    {.name = "gtol", .type = HS_SET_DOUBLE, HS_SET_FIELD(critical_args, gtol), .bounds = HS_SET_MIN | HS_SET_MIN_OPEN,
     .metavar = "G", .help = "stop at ||grad|| <= G, absolute (default 1e-8)"},
    {.name = "max-iter", .type = HS_SET_UINT, HS_SET_FIELD(critical_args, max_iter), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "N", .help = "Newton-MR iterations per start (default 100)"},
    {.name = "theta", .type = HS_SET_DOUBLE, HS_SET_FIELD(critical_args, theta), .bounds = HS_SET_MIN | HS_SET_MAX |
     HS_SET_MAX_OPEN, .min = 0, .max = 1, .metavar = "T",
     .help = "inexact solves: MINRES stops at ||H (H d + grad)|| <= T ||H grad|| (default 1e-2);\n"
             "0: solve to --minres-rtol (exact Newton: one step on a quadratic)"},
    {.name = "minres-max", .type = HS_SET_UINT, HS_SET_FIELD(critical_args, minres_max), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "N", .help = "MINRES iterations per step (default min(1000, max(100, 4P)))"},
    {.name = "minres-rtol", .type = HS_SET_DOUBLE, HS_SET_FIELD(critical_args, minres_rtol),
     .bounds = HS_SET_MIN | HS_SET_MAX | HS_SET_MIN_OPEN | HS_SET_MAX_OPEN, .min = 0, .max = 1, .metavar = "R",
     .help = "MINRES relative residual (default 1e-10)"},
    {.name = "exact-limit", .type = HS_SET_UINT, HS_SET_FIELD(critical_args, exact_limit), .metavar = "N",
     .help = "index from the exact spectrum when P <= N (default 3000), else SLQ with its standard error"},
    {.name = "index-tol", .type = HS_SET_DOUBLE, HS_SET_FIELD(critical_args, index_tol),
     .bounds = HS_SET_MIN | HS_SET_MAX | HS_SET_MIN_OPEN | HS_SET_MAX_OPEN, .min = 0, .max = 1, .metavar = "T",
     .help = "exact index: eigenvalues below -T max|lambda| count (default 1e-9; f32 1e-4)"},
    {.name = "steps", .type = HS_SET_UINT, HS_SET_FIELD(critical_args, steps), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "M", .help = "SLQ index: Lanczos steps (default 80)"},
    {.name = "probes", .type = HS_SET_UINT, HS_SET_FIELD(critical_args, probes), .bounds = HS_SET_MIN, .min = 1,
     .metavar = "K", .help = "SLQ index: probes (default 10)"},
    {.name = "plot", .type = HS_SET_STRING, HS_SET_FIELD(critical_args, plot), .metavar = "F.svg",
     .help = "index against loss, with the fit index = alpha0 |1 - loss/eps_c|^(3/2)"},
    {0}};

static const hs_setting *const tables[] = {hs_cli_common_options, critical_options, NULL};

static hs_status print_start(void *user, size_t k, const hs_critical_result *p, const hs_hessian_index *x,
                             const char *checkpoint) {
  if (!*(const int *)user)
    printf("start %zu: loss %.10g  ||grad|| %.3g -> %.3g in %zu iterations (%zu MINRES)%s  index %.6g%s  -> %s\n", k,
           p->loss, p->grad_norm_start, p->grad_norm, p->iterations, p->minres_iterations,
           p->converged ? "" : " NOT CONVERGED", x->index, x->exact ? " (exact)" : " (SLQ)", checkpoint);
  fflush(stdout);
  return HS_OK;
}

static int run(int argc, char **argv) {
  const char *cmd = "critical";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_critical_study_options co = hs_critical_study_defaults();
  critical_args ca = {.starts = 1, .max_iter = co.newton.max_iter, .exact_limit = co.index.exact_limit,
                      .gtol = co.newton.gtol, .minres_rtol = co.newton.minres_rtol, .theta = co.newton.theta,
                      .probes = co.index.probes};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {critical_options, &ca}};
  if (hs_cli_parse(cmd, b, 2, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  const char *plot = ca.plot;
  co.starts = ca.starts;
  co.newton.noise = ca.noise;
  co.newton.max_iter = ca.max_iter;
  co.newton.gtol = ca.gtol;
  co.newton.minres_rtol = ca.minres_rtol;
  co.newton.minres_max = ca.minres_max;
  co.newton.theta = ca.theta;
  co.newton.seed = o.seed;
  co.index = (hs_index_options){.exact_limit = ca.exact_limit, .tol = ca.index_tol, .steps = ca.steps,
                                .probes = ca.probes, .seed = o.seed};
  if (!o.out) return hs_cli_usage(cmd, "--out C.json is required (the critical-point file)");
  if (co.starts > 1 && co.newton.noise == 0)
    return hs_cli_usage(cmd, "--starts %zu needs --noise S > 0 (every start would be the same point)", co.starts);
  co.checkpoint_prefix = o.out;
  co.checkpoint_dtype = o.dtype;
  co.on_start = print_start;
  co.user = &o.quiet;

  hs_cli_session s;
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  hs_context *ctx = s.ctx;
  size_t P = hs_model_num_params(s.model);
  if (co.index.steps > P) {
    code = hs_cli_usage(cmd, "--steps %zu exceeds the %zu parameters", co.index.steps, P);
    hs_cli_close(&s);
    return code;
  }
  double t0 = hs_cli_now();
  hs_critical_study study;
  hs_status st = hs_critical_study_run(s.model, &co, &study);
  if (st == HS_OK && plot) st = hs_critical_study_plot(ctx, &study, plot);
  if (st == HS_OK) {
    const hs_run_info info = {.weights = o.weights, .data = s.data_desc, .elapsed = hs_cli_now() - t0};
    st = hs_critical_study_save(s.model, &co, &study, &info, o.out);
  }
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else {
    if (!o.quiet) {
      if (study.fit) printf("fit: index = %.4g |1 - loss / %.6g|^(3/2)  (rms %.3g)\n", study.alpha0, study.eps_c, study.rms);
      printf("wrote %s%s%s\n", o.out, plot ? " and " : "", plot ? plot : "");
    }
    if (study.converged < study.starts) {
      fprintf(stderr, "hesspec critical: %zu of %zu starts did not reach ||grad|| <= %g within %zu iterations (the "
                      "file lists them with converged: false); raise --max-iter\n", study.starts - study.converged,
              study.starts, co.newton.gtol, co.newton.max_iter);
      code = HS_EXIT_FAIL;
    }
  }
  hs_critical_study_free(&study);
  hs_cli_close(&s);
  return code;
}

const hs_cli_command hs_cmd_critical = {
    .name = "critical",
    .run = run,
    .summary = "critical points by Newton-MR, with their index",
    .usage = "usage: hesspec critical --model M.json --weights W DATA --out C.json [--starts N --noise S]\n"
    "                        [--gtol G] [--max-iter N] [--exact-limit N] [--plot F.svg]\n\n"
    "From W (and N - 1 more copies, every start perturbed by --noise S relative to each tensor's\n"
    "norm, seeded by --seed), minimises 0.5 ||grad||^2 by Newton-MR: d = MINRES(H, -grad), a\n"
    "backtracking line search on ||grad||^2; it converges to critical points of any index.\n"
    "Writes C.json (\"hesspec.critical/1\") and C-start-NNN.safetensors per start. Exit status 1\n"
    "when a start did not converge (the file is written and says which). docs/critical.md.\n",
    .options = tables};
