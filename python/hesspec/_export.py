"""A PyTorch module as a hesspec layer-form spec and its tensors (the one home of this logic).

Used by hesspec.Model.from_torch and by scripts/export_torch.py (which loads this file by its
path, so it must not import anything from the hesspec package). The accepted modules and how
each maps to a layer: scripts/export_torch.py's docstring and DESIGN.md "Model spec".
"""
import copy

import numpy as np
import torch
import torch.nn as nn


class Refused(Exception):
    """An unsupported module or setting; the message names the module by its qualified name."""


SUPPORTED = ("nn.Linear, nn.Conv2d, nn.BatchNorm1d/2d, nn.ReLU, nn.Tanh, nn.Identity, nn.AvgPool2d, "
             "nn.MaxPool2d, nn.AdaptiveAvgPool2d(1), nn.Flatten, residual blocks (children `body` and "
             "`shortcut`), nested nn.Sequential")


def _cls(m):
    t = type(m)
    return f"{t.__module__}.{t.__qualname__}"


def _who(q, m):
    return f"`{q or '(top level)'}` ({_cls(m)})"


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(x) for x in v)
    return v if len(v) == 2 else None


def _one(p):
    """An int for a square pair, else [a, b] (the spec accepts both)."""
    return p[0] if p[0] == p[1] else [p[0], p[1]]


def _shape_str(s):
    return "[" + ", ".join(map(str, s)) + "]"


def _is_plain_sequential(m):
    return isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward


class _Exporter:
    def __init__(self):
        self.tensors = []   # [(exported name, tensor)] in state_dict order
        self.renames = []   # [(source qualified name, exported module path)] where they differ
        self.src_prefix = ""  # "layers." for a bare nn.Sequential (its children are "0", "1", ...)

    def refuse(self, q, m, why):
        raise Refused(f"{_who(q, m)}: {why}")

    # A list of (source name, module) with nested plain Sequentials inlined.
    def _items(self, q, seq):
        out = []
        for name, m in seq.named_children():
            sq = f"{q}.{name}" if q else name
            if _is_plain_sequential(m):
                out.extend(self._items(sq, m))
            else:
                out.append((sq, m))
        return out

    def seq(self, q, seq, shape, path):
        layers = []
        for i, (sq, m) in enumerate(self._items(q, seq)):
            p = f"{path}.{i}"
            layer, shape = self.layer(sq, m, shape, p)
            if self.src_prefix + sq != p:
                self.renames.append((sq, p))
            layers.append(layer)
        return layers, shape

    def _add(self, p, m, names):
        for n in names:
            t = getattr(m, n)
            self.tensors.append((f"{p}.{n}", t.detach()))

    def layer(self, q, m, shape, p):
        rank = len(shape)
        direct_params = list(m.named_parameters(recurse=False))
        if isinstance(m, nn.Linear) and type(m).forward is nn.Linear.forward:
            if rank != 1:
                self.refuse(q, m, f"nn.Linear on a {_shape_str(shape)} input: hesspec's linear takes [F] "
                            "(insert nn.Flatten())")
            if m.in_features != shape[0]:
                self.refuse(q, m, f"in_features {m.in_features}, but the input has {shape[0]} features")
            self._add(p, m, ["weight"] + (["bias"] if m.bias is not None else []))
            return {"type": "linear", "out_features": m.out_features, "bias": m.bias is not None}, \
                (m.out_features,)
        if type(m) is nn.Conv2d:
            if m.groups != 1:
                self.refuse(q, m, f"groups={m.groups} (only groups=1 is supported)")
            if tuple(m.dilation) != (1, 1):
                self.refuse(q, m, f"dilation={tuple(m.dilation)} (only dilation 1 is supported)")
            if m.padding_mode != "zeros":
                self.refuse(q, m, f"padding_mode='{m.padding_mode}' (only 'zeros' is supported)")
            if rank != 3:
                self.refuse(q, m, f"nn.Conv2d needs a [C, H, W] input, got {_shape_str(shape)}")
            if m.in_channels != shape[0]:
                self.refuse(q, m, f"in_channels {m.in_channels}, but the input has {shape[0]} channels")
            k, s = _pair(m.kernel_size), _pair(m.stride)
            if m.padding == "valid":
                pad = (0, 0)
            elif m.padding == "same":
                if s != (1, 1) or k[0] % 2 == 0 or k[1] % 2 == 0:
                    self.refuse(q, m, "padding='same' with an even kernel is asymmetric (not supported)")
                pad = ((k[0] - 1) // 2, (k[1] - 1) // 2)
            else:
                pad = _pair(m.padding)
            H, W = shape[1] + 2 * pad[0] - k[0], shape[2] + 2 * pad[1] - k[1]
            if H < 0 or W < 0:
                self.refuse(q, m, f"kernel {k} larger than the padded input {_shape_str(shape)}")
            self._add(p, m, ["weight"] + (["bias"] if m.bias is not None else []))
            return {"type": "conv2d", "out_channels": m.out_channels, "kernel": _one(k), "stride": _one(s),
                    "padding": _one(pad), "bias": m.bias is not None}, \
                (m.out_channels, H // s[0] + 1, W // s[1] + 1)
        if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
            if not m.affine:
                self.refuse(q, m, "affine=False (hesspec's batchnorm has a trainable weight and bias)")
            if not m.track_running_stats or m.running_mean is None:
                self.refuse(q, m, "track_running_stats=False (hesspec's batchnorm keeps running statistics)")
            want = nn.BatchNorm1d if rank == 1 else nn.BatchNorm2d
            if type(m) is not want:
                self.refuse(q, m, f"on a {_shape_str(shape)} input hesspec's batchnorm is {want.__name__}")
            if m.num_features != shape[0]:
                self.refuse(q, m, f"num_features {m.num_features}, but the input has {shape[0]}")
            self._add(p, m, ["weight", "bias", "running_mean", "running_var"])
            return {"type": "batchnorm", "eps": float(m.eps)}, shape
        for cls, t in ((nn.ReLU, "relu"), (nn.Tanh, "tanh"), (nn.Identity, "identity")):
            if type(m) is cls:
                return {"type": t}, shape
        if type(m) in (nn.MaxPool2d, nn.AvgPool2d):
            t = "maxpool" if type(m) is nn.MaxPool2d else "avgpool"
            if rank != 3:
                self.refuse(q, m, f"{type(m).__name__} needs a [C, H, W] input, got {_shape_str(shape)}")
            if _pair(m.padding) != (0, 0):
                self.refuse(q, m, f"padding={m.padding} (pools have no padding in hesspec"
                            + (", and count_include_pad=False with padding" if t == "avgpool"
                               and not m.count_include_pad else "") + ")")
            if m.ceil_mode:
                self.refuse(q, m, "ceil_mode=True (only floor mode is supported)")
            if t == "maxpool":
                if _pair(m.dilation) != (1, 1):
                    self.refuse(q, m, f"dilation={m.dilation} (only dilation 1 is supported)")
                if m.return_indices:
                    self.refuse(q, m, "return_indices=True is not supported")
            elif m.divisor_override is not None:
                self.refuse(q, m, f"divisor_override={m.divisor_override} is not supported")
            k = _pair(m.kernel_size)
            s = _pair(m.stride if m.stride is not None else m.kernel_size)
            if k is None or s is None:
                self.refuse(q, m, "kernel_size and stride must be 2D")
            if k[0] > shape[1] or k[1] > shape[2]:
                self.refuse(q, m, f"window {k} larger than the input {_shape_str(shape)}")
            return {"type": t, "kernel": _one(k), "stride": _one(s)}, \
                (shape[0], (shape[1] - k[0]) // s[0] + 1, (shape[2] - k[1]) // s[1] + 1)
        if type(m) is nn.AdaptiveAvgPool2d:
            if m.output_size not in (1, (1, 1), [1, 1]):
                self.refuse(q, m, f"output_size={m.output_size} (only 1, global average pooling, is supported)")
            if rank != 3:
                self.refuse(q, m, f"needs a [C, H, W] input, got {_shape_str(shape)}")
            return {"type": "global_avgpool"}, (shape[0], 1, 1)
        if type(m) is nn.Flatten:
            if (m.start_dim, m.end_dim) != (1, -1):
                self.refuse(q, m, f"start_dim={m.start_dim}, end_dim={m.end_dim} (only 1, -1 is supported)")
            return {"type": "flatten"}, (int(np.prod(shape)),)
        children = dict(m.named_children())
        if set(children) in ({"body", "shortcut"}, {"body"}) and not direct_params \
                and not list(m.named_buffers(recurse=False)):
            return self.residual(q, m, children, shape, p)
        self.refuse(q, m, f"unsupported module (hesspec's layer form supports {SUPPORTED})")

    def residual(self, q, m, children, shape, p):
        body, short = children["body"], children.get("shortcut")
        if not _is_plain_sequential(body):
            self.refuse(q, m, f"residual block: `body` must be an nn.Sequential, got {_cls(body)}")
        if short is not None and not (_is_plain_sequential(short) or type(short) is nn.Identity):
            self.refuse(q, m, f"residual block: `shortcut` must be an nn.Sequential or nn.Identity, got {_cls(short)}")
        b_layers, b_shape = self.seq(f"{q}.body", body, shape, f"{p}.body")
        if _is_plain_sequential(short):
            s_layers, s_shape = self.seq(f"{q}.shortcut", short, shape, f"{p}.shortcut")
        else:
            s_layers, s_shape = [], shape
        if b_shape != s_shape:
            self.refuse(q, m, f"residual block: body gives {_shape_str(b_shape)}, shortcut {_shape_str(s_shape)}")
        # The forward must be body(x) + shortcut(x): checked on a random input (eval mode, copies).
        mm = copy.deepcopy(m).cpu().double().eval()
        x = torch.randn((3,) + tuple(shape), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        try:
            with torch.no_grad():
                got = mm(x)
                want = mm.body(x) + (mm.shortcut(x) if short is not None else x)
            bad = got.shape != want.shape or not torch.allclose(got, want, rtol=1e-12, atol=1e-12)
        except Exception as e:  # noqa: BLE001 -- any failure means the contract does not hold
            bad, got = True, e
        if bad:
            self.refuse(q, m, "has children `body` and `shortcut` but its forward is not body(x) + shortcut(x)")
        return {"type": "residual", "body": b_layers, "shortcut": s_layers}, b_shape


def convert(model, input_shape, loss="cross_entropy", batchnorm_mode="batch", weight_decay=0.0):
    """(spec dict, [(name, tensor)], [(source name, exported path)]) of a module."""
    ex = _Exporter()
    if _is_plain_sequential(model):
        top, q = model, ""
    else:
        children = dict(model.named_children())
        if set(children) == {"layers"} and _is_plain_sequential(children["layers"]) \
                and not list(model.named_parameters(recurse=False)) and not list(model.named_buffers(recurse=False)):
            top, q = children["layers"], "layers"
        else:
            raise Refused(f"{_who('', model)}: expected an nn.Sequential, or a module whose only child is an "
                          f"nn.Sequential named `layers` (children: {sorted(children) or 'none'})")
    ex.src_prefix = "" if q else "layers."
    layers, out = ex.seq(q, top, tuple(input_shape), "layers")
    if len(out) != 1:
        raise Refused(f"the network's output has shape {_shape_str(out)}; hesspec needs [C] (end with "
                      "nn.Flatten() / nn.Linear)")
    spec = {"input_shape": list(input_shape), "layers": layers, "batchnorm_mode": batchnorm_mode,
            "loss": loss, "weight_decay": weight_decay}
    return spec, ex.tensors, ex.renames
