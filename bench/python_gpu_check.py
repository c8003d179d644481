"""The Python package on a GPU (bench/gpu-check.sh, stage python): the same torch module as a
model on "cuda" and on "cpu", f64: loss, gradient and a block of HVPs agree to 1e-10 relative
(the GPU sums in another order), the SLQ density's extremes and trace to 1e-8, per-layer blocks
run and their traces add up to the whole; f32 on the GPU within 1e-4 of f64. Prints one
RESULT line per check and exits 1 if one fails.

    PYTHONPATH=python HESSPEC_LIBRARY=build-gpu/libhesspec.so python3 bench/python_gpu_check.py
"""
import sys
import time

import numpy as np
import torch

import hesspec


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def main():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.BatchNorm1d(64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).double()
    g = np.random.default_rng(1)
    X, y = g.standard_normal((256, 32)), g.integers(0, 10, 256)
    models = {d: hesspec.Model.from_torch(net, [32], device=d).bind(X, y, batch=64) for d in ("cpu", "cuda")}
    gpu, cpu = models["cuda"], models["cpu"]
    checks = []

    def check(name, err, tol):
        ok = err <= tol
        checks.append(ok)
        print(f"RESULT python {name} {err:.3e} (tolerance {tol:g}) {'ok' if ok else 'FAIL'}", flush=True)

    print(f"devices: {gpu.device} / {cpu.device}, P = {gpu.num_params}", flush=True)
    (lg, gg), (lc, gc) = gpu.loss_grad(), cpu.loss_grad()
    check("loss", rel(lg, lc), 1e-12)
    check("gradient", rel(gg, gc), 1e-10)
    V = g.standard_normal((3, gpu.num_params))
    t0 = time.perf_counter()
    HV = gpu.hvp(V)
    t_gpu = time.perf_counter() - t0
    check("hvp k=3", rel(HV, cpu.hvp(V)), 1e-10)
    check("ggn k=3", rel(gpu.hvp(V, operator="ggn"), cpu.hvp(V, operator="ggn")), 1e-10)
    dg, dc = (hesspec.spectrum(m, steps=40, probes=4, seed=3) for m in (gpu, cpu))
    for k in ("lambda_max", "lambda_min", "trace"):
        check(f"spectrum {k}", rel(dg.summary[k], dc.summary[k]), 1e-8)
    da = hesspec.spectrum(gpu, steps=40, probes=4, seed=3, block="all")
    check("blocks trace sum", rel(sum(b.summary["trace"] for b in da.blocks.values()), da.summary["trace"]), 1e-12)
    f32 = hesspec.Model.from_torch(net, [32], device="cuda", dtype="f32").bind(X, y, batch=64)
    check("f32 hvp vs f64", rel(f32.hvp(V), HV), 1e-4)
    print(f"python hvp k=3 on the GPU: {1e3 * t_gpu:.2f} ms (first call, staging included)")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
