/* The library's data-parallel path without MPI: R threads, each with its own context of
 * rank r of R, joined by a fake allreduce (a barrier and a rank-order sum), against one
 * context over the same data. Loss, gradient, accuracy, outputs, Hessian and GGN products
 * and a short training run must agree with the single process to rounding, and two sharded
 * runs must agree bit for bit. The CLI's MPI reduction is tested by test_mpi. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/hs_test.h"
#include "train/train.h"

#define MAX_R 4
#define N_SAMPLES 37 /* prime: batches of 5 leave a short last batch, shards are unequal */
#define BATCH 5
#define K_DIRS 3

/* ---- the fake reduction: sum in rank order, every rank copies the one result ---- */

typedef struct {
  pthread_barrier_t bar;
  int R;
  double *slot[MAX_R];
  size_t n[MAX_R];
  double *sum;
  int mismatch; /* a rank called with another n: the library broke the lockstep contract */
  size_t calls;
} fake_comm;

typedef struct {
  fake_comm *c;
  int rank;
} fake_rank;

static hs_status fake_allreduce(void *user, double *buf, size_t n) {
  fake_rank *fr = user;
  fake_comm *c = fr->c;
  c->slot[fr->rank] = buf;
  c->n[fr->rank] = n;
  pthread_barrier_wait(&c->bar);
  if (fr->rank == 0) {
    c->calls++;
    for (int r = 1; r < c->R; r++) c->mismatch |= c->n[r] != n;
    c->sum = malloc(n * sizeof *c->sum);
    for (size_t i = 0; c->sum && !c->mismatch && i < n; i++) {
      double s = c->slot[0][i];
      for (int r = 1; r < c->R; r++) s += c->slot[r][i];
      c->sum[i] = s;
    }
  }
  pthread_barrier_wait(&c->bar);
  hs_status st = c->sum && !c->mismatch ? HS_OK : HS_E_INTERNAL;
  if (st == HS_OK) memcpy(buf, c->sum, n * sizeof *buf);
  pthread_barrier_wait(&c->bar);
  if (fr->rank == 0) {
    free(c->sum);
    c->sum = NULL;
  }
  return st;
}

/* ---- what one rank (or the single process) computes ---- */

typedef struct {
  double loss, acc;
  double *grad;  /* (P) */
  double *F;     /* (N, C) */
  double *HV;    /* (K_DIRS, P) */
  double *GV;    /* (K_DIRS, P) */
  double *train; /* (P) parameters after training */
  double train_loss[2];
  size_t P, FC;
} results;

typedef struct {
  int rank, R;      /* R = 1: the single process, no callback */
  fake_comm *comm;
  hs_model_spec spec;
  int train;        /* also train 2 epochs */
  size_t batch;
  results res;
  hs_status st;
  char msg[1024];
} job;

