/* The allocation-failure harness of test_alloc_failure and test_alloc_failure_api: a scenario
 * (a library call path from model creation to its results and their destruction) is run once
 * cleanly to count its allocations, then with its n-th allocation failing for every n; each
 * run must return HS_E_NOMEM with a message, leave no temporary file, and leak nothing (under
 * ASan, checked in process: Criterion ignores its workers' exit status). */
#ifndef HS_ALLOC_HARNESS_H
#define HS_ALLOC_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "hesspec.h"

#define HS_ALLOC_MAX_OUT 64

/* The inputs of a scenario, prepared before the hook is armed. */
typedef struct {
  hs_model_spec spec;
  size_t n, batch;
  double *X;       /* (n, input_dim) */
  int32_t *labels; /* (n) */
  char dir[256];   /* a scratch folder for the files a scenario writes */
} hs_alloc_inputs;

/* A scenario: everything from model creation to its results and their destruction, with
 * goto-cleanup like library code. It fills out[0..*nout) with numbers of its results, which
 * must be the same in every clean run. */
typedef hs_status (*hs_alloc_scenario)(hs_context *ctx, const hs_alloc_inputs *in, double *out, size_t *nout);

/* The model of spec, initialised from seed 7, and the inputs bound with their batch. */
hs_status hs_alloc_make(hs_context *ctx, const hs_alloc_inputs *in, hs_model **m, hs_dataset **d);
/* 4 -> 5 -> 4 -> 3 tanh MLP with batch norm and biases, cross entropy */
hs_model_spec hs_alloc_mlp_spec(void);
/* The check on run with n samples of spec in batches of batch. */
void hs_alloc_fail_every(const char *name, hs_alloc_scenario run, const hs_model_spec *spec, size_t n, size_t batch);

#endif
