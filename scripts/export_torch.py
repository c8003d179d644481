#!/usr/bin/python3
"""Export a PyTorch module to a hesspec layer-form model spec and a safetensors checkpoint.

  export_torch.py FILE.py MODULE_NAME --input-shape C,H,W|F --out-spec SPEC.json
                  --out-weights WEIGHTS.safetensors [--loss cross_entropy|mse]
                  [--batchnorm-mode batch|running] [--weight-decay L] [--dtype f64|f32]
  export_torch.py --selftest

FILE.py is imported (its directory first on sys.path); MODULE_NAME (dotted names allowed) is an
nn.Module instance in it, or a class / zero-argument function returning one. The module must be
an nn.Sequential, or a module whose only child is an nn.Sequential attribute named `layers`,
of these layers (the layer form of DESIGN.md, "Model spec"):

  nn.Linear                       linear {out_features, bias}
  nn.Conv2d                       conv2d {out_channels, kernel, stride, padding, bias}
                                  (zeros padding mode, dilation 1, groups 1; padding "same"
                                  only where it is symmetric)
  nn.BatchNorm1d / nn.BatchNorm2d batchnorm {eps} (affine, track_running_stats; 1d on [F],
                                  2d on [C, H, W]); momentum is not exported
  nn.ReLU, nn.Tanh, nn.Identity   relu, tanh, identity
  nn.AvgPool2d / nn.MaxPool2d     avgpool / maxpool {kernel, stride} (no padding, no
                                  ceil_mode, dilation 1, no divisor_override)
  nn.AdaptiveAvgPool2d(1)         global_avgpool
  nn.Flatten()                    flatten (start_dim 1, end_dim -1)
  residual block                  residual {body, shortcut}: a module whose only children are
                                  an nn.Sequential `body` and an nn.Sequential (or nn.Identity)
                                  `shortcut`, with forward body(x) + shortcut(x) (checked
                                  numerically on a random input)
  nested plain nn.Sequential      inlined into the enclosing list

Anything else is refused by its qualified name in the module and its class (exit status 2),
and nothing is written. The spec is written with every field explicit; the checkpoint holds
the tensors under the names a reference.py module of that spec gives them (`layers.{i}.weight`,
`layers.{i}.body.{j}.running_mean`, ...; inlined Sequentials are renumbered; no
num_batches_tracked), so the flat parameter vector is the module's parameters() order.

After writing both files under temporary names, the script verifies its own output: it rebuilds
the network from the written spec with tests/torch/reference.py's builder, loads the written
weights, and checks the tensors read back, the flat parameter vector, and the outputs of both
networks on a random input in batch-statistics and running-statistics batch-norm mode (f64
relative difference <= 1e-10; with --dtype f32 the source module's values are rounded to f32
first). On a mismatch it reports and exits 1, writing nothing; on success both files are renamed
into place. --selftest exports LeNet, a small ResNet and refusal cases through this path.
"""
import argparse
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

_REF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "torch")
sys.path.insert(0, _REF_DIR)
_default_dtype = torch.get_default_dtype()
import reference as ref  # noqa: E402  (it sets float64 as the default dtype; the user's file keeps its own)
torch.set_default_dtype(_default_dtype)

PROG = "export_torch.py"
# The conversion itself lives in the Python package (python/hesspec/_export.py), loaded here by
# its path so that this script needs neither the package installed nor libhesspec.so built.
_EXPORT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python", "hesspec",
                            "_export.py")
_export_spec = importlib.util.spec_from_file_location("hesspec_export", _EXPORT_PATH)
_export = importlib.util.module_from_spec(_export_spec)
_export_spec.loader.exec_module(_export)
Refused, SUPPORTED, convert, _shape_str = _export.Refused, _export.SUPPORTED, _export.convert, _export._shape_str


VERIFY_TOL = 1e-10


class VerifyFailed(Exception):
    """The written files do not reproduce the module: exit status 1."""


# ---- the spec as JSON (one layer per line, residual blocks spread out) --------------------

