#!/usr/bin/env bash
# libFuzzer runs of every parser harness (fuzz/fuzz_*.c), seeded from fuzz/corpus/NAME/.
#   bash scripts/fuzz.sh [SECONDS] [BUILD]   SECONDS per harness (default 20); BUILD folder
#                                            (default build-fuzz), configured with clang
# New inputs go to BUILD/corpus/NAME (the repository's seeds are not touched); a crash, leak,
# sanitizer report or timeout stops that harness, leaves its input in BUILD/findings/ and
# makes the script exit 1 after the others have run. `make check` runs 20 s each; `make fuzz`
# runs FUZZ_SECONDS (default 600) each.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
BUILD=${2:-build-fuzz}
CLANG=${CLANG:-$(command -v clang || echo clang)}
JOBS=${JOBS:-$(nproc)}
if ! command -v "$CLANG" >/dev/null; then
  echo "fuzz: clang not found (Debian package clang, installed by scripts/install-deps.sh)" >&2
  exit 1
fi
CC=$CLANG cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHS_CUDA=OFF -DHS_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null || exit 1
names=()
for f in fuzz/fuzz_*.c; do n=$(basename "$f" .c); names+=("${n#fuzz_}"); done
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" >/dev/null || exit 1
mkdir -p "$BUILD/findings"
fail=0
for n in "${names[@]}"; do
  mkdir -p "$BUILD/corpus/$n"
  log="$BUILD/fuzz_$n.log"
  ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$BUILD/fuzz_$n" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$BUILD/findings/$n-" "$BUILD/corpus/$n" "fuzz/corpus/$n" >"$log" 2>&1
  rc=$?
  runs=$(grep -Eo '^Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -1)
  if [ $rc -ne 0 ]; then
    fail=1
    echo "fuzz: $n FAILED (rc=$rc), see $log and $BUILD/findings/"
    grep -E "ERROR|SUMMARY|runtime error" "$log" | head -5
  else
    echo "fuzz: $n: ${runs:-?} runs in ${SECONDS_EACH} s, no crash"
  fi
done
exit $fail
