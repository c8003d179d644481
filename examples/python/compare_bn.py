"""Batch norm vs none: trains two small ReLU networks with PyTorch (the same data, seed and
schedule), then compares their Hessian spectra with hesspec: extreme eigenvalues (Lanczos),
trace (Hutch++), negative mass and the SLQ densities (one plot when matplotlib is installed).

    python3 examples/python/compare_bn.py [--samples 2000] [--epochs 5]

Data: Fashion-MNIST from the Debian package dataset-fashion-mnist when it is installed, else a
synthetic Gaussian mixture of the same shape."""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn

import hesspec

FMNIST = "/usr/share/datasets/fashion-mnist"


def load_data(n, seed=0):
    path = os.path.join(FMNIST, "train-images-idx3-ubyte.gz")
    if os.path.exists(path):
        with gzip.open(path) as f:
            X = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28) / 255.0
        with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
        return X, y, "fashion-mnist"
    g = np.random.default_rng(seed)
    centres = g.standard_normal((10, 784))
    y = g.integers(0, 10, n)
    X = (centres[y] + 2.0 * g.standard_normal((n, 784))).reshape(n, 1, 28, 28)
    return X, y, "gaussian mixture (install dataset-fashion-mnist for the real thing)"


def network(bn, width=64, seed=0):
    torch.manual_seed(seed)
    norm = (lambda: nn.BatchNorm1d(width)) if bn else (lambda: nn.Identity())
    return nn.Sequential(nn.Flatten(), nn.Linear(784, width), norm(), nn.ReLU(),
                         nn.Linear(width, width), norm(), nn.ReLU(), nn.Linear(width, 10)).double()


def train(net, X, y, epochs, batch=100, lr=0.05):
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    g = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        for idx in torch.randperm(len(yt), generator=g).split(batch):
            opt.zero_grad()
            nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--analysis-samples", type=int, default=1000)
    args = ap.parse_args()
    X, y, source = load_data(args.samples)
    print(f"data: {source}, {len(y)} samples")
    Xa, ya = X[: args.analysis_samples], y[: args.analysis_samples]
    densities = {}
    print(f"{'network':8s} {'P':>7s} {'loss':>8s} {'lambda_max':>11s} {'lambda_min':>11s} {'trace':>10s} {'neg. mass':>9s}")
    for name, bn in (("relu", False), ("relu-bn", True)):
        net = train(network(bn), X, y, args.epochs)
        # the Hessian of the training loss at the trained point, batch norm in training mode
        # (the statistics of the analysis batch), as PyTorch computes that loss
        model = hesspec.Model.from_torch(net, [1, 28, 28], batchnorm_mode="batch")
        model.bind(Xa, ya, source=f"{source}: first {len(ya)} samples")
        loss, _ = model.loss_grad()
        top, bottom = hesspec.eig(model, top=1).values[-1], hesspec.eig(model, bottom=1).values[0]
        tr = hesspec.trace(model, probes=60, method="hutch++")
        d = hesspec.spectrum(model, steps=80, probes=10)
        d.save(f"{name}.json")
        densities[name] = d
        print(f"{name:8s} {model.num_params:7d} {loss:8.4f} {top:11.5g} {bottom:11.5g} {tr.trace:10.5g} "
              f"{d.summary['negative_fraction']:9.4f}")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("wrote relu.json and relu-bn.json (install matplotlib for the plot, or: hesspec plot relu.json "
              "relu-bn.json --out compare_bn.svg --log)")
        return
    fig, ax = plt.subplots()
    for name, d in densities.items():
        d.plot(ax=ax, log=True, label=name)
    ax.legend()
    fig.savefig("compare_bn.png")
    print("wrote relu.json, relu-bn.json and compare_bn.png")


if __name__ == "__main__":
    main()
