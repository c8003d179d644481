/* main() of the GPU suites (tests/gpu_*.c): runs the Criterion tests only when a CUDA backend
 * opens, else prints why and exits 77 (ctest: skipped, never passed). HS_REQUIRE_GPU=1 (set
 * by bench/gpu-check.sh) turns a missing GPU into a failure: on a GPU machine "skipped"
 * would hide a broken driver or build. */
#ifndef HS_GPU_SKIP_H
#define HS_GPU_SKIP_H

#include <stddef.h>

/* 1 if a CUDA backend opens, with the device name in why; else 0 and the reason. The probe
 * runs in a child process: Criterion forks a worker per test and a CUDA context does not
 * survive fork(), so the parent must not touch CUDA. */
int hs_test_cuda_usable(char *why, size_t len);
/* The whole main() of a GPU suite. */
int hs_test_gpu_main(const char *suite, int argc, char *argv[]);

#endif
