#!/usr/bin/env bash
# ONE command for a lent GPU machine: build with CUDA for sm_90, run the GPU test suites, run the
# benchmarks (hesspec on the GPU, PyTorch on the same model and data, the cuBLAS ceiling), and
# print a short table last.
#
#   bash bench/gpu-check.sh            full check, within GPU_CHECK_BUDGET (default 330 s: one
#                                      device call of 6 minutes including the build)
#   bash bench/gpu-check.sh --quick    gpu_ops, gpu_end_to_end, one HVP and one SLQ timing
#                                      against PyTorch; within 170 s (3 minutes)
#
# From a development session (device tool): first, here, `bash bench/gpu-deps.sh` (packs
# OpenBLAS/LAPACKE, cJSON, Criterion and pkg-config, which the GPU image lacks, into
# .gpu-deps/), then
#   run(command="bash bench/gpu-check.sh", carry=[".gpu-deps"], timeout_s=600)
# and commit $OUT/summary.txt to bench/results/ with the date, card and commit.
#
# Every stage is bounded (timeout) and its failure is reported in the table, never fatal to
# the stages after it (those that need its product are marked skipped). The whole run stays
# within GPU_CHECK_BUDGET seconds (default 330, --quick 170): the first GPU run of a session
# must leave device time for a rerun. Only the targets the stages run are built.
# Logs (at most 7 files, the device tool returns 8) go to $OUT (or ./gpu-check-out):
#   gpu-check.log  everything, in order      env.log     machine, driver, tools, commit
#   build.log      configure + build         ctest.log   ctest -L gpu (HS_REQUIRE_GPU=1)
#   bench.log      hesspec info + gpu_bench  torch.log   bench/torch_gpu.py, python_gpu_check.py
#   summary.txt    the table printed last
# Environment: GPU_CHECK_BUDGET (330; --quick 170), BUILD (build-gpu), ARCH (90), REPS (20;
#   --quick 5), STEPS (80; --quick 40), PROBES (10; --quick 2), BLOCK (8), CPU_BASELINE (1;
#   --quick 0: also time the CPU backend, f64, no SLQ), CONV (1; --quick 0: the ResNet-20 shape
#   against PyTorch), CPU_TESTS (0: 1 also runs ctest -L cpu), SANITIZE (0: opt-in; 1 runs
#   compute-sanitizer memcheck and racecheck over gpu_ops, the suite of our own kernels, after
#   the benchmarks, as the budget allows), PYTHON (python3), GPU_CHECK_FORCE_DEPS (1: use
#   .gpu-deps even where the system has the packages; to test the archive).
set -uo pipefail

QUICK=0
for a in "$@"; do
  case "$a" in
  --quick) QUICK=1 ;;
  -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "gpu-check.sh: unknown argument '$a' (--quick, --help)" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  : "${GPU_CHECK_BUDGET:=170}" "${REPS:=5}" "${STEPS:=40}" "${PROBES:=2}" "${CPU_BASELINE:=0}" "${CONV:=0}"
fi

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$SRC/gpu-check-out}
mkdir -p "$OUT"
BUILD=${BUILD:-$SRC/build-gpu}
BUDGET=${GPU_CHECK_BUDGET:-330}
ARCH=${ARCH:-90}
REPS=${REPS:-20}
STEPS=${STEPS:-80}
PROBES=${PROBES:-10}
BLOCK=${BLOCK:-8}
CPU_BASELINE=${CPU_BASELINE:-1}
CPU_TESTS=${CPU_TESTS:-0}
SANITIZE=${SANITIZE:-0}
CONV=${CONV:-1}
PYTHON=${PYTHON:-python3}
DATA=$(mktemp -d "${TMPDIR:-/tmp}/hs-gpu-data.XXXXXX")
START=$(date +%s)
LOG=$OUT/gpu-check.log
SUMMARY=$OUT/summary.txt
: >"$LOG"
for f in env build ctest bench torch; do : >"$OUT/$f.log"; done

# the caller's loader path (it may hold the driver, e.g. /usr/local/nvidia/lib64): PyTorch runs
# with it alone, not with the Debian libraries of .gpu-deps prepended below
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
STAGES=()  # "name|status|seconds|note"
declare -A OK

remaining() { echo $((BUDGET - ($(date +%s) - START))); }
note() { echo "$*" | tee -a "$LOG"; }

