/* Job files: reading, checking and expanding (job.h has the rules). */
#define _GNU_SOURCE /* realpath */
#include "cli/job.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_OPTIONS 96 /* more keys than any command has options */

/* Options whose values name files the task reads: they must exist when the job is read. */
static const char *const input_options[] = {"model", "weights", "inputs", "targets", "matrix", "preset", "to",
                                            "vectors", "test-inputs", "test-targets", "resume", "direction-files", NULL};
/* Options whose values name files the task writes: a task is done when all exist. */
static const char *const output_options[] = {"out", "plot", "vectors-out", "weights-out", NULL};

static int in_list(const char *const *list, const char *name) {
  for (size_t i = 0; list[i]; i++)
    if (strcmp(list[i], name) == 0) return 1;
  return 0;
}

/* One option of a task after merging: its setting, key and value (borrowed from the tree). */
typedef struct {
  const hs_setting *s;
  const char *name;
  const cJSON *v;
  int from_defaults;
} job_option;

typedef struct {
  hs_context *ctx;
  const char *path; /* the job file, for messages */
  const char *dir;  /* absolute folder of the job file */
  hs_job *job;
  size_t cap;
} job_reader;

/* p against the job's folder, unless absolute. Caller frees. */
static char *resolve(const char *dir, const char *p) {
  if (p[0] == '/') return strdup(p);
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "%s/%s", dir, p);
  return hs_sbuf_finish(&b);
}

char *hs_job_sidecar(const char *out, const char *suffix) {
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') n--;
  hs_sbuf b = {0};
  hs_sbuf_printf(&b, "%.*s%s", (int)n, out, suffix);
  return hs_sbuf_finish(&b);
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int hs_job_task_done(const hs_job_task *t) {
  if (t->n_done == 0) return 0;
  for (size_t i = 0; i < t->n_done; i++)
    if (!exists(t->done[i])) return 0;
  return 1;
}

static void task_free(hs_job_task *t) {
  if (t->argv)
    for (size_t i = 0; i < t->argc; i++) free(t->argv[i]);
  free(t->argv);
  for (size_t i = 0; i < t->n_done; i++) free(t->done[i]);
  free(t->done);
  free(t->out);
  free(t->label);
  memset(t, 0, sizeof *t);
}

void hs_job_free(hs_job *job) {
  if (!job) return;
  for (size_t i = 0; i < job->n_tasks; i++) task_free(&job->tasks[i]);
  free(job->tasks);
  free(job->path);
  free(job->dir);
  memset(job, 0, sizeof *job);
}

/* s with every "{stem}" replaced (stem NULL: s unchanged). Caller frees. */
static char *with_stem(const char *s, const char *stem) {
  if (!stem || !strstr(s, "{stem}")) return strdup(s);
  hs_sbuf b = {0};
  for (const char *p = s; *p;) {
    const char *q = strstr(p, "{stem}");
    if (!q) {
      hs_sbuf_printf(&b, "%s", p);
      break;
    }
    hs_sbuf_printf(&b, "%.*s%s", (int)(q - p), p, stem);
    p = q + 6;
  }
  return hs_sbuf_finish(&b);
}

/* The shortest of %.15g/%.16g/%.17g that reads back as x: 0.9, not 0.90000000000000002. */
static void number_text(hs_sbuf *b, const char *sep, double x) {
  char t[40];
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(t, sizeof t, "%.*g", digits, x);
    if (strtod(t, NULL) == x) break;
  }
  hs_sbuf_printf(b, "%s%s", sep, t);
}

