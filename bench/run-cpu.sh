#!/usr/bin/env bash
# CPU HVP benchmark, hesspec vs PyTorch (called by `make bench`):
#   bash bench/run-cpu.sh [BUILD_DIR]        (default: build)
# Environment: THREADS (2), REPS (10), BLOCK (8), SAMPLES (1024), DATA (auto|fashion-mnist|synthetic),
#              PYTHON (/usr/bin/python3, the interpreter with torch), CLOCK (wall|cpu: process CPU
#              time, robust on a busy shared machine when THREADS=1), TORCH_ENV (extra environment
#              of the PyTorch run; default GOMP_SPINCOUNT=0: torch's idle OpenMP threads otherwise
#              spin on the cores OpenBLAS's own threads need, which costs PyTorch up to 1.7x at 2
#              threads; set TORCH_ENV=" " to measure PyTorch's out-of-the-box setting).
# Builds bench/hvp_bench.c, runs it and bench/torch_hvp.py on the same model (784-256-256-256-10
# ReLU, cross entropy), data and thread count, and prints per-vector times and the ratios
# (goal: >= 1.5x faster than PyTorch single, >= 3x with blocks of 8). Raw outputs are kept in
# $OUT_DIR (default: a temporary directory, printed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
THREADS=${THREADS:-2}
REPS=${REPS:-10}
BLOCK=${BLOCK:-8}
SAMPLES=${SAMPLES:-1024}
DATA=${DATA:-auto}
CLOCK=${CLOCK:-wall}
TORCH_ENV=${TORCH_ENV:-GOMP_SPINCOUNT=0}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/hs_bench.XXXXXX")}
mkdir -p "$OUT_DIR"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target hvp_bench -j "$(nproc)" >/dev/null

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
echo "== hesspec ($BUILD/hvp_bench)"
OMP_NUM_THREADS=$THREADS "$BUILD/hvp_bench" --threads "$THREADS" --reps "$REPS" --block "$BLOCK" \
  --samples "$SAMPLES" --data "$DATA" --clock "$CLOCK" | tee "$OUT_DIR/hesspec.txt" | grep -v '^RESULT'

HAVE_TORCH=1
if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
  HAVE_TORCH=0
  echo "== PyTorch: $PYTHON has no torch; hesspec numbers only"
  : >"$OUT_DIR/torch.txt"
else
  echo "== PyTorch ($PYTHON bench/torch_hvp.py)"
  # torch.set_num_threads does not reach OpenBLAS's own pthreads pool: pin both.
  echo "   environment: OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS $TORCH_ENV"
  # shellcheck disable=SC2086 # TORCH_ENV is a list of VAR=value words
  env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" $TORCH_ENV "$PYTHON" "$HERE/torch_hvp.py" --threads "$THREADS" --reps "$REPS" --block "$BLOCK" \
    --samples "$SAMPLES" --data "$DATA" --clock "$CLOCK" | tee "$OUT_DIR/torch.txt" | grep -v '^RESULT'
fi

echo
awk -v K="$BLOCK" -v T="$THREADS" -v CLK="$CLOCK" -v have_torch="$HAVE_TORCH" '
  FNR == 1 { side = (FILENAME ~ /hesspec\.txt$/) ? "hs" : "pt" }
  $1 == "RESULT" { v[side, $2, $3] = $4 }
  function cell(x) { return (x == "" ? sprintf("%10s", "-") : sprintf("%10.2f", x)) }
  function ratio(a, b) { return (a == "" || b == "" || b == 0) ? sprintf("%8s", "-") : sprintf("%7.2fx", a / b) }
  function mn(a, b) { return a == "" ? b : (b == "" ? a : (a + 0 < b + 0 ? a : b)) }
  END {
    printf "Per-vector times in ms (%s clock), best of the repetitions, %s threads; ratio = PyTorch / hesspec (> 1: hesspec faster)\n", CLK, T
    printf "data: hesspec %s, PyTorch %s\n", v["hs", "meta", "data"], (have_torch ? v["pt", "meta", "data"] : "-")
    printf "%-5s %-34s %10s %10s %8s  %s\n", "dtype", "quantity", "hesspec", "PyTorch", "ratio", "goal"
    n = split("f64 f32", dts, " ")
    for (i = 1; i <= n; i++) {
      d = dts[i]
      if (v["hs", d, "grad"] == "") continue
      pt1 = v["pt", d, "hvp1"]; ptk = v["pt", d, "hvpK_per_vec"]; ptl = v["pt", d, "hvpK_loop_per_vec"]
      best = mn(mn(pt1, ptk), ptl)
      g1 = (v["hs", d, "hvp1"] != "" && pt1 != "") ? (pt1 / v["hs", d, "hvp1"] >= 1.5 ? "met (>= 1.5x)" : "NOT met (< 1.5x)") : ""
      gk = (v["hs", d, "hvpK_per_vec"] != "" && best != "") ? (best / v["hs", d, "hvpK_per_vec"] >= 3 ? "met (>= 3x)" : "NOT met (< 3x)") : ""
      printf "%-5s %-34s %s %s %s\n", d, "gradient", cell(v["hs", d, "grad"]), cell(v["pt", d, "grad"]), ratio(v["pt", d, "grad"], v["hs", d, "grad"])
      printf "%-5s %-34s %s %s %s  %s\n", d, "HVP single (PyTorch graph retained)", cell(v["hs", d, "hvp1"]), cell(pt1), ratio(pt1, v["hs", d, "hvp1"]), (d == "f64" ? g1 : "")
      printf "%-5s %-34s %s %s %s\n", d, "HVP block of " K " vs PyTorch batched", cell(v["hs", d, "hvpK_per_vec"]), cell(ptk), ratio(ptk, v["hs", d, "hvpK_per_vec"])
      printf "%-5s %-34s %s %s %s  %s\n", d, "HVP block of " K " vs PyTorch best", cell(v["hs", d, "hvpK_per_vec"]), cell(best), ratio(best, v["hs", d, "hvpK_per_vec"]), (d == "f64" ? gk : "")
      printf "%-5s %-34s %s %s %s\n", d, "HVP single vs PyTorch incl. graph", cell(v["hs", d, "hvp1"]), cell(v["pt", d, "hvp1_full"]), ratio(v["pt", d, "hvp1_full"], v["hs", d, "hvp1"])
      printf "%-5s %-34s %s %s\n", d, "GGN single (hesspec only)", cell(v["hs", d, "ggn1"]), cell("")
      fl = v["hs", d, "floor_blas_hvp1"]
      printf "%-5s %-34s %s %s %s  %s\n", d, "GEMM floor of one HVP (BLAS only)", cell(fl), cell(pt1), ratio(pt1, fl), "= the most any engine can gain"
      printf "%-5s %-34s %s %s\n", d, "  same GEMMs, hesspec tiled gemm", cell(v["hs", d, "floor_tiled_hvp1"]), cell("")
      printf "%-5s %-34s %s %s %s\n", d, "GEMM floor of one gradient", cell(v["hs", d, "floor_blas_grad"]), cell(v["pt", d, "grad"]), ratio(v["pt", d, "grad"], v["hs", d, "floor_blas_grad"])
    }
    if (have_torch) printf "PyTorch batched method: %s (f64), %s (f32); \"best\" = min over single, batched and loop per vector\n", v["pt", "f64", "batched_method"], v["pt", "f32", "batched_method"]
  }' "$OUT_DIR/hesspec.txt" "$OUT_DIR/torch.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg) (a busy machine inflates wall times; compare with CLOCK=cpu THREADS=1)"
echo "raw outputs: $OUT_DIR"
