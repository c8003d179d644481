/* Job files and `hesspec run` (docs/jobs.md): expansion of weights lists and globs with
 * {stem}; outputs equal to the commands run by hand; SLURM array partitioning with simulated
 * variables (3 workers cover every task exactly once); a worker killed with SIGKILL mid-task,
 * then a rerun that completes the job with outputs equal to an uninterrupted run; two
 * concurrent workers that never run a task twice; stale and live claims; a failing task that
 * does not stop the others; bad job files exiting 2 naming the task index and the key. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/job.h"
#include "cli/job_claim.h"
#include "core/context.h"
#include "support/cli_fixture.h"

/* a small MLP and three checkpoints of it (epochs 1-3), the data from a seeded generator */
#define DATA "\"model\": \"m.json\", \"dataset\": \"mixture\", \"samples\": 120, \"seed\": 3, \"device\": \"cpu\", \"threads\": 1"

static void setup(void) {
  hs_cli_fixture_setup("job");
  hs_cli_write_text("m.json", "{\"input_dim\": 6, \"hidden\": [16, 16], \"output_dim\": 3, \"activation\": \"tanh\", "
                              "\"loss\": \"cross_entropy\"}");
  cr_assert_eq(hs_cli_run(NULL, "train --model m.json --dataset mixture --samples 120 --seed 3 --epochs 3 "
                                "--save-epochs 1,2 --out ck --device cpu --threads 1", NULL),
               0, "%s", hs_cli_err);
}

static void teardown(void) { hs_cli_fixture_teardown(); }

TestSuite(job, .init = setup, .fini = teardown, .timeout = 300);

/* `hesspec run ARGS` in the fixture folder with ENV, stdout to OUT (a file name); exit status. */
static int run_worker(const char *env, const char *args, const char *out) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' run %s > '%s' 2> '%s.err'", hs_cli_dir, env ? env : "", hs_cli_bin(), args,
           out, out);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* How many lines of the file contain both a and b. */
