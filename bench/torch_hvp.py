#!/usr/bin/python3
"""PyTorch side of the CPU HVP benchmark (bench/run-cpu.sh): the same model, data and thread
count as bench/hvp_bench.c.

  784-256-256-256-10 ReLU MLP (bias), cross entropy (mean), N = 1024 samples in one batch,
  Fashion-MNIST (first N training images / 255) when installed, else synthetic N(0, 1).

Times (best of --reps after a warm-up), per dtype:
  grad          forward + backward (torch.autograd.grad of the loss), graph rebuilt each time
  hvp1          H v by double backward with the gradient graph built ONCE and retained
                (create_graph=True, then autograd.grad(g, params, v, retain_graph=True)):
                PyTorch's best case, the graph construction is not timed
  hvpK_per_vec  a block of K directions in one call, per vector: autograd.grad with
                is_grads_batched=True (vmap over the backward) when it works, else a loop
                of single HVPs on the retained graph (the output says which)
  hvp1_full     H v including building the graph (forward + create_graph backward + double
                backward): what a framework pays when the graph is not kept
Output: a readable report and `RESULT <dtype> <quantity> <ms>` lines.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_data(n, which):
    d = os.environ.get("HESSPEC_DATA", "/usr/share/datasets/fashion-mnist")
    img = os.path.join(d, "train-images-idx3-ubyte.gz")
    lab = os.path.join(d, "train-labels-idx1-ubyte.gz")
    if which != "synthetic" and os.path.exists(img) and os.path.exists(lab):
        with gzip.open(img, "rb") as f:
            raw = f.read(16 + n * 784)
        with gzip.open(lab, "rb") as f:
            rl = f.read(8 + n)
        X = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 784).astype(np.float64) / 255.0
        Y = np.frombuffer(rl[8:], dtype=np.uint8).astype(np.int64)
        return X, Y, f"fashion-mnist:train (first {n}, {d})"
    if which == "fashion-mnist":
        raise SystemExit(f"torch_hvp.py: Fashion-MNIST not found in {d}")
    rng = np.random.default_rng(3)
    return rng.standard_normal((n, 784)), np.arange(n) % 10, f"synthetic Gaussian N(0,1), {n} x 784"


CLOCK = time.perf_counter  # --clock cpu: time.process_time (all threads' CPU time)


def best_ms(reps, fn):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        best = min(best, (CLOCK() - t0) * 1e3)
    return best


def bench(dtype, X, Y, args):
    name = {torch.float64: "f64", torch.float32: "f32"}[dtype]
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                        nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).to(dtype)
    params = list(net.parameters())
    P = sum(p.numel() for p in params)
    Xt = torch.from_numpy(X).to(dtype)
    Yt = torch.from_numpy(Y)
    K = args.block
    gen = torch.Generator().manual_seed(7)
    Vs = [[torch.randn(p.shape, generator=gen, dtype=dtype) for p in params] for _ in range(K)]

    def loss():
        return F.cross_entropy(net(Xt), Yt)

    def grad():
        torch.autograd.grad(loss(), params)

    # the graph of the gradient, built once and retained
    g = torch.autograd.grad(loss(), params, create_graph=True)

    def hvp1():
        torch.autograd.grad(g, params, grad_outputs=Vs[0], retain_graph=True)

    def hvp1_full():
        gg = torch.autograd.grad(loss(), params, create_graph=True)
        torch.autograd.grad(gg, params, grad_outputs=Vs[0])

    Vb = [torch.stack([Vs[j][i] for j in range(K)]) for i in range(len(params))]

    def hvpk_batched():
        torch.autograd.grad(g, params, grad_outputs=Vb, retain_graph=True, is_grads_batched=True)

    def hvpk_loop():
        for j in range(K):
            torch.autograd.grad(g, params, grad_outputs=Vs[j], retain_graph=True)

    if args.only:  # one quantity, for interleaved A/B timing on a busy machine
        fn = {"grad": grad, "hvp1": hvp1, "hvp1_full": hvp1_full, "hvpK": hvpk_batched}[args.only]
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ms = best_ms(args.reps, fn) / (K if args.only == "hvpK" else 1)
        print(f"[{name}] {args.only}: best {ms:.3f} ms{' per vector' if args.only == 'hvpK' else ''}")
        print(f"RESULT {name} {args.only} {ms:.4f}")
        return

    method = "is_grads_batched=True (vmap over the double backward)"
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = torch.autograd.grad(g, params, grad_outputs=Vb, retain_graph=True, is_grads_batched=True)
            ref = torch.autograd.grad(g, params, grad_outputs=Vs[1], retain_graph=True)
        err = max(float((a[1] - b).abs().max() / b.abs().max().clamp_min(1e-30)) for a, b in zip(out, ref))
        if not err < (1e-10 if dtype == torch.float64 else 1e-4):
            raise RuntimeError(f"batched result differs from single ({err:.3g})")
        hvpk = hvpk_batched
    except Exception as e:  # noqa: BLE001 -- any failure of the beta feature: fall back
        method = f"loop of {K} single HVPs on the retained graph (is_grads_batched failed: {str(e).splitlines()[0][:80]})"
        hvpk = hvpk_loop

    t_grad = best_ms(args.reps, grad)
    t_hvp1 = best_ms(args.reps, hvp1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_hvpk = best_ms(args.reps, hvpk) / K
    t_full = best_ms(args.reps, hvp1_full)
    t_loop = best_ms(max(1, args.reps // 2), hvpk_loop) / K if hvpk is not hvpk_loop else t_hvpk

    print(f"[{name}] P = {P}")
    print(f"[{name}] gradient                    {t_grad:9.3f} ms")
    print(f"[{name}] HVP single (graph retained) {t_hvp1:9.3f} ms   ({t_hvp1 / t_grad:.2f} x gradient)")
    print(f"[{name}] HVP block of {K:<2d} /vector     {t_hvpk:9.3f} ms   [{method}]")
    print(f"[{name}] HVP loop of {K:<2d} /vector      {t_loop:9.3f} ms")
    print(f"[{name}] HVP single incl. graph      {t_full:9.3f} ms")
    print(f"RESULT {name} grad {t_grad:.4f}")
    print(f"RESULT {name} hvp1 {t_hvp1:.4f}")
    print(f"RESULT {name} hvpK_per_vec {t_hvpk:.4f}")
    print(f"RESULT {name} hvpK_loop_per_vec {t_loop:.4f}")
    print(f"RESULT {name} hvp1_full {t_full:.4f}")
    print(f"RESULT {name} batched_method {'is_grads_batched' if hvpk is hvpk_batched else 'loop'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--data", choices=["auto", "fashion-mnist", "synthetic"], default="auto")
    ap.add_argument("--no-f32", action="store_true")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--only", choices=["grad", "hvp1", "hvp1_full", "hvpK"],
                    help="time just this quantity (hvpK: is_grads_batched)")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    X, Y, src = load_data(args.samples, args.data)
    print(f"torch {torch.__version__} torch_hvp.py: 784-256-256-256-10 relu, cross_entropy, {args.samples} samples, "
          f"{torch.get_num_threads()} threads, best of {args.reps} after warm-up, {args.clock} time")
    print(f"data: {src}")
    print(f"RESULT meta data {'synthetic' if src.startswith('synthetic') else 'fashion-mnist'}")
    bench(torch.float64, X, Y, args)
    if not args.no_f32:
        bench(torch.float32, X, Y, args)


if __name__ == "__main__":
    main()
