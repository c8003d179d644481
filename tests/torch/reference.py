#!/usr/bin/python3
"""PyTorch reference for the hesspec cross-check suite (tests/torch_crosscheck.c).

Builds the network of a hesspec model spec (../shared/DESIGN.md, "Model spec") as an ordinary
PyTorch module in float64, in either form:

  MLP form    `blocks.{i}.linear`, `blocks.{i}.norm` (BatchNorm1d, eps=1e-5), `head`
  layer form  a wrapper whose attribute `layers` is an nn.Sequential of the spec's layers:
              nn.Linear, nn.Conv2d, nn.BatchNorm1d (rank-1 inputs) / nn.BatchNorm2d ([C, H, W]),
              nn.ReLU, nn.Tanh, nn.Identity, nn.AvgPool2d / nn.MaxPool2d (no padding, floor
              mode), nn.AdaptiveAvgPool2d(1) (global_avgpool), nn.Flatten, and Residual (two
              nn.Sequential children `body` and `shortcut`, forward body(x) + shortcut(x)),
              so the tensor names are those of model.state_dict(): `layers.{i}.weight`,
              `layers.{i}.body.{j}.running_mean`, ... (num_batches_tracked ignored)

loads a safetensors checkpoint by those tensor names, and computes on the data X.npy / Y.npy,
processed in consecutive batches of size B (the last one possibly smaller):

  loss.npy  ()       sum over batches of the per-batch loss sums / N  (+ lambda/2 ||theta||^2)
  grad.npy  (P,)     dL/dtheta, flat in the DESIGN.md parameter order (model.parameters())
  hvp.npy   (k, P)   H v for each row v of V.npy, by double backward
  ggn.npy   (k, P)   J^T H_loss J v (+ lambda v), J = d(network outputs)/dtheta, by the
                     double-vjp trick for J v and autograd on the loss for H_loss
  out.npy   (N, C)   the network outputs (for diagnosis)

Batch norm: "batch" (MLP "batchnorm", layer form "batchnorm_mode") = training mode with
momentum 0, so the batch statistics normalise and the running statistics never change
(checked); "running" = eval mode (the stored statistics).

Nothing here shares code with hesspec: it is an independent implementation of the same
mathematics by PyTorch's autograd.

Usage: reference.py CASE_DIR [CASE_DIR ...]
Each CASE_DIR holds spec.json, weights.safetensors, X.npy, Y.npy, V.npy (optional; shape
(P,) or (k, P)) and case.json {"batch": B} (optional; 0 or absent = one batch). X.npy is
(N, input_dim) for the MLP form; (N, F), (N, C, H, W) or (N, C*H*W) for the layer form.
Outputs are written into CASE_DIR. Exit status 0 on success, 2 on bad input (message on stderr).

       reference.py --init SPEC.json OUT.safetensors SEED
writes a float64 safetensors checkpoint of a freshly initialised module of SPEC.json (PyTorch's
default initialisation under torch.manual_seed(SEED); batch-norm weight ~ U(0.5, 1.5), bias ~
U(-0.5, 0.5), running_mean ~ U(-0.5, 0.5), running_var ~ U(0.5, 1.5), so no point is special).
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
LAYER_SPEC_KEYS = {"input_shape", "layers", "batchnorm_mode", "loss", "weight_decay"}
# The keys of each layer type besides "type" (and an optional "name" equal to its path).
LAYER_KEYS = {
    "linear": {"out_features", "bias"},
    "conv2d": {"out_channels", "kernel", "stride", "padding", "bias"},
    "batchnorm": {"eps"},
    "relu": set(), "tanh": set(), "identity": set(),
    "avgpool": {"kernel", "stride"},
    "maxpool": {"kernel", "stride"},
    "global_avgpool": set(),
    "flatten": set(),
    "residual": {"body", "shortcut"},
}


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


def write_safetensors(path, tensors, dtype="F64", metadata=None):
    """Writes [(name, array), ...] in that order as F64 or F32 (little endian, C order), the
    header padded with spaces to a multiple of 8 bytes. Atomic: a temporary name, then rename."""
    np_dt = {"F64": "<f8", "F32": "<f4"}[dtype]
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors:
        a = np.asarray(a)
        b = np.ascontiguousarray(a, dtype=np_dt).tobytes()
        header[name] = {"dtype": dtype, "shape": [int(s) for s in a.shape],
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---- the network, MLP form --------------------------------------------------------------

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


# ---- the network, layer form -------------------------------------------------------------

class Residual(nn.Module):
    """out = body(x) + shortcut(x); an empty shortcut is the identity."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def _shape_str(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int(layer, key, path, minimum, default=None):
    v = layer.get(key, default)
    if v is None:
        raise BadInput(f"{path}: '{key}' is required for a {layer['type']} layer")
    if not _is_int(v) or v < minimum:
        raise BadInput(f"{path}: '{key}' must be an integer >= {minimum}, got {json.dumps(v)}")
    return v


