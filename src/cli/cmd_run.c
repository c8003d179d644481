/* hesspec run JOB.json: the tasks of a job file not yet done, each as a child process in the
 * job's folder with its stderr and stdout in OUT.log, under a claim (job_claim.h) so that any
 * number of workers (a SLURM array, several shells, a rerun after a kill) share one job. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/job.h"
#include "cli/job_claim.h"
#include "cli/mpi.h"
#include "cli/options.h"

#define TOUCH_EVERY 5.0 /* seconds between heartbeats of a held claim */
#define TRAILER "hesspec run: "

typedef struct {
  size_t task;
  int list, force, quiet;
  double claim_timeout;
} run_args;

static const hs_setting run_options[] = {
    {.name = "task", .type = HS_SET_UINT, HS_SET_FIELD(run_args, task), .metavar = "I",
     .help = "run only task I (0-based, after the expansion of weights lists)"},
    {.name = "list", .type = HS_SET_FLAG, HS_SET_FIELD(run_args, list),
     .help = "list the tasks and their state (done, running, failed, interrupted, pending)"},
    {.name = "force", .type = HS_SET_FLAG, HS_SET_FIELD(run_args, force), .help = "run tasks that are done again"},
    {.name = "quiet", .type = HS_SET_FLAG, HS_SET_FIELD(run_args, quiet), .help = "print only failures and the summary"},
    {.name = "claim-timeout", .type = HS_SET_DOUBLE, HS_SET_FIELD(run_args, claim_timeout), .bounds = HS_SET_MIN | HS_SET_MIN_OPEN,
     .min = 0, .metavar = "S",
     .help = "a claim from another host not touched for S seconds is stale (default 600)"},
    {0}};

static const hs_setting *const tables[] = {run_options, NULL};

typedef struct {
  size_t done_now, done_before, failed, busy;
  int signal; /* a SIGINT/SIGTERM ended the run */
} run_tally;

/* A task's log: its last line that is not the worker's trailer (the task's own last word),
 * and whether the worker wrote its trailer after that (the task ended, rather than its
 * worker being killed). */
static void read_log(const char *path, char *last, size_t len, int *has_trailer) {
  last[0] = '\0';
  *has_trailer = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (!line[0]) continue;
    *has_trailer = strncmp(line, TRAILER, strlen(TRAILER)) == 0;
    if (!*has_trailer) snprintf(last, len, "%s", line);
  }
  fclose(f);
}

static void print_argv(FILE *f, char *const *argv) {
  for (size_t i = 0; argv[i]; i++) fprintf(f, "%s%s", i ? " " : "", argv[i]);
}

/* The child: the task's command in the job's folder, output to the log; it dies with the worker. */
static void exec_task(const hs_job *job, char *const *argv, int log_fd, pid_t parent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
  if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0) _exit(127);
  if (chdir(job->dir) != 0) {
    fprintf(stderr, "hesspec run: %s: cannot enter the job's folder (%s)\n", job->dir, strerror(errno));
    _exit(127);
  }
  /* a task is one process: a worker started by mpirun/srun must not make it a rank */
  hs_cli_mpi_forget_launcher();
  execv("/proc/self/exe", argv);
  fprintf(stderr, "hesspec run: cannot start /proc/self/exe (%s)\n", strerror(errno));
  _exit(127);
}

/* Waits for the child, touching the claim and passing a SIGINT/SIGTERM on. Returns the
 * wait status. */