def _fmt_layers(layers, ind):
    out = []
    for L in layers:
        if L["type"] != "residual":
            out.append(ind + json.dumps(L))
            continue
        body = _fmt_layers(L["body"], ind + "   ")
        short = _fmt_layers(L["shortcut"], ind + "   ")
        s = ind + '{"type": "residual",\n' + ind + ' "body": [\n' + ",\n".join(body) + "],\n"
        s += ind + ' "shortcut": [' + ("\n" + ",\n".join(short) + "]}" if short else "]}")
        out.append(s)
    return out


def spec_text(spec):
    head = [f'  "input_shape": {json.dumps(spec["input_shape"])},', '  "layers": [']
    tail = [f'  "batchnorm_mode": {json.dumps(spec["batchnorm_mode"])},', f'  "loss": {json.dumps(spec["loss"])},',
            f'  "weight_decay": {json.dumps(spec["weight_decay"])}']
    text = "{\n" + "\n".join(head) + "\n" + ",\n".join(_fmt_layers(spec["layers"], "    ")) + "\n  ],\n" \
        + "\n".join(tail) + "\n}\n"
    assert json.loads(text) == spec
    return text


# ---- the export ---------------------------------------------------------------------------

def load_module(file, name):
    if not os.path.isfile(file):
        raise Refused(f"{file}: no such file")
    d = os.path.dirname(os.path.abspath(file))
    if d not in sys.path:
        sys.path.insert(0, d)
    modname = os.path.splitext(os.path.basename(file))[0] or "model"
    spec = importlib.util.spec_from_file_location(modname, file)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 -- the user's file: report, don't trace
        raise Refused(f"{file}: importing failed: {type(e).__name__}: {e}") from None
    obj = mod
    for part in name.split("."):
        if not hasattr(obj, part):
            raise Refused(f"{file}: no attribute `{name}`")
        obj = getattr(obj, part)
    if not isinstance(obj, nn.Module):
        if callable(obj):
            try:
                obj = obj()
            except Exception as e:  # noqa: BLE001
                raise Refused(f"{file}: `{name}()` failed: {type(e).__name__}: {e}") from None
        if not isinstance(obj, nn.Module):
            raise Refused(f"{file}: `{name}` is not an nn.Module (nor a class or zero-argument function returning one)")
    return obj


def parse_shape(text):
    try:
        dims = [int(x) for x in text.replace("x", ",").split(",") if x.strip()]
    except ValueError:
        dims = []
    if len(dims) not in (1, 3) or min(dims) < 1:
        raise Refused(f"--input-shape {text!r}: expected C,H,W or F (positive integers)")
    return dims


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def verify(model, spec_path, weights_path, tensors, dtype, n=4):
    """Rebuilds from the written files with reference.py and compares with the module."""
    st_dt = np.float64 if dtype == "f64" else np.float32
    back = ref.read_safetensors(weights_path)
    if list(back) != [k for k, _ in tensors]:
        raise VerifyFailed(f"{weights_path}: tensor names read back differ from those written")
    for k, t in tensors:
        want = t.cpu().double().numpy().astype(st_dt).astype(np.float64)
        if back[k].shape != want.shape or not np.array_equal(back[k], want):
            raise VerifyFailed(f"{weights_path}: tensor {k} reads back different values")
    spec = ref.load_spec(spec_path)
    net = ref.build(spec, weights_path)
    src = copy.deepcopy(model).cpu().double()
    if dtype == "f32":
        with torch.no_grad():
            for t in list(src.parameters()) + list(src.buffers()):
                if t.is_floating_point():
                    t.copy_(t.float().double())
    theta_src = torch.cat([p.detach().reshape(-1) for p in src.parameters()])
    theta_ref = torch.cat([p.detach().reshape(-1) for _, p in net.flat_params()])
    if theta_src.shape != theta_ref.shape or not torch.equal(theta_src, theta_ref):
        raise VerifyFailed(f"the flat parameter vector differs: module parameters() P = {theta_src.numel()}, "
                           f"rebuilt from {spec_path} P = {theta_ref.numel()}")
    x = torch.randn((n,) + tuple(spec["input_shape"]), generator=torch.Generator().manual_seed(1234),
                    dtype=torch.float64)
    report, bad = [], False
    for mode in ("batch", "running"):
        a = copy.deepcopy(src).train(mode == "batch")
        net.train(mode == "batch")
        with torch.no_grad():
            try:
                ya = a(x)
            except Exception as e:  # noqa: BLE001
                raise VerifyFailed(f"the module itself fails on a {tuple(x.shape)} input: {type(e).__name__}: {e}")
            yb = net(x)
        if ya.shape != yb.shape:
            raise VerifyFailed(f"[{mode} BN] output shape: module {tuple(ya.shape)}, rebuilt {tuple(yb.shape)}")
        r = _rel(yb, ya)
        report.append(f"{mode} BN: max rel. difference {r:.2e}")
        bad |= not r <= VERIFY_TOL
    net.train(ref.bn_training(spec))
    if bad:
        raise VerifyFailed("the network rebuilt from the written spec and weights gives different outputs: "
                           + "; ".join(report) + f" (tolerance {VERIFY_TOL:g})")
    return "; ".join(report)


