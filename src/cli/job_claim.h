/* Claims: at most one worker runs a task, however many run the same job (docs/jobs.md).
 *
 * A claim is the file OUT.claim beside the task's output, holding the claimant's host, pid,
 * start time and a random nonce. It is written under a private name and hard-linked into
 * place, which is atomic and fails when a claim exists (also on NFS), so a claim is never
 * seen half-written. While the task runs, its worker touches the claim every few seconds.
 *
 * A claim is stale, and may be taken over, when its process is gone (same host: kill(pid, 0)
 * says ESRCH) or when it was not touched for `timeout` seconds (any host: a dead node). A
 * takeover renames the stale claim aside and checks that it moved the very claim it judged
 * (same nonce); if another worker replaced it in between, the fresh claim is put back. */
#ifndef HS_CLI_JOB_CLAIM_H
#define HS_CLI_JOB_CLAIM_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
  char *path;     /* OUT.claim (owned) */
  char nonce[40]; /* ours, to recognise our claim */
  int held;
} hs_job_claim;

/* What is known of a claim file's holder. */
typedef struct {
  int present;      /* a claim file exists */
  int live;         /* ... and it is not stale */
  char host[256];
  long pid;
  char nonce[40];
  double age;       /* seconds since it was last touched */
} hs_job_claim_info;

enum { HS_CLAIM_TAKEN = 0, HS_CLAIM_BUSY = 1, HS_CLAIM_FAILED = -1 };

/* Tries to claim the task whose output is `out`. HS_CLAIM_TAKEN: c holds it (release it);
 * HS_CLAIM_BUSY: a live worker holds it (info, when not NULL, says which);
 * HS_CLAIM_FAILED: the claim could not be written (why says why: errno text and path). */
int hs_job_claim_take(hs_job_claim *c, const char *out, double timeout, hs_job_claim_info *info, char *why, size_t len);
/* Marks the claim as alive (its mtime). */
void hs_job_claim_touch(const hs_job_claim *c);
/* Removes the claim if it is still ours; frees c's path. Safe on a claim not held. */
void hs_job_claim_release(hs_job_claim *c);
/* Reads the claim beside `out` without taking it (for --list). */
void hs_job_claim_inspect(const char *out, double timeout, hs_job_claim_info *info);

#endif
