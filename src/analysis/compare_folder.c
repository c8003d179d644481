/* hs_cmp_run_into: a comparison run into its report folder, built under a temporary name
 * beside it and renamed into place at the end, so that a failed or killed run never leaves a
 * half-written report (docs/compare.md). Shared by `hesspec compare` and hs_compare. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/compare.h"
#include "analysis/report.h"
#include "core/context.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}
static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The output folder may be absent, or a previous report (it is replaced), never anything else. */
static hs_status check_out(hs_context *ctx, const char *out) {
  struct stat st;
  if (stat(out, &st) != 0) {
    if (errno == ENOENT) return HS_OK;
    return hs_fail(ctx, HS_E_OUTPUT, "%s: %s", out, strerror(errno)); /* cannot be reached: ENOTDIR, EACCES */
  }
  if (!S_ISDIR(st.st_mode)) return hs_fail(ctx, HS_E_INVALID, "%s exists and is not a folder", out);
  char probe[PATH_MAX];
  snprintf(probe, sizeof probe, "%s/summary.csv", out);
  if (access(probe, F_OK) == 0) return HS_OK;
  if (rmdir(out) == 0) return HS_OK; /* was empty */
  return hs_fail(ctx, HS_E_INVALID, "%s exists and is not a hesspec compare report; refusing to replace it", out);
}

hs_status hs_cmp_run_into(hs_context *ctx, const hs_cmp_config *cfg, const char *out_path, hs_cmp_note_fn note,
                          void *note_user, hs_cmp_result **out) {
  *out = NULL;
  /* "rep/" names the folder rep: the temporary must sit beside it, not inside */
  char dir[PATH_MAX], tmpdir[PATH_MAX], olddir[PATH_MAX];
  if (!out_path || !*out_path) return hs_fail(ctx, HS_E_INVALID, "compare: no report folder given");
  if (snprintf(dir, sizeof dir, "%s", out_path) >= (int)sizeof dir)
    return hs_fail(ctx, HS_E_INVALID, "%.64s...: the report folder's path is too long", out_path);
  for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--) dir[l - 1] = '\0';
  hs_status st = check_out(ctx, dir);
  if (st != HS_OK) return st;
  if (snprintf(tmpdir, sizeof tmpdir, "%s.tmp.XXXXXX", dir) >= (int)sizeof tmpdir || !mkdtemp(tmpdir))
    return hs_fail(ctx, HS_E_OUTPUT, "%s: cannot create the report folder (%s)", dir, strerror(errno));
  { /* mkdtemp makes it 0700; the report gets the permissions of an ordinary mkdir */
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmpdir, 0777 & ~mask);
  }
  hs_cmp_result *res = NULL;
  st = hs_cmp_run(ctx, cfg, tmpdir, note, note_user, &res);
  if (st == HS_OK) st = hs_cmp_report(ctx, res, tmpdir);
  if (st != HS_OK) {
    hs_cmp_result_free(res);
    rm_tree(tmpdir);
    return st;
  }
  /* into place: an old report moves aside first and is removed after */
  olddir[0] = '\0';
  if (access(dir, F_OK) == 0) {
    snprintf(olddir, sizeof olddir, "%s.old.XXXXXX", dir);
    if (!mkdtemp(olddir) || rename(dir, olddir) != 0) {
      st = hs_fail(ctx, HS_E_OUTPUT, "%s: cannot move the previous report aside (%s)", dir, strerror(errno));
      rm_tree(tmpdir);
      hs_cmp_result_free(res);
      return st;
    }
  }
  if (rename(tmpdir, dir) != 0) {
    st = hs_fail(ctx, HS_E_OUTPUT, "%s: cannot rename the report into place (%s); it is in %s", dir, strerror(errno),
                 tmpdir);
    hs_cmp_result_free(res);
    return st;
  }
  if (olddir[0]) rm_tree(olddir);
  *out = res;
  return HS_OK;
}
