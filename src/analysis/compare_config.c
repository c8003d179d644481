/* The compare preset: defaults, the JSON reader (unknown keys are errors), validation. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "analysis/compare.h"
#include "core/context.h"
#include "core/settings.h"
#include "io/file.h"

/* "FILE: 'key'" in messages */
#define PATH_MAX_LABEL 4200

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
  c.train = hs_train_config_defaults();
  c.train.keep_last = 0;
  c.train.optimizer = HS_TRAIN_SGD;
  c.train.lr = 0.05;
  c.train.momentum = 0.9;
  c.train.schedule = HS_TRAIN_COSINE;
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
  c.outliers = 1;
  /* The panels are off unless a preset asks (compare-demo.json does): they cost time that
   * short runs and the tests need not spend. Their parameters are compare-demo.json's, but
   * critical_samples: 0 follows the analysis samples. gtol 5e-3, not Newton-MR's 1e-8: the
   * critical points of these nets are degenerate and Newton-MR converges only linearly there
   * (measured: ||grad|| from ~1 to 1e-3 - 5e-3 in 30 steps, 5e-4 after 150; docs/experiments.md
   * section 7), so a tighter tolerance buys minutes, not a different picture. */
  c.landscape = 0;
  c.n_landscape_kinds = 2;
  hs_cmp_parse_kind(NULL, "relu", &c.landscape_kinds[0]);
  hs_cmp_parse_kind(NULL, "relu-bn-res", &c.landscape_kinds[1]);
  c.landscape_points = 15;
  c.landscape_range = 1;
  c.critical = 0;
  hs_cmp_parse_kind(NULL, "tanh", &c.critical_kind);
  c.n_critical_hidden = 1;
  c.critical_hidden[0] = 3;
  c.critical_samples = 0;
  c.critical_starts = 4;
  c.critical_noise = 0.5;
  c.critical_max_iter = 30;
  c.critical_gtol = 5e-3;
  c.critical_exact_limit = 3000;
  c.curvature_every = 0; /* off; compare-demo.json measures a few times per epoch */
  c.curvature_samples = 0;
  c.curvature_overlap_k = 0;
  c.operators = 0;
  return c;
}

hs_status hs_cmp_train_options(hs_context *ctx, const hs_cmp_config *c, uint64_t seed, const char *log, size_t eval_batch,
                               hs_train_options *o) {
  hs_train_config t = c->train;
  t.seed = seed;
  t.log_path = log;
  t.checkpoint_dtype = c->dtype;
  t.eval_batch = eval_batch;
  t.checkpoint_dir = NULL;
  t.n_save = 0;
  t.keep_last = 0;
  return hs_train_options_of(ctx, &t, o);
}

/* ---- the settings: preset keys and command-line names ---- */

static hs_status parse_kind(hs_context *ctx, const hs_setting *s, const char *label, const char *text, void *field) {
  (void)s;
  hs_cmp_kind kind; /* the field changes only when the name is good */
  hs_status st = hs_cmp_parse_kind(ctx, text, &kind);
  if (st != HS_OK) {
    char msg[600];
    snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
    return hs_fail(ctx, st, "%s: %s", label, msg);
  }
  memcpy(field, &kind, sizeof kind);
  return HS_OK;
}

static const hs_setting_choice losses[] = {{"cross_entropy", HS_LOSS_CROSS_ENTROPY}, {"mse", HS_LOSS_MSE}, {NULL, 0}};
static const hs_setting_choice bn_modes[] = {{"batch", HS_BN_BATCH}, {"running", HS_BN_RUNNING}, {NULL, 0}};
static const hs_setting_choice dtypes[] = {{"f64", HS_F64}, {"f32", HS_F32}, {NULL, 0}};
_Static_assert(sizeof(hs_loss) == sizeof(int) && sizeof(hs_batchnorm) == sizeof(int) && sizeof(hs_dtype) == sizeof(int),
               "choice fields are ints");

