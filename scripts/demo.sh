#!/usr/bin/env bash
# The main job of `make demo`: `hesspec compare` with the preset examples/compare-demo.json.
# Five network kinds of the same depth and width (linear, ReLU, ReLU + batch norm, ReLU +
# skip connections, ReLU + batch norm + skip connections) are trained on a Fashion-MNIST
# subset from three seeds; at initialisation and after epochs 2, 5 and 10 the loss Hessian is
# analysed (SLQ spectral density, lambda_max/lambda_min by Lanczos, trace, negative mass); then
# a 2D loss landscape around the trained relu and relu-bn-res nets and the critical points of a
# small tanh net (Newton-MR, index against loss); lambda_max and the top-10 gradient overlap
# after every epoch (against 2/lr); after training the densities of H, G and H - G and every
# layer's lambda_max.
# Output: the report folder demo-out/compare/ (override with DEMO_OUT) with index.html.
# Without the Debian package dataset-fashion-mnist the data are a synthetic Gaussian mixture
# (a notice says so). About 4 minutes on 2 CPU cores (README, "Comparing networks").
set -euo pipefail
# OpenMP threads that spin while waiting (libgomp's default) lose most of their time when the
# cores are shared with other work: on the 2-core development machine under a load of 4-6 the
# demo's analyses ran 9x slower than with passive waiting (measured: 91 s vs 10 s for one
# kind). Passive waiting costs little when the machine is idle.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
bin=${1:-build/hesspec}
out=${DEMO_OUT:-demo-out}
preset=${DEMO_PRESET:-examples/compare-demo.json}
mkdir -p "$out"

echo "== hesspec demo: Hessian spectra of linear, ReLU, batch-norm and residual networks"
"$bin" info
echo
echo "== hesspec compare --preset $preset --out $out/compare"
start=$(date +%s)
"$bin" compare --preset "$preset" --out "$out/compare"
echo
echo "== done in $(( $(date +%s) - start ))s: open $out/compare/index.html"
echo "   (summary.csv and summary.md: one row per kind, seed and analysed epoch; plots/: SVG;"
echo "    runs/<kind>-s<seed>/: training log, density, eigenvalue and landscape files; critical/: critical points)"
