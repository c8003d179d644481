/* Claim files of job tasks (job_claim.h). */
#define _GNU_SOURCE
#include "cli/job_claim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/job.h"

#define CLAIM_FORMAT "hesspec.claim/1"

static void this_host(char *buf, size_t len) {
  if (gethostname(buf, len) != 0) snprintf(buf, len, "unknown");
  buf[len - 1] = '\0';
}

static void new_nonce(char *buf, size_t len) {
  unsigned char r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) { /* no entropy source: time and pid */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20) ^ ((unsigned long long)getpid() << 40);
    for (size_t i = 0; i < sizeof r; i++) r[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
  }
  size_t n = 0;
  for (size_t i = 0; i < sizeof r && n + 2 < len; i++) n += (size_t)snprintf(buf + n, len - n, "%02x", r[i]);
}

/* Reads a claim file into info (present, host, pid, nonce, age; live is left to the caller). */
static void read_claim(const char *path, hs_job_claim_info *info) {
  memset(info, 0, sizeof *info);
  info->pid = -1;
  struct stat st;
  if (lstat(path, &st) != 0) return;
  info->present = 1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  info->age = (double)(now.tv_sec - st.st_mtim.tv_sec) + 1e-9 * (double)(now.tv_nsec - st.st_mtim.tv_nsec);
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[1024] = "";
  if (fgets(line, sizeof line, f)) {
    char fmt[32];
    if (sscanf(line, "%31s host=%255s pid=%ld nonce=%39s", fmt, info->host, &info->pid, info->nonce) != 4 ||
        strcmp(fmt, CLAIM_FORMAT) != 0) {
      info->host[0] = '\0';
      info->nonce[0] = '\0';
      info->pid = -1;
    }
  }
  fclose(f);
}

/* Is the holder alive? Same host: its process exists. Another host (or an unreadable claim,
 * perhaps being written by a worker without hard links): touched within `timeout` seconds. */
static void judge(hs_job_claim_info *info, double timeout) {
  if (!info->present) return;
  char host[256];
  this_host(host, sizeof host);
  if (info->pid > 0 && info->host[0] && strcmp(info->host, host) == 0)
    info->live = kill((pid_t)info->pid, 0) == 0 || errno == EPERM;
  else
    info->live = info->age < timeout;
}

void hs_job_claim_inspect(const char *out, double timeout, hs_job_claim_info *info) {
  char *path = hs_job_sidecar(out, ".claim");
  memset(info, 0, sizeof *info);
  if (!path) return;
  read_claim(path, info);
  judge(info, timeout);
  free(path);
}

static int write_all(int fd, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

int hs_job_claim_take(hs_job_claim *c, const char *out, double timeout, hs_job_claim_info *info, char *why, size_t len) {
  memset(c, 0, sizeof *c);
  hs_job_claim_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  char host[256], line[512], tmp[8192], aside[8192];
  this_host(host, sizeof host);
  new_nonce(c->nonce, sizeof c->nonce);
  snprintf(line, sizeof line, "%s host=%s pid=%ld nonce=%s\n", CLAIM_FORMAT, host, (long)getpid(), c->nonce);
  if (!(c->path = hs_job_sidecar(out, ".claim"))) {
    snprintf(why, len, "out of memory");
    return HS_CLAIM_FAILED;
  }
  snprintf(tmp, sizeof tmp, "%s.%s.%ld.%.8s", c->path, host, (long)getpid(), c->nonce);
  snprintf(aside, sizeof aside, "%s.stale.%s.%ld.%.8s", c->path, host, (long)getpid(), c->nonce);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || write_all(fd, line) != 0 || close(fd) != 0) {
    snprintf(why, len, "%s: cannot write a claim (%s)", tmp, strerror(errno));
    if (fd >= 0) unlink(tmp);
    goto failed;
  }
  for (int attempt = 0; attempt < 4; attempt++) {
    if (link(tmp, c->path) == 0) {
      unlink(tmp);
      c->held = 1;
      return HS_CLAIM_TAKEN;
    }
    if (errno != EEXIST) {
      int e = errno;
      /* a filesystem without hard links: exclusive creation, with a moment where the claim is
       * empty (judge() then goes by age, so it is not taken over meanwhile) */
      if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS || e == EXDEV) {
        int cfd = open(c->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (cfd >= 0) {
          int bad = write_all(cfd, line) != 0;
          bad |= close(cfd) != 0;
          unlink(tmp);
          if (bad) {
            snprintf(why, len, "%s: cannot write the claim (%s)", c->path, strerror(errno));
            unlink(c->path);
            goto failed;
          }
          c->held = 1;
          return HS_CLAIM_TAKEN;
        }
        if (errno != EEXIST) e = errno;
        else e = 0;
      }
      if (e) {
        snprintf(why, len, "%s: cannot claim the task (%s)", c->path, strerror(e));
        unlink(tmp);
        goto failed;
      }
    }
    read_claim(c->path, info);
    judge(info, timeout);
    if (!info->present) continue; /* released meanwhile: try again */
    if (info->live) break;
    /* stale: move it aside, and make sure it was the one judged */
    if (rename(c->path, aside) != 0) {
      if (errno == ENOENT) continue; /* another worker moved it first */
      snprintf(why, len, "%s: cannot take over a stale claim (%s)", c->path, strerror(errno));
      unlink(tmp);
      goto failed;
    }
    hs_job_claim_info moved;
    read_claim(aside, &moved);
    if (strcmp(moved.nonce, info->nonce) == 0 && moved.pid == info->pid) {
      unlink(aside);
      continue;
    }
    /* a fresh claim, written by a worker that took over first: give it back */
    if (link(aside, c->path) != 0 && errno != EEXIST) rename(aside, c->path);
    unlink(aside);
    *info = moved;
    info->live = 1;
    break;
  }
  unlink(tmp);
  free(c->path);
  c->path = NULL;
  if (!info->present) info->live = 1; /* claims kept reappearing: someone is busy with it */
  return HS_CLAIM_BUSY;
failed:
  free(c->path);
  c->path = NULL;
  return HS_CLAIM_FAILED;
}

void hs_job_claim_touch(const hs_job_claim *c) {
  if (c->held && c->path) utimensat(AT_FDCWD, c->path, NULL, 0);
}

void hs_job_claim_release(hs_job_claim *c) {
  if (c->held && c->path) {
    hs_job_claim_info info;
    read_claim(c->path, &info);
    if (strcmp(info.nonce, c->nonce) == 0) unlink(c->path);
  }
  free(c->path);
  c->path = NULL;
  c->held = 0;
}
