#!/usr/bin/env bash
# Conv-net HVP benchmark, hesspec vs PyTorch double backward, on the same module, weights and
# data (ResNet-20 shape on 1x28x28 Fashion-MNIST images by default):
#   bash bench/run-conv.sh [BUILD_DIR]
# Environment: SPEC (examples/resnet20.json), SAMPLES (256), THREADS (2), REPS (3), BLOCK (8),
#   DTYPES ("f64 f32"), PYHESSIAN ("": skip; "80,10": also time PyHessian's
#   density(iter=80, n_v=10) against `hesspec spectrum --steps 80 --probes 10`; needs pyhessian
#   on PYTHONPATH, see bench/run-spectrum.sh), DEVICE (cpu; cuda on a GPU machine, where
#   bench/gpu-check.sh calls this), PYTHON (/usr/bin/python3), OUT_DIR (temporary).
# Weights: reference.py --init (PyTorch's initialisation, BN parameters and statistics drawn
# away from 1/0). Prints both sides and the ratios last.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
SPEC=${SPEC:-$SRC/examples/resnet20.json}
SAMPLES=${SAMPLES:-256}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
BLOCK=${BLOCK:-8}
DTYPES=${DTYPES:-f64 f32}
PYHESSIAN=${PYHESSIAN:-}
PYTHON=${PYTHON:-/usr/bin/python3}
DEVICE=${DEVICE:-cpu}
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/hs_conv_bench.XXXXXX")}
mkdir -p "$OUT_DIR"
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target conv_bench hesspec_cli -j "$(nproc)" >/dev/null

"$PYTHON" "$SRC/tests/torch/reference.py" --init "$SPEC" "$OUT_DIR/weights.safetensors" 1 >/dev/null
"$PYTHON" - "$OUT_DIR" "$SAMPLES" <<'PY'
import gzip, os, sys
import numpy as np
out, n = sys.argv[1], int(sys.argv[2])
d = os.environ.get("HESSPEC_DATA", "/usr/share/datasets/fashion-mnist")
with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz"), "rb") as f:
    X = np.frombuffer(f.read(16 + n * 784)[16:], dtype=np.uint8).reshape(n, 1, 28, 28) / 255.0
with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz"), "rb") as f:
    Y = np.frombuffer(f.read(8 + n)[8:], dtype=np.uint8).astype(np.int32)
np.save(os.path.join(out, "X.npy"), X.astype(np.float64))
np.save(os.path.join(out, "Y.npy"), Y)
PY
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown); spec $(basename "$SPEC"), $SAMPLES samples, one batch, $THREADS threads"
: >"$OUT_DIR/hesspec.txt"
: >"$OUT_DIR/torch.txt"
for dt in $DTYPES; do
  OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE "$BUILD/conv_bench" "$SPEC" "$OUT_DIR/weights.safetensors" "$OUT_DIR/X.npy" \
    "$OUT_DIR/Y.npy" --threads "$THREADS" --reps "$REPS" --block "$BLOCK" --dtype "$dt" --device "$DEVICE" | tee -a "$OUT_DIR/hesspec.txt" | grep -v '^RESULT'
  PH=()
  [ -n "$PYHESSIAN" ] && [ "$dt" = f64 ] && PH=(--pyhessian "$PYHESSIAN")
  env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" GOMP_SPINCOUNT=0 "$PYTHON" "$HERE/torch_conv.py" "$SPEC" \
    "$OUT_DIR/weights.safetensors" "$OUT_DIR/X.npy" "$OUT_DIR/Y.npy" --threads "$THREADS" --reps "$REPS" --block "$BLOCK" \
    --dtype "$dt" --device "$DEVICE" ${PH[@]+"${PH[@]}"} | tee -a "$OUT_DIR/torch.txt" | grep -v '^RESULT'
done
if [ -n "$PYHESSIAN" ]; then
  steps=${PYHESSIAN%,*} probes=${PYHESSIAN#*,}
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE "$BUILD/hesspec" spectrum --device "$DEVICE" --model "$SPEC" --weights "$OUT_DIR/weights.safetensors" \
    --inputs "$OUT_DIR/X.npy" --targets "$OUT_DIR/Y.npy" --steps "$steps" --probes "$probes" --threads "$THREADS" \
    --out "$OUT_DIR/density.json" --quiet >/dev/null
  echo "RESULT f64 slq $(echo "($(date +%s.%N) - $t0) * 1000" | bc -l)" >>"$OUT_DIR/hesspec.txt"
fi
echo
awk 'FNR == 1 { side = (FILENAME ~ /hesspec\.txt$/) ? "hs" : "pt" }
     $1 == "RESULT" { v[side, $2, $3] = $4; d[$2] = 1 }
     END {
       printf "%-5s %-14s %12s %12s %10s\n", "dtype", "quantity", "hesspec", "PyTorch", "ratio"
       n = split("grad hvp1 hvpK_per_vec slq peak_mib", q, " ")
       for (t in d) for (i = 1; i <= n; i++) {
         a = v["hs", t, q[i]]; b = v["pt", t, q[i]]
         if (a == "" && b == "") continue
         printf "%-5s %-14s %12s %12s %10s\n", t, q[i] (q[i] == "peak_mib" ? "" : " (ms)"), a, b, (a > 0 && b > 0) ? sprintf("%.2fx", b / a) : "-"
       }
     }' "$OUT_DIR/hesspec.txt" "$OUT_DIR/torch.txt"
echo "(ratio = PyTorch / hesspec: above 1 means hesspec is faster or smaller; raw outputs in $OUT_DIR)"
