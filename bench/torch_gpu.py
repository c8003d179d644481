#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark (bench/gpu-check.sh): the model, data and parameters that
bench/gpu_bench.c exports (--export DIR: X.npy, y.npy, theta.npy in DESIGN.md's order), on
the same device.

  784-256-256-256-10 ReLU MLP (bias), cross entropy (mean), all samples in one batch.

bench/torch_hvp.py is the CPU comparison (threads, Fashion-MNIST); this one runs on a GPU,
adds torch.func and an SLQ of the same size, and checks that the loss at the exported
parameters matches hesspec's (same model, same data).

Times (median of --reps after a warm-up; torch.cuda.synchronize() closes every timed region):
  grad              forward + backward (autograd.grad of the loss)
  hvp1              double backward on a retained gradient graph (graph built once, not timed)
  hvp1_full         double backward including the forward and the create_graph backward
  func_hvp1         torch.func forward-over-reverse: jvp(grad(f)) for one direction
  func_hvpK_per_vec vmap of that over a block of K directions, per vector
  slq_total         SLQ end to end: K probes in lockstep (vmap'd torch.func HVP), `steps`
                    Lanczos steps with full two-pass Gram-Schmidt reorthogonalisation, the
                    tridiagonal eigenproblems on the host (numpy); same steps and probes as
                    gpu_bench (not the same probe vectors)
Output: a readable report and `RESULT torch <dtype> <quantity> <value>` lines.
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
try:
    from torch.func import grad, jvp, vmap

    cross_entropy = F.cross_entropy
except ImportError:  # torch < 2.0 (Debian's 1.13): functorch, and a cross entropy whose
    from functorch import grad, jvp, vmap  # backward has forward-mode AD there

    def cross_entropy(out, y):
        return (torch.logsumexp(out, dim=1) - out.gather(1, y[:, None])[:, 0]).mean()

SHAPES = [(256, 784), (256,), (256, 256), (256,), (256, 256), (256,), (10, 256), (10,)]


def unflatten(theta, dtype, dev):
    out, o = [], 0
    for s in SHAPES:
        n = int(np.prod(s))
        out.append(torch.tensor(theta[o:o + n].reshape(s), dtype=dtype, device=dev))
        o += n
    assert o == theta.size, f"theta has {theta.size} values, the model {o}"
    return tuple(out)


def loss_fn(params, X, y):
    h = X
    for i in range(0, 6, 2):
        h = torch.relu(h @ params[i].T + params[i + 1])
    return cross_entropy(h @ params[6].T + params[7], y)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def median_ms(reps, fn, dev):
    fn()
    sync(dev)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def slq(hvp_block, P, steps, probes, dtype, dev, seed=1):
    """Lockstep Lanczos on `probes` Rademacher vectors; returns (nodes, weights) per probe."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    v = (torch.randint(0, 2, (probes, P), generator=g).to(dtype) * 2 - 1).to(dev)
    v = v / v.norm(dim=1, keepdim=True)
    Q = torch.empty((steps, probes, P), dtype=dtype, device=dev)
    alpha = torch.zeros((steps, probes), dtype=torch.float64)
    beta = torch.zeros((steps, probes), dtype=torch.float64)
    m = steps
    for j in range(steps):
        Q[j] = v
        w = hvp_block(v)
        a = (w * v).sum(dim=1)
        alpha[j] = a.double().cpu()
        # two passes of classical Gram-Schmidt against all previous vectors, per probe
        for _ in range(2):
            c = torch.einsum("jkp,kp->jk", Q[: j + 1], w)
            w = w - torch.einsum("jk,jkp->kp", c, Q[: j + 1])
        b = w.norm(dim=1)
        beta[j] = b.double().cpu()
        if j + 1 < steps:
            if bool((b < 1e-10).any()):
                m = j + 1
                break
            v = w / b[:, None]
    rules = []
    for p in range(probes):
        T = np.diag(alpha[:m, p].numpy()) + np.diag(beta[: m - 1, p].numpy(), 1) + np.diag(beta[: m - 1, p].numpy(), -1)
        th, S = np.linalg.eigh(T)
        rules.append((th, S[0] ** 2))
    return rules


def bench(args, dtype, dev, X64, y, theta):
    name = {torch.float64: "f64", torch.float32: "f32"}[dtype]
    X = torch.tensor(X64, dtype=dtype, device=dev)
    Y = torch.tensor(y, dtype=torch.int64, device=dev)
    params = unflatten(theta, dtype, dev)
    P = sum(p.numel() for p in params)
    K = args.block
    gen = torch.Generator(device="cpu").manual_seed(7)
    Vs = [tuple(torch.randn(p.shape, generator=gen, dtype=dtype).to(dev) for p in params) for _ in range(K)]
    Vb = tuple(torch.stack([Vs[j][i] for j in range(K)]) for i in range(len(params)))

    loss0 = float(loss_fn(params, X, Y))
    print(f"[{name}] P = {P}, loss at the exported parameters {loss0:.10f}")

    leaf = tuple(p.detach().requires_grad_(True) for p in params)

    def t_grad():
        torch.autograd.grad(loss_fn(leaf, X, Y), leaf)

    g_ret = torch.autograd.grad(loss_fn(leaf, X, Y), leaf, create_graph=True)

    def t_hvp1():
        torch.autograd.grad(g_ret, leaf, grad_outputs=Vs[0], retain_graph=True)

    def t_hvp1_full():
        gg = torch.autograd.grad(loss_fn(leaf, X, Y), leaf, create_graph=True)
        torch.autograd.grad(gg, leaf, grad_outputs=Vs[0])

    gfun = grad(loss_fn)

    def func_hvp(v):
        return jvp(lambda p: gfun(p, X, Y), (params,), (v,))[1]

    func_hvp_block = vmap(func_hvp)

    def t_func1():
        func_hvp(Vs[0])

    def t_funck():
        func_hvp_block(Vb)

    # the three HVPs agree (a wrong benchmark is worse than none)
    a = torch.cat([t.reshape(-1) for t in torch.autograd.grad(g_ret, leaf, grad_outputs=Vs[1], retain_graph=True)])
    b = torch.cat([t.reshape(-1) for t in func_hvp(Vs[1])])
    c = torch.cat([t[1].reshape(-1) for t in func_hvp_block(Vb)])
    tol = 1e-9 if dtype == torch.float64 else 1e-3
    e1 = float((a - b).abs().max() / a.abs().max())
    e2 = float((a - c).abs().max() / a.abs().max())
    print(f"[{name}] HVP agreement: double-backward vs torch.func {e1:.2e}, vs vmap {e2:.2e}")
    if not (e1 < tol and e2 < tol):
        raise SystemExit(f"torch_gpu.py: HVP variants disagree ({e1:.3g}, {e2:.3g})")

    r = args.reps
    tg = median_ms(r, t_grad, dev)
    th1 = median_ms(r, t_hvp1, dev)
    thf = median_ms(r, t_hvp1_full, dev)
    tf1 = median_ms(r, t_func1, dev)
    tfk = median_ms(r, t_funck, dev) / K

    sizes = [p.numel() for p in params]

    def hvp_flat_block(V):  # V (probes, P) -> (probes, P)
        parts = torch.split(V, sizes, dim=1)
        vb = tuple(t.reshape((V.shape[0],) + tuple(s.shape)) for t, s in zip(parts, params))
        out = func_hvp_block(vb)
        return torch.cat([t.reshape(V.shape[0], -1) for t in out], dim=1)

    slq(hvp_flat_block, P, min(3, args.steps), args.probes, dtype, dev)  # warm-up
    sync(dev)
    t0 = time.perf_counter()
    rules = slq(hvp_flat_block, P, args.steps, args.probes, dtype, dev)
    sync(dev)
    tslq = (time.perf_counter() - t0) * 1e3
    lmax = max(float(th.max()) for th, _ in rules)
    lmin = min(float(th.min()) for th, _ in rules)

    print(f"[{name}] gradient                     {tg:9.3f} ms")
    print(f"[{name}] HVP double backward          {th1:9.3f} ms  (graph retained; {th1 / tg:.2f} x gradient)")
    print(f"[{name}] HVP double backward, full    {thf:9.3f} ms")
    print(f"[{name}] HVP torch.func (jvp o grad)  {tf1:9.3f} ms")
    print(f"[{name}] HVP torch.func vmap /vector  {tfk:9.3f} ms  (block of {K})")
    print(f"[{name}] SLQ {args.steps} steps x {args.probes} probes: {tslq:.1f} ms; lambda [{lmin:.6g}, {lmax:.6g}]")
    for q, v in [("loss_at_init", loss0), ("grad", tg), ("hvp1", th1), ("hvp1_full", thf), ("func_hvp1", tf1),
                 ("func_hvpK_per_vec", tfk), ("slq_total", tslq), ("slq_lambda_max", lmax)]:
        print(f"RESULT torch {name} {q} {v:.10g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="directory of gpu_bench --export (X.npy, y.npy, theta.npy)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--probes", type=int, default=10)
    ap.add_argument("--dtype", choices=["f64", "f32", "both"], default="both")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_gpu.py: torch sees no CUDA device")
    # no TF32 anywhere: hesspec's f32 is plain f32 unless --tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    X = np.load(os.path.join(args.data, "X.npy"))
    y = np.load(os.path.join(args.data, "y.npy"))
    theta = np.load(os.path.join(args.data, "theta.npy"))
    dn = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"torch {torch.__version__} torch_gpu.py on {dn}: 784-256-256-256-10 relu, cross_entropy, {X.shape[0]} samples, "
          f"median of {args.reps} after warm-up")
    if args.dtype in ("f64", "both"):
        bench(args, torch.float64, dev, X, y, theta)
    if args.dtype in ("f32", "both"):
        bench(args, torch.float32, dev, X, y, theta)


if __name__ == "__main__":
    main()
