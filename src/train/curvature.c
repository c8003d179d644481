#include "train/curvature.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/context.h"
#include "io/atomic.h"
#include "io/file.h"
#include "linalg/eig.h"
#include "linalg/lanczos.h"
#include "linalg/linop.h"
#include "nn/dataset.h"
#include "nn/engine.h"

typedef hs_curvature_row row;

struct hs_curvature_tracker {
  hs_context *ctx;
  hs_curvature_options o;
  hs_dataset *sub;   /* owned: the first o.samples training samples */
  size_t P;
  double *vtop, *vbot; /* (P) the previous top / bottom eigenvectors; NULL before the first */
  double *grad;      /* (P) */
  row *rows;
  size_t n_rows, cap_rows;
  double t_created, t_spent;
};

hs_status hs_curvature_create(hs_model *m, const hs_dataset *train, const hs_curvature_options *o,
                              hs_curvature_tracker **out) {
  *out = NULL;
  hs_context *ctx = hs_model_context(m);
  size_t P = hs_model_num_params(m);
  if (o->every < 1) return hs_fail(ctx, HS_E_INVALID, "--curvature-every must be at least 1");
  if (o->samples < 1 || o->samples > train->n)
    return hs_fail(ctx, HS_E_INVALID, "--curvature-samples %zu: must be between 1 and the %zu training samples",
                   o->samples, train->n);
  if (o->overlap_k < 1 || o->overlap_k > P)
    return hs_fail(ctx, HS_E_INVALID, "--overlap-k %zu: must be between 1 and the %zu parameters", o->overlap_k, P);
  hs_curvature_tracker *c = hs_calloc(1, sizeof *c);
  if (!c) return hs_fail(ctx, HS_E_NOMEM, "curvature: out of host memory");
  c->ctx = ctx;
  c->o = *o;
  c->P = P;
  c->grad = hs_malloc(P * sizeof *c->grad);
  hs_status st = HS_OK;
  if (!c->grad) {
    st = hs_fail(ctx, HS_E_NOMEM, "curvature: out of host memory");
    goto cleanup;
  }
  HS_TRY(hs_dataset_create(ctx, o->samples, train->input_dim, train->X, train->output_dim, train->labels,
                           train->targets, &c->sub));
  c->t_created = hs_now();
  *out = c;
  return HS_OK;
cleanup:
  hs_curvature_destroy(c);
  return st;
}

void hs_curvature_destroy(hs_curvature_tracker *c) {
  if (!c) return;
  hs_dataset_destroy(c->sub);
  free(c->vtop);
  free(c->vbot);
  free(c->grad);
  free(c->rows);
  free(c);
}

size_t hs_curvature_count(const hs_curvature_tracker *c) { return c->n_rows; }
const hs_curvature_row *hs_curvature_rows(const hs_curvature_tracker *c) { return c->rows; }
double hs_curvature_seconds(const hs_curvature_tracker *c) { return c->t_spent; }
double hs_curvature_other_seconds(const hs_curvature_tracker *c) { return hs_now() - c->t_created - c->t_spent; }

static void print_num(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, ",%.17g", x);
  else fprintf(f, ",");
}

static hs_status write_csv(hs_curvature_tracker *c) {
  hs_atomic_file f;
  hs_status st = hs_atomic_begin(c->ctx, c->o.path, &f);
  if (st != HS_OK) return st;
  double other = hs_curvature_other_seconds(c);
  fprintf(f.fp, "# hesspec curvature: Hessian of the loss on the first %zu training samples; top-%zu overlap; "
                "%zu measurements took %.3f s, %.1f%% of the %.3f s of training around them\n",
          c->o.samples, c->o.overlap_k, c->n_rows, c->t_spent, other > 0 ? 100.0 * c->t_spent / other : 0.0, other);
  fprintf(f.fp, "step,epoch,lambda_max,lambda_min,grad_overlap,seconds\n");
  for (size_t i = 0; i < c->n_rows; i++) {
    const row *r = &c->rows[i];
    fprintf(f.fp, "%llu,%zu", (unsigned long long)r->step, r->epoch);
    print_num(f.fp, r->lambda_max);
    print_num(f.fp, r->lambda_min);
    print_num(f.fp, r->grad_overlap);
    fprintf(f.fp, ",%.6f\n", r->seconds);
  }
  return hs_atomic_commit(c->ctx, &f);
}

/* One extremal eigenpair from a warm start (*v, replaced by the new vector when it
 * converged); NaN when it did not. */
static hs_status extremal(hs_curvature_tracker *c, hs_linop *H, hs_eig_which which, double **v, double *value) {
  hs_eig_options eo = {.which = which, .count = 1, .tol = c->o.tol, .seed = c->o.seed, .want_vectors = 1,
                       .start = *v};
  hs_eig_result *r = NULL;
  hs_status st = hs_eig_extremal(H, &eo, &r);
  if (st != HS_OK) return st;
  *value = NAN;
  if (r->found == 1) {
    *value = r->values[0];
    if (!*v) *v = hs_malloc(c->P * sizeof **v);
    if (!*v) st = hs_fail(c->ctx, HS_E_NOMEM, "curvature: out of host memory");
    else memcpy(*v, r->vectors, c->P * sizeof **v);
  }
  hs_eig_free(r);
  return st;
}