static int count_lines(const char *name, const char *a, const char *b) {
  char *t = hs_cli_read_text(name);
  int n = 0;
  for (char *save = NULL, *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    n += strstr(line, a) && (!b || strstr(line, b));
  free(t);
  return n;
}


/* The JSON files a and b are equal apart from the clock fields. */
static void expect_same_result(const char *a, const char *b) {
  cJSON *ja = hs_cli_read_json(a), *jb = hs_cli_read_json(b);
  static const char *const clock_fields[] = {"elapsed_seconds", "created", "timing"};
  for (int i = 0; i < 3; i++) {
    cJSON_DeleteItemFromObject(ja, clock_fields[i]);
    cJSON_DeleteItemFromObject(jb, clock_fields[i]);
  }
  char *ta = cJSON_PrintUnformatted(ja), *tb = cJSON_PrintUnformatted(jb);
  cr_expect_str_eq(ta, tb, "%s and %s differ beyond their clock fields", a, b);
  free(ta);
  free(tb);
  cJSON_Delete(ja);
  cJSON_Delete(jb);
}

Test(job, expansion_order_stem_and_done_files) {
  hs_cli_write_text("j.json", "{\"format\": \"hesspec.job/1\", \"defaults\": {" DATA ", \"steps\": 12},\n"
                              " \"tasks\": [\n"
                              "  {\"command\": \"spectrum\", \"weights\": \"ck/epoch-*.safetensors\", \"probes\": 2,\n"
                              "   \"out\": \"sp/{stem}.json\", \"plot\": \"sp/{stem}.svg\"},\n"
                              "  {\"command\": \"eig\", \"weights\": [\"ck/epoch-0003.safetensors\", \"ck/epoch-0001.safetensors\"],\n"
                              "   \"top\": 2, \"out\": \"eig-{stem}.json\"},\n"
                              "  {\"command\": \"train\", \"epochs\": 2, \"out\": \"t2\"}]}\n");
  hs_context ctx;
  memset(&ctx, 0, sizeof ctx);
  hs_job job;
  cr_assert_eq(hs_job_load(&ctx, hs_cli_path("j.json"), &job), HS_OK, "%s", ctx.errmsg);
  /* the glob: 3 checkpoints in sorted order (their .optim.safetensors skipped); the list in its own order */
  cr_assert_eq(job.n_tasks, 6);
  const char *outs[] = {"sp/epoch-0001.json", "sp/epoch-0002.json", "sp/epoch-0003.json", "eig-epoch-0003.json",
                        "eig-epoch-0001.json", "t2"};
  size_t sources[] = {0, 0, 0, 1, 1, 2};
  for (size_t i = 0; i < 6; i++) {
    cr_expect_str_eq(job.tasks[i].out_arg, outs[i]);
    cr_expect_eq(job.tasks[i].source, sources[i]);
    cr_expect_eq(job.tasks[i].argv[job.tasks[i].argc], NULL, "argv is NULL-terminated");
  }
  /* defaults first, then the task's options; the weights file in place of the list */
  const hs_job_task *t = &job.tasks[1];
  char line[2048] = "";
  for (size_t i = 0; i < t->argc; i++) snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", i ? " " : "", t->argv[i]);
  cr_expect_str_eq(line, "hesspec spectrum --model m.json --dataset mixture --samples 120 --seed 3 --device cpu --threads 1 "
                         "--steps 12 --weights ck/epoch-0002.safetensors --probes 2 --out sp/epoch-0002.json --plot sp/epoch-0002.svg");
  /* done = every output present: the density and its plot; train: its last file */
  cr_expect_eq(t->n_done, 2);
  cr_expect(strstr(t->done[1], "/sp/epoch-0002.svg"));
  cr_expect_eq(job.tasks[5].n_done, 1);
  cr_expect(strstr(job.tasks[5].done[0], "/t2/epoch-0002.optim.safetensors"), "%s", job.tasks[5].done[0]);
  hs_job_free(&job);

  /* run from another folder: paths are relative to the job file */
  char args[1024];
  snprintf(args, sizeof args, "'%s'", hs_cli_path("j.json"));
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd / && '%s' run %s > '%s' 2>&1", hs_cli_bin(), args, hs_cli_path("w.txt"));
  cr_assert_eq(system(cmd), 0, "%s", hs_cli_read_text("w.txt"));
  cr_expect_eq(count_lines("w.txt", "done in", NULL), 6);
  cr_expect(hs_cli_exists("sp/epoch-0003.svg") && hs_cli_exists("t2/epoch-0002.optim.safetensors"));
  cr_expect(hs_cli_exists("sp/epoch-0001.json.log"), "each task's log beside its output");
  /* each output equals the command run by hand */
  cr_assert_eq(hs_cli_run(NULL, "spectrum --model m.json --dataset mixture --samples 120 --seed 3 --device cpu --threads 1 "
                                "--steps 12 --weights ck/epoch-0002.safetensors --probes 2 --out by-hand.json", NULL),
               0, "%s", hs_cli_err);
  expect_same_result("sp/epoch-0002.json", "by-hand.json");
  cr_assert_eq(hs_cli_run(NULL, "eig --model m.json --dataset mixture --samples 120 --seed 3 --device cpu --threads 1 "
                                "--weights ck/epoch-0003.safetensors --top 2 --out eig-by-hand.json", NULL),
               0, "%s", hs_cli_err);
  expect_same_result("eig-epoch-0003.json", "eig-by-hand.json");
  /* a second run has nothing to do; --force reruns; --list says done */
  cr_expect_eq(run_worker(NULL, "j.json", "w2.txt"), 0);
  cr_expect_eq(count_lines("w2.txt", "already done", NULL), 6);
  cr_expect_eq(run_worker(NULL, "j.json --task 3 --force", "w3.txt"), 0);
  cr_expect_eq(count_lines("w3.txt", "task 3 of 6", "done in"), 1);
  cr_expect_eq(run_worker(NULL, "j.json --list", "l.txt"), 0);
  cr_expect_eq(count_lines("l.txt", "done", NULL), 6);
}

/* Seven cheap tasks: the gradient at each of 7 points (3 checkpoints, then 4 seeded inits). */
static void write_seven(void) {
  hs_cli_write_text("seven.json",
                    "{\"format\": \"hesspec.job/1\", \"defaults\": {" DATA "},\n"
                    " \"tasks\": [{\"command\": \"loss\", \"weights\": \"ck/epoch-000?.safetensors\", \"out\": \"g/{stem}.npy\"},\n"
                    "  {\"command\": \"loss\", \"seed\": 11, \"out\": \"g/s11.npy\"}, {\"command\": \"loss\", \"seed\": 12, \"out\": \"g/s12.npy\"},\n"
                    "  {\"command\": \"loss\", \"seed\": 13, \"out\": \"g/s13.npy\"}, {\"command\": \"loss\", \"seed\": 14, \"out\": \"g/s14.npy\"}]}\n");
}

Test(job, slurm_array_workers_cover_every_task_once) {
  write_seven();
  const char *outs[3] = {"a10.txt", "a11.txt", "a12.txt"};
  for (int w = 0; w < 3; w++) {
    char env[256];
    snprintf(env, sizeof env, "SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=10", 10 + w);
    cr_assert_eq(run_worker(env, "seven.json", outs[w]), 0, "%s", hs_cli_read_text(outs[w]));
  }
  for (int i = 0; i < 7; i++) {
    char tag[32];
    snprintf(tag, sizeof tag, "task %d of 7 ", i);
    int runs = 0;
    for (int w = 0; w < 3; w++) {
      int n = count_lines(outs[w], tag, "done in");
      cr_expect_eq(n, w == i % 3 ? 1 : 0, "task %d ran %d times on worker %d (i mod 3 = %d)", i, n, w, i % 3);
      runs += n;
    }
    cr_expect_eq(runs, 1, "task %d ran %d times in all", i, runs);
  }
  cr_expect(hs_cli_exists("g/epoch-0002.npy") && hs_cli_exists("g/s14.npy"));
  /* inconsistent variables: exit 2 with the reason */
  cr_expect_eq(run_worker("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0", "seven.json", "bad.txt"), 2);
  cr_expect_eq(count_lines("bad.txt.err", "SLURM_ARRAY_TASK_ID=3", NULL), 1);
  cr_expect_eq(run_worker("SLURM_ARRAY_TASK_ID=1", "seven.json", "bad2.txt"), 2, "COUNT and MIN are needed");
  /* --task wins over the array's share */
  cr_expect_eq(run_worker("SLURM_ARRAY_TASK_ID=10 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=10", "seven.json --task 2 --force",
                          "one.txt"), 0);
  cr_expect_eq(count_lines("one.txt", "task 2 of 7", "done in"), 1);
  cr_expect_eq(count_lines("one.txt", "done in", NULL), 1);
}

/* Tasks slow enough (about a second each on one thread) to be killed in the middle. */
static void write_slow(const char *name) {
  char text[2048];
  snprintf(text, sizeof text,
           "{\"format\": \"hesspec.job/1\", \"defaults\": {\"model\": \"m.json\", \"dataset\": \"mixture\", \"samples\": 4000,"
           " \"seed\": 3, \"device\": \"cpu\", \"threads\": 1, \"steps\": 40, \"probes\": 6},\n"
           " \"tasks\": [{\"command\": \"spectrum\", \"weights\": \"ck/epoch-*.safetensors\", \"out\": \"sp/{stem}.json\"}]}\n");
  hs_cli_write_text(name, text);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* `hesspec run JOB` in the background, its output in OUT; its pid. */
static pid_t start_worker(const char *job, const char *out) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && { '%s' run %s > %s 2>&1 & echo $! > worker.pid; }", hs_cli_dir, hs_cli_bin(), job, out);
  cr_assert_eq(system(cmd), 0);
  char *pidtext = hs_cli_read_text("worker.pid");
  pid_t pid = (pid_t)atol(pidtext);
  free(pidtext);
  cr_assert(pid > 0);
  return pid;
}

/* Waits (up to a minute) until the file exists. */
static void wait_for(const char *name) {
  for (int waited = 0; !hs_cli_exists(name) && waited < 60000; waited += 2) sleep_ms(2);
  cr_assert(hs_cli_exists(name), "%s never appeared", name);
}

/* Sends sig (it may have exited already: then nothing) and waits until the shell reaps it. */
static void stop_worker(pid_t pid, int sig) {
  kill(pid, sig);
  for (int waited = 0; kill(pid, 0) == 0 && waited < 60000; waited += 5) sleep_ms(5);
}

Test(job, killed_worker_then_rerun_completes_as_uninterrupted) {
  write_slow("slow.json");
  /* reference: an uninterrupted run of the same job in a sibling folder */
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && mkdir ref && cp -r m.json ck slow.json ref/ && '%s' run ref/slow.json > ref.txt 2>&1",
           hs_cli_dir, hs_cli_bin());
  cr_assert_eq(system(cmd), 0, "%s", hs_cli_read_text("ref.txt"));
  /* the worker in the background; killed once the second task holds its claim */
  pid_t pid = start_worker("slow.json", "kill.txt");
  wait_for("sp/epoch-0002.json.claim");
  sleep_ms(150); /* into the second task's work */
  stop_worker(pid, SIGKILL);
  sleep_ms(300); /* the task, killed with its worker (PR_SET_PDEATHSIG), writes nothing more */
  cr_expect(hs_cli_exists("sp/epoch-0001.json"), "the first task finished before the kill");
  cr_expect(!hs_cli_exists("sp/epoch-0002.json"), "no output from the killed task");
  cr_expect(!hs_cli_exists("sp/epoch-0003.json"));
  cr_expect_eq(run_worker(NULL, "slow.json --list", "list.txt"), 0);
  cr_expect_eq(count_lines("list.txt", "interrupted", "sp/epoch-0002.json"), 1, "%s", hs_cli_read_text("list.txt"));
  /* the rerun takes over the dead worker's claim and does only what is missing */
  cr_assert_eq(run_worker(NULL, "slow.json", "rerun.txt"), 0, "%s", hs_cli_read_text("rerun.txt"));
  cr_expect_eq(count_lines("rerun.txt", "task 0 of 3", "already done"), 1);
  cr_expect_eq(count_lines("rerun.txt", "task 1 of 3", "done in"), 1);
  cr_expect_eq(count_lines("rerun.txt", "task 2 of 3", "done in"), 1);
  cr_expect(!hs_cli_exists("sp/epoch-0002.json.claim"), "claims are removed after the task");
  const char *stems[] = {"epoch-0001", "epoch-0002", "epoch-0003"};
  for (int i = 0; i < 3; i++) {
    char a[64], b[64];
    snprintf(a, sizeof a, "sp/%s.json", stems[i]);
    snprintf(b, sizeof b, "ref/sp/%s.json", stems[i]);
    expect_same_result(a, b);
  }
}

