#!/usr/bin/python3
"""PyTorch side of the conv-net benchmark (bench/run-conv.sh): the module of a layer-form spec
built by tests/torch/reference.py (nn.Sequential, float64 or float32), the weights of the
same safetensors file hesspec reads, the same X.npy / Y.npy, all samples in one batch.

  torch_conv.py SPEC.json WEIGHTS.safetensors X.npy Y.npy [--threads T] [--reps R] [--block K]
                [--dtype f64|f32] [--pyhessian STEPS,PROBES]

Times (best of R after a warm-up): grad (forward + backward, graph rebuilt), hvp1 (double
backward on a retained graph: the graph construction is not timed, PyTorch's best case),
hvpK per vector (is_grads_batched=True, else a loop on the retained graph), and with
--pyhessian PyHessian's density(iter=STEPS, n_v=PROBES) including its graph construction.
Peak resident memory at the end. Output: readable lines and `RESULT <dtype> <q> <v>` lines.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
import reference  # noqa: E402


SYNC = lambda: None


def best_ms(reps, fn):
    fn()
    SYNC()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        SYNC()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec"), ap.add_argument("weights"), ap.add_argument("X"), ap.add_argument("Y")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    ap.add_argument("--pyhessian", default="")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    global SYNC
    dev = torch.device(a.device)
    if dev.type == "cuda":
        SYNC = torch.cuda.synchronize
    torch.set_num_threads(a.threads)
    dt = torch.float64 if a.dtype == "f64" else torch.float32
    spec = reference.load_spec(a.spec)
    net = reference.build(spec, a.weights).to(dt).to(dev)
    X = reference.load_inputs(spec, np.load(a.X), a.X).to(dt).to(dev)
    Y = torch.from_numpy(np.load(a.Y).astype(np.int64)).to(dev)
    params = [p for p in net.parameters()]
    P = sum(p.numel() for p in params)

    def loss():
        return F.cross_entropy(net(X), Y)

    def grad():
        torch.autograd.grad(loss(), params)

    g = torch.autograd.grad(loss(), params, create_graph=True)
    gen = torch.Generator().manual_seed(0)
    V = [torch.randn(p.shape, generator=gen, dtype=dt).to(dev) for p in params]
    Vb = [torch.randn((a.block,) + tuple(p.shape), generator=gen, dtype=dt).to(dev) for p in params]

    def hvp1():
        torch.autograd.grad(g, params, V, retain_graph=True)

    def hvpk_batched():
        torch.autograd.grad(g, params, grad_outputs=Vb, retain_graph=True, is_grads_batched=True)

    def hvpk_loop():
        for j in range(a.block):
            torch.autograd.grad(g, params, [v[j] for v in Vb], retain_graph=True)

    t_grad = best_ms(a.reps, grad)
    t_h1 = best_ms(a.reps, hvp1)
    method = "is_grads_batched"
    try:
        t_hk = best_ms(a.reps, hvpk_batched) / a.block
    except Exception as e:  # vmap does not cover every double-backward op
        method = f"loop ({type(e).__name__})"
        t_hk = best_ms(a.reps, hvpk_loop) / a.block
    print(f"PyTorch {torch.__version__} {a.dtype} on {a.device}: P = {P}, N = {X.shape[0]}, {a.threads} threads")
    print(f"  gradient {t_grad:.1f} ms, HVP {t_h1:.1f} ms, block of {a.block} ({method}): {t_hk:.1f} ms per vector")
    print(f"RESULT {a.dtype} grad {t_grad:.3f}\nRESULT {a.dtype} hvp1 {t_h1:.3f}\nRESULT {a.dtype} hvpK_per_vec {t_hk:.3f}")
    if a.pyhessian:
        steps, probes = (int(x) for x in a.pyhessian.split(","))
        from pyhessian import hessian
        try:
            torch.eig(torch.eye(2), eigenvectors=True)
        except (AttributeError, RuntimeError):
            # PyHessian 0.1 diagonalises its tridiagonal with torch.eig, removed in torch >= 1.13:
            # the same result (eigenvalues in column 0, eigenvectors as columns) from eigh, on an
            # iter x iter matrix (nothing measurable)
            def eig(T, eigenvectors=False):
                w, V = torch.linalg.eigh(T)
                return torch.stack([w, torch.zeros_like(w)], 1), V
            torch.eig = eig
        t0 = time.perf_counter()
        h = hessian(net, torch.nn.CrossEntropyLoss(), data=(X, Y), cuda=dev.type == "cuda")
        h.density(iter=steps, n_v=probes)
        t_slq = (time.perf_counter() - t0) * 1e3
        print(f"  PyHessian density(iter={steps}, n_v={probes}): {t_slq / 1e3:.1f} s")
        print(f"RESULT {a.dtype} slq {t_slq:.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"  peak RSS {peak:.0f} MiB (host)")
    if dev.type == "cuda":
        print(f"  peak device memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    print(f"RESULT {a.dtype} peak_mib {peak:.1f}")


if __name__ == "__main__":
    main()