static hs_status measure(hs_curvature_tracker *c, hs_model *m, row *out) {
  hs_status st = HS_OK;
  hs_linop *H = NULL;
  hs_eig_result *top = NULL;
  HS_TRY(hs_model_bind(m, c->sub, 0));
  HS_TRY(hs_linop_model(m, HS_CURV_HESSIAN, &H));
  HS_TRY(extremal(c, H, HS_EIG_TOP, &c->vtop, &out->lambda_max));
  HS_TRY(extremal(c, H, HS_EIG_BOTTOM, &c->vbot, &out->lambda_min));
  double loss;
  HS_TRY(hs_model_loss_grad(m, &loss, c->grad));
  double gg = 0;
  for (size_t i = 0; i < c->P; i++) gg += c->grad[i] * c->grad[i];
  out->grad_overlap = NAN;
  const double *V = NULL;
  size_t found = 0;
  if (c->o.overlap_k == 1) {
    if (isfinite(out->lambda_max)) V = c->vtop, found = 1;
  } else {
    hs_eig_options eo = {.which = HS_EIG_TOP, .count = c->o.overlap_k, .tol = c->o.tol, .seed = c->o.seed,
                         .want_vectors = 1};
    HS_TRY(hs_eig_extremal(H, &eo, &top));
    if (top->found == c->o.overlap_k) V = top->vectors, found = top->found;
  }
  if (V && gg > 0) {
    double proj = 0;
    for (size_t i = 0; i < found; i++) {
      double d = 0;
      for (size_t j = 0; j < c->P; j++) d += V[i * c->P + j] * c->grad[j];
      proj += d * d;
    }
    out->grad_overlap = proj / gg;
  }
cleanup:
  hs_eig_free(top);
  hs_linop_destroy(H);
  return st;
}

static hs_status push_row(hs_curvature_tracker *c, const row *r) {
  if (c->n_rows == c->cap_rows) {
    size_t cap = c->cap_rows ? 2 * c->cap_rows : 64;
    row *nr = hs_realloc(c->rows, cap * sizeof *nr);
    if (!nr) return hs_fail(c->ctx, HS_E_NOMEM, "curvature: out of host memory");
    c->rows = nr;
    c->cap_rows = cap;
  }
  c->rows[c->n_rows++] = *r;
  return HS_OK;
}

/* One CSV field as a double: empty = NaN (a pair that did not converge). */
static int field(char **p, double *x) {
  char *end;
  if (**p == ',' || **p == '\n' || **p == '\0') {
    *x = NAN;
  } else {
    *x = strtod(*p, &end);
    if (end == *p) return 0;
    *p = end;
  }
  if (**p == ',') ++*p;
  return 1;
}

hs_status hs_curvature_preload(hs_curvature_tracker *c, const char *path, uint64_t upto) {
  char *text = NULL;
  size_t len;
  if (hs_read_file(c->ctx, path, &text, &len) != HS_OK) {
    c->ctx->errmsg[0] = '\0'; /* no earlier file: nothing to carry over */
    return HS_OK;
  }
  hs_status st = HS_OK;
  size_t lineno = 0;
  for (char *line = text; *line; lineno++) {
    char *next = strchr(line, '\n');
    if (next) *next = '\0';
    if (line[0] != '#' && strncmp(line, "step,", 5) != 0 && line[0]) {
      char *p = line, *end;
      unsigned long long stp = strtoull(p, &end, 10);
      row r = {.step = stp};
      double e;
      int ok = end != p && *end == ',';
      p = end + (ok ? 1 : 0);
      ok = ok && field(&p, &e) && field(&p, &r.lambda_max) && field(&p, &r.lambda_min) && field(&p, &r.grad_overlap) &&
           field(&p, &r.seconds) && *p == '\0' && e >= 0;
      if (!ok) {
        st = hs_fail(c->ctx, HS_E_INVALID, "%s: line %zu: not a curvature row (step,epoch,lambda_max,lambda_min,"
                                          "grad_overlap,seconds)", path, lineno + 1);
        break;
      }
      r.epoch = (size_t)e;
      if (r.step <= upto && (st = push_row(c, &r)) != HS_OK) break;
    }
    if (!next) break;
    line = next + 1;
  }
  free(text);
  return st;
}

hs_status hs_curvature_step(void *user, hs_model *m, uint64_t step, size_t epoch, int last, int *rebound) {
  hs_curvature_tracker *c = user;
  if (!(step == 0 || last || step % c->o.every == 0)) return HS_OK;
  double t0 = hs_now();
  row r = {.step = step, .epoch = epoch};
  *rebound = 1;
  hs_status st = measure(c, m, &r);
  if (st != HS_OK) return st;
  r.seconds = hs_now() - t0;
  c->t_spent += r.seconds;
  HS_TRY(push_row(c, &r));
  st = write_csv(c);
cleanup:
  return st;
}
