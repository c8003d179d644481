/* Helpers shared by the PyTorch cross-check suites (tests/torch_*.c): the interpreter, the
 * reference scripts under tests/torch/, the private temporary folder of files both tools
 * read, running a script, reading its .npy results and comparing them. */
#ifndef HS_TORCH_SUPPORT_H
#define HS_TORCH_SUPPORT_H

#include <stddef.h>

#include "hesspec.h"

/* $HS_TORCH_PYTHON, else /usr/bin/python3. */
const char *hs_torch_python(void);
/* tests/torch/<script> under $HS_SOURCE_DIR (set by ctest), else next to the test sources. */
void hs_torch_script_path(const char *script, char *out, size_t len);
/* A new private folder $TMPDIR/<prefix>.XXXXXX (TMPDIR unset: /tmp) in dir; asserts. */
void hs_torch_mkdtemp(char *dir, size_t len, const char *prefix, const char *what);
/* Writes text to path; asserts. */
void hs_torch_write_text(const char *path, const char *text, const char *what);
/* dir/X.npy and dir/Y.npy (int32 labels or float64 targets) of d for spec s; asserts. */
void hs_torch_write_data(hs_context *ctx, const char *dir, const hs_model_spec *s, const hs_dataset *d,
                         const char *what);
/* Runs `python script dir` and asserts it exits 0 (its output goes into the message). */
void hs_torch_run(const char *script, const char *dir, const char *what);
/* Reads dir/name (doubles) and checks it holds `count` values. Caller frees. */
double *hs_torch_read(hs_context *ctx, const char *dir, const char *name, size_t count, const char *what);
/* max |a - ref| / max |ref| checked (cr_expect) against tol; returns 1 on failure. */
int hs_torch_compare(const char *what, const char *quantity, const double *a, const double *ref, size_t n,
                     double tol);
/* Removes dir, or keeps it (and says so) when the case failed or HS_KEEP_TMP is set. */
void hs_torch_cleanup(const char *dir, int failed, const char *what);
/* The whole main() of a torch suite: exit 77 (ctest: skipped) where the interpreter has no
 * torch, 1 where the reference script is missing, else the Criterion run. */
int hs_torch_main(const char *suite, const char *script, int argc, char *argv[]);

#endif