static void *run_job(void *arg) {
  job *j = arg;
  fake_rank fr = {j->comm, j->rank};
  hs_context_options o = hs_context_defaults();
  o.device = "cpu";
  o.threads = 1;
  if (j->R > 1) {
    o.rank = j->rank;
    o.ranks = j->R;
    o.allreduce = fake_allreduce;
    o.allreduce_user = &fr;
  }
  hs_context *ctx = NULL;
  hs_model *m = NULL;
  hs_dataset *d = NULL;
  hs_trainer *t = NULL;
  results *r = &j->res;
  hs_status st = hs_context_create(&o, &ctx);
  if (st != HS_OK) goto done;
  m = hs_test_model(ctx, &j->spec, 11);
  d = hs_test_data(ctx, &j->spec, N_SAMPLES, 12);
  r->P = hs_model_num_params(m);
  r->FC = N_SAMPLES * (size_t)j->spec.output_dim;
  r->grad = calloc(r->P, sizeof(double));
  r->F = calloc(r->FC, sizeof(double));
  r->HV = calloc(K_DIRS * r->P, sizeof(double));
  r->GV = calloc(K_DIRS * r->P, sizeof(double));
  r->train = calloc(r->P, sizeof(double));
  double *V = hs_test_vec(K_DIRS * r->P, 13);
  if ((st = hs_model_bind(m, d, j->batch)) != HS_OK) goto done_v;
  if ((st = hs_model_loss_grad(m, &r->loss, r->grad)) != HS_OK) goto done_v;
  if (j->spec.loss == HS_LOSS_CROSS_ENTROPY && (st = hs_model_accuracy(m, &r->acc)) != HS_OK) goto done_v;
  if ((st = hs_model_outputs(m, r->F)) != HS_OK) goto done_v;
  if ((st = hs_model_hvp(m, HS_CURV_HESSIAN, K_DIRS, V, r->HV)) != HS_OK) goto done_v;
  if ((st = hs_model_hvp(m, HS_CURV_GGN, K_DIRS, V, r->GV)) != HS_OK) goto done_v;
  if (j->train) {
    hs_train_options to = hs_train_defaults();
    to.epochs = 2;
    to.batch = 8; /* 37 = 4 x 8 + 5: a short last minibatch, split 2/3 and 1/1/2/1 ways */
    to.lr = 0.05;
    to.momentum = 0.9;
    to.eval_batch = 10;
    to.keep_last = 0;
    if ((st = hs_trainer_create(m, d, d, &to, &t)) != HS_OK) goto done_v;
    if ((st = hs_trainer_run(t)) != HS_OK) goto done_v;
    for (int e = 0; e < 2; e++) r->train_loss[e] = hs_trainer_epoch(t, (size_t)e)->loss;
    st = hs_model_get_params(m, r->train);
  }
done_v:
  free(V);
done:
  j->st = st;
  if (st != HS_OK && ctx) snprintf(j->msg, sizeof j->msg, "%s", hs_last_error(ctx));
  hs_trainer_destroy(t);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
  return NULL;
}

static void free_results(results *r) {
  free(r->grad);
  free(r->F);
  free(r->HV);
  free(r->GV);
  free(r->train);
}

/* Runs R ranks as threads; out[r] = rank r's results. */
static void run_ranks(const hs_model_spec *spec, int R, int train, size_t batch, job *jobs) {
  fake_comm c = {.R = R};
  pthread_barrier_init(&c.bar, NULL, (unsigned)R);
  pthread_t th[MAX_R];
  for (int r = 0; r < R; r++) {
    jobs[r] = (job){.rank = r, .R = R, .comm = &c, .spec = *spec, .train = train, .batch = batch};
    cr_assert(pthread_create(&th[r], NULL, run_job, &jobs[r]) == 0);
  }
  for (int r = 0; r < R; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&c.bar);
  for (int r = 0; r < R; r++) cr_assert(jobs[r].st == HS_OK, "rank %d of %d: %s", r, R, jobs[r].msg);
  cr_assert(!c.mismatch, "ranks called the reduction with different sizes");
  if (R > 1) cr_assert(c.calls > 0, "the sharded run never reduced");
}

static void check_close(const char *what, const double *a, const double *b, size_t n, double tol) {
  double e = hs_test_relerr(a, b, n, 1e-300);
  cr_expect(e <= tol, "%s: relative error %.3g > %.1g", what, e, tol);
}

/* Sums of R partial sums in another order than one process's loop: rounding only, a few
 * ulps of the largest term per value (the terms here are O(1) and agree in sign mostly). */
#define TOL 1e-12