Test(job, concurrent_workers_never_run_a_task_twice) {
  write_seven();
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && { '%s' run seven.json > c1.txt 2>&1 & '%s' run seven.json > c2.txt 2>&1 & "
           "'%s' run seven.json > c3.txt 2>&1 & wait; }",
           hs_cli_dir, hs_cli_bin(), hs_cli_bin(), hs_cli_bin());
  cr_assert_eq(system(cmd), 0);
  for (int i = 0; i < 7; i++) {
    char tag[32];
    snprintf(tag, sizeof tag, "task %d of 7 ", i);
    int runs = count_lines("c1.txt", tag, "done in") + count_lines("c2.txt", tag, "done in") +
               count_lines("c3.txt", tag, "done in");
    cr_expect_eq(runs, 1, "task %d ran %d times", i, runs);
  }
  cr_expect_eq(count_lines("c1.txt", "FAILED", NULL) + count_lines("c2.txt", "FAILED", NULL) +
                   count_lines("c3.txt", "FAILED", NULL),
               0);
  cr_expect_eq(run_worker(NULL, "seven.json --list", "l.txt"), 0);
  cr_expect_eq(count_lines("l.txt", "done", NULL), 7, "%s", hs_cli_read_text("l.txt"));
}

/* A claim file as another worker would have left it. */
static void write_claim(const char *out, const char *host, long pid, double age) {
  char name[256], text[512];
  snprintf(name, sizeof name, "%s.claim", out);
  snprintf(text, sizeof text, "hesspec.claim/1 host=%s pid=%ld nonce=0123456789abcdef\n", host, pid);
  hs_cli_write_text(name, text);
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= (time_t)age;
  ts[1] = ts[0];
  cr_assert_eq(utimensat(AT_FDCWD, hs_cli_path(name), ts, 0), 0);
}

