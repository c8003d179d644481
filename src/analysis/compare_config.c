/* The compare preset: defaults, the JSON reader (unknown keys are errors), validation. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "analysis/compare.h"
#include "core/context.h"
#include "io/file.h"

hs_status hs_cmp_parse_kind(hs_context *ctx, const char *name, hs_cmp_kind *out) {
  memset(out, 0, sizeof *out);
  if (strlen(name) >= sizeof out->name) return hs_fail(ctx, HS_E_INVALID, "kind '%.40s...' is too long", name);
  snprintf(out->name, sizeof out->name, "%s", name);
  const char *p = name;
  if (strncmp(p, "conv", 4) == 0 || strncmp(p, "resnet", 6) == 0) { /* conv nets: relu, optional -bn */
    out->conv = 1;
    out->act = HS_ACT_RELU;
    out->residual = p[0] == 'r';
    p += out->residual ? 6 : 4;
    if (strcmp(p, "-bn") == 0) out->batchnorm = 1, p += 3;
    if (*p) goto bad;
    return HS_OK;
  }
  if (strncmp(p, "linear", 6) == 0) out->act = HS_ACT_LINEAR, p += 6;
  else if (strncmp(p, "relu", 4) == 0) out->act = HS_ACT_RELU, p += 4;
  else if (strncmp(p, "tanh", 4) == 0) out->act = HS_ACT_TANH, p += 4;
  else goto bad;
  if (strncmp(p, "-bn", 3) == 0) out->batchnorm = 1, p += 3;
  if (strncmp(p, "-res", 4) == 0) out->residual = 1, p += 4;
  if (*p) goto bad;
  return HS_OK;
bad:
  return hs_fail(ctx, HS_E_INVALID,
                 "kind '%s': expected an activation (linear, relu, tanh) optionally followed by -bn "
                 "(batch norm) and -res (skip connections), e.g. relu-bn-res; or a conv net: conv, "
                 "conv-bn, resnet, resnet-bn",
                 name);
}

hs_cmp_config hs_cmp_defaults(void) {
  hs_cmp_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.dataset, sizeof c.dataset, "fashion-mnist");
  c.train_samples = 4000;
  c.test_samples = 1000;
  c.analysis_samples = 1000;
  c.analysis_batch = 0;
  c.synthetic_dim = 64;
  c.synthetic_classes = 10;
  c.n_hidden = 3;
  for (int i = 0; i < 3; i++) c.hidden[i] = 32;
  c.bias = 1;
  c.loss = HS_LOSS_CROSS_ENTROPY;
  c.bn_mode = HS_BN_BATCH;
  const char *kinds[] = {"linear", "relu", "relu-bn", "relu-res", "relu-bn-res"};
  c.n_kinds = 5;
  for (size_t k = 0; k < 5; k++) hs_cmp_parse_kind(NULL, kinds[k], &c.kinds[k]);
  c.n_seeds = 2;
  c.seeds[0] = 1;
  c.seeds[1] = 2;
  c.dtype = HS_F64;
  c.train = hs_train_defaults();
  c.train.optimizer = HS_OPT_SGD;
  c.train.lr = 0.05;
  c.train.momentum = 0.9;
  c.train.schedule = HS_LR_COSINE;
  c.train.epochs = 8;
  c.train.batch = 64;
  c.n_stages = 3;
  c.stages[0] = 0;
  c.stages[1] = 2;
  c.stages[2] = 8;
  c.slq_steps = 40;
  c.slq_probes = 4;
  c.probe_seed = 0;
  c.eig_tol = 1e-6;
  c.neg_tol_rel = 1e-3;
  return c;
}

/* ---- the JSON reader ---- */

typedef struct {
  hs_context *ctx;
  const char *path;
} rd;

#define FAIL(r, ...) hs_fail((r)->ctx, HS_E_INVALID, __VA_ARGS__)

