/* The training log: one CSV row per epoch, rewritten atomically after every epoch so that a
 * killed or diverged run leaves a complete log of the epochs it finished. */
#include <math.h>
#include <stdio.h>

#include "io/atomic.h"
#include "train/trainer.h"

/* NaN (no test data, mse accuracy) is written as an empty field: spreadsheets and pandas
 * read it as missing. */
static void field(FILE *f, double v) {
  if (isnan(v)) fputc(',', f);
  else fprintf(f, ",%.10g", v);
}

hs_status hs_trainer_write_log(hs_trainer *t) {
  if (!t->o.log_path) return HS_OK;
  hs_atomic_file f;
  hs_status st = hs_atomic_begin(t->ctx, t->o.log_path, &f);
  if (st != HS_OK) return st;
  fprintf(f.fp, "epoch,loss,accuracy,test_loss,test_accuracy,lr,seconds\n");
  for (size_t i = 0; i < t->n_recs; i++) {
    const hs_train_epoch *r = &t->recs[i];
    fprintf(f.fp, "%zu", r->epoch);
    field(f.fp, r->loss);
    field(f.fp, r->accuracy);
    field(f.fp, r->test_loss);
    field(f.fp, r->test_accuracy);
    field(f.fp, r->lr);
    fprintf(f.fp, ",%.3f\n", r->seconds);
  }
  return hs_atomic_commit(t->ctx, &f);
}
