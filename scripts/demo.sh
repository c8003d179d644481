#!/usr/bin/env bash
# The main job of `make demo`: two networks of the same depth and width on a Fashion-MNIST
# subset (a plain ReLU MLP and one with batch norm and skip connections), their loss,
# exact Hessian-vector products, top eigenvalues, trace and SLQ spectral densities, and
# one plot overlaying the two densities. Output: demo-out/ (override with DEMO_OUT).
set -euo pipefail
bin=${1:-build/hesspec}
out=${DEMO_OUT:-demo-out}
samples=${DEMO_SAMPLES:-1024}
mkdir -p "$out"
data=(--dataset fashion-mnist --samples "$samples" --seed 1)

echo "== hesspec demo: Hessian spectra of two 784-64-64(-64)-10 networks on $samples Fashion-MNIST images"
"$bin" info
for model in mlp-relu mlp-bn-residual; do
  spec=examples/$model.json
  echo
  echo "== $model ($spec)"
  "$bin" loss --model "$spec" "${data[@]}" --out "$out/$model-grad.npy"
  "$bin" eig --model "$spec" "${data[@]}" --top 5 --out "$out/$model-top.json"
  "$bin" trace --model "$spec" "${data[@]}" --probes 20 --out "$out/$model-trace.json"
  "$bin" spectrum --model "$spec" "${data[@]}" --steps 80 --probes 10 --out "$out/$model-density.json"
done
"$bin" plot "$out/mlp-relu-density.json" "$out/mlp-bn-residual-density.json" --out "$out/densities.svg"
echo
echo "== done: $out/ holds the density files (JSON + CSV), eigenvalues, traces and densities.svg"
ls -1 "$out"
