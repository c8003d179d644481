#!/usr/bin/python3
"""PyHessian side of the SLQ benchmark (bench/run-spectrum.sh).

Builds the 784-256-256-256-10 ReLU MLP (bias, cross entropy, mean over N = 1024 samples, one
batch) with PyTorch's default initialisation under a fixed seed, writes its parameters as a
safetensors checkpoint with hesspec's tensor names (so hesspec computes the spectrum of the
very same Hessian), then times PyHessian's `hessian(model, criterion, data=(X, Y), cuda=False)`
plus `density(iter=STEPS, n_v=PROBES)`: graph construction (the retained gradient graph) and
the SLQ loop, the way a PyHessian user runs it.

Needs torch (Debian's python3-torch: /usr/bin/python3) and pyhessian, installed without its
dependencies: `/usr/bin/python3 -m pip install --no-deps --target DIR pyhessian` (then
PYTHONPATH=DIR), or `--break-system-packages` instead of `--target`.
Output: a readable report and `RESULT <dtype> <quantity> <value>` lines.
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.blocks = nn.ModuleList()
        for a, b in zip(widths[:-2], widths[1:-1]):
            blk = nn.Module()
            blk.linear = nn.Linear(a, b)
            self.blocks.append(blk)
        self.head = nn.Linear(widths[-2], widths[-1])

    def forward(self, x):
        for blk in self.blocks:
            x = torch.relu(blk.linear(x))
        return self.head(x)


def load_data(n):
    d = os.environ.get("HESSPEC_DATA", "/usr/share/datasets/fashion-mnist")
    img, lab = os.path.join(d, "train-images-idx3-ubyte.gz"), os.path.join(d, "train-labels-idx1-ubyte.gz")
    if not (os.path.exists(img) and os.path.exists(lab)):
        raise SystemExit(f"pyhessian_density.py: Fashion-MNIST not found in {d} (Debian package dataset-fashion-mnist)")
    with gzip.open(img, "rb") as f:
        raw = f.read(16 + n * 784)
    with gzip.open(lab, "rb") as f:
        rl = f.read(8 + n)
    X = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 784).astype(np.float64) / 255.0
    Y = np.frombuffer(rl[8:], dtype=np.uint8).astype(np.int64)
    return X, Y


def save_safetensors(path, tensors):
    """tensors: list of (name, float64 numpy array) in file order."""
    header, offset, blobs = {}, 0, []
    for name, a in tensors:
        b = np.ascontiguousarray(a, dtype="<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def _eig_removed():
    try:
        torch.eig(torch.eye(2), eigenvectors=True)
        return False
    except RuntimeError:
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--probes", type=int, default=10)
    ap.add_argument("--dtypes", default="f32,f64")
    ap.add_argument("--weights-out", required=True, help="safetensors checkpoint for hesspec --weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from pyhessian import hessian  # noqa: E402 (after torch is configured)

    if not hasattr(torch, "eig") or _eig_removed():
        # PyHessian 0.1 diagonalises its tridiagonal with torch.eig, removed in torch >= 1.13.
        # The same result (eigenvalues in column 0, eigenvectors as columns) from eigh; the
        # tridiagonal is iter x iter, so this costs nothing measurable.
        def eig(T, eigenvectors=False):
            w, V = torch.linalg.eigh(T)
            return torch.stack([w, torch.zeros_like(w)], 1), V
        torch.eig = eig

    torch.manual_seed(0)
    model0 = MLP([784, 256, 256, 256, 10])
    save_safetensors(args.weights_out, [(k, v.detach().double().numpy()) for k, v in model0.state_dict().items()])
    X, Y = load_data(args.samples)
    P = sum(p.numel() for p in model0.parameters())
    print(f"PyHessian density(iter={args.steps}, n_v={args.probes}), P = {P}, N = {args.samples}, "
          f"{args.threads} threads, torch {torch.__version__}")
    for dt in args.dtypes.split(","):
        tdt = torch.float64 if dt == "f64" else torch.float32
        model = MLP([784, 256, 256, 256, 10]).to(tdt)
        model.load_state_dict({k: v.to(tdt) for k, v in model0.state_dict().items()})
        inputs, targets = torch.tensor(X, dtype=tdt), torch.tensor(Y)
        crit = nn.CrossEntropyLoss()
        torch.manual_seed(1)
        t0 = time.perf_counter()
        h = hessian(model, crit, data=(inputs, targets), cuda=False)
        t1 = time.perf_counter()
        eig, w = h.density(iter=args.steps, n_v=args.probes)
        t2 = time.perf_counter()
        nodes = np.array(eig)
        weights = np.array(w)
        trace = P * float(np.mean(np.sum(nodes * weights, axis=1)))
        print(f"  {dt}: total {t2 - t0:.2f} s (graph {t1 - t0:.2f} s, SLQ {t2 - t1:.2f} s); "
              f"lambda [{nodes.min():.6g}, {nodes.max():.6g}], trace ~ {trace:.6g}")
        print(f"RESULT {dt} seconds {t2 - t0:.6f}")
        print(f"RESULT {dt} lambda_max {nodes.max():.10g}")
        print(f"RESULT {dt} lambda_min {nodes.min():.10g}")


if __name__ == "__main__":
    main()