#define C hs_cmp_config
/* The training keys ("train.lr", ...) are hs_train_settings' (src/train/options.c). */
const hs_setting hs_cmp_settings[] = {
    {.key = "dataset", .type = HS_SET_STRBUF, HS_SET_FIELD(C, dataset)}, /* command line: the common --dataset */
    {.key = "train_samples", .type = HS_SET_UINT, HS_SET_FIELD(C, train_samples)}, /* and --samples */
    {.name = "test-samples", .key = "test_samples", .type = HS_SET_UINT, HS_SET_FIELD(C, test_samples), .metavar = "N",
     .help = "test samples"},
    {.key = "synthetic_dim", .type = HS_SET_UINT, HS_SET_FIELD(C, synthetic_dim), .bounds = HS_SET_MIN | HS_SET_MAX,
     .min = 1, .max = 100000},
    {.key = "synthetic_classes", .type = HS_SET_UINT, HS_SET_FIELD(C, synthetic_classes),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 1, .max = 100000},
    {.name = "hidden", .key = "hidden", .type = HS_SET_UINT, HS_SET_LIST(C, hidden, n_hidden),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 1, .max = 1000000, .metavar = "W1,W2,...", .help = "hidden widths"},
    {.key = "bias", .type = HS_SET_FLAG, HS_SET_FIELD(C, bias)},
    {.name = "loss", .key = "loss", .type = HS_SET_CHOICE, HS_SET_FIELD(C, loss), .choices = losses,
     .help = "mse trains on one-hot targets (teacher data: its targets); for the linear kinds\n"
             "the report then shows the gap to the closed-form optimum (hesspec optimum)"},
    {.key = "batchnorm_mode", .type = HS_SET_CHOICE, HS_SET_FIELD(C, bn_mode), .choices = bn_modes},
    {.name = "kinds", .key = "kinds", .type = HS_SET_CUSTOM, HS_SET_LIST(C, kinds, n_kinds), .parse = parse_kind,
     .metavar = "K1,K2,...", .help = "network kinds: linear|relu|tanh[-bn][-res], conv[-bn], resnet[-bn]"},
    {.name = "seeds", .key = "seeds", .type = HS_SET_UINT, HS_SET_LIST(C, seeds, n_seeds), .metavar = "S1,S2,...",
     .help = "initialisation and shuffling seeds"},
    {.key = "dtype", .type = HS_SET_CHOICE, HS_SET_FIELD(C, dtype), .choices = dtypes}, /* and the common --dtype */
    {.name = "epochs", .type = HS_SET_UINT, HS_SET_FIELD(C, train.epochs), .metavar = "E", .help = "training epochs"},
    {.name = "lr", .type = HS_SET_DOUBLE, HS_SET_FIELD(C, train.lr), .metavar = "X", .help = "learning rate"},
    {.name = "optimizer", .type = HS_SET_CHOICE, HS_SET_FIELD(C, train.optimizer), .choices = hs_train_optimizer_choices,
     .help = "the optimiser"},
    {.name = "analysis-epochs", .key = "analysis.epochs", .type = HS_SET_UINT, .offset = offsetof(C, stages),
     .size = sizeof(size_t), .list_max = HS_CMP_MAX_STAGES - 1, .count_offset = offsetof(C, n_stages),
     .count_size = sizeof(size_t), .metavar = "E1,E2,...", .help = "epochs to analyse (0 = initialisation; the last always)"},
    {.name = "analysis-samples", .key = "analysis.samples", .type = HS_SET_UINT, HS_SET_FIELD(C, analysis_samples),
     .metavar = "N", .help = "the Hessian is that of the loss on the first N training samples\n"
                             "(capped at --samples unless given explicitly)"},
    {.key = "analysis.batch", .type = HS_SET_UINT, HS_SET_FIELD(C, analysis_batch)},
    {.name = "steps", .key = "analysis.slq_steps", .type = HS_SET_UINT, HS_SET_FIELD(C, slq_steps), .metavar = "M",
     .help = "SLQ Lanczos steps"},
    {.name = "probes", .key = "analysis.slq_probes", .type = HS_SET_UINT, HS_SET_FIELD(C, slq_probes), .metavar = "K",
     .help = "SLQ probes"},
    {.key = "analysis.probe_seed", .type = HS_SET_UINT, HS_SET_FIELD(C, probe_seed)},
    {.key = "analysis.eig_tol", .type = HS_SET_DOUBLE, HS_SET_FIELD(C, eig_tol)},
    {.key = "analysis.neg_tol_rel", .type = HS_SET_DOUBLE, HS_SET_FIELD(C, neg_tol_rel)},
    {.name = "checkpoints", .key = "analysis.checkpoints", .type = HS_SET_FLAG, HS_SET_FIELD(C, save_checkpoints),
     .help = "keep a checkpoint at every analysed epoch in runs/"},
    {.key = "analysis.outliers", .type = HS_SET_FLAG, HS_SET_FIELD(C, outliers)}, /* the top 2C eigenvalues at the end */
    /* the landscape panel */
    {.key = "analysis.landscape", .type = HS_SET_FLAG, HS_SET_FIELD(C, landscape)},
    {.key = "analysis.landscape_kinds", .type = HS_SET_CUSTOM, HS_SET_LIST(C, landscape_kinds, n_landscape_kinds),
     .parse = parse_kind},
    {.key = "analysis.landscape_points", .type = HS_SET_UINT, HS_SET_FIELD(C, landscape_points),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 3, .max = 201},
    {.key = "analysis.landscape_range", .type = HS_SET_DOUBLE, HS_SET_FIELD(C, landscape_range),
     .bounds = HS_SET_MIN | HS_SET_MIN_OPEN | HS_SET_MAX, .min = 0, .max = 1e6},
    /* the critical-point panel */
    {.key = "analysis.critical", .type = HS_SET_FLAG, HS_SET_FIELD(C, critical)},
    {.key = "analysis.critical_kind", .type = HS_SET_CUSTOM, HS_SET_FIELD(C, critical_kind), .parse = parse_kind},
    {.key = "analysis.critical_hidden", .type = HS_SET_UINT, HS_SET_LIST(C, critical_hidden, n_critical_hidden),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 1, .max = 1000000},
    {.key = "analysis.critical_samples", .type = HS_SET_UINT, HS_SET_FIELD(C, critical_samples)},
    {.key = "analysis.critical_starts", .type = HS_SET_UINT, HS_SET_FIELD(C, critical_starts),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 1, .max = 1000},
    {.key = "analysis.critical_noise", .type = HS_SET_DOUBLE, HS_SET_FIELD(C, critical_noise),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 0, .max = 1e6},
    {.key = "analysis.critical_max_iter", .type = HS_SET_UINT, HS_SET_FIELD(C, critical_max_iter),
     .bounds = HS_SET_MIN | HS_SET_MAX, .min = 1, .max = 100000},
    {.key = "analysis.critical_gtol", .type = HS_SET_DOUBLE, HS_SET_FIELD(C, critical_gtol),
     .bounds = HS_SET_MIN | HS_SET_MIN_OPEN | HS_SET_MAX, .min = 0, .max = 1e6},
    {.key = "analysis.critical_exact_limit", .type = HS_SET_UINT, HS_SET_FIELD(C, critical_exact_limit)},
    /* curvature along training (0 = off) and the operators panel */
    {.key = "analysis.curvature_every", .type = HS_SET_UINT, HS_SET_FIELD(C, curvature_every),
     .bounds = HS_SET_MAX, .max = 1e12},
    {.key = "analysis.curvature_samples", .type = HS_SET_UINT, HS_SET_FIELD(C, curvature_samples)},
    {.key = "analysis.curvature_overlap_k", .type = HS_SET_UINT, HS_SET_FIELD(C, curvature_overlap_k),
     .bounds = HS_SET_MAX, .max = 100000},
    {.key = "analysis.operators", .type = HS_SET_FLAG, HS_SET_FIELD(C, operators)},
    {0}};
