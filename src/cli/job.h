/* Job files ("format": "hesspec.job/1", DESIGN.md "Clusters: MPI and job files"): read,
 * checked against the commands' option tables, and expanded into tasks, each a complete
 * command line. Running them is cmd_run.c's job; claiming them, job_claim.c's.
 *
 *   {"format": "hesspec.job/1",
 *    "defaults": {"model": "m.json", "dataset": "fashion-mnist", "samples": 1024},
 *    "tasks": [{"command": "spectrum", "weights": ["ckpt/epoch-*.safetensors"],
 *               "steps": 80, "out": "spectra/{stem}.json"}]}
 *
 * Rules (docs/jobs.md):
 *  - every key of a task but "command" is a long option of that command, without the dashes;
 *    values have the option's type (numbers, strings, true for flags, arrays for lists);
 *  - "defaults" apply to every task whose command takes the option (the task's own value wins);
 *    a default no task's command takes is an error, as a misspelt one would be;
 *  - "weights" may be a list of paths and globs (or one glob): one task per file, in the
 *    order given, each glob's matches sorted; "{stem}" in any string value is that file's name
 *    without its extension;
 *  - paths are relative to the job file's folder, which is the tasks' working directory;
 *  - every task has an "out"; a task is done when all its outputs exist (they are written
 *    atomically): out, plot, vectors-out, weights-out; for a command with a job_done_file
 *    hook (train), the file it names instead, the last one it writes;
 *  - input files (model, weights, inputs, targets, matrix, ...) must exist when the job is read.
 * Any violation is HS_E_INVALID naming the job file, the task index and the key. */
#ifndef HS_CLI_JOB_H
#define HS_CLI_JOB_H

#include <stddef.h>

#include "cli/commands.h"
#include "hesspec.h"

#define HS_JOB_FORMAT "hesspec.job/1"

typedef struct {
  size_t source;                 /* its entry in the file's "tasks" (before expansion) */
  const hs_cli_command *command;
  char **argv;                   /* "hesspec", command, options...; NULL-terminated (owned) */
  size_t argc;
  const char *out_arg;           /* the value of --out in argv, as the task sees it */
  char *out;                     /* out resolved against the job's folder: claims and logs sit beside it */
  char **done;                   /* the files that must all exist for the task to be done (resolved) */
  size_t n_done;
  char *label;                   /* "tasks[2]" or "tasks[2] (weights 'ckpt/e5.safetensors')" */
} hs_job_task;

typedef struct {
  char *path;        /* the job file as given */
  char *dir;         /* its folder, absolute: the tasks' working directory */
  hs_job_task *tasks; /* after expansion, in file order */
  size_t n_tasks;
} hs_job;

/* Reads, checks and expands the job file. On failure *job is empty and the context names
 * the file, task and key (HS_E_INVALID; HS_E_IO when the file cannot be read; HS_E_NOMEM). */
hs_status hs_job_load(hs_context *ctx, const char *path, hs_job *job);
/* Frees what hs_job_load made; safe on an empty or zeroed job. */
void hs_job_free(hs_job *job);

/* Are all of the task's outputs present? */
int hs_job_task_done(const hs_job_task *t);

/* The command line that continues a task a killed worker left half done (the command's
 * job_resume_argv: train from OUT/last.safetensors), NULL-terminated, program name first;
 * free with hs_job_argv_free. NULL when it does not apply, or memory ran out: then the task
 * starts from the beginning, which is also correct. */
char **hs_job_resume_argv(const hs_job_task *t);
void hs_job_argv_free(char **argv);

/* out with ".log" appended (a trailing '/' dropped first): the task's log. Caller frees; NULL when out of memory. */
char *hs_job_sidecar(const char *out, const char *suffix);

#endif