static int wait_task(pid_t pid, const hs_job_claim *claim, run_tally *tally) {
  double last_touch = hs_cli_now();
  int forwarded = 0, status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) return status;
    if (w < 0 && errno != EINTR) return -1;
    int sig = hs_cli_caught_signal();
    if (sig && !forwarded) {
      kill(pid, sig); /* the task cleans up its temporaries and exits 128 + sig */
      forwarded = 1;
      tally->signal = sig;
    }
    if (hs_cli_now() - last_touch >= TOUCH_EVERY) {
      hs_job_claim_touch(claim);
      last_touch = hs_cli_now();
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Runs one task (claim, log, child, verdict) and prints one line about it. */
/* ctx: for messages only (a CPU context with one thread; the tasks are child processes). */
static void run_task(hs_context *ctx, const hs_job *job, size_t i, const run_args *a, run_tally *tally) {
  const hs_job_task *t = &job->tasks[i];
  char head[256];
  snprintf(head, sizeof head, "task %zu of %zu (%s)", i, job->n_tasks, t->command->name);
  if (!a->force && hs_job_task_done(t)) {
    if (!a->quiet) printf("%s: already done: %s\n", head, t->out_arg);
    tally->done_before++;
    return;
  }
  char parent[4096]; /* t->out is absolute (job.c), so it has a '/' */
  snprintf(parent, sizeof parent, "%s", t->out);
  size_t n = strlen(parent);
  while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
  *strrchr(parent, '/') = '\0';
  if (parent[0] && hs_mkdir_p(ctx, parent, "output folder") != HS_OK) {
    printf("%s: FAILED: %s\n", head, hs_last_error(ctx));
    tally->failed++;
    return;
  }
  hs_job_claim claim;
  hs_job_claim_info holder;
  char why[1024];
  int c = hs_job_claim_take(&claim, t->out, a->claim_timeout, &holder, why, sizeof why);
  if (c == HS_CLAIM_BUSY) {
    if (!a->quiet) printf("%s: running elsewhere (pid %ld on %s): %s\n", head, holder.pid, holder.host[0] ? holder.host : "?", t->out_arg);
    tally->busy++;
    return;
  }
  if (c == HS_CLAIM_FAILED) {
    printf("%s: FAILED: %s\n", head, why);
    tally->failed++;
    return;
  }
  if (!a->force && hs_job_task_done(t)) { /* finished by another worker while we looked */
    hs_job_claim_release(&claim);
    if (!a->quiet) printf("%s: already done: %s\n", head, t->out_arg);
    tally->done_before++;
    return;
  }
  char *log = hs_job_sidecar(t->out, ".log");
  int fd = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
  if (fd < 0) {
    printf("%s: FAILED: %s: cannot write the log (%s)\n", head, log ? log : "log", log ? strerror(errno) : "out of memory");
    tally->failed++;
    hs_job_claim_release(&claim);
    free(log);
    return;
  }
  /* a train task a killed worker left half done continues from its last epoch */
  char **resume = a->force ? NULL : hs_job_resume_argv(t);
  char *const *argv = resume ? resume : t->argv;
  FILE *lf = fdopen(dup(fd), "w");
  if (lf) {
    fprintf(lf, "# %s in %s%s: ", t->label, job->dir, resume ? " (resuming its last.safetensors)" : "");
    print_argv(lf, argv);
    fprintf(lf, "\n");
    fclose(lf);
  }
  fflush(stdout);
  double t0 = hs_cli_now();
  pid_t self = getpid(), pid = fork();
  if (pid == 0) exec_task(job, argv, fd, self);
  close(fd);
  int resumed = resume != NULL;
  hs_job_argv_free(resume);
  int status = pid > 0 ? wait_task(pid, &claim, tally) : -1;
  double secs = hs_cli_now() - t0;
  int code = pid < 0 || status < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char last[1024];
  int has_trailer;
  read_log(log, last, sizeof last, &has_trailer);
  FILE *tf = fopen(log, "a");
  if (tf) {
    fprintf(tf, "%sexit status %d after %.2f s\n", TRAILER, code, secs);
    fclose(tf);
  }
  const char *missing = NULL;
  for (size_t k = 0; k < t->n_done && !missing; k++)
    if (access(t->done[k], F_OK) != 0) missing = t->done[k];
  hs_job_claim_release(&claim);
  if (code == 0 && !missing) {
    if (!a->quiet) printf("%s: done in %.2f s%s: %s\n", head, secs, resumed ? " (resumed)" : "", t->out_arg);
    tally->done_now++;
  } else if (code == 0) {
    printf("%s: FAILED: exited 0 but %s is missing; log %s\n", head, missing, log);
    tally->failed++;
  } else if (tally->signal) {
    printf("%s: cancelled (exit %d); log %s\n", head, code, log);
  } else {
    printf("%s: FAILED (exit %d%s): %s; log %s\n", head, code, pid < 0 ? ", could not start" : "", last[0] ? last : "no message",
           log);
    tally->failed++;
  }
  fflush(stdout);
  free(log);
}

/* --list: every task with its state. */
static void list_tasks(const hs_job *job, const run_args *a) {
  printf("%4s  %-10s %-12s %s\n", "task", "command", "state", "out");
  for (size_t i = 0; i < job->n_tasks; i++) {
    const hs_job_task *t = &job->tasks[i];
    char state[64] = "pending";
    hs_job_claim_info holder;
    hs_job_claim_inspect(t->out, a->claim_timeout, &holder);
    if (hs_job_task_done(t)) {
      snprintf(state, sizeof state, "done");
    } else if (holder.live) {
      snprintf(state, sizeof state, "running");
    } else {
      char *log = hs_job_sidecar(t->out, ".log");
      char last[1024];
      int has_trailer = 0;
      if (log && access(log, F_OK) == 0) {
        read_log(log, last, sizeof last, &has_trailer);
        snprintf(state, sizeof state, has_trailer ? "failed" : "interrupted");
      }
      free(log);
    }
    printf("%4zu  %-10s %-12s %s\n", i, t->command->name, state, t->out_arg);
  }
}

/* The SLURM array's share: tasks i with i mod COUNT == ID - MIN. 0: not in an array; 1: set;
 * -1: inconsistent variables (printed). */
static int slurm_share(size_t *count, size_t *offset) {
  const char *id = getenv("SLURM_ARRAY_TASK_ID");
  if (!id || !*id) return 0;
  const char *cnt = getenv("SLURM_ARRAY_TASK_COUNT"), *min = getenv("SLURM_ARRAY_TASK_MIN");
  char *e1 = NULL, *e2 = NULL, *e3 = NULL;
  long long vid = strtoll(id, &e1, 10), vc = cnt ? strtoll(cnt, &e2, 10) : 0, vm = min ? strtoll(min, &e3, 10) : 0;
  if (*e1 || !cnt || *e2 || !min || *e3 || vc <= 0 || vid < vm || vid - vm >= vc) {
    hs_cli_usage("run", "SLURM_ARRAY_TASK_ID=%s with SLURM_ARRAY_TASK_COUNT=%s and SLURM_ARRAY_TASK_MIN=%s: expected "
                        "MIN <= ID < MIN + COUNT (a contiguous array such as --array=0-9)",
                 id, cnt ? cnt : "(unset)", min ? min : "(unset)");
    return -1;
  }
  *count = (size_t)vc;
  *offset = (size_t)(vid - vm);
  return 1;
}

static int run(int argc, char **argv) {
  const char *cmd = "run";
  run_args a = {.claim_timeout = 600};
  hs_cli_binding b[] = {{run_options, &a}};
  hs_cli_parsed given;
  if (hs_cli_parse(cmd, b, 1, argc, argv, 1, &given)) return HS_EXIT_USAGE;
  if (given.n_positional != 1) return hs_cli_usage(cmd, "give the job file: hesspec run JOB.json");
  /* for the messages of the job reader and the folders; the tasks make their own */
  hs_context *ctx = NULL;
  hs_job job = {0};
  hs_status st = hs_cli_plain_context(&ctx);
  if (st == HS_OK) st = hs_job_load(ctx, given.positional[0], &job);
  if (st != HS_OK) {
    int code = hs_cli_fail(cmd, ctx, st);
    hs_context_destroy(ctx);
    return code;
  }
  int code = HS_EXIT_OK;
  int one = hs_cli_given(&given, "task");
  if (one && a.task >= job.n_tasks) {
    code = hs_cli_usage(cmd, "--task %zu: the job has %zu tasks (0 to %zu; see --list)", a.task, job.n_tasks, job.n_tasks - 1);
    goto done;
  }
  if (a.list) {
    list_tasks(&job, &a);
    goto done;
  }
  size_t count = 1, offset = 0;
  int share = one ? 0 : slurm_share(&count, &offset);
  if (share < 0) {
    code = HS_EXIT_USAGE;
    goto done;
  }
  if (share && !a.quiet) printf("run: SLURM array worker %zu of %zu: tasks i with i mod %zu = %zu\n", offset, count, count, offset);
  run_tally tally = {0};
  size_t selected = 0;
  for (size_t i = 0; i < job.n_tasks && !tally.signal; i++) {
    if (one ? i != a.task : i % count != offset) continue;
    selected++;
    run_task(ctx, &job, i, &a, &tally);
  }
  if (tally.signal) {
    printf("run: cancelled by signal %d; a rerun continues with what is not done\n", tally.signal);
    code = 128 + tally.signal;
    goto done;
  }
  printf("run: %zu task%s: %zu done (%zu now, %zu before), %zu failed, %zu running elsewhere\n", selected,
         selected == 1 ? "" : "s", tally.done_now + tally.done_before, tally.done_now, tally.done_before, tally.failed,
         tally.busy);
  code = tally.failed ? HS_EXIT_FAIL : HS_EXIT_OK;
done:
  hs_job_free(&job);
  hs_context_destroy(ctx);
  return code;
}

const hs_cli_command hs_cmd_run = {
    .name = "run",
    .run = run,
    .summary = "run the tasks of a job file (checkpoints, SLURM arrays, resume after a kill)",
    .usage = "usage: hesspec run JOB.json [--task I] [--list] [--force] [--claim-timeout S]\n\n"
    "Runs every task of the job file (\"hesspec.job/1\": defaults and tasks, each a command and\n"
    "its options; a list or glob of weights gives one task per file, {stem} in out its name)\n"
    "that is not done yet, one child process each, in the job file's folder, with its output\n"
    "in OUT.log. A task is done when its output exists (outputs are written atomically), so a\n"
    "rerun after a kill does only what is missing. Workers started side by side claim tasks\n"
    "(OUT.claim) and never run one twice. In a SLURM array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN)\n"
    "a worker takes tasks i with i mod COUNT = ID - MIN. A failing task does not stop the\n"
    "others. Exit status 0 when no task failed, 1 when one did, 2 for a bad job file (the\n"
    "message names the task and the key). docs/jobs.md.\n",
    .options = tables,
    .outside_mpi = 1};
