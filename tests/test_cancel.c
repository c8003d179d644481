/* Cancellation by signal: SIGINT or SIGTERM sent to a running `hesspec spectrum`, `train`
 * or `compare` (after its work has begun) ends it within about a second with a one-line
 * message, exit status 128 + the signal (130, 143), no output file and no temporary; train
 * leaves DIR/last.safetensors from which `train --resume` continues to the end. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/npy.h"
#include "support/cli_fixture.h"
#include "support/hs_test.h"

static hs_context *ctx;

static void setup(void) {
  hs_cli_fixture_setup("cancel");
  ctx = hs_test_ctx(HS_F64, 1);
}

static void teardown(void) {
  hs_context_destroy(ctx);
  hs_cli_fixture_teardown();
}

TestSuite(cancel, .init = setup, .fini = teardown, .timeout = 120);

#define path hs_cli_path

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Starts `hesspec ARGV...` in the suite's folder, stdout and stderr to files. */
static pid_t spawn(char *const argv[]) {
  char bin[1024];
  ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 1);
  cr_assert(n > 0);
  bin[n] = '\0';
  strcpy(strrchr(bin, '/'), "/hesspec");
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    if (chdir(hs_cli_dir) != 0) _exit(99);
    int out = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(99);
    dup2(out, 1);
    dup2(err, 2);
    execv(bin, argv);
    _exit(98);
  }
  return pid;
}

/* Waits until stdout.txt holds `text` (NULL: for `seconds`); fails if the run ends first. */
static void wait_for(pid_t pid, const char *text, double seconds) {
  double t0 = now();
  for (;;) {
    int status;
    cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the run ended before it could be interrupted");
    if (text && hs_cli_exists("stdout.txt")) {
      char *s = hs_cli_read_text("stdout.txt");
      int found = strstr(s, text) != NULL;
      free(s);
      if (found) return;
    }
    if (!text && now() - t0 >= seconds) return;
    cr_assert_lt(now() - t0, 60, "no '%s' on stdout after 60 s", text ? text : "");
    usleep(20000);
  }
}

/* Sends sig and checks the ending: within 1.5 s, exit 128 + sig, one line naming the cancel. */
static void interrupt(pid_t pid, int sig, const char *what) {
  double t0 = now();
  cr_assert_eq(kill(pid, sig), 0);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (now() - t0 > 10) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      cr_assert_fail("%s: still running 10 s after %s", what, strsignal(sig));
    }
    usleep(5000);
  }
  double dt = now() - t0;
  char *err = hs_cli_read_text("stderr.txt");
  cr_assert(WIFEXITED(status), "%s: killed by the signal instead of cancelling (stderr: %s)", what, err);
  cr_assert_eq(WEXITSTATUS(status), 128 + sig, "%s: exit %d after %s, want %d (stderr: %s)", what, WEXITSTATUS(status),
               strsignal(sig), 128 + sig, err);
  cr_assert_lt(dt, 1.5, "%s: took %.2f s to stop", what, dt);
  cr_assert(strstr(err, "cancelled"), "%s: the message does not say cancelled: %s", what, err);
  char *nl = strchr(err, '\n');
  cr_assert(nl && nl[1] == '\0', "%s: the message is not one line: %s", what, err);
  cr_log_info("%s: stopped %.3f s after %s", what, dt, strsignal(sig));
  free(err);
}

/* No name in folder (relative to the suite's) contains `part`. */
static void none_named(const char *folder, const char *part) {
  DIR *dp = opendir(path(folder));
  if (!dp) return;
  struct dirent *e;
  while ((e = readdir(dp))) cr_assert(!strstr(e->d_name, part), "%s/%s was left behind", folder, e->d_name);
  closedir(dp);
}

/* An MLP 16-[48, 48]-4 (3.3k parameters) on n samples: with 1500, minutes of SLQ at the
 * settings below, about 30 ms per training epoch of 15 batches. */