Test(job, claims_live_and_stale) {
  write_seven();
  mkdir(hs_cli_path("g"), 0755);
  char host[256];
  gethostname(host, sizeof host);
  /* live: another host's fresh claim, and this host's live process (the test itself) */
  write_claim("g/s11.npy", "node-elsewhere", 4242, 1);
  write_claim("g/s12.npy", host, (long)getpid(), 1000);
  /* stale: another host's claim untouched for longer than the timeout; a dead process here */
  write_claim("g/s13.npy", "node-elsewhere", 4242, 100);
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  cr_assert(dead > 0);
  waitpid(dead, NULL, 0);
  write_claim("g/s14.npy", host, (long)dead, 1);
  cr_assert_eq(run_worker(NULL, "seven.json --claim-timeout 30", "w.txt"), 0, "%s", hs_cli_read_text("w.txt"));
  cr_expect_eq(count_lines("w.txt", "task 3 of 7", "running elsewhere (pid 4242 on node-elsewhere)"), 1,
               "%s", hs_cli_read_text("w.txt"));
  cr_expect_eq(count_lines("w.txt", "task 4 of 7", "running elsewhere"), 1);
  cr_expect_eq(count_lines("w.txt", "task 5 of 7", "done in"), 1, "a stale claim from another host is taken over");
  cr_expect_eq(count_lines("w.txt", "task 6 of 7", "done in"), 1, "a dead process's claim is taken over");
  cr_expect_eq(count_lines("w.txt", "5 done (5 now, 0 before), 0 failed, 2 running elsewhere", NULL), 1);
  cr_expect(hs_cli_exists("g/s11.npy.claim") && !hs_cli_exists("g/s13.npy.claim"));
  cr_expect_eq(run_worker(NULL, "seven.json --list", "l.txt"), 0);
  cr_expect_eq(count_lines("l.txt", "running", "g/s11.npy"), 1);

  /* the API: a second claimant is refused until the first releases */
  hs_job_claim a, b;
  hs_job_claim_info info;
  char why[512];
  cr_assert_eq(hs_job_claim_take(&a, hs_cli_path("x.json"), 30, NULL, why, sizeof why), HS_CLAIM_TAKEN, "%s", why);
  cr_expect_eq(hs_job_claim_take(&b, hs_cli_path("x.json"), 30, &info, why, sizeof why), HS_CLAIM_BUSY);
  cr_expect_eq(info.pid, (long)getpid());
  hs_job_claim_release(&a);
  cr_expect(!hs_cli_exists("x.json.claim"));
  cr_expect_eq(hs_job_claim_take(&b, hs_cli_path("x.json"), 30, NULL, why, sizeof why), HS_CLAIM_TAKEN);
  hs_job_claim_release(&b);
  /* an unwritable folder: a failure with the reason, not a crash */
  cr_expect_eq(hs_job_claim_take(&a, "/proc/hesspec-no-such/x.json", 30, NULL, why, sizeof why), HS_CLAIM_FAILED);
  cr_expect(strstr(why, "/proc/hesspec-no-such/x.json.claim"), "%s", why);
}

