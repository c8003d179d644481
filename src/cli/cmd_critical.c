/* hesspec critical: Newton-MR from --weights (and perturbed copies) to nearby critical
 * points, their index, a checkpoint per point and "hesspec.critical/1". The method:
 * src/analysis/critical.h and docs/critical.md. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critical.h"
#include "analysis/critical_plot.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/options.h"
#include "io/atomic.h"
#include "io/density.h"
#include "io/result_json.h"

typedef struct {
  hs_newton_mr_result nmr;
  hs_index_result idx;
  char checkpoint[1024];
} start_result;

/* "C.json" -> "C-start-007.safetensors" */
static void checkpoint_path(const char *out, size_t s, char *buf, size_t cap) {
  size_t len = strlen(out);
  if (len >= 5 && strcmp(out + len - 5, ".json") == 0) len -= 5;
  snprintf(buf, cap, "%.*s-start-%03zu.safetensors", (int)len, out, s);
}

static hs_status write_file(hs_context *ctx, const char *path, const hs_provenance *prov,
                            const hs_newton_mr_options *no, size_t starts, double noise, size_t limit,
                            const start_result *r, int fit, double a0, double ec, double rms) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return hs_set_error(ctx, HS_E_NOMEM, "%s: out of memory", path);
  cJSON_AddStringToObject(root, "format", "hesspec.critical/1");
  hs_json_add_provenance(root, prov);
  cJSON_AddNumberToObject(root, "params", (double)r[0].idx.params);
  cJSON *m = cJSON_AddObjectToObject(root, "method");
  cJSON_AddStringToObject(m, "name", "newton-mr");
  cJSON_AddStringToObject(m, "objective", "0.5 ||grad||^2; d = MINRES(H, -grad); Armijo backtracking on ||grad||^2");
  cJSON_AddNumberToObject(m, "gtol", no->gtol);
  cJSON_AddNumberToObject(m, "max_iter", (double)no->max_iter);
  cJSON_AddNumberToObject(m, "minres_max", (double)no->minres_max);
  cJSON_AddNumberToObject(m, "minres_rtol", no->minres_rtol);
  cJSON_AddNumberToObject(m, "theta", no->theta);
  cJSON_AddStringToObject(m, "theta_is", "MINRES stops when ||H (H d + grad)|| <= theta ||H grad|| (Newton-MR's inexactness)");
  cJSON_AddNumberToObject(m, "armijo", no->armijo);
  cJSON_AddNumberToObject(m, "starts", (double)starts);
  cJSON_AddNumberToObject(m, "noise", noise);
  cJSON_AddStringToObject(m, "noise_is", "per tensor: noise * ||theta_t|| / sqrt(n_t) * N(0, 1), seeded by seed and start");
  cJSON_AddNumberToObject(m, "exact_limit", (double)limit);
  cJSON_AddStringToObject(m, "index_is", "fraction of Hessian eigenvalues below -negative_tol");
  cJSON *a = cJSON_AddArrayToObject(root, "starts");
  for (size_t s = 0; s < starts; s++) {
    const start_result *q = &r[s];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "start", (double)s);
    cJSON_AddNumberToObject(o, "loss", q->nmr.loss);
    cJSON_AddNumberToObject(o, "grad_norm", q->nmr.grad_norm);
    cJSON_AddNumberToObject(o, "grad_norm_start", q->nmr.grad_norm0);
    cJSON_AddNumberToObject(o, "iterations", (double)q->nmr.iterations);
    cJSON_AddBoolToObject(o, "converged", q->nmr.converged);
    cJSON_AddStringToObject(o, "stop", q->nmr.stop);
    cJSON_AddNumberToObject(o, "index", q->idx.index);
    if (q->idx.exact) {
      cJSON_AddNumberToObject(o, "index_stderr", 0);
      cJSON_AddStringToObject(o, "index_method", "exact");
      cJSON_AddNumberToObject(o, "negative_count", (double)q->idx.negative);
    } else {
      if (isfinite(q->idx.index_se)) cJSON_AddNumberToObject(o, "index_stderr", q->idx.index_se);
      else cJSON_AddNullToObject(o, "index_stderr");
      cJSON_AddStringToObject(o, "index_method", "slq");
    }
    cJSON_AddNumberToObject(o, "negative_tol", q->idx.neg_tol);
    cJSON_AddNumberToObject(o, "lambda_min", q->idx.lambda_min);
    cJSON_AddNumberToObject(o, "lambda_max", q->idx.lambda_max);
    cJSON_AddStringToObject(o, "checkpoint", q->checkpoint);
    cJSON_AddNumberToObject(o, "minres_iterations", (double)q->nmr.minres_iterations);
    cJSON_AddNumberToObject(o, "hvps", (double)q->nmr.hvps);
    cJSON_AddNumberToObject(o, "gradients", (double)q->nmr.gradients);
    cJSON_AddNumberToObject(o, "fallback_steps", (double)q->nmr.fallbacks);
    cJSON_AddNumberToObject(o, "seconds", q->nmr.seconds);
    cJSON *h = cJSON_AddArrayToObject(o, "grad_norm_history");
    for (size_t i = 0; i <= q->nmr.iterations; i++) cJSON_AddItemToArray(h, cJSON_CreateNumber(q->nmr.history[i]));
    cJSON_AddItemToArray(a, o);
  }
  if (fit) {
    cJSON *f = cJSON_AddObjectToObject(root, "fit");
    cJSON_AddStringToObject(f, "formula", "index = alpha0 |1 - loss / eps_c|^(3/2) (Pennington & Bahri 2017)");
    cJSON_AddNumberToObject(f, "alpha0", a0);
    cJSON_AddNumberToObject(f, "eps_c", ec);
    cJSON_AddNumberToObject(f, "rms", rms);
  } else {
    cJSON_AddNullToObject(root, "fit");
  }
  hs_status st = hs_json_write(ctx, path, root);
  cJSON_Delete(root);
  return st;
}

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

