/* The progress display and cancellation. The hook is always installed: it turns a caught
 * SIGINT/SIGTERM (main.c sets the flag) into HS_E_CANCELLED, so a run stops within one
 * progress call (a Lanczos step, a probe, a training batch). It draws a bar with elapsed
 * and remaining time only on a terminal (batch jobs keep clean logs) and not with --quiet. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/common.h"

typedef struct {
  int draw;
  double start;
  double last_draw;
  char phase[48];
} progress_state;

static progress_state g_progress; /* the CLI runs one job per process */
static volatile sig_atomic_t g_signal;

double hs_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hs_cli_note_signal(int sig) { g_signal = sig; }
int hs_cli_caught_signal(void) { return (int)g_signal; }
hs_status hs_cli_cancel_status(void) { return g_signal ? HS_E_CANCELLED : HS_OK; }

static hs_status on_progress(void *user, const char *what, size_t done, size_t total) {
  progress_state *p = user;
  if (g_signal) {
    if (p->draw) fprintf(stderr, "\n");
    return HS_E_CANCELLED;
  }
  if (!p->draw) return HS_OK;
  double now = hs_cli_now();
  if (strncmp(p->phase, what, sizeof p->phase - 1) != 0) {
    snprintf(p->phase, sizeof p->phase, "%s", what);
    p->start = now;
  }
  if (done < total && now - p->last_draw < 0.1) return HS_OK;
  p->last_draw = now;
  double frac = total ? (double)done / (double)total : 1.0, elapsed = now - p->start;
  double remaining = frac > 0 ? elapsed * (1 - frac) / frac : 0;
  char bar[31];
  int filled = (int)(frac * 30);
  for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
  bar[30] = '\0';
  fprintf(stderr, "\r%-12.12s [%s] %3.0f%%  %6.1fs elapsed  %6.1fs left", what, bar, 100 * frac, elapsed, remaining);
  if (done >= total) fprintf(stderr, "\n");
  fflush(stderr);
  return HS_OK;
}

void hs_cli_progress_install(hs_context *ctx, int quiet) {
  memset(&g_progress, 0, sizeof g_progress);
  g_progress.draw = !quiet && isatty(fileno(stderr));
  hs_set_progress(ctx, on_progress, &g_progress);
}
