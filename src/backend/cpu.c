/* The CPU backend: the op table, creation, device name and the memory ops.
 * "Device" memory is host memory; the ops themselves live in cpu_blas.c, cpu_reduce.c,
 * cpu_layers.c, cpu_bn.c, cpu_conv.c, cpu_loss.c, cpu_eig.c and cpu_optim.c. */
#include <cblas.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/check.h"
#include "backend/cpu_internal.h"

/* ---- memory ---- */

/* 64-byte alignment: a cache line and a full AVX-512 vector, so BLAS never starts a panel
 * mid-line. */
#define CPU_ALIGN 64

hs_status hs_cpu_alloc(hs_backend *be, size_t bytes, void **ptr) {
  *ptr = NULL;
  if (bytes == 0) return HS_OK;
  if (bytes > SIZE_MAX - CPU_ALIGN)
    return hs_backend_fail(be, HS_E_NOMEM, "alloc: %zu bytes is beyond the address space", bytes);
  /* aligned_alloc wants a size that is a multiple of the alignment */
  size_t padded = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
  void *p = aligned_alloc(CPU_ALIGN, padded);
  if (!p)
    return hs_backend_fail(be, HS_E_NOMEM, "alloc: out of host memory allocating %zu bytes",
                           bytes);
  *ptr = p;
  return HS_OK;
}

void hs_cpu_free(hs_backend *be, void *ptr) { free(ptr); }

static hs_status cpu_memcpy(hs_backend *be, const char *op, void *dst, const void *src,
                            size_t bytes) {
  if (bytes == 0) return HS_OK;
  memmove(dst, src, bytes); /* memmove: a device-to-device copy may overlap */
  return HS_OK;
}

hs_status hs_cpu_upload(hs_backend *be, void *dst, const void *host_src, size_t bytes) {
  return cpu_memcpy(be, "upload", dst, host_src, bytes);
}
hs_status hs_cpu_download(hs_backend *be, void *host_dst, const void *src, size_t bytes) {
  return cpu_memcpy(be, "download", host_dst, src, bytes);
}
hs_status hs_cpu_copy(hs_backend *be, void *dst, const void *src, size_t bytes) {
  return cpu_memcpy(be, "copy", dst, src, bytes);
}

#define DEF_FILL(T, S)                                                                         \
  static void fill_##S(int nt, size_t n, double value, T *x) {                                 \
    const T v = (T)value;                                                                      \
    _Pragma("omp parallel for num_threads(nt) if (n >= CPU_PAR_MIN) schedule(static)")         \
    for (size_t i = 0; i < n; i++) x[i] = v;                                                   \
  }
DEF_FILL(float, f32)
DEF_FILL(double, f64)

hs_status hs_cpu_fill(hs_backend *be, hs_dtype t, size_t n, double value, void *x) {
  if (n == 0) return HS_OK;
  CPU_DISPATCH(t, fill, cpu_threads(be), n, value, x);
  return HS_OK;
}

hs_status hs_cpu_sync(hs_backend *be) { return HS_OK; }

/* ---- the instance ---- */

static void cpu_destroy(hs_backend *be) { free(be); }

/* "AMD EPYC 7B13 (16 cores)" from /proc/cpuinfo; "cpu (16 cores)" where it says nothing. */
static void cpu_device_name(char *out, size_t len) {
  char model[96] = "cpu";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) != 0) continue;
      char *colon = strchr(line, ':');
      if (!colon) continue;
      char *s = colon + 1;
      while (*s == ' ' || *s == '\t') s++;
      size_t l = strcspn(s, "\r\n");
      while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t')) l--;
      if (l == 0) continue;
      if (l >= sizeof model) l = sizeof model - 1;
      memcpy(model, s, l);
      model[l] = '\0';
      break;
    }
    fclose(f);
  }
  int cores = omp_get_num_procs(); /* the CPUs this process may run on */
  snprintf(out, len, "%s (%d core%s)", model, cores, cores == 1 ? "" : "s");
}

/* Every op through the front end: hs_cpu_checked_<op> checks the arguments (check.c), then
 * calls hs_cpu_<op>. */
#define HS_OP(op, params, args) HS_CHECKED_OP(hs_cpu, op, params, args)
#include "backend/ops.def"

/* Generated from backend/ops.def as designated initialisers: every op's slot is named, so
 * no entry can land in another's, and with the pragma a function of the wrong signature is an
 * error, not a warning (GCC 12 only warns). */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wincompatible-pointer-types"
static const hs_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .free = hs_cpu_free,
#define HS_OP(op, params, args) .op = hs_cpu_checked_##op,
#include "backend/ops.def"
};
#pragma GCC diagnostic pop

hs_status hs_cpu_backend_create(int threads, hs_backend **out) {
  if (!out) return HS_E_INVALID;
  *out = NULL;
  if (threads < 0) return HS_E_INVALID;
  hs_cpu *cpu = calloc(1, sizeof *cpu);
  if (!cpu) return HS_E_NOMEM;
  cpu->base.ops = &cpu_ops;
  /* 0: all cores, or OMP_NUM_THREADS where the user (or a batch system) set it */
  cpu->threads = threads > 0 ? threads : omp_get_max_threads();
  if (cpu->threads < 1) cpu->threads = 1;
  /* OpenBLAS runs single-threaded and we thread around it on fixed tiles (cpu_blas.c): its
   * own threading changes summation orders with the thread count. The setting is
   * process-wide; it also keeps LAPACK (syev) reproducible. */
  openblas_set_num_threads(1);
  cpu_device_name(cpu->base.device_name, sizeof cpu->base.device_name);
  *out = &cpu->base;
  return HS_OK;
}