/* The command-line text of a checked JSON value (lists comma-joined), {stem} replaced. */
static char *value_text(const cJSON *v, const char *stem) {
  hs_sbuf b = {0};
  const cJSON *e;
  if (cJSON_IsArray(v)) {
    int first = 1;
    cJSON_ArrayForEach(e, v) {
      if (cJSON_IsString(e)) hs_sbuf_printf(&b, "%s%s", first ? "" : ",", e->valuestring);
      else number_text(&b, first ? "" : ",", e->valuedouble);
      first = 0;
    }
  } else if (cJSON_IsString(v)) {
    hs_sbuf_printf(&b, "%s", v->valuestring);
  } else {
    number_text(&b, "", v->valuedouble);
  }
  char *t = hs_sbuf_finish(&b);
  if (!t) return NULL;
  char *r = with_stem(t, stem);
  free(t);
  return r;
}

/* Does a string value, or a string in a list, contain "{stem}"? */
static int mentions_stem(const cJSON *v) {
  if (cJSON_IsString(v)) return strstr(v->valuestring, "{stem}") != NULL;
  const cJSON *e;
  if (cJSON_IsArray(v))
    cJSON_ArrayForEach(e, v) if (mentions_stem(e)) return 1;
  return 0;
}

/* The stem of a path: its file name without the last extension. */
static void stem_of(const char *path, char *out, size_t cap) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
  snprintf(out, cap, "%.*s", (int)n, base);
}

/* Does the object have a key twice? cJSON keeps both, and the second would be ignored silently. */
static const char *duplicate_key(const cJSON *o) {
  for (const cJSON *a = o->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (a->string && b->string && strcmp(a->string, b->string) == 0) return a->string;
  return NULL;
}

static hs_status add_task(job_reader *r, hs_job_task *t) {
  hs_job *job = r->job;
  if (job->n_tasks == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 16;
    hs_job_task *n = realloc(job->tasks, cap * sizeof *n);
    if (!n) {
      task_free(t);
      return hs_set_error(r->ctx, HS_E_NOMEM, "%s: out of memory", r->path);
    }
    job->tasks = n;
    r->cap = cap;
  }
  job->tasks[job->n_tasks++] = *t;
  return HS_OK;
}

/* train writes epoch-E.safetensors and epoch-E.optim.safetensors side by side, so the natural
 * glob "ckpt/epoch-*.safetensors" matches both; the optimiser states are never weights. */
static int is_optimiser_state(const char *path) {
  static const char suffix[] = ".optim.safetensors";
  size_t n = strlen(path), k = sizeof suffix - 1;
  return n >= k && strcmp(path + n - k, suffix) == 0;
}

/* The expanded weights files of a task (paths as the task will see them), in *files. */
static hs_status expand_weights(job_reader *r, const char *label, const cJSON *v, char ***files, size_t *n) {
  hs_context *ctx = r->ctx;
  *files = NULL;
  *n = 0;
  size_t cap = 0;
  hs_status st = HS_OK;
  const cJSON *single[1] = {v};
  size_t count = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1;
  if (cJSON_IsArray(v) && count == 0) return hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'weights' is an empty list", r->path, label);
  const cJSON *e = cJSON_IsArray(v) ? v->child : single[0];
  for (size_t k = 0; k < count; k++, e = e->next) {
    if (!cJSON_IsString(e) || !*e->valuestring) {
      st = hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'weights' must be a path, a glob or a list of them", r->path, label);
      goto fail;
    }
    const char *pat = e->valuestring;
    char *full = resolve(r->dir, pat);
    if (!full) goto oom;
    glob_t g;
    memset(&g, 0, sizeof g);
    int is_glob = strpbrk(pat, "*?[") != NULL;
    int rc = is_glob ? glob(full, 0, NULL, &g) : 0;
    if (is_glob && rc != 0) {
      globfree(&g);
      free(full);
      st = hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'weights' glob '%s' matches no file (paths are relative to the job file)",
                   r->path, label, pat);
      goto fail;
    }
    if (!is_glob && !exists(full)) {
      free(full);
      st = hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'weights': no such file '%s' (paths are relative to the job file)",
                   r->path, label, pat);
      goto fail;
    }
    size_t m = is_glob ? g.gl_pathc : 1, kept = 0;
    for (size_t j = 0; j < m; j++) {
      const char *f = is_glob ? g.gl_pathv[j] : full;
      if (is_glob && is_optimiser_state(f)) continue;
      kept++;
      /* keep relative paths relative: the task runs in the job's folder */
      size_t dl = strlen(r->dir);
      const char *shown = pat[0] != '/' && strncmp(f, r->dir, dl) == 0 && f[dl] == '/' ? f + dl + 1 : f;
      if (*n == cap) {
        cap = cap ? 2 * cap : 8;
        char **nf = realloc(*files, cap * sizeof *nf);
        if (!nf) {
          globfree(&g);
          free(full);
          goto oom;
        }
        *files = nf;
      }
      if (!((*files)[*n] = strdup(shown))) {
        globfree(&g);
        free(full);
        goto oom;
      }
      (*n)++;
    }
    if (is_glob) globfree(&g);
    free(full);
    if (!kept) {
      st = hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'weights' glob '%s' matches only optimiser states (*.optim.safetensors)",
                   r->path, label, pat);
      goto fail;
    }
  }
  return HS_OK;
