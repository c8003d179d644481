#!/usr/bin/python3
"""PyTorch reference for the hesspec cross-check suite (tests/torch_crosscheck.c).

Builds the network of a hesspec model spec (../shared/DESIGN.md) as an ordinary PyTorch
module in float64 -- `blocks.{i}.linear`, `blocks.{i}.norm` (BatchNorm1d, eps=1e-5),
`head` -- loads a safetensors checkpoint by those tensor names, and computes on the data
X.npy / Y.npy, processed in consecutive batches of size B (the last one possibly smaller):

  loss.npy  ()       sum over batches of the per-batch loss sums / N  (+ lambda/2 ||theta||^2)
  grad.npy  (P,)     dL/dtheta, flat in the DESIGN.md parameter order
  hvp.npy   (k, P)   H v for each row v of V.npy, by double backward
  ggn.npy   (k, P)   J^T H_loss J v (+ lambda v), J = d(network outputs)/dtheta, by the
                     double-vjp trick for J v and autograd on the loss for H_loss
  out.npy   (N, C)   the network outputs (for diagnosis)

Nothing here shares code with hesspec: it is an independent implementation of the same
mathematics by PyTorch's autograd.

Usage: reference.py CASE_DIR [CASE_DIR ...]
Each CASE_DIR holds spec.json, weights.safetensors, X.npy, Y.npy, V.npy (optional; shape
(P,) or (k, P)) and case.json {"batch": B} (optional; 0 or absent = one batch). Outputs are
written into CASE_DIR. Exit status 0 on success, 2 on bad input (message on stderr).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

SPEC_KEYS = {"input_dim", "hidden", "output_dim", "activation", "batchnorm", "residual",
             "bias", "loss", "weight_decay"}


class BadInput(Exception):
    pass


# ---- safetensors (pure numpy; Debian does not ship the `safetensors` package) ----------

_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """{name: np.ndarray} from a safetensors file: u64 LE header length, JSON header, data."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise BadInput(f"{path}: truncated safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise BadInput(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, desc in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_DTYPES.get(desc["dtype"])
        if dt is None:
            raise BadInput(f"{path}: tensor {name}: unsupported dtype {desc['dtype']}")
        b, e = desc["data_offsets"]
        shape = tuple(desc["shape"])
        if not (0 <= b <= e <= len(data)):
            raise BadInput(f"{path}: tensor {name}: data_offsets [{b}, {e}] out of range")
        arr = np.frombuffer(data[b:e], dtype=dt)
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise BadInput(f"{path}: tensor {name}: {arr.size} elements for shape {shape}")
        out[name] = arr.reshape(shape).astype(np.float64)
    return out


# ---- the network ------------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, n_in, n_out, bias, bn):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out, bias=bias)
        # momentum=0: training-mode BN normalises by the batch statistics and leaves the
        # running statistics untouched (no update during Hessian work).
        self.norm = nn.BatchNorm1d(n_out, eps=1e-5, momentum=0.0) if bn else None


class Net(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        widths = [spec["input_dim"]] + list(spec["hidden"])
        bn = spec["batchnorm"] != "none"
        self.blocks = nn.ModuleList(
            Block(widths[i], widths[i + 1], spec["bias"], bn) for i in range(len(spec["hidden"])))
        self.head = nn.Linear(widths[-1], spec["output_dim"], bias=spec["bias"])
        self.act = {"linear": lambda z: z, "relu": torch.relu, "tanh": torch.tanh}[spec["activation"]]
        self.widths = widths

    def forward(self, h):
        for i, blk in enumerate(self.blocks):
            z = blk.linear(h)
            if blk.norm is not None:
                z = blk.norm(z)
            u = self.act(z)
            h = h + u if (self.spec["residual"] and i >= 1 and self.widths[i] == self.widths[i + 1]) else u
        return self.head(h)

    def flat_params(self):
        """Trainable tensors in the DESIGN.md order, with their names."""
        out = []
        for i, blk in enumerate(self.blocks):
            out.append((f"blocks.{i}.linear.weight", blk.linear.weight))
            if blk.linear.bias is not None:
                out.append((f"blocks.{i}.linear.bias", blk.linear.bias))
            if blk.norm is not None:
                out.append((f"blocks.{i}.norm.weight", blk.norm.weight))
                out.append((f"blocks.{i}.norm.bias", blk.norm.bias))
        out.append(("head.weight", self.head.weight))
        if self.head.bias is not None:
            out.append(("head.bias", self.head.bias))
        return out


def load_spec(path):
    with open(path) as f:
        spec = json.load(f)
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise BadInput(f"{path}: unknown keys {sorted(unknown)}")
    spec.setdefault("hidden", [])
    spec.setdefault("activation", "relu")
    spec.setdefault("batchnorm", "none")
    spec.setdefault("residual", False)
    spec.setdefault("bias", True)
    spec.setdefault("loss", "cross_entropy")
    spec["weight_decay"] = float(spec.get("weight_decay") or 0.0)
    return spec


def build(spec, weights_path):
    net = Net(spec).double()
    tensors = read_safetensors(weights_path)
    state = net.state_dict()
    expected = {k for k in state if not k.endswith("num_batches_tracked")}
    missing = expected - set(tensors)
    extra = set(tensors) - expected
    if missing or extra:
        raise BadInput(f"{weights_path}: missing tensors {sorted(missing)}, unexpected {sorted(extra)}")
    for k in expected:
        if tuple(state[k].shape) != tensors[k].shape:
            raise BadInput(f"{weights_path}: {k} has shape {tensors[k].shape}, expected {tuple(state[k].shape)}")
        state[k] = torch.from_numpy(tensors[k].copy())
    net.load_state_dict(state)
    # "batch": training mode (batch statistics); "running": eval mode (stored statistics).
    net.train(spec["batchnorm"] == "batch")
    return net


def batch_outputs(net, X, B):
    """Network outputs of every batch (BN per batch), concatenated: (N, C)."""
    N = X.shape[0]
    B = N if B <= 0 or B > N else B
    return torch.cat([net(X[s:s + B]) for s in range(0, N, B)], dim=0)


def data_loss(spec, Fout, Y, N):
    """Sum over samples of the per-sample loss, divided by N (the batches' sample-weighted mean)."""
    if spec["loss"] == "mse":
        return 0.5 * ((Fout - Y) ** 2).sum() / N
    return F.cross_entropy(Fout, Y, reduction="sum") / N


def flat(tensors, params):
    return torch.cat([(t if t is not None else torch.zeros_like(p)).reshape(-1)
                      for t, p in zip(tensors, params)])


def split(v, params):
    out, o = [], 0
    for p in params:
        out.append(v[o:o + p.numel()].view_as(p))
        o += p.numel()
    assert o == v.numel()
    return out


def run_case(d):
    spec = load_spec(os.path.join(d, "spec.json"))
    case = {}
    if os.path.exists(os.path.join(d, "case.json")):
        with open(os.path.join(d, "case.json")) as f:
            case = json.load(f)
    B = int(case.get("batch", 0))
    net = build(spec, os.path.join(d, "weights.safetensors"))
    named = net.flat_params()
    params = [p for _, p in named]
    P = sum(p.numel() for p in params)
    wd = spec["weight_decay"]

    X = torch.from_numpy(np.load(os.path.join(d, "X.npy")).astype(np.float64))
    Ynp = np.load(os.path.join(d, "Y.npy"))
    N = X.shape[0]
    if spec["loss"] == "cross_entropy":
        Y = torch.from_numpy(Ynp.astype(np.int64))
    else:
        Y = torch.from_numpy(Ynp.astype(np.float64))
    if X.shape != (N, spec["input_dim"]):
        raise BadInput(f"{d}/X.npy: shape {tuple(X.shape)}, expected (N, {spec['input_dim']})")
    running_before = [t.clone() for k, t in net.state_dict().items() if "running" in k]

    # ---- loss and gradient (graph kept for the double backward) ----
    Fout = batch_outputs(net, X, B)
    L = data_loss(spec, Fout, Y, N)
    if wd > 0:
        L = L + 0.5 * wd * sum((p * p).sum() for p in params)
    grads = torch.autograd.grad(L, params, create_graph=True, allow_unused=True)
    g = flat(grads, params)
    np.save(os.path.join(d, "loss.npy"), np.array(L.item(), dtype=np.float64))
    np.save(os.path.join(d, "grad.npy"), g.detach().numpy())
    np.save(os.path.join(d, "out.npy"), Fout.detach().numpy())

    vpath = os.path.join(d, "V.npy")
    if os.path.exists(vpath):
        Vnp = np.load(vpath).astype(np.float64)
        single = Vnp.ndim == 1
        V = torch.from_numpy(np.atleast_2d(Vnp))
        if V.shape[1] != P:
            raise BadInput(f"{vpath}: shape {Vnp.shape}, the model has P = {P} parameters")
        # H v by double backward: d/dtheta (g . v)
        hv = []
        for v in V:
            r = torch.autograd.grad(grads, params, grad_outputs=split(v, params), retain_graph=True,
                                    allow_unused=True)
            hv.append(flat(r, params))
        HV = torch.stack(hv).detach().numpy()

        # G v = J^T H_loss J v (+ lambda v), independent of the Hessian path
        Fdata = batch_outputs(net, X, B)
        Ld = data_loss(spec, Fdata, Y, N)
        dLdF = torch.autograd.grad(Ld, Fdata, create_graph=True)[0]
        u = torch.zeros_like(Fdata, requires_grad=True)
        Jtu = torch.autograd.grad(Fdata, params, grad_outputs=u, create_graph=True, allow_unused=True)
        used = [(t, p) for t, p in zip(Jtu, params) if t is not None]
        gv = []
        for v in V:
            vs = split(v, params)
            vs_used = [vv for (t, p), vv in zip(zip(Jtu, params), vs) if t is not None]
            Jv = torch.autograd.grad([t for t, _ in used], u, grad_outputs=vs_used, retain_graph=True)[0]
            HJv = torch.autograd.grad(dLdF, Fdata, grad_outputs=Jv, retain_graph=True)[0]
            r = torch.autograd.grad(Fdata, params, grad_outputs=HJv, retain_graph=True, allow_unused=True)
            gv.append(flat(r, params) + wd * v)
        GV = torch.stack(gv).detach().numpy()
        if single:
            HV, GV = HV[0], GV[0]
        np.save(os.path.join(d, "hvp.npy"), HV)
        np.save(os.path.join(d, "ggn.npy"), GV)

    running_after = [t for k, t in net.state_dict().items() if "running" in k]
    for a, b in zip(running_before, running_after):
        assert torch.equal(a, b), "batch norm running statistics changed"
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"P": P, "N": N, "batch": B, "torch": torch.__version__,
                   "params": [[n, list(p.shape)] for n, p in named]}, f)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(int(os.environ.get("HS_TORCH_THREADS", "1")))
    for d in argv[1:]:
        try:
            run_case(d)
        except (BadInput, OSError, ValueError, KeyError) as e:
            print(f"reference.py: {d}: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
