/* Chooses a backend for a device string. The only file that knows whether CUDA was built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

#ifdef HS_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

int hs_backend_cuda_compiled(void) {
#ifdef HS_HAVE_CUDA
  return 1;
#else
  return 0;
#endif
}

int hs_backend_cuda_device_count(void) {
#ifdef HS_HAVE_CUDA
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
#else
  return 0;
#endif
}

/* "cuda" -> 0, "cuda:3" -> 3; -1 when malformed. */
static int parse_cuda_index(const char *device) {
  if (strcmp(device, "cuda") == 0) return 0;
  if (strncmp(device, "cuda:", 5) != 0 || device[5] == '\0') return -1;
  char *end;
  long i = strtol(device + 5, &end, 10);
  return (*end || i < 0 || i > 1024) ? -1 : (int)i;
}

/* Spelled here rather than by hs_status_string (src/core): the backend uses nothing above it. */
static const char *cpu_create_error(hs_status st) {
  return st == HS_E_NOMEM ? "out of memory" : st == HS_E_INVALID ? "invalid thread count" : "unexpected failure";
}

hs_status hs_backend_open(const char *device, int threads, int tf32, hs_backend **out, char *err,
                          size_t errlen) {
  *out = NULL;
  if (strcmp(device, "cpu") == 0) {
    hs_status st = hs_cpu_backend_create(threads, out);
    if (st != HS_OK) snprintf(err, errlen, "cannot create the CPU backend: %s", cpu_create_error(st));
    return st;
  }
  int is_auto = strcmp(device, "auto") == 0;
  int index = is_auto ? 0 : parse_cuda_index(device);
  if (index < 0) {
    snprintf(err, errlen, "--device '%s': expected auto, cpu, cuda or cuda:N", device);
    return HS_E_INVALID;
  }
#ifdef HS_HAVE_CUDA
  hs_status st = hs_cuda_backend_create(index, tf32, out, err, errlen);
  if (st == HS_OK || !is_auto) return st;
  err[0] = '\0'; /* auto: no usable GPU, fall back to the CPU */
#else
  (void)tf32;
  if (!is_auto) {
    snprintf(err, errlen, "--device '%s': this build of hesspec has no CUDA backend", device);
    return HS_E_UNSUPPORTED;
  }
#endif
  hs_status cst = hs_cpu_backend_create(threads, out);
  if (cst != HS_OK) snprintf(err, errlen, "cannot create the CPU backend: %s", cpu_create_error(cst));
  return cst;
}

char *hs_build_info(void) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  len += snprintf(buf + len, cap - len, "build: C11, %s, CUDA backend %s\n",
#ifdef NDEBUG
                  "release",
#else
                  "debug",
#endif
                  hs_backend_cuda_compiled() ? "compiled (sm_80, sm_90)" : "not compiled");
  hs_backend *cpu = NULL;
  if (hs_cpu_backend_create(0, &cpu) == HS_OK) {
    len += snprintf(buf + len, cap - len, "backend cpu: %s\n", cpu->device_name);
    cpu->ops->destroy(cpu);
  }
#ifdef HS_HAVE_CUDA
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    len += snprintf(buf + len, cap - len, "backend cuda: no usable device (%s)\n", cudaGetErrorString(e));
  } else {
    for (int i = 0; i < n && len < cap - 256; i++) {
      struct cudaDeviceProp p;
      if (cudaGetDeviceProperties(&p, i) == cudaSuccess)
        len += snprintf(buf + len, cap - len, "backend cuda: cuda:%d %s (sm_%d%d, %.1f GiB)\n", i, p.name, p.major,
                        p.minor, (double)p.totalGlobalMem / (1 << 30));
    }
  }
#endif
  return buf;
}

int hs_cuda_device_count(void) { return hs_backend_cuda_device_count(); }
