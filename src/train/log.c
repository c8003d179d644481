/* The training log: one CSV row per epoch, rewritten atomically after every epoch so that a
 * killed or diverged run leaves a complete log of the epochs it finished. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/atomic.h"
#include "train/trainer.h"

#define LOG_HEADER "epoch,loss,accuracy,test_loss,test_accuracy,lr,seconds"

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
  fprintf(f.fp, "%s\n", LOG_HEADER);
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

/* One field of a log row: empty = NaN. Returns the position after the field, NULL if bad. */
static const char *read_field(const char *p, double *v) {
  if (*p == ',' || *p == '\n' || *p == '\0') {
    *v = NAN;
    return p;
  }
  char *end;
  *v = strtod(p, &end);
  return end == p ? NULL : end;
}

hs_status hs_trainer_read_log(hs_trainer *t, const char *path, size_t upto) {
  FILE *f = fopen(path, "r");
  if (!f) return HS_OK; /* no earlier log: the resumed log starts at the resume */
  char line[1024];
  hs_status st = HS_OK;
  int first = 1;
  while (st == HS_OK && fgets(line, sizeof line, f)) {
    if (first) { /* the header */
      first = 0;
      if (strncmp(line, LOG_HEADER, strlen(LOG_HEADER)) != 0) break;
      continue;
    }
    hs_train_epoch r;
    char *end;
    unsigned long long e = strtoull(line, &end, 10);
    const char *p = end;
    double *dst[] = {&r.loss, &r.accuracy, &r.test_loss, &r.test_accuracy, &r.lr, &r.seconds};
    int ok = end != line && *p == ',';
    for (size_t k = 0; ok && k < sizeof dst / sizeof *dst; k++) {
      p = read_field(p + 1, dst[k]);
      ok = p && (k + 1 < sizeof dst / sizeof *dst ? *p == ',' : (*p == '\n' || *p == '\0'));
    }
    if (!ok || e == 0 || e > upto || (t->n_recs && e != t->recs[t->n_recs - 1].epoch + 1)) break; /* keep what parsed */
    r.epoch = (size_t)e;
    if (t->n_recs == t->cap_recs) {
      size_t cap = t->cap_recs ? 2 * t->cap_recs : 16;
      hs_train_epoch *q = hs_realloc(t->recs, cap * sizeof *q);
      if (!q) { st = hs_fail(t->ctx, HS_E_NOMEM, "out of host memory"); break; }
      t->recs = q;
      t->cap_recs = cap;
    }
    t->recs[t->n_recs++] = r;
  }
  fclose(f);
  /* only a log that covers epochs 1..upto is continued; anything else starts afresh */
  if (st == HS_OK && (t->n_recs == 0 || t->recs[0].epoch != 1 || t->recs[t->n_recs - 1].epoch != upto)) t->n_recs = 0;
  return st;
}