static void model_and_data(size_t n) {
  hs_cli_write_text("m.json", "{\"input_dim\": 16, \"hidden\": [48, 48], \"output_dim\": 4, \"activation\": \"tanh\", "
                              "\"loss\": \"cross_entropy\"}");
  double *X = malloc(n * 16 * sizeof *X);
  int32_t *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n * 16; i++) X[i] = sin(0.7 * (double)i);
  for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % 4);
  size_t xd[2] = {n, 16}, yd[1] = {n};
  cr_assert_eq(hs_npy_write_f64(ctx, path("X.npy"), HS_F64, X, 2, xd), HS_OK);
  cr_assert_eq(hs_npy_write(ctx, path("y.npy"), HS_NPY_I4, y, 1, yd), HS_OK);
  free(X);
  free(y);
}

Test(cancel, spectrum_on_sigint_and_sigterm) {
  model_and_data(1500);
  const int sigs[2] = {SIGINT, SIGTERM};
  for (int k = 0; k < 2; k++) {
    char *argv[] = {"hesspec", "spectrum", "--model", "m.json", "--inputs", "X.npy", "--targets", "y.npy", "--threads",
                    "1", "--steps", "300", "--probes", "50", "--out", "s.json", NULL};
    pid_t pid = spawn(argv);
    wait_for(pid, NULL, 1.0); /* well inside the Lanczos steps: the whole run takes minutes */
    interrupt(pid, sigs[k], "spectrum");
    cr_assert(!hs_cli_exists("s.json") && !hs_cli_exists("s.csv"), "spectrum wrote an output after the cancel");
    none_named(".", ".tmp.");
  }
}

Test(cancel, train_keeps_last_and_resumes) {
  model_and_data(1500);
  char *argv[] = {"hesspec", "train", "--model", "m.json", "--inputs", "X.npy", "--targets", "y.npy", "--threads", "1",
                  "--batch", "100", "--epochs", "80", "--lr", "0.01", "--out", "run", NULL};
  pid_t pid = spawn(argv);
  wait_for(pid, "epoch 2/", 0);
  interrupt(pid, SIGINT, "train");
  none_named("run", ".tmp.");
  cr_assert(hs_cli_exists("run/last.safetensors") && hs_cli_exists("run/last.optim.safetensors"));
  cr_assert(!hs_cli_exists("run/epoch-0080.safetensors"));
  /* last.safetensors is a whole checkpoint: the model loads it */
  int rc = hs_cli_run("", "loss --model m.json --weights run/last.safetensors --inputs X.npy --targets y.npy --out l.npy", "");
  cr_assert_eq(rc, 0, "last.safetensors does not load: %s", hs_cli_err);
  /* and `train --resume` continues from the epoch the cancel left to the end */
  rc = hs_cli_run("", "train --model m.json --inputs X.npy --targets y.npy --threads 1 --batch 100 --epochs 80 --lr 0.01 "
                      "--resume run/last.safetensors --out run",
                  "");
  cr_assert_eq(rc, 0, "resume: %s", hs_cli_err);
  cr_assert(hs_cli_exists("run/epoch-0080.safetensors"), "the resumed run did not reach the end");
}

Test(cancel, compare_on_sigterm) {
  hs_cli_write_text("p.json",
                    "{ \"dataset\": \"mixture:sep=4\", \"train_samples\": 2000, \"test_samples\": 100,\n"
                    "  \"synthetic_dim\": 16, \"synthetic_classes\": 3, \"hidden\": [32, 32],\n"
                    "  \"kinds\": [\"relu\", \"relu-bn\"], \"seeds\": [1, 2, 3, 4, 5, 6],\n"
                    "  \"train\": {\"optimizer\": \"sgd\", \"lr\": 0.05, \"epochs\": 50, \"batch\": 20},\n"
                    "  \"analysis\": {\"epochs\": [0, 50], \"samples\": 200, \"slq_steps\": 60, \"slq_probes\": 8} }\n");
  char *argv[] = {"hesspec", "compare", "--preset", "p.json", "--threads", "1", "--out", "rep", NULL};
  pid_t pid = spawn(argv);
  wait_for(pid, NULL, 1.5);
  interrupt(pid, SIGTERM, "compare");
  cr_assert(!hs_cli_exists("rep"), "compare left a report after the cancel");
  none_named(".", "rep.");
}