Test(job, failing_task_does_not_stop_the_others) {
  hs_cli_write_text("f.json", "{\"format\": \"hesspec.job/1\", \"defaults\": {" DATA "},\n"
                              " \"tasks\": [{\"command\": \"loss\", \"batch\": 500, \"out\": \"bad.npy\"},\n"
                              "           {\"command\": \"loss\", \"out\": \"good.npy\"}]}\n");
  cr_expect_eq(run_worker(NULL, "f.json", "w.txt"), 1);
  cr_expect_eq(count_lines("w.txt", "task 0 of 2", "FAILED (exit 2): hesspec loss: --batch 500 is larger than the 120 samples"), 1,
               "%s", hs_cli_read_text("w.txt"));
  cr_expect_eq(count_lines("w.txt", "task 1 of 2", "done in"), 1);
  cr_expect_eq(count_lines("w.txt", "run: 2 tasks: 1 done (1 now, 0 before), 1 failed", NULL), 1);
  cr_expect_eq(count_lines("bad.npy.log", "--batch 500 is larger", NULL), 1, "the task's stderr is in its log");
  cr_expect_eq(count_lines("bad.npy.log", "hesspec run: exit status 2", NULL), 1);
  cr_expect(!hs_cli_exists("bad.npy") && !hs_cli_exists("bad.npy.claim"));
  cr_expect_eq(run_worker(NULL, "f.json --list", "l.txt"), 0);
  cr_expect_eq(count_lines("l.txt", "failed", "bad.npy"), 1);
  cr_expect_eq(count_lines("l.txt", "done", "good.npy"), 1);
}

