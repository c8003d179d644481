#!/usr/bin/env bash
# Installs the Debian packages hesspec builds, tests and benchmarks with.
# Idempotent: packages already present are skipped, so `make test` can call it every time.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-dev
  libopenblas-dev liblapacke-dev
  libcriterion-dev libcjson-dev zlib1g-dev
  openmpi-bin libopenmpi-dev
  python3 python3-numpy python3-torch python3-pytest python3-scipy
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
