"""A PyTorch module to a Hessian spectral density plot (docs/python.md). Run: python3 spectrum_from_torch.py"""
import torch
import hesspec

net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
X, y = torch.rand(512, 1, 28, 28), torch.randint(0, 10, (512,))          # your data: (N, 1, 28, 28), labels (N,)
model = hesspec.Model.from_torch(net, input_shape=[1, 28, 28]).bind(X, y)
density = hesspec.spectrum(model, steps=80, probes=10)                   # SLQ: exact HVPs, Ctrl-C cancels
print(density.summary)
density.save("spectrum.json")                                           # "hesspec.density/1" + spectrum.csv
try:
    import matplotlib.pyplot as plt
    density.plot(log=True).figure.savefig("spectrum.png")
except ImportError:
    print("matplotlib not installed: wrote spectrum.json and spectrum.csv only")