#undef C

/* "known: a, b, c" for a section ("" = the top level, "analysis", or "train") */
static void known_keys(const char *section, char *buf, size_t cap) {
  size_t sl = strlen(section);
  buf[0] = '\0';
  const hs_setting *t = strcmp(section, "train") == 0 ? hs_train_settings : hs_cmp_settings;
  for (const hs_setting *s = t; s->name || s->key; s++) {
    if (!s->key) continue;
    const char *k = s->key;
    if (t == hs_cmp_settings) {
      if (sl ? strncmp(k, section, sl) != 0 || k[sl] != '.' : strchr(k, '.') != NULL) continue;
      if (sl) k += sl + 1;
    }
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "", k);
  }
  if (!sl) snprintf(buf + strlen(buf), cap - strlen(buf), ", comment, train, analysis");
}

/* Every member of obj through the table (keys prefixed "section."), unknown keys are errors. */
const hs_setting *hs_cmp_setting_at(const char *key, const hs_cmp_config *c, const void **base) {
  if (strncmp(key, "train.", 6) == 0) {
    *base = &c->train;
    return hs_setting_find(hs_train_settings, key + 6, 1);
  }
  *base = c;
  return hs_setting_find(hs_cmp_settings, key, 1);
}

static hs_status read_section(hs_context *ctx, const char *path, const char *section, const cJSON *obj, hs_cmp_config *c) {
  if (!cJSON_IsObject(obj)) return hs_fail(ctx, HS_E_INVALID, "%s: '%s' must be an object", path, section);
  const cJSON *v;
  cJSON_ArrayForEach(v, obj) {
    char key[128], label[PATH_MAX_LABEL], known[1024];
    snprintf(key, sizeof key, "%s.%s", section, v->string);
    snprintf(label, sizeof label, "%s: '%s'", path, key);
    const void *base;
    const hs_setting *s = hs_cmp_setting_at(key, c, &base);
    if (!s) {
      known_keys(section, known, sizeof known);
      return hs_fail(ctx, HS_E_INVALID, "%s: unknown key '%s' (known: %s)", path, key, known);
    }
    hs_status st = hs_setting_from_json(ctx, s, label, v, (void *)base);
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

hs_status hs_cmp_load_preset(hs_context *ctx, const char *path, hs_cmp_config *c) {
  char *buf = NULL;
  size_t len;
  hs_status st = hs_read_file(ctx, path, &buf, &len);
  if (st != HS_OK) return st;
  hs_json_oom_clear();
  cJSON *root = cJSON_ParseWithLength(buf, len);
  free(buf);
  if (!root && hs_json_oom()) return hs_fail(ctx, HS_E_NOMEM, "%s: out of memory parsing the JSON", path);
  if (!root) return hs_fail(ctx, HS_E_INVALID, "%s: not valid JSON", path);
  if (!cJSON_IsObject(root)) {
    st = hs_fail(ctx, HS_E_INVALID, "%s: the preset must be a JSON object", path);
    goto cleanup;
  }
  const cJSON *v;
  cJSON_ArrayForEach(v, root) {
    const char *k = v->string;
    char label[PATH_MAX_LABEL], known[1024];
    snprintf(label, sizeof label, "%s: '%s'", path, k);
    const hs_setting *s = strchr(k, '.') ? NULL : hs_setting_find(hs_cmp_settings, k, 1);
    if (strcmp(k, "comment") == 0) st = HS_OK; /* free text for the preset's reader */
    else if (strcmp(k, "train") == 0 || strcmp(k, "analysis") == 0) st = read_section(ctx, path, k, v, c);
    else if (s) st = hs_setting_from_json(ctx, s, label, v, c);
    else {
      known_keys("", known, sizeof known);
      st = hs_fail(ctx, HS_E_INVALID, "%s: unknown key '%s' (known: %s)", path, k, known);
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
  hs_train_options checked;
  hs_status st = hs_train_options_of(ctx, &c->train, &checked);
  if (st != HS_OK) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
    BAD("train.%s", msg);
  }
  for (size_t i = 0; i < c->n_stages; i++)
    if (c->stages[i] > c->train.epochs) BAD("analysis.epochs: epoch %zu is beyond train.epochs = %zu", c->stages[i], c->train.epochs);
  /* sorted, unique, the last epoch included (checking twice adds it once) */
  int has_last = 0;
  for (size_t i = 0; i < c->n_stages; i++) has_last |= c->stages[i] == c->train.epochs;
  if (!has_last && c->n_stages == HS_CMP_MAX_STAGES)
    BAD("analysis.epochs: %d epochs and the last one (%zu) are more than %d", HS_CMP_MAX_STAGES, c->train.epochs,
        HS_CMP_MAX_STAGES);
  if (!has_last) c->stages[c->n_stages++] = c->train.epochs;
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
  /* the panels: a symmetric grid of odd size has the trained weights at its centre */
  if (c->landscape && c->landscape_points % 2 == 0)
    BAD("analysis.landscape_points = %zu must be odd, so that the trained weights are the centre of the grid", c->landscape_points);
  if (c->critical) {
    if (c->n_critical_hidden < 1) BAD("analysis.critical_hidden: at least one hidden layer is needed");
    size_t n = c->critical_samples ? c->critical_samples : c->analysis_samples;
    if (n < 2 || n > c->train_samples)
      BAD("analysis.critical_samples = %zu must be in [2, train_samples = %zu] (0: the analysis samples)", n, c->train_samples);
    if (c->critical_starts > 1 && c->critical_noise == 0)
      BAD("analysis.critical_starts = %zu needs analysis.critical_noise > 0 (every start would be the same point)",
          c->critical_starts);
    if (c->critical_kind.batchnorm && c->bn_mode == HS_BN_BATCH && c->analysis_batch == 1)
      BAD("analysis.batch = 1: batch norm (analysis.critical_kind) needs batches of >= 2");
    if (c->critical_kind.batchnorm && (c->train.batch < 2 || c->train_samples % c->train.batch == 1))
      BAD("train.batch = %zu leaves a batch of 1 sample of %zu: batch norm (analysis.critical_kind) needs >= 2",
          c->train.batch, c->train_samples);
  }
  if (c->curvature_every && c->curvature_samples && (c->curvature_samples < 2 || c->curvature_samples > c->train_samples))
    BAD("analysis.curvature_samples = %zu must be in [2, train_samples = %zu] (0: the analysis samples)",
        c->curvature_samples, c->train_samples);
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
  cJSON_AddStringToObject(o, "loss", c->loss == HS_LOSS_MSE ? "mse" : "cross_entropy");
  cJSON_AddStringToObject(o, "batchnorm_mode", c->bn_mode == HS_BN_RUNNING ? "running" : "batch");
  a = cJSON_AddArrayToObject(o, "kinds");
  for (size_t i = 0; i < c->n_kinds; i++) hs_json_push(a, cJSON_CreateString(c->kinds[i].name));
  a = cJSON_AddArrayToObject(o, "seeds");
  for (size_t i = 0; i < c->n_seeds; i++) hs_json_push(a, cJSON_CreateNumber((double)c->seeds[i]));
  cJSON_AddStringToObject(o, "dtype", hs_dtype_name(c->dtype));
  t = cJSON_AddObjectToObject(o, "train");
  cJSON_AddStringToObject(t, "optimizer", hs_train_optimizer_label(c->train.optimizer));
  cJSON_AddNumberToObject(t, "lr", c->train.lr);
  cJSON_AddNumberToObject(t, "lr_min", c->train.lr_min);
  cJSON_AddStringToObject(t, "schedule", hs_train_schedule_label(c->train.schedule));
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
  cJSON_AddBoolToObject(an, "outliers", c->outliers);
  cJSON_AddBoolToObject(an, "landscape", c->landscape);
  a = cJSON_AddArrayToObject(an, "landscape_kinds");
  for (size_t i = 0; i < c->n_landscape_kinds; i++) hs_json_push(a, cJSON_CreateString(c->landscape_kinds[i].name));
  cJSON_AddNumberToObject(an, "landscape_points", (double)c->landscape_points);
  cJSON_AddNumberToObject(an, "landscape_range", c->landscape_range);
  cJSON_AddBoolToObject(an, "critical", c->critical);
  cJSON_AddStringToObject(an, "critical_kind", c->critical_kind.name);
  a = cJSON_AddArrayToObject(an, "critical_hidden");
  for (int i = 0; i < c->n_critical_hidden; i++) hs_json_push(a, cJSON_CreateNumber(c->critical_hidden[i]));
  cJSON_AddNumberToObject(an, "critical_samples", (double)c->critical_samples);
  cJSON_AddNumberToObject(an, "critical_starts", (double)c->critical_starts);
  cJSON_AddNumberToObject(an, "critical_noise", c->critical_noise);
  cJSON_AddNumberToObject(an, "critical_max_iter", (double)c->critical_max_iter);
  cJSON_AddNumberToObject(an, "critical_gtol", c->critical_gtol);
  cJSON_AddNumberToObject(an, "critical_exact_limit", (double)c->critical_exact_limit);
  cJSON_AddNumberToObject(an, "curvature_every", (double)c->curvature_every);
  cJSON_AddNumberToObject(an, "curvature_samples", (double)c->curvature_samples);
  cJSON_AddNumberToObject(an, "curvature_overlap_k", (double)c->curvature_overlap_k);
  cJSON_AddBoolToObject(an, "operators", c->operators);
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (s && hs_json_oom()) { /* an incomplete document is no document */
    cJSON_free(s);
    s = NULL;
  }
  return s;
}