def export(file, name, input_shape, out_spec, out_weights, loss="cross_entropy", batchnorm_mode="batch",
           weight_decay=0.0, dtype="f64", model=None, quiet=False):
    if os.path.abspath(out_spec) == os.path.abspath(out_weights):
        raise Refused("--out-spec and --out-weights name the same file")
    if model is None:
        model = load_module(file, name)
    spec, tensors, renames = convert(model, input_shape, loss, batchnorm_mode, weight_decay)
    text = spec_text(spec)
    tmp_spec = f"{out_spec}.tmp.{os.getpid()}.json"
    tmp_w = f"{out_weights}.tmp.{os.getpid()}.safetensors"
    try:
        with open(tmp_spec, "w") as f:
            f.write(text)
        ref.write_safetensors(tmp_w, [(k, t.cpu().double().numpy()) for k, t in tensors],
                              "F64" if dtype == "f64" else "F32",
                              {"format": "pt", "source": f"export_torch.py {os.path.basename(str(file))} {name}"})
        summary = verify(model, tmp_spec, tmp_w, tensors, dtype)
        os.replace(tmp_w, out_weights)
        os.replace(tmp_spec, out_spec)
    finally:
        for t in (tmp_spec, tmp_w):
            if os.path.exists(t):
                os.remove(t)
    P = sum(p.numel() for p in model.parameters())
    if not quiet:
        print(f"{PROG}: {name}: {len(spec['layers'])} top-level layers, P = {P} parameters, "
              f"{len(tensors)} tensors ({dtype}) -> {out_spec}, {out_weights}")
        if renames:
            print(f"{PROG}: nested nn.Sequential inlined, so these modules are renumbered (source -> exported):")
        for a, b in renames:
            print(f"{PROG}:   {a} -> {b}")
        print(f"{PROG}: verified against reference.py: {summary}")
    return spec, P


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", metavar="FILE.py")
    ap.add_argument("name", nargs="?", metavar="MODULE_NAME")
    ap.add_argument("--input-shape", metavar="C,H,W|F")
    ap.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy")
    ap.add_argument("--batchnorm-mode", choices=["batch", "running"], default="batch")
    ap.add_argument("--weight-decay", type=float, default=0.0, metavar="L")
    ap.add_argument("--out-spec", metavar="SPEC.json")
    ap.add_argument("--out-weights", metavar="WEIGHTS.safetensors")
    ap.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    ap.add_argument("--selftest", action="store_true", help="export LeNet, a small ResNet and refusal cases")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest()
    missing = [n for n, v in (("FILE.py", args.file), ("MODULE_NAME", args.name), ("--input-shape", args.input_shape),
                              ("--out-spec", args.out_spec), ("--out-weights", args.out_weights)) if not v]
    if missing:
        ap.print_usage(sys.stderr)
        print(f"{PROG}: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        if args.weight_decay < 0:
            raise Refused("--weight-decay must be >= 0")
        export(args.file, args.name, parse_shape(args.input_shape), args.out_spec, args.out_weights, args.loss,
               args.batchnorm_mode, args.weight_decay, args.dtype)
    except Refused as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except VerifyFailed as e:
        print(f"{PROG}: verification failed: {e}", file=sys.stderr)
        return 1
    except (ref.BadInput, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    return 0


# ---- --selftest ---------------------------------------------------------------------------

SELFTEST_MODELS = r'''
import torch
import torch.nn as nn


class Residual(nn.Module):
    def __init__(self, body, shortcut=()):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class IdentityShortcut(nn.Module):        # shortcut as nn.Identity, forward written out
    def __init__(self, body):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.body(x)
        return out + self.shortcut(x)


def randomise(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.5, 0.5, generator=g)
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return net


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def resnet20(bn=True, skip=True, width=16, blocks=3, in_ch=1, classes=10):
    """CIFAR ResNet-20 (He et al. 2016) with 1x1-conv (option B) shortcuts where the shape changes."""
    torch.manual_seed(0)

    def conv(i, o, k, s):
        return nn.Conv2d(i, o, k, stride=s, padding=k // 2, bias=not bn)

    def norm(c):
        return [nn.BatchNorm2d(c)] if bn else []

    layers, c = [conv(in_ch, width, 3, 1), *norm(width), nn.ReLU()], width
    for stage in range(3):
        o = width * 2 ** stage
        for b in range(blocks):
            s = 2 if stage > 0 and b == 0 else 1
            body = [conv(c, o, 3, s), *norm(o), nn.ReLU(), conv(o, o, 3, 1), *norm(o)]
            if skip:
                short = [conv(c, o, 1, s), *norm(o)] if (s != 1 or c != o) else []
                layers += [Residual(body, short), nn.ReLU()]
            else:
                layers += body + [nn.ReLU()]
            c = o
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return randomise(nn.Sequential(*layers))


resnet20_bn = resnet20
def resnet20_nobn(): return resnet20(bn=False)
def resnet20_noskip(): return resnet20(skip=False)
def resnet_small(): return resnet20(width=4, blocks=1, in_ch=3, classes=5)


class Wrapped(nn.Module):                  # a class with a `layers` Sequential; every layer kind
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.layers = nn.Sequential(
            nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 0)), nn.BatchNorm2d(4), nn.Tanh(),
            nn.Sequential(nn.MaxPool2d((2, 1)), nn.Identity()),                      # inlined
            Residual([nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
                      Residual([nn.Conv2d(6, 6, 3, padding="same")], [])],
                     [nn.Conv2d(4, 6, 1, stride=2), nn.BatchNorm2d(6, eps=1e-3)]),
            IdentityShortcut([nn.Conv2d(6, 6, 1), nn.ReLU()]),
            nn.AvgPool2d(2, stride=1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
            nn.Linear(6, 7), nn.BatchNorm1d(7), nn.ReLU(),
            Residual([nn.Linear(7, 7, bias=False), nn.Tanh()]), nn.Linear(7, 3))
        randomise(self, 3)

    def forward(self, x):
        return self.layers(x)


def wrapped_f64(): return Wrapped().double()       # f64 module written as f32 (rounded)


instance = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Linear(5, 2))


# ---- refused ----
def bad_dilation(): return nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.Flatten())
def bad_groups(): return nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Flatten())
def bad_padmode(): return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.Flatten())
def bad_ceil(): return nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.Flatten())
def bad_maxpad(): return nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Flatten())
def bad_avgpad(): return nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), nn.Flatten())
def bad_affine(): return nn.Sequential(nn.BatchNorm2d(1, affine=False), nn.Flatten())
def bad_stats(): return nn.Sequential(nn.BatchNorm2d(1, track_running_stats=False), nn.Flatten())
def bad_adaptive(): return nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())
def bad_module(): return nn.Sequential(nn.Flatten(), nn.Linear(36, 4), nn.Dropout(0.1), nn.Linear(4, 2))
def bad_nested(): return nn.Sequential(Residual([nn.Conv2d(1, 1, 3, padding=1), nn.GELU()]), nn.Flatten())
def bad_bn1d(): return nn.Sequential(nn.BatchNorm1d(1), nn.Flatten())
def bad_linear3(): return nn.Sequential(nn.Linear(6, 6), nn.Flatten())


class Minus(Residual):
    def forward(self, x):
        return self.body(x) - self.shortcut(x)


def bad_residual(): return nn.Sequential(Minus([nn.Conv2d(1, 1, 3, padding=1)]), nn.Flatten())


class Scaled(nn.Module):                   # `layers` wrapper whose forward does more: verification fails
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))

    def forward(self, x):
        return 2 * self.layers(x)
'''

REFUSALS = [  # (function, substring the message must hold)
    ("bad_dilation", "`0` (torch.nn.modules.conv.Conv2d): dilation=(2, 2)"),
    ("bad_groups", "`0` (torch.nn.modules.conv.Conv2d): groups=2"),
    ("bad_padmode", "padding_mode='reflect'"),
    ("bad_ceil", "`0` (torch.nn.modules.pooling.MaxPool2d): ceil_mode=True"),
    ("bad_maxpad", "(torch.nn.modules.pooling.MaxPool2d): padding=1"),
    ("bad_avgpad", "count_include_pad=False"),
    ("bad_affine", "affine=False"),
    ("bad_stats", "track_running_stats=False"),
    ("bad_adaptive", "(torch.nn.modules.pooling.AdaptiveAvgPool2d): output_size=2"),
    ("bad_module", "`2` (torch.nn.modules.dropout.Dropout): unsupported module"),
    ("bad_nested", "`0.body.1` (torch.nn.modules.activation.GELU): unsupported module"),
    ("bad_bn1d", "hesspec's batchnorm is BatchNorm2d"),
    ("bad_linear3", "insert nn.Flatten()"),
    ("bad_residual", "`0` (models.Minus): has children `body` and `shortcut` but its forward is not body(x) + shortcut(x)"),
]


def selftest():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    examples = os.path.join(here, "examples")
    torch.set_num_threads(min(4, torch.get_num_threads()))
    failures = []

    def fail(msg):
        failures.append(msg)
        print(f"  FAIL {msg}")

    with tempfile.TemporaryDirectory(prefix="hs_export_selftest.") as d:
        models = os.path.join(d, "models.py")
        with open(models, "w") as f:
            f.write(SELFTEST_MODELS)
        # (name, input shape, loss, bn mode, dtype, example file to match, expected P)
        good = [("lenet", [1, 28, 28], "cross_entropy", "batch", "f64", "lenet.json", 61706),
                ("resnet20_bn", [1, 28, 28], "cross_entropy", "batch", "f64", "resnet20.json", None),
                ("resnet20_nobn", [1, 28, 28], "cross_entropy", "batch", "f64", "resnet20-nobn.json", None),
                ("resnet20_noskip", [1, 28, 28], "cross_entropy", "batch", "f64", "resnet20-noskip.json", None),
                ("resnet_small", [3, 9, 9], "mse", "running", "f32", None, None),
                ("resnet_small", [3, 9, 9], "cross_entropy", "batch", "f64", None, None),
                ("Wrapped", [3, 12, 10], "cross_entropy", "running", "f64", None, None),
                ("Wrapped", [3, 12, 10], "mse", "batch", "f32", None, None),
                ("wrapped_f64", [3, 12, 10], "mse", "running", "f32", None, None),
                ("instance", [3, 2, 2], "mse", "batch", "f64", None, None)]
        for i, (name, shape, loss, mode, dt, example, P_want) in enumerate(good):
            sp, wp = os.path.join(d, f"{i}.json"), os.path.join(d, f"{i}.safetensors")
            try:
                spec, P = export(models, name, shape, sp, wp, loss, mode, 0.0, dt, quiet=True)
            except (Refused, VerifyFailed, ref.BadInput) as e:
                fail(f"{name}: {type(e).__name__}: {e}")
                continue
            line = f"  ok   {name:16s} {_shape_str(shape):12s} {loss:13s} {mode:7s} {dt}  P = {P}"
            if P_want is not None and P != P_want:
                fail(f"{name}: P = {P}, expected {P_want}")
            if example:
                ep = os.path.join(examples, example)
                if os.path.exists(ep):
                    with open(ep) as f:
                        ex = json.load(f)
                    if ex != spec:
                        fail(f"{name}: the exported spec differs from examples/{example}")
                    else:
                        line += f"  (= examples/{example})"
                else:
                    line += f"  (examples/{example} not found)"
            print(line)
        # reference.py runs on an exported case (loss/grad/hvp/ggn), as the C cross-check would
        case = os.path.join(d, "case")
        os.makedirs(case)
        os.replace(os.path.join(d, "6.json"), os.path.join(case, "spec.json"))
        os.replace(os.path.join(d, "6.safetensors"), os.path.join(case, "weights.safetensors"))
        rng = np.random.default_rng(0)
        np.save(os.path.join(case, "X.npy"), rng.standard_normal((6, 3 * 12 * 10)))
        np.save(os.path.join(case, "Y.npy"), rng.integers(0, 3, 6).astype(np.int64))
        s = ref.load_spec(os.path.join(case, "spec.json"))
        P = sum(p.numel() for _, p in ref.build(s, os.path.join(case, "weights.safetensors")).flat_params())
        np.save(os.path.join(case, "V.npy"), rng.standard_normal((2, P)))
        r = subprocess.run([sys.executable, os.path.join(_REF_DIR, "reference.py"), case],
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(os.path.join(case, "hvp.npy")):
            fail(f"reference.py on an exported case: status {r.returncode}: {r.stderr.strip()}")
        else:
            H = np.load(os.path.join(case, "hvp.npy"))
            V = np.load(os.path.join(case, "V.npy"))
            sym = abs(V[0] @ H[1] - V[1] @ H[0]) / (np.linalg.norm(V[0]) * np.linalg.norm(H[1]))
            print(f"  ok   reference.py on the exported Wrapped case: P = {P}, u.Hv - v.Hu = {sym:.1e}")
            if not sym < 1e-12:
                fail(f"exported case: HVP not symmetric ({sym:.2e})")
        # refusals: exit 2 semantics, the message names the module and its class, no files left
        for name, want in REFUSALS:
            out = os.path.join(d, "refused")
            os.makedirs(out)
            try:
                export(models, name, [1, 6, 6], os.path.join(out, "s.json"), os.path.join(out, "w.safetensors"),
                       quiet=True)
                fail(f"{name}: exported, expected a refusal")
            except Refused as e:
                if want not in str(e):
                    fail(f"{name}: message {str(e)!r} lacks {want!r}")
                else:
                    print(f"  ok   refused {name}: {e}")
            except Exception as e:  # noqa: BLE001
                fail(f"{name}: {type(e).__name__}: {e}")
            if os.listdir(out):
                fail(f"{name}: files left behind: {os.listdir(out)}")
            subprocess.run(["rm", "-rf", out], check=False)
        # the command line: exit status 2 (refused), 1 (verification fails), 0, and nothing left on failure
        out = os.path.join(d, "cli")
        os.makedirs(out)
        me = os.path.abspath(__file__)
        for name, rc_want in (("bad_dilation", 2), ("Scaled", 1), ("instance", 0)):
            r = subprocess.run([sys.executable, me, models, name, "--input-shape", "1,6,6" if name != "instance"
                                else "12", "--out-spec", os.path.join(out, "s.json"), "--out-weights",
                                os.path.join(out, "w.safetensors")], capture_output=True, text=True)
            left = sorted(os.listdir(out))
            want_left = ["s.json", "w.safetensors"] if rc_want == 0 else []
            msg = (r.stderr or r.stdout).strip().splitlines()
            if r.returncode != rc_want or left != want_left:
                fail(f"CLI {name}: status {r.returncode} (expected {rc_want}), files {left}: {r.stderr.strip()}")
            else:
                print(f"  ok   CLI {name}: status {r.returncode}: {msg[-1] if msg else ''}")
    if failures:
        print(f"{PROG} --selftest: {len(failures)} FAILED")
        return 1
    print(f"{PROG} --selftest: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