Test(job, sigterm_ends_the_worker_and_its_task) {
  write_slow("slow.json");
  pid_t pid = start_worker("slow.json", "term.txt");
  wait_for("sp/epoch-0001.json.claim");
  sleep_ms(100);
  stop_worker(pid, SIGTERM);
  cr_expect_eq(count_lines("term.txt", "run: cancelled by signal 15", NULL), 1, "%s", hs_cli_read_text("term.txt"));
  cr_expect(!hs_cli_exists("sp/epoch-0001.json") && !hs_cli_exists("sp/epoch-0001.json.claim"));
  cr_expect(!hs_cli_exists("sp/epoch-0002.json.log"), "no task starts after the signal");
}

/* Bad job files: exit 2, the message names the file, the task index and the key. */
Test(job, bad_job_files_name_task_and_key) {
  static const struct {
    const char *json, *expect;
  } cases[] = {
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"loss\", \"out\": \"a\"}, {\"command\": \"spectra\", \"out\": \"b\"}]}",
       "tasks[1]: 'command': unknown command 'spectra'"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\", \"stepz\": 3, \"out\": \"a\"}]}",
       "tasks[0]: 'stepz' is not an option of spectrum"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\", \"model\": \"nope.json\", \"out\": \"a\"}]}",
       "tasks[0]: 'model': no such file 'nope.json'"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\", \"out\": \"a\"}, {\"command\": \"loss\", "
       "\"weights\": [\"ck/epoch-0001.safetensors\", \"ck/none-*.safetensors\"], \"out\": \"{stem}\"}]}",
       "tasks[1]: 'weights' glob 'ck/none-*.safetensors' matches no file"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"loss\", \"weights\": \"ck/gone.safetensors\", \"out\": \"a\"}]}",
       "tasks[0]: 'weights': no such file 'ck/gone.safetensors'"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\" \"out\": \"a\"}]}", "malformed JSON near byte"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\", \"steps\": \"many\", \"out\": \"a\"}]}",
       "tasks[0]: 'steps' must be a number"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\", \"reorth\": \"some\", \"out\": \"a\"}]}",
       "tasks[0]: "},
      {"{\"format\": \"hesspec.job/1\", \"defaults\": {\"stepz\": 3}, \"tasks\": [{\"command\": \"spectrum\", \"out\": \"a\"}]}",
       "defaults: 'stepz' is not an option of any task's command"},
      {"{\"format\": \"hesspec.job/1\", \"defaults\": {\"steps\": 0.5}, \"tasks\": [{\"command\": \"spectrum\", \"out\": \"a\"}]}",
       "defaults (as used by tasks[0], spectrum): 'steps'"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"spectrum\"}]}", "tasks[0]: 'out' is missing"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"info\", \"out\": \"a\"}]}", "tasks[0]: 'command': info writes no output file"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"run\", \"out\": \"a\"}]}", "tasks[0]: 'command': a job cannot run jobs"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"out\": \"a\"}]}", "tasks[0]: 'command' is missing"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"loss\", \"out\": \"a\", \"out\": \"b\"}]}", "tasks[0]: 'out' is given twice"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"loss\", \"out\": \"{stem}.npy\"}]}", "tasks[0]: '{stem}' needs 'weights'"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"loss\", \"weights\": \"ck/epoch-*.safetensors\", \"out\": \"g.npy\"}]}",
       "both write 'out' 'g.npy'"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"loss\", \"out\": \"a\"}], \"extra\": 1}", "unknown key 'extra'"},
      {"{\"format\": \"hesspec.job/2\", \"tasks\": [{\"command\": \"loss\", \"out\": \"a\"}]}", "'format' must be \"hesspec.job/1\""},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": []}", "'tasks' must be a non-empty array"},
      {"{\"format\": \"hesspec.job/1\", \"tasks\": [3]}", "tasks[0] must be an object"},
      {"[]", "a job file is a JSON object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hs_cli_write_text("bad.json", cases[i].json);
    int rc = run_worker(NULL, "bad.json", "out.txt");
    char *err = hs_cli_read_text("out.txt.err");
    cr_expect_eq(rc, 2, "case %zu: exit %d (%s)", i, rc, err);
    cr_expect(strstr(err, "bad.json: ") && strstr(err, cases[i].expect), "case %zu: '%s' lacks '%s'", i, err, cases[i].expect);
    free(err);
  }
  cr_expect_eq(run_worker(NULL, "missing.json", "out.txt"), 2);
  cr_expect_eq(count_lines("out.txt.err", "missing.json", NULL), 1);
  write_seven();
  cr_expect_eq(run_worker(NULL, "seven.json --task 7", "out.txt"), 2);
  cr_expect_eq(count_lines("out.txt.err", "--task 7: the job has 7 tasks", NULL), 1);
  cr_expect_eq(run_worker(NULL, "", "out.txt"), 2, "no job file");
  cr_expect(!hs_cli_exists("a") && !hs_cli_exists("a.log"), "nothing ran");
}

