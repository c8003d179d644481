"""Per-layer Hessian spectra of a small trained net: each layer's diagonal block beside the whole
(docs/python.md, "Blocks"). Run: python3 layer_spectra.py"""
import torch
import hesspec

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
X, y = torch.randn(256, 20), torch.randint(0, 4, (256,))                # your data
model = hesspec.Model.from_torch(net, input_shape=[20]).bind(X, y)
hesspec.train(model, epochs=5, lr=0.05, batch=32)                       # a few epochs on the bound data
d = hesspec.spectrum(model, steps=60, probes=8, block="all")            # every layer's block, and their union
for layer, b in d.blocks.items():
    print(f"{layer:10s} params {b.params:5d}  lambda_max {b.summary['lambda_max']:10.4g}  trace {b.summary['trace']:10.4g}")
print(f"{'all':10s} params {d.params:5d}  lambda_max {d.summary['lambda_max']:10.4g}  trace {d.summary['trace']:10.4g}")
top = hesspec.eig(model, top=1, block="all")                            # {layer: Eigen}, Lanczos per block
print({layer: round(float(e.values[-1]), 6) for layer, e in top.items()})
d.save("layers.json")                                                   # the `hesspec spectrum --block all` file
