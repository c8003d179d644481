#!/usr/bin/python3
"""The Python binding's overhead per Hessian-vector product against the C engine (issue 13).

Model and data of bench/hvp_bench.c: the 784-256-256-256-10 ReLU MLP (cross entropy), 1024
samples in one batch (the first Fashion-MNIST training images when the Debian package is
installed, else Gaussian inputs; the timing does not depend on the values), f64. Three levels:

  engine   hs_nn_apply on device buffers (what Lanczos and SLQ call)      hvp_bench "hvp1"
  C API    hs_model_hvp, host arrays in and out                          hvp_bench "api_hvp1"
  Python   model.hvp(V) with a numpy V: argument checks, a worker thread, ctypes, the C API

for one direction and for blocks of --block directions (per direction), best of --reps after a
warm-up, in --rounds interleaved rounds (C, Python, C, Python, ...) whose best is kept, so that
load from other jobs on a shared machine touches both sides alike. --clock cpu (default) counts
process CPU time (all threads), which a loaded machine disturbs far less than wall time; use it
with --threads 1.

    python3 bench/python_overhead.py --build build [--threads 1] [--clock cpu] [--out bench/results/X.md]

Needs build/hvp_bench and build/libhesspec.so (the package is taken from python/ beside this file).
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = {"input_dim": 784, "hidden": [256, 256, 256], "output_dim": 10, "activation": "relu", "bias": True,
        "loss": "cross_entropy"}
FMNIST = "/usr/share/datasets/fashion-mnist"


def data(n):
    path = os.path.join(FMNIST, "train-images-idx3-ubyte.gz")
    if os.path.exists(path):
        with gzip.open(path) as f:
            X = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 784) / 255.0
        with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
        return X, y, "fashion-mnist"
    g = np.random.default_rng(0)
    return g.standard_normal((n, 784)), np.arange(n) % 10, "synthetic"


def best_ms(fn, reps, clock):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = clock()
        fn()
        best = min(best, (clock() - t0) * 1e3)
    return best


def run_python(args, model, V1, VK):
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    K = VK.shape[0]
    return {"grad": best_ms(model.loss_grad, args.reps, clock),
            "hvp1": best_ms(lambda: model.hvp(V1), args.reps, clock),
            "hvpK_per_vec": best_ms(lambda: model.hvp(VK), args.reps, clock) / K}


def run_c(args):
    exe = os.path.join(args.build, "hvp_bench")
    cmd = [exe, "--threads", str(args.threads), "--reps", str(args.reps), "--block", str(args.block), "--samples",
           str(args.samples), "--no-f32", "--clock", args.clock]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = {}
    for m in re.finditer(r"^RESULT f64 (\S+) ([0-9.eE+-]+)$", out, re.M):
        res[m.group(1)] = float(m.group(2))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--out", help="also write the report (markdown) here")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HESSPEC_LIBRARY", os.path.join(args.build, "libhesspec.so"))
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import hesspec

    X, y, source = data(args.samples)
    model = hesspec.Model.from_spec(SPEC, device="cpu", threads=args.threads).bind(X, y)
    g = np.random.default_rng(1)
    V1 = g.standard_normal(model.num_params)
    VK = g.standard_normal((args.block, model.num_params))
    c_best, py_best = {}, {}
    for r in range(args.rounds):
        for k, v in run_c(args).items():
            c_best[k] = min(v, c_best.get(k, float("inf")))
        for k, v in run_python(args, model, V1, VK).items():
            py_best[k] = min(v, py_best.get(k, float("inf")))
        print(f"round {r + 1}: C hvp1 {c_best['hvp1']:.3f} ms, api {c_best['api_hvp1']:.3f} ms, "
              f"Python {py_best['hvp1']:.3f} ms", file=sys.stderr)
    rows = [("gradient", "grad", "grad", "grad"),
            ("HVP, one direction", "hvp1", "api_hvp1", "hvp1"),
            (f"HVP, block of {args.block} (per direction)", "hvpK_per_vec", "api_hvpK_per_vec", "hvpK_per_vec")]
    load = os.getloadavg()
    lines = [f"# Python binding overhead per HVP ({datetime.date.today().isoformat()})", "",
             f"`python3 bench/python_overhead.py --threads {args.threads} --clock {args.clock} --reps {args.reps} "
             f"--rounds {args.rounds}`: 784-256-256-256-10 ReLU MLP, cross entropy, {args.samples} samples "
             f"({source}) in one batch, f64, CPU backend, {args.threads} thread(s), {args.clock} clock, best of "
             f"{args.reps} in {args.rounds} interleaved rounds. Machine: {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, load average {load[0]:.1f} at the end; P = {model.num_params}.", "",
             "| quantity | engine (hs_nn_apply) ms | C API (hs_model_hvp) ms | Python ms | Python over engine | "
             "Python over C API |", "|---|---|---|---|---|---|"]
    for name, ce, ca, pk in rows:
        e, a, p = c_best[ce], c_best.get(ca), py_best[pk]
        a_s = f"{a:.3f}" if ca != ce else "(same)"
        over_a = f"{100 * (p - a) / a:+.1f} %" if ca != ce else ""
        lines.append(f"| {name} | {e:.3f} | {a_s} | {p:.3f} | {100 * (p - e) / e:+.1f} % | {over_a} |")
    lines += ["", "Python's gradient is `model.loss_grad()` (the loss and the gradient copied out, as "
              "hs_model_loss_grad); the engine's is hvp_bench's device-level gradient."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