/* examples/: the job file expands over a training run's checkpoints (optimiser states
 * skipped), and the array script runs its worker's share of a job. */
Test(job, examples_job_file_and_array_script) {
  const char *src = getenv("HS_SOURCE_DIR");
  if (!src) cr_skip_test("HS_SOURCE_DIR is not set (run through ctest)");
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && cp '%s/examples/job-checkpoints.json' '%s/examples/mlp-relu.json' . && mkdir -p runs/mlp-relu && "
           "for e in 0000 0001 0005; do : > runs/mlp-relu/epoch-$e.safetensors; : > runs/mlp-relu/epoch-$e.optim.safetensors; done",
           hs_cli_dir, src, src);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(run_worker(NULL, "job-checkpoints.json --list", "l.txt"), 0, "%s", hs_cli_read_text("l.txt.err"));
  cr_expect_eq(count_lines("l.txt", "pending", NULL), 9, "%s", hs_cli_read_text("l.txt"));
  cr_expect_eq(count_lines("l.txt", "spectrum", "runs/mlp-relu/spectra/epoch-0005.json"), 1);
  cr_expect_eq(count_lines("l.txt", "trace", "runs/mlp-relu/trace/epoch-0000.json"), 1);

  write_seven();
  snprintf(cmd, sizeof cmd,
           "cd '%s' && HESSPEC='%s' JOB=seven.json SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=0 "
           "SLURM_CPUS_PER_TASK=1 bash '%s/examples/slurm/spectra-array.sbatch' > arr.txt 2>&1",
           hs_cli_dir, hs_cli_bin(), src);
  cr_assert_eq(system(cmd), 0, "%s", hs_cli_read_text("arr.txt"));
  cr_expect_eq(count_lines("arr.txt", "done in", NULL), 3, "%s", hs_cli_read_text("arr.txt"));
  /* worker 1 of 2: tasks 1, 3, 5 (epoch-0002, seeds 11 and 13) */
  cr_expect(hs_cli_exists("g/epoch-0002.npy") && hs_cli_exists("g/s11.npy") && hs_cli_exists("g/s13.npy"));
  cr_expect(!hs_cli_exists("g/s12.npy") && !hs_cli_exists("g/epoch-0001.npy"), "tasks 0, 2, 4, 6 belong to the other worker");
}

/* A train task whose worker was killed after its first epochs continues from its
 * last.safetensors: the final checkpoint is byte-identical to an uninterrupted run's, and the
 * log equal but for the seconds column. */