oom:
  st = hs_set_error(ctx, HS_E_NOMEM, "%s: out of memory", r->path);
fail:
  for (size_t j = 0; j < *n; j++) free((*files)[j]);
  free(*files);
  *files = NULL;
  *n = 0;
  return st;
}

/* Checks that an input file exists (for direction-files, every comma-separated entry). */
static hs_status check_input(job_reader *r, const char *label, const char *name, const char *value) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", value) >= (int)sizeof buf)
    return hs_set_error(r->ctx, HS_E_INVALID, "%s: %s: '%s' is too long", r->path, label, name);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *full = resolve(r->dir, tok);
    if (!full) return hs_set_error(r->ctx, HS_E_NOMEM, "%s: out of memory", r->path);
    int ok = exists(full);
    free(full);
    if (!ok)
      return hs_set_error(r->ctx, HS_E_INVALID, "%s: %s: '%s': no such file '%s' (paths are relative to the job file)", r->path,
                     label, name, tok);
  }
  return HS_OK;
}

/* Builds the task of one (expanded) entry: argv, out, done files. weights_file: the expanded
 * file replacing the weights option (NULL: none). */
static hs_status build_task(job_reader *r, size_t source, const hs_cli_command *cmd, const job_option *opt, size_t n,
                            const char *weights_file, const char *stem) {
  hs_context *ctx = r->ctx;
  hs_job_task t;
  memset(&t, 0, sizeof t);
  t.source = source;
  t.command = cmd;
  hs_sbuf lb = {0};
  if (weights_file) hs_sbuf_printf(&lb, "tasks[%zu] (weights '%s')", source, weights_file);
  else hs_sbuf_printf(&lb, "tasks[%zu]", source);
  if (!(t.label = hs_sbuf_finish(&lb))) goto oom;
  if (!(t.argv = calloc(2 * n + 3, sizeof *t.argv))) goto oom;
  if (!(t.argv[t.argc++] = strdup("hesspec")) || !(t.argv[t.argc++] = strdup(cmd->name))) goto oom;
  if (!(t.done = calloc(n + 1, sizeof *t.done))) goto oom;
  hs_status st = HS_OK;
  for (size_t i = 0; i < n; i++) {
    const job_option *o = &opt[i];
    if (o->s->type == HS_SET_FLAG && !cJSON_IsTrue(o->v)) continue; /* false: the default */
    hs_sbuf ab = {0};
    hs_sbuf_printf(&ab, "--%s", o->name);
    if (!(t.argv[t.argc++] = hs_sbuf_finish(&ab))) goto oom;
    if (o->s->type == HS_SET_FLAG) continue;
    char *text = strcmp(o->name, "weights") == 0 && weights_file ? strdup(weights_file) : value_text(o->v, stem);
    if (!text) goto oom;
    t.argv[t.argc++] = text;
    if (in_list(input_options, o->name) && !(weights_file && strcmp(o->name, "weights") == 0)) {
      if ((st = check_input(r, t.label, o->name, text)) != HS_OK) goto fail;
    }
    if (in_list(output_options, o->name)) {
      if (!*text) {
        st = hs_set_error(ctx, HS_E_INVALID, "%s: %s: '%s' is empty", r->path, t.label, o->name);
        goto fail;
      }
      char *full = resolve(r->dir, text);
      if (!full) goto oom;
      if (strcmp(o->name, "out") == 0) {
        t.out_arg = text;
        if (!(t.out = strdup(full))) {
          free(full);
          goto oom;
        }
      }
      t.done[t.n_done++] = full;
    }
  }
  if (!t.out) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'out' is missing: a task is done when its output exists, so every task needs one",
                 r->path, t.label);
    goto fail;
  }
  if (cmd->job_done_file) { /* a folder filled over a long run: done when its last file is there */
    for (size_t i = 0; i < t.n_done; i++) free(t.done[i]);
    t.n_done = 0;
    if (!(t.done[0] = cmd->job_done_file((int)t.argc - 1, t.argv + 1, t.out))) goto oom;
    t.n_done = 1;
  }
  return add_task(r, &t);