static hs_status num(rd *r, const cJSON *v, const char *key, double *out) {
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return FAIL(r, "%s: '%s' must be a number", r->path, key);
  *out = v->valuedouble;
  return HS_OK;
}
static hs_status count(rd *r, const cJSON *v, const char *key, size_t *out) {
  double d = 0;
  hs_status st = num(r, v, key, &d);
  if (st != HS_OK) return st;
  if (d < 0 || d != floor(d) || d > 1e15) return FAIL(r, "%s: '%s' = %g must be a non-negative integer", r->path, key, d);
  *out = (size_t)d;
  return HS_OK;
}
static hs_status str(rd *r, const cJSON *v, const char *key, const char **out) {
  if (!cJSON_IsString(v)) return FAIL(r, "%s: '%s' must be a string", r->path, key);
  *out = v->valuestring;
  return HS_OK;
}
static hs_status boolean(rd *r, const cJSON *v, const char *key, int *out) {
  if (!cJSON_IsBool(v)) return FAIL(r, "%s: '%s' must be true or false", r->path, key);
  *out = cJSON_IsTrue(v);
  return HS_OK;
}
/* An array of counts into out[0..max) */
static hs_status counts(rd *r, const cJSON *v, const char *key, size_t max, size_t *out, size_t *n) {
  if (!cJSON_IsArray(v)) return FAIL(r, "%s: '%s' must be an array of integers", r->path, key);
  size_t i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, v) {
    if (i == max) return FAIL(r, "%s: '%s' has more than %zu entries", r->path, key, max);
    hs_status st = count(r, e, key, &out[i]);
    if (st != HS_OK) return st;
    i++;
  }
  *n = i;
  return HS_OK;
}

