/* The progress display: a bar with elapsed and remaining time on a terminal; nothing when
 * stderr is not a terminal (batch jobs keep clean logs) or with --quiet. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "core/clock.h" /* the library's timer: a leaf header, no other internals */

typedef struct {
  double start;
  double last_draw;
  char phase[48];
} progress_state;

static progress_state g_progress; /* the CLI runs one job per process */

static int draw(void *user, const char *what, size_t done, size_t total) {
  progress_state *p = user;
  double now = hs_now();
  if (strncmp(p->phase, what, sizeof p->phase - 1) != 0) {
    snprintf(p->phase, sizeof p->phase, "%s", what);
    p->start = now;
  }
  if (done < total && now - p->last_draw < 0.1) return 0;
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
  return 0;
}

void hs_cli_progress_install(hs_context *ctx, int quiet) {
  if (quiet || !isatty(fileno(stderr))) return;
  memset(&g_progress, 0, sizeof g_progress);
  hs_set_progress(ctx, draw, &g_progress);
}