oom:
  st = hs_set_error(ctx, HS_E_NOMEM, "%s: out of memory", r->path);
fail:
  task_free(&t);
  return st;
}

/* One entry of "tasks": checked, merged with the defaults, expanded over its weights. */
static hs_status read_task(job_reader *r, size_t index, const cJSON *task, const cJSON *defaults, int *default_used) {
  hs_context *ctx = r->ctx;
  char label[64];
  snprintf(label, sizeof label, "tasks[%zu]", index);
  if (!cJSON_IsObject(task))
    return hs_set_error(ctx, HS_E_INVALID, "%s: %s must be an object {\"command\": ..., options}", r->path, label);
  const char *dup = duplicate_key(task);
  if (dup) return hs_set_error(ctx, HS_E_INVALID, "%s: %s: '%s' is given twice", r->path, label, dup);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(task, "command");
  if (!cJSON_IsString(c))
    return hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'command' is missing or not a string (e.g. \"spectrum\")", r->path, label);
  const hs_cli_command *cmd = hs_cli_find_command(c->valuestring);
  if (!cmd) return hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'command': unknown command '%s' (see `hesspec help`)", r->path, label, c->valuestring);
  if (strcmp(cmd->name, "run") == 0) return hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'command': a job cannot run jobs", r->path, label);
  if (!hs_cli_find_option(cmd->name, "out"))
    return hs_set_error(ctx, HS_E_INVALID, "%s: %s: 'command': %s writes no output file, so it cannot be a task", r->path, label, cmd->name);
  job_option opt[MAX_OPTIONS];
  size_t n = 0;
  /* the defaults this command takes, unless the task sets them */
  size_t d = 0;
  for (const cJSON *v = defaults ? defaults->child : NULL; v; v = v->next, d++) {
    const hs_setting *s = hs_cli_find_option(cmd->name, v->string);
    if (!s || cJSON_GetObjectItemCaseSensitive(task, v->string)) continue;
    default_used[d] = 1;
    if (n == MAX_OPTIONS) return hs_set_error(ctx, HS_E_INVALID, "%s: %s: too many options", r->path, label);
    opt[n++] = (job_option){s, v->string, v, 1};
  }
  for (const cJSON *v = task->child; v; v = v->next) {
    if (strcmp(v->string, "command") == 0) continue;
    const hs_setting *s = hs_cli_find_option(cmd->name, v->string);
    if (!s)
      return hs_set_error(ctx, HS_E_INVALID, "%s: %s: '%s' is not an option of %s (see `hesspec help %s`)", r->path, label,
                     v->string, cmd->name, cmd->name);
    if (n == MAX_OPTIONS) return hs_set_error(ctx, HS_E_INVALID, "%s: %s: too many options", r->path, label);
    opt[n++] = (job_option){s, v->string, v, 0};
  }
  /* types and ranges, through the same tables the command line uses */
  const cJSON *weights = NULL;
  int wants_stem = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(opt[i].name, "weights") == 0 &&
        (cJSON_IsArray(opt[i].v) || (cJSON_IsString(opt[i].v) && strpbrk(opt[i].v->valuestring, "*?[")))) {
      weights = opt[i].v; /* expanded below */
      continue;
    }
    char what[192];
    snprintf(what, sizeof what, "'%s'", opt[i].name);
    char *json = cJSON_PrintUnformatted(opt[i].v);
    hs_status st = json ? hs_setting_check_json(ctx, opt[i].s, what, json) : hs_set_error(ctx, HS_E_NOMEM, "%s: out of memory", r->path);
    free(json);
    if (st == HS_E_NOMEM) return st;
    if (st != HS_OK) {
      char msg[1024]; /* copied: hs_set_error formats into the context's own buffer */
      snprintf(msg, sizeof msg, "%s", hs_last_error(ctx));
      if (opt[i].from_defaults)
        return hs_set_error(ctx, HS_E_INVALID, "%s: defaults (as used by %s, %s): %s", r->path, label, cmd->name, msg);
      return hs_set_error(ctx, HS_E_INVALID, "%s: %s: %s", r->path, label, msg);
    }
    if (strcmp(opt[i].name, "weights") == 0) weights = opt[i].v;
    wants_stem |= mentions_stem(opt[i].v);
  }
  if (wants_stem && !weights)
    return hs_set_error(ctx, HS_E_INVALID, "%s: %s: '{stem}' needs 'weights' (it is the weights file's name)", r->path, label);
  if (!weights) return build_task(r, index, cmd, opt, n, NULL, NULL);
  char **files = NULL;
  size_t nf = 0;
  hs_status st = expand_weights(r, label, weights, &files, &nf);
  for (size_t j = 0; st == HS_OK && j < nf; j++) {
    char stem[256];
    stem_of(files[j], stem, sizeof stem);
    st = build_task(r, index, cmd, opt, n, files[j], stem);
  }
  for (size_t j = 0; j < nf; j++) free(files[j]);
  free(files);
  return st;
}