# stage NAME LOGFILE CAP_SECONDS NEEDS COMMAND...: runs COMMAND (a string for bash -c) under
# timeout, appending to LOGFILE and the full log; NEEDS is a stage that must have passed ("-":
# none).
stage() {
  local name=$1 logf=$2 cap=$3 needs=$4
  shift 4
  if [ "$needs" != "-" ] && [ "${OK[$needs]:-0}" != 1 ]; then
    STAGES+=("$name|skipped|0|needs $needs")
    note "=== $name: skipped (needs $needs)"
    return 1
  fi
  local rem
  rem=$(remaining)
  if [ "$rem" -lt 15 ]; then
    STAGES+=("$name|skipped|0|out of time budget")
    note "=== $name: skipped (budget of ${BUDGET}s spent)"
    return 1
  fi
  [ "$cap" -gt "$rem" ] && cap=$rem
  note "=== $name (limit ${cap}s): $*"
  local t0 rc st
  t0=$(date +%s)
  timeout -k 10 "$cap" bash -c "$*" > >(tee -a "$logf" >>"$LOG") 2>&1
  rc=$?
  sleep 0.2 # let tee drain
  local dt=$(($(date +%s) - t0))
  case $rc in
  0) st=ok; OK[$name]=1 ;;
  124 | 137) st="TIMEOUT" ;;
  *) st="FAIL(rc=$rc)" ;;
  esac
  STAGES+=("$name|$st|$dt|")
  note "=== $name: $st in ${dt}s"
  return $rc
}

# ---- environment ----
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD 2>/dev/null || echo ' (working tree modified)')"
  echo "host: $(uname -srm), $(nproc) cores"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
  command -v nvcc >/dev/null && nvcc --version | tail -2
  cmake --version | head -1
  gcc --version | head -1
  "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())' 2>&1 | tail -1
} >"$OUT/env.log" 2>&1
cat "$OUT/env.log" >>"$LOG"
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
GPU_NAME=${GPU_NAME:-"no GPU seen by nvidia-smi"}
COMMIT=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)

