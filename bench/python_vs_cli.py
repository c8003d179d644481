#!/usr/bin/python3
"""The same spectrum through the CLI and through the Python package, end to end (issue 13:
"timing within 10 % of the CLI", with torch imported first or not at all).

Model: examples/mlp-bench.json (784-256-256-256-10 ReLU, seeded initialisation), N samples of
Gaussian inputs with labels (saved as .npy for the CLI, the same arrays bound in Python), SLQ
STEPS x PROBES, f64, one batch. Each way is timed as a whole process, start-up, model, data and
the file written included, best of --reps, interleaved (CLI, Python, Python after torch, CLI,
...), so that load on a shared machine touches all alike. The files are checked equal apart
from their clock fields.

    python3 bench/python_vs_cli.py --build build [--steps 40 --probes 4 --samples 1024 --threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PY = """
import sys, time
t0 = time.perf_counter()
import numpy as np
if sys.argv[1] == "torch":
    import torch
sys.path.insert(0, {pkg!r})
import hesspec
t1 = time.perf_counter()
X = np.load({x!r}); y = np.load({y!r})
m = hesspec.Model.load({spec!r}, threads={threads}, seed=1)   # the CLI's --seed 1: init and probes
m.bind(X, y, source={src!r})
d = hesspec.spectrum(m, steps={steps}, probes={probes}, seed=1)
d.save(sys.argv[2])
print("imports", t1 - t0, "work", time.perf_counter() - t1)
"""


def timed(cmd, env):
    """Wall seconds of the whole process, and of its work after the imports (Python only)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, check=True, env=env, stdout=subprocess.PIPE, text=True)
    total = time.perf_counter() - t0
    words = p.stdout.split()
    work = float(words[words.index("work") + 1]) if "work" in words else total
    return total, work


def strip_clock(path):
    d = json.load(open(path))
    for k in ("elapsed_seconds", "created", "timing", "data", "weights"):
        d.pop(k, None)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--probes", type=int, default=4)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    import numpy as np

    tmp = tempfile.mkdtemp(prefix="hs_pycli.")
    rng = np.random.default_rng(0)
    x, y = os.path.join(tmp, "X.npy"), os.path.join(tmp, "y.npy")
    np.save(x, rng.standard_normal((a.samples, 784)))
    np.save(y, rng.integers(0, 10, a.samples).astype(np.int64))
    spec = os.path.join(ROOT, "examples", "mlp-bench.json")
    env = dict(os.environ, HESSPEC_LIBRARY=os.path.join(a.build, "libhesspec.so"), OMP_WAIT_POLICY="PASSIVE")
    script = os.path.join(tmp, "run.py")
    with open(script, "w") as f:
        f.write(PY.format(pkg=os.path.join(ROOT, "python"), x=x, y=y, spec=spec, threads=a.threads, src="X.npy, y.npy",
                          steps=a.steps, probes=a.probes))
    cli = [os.path.join(a.build, "hesspec"), "spectrum", "--model", spec, "--inputs", x, "--targets", y,
           "--threads", str(a.threads), "--steps", str(a.steps), "--probes", str(a.probes), "--seed", "1",
           "--device", "cpu", "--quiet"]
    ways = {
        "CLI": lambda out: cli + ["--out", out],
        "Python": lambda out: ["/usr/bin/python3", script, "plain", out],
        "Python, torch imported first": lambda out: ["/usr/bin/python3", script, "torch", out],
    }
    best = {k: float("inf") for k in ways}
    work = {k: float("inf") for k in ways}
    for r in range(a.reps):
        for k, make in ways.items():
            out = os.path.join(tmp, f"{k.split(',')[0].replace(' ', '_')}-{r}.json")
            t, w = timed(make(out), env)
            best[k], work[k] = min(best[k], t), min(work[k], w)
    ref = strip_clock(os.path.join(tmp, "CLI-0.json"))
    same = all(strip_clock(os.path.join(tmp, f"Python-{r}.json"))["probes"] == ref["probes"] for r in range(a.reps))
    load = os.getloadavg()[0]
    print(f"# Python package against the CLI, end to end ({time.strftime('%Y-%m-%d')})\n")
    print(f"`python3 bench/python_vs_cli.py --steps {a.steps} --probes {a.probes} --samples {a.samples} "
          f"--threads {a.threads} --reps {a.reps}`: examples/mlp-bench.json (P = 335,114), {a.samples} samples, "
          f"SLQ {a.steps} x {a.probes}, f64, {a.threads} threads, wall time of the whole process, best of "
          f"{a.reps}; load average {load:.1f} at the end.\n")
    print("| way | whole process, s | over the CLI | after the imports, s | over the CLI |\n|---|---|---|---|---|")
    for k in ways:
        print(f"| {k} | {best[k]:.2f} | {100 * (best[k] / best['CLI'] - 1):+.1f} % | {work[k]:.2f} | "
              f"{100 * (work[k] / best['CLI'] - 1):+.1f} % |")
    print("\nThe CLI column is the whole CLI process (its start-up is a few milliseconds); importing torch "
          "costs its own second or so, whatever is imported after it.")
    print(f"\nSLQ nodes and weights of every Python run equal the CLI's: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
