#!/usr/bin/python3
"""Self-check of reference.py (torch only, no hesspec): `check_reference.py [--keep]`.

For small specs of both forms covering every layer kind of the layer form (conv2d with square and
non-square kernels/strides/padding, batchnorm 1d/2d in both modes, relu, tanh, identity, avgpool,
maxpool, global_avgpool, flatten, residual with identity / conv shortcuts and nested), both
losses, weight decay and several batches with a short last one, it writes a case directory
(spec.json, weights.safetensors by `reference.py --init`, X/Y/V.npy, case.json), runs
`reference.py CASE_DIR` as the C suite does, and checks its outputs against torch itself:

  grad    4th-order central differences of the loss along unit directions, h = 1e-5 (< 1e-7)
  hvp     the same differences of the gradient                                  (< 1e-7)
  hvp     symmetry u.Hv = v.Hu                          (relative to |u||Hv|, < 1e-12)
  ggn     J^T H_loss J v with J from torch.autograd.functional.jacobian (< 1e-10)
  X       (N, C*H*W) inputs give the same numbers as (N, C, H, W)
Exit 0 when all pass, 1 otherwise; a table of the errors on stdout.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch.nn.utils import stateless

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402

torch.set_default_dtype(torch.float64)

CONV_NET = [
    {"type": "conv2d", "out_channels": 3, "kernel": 3, "padding": 1},
    {"type": "batchnorm"},
    {"type": "tanh"},
    {"type": "maxpool", "kernel": 2},
    {"type": "residual",
     "body": [{"type": "conv2d", "out_channels": 4, "kernel": 3, "stride": 2, "padding": 1, "bias": False},
              {"type": "batchnorm", "eps": 1e-3}, {"type": "relu"},
              {"type": "conv2d", "out_channels": 4, "kernel": [3, 1], "padding": [1, 0]}],
     "shortcut": [{"type": "conv2d", "out_channels": 4, "kernel": 1, "stride": 2, "bias": False},
                  {"type": "batchnorm"}]},
    {"type": "relu"},
    {"type": "residual",
     "body": [{"type": "conv2d", "out_channels": 4, "kernel": 3, "padding": 1},
              {"type": "residual", "body": [{"type": "tanh"}, {"type": "identity"}], "shortcut": []}],
     "shortcut": []},
    {"type": "avgpool", "kernel": [2, 1], "stride": [1, 1]},
    {"type": "global_avgpool"},
    {"type": "flatten"},
    {"type": "linear", "out_features": 5},
    {"type": "batchnorm"},
    {"type": "tanh"},
    {"type": "residual", "body": [{"type": "linear", "out_features": 5, "bias": False}, {"type": "relu"}]},
    {"type": "linear", "out_features": 3},
]

# (name, spec, N, batch)
CASES = [
    ("conv bn-batch ce 3 batches", {"input_shape": [2, 8, 8], "layers": CONV_NET, "batchnorm_mode": "batch",
                                    "loss": "cross_entropy", "weight_decay": 0}, 11, 4),
    ("conv bn-running mse wd", {"input_shape": [2, 8, 8], "layers": CONV_NET, "batchnorm_mode": "running",
                                "loss": "mse", "weight_decay": 0.05}, 7, 0),
    ("rank-1 layers mse", {"input_shape": [6], "layers": [
        {"type": "linear", "out_features": 5}, {"type": "batchnorm"}, {"type": "relu"},
        {"type": "residual", "body": [{"type": "linear", "out_features": 5}, {"type": "tanh"}]},
        {"type": "identity"}, {"type": "flatten"}, {"type": "linear", "out_features": 2, "bias": False}],
        "loss": "mse"}, 9, 5),
    ("mlp form bn residual", {"input_dim": 4, "hidden": [5, 5], "output_dim": 3, "activation": "tanh",
                              "batchnorm": "batch", "residual": True, "bias": True,
                              "loss": "cross_entropy", "weight_decay": 0.1}, 10, 4),
]


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def loss_fn(spec, net, X, Y, B):
    N = X.shape[0]
    L = ref.data_loss(spec, ref.batch_outputs(net, X, B), Y, N)
    if spec["weight_decay"] > 0:
        L = L + 0.5 * spec["weight_decay"] * sum((p * p).sum() for _, p in net.flat_params())
    return L


def theta_of(net):
    return torch.cat([p.detach().reshape(-1) for _, p in net.flat_params()])


def set_theta(net, theta):
    o = 0
    with torch.no_grad():
        for _, p in net.flat_params():
            p.copy_(theta[o:o + p.numel()].view_as(p))
            o += p.numel()


def grad_at(spec, net, X, Y, B, theta):
    set_theta(net, theta)
    params = [p for _, p in net.flat_params()]
    g = torch.autograd.grad(loss_fn(spec, net, X, Y, B), params, allow_unused=True)
    return ref.flat(g, params).detach()


def check(name, spec, N, B, root, seed):
    d = os.path.join(root, "".join(c if c.isalnum() else "_" for c in name))
    os.makedirs(d)
    with open(os.path.join(d, "spec.json"), "w") as f:
        json.dump(spec, f)
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"batch": B}, f)
    py, script = sys.executable, os.path.join(HERE, "reference.py")
    subprocess.run([py, script, "--init", os.path.join(d, "spec.json"), os.path.join(d, "weights.safetensors"),
                    str(seed)], check=True)
    s = ref.load_spec(os.path.join(d, "spec.json"))
    net = ref.build(s, os.path.join(d, "weights.safetensors"))
    P = sum(p.numel() for _, p in net.flat_params())
    rng = np.random.default_rng(seed)
    shape = tuple(s["input_shape"]) if s["form"] == "layers" else (s["input_dim"],)
    Xnp = rng.standard_normal((N,) + shape)
    C = s["output_dim"]
    Ynp = rng.integers(0, C, N).astype(np.int32) if s["loss"] == "cross_entropy" else rng.standard_normal((N, C))
    Vnp = rng.standard_normal((2, P))
    np.save(os.path.join(d, "X.npy"), Xnp)
    np.save(os.path.join(d, "Y.npy"), Ynp)
    np.save(os.path.join(d, "V.npy"), Vnp)
    subprocess.run([py, script, d], check=True)
    out = {k: np.load(os.path.join(d, k + ".npy")) for k in ("loss", "grad", "hvp", "ggn", "out")}

    X = ref.load_inputs(s, Xnp, "X")
    Y = ref.load_targets(s, Ynp, N, C, "Y")
    theta0 = theta_of(net)
    res = {"P": P}
    # Directions are unit vectors, differences of 4th order (h = 1e-5): the truncation error
    # then stays below the rounding error even near ReLU / max-pool kinks and small BN batches.
    h = 1e-5

    def diff(f, e):
        return (8 * (f(theta0 + h * e) - f(theta0 - h * e)) - (f(theta0 + 2 * h * e) - f(theta0 - 2 * h * e))) / (12 * h)

    def loss_at(theta):
        set_theta(net, theta)
        return loss_fn(s, net, X, Y, B).item()

    fd, an = [], []
    for j in range(4):
        e = torch.from_numpy(rng.standard_normal(P))
        e /= e.norm()
        fd.append(diff(loss_at, e))
        an.append(float(out["grad"] @ e.numpy()))
    res["grad_fd"] = rel(np.array(an), np.array(fd))
    errs = []
    for k in range(2):
        nv = float(np.linalg.norm(Vnp[k]))
        Hv_fd = diff(lambda t: grad_at(s, net, X, Y, B, t), torch.from_numpy(Vnp[k] / nv)) * nv
        errs.append(rel(out["hvp"][k], Hv_fd.numpy()))
    res["hvp_fd"] = max(errs)
    set_theta(net, theta0)
    u, v = Vnp[0], Vnp[1]
    Hu, Hv = out["hvp"][0], out["hvp"][1]
    res["hvp_sym"] = abs(u @ Hv - v @ Hu) / (np.linalg.norm(u) * np.linalg.norm(Hv))
    # G v with an explicit Jacobian of the outputs
    params = [p for _, p in net.flat_params()]
    shapes = [p.shape for p in params]

    names = [n for n, _ in net.flat_params()]
    wrapped = _Batched(net, B)

    def outputs(theta):
        tensors, o = {}, 0
        for n, sh in zip(names, shapes):
            k = int(np.prod(sh))
            tensors["m." + n] = theta[o:o + k].view(sh)
            o += k
        return stateless.functional_call(wrapped, tensors, (X,))

    J = torch.autograd.functional.jacobian(outputs, theta0).reshape(-1, P)  # (N*C, P)
    Fout = ref.batch_outputs(net, X, B).detach()
    res["out"] = rel(outputs(theta0).detach().numpy(), out["out"])
    HL = torch.autograd.functional.hessian(lambda f: ref.data_loss(s, f.view(N, C), Y, N), Fout.reshape(-1))
    G = J.T @ HL @ J + s["weight_decay"] * torch.eye(P)
    res["ggn_jac"] = rel(out["ggn"], (G @ torch.from_numpy(Vnp).T).T.numpy())
    # the flat (N, C*H*W) input layout gives the same numbers
    if s["form"] == "layers" and len(shape) == 3:
        d2 = d + "_flatX"
        os.makedirs(d2)
        for fn in ("spec.json", "case.json", "weights.safetensors", "Y.npy", "V.npy"):
            with open(os.path.join(d, fn), "rb") as a, open(os.path.join(d2, fn), "wb") as b:
                b.write(a.read())
        np.save(os.path.join(d2, "X.npy"), Xnp.reshape(N, -1))
        subprocess.run([py, script, d2], check=True)
        res["flatX"] = max(rel(np.load(os.path.join(d2, k + ".npy")), out[k]) for k in ("grad", "hvp", "ggn"))
    return res


class _Batched(torch.nn.Module):
    """Wraps a net so that forward(X) = the concatenated per-batch outputs."""

    def __init__(self, m, B):
        super().__init__()
        self.m, self.B = m, B

    def forward(self, X):
        return ref.batch_outputs(self.m, X, self.B)


def main():
    keep = "--keep" in sys.argv
    root = tempfile.mkdtemp(prefix="hs_refcheck.")
    limits = {"out": 1e-14, "grad_fd": 1e-7, "hvp_fd": 1e-7, "hvp_sym": 1e-12, "ggn_jac": 1e-10, "flatX": 0.0}
    ok = True
    print(f"{'case':34s} {'P':>5s} " + " ".join(f"{k:>9s}" for k in limits))
    for i, (name, spec, N, B) in enumerate(CASES):
        r = check(name, spec, N, B, root, 100 + i)
        row = f"{name:34s} {r['P']:5d} "
        for k, lim in limits.items():
            if k in r:
                good = r[k] <= lim
                ok &= good
                row += f" {r[k]:8.1e}" + (" " if good else "!")
            else:
                row += f" {'-':>9s}"
        print(row)
    if keep:
        print(f"files kept in {root}")
    else:
        subprocess.run(["rm", "-rf", root], check=False)
    print("check_reference: " + ("all passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