# ---- toolkit vs driver: a runtime newer than the driver fails every CUDA call with
# cudaErrorInsufficientDriver; say so in one line instead of a page of failed tests ----
DRIVER_CUDA=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | head -1)
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
TOOLKIT_CUDA=$("$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p' | head -1)
ver_num() { echo "$1" | awk -F. '{ printf "%d", $1 * 1000 + $2 }'; }
if [ -z "$TOOLKIT_CUDA" ]; then
  STAGES+=("driver|FAIL|0|no nvcc found (PATH, /usr/local/cuda/bin)")
elif [ -z "$DRIVER_CUDA" ]; then
  STAGES+=("driver|FAIL|0|nvidia-smi reports no driver; toolkit $TOOLKIT_CUDA")
elif [ "$(ver_num "$TOOLKIT_CUDA")" -gt "$(ver_num "$DRIVER_CUDA")" ]; then
  STAGES+=("driver|MISMATCH|0|toolkit $TOOLKIT_CUDA is newer than the driver's CUDA $DRIVER_CUDA: runtime calls will fail unless a compat package is loaded")
else
  STAGES+=("driver|ok|0|driver CUDA $DRIVER_CUDA, toolkit $TOOLKIT_CUDA")
fi
note "=== driver: ${STAGES[-1]}"

# ---- dependencies: the system's, else the carried .gpu-deps archive ----
CMAKE_EXTRA=()
deps_ok() { command -v pkg-config >/dev/null && pkg-config --exists openblas lapacke libcjson criterion zlib 2>/dev/null; }
if deps_ok && [ "${GPU_CHECK_FORCE_DEPS:-0}" != 1 ]; then
  STAGES+=("deps|ok|0|system packages")
  OK[deps]=1
elif [ -f "$SRC/.gpu-deps/hs-deps.tar.xz" ]; then
  DEPS=/tmp/hs-deps
  rm -rf "$DEPS" && mkdir -p "$DEPS" && tar -C "$DEPS" -xJf "$SRC/.gpu-deps/hs-deps.tar.xz"
  LIBDIR=$DEPS/usr/lib/x86_64-linux-gnu
  export PKG_CONFIG_SYSROOT_DIR=$DEPS
  export PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig:$DEPS/usr/share/pkgconfig
  export LD_LIBRARY_PATH=$LIBDIR:$LIBDIR/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PATH=$DEPS/usr/bin:$PATH
  CMAKE_EXTRA+=("-DPKG_CONFIG_EXECUTABLE=$DEPS/usr/bin/pkg-config" "-DCMAKE_PREFIX_PATH=$DEPS/usr"
                "-DZLIB_ROOT=$DEPS/usr")
  if deps_ok; then
    STAGES+=("deps|ok|0|carried .gpu-deps (Debian 12 libraries)")
    OK[deps]=1
  else
    STAGES+=("deps|FAIL|0|.gpu-deps unpacked but pkg-config cannot resolve them")
  fi
else
  STAGES+=("deps|FAIL|0|no OpenBLAS/LAPACKE/cJSON/Criterion here and no .gpu-deps (run bench/gpu-deps.sh, carry .gpu-deps)")
fi
note "=== deps: ${STAGES[-1]}"

# ---- build ----
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
stage configure "$OUT/build.log" 120 deps \
  "cmake -S '$SRC' -B '$BUILD' ${GEN[*]} -DCMAKE_BUILD_TYPE=Release -DHS_CUDA=ON -DHS_CUDA_ARCHITECTURES=$ARCH ${CMAKE_EXTRA[*]}"
TARGETS="hesspec_cli gpu_ops gpu_end_to_end gpu_bench hesspec_shared"
[ "$CONV" = 1 ] && TARGETS="$TARGETS conv_bench"
[ "$CPU_TESTS" = 1 ] && TARGETS="all"
stage build "$OUT/build.log" 240 configure \
  "for t in $TARGETS; do cmake --build '$BUILD' -j $(nproc) --target \$t || exit 1; done"
# every shared library the programs need is found (a library Criterion pulls in that neither
# the image nor .gpu-deps has would otherwise fail each suite with a loader message)
stage libs "$OUT/build.log" 20 build \
  "missing=\$(for b in '$BUILD/gpu_ops' '$BUILD/gpu_end_to_end' '$BUILD/hesspec'; do ldd \"\$b\" | grep 'not found'; done | sort -u); [ -z \"\$missing\" ] || { echo \"unresolved: \$missing\"; exit 1; }"

# ---- GPU test suites (a missing GPU fails here instead of skipping) ----
stage gpu-tests "$OUT/ctest.log" 240 build \
  "cd '$BUILD' && HS_REQUIRE_GPU=1 ctest -L gpu --output-on-failure --timeout 200"

# ---- benchmarks ----
stage info "$OUT/bench.log" 30 build "'$BUILD/hesspec' info"
stage bench-gpu "$OUT/bench.log" 180 build \
  "'$BUILD/gpu_bench' --device cuda --reps $REPS --block $BLOCK --steps $STEPS --probes $PROBES --export '$DATA'"
stage torch "$OUT/torch.log" 180 bench-gpu \
  "PYTHONUNBUFFERED=1 LD_LIBRARY_PATH='$ORIG_LD_LIBRARY_PATH' '$PYTHON' '$SRC/bench/torch_gpu.py' --data '$DATA' --device cuda --reps $REPS --block $BLOCK --steps $STEPS --probes $PROBES"
# the Python package on the GPU against itself on the CPU (bench/python_gpu_check.py)
stage python "$OUT/torch.log" 90 build \
  "PYTHONUNBUFFERED=1 PYTHONPATH='$SRC/python' HESSPEC_LIBRARY='$BUILD/libhesspec.so' LD_LIBRARY_PATH='$ORIG_LD_LIBRARY_PATH:${LD_LIBRARY_PATH:-}' '$PYTHON' '$SRC/bench/python_gpu_check.py'"
# the ResNet-20 shape on 256 Fashion-MNIST images, hesspec vs PyTorch on the GPU (its table goes
# into bench.log and the summary)
[ "$CONV" = 1 ] && stage conv "$OUT/bench.log" 150 build \
  "DEVICE=cuda SAMPLES=256 REPS=3 PYTHON='$PYTHON' OUT_DIR='$OUT/conv-data' LD_LIBRARY_PATH='$ORIG_LD_LIBRARY_PATH:${LD_LIBRARY_PATH:-}' bash '$SRC/bench/run-conv.sh' '$BUILD'"
rm -rf "$OUT/conv-data"
if [ "$CPU_BASELINE" = 1 ]; then
  stage bench-cpu "$OUT/bench.log" 90 build \
    "OMP_NUM_THREADS=$(nproc) '$BUILD/gpu_bench' --device cpu --dtype f64 --reps 3 --block $BLOCK --no-slq --no-peak"
fi
if [ "$CPU_TESTS" = 1 ]; then
  stage cpu-tests "$OUT/ctest.log" 200 build "cd '$BUILD' && ctest -L cpu --output-on-failure -j $(nproc)"
fi
# compute-sanitizer over the op suite (out-of-bounds accesses, shared-memory races in the
# reduction kernels); last, since it is slow and only a check
if [ "$SANITIZE" = 1 ]; then
  CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  stage memcheck "$OUT/ctest.log" 150 build \
    "HS_REQUIRE_GPU=1 '$CS' --tool memcheck --target-processes all --error-exitcode 99 '$BUILD/gpu_ops' --jobs 1"
  stage racecheck "$OUT/ctest.log" 150 build \
    "HS_REQUIRE_GPU=1 '$CS' --tool racecheck --target-processes all --error-exitcode 99 '$BUILD/gpu_ops' --jobs 1"
fi
rm -rf "$DATA"

# ---- the table ----
{
  echo "hesspec GPU check: $(date -u '+%Y-%m-%d %H:%M UTC'), $GPU_NAME, commit $COMMIT, sm_$ARCH, $(($(date +%s) - START))s"
  echo
  printf '%-11s %-14s %7s  %s\n' stage status seconds note
  for s in "${STAGES[@]}"; do
    IFS='|' read -r n st dt nt <<<"$s"
    printf '%-11s %-14s %7s  %s\n' "$n" "$st" "$dt" "$nt"
  done
  grep -h '^RESULT python' "$OUT/torch.log" 2>/dev/null | sed 's/^RESULT /  /'
  if [ -f "$OUT/ctest.log" ]; then
    grep -E "tests passed|tests failed|\*\*\*Failed|Skipped|Passed" "$OUT/ctest.log" | sed 's/^/  ctest: /' | tail -6
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/ctest.log" | sed 's/^=* *//' | sort | uniq -c | sed 's/^/  sanitizer: /' | head -4
  fi
  echo
  cat "$OUT/bench.log" "$OUT/torch.log" 2>/dev/null | awk '
    $1 == "RESULT" && NF == 5 { v[$2, $3, $4] = $5 }
    function cell(x) { return (x == "" ? sprintf("%9s", "-") : sprintf("%9.3f", x)) }
    function rat(a, b) { return (a == "" || b == "" || a == 0) ? sprintf("%7s", "-") : sprintf("%6.2fx", b / a) }
    function row(label, hq, tq, d) { printf "  %-42s %s %s %s\n", label, cell(v["cuda", d, hq]), cell(v["torch", d, tq]), rat(v["cuda", d, hq], v["torch", d, tq]) }
    END {
      printf "Times in ms (median), per vector for blocks; ratio = PyTorch / hesspec (> 1: hesspec faster)\n"
      n = split("f64 f32", ds, " ")
      for (i = 1; i <= n; i++) {
        d = ds[i]
        if (v["cuda", d, "grad"] == "" && v["torch", d, "grad"] == "") continue
        printf "[%s] %-40s %9s %9s %7s\n", d, "", "hesspec", "PyTorch", "ratio"
        row("gradient", "grad", "grad", d)
        row("HVP single vs double-backward (retained)", "hvp1", "hvp1", d)
        row("HVP single vs double-backward (full)", "hvp1", "hvp1_full", d)
        row("HVP single vs torch.func jvp(grad)", "hvp1", "func_hvp1", d)
        row("HVP block/vec vs torch.func vmap", "hvpK_per_vec", "func_hvpK_per_vec", d)
        row("SLQ end to end (same steps, probes)", "slq_total", "slq_total", d)
        printf "  %-42s %s   (hesspec HVP / floor: %s)\n", "cuBLAS floor of an HVP (same GEMMs)", cell(v["cuda", d, "gemm_hvp_floor"]), \
          (v["cuda", d, "gemm_hvp_floor"] > 0 ? sprintf("%.2f", v["cuda", d, "hvp1"] / v["cuda", d, "gemm_hvp_floor"]) : "-")
        printf "  %-42s %9s\n", "GGN single", (v["cuda", d, "ggn1"] == "" ? "-" : sprintf("%9.3f", v["cuda", d, "ggn1"]))
        printf "  %-42s %9s TFLOP/s\n", "cuBLAS 4096^3 GEMM", (v["cuda", d, "gemm4096_tflops"] == "" ? "-" : sprintf("%9.1f", v["cuda", d, "gemm4096_tflops"]))
        printf "  %-42s %s / %s   lambda_max %s / %s\n", "check: loss at init hesspec / torch", v["cuda", d, "loss_at_init"], v["torch", d, "loss_at_init"], \
          v["cuda", d, "slq_lambda_max"], v["torch", d, "slq_lambda_max"]
      }
      if (v["cpu", "f64", "grad"] != "")
        printf "[f64] CPU backend (all cores): gradient %.3f ms, HVP %.3f ms, block/vec %.3f ms (GPU speed-up on HVP: %s)\n", \
          v["cpu", "f64", "grad"], v["cpu", "f64", "hvp1"], v["cpu", "f64", "hvpK_per_vec"], \
          (v["cuda", "f64", "hvp1"] > 0 ? sprintf("%.1fx", v["cpu", "f64", "hvp1"] / v["cuda", "f64", "hvp1"]) : "-")
    }'
  if grep -q "^dtype quantity" "$OUT/bench.log" 2>/dev/null; then
    echo "ResNet-20 shape, 256 images, one batch (bench/run-conv.sh; ratio = PyTorch / hesspec):"
    sed -n '/^dtype quantity/,/^(ratio/p' "$OUT/bench.log" | sed 's/^/  /'
  fi
} >"$SUMMARY"
echo >>"$LOG"
cat "$SUMMARY" | tee -a "$LOG"

# exit status: 0 only when the build and the GPU tests passed
[ "${OK[gpu-tests]:-0}" = 1 ]