static hs_status read_train(rd *r, const cJSON *obj, hs_train_options *t) {
  if (!cJSON_IsObject(obj)) return FAIL(r, "%s: 'train' must be an object", r->path);
  const cJSON *v;
  hs_status st = HS_OK;
  cJSON_ArrayForEach(v, obj) {
    const char *k = v->string, *s = NULL;
    char key[80];
    snprintf(key, sizeof key, "train.%s", k);
    if (strcmp(k, "optimizer") == 0) {
      if ((st = str(r, v, key, &s)) != HS_OK) return st;
      int x = hs_optimizer_from_name(s);
      if (x < 0) return FAIL(r, "%s: 'train.optimizer' = '%s': expected sgd or adam", r->path, s);
      t->optimizer = (hs_optimizer)x;
    } else if (strcmp(k, "schedule") == 0) {
      if ((st = str(r, v, key, &s)) != HS_OK) return st;
      int x = hs_lr_schedule_from_name(s);
      if (x < 0) return FAIL(r, "%s: 'train.schedule' = '%s': expected constant or cosine", r->path, s);
      t->schedule = (hs_lr_schedule)x;
    } else if (strcmp(k, "lr") == 0) st = num(r, v, key, &t->lr);
    else if (strcmp(k, "lr_min") == 0) st = num(r, v, key, &t->lr_min);
    else if (strcmp(k, "momentum") == 0) st = num(r, v, key, &t->momentum);
    else if (strcmp(k, "dampening") == 0) st = num(r, v, key, &t->dampening);
    else if (strcmp(k, "nesterov") == 0) st = boolean(r, v, key, &t->nesterov);
    else if (strcmp(k, "beta1") == 0) st = num(r, v, key, &t->beta1);
    else if (strcmp(k, "beta2") == 0) st = num(r, v, key, &t->beta2);
    else if (strcmp(k, "eps") == 0) st = num(r, v, key, &t->eps);
    else if (strcmp(k, "weight_decay") == 0) st = num(r, v, key, &t->weight_decay);
    else if (strcmp(k, "bn_momentum") == 0) st = num(r, v, key, &t->bn_momentum);
    else if (strcmp(k, "epochs") == 0) st = count(r, v, key, &t->epochs);
    else if (strcmp(k, "batch") == 0) st = count(r, v, key, &t->batch);
    else return FAIL(r, "%s: unknown key 'train.%s' (known: optimizer, lr, lr_min, momentum, dampening, nesterov, beta1, beta2, eps, weight_decay, bn_momentum, schedule, epochs, batch)", r->path, k);
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

static hs_status read_analysis(rd *r, const cJSON *obj, hs_cmp_config *c) {
  if (!cJSON_IsObject(obj)) return FAIL(r, "%s: 'analysis' must be an object", r->path);
  const cJSON *v;
  hs_status st = HS_OK;
  cJSON_ArrayForEach(v, obj) {
    const char *k = v->string;
    char key[80];
    snprintf(key, sizeof key, "analysis.%s", k);
    size_t u;
    if (strcmp(k, "epochs") == 0) st = counts(r, v, key, HS_CMP_MAX_STAGES - 1, c->stages, &c->n_stages);
    else if (strcmp(k, "slq_steps") == 0) st = count(r, v, key, &c->slq_steps);
    else if (strcmp(k, "slq_probes") == 0) st = count(r, v, key, &c->slq_probes);
    else if (strcmp(k, "probe_seed") == 0) { st = count(r, v, key, &u); c->probe_seed = u; }
    else if (strcmp(k, "eig_tol") == 0) st = num(r, v, key, &c->eig_tol);
    else if (strcmp(k, "neg_tol_rel") == 0) st = num(r, v, key, &c->neg_tol_rel);
    else if (strcmp(k, "samples") == 0) st = count(r, v, key, &c->analysis_samples);
    else if (strcmp(k, "batch") == 0) st = count(r, v, key, &c->analysis_batch);
    else if (strcmp(k, "checkpoints") == 0) st = boolean(r, v, key, &c->save_checkpoints);
    else return FAIL(r, "%s: unknown key 'analysis.%s' (known: epochs, samples, batch, slq_steps, slq_probes, probe_seed, eig_tol, neg_tol_rel, checkpoints)", r->path, k);
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

hs_status hs_cmp_load_preset(hs_context *ctx, const char *path, hs_cmp_config *c) {
  char *buf = NULL;
  size_t len;
  hs_status st = hs_read_file(ctx, path, &buf, &len);
  if (st != HS_OK) return st;
  rd r = {ctx, path};
  hs_json_oom_clear();
  cJSON *root = cJSON_ParseWithLength(buf, len);
  free(buf);
  if (!root && hs_json_oom()) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory parsing the JSON", path);
  if (!root) return hs_fail(ctx, HS_E_INVALID, "%s: not valid JSON", path);
  if (!cJSON_IsObject(root)) { st = FAIL(&r, "%s: the preset must be a JSON object", path); goto cleanup; }
  const cJSON *v;
  cJSON_ArrayForEach(v, root) {
    const char *k = v->string, *s = NULL;
    size_t n, tmp[HS_MAX_HIDDEN];
    if (strcmp(k, "dataset") == 0) {
      if ((st = str(&r, v, k, &s)) != HS_OK) goto cleanup;
      if (strlen(s) >= sizeof c->dataset) { st = FAIL(&r, "%s: 'dataset' is too long", path); goto cleanup; }
      snprintf(c->dataset, sizeof c->dataset, "%s", s);
    } else if (strcmp(k, "train_samples") == 0) st = count(&r, v, k, &c->train_samples);
    else if (strcmp(k, "test_samples") == 0) st = count(&r, v, k, &c->test_samples);
    else if (strcmp(k, "synthetic_dim") == 0 || strcmp(k, "synthetic_classes") == 0) {
      if ((st = count(&r, v, k, &n)) != HS_OK) goto cleanup;
      if (n < 1 || n > 100000) { st = FAIL(&r, "%s: '%s' = %zu must be in [1, 100000]", path, k, n); goto cleanup; }
      if (k[10] == 'd') c->synthetic_dim = (int)n;
      else c->synthetic_classes = (int)n;
    } else if (strcmp(k, "hidden") == 0) {
      if ((st = counts(&r, v, k, HS_MAX_HIDDEN, tmp, &n)) != HS_OK) goto cleanup;
      c->n_hidden = (int)n;
      for (size_t i = 0; i < n; i++) {
        if (tmp[i] < 1 || tmp[i] > 1000000) { st = FAIL(&r, "%s: 'hidden' width %zu must be in [1, 1000000]", path, tmp[i]); goto cleanup; }
        c->hidden[i] = (int)tmp[i];
      }
    } else if (strcmp(k, "bias") == 0) st = boolean(&r, v, k, &c->bias);
    else if (strcmp(k, "loss") == 0) {
      if ((st = str(&r, v, k, &s)) != HS_OK) goto cleanup;
      if (strcmp(s, "cross_entropy") == 0) c->loss = HS_LOSS_CROSS_ENTROPY;
      else { st = FAIL(&r, "%s: 'loss' = '%s': compare trains classifiers (cross_entropy)", path, s); goto cleanup; }
    } else if (strcmp(k, "batchnorm_mode") == 0) {
      if ((st = str(&r, v, k, &s)) != HS_OK) goto cleanup;
      if (strcmp(s, "batch") == 0) c->bn_mode = HS_BN_BATCH;
      else if (strcmp(s, "running") == 0) c->bn_mode = HS_BN_RUNNING;
      else { st = FAIL(&r, "%s: 'batchnorm_mode' = '%s': expected batch or running", path, s); goto cleanup; }
    } else if (strcmp(k, "kinds") == 0) {
      if (!cJSON_IsArray(v)) { st = FAIL(&r, "%s: 'kinds' must be an array of strings", path); goto cleanup; }
      size_t i = 0;
      const cJSON *e;
      cJSON_ArrayForEach(e, v) {
        if (i == HS_CMP_MAX_KINDS) { st = FAIL(&r, "%s: 'kinds' has more than %d entries", path, HS_CMP_MAX_KINDS); goto cleanup; }
        if ((st = str(&r, e, "kinds", &s)) != HS_OK) goto cleanup;
        if ((st = hs_cmp_parse_kind(ctx, s, &c->kinds[i])) != HS_OK) {
          char msg[600];
          snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
          st = FAIL(&r, "%s: 'kinds': %s", path, msg);
          goto cleanup;
        }
        i++;
      }
      c->n_kinds = i;
    } else if (strcmp(k, "seeds") == 0) {
      size_t sd[HS_CMP_MAX_SEEDS];
      if ((st = counts(&r, v, k, HS_CMP_MAX_SEEDS, sd, &n)) != HS_OK) goto cleanup;
      c->n_seeds = n;
      for (size_t i = 0; i < n; i++) c->seeds[i] = sd[i];
    } else if (strcmp(k, "dtype") == 0) {
      if ((st = str(&r, v, k, &s)) != HS_OK) goto cleanup;
      if (strcmp(s, "f64") == 0) c->dtype = HS_F64;
      else if (strcmp(s, "f32") == 0) c->dtype = HS_F32;
      else { st = FAIL(&r, "%s: 'dtype' = '%s': expected f64 or f32", path, s); goto cleanup; }
    } else if (strcmp(k, "train") == 0) st = read_train(&r, v, &c->train);
    else if (strcmp(k, "analysis") == 0) st = read_analysis(&r, v, c);
    else if (strcmp(k, "comment") == 0) st = HS_OK; /* free text for the preset's reader */
    else {
      st = FAIL(&r, "%s: unknown key '%s' (known: comment, dataset, train_samples, test_samples, synthetic_dim, synthetic_classes, hidden, bias, loss, batchnorm_mode, kinds, seeds, dtype, train, analysis)", path, k);
    }
    if (st != HS_OK) goto cleanup;
  }
cleanup:
  cJSON_Delete(root);
  return st;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

hs_status hs_cmp_validate(hs_context *ctx, hs_cmp_config *c) {
#define BAD(...) return hs_fail(ctx, HS_E_INVALID, __VA_ARGS__)
  if (c->train_samples < 2) BAD("train_samples = %zu must be >= 2", c->train_samples);
  if (c->test_samples < 2) BAD("test_samples = %zu must be >= 2", c->test_samples);
  if (c->analysis_samples < 2 || c->analysis_samples > c->train_samples)
    BAD("analysis samples = %zu must be in [2, train_samples = %zu]", c->analysis_samples, c->train_samples);
  if (c->n_hidden < 1) BAD("hidden: at least one hidden layer is needed");
  if (c->n_kinds < 1) BAD("kinds: at least one network kind is needed");
  for (size_t i = 0; i < c->n_kinds; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->kinds[i].name, c->kinds[j].name) == 0) BAD("kinds: '%s' is listed twice", c->kinds[i].name);
  if (c->n_seeds < 1) BAD("seeds: at least one seed is needed");
  for (size_t i = 0; i < c->n_seeds; i++)
    for (size_t j = 0; j < i; j++)
      if (c->seeds[i] == c->seeds[j]) BAD("seeds: %llu is listed twice", (unsigned long long)c->seeds[i]);
  if (c->slq_steps < 2) BAD("slq_steps = %zu must be >= 2", c->slq_steps);
  if (c->slq_probes < 1) BAD("slq_probes = %zu must be >= 1", c->slq_probes);
  if (!(c->eig_tol > 0 && c->eig_tol < 1)) BAD("eig_tol = %g must be in (0, 1)", c->eig_tol);
  if (!(c->neg_tol_rel >= 0 && c->neg_tol_rel < 1)) BAD("neg_tol_rel = %g must be in [0, 1)", c->neg_tol_rel);
  if (c->train.batch > c->train_samples) BAD("train.batch = %zu is larger than train_samples = %zu", c->train.batch, c->train_samples);
  hs_status st = hs_train_validate(ctx, &c->train);
  if (st != HS_OK) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
    BAD("train.%s", msg);
  }
  for (size_t i = 0; i < c->n_stages; i++)
    if (c->stages[i] > c->train.epochs) BAD("analysis.epochs: epoch %zu is beyond train.epochs = %zu", c->stages[i], c->train.epochs);
  /* sorted, unique, the last epoch included */
  c->stages[c->n_stages++] = c->train.epochs;
  qsort(c->stages, c->n_stages, sizeof *c->stages, cmp_size);
  size_t u = 0;
  for (size_t i = 0; i < c->n_stages; i++)
    if (u == 0 || c->stages[i] != c->stages[u - 1]) c->stages[u++] = c->stages[i];
  c->n_stages = u;
  int any_bn = 0;
  for (size_t i = 0; i < c->n_kinds; i++) any_bn |= c->kinds[i].batchnorm;
  size_t ab = c->analysis_batch ? c->analysis_batch : c->analysis_samples;
  if (any_bn && c->bn_mode == HS_BN_BATCH && (ab < 2 || c->analysis_samples % ab == 1))
    BAD("analysis.batch = %zu leaves a batch of 1 sample of %zu: batch norm needs >= 2", ab, c->analysis_samples);
  if (any_bn && (c->train.batch < 2 || c->train_samples % c->train.batch == 1))
    BAD("train.batch = %zu leaves a batch of 1 sample of %zu: batch norm needs >= 2", c->train.batch, c->train_samples);
  return HS_OK;
#undef BAD
}

char *hs_cmp_config_json(const hs_cmp_config *c) {
  hs_json_oom_clear();
  cJSON *o = cJSON_CreateObject(), *a, *t, *an;
  cJSON_AddStringToObject(o, "dataset", c->dataset);
  cJSON_AddNumberToObject(o, "train_samples", (double)c->train_samples);
  cJSON_AddNumberToObject(o, "test_samples", (double)c->test_samples);
  cJSON_AddNumberToObject(o, "synthetic_dim", c->synthetic_dim);
  cJSON_AddNumberToObject(o, "synthetic_classes", c->synthetic_classes);
  a = cJSON_AddArrayToObject(o, "hidden");
  for (int i = 0; i < c->n_hidden; i++) hs_json_push(a, cJSON_CreateNumber(c->hidden[i]));
  cJSON_AddBoolToObject(o, "bias", c->bias);
  cJSON_AddStringToObject(o, "loss", "cross_entropy");
  cJSON_AddStringToObject(o, "batchnorm_mode", c->bn_mode == HS_BN_RUNNING ? "running" : "batch");
  a = cJSON_AddArrayToObject(o, "kinds");
  for (size_t i = 0; i < c->n_kinds; i++) hs_json_push(a, cJSON_CreateString(c->kinds[i].name));
  a = cJSON_AddArrayToObject(o, "seeds");
  for (size_t i = 0; i < c->n_seeds; i++) hs_json_push(a, cJSON_CreateNumber((double)c->seeds[i]));
  cJSON_AddStringToObject(o, "dtype", hs_dtype_name(c->dtype));
  t = cJSON_AddObjectToObject(o, "train");
  cJSON_AddStringToObject(t, "optimizer", hs_optimizer_name(c->train.optimizer));
  cJSON_AddNumberToObject(t, "lr", c->train.lr);
  cJSON_AddNumberToObject(t, "lr_min", c->train.lr_min);
  cJSON_AddStringToObject(t, "schedule", hs_lr_schedule_name(c->train.schedule));
  cJSON_AddNumberToObject(t, "momentum", c->train.momentum);
  cJSON_AddNumberToObject(t, "dampening", c->train.dampening);
  cJSON_AddBoolToObject(t, "nesterov", c->train.nesterov);
  cJSON_AddNumberToObject(t, "beta1", c->train.beta1);
  cJSON_AddNumberToObject(t, "beta2", c->train.beta2);
  cJSON_AddNumberToObject(t, "eps", c->train.eps);
  cJSON_AddNumberToObject(t, "weight_decay", c->train.weight_decay);
  cJSON_AddNumberToObject(t, "bn_momentum", c->train.bn_momentum);
  cJSON_AddNumberToObject(t, "epochs", (double)c->train.epochs);
  cJSON_AddNumberToObject(t, "batch", (double)c->train.batch);
  an = cJSON_AddObjectToObject(o, "analysis");
  a = cJSON_AddArrayToObject(an, "epochs");
  for (size_t i = 0; i < c->n_stages; i++) hs_json_push(a, cJSON_CreateNumber((double)c->stages[i]));
  cJSON_AddNumberToObject(an, "samples", (double)c->analysis_samples);
  cJSON_AddNumberToObject(an, "batch", (double)c->analysis_batch);
  cJSON_AddNumberToObject(an, "slq_steps", (double)c->slq_steps);
  cJSON_AddNumberToObject(an, "slq_probes", (double)c->slq_probes);
  cJSON_AddNumberToObject(an, "probe_seed", (double)c->probe_seed);
  cJSON_AddNumberToObject(an, "eig_tol", c->eig_tol);
  cJSON_AddNumberToObject(an, "neg_tol_rel", c->neg_tol_rel);
  cJSON_AddBoolToObject(an, "checkpoints", c->save_checkpoints);
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (s && hs_json_oom()) { /* an incomplete document is no document */
    cJSON_free(s);
    s = NULL;
  }
  return s;
}