static int run(int argc, char **argv) {
  const char *cmd = "critical";
  hs_cli_opts o;
  hs_cli_opts_init(&o);
  hs_newton_mr_options no = hs_newton_mr_defaults();
  hs_slq_options so = hs_slq_defaults();
  critical_args ca = {.starts = 1, .max_iter = no.max_iter, .exact_limit = 3000, .gtol = no.gtol,
                      .minres_rtol = no.minres_rtol, .theta = no.theta, .probes = so.probes};
  hs_cli_binding b[] = {{hs_cli_common_options, &o}, {critical_options, &ca}};
  if (hs_cli_parse(cmd, b, 2, argc, argv, 0, NULL)) return HS_EXIT_USAGE;
  size_t starts = ca.starts, limit = ca.exact_limit;
  double noise = ca.noise, index_tol = ca.index_tol;
  const char *plot = ca.plot;
  no.max_iter = ca.max_iter;
  no.gtol = ca.gtol;
  no.minres_rtol = ca.minres_rtol;
  no.minres_max = ca.minres_max;
  no.theta = ca.theta;
  so.probes = ca.probes;
  so.steps = ca.steps;
  if (!o.out) return hs_cli_usage(cmd, "--out C.json is required (the critical-point file)");
  if (starts > 1 && noise == 0)
    return hs_cli_usage(cmd, "--starts %zu needs --noise S > 0 (every start would be the same point)", starts);
  so.seed = o.seed;

  hs_cli_session s;
  int code = hs_cli_open(cmd, &o, &s);
  if (code) return code;
  hs_context *ctx = s.ctx;
  size_t P = hs_model_num_params(s.model);
  if (so.steps > P) {
    code = hs_cli_usage(cmd, "--steps %zu exceeds the %zu parameters", so.steps, P);
    hs_cli_close(&s);
    return code;
  }
  hs_status st = HS_OK;
  double t0 = hs_cli_now();
  double *theta = malloc(P * sizeof *theta), *eps = malloc(starts * sizeof *eps), *alpha = malloc(starts * sizeof *alpha);
  int *conv = malloc(starts * sizeof *conv);
  start_result *res = calloc(starts, sizeof *res);
  char *spec_json = hs_spec_to_json(hs_model_get_spec(s.model));
  size_t done = 0, n_conv = 0;
  if (!theta || !eps || !alpha || !conv || !res || !spec_json) {
    st = hs_set_error(ctx, HS_E_NOMEM, "out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_model_get_params(s.model, theta));
  no.minres_max = no.minres_max ? no.minres_max : hs_newton_mr_minres_default(P);
  for (size_t k = 0; k < starts; k++) {
    start_result *q = &res[k];
    HS_TRY(hs_model_set_params(s.model, theta));
    HS_TRY(hs_critical_perturb(s.model, o.seed, k, noise));
    HS_TRY(hs_newton_mr(s.model, &no, &q->nmr));
    done = k + 1;
    HS_TRY(hs_critical_index(s.model, limit, index_tol, &so, &q->idx));
    checkpoint_path(o.out, k, q->checkpoint, sizeof q->checkpoint);
    HS_TRY(hs_model_save(s.model, q->checkpoint, o.dtype));
    eps[k] = q->nmr.loss;
    alpha[k] = q->idx.index;
    conv[k] = q->nmr.converged;
    n_conv += (size_t)q->nmr.converged;
    if (!o.quiet)
      printf("start %zu: loss %.10g  ||grad|| %.3g -> %.3g in %zu iterations (%zu MINRES)%s  index %.6g%s  -> %s\n", k,
             q->nmr.loss, q->nmr.grad_norm0, q->nmr.grad_norm, q->nmr.iterations, q->nmr.minres_iterations,
             q->nmr.converged ? "" : " NOT CONVERGED", q->idx.index, q->idx.exact ? " (exact)" : " (SLQ)", q->checkpoint);
  }
  double a0 = 0, ec = 0, rms = 0;
  int fit = hs_critical_fit(starts, eps, alpha, &a0, &ec, &rms);
  hs_provenance prov = {.command = cmd, .operator_kind = "hessian", .model_json = spec_json, .weights = o.weights,
                        .data = s.data_desc, .samples = hs_dataset_size(s.data),
                        .batch = o.batch ? o.batch : hs_dataset_size(s.data), .dtype = o.dtype,
                        .backend = hs_backend_name(ctx), .device = hs_device_name(ctx), .seed = o.seed,
                        .elapsed = hs_cli_now() - t0};
  if (plot) {
    char *svg = hs_svg_critical(starts, eps, alpha, conv, fit, a0, ec, rms);
    if (!svg) {
      st = hs_set_error(ctx, HS_E_NOMEM, "%s: out of memory drawing the plot", plot);
      goto cleanup;
    }
    st = hs_write_file_atomic(ctx, plot, svg, strlen(svg));
    free(svg);
    if (st != HS_OK) goto cleanup;
  }
  HS_TRY(write_file(ctx, o.out, &prov, &no, starts, noise, limit, res, fit, a0, ec, rms));
  if (!o.quiet) {
    if (fit) printf("fit: index = %.4g |1 - loss / %.6g|^(3/2)  (rms %.3g)\n", a0, ec, rms);
    printf("wrote %s%s%s\n", o.out, plot ? " and " : "", plot ? plot : "");
  }
cleanup:
  if (st != HS_OK) {
    code = hs_cli_fail(cmd, ctx, st);
  } else if (n_conv < starts) {
    fprintf(stderr, "hesspec critical: %zu of %zu starts did not reach ||grad|| <= %g within %zu iterations (the "
                    "file lists them with converged: false); raise --max-iter\n", starts - n_conv, starts, no.gtol,
            no.max_iter);
    code = HS_EXIT_FAIL;
  }
  for (size_t k = 0; k < done; k++) hs_newton_mr_free(&res[k].nmr);
  free(theta);
  free(eps);
  free(alpha);
  free(conv);
  free(res);
  free(spec_json);
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