def _pair(layer, key, path, minimum, default=None):
    """An int or [a, b] (ints >= minimum) as a tuple (a, b)."""
    v = layer.get(key, default)
    if v is None:
        raise BadInput(f"{path}: '{key}' is required for a {layer['type']} layer")
    if _is_int(v):
        v = [v, v]
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(x) and x >= minimum for x in v)):
        raise BadInput(f"{path}: '{key}' must be an integer >= {minimum} or a pair of them, got {json.dumps(v)}")
    return (v[0], v[1])


def _bool(layer, key, path, default):
    v = layer.get(key, default)
    if not isinstance(v, bool):
        raise BadInput(f"{path}: '{key}' must be true or false, got {json.dumps(v)}")
    return v


def _layer_list(items, shape, path, make):
    """Checks a layer list (keys, values, shapes) applied to per-sample `shape` (a tuple, rank 1
    or 3); returns (modules or None, output shape, normalised layer dicts). `path` is the
    list's module path ("layers", "layers.3.body"); errors name the layer ("layers.3.body.0")."""
    if not isinstance(items, list):
        raise BadInput(f"{path}: must be a list of layers, got {json.dumps(items)[:60]}")
    mods, norm = [], []
    for i, layer in enumerate(items):
        p = f"{path}.{i}"
        if not isinstance(layer, dict):
            raise BadInput(f"{p}: a layer must be an object, got {json.dumps(layer)[:60]}")
        t = layer.get("type")
        if t not in LAYER_KEYS:
            raise BadInput(f"{p}: unknown layer type {json.dumps(t)} (one of {', '.join(LAYER_KEYS)})")
        unknown = set(layer) - LAYER_KEYS[t] - {"type", "name"}
        if unknown:
            raise BadInput(f"{p}: unknown keys {sorted(unknown)} for a {t} layer")
        if "name" in layer and layer["name"] not in ("", p):
            raise BadInput(f"{p}: 'name' {json.dumps(layer['name'])}: only the layer's own path is supported")
        rank = len(shape)
        m, n = None, {"type": t}

        def need_rank3():
            if rank != 3:
                raise BadInput(f"{p}: {t} needs a [C, H, W] input, got {_shape_str(shape)}")

        if t == "linear":
            n["out_features"] = _int(layer, "out_features", p, 1)
            n["bias"] = _bool(layer, "bias", p, True)
            if rank != 1:
                raise BadInput(f"{p}: linear needs a rank-1 input [F], got {_shape_str(shape)} (insert a flatten)")
            out = (n["out_features"],)
            if make:
                m = nn.Linear(shape[0], n["out_features"], bias=n["bias"])
        elif t == "conv2d":
            n["out_channels"] = _int(layer, "out_channels", p, 1)
            n["kernel"] = _pair(layer, "kernel", p, 1)
            n["stride"] = _pair(layer, "stride", p, 1, 1)
            n["padding"] = _pair(layer, "padding", p, 0, 0)
            n["bias"] = _bool(layer, "bias", p, True)
            need_rank3()
            (kh, kw), (sh, sw), (ph, pw) = n["kernel"], n["stride"], n["padding"]
            H, W = shape[1] + 2 * ph - kh, shape[2] + 2 * pw - kw
            if H < 0 or W < 0:
                raise BadInput(f"{p}: kernel {kh}x{kw} (padding {ph}, {pw}) larger than the input {_shape_str(shape)}")
            out = (n["out_channels"], H // sh + 1, W // sw + 1)
            if make:
                m = nn.Conv2d(shape[0], n["out_channels"], (kh, kw), stride=(sh, sw), padding=(ph, pw),
                              bias=n["bias"])
        elif t == "batchnorm":
            eps = layer.get("eps", 1e-5)
            if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
                raise BadInput(f"{p}: 'eps' must be a number > 0, got {json.dumps(eps)}")
            n["eps"] = float(eps)
            out = shape
            if make:
                # momentum=0: training-mode BN normalises by the batch statistics and leaves the
                # running statistics untouched (no update during Hessian work).
                cls = nn.BatchNorm1d if rank == 1 else nn.BatchNorm2d
                m = cls(shape[0], eps=n["eps"], momentum=0.0)
        elif t in ("relu", "tanh", "identity"):
            out = shape
            if make:
                m = {"relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}[t]()
        elif t in ("avgpool", "maxpool"):
            n["kernel"] = _pair(layer, "kernel", p, 1)
            n["stride"] = _pair(layer, "stride", p, 1, list(n["kernel"]))
            need_rank3()
            (kh, kw), (sh, sw) = n["kernel"], n["stride"]
            if kh > shape[1] or kw > shape[2]:
                raise BadInput(f"{p}: {t} window {kh}x{kw} larger than the input {_shape_str(shape)}")
            out = (shape[0], (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1)
            if make:
                cls = nn.AvgPool2d if t == "avgpool" else nn.MaxPool2d
                m = cls((kh, kw), stride=(sh, sw), padding=0, ceil_mode=False)
        elif t == "global_avgpool":
            need_rank3()
            out = (shape[0], 1, 1)
            if make:
                m = nn.AdaptiveAvgPool2d(1)
        elif t == "flatten":
            out = (int(np.prod(shape)),)
            if make:
                m = nn.Flatten()
        else:  # residual
            if "body" not in layer:
                raise BadInput(f"{p}: 'body' is required for a residual layer")
            bm, bout, bn_ = _layer_list(layer["body"], shape, f"{p}.body", make)
            sm, sout, sn_ = _layer_list(layer.get("shortcut") or [], shape, f"{p}.shortcut", make)
            if bout != sout:
                raise BadInput(f"{p}: body gives {_shape_str(bout)} but shortcut gives {_shape_str(sout)}")
            n["body"], n["shortcut"] = bn_, sn_
            out = bout
            if make:
                m = Residual(bm, sm)
        mods.append(m)
        norm.append(n)
        shape = tuple(out)
    return (mods if make else None), tuple(shape), norm


class LayerNet(nn.Module):
    """The layer form: self.layers is the nn.Sequential; inputs are reshaped to (N, *input_shape)."""

    def __init__(self, spec):
        super().__init__()
        self.input_shape = tuple(spec["input_shape"])
        mods, self.output_shape, _ = _layer_list(spec["layers"], self.input_shape, "layers", True)
        self.layers = nn.Sequential(*mods)

    def forward(self, x):
        return self.layers(x.reshape(x.shape[0], *self.input_shape))

    def flat_params(self):
        """Trainable tensors in model.parameters() order (the DESIGN.md order), with their names."""
        return list(self.named_parameters())


def _load_layer_spec(path, spec):
    unknown = set(spec) - LAYER_SPEC_KEYS
    if unknown:
        raise BadInput(f"{path}: unknown keys {sorted(unknown)} (the layer form has {sorted(LAYER_SPEC_KEYS)})")
    try:
        shape = spec.get("input_shape")
        if not (isinstance(shape, list) and len(shape) in (1, 3) and all(_is_int(d) and d >= 1 for d in shape)):
            raise BadInput(f"'input_shape' must be [F] or [C, H, W] of positive integers, got {json.dumps(shape)}")
        spec["batchnorm_mode"] = spec.get("batchnorm_mode", "batch")
        if spec["batchnorm_mode"] not in ("batch", "running"):
            raise BadInput(f"'batchnorm_mode' must be \"batch\" or \"running\", got {json.dumps(spec['batchnorm_mode'])}")
        spec["loss"] = spec.get("loss", "cross_entropy")
        if spec["loss"] not in ("mse", "cross_entropy"):
            raise BadInput(f"'loss' must be \"mse\" or \"cross_entropy\", got {json.dumps(spec['loss'])}")
        wd = spec.get("weight_decay") or 0.0
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or wd < 0:
            raise BadInput(f"'weight_decay' must be a number >= 0, got {json.dumps(wd)}")
        spec["weight_decay"] = float(wd)
        _, out, norm = _layer_list(spec.get("layers"), tuple(shape), "layers", False)
        if len(out) != 1:
            raise BadInput(f"the network's output has shape {_shape_str(out)}; it must be [C] (end with flatten/linear)")
    except BadInput as e:
        raise BadInput(f"{path}: {e}") from None
    spec["form"] = "layers"
    spec["input_dim"] = int(np.prod(shape))
    spec["output_dim"] = out[0]
    spec["layers_normalised"] = norm
    return spec


def load_spec(path):
    with open(path) as f:
        spec = json.load(f)
    if not isinstance(spec, dict):
        raise BadInput(f"{path}: a model spec must be a JSON object")
    if "layers" in spec or "input_shape" in spec:
        return _load_layer_spec(path, spec)
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
    spec["form"] = "mlp"
    return spec


def bn_training(spec):
    """True where batch norm normalises by the batch statistics (PyTorch training mode)."""
    if spec.get("form") == "layers":
        return spec["batchnorm_mode"] == "batch"
    return spec["batchnorm"] == "batch"


def make_net(spec):
    """The float64 module of a spec (PyTorch's default initialisation), in the spec's BN mode."""
    net = (LayerNet(spec) if spec.get("form") == "layers" else Net(spec)).double()
    net.train(bn_training(spec))
    return net


def build(spec, weights_path):
    net = make_net(spec)
    tensors = read_safetensors(weights_path)
    state = net.state_dict()
    expected = {k for k in state if not k.endswith("num_batches_tracked")}
    missing = expected - set(tensors)
    extra = set(tensors) - expected - {k for k in state if k.endswith("num_batches_tracked")}
    if missing or extra:
        raise BadInput(f"{weights_path}: missing tensors {sorted(missing)}, unexpected {sorted(extra)}")
    for k in expected:
        if tuple(state[k].shape) != tensors[k].shape:
            raise BadInput(f"{weights_path}: {k} has shape {tensors[k].shape}, expected {tuple(state[k].shape)}")
        state[k] = torch.from_numpy(tensors[k].copy())
    net.load_state_dict(state)
    # "batch": training mode (batch statistics); "running": eval mode (stored statistics).
    net.train(bn_training(spec))
    return net


def init_state(spec, seed):
    """A freshly initialised module of the spec: PyTorch's default initialisation under
    torch.manual_seed(seed), then batch-norm weight ~ U(0.5, 1.5), bias ~ U(-0.5, 0.5),
    running_mean ~ U(-0.5, 0.5), running_var ~ U(0.5, 1.5). Returns [(name, float64 array)]
    in state_dict order, without num_batches_tracked."""
    seed = int(seed) % (1 << 64)
    torch.manual_seed(seed)
    net = make_net(spec)
    g = torch.Generator().manual_seed((seed + 0x9E3779B97F4A7C15) % (1 << 64))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.5, 0.5, generator=g)
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return [(k, v.detach().double().numpy().copy()) for k, v in net.state_dict().items()
            if not k.endswith("num_batches_tracked")]


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


def load_inputs(spec, Xnp, path):
    """X as a float64 tensor the network takes: (N, input_dim) for the MLP form; (N, F),
    (N, C, H, W) or (N, C*H*W) for the layer form (reshaped to (N, *input_shape))."""
    X = torch.from_numpy(np.ascontiguousarray(Xnp, dtype=np.float64))
    if spec.get("form") != "layers":
        if X.ndim != 2 or X.shape[1] != spec["input_dim"]:
            raise BadInput(f"{path}: shape {tuple(X.shape)}, expected (N, {spec['input_dim']})")
        return X
    shape = tuple(spec["input_shape"])
    N = X.shape[0] if X.ndim >= 1 else 0
    if X.ndim >= 1 and tuple(X.shape[1:]) == shape:
        return X
    if X.ndim == 2 and X.shape[1] == spec["input_dim"]:
        return X.reshape(N, *shape)
    want = f"(N, {', '.join(map(str, shape))})" + (f" or (N, {spec['input_dim']})" if len(shape) > 1 else "")
    raise BadInput(f"{path}: shape {tuple(X.shape)}, expected {want}")


def load_targets(spec, Ynp, N, C, path):
    if spec["loss"] == "cross_entropy":
        if Ynp.shape != (N,):
            raise BadInput(f"{path}: shape {Ynp.shape}, expected ({N},) class labels")
        return torch.from_numpy(Ynp.astype(np.int64))
    if Ynp.shape != (N, C):
        raise BadInput(f"{path}: shape {Ynp.shape}, expected ({N}, {C})")
    return torch.from_numpy(Ynp.astype(np.float64))


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

    X = load_inputs(spec, np.load(os.path.join(d, "X.npy")), os.path.join(d, "X.npy"))
    N = X.shape[0]
    Y = load_targets(spec, np.load(os.path.join(d, "Y.npy")), N, spec["output_dim"], os.path.join(d, "Y.npy"))
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
        if V.ndim != 2 or V.shape[1] != P:
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
        json.dump({"P": P, "N": N, "batch": B, "torch": torch.__version__, "form": spec["form"],
                   "params": [[n, list(p.shape)] for n, p in named]}, f)


def main(argv):
    if len(argv) >= 2 and argv[1] == "--init":
        if len(argv) != 5:
            print("usage: reference.py --init SPEC.json OUT.safetensors SEED", file=sys.stderr)
            return 2
        try:
            seed = int(argv[4], 0)
            spec = load_spec(argv[2])
            write_safetensors(argv[3], init_state(spec, seed), "F64",
                              {"format": "pt", "source": f"reference.py --init seed {seed}"})
        except (BadInput, OSError, ValueError, KeyError) as e:
            print(f"reference.py --init: {e}", file=sys.stderr)
            return 2
        return 0
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
