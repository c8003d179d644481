"""Shared by the pytest suite: the CLI of the build, small torch networks, data."""
import os
import shutil
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn


def cli():
    """The hesspec binary: HESSPEC_CLI (set by ctest), else build/hesspec beside the library."""
    path = os.environ.get("HESSPEC_CLI")
    if not path:
        lib = os.environ.get("HESSPEC_LIBRARY", "")
        path = os.path.join(os.path.dirname(lib), "hesspec")
    if not os.path.exists(path):
        pytest.skip(f"no hesspec CLI at {path} (set HESSPEC_CLI)")
    return os.path.abspath(path)


def run_cli(args, cwd):
    r = subprocess.run([cli()] + args + ["--quiet"], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"hesspec {' '.join(args)} exited {r.returncode}: {r.stderr}"
    return r


class Residual(nn.Module):
    """A residual block as the engine knows it: children `body` and `shortcut`."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut) if shortcut else nn.Identity()

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def randomise(net, seed):
    """Non-trivial batch-norm affine parameters and running statistics (PyTorch initialises
    them to 1, 0, 0, 1, which would hide mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g, dtype=m.weight.dtype))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g, dtype=m.bias.dtype))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g, dtype=m.running_mean.dtype))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g, dtype=m.running_var.dtype))
    return net


def mlp(seed=0, widths=(10, 16, 16, 4), bn=True, act=nn.Tanh):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(widths) - 2):
        layers += [nn.Linear(widths[i], widths[i + 1])] + ([nn.BatchNorm1d(widths[i + 1])] if bn else []) + [act()]
    layers.append(nn.Linear(widths[-2], widths[-1]))
    return randomise(nn.Sequential(*layers).double(), seed)


def convnet(seed=0, classes=3):
    """conv-BN-ReLU, a residual block (conv-BN-ReLU-conv-BN + identity), ReLU, global average
    pooling, a linear head: input [2, 6, 6]."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        Residual([nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                  nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)]),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, classes))
    return randomise(net.double(), seed)


def data(input_shape, n=24, classes=4, seed=1, mse=False):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n,) + tuple(input_shape))
    y = g.standard_normal((n, classes)) if mse else g.integers(0, classes, n)
    return X, y


@pytest.fixture
def workdir(tmp_path):
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