Test(job, killed_train_task_resumes_from_its_last_state) {
  hs_cli_write_text("m3.json", "{\"input_dim\": 6, \"hidden\": [64, 64], \"output_dim\": 3, \"activation\": \"tanh\", "
                               "\"loss\": \"cross_entropy\"}");
  hs_cli_write_text("tj.json", "{\"format\": \"hesspec.job/1\", \"tasks\": [{\"command\": \"train\", \"model\": \"m3.json\", "
                               "\"dataset\": \"mixture\", \"samples\": 40000, \"seed\": 3, \"epochs\": 6, \"batch\": 32, "
                               "\"momentum\": 0.9, \"device\": \"cpu\", \"threads\": 1, \"out\": \"tt\"}]}\n");
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && mkdir ref && cp m3.json tj.json ref/ && '%s' run ref/tj.json > ref.txt 2>&1",
           hs_cli_dir, hs_cli_bin());
  cr_assert_eq(system(cmd), 0, "%s", hs_cli_read_text("ref.txt"));
  pid_t pid = start_worker("tj.json", "kill.txt");
  wait_for("tt/last.optim.safetensors");
  stop_worker(pid, SIGKILL);
  sleep_ms(300);
  cr_assert(!hs_cli_exists("tt/epoch-0006.safetensors"), "the worker was killed after the run had finished: make the run longer");
  cr_assert_eq(run_worker(NULL, "tj.json", "rerun.txt"), 0, "%s", hs_cli_read_text("rerun.txt"));
  cr_expect_eq(count_lines("rerun.txt", "done in", "(resumed)"), 1, "%s", hs_cli_read_text("rerun.txt"));
  cr_expect_eq(count_lines("tt.log", "--resume tt/last.safetensors", NULL), 1);
  snprintf(cmd, sizeof cmd, "cd '%s' && cmp tt/epoch-0006.safetensors ref/tt/epoch-0006.safetensors && "
                            "cmp tt/epoch-0006.optim.safetensors ref/tt/epoch-0006.optim.safetensors && "
                            "diff <(cut -d, -f1-6 tt/log.csv) <(cut -d, -f1-6 ref/tt/log.csv) > /dev/null",
           hs_cli_dir);
  char bash[9000];
  snprintf(bash, sizeof bash, "bash -c \"%s\"", cmd);
  cr_expect_eq(system(bash), 0, "the resumed run differs from the uninterrupted one");
}

/* `mpirun -np 3 hesspec run`: three independent workers sharing the job through their claims
 * (run never starts MPI, and its tasks run without the launcher's variables). */
Test(job, workers_launched_by_mpirun_share_the_job) {
  if (system("command -v mpirun > /dev/null 2>&1") != 0) cr_skip_test("mpirun is not on PATH");
  write_seven();
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && " HS_CLI_MPIRUN "3 '%s' run seven.json > mpi.txt 2>&1",
           hs_cli_dir, hs_cli_bin());
  cr_assert_eq(system(cmd), 0, "%s", hs_cli_read_text("mpi.txt"));
  for (int i = 0; i < 7; i++) {
    char tag[32];
    snprintf(tag, sizeof tag, "task %d of 7 ", i);
    cr_expect_eq(count_lines("mpi.txt", tag, "done in"), 1, "task %d: %s", i, hs_cli_read_text("mpi.txt"));
  }
  cr_expect_eq(count_lines("mpi.txt", "run: 7 tasks", NULL), 3, "three workers");
}

/* SIGKILL at moments spread over a run (start-up, inside tasks, between them, while writing):
 * after every kill each output present is complete (equal to the uninterrupted run's), and
 * reruns finish the job. */
Test(job, kills_at_any_moment_leave_only_complete_outputs) {
  write_slow("slow.json");
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && mkdir ref && cp -r m.json ck slow.json ref/ && '%s' run ref/slow.json > ref.txt 2>&1",
           hs_cli_dir, hs_cli_bin());
  cr_assert_eq(system(cmd), 0, "%s", hs_cli_read_text("ref.txt"));
  const char *stems[] = {"epoch-0001", "epoch-0002", "epoch-0003"};
  const int delays_ms[] = {20, 150, 400, 650, 900, 1300};
  for (size_t k = 0; k < sizeof delays_ms / sizeof delays_ms[0]; k++) {
    pid_t pid = start_worker("slow.json", "k.txt");
    sleep_ms(delays_ms[k]);
    stop_worker(pid, SIGKILL); /* it may have finished already: then this does nothing */
    sleep_ms(200);
    for (int i = 0; i < 3; i++) {
      char a[64], b[64];
      snprintf(a, sizeof a, "sp/%s.json", stems[i]);
      snprintf(b, sizeof b, "ref/sp/%s.json", stems[i]);
      if (hs_cli_exists(a)) expect_same_result(a, b);
    }
  }
  cr_assert_eq(run_worker(NULL, "slow.json", "final.txt"), 0, "%s", hs_cli_read_text("final.txt"));
  for (int i = 0; i < 3; i++) {
    char a[64], b[64];
    snprintf(a, sizeof a, "sp/%s.json", stems[i]);
    snprintf(b, sizeof b, "ref/sp/%s.json", stems[i]);
    expect_same_result(a, b);
  }
}