static void compare_ranks(const hs_model_spec *spec, int train, size_t batch, int R_lo, int R_hi) {
  job single;
  run_ranks(spec, 1, train, batch, &single);
  const results *s = &single.res;
  for (int R = R_lo; R <= R_hi; R++) {
    job jobs[MAX_R], again[MAX_R];
    run_ranks(spec, R, train, batch, jobs);
    run_ranks(spec, R, train, batch, again);
    for (int r = 0; r < R; r++) {
      const results *x = &jobs[r].res;
      cr_expect(fabs(x->loss - s->loss) <= TOL * fabs(s->loss), "R=%d rank %d loss %.17g vs %.17g", R, r, x->loss, s->loss);
      cr_expect(x->acc == s->acc, "R=%d accuracy %g vs %g (counts are exact)", R, x->acc, s->acc);
      check_close("gradient", x->grad, s->grad, s->P, TOL);
      cr_expect(memcmp(x->F, s->F, s->FC * sizeof(double)) == 0, "R=%d outputs differ (the sum adds zeros only)", R);
      check_close("Hessian products", x->HV, s->HV, K_DIRS * s->P, TOL);
      check_close("GGN products", x->GV, s->GV, K_DIRS * s->P, TOL);
      if (train) {
        /* 2 epochs x 5 steps of momentum SGD: rounding differences grow mildly */
        check_close("trained parameters", x->train, s->train, s->P, 1e-10);
        for (int e = 0; e < 2; e++)
          cr_expect(fabs(x->train_loss[e] - s->train_loss[e]) <= 1e-10 * fabs(s->train_loss[e]),
                    "R=%d epoch %d loss %.17g vs %.17g", R, e + 1, x->train_loss[e], s->train_loss[e]);
      }
      /* every rank holds the same numbers, and so does a second run */
      const results *x0 = &jobs[0].res, *y = &again[r].res;
      cr_expect(x->loss == x0->loss && memcmp(x->grad, x0->grad, s->P * sizeof(double)) == 0 &&
                    memcmp(x->HV, x0->HV, K_DIRS * s->P * sizeof(double)) == 0,
                "R=%d rank %d differs from rank 0", R, r);
      cr_expect(x->loss == y->loss && memcmp(x->grad, y->grad, s->P * sizeof(double)) == 0 &&
                    memcmp(x->HV, y->HV, K_DIRS * s->P * sizeof(double)) == 0 &&
                    memcmp(x->GV, y->GV, K_DIRS * s->P * sizeof(double)) == 0 &&
                    (!train || memcmp(x->train, y->train, s->P * sizeof(double)) == 0),
                "R=%d rank %d: two runs differ", R, r);
    }
    for (int r = 0; r < R; r++) {
      free_results(&jobs[r].res);
      free_results(&again[r].res);
    }
  }
  free_results(&single.res);
}

Test(shard, cross_entropy_relu_matches_one_process) {
  int w[2] = {6, 5};
  hs_model_spec s = hs_test_spec(4, 2, w, 3, HS_ACT_RELU, HS_BN_NONE, 0, 1, HS_LOSS_CROSS_ENTROPY);
  s.weight_decay = 0.01; /* added once, after the sum */
  compare_ranks(&s, 1, BATCH, 2, 3);
}

Test(shard, mse_tanh_residual_matches_one_process) {
  int w[2] = {5, 5};
  hs_model_spec s = hs_test_spec(3, 2, w, 2, HS_ACT_TANH, HS_BN_NONE, 1, 1, HS_LOSS_MSE);
  compare_ranks(&s, 1, BATCH, 2, 3);
}

/* Batch norm: the analysis shards whole batches (statistics per batch, as in one process);
 * training runs each minibatch whole on every rank. */
Test(shard, batchnorm_matches_one_process) {
  int w[1] = {6};
  hs_model_spec s = hs_test_spec(4, 1, w, 3, HS_ACT_RELU, HS_BN_BATCH, 0, 1, HS_LOSS_CROSS_ENTROPY);
  compare_ranks(&s, 1, BATCH, 2, 3);
}

/* More ranks than batches: rank 3 of 4 holds no batch and still takes part in every sum. */
Test(shard, a_rank_without_batches) {
  int w[1] = {4};
  hs_model_spec s = hs_test_spec(3, 1, w, 2, HS_ACT_TANH, HS_BN_NONE, 0, 1, HS_LOSS_MSE);
  compare_ranks(&s, 0, 13, 4, 4); /* 37 samples = 3 batches of 13 over 4 ranks */
}

Test(shard, options_need_a_callback) {
  hs_context_options o = hs_context_defaults();
  o.device = "cpu";
  o.ranks = 2;
  o.rank = 0;
  hs_context *ctx = NULL;
  cr_assert_eq(hs_context_create(&o, &ctx), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(ctx), "allreduce callback"), "%s", hs_last_error(ctx));
  hs_context_destroy(ctx);
}
