#!/usr/bin/env bash
# SLQ benchmark, hesspec vs PyHessian (issue: spectra):
#   bash bench/run-spectrum.sh [BUILD_DIR]        (default: build)
# Environment: THREADS (2), SAMPLES (1024), STEPS (80), PROBES (10), DTYPES (f32,f64),
#              REORTH (full; "full,partial" also times --reorth partial),
#              PYTHON (/usr/bin/python3, the interpreter with torch), PYHESSIAN_DIR (where
#              `pip install --no-deps --target` put pyhessian; default $BUILD/pyhessian, installed
#              there on first use), OUT_DIR (raw outputs; default a temporary directory).
# Same model (784-256-256-256-10 ReLU, cross entropy, PyTorch's initialisation written to a
# checkpoint that hesspec loads), same data (the first SAMPLES Fashion-MNIST training images),
# same thread count, f32 and f64. Prints both wall times, the ratio (goal: >= 4x) and
# hesspec's time split.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
THREADS=${THREADS:-2}
SAMPLES=${SAMPLES:-1024}
STEPS=${STEPS:-80}
PROBES=${PROBES:-10}
DTYPES=${DTYPES:-f32,f64}
REORTH=${REORTH:-full}
PYTHON=${PYTHON:-/usr/bin/python3}
PYHESSIAN_DIR=${PYHESSIAN_DIR:-$BUILD/pyhessian}
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/hs_spectrum_bench.XXXXXX")}
mkdir -p "$OUT_DIR"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target hesspec_cli -j "$(nproc)" >/dev/null
if ! PYTHONPATH="$PYHESSIAN_DIR" "$PYTHON" -c 'import pyhessian' >/dev/null 2>&1; then
  echo "== installing pyhessian (no dependencies) into $PYHESSIAN_DIR"
  "$PYTHON" -m pip install --quiet --no-deps --target "$PYHESSIAN_DIR" pyhessian
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
if [ -n "${REUSE_PYHESSIAN:-}" ] && [ -s "$OUT_DIR/pyhessian.txt" ] && [ -s "$OUT_DIR/weights.safetensors" ]; then
  echo "== PyHessian (reused from $OUT_DIR/pyhessian.txt)"
  grep -v '^RESULT' "$OUT_DIR/pyhessian.txt"
else
  echo "== PyHessian"
  OMP_NUM_THREADS=$THREADS PYTHONPATH="$PYHESSIAN_DIR" "$PYTHON" "$HERE/pyhessian_density.py" --threads "$THREADS" \
    --samples "$SAMPLES" --steps "$STEPS" --probes "$PROBES" --dtypes "$DTYPES" \
    --weights-out "$OUT_DIR/weights.safetensors" 2>/dev/null | tee "$OUT_DIR/pyhessian.txt" | grep -v '^RESULT'
fi

echo "== hesspec"
: >"$OUT_DIR/hesspec.txt"
for ro in ${REORTH//,/ }; do
for dt in ${DTYPES//,/ }; do
  tag=$dt
  [ "$ro" = full ] || tag="$dt-$ro"
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$THREADS "$BUILD/hesspec" spectrum --model "$SRC/examples/mlp-bench.json" \
    --weights "$OUT_DIR/weights.safetensors" --dataset fashion-mnist --samples "$SAMPLES" \
    --threads "$THREADS" --device cpu --dtype "$dt" --steps "$STEPS" --probes "$PROBES" --seed 1 \
    --reorth "$ro" --out "$OUT_DIR/hesspec_$tag.json" --quiet
  t1=$(date +%s.%N)
  "$PYTHON" - "$OUT_DIR/hesspec_$tag.json" "$tag" "$t0" "$t1" <<'PY' | tee -a "$OUT_DIR/hesspec.txt" | grep -v '^RESULT'
import json, sys
d = json.load(open(sys.argv[1])); dt = sys.argv[2]; wall = float(sys.argv[4]) - float(sys.argv[3])
t, s = d["timing"], d["summary"]
print(f"  {dt}: process {wall:.2f} s, SLQ {t['total_seconds']:.2f} s = operator {t['operator_seconds']:.2f} s "
      f"({t['operator_applications']} HVPs, {1e3 * t['operator_seconds'] / t['operator_applications']:.1f} ms each) "
      f"+ reorthogonalisation {t['reorth_seconds']:.2f} s + host {t['host_seconds']:.3f} s; "
      f"lambda [{s['lambda_min']:.6g}, {s['lambda_max']:.6g}], trace ~ {s['trace']:.6g}")
print(f"RESULT {dt} seconds {wall:.6f}")
for k in ("operator_seconds", "reorth_seconds", "host_seconds", "total_seconds"):
    print(f"RESULT {dt} {k} {t[k]:.6f}")
print(f"RESULT {dt} lambda_max {s['lambda_max']:.10g}")
PY
done
done

echo
awk -v T="$THREADS" -v S="$STEPS" -v K="$PROBES" '
  FNR == 1 { side = (FILENAME ~ /hesspec\.txt$/) ? "hs" : "ph" }
  $1 == "RESULT" { v[side, $2, $3] = $4; seen[$2] = 1 }
  END {
    printf "SLQ (%s steps x %s probes), wall seconds, %s threads; ratio = PyHessian / hesspec (goal >= 4x)\n", S, K, T
    printf "%-12s %10s %10s %8s   %s\n", "dtype", "hesspec", "PyHessian", "ratio", "hesspec split: operator / reorth / host; lambda_max hesspec vs PyHessian"
    for (d in seen) {
      if (v["hs", d, "seconds"] == "") continue
      split(d, base, "-")
      hs = v["hs", d, "seconds"]; ph = v["ph", base[1], "seconds"]
      printf "%-12s %10.2f %10.2f %7.2fx   %.2f / %.2f / %.3f s; %.6g vs %.6g\n", d, hs, ph, (hs > 0 ? ph / hs : 0),
             v["hs", d, "operator_seconds"], v["hs", d, "reorth_seconds"], v["hs", d, "host_seconds"],
             v["hs", d, "lambda_max"], v["ph", base[1], "lambda_max"]
    }
  }' "$OUT_DIR/hesspec.txt" "$OUT_DIR/pyhessian.txt"
echo "(raw outputs in $OUT_DIR)"