/* No two tasks may write the same file: they would claim and overwrite each other. */
static hs_status check_distinct_outputs(job_reader *r) {
  hs_job *job = r->job;
  for (size_t i = 0; i < job->n_tasks; i++)
    for (size_t j = i + 1; j < job->n_tasks; j++)
      if (strcmp(job->tasks[i].out, job->tasks[j].out) == 0)
        return hs_set_error(r->ctx, HS_E_INVALID,
                       "%s: %s and %s both write 'out' '%s' (with a list of weights, put {stem} in 'out')", r->path,
                       job->tasks[i].label, job->tasks[j].label, job->tasks[i].out_arg);
  return HS_OK;
}

hs_status hs_job_load(hs_context *ctx, const char *path, hs_job *job) {
  memset(job, 0, sizeof *job);
  char *text = NULL;
  size_t len = 0;
  cJSON *root = NULL;
  int *default_used = NULL;
  hs_status st = hs_read_file_max(ctx, path, (size_t)64 << 20, &text, &len);
  if (st != HS_OK) return st;
  job_reader r = {ctx, path, NULL, job, 0};
  if (!(job->path = strdup(path))) goto oom;
  root = cJSON_ParseWithLength(text, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    st = hs_set_error(ctx, HS_E_INVALID, "%s: malformed JSON near byte %zu", path,
                 at && at >= text && at <= text + len ? (size_t)(at - text) : (size_t)0);
    goto fail;
  }
  if (!cJSON_IsObject(root)) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: a job file is a JSON object {\"format\": \"%s\", \"defaults\": ..., \"tasks\": [...]}",
                 path, HS_JOB_FORMAT);
    goto fail;
  }
  const char *dup = duplicate_key(root);
  if (dup) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: '%s' is given twice", path, dup);
    goto fail;
  }
  for (const cJSON *k = root->child; k; k = k->next)
    if (strcmp(k->string, "format") != 0 && strcmp(k->string, "defaults") != 0 && strcmp(k->string, "tasks") != 0) {
      st = hs_set_error(ctx, HS_E_INVALID, "%s: unknown key '%s' (a job file has format, defaults and tasks)", path, k->string);
      goto fail;
    }
  const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsString(format) || strcmp(format->valuestring, HS_JOB_FORMAT) != 0) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: 'format' must be \"%s\"", path, HS_JOB_FORMAT);
    goto fail;
  }
  const cJSON *defaults = cJSON_GetObjectItemCaseSensitive(root, "defaults");
  if (defaults && !cJSON_IsObject(defaults)) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: 'defaults' must be an object of options", path);
    goto fail;
  }
  if (defaults && (dup = duplicate_key(defaults))) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: defaults: '%s' is given twice", path, dup);
    goto fail;
  }
  if (defaults && cJSON_GetObjectItemCaseSensitive(defaults, "command")) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: defaults: 'command' belongs in each task", path);
    goto fail;
  }
  const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
  if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) == 0) {
    st = hs_set_error(ctx, HS_E_INVALID, "%s: 'tasks' must be a non-empty array", path);
    goto fail;
  }
  /* the folder of the job file, absolute: tasks run there, whatever the caller's folder */
  {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == buf) buf[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(buf, sizeof buf, ".");
    char *abs = realpath(buf, NULL);
    if (!abs) {
      st = hs_set_error(ctx, HS_E_IO, "%s: cannot resolve the job file's folder (%s)", path, strerror(errno));
      goto fail;
    }
    job->dir = abs;
    r.dir = abs;
  }
  size_t nd = defaults ? (size_t)cJSON_GetArraySize(defaults) : 0;
  if (!(default_used = calloc(nd + 1, sizeof *default_used))) goto oom;
  size_t i = 0;
  for (const cJSON *t = tasks->child; t; t = t->next, i++)
    if ((st = read_task(&r, i, t, defaults, default_used)) != HS_OK) goto fail;
  size_t d = 0;
  for (const cJSON *v = defaults ? defaults->child : NULL; v; v = v->next, d++)
    if (!default_used[d]) {
      /* used by no task: misspelt or an option none of these commands has (an error), or
       * overridden by every task that takes it (fine) */
      int taken = 0;
      for (const cJSON *t = tasks->child; t && !taken; t = t->next) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "command");
        taken = cJSON_IsString(c) && hs_cli_find_option(c->valuestring, v->string);
      }
      if (!taken) {
        st = hs_set_error(ctx, HS_E_INVALID, "%s: defaults: '%s' is not an option of any task's command", path, v->string);
        goto fail;
      }
    }
  if ((st = check_distinct_outputs(&r)) != HS_OK) goto fail;
  free(default_used);
  cJSON_Delete(root);
  free(text);
  return HS_OK;
oom:
  st = hs_set_error(ctx, HS_E_NOMEM, "%s: out of memory", path);
fail:
  free(default_used);
  cJSON_Delete(root);
  free(text);
  hs_job_free(job);
  return st;
}

void hs_job_argv_free(char **argv) {
  if (!argv) return;
  for (size_t i = 0; argv[i]; i++) free(argv[i]);
  free(argv);
}

char **hs_job_resume_argv(const hs_job_task *t) {
  const hs_cli_command *c = t->command;
  char **rest = c->job_resume_argv ? c->job_resume_argv((int)t->argc - 1, t->argv + 1, t->out, t->out_arg) : NULL;
  if (!rest) return NULL;
  size_t n = 0;
  while (rest[n]) n++;
  char **argv = calloc(n + 2, sizeof *argv); /* the program name in front, as in t->argv */
  if (!argv || !(argv[0] = strdup(t->argv[0]))) {
    free(argv);
    hs_job_argv_free(rest);
    return NULL;
  }
  memcpy(argv + 1, rest, n * sizeof *rest);
  free(rest);
  return argv;
}
