#!/usr/bin/env bash
# `make check`: the safety-net gates, each in its own build folder beside BUILD.
#   0. the CLI includes no internal header (scripts/check-boundaries.sh);
#   1. the release suite (BUILD, as `make test`), and the CLI's link: it uses only the symbols
#      libhesspec.so exports;
#   2. the whole CPU suite under AddressSanitizer + UndefinedBehaviorSanitizer, Debug, halting
#      on the first error (BUILD-asan); allocator_may_return_null=1 because the suites test
#      that impossible allocations come back as HS_E_NOMEM; abort_on_error=1 because
#      Criterion ignores the exit status of its workers, so a leak report at a worker's exit
#      fails the suite only when LeakSanitizer aborts;
#   3. a build with HS_CUDA=ON and warnings as errors in C (HS_WERROR) and in the CUDA host
#      code (HS_CUDA_WERROR), Hopper only to keep it short (BUILD-werror). nvcc is required
#      here: a machine without it fails this gate instead of skipping it;
#   4. every parser harness of fuzz/ under libFuzzer + ASan + UBSan for FUZZ_SECONDS (20) each,
#      seeded from fuzz/corpus (BUILD-fuzz; scripts/fuzz.sh).
# Usage: bash scripts/check.sh [BUILD] (default build); JOBS (nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
JOBS=${JOBS:-$(nproc)}
t0=$(date +%s)
step() { echo "== check: $* ($(($(date +%s) - t0)) s)"; }

step "0/4 the CLI's includes"
bash scripts/check-boundaries.sh

step "1/4 release suite in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$JOBS"
bash scripts/check-boundaries.sh "$BUILD"
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS")

step "2/4 CPU suite under ASan + UBSan in $BUILD-asan"
cmake -S . -B "$BUILD-asan" -DCMAKE_BUILD_TYPE=Debug -DHS_CUDA=OFF -DHS_SANITIZE=ON >/dev/null
cmake --build "$BUILD-asan" -j "$JOBS"
(cd "$BUILD-asan" &&
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest -L cpu --output-on-failure -j "$JOBS" --timeout 1200)

step "3/4 HS_CUDA=ON with warnings as errors in $BUILD-werror"
NVCC=${CMAKE_CUDA_COMPILER:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$NVCC" ]; then
  echo "check: nvcc not found (PATH, /usr/local/cuda/bin): the CUDA gate cannot run here" >&2
  exit 1
fi
cmake -S . -B "$BUILD-werror" -DCMAKE_BUILD_TYPE=Release -DHS_CUDA=ON -DCMAKE_CUDA_COMPILER="$NVCC" \
  -DHS_CUDA_ARCHITECTURES=90 -DHS_WERROR=ON -DHS_CUDA_WERROR=ON >/dev/null
cmake --build "$BUILD-werror" -j "$JOBS" --target hesspec hesspec_cli gpu_ops gpu_end_to_end gpu_bench

step "4/4 fuzzing the parsers in $BUILD-fuzz"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}" "$BUILD-fuzz"

step "all gates passed"
