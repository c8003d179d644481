#!/usr/bin/env bash
# MPI data-parallel SLQ benchmark (issue 9, docs/mpi.md):
#   bash bench/run-mpi.sh [BUILD_DIR]        (default: build)
# SLQ (STEPS x PROBES, default 80 x 10) of the 784-256-256-256-10 ReLU net
# (examples/mlp-bench.json, seeded initialisation) over the first SAMPLES (4096) Fashion-MNIST
# training images, in batches of BATCH (512: whole batches are what the ranks share), at each
# rank count of NPS ("1 2"). THREADS per rank (default: cores / ranks, at least 1), DTYPE
# (f64), OUT_DIR (raw outputs; default a temporary directory).
# Prints per run the wall time, the operator time and products, the time the rank-order
# reduction took (HESSPEC_MPI_STATS: gather + sum + broadcast, after a barrier that takes the
# ranks' arrival skew, wait_s, apart; maxima over ranks), its share of the operator time
# (reduce/op) and both per product (one HVP of one direction; a step reduces PROBES at once), and
# checks that every run's density equals the np 1 one to 1e-12 (nodes and weights).
# The numbers mean something only on a quiet machine: run it when nothing else loads it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
SAMPLES=${SAMPLES:-4096}
STEPS=${STEPS:-80}
PROBES=${PROBES:-10}
BATCH=${BATCH:-512}
NPS=${NPS:-1 2}
DTYPE=${DTYPE:-f64}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/hs_mpi_bench.XXXXXX")}
mkdir -p "$OUT_DIR"
CORES=$(nproc)

command -v mpirun >/dev/null || { echo "run-mpi.sh: mpirun is not on PATH (apt-get install openmpi-bin)" >&2; exit 1; }
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHS_MPI=ON >/dev/null
fi
grep -q '^HS_MPI:STRING=OFF' "$BUILD/CMakeCache.txt" && { echo "run-mpi.sh: $BUILD was configured with HS_MPI=OFF" >&2; exit 1; }
cmake --build "$BUILD" --target hesspec_cli -j "$CORES" >/dev/null

P=$(( 784 * 256 + 256 + 2 * (256 * 256 + 256) + 256 * 10 + 10 ))
echo "== machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
echo "== SLQ $STEPS steps x $PROBES probes, P = $P, $SAMPLES images in batches of $BATCH, $DTYPE; $(mpirun --version | head -1)"
echo "== one reduction per Lanczos step: $PROBES x P = $(( PROBES * P )) doubles ($(( PROBES * P * 8 / 1048576 )) MiB) per rank"

printf '%-4s %-8s %-9s %-10s %-10s %-8s %-8s %-12s %-10s %s\n' np threads wall_s operator_s products reduce_s wait_s reduce/op ms/HVP ms_reduce/HVP
for np in $NPS; do
  threads=${THREADS:-$(( CORES / np > 0 ? CORES / np : 1 ))}
  out="$OUT_DIR/density-np$np.json"
  t0=$(date +%s.%N)
  HESSPEC_MPI_STATS=1 OMP_NUM_THREADS=$threads mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" \
    "$BUILD/hesspec" spectrum --model "$SRC/examples/mlp-bench.json" --dataset fashion-mnist \
    --samples "$SAMPLES" --batch "$BATCH" --threads "$threads" --device cpu --dtype "$DTYPE" \
    --steps "$STEPS" --probes "$PROBES" --seed 1 --out "$out" >"$OUT_DIR/np$np.out" 2>"$OUT_DIR/np$np.err"
  t1=$(date +%s.%N)
  line=$(grep '^time ' "$OUT_DIR/np$np.out")
  op=$(sed -E 's/.*operator ([0-9.]+) s \(([0-9]+) products\).*/\1/' <<<"$line")
  prods=$(sed -E 's/.*operator ([0-9.]+) s \(([0-9]+) products\).*/\2/' <<<"$line")
  red=$(sed -nE 's/^mpi: .*, ([0-9.]+) s in reductions.*/\1/p' "$OUT_DIR/np$np.err")
  wait=$(sed -nE 's/^mpi: .*, ([0-9.]+) s waiting.*/\1/p' "$OUT_DIR/np$np.err")
  red=${red:-0}
  wait=${wait:-0}
  awk -v np="$np" -v th="$threads" -v t0="$t0" -v t1="$t1" -v op="$op" -v n="$prods" -v r="$red" -v wt="$wait" \
    'BEGIN { printf "%-4s %-8s %-9.2f %-10.3f %-10d %-8.3f %-8.3f %-12.4f %-10.2f %.3f\n", np, th, t1 - t0, op, n, r, wt, (op > 0 ? r / op : 0), 1000 * op / n, 1000 * r / n }'
done

echo "== densities against np 1 (nodes and weights, relative to each array's largest magnitude)"
"$PYTHON" - "$OUT_DIR" $NPS <<'EOF'
import json, sys
out, nps = sys.argv[1], sys.argv[2:]
ref = json.load(open(f"{out}/density-np{nps[0]}.json"))["probes"]
for np in nps[1:]:
    d = json.load(open(f"{out}/density-np{np}.json"))["probes"]
    err = 0.0
    for a, b in zip(ref, d):
        for k in ("nodes", "weights"):
            s = max(abs(x) for x in a[k]) or 1.0
            err = max(err, max(abs(x - y) for x, y in zip(a[k], b[k])) / s)
    print(f"np {np}: max relative difference {err:.3g}", "ok" if err <= 1e-12 else "FAILED (> 1e-12)")
EOF
echo "== raw outputs in $OUT_DIR"
